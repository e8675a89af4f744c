-- The phone the owner proved with a one-time code when the shop signed up on its page.
ALTER TABLE tenants ADD COLUMN contact_phone TEXT;
