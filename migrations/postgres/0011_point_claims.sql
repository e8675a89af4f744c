-- One-time claim QR codes: staff create one for a bill; the member who scans it first
-- (before it expires) collects that bill's points. Only the token's hash is kept.
CREATE TABLE point_claims (
    tenant_id      BIGINT NOT NULL,
    id             BIGINT NOT NULL,
    token_hash     TEXT    NOT NULL,
    amount_satang  BIGINT NOT NULL,
    branch_id      BIGINT,
    created_by     TEXT    NOT NULL,
    expires_at     BIGINT NOT NULL,
    claimed_member BIGINT,
    claimed_at     BIGINT,
    created_at     BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (token_hash)
);
