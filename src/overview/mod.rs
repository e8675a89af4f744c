//! The shop at a glance: the figures an owner sees first (members, activity, points
//! issued, redeemed and expired this month, what is still owed in points and baht,
//! redemptions, and today's purchases at each branch). Months and days are the shop's,
//! in its time zone. Charts and segments build on this in the customer-data pages.

pub mod api;
pub mod pages;
pub mod store;

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use crate::error::ApiError;
use crate::ledger::Liability;
use crate::ledger::model::Currency;
use crate::money::{Overflow, Satang};
use crate::store::Db;
use crate::tenants::ShopError;

/// The figures of the admin home.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Overview {
    /// When the figures were counted.
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    /// The start of the shop's current month and day (its time zone).
    #[schema(value_type = String, format = DateTime)]
    pub month_from: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub day_from: Timestamp,
    /// Members who can be served (merged and erased profiles not counted).
    pub members: i64,
    pub new_members_this_month: i64,
    /// Members who bought or spent points in the last 30 days.
    pub active_members_30_days: i64,
    /// Points this month: issued, redeemed, expired, and outstanding now.
    pub points: Liability,
    /// What one point is worth to the shop (ledger settings; 0 = not set).
    pub point_value_satang: i64,
    /// Outstanding points × the point's value; absent while the value is not set.
    pub liability_satang: Option<i64>,
    /// Rewards redeemed this month.
    pub redemptions_this_month: i64,
    /// Purchases recorded today, per branch.
    pub today: Vec<BranchDay>,
}

/// One branch's purchases today.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct BranchDay {
    /// Absent for purchases that named no branch (sent by a till without one).
    pub branch_id: Option<i64>,
    pub branch_name: Option<String>,
    pub purchases: i64,
    pub sales_satang: i64,
    pub points: i64,
}

/// One month of the points ledger, in the shop's time zone.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct MonthOfPoints {
    /// The month's first day, `2026-11`.
    pub month: String,
    #[schema(value_type = String, format = DateTime)]
    pub from: Timestamp,
    /// The end: the next month's start, or now for the current month.
    #[schema(value_type = String, format = DateTime)]
    pub to: Timestamp,
    pub points: Liability,
    /// Outstanding at the month's end in satang (absent while a point has no value).
    pub liability_satang: Option<i64>,
}

