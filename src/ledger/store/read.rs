//! Reading the ledger: balances, a member's history, purchases by receipt, the
//! liability report, transactions by key.

use std::collections::HashMap;

use serde::Serialize;

use crate::ledger::model::Currency;
use crate::ledger::posting::ISSUING_ACCOUNTS;
use crate::on_db;
use crate::store::{Db, Tx, now_micros};

/// A member's balance in one currency, with what is spendable, pending and expiring.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct BalanceSummary {
    pub currency: Currency,
    pub balance: i64,
    /// What can be spent now.
    pub available: i64,
    /// Points in their return window, not yet spendable.
    pub pending: i64,
    /// Points refunds took beyond the balance; repaid from future earnings.
    pub debt: i64,
    pub expiring_30_days: i64,
    pub expiring_60_days: i64,
    pub expiring_90_days: i64,
    /// When the soonest points expire.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub next_expiry: Option<jiff::Timestamp>,
    pub next_expiry_points: i64,
}

pub async fn balance_summary(
    db: &Db,
    tenant_id: i64,
    member_id: i64,
    currency: Currency,
) -> sqlx::Result<BalanceSummary> {
    let bal: Option<(i64, i64)> = on_db!(db, pool => sqlx::query_as(
        "SELECT balance, debt FROM balances WHERE tenant_id = $1 AND member_id = $2 AND currency = $3")
        .bind(tenant_id).bind(member_id).bind(currency.as_str()).fetch_optional(pool).await)?;
    let (balance, debt) = bal.unwrap_or((0, 0));
    let lots: Vec<(i64, i64, Option<i64>)> = on_db!(db, pool => sqlx::query_as(
        "SELECT remaining, pending_until, expires_at FROM lots WHERE tenant_id = $1 AND member_id = $2 AND currency = $3 AND remaining > 0")
        .bind(tenant_id).bind(member_id).bind(currency.as_str()).fetch_all(pool).await)?;
    let now = now_micros();
    let day = 86_400_000_000i64;
    let live = |e: &Option<i64>| e.is_none_or(|e| e > now);
    let spendable: i64 = lots
        .iter()
        .filter(|(_, p, e)| *p <= now && live(e))
        .map(|l| l.0)
        .sum();
    let pending: i64 = lots
        .iter()
        .filter(|(_, p, e)| *p > now && live(e))
        .map(|l| l.0)
        .sum();
    let expiring = |days: i64| {
        lots.iter()
            .filter(|(_, _, e)| e.is_some_and(|e| e > now && e <= now + days * day))
            .map(|l| l.0)
            .sum::<i64>()
    };
    let next = lots
        .iter()
        .filter_map(|(_, _, e)| e.filter(|e| *e > now))
        .min();
    Ok(BalanceSummary {
        currency,
        balance,
        available: spendable.min(balance).max(0),
        pending,
        debt,
        expiring_30_days: expiring(30),
        expiring_60_days: expiring(60),
        expiring_90_days: expiring(90),
        next_expiry: next.map(crate::types::timestamp),
        next_expiry_points: next
            .map(|n| lots.iter().filter(|l| l.2 == Some(n)).map(|l| l.0).sum())
            .unwrap_or(0),
    })
}

/// One line of a member's history.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema, sqlx::FromRow)]
pub struct HistoryLine {
    pub id: i64,
    pub kind: String,
    pub currency: String,
    /// The change to the balance (negative for debits).
    pub amount: i64,
    pub uncollected: i64,
    pub receipt: Option<String>,
    pub branch_id: Option<i64>,
    pub bill_satang: Option<i64>,
    pub reverses_id: Option<i64>,
    pub reason: Option<String>,
    pub actor_kind: String,
    pub actor_id: Option<i64>,
    #[sqlx(skip)]
    #[schema(value_type = String, format = DateTime)]
    pub occurred_at: jiff::Timestamp,
    #[serde(skip)]
    #[schema(ignore)]
    pub occurred_micros: i64,
    /// For credits: when the lot they opened expires.
    #[sqlx(skip)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<jiff::Timestamp>,
    #[serde(skip)]
    #[schema(ignore)]
    pub lot_expires_micros: Option<i64>,
}

