//! The only SQL of tiers: members' levels, their history, and the metric queries.

use std::collections::HashMap;

use serde::Serialize;

use super::model::{Metric, TierProgram};
use crate::store::{Db, Tx, docs, now_micros};
use crate::{ids, on_db, on_tx};

pub const PROGRAM_DOC: &str = "tier_program";

pub async fn program(db: &Db, tenant_id: i64) -> Result<TierProgram, super::TierError> {
    docs::get(db, tenant_id, PROGRAM_DOC)
        .await
        .map_err(|e| super::TierError::Unreadable(e.to_string()))
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

/// The SQL that measures a metric for many members at once, as (head, tail) around a
/// VALUES list of (tenant, member, from, to) named `v`: one row (tenant, member, value)
/// per member with anything to count in [from, to).
fn metric_sql(metric: Metric) -> (&'static str, &'static str) {
    match metric {
        // Purchase points and their reversals; bonuses and adjustments do not qualify.
        Metric::PointsEarned => (
            "SELECT v.column1, v.column2, CAST(COALESCE(SUM(t.amount + t.uncollected), 0) AS BIGINT) FROM (",
            ") AS v JOIN ledger_txns t ON t.tenant_id = v.column1 AND t.member_id = v.column2
               AND t.currency = 'points' AND t.kind IN ('earn', 'reversal')
               AND t.id >= v.column5 AND t.occurred_at >= v.column3 AND t.occurred_at < v.column4
             GROUP BY v.column1, v.column2",
        ),
        Metric::SpendSatang => (
            "SELECT v.column1, v.column2,
                 CAST(COALESCE(SUM(CASE WHEN t.kind = 'earn' THEN t.bill_satang ELSE -t.bill_satang END), 0) AS BIGINT) FROM (",
            ") AS v JOIN ledger_txns t ON t.tenant_id = v.column1 AND t.member_id = v.column2
               AND t.currency = 'points' AND t.kind IN ('earn', 'reversal')
               AND t.id >= v.column5 AND t.occurred_at >= v.column3 AND t.occurred_at < v.column4
             GROUP BY v.column1, v.column2",
        ),
        Metric::Purchases => (
            "SELECT v.column1, v.column2, CAST(COUNT(*) AS BIGINT) FROM (",
            ") AS v JOIN ledger_txns t ON t.tenant_id = v.column1 AND t.member_id = v.column2
               AND t.currency = 'points' AND t.kind = 'earn'
               AND t.id >= v.column5 AND t.occurred_at >= v.column3 AND t.occurred_at < v.column4
             GROUP BY v.column1, v.column2",
        ),
        // Whole days from joining to `to` (`from` is unused).
        Metric::TenureDays => (
            "SELECT v.column1, v.column2, CAST(((v.column4 - m.created_at) / 86400000000) AS BIGINT) FROM (",
            ") AS v JOIN members m ON m.tenant_id = v.column1 AND m.id = v.column2",
        ),
    }
}

/// [`metric_sql`] for one member: binds $1 tenant, $2 member, $3 from, $4 to, $5 the
/// first id ([`crate::store::first_id_from`]).
fn metric_sql_one(metric: Metric) -> String {
    let (head, tail) = metric_sql(metric);
    format!("{head} VALUES ($1, $2, $3, $4, $5) {tail}")
}

pub async fn metric_value(
    db: &Db,
    tenant_id: i64,
    member_id: i64,
    metric: Metric,
    from: i64,
    to: i64,
) -> sqlx::Result<i64> {
    let sql = metric_sql_one(metric);
    let row: Option<(i64, i64, i64)> = on_db!(db, pool => sqlx::query_as(&sql)
        .bind(tenant_id).bind(member_id).bind(from).bind(to).bind(crate::store::first_id_from(from))
        .fetch_optional(pool).await)?;
    Ok(row.map(|r| r.2).unwrap_or(0).max(0))
}

pub async fn metric_value_tx(
    tx: &mut Tx,
    tenant_id: i64,
    member_id: i64,
    metric: Metric,
    from: i64,
    to: i64,
) -> sqlx::Result<i64> {
    let values = metric_values_tx(tx, metric, &[(tenant_id, member_id, from, to)]).await?;
    Ok(values.get(&(tenant_id, member_id)).copied().unwrap_or(0))
}

/// One metric for many members in one query: windows are (tenant, member, from, to);
/// values (never below zero) keyed by (tenant, member), absent when there is nothing to
/// count.
pub async fn metric_values_tx(
    tx: &mut Tx,
    metric: Metric,
    windows: &[(i64, i64, i64, i64)],
) -> sqlx::Result<HashMap<(i64, i64), i64>> {
    let (head, tail) = metric_sql(metric);
    let mut values = crate::store::per_member_values(tx, head, tail, windows).await?;
    values.values_mut().for_each(|v| *v = (*v).max(0));
    Ok(values)
}

/// The stored levels of many members in one query, keyed by (tenant, member); members
/// without one (the base level) are absent.
pub async fn levels_tx(
    tx: &mut Tx,
    members: &[(i64, i64)],
) -> sqlx::Result<HashMap<(i64, i64), String>> {
    use crate::store::Val::Int;
    let rows: Vec<_> = members.iter().map(|&(t, m)| vec![Int(t), Int(m)]).collect();
    let levels: Vec<(i64, i64, String)> = crate::store::fetch_values(
        tx,
        "SELECT v.column1, v.column2, m.level FROM (",
        ") AS v JOIN member_tiers m ON m.tenant_id = v.column1 AND m.member_id = v.column2",
        &rows,
    )
    .await?;
    Ok(levels
        .into_iter()
        .map(|(t, m, level)| ((t, m), level))
        .collect())
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
