//! The shop at a glance: the admin home's figures (members, activity, this month's
//! points, the liability in points and baht, redemptions, today's purchases per branch)
//! and the points ledger month by month, through the API and on the page.

use serde_json::json;

use crate::db_test;
use crate::helpers::ledger_settings;

db_test!(
    the_overview_counts_members_activity_points_and_todays_counter_per_branch,
    |app| {
        let owner = app.signup("kafe").await;
        owner
            .set_ledger(ledger_settings(json!({"point_value_satang": 50})))
            .await;
        let (siam, nimman) = (owner.branch("SIAM").await, owner.branch("NIMMAN").await);
        let first = owner.member("0812345671").await;
        let second = owner.member("0812345672").await;
        let _quiet = owner.member("0812345673").await;
        // 1 point per 25 THB: 4, 10 and 2 points.
        for res in [
            owner.purchase_at_branch(first, 10_000, "S-1", siam).await,
            owner
                .purchase_at_branch(second, 25_000, "N-1", nimman)
                .await,
            owner.purchase(first, 5_000, "NO-BRANCH").await,
        ] {
            assert_eq!(res.status, 201, "{}", res.body);
        }
        let res = owner
            .put("/api/v1/spend-settings", json!({"require_otp": false}))
            .await;
        assert_eq!(res.status, 200, "{}", res.body);
        let reward = owner
            .post(
                "/api/v1/rewards",
                json!({"kind": "coupon", "category": "drinks", "name": "ลาเต้ฟรี", "points_cost": 3}),
            )
            .await;
        assert_eq!(reward.status, 201, "{}", reward.body);
        let res = owner
            .post(
                &format!("/api/v1/rewards/{}/redeem", reward.body["id"]),
                json!({"member_id": second}),
            )
            .await;
        assert_eq!(res.status, 201, "{}", res.body);

        let o = owner.get("/api/v1/reports/overview").await;
        assert_eq!(o.status, 200, "{}", o.body);
        let o = o.body;
        assert_eq!(o["members"], 3);
        assert_eq!(o["new_members_this_month"], 3);
        assert_eq!(
            o["active_members_30_days"], 2,
            "the quiet member did nothing"
        );
        assert_eq!(
            (
                &o["points"]["issued"],
                &o["points"]["redeemed"],
                &o["points"]["expired"],
                &o["points"]["outstanding"]
            ),
            (&json!(16), &json!(3), &json!(0), &json!(13))
        );
        assert_eq!(o["liability_satang"], 13 * 50, "13 points at 50 satang");
        assert_eq!(o["redemptions_this_month"], 1);
        let today: Vec<_> = o["today"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| {
                (
                    b["branch_name"].as_str().map(str::to_string),
                    b["purchases"].as_i64().unwrap(),
                    b["sales_satang"].as_i64().unwrap(),
                    b["points"].as_i64().unwrap(),
                )
            })
            .collect();
        // Branches by id (SIAM was opened first), the purchases that named none last.
        assert_eq!(
            today,
            vec![
                (Some("Branch SIAM".to_string()), 1, 10_000, 4),
                (Some("Branch NIMMAN".to_string()), 1, 25_000, 10),
                (None, 1, 5_000, 2),
            ]
        );

        // Without a point's value, the liability is in points only.
        owner.set_ledger(ledger_settings(json!({}))).await;
        let o = owner.get("/api/v1/reports/overview").await.body;
        assert_eq!(o["liability_satang"], serde_json::Value::Null);
        assert_eq!(o["point_value_satang"], 0);

        // A point's value is refused outside 0..=1,000 THB, naming the field.
        let res = owner
            .put(
                "/api/v1/ledger/settings",
                ledger_settings(json!({"point_value_satang": -1})),
            )
            .await;
        assert_eq!(
            (res.status, res.field()),
            (422, "point_value_satang"),
            "{}",
            res.body
        );

        // Reports are for those who may read them: not a cashier.
        let cashier = app.hire(&owner, "kafe", "cashier").await;
        assert_eq!(cashier.get("/api/v1/reports/overview").await.status, 403);
        let analyst = app.hire(&owner, "kafe", "analyst").await;
        assert_eq!(analyst.get("/api/v1/reports/overview").await.status, 200);
    }
);

