-- A transaction's lot, found by the transaction: a member's history shows each credit's
-- expiry date, a refund reverses the purchase's own lot first, and a merge moves a
-- member's lots with their transactions. Without it each of these read every lot of the
-- shop (ids grow, so new rows land at the index's end).
CREATE INDEX lots_txn ON lots (tenant_id, txn_id);
