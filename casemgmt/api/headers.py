"""Security headers on every answer; `Cache-Control: no-store` on all but the docs' assets.

The API answers JSON that holds citizens' names, identity numbers and correspondence: no browser or
proxy may keep a copy (`no-store`), sniff it into something else, frame it or leak its address in a
`Referer`. Its content security policy allows nothing at all, since JSON loads nothing; the docs
page (`/docs`) may load its own scripts and styles from this server, and nothing from elsewhere.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from flask import request

if TYPE_CHECKING:
    from flask import Flask, Response

SECURITY_HEADERS: Final = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
}
API_POLICY: Final = (
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
# Swagger UI sets style attributes from its scripts, hence 'unsafe-inline' for styles (not scripts).
DOCS_POLICY: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
DOCS_PATH: Final = "/docs"
NO_STORE: Final = "no-store"


def content_security_policy(path: str) -> str:
    """The policy of the answer at `path`: the docs page's, or the API's (nothing may load)."""
    if path == DOCS_PATH or path.startswith(DOCS_PATH + "/"):
        return DOCS_POLICY
    return API_POLICY


def secure(response: Response) -> Response:
    """Adds the security headers; `no-store` unless the view said how long to cache."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    response.headers.setdefault("Content-Security-Policy", content_security_policy(request.path))
    response.headers.setdefault("Cache-Control", NO_STORE)
    return response


def register_security_headers(app: Flask) -> None:
    app.after_request(secure)
