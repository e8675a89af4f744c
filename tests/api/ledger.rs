//! The points ledger through the API: purchases, refunds, redemptions, adjustments,
//! expiry, pending points, history, liability, and concurrency.

use loyal::earning::claims::ClaimError;
use serde_json::json;

use crate::db_test;
use crate::helpers::ledger_settings;

/// `n` members (phones 0812345600…), each with `lots` purchases of 250 baht (10 points
/// each at the default rate) made 40, 41, … days ago: due once points last a month.
pub(crate) async fn members_with_old_lots(
    owner: &crate::helpers::User,
    n: usize,
    lots: i64,
) -> Vec<i64> {
    let mut members = vec![];
    for i in 0..n {
        let m = owner.member(&format!("08123456{i:02}")).await;
        for day in 0..lots {
            let res = owner
                .purchase_at(
                    m,
                    25_000,
                    &format!("OLD-{i}-{day}"),
                    &chrono_like_days_ago(40 + day),
                )
                .await;
            assert_eq!(res.status, 201, "{}", res.body);
        }
        members.push(m);
    }
    members
}

db_test!(
    a_purchase_earns_by_the_base_rate_and_a_retry_grants_nothing_twice,
    |app| {
        let owner = app.signup("kafe").await;
        let m = owner.member("081-234-5678").await;
        let dry = owner
            .post(
                "/api/v1/purchases",
                json!({"member_id": m, "amount_satang": 24_999, "receipt": "R1", "dry_run": true}),
            )
            .await;
        assert_eq!(
            (
                dry.status,
                dry.body["points"].as_i64(),
                dry.body["dry_run"].as_bool()
            ),
            (200, Some(9), Some(true))
        );
        assert_eq!(
            owner.points(m).await["balance"],
            0,
            "a dry run writes nothing"
        );
        let first = owner.purchase(m, 24_999, "R1").await;
        assert_eq!(
            (
                first.status,
                first.body["points"].as_i64(),
                first.body["balance"].as_i64()
            ),
            (201, Some(9), Some(9)),
            "{}",
            first.body
        );
        assert_eq!(first.body["rules"][0]["rule"], "base_rate");
        let retry = owner.purchase(m, 24_999, "R1").await;
        assert_eq!(
            (
                retry.status,
                retry.body["replayed"].as_bool(),
                retry.body["purchase_id"].clone()
            ),
            (200, Some(true), first.body["purchase_id"].clone())
        );
        let other = owner.purchase(m, 30_000, "R1").await;
        assert_eq!(
            (other.status, other.code(), other.field()),
            (409, "already_exists", "receipt")
        );
        assert_eq!(owner.points(m).await["balance"], 9);
        let history = owner.all(&format!("/api/v1/members/{m}/ledger")).await;
        assert_eq!(history.len(), 1);
        assert_eq!(
            (
                history[0]["kind"].as_str(),
                history[0]["receipt"].as_str(),
                history[0]["bill_satang"].as_i64()
            ),
            (Some("earn"), Some("R1"), Some(24_999))
        );
        app.assert_no_drift().await;
    }
);

