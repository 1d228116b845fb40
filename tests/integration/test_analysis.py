"""The improvement analysis report on real PostgreSQL, from cases told through the care centre's
own commands (tests/support/analysis.py): transfers back and forth, reopens, repeat contacts
within and outside 30 days, breaches recorded by the SLA timer and clocks stopped late, ratings,
Vietnamese subjects with and without their marks. Every figure is recomputed from the cases'
events; a rebuild gives the same report; an erasure leaves no pseudonym and no subject term.
(A little over 300 lines: one test per behaviour, and the stand-in connection of the snapshot test.)
"""

from __future__ import annotations

import dataclasses
import uuid
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

import pytest

from casemgmt.domain import Action, Actor, Context, Role
from casemgmt.persistence.shredding import RequesterKeys
from casemgmt.queries.analysis import analysis
from casemgmt.queries.reports import Period
from casemgmt.readmodels.analysis_case import BREACHES, CASES, STATE_TIMES, TERMS
from casemgmt.readmodels.subject_terms import subject_terms
from tests.support.analysis import POLICY, T0, Stories, d, h, recomputed, tell
from tests.support.projections import fresh_setup

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from casemgmt.settings import Settings
    from tests.support.projections import Setup

PERIOD = Period(T0, T0 + timedelta(days=60), "Asia/Ho_Chi_Minh")
ADMIN = Actor("admin-1", Role.ADMIN)


@pytest.fixture
def setup(servers: Settings, tmp_path: Path) -> Iterator[Setup]:
    policy = tmp_path / "sla.toml"
    policy.write_text(POLICY, encoding="utf-8")
    with fresh_setup(dataclasses.replace(servers, sla_policy_path=policy)) as fresh:
        yield fresh


@pytest.fixture
def told(setup: Setup) -> Stories:
    stories = Stories(setup.container.care_centre)
    tell(stories)
    follow(setup)
    return stories


def follow(setup: Setup) -> None:
    with setup.projections.worker(["reports"]):
        assert setup.projections.wait_until_caught_up(names=["reports"], timeout=60)


def report(setup: Setup, period: Period = PERIOD) -> dict[str, Any]:
    return analysis(setup.container.datastore, period, setup.container.sla_policy)


def every_case(setup: Setup) -> list[UUID]:
    notifications = setup.container.care_centre.recorder.select_notifications(1, 1_000_000)
    return list(dict.fromkeys(UUID(str(n.originator_id)) for n in notifications))


def assert_same(actual: Any, expected: Any, where: str = "") -> None:
    if isinstance(expected, dict):
        assert set(actual) == set(expected), where
        for key in expected:
            assert_same(actual[key], expected[key], f"{where}.{key}")
    elif isinstance(expected, list):
        assert len(actual) == len(expected), (where, actual, expected)
        for number, (got, wanted) in enumerate(zip(actual, expected, strict=True)):
            assert_same(got, wanted, f"{where}[{number}]")
    elif isinstance(expected, float):
        assert actual == pytest.approx(expected, rel=1e-9), where
    else:
        assert actual == expected, where


def item(items: list[dict[str, Any]], **key: Any) -> dict[str, Any]:
    (found,) = [i for i in items if all(i[k] == v for k, v in key.items())]
    return found


def table_text(setup: Setup) -> str:
    """Every row of the analysis tables, as PostgreSQL writes them out (bytea as hex)."""
    rows = []
    for table in (CASES, STATE_TIMES, BREACHES, TERMS):
        rows += setup.container.datastore.execute(f"SELECT t::text FROM {table} t")
    return "\n".join(text for (text,) in rows)


# -- tests ----------------------------------------------------------------------------------------


def test_every_figure_equals_a_computation_from_the_events(setup: Setup, told: Stories) -> None:
    container = setup.container
    expected = recomputed(
        container.care_centre,
        every_case(setup),
        PERIOD,
        container.sla_policy,
        container.care_sessions,
    )
    assert_same(report(setup), expected)


