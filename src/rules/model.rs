//! Earning rules as data and their evaluation. Pure: no I/O.

use jiff::Zoned;
use jiff::civil::{Date, Time};
use serde::{Deserialize, Serialize};

use crate::ledger::model::{EarnRate, MAX_AMOUNT};
use crate::money::Satang;

/// A day of the week (the shop's local calendar).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Day {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Day {
    fn of(z: &Zoned) -> Day {
        [
            Day::Mon,
            Day::Tue,
            Day::Wed,
            Day::Thu,
            Day::Fri,
            Day::Sat,
            Day::Sun,
        ][z.weekday().to_monday_zero_offset() as usize]
    }
}

/// When or on what a multiplier applies.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Condition {
    /// Purchases at these branches.
    Branches { branch_ids: Vec<i64> },
    /// On these days, optionally between two local times (e.g. happy hour 14:00-17:00).
    Days {
        days: Vec<Day>,
        #[schema(value_type = Option<String>, example = "14:00")]
        from: Option<Time>,
        #[schema(value_type = Option<String>, example = "17:00")]
        until: Option<Time>,
    },
    /// Between two local dates, inclusive (a campaign).
    Dates {
        #[schema(value_type = String, example = "2026-12-01")]
        from: Date,
        #[schema(value_type = String, example = "2026-12-31")]
        to: Date,
    },
    /// Members holding one of these tier levels (by code).
    Tiers { codes: Vec<String> },
    /// Only the line items with these SKUs or categories earn the extra points.
    Items {
        #[serde(default)]
        skus: Vec<String>,
        #[serde(default)]
        categories: Vec<String>,
    },
}

/// Extra points: `percent` = 200 doubles the base points of what the condition covers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Multiplier {
    pub name: String,
    /// 101–1000: 150 = ×1.5, 200 = double points, 300 = triple.
    pub percent: u32,
    pub when: Condition,
}

/// A stamp card: `stamps_per_item` stamps for each unit of a matching item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StampRule {
    pub name: String,
    #[serde(default)]
    pub skus: Vec<String>,
    #[serde(default)]
    pub categories: Vec<String>,
    pub stamps_per_item: i64,
}

/// A shop's earning rules beyond the base rate.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EarningRules {
    /// Multipliers add up (two ×2 rules give ×3), they do not compound.
    #[serde(default)]
    pub multipliers: Vec<Multiplier>,
    /// Most points one bill can earn.
    pub cap_per_bill: Option<i64>,
    /// Most points a member can earn from purchases in one local day.
    pub cap_per_day: Option<i64>,
    #[serde(default)]
    pub stamps: Vec<StampRule>,
    /// Points every active member gets on their birthday (in the shop's time zone; 29
    /// February birthdays get it on 28 February in other years). 0 = none.
    #[serde(default)]
    pub birthday_bonus: i64,
}

fn nonempty_codes(field: &str, codes: &[String]) -> Result<(), (String, String)> {
    if codes.iter().any(|c| c.trim().is_empty() || c.len() > 64) {
        return Err((field.into(), "codes must be 1-64 characters".into()));
    }
    Ok(())
}

