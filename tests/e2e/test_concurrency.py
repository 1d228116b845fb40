"""No lost update over HTTP: 20 callers at once on one case, through a real threaded server.

Each race is made to reach the event store: while the callers send their commands, the test holds
the events table's EXCLUSIVE lock (which every write takes), so every command reads the case, runs
and tries to save before any of them commits. Then the lock goes, one save wins, and every other
save collides with it in the store, where only `CareCentre._save` turns the collision into a 409.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from typing import TYPE_CHECKING, Any
from uuid import uuid4

import psycopg2
import pytest
import requests
from werkzeug.serving import make_server

from casemgmt.domain import Role
from casemgmt.persistence.recorders import PostgresApplicationRecorder
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


def all_saving_at_once(
    container: Container, calls: list[Callable[[], requests.Response]]
) -> list[requests.Response]:
    """Runs the calls in threads; none of their saves commits before all of them try to save.

    Every call must save (no refusal before its save). The application's writes to its events
    table queue behind the lock the test holds: the first caller's write waits for the lock,
    the others wait in the recorder's group commit behind it.
    """
    recorder = container.care_centre.recorder
    assert isinstance(recorder, PostgresApplicationRecorder)
    assert container.settings.database_url is not None
    with ThreadPoolExecutor(len(calls)) as pool:
        with closing(psycopg2.connect(container.settings.database_url)) as holder:
            with holder.cursor() as cursor:
                cursor.execute("LOCK TABLE carecentre_events IN EXCLUSIVE MODE")
                futures = [pool.submit(call) for call in calls]
                deadline = time.monotonic() + 30
                while not (
                    _waiting_for_the_lock(cursor) == 1
                    and recorder.group_commit.queued == len(calls) - 1
                ):
                    assert time.monotonic() < deadline, "the commands did not all reach the store"
                    assert not any(future.done() for future in futures), "a command did not save"
                    time.sleep(0.01)
            holder.commit()
        return [future.result() for future in futures]


def _waiting_for_the_lock(cursor: psycopg2.extensions.cursor) -> int:
    cursor.execute(
        "SELECT count(*) FROM pg_locks"
        " WHERE relation = 'carecentre_events'::regclass AND NOT granted"
    )
    row = cursor.fetchone()
    return int(row[0]) if row else 0


def bearer(token: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **headers}


def history(base_url: str, case_id: str, token: str) -> list[tuple[int, str]]:
    """The case's events as (version, type), checked to be numbered 1, 2, 3 … with no gap."""
    response = requests.get(
        f"{base_url}/cases/{case_id}/history", headers=bearer(token), timeout=30
    )
    events = [(entry["version"], entry["type"]) for entry in response.json()]
    assert [version for version, _ in events] == list(range(1, len(events) + 1))
    return events


def of_types(events: list[tuple[int, str]], *types: str) -> list[int]:
    """The versions of the events of these types (a command may record clock events too)."""
    return [version for version, kind in events if kind in types]


def open_case(base_url: str, token: str) -> dict[str, Any]:
    response = requests.post(f"{base_url}/cases", json=inquiry(), headers=bearer(token), timeout=30)
    assert response.status_code == 201
    case: dict[str, Any] = response.json()
    return case


def problem_type(response: requests.Response) -> str:
    assert response.headers["Content-Type"] == "application/problem+json"
    return str(response.json()["type"]).rsplit(":", 1)[-1]


def test_save_conflict_of_twenty_assignments_with_one_if_match_exactly_one_wins(
    base_url: str, container: Container
) -> None:
    supervisor = new_token(container, Role.SUPERVISOR)
    case = open_case(base_url, new_token(container, Role.INTAKE))
    url = f"{base_url}/cases/{case['id']}/assign"

    def assign_to(agent: str) -> Callable[[], requests.Response]:
        headers = bearer(supervisor, **{"If-Match": f'"{case["version"]}"'})
        return lambda: requests.post(url, json={"agent": agent}, headers=headers, timeout=60)

    agents = [f"agent-{n}-{uuid4().hex[:6]}" for n in range(CALLERS)]
    for agent in agents:  # `assign` names accounts that may hold cases
        new_token(container, Role.AGENT, agent)
    responses = all_saving_at_once(container, [assign_to(agent) for agent in agents])

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [409] * (CALLERS - 1)  # every loser collided in the store
    winner = next(r for r in responses if r.status_code == 200).json()
    for loser in (r for r in responses if r.status_code != 200):
        assert problem_type(loser) == "concurrent-update"
        assert loser.json()["current_version"] == winner["version"]
    events = history(base_url, case["id"], supervisor)
    assert len(events) == winner["version"]
    assert len(of_types(events, "Assigned")) == 1


