//! Recording purchases set-based. [`purchases_in`] records a whole group of purchases in
//! the caller's transaction with about a dozen statements in all, whatever the size of the
//! group: the members' balance rows locked by one statement; their receipts, points
//! earned today and tier levels read by one query each; the rules evaluated in memory;
//! then one multi-row insert per table, one query for tier upgrades and one for the audit
//! log. A purchase sent alone is a group of one, so the same code records a single
//! purchase, a batch, and a group the writer ([`super::writer`]) commits together.
//!
//! Exactly as if recorded one at a time, in order: the group is split into rounds in
//! which no member and no receipt appears twice, and the rounds run in order, so a
//! member's second purchase in a group sees the first one's points, its daily cap and
//! its tier upgrade, and a receipt sent twice is recorded once and then replayed.

use std::collections::HashMap;

use super::{EarnContext, EarnError, PurchaseInput, PurchaseOutcome, RecordedLine};
use crate::audit::RequestMeta;
use crate::audit::{self, ActorRef, Change};
use crate::ledger::LedgerError;
use crate::ledger::model::{Currency, MAX_POINTS};
use crate::ledger::{self, Credit, KeyedTxn, Kind, Posting, ShopRules};
use crate::money::Points;
use crate::rules::model::{Bill, Evaluation, TierBonus, evaluate, share_by_line};
use crate::store::Tx;

/// One purchase of a group: what was bought, the shop's context and who sent it.
#[derive(Clone, Copy)]
pub struct Purchase<'a> {
    pub input: &'a PurchaseInput,
    pub ctx: &'a EarnContext,
    pub actor: ActorRef<'a>,
    pub meta: &'a RequestMeta,
}

/// What a purchase's answer is, in the group's order.
pub type Answer = Result<PurchaseOutcome, EarnError>;

/// Record every purchase of the group inside the caller's transaction (see the module
/// documentation); the caller commits. A purchase's own problem (its receipt recorded
/// before with other details) is its answer and writes nothing for it; a database error
/// fails the whole call, and the caller rolls back. Dry runs are evaluated like the others
/// and write nothing.
pub async fn purchases_in(tx: &mut Tx, group: &[Purchase<'_>]) -> Result<Vec<Answer>, EarnError> {
    let mut answers: Vec<Option<Answer>> = group.iter().map(|_| None).collect();
    for round in rounds(group) {
        record_round(tx, group, &round, &mut answers).await?;
    }
    Ok(answers
        .into_iter()
        .map(|a| a.expect("every purchase belongs to a round"))
        .collect())
}

/// Split the group (as indices) into rounds in which no member and no receipt appears
/// twice: a purchase goes to the round after the last one holding its member or its
/// receipt, so each member's purchases keep their order.
fn rounds(group: &[Purchase<'_>]) -> Vec<Vec<usize>> {
    let mut last_member: HashMap<(i64, i64), usize> = HashMap::new();
    let mut last_receipt: HashMap<(i64, &str), usize> = HashMap::new();
    let mut rounds: Vec<Vec<usize>> = vec![];
    for (i, p) in group.iter().enumerate() {
        let member = (p.input.tenant_id, p.input.member_id);
        let receipt = (p.input.tenant_id, p.input.receipt.as_str());
        let round = [last_member.get(&member), last_receipt.get(&receipt)]
            .into_iter()
            .flatten()
            .map(|r| r + 1)
            .max()
            .unwrap_or(0);
        last_member.insert(member, round);
        last_receipt.insert(receipt, round);
        if rounds.len() == round {
            rounds.push(vec![]);
        }
        rounds[round].push(i);
    }
    rounds
}

/// A purchase of a round with what is derived from its request alone.
struct Prepared<'a> {
    index: usize,
    p: Purchase<'a>,
    /// The receipt's idempotency key, and the key of the stamps it earns.
    key: String,
    stamps_key: String,
    /// Identifies the request's content: the same receipt with another hash is refused.
    request_hash: String,
    /// When it happened in the shop's time zone, and that local day as [start, end).
    local: jiff::Zoned,
    day: (i64, i64),
}

impl<'a> Prepared<'a> {
    fn new(index: usize, p: Purchase<'a>) -> Result<Prepared<'a>, EarnError> {
        let input = p.input;
        let unreadable = |e: jiff::Error| EarnError::Unreadable(format!("the bill's day: {e}"));
        let local = jiff::Timestamp::from_microsecond(input.occurred_at)
            .map_err(unreadable)?
            .to_zoned(p.ctx.tz.clone());
        let start = local.start_of_day().map_err(unreadable)?;
        let end = local
            .tomorrow()
            .and_then(|d| d.start_of_day())
            .map_err(unreadable)?;
        let key = ledger::purchase_key(&input.receipt);
        let items_hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
            serde_json::to_vec(&input.items).unwrap_or_default(),
        ));
        Ok(Prepared {
            index,
            p,
            stamps_key: format!("{key}:stamps"),
            key,
            request_hash: format!(
                "{}|{}|{:?}|{items_hash}",
                input.member_id, input.amount_satang, input.branch_id
            ),
            local,
            day: (
                start.timestamp().as_microsecond(),
                end.timestamp().as_microsecond(),
            ),
        })
    }

    fn member(&self) -> (i64, i64) {
        (self.p.input.tenant_id, self.p.input.member_id)
    }
}

