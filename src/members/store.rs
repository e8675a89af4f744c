//! The only SQL of members.

use serde::Serialize;

use super::model::Phone;
use crate::store::{Db, Tx, now_micros};
use crate::{ids, on_db, on_tx};

#[derive(Clone, Debug, Serialize, utoipa::ToSchema, sqlx::FromRow)]
pub struct Member {
    pub id: i64,
    /// E.164.
    pub phone: String,
    pub first_name: String,
    pub last_name: String,
    pub email: Option<String>,
    /// `active` or `blocked`.
    pub status: String,
    pub join_branch_id: Option<i64>,
}

const COLUMNS: &str = "id, phone, first_name, last_name, email, status, join_branch_id";

pub struct NewMember<'a> {
    pub phone: &'a Phone,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub email: Option<&'a str>,
    pub join_branch_id: Option<i64>,
}

pub async fn insert(tx: &mut Tx, tenant_id: i64, m: NewMember<'_>) -> sqlx::Result<i64> {
    let id = ids::next_id();
    let now = now_micros();
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO members (tenant_id, id, phone, first_name, last_name, email, status, join_branch_id, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, 'active', $7, $8, $8)")
        .bind(tenant_id).bind(id).bind(m.phone.as_str()).bind(m.first_name).bind(m.last_name).bind(m.email)
        .bind(m.join_branch_id).bind(now)
        .execute(c).await.map(|r| r.rows_affected()))?;
    Ok(id)
}

pub async fn get(db: &Db, tenant_id: i64, id: i64) -> sqlx::Result<Option<Member>> {
    let sql = format!("SELECT {COLUMNS} FROM members WHERE tenant_id = $1 AND id = $2");
    on_db!(db, pool => sqlx::query_as(&sql).bind(tenant_id).bind(id).fetch_optional(pool).await)
}

pub async fn find_by_phone(db: &Db, tenant_id: i64, phone: &Phone) -> sqlx::Result<Option<Member>> {
    let sql = format!("SELECT {COLUMNS} FROM members WHERE tenant_id = $1 AND phone = $2");
    on_db!(db, pool => sqlx::query_as(&sql).bind(tenant_id).bind(phone.as_str()).fetch_optional(pool).await)
}

pub async fn list(
    db: &Db,
    tenant_id: i64,
    before_id: i64,
    limit: i64,
) -> sqlx::Result<Vec<Member>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM members WHERE tenant_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3"
    );
    on_db!(db, pool => sqlx::query_as(&sql).bind(tenant_id).bind(before_id).bind(limit + 1).fetch_all(pool).await)
}
