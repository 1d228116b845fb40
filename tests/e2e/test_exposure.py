"""Safe to expose, in the app: outages answer 503, rate limits 429, security headers on every
answer, the docs page served from here, and an access log without queries, tokens or names."""

from __future__ import annotations

import json
import logging
import re
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, Literal
from uuid import uuid4

import pytest

from casemgmt.api import create_app
from casemgmt.api.access_log import ACCESS_LOGGER, JsonLines
from casemgmt.api.outages import RETRY_AFTER_SECONDS
from casemgmt.bootstrap import build
from casemgmt.domain import Role
from tests.e2e.conftest import inquiry, new_token
from tests.support.outages import Forwarder, database_forwarder, redis_forwarder

if TYPE_CHECKING:
    from collections.abc import Iterator

    from flask import Flask
    from werkzeug.test import TestResponse

    from casemgmt.bootstrap import Container
    from casemgmt.settings import Settings

PROBLEM_JSON = "application/problem+json"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def limited(
    container: Container,
    rate_limit: str | None = None,
    auth_failure_limit: str | None = None,
) -> Settings:
    """The session's settings with rate limits, counted under a key prefix of the test's own."""
    prefix = f"{container.settings.redis_key_prefix}:{uuid4().hex[:8]}"
    return replace(
        container.settings,
        redis_key_prefix=prefix,
        rate_limit=rate_limit,
        auth_failure_limit=auth_failure_limit,
    )


def assert_problem(response: TestResponse, status: int) -> dict[str, object]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM_JSON
    body: dict[str, object] = response.get_json(force=True)
    assert body["status"] == status
    assert body["correlation_id"] == response.headers["X-Correlation-ID"]
    return body


def retry_after(response: TestResponse) -> int:
    seconds = int(response.headers["Retry-After"])
    assert seconds >= 1
    return seconds


# -- rate limits ---------------------------------------------------------------------------------


def test_requests_over_the_rate_limit_get_429_with_retry_after(container: Container) -> None:
    client = create_app(limited(container, rate_limit="5/minute"), container).test_client()
    token = new_token(container, Role.SUPERVISOR)

    below = [client.get("/api/v1/cases", headers=bearer(token)).status_code for _ in range(5)]
    over = client.get("/api/v1/cases", headers=bearer(token))

    assert below == [200] * 5
    body = assert_problem(over, 429)
    assert "too many requests" in str(body["detail"])
    assert retry_after(over) <= 60


def test_each_token_has_a_limit_of_its_own(container: Container) -> None:
    client = create_app(limited(container, rate_limit="2/minute"), container).test_client()
    busy, quiet = new_token(container, Role.AGENT), new_token(container, Role.AGENT)
    for _ in range(3):
        client.get("/api/v1/cases", headers=bearer(busy))

    assert client.get("/api/v1/cases", headers=bearer(busy)).status_code == 429
    assert client.get("/api/v1/cases", headers=bearer(quiet)).status_code == 200


def test_failed_authentications_have_a_stricter_limit_per_address(container: Container) -> None:
    settings = limited(container, rate_limit="100/minute", auth_failure_limit="3/minute")
    client = create_app(settings, container).test_client()
    valid = new_token(container, Role.AGENT)

    guesses = [
        client.get("/api/v1/cases", headers=bearer(f"guess-{n}")).status_code for n in range(3)
    ]
    over = client.get("/api/v1/cases", headers=bearer("guess-3"))

    assert guesses == [401, 401, 401]
    assert "failed authentications" in str(assert_problem(over, 429)["detail"])
    retry_after(over)
    # A valid token from the same address (an office behind one NAT) is not locked out.
    assert client.get("/api/v1/cases", headers=bearer(valid)).status_code == 200


def test_the_rate_limit_counters_are_shared_by_every_process(container: Container) -> None:
    settings = limited(container, rate_limit="4/minute")
    first, second = (create_app(settings, container).test_client() for _ in range(2))
    token = new_token(container, Role.AGENT)

    statuses = [
        client.get("/api/v1/cases", headers=bearer(token)).status_code
        for client in (first, second, first, second, first)
    ]

    assert statuses == [200, 200, 200, 200, 429]


# -- outages -------------------------------------------------------------------------------------


@contextmanager
def built_through(
    settings: Settings, server: Literal["database", "redis"]
) -> Iterator[tuple[Container, Forwarder]]:
    """casemgmt whose database or Redis connections pass through a forwarder that can be cut."""
    assert settings.database_url is not None and settings.redis_url is not None
    if server == "database":
        forwarder, url = database_forwarder(settings.database_url)
        through = replace(settings, database_url=url)
    else:
        forwarder, url = redis_forwarder(settings.redis_url)
        through = replace(settings, redis_url=url)
    with forwarder:
        container = build(through)
        try:
            yield container, forwarder
        finally:
            container.close()


def outage_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "casemgmt.api.outages"]


def test_with_the_database_unreachable_requests_get_503_and_one_log_line_each(
    container: Container, caplog: pytest.LogCaptureFixture
) -> None:
    with built_through(container.settings, "database") as (through, database):
        client = create_app(through.settings, through).test_client()
        token = new_token(through, Role.ADMIN)
        opened = client.post("/api/v1/cases", json=inquiry(), headers=bearer(token))
        case_id = opened.get_json()["id"]
        caplog.clear()

        database.cut()
        answers = [
            client.get(f"/api/v1/cases/{case_id}", headers=bearer(token)),
            client.get("/api/v1/cases", headers=bearer(token)),
            client.post("/api/v1/cases", json=inquiry(), headers=bearer(token)),
        ]
        lines = outage_lines(caplog)
        database.restore()
        after = client.get(f"/api/v1/cases/{case_id}", headers=bearer(token))

    for answer in answers:
        body = assert_problem(answer, 503)
        assert "database" in str(body["detail"])
        assert retry_after(answer) == RETRY_AFTER_SECONDS
    assert len(lines) == len(answers)
    assert all(line.exc_info is None for line in lines), "an outage is logged without traceback"
    assert not [r for r in caplog.records if r.name == "casemgmt.api.errors"], "no 500 logged"
    assert after.status_code == 200, "the API recovers without a restart"


