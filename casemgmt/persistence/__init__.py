"""casemgmt's persistence module for eventsourcing: PostgreSQL through psycopg2.

Select it with ``PERSISTENCE_MODULE=casemgmt.persistence`` and point it at a database with
``DATABASE_URL=postgresql://…`` (both may carry the application's name as a prefix, as usual in
eventsourcing). Optional: ``POOL_SIZE`` (default 8), ``POSTGRES_SCHEMA`` (default public),
``CREATE_TABLE`` (default yes; the application turns it off once migrations made its tables),
``AUDIT_KEY`` (base64: seal the event store's hash chains with it, see chain.py).

Its mapper seals each requester's personal data with a key of their own (shredding.py), so that
erasing the requester destroys the key instead of rewriting stored events.
"""

from __future__ import annotations

import base64
import binascii
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, cast

from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    EventStore,
    InfrastructureFactory,
    Mapper,
    ProcessRecorder,
    Transcoder,
)
from eventsourcing.utils import Environment, EnvType, resolve_topic, strtobool

from casemgmt.persistence import schema
from casemgmt.persistence.datastore import ConnectionPool, Datastore
from casemgmt.persistence.recorders import (
    PostgresAggregateRecorder,
    PostgresApplicationRecorder,
    PostgresProcessRecorder,
    PostgresTrackingRecorder,
)
from casemgmt.persistence.shredding import RequesterKeys, ShreddingEventStore, ShreddingMapper
from casemgmt.settings import SettingsError, positive_int

if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import TypeVar

    TTracking = TypeVar("TTracking", bound=PostgresTrackingRecorder)


# The datastore that applications built inside `sharing(datastore)` use instead of a pool of their
# own: one process, one pool (CASEMGMT_POOL_SIZE), however many eventsourcing applications it runs.
_SHARED: ContextVar[Datastore | None] = ContextVar("casemgmt_shared_datastore", default=None)


@contextmanager
def sharing(datastore: Datastore) -> Iterator[None]:
    """Applications built in this block store their events through `datastore`."""
    token = _SHARED.set(datastore)
    try:
        yield
    finally:
        _SHARED.reset(token)


class Factory(InfrastructureFactory[PostgresTrackingRecorder]):
    """Builds the psycopg2 recorders of one eventsourcing application from its environment."""

    DATABASE_URL = "DATABASE_URL"
    POOL_SIZE = "POOL_SIZE"
    POSTGRES_SCHEMA = "POSTGRES_SCHEMA"
    CREATE_TABLE = "CREATE_TABLE"
    AUDIT_KEY = "AUDIT_KEY"

    aggregate_recorder_class = PostgresAggregateRecorder
    application_recorder_class = PostgresApplicationRecorder
    tracking_recorder_class = PostgresTrackingRecorder
    process_recorder_class = PostgresProcessRecorder

    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)
        url = self.env.get(self.DATABASE_URL)
        if not url:
            raise OSError(
                f"No database URL: set '{self.DATABASE_URL}' in the application's environment"
            )
        pool_size = _positive_int(self.env.get(self.POOL_SIZE) or "8", self.POOL_SIZE)
        shared = _SHARED.get()
        self.owns_datastore = shared is None  # a shared one is closed by its owner
        if shared is not None:
            self.datastore = shared
        else:
            self.datastore = Datastore(
                ConnectionPool(url, size=pool_size),
                schema=self.env.get(self.POSTGRES_SCHEMA) or "public",
            )
        # One key store for the mapper that seals and the recorders that link the keys.
        self.requester_keys = RequesterKeys(self.datastore)

    def mapper(
        self,
        transcoder: Transcoder | None = None,
        mapper_class: type[Mapper[Any]] | None = None,
    ) -> Mapper[Any]:
        """eventsourcing's mapper, unless chosen otherwise, sealing requesters' personal data."""
        if mapper_class is not None or self.env.get(self.MAPPER_TOPIC):
            return super().mapper(transcoder, mapper_class)
        return ShreddingMapper(
            transcoder or self.transcoder(),
            compressor=self.compressor(),
            cipher=self.cipher(),
            keys=self.requester_keys,
            events_table=schema.qualified(
                self.datastore.schema, f"{self._prefix('stored')}_events"
            ),
        )

    def event_store(
        self,
        mapper: Mapper[Any] | None = None,
        recorder: AggregateRecorder | None = None,
    ) -> EventStore[Any]:
        """eventsourcing's event store, which takes the keys of a write's new cases at once."""
        return ShreddingEventStore(
            mapper=mapper or self.mapper(), recorder=recorder or self.application_recorder()
        )

    def _prefix(self, default: str) -> str:
        return self.env.name.lower() or default

    def _create_tables(self) -> bool:
        return strtobool(self.env.get(self.CREATE_TABLE) or "yes")

    def aggregate_recorder(self, purpose: str = "events") -> AggregateRecorder:
        recorder = self.aggregate_recorder_class(
            self.datastore, events_table_name=f"{self._prefix('stored')}_{purpose}"
        )
        if self._create_tables():
            recorder.create_table()
        return recorder

    def application_recorder(self) -> ApplicationRecorder:
        recorder_class: type[PostgresApplicationRecorder] = self.application_recorder_class
        topic = self.env.get(self.APPLICATION_RECORDER_TOPIC)
        if topic:
            recorder_class = resolve_topic(topic)
        recorder = recorder_class(
            self.datastore,
            events_table_name=f"{self._prefix('stored')}_events",
            audit_key=self._audit_key(),
        )
        recorder.requester_keys = self.requester_keys
        if self._create_tables():
            recorder.create_table()
        return recorder

    def _audit_key(self) -> bytes | None:
        raw = self.env.get(self.AUDIT_KEY)
        if not raw:
            return None
        try:
            return base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise OSError(f"'{self.AUDIT_KEY}' must be base64") from None

    def tracking_recorder(
        self, tracking_recorder_class: type[Any] | None = None
    ) -> PostgresTrackingRecorder:
        recorder_class = tracking_recorder_class
        if recorder_class is None:
            topic = self.env.get(self.TRACKING_RECORDER_TOPIC)
            recorder_class = resolve_topic(topic) if topic else self.tracking_recorder_class
        recorder = cast(
            PostgresTrackingRecorder,
            recorder_class(
                self.datastore,
                tracking_table_name=f"{self._prefix('notification')}_tracking",
            ),
        )
        if self._create_tables():
            recorder.create_table()
        return recorder

    def process_recorder(self) -> ProcessRecorder:
        recorder_class: type[PostgresProcessRecorder] = self.process_recorder_class
        topic = self.env.get(self.PROCESS_RECORDER_TOPIC)
        if topic:
            recorder_class = resolve_topic(topic)
        recorder = recorder_class(
            self.datastore,
            events_table_name=f"{self._prefix('stored')}_events",
            tracking_table_name=f"{self._prefix('notification')}_tracking",
            audit_key=self._audit_key(),
        )
        recorder.requester_keys = self.requester_keys
        if self._create_tables():
            recorder.create_table()
        return recorder

    def close(self) -> None:
        if self.owns_datastore:
            self.datastore.close()


def _positive_int(raw: str, key: str) -> int:
    try:
        return positive_int(raw, key)
    except SettingsError as error:
        raise OSError(str(error)) from None  # what eventsourcing expects of a bad environment


__all__ = ["Factory"]
