"""The HTTP API: a Flask app with flask-smorest blueprints, built by `create_app`.

Nothing is built at import; `create_app(settings)` wires the container (or takes one a test or
`casemgmt serve` already built) into a new app.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Flask, redirect

from casemgmt.api import audit, cases, health, metrics, queues, sla, verify
from casemgmt.api.context import EXTENSION, begin_request, end_request
from casemgmt.api.errors import register_error_handlers
from casemgmt.api.openapi import BEARER_AUTH, CareCentreApi
from casemgmt.bootstrap import build

if TYPE_CHECKING:
    from werkzeug.wrappers import Response

    from casemgmt.bootstrap import Container
    from casemgmt.settings import Settings

SWAGGER_UI_CDN = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/"


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
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL=SWAGGER_UI_CDN,
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
    app.after_request(end_request)
    register_error_handlers(app)
    api = CareCentreApi(app)
    api.spec.components.security_scheme(BEARER_AUTH, {"type": "http", "scheme": "bearer"})
    api.register_blueprint(cases.blp)
    api.register_blueprint(queues.blp)
    api.register_blueprint(sla.blp)
    api.register_blueprint(audit.blp)
    api.register_blueprint(verify.blp)
    api.register_blueprint(health.blp)
    app.register_blueprint(metrics.blp)
    app.add_url_rule("/api/v1/docs", "docs", _to_docs)
    return app


def _to_docs() -> Response:
    return redirect("/docs")
