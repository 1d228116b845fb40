"""`casemgmt serve`: the API under gunicorn, a production WSGI server.

The master process has already started any embedded servers and migrated the schema; each worker
builds its own container after the fork, because connection pools must not cross a fork.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gunicorn.app.base import BaseApplication

from casemgmt.api import create_app

if TYPE_CHECKING:
    from flask import Flask

    from casemgmt.settings import Settings


class ApiServer(BaseApplication):  # type: ignore[misc]  # gunicorn ships no type hints
    """gunicorn running casemgmt's Flask app, configured from code rather than a config file."""

    def __init__(self, settings: Settings, options: dict[str, Any]) -> None:
        self.settings = settings
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return create_app(self.settings)


def serve(settings: Settings, *, host: str, port: int, workers: int, threads: int) -> None:
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
    ).run()
