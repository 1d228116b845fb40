"""`sla apply` recomputes open cases' deadlines from the case list, without loading each case.

The case list keeps what the clocks follow (status, channel, category, priority, unit, receipt,
first message out, and each clock as its latest SLA event left it). These tests check that what
it keeps equals what the cases' events say, that the changes worked out from it are the very
events `Case.keep_clocks` records, and that a list that is behind (or rows written before it kept
clocks) cannot make a case record a change twice or miss one: the store refuses events at a
version already taken, and those cases are done from their events.
"""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from casemgmt.domain import Action, Actor, Case, Category, Channel, Context, Requester, Role
from casemgmt.domain.clock_keeping import clock_steps
from casemgmt.domain.requests import InquiryKind, Priority, RequesterKind
from casemgmt.domain.sla import ClockName
from casemgmt.policy_file import load_policy
from casemgmt.queries.clock_inputs import kept_clocks
from casemgmt.runtime.sla_timer import OPEN_STATUSES, TIMER, apply_policy_to_open_cases

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path
    from uuid import UUID

    from casemgmt.application import CareCentre
    from casemgmt.domain.sla_policy import SlaPolicy
    from casemgmt.settings import Settings
    from tests.support.projections import Setup

from tests.support.projections import fresh_setup

INTAKE = Actor("mail-gateway", Role.INTAKE)
SUPERVISOR = Actor("mai.tran", Role.SUPERVISOR)
AGENT = Actor("lan.nguyen", Role.AGENT)

OFFICE_POLICY = """
version = "office-1"
warning_at = 0.75

[calendars.office]
timezone = "Asia/Ho_Chi_Minh"
holidays = "VN"
closed = []

[calendars.office.hours]
mon = ["07:30-11:30", "13:00-16:30"]
tue = ["07:30-11:30", "13:00-16:30"]
wed = ["07:30-11:30", "13:00-16:30"]
thu = ["07:30-11:30", "13:00-16:30"]
fri = ["07:30-11:30", "13:00-16:30"]

[calendars.north]
timezone = "Asia/Ho_Chi_Minh"

[calendars.north.hours]
mon = ["08:00-12:00", "13:30-17:30"]
tue = ["08:00-12:00", "13:30-17:30"]
wed = ["08:00-12:00", "13:30-17:30"]
thu = ["08:00-12:00", "13:30-17:30"]
fri = ["08:00-12:00", "13:30-17:30"]
sat = ["08:00-11:00"]

[units]
default = "office"
hanoi = "north"

[[targets]]
priority = "urgent"
first_response = "PT2H"
resolution = "P1D"

[[targets]]
kind = "complaint"
first_response = "PT4H"
resolution = "P3D"

[[targets]]
first_response = "PT8H"
resolution = "P5D"
"""


def ctx(actor: Actor, at: datetime | None = None) -> Context:
    return Context(actor, at or datetime.now(UTC), f"test-{time.monotonic_ns()}", "api")


def next_working_day(policy: SlaPolicy) -> str:
    """The office calendar's next working day after today (closing it moves open deadlines)."""
    office = policy.calendars["office"]
    day = datetime.now(office.timezone).date()
    while True:
        day += timedelta(days=1)
        if office.is_open(
            datetime.combine(day, datetime.min.time(), office.timezone).replace(hour=8)
        ):
            return day.isoformat()


def changed_policy(tmp_path: Path, closed_day: str) -> SlaPolicy:
    """A holiday declared at short notice in the office calendar, and longer complaint targets."""
    text = OFFICE_POLICY.replace("closed = []", f'closed = ["{closed_day}"]')
    text = text.replace('first_response = "PT4H"', 'first_response = "PT6H"')
    path = tmp_path / "changed.toml"
    path.write_text(text, encoding="utf-8")
    return load_policy(path)


@pytest.fixture
def setup(servers: Settings, tmp_path: Path) -> Iterator[Setup]:
    policy = tmp_path / "office.toml"
    policy.write_text(OFFICE_POLICY, encoding="utf-8")
    with fresh_setup(dataclasses.replace(servers, sla_policy_path=policy)) as fresh:
        yield fresh


