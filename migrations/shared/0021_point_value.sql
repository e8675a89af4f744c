-- What one point is worth to the shop, in satang, so the points liability can be
-- stated in baht (0 = not set).
ALTER TABLE ledger_settings ADD COLUMN point_value_satang BIGINT NOT NULL DEFAULT 0;
