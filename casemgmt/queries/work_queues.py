"""The work queues as agents and supervisors read them, and the Redis side of claiming a case.

`WorkQueues` reads overviews and ordered work lists. It also takes the head of a queue for a claim
(a Lua script pops it atomically, so no two claims get the same case, and parks it among the cases
being claimed), puts back what a claim could not assign, and lets go of what it did assign;
`casemgmt.application.claims` decides which. A claimer that dies mid-claim leaves its case parked;
the projection's worker puts it back once the hold expires (`release_expired_claims`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final
from uuid import UUID

from casemgmt.domain.routing import DEFAULT_ROUTING
from casemgmt.readmodels.work_queue_layout import (
    CLAIM_SCRIPT,
    DEFAULT_KEY_PREFIX,
    PRIORITY_RANK,
    REQUEUE_SCRIPT,
    QueueKeys,
    case_id_of,
    decode_state,
    due_at,
    priority_band,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    import redis

    from casemgmt.domain.routing import RoutingRules
    from casemgmt.readmodels.case_summary import CaseSummary
    from casemgmt.readmodels.work_queue_layout import GenerationKeys

# Longer than any assignment takes; a claim still parked after this is one whose claimer died.
CLAIM_HOLD: Final = timedelta(seconds=30)


@dataclass(frozen=True)
class QueueItem:
    """A case waiting in a queue, as the ordered work list shows it."""

    case_id: UUID
    reference: str
    subject: str
    status: str
    priority: str
    channel: str
    unit: str | None
    category_line: str | None
    category_kind: str | None
    escalation_level: int
    received_at: datetime
    due_at: datetime
    waiting_seconds: float


@dataclass(frozen=True)
class QueueOverview:
    """How a queue stands: how many wait, how urgent, and for how long the oldest has waited."""

    name: str
    size: int
    by_priority: dict[str, int]
    oldest_received_at: datetime | None
    oldest_waiting_seconds: float | None


@dataclass(frozen=True)
class TakenCase:
    """The head of a queue, taken off it for a claim: parked until let go of or put back."""

    case_id: UUID
    member: str
    keys: GenerationKeys


class WorkQueues:
    """The care centre's work queues in Redis: what waits where, and taking the next case."""

    def __init__(
        self,
        redis_client: redis.Redis[bytes],
        *,
        clock: Callable[[], datetime],
        key_prefix: str = DEFAULT_KEY_PREFIX,
        routing: RoutingRules = DEFAULT_ROUTING,
    ) -> None:
        self.redis = redis_client
        self.keys = QueueKeys(key_prefix)
        self.routing = routing
        self.clock = clock
        self._take = redis_client.register_script(CLAIM_SCRIPT)
        self._requeue = redis_client.register_script(REQUEUE_SCRIPT)

    def queue_names(self) -> list[str]:
        """The queues the routing rules name, then any other queue that has had cases."""
        seen = sorted(name.decode() for name in self.redis.smembers(self._live().queues))
        return list(dict.fromkeys([*self.routing.queue_names, *seen]))

    def has_queue(self, name: str) -> bool:
        """Whether `queue_names` names it: asks Redis only for a queue the rules do not name."""
        if name in self.routing.queue_names:
            return True
        return bool(self.redis.sismember(self._live().queues, name))

    def queue_overview(self) -> list[QueueOverview]:
        """Per queue: how many cases wait, how many of each priority, the oldest one's age."""
        live, names = self._live(), self.queue_names()
        pipe = self.redis.pipeline(transaction=False)
        for name in names:
            pipe.zcard(live.queue(name))
            for rank in PRIORITY_RANK.values():
                low, high = priority_band(rank)
                pipe.zcount(live.queue(name), low, f"({high}")
            pipe.zrange(live.ages(name), 0, 0, withscores=True)
        replies = pipe.execute()
        now, per_queue = self.clock(), 2 + len(PRIORITY_RANK)
        overviews = []
        for index, name in enumerate(names):
            size, *counts, oldest = replies[index * per_queue : (index + 1) * per_queue]
            received = _moment(oldest[0][1]) if oldest else None
            overviews.append(
                QueueOverview(
                    name=name,
                    size=int(size),
                    by_priority=dict(zip(PRIORITY_RANK, map(int, counts), strict=True)),
                    oldest_received_at=received,
                    oldest_waiting_seconds=None if received is None else _seconds(now, received),
                )
            )
        return overviews

    def queue_items(self, name: str, limit: int = 50) -> list[QueueItem]:
        """The cases waiting in a queue, in the order they will be claimed."""
        live = self._live()
        members = [m.decode() for m in self.redis.zrange(live.queue(name), 0, max(limit, 1) - 1)]
        if not members:
            return []
        raws = self.redis.hmget(live.cases, [case_id_of(member) for member in members])
        now = self.clock()
        return [_item(decode_state(raw), now) for raw in raws if raw is not None]

    def take_next(self, name: str) -> TakenCase | None:
        """Takes the head of queue `name` off it, parked for `CLAIM_HOLD`; None when empty."""
        live = self._live()
        hold_until = _millis(self.clock() + CLAIM_HOLD)
        taken = self._take(keys=[live.queue(name), live.ages(name), live.held], args=[hold_until])
        if taken is None:
            return None
        member = taken.decode()
        return TakenCase(UUID(case_id_of(member)), member, live)

    def let_go(self, taken: TakenCase) -> None:
        """The claim is over (assigned, or the case no longer waits): the case leaves the park."""
        self.redis.zrem(taken.keys.held, taken.member)

    def put_back(self, taken: TakenCase) -> None:
        """The case still waits: back in its place in line, if the read model says it waits."""
        live = taken.keys
        self._requeue(keys=[live.cases, live.held], args=[live.base, taken.member])

    def _live(self) -> GenerationKeys:
        raw = self.redis.get(self.keys.generation)
        return self.keys.of(0 if raw is None else int(raw))


def _item(summary: CaseSummary, now: datetime) -> QueueItem:
    return QueueItem(
        case_id=summary.case_id,
        reference=summary.reference,
        subject=summary.subject,
        status=summary.status,
        priority=summary.priority,
        channel=summary.channel,
        unit=summary.unit,
        category_line=summary.category_line,
        category_kind=summary.category_kind,
        escalation_level=summary.escalation_level,
        received_at=summary.received_at,
        due_at=due_at(summary),
        waiting_seconds=_seconds(now, summary.received_at),
    )


def _moment(millis: float) -> datetime:
    return datetime.fromtimestamp(millis / 1000, UTC)


def _seconds(now: datetime, since: datetime) -> float:
    return max(0.0, (now - since).total_seconds())


def _millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)
