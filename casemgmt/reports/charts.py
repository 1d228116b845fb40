"""Charts as inline SVG, drawn here so that a report is one file that opens anywhere, offline.

Each chart is a `<figure>` holding an `<svg>` with explicit width, height and viewBox, so it keeps
its proportions when the page is narrowed or printed. Text cannot be measured without a browser,
so labels are cut to a number of characters that fits their column (the full text stays in the
bar's tooltip). Every text is escaped here: labels come from citizens' subjects and the taxonomy.
An empty chart is a sentence saying so, never an axis scaled by zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

# Okabe and Ito's palette: told apart by colour-blind readers, and in greyscale print by lightness.
PALETTE: Final = ("#0072B2", "#E69F00", "#56B4E9", "#CC79A7", "#009E73", "#D55E00", "#7F7F7F")
BAR_COLOUR: Final = PALETTE[0]

_WIDTH: Final = 760  # the page's column; a chart is as wide as the text above it
_ROW: Final = 24  # height of a bar's row
_BAR: Final = 15
_CHAR: Final = 6.6  # mean width of a character at the 12px font, to cut labels
_CAPTION: Final = 150  # room for the figures printed after the longest bar


@dataclass(frozen=True)
class Bar:
    """One bar: its label, its length in the chart's unit, the figures printed after it."""

    label: str
    value: float | None
    caption: str
    hint: str = ""  # the tooltip; the label when empty


@dataclass(frozen=True)
class StackedBar:
    """One bar made of a part per series (in the series' order); `hints` are the parts' tooltips."""

    label: str
    parts: Sequence[float]
    caption: str
    hints: Sequence[str] = ()


@dataclass(frozen=True)
class Column:
    """One column of a column chart; a `value` of None draws no column, only the caption."""

    label: str
    value: float | None
    caption: str
    note: str = ""  # a line under the label, e.g. how many answers the column stands on


def empty(message: str) -> str:
    """What stands in a chart's place when there is nothing to draw."""
    return f'<p class="empty">{escape(message)}</p>'


def bar_chart(bars: Sequence[Bar], *, title: str, when_empty: str, label_width: int = 220) -> str:
    """Horizontal bars, longest value the full width, each captioned with its figures."""
    if not bars:
        return empty(when_empty)
    top = _top(bar.value for bar in bars)
    room = _WIDTH - label_width - _CAPTION
    rows = []
    for n, bar in enumerate(bars):
        y = n * _ROW
        length = _length(bar.value, top, room)
        rows.append(
            _label(bar.label, label_width, y)
            + _rect(label_width, y, length, BAR_COLOUR, bar.hint or bar.label)
            + _text(label_width + length + 6, y + _ROW / 2, bar.caption, "caption")
        )
    return _figure(title, len(bars) * _ROW, label_width, rows)


def stacked_bar_chart(
    bars: Sequence[StackedBar],
    series: Sequence[str],
    *,
    title: str,
    when_empty: str,
    label_width: int = 220,
) -> str:
    """Horizontal bars cut into parts, one colour per series, with a legend above them."""
    if not bars:
        return empty(when_empty)
    top = _top(sum(bar.parts) for bar in bars)
    room = _WIDTH - label_width - _CAPTION
    rows = []
    for n, bar in enumerate(bars):
        y = n * _ROW
        drawn = [_label(bar.label, label_width, y)]
        x = float(label_width)
        for index, part in enumerate(bar.parts):
            length = _length(part, top, room)
            if length > 0:
                hint = bar.hints[index] if index < len(bar.hints) else series[index]
                drawn.append(_rect(x, y, length, _colour(index), hint))
                x += length
        drawn.append(_text(x + 6, y + _ROW / 2, bar.caption, "caption"))
        rows.append("".join(drawn))
    return _legend(series) + _figure(title, len(bars) * _ROW, label_width, rows)


