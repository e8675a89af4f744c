//! Earning rules through the API: multipliers, caps, stamp cards, previews.

use serde_json::json;

use crate::db_test;

db_test!(
    product_multipliers_stamps_and_caps_apply_and_are_explained,
    |app| {
        let owner = app.signup("kafe").await;
        let siam = owner.branch("SIAM").await;
        let rules = json!({
            "multipliers": [
                {"name": "triple coffee", "percent": 300, "when": {"type": "items", "categories": ["coffee"]}},
                {"name": "Siam opening", "percent": 150, "when": {"type": "branches", "branch_ids": [siam]}}
            ],
            "cap_per_bill": 100,
            "cap_per_day": 30,
            "stamps": [{"name": "coffee card", "skus": ["LATTE"], "stamps_per_item": 1}]
        });
        let res = owner.put("/api/v1/rules/earning", rules).await;
        assert_eq!(res.status, 200, "{}", res.body);
        let m = owner.member("0812345678").await;
        let bill = json!({
            "member_id": m, "amount_satang": 25_000, "receipt": "R1", "branch_id": siam,
            "items": [{"sku": "LATTE", "category": "coffee", "quantity": 2, "unit_price_satang": 5_000},
                      {"sku": "CAKE", "category": "bakery", "quantity": 1, "unit_price_satang": 15_000}]
        });
        let mut preview = bill.clone();
        preview["dry_run"] = json!(true);
        let dry = owner.post("/api/v1/purchases", preview).await;
        // base 10; coffee 100 THB = 4 points, +200% = 8; Siam +50% of 10 = 5.
        assert_eq!(
            (
                dry.status,
                dry.body["points"].as_i64(),
                dry.body["stamps"].as_i64()
            ),
            (200, Some(23), Some(2)),
            "{}",
            dry.body
        );
        let names: Vec<&str> = dry.body["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            vec!["base rate", "triple coffee", "Siam opening", "coffee card"]
        );
        let first = owner.post("/api/v1/purchases", bill.clone()).await;
        assert_eq!(
            (
                first.status,
                first.body["points"].as_i64(),
                first.body["stamps"].as_i64()
            ),
            (201, Some(23), Some(2))
        );
        let retry = owner.post("/api/v1/purchases", bill.clone()).await;
        assert_eq!(
            (
                retry.status,
                retry.body["replayed"].as_bool(),
                retry.body["points"].as_i64(),
                retry.body["stamps"].as_i64()
            ),
            (200, Some(true), Some(23), Some(2))
        );
        assert_eq!(
            retry.body["rules"], first.body["rules"],
            "a replay explains the first result"
        );
        let mut other_items = bill.clone();
        other_items["items"][0]["quantity"] = json!(1);
        assert_eq!(
            owner.post("/api/v1/purchases", other_items).await.field(),
            "receipt"
        );
        // The daily cap (30) leaves 7 points for a second bill today.
        let second = owner
            .post(
                "/api/v1/purchases",
                json!({"member_id": m, "amount_satang": 100_000, "receipt": "R2"}),
            )
            .await;
        assert_eq!(second.body["points"], 7, "{}", second.body);
        assert_eq!(
            second.body["rules"].as_array().unwrap().last().unwrap()["rule"],
            "cap_per_day"
        );
        let points = owner.get(&format!("/api/v1/members/{m}/points")).await.body;
        assert_eq!(
            (
                points["points"]["balance"].as_i64(),
                points["stamps"]["balance"].as_i64()
            ),
            (Some(30), Some(2))
        );
        // Refunding half of the first bill takes back half its points and stamps.
        let refund = owner
            .post(
                "/api/v1/purchases/refunds",
                json!({"receipt": "R1", "refund_id": "half", "amount_satang": 12_500}),
            )
            .await;
        assert_eq!(
            (
                refund.body["points"].as_i64(),
                refund.body["stamps"].as_i64()
            ),
            (Some(-11), Some(-1)),
            "{}",
            refund.body
        );
        // Ten stamps buy a coffee: stamps are spent like points.
        let res = owner
            .post(
                &format!("/api/v1/members/{m}/points/redeem"),
                json!({"points": 2, "currency": "stamps"}),
            )
            .await;
        assert_eq!(res.code(), "insufficient_points", "only one stamp is left");
        app.assert_no_drift().await;
    }
);