def test_the_figures_are_those_the_stories_tell(setup: Setup, told: Stories) -> None:
    result = report(setup)

    assert result["cases"] == 16  # every story but the case received before the period
    assert result["transfer_loops"]["loops"] == [
        {"units": ["hanoi", "haiphong", "hanoi"], "cases": 2},
        {"units": ["danang", "hue", "danang"], "cases": 1},
    ]
    assert result["transfer_loops"]["rate"] == pytest.approx(3 / 16)
    assert (result["reopen"]["cases"], result["reopen"]["rate"]) == (1, pytest.approx(1 / 16))
    # Ten days after the first (one of them before the period), and a duplicate sent again.
    repeats = result["repeat_contacts"]
    assert repeats["cases"] == 3
    contribution = item(repeats["by_category"], category="contribution")
    assert (contribution["cases"], contribution["rate"]) == (2, pytest.approx(2 / 7))
    assert item(repeats["by_category"], category="policy_question")["cases"] == 1
    # Hai Phong counts in its own calendar: 10:00 to 11:00 UTC is working time there, not in Hanoi.
    haiphong = item(result["time_in_state"], category="benefit_status", unit="haiphong")
    assert haiphong["cases"] == 3
    assert haiphong["states"]["triaged"] == {
        "cases": 3,
        "total_seconds": 7200.0,
        "mean_seconds": 2400.0,
    }
    assert haiphong["states"]["in_progress"]["total_seconds"] == 14400.0
    assert (
        "awaiting_citizen"
        in item(result["time_in_state"], category="procedure", unit="hanoi")["states"]
    )
    # "Lương hưu" and "luong huu" are one term.
    benefits = item(result["subject_terms"], category="benefit_status")["terms"]
    assert {"term": "luong huu", "count": 2} in benefits
    by_unit = result["breaches"]["by_unit"]
    assert item(by_unit, unit="hanoi")["breached"] >= 2  # the timer's, and the slow one's
    assert item(by_unit, unit="haiphong")["breached"] >= 1  # stopped late, no timer
    assert item(by_unit, unit="hue")["breached"] == 0
    bands = result["satisfaction_by_resolution_time"]
    assert [band["max_seconds"] for band in bands] == [14400.0, 27000.0, 81000.0, 135000.0, None]
    assert bands[0]["responses"] >= 1  # resolved in half an hour, rated 4
    assert sum(band["responses"] for band in bands) == 6  # the rated cases resolved now


def test_the_period_takes_the_cases_received_in_it_and_finds_repeats_before_it(
    setup: Setup, told: Stories
) -> None:
    later = report(setup, Period(d(19), d(21)))
    assert later["cases"] == 1  # the repeat of a case received 25 days before
    assert later["repeat_contacts"]["cases"] == 1
    assert report(setup, Period(d(100), d(101)))["cases"] == 0
    assert report(setup, Period(d(100), d(101)))["repeat_contacts"]["rate"] is None


def test_a_rebuild_gives_an_identical_report(setup: Setup, told: Stories) -> None:
    before = report(setup)
    execute = setup.container.datastore.execute
    execute(f"DELETE FROM {TERMS}; UPDATE {CASES} SET loop = NULL, requester = NULL")
    execute(f"DELETE FROM {STATE_TIMES} WHERE status = 'triaged'; DELETE FROM {BREACHES}")
    assert report(setup) != before

    setup.projections.rebuild("reports")

    assert report(setup) == before


class _WriteAfterFirstQuery:
    """A pooled connection whose cursor lets another connection commit a change right after the
    report's first query: what a projection batch written meanwhile would do."""

    def __init__(self, conn: Any, change: Callable[[], None]) -> None:
        self.conn, self.change, self.queries = conn, change, 0

    def cursor(self) -> _WriteAfterFirstQuery:
        self.real = self.conn.cursor()
        return self

    def __enter__(self) -> _WriteAfterFirstQuery:
        return self

    def __exit__(self, *exc: object) -> None:
        self.real.close()

    def execute(self, query: str, params: Any = None) -> None:
        self.real.execute(query, params)
        if query.startswith("WITH"):
            self.queries += 1
            if self.queries == 1:
                self.change()

    def fetchall(self) -> list[tuple[Any, ...]]:
        return list(self.real.fetchall())


