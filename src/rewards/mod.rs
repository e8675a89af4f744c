//! Rewards: the catalog, redemption (points and stock taken in one transaction, with a
//! one-time code from the member's phone), coupons validated once at a branch, shipped
//! rewards moved through fulfilment, digital code pools, and refunds through the ledger
//! when a redemption is cancelled or a coupon expires unused.
//!
//! Must never happen: stock below zero or points overdrawn under concurrent
//! redemptions; a coupon used twice; a cancelled redemption refunded twice (the ledger
//! key `redeem_cancel:<txn>` makes a second refund a replay); a code of one shop found
//! from another.

pub mod api;
pub mod model;
pub mod pages;
pub mod store;

use jiff::{Timestamp, ToSpan};

use crate::audit::RequestMeta;
use crate::audit::{self, ActorRef, Change};
use crate::error::{ApiError, Code};
use crate::ledger::LedgerError;
use crate::ledger::model::Currency;
use crate::ledger::{Kind, Posting};
use crate::otp::{OtpError, OtpProof};
use crate::store::{Db, now_micros};
use crate::tenants::ShopError;
use crate::tiers::TierError;
use model::{LimitPeriod, Refusal, RewardKind};
use store::{Address, Redemption};

/// A redemption to make (validated by the caller).
pub struct RedeemInput {
    pub tenant_id: i64,
    pub reward_id: i64,
    pub member_id: i64,
    pub shipping: Option<Address>,
    pub otp: Option<OtpProof>,
    /// Ledger idempotency key: a retry with it returns the first redemption.
    pub idem_key: String,
    pub dry_run: bool,
}

#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct RedeemOutcome {
    /// The redemption (absent for a dry run).
    pub redemption: Option<Redemption>,
    /// Points it costs this member (their tier's price).
    pub points: i64,
    /// The member's points balance afterwards.
    pub balance: i64,
    pub replayed: bool,
    pub dry_run: bool,
}

