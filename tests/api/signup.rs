//! The public signup form: versioned texts, consents per channel, questions that tag.

use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::User;

fn form(terms: &str) -> Value {
    json!({
        "terms": terms, "privacy": "We keep your phone and purchases to run the points card.",
        "marketing_channels": ["line", "sms"],
        "questions": [{"id": "age", "label": "ช่วงอายุ", "required": true, "options": [
            {"value": "under-25", "label": "ต่ำกว่า 25", "tags": ["young"]},
            {"value": "25-40", "label": "25-40", "tags": ["working-age"]}]}]
    })
}

async fn setup(owner: &User, terms: &str) -> Value {
    let res = owner.put("/api/v1/signup-form", form(terms)).await;
    assert_eq!(res.status, 200, "{}", res.body);
    res.body
}

db_test!(
    a_person_signs_up_with_current_texts_consents_and_answers,
    |app| {
        let owner = app.signup("kafe").await;
        owner
            .set_ledger(crate::helpers::ledger_settings(
                json!({"welcome_points": 30}),
            ))
            .await;
        let v1 = setup(&owner, "Terms v1").await;
        assert_eq!(
            (v1["terms_version"].as_i64(), v1["privacy_version"].as_i64()),
            (Some(1), Some(1))
        );
        let v2 = setup(&owner, "Terms v2: points expire after 24 months").await;
        assert_eq!(
            (v2["terms_version"].as_i64(), v2["privacy_version"].as_i64()),
            (Some(2), Some(1)),
            "only the changed text gets a new version"
        );
        let anon = app.anonymous();
        let public = anon.get("/api/v1/public/kafe/signup-form").await;
        assert_eq!(
            (public.status, public.body["terms_version"].as_i64()),
            (200, Some(2))
        );
        let mut body = json!({"phone": "081-234-5678", "first_name": "มาลี", "accept_terms_version": 1, "accept_privacy_version": 1,
        "marketing": ["sms"], "answers": {"age": "25-40"}});
        let stale = anon.post("/api/v1/public/kafe/signup", body.clone()).await;
        assert_eq!(
            (stale.status, stale.code(), stale.field()),
            (409, "stale_version", "accept_terms_version")
        );
        body["accept_terms_version"] = json!(2);
        let done = anon.post("/api/v1/public/kafe/signup", body.clone()).await;
        assert_eq!(
            (done.status, done.body["welcome_points"].as_i64()),
            (201, Some(30)),
            "{}",
            done.body
        );
        let m = done.body["member_id"].as_i64().unwrap();
        assert_eq!(
            owner.get(&format!("/api/v1/members/{m}")).await.body["tags"],
            json!(["working-age"])
        );
        let consents = owner
            .get(&format!("/api/v1/members/{m}/consents"))
            .await
            .body;
        let state: Vec<(String, bool, Option<i64>)> = consents["current"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["purpose"].as_str().unwrap().to_string(),
                    c["granted"].as_bool().unwrap(),
                    c["version"].as_i64(),
                )
            })
            .collect();
        assert_eq!(
            state,
            vec![
                ("terms".into(), true, Some(2)),
                ("privacy".into(), true, Some(1)),
                ("marketing_line".into(), false, None),
                ("marketing_sms".into(), true, None)
            ]
        );
        assert_eq!(
            anon.post("/api/v1/public/kafe/signup", body).await.field(),
            "phone",
            "one member per phone"
        );
        // Withdrawing is as easy as giving, and is recorded too.
        let res = owner
            .post(
                &format!("/api/v1/members/{m}/consents"),
                json!({"purpose": "marketing_sms", "granted": false}),
            )
            .await;
        assert_eq!(res.status, 201, "{}", res.body);
        let sms: Vec<bool> = res.body["history"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["purpose"] == "marketing_sms")
            .map(|c| c["granted"].as_bool().unwrap())
            .collect();
        assert_eq!(sms, vec![true, false]);
        assert_eq!(
            owner
                .all("/api/v1/audit-log?action=consent.withdrawn")
                .await
                .len(),
            1
        );
        let view = owner.get(&format!("/api/v1/members/{m}/360")).await.body;
        assert_eq!(
            view["consents"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["purpose"] == "marketing_sms")
                .unwrap()["granted"],
            false
        );
        let export = owner.get(&format!("/api/v1/members/{m}/export")).await.body;
        assert_eq!(export["consents"].as_array().unwrap().len(), 5);
    }
);

db_test!(signup_answers_and_forms_are_checked, |app| {
    let owner = app.signup("kafe").await;
    setup(&owner, "Terms").await;
    let anon = app.anonymous();
    let base = json!({"phone": "0812345678", "first_name": "A", "accept_terms_version": 1, "accept_privacy_version": 1});
    let cases = [
        (json!({}), "answers.age", 422),
        (json!({"answers": {"age": "ninety"}}), "answers.age", 422),
        (
            json!({"answers": {"age": "25-40", "pet": "cat"}}),
            "answers.pet",
            422,
        ),
        (
            json!({"answers": {"age": "25-40"}, "marketing": ["email"]}),
            "marketing",
            422,
        ),
    ];
    for (extra, field, status) in cases {
        let mut body = base.clone();
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let res = anon.post("/api/v1/public/kafe/signup", body.clone()).await;
        assert_eq!(
            (res.status, res.field()),
            (status, field),
            "{body}: {}",
            res.body
        );
    }
    assert!(
        owner.all("/api/v1/members").await.is_empty(),
        "nothing was written"
    );
    assert_eq!(
        anon.get("/api/v1/public/nowhere/signup-form").await.status,
        404
    );
    let mut bad = form("x");
    bad["questions"][0]["options"] = json!([]);
    let res = owner.put("/api/v1/signup-form", bad).await;
    assert_eq!((res.status, res.field()), (422, "questions[0]"));
});
