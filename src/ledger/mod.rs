//! The points ledger: an immutable double-entry record of every change to a member's
//! points or stamps, with lots that expire and debits that consume the soonest-expiring
//! lots first.
//!
//! Must never happen: a balance change that does not go through [`store::post`]; a
//! transaction whose entries do not sum to zero; a debit that takes a balance below zero
//! (only a refund may, under the `allow_negative` policy); the same idempotency key or
//! receipt granting points twice; a float anywhere near an amount.

pub mod api;
pub mod model;
pub mod store;

use crate::audit::{self, ActorRef, Change};
use crate::error::{ApiError, Code};
use crate::http::context::RequestMeta;
use crate::store::Db;
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
        let details = serde_json::json!({"member_id": posting.member_id, "currency": posting.currency.as_str(), "points": posted.points, "receipt": posting.receipt, "reason": posting.reason});
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

/// Expire every lot past its date, across tenants, in batches. Each lot's expiry is its
/// own idempotent posting (key `expire:<lot>`), so a re-run, or two runs at once, change
/// nothing twice. Returns (lots expired, points expired).
pub async fn run_expiry(db: &Db, now: i64) -> Result<(u64, i64), ApiError> {
    let meta = RequestMeta {
        request_id: format!("expiry-{now}"),
        ip: "local".into(),
    };
    let (mut lots, mut points) = (0u64, 0i64);
    loop {
        let due = store::due_lots(db, now, 500).await?;
        if due.is_empty() {
            return Ok((lots, points));
        }
        for lot in due {
            let posting = Posting {
                currency: model::Currency::from_db(&lot.currency),
                idem_key: format!("expire:{}", lot.id),
                request_hash: format!("expire:{}", lot.id),
                lot_id: Some(lot.id),
                reason: Some("expired".into()),
                occurred_at: now,
                ..Posting::blank(lot.tenant_id, lot.member_id, Kind::Expire)
            };
            match post_one(
                db,
                &posting,
                ActorRef {
                    kind: "system",
                    id: None,
                    label: "expiry",
                },
                &meta,
                "points.expired",
            )
            .await
            {
                Ok(p) => {
                    lots += 1;
                    points -= p.points;
                }
                // Closed meanwhile by another run: nothing to do.
                Err(e) if e.code == Code::NothingToUndo => {}
                Err(e) => return Err(e),
            }
        }
    }
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
