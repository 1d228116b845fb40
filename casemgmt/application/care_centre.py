"""The care centre application: load a case, authorise and give it a command, save what it recorded.

`CareCentre` knows nothing of HTTP or clocks: the caller reads the clock and passes the moment in
through the command's `Context`. Every action declared in `casemgmt.domain.Action` goes through
`act`; library errors become the errors of `casemgmt.application.errors`.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import (
    TYPE_CHECKING,
    Any,
    ClassVar,
    Final,
    Protocol,
    TypeAlias,
    cast,
    runtime_checkable,
)
from uuid import UUID, uuid4

from eventsourcing.application import (
    AggregateNotFoundError,
    Application,
    ProcessingEvent,
)
from eventsourcing.persistence import IntegrityError

from casemgmt.application.authorization import (
    authorize,
    authorize_action,
    check_holder,
    check_on_behalf,
    check_visible,
    narrowed,
)
from casemgmt.application.erasure import SealingKeyDestroyed
from casemgmt.application.errors import (
    CaseNotFound,
    ConcurrentUpdate,
    IntakeConflict,
    StaleVersion,
)
from casemgmt.domain import (
    Action,
    Case,
    Channel,
    Direction,
    InvalidCommand,
    Message,
    Priority,
    Requester,
    Role,
    Status,
)
from casemgmt.domain.case import OLDEST_INTAKE
from casemgmt.domain.clock_keeping import clock_steps
from casemgmt.domain.validation import require_aware, require_member

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence
    from datetime import datetime

    from eventsourcing.domain import MutableOrImmutableAggregate
    from eventsourcing.persistence import AggregateRecorder, Recording, StoredEvent
    from eventsourcing.utils import EnvType

    from casemgmt.application.directory import AccountDirectory
    from casemgmt.application.references import ReferenceNumbers
    from casemgmt.domain import Actor, Category, Context
    from casemgmt.domain.clock_keeping import KeptClocks
    from casemgmt.domain.sla_policy import SlaPolicy
    from casemgmt.domain.taxonomy import Taxonomy

    # A change to a case's clocks under a policy: returns how many events it recorded.
    _ClockChange: TypeAlias = Callable[[Case, SlaPolicy, Context], int]

# How long after closing a case its requester may still have it reopened, unless told otherwise.
DEFAULT_REOPEN_WINDOW: Final = timedelta(days=30)
# How often a command without an expected version is tried when other commands keep winning.
_ATTEMPTS: Final = 3


@runtime_checkable
class LoadsAggregates(Protocol):
    """A recorder that reads aggregates' latest snapshots and the events after them, or their
    latest versions, for any number of aggregates, in one query (casemgmt's own)."""

    def select_aggregates(
        self, originator_ids: Sequence[UUID], snapshots: AggregateRecorder | None
    ) -> dict[UUID, tuple[StoredEvent | None, list[StoredEvent]]]: ...

    def latest_versions(self, originator_ids: Sequence[UUID]) -> dict[UUID, int]: ...


class _RecentEvents:
    """The events of the case this thread loaded or saved last, from its first on, for a moment.

    A request that reads or changes a case for an intake account answers with what that account
    recorded on it (`messages_recorded_by`) and checks that it opened it (`opened_by`); both are
    read from the events just loaded instead of from the database again. Kept for `SECONDS` at
    most, so that an erasure is not outlived by more than the requester keys' own cache does.
    """

    SECONDS: Final = 1.0

    def __init__(self) -> None:
        self._local = threading.local()

    def remember(self, case_id: UUID, events: list[Case.Event]) -> None:
        contiguous = all(
            event.originator_version == number for number, event in enumerate(events, 1)
        )
        self._local.recent = (case_id, events, time.monotonic()) if contiguous else None

    def extend(self, case_id: UUID, events: list[Case.Event]) -> None:
        """Adds the events just saved, when they follow the ones remembered of the case."""
        recent = self.up_to(case_id, None)
        if recent is not None:
            self.remember(case_id, recent + events)

    def up_to(self, case_id: UUID, version: int | None) -> list[Case.Event] | None:
        """The case's events up to `version` (all: None), if they are all remembered."""
        recent = getattr(self._local, "recent", None)
        if recent is None or recent[0] != case_id:
            return None
        _, events, at = recent
        if time.monotonic() - at > self.SECONDS:
            return None
        if version is None:
            return list(events)
        return list(events[:version]) if len(events) >= version else None


@dataclass
class ClockChanges:
    """What `sla apply` saves for a page of cases: the events, the cases they move, and the
    cases to do from their events instead (the case list is behind on them)."""

    events: list[Case.Event] = field(default_factory=list)
    moved: list[UUID] = field(default_factory=list)
    from_events: list[UUID] = field(default_factory=list)


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
        oldest_intake: timedelta = OLDEST_INTAKE,
        sla_policy: SlaPolicy | None = None,
        accounts: AccountDirectory | None = None,
        taxonomy: Taxonomy | None = None,
    ) -> None:
        """Builds the application; `references` may be left out where no case is opened.

        `accounts` checks whom `assign` names (`casemgmt.bootstrap` always gives it); without it,
        as in tests of the lifecycle alone, any name is taken as given. eventsourcing's projection
        runner builds it from `env` alone, to follow its event log.
        """
        super().__init__(env)
        self.references = references
        self.accounts = accounts
        self.new_id = new_id
        self.reopen_window = reopen_window
        self.oldest_intake = oldest_intake
        self.sla_policy = sla_policy  # None: cases have no SLA clocks
        self._recent = _RecentEvents()
        # Checked once: a Protocol's isinstance is slow, and `get_case` is on every request.
        recorder = self.recorder
        self._loader = recorder if isinstance(recorder, LoadsAggregates) else None
        self.taxonomy = taxonomy  # None: any kind and unit (`casemgmt.bootstrap` always gives it)

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
        case = self.draft_case(
            channel=channel,
            subject=subject,
            requester=requester,
            ctx=ctx,
            external_ref=external_ref,
            body=body,
            category=category,
            priority=priority,
            unit=unit,
            received_at=received_at,
        )
        repeat: dict[str, Any] = {
            "channel": channel,
            "external_ref": external_ref,
            "subject": subject,
            "body": body,
            "requester": requester,
        }
        received = cast("list[Case.Event]", list(case.pending_events))
        # Written before anything is read: a delivery seen before (or arriving twice at once)
        # collides with its case's first event, which has the same id and version, and only then
        # is that case read, to compare. One round trip for a new case, two for a repeat.
        try:
            self.save(case)
        except IntegrityError:
            if external_ref is None:
                raise ConcurrentUpdate(case.id, self.find_case(case.id)) from None
            self._give_back_reference(case.reference)
            return self._repeated(self.get_case(case.id), **repeat), False
        self._recent.remember(case.id, received)
        return case, True

    def draft_case(
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
    ) -> Case:
        """The case `open_case` opens, checked, numbered and with its clocks started, but not
        saved: for a history written in one go (`act_on` gives it its commands, `save` stores
        many such cases in one transaction, and refuses one whose first event is stored)."""
        authorize(ctx.actor, "open")
        self._check_taxonomy(category=category, unit=unit)
        ctx = replace(ctx, actor=check_on_behalf(ctx.actor, "open", requester))
        if ctx.actor.role is Role.INTAKE:
            # A channel integration's intake is caused by the channel, not by a person.
            ctx = replace(ctx, cause=f"channel:{require_member(Channel, 'channel', channel).value}")
        case_id = self.new_id() if external_ref is None else Case.id_for(channel, external_ref)
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
            oldest_intake=self.oldest_intake,
        )
        self._keep_clocks(case, ctx)
        return case

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

        Who may give it is decided on the very version the command changes, before anything else
        about the case is told (its version, whether the action suits it). Without an expected
        version, a command that lost a race is tried again on the new version, where it is
        authorised and checked again; with one (`If-Match`), the race is reported instead.
        """
        arguments = self._arguments(action, body, ctx)
        for attempt in range(1, _ATTEMPTS + 1):
            case = self.get_case(case_id)
            try:
                return self._act_once(case, action, arguments, ctx, expected_version)
            except ConcurrentUpdate:
                if expected_version is not None or attempt == _ATTEMPTS:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def act_on_loaded(self, case: Case, action: Action, ctx: Context, **body: Any) -> Case:
        """`act` on a case just loaded, without loading it again: one command, one save. A
        change saved since it was loaded makes the save fail with ConcurrentUpdate (the
        store's version check), and nothing is tried again."""
        return self._act_once(case, action, self._arguments(action, body, ctx), ctx)

    def _act_once(
        self,
        case: Case,
        action: Action,
        arguments: dict[str, Any],
        ctx: Context,
        expected_version: int | None = None,
    ) -> Case:
        """The command given to the case in hand, and saved (ConcurrentUpdate: a race lost)."""
        others = self._command(
            case, action, arguments, ctx, self.find_case, expected_version=expected_version
        )
        return self._save(case, *others)

    def act_on(
        self,
        case: Case,
        action: Action,
        ctx: Context,
        *,
        at_hand: Mapping[UUID, Case] | None = None,
        **body: Any,
    ) -> list[Case]:
        """`act` on a case in hand (from `draft_case`, or loaded), without loading or saving it:
        the same authorisation, checks, events and clocks, so that a history written in one go
        is the history the API would have stored.

        Returns the other cases the command changed (a merge's survivor, taken from `at_hand`
        when it is there, else loaded), to be saved together with this one.
        """
        arguments = self._arguments(action, body, ctx)

        def find(case_id: UUID) -> Case | None:
            if at_hand is not None and case_id in at_hand:
                return at_hand[case_id]
            return self.find_case(case_id)

        return self._command(case, action, arguments, ctx, find)

    def _command(
        self,
        case: Case,
        action: Action,
        arguments: dict[str, Any],
        ctx: Context,
        find: Callable[[UUID], Case | None],
        *,
        expected_version: int | None = None,
    ) -> list[Case]:
        """Authorises and gives the command to the case and keeps its clocks; returns the other
        cases it changed."""
        authorize_action(ctx.actor, action, case, arguments.get("agent"))
        self._check_visible(ctx.actor, case.id, case)
        ctx = replace(ctx, actor=check_on_behalf(ctx.actor, action.path, case.requester))
        if expected_version is not None and expected_version != case.version:
            raise StaleVersion(case.id, expected_version, case.version)
        if action is Action.ASSIGN and arguments["agent"] != ctx.actor.id:
            # Taking a case oneself needs no look-up: the caller's own account signed in, and
            # its role, allowed to assign, may hold cases.
            self._check_holder(arguments["agent"])
        others = self._perform(case, action, arguments, ctx, find)
        self._keep_clocks(case, ctx)
        return others

    def _arguments(self, action: Action, body: dict[str, Any], ctx: Context) -> dict[str, Any]:
        """The domain method's arguments: the declared fields (missing optional ones as None)."""
        declared = {field.name for field in action.rule.body}
        unknown = set(body) - declared
        if unknown:
            raise InvalidCommand(sorted(unknown)[0], f"is not a field of {action.path}")
        arguments = {name: body.get(name) for name in declared}
        if action is Action.ASSIGN and arguments["agent"] is None:
            arguments["agent"] = ctx.actor.id  # left out: the caller takes the case
        self._check_taxonomy(category=arguments.get("category"), unit=arguments.get("unit"))
        return arguments

    def _perform(
        self,
        case: Case,
        action: Action,
        arguments: dict[str, Any],
        ctx: Context,
        find: Callable[[UUID], Case | None],
    ) -> list[Case]:
        """Calls the action's method on the case; returns the other cases it changed (`find`
        gives a merge its survivor)."""
        command = getattr(case, action.method)
        if action is Action.REOPEN:
            command(**arguments, ctx=ctx, reopen_window=self.reopen_window)
            return []
        command(**arguments, ctx=ctx)
        if action is Action.MERGE:
            survivor = find(arguments["into"])
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
        return self._change_clocks(case_id, ctx, _record_alarms)

    def check_sla_of(self, case_ids: Sequence[UUID], ctx: Context) -> dict[UUID, int]:
        """`check_sla` for many cases at once: read in one query, saved in one transaction.

        Returns the alarms recorded on each case that recorded any. When another command changed
        one of them meanwhile, nothing of the batch was saved and each case is checked again on
        its own, on its new version (so each alarm is still recorded once).
        """
        return self._change_clocks_of(case_ids, ctx, _record_alarms)

    def check_sla_on(self, case: Case, ctx: Context) -> int:
        """`check_sla` on a case in hand (see `act_on`), not saved; returns how many alarms."""
        return 0 if self.sla_policy is None else _record_alarms(case, self.sla_policy, ctx)

    def apply_sla_policy(self, case_id: UUID, ctx: Context) -> int:
        """Recomputes the case's clocks under the policy in force; returns the events recorded."""
        return self._change_clocks(case_id, ctx, _keep_clocks)

    def apply_sla_policy_to(self, case_ids: Sequence[UUID], ctx: Context) -> dict[UUID, int]:
        """`apply_sla_policy` for many cases at once, as `check_sla_of` does it."""
        return self._change_clocks_of(case_ids, ctx, _keep_clocks)

    def apply_sla_policy_to_kept(self, kept: Sequence[KeptClocks], ctx: Context) -> int:
        """`apply_sla_policy_to` for cases as a read model keeps their clocks (the case list):
        the changes are worked out from `kept` by the rules `Case.keep_clocks` follows, without
        loading the cases, and saved in one transaction, each case's at the version after the
        one kept. Returns how many cases changed.

        A case the read model is behind on (its version is not the latest), or whose clocks it
        does not know, is done from its events. A case that moves on after that check makes the
        store refuse the events at a version already taken: nothing of the batch is saved, and
        its cases are done from their events too.
        """
        return self.save_clock_changes(self.clock_changes_of(kept, ctx), ctx)

    def clock_changes_of(self, kept: Sequence[KeptClocks], ctx: Context) -> ClockChanges:
        """The first half of `apply_sla_policy_to_kept`: the events to save, worked out (`sla
        apply` saves one page while it works out the next)."""
        changes = ClockChanges()
        policy = self.sla_policy
        if policy is None:
            return changes
        latest = self._latest_versions([case.case_id for case in kept])
        for case in kept:
            if case.clocks is None or latest.get(case.case_id) != case.version:
                changes.from_events.append(case.case_id)
                continue
            steps = clock_steps(case.subject, case.clocks, policy, ctx.at)
            if steps:
                status = case.subject.status
                changes.events += Case.clock_events(case.case_id, case.version, status, steps, ctx)
                changes.moved.append(case.case_id)
        return changes

    def save_clock_changes(self, changes: ClockChanges, ctx: Context) -> int:
        """The second half of `apply_sla_policy_to_kept`: saves the events in one transaction,
        and does from their events the cases that need it; returns how many cases changed."""
        moved, from_events = list(changes.moved), list(changes.from_events)
        if changes.events:
            try:
                self._save_events(changes.events)
            except IntegrityError:
                from_events += moved
                moved = []
        if from_events:
            moved += list(self.apply_sla_policy_to(from_events, ctx))
        return len(moved)

    def _save_events(self, events: list[Case.Event]) -> None:
        """`save(*events)` for events made without their case, in one transaction; without its
        check of each object against eventsourcing's protocols (a tenth of `sla apply`)."""
        processing: ProcessingEvent[UUID] = ProcessingEvent()
        processing.events.extend(events)
        self._notify(self._record(processing))

    def _latest_versions(self, case_ids: list[UUID]) -> dict[UUID, int]:
        if self._loader is not None:
            return self._loader.latest_versions(case_ids)
        return {case.id: case.version for case in self.get_cases(case_ids)}

    def _change_clocks_of(
        self, case_ids: Sequence[UUID], ctx: Context, change: _ClockChange
    ) -> dict[UUID, int]:
        if self.sla_policy is None:
            return {}
        changed: dict[UUID, int] = {}
        cases: list[Case] = []
        for case in self.get_cases(case_ids):
            recorded = change(case, self.sla_policy, ctx)
            if recorded:
                changed[case.id] = recorded
                cases.append(case)
        if not cases:
            return changed
        try:
            self.save(*cases)
        except IntegrityError:
            # One case moved on meanwhile: the batch was not saved; each case goes on its own.
            again = {case.id: self._change_clocks(case.id, ctx, change) for case in cases}
            return {case_id: recorded for case_id, recorded in again.items() if recorded}
        return changed

    def _change_clocks(self, case_id: UUID, ctx: Context, change: _ClockChange) -> int:
        if self.sla_policy is None:
            return 0
        for attempt in range(1, _ATTEMPTS + 1):
            case = self.get_case(case_id)
            recorded = change(case, self.sla_policy, ctx)
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

    def auto_close(self, case_id: UUID, ctx: Context) -> bool:
        """Closes the resolved case if its auto-close moment has come by `ctx.at`; True when
        this call closed it.

        Once only: a case already closed, reopened or not yet due is left as it is (the case list
        the auto-closer polls may be behind), and of two concurrent calls the loser finds the case
        closed when it tries again on the new version.
        """
        for attempt in range(1, _ATTEMPTS + 1):
            case = self.get_case(case_id)
            if case.status is not Status.RESOLVED or case.auto_close_at is None:
                return False
            if ctx.at < case.auto_close_at:
                return False
            case.auto_close(ctx)
            try:
                self._save(case)
            except ConcurrentUpdate:
                if attempt == _ATTEMPTS:
                    raise
                continue
            return True
        raise AssertionError("unreachable")  # pragma: no cover

    def _record(self, processing_event: ProcessingEvent[UUID]) -> list[Recording[UUID]]:
        try:
            return super()._record(processing_event)
        except SealingKeyDestroyed:
            # The requester was erased after this process looked their key up; nothing was
            # written, and the key is forgotten: sealed again, the events go under a new key.
            return super()._record(processing_event)

    def _keep_clocks(self, case: Case, ctx: Context) -> None:
        if self.sla_policy is not None:
            case.keep_clocks(self.sla_policy, ctx)

    # -- reading --------------------------------------------------------------------------------

    def get_case(self, case_id: UUID) -> Case:
        """The case as it is now: with casemgmt's recorder, its latest snapshot and the events
        after it in one query."""
        if self._loader is None:
            try:
                return cast("Case", self.repository.get(case_id))
            except AggregateNotFoundError:
                raise CaseNotFound(case_id) from None
        cases = self._load([case_id])
        if not cases:
            raise CaseNotFound(case_id)
        return cases[0]

    def get_cases(self, case_ids: Sequence[UUID]) -> list[Case]:
        """The cases as they are now, in the order asked (unknown ids left out): with casemgmt's
        recorder, one query for any number of cases instead of two per case."""
        if self._loader is None:
            return [case for case in map(self.find_case, case_ids) if case is not None]
        return self._load(case_ids)

    def _load(self, case_ids: Sequence[UUID]) -> list[Case]:
        assert self._loader is not None
        snapshots = None if self.snapshots is None else self.snapshots.recorder
        wanted = list(dict.fromkeys(case_ids))
        found = self._loader.select_aggregates(wanted, snapshots)
        cases: list[Case] = []
        for case_id in wanted:
            snapshot, records = found.get(case_id, (None, []))
            events = [self.mapper.to_domain_event(record) for record in records]
            if snapshot is None:
                self._recent.remember(case_id, cast("list[Case.Event]", events))
            else:
                events.insert(0, self.mapper.to_domain_event(snapshot))
            case = _replayed(events)
            if case is not None:
                cases.append(case)
        return cases

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

    def read_case(
        self,
        case_id: UUID,
        actor: Actor,
        *,
        version: int | None = None,
        as_of: datetime | None = None,
    ) -> tuple[Case, Actor]:
        """`case_at` for a reader, and the reader as the read is to be recorded: an intake
        account finds only the cases it opened, and `X-On-Behalf-Of` names the case's requester."""
        authorize(actor, "read")
        if version is None and as_of is None:
            # Loaded first, so that the visibility check finds the opener among the events just
            # read; an unknown case and one the reader may not see are refused alike.
            case = self.get_case(case_id)
            self._check_visible(actor, case_id)
        else:  # checked first: a past version's errors would tell that the case exists
            self._check_visible(actor, case_id)
            case = self.case_at(case_id, version=version, as_of=as_of)
        return case, check_on_behalf(actor, "read", case.requester)

    def read_history(self, case_id: UUID, actor: Actor) -> tuple[list[Case.Event], Actor]:
        """`history` for a reader allowed every event of a case (notes included), and the reader
        as the read is to be recorded."""
        authorize(actor, "read-history")
        events = self.history(case_id)
        received = cast("Case.Received", events[0])
        reader = check_on_behalf(actor, "read-history", Requester.from_dict(received.requester))
        return events, reader

    def opened_by(self, case_id: UUID) -> str:
        """The account that opened the case (the actor of its `Received`)."""
        first = self._recent.up_to(case_id, Case.INITIAL_VERSION)
        if first is None:
            stored = self.events.get(case_id, lte=Case.INITIAL_VERSION)
            first = [cast("Case.Event", event) for event in stored]
        if not first:
            raise CaseNotFound(case_id)
        return str(first[0].actor["id"])

    def messages_recorded_by(self, case_id: UUID, account: str, version: int) -> list[Message]:
        """The requester's words that `account` delivered, up to `version`: the inquiry it opened
        the case with and the messages it added (what an intake account sees of its case)."""
        recorded: list[Message] = []
        events = self._recent.up_to(case_id, version)
        for event in self.events.get(case_id, lte=version) if events is None else events:
            if cast("Case.Event", event).actor["id"] != account:
                continue
            if isinstance(event, Case.Received):
                text = f"{event.subject}\n\n{event.body}" if event.body else event.subject
                recorded.append(Message(Direction.IN, event.author, text, event.received_at))
            elif isinstance(event, Case.CitizenMessageReceived):
                recorded.append(Message(Direction.IN, event.author, event.message, event.timestamp))
        return recorded

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

    def _check_taxonomy(self, *, category: Category | None, unit: str | None) -> None:
        """Refuses (422) a kind or unit the taxonomy does not list, naming those it does."""
        if self.taxonomy is not None:
            self.taxonomy.check_category("category", category)
            self.taxonomy.check_unit("unit", unit)

    def _give_back_reference(self, reference: str) -> None:
        if self.references is not None:
            self.references.give_back(reference)

    def _check_holder(self, agent: str) -> None:
        if self.accounts is not None:
            check_holder(agent, self.accounts.standing(agent))

    def _check_visible(self, actor: Actor, case_id: UUID, case: Case | None = None) -> None:
        if narrowed(actor):
            check_visible(actor, case_id, self._opener(case_id, case))

    def _opener(self, case_id: UUID, case: Case | None) -> str:
        """`opened_by`, read from the case in hand when its `Received` is not saved yet."""
        pending = [] if case is None else case.pending_events
        if pending and pending[0].originator_version == Case.INITIAL_VERSION:
            return str(cast("Case.Event", pending[0]).actor["id"])
        return self.opened_by(case_id)

    def _save(self, case: Case, *others: Case) -> Case:
        """Saves the cases' new events in one transaction; a lost race is a ConcurrentUpdate."""
        saved = cast("list[Case.Event]", list(case.pending_events))
        try:
            self.save(case, *others)
        except IntegrityError:
            raise ConcurrentUpdate(case.id, self.find_case(case.id)) from None
        self._recent.extend(case.id, saved)
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


def _replayed(events: Iterable[Any]) -> Case | None:
    """The case its events (a snapshot first, perhaps) make: eventsourcing's `project_aggregate`
    without its check of each event against a runtime protocol, a tenth of a command's time."""
    case = None
    for event in events:
        case = event.mutate(case)
    return cast("Case | None", case)


def _record_alarms(case: Case, policy: SlaPolicy, ctx: Context) -> int:
    return case.record_sla_alarms(policy, ctx)


def _keep_clocks(case: Case, policy: SlaPolicy, ctx: Context) -> int:
    before = len(case.pending_events)
    case.keep_clocks(policy, ctx)
    return len(case.pending_events) - before