db_test!(
    bad_purchases_are_refused_naming_the_field_and_write_nothing,
    |app| {
        let owner = app.signup("kafe").await;
        let m = owner.member("0812345678").await;
        let branch = owner.branch("SIAM").await;
        let theirs = app.signup("other").await.member("0899999999").await;
        let closed = owner.branch("OLD").await;
        let res = owner
            .patch(
                &format!("/api/v1/branches/{closed}"),
                json!({"active": false}),
            )
            .await;
        assert_eq!(res.status, 200);
        let cases = [
            (
                json!({"member_id": m, "amount_satang": 0, "receipt": "X"}),
                "amount_satang",
            ),
            (
                json!({"member_id": m, "amount_satang": -500, "receipt": "X"}),
                "amount_satang",
            ),
            (
                json!({"member_id": m, "amount_satang": 2_000_000_000_000_i64, "receipt": "X"}),
                "amount_satang",
            ),
            (
                json!({"member_id": m, "amount_satang": 10, "receipt": "X", "extra": 1}),
                "extra",
            ),
            (
                json!({"member_id": m, "amount_satang": 1.5, "receipt": "X"}),
                "amount_satang",
            ),
            (
                json!({"member_id": 42, "amount_satang": 100, "receipt": "X"}),
                "member_id",
            ),
            (
                json!({"member_id": 42, "amount_satang": 100, "receipt": "X", "dry_run": true}),
                "member_id",
            ),
            (
                json!({"member_id": theirs, "amount_satang": 100, "receipt": "X"}),
                "member_id",
            ),
            (
                json!({"member_id": m, "amount_satang": 100, "receipt": "X", "branch_id": 42}),
                "branch_id",
            ),
            (
                json!({"member_id": m, "amount_satang": 100, "receipt": "X", "branch_id": closed}),
                "branch_id",
            ),
            (
                json!({"member_id": m, "amount_satang": 100, "receipt": "X", "branch_id": closed, "dry_run": true}),
                "branch_id",
            ),
            (
                json!({"member_id": m, "amount_satang": 100, "receipt": ""}),
                "receipt",
            ),
            (
                json!({"member_id": m, "amount_satang": 100, "receipt": "X", "occurred_at": "2999-01-01T00:00:00Z"}),
                "occurred_at",
            ),
            (
                json!({"member_id": m, "amount_satang": 100, "receipt": "X", "occurred_at": "2001-01-01T00:00:00Z"}),
                "occurred_at",
            ),
        ];
        for (body, field) in cases {
            let res = owner.post("/api/v1/purchases", body.clone()).await;
            assert_eq!(
                (res.status, res.field()),
                (422, field),
                "{body}: {}",
                res.body
            );
        }
        let ok = owner.post("/api/v1/purchases", json!({"member_id": m, "amount_satang": 10_000, "receipt": "X", "branch_id": branch})).await;
        assert_eq!(
            ok.status, 201,
            "the same receipt is still free: {}",
            ok.body
        );
        assert_eq!(
            owner
                .all(&format!("/api/v1/members/{m}/ledger"))
                .await
                .len(),
            1
        );
    }
);

db_test!(
    redemptions_take_soonest_expiring_points_first_and_never_overdraw,
    |app| {
        let owner = app.signup("kafe").await;
        owner.set_rolling_expiry(2).await;
        let m = owner.member("0812345678").await;
        // Two months after 45 days ago is 14-17 days from now; a purchase today expires later.
        let old = chrono_like_days_ago(45);
        let r = owner.purchase_at(m, 25_000, "OLD", &old).await;
        assert_eq!(r.status, 201, "{}", r.body);
        owner.purchase(m, 50_000, "NEW").await;
        let p = owner.points(m).await;
        assert_eq!(
            (
                p["balance"].as_i64(),
                p["available"].as_i64(),
                p["expiring_30_days"].as_i64()
            ),
            (Some(30), Some(30), Some(10))
        );
        let res = owner.redeem(m, 31).await;
        assert_eq!(
            (res.status, res.code(), res.field()),
            (422, "insufficient_points", "points")
        );
        let res = owner
            .post(
                &format!("/api/v1/members/{m}/points/redeem"),
                json!({"points": 12, "reference": "free latte"}),
            )
            .await;
        assert_eq!(
            (res.status, res.body["balance"].as_i64()),
            (201, Some(18)),
            "{}",
            res.body
        );
        // The 10 points expiring soonest went first: nothing is left expiring in 30 days.
        let p = owner.points(m).await;
        assert_eq!(
            (p["balance"].as_i64(), p["expiring_30_days"].as_i64()),
            (Some(18), Some(0))
        );
        let dry = owner
            .post(
                &format!("/api/v1/members/{m}/points/redeem"),
                json!({"points": 19, "dry_run": true}),
            )
            .await;
        assert_eq!(dry.code(), "insufficient_points");
        // Cancelling the redemption gives the points back to their lots.
        let cancel = owner
            .post(
                &format!("/api/v1/ledger/redemptions/{}/cancel", res.body["txn_id"]),
                json!({}),
            )
            .await;
        assert_eq!(
            (cancel.status, cancel.body["balance"].as_i64()),
            (201, Some(30)),
            "{}",
            cancel.body
        );
        assert_eq!(owner.points(m).await["expiring_30_days"], 10);
        let again = owner
            .post(
                &format!("/api/v1/ledger/redemptions/{}/cancel", res.body["txn_id"]),
                json!({}),
            )
            .await;
        assert_eq!((again.status, again.code()), (409, "nothing_to_undo"));
        app.assert_no_drift().await;
    }
);

