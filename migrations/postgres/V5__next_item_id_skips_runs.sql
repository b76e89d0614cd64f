-- The next id to assign, as before (neither in use nor retired), but a
-- long run of ids in use after the sequence (an import of chosen ids, a
-- restored export) is crossed in strides rather than one call of nextval
-- and one lookup per id: the run is extended by doubling segments and the
-- gap then narrowed by halving one, each step counting only the ids not
-- yet known to be in use (a segment is full when it holds as many items as
-- it is long). The segments counted add up to about three times the run's
-- length, read from the index alone. The sequence is then moved to the
-- run's end, unless another caller has already moved it further.
CREATE OR REPLACE FUNCTION next_item_id() RETURNS BIGINT LANGUAGE plpgsql AS $$
DECLARE
    candidate BIGINT;
    known BIGINT;
    beyond BIGINT;
    middle BIGINT;
    stride BIGINT;
BEGIN
    LOOP
        candidate := nextval('item_ids');
        IF NOT EXISTS (SELECT 1 FROM items WHERE id = candidate) THEN
            IF NOT EXISTS (SELECT 1 FROM retired_item_ids WHERE id = candidate) THEN
                RETURN candidate;
            END IF;
            CONTINUE; -- Retired, not an item's: no run to cross.
        END IF;
        -- Ids up to known are in use; the first free one is at most beyond.
        known := candidate;
        stride := 1;
        LOOP
            EXIT WHEN known = 9007199254740991;
            beyond := least(known + stride, 9007199254740991);
            EXIT WHEN (SELECT count(*) FROM items WHERE id BETWEEN known + 1 AND beyond)
                      <> beyond - known;
            known := beyond;
            stride := stride * 2;
        END LOOP;
        IF known < 9007199254740991 THEN
            WHILE beyond - known > 1 LOOP
                middle := known + (beyond - known) / 2;
                IF (SELECT count(*) FROM items WHERE id BETWEEN known + 1 AND middle)
                   = middle - known THEN
                    known := middle;
                ELSE
                    beyond := middle;
                END IF;
            END LOOP;
        END IF;
        IF known > candidate THEN
            PERFORM setval('item_ids', known) FROM item_ids WHERE last_value < known;
        END IF;
    END LOOP;
END
$$;
