"""The staff workbenches in a real browser (Debian's chromium through Playwright), against the four services
as real processes: a case's life from intake to closing, through triage, a return and the joint meeting,
done by the right people in Chinese — and refused to the wrong ones.

One system and one browser serve every step (they run in file order and hand each other their cases);
each page's screenshot goes to CASELINE_SCREENSHOT_DIR, by default test-output/workbench/ (git-ignored).
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from caseline.embedded import free_port, start_broker
from district.directory import load_directory
from services import SERVICE_NAMES
from services.intake.domain.complaints import case_id_for
from tests.system import RunningSystem
from tests.test_sla_ops_page import CHROMIUM, CHROMIUM_ARGS

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="needs Debian's chromium at /usr/bin/chromium: `apt-get install -y chromium fonts-noto-cjk`",
    ),
]

DIRECTORY = load_directory()
STREET = DIRECTORY.streets[0]
COMMUNITY = DIRECTORY.communities_in_street(STREET.code)[0]
COMPOUND = DIRECTORY.compounds_in_community(COMMUNITY.code)[0]
PHONE: dict[str, Any] = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
DESK: dict[str, Any] = {"viewport": {"width": 1280, "height": 900}}
LIVE = 30_000  # ms: a fact travels intake → routing (→ joint meeting) → NOTIFY → the page


@dataclass
class Stack:
    system: RunningSystem
    browser: Any
    shots: Path
    tmp: Path
    cases: dict[str, str] = field(default_factory=dict)
    contexts: dict[str, Any] = field(default_factory=dict)

    def url(self, service: str, path: str = "") -> str:
        return f"http://127.0.0.1:{self.system.ports[service]}/workbench/{path}"

    async def complaint(self, name: str, category: str, description: str, **where: str) -> str:
        """A 12345 work order through intake's own feed; returns the case id it will open."""
        order_no = f"12345-WB-{name}-{uuid.uuid4().hex[:6]}"
        record = {
            "order_no": order_no,
            "received_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
            "caller_name": "张三",
            "caller_phone": "13800001234",
            "kind": "complaint",
            "category": category,
            "description": description,
            "address": where.get("address", f"{COMPOUND.name_zh}3号楼"),
            "street": where.get("street", ""),
            "compound": where.get("compound", COMPOUND.name_zh),
            "urgency": "normal",
        }
        path = self.tmp / f"{name}.jsonl"
        path.write_text(json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8")
        summary = await self.system.feed(path)
        assert summary.accepted == 1, summary
        case_id = case_id_for(f"hotline:{order_no}")
        self.cases[name] = case_id
        return case_id

    async def row(self, sql: str, *args: object) -> asyncpg.Record | None:
        conn = await asyncpg.connect(self.system.database_url)
        try:
            return await conn.fetchrow(sql, *args)
        finally:
            await conn.close()

    async def until(self, sql: str, *args: object, timeout: float = 30) -> asyncpg.Record:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                found = await self.row(sql, *args)
            except asyncpg.UndefinedTableError:
                found = None
            if found is not None:
                return found
            await _sleep(0.2)
        raise AssertionError(f"never true: {sql} {args}")

    async def signed_in(
        self, who: str, service: str, credential: str, staff: str = "", device: dict[str, Any] | None = None
    ) -> Any:
        context = await self.browser.new_context(**(device or DESK))
        page = await context.new_page()
        await page.goto(self.url(service, "sign-in"))
        await page.get_by_label("单位凭证（令牌）").fill(credential)
        if staff:
            await page.get_by_label("工号或姓名").fill(staff)
        await page.get_by_role("button", name="登录").click()
        await page.wait_for_url("**/workbench/**")
        self.contexts[who] = page
        return page

    async def shot(self, page: Any, name: str) -> None:
        path = self.shots / f"{name}.png"
        await page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 10_000  # a rendered page, not a blank one


async def _sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)


