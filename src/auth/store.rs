//! The only SQL of authentication: staff web sessions and API keys. Tokens and secrets
//! arrive here already hashed; what a row grants is decided by the callers.

use crate::on_db;
use crate::on_tx;
use crate::store::{Db, Tx};

/// A new web session's row.
pub struct NewSessionRow<'a> {
    pub token_hash: &'a str,
    pub tenant_id: i64,
    pub staff_id: i64,
    pub csrf_token: &'a str,
    pub ip: &'a str,
    pub created_at: i64,
    pub expires_at: i64,
}

/// Write a new web session.
pub async fn insert_session(tx: &mut Tx, s: &NewSessionRow<'_>) -> sqlx::Result<u64> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO sessions (token_hash, tenant_id, staff_id, csrf_token, ip, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(s.token_hash).bind(s.tenant_id).bind(s.staff_id).bind(s.csrf_token).bind(s.ip).bind(s.created_at).bind(s.expires_at)
        .execute(c).await.map(|r| r.rows_affected()))
}

/// A session with its staff member and one of their branches (a row per branch).
#[derive(sqlx::FromRow)]
pub struct SessionRow {
    pub tenant_id: i64,
    pub staff_id: i64,
    pub csrf_token: String,
    pub email: String,
    pub name: String,
    pub role: String,
    pub branch_id: Option<i64>,
}

/// The live session with this token hash (unexpired at `now`), of an active staff
/// member in an active tenant, a row per branch of theirs.
pub async fn live_session(db: &Db, token_hash: &str, now: i64) -> sqlx::Result<Vec<SessionRow>> {
    on_db!(db, pool => sqlx::query_as(
        "SELECT s.tenant_id, s.staff_id, s.csrf_token, st.email, st.name, st.role, sb.branch_id
         FROM sessions s
         JOIN staff st ON st.tenant_id = s.tenant_id AND st.id = s.staff_id
         JOIN tenants t ON t.id = s.tenant_id
         LEFT JOIN staff_branches sb ON sb.tenant_id = st.tenant_id AND sb.staff_id = st.id
         WHERE s.token_hash = $1 AND s.expires_at > $2 AND st.active = TRUE AND t.status = 'active'")
        .bind(token_hash).bind(now).fetch_all(pool).await)
}

/// Delete the session with this token hash (sign-out).
pub async fn delete_session(tx: &mut Tx, token_hash: &str) -> sqlx::Result<u64> {
    on_tx!(tx, c => sqlx::query("DELETE FROM sessions WHERE token_hash = $1").bind(token_hash).execute(c).await.map(|r| r.rows_affected()))
}

/// Delete every session of a staff member.
pub async fn delete_staff_sessions(
    tx: &mut Tx,
    tenant_id: i64,
    staff_id: i64,
) -> sqlx::Result<u64> {
    on_tx!(tx, c => sqlx::query("DELETE FROM sessions WHERE tenant_id = $1 AND staff_id = $2")
        .bind(tenant_id).bind(staff_id).execute(c).await.map(|r| r.rows_affected()))
}

/// Delete a staff member's sessions except the one with `keep_hash`.
pub async fn delete_other_staff_sessions(
    tx: &mut Tx,
    tenant_id: i64,
    staff_id: i64,
    keep_hash: &str,
) -> sqlx::Result<u64> {
    on_tx!(tx, c => sqlx::query("DELETE FROM sessions WHERE tenant_id = $1 AND staff_id = $2 AND token_hash <> $3")
        .bind(tenant_id).bind(staff_id).bind(keep_hash).execute(c).await.map(|r| r.rows_affected()))
}

/// Delete the sessions expired at `now`.
pub async fn delete_expired_sessions(db: &Db, now: i64) -> sqlx::Result<u64> {
    on_db!(db, pool => sqlx::query("DELETE FROM sessions WHERE expires_at <= $1").bind(now).execute(pool).await.map(|r| r.rows_affected()))
}

/// A new API key's row.
pub struct NewKeyRow<'a> {
    pub tenant_id: i64,
    pub id: i64,
    pub name: &'a str,
    pub secret_hash: &'a str,
    /// Permissions, separated by spaces.
    pub scopes: &'a str,
    pub created_by: i64,
    /// The key it was made with, if any (revoking that one revokes this one).
    pub parent_key_id: Option<i64>,
    pub created_at: i64,
}

