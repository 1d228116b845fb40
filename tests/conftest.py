"""What applies to every tier: the rule that a skip fails a CI run, and the server fixtures.

The fixtures of `tests.support.servers` are registered here, once for the whole session, but are
used only by `tests/integration` and `tests/e2e` (whose conftests ask for `servers` in every test);
`tests/unit` runs without any server and refuses them (tests/unit/conftest.py).
"""

from __future__ import annotations

# Some test modules import the database helpers from here (their home is tests.support.databases).
from tests.support.databases import database_url_for, scratch_database

pytest_plugins = ("tests.support.servers", "tests.support.ci_skips")

__all__ = ["database_url_for", "scratch_database"]