db_test!(double_points_weekends_follow_the_shop_calendar, |app| {
    let owner = app.signup("kafe").await;
    let rules = json!({"multipliers": [{"name": "double weekend", "percent": 200, "when": {"type": "days", "days": ["sat", "sun"]}}]});
    assert_eq!(owner.put("/api/v1/rules/earning", rules).await.status, 200);
    let m = owner.member("0812345678").await;
    // Find the most recent Saturday 00:30 in Bangkok (Friday 17:30 UTC).
    let now = jiff::Zoned::now().with_time_zone(jiff::tz::TimeZone::get("Asia/Bangkok").unwrap());
    let mut day = now.date();
    while day.weekday() != jiff::civil::Weekday::Saturday || day >= now.date() {
        day = day.yesterday().unwrap();
    }
    let sat = day
        .at(0, 30, 0, 0)
        .to_zoned(jiff::tz::TimeZone::get("Asia/Bangkok").unwrap())
        .unwrap();
    let fri = sat
        .checked_sub(jiff::SignedDuration::from_hours(1))
        .unwrap();
    let earn = |receipt: &str, at: &jiff::Zoned| json!({"member_id": m, "amount_satang": 25_000, "receipt": receipt, "occurred_at": at.timestamp().to_string(), "dry_run": true});
    assert_eq!(
        owner.post("/api/v1/purchases", earn("S", &sat)).await.body["points"],
        20
    );
    assert_eq!(
        owner.post("/api/v1/purchases", earn("F", &fri)).await.body["points"],
        10
    );
});

db_test!(bad_rules_are_refused_naming_the_field, |app| {
    let owner = app.signup("kafe").await;
    let cases = [
        (
            json!({"multipliers": [{"name": "x", "percent": 90, "when": {"type": "days", "days": ["sat"]}}]}),
            "multipliers[0].percent",
        ),
        (
            json!({"multipliers": [{"name": "x", "percent": 200, "when": {"type": "branches", "branch_ids": [99]}}]}),
            "multipliers[0].when.branch_ids[0]",
        ),
        (
            json!({"multipliers": [{"name": "x", "percent": 200, "when": {"type": "days", "days": []}}]}),
            "multipliers[0].when.days",
        ),
        (
            json!({"multipliers": [{"name": "x", "percent": 200, "when": {"type": "moon"}}]}),
            "multipliers[0].when.type",
        ),
        (json!({"cap_per_day": -1}), "cap_per_day"),
        (
            json!({"stamps": [{"name": "card", "stamps_per_item": 1}]}),
            "stamps[0].skus",
        ),
    ];
    for (body, field) in cases {
        let res = owner.put("/api/v1/rules/earning", body.clone()).await;
        assert_eq!(
            (res.status, res.field()),
            (422, field),
            "{body}: {}",
            res.body
        );
    }
    assert_eq!(
        owner.get("/api/v1/rules/earning").await.body["multipliers"],
        json!([]),
        "nothing was saved"
    );
    let m = owner.member("0812345678").await;
    let res = owner
        .post(
            "/api/v1/purchases",
            json!({"member_id": m, "amount_satang": 1000, "receipt": "X",
        "items": [{"sku": "A", "quantity": 1, "unit_price_satang": 5000}]}),
        )
        .await;
    assert_eq!((res.status, res.field()), (422, "items"));
});

db_test!(
    a_shops_new_rate_rules_and_time_zone_apply_from_its_next_purchase,
    |app| {
        // What a purchase reads about its shop (rate, rules, time zone) is read once per
        // group in one query; each change must still reach the very next purchase.
        let owner = app.signup("kafe").await;
        let m = owner.member("0812345678").await;
        // Two days ago, 16:30 UTC: 23:30 in Bangkok (the shop's zone), 16:30 in London.
        let day = jiff::Timestamp::now()
            .checked_sub(jiff::SignedDuration::from_hours(48))
            .unwrap()
            .to_zoned(jiff::tz::TimeZone::UTC)
            .date();
        let at = |h: i8, min: i8| {
            day.at(h, min, 0, 0)
                .to_zoned(jiff::tz::TimeZone::UTC)
                .unwrap()
                .timestamp()
                .to_string()
        };
        let buy = |receipt: &str, at: String| json!({"member_id": m, "amount_satang": 10_000, "receipt": receipt, "occurred_at": at});
        let points = |res: crate::helpers::Resp| {
            assert_eq!(res.status, 201, "{}", res.body);
            res.body["points"].as_i64().unwrap()
        };
        // The default rate: 25 baht a point, so 100 baht earns 4.
        assert_eq!(
            points(owner.post("/api/v1/purchases", buy("R1", at(16, 30))).await),
            4
        );
        owner
            .set_ledger(crate::helpers::ledger_settings(json!({"earn": {"spend_satang": 1_000, "points": 1, "rounding": "floor", "min_spend_satang": 0}})))
            .await;
        assert_eq!(
            points(owner.post("/api/v1/purchases", buy("R2", at(16, 40))).await),
            10
        );
        let rules = owner
            .put("/api/v1/rules/earning", json!({"cap_per_day": 15}))
            .await;
        assert_eq!(rules.status, 200, "{}", rules.body);
        // 14 earned on the Bangkok day so far: the cap leaves 1.
        assert_eq!(
            points(owner.post("/api/v1/purchases", buy("R3", at(16, 50))).await),
            1
        );
        // 17:10 UTC is past midnight in Bangkok: a new day.
        assert_eq!(
            points(owner.post("/api/v1/purchases", buy("R4", at(17, 10))).await),
            10
        );
        let tz = owner
            .patch("/api/v1/tenant", json!({"time_zone": "Europe/London"}))
            .await;
        assert_eq!(tz.status, 200, "{}", tz.body);
        // In London all four fell on one day (25 points): nothing more today.
        assert_eq!(
            points(owner.post("/api/v1/purchases", buy("R5", at(17, 20))).await),
            0
        );
    }
);

