"""The end-to-end tier: the API on the session's database and servers, with a caller per role."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

import pytest

from casemgmt.api import create_app
from casemgmt.api.context import EXTENSION
from casemgmt.api.presenters import case_view
from casemgmt.bootstrap import build
from casemgmt.domain import Role
from casemgmt.domain.routing import DEFAULT_ROUTING
from tests.support.servers import OwnQueuePerUnit, UnitsOfTests

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from flask import Flask
    from flask.testing import FlaskClient
    from werkzeug.test import TestResponse

    from casemgmt.bootstrap import Container
    from casemgmt.settings import Settings


@pytest.fixture(scope="session", autouse=True)
def servers_for_every_test(servers: Settings) -> Settings:
    """The servers are up, and CASEMGMT_* name them, before the first test of the tier: the casemgmt
    processes the tests start find them in their environment."""
    return servers


@pytest.fixture(scope="session")
def app(container: Container) -> Flask:
    return create_app(container.settings, container)


def new_token(container: Container, role: Role | str, name: str | None = None) -> str:
    """A token of a new account; names are unique across the session."""
    _, token = container.accounts.add(name or f"{role}-{uuid4().hex[:8]}", role)
    return token


class Caller:
    """The test client, speaking as one account."""

    def __init__(self, client: FlaskClient, token: str, name: str) -> None:
        self.client = client
        self.token = token
        self.name = name

    def headers(self, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", **extra}

    def get(self, path: str, **kwargs: Any) -> TestResponse:
        return self.client.get(path, headers=self.headers(), **kwargs)

    def post(self, path: str, body: Any = None, **headers: str) -> TestResponse:
        return self.client.post(
            path, json={} if body is None else body, headers=self.headers(**headers)
        )

    def act(self, case_id: str, action: str, body: Any = None, **headers: str) -> TestResponse:
        return self.post(f"/api/v1/cases/{case_id}/{action}", body, **headers)


@pytest.fixture
def caller(app: Flask, container: Container) -> Callable[[Role | str], Caller]:
    """Makes a caller with a new account of a role."""

    def make(role: Role | str) -> Caller:
        name = f"{role}-{uuid4().hex[:8]}"
        return Caller(app.test_client(), new_token(container, role, name), name)

    return make


@pytest.fixture
def intake(caller: Callable[[Role], Caller]) -> Caller:
    return caller(Role.INTAKE)


@pytest.fixture
def agent(caller: Callable[[Role], Caller]) -> Caller:
    return caller(Role.AGENT)


@pytest.fixture
def supervisor(caller: Callable[[Role], Caller]) -> Caller:
    return caller(Role.SUPERVISOR)


@pytest.fixture
def auditor(caller: Callable[[Role], Caller]) -> Caller:
    return caller(Role.AUDITOR)


@pytest.fixture
def admin(caller: Callable[[Role], Caller]) -> Caller:
    return caller(Role.ADMIN)


def inquiry(channel: str = "email", **fields: Any) -> dict[str, Any]:
    """The body of `POST /cases` for a typical question, with a unique external_ref."""
    return {
        "channel": channel,
        "external_ref": f"{channel}-{uuid4()}",
        "subject": "Chưa nhận được sổ BHXH",
        "body": "Tôi đã nộp hồ sơ từ tháng trước nhưng chưa nhận được sổ.",
        "requester": {
            "kind": "citizen",
            "id": "0123456789",
            "name": "Nguyễn Văn A",
            "contact": "a@example.vn",
        },
        "category": {"line": "social", "kind": "procedure"},
        "priority": "normal",
        "unit": "hanoi",
        **fields,
    }


def open_case(caller: Caller, **fields: Any) -> dict[str, Any]:
    """Opens a case and returns its whole view, as a supervisor reads it (an intake account is
    answered with the narrowed view only)."""
    response = caller.post("/api/v1/cases", inquiry(**fields))
    assert response.status_code == 201, response.get_json()
    return whole_view(caller, response.get_json()["id"])


def whole_view(caller: Caller, case_id: str) -> dict[str, Any]:
    """The case as a supervisor sees it, read from the application (no read is recorded)."""
    container: Container = caller.client.application.extensions[EXTENSION]
    case = container.care_centre.get_case(UUID(case_id))
    return case_view(case, container.routing, container.sla_policy, container.clock())


# -- projections: the case list and the work queues ----------------------------------------------


@pytest.fixture(scope="module")
def projected(container: Container) -> Iterator[Container]:
    """The session's casemgmt with its projections running in this process (for one module).

    Module-scoped, not session-scoped: a worker holds each projection's lock while it runs, and
    other test modules start workers of their own.
    """
    routing = OwnQueuePerUnit(DEFAULT_ROUTING.rules, DEFAULT_ROUTING.default_queue)
    own = build(container.settings, routing=routing, taxonomy=UnitsOfTests())
    try:
        with own.projections.worker(lock_retry_seconds=0.1):
            yield own
    finally:
        own.close()


def caught_up(container: Container) -> None:
    """Waits until every projection has written every event recorded so far."""
    projections = container.projections
    assert projections.wait_until_caught_up(timeout=30), f"still behind: {projections.lag()}"
