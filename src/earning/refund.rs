//! Refunds: a purchase's points and stamps taken back, in full, by an amount or by line.
//! By an amount, in proportion to the refunded share of the bill; by line, what those
//! lines earned ([`RecordedLine`]), multipliers included, so refunding a pastry bought
//! with a double-points coffee takes back the pastry's points, not a share of the
//! coffee's. Computed under the member's lock, so two refunds of one purchase at once
//! cannot both take back the same share; a refund that makes the bill whole takes back
//! exactly what is left of the purchase's points.

use serde::{Deserialize, Serialize};

use super::RecordedLine;
use crate::audit::{self, ActorRef, Change, RequestMeta};
use crate::error::{ApiError, Code};
use crate::ledger::{self, Kind, LedgerError, Posting, RefundsSoFar, model};
use crate::money::{Points, Satang};
use crate::store::Db;
use crate::tenants::time_zone as tenant_time_zone;

/// Units of one line of the bill to refund.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineRefund {
    /// The line's position in the purchase's `items`, from 0.
    pub line: usize,
    /// Units of it refunded (at least 1, at most what is left).
    pub quantity: i64,
}

/// What a refund took back from one line; kept in the reversal's details.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineTaken {
    pub line: usize,
    pub quantity: i64,
    pub points: i64,
    pub stamps: i64,
}

/// A refund to record (already validated by the caller).
pub struct RefundInput {
    pub tenant_id: i64,
    pub receipt: String,
    /// The POS's refund id: a retry with it changes nothing.
    pub refund_id: String,
    /// Satang refunded; None = everything not yet refunded. Unused when `lines` are given.
    pub amount_satang: Option<i64>,
    /// Lines refunded, instead of an amount.
    pub lines: Vec<LineRefund>,
}

#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct RefundResult {
    pub reversal_id: i64,
    /// Satang refunded.
    pub amount_satang: i64,
    /// Points taken back (negative).
    pub points: i64,
    /// Stamps taken back (negative).
    pub stamps: i64,
    /// Points the policy could not take back.
    pub uncollected: i64,
    pub balance: i64,
    pub replayed: bool,
}

/// Why a refund was refused. The API turns it into its answer, naming the request's
/// field at fault ([`From<RefundError> for ApiError`]).
#[derive(Debug, thiserror::Error)]
pub enum RefundError {
    #[error("no purchase has this receipt")]
    NoSuchPurchase,
    #[error("this purchase is already fully refunded")]
    AlreadyRefunded,
    #[error("at most {left} satang remain to refund")]
    MoreThanLeft { left: i64 },
    #[error("this purchase was recorded without lines; refund an amount instead")]
    NoLines,
    #[error("the bill has no line {line} (its lines are numbered from 0 to {last})")]
    NoSuchLine { at: usize, line: usize, last: usize },
    #[error("name each line once")]
    LineRepeated { at: usize },
    #[error("refund between 1 and {left} of this line")]
    Quantity { at: usize, left: i64 },
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Shop(#[from] crate::tenants::ShopError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl From<RefundError> for ApiError {
    fn from(e: RefundError) -> ApiError {
        let message = e.to_string();
        match e {
            RefundError::NoSuchPurchase => ApiError::field(Code::NotFound, "receipt", message),
            RefundError::AlreadyRefunded => ApiError::new(Code::NothingToUndo, message),
            RefundError::MoreThanLeft { .. } => ApiError::invalid("amount_satang", message),
            RefundError::NoLines => ApiError::invalid("lines", message),
            RefundError::NoSuchLine { at, .. } | RefundError::LineRepeated { at } => {
                ApiError::invalid(format!("lines[{at}].line"), message)
            }
            RefundError::Quantity { at, .. } => {
                ApiError::invalid(format!("lines[{at}].quantity"), message)
            }
            RefundError::Ledger(e) => e.into(),
            RefundError::Shop(e) => e.into(),
            RefundError::Db(e) => e.into(),
        }
    }
}

/// What earlier refunds took back from each of a bill's `n` lines, from the reversals'
/// details (a refund by amount takes nothing from a line).
pub fn taken_by_line<'a>(reversals: impl IntoIterator<Item = &'a str>, n: usize) -> Vec<LineTaken> {
    let mut taken: Vec<LineTaken> = (0..n)
        .map(|line| LineTaken {
            line,
            ..LineTaken::default()
        })
        .collect();
    for details in reversals {
        let v: serde_json::Value = serde_json::from_str(details).unwrap_or_default();
        let lines: Vec<LineTaken> = serde_json::from_value(v["lines"].clone()).unwrap_or_default();
        for l in lines {
            if let Some(t) = taken.get_mut(l.line) {
                t.quantity += l.quantity;
                t.points += l.points;
                t.stamps += l.stamps;
            }
        }
    }
    taken
}

