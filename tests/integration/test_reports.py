"""The summary report and the auto-close of resolved cases, on real PostgreSQL.

Seeded traffic is worked with its SLA clocks kept and its alarms recorded after every step (as
`CareCentre` and the SLA timer do), under a policy of minutes around the clock so that some clocks
breach. Every figure of the report is then recomputed here straight from the cases' events.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

import pytest

from casemgmt.domain import Actor, Case, Context, Role, Status
from casemgmt.domain.sla import ClockState, clock_from_dict
from casemgmt.policy_file import load_policy
from casemgmt.queries.reports import GroupBy, Period, summary
from casemgmt.runtime.auto_close import CAUSE, AutoCloser
from tests.support.projections import fresh_setup
from tests.support.workload import START, CaseTraffic

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from casemgmt.domain.sla_policy import SlaPolicy
    from casemgmt.settings import Settings
    from tests.support.projections import Setup

MINUTES_POLICY = """
version = "test-minutes-1"
warning_at = 0.5
auto_close_after = "PT2H"

[calendars.around_the_clock]
always_open = true

[units]
default = "around_the_clock"

[[targets]]
first_response = "PT3M"
resolution = "PT9M"
"""
PERIOD = Period(START, START + timedelta(days=2))
AGENT = Actor("agent-1", Role.AGENT)


@pytest.fixture
def setup(servers: Settings, tmp_path: Path) -> Iterator[Setup]:
    policy = tmp_path / "sla.toml"
    policy.write_text(MINUTES_POLICY, encoding="utf-8")
    with fresh_setup(dataclasses.replace(servers, sla_policy_path=policy)) as fresh:
        yield fresh


class ClockedTraffic(CaseTraffic):
    """CaseTraffic whose cases keep their clocks and record their alarms after every step."""

    def __init__(self, setup: Setup, seed: int) -> None:
        super().__init__(setup.container.care_centre, seed=seed)
        policy = setup.container.care_centre.sla_policy
        assert policy is not None
        self.policy: SlaPolicy = policy

    def _worked_case(self) -> Case:
        case = self.new_case()
        self._keep(case)
        steps: list[Callable[[Case], None]] = [self._triage]
        if self.random.random() < 0.8:
            steps += [self._assign, self._reply]
            steps += self.random.sample(self._middles, self.random.randint(0, 3))
            if self.random.random() < 0.7:
                steps += [self._resolve]
                steps += self.random.sample(self._endings, self.random.randint(0, 3))
        for step in steps:
            step(case)
            self._keep(case)
        return case

    def _keep(self, case: Case) -> None:
        ctx = Context(AGENT, self.clock, "wl-keep", "api")
        case.keep_clocks(self.policy, ctx)
        case.record_sla_alarms(self.policy, dataclasses.replace(ctx, cause="timer:sla"))


def seed(setup: Setup, events: int = 6000) -> list[UUID]:
    traffic = ClockedTraffic(setup, seed=7)
    traffic.busy_day(events)
    notifications = setup.container.care_centre.recorder.select_notifications(1, 1_000_000)
    return list(dict.fromkeys(UUID(str(n.originator_id)) for n in notifications))


# -- the report, recomputed from the events -------------------------------------------------------


def percentile(values: list[float], share: float) -> float | None:
    """PostgreSQL's percentile_cont: linear interpolation between the closest ranks."""
    if not values:
        return None
    ordered = sorted(values)
    rank = share * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def case_facts(events: list[Case.Event], end: datetime) -> dict[str, Any]:
    """What the report counts of one case, from its events alone."""
    received = events[0]
    assert isinstance(received, Case.Received)
    facts: dict[str, Any] = {
        "received_at": received.received_at,
        "channel": received.channel,
        "unit": received.unit,
        "category": received.category.get("kind"),
        "agent": None,
        "ended_at": None,
        "flags": set(),
        "score": None,
        "clocks": {},
    }
    for event in events:
        facts["status"] = event.status
        if isinstance(event, Case.Triaged):
            facts["unit"], facts["category"] = event.unit, event.category.get("kind")
        elif isinstance(event, Case.Transferred):
            facts["unit"] = event.unit
            facts["flags"].add("transferred")
        elif isinstance(event, Case.Assigned):
            facts["agent"] = event.agent
        elif isinstance(event, Case.Escalated):
            facts["flags"].add("escalated")
        elif isinstance(event, Case.Reopened):
            facts["flags"].add("reopened")
            facts["ended_at"] = None
        elif isinstance(event, Case.Resolved | Case.MergedInto):
            facts["ended_at"] = event.timestamp
            if isinstance(event, Case.MergedInto):
                facts["flags"].add("merged")
        elif isinstance(event, Case.SurveyRequested):
            facts["flags"].add("surveyed")
        elif isinstance(event, Case.FeedbackRecorded):
            facts["score"] = event.score
        elif hasattr(event, "state") and hasattr(event, "clock"):
            facts["clocks"][event.clock] = clock_from_dict(event.state)
    facts["open"] = facts["ended_at"] is None or facts["ended_at"] >= end
    facts["resolved"] = facts["status"] in ("resolved", "closed") and not facts["open"]
    return facts


