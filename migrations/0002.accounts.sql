-- depends: 0001.event-store
-- People and integrations allowed to call the API. Only a SHA-256 hash of each token is kept.

CREATE TABLE accounts (
    id bigserial PRIMARY KEY,
    name text NOT NULL UNIQUE,
    role text NOT NULL CHECK (role IN ('intake', 'agent', 'supervisor', 'auditor', 'admin')),
    token_hash bytea NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    disabled_at timestamptz
);
