"""Many cases at once: the SLA timer and `sla apply` read a chunk of cases in one query and save
what they record in one transaction, and still record each alarm exactly once when another
command changes one of the cases between the read and the save."""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from casemgmt.domain import Action, Actor, Case, Channel, Context, Requester, RequesterKind, Role
from casemgmt.domain.sla import ClockName
from casemgmt.policy_file import load_policy
from casemgmt.runtime.sla_timer import CHUNK, TIMER, apply_policy_to_open_cases
from tests.integration.test_sla_timer import SECONDS_POLICY

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path
    from uuid import UUID

    from casemgmt.application import CareCentre
    from casemgmt.settings import Settings
    from tests.support.projections import Setup

from tests.support.projections import fresh_setup

INTAKE = Actor("mail-gateway", Role.INTAKE)
SUPERVISOR = Actor("mai.tran", Role.SUPERVISOR)


def ctx(actor: Actor, at: datetime | None = None) -> Context:
    return Context(actor, at or datetime.now(UTC), f"test-{time.monotonic_ns()}", "api")


@pytest.fixture
def setup(servers: Settings, tmp_path: Path) -> Iterator[Setup]:
    policy = tmp_path / "sla.toml"
    policy.write_text(SECONDS_POLICY, encoding="utf-8")
    with fresh_setup(dataclasses.replace(servers, sla_policy_path=policy)) as fresh:
        yield fresh


def open_cases(centre: CareCentre, count: int, received_at: datetime) -> list[UUID]:
    ids = []
    for n in range(count):
        case, _ = centre.open_case(
            channel=Channel.EMAIL,
            subject=f"Hỏi về trợ cấp thất nghiệp {n}",
            requester=Requester(RequesterKind.CITIZEN, None, "Lê Văn C"),
            received_at=received_at,
            ctx=ctx(INTAKE),
        )
        ids.append(case.id)
    return ids


def alarm_kinds(centre: CareCentre, case_id: UUID) -> list[tuple[str, str]]:
    """The case's warnings and breaches by clock (several fall due at once when late)."""
    return sorted(
        (type(event).__name__, event.clock)
        for event in centre.history(case_id)
        if isinstance(event, Case.SlaWarning | Case.SlaBreached)
    )


EVERY_ALARM = sorted(
    (kind, clock)
    for kind in ("SlaWarning", "SlaBreached")
    for clock in ("first_response", "resolution")
)


def test_get_cases_reads_many_cases_as_get_case_reads_each(setup: Setup) -> None:
    centre = setup.container.care_centre
    ids = open_cases(centre, 3, datetime.now(UTC))
    for _ in range(60):  # past the snapshot interval (50): read from a snapshot and after it
        centre.act(ids[1], Action.NOTE, ctx(SUPERVISOR), text="Đã gọi lại.")
    assert centre.snapshots is not None
    assert list(centre.snapshots.get(ids[1])), "the long case has a snapshot"
    unknown = centre.new_id()

    read = centre.get_cases([ids[2], unknown, ids[0], ids[1], ids[0]])

    assert [case.id for case in read] == [ids[2], ids[0], ids[1]]
    for case in read:
        one = centre.get_case(case.id)
        assert case.version == one.version
        assert case.__dict__ == one.__dict__
    assert read[2].version > 60
    assert centre.get_cases([]) == []


def test_alarms_of_many_cases_are_recorded_in_one_go_each_once(setup: Setup) -> None:
    centre = setup.container.care_centre
    ids = open_cases(centre, 5, datetime.now(UTC) - timedelta(seconds=10))

    recorded = centre.check_sla_of(ids, ctx(TIMER))
    again = centre.check_sla_of(ids, ctx(TIMER))

    assert recorded == dict.fromkeys(ids, 4)
    assert again == {}
    for case_id in ids:
        assert alarm_kinds(centre, case_id) == EVERY_ALARM


def test_a_case_changed_between_the_read_and_the_save_still_gets_each_alarm_once(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    centre = setup.container.care_centre
    ids = open_cases(centre, 4, datetime.now(UTC) - timedelta(seconds=10))
    stale = centre.get_cases(ids)
    # Another command changes one case after the timer read it: the timer's save of the whole
    # batch must fail on that case's version, and each case be done again on its own.
    centre.act(ids[2], Action.NOTE, ctx(SUPERVISOR), text="Đã gọi lại cho người dân.")
    centre.check_sla(ids[3], ctx(TIMER))  # and another timer recorded one case's alarms
    monkeypatch.setattr(centre, "get_cases", lambda _: stale)

    recorded = centre.check_sla_of(ids, ctx(TIMER))

    assert recorded == {ids[0]: 4, ids[1]: 4, ids[2]: 4}
    for case_id in ids:
        assert alarm_kinds(centre, case_id) == EVERY_ALARM
    assert "NoteAdded" in [type(e).__name__ for e in centre.history(ids[2])]


def test_the_timer_records_more_due_cases_than_one_chunk_in_one_poll(setup: Setup) -> None:
    centre = setup.container.care_centre
    ids = open_cases(centre, CHUNK + 30, datetime.now(UTC) - timedelta(seconds=10))
    with setup.projections.worker(["case_summaries"], lock_retry_seconds=0.1):
        assert setup.projections.wait_until_caught_up(names=["case_summaries"], timeout=30)
    timer = setup.projections.timer
    assert timer is not None

    assert timer().fire_due() == 4 * len(ids)

    for case_id in ids:
        assert alarm_kinds(centre, case_id) == EVERY_ALARM


def test_applying_a_policy_goes_through_every_open_case_by_chunks(
    setup: Setup, tmp_path: Path
) -> None:
    centre = setup.container.care_centre
    ids = open_cases(centre, CHUNK + 30, datetime.now(UTC))
    with setup.projections.worker(["case_summaries"], lock_retry_seconds=0.1):
        assert setup.projections.wait_until_caught_up(names=["case_summaries"], timeout=30)
    longer = tmp_path / "longer.toml"
    longer.write_text(SECONDS_POLICY.replace('"PT6S"', '"PT60S"'), encoding="utf-8")
    centre.sla_policy = load_policy(longer)
    seen: list[tuple[int, int]] = []
    at = ctx(TIMER)

    applied = apply_policy_to_open_cases(
        centre,
        setup.container.datastore,
        at,
        progress=lambda done, total: seen.append((done, total)),
        page=CHUNK,
    )
    again = apply_policy_to_open_cases(centre, setup.container.datastore, at)

    assert applied == (len(ids), len(ids))
    assert again == (len(ids), 0)
    assert seen == [(CHUNK, len(ids)), (len(ids), len(ids))]
    for case_id in ids:
        moved = [e for e in centre.history(case_id) if isinstance(e, Case.SlaDeadlineRecomputed)]
        assert [e.clock for e in moved] == ["resolution"]
        clock = centre.get_case(case_id).clocks[ClockName.RESOLUTION]
        assert clock.due - centre.get_case(case_id).received_at == timedelta(seconds=60)
