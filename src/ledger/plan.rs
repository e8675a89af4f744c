//! What a posting writes, decided without the database: the member's account as its
//! balance row holds it, the posting, the facts its kind needs (open lots, what a
//! redemption took, the lots an expiry closes) and the shop's rules go in; the rows come
//! out. The writer ([`super::store`]) reads those facts under the member's lock, plans
//! every posting of a transaction with this one function and writes all of them with one
//! set of multi-row statements, whether it is one redemption, a group of purchases or an
//! expiry batch.

use jiff::tz::TimeZone;

use super::model::{LedgerSettings, MAX_POINTS, OpenLot, RefundPolicy, fefo_order, plan_debit};
use super::posting::{Kind, LedgerError, Posting, ShopRules};
use crate::money::Points;

/// A member's account in one currency: what its balance row holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Account {
    pub balance: Points,
    /// Points owed from refunds of points already spent; new credits repay it first.
    pub debt: Points,
}

/// What the planner needs to know beside the account, by kind of posting.
#[derive(Clone, Copy, Debug)]
pub enum Facts<'a> {
    /// A credit (earn, bonus, opening, adjustment): nothing more.
    Credit,
    /// A redemption or a debit adjustment: the member's open lots.
    Debit { lots: &'a [OpenLot] },
    /// A refund: the member's open lots, and the lot the purchase opened if it is open.
    Reversal {
        lots: &'a [OpenLot],
        source_lot: Option<i64>,
    },
    /// A cancelled redemption: what the redemption took from each lot (lot, points), and
    /// whether it was cancelled before.
    Cancel {
        taken: &'a [(i64, i64)],
        cancelled_before: bool,
    },
    /// An expiry: the member's due lots (lot, points left), all of which it closes.
    Expiry { due: &'a [(i64, i64)] },
}

/// A lot a credit opens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NewLot {
    pub id: i64,
    pub amount: Points,
    /// Spendable from (0 = at once).
    pub pending_until: i64,
    pub expires_at: Option<i64>,
}

/// The rows one posting writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Planned {
    pub txn_id: i64,
    /// The change to the balance (negative for debits); the member's entry, and minus it
    /// the system account's.
    pub applied: Points,
    /// Points a refund could not take back (policy `within_balance`).
    pub uncollected: Points,
    pub new_lot: Option<NewLot>,
    /// Points taken from lots (lot, points); negative gives back.
    pub allocations: Vec<(i64, i64)>,
    /// The account after the posting.
    pub after: Account,
}