def test_save_conflict_of_twenty_notes_at_once_each_saved_one_has_its_own_version(
    base_url: str, container: Container
) -> None:
    supervisor = new_token(container, Role.SUPERVISOR)
    case = open_case(base_url, new_token(container, Role.INTAKE))
    url = f"{base_url}/cases/{case['id']}/note"

    def note(n: int) -> Callable[[], requests.Response]:
        return lambda: requests.post(
            url, json={"text": f"note {n}"}, headers=bearer(supervisor), timeout=60
        )

    # Without If-Match a command that lost is tried again on the new version, a few times.
    responses = all_saving_at_once(container, [note(n) for n in range(CALLERS)])

    saved = [r for r in responses if r.status_code == 200]
    assert {r.status_code for r in responses} <= {200, 409}
    for conflict in (r for r in responses if r.status_code == 409):
        assert problem_type(conflict) == "concurrent-update"
        assert conflict.json()["case_status"] == "received"
        assert "note" in conflict.json()["allowed_actions"]
    assert saved
    events = history(base_url, case["id"], supervisor)
    versions = sorted(r.json()["version"] for r in saved)
    assert len(set(versions)) == len(saved), f"two answers name one version: {versions}"
    assert len(of_types(events, "NoteAdded")) == len(saved)
    assert versions[-1] == len(events)


def test_save_conflict_of_a_mix_of_actions_with_one_if_match_exactly_one_wins(
    base_url: str, container: Container
) -> None:
    admin = new_token(container, Role.ADMIN)
    case = open_case(base_url, new_token(container, Role.INTAKE))
    agent = f"agent-x-{uuid4().hex[:6]}"
    new_token(container, Role.AGENT, agent)
    bodies: dict[str, dict[str, Any]] = {
        "triage": {"category": {"line": "social"}, "priority": "high"},
        "assign": {"agent": agent},
        "merge": {"into": open_case(base_url, admin)["id"]},
        "escalate": {"reason": "gấp"},
        "transfer": {"unit": "danang", "reason": "địa bàn"},
    }

    def act(action: str) -> Callable[[], requests.Response]:
        url = f"{base_url}/cases/{case['id']}/{action}"
        headers = bearer(admin, **{"If-Match": str(case["version"])})
        return lambda: requests.post(url, json=bodies[action], headers=headers, timeout=60)

    actions = [action for _ in range(CALLERS // len(bodies)) for action in bodies]
    responses = all_saving_at_once(container, [act(action) for action in actions])

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [409] * (len(actions) - 1), statuses
    winner = next(r for r in responses if r.status_code == 200).json()
    events = history(base_url, case["id"], admin)
    assert len(events) == winner["version"]
    commands = ("Triaged", "Assigned", "MergedInto", "Escalated", "Transferred")
    assert len(of_types(events, *commands)) == 1


def test_save_conflict_of_twenty_deliveries_of_one_message_opens_one_case(
    base_url: str, container: Container
) -> None:
    intake = new_token(container, Role.INTAKE)
    message = inquiry()

    def deliver() -> requests.Response:
        return requests.post(f"{base_url}/cases", json=message, headers=bearer(intake), timeout=60)

    responses = all_saving_at_once(container, [deliver] * CALLERS)

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * (CALLERS - 1) + [201]  # the others found the case the first opened
    assert len({r.json()["id"] for r in responses}) == 1
    reader = new_token(container, Role.SUPERVISOR)  # intake reads no history
    assert len(of_types(history(base_url, responses[0].json()["id"], reader), "Received")) == 1
