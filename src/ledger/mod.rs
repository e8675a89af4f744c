//! The points ledger: an immutable double-entry record of every change to a member's
//! points or stamps, with lots that expire and debits that consume the soonest-expiring
//! lots first.
//!
//! Must never happen: a balance change that does not go through [`store::post`]; a
//! transaction whose entries do not sum to zero; a debit that takes a balance below zero
//! (only a refund may, under the `allow_negative` policy); the same idempotency key or
//! receipt granting points twice; a float anywhere near an amount.

pub mod api;
pub mod claims;
pub mod earn;
pub mod model;
pub mod pages;
pub mod purchase;
pub mod store;
pub mod writer;

use std::collections::{BTreeMap, HashMap};

use crate::audit::{self, ActorRef, Change};
use crate::error::{ApiError, Code};
use crate::http::context::RequestMeta;
use crate::rules::model::Applied;
use crate::store::Db;
pub use purchase::{NewPurchase, PurchaseError, PurchaseInput};
pub use store::{Kind, LedgerError, Posted, Posting};

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
            LedgerError::Db(e) => ApiError::from(e),
        }
    }
}

/// The tenant's time zone (expiry dates are whole days there).
pub async fn tenant_time_zone(db: &Db, tenant_id: i64) -> Result<jiff::tz::TimeZone, ApiError> {
    let tenant = crate::tenants::store::get_tenant(db, tenant_id)
        .await?
        .ok_or_else(|| ApiError::not_found("shop"))?;
    jiff::tz::TimeZone::get(&tenant.time_zone).map_err(ApiError::internal)
}

