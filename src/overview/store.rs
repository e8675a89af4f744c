//! The overview's counts. Every count of "since" reads by id: ids begin with the
//! millisecond they were minted ([`crate::ids::first_at`]), so `id >= first` is a range
//! of the (tenant_id, id) primary key, not a scan of the shop's history.

use crate::on_db;
use crate::store::Db;

/// Members who can still be served (not merged into another, not erased), and how many
/// of them joined from `joined_from` (microseconds) on.
pub async fn member_counts(db: &Db, tenant_id: i64, joined_from: i64) -> sqlx::Result<(i64, i64)> {
    let row: (i64, Option<i64>) = on_db!(db, pool => sqlx::query_as(
        "SELECT COUNT(*), CAST(SUM(CASE WHEN created_at >= $2 THEN 1 ELSE 0 END) AS BIGINT)
         FROM members WHERE tenant_id = $1 AND status NOT IN ('merged', 'erased')")
        .bind(tenant_id).bind(joined_from).fetch_one(pool).await)?;
    Ok((row.0, row.1.unwrap_or(0)))
}

/// Members who bought or spent points in transactions with ids from `first_id` on.
pub async fn active_members(db: &Db, tenant_id: i64, first_id: i64) -> sqlx::Result<i64> {
    on_db!(db, pool => sqlx::query_scalar(
        "SELECT COUNT(DISTINCT member_id) FROM ledger_txns
         WHERE tenant_id = $1 AND id >= $2 AND kind IN ('earn', 'redeem')")
        .bind(tenant_id).bind(first_id).fetch_one(pool).await)
}

/// Rewards redeemed from `first_id` on (cancelled ones included: they were redeemed).
pub async fn redemptions_since(db: &Db, tenant_id: i64, first_id: i64) -> sqlx::Result<i64> {
    on_db!(db, pool => sqlx::query_scalar(
        "SELECT COUNT(*) FROM redemptions WHERE tenant_id = $1 AND id >= $2")
        .bind(tenant_id).bind(first_id).fetch_one(pool).await)
}

/// One branch's purchases (None = purchases that named no branch).
#[derive(sqlx::FromRow)]
pub struct BranchTotals {
    pub branch_id: Option<i64>,
    pub purchases: i64,
    pub bills_satang: Option<i64>,
    pub points: Option<i64>,
}

/// Purchases recorded from `first_id` on, per branch, by branch id with the purchases
/// that named none last (on both backends: they sort NULL differently).
pub async fn purchases_by_branch(
    db: &Db,
    tenant_id: i64,
    first_id: i64,
) -> sqlx::Result<Vec<BranchTotals>> {
    on_db!(db, pool => sqlx::query_as(
        "SELECT branch_id, COUNT(*) AS purchases, CAST(SUM(bill_satang) AS BIGINT) AS bills_satang,
                CAST(SUM(amount) AS BIGINT) AS points
         FROM ledger_txns
         WHERE tenant_id = $1 AND id >= $2 AND kind = 'earn' AND currency = 'points'
         GROUP BY branch_id ORDER BY branch_id IS NULL, branch_id")
        .bind(tenant_id).bind(first_id).fetch_all(pool).await)
}
