//! What an attacker, a broken client or a crash tried, and what Loyal does instead.
//! Each test is a defect that was found once, written so that it fails without its fix.

use serde_json::json;

use crate::db_test;
use crate::helpers::{PASSWORD, Resp, ServerProcess, TestApp, User, invitation_token};
use crate::imports::{finished, upload, workbook};

/// A sheet whose header names the phone column and whose second row holds `cell`.
fn sheet_with_cell(cell: &str, text: &str) -> String {
    format!(
        r#"<row r="1"><c r="A1" t="inlineStr"><is><t>phone</t></is></c></row><row r="2"><c r="{cell}" t="inlineStr"><is><t>{text}</t></is></c></row>"#
    )
}

db_test!(
    a_cashiers_hostile_workbook_is_refused_and_the_server_stays_up,
    |app| {
        let owner = app.signup("kafe").await;
        let cashier = app.hire(&owner, "kafe", "cashier").await;
        // Cell references far past the last column (XFD) or row: the 4,028,261,718th
        // column, one past what 32 bits hold, one column and one row too far.
        for cell in ["LZZZZZZ2", "ZZZZZZZ2", "XFE2", "A1048577"] {
            let book = workbook(&sheet_with_cell(cell, "0812345678"), None);
            let job = finished(&cashier, &upload(&cashier, "format=xlsx", book).await.body).await;
            assert_eq!(job["status"], "failed", "{cell}: {job}");
            let error = job["error"].as_str().unwrap_or_default();
            assert!(
                error.contains(&format!(
                    "the sheet refers to \"{cell}\", outside a workbook's columns A to XFD"
                )),
                "{cell}: {error}"
            );
        }
        // A zip bomb: 70 MiB of one shared string, compressed to a few kilobytes.
        let bomb = workbook(
            r#"<row r="1"><c r="A1" t="s"><v>0</v></c></row>"#,
            Some(&format!("<si><t>{}</t></si>", "a".repeat(70 * 1024 * 1024))),
        );
        assert!(bomb.len() < 200 * 1024, "{} bytes", bomb.len());
        let job = finished(&cashier, &upload(&cashier, "format=xlsx", bomb).await.body).await;
        assert_eq!(job["status"], "failed", "{job}");
        assert!(
            job["error"]
                .as_str()
                .unwrap_or_default()
                .contains("text is larger than 64 MiB once unzipped"),
            "{job}"
        );
        // Thousands of cells a row, each the same 30,000-character shared string: the
        // cells past the header's one column are dropped unread.
        let mut wide =
            String::from(r#"<row r="1"><c r="A1" t="inlineStr"><is><t>phone</t></is></c></row>"#);
        for r in 2..=4 {
            wide.push_str(&format!(
                r#"<row r="{r}"><c r="A{r}" t="inlineStr"><is><t>081234567{r}</t></is></c>"#
            ));
            for c in 1..3000u32 {
                let mut name = String::new();
                let mut n = c + 1;
                while n > 0 {
                    n -= 1;
                    name.insert(0, (b'A' + (n % 26) as u8) as char);
                    n /= 26;
                }
                wide.push_str(&format!(r#"<c r="{name}{r}" t="s"><v>0</v></c>"#));
            }
            wide.push_str("</row>");
        }
        let book = workbook(
            &wide,
            Some(&format!("<si><t>{}</t></si>", "x".repeat(30_000))),
        );
        let job = finished(&cashier, &upload(&cashier, "format=xlsx", book).await.body).await;
        assert_eq!(
            (job["status"].as_str(), job["counts"]["imported"].as_u64()),
            (Some("done"), Some(3)),
            "{job}"
        );
        // One cell longer than a spreadsheet's cells can be.
        let long = workbook(&sheet_with_cell("A2", &"9".repeat(40_000)), None);
        let job = finished(&cashier, &upload(&cashier, "format=xlsx", long).await.body).await;
        assert_eq!(
            job["error"], "cell A2 holds 40000 characters; a cell holds at most 32767",
            "{job}"
        );
        // The server still serves, and a good workbook still imports.
        let good = workbook(&sheet_with_cell("A2", "0812345678"), None);
        let job = finished(&cashier, &upload(&cashier, "format=xlsx", good).await.body).await;
        assert_eq!(
            (job["status"].as_str(), job["counts"]["imported"].as_u64()),
            (Some("done"), Some(1)),
            "{job}"
        );
    }
);

db_test!(
    import_errors_name_the_row_a_spreadsheet_shows_after_blank_lines,
    |app| {
        let owner = app.signup("kafe").await;
        let csv = "phone,full_name\n\n0812345678,Mali\n\n0899,Bad\n\"0823456789\",\"two\nlines\"\n12,Bad too\n";
        let job = finished(
            &owner,
            &upload(&owner, "format=csv", csv.as_bytes().to_vec())
                .await
                .body,
        )
        .await;
        assert_eq!(job["status"], "done", "{job}");
        let errors = owner
            .get(&format!("/api/v1/members/imports/{}/errors", job["id"]))
            .await
            .body;
        let rows: Vec<i64> = errors["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["row"].as_i64().unwrap())
            .collect();
        // Row 6 is one row over two lines (its name may not hold a line break).
        assert_eq!(rows, vec![5, 6, 7], "{errors}");
        // A NUL in a cell is reported (shown replaced), not lost.
        let job = finished(
            &owner,
            &upload(&owner, "format=csv", b"phone\n08\x001\n".to_vec())
                .await
                .body,
        )
        .await;
        let errors = owner
            .get(&format!("/api/v1/members/imports/{}/errors", job["id"]))
            .await
            .body;
        assert_eq!(errors["items"][0]["value"], "08\u{fffd}1", "{errors}");
    }
);

/// Invite someone with `role` at `branches` and accept; returns them signed in.
async fn hire_at(app: &TestApp, by: &User, role: &str, branches: &[i64]) -> User {
    let email = format!(
        "{role}-{}@kafe.test",
        branches.iter().sum::<i64>() % 100_000
    );
    let inv = by
        .post(
            "/api/v1/invitations",
            json!({"email": email, "role": role, "branch_ids": branches}),
        )
        .await;
    assert_eq!(inv.status, 201, "{}", inv.body);
    let mut user = app.anonymous();
    let res = user
        .post(
            &format!(
                "/api/v1/invitation-tokens/{}/accept",
                invitation_token(&inv)
            ),
            json!({"name": "Someone", "password": PASSWORD}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.body);
    user.csrf = res.body["csrf_token"].as_str().map(String::from);
    user.me = res.body.clone();
    user
}

/// A new API key with these scopes, made by `by`.
async fn key(app: &TestApp, by: &User, scopes: &[&str]) -> User {
    let res = by
        .post(
            "/api/v1/api-keys",
            json!({"name": "integration", "scopes": scopes}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.body);
    app.with_key(res.body["secret"].as_str().unwrap())
}

db_test!(
    a_key_scoped_to_staff_management_cannot_make_an_admin,
    |app| {
        let owner = app.signup("kafe").await;
        let cashier = app.hire(&owner, "kafe", "cashier").await;
        let staff_key = key(&app, &owner, &["staff.manage"]).await;
        // Neither an admin (then accepting anonymously and minting an all-scopes key) nor
        // even a cashier: the key holds none of their permissions.
        for role in ["admin", "manager", "cashier", "owner"] {
            let res = staff_key
                .post(
                    "/api/v1/invitations",
                    json!({"email": format!("{role}@x.test"), "role": role}),
                )
                .await;
            assert_eq!(
                (res.status, res.field()),
                (403, "role"),
                "{role}: {}",
                res.body
            );
        }
        let res = staff_key
            .patch(
                &format!("/api/v1/staff/{}", cashier.id()),
                json!({"role": "admin"}),
            )
            .await;
        assert_eq!(res.status, 403, "{}", res.body);
        let me = cashier.get("/api/v1/me").await;
        assert_eq!(me.body["role"], "cashier", "{}", me.body);
        // A key holding everything an admin may do gives admin, never owner.
        let permissions = owner.get("/api/v1/me").await.body["permissions"].clone();
        let all: Vec<&str> = permissions
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap())
            .collect();
        let full_key = key(&app, &owner, &all).await;
        let res = full_key
            .post(
                "/api/v1/invitations",
                json!({"email": "a@x.test", "role": "admin"}),
            )
            .await;
        assert_eq!(res.status, 201, "{}", res.body);
        let res = full_key
            .post(
                "/api/v1/invitations",
                json!({"email": "o@x.test", "role": "owner"}),
            )
            .await;
        assert_eq!(res.status, 403, "{}", res.body);
    }
);

db_test!(a_keys_power_is_its_makers_power_now, |app| {
    let owner = app.signup("kafe").await;
    let admin = app.hire(&owner, "kafe", "admin").await;
    let m = owner
        .post(
            "/api/v1/members",
            json!({"phone": "0812345678", "national_id": "1-1017-00203-45-0"}),
        )
        .await
        .body["id"]
        .as_i64()
        .unwrap();
    let k = key(
        &app,
        &admin,
        &[
            "members.read",
            "members.sensitive",
            "staff.manage",
            "points.earn",
        ],
    )
    .await;
    assert_eq!(
        k.get(&format!("/api/v1/members/{m}/national-id"))
            .await
            .status,
        200
    );
    let res = k
        .post(
            "/api/v1/invitations",
            json!({"email": "c1@x.test", "role": "analyst"}),
        )
        .await;
    assert_eq!(
        res.status, 403,
        "an analyst reads reports the key cannot: {}",
        res.body
    );
    // A key made by the key belongs to the admin too.
    let res = admin
        .post(
            "/api/v1/api-keys",
            json!({"name": "maker", "scopes": ["api_keys.manage", "members.read"]}),
        )
        .await;
    let maker = app.with_key(res.body["secret"].as_str().unwrap());
    let res = maker
        .post(
            "/api/v1/api-keys",
            json!({"name": "child", "scopes": ["members.read"]}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.body);
    assert_eq!(res.body["key"]["created_by"], admin.id(), "{}", res.body);
    let child = app.with_key(res.body["secret"].as_str().unwrap());
    // Demoted to cashier: the keys keep only what a cashier may do.
    let res = owner
        .patch(
            &format!("/api/v1/staff/{}", admin.id()),
            json!({"role": "cashier"}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(
        k.get(&format!("/api/v1/members/{m}/national-id"))
            .await
            .status,
        403
    );
    let res = k
        .post(
            "/api/v1/invitations",
            json!({"email": "c2@x.test", "role": "cashier"}),
        )
        .await;
    assert_eq!(res.status, 403, "{}", res.body);
    let me = k.get("/api/v1/me").await.body;
    assert_eq!(
        me["permissions"],
        json!(["members.read", "points.earn"]),
        "{me}"
    );
    assert_eq!(child.get(&format!("/api/v1/members/{m}")).await.status, 200);
    // Deactivated: no key of theirs works.
    let res = owner
        .patch(
            &format!("/api/v1/staff/{}", admin.id()),
            json!({"active": false}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    for key in [&k, &maker, &child] {
        let res = key.get(&format!("/api/v1/members/{m}")).await;
        assert_eq!((res.status, res.code()), (401, "unauthenticated"));
    }
});

db_test!(
    a_cashier_acts_only_at_their_branches_through_the_api,
    |app| {
        let owner = app.signup("kafe").await;
        let (b1, b2) = (owner.branch("ONE").await, owner.branch("TWO").await);
        let cashier = hire_at(&app, &owner, "cashier", &[b1]).await;
        let m = owner.member("0812345678").await;
        let buy = |branch: Option<i64>, receipt: &str| json!({"member_id": m, "amount_satang": 10_000, "receipt": receipt, "branch_id": branch});
        let res = cashier.post("/api/v1/purchases", buy(Some(b2), "R1")).await;
        assert_eq!(
            (res.status, res.code(), res.field()),
            (403, "forbidden", "branch_id"),
            "{}",
            res.body
        );
        let res = cashier.post("/api/v1/purchases", buy(None, "R2")).await;
        assert_eq!(
            (res.status, res.field()),
            (403, "branch_id"),
            "{}",
            res.body
        );
        let res = cashier.post("/api/v1/purchases", buy(Some(b1), "R3")).await;
        assert_eq!(res.status, 201, "{}", res.body);
        let res = cashier
            .post(
                "/api/v1/purchases/batch",
                json!({"purchases": [buy(Some(b1), "R4"), buy(Some(b2), "R5")]}),
            )
            .await;
        assert_eq!(res.body["results"][0]["status"], 201, "{}", res.body);
        assert_eq!(
            res.body["results"][1]["error"]["field"], "purchases[1].branch_id",
            "{}",
            res.body
        );
        let res = cashier
            .post(
                "/api/v1/coupons/use",
                json!({"code": "ANYTHING", "branch_id": b2}),
            )
            .await;
        assert_eq!(
            (res.status, res.field()),
            (403, "branch_id"),
            "{}",
            res.body
        );
        let res = cashier
            .post(
                "/api/v1/claims",
                json!({"amount_satang": 5000, "branch_id": b2}),
            )
            .await;
        assert_eq!(
            (res.status, res.field()),
            (403, "branch_id"),
            "{}",
            res.body
        );
        // Refunds and look-ups of a purchase made at another branch, enrolments and
        // imports at none of theirs: refused.
        let res = owner.purchase_at_branch(m, 10_000, "AT-TWO", b2).await;
        assert_eq!(res.status, 201, "{}", res.body);
        let res = cashier
            .post(
                "/api/v1/purchases/refunds",
                json!({"receipt": "AT-TWO", "refund_id": "X"}),
            )
            .await;
        assert_eq!((res.status, res.field()), (403, "receipt"), "{}", res.body);
        assert_eq!(cashier.get("/api/v1/purchases/AT-TWO").await.status, 404);
        assert_eq!(cashier.get("/api/v1/purchases/R3").await.status, 200);
        let res = cashier
            .post(
                "/api/v1/purchases/refunds",
                json!({"receipt": "R3", "refund_id": "Y"}),
            )
            .await;
        assert_eq!(res.status, 201, "{}", res.body);
        let res = cashier
            .post("/api/v1/members", json!({"phone": "0891111111"}))
            .await;
        assert_eq!(
            (res.status, res.field()),
            (403, "join_branch_id"),
            "{}",
            res.body
        );
        let res = cashier
            .post(
                "/api/v1/members",
                json!({"phone": "0891111111", "join_branch_id": b1}),
            )
            .await;
        assert_eq!(res.status, 201, "{}", res.body);
        let res = cashier
            .patch(
                &format!("/api/v1/members/{m}"),
                json!({"first_name": "Malee"}),
            )
            .await;
        assert_eq!(res.status, 200, "an edit names no branch: {}", res.body);
        let csv = b"phone\n0892222222\n".to_vec();
        let res = upload(&cashier, "format=csv", csv.clone()).await;
        assert_eq!(
            (res.status, res.field()),
            (403, "branch_id"),
            "{}",
            res.body
        );
        let res = upload(&cashier, &format!("format=csv&branch_id={b1}"), csv).await;
        assert_eq!(res.status, 202, "{}", res.body);
        // An admin limited to a branch makes keys limited to it, and hires only there.
        let admin = hire_at(&app, &owner, "admin", &[b1]).await;
        let k = key(&app, &admin, &["points.earn"]).await;
        let res = k.post("/api/v1/purchases", buy(Some(b2), "R6")).await;
        assert_eq!(
            (res.status, res.field()),
            (403, "branch_id"),
            "{}",
            res.body
        );
        let res = admin
            .post(
                "/api/v1/invitations",
                json!({"email": "x@x.test", "role": "cashier", "branch_ids": [b2]}),
            )
            .await;
        assert_eq!(
            (res.status, res.field()),
            (403, "branch_ids"),
            "{}",
            res.body
        );
        let res = admin
            .post(
                "/api/v1/invitations",
                json!({"email": "x@x.test", "role": "cashier"}),
            )
            .await;
        assert_eq!(
            (res.status, res.field()),
            (403, "branch_ids"),
            "all branches: {}",
            res.body
        );
    }
);

db_test!(two_opposite_merges_at_once_leave_one_member, |app| {
    let owner = app.signup("kafe").await;
    for round in 0..5 {
        let x = owner.member(&format!("08123450{round}1")).await;
        let y = owner.member(&format!("08123450{round}2")).await;
        owner.purchase(x, 10_000, &format!("X{round}")).await;
        owner.purchase(y, 20_000, &format!("Y{round}")).await;
        let merge = |from: i64, into: i64| {
            let owner = owner.clone();
            async move {
                owner
                    .post(
                        &format!("/api/v1/members/{into}/merge"),
                        json!({"other_member_id": from}),
                    )
                    .await
            }
        };
        let before = owner.points(x).await["balance"].as_i64().unwrap()
            + owner.points(y).await["balance"].as_i64().unwrap();
        let (a, b) = tokio::join!(merge(x, y), merge(y, x));
        let mut statuses = [a.status, b.status];
        statuses.sort();
        assert_eq!(statuses, [200, 409], "{} / {}", a.body, b.body);
        // A merged member's id answers with its survivor.
        let mut survivors = 0;
        for m in [x, y] {
            let res = owner.get(&format!("/api/v1/members/{m}")).await;
            if res.body["status"] == "active" && res.body["id"] == m {
                survivors += 1;
                assert_eq!(
                    owner.points(m).await["balance"],
                    before,
                    "both bills' points"
                );
            }
        }
        assert_eq!(survivors, 1, "round {round}");
    }
    app.assert_no_drift().await;
});

/// POST with an `Idempotency-Key`.
async fn post_once(user: &User, path: &str, key: &str, body: serde_json::Value) -> Resp {
    user.request(
        reqwest::Method::POST,
        path,
        Some(body),
        &[("idempotency-key", key)],
    )
    .await
}

db_test!(
    answers_holding_a_secret_are_never_stored_for_replays,
    |app| {
        let owner = app.signup("kafe").await;
        let key = post_once(
            &owner,
            "/api/v1/api-keys",
            "k1",
            json!({"name": "POS", "scopes": ["members.read"]}),
        )
        .await;
        assert_eq!(key.status, 201, "{}", key.body);
        let invite = post_once(
            &owner,
            "/api/v1/invitations",
            "k2",
            json!({"email": "new@kafe.test", "role": "cashier"}),
        )
        .await;
        assert_eq!(invite.status, 201, "{}", invite.body);
        let claim = post_once(
            &owner,
            "/api/v1/claims",
            "k3",
            json!({"amount_satang": 5000}),
        )
        .await;
        assert_eq!(claim.status, 201, "{}", claim.body);
        let secrets = [
            key.body["secret"].as_str().unwrap().to_string(),
            invitation_token(&invite),
            claim.body["url"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_string(),
        ];
        // A retry is told the first succeeded; the secret is not shown again.
        let again = post_once(
            &owner,
            "/api/v1/api-keys",
            "k1",
            json!({"name": "POS", "scopes": ["members.read"]}),
        )
        .await;
        assert_eq!(
            (again.status, again.code()),
            (409, "secret_not_replayed"),
            "{}",
            again.body
        );
        assert!(!again.text.contains(&secrets[0]));
        let stored: Vec<(Option<Vec<u8>>,)> = loyal::on_db!(&app.db, pool => sqlx::query_as(
        "SELECT response_body FROM idempotency_keys").fetch_all(pool).await)
        .unwrap();
        assert_eq!(stored.len(), 3);
        for (body,) in stored {
            let body = String::from_utf8(body.unwrap_or_default()).unwrap();
            for secret in &secrets {
                assert!(!body.contains(secret.as_str()), "{body}");
            }
        }
    }
);

db_test!(
    idempotency_keys_belong_to_their_caller_and_compare_content,
    |app| {
        let owner = app.signup("kafe").await;
        let manager = app.hire(&owner, "kafe", "manager").await;
        let m = owner.member("0812345678").await;
        let adjust = json!({"points": 10, "reason": "goodwill"});
        let path = format!("/api/v1/members/{m}/points/adjust");
        let first = post_once(&owner, &path, "same-key", adjust.clone()).await;
        assert_eq!(first.status, 201, "{}", first.body);
        // Another caller with the same key and body makes a movement of its own, and never
        // sees the owner's answer.
        let other = post_once(&manager, &path, "same-key", adjust.clone()).await;
        assert_eq!(other.status, 201, "{}", other.body);
        assert_eq!(other.header("idempotent-replayed"), "");
        assert_ne!(other.body["txn_id"], first.body["txn_id"], "{}", other.body);
        assert_eq!(owner.points(m).await["balance"], 20);
        // The same content spelled differently is the same request: replayed, not refused.
        let respelled = owner
            .client
            .post(format!("{}{path}", owner.base))
            .header("x-csrf-token", owner.csrf.clone().unwrap())
            .header("idempotency-key", "same-key")
            .header("content-type", "application/json")
            .body("{ \"reason\" : \"goodwill\",\n  \"points\" : 10 }")
            .send()
            .await
            .unwrap();
        let respelled = Resp::read(respelled).await;
        assert_eq!(respelled.status, 201, "{}", respelled.body);
        assert_eq!(respelled.header("idempotent-replayed"), "true");
        assert_eq!(owner.points(m).await["balance"], 20);
        // A replayed purchase says so in its body too.
        let buy = json!({"member_id": m, "amount_satang": 10_000, "receipt": "R1"});
        let first = post_once(&owner, "/api/v1/purchases", "buy-1", buy.clone()).await;
        assert_eq!(
            (first.status, &first.body["replayed"]),
            (201, &json!(false))
        );
        let again = post_once(&owner, "/api/v1/purchases", "buy-1", buy).await;
        assert_eq!(again.header("idempotent-replayed"), "true");
        assert_eq!((again.status, &again.body["replayed"]), (201, &json!(true)));
    }
);

/// POST as an anonymous client behind a trusted proxy, from `address`.
async fn post_from(app: &TestApp, address: &str, path: &str, body: serde_json::Value) -> Resp {
    app.anonymous()
        .request(
            reqwest::Method::POST,
            path,
            Some(body),
            &[("x-forwarded-for", address)],
        )
        .await
}

db_test!(nobody_blocks_other_peoples_signups_or_sign_ins, |app| {
    let _ = app;
    let app = TestApp::spawn_with(app.backend, |s| s.trust_forwarded_for = true).await;
    let owner = app.signup("kafe").await;
    let form = owner
        .put(
            "/api/v1/signup-form",
            json!({"terms": "Terms", "privacy": "Privacy", "marketing_channels": [], "questions": []}),
        )
        .await
        .body;
    let person = |phone: &str| {
        json!({"phone": phone, "first_name": "Mali",
            "accept_terms_version": form["terms_version"], "accept_privacy_version": form["privacy_version"]})
    };
    // Eight people from eight addresses all join the shop.
    for i in 0..8 {
        let res = post_from(
            &app,
            &format!("10.0.0.{i}"),
            "/api/v1/public/kafe/signup",
            person(&format!("08100000{i:02}")),
        )
        .await;
        assert_eq!(res.status, 201, "person {i}: {}", res.body);
    }
    // One phone tried from many addresses is held after five tries.
    for i in 0..5 {
        let res = post_from(
            &app,
            &format!("10.1.0.{i}"),
            "/api/v1/public/kafe/signup",
            person("0819999999"),
        )
        .await;
        let expected = if i == 0 { 201 } else { 409 };
        assert_eq!(res.status, expected, "{}", res.body);
    }
    let res = post_from(
        &app,
        "10.1.0.9",
        "/api/v1/public/kafe/signup",
        person("0819999999"),
    )
    .await;
    assert_eq!(
        (res.status, res.code()),
        (429, "rate_limited"),
        "{}",
        res.body
    );
    assert!(res.header("retry-after").parse::<u64>().unwrap() > 0);
    // Five wrong passwords from one address do not hold the owner at another, and
    // right passwords never count.
    let login = |password: &str| json!({"tenant": "kafe", "email": "owner@kafe.test", "password": password});
    for _ in 0..5 {
        let res = post_from(
            &app,
            "10.2.0.66",
            "/api/v1/sessions",
            login("wrong password!"),
        )
        .await;
        assert_eq!(res.status, 401, "{}", res.body);
    }
    let res = post_from(&app, "10.2.0.66", "/api/v1/sessions", login(PASSWORD)).await;
    assert_eq!(res.status, 429, "the guesser's address waits: {}", res.body);
    for _ in 0..8 {
        let res = post_from(&app, "10.2.0.1", "/api/v1/sessions", login(PASSWORD)).await;
        assert_eq!(res.status, 201, "{}", res.body);
    }
    // Parallel guesses from one address: each takes its attempt before the password
    // is checked, so no more than five are checked.
    let guesses = (0..20).map(|_| {
        post_from(
            &app,
            "10.2.0.77",
            "/api/v1/sessions",
            login("wrong password!"),
        )
    });
    let answers = futures_util::future::join_all(guesses).await;
    let checked = answers.iter().filter(|a| a.status == 401).count();
    let refused = answers.iter().filter(|a| a.status == 429).count();
    assert_eq!((checked, refused), (5, 15));
    // Behind the proxy, the client's address is the last one it added: what the client
    // itself puts before it is not believed.
    let res = owner
        .request(
            reqwest::Method::POST,
            "/api/v1/branches",
            Some(json!({"code": "FWD", "name": "Forwarded"})),
            &[("x-forwarded-for", "6.6.6.6, 10.4.0.1")],
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.body);
    let audit = owner
        .get("/api/v1/audit-log?action=branch.created")
        .await
        .body;
    assert_eq!(audit["items"][0]["ip"], "10.4.0.1", "{audit}");
    // New shops: five an hour from one address.
    let shop = |slug: &str| {
        json!({"shop_name": format!("Shop {slug}"), "slug": slug, "owner_name": "Owner",
            "owner_email": format!("owner@{slug}.test"), "password": PASSWORD})
    };
    for i in 0..5 {
        let res = post_from(
            &app,
            "10.3.0.1",
            "/api/v1/signup",
            shop(&format!("shop-{i}")),
        )
        .await;
        assert_eq!(res.status, 201, "{}", res.body);
    }
    let res = post_from(&app, "10.3.0.1", "/api/v1/signup", shop("shop-5")).await;
    assert_eq!(
        (res.status, res.code()),
        (429, "rate_limited"),
        "{}",
        res.body
    );
    let res = post_from(&app, "10.3.0.2", "/api/v1/signup", shop("shop-5")).await;
    assert_eq!(res.status, 201, "{}", res.body);
});

db_test!(
    parallel_guesses_at_a_one_time_code_are_compared_five_times_at_most,
    |app| {
        use crate::rewards::{give, otp, reward};
        let owner = app.signup("kafe").await;
        let m = owner.member("0812345678").await;
        give(&owner, m, 100).await;
        let r = reward(
        &owner,
        json!({"kind": "coupon", "category": "drinks", "name": "Latte", "points_cost": 60, "stock": 5}),
    )
    .await;
        let (challenge, code) = otp(&owner, m).await;
        let wrong = if code == "000000" { "111111" } else { "000000" };
        let guesses = (0..60).map(|_| {
            let owner = owner.clone();
            async move {
                owner
                    .post(
                        &format!("/api/v1/rewards/{r}/redeem"),
                        json!({"member_id": m, "otp": {"challenge_id": challenge, "code": wrong}}),
                    )
                    .await
            }
        });
        let answers = futures_util::future::join_all(guesses).await;
        let compared = answers.iter().filter(|a| a.code() == "otp_invalid").count();
        let refused = answers.iter().filter(|a| a.code() == "otp_expired").count();
        assert_eq!((compared, refused), (5, 55));
        // The right code comes too late: its attempts are spent.
        let res = owner
            .post(
                &format!("/api/v1/rewards/{r}/redeem"),
                json!({"member_id": m, "otp": {"challenge_id": challenge, "code": code}}),
            )
            .await;
        assert_eq!(res.code(), "otp_expired", "{}", res.body);
        assert_eq!(owner.points(m).await["balance"], 100);
    }
);

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_data_directory_is_private_and_the_log_keeps_no_code_or_phone() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("loyal-data");
    // A data directory and database from before the rule, open to everyone: tightened
    // at start (an empty file is an empty SQLite database).
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(data.join("loyal.db"), b"").unwrap();
    std::fs::set_permissions(
        data.join("loyal.db"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let log = std::fs::File::create(dir.path().join("server.log")).unwrap();
    let mut server = ServerProcess::start(&["--data-dir", data.to_str().unwrap()], &[], log).await;
    let owner = server.signup("kafe").await;
    let m = owner.member("0812345678").await;
    let sent = owner
        .post(&format!("/api/v1/members/{m}/otp"), json!({}))
        .await;
    assert_eq!(sent.status, 201, "{}", sent.body);
    let mailbox = owner.get("/api/v1/dev/mailbox").await.body;
    let text = mailbox["messages"][0]["body"].as_str().unwrap().to_string();
    let code: String = text
        .split_whitespace()
        .find(|w| w.len() == 6 && w.bytes().all(|b| b.is_ascii_digit()))
        .unwrap()
        .to_string();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    for file in ["loyal.db", "loyal.db-wal", "loyal.db-shm", "encryption.key"] {
        assert_eq!(mode(&data.join(file)), 0o600, "{file}");
    }
    server.kill();
    let logged = std::fs::read_to_string(dir.path().join("server.log")).unwrap();
    assert!(logged.contains("developer mailbox"), "{logged}");
    for secret in [code.as_str(), "812345678", "0812345678"] {
        assert!(!logged.contains(secret), "{secret} in the log: {logged}");
    }
}

db_test!(points_past_the_limit_are_refused_never_wrapped, |app| {
    let owner = app.signup("kafe").await;
    let rate = |points: i64| {
        crate::helpers::ledger_settings(
            json!({"earn": {"spend_satang": 1, "points": points, "rounding": "floor", "min_spend_satang": 0}}),
        )
    };
    let res = owner.put("/api/v1/ledger/settings", rate(1_000_000)).await;
    assert_eq!(
        (res.status, res.field()),
        (422, "earn.points"),
        "{}",
        res.body
    );
    owner.set_ledger(rate(10_000)).await;
    let m = owner.member("0812345678").await;
    // 10^12 satang at 10,000 points a satang: ten of these wrapped the balance once.
    for i in 0..10 {
        let res = owner
            .purchase(m, 1_000_000_000_000, &format!("BIG{i}"))
            .await;
        assert_eq!(
            (res.status, res.code()),
            (422, "points_limit"),
            "{}",
            res.body
        );
    }
    // Up to the limit, then not one point past it, in a batch too.
    let res = owner.purchase(m, 10_000_000, "FULL").await;
    assert_eq!(
        (res.status, &res.body["balance"]),
        (201, &json!(100_000_000_000_i64)),
        "{}",
        res.body
    );
    let res = owner
        .post(
            "/api/v1/purchases/batch",
            json!({"purchases": [
                {"member_id": m, "amount_satang": 1, "receipt": "ONE-MORE"},
                {"member_id": owner.member("0899999999").await, "amount_satang": 100, "receipt": "OTHER"}]}),
        )
        .await;
    assert_eq!(
        res.body["results"][0]["error"]["code"], "points_limit",
        "{}",
        res.body
    );
    assert_eq!(res.body["results"][1]["status"], 201, "{}", res.body);
    let res = owner
        .post(
            &format!("/api/v1/members/{m}/points/adjust"),
            json!({"points": 1, "reason": "x"}),
        )
        .await;
    assert_eq!(
        (res.status, res.code()),
        (422, "points_limit"),
        "{}",
        res.body
    );
    let res = owner
        .post(
            &format!("/api/v1/members/{m}/points/adjust"),
            json!({"points": i64::MAX, "reason": "x"}),
        )
        .await;
    assert_eq!((res.status, res.field()), (422, "points"), "{}", res.body);
    assert_eq!(owner.points(m).await["balance"], 100_000_000_000_i64);
    // Two members merged may not hold more together; a full balance may still shrink.
    let other = owner.member("0877777777").await;
    let res = owner
        .post(
            &format!("/api/v1/members/{other}/points/adjust"),
            json!({"points": 10, "reason": "x"}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.body);
    let res = owner
        .post(
            &format!("/api/v1/members/{m}/merge"),
            json!({"other_member_id": other}),
        )
        .await;
    assert_eq!(
        (res.status, res.code()),
        (422, "points_limit"),
        "{}",
        res.body
    );
    let res = owner.redeem(m, 10).await;
    assert_eq!(res.status, 201, "{}", res.body);
    assert_eq!(owner.points(m).await["balance"], 100_000_000_000_i64 - 10);
    let report = owner.get("/api/v1/reports/liability").await;
    assert_eq!(report.status, 200, "{}", report.body);
    app.assert_no_drift().await;
});

db_test!(a_nul_character_is_bad_input_everywhere, |app| {
    let owner = app.signup("kafe").await;
    let anon = app.anonymous();
    for path in [
        "/api/v1/public/%00/signup-form",
        "/api/v1/members?q=%00",
        "/api/v1/members?phone=08%0012",
        "/m/kafe%00",
    ] {
        let res = owner.get(path).await;
        assert_eq!(
            (res.status, res.code()),
            (400, "nul_character"),
            "{path}: {}",
            res.text
        );
    }
    let res = anon
        .post(
            "/api/v1/sessions",
            json!({"tenant": "\u{0}", "email": "a@b.co", "password": "x"}),
        )
        .await;
    assert_eq!(
        (res.status, res.code(), res.field()),
        (400, "nul_character", "tenant"),
        "{}",
        res.body
    );
    let res = owner
        .post(
            "/api/v1/members",
            json!({"phone": "0812345678", "first_name": "Ma\u{0}li"}),
        )
        .await;
    assert_eq!(
        (res.status, res.field()),
        (400, "first_name"),
        "{}",
        res.body
    );
    let res = owner
        .post(
            "/api/v1/members",
            json!({"phone": "0812345678", "tags": ["ok", "b\u{0}d"]}),
        )
        .await;
    assert_eq!((res.status, res.field()), (400, "tags[1]"), "{}", res.body);
    let form = anon
        .client
        .post(format!("{}/login", app.base))
        .form(&[("tenant", "\u{0}"), ("email", "a@b.co"), ("password", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 400);
    // Nothing reached the database as text it refuses: the same requests without the
    // NUL still work.
    let res = owner.get("/api/v1/members?q=Mali").await;
    assert_eq!(res.status, 200, "{}", res.body);
});

db_test!(a_connection_trickling_its_headers_is_closed, |app| {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let _ = app;
    let app = TestApp::spawn_with(app.backend, |s| s.header_read_timeout_secs = 1).await;
    let address = app.base.trim_start_matches("http://").to_string();
    let mut slow = tokio::net::TcpStream::connect(&address).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut rest = vec![];
    let closed = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        slow.read_to_end(&mut rest),
    )
    .await;
    assert!(
        closed.is_ok(),
        "the server kept the connection open for {:?}",
        started.elapsed()
    );
    // Whole requests are still served.
    let res = app.anonymous().get("/healthz").await;
    assert_eq!(res.status, 200);
});

db_test!(
    pages_cannot_be_framed_and_sign_in_forms_need_the_visitors_token,
    |app| {
        let owner = app.signup("kafe").await;
        owner.member("0812345678").await;
        let form = json!({"terms": "T", "privacy": "P", "marketing_channels": [], "questions": []});
        assert_eq!(owner.put("/api/v1/signup-form", form).await.status, 200);
        for path in [
            "/login",
            "/signup",
            "/m/kafe/login",
            "/m/kafe/signup",
            "/admin",
        ] {
            let res = owner.get(path).await;
            assert_eq!(res.header("x-frame-options"), "DENY", "{path}");
            let policy = res.header("content-security-policy");
            for part in [
                "frame-ancestors 'none'",
                "script-src 'nonce-",
                "form-action 'self'",
                "base-uri 'none'",
                "object-src 'none'",
            ] {
                assert!(policy.contains(part), "{path}: {part} in {policy}");
            }
            assert_eq!(res.header("x-content-type-options"), "nosniff", "{path}");
            assert_eq!(res.header("referrer-policy"), "no-referrer", "{path}");
        }
        // A page's scripts carry this answer's nonce, and only they run.
        let counter = owner.get("/staff/earn").await;
        let policy = counter.header("content-security-policy").to_string();
        let nonce = policy
            .split("'nonce-")
            .nth(1)
            .and_then(|rest| rest.split('\'').next())
            .unwrap()
            .to_string();
        assert!(
            counter
                .text
                .contains(&format!("<script nonce=\"{nonce}\">")),
            "the counter's script carries the nonce"
        );
        let again = owner.get("/staff/earn").await;
        assert!(
            !again.header("content-security-policy").contains(&nonce),
            "a new nonce for every answer"
        );
        // Another site posting the sign-in forms from a visitor's browser has no token.
        let visitor = app.anonymous();
        let post = |path: &'static str, fields: Vec<(&'static str, String)>| {
            let visitor = visitor.clone();
            async move {
                let res = visitor
                    .client
                    .post(format!("{}{path}", visitor.base))
                    .form(&fields)
                    .send()
                    .await
                    .unwrap();
                Resp::read(res).await
            }
        };
        let member_login = || vec![("phone", "0812345678".to_string())];
        let res = post("/m/kafe/login", member_login()).await;
        assert_eq!(res.status, 403, "{}", res.text);
        let res = post(
            "/login",
            vec![
                ("tenant", "kafe".into()),
                ("email", "owner@kafe.test".into()),
                ("password", PASSWORD.into()),
            ],
        )
        .await;
        assert_eq!(res.status, 403, "{}", res.text);
        assert!(res.header("set-cookie").is_empty(), "no session");
        let res = post(
            "/m/kafe/signup",
            vec![("phone", "0899999999".into()), ("first_name", "X".into())],
        )
        .await;
        assert_eq!(res.status, 403, "{}", res.text);
        // Nor does a shop signup, which would sign the visitor into another's shop.
        let res = post(
            "/signup",
            vec![
                ("step", "code".into()),
                ("shop_name", "Theirs".into()),
                ("owner_name", "X".into()),
                ("owner_email", "x@example.com".into()),
                ("phone", "0899999999".into()),
            ],
        )
        .await;
        assert_eq!(res.status, 403, "{}", res.text);
        assert!(
            !res.header("set-cookie").contains("loyal_session"),
            "no session"
        );
        // The form as the page gave it (its token and the cookie with it) is taken.
        let page = visitor.get("/m/kafe/login").await;
        let token = page
            .text
            .split("name=\"_form\" value=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap()
            .to_string();
        let mut fields = member_login();
        fields.push(("_form", token));
        let res = post("/m/kafe/login", fields).await;
        assert_eq!(res.status, 200, "{}", res.text);
        assert!(
            res.text.contains("challenge_id"),
            "the code step: {}",
            res.text
        );
    }
);

#[test]
fn variables_an_orchestrator_sets_do_not_stop_loyal() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_loyal"))
        .arg("config")
        .env_remove("LOYAL_CONFIG")
        .env("LOYAL_PORT", "tcp://10.0.0.1:8080")
        .env("LOYAL_SERVICE_HOST", "10.0.0.1")
        .env("LOYAL_SESSION_HOURS", "4")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("Ignored (they name no setting): LOYAL_PORT, LOYAL_SERVICE_HOST"),
        "{stdout}"
    );
    assert!(
        stdout.contains("session_hours\n    env LOYAL_SESSION_HOURS  default 12  current 4"),
        "{stdout}"
    );
}

db_test!(bad_input_is_explained_in_words_not_in_rust, |app| {
    let owner = app.signup("kafe").await;
    let res = owner.get("/api/v1/redemptions?status=bogus").await;
    assert_eq!(
        (res.status, res.code(), res.field()),
        (400, "invalid_query", "status"),
        "{}",
        res.body
    );
    assert!(
        res.body["detail"]
            .as_str()
            .unwrap()
            .contains("\"bogus\" is not one of: issued, used"),
        "{}",
        res.body
    );
    let res = owner.get("/api/v1/redemptions?kind=parcel").await;
    assert_eq!((res.status, res.field()), (400, "kind"), "{}", res.body);
    let res = owner.get("/api/v1/members?limit=abc").await;
    assert_eq!((res.status, res.field()), (400, "limit"), "{}", res.body);
    assert_eq!(
        res.body["detail"], "limit: must be a whole number",
        "{}",
        res.body
    );
    let res = owner
        .post(
            "/api/v1/purchases",
            json!({"member_id": "abc", "amount_satang": 100, "receipt": "R"}),
        )
        .await;
    assert_eq!(
        (res.status, res.field()),
        (422, "member_id"),
        "{}",
        res.body
    );
    assert_eq!(
        res.body["detail"], "expected a whole number, not the text \"abc\"",
        "{}",
        res.body
    );
    let res = owner
        .post(
            "/api/v1/purchases",
            json!({"member_id": 1, "amount_satang": 100, "receipt": "R", "colour": "red"}),
        )
        .await;
    assert_eq!(
        (res.status, res.code(), res.field()),
        (422, "unknown_field", "colour"),
        "{}",
        res.body
    );
    assert!(!res.text.contains('`'), "{}", res.body);
});

db_test!(
    a_till_that_lost_an_answer_looks_the_purchase_up_by_receipt,
    |app| {
        let owner = app.signup("kafe").await;
        let m = owner.member("0812345678").await;
        let res = owner.purchase(m, 100_000, "POS-7/2026").await;
        assert_eq!(res.status, 201, "{}", res.body);
        let found = owner.get("/api/v1/purchases/POS-7%2F2026").await;
        assert_eq!(found.status, 200, "{}", found.body);
        assert_eq!(
            (
                &found.body["purchase_id"],
                &found.body["member_id"],
                &found.body["points"],
                &found.body["amount_satang"]
            ),
            (
                &res.body["purchase_id"],
                &json!(m),
                &res.body["points"],
                &json!(100_000)
            )
        );
        assert_eq!(found.body["rules"], res.body["rules"]);
        let refund = owner
            .post(
                "/api/v1/purchases/refunds",
                json!({"receipt": "POS-7/2026", "refund_id": "F1", "amount_satang": 50_000}),
            )
            .await;
        assert_eq!(refund.status, 201, "{}", refund.body);
        let found = owner.get("/api/v1/purchases/POS-7%2F2026").await;
        assert_eq!(found.body["points_refunded"], 20, "{}", found.body);
        let missing = owner.get("/api/v1/purchases/NOPE").await;
        assert_eq!((missing.status, missing.code()), (404, "not_found"));
        // The liability report dates a back-dated purchase by when it was recorded.
        let month_ago =
            (jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24 * 30)).to_string();
        let week_ago =
            (jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24 * 7)).to_string();
        let back = owner.purchase_at(m, 250_000, "LATE", &month_ago).await;
        assert_eq!(back.status, 201, "{}", back.body);
        let q = format!(
            "/api/v1/reports/liability?from={week_ago}&to={}",
            jiff::Timestamp::now() + jiff::SignedDuration::from_secs(60)
        );
        let report = owner.get(&q.replace('+', "%2B")).await;
        assert_eq!(report.status, 200, "{}", report.body);
        assert_eq!(report.body["issued"], 40 - 20 + 100, "{}", report.body);
    }
);

#[test]
fn loyal_import_members_refuses_a_hostile_workbook_instead_of_dying() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("ops.db").display());
    let loyal = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_loyal"))
            .args(args)
            .env_remove("LOYAL_CONFIG")
            .output()
            .unwrap()
    };
    assert!(loyal(&["migrate", "--database-url", &url]).status.success());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let _app = runtime.block_on(async {
        let db = loyal::store::Db::connect(&url, 2).await.unwrap();
        let app = TestApp::spawn_on(db).await;
        app.signup("ops").await;
        app
    });
    let file = dir.path().join("members.xlsx");
    std::fs::write(
        &file,
        workbook(&sheet_with_cell("LZZZZZZ2", "0812345678"), None),
    )
    .unwrap();
    let out = loyal(&[
        "import",
        "members",
        file.to_str().unwrap(),
        "--tenant",
        "ops",
        "--database-url",
        &url,
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "an error exit, not a signal: {stderr}"
    );
    assert!(
        stderr.contains("refers to \"LZZZZZZ2\", outside a workbook's columns A to XFD"),
        "{stderr}"
    );
}

db_test!(text_people_type_is_shown_never_run, |app| {
    let owner = app.signup("kafe").await;
    let m = owner
        .post(
            "/api/v1/members",
            json!({"phone": "0812345678", "first_name": "<script>alert(1)</script>", "last_name": "\"><img src=x onerror=alert(2)>"}),
        )
        .await;
    assert_eq!(m.status, 201, "{}", m.body);
    let id = m.body["id"].as_i64().unwrap();
    for page in ["/admin/members", &format!("/admin/members/{id}")] {
        let res = owner.get(page).await;
        assert_eq!(res.status, 200, "{page}");
        assert!(
            !res.text.contains("<script>alert(1)") && !res.text.contains("<img src=x"),
            "{page}: {}",
            res.text
        );
        assert!(
            res.text.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{page}"
        );
    }
});

db_test!(
    a_cashier_imports_members_but_cannot_give_them_points,
    |app| {
        let owner = app.signup("kafe").await;
        let cashier = app.hire(&owner, "kafe", "cashier").await;
        let csv = "phone,full_name,points\n0812345678,Mali,1000000\n0823456789,Somchai,\n";
        let job = finished(
            &cashier,
            &upload(&cashier, "format=csv", csv.as_bytes().to_vec())
                .await
                .body,
        )
        .await;
        assert_eq!(
            (
                job["status"].as_str(),
                job["counts"]["imported"].as_u64(),
                job["counts"]["failed"].as_u64()
            ),
            (Some("done"), Some(1), Some(1)),
            "{job}"
        );
        let errors = cashier
            .get(&format!("/api/v1/members/imports/{}/errors", job["id"]))
            .await
            .body;
        assert_eq!(
            (&errors["items"][0]["row"], &errors["items"][0]["column"]),
            (&json!(2), &json!("points")),
            "{errors}"
        );
        // The owner, who may adjust points, imports the balance.
        let job = finished(
            &owner,
            &upload(&owner, "format=csv", csv.as_bytes().to_vec())
                .await
                .body,
        )
        .await;
        assert_eq!(job["counts"]["imported"], 1, "{job}");
        let m = owner.get("/api/v1/members?phone=0812345678").await.body["items"][0]["id"]
            .as_i64()
            .unwrap();
        assert_eq!(owner.points(m).await["balance"], 1_000_000);
    }
);

db_test!(what_someone_handed_out_goes_when_their_power_goes, |app| {
    let owner = app.signup("kafe").await;
    let admin = app.hire(&owner, "kafe", "admin").await;
    // An invitation an admin sent cannot be accepted once they are an analyst.
    let inv = admin
        .post(
            "/api/v1/invitations",
            json!({"email": "later@kafe.test", "role": "manager"}),
        )
        .await;
    assert_eq!(inv.status, 201, "{}", inv.body);
    let res = owner
        .patch(
            &format!("/api/v1/staff/{}", admin.id()),
            json!({"role": "analyst"}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    let res = app
        .anonymous()
        .post(
            &format!(
                "/api/v1/invitation-tokens/{}/accept",
                invitation_token(&inv)
            ),
            json!({"name": "Later", "password": PASSWORD}),
        )
        .await;
    assert_eq!(
        (res.status, res.code()),
        (410, "invitation_unusable"),
        "{}",
        res.body
    );
    // Keys made by a key go when it is revoked, and so do the keys they made.
    let maker = key(&app, &owner, &["api_keys.manage", "members.read"]).await;
    let res = maker
        .post(
            "/api/v1/api-keys",
            json!({"name": "child", "scopes": ["api_keys.manage", "members.read"]}),
        )
        .await;
    let child = app.with_key(res.body["secret"].as_str().unwrap());
    let res = child
        .post(
            "/api/v1/api-keys",
            json!({"name": "grandchild", "scopes": ["members.read"]}),
        )
        .await;
    let grandchild = app.with_key(res.body["secret"].as_str().unwrap());
    assert_eq!(grandchild.get("/api/v1/members").await.status, 200);
    let maker_id = maker.get("/api/v1/me").await.body["id"].as_i64().unwrap();
    assert_eq!(
        owner
            .delete(&format!("/api/v1/api-keys/{maker_id}"))
            .await
            .status,
        204
    );
    for k in [&maker, &child, &grandchild] {
        assert_eq!(k.get("/api/v1/members").await.status, 401);
    }
    // A person's own key cannot change that person's role.
    let admin2 = app.hire(&owner, "kafe", "admin").await;
    let permissions = admin2.get("/api/v1/me").await.body["permissions"].clone();
    let all: Vec<&str> = permissions
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    let own = key(&app, &admin2, &all).await;
    let res = own
        .patch(
            &format!("/api/v1/staff/{}", admin2.id()),
            json!({"role": "cashier"}),
        )
        .await;
    assert_eq!((res.status, res.field()), (403, "role"), "{}", res.body);
    assert!(
        res.body["detail"]
            .as_str()
            .unwrap()
            .contains("your own role"),
        "{}",
        res.body
    );
});

db_test!(
    a_merge_and_an_erasure_at_once_never_keep_erased_data,
    |app| {
        let owner = app.signup("kafe").await;
        for round in 0..5 {
            let x = owner
            .post(
                "/api/v1/members",
                json!({"phone": format!("08123460{round}1"), "email": format!("x{round}@erase.test")}),
            )
            .await
            .body["id"]
            .as_i64()
            .unwrap();
            let y = owner.member(&format!("08123460{round}2")).await;
            let (merge_path, erase_path) = (
                format!("/api/v1/members/{y}/merge"),
                format!("/api/v1/members/{x}/erase"),
            );
            let (merged, erased) = tokio::join!(
                owner.post(&merge_path, json!({"other_member_id": x})),
                owner.post(&erase_path, json!({}))
            );
            let mut statuses = [merged.status, erased.status];
            statuses.sort();
            assert_eq!(statuses, [200, 409], "{} / {}", merged.body, erased.body);
            let survivor = owner.get(&format!("/api/v1/members/{y}")).await.body;
            if erased.status == 200 {
                assert!(
                    survivor["email"].is_null(),
                    "the erased email was merged: {survivor}"
                );
            }
        }
        app.assert_no_drift().await;
    }
);