db_test!(a_line_refund_takes_back_what_that_line_earned, |app| {
    let owner = app.signup("kafe").await;
    owner
            .set_ledger(crate::helpers::ledger_settings(json!({"earn": {"spend_satang": 1_000, "points": 1, "rounding": "floor", "min_spend_satang": 0}})))
            .await;
    let rules = json!({
        "multipliers": [{"name": "double coffee", "percent": 200, "when": {"type": "items", "categories": ["coffee"]}}],
        "stamps": [{"name": "coffee card", "categories": ["coffee"], "stamps_per_item": 1}]
    });
    assert_eq!(owner.put("/api/v1/rules/earning", rules).await.status, 200);
    let m = owner.member("0812345678").await;
    // 600 THB of coffee at double points, a 400 THB pastry: 160 points.
    let bill = json!({
        "member_id": m, "amount_satang": 100_000, "receipt": "R1",
        "items": [{"sku": "LATTE", "name": "ลาเต้", "category": "coffee", "quantity": 4, "unit_price_satang": 15_000},
                  {"sku": "PASTRY", "name": "Pastry", "category": "bakery", "quantity": 2, "unit_price_satang": 20_000}]
    });
    let res = owner.post("/api/v1/purchases", bill).await;
    assert_eq!(res.status, 201, "{}", res.body);
    assert_eq!(res.body["points"], 160);
    let earned: Vec<_> = res.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["points"].as_i64(), l["stamps"].as_i64()))
        .collect();
    assert_eq!(earned, [(Some(120), Some(4)), (Some(40), Some(0))]);
    let refund = |id: &str, lines: serde_json::Value| json!({"receipt": "R1", "refund_id": id, "lines": lines});
    // The pastry back: its own 40 points, not 40% of the bill's 160.
    let res = owner
        .post(
            "/api/v1/purchases/refunds",
            refund("pastry", json!([{"line": 1, "quantity": 2}])),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.body);
    assert_eq!(
        (
            res.body["points"].as_i64(),
            res.body["stamps"].as_i64(),
            res.body["amount_satang"].as_i64()
        ),
        (Some(-40), Some(0), Some(40_000))
    );
    // A retry changes nothing and answers the same.
    let again = owner
        .post(
            "/api/v1/purchases/refunds",
            refund("pastry", json!([{"line": 1, "quantity": 2}])),
        )
        .await;
    assert_eq!(
        (again.status, again.body["points"].as_i64()),
        (200, Some(-40))
    );
    // Nothing left of that line; a line the bill does not have is named.
    let res = owner
        .post(
            "/api/v1/purchases/refunds",
            refund("more", json!([{"line": 1, "quantity": 1}])),
        )
        .await;
    assert_eq!((res.status, res.field()), (422, "lines[0].quantity"));
    let res = owner
        .post(
            "/api/v1/purchases/refunds",
            refund("nine", json!([{"line": 9, "quantity": 1}])),
        )
        .await;
    assert_eq!(res.field(), "lines[0].line");
    // One coffee of four: a quarter of the coffee's points and stamps.
    let res = owner
        .post(
            "/api/v1/purchases/refunds",
            refund("one-latte", json!([{"line": 0, "quantity": 1}])),
        )
        .await;
    assert_eq!(
        (res.body["points"].as_i64(), res.body["stamps"].as_i64()),
        (Some(-30), Some(-1)),
        "{}",
        res.body
    );
    let recorded = owner.get("/api/v1/purchases/R1").await.body;
    let refunded: Vec<_> = recorded["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["refunded_quantity"].as_i64())
        .collect();
    assert_eq!(refunded, [Some(1), Some(2)]);
    assert_eq!(recorded["points_refunded"], 70);
    // The rest of the bill by amount: everything left comes back, exactly.
    let res = owner
        .post(
            "/api/v1/purchases/refunds",
            json!({"receipt": "R1", "refund_id": "rest"}),
        )
        .await;
    assert_eq!(
        (res.body["points"].as_i64(), res.body["stamps"].as_i64()),
        (Some(-90), Some(-3)),
        "{}",
        res.body
    );
    let points = owner.get(&format!("/api/v1/members/{m}/points")).await.body;
    assert_eq!(points["points"]["balance"], 0);
    assert_eq!(points["stamps"]["balance"], 0);
    // A bill recorded without lines is refunded by amount only.
    owner
        .post(
            "/api/v1/purchases",
            json!({"member_id": m, "amount_satang": 10_000, "receipt": "R2"}),
        )
        .await;
    let res = owner
        .post(
            "/api/v1/purchases/refunds",
            json!({"receipt": "R2", "refund_id": "x", "lines": [{"line": 0, "quantity": 1}]}),
        )
        .await;
    assert_eq!((res.status, res.field()), (422, "lines"));
    app.assert_no_drift().await;
});
