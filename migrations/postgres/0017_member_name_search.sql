-- Search by name reads the names' indexes: a name few members have is found without
-- walking the shop's members (at 1M members that walk read every row). Each holds the id
-- and is in byte order ("C") whatever the database's collation, so a prefix is one range
-- of it.
CREATE INDEX members_first_name ON members (tenant_id, (LOWER(first_name) COLLATE "C"), id);
CREATE INDEX members_last_name ON members (tenant_id, (LOWER(last_name) COLLATE "C"), id);
CREATE INDEX members_email_prefix ON members (tenant_id, (email COLLATE "C"), id) WHERE email IS NOT NULL;
-- No query reads birthdays by date (the birthday job reads day and month, members_birth_day):
-- the index cost every new member an insert at a random place.
DROP INDEX members_birthday;
-- No query finds members by email in the database's collation; the index above serves
-- the search.
DROP INDEX members_email;
