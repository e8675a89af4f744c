//! Per-tenant settings documents that are always read and written whole (the tier
//! program, redemption settings): one JSON row per (tenant, name).

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Db, Tx, now_micros};
use crate::{on_db, on_tx};

/// The tenant's document, or the default when none was saved. Documents are validated
/// before they are saved, so an unreadable one is a bug: it is reported, not hidden.
pub async fn get<T: DeserializeOwned + Default>(
    db: &Db,
    tenant_id: i64,
    name: &str,
) -> anyhow::Result<T> {
    let row: Option<(String,)> = on_db!(db, pool => sqlx::query_as("SELECT doc FROM tenant_docs WHERE tenant_id = $1 AND name = $2")
        .bind(tenant_id).bind(name).fetch_optional(pool).await)?;
    parse(row.as_ref().map(|(json,)| json.as_str()))
}

/// A document as saved (JSON), or the default when there is none.
pub fn parse<T: DeserializeOwned + Default>(saved: Option<&str>) -> anyhow::Result<T> {
    match saved {
        Some(json) => Ok(serde_json::from_str(json)?),
        None => Ok(T::default()),
    }
}

pub async fn save<T: Serialize>(
    tx: &mut Tx,
    tenant_id: i64,
    name: &str,
    doc: &T,
) -> sqlx::Result<()> {
    let json = serde_json::to_string(doc).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO tenant_docs (tenant_id, name, doc, updated_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant_id, name) DO UPDATE SET doc = $3, updated_at = $4")
        .bind(tenant_id).bind(name).bind(&json).bind(now_micros()).execute(c).await.map(|r| r.rows_affected()))?;
    Ok(())
}
