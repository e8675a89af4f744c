//! Earning rules beyond the base rate: multipliers (by branch, day and time, date range,
//! product or category), caps per bill and per day, and stamp cards. The evaluation is a
//! pure function ([`model::evaluate`]) used both to record a purchase and to preview one.
//!
//! Must never happen: a rule that creates points from nothing the shop configured; a
//! multiplier applied to the part of a bill it does not cover; a cap exceeded.

pub mod api;
pub mod model;
pub mod store;

use crate::store::Db;
use model::{Bill, EarningRules, Evaluation, LineItem, TierBonus};

/// A sample bill to preview rules on: what a shop owner types on the rules page.
pub struct Sample {
    pub amount_satang: i64,
    pub branch_id: Option<i64>,
    /// The shop's local time of the bill.
    pub at: jiff::civil::DateTime,
    /// The tier level the buyer holds (by code), if any.
    pub tier: Option<String>,
    pub items: Vec<LineItem>,
}

/// Why a preview could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PreviewError {
    #[error(transparent)]
    Tiers(#[from] crate::tiers::TierError),
    #[error(transparent)]
    Shop(#[from] crate::tenants::ShopError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error("this time does not exist in the shop's time zone")]
    Time,
}

/// What `rules` (typed, not yet saved) would give the sample bill, with the shop's base
/// rate, time zone and tier levels: the same evaluation a purchase gets, before the
/// member's daily cap so far (a sample has no member).
pub async fn preview(
    db: &Db,
    tenant_id: i64,
    rules: &EarningRules,
    sample: &Sample,
) -> Result<Evaluation, PreviewError> {
    let settings = crate::ledger::settings(db, tenant_id).await?;
    let tz = crate::tenants::time_zone(db, tenant_id).await?;
    let program = crate::tiers::store::program(db, tenant_id).await?;
    let at = sample.at.to_zoned(tz).map_err(|_| PreviewError::Time)?;
    let level = sample
        .tier
        .as_deref()
        .filter(|_| program.enabled)
        .and_then(|code| program.levels.iter().find(|l| l.code == code));
    let bill = Bill {
        amount_satang: crate::money::Satang::new(sample.amount_satang),
        branch_id: sample.branch_id,
        at: &at,
        items: &sample.items,
        earned_today: 0,
        tier: level.map(|l| TierBonus {
            code: &l.code,
            name: &l.name,
            earn_percent: l.earn_percent,
        }),
    };
    Ok(model::evaluate(&settings.earn, rules, &bill))
}
