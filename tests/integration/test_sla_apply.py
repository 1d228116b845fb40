"""A calendar or policy change applied to open cases (`casemgmt sla apply`), and the what-if
replay of past cases under another policy (`casemgmt sla replay`), through the real command."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import pytest

from casemgmt.domain import Action, Actor, Case, Channel, Context, Requester, RequesterKind, Role
from casemgmt.domain.sla_policy import DEFAULT_POLICY_TOML
from tests.support.projections import fresh_setup, worker_with_policy

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path
    from uuid import UUID

    from casemgmt.settings import Settings
    from tests.support.projections import Setup

VN = ZoneInfo("Asia/Ho_Chi_Minh")
# Friday 27 November 2026, 16:00: a PT8H first response is due Monday 30 November at 16:30.
RECEIVED = datetime(2026, 11, 27, 16, 0, tzinfo=VN)
NOW = datetime(2026, 11, 28, 9, 0, tzinfo=VN)  # a Saturday: nothing has fallen due yet
SUPERVISOR = Actor("mai.tran", Role.SUPERVISOR)


@pytest.fixture
def setup(servers: Settings, tmp_path: Path) -> Iterator[Setup]:
    policy = tmp_path / "sla.toml"
    policy.write_text(DEFAULT_POLICY_TOML, encoding="utf-8")
    with fresh_setup(dataclasses.replace(servers, sla_policy_path=policy)) as fresh:
        yield fresh


def open_case(setup: Setup, subject: str) -> UUID:
    case, _ = setup.container.care_centre.open_case(
        channel=Channel.POST,
        subject=subject,
        requester=Requester(RequesterKind.CITIZEN, None, "Phạm Thị D"),
        received_at=RECEIVED,
        ctx=Context(Actor("post-scanning", Role.INTAKE), NOW, "scan-1", "api"),
    )
    return case.id


def casemgmt(setup: Setup, policy: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "CASEMGMT_DATABASE_URL": setup.database_url,
        "CASEMGMT_REDIS_URL": setup.redis_url,
        "CASEMGMT_REDIS_PREFIX": setup.container.settings.redis_key_prefix,
        "CASEMGMT_SLA_POLICY": str(policy),
    }
    command = [sys.executable, "-m", "casemgmt.cli", *args]
    return subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def first_response_due(setup: Setup, case_id: UUID) -> datetime:
    case = setup.container.care_centre.get_case(case_id)
    return next(c.due for n, c in case.clocks.items() if n.value == "first_response")


def test_a_closed_day_added_to_the_calendar_moves_open_deadlines_and_says_so_on_each_case(
    setup: Setup, tmp_path: Path
) -> None:
    waiting, answered = open_case(setup, "Hỏi về sổ BHXH"), open_case(setup, "Hỏi về thẻ BHYT")
    centre = setup.container.care_centre
    at = Context(SUPERVISOR, NOW, "r1", "api")
    centre.act(answered, Action.ASSIGN, at, agent="lan.nguyen")
    centre.act(answered, Action.REPLY, at, message="Thẻ đã được gửi.")
    assert first_response_due(setup, waiting) == datetime(2026, 11, 30, 16, 30, tzinfo=VN)
    with setup.projections.worker(lock_retry_seconds=0.1):
        assert setup.projections.wait_until_caught_up(timeout=30)
    # A holiday declared at short notice on Monday 30 November.
    closed_monday = tmp_path / "sla-closed-monday.toml"
    closed_monday.write_text(
        DEFAULT_POLICY_TOML.replace(
            "[calendars.office]", '[calendars.office]\nclosed = ["2026-11-30"]'
        ),
        encoding="utf-8",
    )

    applied = casemgmt(setup, closed_monday, "sla", "apply")

    assert applied.returncode == 0, applied.stderr
    assert "2 of 2 open cases" in applied.stdout
    assert first_response_due(setup, waiting) == datetime(2026, 12, 1, 16, 30, tzinfo=VN)
    moved = [e for e in centre.history(waiting) if isinstance(e, Case.SlaDeadlineRecomputed)]
    assert [e.clock for e in moved] == ["first_response", "resolution"]
    assert "calendar office changed" in moved[0].reason
    assert moved[0].cause == "rule:sla-apply"
    # The answered case's first response stopped before the change; its resolution still runs.
    recomputed = [e for e in centre.history(answered) if isinstance(e, Case.SlaDeadlineRecomputed)]
    assert [e.clock for e in recomputed] == ["resolution"]

    again = casemgmt(setup, closed_monday, "sla", "apply")
    assert "0 of 2 open cases" in again.stdout  # applying the same policy twice moves nothing


def test_a_replay_under_a_stricter_policy_shows_lower_compliance_beside_the_actual(
    setup: Setup, tmp_path: Path
) -> None:
    centre = setup.container.care_centre
    case_id = open_case(setup, "Hỏi về lương hưu")
    monday = Context(SUPERVISOR, datetime(2026, 11, 30, 9, 0, tzinfo=VN), "r2", "api")
    centre.act(case_id, Action.ASSIGN, monday, agent="lan.nguyen")
    centre.act(case_id, Action.REPLY, monday, message="Đã nhận.")  # 2 working hours after receipt
    with setup.projections.worker(lock_retry_seconds=0.1):
        assert setup.projections.wait_until_caught_up(timeout=30)
    strict = tmp_path / "strict.toml"
    strict.write_text(
        DEFAULT_POLICY_TOML.replace('first_response = "PT8H"', 'first_response = "PT1H"'),
        encoding="utf-8",
    )
    assert strict.read_text() != DEFAULT_POLICY_TOML
    recorded = len(centre.history(case_id))

    replayed = casemgmt(
        setup, strict, "sla", "replay", "--policy", str(strict),
        "--from", "2026-11-01", "--to", "2026-12-01", "--format", "json",
    )  # fmt: skip

    assert replayed.returncode == 0, replayed.stderr
    report = json.loads(replayed.stdout)
    assert report["cases"] == 1
    overall = next(
        row for row in report["rows"] if row["group"] == "all" and row["clock"] == "first_response"
    )
    assert (overall["actual_met"], overall["actual_breached"]) == (1, 0)
    assert (overall["what_if_met"], overall["what_if_breached"]) == (0, 1)
    assert len(centre.history(case_id)) == recorded  # the replay recorded nothing


def _recomputed(setup: Setup, case_id: UUID) -> int:
    history = setup.container.care_centre.history(case_id)
    return sum(isinstance(event, Case.SlaDeadlineRecomputed) for event in history)


def _run_worker_until(setup: Setup, policy: Path, settled: Callable[[], bool]) -> None:
    worker = worker_with_policy(setup, policy)
    try:
        deadline = time.monotonic() + 30
        while not settled():
            assert worker.poll() is None, "the worker stopped"
            assert time.monotonic() < deadline, "not within 30 s"
            time.sleep(0.1)
        time.sleep(1.5)  # anything more it would do, it would do now
    finally:
        worker.terminate()
        worker.wait(15)


def test_a_worker_that_starts_with_a_changed_policy_applies_it_to_open_cases_once(
    setup: Setup, tmp_path: Path
) -> None:
    case_id = open_case(setup, "Hỏi về chế độ thai sản")
    applied = setup.container.datastore
    with setup.projections.worker(setup.projections.names, lock_retry_seconds=0.1):
        assert setup.projections.wait_until_caught_up(timeout=30)
    default = setup.container.settings.sla_policy_path
    assert default is not None
    _run_worker_until(
        setup, default, lambda: bool(applied.execute("SELECT 1 FROM sla_policy_applied"))
    )
    assert _recomputed(setup, case_id) == 0  # the policy the case was opened under: no change
    closed_monday = tmp_path / "closed-monday.toml"
    closed_monday.write_text(
        DEFAULT_POLICY_TOML.replace(
            "[calendars.office]", '[calendars.office]\nclosed = ["2026-11-30"]'
        ),
        encoding="utf-8",
    )

    _run_worker_until(setup, closed_monday, lambda: _recomputed(setup, case_id) == 2)
    _run_worker_until(setup, closed_monday, lambda: True)  # the same policy again

    assert _recomputed(setup, case_id) == 2  # both clocks moved, once
    assert first_response_due(setup, case_id) == datetime(2026, 12, 1, 16, 30, tzinfo=VN)
