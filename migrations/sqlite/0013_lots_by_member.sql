-- Lots kept together by member: the table is keyed by (shop, member, currency, lot), so a
-- member's lots share a page or a few. An expiry run walks members in key order and
-- each of its transactions then rewrites a run of neighbouring pages, where lots in the
-- order they were earned (the rowid table before) put every member's lots on different
-- pages and every transaction rewrote pages all over the table (SQLite writes each
-- dirtied page whole at every commit). The key also serves "this member's open lots",
-- so the partial index for that goes; lots are still found by id and by transaction.
CREATE TABLE lots_by_member (
    tenant_id     INTEGER NOT NULL,
    id            INTEGER NOT NULL,
    member_id     INTEGER NOT NULL,
    currency      TEXT    NOT NULL,
    txn_id        INTEGER NOT NULL,
    original      INTEGER NOT NULL,
    remaining     INTEGER NOT NULL,
    earned_at     INTEGER NOT NULL,
    pending_until INTEGER NOT NULL,
    expires_at    INTEGER,
    PRIMARY KEY (tenant_id, member_id, currency, id)
) WITHOUT ROWID;
INSERT INTO lots_by_member (tenant_id, id, member_id, currency, txn_id, original, remaining, earned_at, pending_until, expires_at)
    SELECT tenant_id, id, member_id, currency, txn_id, original, remaining, earned_at, pending_until, expires_at FROM lots;
DROP TABLE lots;
ALTER TABLE lots_by_member RENAME TO lots;
CREATE UNIQUE INDEX lots_id ON lots (tenant_id, id);
CREATE INDEX lots_expiring ON lots (expires_at) WHERE remaining > 0 AND expires_at IS NOT NULL;
CREATE INDEX lots_txn ON lots (tenant_id, txn_id);
