-- The audit log: security-relevant actions (logins, failed logins,
-- logouts, API tokens, users and roles), who did them, through which door,
-- from which address. Written by the server and read by admins; no
-- statement may change or remove an entry (the triggers below refuse it,
-- whoever asks).
CREATE TABLE audit_log (
    -- AUTOINCREMENT: an id is never handed out twice.
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    at           TEXT NOT NULL,
    action       TEXT NOT NULL,
    -- Who acted: the logged-in user, or the name a login was tried with.
    actor        TEXT,
    -- The actor case-folded, as user names compare; what `user` filters on.
    actor_folded TEXT,
    -- The name of the API token the actor came with.
    token        TEXT,
    -- What the action was done to: a user's name, an API token's name.
    subject      TEXT,
    detail       TEXT,
    door         TEXT,
    request_id   TEXT,
    client       TEXT
);

-- Newest first, by time alone, by who acted, by what they did, or both
-- (one user's one kind of action is found without reading the rest of
-- either).
CREATE INDEX audit_by_time ON audit_log (at, id);
CREATE INDEX audit_by_actor ON audit_log (actor_folded, at, id);
CREATE INDEX audit_by_action ON audit_log (action, at, id);
CREATE INDEX audit_by_actor_action ON audit_log (actor_folded, action, at, id);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