/// Write a new API key.
pub async fn insert_key(tx: &mut Tx, k: &NewKeyRow<'_>) -> sqlx::Result<u64> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO api_keys (tenant_id, id, name, secret_hash, scopes, created_by, parent_key_id, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
        .bind(k.tenant_id).bind(k.id).bind(k.name).bind(k.secret_hash).bind(k.scopes).bind(k.created_by).bind(k.parent_key_id).bind(k.created_at)
        .execute(c).await.map(|r| r.rows_affected()))
}

/// An API key as listed.
#[derive(sqlx::FromRow)]
pub struct KeyRow {
    pub id: i64,
    pub name: String,
    /// Permissions, separated by spaces.
    pub scopes: String,
    pub created_by: i64,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

const KEY_COLUMNS: &str = "id, name, scopes, created_by, created_at, last_used_at, revoked_at";

/// A key with its maker's role and one of their branches (a row per branch).
#[derive(sqlx::FromRow)]
pub struct ResolvedRow {
    pub tenant_id: i64,
    pub id: i64,
    pub name: String,
    pub secret_hash: String,
    pub scopes: String,
    pub created_by: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub role: String,
    pub branch_id: Option<i64>,
}

/// The key with this id, if its tenant is active and its maker active, with its maker's
/// role, a row per branch of the maker's (the caller checks the secret and revocation).
pub async fn key_with_maker(db: &Db, id: i64) -> sqlx::Result<Vec<ResolvedRow>> {
    on_db!(db, pool => sqlx::query_as(
        "SELECT k.tenant_id, k.id, k.name, k.secret_hash, k.scopes, k.created_by, k.last_used_at,
                k.revoked_at, s.role, sb.branch_id
         FROM api_keys k
         JOIN tenants t ON t.id = k.tenant_id
         JOIN staff s ON s.tenant_id = k.tenant_id AND s.id = k.created_by
         LEFT JOIN staff_branches sb ON sb.tenant_id = s.tenant_id AND sb.staff_id = s.id
         WHERE k.id = $1 AND t.status = 'active' AND s.active = TRUE")
        .bind(id).fetch_all(pool).await)
}

/// Record when a key was last used.
pub async fn set_key_last_used(db: &Db, tenant_id: i64, id: i64, at: i64) -> sqlx::Result<u64> {
    on_db!(db, pool => sqlx::query("UPDATE api_keys SET last_used_at = $3 WHERE tenant_id = $1 AND id = $2")
        .bind(tenant_id).bind(id).bind(at).execute(pool).await.map(|r| r.rows_affected()))
}

/// A shop's keys below `before_id`, newest first: `limit` and one more, which tells
/// whether another page follows.
pub async fn list_keys(
    db: &Db,
    tenant_id: i64,
    before_id: i64,
    limit: i64,
) -> sqlx::Result<Vec<KeyRow>> {
    let sql = format!(
        "SELECT {KEY_COLUMNS} FROM api_keys WHERE tenant_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3"
    );
    on_db!(db, pool => sqlx::query_as(&sql).bind(tenant_id).bind(before_id).bind(limit + 1).fetch_all(pool).await)
}

/// A key of a shop by id.
pub async fn key(db: &Db, tenant_id: i64, id: i64) -> sqlx::Result<Option<KeyRow>> {
    let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE tenant_id = $1 AND id = $2");
    on_db!(db, pool => sqlx::query_as(&sql).bind(tenant_id).bind(id).fetch_optional(pool).await)
}

/// Revoke a key at `at`, unless it already was: the rows changed (0 or 1).
pub async fn revoke_key(tx: &mut Tx, tenant_id: i64, id: i64, at: i64) -> sqlx::Result<u64> {
    on_tx!(tx, c => sqlx::query("UPDATE api_keys SET revoked_at = $3 WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL")
        .bind(tenant_id).bind(id).bind(at).execute(c).await.map(|r| r.rows_affected()))
}

/// Revoke at `at` the unrevoked keys made through the key `maker`; their ids.
pub async fn revoke_keys_made_by(
    tx: &mut Tx,
    tenant_id: i64,
    maker: i64,
    at: i64,
) -> sqlx::Result<Vec<i64>> {
    let made: Vec<(i64,)> = on_tx!(tx, c => sqlx::query_as(
        "UPDATE api_keys SET revoked_at = $3 WHERE tenant_id = $1 AND parent_key_id = $2 AND revoked_at IS NULL RETURNING id")
        .bind(tenant_id).bind(maker).bind(at).fetch_all(c).await)?;
    Ok(made.into_iter().map(|(id,)| id).collect())
}
