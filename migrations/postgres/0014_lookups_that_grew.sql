-- Indexes for reads that otherwise read every row of a shop (or of every shop), found by
-- reading each statement's plan on a 100,000-member database. Each list grows with the
-- shop; these make a read take only the rows it returns.

-- Housekeeping, every minute: old idempotency keys and expired staff sessions are
-- deleted by age; without these each run read the whole table (on SQLite while holding
-- the write lock every purchase waits for).
CREATE INDEX idempotency_keys_age ON idempotency_keys (created_at);
CREATE INDEX sessions_expiry ON sessions (expires_at);

-- Housekeeping, every minute: the members whose birthday is today (month and day; the
-- expression must stay the same as the query's in members::store::with_birthday).
CREATE INDEX members_birth_day ON members (tenant_id, SUBSTR(birthday, 6, 5)) WHERE birthday IS NOT NULL;

-- A member's page: the consent history in order. (The old index led with the purpose,
-- which no query filters by, and the planner walked the shop's consents instead.)
DROP INDEX consents_member;
CREATE INDEX consents_member ON consents (tenant_id, member_id, id);

-- A member's coupons and the staff's member page: the member's redemptions, newest first.
CREATE INDEX redemptions_member_recent ON redemptions (tenant_id, member_id, id);

-- Redeeming a reward with codes takes the oldest free code: with the id in the index it
-- reads one row instead of every code the reward ever had.
DROP INDEX reward_codes_free;
CREATE INDEX reward_codes_free ON reward_codes (tenant_id, reward_id, id) WHERE redemption_id IS NULL;

-- The audit log by action (one row per purchase lands in it): newest first.
CREATE INDEX audit_log_action ON audit_log (tenant_id, action, id);
