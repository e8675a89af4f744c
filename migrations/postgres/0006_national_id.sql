-- Thai national ID, encrypted at rest (AES-256-GCM, see src/crypto.rs); the last four
-- digits are kept apart for the masked display.
ALTER TABLE members ADD COLUMN national_id_enc TEXT;
ALTER TABLE members ADD COLUMN national_id_last4 TEXT;