impl EarningRules {
    /// Check the rules; the error names the field (JSON path) at fault.
    pub fn validate(&self) -> Result<(), (String, String)> {
        if self.multipliers.len() > 50 || self.stamps.len() > 50 {
            return Err((
                "multipliers".into(),
                "at most 50 multipliers and 50 stamp rules".into(),
            ));
        }
        for (i, m) in self.multipliers.iter().enumerate() {
            let at = |f: &str| format!("multipliers[{i}].{f}");
            if m.name.trim().is_empty() || m.name.chars().count() > 100 {
                return Err((
                    at("name"),
                    "give the rule a name of 1-100 characters".into(),
                ));
            }
            if !(101..=1000).contains(&m.percent) {
                return Err((at("percent"), "must be between 101 and 1000".into()));
            }
            match &m.when {
                Condition::Branches { branch_ids } if branch_ids.is_empty() => {
                    return Err((at("when.branch_ids"), "name at least one branch".into()));
                }
                Condition::Days { days, .. } if days.is_empty() => {
                    return Err((at("when.days"), "name at least one day".into()));
                }
                Condition::Days {
                    from: Some(f),
                    until: Some(u),
                    ..
                } if f >= u => return Err((at("when.until"), "must be after from".into())),
                Condition::Tiers { codes } if codes.is_empty() => {
                    return Err((at("when.codes"), "name at least one tier level".into()));
                }
                Condition::Dates { from, to } if from > to => {
                    return Err((at("when.to"), "must not be before from".into()));
                }
                Condition::Items { skus, categories } => {
                    if skus.is_empty() && categories.is_empty() {
                        return Err((at("when.skus"), "name at least one SKU or category".into()));
                    }
                    nonempty_codes(&at("when.skus"), skus)?;
                    nonempty_codes(&at("when.categories"), categories)?;
                }
                _ => {}
            }
        }
        for (field, cap) in [
            ("cap_per_bill", self.cap_per_bill),
            ("cap_per_day", self.cap_per_day),
        ] {
            if cap.is_some_and(|c| !(0..=MAX_AMOUNT).contains(&c)) {
                return Err((field.into(), "must be between 0 and 10^12".into()));
            }
        }
        if !(0..=MAX_AMOUNT).contains(&self.birthday_bonus) {
            return Err((
                "birthday_bonus".into(),
                "must be between 0 and 10^12".into(),
            ));
        }
        for (i, s) in self.stamps.iter().enumerate() {
            let at = |f: &str| format!("stamps[{i}].{f}");
            if s.name.trim().is_empty() || s.name.chars().count() > 100 {
                return Err((
                    at("name"),
                    "give the stamp card a name of 1-100 characters".into(),
                ));
            }
            if s.skus.is_empty() && s.categories.is_empty() {
                return Err((at("skus"), "name at least one SKU or category".into()));
            }
            nonempty_codes(&at("skus"), &s.skus)?;
            nonempty_codes(&at("categories"), &s.categories)?;
            if !(1..=100).contains(&s.stamps_per_item) {
                return Err((at("stamps_per_item"), "must be between 1 and 100".into()));
            }
        }
        Ok(())
    }
}

/// A line of a bill.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineItem {
    pub sku: String,
    /// What the customer bought, as the receipt names it (for history and refunds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub category: Option<String>,
    pub quantity: i64,
    pub unit_price_satang: i64,
}

impl LineItem {
    pub fn total(&self) -> i64 {
        self.quantity.saturating_mul(self.unit_price_satang)
    }

    fn matches(&self, skus: &[String], categories: &[String]) -> bool {
        skus.iter().any(|s| s == &self.sku)
            || self
                .category
                .as_ref()
                .is_some_and(|c| categories.contains(c))
    }
}

/// Check line items against the bill; the error names the field at fault.
pub fn validate_items(items: &[LineItem], bill_satang: i64) -> Result<(), (String, String)> {
    if items.len() > 500 {
        return Err(("items".into(), "at most 500 line items".into()));
    }
    let mut total: i64 = 0;
    for (i, item) in items.iter().enumerate() {
        if item.sku.trim().is_empty() || item.sku.len() > 64 {
            return Err((format!("items[{i}].sku"), "must be 1-64 characters".into()));
        }
        if item.name.as_ref().is_some_and(|n| n.chars().count() > 200) {
            return Err((format!("items[{i}].name"), "at most 200 characters".into()));
        }
        if !(1..=10_000).contains(&item.quantity) {
            return Err((
                format!("items[{i}].quantity"),
                "must be between 1 and 10000".into(),
            ));
        }
        if !(0..=MAX_AMOUNT).contains(&item.unit_price_satang) {
            return Err((
                format!("items[{i}].unit_price_satang"),
                "must be between 0 and 10^12".into(),
            ));
        }
        total = total.saturating_add(item.total());
    }
    if total > bill_satang {
        return Err((
            "items".into(),
            format!("the items add up to {total} satang, more than the bill of {bill_satang}"),
        ));
    }
    Ok(())
}

