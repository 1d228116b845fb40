"""The Case aggregate: one inquiry from receipt to closure, and the events that record its life.

Every command checks the lifecycle table (`casemgmt.domain.lifecycle`) and its values, then records
one event. An event's timestamp is the command's moment (`ctx.at`); it says who (`actor`), how
(`cause`) and in which request (`correlation_id`), and carries the case's `status` after it, so a
projection never needs to re-derive the lifecycle. Event payloads hold JSON-native values, datetimes
and UUIDs only; the aggregate's state holds the value objects made from them.

Longer than most modules on purpose: the events are nested classes of `Case`, and every stored
event names its class by this module's path (`casemgmt.domain.case:Case.Replied`), so they stay
here together; moving them would need a topic registered for each (see
`tests/unit/test_stored_events_load.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields, is_dataclass, replace
from datetime import datetime, timedelta
from enum import Enum
from typing import TYPE_CHECKING, Any, ClassVar, Final, Self
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate
from eventsourcing.domain import Snapshot as AggregateSnapshot

from casemgmt.domain.clock_keeping import ClockStep, ClockSubject, calendar_named, clock_steps
from casemgmt.domain.conversation import Direction, Feedback, Message, Note
from casemgmt.domain.lifecycle import (
    TRANSITIONS,
    WAITING_FOR_AGENT,
    Action,
    ActionNotAllowed,
    Status,
    allowed_actions,
    next_status,
)
from casemgmt.domain.requests import ERASED, Category, Channel, Priority, Requester
from casemgmt.domain.sla import (
    Alarm,
    ClockChange,
    ClockName,
    SlaClock,
    clock_as_dict,
    clock_from_dict,
)
from casemgmt.domain.validation import (
    InvalidCommand,
    optional_text,
    require_aware,
    require_member,
    require_text,
)

if TYPE_CHECKING:
    from eventsourcing.domain import MutableOrImmutableAggregate

    from casemgmt.domain.actors import Context
    from casemgmt.domain.sla_policy import SlaPolicy

# Intake stamps (a letter's arrival, a call logged later) may be earlier than the command, but a
# clock that runs a little fast must not make an honest intake fail.
CLOCK_SKEW_ALLOWANCE: Final = timedelta(minutes=5)
# A letter logged ten years after it arrived is a typing mistake (year 1, 2062 for 2026), not mail.
OLDEST_INTAKE: Final = timedelta(days=3653)

# Fixed for ever: changing it would give every known (channel, external_ref) a new case id.
INTAKE_NAMESPACE: Final = UUID("6935351d-c6b0-49d9-8354-fd4a9933f6be")


class Case(Aggregate):
    """One inquiry from a citizen, employer or organisation, from receipt to closure."""

    class Event(Aggregate.Event):
        actor: dict[str, Any]
        cause: str
        correlation_id: str
        status: str
        # Where the requester's personal data sits in the event's state: sealed with their own
        # key when stored, read as erased once it is destroyed (persistence/shredding.py).
        personal: ClassVar[tuple[str, ...]] = ()

        def apply(self, aggregate: Case) -> None:
            aggregate.status = Status(self.status)
            self.change(aggregate)

        def change(self, case: Case) -> None:
            """Evolves the case's attributes other than its status."""

        @property
        def author(self) -> str:
            return str(self.actor.get("on_behalf_of") or self.actor["id"])

    class Received(Event, Aggregate.Created):
        personal = ("requester.id", "requester.name", "requester.contact", "subject", "body")
        reference: str
        channel: str
        external_ref: str | None
        subject: str
        body: str | None
        requester: dict[str, Any]
        category: dict[str, Any]
        priority: str
        unit: str | None
        received_at: datetime

    class Triaged(Event):
        category: dict[str, Any]
        priority: str
        unit: str | None

        def change(self, case: Case) -> None:
            case.category = Category.from_dict(self.category)
            case.priority = Priority(self.priority)
            case.unit = self.unit

    class Assigned(Event):
        agent: str
        previous_agent: str | None

        def change(self, case: Case) -> None:
            case.assignee = self.agent

    class Unassigned(Event):
        agent: str

        def change(self, case: Case) -> None:
            case.assignee = None

    class Replied(Event):
        personal = ("message",)
        message: str

        def change(self, case: Case) -> None:
            case.messages.append(Message(Direction.OUT, self.author, self.message, self.timestamp))
            if case.first_replied_at is None:
                case.first_replied_at = self.timestamp
            case.first_response_at = case.first_response_at or self.timestamp

    class NoteAdded(Event):
        text: str

        def change(self, case: Case) -> None:
            case.notes.append(Note(self.author, self.text, self.timestamp))

    class InformationRequested(Event):
        personal = ("message",)
        message: str

        def change(self, case: Case) -> None:
            case.messages.append(Message(Direction.OUT, self.author, self.message, self.timestamp))
            case.first_response_at = case.first_response_at or self.timestamp

    class CitizenMessageReceived(Event):
        personal = ("message",)
        message: str

        def change(self, case: Case) -> None:
            case.messages.append(Message(Direction.IN, self.author, self.message, self.timestamp))

    class Escalated(Event):
        reason: str
        level: int

        def change(self, case: Case) -> None:
            case.escalation_level = self.level

    class Transferred(Event):
        unit: str
        from_unit: str | None
        reason: str
        previous_agent: str | None

        def change(self, case: Case) -> None:
            case.unit = self.unit
            case.assignee = None

    class Resolved(Event):
        resolution: str
        summary: str | None

        def change(self, case: Case) -> None:
            case.resolution = self.resolution
            case.resolution_summary = self.summary
            case.resolved_at = self.timestamp

    class SurveyRequested(Event):
        """The resolution asks the requester to rate it: the channel's integration sends the
        survey through `channel`; the case closes by itself at `auto_close_at` (None: it does
        not) unless it is reopened first."""

        channel: str
        auto_close_at: datetime | None

        def change(self, case: Case) -> None:
            case.survey_requested_at = self.timestamp
            case.auto_close_at = self.auto_close_at

    class Reopened(Event):
        reason: str
        from_status: str

        def change(self, case: Case) -> None:
            case.resolution = case.resolution_summary = None
            case.resolved_at = case.closed_at = None
            case.survey_requested_at = case.auto_close_at = None

    class Closed(Event):
        def change(self, case: Case) -> None:
            case.closed_at = self.timestamp
            case.auto_close_at = None

    class MergedInto(Event):
        into: UUID

        def change(self, case: Case) -> None:
            case.merged_into = self.into

    class MergeRecorded(Event):
        merged_case: UUID

        def change(self, case: Case) -> None:
            case.merged_from.append(self.merged_case)

    class FeedbackRecorded(Event):
        personal = ("comment",)
        score: int
        comment: str | None

        def change(self, case: Case) -> None:
            case.feedback = Feedback(self.score, self.comment, self.timestamp)

    class LinkedToSession(Event):
        """The question was raised at an active-care session (a conference or a Q&A session,
        `casemgmt.domain.sessions`); recorded right after `Received` by the session's intake."""

        session_id: UUID

        def change(self, case: Case) -> None:
            case.session_id = self.session_id

    class RequesterErased(Event):
        """The requester's personal data was erased: their key destroyed (the data reads as
        erased in every event before this one) and the conversation blanked on the case."""

        reason: str

        def change(self, case: Case) -> None:
            case.requester = case.requester.erased()
            case.subject = ERASED
            case.body = None if case.body is None else ERASED
            case.messages = [replace(message, text=ERASED) for message in case.messages]
            feedback = case.feedback
            if feedback is not None and feedback.comment is not None:
                case.feedback = replace(feedback, comment=ERASED)
            case.erased_at = self.timestamp

    # -- SLA clocks: each event carries the clock as it is after it (`sla.clock_as_dict`) -----

    class SlaClockStarted(Event):
        clock: str
        state: dict[str, Any]

        def change(self, case: Case) -> None:
            _set_clock(case, self.state)

    class SlaClockPaused(Event):
        clock: str
        state: dict[str, Any]

        def change(self, case: Case) -> None:
            _set_clock(case, self.state)

    class SlaClockResumed(Event):
        clock: str
        state: dict[str, Any]

        def change(self, case: Case) -> None:
            _set_clock(case, self.state)

    class SlaClockStopped(Event):
        clock: str
        state: dict[str, Any]

        def change(self, case: Case) -> None:
            _set_clock(case, self.state)

    class SlaDeadlineRecomputed(Event):
        clock: str
        state: dict[str, Any]
        reason: str

        def change(self, case: Case) -> None:
            _set_clock(case, self.state)

    class SlaWarning(Event):
        clock: str
        state: dict[str, Any]
        threshold: datetime  # the instant the warning share of the target was reached
        deadline: datetime
        policy_version: str
        over_seconds: int  # working time past the threshold when recorded

        def change(self, case: Case) -> None:
            _set_clock(case, self.state)

    class SlaBreached(Event):
        clock: str
        state: dict[str, Any]
        deadline: datetime
        policy_version: str
        over_seconds: int  # working time past the deadline when recorded

        def change(self, case: Case) -> None:
            _set_clock(case, self.state)

    class Snapshot(AggregateSnapshot):
        """A snapshot whose state is JSON-native, so the default transcoder stores it as it is."""

        personal: ClassVar[tuple[str, ...]] = (
            "state.requester.id",
            "state.requester.name",
            "state.requester.contact",
            "state.subject",
            "state.body",
            "state.messages.*.text",
            "state.feedback.comment",
        )

        @classmethod
        def take(cls, aggregate: MutableOrImmutableAggregate[UUID]) -> Self:
            snapshot = super().take(aggregate)
            assert isinstance(aggregate, Case)
            # The moment of the state it holds rather than of the clock when it was taken.
            state = _json_native(snapshot.state)
            return replace(snapshot, timestamp=aggregate.modified_on, state=state)

        def mutate(self, _: None) -> Case:
            case = super().mutate(None)
            assert isinstance(case, Case)
            # Attributes added after snapshots were first taken (clocks since the SLA release).
            case.__dict__.setdefault("clocks", {})
            case.__dict__.setdefault("erased_at", None)  # since requester erasure
            case.__dict__.setdefault("session_id", None)  # since active-care sessions
            case.__dict__.setdefault("survey_requested_at", None)  # since satisfaction surveys
            case.__dict__.setdefault("auto_close_at", None)
            for name, restore in _VALUE_OBJECTS.items():
                setattr(case, name, restore(getattr(case, name)))
            if "first_response_at" not in case.__dict__:  # the first message out, as events say
                out = [m.at for m in case.messages if m.direction is Direction.OUT]
                case.first_response_at = min(out, default=None)
            return case

    def __init__(
        self,
        *,
        reference: str,
        channel: str,
        external_ref: str | None,
        subject: str,
        body: str | None,
        requester: dict[str, Any],
        category: dict[str, Any],
        priority: str,
        unit: str | None,
        received_at: datetime,
    ) -> None:
        """Called with the attributes of the `Received` event, never directly: use `receive`."""
        self.reference = reference
        self.status = Status.RECEIVED
        self.channel = Channel(channel)
        self.external_ref = external_ref
        self.subject = subject
        self.body = body
        self.requester = Requester.from_dict(requester)
        self.category = Category.from_dict(category)
        self.priority = Priority(priority)
        self.unit = unit
        self.assignee: str | None = None
        self.escalation_level = 0
        self.received_at = received_at
        self.first_replied_at: datetime | None = None
        self.first_response_at: datetime | None = None  # first message out: reply or request-info
        self.clocks: dict[ClockName, SlaClock] = {}
        self.resolved_at: datetime | None = None
        self.closed_at: datetime | None = None
        self.merged_into: UUID | None = None
        self.merged_from: list[UUID] = []
        self.messages: list[Message] = []
        self.notes: list[Note] = []
        self.resolution: str | None = None
        self.resolution_summary: str | None = None
        self.feedback: Feedback | None = None
        self.erased_at: datetime | None = None  # when the requester's data was erased
        self.session_id: UUID | None = None  # the active-care session the question came from
        self.survey_requested_at: datetime | None = None  # of the latest resolution
        self.auto_close_at: datetime | None = None  # when the resolved case closes by itself

    @property
    def last_activity_at(self) -> datetime:
        """When the latest event was recorded on the case."""
        return self.modified_on

    @property
    def waits_for_agent(self) -> bool:
        """Whether the case waits in a work queue for an agent to take it."""
        return self.assignee is None and self.status in WAITING_FOR_AGENT

    def allowed_actions(self) -> list[Action]:
        """What may be done now: the lifecycle table, less what the attributes rule out."""
        allowed = allowed_actions(self.status)
        if self.assignee is None and Action.UNASSIGN in allowed:
            allowed.remove(Action.UNASSIGN)
        return allowed

    # -- intake -------------------------------------------------------------------------------

    @staticmethod
    def id_for(channel: Channel, external_ref: str) -> UUID:
        """The one case id for a message a channel identifies as `external_ref` (rule 5)."""
        channel = require_member(Channel, "channel", channel)
        return uuid5(INTAKE_NAMESPACE, f"{channel.value}\n{external_ref}")

    @classmethod
    def receive(
        cls,
        *,
        id: UUID,
        reference: str,
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
        oldest_intake: timedelta = OLDEST_INTAKE,
    ) -> Case:
        """Opens a case from a channel; its clocks start at `received_at` (default: `ctx.at`),
        which may be at most `oldest_intake` before the command."""
        channel = require_member(Channel, "channel", channel)
        external_ref = optional_text("external_ref", external_ref)
        cls.check_id_for_intake(id, channel, external_ref)
        return cls._create(
            cls.Received,
            id=id,
            **_about(ctx, Status.RECEIVED),
            reference=require_text("reference", reference),
            channel=channel.value,
            external_ref=external_ref,
            subject=require_text("subject", subject),
            body=body if body and body.strip() else None,
            requester=requester.as_dict(),
            category=(category or Category()).as_dict(),
            priority=require_member(Priority, "priority", priority).value,
            unit=optional_text("unit", unit),
            received_at=cls.check_received_at(received_at or ctx.at, ctx, oldest_intake),
        )

    @staticmethod
    def check_id_for_intake(id: UUID, channel: Channel, external_ref: str | None) -> None:
        if external_ref is not None and id != Case.id_for(channel, external_ref):
            msg = f"case id {id} is not Case.id_for({channel.value!r}, {external_ref!r})"
            raise ValueError(msg)

    @staticmethod
    def check_received_at(
        received_at: datetime, ctx: Context, oldest_intake: timedelta = OLDEST_INTAKE
    ) -> datetime:
        require_aware("received_at", received_at)
        if received_at > ctx.at + CLOCK_SKEW_ALLOWANCE:
            raise InvalidCommand("received_at", "must not be in the future")
        if received_at < ctx.at - oldest_intake:
            oldest = (ctx.at - oldest_intake).date().isoformat()
            raise InvalidCommand("received_at", f"is implausibly old: must be after {oldest}")
        return received_at

    def same_inquiry(self, subject: str, body: str | None, requester: Requester) -> list[str]:
        """The fields in which a repeated intake differs from this case's (empty: the same)."""
        given = {"subject": subject, "body": body if body and body.strip() else None}
        differ = [name for name, value in given.items() if getattr(self, name) != value]
        return [*differ, *(["requester"] if requester != self.requester else [])]

    # -- work on the case -----------------------------------------------------------------------

    def triage(
        self, category: Category, priority: Priority, unit: str | None, ctx: Context
    ) -> None:
        """Categorises and prioritises a new case and routes it to a unit (None: keep its unit)."""
        status = self._transition(Action.TRIAGE)
        self._record(
            self.Triaged,
            ctx,
            status,
            category=category.as_dict(),
            priority=require_member(Priority, "priority", priority).value,
            unit=self.unit if unit is None else require_text("unit", unit),
        )

    def assign(self, agent: str, ctx: Context) -> None:
        """Gives the case to an agent, taking it from whoever had it."""
        status = self._transition(Action.ASSIGN)
        self.check_not_assigned_to(require_text("agent", agent))
        self._record(self.Assigned, ctx, status, agent=agent, previous_agent=self.assignee)

    def unassign(self, ctx: Context) -> None:
        """Takes the case from its agent; work in progress goes back to triaged."""
        status = self._transition(Action.UNASSIGN)
        assignee = self.check_someone_assigned()
        self._record(self.Unassigned, ctx, status, agent=assignee)

    def reply(self, message: str, ctx: Context) -> None:
        """Answers the requester; the first reply meets the first-response clock."""
        status = self._transition(Action.REPLY)
        self._record(self.Replied, ctx, status, message=require_text("message", message))

    def note(self, text: str, ctx: Context) -> None:
        """Adds an internal note."""
        status = self._transition(Action.NOTE)
        self._record(self.NoteAdded, ctx, status, text=require_text("text", text))

    def request_info(self, message: str, ctx: Context) -> None:
        """Asks the requester for what is missing; the case then awaits the citizen."""
        status = self._transition(Action.REQUEST_INFO)
        message = require_text("message", message)
        self._record(self.InformationRequested, ctx, status, message=message)

    def citizen_message(self, message: str, ctx: Context) -> None:
        """Records a message from the requester; an awaited one puts the case back in progress."""
        status = self._transition(Action.CITIZEN_MESSAGE)
        self._record(
            self.CitizenMessageReceived, ctx, status, message=require_text("message", message)
        )

    def escalate(self, reason: str, ctx: Context) -> None:
        """Raises the escalation level by one."""
        status = self._transition(Action.ESCALATE)
        reason = require_text("reason", reason)
        self._record(self.Escalated, ctx, status, reason=reason, level=self.escalation_level + 1)

    def transfer(self, unit: str, reason: str, ctx: Context) -> None:
        """Hands the case to another unit; its agent there is yet to be chosen."""
        status = self._transition(Action.TRANSFER)
        self.check_other_unit(require_text("unit", unit))
        self._record(
            self.Transferred,
            ctx,
            status,
            unit=unit,
            from_unit=self.unit,
            reason=require_text("reason", reason),
            previous_agent=self.assignee,
        )

    def resolve(self, resolution: str, summary: str | None, ctx: Context) -> None:
        """Records how the inquiry was answered; the resolution clock stops."""
        status = self._transition(Action.RESOLVE)
        self._record(
            self.Resolved,
            ctx,
            status,
            resolution=require_text("resolution", resolution),
            summary=optional_text("summary", summary),
        )

    def reopen(self, reason: str, ctx: Context, reopen_window: timedelta) -> None:
        """Takes a resolved case, or one closed less than `reopen_window` ago, back in progress."""
        status = self._transition(Action.REOPEN)
        self.check_within_reopen_window(ctx.at, reopen_window)
        reason = require_text("reason", reason)
        self._record(self.Reopened, ctx, status, reason=reason, from_status=self.status.value)

    def close(self, ctx: Context) -> None:
        """Closes a resolved case."""
        self._record(self.Closed, ctx, self._transition(Action.CLOSE))

    def auto_close(self, ctx: Context) -> None:
        """Closes a resolved case whose auto-close moment has come (a rule's doing, not a
        person's: `ctx` names the system actor and the rule)."""
        status = self._transition(Action.CLOSE)
        self.check_auto_close_due(ctx.at)
        self._record(self.Closed, ctx, status)

    def merge(self, into: UUID, ctx: Context) -> None:
        """Ends this case as a duplicate of `into` (whose `record_merge` is saved with it)."""
        status = self._transition(Action.MERGE)
        self.check_not_itself(into)
        self._record(self.MergedInto, ctx, status, into=into)

    def record_merge(self, merged_case: UUID, ctx: Context) -> None:
        """Records on the surviving case that `merged_case` was merged into it."""
        self.check_can_survive_merge(merged_case)
        self._record(self.MergeRecorded, ctx, self.status, merged_case=merged_case)

    def record_feedback(self, score: int, comment: str | None, ctx: Context) -> None:
        """Records the requester's rating; a later one replaces an earlier one."""
        status = self._transition(Action.FEEDBACK)
        self.check_score(score)
        comment = optional_text("comment", comment)
        self._record(self.FeedbackRecorded, ctx, status, score=score, comment=comment)

    def link_to_session(self, session_id: UUID, ctx: Context) -> None:
        """Records the active-care session the question was raised at (the status kept)."""
        self.check_not_linked_elsewhere(session_id)
        if self.session_id != session_id:
            self._record(self.LinkedToSession, ctx, self.status, session_id=session_id)

    def erase_requester(self, reason: str, ctx: Context) -> None:
        """Records that the requester's personal data was erased (in any state, the status kept)."""
        if self.erased_at is not None:
            raise InvalidCommand("requester", f"case {self.reference}'s requester is erased")
        reason = require_text("reason", reason)
        self._record(self.RequesterErased, ctx, self.status, reason=reason)

    # -- SLA clocks ------------------------------------------------------------------------------

    def keep_clocks(self, policy: SlaPolicy, ctx: Context) -> None:
        """Starts, stops, pauses, resumes or recomputes the SLA clocks as the case now stands.

        Called after every command: the clocks follow the case's status, its first message out,
        and the terms the policy gives its channel, category, priority and unit now.
        """
        for step in clock_steps(self._clock_subject(), self.clocks, policy, ctx.at):
            self._record(_CLOCK_EVENTS[step.change], ctx, self.status, **_clock_data(step))
        self._request_survey(policy, ctx)

    def _request_survey(self, policy: SlaPolicy, ctx: Context) -> None:
        """After the command that resolved the case: asks for the requester's rating, through
        the channel the case came by, and sets when the case closes by itself. (Only then:
        cases resolved before surveys existed are not surveyed by a later note.)"""
        resolved_now = any(isinstance(event, Case.Resolved) for event in self.pending_events)
        if not resolved_now or self.status is not Status.RESOLVED:
            return
        if self.survey_requested_at is not None or self.resolved_at is None:
            return
        self._record(
            self.SurveyRequested,
            ctx,
            self.status,
            channel=self.channel.value,
            auto_close_at=policy.auto_close_at(self.resolved_at, self.unit),
        )

    def record_sla_alarms(self, policy: SlaPolicy, ctx: Context) -> int:
        """Records the warnings and breaches due by `ctx.at` (each once); returns how many."""
        recorded = 0
        for name, at_start in list(self.clocks.items()):
            calendar = calendar_named(policy, at_start.terms.calendar)
            for alarm in at_start.alarms_due_at(ctx.at):
                clock = self.clocks[name]  # as the previous alarm left it
                if alarm is Alarm.WARNING:
                    over = calendar.working_time_between(clock.warning_due, ctx.at)
                    self._record(
                        self.SlaWarning,
                        ctx,
                        self.status,
                        clock=name.value,
                        state=clock_as_dict(replace(clock, warned=True)),
                        threshold=clock.warning_due,
                        deadline=clock.due,
                        policy_version=clock.terms.policy_version,
                        over_seconds=int(over.total_seconds()),
                    )
                else:
                    over = calendar.working_time_between(clock.due, ctx.at)
                    self._record(
                        self.SlaBreached,
                        ctx,
                        self.status,
                        clock=name.value,
                        state=clock_as_dict(replace(clock, breached=True)),
                        deadline=clock.due,
                        policy_version=clock.terms.policy_version,
                        over_seconds=int(over.total_seconds()),
                    )
                recorded += 1
        return recorded

    @classmethod
    def clock_events(
        cls, case_id: UUID, version: int, status: Status, steps: list[ClockStep], ctx: Context
    ) -> list[Case.Event]:
        """The events `keep_clocks` would record for `steps` on the case at `version`, made
        without loading it (`sla apply` works them out from the case list). Saved, they are
        refused if the case is no longer at `version`."""
        return [
            _CLOCK_EVENTS[step.change](
                originator_id=case_id,
                originator_version=version + number,
                **_about(ctx, status),
                **_clock_data(step),
            )
            for number, step in enumerate(steps, 1)
        ]

    def _clock_subject(self) -> ClockSubject:
        line = self.category.line
        return ClockSubject(
            status=self.status,
            channel=self.channel.value,
            line=None if line is None else line.value,
            kind=self.category.kind,
            priority=self.priority.value,
            unit=self.unit,
            received_at=self.received_at,
            first_response_at=self.first_response_at,
        )

    # -- invariants -----------------------------------------------------------------------------

    def check_not_assigned_to(self, agent: str) -> None:
        if agent == self.assignee:
            raise InvalidCommand("agent", f"case {self.reference} is already assigned to {agent}")

    def check_not_linked_elsewhere(self, session_id: UUID) -> None:
        if self.session_id is not None and self.session_id != session_id:
            message = f"case {self.reference} was raised at session {self.session_id}"
            raise InvalidCommand("session_id", message)

    def check_someone_assigned(self) -> str:
        if self.assignee is None:
            raise self._refusal(Action.UNASSIGN, "has nobody assigned")
        return self.assignee

    def check_other_unit(self, unit: str) -> None:
        if unit == self.unit:
            raise InvalidCommand("unit", f"case {self.reference} is already with unit {unit}")

    def check_within_reopen_window(self, at: datetime, window: timedelta) -> None:
        if self.closed_at is not None and self.closed_at + window < at:
            reason = (
                f"was closed at {self.closed_at.isoformat()}, "
                f"longer ago than the reopen window of {_describe(window)}"
            )
            raise self._refusal(Action.REOPEN, reason)

    def check_auto_close_due(self, at: datetime) -> None:
        if self.auto_close_at is None:
            raise self._refusal(Action.CLOSE, "does not close by itself")
        if at < self.auto_close_at:
            when = self.auto_close_at.isoformat()
            raise self._refusal(Action.CLOSE, f"closes by itself at {when}, not before")

    def check_not_itself(self, into: UUID) -> None:
        if into == self.id:
            raise InvalidCommand("into", "a case cannot be merged into itself")

    def check_can_survive_merge(self, merged_case: UUID) -> None:
        if merged_case == self.id:
            raise InvalidCommand("into", "a case cannot be merged into itself")
        if self.status is Status.MERGED:
            message = f"case {self.reference} is itself merged into case {self.merged_into}"
            raise InvalidCommand("into", message)

    @staticmethod
    def check_score(score: int) -> None:
        if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
            raise InvalidCommand("score", "must be a whole number from 1 to 5")

    # -- recording ------------------------------------------------------------------------------

    def _transition(self, action: Action) -> Status:
        """The status `action` leads to; refused when the lifecycle table does not allow it."""
        if (self.status, action) not in TRANSITIONS:
            raise ActionNotAllowed(action, self.reference, self.status, self.allowed_actions())
        return next_status(self.status, action)

    def _refusal(self, action: Action, reason: str) -> ActionNotAllowed:
        allowed = [a for a in self.allowed_actions() if a is not action]
        return ActionNotAllowed(action, self.reference, self.status, allowed, reason)

    def _record(
        self, event_class: type[Case.Event], ctx: Context, status: Status, **data: Any
    ) -> None:
        self.trigger_event(event_class, **_about(ctx, status), **data)


