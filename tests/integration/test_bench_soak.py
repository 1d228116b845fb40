"""`bench/soak.py` finds an acknowledged write the server no longer has: its loss check reads every
acknowledged open and note back, and counts the case list against the opens acknowledged."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import uuid4

import pytest

from casemgmt.api import create_app

if TYPE_CHECKING:
    from casemgmt.bootstrap import Container

BENCH = Path(__file__).resolve().parents[2] / "bench" / "soak.py"
API = "/api/v1"


@pytest.fixture(scope="module")
def soak() -> Any:
    spec = importlib.util.spec_from_file_location("bench_soak", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_the_soak_reports_an_acknowledged_open_and_note_the_server_does_not_have(
    soak: Any, container: Container
) -> None:
    client = create_app(container.settings, container).test_client()
    _, intake = container.accounts.add(f"intake-{uuid4().hex[:8]}", "intake")
    _, supervisor = container.accounts.add(f"supervisor-{uuid4().hex[:8]}", "supervisor")

    def send(method: str, path: str, token: str, body: Any = None) -> Any:
        response = client.open(path, method=method, json=body, headers=bearer(token))
        assert response.status_code in (200, 201), response.get_json()
        return response.get_json()

    inquiry = {**soak.INQUIRY, "external_ref": f"<{uuid4().hex}@soak.example.vn>"}
    kept = send("POST", f"{API}/cases", intake, inquiry)["id"]
    send("POST", f"{API}/cases/{kept}/note", supervisor, {"text": "Đã gọi lại (kept)."})

    def read(path: str) -> tuple[int, Any]:
        response = client.get(path, headers=bearer(supervisor))
        return response.status_code, response.get_json()

    never_opened = str(uuid4())
    acknowledged = soak.Acknowledged(
        opens=[kept, never_opened],
        notes={kept: ["Đã gọi lại (kept).", "Đã gọi lại (never written)."]},
    )
    lost = soak.lost_writes(read, acknowledged)

    assert len(lost) == 2, lost
    assert never_opened in lost[0]
    assert "never written" in lost[1]
    assert not any("(kept)" in line for line in lost)


@pytest.mark.parametrize(
    ("listed", "acknowledged", "unanswered", "lost"),
    [
        (11, 11, 0, False),
        (10, 11, 0, True),  # an acknowledged open is missing from the case list
        (12, 11, 1, False),  # an open that got no answer was recorded
        (13, 11, 1, True),  # more cases than were ever asked for
    ],
)
def test_the_soak_counts_the_case_list_against_the_opens_acknowledged(
    soak: Any, listed: int, acknowledged: int, unanswered: int, lost: bool
) -> None:
    assert (soak.list_count_lost(listed, acknowledged, unanswered) is not None) is lost


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
