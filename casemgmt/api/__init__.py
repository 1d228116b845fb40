"""The HTTP API: a Flask app with flask-smorest blueprints, built by `create_app`.

Nothing is built at import; `create_app(settings)` wires the container (or takes one a test or
`casemgmt serve` already built) into a new app.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Flask, redirect

from casemgmt.api import (
    accounts,
    audit,
    cases,
    health,
    metrics,
    queues,
    reports,
    requesters,
    sessions,
    sla,
    verify,
)
from casemgmt.api.access_log import register_access_log
from casemgmt.api.context import EXTENSION, begin_request, end_request
from casemgmt.api.docs import register_docs
from casemgmt.api.errors import register_error_handlers
from casemgmt.api.headers import register_security_headers
from casemgmt.api.limits import RateLimits, register_rate_limits
from casemgmt.api.openapi import BEARER_AUTH, CareCentreApi
from casemgmt.api.outages import register_outage_handlers
from casemgmt.bootstrap import build

if TYPE_CHECKING:
    from werkzeug.wrappers import Response

    from casemgmt.bootstrap import Container
    from casemgmt.settings import Settings


def create_app(settings: Settings, container: Container | None = None) -> Flask:
    """The API app; builds the container from `settings` unless one is given."""
    if container is None:
        container = build(settings)
    app = Flask("casemgmt.api")
    # Vietnamese names and subjects read as themselves, not as \u escapes.
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.config.update(
        MAX_CONTENT_LENGTH=settings.max_request_bytes,
        API_TITLE="casemgmt",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="api/v1/openapi.json",
        API_SPEC_OPTIONS={
            "info": {
                "description": "Cases of the customer care centre: intake from seven channels, "
                "the work on them, their history, the case list, the work queues, the SLA "
                "clocks and the audit trail. "
                "Errors are application/problem+json."
            }
        },
    )
    app.extensions[EXTENSION] = container
    app.before_request(begin_request)
    register_access_log(app)
    app.after_request(end_request)
    register_security_headers(app)
    if settings.rate_limit or settings.auth_failure_limit:
        assert container.settings.redis_url is not None, "build() starts the servers"
        register_rate_limits(app, RateLimits.from_settings(settings, container.settings.redis_url))
    register_error_handlers(app)
    register_outage_handlers(app)
    register_docs(app)
    api = CareCentreApi(app)
    api.spec.components.security_scheme(BEARER_AUTH, {"type": "http", "scheme": "bearer"})
    api.register_blueprint(cases.blp)
    api.register_blueprint(queues.blp)
    api.register_blueprint(sla.blp)
    api.register_blueprint(audit.blp)
    api.register_blueprint(verify.blp)
    api.register_blueprint(requesters.blp)
    api.register_blueprint(accounts.blp)
    api.register_blueprint(sessions.blp)
    api.register_blueprint(reports.blp)
    api.register_blueprint(health.blp)
    app.register_blueprint(metrics.blp)
    app.add_url_rule("/api/v1/docs", "docs", _to_docs)
    return app


def _to_docs() -> Response:
    return redirect("/docs")
