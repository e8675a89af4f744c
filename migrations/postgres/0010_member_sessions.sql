-- Members signed in on the member page (by a one-time code). Only the token's hash is kept.
CREATE TABLE member_sessions (
    token_hash TEXT    NOT NULL PRIMARY KEY,
    tenant_id  BIGINT NOT NULL,
    member_id  BIGINT NOT NULL,
    csrf_token TEXT    NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX member_sessions_member ON member_sessions (tenant_id, member_id);
