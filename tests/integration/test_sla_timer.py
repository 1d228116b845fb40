"""SLA clocks against the clock: warnings and breaches recorded as events, on time, exactly once.

The policy here counts seconds around the clock, so a test sees a warning and a breach fall due
while it runs. Workers run in this process (threads) or as the real `casemgmt worker` command.
"""

from __future__ import annotations

import dataclasses
import signal
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from casemgmt.domain import Action, Actor, Channel, Context, Requester, RequesterKind, Role
from tests.support.projections import fresh_setup, worker_with_policy

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path
    from uuid import UUID

    from casemgmt.domain import Case
    from casemgmt.settings import Settings
    from tests.support.projections import Setup

SECONDS_POLICY = """
version = "test-seconds-1"
warning_at = 0.5

[calendars.around_the_clock]
always_open = true

[units]
default = "around_the_clock"

[[targets]]
first_response = "PT4S"
resolution = "PT6S"
"""
# The timer polls every 0.2 s and the case list follows the log within milliseconds.
ON_TIME = timedelta(seconds=1)
INTAKE = Actor("mail-gateway", Role.INTAKE)
SUPERVISOR = Actor("mai.tran", Role.SUPERVISOR)


def ctx(actor: Actor = SUPERVISOR) -> Context:
    return Context(actor, datetime.now(UTC), f"test-{time.monotonic_ns()}", "api")


@pytest.fixture
def setup(servers: Settings, tmp_path: Path) -> Iterator[Setup]:
    policy = tmp_path / "sla.toml"
    policy.write_text(SECONDS_POLICY, encoding="utf-8")
    with fresh_setup(dataclasses.replace(servers, sla_policy_path=policy)) as fresh:
        yield fresh


def open_case(setup: Setup) -> UUID:
    case, _ = setup.container.care_centre.open_case(
        channel=Channel.EMAIL,
        subject="Hỏi về trợ cấp thất nghiệp",
        requester=Requester(RequesterKind.CITIZEN, None, "Lê Văn C"),
        ctx=ctx(INTAKE),
    )
    return case.id


def alarms(setup: Setup, case_id: UUID) -> list[Any]:
    history = setup.container.care_centre.history(case_id)
    return [e for e in history if type(e).__name__ in ("SlaWarning", "SlaBreached")]


def clocks(setup: Setup, case_id: UUID) -> Case:
    return setup.container.care_centre.get_case(case_id)


def wait_until(condition: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout}s"
        time.sleep(0.05)


def test_an_unanswered_case_gets_a_warning_then_a_breach_per_clock_each_on_time(
    setup: Setup,
) -> None:
    case_id = open_case(setup)
    with setup.projections.worker(lock_retry_seconds=0.1):
        wait_until(lambda: len(alarms(setup, case_id)) == 4, timeout=15)
        time.sleep(1)  # nothing more comes

    recorded = alarms(setup, case_id)
    assert [(type(e).__name__, e.clock) for e in recorded] == [
        ("SlaWarning", "first_response"),
        ("SlaWarning", "resolution"),
        ("SlaBreached", "first_response"),
        ("SlaBreached", "resolution"),
    ]
    for event in recorded:
        instant = event.threshold if type(event).__name__ == "SlaWarning" else event.deadline
        assert timedelta(0) <= event.timestamp - instant < ON_TIME, type(event).__name__
        assert event.policy_version == "test-seconds-1"
        assert event.actor == {"id": "sla-timer", "role": "system", "on_behalf_of": None}
        assert event.cause == "timer:sla"
        assert 0 <= event.over_seconds <= 1
    assert clocks(setup, case_id).clocks  # both still running, both breached
    assert all(c.breached for c in clocks(setup, case_id).clocks.values())


def test_a_case_answered_and_resolved_in_time_gets_no_alarm(setup: Setup) -> None:
    case_id = open_case(setup)
    centre = setup.container.care_centre
    with setup.projections.worker(lock_retry_seconds=0.1):
        centre.act(case_id, Action.ASSIGN, ctx(), agent="lan.nguyen")
        centre.act(case_id, Action.REPLY, ctx(), message="Chúng tôi đã nhận được câu hỏi.")
        centre.act(case_id, Action.RESOLVE, ctx(), resolution="answered", summary=None)
        time.sleep(7)  # past both deadlines

    assert alarms(setup, case_id) == []
    states = {
        name.value: c.state_at(datetime.now(UTC))
        for name, c in centre.get_case(case_id).clocks.items()
    }
    assert states == {"first_response": "met", "resolution": "met"}


def test_waiting_for_the_citizen_moves_the_resolution_deadline_by_the_wait(setup: Setup) -> None:
    case_id = open_case(setup)
    centre = setup.container.care_centre
    before = centre.get_case(case_id).clocks
    centre.act(case_id, Action.ASSIGN, ctx(), agent="lan.nguyen")
    asked = centre.act(case_id, Action.REQUEST_INFO, ctx(), message="Xin số sổ BHXH.")
    paused_at = asked.modified_on
    time.sleep(2)
    answered = centre.act(case_id, Action.CITIZEN_MESSAGE, ctx(INTAKE), message="Số 0123456789.")
    resumed_at = answered.modified_on

    resolution = next(c for n, c in answered.clocks.items() if n.value == "resolution")
    original = next(c for n, c in before.items() if n.value == "resolution")
    assert resolution.running
    assert resolution.due - original.due == resumed_at - paused_at
    history = [type(e).__name__ for e in centre.history(case_id)]
    assert history.count("SlaClockPaused") == 1 and history.count("SlaClockResumed") == 1


def test_breaches_that_fell_due_while_no_timer_ran_are_recorded_once_with_their_true_deadline(
    setup: Setup,
) -> None:
    policy = setup.container.settings.sla_policy_path
    assert policy is not None
    first = worker_with_policy(setup, policy)
    try:
        time.sleep(1.5)  # the first worker holds the timer's lock
        case_id = open_case(setup)
        first.send_signal(signal.SIGKILL)  # killed before any alarm falls due
        first.wait()
        setup.container.redis.flushdb()  # and Redis comes back empty
        time.sleep(7)  # every alarm falls due while no timer runs
        assert alarms(setup, case_id) == []
        restarted_at = datetime.now(UTC)
        restarted, standby = (
            worker_with_policy(setup, policy),
            worker_with_policy(setup, policy),
        )  # two at once
        try:
            wait_until(lambda: len(alarms(setup, case_id)) == 4, timeout=30)
            time.sleep(2)
        finally:
            for process in (restarted, standby):
                process.terminate()
                process.wait(15)
    finally:
        if first.poll() is None:
            first.kill()

    recorded = alarms(setup, case_id)
    assert len(recorded) == 4  # once each, though two timers ran
    due = {c.name.value: c.due for c in clocks(setup, case_id).clocks.values()}
    for event in (e for e in recorded if type(e).__name__ == "SlaBreached"):
        assert event.deadline == due[event.clock]  # the true deadline, recorded late
        assert event.deadline < restarted_at < event.timestamp
        assert event.over_seconds == int((event.timestamp - event.deadline).total_seconds())
