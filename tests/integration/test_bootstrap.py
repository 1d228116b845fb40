"""casemgmt wired as in production: migrations, accounts, references, the application."""

from __future__ import annotations

import base64
import gc
import multiprocessing
import os
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import psycopg2
import pytest
from yoyo import read_migrations

from casemgmt.bootstrap import StartupError, build, check_database
from casemgmt.domain import Actor, Channel, Context, Requester, RequesterKind, Role
from casemgmt.persistence import schema
from casemgmt.persistence.accounts import AccountError
from casemgmt.persistence.datastore import ConnectionPool, Datastore
from casemgmt.persistence.migrations import MIGRATIONS_DIR, migrate, pending
from casemgmt.persistence.recorders import PostgresAggregateRecorder, PostgresApplicationRecorder
from casemgmt.persistence.references import SequenceReferences
from casemgmt.projections.case_list import CaseListProjection
from casemgmt.settings import Settings, SettingsError
from tests.conftest import scratch_database

if TYPE_CHECKING:
    from casemgmt.bootstrap import Container


def _columns(url: str, table: str) -> list[tuple[str, str, str]]:
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cursor:
            cursor.execute(
                "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
                "WHERE table_name = %s AND table_schema = current_schema() "
                "ORDER BY ordinal_position",
                [table],
            )
            return cursor.fetchall()
    finally:
        conn.close()


def test_migrated_tables_match_the_tables_the_recorders_create(app_settings: Settings) -> None:
    url = app_settings.database_url
    assert url is not None
    datastore = Datastore(ConnectionPool(url, size=2))
    datastore.execute("DROP SCHEMA IF EXISTS ddl_check CASCADE; CREATE SCHEMA ddl_check")
    try:
        shadow = Datastore(datastore.pool, schema="ddl_check")
        PostgresApplicationRecorder(shadow, events_table_name="carecentre_events").create_table()
        PostgresAggregateRecorder(shadow, events_table_name="carecentre_snapshots").create_table()
        for table in ("carecentre_events", "carecentre_snapshots"):
            made = datastore.execute(
                "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
                "WHERE table_name = %s AND table_schema = 'ddl_check' ORDER BY ordinal_position",
                [table],
            )
            assert [tuple(row) for row in made] == _columns(url, table)
        functions = datastore.execute(
            "SELECT n.nspname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
            " WHERE p.proname = %s AND n.nspname = 'public'",
            [schema.REFUSE_TRACKING_FUNCTION],
        )
        assert functions == [("public",)]  # the migrations made the tracking guard too
    finally:
        datastore.execute("DROP SCHEMA IF EXISTS ddl_check CASCADE")
        datastore.close()


@pytest.mark.parametrize("table", ["carecentre_events", "caresessions_events"])
def test_migrated_append_functions_are_the_ones_the_recorders_create(
    app_settings: Settings, table: str
) -> None:
    """The migrations' append functions and schema.py's (unqualified) have the same body, so a
    change to the one without the other fails here."""
    url = app_settings.database_url
    assert url is not None
    made = schema.append_function("public", table).replace('"public".', "")
    made_body = made.split("$$")[1]
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cursor:
            name = schema.append_function_name(table)
            cursor.execute("SELECT prosrc FROM pg_proc WHERE proname = %s", [name])
            assert cursor.fetchall() == [(made_body,)]
    finally:
        conn.close()


def test_a_migrated_database_has_nothing_pending(app_settings: Settings) -> None:
    assert app_settings.database_url is not None
    assert pending(app_settings.database_url) == []
    assert migrate(app_settings.database_url) == []


def _migrate_in_child(url: str, results: multiprocessing.Queue[list[str]]) -> None:
    results.put(migrate(url))


def test_two_processes_starting_at_once_migrate_once(servers: Settings) -> None:
    assert servers.database_url is not None
    with scratch_database(servers.database_url, "casemgmt_test_race", migrated=False) as url:
        context = multiprocessing.get_context("spawn")
        results: multiprocessing.Queue[list[str]] = context.Queue()
        children = [
            context.Process(target=_migrate_in_child, args=(url, results)) for _ in range(2)
        ]
        for child in children:
            child.start()
        for child in children:
            child.join(60)
            assert child.exitcode == 0
        outcomes = sorted([results.get(timeout=5), results.get(timeout=5)], key=len)
        assert outcomes[0] == []
        assert outcomes[1] == [m.id for m in read_migrations(str(MIGRATIONS_DIR))]
        assert outcomes[1][:2] == ["0001.event-store", "0002.accounts"]
        assert pending(url) == []


def _pools() -> list[ConnectionPool]:
    return [thing for thing in gc.get_objects() if isinstance(thing, ConnectionPool)]