/// What refunding `ask` takes from each line: the line's points and stamps in
/// proportion to the units refunded, counted on the running total so that refunding a
/// line unit by unit takes back exactly what refunding it at once would.
pub fn plan_lines(
    lines: &[RecordedLine],
    before: &[LineTaken],
    ask: &[LineRefund],
) -> Result<Vec<LineTaken>, RefundError> {
    let mut plan: Vec<LineTaken> = Vec::with_capacity(ask.len());
    for (at, a) in ask.iter().enumerate() {
        let Some(line) = lines.get(a.line) else {
            return Err(RefundError::NoSuchLine {
                at,
                line: a.line,
                last: lines.len().saturating_sub(1),
            });
        };
        if plan.iter().any(|p| p.line == a.line) {
            return Err(RefundError::LineRepeated { at });
        }
        let prior = before.get(a.line).copied().unwrap_or_default();
        let left = line.quantity - prior.quantity;
        if a.quantity < 1 || a.quantity > left {
            return Err(RefundError::Quantity { at, left });
        }
        let done = prior.quantity + a.quantity;
        let share = |of: i64, taken: i64| {
            let target = (i128::from(of) * i128::from(done) / i128::from(line.quantity)) as i64;
            (target - taken).max(0)
        };
        plan.push(LineTaken {
            line: a.line,
            quantity: a.quantity,
            points: share(line.points, prior.points),
            stamps: share(line.stamps, prior.stamps),
        });
    }
    Ok(plan)
}

/// What one refund takes back: satang, and points and stamps as the lines give them
/// (`None`: in proportion to the satang).
struct Take {
    satang: i64,
    by_line: Option<Vec<LineTaken>>,
}

/// Refund a purchase in full, by an amount or by line (see the module documentation).
pub async fn refund_purchase(
    db: &Db,
    r: &RefundInput,
    actor: ActorRef<'_>,
    meta: &RequestMeta,
) -> Result<RefundResult, RefundError> {
    let tenant = r.tenant_id;
    let purchase = ledger::find_purchase(db, tenant, &r.receipt)
        .await?
        .ok_or(RefundError::NoSuchPurchase)?;
    let settings = ledger::settings(db, tenant).await?;
    let tz = tenant_time_zone(db, tenant).await?;
    let rules = || ledger::ShopRules::new(&settings, &tz);
    let mut tx = db.begin().await?;
    let so_far =
        ledger::refund_state_locked(&mut tx, tenant, purchase.member_id, purchase.id).await?;
    let bill = purchase.bill_satang.unwrap_or(0);
    let key = format!("refund:{}:{}", r.receipt, r.refund_id);
    let request_hash = if r.lines.is_empty() {
        format!("{:?}", r.amount_satang)
    } else {
        format!("lines {:?}", r.lines)
    };
    let take =
        match ledger::txn_by_key_full(&mut tx, tenant, &key).await? {
            // A retry: the ledger answers with the first result.
            Some(prior) => Take {
                satang: serde_json::from_str::<serde_json::Value>(&prior.details)
                    .unwrap_or_default()["satang"]
                    .as_i64()
                    .unwrap_or(0),
                by_line: None,
            },
            None => plan(r, &purchase, &so_far)?,
        };
    let whole = so_far.satang + take.satang >= bill;
    let points = |earned: i64, before: &RefundsSoFar, by_line: Option<i64>| match by_line {
        _ if whole => (earned - before.points).max(0),
        Some(lines) => lines.min((earned - before.points).max(0)),
        None => model::refund_points(earned, bill, before.satang, take.satang, before.points),
    };
    let line_sum = |f: fn(&LineTaken) -> i64| {
        take.by_line
            .as_ref()
            .map(|lines| lines.iter().map(f).sum::<i64>())
    };
    let mut details = serde_json::json!({"refund_id": r.refund_id, "satang": take.satang});
    if let Some(lines) = &take.by_line {
        details["lines"] = serde_json::json!(lines);
    }
    let posting = Posting {
        amount: Points::new(points(purchase.amount, &so_far, line_sum(|l| l.points))),
        idem_key: key,
        request_hash,
        receipt: Some(r.receipt.clone()),
        branch_id: purchase.branch_id,
        bill_satang: Some(Satang::new(take.satang)),
        reverses_id: Some(purchase.id),
        reason: Some(format!("refund {}", r.refund_id)),
        actor_kind: actor.kind.to_string(),
        actor_id: actor.id,
        details,
        ..Posting::blank(tenant, purchase.member_id, Kind::Reversal)
    };
    let posted = ledger::post(&mut tx, &posting, rules()).await?;
    // Stamps earned on the bill are taken back the same way.
    let mut stamps = 0;
    if let Some(stamp_txn) = ledger::txn_by_key_full(
        &mut tx,
        tenant,
        &format!("{}:stamps", ledger::purchase_key(&r.receipt)),
    )
    .await?
    {
        let stamps_so_far =
            ledger::refund_state_locked(&mut tx, tenant, purchase.member_id, stamp_txn.id).await?;
        let reversal = Posting {
            currency: model::Currency::Stamps,
            amount: Points::new(points(
                stamp_txn.amount,
                &stamps_so_far,
                line_sum(|l| l.stamps),
            )),
            idem_key: format!("{}:stamps", posting.idem_key),
            reverses_id: Some(stamp_txn.id),
            ..posting.clone()
        };
        stamps = ledger::post(&mut tx, &reversal, rules())
            .await?
            .points
            .get();
    }
    if !posted.replayed {
        let details = serde_json::json!({"receipt": posting.receipt, "refund_satang": take.satang, "points": posted.points, "stamps": stamps, "uncollected": posted.uncollected, "lines": take.by_line});
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
        amount_satang: take.satang,
        points: posted.points.get(),
        stamps,
        uncollected: posted.uncollected.get(),
        balance: posted.balance.get(),
        replayed: posted.replayed,
    })
}

