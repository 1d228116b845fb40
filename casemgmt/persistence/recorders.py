"""eventsourcing recorders on PostgreSQL through psycopg2.

Writes are one multi-statement query: PostgreSQL runs it as one implicit transaction, so a batch of
events (and a tracking position) costs a single round trip. The application recorder takes the
events table's EXCLUSIVE lock inside that transaction, so notification ids are committed in the
order they are issued and a reader tailing the log never sees a lower id appear after a higher one;
saves made at the same time in one process share that transaction (see group_commit.py).

Under that lock the same statement links each event into its case's hash chain and the log's (the
server computes the links: `schema.append_function`, defined in chain.py). With an audit key, the
write keeps its transaction open for a second round trip that stores the seals of the links it got
back, so that no committed event is ever left unsealed.
"""

from __future__ import annotations

import contextlib
import select
import threading
import time
from typing import TYPE_CHECKING, Any, cast
from uuid import UUID

import psycopg2
from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    IntegrityError,
    ListenNotifySubscription,
    Notification,
    PersistenceError,
    ProcessRecorder,
    StoredEvent,
    Subscription,
    Tracking,
    TrackingRecorder,
)

from casemgmt.application.erasure import SealingKeyDestroyed
from casemgmt.persistence import schema
from casemgmt.persistence.chain import Sealer
from casemgmt.persistence.datastore import is_connection_lost
from casemgmt.persistence.group_commit import GroupCommit
from casemgmt.persistence.locks import advisory_lock_key
from casemgmt.persistence.shredding import SealedStoredEvent

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from casemgmt.persistence.datastore import Datastore
    from casemgmt.persistence.shredding import RequesterKeys

_COLUMNS = "originator_id, originator_version, topic, state"
# The statement that links cases to the keys their first events were sealed with (migration 0014).
_LINK_KEYS = "SELECT casemgmt_link_requester_keys(%s::uuid[], %s::uuid[], %s::bytea[])"
# Its refusal of a destroyed key (the key's id is the error's DETAIL).
_KEY_DESTROYED = "CMK01"
# Two processes starting at once must not race on CREATE ... IF NOT EXISTS (which can fail on the
# catalogue's unique index), so creating tables is serialised by an advisory lock.
_CREATE_TABLE_LOCK = f"SELECT pg_advisory_xact_lock({advisory_lock_key('casemgmt:create_table')})"


class PostgresRecorder:
    """Common ground: a datastore and the statements that create this recorder's tables."""

    def __init__(self, datastore: Datastore) -> None:
        self.datastore = datastore
        self.create_statements: list[str] = []

    def create_table(self) -> None:
        self.datastore.execute("; ".join([_CREATE_TABLE_LOCK, *self.create_statements]))


