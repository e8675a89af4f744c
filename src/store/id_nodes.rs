//! The leases on id nodes (see [`crate::ids`]): a process that writes takes the lowest
//! node whose lease is free or ran out, and renews it while it runs. Taking is one
//! statement per node tried, so two processes starting at once never take the same one.

use std::time::Duration;

use super::{Db, now_micros};
use crate::ids::{self, LEASE_MS, NODES, RENEW_MS};

/// This process's name for itself in the leases it takes.
fn holder() -> &'static str {
    static HOLDER: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HOLDER.get_or_init(|| uuid::Uuid::now_v7().to_string())
}

fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}

/// Take a node in `db` (the one this process minted with so far, if it is free there)
/// and mint with it; a task renews the lease until the pool closes.
pub async fn claim(db: &Db) -> anyhow::Result<i64> {
    let node = take(db).await?;
    ids::set_node(node);
    let db = db.clone();
    tokio::spawn(async move {
        let mut node = node;
        loop {
            tokio::time::sleep(Duration::from_millis(RENEW_MS)).await;
            if db.is_closed() {
                return;
            }
            match renew(&db, node).await {
                Ok(true) => {}
                // Another process took it after this one failed to renew for a whole
                // lease (a database out of reach): mint with a new one.
                Ok(false) => match take(&db).await {
                    Ok(n) => {
                        tracing::warn!(lost = node, node = n, "id node lost; took another");
                        ids::set_node(n);
                        node = n;
                    }
                    Err(e) => tracing::error!(error = %e, "no id node to take"),
                },
                Err(e) => tracing::warn!(error = %e, node, "id node not renewed"),
            }
        }
    });
    Ok(node)
}

async fn take(db: &Db) -> anyhow::Result<i64> {
    let mine = ids::node();
    let order = std::iter::once(mine).chain((0..NODES).filter(|&n| n != mine));
    let host = host();
    for node in order {
        let now = now_micros();
        let taken = crate::on_db!(db, pool => sqlx::query(
            "INSERT INTO id_nodes (node, holder, expires_at, taken_at, host, pid)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (node) DO UPDATE SET holder = excluded.holder,
                 expires_at = excluded.expires_at, taken_at = excluded.taken_at,
                 host = excluded.host, pid = excluded.pid
             WHERE id_nodes.expires_at < $4 OR id_nodes.holder = $2")
            .bind(node).bind(holder()).bind(now + LEASE_MS * 1000).bind(now)
            .bind(&host).bind(i64::from(std::process::id()))
            .execute(pool).await.map(|r| r.rows_affected()))?;
        if taken == 1 {
            return Ok(node);
        }
    }
    anyhow::bail!(
        "all {NODES} id nodes of this database are held by running Loyal processes \
         (table id_nodes); stop one, or wait {} s for a stopped one's lease to run out",
        LEASE_MS / 1000
    )
}

/// Extend the lease; false when the node is no longer this process's.
async fn renew(db: &Db, node: i64) -> sqlx::Result<bool> {
    let until = now_micros() + LEASE_MS * 1000;
    let renewed = crate::on_db!(db, pool => sqlx::query(
        "UPDATE id_nodes SET expires_at = $3 WHERE node = $1 AND holder = $2")
        .bind(node).bind(holder()).bind(until).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(renewed == 1)
}

/// Give this process's nodes back (a clean stop): each is free once the last id this
/// process minted (a burst runs ahead of the clock) is in the past, not after a lease.
pub async fn release(db: &Db) -> sqlx::Result<()> {
    let free_from = ids::minted_through_micros();
    crate::on_db!(db, pool => sqlx::query(
        "UPDATE id_nodes SET expires_at = $2 WHERE holder = $1 AND expires_at > $2")
        .bind(holder()).bind(free_from).execute(pool).await.map(|_| ()))?;
    Ok(())
}

/// The nodes held now, as (node, host, pid, expires_at).
pub async fn held(db: &Db) -> sqlx::Result<Vec<(i64, String, i64, i64)>> {
    crate::on_db!(db, pool => sqlx::query_as(
        "SELECT node, host, pid, expires_at FROM id_nodes WHERE expires_at >= $1 ORDER BY node")
        .bind(now_micros()).fetch_all(pool).await)
}
