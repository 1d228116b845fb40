"""Crash safety: a worker process killed at random moments neither skips nor doubles an event."""

from __future__ import annotations

import random
import threading
import time
from typing import TYPE_CHECKING

import pytest

from tests.support.projections import (
    Setup,
    WorkerProcess,
    fresh_setup,
    queue_snapshot,
    queue_states,
    summary_rows,
    wait_for,
)
from tests.support.workload import CaseTraffic

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from casemgmt.settings import Settings

EVENTS = 10_000
KILLS = 10


@pytest.fixture
def setup(servers: Settings) -> Iterator[Setup]:
    with fresh_setup(servers) as made:
        yield made


def moved_from(setup: Setup, positions: dict[str, int | None]) -> Callable[[], bool]:
    return lambda: setup.projections.positions() != positions


def test_a_worker_killed_at_random_moments_leaves_views_equal_to_a_rebuild(setup: Setup) -> None:
    seed = random.randrange(1_000_000)
    moments = random.Random(seed)
    traffic = CaseTraffic(setup.container.care_centre, seed=seed)
    written = [traffic.busy_day(EVENTS // 3)]  # a backlog to catch up on from the start
    kills_done = threading.Event()

    def write() -> None:
        # A steady stream of saves, so that kills land while catching up and while following.
        while written[0] < EVENTS or not kills_done.is_set():
            written[0] += traffic.busy_day(1, cases_per_save=10)
            time.sleep(0.03)

    worker = WorkerProcess(setup, batch_size=25).start()
    writer = threading.Thread(target=write)
    writer.start()
    behind_when_killed = 0
    try:
        for _ in range(KILLS):
            wait_for(moved_from(setup, setup.projections.positions()), timeout=10)  # it works
            # Mostly while it catches up on what was written during its restart, else later.
            early = moments.random() < 0.7
            time.sleep(moments.uniform(0.0, 0.08) if early else moments.uniform(0.1, 0.5))
            head, positions = setup.projections.log.head(), setup.projections.positions()
            worker.kill()
            behind_when_killed += any((at or 0) < head for at in positions.values())
            worker.start()
        kills_done.set()
        writer.join(60)
        assert setup.projections.wait_until_caught_up(timeout=30), worker.output()
    finally:
        kills_done.set()
        writer.join(60)
        worker.close()

    assert written[0] >= EVENTS
    print(f"{written[0]} events, {KILLS} kills, {behind_when_killed} with work in hand")
    assert behind_when_killed >= KILLS // 3, "kills must hit a worker with work in hand"
    live_rows, live_queues, live_states = (
        summary_rows(setup),
        queue_snapshot(setup),
        queue_states(setup),
    )
    latest = dict(
        setup.container.datastore.execute(
            "SELECT originator_id, max(originator_version) FROM carecentre_events GROUP BY 1"
        )
    )
    versions = dict(
        setup.container.datastore.execute("SELECT case_id, version FROM case_summaries")
    )
    assert versions == latest, f"an event was skipped or doubled (seed {seed})"

    setup.projections.rebuild("case_summaries")
    setup.projections.rebuild("work_queues")

    assert summary_rows(setup) == live_rows, f"seed {seed}"
    assert queue_snapshot(setup) == live_queues, f"seed {seed}"
    assert queue_states(setup) == live_states, f"seed {seed}"