def open_case(centre: CareCentre, received_at: datetime, n: int) -> UUID:
    case, _ = centre.open_case(
        channel=list(Channel)[n % len(Channel)],
        subject=f"Hỏi về chế độ hưu trí {n}",
        requester=Requester(RequesterKind.CITIZEN, f"0790{n:08d}", "Trần Thị B"),
        received_at=received_at,
        ctx=ctx(INTAKE),
    )
    return case.id


def act(centre: CareCentre, case_id: UUID, action: Action, actor: Actor, **body: Any) -> None:
    centre.act(case_id, action, ctx(actor), **body)


def triage(centre: CareCentre, case_id: UUID, kind: InquiryKind, priority: Priority) -> None:
    category = Category(None, kind.value)
    act(centre, case_id, Action.TRIAGE, SUPERVISOR, category=category, priority=priority)


def varied_cases(centre: CareCentre) -> list[UUID]:
    """Open cases in every situation a clock can be in: running, paused, first response given,
    transferred to a unit with another calendar, reopened, and received days ago."""
    now = datetime.now(UTC)
    ids = [open_case(centre, now - timedelta(days=n % 4, hours=n), n) for n in range(14)]
    triage(centre, ids[1], InquiryKind.COMPLAINT, Priority.NORMAL)
    triage(centre, ids[2], InquiryKind.PROCEDURE, Priority.URGENT)
    for case_id in ids[3:]:
        triage(centre, case_id, InquiryKind.BENEFIT_STATUS, Priority.NORMAL)
    for case_id in ids[4:]:
        act(centre, case_id, Action.ASSIGN, AGENT)
    act(centre, ids[4], Action.REQUEST_INFO, AGENT, message="Xin gửi sổ BHXH.")  # paused
    act(centre, ids[5], Action.REQUEST_INFO, AGENT, message="Xin gửi sổ BHXH.")
    act(centre, ids[5], Action.CITIZEN_MESSAGE, INTAKE, message="Đã gửi.")  # resumed
    act(centre, ids[6], Action.REPLY, AGENT, message="Hồ sơ đang được xử lý.")  # first response
    act(centre, ids[7], Action.TRANSFER, AGENT, unit="hanoi", reason="Nơi cư trú")
    act(centre, ids[8], Action.REPLY, AGENT, message="Đã giải quyết.")
    act(centre, ids[8], Action.RESOLVE, AGENT, resolution="answered")
    act(centre, ids[8], Action.REOPEN, SUPERVISOR, reason="Người dân hỏi lại")  # reopened
    act(centre, ids[9], Action.RESOLVE, AGENT, resolution="answered")  # resolved: not open
    return ids


def caught_up(setup: Setup) -> None:
    with setup.projections.worker(["case_summaries"], lock_retry_seconds=0.1):
        assert setup.projections.wait_until_caught_up(names=["case_summaries"], timeout=30)


def kept_by_case(setup: Setup) -> dict[UUID, Any]:
    pages = kept_clocks(setup.container.datastore, statuses=OPEN_STATUSES, page=5)
    return {kept.case_id: kept for page in pages for kept in page}


def event_facts(events: list[Any]) -> list[tuple[Any, ...]]:
    return [
        (type(e).__name__, e.originator_version, e.clock, e.state, getattr(e, "reason", None))
        for e in events
    ]


def test_the_case_list_keeps_what_the_clocks_follow_as_the_events_say(setup: Setup) -> None:
    centre = setup.container.care_centre
    ids = varied_cases(centre)
    caught_up(setup)

    kept = kept_by_case(setup)

    assert set(kept) == set(ids) - {ids[9]}  # the resolved case is not open
    for case_id, row in kept.items():
        case = centre.get_case(case_id)
        assert row.version == case.version
        assert row.clocks == case.clocks
        assert row.subject.status is case.status
        assert (row.subject.kind, row.subject.priority) == (case.category.kind, case.priority.value)
        assert row.subject.unit == case.unit
        assert row.subject.received_at == case.received_at
        assert row.subject.first_response_at == case.first_response_at
    assert kept[ids[4]].subject.first_response_at is not None  # a request for information


def test_changes_worked_out_from_the_list_are_the_events_the_case_records(
    setup: Setup, tmp_path: Path
) -> None:
    centre = setup.container.care_centre
    varied_cases(centre)
    caught_up(setup)
    policy = changed_policy(tmp_path, next_working_day(centre.sla_policy))  # type: ignore[arg-type]
    at = ctx(TIMER)
    moved = 0

    for case_id, row in kept_by_case(setup).items():
        case = centre.get_case(case_id)
        case.keep_clocks(policy, at)
        steps = clock_steps(row.subject, row.clocks, policy, at.at)
        built = Case.clock_events(case_id, row.version, row.subject.status, steps, at)

        assert event_facts(built) == event_facts(list(case.pending_events))
        moved += bool(built)
    assert moved >= 8  # most open cases have a deadline after the new closed day