/// What a new refund takes, or why it cannot be made.
fn plan(
    r: &RefundInput,
    purchase: &ledger::PurchaseRecord,
    so_far: &RefundsSoFar,
) -> Result<Take, RefundError> {
    let bill = purchase.bill_satang.unwrap_or(0);
    let left = bill - so_far.satang;
    if left <= 0 {
        return Err(RefundError::AlreadyRefunded);
    }
    if r.lines.is_empty() {
        return match r.amount_satang {
            Some(a) if a > left => Err(RefundError::MoreThanLeft { left }),
            a => Ok(Take {
                satang: a.unwrap_or(left),
                by_line: None,
            }),
        };
    }
    let details: serde_json::Value = serde_json::from_str(&purchase.details).unwrap_or_default();
    let lines: Vec<RecordedLine> =
        serde_json::from_value(details["items"].clone()).unwrap_or_default();
    if lines.is_empty() {
        return Err(RefundError::NoLines);
    }
    let before = taken_by_line(so_far.details.iter().map(String::as_str), lines.len());
    let by_line = plan_lines(&lines, &before, &r.lines)?;
    let satang = by_line
        .iter()
        .map(|t| lines[t.line].unit_price_satang.saturating_mul(t.quantity))
        .fold(0i64, i64::saturating_add);
    if satang > left {
        return Err(RefundError::MoreThanLeft { left });
    }
    Ok(Take {
        satang,
        by_line: Some(by_line),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn line(quantity: i64, points: i64, stamps: i64) -> RecordedLine {
        RecordedLine {
            sku: "S".into(),
            name: None,
            category: None,
            quantity,
            unit_price_satang: 1_000,
            points,
            stamps,
            refunded_quantity: 0,
        }
    }

    #[test]
    fn a_line_refund_names_what_is_wrong() {
        let lines = [line(2, 10, 2), line(1, 5, 0)];
        let before = taken_by_line([], 2);
        let ask = |line, quantity| LineRefund { line, quantity };
        assert!(matches!(
            plan_lines(&lines, &before, &[ask(2, 1)]),
            Err(RefundError::NoSuchLine {
                at: 0,
                line: 2,
                last: 1
            })
        ));
        assert!(matches!(
            plan_lines(&lines, &before, &[ask(0, 1), ask(0, 1)]),
            Err(RefundError::LineRepeated { at: 1 })
        ));
        assert!(matches!(
            plan_lines(&lines, &before, &[ask(1, 0)]),
            Err(RefundError::Quantity { at: 0, left: 1 })
        ));
        let first = plan_lines(&lines, &before, &[ask(0, 1)]).unwrap();
        assert_eq!((first[0].points, first[0].stamps), (5, 1));
        let details = serde_json::json!({"lines": first}).to_string();
        let before = taken_by_line([details.as_str()], 2);
        assert!(matches!(
            plan_lines(&lines, &before, &[ask(0, 2)]),
            Err(RefundError::Quantity { at: 0, left: 1 })
        ));
    }

    proptest! {
        /// Refunding a line unit by unit takes back exactly what the line earned.
        #[test]
        fn unit_by_unit_takes_back_the_whole_line(quantity in 1i64..40, points in 0i64..10_000, stamps in 0i64..50, cut in proptest::collection::vec(1i64..5, 1..20)) {
            let lines = [line(quantity, points, stamps)];
            let mut reversals: Vec<String> = vec![];
            let mut left = quantity;
            for c in cut.into_iter().chain(std::iter::repeat(1)) {
                if left == 0 { break; }
                let q = c.min(left);
                let before = taken_by_line(reversals.iter().map(String::as_str), 1);
                let taken = plan_lines(&lines, &before, &[LineRefund { line: 0, quantity: q }]).unwrap();
                prop_assert!(taken[0].points >= 0 && taken[0].stamps >= 0);
                reversals.push(serde_json::json!({"lines": taken}).to_string());
                left -= q;
            }
            let all = taken_by_line(reversals.iter().map(String::as_str), 1);
            prop_assert_eq!((all[0].quantity, all[0].points, all[0].stamps), (quantity, points, stamps));
        }
    }
}