@pytest.fixture(scope="module")
async def stack(
    postgres_uri: str, scratch_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    from playwright.async_api import async_playwright

    name = f"wb_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(postgres_uri)
    try:
        await admin.execute(f"CREATE DATABASE {name}")
    finally:
        await admin.close()
    base, _, query = postgres_uri.partition("?")
    database_url = f"{base.rsplit('/', 1)[0]}/{name}?{query}"
    tmp = tmp_path_factory.mktemp("workbench")
    broker = start_broker("127.0.0.1", free_port(), scratch_dir / f"broker-{name}.log")
    system = RunningSystem(database_url, broker, tmp / "logs")
    system.ports.update({service: free_port() for service in SERVICE_NAMES})
    saved = dict(os.environ)
    os.environ["CASELINE_MERGE_WINDOW_HOURS"] = "0"
    shots = Path(os.environ.get("CASELINE_SCREENSHOT_DIR") or Path(__file__).parent.parent / "test-output")
    shots = shots / "workbench"
    shots.mkdir(parents=True, exist_ok=True)
    try:
        system.start(*SERVICE_NAMES)
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                yield Stack(system, browser, shots, tmp)
            finally:
                await browser.close()
    finally:
        system.stop()
        broker.stop()
        os.environ.clear()
        os.environ.update(saved)


async def test_a_community_worker_sees_a_new_case_arrive_live_on_a_phone_accepts_and_resolves_it(
    stack: Stack,
) -> None:
    from playwright.async_api import expect

    page = await stack.signed_in("community", "routing", f"dev-{COMMUNITY.code}", "li.wei", device=PHONE)
    await expect(page.get_by_role("heading", name="我的案件")).to_be_visible()
    await expect(page.locator("#live-status")).to_contain_text("实时更新已连接", timeout=10_000)
    await page.evaluate("window.__sameDocument = true")

    case_id = await stack.complaint("rubbish", "环境卫生", "楼道里垃圾堆放三天没人清理，气味很大。")
    row = page.locator(f'tr[data-case="{case_id}"]')
    await expect(row).to_be_visible(timeout=LIVE)  # arrived over server-sent events, no reload
    assert await page.evaluate("window.__sameDocument === true")
    await expect(row).to_contain_text("待签收")
    await expect(row).to_contain_text(COMPOUND.name_zh)
    await expect(row).to_contain_text(
        "个工作日", timeout=LIVE
    )  # time left in working time, learnt from the SLA topic
    await stack.shot(page, "01-community-queue-phone")

    await row.get_by_role("link").click()
    await expect(page.get_by_role("heading", name=f"案件 {case_id}")).to_be_visible()
    await expect(page.locator("#case-live")).to_contain_text("楼道里垃圾堆放三天")  # intake's complaint
    await expect(page.locator("ol.history")).to_contain_text("投诉受理")  # intake's fact in the history
    await expect(page.locator("ol.history")).to_contain_text("时限开始计时", timeout=LIVE)  # the SLA's
    await page.get_by_role("button", name="签收").click()
    await expect(page.locator("#message")).to_have_text("已记录。")
    await expect(page.locator("#case-state")).to_have_text("已签收")
    await stack.shot(page, "02-community-case-accepted-phone")

    await page.locator("#action-resolve summary").click()
    await page.get_by_label("处理结果").fill("已联系物业清运垃圾，楼道已清扫干净。")
    await page.get_by_label("证明材料编号").fill("photo-2026-001\nphoto-2026-002")
    await page.locator("#action-resolve").get_by_role("button", name="办结").click()
    await expect(page.locator("#case-state")).to_have_text("已办结待回访")
    await expect(page.locator("ol.history")).to_contain_text("photo-2026-001")
    actor = await stack.row(
        "SELECT metadata->>'actor' AS actor FROM routing.events WHERE data->>'case_id' = $1 "
        "AND event_type = 'CaseResolved'",
        case_id,
    )
    assert actor is not None and actor["actor"] == f"{COMMUNITY.code}/li.wei"


async def test_the_centre_records_the_callback_and_the_case_closes(stack: Stack) -> None:
    from playwright.async_api import expect

    case_id = stack.cases["rubbish"]
    page = await stack.signed_in("centre", "routing", "dev-centre", "hui.wang")
    await page.get_by_role("link", name="待回访").click()
    row = page.locator(f'tr[data-case="{case_id}"]')
    await expect(row).to_be_visible(timeout=LIVE)
    await stack.shot(page, "03-centre-callbacks")
    await row.get_by_role("link").click()
    await page.get_by_label("满意", exact=True).check()
    await page.get_by_label("回访记录").fill("居民表示满意，楼道已干净。")
    await page.get_by_role("button", name="记录回访").click()
    await expect(page.locator("#case-state")).to_have_text("已结案")
    await expect(page.locator("ol.history")).to_contain_text("结案")
    await expect(page.get_by_role("button", name="重新办理")).to_be_visible()  # what a closed case allows
    await expect(page.get_by_role("button", name="签收")).to_have_count(0)
    await stack.shot(page, "04-centre-case-closed")


async def test_the_centre_places_a_case_from_its_triage_queue_and_the_community_sees_it_live(
    stack: Stack,
) -> None:
    from playwright.async_api import expect

    centre, community = stack.contexts["centre"], stack.contexts["community"]
    case_id = await stack.complaint(
        "nowhere", "公共设施维修", "路灯坏了好几天，晚上很黑。", address="那条没名字的小路", compound=""
    )
    await centre.goto(stack.url("routing", "cases?view=triage"))
    row = centre.locator(f'tr[data-case="{case_id}"]')
    await expect(row).to_be_visible(timeout=LIVE)
    await stack.shot(centre, "05-centre-triage")
    await row.get_by_role("link").click()
    await centre.get_by_label("承办单位编号").fill(COMMUNITY.code)
    await centre.get_by_role("button", name="分派").click()
    await expect(centre.locator("#message")).to_have_text("已记录。")

    await community.goto(stack.url("routing", "cases"))
    await expect(community.locator(f'tr[data-case="{case_id}"]')).to_be_visible(timeout=LIVE)


async def test_the_centre_corrects_an_unclassifiable_complaint_from_triage_and_the_community_gets_it(
    stack: Stack,
) -> None:
    from playwright.async_api import expect

    centre, community = stack.contexts["centre"], stack.contexts["community"]
    case_id = await stack.complaint("unclear", "", "麻烦你们尽快过来看一下，情况比较多，电话里说不清楚。")
    await centre.goto(stack.url("routing", "cases?view=triage"))
    row = centre.locator(f'tr[data-case="{case_id}"]')
    await expect(row).to_be_visible(timeout=LIVE)
    await row.get_by_role("link").click()
    await expect(centre.locator("#action-recategorise")).to_have_attribute("open", "")  # offered first
    await centre.get_by_label("正确分类").select_option("sanitation")
    await centre.get_by_label("更正理由").fill("回电核实：楼道垃圾堆放")
    await stack.shot(centre, "05b-centre-recategorise")
    await centre.get_by_role("button", name="更正分类").click()
    await expect(centre.locator("#message")).to_have_text("已记录。")
    corrected = await stack.until(
        "SELECT data FROM routing.events WHERE stream_id = $1 AND event_type = 'CaseRecategorised'",
        f"case-{case_id}",
    )
    assert json.loads(corrected["data"])["to_category"] == "sanitation"

    await community.goto(stack.url("routing", "cases"))
    await expect(community.locator(f'tr[data-case="{case_id}"]')).to_be_visible(timeout=LIVE)


async def test_a_street_returns_a_case_and_it_reappears_in_the_right_queue(stack: Stack) -> None:
    from playwright.async_api import expect

    case_id = await stack.complaint(
        "street",
        "物业服务质量",
        "小区门口积水，物业不处理。",
        address="东街某处",
        street=STREET.name_zh,
        compound="",
    )
    page = await stack.signed_in("street", "routing", f"dev-{STREET.code}", "zhao.min")
    row = page.locator(f'tr[data-case="{case_id}"]')
    await expect(row).to_be_visible(timeout=LIVE)
    await row.get_by_role("link").click()
    await page.locator("#action-return summary").click()
    await page.get_by_label("退单依据").select_option("not_our_duty")
    await page.get_by_label("退单理由").fill("该处属市政道路，不属于本街道物业管理范围。")
    await page.get_by_role("button", name="退单").click()
    await page.wait_for_url("**/workbench/cases?done=return")
    await expect(page.locator(f'tr[data-case="{case_id}"]')).to_have_count(0)  # no longer the street's

    moved = await stack.until(
        "SELECT unit_code, return_count FROM routing.case_view WHERE case_id = $1 AND return_count = 1",
        case_id,
    )
    assert moved["unit_code"] not in (None, STREET.code)
    centre = stack.contexts["centre"]
    view = "mine" if moved["unit_code"] == "centre" else "all"
    await centre.goto(stack.url("routing", f"cases?view={view}"))
    back = centre.locator(f'tr[data-case="{case_id}"]')
    await expect(back).to_be_visible(timeout=LIVE)
    await back.get_by_role("link").click()
    await expect(centre.locator("ol.history")).to_contain_text("不属于本单位职责：该处属市政道路")
    await stack.shot(centre, "06-centre-returned-case")


async def test_the_office_holds_a_meeting_a_bureau_reports_done_and_the_file_completes(stack: Stack) -> None:
    from playwright.async_api import expect

    case_id = await stack.complaint("fire", "消防隐患", "消防通道被电动车堵死，楼里有人私拉电线充电。")
    file_id = "jm-" + case_id.removeprefix("case-")
    office = await stack.signed_in("office", "jointmeeting", "dev-office")
    row = office.locator(f'tr[data-file="{file_id}"]')
    await office.goto(stack.url("jointmeeting", "files?show=open"))
    await expect(row).to_be_visible(timeout=LIVE)
    await stack.shot(office, "07-office-files")
    await row.get_by_role("link").click()
    await office.get_by_label("会议时间（北京时间）").fill("2030-01-02T09:30")
    await office.get_by_label("地点").fill("区政府三楼会议室")
    await office.get_by_role("button", name="安排会议").click()
    await expect(office.locator("#message")).to_have_text("已记录。")
    await office.get_by_label("会议纪要").fill("消防牵头，街道和物管中心配合，七日内清理通道。")
    await office.get_by_role("button", name="记录会议决定").click()
    await expect(office.locator("#message")).to_have_text("已记录。")
    await expect(office.locator("#file-live")).to_contain_text("已召开")
    await stack.shot(office, "08-office-file-after-meeting")

    bureau = await stack.signed_in("fire", "jointmeeting", "dev-bureau-fire_rescue", device=PHONE)
    task = bureau.locator(f"#task-{file_id}-t1")
    await expect(task).to_be_visible()
    await task.locator("summary").click()
    await task.get_by_label("报告完成").check()
    await task.get_by_label("证明材料编号").fill("fire-inspection-2026-118")
    await task.get_by_role("button", name="报告").click()
    await expect(bureau.locator("#message")).to_have_text("已记录。")
    await expect(bureau.locator("section.tasks").nth(2)).to_contain_text(f"{file_id}-t1")  # done
    await stack.shot(bureau, "09-bureau-board-phone")

    await _the_other_bureaus_report_done(stack, file_id)
    await office.goto(stack.url("jointmeeting", f"files/{file_id}"))
    await office.get_by_label("核验结论").fill("现场核验：通道已清空，私拉电线已拆除。")
    await office.get_by_role("button", name="现场核验并办结").click()
    await expect(office.locator("#file-live")).to_contain_text("已办结")
    resolved = await stack.until(
        "SELECT state FROM routing.case_view WHERE case_id = $1 AND state = 'resolved'", case_id
    )
    assert resolved["state"] == "resolved"  # routing took the joint meeting's completion: callback next


async def _the_other_bureaus_report_done(stack: Stack, file_id: str) -> None:
    """The street office and the centre report from their own systems (the bureau HTTP API)."""
    port = stack.system.ports["jointmeeting"]
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        for number, bureau in ((2, "street_office"), (3, "centre")):
            answer = await client.post(
                f"/jointmeeting/bureaus/{bureau}/tasks/{file_id}-t{number}/reports",
                headers={"Authorization": f"Bearer dev-bureau-{bureau}"},
                json={
                    "report_id": f"{bureau}-done",
                    "kind": "done",
                    "evidence": [{"kind": "photo", "ref": f"{bureau}-1"}],
                    "reported_at": datetime.now(UTC).isoformat(),
                },
            )
            assert answer.status_code == 200, answer.text


async def test_a_bureau_sees_only_its_own_tasks_and_a_unit_only_its_own_cases(stack: Stack) -> None:
    from playwright.async_api import expect

    file_id = "jm-" + stack.cases["fire"].removeprefix("case-")
    bureau = stack.contexts["fire"]
    await bureau.goto(stack.url("jointmeeting", "board"))
    await expect(bureau.locator("body")).to_contain_text(f"{file_id}-t1")
    assert f"{file_id}-t2" not in await bureau.content()  # the street office's task is not on it
    csrf = await bureau.locator('input[name="csrf_token"]').first.get_attribute("value")
    answer = await bureau.request.post(
        stack.url("jointmeeting", f"board/tasks/{file_id}-t2/report"),
        form={"csrf_token": csrf or "", "version": "1", "kind": "progress", "report_id": "sneaky"},
    )
    assert answer.status == 403  # another bureau's task, even with a valid session and token
    office_page = await bureau.request.get(stack.url("jointmeeting", f"files/{file_id}"))
    assert office_page.status == 403  # a bureau is not the office

    community = stack.contexts["community"]
    answer = await community.goto(stack.url("routing", f"cases/{stack.cases['street']}"))
    assert answer is not None and answer.status == 404
    await expect(community.locator("#message")).to_contain_text("没有找到")

    await community.goto(
        stack.url("routing", f"language?lang=en&next=/workbench/cases/{stack.cases['nowhere']}")
    )
    await expect(community.get_by_role("heading", name=f"Case {stack.cases['nowhere']}")).to_be_visible()
    await stack.shot(community, "10-community-case-english-phone")
