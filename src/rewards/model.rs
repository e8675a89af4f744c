//! Rewards as data and their rules as pure functions: validation, the price for a tier,
//! whether a member may redeem now, coupon codes, and fulfilment transitions.

use std::collections::BTreeMap;

use jiff::Timestamp;
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::ledger::model::MAX_AMOUNT;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RewardKind {
    /// Used in store: redeeming issues a code and QR that staff validate once.
    Coupon,
    /// Goods shipped to the member's address by fulfilment staff.
    Shipped,
    /// A code from an uploaded pool (partner vouchers) or generated.
    DigitalCode,
    /// A discount or cashback voucher with a value, validated at the counter like a coupon.
    Voucher,
}

/// Where a redemption is: a coupon's or code's life, or a parcel's steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RedemptionStatus {
    Issued,
    Used,
    Expired,
    Cancelled,
    Pending,
    Packed,
    Shipped,
    Delivered,
}

impl RedemptionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RedemptionStatus::Issued => "issued",
            RedemptionStatus::Used => "used",
            RedemptionStatus::Expired => "expired",
            RedemptionStatus::Cancelled => "cancelled",
            RedemptionStatus::Pending => "pending",
            RedemptionStatus::Packed => "packed",
            RedemptionStatus::Shipped => "shipped",
            RedemptionStatus::Delivered => "delivered",
        }
    }
}

impl RewardKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RewardKind::Coupon => "coupon",
            RewardKind::Shipped => "shipped",
            RewardKind::DigitalCode => "digital_code",
            RewardKind::Voucher => "voucher",
        }
    }
    /// Redemptions of this kind are validated at the counter by code.
    pub fn has_coupon(self) -> bool {
        matches!(self, RewardKind::Coupon | RewardKind::Voucher)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LimitPeriod {
    Day,
    Week,
    Month,
}

/// At most `count` redemptions per member in each local day, week or month.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PeriodLimit {
    pub count: i64,
    pub per: LimitPeriod,
}

fn yes() -> bool {
    true
}
/// Days a coupon or voucher may be used in, when a reward does not say.
pub const USE_WITHIN_DAYS: u16 = 30;

fn thirty() -> u16 {
    USE_WITHIN_DAYS
}

/// A reward as the shop defines it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RewardSpec {
    pub kind: RewardKind,
    /// Catalog group: `drinks`, `partner restaurants`, `premium goods`, ...
    pub category: String,
    /// Name in the shop's language (Thai).
    pub name: String,
    pub name_en: Option<String>,
    #[serde(default)]
    pub description: String,
    pub description_en: Option<String>,
    /// An https:// (or http://) image URL.
    pub image_url: Option<String>,
    pub points_cost: i64,
    /// What the price is paid in: `points` (default) or `stamps` (a stamp card's reward:
    /// ten stamps, a free coffee).
    #[serde(default)]
    pub currency: crate::ledger::model::Currency,
    /// A different price for some tier levels: `{"gold": 80}`.
    #[serde(default)]
    pub tier_prices: BTreeMap<String, i64>,
    /// Only members at these tier levels may redeem (empty = everyone).
    #[serde(default)]
    pub tiers: Vec<String>,
    /// Units left (absent = unlimited). Setting it replaces what is left.
    pub stock: Option<i64>,
    /// Most redemptions one member may ever make.
    pub per_member_limit: Option<i64>,
    /// Most redemptions one member may make per local day, week or month.
    pub period_limit: Option<PeriodLimit>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub valid_from: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub valid_until: Option<Timestamp>,
    /// Hidden rewards are neither listed to members nor redeemable.
    #[serde(default = "yes")]
    pub visible: bool,
    /// The value of a voucher, in satang (vouchers only).
    pub value_satang: Option<i64>,
    /// Coupons and vouchers must be used within this many days of redeeming.
    #[serde(default = "thirty")]
    pub use_within_days: u16,
    /// Give the points back when a coupon or voucher expires unused.
    #[serde(default = "yes")]
    pub refund_on_expiry: bool,
    /// Digital codes: generate a unique code when the uploaded pool is empty.
    #[serde(default)]
    pub generate_codes: bool,
}

fn limit(field: &str, v: Option<i64>) -> Result<(), (String, String)> {
    match v {
        Some(n) if !(1..=MAX_AMOUNT).contains(&n) => {
            Err((field.into(), "must be at least 1".into()))
        }
        _ => Ok(()),
    }
}

