"""Finding cases in the case list: filters, full-text search, sorting and pages (`GET /cases`).

`at_risk` and `sort=due` read the SLA clocks as `casemgmt.queries.sla` declares them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

from casemgmt.domain import InvalidCommand
from casemgmt.queries.sla import NEAREST_DUE_SQL, case_at_risk_sql
from casemgmt.readmodels.case_summary import COLUMNS, TABLE, CaseSummary
from casemgmt.readmodels.text import fold

if TYPE_CHECKING:
    from datetime import datetime

    from casemgmt.persistence.datastore import Datastore

MAX_PER_PAGE: Final = 200
_QUERY: Final = "websearch_to_tsquery('simple', %s)"
# What `sort` may name; `-name` sorts descending. Priority sorts by urgency: low < … < urgent.
SORTS: Final = {
    "received_at": "received_at",
    "last_activity_at": "last_activity_at",
    "first_replied_at": "first_replied_at",
    "resolved_at": "resolved_at",
    "closed_at": "closed_at",
    "priority": "array_position(ARRAY['low','normal','high','urgent'], priority)",
    "status": "status",
    "reference": "reference",
    "escalation_level": "escalation_level",
    "due": NEAREST_DUE_SQL,  # the nearest deadline of a running SLA clock
    "relevance": f"ts_rank(search_vector, {_QUERY})",
}

Values = str | Sequence[str] | None


def search_cases(
    datastore: Datastore,
    *,
    status: Values = None,
    channel: Values = None,
    category_line: Values = None,
    category_kind: Values = None,
    priority: Values = None,
    unit: Values = None,
    queue: Values = None,
    assignee: Values = None,
    escalation_level: int | Sequence[int] | None = None,
    opened_by: Values = None,
    reference: Values = None,
    breached: bool | None = None,
    at_risk: bool | None = None,
    now: datetime | None = None,
    text: str | None = None,
    sort: str = "-received_at",
    page: int = 1,
    per_page: int = 25,
) -> tuple[list[CaseSummary], int]:
    """One page of the cases that match every filter given, and how many match in all.

    A filter takes one value or a list of accepted values. `text` is matched against subject and
    messages without regard to case or diacritics ("bao hiem" finds "Bảo hiểm"), in web-search
    syntax: words all must occur, "quoted phrases", `or`, and `-word` to exclude. `at_risk` is
    taken at `now`, which it needs; `sort="due"` orders by the nearest running SLA deadline,
    cases with none last.
    """
    conditions: list[str] = []
    params: list[Any] = []
    filters: dict[str, Any] = {
        "status": status,
        "channel": channel,
        "category_line": category_line,
        "category_kind": category_kind,
        "priority": priority,
        "unit": unit,
        "queue": queue,
        "assignee": assignee,
        "escalation_level": escalation_level,
        "opened_by": opened_by,  # an intake account's own cases
        "reference": reference,
    }
    for column, value in filters.items():
        if value is not None:
            conditions.append(f"{column} = ANY(%s)")
            params.append(_listed(value))
    if breached is not None:
        negation = "" if breached else "NOT "
        conditions.append(f"{negation}(first_response_breached OR resolution_breached)")
    if at_risk is not None:
        if now is None:
            raise TypeError("at_risk is taken at a moment: pass now")
        risky, moments = case_at_risk_sql(now)
        conditions.append(risky if at_risk else f"{risky} IS NOT TRUE")  # no clock: not at risk
        params.extend(moments)
    words = fold(text).strip() if text else ""
    if words:
        conditions.append(f"search_vector @@ {_QUERY}")
        params.append(words)
    order, order_params = _order(sort, words)
    page, per_page = _page(page, per_page)
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    rows = datastore.execute(
        f"SELECT {', '.join(COLUMNS)}, count(*) OVER () FROM {TABLE}{where}"
        f" ORDER BY {order} LIMIT %s OFFSET %s",
        [*params, *order_params, per_page, (page - 1) * per_page],
    )
    if rows:
        return [CaseSummary(*row[:-1]) for row in rows], int(rows[0][-1])
    if page == 1:
        return [], 0
    counted = datastore.execute(f"SELECT count(*) FROM {TABLE}{where}", params)
    return [], int(counted[0][0])


def _listed(value: Any) -> list[Any]:
    if isinstance(value, str | int):
        return [value]
    return list(value)


def _order(sort: str, words: str) -> tuple[str, list[Any]]:
    descending = sort.startswith("-")
    key = sort.removeprefix("-")
    if key not in SORTS:
        accepted = ", ".join(sorted(SORTS))
        raise InvalidCommand("sort", f"{sort!r} is not one of: {accepted} (- for descending)")
    params: list[Any] = []
    if key == "relevance":
        if not words:
            raise InvalidCommand("sort", "relevance needs a text to search for")
        descending = not descending  # the most relevant first, unless asked otherwise
        params.append(words)
    direction = "DESC NULLS LAST" if descending else "ASC NULLS LAST"
    # The case id breaks ties, so that pages neither repeat nor skip a case.
    return f"{SORTS[key]} {direction}, case_id", params


def _page(page: int, per_page: int) -> tuple[int, int]:
    if page < 1:
        raise InvalidCommand("page", "must be at least 1")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise InvalidCommand("per_page", f"must be from 1 to {MAX_PER_PAGE}")
    return page, per_page
