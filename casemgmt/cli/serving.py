"""`casemgmt serve`: the API under gunicorn, each worker process serving with waitress.

The master process has already started any embedded servers and migrated the schema; each worker
builds its own container after the fork, because connection pools must not cross a fork. Why the
workers are waitress's rather than gunicorn's threads: `buffered_worker`.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
import sys
from typing import TYPE_CHECKING, Any, Final

from gunicorn.app.base import BaseApplication

from casemgmt.api import create_app
from casemgmt.api.access_log import ACCESS_LOGGER, JsonLines
from casemgmt.bootstrap import StartupError, build
from casemgmt.cli.buffered_worker import BufferedWorker, ServerLimits

if TYPE_CHECKING:
    from collections.abc import Mapping

    from flask import Flask

    from casemgmt.persistence.reads import ReadRecorder
    from casemgmt.runtime import ProjectionWorker
    from casemgmt.settings import Settings


class ApiServer(BaseApplication):  # type: ignore[misc]  # gunicorn ships no type hints
    """gunicorn running casemgmt's Flask app, configured from code rather than a config file."""

    def __init__(
        self,
        settings: Settings,
        options: dict[str, Any],
        *,
        run_projections: bool,
        server_limits: ServerLimits | None = None,
    ) -> None:
        self.settings = settings
        self.options = {**options, "worker_exit": self._on_worker_exit}
        self.run_projections = run_projections
        self.server_limits = server_limits or ServerLimits()  # read by BufferedWorker
        self.projection_worker: ProjectionWorker | None = None
        self.reads: ReadRecorder | None = None
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        # Runs in each gunicorn worker after the fork. Every worker also runs the projections:
        # their advisory locks keep exactly one active, the others stand by and take over when
        # it dies, and gunicorn restarts dead workers, so no separate supervisor is needed.
        container = build(self.settings)
        self.reads = container.reads
        if self.run_projections:
            self.projection_worker = container.projections.worker()
            self.projection_worker.start()
        return create_app(self.settings, container)

    def _on_worker_exit(self, server: object, worker: object) -> None:
        """gunicorn's worker_exit hook (it checks that the hook takes exactly these two): stops
        the projections and writes the reads of cases that wait to be recorded."""
        if self.projection_worker is not None:
            self.projection_worker.stop()
        if self.reads is not None:
            self.reads.close()


def check_port(host: str, port: int) -> None:
    """Fails in one line when another program listens on the address (gunicorn would retry five
    times and log each)."""
    try:
        with socket.create_server((host, port), reuse_port=False):
            pass
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise StartupError(
                f"{host}:{port} is already in use by another program; "
                "stop it or choose another port with --port"
            ) from None
        raise StartupError(f"cannot listen on {host}:{port}: {error.strerror}") from None


# A measurement switch, not a setting (docs/performance.md): `gthread` serves with gunicorn's own
# threaded worker, which slow clients can hold (see `buffered_worker`), to measure what the
# buffered worker costs or gains against it.
SERVER_WORKER: Final = "CASEMGMT_SERVER_WORKER"


def worker_class(environ: Mapping[str, str] = os.environ) -> Any:
    """The gunicorn worker class `CASEMGMT_SERVER_WORKER` names: `buffered` (the default) or
    `gthread`."""
    chosen = environ.get(SERVER_WORKER, "").strip().lower() or "buffered"
    if chosen == "buffered":
        return BufferedWorker
    if chosen == "gthread":
        return "gthread"
    raise StartupError(f"{SERVER_WORKER} must be buffered or gthread, not {chosen!r}")


def log_as_json_lines() -> None:
    """casemgmt's logs as JSON lines: the access log on stdout, everything else on stderr."""
    access = logging.getLogger(ACCESS_LOGGER)
    to_stdout = logging.StreamHandler(sys.stdout)
    to_stdout.setFormatter(JsonLines())
    access.addHandler(to_stdout)
    access.setLevel(logging.INFO)
    access.propagate = False
    application = logging.getLogger("casemgmt")
    to_stderr = logging.StreamHandler(sys.stderr)
    to_stderr.setFormatter(JsonLines())
    application.addHandler(to_stderr)
    application.setLevel(logging.INFO)


def _announce(host: str, port: int) -> Any:
    def when_ready(server: object) -> None:
        base = f"http://{host}:{port}"
        print(f"casemgmt serves the API on {base}/api/v1 (docs: {base}/docs)", flush=True)

    return when_ready


def serve(
    settings: Settings,
    *,
    host: str,
    port: int,
    workers: int,
    threads: int,
    run_projections: bool = True,
    limits: ServerLimits | None = None,
) -> None:
    chosen_worker = worker_class()
    check_port(host, port)
    log_as_json_lines()
    ApiServer(
        settings,
        {
            "bind": f"{host}:{port}",
            "workers": workers,
            "worker_class": chosen_worker,
            "threads": threads,
            "graceful_timeout": 10,
            # gunicorn's control socket is one path per user: two servers on one machine would
            # fight over it, and casemgmt does not use it.
            "control_socket_disable": True,
            "when_ready": _announce(host, port),
        },
        run_projections=run_projections,
        server_limits=limits or ServerLimits(max_body_bytes=settings.max_request_bytes),
    ).run()
