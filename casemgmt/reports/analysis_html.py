"""The analysis report as a page a director reads: where a case's time goes, which cases come
back, what citizens write about, where the SLA breaks, whether waiting costs satisfaction, and
what the conferences and Q&A sessions of active care reached.

`render(report)` turns the analysis (the dict of `casemgmt.queries.analysis.analysis`, which
`GET /api/v1/reports/analysis` answers as JSON) into one HTML document with its charts drawn
inline (`casemgmt.reports.charts`): no script, font or image is fetched, so it can be mailed,
archived and printed as it is. It is pure: no clock, no I/O. Every text of the report is escaped,
the subject terms first, since citizens wrote them.

A figure the report does not have (a rate of an empty group) is written "—", never computed from
zero; an empty cohort gives every section about cases the same sentence instead of its charts
(active care is about sessions, and says when there were none).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING, Any, Final

from casemgmt.domain import Status
from casemgmt.reports import wording as say
from casemgmt.reports.charts import (
    Bar,
    Column,
    StackedBar,
    bar_chart,
    column_chart,
    empty,
    inline_bar,
    stacked_bar_chart,
)
from casemgmt.reports.page import page

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

NO_CASES: Final = "No cases in this period."
NO_SESSIONS: Final = "No conference or Q&A session was scheduled in this period."
PAIRS_SHOWN: Final = 20  # (category, unit) pairs in the time chart: the slowest
ROUTES_DRAWN: Final = 10  # transfer loops in the chart; the table lists them all
UNITS_SHOWN: Final = 15  # units in the breach and attendance charts: the most breached, attended
SATISFIED_COLOUR: Final = "#009E73"
# Statuses in the order a case meets them; a status the report has and this lacks comes after.
_STATUS_ORDER: Final = [status.value for status in Status]

Report = Mapping[str, Any]


def render(report: Report) -> str:
    """The whole HTML document of an analysis report (see the module)."""
    cohort = say.number(report.get("cases"))
    sections = [_section(section, report, cohort) for section in SECTIONS]
    body = _headline(report, cohort) + "".join(sections) + _FOOTER
    return page(f"Case analysis: cases received {_period(report)}", body)


@dataclass(frozen=True)
class Section:
    """A part of the report: its anchor, its heading, what it measures, and how it is drawn."""

    anchor: str
    title: str
    lead: str
    draw: Callable[[Report, int], str]  # from the report and its cohort's size (never 0)
    about_cases: bool = True  # False: drawn whatever the cohort's size, which may be 0


def _section(section: Section, report: Report, cohort: int) -> str:
    drawn = cohort or not section.about_cases
    body = section.draw(report, cohort) if drawn else empty(NO_CASES)
    return (
        f'<section id="{section.anchor}"><h2>{escape(section.title)}</h2>'
        f'<p class="lead">{escape(section.lead)}</p>{body}</section>\n'
    )


def _headline(report: Report, cohort: int) -> str:
    heading = (
        '<header id="headline"><h1>Case analysis</h1>'
        f'<p class="period">Cases received {escape(_period(report))}</p>'
    )
    if not cohort:
        return heading + _tiles([("0", "cases received", "")]) + empty(NO_CASES) + "</header>\n"
    reopen, repeat = report.get("reopen") or {}, report.get("repeat_contacts") or {}
    loops = report.get("transfer_loops") or {}
    breached = sum(
        say.number(row.get("breached")) for row in _part(report, "breaches", "by_category")
    )
    bands = report.get("satisfaction_by_resolution_time") or []
    rated = sum(say.number(band.get("responses")) for band in bands)
    satisfied = sum(
        float(band["share_satisfied"]) * say.number(band.get("responses"))
        for band in bands
        if band.get("share_satisfied") is not None
    )
    tiles = [
        (f"{cohort:,}", "cases received", ""),
        (say.percent(reopen.get("rate")), "reopened after resolution", _count(reopen)),
        (say.percent(repeat.get("rate")), "came back within 30 days", _count(repeat)),
        (say.percent(loops.get("rate")), "went back to a unit they had left", _count(loops)),
        (say.percent(say.share(breached, cohort)), "breached an SLA", say.cases(breached)),
        (say.percent(say.share(satisfied, rated)), "satisfied (4 or 5)", f"of {rated:,} rated"),
    ]
    sessions = report.get("active_care") or {}
    if say.number(sessions.get("scheduled")):
        tiles.append(
            (
                f"{say.number(sessions.get('held')):,}",
                "conferences and Q&A sessions held",
                f"{say.number(sessions.get('attendance')):,} attended · "
                f"{say.questions(say.number(sessions.get('questions_raised')))}",
            )
        )
    return heading + _tiles(tiles) + "</header>\n"


def _tiles(tiles: Sequence[tuple[str, str, str]]) -> str:
    """Headline figures: the figure, what it counts, and what it stands on (`12 cases`)."""
    cells = "".join(
        f'<div class="tile"><span class="figure">{escape(figure)}</span>'
        f'<span class="what">{escape(what)}</span><span class="detail">{escape(detail)}</span>'
        "</div>"
        for figure, what, detail in tiles
    )
    return f'<div class="tiles">{cells}</div>'


def _time_in_state(report: Report, _: int) -> str:
    pairs = [row for row in report.get("time_in_state") or [] if say.number(row.get("cases"))]
    states = _states(pairs)
    series = [say.status(state) for state in states]
    by_category = [
        _total_bar(say.category(kind), spent, states) for kind, spent in _by_category(pairs)
    ]
    by_pair = [
        _per_case_bar(
            f"{say.category(row.get('category'))} · {say.unit(row.get('unit'))}", row, states
        )
        for row in pairs
    ]
    slowest = sorted(by_pair, key=lambda bar: -sum(bar.parts))
    more = len(slowest) - PAIRS_SHOWN
    none_yet = "No working time recorded for these cases yet."
    return (
        "<h3>All working time, by category</h3>"
        + _lead("Hours summed over the cases: where the centre's working time goes.")
        + stacked_bar_chart(
            sorted(by_category, key=lambda bar: -sum(bar.parts)),
            series,
            title="Working hours in each status, summed over the cases, by category",
            when_empty=none_yet,
        )
        + "<h3>Per case, by category and unit</h3>"
        + _lead(
            "Hours per case while a unit held it, slowest first; a case transferred counts at "
            "each unit that held it."
        )
        + stacked_bar_chart(
            slowest[:PAIRS_SHOWN],
            series,
            title="Working hours per case in each status, by category and unit",
            when_empty=none_yet,
            label_width=260,
        )
        + (_lead(f"{more:,} faster pairs are not shown.") if more > 0 else "")
    )


def _by_category(pairs: Iterable[Mapping[str, Any]]) -> list[tuple[Any, dict[str, float]]]:
    """Each category's seconds in each status, added up over its units. (Its cases cannot be:
    a case that moved between units is counted in each unit's pair.)"""
    categories: dict[Any, dict[str, float]] = {}
    for row in pairs:
        spent = categories.setdefault(row.get("category"), {})
        for state, figures in (row.get("states") or {}).items():
            spent[state] = spent.get(state, 0.0) + _seconds(figures)
    return list(categories.items())


