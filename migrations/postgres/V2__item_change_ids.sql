-- Numbers of item change events (GET /items/events). Every instance
-- announces each change it commits on the channel 'itemserve_items' with
-- the next number, and every instance LISTENs there; one numbering for all
-- lets a browser resume on another instance with Last-Event-ID.
--
-- The announcement is a statement of its own after the write's commit, not
-- a trigger inside it: a transaction that NOTIFYs holds a global lock while
-- it commits, so commits that notify cannot share a WAL flush (measured
-- here: 3 700 durable creates/s with a NOTIFY trigger, 10 500 without).
CREATE SEQUENCE item_change_ids AS BIGINT;
