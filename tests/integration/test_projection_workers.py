"""Several worker processes: one processes each projection, the others stand by and take over."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest

from tests.support.projections import Setup, WorkerProcess, fresh_setup, wait_for
from tests.support.workload import CaseTraffic

if TYPE_CHECKING:
    from collections.abc import Iterator

    from casemgmt.settings import Settings


@pytest.fixture
def setup(servers: Settings) -> Iterator[Setup]:
    with fresh_setup(servers) as made:
        yield made


def holder_pids(setup: Setup) -> set[int]:
    """The processes holding the projections' locks now."""
    return {int(holder.split("@")[0]) for holder in setup.projections.holders().values()}


def test_one_worker_process_works_while_another_stands_by_and_takes_over_when_it_dies(
    setup: Setup,
) -> None:
    traffic = CaseTraffic(setup.container.care_centre, seed=21)
    first, second = WorkerProcess(setup), WorkerProcess(setup)
    try:
        first.start()
        wait_for(lambda: holder_pids(setup) == {first.pid}, timeout=10)
        second.start()
        traffic.busy_day(500)
        assert setup.projections.wait_until_caught_up(timeout=10)
        time.sleep(1.5)  # the standby has tried the lock at least once meanwhile
        assert holder_pids(setup) == {first.pid}, "the standby must not have taken a lock"
        # Each process says which it is, for every projection it runs.
        for name in setup.projections.names:
            assert f"{name}: active" in first.output()
            assert f"{name}: standing by (another process is active)" in second.output()
            assert f"{name}: active" not in second.output()

        first.kill()
        traffic.busy_day(500)
        head = setup.projections.log.head()
        took_over = wait_for(lambda: holder_pids(setup) == {second.pid}, timeout=5)
        caught_up = wait_for(lambda: setup.projections.caught_up(head), timeout=5)
        wait_for(lambda: all(f"{n}: active" in second.output() for n in setup.projections.names), 5)
    finally:
        first.close()
        second.close()
    assert took_over < 3, "the standby retries the lock about every second"
    assert caught_up < 3
    print(f"standby took over {took_over:.2f}s after the kill and caught up {caught_up:.2f}s later")


def test_stopping_a_worker_hands_its_projections_to_a_standby_in_this_process(
    setup: Setup,
) -> None:
    active, standby = setup.projections.worker(), setup.projections.worker()
    with active:
        runners = len(setup.projections.runner_names)  # every projection, and the SLA timer
        wait_for(lambda: len(active.active()) == runners, timeout=5)
        with standby:
            CaseTraffic(setup.container.care_centre, seed=22).busy_day(200)
            assert setup.projections.wait_until_caught_up(timeout=10)
            assert standby.active() == []
            active.stop()
            wait_for(lambda: len(standby.active()) == runners, timeout=5)
            CaseTraffic(setup.container.care_centre, seed=23).busy_day(200)
            assert setup.projections.wait_until_caught_up(timeout=10)
