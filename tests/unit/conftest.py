"""The unit tier runs without servers: a test that reaches for one fails, saying what it reached.

Two doors are guarded for every unit test: Python's socket module (redis-py, HTTP clients,
asyncio; TCP and unix sockets alike, so the embedded servers too) and `psycopg2.connect`, because
libpq opens its sockets in C, out of the socket module's sight. The refusal is `pytest.fail`, which
the code under test cannot swallow with `except Exception`. Without the guard a unit test that
connects would still pass wherever servers answer, as on a developer's machine or in CI's second
run.
"""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING, NoReturn

import psycopg2
import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

    from casemgmt.settings import Settings

SERVERLESS = "unit tests run without servers; a test that needs one belongs in tests/integration"


def _refuse_socket(sock: socket.socket, address: object) -> NoReturn:
    pytest.fail(f"a unit test opened a connection to {address!r}: {SERVERLESS}", pytrace=False)


def _refuse_database(*args: object, **kwargs: object) -> NoReturn:
    target = args[0] if args else kwargs.get("dsn") or kwargs
    pytest.fail(f"a unit test connected to PostgreSQL ({target!r}): {SERVERLESS}", pytrace=False)


@pytest.fixture(scope="package", autouse=True)
def no_servers() -> Iterator[None]:
    """Refuses connections from the first unit test to the last (package scope: module-scoped
    fixtures of unit tests are covered too)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", _refuse_socket)
        patch.setattr(socket.socket, "connect_ex", _refuse_socket)
        patch.setattr(psycopg2, "connect", _refuse_database)
        yield


@pytest.fixture(scope="session")
def servers() -> Settings:
    """Stands in for tests.support.servers' fixture (and so for `app_settings` and `container`)."""
    pytest.fail(f"a unit test asked for the servers: {SERVERLESS}", pytrace=False)
