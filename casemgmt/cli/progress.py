"""A tqdm progress bar for rebuilds (events done, rate and time left) and the demo (cases)."""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING

from tqdm import tqdm  # type: ignore[import-untyped]  # tqdm ships no type hints

if TYPE_CHECKING:
    from collections.abc import Iterator

    from casemgmt.projections.base import Progress


@contextmanager
def progress_bar(
    description: str, unit: str = "event", *, shown: bool = True
) -> Iterator[Progress]:
    """A `progress(done, total)` callback drawing a bar on stderr until the block ends (not
    drawn when not `shown`)."""
    with tqdm(
        desc=description, unit=unit, unit_scale=True, dynamic_ncols=True, disable=not shown
    ) as bar:

        def progress(done: int, total: int) -> None:
            bar.total = total  # the log may grow while it is replayed
            bar.update(done - bar.n)

        yield progress
