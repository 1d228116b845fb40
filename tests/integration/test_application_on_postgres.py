"""CareCentre's scenarios (tests/unit/test_application.py) on casemgmt's PostgreSQL store.

Each test gets a new database, migrated as production's is, so case ids and reference numbers start
again as the scenarios expect.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, ClassVar

import pytest

from casemgmt.bootstrap import application_env
from casemgmt.settings import Settings
from tests.support.databases import scratch_database
from tests.unit.test_application import CareCentreScenarios

if TYPE_CHECKING:
    from collections.abc import Iterator


class TestCareCentreOnPostgres(CareCentreScenarios):
    """The scenarios on casemgmt's PostgreSQL store, configured as production configures it."""

    env: ClassVar[dict[str, str]] = {
        "PERSISTENCE_MODULE": "casemgmt.persistence",
        "CREATE_TABLE": "no",  # migrations/ made the tables
    }

    @pytest.fixture
    def app_env(self, servers: Settings) -> Iterator[dict[str, str]]:
        """`env`, naming a new migrated database of the test's own."""
        assert servers.database_url is not None
        name = f"casemgmt_scenarios_{os.getpid()}"
        with scratch_database(servers.database_url, name) as url:
            yield {**self.env, "DATABASE_URL": url}

    def test_the_scenarios_use_the_store_as_production_configures_it(self) -> None:
        production = application_env(Settings(database_url="postgresql://postgres@db/casemgmt"))
        assert production.items() >= self.env.items()
