-- A key acts for the staff member who made it: a key made by a key now names that
-- key's maker (for keys made through several keys, once per step).
UPDATE api_keys SET created_by = (
    SELECT k.created_by FROM api_keys k WHERE k.tenant_id = api_keys.tenant_id AND k.id = api_keys.created_by
) WHERE EXISTS (SELECT 1 FROM api_keys k WHERE k.tenant_id = api_keys.tenant_id AND k.id = api_keys.created_by);
UPDATE api_keys SET created_by = (
    SELECT k.created_by FROM api_keys k WHERE k.tenant_id = api_keys.tenant_id AND k.id = api_keys.created_by
) WHERE EXISTS (SELECT 1 FROM api_keys k WHERE k.tenant_id = api_keys.tenant_id AND k.id = api_keys.created_by);
UPDATE api_keys SET created_by = (
    SELECT k.created_by FROM api_keys k WHERE k.tenant_id = api_keys.tenant_id AND k.id = api_keys.created_by
) WHERE EXISTS (SELECT 1 FROM api_keys k WHERE k.tenant_id = api_keys.tenant_id AND k.id = api_keys.created_by);
