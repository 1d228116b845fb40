"""Connections to PostgreSQL through psycopg2: a small blocking pool that survives server restarts.

eventsourcing's own PostgreSQL module is written for psycopg 3; this is the psycopg2 counterpart
(rule 7 in docs/architecture.md). Every connection runs in autocommit mode: a write is sent as one
multi-statement query, which PostgreSQL runs as one implicit transaction, so a batch of events
costs one round trip.
Every connection casemgmt opens, pooled or not, is opened by `connect`, so all of them name
themselves, give up connecting after a timeout, and fail with eventsourcing's errors.
"""

from __future__ import annotations

import contextlib
import threading
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Final

import psycopg2
import psycopg2.errors
import psycopg2.extensions
import psycopg2.extras
from eventsourcing.persistence import (
    DatabaseError,
    DataError,
    IntegrityError,
    InterfaceError,
    InternalError,
    NotSupportedError,
    OperationalError,
    PersistenceError,
    ProgrammingError,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    Connection = psycopg2.extensions.connection


# psycopg2 error class → eventsourcing error class, most specific first.
_TRANSLATIONS: tuple[tuple[type[Exception], type[PersistenceError]], ...] = (
    (psycopg2.IntegrityError, IntegrityError),
    (psycopg2.InterfaceError, InterfaceError),
    (psycopg2.OperationalError, OperationalError),
    (psycopg2.DataError, DataError),
    (psycopg2.InternalError, InternalError),
    (psycopg2.ProgrammingError, ProgrammingError),
    (psycopg2.NotSupportedError, NotSupportedError),
    (psycopg2.DatabaseError, DatabaseError),
    (psycopg2.Error, PersistenceError),
)

# SQLSTATEs that mean the connection or the server went away (08: connection exception,
# 57P: server shut down or restarting), as opposed to a statement the server refused.
_CONNECTION_LOST_CLASSES = ("08", "57P")

# What pg_stat_activity shows for casemgmt's connections unless they say more about themselves.
APPLICATION_NAME: Final = "casemgmt"
# Both ends probe a silent peer after 5 s, every 2 s, and give up after 3 misses. The server side
# matters most: it is how soon the server ends the session of a client host that vanished (and
# with it the session's advisory locks); it is ignored on unix sockets, where death is seen at once.
_CLIENT_KEEPALIVE: Final = {"keepalives_idle": 5, "keepalives_interval": 2, "keepalives_count": 3}
_SERVER_KEEPALIVE: Final = (
    "SET tcp_keepalives_idle = 5; SET tcp_keepalives_interval = 2; SET tcp_keepalives_count = 3"
)


def translate(error: psycopg2.Error) -> PersistenceError:
    """The eventsourcing error that eventsourcing's callers expect for a psycopg2 error."""
    for driver_class, library_class in _TRANSLATIONS:
        if isinstance(error, driver_class):
            return library_class(str(error).strip())
    return PersistenceError(str(error))  # pragma: no cover - psycopg2.Error is the last row


def is_connection_lost(error: BaseException) -> bool:
    """True when the failure was the connection, so the statement may be tried on a new one."""
    cause = error.__cause__ if isinstance(error, PersistenceError) else error
    if isinstance(cause, psycopg2.InterfaceError):
        return True
    if isinstance(cause, psycopg2.OperationalError):
        code = cause.pgcode or ""
        return not code or code.startswith(_CONNECTION_LOST_CLASSES)
    return False


def connect(
    dsn: str,
    *,
    application_name: str = APPLICATION_NAME,
    connect_timeout: int = 5,
    keepalive: bool = False,
) -> Connection:
    """A new autocommit connection; errors come out as eventsourcing's persistence errors.

    `keepalive`: for a connection whose session must end soon after either side vanishes, such as
    one that holds a session advisory lock.
    """
    options: dict[str, Any] = _CLIENT_KEEPALIVE if keepalive else {}
    try:
        conn: Connection = psycopg2.connect(
            dsn, connect_timeout=connect_timeout, application_name=application_name, **options
        )
    except psycopg2.Error as error:
        raise translate(error) from error
    conn.autocommit = True
    psycopg2.extras.register_uuid(conn_or_curs=conn)  # type: ignore[no-untyped-call]
    if keepalive:
        try:
            with conn.cursor() as cursor:
                cursor.execute(_SERVER_KEEPALIVE)
        except psycopg2.Error as error:
            _close_quietly(conn)
            raise translate(error) from error
    return conn


class RoundTrips:
    """How many queries each thread has sent on a pool's connections: one `execute` is one round
    trip to the server (a multi-statement query too). Counted per thread, so a request's count is
    not mixed with the background writers' (`reads.py`) or other requests'."""

    def __init__(self) -> None:
        self._local = threading.local()

    def count(self) -> int:
        """The round trips this thread has made so far."""
        counted: int = getattr(self._local, "count", 0)
        return counted

    def add(self) -> None:
        self._local.count = self.count() + 1


def _counting_cursor(round_trips: RoundTrips) -> type[psycopg2.extensions.cursor]:
    class CountingCursor(psycopg2.extensions.cursor):
        def execute(self, query: Any, vars: Any = None) -> None:  # psycopg2's name
            round_trips.add()
            super().execute(query, vars)

    return CountingCursor


class PoolExhaustedError(OperationalError, TimeoutError):
    """Every connection stayed in use for longer than the pool's timeout."""


class ConnectionPool:
    """A fixed-size, thread-safe pool of autocommit connections.

    A connection that failed at the connection level is thrown away rather than returned, so after
    a server restart the pool heals itself one connection at a time without a process restart.
    """

    def __init__(
        self,
        dsn: str,
        *,
        size: int = 8,
        timeout: float = 30.0,
        connect_timeout: int = 5,
        max_age: float = 3600.0,
    ) -> None:
        self.dsn = dsn
        self.size = size
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.max_age = max_age
        self._slots = threading.BoundedSemaphore(size)
        self._idle: list[tuple[Connection, float]] = []
        self._lock = threading.Lock()
        self._closed = False
        self.round_trips = RoundTrips()
        self._cursor_class = _counting_cursor(self.round_trips)

    def connect(self) -> Connection:
        """A new connection to the pool's database, outside the pool (LISTEN, long reads)."""
        return connect(self.dsn, connect_timeout=self.connect_timeout)

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """Borrow a connection; errors come out as eventsourcing's persistence errors."""
        if self._closed:
            raise InterfaceError("connection pool is closed")
        if not self._slots.acquire(timeout=self.timeout):
            raise PoolExhaustedError(
                f"all {self.size} database connections stayed busy for {self.timeout:.0f}s"
            )
        try:
            conn, born = self._checkout()
            try:
                yield conn
            except psycopg2.Error as error:
                lost = is_connection_lost(error)
                self._checkin(conn, born, healthy=not lost)
                if lost:
                    # After a server restart every idle connection is dead too; dropping them
                    # now lets the retry get a live one instead of burning attempts on them.
                    self._close_idle()
                raise translate(error) from error
            except BaseException:
                self._checkin(conn, born, healthy=False)
                raise
            else:
                self._checkin(conn, born, healthy=True)
        finally:
            self._slots.release()

    def _checkout(self) -> tuple[Connection, float]:
        with self._lock:
            while self._idle:
                conn, born = self._idle.pop()
                if conn.closed or time.monotonic() - born > self.max_age:
                    _close_quietly(conn)
                    continue
                return conn, born
        conn = self.connect()
        conn.cursor_factory = self._cursor_class  # counts the round trips of pooled connections
        return conn, time.monotonic()

    def _checkin(self, conn: Connection, born: float, *, healthy: bool) -> None:
        in_transaction = (
            not conn.closed
            and conn.get_transaction_status() != psycopg2.extensions.TRANSACTION_STATUS_IDLE
        )
        if not healthy or conn.closed or in_transaction or self._closed:
            _close_quietly(conn)
            return
        with self._lock:
            self._idle.append((conn, born))

    def close(self) -> None:
        self._closed = True
        self._close_idle()

    def _close_idle(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn, _ in idle:
            _close_quietly(conn)


def _close_quietly(conn: Connection) -> None:
    with contextlib.suppress(psycopg2.Error):
        conn.close()


class Datastore:
    """Where a recorder's statements go: a pool, a schema, and retry on a lost connection."""

    def __init__(self, pool: ConnectionPool, *, schema: str = "public") -> None:
        self.pool = pool
        self.schema = schema

    def execute(self, query: str, params: Any = None, *, retries: int = 3) -> list[tuple[Any, ...]]:
        """Run one (possibly multi-statement) query and return the rows of its last statement.

        Retried on a fresh connection when the connection was lost before an answer came back:
        reads are always safe to repeat; writers that must not repeat pass retries=0.
        """
        attempt = 0
        while True:
            try:
                with self.pool.connection() as conn, conn.cursor() as cursor:
                    cursor.execute(query, params)
                    return cursor.fetchall() if cursor.description else []
            except PersistenceError as error:
                if attempt >= retries or not is_connection_lost(error):
                    raise
                attempt += 1
                time.sleep(0.05 * attempt)

    def close(self) -> None:
        self.pool.close()
