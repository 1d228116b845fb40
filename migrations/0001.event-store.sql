-- The care centre's event store: its events with their notification log, snapshots of long
-- cases, and the function tracking positions use to refuse a position that would not advance.
-- (Its tables match those casemgmt/persistence/schema.py creates; their columns are compared by
-- tests/integration/test_bootstrap.py::test_migrated_tables_match_the_tables_the_recorders_create)

CREATE TABLE carecentre_events (
    originator_id uuid NOT NULL,
    originator_version bigint NOT NULL,
    topic text NOT NULL,
    state bytea NOT NULL,
    notification_id bigserial NOT NULL,
    PRIMARY KEY (originator_id, originator_version)
);

CREATE UNIQUE INDEX carecentre_events_notification_id_idx
    ON carecentre_events (notification_id);

CREATE TABLE carecentre_snapshots (
    originator_id uuid NOT NULL,
    originator_version bigint NOT NULL,
    topic text NOT NULL,
    state bytea NOT NULL,
    PRIMARY KEY (originator_id, originator_version)
);

CREATE OR REPLACE FUNCTION casemgmt_refuse_tracking(application_name text, notification_id bigint)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    RAISE unique_violation USING MESSAGE = format(
        'tracking for %s is already at or past notification %s', application_name, notification_id);
END
$$;

-- Human-readable case references ("CC-2026-000123") are numbered from this sequence.
CREATE SEQUENCE case_reference_seq;