impl RewardSpec {
    /// Check the reward; the error names the field at fault. `levels` are the codes of the
    /// shop's tier levels.
    pub fn validate(&self, levels: &[String]) -> Result<(), (String, String)> {
        let t = |v: &str, f: &str, min: usize, max: usize| {
            crate::types::text(v, f, min, max)
                .map(|_| ())
                .map_err(|m| (f.to_string(), m))
        };
        t(&self.name, "name", 1, 120)?;
        if let Some(n) = &self.name_en {
            t(n, "name_en", 1, 120)?;
        }
        t(&self.category, "category", 1, 60)?;
        if self.description.chars().count() > 2000 {
            return Err(("description".into(), "at most 2000 characters".into()));
        }
        if self
            .description_en
            .as_ref()
            .is_some_and(|d| d.chars().count() > 2000)
        {
            return Err(("description_en".into(), "at most 2000 characters".into()));
        }
        if let Some(u) = &self.image_url
            && (!(u.starts_with("https://") || u.starts_with("http://"))
                || u.len() > 500
                || u.contains(char::is_whitespace))
        {
            return Err((
                "image_url".into(),
                "must be an http(s) URL of at most 500 characters".into(),
            ));
        }
        if !(0..=MAX_AMOUNT).contains(&self.points_cost) {
            return Err(("points_cost".into(), "must be between 0 and 10^12".into()));
        }
        for (code, price) in &self.tier_prices {
            if !levels.contains(code) {
                return Err((
                    format!("tier_prices.{code}"),
                    format!("the tier program has no level {code:?}"),
                ));
            }
            if !(0..=MAX_AMOUNT).contains(price) {
                return Err((
                    format!("tier_prices.{code}"),
                    "must be between 0 and 10^12".into(),
                ));
            }
        }
        for (i, code) in self.tiers.iter().enumerate() {
            if !levels.contains(code) {
                return Err((
                    format!("tiers[{i}]"),
                    format!("the tier program has no level {code:?}"),
                ));
            }
        }
        if self.stock.is_some_and(|s| !(0..=MAX_AMOUNT).contains(&s)) {
            return Err(("stock".into(), "must be between 0 and 10^12".into()));
        }
        limit("per_member_limit", self.per_member_limit)?;
        limit("period_limit.count", self.period_limit.map(|p| p.count))?;
        if let (Some(f), Some(u)) = (self.valid_from, self.valid_until)
            && f >= u
        {
            return Err(("valid_until".into(), "must be after valid_from".into()));
        }
        match (self.kind, self.value_satang) {
            (RewardKind::Voucher, None) => {
                return Err(("value_satang".into(), "a voucher needs a value".into()));
            }
            (RewardKind::Voucher, Some(v)) if !(1..=MAX_AMOUNT).contains(&v) => {
                return Err(("value_satang".into(), "must be between 1 and 10^12".into()));
            }
            (RewardKind::Voucher, _) | (_, None) => {}
            (_, Some(_)) => {
                return Err(("value_satang".into(), "only vouchers have a value".into()));
            }
        }
        if !(1..=3650).contains(&self.use_within_days) {
            return Err((
                "use_within_days".into(),
                "must be between 1 and 3650".into(),
            ));
        }
        if self.generate_codes && self.kind != RewardKind::DigitalCode {
            return Err((
                "generate_codes".into(),
                "only digital-code rewards generate codes".into(),
            ));
        }
        Ok(())
    }

    /// The points a member at `level` pays.
    pub fn price_for(&self, level: Option<&str>) -> i64 {
        level
            .and_then(|l| self.tier_prices.get(l))
            .copied()
            .unwrap_or(self.points_cost)
    }

    /// Why a member at `level` cannot redeem this reward at `now` (stock and limits are
    /// checked with the data, under lock), or None.
    pub fn refusal(&self, now: Timestamp, level: Option<&str>) -> Option<Refusal> {
        if !self.visible {
            return Some(Refusal::NotOffered);
        }
        if self.valid_from.is_some_and(|f| now < f) {
            return Some(Refusal::NotYet);
        }
        if self.valid_until.is_some_and(|u| now >= u) {
            return Some(Refusal::NoLonger);
        }
        if !self.tiers.is_empty() && !level.is_some_and(|l| self.tiers.iter().any(|t| t == l)) {
            return Some(Refusal::TierRestricted);
        }
        None
    }
}

/// Why a reward cannot be redeemed by anyone at some moment, or by a member's tier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    NotOffered,
    NotYet,
    NoLonger,
    TierRestricted,
}

impl Refusal {
    /// In the API's words.
    pub fn message(self) -> &'static str {
        match self {
            Refusal::NotOffered => "this reward is not offered",
            Refusal::NotYet => "this reward is not available yet",
            Refusal::NoLonger => "this reward is no longer available",
            Refusal::TierRestricted => "for other tier levels",
        }
    }
}

/// Letters and digits that cannot be mistaken for each other when read aloud or typed
/// (no 0/O, 1/I/L).
const CODE_ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";

/// A new random code of `len` characters (8 characters ≈ 40 bits).
pub fn new_code(len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| CODE_ALPHABET[rng.random_range(0..CODE_ALPHABET.len())] as char)
        .collect()
}

/// A code as typed or scanned, made comparable: upper case, without spaces and dashes.
pub fn normalise_code(typed: &str) -> String {
    typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_uppercase)
        .collect()
}

/// A coupon code as shown to people: `K7M2-QX9P`.
pub fn display_code(code: &str) -> String {
    if code.len() == 8 {
        format!("{}-{}", &code[..4], &code[4..])
    } else {
        code.to_string()
    }
}

