"""`bench/api.py` counts database round trips, not estimates them: its proxy counts every message
that makes the server answer, whichever code sent it."""

from __future__ import annotations

import importlib.util
import sys
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg2

if TYPE_CHECKING:
    from casemgmt.settings import Settings

BENCH = Path(__file__).resolve().parents[2] / "bench" / "api.py"


def _bench() -> Any:
    spec = importlib.util.spec_from_file_location("bench_api", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_the_api_bench_counts_each_query_and_each_begin_and_commit_as_a_round_trip(
    servers: Settings,
) -> None:
    assert servers.database_url is not None
    proxy, through = _bench().CountingProxy.in_front_of(servers.database_url)
    try:
        with closing(psycopg2.connect(through)) as conn:
            at_start = proxy.round_trips
            conn.autocommit = True
            with conn.cursor() as cursor:
                cursor.execute("SELECT 1")
                cursor.execute("SELECT 1; SELECT 2")  # one simple query message, one answer
            assert proxy.round_trips - at_start == 2
            conn.autocommit = False
            with conn.cursor() as cursor:
                cursor.execute("SELECT 3")  # psycopg2 sends BEGIN first, on its own
            conn.commit()
            assert proxy.round_trips - at_start == 5
        assert proxy.connections == 1
    finally:
        proxy.close()
