"""`casemgmt demo`: a seeded history through the real application, the same for the same seed,
with the projections caught up by the time it returns."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest

from casemgmt.cli.demo import write_demo
from casemgmt.domain import Case
from tests.support.projections import fresh_setup, queue_snapshot

if TYPE_CHECKING:
    from collections.abc import Iterator
    from uuid import UUID

    from casemgmt.bootstrap import Container
    from casemgmt.cli.demo import Tally
    from casemgmt.settings import Settings
    from tests.support.projections import Setup

END = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
CASES = 150
# What differs between two databases for the same story: the reference a sequence gave the case,
# and the id of the session (scheduled anew each time) a question was raised at.
NOT_COMPARED = frozenset({"reference", "session_id"})


@dataclass
class Written:
    """A demo in a database of its own: what it says it wrote, and what the store holds."""

    setup: Setup
    tally: Tally
    events: dict[str, int]  # counted by type
    stories: dict[str, list[dict[str, Any]]]  # each of its cases' history, by external reference


@pytest.fixture(scope="module")
def seven(servers: Settings) -> Iterator[Written]:
    """The demo of seed 7, which the tests that only look at what it wrote share."""
    with fresh_setup(servers) as setup:
        yield written(setup, seed=7)


def written(setup: Setup, *, seed: int, cases: int = CASES) -> Written:
    tally = demo(setup, cases=cases, seed=seed)
    rows = setup.container.datastore.execute(
        "SELECT topic, count(*) FROM carecentre_events GROUP BY topic"
    )
    counted = {str(topic).rsplit(".", 1)[-1]: int(n) for topic, n in rows}
    return Written(setup, tally, counted, histories(setup.container, seed))


def demo(setup: Setup, *, cases: int, seed: int) -> Tally:
    setup.container.clock = lambda: END
    return write_demo(setup.container, cases=cases, days=30, seed=seed, threads=3)


def histories(container: Container, seed: int) -> dict[str, list[dict[str, Any]]]:
    """Every event of each of the demo's own cases (not the sessions' questions), as read through
    the application (personal data opened), by the case's external reference."""
    stories: dict[str, list[dict[str, Any]]] = {}
    for case_id in case_ids(container):
        events = container.care_centre.history(case_id)
        received = events[0]
        assert isinstance(received, Case.Received)
        if received.external_ref and received.external_ref.startswith(f"demo-{seed}-"):
            stories[received.external_ref] = [described(event) for event in events]
    return stories


def case_ids(container: Container) -> list[UUID]:
    rows = container.datastore.execute("SELECT DISTINCT originator_id FROM carecentre_events")
    return [case_id for (case_id,) in rows]


def described(event: Case.Event) -> dict[str, Any]:
    return {
        "type": type(event).__name__,
        **{name: value for name, value in vars(event).items() if name not in NOT_COMPARED},
    }


def test_the_demo_writes_every_kind_of_history(seven: Written) -> None:
    for kind in (
        "Received",
        "Triaged",
        "Assigned",
        "Replied",
        "Transferred",
        "Escalated",
        "InformationRequested",
        "Resolved",
        "Reopened",
        "Closed",
        "MergedInto",
        "FeedbackRecorded",
        "LinkedToSession",
        "SlaBreached",
    ):
        assert seven.events.get(kind, 0) > 0, (kind, seven.events)
    assert len(seven.stories) == seven.tally.counts["cases"] == CASES
    assert seven.tally.counts["sessions"] > 0 and seven.tally.counts["session_questions"] > 0
    assert 0.75 <= seven.tally.satisfaction <= 0.95


def test_the_same_seed_writes_the_same_histories(servers: Settings, seven: Written) -> None:
    with fresh_setup(servers) as setup:
        again = written(setup, seed=7)
    assert (again.tally.counts, again.tally.scores) == (seven.tally.counts, seven.tally.scores)
    assert again.events == seven.events
    assert again.stories == seven.stories  # case by case, event by event, personal data included


def test_another_seed_writes_another_history(servers: Settings, seven: Written) -> None:
    with fresh_setup(servers) as setup:
        other = demo(setup, cases=CASES, seed=8)
    assert (other.counts, other.scores) != (seven.tally.counts, seven.tally.scores)


def test_the_sla_timer_records_what_was_due_at_the_end_of_the_history(seven: Written) -> None:
    alarms = [
        event
        for case_id in case_ids(seven.setup.container)
        for event in seven.setup.container.care_centre.history(case_id)
        if isinstance(event, Case.SlaWarning | Case.SlaBreached)
    ]
    assert len(alarms) == seven.tally.counts["sla_alarms"] > 0
    for alarm in alarms:
        assert alarm.timestamp == END and alarm.actor["id"] == "sla-timer"
        due = alarm.threshold if isinstance(alarm, Case.SlaWarning) else alarm.deadline
        assert due <= alarm.timestamp and alarm.over_seconds >= 0


def test_the_projections_hold_every_case_once_the_demo_returns(seven: Written) -> None:
    container = seven.setup.container
    execute = container.datastore.execute
    head = container.projections.log.head()
    ids = set(case_ids(container))
    listed = {case_id for (case_id,) in execute("SELECT case_id FROM case_summaries")}
    reported = {case_id for (case_id,) in execute("SELECT case_id FROM report_cases")}
    logged = int(execute("SELECT count(*) FROM audit_events")[0][0])
    queued = {item.case_id for items in queue_snapshot(seven.setup).values() for item in items}
    waiting = {
        case.id for case in container.care_centre.get_cases(list(ids)) if case.waits_for_agent
    }
    assert container.projections.positions() == container.projections.heads()
    assert container.projections.positions(["reports"]) == {"reports": head}
    assert listed == ids == reported
    sessions = execute("SELECT count(*), sum(questions) FROM report_sessions")
    assert sessions == [(seven.tally.counts["sessions"], seven.tally.counts["session_questions"])]
    assert logged == head
    assert waiting and queued == waiting


def test_the_demo_seals_each_requesters_personal_data_with_their_key(seven: Written) -> None:
    execute = seven.setup.container.datastore.execute
    received = execute(
        "SELECT originator_id, state FROM carecentre_events WHERE originator_version = 1"
    )
    linked = {case_id for (case_id,) in execute("SELECT case_id FROM requester_key_cases")}
    stored = {case_id: json.loads(bytes(state)) for case_id, state in received}
    assert linked == set(stored)
    for state in stored.values():
        assert state["subject"] == "[erased]" and "_sealed_" in state  # opened only with the key


def test_a_block_written_before_is_left_as_it_was_and_the_rest_is_written(
    servers: Settings,
) -> None:
    """The demo saves a block of cases in one transaction; a second demo of the same seed that
    meets cases it wrote before saves the others one by one (a duplicate with its survivor)."""
    with fresh_setup(servers) as setup:
        demo(setup, cases=40, seed=7)
        before = histories(setup.container, seed=7)
        again = demo(setup, cases=70, seed=7)
        after = histories(setup.container, seed=7)
    assert again.counts["written_before"] >= 40
    assert {ref: after[ref] for ref in before} == before
    assert len(after) == 70 - (again.counts["written_before"] - 40)
