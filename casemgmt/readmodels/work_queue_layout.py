"""How the work queues are laid out in Redis: keys, the order within a queue, and the Lua scripts.

Shared by the projection that writes them and the readers and claims that read and pop them.

Every key starts with the hash tag `{prefix}`, so in a Redis Cluster they all live in one slot and
MULTI/EXEC and the Lua scripts may touch any of them. The keys of a projection's state belong to a
numbered generation; `…:generation` names the one readers use, so a rebuild can fill a new
generation beside the live one and swap them in one step.

    {casemgmt}:wq:generation          the live generation, n (missing: 0)
    {casemgmt}:wq:generations         counter for new generations
    {casemgmt}:wq:<n>:position        last notification written into generation n
    {casemgmt}:wq:<n>:cases           hash: case id → JSON state (summary + where it waits)
    {casemgmt}:wq:<n>:queues          set of queue names seen
    {casemgmt}:wq:<n>:q:<queue>       sorted set: waiting cases in working order
    {casemgmt}:wq:<n>:age:<queue>     sorted set: the same cases by moment of receipt
    {casemgmt}:wq:<n>:held            sorted set: cases taken by a claim in flight, by hold expiry

A case in `held` stays out of its queue while the hold runs, whatever events it records meanwhile
(a note, an SLA alarm): the projection puts a waiting case in line only when no claim holds it
(`PLACE_SCRIPT`, checked when the batch's MULTI/EXEC runs), and the claim's end (put back, let
go) or the hold's expiry returns it as its state then says.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from casemgmt.domain import Priority, lifecycle
from casemgmt.readmodels.case_summary import CaseSummary

if TYPE_CHECKING:
    from datetime import datetime

    from casemgmt.domain.routing import Routable

DEFAULT_KEY_PREFIX: Final = "casemgmt"

# The statuses (as summaries store them) in which an unassigned case waits in its queue.
WAITING_FOR_AGENT: Final = frozenset(status.value for status in lifecycle.WAITING_FOR_AGENT)

# Clocks whose deadline orders a queue: running ones (past their deadline or not).
_RUNNING: Final = frozenset({"running"})

# Urgent first. A queue's sorted-set score puts this rank above the due time.
PRIORITY_RANK: Final = {
    Priority.URGENT.value: 0,
    Priority.HIGH.value: 1,
    Priority.NORMAL.value: 2,
    Priority.LOW.value: 3,
}

# Milliseconds since 1970 stay below 10**13 until the year 2286, so rank * 10**13 + due time is a
# whole number below 2**53, which a double (a Redis score) holds exactly.
_RANK_WEIGHT: Final = 10**13


def waiting_queue(case: Routable) -> str | None:
    """The queue the case waits in for an agent now, or None when it waits in none."""
    if case.assignee is None and case.status in WAITING_FOR_AGENT:
        return case.queue
    return None


def due_at(case: Routable) -> datetime:
    """When the case should next be answered: the nearest deadline of a running SLA clock, or
    the moment of receipt when no clock runs (oldest first)."""
    running = [
        due
        for due, state in (
            (
                getattr(case, "first_response_due", None),
                getattr(case, "first_response_state", None),
            ),
            (getattr(case, "resolution_due", None), getattr(case, "resolution_state", None)),
        )
        if due is not None and state in _RUNNING
    ]
    return min(running, default=case.received_at)


def queue_order(case: Routable) -> tuple[float, str]:
    """The sorted-set score and member that put the case in its place within a queue.

    The score orders by priority rank, then due time; ties fall to the member, which begins with
    the moment of receipt, so the older case comes first, then the case id.
    """
    rank = PRIORITY_RANK.get(case.priority, PRIORITY_RANK[Priority.NORMAL.value])
    score = rank * _RANK_WEIGHT + _millis(due_at(case))
    return float(score), f"{_millis(case.received_at):013d}:{case.case_id}"


def priority_band(rank: int) -> tuple[int, int]:
    """The scores of a queue's cases of one priority rank: from the first, up to the second."""
    return rank * _RANK_WEIGHT, (rank + 1) * _RANK_WEIGHT