def column_chart(
    columns: Sequence[Column],
    *,
    title: str,
    when_empty: str,
    top: float,
    ticks: Sequence[tuple[float, str]],
    colour: str = BAR_COLOUR,
) -> str:
    """Vertical columns on a fixed scale `[0, top]` (a score out of 5, a share out of 1)."""
    if not columns:
        return empty(when_empty)
    width, plot, left, above, below = 380, 170, 44, 20, 80  # below: four lines and a note
    slot = (width - left) / len(columns)
    drawn = []
    for value, text in ticks:
        y = above + plot - value / top * plot
        drawn.append(f'<line class="grid" x1="{left}" x2="{width}" y1="{y:.1f}" y2="{y:.1f}"/>')
        drawn.append(_text(left - 6, y, text, "tick", anchor="end"))
    for n, column in enumerate(columns):
        middle = left + slot * (n + 0.5)
        height = _length(column.value, top, plot)
        bar = min(46.0, slot * 0.6)
        if height > 0:
            drawn.append(
                f'<rect x="{middle - bar / 2:.1f}" y="{above + plot - height:.1f}" '
                f'width="{bar:.1f}" height="{height:.1f}" fill="{colour}">'
                f"<title>{escape(column.label)}: {escape(column.caption)}</title></rect>"
            )
        drawn.append(
            _text(middle, above + plot - height - 7, column.caption, "caption", anchor="middle")
        )
        lines = [*_wrap(column.label, int(slot / _CHAR)), column.note]
        for line_no, line in enumerate(lines):
            drawn.append(
                _text(middle, above + plot + 14 + 13 * line_no, line, "tick", anchor="middle")
            )
    drawn.append(
        f'<line class="axis" x1="{left}" x2="{width}" y1="{above + plot}" y2="{above + plot}"/>'
    )
    return _svg(title, width, above + plot + below, drawn)


def inline_bar(share: float, *, width: int = 90) -> str:
    """A small bar for a table's cell: `share` (0 to 1) of `width` pixels."""
    length = max(1.0, min(share, 1.0) * width) if share > 0 else 0.0
    return (
        f'<svg class="inline" width="{width}" height="10" viewBox="0 0 {width} 10" '
        'aria-hidden="true">'
        f'<rect x="0" y="1" width="{length:.1f}" height="8" fill="{BAR_COLOUR}"/></svg>'
    )


def _figure(title: str, height: int, label_width: int, rows: Sequence[str]) -> str:
    axis = f'<line class="axis" x1="{label_width}" x2="{label_width}" y1="0" y2="{height}"/>'
    return _svg(title, _WIDTH, height, [*rows, axis])


def _svg(title: str, width: int, height: float, drawn: Sequence[str]) -> str:
    label = escape(title)
    return (
        f'<figure><svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{label}" '
        f'width="{width}" height="{height:.0f}" viewBox="0 0 {width} {height:.0f}">'
        f"<title>{label}</title>{''.join(drawn)}</svg></figure>"
    )


def _legend(series: Sequence[str]) -> str:
    keys = "".join(
        f'<li><span class="swatch" style="background:{_colour(n)}"></span>{escape(name)}</li>'
        for n, name in enumerate(series)
    )
    return f'<ul class="legend">{keys}</ul>'


def _label(label: str, label_width: int, y: float) -> str:
    fitted = _fit(label, int((label_width - 10) / _CHAR))
    return _text(label_width - 8, y + _ROW / 2, fitted, "label", anchor="end", hint=label)


def _rect(x: float, y: float, length: float, colour: str, hint: str) -> str:
    top = y + (_ROW - _BAR) / 2
    return (
        f'<rect x="{x:.1f}" y="{top:.1f}" width="{length:.1f}" height="{_BAR}" '
        f'fill="{colour}"><title>{escape(hint)}</title></rect>'
    )


def _text(
    x: float, y: float, text: str, kind: str, *, anchor: str = "start", hint: str = ""
) -> str:
    tooltip = f"<title>{escape(hint)}</title>" if hint and hint != text else ""
    return (
        f'<text class="{kind}" x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" '
        f'dominant-baseline="central">{tooltip}{escape(text)}</text>'
    )


def _top(values: Iterable[float | None]) -> float:
    """The value drawn full length: the largest, or 1 when every value is zero or unknown."""
    largest = max((value for value in values if value is not None), default=0.0)
    return float(largest) if largest > 0 else 1.0


def _length(value: float | None, top: float, room: float) -> float:
    if value is None or value <= 0:
        return 0.0
    return max(1.0, min(value, top) / top * room)  # a small non-zero value stays visible


def _colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def _fit(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[: max(1, chars - 1)].rstrip() + "…"


def _wrap(text: str, chars: int) -> list[str]:
    """Words on lines of at most `chars` characters (a longer word gets a line of its own)."""
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= chars:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines or [""]
