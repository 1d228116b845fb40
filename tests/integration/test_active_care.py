"""Active care in the reports on real PostgreSQL: conferences and Q&A sessions told through
`CareSessions` (tests/support/active_care.py), projected by `active_care` from the sessions' own
log into `report_sessions`, and counted in the summary and the analysis. Every figure is
recomputed from the events; a rebuild, or an upgraded store replaying the log, gives the same
figures; erasing a requester who asked at a session changes nothing there.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest

from casemgmt.domain import Actor, Context, Role
from casemgmt.domain.sessions import SessionKind
from casemgmt.persistence.recorders import PostgresApplicationRecorder
from casemgmt.queries.active_care import active_care
from casemgmt.queries.analysis import analysis
from casemgmt.queries.reports import GroupBy, Period, summary
from casemgmt.readmodels.report_session import TABLE
from tests.support.active_care import (
    ASKED_BY,
    T0,
    Sessions,
    d,
    linked_cases,
    recomputed,
    session_facts,
    tell,
)
from tests.support.analysis import Stories
from tests.support.projections import fresh_setup

if TYPE_CHECKING:
    from collections.abc import Iterator

    from casemgmt.settings import Settings
    from tests.support.projections import Setup

PERIOD = Period(T0, T0 + timedelta(days=30), "Asia/Ho_Chi_Minh")
ACTIVE_CARE = "active_care"
ADMIN = Actor("admin-1", Role.ADMIN)


@pytest.fixture
def setup(servers: Settings) -> Iterator[Setup]:
    with fresh_setup(servers) as fresh:
        yield fresh


@pytest.fixture
def told(setup: Setup) -> Sessions:
    sessions = Sessions(setup.container.care_sessions)
    tell(sessions)
    follow(setup)
    return sessions


def follow(setup: Setup) -> None:
    with setup.projections.worker([ACTIVE_CARE]):
        assert setup.projections.wait_until_caught_up(names=[ACTIVE_CARE], timeout=30)


def figures(setup: Setup, period: Period = PERIOD) -> dict[str, Any]:
    return active_care(setup.container.datastore.execute, period)


def table_rows(setup: Setup) -> list[tuple[Any, ...]]:
    return setup.container.datastore.execute(f"SELECT t::text FROM {TABLE} t ORDER BY session_id")


# -- tests ----------------------------------------------------------------------------------------


def test_every_figure_equals_a_computation_from_the_events(setup: Setup, told: Sessions) -> None:
    facts = session_facts(setup.container.care_sessions)
    expected = recomputed(facts, PERIOD)

    assert figures(setup) == expected
    container = setup.container
    assert summary(container.datastore, PERIOD, [])["active_care"] == expected
    assert analysis(container.datastore, PERIOD, container.sla_policy)["active_care"] == expected
    # The questions a session lists are the cases the cases' own log links to it.
    linked = linked_cases(container.care_centre)
    assert {i: f.questions for i, f in facts.items() if f.questions} == linked


def test_the_figures_are_those_the_sessions_tell(setup: Setup, told: Sessions) -> None:
    result = figures(setup)

    # In the period: five scheduled, four held (not Thanh Hoá's); each question, sent twice, once.
    assert {k: result[k] for k in ("scheduled", "held", "attendance", "questions_raised")} == {
        "scheduled": 5,
        "held": 4,
        "attendance": 120 + 45 + 80 + 30,
        "questions_raised": 3 + 1 + 2,
    }
    assert result["by_kind"] == [
        {"kind": "conference", "scheduled": 2, "held": 2, "attendance": 200, "questions_raised": 3},
        {"kind": "qa", "scheduled": 3, "held": 2, "attendance": 75, "questions_raised": 3},
    ]
    assert [(u["unit"], u["scheduled"], u["held"], u["attendance"]) for u in result["by_unit"]] == [
        ("danang", 1, 1, 30),
        ("hanoi", 2, 2, 165),
        ("hue", 1, 1, 80),
        ("thanhhoa", 1, 0, 0),
    ]
    assert [(g["line"], g["questions_raised"]) for g in result["by_line"]] == [
        ("health", 1),
        ("social", 5),
        ("unemployment", 0),
        (None, 0),  # the Huế conference about no line in particular
    ]


def test_the_period_takes_the_sessions_scheduled_in_it(setup: Setup, told: Sessions) -> None:
    before = figures(setup, Period(d(-4), d(-2)))
    assert (before["scheduled"], before["attendance"], before["questions_raised"]) == (1, 500, 1)
    after = figures(setup, Period(d(39), d(41)))
    assert (after["scheduled"], after["held"], after["by_unit"][0]["unit"]) == (1, 0, "hue")
    nothing = figures(setup, Period(d(100), d(101)))
    assert nothing == {
        "scheduled": 0,
        "held": 0,
        "attendance": 0,
        "questions_raised": 0,
        "by_kind": [],
        "by_unit": [],
        "by_line": [],
    }


def test_each_session_is_one_row_with_what_the_reports_group_and_add_up(
    setup: Setup, told: Sessions
) -> None:
    rows = setup.container.datastore.execute(
        f"SELECT kind, status, unit, line, topic, scheduled_for, held_at, attendance, questions"
        f" FROM {TABLE} WHERE session_id = %s",
        [told.ids["hanoi_conference"]],
    )
    assert rows == [
        (
            "conference",
            "held",
            "hanoi",
            "social",
            "Đối thoại chính sách: hanoi_conference",
            d(1),
            d(1) + timedelta(hours=2),
            120,
            3,
        )
    ]
    (planned,) = setup.container.datastore.execute(
        f"SELECT status, held_at, attendance, questions FROM {TABLE} WHERE session_id = %s",
        [told.ids["thanhhoa_qa"]],
    )
    assert planned == ("scheduled", None, None, 0)
    assert len(table_rows(setup)) == len(told.ids)


def test_a_rebuild_gives_identical_figures(setup: Setup, told: Sessions) -> None:
    before, rows = figures(setup), table_rows(setup)
    execute = setup.container.datastore.execute
    execute(
        f"UPDATE {TABLE} SET attendance = 1, questions = 0; DELETE FROM {TABLE} WHERE line IS NULL"
    )
    assert figures(setup) != before

    replayed = setup.projections.rebuild(ACTIVE_CARE)

    recorder = setup.container.care_sessions.recorder
    assert isinstance(recorder, PostgresApplicationRecorder)
    assert replayed == recorder.count_notifications()  # the sessions' log, not the cases'
    assert replayed < setup.projections.log.head()
    assert figures(setup) == before
    assert table_rows(setup) == rows


def test_an_upgraded_store_replays_the_sessions_recorded_before_the_table(
    setup: Setup, told: Sessions
) -> None:
    """Migration 0018 adds the table and the projection: with no position yet, the first worker
    records 0 and replays the sessions' whole log, so sessions held before the upgrade count."""
    before = figures(setup)
    execute = setup.container.datastore.execute
    execute(
        f"DELETE FROM {TABLE}; DELETE FROM projection_tracking WHERE projection_name = %s",
        [ACTIVE_CARE],
    )
    assert figures(setup)["scheduled"] == 0  # an old store: sessions recorded, no rows yet

    follow(setup)

    assert figures(setup) == before


