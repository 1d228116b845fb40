-- depends: 0005.sla-clocks
-- Which SLA policy (a fingerprint of the policy file and the holidays it draws on) the open cases'
-- clocks were last brought up to: the SLA timer compares it with the policy it starts with and,
-- when they differ, recomputes every open case's deadlines before anything else.

CREATE TABLE sla_policy_applied (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    fingerprint text NOT NULL,
    version text NOT NULL,
    applied_at timestamptz NOT NULL
);
