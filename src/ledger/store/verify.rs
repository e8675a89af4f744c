//! `loyal verify`: every balance recomputed from the entries and lots, and every
//! invariant of the ledger checked from the rows.

use serde::Serialize;

use super::plan_on_postgres;
use crate::on_tx;
use crate::store::Db;

/// A difference between the projection and the entries.
#[derive(Clone, Debug, Serialize)]
pub struct Drift {
    pub tenant_id: i64,
    pub member_id: Option<i64>,
    pub what: String,
}

/// A balance row next to what its entries and lots say.
#[derive(sqlx::FromRow)]
struct ProjectionCheck {
    tenant_id: i64,
    member_id: i64,
    currency: String,
    balance: i64,
    debt: i64,
    entries: Option<i64>,
    lots: Option<i64>,
}

/// How `verify`'s sums are planned on PostgreSQL, for its transaction only (`SET LOCAL`).
/// Measured at 1M and 10M members (docs/BENCHMARKS.md, "Measured design choices"): with
/// the defaults the sums per member and per lot were hashed in 4 MB each and hashed
/// against the balances and lots,
/// writing 1.1 GB of temporary files at 1M members (4.3 GB at 10M); given more memory,
/// every sum was hashed, up to 256 MB per hash in each of the three processes summing
/// it: 1.8 GB of PostgreSQL's memory at 10M members.
const VERIFY_PLAN_TRANSACTIONS: &str =
    // The entries in transaction order from their index, summed as they stream past:
    // nothing held, nothing written, however large the ledger. Sorting in steps is off
    // too: on a database without statistics PostgreSQL chose that when the rest was off.
    "SET LOCAL enable_hashagg = off; SET LOCAL enable_sort = off; SET LOCAL enable_incremental_sort = off";
const VERIFY_PLAN_BALANCES: &str =
    // The sums per member and per lot sorted (hashing stays off) in 64 MB per sort, then
    // merged with the balances and lots in key order instead of hashed against them: six
    // sorts (two sums, each in three processes with PostgreSQL's default two workers),
    // about 0.5 GB whatever the size; what does not fit goes to temporary files. More
    // memory per sort bought nothing at 10M members (every sort spilled anyway), and
    // hashing was slower there and no faster at 1M than the runs' spread.
    "SET LOCAL enable_sort TO DEFAULT; SET LOCAL enable_incremental_sort TO DEFAULT; \
     SET LOCAL work_mem = '64MB'; SET LOCAL enable_hashjoin = off";

/// Recompute every balance from the entries and check every invariant. Empty = no drift.
/// The checks read one snapshot, in a read-only transaction that takes no lock a
/// purchase waits for.
pub async fn verify(db: &Db) -> sqlx::Result<Vec<Drift>> {
    let mut drift = vec![];
    let mut tx = db.begin_read().await?;
    plan_on_postgres(&mut tx, VERIFY_PLAN_TRANSACTIONS).await?;
    // 1. Every transaction's entries sum to zero, all in one currency (the transaction's:
    // a posting moves one currency). Grouped by the entries' index alone, so both
    // backends can sum them in its order without sorting or hashing the ledger.
    let unbalanced: Vec<(i64, i64, Option<i64>, bool)> = on_tx!(&mut tx, c => sqlx::query_as(
        "SELECT tenant_id, txn_id, CAST(SUM(amount) AS BIGINT), MIN(currency) <> MAX(currency) FROM ledger_entries
         GROUP BY tenant_id, txn_id HAVING CAST(SUM(amount) AS BIGINT) <> 0 OR MIN(currency) <> MAX(currency)")
        .fetch_all(c).await)?;
    for (t, txn, s, mixed) in unbalanced {
        drift.push(Drift {
            tenant_id: t,
            member_id: None,
            what: if mixed {
                format!("transaction {txn} has entries in more than one currency")
            } else {
                format!("transaction {txn} entries sum to {}", s.unwrap_or(0))
            },
        });
    }
    plan_on_postgres(&mut tx, VERIFY_PLAN_BALANCES).await?;
    // 2. The projection equals the sum of member entries, and open lots minus debt. Sums
    // are grouped once per table (not one subquery per member: that is quadratic without
    // an index on entries by member), and only rows that disagree come back, so memory
    // stays flat at millions of members.
    let rows: Vec<ProjectionCheck> = on_tx!(&mut tx, c => sqlx::query_as(
        "SELECT b.tenant_id, b.member_id, b.currency, b.balance, b.debt, e.total AS entries, l.total AS lots
         FROM balances b
         LEFT JOIN (SELECT tenant_id, member_id, currency, CAST(SUM(amount) AS BIGINT) AS total FROM ledger_entries
                    WHERE account = 'member' GROUP BY tenant_id, member_id, currency) e
           ON e.tenant_id = b.tenant_id AND e.member_id = b.member_id AND e.currency = b.currency
         LEFT JOIN (SELECT tenant_id, member_id, currency, CAST(SUM(remaining) AS BIGINT) AS total FROM lots
                    GROUP BY tenant_id, member_id, currency) l
           ON l.tenant_id = b.tenant_id AND l.member_id = b.member_id AND l.currency = b.currency
         WHERE COALESCE(e.total, 0) <> b.balance OR COALESCE(l.total, 0) - b.debt <> b.balance OR b.debt < 0")
        .fetch_all(c).await)?;
    for r in rows {
        let (t, m, cur, balance, debt) = (r.tenant_id, r.member_id, r.currency, r.balance, r.debt);
        let (entries, lots) = (r.entries.unwrap_or(0), r.lots.unwrap_or(0));
        if entries != balance {
            drift.push(Drift {
                tenant_id: t,
                member_id: Some(m),
                what: format!("{cur}: balance {balance} but entries sum to {entries}"),
            });
        }
        if lots - debt != balance {
            drift.push(Drift {
                tenant_id: t,
                member_id: Some(m),
                what: format!("{cur}: balance {balance} but open lots {lots} minus debt {debt}"),
            });
        }
        if debt < 0 {
            drift.push(Drift {
                tenant_id: t,
                member_id: Some(m),
                what: format!("{cur}: negative debt {debt}"),
            });
        }
    }
    // 3. Every lot: 0 <= remaining <= original, and original - remaining = its allocations.
    let lots: Vec<(i64, i64, i64, i64, i64, Option<i64>)> = on_tx!(&mut tx, c => sqlx::query_as(
        "SELECT l.tenant_id, l.id, l.member_id, l.original, l.remaining, a.total
         FROM lots l
         LEFT JOIN (SELECT tenant_id, lot_id, CAST(SUM(amount) AS BIGINT) AS total FROM allocations GROUP BY tenant_id, lot_id) a
           ON a.tenant_id = l.tenant_id AND a.lot_id = l.id
         WHERE l.remaining < 0 OR l.remaining > l.original OR l.original - l.remaining <> COALESCE(a.total, 0)")
        .fetch_all(c).await)?;
    for (t, lot, m, original, remaining, allocated) in lots {
        if remaining < 0 || remaining > original || original - remaining != allocated.unwrap_or(0) {
            drift.push(Drift {
                tenant_id: t,
                member_id: Some(m),
                what: format!(
                    "lot {lot}: original {original}, remaining {remaining}, allocated {}",
                    allocated.unwrap_or(0)
                ),
            });
        }
    }
    tx.commit().await?;
    Ok(drift)
}