fn chrono_like_days_ago(days: i64) -> String {
    jiff::Timestamp::now()
        .checked_sub(jiff::SignedDuration::from_hours(24 * days))
        .unwrap()
        .to_string()
}

db_test!(
    a_hundred_parallel_redemptions_of_a_balance_for_ten_give_exactly_ten,
    |app| {
        let owner = app.signup("kafe").await;
        let m = owner.member("0812345678").await;
        let res = owner
            .post(
                &format!("/api/v1/members/{m}/points/adjust"),
                json!({"points": 100, "reason": "race test"}),
            )
            .await;
        assert_eq!(res.status, 201, "{}", res.body);
        let owner = std::sync::Arc::new(owner);
        let mut tasks = vec![];
        for _ in 0..100 {
            let owner = owner.clone();
            tasks.push(tokio::spawn(async move { owner.redeem(m, 10).await }));
        }
        let mut ok = 0;
        for t in tasks {
            let res = t.await.unwrap();
            match res.status {
                201 => ok += 1,
                422 => assert_eq!(res.code(), "insufficient_points"),
                other => panic!("unexpected {other}: {}", res.body),
            }
        }
        assert_eq!(ok, 10, "exactly ten redemptions succeed");
        assert_eq!(owner.points(m).await["balance"], 0);
        app.assert_no_drift().await;
    }
);

db_test!(
    refunds_reverse_points_proportionally_even_when_spent,
    |app| {
        let owner = app.signup("kafe").await;
        let m = owner.member("0812345678").await;
        owner.purchase(m, 100_000, "B1").await; // 40 points
        let part = owner
            .post(
                "/api/v1/purchases/refunds",
                json!({"receipt": "B1", "refund_id": "RF1", "amount_satang": 25_000}),
            )
            .await;
        assert_eq!(
            (
                part.status,
                part.body["points"].as_i64(),
                part.body["balance"].as_i64()
            ),
            (201, Some(-10), Some(30)),
            "{}",
            part.body
        );
        let retry = owner
            .post(
                "/api/v1/purchases/refunds",
                json!({"receipt": "B1", "refund_id": "RF1", "amount_satang": 25_000}),
            )
            .await;
        assert_eq!(
            (retry.status, retry.body["replayed"].as_bool()),
            (200, Some(true))
        );
        // More than is left of the bill is refused, naming the amount.
        let too_much = owner
            .post(
                "/api/v1/purchases/refunds",
                json!({"receipt": "B1", "refund_id": "RF9", "amount_satang": 75_001}),
            )
            .await;
        assert_eq!(
            (too_much.status, too_much.field()),
            (422, "amount_satang"),
            "{}",
            too_much.body
        );
        assert!(too_much.body["detail"].as_str().unwrap().contains("75000"));
        // The member spends everything, then the rest of the bill is refunded.
        owner.redeem(m, 30).await;
        let rest = owner
            .post(
                "/api/v1/purchases/refunds",
                json!({"receipt": "B1", "refund_id": "RF2"}),
            )
            .await;
        assert_eq!(
            (
                rest.status,
                rest.body["points"].as_i64(),
                rest.body["balance"].as_i64()
            ),
            (201, Some(-30), Some(-30)),
            "{}",
            rest.body
        );
        let p = owner.points(m).await;
        assert_eq!(
            (p["debt"].as_i64(), p["available"].as_i64()),
            (Some(30), Some(0))
        );
        let done = owner
            .post(
                "/api/v1/purchases/refunds",
                json!({"receipt": "B1", "refund_id": "RF3"}),
            )
            .await;
        assert_eq!((done.status, done.code()), (409, "nothing_to_undo"));
        let over = owner
            .post(
                "/api/v1/purchases/refunds",
                json!({"receipt": "NOPE", "refund_id": "X"}),
            )
            .await;
        assert_eq!((over.status, over.field()), (404, "receipt"));
        // The next purchase repays the debt first.
        let next = owner.purchase(m, 100_000, "B2").await;
        assert_eq!(next.body["balance"], 10);
        assert_eq!(owner.points(m).await["debt"], 0);
        app.assert_no_drift().await;
    }
);

