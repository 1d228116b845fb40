"""`GET /api/v1/health`: readiness of the database and Redis, and projection lag; no token."""

from __future__ import annotations

import dataclasses
import socket
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest
import redis

from casemgmt.api import create_app
from casemgmt.api.health import LAGGING_AFTER, projection_status
from casemgmt.domain import Actor, Channel, Context, Requester, RequesterKind, Role
from casemgmt.domain.sessions import SessionKind
from tests.e2e.conftest import caught_up

if TYPE_CHECKING:
    from flask import Flask

    from casemgmt.bootstrap import Container


def test_health_is_ok_when_the_database_and_redis_answer(app: Flask) -> None:
    response = app.test_client().get("/api/v1/health")

    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok"
    assert body["components"]["database"] == {"status": "up", "detail": None}
    assert body["components"]["redis"] == {"status": "up", "detail": None}
    assert set(body["components"]["projections"]["projections"]) == {
        "case_summaries",
        "work_queues",
        "audit_log",
        "reports",
        "active_care",
    }


def _open_a_case(container: Container) -> None:
    ctx = Context(Actor("health-test", Role.SYSTEM), datetime.now(UTC), "health", "test")
    requester = Requester(RequesterKind.CITIZEN, None, "Lê Văn C")
    container.care_centre.open_case(
        channel=Channel.PHONE, subject="Hỏi về BHTN", requester=requester, ctx=ctx
    )


def _schedule_a_session(container: Container) -> None:
    ctx = Context(Actor("health-test", Role.SUPERVISOR), datetime.now(UTC), "health", "test")
    container.care_sessions.schedule(
        kind=SessionKind.QA, topic="Hỏi đáp BHYT", unit="hanoi", scheduled_for=ctx.at, ctx=ctx
    )


def test_a_projection_nobody_processes_is_reported_stopped_but_health_stays_ok(
    app: Flask, container: Container
) -> None:
    _open_a_case(container)  # so that the projections are behind
    _schedule_a_session(container)  # and the one following the sessions' log

    response = app.test_client().get("/api/v1/health")

    assert response.status_code == 200
    assert response.get_json()["status"] == "ok"
    projections = response.get_json()["components"]["projections"]
    assert projections["status"] == "stopped"
    assert set(projections["projections"]) == {
        "case_summaries",
        "work_queues",
        "audit_log",
        "reports",
        "active_care",
    }
    assert all(p["lag"] >= 1 for p in projections["projections"].values())
    assert "behind" in projections["detail"]


def test_projections_are_up_with_no_lag_once_a_worker_caught_up(
    app: Flask, container: Container
) -> None:
    _open_a_case(container)

    with container.projections.worker(lock_retry_seconds=0.1):
        caught_up(container)
        response = app.test_client().get("/api/v1/health")

    projections = response.get_json()["components"]["projections"]
    assert (projections["status"], projections["detail"]) == ("up", None)
    head = container.projections.log.head()
    assert projections["projections"]["case_summaries"] == {
        "status": "up",
        "lag": 0,
        "position": head,
    }
    # The sessions' projection is at the head of the sessions' own log, not the cases'.
    (sessions_head,) = container.projections.heads(["active_care"]).values()
    assert projections["projections"]["active_care"] == {
        "status": "up",
        "lag": 0,
        "position": sessions_head,
    }


@pytest.mark.parametrize(
    ("lag", "position", "processed", "status"),
    [
        (0, 10, False, "up"),
        (3, 7, True, "up"),
        (LAGGING_AFTER + 1, 7, True, "lagging"),
        (12, None, True, "catching_up"),
        (12, None, False, "stopped"),
        (1, 7, False, "stopped"),
    ],
)
def test_aprojection_status_says_whether_it_lags_catches_up_or_stopped(
    lag: int, position: int | None, processed: bool, status: str
) -> None:
    assert projection_status(lag, position, processed) == status


def test_health_is_unavailable_and_names_redis_when_redis_is_down(container: Container) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    dead = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.5)
    app = create_app(container.settings, dataclasses.replace(container, redis=dead))

    response = app.test_client().get("/api/v1/health")

    dead.close()
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable"
    assert body["components"]["database"]["status"] == "up"
    assert body["components"]["redis"] == {"status": "down", "detail": "ConnectionError"}
    assert body["components"]["projections"]["status"] == "down"
