-- The trigram index a search of three characters or more reads: an FTS5
-- table of the trigrams (runs of three characters) of the items' folded
-- name and description. It stores neither the text (external content: the
-- text stays in `items`) nor positions or sizes (`detail=none`,
-- `columnsize=0`): a search asks it for the rows holding all of its
-- query's trigrams and the server tests the substring on each of them.
-- Case-sensitive, since the server folds both sides itself.
CREATE VIRTUAL TABLE item_search USING fts5(
    name_folded,
    description_folded,
    content = 'items',
    content_rowid = 'id',
    tokenize = 'trigram case_sensitive 1',
    detail = none,
    columnsize = 0
);

-- Built from the items there are (half a minute for ten million) ...
INSERT INTO item_search (item_search) VALUES ('rebuild');

-- ... and then kept a moment behind the writes. FTS5 writes an index
-- segment at every commit, which cost small groups of writes a quarter of
-- their speed; so a write only notes its item here, and the server moves
-- the noted items into the index in batches. Until then a search reads
-- the noted items directly. `indexed` says whether the index holds text
-- for the item, and then `name_folded` and `description_folded` are that
-- text (what removing it from the index takes).
CREATE TABLE item_search_pending (
    id INTEGER PRIMARY KEY,
    indexed INTEGER NOT NULL,
    name_folded TEXT,
    description_folded TEXT
);
