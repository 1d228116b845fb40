"""Under CI a skipped test fails the run, so no test (a database test least of all) silently stops.

CI counts as on when the variable holds anything but nothing, "0", "false", "no" or "off" (in any
case): CI services set `CI=true`, some `CI=<their name>` (Woodpecker), and `CI=0` or `CI=false`
lets someone reproduce a CI environment locally and still see skips as skips. It is read once, when
pytest starts.

A test is skipped at one of two moments, and both fail the run:

* at collection, when a test module calls `pytest.skip(..., allow_module_level=True)` or
  `pytest.importorskip`: the module is reported as a collection error, which (like every
  collection error) stops the run before any test runs;
* at setup or call: a `skip`/`skipif` marker (pytest evaluates them at setup), `pytest.skip()` in a
  fixture or test: the test is reported as failed (as an error when at setup).

An xfail is not a skip: the test ran, and failed as it was expected to.

The root conftest registers this module as a plugin; its tests load it with `-p`.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Generator, Mapping

_OFF = frozenset({"", "0", "false", "no", "off"})


def skips_fail(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether `environ` says this is a CI run, where skipping a test fails the run."""
    return environ.get("CI", "").strip().lower() not in _OFF


def pytest_configure(config: pytest.Config) -> None:
    if skips_fail():
        config.pluginmanager.register(SkipsFail(os.environ["CI"]), "casemgmt-ci-skips-fail")


class SkipsFail:
    """The rule, for one session (pytester runs sessions inside sessions: no module state)."""

    def __init__(self, ci: str) -> None:
        self.ci = ci

    def pytest_report_header(self) -> str:
        return f"CI={self.ci}: a skipped test fails the run (tests/support/ci_skips.py)"

    # Wrappers, so that the report has failed before any other plugin sees it, whatever the order
    # the plugins were registered in: the session counts it, the terminal shows it as an error.

    @pytest.hookimpl(wrapper=True)
    def pytest_collectreport(self, report: pytest.CollectReport) -> Generator[None]:
        if report.skipped:
            self._count_as_failed(report)
        return (yield)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        if report.skipped and not hasattr(report, "wasxfail"):
            self._count_as_failed(report)
        return report

    def _count_as_failed(self, report: pytest.CollectReport | pytest.TestReport) -> None:
        longrepr = report.longrepr
        # A skip's longrepr is (path, line, "Skipped: reason").
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        report.outcome = "failed"
        report.longrepr = f"{reason}; under CI={self.ci} a skip fails the run"
