-- Every committed change to an item is announced on the channel
-- 'itemserve_items', whichever instance (or other program) made it; each
-- instance LISTENs and feeds its event streams (GET /items/events). Event
-- numbers come from one sequence, so that every instance names an event
-- alike and a browser can resume on another instance with Last-Event-ID.
-- Notifications are delivered at commit, in commit order, and not at all
-- for a transaction that rolls back.
CREATE SEQUENCE item_change_ids AS BIGINT;

CREATE FUNCTION notify_item_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('itemserve_items', json_build_object(
            'event', nextval('item_change_ids'), 'kind', 'deleted', 'id', OLD.id)::text);
    ELSE
        PERFORM pg_notify('itemserve_items', json_build_object(
            'event', nextval('item_change_ids'),
            'kind', CASE TG_OP WHEN 'INSERT' THEN 'created' ELSE 'updated' END,
            'id', NEW.id, 'version', NEW.version)::text);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER items_notify AFTER INSERT OR UPDATE OR DELETE ON items
    FOR EACH ROW EXECUTE FUNCTION notify_item_change();