/// A member's history page, each credit with the expiry of the lot it opened. The lot is
/// joined by its member and currency as well as its transaction (a lot always has its
/// transaction's): without them SQLite's planner, with lots keyed by member, chose to
/// read every lot of the shop for each line (`SEARCH l USING PRIMARY KEY
/// (tenant_id=?)`); a test reads the plan.
pub const HISTORY: &str = "SELECT t.id, t.kind, t.currency, t.amount, t.uncollected, t.receipt, t.branch_id, t.bill_satang, t.reverses_id, t.reason,
        t.actor_kind, t.actor_id, t.occurred_at AS occurred_micros, l.expires_at AS lot_expires_micros
 FROM ledger_txns t LEFT JOIN lots l
   ON l.tenant_id = t.tenant_id AND l.member_id = t.member_id AND l.currency = t.currency AND l.txn_id = t.id
 WHERE t.tenant_id = $1 AND t.member_id = $2 AND t.id < $3 ORDER BY t.id DESC LIMIT $4";

pub async fn history(
    db: &Db,
    tenant_id: i64,
    member_id: i64,
    before_id: i64,
    limit: i64,
) -> sqlx::Result<Vec<HistoryLine>> {
    let mut rows: Vec<HistoryLine> = on_db!(db, pool => sqlx::query_as(HISTORY)
        .bind(tenant_id).bind(member_id).bind(before_id).bind(limit + 1).fetch_all(pool).await)?;
    for r in &mut rows {
        r.occurred_at = crate::types::timestamp(r.occurred_micros);
        r.expires_at = r.lot_expires_micros.map(crate::types::timestamp);
    }
    Ok(rows)
}

/// A purchase as recorded, for refunds.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct PurchaseRecord {
    pub id: i64,
    pub member_id: i64,
    pub amount: i64,
    pub bill_satang: Option<i64>,
    pub branch_id: Option<i64>,
    /// As the purchase's poster wrote them (its rules, stamps and lines).
    pub details: String,
}

/// A purchase's idempotency key: one purchase per receipt per shop.
pub fn purchase_key(receipt: &str) -> String {
    format!("receipt:{receipt}")
}

pub async fn find_purchase(
    db: &Db,
    tenant_id: i64,
    receipt: &str,
) -> sqlx::Result<Option<PurchaseRecord>> {
    // By the purchase's idempotency key (`receipt:{receipt}`, unique per shop), not by
    // `receipt`, which has no index: a refund then reads one row, not the shop's ledger.
    on_db!(db, pool => sqlx::query_as(
        "SELECT id, member_id, amount, bill_satang, branch_id, details FROM ledger_txns WHERE tenant_id = $1 AND idem_key = $2 AND kind = 'earn'")
        .bind(tenant_id).bind(purchase_key(receipt)).fetch_optional(pool).await)
}

/// Points liability over a period, per currency.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Liability {
    pub currency: Currency,
    /// Outstanding at the start of the period.
    pub opening: i64,
    /// Net points issued in the period (earned, bonuses, opening balances, adjustments,
    /// less reversals).
    pub issued: i64,
    /// Net points redeemed (less cancellations).
    pub redeemed: i64,
    pub expired: i64,
    /// Outstanding at the end: opening + issued - redeemed - expired, exactly.
    pub outstanding: i64,
}

/// Every account named, so the (tenant, account, currency, at) index reads only the
/// period's entries, not the shop's whole ledger (a test checks the list is whole).
const ACCOUNT_SUMS: &str =
    "SELECT account, CAST(SUM(amount) AS BIGINT) FROM ledger_entries
     WHERE tenant_id = $1 AND account IN ('member', 'earned', 'bonus', 'opening', 'adjustment', 'redeemed', 'expired')
       AND currency = $2 AND at >= $3 AND at < $4 GROUP BY account";

/// Sum of entries per system account in [from, to).
async fn account_sums(
    db: &Db,
    tenant_id: i64,
    currency: Currency,
    from: i64,
    to: i64,
) -> sqlx::Result<Vec<(String, i64)>> {
    let rows: Vec<(String, Option<i64>)> = on_db!(db, pool => sqlx::query_as(
        ACCOUNT_SUMS)
        .bind(tenant_id).bind(currency.as_str()).bind(from).bind(to).fetch_all(pool).await)?;
    Ok(rows.into_iter().map(|(a, s)| (a, s.unwrap_or(0))).collect())
}