def _total_bar(label: str, seconds: Mapping[str, float], states: Sequence[str]) -> StackedBar:
    totals = [seconds.get(state, 0.0) / say.HOUR for state in states]
    hints = [
        f"{label}, {say.status(state)}: {say.hours(hours)} in all"
        for state, hours in zip(states, totals, strict=True)
    ]
    return StackedBar(label, totals, f"{say.hours(sum(totals))} in all", hints)


def _per_case_bar(label: str, row: Mapping[str, Any], states: Sequence[str]) -> StackedBar:
    """Hours per case in each status: the pair's total time over its cases, so that the parts
    add up to the mean working time of one case while that unit held it."""
    count = say.number(row.get("cases"))
    spent = row.get("states") or {}
    totals = [_seconds(spent.get(state)) for state in states]
    per_case = [total / count / say.HOUR for total in totals]
    hints = [
        f"{label}, {say.status(state)}: {say.hours(hours)} per case, "
        f"{say.hours(total / say.HOUR)} in all"
        for state, hours, total in zip(states, per_case, totals, strict=True)
    ]
    return StackedBar(label, per_case, f"{say.hours(sum(per_case))} · {say.cases(count)}", hints)


def _transfer_loops(report: Report, cohort: int) -> str:
    loops = report.get("transfer_loops") or {}
    said = f"{_count(loops)} ({say.percent(loops.get('rate'))}) went back to a unit they had left."
    routes = [route for route in loops.get("loops") or [] if route.get("units")]
    if not routes:
        return _lead(said) + empty("No case went back to a unit it had left.")
    bars = [Bar(_route(route), say.number(route.get("cases")), _count(route)) for route in routes]
    rows = "".join(
        f"<tr><td>{escape(bar.label)}</td><td class='n'>{bar.value:,.0f}</td>"
        f"<td class='n'>{say.percent(say.share(bar.value or 0, cohort))}</td></tr>"
        for bar in bars
    )
    table = (
        "<table><thead><tr><th>Route between units</th><th class='n'>Cases</th>"
        f"<th class='n'>Of all cases</th></tr></thead><tbody>{rows}</tbody></table>"
    )
    chart = bar_chart(
        bars[:ROUTES_DRAWN], title="The most frequent loops", when_empty="", label_width=320
    )
    return _lead(said) + chart + table


