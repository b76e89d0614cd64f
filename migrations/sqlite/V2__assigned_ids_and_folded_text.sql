-- Ids the server assigns come from this counter alone: the last id it
-- handed out. An id a client chooses never moves it, so no request can
-- push the ids other clients get towards the end of the range (before,
-- one explicit id of 2^63 - 1 made every later create fail). Starts where
-- SQLite's own sequence was, unless an explicit id had pushed that beyond
-- the id range (2^53 - 1).
CREATE TABLE item_id_counter (
    last INTEGER NOT NULL CHECK (last >= 0)
);
INSERT INTO item_id_counter (last) VALUES (COALESCE(
    (SELECT seq FROM sqlite_sequence WHERE name = 'items' AND seq <= 9007199254740991),
    (SELECT max(id) FROM items WHERE id <= 9007199254740991),
    0
));

-- Ids of deleted items above the counter: the counter skips them, so the
-- id of a deleted item is never handed out again.
CREATE TABLE retired_item_ids (
    id INTEGER PRIMARY KEY
);

-- Unicode case-folded copies of the searchable text, written by the server
-- with every insert and update (SQLite's LIKE and NOCASE fold ASCII only).
-- The server fills them for existing rows right after this migration.
ALTER TABLE items ADD COLUMN name_folded TEXT NOT NULL DEFAULT '';
ALTER TABLE items ADD COLUMN description_folded TEXT;
ALTER TABLE items ADD COLUMN category_folded TEXT;
DROP INDEX items_category;
CREATE INDEX items_category_folded ON items (category_folded);
