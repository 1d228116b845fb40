-- depends: 0009.hash-chains 0013.care-sessions
-- The append function links each event into its case's chain and the log's chain as before (the
-- same links: `casemgmt audit verify` reads them unchanged), but writes set-wise: the cases' heads
-- are read in one statement, and the events and the new heads written in one statement each,
-- instead of a read, an insert and an upsert per event. Only the links are computed event by
-- event, as each hashes the one before it. The care sessions' store (0013) gets the same function
-- in the form casemgmt/persistence/schema.py makes it for recorders that create their own tables.

CREATE OR REPLACE FUNCTION carecentre_events_append(
    ids uuid[], versions bigint[], topics text[], states bytea[]
) RETURNS TABLE (new_notification_id bigint, new_case_hash bytea, new_log_hash bytea)
LANGUAGE plpgsql AS $$
DECLARE
    ids_sequence regclass := pg_get_serial_sequence('carecentre_events', 'notification_id');
    total integer := coalesce(cardinality(ids), 0);
    last_log bytea;
    event bytea;
    previous bytea;
    notification_ids bigint[];
    earlier integer[];
    head_hashes bytea[];
    case_hashes bytea[] := '{}';
    log_hashes bytea[] := '{}';
BEGIN
    IF total = 0 THEN RETURN; END IF;
    SELECT e.log_hash INTO last_log FROM carecentre_events e WHERE e.log_hash IS NOT NULL ORDER BY e.notification_id DESC LIMIT 1;
    last_log := coalesce(last_log, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea);
    SELECT array_agg(nextval(ids_sequence) ORDER BY n) INTO notification_ids FROM generate_series(1, total) AS n;
    SELECT array_agg(b.earlier ORDER BY b.n), array_agg(h.case_hash ORDER BY b.n) INTO earlier, head_hashes FROM (SELECT n, u.id, lag(n) OVER (PARTITION BY u.id ORDER BY n) AS earlier FROM unnest(ids) WITH ORDINALITY AS u(id, n)) b LEFT JOIN carecentre_events_heads h ON h.originator_id = b.id;
    FOR i IN 1 .. total LOOP
        previous := CASE WHEN earlier[i] IS NULL THEN head_hashes[i] ELSE case_hashes[earlier[i]] END;
        event := casemgmt_chain_event(ids[i], versions[i], topics[i], states[i]);
        case_hashes[i] := sha256('\x43'::bytea || event || coalesce(previous, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea));
        log_hashes[i] := sha256('\x4c'::bytea || int8send(notification_ids[i]) || event || last_log);
        last_log := log_hashes[i];
    END LOOP;
    INSERT INTO carecentre_events (originator_id, originator_version, topic, state, notification_id, case_hash, log_hash) SELECT * FROM unnest(ids, versions, topics, states, notification_ids, case_hashes, log_hashes);
    INSERT INTO carecentre_events_heads AS h (originator_id, originator_version, case_hash) SELECT DISTINCT ON (l.id) l.id, l.version, l.hash FROM unnest(ids, versions, case_hashes) WITH ORDINALITY AS l(id, version, hash, n) ORDER BY l.id, l.n DESC ON CONFLICT (originator_id) DO UPDATE SET originator_version = EXCLUDED.originator_version, case_hash = EXCLUDED.case_hash;
    RETURN QUERY SELECT r.id, r.case_hash, r.log_hash FROM unnest(notification_ids, case_hashes, log_hashes) WITH ORDINALITY AS r(id, case_hash, log_hash, n) ORDER BY r.n;
END $$;

CREATE OR REPLACE FUNCTION "caresessions_events_append"(ids uuid[], versions bigint[], topics text[], states bytea[]) RETURNS TABLE (new_notification_id bigint, new_case_hash bytea, new_log_hash bytea) LANGUAGE plpgsql AS $$ DECLARE ids_sequence regclass := pg_get_serial_sequence('"caresessions_events"', 'notification_id'); total integer := coalesce(cardinality(ids), 0); last_log bytea; event bytea; previous bytea; notification_ids bigint[]; earlier integer[]; head_hashes bytea[]; case_hashes bytea[] := '{}'; log_hashes bytea[] := '{}'; BEGIN IF total = 0 THEN RETURN; END IF; SELECT e.log_hash INTO last_log FROM "caresessions_events" e WHERE e.log_hash IS NOT NULL ORDER BY e.notification_id DESC LIMIT 1; last_log := coalesce(last_log, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea); SELECT array_agg(nextval(ids_sequence) ORDER BY n) INTO notification_ids FROM generate_series(1, total) AS n; SELECT array_agg(b.earlier ORDER BY b.n), array_agg(h.case_hash ORDER BY b.n) INTO earlier, head_hashes FROM (SELECT n, u.id, lag(n) OVER (PARTITION BY u.id ORDER BY n) AS earlier FROM unnest(ids) WITH ORDINALITY AS u(id, n)) b LEFT JOIN "caresessions_events_heads" h ON h.originator_id = b.id; FOR i IN 1 .. total LOOP previous := CASE WHEN earlier[i] IS NULL THEN head_hashes[i] ELSE case_hashes[earlier[i]] END; event := "casemgmt_chain_event"(ids[i], versions[i], topics[i], states[i]); case_hashes[i] := sha256('\x43'::bytea || event || coalesce(previous, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea)); log_hashes[i] := sha256('\x4c'::bytea || int8send(notification_ids[i]) || event || last_log); last_log := log_hashes[i]; END LOOP; INSERT INTO "caresessions_events" (originator_id, originator_version, topic, state, notification_id, case_hash, log_hash) SELECT * FROM unnest(ids, versions, topics, states, notification_ids, case_hashes, log_hashes); INSERT INTO "caresessions_events_heads" AS h (originator_id, originator_version, case_hash) SELECT DISTINCT ON (l.id) l.id, l.version, l.hash FROM unnest(ids, versions, case_hashes) WITH ORDINALITY AS l(id, version, hash, n) ORDER BY l.id, l.n DESC ON CONFLICT (originator_id) DO UPDATE SET originator_version = EXCLUDED.originator_version, case_hash = EXCLUDED.case_hash; RETURN QUERY SELECT r.id, r.case_hash, r.log_hash FROM unnest(notification_ids, case_hashes, log_hashes) WITH ORDINALITY AS r(id, case_hash, log_hash, n) ORDER BY r.n; END $$;
