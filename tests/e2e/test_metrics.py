"""`GET /api/v1/metrics`: the deployment's state for Prometheus, read from the stores at scrape."""

from __future__ import annotations

import dataclasses
import socket
from typing import TYPE_CHECKING

import redis
from prometheus_client.parser import text_string_to_metric_families

from casemgmt.api import create_app
from casemgmt.queries import WorkQueues
from casemgmt.runtime import build_projections
from tests.e2e.conftest import Caller, caught_up, open_case
from tests.support.servers import own_queue

if TYPE_CHECKING:
    from casemgmt.bootstrap import Container


def scrape(container: Container) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    app = create_app(container.settings, container)
    response = app.test_client().get("/api/v1/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for sample in family.samples
    }


def test_metrics_count_waiting_cases_by_queue_and_priority_and_the_projections_lag(
    projected: Container, intake: Caller, supervisor: Caller
) -> None:
    queue = own_queue()
    for priority in ("urgent", "low", "low"):
        case = open_case(intake, unit=queue)
        triage = {"category": {"line": "social", "kind": "procedure"}, "priority": priority}
        assert supervisor.act(case["id"], "triage", triage).status_code == 200
    caught_up(projected)

    metrics = scrape(projected)

    assert metrics[("casemgmt_up", (("component", "database"),))] == 1
    assert metrics[("casemgmt_up", (("component", "redis"),))] == 1
    assert metrics[("casemgmt_queue_size", (("queue", queue),))] == 3
    assert metrics[("casemgmt_queue_cases", (("priority", "low"), ("queue", queue)))] == 2
    assert metrics[("casemgmt_queue_cases", (("priority", "urgent"), ("queue", queue)))] == 1
    assert metrics[("casemgmt_projection_lag", (("projection", "case_summaries"),))] == 0
    assert metrics[("casemgmt_cases", (("status", "triaged"),))] >= 3
    assert metrics[("casemgmt_events_recorded", ())] >= 6


def test_metrics_say_redis_is_down_and_still_report_the_database(container: Container) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    dead = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.5)
    prefix = container.work_queues.keys.prefix
    cut_off = dataclasses.replace(
        container,
        redis=dead,
        projections=build_projections(
            container.care_centre,
            container.datastore,
            dead,
            clock=container.clock,
            key_prefix=prefix,
        ),
        work_queues=WorkQueues(dead, clock=container.clock, key_prefix=prefix),
    )

    metrics = scrape(cut_off)

    dead.close()
    assert metrics[("casemgmt_up", (("component", "redis"),))] == 0
    assert metrics[("casemgmt_up", (("component", "database"),))] == 1
    assert ("casemgmt_events_recorded", ()) in metrics
    assert not any(name == "casemgmt_queue_size" for name, _ in metrics)
