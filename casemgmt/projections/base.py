"""What every projection of the log has: a name, a position, batch writes and a rebuild."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING, Generic

from typing_extensions import TypeVar

from casemgmt.domain import Case

if TYPE_CHECKING:
    from casemgmt.runtime.log import Batch, EventLog

# Called after each batch of a rebuild with (events done, events in total so far).
Progress = Callable[[int, int], None]
# The events of the log a projection follows: the care centre's case events unless said otherwise.
EventT = TypeVar("EventT", default=Case.Event)


class PositionMoved(Exception):  # noqa: N818 -- names read as what happened
    """The projection's stored position is not where its writer expected; nothing was written.

    Another writer moved it: a rebuild, or a worker that took over while this one lost its lock.
    The writer reads the position again and carries on from there.
    """

    def __init__(self, projection: str, expected: int | None) -> None:
        super().__init__(f"projection {projection} is no longer at notification {expected}")
        self.projection = projection
        self.expected = expected


class Projection(ABC, Generic[EventT]):
    """A view derived from a notification log that writes its rows and position together.

    `EventT` is what the batches of the log it follows hold: the care centre's case events
    unless a projection says otherwise (`casemgmt.projections.active_care` follows the sessions').
    """

    name: str

    @property
    def lock_name(self) -> str:
        """What the advisory lock that elects this projection's one active worker is named."""
        return f"casemgmt:projection:{self.name}"

    @abstractmethod
    def position(self) -> int | None:
        """The last notification written into the view (None: never started)."""

    @abstractmethod
    def resume(self) -> int:
        """The position to carry on from; without one, an empty view is started at 0."""

    @abstractmethod
    def write(self, batch: Batch[EventT]) -> None:
        """Writes the batch's changes and moves the position from `batch.after` to its last id.

        All or nothing; raises PositionMoved (having written nothing) when the stored position
        is not `batch.after`.
        """

    @abstractmethod
    def rebuild(
        self, log: EventLog[EventT], *, progress: Progress | None = None, batch_size: int
    ) -> int:
        """Recreates the view from the whole log while readers keep reading the old one.

        Returns the number of notifications replayed.
        """

    def on_idle(self) -> None:
        """Housekeeping (the runner calls it about once a second, catching up or not)."""


def replay(
    log: EventLog[EventT],
    write: Callable[[Batch[EventT]], None],
    *,
    batch_size: int,
    progress: Progress | None = None,
) -> tuple[int, int]:
    """Feeds the whole log to `write` in batches, from the first notification until no more.

    Returns the last notification id written (0 when none) and how many there were.
    Events written while the replay runs are replayed too, so the total can grow.
    """
    total = log.count()
    if progress is not None:
        progress(0, total)
    done, position = 0, None
    while (batch := log.read(position, batch_size)) is not None:
        write(batch)
        done += batch.size
        position = batch.last_id
        if progress is not None:
            progress(done, max(total, done))
    return position or 0, done
