//! Property test of the ledger's invariants: random sequences of earn, redeem, refund,
//! adjust, cancel, expire and clock advances over several members, checked after every
//! step, on SQLite and on PostgreSQL, through the same `post` door the API uses.

use proptest::prelude::*;

use crate::helpers::{Backend, fresh_db};
use loyal::ledger::model::{Currency, ExpiryPolicy, RefundPolicy, RoundUp};
use loyal::ledger::{self, Kind, LedgerSettings, Posting};
use loyal::store::Db;

const MEMBERS: usize = 3;
const DAY: i64 = 86_400_000_000;

#[derive(Clone, Debug)]
enum Op {
    Earn { member: usize, points: i64 },
    Redeem { member: usize, points: i64 },
    Refund { member: usize, share_pct: i64 },
    Adjust { member: usize, points: i64 },
    CancelLastRedeem { member: usize },
    Advance { days: i64 },
    Expire,
    Retry,
}

fn op() -> impl Strategy<Value = Op> {
    let m = 0..MEMBERS;
    prop_oneof![
        4 => (m.clone(), 0i64..200).prop_map(|(member, points)| Op::Earn { member, points }),
        3 => (m.clone(), 1i64..150).prop_map(|(member, points)| Op::Redeem { member, points }),
        2 => (m.clone(), 1i64..=100).prop_map(|(member, share_pct)| Op::Refund { member, share_pct }),
        1 => (m.clone(), -100i64..100).prop_map(|(member, points)| Op::Adjust { member, points }),
        1 => m.prop_map(|member| Op::CancelLastRedeem { member }),
        2 => (1i64..40).prop_map(|days| Op::Advance { days }),
        1 => Just(Op::Expire),
        1 => Just(Op::Retry),
    ]
}

pub(crate) struct World {
    pub(crate) db: Db,
    pub(crate) tenant: i64,
    pub(crate) members: Vec<i64>,
    settings: LedgerSettings,
    tz: jiff::tz::TimeZone,
    clock: i64,
    /// (member index, purchase txn id, points earned, refunded %) of purchases.
    purchases: Vec<(usize, i64, i64, i64)>,
    redemptions: Vec<(usize, i64)>,
    last: Option<Posting>,
    n: u64,
}

impl World {
    fn posting(&mut self, member: usize, kind: Kind, amount: i64) -> Posting {
        self.n += 1;
        Posting {
            tenant_id: self.tenant,
            member_id: self.members[member],
            currency: Currency::Points,
            kind,
            amount: loyal::money::Points::new(amount),
            idem_key: format!("op-{}", self.n),
            request_hash: format!("h-{}", self.n),
            receipt: None,
            branch_id: None,
            bill_satang: None,
            reverses_id: None,
            reason: None,
            actor_kind: "test".into(),
            actor_id: None,
            occurred_at: self.clock,
            details: serde_json::json!({}),
        }
    }

    async fn post(&mut self, p: Posting) -> Result<ledger::Posted, ledger::LedgerError> {
        let mut tx = self.db.begin().await.unwrap();
        let r = ledger::post(
            &mut tx,
            &p,
            ledger::ShopRules::new(&self.settings, &self.tz),
        )
        .await;
        if r.is_ok() {
            tx.commit().await.unwrap();
            self.last = Some(p);
        }
        r
    }
}