def recomputed_by(centre: CareCentre, case_id: UUID, correlation_id: str) -> list[str]:
    return [
        event.clock
        for event in centre.history(case_id)
        if isinstance(event, Case.SlaDeadlineRecomputed) and event.correlation_id == correlation_id
    ]


def test_a_list_behind_the_events_moves_each_deadline_once(setup: Setup, tmp_path: Path) -> None:
    centre = setup.container.care_centre
    ids = varied_cases(centre)
    caught_up(setup)
    # Without the projection running, these cases move on and the list does not follow; and
    # these rows are as a version before clock inputs were kept would have left them.
    behind = [ids[3], ids[5], ids[6]]  # (ids[4] is paused: no deadline of it moves)
    for case_id in behind:
        act(centre, case_id, Action.NOTE, SUPERVISOR, text="Đã gọi lại cho người dân.")
    unknown = ids[10:12]
    setup.container.datastore.execute(
        "UPDATE case_summaries SET clocks_known = false, sla_clocks = NULL WHERE case_id = ANY(%s)",
        [unknown],
    )
    centre.sla_policy = changed_policy(tmp_path, next_working_day(centre.sla_policy))  # type: ignore[arg-type]
    at = ctx(TIMER)

    done, changed = apply_policy_to_open_cases(centre, setup.container.datastore, at, page=4)

    open_ids = [case_id for case_id in ids if case_id != ids[9]]
    assert done == len(open_ids)
    for case_id in open_ids:
        clocks = recomputed_by(centre, case_id, at.correlation_id)
        assert len(clocks) == len(set(clocks)), f"a clock of {case_id} moved twice"
        case = centre.get_case(case_id)
        case.keep_clocks(centre.sla_policy, ctx(TIMER))
        assert not case.pending_events, f"case {case_id} was left under the old policy"
    for case_id in [*behind, *unknown]:
        assert recomputed_by(centre, case_id, at.correlation_id)
    moved = sum(bool(recomputed_by(centre, case_id, at.correlation_id)) for case_id in open_ids)
    assert changed == moved >= 8
    assert apply_policy_to_open_cases(centre, setup.container.datastore, ctx(TIMER)) == (done, 0)


def test_a_case_the_list_is_behind_on_is_not_left_under_the_old_policy(
    setup: Setup, tmp_path: Path
) -> None:
    centre = setup.container.care_centre
    now = datetime.now(UTC)
    ids = [open_case(centre, now, n) for n in range(3)]
    caught_up(setup)
    # Made a complaint while the list was not following: its row still has no kind, whose
    # targets the new policy keeps, so the row alone would say nothing is to be done.
    triage(centre, ids[0], InquiryKind.COMPLAINT, Priority.NORMAL)
    longer = OFFICE_POLICY.replace('first_response = "PT4H"', 'first_response = "PT6H"')
    path = tmp_path / "longer-complaints.toml"
    path.write_text(longer, "utf-8")  # the same version: only the complaints' targets differ
    centre.sla_policy = load_policy(path)
    at = ctx(TIMER)

    assert apply_policy_to_open_cases(centre, setup.container.datastore, at) == (3, 1)

    assert recomputed_by(centre, ids[0], at.correlation_id) == ["first_response"]
    first_response = centre.get_case(ids[0]).clocks[ClockName.FIRST_RESPONSE]
    assert first_response.terms.target == "PT6H"
    for case_id in ids[1:]:
        assert recomputed_by(centre, case_id, at.correlation_id) == []


