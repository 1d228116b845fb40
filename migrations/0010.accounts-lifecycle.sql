-- depends: 0009.hash-chains
-- The token lifecycle: a token may expire (expires_at; a rotation gives the new token the same
-- lifetime, token_lifetime), the last use is kept to the minute (last_used_at), and every change to
-- an account is recorded for auditors (account_changes), in the statement that makes it.
-- The case list learns who opened each case and under which external_ref, so that an intake
-- account lists only its own cases. Both columns are derived from the events like every other
-- one: `casemgmt rebuild --projection case_summaries` fills them for cases opened before this.

ALTER TABLE accounts
    ADD COLUMN expires_at timestamptz,
    ADD COLUMN token_lifetime interval,
    ADD COLUMN last_used_at timestamptz;

CREATE TABLE account_changes (
    id bigserial PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES accounts (id),
    account_name text NOT NULL,
    change text NOT NULL CHECK (change IN ('created', 'disabled', 'enabled', 'rotated')),
    changed_by text NOT NULL,
    changed_at timestamptz NOT NULL,
    detail text
);

CREATE INDEX account_changes_account_idx ON account_changes (account_id, id);

ALTER TABLE case_summaries
    ADD COLUMN opened_by text,
    ADD COLUMN external_ref text;

CREATE INDEX case_summaries_opened_by_idx ON case_summaries (opened_by, received_at);