/// Post one movement in its own transaction, with its audit entry.
pub async fn post_one(
    db: &Db,
    posting: &Posting,
    actor: ActorRef<'_>,
    meta: &RequestMeta,
    action: &str,
) -> Result<Posted, ApiError> {
    let settings = store::settings(db, posting.tenant_id).await?;
    let tz = tenant_time_zone(db, posting.tenant_id).await?;
    let mut tx = db.begin().await?;
    let posted = store::post(&mut tx, posting, &settings, &tz).await?;
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
/// ([`EXPIRY_LIMITS`], [`store::expire_due`]): one expiry movement per member per run
/// (one per batch for a member with more due lots than one batch may close), each batch audited
/// once per shop. Safe to re-run, or to run twice at once: nothing expires twice.
pub async fn run_expiry(db: &Db, now: i64) -> Result<ExpiryRun, ApiError> {
    run_expiry_with(db, now, EXPIRY_LIMITS).await
}

/// [`run_expiry`] with other batch limits (tests use tiny ones).
pub async fn run_expiry_with(
    db: &Db,
    now: i64,
    limits: ExpiryLimits,
) -> Result<ExpiryRun, ApiError> {
    let mut run = ExpiryRun::default();
    // Counted to 1 at least: whether anything is due at all.
    let due = store::count_due(db, now, limits.walk_from.max(1)).await?;
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
    let mut after: Option<store::AccountKey> = None;
    loop {
        let started = std::time::Instant::now();
        let mut tx = db.begin().await?;
        let order = if walk {
            store::ExpiryOrder::After(after.as_ref())
        } else {
            store::ExpiryOrder::Soonest
        };
        let batch =
            match store::expire_due(&mut tx, now, order, scan.size() as i64, limits.max_lots).await
            {
                Ok(batch) => batch,
                // A purchase group locked the same members in another order; it went through,
                // so this batch is tried again.
                Err(e) if crate::store::is_deadlock(&e) && deadlocks < 10 => {
                    deadlocks += 1;
                    continue;
                }
                Err(e) => return Err(e.into()),
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

/// What a purchase earned, and why.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct PurchaseOutcome {
    /// The ledger transaction (absent for a dry run).
    pub purchase_id: Option<i64>,
    pub points: i64,
    pub stamps: i64,
    /// Every rule that contributed, in order; their points add up to `points`.
    pub rules: Vec<Applied>,
    /// The member's points balance afterwards (absent for a dry run).
    pub balance: Option<i64>,
    /// The tier upgrade this purchase caused, if any.
    pub tier_change: Option<crate::tiers::TierChange>,
    pub replayed: bool,
    pub dry_run: bool,
}

/// What recording a purchase needs to know about the shop: its ledger settings, earning
/// rules, tier program and time zone. Loaded once per purchase, or once per shop for a
/// whole group of purchases in the group-committing writer.
pub struct EarnContext {
    pub settings: store::LedgerSettings,
    pub rules: crate::rules::model::EarningRules,
    pub tiers: crate::tiers::model::TierProgram,
    pub tz: jiff::tz::TimeZone,
}

impl EarnContext {
    /// Read in one query (the writer does it per shop for every group it commits).
    pub async fn load(db: &Db, tenant_id: i64) -> Result<EarnContext, ApiError> {
        let shop = store::shop_for_earning(db, tenant_id, crate::tiers::store::PROGRAM_DOC)
            .await?
            .ok_or_else(|| ApiError::not_found("shop"))?;
        Ok(EarnContext {
            settings: shop.settings,
            rules: crate::rules::store::parse(shop.rules.as_deref()),
            tiers: crate::store::docs::parse(shop.tier_program.as_deref())
                .map_err(ApiError::internal)?,
            tz: jiff::tz::TimeZone::get(&shop.time_zone).map_err(ApiError::internal)?,
        })
    }
}

/// Check what each purchase names in its shop's records, for a whole set with one query
/// per shop for the members and one for the branches, so the writer checks a group
/// together instead of each request reading its own: the member must exist (an alias, a
/// profile merged into another, becomes its survivor, which the purchase is recorded on)
/// and a branch, if named, must exist and be active. Errors name `member_id` or
/// `branch_id`.
pub async fn check_members_and_branches(
    db: &Db,
    inputs: &mut [&mut PurchaseInput],
) -> Result<Vec<Result<(), ApiError>>, ApiError> {
    let mut members: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    let mut branches: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for p in inputs.iter() {
        members.entry(p.tenant_id).or_default().push(p.member_id);
        if let Some(b) = p.branch_id {
            branches.entry(p.tenant_id).or_default().push(b);
        }
    }
    let survivors: HashMap<(i64, i64), Option<i64>> =
        children_by_shop(db, "members", "merged_into", members).await?;
    let active: HashMap<(i64, i64), bool> =
        children_by_shop(db, "branches", "active", branches).await?;
    Ok(inputs
        .iter_mut()
        .map(|p| {
            let Some(&into) = survivors.get(&(p.tenant_id, p.member_id)) else {
                return Err(ApiError::invalid(
                    "member_id",
                    format!("member {} does not exist", p.member_id),
                ));
            };
            if let Some(b) = p.branch_id {
                match active.get(&(p.tenant_id, b)) {
                    Some(true) => {}
                    Some(false) => {
                        return Err(ApiError::invalid(
                            "branch_id",
                            format!("branch {b} is inactive"),
                        ));
                    }
                    None => {
                        return Err(ApiError::invalid(
                            "branch_id",
                            format!("branch {b} does not exist"),
                        ));
                    }
                }
            }
            p.member_id = into.unwrap_or(p.member_id);
            Ok(())
        })
        .collect())
}

/// One column of the rows of `table` with these ids, shop by shop, keyed (shop, id).
async fn children_by_shop<T>(
    db: &Db,
    table: &str,
    column: &str,
    ids: BTreeMap<i64, Vec<i64>>,
) -> sqlx::Result<HashMap<(i64, i64), T>>
where
    T: Send
        + Unpin
        + for<'r> sqlx::Decode<'r, sqlx::Sqlite>
        + sqlx::Type<sqlx::Sqlite>
        + for<'r> sqlx::Decode<'r, sqlx::Postgres>
        + sqlx::Type<sqlx::Postgres>,
{
    let mut found = HashMap::new();
    for (tenant, mut ids) in ids {
        ids.sort_unstable();
        ids.dedup();
        let rows: Vec<(i64, T)> =
            crate::store::children(db, table, "id", column, tenant, &ids).await?;
        found.extend(rows.into_iter().map(|(id, v)| ((tenant, id), v)));
    }
    Ok(found)
}

/// Record a purchase in its own transaction. Most callers go through
/// [`writer::LedgerWriter`], which commits purchases in groups; this is the path for a dry
/// run, for the demo data and for a purchase the writer retries on its own.
pub async fn record_purchase(
    db: &Db,
    mut p: PurchaseInput,
    actor: ActorRef<'_>,
    meta: &RequestMeta,
) -> Result<PurchaseOutcome, ApiError> {
    check_members_and_branches(db, &mut [&mut p])
        .await?
        .pop()
        .expect("one answer per purchase")?;
    let ctx = EarnContext::load(db, p.tenant_id).await?;
    record_purchase_with(db, &ctx, &p, actor, meta).await
}

/// [`record_purchase`] with the shop's context loaded and the member and branch checked.
pub async fn record_purchase_with(
    db: &Db,
    ctx: &EarnContext,
    p: &PurchaseInput,
    actor: ActorRef<'_>,
    meta: &RequestMeta,
) -> Result<PurchaseOutcome, ApiError> {
    let mut tx = db.begin().await?;
    let outcome = purchase_in(&mut tx, ctx, p, actor, meta).await?;
    // A dry run or a replay wrote nothing worth keeping: dropping the transaction rolls back.
    if !outcome.dry_run && !outcome.replayed {
        tx.commit().await?;
    }
    Ok(outcome)
}

/// Record a purchase inside the caller's transaction: evaluate the rules under the
/// member's lock (so a daily cap holds under concurrent bills), credit points and stamps,
/// upgrade the tier, audit it. The caller commits; nothing here is visible before that.
/// A group of one for [`earn::purchases_in`].
pub async fn purchase_in(
    tx: &mut crate::store::Tx,
    ctx: &EarnContext,
    p: &PurchaseInput,
    actor: ActorRef<'_>,
    meta: &RequestMeta,
) -> Result<PurchaseOutcome, ApiError> {
    let purchase = earn::Purchase {
        input: p,
        ctx,
        actor,
        meta,
    };
    earn::purchases_in(tx, &[purchase])
        .await?
        .pop()
        .expect("one answer per purchase")
}

/// A refund to record (already validated by the caller).
pub struct RefundInput {
    pub tenant_id: i64,
    pub receipt: String,
    /// The POS's refund id: a retry with it changes nothing.
    pub refund_id: String,
    /// Satang refunded; None = everything not yet refunded.
    pub amount_satang: Option<i64>,
}

#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct RefundResult {
    pub reversal_id: i64,
    /// Points taken back (negative).
    pub points: i64,
    /// Stamps taken back (negative).
    pub stamps: i64,
    /// Points the policy could not take back.
    pub uncollected: i64,
    pub balance: i64,
    pub replayed: bool,
}

/// Refund a purchase in full or in part: points and stamps are reversed in proportion
/// to the refunded share, computed under the member's lock so two refunds of one
/// purchase at once cannot both reverse the same share.
pub async fn refund_purchase(
    db: &Db,
    r: &RefundInput,
    actor: ActorRef<'_>,
    meta: &RequestMeta,
) -> Result<RefundResult, ApiError> {
    let tenant = r.tenant_id;
    let purchase = store::find_purchase(db, tenant, &r.receipt)
        .await?
        .ok_or_else(|| {
            ApiError::field(Code::NotFound, "receipt", "no purchase has this receipt")
        })?;
    let settings = store::settings(db, tenant).await?;
    let tz = tenant_time_zone(db, tenant).await?;
    let mut tx = db.begin().await?;
    let (refunded, reversed) =
        store::refund_state_locked(&mut tx, tenant, purchase.member_id, purchase.id).await?;
    let bill = purchase.bill_satang.unwrap_or(0);
    let key = format!("refund:{}:{}", r.receipt, r.refund_id);
    let prior = store::txn_by_key_full(&mut tx, tenant, &key).await?;
    let amount = match (prior.is_some(), r.amount_satang) {
        // A retry: let the ledger answer with the first result.
        (true, a) => a.unwrap_or(0),
        (false, _) if refunded >= bill => {
            return Err(ApiError::new(
                Code::NothingToUndo,
                "this purchase is already fully refunded",
            ));
        }
        (false, Some(a)) if a > bill - refunded => {
            return Err(ApiError::invalid(
                "amount_satang",
                format!("at most {} satang remain to refund", bill - refunded),
            ));
        }
        (false, a) => a.unwrap_or(bill - refunded),
    };
    let posting = Posting {
        amount: model::refund_points(purchase.amount, bill, refunded, amount, reversed),
        idem_key: key,
        request_hash: format!("{:?}", r.amount_satang),
        receipt: Some(r.receipt.clone()),
        branch_id: purchase.branch_id,
        bill_satang: Some(amount),
        reverses_id: Some(purchase.id),
        reason: Some(format!("refund {}", r.refund_id)),
        actor_kind: actor.kind.to_string(),
        actor_id: actor.id,
        details: serde_json::json!({"refund_id": r.refund_id}),
        ..Posting::blank(tenant, purchase.member_id, Kind::Reversal)
    };
    let posted = store::post(&mut tx, &posting, &settings, &tz).await?;
    // Stamps earned on the bill are taken back in the same proportion.
    let mut stamps = 0;
    if let Some(stamp_txn) = store::txn_by_key_full(
        &mut tx,
        tenant,
        &format!("{}:stamps", store::purchase_key(&r.receipt)),
    )
    .await?
    {
        let (_, stamps_before) =
            store::refund_state_locked(&mut tx, tenant, purchase.member_id, stamp_txn.id).await?;
        let reversal = Posting {
            currency: model::Currency::Stamps,
            amount: model::refund_points(stamp_txn.amount, bill, refunded, amount, stamps_before),
            idem_key: format!("{}:stamps", posting.idem_key),
            reverses_id: Some(stamp_txn.id),
            ..posting.clone()
        };
        stamps = store::post(&mut tx, &reversal, &settings, &tz)
            .await?
            .points;
    }
    if !posted.replayed {
        let details = serde_json::json!({"receipt": posting.receipt, "refund_satang": amount, "points": posted.points, "stamps": stamps, "uncollected": posted.uncollected});
        audit::record_as(
            &mut tx,
            tenant,
            actor,
            meta,
            Change::new("points.reversed", "ledger_txn", posted.txn_id).details(details),
        )
        .await?;
        tx.commit().await?;
    }
    Ok(RefundResult {
        reversal_id: posted.txn_id,
        points: posted.points,
        stamps,
        uncollected: posted.uncollected,
        balance: posted.balance,
        replayed: posted.replayed,
    })
}

/// Grant the shop's welcome points to a new member, inside the enrolment transaction.
pub async fn grant_welcome(
    tx: &mut crate::store::Tx,
    db: &Db,
    tenant_id: i64,
    member_id: i64,
    occurred_at: i64,
) -> Result<Option<Posted>, ApiError> {
    let settings = store::settings(db, tenant_id).await?;
    if settings.welcome_points <= 0 {
        return Ok(None);
    }
    let tz = tenant_time_zone(db, tenant_id).await?;
    let posting = Posting {
        amount: settings.welcome_points,
        idem_key: format!("welcome:{member_id}"),
        request_hash: format!("welcome:{member_id}"),
        reason: Some("welcome points".into()),
        occurred_at,
        ..Posting::blank(tenant_id, member_id, Kind::Bonus)
    };
    Ok(Some(store::post(tx, &posting, &settings, &tz).await?))
}

/// A member's balances and 20 most recent movements (for the 360 view).
pub async fn member_view(
    db: &Db,
    tenant_id: i64,
    member_id: i64,
) -> Result<
    (
        store::BalanceSummary,
        store::BalanceSummary,
        Vec<store::HistoryLine>,
    ),
    ApiError,
> {
    let points = store::balance_summary(db, tenant_id, member_id, model::Currency::Points).await?;
    let stamps = store::balance_summary(db, tenant_id, member_id, model::Currency::Stamps).await?;
    let mut recent = store::history(db, tenant_id, member_id, i64::MAX, 20).await?;
    recent.truncate(20);
    Ok((points, stamps, recent))
}

/// Grant the birthday bonus to every member whose birthday is today in their shop's time
/// zone. Idempotent: one bonus per member per year (key `birthday:<member>:<year>`).
/// Returns how many bonuses were granted by this run.
pub async fn run_birthday_bonuses(db: &Db, now: i64) -> Result<u64, ApiError> {
    let meta = RequestMeta {
        request_id: format!("birthdays-{now}"),
        ip: "local".into(),
    };
    let mut granted = 0;
    for (tenant_id, bonus) in crate::rules::store::birthday_bonuses(db).await? {
        let tz = tenant_time_zone(db, tenant_id).await?;
        let today = jiff::Timestamp::from_microsecond(now)
            .map_err(ApiError::internal)?
            .to_zoned(tz)
            .date();
        let mut days = vec![format!("{:02}-{:02}", today.month(), today.day())];
        if today.month() == 2 && today.day() == 28 && !today.in_leap_year() {
            days.push("02-29".into());
        }
        for member_id in crate::members::store::with_birthday(db, tenant_id, &days).await? {
            let key = format!("birthday:{member_id}:{}", today.year());
            let posting = Posting {
                amount: bonus,
                idem_key: key.clone(),
                request_hash: key,
                reason: Some("birthday bonus".into()),
                occurred_at: now,
                ..Posting::blank(tenant_id, member_id, Kind::Bonus)
            };
            let posted = post_one(
                db,
                &posting,
                ActorRef {
                    kind: "system",
                    id: None,
                    label: "birthday bonus",
                },
                &meta,
                "points.birthday_bonus",
            )
            .await?;
            if !posted.replayed {
                granted += 1;
            }
        }
    }
    Ok(granted)
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
