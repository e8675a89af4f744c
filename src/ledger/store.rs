//! The only SQL of the ledger. [`post`] is the one door every balance change goes
//! through: it locks the member's balance row, checks the idempotency key, moves lots,
//! writes balanced entries and updates the projection, all inside the caller's
//! transaction (so many postings can later share one commit).

use std::collections::HashMap;

use serde::Serialize;

use super::model::{
    Currency, EarnRate, ExpiryPolicy, MAX_POINTS, OpenLot, RefundPolicy, RoundUp, Rounding,
    fefo_order, plan_debit,
};
use crate::store::{Db, Tx, now_micros};
use crate::{ids, on_db, on_tx};

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
}

impl Default for LedgerSettings {
    fn default() -> Self {
        LedgerSettings {
            earn: EarnRate::default(),
            expiry: ExpiryPolicy::Never,
            pending_days: 0,
            refund_policy: RefundPolicy::AllowNegative,
            welcome_points: 0,
        }
    }
}

#[derive(sqlx::FromRow)]
struct SettingsRow {
    earn_spend_satang: i64,
    earn_points: i64,
    earn_rounding: String,
    min_spend_satang: i64,
    expiry_mode: String,
    expiry_months: i64,
    expiry_round_up: String,
    pending_days: i64,
    refund_policy: String,
    welcome_points: i64,
}

fn round_up_str(r: RoundUp) -> &'static str {
    match r {
        RoundUp::None => "none",
        RoundUp::MonthEnd => "month_end",
        RoundUp::QuarterEnd => "quarter_end",
        RoundUp::YearEnd => "year_end",
    }
}

fn round_up_from(s: &str) -> RoundUp {
    match s {
        "month_end" => RoundUp::MonthEnd,
        "quarter_end" => RoundUp::QuarterEnd,
        "year_end" => RoundUp::YearEnd,
        _ => RoundUp::None,
    }
}

/// The columns of [`SettingsRow`], for `concat!` (the statements stay constant text).
macro_rules! settings_columns {
    () => {
        "earn_spend_satang, earn_points, earn_rounding, min_spend_satang, expiry_mode,
         expiry_months, expiry_round_up, pending_days, refund_policy, welcome_points"
    };
}

pub async fn settings(db: &Db, tenant_id: i64) -> sqlx::Result<LedgerSettings> {
    const SQL: &str = concat!(
        "SELECT ",
        settings_columns!(),
        " FROM ledger_settings WHERE tenant_id = $1"
    );
    let row: Option<SettingsRow> =
        on_db!(db, pool => sqlx::query_as(SQL).bind(tenant_id).fetch_optional(pool).await)?;
    Ok(settings_from(row))
}

/// A shop's saved settings, or the defaults when it never saved any.
fn settings_from(row: Option<SettingsRow>) -> LedgerSettings {
    match row {
        None => LedgerSettings::default(),
        Some(r) => LedgerSettings {
            earn: EarnRate {
                spend_satang: r.earn_spend_satang,
                points: r.earn_points,
                rounding: Rounding::from_db(&r.earn_rounding),
                min_spend_satang: r.min_spend_satang,
            },
            expiry: if r.expiry_mode == "rolling" {
                ExpiryPolicy::Rolling {
                    months: r.expiry_months as u16,
                    round_up: round_up_from(&r.expiry_round_up),
                }
            } else {
                ExpiryPolicy::Never
            },
            pending_days: r.pending_days as u16,
            refund_policy: RefundPolicy::from_db(&r.refund_policy),
            welcome_points: r.welcome_points,
        },
    }
}

/// What recording a purchase reads about its shop, in one query rather than four: the
/// time zone, the ledger settings (the defaults when none were saved), and the earning
/// rules and the document named `tier_doc` as saved (JSON), if they were.
pub struct ShopForEarning {
    pub time_zone: String,
    pub settings: LedgerSettings,
    pub rules: Option<String>,
    pub tier_program: Option<String>,
}

#[derive(sqlx::FromRow)]
struct ShopRow {
    time_zone: String,
    rules: Option<String>,
    tier_program: Option<String>,
    settings_saved: bool,
}

/// [`ShopForEarning`] of a shop; `None` when there is no such shop.
pub async fn shop_for_earning(
    db: &Db,
    tenant_id: i64,
    tier_doc: &str,
) -> sqlx::Result<Option<ShopForEarning>> {
    use sqlx::FromRow;
    const SQL: &str = concat!(
        "SELECT t.time_zone,
                (SELECT rules FROM earning_rules WHERE tenant_id = t.id) AS rules,
                (SELECT doc FROM tenant_docs WHERE tenant_id = t.id AND name = $2) AS tier_program,
                s.tenant_id IS NOT NULL AS settings_saved, ",
        settings_columns!(),
        " FROM tenants t LEFT JOIN ledger_settings s ON s.tenant_id = t.id
         WHERE t.id = $1"
    );
    on_db!(db, pool => {
        let Some(row) = sqlx::query(SQL).bind(tenant_id).bind(tier_doc).fetch_optional(pool).await? else {
            return Ok(None);
        };
        let shop = ShopRow::from_row(&row)?;
        let settings = if shop.settings_saved { Some(SettingsRow::from_row(&row)?) } else { None };
        Ok(Some(ShopForEarning {
            time_zone: shop.time_zone,
            settings: settings_from(settings),
            rules: shop.rules,
            tier_program: shop.tier_program,
        }))
    })
}

