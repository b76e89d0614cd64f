-- How many items there are, in all and per category, kept by triggers in
-- the transaction of every write: the item page's total and its category
-- menu read these rows instead of counting the table.
CREATE TABLE item_count (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n  INTEGER NOT NULL
);
INSERT INTO item_count (id, n) VALUES (1, (SELECT count(*) FROM items));

-- One row per category in use (by its folded name); a category's row goes
-- when its last item does.
CREATE TABLE category_counts (
    category_folded TEXT PRIMARY KEY,
    n               INTEGER NOT NULL CHECK (n > 0)
);
INSERT INTO category_counts (category_folded, n)
    SELECT category_folded, count(*) FROM items
    WHERE category_folded IS NOT NULL GROUP BY category_folded;
-- The menu lists the most used first.
CREATE INDEX category_counts_by_use ON category_counts (n DESC, category_folded);

CREATE TRIGGER items_count_insert AFTER INSERT ON items BEGIN
    UPDATE item_count SET n = n + 1;
    INSERT INTO category_counts (category_folded, n)
        SELECT NEW.category_folded, 1 WHERE NEW.category_folded IS NOT NULL
        ON CONFLICT (category_folded) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER items_count_delete AFTER DELETE ON items BEGIN
    UPDATE item_count SET n = n - 1;
    DELETE FROM category_counts WHERE category_folded = OLD.category_folded AND n = 1;
    UPDATE category_counts SET n = n - 1 WHERE category_folded = OLD.category_folded;
END;

CREATE TRIGGER items_count_recategorize AFTER UPDATE OF category_folded ON items
WHEN OLD.category_folded IS NOT NEW.category_folded BEGIN
    DELETE FROM category_counts WHERE category_folded = OLD.category_folded AND n = 1;
    UPDATE category_counts SET n = n - 1 WHERE category_folded = OLD.category_folded;
    INSERT INTO category_counts (category_folded, n)
        SELECT NEW.category_folded, 1 WHERE NEW.category_folded IS NOT NULL
        ON CONFLICT (category_folded) DO UPDATE SET n = n + 1;
END;

-- A category's spelling for the menu (the least of its spellings) is the
-- first entry of its run in this index.
DROP INDEX items_category_folded;
CREATE INDEX items_category ON items (category_folded, category);
