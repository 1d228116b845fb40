"""Active care in the reports: the conferences and Q&A sessions **scheduled** in `[from, to)`,
computed in SQL from `report_sessions` (the `active_care` projection's table).

For those sessions, as the events say now: how many were scheduled, how many were recorded as
held, how many people attended them (held ones only), and how many questions were raised there
(each opened as an in-person case and listed by the session); in all, and by kind, by unit and by
insurance line (null: a session about no line in particular). Totals and groups come from one
query (`GROUPING SETS`), so they always agree. Both the summary (`casemgmt.queries.reports`) and
the improvement analysis (`casemgmt.queries.analysis`) answer this block as `active_care`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from casemgmt.domain.sessions import SessionStatus
from casemgmt.readmodels.report_session import TABLE

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from casemgmt.queries.reports import Period

    # Runs one query with its named parameters and returns its rows.
    Run = Callable[[str, Mapping[str, Any]], list[tuple[Any, ...]]]

# What a session is grouped by, as the key is named in each group.
KEYS: Final = ("kind", "unit", "line")
_BY: Final = {"kind": "by_kind", "unit": "by_unit", "line": "by_line"}

_CODE_POINTS: Final = 'COLLATE "C"'
_QUERY: Final = (
    f"SELECT {', '.join(f'GROUPING({key})' for key in KEYS)}, {', '.join(KEYS)},"
    " count(*),"
    f" count(*) FILTER (WHERE status = '{SessionStatus.HELD.value}'),"
    " coalesce(sum(attendance), 0), coalesce(sum(questions), 0)"
    f" FROM {TABLE} WHERE scheduled_for >= %(from)s AND scheduled_for < %(to)s"
    f" GROUP BY GROUPING SETS ((), {', '.join(f'({key})' for key in KEYS)})"
    f" ORDER BY {', '.join(f'{key} {_CODE_POINTS} NULLS LAST' for key in KEYS)}"
)


def active_care(run: Run, period: Period) -> dict[str, Any]:
    """`{"scheduled", "held", "attendance", "questions_raised", "by_kind", "by_unit",
    "by_line"}` of the sessions scheduled in the period (see the module); each `by_…` entry has
    its key and the same four figures, in the key's code-point order, null last."""
    n = len(KEYS)  # a row: a GROUPING flag per key, the keys, then the figures
    total: dict[str, int] | None = None
    groups: dict[str, list[dict[str, Any]]] = {by: [] for by in _BY.values()}
    for row in run(_QUERY, {"from": period.start, "to": period.end}):
        flags, keys, figures = row[:n], row[n : 2 * n], _figures(row[2 * n :])
        grouped = [key for key, flag in zip(KEYS, flags, strict=True) if not flag]
        if not grouped:
            total = figures
            continue
        (key,) = grouped
        groups[_BY[key]].append({key: keys[KEYS.index(key)], **figures})
    assert total is not None  # the empty grouping set always gives a row
    return {**total, **groups}


def _figures(values: Sequence[Any]) -> dict[str, int]:
    scheduled, held, attendance, questions = values
    return {
        "scheduled": int(scheduled),
        "held": int(held),
        "attendance": int(attendance),
        "questions_raised": int(questions),
    }
