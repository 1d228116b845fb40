"""The analysis report's page (`casemgmt.reports.analysis_html.render`): every section drawn from
the report's figures, every text escaped, nothing fetched, and an empty period said in words."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from html import escape
from typing import Any
from xml.etree import ElementTree

import pytest

from casemgmt.reports import wording
from casemgmt.reports.analysis_html import NO_CASES, SECTIONS, render
from casemgmt.reports.analysis_html import NO_SESSIONS as NO_SESSIONS_SAID
from tests.support.analysis_reports import (
    HOSTILE_TERM,
    VIETNAMESE_TERM,
    empty_report,
    quarter_report,
)

ANCHORS = ["headline", *(section.anchor for section in SECTIONS)]
# The parts about the cases received, which an empty cohort empties; active care is about sessions.
ABOUT_CASES = ["headline", *(section.anchor for section in SECTIONS if section.about_cases)]
NO_SESSIONS = escape(NO_SESSIONS_SAID)  # as the page writes it: "Q&amp;A"
_SVG = re.compile(r"<svg\b.*?</svg>", re.DOTALL)


def section(page: str, anchor: str) -> str:
    """The HTML of one part of the page, by its id."""
    match = re.search(rf'<(section|header) id="{anchor}">(.*?)</\1>', page, re.DOTALL)
    assert match is not None, f"no part {anchor!r} on the page"
    return match.group(2)


def bar_widths(html: str) -> list[float]:
    return [float(width) for width in re.findall(r'<rect [^>]*width="([\d.]+)"', html)]


def test_every_section_is_on_the_page_in_order() -> None:
    page = render(quarter_report())

    positions = [page.index(f'id="{anchor}"') for anchor in ANCHORS]

    assert positions == sorted(positions)
    for anchor in ANCHORS[1:]:
        assert "<svg" in section(page, anchor) or "<table" in section(page, anchor), anchor


def test_a_term_written_by_a_citizen_is_shown_as_text_never_run() -> None:
    page = render(quarter_report())

    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in section(page, "subject-terms")


def test_hostile_names_in_chart_labels_and_tooltips_are_escaped() -> None:
    report = quarter_report()
    hostile_unit = '"><img src=x onerror=alert(1)>'
    report["breaches"]["by_unit"][0]["unit"] = hostile_unit
    report["transfer_loops"]["loops"][0]["units"] = [hostile_unit, "hcmc", hostile_unit]
    report["time_in_state"][0]["category"] = HOSTILE_TERM
    report["active_care"]["by_unit"][0]["unit"] = hostile_unit

    page = render(report)

    assert "<img" not in page
    assert "<script" not in page.lower()
    assert "&lt;img src=x onerror=alert(1)&gt;" in section(page, "breaches")
    assert "&lt;img src=x onerror=alert(1)&gt;" in section(page, "active-care")
    for chart in _SVG.findall(page):  # well-formed: no label broke out of its element
        ElementTree.fromstring(chart)


def test_vietnamese_text_is_written_as_it_is_on_a_utf8_page() -> None:
    page = render(quarter_report())

    assert page.startswith("<!DOCTYPE html>")
    assert '<meta charset="utf-8">' in page
    assert VIETNAMESE_TERM in section(page, "subject-terms")


def test_the_page_fetches_nothing_and_runs_nothing() -> None:
    page = render(quarter_report())

    for outside in ("src=", "href=", "url(", "@import", "<link", "<script", "<img", "<iframe"):
        assert outside not in page.lower(), outside


def test_the_headline_gives_the_period_and_the_cohort_with_its_rates() -> None:
    headline = section(render(quarter_report()), "headline")

    assert "from 1 September 2026 to 30 November 2026 (UTC+07:00)" in headline
    assert "1,234" in headline
    assert "1.0%" in headline  # 12 reopened of 1,234
    assert "2.4%" in headline  # 30 came back
    assert "0.2%" in headline  # 3 loops
    assert "1.5%" in headline  # 13 + 6 breached of 1,234
    assert "67.9%" in headline  # (9 + 6 + 3 + 1) satisfied of 28 rated
    assert "of 28 rated" in headline


def test_time_in_state_is_hours_in_all_by_category_and_per_case_by_unit() -> None:
    time = section(render(quarter_report()), "time-in-state")

    # benefit status: 20 + 60 + 200 + 80 hours in Hanoi, 5 + 30 in Hai Phong
    assert "395 h in all" in time
    # benefit status in Hanoi: 360 hours over its 40 cases
    assert "9.0 h · 40 cases" in time
    assert "complaint · hcmc" in time
    assert "no category · no unit" in time
    legend = re.findall(r"</span>([a-z ]+)</li>", time)
    assert legend[:4] == ["received", "triaged", "in progress", "awaiting citizen"]


def test_the_slowest_pairs_come_first() -> None:
    time = section(render(quarter_report()), "time-in-state")
    per_case = time.split("Per case", 1)[1]

    # complaints in HCMC take 13 h a case, benefit status in Hanoi 9 h, in Hai Phong 3.5 h
    order = [per_case.index(label) for label in ("complaint · hcmc", "status · hanoi", "phong")]
    assert order == sorted(order)


def test_bars_are_as_long_as_their_values_the_longest_filling_the_chart() -> None:
    loops = section(render(quarter_report()), "transfer-loops")

    longest, half = bar_widths(loops)

    assert longest == pytest.approx(2 * half)
    assert "hanoi → haiphong → hanoi" in loops
    assert "2 cases" in loops
    assert "1 case<" in loops


def test_reopen_and_repeat_contacts_show_each_category_s_rate() -> None:
    comebacks = section(render(quarter_report()), "comebacks")

    assert "3.5% · 7 cases" in comebacks  # complaints reopened
    assert "5.0% · 10 cases" in comebacks  # benefit status came back
    assert comebacks.index("complaint") < comebacks.index("benefit status")  # highest first


def test_breaches_show_counts_of_cases_and_rates_most_breached_first() -> None:
    breaches = section(render(quarter_report()), "breaches")

    assert "12 of 100 cases (12.0%)" in breaches
    assert "7 of 80 cases (8.8%)" in breaches
    assert breaches.index("hanoi") < breaches.index("hcmc")


def test_satisfaction_shows_each_band_and_a_dash_where_nobody_rated() -> None:
    satisfaction = section(render(quarter_report()), "satisfaction")

    assert "4.4" in satisfaction
    assert "90.0%" in satisfaction
    assert "0 rated" in satisfaction
    assert satisfaction.count(">—<") == 2  # the unrated band, in both charts
    assert satisfaction.count("<svg") == 2


def test_an_empty_period_says_so_in_every_section_and_draws_no_chart() -> None:
    page = render(empty_report())

    for anchor in ABOUT_CASES:
        assert NO_CASES in section(page, anchor), anchor
    assert NO_SESSIONS in section(page, "active-care")
    assert "<svg" not in page
    assert "on 1 September 2026 (UTC)" in section(page, "headline")


def test_a_report_of_nothing_but_its_period_renders() -> None:
    page = render({"from": "2026-09-01T00:00:00+00:00", "to": "2026-10-01T00:00:00+00:00"})

    assert page.count(NO_CASES) == len(ABOUT_CASES)
    assert page.count(NO_SESSIONS) == 1


def test_active_care_shows_sessions_held_attendance_and_questions_by_unit_and_line() -> None:
    care = section(render(quarter_report()), "active-care")

    assert "7 of 9 sessions scheduled were held" in care
    assert "4 of 5 conferences, 3 of 3 Q&amp;A sessions" not in care  # 3 of 4 Q&A were held
    assert "4 of 5 conferences, 3 of 4 Q&amp;A sessions" in care
    assert "1,530 people attended and 41 questions were raised" in care
    assert "900 people · 3 held" in care  # Hanoi's bar
    assert "hanoi: 900 people at 3 sessions held, 25 questions raised" in care  # its tooltip
    assert "130 people · 1 held" in care  # the sessions about no line in particular
    assert "no line given" in care and "health insurance" in care
    assert care.count("<svg") == 2  # by unit, by line
    units = care.split("Insurance lines", 1)[0]
    assert units.index("hanoi") < units.index("hcmc") < units.index("thanhhoa")  # most attended
    # the tables: Hà Nội's 900 people over its 3 sessions held
    assert "<td class='n'>900</td><td class='n'>300</td><td class='n'>25</td>" in care


def test_active_care_is_shown_in_a_period_without_cases_and_cases_without_sessions() -> None:
    quarter = quarter_report()
    sessions_only = render({**empty_report(), "active_care": quarter["active_care"]})
    cases_only = render({**quarter, "active_care": empty_report()["active_care"]})

    assert "<svg" in section(sessions_only, "active-care")
    assert NO_CASES in section(sessions_only, "time-in-state")
    assert NO_SESSIONS in section(cases_only, "active-care")
    assert "sessions held" not in section(cases_only, "headline")
    assert "sessions held" in section(render(quarter), "headline")
    assert "1,530 attended · 41 questions" in section(render(quarter), "headline")


def test_a_unit_with_sessions_none_held_has_a_line_but_no_bar() -> None:
    report = quarter_report()
    report["active_care"]["by_unit"].append({"unit": "camau", **_nothing_held(2)})

    care = section(render(report), "active-care")

    assert "<td>camau</td><td class='n'>2</td><td class='n'>0</td>" in care
    assert "<td class='n'>0</td><td class='n'>—</td>" in care  # nobody per session held
    units_chart = _SVG.findall(care)[0]
    assert "camau" not in units_chart


def _nothing_held(scheduled: int) -> dict[str, int]:
    return {"scheduled": scheduled, "held": 0, "attendance": 0, "questions_raised": 0}


def test_groups_with_nothing_to_count_are_said_in_words_not_divided_by_zero() -> None:
    report: dict[str, Any] = {
        **empty_report(),
        "cases": 5,
        "time_in_state": [{"category": "complaint", "unit": "hue", "cases": 0, "states": {}}],
        "breaches": {
            "by_unit": [{"unit": "hue", "cases": 5, "breached": 0, "rate": 0.0}],
            "by_category": [],
        },
        "subject_terms": [{"category": "complaint", "terms": []}],
        "reopen": {
            "cases": 0,
            "rate": 0.0,
            "by_category": [{"category": "complaint", "cases": 0, "rate": 0.0}],
        },
    }

    page = render(report)

    assert "No working time recorded" in section(page, "time-in-state")
    assert "No SLA was breached" in section(page, "breaches")
    assert "No subject had a term" in section(page, "subject-terms")
    assert "has been rated yet" in section(page, "satisfaction")
    assert "No case went back" in section(page, "transfer-loops")
    assert "<svg" not in section(page, "comebacks")  # no bar for a category none came back in
    assert "—" in section(page, "headline")  # the rates the report does not know


def test_the_period_may_come_as_moments_straight_from_the_query() -> None:
    hanoi = timezone(timedelta(hours=7))
    report = {
        **quarter_report(),
        "from": datetime(2026, 9, 1, tzinfo=hanoi),
        "to": datetime(2026, 9, 8, 12, 30, tzinfo=hanoi),
    }

    headline = section(render(report), "headline")

    assert "from 2026-09-01 00:00 to 2026-09-08 12:30 (UTC+07:00, end excluded)" in headline


def test_the_same_report_gives_the_same_page() -> None:
    assert render(quarter_report()) == render(quarter_report())


@pytest.mark.parametrize(
    ("rate", "written"),
    [(None, "—"), (0.0, "0.0%"), (0.0001, "<0.1%"), (0.024, "2.4%"), (1.0, "100.0%")],
)
def test_rates_are_written_as_percentages_and_unknown_ones_as_a_dash(
    rate: float | None, written: str
) -> None:
    assert wording.percent(rate) == written


@pytest.mark.parametrize(
    ("hours", "written"), [(0.0, "0.0 h"), (0.01, "<0.1 h"), (7.94, "7.9 h"), (1234.4, "1,234 h")]
)
def test_working_hours_are_written_to_a_useful_precision(hours: float, written: str) -> None:
    assert wording.hours(hours) == written
