-- The audit log: security-relevant actions (logins, failed logins,
-- logouts, API tokens, users and roles), who did them, through which door,
-- from which address. Written by the server and read by admins; no
-- statement may change or remove an entry (the trigger below refuses it,
-- whoever asks; TRUNCATE too).
CREATE TABLE audit_log (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at           TEXT COLLATE "C" NOT NULL,
    action       TEXT COLLATE "C" NOT NULL,
    -- Who acted: the logged-in user, or the name a login was tried with.
    actor        TEXT COLLATE "C",
    -- The actor case-folded, as user names compare; what `user` filters on.
    actor_folded TEXT COLLATE "C",
    -- The name of the API token the actor came with.
    token        TEXT COLLATE "C",
    -- What the action was done to: a user's name, an API token's name.
    subject      TEXT COLLATE "C",
    detail       TEXT COLLATE "C",
    door         TEXT COLLATE "C",
    request_id   TEXT COLLATE "C",
    client       TEXT COLLATE "C"
);

-- Newest first, by time alone, by who acted, by what they did, or both
-- (one user's one kind of action is found without reading the rest of
-- either).
CREATE INDEX audit_by_time ON audit_log (at, id);
CREATE INDEX audit_by_actor ON audit_log (actor_folded, at, id);
CREATE INDEX audit_by_action ON audit_log (action, at, id);
CREATE INDEX audit_by_actor_action ON audit_log (actor_folded, action, at, id);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END
$$;

CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
