"""Test-wide wiring: real PostgreSQL and Redis, embedded when no URL is given.

With CASEMGMT_DATABASE_URL / CASEMGMT_REDIS_URL set, tests use those servers; otherwise they start
casemgmt's embedded servers (the same code path as `casemgmt serve` on a bare machine). Under CI a
skipped test counts as a failure, so no database test can silently stop running.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from casemgmt.embedded import ensure_servers
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