def clock_figures(cases: list[dict[str, Any]], name: str) -> dict[str, Any]:
    seconds, met, breached = [], 0, 0
    for facts in cases:
        clock = facts["clocks"].get(name)
        if clock is None or (name == "resolution" and "merged" in facts["flags"]):
            continue
        if clock.stopped:
            seconds.append(clock.used.total_seconds())
            late = clock.recorded_state is ClockState.BREACHED
            met, breached = met + (not late), breached + late
        elif clock.breached:
            breached += 1
    return {
        "p50_seconds": percentile(seconds, 0.5),
        "p90_seconds": percentile(seconds, 0.9),
        "met": met,
        "breached": breached,
        "compliance": met / (met + breached) if met + breached else None,
    }


def figures(cases: list[dict[str, Any]]) -> dict[str, Any]:
    received = len(cases)

    def rate(flag: str) -> float | None:
        return sum(flag in f["flags"] for f in cases) / received if received else None

    scores = [f["score"] for f in cases if f["score"] is not None]
    surveyed = [f for f in cases if "surveyed" in f["flags"]]
    answered = [f for f in surveyed if f["score"] is not None]
    return {
        "received": received,
        "resolved": sum(f["resolved"] for f in cases),
        "open": sum(f["open"] for f in cases),
        "first_response": clock_figures(cases, "first_response"),
        "resolution": clock_figures(cases, "resolution"),
        "reopen_rate": rate("reopened"),
        "transfer_rate": rate("transferred"),
        "escalation_rate": rate("escalated"),
        "merge_rate": rate("merged"),
        "satisfaction": {
            "responses": len(scores),
            "mean": sum(scores) / len(scores) if scores else None,
            "share_satisfied": sum(s >= 4 for s in scores) / len(scores) if scores else None,
            "response_rate": len(answered) / len(surveyed) if surveyed else None,
        },
    }


def recomputed(setup: Setup, case_ids: list[UUID], period: Period) -> dict[str, Any]:
    """The summary grouped by channel and unit, computed from every case's events."""
    care_centre = setup.container.care_centre
    cohort = []
    for case_id in case_ids:
        facts = case_facts(care_centre.history(case_id), period.end)
        if period.start <= facts["received_at"] < period.end:
            cohort.append(facts)
    groups: dict[tuple[str, str | None], list[dict[str, Any]]] = defaultdict(list)
    for facts in cohort:
        groups[(facts["channel"], facts["unit"])].append(facts)
    return {
        "total": figures(cohort),
        "groups": {key: figures(cases) for key, cases in groups.items()},
    }


def assert_same(actual: Any, expected: Any, where: str = "") -> None:
    if isinstance(expected, dict):
        assert set(actual) == set(expected), where
        for key in expected:
            assert_same(actual[key], expected[key], f"{where}.{key}")
    elif isinstance(expected, float):
        assert actual == pytest.approx(expected, rel=1e-9), where
    else:
        assert actual == expected, where


def report_now(setup: Setup, period: Period = PERIOD) -> dict[str, Any]:
    return summary(setup.container.datastore, period, [GroupBy.CHANNEL, GroupBy.UNIT])


def follow(setup: Setup, *names: str) -> None:
    with setup.projections.worker(list(names)):
        assert setup.projections.wait_until_caught_up(names=list(names), timeout=60)


# -- tests ----------------------------------------------------------------------------------------


def test_report_figures_equal_a_computation_from_the_events(setup: Setup) -> None:
    case_ids = seed(setup)
    follow(setup, "reports")
    # The period ends while the traffic runs, so `open` and `resolved` at `to` differ from now.
    period = Period(START + timedelta(hours=1), START + timedelta(hours=30))
    report = summary(setup.container.datastore, period, [GroupBy.CHANNEL, GroupBy.UNIT])
    expected = recomputed(setup, case_ids, period)

    assert report["total"]["received"] > 50
    assert report["total"]["first_response"]["breached"] > 0  # the minutes policy breaches some
    assert report["total"]["first_response"]["met"] > 0
    assert report["total"]["satisfaction"]["responses"] > 0
    assert 0 < report["total"]["open"] < report["total"]["received"]
    assert_same(report["total"], expected["total"], "total")
    groups = {(g["key"]["channel"], g["key"]["unit"]): g for g in report["groups"]}
    assert set(groups) == set(expected["groups"])
    for key, group in groups.items():
        assert_same(
            {k: v for k, v in group.items() if k != "key"}, expected["groups"][key], str(key)
        )


def test_survey_response_rate_counts_the_surveyed_cases_rated(setup: Setup) -> None:
    seed(setup)
    follow(setup, "reports")
    rows = setup.container.datastore.execute(
        "SELECT count(*) FILTER (WHERE survey_requested),"
        " count(feedback_score) FILTER (WHERE survey_requested) FROM report_cases"
    )
    surveyed, rated = rows[0]
    assert surveyed > rated > 0
    satisfaction = summary(
        setup.container.datastore, Period(START, START + timedelta(days=30)), []
    )["total"]["satisfaction"]
    assert satisfaction["response_rate"] == pytest.approx(rated / surveyed)


