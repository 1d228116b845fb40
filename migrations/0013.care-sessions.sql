-- depends: 0011.requester-keys
-- Active care (casemgmt/domain/sessions.py): dialogue conferences and policy Q&A sessions are
-- aggregates of their own, stored by the CareSessions application in an event store of their
-- own beside the cases' one, with its notification log and hash chains made as for the cases
-- (the same columns and append function as casemgmt/persistence/schema.py creates; the chain
-- function casemgmt_chain_event comes from 0009). Sessions are few: the API lists them by
-- reading these events, no read table needed.

CREATE TABLE "caresessions_events" ( originator_id uuid NOT NULL, originator_version bigint NOT NULL, topic text NOT NULL, state bytea NOT NULL, notification_id bigserial NOT NULL, case_hash bytea, log_hash bytea, PRIMARY KEY (originator_id, originator_version));

CREATE UNIQUE INDEX "caresessions_events_notification_id_idx" ON "caresessions_events" (notification_id);

CREATE TABLE "caresessions_events_heads" ( originator_id uuid PRIMARY KEY, originator_version bigint NOT NULL, case_hash bytea NOT NULL);

CREATE TABLE "caresessions_events_seals" ( notification_id bigint PRIMARY KEY, case_seal bytea NOT NULL, log_seal bytea NOT NULL);

CREATE OR REPLACE FUNCTION "caresessions_events_append"(ids uuid[], versions bigint[], topics text[], states bytea[]) RETURNS TABLE (new_notification_id bigint, new_case_hash bytea, new_log_hash bytea) LANGUAGE plpgsql AS $$ DECLARE ids_sequence regclass := pg_get_serial_sequence('"caresessions_events"', 'notification_id'); last_log bytea; previous bytea; event bytea; BEGIN SELECT e.log_hash INTO last_log FROM "caresessions_events" e WHERE e.log_hash IS NOT NULL ORDER BY e.notification_id DESC LIMIT 1; last_log := coalesce(last_log, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea); FOR i IN 1 .. cardinality(ids) LOOP SELECT h.case_hash INTO previous FROM "caresessions_events_heads" h WHERE h.originator_id = ids[i]; new_notification_id := nextval(ids_sequence); event := "casemgmt_chain_event"(ids[i], versions[i], topics[i], states[i]); new_case_hash := sha256('\x43'::bytea || event || coalesce(previous, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea)); new_log_hash := sha256('\x4c'::bytea || int8send(new_notification_id) || event || last_log); WITH appended AS (INSERT INTO "caresessions_events" (originator_id, originator_version, topic, state, notification_id, case_hash, log_hash) VALUES (ids[i], versions[i], topics[i], states[i], new_notification_id, new_case_hash, new_log_hash)) INSERT INTO "caresessions_events_heads" AS h (originator_id, originator_version, case_hash) VALUES (ids[i], versions[i], new_case_hash) ON CONFLICT (originator_id) DO UPDATE SET originator_version = EXCLUDED.originator_version, case_hash = EXCLUDED.case_hash; last_log := new_log_hash; RETURN NEXT; END LOOP; END $$;
