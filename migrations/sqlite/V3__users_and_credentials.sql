-- Users with a role, and the secrets that stand for them: browser sessions,
-- refresh tokens and personal API tokens (only their SHA-256 is stored).
CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL,
    -- The name compared case-insensitively (Unicode case folding, computed
    -- by the server) so that "Ada" and "ada" are one user.
    name_folded   TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('viewer', 'editor', 'admin')),
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);

CREATE TABLE credentials (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind         TEXT NOT NULL CHECK (kind IN ('session', 'refresh', 'api')),
    -- A person's label for an API token ("nightly import").
    name         TEXT,
    token_hash   TEXT NOT NULL UNIQUE,
    created_at   TEXT NOT NULL,
    expires_at   TEXT,
    last_used_at TEXT,
    revoked_at   TEXT
);
CREATE INDEX credentials_by_user ON credentials (user_id, kind);

-- Server-wide settings that must survive restarts and be shared by every
-- instance on the database (the token signing key).
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