def test_with_redis_unreachable_queue_calls_get_503(
    container: Container, caplog: pytest.LogCaptureFixture
) -> None:
    with built_through(container.settings, "redis") as (through, redis):
        client = create_app(through.settings, through).test_client()
        token = new_token(through, Role.SUPERVISOR)
        assert client.get("/api/v1/queues", headers=bearer(token)).status_code == 200
        caplog.clear()

        redis.cut()
        answer = client.get("/api/v1/queues", headers=bearer(token))
        lines = outage_lines(caplog)
        redis.restore()
        after = client.get("/api/v1/queues", headers=bearer(token))

    assert "Redis" in str(assert_problem(answer, 503)["detail"])
    assert retry_after(answer) == RETRY_AFTER_SECONDS
    assert len(lines) == 1 and lines[0].exc_info is None
    assert after.status_code == 200


def test_with_redis_unreachable_the_rate_limits_let_requests_through(
    container: Container, caplog: pytest.LogCaptureFixture
) -> None:
    with built_through(container.settings, "redis") as (through, redis):
        settings = limited(through, rate_limit="1/minute")
        client = create_app(settings, through).test_client()
        token = new_token(through, Role.AGENT)
        assert client.get("/api/v1/cases", headers=bearer(token)).status_code == 200
        assert client.get("/api/v1/cases", headers=bearer(token)).status_code == 429

        redis.cut()
        unlimited = [client.get("/api/v1/cases", headers=bearer(token)) for _ in range(3)]

    assert [answer.status_code for answer in unlimited] == [200, 200, 200]
    warnings = [r for r in caplog.records if r.name == "casemgmt.api.limits"]
    assert len(warnings) == 1, "one line says the limits are not enforced, not one per request"
    assert "not enforced" in warnings[0].getMessage()


# -- headers -------------------------------------------------------------------------------------

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def test_every_answer_carries_the_security_headers_and_no_store(
    app: Flask, container: Container
) -> None:
    client = app.test_client()
    token = new_token(container, Role.SUPERVISOR)
    case = client.post(
        "/api/v1/cases", json=inquiry(), headers=bearer(new_token(container, Role.INTAKE))
    )
    answers = {
        "case": client.get(f"/api/v1/cases/{case.get_json()['id']}", headers=bearer(token)),
        "list": client.get("/api/v1/cases?text=Nguyen", headers=bearer(token)),
        "queues": client.get("/api/v1/queues", headers=bearer(token)),
        "audit": client.get(
            "/api/v1/audit/events", headers=bearer(new_token(container, "auditor"))
        ),
        "401": client.get("/api/v1/cases"),
        "404": client.get("/api/v1/nothing-here", headers=bearer(token)),
        "health": client.get("/api/v1/health"),
        "openapi": client.get("/api/v1/openapi.json"),
        "docs": client.get("/docs"),
    }

    for name, answer in answers.items():
        for header, value in SECURITY_HEADERS.items():
            assert answer.headers.get(header) == value, (name, header)
        policy = answer.headers["Content-Security-Policy"]
        assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy, name
        assert answer.headers["Cache-Control"] == "no-store", name
    assert "script-src" not in answers["case"].headers["Content-Security-Policy"]


def test_the_docs_page_loads_only_assets_served_by_casemgmt_itself(app: Flask) -> None:
    client = app.test_client()

    page = client.get("/docs")
    html = page.get_data(as_text=True)
    references = re.findall(r'(?:src|href)="([^"]+)"', html)

    assert page.status_code == 200
    assert references, html
    assert all(ref.startswith("/docs/assets/") for ref in references), references
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert "http" not in page.headers["Content-Security-Policy"]
    assert "<script>" not in html, "no inline script: the policy allows none"
    types = {"css": "text/css", "js": "text/javascript"}
    for ref in references:
        asset = client.get(ref)
        assert asset.status_code == 200, ref
        assert asset.mimetype == types[ref.rsplit(".", 1)[1]], ref
        assert len(asset.data) > 100, ref
    licence = client.get("/docs/assets/LICENSE")
    assert licence.status_code == 200 and b"Apache License" in licence.data
    assert client.get("/docs/assets/oauth2-redirect.html").status_code == 404


# -- access log ----------------------------------------------------------------------------------


def test_the_access_log_has_neither_the_query_nor_the_token_nor_the_name(
    app: Flask, container: Container, caplog: pytest.LogCaptureFixture
) -> None:
    name = f"lan.nguyen-{uuid4().hex[:6]}"
    token = new_token(container, Role.AGENT, name)
    caplog.set_level(logging.INFO, logger=ACCESS_LOGGER)

    answer = app.test_client().get(
        "/api/v1/cases?text=Nguyen%20Van%20A%200123456789", headers=bearer(token)
    )

    records = [r for r in caplog.records if r.name == ACCESS_LOGGER]
    assert len(records) == 1
    line = JsonLines().format(records[0])
    entry = json.loads(line)
    assert entry["method"] == "GET"
    assert entry["path"] == "/api/v1/cases"
    assert entry["status"] == answer.status_code == 200
    assert entry["account"] == name
    assert entry["correlation_id"] == answer.headers["X-Correlation-ID"]
    assert entry["duration_ms"] >= 0
    for secret in ("Nguyen", "0123456789", "requester_id", token):
        assert secret not in line
