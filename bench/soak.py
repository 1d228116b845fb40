"""Whether `casemgmt serve` holds up for half an hour: a steady load, minute by minute (issue #12).

In one run, on a database and a Redis prefix of its own (the database created on the server named,
migrated, dropped at the end):

* **server**: the real `casemgmt serve` (gunicorn, `--workers` × `--threads`, its projections
  running in its workers, rate limits off: every request comes from 127.0.0.1), as `bench/api.py`
  starts it;
* **set-up**, through the API and not measured: an intake account, a supervisor, one agent per
  client with `CASES_PER_AGENT` cases assigned to it, and `--waiting` triaged cases in a queue;
  with `--prefill`, that many cases more, opened through the application before the load, so that
  a short run meets the case list a long one would;
* **load**: `--clients` connections (kept alive) from `--load-processes` processes of their own,
  paced together to `--rate` requests a second for `--minutes` minutes, in one mix: intake opens
  (distinct external refs, a few kinds of inquiry from many citizens), triages of the cases just
  opened (with `If-Match`, which keeps the queue fed), notes on the agent's own cases (with
  `If-Match`; a 412 makes the client read the case again before its next note), case reads,
  text-search list queries (`GET /cases?text=…`, a third of them sorted by relevance) and claims
  from the queue. A client that falls behind its pace sends at once, and makes up at most one
  second of missed requests: the achieved rate shows what the server could take;
* **every minute**: requests answered in that minute, the rate achieved, p50 and p99 latency,
  errors (statuses other than 2xx, 409 and 412, and requests that got no answer), the resident
  memory of the server (gunicorn's master and workers, summed from /proc), how far the projections
  are behind, the cases there are so far, and the CPU time a request cost the server's processes
  and the PostgreSQL backends of its database (from /proc: unlike latency, it grows only with the
  work a request does, not with what else the machine runs);
* **autovacuum**: where the server has it off (a test server may), the bench vacuums and analyzes
  its database before the load and every minute during it, as autovacuum would in service;
* **afterwards**, once the projections have caught up, nothing acknowledged may be lost: every case
  whose open was answered 201 or 200 is read back (`GET /cases/{id}`), every note answered 200 is
  in its case's history, and the case list counts exactly the cases acknowledged (more only by as
  many opens as got no answer, which may or may not have been recorded).

Targets: p99 of the last minute at most `TARGET_P99_GROWTH` × the first minute's; the last minute's
achieved rate at least `TARGET_RATE_HELD` of `--rate`; server memory in the last minute at most
`TARGET_MEMORY_GROWTH` × minute 2's; nothing acknowledged lost. `--check` exits 1 if one is missed.

    python bench/soak.py [--database-url postgresql://…] [--redis-url redis://…]
                         [--rate 120] [--minutes 30] [--clients 8] [--load-processes 2]
                         [--workers 2] [--threads 8] [--waiting 300] [--prefill 0]
                         [--vacuum-every SECONDS] [--check]
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import platform
import queue
import random
import shlex
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict, deque
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlencode, urlsplit, urlunsplit

import psycopg2
import redis

# Run from the repository root, or from anywhere: casemgmt is imported from this checkout.
ROOT: Final = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.api import (  # noqa: E402
    API,
    INQUIRY,
    TRIAGE,
    Target,
    add_accounts,
    bearer,
    open_case,
    request,
    start_casemgmt,
    stop,
    triage,
    wait_for_queue,
    wait_until_up,
)
from bench.scratch import (  # noqa: E402
    add_server_arguments,
    scratch_database,
    serve_environment,
)
from casemgmt.bootstrap import build  # noqa: E402
from casemgmt.domain import Actor, Channel, Context, Requester, RequesterKind, Role  # noqa: E402
from casemgmt.settings import Settings  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence

# The mix, by weight. Triages follow opens (a third of the cases opened are triaged, and so join
# the queue the claims take from); notes and claims are an agent's work.
MIX: Final = {"open": 3, "triage": 1, "note": 3, "read": 2, "list": 2, "claim": 1}
EXPECTED: Final = frozenset({409, 412})  # conflicts the clients are told to expect
CASES_PER_AGENT: Final = 10
WORKING_SET: Final = 50  # an agent notes on the cases it took most recently
CATCH_UP: Final = 1.0  # seconds of missed requests a client that fell behind may make up
FLUSH_EVERY: Final = 1.0  # seconds between a load process's reports
TARGET_P99_GROWTH: Final = 1.5
TARGET_RATE_HELD: Final = 0.95
TARGET_MEMORY_GROWTH: Final = 1.20
# What citizens write about (subject, body); the searches below match a part of them each.
INQUIRIES: Final = (
    ("Chưa nhận được sổ BHXH", "Tôi đã nộp hồ sơ từ tháng trước nhưng chưa nhận được sổ."),
    ("Thẻ BHYT ghi sai ngày sinh", "Thẻ bảo hiểm y tế của tôi ghi sai ngày sinh, xin đính chính."),
    ("Hỏi về mức lương hưu", "Tôi muốn biết mức lương hưu nếu nghỉ hưu trước tuổi hai năm."),
    ("Chế độ thai sản chưa được chi trả", "Công ty đã nộp hồ sơ hai tháng nay, chưa nhận được."),
    ("Đóng BHXH tự nguyện", "Xin hướng dẫn thủ tục đăng ký đóng bảo hiểm xã hội tự nguyện."),
)
SEARCHES: Final = (
    "BHXH",
    "chua nhan duoc",
    "thẻ BHYT",
    "lương hưu",
    '"bảo hiểm xã hội"',
    "thai sản -công",
)
NAMES: Final = ("Nguyễn Văn An", "Trần Thị Bình", "Lê Văn Cường", "Phạm Thị Dung", "Hoàng Văn Em")


# -- what the load works on ----------------------------------------------------------------------


@dataclass
class Workload:
    """The accounts and cases the clients start from."""

    intake: str
    supervisor: str
    agents: list[str]  # a token per client
    own_cases: list[list[str]]  # per client: cases assigned to its agent
    readable: list[str]  # every case of the set-up
    queue: str  # where triaged cases wait to be claimed


def prepare(env: dict[str, str], port: int, *, clients: int, waiting: int) -> Workload:
    """Accounts, each agent's own cases (opened, triaged, assigned) and triaged cases waiting in
    a queue; set up through the API, not measured."""
    suffix = uuid.uuid4().hex[:6]
    names = [f"soak-agent-{n}-{suffix}" for n in range(clients)]
    intake, supervisor, *agents = add_accounts(
        env["CASEMGMT_DATABASE_URL"],
        env["CASEMGMT_REDIS_URL"],
        env["CASEMGMT_REDIS_PREFIX"],
        [
            (f"soak-intake-{suffix}", "intake"),
            (f"soak-supervisor-{suffix}", "supervisor"),
            *((name, "agent") for name in names),
        ],
    )

    def waiting_case(_: object) -> str:
        case_id = open_case(port, intake)
        triage(port, supervisor, case_id)
        return case_id

    def own_case(agent: str) -> str:
        case_id = waiting_case(agent)
        status, _, answer = request(
            port,
            "POST",
            f"{API}/cases/{case_id}/assign",
            {"agent": agent},
            headers=bearer(supervisor),
        )
        assert status == 200, answer
        return case_id

    with ThreadPoolExecutor(8) as pool:
        own = [list(pool.map(own_case, [name] * CASES_PER_AGENT)) for name in names]
        queued = list(pool.map(waiting_case, range(waiting)))
    return Workload(
        intake,
        supervisor,
        agents,
        own,
        [case for cases in own for case in cases] + queued,
        wait_for_queue(port, supervisor, waiting),
    )


def prefill(env: dict[str, str], count: int) -> float:
    """Opens `count` cases through the application, not the API, before the load: a short run then
    meets the case list a long one would. Seconds taken."""
    started = time.monotonic()
    rng = random.Random(0)
    with tempfile.TemporaryDirectory(prefix="casemgmt-bench-soak-") as data_dir:
        container = build(
            Settings(
                database_url=env["CASEMGMT_DATABASE_URL"],
                redis_url=env["CASEMGMT_REDIS_URL"],
                redis_key_prefix=env["CASEMGMT_REDIS_PREFIX"],
                data_dir=Path(data_dir),
            )
        )
        gateway = Actor("soak-mail-gateway", Role.INTAKE)

        def open_one(inquiry: tuple[str, str]) -> None:
            subject, body = inquiry
            container.care_centre.open_case(
                channel=Channel.EMAIL,
                subject=subject,
                body=body,
                requester=Requester(RequesterKind.CITIZEN, None, rng.choice(NAMES)),
                external_ref=f"<{uuid.uuid4().hex}@soak.example.vn>",
                ctx=Context(gateway, datetime.now(UTC), f"soak-{uuid.uuid4()}", "channel:email"),
            )

        try:
            with ThreadPoolExecutor(8) as pool:
                list(pool.map(open_one, (rng.choice(INQUIRIES) for _ in range(count))))
        finally:
            container.close()
    return time.monotonic() - started


# -- one client ----------------------------------------------------------------------------------


@dataclass
class Answered:
    """One request of the load: its kind, how long it took, its status (0: no answer), and the
    write it acknowledged, if any: ("open", case id) or ("note", case id, the note's text)."""

    done_at: float  # seconds after the load began
    kind: str
    latency: float
    status: int
    acknowledged: tuple[str, ...] = ()


@dataclass(frozen=True)
class Call:
    """A request a client is about to send; `case_id` is the case it acts on or reads."""

    kind: str
    method: str
    path: str
    token: str
    body: Any = None
    if_match: str | None = None
    case_id: str | None = None


class LoadClient:
    """One kept-alive connection of the load: an agent working their own cases and claiming more,
    beside the intake account whose opens and the supervisor whose triages feed the queue."""

    def __init__(self, port: int, workload: Workload, number: int, seed: str) -> None:
        self.port = port
        self.workload = workload
        self.token = workload.agents[number]
        self.rng = random.Random(seed)
        self.kinds = [kind for kind, weight in MIX.items() for _ in range(weight)]
        self.own: deque[str] = deque(workload.own_cases[number], maxlen=WORKING_SET)
        self.versions: dict[str, str] = {}  # ETags of own cases; none known: read it first
        self.untriaged: deque[tuple[str, str]] = deque()  # opened here: (id, ETag)
        self.known = list(workload.readable)
        self.conn = self._connect()
        self.calls: dict[str, Callable[[], Call]] = {
            "open": self._open,
            "triage": self._triage,
            "note": self._note,
            "read": self._read,
            "list": self._list,
            "claim": self._claim,
        }

    def _connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)

    def close(self) -> None:
        self.conn.close()

    def step(self, began: float) -> Answered:
        """Sends the next request of the mix and remembers what its answer tells."""
        call = self.calls[self.rng.choice(self.kinds)]()
        headers = bearer(call.token)
        if call.if_match is not None:
            headers["If-Match"] = call.if_match
        sent = time.perf_counter()
        try:
            status, answered, answer = request(
                self.port, call.method, call.path, call.body, headers=headers, conn=self.conn
            )
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = self._connect()
            status, answered, answer = 0, {}, None
        latency = time.perf_counter() - sent
        acknowledged = self._learn(call, status, answered.get("etag"), answer)
        return Answered(time.monotonic() - began, call.kind, latency, status, acknowledged)

    def _open(self) -> Call:
        subject, text = self.rng.choice(INQUIRIES)
        inquiry = {
            **INQUIRY,
            "subject": subject,
            "body": text,
            "external_ref": f"<{uuid.uuid4().hex}@soak.example.vn>",
            "requester": {
                "kind": "citizen",
                "id": f"{self.rng.randrange(10**9, 10**10)}",
                "name": self.rng.choice(NAMES),
                "contact": f"{uuid.uuid4().hex[:10]}@example.vn",
            },
        }
        return Call("open", "POST", f"{API}/cases", self.workload.intake, inquiry)

    def _triage(self) -> Call:
        if not self.untriaged:
            return self._open()
        case_id, version = self.untriaged.popleft()
        path = f"{API}/cases/{case_id}/triage"
        return Call("triage", "POST", path, self.workload.supervisor, TRIAGE, version, case_id)

    def _note(self) -> Call:
        case_id = self.rng.choice(self.own)
        if case_id not in self.versions:  # read it first, as an agent's screen would
            return Call("read", "GET", f"{API}/cases/{case_id}", self.token, case_id=case_id)
        text = f"Đã gọi lại cho người hỏi ({uuid.uuid4().hex[:12]})."
        path = f"{API}/cases/{case_id}/note"
        return Call(
            "note", "POST", path, self.token, {"text": text}, self.versions[case_id], case_id
        )

    def _read(self) -> Call:
        case_id = self.rng.choice(self.known)
        return Call("read", "GET", f"{API}/cases/{case_id}", self.token, case_id=case_id)

    def _list(self) -> Call:
        query: dict[str, Any] = {"text": self.rng.choice(SEARCHES), "per_page": 25}
        if self.rng.random() < 1 / 3:
            query["sort"] = "relevance"
        return Call("list", "GET", f"{API}/cases?{urlencode(query)}", self.token)

    def _claim(self) -> Call:
        return Call("claim", "POST", f"{API}/queues/{self.workload.queue}/claim", self.token)

    def _learn(self, call: Call, status: int, etag: str | None, answer: Any) -> tuple[str, ...]:
        """Keeps the versions and cases the answer tells of; the write it acknowledged, if any."""
        if status not in (200, 201) or etag is None:
            if call.kind == "note" and status == 412 and call.case_id is not None:
                self.versions.pop(call.case_id, None)  # changed meanwhile: read it again first
            return ()
        if call.kind == "open":
            self.known.append(answer["id"])
            self.untriaged.append((answer["id"], etag))
            return ("open", answer["id"])
        if call.kind == "claim":
            self.own.append(answer["id"])
            self.versions[answer["id"]] = etag
        elif call.case_id is not None and call.case_id in self.own:
            self.versions[call.case_id] = etag  # a note or a read of an own case: its version
        if call.kind == "note" and call.case_id is not None:
            return ("note", call.case_id, call.body["text"])
        return ()


