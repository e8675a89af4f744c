//! The only SQL of earning rules: one JSON document per tenant.

use super::model::EarningRules;
use crate::store::{Db, Tx, now_micros};
use crate::{on_db, on_tx};

pub async fn get(db: &Db, tenant_id: i64) -> sqlx::Result<EarningRules> {
    let row: Option<(String,)> = on_db!(db, pool => sqlx::query_as("SELECT rules FROM earning_rules WHERE tenant_id = $1")
        .bind(tenant_id).fetch_optional(pool).await)?;
    Ok(parse(row.as_ref().map(|(json,)| json.as_str())))
}

/// The rules as saved (JSON), or none.
pub fn parse(saved: Option<&str>) -> EarningRules {
    // Rules are validated before they are saved; an unreadable row means no extra rules.
    saved
        .and_then(|json| serde_json::from_str(json).ok())
        .unwrap_or_default()
}

pub async fn save(tx: &mut Tx, tenant_id: i64, rules: &EarningRules) -> sqlx::Result<()> {
    let json = serde_json::to_string(rules).unwrap_or_else(|_| "{}".into());
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO earning_rules (tenant_id, rules, updated_at) VALUES ($1, $2, $3)
         ON CONFLICT (tenant_id) DO UPDATE SET rules = $2, updated_at = $3")
        .bind(tenant_id).bind(&json).bind(now_micros()).execute(c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Tenants whose rules grant a birthday bonus, with the bonus.
pub async fn birthday_bonuses(db: &Db) -> sqlx::Result<Vec<(i64, i64)>> {
    let rows: Vec<(i64, String)> = on_db!(db, pool => sqlx::query_as("SELECT tenant_id, rules FROM earning_rules").fetch_all(pool).await)?;
    Ok(rows
        .into_iter()
        .filter_map(|(t, json)| {
            serde_json::from_str::<EarningRules>(&json)
                .ok()
                .map(|r| (t, r.birthday_bonus))
        })
        .filter(|(_, bonus)| *bonus > 0)
        .collect())
}
