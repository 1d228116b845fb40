"""How fast the API is under load: `casemgmt serve` against a bare Flask + psycopg2 endpoint.

In one run, on a database of its own (created on the server named, migrated, dropped at the end):

* **servers**: the real `casemgmt serve` (its projections running in its workers, rate limits off:
  every request comes from 127.0.0.1); a bare Flask app whose `POST` is one autocommit `INSERT`
  and whose `GET`s are one `SELECT` (by primary key, or the newest 25 rows), on a psycopg2 pool;
  both under gunicorn with casemgmt's worker class (waitress inside gunicorn, `--workers` ×
  `--threads` alike); and, unless `--no-gthread`, a second `casemgmt serve` with gunicorn's plain
  `gthread` worker (`CASEMGMT_SERVER_WORKER=gthread`), to show what the slow-client-safe setup
  costs or gains;
* **load**: `--clients` connections (keep-alive) from `--load-processes` processes of their own,
  in three mixes: *intake* (opens with distinct external refs), *agent* (notes with `If-Match` on
  the client's own cases, reads, list queries, claims from a queue) and *mixed* (all five kinds).
  The bare app takes the same mix with each kind mapped to its floor: opens, actions and claims to
  the `INSERT`, reads to the `SELECT` by key, lists to the `SELECT` of a page;
* **rounds**: every target takes its turn in every round, in an order that rotates from round to
  round, so that the machine's drift hits all alike; req/s, p50 and p99 per kind and per mix, with
  the range over the rounds and the ratios to the bare endpoint;
* **serial**: one connection, one request at a time (opens, then reads): p50 of each target;
* **round trips**: counted, not estimated. The API is built in this process (`create_app` on a
  container of its own) with its PostgreSQL connections going through a counting proxy that reads
  the wire protocol: every simple query (`Q`) and every extended-protocol `Sync` the client sends
  is one round trip, whatever code sent it (a `BEGIN` and a `COMMIT` count). Redis round trips are
  counted where redis-py sends a packed command (a pipeline is one). `--count` requests of each kind
  go through Flask's test client one at a time; background writes they cause (the record of
  reads) are flushed and counted with them.

    python bench/api.py [--database-url postgresql://…] [--redis-url redis://…]
                        [--workers 2] [--threads 8] [--clients 16] [--load-processes 2]
                        [--seconds 8] [--rounds 3] [--serial 200] [--count 50] [--no-gthread]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import multiprocessing
import os
import platform
import random
import select
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg2
import psycopg2.pool
from flask import Flask, Response
from flask import request as incoming
from gunicorn.app.base import BaseApplication
from redis.connection import Connection

# Run from the repository root, or from anywhere: casemgmt is imported from this checkout.
ROOT: Final = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.scratch import (  # noqa: E402
    add_server_arguments,
    scratch_database,
    serve_environment,
)
from casemgmt.api import create_app  # noqa: E402
from casemgmt.bootstrap import build  # noqa: E402
from casemgmt.cli.serving import worker_class  # noqa: E402
from casemgmt.settings import Settings  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence


API: Final = "/api/v1"
KINDS: Final = ("open", "action", "read", "list", "claim")
MIXES: Final[dict[str, dict[str, int]]] = {
    "intake": {"open": 1},
    "agent": {"action": 5, "read": 3, "list": 1, "claim": 1},
    "mixed": {"open": 3, "action": 3, "read": 3, "list": 2, "claim": 1},
}
# What each kind is on the bare app: its floor.
BARE_KIND: Final = {
    "open": "insert",
    "action": "insert",
    "claim": "insert",
    "read": "select",
    "list": "page",
}
CASES_PER_CLIENT: Final = 10  # each client's own cases, on which it writes notes with If-Match
TARGET_THROUGHPUT: Final = 0.8  # casemgmt / bare, on the intake and the agent mix
TARGET_P99: Final = 1.5  # casemgmt / bare, at most
TARGET_SERIAL: Final = 2.0  # casemgmt / bare, serial p50, at most
TARGET_ROUND_TRIPS: Final = 2  # database round trips per command, at most
INQUIRY: Final = {
    "channel": "email",
    "subject": "Chưa nhận được sổ BHXH",
    "body": "Tôi đã nộp hồ sơ từ tháng trước nhưng chưa nhận được sổ.",
    "requester": {
        "kind": "citizen",
        "id": "0123456789",
        "name": "Nguyễn Văn A",
        "contact": "a@example.vn",
    },
}
TRIAGE: Final = {"category": {"line": "social", "kind": "procedure"}, "priority": "normal"}


# -- a database of the benchmark's own -----------------------------------------------------------


@contextmanager
def bench_database(server_url: str) -> Iterator[str]:
    """A scratch database for both servers: casemgmt's tables and the bare app's."""
    with scratch_database(server_url, "casemgmt_bench_api") as url:
        with closing(psycopg2.connect(url)) as conn, conn, conn.cursor() as cursor:
            cursor.execute(
                "CREATE TABLE bare_cases (id uuid PRIMARY KEY, received_at timestamptz NOT NULL"
                " DEFAULT now(), body jsonb NOT NULL)"
            )
            cursor.execute("CREATE INDEX bare_cases_received_idx ON bare_cases (received_at)")
        yield url


# -- the bare endpoint ---------------------------------------------------------------------------


def bare_app(database_url: str, threads: int) -> Flask:
    """Flask and a psycopg2 pool: `POST` inserts one row (autocommit), `GET`s select."""
    app = Flask("bare")
    pool = psycopg2.pool.ThreadedConnectionPool(1, threads, database_url)

    def query(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        conn = pool.getconn()
        try:
            conn.autocommit = True
            with conn.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchall() if cursor.description else []
        finally:
            pool.putconn(conn)

    def answer(data: Any, status: int = 200) -> Response:
        return Response(json.dumps(data) + "\n", status, mimetype="application/json")

    @app.post("/bare/cases")
    def insert() -> Response:
        body = incoming.get_data(as_text=True) or "{}"
        json.loads(body)  # parsed as an API would
        case_id = str(uuid.uuid4())
        query("INSERT INTO bare_cases (id, body) VALUES (%s, %s)", [case_id, body])
        return answer({"id": case_id}, 201)

    @app.get("/bare/cases/<case_id>")
    def select_one(case_id: str) -> Response:
        rows = query("SELECT id, received_at, body FROM bare_cases WHERE id = %s", [case_id])
        if not rows:
            return answer({"status": 404}, 404)
        found, received, body = rows[0]
        return answer({"id": found, "received_at": received.isoformat(), **body})

    @app.get("/bare/cases")
    def select_page() -> Response:
        rows = query(
            "SELECT id, received_at, body FROM bare_cases ORDER BY received_at DESC LIMIT 25", []
        )
        items = [{"id": i, "received_at": r.isoformat(), **b} for i, r, b in rows]
        return answer({"items": items})

    return app


def serve_bare(database_url: str, port: int, workers: int, threads: int) -> None:
    """The bare app under gunicorn, with the worker class `casemgmt serve` would use."""

    class BareServer(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            options = {
                "bind": f"127.0.0.1:{port}",
                "workers": workers,
                "threads": threads,
                "worker_class": worker_class(),
                "control_socket_disable": True,
                "loglevel": "warning",
            }
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Flask:
            return bare_app(database_url, threads)  # after the fork: a pool per worker

    BareServer().run()


# -- the servers ---------------------------------------------------------------------------------


@dataclass
class Target:
    """One server under test: casemgmt or the bare app, with one worker class."""

    name: str
    bare: bool
    port: int
    process: subprocess.Popen[bytes] | None = None
    tokens: dict[str, str] = field(default_factory=dict)

    def path(self, kind: str, case_id: str | None = None) -> tuple[str, str]:
        """The method and path of a request of this kind."""
        if self.bare:
            floor = BARE_KIND[kind]
            if floor == "insert":
                return "POST", "/bare/cases"
            if floor == "select":
                return "GET", f"/bare/cases/{case_id}"
            return "GET", "/bare/cases"
        raise AssertionError("casemgmt paths are made by the load client")


def free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return int(probe.getsockname()[1])


def start_casemgmt(
    name: str, env: dict[str, str], *, workers: int, threads: int, server_worker: str, log: Path
) -> Target:
    port = free_port()
    command = [sys.executable, "-m", "casemgmt.cli", "serve", "--port", str(port)]
    command += ["--workers", str(workers), "--threads", str(threads)]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            env={**env, "CASEMGMT_SERVER_WORKER": server_worker},
            stdout=subprocess.DEVNULL,
            stderr=out,
            cwd=ROOT,
        )
    return Target(name, False, port, process)


def start_bare(
    name: str, url: str, *, workers: int, threads: int, server_worker: str, log: Path
) -> Target:
    port = free_port()
    command = [sys.executable, __file__, "--serve-bare", "--database-url", url]
    command += ["--port", str(port), "--workers", str(workers), "--threads", str(threads)]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            env={**os.environ, "CASEMGMT_SERVER_WORKER": server_worker},
            stdout=subprocess.DEVNULL,
            stderr=out,
            cwd=ROOT,
        )
    return Target(name, True, port, process)


def wait_until_up(target: Target, log: Path, seconds: float = 90) -> None:
    path = "/bare/cases" if target.bare else f"{API}/health"
    deadline = time.monotonic() + seconds
    while True:
        assert target.process is not None
        if target.process.poll() is not None:
            raise SystemExit(f"{target.name} exited: {log.read_text()[-2000:]}")
        with contextlib.suppress(OSError):
            status, _, _ = request(target.port, "GET", path)
            if status == 200:
                return
        if time.monotonic() > deadline:
            raise SystemExit(f"{target.name} did not answer within {seconds:g} s")
        time.sleep(0.3)


def stop(target: Target) -> None:
    if target.process is not None and target.process.poll() is None:
        target.process.send_signal(signal.SIGTERM)
        try:
            target.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            target.process.kill()


# -- HTTP ----------------------------------------------------------------------------------------


def request(
    port: int,
    method: str,
    path: str,
    body: Any = None,
    *,
    headers: dict[str, str] | None = None,
    conn: http.client.HTTPConnection | None = None,
) -> tuple[int, dict[str, str], Any]:
    """One request; on `conn` when given (kept alive), else on a connection of its own."""
    own = conn is None
    connection = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        data = None if body is None else json.dumps(body).encode()
        sent = {**(headers or {})}
        if data is not None:
            sent["Content-Type"] = "application/json"
        connection.request(method, path, body=data, headers=sent)
        response = connection.getresponse()
        raw = response.read()
        answer = json.loads(raw) if raw else None
        return response.status, {k.lower(): v for k, v in response.getheaders()}, answer
    finally:
        if own:
            connection.close()


def bearer(token: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **extra}


def add_accounts(url: str, redis_url: str, prefix: str, wanted: list[tuple[str, str]]) -> list[str]:
    """Accounts (name, role) made through casemgmt's accounts; their tokens."""
    with tempfile.TemporaryDirectory(prefix="casemgmt-bench-api-") as data_dir:
        settings = Settings(
            database_url=url, redis_url=redis_url, redis_key_prefix=prefix, data_dir=Path(data_dir)
        )
        container = build(settings)
        try:
            return [container.accounts.add(name, role)[1] for name, role in wanted]
        finally:
            container.close()


