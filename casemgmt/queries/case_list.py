"""Finding cases in the case list: filters, full-text search, sorting and pages (`GET /cases`).

`at_risk` and `sort=due` read the SLA clocks as `casemgmt.queries.sla` declares them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from casemgmt.domain import InvalidCommand
from casemgmt.queries.sla import NEAREST_DUE_SQL, case_at_risk_sql
from casemgmt.readmodels.case_summary import LISTED, TABLE, CaseSummary
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
# Sorts on columns that are never null (NOT NULL in the table) say nothing of where nulls go: an
# index on the column, walked in either direction, then gives the order, and a page of a long list
# is read without sorting every match (no index of the table gives `DESC NULLS LAST`).
NEVER_NULL: Final = frozenset(
    {"received_at", "last_activity_at", "status", "reference", "escalation_level"}
)


@dataclass(frozen=True)
class _Search:
    """The rows of the case list a search matches, and the order of its pages."""

    conditions: list[str]
    params: list[Any]
    key: str  # what the pages are sorted by, an SQL expression of the row
    direction: str
    key_params: list[Any]

    @property
    def where(self) -> str:
        return f" WHERE {' AND '.join(self.conditions)}" if self.conditions else ""


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
    key, direction, key_params = _order(sort, words)
    page, per_page = _page(page, per_page)
    search = _Search(conditions, params, key, direction, key_params)
    offset = (page - 1) * per_page
    if sort.removeprefix("-") in NEVER_NULL:
        rows = _page_along_index(datastore, search, per_page=per_page, offset=offset)
    else:
        rows = _page_of_sorted_matches(datastore, search, per_page=per_page, offset=offset)
    if rows:
        listed = [CaseSummary(**dict(zip(LISTED, row[:-1], strict=True))) for row in rows]
        return listed, int(rows[0][-1])
    if page == 1:
        return [], 0
    counted = datastore.execute(f"SELECT count(*) FROM {TABLE}{search.where}", params)
    return [], int(counted[0][0])


# Neither kind of page counts the matches by `count(*) OVER ()` beside the rows it returns: such a
# window makes the query read every matching row in full (wide rows: the SLA clocks are stored in
# them) and keep them all before it sorts and cuts, a cost that grows with the case list.


def _page_along_index(
    datastore: Datastore, search: _Search, *, per_page: int, offset: int
) -> list[tuple[Any, ...]]:
    """A page in an order an index gives, each row with the number of matches.

    The matches are counted first, apart (a count reads no column); the page is then found by
    walking the index in its order, stopping at its end. The count gates the page: when no match
    is left to show, no index is walked in search of it. One round trip.
    """
    gated = [*search.conditions, "(SELECT total FROM matching) > %s"]
    return datastore.execute(
        f"WITH matching AS MATERIALIZED (SELECT count(*) AS total FROM {TABLE}{search.where})"
        f" SELECT {', '.join(LISTED)}, (SELECT total FROM matching) FROM {TABLE}"
        f" WHERE {' AND '.join(gated)}"
        f" ORDER BY {search.key} {search.direction}, case_id LIMIT %s OFFSET %s",
        [*search.params, *search.params, offset, *search.key_params, per_page, offset],
    )


def _page_of_sorted_matches(
    datastore: Datastore, search: _Search, *, per_page: int, offset: int
) -> list[tuple[Any, ...]]:
    """A page in an order no index gives (relevance, due, priority, a column that may be null),
    each row with the number of matches.

    Every match has to be sorted, so every match is read once: only its id and sort key, which
    are counted and sorted as they come; the page's own rows are then read by id. (`OFFSET 0`
    keeps the key computed as each row is read, not carried to the sort with the row's text.)
    """
    listed = ", ".join(f"c.{name}" for name in LISTED)
    return datastore.execute(
        f"SELECT {listed}, page.total FROM ("
        f"SELECT case_id, sort_key, count(*) OVER () AS total FROM ("
        f"SELECT case_id, {search.key} AS sort_key FROM {TABLE}{search.where} OFFSET 0"
        f") AS matches ORDER BY sort_key {search.direction}, case_id LIMIT %s OFFSET %s"
        f") AS page JOIN {TABLE} AS c USING (case_id)"
        f" ORDER BY page.sort_key {search.direction}, page.case_id",
        [*search.key_params, *search.params, per_page, offset],
    )


def _listed(value: Any) -> list[Any]:
    if isinstance(value, str | int):
        return [value]
    return list(value)


def _order(sort: str, words: str) -> tuple[str, str, list[Any]]:
    """The sort key of `sort` (an SQL expression), its direction, and the key's parameters."""
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
    direction = "DESC" if descending else "ASC"
    if key not in NEVER_NULL:
        direction += " NULLS LAST"
    # The case id breaks ties (the callers add it), so that pages neither repeat nor skip a case.
    return SORTS[key], direction, params


def _page(page: int, per_page: int) -> tuple[int, int]:
    if page < 1:
        raise InvalidCommand("page", "must be at least 1")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise InvalidCommand("per_page", f"must be from 1 to {MAX_PER_PAGE}")
    return page, per_page