pub(crate) async fn setup(
    backend: Backend,
    refund_policy: RefundPolicy,
) -> (World, Option<tempfile::TempDir>) {
    let (db, dir) = fresh_db(backend).await;
    let mut tx = db.begin().await.unwrap();
    let slug = loyal::tenants::model::Slug::parse("props").unwrap();
    let name = loyal::tenants::model::ShopName::parse("Props").unwrap();
    let tenant = loyal::tenants::store::insert_tenant(
        &mut tx,
        loyal::tenants::store::NewTenant {
            slug: &slug,
            name: &name,
            currency: &loyal::tenants::model::default_currency(),
            time_zone: &loyal::tenants::model::default_time_zone(),
            language: loyal::tenants::model::Language::Th,
            contact_phone: None,
        },
    )
    .await
    .unwrap();
    let mut members = vec![];
    for i in 0..MEMBERS {
        let phone = loyal::members::model::Phone::parse(&format!("08123456{i:02}")).unwrap();
        let new = loyal::members::store::NewMember {
            phone: &phone,
            first_name: "",
            last_name: "",
            email: None,
            join_branch_id: None,
        };
        members.push(
            loyal::members::store::insert(&mut tx, tenant, new)
                .await
                .unwrap(),
        );
    }
    tx.commit().await.unwrap();
    let settings = LedgerSettings {
        expiry: ExpiryPolicy::Rolling {
            months: 1,
            round_up: RoundUp::None,
        },
        refund_policy,
        ..Default::default()
    };
    let world = World {
        db,
        tenant,
        members,
        settings,
        tz: jiff::tz::TimeZone::get("Asia/Bangkok").unwrap(),
        // Start a year back so clock advances stay in the past of the real clock.
        clock: loyal::store::now_micros() - 365 * DAY,
        purchases: vec![],
        redemptions: vec![],
        last: None,
        n: 0,
    };
    (world, dir)
}

/// Check every invariant; `expected` is the balance each member should have.
async fn check(w: &World, expected: &[i64]) {
    let drift = ledger::verify(&w.db).await.unwrap();
    assert!(drift.is_empty(), "drift: {drift:?}");
    let mut total = 0;
    for (i, m) in w.members.iter().enumerate() {
        let s = ledger::balance_summary(&w.db, w.tenant, *m, Currency::Points)
            .await
            .unwrap();
        assert_eq!(s.balance, expected[i], "member {i}'s balance");
        assert!(
            s.balance >= 0 || s.debt > 0,
            "a balance below zero only through a refund's debt"
        );
        assert!(s.debt >= 0);
        total += s.balance;
    }
    let l = ledger::liability(&w.db, w.tenant, Currency::Points, i64::MIN + 1, i64::MAX)
        .await
        .unwrap();
    assert_eq!(
        l.opening + l.issued - l.redeemed - l.expired,
        l.outstanding,
        "liability identity"
    );
    assert_eq!(l.outstanding, total, "outstanding = sum of balances");
}