def paced(
    client: LoadClient, began: float, first: float, period: float, seconds: float
) -> Iterator[Answered]:
    """The client's requests, one every `period` seconds from `began + first` until `seconds`
    after `began`; behind its pace, it sends at once, making up at most `CATCH_UP` seconds."""
    due = began + first
    end = began + seconds
    while due < end:
        wait = due - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        yield client.step(began)
        due = max(due + period, time.monotonic() - CATCH_UP)


def load_process(
    port: int,
    workload: Workload,
    clients: Sequence[int],
    *,
    rate: float,
    total_clients: int,
    began: float,
    seconds: float,
    results: Any,
) -> None:
    """One thread per client; what they got is sent to `results` every `FLUSH_EVERY` seconds,
    then None."""
    done: list[Answered] = []
    lock = threading.Lock()
    period = total_clients / rate

    def client_loop(number: int) -> None:
        client = LoadClient(port, workload, number, f"{number}-{began}")
        try:
            for answered in paced(client, began, number / rate, period, seconds):
                with lock:
                    done.append(answered)
        finally:
            client.close()

    threads = [threading.Thread(target=client_loop, args=(n,), daemon=True) for n in clients]
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads):
        time.sleep(FLUSH_EVERY)
        with lock:
            batch, done[:] = list(done), []
        results.put(batch)
    with lock:
        results.put(list(done))
    results.put(None)


