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
# A stored event in the canonical form the hash chains' links hash (chain.py says the same).
CHAIN_EVENT_FUNCTION = "casemgmt_chain_event"
_GENESIS = "'\\x" + "00" * 32 + "'::bytea"
# Writes of up to this many events are appended event by event, larger ones set-wise.
SMALL_WRITE = 16


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
    """The events with their notification log, and what chains them (see chain.py)."""
    index = _ident(f"{table}_notification_id_idx")
    return [
        f"CREATE TABLE IF NOT EXISTS {qualified(schema, table)} ({_EVENT_COLUMNS}"
        " notification_id bigserial NOT NULL, case_hash bytea, log_hash bytea,"
        f"{_EVENT_KEY}",
        f"CREATE UNIQUE INDEX IF NOT EXISTS {index} "
        f"ON {qualified(schema, table)} (notification_id)",
        f"CREATE TABLE IF NOT EXISTS {qualified(schema, heads_table(table))} ("
        " originator_id uuid PRIMARY KEY,"
        " originator_version bigint NOT NULL,"
        " case_hash bytea NOT NULL)",
        f"CREATE TABLE IF NOT EXISTS {qualified(schema, seals_table(table))} ("
        " notification_id bigint PRIMARY KEY,"
        " case_seal bytea NOT NULL,"
        " log_seal bytea NOT NULL)",
        chain_event_function(schema),
        append_function(schema, table),
    ]


def heads_table(table: str) -> str:
    """Each case's latest version and chain hash, as the recorder last wrote them."""
    return f"{table}_heads"


def seals_table(table: str) -> str:
    """The seals (HMACs under the audit key) of each event's two chain hashes."""
    return f"{table}_seals"


