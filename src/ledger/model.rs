//! The ledger's rules as pure functions: how many points a bill earns, when a lot
//! expires, which lots a debit takes, how much a refund reverses. No I/O here.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use serde::{Deserialize, Serialize};

use crate::money::Satang;

/// The largest amount (points or satang) a single request may carry: keeps every sum of
/// a member's history far inside i64 and every product inside i128.
pub const MAX_AMOUNT: i64 = 1_000_000_000_000;

/// The most points (or stamps) one movement may move and one balance or debt may hold:
/// 100 billion. A shop's sum of balances then stays within 64 bits for up to 92 million
/// members, so reports and `verify` never overflow; a movement past it is refused.
pub const MAX_POINTS: i64 = 100_000_000_000;

/// Which balance an entry moves.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
    Default,
)]
#[serde(rename_all = "snake_case")]
pub enum Currency {
    #[default]
    Points,
    Stamps,
}

impl Currency {
    pub fn as_str(self) -> &'static str {
        match self {
            Currency::Points => "points",
            Currency::Stamps => "stamps",
        }
    }
    pub fn from_db(s: &str) -> Currency {
        if s == "stamps" {
            Currency::Stamps
        } else {
            Currency::Points
        }
    }
}

/// A tenant's ledger rules.
#[derive(Clone, Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct LedgerSettings {
    pub earn: EarnRate,
    pub expiry: ExpiryPolicy,
    /// Points from purchases become spendable this many days later (0 = at once).
    pub pending_days: u16,
    pub refund_policy: RefundPolicy,
    /// Points granted to every new member.
    pub welcome_points: i64,
    /// What one point is worth to the shop, in satang (what a point saves a member at
    /// the rewards, as the accountant values it): the points liability in baht is the
    /// outstanding points times this. 0 = not set.
    #[serde(default)]
    pub point_value_satang: i64,
}

impl Default for LedgerSettings {
    fn default() -> Self {
        LedgerSettings {
            earn: EarnRate::default(),
            expiry: ExpiryPolicy::Never,
            pending_days: 0,
            refund_policy: RefundPolicy::AllowNegative,
            welcome_points: 0,
            point_value_satang: 0,
        }
    }
}

/// How a fractional number of points is turned into a whole one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum Rounding {
    /// Round down (the usual rule: 249 THB at 1 point per 25 THB gives 9 points).
    #[default]
    Floor,
    /// Round half up.
    Nearest,
    /// Round up.
    Ceil,
}

impl Rounding {
    pub fn as_str(self) -> &'static str {
        match self {
            Rounding::Floor => "floor",
            Rounding::Nearest => "nearest",
            Rounding::Ceil => "ceil",
        }
    }
    pub fn from_db(s: &str) -> Rounding {
        match s {
            "nearest" => Rounding::Nearest,
            "ceil" => Rounding::Ceil,
            _ => Rounding::Floor,
        }
    }

    /// `numerator / denominator` rounded; both non-negative, denominator positive.
    pub fn divide(self, numerator: i128, denominator: i128) -> i128 {
        let (q, r) = (numerator / denominator, numerator % denominator);
        match self {
            Rounding::Floor => q,
            Rounding::Ceil => q + i128::from(r > 0),
            Rounding::Nearest => q + i128::from(2 * r >= denominator),
        }
    }
}

/// The base earning rate: `points` for every `spend_satang` spent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EarnRate {
    /// Spend that earns `points`, in satang (2500 = 25 THB).
    pub spend_satang: i64,
    pub points: i64,
    pub rounding: Rounding,
    /// Bills below this earn nothing.
    pub min_spend_satang: i64,
}

impl Default for EarnRate {
    fn default() -> Self {
        EarnRate {
            spend_satang: 2500,
            points: 1,
            rounding: Rounding::Floor,
            min_spend_satang: 0,
        }
    }
}

impl EarnRate {
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if !(1..=MAX_AMOUNT).contains(&self.spend_satang) {
            return Err(("spend_satang", "must be between 1 and 10^12".into()));
        }
        if !(0..=10_000).contains(&self.points) {
            return Err(("points", "must be between 0 and 10,000".into()));
        }
        if !(0..=MAX_AMOUNT).contains(&self.min_spend_satang) {
            return Err(("min_spend_satang", "must be between 0 and 10^12".into()));
        }
        Ok(())
    }

    /// Points for a bill (already validated to 0..=MAX_AMOUNT), before the shop's rules
    /// and the ledger's limit.
    pub fn points_for(&self, bill: Satang) -> i64 {
        let amount_satang = bill.get();
        if amount_satang < self.min_spend_satang || amount_satang <= 0 {
            return 0;
        }
        let p = self.rounding.divide(
            i128::from(amount_satang) * i128::from(self.points),
            i128::from(self.spend_satang),
        );
        i64::try_from(p).unwrap_or(i64::MAX)
    }
}

