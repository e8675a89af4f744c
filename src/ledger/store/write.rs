//! The ledger's one writer. Every movement goes through here: [`post`] (one posting, in
//! the caller's transaction), [`post_credits`] (a group of purchases, a member import's
//! opening balances) and the expiry run ([`super::expiry::expire_due`]). Each reads, under
//! the members' balance locks, what the planner needs ([`Facts`]; an expiry needs only the
//! due lots, not the balances), plans every posting with the one pure planner
//! ([`crate::ledger::plan::plan`]) and hands the plans to [`write`], which writes them all
//! with one multi-row statement per table.

use std::collections::{BTreeMap, HashMap};

use crate::ids;
use crate::ledger::model::{Currency, OpenLot};
use crate::ledger::plan::{Account, Facts, Planned, plan};
use crate::ledger::posting::{Kind, LedgerError, Posted, Posting, ShopRules};
use crate::money::{Points, Satang};
use crate::on_tx;
use crate::store::{Tx, now_micros};

/// A member's account in one currency: (tenant, member, currency).
pub type AccountId = (i64, i64, Currency);

/// Lock the member's balance row for this transaction (creating it if needed). On
/// PostgreSQL this is a row lock; SQLite's write transaction already holds the lock.
async fn lock_balance(
    tx: &mut Tx,
    tenant_id: i64,
    member_id: i64,
    currency: Currency,
) -> sqlx::Result<Account> {
    let held = lock_balances(tx, currency, &[(tenant_id, member_id)]).await?;
    let (balance, debt) = held[&(tenant_id, member_id)];
    Ok(Account {
        balance: Points::new(balance),
        debt: Points::new(debt),
    })
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

/// The heads of the writer's multi-row inserts (rows in this column order).
pub(super) const INSERT_TXNS: &str = "INSERT INTO ledger_txns (tenant_id, id, member_id, currency, kind, amount, uncollected, idem_key, request_hash, receipt,
             branch_id, bill_satang, reverses_id, lot_id, reason, actor_kind, actor_id, occurred_at, created_at, details)";
pub(super) const INSERT_ENTRIES: &str =
    "INSERT INTO ledger_entries (tenant_id, id, txn_id, account, member_id, currency, amount, at)";

/// What refunds took back from a purchase so far, read under the member's balance lock.
#[derive(Clone, Debug, Default)]
pub struct RefundsSoFar {
    /// Satang refunded.
    pub satang: i64,
    /// Points (or stamps) reversed as requested, including what could not be collected.
    pub points: i64,
    /// Each reversal's details, as its poster wrote them.
    pub details: Vec<String>,
}

/// What refunds took back from a purchase so far, read under the member's balance lock
/// (a purchase has a handful of refunds at most).
pub async fn refund_state_locked(
    tx: &mut Tx,
    tenant_id: i64,
    member_id: i64,
    purchase_id: i64,
) -> sqlx::Result<RefundsSoFar> {
    lock_balance(tx, tenant_id, member_id, Currency::Points).await?;
    let rows: Vec<(Option<i64>, i64, String)> = on_tx!(tx, c => sqlx::query_as(
        "SELECT bill_satang, uncollected - amount, details FROM ledger_txns
         WHERE tenant_id = $1 AND reverses_id = $2 AND kind = 'reversal' ORDER BY id")
        .bind(tenant_id).bind(purchase_id).fetch_all(c).await)?;
    Ok(rows.into_iter().fold(
        RefundsSoFar::default(),
        |mut so_far, (satang, points, details)| {
            so_far.satang += satang.unwrap_or(0);
            so_far.points += points;
            so_far.details.push(details);
            so_far
        },
    ))
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
        .map(|b| b.balance.get())
}

/// A credit for [`post_credits`]: the posting and the rules of its shop.
#[derive(Clone, Copy)]
pub struct Credit<'a> {
    pub posting: &'a Posting,
    pub rules: ShopRules<'a>,
}