/// Why the overview could not be counted.
#[derive(Debug, thiserror::Error)]
pub enum OverviewError {
    #[error(transparent)]
    Shop(#[from] ShopError),
    #[error("the shop's calendar: {0}")]
    Calendar(#[from] jiff::Error),
    #[error(transparent)]
    Overflow(#[from] Overflow),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl From<OverviewError> for ApiError {
    fn from(e: OverviewError) -> ApiError {
        match e {
            OverviewError::Shop(e) => e.into(),
            OverviewError::Db(e) => e.into(),
            other => ApiError::internal(other),
        }
    }
}

/// The points ledger month by month, the `months` most recent (this one included),
/// oldest first; each month opens where the one before it closed.
pub async fn points_by_month(
    db: &Db,
    tenant_id: i64,
    now: i64,
    months: i32,
) -> Result<Vec<MonthOfPoints>, OverviewError> {
    let tz = crate::tenants::time_zone(db, tenant_id).await?;
    let at = Timestamp::from_microsecond(now)?;
    let this_month = at.to_zoned(tz.clone()).date().first_of_month();
    let mut firsts = Vec::new();
    for back in (0..months.max(1)).rev() {
        firsts.push(this_month.checked_sub(jiff::Span::new().months(back))?);
    }
    let mut bounds = firsts
        .iter()
        .map(|d| Ok(d.to_zoned(tz.clone())?.timestamp().as_microsecond()))
        .collect::<Result<Vec<i64>, jiff::Error>>()?;
    bounds.push(now + 1);
    let periods =
        crate::ledger::liability_by_period(db, tenant_id, Currency::Points, &bounds).await?;
    let value = crate::ledger::settings(db, tenant_id)
        .await?
        .point_value_satang;
    periods
        .into_iter()
        .zip(firsts.iter().zip(bounds.windows(2)))
        .map(|(points, (first, pair))| {
            Ok(MonthOfPoints {
                month: format!("{:04}-{:02}", first.year(), first.month()),
                from: Timestamp::from_microsecond(pair[0])?,
                to: Timestamp::from_microsecond(pair[1].min(now))?,
                liability_satang: match value {
                    0 => None,
                    v => Some(Satang::new(v).checked_mul(points.outstanding)?.get()),
                },
                points,
            })
        })
        .collect()
}

/// This month's points at one branch (`branch` absent: movements that name none).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct BranchOfPoints {
    pub branch_id: Option<i64>,
    pub branch: Option<String>,
    pub issued: i64,
    pub redeemed: i64,
    pub expired: i64,
}

/// This month's issued, redeemed and expired points per branch (the month in the shop's
/// time zone, up to `now`); summed, they are this month's row of [`points_by_month`].
pub async fn points_by_branch(
    db: &Db,
    tenant_id: i64,
    now: i64,
) -> Result<Vec<BranchOfPoints>, OverviewError> {
    let tz = crate::tenants::time_zone(db, tenant_id).await?;
    let first = Timestamp::from_microsecond(now)?
        .to_zoned(tz.clone())
        .date()
        .first_of_month()
        .to_zoned(tz)?
        .timestamp()
        .as_microsecond();
    let moved =
        crate::ledger::movements_by_branch(db, tenant_id, Currency::Points, first, now + 1).await?;
    let branches = crate::tenants::store::list_branches(db, tenant_id, i64::MAX, 500).await?;
    Ok(moved
        .into_iter()
        .map(|m| BranchOfPoints {
            branch_id: m.branch_id,
            branch: m
                .branch_id
                .and_then(|id| branches.iter().find(|b| b.id == id))
                .map(|b| b.name.clone()),
            issued: m.issued,
            redeemed: m.redeemed,
            expired: m.expired,
        })
        .collect())
}

/// Count the overview of a shop at `now` (microseconds).
pub async fn overview(db: &Db, tenant_id: i64, now: i64) -> Result<Overview, OverviewError> {
    let tz = crate::tenants::time_zone(db, tenant_id).await?;
    let at = Timestamp::from_microsecond(now)?;
    let here = at.to_zoned(tz.clone());
    let day_from = here.start_of_day()?.timestamp();
    let month_from = here
        .date()
        .first_of_month()
        .to_zoned(tz.clone())?
        .timestamp();
    let thirty_days_ago = at.checked_sub(SignedDuration::from_hours(30 * 24))?;
    let first_id = |t: Timestamp| crate::ids::first_at(t.as_microsecond());

    let (members, new_members) =
        store::member_counts(db, tenant_id, month_from.as_microsecond()).await?;
    let active = store::active_members(db, tenant_id, first_id(thirty_days_ago)).await?;
    let points = crate::ledger::liability(
        db,
        tenant_id,
        Currency::Points,
        month_from.as_microsecond(),
        now + 1,
    )
    .await?;
    let settings = crate::ledger::settings(db, tenant_id).await?;
    let liability_satang = match settings.point_value_satang {
        0 => None,
        value => Some(Satang::new(value).checked_mul(points.outstanding)?.get()),
    };
    let redemptions = store::redemptions_since(db, tenant_id, first_id(month_from)).await?;
    let branches = crate::tenants::store::list_branches(db, tenant_id, i64::MAX, 500).await?;
    let today = store::purchases_by_branch(db, tenant_id, first_id(day_from))
        .await?
        .into_iter()
        .map(|t| BranchDay {
            branch_name: t
                .branch_id
                .and_then(|id| branches.iter().find(|b| b.id == id))
                .map(|b| b.name.clone()),
            branch_id: t.branch_id,
            purchases: t.purchases,
            sales_satang: t.bills_satang.unwrap_or(0),
            points: t.points.unwrap_or(0),
        })
        .collect();
    Ok(Overview {
        at,
        month_from,
        day_from,
        members,
        new_members_this_month: new_members,
        active_members_30_days: active,
        points,
        point_value_satang: settings.point_value_satang,
        liability_satang,
        redemptions_this_month: redemptions,
        today,
    })
}