def _comebacks(report: Report, _: int) -> str:
    parts = []
    for key, heading, verb in (
        ("reopen", "Reopened after resolution", "were reopened"),
        ("repeat_contacts", "Came back within 30 days", "came back about the same category"),
    ):
        figures = report.get(key) or {}
        bars = [
            Bar(
                say.category(row.get("category")),
                row.get("rate"),
                f"{say.percent(row.get('rate'))} · {_count(row)}",
            )
            for row in figures.get("by_category") or []
            if say.number(row.get("cases"))
        ]
        parts.append(
            f"<h3>{escape(heading)}</h3>"
            + _lead(f"{_count(figures)} ({say.percent(figures.get('rate'))}) {verb}.")
            + bar_chart(
                sorted(bars, key=lambda bar: -(bar.value or 0)),
                title=f"{heading}: share of each category's cases",
                when_empty="None in this period.",
            )
        )
    return "".join(parts)


def _subject_terms(report: Report, _: int) -> str:
    blocks = []
    for group in report.get("subject_terms") or []:
        terms = [term for term in group.get("terms") or [] if term.get("term")]
        if not terms:
            continue
        top = max(say.number(term.get("count")) for term in terms) or 1
        rows = "".join(
            f"<tr><td>{escape(str(term['term']))}</td>"
            f"<td class='n'>{say.number(term.get('count')):,}</td>"
            f"<td>{inline_bar(say.number(term.get('count')) / top)}</td></tr>"
            for term in terms
        )
        blocks.append(
            f"<div><h3>{escape(say.category(group.get('category')))}</h3><table><thead><tr>"
            "<th>Term</th><th class='n'>Subjects</th><th></th></tr></thead>"
            f"<tbody>{rows}</tbody></table></div>"
        )
    if not blocks:
        return empty("No subject had a term worth counting.")
    return f'<div class="terms">{"".join(blocks)}</div>'


def _breaches(report: Report, _: int) -> str:
    none = "No SLA was breached in this period."
    by_unit = _breach_bars(_part(report, "breaches", "by_unit"), "unit", say.unit)
    by_category = _breach_bars(_part(report, "breaches", "by_category"), "category", say.category)
    return (
        "<h3>Units</h3>"
        + bar_chart(by_unit[:UNITS_SHOWN], title="Cases breached, by unit", when_empty=none)
        + "<h3>Categories</h3>"
        + bar_chart(by_category, title="Cases breached, by category", when_empty=none)
    )


