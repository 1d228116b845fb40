"""The unit tier runs without servers: a unit test that reaches for one fails (unit/conftest.py)."""

from __future__ import annotations

import socket
from contextlib import suppress
from typing import TYPE_CHECKING

import pytest
import redis

from casemgmt.persistence.datastore import ConnectionPool

if TYPE_CHECKING:
    from pathlib import Path

# Where the machine's servers usually answer: the guard must refuse even where something listens.
POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
REDIS = "redis://127.0.0.1:6379/0"


def test_a_unit_test_that_reaches_for_redis_fails() -> None:
    with pytest.raises(pytest.fail.Exception, match="unit tests run without servers"):
        redis.Redis.from_url(REDIS).ping()


def test_a_unit_test_that_reaches_for_postgresql_fails() -> None:
    with pytest.raises(pytest.fail.Exception, match="connected to PostgreSQL"):
        ConnectionPool(POSTGRES, size=1).connect()


def test_a_unit_test_that_reaches_for_a_unix_socket_fails(tmp_path: Path) -> None:
    # The embedded servers listen on unix sockets only.
    with (
        socket.socket(socket.AF_UNIX) as unix,
        pytest.raises(pytest.fail.Exception, match="unit tests run without servers"),
    ):
        unix.connect(str(tmp_path / "redis.sock"))


def test_code_that_swallows_connection_errors_does_not_swallow_the_refusal() -> None:
    def health() -> bool:
        with suppress(Exception):
            return bool(redis.Redis.from_url(REDIS).ping())
        return False

    with pytest.raises(pytest.fail.Exception):
        health()


def test_a_unit_test_cannot_ask_for_the_servers(request: pytest.FixtureRequest) -> None:
    with pytest.raises(pytest.fail.Exception, match="asked for the servers"):
        request.getfixturevalue("servers")