db_test!(
    under_the_within_balance_policy_a_refund_stops_at_zero,
    |app| {
        let owner = app.signup("kafe").await;
        owner
            .set_ledger(ledger_settings(json!({"refund_policy": "within_balance"})))
            .await;
        let m = owner.member("0812345678").await;
        owner.purchase(m, 100_000, "B1").await;
        owner.redeem(m, 35).await;
        let res = owner
            .post(
                "/api/v1/purchases/refunds",
                json!({"receipt": "B1", "refund_id": "RF"}),
            )
            .await;
        assert_eq!(
            (
                res.body["points"].as_i64(),
                res.body["uncollected"].as_i64(),
                res.body["balance"].as_i64()
            ),
            (Some(-5), Some(35), Some(0)),
            "{}",
            res.body
        );
        app.assert_no_drift().await;
    }
);

db_test!(
    two_expiry_runs_at_once_expire_each_lot_once_while_members_redeem,
    |app| {
        let owner = app.signup("kafe").await;
        owner.set_rolling_expiry(1).await;
        let members = members_with_old_lots(&owner, 8, 3).await;
        for (i, &m) in members.iter().enumerate() {
            owner.purchase(m, 50_000, &format!("NEW-{i}")).await;
        }
        // 8 members × 3 old lots of 10 points are due; each member also has 20 fresh points.
        let now = loyal::store::now_micros();
        let redeem = async {
            for &m in &members {
                let res = owner.redeem(m, 5).await;
                assert_eq!(res.status, 201, "{}", res.body);
            }
        };
        // One run in the default batches, one closing at most 2 lots per transaction, so
        // members are split across its batches while the other run and the redemptions
        // go on.
        let small = loyal::ledger::ExpiryLimits {
            scan: loyal::store::BatchSizer::new(1, 1, std::time::Duration::from_millis(500)),
            max_lots: 2,
            // This one walks the members in key order; the other takes the soonest due.
            walk_from: 0,
        };
        let (a, b, ()) = tokio::join!(
            loyal::ledger::run_expiry(&app.db, now),
            loyal::ledger::run_expiry_with(&app.db, now, small),
            redeem
        );
        let (a, b) = (a.unwrap().totals(), b.unwrap().totals());
        let expired = a.1 + b.1;
        // Whatever the interleaving, every point is either still held, redeemed or expired,
        // and nothing expired twice.
        let total: i64 = {
            let mut t = 0;
            for &m in &members {
                t += owner.points(m).await["balance"].as_i64().unwrap();
            }
            t
        };
        assert_eq!(total + expired, 8 * 50 - 8 * 5, "runs: {a:?} {b:?}");
        assert_eq!(
            a.0 + b.0,
            24,
            "each due lot expired by exactly one run: {a:?} {b:?}"
        );
        assert_eq!(
            loyal::ledger::run_expiry(&app.db, now)
                .await
                .unwrap()
                .totals(),
            (0, 0)
        );
        app.assert_no_drift().await;
    }
);

db_test!(
    an_expiry_run_that_closed_many_lots_has_postgresql_analyze_them,
    |app| {
        let owner = app.signup("kafe").await;
        owner.set_rolling_expiry(1).await;
        // 20 members × 3 due lots: past autovacuum's threshold (50 rows) on tables
        // never analyzed; 20 movements are not.
        members_with_old_lots(&owner, 20, 3).await;
        let run = loyal::ledger::run_expiry(&app.db, loyal::store::now_micros())
            .await
            .unwrap();
        assert_eq!((run.lots, run.movements), (60, 20), "{run:?}");
        let analyzed: &[&str] = match app.backend {
            crate::helpers::Backend::Postgres => &["lots", "allocations"],
            crate::helpers::Backend::Sqlite => &[],
        };
        assert_eq!(run.analyzed, analyzed);
        // Nothing left: no second analyze.
        let again = loyal::ledger::run_expiry(&app.db, loyal::store::now_micros())
            .await
            .unwrap();
        assert_eq!((again.lots, again.analyzed.len()), (0, 0));
        app.assert_no_drift().await;
    }
);