def _breach_bars(
    rows: Iterable[Mapping[str, Any]], key: str, name: Callable[[Any], str]
) -> list[Bar]:
    """The groups with a breach, most breached first."""
    bars = [
        Bar(
            name(row.get(key)),
            say.number(row.get("breached")),
            f"{say.number(row.get('breached')):,} of {_count(row)} "
            f"({say.percent(row.get('rate'))})",
        )
        for row in rows
        if say.number(row.get("breached"))
    ]
    return sorted(bars, key=lambda bar: -(bar.value or 0))


def _satisfaction(report: Report, _: int) -> str:
    bands = report.get("satisfaction_by_resolution_time") or []
    if not sum(say.number(band.get("responses")) for band in bands):
        return empty("No case of this period has been rated yet.")
    mean = column_chart(
        _columns(bands, "mean", lambda score: f"{score:.1f}"),
        title="Mean score (1 to 5), by working time to resolution",
        when_empty="",
        top=5,
        ticks=[(score, str(score)) for score in range(6)],
    )
    satisfied = column_chart(
        _columns(bands, "share_satisfied", say.percent),
        title="Share satisfied (4 or 5), by working time to resolution",
        when_empty="",
        top=1,
        ticks=[(quarter / 4, f"{quarter * 25}%") for quarter in range(5)],
        colour=SATISFIED_COLOUR,
    )
    return (
        f'<div class="pair"><div><h3>Mean score</h3>{mean}</div>'
        f"<div><h3>Satisfied (4 or 5)</h3>{satisfied}</div></div>"
    )


def _active_care(report: Report, _: int) -> str:
    sessions = report.get("active_care") or {}
    if not say.number(sessions.get("scheduled")):
        return empty(NO_SESSIONS)
    kinds = ", ".join(
        f"{say.number(row.get('held')):,} of {say.number(row.get('scheduled')):,} "
        f"{say.session_kind(row.get('kind'))}"
        for row in _part(report, "active_care", "by_kind")
    )
    said = (
        f"{say.number(sessions.get('held')):,} of {say.number(sessions.get('scheduled')):,} "
        f"sessions scheduled were held ({kinds}); "
        f"{say.number(sessions.get('attendance')):,} people attended and "
        f"{say.questions(say.number(sessions.get('questions_raised')))} were raised, each "
        "opened as a case."
    )
    none_held = "No session of this period has been recorded as held yet."
    units = _attendance_bars(_part(report, "active_care", "by_unit"), "unit", say.unit)
    lines = _attendance_bars(_part(report, "active_care", "by_line"), "line", say.line)
    return (
        _lead(said)
        + "<h3>Units</h3>"
        + bar_chart(units[:UNITS_SHOWN], title="People attending, by unit", when_empty=none_held)
        + _sessions_table(_part(report, "active_care", "by_unit"), "Unit", "unit", say.unit)
        + "<h3>Insurance lines</h3>"
        + bar_chart(lines, title="People attending, by insurance line", when_empty=none_held)
        + _sessions_table(_part(report, "active_care", "by_line"), "Line", "line", say.line)
    )


def _attendance_bars(
    rows: Iterable[Mapping[str, Any]], key: str, name: Callable[[Any], str]
) -> list[Bar]:
    """The groups with a session held, most attended first; the questions are in the tooltip
    (and the table), the caption being as long as the room after the longest bar."""
    bars = [
        Bar(
            name(row.get(key)),
            say.number(row.get("attendance")),
            f"{say.number(row.get('attendance')):,} people · {say.number(row.get('held')):,} held",
            f"{name(row.get(key))}: {say.number(row.get('attendance')):,} people at "
            f"{say.number(row.get('held')):,} sessions held, "
            f"{say.questions(say.number(row.get('questions_raised')))} raised",
        )
        for row in rows
        if say.number(row.get("held"))
    ]
    return sorted(bars, key=lambda bar: -(bar.value or 0))


