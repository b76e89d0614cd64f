-- Item revisions in the order they were recorded: what the history
-- retention job walks (the oldest to remove by age, the items changed
-- since its last pass to keep their newest N), a batch at a time.
CREATE INDEX item_revisions_by_time ON item_revisions (at, item_id, version);
