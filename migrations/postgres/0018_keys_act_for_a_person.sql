-- A key acts for the staff member who made it (directly, or through the key that made
-- it): created_by names that person; parent_key_id the key that made it, whose
-- revocation revokes it too.
ALTER TABLE api_keys ADD COLUMN parent_key_id BIGINT;
UPDATE api_keys SET parent_key_id = created_by
WHERE EXISTS (SELECT 1 FROM api_keys k WHERE k.tenant_id = api_keys.tenant_id AND k.id = api_keys.created_by);
-- Made through keys: the person at the start of the chain (once per step; chains of
-- keys are one or two long in practice).
UPDATE api_keys SET created_by = (
    SELECT k.created_by FROM api_keys k WHERE k.tenant_id = api_keys.tenant_id AND k.id = api_keys.created_by
) WHERE EXISTS (SELECT 1 FROM api_keys k WHERE k.tenant_id = api_keys.tenant_id AND k.id = api_keys.created_by);
UPDATE api_keys SET created_by = (
    SELECT k.created_by FROM api_keys k WHERE k.tenant_id = api_keys.tenant_id AND k.id = api_keys.created_by
) WHERE EXISTS (SELECT 1 FROM api_keys k WHERE k.tenant_id = api_keys.tenant_id AND k.id = api_keys.created_by);
UPDATE api_keys SET created_by = (
    SELECT k.created_by FROM api_keys k WHERE k.tenant_id = api_keys.tenant_id AND k.id = api_keys.created_by
) WHERE EXISTS (SELECT 1 FROM api_keys k WHERE k.tenant_id = api_keys.tenant_id AND k.id = api_keys.created_by);
-- Keys whose maker key was revoked before this rule: revoked with it.
UPDATE api_keys SET revoked_at = (
    SELECT p.revoked_at FROM api_keys p WHERE p.tenant_id = api_keys.tenant_id AND p.id = api_keys.parent_key_id
) WHERE revoked_at IS NULL AND EXISTS (
    SELECT 1 FROM api_keys p WHERE p.tenant_id = api_keys.tenant_id AND p.id = api_keys.parent_key_id AND p.revoked_at IS NOT NULL);
UPDATE api_keys SET revoked_at = (
    SELECT p.revoked_at FROM api_keys p WHERE p.tenant_id = api_keys.tenant_id AND p.id = api_keys.parent_key_id
) WHERE revoked_at IS NULL AND EXISTS (
    SELECT 1 FROM api_keys p WHERE p.tenant_id = api_keys.tenant_id AND p.id = api_keys.parent_key_id AND p.revoked_at IS NOT NULL);
