"""`casemgmt serve`: the API under gunicorn, a production WSGI server.

The master process has already started any embedded servers and migrated the schema; each worker
builds its own container after the fork, because connection pools must not cross a fork.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gunicorn.app.base import BaseApplication

from casemgmt.api import create_app
from casemgmt.bootstrap import build

if TYPE_CHECKING:
    from flask import Flask

    from casemgmt.persistence.reads import ReadRecorder
    from casemgmt.runtime import ProjectionWorker
    from casemgmt.settings import Settings


class ApiServer(BaseApplication):  # type: ignore[misc]  # gunicorn ships no type hints
    """gunicorn running casemgmt's Flask app, configured from code rather than a config file."""

    def __init__(
        self, settings: Settings, options: dict[str, Any], *, run_projections: bool
    ) -> None:
        self.settings = settings
        self.options = {**options, "worker_exit": self._on_worker_exit}
        self.run_projections = run_projections
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


def serve(
    settings: Settings,
    *,
    host: str,
    port: int,
    workers: int,
    threads: int,
    run_projections: bool = True,
) -> None:
    ApiServer(
        settings,
        {
            "bind": f"{host}:{port}",
            "workers": workers,
            "worker_class": "gthread",
            "threads": threads,
            "accesslog": "-",
            "graceful_timeout": 10,
        },
        run_projections=run_projections,
    ).run()