async fn run(backend: Backend, ops: Vec<Op>, refund_policy: RefundPolicy) {
    let (mut w, _dir) = setup(backend, refund_policy).await;
    let mut expected = vec![0i64; MEMBERS];
    for op in ops {
        match op {
            Op::Earn { member, points } => {
                let p = w.posting(member, Kind::Earn, points);
                let posted = w.post(p).await.unwrap();
                expected[member] += posted.points.get();
                w.purchases.push((member, posted.txn_id, points, 0));
            }
            Op::Redeem { member, points } => {
                let p = w.posting(member, Kind::Redeem, points);
                match w.post(p).await {
                    Ok(posted) => {
                        assert_eq!(posted.points.get(), -points);
                        expected[member] -= points;
                        w.redemptions.push((member, posted.txn_id));
                    }
                    Err(ledger::LedgerError::InsufficientPoints { available }) => {
                        assert!(available < points)
                    }
                    Err(e) => panic!("{e}"),
                }
            }
            Op::Refund { member, share_pct } => {
                let Some(idx) = w.purchases.iter().position(|p| p.0 == member && p.3 < 100) else {
                    continue;
                };
                let (m, txn, earned, done) = w.purchases[idx];
                let pct = share_pct.min(100 - done);
                let reversed_before = earned * done / 100;
                let points = if done + pct == 100 {
                    earned - reversed_before
                } else {
                    earned * (done + pct) / 100 - reversed_before
                };
                let mut p = w.posting(m, Kind::Reversal, points);
                p.reverses_id = Some(txn);
                let posted = w.post(p).await.unwrap();
                assert_eq!(-posted.points.get() + posted.uncollected.get(), points);
                expected[m] += posted.points.get();
                w.purchases[idx].3 += pct;
            }
            Op::Adjust { member, points } if points != 0 => {
                let kind = if points > 0 {
                    Kind::AdjustCredit
                } else {
                    Kind::AdjustDebit
                };
                let p = w.posting(member, kind, points.abs());
                match w.post(p).await {
                    Ok(posted) => expected[member] += posted.points.get(),
                    Err(ledger::LedgerError::InsufficientPoints { .. }) => {}
                    Err(e) => panic!("{e}"),
                }
            }
            Op::Adjust { .. } => {}
            Op::CancelLastRedeem { member } => {
                let Some(idx) = w.redemptions.iter().rposition(|r| r.0 == member) else {
                    continue;
                };
                let (m, txn) = w.redemptions.remove(idx);
                let mut p = w.posting(m, Kind::RedeemCancel, 0);
                p.reverses_id = Some(txn);
                let posted = w.post(p).await.unwrap();
                assert!(posted.points.get() > 0);
                expected[m] += posted.points.get();
            }
            Op::Advance { days } => {
                w.clock = (w.clock + days * DAY).min(loyal::store::now_micros())
            }
            Op::Expire => {
                let before: i64 = expected.iter().sum();
                // Batches of at most 2 lots: a member's due lots are split across
                // transactions, which must add up to what one would have done.
                let small = loyal::ledger::ExpiryLimits {
                    scan: loyal::store::BatchSizer::new(
                        1,
                        20_000,
                        std::time::Duration::from_millis(500),
                    ),
                    max_lots: 2,
                    // In key order; the second run below takes the soonest due.
                    walk_from: 0,
                };
                let run = loyal::ledger::run_expiry_with(&w.db, w.clock, small)
                    .await
                    .unwrap();
                let expired = run.points;
                assert!(
                    run.batches >= run.lots.div_ceil(2),
                    "no batch closed more than 2 lots: {run:?}"
                );
                let again = loyal::ledger::run_expiry(&w.db, w.clock).await.unwrap();
                assert_eq!(
                    again.totals(),
                    (0, 0),
                    "a second expiry run changes nothing"
                );
                for (i, m) in w.members.iter().enumerate() {
                    expected[i] = ledger::balance_summary(&w.db, w.tenant, *m, Currency::Points)
                        .await
                        .unwrap()
                        .balance;
                }
                assert_eq!(before - expired, expected.iter().sum::<i64>());
            }
            Op::Retry => {
                // Re-send the last successful posting: it must be a replay that changes nothing.
                let Some(p) = w.last.clone() else { continue };
                let mut tx = w.db.begin().await.unwrap();
                let posted = ledger::post(&mut tx, &p, ledger::ShopRules::new(&w.settings, &w.tz))
                    .await
                    .unwrap();
                tx.commit().await.unwrap();
                assert!(posted.replayed);
                let mut other = p.clone();
                other.request_hash.push('x');
                let mut tx = w.db.begin().await.unwrap();
                assert!(matches!(
                    ledger::post(&mut tx, &other, ledger::ShopRules::new(&w.settings, &w.tz)).await,
                    Err(ledger::LedgerError::KeyReused)
                ));
            }
        }
        check(&w, &expected).await;
    }
}

pub(crate) fn block_on(f: impl std::future::Future<Output = ()>) {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, max_shrink_iters: 200, ..ProptestConfig::default() })]

    #[test]
    fn ledger_invariants_hold_on_sqlite(ops in proptest::collection::vec(op(), 1..40), within in any::<bool>()) {
        let policy = if within { RefundPolicy::WithinBalance } else { RefundPolicy::AllowNegative };
        block_on(run(Backend::Sqlite, ops, policy));
    }

    #[test]
    fn ledger_invariants_hold_on_postgres(ops in proptest::collection::vec(op(), 1..40), within in any::<bool>()) {
        let policy = if within { RefundPolicy::WithinBalance } else { RefundPolicy::AllowNegative };
        block_on(run(Backend::Postgres, ops, policy));
    }
}
