"""Staff pause and resume a case's clocks over HTTP with their unit's token, within their district and cases;
/metrics is served."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.dev_credentials import unit
from tests.sla_support import opened_and_routed, publish, write_tiny_policy
from tests.system import RunningSystem

pytestmark = pytest.mark.e2e


async def test_pausing_waits_for_the_complainant_and_a_second_pause_is_a_conflict(
    system: RunningSystem, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CASELINE_SLA_POLICY_FILE", str(write_tiny_policy(tmp_path, resolve_seconds=3600)))
    monkeypatch.setenv("CASELINE_SLA_METRICS_REFRESH_SECONDS", "1")
    system.start("sla")
    await publish(system.broker.bootstrap_servers, opened_and_routed("PAUSE-1", street="ST01"))
    await system.wait_until(
        lambda: system.scalar("SELECT count(*) FROM sla.events WHERE event_type = 'SlaClockStarted'"), 3
    )
    base = f"http://127.0.0.1:{system.ports['sla']}"
    street = unit("ST01")
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        body = {"reason": "waiting for the complainant to be at home", "actor": "staff-ST01-007"}
        pause = "/v1/cases/PAUSE-1/clocks/pause"
        # Nobody stops a deadline without a unit's token, nor another unit's or another district's case.
        refused = [
            await http.post(pause, json=body),
            await http.post(pause, json=body, headers=unit("ST02")),
            await http.post(pause, json=body, headers=unit("centre", "shangdang")),
        ]
        assert [r.status_code for r in refused] == [401, 404, 404]
        paused = await http.post(pause, json=body, headers=street)
        assert paused.status_code == 200
        assert sorted(paused.json()["clocks"]) == ["PAUSE-1/contact", "PAUSE-1/resolve/0"]
        again = await http.post(pause, json=body, headers=unit("centre"))  # the district's centre may too
        assert again.status_code == 409 and again.json()["detail"]["error"] == "conflict"
        assert (await http.post("/v1/cases/NOPE/clocks/pause", json=body, headers=street)).status_code == 404
        blank = await http.post(pause, json={"reason": "", "actor": "x"}, headers=street)
        assert blank.status_code == 422 and "reason" in blank.text

        stored = await system.scalar(
            "SELECT count(*) FROM sla.events WHERE event_type = 'SlaClockPaused' "
            "AND data->>'reason' LIKE 'waiting for the complainant%' "
            "AND metadata->>'actor' = 'ST01/staff-ST01-007'"
        )
        assert stored == 2
        resumed = await http.post(
            "/v1/cases/PAUSE-1/clocks/resume", json={"actor": "staff-ST01-007"}, headers=street
        )
        assert resumed.status_code == 200 and len(resumed.json()["clocks"]) == 2

        metrics = await _metrics_with_lag(http)
        assert 'caseline_open_cases{category="sanitation",district="luzhou",level="street"' in metrics
        assert 'caseline_consumer_lag{service="sla",topic="caseline.cases.v1"}' in metrics


async def _metrics_with_lag(http: httpx.AsyncClient) -> str:
    import asyncio

    for _ in range(60):
        text = (await http.get("/metrics")).text
        if "caseline_consumer_lag{" in text:
            return text
        await asyncio.sleep(0.5)
    return text
