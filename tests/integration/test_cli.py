"""The `casemgmt` command as an operator runs it: its output, and one clear line when set wrong."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from casemgmt.domain import Actor, Channel, Context, Requester, RequesterKind, Role

if TYPE_CHECKING:
    from pathlib import Path

    from casemgmt.bootstrap import Container
    from casemgmt.settings import Settings


def casemgmt(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "casemgmt.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def configured(settings: Settings) -> dict[str, str]:
    assert settings.database_url is not None
    assert settings.redis_url is not None
    return {
        "CASEMGMT_DATABASE_URL": settings.database_url,
        "CASEMGMT_REDIS_URL": settings.redis_url,
    }


def test_user_add_prints_the_new_token_alone_on_its_last_line(
    app_settings: Settings, container: Container
) -> None:
    name = f"hoa.le-{uuid.uuid4().hex[:8]}"
    result = casemgmt("user", "add", name, "--role", "agent", env=configured(app_settings))
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip().splitlines()[-1]
    account = container.accounts.authenticate(token)
    assert account is not None
    assert account.name == name


def test_user_add_with_an_unknown_role_says_which_roles_exist(app_settings: Settings) -> None:
    result = casemgmt("user", "add", "x", "--role", "janitor", env=configured(app_settings))
    assert result.returncode == 2
    assert "invalid choice: 'janitor'" in result.stderr
    assert "agent" in result.stderr


def test_migrate_on_an_up_to_date_database_says_so(app_settings: Settings) -> None:
    result = casemgmt("migrate", env=configured(app_settings))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "the schema is up to date"


def _one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def test_an_unreachable_database_url_stops_with_one_clear_line(servers: Settings) -> None:
    env = {**configured(servers), "CASEMGMT_DATABASE_URL": "postgresql://app:pw@127.0.0.1:1/x"}
    line = _one_line_error(casemgmt("migrate", env=env))
    assert "cannot connect to the database at postgresql://app:***@127.0.0.1:1/x" in line
    assert "CASEMGMT_DATABASE_URL" in line


def test_an_unknown_database_user_stops_with_one_clear_line(servers: Settings) -> None:
    assert servers.database_url is not None
    bad = servers.database_url.replace("postgres@", "nobody_here@", 1)
    line = _one_line_error(
        casemgmt("migrate", env={**configured(servers), "CASEMGMT_DATABASE_URL": bad})
    )
    assert "nobody_here" in line
    assert "CASEMGMT_DATABASE_URL" in line


def test_a_url_that_is_not_a_database_url_is_refused_in_one_line(servers: Settings) -> None:
    env = {**configured(servers), "CASEMGMT_DATABASE_URL": "mysql://localhost/x"}
    line = _one_line_error(casemgmt("migrate", env=env))
    assert "CASEMGMT_DATABASE_URL='mysql://localhost/x'" in line
    assert "postgresql://" in line


def test_an_unwritable_data_directory_stops_with_one_clear_line(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    env = {
        "CASEMGMT_DATABASE_URL": "",
        "CASEMGMT_REDIS_URL": "",
        "CASEMGMT_DATA_DIR": str(blocker / "var"),
    }
    line = _one_line_error(casemgmt("migrate", env=env))
    assert "is not writable" in line
    assert "CASEMGMT_DATA_DIR" in line


def test_rebuild_replays_the_event_store_into_each_projection(
    app_settings: Settings, container: Container
) -> None:
    container.care_centre.open_case(
        channel=Channel.PHONE,
        subject="Hỏi về trợ cấp thất nghiệp",
        requester=Requester(kind=RequesterKind.CITIZEN, id=None, name="Trần Thị B"),
        ctx=Context(Actor("switchboard", Role.INTAKE), datetime.now(UTC), "cli-test", "api"),
    )
    recorded = container.care_centre.recorder.max_notification_id() or 0
    result = casemgmt("rebuild", "--projection", "case_summaries", env=configured(app_settings))
    assert result.returncode == 0, result.stderr
    # Refused writes leave gaps in the ids, and other tests may still be writing: so the number
    # replayed is not the last id, but the rebuilt position must reach what was recorded before.
    assert int(result.stdout.strip().split()[-2]) > 0
    position = container.projections.positions(["case_summaries"])["case_summaries"]
    assert position is not None
    assert position >= recorded


def test_rebuild_of_an_unknown_projection_names_the_known_ones(app_settings: Settings) -> None:
    line = _one_line_error(
        casemgmt("rebuild", "--projection", "nonsense", env=configured(app_settings))
    )
    assert "no projection is named 'nonsense'" in line
    assert "case_summaries" in line


def test_a_worker_takes_the_projections_and_stops_cleanly_on_sigterm(
    app_settings: Settings, container: Container
) -> None:
    worker = subprocess.Popen(
        [sys.executable, "-m", "casemgmt.cli", "worker"],
        env={**os.environ, **configured(app_settings)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while len(container.projections.holders()) < len(container.projections.names):
            assert time.monotonic() < deadline, "the worker never took the projections"
            assert worker.poll() is None, worker.stderr.read() if worker.stderr else ""
            time.sleep(0.2)
        assert all(
            holder.startswith(f"{worker.pid}@")
            for holder in container.projections.holders().values()
        )
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0
    assert container.projections.holders() == {}
