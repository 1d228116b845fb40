"""The HTML page a report is printed on: one file, UTF-8, its style inline, nothing fetched.

The style uses the fonts the reader's machine has (the list ends with fonts that carry Vietnamese
diacritics on every common system), keeps colours when printed, and avoids breaking a chart or a
table across printed pages.
"""

from __future__ import annotations

from html import escape
from typing import Final

STYLE: Final = """
* { box-sizing: border-box; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { margin: 0; background: #fff; color: #1f2933;
  font: 14px/1.45 system-ui, "Segoe UI", "Noto Sans", Roboto, "DejaVu Sans", "Liberation Sans",
    Arial, sans-serif; }
main { max-width: 820px; margin: 0 auto; padding: 32px 24px 48px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 0 0 6px; padding-bottom: 4px; border-bottom: 2px solid #0072B2; }
h3 { font-size: 14px; margin: 18px 0 4px; }
h2, h3 { break-after: avoid; page-break-after: avoid; }
section { margin-top: 36px; }
.period { color: #52606d; margin: 0 0 20px; }
.lead { color: #3e4c59; margin: 4px 0 10px; }
.empty { color: #52606d; font-style: italic; }
.tiles { display: grid; grid-template-columns: repeat(auto-fill, minmax(220px, 1fr)); gap: 12px; }
.tile { border: 1px solid #d9e2ec; border-radius: 6px; padding: 10px 12px; }
.tile .figure { display: block; font-size: 24px; font-weight: 600; }
.tile .what { display: block; color: #3e4c59; font-size: 12.5px; }
.tile .detail { display: block; color: #7b8794; font-size: 12px; }
figure { margin: 6px 0 14px; }
figure, table, .tile, .legend { break-inside: avoid; page-break-inside: avoid; }
svg { max-width: 100%; height: auto; font-family: inherit; overflow: visible; }
svg.inline { max-width: none; vertical-align: middle; }
svg text { font-size: 12px; fill: #1f2933; }
svg text.tick { font-size: 11px; fill: #52606d; }
svg text.caption { font-size: 11.5px; fill: #3e4c59; }
svg .axis { stroke: #7b8794; stroke-width: 1; }
svg .grid { stroke: #e4e7eb; stroke-width: 1; }
.legend { list-style: none; display: flex; flex-wrap: wrap; gap: 4px 18px; margin: 6px 0 2px;
  padding: 0; font-size: 12.5px; }
.swatch { display: inline-block; width: 12px; height: 12px; margin-right: 6px; border-radius: 2px;
  vertical-align: -1px; }
.pair { display: grid; grid-template-columns: repeat(auto-fit, minmax(340px, 1fr)); gap: 8px 24px; }
.terms { display: grid; grid-template-columns: repeat(auto-fill, minmax(300px, 1fr));
  gap: 4px 28px; }
table { border-collapse: collapse; font-size: 13px; margin: 4px 0 12px; }
th, td { text-align: left; padding: 3px 14px 3px 0; border-bottom: 1px solid #e4e7eb; }
th { font-weight: 600; color: #3e4c59; }
.n { text-align: right; font-variant-numeric: tabular-nums; }
footer { margin-top: 40px; color: #7b8794; font-size: 12px; }
@media print {
  main { max-width: none; padding: 0; }
  section { margin-top: 24px; }
  @page { size: A4; margin: 14mm; }
}
"""


def page(title: str, body: str) -> str:
    """A whole HTML document around `body` (already HTML); `title` is text and is escaped."""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n"
        f"<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n"
    )