/// Why a reward could not be redeemed. The API and the member page turn it into their
/// answer ([`From<RedeemError> for ApiError`]).
#[derive(Debug, thiserror::Error)]
pub enum RedeemError {
    #[error("reward not found")]
    NotFound,
    #[error("a shipped reward needs the member's address")]
    AddressMissing,
    #[error("this idempotency key was used for another redemption")]
    KeyReused,
    #[error("{0}")]
    Unavailable(String),
    #[error("this reward is for members of other tier levels")]
    TierRestricted,
    #[error("a member may redeem this reward at most {max} times")]
    MemberLimit { max: i64 },
    #[error("a member may redeem this reward at most {count} times per {per}")]
    PeriodLimit { count: i64, per: &'static str },
    #[error("this reward is out of stock")]
    OutOfStock,
    #[error("no codes are left for this reward")]
    NoCodesLeft,
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Otp(#[from] OtpError),
    #[error(transparent)]
    Shop(#[from] ShopError),
    #[error(transparent)]
    Tiers(#[from] TierError),
    /// A limit's period could not be counted in the shop's time zone.
    #[error("{0}")]
    Unreadable(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl From<Refusal> for RedeemError {
    fn from(r: Refusal) -> RedeemError {
        match r {
            Refusal::TierRestricted => RedeemError::TierRestricted,
            other => RedeemError::Unavailable(other.message().to_string()),
        }
    }
}

impl From<RedeemError> for ApiError {
    fn from(e: RedeemError) -> ApiError {
        let message = e.to_string();
        let on_reward = |code| ApiError::field(code, "reward_id", message.clone());
        match e {
            RedeemError::NotFound => ApiError::new(Code::NotFound, message),
            RedeemError::AddressMissing => ApiError::field(Code::MissingField, "shipping", message),
            RedeemError::KeyReused => ApiError::new(Code::IdempotencyKeyReused, message),
            RedeemError::Unavailable(_) => on_reward(Code::RewardUnavailable),
            RedeemError::TierRestricted => on_reward(Code::TierRestricted),
            RedeemError::MemberLimit { .. } | RedeemError::PeriodLimit { .. } => {
                on_reward(Code::LimitReached)
            }
            RedeemError::OutOfStock | RedeemError::NoCodesLeft => on_reward(Code::OutOfStock),
            RedeemError::Ledger(e) => e.into(),
            RedeemError::Otp(e) => e.into(),
            RedeemError::Shop(e) => e.into(),
            RedeemError::Tiers(e) => e.into(),
            RedeemError::Unreadable(e) => ApiError::internal(e),
            RedeemError::Db(e) => e.into(),
        }
    }
}

/// What a change to a redemption answers when another change got there first.
const CHANGED_MEANWHILE: &str = "this redemption changed meanwhile; reload it";

/// Why a redemption could not be changed: cancelled, expired, a coupon used, a shipment
/// moved along. The API and the staff pages turn it into their answer
/// ([`From<RedemptionError> for ApiError`]).
#[derive(Debug, thiserror::Error)]
pub enum RedemptionError {
    #[error("redemption not found")]
    NotFound,
    #[error("no coupon has this code")]
    NoSuchCoupon,
    #[error("{0}")]
    WrongState(String),
    /// A shipment asked to move to a status it cannot reach from where it is.
    #[error("{0}")]
    ShippingStep(String),
    /// The coupon cannot be used: `used` (and by whom, when, where) or not usable.
    #[error("{message}")]
    CouponRefused { used: bool, message: String },
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Shop(#[from] ShopError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl From<RedemptionError> for ApiError {
    fn from(e: RedemptionError) -> ApiError {
        let message = e.to_string();
        match e {
            RedemptionError::NotFound => ApiError::new(Code::NotFound, message),
            RedemptionError::NoSuchCoupon => ApiError::field(Code::NotFound, "code", message),
            RedemptionError::WrongState(_) => ApiError::new(Code::WrongState, message),
            RedemptionError::ShippingStep(_) => {
                ApiError::field(Code::WrongState, "status", message)
            }
            RedemptionError::CouponRefused { used: true, .. } => {
                ApiError::field(Code::CouponUsed, "code", message)
            }
            RedemptionError::CouponRefused { used: false, .. } => {
                ApiError::field(Code::CouponNotUsable, "code", message)
            }
            RedemptionError::Ledger(e) => e.into(),
            RedemptionError::Shop(e) => e.into(),
            RedemptionError::Db(e) => e.into(),
        }
    }
}

/// Start of the local day, week (Monday) or month containing `now`.
fn period_start(
    period: LimitPeriod,
    now: Timestamp,
    tz: &jiff::tz::TimeZone,
) -> Result<i64, jiff::Error> {
    let date = now.to_zoned(tz.clone()).date();
    let first = match period {
        LimitPeriod::Day => date,
        LimitPeriod::Week => {
            date.checked_sub(i64::from(date.weekday().to_monday_zero_offset()).days())?
        }
        LimitPeriod::Month => date.first_of_month(),
    };
    Ok(first.to_zoned(tz.clone())?.timestamp().as_microsecond())
}

/// Redeem a reward for a member: check the reward, the member's tier and limits, take
/// the stock and the points, issue the coupon / code / shipment, all in one
/// transaction under the member's lock.
pub async fn redeem(
    db: &Db,
    input: &RedeemInput,
    actor: ActorRef<'_>,
    meta: &RequestMeta,
) -> Result<RedeemOutcome, RedeemError> {
    let tenant = input.tenant_id;
    let reward = store::get(db, tenant, input.reward_id)
        .await?
        .filter(|r| !r.archived)
        .ok_or(RedeemError::NotFound)?;
    let spec = &reward.spec;
    if spec.kind == RewardKind::Shipped && input.shipping.is_none() {
        return Err(RedeemError::AddressMissing);
    }
    let proof = if input.dry_run {
        None
    } else {
        crate::otp::require(db, tenant, input.member_id, input.otp.as_ref()).await?
    };
    let program = crate::tiers::store::program(db, tenant).await?;
    let tz = crate::tenants::time_zone(db, tenant).await?;
    let settings = crate::ledger::settings(db, tenant).await?;
    let now = now_micros();
    let now_ts = crate::types::timestamp(now);

    let currency = spec.currency;
    let mut tx = db.begin().await?;
    crate::ledger::lock_member(&mut tx, tenant, input.member_id, currency).await?;
    if let Some(prior) = crate::ledger::txn_by_key_full(&mut tx, tenant, &input.idem_key).await? {
        let existing = store::by_txn_tx(&mut tx, tenant, prior.id).await?;
        let same = existing
            .as_ref()
            .is_some_and(|r| r.reward_id == input.reward_id && r.member_id == input.member_id);
        if !same {
            return Err(RedeemError::KeyReused);
        }
        let balance = crate::ledger::balance_summary(db, tenant, input.member_id, currency)
            .await?
            .balance;
        return Ok(RedeemOutcome {
            points: -prior.amount,
            redemption: existing,
            balance,
            replayed: true,
            dry_run: input.dry_run,
        });
    }
    let level = crate::tiers::held_tx(&mut tx, &program, tenant, input.member_id).await?;
    let level_code = level.as_ref().map(|l| l.code.as_str());
    if let Some(r) = spec.refusal(now_ts, level_code) {
        return Err(r.into());
    }
    let price = spec.price_for(level_code);
    if let Some(max) = spec.per_member_limit
        && store::count_member_redemptions(&mut tx, tenant, input.member_id, reward.id, i64::MIN)
            .await?
            >= max
    {
        return Err(RedeemError::MemberLimit { max });
    }
    if let Some(limit) = spec.period_limit {
        let from = period_start(limit.per, now_ts, &tz)
            .map_err(|e| RedeemError::Unreadable(format!("limit period: {e}")))?;
        if store::count_member_redemptions(&mut tx, tenant, input.member_id, reward.id, from)
            .await?
            >= limit.count
        {
            let per = match limit.per {
                LimitPeriod::Day => "day",
                LimitPeriod::Week => "week",
                LimitPeriod::Month => "month",
            };
            return Err(RedeemError::PeriodLimit {
                count: limit.count,
                per,
            });
        }
    }
    if input.dry_run {
        let summary = crate::ledger::balance_summary(db, tenant, input.member_id, currency).await?;
        if summary.available < price {
            return Err(LedgerError::InsufficientPoints {
                available: summary.available,
            }
            .into());
        }
        if spec.stock == Some(0) {
            return Err(RedeemError::OutOfStock);
        }
        return Ok(RedeemOutcome {
            redemption: None,
            points: price,
            balance: summary.balance - price,
            replayed: false,
            dry_run: true,
        });
    }
    if !store::take_stock(&mut tx, tenant, reward.id).await? {
        return Err(RedeemError::OutOfStock);
    }
    let redemption_id = crate::ids::next_id();
    let posting = Posting {
        currency,
        amount: crate::money::Points::new(price),
        idem_key: input.idem_key.clone(),
        request_hash: format!("reward|{}|{}", reward.id, input.member_id),
        reason: Some(format!("reward: {}", spec.name)),
        actor_kind: actor.kind.to_string(),
        actor_id: actor.id,
        details: serde_json::json!({"reward_id": reward.id, "redemption_id": redemption_id}),
        ..Posting::blank(tenant, input.member_id, Kind::Redeem)
    };
    let posted = crate::ledger::post(
        &mut tx,
        &posting,
        crate::ledger::ShopRules::new(&settings, &tz),
    )
    .await?;
    let (mut coupon_code, mut digital_code) = (None, None);
    let status = match spec.kind {
        RewardKind::Coupon | RewardKind::Voucher => {
            let mut code = model::new_code(8);
            while store::coupon_code_taken(&mut tx, tenant, &code).await? {
                code = model::new_code(8);
            }
            coupon_code = Some(code);
            "issued"
        }
        RewardKind::DigitalCode => {
            digital_code = match store::take_code(&mut tx, tenant, reward.id, redemption_id).await?
            {
                Some(c) => Some(c),
                None if spec.generate_codes => Some(model::new_code(12)),
                None => return Err(RedeemError::NoCodesLeft),
            };
            "issued"
        }
        RewardKind::Shipped => "pending",
    };
    let expires_at = spec
        .kind
        .has_coupon()
        .then(|| now + i64::from(spec.use_within_days) * 86_400_000_000);
    store::insert(
        &mut tx,
        tenant,
        &store::NewRedemption {
            id: redemption_id,
            member_id: input.member_id,
            reward_id: reward.id,
            kind: spec.kind.as_str(),
            points: price,
            txn_id: posted.txn_id,
            status,
            coupon_code: coupon_code.as_deref(),
            digital_code: digital_code.as_deref(),
            value_satang: spec.value_satang,
            expires_at,
            shipping: input.shipping.as_ref(),
        },
    )
    .await?;
    if let Some(p) = &proof {
        crate::otp::consume(&mut tx, tenant, p).await?;
    }
    audit::record_as(
        &mut tx,
        tenant,
        actor,
        meta,
        Change::new("reward.redeemed", "redemption", redemption_id)
            .details(serde_json::json!({"member_id": input.member_id, "reward_id": reward.id, "points": price, "txn_id": posted.txn_id, "otp": proof.is_some()})),
    )
    .await?;
    let redemption = store::get_redemption_tx(&mut tx, tenant, redemption_id).await?;
    tx.commit().await?;
    Ok(RedeemOutcome {
        redemption,
        points: price,
        balance: posted.balance.get(),
        replayed: false,
        dry_run: false,
    })
}

/// Undo a redemption: points back to the lots they came from (through the ledger),
/// the unit back in stock, the status `to` (`cancelled` or `expired`). Runs under the
/// member's lock; `allowed` are the statuses it may start from.
#[allow(clippy::too_many_arguments)] // one private helper for cancel and expiry
async fn undo(
    db: &Db,
    tenant: i64,
    redemption_id: i64,
    to: &str,
    refund: bool,
    actor: ActorRef<'_>,
    meta: &RequestMeta,
    action: &str,
) -> Result<Redemption, RedemptionError> {
    let found = store::get_redemption(db, tenant, redemption_id)
        .await?
        .ok_or(RedemptionError::NotFound)?;
    let settings = crate::ledger::settings(db, tenant).await?;
    let tz = crate::tenants::time_zone(db, tenant).await?;
    // Paid in points or in stamps: given back in what was paid.
    let currency = crate::ledger::get_txn(db, tenant, found.txn_id)
        .await?
        .map_or(Currency::Points, |t| Currency::from_db(&t.currency));
    let mut tx = db.begin().await?;
    crate::ledger::lock_member(&mut tx, tenant, found.member_id, currency).await?;
    let current = store::get_redemption_tx(&mut tx, tenant, redemption_id)
        .await?
        .ok_or(RedemptionError::NotFound)?;
    let from = current.status.as_str();
    let allowed = match current.kind.as_str() {
        "coupon" | "voucher" => from == "issued",
        "shipped" => from == "pending" || from == "packed",
        _ => false,
    };
    if !allowed {
        let why = match (current.kind.as_str(), from) {
            ("digital_code", _) => {
                "a digital code was shown to the member and cannot be taken back".to_string()
            }
            (_, s) => format!("this redemption is {s}"),
        };
        return Err(RedemptionError::WrongState(why));
    }
    if !store::set_status(&mut tx, tenant, redemption_id, from, to).await? {
        return Err(RedemptionError::WrongState(CHANGED_MEANWHILE.into()));
    }
    let mut refunded = 0;
    if refund && current.points > 0 {
        let posting = Posting {
            idem_key: format!("redeem_cancel:{}", current.txn_id),
            request_hash: format!("redeem_cancel:{}", current.txn_id),
            reason: Some(format!("{to}: {}", current.reward_name)),
            reverses_id: Some(current.txn_id),
            actor_kind: actor.kind.to_string(),
            actor_id: actor.id,
            currency,
            ..Posting::blank(tenant, current.member_id, Kind::RedeemCancel)
        };
        refunded = crate::ledger::post(
            &mut tx,
            &posting,
            crate::ledger::ShopRules::new(&settings, &tz),
        )
        .await?
        .points
        .get();
    }
    store::return_stock(&mut tx, tenant, current.reward_id).await?;
    audit::record_as(
        &mut tx,
        tenant,
        actor,
        meta,
        Change::new(action, "redemption", redemption_id)
            .details(serde_json::json!({"member_id": current.member_id, "points_refunded": refunded, "from": from})),
    )
    .await?;
    let after = store::get_redemption_tx(&mut tx, tenant, redemption_id).await?;
    tx.commit().await?;
    after.ok_or(RedemptionError::NotFound)
}

/// Cancel a redemption with the points refunded (coupons and vouchers not yet used,
/// shipments not yet shipped).
pub async fn cancel(
    db: &Db,
    tenant: i64,
    redemption_id: i64,
    actor: ActorRef<'_>,
    meta: &RequestMeta,
) -> Result<Redemption, RedemptionError> {
    undo(
        db,
        tenant,
        redemption_id,
        "cancelled",
        true,
        actor,
        meta,
        "reward.redemption_cancelled",
    )
    .await
}

/// Expire coupons and vouchers past their date and still unused, refunding the points
/// when the reward says so. Idempotent. Returns how many expired.
pub async fn run_coupon_expiry(db: &Db, now: i64) -> Result<u64, RedemptionError> {
    let meta = RequestMeta {
        request_id: format!("coupon-expiry-{now}"),
        ip: "local".into(),
    };
    let actor = ActorRef {
        kind: "system",
        id: None,
        label: "coupon expiry",
    };
    let mut expired = 0;
    loop {
        let due = store::expired_coupons(db, now, 200).await?;
        if due.is_empty() {
            return Ok(expired);
        }
        for (tenant, id) in due {
            let Some(r) = store::get_redemption(db, tenant, id).await? else {
                continue;
            };
            let refund = store::get(db, tenant, r.reward_id)
                .await?
                .is_none_or(|w| w.spec.refund_on_expiry);
            match undo(
                db,
                tenant,
                id,
                "expired",
                refund,
                actor,
                &meta,
                "reward.coupon_expired",
            )
            .await
            {
                Ok(_) => expired += 1,
                // Used or cancelled meanwhile.
                Err(RedemptionError::WrongState(_)) => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// A coupon as the counter sees it.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct CouponView {
    pub redemption: Redemption,
    pub member_name: String,
    /// The member's phone, masked.
    pub member_phone: String,
    /// Whether it can be marked used now.
    pub usable: bool,
    /// Why not, in words (who used it, when and where; or that it expired).
    pub problem: Option<String>,
}

async fn explain(
    db: &Db,
    tenant: i64,
    r: &Redemption,
    now: i64,
) -> Result<Option<(bool, String)>, RedemptionError> {
    let tz = crate::tenants::time_zone(db, tenant).await?;
    let local = |m: i64| {
        crate::types::timestamp(m)
            .to_zoned(tz.clone())
            .strftime("%Y-%m-%d %H:%M")
            .to_string()
    };
    Ok(match r.status.as_str() {
        "used" => {
            let branch = match r.used_branch_id {
                Some(b) => crate::tenants::store::get_branch(db, tenant, b)
                    .await?
                    .map(|b| b.name)
                    .unwrap_or_default(),
                None => String::new(),
            };
            Some((
                true,
                format!(
                    "already used on {} at {} by {}",
                    r.used_at.map(local).unwrap_or_default(),
                    branch,
                    r.used_by.clone().unwrap_or_default()
                ),
            ))
        }
        "issued" if r.expires_at.is_some_and(|e| e <= now) => Some((
            false,
            format!("expired on {}", r.expires_at.map(local).unwrap_or_default()),
        )),
        "issued" => None,
        other => Some((false, format!("this coupon is {other}"))),
    })
}

/// Look a coupon up by the code typed or scanned at the counter.
pub async fn check_coupon(
    db: &Db,
    tenant: i64,
    typed: &str,
) -> Result<CouponView, RedemptionError> {
    let code = model::normalise_code(typed);
    let r = store::by_coupon_code(db, tenant, &code)
        .await?
        .ok_or(RedemptionError::NoSuchCoupon)?;
    let member = crate::members::store::get(db, tenant, r.member_id).await?;
    let problem = explain(db, tenant, &r, now_micros()).await?.map(|(_, m)| m);
    Ok(CouponView {
        member_name: member
            .as_ref()
            .map(|m| {
                format!("{} {}", m.first_name, m.last_name)
                    .trim()
                    .to_string()
            })
            .unwrap_or_default(),
        member_phone: member
            .map(|m| crate::otp::mask_phone(&m.phone))
            .unwrap_or_default(),
        usable: problem.is_none(),
        problem,
        redemption: r,
    })
}

/// Mark a coupon used at a branch, once. A second attempt says who used it, when and
/// where.
pub async fn use_coupon(
    db: &Db,
    tenant: i64,
    typed: &str,
    branch_id: i64,
    actor: ActorRef<'_>,
    meta: &RequestMeta,
) -> Result<Redemption, RedemptionError> {
    let code = model::normalise_code(typed);
    let r = store::by_coupon_code(db, tenant, &code)
        .await?
        .ok_or(RedemptionError::NoSuchCoupon)?;
    let now = now_micros();
    let mut tx = db.begin().await?;
    if !store::mark_used(&mut tx, tenant, r.id, branch_id, actor.label, now).await? {
        drop(tx);
        // Someone else won, or it was not usable: say why, from the current row.
        let current = store::get_redemption(db, tenant, r.id).await?.unwrap_or(r);
        let (used, message) = explain(db, tenant, &current, now)
            .await?
            .unwrap_or((false, "this coupon cannot be used".into()));
        return Err(RedemptionError::CouponRefused { used, message });
    }
    audit::record_as(
        &mut tx,
        tenant,
        actor,
        meta,
        Change::new("coupon.used", "redemption", r.id)
            .details(serde_json::json!({"member_id": r.member_id, "branch_id": branch_id})),
    )
    .await?;
    let after = store::get_redemption_tx(&mut tx, tenant, r.id).await?;
    tx.commit().await?;
    after.ok_or(RedemptionError::NotFound)
}

/// Move a shipped reward along: pending → packed → shipped (carrier and tracking) →
/// delivered.
#[allow(clippy::too_many_arguments)]
pub async fn advance_shipping(
    db: &Db,
    tenant: i64,
    id: i64,
    to: &str,
    carrier: Option<&str>,
    tracking: Option<&str>,
    actor: ActorRef<'_>,
    meta: &RequestMeta,
) -> Result<Redemption, RedemptionError> {
    let r = store::get_redemption(db, tenant, id)
        .await?
        .ok_or(RedemptionError::NotFound)?;
    if r.kind != "shipped" {
        return Err(RedemptionError::WrongState(
            "only shipped rewards have a delivery status".into(),
        ));
    }
    if !model::shipping_step_allowed(&r.status, to) {
        return Err(RedemptionError::ShippingStep(format!(
            "a {} shipment cannot become {to}",
            r.status
        )));
    }
    let mut tx = db.begin().await?;
    if !store::set_status(&mut tx, tenant, id, &r.status, to).await? {
        return Err(RedemptionError::WrongState(CHANGED_MEANWHILE.into()));
    }
    store::set_shipping(&mut tx, tenant, id, carrier, tracking).await?;
    audit::record_as(
        &mut tx,
        tenant,
        actor,
        meta,
        Change::new("reward.shipping_updated", "redemption", id)
            .details(serde_json::json!({"from": r.status, "to": to, "carrier": carrier, "tracking": tracking})),
    )
    .await?;
    let after = store::get_redemption_tx(&mut tx, tenant, id).await?;
    tx.commit().await?;
    after.ok_or(RedemptionError::NotFound)
}

/// A reward as one member sees it: their price and whether they can redeem it now.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct MemberReward {
    pub reward: store::Reward,
    pub price: i64,
    pub redeemable: bool,
    /// Why not, in words.
    pub reason: Option<String>,
    /// Why not, as a code a page can put in its own words.
    pub why_not: Option<WhyNot>,
    /// How many more points the member needs (with `why_not` = `short_of_points`).
    pub points_short: Option<i64>,
}

/// Why a member cannot redeem a reward now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WhyNot {
    NotOffered,
    NotYet,
    NoLonger,
    OtherTiers,
    OutOfStock,
    ShortOfPoints,
}

/// The catalog for one member: visible rewards with their tier's price and whether the
/// balance, stock and tier allow them now (limits are checked when redeeming).
pub async fn catalog_for(
    db: &Db,
    tenant: i64,
    member_id: i64,
) -> Result<Vec<MemberReward>, RedeemError> {
    let program = crate::tiers::store::program(db, tenant).await?;
    let standing = crate::tiers::store::standing(db, tenant, member_id).await?;
    let level = program
        .enabled
        .then(|| {
            program
                .levels
                .get(standing.map(|s| program.index_of(&s.level)).unwrap_or(0))
                .map(|l| l.code.clone())
        })
        .flatten();
    let points = crate::ledger::balance_summary(db, tenant, member_id, Currency::Points)
        .await?
        .available;
    let stamps = crate::ledger::balance_summary(db, tenant, member_id, Currency::Stamps)
        .await?
        .available;
    let now = Timestamp::now();
    let rewards = store::list(db, tenant, false, i64::MAX, 500).await?;
    Ok(rewards
        .into_iter()
        .filter(|r| r.spec.visible)
        .map(|r| {
            let price = r.spec.price_for(level.as_deref());
            let available = match r.spec.currency {
                Currency::Points => points,
                Currency::Stamps => stamps,
            };
            let why_not = match r.spec.refusal(now, level.as_deref()) {
                Some(Refusal::NotOffered) => Some(WhyNot::NotOffered),
                Some(Refusal::NotYet) => Some(WhyNot::NotYet),
                Some(Refusal::NoLonger) => Some(WhyNot::NoLonger),
                Some(Refusal::TierRestricted) => Some(WhyNot::OtherTiers),
                None if r.spec.stock == Some(0)
                    || r.codes_available == Some(0) && !r.spec.generate_codes =>
                {
                    Some(WhyNot::OutOfStock)
                }
                None if available < price => Some(WhyNot::ShortOfPoints),
                None => None,
            };
            let points_short = (why_not == Some(WhyNot::ShortOfPoints)).then(|| price - available);
            let reason = why_not.map(|w| match w {
                WhyNot::NotOffered => Refusal::NotOffered.message().to_string(),
                WhyNot::NotYet => Refusal::NotYet.message().to_string(),
                WhyNot::NoLonger => Refusal::NoLonger.message().to_string(),
                WhyNot::OtherTiers => Refusal::TierRestricted.message().to_string(),
                WhyNot::OutOfStock => "out of stock".to_string(),
                WhyNot::ShortOfPoints => {
                    format!("needs {} more points", price - available)
                }
            });
            MemberReward {
                redeemable: why_not.is_none(),
                reason,
                why_not,
                points_short,
                price,
                reward: r,
            }
        })
        .collect())
}
