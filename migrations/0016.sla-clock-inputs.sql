-- depends: 0012.reports
-- What the SLA clocks follow, in the case list, so that `casemgmt sla apply` recomputes the
-- deadlines of every open case from these rows instead of loading each case
-- (casemgmt/application/clock_recompute.py): the first message out (a reply or a request for
-- information) and each clock as its latest SLA event carries it. Rows written before this
-- migration lack them (`clocks_known` false): those cases are recomputed from their events, until
-- `casemgmt rebuild` fills every row.

ALTER TABLE case_summaries
    ADD COLUMN first_response_at timestamptz,
    ADD COLUMN sla_clocks jsonb,
    ADD COLUMN clocks_known boolean NOT NULL DEFAULT false;
