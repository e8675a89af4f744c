//! What a movement of points is: its kind, the posting a caller asks for, what it did,
//! and why it may be refused. Plain types, no I/O.

use serde::Serialize;

use super::model::{Currency, LedgerSettings, MAX_POINTS};
use crate::money::{Points, Satang};
use crate::store::now_micros;

/// A kind of movement, with the direction it moves the member's balance and the system
/// account on the other side of the entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Earn,
    Bonus,
    Opening,
    AdjustCredit,
    AdjustDebit,
    Redeem,
    RedeemCancel,
    Expire,
    Reversal,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Earn => "earn",
            Kind::Bonus => "bonus",
            Kind::Opening => "opening",
            Kind::AdjustCredit => "adjust_credit",
            Kind::AdjustDebit => "adjust_debit",
            Kind::Redeem => "redeem",
            Kind::RedeemCancel => "redeem_cancel",
            Kind::Expire => "expire",
            Kind::Reversal => "reversal",
        }
    }

    /// The system account that balances the member's entry.
    pub fn system_account(self) -> &'static str {
        match self {
            Kind::Earn | Kind::Reversal => "earned",
            Kind::Bonus => "bonus",
            Kind::Opening => "opening",
            Kind::AdjustCredit | Kind::AdjustDebit => "adjustment",
            Kind::Redeem | Kind::RedeemCancel => "redeemed",
            Kind::Expire => "expired",
        }
    }

    pub fn is_credit(self) -> bool {
        matches!(
            self,
            Kind::Earn | Kind::Bonus | Kind::Opening | Kind::AdjustCredit | Kind::RedeemCancel
        )
    }
}

/// Accounts whose (negated) sum is the points issued.
pub const ISSUING_ACCOUNTS: &[&str] = &["earned", "bonus", "opening", "adjustment"];

/// One movement of one member's balance.
#[derive(Clone, Debug)]
pub struct Posting {
    pub tenant_id: i64,
    pub member_id: i64,
    pub currency: Currency,
    pub kind: Kind,
    /// The magnitude requested (≥ 0); the direction comes from `kind`.
    pub amount: Points,
    /// Unique per tenant: a second posting with the same key returns the first.
    pub idem_key: String,
    /// Identifies the request's content: the same key with another hash is refused.
    pub request_hash: String,
    pub receipt: Option<String>,
    pub branch_id: Option<i64>,
    pub bill_satang: Option<Satang>,
    /// The transaction a reversal or cancellation undoes.
    pub reverses_id: Option<i64>,
    pub reason: Option<String>,
    pub actor_kind: String,
    pub actor_id: Option<i64>,
    pub occurred_at: i64,
    pub details: serde_json::Value,
}

impl Posting {
    /// A posting with no references, by the system, now; set the rest with
    /// struct-update syntax: `Posting { amount, idem_key, ..Posting::blank(t, m, kind) }`.
    pub fn blank(tenant_id: i64, member_id: i64, kind: Kind) -> Posting {
        Posting {
            tenant_id,
            member_id,
            currency: Currency::Points,
            kind,
            amount: Points::ZERO,
            idem_key: String::new(),
            request_hash: String::new(),
            receipt: None,
            branch_id: None,
            bill_satang: None,
            reverses_id: None,
            reason: None,
            actor_kind: "system".into(),
            actor_id: None,
            occurred_at: now_micros(),
            details: serde_json::json!({}),
        }
    }
}

/// What a posting did.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Posted {
    pub txn_id: i64,
    /// The change to the balance actually applied (negative for debits).
    #[schema(value_type = i64)]
    pub points: Points,
    /// Points a refund could not take back (policy `within_balance`).
    #[schema(value_type = i64)]
    pub uncollected: Points,
    #[schema(value_type = i64)]
    pub balance: Points,
    /// True when this answers a retry: nothing new was written.
    pub replayed: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("the member has {available} spendable points")]
    InsufficientPoints { available: i64 },
    #[error("this idempotency key or receipt was used for a different request")]
    KeyReused,
    #[error("nothing to undo: {0}")]
    NothingToUndo(&'static str),
    /// The movement, or the balance or debt it leaves, would pass [`MAX_POINTS`].
    #[error("a balance holds at most {MAX_POINTS} points")]
    PointsLimit,
    #[error("points expire only through an expiry run")]
    ExpiryIsARun,
    /// A bug: the writer read facts of another kind than the posting's.
    #[error("the ledger was given the wrong facts: {0}")]
    FactsDoNotFit(String),
    /// The shop a movement belongs to could not be read (its time zone, for expiry dates).
    #[error(transparent)]
    Shop(#[from] crate::tenants::ShopError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// The rules of the shop a posting belongs to, as the planner applies them.
#[derive(Clone, Copy, Debug)]
pub struct ShopRules<'a> {
    pub settings: &'a LedgerSettings,
    pub time_zone: &'a jiff::tz::TimeZone,
}

impl<'a> ShopRules<'a> {
    pub fn new(settings: &'a LedgerSettings, time_zone: &'a jiff::tz::TimeZone) -> Self {
        ShopRules {
            settings,
            time_zone,
        }
    }
}
