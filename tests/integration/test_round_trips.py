"""How many round trips to PostgreSQL each command of the API costs, counted, not estimated.

Every query sent on the container's pool is counted per thread (`ConnectionPool.round_trips`),
and the Flask test client runs each request on the test's own thread, so a request's count is
exactly the queries that request sent: not the reads written in the background
(`persistence/reads.py`), not the projections. The target (issue 12): at most two per command
once the caches are warm. `-s` prints the counts:

    pytest -s tests/integration/test_round_trips.py
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast
from uuid import UUID, uuid4

import pytest

from casemgmt.api import create_app
from casemgmt.application.directory import TokenRefused
from casemgmt.bootstrap import build
from casemgmt.domain import Role
from casemgmt.domain.routing import DEFAULT_ROUTING
from casemgmt.persistence.accounts import Accounts, SignIns
from tests.support.servers import OwnQueuePerUnit, UnitsOfTests, own_queue

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from flask.testing import FlaskClient
    from werkzeug.test import TestResponse

    from casemgmt.bootstrap import Container
    from casemgmt.domain import Case
    from casemgmt.persistence.shredding import ShreddingMapper

# At most this many round trips per command in steady state.
BUDGET = 2
# Commands of each kind counted after the warm-up; a reference block refill falls among them.
ROUNDS = 60
# Where the tests' own account stores count their generations (not the container's key).
GENERATION_KEY = f"casemgmt-test:{uuid4().hex}:accounts:generation"


class Counted:
    """The test client speaking as one account, counting each request's round trips."""

    def __init__(self, client: FlaskClient, container: Container, name: str, token: str) -> None:
        self.client = client
        self.name = name
        self.round_trips = container.datastore.pool.round_trips
        self.token = token

    def request(
        self, method: str, path: str, body: Any = None, **headers: str
    ) -> tuple[TestResponse, int]:
        before = self.round_trips.count()
        response = self.client.open(
            path,
            method=method,
            json=body,
            headers={"Authorization": f"Bearer {self.token}", **headers},
        )
        return response, self.round_trips.count() - before


@pytest.fixture(scope="module")
def callers(container: Container) -> Callable[[Role], Counted]:
    app = create_app(container.settings, container)

    def make(role: Role) -> Counted:
        name = f"{role}-{uuid4().hex[:8]}"
        _, token = container.accounts.add(name, role)
        return Counted(app.test_client(), container, name, token)

    return make


def inquiry(external_ref: str, requester_id: str = "0123456789") -> dict[str, Any]:
    return {
        "channel": "email",
        "external_ref": external_ref,
        "subject": "Chưa nhận được sổ BHXH",
        "body": "Tôi đã nộp hồ sơ từ tháng trước nhưng chưa nhận được sổ.",
        "requester": {"kind": "citizen", "id": requester_id, "name": "Nguyễn Văn A"},
        "category": {"line": "social", "kind": "procedure"},
        "unit": "hanoi",
    }


class Tally:
    """The counts of each kind of command, printed at the end of the module."""

    def __init__(self) -> None:
        self.counts: dict[str, list[int]] = {}

    def add(self, kind: str, count: int) -> None:
        self.counts.setdefault(kind, []).append(count)

    def lines(self) -> Iterator[str]:
        for kind, counts in self.counts.items():
            mean = sum(counts) / len(counts)
            yield f"{kind:<44} max {max(counts)}  mean {mean:.2f}  ({len(counts)} requests)"


@pytest.fixture(scope="module")
def tally() -> Iterator[Tally]:
    counted = Tally()
    yield counted
    print("\ndatabase round trips per command (steady state):")
    for line in counted.lines():
        print("  " + line)


def opened(intake: Counted, external_ref: str, requester_id: str = "0123456789") -> str:
    response, _ = intake.request("POST", "/api/v1/cases", inquiry(external_ref, requester_id))
    assert response.status_code == 201, response.get_json()
    case_id: str = response.get_json()["id"]
    return case_id


def test_an_intake_costs_at_most_two_round_trips(
    callers: Callable[[Role], Counted], tally: Tally
) -> None:
    intake = callers(Role.INTAKE)
    opened(intake, f"warm-{uuid4()}")  # warms the token, the requester's key, the references
    for _ in range(ROUNDS):
        body = inquiry(f"mail-{uuid4()}")
        response, count = intake.request("POST", "/api/v1/cases", body)
        assert response.status_code == 201, response.get_json()
        tally.add("POST /cases (new case, known requester)", count)
        again, repeat = intake.request("POST", "/api/v1/cases", body)
        assert again.status_code == 200, again.get_json()
        assert again.get_json()["id"] == response.get_json()["id"]
        tally.add("POST /cases (same external_ref again)", repeat)
    assert max(tally.counts["POST /cases (new case, known requester)"]) <= BUDGET
    assert max(tally.counts["POST /cases (same external_ref again)"]) <= BUDGET


