"""Active care through the API: a session scheduled, held, its questions opened as linked cases."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

from casemgmt.application.sessions import ACTIVE_CARE

if TYPE_CHECKING:
    from casemgmt.bootstrap import Container
    from tests.e2e.conftest import Caller


def plan(**fields: Any) -> dict[str, Any]:
    return {
        "kind": "conference",
        "topic": "Đối thoại chính sách BHXH tự nguyện với người lao động tự do",
        "unit": "thanhhoa",
        "line": "social",
        "scheduled_for": "2026-06-14T08:00:00+07:00",
        "place": "Nhà văn hoá huyện Đông Sơn",
        **fields,
    }


def question(**fields: Any) -> dict[str, Any]:
    return {
        "subject": "Đóng BHXH tự nguyện bao nhiêu năm thì được hưởng lương hưu?",
        "requester": {"kind": "citizen", "id": "0381234567", "name": "Lê Thị Hoa"},
        "question_ref": f"phieu-{uuid4().hex[:8]}",
        **fields,
    }


def scheduled(supervisor: Caller, **fields: Any) -> dict[str, Any]:
    response = supervisor.post("/api/v1/sessions", plan(**fields))
    assert response.status_code == 201, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def test_a_session_is_scheduled_held_and_its_questions_become_linked_in_person_cases(
    supervisor: Caller, agent: Caller, container: Container
) -> None:
    session = scheduled(supervisor)
    assert (session["status"], session["attendance"], session["questions"]) == (
        "scheduled",
        None,
        [],
    )
    held = supervisor.post(f"/api/v1/sessions/{session['id']}/held", {"attendance": 212})
    assert held.status_code == 200, held.get_json()
    assert (held.get_json()["status"], held.get_json()["attendance"]) == ("held", 212)

    raised = agent.post(f"/api/v1/sessions/{session['id']}/questions", question())
    assert raised.status_code == 201, raised.get_json()
    answer = raised.get_json()
    case = container.care_centre.get_case(UUID(answer["case_id"]))
    assert case.channel.value == "in_person"
    assert case.session_id == UUID(session["id"])
    assert (case.unit, case.category.line) == ("thanhhoa", "social")  # the session's, by default
    history = container.care_centre.history(case.id)
    assert history[0].actor["id"] == ACTIVE_CARE and history[0].cause == f"session:{session['id']}"
    linked = [e for e in history if type(e).__name__ == "LinkedToSession"]
    assert [e.actor["id"] for e in linked] == [agent.name]
    assert answer["session"]["questions"] == [
        {"case_id": answer["case_id"], "reference": case.reference}
    ]


def test_a_question_sent_again_finds_its_case_instead_of_opening_another(
    supervisor: Caller, agent: Caller
) -> None:
    session = scheduled(supervisor)
    supervisor.post(f"/api/v1/sessions/{session['id']}/held", {"attendance": 40})
    body = question()
    first = agent.post(f"/api/v1/sessions/{session['id']}/questions", body)
    again = agent.post(f"/api/v1/sessions/{session['id']}/questions", body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.get_json()["case_id"] == again.get_json()["case_id"]
    assert len(again.get_json()["session"]["questions"]) == 1


def test_questions_wait_until_the_session_is_held_and_it_is_held_once(
    supervisor: Caller, agent: Caller
) -> None:
    session = scheduled(supervisor)
    early = agent.post(f"/api/v1/sessions/{session['id']}/questions", question())
    assert early.status_code == 409, early.get_json()
    assert early.get_json()["session_status"] == "scheduled"
    supervisor.post(f"/api/v1/sessions/{session['id']}/held", {"attendance": 12})
    twice = supervisor.post(f"/api/v1/sessions/{session['id']}/held", {"attendance": 13})
    assert twice.status_code == 409, twice.get_json()
    assert "already recorded as held" in twice.get_json()["detail"]


def test_sessions_are_listed_by_kind_unit_and_status(supervisor: Caller, auditor: Caller) -> None:
    unit = "quangninh"
    conference = scheduled(supervisor, unit=unit)
    qa = scheduled(supervisor, unit=unit, kind="qa", scheduled_for="2026-06-01T08:00:00+07:00")
    supervisor.post(f"/api/v1/sessions/{qa['id']}/held", {"attendance": 30})
    listed = auditor.get(f"/api/v1/sessions?unit={unit}")
    assert listed.status_code == 200, listed.get_json()
    assert [s["id"] for s in listed.get_json()] == [qa["id"], conference["id"]]  # soonest first
    held = auditor.get(f"/api/v1/sessions?unit={unit}&status=held").get_json()
    assert [s["id"] for s in held] == [qa["id"]]
    conferences = auditor.get(f"/api/v1/sessions?unit={unit}&kind=conference").get_json()
    assert [s["id"] for s in conferences] == [conference["id"]]
    assert auditor.get(f"/api/v1/sessions/{qa['id']}").get_json()["attendance"] == 30


def test_bad_session_input_is_refused_with_what_is_wrong(supervisor: Caller) -> None:
    unknown_unit = supervisor.post("/api/v1/sessions", plan(unit="atlantis"))
    assert unknown_unit.status_code == 422
    assert "hanoi" in unknown_unit.get_json()["errors"]["unit"][0]  # the valid ones are listed
    no_zone = supervisor.post("/api/v1/sessions", plan(scheduled_for="2026-06-14T08:00:00"))
    assert no_zone.status_code == 422 and "scheduled_for" in no_zone.get_json()["errors"]
    missing = supervisor.post(f"/api/v1/sessions/{uuid4()}/held", {"attendance": 1})
    assert missing.status_code == 404
    assert missing.get_json()["type"].endswith("session-not-found")
    negative = supervisor.post(f"/api/v1/sessions/{uuid4()}/held", {"attendance": -1})
    assert negative.status_code == 422


def test_who_may_plan_record_and_raise_questions(
    supervisor: Caller, agent: Caller, intake: Caller, auditor: Caller
) -> None:
    assert agent.post("/api/v1/sessions", plan()).status_code == 403
    session = scheduled(supervisor)
    held = f"/api/v1/sessions/{session['id']}/held"
    assert agent.post(held, {"attendance": 5}).status_code == 403
    assert supervisor.post(held, {"attendance": 5}).status_code == 200
    questions = f"/api/v1/sessions/{session['id']}/questions"
    assert intake.post(questions, question()).status_code == 403
    assert auditor.post(questions, question()).status_code == 403
    assert intake.get("/api/v1/sessions").status_code == 403