class PostgresAggregateRecorder(PostgresRecorder, AggregateRecorder):
    """Events of aggregates (here: snapshots), without an application-wide sequence."""

    def __init__(self, datastore: Datastore, *, events_table_name: str = "stored_events") -> None:
        super().__init__(datastore)
        self.events_table_name = events_table_name
        self.events_table = schema.qualified(datastore.schema, events_table_name)
        self.create_statements += self._events_table_ddl()

    def _events_table_ddl(self) -> list[str]:
        return schema.aggregate_events_table(self.datastore.schema, self.events_table_name)

    def _insert_statement(self, count: int) -> str:
        # One row of placeholders per event: PostgreSQL parses and plans a multi-row VALUES
        # faster than unnest() of arrays, which shows at one event per save.
        rows = ", ".join(["(%s, %s, %s, %s)"] * count)
        return f"INSERT INTO {self.events_table} ({_COLUMNS}) VALUES {rows}"

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        if stored_events:
            query, params = self._insert_statement(len(stored_events)), _values_of(stored_events)
            self._write(self._executing(query, params), stored_events)
        return None

    def select_events(
        self,
        originator_id: UUID | str,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        query = f"SELECT {_COLUMNS} FROM {self.events_table} WHERE originator_id = %s"
        params: list[Any] = [originator_id]
        if gt is not None:
            query += " AND originator_version > %s"
            params.append(gt)
        if lte is not None:
            query += " AND originator_version <= %s"
            params.append(lte)
        query += " ORDER BY originator_version DESC" if desc else " ORDER BY originator_version"
        if limit is not None:
            query += " LIMIT %s"
            params.append(limit)
        return [_stored(row) for row in self.datastore.execute(query, params)]

    def select_aggregates(
        self, originator_ids: Sequence[UUID], snapshots: AggregateRecorder | None
    ) -> dict[UUID, tuple[StoredEvent | None, list[StoredEvent]]]:
        """Each aggregate's latest snapshot (from `snapshots`, a recorder of this store) and its
        events after it, all in ONE query: what loading a case costs (a round trip, not two).

        Aggregates with neither are left out.
        """
        if not originator_ids:
            return {}
        columns = _COLUMNS.split(", ")
        if isinstance(snapshots, PostgresAggregateRecorder):
            latest = (
                "SELECT DISTINCT ON (s.originator_id) s.originator_id, s.originator_version,"
                f" s.topic, s.state FROM {snapshots.events_table} s"
                " WHERE s.originator_id = ANY(%(ids)s::uuid[])"
                " ORDER BY s.originator_id, s.originator_version DESC"
            )
        else:  # no snapshots: an empty set of the same shape
            latest = f"SELECT {_COLUMNS} FROM {self.events_table} WHERE false"
        query = (
            f"WITH latest AS MATERIALIZED ({latest})"
            f" SELECT true, {_COLUMNS} FROM latest"
            f" UNION ALL SELECT false, {', '.join(f'e.{column}' for column in columns)}"
            " FROM unnest(%(ids)s::uuid[]) AS wanted(originator_id)"
            " LEFT JOIN latest l ON l.originator_id = wanted.originator_id"
            f" JOIN {self.events_table} e ON e.originator_id = wanted.originator_id"
            " AND e.originator_version > coalesce(l.originator_version, 0)"
            " ORDER BY 2, 1 DESC, 3"
        )
        rows = self.datastore.execute(query, {"ids": list(dict.fromkeys(originator_ids))})
        found: dict[UUID, tuple[StoredEvent | None, list[StoredEvent]]] = {}
        for is_snapshot, *row in rows:
            _, events = found.setdefault(row[0], (None, []))
            if is_snapshot:
                found[row[0]] = (_stored(row), events)
            else:
                events.append(_stored(row))
        return found

    def latest_versions(self, originator_ids: Sequence[UUID]) -> dict[UUID, int]:
        """Each aggregate's latest version, in one query (aggregates with no event left out)."""
        if not originator_ids:
            return {}
        query = (
            f"SELECT originator_id, max(originator_version) FROM {self.events_table}"
            " WHERE originator_id = ANY(%s::uuid[]) GROUP BY originator_id"
        )
        return dict(self.datastore.execute(query, [list(originator_ids)]))

    def _executing(self, query: str, params: Sequence[Any]) -> Callable[[int], list[Any]]:
        """A write of one round trip: `query` given `retries` on a lost connection."""
        return lambda retries: self.datastore.execute(query, params, retries=retries)

    def _write(
        self,
        attempt: Callable[[int], list[tuple[Any, ...]]],
        stored_events: Sequence[StoredEvent],
        **kwargs: Any,
    ) -> list[tuple[Any, ...]]:
        """Write once; after a lost connection, write again and accept our own earlier commit.

        `attempt(retries)` writes, trying that many more times while the connection is lost. A
        connection can drop after the server committed but before the answer arrived. Then the
        second attempt collides with the first one's rows: if those rows are exactly ours, the
        write did happen and is reported as done rather than as a conflict.
        """
        try:
            return attempt(0)
        except PersistenceError as error:
            if not is_connection_lost(error):
                raise
        try:
            return attempt(3)
        except IntegrityError:
            recorded = self._already_recorded(stored_events, **kwargs)
            if recorded is None:
                raise
            return recorded

    def _already_recorded(
        self, stored_events: Sequence[StoredEvent], **_: Any
    ) -> list[tuple[Any, ...]] | None:
        if not stored_events:
            return None
        rows = self.datastore.execute(
            f"SELECT originator_id, originator_version, state, {self._position_column()} "
            f"FROM {self.events_table} "
            "WHERE (originator_id, originator_version) IN "
            "(SELECT * FROM unnest(%s::uuid[], %s::bigint[]))",
            [
                [event.originator_id for event in stored_events],
                [event.originator_version for event in stored_events],
            ],
        )
        stored = {(row[0], row[1]): (bytes(row[2]), row[3]) for row in rows}
        positions = []
        for event in stored_events:
            found = stored.get((event.originator_id, event.originator_version))
            if found is None or found[0] != event.state:
                return None
            positions.append((found[1],))
        return positions

    def _position_column(self) -> str:
        return "NULL"


class PostgresApplicationRecorder(PostgresAggregateRecorder, ApplicationRecorder):
    """The application's events with their place in its notification log, hash-chained.

    `audit_key`: when given, every event's chain links are sealed with it (see chain.py).
    """

    def __init__(
        self,
        datastore: Datastore,
        *,
        events_table_name: str = "stored_events",
        audit_key: bytes | None = None,
    ) -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        self.channel_name = events_table_name.replace(".", "_")
        self.lock_and_notify = (
            f'LOCK TABLE {self.events_table} IN EXCLUSIVE MODE; NOTIFY "{self.channel_name}"'
        )
        append = schema.qualified(datastore.schema, schema.append_function_name(events_table_name))
        self.append_statement = (
            f"SELECT * FROM {append}(%s::uuid[], %s::bigint[], %s::text[], %s::bytea[])"
        )
        self.seals_table = schema.qualified(datastore.schema, schema.seals_table(events_table_name))
        self.sealer = None if audit_key is None else Sealer(audit_key)
        self.group_commit: GroupCommit[StoredEvent, int] = GroupCommit(self._insert)
        # The mapper's key store (the Factory sets it): told which keys a write found destroyed.
        self.requester_keys: RequesterKeys | None = None

    def _events_table_ddl(self) -> list[str]:
        return schema.application_events_table(self.datastore.schema, self.events_table_name)

    def _position_column(self) -> str:
        return "notification_id"

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        # A write that carries more than events (a tracking position, or whatever a subclass
        # writes beside them) has a transaction of its own; plain saves are grouped.
        if stored_events and all(value is None for value in kwargs.values()):
            return self.group_commit.write(stored_events)
        return self._insert(stored_events, **kwargs)

    def _insert(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> list[int]:
        statements, params = self._write_statements(stored_events, **kwargs)
        if not statements:
            return []
        query = "; ".join(statements)
        if self.sealer is not None and stored_events:
            attempt = self._sealing(query, params, self.sealer)
        else:
            attempt = self._executing(query, params)
        firsts = [event for event in stored_events if isinstance(event, SealedStoredEvent)]
        try:
            rows = self._write(attempt, stored_events, **kwargs)
        except PersistenceError as error:
            self._unsealed(firsts)
            destroyed = _destroyed_key(error)
            if destroyed is None:
                raise
            if self.requester_keys is not None:
                self.requester_keys.forget(destroyed)
            raise SealingKeyDestroyed(destroyed) from error
        except BaseException:
            self._unsealed(firsts)
            raise
        return [row[0] for row in rows] if stored_events else []

    def _unsealed(self, firsts: list[SealedStoredEvent]) -> None:
        if self.requester_keys is None:
            return
        for event in firsts:
            if event.key_id is not None:
                case_id = cast("UUID", event.originator_id)
                self.requester_keys.unsealed(case_id, event.key_id, event.new_key)

    def _write_statements(
        self, stored_events: Sequence[StoredEvent], **_: Any
    ) -> tuple[list[str], list[Any]]:
        if not stored_events:
            return [], []
        statements, params = (
            [self.lock_and_notify, self.append_statement],
            _columns_of(stored_events),
        )
        # Cases' first events: link each case to its key in the same transaction, before the
        # table lock is taken (a key row lock waited for must not hold up every writer).
        links = [
            event
            for event in stored_events
            if isinstance(event, SealedStoredEvent) and event.key_id is not None
        ]
        if links:
            statements.insert(0, _LINK_KEYS)
            params[:0] = [
                [event.key_id for event in links],
                [event.originator_id for event in links],
                [event.new_key for event in links],
            ]
        return statements, params

    def _sealing(
        self, query: str, params: Sequence[Any], sealer: Sealer
    ) -> Callable[[int], list[Any]]:
        """A write of two round trips in one transaction: append (`query`), then seal and commit.

        The seals are made here, with a key the database never sees, over the links the append
        returned; the transaction (and the table lock) stays open until they are stored with it.
        """

        def attempt(retries: int) -> list[Any]:
            tries = 0
            while True:
                try:
                    return self._append_and_seal(query, params, sealer)
                except PersistenceError as error:
                    if tries >= retries or not is_connection_lost(error):
                        raise
                    tries += 1
                    time.sleep(0.05 * tries)

        return attempt

    def _append_and_seal(
        self, query: str, params: Sequence[Any], sealer: Sealer
    ) -> list[tuple[Any, ...]]:
        with self.datastore.pool.connection() as conn, conn.cursor() as cursor:
            try:
                cursor.execute(f"BEGIN; {query}", params)
                rows = cursor.fetchall()
                seals = [
                    value
                    for notification_id, case_hash, log_hash in rows
                    for value in (
                        notification_id,
                        sealer.case_seal(bytes(case_hash)),
                        sealer.log_seal(bytes(log_hash)),
                    )
                ]
                values = ", ".join(["(%s, %s, %s)"] * len(rows))
                cursor.execute(
                    f"INSERT INTO {self.seals_table} (notification_id, case_seal, log_seal)"
                    f" VALUES {values}; COMMIT",
                    seals,
                )
            except psycopg2.Error as error:
                # Keep the connection for the pool: leave the failed transaction (unless the
                # connection itself is gone, when the pool throws it away).
                if not is_connection_lost(error):
                    with contextlib.suppress(psycopg2.Error):
                        cursor.execute("ROLLBACK")
                raise
            return rows

    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Notification]:
        conditions: list[str] = []
        params: list[Any] = []
        if start is not None:
            conditions.append(
                "notification_id >= %s" if inclusive_of_start else "notification_id > %s"
            )
            params.append(start)
        if stop is not None:
            conditions.append("notification_id <= %s")
            params.append(stop)
        if topics:
            conditions.append("topic = ANY(%s)")
            params.append(list(topics))
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        params.append(limit)
        rows = self.datastore.execute(
            f"SELECT notification_id, {_COLUMNS} FROM {self.events_table}{where} "
            "ORDER BY notification_id LIMIT %s",
            params,
        )
        return [
            Notification(
                id=row[0],
                originator_id=row[1],
                originator_version=row[2],
                topic=row[3],
                state=bytes(row[4]),
            )
            for row in rows
        ]

    def max_notification_id(self) -> int | None:
        rows = self.datastore.execute(f"SELECT max(notification_id) FROM {self.events_table}")
        return rows[0][0] if rows else None

    def count_notifications(self, up_to: int | None = None) -> int:
        """How many notifications the log holds (up to and including `up_to`)."""
        where = "" if up_to is None else " WHERE notification_id <= %s"
        rows = self.datastore.execute(
            f"SELECT count(*) FROM {self.events_table}{where}", [] if up_to is None else [up_to]
        )
        return int(rows[0][0])

    def subscribe(
        self, gt: int | None = None, topics: Sequence[str] = ()
    ) -> Subscription[ApplicationRecorder]:
        return PostgresSubscription(recorder=self, gt=gt, topics=topics)


class PostgresSubscription(ListenNotifySubscription[PostgresApplicationRecorder]):
    """Follows the notification log: catches up, then wakes on LISTEN/NOTIFY."""

    POLL_SECONDS = 0.1

    def __init__(
        self,
        recorder: PostgresApplicationRecorder,
        gt: int | None = None,
        topics: Sequence[str] = (),
    ) -> None:
        super().__init__(recorder=recorder, gt=gt, topics=topics)
        self._listen_thread = threading.Thread(target=self._listen, daemon=True)
        self._listen_thread.start()

    def __exit__(self, *args: object, **kwargs: Any) -> None:
        try:
            super().__exit__(*args, **kwargs)
        finally:
            self._listen_thread.join()

    def _listen(self) -> None:
        try:
            conn = self._recorder.datastore.pool.connect()
            try:
                conn.cursor().execute(f'LISTEN "{self._recorder.channel_name}"')
                # A write committed between the first catch-up read and LISTEN sent no
                # notification we could hear, so read once more now that we are listening.
                self._has_been_notified.set()
                while not self._has_been_stopped and not self._thread_error:
                    # Wake regularly so that stop() is noticed even when nothing is written.
                    if select.select([conn], [], [], self.POLL_SECONDS)[0]:
                        conn.poll()
                        if conn.notifies:
                            conn.notifies.clear()
                            self._has_been_notified.set()
            finally:
                conn.close()
        except BaseException as error:
            if self._thread_error is None:
                self._thread_error = error
            self.stop()


class PostgresTrackingRecorder(PostgresRecorder, TrackingRecorder):
    """The position of each projection or process in the notification log it follows."""

    def __init__(
        self,
        datastore: Datastore,
        *,
        tracking_table_name: str = "notification_tracking",
        **kwargs: Any,
    ) -> None:
        super().__init__(datastore, **kwargs)
        self.tracking_table_name = tracking_table_name
        self.tracking_table = schema.qualified(datastore.schema, tracking_table_name)
        self.create_statements += schema.tracking_table(datastore.schema, tracking_table_name)
        refuse = schema.qualified(datastore.schema, schema.REFUSE_TRACKING_FUNCTION)
        self.insert_tracking_statement = (
            "WITH advanced AS ("
            f" INSERT INTO {self.tracking_table} AS t (application_name, notification_id)"
            " VALUES (%s, %s)"
            " ON CONFLICT (application_name) DO UPDATE"
            " SET notification_id = EXCLUDED.notification_id"
            " WHERE t.notification_id < EXCLUDED.notification_id RETURNING 1)"
            f" SELECT {refuse}(%s, %s)"
            " WHERE NOT EXISTS (SELECT FROM advanced)"
        )

    def tracking_params(self, tracking: Tracking) -> list[Any]:
        """The values for insert_tracking_statement (each is used twice)."""
        return [tracking.application_name, tracking.notification_id] * 2

    def insert_tracking(self, tracking: Tracking) -> None:
        self.datastore.execute(
            self.insert_tracking_statement, self.tracking_params(tracking), retries=0
        )

    def max_tracking_id(self, application_name: str) -> int | None:
        rows = self.datastore.execute(
            f"SELECT notification_id FROM {self.tracking_table} WHERE application_name = %s",
            [application_name],
        )
        return rows[0][0] if rows else None


class PostgresProcessRecorder(
    PostgresTrackingRecorder, PostgresApplicationRecorder, ProcessRecorder
):
    """Events written together with the tracking position of what caused them."""

    def __init__(
        self,
        datastore: Datastore,
        *,
        events_table_name: str = "stored_events",
        tracking_table_name: str = "notification_tracking",
        audit_key: bytes | None = None,
    ) -> None:
        super().__init__(
            datastore,
            tracking_table_name=tracking_table_name,
            events_table_name=events_table_name,
            audit_key=audit_key,
        )

    def _write_statements(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> tuple[list[str], list[Any]]:
        statements, params = super()._write_statements(stored_events)
        tracking: Tracking | None = kwargs.get("tracking")
        if tracking is None:
            return statements, params
        return (
            [self.insert_tracking_statement, *statements],
            [*self.tracking_params(tracking), *params],
        )

    def _already_recorded(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> list[tuple[Any, ...]] | None:
        tracking: Tracking | None = kwargs.get("tracking")
        if stored_events or tracking is None:
            return super()._already_recorded(stored_events)
        # A position alone: if it stands at or past ours, what we meant to record is recorded.
        position = self.max_tracking_id(tracking.application_name)
        return [] if position is not None and position >= tracking.notification_id else None


def _destroyed_key(error: PersistenceError) -> UUID | None:
    """The key a write found destroyed, when that is why it was refused."""
    cause = error.__cause__
    if not isinstance(cause, psycopg2.Error) or cause.pgcode != _KEY_DESTROYED:
        return None
    return UUID(cause.diag.message_detail)


def _stored(row: Sequence[Any]) -> StoredEvent:
    return StoredEvent(
        originator_id=row[0], originator_version=row[1], topic=row[2], state=bytes(row[3])
    )


def _values_of(stored_events: Sequence[StoredEvent]) -> list[Any]:
    return [
        value
        for event in stored_events
        for value in (event.originator_id, event.originator_version, event.topic, event.state)
    ]


def _columns_of(stored_events: Sequence[StoredEvent]) -> list[Any]:
    """The append function's arguments: one array per column."""
    return [
        [event.originator_id for event in stored_events],
        [event.originator_version for event in stored_events],
        [event.topic for event in stored_events],
        [event.state for event in stored_events],
    ]
