"""The ops page in a real headless browser: a case whose clock runs out appears as breached, live."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from district.directory import load_directory
from tests.sla_support import opened_and_routed, publish, write_tiny_policy
from tests.system import RunningSystem

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="needs Debian's chromium at /usr/bin/chromium: `apt-get update && apt-get install -y chromium`",
    ),
]


async def test_ops_page_shows_a_case_turning_breached_without_a_reload_and_filters_by_street(
    system: RunningSystem, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from playwright.async_api import async_playwright, expect

    monkeypatch.setenv("CASELINE_SLA_POLICY_FILE", str(write_tiny_policy(tmp_path, resolve_seconds=6)))
    system.start("sla")
    street, other_street = load_directory().streets[:2]
    compound = load_directory().compounds_in_street(street.code)[0]
    url = f"http://127.0.0.1:{system.ports['sla']}/ops"

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1200, "height": 800})
            await page.goto(url)
            await expect(page.locator("#alerts tr.empty")).to_be_visible()

            await publish(
                system.broker.bootstrap_servers, opened_and_routed("UI-CASE-1", street.code, compound.code)
            )
            row = page.locator('#alerts tr[data-clock="UI-CASE-1/resolve/0"]')
            await expect(row).to_have_class("at_risk", timeout=30_000)  # half the time used
            await expect(row).to_have_class("breached", timeout=30_000)
            await expect(row).to_contain_text(street.name_zh)
            await expect(page.locator("#rates tbody")).to_contain_text(street.name_zh, timeout=15_000)
            screenshot = Path(os.environ.get("CASELINE_SCREENSHOT_DIR", tmp_path)) / "ops-breached.png"
            await page.screenshot(path=str(screenshot), full_page=True)
            assert screenshot.stat().st_size > 0

            await page.select_option('select[name="street"]', other_street.code)
            await expect(row).to_have_count(0, timeout=10_000)
            await page.select_option('select[name="street"]', street.code)
            await expect(row).to_have_count(1, timeout=10_000)
            await page.select_option('select[name="level"]', "community")
            await expect(row).to_have_count(0, timeout=10_000)
            await page.select_option('select[name="level"]', "")
            await expect(row).to_contain_text(
                "潞州区", timeout=10_000
            )  # a case of no district: the founding one
            await page.select_option('select[name="district"]', "shangdang")
            await expect(row).to_have_count(0, timeout=10_000)
            await page.select_option('select[name="district"]', "luzhou")
            await expect(row).to_have_count(1, timeout=10_000)
        finally:
            await browser.close()
