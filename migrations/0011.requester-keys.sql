-- depends: 0009.hash-chains
-- Crypto-shredding of requesters' personal data (casemgmt/persistence/shredding.py): each
-- requester's name, identifier, contact and conversation are sealed in the stored events with an
-- AES-256-GCM key of their own; erasing the requester destroys the key. Not derived from events:
-- no rebuild recreates these tables, and a lost key row is erased data.

-- The secret of the keyed hash that finds a requester's key by their identifier, so that these
-- tables never hold an identifier in clear. Made once, here, from the server's strong randomness.
CREATE TABLE requester_key_pepper (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    pepper bytea NOT NULL
);
INSERT INTO requester_key_pepper (pepper)
SELECT sha256(convert_to(gen_random_uuid()::text || gen_random_uuid()::text
                         || clock_timestamp()::text, 'UTF8'));

-- One key per requester identified by an id (requester_hash = HMAC-SHA256(pepper, id)), one per
-- case for an anonymous requester (requester_hash NULL). Erasure empties key and requester_hash
-- and keeps the row as a tombstone, so that a write racing the erasure can tell the key is gone.
CREATE TABLE requester_keys (
    key_id uuid PRIMARY KEY,
    requester_hash bytea UNIQUE,
    key bytea,
    created_at timestamptz NOT NULL DEFAULT now(),
    erased_at timestamptz,
    CHECK ((key IS NULL) = (erased_at IS NOT NULL)),
    CHECK (key IS NOT NULL OR requester_hash IS NULL)
);

-- Which cases hold data sealed with which key: what an erasure appends its event to.
CREATE TABLE requester_key_cases (
    key_id uuid NOT NULL REFERENCES requester_keys (key_id),
    case_id uuid NOT NULL,
    PRIMARY KEY (key_id, case_id)
);
CREATE INDEX requester_key_cases_case_idx ON requester_key_cases (case_id);

-- The record of each erasure: who, when, why, how many cases; never whom (the key id is random).
CREATE TABLE requester_erasures (
    erasure_id uuid PRIMARY KEY,
    key_id uuid NOT NULL REFERENCES requester_keys (key_id),
    erased_at timestamptz NOT NULL,
    actor_id text NOT NULL,
    actor_role text NOT NULL,
    on_behalf_of text,
    correlation_id text NOT NULL,
    reason text NOT NULL,
    cases integer NOT NULL
);
CREATE INDEX requester_erasures_erased_at_idx ON requester_erasures (erased_at);