def test_a_rebuild_of_the_report_projection_gives_identical_reports(setup: Setup) -> None:
    seed(setup)
    follow(setup, "reports")
    by_day = [GroupBy.DAY, GroupBy.CATEGORY, GroupBy.AGENT]
    before = (report_now(setup), summary(setup.container.datastore, PERIOD, by_day))
    setup.container.datastore.execute("UPDATE report_cases SET feedback_score = 1")  # spoilt
    assert report_now(setup) != before[0]

    setup.projections.rebuild("reports")

    assert (report_now(setup), summary(setup.container.datastore, PERIOD, by_day)) == before


# -- auto-close -----------------------------------------------------------------------------------


def resolved_cases(setup: Setup, number: int) -> list[UUID]:
    """Cases resolved through the application (their survey requested), at START."""
    traffic = ClockedTraffic(setup, seed=11)
    ids = []
    for _ in range(number):
        case = traffic.new_case()
        traffic._keep(case)
        for step in (traffic._triage, traffic._assign, traffic._reply):
            step(case)
            traffic._keep(case)
        case.resolve("Đã trả lời", None, Context(AGENT, traffic.clock, "resolve", "api"))
        traffic._keep(case)
        traffic.save([case])
        ids.append(case.id)
    return ids


def closed_events(setup: Setup, case_id: UUID) -> list[Case.Event]:
    return [e for e in setup.container.care_centre.history(case_id) if isinstance(e, Case.Closed)]


def test_resolving_requests_a_survey_through_the_channel_and_sets_the_auto_close(
    setup: Setup,
) -> None:
    (case_id,) = resolved_cases(setup, 1)
    history = setup.container.care_centre.history(case_id)
    survey = [e for e in history if isinstance(e, Case.SurveyRequested)]
    resolved = next(e for e in history if isinstance(e, Case.Resolved))
    assert len(survey) == 1
    received = history[0]
    assert isinstance(received, Case.Received)
    assert survey[0].channel == received.channel
    assert survey[0].auto_close_at == resolved.timestamp + timedelta(hours=2)


def test_auto_close_closes_each_due_case_once_with_two_auto_closers(setup: Setup) -> None:
    case_ids = resolved_cases(setup, 12)
    follow(setup, "case_summaries")
    later = START + timedelta(days=1)
    log = setup.projections.log
    closers = [
        AutoCloser(setup.container.care_centre, setup.container.datastore, log, clock=lambda: later)
        for _ in range(2)
    ]
    barrier = threading.Barrier(2)

    def close(closer: AutoCloser) -> None:
        barrier.wait()
        closer.close_due()

    threads = [threading.Thread(target=close, args=(closer,)) for closer in closers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(closer.closed for closer in closers) == len(case_ids)
    for case_id in case_ids:
        closed = closed_events(setup, case_id)
        assert len(closed) == 1
        assert closed[0].cause == CAUSE
        assert closed[0].actor["role"] == "system"
        assert setup.container.care_centre.get_case(case_id).status is Status.CLOSED


def test_auto_close_leaves_a_case_whose_moment_has_not_come(setup: Setup) -> None:
    (case_id,) = resolved_cases(setup, 1)
    follow(setup, "case_summaries")
    soon = START + timedelta(hours=1)  # resolved minutes after START; closes two hours later
    closer = AutoCloser(
        setup.container.care_centre,
        setup.container.datastore,
        setup.projections.log,
        clock=lambda: soon,
    )
    assert closer.close_due() == 0
    # Even asked directly (a case list that is wrong), the case refuses to close before its time.
    ctx = Context(AGENT, soon, "early", CAUSE)
    assert setup.container.care_centre.auto_close(case_id, ctx) is False
    assert closed_events(setup, case_id) == []


def test_auto_close_passes_over_a_case_reopened_since_the_case_list_saw_it(setup: Setup) -> None:
    (case_id,) = resolved_cases(setup, 1)
    follow(setup, "case_summaries")  # the list says: resolved, due in two hours
    care_centre = setup.container.care_centre
    case = care_centre.get_case(case_id)
    case.reopen("Chưa rõ", Context(AGENT, START + timedelta(hours=1), "r", "api"), timedelta(30))
    care_centre.save(case)
    later = START + timedelta(days=1)
    assert care_centre.auto_close(case_id, Context(AGENT, later, "late", CAUSE)) is False
    assert closed_events(setup, case_id) == []
    assert care_centre.get_case(case_id).status is Status.IN_PROGRESS


def test_auto_close_moment_is_counted_in_working_days_of_the_unit() -> None:
    policy = load_policy(None)  # the built-in policy: P5D in the Hanoi office calendar
    friday_afternoon = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)  # 15:00 in Hanoi
    at = policy.auto_close_at(friday_afternoon, "hanoi")
    # Five working days: Mon 23, Wed 25, Thu 26, Fri 27 and Mon 30 (Tue 24 is a public holiday
    # in Vietnam), at the same point of the working day.
    assert at == datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