# -- minute by minute ----------------------------------------------------------------------------


@dataclass
class Minute:
    """What was answered in one minute of the load."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    opened: int = 0

    def add(self, answered: Answered) -> None:
        self.latencies[answered.kind].append(answered.latency)
        self.statuses[answered.kind, answered.status] += 1
        if answered.acknowledged[:1] == ("open",):
            self.opened += 1

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    @property
    def errors(self) -> int:
        return sum(n for (_, status), n in self.statuses.items() if is_error(status))

    def percentile(self, share: float, kind: str | None = None) -> float:
        values = sorted(x for k, v in self.latencies.items() if kind in (None, k) for x in v)
        if not values:
            return float("nan")
        return values[min(len(values) - 1, int(share * len(values)))]


def is_error(status: int) -> bool:
    return not 200 <= status < 300 and status not in EXPECTED


@dataclass
class Row:
    """A minute as printed: what the targets are checked against."""

    minute: int
    requests: int
    rate: float
    p50: float
    p99: float
    errors: int
    rss: int  # bytes
    behind: int | None  # notifications the projections are behind, the most of any
    cases: int
    server_cpu: float  # CPU ms per request: the server's processes
    database_cpu: float | None  # and the PostgreSQL backends of its database

    def __str__(self) -> str:
        behind = "—" if self.behind is None else f"{self.behind}"
        database = "—" if self.database_cpu is None else f"{self.database_cpu:.1f}"
        return (
            f"{self.minute:>6} {self.requests:>8} {self.rate:>7.1f} {self.p50 * 1000:>7.1f} "
            f"{self.p99 * 1000:>7.1f} {self.errors:>6} {self.rss / 2**20:>8.0f} {behind:>6} "
            f"{self.cases:>7} {self.server_cpu:>9.1f} {database:>8}"
        )


HEADER: Final = (
    f"{'minute':>6} {'requests':>8} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6} "
    f"{'RSS MiB':>8} {'behind':>6} {'cases':>7} {'CPU: app':>9} {'database':>8}"
)


def server_family(master: int) -> set[int]:
    """A process and all its descendants (gunicorn's master and its workers), from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue  # gone meanwhile
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    family, frontier = {master}, [master]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        family.update(children)
        frontier += children
    return family


def server_rss(master: int) -> int:
    """Resident memory of the server's processes, in bytes (pages shared since the fork are
    counted in each process that maps them)."""
    total = 0
    for pid in server_family(master):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) * 1024
    return total


