-- Idempotency keys belong to the caller (a staff member or an API key), and a claim
-- lasts only as long as its request may run; `claim` names the request holding it, so
-- one whose lease ran out cannot overwrite the answer of the one that took over. The
-- table holds replays of the last 24 hours only; it starts empty (money movements keep
-- their own keys in the ledger).
DROP TABLE idempotency_keys;
CREATE TABLE idempotency_keys (
    tenant_id     BIGINT NOT NULL,
    owner         TEXT    NOT NULL,
    key           TEXT    NOT NULL,
    request_hash  TEXT    NOT NULL,
    status_code   INTEGER,
    response_type TEXT,
    response_body BYTEA,
    created_at    BIGINT NOT NULL,
    lease_until   BIGINT NOT NULL,
    claim         TEXT    NOT NULL,
    PRIMARY KEY (tenant_id, owner, key)
);
CREATE INDEX idempotency_keys_age ON idempotency_keys (created_at);
