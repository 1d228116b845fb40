"""`casemgmt serve` as a real process: slow clients cannot starve it, the server's own refusals
are problem+json, its access log is JSON lines without queries, and its command line is clear."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import TYPE_CHECKING
from uuid import uuid4

import pytest

from casemgmt.domain import Role
from tests.e2e.conftest import new_token

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from casemgmt.bootstrap import Container
    from casemgmt.settings import Settings

READ_TIMEOUT = 2
MAX_BODY = 100_000
SLOW_CLIENTS = 100


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    port: int
    stdout: Path
    stderr: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.stdout.read_text(encoding="utf-8")


def free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port: int = probe.getsockname()[1]
        return port


def casemgmt_env(settings: Settings, **extra: str) -> dict[str, str]:
    assert settings.database_url is not None and settings.redis_url is not None
    return {
        **os.environ,
        "CASEMGMT_DATABASE_URL": settings.database_url,
        "CASEMGMT_REDIS_URL": settings.redis_url,
        "CASEMGMT_REDIS_PREFIX": f"{settings.redis_key_prefix}:{uuid4().hex[:8]}",
        **extra,
    }


def get(url: str, token: str | None = None, timeout: float = 5) -> tuple[int, bytes]:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.fixture(scope="module")
def served(app_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`casemgmt serve` as an operator starts it (2 workers of 8 threads), on the session's
    database, with a short read timeout and a small body limit to reach them quickly."""
    folder = tmp_path_factory.mktemp("served")
    port = free_port()
    env = casemgmt_env(
        app_settings,
        CASEMGMT_RATE_LIMIT="off",  # the tests below measure the server, not the limits
        CASEMGMT_MAX_REQUEST_BYTES=str(MAX_BODY),
        CASEMGMT_DATA_DIR=str(folder),
    )
    command = [sys.executable, "-m", "casemgmt.cli", "serve", "--port", str(port)]
    command += ["--workers", "2", "--threads", "8", "--read-timeout", str(READ_TIMEOUT)]
    stdout, stderr = folder / "stdout.log", folder / "stderr.log"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=err)
    server = Served(process, port, stdout, stderr)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, stderr.read_text()
            try:
                if get(f"{server.base}/api/v1/health", timeout=2)[0] == 200:
                    break
            except OSError:
                assert time.monotonic() < deadline, "casemgmt serve never answered"
                time.sleep(0.3)
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=30)
    assert code == 0, f"casemgmt serve did not stop cleanly: {stderr.read_text()[-2000:]}"
    # worker_exit stops the projections and writes the pending reads; it must not have failed.
    assert "Exception during worker exit" not in stderr.read_text()


def partial_requests(port: int, count: int) -> list[socket.socket]:
    """Connections that send half a request line and then nothing (slowloris)."""
    sockets = []
    for _ in range(count):
        each = socket.create_connection(("127.0.0.1", port))
        each.sendall(b"GET /api/v1/health HT")
        sockets.append(each)
    return sockets


