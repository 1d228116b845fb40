"""What every projection into PostgreSQL tables shares: its position in `projection_tracking`,
written in the same transaction as its rows, and a rebuild in one transaction.

A batch is written as one multi-statement query (one implicit transaction): first the position
moves from where this writer expects it to the batch's last notification, then the projection's
own statements run. When the position is not where expected, `casemgmt_refuse_projection_position`
(migration 0003) raises and nothing is written, so a crash or a second writer can neither skip nor
double an event.
"""

from __future__ import annotations

import logging
from abc import abstractmethod
from contextlib import closing
from typing import TYPE_CHECKING, Any, Final, TypeVar

from eventsourcing.persistence import IntegrityError

from casemgmt.projections.base import EventT, PositionMoved, Projection, replay

RowT = TypeVar("RowT")

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from casemgmt.persistence.datastore import Datastore
    from casemgmt.projections.base import Progress
    from casemgmt.runtime.log import Batch, EventLog

    # Runs one query and returns its rows: how a projection reads what a batch builds on.
    Run = Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]

# A statement of a batch's write and its parameters.
Statement = tuple[str, list[Any]]

logger = logging.getLogger(__name__)

_POSITION: Final = "SELECT notification_id FROM projection_tracking WHERE projection_name = %s"
_ADVANCE: Final = (
    "WITH moved AS (UPDATE projection_tracking SET notification_id = %s"
    " WHERE projection_name = %s AND notification_id = %s RETURNING 1)"
    " SELECT casemgmt_refuse_projection_position(%s, %s) WHERE NOT EXISTS (SELECT FROM moved)"
)


class TableProjection(Projection[EventT]):
    """A projection whose rows live in PostgreSQL tables of its own, beside its position.

    A subclass names its `tables` and says, in `statements`, how a batch changes them.
    """

    tables: tuple[str, ...]  # what starting from nothing and a rebuild empty

    def __init__(self, datastore: Datastore) -> None:
        self.datastore = datastore

    @abstractmethod
    def statements(self, batch: Batch[EventT], run: Run) -> list[Statement]:
        """The statements that write the batch's changes; `run` reads what they build on (inside
        the rebuild's transaction during a rebuild)."""

    def position(self) -> int | None:
        rows = self.datastore.execute(_POSITION, [self.name])
        return int(rows[0][0]) if rows else None

    def resume(self) -> int:
        self.datastore.execute(self._start(), [self.name], retries=0)
        position = self.position()
        assert position is not None  # _start made sure there is one
        return position

    def write(self, batch: Batch[EventT]) -> None:
        statements = self.statements(batch, self.datastore.execute)
        query = "; ".join([_ADVANCE, *(statement for statement, _ in statements)])
        params = [batch.last_id, self.name, batch.after, self.name, batch.after]
        for _, statement_params in statements:
            params += statement_params
        try:
            # Not retried: after a lost connection the runner reads its position again instead.
            self.datastore.execute(query, params, retries=0)
        except IntegrityError as error:
            raise PositionMoved(self.name, batch.after) from error

    def rebuild(
        self, log: EventLog[EventT], *, progress: Progress | None = None, batch_size: int
    ) -> int:
        """Replays the whole log into the tables in one transaction, then commits it at once.

        The transaction first locks this projection's tracking row: the live worker's next write
        waits on it, and after the commit finds its position moved and carries on from the
        rebuilt one. Readers see the old rows (MVCC) until the commit, then all the new ones.
        """
        conn = self.datastore.pool.connect()
        with closing(conn):
            conn.autocommit = False
            cursor = conn.cursor()

            def run(query: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
                cursor.execute(query, params)
                return cursor.fetchall() if cursor.description else []

            run(
                "INSERT INTO projection_tracking (projection_name, notification_id)"
                " VALUES (%s, 0) ON CONFLICT DO NOTHING",
                [self.name],
            )
            run(f"{_POSITION} FOR UPDATE", [self.name])
            for table in self.tables:
                run(f"DELETE FROM {table}", [])

            def write(batch: Batch[EventT]) -> None:
                for statement, params in self.statements(batch, run):
                    run(statement, params)

            last, done = replay(log, write, batch_size=batch_size, progress=progress)
            run(
                "UPDATE projection_tracking SET notification_id = %s WHERE projection_name = %s",
                [last, self.name],
            )
            conn.commit()
        logger.info(
            "rebuilt %s from %d notifications, up to notification %d", self.name, done, last
        )
        return done

    def _start(self) -> str:
        """Starting without a position: record 0 and empty the tables, together.

        When a rebuild holds the tracking row, the INSERT waits for it and then inserts nothing,
        so the rebuilt rows stay.
        """
        emptied = [
            f"emptied_{n} AS (DELETE FROM {table} WHERE EXISTS (SELECT FROM started))"
            for n, table in enumerate(self.tables[1:])
        ]
        started = (
            "started AS (INSERT INTO projection_tracking (projection_name, notification_id)"
            " VALUES (%s, 0) ON CONFLICT DO NOTHING RETURNING 1)"
        )
        return (
            f"WITH {', '.join([started, *emptied])}"
            f" DELETE FROM {self.tables[0]} WHERE EXISTS (SELECT FROM started)"
        )


def folded_rows(
    projection: str,
    rows: dict[Any, RowT],
    events: Sequence[Any],
    fold: Callable[[RowT | None, Any], RowT | None],
) -> list[RowT]:
    """The rows `events` change, each folded in order into the row of its aggregate in `rows`
    (keyed by aggregate id, read before; updated here). An event of an aggregate without a row
    (its first event is before the projection's start) is logged and passed over."""
    changed: dict[Any, RowT] = {}
    for event in events:
        row = fold(rows.get(event.originator_id), event)
        if row is None:
            logger.warning(
                "%s: no row of %s to apply %s to",
                projection,
                event.originator_id,
                type(event).__name__,
            )
            continue
        rows[event.originator_id] = changed[event.originator_id] = row
    return list(changed.values())


def upserted(upsert: str, columns: Sequence[str], rows: Sequence[Any]) -> list[Statement]:
    """The upsert of `rows` as one statement taking an array per column (none for no rows)."""
    if not rows:
        return []
    return [(upsert, [[getattr(row, column) for row in rows] for column in columns])]