db_test!(
    the_points_ledger_by_month_chains_each_month_to_the_one_before,
    |app| {
        let owner = app.signup("kafe").await;
        owner
            .set_ledger(ledger_settings(json!({"point_value_satang": 25})))
            .await;
        let m = owner.member("0812345678").await;
        // Recorded now: this month's figures (a movement counts when it is recorded).
        assert_eq!(owner.purchase(m, 100_000, "R-1").await.status, 201);
        assert_eq!(owner.redeem(m, 15).await.status, 201);

        let res = owner.get("/api/v1/reports/points-by-month?months=3").await;
        assert_eq!(res.status, 200, "{}", res.body);
        let months = res.body.as_array().unwrap().clone();
        assert_eq!(months.len(), 3);
        for pair in months.windows(2) {
            assert_eq!(
                pair[1]["points"]["opening"], pair[0]["points"]["outstanding"],
                "each month opens where the one before closed"
            );
            assert!(pair[0]["month"].as_str() < pair[1]["month"].as_str());
        }
        let now = &months[2];
        assert_eq!(
            (
                &now["points"]["issued"],
                &now["points"]["redeemed"],
                &now["points"]["outstanding"]
            ),
            (&json!(40), &json!(15), &json!(25))
        );
        assert_eq!(now["liability_satang"], 25 * 25);
        assert_eq!(months[0]["points"]["outstanding"], 0);

        for bad in ["months=0", "months=37", "months=x"] {
            let res = owner
                .get(&format!("/api/v1/reports/points-by-month?{bad}"))
                .await;
            assert_eq!(
                (res.status, res.field()),
                (400, "months"),
                "{bad}: {}",
                res.body
            );
        }
    }
);

db_test!(
    this_months_points_by_branch_add_up_to_the_months_figures,
    |app| {
        let owner = app.signup("kafe").await;
        let siam = owner.branch("SIAM").await;
        let nimman = owner.branch("NIMMAN").await;
        let m = owner.member("0812345678").await;
        for (satang, receipt, branch) in [
            (100_000, "S1", siam),
            (50_000, "N1", nimman),
            (25_000, "S2", siam),
        ] {
            let res = owner.purchase_at_branch(m, satang, receipt, branch).await;
            assert_eq!(res.status, 201, "{}", res.body);
        }
        let bonus = owner
            .post(
                &format!("/api/v1/members/{m}/points/adjust"),
                json!({"points": 7, "reason": "sorry"}),
            )
            .await;
        assert_eq!(bonus.status, 201);
        let page = owner.get("/admin/points?lang=en").await;
        assert_eq!(page.status, 200);
        let csv = owner
            .get("/admin/points?format=csv&by=branch&lang=en")
            .await;
        assert_eq!(csv.status, 200);
        let rows: Vec<Vec<String>> =
            csv::Reader::from_reader(csv.text.trim_start_matches('\u{feff}').as_bytes())
                .records()
                .map(|r| r.unwrap().iter().map(String::from).collect())
                .collect();
        // 1,250 THB at Siam earns 40 + 10, 500 THB at Nimman 20; the adjustment has none.
        assert_eq!(
            rows,
            vec![
                vec![
                    "Branch SIAM".to_string(),
                    "50".into(),
                    "0".into(),
                    "0".into()
                ],
                vec![
                    "Branch NIMMAN".to_string(),
                    "20".into(),
                    "0".into(),
                    "0".into()
                ],
                vec![
                    "No branch (bonuses, adjustments, expiry)".to_string(),
                    "7".into(),
                    "0".into(),
                    "0".into()
                ],
            ]
        );
        let month = owner.get("/api/v1/reports/points-by-month?months=1").await;
        let issued: i64 = rows.iter().map(|r| r[1].parse::<i64>().unwrap()).sum();
        assert_eq!(month.body[0]["points"]["issued"], issued, "{}", month.body);
        assert!(page.text.contains("points-by-branch") && page.text.contains("Branch NIMMAN"));
    }
);
