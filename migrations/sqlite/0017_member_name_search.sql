-- Search by name reads the names' indexes: a name few members have is found without
-- walking the shop's members (at 1M members that walk read every row). Each holds the id,
-- so a search reads the index alone. NOCASE folds ASCII letters as LOWER does in SQLite.
-- Emails are stored lower-cased: their index serves as it is, with the id added.
CREATE INDEX members_first_name ON members (tenant_id, first_name COLLATE NOCASE, id);
CREATE INDEX members_last_name ON members (tenant_id, last_name COLLATE NOCASE, id);
DROP INDEX members_email;
CREATE INDEX members_email ON members (tenant_id, email, id);
-- No query reads birthdays by date (the birthday job reads day and month, members_birth_day):
-- the index cost every new member an insert at a random place.
DROP INDEX members_birthday;
