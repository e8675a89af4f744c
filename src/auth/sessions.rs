//! Web sessions: a random token in an HttpOnly cookie; the database keeps its hash.

use super::{Actor, Principal, Role};
use crate::auth::secrets::{random_token, token_hash};
use crate::store::{Db, Tx, now_micros};
use crate::{on_db, on_tx};

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
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO sessions (token_hash, tenant_id, staff_id, csrf_token, ip, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(token_hash(&token)).bind(tenant_id).bind(staff_id).bind(&csrf_token).bind(ip).bind(now).bind(expires_at)
        .execute(c).await.map(|r| r.rows_affected()))?;
    Ok(NewSession {
        token,
        csrf_token,
        expires_at,
    })
}

/// A session with its staff member and one of their branches (a row per branch).
#[derive(sqlx::FromRow)]
struct SessionRow {
    tenant_id: i64,
    staff_id: i64,
    csrf_token: String,
    email: String,
    name: String,
    role: String,
    branch_id: Option<i64>,
}

/// The principal of a live session of an active staff member in an active tenant.
pub async fn resolve(db: &Db, token: &str) -> sqlx::Result<Option<Principal>> {
    let rows: Vec<SessionRow> = on_db!(db, pool => sqlx::query_as(
        "SELECT s.tenant_id, s.staff_id, s.csrf_token, st.email, st.name, st.role, sb.branch_id
         FROM sessions s
         JOIN staff st ON st.tenant_id = s.tenant_id AND st.id = s.staff_id
         JOIN tenants t ON t.id = s.tenant_id
         LEFT JOIN staff_branches sb ON sb.tenant_id = st.tenant_id AND sb.staff_id = st.id
         WHERE s.token_hash = $1 AND s.expires_at > $2 AND st.active = TRUE AND t.status = 'active'")
        .bind(token_hash(token)).bind(now_micros()).fetch_all(pool).await)?;
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
    on_tx!(tx, c => sqlx::query("DELETE FROM sessions WHERE token_hash = $1").bind(token_hash(token)).execute(c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// End every session of a staff member (deactivation, role change).
pub async fn delete_for_staff(tx: &mut Tx, tenant_id: i64, staff_id: i64) -> sqlx::Result<()> {
    on_tx!(tx, c => sqlx::query("DELETE FROM sessions WHERE tenant_id = $1 AND staff_id = $2")
        .bind(tenant_id).bind(staff_id).execute(c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Remove expired sessions (run periodically).
pub async fn purge_expired(db: &Db) -> sqlx::Result<u64> {
    let done = on_db!(db, pool => sqlx::query("DELETE FROM sessions WHERE expires_at <= $1").bind(now_micros()).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(done)
}