def cpu_seconds(pids: Iterable[int]) -> dict[int, float]:
    """User and system CPU seconds each process has used so far (those that can be read)."""
    ticks = os.sysconf("SC_CLK_TCK")
    used = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        used[pid] = (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return used


class CpuMeter:
    """CPU seconds the server's processes and the PostgreSQL backends of its database use between
    laps: what a request costs, whatever else the machine runs meanwhile. PostgreSQL's share is
    None where its processes cannot be read (a server on another host)."""

    def __init__(self, master: int, database_url: str) -> None:
        self.master = master
        self.conn = psycopg2.connect(database_url)
        self.conn.autocommit = True
        self.last: tuple[dict[int, float], dict[int, float]] = ({}, {})
        self.lap()

    def close(self) -> None:
        self.conn.close()

    def lap(self) -> tuple[float, float | None]:
        with self.conn.cursor() as cursor:
            cursor.execute(
                "SELECT pid FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            backends = [pid for (pid,) in cursor.fetchall()]
        now = (cpu_seconds(server_family(self.master)), cpu_seconds(backends))
        used = [
            sum(seconds - before.get(pid, 0.0) for pid, seconds in sample.items())
            for sample, before in zip(now, self.last, strict=True)
        ]
        self.last = now
        return used[0], used[1] if now[1] else None


def projections_behind(port: int) -> int | None:
    """The most notifications any projection is behind, from `/health`; None if it cannot say."""
    try:
        status, _, health = request(port, "GET", f"{API}/health")
    except (OSError, http.client.HTTPException):
        return None
    projections = (health or {}).get("components", {}).get("projections", {})
    lags = [p["lag"] for p in projections.get("projections", {}).values()]
    return max(lags, default=0) if status == 200 else None


# -- nothing acknowledged lost -------------------------------------------------------------------


@dataclass
class Acknowledged:
    """The writes the server said it made: case ids whose open was answered 201 or 200, the texts
    of the notes answered 200 by case, and how many opens got no answer (or a 5xx): those may or
    may not have been recorded."""

    opens: list[str] = field(default_factory=list)
    notes: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    unanswered_opens: int = 0

    def add(self, answered: Answered) -> None:
        match answered.acknowledged:
            case ("open", case_id):
                self.opens.append(case_id)
            case ("note", case_id, text):
                self.notes[case_id].append(text)
            case _ if answered.kind == "open" and (answered.status == 0 or answered.status >= 500):
                self.unanswered_opens += 1


def lost_writes(read: Callable[[str], tuple[int, Any]], acknowledged: Acknowledged) -> list[str]:
    """What the server acknowledged and no longer has, in words: each opened case read back by id,
    each case noted on read back with its history, every note looked for in it."""

    def case_lost(case_id: str) -> str | None:
        status, answer = read(f"{API}/cases/{case_id}")
        if status == 200 and answer.get("id") == case_id:
            return None
        return f"case {case_id} (open acknowledged): GET /cases/{case_id} answered {status}"

    def notes_lost(case_id: str) -> list[str]:
        status, history = read(f"{API}/cases/{case_id}/history")
        if status != 200:
            wanted = len(acknowledged.notes[case_id])
            return [f"case {case_id}: {wanted} notes acknowledged, its history answered {status}"]
        found = {entry["data"].get("text") for entry in history if entry.get("type") == "NoteAdded"}
        return [
            f"note {text!r} on case {case_id} (acknowledged) is not in its history"
            for text in acknowledged.notes[case_id]
            if text not in found
        ]

    with ThreadPoolExecutor(8) as pool:
        lost = [found for found in pool.map(case_lost, acknowledged.opens) if found]
        for found in pool.map(notes_lost, list(acknowledged.notes)):
            lost += found
    return lost


def list_count_lost(listed: int, acknowledged: int, unanswered: int) -> str | None:
    """The case list's total against the cases acknowledged: fewer is a loss; more only by as many
    opens as got no answer."""
    if listed < acknowledged:
        return f"the case list counts {listed} cases, {acknowledged} were acknowledged"
    if listed > acknowledged + unanswered:
        return (
            f"the case list counts {listed} cases, {acknowledged} were acknowledged and "
            f"{unanswered} opens got no answer"
        )
    return None


def http_reader(port: int, token: str) -> Callable[[str], tuple[int, Any]]:
    """GETs as one account, each thread on a kept-alive connection of its own."""
    local = threading.local()

    def read(path: str) -> tuple[int, Any]:
        if not hasattr(local, "conn"):
            local.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        status, _, answer = request(port, "GET", path, headers=bearer(token), conn=local.conn)
        return status, answer

    return read


def wait_until_caught_up(port: int, seconds: float = 600) -> float:
    """Seconds until no projection is behind (as `/health` says)."""
    began = time.monotonic()
    while projections_behind(port) != 0:
        if time.monotonic() - began > seconds:
            raise SystemExit(f"the projections did not catch up within {seconds:g} s")
        time.sleep(0.5)
    return time.monotonic() - began


class StandInVacuum:
    """`VACUUM (ANALYZE)` of the bench's database once before the load, then every `every` seconds
    during it from a thread of its own (never if `every` is 0): what autovacuum does in service. A
    test server may have it off; without it, every update of a case's row in the case list leaves
    a dead row behind, and the planner never learns how many cases a search matches."""

    def __init__(self, url: str, every: float) -> None:
        self.url = url
        self.every = every
        self.before = 0.0  # seconds the vacuum before the load took
        self.took: list[float] = []  # seconds each vacuum during the load took
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> StandInVacuum:
        if self.every:
            self.before = self._vacuum()
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.took.append(self._vacuum())

    def _vacuum(self) -> float:
        started = time.monotonic()
        with closing(psycopg2.connect(self.url)) as conn:
            conn.autocommit = True  # VACUUM cannot run in a transaction
            with conn.cursor() as cursor:
                cursor.execute("VACUUM (ANALYZE)")
        return time.monotonic() - started


# -- the run -------------------------------------------------------------------------------------


def without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


POSTGRES_SETTINGS: Final = ("autovacuum", "shared_buffers", "work_mem", "synchronous_commit")


def postgres_settings(url: str) -> dict[str, str]:
    """The server's version and the settings of `POSTGRES_SETTINGS`, as `SHOW` says them."""
    with closing(psycopg2.connect(url)) as conn, conn.cursor() as cursor:
        shown = {}
        for name in ("server_version", *POSTGRES_SETTINGS):
            cursor.execute(f"SHOW {name}")
            shown[name] = str((cursor.fetchone() or ("?",))[0])
    return shown


def describe(args: argparse.Namespace, env: dict[str, str], postgres: dict[str, str]) -> None:
    """The command line, the machine and the environment the server runs in."""
    command = [sys.executable, *sys.argv] if sys.argv[0].endswith("soak.py") else sys.argv
    print(f"$ {shlex.join(command)}")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC · {platform.node()} · {os.cpu_count()} cores · "
        f"load average {load} · Python {platform.python_version()} · "
        f"PostgreSQL {postgres['server_version']} "
        f"({', '.join(f'{name} {postgres[name]}' for name in POSTGRES_SETTINGS)})"
    )
    print(
        f"casemgmt serve: {args.workers} workers × {args.threads} threads, projections in the "
        f"workers · load: {args.rate:g} req/s for {args.minutes} min from {args.clients} "
        f"connections in {args.load_processes} processes · {args.prefill} cases before · mix "
        + ", ".join(f"{kind} ×{weight}" for kind, weight in MIX.items())
    )
    shown = sorted(name for name in env if name.startswith("CASEMGMT_"))
    print("environment: " + " ".join(f"{n}={without_password(env[n])}" for n in shown))
    if args.vacuum_every:
        print(
            f"the server's autovacuum is {postgres['autovacuum']}: the bench vacuums and analyzes "
            f"its database every {args.vacuum_every:g} s in its stead, as a server in service would"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    add_server_arguments(parser)
    parser.add_argument("--rate", type=float, default=120.0, help="requests a second, in all")
    parser.add_argument("--minutes", type=int, default=30)
    parser.add_argument("--clients", type=int, default=8, help="connections of the load")
    parser.add_argument("--load-processes", type=int, default=2, help="processes of the load")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=8, help="threads of each worker")
    parser.add_argument("--waiting", type=int, default=300, help="cases queued before the load")
    parser.add_argument(
        "--prefill",
        type=int,
        default=0,
        help="cases opened before the load (through the application): a short run meets the "
        "case list of a long one (30 opens a second for 22 minutes make 40,000)",
    )
    parser.add_argument(
        "--vacuum-every",
        type=float,
        default=None,
        help="seconds between the bench's own VACUUM (ANALYZE) of its database, standing in for "
        "autovacuum (default: a minute if the server's autovacuum is off, else never; 0: never)",
    )
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    # A minute of another length: for the smoke test, which cannot wait minutes.
    parser.add_argument("--minute-seconds", type=float, default=60.0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.minutes < 1 or args.rate <= 0 or args.clients < 1 or args.load_processes < 1:
        parser.error("--minutes, --rate, --clients and --load-processes must be positive")
    return run(args)


def run(args: argparse.Namespace) -> int:
    prefix = f"casemgmt-bench-soak-{os.getpid()}"
    with (
        scratch_database(args.database_url, "casemgmt_bench_soak") as url,
        tempfile.TemporaryDirectory(prefix="casemgmt-bench-soak-") as folder,
    ):
        logs = Path(folder)
        env = serve_environment(url, args.redis_url, prefix, logs / "data")
        postgres = postgres_settings(url)
        if args.vacuum_every is None:
            args.vacuum_every = 0.0 if postgres["autovacuum"] == "on" else args.minute_seconds
        describe(args, env, postgres)
        log = logs / "casemgmt.log"
        server = start_casemgmt(
            "casemgmt",
            env,
            workers=args.workers,
            threads=args.threads,
            server_worker="buffered",
            log=log,
        )
        try:
            wait_until_up(server, log)
            began = time.monotonic()
            workload = prepare(env, server.port, clients=args.clients, waiting=args.waiting)
            print(
                f"set up {args.clients} agents with {CASES_PER_AGENT} cases each and "
                f"{args.waiting} cases waiting in {workload.queue!r} in "
                f"{time.monotonic() - began:.0f} s"
            )
            if args.prefill:
                took = prefill(env, args.prefill)
                caught_up = wait_until_caught_up(server.port)
                print(
                    f"opened {args.prefill} cases before the load in {took:.0f} s; the "
                    f"projections caught up {caught_up:.0f} s later"
                )
            with StandInVacuum(url, args.vacuum_every) as vacuum:
                if vacuum.every:
                    print(f"vacuumed and analyzed before the load in {vacuum.before:.1f} s")
                print()
                rows, acknowledged = soak(args, server, workload, url)
            if vacuum.took:
                print(
                    f"\nvacuums during the load: {len(vacuum.took)}, the longest "
                    f"{max(vacuum.took):.1f} s"
                )
            return report(args, server, workload, rows, acknowledged)
        finally:
            stop(server)
            forget_keys(args.redis_url, prefix)


class Tally:
    """What the load processes report, by the minute in which each request was answered, and the
    writes acknowledged."""

    def __init__(self, results: Any, processes: int, minutes: int, length: float) -> None:
        self.results = results
        self.running = processes
        self.length = length
        self.minutes = [Minute() for _ in range(minutes)]
        self.acknowledged = Acknowledged()

    def until(self, moment: float | None = None) -> None:
        """Takes reports until the monotonic `moment`, or until every load process is done."""
        while self.running and (moment is None or time.monotonic() < moment):
            wait = 120.0 if moment is None else max(0.05, moment - time.monotonic())
            try:
                batch = self.results.get(timeout=wait)
            except queue.Empty:
                continue
            if batch is None:
                self.running -= 1
                continue
            for answered in batch:
                number = min(int(answered.done_at // self.length), len(self.minutes) - 1)
                self.minutes[number].add(answered)
                self.acknowledged.add(answered)


def forget_keys(redis_url: str, prefix: str) -> None:
    """Deletes what the server kept in Redis under the bench's prefix (its work queues)."""
    client = redis.Redis.from_url(redis_url)
    try:
        for key in client.scan_iter(match=f"{{{prefix}:*"):
            client.unlink(key)
    finally:
        client.close()


def soak(
    args: argparse.Namespace, server: Target, workload: Workload, url: str
) -> tuple[list[Row], Acknowledged]:
    """Drives the server for `--minutes`, printing a row a minute; the rows and what was
    acknowledged."""
    assert server.process is not None
    length = args.minute_seconds
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    began = time.monotonic() + 1.0  # the load processes are up by then
    groups = [
        list(range(args.clients))[n :: args.load_processes] for n in range(args.load_processes)
    ]
    processes = [
        context.Process(
            target=load_process,
            args=(server.port, workload, group),
            kwargs={
                "rate": args.rate,
                "total_clients": args.clients,
                "began": began,
                "seconds": args.minutes * length,
                "results": results,
            },
            daemon=True,
        )
        for group in groups
        if group
    ]
    for process in processes:
        process.start()
    tally = Tally(results, len(processes), args.minutes, length)
    rows: list[Row] = []
    print(HEADER, flush=True)
    meter = CpuMeter(server.process.pid, url)
    try:
        tally.until(began)
        meter.lap()
        for number in range(1, args.minutes + 1):
            tally.until(began + number * length)
            server_cpu, database_cpu = meter.lap()
            tally.until(began + number * length + FLUSH_EVERY + 0.5)  # its last reports
            minute = tally.minutes[number - 1]
            opened = sum(m.opened for m in tally.minutes[:number])
            rows.append(
                Row(
                    number,
                    minute.requests,
                    minute.requests / length,
                    minute.percentile(0.5),
                    minute.percentile(0.99),
                    minute.errors,
                    server_rss(server.process.pid),
                    projections_behind(server.port),
                    len(workload.readable) + args.prefill + opened,
                    1000 * server_cpu / max(1, minute.requests),
                    None if database_cpu is None else 1000 * database_cpu / max(1, minute.requests),
                )
            )
            print(rows[-1], flush=True)
    finally:
        meter.close()
    tally.until()
    for process in processes:
        process.join()
    print_kinds(tally.minutes)
    return rows, tally.acknowledged


def print_kinds(minutes: list[Minute]) -> None:
    """p50 and p99 of each kind in the first and the last minute, and its statuses over the run."""
    first, last = minutes[0], minutes[-1]
    print(f"\n{'kind':<7} {'first minute p50/p99 ms':>24} {'last minute p50/p99 ms':>24}  statuses")
    for kind in MIX:
        statuses: Counter[int] = Counter()
        for minute in minutes:
            for (k, status), n in minute.statuses.items():
                if k == kind:
                    statuses[status] += n
        cells = [
            f"{m.percentile(0.5, kind) * 1000:.1f} / {m.percentile(0.99, kind) * 1000:.1f}"
            for m in (first, last)
        ]
        counts = ", ".join(f"{n}×{s or 'no answer'}" for s, n in sorted(statuses.items()))
        print(f"{kind:<7} {cells[0]:>24} {cells[1]:>24}  {counts}")


def report(
    args: argparse.Namespace,
    server: Target,
    workload: Workload,
    rows: list[Row],
    acknowledged: Acknowledged,
) -> int:
    """Checks for loss, prints the targets; 1 if one is missed and `--check` was given."""
    caught_up = wait_until_caught_up(server.port)
    read = http_reader(server.port, workload.supervisor)
    started = time.monotonic()
    lost = lost_writes(read, acknowledged)
    status, listed = read(f"{API}/cases?per_page=1")
    assert status == 200, listed
    expected = len(workload.readable) + args.prefill + len(acknowledged.opens)
    counted = list_count_lost(listed["total"], expected, acknowledged.unanswered_opens)
    lost += [counted] if counted else []
    notes = sum(len(texts) for texts in acknowledged.notes.values())
    print(
        f"\nafterwards: projections caught up in {caught_up:.1f} s; read back "
        f"{len(acknowledged.opens)} acknowledged opens and {notes} acknowledged notes on "
        f"{len(acknowledged.notes)} cases in {time.monotonic() - started:.0f} s; the case list "
        f"counts {listed['total']} ({expected} acknowledged, with the set-up's and the prefill)"
    )
    for line in lost[:20]:
        print(f"  LOST: {line}")

    first, last = rows[0], rows[-1]
    baseline = rows[1] if len(rows) > 1 else rows[0]
    growth = last.p99 / first.p99
    held = last.rate / args.rate
    memory = last.rss / baseline.rss
    errors = sum(row.errors for row in rows)
    checks = [
        (
            f"p99, last minute / first: {last.p99 * 1000:.1f} / {first.p99 * 1000:.1f} ms "
            f"= {growth:.2f}",
            f"≤ {TARGET_P99_GROWTH:g}",
            growth <= TARGET_P99_GROWTH,
        ),
        (
            f"throughput held, last minute: {last.rate:.1f} req/s = {held:.1%} of {args.rate:g}",
            f"≥ {TARGET_RATE_HELD:.0%}",
            held >= TARGET_RATE_HELD,
        ),
        (
            f"memory, last minute / minute {baseline.minute}: {last.rss / 2**20:.0f} / "
            f"{baseline.rss / 2**20:.0f} MiB = {memory:.2f}",
            f"≤ {TARGET_MEMORY_GROWTH:.2f}",
            memory <= TARGET_MEMORY_GROWTH,
        ),
        (f"acknowledged writes lost: {len(lost)}", "0", not lost),
    ]
    print()
    for label, target, met in checks:
        print(f"{label:<64} target {target:<6} {'met' if met else 'NOT MET'}")
    print(f"errors (not 2xx, 409 or 412, or no answer): {errors}")
    missed = [label for label, _, met in checks if not met]
    print("\n" + ("all targets met" if not missed else f"{len(missed)} target(s) NOT met"))
    return 1 if missed and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