/// A purchase of a round that earns: its evaluation, and whether its stamps are written
/// now (false when there are none, or when they were recorded before).
struct Earning<'a> {
    x: Prepared<'a>,
    eval: Evaluation,
    /// The bill's lines with what each earned (empty when it was sent without lines).
    lines: Vec<RecordedLine>,
    level: usize,
    write_stamps: bool,
}

/// What a round reads before the rules run, under the members' balance locks.
struct RoundFacts {
    /// (balance, debt) of each member's points, locked for this transaction.
    points_held: HashMap<(i64, i64), (i64, i64)>,
    /// Transactions already holding a receipt's keys (points or stamps).
    recorded: HashMap<(i64, String), KeyedTxn>,
    /// Points earned on the bill's local day, for shops with a daily cap.
    earned_today: HashMap<(i64, i64), i64>,
    /// Tier levels held, for shops with tiers.
    levels: HashMap<(i64, i64), usize>,
}

/// What the rules decided for one purchase of a round.
enum Decision<'a> {
    /// Answered without writing: a replay, a dry run or a refusal.
    Answer(usize, Answer),
    Earn(Earning<'a>),
}

/// Record one round: purchases of distinct members with distinct receipts. Reads what
/// the rules need, decides each purchase in memory, then writes the ones that earn.
async fn record_round(
    tx: &mut Tx,
    group: &[Purchase<'_>],
    round: &[usize],
    answers: &mut [Option<Answer>],
) -> Result<(), EarnError> {
    let prepared = round
        .iter()
        .map(|&i| Prepared::new(i, group[i]))
        .collect::<Result<Vec<_>, _>>()?;
    let facts = read_round(tx, &prepared).await?;
    let mut earning = Vec::with_capacity(prepared.len());
    for decision in prepared.into_iter().map(|x| decide(x, &facts)) {
        match decision {
            Decision::Answer(index, answer) => answers[index] = Some(answer),
            Decision::Earn(e) => earning.push(e),
        }
    }
    if earning.is_empty() {
        return Ok(());
    }
    write_round(tx, earning, facts.points_held, answers).await
}

/// Lock the round's members first (the daily cap and the tier must not move under
/// us), then read the receipts recorded before, the points earned today (only for shops
/// with a daily cap, the one rule that looks at it) and the tier levels.
async fn read_round(tx: &mut Tx, prepared: &[Prepared<'_>]) -> Result<RoundFacts, EarnError> {
    let members: Vec<(i64, i64)> = prepared.iter().map(Prepared::member).collect();
    let points_held = ledger::lock_balances(tx, Currency::Points, &members).await?;
    let keys: Vec<(i64, &str)> = prepared
        .iter()
        .flat_map(|x| {
            let tenant = x.p.input.tenant_id;
            [(tenant, x.key.as_str()), (tenant, x.stamps_key.as_str())]
        })
        .collect();
    let recorded = ledger::txns_by_keys(tx, &keys).await?;
    // Only purchases not recorded before earn: the windows and levels are theirs.
    let live: Vec<&Prepared<'_>> = prepared
        .iter()
        .filter(|x| !recorded.contains_key(&(x.p.input.tenant_id, x.key.clone())))
        .collect();
    let windows: Vec<_> = live
        .iter()
        .filter(|x| x.p.ctx.rules.cap_per_day.is_some())
        .map(|x| (x.p.input.tenant_id, x.p.input.member_id, x.day.0, x.day.1))
        .collect();
    let tiered: Vec<_> = live
        .iter()
        .filter(|x| x.p.ctx.tiers.enabled)
        .map(|x| (x.p.input.tenant_id, x.p.input.member_id, &x.p.ctx.tiers))
        .collect();
    let earned_today = ledger::earned_in_windows(tx, &windows).await?;
    let levels: HashMap<(i64, i64), usize> = tiered
        .iter()
        .map(|&(t, m, _)| (t, m))
        .zip(crate::tiers::levels_held(tx, &tiered).await?)
        .collect();
    Ok(RoundFacts {
        points_held,
        recorded,
        earned_today,
        levels,
    })
}

/// Decide one purchase from what was read, without I/O: a replay of a receipt recorded
/// before, a refusal, a dry run's answer, or the points and stamps it earns.
fn decide<'a>(x: Prepared<'a>, facts: &RoundFacts) -> Decision<'a> {
    let balance = facts.points_held[&x.member()].0;
    if let Some(prior) = facts.recorded.get(&(x.p.input.tenant_id, x.key.clone())) {
        return Decision::Answer(x.index, replay(&x, prior, balance));
    }
    let ctx = x.p.ctx;
    let level = facts.levels.get(&x.member()).copied().unwrap_or(0);
    let held = if ctx.tiers.enabled {
        crate::tiers::held(&ctx.tiers, level)
    } else {
        None
    };
    let bill = Bill {
        amount_satang: x.p.input.amount_satang,
        branch_id: x.p.input.branch_id,
        at: &x.local,
        items: &x.p.input.items,
        earned_today: facts.earned_today.get(&x.member()).copied().unwrap_or(0),
        tier: held.as_ref().map(|l| TierBonus {
            code: &l.code,
            name: &l.name,
            earn_percent: l.earn_percent,
        }),
    };
    let eval = evaluate(&ctx.settings.earn, &ctx.rules, &bill);
    let lines = RecordedLine::of(
        &x.p.input.items,
        &share_by_line(&ctx.rules, &bill, eval.points),
    );
    // The rules' arithmetic saturates; what passes the ledger's limit is refused here.
    if eval.points > MAX_POINTS
        || eval.stamps > MAX_POINTS
        || (!x.p.input.dry_run
            && eval.points > 0
            && balance.saturating_add(eval.points) > MAX_POINTS)
    {
        return Decision::Answer(x.index, Err(LedgerError::PointsLimit.into()));
    }
    if x.p.input.dry_run {
        let outcome = PurchaseOutcome {
            purchase_id: None,
            points: eval.points,
            stamps: eval.stamps,
            rules: eval.applied,
            items: lines,
            balance: None,
            tier_change: None,
            replayed: false,
            dry_run: true,
        };
        return Decision::Answer(x.index, Ok(outcome));
    }
    // Stamps recorded under this receipt before (only possible if the points were not):
    // the same request leaves them be, another one is refused, as `post` does.
    let write_stamps = match facts
        .recorded
        .get(&(x.p.input.tenant_id, x.stamps_key.clone()))
    {
        _ if eval.stamps <= 0 => false,
        None => true,
        Some(prior)
            if prior.request_hash == x.request_hash
                && prior.member_id == x.p.input.member_id
                && prior.currency == Currency::Stamps.as_str() =>
        {
            false
        }
        Some(_) => return Decision::Answer(x.index, Err(EarnError::ReceiptReused)),
    };
    Decision::Earn(Earning {
        x,
        eval,
        lines,
        level,
        write_stamps,
    })
}

