"""`casemgmt report analysis`: the analysis of cases worked through the application, written as
one HTML page by the command an operator runs; and one clear line when it is asked wrongly."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import pytest

from casemgmt.domain import (
    Action,
    Actor,
    Category,
    Channel,
    Context,
    InquiryKind,
    InsuranceLine,
    Priority,
    Requester,
    RequesterKind,
    Role,
)
from tests.integration.test_cli import casemgmt, configured
from tests.support.projections import fresh_setup

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path
    from uuid import UUID

    from casemgmt.settings import Settings
    from tests.support.projections import Setup

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
MONDAY = datetime(2026, 11, 23, 9, 0, tzinfo=HANOI)  # a working morning in both units
SWITCHBOARD = Actor("switchboard", Role.INTAKE)
SUPERVISOR = Actor("mai.tran", Role.SUPERVISOR)
CITIZEN = Requester(RequesterKind.CITIZEN, "0123456789", "Nguyễn Văn A", "a@example.vn")
PENSION = Category(InsuranceLine.SOCIAL, InquiryKind.BENEFIT_STATUS)
PERIOD = ("--from", "2026-11-23", "--to", "2026-11-25", "--tz", "Asia/Ho_Chi_Minh")


def at(minutes: float, actor: Actor = SUPERVISOR) -> Context:
    return Context(actor, MONDAY + timedelta(minutes=minutes), f"report-{minutes}", "api")


def worked_case(setup: Setup, subject: str, start: float, *, units: list[str]) -> UUID:
    """A case received at `start` minutes, triaged to the first unit, passed along the others,
    answered, resolved and rated 5 (minutes 0 to 100 of its own)."""
    centre = setup.container.care_centre
    case, _ = centre.open_case(
        channel=Channel.EMAIL,
        subject=subject,
        requester=CITIZEN,
        received_at=MONDAY + timedelta(minutes=start),
        ctx=at(start, SWITCHBOARD),
    )
    minute = start + 10
    priority, unit = Priority.NORMAL, units[0]
    centre.act(case.id, Action.TRIAGE, at(minute), category=PENSION, priority=priority, unit=unit)
    for unit in units[1:]:
        centre.act(case.id, Action.ASSIGN, at(minute + 5), agent="lan.nguyen")
        centre.act(case.id, Action.TRANSFER, at(minute + 10), unit=unit, reason="Nơi cư trú")
        minute += 10
    centre.act(case.id, Action.ASSIGN, at(minute + 5), agent="binh.le")
    centre.act(case.id, Action.REPLY, at(minute + 10), message="Sổ đã được gửi qua bưu điện.")
    centre.act(case.id, Action.RESOLVE, at(minute + 20), resolution="answered", summary=None)
    centre.act(case.id, Action.FEEDBACK, at(minute + 30, SWITCHBOARD), score=5)
    return case.id


@pytest.fixture
def setup(servers: Settings) -> Iterator[Setup]:
    with fresh_setup(servers) as made:
        yield made


@pytest.fixture
def worked(setup: Setup) -> Setup:
    """Two cases of one citizen about a pension: the first sent from Hanoi to Hai Phong and back,
    the second (the citizen asking again) reopened once."""
    worked_case(setup, "Chưa nhận được sổ bảo hiểm xã hội", 0, units=["hanoi", "haiphong", "hanoi"])
    again = worked_case(setup, "Hỏi lại về sổ bảo hiểm xã hội", 120, units=["hanoi"])
    centre = setup.container.care_centre
    centre.act(again, Action.REOPEN, at(260), reason="Công dân hỏi lại")
    centre.act(again, Action.RESOLVE, at(270), resolution="answered", summary=None)
    with setup.projections.worker(["reports"], lock_retry_seconds=0.1):
        assert setup.projections.wait_until_caught_up(names=["reports"], timeout=30)
    return setup


def part(page: str, anchor: str) -> str:
    match = re.search(rf'<(section|header) id="{anchor}">(.*?)</\1>', page, re.DOTALL)
    assert match is not None, f"no part {anchor!r} on the page"
    return match.group(2)


def test_the_analysis_of_worked_cases_is_written_as_one_html_page(
    worked: Setup, tmp_path: Path
) -> None:
    out = tmp_path / "analysis.html"

    env = configured(worked.container.settings)

    done = casemgmt("report", "analysis", *PERIOD, "--out", str(out), env=env)

    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == f"wrote the analysis of 2 cases to {out}"
    page = out.read_text(encoding="utf-8")
    headline = part(page, "headline")
    assert "from 23 November 2026 to 24 November 2026 (UTC+07:00)" in headline
    assert '<span class="figure">2</span><span class="what">cases received' in headline
    assert '<span class="figure">50.0%</span><span class="what">reopened' in headline
    assert '<span class="figure">50.0%</span><span class="what">came back within 30' in headline
    assert "hanoi → haiphong → hanoi" in part(page, "transfer-loops")
    assert "benefit status · hanoi" in part(page, "time-in-state")
    assert "benefit status · haiphong" in part(page, "time-in-state")
    assert "bao hiem" in part(page, "subject-terms")  # folded, from both subjects
    assert "No SLA was breached" in part(page, "breaches")
    assert "5.0" in part(page, "satisfaction")
    assert "<svg" in part(page, "satisfaction")


def test_without_out_the_page_goes_to_stdout(worked: Setup) -> None:
    done = casemgmt("report", "analysis", *PERIOD, env=configured(worked.container.settings))

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("<!DOCTYPE html>")
    assert "Chưa" not in done.stdout  # subjects are shown as their folded terms only
    assert done.stderr.strip() == "wrote the analysis of 2 cases to stdout"


def test_a_period_without_cases_says_so(setup: Setup, tmp_path: Path) -> None:
    out = tmp_path / "empty.html"
    dates = ("--from", "2020-01-01", "--to", "2020-02-01", "--out", str(out))

    done = casemgmt("report", "analysis", *dates, env=configured(setup.container.settings))

    assert done.returncode == 0, done.stderr
    assert out.read_text(encoding="utf-8").count("No cases in this period.") == 7


def test_a_report_that_cannot_be_made_leaves_the_earlier_one_in_place(
    servers: Settings, tmp_path: Path
) -> None:
    out = tmp_path / "analysis.html"
    out.write_text("the report of last month", encoding="utf-8")
    env = {**configured(servers), "CASEMGMT_DATABASE_URL": "postgresql://app:pw@127.0.0.1:1/x"}

    done = casemgmt("report", "analysis", *PERIOD, "--out", str(out), env=env)

    assert done.returncode != 0
    assert out.read_text(encoding="utf-8") == "the report of last month"


@pytest.mark.parametrize(
    ("asked", "said"),
    [
        (
            ("--from", "2026-13-01", "--to", "2026-12-01"),
            "casemgmt: error: --from: '2026-13-01' is not an ISO-8601 date or moment",
        ),
        (
            ("--from", "2026-11-01", "--to", "next week"),
            "casemgmt: error: --to: 'next week' is not an ISO-8601 date or moment",
        ),
        (
            ("--from", "2026-12-01", "--to", "2026-11-01"),
            "casemgmt: error: --to: '2026-11-01' must be later than --from '2026-12-01'",
        ),
        (
            ("--from", "2026-11-01", "--to", "2026-12-01", "--tz", "Asia/Hanoi"),
            "casemgmt: error: --tz: 'Asia/Hanoi' is not an IANA time zone "
            "(e.g. Asia/Ho_Chi_Minh or UTC)",
        ),
        (
            ("--from", "2026-11-01", "--to", "2026-12-01", "--out", "/no/such/dir/a.html"),
            "casemgmt: error: --out: /no/such/dir is not a directory",
        ),
    ],
)
def test_a_wrong_argument_stops_with_one_line_and_status_2(
    servers: Settings, asked: tuple[str, ...], said: str
) -> None:
    done = casemgmt("report", "analysis", *asked, env=configured(servers))

    assert done.returncode == 2
    assert done.stderr.strip() == said
    assert done.stdout == ""
