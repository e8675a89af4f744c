//! The only SQL of tiers: members' levels, their history, and the metric queries.

use serde::Serialize;

use super::model::{Metric, TierProgram};
use crate::store::{Db, Tx, docs, now_micros};
use crate::{ids, on_db, on_tx};

pub const PROGRAM_DOC: &str = "tier_program";

pub async fn program(db: &Db, tenant_id: i64) -> anyhow::Result<TierProgram> {
    docs::get(db, tenant_id, PROGRAM_DOC).await
}

/// A member's stored level (members without one hold the base level).
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Standing {
    pub level: String,
    pub since: i64,
    pub review_at: Option<i64>,
}

const STANDING: &str =
    "SELECT level, since, review_at FROM member_tiers WHERE tenant_id = $1 AND member_id = $2";

pub async fn standing(db: &Db, tenant_id: i64, member_id: i64) -> sqlx::Result<Option<Standing>> {
    on_db!(db, pool => sqlx::query_as(STANDING).bind(tenant_id).bind(member_id).fetch_optional(pool).await)
}

pub async fn standing_tx(
    tx: &mut Tx,
    tenant_id: i64,
    member_id: i64,
) -> sqlx::Result<Option<Standing>> {
    on_tx!(tx, c => sqlx::query_as(STANDING).bind(tenant_id).bind(member_id).fetch_optional(c).await)
}

/// The SQL that measures a metric for one member over [$3, $4).
fn metric_sql(metric: Metric) -> &'static str {
    match metric {
        // Purchase points and their reversals; bonuses and adjustments do not qualify.
        Metric::PointsEarned => {
            "SELECT CAST(COALESCE(SUM(amount + uncollected), 0) AS BIGINT) FROM ledger_txns
             WHERE tenant_id = $1 AND member_id = $2 AND currency = 'points' AND kind IN ('earn', 'reversal')
               AND occurred_at >= $3 AND occurred_at < $4"
        }
        Metric::SpendSatang => {
            "SELECT CAST(COALESCE(SUM(CASE WHEN kind = 'earn' THEN bill_satang ELSE -bill_satang END), 0) AS BIGINT) FROM ledger_txns
             WHERE tenant_id = $1 AND member_id = $2 AND currency = 'points' AND kind IN ('earn', 'reversal')
               AND occurred_at >= $3 AND occurred_at < $4"
        }
        Metric::Purchases => {
            "SELECT CAST(COUNT(*) AS BIGINT) FROM ledger_txns
             WHERE tenant_id = $1 AND member_id = $2 AND currency = 'points' AND kind = 'earn'
               AND occurred_at >= $3 AND occurred_at < $4"
        }
        // Whole days from joining to $4 ($3 is unused but bound).
        Metric::TenureDays => {
            "SELECT CAST((($4 - created_at) / 86400000000) + ($3 - $3) AS BIGINT) FROM members
             WHERE tenant_id = $1 AND id = $2"
        }
    }
}

pub async fn metric_value(
    db: &Db,
    tenant_id: i64,
    member_id: i64,
    metric: Metric,
    from: i64,
    to: i64,
) -> sqlx::Result<i64> {
    let row: Option<(i64,)> = on_db!(db, pool => sqlx::query_as(metric_sql(metric))
        .bind(tenant_id).bind(member_id).bind(from).bind(to).fetch_optional(pool).await)?;
    Ok(row.map(|r| r.0).unwrap_or(0).max(0))
}

pub async fn metric_value_tx(
    tx: &mut Tx,
    tenant_id: i64,
    member_id: i64,
    metric: Metric,
    from: i64,
    to: i64,
) -> sqlx::Result<i64> {
    let row: Option<(i64,)> = on_tx!(tx, c => sqlx::query_as(metric_sql(metric))
        .bind(tenant_id).bind(member_id).bind(from).bind(to).fetch_optional(c).await)?;
    Ok(row.map(|r| r.0).unwrap_or(0).max(0))
}

/// Give a member a level (and record why), in the caller's transaction.
#[allow(clippy::too_many_arguments)]
pub async fn change_level(
    tx: &mut Tx,
    tenant_id: i64,
    member_id: i64,
    from: &str,
    to: &str,
    review_at: Option<i64>,
    reason: &str,
    metric_value: i64,
    at: i64,
) -> sqlx::Result<()> {
    let changed = from != to;
    on_tx!(tx, c => {
        sqlx::query(
            "INSERT INTO member_tiers (tenant_id, member_id, level, since, review_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (tenant_id, member_id) DO UPDATE SET level = $3,
                 since = CASE WHEN member_tiers.level = $3 THEN member_tiers.since ELSE $4 END, review_at = $5, updated_at = $6")
            .bind(tenant_id).bind(member_id).bind(to).bind(at).bind(review_at).bind(now_micros())
            .execute(&mut *c).await?;
        if changed {
            sqlx::query("INSERT INTO tier_history (tenant_id, id, member_id, from_level, to_level, reason, metric_value, at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
                .bind(tenant_id).bind(ids::next_id()).bind(member_id).bind(from).bind(to).bind(reason).bind(metric_value).bind(at)
                .execute(&mut *c).await.map(|r| r.rows_affected())
        } else {
            Ok(0)
        }
    })?;
    Ok(())
}

/// Members whose level is due for review at `now`, across tenants.
pub async fn due_reviews(
    db: &Db,
    now: i64,
    tenant: Option<i64>,
    limit: i64,
) -> sqlx::Result<Vec<(i64, i64)>> {
    on_db!(db, pool => sqlx::query_as(
        "SELECT tenant_id, member_id FROM member_tiers WHERE review_at IS NOT NULL AND review_at <= $1
           AND ($3 IS NULL OR tenant_id = $3) ORDER BY review_at LIMIT $2")
        .bind(now).bind(limit).bind(tenant).fetch_all(pool).await)
}

#[derive(Clone, Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct TierChange {
    pub from_level: String,
    pub to_level: String,
    /// `upgrade` (threshold crossed), `review` (cycle end) or `program_changed`.
    pub reason: String,
    /// The metric's value that decided it.
    pub metric_value: i64,
    #[schema(value_type = String, format = DateTime)]
    #[serde(serialize_with = "crate::types::micros_as_rfc3339")]
    pub at: i64,
}

pub async fn history(
    db: &Db,
    tenant_id: i64,
    member_id: i64,
    limit: i64,
) -> sqlx::Result<Vec<TierChange>> {
    on_db!(db, pool => sqlx::query_as(
        "SELECT from_level, to_level, reason, metric_value, at FROM tier_history WHERE tenant_id = $1 AND member_id = $2 ORDER BY id DESC LIMIT $3")
        .bind(tenant_id).bind(member_id).bind(limit).fetch_all(pool).await)
}

/// Level counts (for the tier mix), members without a row counted under `base`.
pub async fn level_counts(db: &Db, tenant_id: i64) -> sqlx::Result<Vec<(String, i64)>> {
    on_db!(db, pool => sqlx::query_as(
        "SELECT level, CAST(COUNT(*) AS BIGINT) FROM member_tiers WHERE tenant_id = $1 GROUP BY level")
        .bind(tenant_id).fetch_all(pool).await)
}
