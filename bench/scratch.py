"""What the benches share: a scratch database of their own, casemgmt wired to it, and
`casemgmt worker` in a process of its own (as in service, where the projections and the timer
never share an interpreter with the commands they follow)."""

from __future__ import annotations

import argparse
import dataclasses
import os
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import AbstractContextManager, contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Final

from casemgmt.bootstrap import build
from casemgmt.persistence.locks import lock_holders
from casemgmt.runtime.sla_timer import SlaTimer
from casemgmt.settings import Settings
from tests.support import databases

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from casemgmt.bootstrap import Container


DEFAULT_DATABASE_URL: Final = "postgresql://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL: Final = "redis://127.0.0.1:6379/0"


def add_server_arguments(parser: argparse.ArgumentParser) -> None:
    """`--database-url` and `--redis-url`: the servers a bench makes its scratch data on."""
    parser.add_argument(
        "--database-url", default=os.environ.get("CASEMGMT_DATABASE_URL") or DEFAULT_DATABASE_URL
    )
    parser.add_argument(
        "--redis-url", default=os.environ.get("CASEMGMT_REDIS_URL") or DEFAULT_REDIS_URL
    )


def scratch_database(server_url: str, prefix: str) -> AbstractContextManager[str]:
    """A new, migrated database named `{prefix}_{pid}` on the server, dropped at the end."""
    return databases.scratch_database(server_url, f"{prefix}_{os.getpid()}")


def serve_environment(
    database_url: str, redis_url: str, prefix: str, data_dir: Path
) -> dict[str, str]:
    """The environment of a `casemgmt serve` under load from this machine: rate limits off (every
    request of the load comes from 127.0.0.1)."""
    return {
        **os.environ,
        "CASEMGMT_DATABASE_URL": database_url,
        "CASEMGMT_REDIS_URL": redis_url,
        "CASEMGMT_REDIS_PREFIX": prefix,
        "CASEMGMT_DATA_DIR": str(data_dir),
        "CASEMGMT_RATE_LIMIT": "off",
    }


@contextmanager
def scratch_container(
    database_url: str,
    redis_url: str,
    *,
    policy_path: Path | None = None,
    pool_size: int | None = None,
) -> Iterator[Container]:
    """casemgmt wired to the database, with a Redis key prefix of its own (deleted at the end)."""
    settings = Settings(
        database_url=database_url,
        redis_url=redis_url,
        redis_key_prefix=f"bench-{uuid.uuid4().hex[:8]}",
        sla_policy_path=policy_path,
    )
    if pool_size is not None:
        settings = dataclasses.replace(settings, pool_size=pool_size)
    container = build(settings)
    try:
        yield container
    finally:
        prefix = container.work_queues.keys.prefix
        for key in container.redis.scan_iter(match=f"{{{prefix}}}*"):
            container.redis.unlink(key)
        container.close()


class WorkerProcess:
    """`casemgmt worker [--only=…]` on the container's database and Redis prefix."""

    def __init__(
        self,
        container: Container,
        *,
        only: Sequence[str] = (),
        policy_path: Path | None = None,
    ) -> None:
        settings = container.settings
        self.container = container
        self.only = list(only)
        handle, log_path = tempfile.mkstemp(prefix="casemgmt-bench-worker-", suffix=".log")
        os.close(handle)
        self.log = Path(log_path)
        # The worker is configured as the container is, not by what this shell has set.
        env = {
            **{
                name: value
                for name, value in os.environ.items()
                if not name.startswith("CASEMGMT_")
            },
            "CASEMGMT_DATABASE_URL": settings.database_url or "",
            "CASEMGMT_REDIS_URL": settings.redis_url or "",
            "CASEMGMT_REDIS_PREFIX": settings.redis_key_prefix,
        }
        policy_path = policy_path or settings.sla_policy_path
        if policy_path is not None:
            env["CASEMGMT_SLA_POLICY"] = str(policy_path)
        command = [sys.executable, "-m", "casemgmt.cli", "worker"]
        command += [f"--only={name}" for name in self.only]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(command, env=env, stdout=log, stderr=log)

    def wait_until_ready(self, timeout: float = 60.0, *, caught_up: bool = False) -> None:
        """Until it holds its projections' locks (and the timer's, running them all) and has
        recorded their positions; `caught_up`: and they are at the log's head."""
        projections = self.container.projections
        names = self.only or list(projections.names)
        deadline = time.monotonic() + timeout
        while not self._ready(names, caught_up=caught_up):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the worker did not start; its log ends:\n{self.tail()}")
            time.sleep(0.05)

    def _ready(self, names: list[str], *, caught_up: bool) -> bool:
        projections = self.container.projections
        if not set(names) <= set(projections.holders()):
            return False
        if any(projections[name].position() is None for name in names):
            return False
        if not self.only and not lock_holders(self.container.datastore, [SlaTimer.lock_name]):
            return False
        return not caught_up or projections.caught_up(names=names)

    def tail(self, characters: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-characters:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        with suppress(OSError):
            self.log.unlink()
