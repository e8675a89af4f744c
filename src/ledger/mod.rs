//! The points ledger: an immutable double-entry record of every change to a member's
//! points or stamps, with lots that expire and debits that consume the soonest-expiring
//! lots first.
//!
//! Its public face is this module: callers post through [`post`], [`post_one`] or
//! [`post_credits`] and read through the functions re-exported here; its storage
//! ([`store`]) is private to it. Every posting is planned by the one pure planner
//! ([`plan::plan`]) and written by the one writer.
//!
//! Must never happen: a balance change that does not go through the planner; a
//! transaction whose entries do not sum to zero; a debit that takes a balance below zero
//! (only a refund may, under the `allow_negative` policy); the same idempotency key or
//! receipt granting points twice; a float anywhere near an amount.

pub mod api;
pub mod model;
pub mod plan;
pub mod posting;
mod store;

use crate::audit::RequestMeta;
use crate::audit::{self, ActorRef, Change};
use crate::error::{ApiError, Code};
use crate::store::Db;

pub use model::LedgerSettings;
pub use posting::{ISSUING_ACCOUNTS, Kind, LedgerError, Posted, Posting, ShopRules};
pub use store::expiry::{DueInShop, due_by_shop};
pub use store::members::{lock_members, merge_members, scrub_free_text};
pub use store::read::{
    BalanceSummary, BranchMovements, HISTORY, HistoryLine, KeyedTxn, Liability, PurchaseRecord,
    TxnRef, balance_summary, earned_in_windows, find_purchase, full_history, get_txn, history,
    liability, liability_by_period, movements_by_branch, purchase_key, txn_by_key_full,
    txns_by_keys,
};
pub use store::verify::{Drift, verify};
pub use store::write::{
    AccountId, Credit, RefundsSoFar, lock_balances, lock_member, post, post_credits,
    post_credits_to_new_members, refund_state_locked,
};
pub use store::{ShopForEarning, save_settings, settings, shop_for_earning};

impl From<LedgerError> for ApiError {
    fn from(e: LedgerError) -> Self {
        match e {
            LedgerError::InsufficientPoints { available } => ApiError::field(
                Code::InsufficientPoints,
                "points",
                format!("not enough points: {available} available"),
            ),
            LedgerError::KeyReused => ApiError::new(Code::IdempotencyKeyReused, e.to_string()),
            LedgerError::NothingToUndo(why) => ApiError::new(Code::NothingToUndo, why),
            LedgerError::PointsLimit => ApiError::field(
                Code::PointsLimit,
                "points",
                "a member's balance holds at most 100 billion points (and owes at most as many); this would pass it",
            ),
            LedgerError::ExpiryIsARun | LedgerError::FactsDoNotFit(_) => ApiError::internal(e),
            LedgerError::Shop(e) => ApiError::from(e),
            LedgerError::Db(e) => ApiError::from(e),
        }
    }
}

/// Post one movement in its own transaction, with its audit entry.
pub async fn post_one(
    db: &Db,
    posting: &Posting,
    actor: ActorRef<'_>,
    meta: &RequestMeta,
    action: &str,
) -> Result<Posted, LedgerError> {
    let settings = settings(db, posting.tenant_id).await?;
    let tz = crate::tenants::time_zone(db, posting.tenant_id).await?;
    let mut tx = db.begin().await?;
    let rules = ShopRules {
        settings: &settings,
        time_zone: &tz,
    };
    let posted = post(&mut tx, posting, rules).await?;
    if !posted.replayed {
        // The reason (free text that may name a person) lives in the ledger row only, so
        // erasing a member can remove it from one place.
        let details = serde_json::json!({"member_id": posting.member_id, "currency": posting.currency.as_str(), "points": posted.points, "receipt": posting.receipt});
        audit::record_as(
            &mut tx,
            posting.tenant_id,
            actor,
            meta,
            Change::new(action, "ledger_txn", posted.txn_id).details(details),
        )
        .await?;
        tx.commit().await?;
    }
    Ok(posted)
}

