"""The rate limits read from the environment: generous by default, `off`, or refused in one line."""

from __future__ import annotations

import pytest

from casemgmt.settings import (
    DEFAULT_AUTH_FAILURE_LIMIT,
    DEFAULT_RATE_LIMIT,
    Settings,
    SettingsError,
)


def test_the_environment_limits_requests_and_failed_authentications_by_default() -> None:
    settings = Settings.from_env({})
    assert settings.rate_limit == DEFAULT_RATE_LIMIT == "50/second;1500/minute"
    assert settings.auth_failure_limit == DEFAULT_AUTH_FAILURE_LIMIT


def test_a_limit_can_be_set_or_turned_off() -> None:
    settings = Settings.from_env(
        {"CASEMGMT_RATE_LIMIT": "5/second", "CASEMGMT_AUTH_FAILURE_LIMIT": "off"}
    )
    assert (settings.rate_limit, settings.auth_failure_limit) == ("5/second", None)


def test_a_limit_that_is_not_one_is_refused_naming_the_variable() -> None:
    with pytest.raises(SettingsError, match="CASEMGMT_RATE_LIMIT='fast' is not a rate limit"):
        Settings.from_env({"CASEMGMT_RATE_LIMIT": "fast"})
