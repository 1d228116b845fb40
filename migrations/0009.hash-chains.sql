-- depends: 0006.sla-policy-applied
-- Tamper evidence: every event is linked into its case's hash chain (case_hash) and the
-- notification log's (log_hash) by the recorder, in the transaction that writes it, through
-- carecentre_events_append (casemgmt/persistence/chain.py defines the links; schema.py makes the
-- same objects for recorders that create their own tables). Each case's latest link is kept in
-- carecentre_events_heads, so a case whose events are deleted, all or the last ones, is still
-- known; with CASEMGMT_AUDIT_KEY each link's seal (an HMAC made by the application, whose key the
-- database never sees) goes into carecentre_events_seals in the same transaction.
--
-- Events stored before this migration are chained here, in log order, under the table's lock:
-- their links attest to the events as they are now, not as they were first written.

ALTER TABLE carecentre_events ADD COLUMN case_hash bytea, ADD COLUMN log_hash bytea;

CREATE TABLE carecentre_events_heads (
    originator_id uuid PRIMARY KEY,
    originator_version bigint NOT NULL,
    case_hash bytea NOT NULL
);

CREATE TABLE carecentre_events_seals (
    notification_id bigint PRIMARY KEY,
    case_seal bytea NOT NULL,
    log_seal bytea NOT NULL
);

-- A stored event in the canonical form the links hash: its originator id (16 bytes), version
-- (8 bytes, big-endian), topic (UTF-8, after its length in 4 bytes) and state (after its length).
CREATE OR REPLACE FUNCTION casemgmt_chain_event(
    originator_id uuid, originator_version bigint, topic text, state bytea
) RETURNS bytea LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT uuid_send(originator_id) || int8send(originator_version)
        || int4send(octet_length(convert_to(topic, 'UTF8'))) || convert_to(topic, 'UTF8')
        || int4send(octet_length(state)) || state
$$;

-- case_hash = sha256('C' || event || the case's previous case_hash)
-- log_hash = sha256('L' || notification id || event || the previous notification's log_hash)
-- (32 zero bytes before the first of either). The caller holds the table's EXCLUSIVE lock, so the
-- log's head read first is still the head when the rows go in; each case's previous link comes
-- from its head, which an event earlier in the same call may just have moved. Notification ids
-- are drawn here, as the log's links hash them.
CREATE OR REPLACE FUNCTION carecentre_events_append(
    ids uuid[], versions bigint[], topics text[], states bytea[]
) RETURNS TABLE (new_notification_id bigint, new_case_hash bytea, new_log_hash bytea)
LANGUAGE plpgsql AS $$
DECLARE
    ids_sequence regclass := pg_get_serial_sequence('carecentre_events', 'notification_id');
    last_log bytea;
    previous bytea;
    event bytea;
BEGIN
    SELECT e.log_hash INTO last_log FROM carecentre_events e WHERE e.log_hash IS NOT NULL
        ORDER BY e.notification_id DESC LIMIT 1;
    last_log := coalesce(last_log, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea);
    FOR i IN 1 .. cardinality(ids) LOOP
        SELECT h.case_hash INTO previous FROM carecentre_events_heads h
            WHERE h.originator_id = ids[i];
        new_notification_id := nextval(ids_sequence);
        event := casemgmt_chain_event(ids[i], versions[i], topics[i], states[i]);
        new_case_hash := sha256('\x43'::bytea || event || coalesce(previous, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea));
        new_log_hash := sha256('\x4c'::bytea || int8send(new_notification_id) || event || last_log);
        WITH appended AS (
            INSERT INTO carecentre_events (originator_id, originator_version, topic, state,
                notification_id, case_hash, log_hash)
            VALUES (ids[i], versions[i], topics[i], states[i], new_notification_id,
                new_case_hash, new_log_hash)
        )
        INSERT INTO carecentre_events_heads AS h (originator_id, originator_version, case_hash)
            VALUES (ids[i], versions[i], new_case_hash)
            ON CONFLICT (originator_id) DO UPDATE
            SET originator_version = EXCLUDED.originator_version, case_hash = EXCLUDED.case_hash;
        last_log := new_log_hash;
        RETURN NEXT;
    END LOOP;
END
$$;

LOCK TABLE carecentre_events IN EXCLUSIVE MODE;

DO $$
DECLARE
    genesis CONSTANT bytea := '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea;
    last_log bytea := genesis;
    previous bytea;
    stored record;
    event bytea;
    linked bytea;
BEGIN
    FOR stored IN
        SELECT originator_id, originator_version, topic, state, notification_id
        FROM carecentre_events ORDER BY notification_id
    LOOP
        SELECT h.case_hash INTO previous FROM carecentre_events_heads h
            WHERE h.originator_id = stored.originator_id;
        event := casemgmt_chain_event(stored.originator_id, stored.originator_version,
            stored.topic, stored.state);
        linked := sha256('\x43'::bytea || event || coalesce(previous, genesis));
        last_log := sha256('\x4c'::bytea || int8send(stored.notification_id) || event || last_log);
        UPDATE carecentre_events SET case_hash = linked, log_hash = last_log
            WHERE notification_id = stored.notification_id;
        INSERT INTO carecentre_events_heads AS h (originator_id, originator_version, case_hash)
            VALUES (stored.originator_id, stored.originator_version, linked)
            ON CONFLICT (originator_id) DO UPDATE
            SET originator_version = EXCLUDED.originator_version, case_hash = EXCLUDED.case_hash;
    END LOOP;
END
$$;
