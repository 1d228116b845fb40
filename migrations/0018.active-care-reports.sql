-- depends: 0013.care-sessions 0015.analysis
-- Active care in the reports: one row per conference or Q&A session, written by the `active_care`
-- projection, which follows the sessions' own notification log (caresessions_events, migration
-- 0013) as the other projections follow the cases' (casemgmt/projections/active_care.py writes
-- it, casemgmt/queries/active_care.py reads it for the summary and the analysis). Everything here
-- is derived from caresessions_events; `casemgmt rebuild --projection active_care` recreates it.
--
-- No personal data: what a session is about and how it went, set by the staff who planned and
-- recorded it, and how many questions were raised there (their cases' requesters stay in the
-- cases' log, sealed with their keys); erasing a requester leaves these rows as they are.
--
-- Nothing to reset on upgrade: the projection has no position yet, so the first worker to run
-- it records position 0 and replays every session recorded before this version.

CREATE TABLE report_sessions (
    session_id uuid PRIMARY KEY,
    kind text NOT NULL,                      -- conference | qa
    status text NOT NULL,                    -- scheduled | held
    unit text NOT NULL,
    line text,                               -- social | unemployment | health; NULL: none given
    topic text NOT NULL,
    scheduled_for timestamptz NOT NULL,
    held_at timestamptz,                     -- NULL until recorded as held
    attendance integer,                      -- NULL until recorded as held
    questions integer NOT NULL               -- questions raised there: cases opened and listed
);

-- The reports take the sessions scheduled in a period: a range scan of this index.
CREATE INDEX report_sessions_scheduled_for_idx ON report_sessions (scheduled_for);