# -- what the load works on ----------------------------------------------------------------------


@dataclass
class Workload:
    """The accounts and cases the load clients use on casemgmt (and the rows of the bare app)."""

    intake: str
    supervisor: str
    agents: list[tuple[str, str]]  # (name, token), one per client
    own_cases: list[list[str]]  # per client: cases assigned to its agent
    readable: list[str]  # case ids anyone may read
    queue: str  # where claimable cases wait
    bare_rows: list[str]


def open_case(port: int, token: str) -> str:
    body = {**INQUIRY, "external_ref": f"<{uuid.uuid4().hex}@bench.example.vn>"}
    status, _, answer = request(port, "POST", f"{API}/cases", body, headers=bearer(token))
    assert status == 201, answer
    return str(answer["id"])


def triage(port: int, token: str, case_id: str) -> None:
    status, _, answer = request(
        port, "POST", f"{API}/cases/{case_id}/triage", TRIAGE, headers=bearer(token)
    )
    assert status == 200, answer


def prepare(
    env: dict[str, str], port: int, *, clients: int, claimable: int, bare_port: int
) -> Workload:
    """Accounts, each client's own cases (opened, triaged, assigned to its agent), and cases
    waiting in a queue to be claimed; set up through the API, not measured."""
    suffix = uuid.uuid4().hex[:6]
    names = [f"bench-agent-{n}-{suffix}" for n in range(clients)]
    intake, supervisor, *tokens = add_accounts(
        env["CASEMGMT_DATABASE_URL"],
        env["CASEMGMT_REDIS_URL"],
        env["CASEMGMT_REDIS_PREFIX"],
        [
            (f"bench-intake-{suffix}", "intake"),
            (f"bench-supervisor-{suffix}", "supervisor"),
            *((name, "agent") for name in names),
        ],
    )
    agents = list(zip(names, tokens, strict=True))

    def own_case(agent: tuple[str, str]) -> str:
        case_id = open_case(port, intake)
        triage(port, supervisor, case_id)
        status, _, answer = request(
            port,
            "POST",
            f"{API}/cases/{case_id}/assign",
            {"agent": agent[0]},
            headers=bearer(supervisor),
        )
        assert status == 200, answer
        return case_id

    def waiting_case(_: int) -> str:
        case_id = open_case(port, intake)
        triage(port, supervisor, case_id)
        return case_id

    with ThreadPoolExecutor(8) as pool:
        own = [list(pool.map(own_case, [agent] * CASES_PER_CLIENT)) for agent in agents]
        waiting = list(pool.map(waiting_case, range(claimable)))
        bare_rows = list(
            pool.map(
                lambda _: request(bare_port, "POST", "/bare/cases", INQUIRY)[2]["id"],
                range(200),
            )
        )
    queue = wait_for_queue(port, supervisor, claimable)
    return Workload(
        intake,
        supervisor,
        agents,
        own,
        [case for cases in own for case in cases] + waiting,
        queue,
        bare_rows,
    )


