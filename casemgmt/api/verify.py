"""`/api/v1/cases/{id}/verify`: whether a case's events are as the event store wrote them.

The check runs on the stored events themselves (`casemgmt/persistence/verification.py`), not on a
projection. Auditors and admins may call it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from casemgmt.api.auth import requires
from casemgmt.api.context import current_container
from casemgmt.api.openapi import Blueprint
from casemgmt.application import CaseNotFound
from casemgmt.persistence.verification import ChainAudit

if TYPE_CHECKING:
    from uuid import UUID

blp = Blueprint("verify", __name__, url_prefix="/api/v1/cases", description="Tamper evidence")

PROBLEMS = ("altered", "missing", "inserted", "reordered")


class ChainProblemView(Schema):
    version = fields.Integer(required=True, metadata={"description": "The case's version"})
    problem = fields.String(required=True, validate=validate.OneOf(PROBLEMS))
    detail = fields.String(required=True)


class CaseVerificationView(Schema):
    """A case's hash chain, recomputed from its stored events."""

    case_id = fields.UUID(required=True)
    intact = fields.Boolean(required=True)
    events = fields.Integer(required=True, metadata={"description": "Events stored for the case"})
    problems = fields.List(fields.Nested(ChainProblemView), required=True)


@blp.route("/<uuid:case_id>/verify")
class CaseVerification(MethodView):
    @requires("audit")
    @blp.problems(404)
    @blp.response(200, CaseVerificationView)
    def get(self, case_id: UUID) -> dict[str, Any]:
        """Check that a case's stored events are unchanged, complete and in order.

        Each event is linked into its case's hash chain when it is written (and sealed with
        CASEMGMT_AUDIT_KEY when set); a problem names the version where the chain breaks. A case
        whose events were all deleted is still reported, from the head the store kept for it.
        """
        audit = ChainAudit.of(current_container().care_centre.recorder)
        verdict = audit.verify_case(case_id)
        if verdict is None:
            raise CaseNotFound(case_id)
        return {
            "case_id": verdict.case_id,
            "intact": verdict.intact,
            "events": verdict.events,
            "problems": [
                {"version": p.version, "problem": p.problem, "detail": p.detail}
                for p in verdict.problems
            ],
        }