/// Post many credits set-based: a few multi-row statements for thousands of postings.
/// What [`post`] reads first, the caller supplies: `held` is the (balance, debt) of every
/// member whose balance row it locked in this transaction ([`lock_balances`]); a member
/// absent from it was created in this transaction (no balance, no debt). The caller has
/// checked that no key was used before; a clash still fails the whole call (the unique
/// index), so nothing is granted twice. Used by purchases (one group at a time), member
/// import (opening balances) and the benchmark dataset (purchase history). Returns what
/// each posting did, in order; a posting the planner refuses fails the whole call.
pub async fn post_credits(
    tx: &mut Tx,
    credits: &[Credit<'_>],
    held: &HashMap<AccountId, (i64, i64)>,
) -> Result<Vec<Posted>, LedgerError> {
    let now = now_micros();
    let mut accounts: BTreeMap<AccountId, Account> = BTreeMap::new();
    let mut plans = Vec::with_capacity(credits.len());
    for credit in credits {
        let p = credit.posting;
        let id = (p.tenant_id, p.member_id, p.currency);
        let account = accounts.entry(id).or_insert_with(|| {
            held.get(&id)
                .map(|&(balance, debt)| Account {
                    balance: Points::new(balance),
                    debt: Points::new(debt),
                })
                .unwrap_or_default()
        });
        let planned = plan(
            *account,
            p,
            Facts::Credit,
            credit.rules,
            now,
            ids::next_id(),
            &mut ids::next_id,
        )?;
        *account = planned.after;
        plans.push(planned);
    }
    let written: Vec<_> = credits.iter().map(|c| c.posting).zip(&plans).collect();
    let balances = if held.is_empty() {
        Balances::New(&accounts)
    } else {
        Balances::Set(&accounts)
    };
    write(tx, &written, balances).await?;
    Ok(plans.iter().map(posted).collect())
}

/// [`post_credits`] for members created in this same transaction, all of one shop.
pub async fn post_credits_to_new_members(
    tx: &mut Tx,
    postings: &[Posting],
    rules: ShopRules<'_>,
) -> Result<(), LedgerError> {
    let credits: Vec<_> = postings
        .iter()
        .map(|posting| Credit { posting, rules })
        .collect();
    post_credits(tx, &credits, &HashMap::new())
        .await
        .map(|_| ())
}

/// Post one movement in the caller's transaction: lock the member's balance row, answer
/// a retry of the same idempotency key with what it did the first time (another request
/// under that key is refused), read what the kind needs, plan and write.
pub async fn post(tx: &mut Tx, p: &Posting, rules: ShopRules<'_>) -> Result<Posted, LedgerError> {
    let (tenant, member, currency) = (p.tenant_id, p.member_id, p.currency);
    let account = lock_balance(tx, tenant, member, currency).await?;

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
            points: Points::new(e.amount),
            uncollected: Points::new(e.uncollected),
            balance: account.balance,
            replayed: true,
        });
    }

    let (lots, taken, source_lot, cancelled_before);
    let facts = match (p.kind, p.reverses_id) {
        (Kind::Redeem | Kind::AdjustDebit, _) => {
            lots = open_lots(tx, tenant, member, currency).await?;
            Facts::Debit { lots: &lots }
        }
        (Kind::Reversal, Some(purchase)) => {
            lots = open_lots(tx, tenant, member, currency).await?;
            source_lot = lot_of(tx, tenant, purchase).await?;
            Facts::Reversal {
                lots: &lots,
                source_lot,
            }
        }
        (Kind::RedeemCancel, Some(redemption)) => {
            cancelled_before = cancelled(tx, tenant, redemption).await?;
            taken = if cancelled_before {
                vec![]
            } else {
                taken_by(tx, tenant, member, redemption).await?
            };
            Facts::Cancel {
                taken: &taken,
                cancelled_before,
            }
        }
        // Nothing to read: the planner refuses an undo of nothing.
        (Kind::Reversal, None) => Facts::Reversal {
            lots: &[],
            source_lot: None,
        },
        (Kind::RedeemCancel, None) => Facts::Cancel {
            taken: &[],
            cancelled_before: false,
        },
        _ => Facts::Credit,
    };
    let planned = plan(
        account,
        p,
        facts,
        rules,
        now_micros(),
        ids::next_id(),
        &mut ids::next_id,
    )?;
    let accounts = BTreeMap::from([((tenant, member, currency), planned.after)]);
    write(tx, &[(p, &planned)], Balances::Set(&accounts)).await?;
    Ok(posted(&planned))
}

