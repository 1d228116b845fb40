"""The analysis report as a reader's browser shows it: headless Chromium lays the page out, every
chart gets a size and its marks, and a screenshot shows the charts in their colours.

The screenshot and the page are kept in `test-artefacts/` at the repository's root (ignored by
git), to be looked at after a run: `analysis-report.png`, `analysis-report.html`.
"""

from __future__ import annotations

import json
import re
import shutil
from html import unescape
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from casemgmt.reports.analysis_html import SATISFIED_COLOUR, render
from casemgmt.reports.charts import PALETTE
from tests.support.analysis_reports import quarter_report
from tests.support.chromium import INSTALL, Chromium, find_chromium
from tests.support.png import read_png

if TYPE_CHECKING:
    from collections.abc import Iterator

ARTEFACTS = Path(__file__).resolve().parents[2] / "test-artefacts"
WIDTH = 1000
CHARTED = {
    "time-in-state",
    "transfer-loops",
    "comebacks",
    "breaches",
    "satisfaction",
    "active-care",
}

# Added to a copy of the page only: the report itself carries no script. It writes what the
# browser laid out into the DOM, where --dump-dom shows it.
PROBE = """<script>
(() => {
  const charts = [...document.querySelectorAll("svg")].map((svg) => {
    const frame = svg.getBoundingClientRect();
    const drawn = (element) => {
      const box = element.getBoundingClientRect();
      return box.width > 0 && box.height > 0;
    };
    return {
      part: svg.closest("section, header").id,
      inline: svg.classList.contains("inline"),
      width: frame.width,
      height: frame.height,
      marks: [...svg.querySelectorAll("rect")].filter(drawn).length,
      spilled: [...svg.querySelectorAll("text")]
        .filter((text) => {
          const box = text.getBoundingClientRect();
          return box.right > frame.right + 2 || box.bottom > frame.bottom + 2;
        })
        .map((text) => text.textContent),
    };
  });
  document.body.dataset.charts = JSON.stringify(charts);
  document.body.dataset.height = String(document.documentElement.scrollHeight);
})();
</script>
"""


@pytest.fixture(scope="module")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Chromium:
    binary = find_chromium()
    if binary is None:
        pytest.skip(f"Chromium is not installed ({INSTALL})")
    return Chromium(binary, tmp_path_factory.mktemp("chromium"))


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The rendered report, as the CLI writes it."""
    path = tmp_path_factory.mktemp("report") / "analysis-report.html"
    path.write_text(render(quarter_report()), encoding="utf-8")
    yield path
    ARTEFACTS.mkdir(exist_ok=True)
    shutil.copyfile(path, ARTEFACTS / path.name)


@pytest.fixture(scope="module")
def laid_out(chromium: Chromium, page: Path) -> dict[str, Any]:
    """What Chromium laid out: each chart's part of the page, size and marks; the page's height."""
    probed = page.with_name("probed.html")
    probed.write_text(
        page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8"
    )
    dom = chromium.dump_dom(probed, width=WIDTH)
    charts = re.search(r'data-charts="([^"]*)"', dom)
    height = re.search(r'data-height="(\d+)"', dom)
    assert charts is not None and height is not None, dom[-2000:]
    return {"charts": json.loads(unescape(charts.group(1))), "height": int(height.group(1))}


def test_chromium_gives_every_chart_a_size_and_draws_its_marks(
    laid_out: dict[str, Any], page: Path
) -> None:
    charts = [chart for chart in laid_out["charts"] if not chart["inline"]]

    assert len(laid_out["charts"]) == page.read_text(encoding="utf-8").count("<svg")
    assert {chart["part"] for chart in charts} == CHARTED
    for chart in charts:
        assert chart["width"] > 300, chart
        assert chart["height"] >= 24, chart  # a bar's row at least
        assert chart["marks"] > 0, chart


def test_no_label_or_figure_runs_out_of_its_chart(laid_out: dict[str, Any]) -> None:
    spilled = [
        (chart["part"], chart["spilled"]) for chart in laid_out["charts"] if chart["spilled"]
    ]

    assert spilled == []


def test_each_subject_term_gets_a_bar_beside_its_count(laid_out: dict[str, Any]) -> None:
    bars = [chart for chart in laid_out["charts"] if chart["inline"]]

    assert {chart["part"] for chart in bars} == {"subject-terms"}
    assert len(bars) == 3
    assert all(chart["marks"] == 1 for chart in bars)
    assert all(chart["width"] == 90 and chart["height"] == 10 for chart in bars)  # not squeezed


def test_the_screenshot_shows_the_charts_in_their_colours(
    chromium: Chromium, page: Path, laid_out: dict[str, Any]
) -> None:
    height = laid_out["height"]
    png = chromium.screenshot(page, page.with_suffix(".png"), width=WIDTH, height=height)
    ARTEFACTS.mkdir(exist_ok=True)
    (ARTEFACTS / "analysis-report.png").write_bytes(png)

    picture = read_png(png)
    colours = picture.colours()

    assert (picture.width, picture.height) == (WIDTH, height)
    assert colours["#ffffff"] < 0.95 * WIDTH * height  # not blank
    assert len(colours) > 50  # text, edges, charts
    # the bars, the four statuses' parts, and the satisfaction columns, each a visible area
    for colour in {*PALETTE[:4], SATISFIED_COLOUR}:
        assert colours[colour.lower()] > 300, colour
