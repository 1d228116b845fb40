"""The action log (`audit_events`): a row per event, what each changed, a rebuild, the filters, the
export; and the record of reads (`case_reads`), written in batches and on a clean close."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import uuid4

import pytest
from eventsourcing.domain import Aggregate, event

from casemgmt.bootstrap import build
from casemgmt.cli.audit_export import CSV_COLUMNS, write_csv, write_jsonl
from casemgmt.projections import PositionMoved
from casemgmt.queries.audit import export_events, find_events, find_reads
from casemgmt.readmodels.audit_entry import CaseRead, ReadView, Replay
from tests.support.projections import Setup, audit_rows, fresh_setup, wait_for
from tests.support.workload import START, CaseTraffic

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from uuid import UUID

    from casemgmt.readmodels.audit_entry import AuditEntry
    from casemgmt.settings import Settings

AUDIT_LOG = "audit_log"


@pytest.fixture
def setup(servers: Settings) -> Iterator[Setup]:
    with fresh_setup(servers) as made:
        yield made


def caught_up(setup: Setup) -> None:
    with setup.projections.worker([AUDIT_LOG]):
        assert setup.projections.wait_until_caught_up(names=[AUDIT_LOG], timeout=30)


def all_entries(setup: Setup, **filters: Any) -> list[AuditEntry]:
    found: list[AuditEntry] = []
    page = 1
    while True:
        entries, total = find_events(setup.container.datastore, page=page, per_page=200, **filters)
        found += entries
        if len(found) >= total:
            return found
        page += 1


class Memo(Aggregate):
    """Not a case: something else saved into the care centre's log."""

    @event("Written")
    def __init__(self, text: str) -> None:
        self.text = text


def test_every_event_of_a_case_becomes_one_row_with_its_notification_id(setup: Setup) -> None:
    CaseTraffic(setup.container.care_centre, seed=11).busy_day(600)
    setup.container.care_centre.save(Memo("not a case"))
    caught_up(setup)

    stored = setup.container.datastore.execute(
        "SELECT notification_id, originator_id, originator_version, topic"
        " FROM carecentre_events ORDER BY notification_id"
    )
    case_events = [
        (notification_id, case_id, version, topic.rsplit(".", 1)[-1])
        for notification_id, case_id, version, topic in stored
        if topic.startswith("casemgmt.domain.case:Case.")
    ]
    logged = setup.container.datastore.execute(
        "SELECT notification_id, case_id, version, event_type FROM audit_events"
        " ORDER BY notification_id"
    )
    assert len(case_events) == len(stored) - 1 >= 600
    assert logged == case_events
    assert setup.projections.positions([AUDIT_LOG]) == {AUDIT_LOG: setup.projections.log.head()}


def test_each_row_says_who_why_and_what_changed_as_the_case_history_does(setup: Setup) -> None:
    app = setup.container.care_centre
    CaseTraffic(app, seed=5).busy_day(400)
    caught_up(setup)
    entries = {(e.case_id, e.version): e for e in all_entries(setup)}

    case_ids = sorted({case_id for case_id, _ in entries})
    for case_id in case_ids[:40]:
        replay = Replay()
        for recorded in app.history(case_id):
            changes = replay.apply(recorded)
            case = replay.case
            assert case is not None
            entry = entries[(case_id, recorded.originator_version)]
            assert (entry.changes, entry.status) == (changes, recorded.status)
            assert entry.unit == case.unit
            assert entry.case_reference == case.reference
            assert (entry.actor_id, entry.actor_role, entry.cause, entry.correlation_id) == (
                recorded.actor["id"],
                recorded.actor["role"],
                recorded.cause,
                recorded.correlation_id,
            )
            assert entry.event_type == type(recorded).__name__
            assert entry.occurred_at == recorded.timestamp
    assert any("assignee: — → agent-" in change for e in entries.values() for change in e.changes)


