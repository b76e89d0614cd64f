-- Every committed change of an item, recorded in the transaction of the
-- change: the item after it (for a delete, the item as it was deleted),
-- its editable fields before it (an update's, a revert's), who made it,
-- through which door, and the request. Read newest first per item, so the
-- key is (item_id, version); a delete takes a version of its own.
--
-- Items stored before this migration have no revision until their next
-- change (a catalogue of millions is not copied here).
CREATE TABLE item_revisions (
    item_id         INTEGER NOT NULL,
    version         INTEGER NOT NULL,
    action          TEXT    NOT NULL,
    at              TEXT    NOT NULL,
    actor           TEXT,
    token           TEXT,
    door            TEXT    NOT NULL,
    request_id      TEXT,
    reverted_to     INTEGER,
    name            TEXT    NOT NULL,
    description     TEXT,
    category        TEXT,
    price           REAL,
    created_at      TEXT    NOT NULL,
    had_before      INTEGER NOT NULL,
    old_name        TEXT,
    old_description TEXT,
    old_category    TEXT,
    old_price       REAL,
    PRIMARY KEY (item_id, version)
) WITHOUT ROWID;
