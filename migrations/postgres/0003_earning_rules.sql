-- Multipliers, caps and stamp cards per tenant, as one validated JSON document.
CREATE TABLE earning_rules (
    tenant_id  BIGINT NOT NULL PRIMARY KEY REFERENCES tenants(id),
    rules      TEXT    NOT NULL,
    updated_at BIGINT NOT NULL
);
