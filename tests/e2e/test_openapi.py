"""The OpenAPI document, its browsable page, and the API fuzzed against the document."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import cycle
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, cast
from uuid import UUID, uuid4

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from casemgmt.api import create_app
from casemgmt.domain import (
    ACCOUNT_ROLES,
    Action,
    Actor,
    Channel,
    Context,
    Requester,
    RequesterKind,
    Role,
)
from casemgmt.settings import Settings
from tests.e2e.conftest import new_token

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from flask import Flask

    from casemgmt.application import CareCentre
    from casemgmt.bootstrap import Container

# The document is the same whatever the container, so a container-less app can serve it at import
# time (when the tests are made); the tests then call the session's real app.
DOCUMENT_ONLY = create_app(Settings(), container=cast("Container", SimpleNamespace()))
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", DOCUMENT_ONLY)


@pytest.fixture(scope="module")
def admin_token(container: Container) -> str:
    return new_token(container, Role.ADMIN)


# The account the staged cases are assigned to (`assign` names an account that may hold cases).
FUZZ_AGENT = f"agent-fuzz-{uuid4().hex[:8]}"


def _ctx() -> Context:
    return Context(Actor("fuzz-setup", Role.SYSTEM), datetime.now(UTC), "fuzz", "test")


# Ways to bring a new case to each status, so that generated actions meet every state.
_STAGES: list[Callable[[CareCentre, UUID], Any]] = [
    lambda centre, case_id: None,
    lambda centre, case_id: centre.act(case_id, Action.ASSIGN, _ctx(), agent=FUZZ_AGENT),
    lambda centre, case_id: centre.act(case_id, Action.REQUEST_INFO, _ctx(), message="số CCCD?"),
    lambda centre, case_id: centre.act(
        case_id, Action.RESOLVE, _ctx(), resolution="đã trả lời", summary=None
    ),
    lambda centre, case_id: centre.act(case_id, Action.CLOSE, _ctx()),
]


@pytest.fixture(scope="module")
def case_ids(container: Container) -> Iterator[str]:
    """Ids of new cases, in turn received, in progress, awaiting the citizen, resolved, closed."""
    new_token(container, Role.AGENT, FUZZ_AGENT)

    def generate() -> Iterator[str]:
        centre = container.care_centre
        requester = Requester(RequesterKind.CITIZEN, None, "Trần Thị B")
        for depth in cycle(range(len(_STAGES))):
            case, _ = centre.open_case(
                channel=Channel.WEB_PORTAL, subject="Hỏi về BHYT", requester=requester, ctx=_ctx()
            )
            for stage in _STAGES[: depth + 1]:
                stage(centre, case.id)
            yield str(case.id)

    return generate()


# Every check but positive_data_acceptance: a valid request may well be refused (409, 412, 422).
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    content_type_conformance,
    status_code_conformance,
    response_headers_conformance,
    negative_data_rejection,
]


def is_case_id(value: Any) -> bool:
    try:
        UUID(str(value))
    except ValueError:
        return False
    return True


@schema.parametrize()
@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_generated_request_gets_a_server_error_or_an_answer_outside_the_document(
    case: schemathesis.Case[Any], app: Flask, admin_token: str, case_ids: Iterator[str]
) -> None:
    if is_case_id((case.path_parameters or {}).get("case_id")):
        case.path_parameters["case_id"] = next(case_ids)  # a real case, so actions meet states
    case.call_and_validate(
        app=app,
        headers={"Authorization": f"Bearer {admin_token}"},
        checks=CHECKS,
    )


def test_the_openapi_document_describes_every_call_with_a_summary(app: Flask) -> None:
    document = app.test_client().get("/api/v1/openapi.json").get_json()

    operations = [
        op for path in document["paths"].values() for op in path.values() if "responses" in op
    ]
    # 27, the accounts API (6), erasure (1), by reference (1), reports (2)
    assert len(operations) == 42
    assert all(op.get("summary") for op in operations)
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    problem = document["components"]["responses"]["UNPROCESSABLE_ENTITY"]["content"]
    assert list(problem) == ["application/problem+json"]


def test_every_call_that_needs_a_token_says_which_roles_may_make_it(
    app: Flask, container: Container
) -> None:
    document = app.test_client().get("/api/v1/openapi.json").get_json()
    client = app.test_client()

    tokened = [
        (path, method, op)
        for path, item in document["paths"].items()
        for method, op in item.items()
        if "responses" in op and op.get("security")
    ]

    assert len(tokened) > 30
    for path, method, op in tokened:
        said = op.get("description", "")
        assert "Who may: " in said, (method, path)
        named = said.rsplit("Who may: ", 1)[1].rstrip(".").split(", ")
        assert set(named) <= {role.value for role in Role}, (method, path, named)
        # What the document says is what the service does: a role it leaves out gets 403.
        left_out = sorted({r.value for r in ACCOUNT_ROLES} - set(named))
        if left_out and "{" not in path:
            token = new_token(container, left_out[0])
            answer = client.open(
                path, method=method.upper(), headers={"Authorization": f"Bearer {token}"}
            )
            assert answer.status_code == 403, (method, path, left_out[0], answer.status_code)


def test_the_docs_page_is_served(app: Flask) -> None:
    client = app.test_client()

    page = client.get("/docs")
    versioned = client.get("/api/v1/docs")

    assert page.status_code == 200
    assert b"/api/v1/openapi.json" in page.data
    assert (versioned.status_code, versioned.headers["Location"]) == (302, "/docs")
