-- depends: 0011.requester-keys
-- Links a case to the key its first event was sealed with, inside the write of that event
-- (casemgmt/persistence/recorders.py), so an intake costs no round trip of its own for it.
-- `new_keys`: the material of keys made for one case (an anonymous requester's), stored here;
-- NULL for a requester's existing key. A key found destroyed (its requester erased since the
-- writer looked it up) fails the whole write with SQLSTATE CMK01 and the key id as DETAIL, and
-- the writer seals the event again under a new key. FOR SHARE waits for an erasure of the key
-- that is under way, so an erasure that took the key's row lock knows every case it will seal.
CREATE FUNCTION casemgmt_link_requester_keys(key_ids uuid[], case_ids uuid[], new_keys bytea[])
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    i integer;
BEGIN
    INSERT INTO requester_keys (key_id, key)
    SELECT k.key_id, k.key FROM unnest(key_ids, new_keys) AS k(key_id, key)
    WHERE k.key IS NOT NULL;
    FOR i IN 1 .. coalesce(array_length(key_ids, 1), 0) LOOP
        PERFORM FROM requester_keys
        WHERE key_id = key_ids[i] AND key IS NOT NULL FOR SHARE;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'requester key % is destroyed', key_ids[i]
                USING ERRCODE = 'CMK01', DETAIL = key_ids[i]::text;
        END IF;
        INSERT INTO requester_key_cases (key_id, case_id) VALUES (key_ids[i], case_ids[i])
        ON CONFLICT DO NOTHING;
    END LOOP;
END
$$;