def test_the_report_reads_one_snapshot_while_the_projection_writes(
    setup: Setup, told: Stories, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = report(setup)
    pool = setup.container.datastore.pool
    pooled = pool.connection

    def change() -> None:
        other = pool.connect()  # autocommit: committed before the report's next query
        with other.cursor() as cursor:
            cursor.execute(f"DELETE FROM {STATE_TIMES}")
        other.close()

    @contextmanager
    def meddled() -> Iterator[Any]:
        with pooled() as conn:
            yield _WriteAfterFirstQuery(conn, change)

    monkeypatch.setattr(pool, "connection", meddled)
    during = report(setup)
    monkeypatch.undo()

    assert during == before
    assert report(setup)["time_in_state"] == []  # the change was made and committed


def test_an_upgraded_store_replays_the_log_into_the_new_tables(setup: Setup, told: Stories) -> None:
    """Migration 0015 forgets the reports projection's position: the next worker empties its
    tables and replays every event, so cases received before the upgrade are analysed too."""
    before = report(setup)
    execute = setup.container.datastore.execute
    execute(f"DELETE FROM {TERMS}; DELETE FROM {STATE_TIMES}; DELETE FROM {CASES}")
    assert report(setup)["cases"] == 0  # an old store: report_cases full, the new tables empty
    execute("DELETE FROM projection_tracking WHERE projection_name = 'reports'")

    follow(setup)

    assert report(setup) == before


def test_an_erasure_leaves_no_pseudonym_nor_subject_term_of_the_requester(setup: Setup) -> None:
    stories = Stories(setup.container.care_centre)
    subject = "Hỏi về chế độ hưu trí của bà Phạm Xuân Quỳnh"
    stories.receive("first", h(0), subject, "079912345678", "hanoi")
    stories.receive("again", h(1), subject, "079912345678", "hanoi")
    stories.receive("other", h(2), "Hỏi về chế độ hưu trí", "0312999888", "hanoi")
    for name in ("first", "again", "other"):
        stories.triage(name, h(3), "policy_question")
    follow(setup)
    keys = RequesterKeys(setup.container.datastore)
    pseudonym = keys.requester_hash("079912345678").hex()
    kept = keys.requester_hash("0312999888").hex()
    assert {"quynh", "che do", "huu tri"} <= subject_terms(subject)
    text = table_text(setup)
    assert pseudonym in text and "quynh" in text  # what the checks below look for is there
    assert report(setup)["repeat_contacts"]["cases"] == 1

    ctx = Context(ADMIN, d(10), str(uuid.uuid4()), "api")
    assert setup.container.erasure.erase("079912345678", "request ER-2026-17", ctx).cases == 2
    follow(setup)

    erased = [stories.ids["first"], stories.ids["again"]]

    def nothing_of_the_erased_requester_is_left() -> None:
        text = table_text(setup)
        assert pseudonym not in text
        assert "079912345678" not in text
        assert "quynh" not in text and "xuan" not in text
        assert kept in text and "huu tri" in text  # the other requester's are kept
        rows = setup.container.datastore.execute(
            f"SELECT count(*) FILTER (WHERE requester IS NOT NULL),"
            f" (SELECT count(*) FROM {TERMS} WHERE case_id = ANY(%s))"
            f" FROM {CASES} WHERE case_id = ANY(%s)",
            [erased, erased],
        )
        assert rows == [(0, 0)]
        assert report(setup)["repeat_contacts"]["cases"] == 0

    nothing_of_the_erased_requester_is_left()
    setup.projections.rebuild("reports")  # reads the erased cases' events as erased
    nothing_of_the_erased_requester_is_left()


def test_a_case_whose_requester_is_erased_keeps_its_times_and_breaches(
    setup: Setup, told: Stories
) -> None:
    before = report(setup)
    ctx = Context(ADMIN, d(70), str(uuid.uuid4()), "api")
    setup.container.erasure.erase("0100000006", "request ER-2026-18", ctx)  # the late stop
    follow(setup)
    after = report(setup)

    assert after["breaches"] == before["breaches"]
    assert after["time_in_state"] == before["time_in_state"]
    assert after["satisfaction_by_resolution_time"] == before["satisfaction_by_resolution_time"]

    def contribution_terms(result: dict[str, Any]) -> list[str]:
        return [t["term"] for t in item(result["subject_terms"], category="contribution")["terms"]]

    assert "bao hiem xa hoi" in contribution_terms(before)  # that case's subject alone had it
    assert "bao hiem xa hoi" not in contribution_terms(after)
    # A case of the requester opened after erasure has its own pseudonym again.
    Stories(setup.container.care_centre).receive("new", d(71), "Hỏi lại", "0100000006", "hanoi")
    follow(setup)
    assert setup.container.datastore.execute(
        f"SELECT count(*) FROM {CASES} WHERE requester IS NOT NULL AND since >= %s", [d(71)]
    ) == [(1,)]


def test_the_time_awaiting_the_citizen_counts_in_the_units_working_hours(setup: Setup) -> None:
    """Waiting for the citizen is time in `awaiting_citizen`, counted in the unit's calendar:
    from Monday 15:00 to Wednesday 10:00 in Hanoi is 1.5 + 7.5 + 2.5 working hours."""
    stories = Stories(setup.container.care_centre)
    stories.receive("awaited", h(0), "Hỏi về thai sản", "0100000099", "hanoi")
    stories.triage("awaited", h(0), "benefit_status")
    stories.worked("awaited", h(0))
    stories.act("awaited", h(7), Action.REQUEST_INFO, message="Xin giấy khai sinh.")
    stories.act("awaited", h(50), Action.CITIZEN_MESSAGE, message="Đã gửi.")
    follow(setup)
    rows = setup.container.datastore.execute(
        f"SELECT working_microseconds FROM {STATE_TIMES}"
        " WHERE case_id = %s AND status = 'awaiting_citizen'",
        [stories.ids["awaited"]],
    )
    assert rows == [(int(11.5 * 3600 * 1_000_000),)]
