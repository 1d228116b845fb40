"""How old an intake may be is the centre's to set: `CASEMGMT_OLDEST_INTAKE_DAYS`."""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from casemgmt.bootstrap import build
from casemgmt.domain import Actor, Channel, Context, InvalidCommand, Requester, RequesterKind, Role
from casemgmt.settings import Settings, SettingsError

if TYPE_CHECKING:
    from casemgmt.bootstrap import Container

INTAKE = Actor("post-scanning", Role.INTAKE)


def open_letter(container: Container, received_at: datetime) -> None:
    container.care_centre.open_case(
        channel=Channel.POST,
        subject="Đơn đề nghị cấp lại thẻ BHYT",
        requester=Requester(RequesterKind.CITIZEN, None, "Phạm Văn D"),
        received_at=received_at,
        ctx=Context(INTAKE, datetime.now(UTC), f"test-{time.monotonic_ns()}", "api"),
    )


def test_a_letter_older_than_the_configured_limit_is_refused_naming_the_limit(
    app_settings: Settings,
) -> None:
    limited = build(dataclasses.replace(app_settings, oldest_intake_days=30))
    try:
        now = datetime.now(UTC)
        open_letter(limited, now - timedelta(days=29))  # within the limit: taken

        with pytest.raises(InvalidCommand) as refused:
            open_letter(limited, now - timedelta(days=31))

        oldest = (now - timedelta(days=30)).date().isoformat()
        assert refused.value.field == "received_at"
        assert refused.value.message == f"is implausibly old: must be after {oldest}"
    finally:
        limited.close()


def test_the_limit_is_read_from_the_environment_and_must_be_a_whole_number() -> None:
    assert Settings.from_env({"CASEMGMT_OLDEST_INTAKE_DAYS": "90"}).oldest_intake_days == 90
    assert Settings.from_env({}).oldest_intake_days == 3653
    with pytest.raises(SettingsError, match="CASEMGMT_OLDEST_INTAKE_DAYS"):
        Settings.from_env({"CASEMGMT_OLDEST_INTAKE_DAYS": "a month"})
