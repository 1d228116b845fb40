"""No lost update over HTTP: 20 callers at once on one case, through a real threaded server."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import pytest
import requests
from werkzeug.serving import make_server

from casemgmt.domain import Role
from tests.e2e.conftest import inquiry, new_token

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from flask import Flask

    from casemgmt.bootstrap import Container

CALLERS = 20


@pytest.fixture(scope="module")
def base_url(app: Flask) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/api/v1"
    finally:
        server.shutdown()
        thread.join(timeout=10)


def all_at_once(calls: list[Callable[[], requests.Response]]) -> list[requests.Response]:
    """Runs the calls in threads released together by a barrier."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], requests.Response]) -> requests.Response:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def bearer(token: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **headers}


def versions_in_history(base_url: str, case_id: str, token: str) -> list[int]:
    history = requests.get(f"{base_url}/cases/{case_id}/history", headers=bearer(token), timeout=30)
    return [entry["version"] for entry in history.json()]


def open_case(base_url: str, token: str) -> dict[str, Any]:
    response = requests.post(f"{base_url}/cases", json=inquiry(), headers=bearer(token), timeout=30)
    assert response.status_code == 201
    case: dict[str, Any] = response.json()
    return case


def test_twenty_conflicting_assignments_with_one_if_match_have_exactly_one_winner(
    base_url: str, container: Container
) -> None:
    supervisor = new_token(container, Role.SUPERVISOR)
    case = open_case(base_url, new_token(container, Role.INTAKE))
    url = f"{base_url}/cases/{case['id']}/assign"

    def assign_to(agent: str) -> Callable[[], requests.Response]:
        headers = bearer(supervisor, **{"If-Match": '"1"'})
        return lambda: requests.post(url, json={"agent": agent}, headers=headers, timeout=60)

    responses = all_at_once([assign_to(f"agent-{n}") for n in range(CALLERS)])

    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) == 1, statuses
    assert set(statuses) - {200} <= {409, 412}
    for loser in (r for r in responses if r.status_code != 200):
        assert loser.headers["Content-Type"] == "application/problem+json"
    winner = next(r for r in responses if r.status_code == 200).json()
    assert winner["version"] == 2
    assert versions_in_history(base_url, case["id"], supervisor) == [1, 2]


def test_twenty_notes_at_once_each_either_saved_or_refused_with_no_gap_in_versions(
    base_url: str, container: Container
) -> None:
    supervisor = new_token(container, Role.SUPERVISOR)
    case = open_case(base_url, new_token(container, Role.INTAKE))
    url = f"{base_url}/cases/{case['id']}/note"

    def note(n: int) -> Callable[[], requests.Response]:
        return lambda: requests.post(
            url, json={"text": f"note {n}"}, headers=bearer(supervisor), timeout=60
        )

    responses = all_at_once([note(n) for n in range(CALLERS)])

    saved = [r for r in responses if r.status_code == 200]
    assert {r.status_code for r in responses} <= {200, 409}
    for conflict in (r.json() for r in responses if r.status_code == 409):
        assert conflict["case_status"] == "received"
        assert "note" in conflict["allowed_actions"]
    assert saved
    versions = versions_in_history(base_url, case["id"], supervisor)
    assert versions == list(range(1, len(saved) + 2))
    assert sorted(r.json()["version"] for r in saved) == versions[1:]


def test_a_mix_of_conflicting_actions_has_one_winner_per_version(
    base_url: str, container: Container
) -> None:
    admin = new_token(container, Role.ADMIN)
    case = open_case(base_url, new_token(container, Role.INTAKE))
    bodies = {
        "triage": {"category": {"line": "social"}, "priority": "high"},
        "assign": {"agent": "agent-x"},
        "merge": {"into": open_case(base_url, admin)["id"]},
        "escalate": {"reason": "gấp"},
        "transfer": {"unit": "danang", "reason": "địa bàn"},
    }

    def act(action: str) -> Callable[[], requests.Response]:
        url = f"{base_url}/cases/{case['id']}/{action}"
        headers = bearer(admin, **{"If-Match": "1"})
        return lambda: requests.post(url, json=bodies[action], headers=headers, timeout=60)

    actions = [action for _ in range(CALLERS // len(bodies)) for action in bodies]
    responses = all_at_once([act(action) for action in actions])

    statuses = [r.status_code for r in responses]
    assert statuses.count(200) == 1, statuses
    assert set(statuses) - {200} <= {409, 412}
    assert versions_in_history(base_url, case["id"], admin) == [1, 2]
