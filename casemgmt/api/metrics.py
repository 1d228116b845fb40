"""`/api/v1/metrics`: the care centre's state in Prometheus' text format. No token needed.

Everything here is read from PostgreSQL and Redis when Prometheus scrapes, so any API process
answers for the whole deployment, however many there are behind the load balancer. (Per-process
request counts would be wrong behind one; gunicorn's statsd or the load balancer has those.)
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from eventsourcing.persistence import PersistenceError
from flask import Blueprint, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry
from redis.exceptions import RedisError

from casemgmt.api.context import current_container
from casemgmt.queries.metrics import cases_by_status, sla_clocks

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from prometheus_client.metrics_core import Metric

    from casemgmt.bootstrap import Container

blp = Blueprint("metrics", __name__)
log = logging.getLogger(__name__)


class CareCentreCollector(Collector):
    """Gauges of the care centre, gathered from the stores at every scrape."""

    def __init__(self, container: Container) -> None:
        self.container = container

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "casemgmt_up", "Whether this process reaches the component", labels=["component"]
        )
        database_up = self._reachable(self._database_metrics)
        redis_up = self._reachable(self._queue_metrics)
        up.add_metric(["database"], float(database_up is not None))
        up.add_metric(["redis"], float(redis_up is not None))
        yield up
        yield from database_up or []
        yield from redis_up or []

    def _reachable(self, gather: Callable[[], Iterator[Metric]]) -> list[Metric] | None:
        try:
            return list(gather())
        except (PersistenceError, RedisError) as error:
            log.warning("metrics: %s", error)
            return None

    def _database_metrics(self) -> Iterator[Metric]:
        container = self.container
        events = GaugeMetricFamily(
            "casemgmt_events_recorded", "Events in the care centre's notification log"
        )
        events.add_metric([], float(container.projections.log.head()))
        yield events
        cases = GaugeMetricFamily(
            "casemgmt_cases", "Cases by status, as the case list has them", labels=["status"]
        )
        for status, count in cases_by_status(container.datastore).items():
            cases.add_metric([status], float(count))
        yield cases
        yield from self._sla_metrics()

    def _sla_metrics(self) -> Iterator[Metric]:
        container = self.container
        breaches = GaugeMetricFamily(
            "casemgmt_sla_open_breaches",
            "Open cases with the SLA clock past its deadline",
            labels=["clock"],
        )
        at_risk = GaugeMetricFamily(
            "casemgmt_sla_at_risk",
            "Open cases with the SLA clock past its warning instant, before its deadline",
            labels=["clock"],
        )
        for clock, counts in sla_clocks(container.datastore, container.clock()).items():
            breaches.add_metric([clock], float(counts.breached))
            at_risk.add_metric([clock], float(counts.at_risk))
        yield from (breaches, at_risk)

    def _queue_metrics(self) -> Iterator[Metric]:
        container = self.container
        lag = GaugeMetricFamily(
            "casemgmt_projection_lag",
            "Notifications a projection is behind the log's head",
            labels=["projection"],
        )
        for name, behind in container.projections.lag().items():
            lag.add_metric([name], float(behind))
        yield lag
        size = GaugeMetricFamily("casemgmt_queue_size", "Cases waiting", labels=["queue"])
        by_priority = GaugeMetricFamily(
            "casemgmt_queue_cases", "Cases waiting by priority", labels=["queue", "priority"]
        )
        oldest = GaugeMetricFamily(
            "casemgmt_queue_oldest_waiting_seconds",
            "How long the longest-waiting case has waited",
            labels=["queue"],
        )
        for queue in container.work_queues.queue_overview():
            size.add_metric([queue.name], float(queue.size))
            for priority, count in queue.by_priority.items():
                by_priority.add_metric([queue.name, priority], float(count))
            if queue.oldest_waiting_seconds is not None:
                oldest.add_metric([queue.name], queue.oldest_waiting_seconds)
        yield from (size, by_priority, oldest)


@blp.route("/api/v1/metrics")
def metrics() -> Response:
    """Prometheus metrics of the whole deployment."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(CareCentreCollector(current_container()))
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
