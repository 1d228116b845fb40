"""Test-wide wiring: real PostgreSQL and Redis, embedded when no URL is given.

With CASEMGMT_DATABASE_URL / CASEMGMT_REDIS_URL set, tests use those servers; otherwise they start
casemgmt's embedded servers (the same code path as `casemgmt serve` on a bare machine). Under CI a
skipped test counts as a failure, so no database test can silently stop running.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import pytest

from casemgmt.bootstrap import Container, build
from casemgmt.embedded import ensure_servers
from casemgmt.migrations import migrate
from casemgmt.settings import Settings

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture(scope="session", autouse=True)
def servers() -> Iterator[Settings]:
    """The URLs of the PostgreSQL and Redis every integration test talks to."""
    settings = Settings.from_env()
    data_dir = Path(tempfile.mkdtemp(prefix="casemgmt-test-", dir="/tmp"))
    settings = Settings(
        database_url=settings.database_url, redis_url=settings.redis_url, data_dir=data_dir
    )
    with ensure_servers(settings) as running:
        os.environ["CASEMGMT_DATABASE_URL"] = running.database_url
        os.environ["CASEMGMT_REDIS_URL"] = running.redis_url
        yield running.settings(settings)


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


@pytest.fixture(scope="session")
def app_settings(servers: Settings) -> Iterator[Settings]:
    """Settings pointing at a database of this test session's own, migrated like production."""
    assert servers.database_url is not None
    name = f"casemgmt_test_{os.getpid()}"
    admin = psycopg2.connect(servers.database_url)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        cursor.execute(f"CREATE DATABASE {name}")
    url = database_url_for(servers.database_url, name)
    migrate(url)
    try:
        yield replace(servers, database_url=url)
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()


@pytest.fixture(scope="session")
def container(app_settings: Settings) -> Iterator[Container]:
    """casemgmt wired as in production, on the session's migrated database."""
    built = build(app_settings)
    try:
        yield built
    finally:
        built.close()