/// Where an expiry date is pushed to after adding the months.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum RoundUp {
    /// Expire at the end of the day, N months after the earn date.
    #[default]
    None,
    MonthEnd,
    QuarterEnd,
    YearEnd,
}

/// When earned points expire. All dates are in the tenant's time zone; a lot expires at
/// the end of its last day (midnight that starts the next day).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema, Default)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum ExpiryPolicy {
    #[default]
    Never,
    /// N months after the earn date, optionally rounded up to the end of a period.
    /// `months = 0, round_up = year_end` is "end of the calendar year".
    Rolling { months: u16, round_up: RoundUp },
}

impl ExpiryPolicy {
    pub fn validate(&self) -> Result<(), String> {
        match self {
            ExpiryPolicy::Rolling { months, round_up }
                if *months == 0 && *round_up == RoundUp::None =>
            {
                Err("a rolling policy needs months > 0 or a round_up".into())
            }
            ExpiryPolicy::Rolling { months, .. } if *months > 120 => {
                Err("months must be at most 120".into())
            }
            _ => Ok(()),
        }
    }

    /// The instant a lot earned at `earned_at` expires, or None for never.
    pub fn expires_at(&self, earned_at: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        let ExpiryPolicy::Rolling { months, round_up } = *self else {
            return None;
        };
        let earned_day = earned_at.to_zoned(tz.clone()).date();
        let last_day = earned_day.checked_add(i64::from(months).months()).ok()?;
        let last_day = match round_up {
            RoundUp::None => last_day,
            RoundUp::MonthEnd => last_day.last_of_month(),
            RoundUp::QuarterEnd => {
                let quarter_end_month = ((last_day.month() - 1) / 3 + 1) * 3;
                Date::new(last_day.year(), quarter_end_month, 1)
                    .ok()?
                    .last_of_month()
            }
            RoundUp::YearEnd => Date::new(last_day.year(), 12, 31).ok()?,
        };
        let next_midnight = last_day.tomorrow().ok()?.to_zoned(tz.clone()).ok()?;
        Some(next_midnight.timestamp())
    }
}

/// What happens when a refund reverses points the member already spent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum RefundPolicy {
    /// Take all of it: the balance may go below zero, and later earnings repay it first.
    #[default]
    AllowNegative,
    /// Take only what the member still has; the rest is written off (reported).
    WithinBalance,
}

impl RefundPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            RefundPolicy::AllowNegative => "allow_negative",
            RefundPolicy::WithinBalance => "within_balance",
        }
    }
    pub fn from_db(s: &str) -> RefundPolicy {
        if s == "within_balance" {
            RefundPolicy::WithinBalance
        } else {
            RefundPolicy::AllowNegative
        }
    }
}

/// An open lot as the debit planner sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpenLot {
    pub id: i64,
    pub remaining: i64,
    pub pending_until: i64,
    pub expires_at: Option<i64>,
}

impl OpenLot {
    /// Spendable now: not pending and not expired.
    pub fn spendable(&self, now: i64) -> bool {
        self.remaining > 0 && self.pending_until <= now && self.expires_at.is_none_or(|e| e > now)
    }
}

/// The order debits consume lots: soonest-expiring first, never-expiring last, then the
/// oldest (lowest id) first.
pub fn fefo_order(lots: &mut [OpenLot]) {
    lots.sort_by_key(|l| (l.expires_at.unwrap_or(i64::MAX), l.id));
}

/// Take `amount` from the spendable lots, soonest-expiring first. Returns (lot id,
/// amount) pairs summing to `amount`, or `Err(available)` when they hold too little.
pub fn plan_debit(lots: &[OpenLot], amount: i64, now: i64) -> Result<Vec<(i64, i64)>, i64> {
    let mut lots: Vec<OpenLot> = lots.iter().copied().filter(|l| l.spendable(now)).collect();
    fefo_order(&mut lots);
    let available: i64 = lots.iter().map(|l| l.remaining).sum();
    if available < amount {
        return Err(available);
    }
    let mut left = amount;
    let mut plan = vec![];
    for lot in lots {
        if left == 0 {
            break;
        }
        let take = lot.remaining.min(left);
        plan.push((lot.id, take));
        left -= take;
    }
    Ok(plan)
}

