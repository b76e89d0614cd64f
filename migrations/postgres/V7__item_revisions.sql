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

-- An update's revision is written by this trigger, which sees the row it
-- replaced (OLD) as well as the new one: of two concurrent updates, each
-- records the fields the other left. (Reading them in the updating
-- statement itself would see its snapshot, which may be older than the
-- row it then updates, unless the row were locked first, which costs a
-- fifth of the updates of a busy row.) Who made the change comes from the
-- transaction's `itemserve.origin` setting, which the server's update
-- sets in the same statement; an update made by hand in psql is recorded
-- as an update through REST by nobody.
CREATE FUNCTION record_item_update() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    origin jsonb := coalesce(nullif(current_setting('itemserve.origin', true), ''), '{}')::jsonb;
BEGIN
    INSERT INTO item_revisions (item_id, version, action, at, actor, token, door, request_id,
        reverted_to, name, description, category, price, created_at, had_before, old_name,
        old_description, old_category, old_price)
    VALUES (NEW.id, NEW.version, coalesce(origin->>'action', 'update'), NEW.updated_at,
        origin->>'actor', origin->>'token', coalesce(origin->>'door', 'rest'),
        origin->>'request_id', (origin->>'reverted_to')::bigint, NEW.name, NEW.description,
        NEW.category, NEW.price, NEW.created_at, TRUE, OLD.name, OLD.description,
        OLD.category, OLD.price);
    RETURN NULL;
END
$$;

CREATE TRIGGER items_record_update AFTER UPDATE ON items
    FOR EACH ROW EXECUTE FUNCTION record_item_update();
