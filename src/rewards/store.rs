//! The only SQL of rewards: the catalog, code pools and redemptions.

use serde::Serialize;

use super::model::RewardSpec;
use crate::store::{Db, Tx, now_micros};
use crate::{ids, on_db, on_tx};

/// A reward in the catalog.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Reward {
    pub id: i64,
    #[serde(flatten)]
    pub spec: RewardSpec,
    /// Redemptions so far (cancelled ones not counted).
    pub redeemed: i64,
    /// Digital codes left in the pool (digital-code rewards only).
    pub codes_available: Option<i64>,
    pub archived: bool,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: jiff::Timestamp,
}

#[derive(sqlx::FromRow)]
struct RewardRow {
    id: i64,
    spec: String,
    stock: Option<i64>,
    redeemed: i64,
    archived: bool,
    created_at: i64,
    codes_available: Option<i64>,
}

impl RewardRow {
    fn into_reward(self) -> Option<Reward> {
        let mut spec: RewardSpec = serde_json::from_str(&self.spec).ok()?;
        spec.stock = self.stock;
        Some(Reward {
            id: self.id,
            codes_available: (spec.kind == super::model::RewardKind::DigitalCode)
                .then_some(self.codes_available.unwrap_or(0)),
            spec,
            redeemed: self.redeemed,
            archived: self.archived,
            created_at: crate::types::timestamp(self.created_at),
        })
    }
}

const REWARD_COLUMNS: &str = "r.id, r.spec, r.stock, r.redeemed, r.archived, r.created_at,
    (SELECT CAST(COUNT(*) AS BIGINT) FROM reward_codes c WHERE c.tenant_id = r.tenant_id AND c.reward_id = r.id AND c.redemption_id IS NULL) AS codes_available";

pub async fn create(tx: &mut Tx, tenant_id: i64, spec: &RewardSpec) -> sqlx::Result<i64> {
    let id = ids::next_id();
    let now = now_micros();
    let json = serde_json::to_string(spec).unwrap_or_default();
    on_tx!(tx, c => sqlx::query("INSERT INTO rewards (tenant_id, id, spec, stock, redeemed, archived, created_at, updated_at) VALUES ($1, $2, $3, $4, 0, FALSE, $5, $5)")
        .bind(tenant_id).bind(id).bind(&json).bind(spec.stock).bind(now).execute(c).await.map(|r| r.rows_affected()))?;
    Ok(id)
}

