//! Points that expire: what is due, and the expiry batch a run writes through the
//! ledger's one writer (one expiry movement per member and currency).

use std::collections::BTreeMap;

use super::plan_on_postgres;
use super::write::{AccountId, Balances, write};
use crate::ids;
use crate::ledger::model::{Currency, LedgerSettings};
use crate::ledger::plan::{Account, Facts, plan};
use crate::ledger::posting::{Kind, LedgerError, Posting, ShopRules};
use crate::money::Points;
use crate::store::{Db, Tx, fetch_values};
use crate::{on_db, on_tx};

/// How an expiry batch is planned on PostgreSQL, for its transaction only. The batch joins
/// thousands of keys to the lots and balances. With the stock random_page_cost (4, priced
/// for spinning disks) PostgreSQL hashed them against a scan of the whole lots table in
/// every transaction; priced for SSDs it looks each key up, twice as fast over a run
/// (docs/BENCHMARKS.md, "Measured design choices").
const EXPIRY_PLAN: &str = "SET LOCAL random_page_cost = 1.1";

#[derive(Clone, Debug, Default)]
pub struct Expired {
    pub tenant_id: i64,
    pub lots: u64,
    pub points: i64,
}

/// A member's account in one currency: (tenant, member, currency). An expiry run walks
/// them in this order.
pub type AccountKey = (i64, i64, String);

/// Below every account: where a walk starts.
const BEFORE_EVERY_ACCOUNT: AccountKey = (i64::MIN, i64::MIN, String::new());

/// Which accounts an expiry transaction takes.
#[derive(Clone, Copy, Debug)]
pub enum ExpiryOrder<'a> {
    /// The accounts of the soonest-due lots: found at once by the index on the date, for
    /// a run with few due lots.
    Soonest,
    /// The next accounts in key order after this one (from the first when `None`): a
    /// run over many due lots, each transaction on neighbouring pages.
    After(Option<&'a AccountKey>),
}

/// How many lots are due at `now`, counting no further than `cap` (the index on the
/// date answers it without reading the rest).
pub async fn count_due(db: &Db, now: i64, cap: u64) -> sqlx::Result<u64> {
    let (n,): (i64,) = on_db!(db, pool => sqlx::query_as(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM (SELECT 1 AS one FROM lots
           WHERE remaining > 0 AND expires_at IS NOT NULL AND expires_at <= $1 LIMIT $2) AS due")
        .bind(now).bind(i64::try_from(cap).unwrap_or(i64::MAX)).fetch_one(pool).await)?;
    Ok(n as u64)
}

/// What an expiry run at some moment would expire in one shop, read without writing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DueInShop {
    pub tenant_id: i64,
    /// `points` or `stamps`.
    pub currency: String,
    pub members: i64,
    pub lots: i64,
    pub amount: i64,
}

