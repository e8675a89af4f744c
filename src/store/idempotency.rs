//! The statements of `Idempotency-Key` (`http::idempotency` holds the rules): a key's
//! claim, the answer stored with it, and its release.

use super::Db;
use crate::on_db;

/// One key of one caller (`owner`: `staff:<id>` or `api_key:<id>`) within a shop.
pub struct KeyRef<'a> {
    pub tenant_id: i64,
    pub owner: &'a str,
    pub key: &'a str,
}

/// request_hash, status_code, response_type, response_body, lease_until
pub type StoredRow = (String, Option<i32>, Option<String>, Option<Vec<u8>>, i64);

/// Claim a key for a request (`claim`: the token naming its hold), held until
/// `lease_until`; 0 rows when the key is already there.
pub async fn insert_claim(
    db: &Db,
    k: &KeyRef<'_>,
    request_hash: &str,
    now: i64,
    lease_until: i64,
    claim: &str,
) -> sqlx::Result<u64> {
    on_db!(db, pool => sqlx::query(
        "INSERT INTO idempotency_keys (tenant_id, owner, key, request_hash, created_at, lease_until, claim)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (tenant_id, owner, key) DO NOTHING")
        .bind(k.tenant_id).bind(k.owner).bind(k.key).bind(request_hash).bind(now).bind(lease_until).bind(claim)
        .execute(pool).await.map(|r| r.rows_affected()))
}

/// What is stored with a key: the request it was claimed for, its answer if any, and
/// its lease.
pub async fn stored(db: &Db, k: &KeyRef<'_>) -> sqlx::Result<Option<StoredRow>> {
    on_db!(db, pool => sqlx::query_as(
        "SELECT request_hash, status_code, response_type, response_body, lease_until FROM idempotency_keys
         WHERE tenant_id = $1 AND owner = $2 AND key = $3")
        .bind(k.tenant_id).bind(k.owner).bind(k.key).fetch_optional(pool).await)
}

/// Take over a key whose lease (`old_lease_until`) ran out without an answer, for the
/// claim `claim` until `lease_until`; 0 rows when another request took it first.
pub async fn take_over(
    db: &Db,
    k: &KeyRef<'_>,
    lease_until: i64,
    now: i64,
    old_lease_until: i64,
    claim: &str,
) -> sqlx::Result<u64> {
    on_db!(db, pool => sqlx::query(
        "UPDATE idempotency_keys SET lease_until = $4, created_at = $5, claim = $7
         WHERE tenant_id = $1 AND owner = $2 AND key = $3 AND status_code IS NULL AND lease_until = $6")
        .bind(k.tenant_id).bind(k.owner).bind(k.key).bind(lease_until).bind(now).bind(old_lease_until).bind(claim)
        .execute(pool).await.map(|r| r.rows_affected()))
}

/// Store the answer with a key, if the key is still held by `claim`.
pub async fn store_answer(
    db: &Db,
    k: &KeyRef<'_>,
    claim: &str,
    status: i32,
    content_type: Option<&str>,
    body: &[u8],
) -> sqlx::Result<u64> {
    on_db!(db, pool => sqlx::query(
        "UPDATE idempotency_keys SET status_code = $4, response_type = $5, response_body = $6
         WHERE tenant_id = $1 AND owner = $2 AND key = $3 AND claim = $7")
        .bind(k.tenant_id).bind(k.owner).bind(k.key).bind(status).bind(content_type).bind(body).bind(claim)
        .execute(pool).await.map(|r| r.rows_affected()))
}

/// Delete a key without an answer, if it is still held by `claim`.
pub async fn release(db: &Db, k: &KeyRef<'_>, claim: &str) -> sqlx::Result<u64> {
    on_db!(db, pool => sqlx::query(
        "DELETE FROM idempotency_keys WHERE tenant_id = $1 AND owner = $2 AND key = $3 AND status_code IS NULL AND claim = $4")
        .bind(k.tenant_id).bind(k.owner).bind(k.key).bind(claim).execute(pool).await.map(|r| r.rows_affected()))
}

/// Delete the keys claimed before `cutoff`.
pub async fn delete_older_than(db: &Db, cutoff: i64) -> sqlx::Result<u64> {
    on_db!(db, pool => sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1").bind(cutoff).execute(pool).await.map(|r| r.rows_affected()))
}
