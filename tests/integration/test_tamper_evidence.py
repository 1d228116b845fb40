"""Tamper evidence: every event is linked into its case's hash chain and the log's where it is
written, so verification finds an event changed, deleted, slipped in or moved by SQL, and, with the
audit key, also one whose chains were recomputed after the edit.

Each test has a database of its own (a tampered store must not leak into other tests) and a fresh
case; the attacker works with plain SQL, as someone who can write the database would.
"""

from __future__ import annotations

import argparse
import base64
import io
import multiprocessing
import random
import threading
import uuid
from contextlib import closing, contextmanager, redirect_stdout
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import psycopg2
import pytest
from eventsourcing.persistence import StoredEvent
from eventsourcing.tests.persistence import ApplicationRecorderTestCase, ProcessRecorderTestCase

from casemgmt.api import create_app
from casemgmt.bootstrap import build
from casemgmt.cli import audit
from casemgmt.domain import Action, Actor, Channel, Context, Requester, RequesterKind, Role
from casemgmt.persistence import chain, schema
from casemgmt.persistence.chain import GENESIS, Sealer
from casemgmt.persistence.datastore import ConnectionPool, Datastore
from casemgmt.persistence.migrations import MIGRATIONS_DIR, migrate
from casemgmt.persistence.recorders import PostgresApplicationRecorder, PostgresProcessRecorder
from casemgmt.persistence.verification import ChainAudit
from casemgmt.settings import Settings, SettingsError
from tests.integration.test_eventsourcing_recorders import FreshSchema
from tests.support.databases import scratch_database

if TYPE_CHECKING:
    from collections.abc import Iterator
    from multiprocessing.queues import Queue
    from multiprocessing.synchronize import Barrier
    from pathlib import Path

    from flask.testing import FlaskClient

    from casemgmt.bootstrap import Container

KEY = base64.b64encode(b"the agency's audit key, 32 bytes").decode()
WRITER_PROCESSES = 3
EVENTS = "carecentre_events"
HEADS = "carecentre_events_heads"
SEALS = "carecentre_events_seals"


@dataclass
class Store:
    """casemgmt on a database of the test's own: the care centre, its API, an auditor's token."""

    url: str
    container: Container
    client: FlaskClient
    token: str

    def open_case(self, notes: int = 3) -> uuid.UUID:
        """A new case (versions 1-3: received, two SLA clocks started) and `notes` notes after."""
        centre = self.container.care_centre
        case, _ = centre.open_case(
            channel=Channel.EMAIL,
            subject="Chưa nhận được sổ BHXH",
            requester=Requester(kind=RequesterKind.CITIZEN, id="0123456789", name="Nguyễn Văn A"),
            ctx=_context(Actor("intake-mai", Role.INTAKE)),
        )
        for n in range(notes):
            centre.act(case.id, Action.NOTE, _context(), text=f"called back ({n + 1})")
        return case.id

    def verify(self, case_id: uuid.UUID) -> dict[str, Any]:
        """`GET /api/v1/cases/{id}/verify` as an auditor."""
        answer = self.client.get(
            f"/api/v1/cases/{case_id}/verify", headers={"Authorization": f"Bearer {self.token}"}
        )
        assert answer.status_code == 200, answer.get_data(as_text=True)
        body: dict[str, Any] = answer.get_json()
        return body

    def cli(self, *args: str) -> tuple[int, str]:
        """`casemgmt audit …` on this store: its exit status and what it printed."""
        parser = argparse.ArgumentParser(prog="casemgmt")
        commands = parser.add_subparsers(required=True)

        @contextmanager
        def started() -> Iterator[Container]:
            yield self.container

        audit.register(commands, started)
        parsed = parser.parse_args(["audit", *args])
        printed = io.StringIO()
        with redirect_stdout(printed):
            status: int = parsed.command(parsed)
        return status, printed.getvalue()

    def sql(self, statement: str, params: Any = None) -> list[tuple[Any, ...]]:
        with closing(psycopg2.connect(self.url)) as conn, conn.cursor() as cursor:
            conn.autocommit = True
            cursor.execute(statement, params)
            return cursor.fetchall() if cursor.description else []


