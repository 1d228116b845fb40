-- depends: 0006.sla-policy-applied
-- The action log: one row per event of the care centre's log, flattened for audit (who, role, on
-- whose behalf, cause, request, the case's unit and status after it, and what the event changed
-- in words), and each case as the action log last saw it, to tell what its next event changes.
-- Written by the `audit_log` projection with its position; `casemgmt rebuild` recreates it.

CREATE TABLE audit_events (
    notification_id bigint PRIMARY KEY,
    case_id uuid NOT NULL,
    case_reference text,
    version bigint NOT NULL,
    event_type text NOT NULL,
    occurred_at timestamptz NOT NULL,
    actor_id text NOT NULL,
    actor_role text NOT NULL,
    on_behalf_of text,
    cause text NOT NULL,
    correlation_id text NOT NULL,
    unit text,
    status text NOT NULL,
    changes jsonb NOT NULL,
    data jsonb NOT NULL
);

-- Lists are newest first and exports oldest first, both by (occurred_at, notification_id); the
-- filters narrow by actor, case, event type or unit, mostly within a time range.
CREATE INDEX audit_events_occurred_at_idx ON audit_events (occurred_at, notification_id);
CREATE INDEX audit_events_actor_idx ON audit_events (actor_id, occurred_at);
CREATE INDEX audit_events_case_idx ON audit_events (case_id, occurred_at);
CREATE INDEX audit_events_reference_idx ON audit_events (case_reference, occurred_at);
CREATE INDEX audit_events_type_idx ON audit_events (event_type, occurred_at);
CREATE INDEX audit_events_unit_idx ON audit_events (unit, occurred_at);

CREATE TABLE audit_case_states (
    case_id uuid PRIMARY KEY,
    -- The case's snapshot (eventsourcing's JSON transcoding) without messages, notes and body.
    state bytea NOT NULL
);