pub async fn liability(
    db: &Db,
    tenant_id: i64,
    currency: Currency,
    from: i64,
    to: i64,
) -> sqlx::Result<Liability> {
    let mut periods = liability_by_period(db, tenant_id, currency, &[from, to]).await?;
    Ok(periods.pop().expect("one period between two bounds"))
}

/// [`Liability`] for each period between consecutive `bounds` (ascending): the first
/// period's opening is summed once, and each later period opens where the one before
/// it closed, so the periods chain exactly.
pub async fn liability_by_period(
    db: &Db,
    tenant_id: i64,
    currency: Currency,
    bounds: &[i64],
) -> sqlx::Result<Vec<Liability>> {
    let sum = |rows: &[(String, i64)], accounts: &[&str]| -> i64 {
        rows.iter()
            .filter(|(a, _)| accounts.contains(&a.as_str()))
            .map(|r| r.1)
            .sum()
    };
    let Some(&first) = bounds.first() else {
        return Ok(vec![]);
    };
    let before = account_sums(db, tenant_id, currency, i64::MIN, first).await?;
    let mut opening = sum(&before, &["member"]);
    let mut periods = Vec::with_capacity(bounds.len().saturating_sub(1));
    for pair in bounds.windows(2) {
        let during = account_sums(db, tenant_id, currency, pair[0], pair[1]).await?;
        let outstanding = opening + sum(&during, &["member"]);
        periods.push(Liability {
            currency,
            opening,
            issued: -sum(&during, ISSUING_ACCOUNTS),
            redeemed: sum(&during, &["redeemed"]),
            expired: sum(&during, &["expired"]),
            outstanding,
        });
        opening = outstanding;
    }
    Ok(periods)
}

/// A period's points movements recorded at one branch (`None`: movements that name no
/// branch: bonuses, adjustments, expiry, and purchases recorded without one).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct BranchMovements {
    pub branch_id: Option<i64>,
    pub issued: i64,
    pub redeemed: i64,
    pub expired: i64,
}

