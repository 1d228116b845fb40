"""Test-wide wiring: real PostgreSQL and Redis, embedded when no URL is given.

With CASEMGMT_DATABASE_URL / CASEMGMT_REDIS_URL set, tests use those servers; otherwise they start
casemgmt's embedded servers (the same code path as `casemgmt serve` on a bare machine). Under CI a
skipped test counts as a failure, so no database test can silently stop running.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import pytest
import redis

from casemgmt.bootstrap import Container, build
from casemgmt.embedded import ensure_servers
from casemgmt.persistence.migrations import migrate
from casemgmt.settings import Settings

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture(scope="session", autouse=True)
def servers() -> Iterator[Settings]:
    """The URLs of the PostgreSQL and Redis every integration test talks to."""
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
    with ensure_servers(settings) as running:
        os.environ["CASEMGMT_DATABASE_URL"] = running.database_url
        os.environ["CASEMGMT_REDIS_URL"] = running.redis_url
        os.environ["CASEMGMT_REDIS_PREFIX"] = prefix
        yield running.settings(settings)
        client = redis.Redis.from_url(running.redis_url)
        for key in client.scan_iter(match=f"{{{prefix}:*"):
            client.unlink(key)
        client.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if os.environ.get("CI") == "true" and report.skipped:
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, which is not allowed: {report.longrepr}"


def database_url_for(url: str, database: str) -> str:
    """The same server's URL, naming another database."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


@contextmanager
def scratch_database(server_url: str, name: str, *, migrated: bool = True) -> Iterator[str]:
    """A new database on the server of `server_url`, dropped when the block ends: its URL."""
    admin = psycopg2.connect(server_url)
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            cursor.execute(f'CREATE DATABASE "{name}"')
        url = database_url_for(server_url, name)
        if migrated:
            migrate(url)
        yield url
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(scope="session")
def app_settings(servers: Settings) -> Iterator[Settings]:
    """Settings pointing at a database of this test session's own, migrated like production."""
    assert servers.database_url is not None
    with scratch_database(servers.database_url, f"casemgmt_test_{os.getpid()}") as url:
        yield replace(servers, database_url=url)


@pytest.fixture(scope="session")
def container(app_settings: Settings) -> Iterator[Container]:
    """casemgmt wired as in production, on the session's migrated database."""
    built = build(app_settings)
    try:
        yield built
    finally:
        built.close()
