//! The tier program as data, and its rules as pure functions: which level a metric
//! value qualifies for, which window is measured, what a review at cycle end decides.

use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use serde::{Deserialize, Serialize};

use crate::ledger::model::MAX_AMOUNT;

/// What qualifies a member for a level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Points earned from purchases in the window (net of refunds); not the balance.
    #[default]
    PointsEarned,
    /// Spend in satang in the window (net of refunds).
    SpendSatang,
    /// Number of purchases in the window.
    Purchases,
    /// Days since the member joined (the window does not apply; never goes down).
    TenureDays,
}

/// The period the metric is measured over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema, Default)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Window {
    /// The last N months; a level is reviewed N months after it was reached.
    Rolling {
        months: u16,
    },
    /// Calendar periods in the shop's time zone; levels are reviewed at period end.
    CalendarMonth,
    CalendarQuarter,
    #[default]
    CalendarYear,
    /// Everything since the member joined; levels are never reviewed.
    Lifetime,
}

/// What a review at cycle end does to a member who no longer qualifies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum Downgrade {
    /// Straight to the level the last cycle qualifies for.
    #[default]
    ToQualified,
    /// One level down per cycle (never below what the cycle qualifies for).
    OneStep,
    /// Never: levels only go up.
    Never,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Level {
    /// Stable code, used by rewards and rules: `gold`.
    pub code: String,
    /// Name shown to members (the shop's language): `ทอง`.
    pub name: String,
    /// English name, if different.
    pub name_en: Option<String>,
    /// Metric value that qualifies; the first level's is 0 (everyone holds it).
    pub threshold: i64,
    /// Earn multiplier in percent: 150 = ×1.5 on purchase points. 100 = none.
    #[serde(default = "hundred")]
    pub earn_percent: u32,
    /// Benefits to show members ("free upsize", "birthday cake").
    #[serde(default)]
    pub benefits: Vec<String>,
}

fn hundred() -> u32 {
    100
}

/// A shop's tier program.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct TierProgram {
    pub enabled: bool,
    #[serde(default)]
    pub metric: Metric,
    #[serde(default)]
    pub window: Window,
    #[serde(default)]
    pub downgrade: Downgrade,
    /// From the lowest to the highest.
    #[serde(default)]
    pub levels: Vec<Level>,
}

impl TierProgram {
    /// Check the program; the error names the field (JSON path) at fault.
    pub fn validate(&self) -> Result<(), (String, String)> {
        if self.enabled && self.levels.len() < 2 {
            return Err((
                "levels".into(),
                "an enabled program needs at least 2 levels".into(),
            ));
        }
        if self.levels.len() > 20 {
            return Err(("levels".into(), "at most 20 levels".into()));
        }
        if let Window::Rolling { months } = self.window
            && !(1..=60).contains(&months)
        {
            return Err(("window.months".into(), "must be between 1 and 60".into()));
        }
        let mut codes = std::collections::HashSet::new();
        for (i, l) in self.levels.iter().enumerate() {
            let at = |f: &str| format!("levels[{i}].{f}");
            if l.code.is_empty()
                || l.code.len() > 32
                || !l
                    .code
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
            {
                return Err((at("code"), "use 1-32 of a-z, 0-9, _ and -".into()));
            }
            if !codes.insert(l.code.as_str()) {
                return Err((at("code"), format!("{} is used twice", l.code)));
            }
            crate::types::text(&l.name, "name", 1, 60).map_err(|m| (at("name"), m))?;
            if let Some(en) = &l.name_en {
                crate::types::text(en, "name_en", 1, 60).map_err(|m| (at("name_en"), m))?;
            }
            if i == 0 && l.threshold != 0 {
                return Err((
                    at("threshold"),
                    "the first level's threshold must be 0".into(),
                ));
            }
            if i > 0 && l.threshold <= self.levels[i - 1].threshold {
                return Err((
                    at("threshold"),
                    "must be higher than the level below".into(),
                ));
            }
            if !(0..=MAX_AMOUNT).contains(&l.threshold) {
                return Err((at("threshold"), "must be between 0 and 10^12".into()));
            }
            if !(100..=1000).contains(&l.earn_percent) {
                return Err((at("earn_percent"), "must be between 100 and 1000".into()));
            }
            if l.benefits.len() > 20 {
                return Err((at("benefits"), "at most 20 benefits".into()));
            }
            for (j, b) in l.benefits.iter().enumerate() {
                crate::types::text(b, "a benefit", 1, 200)
                    .map_err(|m| (at(&format!("benefits[{j}]")), m))?;
            }
        }
        Ok(())
    }

