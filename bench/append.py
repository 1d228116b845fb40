"""How fast cases can be opened: casemgmt's event store against eventsourcing's and a plain INSERT.

Runs, on one database and in one process, three ways of writing a "case opened" event:

* ``casemgmt.persistence``: an eventsourcing ``Application.save`` on casemgmt's psycopg2 module;
* ``eventsourcing.postgres``: the same save on eventsourcing's own PostgreSQL module (psycopg 3);
* ``raw psycopg2``: one autocommit ``INSERT`` of a row of the same shape and size: one round trip,
  nothing else, the floor of any store;

each at 1 and at 8 threads, after a warm-up, and prints saves per second and the ratios the event
store is held to. At 1 thread it also times ``eventsourcing.popo``'s in-memory save (t_popo: what
eventsourcing itself costs, with no database), and holds casemgmt to the composed limit
1 / (t_raw + t_popo): a store can be no faster than the floor's round trip plus the library's own
work. Everything is written to a schema of its own, dropped at the end.

    python bench/append.py [--database-url URL] [--saves 4000] [--seconds 15] [--rounds 8]
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import statistics
import sys
import threading
import time
import uuid
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit
from uuid import UUID

import psycopg2
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from casemgmt.persistence import schema

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
SCHEMA = f"casemgmt_bench_{os.getpid()}"
THREAD_COUNTS = (1, 8)
WARM_UP_SAVES = 200
WARM_UP_SECONDS = 2.0
TARGET_ONE_THREAD = 0.85  # casemgmt ≥ 0.85 × 1 / (t_raw + t_popo) at 1 thread
TARGET_EIGHT_THREADS = 3.0  # casemgmt ≥ 3 × eventsourcing.postgres at 8 threads


class Inquiry(Aggregate):
    """A case as intake opens it: a few strings, a subject and who asked."""

    @event("Opened")
    def __init__(
        self, channel: str, external_ref: str, subject: str, requester: dict[str, str]
    ) -> None:
        self.channel = channel
        self.external_ref = external_ref
        self.subject = subject
        self.requester = requester


def open_inquiry(slot: int) -> Inquiry:
    return Inquiry(
        channel="email",
        external_ref=f"<{uuid.uuid4().hex}@mail.example.vn>",
        subject="Chưa nhận được sổ BHXH",
        requester={
            "kind": "citizen",
            "id": f"{slot:010d}",
            "name": "Nguyễn Văn A",
            "contact": "a@example.vn",
        },
    )


class CasemgmtStore(Application[UUID]):
    """Saves through casemgmt.persistence."""


class EventsourcingStore(Application[UUID]):
    """Saves through eventsourcing.postgres."""


class InMemoryStore(Application[UUID]):
    """Saves through eventsourcing.popo: the library's own work, no database."""


POPO_ENV = {"PERSISTENCE_MODULE": "eventsourcing.popo"}


def casemgmt_env(url: str) -> dict[str, str]:
    return {
        "PERSISTENCE_MODULE": "casemgmt.persistence",
        "DATABASE_URL": url,
        "POSTGRES_SCHEMA": SCHEMA,
        "POOL_SIZE": str(max(THREAD_COUNTS)),
    }


def eventsourcing_env(url: str) -> dict[str, str]:
    parts = urlsplit(url)
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": parts.path.lstrip("/"),
        "POSTGRES_HOST": parts.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(parts.port or 5432),
        "POSTGRES_USER": unquote(parts.username or "postgres"),
        "POSTGRES_PASSWORD": unquote(parts.password or ""),
        "POSTGRES_SCHEMA": SCHEMA,
        "POSTGRES_POOL_SIZE": str(max(THREAD_COUNTS)),
    }


class RawInserts:
    """One autocommit INSERT of a row, on a connection of each thread's own: the floor of any
    store (one round trip, where BEGIN; INSERT; COMMIT would take three)."""

    TABLE = "raw_events"

    def __init__(self, url: str, sample: Application[UUID]) -> None:
        self.url = url
        stored = sample.mapper.to_stored_event(open_inquiry(0).collect_events()[0])
        self.topic, self.state = stored.topic, stored.state
        self.table = schema.qualified(SCHEMA, self.TABLE)
        self._connections: dict[int, Any] = {}
        with closing(psycopg2.connect(url)) as conn, conn, conn.cursor() as cursor:
            for statement in schema.application_events_table(SCHEMA, self.TABLE):
                cursor.execute(statement)

    def insert(self, slot: int) -> None:
        conn = self._connections.get(slot)
        if conn is None:
            conn = self._connections[slot] = psycopg2.connect(self.url)
            conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {self.table} (originator_id, originator_version, topic, state)"
                " VALUES (%s::uuid, 1, %s, %s)",
                (str(uuid.uuid4()), self.topic, self.state),
            )

    def close(self) -> None:
        for conn in self._connections.values():
            conn.close()


