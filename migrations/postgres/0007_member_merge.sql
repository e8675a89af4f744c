-- A merged member stays as an alias of the survivor: its phone and id still resolve.
ALTER TABLE members ADD COLUMN merged_into BIGINT;
