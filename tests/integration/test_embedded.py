"""The embedded PostgreSQL and Redis that casemgmt starts when no server is configured."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg2
import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from casemgmt.embedded import (
    EmbeddedServerError,
    ensure_servers,
    start_postgres,
    start_redis,
)
from casemgmt.settings import Settings

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture
def data_dir() -> Iterator[Path]:
    # Short, because unix socket paths are limited to 107 bytes (pytest's tmp_path is long).
    path = Path(tempfile.mkdtemp(prefix="cm-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _count(url: str) -> int:
    with psycopg2.connect(url) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM inquiry")
        (count,) = cursor.fetchone()  # type: ignore[misc]
    conn.close()
    return int(count)


def _postgres_answers(url: str) -> bool:
    try:
        psycopg2.connect(url, connect_timeout=2).close()
    except psycopg2.OperationalError:
        return False
    return True


def _redis_answers(url: str) -> bool:
    client = redis.Redis.from_url(url, retry=Retry(NoBackoff(), 0))
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False
    finally:
        client.close()


def test_embedded_postgres_keeps_data_across_restarts(data_dir: Path) -> None:
    first = start_postgres(data_dir)
    try:
        with psycopg2.connect(first.url) as conn, conn.cursor() as cursor:
            cursor.execute("CREATE TABLE inquiry (subject text)")
            cursor.execute("INSERT INTO inquiry VALUES ('Chưa nhận được sổ BHXH')")
        conn.close()
    finally:
        first.stop()
    assert not _postgres_answers(first.url)

    second = start_postgres(data_dir)
    try:
        assert second.url == first.url
        assert _count(second.url) == 1
    finally:
        second.stop()


def test_embedded_postgres_url_names_the_casemgmt_database_on_a_unix_socket(
    data_dir: Path,
) -> None:
    postgres = start_postgres(data_dir)
    try:
        assert postgres.url.startswith("postgresql://postgres@/casemgmt?host=/")
        with psycopg2.connect(postgres.url) as conn, conn.cursor() as cursor:
            cursor.execute("SELECT current_database(), current_setting('listen_addresses')")
            assert cursor.fetchone() == ("casemgmt", "")
        conn.close()
    finally:
        postgres.stop()


def test_embedded_redis_serves_redis_py_from_its_url(data_dir: Path) -> None:
    embedded = start_redis(data_dir)
    try:
        assert embedded.url == f"unix://{data_dir}/redis/redis.sock"
        client = redis.Redis.from_url(embedded.url)
        client.set("queue:hanoi", "case-1")
        assert client.get("queue:hanoi") == b"case-1"
        client.close()
    finally:
        embedded.stop()
    assert not _redis_answers(embedded.url)


def test_embedded_redis_socket_moves_to_a_short_private_path_when_data_dir_is_long(
    data_dir: Path,
) -> None:
    deep = data_dir / ("d" * 100)
    embedded = start_redis(deep)
    try:
        assert len(embedded.url) < 120
        assert _redis_answers(embedded.url)
    finally:
        embedded.stop()
    shutil.rmtree(Path(embedded.url.removeprefix("unix://")).parent)


_OTHER_PROCESS = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    import psycopg2
    import redis

    from casemgmt.embedded import start_postgres, start_redis

    postgres, embedded = start_postgres(Path(sys.argv[1])), start_redis(Path(sys.argv[1]))
    with psycopg2.connect(postgres.url) as conn, conn.cursor() as cursor:
        cursor.execute("INSERT INTO inquiry VALUES ('from the other process')")
    conn.close()
    client = redis.Redis.from_url(embedded.url)
    client.incr("claims")
    client.close()
    postgres.stop()
    embedded.stop()
    print(postgres.url, embedded.url)
    """
)


