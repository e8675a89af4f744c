-- Members signed in on the member page (by a one-time code). Only the token's hash is kept.
CREATE TABLE member_sessions (
    token_hash TEXT    NOT NULL PRIMARY KEY,
    tenant_id  INTEGER NOT NULL,
    member_id  INTEGER NOT NULL,
    csrf_token TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX member_sessions_member ON member_sessions (tenant_id, member_id);