/// Fulfilment of a shipped reward: the allowed next states.
pub fn shipping_step_allowed(from: &str, to: &str) -> bool {
    matches!(
        (from, to),
        ("pending", "packed")
            | ("packed", "shipped")
            | ("pending", "shipped")
            | ("shipped", "delivered")
    )
}

/// A shipping address (for shipped rewards).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Address {
    pub recipient: String,
    pub phone: String,
    pub line1: String,
    pub line2: Option<String>,
    /// District / sub-district (อำเภอ/ตำบล).
    pub district: String,
    pub province: String,
    pub postcode: String,
}

/// Why a shipping address was refused: the field at fault and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct AddressError {
    pub field: &'static str,
    pub message: String,
}

impl Address {
    /// The address with every field trimmed and checked, the phone in E.164.
    pub fn checked(&self) -> Result<Address, AddressError> {
        let f = |v: &str, field: &'static str, max: usize| {
            crate::types::text(v, field, 1, max).map_err(|message| AddressError { field, message })
        };
        let postcode = f(&self.postcode, "postcode", 10)?;
        if !(postcode.len() == 5 && postcode.bytes().all(|b| b.is_ascii_digit())) {
            return Err(AddressError {
                field: "postcode",
                message: "a Thai postcode has 5 digits".into(),
            });
        }
        let phone =
            crate::members::model::Phone::parse(&self.phone).map_err(|message| AddressError {
                field: "phone",
                message: message.to_string(),
            })?;
        Ok(Address {
            recipient: f(&self.recipient, "recipient", 120)?,
            phone: phone.as_str().to_string(),
            line1: f(&self.line1, "line1", 200)?,
            line2: self
                .line2
                .as_deref()
                .map(|l| f(l, "line2", 200))
                .transpose()?,
            district: f(&self.district, "district", 100)?,
            province: f(&self.province, "province", 100)?,
            postcode,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> RewardSpec {
        serde_json::from_value(serde_json::json!({"kind": "coupon", "category": "drinks", "name": "กาแฟฟรี", "points_cost": 100})).unwrap()
    }

    #[test]
    fn defaults_make_a_visible_coupon_usable_for_30_days_refunded_on_expiry() {
        let s = spec();
        assert!(s.visible && s.refund_on_expiry);
        assert_eq!(s.use_within_days, 30);
        assert!(s.validate(&[]).is_ok());
    }

    #[test]
    fn tier_prices_and_restrictions_apply_by_level_code() {
        let mut s = spec();
        s.tier_prices.insert("gold".into(), 80);
        s.tiers = vec!["gold".into(), "platinum".into()];
        assert_eq!(s.price_for(Some("gold")), 80);
        assert_eq!(s.price_for(Some("platinum")), 100);
        assert_eq!(s.price_for(None), 100);
        let now = Timestamp::now();
        assert_eq!(
            s.refusal(now, Some("silver")),
            Some(Refusal::TierRestricted)
        );
        assert_eq!(s.refusal(now, None), Some(Refusal::TierRestricted));
        assert_eq!(s.refusal(now, Some("gold")), None);
        assert_eq!(s.validate(&["gold".into()]).unwrap_err().0, "tiers[1]");
    }

    #[test]
    fn the_validity_window_is_half_open() {
        let mut s = spec();
        let t: Timestamp = "2026-12-01T00:00:00Z".parse().unwrap();
        s.valid_from = Some(t);
        s.valid_until = Some("2026-12-31T17:00:00Z".parse().unwrap());
        assert!(
            s.refusal(t - jiff::SignedDuration::from_secs(1), None)
                .is_some()
        );
        assert!(s.refusal(t, None).is_none());
        assert!(s.refusal(s.valid_until.unwrap(), None).is_some());
    }

    #[test]
    fn vouchers_need_a_value_and_only_vouchers_have_one() {
        let mut s = spec();
        s.value_satang = Some(5000);
        assert_eq!(s.validate(&[]).unwrap_err().0, "value_satang");
        s.kind = RewardKind::Voucher;
        assert!(s.validate(&[]).is_ok());
        s.value_satang = None;
        assert_eq!(s.validate(&[]).unwrap_err().0, "value_satang");
    }

    #[test]
    fn codes_survive_typing_with_dashes_spaces_and_lower_case() {
        let c = new_code(8);
        assert_eq!(c.len(), 8);
        assert!(c.bytes().all(|b| CODE_ALPHABET.contains(&b)));
        let shown = display_code(&c);
        assert_eq!(normalise_code(&format!(" {} ", shown.to_lowercase())), c);
    }

    #[test]
    fn shipping_moves_forward_only() {
        assert!(shipping_step_allowed("pending", "packed"));
        assert!(shipping_step_allowed("packed", "shipped"));
        assert!(shipping_step_allowed("shipped", "delivered"));
        assert!(!shipping_step_allowed("delivered", "shipped"));
        assert!(!shipping_step_allowed("pending", "delivered"));
        assert!(!shipping_step_allowed("cancelled", "packed"));
    }
}