/// What a bill is, for the rules.
pub struct Bill<'a> {
    pub amount_satang: Satang,
    pub branch_id: Option<i64>,
    /// When it happened, in the shop's time zone.
    pub at: &'a Zoned,
    pub items: &'a [LineItem],
    /// Points the member already earned from purchases on the bill's local day.
    pub earned_today: i64,
    /// The member's tier level, when the shop has tiers on.
    pub tier: Option<TierBonus<'a>>,
}

/// The member's level as the rules see it: its multiplier and its code for conditions.
#[derive(Clone, Copy, Debug)]
pub struct TierBonus<'a> {
    pub code: &'a str,
    pub name: &'a str,
    /// 100 = no extra points; 150 = ×1.5.
    pub earn_percent: u32,
}

/// One rule's contribution, to explain the result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Applied {
    /// `base_rate`, `multiplier`, `tier`, `cap_per_bill`, `cap_per_day` or `stamps`.
    pub rule: String,
    pub name: String,
    /// Points (or stamps, for `stamps`) this rule added; negative for caps.
    pub points: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Evaluation {
    pub points: i64,
    pub stamps: i64,
    pub applied: Vec<Applied>,
}

fn condition_holds(c: &Condition, bill: &Bill) -> bool {
    match c {
        Condition::Branches { branch_ids } => {
            bill.branch_id.is_some_and(|b| branch_ids.contains(&b))
        }
        Condition::Days { days, from, until } => {
            let t = bill.at.time();
            days.contains(&Day::of(bill.at))
                && from.is_none_or(|f| t >= f)
                && until.is_none_or(|u| t < u)
        }
        Condition::Dates { from, to } => (*from..=*to).contains(&bill.at.date()),
        Condition::Tiers { codes } => bill.tier.is_some_and(|t| codes.iter().any(|c| c == t.code)),
        Condition::Items { .. } => true,
    }
}

/// The points (and stamps) a bill earns, and why.
pub fn evaluate(rate: &EarnRate, rules: &EarningRules, bill: &Bill) -> Evaluation {
    let base = rate.points_for(bill.amount_satang);
    let mut applied = vec![Applied {
        rule: "base_rate".into(),
        name: "base rate".into(),
        points: base,
    }];
    let mut points = base;
    if base > 0 {
        for m in &rules.multipliers {
            if !condition_holds(&m.when, bill) {
                continue;
            }
            // The base points of what the rule covers: the whole bill, or its matching items.
            let covered = match &m.when {
                Condition::Items { skus, categories } => {
                    let spend: i64 = bill
                        .items
                        .iter()
                        .filter(|i| i.matches(skus, categories))
                        .map(LineItem::total)
                        .sum();
                    // The bill already met the minimum spend; items are not held to it again.
                    EarnRate {
                        min_spend_satang: 0,
                        ..*rate
                    }
                    .points_for(Satang::new(spend))
                }
                _ => base,
            };
            let extra = (i128::from(covered) * i128::from(m.percent - 100) / 100) as i64;
            if extra > 0 {
                points += extra;
                applied.push(Applied {
                    rule: "multiplier".into(),
                    name: m.name.clone(),
                    points: extra,
                });
            }
        }
        // The tier's multiplier applies to the base points, like any other multiplier.
        if let Some(t) = bill.tier.filter(|t| t.earn_percent > 100) {
            let extra = (i128::from(base) * i128::from(t.earn_percent - 100) / 100) as i64;
            if extra > 0 {
                points += extra;
                applied.push(Applied {
                    rule: "tier".into(),
                    name: t.name.to_string(),
                    points: extra,
                });
            }
        }
    }
    if let Some(cap) = rules.cap_per_bill
        && points > cap
    {
        applied.push(Applied {
            rule: "cap_per_bill".into(),
            name: "cap per bill".into(),
            points: cap - points,
        });
        points = cap;
    }
    if let Some(cap) = rules.cap_per_day {
        let room = (cap - bill.earned_today).max(0);
        if points > room {
            applied.push(Applied {
                rule: "cap_per_day".into(),
                name: "cap per day".into(),
                points: room - points,
            });
            points = room;
        }
    }
    let mut stamps = 0;
    for s in &rules.stamps {
        let units: i64 = bill
            .items
            .iter()
            .filter(|i| i.matches(&s.skus, &s.categories))
            .map(|i| i.quantity)
            .sum();
        if units > 0 {
            let n = units * s.stamps_per_item;
            stamps += n;
            applied.push(Applied {
                rule: "stamps".into(),
                name: s.name.clone(),
                points: n,
            });
        }
    }
    Evaluation {
        points,
        stamps,
        applied,
    }
}

