//! Property test of set-based purchases: any sequence of purchases recorded together, as
//! one group in one transaction, gives every purchase the same answer, and every member
//! the same points, stamps and tier, as recording the same purchases one by one, each in
//! its own transaction; on SQLite and on PostgreSQL. The sequences repeat members and
//! receipts (replays and refusals), run into a daily cap, cross tier thresholds (whose
//! bonus changes the next bill) and earn stamps.

use proptest::prelude::*;
use serde_json::json;

use crate::helpers::Backend;
use crate::ledger_properties::{World, block_on, setup};
use loyal::audit::ActorRef;
use loyal::audit::RequestMeta;
use loyal::earning::earn::{Answer, Purchase, purchases_in};
use loyal::earning::{EarnContext, PurchaseInput};
use loyal::ledger::model::{Currency, RefundPolicy};

#[derive(Clone, Debug)]
struct Bill {
    member: usize,
    receipt: u8,
    baht: i64,
    lattes: i64,
}

fn bill() -> impl Strategy<Value = Bill> {
    // A bill at least as large as its lattes (50 baht each), as every purchase is.
    (0..3usize, 0u8..10, 1i64..800, 0i64..3).prop_map(|(member, receipt, baht, lattes)| Bill {
        member,
        receipt,
        baht: baht.max(lattes * 50),
        lattes,
    })
}

/// A shop with an optional daily cap, a stamp card and three tiers on lifetime points.
fn shop(cap_per_day: Option<i64>) -> EarnContext {
    EarnContext {
        settings: Default::default(),
        rules: serde_json::from_value(json!({
            "cap_per_day": cap_per_day,
            "stamps": [{"name": "coffee card", "skus": ["LATTE"], "stamps_per_item": 1}]
        }))
        .unwrap(),
        tiers: serde_json::from_value(json!({
            "enabled": true, "metric": "points_earned", "window": {"type": "lifetime"},
            "levels": [
                {"code": "member", "name": "Member", "threshold": 0},
                {"code": "silver", "name": "Silver", "threshold": 20, "earn_percent": 150},
                {"code": "gold", "name": "Gold", "threshold": 60, "earn_percent": 200}
            ]
        }))
        .unwrap(),
        tz: jiff::tz::TimeZone::get("Asia/Bangkok").unwrap(),
    }
}

fn inputs(w: &World, bills: &[Bill], at: i64) -> Vec<PurchaseInput> {
    bills
        .iter()
        .map(|b| {
            let purchase = loyal::earning::NewPurchase {
            tenant_id: w.tenant,
            member_id: w.members[b.member],
            amount_satang: b.baht * 100,
            receipt: format!("r{}", b.receipt),
            branch_id: None,
            occurred_at: Some(at),
            items: serde_json::from_value(json!(if b.lattes > 0 {
                json!([{"sku": "LATTE", "category": "coffee", "quantity": b.lattes, "unit_price_satang": 5_000}])
            } else {
                json!([])
            }))
            .unwrap(),
            dry_run: false,
            };
            PurchaseInput::new(purchase, at).unwrap()
        })
        .collect()
}

/// What an answer says, without the ids and times that differ between two databases.
type Said = Result<(i64, i64, Option<i64>, bool, Option<String>), String>;

fn said(answer: Answer) -> Said {
    answer
        .map(|o| {
            let tier = o.tier_change.map(|t| t.to_level);
            (o.points, o.stamps, o.balance, o.replayed, tier)
        })
        .map_err(|e| format!("{:?}", loyal::error::ApiError::from(e).code))
}

/// Each member's points, stamps and level.
async fn standing(w: &World) -> Vec<(i64, i64, Option<String>)> {
    let mut out = vec![];
    for &m in &w.members {
        let points = loyal::ledger::balance_summary(&w.db, w.tenant, m, Currency::Points);
        let stamps = loyal::ledger::balance_summary(&w.db, w.tenant, m, Currency::Stamps);
        let level = loyal::tiers::store::standing(&w.db, w.tenant, m)
            .await
            .unwrap();
        out.push((
            points.await.unwrap().balance,
            stamps.await.unwrap().balance,
            level.map(|l| l.level),
        ));
    }
    out
}

async fn run(backend: Backend, bills: Vec<Bill>, cap_per_day: Option<i64>) {
    let ctx = shop(cap_per_day);
    let meta = RequestMeta {
        request_id: "prop".into(),
        ip: "127.0.0.1".into(),
    };
    let actor = ActorRef {
        kind: "system",
        id: None,
        label: "prop",
    };
    let at = loyal::store::now_micros();
    let purchase = |input| Purchase {
        input,
        ctx: &ctx,
        actor,
        meta: &meta,
    };

    let (alone, _dir) = setup(backend, RefundPolicy::AllowNegative).await;
    let mut one_by_one = vec![];
    let alone_inputs = inputs(&alone, &bills, at);
    for input in &alone_inputs {
        let mut tx = alone.db.begin().await.unwrap();
        let mut answers = purchases_in(&mut tx, &[purchase(input)]).await.unwrap();
        tx.commit().await.unwrap();
        one_by_one.push(said(answers.pop().unwrap()));
    }

    let (grouped, _dir) = setup(backend, RefundPolicy::AllowNegative).await;
    let group_inputs = inputs(&grouped, &bills, at);
    let group: Vec<_> = group_inputs.iter().map(purchase).collect();
    let mut tx = grouped.db.begin().await.unwrap();
    let together: Vec<Said> = purchases_in(&mut tx, &group)
        .await
        .unwrap()
        .into_iter()
        .map(said)
        .collect();
    tx.commit().await.unwrap();

    assert_eq!(together, one_by_one, "answers");
    assert_eq!(standing(&grouped).await, standing(&alone).await, "members");
    for w in [&alone, &grouped] {
        assert!(
            loyal::ledger::verify(&w.db).await.unwrap().is_empty(),
            "drift"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, max_shrink_iters: 100, ..ProptestConfig::default() })]

    #[test]
    fn a_group_records_exactly_what_one_by_one_would_on_sqlite(
        bills in proptest::collection::vec(bill(), 1..30),
        cap in proptest::option::of(5i64..80),
    ) {
        block_on(run(Backend::Sqlite, bills, cap));
    }

    #[test]
    fn a_group_records_exactly_what_one_by_one_would_on_postgres(
        bills in proptest::collection::vec(bill(), 1..30),
        cap in proptest::option::of(5i64..80),
    ) {
        block_on(run(Backend::Postgres, bills, cap));
    }
}