def test_a_built_container_has_one_pool_sized_by_casemgmt_pool_size(
    app_settings: Settings,
) -> None:
    assert app_settings.database_url is not None
    assert app_settings.redis_url is not None
    settings = Settings.from_env(
        {
            "CASEMGMT_DATABASE_URL": app_settings.database_url,
            "CASEMGMT_REDIS_URL": app_settings.redis_url,
            "CASEMGMT_REDIS_PREFIX": app_settings.redis_key_prefix,
            "CASEMGMT_POOL_SIZE": "3",
        }
    )
    before = _pools()
    built = build(settings)
    try:
        opened = [pool for pool in _pools() if not any(pool is old for old in before)]
        assert opened == [built.datastore.pool]
        assert built.datastore.pool.size == settings.pool_size == 3
        events = built.care_centre.recorder
        assert isinstance(events, PostgresApplicationRecorder)
        assert events.datastore is built.datastore
        assert built.care_centre.snapshots is not None
        snapshots = built.care_centre.snapshots.recorder
        assert isinstance(snapshots, PostgresAggregateRecorder)
        assert snapshots.datastore is built.datastore
        sessions = built.care_sessions.recorder
        assert isinstance(sessions, PostgresApplicationRecorder)
        assert sessions.datastore is built.datastore  # one pool, also for the sessions' events
        references = built.care_centre.references
        assert isinstance(references, SequenceReferences)
        assert references.datastore is built.datastore
        assert built.accounts.datastore is built.datastore
        case_list = built.projections[CaseListProjection.name]
        assert isinstance(case_list, CaseListProjection)
        assert case_list.datastore is built.datastore
        assert built.projections.datastore is built.datastore
        assert built.projections.log.recorder is events
    finally:
        built.close()


def test_an_account_token_authenticates_and_is_stored_only_as_a_hash(container: Container) -> None:
    account, token = container.accounts.add("lan.agent", "agent")
    assert container.accounts.authenticate(token) == account
    assert account.role is Role.AGENT
    assert container.accounts.authenticate(token + "x") is None
    stored = container.datastore.execute("SELECT token_hash::text FROM accounts")
    assert all(token not in row[0] for row in stored)


def test_accounts_refuse_unknown_roles_and_duplicate_names(container: Container) -> None:
    container.accounts.add("mai.supervisor", "supervisor")
    with pytest.raises(AccountError, match="already exists"):
        container.accounts.add("mai.supervisor", "agent")
    with pytest.raises(AccountError, match="unknown role 'janitor'"):
        container.accounts.add("someone", "janitor")


def test_cases_opened_through_the_container_get_sequential_references(
    container: Container,
) -> None:
    ctx = Context(
        actor=Actor("mail-gateway", Role.INTAKE),
        at=datetime.now(UTC),
        correlation_id="test",
        cause="channel:email",
    )
    requester = Requester(kind=RequesterKind.CITIZEN, id="0123456789", name="Nguyễn Văn A")
    first, _ = container.care_centre.open_case(
        channel=Channel.EMAIL, subject="Sổ BHXH", requester=requester, ctx=ctx
    )
    second, _ = container.care_centre.open_case(
        channel=Channel.POST, subject="Thẻ BHYT", requester=requester, ctx=ctx
    )
    first_number = int(first.reference.rsplit("-", 1)[1])
    assert second.reference == f"CC-{ctx.at.year}-{first_number + 1:06d}"
    assert container.care_centre.get_case(first.id).subject == "Sổ BHXH"


def test_an_unreachable_database_stops_start_up_with_one_clear_line() -> None:
    with pytest.raises(StartupError) as caught:
        check_database("postgresql://casemgmt:secret@127.0.0.1:1/casemgmt")
    message = str(caught.value)
    assert "\n" not in message
    assert "cannot connect to the database at postgresql://casemgmt:***@127.0.0.1:1" in message
    assert "secret" not in message
    assert "CASEMGMT_DATABASE_URL" in message


def test_a_cipher_key_in_the_settings_encrypts_what_the_care_centre_stores(
    app_settings: Settings,
) -> None:
    key = base64.b64encode(os.urandom(32)).decode()
    # A database of its own: the session's shared one must stay readable without the key.
    assert app_settings.database_url is not None
    with scratch_database(app_settings.database_url, f"casemgmt_cipher_{os.getpid()}") as url:
        encrypted = build(replace(app_settings, database_url=url, cipher_key=key))
        _check_encrypted(encrypted)


def _check_encrypted(encrypted: Container) -> None:
    try:
        requester = Requester(kind=RequesterKind.CITIZEN, id=None, name="Phạm Thị Encrypted")
        case, _ = encrypted.care_centre.open_case(
            channel=Channel.WEB_PORTAL,
            subject="Tra cứu quá trình đóng",
            requester=requester,
            ctx=Context(Actor("portal", Role.INTAKE), datetime.now(UTC), "cipher", "api"),
        )
        (state,) = encrypted.datastore.execute(
            "SELECT state FROM carecentre_events WHERE originator_id = %s", [case.id]
        )[0]
        assert "Phạm Thị Encrypted".encode() not in bytes(state)
        assert b"Encrypted" not in bytes(state)
        assert encrypted.care_centre.get_case(case.id).requester.name == "Phạm Thị Encrypted"
    finally:
        encrypted.close()


def test_a_cipher_key_that_is_not_base64_of_a_key_is_refused_saying_how_to_make_one(
    app_settings: Settings,
) -> None:
    with pytest.raises(SettingsError, match="16, 24 or 32 random bytes in base64"):
        build(replace(app_settings, cipher_key="not-a-key"))


def test_two_event_stores_sharing_one_redis_and_prefix_keep_their_queues_apart(
    app_settings: Settings, container: Container
) -> None:
    assert app_settings.database_url is not None
    with scratch_database(app_settings.database_url, f"casemgmt_other_{os.getpid()}") as url:
        other = build(replace(app_settings, database_url=url))
        try:
            assert other.settings.redis_key_prefix == container.settings.redis_key_prefix
            assert other.work_queues.keys.prefix != container.work_queues.keys.prefix
            assert other.work_queues.keys.prefix.startswith(app_settings.redis_key_prefix + ":")
        finally:
            other.close()
