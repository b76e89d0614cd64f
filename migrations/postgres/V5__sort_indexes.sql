-- Every column a list can be sorted by has an index in the order listing
-- asks for (`ORDER BY column, id` and, for columns that may be missing,
-- `ORDER BY column IS NULL, column, id` so missing values come last in
-- either direction), so a page of a sorted list reads that page's rows
-- instead of sorting the table. A column that is never missing serves both
-- directions from one index read backwards; a column that may be missing
-- needs one index per direction, because its missing values stay last.
--
-- Descriptions are not indexed: one may hold 2 000 characters, up to
-- 8 000 bytes, and a B-tree entry holds at most about 2 700, so such an
-- index would refuse valid items. Sorting by description reads the table.
CREATE INDEX items_by_name ON items (name, id);
CREATE INDEX items_by_created_at ON items (created_at, id);
CREATE INDEX items_by_updated_at ON items (updated_at, id);
CREATE INDEX items_by_version ON items (version, id);
CREATE INDEX items_by_category ON items ((category IS NULL), category, id);
CREATE INDEX items_by_category_desc ON items ((category IS NULL), category DESC, id DESC);
CREATE INDEX items_by_price ON items ((price IS NULL), price, id);
CREATE INDEX items_by_price_desc ON items ((price IS NULL), price DESC, id DESC);
