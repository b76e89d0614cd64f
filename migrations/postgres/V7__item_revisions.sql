-- Every committed change of an item, recorded in the transaction of the
-- change: the item after it (for a delete, the item as it was deleted),
-- its editable fields before it (an update's, a revert's), who made it,
-- through which door, and the request. Read newest first per item, so the
-- key is (item_id, version); a delete takes a version of its own.
--
-- Items stored before this migration have no revision until their next
-- change (a catalogue of millions is not copied here).
CREATE TABLE item_revisions (
    item_id         BIGINT NOT NULL,
    version         BIGINT NOT NULL,
    action          TEXT COLLATE "C" NOT NULL,
    at              TEXT COLLATE "C" NOT NULL,
    actor           TEXT COLLATE "C",
    token           TEXT COLLATE "C",
    door            TEXT COLLATE "C" NOT NULL,
    request_id      TEXT COLLATE "C",
    reverted_to     BIGINT,
    name            TEXT COLLATE "C" NOT NULL,
    description     TEXT COLLATE "C",
    category        TEXT COLLATE "C",
    price           DOUBLE PRECISION,
    created_at      TEXT COLLATE "C" NOT NULL,
    had_before      BOOLEAN NOT NULL,
    old_name        TEXT COLLATE "C",
    old_description TEXT COLLATE "C",
    old_category    TEXT COLLATE "C",
    old_price       DOUBLE PRECISION,
    PRIMARY KEY (item_id, version)
);

-- Replaces an item's fields and records the revision, in one call. The
-- row is locked before its old fields are read, so of two concurrent
-- updates each records the values the other left (a single statement
-- would read them from its snapshot, older than the row it then updates).
-- No row when the item is missing or not at `expected` (when given).
CREATE FUNCTION update_item(
    p_id BIGINT, p_name TEXT, p_description TEXT, p_category TEXT, p_price DOUBLE PRECISION,
    p_now TEXT, p_expected BIGINT, p_name_folded TEXT, p_description_folded TEXT,
    p_category_folded TEXT, p_action TEXT, p_actor TEXT, p_token TEXT, p_door TEXT,
    p_request_id TEXT, p_reverted_to BIGINT
) RETURNS SETOF items LANGUAGE plpgsql AS $$
DECLARE
    before items%ROWTYPE;
    after  items%ROWTYPE;
BEGIN
    SELECT * INTO before FROM items WHERE id = p_id FOR UPDATE;
    IF NOT FOUND OR (p_expected IS NOT NULL AND before.version <> p_expected) THEN
        RETURN;
    END IF;
    UPDATE items SET name = p_name, description = p_description, category = p_category,
        price = p_price, updated_at = p_now, version = version + 1,
        name_folded = p_name_folded, description_folded = p_description_folded,
        category_folded = p_category_folded
    WHERE id = p_id RETURNING * INTO after;
    INSERT INTO item_revisions (item_id, version, action, at, actor, token, door, request_id,
        reverted_to, name, description, category, price, created_at, had_before, old_name,
        old_description, old_category, old_price)
    VALUES (after.id, after.version, p_action, p_now, p_actor, p_token, p_door, p_request_id,
        p_reverted_to, after.name, after.description, after.category, after.price,
        after.created_at, TRUE, before.name, before.description, before.category, before.price);
    RETURN NEXT after;
END
$$;