fn posted(planned: &Planned) -> Posted {
    Posted {
        txn_id: planned.txn_id,
        points: planned.applied,
        uncollected: planned.uncollected,
        balance: planned.after.balance,
        replayed: false,
    }
}

/// How [`write`] leaves the members' balance rows.
pub(super) enum Balances<'a> {
    /// Set to what the plans leave: the accounts were locked and read in this
    /// transaction.
    Set(&'a BTreeMap<AccountId, Account>),
    /// Created in this transaction (a member import): a plain insert, which PostgreSQL
    /// takes as `COPY` when there are many.
    New(&'a BTreeMap<AccountId, Account>),
    /// Lowered by what the plans applied, without having been read: an expiry's plan
    /// does not depend on the account (it closes the due lots and nothing else), so a
    /// run need not read thousands of balances to write them back.
    Moved,
}

/// Write planned postings: their transactions, new lots, allocations (and the lots they
/// take from), entries (two for each posting that moves points) and the members'
/// balances ([`Balances`]). The tables' rows go together (one round trip on PostgreSQL,
/// one hand-over to SQLite's thread when they are few); each part writes rows no other
/// part touches.
pub(super) async fn write(
    tx: &mut Tx,
    planned: &[(&Posting, &Planned)],
    balances: Balances<'_>,
) -> sqlx::Result<()> {
    use crate::store::Val::{Int, OptInt, OptText, Text};
    let now = now_micros();
    let details: Vec<String> = planned.iter().map(|(p, _)| p.details.to_string()).collect();
    let (mut txns, mut lots, mut allocations, mut entries) = (vec![], vec![], vec![], vec![]);
    let mut taken: BTreeMap<(i64, i64), i64> = BTreeMap::new();
    // What each account moves by, for [`Balances::Moved`] (as a balance: the delta).
    let mut moved: BTreeMap<AccountId, Account> = BTreeMap::new();
    for ((p, plan), details) in planned.iter().zip(&details) {
        let (tenant, member, currency) = (p.tenant_id, p.member_id, p.currency.as_str());
        let txn = plan.txn_id;
        txns.push(vec![
            Int(tenant),
            Int(txn),
            Int(member),
            Text(currency),
            Text(p.kind.as_str()),
            Int(plan.applied.get()),
            Int(plan.uncollected.get()),
            Text(&p.idem_key),
            Text(&p.request_hash),
            OptText(p.receipt.as_deref()),
            OptInt(p.branch_id),
            OptInt(p.bill_satang.map(Satang::get)),
            OptInt(p.reverses_id),
            OptInt(None),
            OptText(p.reason.as_deref()),
            Text(&p.actor_kind),
            OptInt(p.actor_id),
            Int(p.occurred_at),
            Int(now),
            Text(details),
        ]);
        if let Some(lot) = plan.new_lot {
            lots.push(vec![
                Int(tenant),
                Int(lot.id),
                Int(member),
                Text(currency),
                Int(txn),
                Int(lot.amount.get()),
                Int(lot.amount.get()),
                Int(p.occurred_at),
                Int(lot.pending_until),
                OptInt(lot.expires_at),
            ]);
        }
        for &(lot, amount) in &plan.allocations {
            allocations.push(vec![Int(tenant), Int(txn), Int(lot), Int(amount)]);
            *taken.entry((tenant, lot)).or_default() += amount;
        }
        if plan.applied != Points::ZERO {
            let applied = plan.applied.get();
            let delta = moved.entry((tenant, member, p.currency)).or_default();
            // Within MAX_POINTS: an account's moves in one write are bounded by what it holds.
            delta.balance = Points::new(delta.balance.get() + applied);
            for (account, member, amount) in [
                ("member", Some(member), applied),
                (p.kind.system_account(), None, -applied),
            ] {
                entries.push(vec![
                    Int(tenant),
                    Int(ids::next_id()),
                    Int(txn),
                    Text(account),
                    OptInt(member),
                    Text(currency),
                    Int(amount),
                    Int(now),
                ]);
            }
        }
    }
    let taken: Vec<_> = taken
        .into_iter()
        .map(|((tenant, lot), amount)| vec![Int(tenant), Int(lot), Int(amount)])
        .collect();
    let (accounts, balances_head, balances_tail) = match balances {
        Balances::Set(accounts) => (
            accounts,
            "INSERT INTO balances (tenant_id, member_id, currency, balance, debt, updated_at)",
            "ON CONFLICT (tenant_id, member_id, currency) DO UPDATE
                 SET balance = excluded.balance, debt = excluded.debt, updated_at = excluded.updated_at",
        ),
        Balances::New(accounts) => (
            accounts,
            "INSERT INTO balances (tenant_id, member_id, currency, balance, debt, updated_at)",
            "",
        ),
        Balances::Moved => (
            &moved,
            "UPDATE balances SET balance = balances.balance + v.column4, updated_at = v.column6 FROM (",
            ") AS v WHERE balances.tenant_id = v.column1 AND balances.member_id = v.column2
                 AND balances.currency = v.column3",
        ),
    };
    let balances: Vec<_> = accounts
        .iter()
        .map(|(&(tenant, member, currency), account)| {
            vec![
                Int(tenant),
                Int(member),
                Text(currency.as_str()),
                Int(account.balance.get()),
                Int(account.debt.get()),
                Int(now),
            ]
        })
        .collect();
    crate::store::execute_all(
        tx,
        &[
            (INSERT_TXNS, "", &txns),
            (
                "INSERT INTO lots (tenant_id, id, member_id, currency, txn_id, original, remaining, earned_at, pending_until, expires_at)",
                "",
                &lots,
            ),
            (
                "INSERT INTO allocations (tenant_id, txn_id, lot_id, amount)",
                "",
                &allocations,
            ),
            (
                "UPDATE lots SET remaining = lots.remaining - v.column3 FROM (",
                ") AS v WHERE lots.tenant_id = v.column1 AND lots.id = v.column2",
                &taken,
            ),
            (INSERT_ENTRIES, "", &entries),
            (balances_head, balances_tail, &balances),
        ],
    )
    .await
}

/// The lot a purchase opened, if any.
async fn lot_of(tx: &mut Tx, tenant_id: i64, txn_id: i64) -> sqlx::Result<Option<i64>> {
    let found: Option<(i64,)> = on_tx!(tx, c => sqlx::query_as(
        "SELECT id FROM lots WHERE tenant_id = $1 AND txn_id = $2").bind(tenant_id).bind(txn_id).fetch_optional(c).await)?;
    Ok(found.map(|(id,)| id))
}

/// Whether a redemption was cancelled before.
async fn cancelled(tx: &mut Tx, tenant_id: i64, redemption: i64) -> sqlx::Result<bool> {
    let found: Option<(i64,)> = on_tx!(tx, c => sqlx::query_as(
        "SELECT id FROM ledger_txns WHERE tenant_id = $1 AND reverses_id = $2 AND kind = 'redeem_cancel'")
        .bind(tenant_id).bind(redemption).fetch_optional(c).await)?;
    Ok(found.is_some())
}

/// What a member's redemption took from each lot (lot, points); empty when it is not a
/// redemption of this member.
async fn taken_by(
    tx: &mut Tx,
    tenant_id: i64,
    member_id: i64,
    redemption: i64,
) -> sqlx::Result<Vec<(i64, i64)>> {
    on_tx!(tx, c => sqlx::query_as(
        "SELECT a.lot_id, a.amount FROM allocations a JOIN ledger_txns t ON t.tenant_id = a.tenant_id AND t.id = a.txn_id
         WHERE a.tenant_id = $1 AND a.txn_id = $2 AND t.kind = 'redeem' AND t.member_id = $3")
        .bind(tenant_id).bind(redemption).bind(member_id).fetch_all(c).await)
}