/// Per shop and currency, what is due at `at` (a dry run: nothing is written).
pub async fn due_by_shop(db: &Db, at: i64) -> sqlx::Result<Vec<DueInShop>> {
    let rows: Vec<(i64, String, i64, i64, Option<i64>)> = on_db!(db, pool => sqlx::query_as(
        "SELECT tenant_id, currency, CAST(COUNT(DISTINCT member_id) AS BIGINT), CAST(COUNT(*) AS BIGINT),
                CAST(SUM(remaining) AS BIGINT)
         FROM lots WHERE remaining > 0 AND expires_at IS NOT NULL AND expires_at <= $1
         GROUP BY tenant_id, currency ORDER BY tenant_id, currency")
        .bind(at).fetch_all(pool).await)?;
    Ok(rows
        .into_iter()
        .map(|(tenant_id, currency, members, lots, amount)| DueInShop {
            tenant_id,
            currency,
            members,
            lots,
            amount: amount.unwrap_or(0),
        })
        .collect())
}

/// What one expiry transaction did: per shop, whether it stopped at its lot cap, and
/// where the run goes on from.
#[derive(Clone, Debug, Default)]
pub struct ExpiryBatch {
    pub shops: Vec<Expired>,
    /// Expiry movements written: one per member and currency.
    pub movements: u64,
    /// More due lots of the members it took were left for the next batch.
    pub capped: bool,
    /// The next batch takes accounts after this one; `None` when no account after the
    /// cursor had due lots (the run is done).
    pub next: Option<AccountKey>,
}

/// Expire the due lots (past their date at `now`) of the accounts (member and currency)
/// owning the next `scan` due lots in `order`, across shops, set-based inside the
/// caller's transaction; at most `max_lots` of them (a member's oldest lots first), so a
/// member with more due lots than that is expired over several batches. A run over many
/// due lots takes the accounts in key order ([`ExpiryOrder::After`]), not by due date, so
/// its transactions each touch a range of members: their lots, balances and index
/// entries sit together, and a page is written by one transaction instead of by every
/// transaction of the run (on SQLite each commit writes every page it dirtied, so that
/// is what bounds a run).
/// Each member
/// (and currency) gets one expiry movement for the due lots the batch closes: a
/// transaction, two entries and the balance lowered, with one allocation per lot (as a
/// redemption records the lots it spent), so a member's history shows one line per batch
/// (per run, unless the member has more due lots than a batch may close), and each
/// expired lot writes two rows instead of six. A lot
/// is expired under its member's lock and only while it still has points, so a re-run,
/// or two runs at once, expire nothing twice; a lot that gets points back later (a
/// cancelled redemption) expires again at the next run.
pub async fn expire_due(
    tx: &mut Tx,
    now: i64,
    order: ExpiryOrder<'_>,
    scan: i64,
    max_lots: usize,
) -> Result<ExpiryBatch, LedgerError> {
    use crate::store::Val::{Int, Text};
    let after = match order {
        ExpiryOrder::After(after) => after,
        ExpiryOrder::Soonest => None,
    };
    let mut members: Vec<(i64, i64, String)> = match order {
        ExpiryOrder::Soonest => on_tx!(tx, c => sqlx::query_as(
            "SELECT DISTINCT tenant_id, member_id, currency FROM (
               SELECT tenant_id, member_id, currency FROM lots
               WHERE remaining > 0 AND expires_at IS NOT NULL AND expires_at <= $1 ORDER BY expires_at LIMIT $2) AS due")
            .bind(now).bind(scan).fetch_all(c).await)?,
        ExpiryOrder::After(after) => {
            let (t0, m0, c0) = after.cloned().unwrap_or(BEFORE_EVERY_ACCOUNT);
            on_tx!(tx, c => sqlx::query_as(
                "SELECT DISTINCT tenant_id, member_id, currency FROM (
                   SELECT tenant_id, member_id, currency FROM lots
                   WHERE remaining > 0 AND expires_at IS NOT NULL AND expires_at <= $1
                     AND (tenant_id, member_id, currency) > ($2, $3, $4)
                   ORDER BY tenant_id, member_id, currency LIMIT $5) AS due")
                .bind(now).bind(t0).bind(m0).bind(&c0).bind(scan).fetch_all(c).await)?
        }
    };
    if members.is_empty() {
        return Ok(ExpiryBatch::default());
    }
    // In key order, so two batches on PostgreSQL lock balances without deadlocking.
    members.sort_unstable();
    let keys: Vec<_> = members
        .iter()
        .map(|(t, m, c)| vec![Int(*t), Int(*m), Text(c)])
        .collect();
    plan_on_postgres(tx, EXPIRY_PLAN).await?;
    // On PostgreSQL, lock the members' balance rows before reading their lots: a
    // redemption may be spending from them. (SQLite's write transaction already shuts out
    // every other writer.) The balances are not read: an expiry lowers them by the lots
    // it closes ([`Balances::Moved`]).
    if tx.backend() == crate::store::Backend::Postgres {
        let _: Vec<(i64,)> = fetch_values(
            tx,
            "SELECT b.tenant_id FROM balances b JOIN (",
            ") AS v ON b.tenant_id = v.column1 AND b.member_id = v.column2 AND b.currency = v.column3
             ORDER BY b.tenant_id, b.member_id, b.currency FOR UPDATE OF b",
            &keys,
        )
        .await?;
    }
    let mut open: Vec<(i64, i64, String, i64, i64)> = fetch_values(
        tx,
        "SELECT l.tenant_id, l.member_id, l.currency, l.id, l.remaining FROM lots l JOIN (",
        &format!(
            ") AS v ON l.tenant_id = v.column1 AND l.member_id = v.column2 AND l.currency = v.column3
             WHERE l.remaining > 0 AND l.expires_at IS NOT NULL AND l.expires_at <= {now}"
        ),
        &keys,
    )
    .await?;
    // Grouped by member, lots in id order within each; the rest past the cap wait.
    open.sort_unstable();
    let capped = open.len() > max_lots.max(1);
    // The run goes on after the last account this batch finishes: the last one taken,
    // or, when the cap cut an account's lots short, the one before it (so it is taken
    // again, for the rest).
    let account = |l: &(i64, i64, String, i64, i64)| (l.0, l.1, l.2.clone());
    let next = if capped {
        let cut = account(&open[max_lots.max(1)]);
        members
            .iter()
            .rev()
            .find(|m| **m < cut)
            .cloned()
            .or_else(|| after.cloned())
            .unwrap_or(BEFORE_EVERY_ACCOUNT)
    } else {
        members.last().cloned().expect("members is not empty")
    };
    open.truncate(max_lots.max(1));
    // Each account's due lots (lot, points left), in account order.
    let mut due: Vec<(AccountId, Vec<(i64, i64)>)> = vec![];
    let mut per_shop: BTreeMap<i64, Expired> = BTreeMap::new();
    for (tenant, member, currency, lot, remaining) in &open {
        let id = (*tenant, *member, Currency::from_db(currency));
        match due.last_mut() {
            Some((last, lots)) if *last == id => lots.push((*lot, *remaining)),
            _ => due.push((id, vec![(*lot, *remaining)])),
        }
        let shop = per_shop.entry(*tenant).or_insert(Expired {
            tenant_id: *tenant,
            ..Default::default()
        });
        shop.lots += 1;
        shop.points += remaining;
    }
    // One expiry movement per account, keyed by its transaction id alone: ids grow, so
    // the keys of a batch go to the end of the key index (a few pages) instead of one
    // page per member.
    let settings = LedgerSettings::default();
    let rules = ShopRules {
        settings: &settings,
        time_zone: &jiff::tz::TimeZone::UTC,
    };
    let mut postings = Vec::with_capacity(due.len());
    let mut plans = Vec::with_capacity(due.len());
    for ((tenant, member, currency), lots) in &due {
        let txn = ids::next_id();
        let key = format!("expire:{txn}");
        let posting = Posting {
            currency: *currency,
            amount: Points::new(lots.iter().map(|l| l.1).sum()),
            idem_key: key.clone(),
            request_hash: key,
            reason: Some("expired".into()),
            occurred_at: now,
            ..Posting::blank(*tenant, *member, Kind::Expire)
        };
        // The plan does not depend on the account: it closes the due lots.
        let planned = plan(
            Account::default(),
            &posting,
            Facts::Expiry { due: lots },
            rules,
            now,
            txn,
            &mut ids::next_id,
        )?;
        postings.push(posting);
        plans.push(planned);
    }
    let written: Vec<_> = postings.iter().zip(&plans).collect();
    write(tx, &written, Balances::Moved).await?;
    Ok(ExpiryBatch {
        shops: per_shop.into_values().collect(),
        movements: plans.len() as u64,
        capped,
        next: Some(next),
    })
}
