-- The trigram index a search of three characters or more reads: an FTS5
-- table of the trigrams (runs of three characters) of the items' folded
-- name and description. It stores neither the text (external content: the
-- text stays in `items`) nor positions or sizes (`detail=none`,
-- `columnsize=0`): a search asks for the rows holding all of its query's
-- trigrams and the server tests the substring on each row the index gives.
-- Case-sensitive, since the server folds both sides itself. The writes
-- keep it (not triggers; see the server's `index_search`).
CREATE VIRTUAL TABLE item_search USING fts5(
    name_folded,
    description_folded,
    content = 'items',
    content_rowid = 'id',
    tokenize = 'trigram case_sensitive 1',
    detail = none,
    columnsize = 0
);

-- Built from the items there are: a minute or so for ten million.
INSERT INTO item_search (item_search) VALUES ('rebuild');
