"""The DDL of the event store's tables, for recorders that create their own tables.

The application's own tables are created by `migrations/` (frozen history); a test checks that the
migrated tables and the tables made here have the same columns, so the two cannot drift apart.
"""

from __future__ import annotations

from eventsourcing.persistence import ProgrammingError

MAX_IDENTIFIER_LENGTH = 63

# Raised from inside a write when a tracking position would not advance: 23505 is unique_violation,
# which psycopg2 reports as IntegrityError, which is what eventsourcing expects.
REFUSE_TRACKING_FUNCTION = "casemgmt_refuse_tracking"


def qualified(schema: str, name: str) -> str:
    if len(name) > MAX_IDENTIFIER_LENGTH:
        raise ProgrammingError(f"Identifier too long: {name}")
    return f"{_ident(schema)}.{_ident(name)}"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


_EVENT_COLUMNS = (
    " originator_id uuid NOT NULL,"
    " originator_version bigint NOT NULL,"
    " topic text NOT NULL,"
    " state bytea NOT NULL,"
)
_EVENT_KEY = " PRIMARY KEY (originator_id, originator_version))"


def aggregate_events_table(schema: str, table: str) -> list[str]:
    return [f"CREATE TABLE IF NOT EXISTS {qualified(schema, table)} ({_EVENT_COLUMNS}{_EVENT_KEY}"]


def application_events_table(schema: str, table: str) -> list[str]:
    index = _ident(f"{table}_notification_id_idx")
    return [
        f"CREATE TABLE IF NOT EXISTS {qualified(schema, table)} ({_EVENT_COLUMNS}"
        f" notification_id bigserial NOT NULL,{_EVENT_KEY}",
        f"CREATE UNIQUE INDEX IF NOT EXISTS {index} "
        f"ON {qualified(schema, table)} (notification_id)",
    ]


def tracking_table(schema: str, table: str) -> list[str]:
    return [
        f"CREATE TABLE IF NOT EXISTS {qualified(schema, table)} ("
        " application_name text PRIMARY KEY,"
        " notification_id bigint NOT NULL)",
        refuse_tracking_function(schema),
    ]


def refuse_tracking_function(schema: str) -> str:
    return (
        f"CREATE OR REPLACE FUNCTION {qualified(schema, REFUSE_TRACKING_FUNCTION)}"
        "(application_name text, notification_id bigint) RETURNS void LANGUAGE plpgsql AS $$ "
        "BEGIN RAISE unique_violation USING MESSAGE = format("
        "'tracking for %s is already at or past notification %s', "
        "application_name, notification_id); END $$"
    )


__all__ = [
    "REFUSE_TRACKING_FUNCTION",
    "aggregate_events_table",
    "application_events_table",
    "qualified",
    "refuse_tracking_function",
    "tracking_table",
]
