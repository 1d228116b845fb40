"""How fast the case list is rebuilt, and how soon a committed event becomes visible in the views.

In one run, on a database of its own (created on the server named, migrated, dropped at the end):

* **rebuild**: `casemgmt rebuild case_summaries` as the library does it (`Projections.rebuild`),
  against a raw psycopg2 baseline that reads the same events with a plain SELECT, decodes their
  JSON, folds them into the same rows in memory and upserts them in batches with execute_values;
  the two tables are checked to be equal, so both did the same work;
* **lag**: a worker process (`casemgmt worker`) follows the log while one writer
  commits events at a steady rate; the time from each commit until the projection's stored position
  covers it (polled every millisecond) is the commit-to-visible lag, per projection.

    python bench/projection.py [--database-url postgresql://…] [--redis-url redis://…]
                               [--events 50000] [--rate 200] [--seconds 15] [--check]
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import json
import os
import platform
import statistics
import sys
import threading
import time
import uuid
from contextlib import closing
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

import psycopg2
import psycopg2.extras

# The realistic traffic is the tests' (tests/support/workload.py); run from the repository root.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench.scratch import WorkerProcess, add_server_arguments, scratch_database
from casemgmt.bootstrap import build
from casemgmt.domain import Actor, Category, Context, InquiryKind, InsuranceLine, Priority, Role
from casemgmt.domain.routing import DEFAULT_ROUTING
from casemgmt.readmodels.case_summary import COLUMNS
from casemgmt.readmodels.text import fold
from casemgmt.settings import Settings
from tests.support.workload import CaseTraffic

if TYPE_CHECKING:
    from casemgmt.bootstrap import Container
    from casemgmt.domain import Case

TARGET_RATE = 10_000.0  # events per second
TARGET_VERSUS_BASELINE = 0.5
TARGET_LAG_P99 = 0.100  # seconds
BATCH = 2000


# -- rebuild against a raw psycopg2 baseline ----------------------------------------------------


def timed_rebuild(container: Container, name: str) -> float:
    projections = container.projections
    started = time.perf_counter()
    projections.rebuild(name, batch_size=BATCH)
    return time.perf_counter() - started


def _decode(raw: bytes) -> dict[str, Any]:
    def hook(value: dict[str, Any]) -> Any:
        kind = value.get("_type_")
        if kind == "datetime_iso":
            return datetime.fromisoformat(value["_data_"])
        if kind == "uuid_hex":
            return uuid.UUID(value["_data_"])
        return value

    decoded: dict[str, Any] = json.loads(raw, object_hook=hook)
    return decoded


def _baseline_fold(
    rows: dict[uuid.UUID, dict[str, Any]],
    case_id: uuid.UUID,
    name: str,
    version: int,
    data: dict[str, Any],
) -> None:
    """The same fold as `casemgmt.readmodels.case_summary.evolve`, written out on plain dicts."""
    if name == "Received":
        category = data["category"]
        text = data["subject"] + (f"\n{data['body']}" if data["body"] else "")
        rows[case_id] = {
            "case_id": case_id,
            "reference": data["reference"],
            "channel": data["channel"],
            "subject": data["subject"],
            "category_line": category["line"],
            "category_kind": category["kind"],
            "priority": data["priority"],
            "unit": data["unit"],
            "assignee": None,
            "escalation_level": 0,
            "received_at": data["received_at"],
            "first_replied_at": None,
            "resolved_at": None,
            "closed_at": None,
            "merged_into": None,
            "first_response_breached": False,
            "resolution_breached": False,
            "search_text": fold(text),
        }
    row = rows[case_id]
    if name == "Triaged":
        row.update(
            category_line=data["category"]["line"],
            category_kind=data["category"]["kind"],
            priority=data["priority"],
            unit=data["unit"],
        )
    elif name == "Assigned":
        row["assignee"] = data["agent"]
    elif name == "Unassigned":
        row["assignee"] = None
    elif name == "Escalated":
        row["escalation_level"] = data["level"]
    elif name == "Transferred":
        row.update(unit=data["unit"], assignee=None)
    elif name == "Resolved":
        row["resolved_at"] = data["timestamp"]
    elif name == "Reopened":
        row.update(resolved_at=None, closed_at=None)
    elif name == "Closed":
        row["closed_at"] = data["timestamp"]
    elif name == "MergedInto":
        row["merged_into"] = data["into"]
    if name == "Replied" and row["first_replied_at"] is None:
        row["first_replied_at"] = data["timestamp"]
    if name in ("Replied", "InformationRequested", "CitizenMessageReceived"):
        row["search_text"] = f"{row['search_text']}\n{fold(data['message'])}"
    row.update(status=data["status"], version=version, last_activity_at=data["timestamp"])
    queue_rules = _Routable(row)
    row["queue"] = None if row["status"] == "received" else DEFAULT_ROUTING.route(queue_rules)


@dataclasses.dataclass
class _Routable:
    row: dict[str, Any]

    @property
    def unit(self) -> str | None:
        return self.row["unit"]

    @property
    def category_line(self) -> str | None:
        return self.row["category_line"]

    @property
    def category_kind(self) -> str | None:
        return self.row["category_kind"]


# The columns the plain fold above keeps: the case list as it was before the SLA clocks, the
# opener and the auto-close moment (casemgmt's projection computes those too, the baseline not).
FOLDED: Final = [
    "case_id",
    "reference",
    "status",
    "channel",
    "subject",
    "category_line",
    "category_kind",
    "priority",
    "unit",
    "queue",
    "assignee",
    "escalation_level",
    "received_at",
    "first_replied_at",
    "resolved_at",
    "closed_at",
    "merged_into",
    "first_response_breached",
    "resolution_breached",
    "last_activity_at",
    "version",
    "search_text",
]


def raw_baseline(url: str) -> float:
    """Reads, folds and upserts the same rows with nothing but psycopg2; returns seconds."""
    stored = tuple(column for column in (*COLUMNS, "search_text") if column in FOLDED)
    upsert = (
        f"INSERT INTO baseline_summaries ({', '.join(stored)}) VALUES %s "
        f"ON CONFLICT (case_id) DO UPDATE SET "
        + ", ".join(f"{c} = EXCLUDED.{c}" for c in stored[1:])
    )
    with closing(psycopg2.connect(url)) as conn:
        psycopg2.extras.register_uuid(conn_or_curs=conn)  # type: ignore[no-untyped-call]
        with conn, conn.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS baseline_summaries")
            cursor.execute("CREATE TABLE baseline_summaries (LIKE case_summaries INCLUDING ALL)")
        started = time.perf_counter()
        rows: dict[uuid.UUID, dict[str, Any]] = {}
        position = 0
        with conn, conn.cursor() as cursor:
            while True:
                cursor.execute(
                    "SELECT notification_id, originator_id, originator_version, topic, state "
                    "FROM carecentre_events WHERE notification_id > %s "
                    "ORDER BY notification_id LIMIT %s",
                    [position, BATCH],
                )
                batch = cursor.fetchall()
                if not batch:
                    break
                changed = set()
                for _, case_id, version, topic, state in batch:
                    name = topic.rpartition(".")[2]
                    _baseline_fold(rows, case_id, name, version, _decode(bytes(state)))
                    changed.add(case_id)
                values = [tuple(rows[case_id][c] for c in stored) for case_id in changed]
                psycopg2.extras.execute_values(cursor, upsert, values, page_size=1000)
                position = batch[-1][0]
        return time.perf_counter() - started


# The baseline reads the stored events as they are, where the personal fields are sealed under
# their requester's key: it writes the placeholders the store keeps in their stead ("[erased]"),
# where casemgmt opens them. These columns are written by both, and compared by neither.
SEALED: Final = ("subject", "search_text")


def same_tables(url: str) -> bool:
    compared = ", ".join(column for column in FOLDED if column not in SEALED)
    with closing(psycopg2.connect(url)) as conn, conn.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM (SELECT {compared} FROM case_summaries EXCEPT "
            f"SELECT {compared} FROM baseline_summaries) AS differ"
        )
        differ = cursor.fetchone()
        cursor.execute(
            "SELECT count(*) = (SELECT count(*) FROM baseline_summaries) FROM case_summaries"
        )
        counted = cursor.fetchone()
        return bool(differ and differ[0] == 0 and counted and counted[0])


# -- commit-to-visible lag ----------------------------------------------------------------------


class SteadyWriter:
    """Commits one event at a time at a steady rate: intake, then triage, assign, reply, resolve."""

    def __init__(self, container: Container) -> None:
        self.app = container.care_centre
        self.traffic = CaseTraffic(self.app, seed=99, start=datetime.now(UTC) - timedelta(days=1))
        self.open: collections.deque[Case] = collections.deque()
        self.committed: list[tuple[int, float]] = []  # (notification id, perf_counter)

    def run(self, rate: float, seconds: float) -> None:
        interval, started = 1.0 / rate, time.perf_counter()
        deadline, n = started + seconds, 0
        while time.perf_counter() < deadline:
            self._one_event(n)
            n += 1
            pause = started + n * interval - time.perf_counter()
            if pause > 0:
                time.sleep(pause)

    def _one_event(self, n: int) -> None:
        ctx = Context(Actor("agent-1", Role.AGENT), datetime.now(UTC), f"lag-{n}", "api")
        if len(self.open) < 20 or n % 5 == 0:
            case = self.traffic.new_case()
            self.open.append(case)
        else:
            case = self.open.popleft()
            step = case.version
            if step == 1:
                category = Category(InsuranceLine.SOCIAL, InquiryKind.PROCEDURE)
                case.triage(category, Priority.NORMAL, None, ctx)
            elif step == 2:
                case.assign("agent-1", ctx)
            elif step == 3:
                case.reply("Đã nhận được yêu cầu.", ctx)
            else:
                case.resolve("answered", None, ctx)
            if step < 4:
                self.open.append(case)
        [recording] = self.app.save(case)
        self.committed.append((recording.notification.id, time.perf_counter()))


def measure_lag(container: Container, rate: float, seconds: float) -> dict[str, list[float]]:
    """The lag of each projection that follows the cases' log (not `active_care`, whose positions
    are in the sessions' log) behind a steady writer, `casemgmt worker` running them all."""
    worker = WorkerProcess(container)
    projections = container.projections
    names = [name for name in projections.names if projections.log_of(name) is projections.log]
    try:
        worker.wait_until_ready()  # the worker has started and taken up every projection
        # Those the rebuilds left behind (the action log, the reports) first catch up the whole
        # log: measured meanwhile, their lag would be the catch-up's, not the projection's own.
        if not projections.wait_until_caught_up(names=names, timeout=900):
            raise RuntimeError(f"the projections did not catch up: {projections.lag()}")
        writer = SteadyWriter(container)
        done = threading.Event()
        thread = threading.Thread(target=lambda: (writer.run(rate, seconds), done.set()))
        thread.start()
        lags: dict[str, list[float]] = {name: [] for name in names}
        seen = dict.fromkeys(names, 0)
        while not done.is_set() or any(seen[n] < len(writer.committed) for n in seen):
            time.sleep(0.001)
            for name, at in projections.positions(names).items():
                now = time.perf_counter()
                committed = writer.committed
                while seen[name] < len(committed) and committed[seen[name]][0] <= (at or 0):
                    lags[name].append(now - committed[seen[name]][1])
                    seen[name] += 1
        thread.join()
        return lags
    finally:
        worker.stop()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