def wait_for_queue(port: int, token: str, size: int, seconds: float = 120) -> str:
    """The queue the triaged cases wait in, once the projection has put them all there."""
    deadline = time.monotonic() + seconds
    while True:
        status, _, queues = request(port, "GET", f"{API}/queues", headers=bearer(token))
        assert status == 200, queues
        biggest = max(queues, key=lambda q: q["size"], default=None)
        if biggest is not None and biggest["size"] >= size:
            return str(biggest["name"])
        if time.monotonic() > deadline:
            raise SystemExit(f"the work queues never held {size} cases: {queues}")
        time.sleep(0.3)


# -- the load ------------------------------------------------------------------------------------


@dataclass
class Sample:
    """What one load process saw: latencies per kind, statuses, and how long it ran."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, dict[int, int]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(int))
    )
    seconds: float = 0.0


def _casemgmt_request(
    kind: str,
    rng: random.Random,
    workload: Workload,
    client: int,
    versions: dict[str, str],
) -> tuple[str, str, Any, dict[str, str]]:
    _, agent_token = workload.agents[client]
    if kind == "open":
        body = {**INQUIRY, "external_ref": f"<{uuid.uuid4().hex}@bench.example.vn>"}
        return "POST", f"{API}/cases", body, bearer(workload.intake)
    if kind == "action":
        case_id = rng.choice(workload.own_cases[client])
        headers = bearer(agent_token, **{"If-Match": versions.get(case_id, "")})
        if not headers["If-Match"]:
            del headers["If-Match"]
        return "POST", f"{API}/cases/{case_id}/note", {"text": "Đã gọi lại."}, headers
    if kind == "read":
        return "GET", f"{API}/cases/{rng.choice(workload.readable)}", None, bearer(agent_token)
    if kind == "list":
        query = "status=triaged,in_progress&per_page=25"
        if rng.random() < 0.5:
            query += "&text=BHXH"
        return "GET", f"{API}/cases?{query}", None, bearer(agent_token)
    if kind == "claim":
        return "POST", f"{API}/queues/{workload.queue}/claim", None, bearer(agent_token)
    raise AssertionError(kind)


def load_process(
    target: Target,
    workload: Workload,
    mix: dict[str, int],
    clients: Sequence[int],
    *,
    seconds: float,
    results: Any,
) -> None:
    """Runs one thread per client, each on one kept-alive connection, until the time is up."""
    sample = Sample()
    lock = threading.Lock()
    kinds = [kind for kind, weight in mix.items() for _ in range(weight)]
    start_at = time.monotonic()
    deadline = start_at + seconds

    def client_loop(client: int) -> None:
        rng = random.Random(f"{client}-{target.name}-{start_at}")
        versions: dict[str, str] = {}
        conn = http.client.HTTPConnection("127.0.0.1", target.port, timeout=60)
        mine: list[tuple[str, float, int]] = []
        try:
            while time.monotonic() < deadline:
                kind = rng.choice(kinds)
                if target.bare:
                    method, path = target.path(kind, rng.choice(workload.bare_rows))
                    body: Any = INQUIRY if method == "POST" else None
                    headers: dict[str, str] = {}
                    case_id = None
                else:
                    method, path, body, headers = _casemgmt_request(
                        kind, rng, workload, client, versions
                    )
                    case_id = path.split("/")[4] if kind == "action" else None
                began = time.perf_counter()
                status, answered, _ = request(
                    target.port, method, path, body, headers=headers, conn=conn
                )
                mine.append((kind, time.perf_counter() - began, status))
                if case_id is not None and "etag" in answered:
                    versions[case_id] = answered["etag"]
        finally:
            conn.close()
            with lock:
                for kind, latency, status in mine:
                    sample.latencies[kind].append(latency)
                    sample.statuses[kind][status] += 1

    threads = [threading.Thread(target=client_loop, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sample.seconds = time.monotonic() - start_at
    results.put(
        (
            {k: list(v) for k, v in sample.latencies.items()},
            {k: dict(v) for k, v in sample.statuses.items()},
            sample.seconds,
        )
    )


@dataclass
class Round:
    """One target, one mix, one round: latencies per kind and the seconds it ran."""

    latencies: dict[str, list[float]]
    statuses: dict[str, dict[int, int]]
    seconds: float

    def rate(self, kind: str | None = None) -> float:
        if kind is None:
            return sum(len(v) for v in self.latencies.values()) / self.seconds
        return len(self.latencies.get(kind, [])) / self.seconds

    def percentile(self, q: float, kind: str | None = None) -> float:
        values = (
            [x for v in self.latencies.values() for x in v]
            if kind is None
            else self.latencies.get(kind, [])
        )
        if not values:
            return float("nan")
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def drive(
    target: Target,
    workload: Workload,
    mix: dict[str, int],
    *,
    clients: int,
    processes: int,
    seconds: float,
) -> Round:
    """Load from `processes` processes of their own, `clients` connections in all."""
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    groups = [list(range(clients))[n::processes] for n in range(processes)]
    workers = [
        context.Process(
            target=load_process,
            args=(target, workload, mix, group),
            kwargs={"seconds": seconds, "results": results},
        )
        for group in groups
        if group
    ]
    for worker in workers:
        worker.start()
    gathered = [results.get(timeout=seconds + 120) for _ in workers]
    for worker in workers:
        worker.join()
    latencies: dict[str, list[float]] = defaultdict(list)
    statuses: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for their_latencies, their_statuses, _ in gathered:
        for kind, values in their_latencies.items():
            latencies[kind].extend(values)
        for kind, counts in their_statuses.items():
            for status, count in counts.items():
                statuses[kind][status] += count
    return Round(dict(latencies), statuses, max(s for _, _, s in gathered))


def serial_p50(target: Target, workload: Workload, kind: str, count: int) -> float:
    """p50 of `count` requests of one kind, one at a time on one connection."""
    conn = http.client.HTTPConnection("127.0.0.1", target.port, timeout=60)
    rng = random.Random(1)
    took = []
    try:
        for _ in range(count):
            if target.bare:
                method, path = target.path(kind, rng.choice(workload.bare_rows))
                body: Any = INQUIRY if method == "POST" else None
                headers: dict[str, str] = {}
            else:
                method, path, body, headers = _casemgmt_request(kind, rng, workload, 0, {})
            began = time.perf_counter()
            status, _, answer = request(target.port, method, path, body, headers=headers, conn=conn)
            took.append(time.perf_counter() - began)
            assert status in (200, 201), (target.name, kind, status, answer)
    finally:
        conn.close()
    return statistics.median(took)


# -- round trips, counted ------------------------------------------------------------------------

SSL_REQUEST: Final = 80877103
GSSENC_REQUEST: Final = 80877104


class CountingProxy:
    """A TCP proxy in front of PostgreSQL that counts the round trips its clients start: each
    simple query message (`Q`) and each `Sync` (`S`) of the extended protocol. Connections must not
    use TLS (`sslmode=disable`), so that the messages can be read."""

    def __init__(self, host: str, port: int) -> None:
        # A host that is a directory is where the server's unix socket is (embedded PostgreSQL).
        self.upstream: str | tuple[str, int] = (
            f"{host}/.s.PGSQL.{port}" if host.startswith("/") else (host, port)
        )
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.round_trips = 0
        self.connections = 0
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = self._connect_upstream()
            with self._lock:
                self.connections += 1
            threading.Thread(target=self._pipe, args=(client, server), daemon=True).start()

    def _connect_upstream(self) -> socket.socket:
        if isinstance(self.upstream, tuple):
            return socket.create_connection(self.upstream)
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.connect(self.upstream)
        return server

    @classmethod
    def in_front_of(cls, url: str) -> tuple[CountingProxy, str]:
        """A proxy in front of the server of `url`, and the URL that goes through it."""
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        host = query.pop("host", None) or parts.hostname or "127.0.0.1"
        proxy = cls(host, parts.port or 5432)
        user, at, _ = parts.netloc.rpartition("@")
        query |= {"sslmode": "disable", "gssencmode": "disable"}  # the proxy reads the messages
        through = urlunsplit(
            parts._replace(netloc=f"{user}{at}127.0.0.1:{proxy.port}", query=urlencode(query))
        )
        return proxy, through

    def _pipe(self, client: socket.socket, server: socket.socket) -> None:
        pending = b""
        started = False  # after the startup message, every message has a type byte
        try:
            while True:
                ready, _, _ = select.select([client, server], [], [])
                if server in ready:
                    data = server.recv(65536)
                    if not data:
                        return
                    client.sendall(data)
                if client in ready:
                    data = client.recv(65536)
                    if not data:
                        return
                    pending, started = self._count(pending + data, started)  # before it is
                    server.sendall(data)  # answered: a caller that waited for it sees it counted
        except OSError:
            return
        finally:
            client.close()
            server.close()

    def _count(self, pending: bytes, started: bool) -> tuple[bytes, bool]:
        while True:
            if not started:
                if len(pending) < 8:
                    return pending, started
                length, code = struct.unpack("!II", pending[:8])
                if len(pending) < length:
                    return pending, started
                pending = pending[length:]
                started = code not in (SSL_REQUEST, GSSENC_REQUEST)
                continue
            if len(pending) < 5:
                return pending, started
            kind = pending[:1]
            (length,) = struct.unpack("!I", pending[1:5])
            if len(pending) < 1 + length:
                return pending, started
            pending = pending[1 + length :]
            if kind in (b"Q", b"S"):
                with self._lock:
                    self.round_trips += 1

    def close(self) -> None:
        self.listener.close()


class RedisCounter:
    """Counts the commands redis-py sends (a pipeline is one round trip)."""

    def __init__(self) -> None:
        self.round_trips = 0
        original = Connection.send_packed_command
        counter = self

        def counted(self: Any, command: Any, check_health: bool = True) -> None:
            counter.round_trips += 1
            original(self, command, check_health)

        Connection.send_packed_command = counted  # type: ignore[method-assign]


def count_round_trips(
    url: str, redis_url: str, prefix: str, workload: Workload, count: int
) -> dict[str, tuple[float, float]]:
    """Database and Redis round trips per request of each kind, counted over `count` requests
    through the Flask test client on an API built in this process."""
    proxy, proxied = CountingProxy.in_front_of(url)
    redis_counter = RedisCounter()
    with tempfile.TemporaryDirectory(prefix="casemgmt-bench-api-") as data_dir:
        settings = Settings(
            database_url=proxied,
            redis_url=redis_url,
            redis_key_prefix=prefix,
            data_dir=Path(data_dir),
        )
        container = build(settings)
        try:
            client = create_app(settings, container).test_client()
            counted: dict[str, tuple[float, float]] = {}
            rng = random.Random(2)
            versions: dict[str, str] = {}
            for kind in KINDS:
                # One request first, untimed and uncounted: connections, caches.
                _send(client, kind, rng, workload, versions)
                container.reads.flush()
                before = (proxy.round_trips, redis_counter.round_trips)
                for _ in range(count):
                    _send(client, kind, rng, workload, versions)
                container.reads.flush()
                counted[kind] = (
                    (proxy.round_trips - before[0]) / count,
                    (redis_counter.round_trips - before[1]) / count,
                )
            return counted
        finally:
            container.close()
            proxy.close()


def _send(
    client: Any, kind: str, rng: random.Random, workload: Workload, versions: dict[str, str]
) -> None:
    method, path, body, headers = _casemgmt_request(kind, rng, workload, 0, versions)
    response = client.open(path, method=method, json=body, headers=headers)
    assert response.status_code in (200, 201, 204), (kind, response.get_data(as_text=True))
    if kind == "action":
        versions[path.split("/")[4]] = response.headers["ETag"]


# -- the report ----------------------------------------------------------------------------------


def span(values: Sequence[float], scale: float = 1.0, digits: int = 0) -> str:
    clean = [v * scale for v in values if not math.isnan(v)]
    if not clean:
        return "—"
    low, high = min(clean), max(clean)
    if round(low, digits) == round(high, digits):
        return f"{low:.{digits}f}"
    return f"{low:.{digits}f}–{high:.{digits}f}"


def report_mix(mix: str, rounds: dict[str, list[Round]], names: Sequence[str]) -> list[str]:
    """Per kind and for the whole mix: req/s, p50, p99 of each target (ranges over the rounds),
    and casemgmt's ratios to the bare endpoint; the targets missed, in words."""
    missed = []
    casemgmt, bare = names[0], names[1]
    print(f"\nmix {mix!r} ({', '.join(f'{k} ×{w}' for k, w in MIXES[mix].items())}):")
    print(f"  {'kind':<7} {'target':<34} {'req/s':>11} {'p50 ms':>11} {'p99 ms':>11}  errors")
    for kind in [*MIXES[mix], None]:
        label = kind or "all"
        for name in names:
            done = rounds[name]
            errors: dict[int, int] = defaultdict(int)
            for r in done:
                for k, counts in r.statuses.items():
                    for status, n in counts.items():
                        if kind in (None, k) and (status >= 400 or status == 204):
                            errors[status] += n  # 204: a claim found the queue empty
            note = ", ".join(f"{n}×{s}" for s, n in sorted(errors.items())) or "0"
            print(
                f"  {label:<7} {name:<34} {span([r.rate(kind) for r in done]):>11} "
                f"{span([r.percentile(0.5, kind) for r in done], 1000, 1):>11} "
                f"{span([r.percentile(0.99, kind) for r in done], 1000, 1):>11}  {note}"
            )
        ours, theirs = rounds[casemgmt], rounds[bare]
        throughput = [o.rate(kind) / t.rate(kind) for o, t in zip(ours, theirs, strict=True)]
        p99 = [
            o.percentile(0.99, kind) / t.percentile(0.99, kind)
            for o, t in zip(ours, theirs, strict=True)
        ]
        print(
            f"  {label:<7} {casemgmt + ' / ' + bare:<34} {span(throughput, digits=2):>11} "
            f"{'':>11} {span(p99, digits=2):>11}  (ratios, round by round)"
        )
        if len(names) > 2:
            other = rounds[names[2]]
            gained = [o.rate(kind) / g.rate(kind) for o, g in zip(ours, other, strict=True)]
            p99g = [
                o.percentile(0.99, kind) / g.percentile(0.99, kind)
                for o, g in zip(ours, other, strict=True)
            ]
            print(
                f"  {label:<7} {casemgmt + ' / ' + names[2]:<34} {span(gained, digits=2):>11} "
                f"{'':>11} {span(p99g, digits=2):>11}  (the buffered worker against gthread)"
            )
        if kind is None and mix in ("intake", "agent"):
            if statistics.median(throughput) < TARGET_THROUGHPUT:
                missed.append(f"{mix} throughput ≥ {TARGET_THROUGHPUT:g} × bare")
            if statistics.median(p99) > TARGET_P99:
                missed.append(f"{mix} p99 ≤ {TARGET_P99:g} × bare")
    return missed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    add_server_arguments(parser)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers of each server")
    parser.add_argument("--threads", type=int, default=8, help="threads of each worker")
    parser.add_argument("--clients", type=int, default=16, help="connections of the load")
    parser.add_argument("--load-processes", type=int, default=2, help="processes of the load")
    parser.add_argument("--seconds", type=float, default=8.0, help="per target, mix and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--serial", type=int, default=200, help="requests of the serial p50s")
    parser.add_argument("--count", type=int, default=50, help="requests per kind, round trips")
    parser.add_argument(
        "--claimable", type=int, default=0, help="cases waiting to be claimed (default: enough)"
    )
    parser.add_argument("--no-gthread", action="store_true", help="skip casemgmt on gthread")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--serve-bare", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_bare:
        serve_bare(args.database_url, args.port, args.workers, args.threads)
        return 0
    return run(args)


