-- depends: 0010.accounts-lifecycle 0011.requester-keys
-- Reports and satisfaction surveys. Everything here is derived from carecentre_events;
-- `casemgmt rebuild` recreates it.

-- When a resolved case closes by itself (its SurveyRequested event says), which the auto-closer
-- polls; cleared when the case is reopened, closed or merged.
ALTER TABLE case_summaries ADD COLUMN auto_close_at timestamptz;
CREATE INDEX case_summaries_auto_close_idx ON case_summaries (auto_close_at)
    WHERE auto_close_at IS NOT NULL;

-- The summary report's read table: one row per case with the keys it is grouped by and the
-- figures it adds up (casemgmt/projections/reports.py writes it, casemgmt/queries/reports.py
-- reads it). Business seconds are the SLA clock's working time when it stopped.
CREATE TABLE report_cases (
    case_id uuid PRIMARY KEY,
    received_at timestamptz NOT NULL,
    channel text NOT NULL,
    category_line text,
    category_kind text,
    priority text NOT NULL,
    unit text,
    agent text,                              -- the last agent assigned
    status text NOT NULL,
    ended_at timestamptz,                    -- resolved or merged at (NULL while open)
    first_response_seconds double precision, -- NULL until the clock stops
    first_response_outcome text,             -- met | breached | NULL (neither yet)
    resolution_seconds double precision,
    resolution_outcome text,
    reopened boolean NOT NULL,
    transferred boolean NOT NULL,
    escalated boolean NOT NULL,
    merged boolean NOT NULL,
    survey_requested boolean NOT NULL,
    feedback_score smallint                  -- the latest rating, 1 to 5
);

-- Every report takes the cases received in a period: a range scan of this index.
CREATE INDEX report_cases_received_at_idx ON report_cases (received_at);