def _sessions_table(
    rows: Iterable[Mapping[str, Any]], heading: str, key: str, name: Callable[[Any], str]
) -> str:
    """Every group's sessions: scheduled, held, attendance (in all and per session held), and
    questions raised."""
    cells = "".join(
        f"<tr><td>{escape(name(row.get(key)))}</td>"
        + "".join(
            f"<td class='n'>{escape(figure)}</td>"
            for figure in (
                f"{say.number(row.get('scheduled')):,}",
                f"{say.number(row.get('held')):,}",
                f"{say.number(row.get('attendance')):,}",
                _per_session(row),
                f"{say.number(row.get('questions_raised')):,}",
            )
        )
        + "</tr>"
        for row in rows
    )
    head = "".join(
        f"<th class='n'>{title}</th>"
        for title in ("Scheduled", "Held", "Attended", "Per session held", "Questions raised")
    )
    return (
        f"<table><thead><tr><th>{escape(heading)}</th>{head}</tr></thead>"
        f"<tbody>{cells}</tbody></table>"
    )


def _per_session(row: Mapping[str, Any]) -> str:
    mean = say.share(say.number(row.get("attendance")), say.number(row.get("held")))
    return say.UNKNOWN if mean is None else f"{mean:,.0f}"


def _columns(
    bands: Iterable[Mapping[str, Any]], key: str, shown: Callable[[float], str]
) -> list[Column]:
    return [
        Column(
            str(band.get("band") or ""),
            band.get(key),
            say.UNKNOWN if band.get(key) is None else shown(float(band[key])),
            f"{say.number(band.get('responses')):,} rated",
        )
        for band in bands
    ]


SECTIONS: Final = (
    Section(
        "time-in-state",
        "Where a case's time goes",
        "Working time cases spend in each status, counted in the calendar of the unit that "
        "held them.",
        _time_in_state,
    ),
    Section(
        "transfer-loops",
        "Transfer loops",
        "Cases sent from a unit to another and back again: each return is time the citizen waits.",
        _transfer_loops,
    ),
    Section(
        "comebacks",
        "Reopened cases and repeat contacts",
        "Cases reopened after they were resolved, and citizens who asked again about the same "
        "category within 30 days of an earlier case (failure demand).",
        _comebacks,
    ),
    Section(
        "subject-terms",
        "What citizens write about",
        "The most frequent terms of the subjects in each category (diacritics folded, common "
        "words left out).",
        _subject_terms,
    ),
    Section(
        "breaches",
        "SLA breaches",
        "Cases with a breached first-response or resolution deadline.",
        _breaches,
    ),
    Section(
        "satisfaction",
        "Satisfaction and time to resolution",
        "Ratings of the resolved cases, grouped by the working time they took to resolve.",
        _satisfaction,
    ),
    Section(
        "active-care",
        "Active care: conferences and Q&A sessions",
        "Dialogue conferences and policy Q&A sessions scheduled in the period: whether they were "
        "held, how many people came, and the questions raised there.",
        _active_care,
        about_cases=False,
    ),
)

_FOOTER: Final = (
    "<footer>Times are working time in each case's unit calendar. Rates are shares of the cases "
    "received in the period; active care counts the sessions scheduled in it. "
    f"{say.UNKNOWN} marks a figure with nothing to count.</footer>"
)


def _period(report: Report) -> str:
    return say.period(report.get("from"), report.get("to"))


def _lead(text: str) -> str:
    return f'<p class="lead">{escape(text)}</p>'


def _part(report: Report, key: str, part: str) -> list[Mapping[str, Any]]:
    return list((report.get(key) or {}).get(part) or [])


def _states(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    present = {state for row in rows for state in row.get("states") or {}}
    known = [state for state in _STATUS_ORDER if state in present]
    return known + sorted(present - set(known))


def _seconds(spent: Mapping[str, Any] | None) -> float:
    return float((spent or {}).get("total_seconds") or 0.0)


def _count(figures: Mapping[str, Any]) -> str:
    return say.cases(say.number(figures.get("cases")))


def _route(route: Mapping[str, Any]) -> str:
    return " → ".join(say.unit(unit) for unit in route["units"])