/// Write the purchases of a round that earn: lock the stamp balances they add to, post
/// their points and stamps, upgrade tiers, audit, and answer each.
async fn write_round(
    tx: &mut Tx,
    earning: Vec<Earning<'_>>,
    points_held: HashMap<(i64, i64), (i64, i64)>,
    answers: &mut [Option<Answer>],
) -> Result<(), EarnError> {
    let stamp_members: Vec<_> = earning
        .iter()
        .filter(|e| e.write_stamps)
        .map(|e| e.x.member())
        .collect();
    let stamps_held = ledger::lock_balances(tx, Currency::Stamps, &stamp_members).await?;
    let (earning, over): (Vec<_>, Vec<_>) = earning.into_iter().partition(|e| {
        !e.write_stamps || stamps_held[&e.x.member()].0.saturating_add(e.eval.stamps) <= MAX_POINTS
    });
    for e in over {
        answers[e.x.index] = Some(Err(LedgerError::PointsLimit.into()));
    }
    if earning.is_empty() {
        return Ok(());
    }
    let held: HashMap<(i64, i64, Currency), (i64, i64)> = points_held
        .into_iter()
        .map(|((t, m), b)| ((t, m, Currency::Points), b))
        .chain(
            stamps_held
                .into_iter()
                .map(|((t, m), b)| ((t, m, Currency::Stamps), b)),
        )
        .collect();

    // The postings: points for every purchase (zero when the rules grant none, so the
    // receipt is still recorded), stamps when it earned some. `points_at` finds each
    // purchase's points posting; `shops` holds each posting's shop context.
    let mut postings = Vec::with_capacity(earning.len() * 2);
    let mut shops = Vec::with_capacity(earning.len() * 2);
    let mut points_at = Vec::with_capacity(earning.len());
    for e in &earning {
        let (input, actor, ctx) = (e.x.p.input, e.x.p.actor, e.x.p.ctx);
        let points = Posting {
            amount: Points::new(e.eval.points),
            idem_key: e.x.key.clone(),
            request_hash: e.x.request_hash.clone(),
            receipt: Some(input.receipt.clone()),
            branch_id: input.branch_id,
            bill_satang: Some(input.amount_satang),
            actor_kind: actor.kind.to_string(),
            actor_id: actor.id,
            occurred_at: input.occurred_at,
            details: purchase_details(&e.eval, &e.lines),
            ..Posting::blank(input.tenant_id, input.member_id, Kind::Earn)
        };
        let stamps = e.write_stamps.then(|| Posting {
            currency: Currency::Stamps,
            amount: Points::new(e.eval.stamps),
            idem_key: e.x.stamps_key.clone(),
            details: serde_json::json!({}),
            ..points.clone()
        });
        points_at.push(postings.len());
        for posting in std::iter::once(points).chain(stamps) {
            postings.push(posting);
            shops.push(ctx);
        }
    }
    let credits: Vec<Credit<'_>> = postings
        .iter()
        .zip(&shops)
        .map(|(posting, ctx)| Credit {
            posting,
            rules: ShopRules::new(&ctx.settings, &ctx.tz),
        })
        .collect();
    let posted = ledger::post_credits(tx, &credits, &held).await?;

    // The bills count towards the members' tiers at once (an upgrade never waits).
    let now = crate::store::now_micros();
    let qualifying: Vec<_> = earning
        .iter()
        .filter(|e| e.x.p.ctx.tiers.enabled)
        .map(|e| crate::tiers::Qualifying {
            tenant_id: e.x.p.input.tenant_id,
            member_id: e.x.p.input.member_id,
            current: e.level,
            program: &e.x.p.ctx.tiers,
            tz: &e.x.p.ctx.tz,
        })
        .collect();
    let mut upgrades = crate::tiers::upgrade_qualified(tx, &qualifying, now)
        .await?
        .into_iter();
    let tier_changes: Vec<_> = earning
        .iter()
        .map(|e| {
            if e.x.p.ctx.tiers.enabled {
                upgrades.next().flatten()
            } else {
                None
            }
        })
        .collect();

    let mut audit_rows = Vec::with_capacity(earning.len());
    for ((e, &first), tier_change) in earning.iter().zip(&points_at).zip(&tier_changes) {
        let input = e.x.p.input;
        let posted = &posted[first];
        let details = serde_json::json!({"member_id": input.member_id, "receipt": input.receipt, "amount_satang": input.amount_satang, "points": posted.points, "stamps": e.eval.stamps, "tier_change": tier_change});
        let change = Change::new("points.earned", "ledger_txn", posted.txn_id).details(details);
        audit_rows.push((input.tenant_id, e.x.p.actor, e.x.p.meta, change));
    }
    audit::record_all(tx, &audit_rows).await?;

    for ((e, &first), tier_change) in earning.into_iter().zip(&points_at).zip(tier_changes) {
        let posted = &posted[first];
        answers[e.x.index] = Some(Ok(PurchaseOutcome {
            purchase_id: Some(posted.txn_id),
            points: posted.points.get(),
            stamps: e.eval.stamps,
            rules: e.eval.applied,
            items: e.lines,
            balance: Some(posted.balance.get()),
            tier_change,
            replayed: false,
            dry_run: false,
        }));
    }
    Ok(())
}