/// Plan `p` on `account` under its shop's `rules`, as transaction `txn_id`, at `now`. `new_id` gives the id of a
/// lot the posting opens (called only when it opens one). Refused, with nothing planned:
/// a movement or balance past [`MAX_POINTS`], a debit past what is spendable, an undo of
/// nothing, and facts that do not fit the kind.
pub fn plan(
    account: Account,
    p: &Posting,
    facts: Facts<'_>,
    rules: ShopRules<'_>,
    now: i64,
    txn_id: i64,
    new_id: &mut dyn FnMut() -> i64,
) -> Result<Planned, LedgerError> {
    // Every amount here is within MAX_POINTS (checked first, or held under it by the
    // limits below), so the arithmetic on the plain integers cannot overflow.
    let (mut balance, mut debt, amount) =
        (account.balance.get(), account.debt.get(), p.amount.get());
    if !(0..=MAX_POINTS).contains(&amount)
        || (p.kind.is_credit() && amount > 0 && balance.saturating_add(amount) > MAX_POINTS)
    {
        return Err(LedgerError::PointsLimit);
    }
    let mut new_lot = None;
    let mut allocations = vec![];
    let mut uncollected = 0;
    let applied = match (p.kind, facts) {
        (Kind::Earn | Kind::Bonus | Kind::Opening | Kind::AdjustCredit, Facts::Credit) => {
            // Points owed from earlier refunds are repaid before a new lot is opened.
            let repay = amount.min(debt);
            debt -= repay;
            let opened = amount - repay;
            if opened > 0 {
                let (pending_until, expires_at) = lot_dates(p, rules.settings, rules.time_zone);
                new_lot = Some(NewLot {
                    id: new_id(),
                    amount: Points::new(opened),
                    pending_until,
                    expires_at,
                });
            }
            amount
        }
        (
            Kind::RedeemCancel,
            Facts::Cancel {
                taken,
                cancelled_before,
            },
        ) => {
            if p.reverses_id.is_none() {
                return Err(LedgerError::NothingToUndo("no redemption given"));
            }
            if cancelled_before {
                return Err(LedgerError::NothingToUndo(
                    "this redemption was already cancelled",
                ));
            }
            if taken.is_empty() {
                return Err(LedgerError::NothingToUndo(
                    "no such redemption for this member",
                ));
            }
            // The points go back to the lots they came from, with their expiry dates.
            allocations = taken.iter().map(|&(lot, amount)| (lot, -amount)).collect();
            taken.iter().map(|&(_, amount)| amount).sum()
        }
        (Kind::Redeem | Kind::AdjustDebit, Facts::Debit { lots }) => {
            let spendable_lots: i64 = lots
                .iter()
                .filter(|l| l.spendable(now))
                .map(|l| l.remaining)
                .sum();
            let spendable = spendable_lots.min(balance).max(0);
            if amount > spendable {
                return Err(LedgerError::InsufficientPoints {
                    available: spendable,
                });
            }
            allocations = plan_debit(lots, amount, now)
                .map_err(|available| LedgerError::InsufficientPoints { available })?;
            -amount
        }
        (Kind::Reversal, Facts::Reversal { lots, source_lot }) => {
            if p.reverses_id.is_none() {
                return Err(LedgerError::NothingToUndo("no purchase given"));
            }
            // The purchase's own lot first, then the others soonest-expiring first
            // (pending points included: a return window is what they are for).
            let mut lots = lots.to_vec();
            fefo_order(&mut lots);
            if let Some(source) = source_lot {
                lots.sort_by_key(|l| l.id != source);
            }
            let mut left = amount;
            for lot in lots.iter().filter(|l| l.remaining > 0) {
                if left == 0 {
                    break;
                }
                let take = lot.remaining.min(left);
                allocations.push((lot.id, take));
                left -= take;
            }
            match rules.settings.refund_policy {
                RefundPolicy::AllowNegative => {
                    debt += left;
                    -amount
                }
                RefundPolicy::WithinBalance => {
                    // Lots can exceed the balance only when there is debt; never take more
                    // than the balance holds.
                    uncollected = left;
                    -(amount - left)
                }
            }
        }
        (Kind::Expire, Facts::Expiry { due }) => {
            allocations = due.to_vec();
            -due.iter().map(|&(_, points)| points).sum::<i64>()
        }
        // A single posting of kind expire has no due lots to close: points expire only
        // through an expiry run, set-based and in member order.
        (Kind::Expire, _) => return Err(LedgerError::ExpiryIsARun),
        (kind, facts) => {
            return Err(LedgerError::FactsDoNotFit(format!(
                "{} planned with {facts:?}",
                kind.as_str()
            )));
        }
    };
    balance += applied;
    // A cancelled redemption's points return on top of later credits; refunds grow debt.
    // Only a movement that raises a balance or debt past the limit is refused (one held
    // from before the limit may still shrink).
    if (balance > MAX_POINTS && balance > account.balance.get())
        || (debt > MAX_POINTS && debt > account.debt.get())
    {
        return Err(LedgerError::PointsLimit);
    }
    Ok(Planned {
        txn_id,
        applied: Points::new(applied),
        uncollected: Points::new(uncollected),
        new_lot,
        allocations,
        after: Account {
            balance: Points::new(balance),
            debt: Points::new(debt),
        },
    })
}

