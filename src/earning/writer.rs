//! Group commit for purchases. One transaction per purchase is bound by commit latency
//! (one fsync each on SQLite, one WAL flush and two round trips on PostgreSQL). Instead,
//! purchases from every connection are queued to a few writers; a writer takes whatever is
//! queued (up to `ledger_group_max`), records all of it in one transaction and answers each
//! request only after that transaction committed, so an answer still means "durable".
//!
//! A group is recorded set-based by [`super::earn::purchases_in`], the same code that
//! records a purchase sent alone (a group of one), so what stays exactly as for a single
//! purchase is guaranteed by construction:
//! - rules, caps, tiers, the receipt's idempotency and the audit entry, each purchase
//!   evaluated under its member's lock;
//! - per-member order: a member always goes to the same writer (chosen from the member
//!   id) and a writer records its queue in arrival order;
//! - a request reads nothing before it is queued: the writer checks the members and
//!   branches of a whole group with one query each per shop
//!   ([`super::check_members_and_branches`]);
//! - a failure costs only its own request: a purchase's own problem (a receipt reused
//!   with other details) is its answer alone; if the database fails the group, or the
//!   commit does, the group is rolled back and each of its purchases is recorded again in
//!   its own transaction (safe, because a receipt never grants twice).
//!
//! Back-pressure: each writer's queue is bounded; when it is full the request is refused
//! at once with 503 and `Retry-After` rather than piling up memory and latency.
//! SQLite has one writer (the database takes one writing transaction at a time anyway);
//! PostgreSQL has `ledger_writers` of them, each on its own connection.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{mpsc, oneshot};

use super::EarnError;
use super::earn::{Answer, Purchase, purchases_in};
use super::{
    EarnContext, PurchaseInput, PurchaseOutcome, check_members_and_branches, record_purchase,
    record_purchase_with,
};
use crate::audit::ActorRef;
use crate::audit::RequestMeta;
use crate::store::{Backend, Db};

/// How the writers are set up (from the `ledger_*` settings).
#[derive(Clone, Copy, Debug)]
pub struct WriterConfig {
    /// Writers on PostgreSQL (SQLite always has one).
    pub writers: usize,
    /// Most purchases committed in one transaction.
    pub group_max: usize,
    /// Purchases that may wait in all the queues together before requests are refused.
    pub queue: usize,
}

struct Job {
    input: PurchaseInput,
    actor_kind: String,
    actor_id: Option<i64>,
    actor_label: String,
    meta: RequestMeta,
    reply: oneshot::Sender<Result<PurchaseOutcome, EarnError>>,
}

impl Job {
    fn actor(&self) -> ActorRef<'_> {
        ActorRef {
            kind: &self.actor_kind,
            id: self.actor_id,
            label: &self.actor_label,
        }
    }
}

/// The handle requests use to record purchases; cheap to clone.
#[derive(Clone)]
pub struct LedgerWriter {
    queues: Arc<Vec<mpsc::Sender<Job>>>,
    counters: Arc<Counters>,
}

#[derive(Default)]
struct Counters {
    groups: AtomicU64,
    purchases: AtomicU64,
    retried_groups: AtomicU64,
}

/// What the writers have done since they started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriterStats {
    /// Groups taken from the queues.
    pub groups: u64,
    /// Purchases in those groups.
    pub purchases: u64,
    /// Groups rolled back and recorded one purchase at a time.
    pub retried_groups: u64,
    /// Purchases waiting now.
    pub queued: usize,
}

impl LedgerWriter {
    /// Start the writers on the current runtime. They stop when every handle is dropped.
    pub fn start(db: &Db, config: WriterConfig) -> LedgerWriter {
        let writers = match db.backend() {
            Backend::Sqlite => 1,
            Backend::Postgres => config.writers.max(1),
        };
        let per_queue = (config.queue / writers).max(1);
        let counters = Arc::new(Counters::default());
        let queues = (0..writers)
            .map(|_| {
                let (send, receive) = mpsc::channel(per_queue);
                let writer = run(
                    db.for_one_writer(),
                    receive,
                    config.group_max.max(1),
                    counters.clone(),
                );
                tokio::spawn(writer);
                send
            })
            .collect();
        let queues = Arc::new(queues);
        // On SQLite a task beside the writer runs the WAL checkpoints, not its commits.
        db.spawn_checkpointer(Arc::downgrade(&queues));
        LedgerWriter { queues, counters }
    }

    pub fn stats(&self) -> WriterStats {
        WriterStats {
            groups: self.counters.groups.load(Ordering::Relaxed),
            purchases: self.counters.purchases.load(Ordering::Relaxed),
            retried_groups: self.counters.retried_groups.load(Ordering::Relaxed),
            queued: self.queued_per_writer().sum(),
        }
    }

    /// Purchases waiting now in each writer's queue (`/metrics` shows them per writer).
    pub fn queued_per_writer(&self) -> impl Iterator<Item = usize> + '_ {
        self.queues.iter().map(|q| q.max_capacity() - q.capacity())
    }

    /// Record a purchase (not a dry run); answers once it is durable.
    pub async fn record_purchase(
        &self,
        input: PurchaseInput,
        actor: ActorRef<'_>,
        meta: &RequestMeta,
    ) -> Result<PurchaseOutcome, EarnError> {
        let (reply, answer) = oneshot::channel();
        let queue = &self.queues[shard_of(input.member_id, self.queues.len())];
        let job = Job {
            input,
            actor_kind: actor.kind.to_string(),
            actor_id: actor.id,
            actor_label: actor.label.to_string(),
            meta: meta.clone(),
            reply,
        };
        queue.try_send(job).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => {
                metrics::counter!("loyal_ledger_queue_full_total").increment(1);
                EarnError::QueueFull
            }
            mpsc::error::TrySendError::Closed(_) => EarnError::WriterStopped,
        })?;
        answer.await.map_err(|_| EarnError::WriterStopped)?
    }
}

