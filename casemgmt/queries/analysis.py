"""The improvement analysis report: the evidence for process and policy proposals, computed in SQL
from the reports projection's tables (`report_cases` and the `analysis_*` tables).

Like the summary, it is about the cases **received** in `[from, to)`, as the events say now:

* `time_in_state`: the working time the cases spent in each open status, by category and by the
  unit that held them then, counted in that unit's calendar; a stretch counts once it ended (the
  one under way does not), and time resolved, closed or merged is nobody's work and not counted;
* `transfer_loops`: cases that came back to a unit they had left (A → B → A), by first loop;
* `reopen`: cases ever reopened;
* `repeat_contacts` (failure demand): cases whose requester had another case of the same category
  received in the 30 days before (that one may be older than `from`); anonymous and erased
  requesters are nobody's repeat, and a case without a category is no repeat;
* `subject_terms`: the terms of the subjects most cases of a category share;
* `breaches`: cases with a breach, by the unit that held the case when it breached (out of the
  cases that unit held) and by category;
* `satisfaction_by_resolution_time`: rated cases now resolved or closed, banded by the working
  time they spent open, receipt to resolution, reopened stretches included;
* `active_care`: the conferences and Q&A sessions **scheduled** in the period, not cases: held,
  attendance and questions raised, by kind, unit and insurance line (`casemgmt.queries.active_care`,
  the summary's block).

Rates are shares of the cases counted, from 0 to 1; null when there is nothing to count. The
queries run in one read-only snapshot, so the parts agree with each other.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Final

from casemgmt.domain import Status
from casemgmt.queries.active_care import active_care
from casemgmt.readmodels.analysis_case import BREACHES, CASES, OPEN_STATES, STATE_TIMES, TERMS
from casemgmt.readmodels.report_case import TABLE as REPORT_CASES

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping

    from casemgmt.domain.sla_policy import SlaPolicy
    from casemgmt.persistence.datastore import Datastore
    from casemgmt.queries.reports import Period

    # Runs one query of the report with its named parameters and returns its rows.
    Run = Callable[[str, Mapping[str, Any]], list[tuple[Any, ...]]]

REPEAT_WINDOW: Final = timedelta(days=30)
MOST_LOOPS: Final = 20
MOST_TERMS: Final = 10
SATISFIED: Final = 4  # the lowest score that counts as satisfied
_MICROSECONDS: Final = 1_000_000
_HOUR: Final = 3600

_COHORT: Final = (
    "WITH cohort AS (SELECT r.case_id, r.received_at, r.category_kind AS category, r.status,"
    " r.reopened, r.feedback_score, a.requester, a.units, a.loop, a.open_microseconds"
    f" FROM {REPORT_CASES} r JOIN {CASES} a USING (case_id)"
    " WHERE r.received_at >= %(from)s AND r.received_at < %(to)s)"
)
_REPEAT: Final = (
    "c.requester IS NOT NULL AND c.category IS NOT NULL AND EXISTS (SELECT"
    f" FROM {CASES} e JOIN {REPORT_CASES} er USING (case_id)"
    " WHERE e.requester = c.requester AND er.category_kind = c.category"
    " AND er.received_at >= c.received_at - %(window)s"
    " AND (er.received_at, er.case_id) < (c.received_at, c.case_id))"
)
_BY_CATEGORY: Final = (
    f"{_COHORT}, flagged AS (SELECT c.category, c.reopened, c.loop IS NOT NULL AS looped,"
    f" {_REPEAT} AS repeated,"
    f" EXISTS (SELECT FROM {BREACHES} b WHERE b.case_id = c.case_id) AS breached"
    " FROM cohort c)"
    " SELECT GROUPING(category) <> 0, category, count(*), count(*) FILTER (WHERE reopened),"
    " count(*) FILTER (WHERE repeated), count(*) FILTER (WHERE breached),"
    " count(*) FILTER (WHERE looped)"
    " FROM flagged GROUP BY GROUPING SETS ((category), ())"
)
_TIME_IN_STATE: Final = (
    f"{_COHORT} SELECT c.category, s.unit, s.status, count(DISTINCT s.case_id),"
    " sum(s.working_microseconds)"
    f" FROM cohort c JOIN {STATE_TIMES} s USING (case_id)"
    " GROUP BY GROUPING SETS ((c.category, s.unit, s.status), (c.category, s.unit))"
)
_LOOPS: Final = f"{_COHORT} SELECT loop, count(*) FROM cohort WHERE loop IS NOT NULL GROUP BY loop"
_TERMS: Final = (
    f"{_COHORT} SELECT category, term, cases FROM (SELECT c.category, t.term, count(*) AS cases,"
    ' row_number() OVER (PARTITION BY c.category ORDER BY count(*) DESC, t.term COLLATE "C")'
    f" AS rank FROM cohort c JOIN {TERMS} t USING (case_id) GROUP BY c.category, t.term) ranked"
    " WHERE rank <= %(terms)s ORDER BY rank"
)
_BREACHES_BY_UNIT: Final = (
    f"{_COHORT}, held AS (SELECT DISTINCT c.case_id, u.unit"
    " FROM cohort c, jsonb_array_elements_text(c.units) AS u(unit)),"
    f" breached AS (SELECT DISTINCT b.case_id, b.unit"
    f" FROM {BREACHES} b JOIN cohort USING (case_id))"
    " SELECT h.unit, count(*), count(b.case_id) FROM held h LEFT JOIN breached b"
    " ON b.case_id = h.case_id AND b.unit IS NOT DISTINCT FROM h.unit GROUP BY h.unit"
)
_ENDED: Final = f"('{Status.RESOLVED.value}', '{Status.CLOSED.value}')"
_SATISFACTION: Final = (
    f"{_COHORT} SELECT band, count(*), avg(feedback_score)::float8,"
    " count(*) FILTER (WHERE feedback_score >= %(satisfied)s)"
    " FROM (SELECT width_bucket(open_microseconds, %(bounds)s::bigint[]) AS band, feedback_score"
    f" FROM cohort WHERE feedback_score IS NOT NULL AND status IN {_ENDED}) rated GROUP BY band"
)


@dataclass(frozen=True)
class Band:
    """A band of working time open; `max_seconds` is its end, excluded (None: no end)."""

    label: str
    max_seconds: float | None


def bands(policy: SlaPolicy) -> list[Band]:
    """The satisfaction bands; a working day is the mean working day of the policy's default
    calendar (7.5 hours in the built-in one), at least the four hours of the first band."""
    day = max(working_day_seconds(policy), 4 * _HOUR)
    return [
        Band("under 4 working hours", 4.0 * _HOUR),
        Band("4 working hours to 1 working day", day),
        Band("1 to 3 working days", 3 * day),
        Band("3 to 5 working days", 5 * day),
        Band("over 5 working days", None),
    ]


def working_day_seconds(policy: SlaPolicy) -> float:
    """The mean length of a working day of the policy's default calendar (24 hours when it is
    always open)."""
    calendar = policy.calendars[policy.default_calendar]
    days = [sum(i.end - i.start for i in hours) for hours in calendar.week if hours]
    if calendar.always_open or not days:
        return 24.0 * _HOUR
    return 60.0 * sum(days) / len(days)


def analysis(datastore: Datastore, period: Period, policy: SlaPolicy) -> dict[str, Any]:
    """The improvement analysis of the cases received in the period (see the module), as
    JSON-native values: the moments are ISO-8601 text."""
    banded = bands(policy)
    params = {
        "from": period.start,
        "to": period.end,
        "window": REPEAT_WINDOW,
        "terms": MOST_TERMS,
        "satisfied": SATISFIED,
        "bounds": [int(b.max_seconds * _MICROSECONDS) for b in banded if b.max_seconds],
    }
    with _snapshot(datastore) as run:
        categories = run(_BY_CATEGORY, params)
        states = run(_TIME_IN_STATE, params)
        loops = run(_LOOPS, params)
        terms = run(_TERMS, params)
        units = run(_BREACHES_BY_UNIT, params)
        satisfaction = run(_SATISFACTION, params)
        sessions = active_care(run, period)
    total = next(row for row in categories if row[0])  # the empty grouping set always has one
    groups = [row[1:] for row in categories if not row[0]]
    cases = total[2]
    return {
        "from": period.start.isoformat(),
        "to": period.end.isoformat(),
        "tz": period.timezone,
        "cases": cases,
        "time_in_state": _time_in_state(states),
        "transfer_loops": {
            "cases": total[6],
            "rate": _share(total[6], cases),
            "loops": _loops(loops),
        },
        "reopen": _counted(total[3], cases, groups, 2),
        "repeat_contacts": _counted(total[4], cases, groups, 3),
        "subject_terms": _subject_terms(terms),
        "breaches": {
            "by_unit": _breached("unit", units),
            "by_category": _breached("category", [(g[0], g[1], g[4]) for g in groups]),
        },
        "satisfaction_by_resolution_time": _satisfaction(banded, satisfaction),
        "active_care": sessions,
    }


@contextmanager
def _snapshot(datastore: Datastore) -> Iterator[Run]:
    """Queries that all see the tables at one moment: one read-only repeatable-read transaction
    (a batch the projection writes meanwhile is seen by none of them)."""
    with datastore.pool.connection() as conn, conn.cursor() as cursor:
        cursor.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")

        def run(query: str, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
            cursor.execute(query, params)
            return cursor.fetchall()

        yield run
        cursor.execute("COMMIT")


def _time_in_state(rows: Iterable[tuple[Any, ...]]) -> list[dict[str, Any]]:
    pairs: dict[tuple[str | None, str | None], dict[str, Any]] = {}
    spent: dict[tuple[str | None, str | None], dict[str, Any]] = {}
    for category, unit, status, cases, microseconds in rows:
        if status is None:  # the pair's own line: every case with time at that unit
            pairs[(category, unit)] = {"category": category, "unit": unit, "cases": cases}
            continue
        total = int(microseconds) / _MICROSECONDS
        spent.setdefault((category, unit), {})[status] = {
            "cases": cases,
            "total_seconds": total,
            "mean_seconds": total / cases,
        }
    return [
        {**pairs[key], "states": {s: spent[key][s] for s in OPEN_STATES if s in spent[key]}}
        for key in sorted(pairs, key=lambda key: (_last(key[0]), _last(key[1])))
    ]


def _loops(rows: Iterable[tuple[Any, ...]]) -> list[dict[str, Any]]:
    ordered = sorted(rows, key=lambda row: (-row[1], row[0]))
    return [{"units": units, "cases": cases} for units, cases in ordered[:MOST_LOOPS]]


def _counted(
    counted: int, cases: int, groups: list[tuple[Any, ...]], column: int
) -> dict[str, Any]:
    """A count of the cohort and of each category, with its share of their cases."""
    by_category = [
        {"category": g[0], "cases": g[column], "rate": _share(g[column], g[1])} for g in groups
    ]
    return {
        "cases": counted,
        "rate": _share(counted, cases),
        "by_category": sorted(by_category, key=_most_first("category", "cases")),
    }


def _subject_terms(rows: Iterable[tuple[Any, ...]]) -> list[dict[str, Any]]:
    terms: dict[str | None, list[dict[str, Any]]] = {}
    for category, term, cases in rows:  # most frequent first, within each category
        terms.setdefault(category, []).append({"term": term, "count": cases})
    return [
        {"category": category, "terms": terms[category]} for category in sorted(terms, key=_last)
    ]


def _breached(key: str, rows: Iterable[tuple[Any, ...]]) -> list[dict[str, Any]]:
    listed = [
        {key: name, "cases": cases, "breached": breached, "rate": _share(breached, cases)}
        for name, cases, breached in rows
    ]
    return sorted(listed, key=_most_first(key, "breached"))


def _satisfaction(banded: list[Band], rows: Iterable[tuple[Any, ...]]) -> list[dict[str, Any]]:
    found = {band: (responses, mean, satisfied) for band, responses, mean, satisfied in rows}
    answer = []
    for number, band in enumerate(banded):
        responses, mean, satisfied = found.get(number, (0, None, 0))
        answer.append(
            {
                "band": band.label,
                "max_seconds": band.max_seconds,
                "responses": responses,
                "mean": mean,
                "share_satisfied": _share(satisfied, responses),
            }
        )
    return answer


def _most_first(key: str, count: str) -> Any:
    """Sorts by the count, then the rate, highest first, then by name (none last)."""
    return lambda item: (-item[count], -(item["rate"] or 0.0), _last(item[key]))


def _last(name: str | None) -> tuple[bool, str]:
    """Sorts names in code-point order, with none after every name."""
    return (name is None, name or "")


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None
