"""A server that goes away: a TCP forwarder in front of the real PostgreSQL or Redis.

`Forwarder` listens on a loopback port and passes bytes both ways to the real server (over TCP or
its unix socket). `cut()` is the outage as a client sees it: every open connection is dropped and
new ones are refused. `restore()` listens on the same port again, as a restarted server would.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

import psycopg2.extensions

if TYPE_CHECKING:
    from types import TracebackType


class Forwarder:
    """Bytes from 127.0.0.1:`port` to the upstream `address` (a (host, port) or a unix path)."""

    def __init__(self, upstream: tuple[str, int] | str) -> None:
        self.upstream = upstream
        self.port = _free_port()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._listener: socket.socket | None = None

    def __enter__(self) -> Forwarder:
        self.restore()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cut()

    def restore(self) -> None:
        listener = socket.create_server(("127.0.0.1", self.port), reuse_port=False)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            doomed, self._sockets = self._sockets, []
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        for each in doomed:
            with contextlib.suppress(OSError):
                each.shutdown(socket.SHUT_RDWR)
            each.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            try:
                server = self._connect_upstream()
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._listener is not listener:
                    client.close()
                    server.close()
                    return
                self._sockets += [client, server]
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=_pump, args=(source, target), daemon=True).start()

    def _connect_upstream(self) -> socket.socket:
        if isinstance(self.upstream, str):
            unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            unix.connect(self.upstream)
            return unix
        return socket.create_connection(self.upstream)


def _pump(source: socket.socket, target: socket.socket) -> None:
    with contextlib.suppress(OSError):  # one side was cut: the other is shut down below
        while chunk := source.recv(65536):
            target.sendall(chunk)
    for each in (source, target):
        with contextlib.suppress(OSError):
            each.shutdown(socket.SHUT_RDWR)


def _free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port: int = probe.getsockname()[1]
        return port


def database_forwarder(url: str) -> tuple[Forwarder, str]:
    """A forwarder to the PostgreSQL at `url`, and the URL of the same database through it."""
    params = psycopg2.extensions.parse_dsn(url)
    host, port = params.get("host") or "127.0.0.1", int(params.get("port") or 5432)
    upstream: tuple[str, int] | str = (
        f"{host}/.s.PGSQL.{port}" if host.startswith("/") else (host, port)
    )
    forwarder = Forwarder(upstream)
    password = f":{quote(params['password'], safe='')}" if params.get("password") else ""
    user = quote(params.get("user") or "postgres", safe="")
    through = f"postgresql://{user}{password}@127.0.0.1:{forwarder.port}/{params['dbname']}"
    return forwarder, through


def redis_forwarder(url: str) -> tuple[Forwarder, str]:
    """A forwarder to the Redis at `url`, and the URL of the same database through it."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        upstream: tuple[str, int] | str = parts.path
        db = dict(pair.split("=", 1) for pair in parts.query.split("&") if "=" in pair).get(
            "db", "0"
        )
    else:
        upstream = (parts.hostname or "127.0.0.1", parts.port or 6379)
        db = parts.path.strip("/") or "0"
    forwarder = Forwarder(upstream)
    auth = f":{quote(parts.password, safe='')}@" if parts.password else ""
    return forwarder, f"redis://{auth}127.0.0.1:{forwarder.port}/{db}"
