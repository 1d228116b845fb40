"""Tables on the terminal: columns padded to their widest cell, the last one left as it is."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence


def print_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Prints the header and the rows, two spaces between columns, no trailing blanks."""
    widths = [max(len(row[n]) for row in [header, *rows]) for n in range(len(header) - 1)]
    for row in [header, *rows]:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        print("  ".join([*cells, row[-1]]).rstrip())