/// Post many movements of one shop in one transaction, each with its audit entry: all
/// of them or none. A posting refused (an overdraw, a key used for something else)
/// fails the whole call and names its place in `postings`. Keys already used by the same
/// request replay, so a retry posts nothing twice.
pub async fn post_all(
    db: &Db,
    tenant_id: i64,
    postings: &[Posting],
    actor: ActorRef<'_>,
    meta: &RequestMeta,
    action: &str,
) -> Result<Vec<Posted>, (Option<usize>, LedgerError)> {
    let whole = |e: LedgerError| (None, e);
    let settings = settings(db, tenant_id).await.map_err(|e| whole(e.into()))?;
    let tz = crate::tenants::time_zone(db, tenant_id)
        .await
        .map_err(|e| whole(e.into()))?;
    let rules = ShopRules {
        settings: &settings,
        time_zone: &tz,
    };
    let mut tx = db.begin().await.map_err(|e| whole(e.into()))?;
    let mut posted = Vec::with_capacity(postings.len());
    for (i, posting) in postings.iter().enumerate() {
        debug_assert_eq!(posting.tenant_id, tenant_id);
        let done = post(&mut tx, posting, rules)
            .await
            .map_err(|e| (Some(i), e))?;
        if !done.replayed {
            let details = serde_json::json!({"member_id": posting.member_id, "currency": posting.currency.as_str(), "points": done.points});
            audit::record_as(
                &mut tx,
                tenant_id,
                actor,
                meta,
                Change::new(action, "ledger_txn", done.txn_id).details(details),
            )
            .await
            .map_err(|e| whole(e.into()))?;
        }
        posted.push(done);
    }
    tx.commit().await.map_err(|e| whole(e.into()))?;
    Ok(posted)
}

/// How big one expiry transaction may grow. A bigger one expires more lots per second
/// (one commit and one write of each page for more lots) but holds the write lock longer,
/// and on SQLite every purchase waits for it: at 10M members the first transactions of a
/// run (2,000 heavy buyers, 60,000 lots) held it ~1.6 s (measured 2026-11-26). So a run
/// adapts its batch to a time ([`crate::store::BatchSizer`]), and caps the lots of one
/// batch for the member who alone has more than that.
#[derive(Clone, Copy, Debug)]
pub struct ExpiryLimits {
    /// How many due lots a transaction takes the accounts of (the next accounts in key
    /// order, with all their due lots): halved after a transaction longer than its target
    /// (or one stopped at `max_lots`), doubled after one under half of it.
    pub scan: crate::store::BatchSizer,
    /// Most lots one transaction closes.
    pub max_lots: usize,
    /// From how many due lots a run walks the accounts in key order (each page is then
    /// rewritten by one transaction, but the walk reads every lot once). With fewer it
    /// takes the accounts of the soonest-due lots, which the index on the date finds at
    /// once: the server's run every minute usually finds a few or none.
    pub walk_from: u64,
}

/// What `loyal expire` and the server's housekeeping use: a purchase waits about half a
/// second at most behind an expiry transaction.
pub const EXPIRY_LIMITS: ExpiryLimits = expiry_limits(crate::store::BULK_TRANSACTION_MS);

/// Expiry transactions sized to `target_ms` each instead of half a second, with room for
/// as many more lots (`loyal expire --transaction-ms`, for a run no purchase waits on).
pub const fn expiry_limits(target_ms: u64) -> ExpiryLimits {
    // Small to start: the first accounts taken may be heavy buyers with many due lots each.
    let scan = crate::store::BatchSizer::for_time(250, 20_000, 2_000_000, target_ms);
    ExpiryLimits {
        scan,
        max_lots: scan.max(),
        walk_from: 20_000,
    }
}

/// What an expiry run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExpiryRun {
    pub lots: u64,
    pub points: i64,
    /// Expiry movements written (one per member and currency per batch).
    pub movements: u64,
    /// Database transactions committed.
    pub batches: u64,
    /// The longest of them, from begin to commit: how long a purchase could wait on it.
    pub longest: std::time::Duration,
    /// Tables PostgreSQL was asked to analyze afterwards (none on SQLite).
    pub analyzed: Vec<&'static str>,
}

impl ExpiryRun {
    /// (lots expired, points expired).
    pub fn totals(&self) -> (u64, i64) {
        (self.lots, self.points)
    }
}

/// Expire every lot past its date, across tenants, in batches of members
/// ([`EXPIRY_LIMITS`], [`store::expiry::expire_due`]): one expiry movement per member per run
/// (one per batch for a member with more due lots than one batch may close), each batch audited
/// once per shop. Safe to re-run, or to run twice at once: nothing expires twice.
pub async fn run_expiry(db: &Db, now: i64) -> Result<ExpiryRun, LedgerError> {
    run_expiry_with(db, now, EXPIRY_LIMITS).await
}

