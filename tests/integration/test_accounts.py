"""Accounts on PostgreSQL: whom a case may be given to, and a token's whole lifecycle."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from casemgmt.application import CASE_HOLDERS
from casemgmt.application.directory import AccountExists, AccountNotFound, Change, TokenRefused
from casemgmt.domain import Action, Actor, Channel, Context, InvalidCommand, Requester, Role
from casemgmt.domain.requests import RequesterKind
from casemgmt.persistence.accounts import Accounts, parse_lifetime
from tests.integration.test_cli import casemgmt, configured

if TYPE_CHECKING:
    from uuid import UUID

    from casemgmt.bootstrap import Container
    from casemgmt.settings import Settings

SUPERVISOR = Actor("mai.tran", Role.SUPERVISOR)
CITIZEN = Requester(RequesterKind.CITIZEN, "0123456789", "Nguyễn Văn A", "a@example.vn")


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def ctx(actor: Actor = SUPERVISOR) -> Context:
    return Context(actor, datetime.now(UTC), str(uuid.uuid4()), "api")


def new_case(container: Container) -> UUID:
    case, _ = container.care_centre.open_case(
        channel=Channel.EMAIL,
        subject="Hỏi về sổ BHXH",
        requester=CITIZEN,
        ctx=ctx(Actor("mail-gateway", Role.INTAKE)),
    )
    return case.id


# -- whom a case may be given to ---------------------------------------------------------------


def test_assign_names_an_existing_enabled_account_that_may_hold_cases(
    container: Container,
) -> None:
    agent = unique("agent")
    container.accounts.add(agent, Role.AGENT)
    case_id = new_case(container)

    assigned = container.care_centre.act(case_id, Action.ASSIGN, ctx(), agent=agent)

    assert assigned.assignee == agent


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        ("ghost", "no account is named"),
        ("auditor", "is an auditor account, which cannot hold cases"),
        ("intake", "is an intake account, which cannot hold cases"),
        ("disabled", "is disabled"),
    ],
)
def test_assign_to_a_ghost_an_auditor_or_a_disabled_account_is_refused_naming_the_field(
    container: Container, make: str, reason: str
) -> None:
    name = unique(make)
    if make in ("auditor", "intake"):
        container.accounts.add(name, make)
    elif make == "disabled":
        container.accounts.add(name, Role.AGENT)
        container.accounts.disable(name)
    case_id = new_case(container)

    with pytest.raises(InvalidCommand) as refused:
        container.care_centre.act(case_id, Action.ASSIGN, ctx(), agent=name)

    assert refused.value.field == "agent"
    assert reason in refused.value.message
    assert len(container.care_centre.history(case_id)) == 3  # Received, two clocks: nothing saved


def test_the_roles_that_may_hold_cases_are_those_that_work_them() -> None:
    assert {role.value for role in CASE_HOLDERS} == {"agent", "supervisor", "admin"}


# -- the token lifecycle -----------------------------------------------------------------------


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def accounts(container: Container, clock: Clock) -> Accounts:
    """The session's accounts, read at a moment the test chooses."""
    return Accounts(container.datastore, clock)


def test_a_token_with_a_lifetime_works_until_it_expires_and_then_says_so(
    accounts: Accounts, clock: Clock
) -> None:
    name = unique("portal")
    account, token = accounts.add(name, Role.INTAKE, expires_in=timedelta(days=90))
    assert accounts.verify(token) == account
    assert accounts.get(name).expires_at == clock.now + timedelta(days=90)

    clock.now += timedelta(days=90)

    with pytest.raises(TokenRefused, match="expired at 2027-02-22"):
        accounts.verify(token)
    assert accounts.authenticate(token) is None
    assert accounts.get(name).state_at(clock.now) == "expired"


def test_a_disabled_account_is_refused_on_its_next_request_and_enabled_works_again(
    accounts: Accounts,
) -> None:
    name = unique("agent")
    _, token = accounts.add(name, Role.AGENT)
    accounts.verify(token)

    _, changed = accounts.disable(name, by="admin-1")
    with pytest.raises(TokenRefused, match="disabled"):
        accounts.verify(token)
    _, again = accounts.disable(name, by="admin-1")
    accounts.enable(name, by="admin-2")

    assert (changed, again) == (True, False)
    assert accounts.verify(token).name == name
    assert [(c.change, c.changed_by) for c in accounts.changes(name)] == [
        (Change.CREATED, "cli"),
        (Change.DISABLED, "admin-1"),  # the second disable changed nothing: not recorded
        (Change.ENABLED, "admin-2"),
    ]


