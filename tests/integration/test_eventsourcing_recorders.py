"""eventsourcing's own recorder test suites, run on casemgmt's psycopg2 module and PostgreSQL."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from eventsourcing.persistence import InfrastructureFactory, TrackingRecorder
from eventsourcing.tests.persistence import (
    AggregateRecorderTestCase,
    ApplicationRecorderTestCase,
    InfrastructureFactoryTestCase,
    NonInterleavingNotificationIDsBaseCase,
    ProcessRecorderTestCase,
    TrackingRecorderTestCase,
)
from eventsourcing.utils import Environment

from casemgmt.persistence import Factory
from casemgmt.persistence.datastore import ConnectionPool, Datastore
from casemgmt.persistence.recorders import (
    PostgresAggregateRecorder,
    PostgresApplicationRecorder,
    PostgresProcessRecorder,
    PostgresTrackingRecorder,
)

if TYPE_CHECKING:
    from eventsourcing.persistence import (
        AggregateRecorder,
        ApplicationRecorder,
        ProcessRecorder,
    )

SCHEMA = f"es_recorder_tests_{os.getpid()}"


def _admin() -> Datastore:
    return Datastore(ConnectionPool(os.environ["CASEMGMT_DATABASE_URL"], size=1))


class FreshSchema:
    """Each test gets an empty schema of its own, dropped afterwards."""

    datastore: Datastore

    def setUp(self) -> None:
        admin = _admin()
        admin.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE; CREATE SCHEMA {SCHEMA}")
        admin.close()
        pool = ConnectionPool(os.environ["CASEMGMT_DATABASE_URL"], size=10)
        self.datastore = Datastore(pool, schema=SCHEMA)
        super().setUp()  # type: ignore[misc]

    def tearDown(self) -> None:
        super().tearDown()  # type: ignore[misc]
        self.datastore.close()
        admin = _admin()
        admin.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        admin.close()


class TestAggregateRecorder(FreshSchema, AggregateRecorderTestCase):
    def create_recorder(self) -> AggregateRecorder:
        recorder = PostgresAggregateRecorder(self.datastore, events_table_name="snapshots")
        recorder.create_table()
        return recorder


class TestApplicationRecorder(
    FreshSchema, ApplicationRecorderTestCase[PostgresApplicationRecorder]
):
    def create_recorder(self) -> PostgresApplicationRecorder:
        recorder = PostgresApplicationRecorder(self.datastore, events_table_name="events")
        recorder.create_table()
        return recorder

    def test_insert_subscribe(self) -> None:
        self.optional_test_insert_subscribe()


class TestNonInterleavingNotificationIDs(FreshSchema, NonInterleavingNotificationIDsBaseCase):
    def create_recorder(self) -> ApplicationRecorder:
        recorder = PostgresApplicationRecorder(self.datastore, events_table_name="events")
        recorder.create_table()
        return recorder


class TestTrackingRecorder(FreshSchema, TrackingRecorderTestCase):
    def create_recorder(self) -> TrackingRecorder:
        recorder = PostgresTrackingRecorder(self.datastore, tracking_table_name="tracking")
        recorder.create_table()
        return recorder


class TestProcessRecorder(FreshSchema, ProcessRecorderTestCase):
    def create_recorder(self) -> ProcessRecorder:
        recorder = PostgresProcessRecorder(
            self.datastore, events_table_name="events", tracking_table_name="tracking"
        )
        recorder.create_table()
        return recorder


class TrackingRecorderSubclass(PostgresTrackingRecorder):
    pass


class TestInfrastructureFactory(FreshSchema, InfrastructureFactoryTestCase[Factory]):
    def setUp(self) -> None:
        self.env = Environment(
            "TestCase",
            {
                InfrastructureFactory.PERSISTENCE_MODULE: "casemgmt.persistence",
                Factory.DATABASE_URL: os.environ["CASEMGMT_DATABASE_URL"],
                Factory.POSTGRES_SCHEMA: SCHEMA,
            },
        )
        super().setUp()

    def tearDown(self) -> None:
        super().tearDown()

    def expected_factory_class(self) -> type[Factory]:
        return Factory

    def expected_aggregate_recorder_class(self) -> type[Any]:
        return PostgresAggregateRecorder

    def expected_application_recorder_class(self) -> type[Any]:
        return PostgresApplicationRecorder

    def expected_tracking_recorder_class(self) -> type[Any]:
        return PostgresTrackingRecorder

    def tracking_recorder_subclass(self) -> type[TrackingRecorder]:
        return TrackingRecorderSubclass

    def expected_process_recorder_class(self) -> type[Any]:
        return PostgresProcessRecorder


del AggregateRecorderTestCase
del ApplicationRecorderTestCase
del NonInterleavingNotificationIDsBaseCase
del TrackingRecorderTestCase
del ProcessRecorderTestCase
del InfrastructureFactoryTestCase
