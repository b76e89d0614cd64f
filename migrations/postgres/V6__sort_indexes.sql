-- Indexes in the order a page sorted by these columns reads, with the id
-- as tie-break: such a page, in either direction, and the page after a
-- cursor, are read from the index in the order they are shown instead of
-- sorting every matching row. Missing values sort last either way; the
-- server reads the rows that have a value and those that miss it as two
-- parts, each in index order.
--
-- Not every sortable column has one:
-- - the description may be up to 2 000 characters, up to 8 000 bytes,
--   over the most a B-tree entry may hold;
-- - `updated_at` and `version` change with every write: an index on them
--   would make every update write a new entry in every index of the table
--   (no update could stay on its page, "HOT"), which cost a sixth of the
--   durable PUTs per second.
-- Sorting by those still sorts the matching rows.
--
-- SQLite has none of these: there each secondary index costs durable
-- writes far more (every index page a transaction touches is written to
-- the WAL whole), over the budget a write may lose.
CREATE INDEX items_by_name ON items (name, id);
CREATE INDEX items_by_category ON items (category, id);
CREATE INDEX items_by_price ON items (price, id);
CREATE INDEX items_by_created_at ON items (created_at, id);

-- Each category's rows by price and id: a category's rows under a price,
-- or sorted by price, are a range of this index.
CREATE INDEX items_by_category_price ON items (category_folded, price, id);