/// What a purchase's ledger row keeps besides its amount: the rules that gave its
/// points, its stamps, and its lines when it was sent with them.
fn purchase_details(eval: &Evaluation, lines: &[RecordedLine]) -> serde_json::Value {
    let mut details = serde_json::json!({"applied": eval.applied, "stamps": eval.stamps});
    if !lines.is_empty() {
        details["items"] = serde_json::json!(lines);
    }
    details
}

/// The answer to a receipt recorded before: what the first request recorded, or a
/// refusal when this request differs from it.
fn replay(x: &Prepared<'_>, prior: &KeyedTxn, balance: i64) -> Answer {
    if prior.request_hash != x.request_hash || prior.member_id != x.p.input.member_id {
        return Err(EarnError::ReceiptReused);
    }
    let details: serde_json::Value = serde_json::from_str(&prior.details).unwrap_or_default();
    Ok(PurchaseOutcome {
        purchase_id: Some(prior.id),
        points: prior.amount,
        stamps: details["stamps"].as_i64().unwrap_or(0),
        rules: serde_json::from_value(details["applied"].clone()).unwrap_or_default(),
        items: serde_json::from_value(details["items"].clone()).unwrap_or_default(),
        balance: Some(balance),
        tier_change: None,
        replayed: true,
        dry_run: x.p.input.dry_run,
    })
}