def _context(actor: Actor | None = None) -> Context:
    who = actor or Actor("supervisor-lan", Role.SUPERVISOR)
    return Context(who, datetime.now(UTC), f"tamper-{uuid.uuid4()}", "api")


@contextmanager
def _store(servers: Settings, **settings: Any) -> Iterator[Store]:
    assert servers.database_url is not None
    name = f"casemgmt_tamper_{uuid.uuid4().hex[:12]}"
    with scratch_database(servers.database_url, name) as url:
        container = build(replace(servers, database_url=url, **settings))
        try:
            app = create_app(container.settings, container)
            _, token = container.accounts.add(f"auditor-{uuid.uuid4().hex[:8]}", Role.AUDITOR)
            yield Store(url, container, app.test_client(), token)
        finally:
            container.close()


@pytest.fixture
def store(servers: Settings) -> Iterator[Store]:
    with _store(servers) as made:
        yield made


@pytest.fixture
def keyed_store(servers: Settings) -> Iterator[Store]:
    with _store(servers, audit_key=KEY) as made:
        yield made


def problems_of(answer: dict[str, Any]) -> list[tuple[int, str]]:
    return [(p["version"], p["problem"]) for p in answer["problems"]]


# What someone who can write the database, and knows the algorithm, can do.


def recompute_chains(store: Store) -> None:
    """Make every link (and every case's head) fit the events as they now are, as chain.py does."""
    rows = store.sql(
        f"SELECT originator_id, originator_version, topic, state, notification_id FROM {EVENTS}"
        " ORDER BY notification_id"
    )
    cases: dict[str, tuple[int, bytes]] = {}
    previous_log = GENESIS
    for originator_id, version, topic, state, notification_id in rows:
        event = chain.canonical(uuid.UUID(str(originator_id)), version, topic, bytes(state))
        before = cases.get(originator_id, (0, GENESIS))[1]
        case_hash, previous_log = (
            chain.case_link(event, before),
            chain.log_link(notification_id, event, previous_log),
        )
        cases[originator_id] = (version, case_hash)
        store.sql(
            f"UPDATE {EVENTS} SET case_hash = %s, log_hash = %s WHERE notification_id = %s",
            [case_hash, previous_log, notification_id],
        )
    store.sql(f"DELETE FROM {HEADS}")
    for originator_id, (version, case_hash) in cases.items():
        store.sql(f"INSERT INTO {HEADS} VALUES (%s, %s, %s)", [originator_id, version, case_hash])


def change_a_note(store: Store, case_id: uuid.UUID, version: int) -> None:
    (state,) = store.sql(
        f"SELECT state FROM {EVENTS} WHERE originator_id = %s AND originator_version = %s",
        [case_id, version],
    )[0]
    altered = bytes(state).replace(b"called back", b"never called")
    assert altered != bytes(state)
    store.sql(
        f"UPDATE {EVENTS} SET state = %s WHERE originator_id = %s AND originator_version = %s",
        [altered, case_id, version],
    )


def delete_event(store: Store, case_id: uuid.UUID, version: int) -> None:
    store.sql(
        f"DELETE FROM {EVENTS} WHERE originator_id = %s AND originator_version = %s",
        [case_id, version],
    )


def forge_a_note(store: Store, case_id: uuid.UUID, version: int, *, linked: bool) -> None:
    """A copy of the case's last note as a new version; `linked`: with links made by chain.py."""
    topic, state = store.sql(
        f"SELECT topic, state FROM {EVENTS} WHERE originator_id = %s"
        " ORDER BY originator_version DESC LIMIT 1",
        [case_id],
    )[0]
    state = bytes(state).replace(b"called back", b"promised a refund")
    (notification_id,) = store.sql(
        f"SELECT nextval(pg_get_serial_sequence('{EVENTS}', 'notification_id'))"
    )[0]
    case_hash = log_hash = None
    if linked:
        (before,) = store.sql(
            f"SELECT case_hash FROM {EVENTS} WHERE originator_id = %s"
            " ORDER BY originator_version DESC LIMIT 1",
            [case_id],
        )[0]
        (last_log,) = store.sql(
            f"SELECT log_hash FROM {EVENTS} ORDER BY notification_id DESC LIMIT 1"
        )[0]
        event = chain.canonical(case_id, version, topic, state)
        case_hash = chain.case_link(event, bytes(before))
        log_hash = chain.log_link(notification_id, event, bytes(last_log))
    store.sql(
        f"INSERT INTO {EVENTS} (originator_id, originator_version, topic, state,"
        " notification_id, case_hash, log_hash) VALUES (%s, %s, %s, %s, %s, %s, %s)",
        [case_id, version, topic, state, notification_id, case_hash, log_hash],
    )