def test_rebuilding_with_the_command_gives_the_same_rows(setup: Setup) -> None:
    CaseTraffic(setup.container.care_centre, seed=3).busy_day(500)
    caught_up(setup)
    live = audit_rows(setup)

    env = {
        **os.environ,
        "CASEMGMT_DATABASE_URL": setup.database_url,
        "CASEMGMT_REDIS_URL": setup.redis_url,
        "CASEMGMT_REDIS_PREFIX": setup.container.settings.redis_key_prefix,
    }
    rebuilt = subprocess.run(
        [sys.executable, "-m", "casemgmt.cli", "rebuild", "--projection", AUDIT_LOG],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert rebuilt.returncode == 0, rebuilt.stderr
    assert f"rebuilt {AUDIT_LOG} from" in rebuilt.stdout
    assert audit_rows(setup) == live
    assert len(live) > 500


def test_a_batch_from_a_stale_position_is_refused_and_logs_nothing(setup: Setup) -> None:
    CaseTraffic(setup.container.care_centre, seed=4).busy_day(60)
    caught_up(setup)
    rows, position = audit_rows(setup), setup.projections[AUDIT_LOG].position()
    stale = setup.projections.log.read(1, 100)
    assert stale is not None

    with pytest.raises(PositionMoved):
        setup.projections[AUDIT_LOG].write(stale)

    assert audit_rows(setup) == rows
    assert setup.projections[AUDIT_LOG].position() == position


def test_every_filter_and_page_agrees_with_the_rows_themselves(setup: Setup) -> None:
    CaseTraffic(setup.container.care_centre, seed=7).busy_day(1200)
    caught_up(setup)
    everything = all_entries(setup)
    some = everything[len(everything) // 3]
    start, end = START + timedelta(hours=3), START + timedelta(hours=9)
    by: dict[str, Callable[[AuditEntry, Any], bool]] = {
        "actor": lambda e, v: e.actor_id in v,
        "role": lambda e, v: e.actor_role in v,
        "case": lambda e, v: str(e.case_id) in v or e.case_reference in v,
        "event_type": lambda e, v: e.event_type in v,
        "unit": lambda e, v: e.unit in v,
        "start": lambda e, v: e.occurred_at >= v,
        "end": lambda e, v: e.occurred_at < v,
    }
    cases: list[dict[str, Any]] = [
        {"actor": ["switchboard"]},
        {"role": ["agent"]},
        {"case": [str(some.case_id)]},
        {"case": [some.case_reference, "no-such-reference"]},
        {"event_type": ["Assigned", "Transferred"]},
        {"unit": ["hanoi"], "event_type": ["Transferred"]},
        {"start": start, "end": end},
        {"role": ["intake"], "unit": ["hcm", "cantho"], "start": start},
    ]
    for filters in cases:
        expected = [e for e in everything if all(by[k](e, v) for k, v in filters.items())]
        assert expected, filters
        assert all_entries(setup, **filters) == expected, filters

    newest_first = sorted(everything, key=lambda e: (e.occurred_at, e.notification_id))[::-1]
    assert everything == newest_first
    pages = []
    for page in range(1, len(everything) // 50 + 3):
        entries, total = find_events(setup.container.datastore, page=page, per_page=50)
        assert total == len(everything)
        pages += entries
    assert pages == everything


def test_the_export_pages_through_a_range_oldest_first_including_moments_shared_by_events(
    setup: Setup,
) -> None:
    CaseTraffic(setup.container.care_centre, seed=9).busy_day(300)
    caught_up(setup)
    start, end = START + timedelta(minutes=30), START + timedelta(hours=4)
    in_range = sorted(
        (e for e in all_entries(setup) if start <= e.occurred_at < end),
        key=lambda e: (e.occurred_at, e.notification_id),
    )
    moments = [e.occurred_at for e in in_range]
    assert len(set(moments)) < len(moments), "some events must share a moment"

    exported = list(export_events(setup.container.datastore, start, end, page=7))

    assert exported == in_range


def test_the_export_writes_csv_and_json_lines_as_the_api_shows_an_entry(setup: Setup) -> None:
    CaseTraffic(setup.container.care_centre, seed=2).busy_day(100)
    caught_up(setup)
    entries = list(export_events(setup.container.datastore, START, START + timedelta(days=30)))
    lines, table = io.StringIO(), io.StringIO()

    assert write_jsonl(entries, lines) == len(entries) == write_csv(entries, table)

    objects = [json.loads(line) for line in lines.getvalue().splitlines()]
    rows = list(csv.DictReader(io.StringIO(table.getvalue())))
    assert len(objects) == len(rows) == len(entries) > 100
    first, row = objects[0], rows[0]
    assert first["type"] == row["type"] == "Received"
    assert first["actor"] == {"id": "switchboard", "role": "intake", "on_behalf_of": None}
    assert first["data"]["subject"] == json.loads(row["data"])["subject"]
    assert row["changes"] == "; ".join(first["changes"])
    assert list(row) == list(CSV_COLUMNS)
    assert (row["case_reference"], row["actor_id"]) == (first["case_reference"], "switchboard")


# -- the record of reads ---------------------------------------------------------------------


def a_read(case_id: UUID, account: str = "lan.nguyen", at: datetime | None = None) -> CaseRead:
    return CaseRead(
        read_at=at or datetime.now(UTC),
        account=account,
        role="agent",
        on_behalf_of=None,
        case_id=case_id,
        case_reference="CC-2026-000001",
        view=ReadView.CASE.value,
        correlation_id=str(uuid4()),
    )


def test_flush_on_close_a_clean_close_of_the_container_writes_the_reads_that_wait(
    setup: Setup,
) -> None:
    other = build(setup.container.settings)
    other.reads.interval = 3600  # the writer thread would not get to them before the close
    case_id = uuid4()
    reads = [a_read(case_id) for _ in range(3)]
    for read in reads:
        other.reads.record(read)
    assert other.reads.waiting == 3

    other.close()

    found, total = find_reads(setup.container.datastore, case=[str(case_id)])
    assert total == 3
    assert sorted(found, key=lambda r: r.correlation_id) == sorted(
        reads, key=lambda r: r.correlation_id
    )


def test_reads_are_written_within_moments_and_filtered_by_actor_case_and_time(
    setup: Setup,
) -> None:
    recorder = setup.container.reads
    first, second = uuid4(), uuid4()
    t0 = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
    for minute in range(10):
        recorder.record(a_read(first, "lan.nguyen", t0 + timedelta(minutes=minute)))
        recorder.record(a_read(second, "minh.tran", t0 + timedelta(minutes=minute)))
    datastore = setup.container.datastore

    waited = wait_for(lambda: find_reads(datastore)[1] == 20, timeout=5)

    assert find_reads(datastore, actor=["lan.nguyen"])[1] == 10
    assert find_reads(datastore, case=["CC-2026-000001"])[1] == 20
    window, total = find_reads(
        datastore,
        case=[str(second)],
        start=t0 + timedelta(minutes=2),
        end=t0 + timedelta(minutes=5),
    )
    assert total == 3
    assert waited < 2  # written every 0.2 s
    assert [read.read_at for read in window] == [
        t0 + timedelta(minutes=minute) for minute in (4, 3, 2)
    ]
    assert {read.account for read in window} == {"minh.tran"}