/// What one line of a bill earned: its share of the bill's points and its stamps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineShare {
    pub points: i64,
    pub stamps: i64,
}

/// How the points a bill earned divide among its lines, so that refunding one line takes
/// back what that line earned, multipliers included: each line weighs its spend times
/// the multipliers that covered it (its item multipliers, the bill's and the tier's);
/// the part of the bill no line covers weighs its spend times the bill's multipliers.
/// `points` is divided by weight with the largest remainders rounded up, so the lines
/// and the uncovered part add up to it exactly: no point is made or lost. Stamps are
/// counted per line exactly as [`evaluate`] counts them.
pub fn share_by_line(rules: &EarningRules, bill: &Bill, points: i64) -> Vec<LineShare> {
    let bill_wide: i128 = rules
        .multipliers
        .iter()
        .filter(|m| !matches!(m.when, Condition::Items { .. }) && condition_holds(&m.when, bill))
        .map(|m| i128::from(m.percent) - 100)
        .sum::<i128>()
        + bill
            .tier
            .map_or(0, |t| (i128::from(t.earn_percent) - 100).max(0));
    let mut weights: Vec<i128> = bill
        .items
        .iter()
        .map(|item| {
            let own: i128 = rules
                .multipliers
                .iter()
                .filter_map(|m| match &m.when {
                    Condition::Items { skus, categories } if item.matches(skus, categories) => {
                        Some(i128::from(m.percent) - 100)
                    }
                    _ => None,
                })
                .sum();
            i128::from(item.total()) * (100 + bill_wide + own)
        })
        .collect();
    let covered: i64 = bill.items.iter().map(LineItem::total).sum();
    let uncovered = (bill.amount_satang.get() - covered).max(0);
    weights.push(i128::from(uncovered) * (100 + bill_wide));
    let points_of = largest_remainders(points.max(0), &weights);
    bill.items
        .iter()
        .zip(points_of)
        .map(|(item, points)| LineShare {
            points,
            stamps: rules
                .stamps
                .iter()
                .filter(|s| item.matches(&s.skus, &s.categories))
                .map(|s| item.quantity.saturating_mul(s.stamps_per_item))
                .fold(0i64, i64::saturating_add),
        })
        .collect()
}

