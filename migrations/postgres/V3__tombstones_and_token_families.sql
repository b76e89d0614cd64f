-- The last version of each deleted item. An item created again under a
-- deleted item's id (a client may choose it) continues from that version,
-- so no version, and no ETag, ever repeats for an id: an If-Match held
-- from the deleted item cannot overwrite its successor.
CREATE TABLE item_tombstones (
    id      BIGINT PRIMARY KEY,
    version BIGINT NOT NULL
);

-- Refresh tokens are rotated: each one redeemed is revoked and replaced by
-- a new one of the same family (the id of the family's first token). A
-- redeemed token presented again means it leaked: the whole family is
-- revoked then (RFC 9700 §4.14.2).
ALTER TABLE credentials ADD COLUMN family BIGINT;
CREATE INDEX credentials_by_family ON credentials (family) WHERE family IS NOT NULL;

-- Access tokens carry the generation their user had when they were signed;
-- a new password, disabling the user or a replayed refresh token moves it
-- on, which ends every access token signed before.
ALTER TABLE users ADD COLUMN token_generation BIGINT NOT NULL DEFAULT 0;
