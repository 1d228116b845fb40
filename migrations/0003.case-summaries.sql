-- depends: 0002.accounts
-- Read side: one row per case for lists, filters and search, and the position in the care
-- centre's notification log of each PostgreSQL projection (written in the same transaction as its
-- rows). Everything here is derived from carecentre_events; `casemgmt rebuild` recreates it.

CREATE TABLE projection_tracking (
    projection_name text PRIMARY KEY,
    notification_id bigint NOT NULL
);

-- Raised inside a projection's write when its position is not where the writer expected: another
-- writer (a rebuild, or a worker that took over) moved it. 23505 is unique_violation, which
-- psycopg2 reports as IntegrityError, so the whole write is rolled back.
CREATE OR REPLACE FUNCTION casemgmt_refuse_projection_position(projection_name text, expected bigint)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    RAISE unique_violation USING MESSAGE = format(
        'projection %s is no longer at notification %s: another writer moved it',
        projection_name, coalesce(expected::text, 'none'));
END
$$;

CREATE TABLE case_summaries (
    case_id uuid PRIMARY KEY,
    reference text NOT NULL,
    status text NOT NULL,
    channel text NOT NULL,
    subject text NOT NULL,
    category_line text,
    category_kind text,
    priority text NOT NULL,
    unit text,
    queue text,
    assignee text,
    escalation_level integer NOT NULL DEFAULT 0,
    received_at timestamptz NOT NULL,
    first_replied_at timestamptz,
    resolved_at timestamptz,
    closed_at timestamptz,
    merged_into uuid,
    -- Set by SLA events once they exist; kept now so the list filters and the API shape hold.
    first_response_breached boolean NOT NULL DEFAULT false,
    resolution_breached boolean NOT NULL DEFAULT false,
    last_activity_at timestamptz NOT NULL,
    version bigint NOT NULL,
    -- Subject, body and every message, folded in Python (lower case, no diacritics, đ → d) so
    -- that "bao hiem" finds "Bảo hiểm"; the 'simple' configuration neither stems nor drops words.
    search_text text NOT NULL DEFAULT '',
    search_vector tsvector GENERATED ALWAYS AS (to_tsvector('simple', search_text)) STORED
);

CREATE INDEX case_summaries_status_idx ON case_summaries (status, received_at);
CREATE INDEX case_summaries_queue_idx ON case_summaries (queue, status);
CREATE INDEX case_summaries_assignee_idx ON case_summaries (assignee, status);
CREATE INDEX case_summaries_unit_idx ON case_summaries (unit, status);
CREATE INDEX case_summaries_received_at_idx ON case_summaries (received_at);
CREATE INDEX case_summaries_last_activity_at_idx ON case_summaries (last_activity_at);
CREATE INDEX case_summaries_reference_idx ON case_summaries (reference);
CREATE INDEX case_summaries_breached_idx ON case_summaries (received_at)
    WHERE first_response_breached OR resolution_breached;
CREATE INDEX case_summaries_search_idx ON case_summaries USING gin (search_vector);