def case_id_of(member: str) -> str:
    """The case id in a queue member made by `queue_order`."""
    return member.partition(":")[2]


def _millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


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
# KEYS: queue, its ages, held; ARGV: member, score, age (ms). Puts a waiting case in line, unless
# a claim holds it: the claim's end or the hold's expiry puts it back (`requeue`), not the writer.
PLACE_SCRIPT: Final = """
if redis.call('ZSCORE', KEYS[3], ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
return 1
"""
# KEYS: queue, its ages, held; ARGV: hold expiry (ms). Returns the member taken, or nil.
CLAIM_SCRIPT: Final = """
local top = redis.call('ZPOPMIN', KEYS[1])
if #top == 0 then return false end
redis.call('ZREM', KEYS[2], top[1])
redis.call('ZADD', KEYS[3], ARGV[1], top[1])
return top[1]
"""
# KEYS: cases, held; ARGV: generation key base, members. Puts back those the state says wait.
REQUEUE_SCRIPT: Final = (
    _REQUEUE_FUNCTION
    + """
local n = 0
for i = 2, #ARGV do n = n + requeue(KEYS[1], KEYS[2], ARGV[1], ARGV[i]) end
return n
"""
)
# KEYS: cases, held; ARGV: generation key base, now (ms). Releases claims whose hold expired.
RELEASE_EXPIRED_SCRIPT: Final = (
    _REQUEUE_FUNCTION
    + """
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[2], 'LIMIT', 0, 500)
for _, member in ipairs(expired) do requeue(KEYS[1], KEYS[2], ARGV[1], member) end
return #expired
"""
)


@dataclass(frozen=True)
class GenerationKeys:
    """The keys of one generation of the work queues."""

    base: str

    @property
    def position(self) -> str:
        return f"{self.base}position"

    @property
    def cases(self) -> str:
        return f"{self.base}cases"

    @property
    def queues(self) -> str:
        return f"{self.base}queues"

    @property
    def held(self) -> str:
        return f"{self.base}held"

    def queue(self, name: str) -> str:
        return f"{self.base}q:{name}"

    def ages(self, name: str) -> str:
        return f"{self.base}age:{name}"

    @property
    def pattern(self) -> str:
        """A SCAN pattern for every key of the generation."""
        return _glob_escape(self.base) + "*"


class QueueKeys:
    """The key names of the work queues under one prefix."""

    def __init__(self, prefix: str = DEFAULT_KEY_PREFIX) -> None:
        self.prefix = prefix
        self.root = f"{{{prefix}}}:wq"
        self.generation = f"{self.root}:generation"
        self.generations = f"{self.root}:generations"

    def of(self, generation: int) -> GenerationKeys:
        return GenerationKeys(f"{self.root}:{generation}:")


@dataclass(frozen=True)
class Waiting:
    """Where a case waits: its queue, and its score and member in that queue's sorted set."""

    queue: str
    score: float
    member: str
    age: int  # moment of receipt, in milliseconds since 1970


def waiting(summary: CaseSummary | None) -> Waiting | None:
    """Where the case waits for an agent now, or None."""
    if summary is None:
        return None
    queue = waiting_queue(summary)
    if queue is None:
        return None
    score, member = queue_order(summary)
    return Waiting(queue, score, member, int(summary.received_at.timestamp() * 1000))


def encode_state(summary: CaseSummary) -> str:
    """The case's JSON state in the `cases` hash; the Lua scripts read `waiting`, `score` …"""
    state: dict[str, Any] = summary.as_json()
    place = waiting(summary)
    if place is not None:
        # Scores as strings: Lua hands them to ZADD unchanged, with no float formatting between.
        state.update(
            waiting=place.queue,
            score=str(int(place.score)),
            member=place.member,
            age=str(place.age),
        )
    return json.dumps(state, separators=(",", ":"))


def decode_state(raw: bytes | str) -> CaseSummary:
    return CaseSummary.from_json(json.loads(raw))


def _glob_escape(text: str) -> str:
    return "".join(f"\\{char}" if char in "*?[]\\" else char for char in text)