# -- the run ------------------------------------------------------------------------------------


def line(label: str, value: str, met: bool | None = None) -> str:
    verdict = "" if met is None else ("   met" if met else "   NOT MET")
    return f"{label:<58} {value}{verdict}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    add_server_arguments(parser)
    parser.add_argument("--events", type=int, default=50_000, help="events to rebuild from")
    parser.add_argument("--rounds", type=int, default=3, help="rebuilds of each kind")
    parser.add_argument("--rate", type=float, default=200.0, help="events/s of the lag load")
    parser.add_argument("--seconds", type=float, default=15.0, help="length of the lag load")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)

    with scratch_database(args.database_url, "casemgmt_bench_projection") as url:
        container = build(
            Settings(
                database_url=url,
                redis_url=args.redis_url,
                redis_key_prefix=f"bench-{uuid.uuid4().hex[:8]}",
            )
        )
        try:
            with closing(psycopg2.connect(url)) as conn, conn.cursor() as cursor:
                cursor.execute("SHOW server_version")
                (server_version,) = cursor.fetchone() or ("?",)
            print(
                f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC · {os.cpu_count()} cores · "
                f"Python {platform.python_version()} · PostgreSQL {server_version}"
            )
            events = CaseTraffic(container.care_centre, seed=1).busy_day(args.events)
            cases = container.datastore.execute(
                "SELECT count(DISTINCT originator_id) FROM carecentre_events"
            )[0][0]
            print(f"{events} events of {cases} cases; best of {args.rounds} rounds each\n")

            library = min(timed_rebuild(container, "case_summaries") for _ in range(args.rounds))
            baseline = min(raw_baseline(url) for _ in range(args.rounds))
            queues = min(timed_rebuild(container, "work_queues") for _ in range(args.rounds))
            equal = same_tables(url)
            rate, base_rate = events / library, events / baseline

            print(f"measuring the lag under {args.rate:g} events/s for {args.seconds:g}s …")
            lags = measure_lag(container, args.rate, args.seconds)
        finally:
            prefix = container.work_queues.keys.prefix
            for key in container.redis.scan_iter(match=f"{{{prefix}}}*"):
                container.redis.unlink(key)
            container.close()

    checks = [rate >= TARGET_RATE, rate / base_rate >= TARGET_VERSUS_BASELINE, equal]
    print()
    print(
        line(
            "case_summaries rebuild (Projections.rebuild)",
            f"{rate:>9,.0f} events/s   target ≥ {TARGET_RATE:,.0f}",
            checks[0],
        )
    )
    print(
        line(
            "raw psycopg2 baseline (SELECT, json, fold, execute_values)",
            f"{base_rate:>9,.0f} events/s",
        )
    )
    print(
        line(
            "  rebuild / baseline",
            f"{rate / base_rate:>9.2f}            target ≥ {TARGET_VERSUS_BASELINE}",
            checks[1],
        )
    )
    print(line("  the two tables are equal, row by row", f"{equal!s:>9}", checks[2]))
    print(
        line(
            "work_queues rebuild (new generation, then swap)", f"{events / queues:>9,.0f} events/s"
        )
    )
    print()
    print(f"commit-to-visible lag at {args.rate:g} events/s for {args.seconds:g}s:")
    for name, values in lags.items():
        p50, p99 = percentile(values, 0.50), percentile(values, 0.99)
        met = p99 < TARGET_LAG_P99
        checks.append(met)
        print(
            line(
                f"  {name} ({len(values)} events, mean {statistics.mean(values) * 1000:.1f} ms)",
                f"p50 {p50 * 1000:5.1f} ms  p99 {p99 * 1000:5.1f} ms  target p99 < "
                f"{TARGET_LAG_P99 * 1000:.0f} ms",
                met,
            )
        )
    print()
    print("all targets met" if all(checks) else "some target NOT met")
    return 0 if all(checks) or not args.check else 1


if __name__ == "__main__":
    sys.exit(main())
