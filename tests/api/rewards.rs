//! Rewards: redeeming with a one-time code, coupons used once at the counter, cancels
//! and expiry refunded through the ledger, shipped rewards through fulfilment, digital
//! code pools, tier prices and restrictions, limits, and 100 parallel redemptions that
//! neither oversell stock nor overdraw points.

use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{TestApp, User};
use loyal::on_db;

pub(crate) async fn reward(owner: &User, spec: Value) -> i64 {
    let res = owner.post("/api/v1/rewards", spec).await;
    assert_eq!(res.status, 201, "{}", res.body);
    res.body["id"].as_i64().unwrap()
}

fn coupon(cost: i64) -> Value {
    json!({"kind": "coupon", "category": "drinks", "name": "ลาเต้ฟรี", "name_en": "Free latte", "points_cost": cost})
}

pub(crate) async fn give(owner: &User, m: i64, points: i64) {
    let res = owner
        .post(
            &format!("/api/v1/members/{m}/points/adjust"),
            json!({"points": points, "reason": "test"}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.body);
}

async fn no_otp(owner: &User) {
    let res = owner
        .put("/api/v1/spend-settings", json!({"require_otp": false}))
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
}

/// Send a code to the member and read it from the developer mailbox.
pub(crate) async fn otp(owner: &User, m: i64) -> (i64, String) {
    let sent = owner
        .post(&format!("/api/v1/members/{m}/otp"), json!({}))
        .await;
    assert_eq!(sent.status, 201, "{}", sent.body);
    let code = otp_in_mailbox(owner).await;
    (sent.body["challenge_id"].as_i64().unwrap(), code)
}

/// The newest one-time code in the developer mailbox.
pub(crate) async fn otp_in_mailbox(owner: &User) -> String {
    let mailbox = owner.get("/api/v1/dev/mailbox").await;
    let body = mailbox.body["messages"][0]["body"]
        .as_str()
        .unwrap()
        .to_string();
    body.split_whitespace()
        .find(|w| w.len() == 6 && w.bytes().all(|b| b.is_ascii_digit()))
        .unwrap()
        .to_string()
}

async fn sql(app: &TestApp, q: &str) {
    on_db!(&app.db, pool => sqlx::query(q).execute(pool).await.map(|r| r.rows_affected())).unwrap();
}

db_test!(
    a_coupon_is_redeemed_with_the_members_code_and_used_once_at_the_counter,
    |app| {
        let owner = app.signup("kafe").await;
        let siam = owner.branch("SIAM").await;
        let cashier = app.hire(&owner, "kafe", "cashier").await;
        let m = owner.member("0812345678").await;
        give(&owner, m, 100).await;
        let r = reward(&owner, json!({"kind": "coupon", "category": "drinks", "name": "ลาเต้ฟรี", "points_cost": 60, "stock": 5})).await;
        let redeem = |body: Value| {
            let cashier = &cashier;
            async move {
                cashier
                    .post(&format!("/api/v1/rewards/{r}/redeem"), body)
                    .await
            }
        };

        let res = redeem(json!({"member_id": m})).await;
        assert_eq!(
            (res.status, res.code(), res.field()),
            (422, "otp_required", "otp")
        );
        let (challenge, code) = otp(&owner, m).await;
        let wrong = if code == "000000" { "111111" } else { "000000" };
        let res =
            redeem(json!({"member_id": m, "otp": {"challenge_id": challenge, "code": wrong}}))
                .await;
        assert_eq!(
            (res.status, res.code(), res.field()),
            (422, "otp_invalid", "otp.code")
        );
        assert_eq!(
            owner.points(m).await["balance"],
            100,
            "a refused redemption writes nothing"
        );

        let res =
            redeem(json!({"member_id": m, "otp": {"challenge_id": challenge, "code": code}})).await;
        assert_eq!(res.status, 201, "{}", res.body);
        let redemption = res.body["redemption"].clone();
        assert_eq!(
            (redemption["status"].as_str(), res.body["balance"].as_i64()),
            (Some("issued"), Some(40))
        );
        assert_eq!(
            owner.get(&format!("/api/v1/rewards/{r}")).await.body["stock"],
            4
        );
        let coupon_code = redemption["coupon_code"].as_str().unwrap().to_string();
        // The same one-time code cannot authorise a second spend.
        give(&owner, m, 100).await;
        let res =
            redeem(json!({"member_id": m, "otp": {"challenge_id": challenge, "code": code}})).await;
        assert_eq!((res.status, res.code()), (422, "otp_expired"));

        // The counter types it in lower case with a dash: still found.
        let typed = format!("{}-{}", &coupon_code[..4], &coupon_code[4..]).to_lowercase();
        let check = cashier
            .post("/api/v1/coupons/check", json!({"code": typed}))
            .await;
        assert_eq!(check.status, 200, "{}", check.body);
        assert_eq!(
            (
                check.body["usable"].as_bool(),
                check.body["member_name"].as_str()
            ),
            (Some(true), Some("Mali"))
        );
        let qr = owner
            .get(&format!("/api/v1/redemptions/{}/qr.svg", redemption["id"]))
            .await;
        assert!(
            qr.status == 200
                && qr.header("content-type") == "image/svg+xml"
                && qr.text.contains("<svg")
        );

        let used = cashier
            .post(
                "/api/v1/coupons/use",
                json!({"code": typed, "branch_id": siam}),
            )
            .await;
        assert_eq!(
            (used.status, used.body["status"].as_str()),
            (200, Some("used")),
            "{}",
            used.body
        );
        let again = owner
            .post(
                "/api/v1/coupons/use",
                json!({"code": coupon_code, "branch_id": siam}),
            )
            .await;
        assert_eq!((again.status, again.code()), (409, "coupon_already_used"));
        let msg = again.body["detail"].as_str().unwrap_or_default();
        let by = cashier.me["email"].as_str().unwrap();
        assert!(
            msg.contains("at Branch SIAM") && msg.contains(by),
            "says where and by whom: {msg}"
        );

        // Another shop cannot find, check or use it.
        let other = app.signup("other").await;
        let other_branch = other.branch("X").await;
        let res = other
            .post(
                "/api/v1/coupons/use",
                json!({"code": coupon_code, "branch_id": other_branch}),
            )
            .await;
        assert_eq!((res.status, res.code()), (404, "not_found"));
        assert_eq!(
            other
                .post("/api/v1/coupons/check", json!({"code": coupon_code}))
                .await
                .status,
            404
        );
    }
);

db_test!(
    cancelling_or_expiring_a_coupon_refunds_its_points_through_the_ledger,
    |app| {
        let owner = app.signup("kafe").await;
        no_otp(&owner).await;
        let m = owner.member("0812345678").await;
        give(&owner, m, 100).await;
        let r = reward(&owner, json!({"kind": "voucher", "category": "cash", "name": "ส่วนลด 50 บาท", "points_cost": 30, "stock": 3, "value_satang": 5000})).await;
        let first = owner
            .post(
                &format!("/api/v1/rewards/{r}/redeem"),
                json!({"member_id": m}),
            )
            .await;
        assert_eq!(first.body["redemption"]["value_satang"], 5000);
        let id = first.body["redemption"]["id"].as_i64().unwrap();
        let txn = first.body["redemption"]["txn_id"].as_i64().unwrap();
        // The plain ledger cancel refuses: the reward's own route also returns the stock.
        let res = owner
            .post(
                &format!("/api/v1/ledger/redemptions/{txn}/cancel"),
                json!({}),
            )
            .await;
        assert_eq!((res.status, res.code()), (409, "wrong_state"));
        let res = owner
            .post(&format!("/api/v1/redemptions/{id}/cancel"), json!({}))
            .await;
        assert_eq!(
            (res.status, res.body["status"].as_str()),
            (200, Some("cancelled")),
            "{}",
            res.body
        );
        assert_eq!(owner.points(m).await["balance"], 100);
        assert_eq!(
            owner.get(&format!("/api/v1/rewards/{r}")).await.body["stock"],
            3
        );
        let res = owner
            .post(&format!("/api/v1/redemptions/{id}/cancel"), json!({}))
            .await;
        assert_eq!(
            (res.status, res.code()),
            (409, "wrong_state"),
            "no second refund"
        );

        // Unused past its date: expired and refunded by the job, once.
        let second = owner
            .post(
                &format!("/api/v1/rewards/{r}/redeem"),
                json!({"member_id": m}),
            )
            .await;
        let id = second.body["redemption"]["id"].as_i64().unwrap();
        assert_eq!(owner.points(m).await["balance"], 70);
        sql(
            &app,
            &format!("UPDATE redemptions SET expires_at = 1 WHERE id = {id}"),
        )
        .await;
        let code = second.body["redemption"]["coupon_code"].as_str().unwrap();
        let branch = owner.branch("SIAM").await;
        let late = owner
            .post(
                "/api/v1/coupons/use",
                json!({"code": code, "branch_id": branch}),
            )
            .await;
        assert_eq!(
            (late.status, late.code()),
            (409, "coupon_not_usable"),
            "{}",
            late.body
        );
        let now = loyal::store::now_micros();
        assert_eq!(
            loyal::rewards::run_coupon_expiry(&app.db, now)
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            loyal::rewards::run_coupon_expiry(&app.db, now)
                .await
                .unwrap(),
            0
        );
        assert_eq!(owner.points(m).await["balance"], 100);
        assert_eq!(
            owner.get(&format!("/api/v1/redemptions/{id}")).await.body["status"],
            "expired"
        );
        app.assert_no_drift().await;
    }
);

db_test!(
    shipped_rewards_move_through_fulfilment_and_can_be_cancelled_until_shipped,
    |app| {
        let owner = app.signup("kafe").await;
        no_otp(&owner).await;
        let packer = app.hire(&owner, "kafe", "fulfilment").await;
        let m = owner.member("0812345678").await;
        give(&owner, m, 1000).await;
        let r = reward(&owner, json!({"kind": "shipped", "category": "premium", "name": "แก้วเก็บความเย็น", "points_cost": 300})).await;
        let url = format!("/api/v1/rewards/{r}/redeem");
        let res = owner.post(&url, json!({"member_id": m})).await;
        assert_eq!(
            (res.status, res.code(), res.field()),
            (422, "missing_field", "shipping")
        );
        let mut address = json!({"recipient": "มาลี ใจดี", "phone": "0812345678", "line1": "99/1 ถ.สุขุมวิท", "district": "วัฒนา", "province": "กรุงเทพฯ", "postcode": "1011"});
        let res = owner
            .post(&url, json!({"member_id": m, "shipping": address}))
            .await;
        assert_eq!((res.status, res.field()), (422, "shipping.postcode"));
        address["postcode"] = json!("10110");
        let res = owner
            .post(&url, json!({"member_id": m, "shipping": address}))
            .await;
        assert_eq!(res.status, 201, "{}", res.body);
        let id = res.body["redemption"]["id"].as_i64().unwrap();
        assert_eq!(res.body["redemption"]["status"], "pending");

        let queue = packer
            .all("/api/v1/redemptions?kind=shipped&status=pending")
            .await;
        assert_eq!(queue.len(), 1);
        assert_eq!(queue[0]["shipping"]["phone"], "+66812345678");
        // The member filter, alone and with the others.
        let listed = |query: String| {
            let packer = &packer;
            async move {
                packer
                    .all(&format!("/api/v1/redemptions?{query}"))
                    .await
                    .len()
            }
        };
        assert_eq!(
            listed(format!("member_id={m}&kind=shipped&status=pending")).await,
            1
        );
        assert_eq!(listed(format!("member_id={}", m + 1)).await, 0);
        assert_eq!(listed(format!("member_id={m}&status=shipped")).await, 0);
        let step = |body: Value| {
            let packer = &packer;
            async move {
                packer
                    .post(&format!("/api/v1/redemptions/{id}/shipping"), body)
                    .await
            }
        };
        assert_eq!(
            step(json!({"status": "delivered"})).await.code(),
            "wrong_state"
        );
        assert_eq!(
            step(json!({"status": "packed"})).await.body["status"],
            "packed"
        );
        assert_eq!(
            step(json!({"status": "shipped", "carrier": "Kerry"}))
                .await
                .field(),
            "tracking_number"
        );
        let shipped =
            step(json!({"status": "shipped", "carrier": "Kerry", "tracking_number": "KEX123"}))
                .await;
        assert_eq!(
            (
                shipped.body["status"].as_str(),
                shipped.body["tracking"].as_str()
            ),
            (Some("shipped"), Some("KEX123"))
        );
        let res = packer
            .post(&format!("/api/v1/redemptions/{id}/cancel"), json!({}))
            .await;
        assert_eq!(
            (res.status, res.code()),
            (409, "wrong_state"),
            "a shipped parcel is not cancelled"
        );
        assert_eq!(
            step(json!({"status": "delivered"})).await.body["status"],
            "delivered"
        );

        // A second order, cancelled by fulfilment before shipping: points back.
        let res = owner
            .post(&url, json!({"member_id": m, "shipping": address}))
            .await;
        let id2 = res.body["redemption"]["id"].as_i64().unwrap();
        assert_eq!(owner.points(m).await["balance"], 400);
        let res = packer
            .post(&format!("/api/v1/redemptions/{id2}/cancel"), json!({}))
            .await;
        assert_eq!(res.body["status"], "cancelled");
        assert_eq!(owner.points(m).await["balance"], 700);
        // Fulfilment staff cannot redeem or change the catalog.
        assert_eq!(
            packer
                .post(&url, json!({"member_id": m, "shipping": address}))
                .await
                .status,
            403
        );
    }
);

db_test!(
    digital_codes_are_handed_out_from_the_pool_in_upload_order,
    |app| {
        let owner = app.signup("kafe").await;
        no_otp(&owner).await;
        let m = owner.member("0812345678").await;
        give(&owner, m, 100).await;
        let r = reward(&owner, json!({"kind": "digital_code", "category": "partners", "name": "Grab 50", "points_cost": 10})).await;
        let up = owner
            .post(
                &format!("/api/v1/rewards/{r}/codes"),
                json!({"codes": ["GRAB-1", "GRAB-2", "GRAB-1"]}),
            )
            .await;
        assert_eq!(
            (
                up.body["added"].as_i64(),
                up.body["duplicates"].as_i64(),
                up.body["available"].as_i64()
            ),
            (Some(2), Some(1), Some(2))
        );
        let url = format!("/api/v1/rewards/{r}/redeem");
        let a = owner.post(&url, json!({"member_id": m})).await;
        let b = owner.post(&url, json!({"member_id": m})).await;
        assert_eq!(
            (
                a.body["redemption"]["digital_code"].as_str(),
                b.body["redemption"]["digital_code"].as_str()
            ),
            (Some("GRAB-1"), Some("GRAB-2"))
        );
        let c = owner.post(&url, json!({"member_id": m})).await;
        assert_eq!((c.status, c.code()), (409, "out_of_stock"));
        assert_eq!(
            owner.points(m).await["balance"],
            80,
            "the refused one took nothing"
        );
        let res = owner
            .post(
                &format!("/api/v1/redemptions/{}/cancel", a.body["redemption"]["id"]),
                json!({}),
            )
            .await;
        assert_eq!(
            res.code(),
            "wrong_state",
            "a revealed code is not taken back"
        );
    }
);

db_test!(
    tier_prices_restrictions_limits_and_windows_are_enforced_with_nothing_written,
    |app| {
        let owner = app.signup("kafe").await;
        no_otp(&owner).await;
        owner
            .put(
                "/api/v1/tiers",
                json!({"enabled": true, "levels": [
        {"code": "member", "name": "Member", "threshold": 0},
        {"code": "gold", "name": "Gold", "threshold": 40}]}),
            )
            .await;
        let m = owner.member("0812345678").await;
        give(&owner, m, 500).await;
        let gold_only = reward(&owner, json!({"kind": "coupon", "category": "vip", "name": "Gold lounge", "points_cost": 100, "tiers": ["gold"], "tier_prices": {"gold": 70}})).await;
        let redeem = |r: i64| {
            let owner = &owner;
            async move {
                owner
                    .post(
                        &format!("/api/v1/rewards/{r}/redeem"),
                        json!({"member_id": m}),
                    )
                    .await
            }
        };
        let res = redeem(gold_only).await;
        assert_eq!((res.status, res.code()), (403, "tier_restricted"));
        owner.purchase(m, 100_000, "R1").await; // 40 points: Gold
        let res = redeem(gold_only).await;
        assert_eq!(
            (res.status, res.body["points"].as_i64()),
            (201, Some(70)),
            "Gold's price: {}",
            res.body
        );

        let hidden = reward(&owner, json!({"kind": "coupon", "category": "x", "name": "Hidden", "points_cost": 1, "visible": false})).await;
        assert_eq!(redeem(hidden).await.code(), "reward_unavailable");
        let past = reward(&owner, json!({"kind": "coupon", "category": "x", "name": "Old", "points_cost": 1, "valid_from": "2020-01-01T00:00:00Z", "valid_until": "2020-02-01T00:00:00Z"})).await;
        assert_eq!(redeem(past).await.code(), "reward_unavailable");
        let once = reward(&owner, json!({"kind": "coupon", "category": "x", "name": "Once", "points_cost": 1, "per_member_limit": 1})).await;
        assert_eq!(redeem(once).await.status, 201);
        assert_eq!(redeem(once).await.code(), "limit_reached");
        let daily = reward(&owner, json!({"kind": "coupon", "category": "x", "name": "Daily", "points_cost": 1, "period_limit": {"count": 2, "per": "day"}})).await;
        assert_eq!(redeem(daily).await.status, 201);
        assert_eq!(redeem(daily).await.status, 201);
        assert_eq!(redeem(daily).await.code(), "limit_reached");
        let pricey = reward(&owner, coupon(10_000)).await;
        let res = redeem(pricey).await;
        assert_eq!((res.status, res.code()), (422, "insufficient_points"));
        let dry = owner
            .post(
                &format!("/api/v1/rewards/{once}/redeem"),
                json!({"member_id": m, "dry_run": true}),
            )
            .await;
        assert_eq!(
            dry.code(),
            "limit_reached",
            "a dry run checks the same rules"
        );
        // 500 + 40 - 70 - 1 - 2 = 467, whatever was refused.
        assert_eq!(owner.points(m).await["balance"], 467);
        let catalog = owner.get(&format!("/api/v1/members/{m}/rewards")).await;
        let find = |id: i64| {
            catalog
                .body
                .as_array()
                .unwrap()
                .iter()
                .find(|x| x["reward"]["id"] == id)
                .cloned()
                .unwrap()
        };
        assert_eq!(
            (
                find(gold_only)["price"].as_i64(),
                find(gold_only)["redeemable"].as_bool()
            ),
            (Some(70), Some(true))
        );
        assert_eq!(find(pricey)["redeemable"], false);
        assert!(
            catalog
                .body
                .as_array()
                .unwrap()
                .iter()
                .all(|x| x["reward"]["id"] != hidden),
            "hidden rewards are not listed"
        );

        let bad = owner.post("/api/v1/rewards", json!({"kind": "coupon", "category": "x", "name": "T", "points_cost": 1, "tiers": ["platinum"]})).await;
        assert_eq!((bad.status, bad.field()), (422, "tiers[0]"));
        let bad = owner
            .post(
                "/api/v1/rewards",
                json!({"kind": "voucher", "category": "x", "name": "V", "points_cost": 1}),
            )
            .await;
        assert_eq!(bad.field(), "value_satang");
        let bad = owner
            .post(
                "/api/v1/rewards",
                json!({"kind": "coupon", "category": "x", "name": "N", "points_cost": -1}),
            )
            .await;
        assert_eq!(bad.field(), "points_cost");
    }
);

db_test!(
    a_hundred_parallel_redemptions_neither_oversell_stock_nor_overdraw_points,
    |app| {
        let owner = app.signup("kafe").await;
        no_otp(&owner).await;
        // Stock for 10, and 100 members who can each afford it.
        let scarce = reward(&owner, json!({"kind": "coupon", "category": "x", "name": "Scarce", "points_cost": 5, "stock": 10})).await;
        let mut members = vec![];
        for i in 0..100 {
            let m = owner.member(&format!("08{:08}", 10_000_000 + i)).await;
            give(&owner, m, 5).await;
            members.push(m);
        }
        let tasks: Vec<_> = members
            .iter()
            .map(|m| {
                let owner = owner.clone();
                let m = *m;
                tokio::spawn(async move {
                    owner
                        .post(
                            &format!("/api/v1/rewards/{scarce}/redeem"),
                            json!({"member_id": m}),
                        )
                        .await
                })
            })
            .collect();
        let mut statuses = vec![];
        for t in tasks {
            let res = t.await.unwrap();
            statuses.push((res.status, res.code().to_string()));
        }
        assert_eq!(
            statuses.iter().filter(|s| s.0 == 201).count(),
            10,
            "{statuses:?}"
        );
        assert!(
            statuses.iter().all(|s| s.0 == 201 || s.1 == "out_of_stock"),
            "{statuses:?}"
        );
        let r = owner.get(&format!("/api/v1/rewards/{scarce}")).await;
        assert_eq!(
            (r.body["stock"].as_i64(), r.body["redeemed"].as_i64()),
            (Some(0), Some(10))
        );

        // One member whose balance covers exactly 10 redemptions of an unlimited reward.
        let plenty = reward(
            &owner,
            json!({"kind": "coupon", "category": "x", "name": "Plenty", "points_cost": 10}),
        )
        .await;
        let m = members[0];
        give(
            &owner,
            m,
            100 - owner.points(m).await["balance"].as_i64().unwrap(),
        )
        .await;
        let tasks: Vec<_> = (0..100)
            .map(|_| {
                let owner = owner.clone();
                tokio::spawn(async move {
                    owner
                        .post(
                            &format!("/api/v1/rewards/{plenty}/redeem"),
                            json!({"member_id": m}),
                        )
                        .await
                })
            })
            .collect();
        let mut ok = 0;
        for t in tasks {
            let res = t.await.unwrap();
            match res.status {
                201 => ok += 1,
                _ => assert_eq!(res.code(), "insufficient_points", "{}", res.body),
            }
        }
        assert_eq!(ok, 10);
        assert_eq!(owner.points(m).await["balance"], 0);
        app.assert_no_drift().await;
    }
);

db_test!(
    one_time_codes_expire_are_limited_per_phone_and_go_through_the_sms_gateway,
    |app| {
        let owner = app.signup("kafe").await;
        let m = owner.member("0812345678").await;
        give(&owner, m, 100).await;
        let r = reward(&owner, coupon(10)).await;
        let (challenge, code) = otp(&owner, m).await;
        let page = owner.get("/admin/mailbox").await;
        assert!(
            page.status == 200 && page.text.contains(&code),
            "the developer mailbox page shows the code"
        );
        let cashier = app.hire(&owner, "kafe", "cashier").await;
        assert_eq!(
            cashier.get("/admin/mailbox").await.status,
            403,
            "only shop managers read it"
        );
        sql(
            &app,
            &format!("UPDATE otp_challenges SET expires_at = 1 WHERE id = {challenge}"),
        )
        .await;
        let res = owner
            .post(
                &format!("/api/v1/rewards/{r}/redeem"),
                json!({"member_id": m, "otp": {"challenge_id": challenge, "code": code}}),
            )
            .await;
        assert_eq!(
            (res.status, res.code(), res.field()),
            (422, "otp_expired", "otp.challenge_id")
        );
        // Five wrong guesses use the code up, even if the sixth is right.
        let (challenge, code) = otp(&owner, m).await;
        let wrong = if code == "000000" { "111111" } else { "000000" };
        for _ in 0..5 {
            let res = owner
                .post(
                    &format!("/api/v1/rewards/{r}/redeem"),
                    json!({"member_id": m, "otp": {"challenge_id": challenge, "code": wrong}}),
                )
                .await;
            assert_eq!(res.code(), "otp_invalid");
        }
        let res = owner
            .post(
                &format!("/api/v1/rewards/{r}/redeem"),
                json!({"member_id": m, "otp": {"challenge_id": challenge, "code": code}}),
            )
            .await;
        assert_eq!(res.code(), "otp_expired");
        // Another member's code does not authorise this member.
        let other = owner.member("0899999999").await;
        let (theirs, their_code) = otp(&owner, other).await;
        let res = owner
            .post(
                &format!("/api/v1/rewards/{r}/redeem"),
                json!({"member_id": m, "otp": {"challenge_id": theirs, "code": their_code}}),
            )
            .await;
        assert_eq!(res.code(), "otp_expired");
        assert_eq!(owner.points(m).await["balance"], 100);
    }
);

/// A fake SMS gateway that records what it receives.
async fn fake_gateway() -> (
    String,
    std::sync::Arc<std::sync::Mutex<Vec<(String, Value)>>>,
) {
    use axum::routing::post;
    let seen: std::sync::Arc<std::sync::Mutex<Vec<(String, Value)>>> = Default::default();
    let log = seen.clone();
    let router = axum::Router::new().route(
        "/sms",
        post(
            move |headers: axum::http::HeaderMap, axum::Json(body): axum::Json<Value>| {
                let log = log.clone();
                async move {
                    let auth = headers
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_string();
                    log.lock().unwrap().push((auth, body));
                    "ok"
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/sms", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (url, seen)
}

mod codes_are_sent_through_the_http_gateway_and_limited_per_phone {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::codes_go_through_the_gateway(crate::helpers::Backend::Sqlite).await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::codes_go_through_the_gateway(crate::helpers::Backend::Postgres).await;
    }
}

/// The HTTP gateway adapter (bearer token, E.164) and the per-phone send limit.
async fn codes_go_through_the_gateway(backend: crate::helpers::Backend) {
    let (url, seen) = fake_gateway().await;
    let app = TestApp::spawn_with(backend, |s| {
        s.sms_gateway_url = url.clone();
        s.sms_gateway_token = "gw-secret".into();
        s.otp_sends_per_phone_per_hour = 2;
    })
    .await;
    let owner = app.signup("kafe").await;
    let m = owner.member("0812345678").await;
    let sent = owner
        .post(&format!("/api/v1/members/{m}/otp"), json!({}))
        .await;
    assert_eq!(sent.status, 201, "{}", sent.body);
    assert_eq!(sent.body["sent_to"], "+66*****5678");
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].0, "Bearer gw-secret");
        assert_eq!(seen[0].1["to"], "+66812345678");
        assert!(seen[0].1["text"].as_str().unwrap().contains("OTP"));
    }
    let mailbox = owner.get("/api/v1/dev/mailbox").await;
    assert_eq!(
        (
            mailbox.body["enabled"].as_bool(),
            mailbox.body["messages"].as_array().map(Vec::len)
        ),
        (Some(false), Some(0)),
        "with a gateway nothing is kept"
    );
    assert_eq!(
        owner
            .post(&format!("/api/v1/members/{m}/otp"), json!({}))
            .await
            .status,
        201
    );
    let third = owner
        .post(&format!("/api/v1/members/{m}/otp"), json!({}))
        .await;
    assert_eq!((third.status, third.code()), (429, "rate_limited"));
    assert!(!third.header("retry-after").is_empty());
    assert_eq!(seen.lock().unwrap().len(), 2);
}

db_test!(
    a_reward_priced_in_stamps_is_paid_and_given_back_in_stamps,
    |app| {
        let owner = app.signup("kafe").await;
        no_otp(&owner).await;
        let card =
            json!({"stamps": [{"name": "บัตรกาแฟ", "skus": ["LATTE"], "stamps_per_item": 1}]});
        assert_eq!(owner.put("/api/v1/rules/earning", card).await.status, 200);
        let m = owner.member("0812345678").await;
        let bill = json!({"member_id": m, "amount_satang": 26_000, "receipt": "R1",
            "items": [{"sku": "LATTE", "quantity": 4, "unit_price_satang": 6_500}]});
        assert_eq!(owner.post("/api/v1/purchases", bill).await.status, 201);
        let points_before = owner.points(m).await["balance"].clone();
        let free = reward(
            &owner,
            json!({"kind": "coupon", "category": "drinks", "name": "กาแฟฟรี", "points_cost": 3, "currency": "stamps"}),
        )
        .await;
        let catalog = owner
            .get(&format!("/api/v1/members/{m}/rewards"))
            .await
            .body;
        let listed = catalog
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["reward"]["id"] == free)
            .cloned()
            .unwrap();
        assert_eq!(listed["redeemable"], true, "4 stamps pay for 3: {listed}");
        let res = owner
            .post(
                &format!("/api/v1/rewards/{free}/redeem"),
                json!({"member_id": m}),
            )
            .await;
        assert_eq!(res.status, 201, "{}", res.body);
        let balances = owner.get(&format!("/api/v1/members/{m}/points")).await.body;
        assert_eq!(balances["stamps"]["balance"], 1);
        assert_eq!(
            balances["points"]["balance"], points_before,
            "points untouched"
        );
        let again = owner
            .post(
                &format!("/api/v1/rewards/{free}/redeem"),
                json!({"member_id": m}),
            )
            .await;
        assert_eq!(again.code(), "insufficient_points", "1 stamp cannot pay 3");
        let id = res.body["redemption"]["id"].as_i64().unwrap();
        let res = owner
            .post(&format!("/api/v1/redemptions/{id}/cancel"), json!({}))
            .await;
        assert_eq!(res.status, 200, "{}", res.body);
        let balances = owner.get(&format!("/api/v1/members/{m}/points")).await.body;
        assert_eq!(balances["stamps"]["balance"], 4, "the stamps come back");
        // Priced in stamps on the console's form too, and said so on the member page.
        use crate::page_access::{hidden, post_form};
        let page = owner.get("/admin/rewards?lang=th").await;
        let made = post_form(
            &owner,
            "/admin/rewards",
            &[
                ("_csrf", hidden(&page.text, "_csrf")),
                ("kind", "coupon".into()),
                ("name", "ครัวซองต์ฟรี".into()),
                ("category", "ขนม".into()),
                ("points_cost", "8".into()),
                ("currency", "stamps".into()),
            ],
        )
        .await;
        assert!(made.status < 400, "{}", made.text);
        let listed = owner.get("/api/v1/rewards").await.body;
        let croissant = listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == "ครัวซองต์ฟรี")
            .cloned()
            .unwrap_or_else(|| panic!("{listed}"));
        assert_eq!(croissant["currency"], "stamps", "{croissant}");
        let member = crate::page_access::member_signed_in(&app, &owner, "0812345678").await;
        let rewards_page = member.get("/m/kafe/rewards?lang=th").await;
        assert!(
            rewards_page.text.contains("8 แสตมป์"),
            "the member page prices it in stamps"
        );
        app.assert_no_drift().await;
    }
);
