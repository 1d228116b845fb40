"""casemgmt opens every connection with `connect` and keys every advisory lock one way."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from typing import TYPE_CHECKING

import psycopg2
import pytest
from eventsourcing.persistence import OperationalError

from casemgmt.persistence.datastore import ConnectionPool, Datastore, connect
from casemgmt.persistence.locks import advisory_lock_key, lock_holders
from casemgmt.persistence.migrations import migrate

if TYPE_CHECKING:
    from casemgmt.settings import Settings


def test_a_connection_that_cannot_be_made_fails_with_eventsourcings_error() -> None:
    with pytest.raises(OperationalError) as caught:
        connect("postgresql://casemgmt@127.0.0.1:1/casemgmt", connect_timeout=2)
    assert isinstance(caught.value.__cause__, psycopg2.OperationalError)


def test_a_connection_is_autocommit_names_itself_and_reads_uuids(app_settings: Settings) -> None:
    assert app_settings.database_url is not None
    with closing(connect(app_settings.database_url, application_name="casemgmt-test")) as conn:
        with conn.cursor() as cursor:
            cursor.execute("SELECT current_setting('application_name'), gen_random_uuid()")
            name, generated = cursor.fetchone() or (None, None)
        assert conn.autocommit
    assert name == "casemgmt-test"
    assert isinstance(generated, uuid.UUID)


def test_keepalive_has_the_server_probe_a_silent_client(app_settings: Settings) -> None:
    assert app_settings.database_url is not None
    with (
        closing(connect(app_settings.database_url, keepalive=True)) as conn,
        conn.cursor() as cursor,
    ):
        cursor.execute(
            "SELECT inet_client_addr() IS NULL, current_setting('tcp_keepalives_idle'),"
            " current_setting('tcp_keepalives_count')"
        )
        over_unix_socket, idle, count = cursor.fetchone() or (None, None, None)
    # PostgreSQL ignores the setting on unix sockets (and shows 0), where death is seen at once.
    assert (idle, count) == (("0", "0") if over_unix_socket else ("5", "3"))


def test_lock_holders_names_whoever_holds_a_casemgmt_advisory_lock(
    app_settings: Settings,
) -> None:
    assert app_settings.database_url is not None
    datastore = Datastore(ConnectionPool(app_settings.database_url, size=1))
    holder = connect(app_settings.database_url, application_name="casemgmt-test-holder")
    try:
        with holder.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [advisory_lock_key("casemgmt:test")])
        assert lock_holders(datastore, ["casemgmt:test", "casemgmt:other"]) == {
            "casemgmt:test": "casemgmt-test-holder"
        }
    finally:
        holder.close()
        datastore.close()


def test_migrate_waits_while_another_process_holds_the_migration_lock(
    app_settings: Settings,
) -> None:
    assert app_settings.database_url is not None
    holder = connect(app_settings.database_url)
    with ThreadPoolExecutor(max_workers=1) as executor:
        try:
            with holder.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_advisory_lock(%s)", [advisory_lock_key("casemgmt:migrate")]
                )
            migrating = executor.submit(migrate, app_settings.database_url)
            with pytest.raises(TimeoutError):
                migrating.result(timeout=0.5)
        finally:
            holder.close()
        assert migrating.result(timeout=30) == []
