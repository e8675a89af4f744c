//! Web sessions: a random token in an HttpOnly cookie; the database keeps its hash.

use super::store;
use super::{Actor, Principal, Role};
use crate::auth::secrets::{random_token, token_hash};
use crate::store::{Db, Tx, now_micros};

pub const COOKIE: &str = "loyal_session";

pub struct NewSession {
    pub token: String,
    pub csrf_token: String,
    pub expires_at: i64,
}

pub async fn create(
    tx: &mut Tx,
    tenant_id: i64,
    staff_id: i64,
    ip: &str,
    hours: u64,
) -> sqlx::Result<NewSession> {
    let token = random_token();
    let csrf_token = random_token();
    let now = now_micros();
    let expires_at = now + (hours as i64) * 3_600_000_000;
    store::insert_session(
        tx,
        &store::NewSessionRow {
            token_hash: &token_hash(&token),
            tenant_id,
            staff_id,
            csrf_token: &csrf_token,
            ip,
            created_at: now,
            expires_at,
        },
    )
    .await?;
    Ok(NewSession {
        token,
        csrf_token,
        expires_at,
    })
}

/// The principal of a live session of an active staff member in an active tenant.
pub async fn resolve(db: &Db, token: &str) -> sqlx::Result<Option<Principal>> {
    let rows = store::live_session(db, &token_hash(token), now_micros()).await?;
    let branches = rows.iter().filter_map(|r| r.branch_id).collect();
    Ok(rows.into_iter().next().and_then(|r| {
        let role: Role = r.role.parse().ok()?;
        Some(Principal {
            tenant_id: r.tenant_id,
            actor: Actor::Staff {
                id: r.staff_id,
                email: r.email,
                name: r.name,
                role,
            },
            csrf_token: Some(r.csrf_token),
            branches,
        })
    }))
}

pub async fn delete(tx: &mut Tx, token: &str) -> sqlx::Result<()> {
    store::delete_session(tx, &token_hash(token)).await?;
    Ok(())
}

/// End every session of a staff member (deactivation, role change).
pub async fn delete_for_staff(tx: &mut Tx, tenant_id: i64, staff_id: i64) -> sqlx::Result<()> {
    store::delete_staff_sessions(tx, tenant_id, staff_id).await?;
    Ok(())
}

/// End every session of a staff member but `keep` (the one changing their password).
pub async fn delete_others_for_staff(
    tx: &mut Tx,
    tenant_id: i64,
    staff_id: i64,
    keep: &str,
) -> sqlx::Result<()> {
    store::delete_other_staff_sessions(tx, tenant_id, staff_id, &token_hash(keep)).await?;
    Ok(())
}

/// Remove expired sessions (run periodically).
pub async fn purge_expired(db: &Db) -> sqlx::Result<u64> {
    store::delete_expired_sessions(db, now_micros()).await
}
