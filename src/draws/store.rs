//! The only SQL of lucky draws.

use crate::store::{Db, Tx, now_micros};
use crate::{ids, on_db, on_tx};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct DrawRow {
    pub id: i64,
    pub spec: String,
    pub seed: String,
    pub seed_hash: String,
    pub winners: Option<String>,
    pub drawn_at: Option<i64>,
    pub created_at: i64,
    pub entries: i64,
}

const COLUMNS: &str = "d.id, d.spec, d.seed, d.seed_hash, d.winners, d.drawn_at, d.created_at,
    (SELECT CAST(COUNT(*) AS BIGINT) FROM draw_entries e WHERE e.tenant_id = d.tenant_id AND e.draw_id = d.id) AS entries";

pub async fn create(
    tx: &mut Tx,
    tenant_id: i64,
    spec: &str,
    seed: &str,
    seed_hash: &str,
) -> sqlx::Result<i64> {
    let id = ids::next_id();
    on_tx!(tx, c => sqlx::query("INSERT INTO draws (tenant_id, id, spec, seed, seed_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(tenant_id).bind(id).bind(spec).bind(seed).bind(seed_hash).bind(now_micros()).execute(c).await.map(|r| r.rows_affected()))?;
    Ok(id)
}

pub async fn get(db: &Db, tenant_id: i64, id: i64) -> sqlx::Result<Option<DrawRow>> {
    let sql = format!("SELECT {COLUMNS} FROM draws d WHERE d.tenant_id = $1 AND d.id = $2");
    on_db!(db, pool => sqlx::query_as(&sql).bind(tenant_id).bind(id).fetch_optional(pool).await)
}

pub async fn list(
    db: &Db,
    tenant_id: i64,
    before_id: i64,
    limit: i64,
) -> sqlx::Result<Vec<DrawRow>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM draws d WHERE d.tenant_id = $1 AND d.id < $2 ORDER BY d.id DESC LIMIT $3"
    );
    on_db!(db, pool => sqlx::query_as(&sql).bind(tenant_id).bind(before_id).bind(limit + 1).fetch_all(pool).await)
}

/// Entries in the order they were bought: (entry id, member id).
pub async fn entries(db: &Db, tenant_id: i64, draw_id: i64) -> sqlx::Result<Vec<(i64, i64)>> {
    on_db!(db, pool => sqlx::query_as("SELECT id, member_id FROM draw_entries WHERE tenant_id = $1 AND draw_id = $2 ORDER BY id")
        .bind(tenant_id).bind(draw_id).fetch_all(pool).await)
}

pub async fn member_entries(
    tx: &mut Tx,
    tenant_id: i64,
    draw_id: i64,
    member_id: i64,
) -> sqlx::Result<i64> {
    let (n,): (i64,) = on_tx!(tx, c => sqlx::query_as("SELECT CAST(COUNT(*) AS BIGINT) FROM draw_entries WHERE tenant_id = $1 AND draw_id = $2 AND member_id = $3")
        .bind(tenant_id).bind(draw_id).bind(member_id).fetch_one(c).await)?;
    Ok(n)
}

pub async fn add_entries(
    tx: &mut Tx,
    tenant_id: i64,
    draw_id: i64,
    member_id: i64,
    txn_id: i64,
    n: i64,
) -> sqlx::Result<Vec<i64>> {
    let now = now_micros();
    let mut ids_out = Vec::new();
    for _ in 0..n {
        let id = ids::next_id();
        on_tx!(tx, c => sqlx::query("INSERT INTO draw_entries (tenant_id, id, draw_id, member_id, txn_id, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(tenant_id).bind(id).bind(draw_id).bind(member_id).bind(txn_id).bind(now).execute(c).await.map(|r| r.rows_affected()))?;
        ids_out.push(id);
    }
    Ok(ids_out)
}

/// Record the winners once; false when the draw was already made.
pub async fn set_winners(
    tx: &mut Tx,
    tenant_id: i64,
    draw_id: i64,
    winners_json: &str,
) -> sqlx::Result<bool> {
    let n = on_tx!(tx, c => sqlx::query("UPDATE draws SET winners = $3, drawn_at = $4 WHERE tenant_id = $1 AND id = $2 AND drawn_at IS NULL")
        .bind(tenant_id).bind(draw_id).bind(winners_json).bind(now_micros()).execute(c).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// A member's entries in a draw (for their page).
pub async fn member_entry_count(
    db: &Db,
    tenant_id: i64,
    draw_id: i64,
    member_id: i64,
) -> sqlx::Result<i64> {
    let (n,): (i64,) = on_db!(db, pool => sqlx::query_as("SELECT CAST(COUNT(*) AS BIGINT) FROM draw_entries WHERE tenant_id = $1 AND draw_id = $2 AND member_id = $3")
        .bind(tenant_id).bind(draw_id).bind(member_id).fetch_one(pool).await)?;
    Ok(n)
}
