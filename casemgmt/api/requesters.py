"""`/api/v1/requesters/erase`: erase a requester's personal data (crypto-shredding), admins only.

The requester's id travels in the body, not in the address, so that no access log or proxy keeps
it. The erasure itself is `casemgmt.application.erasure`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask.views import MethodView
from marshmallow import RAISE, Schema, fields, validate

from casemgmt.api.auth import requires
from casemgmt.api.context import command_context, current_container
from casemgmt.api.errors import problem
from casemgmt.api.openapi import Blueprint
from casemgmt.api.schemas import SHORT, Text
from casemgmt.application.erasure import RequesterNotFound

if TYPE_CHECKING:
    from flask import Response

blp = Blueprint(
    "requesters", __name__, url_prefix="/api/v1/requesters", description="Requesters' data"
)


class EraseRequesterSchema(Schema):
    """Whose personal data to erase, and why (the reason is kept; never put the person in it)."""

    class Meta:
        unknown = RAISE

    requester_id = Text(
        required=True, validate=SHORT, metadata={"description": "The insurance or tax number"}
    )
    reason = Text(
        required=True,
        validate=validate.Length(min=1, max=2000),
        metadata={"description": "Why, e.g. the request's reference; kept with the erasure"},
    )


class ErasureView(Schema):
    """What the erasure did: its record, its moment, how many cases now show the data erased."""

    erasure_id = fields.UUID(required=True)
    erased_at = fields.AwareDateTime(required=True)
    cases = fields.Integer(required=True)


def _requester_not_found(error: RequesterNotFound) -> Response:
    return problem(404, "requester-not-found", str(error), title="Requester not found")


blp.register_error_handler(RequesterNotFound, _requester_not_found)


@blp.route("/erase")
class RequesterErasure(MethodView):
    @requires("erase")
    @blp.problems(400, 404, 413, 415, 422)
    @blp.arguments(EraseRequesterSchema)
    @blp.response(200, ErasureView)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Erase a requester's name, identifier, contact and conversation from every case.

        Each of their cases records the erasure (who, when, why), then their own key is destroyed:
        the stored events stay as written (their hash chains intact) and read as erased. The
        case list, the action log and the work queues drop the data as the workers catch up.
        """
        erasure = current_container().erasure.erase(
            body["requester_id"], body["reason"], command_context()
        )
        return {
            "erasure_id": erasure.erasure_id,
            "erased_at": erasure.erased_at,
            "cases": erasure.cases,
        }
