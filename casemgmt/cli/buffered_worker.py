"""A gunicorn worker that reads whole requests before a thread runs them (waitress inside gunicorn).

gunicorn's threaded worker gives a connection to a thread as soon as its first byte arrives; the
thread then blocks reading the rest, so a few dozen clients that send half a request line and
stop hold every thread, and `/health` waits behind them. Here waitress's event loop reads each
request (line, headers and body) into a buffer, with a cap on connections, on the size of the
head and of the body, and an inactivity timeout; only a complete request reaches a thread, and
the answer is written back by the same loop, so a slow reader does not hold a thread either.

gunicorn stays the process manager: it forks the workers, restarts one that dies, and calls the
`worker_exit` hook, where the projections stop. The errors waitress answers by itself (a head or
body too large, a request that is not HTTP) are problem+json like the app's own (`server_errors`).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from gunicorn.workers.base import Worker
from waitress import wasyncore
from waitress.channel import HTTPChannel
from waitress.server import BaseWSGIServer, create_server

from casemgmt.cli.server_errors import ProblemErrorTask

if TYPE_CHECKING:
    from collections.abc import Iterator

# How often the loop wakes up to tell gunicorn's master that the worker lives and to check for a
# stop; gunicorn's `timeout` (30 s) must stay well above it.
_TICK_SECONDS: Final = 1.0


@dataclass(frozen=True)
class ServerLimits:
    """What one connection may cost the server before it is refused or dropped."""

    read_timeout: int = 30  # seconds without a byte (reading a request or writing an answer)
    connection_limit: int = 1000  # open connections per worker process; more wait to be accepted
    max_head_bytes: int = 262_144  # request line and headers; more: 431
    max_body_bytes: int = 1_000_000  # more: 413, before the body is read


class ProblemChannel(HTTPChannel):
    """waitress's connection, answering the server's own errors as problem+json."""

    error_task_class = ProblemErrorTask


class BufferedWorker(Worker):  # type: ignore[misc]  # gunicorn ships no type hints
    """One gunicorn worker process serving the app with waitress on gunicorn's listening sockets."""

    def run(self) -> None:
        limits: ServerLimits = getattr(self.app, "server_limits", ServerLimits())
        socket_map: dict[int, Any] = {}
        server = create_server(
            self.wsgi,
            map=socket_map,
            sockets=[listener.sock for listener in self.sockets],
            threads=self.cfg.threads,
            connection_limit=limits.connection_limit,
            channel_timeout=limits.read_timeout,
            # The timeout is checked this often: at most half of it late.
            cleanup_interval=max(1, limits.read_timeout // 2),
            max_request_header_size=limits.max_head_bytes,
            max_request_body_size=limits.max_body_bytes,
            asyncore_use_poll=True,  # select() cannot watch more than 1024 sockets
            ident="casemgmt",
            expose_tracebacks=False,
        )
        for listener in _listeners(socket_map):
            listener.channel_class = ProblemChannel
        try:
            self._serve(socket_map)
        finally:
            self._stop(socket_map, server.task_dispatcher)

    def _serve(self, socket_map: dict[int, Any]) -> None:
        while self.alive:
            self.notify()
            if self.ppid != os.getppid():
                self.log.info("parent changed, shutting down: %s", self)
                return
            wasyncore.loop(timeout=_TICK_SECONDS, map=socket_map, use_poll=True, count=1)

    def _stop(self, socket_map: dict[int, Any], dispatcher: Any) -> None:
        """Stops accepting, lets the requests already read finish and their answers go out (for at
        most gunicorn's graceful timeout), then closes every connection."""
        for listener in _listeners(socket_map):
            listener.del_channel()  # the socket is gunicorn's: left open, no longer watched
        deadline = time.monotonic() + self.cfg.graceful_timeout
        while _busy(socket_map) and time.monotonic() < deadline:
            self.notify()
            wasyncore.loop(timeout=0.1, map=socket_map, use_poll=True, count=1)
        dispatcher.shutdown(timeout=max(0.0, deadline - time.monotonic()))
        wasyncore.close_all(socket_map)


def _listeners(socket_map: dict[int, Any]) -> Iterator[BaseWSGIServer]:
    return (each for each in list(socket_map.values()) if isinstance(each, BaseWSGIServer))


def _busy(socket_map: dict[int, Any]) -> bool:
    """Whether a connection still has a request being served or an answer being written."""
    return any(
        isinstance(each, HTTPChannel) and (each.requests or each.total_outbufs_len)
        for each in list(socket_map.values())
    )