pub async fn save_settings(tx: &mut Tx, tenant_id: i64, s: &LedgerSettings) -> sqlx::Result<()> {
    let (mode, months, round) = match s.expiry {
        ExpiryPolicy::Never => ("never", 0, RoundUp::None),
        ExpiryPolicy::Rolling { months, round_up } => ("rolling", i64::from(months), round_up),
    };
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO ledger_settings (tenant_id, earn_spend_satang, earn_points, earn_rounding, min_spend_satang,
             expiry_mode, expiry_months, expiry_round_up, pending_days, refund_policy, welcome_points, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         ON CONFLICT (tenant_id) DO UPDATE SET earn_spend_satang = $2, earn_points = $3, earn_rounding = $4,
             min_spend_satang = $5, expiry_mode = $6, expiry_months = $7, expiry_round_up = $8, pending_days = $9,
             refund_policy = $10, welcome_points = $11, updated_at = $12")
        .bind(tenant_id).bind(s.earn.spend_satang).bind(s.earn.points).bind(s.earn.rounding.as_str()).bind(s.earn.min_spend_satang)
        .bind(mode).bind(months).bind(round_up_str(round)).bind(i64::from(s.pending_days)).bind(s.refund_policy.as_str())
        .bind(s.welcome_points).bind(now_micros())
        .execute(c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// One movement of one member's balance.
#[derive(Clone, Debug)]
pub struct Posting {
    pub tenant_id: i64,
    pub member_id: i64,
    pub currency: Currency,
    pub kind: Kind,
    /// The magnitude requested (≥ 0); the direction comes from `kind`.
    pub amount: i64,
    /// Unique per tenant: a second posting with the same key returns the first.
    pub idem_key: String,
    /// Identifies the request's content: the same key with another hash is refused.
    pub request_hash: String,
    pub receipt: Option<String>,
    pub branch_id: Option<i64>,
    pub bill_satang: Option<i64>,
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
            amount: 0,
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
    pub points: i64,
    /// Points a refund could not take back (policy `within_balance`).
    pub uncollected: i64,
    pub balance: i64,
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
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

#[derive(sqlx::FromRow)]
struct BalanceRow {
    balance: i64,
    debt: i64,
}

/// Lock the member's balance row for this transaction (creating it if needed). On
/// PostgreSQL this is a row lock; SQLite's write transaction already holds the lock.
async fn lock_balance(
    tx: &mut Tx,
    tenant_id: i64,
    member_id: i64,
    currency: Currency,
) -> sqlx::Result<BalanceRow> {
    let held = lock_balances(tx, currency, &[(tenant_id, member_id)]).await?;
    let (balance, debt) = held[&(tenant_id, member_id)];
    Ok(BalanceRow { balance, debt })
}

/// Lock many members' balance rows in one currency (creating the missing ones) with one
/// statement, in (tenant, member) order so that two transactions locking overlapping
/// members take the locks in the same order. Returns (balance, debt) per (tenant, member).
pub async fn lock_balances(
    tx: &mut Tx,
    currency: Currency,
    members: &[(i64, i64)],
) -> sqlx::Result<HashMap<(i64, i64), (i64, i64)>> {
    use crate::store::Val::{Int, Text};
    let mut members = members.to_vec();
    members.sort_unstable();
    members.dedup();
    let now = now_micros();
    let rows: Vec<_> = members
        .iter()
        .map(|&(tenant, member)| {
            vec![
                Int(tenant),
                Int(member),
                Text(currency.as_str()),
                Int(0),
                Int(0),
                Int(now),
            ]
        })
        .collect();
    // An insert that conflicts "updates" the row to itself: that takes the row lock
    // (PostgreSQL) inside a transaction that already holds the write lock (SQLite).
    let held: Vec<(i64, i64, i64, i64)> = crate::store::fetch_values(
        tx,
        "INSERT INTO balances (tenant_id, member_id, currency, balance, debt, updated_at)",
        "ON CONFLICT (tenant_id, member_id, currency) DO UPDATE SET balance = balances.balance
         RETURNING tenant_id, member_id, balance, debt",
        &rows,
    )
    .await?;
    Ok(held
        .into_iter()
        .map(|(tenant, member, balance, debt)| ((tenant, member), (balance, debt)))
        .collect())
}

#[derive(sqlx::FromRow)]
struct ExistingTxn {
    id: i64,
    request_hash: String,
    amount: i64,
    uncollected: i64,
    member_id: i64,
    currency: String,
}

async fn open_lots(
    tx: &mut Tx,
    tenant_id: i64,
    member_id: i64,
    currency: Currency,
) -> sqlx::Result<Vec<OpenLot>> {
    let rows: Vec<(i64, i64, i64, Option<i64>)> = on_tx!(tx, c => sqlx::query_as(
        "SELECT id, remaining, pending_until, expires_at FROM lots
         WHERE tenant_id = $1 AND member_id = $2 AND currency = $3 AND remaining > 0")
        .bind(tenant_id).bind(member_id).bind(currency.as_str()).fetch_all(c).await)?;
    Ok(rows
        .into_iter()
        .map(|(id, remaining, pending_until, expires_at)| OpenLot {
            id,
            remaining,
            pending_until,
            expires_at,
        })
        .collect())
}

/// Take `take` from a lot and record the allocation (negative `take` gives back).
async fn allocate(
    tx: &mut Tx,
    tenant_id: i64,
    txn_id: i64,
    lot_id: i64,
    take: i64,
) -> sqlx::Result<()> {
    on_tx!(tx, c => {
        sqlx::query("UPDATE lots SET remaining = remaining - $3 WHERE tenant_id = $1 AND id = $2")
            .bind(tenant_id).bind(lot_id).bind(take).execute(&mut *c).await?;
        sqlx::query("INSERT INTO allocations (tenant_id, txn_id, lot_id, amount) VALUES ($1, $2, $3, $4)")
            .bind(tenant_id).bind(txn_id).bind(lot_id).bind(take).execute(&mut *c).await.map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// When a new lot from this credit becomes spendable and when it expires.
fn lot_dates(
    p: &Posting,
    settings: &LedgerSettings,
    time_zone: &jiff::tz::TimeZone,
) -> (i64, Option<i64>) {
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

/// The heads of the bulk writers' multi-row inserts (rows in this column order).
const INSERT_TXNS: &str = "INSERT INTO ledger_txns (tenant_id, id, member_id, currency, kind, amount, uncollected, idem_key, request_hash, receipt,
             branch_id, bill_satang, reverses_id, lot_id, reason, actor_kind, actor_id, occurred_at, created_at, details)";
const INSERT_ENTRIES: &str =
    "INSERT INTO ledger_entries (tenant_id, id, txn_id, account, member_id, currency, amount, at)";

/// A credit for [`post_credits`]: the posting and the rules of its shop.
#[derive(Clone, Copy)]
pub struct Credit<'a> {
    pub posting: &'a Posting,
    pub settings: &'a LedgerSettings,
    pub time_zone: &'a jiff::tz::TimeZone,
}

/// Post many credits set-based: a few multi-row statements for thousands of postings
/// instead of about eight statements each, writing the rows [`post`] writes for a credit
/// (points owed from refunds repaid first, a lot for the rest, the transaction, two
/// entries when the amount is not zero, the balance). What `post` reads first, the caller
/// supplies: `held` is the (balance, debt) of every member whose balance row it locked in
/// this transaction ([`lock_balances`]); a member absent from it was created in this
/// transaction (no balance, no debt). The caller has checked that no key was used before;
/// a clash still fails the whole call (the unique index), so nothing is granted twice.
/// Used by purchases (one group at a time), member import (opening balances) and the
/// benchmark dataset (purchase history). Returns what each posting did, in order.
pub async fn post_credits(
    tx: &mut Tx,
    credits: &[Credit<'_>],
    held: &HashMap<(i64, i64, Currency), (i64, i64)>,
) -> sqlx::Result<Vec<Posted>> {
    use crate::store::Val::{Int, OptInt, OptText, Text};
    let now = now_micros();
    let details: Vec<String> = credits
        .iter()
        .map(|c| c.posting.details.to_string())
        .collect();
    let (mut txns, mut lots, mut entries) = (vec![], vec![], vec![]);
    let mut posted = Vec::with_capacity(credits.len());
    // (balance, debt) of each member's row as the credits so far left it.
    let mut balances: std::collections::BTreeMap<(i64, i64, Currency), (i64, i64)> =
        Default::default();
    for (credit, details) in credits.iter().zip(&details) {
        let p = credit.posting;
        assert!(p.kind.is_credit() && p.kind != Kind::RedeemCancel && p.amount >= 0);
        let (tenant, member, currency) = (p.tenant_id, p.member_id, p.currency);
        let key = (tenant, member, currency);
        let state = balances
            .entry(key)
            .or_insert_with(|| held.get(&key).copied().unwrap_or((0, 0)));
        let txn_id = ids::next_id();
        let applied = p.amount;
        // Callers refuse what would pass the limit (a purchase, an import's row) first.
        if !(0..=MAX_POINTS).contains(&applied)
            || (applied > 0 && state.0.saturating_add(applied) > MAX_POINTS)
        {
            return Err(sqlx::Error::Protocol(format!(
                "a credit of {applied} to member {member} would pass the points limit"
            )));
        }
        let repay = applied.min(state.1);
        state.1 -= repay;
        let lot_amount = applied - repay;
        if lot_amount > 0 {
            let (pending_until, expires_at) = lot_dates(p, credit.settings, credit.time_zone);
            lots.push(vec![
                Int(tenant),
                Int(ids::next_id()),
                Int(member),
                Text(currency.as_str()),
                Int(txn_id),
                Int(lot_amount),
                Int(lot_amount),
                Int(p.occurred_at),
                Int(pending_until),
                OptInt(expires_at),
            ]);
        }
        txns.push(vec![
            Int(tenant),
            Int(txn_id),
            Int(member),
            Text(currency.as_str()),
            Text(p.kind.as_str()),
            Int(applied),
            Int(0),
            Text(&p.idem_key),
            Text(&p.request_hash),
            OptText(p.receipt.as_deref()),
            OptInt(p.branch_id),
            OptInt(p.bill_satang),
            OptInt(None),
            OptInt(None),
            OptText(p.reason.as_deref()),
            Text(&p.actor_kind),
            OptInt(p.actor_id),
            Int(p.occurred_at),
            Int(now),
            Text(details),
        ]);
        if applied != 0 {
            for (account, member, amount) in [
                ("member", Some(member), applied),
                (p.kind.system_account(), None, -applied),
            ] {
                entries.push(vec![
                    Int(tenant),
                    Int(ids::next_id()),
                    Int(txn_id),
                    Text(account),
                    OptInt(member),
                    Text(currency.as_str()),
                    Int(amount),
                    Int(now),
                ]);
            }
            state.0 += applied;
        }
        posted.push(Posted {
            txn_id,
            points: applied,
            uncollected: 0,
            balance: state.0,
            replayed: false,
        });
    }
    let balances: Vec<_> = balances
        .iter()
        .map(|(&(tenant, member, currency), &(balance, debt))| {
            vec![
                Int(tenant),
                Int(member),
                Text(currency.as_str()),
                Int(balance),
                Int(debt),
                Int(now),
            ]
        })
        .collect();
    // With no balance held, every account is new (members created in this transaction):
    // a plain insert, which PostgreSQL takes as `COPY` when there are many.
    let balances_tail = if held.is_empty() {
        ""
    } else {
        "ON CONFLICT (tenant_id, member_id, currency) DO UPDATE
                 SET balance = excluded.balance, debt = excluded.debt, updated_at = excluded.updated_at"
    };
    // The four tables' rows sent together (one round trip on PostgreSQL, one hand-over
    // to SQLite's thread); each part writes its own table.
    crate::store::execute_all(
        tx,
        &[
            (INSERT_TXNS, "", &txns),
            (
                "INSERT INTO lots (tenant_id, id, member_id, currency, txn_id, original, remaining, earned_at, pending_until, expires_at)",
                "",
                &lots,
            ),
            (INSERT_ENTRIES, "", &entries),
            (
                "INSERT INTO balances (tenant_id, member_id, currency, balance, debt, updated_at)",
                balances_tail,
                &balances,
            ),
        ],
    )
    .await?;
    Ok(posted)
}

/// [`post_credits`] for members created in this same transaction, all of one shop.
pub async fn post_credits_to_new_members(
    tx: &mut Tx,
    postings: &[Posting],
    settings: &LedgerSettings,
    time_zone: &jiff::tz::TimeZone,
) -> sqlx::Result<()> {
    let credits: Vec<_> = postings
        .iter()
        .map(|posting| Credit {
            posting,
            settings,
            time_zone,
        })
        .collect();
    post_credits(tx, &credits, &HashMap::new())
        .await
        .map(|_| ())
}

/// What one expiry batch closed in one shop.
#[derive(Clone, Debug, Default)]
pub struct Expired {
    pub tenant_id: i64,
    pub lots: u64,
    pub points: i64,
}

/// A member's account in one currency: (tenant, member, currency). An expiry run walks
/// them in this order.
pub type AccountKey = (i64, i64, String);

/// Below every account: where a walk starts.
const BEFORE_EVERY_ACCOUNT: AccountKey = (i64::MIN, i64::MIN, String::new());

/// Which accounts an expiry transaction takes.
#[derive(Clone, Copy, Debug)]
pub enum ExpiryOrder<'a> {
    /// The accounts of the soonest-due lots: found at once by the index on the date, for
    /// a run with few due lots.
    Soonest,
    /// The next accounts in key order after this one (from the first when `None`): a
    /// run over many due lots, each transaction on neighbouring pages.
    After(Option<&'a AccountKey>),
}

/// How many lots are due at `now`, counting no further than `cap` (the index on the
/// date answers it without reading the rest).
pub async fn count_due(db: &Db, now: i64, cap: u64) -> sqlx::Result<u64> {
    let (n,): (i64,) = on_db!(db, pool => sqlx::query_as(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM (SELECT 1 AS one FROM lots
           WHERE remaining > 0 AND expires_at IS NOT NULL AND expires_at <= $1 LIMIT $2) AS due")
        .bind(now).bind(i64::try_from(cap).unwrap_or(i64::MAX)).fetch_one(pool).await)?;
    Ok(n as u64)
}

/// What an expiry run at some moment would expire in one shop, read without writing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DueInShop {
    pub tenant_id: i64,
    /// `points` or `stamps`.
    pub currency: String,
    pub members: i64,
    pub lots: i64,
    pub amount: i64,
}

/// Per shop and currency, what is due at `at` (a dry run: nothing is written).
pub async fn due_by_shop(db: &Db, at: i64) -> sqlx::Result<Vec<DueInShop>> {
    let rows: Vec<(i64, String, i64, i64, Option<i64>)> = on_db!(db, pool => sqlx::query_as(
        "SELECT tenant_id, currency, CAST(COUNT(DISTINCT member_id) AS BIGINT), CAST(COUNT(*) AS BIGINT),
                CAST(SUM(remaining) AS BIGINT)
         FROM lots WHERE remaining > 0 AND expires_at IS NOT NULL AND expires_at <= $1
         GROUP BY tenant_id, currency ORDER BY tenant_id, currency")
        .bind(at).fetch_all(pool).await)?;
    Ok(rows
        .into_iter()
        .map(|(tenant_id, currency, members, lots, amount)| DueInShop {
            tenant_id,
            currency,
            members,
            lots,
            amount: amount.unwrap_or(0),
        })
        .collect())
}

/// What one expiry transaction did: per shop, whether it stopped at its lot cap, and
/// where the run goes on from.
#[derive(Clone, Debug, Default)]
pub struct ExpiryBatch {
    pub shops: Vec<Expired>,
    /// Expiry movements written: one per member and currency.
    pub movements: u64,
    /// More due lots of the members it took were left for the next batch.
    pub capped: bool,
    /// The next batch takes accounts after this one; `None` when no account after the
    /// cursor had due lots (the run is done).
    pub next: Option<AccountKey>,
}

/// Expire the due lots (past their date at `now`) of the accounts (member and currency)
/// owning the next `scan` due lots in `order`, across shops, set-based inside the
/// caller's transaction; at most `max_lots` of them (a member's oldest lots first), so a
/// member with more due lots than that is expired over several batches. A run over many
/// due lots takes the accounts in key order ([`ExpiryOrder::After`]), not by due date, so
/// its transactions each touch a range of members: their lots, balances and index
/// entries sit together, and a page is written by one transaction instead of by every
/// transaction of the run (on SQLite each commit writes every page it dirtied, so that
/// is what bounds a run).
/// Each member
/// (and currency) gets one expiry movement for the due lots the batch closes: a
/// transaction, two entries and the balance lowered, with one allocation per lot (as a
/// redemption records the lots it spent), so a member's history shows one line per batch
/// (per run, unless the member has more due lots than a batch may close), and each
/// expired lot writes two rows instead of six. A lot
/// is expired under its member's lock and only while it still has points, so a re-run,
/// or two runs at once, expire nothing twice; a lot that gets points back later (a
/// cancelled redemption) expires again at the next run.
pub async fn expire_due(
    tx: &mut Tx,
    now: i64,
    order: ExpiryOrder<'_>,
    scan: i64,
    max_lots: usize,
) -> sqlx::Result<ExpiryBatch> {
    use crate::store::Val::{Int, OptInt, OptText, Text};
    use crate::store::{execute_values, fetch_values};
    let after = match order {
        ExpiryOrder::After(after) => after,
        ExpiryOrder::Soonest => None,
    };
    let mut members: Vec<(i64, i64, String)> = match order {
        ExpiryOrder::Soonest => on_tx!(tx, c => sqlx::query_as(
            "SELECT DISTINCT tenant_id, member_id, currency FROM (
               SELECT tenant_id, member_id, currency FROM lots
               WHERE remaining > 0 AND expires_at IS NOT NULL AND expires_at <= $1 ORDER BY expires_at LIMIT $2) AS due")
            .bind(now).bind(scan).fetch_all(c).await)?,
        ExpiryOrder::After(after) => {
            let (t0, m0, c0) = after.cloned().unwrap_or(BEFORE_EVERY_ACCOUNT);
            on_tx!(tx, c => sqlx::query_as(
                "SELECT DISTINCT tenant_id, member_id, currency FROM (
                   SELECT tenant_id, member_id, currency FROM lots
                   WHERE remaining > 0 AND expires_at IS NOT NULL AND expires_at <= $1
                     AND (tenant_id, member_id, currency) > ($2, $3, $4)
                   ORDER BY tenant_id, member_id, currency LIMIT $5) AS due")
                .bind(now).bind(t0).bind(m0).bind(&c0).bind(scan).fetch_all(c).await)?
        }
    };
    if members.is_empty() {
        return Ok(ExpiryBatch::default());
    }
    // In key order, so two batches on PostgreSQL lock balances without deadlocking.
    members.sort_unstable();
    let keys: Vec<_> = members
        .iter()
        .map(|(t, m, c)| vec![Int(*t), Int(*m), Text(c)])
        .collect();
    plan_on_postgres(tx, EXPIRY_PLAN).await?;
    if tx.backend() == crate::store::Backend::Postgres {
        // Lock the members' balance rows before reading their lots: a redemption may be
        // spending from them. (SQLite's write transaction already shuts out every other
        // writer.)
        fetch_values::<(i64,)>(
            tx,
            "SELECT b.member_id FROM balances b JOIN (",
            ") AS v ON b.tenant_id = v.column1 AND b.member_id = v.column2 AND b.currency = v.column3
             ORDER BY b.tenant_id, b.member_id, b.currency FOR UPDATE OF b",
            &keys,
        )
        .await?;
    }
    let mut open: Vec<(i64, i64, String, i64, i64)> = fetch_values(
        tx,
        "SELECT l.tenant_id, l.member_id, l.currency, l.id, l.remaining FROM lots l JOIN (",
        &format!(
            ") AS v ON l.tenant_id = v.column1 AND l.member_id = v.column2 AND l.currency = v.column3
             WHERE l.remaining > 0 AND l.expires_at IS NOT NULL AND l.expires_at <= {now}"
        ),
        &keys,
    )
    .await?;
    // Grouped by member, lots in id order within each; the rest past the cap wait.
    open.sort_unstable();
    let capped = open.len() > max_lots.max(1);
    // The run goes on after the last account this batch finishes: the last one taken,
    // or, when the cap cut an account's lots short, the one before it (so it is taken
    // again, for the rest).
    let account = |l: &(i64, i64, String, i64, i64)| (l.0, l.1, l.2.clone());
    let next = if capped {
        let cut = account(&open[max_lots.max(1)]);
        members
            .iter()
            .rev()
            .find(|m| **m < cut)
            .cloned()
            .or_else(|| after.cloned())
            .unwrap_or(BEFORE_EVERY_ACCOUNT)
    } else {
        members.last().cloned().expect("members is not empty")
    };
    open.truncate(max_lots.max(1));
    let wall = now_micros();
    let mut groups: Vec<(i64, i64, &str, i64, i64)> = vec![]; // tenant, member, currency, txn, points
    let (mut allocations, mut closed) = (vec![], vec![]);
    let mut per_shop: std::collections::BTreeMap<i64, Expired> = Default::default();
    for (tenant, member, currency, lot, remaining) in &open {
        let (tenant, member, lot, remaining) = (*tenant, *member, *lot, *remaining);
        let txn = match groups.last_mut() {
            Some(g) if (g.0, g.1, g.2) == (tenant, member, currency.as_str()) => {
                g.4 += remaining;
                g.3
            }
            _ => {
                let txn = ids::next_id();
                groups.push((tenant, member, currency, txn, remaining));
                txn
            }
        };
        allocations.push(vec![Int(tenant), Int(txn), Int(lot), Int(remaining)]);
        closed.push(vec![Int(tenant), Int(lot)]);
        let shop = per_shop.entry(tenant).or_insert(Expired {
            tenant_id: tenant,
            ..Default::default()
        });
        shop.lots += 1;
        shop.points += remaining;
    }
    // Keyed by the new transaction id alone: ids grow, so the keys of a batch go to the
    // end of the key index (a few pages) instead of one page per member.
    let idem: Vec<String> = groups
        .iter()
        .map(|(_, _, _, txn, _)| format!("expire:{txn}"))
        .collect();
    let (mut txns, mut entries, mut balances) = (vec![], vec![], vec![]);
    for (&(tenant, member, currency, txn, points), key) in groups.iter().zip(&idem) {
        txns.push(vec![
            Int(tenant),
            Int(txn),
            Int(member),
            Text(currency),
            Text(Kind::Expire.as_str()),
            Int(-points),
            Int(0),
            Text(key),
            Text(key),
            OptText(None),
            OptInt(None),
            OptInt(None),
            OptInt(None),
            OptInt(None),
            OptText(Some("expired")),
            Text("system"),
            OptInt(None),
            Int(now),
            Int(wall),
            Text("{}"),
        ]);
        entries.push(vec![
            Int(tenant),
            Int(ids::next_id()),
            Int(txn),
            Text("member"),
            OptInt(Some(member)),
            Text(currency),
            Int(-points),
            Int(wall),
        ]);
        entries.push(vec![
            Int(tenant),
            Int(ids::next_id()),
            Int(txn),
            Text(Kind::Expire.system_account()),
            OptInt(None),
            Text(currency),
            Int(points),
            Int(wall),
        ]);
        balances.push(vec![
            Int(tenant),
            Int(member),
            Text(currency),
            Int(points),
            Int(wall),
        ]);
    }
    execute_values(tx, INSERT_TXNS, "", &txns).await?;
    execute_values(
        tx,
        "INSERT INTO allocations (tenant_id, txn_id, lot_id, amount)",
        "",
        &allocations,
    )
    .await?;
    execute_values(tx, INSERT_ENTRIES, "", &entries).await?;
    execute_values(
        tx,
        "UPDATE lots SET remaining = 0 FROM (",
        ") AS v WHERE lots.tenant_id = v.column1 AND lots.id = v.column2",
        &closed,
    )
    .await?;
    execute_values(
        tx,
        "UPDATE balances SET balance = balances.balance - v.column4, updated_at = v.column5 FROM (",
        ") AS v WHERE balances.tenant_id = v.column1 AND balances.member_id = v.column2 AND balances.currency = v.column3",
        &balances,
    )
    .await?;
    Ok(ExpiryBatch {
        shops: per_shop.into_values().collect(),
        movements: groups.len() as u64,
        capped,
        next: Some(next),
    })
}

/// Post one movement. See the module documentation.
pub async fn post(
    tx: &mut Tx,
    p: &Posting,
    settings: &LedgerSettings,
    time_zone: &jiff::tz::TimeZone,
) -> Result<Posted, LedgerError> {
    let (tenant, member, currency) = (p.tenant_id, p.member_id, p.currency);
    let bal = lock_balance(tx, tenant, member, currency).await?;

    let existing: Option<ExistingTxn> = on_tx!(tx, c => sqlx::query_as(
        "SELECT id, request_hash, amount, uncollected, member_id, currency FROM ledger_txns WHERE tenant_id = $1 AND idem_key = $2")
        .bind(tenant).bind(&p.idem_key).fetch_optional(c).await)?;
    if let Some(e) = existing {
        if e.request_hash != p.request_hash
            || e.member_id != member
            || e.currency != currency.as_str()
        {
            return Err(LedgerError::KeyReused);
        }
        return Ok(Posted {
            txn_id: e.id,
            points: e.amount,
            uncollected: e.uncollected,
            balance: bal.balance,
            replayed: true,
        });
    }

    let txn_id = ids::next_id();
    let now = now_micros();
    let (mut balance, mut debt) = (bal.balance, bal.debt);
    let mut applied: i64;
    let mut uncollected = 0;
    if !(0..=MAX_POINTS).contains(&p.amount)
        || (p.kind.is_credit() && p.amount > 0 && balance.saturating_add(p.amount) > MAX_POINTS)
    {
        return Err(LedgerError::PointsLimit);
    }

    match p.kind {
        Kind::Earn | Kind::Bonus | Kind::Opening | Kind::AdjustCredit => {
            applied = p.amount;
            // Points owed from earlier refunds are repaid before a new lot is opened.
            let repay = applied.min(debt);
            debt -= repay;
            let lot_amount = applied - repay;
            if lot_amount > 0 {
                let (pending_until, expires_at) = lot_dates(p, settings, time_zone);
                on_tx!(tx, c => sqlx::query(
                    "INSERT INTO lots (tenant_id, id, member_id, currency, txn_id, original, remaining, earned_at, pending_until, expires_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8, $9)")
                    .bind(tenant).bind(ids::next_id()).bind(member).bind(currency.as_str()).bind(txn_id).bind(lot_amount)
                    .bind(p.occurred_at).bind(pending_until).bind(expires_at)
                    .execute(c).await.map(|r| r.rows_affected()))?;
            }
            balance += applied;
        }
        Kind::RedeemCancel => {
            let original = p
                .reverses_id
                .ok_or(LedgerError::NothingToUndo("no redemption given"))?;
            let already: Option<(i64,)> = on_tx!(tx, c => sqlx::query_as(
                "SELECT id FROM ledger_txns WHERE tenant_id = $1 AND reverses_id = $2 AND kind = 'redeem_cancel'")
                .bind(tenant).bind(original).fetch_optional(c).await)?;
            if already.is_some() {
                return Err(LedgerError::NothingToUndo(
                    "this redemption was already cancelled",
                ));
            }
            let taken: Vec<(i64, i64)> = on_tx!(tx, c => sqlx::query_as(
                "SELECT a.lot_id, a.amount FROM allocations a JOIN ledger_txns t ON t.tenant_id = a.tenant_id AND t.id = a.txn_id
                 WHERE a.tenant_id = $1 AND a.txn_id = $2 AND t.kind = 'redeem' AND t.member_id = $3")
                .bind(tenant).bind(original).bind(member).fetch_all(c).await)?;
            if taken.is_empty() {
                return Err(LedgerError::NothingToUndo(
                    "no such redemption for this member",
                ));
            }
            applied = 0;
            // The points go back to the lots they came from, with their expiry dates.
            for (lot, amount) in taken {
                allocate(tx, tenant, txn_id, lot, -amount).await?;
                applied += amount;
            }
            balance += applied;
        }
        Kind::Redeem | Kind::AdjustDebit => {
            let now = now_micros();
            let lots = open_lots(tx, tenant, member, currency).await?;
            let spendable_lots: i64 = lots
                .iter()
                .filter(|l| l.spendable(now))
                .map(|l| l.remaining)
                .sum();
            let spendable = spendable_lots.min(balance).max(0);
            if p.amount > spendable {
                return Err(LedgerError::InsufficientPoints {
                    available: spendable,
                });
            }
            let plan = plan_debit(&lots, p.amount, now)
                .map_err(|available| LedgerError::InsufficientPoints { available })?;
            for (lot, take) in plan {
                allocate(tx, tenant, txn_id, lot, take).await?;
            }
            applied = -p.amount;
            balance += applied;
        }
        // Lots expire only through an expiry run (`expire_due`), set-based and in
        // member order, never one posting at a time.
        Kind::Expire => return Err(LedgerError::ExpiryIsARun),
        Kind::Reversal => {
            let source = p
                .reverses_id
                .ok_or(LedgerError::NothingToUndo("no purchase given"))?;
            let mut lots = open_lots(tx, tenant, member, currency).await?;
            // The purchase's own lot first, then the others soonest-expiring first
            // (pending points included: a return window is what they are for).
            let source_lot: Option<(i64,)> = on_tx!(tx, c => sqlx::query_as(
                "SELECT id FROM lots WHERE tenant_id = $1 AND txn_id = $2").bind(tenant).bind(source).fetch_optional(c).await)?;
            fefo_order(&mut lots);
            if let Some((sid,)) = source_lot {
                lots.sort_by_key(|l| l.id != sid);
            }
            let mut left = p.amount;
            for lot in lots {
                if left == 0 {
                    break;
                }
                let take = lot.remaining.min(left);
                allocate(tx, tenant, txn_id, lot.id, take).await?;
                left -= take;
            }
            match settings.refund_policy {
                RefundPolicy::AllowNegative => {
                    debt += left;
                    applied = -p.amount;
                }
                RefundPolicy::WithinBalance => {
                    // Lots can exceed the balance only when there is debt; never take more
                    // than the balance holds.
                    uncollected = left;
                    applied = -(p.amount - left);
                }
            }
            balance += applied;
        }
    }
    // A cancelled redemption's points return on top of later credits; refunds grow debt.
    // Only a movement that raises a balance or debt past the limit is refused (one held
    // from before the limit may still shrink).
    if (balance > MAX_POINTS && balance > bal.balance) || (debt > MAX_POINTS && debt > bal.debt) {
        return Err(LedgerError::PointsLimit);
    }

    on_tx!(tx, c => sqlx::query(
        "INSERT INTO ledger_txns (tenant_id, id, member_id, currency, kind, amount, uncollected, idem_key, request_hash, receipt,
             branch_id, bill_satang, reverses_id, lot_id, reason, actor_kind, actor_id, occurred_at, created_at, details)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)")
        .bind(tenant).bind(txn_id).bind(member).bind(currency.as_str()).bind(p.kind.as_str()).bind(applied).bind(uncollected)
        .bind(&p.idem_key).bind(&p.request_hash).bind(&p.receipt).bind(p.branch_id).bind(p.bill_satang).bind(p.reverses_id)
        .bind(None::<i64>).bind(&p.reason).bind(&p.actor_kind).bind(p.actor_id).bind(p.occurred_at).bind(now)
        .bind(p.details.to_string())
        .execute(c).await.map(|r| r.rows_affected()))?;
    if applied != 0 {
        on_tx!(tx, c => {
            sqlx::query("INSERT INTO ledger_entries (tenant_id, id, txn_id, account, member_id, currency, amount, at)
                         VALUES ($1, $2, $3, 'member', $4, $5, $6, $7), ($1, $8, $3, $9, NULL, $5, $10, $7)")
                .bind(tenant).bind(ids::next_id()).bind(txn_id).bind(member).bind(currency.as_str()).bind(applied).bind(now)
                .bind(ids::next_id()).bind(p.kind.system_account()).bind(-applied)
                .execute(&mut *c).await?;
            sqlx::query("UPDATE balances SET balance = $4, debt = $5, updated_at = $6 WHERE tenant_id = $1 AND member_id = $2 AND currency = $3")
                .bind(tenant).bind(member).bind(currency.as_str()).bind(balance).bind(debt).bind(now)
                .execute(&mut *c).await.map(|r| r.rows_affected())
        })?;
    }
    Ok(Posted {
        txn_id,
        points: applied,
        uncollected,
        balance,
        replayed: false,
    })
}

/// A member's balance in one currency, with what is spendable, pending and expiring.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct BalanceSummary {
    pub currency: Currency,
    pub balance: i64,
    /// What can be spent now.
    pub available: i64,
    /// Points in their return window, not yet spendable.
    pub pending: i64,
    /// Points refunds took beyond the balance; repaid from future earnings.
    pub debt: i64,
    pub expiring_30_days: i64,
    pub expiring_60_days: i64,
    pub expiring_90_days: i64,
    /// When the soonest points expire.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub next_expiry: Option<jiff::Timestamp>,
    pub next_expiry_points: i64,
}

pub async fn balance_summary(
    db: &Db,
    tenant_id: i64,
    member_id: i64,
    currency: Currency,
) -> sqlx::Result<BalanceSummary> {
    let bal: Option<(i64, i64)> = on_db!(db, pool => sqlx::query_as(
        "SELECT balance, debt FROM balances WHERE tenant_id = $1 AND member_id = $2 AND currency = $3")
        .bind(tenant_id).bind(member_id).bind(currency.as_str()).fetch_optional(pool).await)?;
    let (balance, debt) = bal.unwrap_or((0, 0));
    let lots: Vec<(i64, i64, Option<i64>)> = on_db!(db, pool => sqlx::query_as(
        "SELECT remaining, pending_until, expires_at FROM lots WHERE tenant_id = $1 AND member_id = $2 AND currency = $3 AND remaining > 0")
        .bind(tenant_id).bind(member_id).bind(currency.as_str()).fetch_all(pool).await)?;
    let now = now_micros();
    let day = 86_400_000_000i64;
    let live = |e: &Option<i64>| e.is_none_or(|e| e > now);
    let spendable: i64 = lots
        .iter()
        .filter(|(_, p, e)| *p <= now && live(e))
        .map(|l| l.0)
        .sum();
    let pending: i64 = lots
        .iter()
        .filter(|(_, p, e)| *p > now && live(e))
        .map(|l| l.0)
        .sum();
    let expiring = |days: i64| {
        lots.iter()
            .filter(|(_, _, e)| e.is_some_and(|e| e > now && e <= now + days * day))
            .map(|l| l.0)
            .sum::<i64>()
    };
    let next = lots
        .iter()
        .filter_map(|(_, _, e)| e.filter(|e| *e > now))
        .min();
    Ok(BalanceSummary {
        currency,
        balance,
        available: spendable.min(balance).max(0),
        pending,
        debt,
        expiring_30_days: expiring(30),
        expiring_60_days: expiring(60),
        expiring_90_days: expiring(90),
        next_expiry: next.map(crate::types::timestamp),
        next_expiry_points: next
            .map(|n| lots.iter().filter(|l| l.2 == Some(n)).map(|l| l.0).sum())
            .unwrap_or(0),
    })
}

/// One line of a member's history.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema, sqlx::FromRow)]
pub struct HistoryLine {
    pub id: i64,
    pub kind: String,
    pub currency: String,
    /// The change to the balance (negative for debits).
    pub amount: i64,
    pub uncollected: i64,
    pub receipt: Option<String>,
    pub branch_id: Option<i64>,
    pub bill_satang: Option<i64>,
    pub reverses_id: Option<i64>,
    pub reason: Option<String>,
    pub actor_kind: String,
    pub actor_id: Option<i64>,
    #[sqlx(skip)]
    #[schema(value_type = String, format = DateTime)]
    pub occurred_at: jiff::Timestamp,
    #[serde(skip)]
    #[schema(ignore)]
    pub occurred_micros: i64,
    /// For credits: when the lot they opened expires.
    #[sqlx(skip)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<jiff::Timestamp>,
    #[serde(skip)]
    #[schema(ignore)]
    pub lot_expires_micros: Option<i64>,
}

/// A member's history page, each credit with the expiry of the lot it opened. The lot is
/// joined by its member and currency as well as its transaction (a lot always has its
/// transaction's): without them SQLite's planner, with lots keyed by member, chose to
/// read every lot of the shop for each line (`SEARCH l USING PRIMARY KEY
/// (tenant_id=?)`); a test reads the plan.
pub const HISTORY: &str = "SELECT t.id, t.kind, t.currency, t.amount, t.uncollected, t.receipt, t.branch_id, t.bill_satang, t.reverses_id, t.reason,
        t.actor_kind, t.actor_id, t.occurred_at AS occurred_micros, l.expires_at AS lot_expires_micros
 FROM ledger_txns t LEFT JOIN lots l
   ON l.tenant_id = t.tenant_id AND l.member_id = t.member_id AND l.currency = t.currency AND l.txn_id = t.id
 WHERE t.tenant_id = $1 AND t.member_id = $2 AND t.id < $3 ORDER BY t.id DESC LIMIT $4";

pub async fn history(
    db: &Db,
    tenant_id: i64,
    member_id: i64,
    before_id: i64,
    limit: i64,
) -> sqlx::Result<Vec<HistoryLine>> {
    let mut rows: Vec<HistoryLine> = on_db!(db, pool => sqlx::query_as(HISTORY)
        .bind(tenant_id).bind(member_id).bind(before_id).bind(limit + 1).fetch_all(pool).await)?;
    for r in &mut rows {
        r.occurred_at = crate::types::timestamp(r.occurred_micros);
        r.expires_at = r.lot_expires_micros.map(crate::types::timestamp);
    }
    Ok(rows)
}

/// A purchase as recorded, for refunds.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct PurchaseRecord {
    pub id: i64,
    pub member_id: i64,
    pub amount: i64,
    pub bill_satang: Option<i64>,
    pub branch_id: Option<i64>,
}

/// A purchase's idempotency key: one purchase per receipt per shop.
pub fn purchase_key(receipt: &str) -> String {
    format!("receipt:{receipt}")
}

pub async fn find_purchase(
    db: &Db,
    tenant_id: i64,
    receipt: &str,
) -> sqlx::Result<Option<PurchaseRecord>> {
    // By the purchase's idempotency key (`receipt:{receipt}`, unique per shop), not by
    // `receipt`, which has no index: a refund then reads one row, not the shop's ledger.
    on_db!(db, pool => sqlx::query_as(
        "SELECT id, member_id, amount, bill_satang, branch_id FROM ledger_txns WHERE tenant_id = $1 AND idem_key = $2 AND kind = 'earn'")
        .bind(tenant_id).bind(purchase_key(receipt)).fetch_optional(pool).await)
}

/// Points liability over a period, per currency.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Liability {
    pub currency: Currency,
    /// Outstanding at the start of the period.
    pub opening: i64,
    /// Net points issued in the period (earned, bonuses, opening balances, adjustments,
    /// less reversals).
    pub issued: i64,
    /// Net points redeemed (less cancellations).
    pub redeemed: i64,
    pub expired: i64,
    /// Outstanding at the end: opening + issued - redeemed - expired, exactly.
    pub outstanding: i64,
}

/// Every account named, so the (tenant, account, currency, at) index reads only the
/// period's entries, not the shop's whole ledger (a test checks the list is whole).
const ACCOUNT_SUMS: &str =
    "SELECT account, CAST(SUM(amount) AS BIGINT) FROM ledger_entries
     WHERE tenant_id = $1 AND account IN ('member', 'earned', 'bonus', 'opening', 'adjustment', 'redeemed', 'expired')
       AND currency = $2 AND at >= $3 AND at < $4 GROUP BY account";

/// Sum of entries per system account in [from, to).
async fn account_sums(
    db: &Db,
    tenant_id: i64,
    currency: Currency,
    from: i64,
    to: i64,
) -> sqlx::Result<Vec<(String, i64)>> {
    let rows: Vec<(String, Option<i64>)> = on_db!(db, pool => sqlx::query_as(
        ACCOUNT_SUMS)
        .bind(tenant_id).bind(currency.as_str()).bind(from).bind(to).fetch_all(pool).await)?;
    Ok(rows.into_iter().map(|(a, s)| (a, s.unwrap_or(0))).collect())
}

pub async fn liability(
    db: &Db,
    tenant_id: i64,
    currency: Currency,
    from: i64,
    to: i64,
) -> sqlx::Result<Liability> {
    let before = account_sums(db, tenant_id, currency, i64::MIN, from).await?;
    let during = account_sums(db, tenant_id, currency, from, to).await?;
    let sum = |rows: &[(String, i64)], accounts: &[&str]| -> i64 {
        rows.iter()
            .filter(|(a, _)| accounts.contains(&a.as_str()))
            .map(|r| r.1)
            .sum()
    };
    let opening = sum(&before, &["member"]);
    let issued = -sum(&during, ISSUING_ACCOUNTS);
    let redeemed = sum(&during, &["redeemed"]);
    let expired = sum(&during, &["expired"]);
    let outstanding = opening + sum(&during, &["member"]);
    Ok(Liability {
        currency,
        opening,
        issued,
        redeemed,
        expired,
        outstanding,
    })
}

/// A difference between the projection and the entries.
#[derive(Clone, Debug, Serialize)]
pub struct Drift {
    pub tenant_id: i64,
    pub member_id: Option<i64>,
    pub what: String,
}

/// A balance row next to what its entries and lots say.
#[derive(sqlx::FromRow)]
struct ProjectionCheck {
    tenant_id: i64,
    member_id: i64,
    currency: String,
    balance: i64,
    debt: i64,
    entries: Option<i64>,
    lots: Option<i64>,
}

/// How `verify`'s sums are planned on PostgreSQL, for its transaction only (`SET LOCAL`).
/// Measured at 1M and 10M members (docs/BENCHMARKS.md, "Measured design choices"): with
/// the defaults the sums per member and per lot were hashed in 4 MB each and hashed
/// against the balances and lots,
/// writing 1.1 GB of temporary files at 1M members (4.3 GB at 10M); given more memory,
/// every sum was hashed, up to 256 MB per hash in each of the three processes summing
/// it: 1.8 GB of PostgreSQL's memory at 10M members.
const VERIFY_PLAN_TRANSACTIONS: &str =
    // The entries in transaction order from their index, summed as they stream past:
    // nothing held, nothing written, however large the ledger. Sorting in steps is off
    // too: on a database without statistics PostgreSQL chose that when the rest was off.
    "SET LOCAL enable_hashagg = off; SET LOCAL enable_sort = off; SET LOCAL enable_incremental_sort = off";
const VERIFY_PLAN_BALANCES: &str =
    // The sums per member and per lot sorted (hashing stays off) in 64 MB per sort, then
    // merged with the balances and lots in key order instead of hashed against them: six
    // sorts (two sums, each in three processes with PostgreSQL's default two workers),
    // about 0.5 GB whatever the size; what does not fit goes to temporary files. More
    // memory per sort bought nothing at 10M members (every sort spilled anyway), and
    // hashing was slower there and no faster at 1M than the runs' spread.
    "SET LOCAL enable_sort TO DEFAULT; SET LOCAL enable_incremental_sort TO DEFAULT; \
     SET LOCAL work_mem = '64MB'; SET LOCAL enable_hashjoin = off";

/// How an expiry batch is planned on PostgreSQL, for its transaction only. The batch joins
/// thousands of keys to the lots and balances. With the stock random_page_cost (4, priced
/// for spinning disks) PostgreSQL hashed them against a scan of the whole lots table in
/// every transaction; priced for SSDs it looks each key up, twice as fast over a run
/// (docs/BENCHMARKS.md, "Measured design choices").
const EXPIRY_PLAN: &str = "SET LOCAL random_page_cost = 1.1";

/// Run `SET LOCAL` planner settings for the rest of this transaction on PostgreSQL;
/// SQLite has no such settings, so there it does nothing. A query string without
/// arguments goes as PostgreSQL's simple query, so several statements may be given.
/// (`sqlx::raw_sql` says the same, but its future fails the compiler's `Send` check in
/// the server's housekeeping task, which runs the expiry: launchbadge/sqlx#3150.)
async fn plan_on_postgres(tx: &mut Tx, settings: &str) -> sqlx::Result<()> {
    match tx {
        Tx::Postgres(t) => sqlx::Executor::execute(&mut **t, settings)
            .await
            .map(|_| ()),
        Tx::Sqlite(_) => Ok(()),
    }
}

/// Recompute every balance from the entries and check every invariant. Empty = no drift.
/// The checks read one snapshot, in a read-only transaction that takes no lock a
/// purchase waits for.
pub async fn verify(db: &Db) -> sqlx::Result<Vec<Drift>> {
    let mut drift = vec![];
    let mut tx = db.begin_read().await?;
    plan_on_postgres(&mut tx, VERIFY_PLAN_TRANSACTIONS).await?;
    // 1. Every transaction's entries sum to zero, all in one currency (the transaction's:
    // a posting moves one currency). Grouped by the entries' index alone, so both
    // backends can sum them in its order without sorting or hashing the ledger.
    let unbalanced: Vec<(i64, i64, Option<i64>, bool)> = on_tx!(&mut tx, c => sqlx::query_as(
        "SELECT tenant_id, txn_id, CAST(SUM(amount) AS BIGINT), MIN(currency) <> MAX(currency) FROM ledger_entries
         GROUP BY tenant_id, txn_id HAVING CAST(SUM(amount) AS BIGINT) <> 0 OR MIN(currency) <> MAX(currency)")
        .fetch_all(c).await)?;
    for (t, txn, s, mixed) in unbalanced {
        drift.push(Drift {
            tenant_id: t,
            member_id: None,
            what: if mixed {
                format!("transaction {txn} has entries in more than one currency")
            } else {
                format!("transaction {txn} entries sum to {}", s.unwrap_or(0))
            },
        });
    }
    plan_on_postgres(&mut tx, VERIFY_PLAN_BALANCES).await?;
    // 2. The projection equals the sum of member entries, and open lots minus debt. Sums
    // are grouped once per table (not one subquery per member: that is quadratic without
    // an index on entries by member), and only rows that disagree come back, so memory
    // stays flat at millions of members.
    let rows: Vec<ProjectionCheck> = on_tx!(&mut tx, c => sqlx::query_as(
        "SELECT b.tenant_id, b.member_id, b.currency, b.balance, b.debt, e.total AS entries, l.total AS lots
         FROM balances b
         LEFT JOIN (SELECT tenant_id, member_id, currency, CAST(SUM(amount) AS BIGINT) AS total FROM ledger_entries
                    WHERE account = 'member' GROUP BY tenant_id, member_id, currency) e
           ON e.tenant_id = b.tenant_id AND e.member_id = b.member_id AND e.currency = b.currency
         LEFT JOIN (SELECT tenant_id, member_id, currency, CAST(SUM(remaining) AS BIGINT) AS total FROM lots
                    GROUP BY tenant_id, member_id, currency) l
           ON l.tenant_id = b.tenant_id AND l.member_id = b.member_id AND l.currency = b.currency
         WHERE COALESCE(e.total, 0) <> b.balance OR COALESCE(l.total, 0) - b.debt <> b.balance OR b.debt < 0")
        .fetch_all(c).await)?;
    for r in rows {
        let (t, m, cur, balance, debt) = (r.tenant_id, r.member_id, r.currency, r.balance, r.debt);
        let (entries, lots) = (r.entries.unwrap_or(0), r.lots.unwrap_or(0));
        if entries != balance {
            drift.push(Drift {
                tenant_id: t,
                member_id: Some(m),
                what: format!("{cur}: balance {balance} but entries sum to {entries}"),
            });
        }
        if lots - debt != balance {
            drift.push(Drift {
                tenant_id: t,
                member_id: Some(m),
                what: format!("{cur}: balance {balance} but open lots {lots} minus debt {debt}"),
            });
        }
        if debt < 0 {
            drift.push(Drift {
                tenant_id: t,
                member_id: Some(m),
                what: format!("{cur}: negative debt {debt}"),
            });
        }
    }
    // 3. Every lot: 0 <= remaining <= original, and original - remaining = its allocations.
    let lots: Vec<(i64, i64, i64, i64, i64, Option<i64>)> = on_tx!(&mut tx, c => sqlx::query_as(
        "SELECT l.tenant_id, l.id, l.member_id, l.original, l.remaining, a.total
         FROM lots l
         LEFT JOIN (SELECT tenant_id, lot_id, CAST(SUM(amount) AS BIGINT) AS total FROM allocations GROUP BY tenant_id, lot_id) a
           ON a.tenant_id = l.tenant_id AND a.lot_id = l.id
         WHERE l.remaining < 0 OR l.remaining > l.original OR l.original - l.remaining <> COALESCE(a.total, 0)")
        .fetch_all(c).await)?;
    for (t, lot, m, original, remaining, allocated) in lots {
        if remaining < 0 || remaining > original || original - remaining != allocated.unwrap_or(0) {
            drift.push(Drift {
                tenant_id: t,
                member_id: Some(m),
                what: format!(
                    "lot {lot}: original {original}, remaining {remaining}, allocated {}",
                    allocated.unwrap_or(0)
                ),
            });
        }
    }
    tx.commit().await?;
    Ok(drift)
}

/// (satang refunded, points reversed as requested) so far for a purchase, read under
/// the member's balance lock.
pub async fn refund_state_locked(
    tx: &mut Tx,
    tenant_id: i64,
    member_id: i64,
    purchase_id: i64,
) -> sqlx::Result<(i64, i64)> {
    lock_balance(tx, tenant_id, member_id, Currency::Points).await?;
    let (satang, points): (Option<i64>, Option<i64>) = on_tx!(tx, c => sqlx::query_as(
        "SELECT CAST(SUM(bill_satang) AS BIGINT), CAST(SUM(uncollected - amount) AS BIGINT) FROM ledger_txns
         WHERE tenant_id = $1 AND reverses_id = $2 AND kind = 'reversal'")
        .bind(tenant_id).bind(purchase_id).fetch_one(c).await)?;
    Ok((satang.unwrap_or(0), points.unwrap_or(0)))
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct TxnRef {
    pub id: i64,
    pub member_id: i64,
    pub kind: String,
    pub currency: String,
}

pub async fn get_txn(db: &Db, tenant_id: i64, id: i64) -> sqlx::Result<Option<TxnRef>> {
    on_db!(db, pool => sqlx::query_as("SELECT id, member_id, kind, currency FROM ledger_txns WHERE tenant_id = $1 AND id = $2")
        .bind(tenant_id).bind(id).fetch_optional(pool).await)
}

/// Lock the member's balance row in this transaction (serialises their postings);
/// returns the balance.
pub async fn lock_member(
    tx: &mut Tx,
    tenant_id: i64,
    member_id: i64,
    currency: Currency,
) -> sqlx::Result<i64> {
    lock_balance(tx, tenant_id, member_id, currency)
        .await
        .map(|b| b.balance)
}

/// A transaction found by its idempotency key, with what a replay needs.
#[derive(Clone, Debug)]
pub struct KeyedTxn {
    pub id: i64,
    pub member_id: i64,
    pub currency: String,
    pub amount: i64,
    pub request_hash: String,
    pub details: String,
}

pub async fn txn_by_key_full(
    tx: &mut Tx,
    tenant_id: i64,
    key: &str,
) -> sqlx::Result<Option<KeyedTxn>> {
    let mut found = txns_by_keys(tx, &[(tenant_id, key)]).await?;
    Ok(found.remove(&(tenant_id, key.to_string())))
}

/// The transactions holding any of these (tenant, idempotency key) pairs, in one query.
pub async fn txns_by_keys(
    tx: &mut Tx,
    keys: &[(i64, &str)],
) -> sqlx::Result<HashMap<(i64, String), KeyedTxn>> {
    use crate::store::Val::{Int, Text};
    let rows: Vec<_> = keys.iter().map(|&(t, k)| vec![Int(t), Text(k)]).collect();
    type Row = (i64, String, i64, i64, String, i64, String, String);
    let found: Vec<Row> = crate::store::fetch_values(
        tx,
        "SELECT t.tenant_id, t.idem_key, t.id, t.member_id, t.currency, t.amount, t.request_hash, t.details FROM (",
        ") AS v JOIN ledger_txns t ON t.tenant_id = v.column1 AND t.idem_key = v.column2",
        &rows,
    )
    .await?;
    Ok(found
        .into_iter()
        .map(
            |(tenant, key, id, member_id, currency, amount, request_hash, details)| {
                let txn = KeyedTxn {
                    id,
                    member_id,
                    currency,
                    amount,
                    request_hash,
                    details,
                };
                ((tenant, key), txn)
            },
        )
        .collect())
}

/// Points each member earned from purchases that happened in their window [from, to):
/// windows are (tenant, member, from, to), one per member; the sums are keyed by
/// (tenant, member) and a member who earned nothing there is absent.
pub async fn earned_in_windows(
    tx: &mut Tx,
    windows: &[(i64, i64, i64, i64)],
) -> sqlx::Result<HashMap<(i64, i64), i64>> {
    crate::store::per_member_values(
        tx,
        "SELECT v.column1, v.column2, CAST(SUM(t.amount) AS BIGINT) FROM (",
        ") AS v JOIN ledger_txns t ON t.tenant_id = v.column1 AND t.member_id = v.column2
           AND t.id >= v.column5 AND t.kind = 'earn' AND t.currency = 'points'
           AND t.occurred_at >= v.column3 AND t.occurred_at < v.column4
         GROUP BY v.column1, v.column2",
        windows,
    )
    .await
}

/// Remove free text staff typed about a member (reasons) when the member is erased;
/// amounts, kinds and dates, and so every balance and report, stay as they were.
pub async fn scrub_free_text(tx: &mut Tx, tenant_id: i64, member_id: i64) -> sqlx::Result<u64> {
    on_tx!(tx, c => sqlx::query("UPDATE ledger_txns SET reason = '(erased)' WHERE tenant_id = $1 AND member_id = $2 AND reason IS NOT NULL")
        .bind(tenant_id).bind(member_id).execute(c).await.map(|r| r.rows_affected()))
}

/// Every movement of a member, oldest first (for a data export).
pub async fn full_history(
    db: &Db,
    tenant_id: i64,
    member_id: i64,
) -> sqlx::Result<Vec<HistoryLine>> {
    let mut all = vec![];
    let mut before = i64::MAX;
    loop {
        let mut page = history(db, tenant_id, member_id, before, 500).await?;
        let more = page.len() > 500;
        page.truncate(500);
        before = page.last().map(|l| l.id).unwrap_or(before);
        all.extend(page);
        if !more {
            all.reverse();
            return Ok(all);
        }
    }
}

/// Lock members' balances in every currency, lowest id first, before a change to who
/// they are (a merge, an erasure): two such changes to the same members (a merge either
/// way round, a merge and an erasure) run one after the other, and the second reads
/// what the first did.
/// Returns each member's (balance, debt) per currency.
pub async fn lock_members(
    tx: &mut Tx,
    tenant_id: i64,
    members: &[i64],
) -> sqlx::Result<HashMap<(i64, Currency), (i64, i64)>> {
    let keyed: Vec<(i64, i64)> = members.iter().map(|m| (tenant_id, *m)).collect();
    let mut held = HashMap::new();
    for currency in [Currency::Points, Currency::Stamps] {
        for ((_, member), b) in lock_balances(tx, currency, &keyed).await? {
            held.insert((member, currency), b);
        }
    }
    Ok(held)
}

/// Re-attribute everything `from` holds in the ledger to `into` (a merge of two profiles
/// of one person). Amounts, kinds, dates, lots and keys are unchanged, so every
/// transaction still balances and every report is unchanged; the two balance rows (per
/// currency) are summed. The caller has locked both with [`lock_members`].
pub async fn merge_members(tx: &mut Tx, tenant_id: i64, from: i64, into: i64) -> sqlx::Result<()> {
    on_tx!(tx, c => {
        // Entries and lots are found through the member's transactions (their own
        // member_id has no index: a lookup by it read the shop's whole ledger), so they
        // move before the transactions do.
        for table in ["ledger_entries", "lots"] {
            sqlx::query(&format!(
                "UPDATE {table} SET member_id = $3 WHERE tenant_id = $1 AND member_id = $2
                 AND txn_id IN (SELECT id FROM ledger_txns WHERE tenant_id = $1 AND member_id = $2)"))
                .bind(tenant_id).bind(from).bind(into).execute(&mut *c).await?;
        }
        // Redemptions and draw entries were bought with these points: they follow them.
        for table in ["ledger_txns", "redemptions", "draw_entries"] {
            sqlx::query(&format!("UPDATE {table} SET member_id = $3 WHERE tenant_id = $1 AND member_id = $2"))
                .bind(tenant_id).bind(from).bind(into).execute(&mut *c).await?;
        }
        let rows: Vec<(String, i64, i64)> = sqlx::query_as("SELECT currency, balance, debt FROM balances WHERE tenant_id = $1 AND member_id = $2")
            .bind(tenant_id).bind(from).fetch_all(&mut *c).await?;
        for (currency, balance, debt) in rows {
            sqlx::query("UPDATE balances SET balance = balance + $4, debt = debt + $5, updated_at = $6 WHERE tenant_id = $1 AND member_id = $2 AND currency = $3")
                .bind(tenant_id).bind(into).bind(&currency).bind(balance).bind(debt).bind(now_micros()).execute(&mut *c).await?;
        }
        // The survivor keeps its own tier; the merged history counts from its next purchase.
        sqlx::query("DELETE FROM member_tiers WHERE tenant_id = $1 AND member_id = $2").bind(tenant_id).bind(from).execute(&mut *c).await?;
        sqlx::query("DELETE FROM balances WHERE tenant_id = $1 AND member_id = $2").bind(tenant_id).bind(from).execute(&mut *c).await.map(|r| r.rows_affected())
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_liability_report_sums_every_account_a_movement_can_post_to() {
        let sql = ACCOUNT_SUMS;
        let kinds = [
            Kind::Earn,
            Kind::Bonus,
            Kind::Opening,
            Kind::AdjustCredit,
            Kind::AdjustDebit,
            Kind::Redeem,
            Kind::RedeemCancel,
            Kind::Expire,
            Kind::Reversal,
        ];
        for account in kinds.map(Kind::system_account).iter().chain(&["member"]) {
            assert!(
                sql.contains(&format!("'{account}'")),
                "{account} missing: {sql}"
            );
        }
    }
}