def run(args: argparse.Namespace) -> int:
    # Claims take cases out of the queue: enough for the claim share of every casemgmt round at
    # 200 req/s and more, plus the counting pass; a claim that finds none is reported (204).
    claim_share = max(
        MIXES[mix].get("claim", 0) / sum(MIXES[mix].values()) for mix in MIXES if mix != "intake"
    )
    targets_casemgmt = 1 if args.no_gthread else 2
    claimable = args.claimable or int(
        1.2 * claim_share * 200 * args.seconds * args.rounds * targets_casemgmt
        + 2 * args.count
        + 50
    )
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC · {os.cpu_count()} cores · "
        f"Python {platform.python_version()} · {args.workers} workers × {args.threads} threads "
        f"each · {args.clients} connections from {args.load_processes} processes · "
        f"{args.seconds:g} s per target, mix and round · {args.rounds} rounds"
    )
    prefix = f"casemgmt-bench-api-{os.getpid()}"
    with (
        bench_database(args.database_url) as url,
        tempfile.TemporaryDirectory(prefix="casemgmt-bench-api-") as folder,
    ):
        logs = Path(folder)
        env = serve_environment(url, args.redis_url, prefix, logs / "data")
        size = {"workers": args.workers, "threads": args.threads}
        targets = [
            start_casemgmt(
                "casemgmt", env, **size, server_worker="buffered", log=logs / "casemgmt.log"
            ),
            start_bare("bare", url, **size, server_worker="buffered", log=logs / "bare.log"),
        ]
        if not args.no_gthread:
            gthread = logs / "casemgmt (gthread).log"
            targets.append(
                start_casemgmt(
                    "casemgmt (gthread)", env, **size, server_worker="gthread", log=gthread
                )
            )
        try:
            for target in targets:
                wait_until_up(target, logs / f"{target.name}.log")
            began = time.monotonic()
            workload = prepare(
                env,
                targets[0].port,
                clients=args.clients,
                claimable=claimable,
                bare_port=targets[1].port,
            )
            print(
                f"set up {args.clients} agents with {CASES_PER_CLIENT} cases each and "
                f"{claimable} cases waiting in {workload.queue!r} in "
                f"{time.monotonic() - began:.0f} s"
            )
            return measure_and_report(args, targets, workload, url, prefix)
        finally:
            for target in targets:
                stop(target)


