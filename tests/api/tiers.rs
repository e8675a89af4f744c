//! Tiers: upgrade the moment a threshold is crossed, the level's multiplier on the next
//! bill, progress and what keeps the level, downgrades only at a review (by the shop's
//! rule), and reviews that change nothing when run again.

use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::User;
use loyal::on_db;

fn program(window: Value, downgrade: &str) -> Value {
    json!({
        "enabled": true, "metric": "points_earned", "window": window, "downgrade": downgrade,
        "levels": [
            {"code": "member", "name": "Member", "threshold": 0},
            {"code": "silver", "name": "Silver", "threshold": 20, "earn_percent": 150},
            {"code": "gold", "name": "Gold", "threshold": 100, "earn_percent": 200, "benefits": ["free upsize"]},
            {"code": "platinum", "name": "Platinum", "threshold": 1000, "earn_percent": 250},
            {"code": "diamond", "name": "Diamond", "threshold": 5000, "earn_percent": 300}
        ]
    })
}

async fn tier(owner: &User, m: i64) -> Value {
    let res = owner.get(&format!("/api/v1/members/{m}/tier")).await;
    assert_eq!(res.status, 200, "{}", res.body);
    res.body
}

/// Pretend the member's level came up for review at the start of this month (Bangkok),
/// measuring last month, in which they bought nothing.
async fn review_due_at_month_start(app: &crate::helpers::TestApp, m: i64) {
    let tz = jiff::tz::TimeZone::get("Asia/Bangkok").unwrap();
    let start = jiff::Timestamp::now()
        .to_zoned(tz.clone())
        .date()
        .first_of_month()
        .to_zoned(tz)
        .unwrap();
    let micros = start.timestamp().as_microsecond();
    on_db!(&app.db, pool => sqlx::query("UPDATE member_tiers SET review_at = $1 WHERE member_id = $2").bind(micros).bind(m).execute(pool).await.map(|r| r.rows_affected())).unwrap();
}

