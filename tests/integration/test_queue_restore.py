"""Losing or rebuilding the work queues: they come back from the event store, in the same order."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import pytest

from tests.support.projections import (
    Setup,
    agent_context,
    fresh_setup,
    queue_snapshot,
    queue_states,
    wait_for,
)
from tests.support.workload import CaseTraffic

if TYPE_CHECKING:
    from collections.abc import Iterator

    from casemgmt.settings import Settings

# A numbered Redis database of this module's own, so that FLUSHDB empties nobody else's keys.
FLUSHED_DB = 14


@pytest.fixture
def setup(servers: Settings) -> Iterator[Setup]:
    with fresh_setup(servers, redis_db=FLUSHED_DB) as made:
        yield made


def test_queues_come_back_with_the_same_cases_in_the_same_order_after_redis_is_flushed(
    setup: Setup,
) -> None:
    CaseTraffic(setup.container.care_centre, seed=5).busy_day(3000)
    with setup.projections.worker():
        assert setup.projections.wait_until_caught_up(timeout=15)
        before, states = queue_snapshot(setup), queue_states(setup)
        assert sum(len(items) for items in before.values()) > 50

        setup.container.redis.flushdb()  # as when Redis restarts without persistence
        assert setup.queues.queue_items("health") == []

        took = wait_for(lambda: queue_snapshot(setup) == before, timeout=10)
        assert queue_states(setup) == states
        assert setup.projections.wait_until_caught_up(timeout=5)
        claimed = setup.claims.claim_next("health", agent_context("lan.nguyen"))
    assert claimed is not None and claimed.id == before["health"][0].case_id
    assert took < 5


def test_rebuilding_the_queues_fills_a_new_generation_while_agents_keep_claiming(
    setup: Setup,
) -> None:
    CaseTraffic(setup.container.care_centre, seed=6).busy_day(2000)
    redis = setup.container.redis
    halfway, go_on = threading.Event(), threading.Event()

    def progress(done: int, total: int) -> None:
        if done >= total // 2 and not halfway.is_set():
            halfway.set()
            go_on.wait(10)

    with setup.projections.worker():
        assert setup.projections.wait_until_caught_up(timeout=15)
        before = queue_snapshot(setup)
        old_keys = set(redis.scan_iter(match=f"{{{setup.key_prefix}}}:wq:0:*"))
        assert old_keys
        rebuild = threading.Thread(
            target=setup.projections.rebuild,
            args=("work_queues",),
            kwargs={"progress": progress, "batch_size": 200},
        )
        rebuild.start()
        assert halfway.wait(10)
        assert queue_snapshot(setup) == before  # readers still see the live generation
        claimed = setup.claims.claim_next("social", agent_context("lan.nguyen"))
        assert claimed is not None
        go_on.set()
        rebuild.join(20)
        assert setup.projections.wait_until_caught_up(timeout=10)
        after = queue_snapshot(setup)

    assert [item.case_id for item in before["social"]][1:] == [
        item.case_id for item in after["social"]
    ]
    assert {name: items for name, items in after.items() if name != "social"} == {
        name: items for name, items in before.items() if name != "social"
    }
    assert not old_keys & set(redis.scan_iter(match=f"{{{setup.key_prefix}}}:*"))
    assert int(redis.get(setup.queues.keys.generation) or 0) == 1
