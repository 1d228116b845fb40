"""The work queues as agents and supervisors use them: overviews, ordered work lists, claim-next.

A claim pops the head of a queue atomically (a Lua script: no two claims pop the same member) and
parks it among the cases being claimed, then assigns the case through `CareCentre.assign`, expecting
the version it just checked was still waiting. The aggregate has the last word: if the case changed
meanwhile the assignment is refused, the case is put back if the projection says it still waits, and
the next one is tried. A claimer that dies mid-claim leaves its case parked; the projection's worker
puts it back once the hold expires.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final
from uuid import UUID

from casemgmt.application import ConcurrentUpdate, StaleVersion
from casemgmt.domain import ActionNotAllowed, InvalidCommand
from casemgmt.projections.queue_store import DEFAULT_KEY_PREFIX, QueueKeys, decode_state
from casemgmt.projections.routing import (
    DEFAULT_ROUTING,
    PRIORITY_RANK,
    WAITING_FOR_AGENT,
    case_id_of,
    due_at,
    priority_band,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    import redis

    from casemgmt.application import CareCentre
    from casemgmt.domain import Case, Context
    from casemgmt.projections.queue_store import GenerationKeys
    from casemgmt.projections.routing import RoutingRules
    from casemgmt.projections.summary import CaseSummary

# Longer than any assignment takes; a claim still parked after this is one whose claimer died.
CLAIM_HOLD_SECONDS: Final = 30.0
# Each attempt takes one case off the head of the queue, so this bounds the work of one claim.
MAX_CLAIM_ATTEMPTS: Final = 25

_REQUEUE_FUNCTION = """
local function requeue(cases, held, base, member)
  redis.call('ZREM', held, member)
  local raw = redis.call('HGET', cases, string.sub(member, 15))
  if not raw then return 0 end
  local state = cjson.decode(raw)
  if state.member ~= member or type(state.waiting) ~= 'string' then return 0 end
  redis.call('ZADD', base .. 'q:' .. state.waiting, state.score, member)
  redis.call('ZADD', base .. 'age:' .. state.waiting, state.age, member)
  return 1
end
"""
# KEYS: queue, its ages, held; ARGV: hold expiry (ms). Returns the member taken, or nil.
_CLAIM = """
local top = redis.call('ZPOPMIN', KEYS[1])
if #top == 0 then return false end
redis.call('ZREM', KEYS[2], top[1])
redis.call('ZADD', KEYS[3], ARGV[1], top[1])
return top[1]
"""
# KEYS: cases, held; ARGV: generation key base, members. Puts back those the state says wait.
_REQUEUE = (
    _REQUEUE_FUNCTION
    + """
local n = 0
for i = 2, #ARGV do n = n + requeue(KEYS[1], KEYS[2], ARGV[1], ARGV[i]) end
return n
"""
)
# KEYS: cases, held; ARGV: generation key base, now (ms). Releases claims whose hold expired.
_RELEASE_EXPIRED = (
    _REQUEUE_FUNCTION
    + """
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[2], 'LIMIT', 0, 500)
for _, member in ipairs(expired) do requeue(KEYS[1], KEYS[2], ARGV[1], member) end
return #expired
"""
)


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


def utc_now() -> datetime:
    return datetime.now(UTC)


class WorkQueues:
    """The care centre's work queues in Redis, and claiming the next case from one."""

    def __init__(
        self,
        redis_client: redis.Redis[bytes],
        care_centre: CareCentre,
        *,
        key_prefix: str = DEFAULT_KEY_PREFIX,
        routing: RoutingRules = DEFAULT_ROUTING,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.redis = redis_client
        self.care_centre = care_centre
        self.keys = QueueKeys(key_prefix)
        self.routing = routing
        self.clock = clock
        self._claim = redis_client.register_script(_CLAIM)
        self._requeue = redis_client.register_script(_REQUEUE)

    def queue_names(self) -> list[str]:
        """The queues the routing rules name, then any other queue that has had cases."""
        seen = sorted(name.decode() for name in self.redis.smembers(self._live().queues))
        return list(dict.fromkeys([*self.routing.queue_names, *seen]))

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

    def claim_next(self, name: str, agent: str, ctx_factory: Callable[[], Context]) -> Case | None:
        """Assigns the next waiting case of queue `name` to `agent`; None when none waits.

        `ctx_factory` makes the context of each assignment tried (the agent, now, the request).
        """
        for _ in range(MAX_CLAIM_ATTEMPTS):
            live = self._live()
            hold_until = int((time.time() + CLAIM_HOLD_SECONDS) * 1000)
            taken = self._claim(
                keys=[live.queue(name), live.ages(name), live.held], args=[hold_until]
            )
            if taken is None:
                return None
            member = taken.decode()
            case, still_waiting = self._assign(UUID(case_id_of(member)), agent, ctx_factory)
            if case is not None:
                self.redis.zrem(live.held, member)
                return case
            if still_waiting:
                # Lost a race that left it waiting (a note, a message): back in line.
                self._requeue(keys=[live.cases, live.held], args=[live.base, member])
            else:
                # Taken or closed meanwhile; the projection will agree once it sees the event.
                self.redis.zrem(live.held, member)
        return None

    def _assign(
        self, case_id: UUID, agent: str, ctx_factory: Callable[[], Context]
    ) -> tuple[Case | None, bool]:
        """The case assigned to the agent, else None and whether the case still waits."""
        case = self.care_centre.find_case(case_id)
        if case is None or not _waits(case):
            return None, False
        try:
            assigned = self.care_centre.assign(
                case_id, agent, ctx_factory(), expected_version=case.version
            )
        except (ConcurrentUpdate, StaleVersion, ActionNotAllowed, InvalidCommand):
            now = self.care_centre.find_case(case_id)
            return None, now is not None and _waits(now)
        return assigned, False

    def _live(self) -> GenerationKeys:
        raw = self.redis.get(self.keys.generation)
        return self.keys.of(0 if raw is None else int(raw))


def _waits(case: Case) -> bool:
    return case.assignee is None and case.status in WAITING_FOR_AGENT


def release_expired_claims(redis_client: redis.Redis[bytes], keys: QueueKeys) -> int:
    """Puts back the cases whose claimers died mid-claim; returns how many holds expired."""
    raw = redis_client.get(keys.generation)
    live = keys.of(0 if raw is None else int(raw))
    script = redis_client.register_script(_RELEASE_EXPIRED)
    released = script(keys=[live.cases, live.held], args=[live.base, int(time.time() * 1000)])
    return int(released)


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
