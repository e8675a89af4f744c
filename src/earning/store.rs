//! What earning reads of the ledger's rows in its own terms: a purchase as recorded,
//! with the rules that gave its points.

use serde::Serialize;

use crate::ledger::purchase_key;
use crate::on_db;
use crate::store::Db;

/// A purchase as recorded, found by its receipt: what a till that lost the answer
/// needs, and what refunds have taken back since.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct RecordedPurchase {
    pub purchase_id: i64,
    pub receipt: String,
    pub member_id: i64,
    pub amount_satang: Option<i64>,
    pub branch_id: Option<i64>,
    pub points: i64,
    pub stamps: i64,
    /// Every rule that contributed, as when it was recorded.
    pub rules: Vec<crate::rules::model::Applied>,
    /// Points refunds have taken back from it (and could not, under `within_balance`).
    pub points_refunded: i64,
    /// When it happened (the till's time).
    #[schema(value_type = String, format = DateTime)]
    pub occurred_at: jiff::Timestamp,
    /// When Loyal recorded it.
    #[schema(value_type = String, format = DateTime)]
    pub recorded_at: jiff::Timestamp,
}

pub async fn purchase_by_receipt(
    db: &Db,
    tenant_id: i64,
    receipt: &str,
) -> sqlx::Result<Option<RecordedPurchase>> {
    type Row = (i64, i64, i64, Option<i64>, Option<i64>, i64, i64, String);
    let row: Option<Row> = on_db!(db, pool => sqlx::query_as(
        "SELECT id, member_id, amount, bill_satang, branch_id, occurred_at, created_at, details
         FROM ledger_txns WHERE tenant_id = $1 AND idem_key = $2 AND kind = 'earn'")
        .bind(tenant_id).bind(purchase_key(receipt)).fetch_optional(pool).await)?;
    let Some((id, member_id, points, bill, branch_id, occurred_at, created_at, details)) = row
    else {
        return Ok(None);
    };
    let refunded: (Option<i64>,) = on_db!(db, pool => sqlx::query_as(
        "SELECT CAST(SUM(uncollected - amount) AS BIGINT) FROM ledger_txns
         WHERE tenant_id = $1 AND reverses_id = $2 AND kind = 'reversal'")
        .bind(tenant_id).bind(id).fetch_one(pool).await)?;
    let details: serde_json::Value = serde_json::from_str(&details).unwrap_or_default();
    Ok(Some(RecordedPurchase {
        purchase_id: id,
        receipt: receipt.to_string(),
        member_id,
        amount_satang: bill,
        branch_id,
        points,
        stamps: details["stamps"].as_i64().unwrap_or(0),
        rules: serde_json::from_value(details["applied"].clone()).unwrap_or_default(),
        points_refunded: refunded.0.unwrap_or(0),
        occurred_at: crate::types::timestamp(occurred_at),
        recorded_at: crate::types::timestamp(created_at),
    }))
}
