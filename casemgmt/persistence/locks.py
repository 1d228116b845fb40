"""PostgreSQL advisory locks: their keys, and electing the one worker that runs a projection.

Every advisory lock casemgmt takes (creating tables, migrating, running a projection) is keyed by
`advisory_lock_key`, so that `lock_holders` can name the holder of any of them from `pg_locks`.

A projection's lock lives on a connection of its own, kept for as long as the worker runs the
projection, so it is released the moment that connection ends: a clean stop, a killed process (the
server sees the socket close) or, with TCP keepalives, a machine that vanished. Standbys try again
every second. The same connection LISTENs for the log's NOTIFY once the lock is held, which wakes
the worker.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import select
import socket
from typing import TYPE_CHECKING, Any, Final

import psycopg2
import psycopg2.extensions
from eventsourcing.persistence import PersistenceError

from casemgmt.persistence.datastore import connect

if TYPE_CHECKING:
    from collections.abc import Iterable
    from types import TracebackType

    from casemgmt.persistence.datastore import Datastore

APPLICATION_NAME_PREFIX: Final = "casemgmt-projection"


class LockLost(RuntimeError):  # noqa: N818 -- names read as what happened
    """The connection holding a projection's lock broke: the lock may be someone else's now."""


def advisory_lock_key(name: str) -> int:
    """A stable signed 64-bit key for `pg_advisory_lock` (the same in every process)."""
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def holder_name() -> str:
    """The application_name of lock connections: which process on which host holds them."""
    return f"{APPLICATION_NAME_PREFIX} {os.getpid()}@{socket.gethostname()}"[:63]


class ProjectionLock:
    """The advisory lock of one projection, held on a dedicated connection."""

    def __init__(self, dsn: str, lock_name: str, channel: str) -> None:
        self.dsn = dsn
        self.lock_name = lock_name
        self.channel = channel
        self.key = advisory_lock_key(lock_name)
        self.held = False
        self._conn: psycopg2.extensions.connection | None = None

    def __enter__(self) -> ProjectionLock:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def try_acquire(self) -> bool:
        """Takes the lock if nobody holds it; then starts listening for new notifications."""
        conn = self._connection()
        try:
            with conn.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_lock(%s)", [self.key])
                row = cursor.fetchone()
                self.held = bool(row and row[0])
                if self.held:
                    cursor.execute(f'LISTEN "{self.channel}"')
        except psycopg2.Error as error:
            self.close()
            raise LockLost(f"lost the connection for {self.lock_name}: {error}") from error
        return self.held

    def wait_for_news(self, timeout: float, *, wake: int | None = None) -> bool:
        """Waits up to `timeout` seconds for a NOTIFY; True when one came (or was pending).

        `wake`: a file descriptor that ends the wait early when it becomes readable (a stop).
        """
        conn = self._held_connection()
        if self._drain(conn):
            return True
        watched: list[Any] = [conn] if wake is None else [conn, wake]
        try:
            readable, _, _ = select.select(watched, [], [], timeout)
        except (OSError, ValueError) as error:
            raise LockLost(f"lost the connection for {self.lock_name}: {error}") from error
        return conn in readable and self._drain(conn)

    def check(self) -> None:
        """Raises LockLost when the lock's connection has broken (cheap: reads what is pending)."""
        self._drain(self._held_connection())

    def close(self) -> None:
        """Ends the connection, which releases the lock."""
        conn, self._conn, self.held = self._conn, None, False
        if conn is not None:
            with contextlib.suppress(psycopg2.Error):
                conn.close()

    def _connection(self) -> psycopg2.extensions.connection:
        if self._conn is None or self._conn.closed:
            self._conn = self._connect()
        return self._conn

    def _held_connection(self) -> psycopg2.extensions.connection:
        if not self.held or self._conn is None or self._conn.closed:
            raise LockLost(f"the lock for {self.lock_name} is not held")
        return self._conn

    def _connect(self) -> psycopg2.extensions.connection:
        try:
            return connect(self.dsn, application_name=holder_name(), keepalive=True)
        except PersistenceError as error:
            raise LockLost(f"cannot connect for {self.lock_name}: {error}") from error

    def _drain(self, conn: psycopg2.extensions.connection) -> bool:
        try:
            conn.poll()
        except psycopg2.Error as error:
            self.close()
            raise LockLost(f"lost the connection for {self.lock_name}: {error}") from error
        if conn.notifies:
            conn.notifies.clear()
            return True
        return False


def lock_holders(datastore: Datastore, lock_names: Iterable[str]) -> dict[str, str]:
    """Who holds each of these advisory locks now, by lock name (absent: nobody).

    A holder is its connection's application_name: "pid@host" for a projection's lock.
    """
    names = {_lock_ids(advisory_lock_key(name)): name for name in lock_names}
    rows = datastore.execute(
        "SELECT l.classid::bigint, l.objid::bigint, a.application_name"
        " FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
        " WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1"
        " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    )
    holders = {}
    for classid, objid, application_name in rows:
        name = names.get((classid, objid))
        if name is not None:
            holders[name] = str(application_name).removeprefix(APPLICATION_NAME_PREFIX).strip()
    return holders


def _lock_ids(key: int) -> tuple[int, int]:
    # pg_locks shows a bigint advisory key as its high and low 32 bits (classid, objid).
    unsigned = key & 0xFFFFFFFFFFFFFFFF
    return unsigned >> 32, unsigned & 0xFFFFFFFF