/// [`run_expiry`] with other batch limits (tests use tiny ones).
pub async fn run_expiry_with(
    db: &Db,
    now: i64,
    limits: ExpiryLimits,
) -> Result<ExpiryRun, LedgerError> {
    let mut run = ExpiryRun::default();
    // Counted to 1 at least: whether anything is due at all.
    let due = store::expiry::count_due(db, now, limits.walk_from.max(1)).await?;
    if due == 0 {
        // The server's run every minute, mostly: no connection or checkpointer of its
        // own, no write lock taken.
        return Ok(run);
    }
    let walk = due >= limits.walk_from;
    let job = db.for_bulk_job();
    let db = &job.db;
    let meta = RequestMeta {
        request_id: format!("expiry-{now}"),
        ip: "local".into(),
    };
    let actor = ActorRef {
        kind: "system",
        id: None,
        label: "expiry",
    };
    let mut scan = limits.scan;
    let mut deadlocks = 0;
    let mut after: Option<store::expiry::AccountKey> = None;
    loop {
        let started = std::time::Instant::now();
        let mut tx = db.begin().await?;
        let order = if walk {
            store::expiry::ExpiryOrder::After(after.as_ref())
        } else {
            store::expiry::ExpiryOrder::Soonest
        };
        let batch = match store::expiry::expire_due(
            &mut tx,
            now,
            order,
            scan.size() as i64,
            limits.max_lots,
        )
        .await
        {
            Ok(batch) => batch,
            // A purchase group locked the same members in another order; it went through,
            // so this batch is tried again.
            Err(LedgerError::Db(e)) if crate::store::is_deadlock(&e) && deadlocks < 10 => {
                deadlocks += 1;
                continue;
            }
            Err(e) => return Err(e),
        };
        let Some(next) = batch.next else {
            run.analyzed = analyze_changed_tables(db, &run).await;
            return Ok(run);
        };
        after = Some(next);
        run.movements += batch.movements;
        let (mut lots, mut points) = (0, 0);
        for shop in &batch.shops {
            let change = Change::new("points.expired", "lots", None)
                .details(serde_json::json!({"lots": shop.lots, "points": shop.points}));
            audit::record_as(&mut tx, shop.tenant_id, actor, &meta, change).await?;
            lots += shop.lots;
            points += shop.points;
        }
        tx.commit().await?;
        let took = started.elapsed();
        run.lots += lots;
        run.points += points;
        run.batches += 1;
        run.longest = run.longest.max(took);
        // Counted per committed batch, so a long run's progress shows as it goes.
        metrics::counter!("loyal_expiry_lots_total").increment(lots);
        metrics::counter!("loyal_expiry_points_total").increment(points.max(0) as u64);
        crate::store::record_bulk_transaction("expiry", took);
        scan.adapt(took, batch.capped);
    }
}

/// As after an import: a run that closed many lots leaves PostgreSQL planning from the
/// old spread of `remaining` (most lots open) until autovacuum analyzes, which may be a
/// minute later or, where it is off, never. The tables past autovacuum's own threshold
/// are analyzed now.
async fn analyze_changed_tables(db: &Db, run: &ExpiryRun) -> Vec<&'static str> {
    if run.lots == 0 {
        return vec![];
    }
    let written = [
        ("lots", run.lots),
        ("allocations", run.lots),
        ("ledger_txns", run.movements),
        ("ledger_entries", 2 * run.movements),
        ("balances", run.movements),
    ];
    db.refresh_statistics_after("expiry", &written).await
}

/// A member's balances and 20 most recent movements (for the 360 view).
pub async fn member_view(
    db: &Db,
    tenant_id: i64,
    member_id: i64,
) -> sqlx::Result<(BalanceSummary, BalanceSummary, Vec<HistoryLine>)> {
    let points = balance_summary(db, tenant_id, member_id, model::Currency::Points).await?;
    let stamps = balance_summary(db, tenant_id, member_id, model::Currency::Stamps).await?;
    let mut recent = history(db, tenant_id, member_id, i64::MAX, 20).await?;
    recent.truncate(20);
    Ok((points, stamps, recent))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longer_expiry_transactions_may_close_more_lots() {
        // Transactions that each take 1 ms: the sizer doubles up to its most lots.
        let grown = |limits: ExpiryLimits| {
            let mut scan = limits.scan;
            for _ in 0..40 {
                scan.adapt(std::time::Duration::from_millis(1), false);
            }
            (scan.size(), limits.max_lots)
        };
        // The default is what it was before the option.
        assert_eq!(
            EXPIRY_LIMITS.scan,
            crate::store::BatchSizer::new(250, 20_000, std::time::Duration::from_millis(500))
        );
        assert_eq!(EXPIRY_LIMITS.walk_from, 20_000);
        assert_eq!(grown(EXPIRY_LIMITS), (20_000, 20_000));
        assert_eq!(grown(expiry_limits(5_000)), (200_000, 200_000));
        assert_eq!(grown(expiry_limits(600_000)), (2_000_000, 2_000_000));
        assert_eq!(grown(expiry_limits(50)), (20_000, 20_000));
    }
}