# Without the audit key: edits that leave the links alone.


def test_an_untouched_case_verifies_intact(store: Store) -> None:
    case_id = store.open_case()

    answer = store.verify(case_id)
    status, printed = store.cli("verify", "--case", str(case_id))
    everything, summary = store.cli("verify")

    assert answer == {"case_id": str(case_id), "intact": True, "events": 6, "problems": []}
    assert (status, printed.splitlines()[-1]) == (0, "intact")
    assert everything == 0, summary
    assert "checked 6 events of 1 cases" in summary


def test_an_event_whose_bytes_were_updated_is_found_altered_at_its_version(store: Store) -> None:
    case_id = store.open_case()

    change_a_note(store, case_id, 5)

    answer = store.verify(case_id)
    assert answer["intact"] is False
    assert problems_of(answer) == [(5, "altered")]
    status, printed = store.cli("verify")
    assert status == 1
    assert f"case {case_id} version 5: altered" in printed
    assert f"case {case_id} version 5, notification" in printed  # the log's chain breaks there


@pytest.mark.parametrize("version", [5, 6], ids=["a middle event", "the last event"])
def test_a_deleted_event_is_found_missing_at_its_version(store: Store, version: int) -> None:
    case_id = store.open_case()

    delete_event(store, case_id, version)

    answer = store.verify(case_id)
    assert (answer["intact"], answer["events"]) == (False, 5)
    assert problems_of(answer) == [(version, "missing")]
    status, printed = store.cli("verify", "--case", str(case_id))
    assert status == 1
    assert f"case {case_id} version {version}: missing" in printed


@pytest.mark.parametrize("linked", [False, True], ids=["without links", "with computed links"])
def test_an_event_inserted_by_sql_is_found_inserted(store: Store, linked: bool) -> None:
    case_id = store.open_case()

    forge_a_note(store, case_id, 7, linked=linked)
    later = store.open_case(notes=0)  # the recorder links its events after the forged one

    answer = store.verify(case_id)
    assert (answer["intact"], answer["events"]) == (False, 7)
    assert problems_of(answer) == [(7, "inserted")]
    status, printed = store.cli("verify")
    assert status == 1
    assert "NOT INTACT: 1 problem(s)" in printed
    assert f"case {case_id} version 7: inserted: past the case's head, version 6" in printed
    assert store.verify(later)["intact"] is True


def test_a_case_deleted_whole_is_found_missing_with_every_version(store: Store) -> None:
    before = store.open_case(notes=1)
    case_id = store.open_case()
    after = store.open_case(notes=1)

    store.sql(f"DELETE FROM {EVENTS} WHERE originator_id = %s", [case_id])

    answer = store.verify(case_id)
    assert (answer["intact"], answer["events"]) == (False, 0)
    assert problems_of(answer) == [(1, "missing")]
    assert "versions 1–6 are gone" in answer["problems"][0]["detail"]
    status, printed = store.cli("verify")
    assert status == 1
    assert f"case {case_id} version 1: missing" in printed
    # The log's chain breaks at the first notification after the deleted case's events.
    assert f"case {after} version 1, notification" in printed
    assert store.verify(before)["intact"] is True


def test_events_swapped_between_versions_are_found_reordered(store: Store) -> None:
    case_id = store.open_case()

    store.sql(
        f"UPDATE {EVENTS} SET originator_version = -originator_version"
        " WHERE originator_id = %s AND originator_version IN (4, 5)",
        [case_id],
    )
    store.sql(
        f"UPDATE {EVENTS} SET originator_version = 9 + originator_version"
        " WHERE originator_id = %s AND originator_version < 0",
        [case_id],
    )

    assert problems_of(store.verify(case_id)) == [(4, "reordered"), (5, "reordered")]