/// When a new lot from this credit becomes spendable and when it expires.
fn lot_dates(p: &Posting, settings: &LedgerSettings, time_zone: &TimeZone) -> (i64, Option<i64>) {
    let earned = jiff::Timestamp::from_microsecond(p.occurred_at).unwrap_or(jiff::Timestamp::now());
    let expires_at = settings
        .expiry
        .expires_at(earned, time_zone)
        .map(|t| t.as_microsecond());
    // Only purchases wait out the return window; bonuses are spendable at once.
    let pending_until = if p.kind == Kind::Earn && settings.pending_days > 0 {
        p.occurred_at + i64::from(settings.pending_days) * 86_400_000_000
    } else {
        0
    };
    (pending_until, expires_at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn posting(kind: Kind, amount: i64) -> Posting {
        Posting {
            amount: Points::new(amount),
            reverses_id: Some(1),
            occurred_at: 0,
            ..Posting::blank(1, 1, kind)
        }
    }

    fn planned(account: Account, p: &Posting, facts: Facts<'_>) -> Result<Planned, LedgerError> {
        let settings = LedgerSettings::default();
        let mut next = 100;
        let rules = ShopRules {
            settings: &settings,
            time_zone: &TimeZone::UTC,
        };
        plan(account, p, facts, rules, 0, 1, &mut || {
            next += 1;
            next
        })
    }

    fn account(balance: i64, debt: i64) -> Account {
        Account {
            balance: Points::new(balance),
            debt: Points::new(debt),
        }
    }

    fn lot(id: i64, remaining: i64) -> OpenLot {
        OpenLot {
            id,
            remaining,
            pending_until: 0,
            expires_at: None,
        }
    }

    #[test]
    fn a_credit_repays_debt_before_it_opens_a_lot() {
        let owed = account(-30, 30);
        let p = planned(owed, &posting(Kind::Earn, 50), Facts::Credit).unwrap();
        assert_eq!(p.applied, Points::new(50));
        assert_eq!(p.new_lot.map(|l| l.amount), Some(Points::new(20)));
        assert_eq!(p.after, account(20, 0));
        let all_owed = planned(owed, &posting(Kind::Earn, 30), Facts::Credit).unwrap();
        assert_eq!(all_owed.new_lot, None);
    }

    #[test]
    fn facts_of_another_kind_are_refused_and_a_lone_expiry_too() {
        let account = Account::default();
        assert!(matches!(
            planned(account, &posting(Kind::Redeem, 1), Facts::Credit),
            Err(LedgerError::FactsDoNotFit(_))
        ));
        assert!(matches!(
            planned(account, &posting(Kind::Expire, 1), Facts::Credit),
            Err(LedgerError::ExpiryIsARun)
        ));
    }

    #[test]
    fn a_refund_takes_the_purchases_own_lot_first_and_what_is_missing_becomes_debt() {
        let lots = [lot(7, 10), lot(8, 5)];
        let held = account(15, 0);
        let facts = Facts::Reversal {
            lots: &lots,
            source_lot: Some(8),
        };
        let p = planned(held, &posting(Kind::Reversal, 20), facts).unwrap();
        assert_eq!(p.allocations, vec![(8, 5), (7, 10)]);
        assert_eq!(p.after, account(-5, 5));
    }

    proptest! {
        /// Whatever the kind, a plan's allocations never take more from a lot than it
        /// holds, a debit takes exactly its amount from the lots, and the account moves by
        /// exactly what is applied.
        #[test]
        fn plans_move_the_account_by_what_they_apply(
            remaining in proptest::collection::vec(0i64..1_000, 0..6),
            amount in 0i64..3_000,
            debt in 0i64..500,
            kind in prop_oneof![Just(Kind::Earn), Just(Kind::Redeem), Just(Kind::Reversal), Just(Kind::Expire)],
        ) {
            let lots: Vec<OpenLot> = remaining.iter().enumerate().map(|(i, &r)| lot(i as i64, r)).collect();
            let held: i64 = remaining.iter().sum();
            let account = account(held - debt, debt);
            let due: Vec<(i64, i64)> = lots.iter().map(|l| (l.id, l.remaining)).collect();
            let facts = match kind {
                Kind::Earn => Facts::Credit,
                Kind::Redeem => Facts::Debit { lots: &lots },
                Kind::Reversal => Facts::Reversal { lots: &lots, source_lot: None },
                _ => Facts::Expiry { due: &due },
            };
            match planned(account, &posting(kind, amount), facts) {
                Ok(p) => {
                    prop_assert_eq!(p.after.balance.get(), account.balance.get() + p.applied.get());
                    for &(id, take) in &p.allocations {
                        prop_assert!(take <= lots[id as usize].remaining);
                    }
                    let taken: i64 = p.allocations.iter().map(|a| a.1).sum();
                    match kind {
                        Kind::Redeem => prop_assert_eq!(taken, amount),
                        Kind::Reversal => prop_assert_eq!(taken + (p.after.debt.get() - debt), amount),
                        Kind::Expire => prop_assert_eq!(taken, held),
                        _ => prop_assert_eq!(taken, 0),
                    }
                }
                Err(LedgerError::InsufficientPoints { available }) => {
                    prop_assert_eq!(kind, Kind::Redeem);
                    prop_assert!(available < amount);
                }
                Err(e) => prop_assert!(false, "{e}"),
            }
        }
    }
}
