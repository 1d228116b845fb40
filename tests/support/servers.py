"""Real PostgreSQL and Redis for the integration and end-to-end tiers; embedded ones without URLs.

With CASEMGMT_DATABASE_URL / CASEMGMT_REDIS_URL set, tests use those servers; otherwise they start
casemgmt's embedded servers (the same code path as `casemgmt serve` on a bare machine).

The root conftest registers this module as a plugin, so each session-scoped fixture here exists
once per session: a fixture imported into two sibling conftests would be two fixtures, and would
start the servers and create the session's database twice. None of them is autouse;
`tests/integration` and `tests/e2e` ask for `servers` in every test, `tests/unit` refuses it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING
from uuid import uuid4

import pytest
import redis

from casemgmt.bootstrap import Container, build
from casemgmt.domain.routing import RoutingRules
from casemgmt.domain.taxonomy import Taxonomy
from casemgmt.embedded import ensure_servers
from casemgmt.settings import Settings
from tests.support.databases import scratch_database

if TYPE_CHECKING:
    from collections.abc import Iterator

    from casemgmt.domain.routing import Routable


@pytest.fixture(scope="session")
def servers() -> Iterator[Settings]:
    """The URLs of the PostgreSQL and Redis every integration test talks to."""
    with session_servers() as settings:
        yield settings


@contextmanager
def session_servers() -> Iterator[Settings]:
    """The servers of one test session: the environment's, or embedded ones in a data directory
    of the session's own, which is removed at the end with everything the servers kept in it."""
    settings = Settings.from_env()
    data_dir = Path(tempfile.mkdtemp(prefix="casemgmt-test-", dir="/tmp"))
    # A shared Redis may hold keys of other sessions (or of casemgmt itself): this session's
    # keys get a prefix of their own, also for the casemgmt processes the tests start.
    prefix = f"casemgmt-test-{os.getpid()}"
    settings = Settings(
        database_url=settings.database_url,
        redis_url=settings.redis_url,
        data_dir=data_dir,
        redis_key_prefix=prefix,
    )
    try:
        with ensure_servers(settings) as running:
            os.environ["CASEMGMT_DATABASE_URL"] = running.database_url
            os.environ["CASEMGMT_REDIS_URL"] = running.redis_url
            os.environ["CASEMGMT_REDIS_PREFIX"] = prefix
            yield running.settings(settings)
            client = redis.Redis.from_url(running.redis_url)
            for key in client.scan_iter(match=f"{{{prefix}:*"):
                client.unlink(key)
            client.close()
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def app_settings(servers: Settings) -> Iterator[Settings]:
    """Settings pointing at a database of this test session's own, migrated like production."""
    assert servers.database_url is not None
    with scratch_database(servers.database_url, f"casemgmt_test_{os.getpid()}") as url:
        yield replace(servers, database_url=url)


# Units tests make up to keep their cases apart: `queue-…` (each test's cases wait in a queue of
# their own under `OwnQueuePerUnit`) and `list-…` (the case list's).
OWN_QUEUE_PREFIX = "queue-"
MADE_UP_UNITS = (OWN_QUEUE_PREFIX, "list-")


@dataclass(frozen=True)
class UnitsOfTests(Taxonomy):
    """The default taxonomy, which also takes the units tests make up."""

    def check_unit(self, field: str, unit: str | None) -> str | None:
        if unit is not None and unit.startswith(MADE_UP_UNITS):
            return unit
        return super().check_unit(field, unit)


class OwnQueuePerUnit(RoutingRules):
    """The built-in routing, except that a case of a unit named `queue-…` waits in that queue.

    The tests share one database and one Redis; a queue of its own lets a test count, order and
    claim without meeting the cases of other tests.
    """

    def route(self, case: Routable) -> str:
        if case.unit is not None and case.unit.startswith(OWN_QUEUE_PREFIX):
            return case.unit
        return super().route(case)


def own_queue() -> str:
    """A new unit, and the name of the queue its triaged cases wait in under `OwnQueuePerUnit`."""
    return f"{OWN_QUEUE_PREFIX}{uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def container(app_settings: Settings) -> Iterator[Container]:
    """casemgmt wired as in production, on the session's migrated database (its taxonomy also
    taking the units tests make up)."""
    built = build(app_settings, taxonomy=UnitsOfTests())
    try:
        yield built
    finally:
        built.close()
