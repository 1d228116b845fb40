"""flask-smorest, adjusted to casemgmt's contract.

`CareCentreApi` answers every HTTP error (routing, size, webargs' 400 and 422) as a problem and
documents the error responses as `application/problem+json`; `Blueprint` parses JSON bodies with
`JsonBodyParser`, which answers 415 for a body that is not JSON and 400 for one that cannot be
decoded, never 500.
"""

from __future__ import annotations

import http
import json
from typing import TYPE_CHECKING, Any, Final, NoReturn, TypeVar, cast

import flask_smorest  # type: ignore[import-untyped]  # flask-smorest ships no type hints
from flask_smorest.utils import prepare_response  # type: ignore[import-untyped]
from webargs.flaskparser import FlaskParser, abort, is_json_request
from werkzeug.exceptions import UnsupportedMediaType

from casemgmt.api.errors import PROBLEM_JSON, http_problem
from casemgmt.api.representations import ProblemSchema

if TYPE_CHECKING:
    from collections.abc import Callable

    import flask
    from werkzeug.exceptions import HTTPException

BEARER_AUTH: Final = "bearerAuth"

F = TypeVar("F", bound="Callable[..., Any]")
T = TypeVar("T")


class CareCentreApi(flask_smorest.Api):  # type: ignore[misc]
    """flask-smorest's Api whose errors are problems, in the service and in its documentation."""

    ERROR_SCHEMA = ProblemSchema

    def handle_http_exception(self, error: HTTPException) -> flask.Response:
        return http_problem(error)

    def _register_responses(self) -> None:
        """The components/responses flask-smorest refers to, with problem+json bodies."""
        for status in http.HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if not 100 <= status < 200 and status not in (204, 304):
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM_JSON)
            self.spec.components.response(status.name, response, lazy=True)
        default = {"description": "An error, as a problem", "schema": self.ERROR_SCHEMA}
        prepare_response(default, self.spec, PROBLEM_JSON)
        self.spec.components.response(self.DEFAULT_ERROR_RESPONSE_NAME, default, lazy=True)


class JsonBodyParser(FlaskParser):
    """webargs' parser: 415 for a body that is not JSON, 400 for any that cannot be decoded."""

    def _raw_load_json(self, req: flask.Request) -> Any:
        if req.content_length and not is_json_request(req):
            raise UnsupportedMediaType(f"send the body as application/json, not {req.mimetype!r}")
        try:
            return super()._raw_load_json(req)
        except json.JSONDecodeError:
            raise  # webargs turns an empty body into "no body" and any other into a 400
        except (LookupError, ValueError, RecursionError) as error:
            self._malformed(error)

    @staticmethod
    def _malformed(error: Exception) -> NoReturn:
        abort(400, exc=error, messages={"json": ["Invalid JSON body."]})


class Blueprint(flask_smorest.Blueprint):  # type: ignore[misc]
    """flask-smorest's Blueprint with casemgmt's body parser, and its decorators typed."""

    ARGUMENTS_PARSER = JsonBodyParser()

    def route(self, rule: str, **options: Any) -> Callable[[T], T]:
        return cast("Callable[[T], T]", super().route(rule, **options))

    def arguments(self, schema: Any, **options: Any) -> Callable[[F], F]:
        # Given a schema class, webargs makes an instance of it (and of its nested schemas) for
        # every request it parses, about a tenth of the server's time for a small command. One
        # instance, made here, serves every request: parsing only reads it.
        if isinstance(schema, type):
            schema = schema()
        return cast("Callable[[F], F]", super().arguments(schema, **options))

    def response(self, status: int, schema: Any = None, **options: Any) -> Callable[[F], F]:
        return cast("Callable[[F], F]", super().response(status, schema, **options))

    def alt_response(self, status: int, response: Any = None, **options: Any) -> Callable[[F], F]:
        return cast("Callable[[F], F]", super().alt_response(status, response, **options))

    def doc(self, **documentation: Any) -> Callable[[F], F]:
        return cast("Callable[[F], F]", super().doc(**documentation))

    def problems(self, *statuses: int) -> Callable[[F], F]:
        """Documents a view's error responses (401 and 403 always), and that it needs a token."""

        def decorator(view: F) -> F:
            for status in (401, 403, *statuses):
                view = self.alt_response(status, response=http.HTTPStatus(status).name)(view)
            return self.doc(security=[{BEARER_AUTH: []}])(view)

        return decorator