def test_an_intake_for_a_new_requester_costs_at_most_two_round_trips(
    callers: Callable[[Role], Counted], tally: Tally
) -> None:
    intake = callers(Role.INTAKE)
    opened(intake, f"warm-{uuid4()}")
    for _ in range(ROUNDS):
        body = inquiry(f"mail-{uuid4()}", requester_id=uuid4().hex[:12])
        response, count = intake.request("POST", "/api/v1/cases", body)
        assert response.status_code == 201, response.get_json()
        tally.add("POST /cases (new case, new requester)", count)
    # A new requester's key is one round trip (references come in blocks, taken in the
    # background).
    assert max(tally.counts["POST /cases (new case, new requester)"]) <= BUDGET


def test_an_agent_action_with_if_match_costs_at_most_two_round_trips(
    callers: Callable[[Role], Counted], tally: Tally
) -> None:
    intake, agent = callers(Role.INTAKE), callers(Role.AGENT)
    case_ids = [opened(intake, f"mail-{uuid4()}") for _ in range(ROUNDS + 1)]
    for number, case_id in enumerate(case_ids):
        taken, _ = agent.request("POST", f"/api/v1/cases/{case_id}/assign", {})
        assert taken.status_code == 200, taken.get_json()
        response, count = agent.request(
            "POST",
            f"/api/v1/cases/{case_id}/note",
            {"text": "Đã kiểm tra hồ sơ."},
            **{"If-Match": taken.headers["ETag"]},
        )
        assert response.status_code == 200, response.get_json()
        if number:  # the first one warms the token
            tally.add("POST /cases/{id}/note with If-Match (agent)", count)
    assert max(tally.counts["POST /cases/{id}/note with If-Match (agent)"]) <= BUDGET


@pytest.mark.parametrize("role", [Role.SUPERVISOR, Role.INTAKE])
def test_a_case_read_costs_at_most_two_round_trips(
    callers: Callable[[Role], Counted], tally: Tally, role: Role
) -> None:
    intake = callers(Role.INTAKE)
    reader = intake if role is Role.INTAKE else callers(role)
    case_ids = [opened(intake, f"mail-{uuid4()}") for _ in range(ROUNDS + 1)]
    kind = f"GET /cases/{{id}} ({role})"
    for number, case_id in enumerate(case_ids):
        response, count = reader.request("GET", f"/api/v1/cases/{case_id}")
        assert response.status_code == 200, response.get_json()
        if number:
            tally.add(kind, count)
    assert max(tally.counts[kind]) <= BUDGET