def test_a_case_that_moves_on_between_the_check_and_the_save_is_done_from_its_events(
    setup: Setup, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    centre = setup.container.care_centre
    ids = [open_case(centre, datetime.now(UTC), n) for n in range(3)]
    caught_up(setup)
    kept = [
        row
        for page in kept_clocks(setup.container.datastore, statuses=OPEN_STATUSES)
        for row in page
    ]
    checked, old_policy = centre._latest_versions, centre.sla_policy

    def then_a_note_lands(case_ids: list[UUID]) -> dict[UUID, int]:
        """A command of another process, still under the old policy, right after the check."""
        versions = checked(case_ids)
        new_policy, centre.sla_policy = centre.sla_policy, old_policy
        act(centre, ids[1], Action.NOTE, SUPERVISOR, text="Người dân gọi lại.")
        centre.sla_policy = new_policy
        return versions

    monkeypatch.setattr(centre, "_latest_versions", then_a_note_lands)
    centre.sla_policy = changed_policy(tmp_path, next_working_day(centre.sla_policy))  # type: ignore[arg-type]
    at = ctx(TIMER)

    assert centre.apply_sla_policy_to_kept(kept, at) == 3

    for case_id in ids:
        clocks = recomputed_by(centre, case_id, at.correlation_id)
        assert sorted(clocks) == ["first_response", "resolution"]
    noted = centre.history(ids[1])
    assert [type(e).__name__ for e in noted[-3:]] == [
        "NoteAdded",
        "SlaDeadlineRecomputed",
        "SlaDeadlineRecomputed",
    ]


@pytest.mark.parametrize("failing", ["clock_changes_of", "save_clock_changes"])
def test_a_page_that_fails_is_done_case_by_case_and_the_other_pages_are_saved(
    setup: Setup, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    """One page is saved while the next is worked out: a page whose working out or saving fails
    (a lost connection, say) is done case by case from the events, and nothing is lost."""
    centre = setup.container.care_centre
    ids = [open_case(centre, datetime.now(UTC), n) for n in range(7)]
    caught_up(setup)
    calls = {"n": 0}
    real = getattr(centre, failing)

    def second_page_fails(*args: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise ConnectionError("the database went away for a moment")
        return real(*args)

    monkeypatch.setattr(centre, failing, second_page_fails)
    centre.sla_policy = changed_policy(tmp_path, next_working_day(centre.sla_policy))  # type: ignore[arg-type]
    at = ctx(TIMER)

    assert apply_policy_to_open_cases(centre, setup.container.datastore, at, page=3) == (7, 7)

    assert calls["n"] == 3  # three pages
    for case_id in ids:
        clocks = recomputed_by(centre, case_id, at.correlation_id)
        assert sorted(clocks) == ["first_response", "resolution"], case_id


def test_between_pages_the_timer_runs_once_the_page_is_saved(setup: Setup, tmp_path: Path) -> None:
    """The timer's start-up apply records due alarms between pages: each page is saved first,
    so that an alarm recorded then cannot make the page's versions stale as it is saved."""
    centre = setup.container.care_centre
    ids = [open_case(centre, datetime.now(UTC), n) for n in range(7)]
    caught_up(setup)
    centre.sla_policy = changed_policy(tmp_path, next_working_day(centre.sla_policy))  # type: ignore[arg-type]
    at = ctx(TIMER)
    saved_when_called: list[int] = []

    def between() -> None:
        moved = sum(bool(recomputed_by(centre, case_id, at.correlation_id)) for case_id in ids)
        saved_when_called.append(moved)

    assert apply_policy_to_open_cases(
        centre, setup.container.datastore, at, page=3, between=between
    ) == (7, 7)

    assert saved_when_called == [3, 6, 7]


def test_progress_tells_of_pages_once_they_are_saved(setup: Setup, tmp_path: Path) -> None:
    """`casemgmt sla apply` shows its progress: a page counts once it is saved, not while it is
    still being saved beside the next one's working out."""
    centre = setup.container.care_centre
    ids = [open_case(centre, datetime.now(UTC), n) for n in range(7)]
    caught_up(setup)
    centre.sla_policy = changed_policy(tmp_path, next_working_day(centre.sla_policy))  # type: ignore[arg-type]
    at = ctx(TIMER)
    told: list[tuple[int, int]] = []

    def progress(done: int, total: int) -> None:
        moved = sum(bool(recomputed_by(centre, case_id, at.correlation_id)) for case_id in ids)
        assert moved >= done, f"{done} told done, {moved} saved"
        told.append((done, total))

    assert apply_policy_to_open_cases(
        centre, setup.container.datastore, at, page=3, progress=progress
    ) == (7, 7)

    assert [done for done, _ in told] == [3, 6, 7]
    assert {total for _, total in told} == {7}