def test_events_swapped_in_the_log_are_found_reordered(store: Store) -> None:
    first = store.open_case(notes=1)  # notifications 1-4
    second = store.open_case(notes=1)  # notifications 5-8

    renumber = f"UPDATE {EVENTS} SET notification_id = %s WHERE notification_id = %s"
    for old, new in ((4, -4), (5, 4), (-4, 5)):  # ids are unique: 4 steps aside first
        store.sql(renumber, [new, old])

    status, printed = store.cli("verify")
    assert status == 1
    problems = [line.strip() for line in printed.splitlines() if line.startswith("  ")]
    assert problems == [
        f"case {second} version 1, notification 4: reordered: it was written as notification 5",
        f"case {first} version 4, notification 5: reordered: it was written as notification 4",
    ]
    assert store.verify(first)["intact"] is True  # each case's own chain is whole


def test_an_unknown_case_is_not_found_and_only_auditors_and_admins_may_verify(
    store: Store,
) -> None:
    case_id = store.open_case(notes=0)
    _, agent = store.container.accounts.add(f"agent-{uuid.uuid4().hex[:8]}", Role.AGENT)

    unknown = store.client.get(
        f"/api/v1/cases/{uuid.uuid4()}/verify", headers={"Authorization": f"Bearer {store.token}"}
    )
    refused = store.client.get(
        f"/api/v1/cases/{case_id}/verify", headers={"Authorization": f"Bearer {agent}"}
    )

    assert unknown.status_code == 404
    assert refused.status_code == 403


# With the audit key: the attacker recomputes the chains, and the seals give them away.


def test_audit_key_an_edit_whose_chains_were_recomputed_is_still_found(keyed_store: Store) -> None:
    case_id = keyed_store.open_case()
    later = keyed_store.open_case(notes=1)

    change_a_note(keyed_store, case_id, 5)
    recompute_chains(keyed_store)

    assert problems_of(keyed_store.verify(case_id)) == [(5, "altered")]
    assert keyed_store.verify(later)["intact"] is True  # its own chain and seals are untouched
    status, printed = keyed_store.cli("verify")
    assert status == 1
    assert f"case {case_id} version 5: altered" in printed
    assert f"case {case_id} version 5, notification" in printed  # the log's seal fails there


def test_audit_key_a_deletion_whose_chains_were_recomputed_is_still_found(
    keyed_store: Store,
) -> None:
    case_id = keyed_store.open_case()
    after = keyed_store.open_case(notes=1)

    keyed_store.sql(f"DELETE FROM {EVENTS} WHERE originator_id = %s", [case_id])
    recompute_chains(keyed_store)  # its head is gone with it: the case's own chain says nothing

    status, printed = keyed_store.cli("verify")
    assert status == 1
    assert f"case {after} version 1, notification" in printed
    assert ": missing: an event before it was removed" in printed


def test_audit_key_a_forged_event_with_recomputed_chains_is_found_unsealed(
    keyed_store: Store,
) -> None:
    case_id = keyed_store.open_case()

    forge_a_note(keyed_store, case_id, 7, linked=True)
    recompute_chains(keyed_store)  # its head now records the forged version

    answer = keyed_store.verify(case_id)
    assert problems_of(answer) == [(7, "inserted")]
    assert "not sealed" in answer["problems"][0]["detail"]


def test_audit_key_without_it_the_seals_are_not_checked_and_a_recomputed_edit_passes(
    keyed_store: Store, servers: Settings
) -> None:
    case_id = keyed_store.open_case()
    change_a_note(keyed_store, case_id, 4)
    recompute_chains(keyed_store)

    keyless = ChainAudit(keyed_store.container.datastore, EVENTS, sealer=None)
    wrong_key = ChainAudit(keyed_store.container.datastore, EVENTS, Sealer(b"x" * 32))

    verdict = keyless.verify_case(case_id)
    assert verdict is not None
    assert verdict.intact  # the limit of plain hashes: what the key is for
    wrong = wrong_key.verify_case(case_id)
    assert wrong is not None
    assert not wrong.intact


