//! The only SQL of earning: what it reads of the ledger's rows in its own terms (a
//! purchase as recorded, with the rules that gave its points), and the claim QR codes.

use serde::Serialize;

use crate::ledger::purchase_key;
use crate::store::{Db, Tx, now_micros};
use crate::{on_db, on_tx};

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
    /// The bill's lines, when it was sent with them: what each earned and how many of
    /// its units were refunded.
    pub items: Vec<super::RecordedLine>,
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
    let refunds: Vec<(i64, String)> = on_db!(db, pool => sqlx::query_as(
        "SELECT uncollected - amount, details FROM ledger_txns
         WHERE tenant_id = $1 AND reverses_id = $2 AND kind = 'reversal' ORDER BY id")
        .bind(tenant_id).bind(id).fetch_all(pool).await)?;
    let details: serde_json::Value = serde_json::from_str(&details).unwrap_or_default();
    let mut items: Vec<super::RecordedLine> =
        serde_json::from_value(details["items"].clone()).unwrap_or_default();
    let taken = super::refund::taken_by_line(refunds.iter().map(|r| r.1.as_str()), items.len());
    for (item, taken) in items.iter_mut().zip(taken) {
        item.refunded_quantity = taken.quantity;
    }
    Ok(Some(RecordedPurchase {
        purchase_id: id,
        receipt: receipt.to_string(),
        member_id,
        amount_satang: bill,
        branch_id,
        points,
        stamps: details["stamps"].as_i64().unwrap_or(0),
        rules: serde_json::from_value(details["applied"].clone()).unwrap_or_default(),
        items,
        points_refunded: refunds.iter().map(|r| r.0).sum(),
        occurred_at: crate::types::timestamp(occurred_at),
        recorded_at: crate::types::timestamp(created_at),
    }))
}

/// A claim QR code as stored; its token is kept as a hash.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Claim {
    pub id: i64,
    pub tenant_id: i64,
    pub amount_satang: i64,
    pub branch_id: Option<i64>,
    pub expires_at: i64,
    pub claimed_member: Option<i64>,
}

/// A new claim QR code's row.
pub struct NewClaimRow<'a> {
    pub tenant_id: i64,
    pub id: i64,
    pub token_hash: &'a str,
    pub amount_satang: i64,
    pub branch_id: Option<i64>,
    /// Who made it (the audit label of the staff member or key).
    pub created_by: &'a str,
    pub expires_at: i64,
    pub created_at: i64,
}

/// Write a new claim QR code, in the transaction that records its audit entry.
pub async fn insert_claim(tx: &mut Tx, c: &NewClaimRow<'_>) -> sqlx::Result<u64> {
    on_tx!(tx, conn => sqlx::query(
        "INSERT INTO point_claims (tenant_id, id, token_hash, amount_satang, branch_id, created_by, expires_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
        .bind(c.tenant_id).bind(c.id).bind(c.token_hash).bind(c.amount_satang).bind(c.branch_id).bind(c.created_by)
        .bind(c.expires_at).bind(c.created_at).execute(conn).await.map(|r| r.rows_affected()))
}

/// The claim of a shop whose token has this hash.
pub async fn claim_by_token_hash(
    db: &Db,
    tenant_id: i64,
    token_hash: &str,
) -> sqlx::Result<Option<Claim>> {
    on_db!(db, pool => sqlx::query_as(
        "SELECT id, tenant_id, amount_satang, branch_id, expires_at, claimed_member FROM point_claims WHERE token_hash = $1 AND tenant_id = $2")
        .bind(token_hash).bind(tenant_id).fetch_optional(pool).await)
}

/// Mark a claim collected by a member, unless one already collected it.
pub async fn mark_claimed(
    db: &Db,
    tenant_id: i64,
    claim_id: i64,
    member_id: i64,
) -> sqlx::Result<u64> {
    on_db!(db, pool => sqlx::query("UPDATE point_claims SET claimed_member = $3, claimed_at = $4 WHERE tenant_id = $1 AND id = $2 AND claimed_member IS NULL")
        .bind(tenant_id).bind(claim_id).bind(member_id).bind(now_micros()).execute(pool).await.map(|r| r.rows_affected()))
}
