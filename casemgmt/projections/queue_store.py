"""How the work queues are laid out in Redis, shared by the projection that writes them and readers.

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
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from casemgmt.projections.routing import queue_order, waiting_queue
from casemgmt.projections.summary import CaseSummary

DEFAULT_KEY_PREFIX: Final = "casemgmt"


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
