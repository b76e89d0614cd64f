-- The trash: a deleted item's tombstone keeps the item as it was deleted,
-- who deleted it and when, until it is restored or purged (by an admin, or
-- by the retention job). A tombstone whose `name` is NULL holds only the
-- version (purged, restored, or deleted before the trash existed).
ALTER TABLE item_tombstones ADD COLUMN name TEXT;
ALTER TABLE item_tombstones ADD COLUMN description TEXT;
ALTER TABLE item_tombstones ADD COLUMN category TEXT;
ALTER TABLE item_tombstones ADD COLUMN price REAL;
ALTER TABLE item_tombstones ADD COLUMN created_at TEXT;
ALTER TABLE item_tombstones ADD COLUMN deleted_at TEXT;
ALTER TABLE item_tombstones ADD COLUMN deleted_by TEXT;
-- Case-folded copies for searching the trash, as items keep them.
ALTER TABLE item_tombstones ADD COLUMN name_folded TEXT;
ALTER TABLE item_tombstones ADD COLUMN description_folded TEXT;

-- The trash newest deletion first (its pages), and oldest first (the
-- retention job): only tombstones that hold an item.
CREATE INDEX item_trash ON item_tombstones (deleted_at, id) WHERE name IS NOT NULL;
