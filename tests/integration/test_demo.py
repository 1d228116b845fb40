"""`casemgmt demo`: a seeded history through the real application, the same for the same seed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from casemgmt.cli.demo import write_demo
from tests.support.projections import fresh_setup

if TYPE_CHECKING:
    from casemgmt.cli.demo import Tally
    from casemgmt.settings import Settings

END = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def demo_in_a_fresh_database(servers: Settings, seed: int) -> tuple[Tally, dict[str, int]]:
    with fresh_setup(servers) as setup:
        container = setup.container
        container.clock = lambda: END
        tally = write_demo(container, cases=150, days=30, seed=seed, threads=3)
        rows = container.datastore.execute(
            "SELECT topic, count(*) FROM carecentre_events GROUP BY topic"
        )
        return tally, {str(topic).rsplit(".", 1)[-1]: int(n) for topic, n in rows}


def test_the_same_seed_writes_the_same_history_with_every_kind_of_it(servers: Settings) -> None:
    first, events = demo_in_a_fresh_database(servers, seed=7)
    again, events_again = demo_in_a_fresh_database(servers, seed=7)
    assert (first.counts, first.scores) == (again.counts, again.scores)
    assert events == events_again
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
        assert events.get(kind, 0) > 0, (kind, events)
    assert first.counts["sessions"] > 0 and first.counts["session_questions"] > 0
    assert 0.75 <= first.satisfaction <= 0.95


def test_another_seed_writes_another_history(servers: Settings) -> None:
    first, _ = demo_in_a_fresh_database(servers, seed=7)
    other, _ = demo_in_a_fresh_database(servers, seed=8)
    assert (first.counts, first.scores) != (other.counts, other.scores)