/// `total` divided in proportion to `weights`: floors first, then one more to the
/// largest remainders (the earlier on a tie). Sums to `total` exactly; all to the last
/// weight when every weight is zero.
fn largest_remainders(total: i64, weights: &[i128]) -> Vec<i64> {
    let sum: i128 = weights.iter().sum();
    if sum <= 0 {
        let mut shares = vec![0; weights.len()];
        if let Some(last) = shares.last_mut() {
            *last = total;
        }
        return shares;
    }
    let exact: Vec<(i64, i128)> = weights
        .iter()
        .map(|w| {
            let n = i128::from(total) * w;
            ((n / sum) as i64, n % sum)
        })
        .collect();
    let mut shares: Vec<i64> = exact.iter().map(|e| e.0).collect();
    let left = total - shares.iter().sum::<i64>();
    let mut order: Vec<usize> = (0..exact.len()).collect();
    order.sort_by(|a, b| exact[*b].1.cmp(&exact[*a].1).then(a.cmp(b)));
    for &i in order.iter().take(left as usize) {
        shares[i] += 1;
    }
    shares
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(s: &str) -> Zoned {
        format!("{s}[Asia/Bangkok]").parse().unwrap()
    }

    fn item(sku: &str, cat: &str, qty: i64, price: i64) -> LineItem {
        LineItem {
            sku: sku.into(),
            name: None,
            category: Some(cat.into()),
            quantity: qty,
            unit_price_satang: price,
        }
    }

    fn bill<'a>(amount: i64, z: &'a Zoned, items: &'a [LineItem]) -> Bill<'a> {
        Bill {
            amount_satang: Satang::new(amount),
            branch_id: Some(7),
            at: z,
            items,
            earned_today: 0,
            tier: None,
        }
    }

    fn weekend_double() -> Multiplier {
        Multiplier {
            name: "double weekend".into(),
            percent: 200,
            when: Condition::Days {
                days: vec![Day::Sat, Day::Sun],
                from: None,
                until: None,
            },
        }
    }

    #[test]
    fn double_points_on_weekends_in_the_shop_time_zone() {
        let rules = EarningRules {
            multipliers: vec![weekend_double()],
            ..Default::default()
        };
        let rate = EarnRate::default();
        // Saturday 2026-11-28 00:30 in Bangkok is still Friday in UTC: it is the weekend here.
        let sat = at("2026-11-28T00:30:00+07:00");
        let e = evaluate(&rate, &rules, &bill(25_000, &sat, &[]));
        assert_eq!((e.points, e.applied.len()), (20, 2));
        let fri = at("2026-11-27T23:59:00+07:00");
        assert_eq!(evaluate(&rate, &rules, &bill(25_000, &fri, &[])).points, 10);
    }

    #[test]
    fn a_tier_multiplier_adds_to_the_base_and_tier_conditions_match_the_level_code() {
        let rules = EarningRules {
            multipliers: vec![Multiplier {
                name: "gold weekend".into(),
                percent: 200,
                when: Condition::Tiers {
                    codes: vec!["gold".into()],
                },
            }],
            ..Default::default()
        };
        let rate = EarnRate::default();
        let z = at("2026-11-25T10:00:00+07:00");
        let gold = TierBonus {
            code: "gold",
            name: "Gold",
            earn_percent: 150,
        };
        let silver = TierBonus {
            code: "silver",
            name: "Silver",
            earn_percent: 125,
        };
        let mut b = bill(25_000, &z, &[]);
        assert_eq!(evaluate(&rate, &rules, &b).points, 10, "no tier: base only");
        b.tier = Some(gold);
        let e = evaluate(&rate, &rules, &b);
        // 10 base + 10 (gold condition ×2) + 5 (gold level ×1.5).
        assert_eq!(e.points, 25);
        assert_eq!(
            e.applied
                .iter()
                .map(|a| a.rule.as_str())
                .collect::<Vec<_>>(),
            ["base_rate", "multiplier", "tier"]
        );
        b.tier = Some(silver);
        // 10 × 1.25 = 12.5: the extra 2.5 rounds down.
        assert_eq!(evaluate(&rate, &rules, &b).points, 12);
    }

    #[test]
    fn item_multipliers_cover_only_matching_items_and_multipliers_add_up() {
        let items = [
            item("LATTE", "coffee", 2, 5_000),
            item("CAKE", "bakery", 1, 15_000),
        ];
        let rules = EarningRules {
            multipliers: vec![
                Multiplier {
                    name: "triple coffee".into(),
                    percent: 300,
                    when: Condition::Items {
                        skus: vec![],
                        categories: vec!["coffee".into()],
                    },
                },
                Multiplier {
                    name: "Siam branch".into(),
                    percent: 150,
                    when: Condition::Branches {
                        branch_ids: vec![7],
                    },
                },
            ],
            ..Default::default()
        };
        let z = at("2026-11-25T10:00:00+07:00");
        let e = evaluate(&EarnRate::default(), &rules, &bill(25_000, &z, &items));
        // base 10; coffee 100 THB = 4 points, +200% = 8; branch +50% of 10 = 5.
        assert_eq!(e.points, 23);
    }

    #[test]
    fn a_line_keeps_what_it_earned_multipliers_included() {
        // 600 THB of coffee at double points and a 400 THB pastry, 10 THB a point:
        // 160 points, of which the coffee earned 120 and the pastry 40.
        let items = [
            item("LATTE", "coffee", 4, 15_000),
            item("CROISSANT", "bakery", 2, 20_000),
        ];
        let rules = EarningRules {
            multipliers: vec![Multiplier {
                name: "double coffee".into(),
                percent: 200,
                when: Condition::Items {
                    skus: vec![],
                    categories: vec!["coffee".into()],
                },
            }],
            stamps: vec![StampRule {
                name: "coffee card".into(),
                skus: vec!["LATTE".into()],
                categories: vec![],
                stamps_per_item: 1,
            }],
            ..Default::default()
        };
        let rate = EarnRate {
            spend_satang: 1_000,
            ..EarnRate::default()
        };
        let z = at("2026-11-25T10:00:00+07:00");
        let b = bill(100_000, &z, &items);
        let e = evaluate(&rate, &rules, &b);
        assert_eq!((e.points, e.stamps), (160, 4));
        let shares = share_by_line(&rules, &b, e.points);
        assert_eq!(
            shares,
            [
                LineShare {
                    points: 120,
                    stamps: 4
                },
                LineShare {
                    points: 40,
                    stamps: 0
                }
            ]
        );
        // What no line covers keeps its share: a 1,000 THB bill with one 400 THB line.
        let b = bill(100_000, &z, &items[1..]);
        let points = evaluate(&rate, &rules, &b).points;
        assert_eq!(share_by_line(&rules, &b, points)[0].points, 40);
    }

    #[test]
    fn caps_reduce_per_bill_and_per_day() {
        let rules = EarningRules {
            multipliers: vec![weekend_double()],
            cap_per_bill: Some(15),
            cap_per_day: Some(25),
            ..Default::default()
        };
        let sat = at("2026-11-28T12:00:00+07:00");
        let mut b = bill(25_000, &sat, &[]);
        assert_eq!(evaluate(&EarnRate::default(), &rules, &b).points, 15);
        b.earned_today = 20;
        let e = evaluate(&EarnRate::default(), &rules, &b);
        assert_eq!(e.points, 5);
        assert_eq!(e.applied.last().unwrap().rule, "cap_per_day");
    }

    #[test]
    fn stamps_count_units_of_matching_items() {
        let rules = EarningRules {
            stamps: vec![StampRule {
                name: "coffee card".into(),
                skus: vec!["LATTE".into(), "MOCHA".into()],
                categories: vec![],
                stamps_per_item: 1,
            }],
            ..Default::default()
        };
        let items = [
            item("LATTE", "coffee", 2, 5_000),
            item("MOCHA", "coffee", 1, 6_000),
            item("CAKE", "bakery", 3, 1_000),
        ];
        let z = at("2026-11-25T10:00:00+07:00");
        assert_eq!(
            evaluate(&EarnRate::default(), &rules, &bill(19_000, &z, &items)).stamps,
            3
        );
    }

    #[test]
    fn happy_hour_window_is_half_open() {
        let rules = EarningRules {
            multipliers: vec![Multiplier {
                name: "happy hour".into(),
                percent: 200,
                when: Condition::Days {
                    days: vec![Day::Wed],
                    from: Some(Time::constant(14, 0, 0, 0)),
                    until: Some(Time::constant(17, 0, 0, 0)),
                },
            }],
            ..Default::default()
        };
        let rate = EarnRate::default();
        for (t, expected) in [("13:59", 10), ("14:00", 20), ("16:59", 20), ("17:00", 10)] {
            let z = at(&format!("2026-11-25T{t}:00+07:00"));
            assert_eq!(
                evaluate(&rate, &rules, &bill(25_000, &z, &[])).points,
                expected,
                "{t}"
            );
        }
    }

    #[test]
    fn bad_rules_and_items_name_the_field() {
        let bad = EarningRules {
            multipliers: vec![Multiplier {
                name: "x".into(),
                percent: 100,
                when: Condition::Branches {
                    branch_ids: vec![1],
                },
            }],
            ..Default::default()
        };
        assert_eq!(bad.validate().unwrap_err().0, "multipliers[0].percent");
        let items = [item("A", "c", 1, 10_000)];
        assert_eq!(validate_items(&items, 5_000).unwrap_err().0, "items");
        let items = [item("A", "c", 0, 100)];
        assert_eq!(
            validate_items(&items, 5_000).unwrap_err().0,
            "items[0].quantity"
        );
    }

    proptest! {
        #[test]
        fn caps_are_never_exceeded(amount in 0i64..10_000_000, cap_bill in 0i64..500, cap_day in 0i64..500, today in 0i64..600, pct in 101u32..1000) {
            let rules = EarningRules {
                multipliers: vec![Multiplier { name: "m".into(), percent: pct, when: Condition::Branches { branch_ids: vec![7] } }],
                cap_per_bill: Some(cap_bill), cap_per_day: Some(cap_day), ..Default::default()
            };
            let z = at("2026-11-25T10:00:00+07:00");
            let mut b = bill(amount, &z, &[]);
            b.earned_today = today;
            let e = evaluate(&EarnRate::default(), &rules, &b);
            prop_assert!(e.points >= 0 && e.points <= cap_bill && e.points <= (cap_day - today).max(0));
            prop_assert_eq!(e.applied.iter().map(|a| a.points).sum::<i64>(), e.points);
        }

        #[test]
        fn lines_never_share_more_than_the_bill_earned(
            lines in proptest::collection::vec((1i64..20, 0i64..50_000, 0usize..3), 0..12),
            extra in 0i64..100_000, pct in 101u32..1000, tier in 100u32..300, cap in proptest::option::of(0i64..200),
        ) {
            let cats = ["coffee", "bakery", "tea"];
            let items: Vec<LineItem> = lines.iter().enumerate()
                .map(|(i, (q, p, c))| item(&format!("S{i}"), cats[*c], *q, *p)).collect();
            let amount = items.iter().map(LineItem::total).sum::<i64>() + extra;
            let rules = EarningRules {
                multipliers: vec![
                    Multiplier { name: "c".into(), percent: pct, when: Condition::Items { skus: vec![], categories: vec!["coffee".into()] } },
                    Multiplier { name: "b".into(), percent: 200, when: Condition::Branches { branch_ids: vec![7] } },
                ],
                cap_per_bill: cap, ..Default::default()
            };
            let z = at("2026-11-25T10:00:00+07:00");
            let mut b = bill(amount, &z, &items);
            b.tier = Some(TierBonus { code: "t", name: "T", earn_percent: tier });
            let e = evaluate(&EarnRate::default(), &rules, &b);
            let shares = share_by_line(&rules, &b, e.points);
            prop_assert_eq!(shares.len(), items.len());
            prop_assert!(shares.iter().all(|s| s.points >= 0));
            let lines_total: i64 = shares.iter().map(|s| s.points).sum();
            prop_assert!(lines_total <= e.points);
            // Lines that cover the whole bill take all of its points.
            if extra == 0 && !items.is_empty() && amount > 0 {
                prop_assert_eq!(lines_total, e.points);
            }
        }
    }
}
