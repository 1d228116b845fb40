-- depends: 0003.case-summaries
-- A random identity of this event store, made once. Derived state kept elsewhere (Redis) is
-- namespaced by it, so a Redis shared with another database can never be mistaken for this one's.

CREATE TABLE event_store_identity (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    created_at timestamptz NOT NULL DEFAULT now(),
    singleton boolean NOT NULL DEFAULT true UNIQUE CHECK (singleton)
);

INSERT INTO event_store_identity DEFAULT VALUES;