def _about(ctx: Context, status: Status) -> dict[str, Any]:
    """What every event says besides its own data: when, who, how, in which request, and after."""
    return {
        "timestamp": ctx.at,
        "actor": ctx.actor.as_dict(),
        "cause": ctx.cause,
        "correlation_id": ctx.correlation_id,
        "status": status.value,
    }


def _clock_data(step: ClockStep) -> dict[str, Any]:
    """What an SLA event of a clock change says besides `_about`."""
    return {"clock": step.name.value, "state": clock_as_dict(step.clock), **step.extra}


def _describe(window: timedelta) -> str:
    if window % timedelta(days=1):
        return str(window)
    return f"{window.days} days"


def _json_native(value: Any) -> Any:
    """Value objects as dicts and enums as their values, recursively; datetimes and UUIDs stay."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, SlaClock):
        return clock_as_dict(value)
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _json_native(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, list):
        return [_json_native(item) for item in value]
    if isinstance(value, dict):
        return {key: _json_native(item) for key, item in value.items()}
    return value


# How a snapshot's JSON-native state becomes the case's value objects again.
_VALUE_OBJECTS: Final[dict[str, Callable[[Any], Any]]] = {
    "status": Status,
    "channel": Channel,
    "priority": Priority,
    "requester": Requester.from_dict,
    "category": Category.from_dict,
    "messages": lambda items: [Message.from_dict(item) for item in items],
    "notes": lambda items: [Note.from_dict(item) for item in items],
    "feedback": Feedback.from_dict,
    "clocks": lambda clocks: {ClockName(k): clock_from_dict(v) for k, v in clocks.items()},
}


def _set_clock(case: Case, state: dict[str, Any]) -> None:
    clock = clock_from_dict(state)
    case.clocks[clock.name] = clock


_CLOCK_EVENTS: Final[dict[ClockChange, type[Case.Event]]] = {
    ClockChange.STARTED: Case.SlaClockStarted,
    ClockChange.RESUMED: Case.SlaClockResumed,
    ClockChange.STOPPED: Case.SlaClockStopped,
    ClockChange.RECOMPUTED: Case.SlaDeadlineRecomputed,
    ClockChange.PAUSED: Case.SlaClockPaused,
}