def test_a_claim_costs_at_most_two_round_trips(
    container: Container, callers: Callable[[Role], Counted], tally: Tally
) -> None:
    """A claim loads the case it took off the queue and saves its assignment: it does not load
    it a second time to assign it."""
    queue = own_queue()
    intake, supervisor, agent = callers(Role.INTAKE), callers(Role.SUPERVISOR), callers(Role.AGENT)
    routing = OwnQueuePerUnit(DEFAULT_ROUTING.rules, DEFAULT_ROUTING.default_queue)
    projecting = build(container.settings, routing=routing, taxonomy=UnitsOfTests())
    try:
        with projecting.projections.worker(["work_queues"], lock_retry_seconds=0.1):
            for _ in range(ROUNDS // 4 + 1):
                case_id = opened(intake, f"mail-{uuid4()}")
                body = {"category": {}, "priority": "low", "unit": queue}
                triaged, _ = supervisor.request("POST", f"/api/v1/cases/{case_id}/triage", body)
                assert triaged.status_code == 200, triaged.get_json()
            assert projecting.projections.wait_until_caught_up(names=["work_queues"], timeout=30)
    finally:
        projecting.close()
    for number in range(ROUNDS // 4 + 1):
        response, count = agent.request("POST", f"/api/v1/queues/{queue}/claim")
        assert response.status_code == 200, response.get_json()
        assert response.get_json()["assignee"] == agent.name
        if number:  # the first one warms the token
            tally.add("POST /queues/{name}/claim (agent)", count)
    emptied, _ = agent.request("POST", f"/api/v1/queues/{queue}/claim")
    assert emptied.status_code == 204
    assert max(tally.counts["POST /queues/{name}/claim (agent)"]) <= BUDGET


# -- the mechanisms that keep the savings safe --------------------------------------------------


def test_the_generation_check_refuses_a_remembered_token_of_an_account_disabled_elsewhere(
    container: Container,
) -> None:
    """One process remembers a verified token; another disables (then rotates) the account; the
    first process's next request is judged on the database."""
    here = Accounts(container.datastore, sign_ins=SignIns(container.redis, GENERATION_KEY))
    elsewhere = Accounts(container.datastore, sign_ins=SignIns(container.redis, GENERATION_KEY))
    name = f"agent-{uuid4().hex[:8]}"
    _, token = elsewhere.add(name, Role.AGENT)
    round_trips = container.datastore.pool.round_trips
    here.verify(token)
    before = round_trips.count()
    assert here.verify(token).name == name
    assert round_trips.count() == before  # remembered: no round trip

    elsewhere.disable(name)
    with pytest.raises(TokenRefused, match="disabled"):
        here.verify(token)
    elsewhere.enable(name)
    assert here.verify(token).name == name
    _, rotated = elsewhere.rotate(name)
    with pytest.raises(TokenRefused, match="unknown"):
        here.verify(token)
    assert here.verify(rotated).name == name


def test_the_key_link_in_the_write_refuses_a_cached_key_destroyed_meanwhile(
    container: Container, callers: Callable[[Role], Counted]
) -> None:
    """The process holds a requester's key; an erasure elsewhere destroys it; the next case of the
    requester is sealed under a new, live key (not the destroyed one, which would leave it
    unreadable from the start) and linked to it."""
    intake, supervisor = callers(Role.INTAKE), callers(Role.SUPERVISOR)
    requester_id = uuid4().hex[:12]
    opened(intake, f"mail-{uuid4()}", requester_id)  # this process now holds the key
    container.datastore.execute(
        "UPDATE requester_keys SET key = NULL, requester_hash = NULL, erased_at = now()"
        " WHERE key_id IN (SELECT key_id FROM requester_keys k JOIN requester_key_cases c"
        " USING (key_id) WHERE c.case_id = ANY(%s::uuid[]))",
        [[UUID(case_id) for case_id in _cases_of(container, requester_id)]],
    )
    case_id = opened(intake, f"mail-{uuid4()}", requester_id)

    response, _ = supervisor.request("GET", f"/api/v1/cases/{case_id}")
    assert response.get_json()["requester"]["id"] == requester_id  # readable: a live key
    rows = container.datastore.execute(
        "SELECT k.key IS NOT NULL FROM requester_key_cases c JOIN requester_keys k"
        " USING (key_id) WHERE c.case_id = %s",
        [UUID(case_id)],
    )
    assert rows == [(True,)]


def _cases_of(container: Container, requester_id: str) -> list[str]:
    keys = cast("ShreddingMapper", container.care_centre.mapper).keys
    key_id = keys.find(requester_id)
    assert key_id is not None
    return [str(case_id) for case_id in keys.cases_of(key_id)]


def test_a_repeated_delivery_gives_its_reference_back(callers: Callable[[Role], Counted]) -> None:
    intake = callers(Role.INTAKE)
    body = inquiry(f"mail-{uuid4()}")
    first, _ = intake.request("POST", "/api/v1/cases", body)
    again, _ = intake.request("POST", "/api/v1/cases", body)
    second, _ = intake.request("POST", "/api/v1/cases", inquiry(f"mail-{uuid4()}"))
    assert again.status_code == 200
    number = [int(r.get_json()["reference"].rsplit("-", 1)[1]) for r in (first, second)]
    assert number[1] == number[0] + 1


def test_the_one_query_load_reads_a_snapshot_and_the_events_after_it(
    container: Container, callers: Callable[[Role], Counted]
) -> None:
    intake, supervisor = callers(Role.INTAKE), callers(Role.SUPERVISOR)
    case_id = UUID(opened(intake, f"mail-{uuid4()}"))
    for number in range(55):
        response, _ = supervisor.request(
            "POST", f"/api/v1/cases/{case_id}/note", {"text": f"ghi chú {number}"}
        )
        assert response.status_code == 200
    centre = container.care_centre
    snapshots = centre.snapshots
    assert snapshots is not None and list(snapshots.get(case_id))  # one was taken
    loaded = centre.get_case(case_id)
    replayed = cast("Case", centre.repository.get(case_id))
    assert loaded.version == replayed.version >= 56
    assert [note.text for note in loaded.notes] == [note.text for note in replayed.notes]
    assert loaded.__dict__ == replayed.__dict__
