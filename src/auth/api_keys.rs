//! API keys for integrations: `lk_<id>_<secret>`, shown once, stored as a hash of the
//! secret, scoped to a subset of its creator's permissions.
//!
//! A key acts for the person who made it (a key made by a key, for that key's maker):
//! each time it is read, its scopes are narrowed to what that person's role allows
//! now, it works only at their branches, and it stops working when they are
//! deactivated. So demoting or deactivating someone takes the power of their keys too.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;

use super::store::{self, KeyRow};
use super::{Actor, Permission, Principal};
use crate::auth::secrets::{constant_time_eq, random_token, token_hash};
use crate::ids;
use crate::store::{Db, Tx, now_micros};

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

fn parse_scopes(scopes: &str) -> Vec<Permission> {
    scopes.split(' ').filter_map(|s| s.parse().ok()).collect()
}

fn into_api(row: KeyRow) -> ApiKey {
    ApiKey {
        scopes: parse_scopes(&row.scopes),
        id: row.id,
        name: row.name,
        created_by: row.created_by,
        created_at: crate::types::timestamp(row.created_at),
        last_used_at: row.last_used_at.map(crate::types::timestamp),
        revoked_at: row.revoked_at.map(crate::types::timestamp),
    }
}

/// Create a key for the staff member `created_by`, made by them or by their key
/// `parent_key_id` (revoking that key revokes this one); returns its id and the full key
/// (the only time it is visible).
pub async fn create(
    tx: &mut Tx,
    tenant_id: i64,
    name: &str,
    scopes: &[Permission],
    created_by: i64,
    parent_key_id: Option<i64>,
) -> sqlx::Result<(i64, String)> {
    let id = ids::next_id();
    let secret = random_token();
    let scopes = scopes
        .iter()
        .map(|p| p.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    store::insert_key(
        tx,
        &store::NewKeyRow {
            tenant_id,
            id,
            name,
            secret_hash: &token_hash(&secret),
            scopes: &scopes,
            created_by,
            parent_key_id,
            created_at: now_micros(),
        },
    )
    .await?;
    Ok((id, format!("lk_{id}_{secret}")))
}

/// Most keys held: a coalition's merchants may hold a million keys, but only the busy
/// ones are worth holding. When full, entries past their time are dropped, then all.
const MOST_KEYS: usize = 10_000;

/// Keys recently found valid, so that a till's every request does not read its key
/// again (one of the two queries of a purchase over HTTP; docs/BENCHMARKS.md, "Measured
/// design choices"). A key is trusted for `api_key_trust_secs`; revoking it through this
/// process forgets it at once, another process sharing the database stops accepting it
/// within that time.
pub struct KeyCache {
    trusted_for: Duration,
    clock: crate::clock::Clock,
    keys: Mutex<HashMap<i64, Trusted>>,
    /// Keys forgotten so far: a key read before a revocation is not held after it.
    forgotten: AtomicU64,
}

struct Trusted {
    secret_hash: String,
    principal: Principal,
    /// µs since the Unix epoch, by the cache's clock.
    until: i64,
}

impl KeyCache {
    pub fn new(trusted_for: Duration, clock: crate::clock::Clock) -> KeyCache {
        KeyCache {
            trusted_for,
            clock,
            keys: Mutex::default(),
            forgotten: AtomicU64::default(),
        }
    }

    /// Forget a key (it was revoked): its next use reads the database.
    pub fn forget(&self, id: i64) {
        let mut keys = self.lock();
        self.forgotten.fetch_add(1, Ordering::SeqCst);
        keys.remove(&id);
    }

    /// Forget every key made by this staff member (their role, branches or status
    /// changed): their next use reads what the person may do now.
    pub fn forget_made_by(&self, tenant_id: i64, staff_id: i64) {
        let mut keys = self.lock();
        self.forgotten.fetch_add(1, Ordering::SeqCst);
        keys.retain(|_, t| t.principal.tenant_id != tenant_id || t.principal.person() != staff_id);
    }

    /// Taken before reading a key, given back to [`Self::put`].
    fn epoch(&self) -> u64 {
        self.forgotten.load(Ordering::SeqCst)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Trusted>> {
        // A panic while holding the lock cannot leave the map half-changed.
        self.keys.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The principal of a trusted key whose secret matches: `Some(None)` if the secret
    /// does not match, `None` if the key is not held (or no longer trusted).
    fn get(&self, id: i64, secret_hash: &str) -> Option<Option<Principal>> {
        let keys = self.lock();
        let now = self.clock.now_micros();
        let held = keys.get(&id).filter(|t| t.until > now)?;
        Some(constant_time_eq(&held.secret_hash, secret_hash).then(|| held.principal.clone()))
    }

    /// Hold a key read from the database, unless a key was forgotten since `epoch` (the
    /// read may predate a revocation).
    fn put(&self, epoch: u64, id: i64, secret_hash: String, principal: Principal) {
        if self.trusted_for.is_zero() {
            return;
        }
        let now = self.clock.now_micros();
        let mut keys = self.lock();
        if self.epoch() != epoch {
            return;
        }
        if keys.len() >= MOST_KEYS {
            keys.retain(|_, t| t.until > now);
            if keys.len() >= MOST_KEYS {
                keys.clear();
            }
        }
        keys.insert(
            id,
            Trusted {
                secret_hash,
                principal,
                until: now.saturating_add(
                    i64::try_from(self.trusted_for.as_micros()).unwrap_or(i64::MAX),
                ),
            },
        );
    }
}

/// The principal of a valid, unrevoked key of an active tenant whose maker is active.
pub async fn resolve(db: &Db, cache: &KeyCache, key: &str) -> sqlx::Result<Option<Principal>> {
    let Some((id, secret)) = key
        .strip_prefix("lk_")
        .and_then(|rest| rest.split_once('_'))
    else {
        return Ok(None);
    };
    let Ok(id) = id.parse::<i64>() else {
        return Ok(None);
    };
    let secret_hash = token_hash(secret);
    if let Some(held) = cache.get(id, &secret_hash) {
        return Ok(held);
    }
    let epoch = cache.epoch();
    let rows = store::key_with_maker(db, id).await?;
    let Some(row) = rows.first() else {
        return Ok(None);
    };
    if row.revoked_at.is_some() || !constant_time_eq(&row.secret_hash, &secret_hash) {
        return Ok(None);
    }
    let Ok(role) = row.role.parse::<super::Role>() else {
        return Ok(None);
    };
    // Record use at most once a minute, so reads do not turn into writes.
    let now = now_micros();
    if row.last_used_at.is_none_or(|t| now - t > 60_000_000) {
        store::set_key_last_used(db, row.tenant_id, row.id, now).await?;
    }
    let scopes = parse_scopes(&row.scopes)
        .into_iter()
        .filter(|p| role.allows(*p))
        .collect();
    let principal = Principal {
        tenant_id: row.tenant_id,
        actor: Actor::ApiKey {
            id: row.id,
            scopes,
            name: row.name.clone(),
            created_by: row.created_by,
        },
        csrf_token: None,
        branches: rows.iter().filter_map(|r| r.branch_id).collect(),
    };
    cache.put(epoch, row.id, row.secret_hash.clone(), principal.clone());
    Ok(Some(principal))
}

pub async fn list(
    db: &Db,
    tenant_id: i64,
    before_id: i64,
    limit: i64,
) -> sqlx::Result<Vec<ApiKey>> {
    let rows = store::list_keys(db, tenant_id, before_id, limit).await?;
    Ok(rows.into_iter().map(into_api).collect())
}

pub async fn get(db: &Db, tenant_id: i64, id: i64) -> sqlx::Result<Option<ApiKey>> {
    Ok(store::key(db, tenant_id, id).await?.map(into_api))
}

/// Revoke a key; false if it does not exist in this tenant or was already revoked.
/// Revoke a key and every key made through it; the ids revoked (empty if it does not
/// exist in this tenant or was already revoked).
pub async fn revoke(tx: &mut Tx, tenant_id: i64, id: i64) -> sqlx::Result<Vec<i64>> {
    let now = now_micros();
    let done = store::revoke_key(tx, tenant_id, id, now).await?;
    if done == 0 {
        return Ok(vec![]);
    }
    let mut revoked = vec![id];
    let mut makers = vec![id];
    while let Some(maker) = makers.pop() {
        for key in store::revoke_keys_made_by(tx, tenant_id, maker, now).await? {
            revoked.push(key);
            makers.push(key);
        }
    }
    Ok(revoked)
}