def measure_and_report(
    args: argparse.Namespace, targets: list[Target], workload: Workload, url: str, prefix: str
) -> int:
    names = [target.name for target in targets]
    rounds: dict[str, dict[str, list[Round]]] = {mix: defaultdict(list) for mix in MIXES}
    serial: dict[str, dict[str, list[float]]] = {name: {"open": [], "read": []} for name in names}
    for turn in range(args.rounds):
        order = targets[turn % len(targets) :] + targets[: turn % len(targets)]
        for mix_name, mix in MIXES.items():
            for target in order:
                rounds[mix_name][target.name].append(
                    drive(
                        target,
                        workload,
                        mix,
                        clients=args.clients,
                        processes=args.load_processes,
                        seconds=args.seconds,
                    )
                )
        for target in order:
            for kind in ("open", "read"):
                serial[target.name][kind].append(serial_p50(target, workload, kind, args.serial))
        print(f"round {turn + 1} of {args.rounds} done")

    missed: list[str] = []
    for mix_name in MIXES:
        missed += report_mix(mix_name, rounds[mix_name], names)

    print("\nserial, one connection, one request at a time: p50 in ms (range over the rounds)")
    for kind in ("open", "read"):
        cells = "  ".join(f"{name} {span(serial[name][kind], 1000, 2)}" for name in names)
        ratios = [
            o / b for o, b in zip(serial[names[0]][kind], serial[names[1]][kind], strict=True)
        ]
        print(f"  {kind:<5} {cells}  ·  {names[0]} / {names[1]} {span(ratios, digits=2)}")
        if kind == "open" and statistics.median(ratios) > TARGET_SERIAL:
            missed.append(f"serial p50 ≤ {TARGET_SERIAL:g} × bare")

    counted = count_round_trips(url, args.redis_url, prefix, workload, args.count)
    print(f"\nround trips per request, counted over {args.count} requests of each kind:")
    print(f"  {'kind':<7} {'PostgreSQL':>10} {'Redis':>6}")
    for kind, (database, redis) in counted.items():
        print(f"  {kind:<7} {database:>10.2f} {redis:>6.2f}")
        if kind in ("open", "action") and database > TARGET_ROUND_TRIPS:
            missed.append(f"{kind}: ≤ {TARGET_ROUND_TRIPS} database round trips")
    print(
        "  (the bare endpoint: 1 per request by construction; casemgmt's counts include the "
        "record of reads, written in batches)"
    )
    print("\n" + ("all targets met" if not missed else "NOT met: " + "; ".join(missed)))
    return 1 if missed and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