pub async fn update(tx: &mut Tx, tenant_id: i64, id: i64, spec: &RewardSpec) -> sqlx::Result<bool> {
    let json = serde_json::to_string(spec).unwrap_or_default();
    let n = on_tx!(tx, c => sqlx::query("UPDATE rewards SET spec = $3, stock = $4, updated_at = $5 WHERE tenant_id = $1 AND id = $2 AND archived = FALSE")
        .bind(tenant_id).bind(id).bind(&json).bind(spec.stock).bind(now_micros()).execute(c).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

pub async fn archive(tx: &mut Tx, tenant_id: i64, id: i64) -> sqlx::Result<bool> {
    let n = on_tx!(tx, c => sqlx::query("UPDATE rewards SET archived = TRUE, updated_at = $3 WHERE tenant_id = $1 AND id = $2 AND archived = FALSE")
        .bind(tenant_id).bind(id).bind(now_micros()).execute(c).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

pub async fn get(db: &Db, tenant_id: i64, id: i64) -> sqlx::Result<Option<Reward>> {
    let sql =
        format!("SELECT {REWARD_COLUMNS} FROM rewards r WHERE r.tenant_id = $1 AND r.id = $2");
    let row: Option<RewardRow> = on_db!(db, pool => sqlx::query_as(&sql).bind(tenant_id).bind(id).fetch_optional(pool).await)?;
    Ok(row.and_then(RewardRow::into_reward))
}

pub async fn list(
    db: &Db,
    tenant_id: i64,
    include_archived: bool,
    before_id: i64,
    limit: i64,
) -> sqlx::Result<Vec<Reward>> {
    let sql = format!(
        "SELECT {REWARD_COLUMNS} FROM rewards r WHERE r.tenant_id = $1 AND ($2 OR r.archived = FALSE) AND r.id < $3 ORDER BY r.id DESC LIMIT $4"
    );
    let rows: Vec<RewardRow> = on_db!(db, pool => sqlx::query_as(&sql).bind(tenant_id).bind(include_archived).bind(before_id).bind(limit + 1).fetch_all(pool).await)?;
    Ok(rows
        .into_iter()
        .filter_map(RewardRow::into_reward)
        .collect())
}

/// Take one unit of stock (and count the redemption). False when none is left. On
/// PostgreSQL the update locks the reward's row until the transaction ends, which
/// serialises redemptions of one reward.
pub async fn take_stock(tx: &mut Tx, tenant_id: i64, id: i64) -> sqlx::Result<bool> {
    let n = on_tx!(tx, c => sqlx::query(
        "UPDATE rewards SET stock = CASE WHEN stock IS NULL THEN NULL ELSE stock - 1 END, redeemed = redeemed + 1
         WHERE tenant_id = $1 AND id = $2 AND (stock IS NULL OR stock > 0)")
        .bind(tenant_id).bind(id).execute(c).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Put a unit back (a cancelled or expired redemption).
pub async fn return_stock(tx: &mut Tx, tenant_id: i64, id: i64) -> sqlx::Result<()> {
    on_tx!(tx, c => sqlx::query(
        "UPDATE rewards SET stock = CASE WHEN stock IS NULL THEN NULL ELSE stock + 1 END, redeemed = redeemed - 1 WHERE tenant_id = $1 AND id = $2")
        .bind(tenant_id).bind(id).execute(c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Add codes to a reward's pool; returns how many were new.
pub async fn add_codes(
    tx: &mut Tx,
    tenant_id: i64,
    reward_id: i64,
    codes: &[String],
) -> sqlx::Result<u64> {
    let now = now_micros();
    let mut added = 0;
    for code in codes {
        added += on_tx!(tx, c => sqlx::query(
            "INSERT INTO reward_codes (tenant_id, id, reward_id, code, created_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (tenant_id, reward_id, code) DO NOTHING")
            .bind(tenant_id).bind(ids::next_id()).bind(reward_id).bind(code).bind(now).execute(c).await.map(|r| r.rows_affected()))?;
    }
    Ok(added)
}

/// Take the oldest free code of the pool for a redemption.
pub async fn take_code(
    tx: &mut Tx,
    tenant_id: i64,
    reward_id: i64,
    redemption_id: i64,
) -> sqlx::Result<Option<String>> {
    let row: Option<(i64, String)> = on_tx!(tx, c => sqlx::query_as(
        "SELECT id, code FROM reward_codes WHERE tenant_id = $1 AND reward_id = $2 AND redemption_id IS NULL ORDER BY id LIMIT 1")
        .bind(tenant_id).bind(reward_id).fetch_optional(c).await)?;
    let Some((id, code)) = row else {
        return Ok(None);
    };
    on_tx!(tx, c => sqlx::query("UPDATE reward_codes SET redemption_id = $3 WHERE tenant_id = $1 AND id = $2")
        .bind(tenant_id).bind(id).bind(redemption_id).execute(c).await.map(|r| r.rows_affected()))?;
    Ok(Some(code))
}

/// Redemptions of a reward by a member since `from` (cancelled ones not counted).
pub async fn count_member_redemptions(
    tx: &mut Tx,
    tenant_id: i64,
    member_id: i64,
    reward_id: i64,
    from: i64,
) -> sqlx::Result<i64> {
    let (n,): (i64,) = on_tx!(tx, c => sqlx::query_as(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM redemptions WHERE tenant_id = $1 AND member_id = $2 AND reward_id = $3 AND created_at >= $4 AND status <> 'cancelled'")
        .bind(tenant_id).bind(member_id).bind(reward_id).bind(from).fetch_one(c).await)?;
    Ok(n)
}

pub async fn coupon_code_taken(tx: &mut Tx, tenant_id: i64, code: &str) -> sqlx::Result<bool> {
    let row: Option<(i64,)> = on_tx!(tx, c => sqlx::query_as("SELECT id FROM redemptions WHERE tenant_id = $1 AND coupon_code = $2")
        .bind(tenant_id).bind(code).fetch_optional(c).await)?;
    Ok(row.is_some())
}

pub use super::model::Address;

/// A redemption: what was redeemed, by whom, for how many points, and where it stands.
#[derive(Clone, Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Redemption {
    pub id: i64,
    pub member_id: i64,
    pub reward_id: i64,
    pub reward_name: String,
    /// `coupon`, `shipped`, `digital_code` or `voucher`.
    pub kind: String,
    pub points: i64,
    /// The ledger transaction that spent the points.
    pub txn_id: i64,
    /// Coupons and vouchers: `issued`, `used`, `expired`, `cancelled`. Digital codes:
    /// `issued`. Shipped: `pending`, `packed`, `shipped`, `delivered`, `cancelled`.
    pub status: String,
    /// The code staff validate (coupons and vouchers): `K7M2QX9P`, shown `K7M2-QX9P`.
    pub coupon_code: Option<String>,
    pub digital_code: Option<String>,
    pub value_satang: Option<i64>,
    #[schema(value_type = Option<String>, format = DateTime)]
    #[serde(serialize_with = "crate::types::opt_micros_as_rfc3339")]
    pub expires_at: Option<i64>,
    #[schema(value_type = Option<String>, format = DateTime)]
    #[serde(serialize_with = "crate::types::opt_micros_as_rfc3339")]
    pub used_at: Option<i64>,
    pub used_branch_id: Option<i64>,
    /// Who marked it used (staff name or API key).
    pub used_by: Option<String>,
    #[sqlx(skip)]
    pub shipping: Option<Address>,
    #[serde(skip)]
    #[schema(ignore)]
    pub shipping_json: Option<String>,
    pub carrier: Option<String>,
    pub tracking: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    #[serde(serialize_with = "crate::types::micros_as_rfc3339")]
    pub created_at: i64,
    #[schema(value_type = String, format = DateTime)]
    #[serde(serialize_with = "crate::types::micros_as_rfc3339")]
    pub updated_at: i64,
}

const REDEMPTION_COLUMNS: &str = "d.id, d.member_id, d.reward_id, d.kind, d.points, d.txn_id, d.status, d.coupon_code, d.digital_code,
    d.value_satang, d.expires_at, d.used_at, d.used_branch_id, d.used_by, d.shipping AS shipping_json, d.carrier, d.tracking, d.created_at, d.updated_at,
    COALESCE((SELECT r.spec FROM rewards r WHERE r.tenant_id = d.tenant_id AND r.id = d.reward_id), '') AS reward_name";

fn hydrate(mut rows: Vec<Redemption>) -> Vec<Redemption> {
    // reward_name arrives as the reward's spec JSON (one query, no join per row); keep its name.
    for r in &mut rows {
        r.reward_name = serde_json::from_str::<serde_json::Value>(&r.reward_name)
            .ok()
            .and_then(|v| v["name"].as_str().map(str::to_string))
            .unwrap_or_default();
        r.shipping = r
            .shipping_json
            .as_deref()
            .and_then(|j| serde_json::from_str(j).ok());
    }
    rows
}

pub struct NewRedemption<'a> {
    pub id: i64,
    pub member_id: i64,
    pub reward_id: i64,
    pub kind: &'a str,
    pub points: i64,
    pub txn_id: i64,
    pub status: &'a str,
    pub coupon_code: Option<&'a str>,
    pub digital_code: Option<&'a str>,
    pub value_satang: Option<i64>,
    pub expires_at: Option<i64>,
    pub shipping: Option<&'a Address>,
}

pub async fn insert(tx: &mut Tx, tenant_id: i64, r: &NewRedemption<'_>) -> sqlx::Result<()> {
    let now = now_micros();
    let shipping = r
        .shipping
        .map(|a| serde_json::to_string(a).unwrap_or_default());
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO redemptions (tenant_id, id, member_id, reward_id, kind, points, txn_id, status, coupon_code, digital_code, value_satang, expires_at, shipping, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14)")
        .bind(tenant_id).bind(r.id).bind(r.member_id).bind(r.reward_id).bind(r.kind).bind(r.points).bind(r.txn_id).bind(r.status)
        .bind(r.coupon_code).bind(r.digital_code).bind(r.value_satang).bind(r.expires_at).bind(shipping).bind(now)
        .execute(c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn get_redemption(db: &Db, tenant_id: i64, id: i64) -> sqlx::Result<Option<Redemption>> {
    let sql = format!(
        "SELECT {REDEMPTION_COLUMNS} FROM redemptions d WHERE d.tenant_id = $1 AND d.id = $2"
    );
    let rows: Vec<Redemption> =
        on_db!(db, pool => sqlx::query_as(&sql).bind(tenant_id).bind(id).fetch_all(pool).await)?;
    Ok(hydrate(rows).pop())
}

pub async fn get_redemption_tx(
    tx: &mut Tx,
    tenant_id: i64,
    id: i64,
) -> sqlx::Result<Option<Redemption>> {
    let sql = format!(
        "SELECT {REDEMPTION_COLUMNS} FROM redemptions d WHERE d.tenant_id = $1 AND d.id = $2"
    );
    let rows: Vec<Redemption> =
        on_tx!(tx, c => sqlx::query_as(&sql).bind(tenant_id).bind(id).fetch_all(c).await)?;
    Ok(hydrate(rows).pop())
}

pub async fn by_txn_tx(
    tx: &mut Tx,
    tenant_id: i64,
    txn_id: i64,
) -> sqlx::Result<Option<Redemption>> {
    let sql = format!(
        "SELECT {REDEMPTION_COLUMNS} FROM redemptions d WHERE d.tenant_id = $1 AND d.txn_id = $2"
    );
    let rows: Vec<Redemption> =
        on_tx!(tx, c => sqlx::query_as(&sql).bind(tenant_id).bind(txn_id).fetch_all(c).await)?;
    Ok(hydrate(rows).pop())
}

pub async fn by_txn(db: &Db, tenant_id: i64, txn_id: i64) -> sqlx::Result<Option<i64>> {
    let row: Option<(i64,)> = on_db!(db, pool => sqlx::query_as("SELECT id FROM redemptions WHERE tenant_id = $1 AND txn_id = $2")
        .bind(tenant_id).bind(txn_id).fetch_optional(pool).await)?;
    Ok(row.map(|r| r.0))
}

pub async fn by_coupon_code(
    db: &Db,
    tenant_id: i64,
    code: &str,
) -> sqlx::Result<Option<Redemption>> {
    let sql = format!(
        "SELECT {REDEMPTION_COLUMNS} FROM redemptions d WHERE d.tenant_id = $1 AND d.coupon_code = $2"
    );
    let rows: Vec<Redemption> =
        on_db!(db, pool => sqlx::query_as(&sql).bind(tenant_id).bind(code).fetch_all(pool).await)?;
    Ok(hydrate(rows).pop())
}

/// Filters for listing redemptions.
#[derive(Default)]
pub struct Filter {
    pub status: Option<String>,
    pub kind: Option<String>,
    pub member_id: Option<i64>,
}

pub async fn list_redemptions(
    db: &Db,
    tenant_id: i64,
    f: &Filter,
    before_id: i64,
    limit: i64,
) -> sqlx::Result<Vec<Redemption>> {
    use crate::store::Val::{Int, Text};
    let head = format!("SELECT {REDEMPTION_COLUMNS} FROM redemptions d WHERE d.tenant_id = ");
    let mut parts = vec![(head.as_str(), Int(tenant_id))];
    if let Some(status) = &f.status {
        parts.push((" AND d.status = ", Text(status)));
    }
    if let Some(kind) = &f.kind {
        parts.push((" AND d.kind = ", Text(kind)));
    }
    if let Some(member) = f.member_id {
        parts.push((" AND d.member_id = ", Int(member)));
    }
    parts.push((" AND d.id < ", Int(before_id)));
    parts.push((" ORDER BY d.id DESC LIMIT ", Int(limit + 1)));
    let rows: Vec<Redemption> = crate::store::fetch_parts(db, &parts).await?;
    Ok(hydrate(rows))
}

/// Move a redemption from one status to another; false when it was no longer in `from`
/// (someone else moved it first).
pub async fn set_status(
    tx: &mut Tx,
    tenant_id: i64,
    id: i64,
    from: &str,
    to: &str,
) -> sqlx::Result<bool> {
    let n = on_tx!(tx, c => sqlx::query("UPDATE redemptions SET status = $4, updated_at = $5 WHERE tenant_id = $1 AND id = $2 AND status = $3")
        .bind(tenant_id).bind(id).bind(from).bind(to).bind(now_micros()).execute(c).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

pub async fn mark_used(
    tx: &mut Tx,
    tenant_id: i64,
    id: i64,
    branch_id: i64,
    by: &str,
    now: i64,
) -> sqlx::Result<bool> {
    let n = on_tx!(tx, c => sqlx::query(
        "UPDATE redemptions SET status = 'used', used_at = $3, used_branch_id = $4, used_by = $5, updated_at = $3
         WHERE tenant_id = $1 AND id = $2 AND status = 'issued' AND (expires_at IS NULL OR expires_at > $3)")
        .bind(tenant_id).bind(id).bind(now).bind(branch_id).bind(by).execute(c).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

pub async fn set_shipping(
    tx: &mut Tx,
    tenant_id: i64,
    id: i64,
    carrier: Option<&str>,
    tracking: Option<&str>,
) -> sqlx::Result<()> {
    on_tx!(tx, c => sqlx::query("UPDATE redemptions SET carrier = COALESCE($3, carrier), tracking = COALESCE($4, tracking) WHERE tenant_id = $1 AND id = $2")
        .bind(tenant_id).bind(id).bind(carrier).bind(tracking).execute(c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Coupons and vouchers past their date and still unused, across tenants.
pub async fn expired_coupons(db: &Db, now: i64, limit: i64) -> sqlx::Result<Vec<(i64, i64)>> {
    on_db!(db, pool => sqlx::query_as(
        "SELECT tenant_id, id FROM redemptions WHERE status = 'issued' AND expires_at IS NOT NULL AND expires_at <= $1 ORDER BY expires_at LIMIT $2")
        .bind(now).bind(limit).fetch_all(pool).await)
}

/// Remove a member's shipping addresses (erasure).
pub async fn scrub_addresses(tx: &mut Tx, tenant_id: i64, member_id: i64) -> sqlx::Result<u64> {
    on_tx!(tx, c => sqlx::query("UPDATE redemptions SET shipping = NULL WHERE tenant_id = $1 AND member_id = $2 AND shipping IS NOT NULL")
        .bind(tenant_id).bind(member_id).execute(c).await.map(|r| r.rows_affected()))
}
