"""Shared ground for the projection and work-queue tests (no tests of its own).

Each test gets a database of its own (migrated like production) and a Redis key prefix of its own,
so event counts, positions and queues are the test's alone, and leaves nothing behind.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import uuid4

import redis

from casemgmt.bootstrap import build
from casemgmt.domain import Actor, Context, Role
from casemgmt.readmodels.work_queue_layout import QueueKeys
from tests.conftest import scratch_database

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from casemgmt.application import Claims
    from casemgmt.bootstrap import Container
    from casemgmt.queries import QueueItem, TakenCase, WorkQueues
    from casemgmt.runtime import Projections
    from casemgmt.settings import Settings

_databases = itertools.count(1)
# Agents with accounts in every fresh setup: the scenarios assign cases to them by name.
AGENTS = ("lan.nguyen", "binh.le", "mai.tran")


@dataclasses.dataclass
class Setup:
    """A migrated database of the test's own, casemgmt wired to it, and a Redis key prefix."""

    container: Container
    projections: Projections
    queues: WorkQueues
    key_prefix: str

    @property
    def claims(self) -> Claims[TakenCase]:
        return self.container.claims

    @property
    def database_url(self) -> str:
        url = self.container.settings.database_url
        assert url is not None
        return url

    @property
    def redis_url(self) -> str:
        url = self.container.settings.redis_url
        assert url is not None
        return url


@contextmanager
def fresh_setup(servers: Settings, *, redis_db: int | None = None) -> Iterator[Setup]:
    """A new database and key prefix, dropped and deleted when the block ends; the `AGENTS` have
    accounts in it."""
    assert servers.database_url is not None and servers.redis_url is not None
    name = f"casemgmt_projection_{os.getpid()}_{next(_databases)}"
    redis_url = (
        servers.redis_url if redis_db is None else with_redis_db(servers.redis_url, redis_db)
    )
    with scratch_database(servers.database_url, name) as url:
        settings = dataclasses.replace(
            servers,
            database_url=url,
            redis_url=redis_url,
            redis_key_prefix=f"test-{uuid4().hex[:10]}",
        )
        container = build(settings)
        for agent in AGENTS:  # whom the scenarios give cases to: `assign` names accounts
            container.accounts.add(agent, Role.AGENT)
        prefix = container.work_queues.keys.prefix
        try:
            yield Setup(
                container=container,
                projections=container.projections,
                queues=container.work_queues,
                key_prefix=prefix,
            )
        finally:
            for key in container.redis.scan_iter(match=f"{{{prefix}}}*"):
                container.redis.unlink(key)
            container.close()


def with_redis_db(url: str, db: int) -> str:
    """The same Redis server, another of its numbered databases."""
    if url.startswith("unix://"):
        return f"{url.split('?', 1)[0]}?db={db}"
    base = url.split("?", 1)[0].rstrip("/")
    scheme, _, rest = base.partition("://")
    host = rest.split("/", 1)[0]
    return f"{scheme}://{host}/{db}"


def agent_context(agent: str) -> Context:
    """A claim's context: the agent, now, a request of its own."""
    return Context(Actor(agent, Role.AGENT), datetime.now(UTC), str(uuid.uuid4()), "api")


def summary_rows(setup: Setup) -> list[tuple[Any, ...]]:
    """Every row of the case list, every column, in case id order."""
    return setup.container.datastore.execute("SELECT * FROM case_summaries ORDER BY case_id")


def audit_rows(setup: Setup) -> list[tuple[Any, ...]]:
    """Every row of the action log and every case it keeps, every column, in a fixed order."""
    execute = setup.container.datastore.execute
    return [
        *execute("SELECT * FROM audit_events ORDER BY notification_id"),
        *execute("SELECT case_id, state FROM audit_case_states ORDER BY case_id"),
    ]


def queue_snapshot(setup: Setup) -> dict[str, list[QueueItem]]:
    """Every queue's work list in order, without the ages (which grow with the clock)."""
    return {
        name: [
            dataclasses.replace(item, waiting_seconds=0.0)
            for item in setup.queues.queue_items(name, 1_000_000)
        ]
        for name in setup.queues.queue_names()
    }


def queue_states(setup: Setup) -> dict[bytes, bytes]:
    """The per-case state the work queues keep in the live generation."""
    client: redis.Redis[bytes] = setup.container.redis
    keys = QueueKeys(setup.key_prefix)
    generation = int(client.get(keys.generation) or 0)
    return client.hgetall(keys.of(generation).cases)


class WorkerProcess:
    """`casemgmt worker` on the test's database and key prefix, running the projections only.

    Not the SLA timer: at its first start it gives the open cases their clocks (events of its own),
    which would race a test that compares the views with the event store once they caught up.
    """

    def __init__(self, setup: Setup, *, batch_size: int = 100) -> None:
        self.setup = setup
        self.batch_size = batch_size
        self.log = Path(tempfile.mkstemp(prefix="casemgmt-worker-", suffix=".log")[1])
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        env = {
            **os.environ,
            "CASEMGMT_DATABASE_URL": self.setup.database_url,
            "CASEMGMT_REDIS_URL": self.setup.redis_url,
            "CASEMGMT_REDIS_PREFIX": self.setup.container.settings.redis_key_prefix,
        }
        command = [
            sys.executable,
            "-m",
            "casemgmt.cli",
            "worker",
            "--batch-size",
            str(self.batch_size),
            *(f"--only={name}" for name in self.setup.projections.names),
        ]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(command, env=env, stdout=log, stderr=log)
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind, as when the machine or the OOM killer ends it."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def close(self) -> None:
        self.stop()
        with suppress(OSError):
            self.log.unlink()


def wait_for(condition: Callable[[], bool], timeout: float, interval: float = 0.02) -> float:
    """Seconds until `condition()` held; AssertionError after `timeout`."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not within {timeout}s")
        time.sleep(interval)
    return time.monotonic() - started


def worker_with_policy(setup: Setup, policy: Path) -> subprocess.Popen[bytes]:
    """`casemgmt worker` (projections and the SLA timer) on the setup, under the policy file."""
    env = {
        **os.environ,
        "CASEMGMT_DATABASE_URL": setup.database_url,
        "CASEMGMT_REDIS_URL": setup.redis_url,
        "CASEMGMT_REDIS_PREFIX": setup.container.settings.redis_key_prefix,
        "CASEMGMT_SLA_POLICY": str(policy),
    }
    command = [sys.executable, "-m", "casemgmt.cli", "worker"]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
