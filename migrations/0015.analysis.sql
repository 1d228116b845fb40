-- depends: 0014.requester-key-links
-- The improvement analysis report's read tables, written by the `reports` projection in the same
-- transactions as report_cases (casemgmt/projections/analysis.py writes them,
-- casemgmt/queries/analysis.py reads them). Everything here is derived from carecentre_events;
-- `casemgmt rebuild` recreates it. Working time is in microseconds, so sums are exact.

-- One row per case: the stretch under way (status and unit since `since`), the units the case
-- was with in order (JSON array, null for no unit), the first loop in that path, the requester
-- as the keyed hash their key is found by (requester_keys.requester_hash; NULL when anonymous or
-- erased) and the working time of the open stretches that ended.
CREATE TABLE analysis_cases (
    case_id uuid PRIMARY KEY,
    status text NOT NULL,
    unit text,
    since timestamptz NOT NULL,
    requester bytea,
    units jsonb NOT NULL,
    loop jsonb,                              -- ["hanoi", "haiphong", "hanoi"], NULL for none
    open_microseconds bigint NOT NULL
);
-- Repeat contacts look for the same requester's other cases.
CREATE INDEX analysis_cases_requester_idx ON analysis_cases (requester)
    WHERE requester IS NOT NULL;

-- One row per stretch a case spent in an open status (received, triaged, in_progress,
-- awaiting_citizen) at one unit, written when the event `version` ended it.
CREATE TABLE analysis_state_times (
    case_id uuid NOT NULL,
    version bigint NOT NULL,
    status text NOT NULL,
    unit text,
    working_microseconds bigint NOT NULL,    -- in the unit's calendar
    PRIMARY KEY (case_id, version)
);

-- One row per breach: the SLA timer's SlaBreached, or a clock stopped after its deadline with
-- none recorded (event `version`), and the unit that held the case then.
CREATE TABLE analysis_breaches (
    case_id uuid NOT NULL,
    version bigint NOT NULL,
    clock text NOT NULL,
    unit text,
    PRIMARY KEY (case_id, version)
);

-- The terms of a case's subject (folded, stop words left out), each once; deleted when the
-- requester is erased.
CREATE TABLE analysis_terms (
    case_id uuid NOT NULL,
    term text NOT NULL,
    PRIMARY KEY (case_id, term)
);

-- The reports projection starts over, so that the cases received before this version are in
-- these tables too: with its position forgotten, the next worker to run it records position 0,
-- empties report_cases and these tables, and replays the whole log into them (the summary report
-- lags meanwhile, as /health shows). `casemgmt rebuild --projection reports` does the same at once.
DELETE FROM projection_tracking WHERE projection_name = 'reports';