db_test!(
    expiry_runs_are_idempotent_and_the_liability_adds_up,
    |app| {
        let owner = app.signup("kafe").await;
        owner.set_ledger(ledger_settings(json!({"expiry": {"mode": "rolling", "months": 1, "round_up": "none"}, "welcome_points": 5}))).await;
        let m = owner.member("0812345678").await;
        assert_eq!(owner.points(m).await["balance"], 5, "welcome points");
        owner
            .purchase_at(m, 50_000, "OLD", &chrono_like_days_ago(40))
            .await;
        owner.purchase(m, 25_000, "NEW").await;
        let now = loyal::store::now_micros();
        let (lots, points) = loyal::ledger::run_expiry(&app.db, now)
            .await
            .unwrap()
            .totals();
        assert_eq!((lots, points), (1, 20));
        assert_eq!(
            loyal::ledger::run_expiry(&app.db, now)
                .await
                .unwrap()
                .totals(),
            (0, 0),
            "a re-run changes nothing"
        );
        assert_eq!(owner.points(m).await["balance"], 15);
        let history = owner.all(&format!("/api/v1/members/{m}/ledger")).await;
        assert_eq!(history[0]["kind"], "expire");
        assert_eq!(history[0]["amount"], -20);
        owner.redeem(m, 4).await;
        let l = owner.get("/api/v1/reports/liability").await.body;
        assert_eq!(
            (
                l["issued"].as_i64(),
                l["redeemed"].as_i64(),
                l["expired"].as_i64(),
                l["outstanding"].as_i64()
            ),
            (Some(35), Some(4), Some(20), Some(11))
        );
        assert_eq!(
            l["opening"].as_i64().unwrap() + l["issued"].as_i64().unwrap() - 4 - 20,
            11
        );
        let res = owner
            .get("/api/v1/reports/liability?from=2030-01-01T00:00:00Z&to=2029-01-01T00:00:00Z")
            .await;
        assert_eq!((res.status, res.code()), (400, "invalid_query"));
        app.assert_no_drift().await;
    }
);

db_test!(
    an_expiry_run_writes_one_line_per_member_for_all_its_due_lots,
    |app| {
        let owner = app.signup("kafe").await;
        owner.set_rolling_expiry(1).await;
        let m = owner.member("0812345678").await;
        let other = owner.member("0812345679").await;
        // Three lots expiring within the next 11 days (points last one month here).
        for (days, receipt) in [(25, "OLD-1"), (22, "OLD-2"), (20, "OLD-3")] {
            let res = owner
                .purchase_at(m, 25_000, receipt, &chrono_like_days_ago(days))
                .await;
            assert_eq!(res.status, 201, "{}", res.body);
        }
        let res = owner
            .purchase_at(other, 50_000, "OTHER", &chrono_like_days_ago(40))
            .await;
        assert_eq!(res.status, 201, "{}", res.body);
        owner.purchase(m, 50_000, "NEW").await;
        // 5 of the soonest-expiring lot's 10 points are spent before the run.
        let redeem = owner.redeem(m, 5).await;
        assert_eq!(redeem.status, 201, "{}", redeem.body);

        // The run as it will happen in two weeks.
        let now = loyal::store::now_micros() + 14 * 86_400_000_000;
        assert_eq!(
            loyal::ledger::run_expiry(&app.db, now)
                .await
                .unwrap()
                .totals(),
            (4, 45),
            "three lots of one member (25 points left) and one of the other (20)"
        );
        let expiries = |history: &Vec<serde_json::Value>| -> Vec<i64> {
            history
                .iter()
                .filter(|t| t["kind"] == "expire")
                .map(|t| t["amount"].as_i64().unwrap())
                .collect()
        };
        let history = owner.all(&format!("/api/v1/members/{m}/ledger")).await;
        assert_eq!(expiries(&history), vec![-25], "one line for the three lots");
        assert_eq!(owner.points(m).await["balance"], 20);
        let history = owner.all(&format!("/api/v1/members/{other}/ledger")).await;
        assert_eq!(expiries(&history), vec![-20]);

        // Cancelling the redemption puts 5 points back into the expired lot; the next run
        // expires them, on a line of their own.
        let cancel = owner
            .post(
                &format!(
                    "/api/v1/ledger/redemptions/{}/cancel",
                    redeem.body["txn_id"]
                ),
                json!({}),
            )
            .await;
        assert_eq!(cancel.status, 201, "{}", cancel.body);
        assert_eq!(
            loyal::ledger::run_expiry(&app.db, now)
                .await
                .unwrap()
                .totals(),
            (1, 5)
        );
        let history = owner.all(&format!("/api/v1/members/{m}/ledger")).await;
        assert_eq!(expiries(&history), vec![-5, -25]);
        assert_eq!(owner.points(m).await["balance"], 20);
        let l = owner.get("/api/v1/reports/liability").await.body;
        assert_eq!(l["expired"].as_i64(), Some(50));
        app.assert_no_drift().await;
    }
);

