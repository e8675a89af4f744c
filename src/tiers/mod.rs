//! Tiers: levels a member climbs by a metric measured over a window (rolling months,
//! calendar periods, lifetime, or tenure). Upgrades happen in the purchase's own
//! transaction, as soon as a threshold is crossed; downgrades only at a review at cycle
//! end (`loyal tiers evaluate` and the server's scheduled job), which is idempotent
//! because each review moves the member's `review_at` forward.
//!
//! Must never happen: a downgrade outside a review; a review applied twice for one
//! cycle; a level change without a history row.

pub mod api;
pub mod model;
pub mod store;

use std::collections::HashMap;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::Serialize;

use crate::error::ApiError;
use crate::store::{Db, Tx};
use crate::tenants::ShopError;
use model::TierProgram;
pub use store::TierChange;

/// Why a review or a member's standing could not be worked out.
#[derive(Debug, thiserror::Error)]
pub enum TierError {
    /// The shop's saved tier program could not be read.
    #[error("tier program: {0}")]
    Unreadable(String),
    #[error(transparent)]
    Shop(#[from] ShopError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl From<TierError> for ApiError {
    fn from(e: TierError) -> ApiError {
        match e {
            TierError::Unreadable(_) => ApiError::internal(e),
            TierError::Shop(e) => e.into(),
            TierError::Db(e) => e.into(),
        }
    }
}

/// The level a member holds, as the earning rules and the views need it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct HeldLevel {
    pub code: String,
    pub name: String,
    pub name_en: Option<String>,
    pub earn_percent: u32,
    pub benefits: Vec<String>,
}

/// The level at `index` of the program, as the earning rules and the views need it.
pub fn held(program: &TierProgram, index: usize) -> Option<HeldLevel> {
    program.levels.get(index).map(|l| HeldLevel {
        code: l.code.clone(),
        name: l.name.clone(),
        name_en: l.name_en.clone(),
        earn_percent: l.earn_percent,
        benefits: l.benefits.clone(),
    })
}

fn micros(t: Timestamp) -> i64 {
    t.as_microsecond()
}

fn ts(m: i64) -> Timestamp {
    crate::types::timestamp(m)
}

/// The level a member holds now, read in the caller's transaction; None when the shop
/// has no tier program on.
pub async fn held_tx(
    tx: &mut Tx,
    program: &TierProgram,
    tenant_id: i64,
    member_id: i64,
) -> sqlx::Result<Option<HeldLevel>> {
    if !program.enabled {
        return Ok(None);
    }
    let standing = store::standing_tx(tx, tenant_id, member_id).await?;
    let index = standing.map(|s| program.index_of(&s.level)).unwrap_or(0);
    Ok(held(program, index))
}

/// A member whose purchase may have lifted them to a higher level.
pub struct Qualifying<'a> {
    pub tenant_id: i64,
    pub member_id: i64,
    /// The index of the level they hold (see [`levels_held`]).
    pub current: usize,
    pub program: &'a TierProgram,
    pub tz: &'a TimeZone,
}

/// The index in its program of the level each member holds (0, the base level, when
/// none is stored), read in the caller's transaction with one query for all of them.
pub async fn levels_held(
    tx: &mut Tx,
    members: &[(i64, i64, &TierProgram)],
) -> sqlx::Result<Vec<usize>> {
    let keys: Vec<(i64, i64)> = members.iter().map(|&(t, m, _)| (t, m)).collect();
    let stored = store::levels_tx(tx, &keys).await?;
    Ok(members
        .iter()
        .map(|&(t, m, program)| stored.get(&(t, m)).map_or(0, |l| program.index_of(l)))
        .collect())
}

