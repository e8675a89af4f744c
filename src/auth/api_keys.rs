//! API keys for integrations: `lk_<id>_<secret>`, shown once, stored as a hash of the
//! secret, scoped to a subset of its creator's permissions.

use serde::Serialize;

use super::{Actor, Permission, Principal};
use crate::auth::secrets::{constant_time_eq, random_token, token_hash};
use crate::store::{Db, Tx, now_micros};
use crate::{ids, on_db, on_tx};

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ApiKey {
    pub id: i64,
    pub name: String,
    #[schema(value_type = Vec<String>)]
    pub scopes: Vec<Permission>,
    pub created_by: i64,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: jiff::Timestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_used_at: Option<jiff::Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub revoked_at: Option<jiff::Timestamp>,
}

#[derive(sqlx::FromRow)]
struct KeyRow {
    tenant_id: i64,
    id: i64,
    name: String,
    secret_hash: String,
    scopes: String,
    created_by: i64,
    created_at: i64,
    last_used_at: Option<i64>,
    revoked_at: Option<i64>,
}

impl KeyRow {
    fn scopes(&self) -> Vec<Permission> {
        self.scopes
            .split(' ')
            .filter_map(|s| s.parse().ok())
            .collect()
    }

    fn into_api(self) -> ApiKey {
        ApiKey {
            scopes: self.scopes(),
            id: self.id,
            name: self.name,
            created_by: self.created_by,
            created_at: crate::types::timestamp(self.created_at),
            last_used_at: self.last_used_at.map(crate::types::timestamp),
            revoked_at: self.revoked_at.map(crate::types::timestamp),
        }
    }
}

const COLUMNS: &str =
    "tenant_id, id, name, secret_hash, scopes, created_by, created_at, last_used_at, revoked_at";

/// Create a key; returns its id and the full key (the only time it is visible).
pub async fn create(
    tx: &mut Tx,
    tenant_id: i64,
    name: &str,
    scopes: &[Permission],
    created_by: i64,
) -> sqlx::Result<(i64, String)> {
    let id = ids::next_id();
    let secret = random_token();
    let scopes = scopes
        .iter()
        .map(|p| p.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO api_keys (tenant_id, id, name, secret_hash, scopes, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(tenant_id).bind(id).bind(name).bind(token_hash(&secret)).bind(&scopes).bind(created_by).bind(now_micros())
        .execute(c).await.map(|r| r.rows_affected()))?;
    Ok((id, format!("lk_{id}_{secret}")))
}

/// The principal of a valid, unrevoked key of an active tenant.
pub async fn resolve(db: &Db, key: &str) -> sqlx::Result<Option<Principal>> {
    let Some((id, secret)) = key
        .strip_prefix("lk_")
        .and_then(|rest| rest.split_once('_'))
    else {
        return Ok(None);
    };
    let Ok(id) = id.parse::<i64>() else {
        return Ok(None);
    };
    let sql = format!(
        "SELECT {} FROM api_keys k JOIN tenants t ON t.id = k.tenant_id WHERE k.id = $1 AND t.status = 'active'",
        COLUMNS
            .split(", ")
            .map(|c| format!("k.{c}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let row: Option<KeyRow> =
        on_db!(db, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await)?;
    let Some(row) = row else { return Ok(None) };
    if row.revoked_at.is_some() || !constant_time_eq(&row.secret_hash, &token_hash(secret)) {
        return Ok(None);
    }
    // Record use at most once a minute, so reads do not turn into writes.
    let now = now_micros();
    if row.last_used_at.is_none_or(|t| now - t > 60_000_000) {
        on_db!(db, pool => sqlx::query("UPDATE api_keys SET last_used_at = $3 WHERE tenant_id = $1 AND id = $2")
            .bind(row.tenant_id).bind(row.id).bind(now).execute(pool).await.map(|r| r.rows_affected()))?;
    }
    Ok(Some(Principal {
        tenant_id: row.tenant_id,
        actor: Actor::ApiKey {
            id: row.id,
            scopes: row.scopes(),
            name: row.name,
        },
        csrf_token: None,
    }))
}

pub async fn list(
    db: &Db,
    tenant_id: i64,
    before_id: i64,
    limit: i64,
) -> sqlx::Result<Vec<ApiKey>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM api_keys WHERE tenant_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3"
    );
    let rows: Vec<KeyRow> = on_db!(db, pool => sqlx::query_as(&sql).bind(tenant_id).bind(before_id).bind(limit + 1).fetch_all(pool).await)?;
    Ok(rows.into_iter().map(KeyRow::into_api).collect())
}

pub async fn get(db: &Db, tenant_id: i64, id: i64) -> sqlx::Result<Option<ApiKey>> {
    let sql = format!("SELECT {COLUMNS} FROM api_keys WHERE tenant_id = $1 AND id = $2");
    let row: Option<KeyRow> = on_db!(db, pool => sqlx::query_as(&sql).bind(tenant_id).bind(id).fetch_optional(pool).await)?;
    Ok(row.map(KeyRow::into_api))
}

/// Revoke a key; false if it does not exist in this tenant or was already revoked.
pub async fn revoke(tx: &mut Tx, tenant_id: i64, id: i64) -> sqlx::Result<bool> {
    let done = on_tx!(tx, c => sqlx::query("UPDATE api_keys SET revoked_at = $3 WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL")
        .bind(tenant_id).bind(id).bind(now_micros()).execute(c).await.map(|r| r.rows_affected()))?;
    Ok(done == 1)
}
