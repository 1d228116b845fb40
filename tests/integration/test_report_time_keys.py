"""The summary's day, week and month: of the moment of receipt, in the report's time zone.

The rows are written straight into the reports' read table: what is tested is how the query
groups them, near midnight, where the zone decides the day, the week and the month.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from uuid import uuid4

from casemgmt.queries.reports import GroupBy, Period, summary
from tests.support.projections import fresh_setup

if TYPE_CHECKING:
    from casemgmt.settings import Settings

# Sunday 29 November 2026, 23:30 UTC: Monday the 30th, 06:30, in Hanoi.
SUNDAY_NIGHT = datetime(2026, 11, 29, 23, 30, tzinfo=UTC)
# Monday 30 November 2026, 17:30 UTC: Tuesday 1 December, 00:30, in Hanoi.
MONDAY_EVENING = datetime(2026, 11, 30, 17, 30, tzinfo=UTC)
BY_TIME = [GroupBy.DAY, GroupBy.WEEK, GroupBy.MONTH]


def keys(report: dict[str, Any]) -> list[dict[str, str]]:
    return [group["key"] for group in report["groups"]]


def test_day_week_and_month_are_those_of_the_receipt_in_the_reports_time_zone(
    servers: Settings,
) -> None:
    with fresh_setup(servers) as setup:
        datastore = setup.container.datastore
        for received_at in (MONDAY_EVENING, SUNDAY_NIGHT):
            datastore.execute(
                "INSERT INTO report_cases (case_id, received_at, channel, priority, status,"
                " reopened, transferred, escalated, merged, survey_requested)"
                " VALUES (%s, %s, 'phone', 'normal', 'received', false, false, false, false,"
                " false)",
                [str(uuid4()), received_at],
            )
        start, end = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 3, tzinfo=UTC)

        in_utc = summary(datastore, Period(start, end, "UTC"), BY_TIME)
        in_hanoi = summary(datastore, Period(start, end, "Asia/Ho_Chi_Minh"), BY_TIME)

    assert keys(in_utc) == [
        {"day": "2026-11-29", "week": "2026-11-23", "month": "2026-11"},
        {"day": "2026-11-30", "week": "2026-11-30", "month": "2026-11"},
    ]
    assert keys(in_hanoi) == [
        {"day": "2026-11-30", "week": "2026-11-30", "month": "2026-11"},
        {"day": "2026-12-01", "week": "2026-11-30", "month": "2026-12"},
    ]
    assert in_hanoi["total"]["received"] == 2