    /// The index of the highest level `value` qualifies for.
    pub fn qualified(&self, value: i64) -> usize {
        self.levels
            .iter()
            .rposition(|l| value >= l.threshold)
            .unwrap_or(0)
    }

    /// The index of a level code; an unknown code (a level since removed) counts as
    /// the base level.
    pub fn index_of(&self, code: &str) -> usize {
        self.levels.iter().position(|l| l.code == code).unwrap_or(0)
    }

    /// The level a review gives a member holding `current` whose last cycle qualifies for
    /// `qualified`.
    pub fn review(&self, current: usize, qualified: usize) -> usize {
        if qualified >= current || self.metric == Metric::TenureDays {
            return qualified.max(current);
        }
        match self.downgrade {
            Downgrade::ToQualified => qualified,
            Downgrade::OneStep => (current - 1).max(qualified),
            Downgrade::Never => current,
        }
    }

    /// Whether levels are ever reviewed (a lifetime window or tenure only goes up).
    pub fn reviews(&self) -> bool {
        self.metric != Metric::TenureDays && self.window != Window::Lifetime
    }

    /// The window measured at `now` to decide an upgrade: [start, now].
    pub fn current_window_start(&self, now: Timestamp, tz: &TimeZone) -> Timestamp {
        match self.window {
            Window::Rolling { months } => shift_months(now, tz, -i64::from(months)),
            Window::Lifetime => Timestamp::MIN,
            _ => period_start(self.window, now, tz),
        }
    }

    /// When a level reached (or kept) at `now` is next reviewed; None = never.
    pub fn next_review(&self, now: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        if !self.reviews() {
            return None;
        }
        Some(match self.window {
            Window::Rolling { months } => shift_months(now, tz, i64::from(months)),
            _ => period_end(self.window, now, tz),
        })
    }

    /// The window a review at `review_at` measures: [start, review_at).
    pub fn review_window_start(&self, review_at: Timestamp, tz: &TimeZone) -> Timestamp {
        match self.window {
            Window::Rolling { months } => shift_months(review_at, tz, -i64::from(months)),
            Window::Lifetime => Timestamp::MIN,
            // The period that ends at review_at.
            w => period_start(w, review_at - 1.microsecond(), tz),
        }
    }
}

fn shift_months(t: Timestamp, tz: &TimeZone, months: i64) -> Timestamp {
    t.to_zoned(tz.clone())
        .checked_add(months.months())
        .map(|z| z.timestamp())
        .unwrap_or(t)
}

/// Start of the calendar period (local midnight on its first day) containing `t`.
fn period_start(window: Window, t: Timestamp, tz: &TimeZone) -> Timestamp {
    let date = t.to_zoned(tz.clone()).date();
    let first = match window {
        Window::CalendarMonth => date.first_of_month(),
        Window::CalendarQuarter => {
            jiff::civil::Date::new(date.year(), (date.month() - 1) / 3 * 3 + 1, 1).unwrap_or(date)
        }
        _ => jiff::civil::Date::new(date.year(), 1, 1).unwrap_or(date),
    };
    first
        .to_zoned(tz.clone())
        .map(|z| z.timestamp())
        .unwrap_or(t)
}

