"""Prometheus metrics from the watch's clocks: open cases, clocks at risk and breached, time histograms."""

from __future__ import annotations

from services.sla.adapters.metrics import BrokerFigures
from services.sla.adapters.watch import Watch
from tests.sla_support import scrape_sla
from tests.test_sla_rates import NOW, folded


def scrape() -> str:
    watch = Watch(0.8, now=lambda: NOW)
    watch.cases = {case.case_id: case for case in folded()}
    figures = BrokerFigures()
    figures.lag = {("routing", "caseline.complaints.v1"): 7}
    return scrape_sla(watch, figures)


def test_open_cases_are_counted_by_level_unit_state_and_category() -> None:
    text = scrape()
    # C3 waits for resolution at its community; C4 (October) was never accepted; C5 is at the joint meeting
    assert (
        'caseline_open_cases{category="sanitation",district="luzhou",level="community",state="in_progress",'
        'unit="ST02-CM01"} 1.0' in text
    )
    assert (
        'caseline_open_cases{category="sanitation",district="luzhou",level="community",state="awaiting_contact",'
        'unit="ST01-CM01"} 1.0' in text
    )
    assert 'level="joint_meeting",state="awaiting_contact",unit="fire_rescue"} 1.0' in text


def test_clocks_past_their_deadline_count_as_breached() -> None:
    text = scrape()
    assert 'caseline_sla_clocks{district="luzhou",kind="resolve",status="breached"} 2.0' in text  # C3 and C4
    assert 'caseline_sla_clocks{district="luzhou",kind="contact",status="breached"} 2.0' in text  # C4 and C5


def test_time_to_resolve_is_a_histogram_and_every_groups_lag_is_exposed() -> None:
    text = scrape()
    assert 'caseline_time_to_resolve_seconds_count{district="luzhou"} 2.0' in text  # C1 and C2 resolved
    assert (
        'caseline_time_to_resolve_seconds_bucket{district="luzhou",le="172800"} 1.0' in text
    )  # C1 within two days
    assert 'caseline_time_to_dispatch_seconds_count{district="luzhou"} 5.0' in text
    assert 'caseline_consumer_lag{service="routing",topic="caseline.complaints.v1"} 7.0' in text
