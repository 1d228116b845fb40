"""`/docs`: the OpenAPI document as a browsable page, with Swagger UI served from this server.

The Swagger UI files come from the `flask-swagger-ui` wheel (a pinned swagger-ui-dist release with
its licence), so the page works on a closed network and loads nothing from elsewhere; the page's
own script is a file too, so the content security policy needs no inline script.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Final

import flask_swagger_ui
from flask import Blueprint, Response, abort, send_from_directory

if TYPE_CHECKING:
    from flask import Flask

SWAGGER_UI_DIST: Final = Path(flask_swagger_ui.__file__).parent / "dist"
ASSETS: Final = frozenset(
    {"swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "LICENSE"}
)
ASSET_CACHE: Final = "public, max-age=86400"
SPEC_URL: Final = "/api/v1/openapi.json"

PAGE: Final = f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>casemgmt API</title>
  <link href="/docs/assets/swagger-ui.css" rel="stylesheet" type="text/css">
</head>
<body>
  <div id="swagger-ui" data-spec-url="{SPEC_URL}"></div>
  <script src="/docs/assets/swagger-ui-bundle.js"></script>
  <script src="/docs/assets/swagger-ui-standalone-preset.js"></script>
  <script src="/docs/assets/casemgmt-docs.js"></script>
</body>
</html>
"""

STARTER: Final = """window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.getAttribute("data-spec-url"),
    dom_id: "#swagger-ui",
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout"
  });
});
"""

blp = Blueprint("docs", __name__)


@blp.get("/docs")
def page() -> Response:
    return Response(PAGE, mimetype="text/html")


@blp.get("/docs/assets/casemgmt-docs.js")
def starter() -> Response:
    response = Response(STARTER, mimetype="text/javascript")
    response.headers["Cache-Control"] = ASSET_CACHE
    return response


@blp.get("/docs/assets/<name>")
def asset(name: str) -> Response:
    if name not in ASSETS:
        abort(404)
    mimetype = "text/plain" if name == "LICENSE" else None
    response = send_from_directory(SWAGGER_UI_DIST, name, mimetype=mimetype, max_age=86400)
    response.headers["Cache-Control"] = ASSET_CACHE
    return response


def register_docs(app: Flask) -> None:
    app.register_blueprint(blp)
