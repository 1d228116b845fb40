"""The integration tier: every test runs against real PostgreSQL and Redis (support/servers.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from casemgmt.settings import Settings


@pytest.fixture(scope="session", autouse=True)
def servers_for_every_test(servers: Settings) -> Settings:
    """The servers are up, and CASEMGMT_* name them, before the first test of the tier: the casemgmt
    processes the tests start find them in their environment."""
    return servers
