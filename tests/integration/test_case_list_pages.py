"""The case list's pages, in every order it offers, are cut from one plain sort of all the matches.

A page is found along an index where one gives the order, and among the sorted matches where none
does (`casemgmt.queries.case_list`); neither way may change which cases a page shows, nor the
total.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from casemgmt.queries import search_cases
from casemgmt.queries.case_list import SORTS
from casemgmt.readmodels.text import fold
from tests.support.projections import Setup, fresh_setup
from tests.support.workload import CaseTraffic

if TYPE_CHECKING:
    from collections.abc import Iterator
    from uuid import UUID

    from casemgmt.persistence.datastore import Datastore
    from casemgmt.settings import Settings

PER_PAGE = 13
TEXT = "bảo hiểm"
ORDERS = [
    (sort, text)
    for key in SORTS
    for sort in (key, f"-{key}")
    for text in (None, TEXT)
    if key != "relevance" or text
]


@pytest.fixture(scope="module")
def busy(servers: Settings) -> Iterator[Setup]:
    with fresh_setup(servers) as setup:
        CaseTraffic(setup.container.care_centre, seed=11).busy_day(900)
        with setup.projections.worker(["case_summaries"]):
            assert setup.projections.wait_until_caught_up(names=["case_summaries"], timeout=30)
        yield setup


def plainly_sorted(datastore: Datastore, sort: str, text: str | None) -> list[UUID]:
    """Every match, in the order `sort` names, by one plain `ORDER BY` without a page."""
    key = sort.removeprefix("-")
    descending = sort.startswith("-") != (key == "relevance")  # relevance: the most first
    words = fold(text) if text else None
    where = "WHERE search_vector @@ websearch_to_tsquery('simple', %s)" if words else ""
    rows = datastore.execute(
        f"SELECT case_id FROM case_summaries {where}"
        f" ORDER BY {SORTS[key]} {'DESC' if descending else 'ASC'} NULLS LAST, case_id",
        [*([words] if words else []), *([words] if key == "relevance" else [])],
    )
    return [row[0] for row in rows]


@pytest.mark.parametrize(("sort", "text"), ORDERS)
def test_the_pages_of_every_order_are_one_plain_sort_of_the_matches_cut_in_pieces(
    busy: Setup, sort: str, text: str | None
) -> None:
    datastore = busy.container.datastore
    expected = plainly_sorted(datastore, sort, text)
    assert len(expected) > 3 * PER_PAGE

    shown: list[UUID] = []
    last = -(-len(expected) // PER_PAGE)
    for number in range(1, last + 1):
        rows, total = search_cases(datastore, text=text, sort=sort, page=number, per_page=PER_PAGE)
        assert total == len(expected)
        shown += [row.case_id for row in rows]
    beyond = search_cases(datastore, text=text, sort=sort, page=last + 1, per_page=PER_PAGE)

    assert shown == expected
    assert beyond == ([], len(expected))
