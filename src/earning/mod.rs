//! Earning: a purchase becomes points. Above the ledger, which knows nothing of rules,
//! tiers or members: this layer parses a purchase ([`purchase`]), loads what the shop's
//! rules need ([`EarnContext`]), checks the members and branches, evaluates the rules and
//! the tier bonus, and posts the credits through the ledger ([`earn`]), one purchase at a
//! time or a group at once through the group-commit writer ([`writer`]). Refunds take a
//! purchase's points back; welcome and birthday bonuses are granted here too; claim QR
//! codes ([`claims`]) turn a bill into a purchase when a member scans them.

pub mod api;
pub mod claims;
pub mod earn;
pub mod pages;
pub mod purchase;
pub mod refund;
pub mod store;
pub mod writer;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::audit::ActorRef;
use crate::audit::RequestMeta;
use crate::error::{ApiError, Code};
use crate::ledger::post_one;
use crate::ledger::{self, Kind, LedgerError, Posted, Posting};
use crate::money::Points;
use crate::rules::model::Applied;
use crate::store::Db;
use crate::tenants::ShopError;
use crate::tenants::time_zone as tenant_time_zone;
pub use purchase::{NewPurchase, PurchaseError, PurchaseInput, RecordedLine};
pub use refund::{LineRefund, RefundError, RefundInput, RefundResult, refund_purchase};

/// Why a purchase was not recorded. The API, a batch's items, the counter and claim QR
/// codes turn it into their answer ([`From<EarnError> for ApiError`]).
#[derive(Debug, thiserror::Error)]
pub enum EarnError {
    #[error("member {0} does not exist")]
    NoSuchMember(i64),
    #[error("branch {0} does not exist")]
    NoSuchBranch(i64),
    #[error("branch {0} is inactive")]
    InactiveBranch(i64),
    /// The receipt was recorded before for another member, amount, branch or items.
    #[error("this receipt was already recorded with a different member, amount, branch or items")]
    ReceiptReused,
    #[error("the ledger's queue is full")]
    QueueFull,
    #[error("the ledger writer has stopped")]
    WriterStopped,
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Shop(#[from] ShopError),
    /// The shop's saved settings could not be read, or a bill's day could not be counted.
    #[error("{0}")]
    Unreadable(String),
    /// Shared: one failed read answers every purchase of a group.
    #[error("database: {0}")]
    Db(Arc<sqlx::Error>),
}

impl From<sqlx::Error> for EarnError {
    fn from(e: sqlx::Error) -> EarnError {
        EarnError::Db(Arc::new(e))
    }
}

impl From<EarnError> for ApiError {
    fn from(e: EarnError) -> ApiError {
        let message = e.to_string();
        match e {
            EarnError::NoSuchMember(_) => ApiError::invalid("member_id", message),
            EarnError::NoSuchBranch(_) | EarnError::InactiveBranch(_) => {
                ApiError::invalid("branch_id", message)
            }
            EarnError::ReceiptReused | EarnError::Ledger(LedgerError::KeyReused) => {
                ApiError::field(
                    Code::AlreadyExists,
                    "receipt",
                    EarnError::ReceiptReused.to_string(),
                )
            }
            EarnError::QueueFull => {
                let mut e = ApiError::new(Code::Overloaded, message);
                e.retry_after_secs = Some(1);
                e
            }
            EarnError::WriterStopped | EarnError::Unreadable(_) | EarnError::Db(_) => {
                ApiError::internal(message)
            }
            EarnError::Ledger(e) => e.into(),
            EarnError::Shop(e) => e.into(),
        }
    }
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
    /// The bill's lines, when it was sent with them, and the points each earned.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<RecordedLine>,
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
    pub settings: ledger::LedgerSettings,
    pub rules: crate::rules::model::EarningRules,
    pub tiers: crate::tiers::model::TierProgram,
    pub tz: jiff::tz::TimeZone,
}

impl EarnContext {
    /// Read in one query (the writer does it per shop for every group it commits).
    pub async fn load(db: &Db, tenant_id: i64) -> Result<EarnContext, EarnError> {
        let shop = ledger::shop_for_earning(db, tenant_id, crate::tiers::store::PROGRAM_DOC)
            .await?
            .ok_or(ShopError::NotFound)?;
        Ok(EarnContext {
            settings: shop.settings,
            rules: crate::rules::store::parse(shop.rules.as_deref()),
            tiers: crate::store::docs::parse(shop.tier_program.as_deref())
                .map_err(|e| EarnError::Unreadable(format!("tier program: {e}")))?,
            tz: jiff::tz::TimeZone::get(&shop.time_zone)
                .map_err(|_| ShopError::UnknownTimeZone(shop.time_zone))?,
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
) -> Result<Vec<Result<(), EarnError>>, sqlx::Error> {
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
                return Err(EarnError::NoSuchMember(p.member_id));
            };
            if let Some(b) = p.branch_id {
                match active.get(&(p.tenant_id, b)) {
                    Some(true) => {}
                    Some(false) => return Err(EarnError::InactiveBranch(b)),
                    None => return Err(EarnError::NoSuchBranch(b)),
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
) -> Result<PurchaseOutcome, EarnError> {
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
) -> Result<PurchaseOutcome, EarnError> {
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
) -> Result<PurchaseOutcome, EarnError> {
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

/// Grant the shop's welcome points to a new member, inside the enrolment transaction.
pub async fn grant_welcome(
    tx: &mut crate::store::Tx,
    db: &Db,
    tenant_id: i64,
    member_id: i64,
    occurred_at: i64,
) -> Result<Option<Posted>, EarnError> {
    let settings = ledger::settings(db, tenant_id).await?;
    if settings.welcome_points <= 0 {
        return Ok(None);
    }
    let tz = tenant_time_zone(db, tenant_id).await?;
    let posting = Posting {
        amount: Points::new(settings.welcome_points),
        idem_key: format!("welcome:{member_id}"),
        request_hash: format!("welcome:{member_id}"),
        reason: Some("welcome points".into()),
        occurred_at,
        ..Posting::blank(tenant_id, member_id, Kind::Bonus)
    };
    Ok(Some(
        ledger::post(tx, &posting, ledger::ShopRules::new(&settings, &tz)).await?,
    ))
}

/// Grant the birthday bonus to every member whose birthday is today in their shop's time
/// zone. Idempotent: one bonus per member per year (key `birthday:<member>:<year>`).
/// Returns how many bonuses were granted by this run.
pub async fn run_birthday_bonuses(db: &Db, now: i64) -> Result<u64, EarnError> {
    let meta = RequestMeta {
        request_id: format!("birthdays-{now}"),
        ip: "local".into(),
    };
    let mut granted = 0;
    for (tenant_id, bonus) in crate::rules::store::birthday_bonuses(db).await? {
        let tz = tenant_time_zone(db, tenant_id).await?;
        let today = jiff::Timestamp::from_microsecond(now)
            .map_err(|e| EarnError::Unreadable(format!("today: {e}")))?
            .to_zoned(tz)
            .date();
        let mut days = vec![format!("{:02}-{:02}", today.month(), today.day())];
        if today.month() == 2 && today.day() == 28 && !today.in_leap_year() {
            days.push("02-29".into());
        }
        for member_id in crate::members::store::with_birthday(db, tenant_id, &days).await? {
            let key = format!("birthday:{member_id}:{}", today.year());
            let posting = Posting {
                amount: Points::new(bonus),
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