def append_function(schema: str, table: str) -> str:
    """The function that appends events to `table`, linking each into both chains.

    The caller holds the table's EXCLUSIVE lock, so the log's head read first is still the head
    when the rows go in. Notification ids are drawn here, as the log links hash them. An event's
    previous case link is the one before it in the same call, or else its case's head.

    A write of up to `SMALL_WRITE` events (a command's) goes event by event: its case's head read,
    the event and the new head written, three single-row statements an event. A larger one (a
    page of `sla apply`, the demo) goes set-wise: only the links are computed event by event
    (each hashes the one before it); the cases' heads are read in one statement, and the events
    and the new heads written in one statement each, so a thousand events cost three statements,
    not three thousand. Each way is the faster on its side of `SMALL_WRITE`: timed in one
    process, one event took 0.15–0.2 ms less server time event by event, and 250 events 1.4 ×
    less set-wise (docs/performance.md).
    """
    events = qualified(schema, table)
    heads = qualified(schema, heads_table(table))
    event = qualified(schema, CHAIN_EVENT_FUNCTION)
    sequence = "'" + events.replace("'", "''") + "'"
    return (
        f"CREATE OR REPLACE FUNCTION {qualified(schema, append_function_name(table))}"
        "(ids uuid[], versions bigint[], topics text[], states bytea[])"
        " RETURNS TABLE (new_notification_id bigint, new_case_hash bytea, new_log_hash bytea)"
        " LANGUAGE plpgsql AS $$"
        " DECLARE"
        f" ids_sequence regclass := pg_get_serial_sequence({sequence}, 'notification_id');"
        " total integer := coalesce(cardinality(ids), 0);"
        " last_log bytea; event bytea; previous bytea;"
        " notification_ids bigint[]; earlier integer[]; head_hashes bytea[];"
        " case_hashes bytea[] := '{}'; log_hashes bytea[] := '{}';"
        " BEGIN"
        " IF total = 0 THEN RETURN; END IF;"
        f" SELECT e.log_hash INTO last_log FROM {events} e WHERE e.log_hash IS NOT NULL"
        " ORDER BY e.notification_id DESC LIMIT 1;"
        f" last_log := coalesce(last_log, {_GENESIS});"
        f" IF total <= {SMALL_WRITE} THEN"
        " FOR i IN 1 .. total LOOP"
        f" SELECT h.case_hash INTO previous FROM {heads} h WHERE h.originator_id = ids[i];"
        " new_notification_id := nextval(ids_sequence);"
        f" event := {event}(ids[i], versions[i], topics[i], states[i]);"
        f" new_case_hash := sha256('\\x43'::bytea || event || coalesce(previous, {_GENESIS}));"
        " new_log_hash := sha256('\\x4c'::bytea || int8send(new_notification_id) || event"
        " || last_log);"
        f" INSERT INTO {events} (originator_id, originator_version, topic, state,"
        " notification_id, case_hash, log_hash) VALUES (ids[i], versions[i], topics[i],"
        " states[i], new_notification_id, new_case_hash, new_log_hash);"
        f" INSERT INTO {heads} AS h (originator_id, originator_version, case_hash)"
        " VALUES (ids[i], versions[i], new_case_hash)"
        " ON CONFLICT (originator_id) DO UPDATE"
        " SET originator_version = EXCLUDED.originator_version, case_hash = EXCLUDED.case_hash;"
        " last_log := new_log_hash;"
        " RETURN NEXT;"
        " END LOOP;"
        " RETURN;"
        " END IF;"
        " SELECT array_agg(nextval(ids_sequence) ORDER BY n) INTO notification_ids"
        " FROM generate_series(1, total) AS n;"
        # For each event: the position of its case's event before it in this call (NULL for the
        # first of its case), and its case's head before this call.
        " SELECT array_agg(b.earlier ORDER BY b.n), array_agg(h.case_hash ORDER BY b.n)"
        " INTO earlier, head_hashes"
        " FROM (SELECT n, u.id, lag(n) OVER (PARTITION BY u.id ORDER BY n) AS earlier"
        " FROM unnest(ids) WITH ORDINALITY AS u(id, n)) b"
        f" LEFT JOIN {heads} h ON h.originator_id = b.id;"
        " FOR i IN 1 .. total LOOP"
        " previous := CASE WHEN earlier[i] IS NULL THEN head_hashes[i]"
        " ELSE case_hashes[earlier[i]] END;"
        f" event := {event}(ids[i], versions[i], topics[i], states[i]);"
        f" case_hashes[i] := sha256('\\x43'::bytea || event || coalesce(previous, {_GENESIS}));"
        " log_hashes[i] := sha256('\\x4c'::bytea || int8send(notification_ids[i]) || event"
        " || last_log);"
        " last_log := log_hashes[i];"
        " END LOOP;"
        f" INSERT INTO {events} (originator_id, originator_version, topic, state,"
        " notification_id, case_hash, log_hash)"
        " SELECT * FROM unnest(ids, versions, topics, states, notification_ids, case_hashes,"
        " log_hashes);"
        f" INSERT INTO {heads} AS h (originator_id, originator_version, case_hash)"
        " SELECT DISTINCT ON (l.id) l.id, l.version, l.hash"
        " FROM unnest(ids, versions, case_hashes) WITH ORDINALITY AS l(id, version, hash, n)"
        " ORDER BY l.id, l.n DESC"
        " ON CONFLICT (originator_id) DO UPDATE"
        " SET originator_version = EXCLUDED.originator_version, case_hash = EXCLUDED.case_hash;"
        " RETURN QUERY SELECT r.id, r.case_hash, r.log_hash FROM unnest(notification_ids,"
        " case_hashes, log_hashes) WITH ORDINALITY AS r(id, case_hash, log_hash, n) ORDER BY r.n;"
        " END $$"
    )


def append_function_name(table: str) -> str:
    return f"{table}_append"


def chain_event_function(schema: str) -> str:
    """A stored event in the canonical form its links hash (chain.canonical says the same)."""
    return (
        f"CREATE OR REPLACE FUNCTION {qualified(schema, CHAIN_EVENT_FUNCTION)}"
        "(originator_id uuid, originator_version bigint, topic text, state bytea)"
        " RETURNS bytea LANGUAGE sql STABLE PARALLEL SAFE AS $$"
        " SELECT uuid_send(originator_id) || int8send(originator_version)"
        " || int4send(octet_length(convert_to(topic, 'UTF8'))) || convert_to(topic, 'UTF8')"
        " || int4send(octet_length(state)) || state $$"
    )


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
    "CHAIN_EVENT_FUNCTION",
    "REFUSE_TRACKING_FUNCTION",
    "aggregate_events_table",
    "append_function",
    "append_function_name",
    "application_events_table",
    "chain_event_function",
    "heads_table",
    "qualified",
    "refuse_tracking_function",
    "seals_table",
    "tracking_table",
]