/// Points a refund reverses: proportional to the refunded share of the bill, computed on
/// the running total so that partial refunds never add up to more than was earned, and a
/// full refund reverses exactly what was earned.
pub fn refund_points(
    earned: i64,
    bill_satang: i64,
    refunded_before_satang: i64,
    refund_satang: i64,
    reversed_before: i64,
) -> i64 {
    let total_refunded = (refunded_before_satang + refund_satang).min(bill_satang);
    let target = if total_refunded >= bill_satang {
        earned
    } else {
        (i128::from(earned) * i128::from(total_refunded) / i128::from(bill_satang.max(1))) as i64
    };
    (target - reversed_before).max(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn bkk() -> TimeZone {
        TimeZone::get("Asia/Bangkok").unwrap()
    }

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn earn_rate_rounds_at_the_boundaries() {
        let floor = EarnRate::default();
        assert_eq!(floor.points_for(Satang::new(2499)), 0);
        assert_eq!(floor.points_for(Satang::new(2500)), 1);
        assert_eq!(floor.points_for(Satang::new(24_999)), 9);
        let nearest = EarnRate {
            rounding: Rounding::Nearest,
            ..floor
        };
        assert_eq!(nearest.points_for(Satang::new(1249)), 0);
        assert_eq!(nearest.points_for(Satang::new(1250)), 1);
        let ceil = EarnRate {
            rounding: Rounding::Ceil,
            ..floor
        };
        assert_eq!(ceil.points_for(Satang::new(1)), 1);
        assert_eq!(ceil.points_for(Satang::new(2500)), 1);
        assert_eq!(ceil.points_for(Satang::new(2501)), 2);
        let min = EarnRate {
            min_spend_satang: 10_000,
            ..floor
        };
        assert_eq!(min.points_for(Satang::new(9_999)), 0);
        assert_eq!(min.points_for(Satang::new(10_000)), 4);
        assert_eq!(floor.points_for(Satang::new(MAX_AMOUNT)), MAX_AMOUNT / 2500);
    }

    #[test]
    fn rolling_expiry_ends_at_midnight_in_the_shop_time_zone() {
        let p = ExpiryPolicy::Rolling {
            months: 12,
            round_up: RoundUp::None,
        };
        // 2026-03-15 22:00 in Bangkok is 15:00 UTC.
        let exp = p.expires_at(at("2026-03-15T15:00:00Z"), &bkk()).unwrap();
        assert_eq!(
            exp,
            at("2027-03-15T17:00:00Z"),
            "midnight 2027-03-16 Bangkok"
        );
        // 2026-03-15 23:30 UTC is already 2026-03-16 in Bangkok.
        let exp = p.expires_at(at("2026-03-15T23:30:00Z"), &bkk()).unwrap();
        assert_eq!(exp, at("2027-03-16T17:00:00Z"));
    }

    #[test]
    fn rounding_up_to_period_ends() {
        let earned = at("2026-02-10T05:00:00Z");
        let month = ExpiryPolicy::Rolling {
            months: 24,
            round_up: RoundUp::MonthEnd,
        };
        assert_eq!(
            month.expires_at(earned, &bkk()).unwrap(),
            at("2028-02-29T17:00:00Z"),
            "end of Feb 2028, a leap year"
        );
        let quarter = ExpiryPolicy::Rolling {
            months: 0,
            round_up: RoundUp::QuarterEnd,
        };
        assert_eq!(
            quarter.expires_at(earned, &bkk()).unwrap(),
            at("2026-03-31T17:00:00Z")
        );
        let year = ExpiryPolicy::Rolling {
            months: 0,
            round_up: RoundUp::YearEnd,
        };
        assert_eq!(
            year.expires_at(earned, &bkk()).unwrap(),
            at("2026-12-31T17:00:00Z")
        );
        assert_eq!(ExpiryPolicy::Never.expires_at(earned, &bkk()), None);
        // Month arithmetic clamps: 31 Jan + 1 month = 28/29 Feb.
        let one = ExpiryPolicy::Rolling {
            months: 1,
            round_up: RoundUp::None,
        };
        assert_eq!(
            one.expires_at(at("2026-01-31T05:00:00Z"), &bkk()).unwrap(),
            at("2026-02-28T17:00:00Z")
        );
    }

    #[test]
    fn policies_are_validated() {
        assert!(
            ExpiryPolicy::Rolling {
                months: 0,
                round_up: RoundUp::None
            }
            .validate()
            .is_err()
        );
        assert!(
            ExpiryPolicy::Rolling {
                months: 121,
                round_up: RoundUp::None
            }
            .validate()
            .is_err()
        );
        assert!(
            ExpiryPolicy::Rolling {
                months: 24,
                round_up: RoundUp::None
            }
            .validate()
            .is_ok()
        );
    }

    #[test]
    fn debits_take_soonest_expiring_first_and_never_expiring_last() {
        let lots = [
            OpenLot {
                id: 1,
                remaining: 10,
                pending_until: 0,
                expires_at: None,
            },
            OpenLot {
                id: 2,
                remaining: 10,
                pending_until: 0,
                expires_at: Some(500),
            },
            OpenLot {
                id: 3,
                remaining: 10,
                pending_until: 0,
                expires_at: Some(300),
            },
            OpenLot {
                id: 4,
                remaining: 10,
                pending_until: 200,
                expires_at: Some(100),
            },
        ];
        assert_eq!(
            plan_debit(&lots, 25, 50),
            Ok(vec![(3, 10), (2, 10), (1, 5)]),
            "pending lot 4 is skipped"
        );
        assert_eq!(plan_debit(&lots, 31, 50), Err(30));
        assert_eq!(
            plan_debit(&lots, 5, 150).unwrap(),
            vec![(3, 5)],
            "lot 4 has expired by 150"
        );
    }

    #[test]
    fn refunds_are_proportional_and_never_exceed_the_earning() {
        assert_eq!(refund_points(40, 100_000, 0, 25_000, 0), 10);
        assert_eq!(refund_points(40, 100_000, 25_000, 75_000, 10), 30);
        assert_eq!(refund_points(3, 100_000, 0, 50_000, 0), 1);
        assert_eq!(
            refund_points(3, 100_000, 50_000, 50_000, 1),
            2,
            "the full refund takes the rest"
        );
        assert_eq!(
            refund_points(3, 100_000, 0, 500_000, 0),
            3,
            "over-refund is capped at the bill"
        );
    }

    proptest! {
        #[test]
        fn any_sequence_of_partial_refunds_reverses_exactly_what_was_earned(
            bill in 1i64..10_000_000, earned in 0i64..100_000, cuts in proptest::collection::vec(1i64..10_000_000, 1..6)
        ) {
            let mut refunded = 0;
            let mut reversed = 0;
            for cut in cuts {
                let part = cut.min(bill - refunded);
                if part == 0 { break; }
                let r = refund_points(earned, bill, refunded, part, reversed);
                prop_assert!(r >= 0);
                refunded += part;
                reversed += r;
                prop_assert!(reversed <= earned);
            }
            let rest = refund_points(earned, bill, refunded, bill - refunded, reversed);
            prop_assert_eq!(reversed + rest, earned);
        }

        #[test]
        fn a_debit_plan_sums_to_the_amount_and_respects_each_lot(
            remaining in proptest::collection::vec(0i64..1000, 0..10), amount in 0i64..5000, now in 0i64..100
        ) {
            let lots: Vec<OpenLot> = remaining.iter().enumerate().map(|(i, r)| OpenLot {
                id: i as i64, remaining: *r, pending_until: (i as i64 * 13) % 100, expires_at: (i % 3 != 0).then_some((i as i64 * 37) % 200),
            }).collect();
            let spendable: i64 = lots.iter().filter(|l| l.spendable(now)).map(|l| l.remaining).sum();
            match plan_debit(&lots, amount, now) {
                Ok(plan) => {
                    prop_assert_eq!(plan.iter().map(|p| p.1).sum::<i64>(), amount);
                    for (id, take) in plan {
                        let lot = lots[id as usize];
                        prop_assert!(lot.spendable(now) && take > 0 && take <= lot.remaining);
                    }
                }
                Err(available) => { prop_assert_eq!(available, spendable); prop_assert!(spendable < amount); }
            }
        }
    }
}
