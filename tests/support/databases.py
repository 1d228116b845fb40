"""A test's own database on a PostgreSQL server: created (and migrated) for a block, then gone."""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

import psycopg2

from casemgmt.persistence.migrations import migrate

if TYPE_CHECKING:
    from collections.abc import Iterator


def database_url_for(url: str, database: str) -> str:
    """The same server's URL, naming another database."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


@contextmanager
def scratch_database(server_url: str, name: str, *, migrated: bool = True) -> Iterator[str]:
    """A new database on the server of `server_url`, dropped when the block ends: its URL."""
    admin = psycopg2.connect(server_url)
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            cursor.execute(f'CREATE DATABASE "{name}"')
        url = database_url_for(server_url, name)
        if migrated:
            migrate(url)
        yield url
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
