"""Under CI a skip fails the run, at whatever moment it happens (tests/support/ci_skips.py).

Each scenario runs a small test module in an inner pytest session with the rule's plugin loaded,
beside a module whose one test passes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.support.ci_skips import skips_fail

if TYPE_CHECKING:
    from pytest import Pytester, RunResult

pytest_plugins = ["pytester"]

PLUGIN = "tests.support.ci_skips"

MODULES_THAT_SKIP = {
    "module-level skip": 'pytest.skip("no browser here", allow_module_level=True)\n',
    "importorskip": 'pytest.importorskip("casemgmt_no_such_module")\n',
}
# name: (a test that skips, what its skip becomes under CI)
TESTS_THAT_SKIP = {
    "skip marker": ('@pytest.mark.skip(reason="later")\ndef test_skipped(): pass\n', "errors"),
    "skipif marker": (
        '@pytest.mark.skipif(True, reason="no server")\ndef test_skipped(): pass\n',
        "errors",  # markers are evaluated at setup: an error at setup
    ),
    "skip in a fixture": (
        '@pytest.fixture\ndef server(): pytest.skip("no server")\ndef test_skipped(server): pass\n',
        "errors",
    ),
    "skip in the test": ('def test_skipped(): pytest.skip("no server")\n', "failed"),
}
EVERY_SKIP = {**MODULES_THAT_SKIP, **{name: body for name, (body, _) in TESTS_THAT_SKIP.items()}}


def run_beside_a_passing_test(pytester: Pytester, body: str) -> RunResult:
    pytester.makepyfile(
        test_inner=f"import pytest\n\n{body}",
        test_passing="def test_that_passes():\n    pass\n",
    )
    return pytester.runpytest("-p", PLUGIN)


@pytest.fixture
def under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")


@pytest.mark.usefixtures("under_ci")
@pytest.mark.parametrize("body", MODULES_THAT_SKIP.values(), ids=MODULES_THAT_SKIP.keys())
def test_under_ci_a_module_that_skips_is_a_collection_error(pytester: Pytester, body: str) -> None:
    result = run_beside_a_passing_test(pytester, body)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["ERROR test_inner.py - *under CI=true a skip fails the run"])


@pytest.mark.usefixtures("under_ci")
@pytest.mark.parametrize(("body", "becomes"), TESTS_THAT_SKIP.values(), ids=TESTS_THAT_SKIP.keys())
def test_under_ci_a_test_that_skips_fails(pytester: Pytester, body: str, becomes: str) -> None:
    result = run_beside_a_passing_test(pytester, body)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=1, **{becomes: 1})
    result.stdout.fnmatch_lines(["*test_skipped*under CI=true a skip fails the run"])


@pytest.mark.parametrize("body", EVERY_SKIP.values(), ids=EVERY_SKIP.keys())
def test_outside_ci_a_skip_is_only_a_skip(
    pytester: Pytester, monkeypatch: pytest.MonkeyPatch, body: str
) -> None:
    monkeypatch.delenv("CI", raising=False)
    result = run_beside_a_passing_test(pytester, body)
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=1, skipped=1)


@pytest.mark.usefixtures("under_ci")
def test_under_ci_a_run_without_skips_passes(pytester: Pytester) -> None:
    result = run_beside_a_passing_test(pytester, "def test_that_also_passes():\n    pass\n")
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=2)


@pytest.mark.usefixtures("under_ci")
def test_under_ci_an_expected_failure_is_not_a_skip(pytester: Pytester) -> None:
    body = "@pytest.mark.xfail(strict=True)\ndef test_xfails():\n    assert 0\n"
    result = run_beside_a_passing_test(pytester, body)
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=1, xfailed=1)


@pytest.mark.parametrize("value", ["true", "1", "yes", "woodpecker", "True"])
def test_any_ci_value_turns_the_rule_on(value: str) -> None:
    assert skips_fail({"CI": value})


@pytest.mark.parametrize("value", ["", " ", "0", "false", "FALSE", "no", "off"])
def test_an_empty_or_negative_ci_value_leaves_it_off(value: str) -> None:
    assert not skips_fail({"CI": value})


def test_without_ci_the_rule_is_off() -> None:
    assert not skips_fail({})