def test_anchor_prints_the_sealed_log_head_and_verify_finds_the_log_cut_short_before_it(
    keyed_store: Store, tmp_path: Path
) -> None:
    keyed_store.open_case(notes=1)
    case_id = keyed_store.open_case()

    status, printed = keyed_store.cli("anchor")
    anchor = tmp_path / "anchor.json"
    anchor.write_text(printed)
    (notification_id, log_hash) = keyed_store.sql(
        f"SELECT notification_id, log_hash FROM {EVENTS} ORDER BY 1 DESC LIMIT 1"
    )[0]
    # The whole newest case gone, its head and seals with it: nothing inside the store tells.
    keyed_store.sql(
        f"DELETE FROM {SEALS} WHERE notification_id IN"
        f" (SELECT notification_id FROM {EVENTS} WHERE originator_id = %s)",
        [case_id],
    )
    keyed_store.sql(f"DELETE FROM {EVENTS} WHERE originator_id = %s", [case_id])
    keyed_store.sql(f"DELETE FROM {HEADS} WHERE originator_id = %s", [case_id])
    without, _ = keyed_store.cli("verify")
    against, checked = keyed_store.cli("verify", "--anchor", str(anchor))

    assert status == 0
    assert f'"notification_id": {notification_id}' in printed
    assert bytes(log_hash).hex() in printed
    assert '"hmac": "' in printed
    assert (without, against) == (0, 1)
    assert f"notification {notification_id}: missing: the anchored notification" in checked


def test_an_audit_key_that_is_not_base64_of_16_bytes_is_refused_saying_how_to_make_one() -> None:
    short = base64.b64encode(b"too short").decode()
    for value in ("not base64!", short):
        with pytest.raises(SettingsError, match="CASEMGMT_AUDIT_KEY must be at least 16"):
            Settings.from_env({"CASEMGMT_AUDIT_KEY": value})
    assert Settings.from_env({"CASEMGMT_AUDIT_KEY": KEY}).audit_key == KEY


# Concurrent writers keep the chains whole, and old events get links.


def test_table_lock_keeps_the_chains_whole_under_group_commit_of_many_threads(
    servers: Settings,
) -> None:
    with _recorded(servers) as (url, recorder):
        cases = _save_concurrently(recorder, threads=8, saves=30, seed=1)
        verdict = ChainAudit.of(recorder).verify_all()
        transactions = _count(url, f"SELECT count(DISTINCT xmin::text) FROM {EVENTS}")

    assert verdict.problems == []
    assert (verdict.cases, verdict.notifications) == (len(cases), sum(cases.values()))
    assert transactions < 8 * 30  # saves were grouped


@pytest.mark.parametrize("key", [None, KEY], ids=["plain", "sealed"])
def test_one_write_of_several_cases_interleaved_links_each_to_the_one_before_it(
    servers: Settings, key: str | None
) -> None:
    """The append function links a write's events set-wise: an event's previous case link is
    its case's earlier event in the same write, or else its case's head."""
    a, b, c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    with _recorded(servers, key) as (_, recorder):
        recorder.insert_events([_stored(a, 1), _stored(b, 1)])
        recorder.insert_events(
            [_stored(a, 2), _stored(c, 1), _stored(b, 2), _stored(a, 3), _stored(c, 2)]
        )
        recorder.insert_events([_stored(b, 3), _stored(a, 4)])
        verdict = ChainAudit.of(recorder).verify_all()

    assert verdict.problems == []
    assert (verdict.cases, verdict.notifications) == (3, 9)
    assert verdict.unsealed == 0