/// The writer a member goes to. Ids are time-ordered with a counter in the low bits, so
/// members created a millisecond apart share their low bits: mix before taking the modulo.
fn shard_of(member_id: i64, writers: usize) -> usize {
    let mixed = (member_id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32;
    (mixed % writers as u64) as usize
}

/// One writer: take what is queued, record it as one group, answer, repeat.
async fn run(db: Db, mut queue: mpsc::Receiver<Job>, group_max: usize, counters: Arc<Counters>) {
    let mut group = Vec::with_capacity(group_max);
    while queue.recv_many(&mut group, group_max).await > 0 {
        let started = std::time::Instant::now();
        // What an operator tunes `ledger_group_max` and `ledger_writers` by (README,
        // "Operations"): how big the groups are and how long one takes. Looked up per
        // group, not kept from the start: the writers start before the server installs
        // its metrics recorder.
        metrics::histogram!("loyal_ledger_group_size").record(group.len() as f64);
        counters.groups.fetch_add(1, Ordering::Relaxed);
        counters
            .purchases
            .fetch_add(group.len() as u64, Ordering::Relaxed);
        commit_group(&db, std::mem::take(&mut group), &counters).await;
        metrics::histogram!("loyal_ledger_group_seconds").record(started.elapsed());
    }
}

async fn commit_group(db: &Db, mut group: Vec<Job>, counters: &Counters) {
    // The members and branches of the whole group are checked with one query each per
    // shop, not one per request; a purchase naming one that does not exist (or a closed
    // branch) is answered at once.
    let mut inputs: Vec<&mut PurchaseInput> = group.iter_mut().map(|j| &mut j.input).collect();
    let checked = match check_members_and_branches(db, &mut inputs).await {
        Ok(checked) => checked,
        Err(e) => {
            let e = Arc::new(e);
            for job in group {
                let _ = job.reply.send(Err(EarnError::Db(e.clone())));
            }
            return;
        }
    };
    // The shop's settings are read once per shop per group, not once per purchase.
    let mut contexts: HashMap<i64, Arc<EarnContext>> = HashMap::new();
    let mut ready = Vec::with_capacity(group.len());
    for (job, named) in group.into_iter().zip(checked) {
        if let Err(e) = named {
            let _ = job.reply.send(Err(e));
            continue;
        }
        let tenant = job.input.tenant_id;
        if let Some(ctx) = contexts.get(&tenant) {
            ready.push((job, ctx.clone()));
            continue;
        }
        match EarnContext::load(db, tenant).await {
            Ok(ctx) => {
                let ctx = Arc::new(ctx);
                contexts.insert(tenant, ctx.clone());
                ready.push((job, ctx));
            }
            Err(e) => {
                let _ = job.reply.send(Err(e));
            }
        }
    }
    if ready.is_empty() {
        return;
    }
    match record_together(db, &ready).await {
        Ok(answers) => {
            for ((job, _), answer) in ready.into_iter().zip(answers) {
                let _ = job.reply.send(answer);
            }
        }
        Err(e) if ready.len() == 1 => {
            let (job, _) = ready.pop().expect("one job");
            let _ = job.reply.send(Err(e));
        }
        Err(_) => {
            metrics::counter!("loyal_ledger_group_retries_total").increment(1);
            counters.retried_groups.fetch_add(1, Ordering::Relaxed);
            for (job, ctx) in ready {
                let answer =
                    record_purchase_with(db, &ctx, &job.input, job.actor(), &job.meta).await;
                let _ = job.reply.send(answer);
            }
        }
    }
}

/// Every purchase of the group in one transaction, set-based ([`super::earn`]): a
/// purchase's own problem is its answer; a database error rolls back all of them.
async fn record_together(
    db: &Db,
    ready: &[(Job, Arc<EarnContext>)],
) -> Result<Vec<Answer>, EarnError> {
    let group: Vec<Purchase<'_>> = ready
        .iter()
        .map(|(job, ctx)| Purchase {
            input: &job.input,
            ctx,
            actor: job.actor(),
            meta: &job.meta,
        })
        .collect();
    let mut tx = db.begin().await?;
    let answers = purchases_in(&mut tx, &group).await?;
    tx.commit().await?;
    Ok(answers)
}

/// Record a purchase through the writer when there is one, else in its own transaction.
/// Dry runs never queue: they write nothing.
pub async fn record(
    writer: Option<&LedgerWriter>,
    db: &Db,
    input: PurchaseInput,
    actor: ActorRef<'_>,
    meta: &RequestMeta,
) -> Result<PurchaseOutcome, EarnError> {
    match writer {
        Some(w) if !input.dry_run => w.record_purchase(input, actor, meta).await,
        _ => record_purchase(db, input, actor, meta).await,
    }
}

#[cfg(test)]
mod tests {
    use super::shard_of;

    #[test]
    fn members_created_a_millisecond_apart_spread_over_all_writers() {
        // Ids as minted one per millisecond: the low 11 bits are zero.
        let ids: Vec<i64> = (0..8_000).map(|ms| (1_000_000 + ms) << 11).collect();
        let mut per_writer = [0usize; 8];
        for id in &ids {
            per_writer[shard_of(*id, 8)] += 1;
        }
        assert!(
            per_writer.iter().all(|&n| (800..=1_200).contains(&n)),
            "{per_writer:?}"
        );
        assert!(ids.iter().all(|&id| shard_of(id, 1) == 0));
    }
}
