"""Schema migrations: yoyo-migrations applies the SQL files in `migrations/`, once, in order.

yoyo records what it applied in the database (`_yoyo_migration`). Its own lock table is created by
the first process that gets there, which two processes starting at once could race for, so the
whole run is also held under a PostgreSQL advisory lock: one process migrates, the others wait and
then find nothing left to do.
"""

from __future__ import annotations

import logging
from pathlib import Path

from yoyo import get_backend, read_migrations

from casemgmt.persistence.datastore import connect
from casemgmt.persistence.locks import advisory_lock_key

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
_LOCK_KEY = advisory_lock_key("casemgmt:migrate")

log = logging.getLogger(__name__)


def migrate(database_url: str, migrations_dir: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply every migration not applied yet; return the ids of those applied now."""
    guard = connect(database_url, application_name="casemgmt-migrate")
    try:
        with guard.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [_LOCK_KEY])
        return _apply(database_url, migrations_dir)
    finally:
        guard.close()  # closing the session releases the advisory lock


def pending(database_url: str, migrations_dir: Path = MIGRATIONS_DIR) -> list[str]:
    """The ids of migrations not applied yet."""
    backend = get_backend(database_url)
    try:
        return [m.id for m in backend.to_apply(read_migrations(str(migrations_dir)))]
    finally:
        backend.connection.close()


def _apply(database_url: str, migrations_dir: Path) -> list[str]:
    backend = get_backend(database_url)
    try:
        with backend.lock():
            to_apply = backend.to_apply(read_migrations(str(migrations_dir)))
            backend.apply_migrations(to_apply)
        applied = [m.id for m in to_apply]
        if applied:
            log.info("applied migrations: %s", ", ".join(applied))
        return applied
    finally:
        backend.connection.close()
