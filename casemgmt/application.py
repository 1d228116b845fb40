"""The care centre application: load a case, give it a command, save what it recorded.

`CareCentre` knows nothing of HTTP or clocks: the caller reads the clock and passes the moment in
through the command's `Context`. Library errors become the errors below, which the API turns into
404 (`CaseNotFound`), 409 (`ConcurrentUpdate`, and the domain's `ActionNotAllowed`), 412
(`StaleVersion`) and 422 (the domain's `InvalidCommand`).
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from datetime import timedelta
from typing import TYPE_CHECKING, ClassVar, cast
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError

from casemgmt.domain import Case, InvalidCommand, Priority
from casemgmt.domain.validation import require_aware

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from eventsourcing.domain import MutableOrImmutableAggregate
    from eventsourcing.utils import EnvType

    from casemgmt.domain import Category, Channel, Context, Requester

# How long after closing a case its requester may still have it reopened, unless told otherwise.
DEFAULT_REOPEN_WINDOW = timedelta(days=30)


class CaseNotFound(LookupError):  # noqa: N818 -- names read as what happened
    """No case has this id (or it did not exist yet at the moment or version asked for)."""

    def __init__(self, case_id: UUID, detail: str | None = None) -> None:
        super().__init__(detail or f"case {case_id} not found")
        self.case_id = case_id


class StaleVersion(Exception):  # noqa: N818
    """The command expected another version of the case than the current one (`If-Match`)."""

    def __init__(self, case_id: UUID, expected: int, actual: int) -> None:
        super().__init__(f"case {case_id} is at version {actual}, not {expected}")
        self.case_id = case_id
        self.expected = expected
        self.actual = actual


class ConcurrentUpdate(Exception):  # noqa: N818
    """Another command changed the case between loading and saving it; this one was not saved."""

    def __init__(self, case_id: UUID) -> None:
        super().__init__(f"case {case_id} was changed by another command at the same time")
        self.case_id = case_id


class ReferenceNumbers(ABC):
    """Issues the human-readable, unique references of new cases ("CC-2026-000001")."""

    @abstractmethod
    def next_reference(self, received_at: datetime) -> str:
        """A reference never issued before, for a case received at `received_at`."""


class CountingReferences(ReferenceNumbers):
    """References counted in memory, from 1 in each year of receipt: for tests and demos."""

    def __init__(self, prefix: str = "CC") -> None:
        self.prefix = prefix
        self._issued: dict[int, int] = {}
        self._lock = threading.Lock()

    def next_reference(self, received_at: datetime) -> str:
        with self._lock:
            number = self._issued.get(received_at.year, 0) + 1
            self._issued[received_at.year] = number
        return f"{self.prefix}-{received_at.year}-{number:06d}"


class CareCentre(Application[UUID]):
    """Cases of the customer care centre: intake, the work on them, and their history."""

    name = "CareCentre"
    is_snapshotting_enabled = True
    snapshotting_intervals: ClassVar[dict[type[MutableOrImmutableAggregate[UUID]], int]] = {
        Case: 50
    }

    def __init__(
        self,
        env: EnvType | None = None,
        *,
        references: ReferenceNumbers | None = None,
        new_id: Callable[[], UUID] = uuid4,
        reopen_window: timedelta = DEFAULT_REOPEN_WINDOW,
    ) -> None:
        """Builds the application; `references` may be left out where no case is opened.

        eventsourcing's projection runner builds it from `env` alone, to follow its event log.
        """
        super().__init__(env)
        self.references = references
        self.new_id = new_id
        self.reopen_window = reopen_window

    # -- intake ---------------------------------------------------------------------------------

    def open_case(
        self,
        *,
        channel: Channel,
        subject: str,
        requester: Requester,
        ctx: Context,
        external_ref: str | None = None,
        body: str | None = None,
        category: Category | None = None,
        priority: Priority = Priority.NORMAL,
        unit: str | None = None,
        received_at: datetime | None = None,
    ) -> tuple[Case, bool]:
        """Opens a case, or finds the one already opened for `(channel, external_ref)`.

        Returns the case and whether it was created now.
        """
        case_id = self.new_id() if external_ref is None else Case.id_for(channel, external_ref)
        existing = self.find_case(case_id) if external_ref is not None else None
        if existing is not None:
            return existing, False
        case = Case.receive(
            id=case_id,
            reference=self._next_reference(received_at or ctx.at),
            channel=channel,
            external_ref=external_ref,
            subject=subject,
            body=body,
            requester=requester,
            category=category,
            priority=priority,
            unit=unit,
            received_at=received_at,
            ctx=ctx,
        )
        try:
            self._save(case)
        except ConcurrentUpdate:
            # The same message arrived twice at once and the other delivery won: same case.
            if external_ref is None:
                raise
            return self.get_case(case_id), False
        return case, True

    # -- work on a case -------------------------------------------------------------------------

    def triage(
        self,
        case_id: UUID,
        category: Category,
        priority: Priority,
        unit: str | None,
        ctx: Context,
        *,
        expected_version: int | None = None,
    ) -> Case:
        case = self._get_for_change(case_id, expected_version)
        case.triage(category, priority, unit, ctx)
        return self._save(case)

    def assign(
        self, case_id: UUID, agent: str, ctx: Context, *, expected_version: int | None = None
    ) -> Case:
        case = self._get_for_change(case_id, expected_version)
        case.assign(agent, ctx)
        return self._save(case)

    def unassign(self, case_id: UUID, ctx: Context, *, expected_version: int | None = None) -> Case:
        case = self._get_for_change(case_id, expected_version)
        case.unassign(ctx)
        return self._save(case)

    def reply(
        self, case_id: UUID, message: str, ctx: Context, *, expected_version: int | None = None
    ) -> Case:
        case = self._get_for_change(case_id, expected_version)
        case.reply(message, ctx)
        return self._save(case)

    def note(
        self, case_id: UUID, text: str, ctx: Context, *, expected_version: int | None = None
    ) -> Case:
        case = self._get_for_change(case_id, expected_version)
        case.note(text, ctx)
        return self._save(case)

    def request_info(
        self, case_id: UUID, message: str, ctx: Context, *, expected_version: int | None = None
    ) -> Case:
        case = self._get_for_change(case_id, expected_version)
        case.request_info(message, ctx)
        return self._save(case)

    def citizen_message(
        self, case_id: UUID, message: str, ctx: Context, *, expected_version: int | None = None
    ) -> Case:
        case = self._get_for_change(case_id, expected_version)
        case.citizen_message(message, ctx)
        return self._save(case)

    def escalate(
        self, case_id: UUID, reason: str, ctx: Context, *, expected_version: int | None = None
    ) -> Case:
        case = self._get_for_change(case_id, expected_version)
        case.escalate(reason, ctx)
        return self._save(case)

    def transfer(
        self,
        case_id: UUID,
        unit: str,
        reason: str,
        ctx: Context,
        *,
        expected_version: int | None = None,
    ) -> Case:
        case = self._get_for_change(case_id, expected_version)
        case.transfer(unit, reason, ctx)
        return self._save(case)

    def resolve(
        self,
        case_id: UUID,
        resolution: str,
        summary: str | None,
        ctx: Context,
        *,
        expected_version: int | None = None,
    ) -> Case:
        case = self._get_for_change(case_id, expected_version)
        case.resolve(resolution, summary, ctx)
        return self._save(case)

    def reopen(
        self, case_id: UUID, reason: str, ctx: Context, *, expected_version: int | None = None
    ) -> Case:
        case = self._get_for_change(case_id, expected_version)
        case.reopen(reason, ctx, self.reopen_window)
        return self._save(case)

    def close_case(
        self, case_id: UUID, ctx: Context, *, expected_version: int | None = None
    ) -> Case:
        """The `close` action (`Application.close` already means closing the event store)."""
        case = self._get_for_change(case_id, expected_version)
        case.close(ctx)
        return self._save(case)

    def merge(
        self, case_id: UUID, into: UUID, ctx: Context, *, expected_version: int | None = None
    ) -> Case:
        """Merges a case into `into`; both cases' events are saved together or not at all."""
        case = self._get_for_change(case_id, expected_version)
        case.merge(into, ctx)
        survivor = self.find_case(into)
        if survivor is None:
            raise InvalidCommand("into", f"no case has the id {into}")
        survivor.record_merge(case.id, ctx)
        return self._save(case, survivor)

    def feedback(
        self,
        case_id: UUID,
        score: int,
        comment: str | None,
        ctx: Context,
        *,
        expected_version: int | None = None,
    ) -> Case:
        case = self._get_for_change(case_id, expected_version)
        case.record_feedback(score, comment, ctx)
        return self._save(case)

    # -- reading --------------------------------------------------------------------------------

    def get_case(self, case_id: UUID) -> Case:
        """The case as it is now."""
        try:
            return cast("Case", self.repository.get(case_id))
        except AggregateNotFoundError:
            raise CaseNotFound(case_id) from None

    def find_case(self, case_id: UUID) -> Case | None:
        """The case as it is now, or None when there is no such case."""
        try:
            return self.get_case(case_id)
        except CaseNotFound:
            return None

    def case_at(
        self, case_id: UUID, *, version: int | None = None, as_of: datetime | None = None
    ) -> Case:
        """The case as it stood at a version, or at a moment (the last event at or before it)."""
        if version is not None and as_of is not None:
            raise InvalidCommand("as_of", "give either a version or a moment, not both")
        if as_of is not None:
            version = self._version_as_of(case_id, as_of)
        if version is None:
            return self.get_case(case_id)
        if version < Case.INITIAL_VERSION:
            raise InvalidCommand("version", "must be at least 1")
        return self._get_version(case_id, version)

    def history(self, case_id: UUID) -> list[Case.Event]:
        """Every event of the case, in order."""
        events = [cast("Case.Event", event) for event in self.events.get(case_id)]
        if not events:
            raise CaseNotFound(case_id)
        return events

    # -- helpers --------------------------------------------------------------------------------

    def _next_reference(self, received_at: datetime) -> str:
        if self.references is None:
            msg = f"{self.name} was built without ReferenceNumbers, so it cannot open cases"
            raise RuntimeError(msg)
        return self.references.next_reference(received_at)

    def _get_for_change(self, case_id: UUID, expected_version: int | None) -> Case:
        case = self.get_case(case_id)
        if expected_version is not None and expected_version != case.version:
            raise StaleVersion(case_id, expected_version, case.version)
        return case

    def _save(self, case: Case, *others: Case) -> Case:
        """Saves the cases' new events in one transaction; a lost race is a ConcurrentUpdate."""
        try:
            self.save(case, *others)
        except IntegrityError:
            raise ConcurrentUpdate(case.id) from None
        return case

    def _get_version(self, case_id: UUID, version: int) -> Case:
        try:
            case = cast("Case", self.repository.get(case_id, version=version))
        except AggregateNotFoundError:
            raise CaseNotFound(case_id) from None
        if case.version < version:
            raise CaseNotFound(case_id, f"case {case_id} has no version {version}")
        return case

    def _version_as_of(self, case_id: UUID, as_of: datetime) -> int:
        """The version after the events recorded at or before `as_of` (each one in order)."""
        require_aware("as_of", as_of)
        version = 0
        for event in self.history(case_id):
            if event.timestamp > as_of:
                break
            version = event.originator_version
        if version == 0:
            detail = f"case {case_id} did not exist yet at {as_of.isoformat()}"
            raise CaseNotFound(case_id, detail)
        return version