/// End (exclusive) of the calendar period containing `t`: the next period's start.
fn period_end(window: Window, t: Timestamp, tz: &TimeZone) -> Timestamp {
    let start = period_start(window, t, tz).to_zoned(tz.clone());
    let months = match window {
        Window::CalendarMonth => 1,
        Window::CalendarQuarter => 3,
        _ => 12,
    };
    start
        .checked_add(months.months())
        .map(|z| z.timestamp())
        .unwrap_or(Timestamp::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level(code: &str, threshold: i64) -> Level {
        Level {
            code: code.into(),
            name: code.into(),
            name_en: None,
            threshold,
            earn_percent: 100,
            benefits: vec![],
        }
    }

    fn program(downgrade: Downgrade) -> TierProgram {
        TierProgram {
            enabled: true,
            metric: Metric::PointsEarned,
            window: Window::CalendarYear,
            downgrade,
            levels: vec![
                level("member", 0),
                level("silver", 100),
                level("gold", 500),
                level("platinum", 2000),
                level("diamond", 5000),
            ],
        }
    }

    fn bkk() -> TimeZone {
        TimeZone::get("Asia/Bangkok").unwrap()
    }

    #[test]
    fn the_highest_level_whose_threshold_is_reached_qualifies() {
        let p = program(Downgrade::ToQualified);
        assert_eq!(p.qualified(0), 0);
        assert_eq!(p.qualified(99), 0);
        assert_eq!(p.qualified(100), 1);
        assert_eq!(p.qualified(4999), 3);
        assert_eq!(p.qualified(5000), 4);
        assert_eq!(p.qualified(i64::MAX), 4);
    }

    #[test]
    fn reviews_follow_the_downgrade_rule_and_never_lower_a_qualified_member() {
        assert_eq!(program(Downgrade::ToQualified).review(4, 1), 1);
        assert_eq!(program(Downgrade::OneStep).review(4, 1), 3);
        assert_eq!(program(Downgrade::OneStep).review(2, 1), 1);
        assert_eq!(program(Downgrade::Never).review(4, 0), 4);
        for d in [Downgrade::ToQualified, Downgrade::OneStep, Downgrade::Never] {
            assert_eq!(
                program(d).review(1, 3),
                3,
                "a missed upgrade is granted at review"
            );
            assert_eq!(program(d).review(2, 2), 2);
        }
    }

    #[test]
    fn calendar_cycles_end_at_local_midnight_of_the_next_period() {
        let p = program(Downgrade::ToQualified);
        let now: Timestamp = "2026-06-15T10:00:00Z".parse().unwrap();
        // 1 January 2027 00:00 in Bangkok is 31 December 2026 17:00 UTC.
        assert_eq!(
            p.next_review(now, &bkk()).unwrap().to_string(),
            "2026-12-31T17:00:00Z"
        );
        assert_eq!(
            p.current_window_start(now, &bkk()).to_string(),
            "2025-12-31T17:00:00Z"
        );
        let review: Timestamp = "2026-12-31T17:00:00Z".parse().unwrap();
        assert_eq!(
            p.review_window_start(review, &bkk()).to_string(),
            "2025-12-31T17:00:00Z"
        );
        let q = TierProgram {
            window: Window::CalendarQuarter,
            ..p.clone()
        };
        assert_eq!(
            q.next_review(now, &bkk()).unwrap().to_string(),
            "2026-06-30T17:00:00Z"
        );
        assert_eq!(
            q.review_window_start("2026-06-30T17:00:00Z".parse().unwrap(), &bkk())
                .to_string(),
            "2026-03-31T17:00:00Z"
        );
    }

    #[test]
    fn rolling_windows_look_back_n_months_from_the_review() {
        let p = TierProgram {
            window: Window::Rolling { months: 12 },
            ..program(Downgrade::ToQualified)
        };
        let now: Timestamp = "2026-02-10T03:00:00Z".parse().unwrap();
        assert_eq!(
            p.next_review(now, &bkk()).unwrap().to_string(),
            "2027-02-10T03:00:00Z"
        );
        assert_eq!(
            p.current_window_start(now, &bkk()).to_string(),
            "2025-02-10T03:00:00Z"
        );
        let lifetime = TierProgram {
            window: Window::Lifetime,
            ..p.clone()
        };
        assert_eq!(lifetime.next_review(now, &bkk()), None);
        let tenure = TierProgram {
            metric: Metric::TenureDays,
            ..p
        };
        assert_eq!(tenure.next_review(now, &bkk()), None);
    }

    #[test]
    fn validation_names_the_level_at_fault() {
        let mut p = program(Downgrade::ToQualified);
        assert!(p.validate().is_ok());
        p.levels[2].threshold = 100;
        assert_eq!(p.validate().unwrap_err().0, "levels[2].threshold");
        let mut p = program(Downgrade::ToQualified);
        p.levels[0].threshold = 5;
        assert_eq!(p.validate().unwrap_err().0, "levels[0].threshold");
        let mut p = program(Downgrade::ToQualified);
        p.levels[3].code = "Gold!".into();
        assert_eq!(p.validate().unwrap_err().0, "levels[3].code");
        let mut p = program(Downgrade::ToQualified);
        p.levels[4].earn_percent = 50;
        assert_eq!(p.validate().unwrap_err().0, "levels[4].earn_percent");
    }
}
