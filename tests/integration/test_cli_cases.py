"""`casemgmt case list|show|history`: cases found by id or by the reference agents quote."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from importlib import metadata
from typing import TYPE_CHECKING

import pytest

from casemgmt.cli.cases import as_of_moment
from casemgmt.domain import (
    Action,
    Actor,
    Channel,
    Context,
    InvalidCommand,
    Requester,
    RequesterKind,
    Role,
)
from tests.integration.test_cli import casemgmt, configured
from tests.support.projections import fresh_setup

if TYPE_CHECKING:
    from collections.abc import Iterator

    from casemgmt.domain import Case
    from casemgmt.settings import Settings
    from tests.support.projections import Setup

INTAKE = Actor("mail-gateway", Role.INTAKE)
SUPERVISOR = Actor("mai.tran", Role.SUPERVISOR)


def ctx(actor: Actor) -> Context:
    return Context(actor, datetime.now(UTC), f"test-{time.monotonic_ns()}", "api")


@pytest.fixture
def setup(servers: Settings) -> Iterator[Setup]:
    with fresh_setup(servers) as made:
        yield made


@pytest.fixture
def case(setup: Setup) -> Case:
    centre = setup.container.care_centre
    opened, _ = centre.open_case(
        channel=Channel.EMAIL,
        subject="Hỏi về sổ bảo hiểm xã hội",
        requester=Requester(RequesterKind.CITIZEN, None, "Lê Văn C"),
        ctx=ctx(INTAKE),
    )
    centre.act(opened.id, Action.NOTE, ctx(SUPERVISOR), text="Đã gọi lại.")
    with setup.projections.worker(["case_summaries"], lock_retry_seconds=0.1):
        assert setup.projections.wait_until_caught_up(names=["case_summaries"], timeout=30)
    return opened


def env_of(setup: Setup) -> dict[str, str]:
    return configured(setup.container.settings)


def test_case_list_shows_the_cases_with_their_references(setup: Setup, case: Case) -> None:
    listed = casemgmt("case", "list", "--status", "received", env=env_of(setup))

    assert listed.returncode == 0, listed.stderr
    header, row, count = listed.stdout.splitlines()
    assert header.split()[:3] == ["reference", "status", "priority"]
    assert row.split()[:2] == [case.reference, "received"]
    assert row.endswith("Hỏi về sổ bảo hiểm xã hội")
    assert count == "1 of 1 cases"
    none = casemgmt("case", "list", "--status", "closed", env=env_of(setup))
    assert none.stdout.splitlines()[-1] == "0 of 0 cases"


def test_a_case_is_shown_by_its_reference_as_by_its_id(setup: Setup, case: Case) -> None:
    by_reference = casemgmt("case", "show", case.reference, env=env_of(setup))
    by_id = casemgmt("case", "show", str(case.id), env=env_of(setup))

    assert by_reference.returncode == 0, by_reference.stderr
    shown = json.loads(by_reference.stdout)
    assert shown["id"] == str(case.id)
    assert shown["version"] == json.loads(by_id.stdout)["version"] > 1
    history = casemgmt("case", "history", case.reference, env=env_of(setup))
    assert history.returncode == 0, history.stderr
    assert "NoteAdded" in history.stdout


def test_case_show_version_shows_the_case_as_it_stood_then(setup: Setup, case: Case) -> None:
    first = casemgmt("case", "show", str(case.id), "--version", "1", env=env_of(setup))

    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["version"] == 1
    beyond = casemgmt("case", "show", str(case.id), "--version", "999", env=env_of(setup))
    assert beyond.returncode == 2
    assert "has no version 999" in beyond.stderr


def test_an_unknown_reference_says_what_a_case_is_named_by(setup: Setup) -> None:
    shown = casemgmt("case", "show", "CC-1999-000001", env=env_of(setup))

    assert shown.returncode == 2
    assert shown.stderr.strip() == (
        "casemgmt: error: no case has the id or reference 'CC-1999-000001' "
        "(an id is a UUID, a reference looks like CC-2026-000001)"
    )


def test_a_date_alone_for_as_of_gets_an_example_that_is_accepted(setup: Setup, case: Case) -> None:
    refused = casemgmt("case", "show", case.reference, "--as-of", "2026-12-01", env=env_of(setup))

    assert refused.returncode == 2
    assert "needs a time and a time zone, e.g. 2026-12-01T17:00:00+07:00" in refused.stderr
    suggested = refused.stderr.strip().rsplit("e.g. ", 1)[1]
    assert as_of_moment(suggested) == datetime.fromisoformat("2026-12-01T17:00:00+07:00")
    now = datetime.now(UTC).isoformat()
    shown = casemgmt("case", "show", case.reference, "--as-of", now, env=env_of(setup))
    assert shown.returncode == 0, shown.stderr


@pytest.mark.parametrize(
    ("raw", "hint"),
    [
        ("2026-12-01T10:00:00", "2026-12-01T10:00:00+07:00"),
        ("yesterday", "e.g. 2026-12-01T17:00:00+07:00"),
    ],
)
def test_as_of_moments_are_refused_with_a_usable_example(raw: str, hint: str) -> None:
    with pytest.raises(InvalidCommand) as refused:
        as_of_moment(raw)
    assert hint in str(refused.value)


def test_casemgmt_version_prints_the_installed_version() -> None:
    printed = casemgmt("--version", env={})

    assert printed.returncode == 0
    assert printed.stdout == f"casemgmt {metadata.version('casemgmt')}\n"