def test_a_rotated_token_replaces_the_old_one_at_once_with_the_same_lifetime(
    accounts: Accounts, clock: Clock
) -> None:
    name = unique("gateway")
    _, old = accounts.add(name, Role.INTAKE, expires_in=timedelta(days=30))
    clock.now += timedelta(days=20)

    record, new = accounts.rotate(name, by="admin-1")

    with pytest.raises(TokenRefused, match="unknown"):
        accounts.verify(old)
    assert accounts.verify(new).name == name
    assert record.expires_at == clock.now + timedelta(days=30)
    rotated = accounts.changes(name)[-1]
    assert (rotated.change, rotated.changed_by) == (Change.ROTATED, "admin-1")
    assert rotated.detail == "the token expires at 2027-01-13T08:00:00Z"


def test_last_used_is_written_at_most_once_a_minute(accounts: Accounts, clock: Clock) -> None:
    name = unique("agent")
    _, token = accounts.add(name, Role.AGENT)
    assert accounts.get(name).last_used_at is None
    first = clock.now

    accounts.verify(token)
    clock.now += timedelta(seconds=59)
    accounts.verify(token)  # within the minute: not written again
    assert accounts.get(name).last_used_at == first

    clock.now += timedelta(seconds=2)
    accounts.verify(token)
    assert accounts.get(name).last_used_at == clock.now


def test_account_names_are_unique_and_unknown_ones_are_named(accounts: Accounts) -> None:
    name = unique("agent")
    accounts.add(name, Role.AGENT)

    with pytest.raises(AccountExists):
        accounts.add(name, Role.SUPERVISOR)
    with pytest.raises(AccountNotFound, match="no account is named 'nobody-here'"):
        accounts.disable("nobody-here")


@pytest.mark.parametrize(("raw", "days"), [("90", 90), ("P90D", 90), ("p12w", 84)])
def test_a_lifetime_is_given_in_days_or_as_an_iso_duration(raw: str, days: int) -> None:
    assert parse_lifetime(raw) == timedelta(days=days)


# -- the command line --------------------------------------------------------------------------


def test_user_disable_enable_rotate_and_list_from_the_command_line(
    app_settings: Settings, container: Container
) -> None:
    env = configured(app_settings)
    name = unique("hoa.le")
    added = casemgmt("user", "add", name, "--role", "agent", "--expires-in", "P30D", env=env)
    assert added.returncode == 0, added.stderr
    token = added.stdout.strip().splitlines()[-1]

    disabled = casemgmt("user", "disable", name, env=env)
    assert disabled.returncode == 0, disabled.stderr
    assert container.accounts.authenticate(token) is None
    assert casemgmt("user", "enable", name, env=env).returncode == 0
    assert container.accounts.authenticate(token) is not None
    rotated = casemgmt("user", "rotate", name, env=env)
    assert rotated.returncode == 0, rotated.stderr
    new_token = rotated.stdout.strip().splitlines()[-1]
    assert container.accounts.authenticate(token) is None
    assert container.accounts.authenticate(new_token) is not None
    listed = casemgmt("user", "list", env=env)

    assert listed.returncode == 0, listed.stderr
    header, *rows = listed.stdout.splitlines()
    columns = ["name", "role", "state", "created", "last", "used", "expires", "disabled"]
    assert header.split() == columns
    (row,) = [row for row in rows if row.startswith(name + " ")]
    assert row.split()[1:3] == ["agent", "active"]
    changes = [
        (c.change.value, c.changed_by.startswith("cli")) for c in container.accounts.changes(name)
    ]
    assert changes == [
        ("created", True),
        ("disabled", True),
        ("enabled", True),
        ("rotated", True),
    ]
    unknown = casemgmt("user", "disable", "nobody-here", env=env)
    assert unknown.returncode == 2
    assert "no account is named 'nobody-here'" in unknown.stderr