@pytest.mark.parametrize("key", [None, KEY], ids=["plain", "sealed"])
def test_writes_larger_than_a_commands_link_the_same_way(
    servers: Settings, key: str | None
) -> None:
    """Writes above `schema.SMALL_WRITE` events go set-wise: interleaved cases, some with a head
    from an earlier write, each event linked to the one before it, then a small write after."""
    cases = [uuid.uuid4() for _ in range(3)]
    rounds = schema.SMALL_WRITE // len(cases) + 2
    with _recorded(servers, key) as (_, recorder):
        recorder.insert_events([_stored(cases[0], 1)])
        large = [
            _stored(case_id, turn + (2 if case_id == cases[0] else 1))
            for turn in range(rounds)
            for case_id in cases
        ]
        assert len(large) > schema.SMALL_WRITE
        recorder.insert_events(large)
        recorder.insert_events([_stored(cases[1], rounds + 1), _stored(cases[0], rounds + 2)])
        verdict = ChainAudit.of(recorder).verify_all()

    assert verdict.problems == []
    assert (verdict.cases, verdict.notifications) == (3, 1 + len(large) + 2)
    assert verdict.unsealed == 0


@pytest.mark.parametrize("key", [None, KEY], ids=["plain", "sealed"])
def test_table_lock_keeps_the_chains_whole_under_writer_processes(
    servers: Settings, key: str | None
) -> None:
    with _recorded(servers, key) as (url, recorder):
        _linger(url)
        context = multiprocessing.get_context("spawn")
        start = context.Barrier(WRITER_PROCESSES)
        results: Queue[dict[str, int]] = context.Queue()
        writers = [
            context.Process(target=_write_in_child, args=(url, key, seed, start, results))
            for seed in range(WRITER_PROCESSES)
        ]
        for writer in writers:
            writer.start()
        cases = {
            case: versions for _ in writers for case, versions in results.get(timeout=60).items()
        }
        for writer in writers:
            writer.join(30)
            assert writer.exitcode == 0
        verdict = ChainAudit.of(recorder).verify_all()

    assert verdict.problems == []
    assert verdict.notifications == sum(cases.values())
    assert verdict.unsealed == 0


def test_events_stored_before_the_chains_are_linked_by_the_migration(
    servers: Settings, tmp_path: Path
) -> None:
    assert servers.database_url is not None
    name = f"casemgmt_tamper_{uuid.uuid4().hex[:12]}"
    with scratch_database(servers.database_url, name, migrated=False) as url:
        for migration in MIGRATIONS_DIR.glob("000[1-6].*.sql"):
            (tmp_path / migration.name).write_text(migration.read_text())
        migrate(url, tmp_path)
        first, second = uuid.uuid4(), uuid.uuid4()
        old = [(first, 1), (first, 2), (second, 1), (first, 3)]
        with closing(psycopg2.connect(url)) as conn, conn, conn.cursor() as cursor:
            for case_id, version in old:
                cursor.execute(
                    f"INSERT INTO {EVENTS} (originator_id, originator_version, topic, state)"
                    " VALUES (%s, %s, 'tests:Noted', %s)",
                    [str(case_id), version, b'{"text": "ghi ch\\u00fa"}'],
                )

        assert "0009.hash-chains" in migrate(url)
        datastore = Datastore(ConnectionPool(url, size=2))
        try:
            verdict = ChainAudit(datastore, EVENTS, sealer=None).verify_all()
        finally:
            datastore.close()

    assert (verdict.problems, verdict.notifications, verdict.cases) == ([], 4, 2)


def test_the_recorders_own_tables_chain_like_the_migrated_ones(store: Store) -> None:
    datastore = store.container.datastore
    datastore.execute("CREATE SCHEMA own_tables")
    recorder = PostgresApplicationRecorder(
        Datastore(datastore.pool, schema="own_tables"), events_table_name=EVENTS
    )
    recorder.create_table()
    recorder.insert_events([_stored(uuid.uuid4(), 1), _stored(uuid.uuid4(), 1)])

    assert ChainAudit.of(recorder).verify_all().problems == []
    for table in (EVENTS, HEADS, SEALS):
        columns = (
            "SELECT column_name, data_type, is_nullable FROM information_schema.columns"
            " WHERE table_name = %s AND table_schema = %s ORDER BY ordinal_position"
        )
        made = datastore.execute(columns, [table, "own_tables"])
        assert made == datastore.execute(columns, [table, "public"]), table


# eventsourcing's own recorder suites, on recorders that seal (two round trips per write).


