"""The README's tour, run as written against a real `casemgmt serve` (gunicorn) process."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

    from casemgmt.settings import Settings

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
BIN = Path(sys.executable).parent


def _tour_script(port: int) -> str:
    text = README.read_text()
    section = text.split("## A tour with curl", 1)[1]
    script = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert script is not None, "the README's tour has no shell block"
    # Run as written, but on this test's port and with this environment's casemgmt.
    return script.group(1).replace(":8000", f":{port}").replace(".venv/bin/", f"{BIN}/")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def served(app_settings: Settings, tmp_path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    assert app_settings.database_url is not None
    assert app_settings.redis_url is not None
    env = {
        **os.environ,
        "CASEMGMT_DATABASE_URL": app_settings.database_url,
        "CASEMGMT_REDIS_URL": app_settings.redis_url,
        "CASEMGMT_DATA_DIR": str(tmp_path),
    }
    port = _free_port()
    server = subprocess.Popen(
        [str(BIN / "casemgmt"), "serve", "--port", str(port), "--workers", "1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_until_healthy(port, server)
        yield port, env
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)


def _wait_until_healthy(port: int, server: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert server.poll() is None, (
            f"casemgmt serve exited: {server.stderr and server.stderr.read()}"
        )
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("casemgmt serve did not become healthy within 30 s")


def test_the_readme_tour_takes_an_email_case_from_intake_to_closed_with_a_rating(
    served: tuple[int, dict[str, str]],
) -> None:
    port, env = served
    # The tour's account names must be new in this database; suffix them per run.
    suffix = f"-{os.getpid()}-{port}"
    script = _tour_script(port)
    for name in ("mail-gateway", "lan.nguyen", "mai.tran"):
        script = script.replace(f"user add {name} ", f"user add {name}{suffix} ")
    script = script.replace('"agent": "lan.nguyen"', f'"agent": "lan.nguyen{suffix}"')
    script = script.replace("<20261124.1@mail.example.vn>", f"<tour{suffix}@mail.example.vn>")
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    outputs = [line for line in result.stdout.splitlines() if line.strip()]
    history = json.loads(outputs[-2])
    at_version = json.loads(outputs[-1])
    assert [entry["type"] for entry in history] == [
        "Received",
        "SlaClockStarted",
        "SlaClockStarted",
        "Triaged",  # still the catch-all target (social/procedure, normal): no recompute
        "Assigned",
        "Replied",
        "SlaClockStopped",  # first_response
        "Resolved",
        "SlaClockStopped",  # resolution
        "SurveyRequested",  # the mail gateway sends the survey
        "FeedbackRecorded",
        "Closed",
    ]
    assert json.loads(outputs[-3])["status"] == "closed"
    # The tour reads the case just triaged: version 4, after its intake's three events.
    assert (at_version["version"], at_version["status"]) == (4, "triaged"), (
        "the README's tour should read ?version=4, the case as it stood just after the triage"
    )
    assert at_version["requester"]["name"] == "Nguyễn Văn A"
    assert {name: clock["state"] for name, clock in at_version["sla"].items()} == {
        "first_response": "running",
        "resolution": "running",
    }
