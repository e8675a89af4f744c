-- One-time claim QR codes: staff create one for a bill; the member who scans it first
-- (before it expires) collects that bill's points. Only the token's hash is kept.
CREATE TABLE point_claims (
    tenant_id      INTEGER NOT NULL,
    id             INTEGER NOT NULL,
    token_hash     TEXT    NOT NULL,
    amount_satang  INTEGER NOT NULL,
    branch_id      INTEGER,
    created_by     TEXT    NOT NULL,
    expires_at     INTEGER NOT NULL,
    claimed_member INTEGER,
    claimed_at     INTEGER,
    created_at     INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (token_hash)
);