db_test!(
    a_member_with_more_due_lots_than_one_batch_may_close_is_expired_over_several,
    |app| {
        let owner = app.signup("kafe").await;
        owner.set_rolling_expiry(1).await;
        let m = members_with_old_lots(&owner, 1, 5).await[0];
        owner.purchase(m, 50_000, "NEW").await;
        let limits = loyal::ledger::ExpiryLimits {
            max_lots: 2,
            ..loyal::ledger::EXPIRY_LIMITS
        };
        let run = loyal::ledger::run_expiry_with(&app.db, loyal::store::now_micros(), limits)
            .await
            .unwrap();
        assert_eq!(run.totals(), (5, 50), "all five lots of 10 points");
        assert_eq!(run.batches, 3, "2 + 2 + 1 lots: {run:?}");
        // Each transaction is audited with what it closed, never more than the cap.
        let audited = owner.all("/api/v1/audit-log?action=points.expired").await;
        let mut lots: Vec<i64> = audited
            .iter()
            .map(|e| e["details"]["lots"].as_i64().unwrap())
            .collect();
        lots.sort_unstable();
        assert_eq!(lots, vec![1, 2, 2], "{audited:?}");
        let history = owner.all(&format!("/api/v1/members/{m}/ledger")).await;
        let mut lines: Vec<i64> = history
            .iter()
            .filter(|t| t["kind"] == "expire")
            .map(|t| t["amount"].as_i64().unwrap())
            .collect();
        lines.sort_unstable();
        assert_eq!(lines, vec![-20, -20, -10], "one line per batch");
        assert_eq!(
            owner.points(m).await["balance"],
            20,
            "the fresh lot is kept"
        );
        assert_eq!(
            loyal::ledger::run_expiry(&app.db, loyal::store::now_micros())
                .await
                .unwrap()
                .totals(),
            (0, 0)
        );
        app.assert_no_drift().await;
    }
);

db_test!(
    an_expiry_run_walks_members_in_key_order_until_none_is_left,
    |app| {
        let owner = app.signup("kafe").await;
        owner.set_rolling_expiry(1).await;
        let members = members_with_old_lots(&owner, 6, 3).await;
        // One due lot's account per transaction: the run must move on from each member to
        // the next, and stop only when no member after the last has due lots.
        let one = loyal::ledger::ExpiryLimits {
            scan: loyal::store::BatchSizer::new(1, 1, std::time::Duration::from_secs(3600)),
            max_lots: 100,
            walk_from: 0,
        };
        let run = loyal::ledger::run_expiry_with(&app.db, loyal::store::now_micros(), one)
            .await
            .unwrap();
        assert_eq!(run.totals(), (18, 180), "{run:?}");
        assert_eq!(run.batches, 6, "one member per transaction: {run:?}");
        // Each member got one line for its three lots, written in member order (ids grow
        // with each transaction).
        let mut lines = vec![];
        for &m in &members {
            let history = owner.all(&format!("/api/v1/members/{m}/ledger")).await;
            let expired: Vec<_> = history.iter().filter(|t| t["kind"] == "expire").collect();
            assert_eq!(expired.len(), 1, "{history:?}");
            assert_eq!(expired[0]["amount"], -30);
            lines.push((m, expired[0]["id"].as_i64().unwrap()));
        }
        lines.sort_unstable();
        assert!(
            lines.windows(2).all(|w| w[0].1 < w[1].1),
            "members expired in key order: {lines:?}"
        );
        app.assert_no_drift().await;
    }
);

db_test!(pending_points_wait_out_the_return_window, |app| {
    let owner = app.signup("kafe").await;
    owner
        .set_ledger(ledger_settings(json!({"pending_days": 7})))
        .await;
    let m = owner.member("0812345678").await;
    owner.purchase(m, 25_000, "P1").await;
    let p = owner.points(m).await;
    assert_eq!(
        (
            p["balance"].as_i64(),
            p["available"].as_i64(),
            p["pending"].as_i64()
        ),
        (Some(10), Some(0), Some(10))
    );
    let res = owner.redeem(m, 1).await;
    assert_eq!(res.code(), "insufficient_points");
    // A purchase made 8 days ago is past its window.
    owner
        .purchase_at(m, 25_000, "P0", &chrono_like_days_ago(8))
        .await;
    assert_eq!(owner.points(m).await["available"], 10);
});

