-- depends: 0004.event-store-identity
-- SLA clocks in the case list: each clock's deadline, warning instant, state and next alarm, and
-- the case's next alarm of either clock, which the SLA timer polls (derived like every column
-- here: `casemgmt rebuild` fills them from the events).

ALTER TABLE case_summaries
    ADD COLUMN first_response_due timestamptz,
    ADD COLUMN first_response_warning_at timestamptz,
    ADD COLUMN first_response_state text,
    ADD COLUMN first_response_alarm_at timestamptz,
    ADD COLUMN resolution_due timestamptz,
    ADD COLUMN resolution_warning_at timestamptz,
    ADD COLUMN resolution_state text,
    ADD COLUMN resolution_alarm_at timestamptz,
    ADD COLUMN next_sla_alarm_at timestamptz;

CREATE INDEX case_summaries_next_sla_alarm_idx ON case_summaries (next_sla_alarm_at)
    WHERE next_sla_alarm_at IS NOT NULL;
CREATE INDEX case_summaries_first_response_due_idx ON case_summaries (first_response_due)
    WHERE first_response_state = 'running';
CREATE INDEX case_summaries_resolution_due_idx ON case_summaries (resolution_due)
    WHERE resolution_state = 'running';