def test_a_second_process_joins_the_running_servers_and_leaves_them_running(
    data_dir: Path,
) -> None:
    with ensure_servers(Settings(data_dir=data_dir)) as servers:
        with psycopg2.connect(servers.database_url) as conn, conn.cursor() as cursor:
            cursor.execute("CREATE TABLE inquiry (subject text)")
        conn.close()

        other = subprocess.run(
            [sys.executable, "-c", _OTHER_PROCESS, str(data_dir)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

        assert other.returncode == 0, other.stderr
        assert other.stdout.split() == [servers.database_url, servers.redis_url]
        assert _count(servers.database_url) == 1
        client = redis.Redis.from_url(servers.redis_url)
        assert client.get("claims") == b"1"
        client.close()
    assert not _postgres_answers(servers.database_url)
    assert not _redis_answers(servers.redis_url)


def test_servers_left_by_a_killed_process_are_joined_and_then_stopped(data_dir: Path) -> None:
    killed = subprocess.run(
        [sys.executable, "-c", _KILLED_PROCESS, str(data_dir)], timeout=60, check=False
    )
    assert killed.returncode == -signal.SIGKILL

    with ensure_servers(Settings(data_dir=data_dir)) as servers:
        assert _count(servers.database_url) == 1

    assert not _postgres_answers(servers.database_url)
    assert not _redis_answers(servers.redis_url)


_KILLED_PROCESS = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path

    import psycopg2

    from casemgmt.embedded import start_postgres, start_redis

    postgres, embedded = start_postgres(Path(sys.argv[1])), start_redis(Path(sys.argv[1]))
    with psycopg2.connect(postgres.url) as conn, conn.cursor() as cursor:
        cursor.execute("CREATE TABLE inquiry AS SELECT 'left behind' AS subject")
    conn.close()
    os.kill(os.getpid(), signal.SIGKILL)
    """
)


def test_ensure_servers_starts_nothing_when_both_urls_are_given() -> None:
    settings = Settings(
        database_url="postgresql://casemgmt@db.example/casemgmt",
        redis_url="redis://cache.example:6379/0",
        data_dir=Path("/proc/casemgmt-must-not-be-created"),
    )

    with ensure_servers(settings) as servers:
        assert servers.started == []
        assert servers.settings(settings) == settings

    assert not settings.data_dir.exists()


def test_ensure_servers_starts_only_the_server_that_is_not_configured(data_dir: Path) -> None:
    settings = Settings(redis_url="redis://cache.example:6379/0", data_dir=data_dir)

    with ensure_servers(settings) as servers:
        assert servers.redis_url == "redis://cache.example:6379/0"
        assert servers.database_url.startswith("postgresql://")
        assert len(servers.started) == 1
        assert not (data_dir / "redis").exists()


@pytest.mark.parametrize(
    "unwritable", ["/proc/casemgmt-var", "{data_dir}/a-file/var"], ids=["proc", "under-a-file"]
)
def test_unwritable_data_dir_is_refused_with_advice(data_dir: Path, unwritable: str) -> None:
    (data_dir / "a-file").write_text("not a directory")
    path = Path(unwritable.format(data_dir=data_dir))

    with pytest.raises(EmbeddedServerError) as refused:
        ensure_servers(Settings(data_dir=path))

    message = str(refused.value)
    assert message.startswith(f"CASEMGMT_DATA_DIR={path} is not writable: ")
    assert message.endswith("set CASEMGMT_DATA_DIR to a directory you can write to")


def test_postgres_that_cannot_start_says_why_and_what_to_do(data_dir: Path) -> None:
    start_postgres(data_dir).stop()
    with (data_dir / "postgres" / "postgresql.conf").open("a") as conf:
        conf.write("max_connections = plenty\n")

    with pytest.raises(EmbeddedServerError) as refused:
        start_postgres(data_dir)

    message = str(refused.value)
    assert "did not start" in message
    assert "max_connections" in message
    assert "CASEMGMT_DATABASE_URL" in message


def test_redis_that_cannot_start_says_why_and_what_to_do(data_dir: Path) -> None:
    (data_dir / "redis").mkdir()
    (data_dir / "redis" / "dump.rdb").write_bytes(b"not a redis snapshot")

    with pytest.raises(EmbeddedServerError) as refused:
        start_redis(data_dir)

    message = str(refused.value)
    assert "did not start (exited with status 1)" in message
    assert "CASEMGMT_REDIS_URL" in message


def test_a_failed_redis_start_leaves_postgres_stopped(data_dir: Path) -> None:
    (data_dir / "redis").mkdir()
    (data_dir / "redis" / "dump.rdb").write_bytes(b"not a redis snapshot")

    with pytest.raises(EmbeddedServerError):
        ensure_servers(Settings(data_dir=data_dir))

    assert (data_dir / "postgres" / "PG_VERSION").exists()
    assert not _postgres_answers(f"postgresql://postgres@/casemgmt?host={data_dir}/postgres")


def test_a_test_session_leaves_nothing_in_tmp() -> None:
    """The test sessions' embedded servers keep ~60 MB each in /tmp: removed when they end."""
    script = textwrap.dedent(
        """
        import subprocess
        from tests.support.servers import session_servers
        with session_servers() as settings:
            print(settings.data_dir)
            print(subprocess.run(["du", "-sk", str(settings.data_dir)], capture_output=True,
                                 text=True, check=True).stdout.split()[0])
        """
    )
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("CASEMGMT_DATABASE_URL", "CASEMGMT_REDIS_URL", "CI")
    }
    ran = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=Path(__file__).parents[2],
    )

    assert ran.returncode == 0, ran.stderr
    data_dir, kilobytes = ran.stdout.split()[-2:]
    assert int(kilobytes) > 10_000, "the embedded servers kept their files there meanwhile"
    assert not Path(data_dir).exists()