db_test!(adjustments_need_a_reason_and_cannot_overdraw, |app| {
    let owner = app.signup("kafe").await;
    let m = owner.member("0812345678").await;
    let res = owner
        .post(
            &format!("/api/v1/members/{m}/points/adjust"),
            json!({"points": 50, "reason": ""}),
        )
        .await;
    assert_eq!((res.status, res.field()), (422, "reason"));
    let res = owner
        .post(
            &format!("/api/v1/members/{m}/points/adjust"),
            json!({"points": 0, "reason": "x"}),
        )
        .await;
    assert_eq!((res.status, res.field()), (422, "points"));
    owner
        .post(
            &format!("/api/v1/members/{m}/points/adjust"),
            json!({"points": 50, "reason": "goodwill: late order"}),
        )
        .await;
    let res = owner
        .post(
            &format!("/api/v1/members/{m}/points/adjust"),
            json!({"points": -51, "reason": "fix"}),
        )
        .await;
    assert_eq!(res.code(), "insufficient_points");
    let res = owner
        .post(
            &format!("/api/v1/members/{m}/points/adjust"),
            json!({"points": -20, "reason": "duplicate grant"}),
        )
        .await;
    assert_eq!(res.body["balance"], 30);
    let audit = owner.all("/api/v1/audit-log?action=points.adjusted").await;
    assert_eq!(audit.len(), 2);
    // The audit entry points at the ledger transaction, which carries the reason.
    let history = owner.all(&format!("/api/v1/members/{m}/ledger")).await;
    assert_eq!(history[0]["reason"], "duplicate grant");
    assert_eq!(audit[0]["target_id"], history[0]["id"]);
    assert_eq!(history[0]["actor_kind"], "staff");
});

db_test!(
    a_retried_redemption_with_its_idempotency_key_spends_once,
    |app| {
        let owner = app.signup("kafe").await;
        let m = owner.member("0812345678").await;
        owner
            .post(
                &format!("/api/v1/members/{m}/points/adjust"),
                json!({"points": 50, "reason": "seed"}),
            )
            .await;
        let url = format!("/api/v1/members/{m}/points/redeem");
        let a = owner
            .request(
                reqwest::Method::POST,
                &url,
                Some(json!({"points": 20})),
                &[("idempotency-key", "redeem-1")],
            )
            .await;
        let b = owner
            .request(
                reqwest::Method::POST,
                &url,
                Some(json!({"points": 20})),
                &[("idempotency-key", "redeem-1")],
            )
            .await;
        assert_eq!(
            (a.status, b.status, b.header("idempotent-replayed")),
            (201, 201, "true")
        );
        assert_eq!(owner.points(m).await["balance"], 30);
    }
);

db_test!(members_are_found_by_any_thai_phone_format, |app| {
    let owner = app.signup("kafe").await;
    let m = owner.member("+66 81 234 5678").await;
    for q in ["0812345678", "081-234-5678", "66812345678"] {
        let res = owner.get(&format!("/api/v1/members?phone={q}")).await;
        assert_eq!(res.body["items"][0]["id"].as_i64(), Some(m), "{q}");
    }
    let dup = owner
        .post("/api/v1/members", json!({"phone": "081 234 5678"}))
        .await;
    assert_eq!((dup.status, dup.field()), (409, "phone"));
    let bad = owner
        .post("/api/v1/members", json!({"phone": "12345"}))
        .await;
    assert_eq!((bad.status, bad.field()), (422, "phone"));
});