def raw_exchange(port: int, data: bytes) -> tuple[int, dict[str, str], dict[str, object]]:
    """Sends raw bytes; the status, headers and JSON body of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        # The server may answer and close before it read everything: its answer is read below.
        with contextlib.suppress(OSError):
            conn.sendall(data)
        received = b""
        while b"\r\n\r\n" not in received or not _complete(received):
            chunk = conn.recv(65536)
            if not chunk:
                break
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines)}
    return int(status_line.split()[1]), headers, json.loads(body)


def _complete(received: bytes) -> bool:
    head, _, body = received.partition(b"\r\n\r\n")
    for line in head.decode("latin-1").split("\r\n"):
        if line.lower().startswith("content-length:"):
            return len(body) >= int(line.split(":", 1)[1])
    return False


# -- slow clients --------------------------------------------------------------------------------


def test_slow_clients_cannot_occupy_the_request_threads(served: Served) -> None:
    slow = partial_requests(served.port, SLOW_CLIENTS)
    try:
        time.sleep(0.5)  # every slow connection accepted and sitting on its half line
        durations = []
        for _ in range(50):
            started = time.perf_counter()
            status, _ = get(f"{served.base}/api/v1/health", timeout=5)
            durations.append(time.perf_counter() - started)
            assert status == 200
    finally:
        for each in slow:
            each.close()
    durations.sort()
    p99 = durations[int(len(durations) * 0.99) - 1]
    assert p99 < 0.2, f"health p99 {p99 * 1000:.0f} ms with {SLOW_CLIENTS} slow clients"


def test_a_connection_that_stops_sending_is_closed_after_the_read_timeout(
    served: Served,
) -> None:
    (stalled,) = partial_requests(served.port, 1)
    stalled.settimeout(READ_TIMEOUT * 4)
    started = time.monotonic()
    with stalled:
        assert stalled.recv(100) == b"", "closed without an answer"
    assert time.monotonic() - started >= READ_TIMEOUT * 0.9


# -- the server's own refusals -------------------------------------------------------------------


def assert_server_problem(
    answer: tuple[int, dict[str, str], dict[str, object]], status: int
) -> str:
    code, headers, body = answer
    assert code == status, body
    assert headers["content-type"] == "application/problem+json"
    assert body["status"] == status
    assert body["correlation_id"] == headers["x-correlation-id"]
    assert headers["x-content-type-options"] == "nosniff"
    return str(body["detail"])


def test_a_head_too_large_is_431_problem_json(served: Served) -> None:
    url = "/api/v1/cases?text=" + "a" * 300_000
    answer = raw_exchange(served.port, f"GET {url} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert "262144 bytes" in assert_server_problem(answer, 431)


def test_a_chunked_body_too_large_is_413_problem_json(served: Served) -> None:
    chunk = b"x" * 10_000
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(MAX_BODY // 10_000 + 2))
    head = b"POST /api/v1/cases HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    request = head + b"Transfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n"
    answer = raw_exchange(served.port, request)
    assert f"{MAX_BODY} bytes" in assert_server_problem(answer, 413)


def test_a_request_that_is_not_http_is_400_problem_json(served: Served) -> None:
    assert_server_problem(raw_exchange(served.port, b"HELLO\r\n\r\n"), 400)


def test_every_answer_ends_with_a_newline_the_servers_own_problems_too(served: Served) -> None:
    assert get(f"{served.base}/api/v1/health")[1].endswith(b"}\n")
    assert get(f"{served.base}/api/v1/nothing-here")[1].endswith(b"}\n")
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as conn:
        conn.sendall(b"HELLO\r\n\r\n")  # answered by the server itself, closing the connection
        received = b"".join(iter(lambda: conn.recv(65536), b""))
    assert received.split(b" ", 2)[1] == b"400"
    assert received.endswith(b"}\n")


def test_a_long_url_that_the_query_schema_allows_is_served(
    served: Served, container: Container
) -> None:
    # 100 case ids, the most a filter takes: about 3.7 kB of query, past gunicorn's 4094-byte line.
    cases = ",".join(str(uuid4()) for _ in range(100))
    token = new_token(container, Role.AUDITOR)
    status, body = get(f"{served.base}/api/v1/audit/events?case={cases}", token)
    assert status == 200, body


# -- the access log ------------------------------------------------------------------------------


def test_the_access_log_is_json_lines_without_query_token_or_name(
    served: Served, container: Container
) -> None:
    name = f"mai.tran-{uuid4().hex[:6]}"
    token = new_token(container, Role.SUPERVISOR, name)
    search = get(f"{served.base}/api/v1/cases?text=Nguyen%20Van%20A%200123456789", token)
    refused = get(f"{served.base}/api/v1/cases?q=Nguyen%20Van%20A&requester_id=0123456789", token)
    assert (search[0], refused[0]) == (200, 422)

    deadline = time.monotonic() + 5
    while served.output().count(name) < 2:
        assert time.monotonic() < deadline, "no access line for the request"
        time.sleep(0.1)
    output = served.output()
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    mine = [line for line in lines if line.get("account") == name]
    assert [(line["method"], line["path"], line["status"]) for line in mine] == [
        ("GET", "/api/v1/cases", 200),
        ("GET", "/api/v1/cases", 422),
    ]
    assert mine[0]["correlation_id"] and mine[0]["duration_ms"] >= 0
    for secret in ("Nguyen", "0123456789", "requester_id", token):
        assert secret not in output


# -- the command line ----------------------------------------------------------------------------


def test_serve_says_where_it_serves_the_api_and_the_docs(served: Served) -> None:
    base = f"http://127.0.0.1:{served.port}"
    assert f"casemgmt serves the API on {base}/api/v1 (docs: {base}/docs)" in served.output()


def test_serve_help_shows_the_defaults() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "casemgmt.cli", "serve", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0
    assert "(default: 8000)" in result.stdout
    assert "(default: 127.0.0.1)" in result.stdout
    assert "--read-timeout" in result.stdout


def test_serve_on_a_busy_port_stops_with_one_clear_line(app_settings: Settings) -> None:
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "casemgmt.cli", "serve", "--port", str(port)],
            env=casemgmt_env(app_settings),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"127.0.0.1:{port} is already in use" in lines[0]
