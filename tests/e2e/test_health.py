"""`GET /api/v1/health`: readiness of the database and Redis, without a token."""

from __future__ import annotations

import dataclasses
import socket
from typing import TYPE_CHECKING

import redis

from casemgmt.api import create_app

if TYPE_CHECKING:
    from flask import Flask

    from casemgmt.bootstrap import Container


def test_health_is_ok_when_the_database_and_redis_answer(app: Flask) -> None:
    response = app.test_client().get("/api/v1/health")

    assert response.status_code == 200
    assert response.get_json() == {
        "status": "ok",
        "components": {
            "database": {"status": "up", "detail": None},
            "redis": {"status": "up", "detail": None},
        },
    }


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
