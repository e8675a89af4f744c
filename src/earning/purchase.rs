//! A purchase to record. It is built only by [`PurchaseInput::new`], which holds every
//! rule a purchase meets whoever sends it (the API, the counter page, a claim QR, the
//! demo): an amount in range, a receipt, a time at most 5 minutes ahead (window queries
//! rely on it, `store::first_id_from`) and at most 366 days back, and line items that fit
//! the bill. Its member and branch are checked when it is recorded
//! ([`super::check_members_and_branches`]).

use crate::rules::model::{LineItem, validate_items};

use crate::ledger::model::MAX_AMOUNT;
use crate::money::Satang;

/// How far ahead of the clock a purchase may be dated.
pub const MAX_AHEAD_MICROS: i64 = 300_000_000;
/// How far back a purchase may be dated.
pub const MAX_BACK_MICROS: i64 = 366 * 86_400_000_000;

/// A purchase that met the rules above.
#[derive(Debug)]
pub struct PurchaseInput {
    pub tenant_id: i64,
    /// The member as sent; recording replaces an alias by the profile it was merged into.
    pub member_id: i64,
    pub amount_satang: Satang,
    pub receipt: String,
    pub branch_id: Option<i64>,
    pub occurred_at: i64,
    pub items: Vec<LineItem>,
    pub dry_run: bool,
    /// Only [`PurchaseInput::new`] makes one.
    _checked: Checked,
}

#[derive(Debug)]
struct Checked;

/// A purchase as its sender gives it, before the rules are checked.
pub struct NewPurchase {
    pub tenant_id: i64,
    pub member_id: i64,
    pub amount_satang: i64,
    pub receipt: String,
    pub branch_id: Option<i64>,
    /// µs since the Unix epoch; `None` is now.
    pub occurred_at: Option<i64>,
    pub items: Vec<LineItem>,
    pub dry_run: bool,
}

/// A line of a recorded purchase: what was bought and what it earned. Kept with the
/// purchase so history shows it and a refund of the line takes back its own points.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct RecordedLine {
    pub sku: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub category: Option<String>,
    pub quantity: i64,
    pub unit_price_satang: i64,
    /// This line's share of the bill's points, its multipliers included.
    pub points: i64,
    /// Stamps the line earned.
    pub stamps: i64,
    /// Units refunded so far.
    #[serde(default)]
    pub refunded_quantity: i64,
}

impl RecordedLine {
    /// The bill's lines with what each earned.
    pub fn of(items: &[LineItem], shares: &[crate::rules::model::LineShare]) -> Vec<RecordedLine> {
        items
            .iter()
            .zip(shares)
            .map(|(i, s)| RecordedLine {
                sku: i.sku.clone(),
                name: i.name.clone(),
                category: i.category.clone(),
                quantity: i.quantity,
                unit_price_satang: i.unit_price_satang,
                points: s.points,
                stamps: s.stamps,
                refunded_quantity: 0,
            })
            .collect()
    }

    /// The name a person reads: the receipt's name, else the SKU.
    pub fn label(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.sku)
    }
}

/// Why a purchase was refused; [`PurchaseError::field`] names the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PurchaseError {
    #[error("must be between 1 and {MAX_AMOUNT}")]
    Amount,
    #[error("{0}")]
    Receipt(String),
    #[error("must be within the last 366 days and not in the future")]
    OccurredAt,
    #[error("{message}")]
    Items { field: String, message: String },
}

impl PurchaseError {
    /// The field of [`NewPurchase`] (as the API's request names it) at fault.
    pub fn field(&self) -> &str {
        match self {
            PurchaseError::Amount => "amount_satang",
            PurchaseError::Receipt(_) => "receipt",
            PurchaseError::OccurredAt => "occurred_at",
            PurchaseError::Items { field, .. } => field,
        }
    }
}

impl PurchaseInput {
    /// Check `p` against the rules at `now` (µs since the Unix epoch).
    pub fn new(p: NewPurchase, now: i64) -> Result<PurchaseInput, PurchaseError> {
        if !(1..=MAX_AMOUNT).contains(&p.amount_satang) {
            return Err(PurchaseError::Amount);
        }
        let receipt =
            crate::types::text(&p.receipt, "receipt", 1, 64).map_err(PurchaseError::Receipt)?;
        let occurred_at = p.occurred_at.unwrap_or(now);
        if occurred_at > now + MAX_AHEAD_MICROS || occurred_at < now - MAX_BACK_MICROS {
            return Err(PurchaseError::OccurredAt);
        }
        validate_items(&p.items, p.amount_satang)
            .map_err(|(field, message)| PurchaseError::Items { field, message })?;
        Ok(PurchaseInput {
            tenant_id: p.tenant_id,
            member_id: p.member_id,
            amount_satang: Satang::new(p.amount_satang),
            receipt,
            branch_id: p.branch_id,
            occurred_at,
            items: p.items,
            dry_run: p.dry_run,
            _checked: Checked,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_790_000_000_000_000;

    fn purchase(amount: i64, receipt: &str, occurred_at: Option<i64>) -> NewPurchase {
        NewPurchase {
            tenant_id: 1,
            member_id: 2,
            amount_satang: amount,
            receipt: receipt.into(),
            branch_id: None,
            occurred_at,
            items: vec![],
            dry_run: false,
        }
    }

    #[test]
    fn a_purchase_is_dated_now_unless_it_says_when_within_the_window() {
        let p = PurchaseInput::new(purchase(100, "R1", None), NOW).unwrap();
        assert_eq!(p.occurred_at, NOW);
        let ahead = NOW + MAX_AHEAD_MICROS;
        assert_eq!(
            PurchaseInput::new(purchase(100, "R1", Some(ahead)), NOW)
                .unwrap()
                .occurred_at,
            ahead
        );
        for refused in [ahead + 1, NOW - MAX_BACK_MICROS - 1] {
            let e = PurchaseInput::new(purchase(100, "R1", Some(refused)), NOW).unwrap_err();
            assert_eq!(e, PurchaseError::OccurredAt);
            assert_eq!(e.field(), "occurred_at");
        }
    }

    #[test]
    fn amounts_receipts_and_items_are_checked_and_named() {
        for amount in [0, -1, MAX_AMOUNT + 1] {
            let e = PurchaseInput::new(purchase(amount, "R1", None), NOW).unwrap_err();
            assert_eq!(e.field(), "amount_satang");
        }
        let e = PurchaseInput::new(purchase(100, "", None), NOW).unwrap_err();
        assert_eq!(e.field(), "receipt");
        let mut with_items = purchase(100, "R1", None);
        with_items.items = vec![LineItem {
            name: None,
            sku: "A".into(),
            category: None,
            quantity: 2,
            unit_price_satang: 60,
        }];
        let e = PurchaseInput::new(with_items, NOW).unwrap_err();
        assert_eq!(e.field(), "items");
        assert!(e.to_string().contains("more than the bill"), "{e}");
    }
}
