-- The trash: a deleted item's tombstone keeps the item as it was deleted,
-- who deleted it and when, until it is restored or purged (by an admin, or
-- by the retention job). A tombstone whose `name` is NULL holds only the
-- version (purged, restored, or deleted before the trash existed).
ALTER TABLE item_tombstones
    ADD COLUMN name TEXT COLLATE "C",
    ADD COLUMN description TEXT COLLATE "C",
    ADD COLUMN category TEXT COLLATE "C",
    ADD COLUMN price DOUBLE PRECISION,
    ADD COLUMN created_at TEXT COLLATE "C",
    ADD COLUMN deleted_at TEXT COLLATE "C",
    ADD COLUMN deleted_by TEXT COLLATE "C",
    -- Case-folded copies for searching the trash, as items keep them.
    ADD COLUMN name_folded TEXT COLLATE "C",
    ADD COLUMN description_folded TEXT COLLATE "C";

-- The trash newest deletion first (its pages), and oldest first (the
-- retention job): only tombstones that hold an item.
CREATE INDEX item_trash ON item_tombstones (deleted_at, id) WHERE name IS NOT NULL;