/// Upgrade each member whose metric in the current window now reaches a higher level.
/// Runs inside the purchases' transaction, after their points are posted, so an upgrade
/// never waits; one metric query per kind of metric, however many members. Returns the
/// change made for each member, in order.
pub async fn upgrade_qualified(
    tx: &mut Tx,
    members: &[Qualifying<'_>],
    now: i64,
) -> sqlx::Result<Vec<Option<TierChange>>> {
    let mut values = HashMap::new();
    let mut metrics = vec![];
    for q in members {
        if !metrics.contains(&q.program.metric) {
            metrics.push(q.program.metric);
        }
    }
    for metric in metrics {
        let windows: Vec<_> = members
            .iter()
            .filter(|q| q.program.enabled && q.program.metric == metric)
            .map(|q| {
                let from = micros(q.program.current_window_start(ts(now), q.tz));
                (q.tenant_id, q.member_id, from, now + 1)
            })
            .collect();
        values.extend(store::metric_values_tx(tx, metric, &windows).await?);
    }
    let mut changes = Vec::with_capacity(members.len());
    for q in members {
        let value = values
            .get(&(q.tenant_id, q.member_id))
            .copied()
            .unwrap_or(0);
        let (program, current) = (q.program, q.current);
        let qualified = program.qualified(value);
        if !program.enabled || qualified <= current {
            changes.push(None);
            continue;
        }
        let (from_code, to_code) = (
            program.levels[current].code.clone(),
            program.levels[qualified].code.clone(),
        );
        let review_at = program.next_review(ts(now), q.tz).map(micros);
        store::change_level(
            tx,
            q.tenant_id,
            q.member_id,
            &from_code,
            &to_code,
            review_at,
            "upgrade",
            value,
            now,
        )
        .await?;
        changes.push(Some(TierChange {
            from_level: from_code,
            to_level: to_code,
            reason: "upgrade".into(),
            metric_value: value,
            at: now,
        }));
    }
    Ok(changes)
}

/// What one review run did.
#[derive(Clone, Copy, Debug, Default, Serialize, utoipa::ToSchema)]
pub struct ReviewRun {
    /// Members whose cycle ended and were reviewed.
    pub reviewed: u64,
    pub downgraded: u64,
    pub upgraded: u64,
}

/// Review every member whose cycle has ended by `now`, across tenants. A member whose
/// reviews were missed (server down for months) is reviewed once per ended cycle, in
/// order. Running it again changes nothing. `tenant` limits the run to one shop.
pub async fn run_reviews(db: &Db, now: i64, tenant: Option<i64>) -> Result<ReviewRun, TierError> {
    let mut run = ReviewRun::default();
    let mut programs: HashMap<i64, (TierProgram, TimeZone)> = HashMap::new();
    loop {
        let due = store::due_reviews(db, now, tenant, 500).await?;
        if due.is_empty() {
            return Ok(run);
        }
        for (tenant_id, member_id) in due {
            if let std::collections::hash_map::Entry::Vacant(slot) = programs.entry(tenant_id) {
                let program = store::program(db, tenant_id).await?;
                let tz = crate::tenants::time_zone(db, tenant_id).await?;
                slot.insert((program, tz));
            }
            let (program, tz) = &programs[&tenant_id];
            review_member(db, program, tz, tenant_id, member_id, now, &mut run).await?;
        }
    }
}

async fn review_member(
    db: &Db,
    program: &TierProgram,
    tz: &TimeZone,
    tenant_id: i64,
    member_id: i64,
    now: i64,
    run: &mut ReviewRun,
) -> Result<(), TierError> {
    let mut tx = db.begin().await?;
    // Serialise with the member's purchases (which may upgrade them meanwhile).
    crate::ledger::lock_member(
        &mut tx,
        tenant_id,
        member_id,
        crate::ledger::model::Currency::Points,
    )
    .await?;
    let Some(standing) = store::standing_tx(&mut tx, tenant_id, member_id).await? else {
        return Ok(());
    };
    let Some(mut review_at) = standing.review_at.filter(|r| *r <= now) else {
        return Ok(()); // reviewed meanwhile by another run
    };
    let mut level = program.index_of(&standing.level);
    if !program.enabled || !program.reviews() || program.levels.is_empty() {
        // Tiers off (nothing changes while they are), or a program that never reviews.
        let next = program
            .next_review(ts(now), tz)
            .map(micros)
            .filter(|_| program.enabled);
        store::change_level(
            &mut tx,
            tenant_id,
            member_id,
            &standing.level,
            &standing.level,
            next,
            "review",
            0,
            now,
        )
        .await?;
        tx.commit().await?;
        return Ok(());
    }
    let start_code = standing.level.clone();
    loop {
        let from = micros(program.review_window_start(ts(review_at), tz));
        let value = store::metric_value_tx(
            &mut tx,
            tenant_id,
            member_id,
            program.metric,
            from,
            review_at,
        )
        .await?;
        let new_level = program.review(level, program.qualified(value));
        let next = program.next_review(ts(review_at), tz).map(micros);
        let (from_code, to_code) = (
            program.levels[level].code.clone(),
            program.levels[new_level].code.clone(),
        );
        store::change_level(
            &mut tx, tenant_id, member_id, &from_code, &to_code, next, "review", value, review_at,
        )
        .await?;
        run.reviewed += 1;
        match new_level.cmp(&level) {
            std::cmp::Ordering::Less => run.downgraded += 1,
            std::cmp::Ordering::Greater => run.upgraded += 1,
            std::cmp::Ordering::Equal => {}
        }
        level = new_level;
        match next {
            Some(n) if n <= now && n > review_at => review_at = n,
            _ => break,
        }
    }
    if start_code != program.levels[level].code {
        tracing::debug!(tenant_id, member_id, from = %start_code, to = %program.levels[level].code, "tier review");
    }
    tx.commit().await?;
    Ok(())
}

/// Where a member stands and what the next step is.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct TierStatus {
    pub enabled: bool,
    pub metric: model::Metric,
    pub window: model::Window,
    /// The level held (absent when tiers are off).
    pub level: Option<HeldLevel>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub since: Option<Timestamp>,
    /// When the level is next reviewed (cycle end); absent = never.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub review_at: Option<Timestamp>,
    /// The metric so far in the current window.
    pub value: i64,
    /// The next level up and how much more the metric needs.
    pub next: Option<NextLevel>,
    /// What keeps the current level at its review.
    pub keep: Option<KeepLevel>,
    /// Most recent changes first.
    pub history: Vec<TierChange>,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct NextLevel {
    pub code: String,
    pub name: String,
    pub threshold: i64,
    pub remaining: i64,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct KeepLevel {
    pub threshold: i64,
    /// The metric so far in the window the review will measure.
    pub value: i64,
    pub remaining: i64,
    #[schema(value_type = String, format = DateTime)]
    pub by: Timestamp,
}

/// A member's tier, progress to the next level and what keeps the current one.
pub async fn status(
    db: &Db,
    tenant_id: i64,
    member_id: i64,
    now: i64,
) -> Result<TierStatus, TierError> {
    let program = store::program(db, tenant_id).await?;
    let tz = crate::tenants::time_zone(db, tenant_id).await?;
    let history = store::history(db, tenant_id, member_id, 20).await?;
    let standing = store::standing(db, tenant_id, member_id).await?;
    let index = standing
        .as_ref()
        .map(|s| program.index_of(&s.level))
        .unwrap_or(0);
    let from = micros(program.current_window_start(ts(now), &tz));
    let value =
        store::metric_value(db, tenant_id, member_id, program.metric, from, now + 1).await?;
    let next = program
        .levels
        .get(index + 1)
        .filter(|_| program.enabled)
        .map(|l| NextLevel {
            code: l.code.clone(),
            name: l.name.clone(),
            threshold: l.threshold,
            remaining: (l.threshold - value).max(0),
        });
    let review_at = standing
        .as_ref()
        .and_then(|s| s.review_at)
        .filter(|_| program.enabled && program.reviews());
    let keep = match review_at {
        Some(r) if index > 0 && program.downgrade != model::Downgrade::Never => {
            let threshold = program.levels[index].threshold;
            let from = micros(program.review_window_start(ts(r), &tz));
            let kept = store::metric_value(db, tenant_id, member_id, program.metric, from, now + 1)
                .await?;
            Some(KeepLevel {
                threshold,
                value: kept,
                remaining: (threshold - kept).max(0),
                by: ts(r),
            })
        }
        _ => None,
    };
    Ok(TierStatus {
        enabled: program.enabled,
        metric: program.metric,
        window: program.window,
        level: if program.enabled {
            held(&program, index)
        } else {
            None
        },
        since: standing
            .as_ref()
            .map(|s| ts(s.since))
            .filter(|_| program.enabled && index > 0),
        review_at: review_at.map(ts),
        value,
        next,
        keep,
        history,
    })
}