/// The period's issued, redeemed and expired points per branch of the movement: summed
/// over the branches, they are the period's [`Liability`] figures.
pub async fn movements_by_branch(
    db: &Db,
    tenant_id: i64,
    currency: Currency,
    from: i64,
    to: i64,
) -> sqlx::Result<Vec<BranchMovements>> {
    let rows: Vec<(Option<i64>, String, Option<i64>)> = on_db!(db, pool => sqlx::query_as(
        "SELECT t.branch_id, e.account, CAST(SUM(e.amount) AS BIGINT) FROM ledger_entries e
         JOIN ledger_txns t ON t.tenant_id = e.tenant_id AND t.id = e.txn_id
         WHERE e.tenant_id = $1 AND e.account IN ('earned', 'bonus', 'opening', 'adjustment', 'redeemed', 'expired')
           AND e.currency = $2 AND e.at >= $3 AND e.at < $4
         GROUP BY t.branch_id, e.account")
        .bind(tenant_id).bind(currency.as_str()).bind(from).bind(to).fetch_all(pool).await)?;
    let mut out: Vec<BranchMovements> = vec![];
    for (branch_id, account, sum) in rows {
        let sum = sum.unwrap_or(0);
        let at = match out.iter().position(|b| b.branch_id == branch_id) {
            Some(i) => i,
            None => {
                out.push(BranchMovements {
                    branch_id,
                    issued: 0,
                    redeemed: 0,
                    expired: 0,
                });
                out.len() - 1
            }
        };
        let b = &mut out[at];
        match account.as_str() {
            "redeemed" => b.redeemed += sum,
            "expired" => b.expired += sum,
            _ => b.issued -= sum,
        }
    }
    // Branches in id order, then what names no branch.
    out.sort_by_key(|b| (b.branch_id.is_none(), b.branch_id));
    Ok(out)
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct TxnRef {
    pub id: i64,
    pub member_id: i64,
    pub kind: String,
    pub currency: String,
}

pub async fn get_txn(db: &Db, tenant_id: i64, id: i64) -> sqlx::Result<Option<TxnRef>> {
    on_db!(db, pool => sqlx::query_as("SELECT id, member_id, kind, currency FROM ledger_txns WHERE tenant_id = $1 AND id = $2")
        .bind(tenant_id).bind(id).fetch_optional(pool).await)
}

/// A transaction found by its idempotency key, with what a replay needs.
#[derive(Clone, Debug)]
pub struct KeyedTxn {
    pub id: i64,
    pub member_id: i64,
    pub currency: String,
    pub amount: i64,
    pub request_hash: String,
    pub details: String,
}

pub async fn txn_by_key_full(
    tx: &mut Tx,
    tenant_id: i64,
    key: &str,
) -> sqlx::Result<Option<KeyedTxn>> {
    let mut found = txns_by_keys(tx, &[(tenant_id, key)]).await?;
    Ok(found.remove(&(tenant_id, key.to_string())))
}

/// The transactions holding any of these (tenant, idempotency key) pairs, in one query.
pub async fn txns_by_keys(
    tx: &mut Tx,
    keys: &[(i64, &str)],
) -> sqlx::Result<HashMap<(i64, String), KeyedTxn>> {
    use crate::store::Val::{Int, Text};
    let rows: Vec<_> = keys.iter().map(|&(t, k)| vec![Int(t), Text(k)]).collect();
    type Row = (i64, String, i64, i64, String, i64, String, String);
    let found: Vec<Row> = crate::store::fetch_values(
        tx,
        "SELECT t.tenant_id, t.idem_key, t.id, t.member_id, t.currency, t.amount, t.request_hash, t.details FROM (",
        ") AS v JOIN ledger_txns t ON t.tenant_id = v.column1 AND t.idem_key = v.column2",
        &rows,
    )
    .await?;
    Ok(found
        .into_iter()
        .map(
            |(tenant, key, id, member_id, currency, amount, request_hash, details)| {
                let txn = KeyedTxn {
                    id,
                    member_id,
                    currency,
                    amount,
                    request_hash,
                    details,
                };
                ((tenant, key), txn)
            },
        )
        .collect())
}

/// Points each member earned from purchases that happened in their window [from, to):
/// windows are (tenant, member, from, to), one per member; the sums are keyed by
/// (tenant, member) and a member who earned nothing there is absent.
pub async fn earned_in_windows(
    tx: &mut Tx,
    windows: &[(i64, i64, i64, i64)],
) -> sqlx::Result<HashMap<(i64, i64), i64>> {
    crate::store::per_member_values(
        tx,
        "SELECT v.column1, v.column2, CAST(SUM(t.amount) AS BIGINT) FROM (",
        ") AS v JOIN ledger_txns t ON t.tenant_id = v.column1 AND t.member_id = v.column2
           AND t.id >= v.column5 AND t.kind = 'earn' AND t.currency = 'points'
           AND t.occurred_at >= v.column3 AND t.occurred_at < v.column4
         GROUP BY v.column1, v.column2",
        windows,
    )
    .await
}

/// Every movement of a member, oldest first (for a data export).
pub async fn full_history(
    db: &Db,
    tenant_id: i64,
    member_id: i64,
) -> sqlx::Result<Vec<HistoryLine>> {
    let mut all = vec![];
    let mut before = i64::MAX;
    loop {
        let mut page = history(db, tenant_id, member_id, before, 500).await?;
        let more = page.len() > 500;
        page.truncate(500);
        before = page.last().map(|l| l.id).unwrap_or(before);
        all.extend(page);
        if !more {
            all.reverse();
            return Ok(all);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::posting::Kind;

    #[test]
    fn the_liability_report_sums_every_account_a_movement_can_post_to() {
        let sql = ACCOUNT_SUMS;
        let kinds = [
            Kind::Earn,
            Kind::Bonus,
            Kind::Opening,
            Kind::AdjustCredit,
            Kind::AdjustDebit,
            Kind::Redeem,
            Kind::RedeemCancel,
            Kind::Expire,
            Kind::Reversal,
        ];
        for account in kinds.map(Kind::system_account).iter().chain(&["member"]) {
            assert!(
                sql.contains(&format!("'{account}'")),
                "{account} missing: {sql}"
            );
        }
    }
}
