-- A one-time link an owner or manager makes for a staff member who lost their password:
-- valid for a day, used once; the token is kept only as a hash.
CREATE TABLE password_resets (
    tenant_id BIGINT NOT NULL,
    id BIGINT NOT NULL,
    staff_id BIGINT NOT NULL,
    token_hash TEXT NOT NULL,
    made_by BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX password_resets_token ON password_resets (token_hash);
