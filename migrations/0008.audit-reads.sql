-- depends: 0007.audit-log
-- Reads of cases through the API: who (account and role, on whose behalf), which case, when, which
-- view (case, case-as-of, case-at-version, history) and in which request. Written in batches by
-- the read recorder of each API process (casemgmt/persistence/reads.py); not derived from events,
-- so no rebuild recreates it.

CREATE TABLE case_reads (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    read_at timestamptz NOT NULL,
    account text NOT NULL,
    role text NOT NULL,
    on_behalf_of text,
    case_id uuid NOT NULL,
    case_reference text NOT NULL,
    view text NOT NULL,
    correlation_id text NOT NULL
);

CREATE INDEX case_reads_read_at_idx ON case_reads (read_at, id);
CREATE INDEX case_reads_account_idx ON case_reads (account, read_at);
CREATE INDEX case_reads_case_idx ON case_reads (case_id, read_at);
CREATE INDEX case_reads_reference_idx ON case_reads (case_reference, read_at);
