"""The work queues projection: which cases wait for an agent, in which queue, in which order.

A batch is one MULTI/EXEC that sets each changed case's state, moves it between queues and stores
the position, under WATCH of the position (and of the live generation): if either moved since this
writer read them, EXEC does nothing and the batch is refused. Every update sets absolute values
(HSET, ZADD, ZREM, SET), so applying a batch twice leaves what applying it once left. A case a
claim holds (taken off its queue, not yet assigned) is not put back in line by its new events:
the claim's end or the hold's expiry returns it.

If Redis comes back empty its position is gone: the worker notices (its next write is refused, or
its once-a-second check finds no position) and replays the log into an empty generation.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import redis

from casemgmt.domain import Status
from casemgmt.domain.routing import DEFAULT_ROUTING
from casemgmt.projections.base import PositionMoved, Projection, replay
from casemgmt.projections.summaries import evolve
from casemgmt.readmodels.case_summary import CaseSummary
from casemgmt.readmodels.work_queue_layout import (
    DEFAULT_KEY_PREFIX,
    PLACE_SCRIPT,
    RELEASE_EXPIRED_SCRIPT,
    GenerationKeys,
    QueueKeys,
    decode_state,
    encode_state,
    waiting,
)

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from redis.client import Pipeline

    from casemgmt.domain.routing import RoutingRules
    from casemgmt.projections.base import Progress
    from casemgmt.runtime.log import Batch, EventLog

logger = logging.getLogger(__name__)


class WorkQueueProjection(Projection):
    """Projects triaged, unassigned cases into Redis sorted sets, one per work queue."""

    name = "work_queues"

    def __init__(
        self,
        redis_client: redis.Redis[bytes],
        routing: RoutingRules = DEFAULT_ROUTING,
        *,
        clock: Callable[[], datetime],
        key_prefix: str = DEFAULT_KEY_PREFIX,
    ) -> None:
        self.redis = redis_client
        self.routing = routing
        self.clock = clock
        self.keys = QueueKeys(key_prefix)

    @property
    def lock_name(self) -> str:
        # One active writer per Redis key space, not per database.
        return f"casemgmt:projection:{self.name}:{self.keys.prefix}"

    def position(self) -> int | None:
        raw = self.redis.get(self._live().position)
        return None if raw is None else int(raw)

    def resume(self) -> int:
        while True:
            with self.redis.pipeline() as pipe:
                pipe.watch(self.keys.generation)
                target = self._live(pipe)
                pipe.watch(target.position)
                raw = _now(pipe.get(target.position))
                if raw is not None:
                    return int(raw)
                # Expected at a first start and after Redis lost its data: not worth a line.
                logger.debug(
                    "work queues under %r have no position: replaying the log", self.keys.prefix
                )
                leftovers = list(self.redis.scan_iter(match=target.pattern, count=1000))
                pipe.multi()
                if leftovers:
                    pipe.unlink(*leftovers)
                pipe.set(target.position, 0)
                try:
                    pipe.execute()
                except redis.WatchError:
                    continue
                return 0

    def write(self, batch: Batch) -> None:
        self._write(batch, generation=None)

    def on_idle(self) -> None:
        release_expired_claims(self.redis, self.keys, self.clock())

    def rebuild(self, log: EventLog, *, progress: Progress | None = None, batch_size: int) -> int:
        """Replays the log into a new generation beside the live one, then swaps them.

        Readers and claims keep using the live generation until the swap; the live worker keeps
        it current meanwhile, and after the swap finds its position moved and carries on in the
        new generation.
        """
        new = self.redis.incr(self.keys.generations)
        target = self.keys.of(new)
        self._delete(target)  # what an abandoned rebuild may have left
        self.redis.set(target.position, 0)
        _, done = replay(
            log, lambda batch: self._write(batch, new), batch_size=batch_size, progress=progress
        )
        old = self._swap(log, new, batch_size)
        if old != new:
            self._delete(self.keys.of(old))
        logger.info("rebuilt work queues under %r from %d notifications", self.keys.prefix, done)
        return done

    # -- writing ------------------------------------------------------------------------------

    def _write(self, batch: Batch, generation: int | None) -> None:
        """Writes the batch into `generation` (None: the live one, which must not change)."""
        with self.redis.pipeline() as pipe:
            if generation is None:
                pipe.watch(self.keys.generation)
                target = self._live(pipe)
            else:
                target = self.keys.of(generation)
            pipe.watch(target.position)
            raw = _now(pipe.get(target.position))
            if raw is None or int(raw) != (batch.after or 0):
                raise PositionMoved(self.name, batch.after)
            self._queue_changes(pipe, target, batch)
            pipe.set(target.position, batch.last_id)
            try:
                pipe.execute()
            except redis.WatchError as error:
                raise PositionMoved(self.name, batch.after) from error

    def _queue_changes(self, pipe: Pipeline[bytes], target: GenerationKeys, batch: Batch) -> None:
        """Reads the batch's cases, folds its events, and queues the writes after MULTI."""
        case_ids = list(dict.fromkeys(str(event.originator_id) for event in batch.events))
        raws: list[bytes | None] = _now(pipe.hmget(target.cases, case_ids)) if case_ids else []
        before = {
            case_id: None if raw is None else decode_state(raw)
            for case_id, raw in zip(case_ids, raws, strict=True)
        }
        places = {case_id: waiting(summary) for case_id, summary in before.items()}
        after: dict[str, CaseSummary | None] = dict(before)
        for event in batch.events:
            case_id = str(event.originator_id)
            after[case_id] = evolve(after[case_id], event, self.routing)
        pipe.multi()
        for case_id, summary in after.items():
            if summary is None:
                continue
            old, new = places[case_id], waiting(summary)
            if summary.status == Status.MERGED.value:
                pipe.hdel(target.cases, case_id)  # terminal: nothing will ever route it again
            else:
                pipe.hset(target.cases, case_id, encode_state(summary))
            if old is not None and old != new:
                pipe.zrem(target.queue(old.queue), old.member)
                pipe.zrem(target.ages(old.queue), old.member)
            if new is None:
                if old is not None:
                    pipe.zrem(target.held, old.member)
                continue
            # In line again unless a claim holds it: a note or an SLA alarm recorded while a
            # claim is assigning it must not let another claim take it (PLACE_SCRIPT).
            # Sent whole (EVAL, not EVALSHA): a script cache emptied before EXEC would otherwise
            # fail this one command while the rest of the batch, its position included, applies.
            pipe.eval(
                PLACE_SCRIPT,
                3,
                target.queue(new.queue),
                target.ages(new.queue),
                target.held,
                new.member,
                int(new.score),
                new.age,
            )
            pipe.sadd(target.queues, new.queue)

    # -- generations --------------------------------------------------------------------------

    def _live(self, client: redis.Redis[bytes] | Pipeline[bytes] | None = None) -> GenerationKeys:
        raw: bytes | None = _now((client or self.redis).get(self.keys.generation))
        return self.keys.of(0 if raw is None else int(raw))

    def _swap(self, log: EventLog, new: int, batch_size: int) -> int:
        """Makes generation `new` the live one once it has every event; returns the old one."""
        target = self.keys.of(new)
        while True:
            with self.redis.pipeline() as pipe:
                pipe.watch(self.keys.generation, target.position)
                raw: bytes | None = _now(pipe.get(self.keys.generation))
                old = 0 if raw is None else int(raw)
                position = int(_now(pipe.get(target.position)) or 0)
                batch = log.read(position, batch_size)
                if batch is not None:
                    pipe.unwatch()
                    self._write(batch, new)
                    continue
                pipe.multi()
                pipe.set(self.keys.generation, new)
                try:
                    pipe.execute()
                except redis.WatchError:
                    continue
                return old

    def _delete(self, target: GenerationKeys) -> None:
        batch: list[bytes] = []
        for key in self.redis.scan_iter(match=target.pattern, count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                self.redis.unlink(*batch)
                batch.clear()
        if batch:
            self.redis.unlink(*batch)


def _now(answer: Any) -> Any:
    """A command's answer on a pipeline in immediate mode (after WATCH, before MULTI).

    The type stubs see every pipeline command as returning the pipeline, as it does once MULTI
    has begun; until then each command runs at once and returns its answer.
    """
    return answer


def release_expired_claims(redis_client: redis.Redis[bytes], keys: QueueKeys, now: datetime) -> int:
    """Puts back the cases whose claimers died mid-claim; returns how many holds expired."""
    raw = redis_client.get(keys.generation)
    live = keys.of(0 if raw is None else int(raw))
    script = redis_client.register_script(RELEASE_EXPIRED_SCRIPT)
    released = script(keys=[live.cases, live.held], args=[live.base, _millis(now)])
    return int(released)


def _millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)