db_test!(
    a_threshold_crossed_upgrades_at_once_and_the_level_multiplies_the_next_bill,
    |app| {
        let owner = app.signup("kafe").await;
        let res = owner
            .put(
                "/api/v1/tiers",
                program(json!({"type": "calendar_year"}), "to_qualified"),
            )
            .await;
        assert_eq!(res.status, 200, "{}", res.body);
        let m = owner.member("0812345678").await;
        assert_eq!(tier(&owner, m).await["level"]["code"], "member");

        // 500 THB at 1 point per 25 THB = 20 points: Silver's threshold, crossed by this bill.
        let first = owner.purchase(m, 50_000, "R1").await;
        assert_eq!(first.status, 201, "{}", first.body);
        assert_eq!(
            first.body["points"], 20,
            "the level reached applies from the next bill"
        );
        assert_eq!(first.body["tier_change"]["to_level"], "silver");
        let second = owner.purchase(m, 50_000, "R2").await;
        assert_eq!(
            second.body["points"], 30,
            "Silver earns ×1.5: {}",
            second.body
        );
        assert!(
            second.body["rules"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["rule"] == "tier" && r["points"] == 10)
        );

        let t = tier(&owner, m).await;
        assert_eq!(t["level"]["code"], "silver");
        assert_eq!(t["value"], 50);
        assert_eq!(
            (t["next"]["code"].as_str(), t["next"]["remaining"].as_i64()),
            (Some("gold"), Some(50))
        );
        assert_eq!(t["keep"]["threshold"], 20);
        assert_eq!(t["keep"]["remaining"], 0);
        assert!(
            t["review_at"].as_str().unwrap().contains("-12-31T17:00:00"),
            "a calendar year ends at Bangkok midnight: {t}"
        );
        assert_eq!(t["history"][0]["reason"], "upgrade");

        // A dry run previews with the multiplier and changes nothing.
        let dry = owner
            .post(
                "/api/v1/purchases",
                json!({"member_id": m, "amount_satang": 50_000, "receipt": "R3", "dry_run": true}),
            )
            .await;
        assert_eq!(dry.body["points"], 30);
        assert_eq!(tier(&owner, m).await["value"], 50);

        // The 360 view shows the tier.
        let v = owner.get(&format!("/api/v1/members/{m}/360")).await;
        assert_eq!(v.body["tier"]["level"]["code"], "silver");

        // The shop's tier mix counts members per level.
        let mix = owner.get("/api/v1/tiers").await;
        let per: Vec<(String, i64)> = mix.body["members_per_level"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                (
                    l["code"].as_str().unwrap().to_string(),
                    l["members"].as_i64().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            &per[..2],
            &[("member".to_string(), 0), ("silver".to_string(), 1)]
        );
    }
);

db_test!(
    levels_go_down_only_at_a_review_by_the_shops_rule_and_a_review_runs_once,
    |app| {
        let owner = app.signup("kafe").await;
        owner
            .put(
                "/api/v1/tiers",
                program(json!({"type": "calendar_month"}), "to_qualified"),
            )
            .await;
        let silver = owner.member("0811111111").await;
        let gold = owner.member("0822222222").await;
        owner.purchase(silver, 50_000, "S1").await;
        owner.purchase(gold, 250_000, "G1").await;
        assert_eq!(tier(&owner, gold).await["level"]["code"], "gold");

        // Before the cycle ends, a review changes nothing.
        let run = owner.post("/api/v1/tiers/reviews", json!({})).await;
        assert_eq!(
            (run.status, run.body["reviewed"].as_i64()),
            (200, Some(0)),
            "{}",
            run.body
        );
        // A refund does not downgrade before the review either.
        owner
            .post(
                "/api/v1/purchases/refunds",
                json!({"receipt": "S1", "refund_id": "RF1"}),
            )
            .await;
        assert_eq!(tier(&owner, silver).await["level"]["code"], "silver");

        review_due_at_month_start(&app, silver).await;
        let run = owner.post("/api/v1/tiers/reviews", json!({})).await;
        assert_eq!(
            (
                run.body["reviewed"].as_i64(),
                run.body["downgraded"].as_i64()
            ),
            (Some(1), Some(1)),
            "{}",
            run.body
        );
        let t = tier(&owner, silver).await;
        assert_eq!(t["level"]["code"], "member");
        assert_eq!(
            (
                t["history"][0]["reason"].as_str(),
                t["history"][0]["from_level"].as_str()
            ),
            (Some("review"), Some("silver"))
        );
        assert_eq!(
            owner.post("/api/v1/tiers/reviews", json!({})).await.body["reviewed"],
            0,
            "a cycle is reviewed once"
        );

        // One step at a time: Gold comes down to Silver, not to Member.
        owner
            .put(
                "/api/v1/tiers",
                program(json!({"type": "calendar_month"}), "one_step"),
            )
            .await;
        review_due_at_month_start(&app, gold).await;
        loyal::tiers::run_reviews(&app.db, loyal::store::now_micros(), None)
            .await
            .unwrap();
        assert_eq!(tier(&owner, gold).await["level"]["code"], "silver");
        let again = loyal::tiers::run_reviews(&app.db, loyal::store::now_micros(), None)
            .await
            .unwrap();
        assert_eq!(again.reviewed, 0);

        // Never: levels only go up.
        owner
            .put(
                "/api/v1/tiers",
                program(json!({"type": "calendar_month"}), "never"),
            )
            .await;
        review_due_at_month_start(&app, gold).await;
        loyal::tiers::run_reviews(&app.db, loyal::store::now_micros(), None)
            .await
            .unwrap();
        assert_eq!(tier(&owner, gold).await["level"]["code"], "silver");
    }
);

db_test!(a_bad_tier_program_is_refused_naming_the_field, |app| {
    let owner = app.signup("kafe").await;
    let mut p = program(json!({"type": "rolling", "months": 12}), "to_qualified");
    p["levels"][2]["threshold"] = json!(10);
    let res = owner.put("/api/v1/tiers", p).await;
    assert_eq!(
        (res.status, res.code(), res.field()),
        (422, "invalid_field", "levels[2].threshold")
    );
    let mut p = program(json!({"type": "rolling", "months": 0}), "to_qualified");
    let res = owner.put("/api/v1/tiers", p.clone()).await;
    assert_eq!(res.field(), "window.months");
    p["window"] = json!({"type": "rolling", "months": 12});
    p["levels"][1]["code"] = json!("member");
    assert_eq!(
        owner.put("/api/v1/tiers", p).await.field(),
        "levels[1].code"
    );
    assert_eq!(
        owner.get("/api/v1/tiers").await.body["program"]["enabled"],
        false,
        "nothing was saved"
    );
});
