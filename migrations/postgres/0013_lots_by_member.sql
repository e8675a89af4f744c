-- SQLite's 0013 keeps lots clustered by member (a table keyed by shop, member, currency
-- and lot). A PostgreSQL table is a heap that no key keeps in order, so nothing changes
-- here; the expiry's walk in member order still finds each member's lots through
-- lots_member_open.
SELECT 1;
