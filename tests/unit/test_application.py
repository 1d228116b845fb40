"""CareCentre's scenarios: intake, work, who may act, history, snapshots and conflicts.

The scenarios are the methods of `CareCentreScenarios`, and the store they run on is chosen by the
class's `env`, as in eventsourcing's own examples: here `TestCareCentreInMemory` runs them on
eventsourcing's in-memory store, and tests/integration/test_application_on_postgres.py runs the
same scenarios on casemgmt's PostgreSQL store.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from itertools import count
from typing import TYPE_CHECKING, ClassVar
from uuid import UUID

import pytest

from casemgmt.application import (
    CareCentre,
    CaseNotFound,
    ConcurrentUpdate,
    Forbidden,
    IntakeConflict,
    StaleVersion,
)
from casemgmt.domain import (
    Action,
    ActionNotAllowed,
    Actor,
    Case,
    Category,
    Channel,
    Context,
    Feedback,
    InquiryKind,
    InsuranceLine,
    InvalidCommand,
    Message,
    Priority,
    Requester,
    RequesterKind,
    Role,
    Status,
)
from tests.support.fakes import CountingReferences

if TYPE_CHECKING:
    from collections.abc import Iterator

IN_MEMORY = {"PERSISTENCE_MODULE": "eventsourcing.popo"}
HANOI = timezone(timedelta(hours=7))
T0 = datetime(2026, 11, 24, 8, 15, tzinfo=HANOI)
INTAKE = Actor("mail-gateway", Role.INTAKE)
# Drives the cases in the scenarios that are not about who may act.
SUPERVISOR = Actor("mai.tran", Role.SUPERVISOR)
AGENT = Actor("agent-1", Role.AGENT)
OTHER_AGENT = Actor("agent-2", Role.AGENT)
RULES = Actor("rules", Role.SYSTEM)
CITIZEN = Requester(RequesterKind.CITIZEN, "0123456789", "Nguyễn Văn A", "a@example.vn")


def at(minutes: float, actor: Actor = SUPERVISOR) -> Context:
    return Context(actor, T0 + timedelta(minutes=minutes), f"req-{minutes}", "api")


def sequential_ids() -> Iterator[UUID]:
    return (UUID(int=n) for n in count(1))


def open_email(app: CareCentre, external_ref: str | None = "<msg-1@mail>") -> tuple[Case, bool]:
    return app.open_case(
        channel=Channel.EMAIL,
        external_ref=external_ref,
        subject="Chưa nhận được sổ BHXH",
        body="Tôi chưa nhận được sổ.",
        requester=CITIZEN,
        category=Category(InsuranceLine.SOCIAL, InquiryKind.PROCEDURE),
        unit="hanoi",
        received_at=T0 - timedelta(hours=2),
        ctx=Context(INTAKE, T0, "req-intake", "channel:email"),
    )


def replay(app: CareCentre, case_id: UUID) -> Case:
    """The case rebuilt from its events alone, ignoring snapshots."""
    case: Case | None = None
    for event in app.history(case_id):
        case = event.mutate(case)
    assert case is not None
    return case


class DeliveredTwiceAtOnce(CareCentre):
    """Both deliveries look before either saves, as two API processes can."""

    name = CareCentre.name  # eventsourcing would name a subclass's tables after the subclass

    def find_case(self, case_id: UUID) -> Case | None:
        return None


class LosesTheRace(CareCentre):
    """Loads the case as it was before another command saved its change."""

    name = CareCentre.name
    lag_to: int | None = None

    def get_case(self, case_id: UUID) -> Case:
        if self.lag_to is None:
            return super().get_case(case_id)
        return self.case_at(case_id, version=self.lag_to)


class CareCentreScenarios:
    """Every scenario of the application, on the store that `env` chooses.

    A subclass per store sets `env`; one whose store needs something that exists only once a test
    runs (a database) overrides the `app_env` fixture to add it.
    """

    env: ClassVar[dict[str, str]]

    @pytest.fixture
    def app_env(self) -> Iterator[dict[str, str]]:
        """The environment every CareCentre of the test is built from."""
        yield dict(self.env)

    @pytest.fixture
    def app(self, app_env: dict[str, str]) -> Iterator[CareCentre]:
        ids = sequential_ids()
        with CareCentre(app_env, references=CountingReferences(), new_id=lambda: next(ids)) as app:
            yield app

    # -- intake ---------------------------------------------------------------------------------

    def test_the_application_is_named_for_its_tables(self) -> None:
        assert CareCentre.name == "CareCentre"

    def test_the_same_message_twice_opens_one_case(self, app: CareCentre) -> None:
        first, created = open_email(app)
        again, created_again = open_email(app)
        assert (created, created_again) == (True, False)
        assert again.id == first.id == Case.id_for(Channel.EMAIL, "<msg-1@mail>")
        assert again.reference == first.reference == "CC-2026-000001"
        assert len(app.history(first.id)) == 1

    def test_a_repeated_external_ref_with_other_content_is_refused_naming_what_differs(
        self, app: CareCentre
    ) -> None:
        first, _ = open_email(app)
        other_citizen = Requester(RequesterKind.CITIZEN, "9876543210", "Trần Văn E", None)
        with pytest.raises(IntakeConflict) as refused:
            app.open_case(
                channel=Channel.EMAIL,
                external_ref="<msg-1@mail>",
                subject="Hỏi về thẻ BHYT",
                body="Tôi chưa nhận được sổ.",
                requester=other_citizen,
                ctx=Context(INTAKE, T0, "req-intake-2", "channel:email"),
            )
        assert refused.value.fields == ["subject", "requester"]
        assert first.reference in str(refused.value)
        assert "Trần Văn E" not in str(refused.value) and "Nguyễn" not in str(refused.value)
        assert len(app.history(first.id)) == 1  # nothing saved

    def test_an_implausibly_old_receipt_is_refused(self, app: CareCentre) -> None:
        with pytest.raises(InvalidCommand, match="implausibly old") as refused:
            app.open_case(
                channel=Channel.POST,
                subject="Đơn khiếu nại",
                requester=CITIZEN,
                received_at=datetime(1, 1, 1, tzinfo=UTC),
                ctx=Context(INTAKE, T0, "req-intake", "channel:post"),
            )
        assert refused.value.field == "received_at"

    def test_new_cases_get_the_next_reference_number(self, app: CareCentre) -> None:
        open_email(app, "<msg-1@mail>")
        open_email(app, "<msg-1@mail>")
        second, _ = open_email(app, "<msg-2@mail>")
        assert second.reference == "CC-2026-000002"

    def test_a_case_without_external_ref_gets_a_new_id_each_time(self, app: CareCentre) -> None:
        first, created = open_email(app, external_ref=None)
        second, created_again = open_email(app, external_ref=None)
        assert (first.id, second.id) == (UUID(int=1), UUID(int=2))
        assert created and created_again

    def test_a_message_delivered_twice_at_once_still_opens_one_case(
        self, app_env: dict[str, str]
    ) -> None:
        with DeliveredTwiceAtOnce(app_env, references=CountingReferences()) as app:
            first, created = open_email(app)
            again, created_again = open_email(app)
            assert (created, created_again) == (True, False)
            assert again.reference == first.reference
            assert len(app.history(first.id)) == 1

    def test_a_care_centre_built_from_env_alone_cannot_open_cases(
        self, app_env: dict[str, str]
    ) -> None:
        # As eventsourcing's projection runner builds it, to follow the notification log.
        with CareCentre(app_env) as follower, pytest.raises(RuntimeError, match="ReferenceNumbers"):
            open_email(follower)

    def test_invalid_intake_is_refused_naming_the_field(self, app: CareCentre) -> None:
        with pytest.raises(InvalidCommand) as refused:
            app.open_case(
                channel=Channel.POST,
                subject="Đơn khiếu nại",
                requester=CITIZEN,
                received_at=T0 + timedelta(days=1),
                ctx=Context(INTAKE, T0, "req-intake", "channel:post"),
            )
        assert refused.value.field == "received_at"

    # -- work on a case -------------------------------------------------------------------------

    def test_a_case_lives_from_intake_to_closed_with_feedback(self, app: CareCentre) -> None:
        case, _ = open_email(app)
        social_procedure = Category(InsuranceLine.SOCIAL, InquiryKind.PROCEDURE)
        app.act(
            case.id,
            Action.TRIAGE,
            at(1, RULES),
            category=social_procedure,
            priority=Priority.HIGH,
            unit=None,
        )
        app.act(case.id, Action.ASSIGN, at(2), agent="agent-1")
        app.act(case.id, Action.NOTE, at(3), text="Tra cứu hồ sơ.")
        app.act(case.id, Action.REPLY, at(4), message="Chúng tôi đang kiểm tra.")
        app.act(case.id, Action.REQUEST_INFO, at(5), message="Xin gửi bản sao CCCD.")
        app.act(case.id, Action.CITIZEN_MESSAGE, at(6, INTAKE), message="Đã gửi.")
        app.act(case.id, Action.ESCALATE, at(7), reason="Khiếu nại lần hai.")
        app.act(case.id, Action.TRANSFER, at(8), unit="danang", reason="Hồ sơ ở Đà Nẵng.")
        app.act(case.id, Action.ASSIGN, at(9), agent="agent-7")
        app.act(case.id, Action.UNASSIGN, at(10))
        app.act(case.id, Action.ASSIGN, at(11), agent="agent-7")
        app.act(case.id, Action.RESOLVE, at(12), resolution="answered", summary="Sổ đã gửi.")
        app.act(case.id, Action.REOPEN, at(13), reason="Chưa nhận được.")
        app.act(case.id, Action.RESOLVE, at(14), resolution="answered", summary=None)
        app.act(case.id, Action.CLOSE, at(15))
        closed = app.act(case.id, Action.FEEDBACK, at(16, INTAKE), score=5, comment="Cảm ơn.")

        assert closed == app.get_case(case.id)
        assert (closed.status, closed.version) == (Status.CLOSED, 17)
        assert (closed.unit, closed.assignee, closed.escalation_level) == ("danang", "agent-7", 1)
        assert closed.first_replied_at == T0 + timedelta(minutes=4)
        assert closed.closed_at == T0 + timedelta(minutes=15)
        assert closed.feedback == Feedback(5, "Cảm ơn.", T0 + timedelta(minutes=16))
        assert [m.direction.value for m in closed.messages] == ["out", "out", "in"]
        assert [type(e).__name__ for e in app.history(case.id)][-3:] == [
            "Resolved",
            "Closed",
            "FeedbackRecorded",
        ]

    def test_stored_events_keep_their_moment_and_who_caused_them(self, app: CareCentre) -> None:
        case, _ = open_email(app)
        app.act(case.id, Action.ASSIGN, at(2), agent="agent-1")
        received, assigned = app.history(case.id)
        assert received.timestamp == T0
        assert received.timestamp.utcoffset() == timedelta(hours=7)
        assert (received.cause, received.actor["role"]) == ("channel:email", "intake")
        assert (assigned.timestamp, assigned.correlation_id) == (
            T0 + timedelta(minutes=2),
            "req-2",
        )

    def test_a_refused_action_saves_nothing(self, app: CareCentre) -> None:
        case, _ = open_email(app)
        with pytest.raises(ActionNotAllowed, match="cannot close: case CC-2026-000001 is received"):
            app.act(case.id, Action.CLOSE, at(1))
        assert app.get_case(case.id).version == 1

    def test_an_unknown_case_is_not_found(self, app: CareCentre) -> None:
        unknown = UUID(int=404)
        with pytest.raises(CaseNotFound):
            app.get_case(unknown)
        with pytest.raises(CaseNotFound):
            app.act(unknown, Action.NOTE, at(1), text="Không có.")
        with pytest.raises(CaseNotFound):
            app.history(unknown)
        assert app.find_case(unknown) is None

    # -- who may act on a case ------------------------------------------------------------------

    def test_intake_may_open_a_case_but_not_assign_it(self, app: CareCentre) -> None:
        case, created = open_email(app)
        assert created
        with pytest.raises(Forbidden) as refused:
            app.act(case.id, Action.ASSIGN, at(1, INTAKE), agent="agent-1")
        assert (refused.value.role, refused.value.operation) == ("intake", "assign")
        assert app.get_case(case.id).version == 1

    def test_an_agent_may_not_act_on_another_agents_case(self, app: CareCentre) -> None:
        case, _ = open_email(app)
        app.act(case.id, Action.ASSIGN, at(1), agent="agent-1")
        with pytest.raises(Forbidden, match="is assigned to agent-1") as refused:
            app.act(case.id, Action.NOTE, at(2, OTHER_AGENT), text="Của tôi?")
        assert refused.value.operation == "note"
        assert refused.value.reason is not None
        assert "supervisor's call" in refused.value.reason
        assert app.get_case(case.id).version == 2

    def test_an_agent_may_not_take_another_agents_case(self, app: CareCentre) -> None:
        case, _ = open_email(app)
        app.act(case.id, Action.ASSIGN, at(1), agent="agent-1")
        for action in (Action.ASSIGN, Action.UNASSIGN):
            with pytest.raises(Forbidden) as refused:
                app.act(case.id, action, at(2, OTHER_AGENT))
            assert refused.value.operation == "reassign"
        assert app.get_case(case.id).assignee == "agent-1"

    def test_an_agent_handing_an_unassigned_case_to_someone_else_needs_reassign(
        self, app: CareCentre
    ) -> None:
        case, _ = open_email(app)
        with pytest.raises(Forbidden) as refused:
            app.act(case.id, Action.ASSIGN, at(1, AGENT), agent="agent-2")
        assert (refused.value.operation, refused.value.allowed_roles) == (
            "reassign",
            ["admin", "supervisor"],
        )
        taken = app.act(case.id, Action.ASSIGN, at(2, AGENT))  # no agent named: the caller
        assert taken.assignee == "agent-1"

    def test_an_agent_may_transfer_a_case_they_hold(self, app: CareCentre) -> None:
        case, _ = open_email(app)
        app.act(case.id, Action.ASSIGN, at(1, AGENT))
        transferred = app.act(
            case.id, Action.TRANSFER, at(2, AGENT), unit="danang", reason="Hồ sơ ở Đà Nẵng."
        )
        assert (transferred.unit, transferred.status) == ("danang", Status.TRIAGED)
        assert app.get_case(case.id).version == 3

    def test_the_care_centres_own_rules_may_do_anything(self, app: CareCentre) -> None:
        case, _ = open_email(app)
        app.act(case.id, Action.ASSIGN, at(1), agent="agent-1")
        app.act(case.id, Action.ASSIGN, at(2, RULES), agent="agent-2")  # reassigning
        app.act(case.id, Action.NOTE, at(3, RULES), text="Quá hạn phản hồi.")  # on a held case
        app.act(case.id, Action.ESCALATE, at(4, RULES), reason="Quá hạn.")
        app.act(case.id, Action.RESOLVE, at(5, RULES), resolution="answered", summary=None)
        closed = app.act(case.id, Action.CLOSE, at(6, RULES))
        assert (closed.status, closed.assignee, closed.version) == (Status.CLOSED, "agent-2", 7)

    # -- concurrency ----------------------------------------------------------------------------

    def test_a_command_expecting_another_version_is_stale(self, app: CareCentre) -> None:
        case, _ = open_email(app)
        app.act(case.id, Action.NOTE, at(1), expected_version=1, text="Ghi chú.")
        with pytest.raises(StaleVersion) as stale:
            app.act(case.id, Action.NOTE, at(2), expected_version=1, text="Ghi chú nữa.")
        assert (stale.value.expected, stale.value.actual) == (1, 2)
        assert app.get_case(case.id).version == 2

    def test_two_concurrent_writes_never_both_succeed(self, app_env: dict[str, str]) -> None:
        with LosesTheRace(app_env, references=CountingReferences()) as app:
            case, _ = open_email(app)
            app.act(case.id, Action.ASSIGN, at(1), agent="agent-1")
            app.lag_to = 1
            with pytest.raises(ConcurrentUpdate) as conflict:
                app.act(case.id, Action.ASSIGN, at(2), agent="agent-2")
            assert conflict.value.case_id == case.id
            app.lag_to = None
            assert app.get_case(case.id).assignee == "agent-1"

    # -- merging --------------------------------------------------------------------------------

    def test_merging_records_both_sides_together(self, app: CareCentre) -> None:
        survivor, _ = open_email(app, "<msg-1@mail>")
        duplicate, _ = open_email(app, "<msg-2@mail>")
        merged = app.act(duplicate.id, Action.MERGE, at(1), into=survivor.id)
        assert (merged.status, merged.merged_into) == (Status.MERGED, survivor.id)
        assert app.get_case(survivor.id).merged_from == [duplicate.id]
        assert type(app.history(survivor.id)[-1]).__name__ == "MergeRecorded"

    def test_merging_into_an_unknown_case_is_refused_and_saves_nothing(
        self, app: CareCentre
    ) -> None:
        case, _ = open_email(app)
        with pytest.raises(InvalidCommand) as refused:
            app.act(case.id, Action.MERGE, at(1), into=UUID(int=404))
        assert refused.value.field == "into"
        assert app.get_case(case.id).status is Status.RECEIVED

    def test_merging_into_a_merged_case_is_refused_and_saves_nothing(self, app: CareCentre) -> None:
        first, _ = open_email(app, "<msg-1@mail>")
        second, _ = open_email(app, "<msg-2@mail>")
        third, _ = open_email(app, "<msg-3@mail>")
        app.act(second.id, Action.MERGE, at(1), into=first.id)
        with pytest.raises(InvalidCommand, match="is itself merged"):
            app.act(third.id, Action.MERGE, at(2), into=second.id)
        assert app.get_case(third.id).status is Status.RECEIVED

    # -- the past -------------------------------------------------------------------------------

    def test_a_case_can_be_read_as_it_was_at_a_version(self, app: CareCentre) -> None:
        case, _ = open_email(app)
        app.act(case.id, Action.ASSIGN, at(10), agent="agent-1")
        app.act(case.id, Action.RESOLVE, at(20), resolution="answered", summary=None)
        assert app.case_at(case.id, version=2).status is Status.IN_PROGRESS
        assert app.case_at(case.id, version=1).status is Status.RECEIVED
        assert app.case_at(case.id).status is Status.RESOLVED
        with pytest.raises(CaseNotFound, match="has no version 4"):
            app.case_at(case.id, version=4)
        with pytest.raises(InvalidCommand):
            app.case_at(case.id, version=0)

    def test_a_case_can_be_read_as_it_stood_at_a_moment(self, app: CareCentre) -> None:
        case, _ = open_email(app)
        app.act(case.id, Action.ASSIGN, at(10), agent="agent-1")
        app.act(case.id, Action.RESOLVE, at(20), resolution="answered", summary=None)
        assert app.case_at(case.id, as_of=T0).status is Status.RECEIVED
        in_progress = app.case_at(case.id, as_of=T0 + timedelta(minutes=19))
        assert in_progress.status is Status.IN_PROGRESS
        assert app.case_at(case.id, as_of=T0 + timedelta(minutes=20)).status is Status.RESOLVED
        assert app.case_at(case.id, as_of=T0 + timedelta(days=9)).version == 3

    def test_a_case_did_not_exist_before_it_was_received(self, app: CareCentre) -> None:
        case, _ = open_email(app)
        with pytest.raises(CaseNotFound, match="did not exist yet"):
            app.case_at(case.id, as_of=T0 - timedelta(seconds=1))

    def test_the_past_is_asked_for_by_version_or_by_moment_not_both(self, app: CareCentre) -> None:
        case, _ = open_email(app)
        with pytest.raises(InvalidCommand):
            app.case_at(case.id, version=1, as_of=T0)
        with pytest.raises(InvalidCommand):
            app.case_at(case.id, as_of=datetime(2026, 11, 24, 9, 0))

    # -- snapshots ------------------------------------------------------------------------------

    def test_a_snapshot_is_taken_every_fifty_events_and_loads_the_same_case(
        self, app: CareCentre
    ) -> None:
        case, _ = open_email(app)
        app.act(case.id, Action.ASSIGN, at(1), agent="agent-1")
        app.act(case.id, Action.REPLY, at(2), message="Đang kiểm tra.")
        for n in range(60):
            app.act(case.id, Action.NOTE, at(3 + n), text=f"Ghi chú {n}.")
        assert app.snapshots is not None
        snapshots = list(app.snapshots.get(case.id))
        assert [s.originator_version for s in snapshots] == [50]

        loaded = app.get_case(case.id)
        replayed = replay(app, case.id)
        assert loaded == replayed
        assert loaded.version == 63
        assert len(loaded.notes) == 60
        for name, value in vars(replayed).items():
            assert type(vars(loaded)[name]) is type(value), name

    def test_a_case_loaded_from_a_snapshot_has_its_value_objects_back(
        self, app: CareCentre
    ) -> None:
        case, _ = open_email(app)
        app.act(case.id, Action.ASSIGN, at(1), agent="agent-1")
        app.act(case.id, Action.REPLY, at(2), message="Đang kiểm tra.")
        for n in range(47):
            app.act(case.id, Action.NOTE, at(3 + n), text=f"Ghi chú {n}.")
        at_snapshot = app.case_at(case.id, version=50)
        assert at_snapshot.status is Status.IN_PROGRESS
        assert isinstance(at_snapshot.requester, Requester)
        assert at_snapshot.category.line is InsuranceLine.SOCIAL
        assert isinstance(at_snapshot.messages[0], Message)
        assert at_snapshot.last_activity_at == T0 + timedelta(minutes=49)
        app.act(case.id, Action.RESOLVE, at(60), resolution="answered", summary=None)
        app.act(case.id, Action.CLOSE, at(61))
        app.act(case.id, Action.FEEDBACK, at(62), score=3, comment=None)
        assert app.get_case(case.id) == replay(app, case.id)


class TestCareCentreInMemory(CareCentreScenarios):
    """The scenarios on eventsourcing's in-memory store: no server."""

    env: ClassVar[dict[str, str]] = IN_MEMORY
