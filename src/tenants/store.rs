//! The only SQL of tenants and branches.

use serde::Serialize;

use super::model::{BranchCode, CurrencyCode, Language, ShopName, Slug, TimeZoneName};
use crate::store::{Db, Tx, now_micros};
use crate::{ids, on_db, on_tx};

#[derive(Clone, Debug, Serialize, utoipa::ToSchema, sqlx::FromRow)]
pub struct Tenant {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub currency: String,
    pub time_zone: String,
    /// `th` or `en`.
    pub language: String,
    pub status: String,
}

pub struct NewTenant<'a> {
    pub slug: &'a Slug,
    pub name: &'a ShopName,
    pub currency: &'a CurrencyCode,
    pub time_zone: &'a TimeZoneName,
    pub language: Language,
    /// The owner's phone, when proved with a one-time code (E.164).
    pub contact_phone: Option<&'a str>,
}

pub async fn insert_tenant(tx: &mut Tx, t: NewTenant<'_>) -> sqlx::Result<i64> {
    let id = ids::next_id();
    let now = now_micros();
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO tenants (id, slug, name, currency, time_zone, language, status, created_at, updated_at, contact_phone)
         VALUES ($1, $2, $3, $4, $5, $6, 'active', $7, $7, $8)")
        .bind(id).bind(t.slug.as_str()).bind(t.name.as_str()).bind(t.currency.as_str())
        .bind(t.time_zone.as_str()).bind(t.language.as_str()).bind(now).bind(t.contact_phone)
        .execute(c).await.map(|r| r.rows_affected()))?;
    Ok(id)
}

const TENANT_COLUMNS: &str = "id, slug, name, currency, time_zone, language, status";

pub async fn get_tenant(db: &Db, id: i64) -> sqlx::Result<Option<Tenant>> {
    let sql = format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE id = $1");
    on_db!(db, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await)
}

pub async fn find_tenant_by_slug(db: &Db, slug: &str) -> sqlx::Result<Option<Tenant>> {
    let sql = format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE slug = $1");
    on_db!(db, pool => sqlx::query_as(&sql).bind(slug).fetch_optional(pool).await)
}

pub async fn slug_taken(db: &Db, slug: &str) -> sqlx::Result<bool> {
    Ok(find_tenant_by_slug(db, slug).await?.is_some())
}

/// Changes to a tenant's settings; `None` keeps the current value.
#[derive(Default)]
pub struct TenantChanges {
    pub name: Option<ShopName>,
    pub currency: Option<CurrencyCode>,
    pub time_zone: Option<TimeZoneName>,
    pub language: Option<Language>,
}

pub async fn update_tenant(tx: &mut Tx, id: i64, c: &TenantChanges) -> sqlx::Result<()> {
    on_tx!(tx, conn => sqlx::query(
        "UPDATE tenants SET name = COALESCE($2, name), currency = COALESCE($3, currency),
                time_zone = COALESCE($4, time_zone), language = COALESCE($5, language), updated_at = $6
         WHERE id = $1")
        .bind(id)
        .bind(c.name.as_ref().map(|v| v.as_str()))
        .bind(c.currency.as_ref().map(|v| v.as_str()))
        .bind(c.time_zone.as_ref().map(|v| v.as_str()))
        .bind(c.language.map(|v| v.as_str()))
        .bind(now_micros())
        .execute(conn).await.map(|r| r.rows_affected()))?;
    Ok(())
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema, sqlx::FromRow)]
pub struct Branch {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub address: String,
    pub active: bool,
}

pub async fn insert_branch(
    tx: &mut Tx,
    tenant_id: i64,
    code: &BranchCode,
    name: &str,
    address: &str,
) -> sqlx::Result<i64> {
    let id = ids::next_id();
    let now = now_micros();
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO branches (tenant_id, id, code, name, address, active, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, TRUE, $6, $6)")
        .bind(tenant_id).bind(id).bind(code.as_str()).bind(name).bind(address).bind(now)
        .execute(c).await.map(|r| r.rows_affected()))?;
    Ok(id)
}

pub async fn list_branches(
    db: &Db,
    tenant_id: i64,
    before_id: i64,
    limit: i64,
) -> sqlx::Result<Vec<Branch>> {
    on_db!(db, pool => sqlx::query_as(
        "SELECT id, code, name, address, active FROM branches
         WHERE tenant_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3")
        .bind(tenant_id).bind(before_id).bind(limit + 1).fetch_all(pool).await)
}

pub async fn get_branch(db: &Db, tenant_id: i64, id: i64) -> sqlx::Result<Option<Branch>> {
    on_db!(db, pool => sqlx::query_as(
        "SELECT id, code, name, address, active FROM branches WHERE tenant_id = $1 AND id = $2")
        .bind(tenant_id).bind(id).fetch_optional(pool).await)
}

/// The ids among `ids` that are branches of this tenant.
pub async fn existing_branch_ids(db: &Db, tenant_id: i64, ids: &[i64]) -> sqlx::Result<Vec<i64>> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let sql = format!(
        "SELECT id FROM branches WHERE tenant_id = $1 AND id IN ({})",
        crate::store::placeholders(2, ids.len())
    );
    let rows: Vec<(i64,)> = on_db!(db, pool => {
        let mut q = sqlx::query_as(&sql).bind(tenant_id);
        for id in ids {
            q = q.bind(id);
        }
        q.fetch_all(pool).await
    })?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

#[derive(Default)]
pub struct BranchChanges {
    pub code: Option<BranchCode>,
    pub name: Option<String>,
    pub address: Option<String>,
    pub active: Option<bool>,
}

/// Returns false when the branch does not exist in this tenant.
pub async fn update_branch(
    tx: &mut Tx,
    tenant_id: i64,
    id: i64,
    c: &BranchChanges,
) -> sqlx::Result<bool> {
    let done = on_tx!(tx, conn => sqlx::query(
        "UPDATE branches SET code = COALESCE($3, code), name = COALESCE($4, name),
                address = COALESCE($5, address), active = COALESCE($6, active), updated_at = $7
         WHERE tenant_id = $1 AND id = $2")
        .bind(tenant_id).bind(id)
        .bind(c.code.as_ref().map(|v| v.as_str())).bind(&c.name).bind(&c.address).bind(c.active)
        .bind(now_micros())
        .execute(conn).await.map(|r| r.rows_affected()))?;
    Ok(done == 1)
}