@dataclass(frozen=True)
class Measurement:
    """What one store did at one thread count: saves and seconds of each round."""

    store: str
    threads: int
    rounds: list[tuple[int, float]]

    @property
    def saves(self) -> int:
        return sum(saves for saves, _ in self.rounds)

    @property
    def seconds(self) -> float:
        return sum(seconds for _, seconds in self.rounds)

    @property
    def rate(self) -> float:
        return self.saves / self.seconds

    def ratios_to(self, other: Measurement) -> list[float]:
        """This store's rate over the other's, round by round (rounds ran side by side)."""
        return [
            (saves / seconds) / (other_saves / other_seconds)
            for (saves, seconds), (other_saves, other_seconds) in zip(
                self.rounds, other.rounds, strict=True
            )
        ]


def run(
    save: Callable[[int], None], threads: int, saves: int, max_seconds: float
) -> tuple[int, float]:
    """Call save(slot) from `threads` threads, slot 0, 1, …, until `saves` or `max_seconds`."""
    numbers: Iterator[int] = itertools.count()
    done = [0] * threads
    errors: list[BaseException] = []
    started = time.perf_counter()
    deadline = started + max_seconds

    def work(slot: int) -> None:
        try:
            while next(numbers) < saves and time.perf_counter() < deadline:
                save(slot)
                done[slot] += 1
        except BaseException as error:
            errors.append(error)

    workers = [threading.Thread(target=work, args=(slot,)) for slot in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if errors:
        raise errors[0]
    return sum(done), time.perf_counter() - started


def measure(
    stores: Sequence[tuple[str, Callable[[int], None]]],
    threads: int,
    saves: int,
    max_seconds: float,
    rounds: int,
) -> list[Measurement]:
    """Warm every store up, then let them take turns, so that the machine's drift hits all alike.

    The order of the turns rotates from round to round, so that no store always follows the same
    other one (and inherits, say, its autovacuum).
    """
    for _, save in stores:
        run(save, threads, WARM_UP_SAVES, WARM_UP_SECONDS)
    done: dict[str, list[tuple[int, float]]] = {name: [] for name, _ in stores}
    for turn in range(rounds):
        for name, save in [*stores[turn % len(stores) :], *stores[: turn % len(stores)]]:
            done[name].append(run(save, threads, saves // rounds, max_seconds / rounds))
    return [Measurement(name, threads, done[name]) for name, _ in stores]


def saving_through(app: Application[UUID]) -> Callable[[int], None]:
    def save(slot: int) -> None:
        app.save(open_inquiry(slot))

    return save


def ratio_line(label: str, ours: Measurement, theirs: Measurement, target: float | None) -> bool:
    """Print the median of the round-by-round ratios, their range, and whether the target is met."""
    ratios = ours.ratios_to(theirs)
    median = statistics.median(ratios)
    line = f"{label:<46} {median:5.2f}   (rounds {min(ratios):.2f}–{max(ratios):.2f})"
    if target is None:
        print(line)
        return True
    met = median >= target
    print(f"{line}   target ≥ {target:g}: {'met' if met else 'NOT MET'}")
    return met


def composed_limit_line(ours: Measurement, raw: Measurement, popo: Measurement) -> bool:
    """t_popo, the composed limit 1 / (t_raw + t_popo) and casemgmt's ratio to it, round by round
    (the three took turns in each round), with the time a save spends beyond the floor."""

    def per_save(m: Measurement) -> list[float]:
        return [seconds / saves for saves, seconds in m.rounds]

    t_ours, t_raw, t_popo = per_save(ours), per_save(raw), per_save(popo)
    limits = [1 / (r + p) for r, p in zip(t_raw, t_popo, strict=True)]
    ratios = [(1 / o) / limit for o, limit in zip(t_ours, limits, strict=True)]
    beyond = [o - r for o, r in zip(t_ours, t_raw, strict=True)]
    micro = 1e6
    print(
        f"1 thread:  t_raw {statistics.median(t_raw) * micro:.0f} µs, "
        f"t_popo {statistics.median(t_popo) * micro:.0f} µs "
        f"(rounds {min(t_popo) * micro:.0f}–{max(t_popo) * micro:.0f}), "
        f"casemgmt's save beyond t_raw {statistics.median(beyond) * micro:.0f} µs "
        f"(rounds {min(beyond) * micro:.0f}–{max(beyond) * micro:.0f})"
    )
    print(
        f"1 thread:  composed limit 1 / (t_raw + t_popo) {statistics.median(limits):.0f} saves/s "
        f"(rounds {min(limits):.0f}–{max(limits):.0f})"
    )
    median = statistics.median(ratios)
    met = median >= TARGET_ONE_THREAD
    print(
        f"{'1 thread:  casemgmt / composed limit':<46} {median:5.2f}   "
        f"(rounds {min(ratios):.2f}–{max(ratios):.2f})   "
        f"target ≥ {TARGET_ONE_THREAD:g}: {'met' if met else 'NOT MET'}"
    )
    return met


def report(results: list[Measurement]) -> bool:
    print(f"{'store':<34} {'threads':>7} {'saves':>7} {'seconds':>8} {'saves/s':>9}")
    for m in results:
        print(f"{m.store:<34} {m.threads:>7} {m.saves:>7} {m.seconds:>8.2f} {m.rate:>9.0f}")
    by = {(m.store.split()[0], m.threads): m for m in results}
    casemgmt, library, raw = "casemgmt.persistence", "eventsourcing.postgres", "raw"
    print("\nratios, median of the rounds:")
    met = [
        composed_limit_line(by[casemgmt, 1], by[raw, 1], by["eventsourcing.popo", 1]),
        ratio_line(
            "8 threads: casemgmt / eventsourcing.postgres",
            by[casemgmt, 8],
            by[library, 8],
            TARGET_EIGHT_THREADS,
        ),
        ratio_line("1 thread:  casemgmt / raw", by[casemgmt, 1], by[raw, 1], None),
        ratio_line(
            "1 thread:  casemgmt / eventsourcing.postgres", by[casemgmt, 1], by[library, 1], None
        ),
        ratio_line("8 threads: casemgmt / raw", by[casemgmt, 8], by[raw, 8], None),
    ]
    print("all targets met" if all(met) else "some target NOT met")
    return all(met)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument(
        "--database-url", default=os.environ.get("CASEMGMT_DATABASE_URL") or DEFAULT_URL
    )
    parser.add_argument("--saves", type=int, default=4000, help="saves per configuration")
    parser.add_argument("--seconds", type=float, default=15.0, help="time cap per configuration")
    parser.add_argument("--rounds", type=int, default=8, help="turns each store takes")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    url: str = args.database_url

    with closing(psycopg2.connect(url)) as conn:
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE; CREATE SCHEMA {SCHEMA}")
            cursor.execute("SHOW server_version")
            (server_version,) = cursor.fetchone() or ("?",)
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC · {os.cpu_count()} cores · "
        f"Python {platform.python_version()} · PostgreSQL {server_version} · "
        f"{args.saves} saves or {args.seconds:g}s per configuration in {args.rounds} rounds, "
        f"after {WARM_UP_SAVES} warm-up"
    )
    casemgmt = CasemgmtStore(env=casemgmt_env(url))
    library = EventsourcingStore(env=eventsourcing_env(url))
    in_memory = InMemoryStore(env=POPO_ENV)
    raw = RawInserts(url, casemgmt)
    stores: list[tuple[str, Callable[[int], None]]] = [
        ("casemgmt.persistence", saving_through(casemgmt)),
        ("eventsourcing.postgres", saving_through(library)),
        ("raw psycopg2 INSERT (autocommit)", raw.insert),
    ]
    # In memory, at one thread only: the library's own cost per save, for the composed limit.
    popo = ("eventsourcing.popo (in memory)", saving_through(in_memory))
    try:
        results = [
            measurement
            for threads in THREAD_COUNTS
            for measurement in measure(
                [*stores, popo] if threads == 1 else stores,
                threads,
                args.saves,
                args.seconds,
                args.rounds,
            )
        ]
    finally:
        casemgmt.close()
        library.close()
        in_memory.close()
        raw.close()
        with closing(psycopg2.connect(url)) as conn:
            conn.autocommit = True
            with conn.cursor() as cursor:
                cursor.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")

    print()
    all_met = report(results)
    return 0 if all_met or not args.check else 1


if __name__ == "__main__":
    sys.exit(main())
