"""The care centre application: load a case, authorise and give it a command, save what it recorded.

`CareCentre` knows nothing of HTTP or clocks: the caller reads the clock and passes the moment in
through the command's `Context`. Every action declared in `casemgmt.domain.Action` goes through
`act`; library errors become the errors of `casemgmt.application.errors`.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Final, cast
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError

from casemgmt.application.authorization import authorize, authorize_action
from casemgmt.application.errors import (
    CaseNotFound,
    ConcurrentUpdate,
    IntakeConflict,
    StaleVersion,
)
from casemgmt.domain import Action, Case, Channel, InvalidCommand, Priority, Role
from casemgmt.domain.validation import require_aware, require_member

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from eventsourcing.domain import MutableOrImmutableAggregate
    from eventsourcing.utils import EnvType

    from casemgmt.application.references import ReferenceNumbers
    from casemgmt.domain import Category, Context, Requester
    from casemgmt.domain.sla_policy import SlaPolicy

# How long after closing a case its requester may still have it reopened, unless told otherwise.
DEFAULT_REOPEN_WINDOW: Final = timedelta(days=30)
# How often a command without an expected version is tried when other commands keep winning.
_ATTEMPTS: Final = 3


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
        sla_policy: SlaPolicy | None = None,
    ) -> None:
        """Builds the application; `references` may be left out where no case is opened.

        eventsourcing's projection runner builds it from `env` alone, to follow its event log.
        """
        super().__init__(env)
        self.references = references
        self.new_id = new_id
        self.reopen_window = reopen_window
        self.sla_policy = sla_policy  # None: cases have no SLA clocks

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
        authorize(ctx.actor, "open")
        if ctx.actor.role is Role.INTAKE:
            # A channel integration's intake is caused by the channel, not by a person.
            ctx = replace(ctx, cause=f"channel:{require_member(Channel, 'channel', channel).value}")
        case_id = self.new_id() if external_ref is None else Case.id_for(channel, external_ref)
        existing = self.find_case(case_id) if external_ref is not None else None
        repeat: dict[str, Any] = {
            "channel": channel,
            "external_ref": external_ref,
            "subject": subject,
            "body": body,
            "requester": requester,
        }
        if existing is not None:
            return self._repeated(existing, **repeat), False
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
        self._keep_clocks(case, ctx)
        try:
            self._save(case)
        except ConcurrentUpdate:
            # The same message arrived twice at once and the other delivery won: same case.
            if external_ref is None:
                raise
            won = self.get_case(case_id)
            return self._repeated(won, **repeat), False
        return case, True

    @staticmethod
    def _repeated(
        case: Case,
        *,
        channel: Channel,
        external_ref: str | None,
        subject: str,
        body: str | None,
        requester: Requester,
    ) -> Case:
        """The case a repeated delivery opened, when it is the same message (rule 5)."""
        differ = case.same_inquiry(subject, body, requester)
        if differ:
            raise IntakeConflict(str(channel), str(external_ref), case.reference, differ)
        return case

    # -- work on a case -------------------------------------------------------------------------

    def act(
        self,
        case_id: UUID,
        action: Action,
        ctx: Context,
        *,
        expected_version: int | None = None,
        **body: Any,
    ) -> Case:
        """Gives a case one of the declared actions, with its body's fields as keywords.

        Who may give it is decided on the very version the command changes. Without an expected
        version, a command that lost a race is tried again on the new version, where it is
        authorised and checked again; with one (`If-Match`), the race is reported instead.
        """
        arguments = self._arguments(action, body, ctx)
        for attempt in range(1, _ATTEMPTS + 1):
            case = self._get_for_change(case_id, expected_version)
            authorize_action(ctx.actor, action, case, arguments.get("agent"))
            others = self._perform(case, action, arguments, ctx)
            self._keep_clocks(case, ctx)
            try:
                return self._save(case, *others)
            except ConcurrentUpdate:
                if expected_version is not None or attempt == _ATTEMPTS:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _arguments(self, action: Action, body: dict[str, Any], ctx: Context) -> dict[str, Any]:
        """The domain method's arguments: the declared fields (missing optional ones as None)."""
        declared = {field.name for field in action.rule.body}
        unknown = set(body) - declared
        if unknown:
            raise InvalidCommand(sorted(unknown)[0], f"is not a field of {action.path}")
        arguments = {name: body.get(name) for name in declared}
        if action is Action.ASSIGN and arguments["agent"] is None:
            arguments["agent"] = ctx.actor.id  # left out: the caller takes the case
        return arguments

    def _perform(
        self, case: Case, action: Action, arguments: dict[str, Any], ctx: Context
    ) -> list[Case]:
        """Calls the action's method on the case; returns the other cases it changed."""
        command = getattr(case, action.method)
        if action is Action.REOPEN:
            command(**arguments, ctx=ctx, reopen_window=self.reopen_window)
            return []
        command(**arguments, ctx=ctx)
        if action is Action.MERGE:
            survivor = self.find_case(arguments["into"])
            if survivor is None:
                raise InvalidCommand("into", f"no case has the id {arguments['into']}")
            survivor.record_merge(case.id, ctx)
            return [survivor]
        return []

    # -- SLA clocks --------------------------------------------------------------------------------

    def check_sla(self, case_id: UUID, ctx: Context) -> int:
        """Records the case's SLA warnings and breaches due by `ctx.at`; returns how many.

        Each is recorded once: two timers, or one firing twice, find the second time that the
        case already has it (a lost race is tried again on the new version).
        """
        return self._change_clocks(
            case_id, ctx, lambda case, policy: case.record_sla_alarms(policy, ctx)
        )

    def apply_sla_policy(self, case_id: UUID, ctx: Context) -> int:
        """Recomputes the case's clocks under the policy in force; returns the events recorded."""

        def keep(case: Case, policy: SlaPolicy) -> int:
            before = len(case.pending_events)
            case.keep_clocks(policy, ctx)
            return len(case.pending_events) - before

        return self._change_clocks(case_id, ctx, keep)

    def _change_clocks(
        self, case_id: UUID, ctx: Context, change: Callable[[Case, SlaPolicy], int]
    ) -> int:
        if self.sla_policy is None:
            return 0
        for attempt in range(1, _ATTEMPTS + 1):
            case = self.get_case(case_id)
            recorded = change(case, self.sla_policy)
            if not recorded:
                return 0
            try:
                self._save(case)
            except ConcurrentUpdate:
                if attempt == _ATTEMPTS:
                    raise
                continue
            return recorded
        raise AssertionError("unreachable")  # pragma: no cover

    def _keep_clocks(self, case: Case, ctx: Context) -> None:
        if self.sla_policy is not None:
            case.keep_clocks(self.sla_policy, ctx)

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
            raise ConcurrentUpdate(case.id, self.find_case(case.id)) from None
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
