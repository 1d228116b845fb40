"""Erasing a requester: their cases record it, then their key is destroyed (crypto-shredding).

The stored events are never rewritten (their hash chains must stay intact): a requester's personal
data is sealed in them with a key of their own (`casemgmt/persistence/shredding.py`, behind the
`RequesterKeyStore` port), and erasure destroys that key. First every case that holds data sealed
with it records `RequesterErased` (who, when, why; never whom), so the cases and every projection
show the data as erased from that event on; then the key is destroyed and the erasure recorded, in
one transaction that fails when a new case of the requester appeared meanwhile (that case records
the event too, and the key is destroyed on the next round).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Protocol
from uuid import UUID, uuid4

from eventsourcing.persistence import IntegrityError

from casemgmt.application.authorization import authorize
from casemgmt.application.errors import CaseNotFound, ConcurrentUpdate
from casemgmt.domain.validation import require_text

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from casemgmt.application.care_centre import CareCentre
    from casemgmt.domain import Context

# Rounds of "record on every case, then destroy" before giving up on a requester whose new cases
# keep arriving while they are erased.
_ROUNDS: Final = 5
_ATTEMPTS: Final = 3


class RequesterNotFound(LookupError):  # noqa: N818 -- names read as what happened
    """Nothing of a requester with this id is held: never received, or erased already (404)."""

    def __init__(self) -> None:
        super().__init__(
            "no personal data of a requester with this id is held: none was received, "
            "or it was erased already"
        )


class KeyAlreadyDestroyed(LookupError):  # noqa: N818
    """Another erasure destroyed the requester's key meanwhile."""

    def __init__(self, key_id: UUID) -> None:
        super().__init__(f"requester key {key_id} is already destroyed")
        self.key_id = key_id


class SealingKeyDestroyed(IntegrityError):  # noqa: N818 -- names read as what happened
    """A write was refused because the key one of its events was sealed with was destroyed
    meanwhile (the requester was erased after the writer looked the key up). Nothing was written;
    sealed again, the events go under a new key (`CareCentre` does it once by itself)."""

    def __init__(self, key_id: UUID) -> None:
        super().__init__(f"requester key {key_id} was destroyed while an event was sealed with it")
        self.key_id = key_id


@dataclass(frozen=True)
class ErasureRecord:
    """Who erased, when, why and in which request: what the erasure record keeps, never whom."""

    erasure_id: UUID
    erased_at: datetime
    actor_id: str
    actor_role: str
    on_behalf_of: str | None
    correlation_id: str
    reason: str


@dataclass(frozen=True)
class Erasure:
    """What an erasure did: its record's id, its moment and how many cases it reached."""

    erasure_id: UUID
    erased_at: datetime
    cases: int


class RequesterKeyStore(Protocol):
    """The requesters' keys, by the requester's id (which the store holds only as a keyed hash)."""

    def find(self, requester_id: str) -> UUID | None:
        """The id of the requester's live key; None when nothing of theirs is held."""

    def cases_of(self, key_id: UUID) -> list[UUID]:
        """The cases that hold data sealed with the key."""

    def destroy(self, key_id: UUID, cases: set[UUID], record: ErasureRecord) -> list[UUID]:
        """Destroys the key and keeps `record`, unless the key sealed other cases than `cases`:
        then changes nothing and returns them. Raises KeyAlreadyDestroyed."""


class RequesterErasure:
    """Erases requesters by their id (the insurance or tax number): admins only."""

    def __init__(
        self,
        care_centre: CareCentre,
        keys: RequesterKeyStore,
        *,
        new_id: Callable[[], UUID] = uuid4,
    ) -> None:
        self.care_centre = care_centre
        self.keys = keys
        self.new_id = new_id

    def erase(self, requester_id: str, reason: str, ctx: Context) -> Erasure:
        """Records the erasure on each of the requester's cases, then destroys their key."""
        authorize(ctx.actor, "erase")
        requester_id = require_text("requester_id", requester_id)
        reason = require_text("reason", reason)
        key_id = self.keys.find(requester_id)
        if key_id is None:
            raise RequesterNotFound
        record = ErasureRecord(
            erasure_id=self.new_id(),
            erased_at=ctx.at,
            actor_id=ctx.actor.id,
            actor_role=ctx.actor.role.value,
            on_behalf_of=ctx.actor.on_behalf_of,
            correlation_id=ctx.correlation_id,
            reason=reason,
        )
        done: set[UUID] = set()
        pending = self.keys.cases_of(key_id)
        for _ in range(_ROUNDS):
            for case_id in pending:
                self._record_on(case_id, reason, ctx)
                done.add(case_id)
            try:
                pending = self.keys.destroy(key_id, done, record)
            except KeyAlreadyDestroyed:
                raise RequesterNotFound from None
            if not pending:
                return Erasure(record.erasure_id, record.erased_at, len(done))
        raise ConcurrentUpdate(key_id)

    def _record_on(self, case_id: UUID, reason: str, ctx: Context) -> None:
        """Records `RequesterErased` on the case, once (a case not stored, or erased, is left)."""
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                case = self.care_centre.get_case(case_id)
            except CaseNotFound:
                return  # its first event was sealed but never stored: nothing to record on
            if case.erased_at is not None:
                return
            case.erase_requester(reason, ctx)
            try:
                self.care_centre.save(case)
            except IntegrityError:
                if attempt == _ATTEMPTS:
                    raise ConcurrentUpdate(case_id) from None
                continue
            return