db_test!(
    a_claim_qr_gives_its_points_once_to_the_first_member_before_it_expires,
    |app| {
        let owner = app.signup("kafe").await;
        let first = owner.member("0811111111").await;
        let second = owner.member("0822222222").await;
        let res = owner
            .post("/api/v1/claims", json!({"amount_satang": 50_000}))
            .await;
        assert_eq!(res.status, 201, "{}", res.body);
        assert!(res.body["qr_svg"].as_str().unwrap().contains("<svg"));
        let url = res.body["url"].as_str().unwrap();
        assert!(url.starts_with(&format!("{}/m/kafe/claim/", app.base)));
        let token = url.rsplit('/').next().unwrap();
        let tenant = owner.me["tenant_id"].as_i64().unwrap();
        let meta = loyal::audit::RequestMeta {
            request_id: "t".into(),
            ip: "127.0.0.1".into(),
        };
        let collect = |m: i64| loyal::earning::claims::collect(&app.db, tenant, token, m, &meta);
        assert_eq!(collect(first).await.unwrap().points, 20);
        let again = collect(first).await.unwrap();
        assert!(again.replayed, "scanning twice grants once");
        assert!(matches!(
            collect(second).await.unwrap_err(),
            ClaimError::AlreadyUsed
        ));
        assert_eq!(owner.points(first).await["balance"], 20);
        assert_eq!(owner.points(second).await["balance"], 0);
        // Another shop cannot use the token; an expired claim gives nothing.
        let other = app.signup("other").await;
        let other_tenant = other.me["tenant_id"].as_i64().unwrap();
        let stranger = other.member("0833333333").await;
        let res =
            loyal::earning::claims::collect(&app.db, other_tenant, token, stranger, &meta).await;
        assert!(matches!(res.unwrap_err(), ClaimError::NotFound));
        let res = owner
            .post(
                "/api/v1/claims",
                json!({"amount_satang": 50_000, "valid_minutes": 1}),
            )
            .await;
        let token2 = res.body["url"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_string();
        loyal::on_db!(&app.db, pool => sqlx::query("UPDATE point_claims SET expires_at = 1 WHERE id = $1").bind(res.body["id"].as_i64().unwrap()).execute(pool).await.map(|r| r.rows_affected())).unwrap();
        let res = loyal::earning::claims::collect(&app.db, tenant, &token2, second, &meta).await;
        assert!(matches!(res.unwrap_err(), ClaimError::Expired));
        let bad = owner
            .post("/api/v1/claims", json!({"amount_satang": 0}))
            .await;
        assert_eq!((bad.status, bad.field()), (422, "amount_satang"));
    }
);

// The history page's plan, read, not timed: the lot of each line must be found by its
// transaction, and no step may read the shop's rows. SQLite plans without table
// statistics, and with lots keyed by member its planner once chose to read every lot of
// the shop for each line (at 1M members a page took minutes). PostgreSQL plans by
// table size, so an empty table is scanned: with scans priced out, an index must serve.
db_test!(a_members_history_page_reads_only_that_members_rows, |app| {
    use crate::helpers::Bind::Int;
    let binds = [Int(1), Int(2), Int(3), Int(4)];
    let steps = crate::helpers::plan_steps(&app.db, loyal::ledger::HISTORY, &binds).await;
    match app.db.backend() {
        loyal::store::Backend::Sqlite => {
            assert!(
                steps
                    .iter()
                    .any(|s| s.starts_with("SEARCH l USING") && s.contains("txn_id=?")),
                "{steps:?}"
            );
            assert!(
                !steps
                    .iter()
                    .any(|s| s.starts_with("SCAN") || s.contains("(tenant_id=?)")),
                "{steps:?}"
            );
        }
        loyal::store::Backend::Postgres => {
            assert!(
                steps.iter().any(|s| s.contains("using lots_txn on lots")),
                "{steps:?}"
            );
            assert!(!steps.iter().any(|s| s.contains("Seq Scan")), "{steps:?}");
        }
    }
});

db_test!(
    points_expire_only_through_an_expiry_run_never_one_posting,
    |app| {
        use loyal::ledger::{self, Kind, Posting};
        let owner = app.signup("kafe").await;
        let m = owner.member("0812345678").await;
        owner.purchase(m, 10_000, "R1").await;
        let tenant = owner.me["tenant_id"].as_i64().unwrap();
        let settings = ledger::settings(&app.db, tenant).await.unwrap();
        let mut tx = app.db.begin().await.unwrap();
        let posting = Posting {
            amount: loyal::money::Points::new(1),
            idem_key: "expire-one".into(),
            request_hash: "expire-one".into(),
            ..Posting::blank(tenant, m, Kind::Expire)
        };
        let refused = ledger::post(
            &mut tx,
            &posting,
            ledger::ShopRules::new(&settings, &jiff::tz::TimeZone::UTC),
        )
        .await;
        assert!(
            matches!(refused, Err(loyal::ledger::LedgerError::ExpiryIsARun)),
            "{refused:?}"
        );
        drop(tx);
        let balance = owner.points(m).await["balance"].as_i64().unwrap();
        assert!(balance > 0, "the points are still there");
        app.assert_no_drift().await;
    }
);