class TestSealingApplicationRecorder(
    FreshSchema, ApplicationRecorderTestCase[PostgresApplicationRecorder]
):
    def create_recorder(self) -> PostgresApplicationRecorder:
        recorder = PostgresApplicationRecorder(
            self.datastore, events_table_name="events", audit_key=base64.b64decode(KEY)
        )
        recorder.create_table()
        return recorder


class TestSealingProcessRecorder(FreshSchema, ProcessRecorderTestCase):
    def create_recorder(self) -> PostgresProcessRecorder:
        recorder = PostgresProcessRecorder(
            self.datastore,
            events_table_name="events",
            tracking_table_name="tracking",
            audit_key=base64.b64decode(KEY),
        )
        recorder.create_table()
        return recorder


del ApplicationRecorderTestCase
del ProcessRecorderTestCase


# Helpers of the concurrency tests.


@contextmanager
def _recorded(
    servers: Settings, key: str | None = None
) -> Iterator[tuple[str, PostgresApplicationRecorder]]:
    assert servers.database_url is not None
    name = f"casemgmt_tamper_{uuid.uuid4().hex[:12]}"
    with scratch_database(servers.database_url, name) as url:
        recorder = _recorder(url, key, pool_size=8)
        try:
            yield url, recorder
        finally:
            recorder.datastore.close()


def _recorder(url: str, key: str | None, pool_size: int = 4) -> PostgresApplicationRecorder:
    return PostgresApplicationRecorder(
        Datastore(ConnectionPool(url, size=pool_size)),
        events_table_name=EVENTS,
        audit_key=None if key is None else base64.b64decode(key),
    )


def _stored(case_id: uuid.UUID, version: int) -> StoredEvent:
    return StoredEvent(
        originator_id=case_id,
        originator_version=version,
        topic="tests:Noted",
        state=f'{{"text": "ghi chú {version}"}}'.encode(),
    )


def _save_concurrently(
    recorder: PostgresApplicationRecorder, threads: int, saves: int, seed: int
) -> dict[uuid.UUID, int]:
    """Each thread saves new cases and later versions of its own, one or two events at a time."""
    versions: dict[uuid.UUID, int] = {}
    lock = threading.Lock()
    start = threading.Barrier(threads)
    errors: list[BaseException] = []

    def save(n: int) -> None:
        choose = random.Random(seed * 100 + n)
        own: dict[uuid.UUID, int] = {}
        start.wait()
        try:
            for _ in range(saves):
                case_id = choose.choice([*own, uuid.uuid4()]) if own else uuid.uuid4()
                first = own.get(case_id, 0) + 1
                batch = [_stored(case_id, v) for v in range(first, first + choose.randint(1, 2))]
                recorder.insert_events(batch)
                own[case_id] = batch[-1].originator_version
        except BaseException as error:
            errors.append(error)
        with lock:
            versions.update(own)

    workers = [threading.Thread(target=save, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert not errors, errors
    return versions


def _write_in_child(
    url: str, key: str | None, seed: int, start: Barrier, results: Queue[dict[str, int]]
) -> None:
    recorder = _recorder(url, key)
    try:
        start.wait(timeout=60)
        written = _save_concurrently(recorder, threads=4, saves=25, seed=seed)
        results.put({str(case_id): versions for case_id, versions in written.items()})
    finally:
        recorder.datastore.close()


def _linger(url: str) -> None:
    """Every write lingers a moment before it commits, as on a busy server: without the table
    lock, a writer that read the log's head meanwhile would link after a head that is no more."""
    with closing(psycopg2.connect(url)) as conn, conn, conn.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION linger() RETURNS trigger LANGUAGE plpgsql AS $$"
            " BEGIN PERFORM pg_sleep(random() * 0.004); RETURN NULL; END $$;"
            f" CREATE TRIGGER linger AFTER INSERT ON {EVENTS}"
            " FOR EACH STATEMENT EXECUTE FUNCTION linger()"
        )


def _count(url: str, query: str) -> int:
    with closing(psycopg2.connect(url)) as conn, conn.cursor() as cursor:
        cursor.execute(query)
        row = cursor.fetchone()
        return int(row[0]) if row else 0
