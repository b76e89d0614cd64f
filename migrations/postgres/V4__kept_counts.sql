-- How many items there are, in all and per category, kept by triggers in
-- the transaction of every write: the item page's total and its category
-- menu read these rows instead of counting the table.
--
-- Each count is spread over 16 rows (by the writing connection's process
-- id): one row would be locked by every write until its commit, so
-- concurrent writers would commit one after another. A count is the sum
-- of its rows; a row of a category may fall to zero or below while the
-- category's sum stays right.
CREATE TABLE item_count (
    shard SMALLINT PRIMARY KEY,
    n     BIGINT NOT NULL
);
INSERT INTO item_count (shard, n) SELECT 0, count(*) FROM items;

CREATE TABLE category_counts (
    category_folded TEXT COLLATE "C" NOT NULL,
    shard           SMALLINT NOT NULL,
    n               BIGINT NOT NULL,
    PRIMARY KEY (category_folded, shard)
);
INSERT INTO category_counts (category_folded, shard, n)
    SELECT category_folded, 0, count(*) FROM items
    WHERE category_folded IS NOT NULL GROUP BY category_folded;

-- Adds each statement's changes, once per statement (the creates of a
-- group go in one statement), from the rows it inserted (`new_rows`),
-- deleted (`old_rows`) or both (an update).
CREATE FUNCTION count_items() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    my_shard SMALLINT := pg_backend_pid() % 16;
    delta BIGINT;
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT count(*) INTO delta FROM new_rows;
        INSERT INTO category_counts AS c (category_folded, shard, n)
            SELECT category_folded, my_shard, count(*) FROM new_rows
            WHERE category_folded IS NOT NULL GROUP BY category_folded
            ON CONFLICT (category_folded, shard) DO UPDATE SET n = c.n + EXCLUDED.n;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT -count(*) INTO delta FROM old_rows;
        INSERT INTO category_counts AS c (category_folded, shard, n)
            SELECT category_folded, my_shard, -count(*) FROM old_rows
            WHERE category_folded IS NOT NULL GROUP BY category_folded
            ON CONFLICT (category_folded, shard) DO UPDATE SET n = c.n + EXCLUDED.n;
    ELSE
        delta := 0;
        INSERT INTO category_counts AS c (category_folded, shard, n)
            SELECT category_folded, my_shard, sum(d) FROM (
                SELECT category_folded, -1 AS d FROM old_rows WHERE category_folded IS NOT NULL
                UNION ALL
                SELECT category_folded, 1 FROM new_rows WHERE category_folded IS NOT NULL
            ) AS moved GROUP BY category_folded HAVING sum(d) <> 0
            ON CONFLICT (category_folded, shard) DO UPDATE SET n = c.n + EXCLUDED.n;
    END IF;
    IF delta <> 0 THEN
        INSERT INTO item_count AS c (shard, n) VALUES (my_shard, delta)
            ON CONFLICT (shard) DO UPDATE SET n = c.n + EXCLUDED.n;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER items_count_insert AFTER INSERT ON items
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION count_items();
CREATE TRIGGER items_count_delete AFTER DELETE ON items
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION count_items();
CREATE TRIGGER items_count_update AFTER UPDATE ON items
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION count_items();

-- A category's spelling for the menu (the least of its spellings) is the
-- first entry of its run in this index.
DROP INDEX items_category_folded;
CREATE INDEX items_category ON items (category_folded, category);
