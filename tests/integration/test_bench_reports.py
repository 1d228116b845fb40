"""`bench/reports.py` measures what it says: a projection's lag is the time until its position
covers the log's head, a lag that grows is seen growing, and the synthetic year it reads reports
from is the same in every run, mixed as its docstring says."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.support.projections import fresh_setup

if TYPE_CHECKING:
    from collections.abc import Callable

    from casemgmt.settings import Settings
    from tests.support.projections import Setup

BENCH = Path(__file__).resolve().parents[2] / "bench" / "reports.py"
CASES = 4000


@pytest.fixture(scope="module")
def bench() -> Any:
    spec = importlib.util.spec_from_file_location("bench_reports", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def load(bench: Any, head: Callable[[float], float], position: Callable[[float], float]) -> Any:
    """Ten seconds of writing sampled every 0.1 s, then samples until the projection caught up."""
    samples: list[Any] = []
    moment = 0.0
    while moment <= 10.0 or samples[-1].position < samples[-1].head:
        at = min(moment, 10.0)
        samples.append(bench.Sample(moment, int(head(at)), min(int(position(moment)), 1000)))
        moment = round(moment + 0.1, 1)
    return bench.KeepingUp(writers=1, seconds=10.0, cases=0, samples=samples)


def test_the_lag_of_a_head_is_the_time_until_a_position_covers_it(bench: Any) -> None:
    samples = [
        bench.Sample(0.0, 100, 100),
        bench.Sample(0.1, 110, 100),
        bench.Sample(0.2, 120, 110),
        bench.Sample(0.3, 130, 115),
        bench.Sample(0.4, 130, 130),
    ]
    keeping_up = bench.KeepingUp(writers=1, seconds=0.3, cases=0, samples=samples)

    assert keeping_up.lags() == [
        (0.0, 0.0),
        (0.1, pytest.approx(0.1)),
        (0.2, pytest.approx(0.2)),
        (0.3, pytest.approx(0.1)),
    ]
    assert keeping_up.projected_rate == pytest.approx(30 / 0.4)


def test_a_projection_that_falls_behind_is_seen_falling_behind(bench: Any) -> None:
    # 100 events a second are written; the one projection follows 50 ms behind, the other takes
    # only 50 a second, so that the lag of a head written at t is t.
    following = load(bench, lambda t: 100 * t, lambda t: 100 * (t - 0.05))
    falling_behind = load(bench, lambda t: 100 * t, lambda t: 50 * t)

    assert abs(following.growth()) < 0.01 <= bench.TARGET_LAG_GROWTH
    assert falling_behind.growth() == pytest.approx(1.0, abs=0.05)
    assert falling_behind.growth() > bench.TARGET_LAG_GROWTH


@pytest.fixture
def setup(servers: Settings) -> Any:
    with fresh_setup(servers) as made:
        yield made


def fingerprint(setup: Setup) -> str:
    rows = setup.container.datastore.execute(
        "SELECT md5(string_agg(r::text, ',' ORDER BY case_id)) FROM report_cases r"
    )
    return str(rows[0][0])


def test_the_synthetic_year_is_the_same_in_every_run(bench: Any, setup: Setup) -> None:
    bench.fill_report_cases(setup.database_url, CASES)
    first = fingerprint(setup)
    setup.container.datastore.execute("TRUNCATE report_cases")

    bench.fill_report_cases(setup.database_url, CASES)

    assert fingerprint(setup) == first


def test_the_synthetic_year_is_mixed_as_the_bench_says(bench: Any, setup: Setup) -> None:
    bench.fill_report_cases(setup.database_url, CASES)
    [(units, phone, satisfied, first_met)] = setup.container.datastore.execute(
        "SELECT count(DISTINCT unit), avg((channel = 'phone')::int),"
        " avg((feedback_score >= 4)::int),"
        " avg((first_response_outcome = 'met')::int) FILTER (WHERE first_response_outcome"
        " IS NOT NULL) FROM report_cases"
    )

    assert units == len(bench.PROVINCIAL_UNITS) == 64
    assert float(phone) == pytest.approx(0.38, abs=0.03)
    assert float(satisfied) == pytest.approx(0.85, abs=0.04)
    assert float(first_met) == pytest.approx(0.89, abs=0.04)
    assert bench.same_groups(setup.container)[1]


def test_the_analysis_reads_every_synthetic_case_of_its_period(bench: Any, setup: Setup) -> None:
    bench.fill_report_cases(setup.database_url, CASES)
    bench.fill_analysis_tables(setup.database_url, CASES)
    period = bench.report_period(3)
    [(received,)] = setup.container.datastore.execute(
        "SELECT count(*) FROM report_cases WHERE received_at >= %s AND received_at < %s",
        [period.start, period.end],
    )

    report = bench.analysis(setup.container.datastore, period, bench.load_policy(None))

    assert report["cases"] == received > 0
    assert report["repeat_contacts"]["cases"] > 0
    assert report["transfer_loops"]["cases"] > 0