def test_the_projection_follows_the_sessions_log_and_is_measured_against_its_head(
    setup: Setup, told: Sessions
) -> None:
    """Positions in the sessions' log are not positions in the cases' log: the cases' log is far
    longer here (every question opened a case of several events), so a projection measured
    against the wrong head would never catch up, or would seem caught up too early."""
    projections = setup.projections
    sessions_head = setup.container.care_sessions.recorder.max_notification_id()
    cases_head = projections.log.head()
    assert sessions_head is not None and cases_head != sessions_head
    assert projections.log_of(ACTIVE_CARE).channel == "caresessions_events"

    assert projections.positions([ACTIVE_CARE]) == {ACTIVE_CARE: sessions_head}
    assert projections.heads([ACTIVE_CARE, "reports"]) == {
        ACTIVE_CARE: sessions_head,
        "reports": cases_head,
    }
    assert projections.lag()[ACTIVE_CARE] == 0
    assert projections.caught_up(cases_head, [ACTIVE_CARE])

    Sessions(setup.container.care_sessions).schedule("late", SessionKind.QA, "hue", None, d(20))
    assert projections.lag()[ACTIVE_CARE] == 1
    assert not projections.caught_up(names=[ACTIVE_CARE])
    follow(setup)  # a worker woken by the sessions' NOTIFY channel
    assert figures(setup)["scheduled"] == 6


def test_erasing_a_requester_who_asked_at_a_session_changes_nothing_there(
    setup: Setup, told: Sessions
) -> None:
    rows, before = table_rows(setup), figures(setup)
    ctx = Context(ADMIN, d(60), str(uuid.uuid4()), "api")
    assert setup.container.erasure.erase(ASKED_BY, "request ER-2026-31", ctx).cases == 3
    follow(setup)

    assert table_rows(setup) == rows  # nothing personal was there to purge
    assert figures(setup) == before  # the questions were raised all the same
    text = "\n".join(text for (text,) in rows)
    assert ASKED_BY not in text and "Lê Thị Hoa" not in text and "Câu hỏi" not in text
    setup.projections.rebuild(ACTIVE_CARE)
    assert figures(setup) == before


def test_sessions_and_cases_are_reported_side_by_side_in_the_summary(
    setup: Setup, told: Sessions
) -> None:
    """The summary's cases are those received in the period, the questions' cases among them;
    `active_care` counts sessions, whatever the summary is grouped by."""
    stories = Stories(setup.container.care_centre)
    stories.receive("phoned", d(2), "Hỏi về BHTN", "0100000001", "hanoi")
    with setup.projections.worker(["reports"]):
        assert setup.projections.wait_until_caught_up(names=["reports"], timeout=30)
    grouped = summary(setup.container.datastore, PERIOD, [GroupBy.CHANNEL, GroupBy.UNIT])

    in_person = [g for g in grouped["groups"] if g["key"]["channel"] == "in_person"]
    assert sum(g["received"] for g in in_person) == 6  # the questions raised in the period
    assert grouped["total"]["received"] == 7
    assert grouped["active_care"] == figures(setup)
