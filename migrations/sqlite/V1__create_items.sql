-- Items of the catalogue. AUTOINCREMENT keeps ids of deleted items from
-- being handed out again, so a script holding an old id never sees a
-- different item under it.
CREATE TABLE items (
    id          INTEGER PRIMARY KEY AUTOINCREMENT CHECK (id > 0),
    name        TEXT    NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description TEXT             CHECK (length(description) <= 2000),
    category    TEXT             CHECK (length(category) <= 100),
    price       REAL             CHECK (price >= 0),
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL,
    version     INTEGER NOT NULL DEFAULT 1
);

CREATE INDEX items_category ON items (category COLLATE NOCASE);
