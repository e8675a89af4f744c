//! Shops, branches, staff, invitations, API keys, sessions, audit and API conventions.

use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{PASSWORD, TestApp};

db_test!(signup_uses_thai_defaults_and_signs_the_owner_in, |app| {
    let owner = app.signup("kafe").await;
    let tenant = owner.get("/api/v1/tenant").await;
    assert_eq!(tenant.status, 200);
    assert_eq!(tenant.body["currency"], "THB");
    assert_eq!(tenant.body["time_zone"], "Asia/Bangkok");
    assert_eq!(tenant.body["language"], "th");
    assert_eq!(owner.me["role"], "owner");
    let me = owner.get("/api/v1/me").await;
    assert_eq!(me.body["email"], "owner@kafe.test");
});

db_test!(
    signup_refuses_bad_values_naming_the_field_and_writes_nothing,
    |app| {
        let anon = app.anonymous();
        let good = json!({"shop_name": "ร้านกาแฟ", "slug": "kafe", "owner_name": "Somchai", "owner_email": "o@kafe.test", "password": PASSWORD});
        let cases: &[(&str, Value, u16, &str)] = &[
            ("currency", json!("XYZ"), 422, "invalid_field"),
            ("time_zone", json!("Mars/Olympus"), 422, "invalid_field"),
            ("language", json!("fr"), 422, "invalid_field"),
            ("owner_email", json!("not-an-email"), 422, "invalid_field"),
            ("password", json!("short"), 422, "invalid_field"),
            ("slug", json!("No Spaces"), 422, "invalid_field"),
            ("shop_name", json!(42), 422, "invalid_field"),
            ("colour", json!("red"), 422, "unknown_field"),
        ];
        for (field, value, status, code) in cases {
            let mut body = good.clone();
            body[*field] = value.clone();
            let res = anon.post("/api/v1/signup", body).await;
            assert_eq!(
                (res.status, res.code(), res.field()),
                (*status, *code, *field),
                "{field}: {}",
                res.body
            );
            assert_eq!(res.header("content-type"), "application/problem+json");
        }
        let mut missing = good.clone();
        missing.as_object_mut().unwrap().remove("owner_email");
        let res = anon.post("/api/v1/signup", missing).await;
        assert_eq!(
            (res.status, res.code(), res.field()),
            (422, "missing_field", "owner_email")
        );
        // Nothing was written: the slug is still free.
        let res = anon.post("/api/v1/signup", good.clone()).await;
        assert_eq!(res.status, 201, "{}", res.body);
        let res = anon.post("/api/v1/signup", good).await;
        assert_eq!(
            (res.status, res.code(), res.field()),
            (409, "already_exists", "slug")
        );
    }
);

db_test!(
    malformed_wrong_type_oversized_and_unrouted_requests_are_problems,
    |app| {
        let owner = app.signup("kafe").await;
        let raw = |body: &'static str, ct: &'static str| {
            owner
                .client
                .post(format!("{}/api/v1/branches", owner.base))
                .header("content-type", ct)
                .header("x-csrf-token", owner.csrf.clone().unwrap())
                .body(body)
        };
        let res = crate::helpers::Resp::read(
            raw("{\"code\": ", "application/json").send().await.unwrap(),
        )
        .await;
        assert_eq!((res.status, res.code()), (400, "malformed_json"));
        let res = crate::helpers::Resp::read(
            raw("code=X", "application/x-www-form-urlencoded")
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!((res.status, res.code()), (415, "unsupported_media_type"));
        let big = format!(
            "{{\"code\":\"A\",\"name\":\"{}\"}}",
            "x".repeat(2 * 1024 * 1024)
        );
        let res = owner
            .client
            .post(format!("{}/api/v1/branches", owner.base))
            .header("content-type", "application/json")
            // The server closes the connection after refusing the body: do not reuse it.
            .header("connection", "close")
            .header("x-csrf-token", owner.csrf.clone().unwrap())
            .body(big)
            .send()
            .await
            .unwrap();
        let res = crate::helpers::Resp::read(res).await;
        assert_eq!((res.status, res.code()), (413, "body_too_large"));
        let res = owner
            .post("/api/v1/branches", json!({"code": "A", "name": ["x"]}))
            .await;
        assert_eq!(
            (res.status, res.code(), res.field()),
            (422, "invalid_field", "name")
        );
        let res = owner.get("/api/v1/nowhere").await;
        assert_eq!((res.status, res.code()), (404, "not_found"));
        let res = owner.get("/api/v1/branches/not-a-number").await;
        assert_eq!((res.status, res.code()), (404, "not_found"));
        let res = owner.get("/api/v1/branches?limit=0").await;
        assert_eq!(
            (res.status, res.code(), res.field()),
            (400, "invalid_query", "limit")
        );
        let res = owner.get("/api/v1/branches?cursor=garbage").await;
        assert_eq!((res.status, res.code()), (400, "invalid_cursor"));
        let res = owner.put("/api/v1/branches", json!({})).await;
        assert_eq!((res.status, res.code()), (405, "method_not_allowed"));
        assert!(
            owner.all("/api/v1/branches").await.is_empty(),
            "nothing was written"
        );
    }
);

db_test!(tenant_settings_change_and_bad_settings_are_refused, |app| {
    let owner = app.signup("kafe").await;
    let res = owner.patch("/api/v1/tenant", json!({"name": "Kafe Two", "language": "en", "time_zone": "Asia/Tokyo", "currency": "jpy"})).await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(
        (
            res.body["name"].as_str(),
            res.body["currency"].as_str(),
            res.body["language"].as_str()
        ),
        (Some("Kafe Two"), Some("JPY"), Some("en"))
    );
    let res = owner
        .patch("/api/v1/tenant", json!({"time_zone": "Bangkok"}))
        .await;
    assert_eq!((res.status, res.field()), (422, "time_zone"));
    assert_eq!(
        owner.get("/api/v1/tenant").await.body["time_zone"],
        "Asia/Tokyo"
    );
});

db_test!(
    branches_are_created_listed_by_cursor_and_codes_are_unique,
    |app| {
        let owner = app.signup("kafe").await;
        let mut ids = vec![];
        for code in ["SIAM", "NIMMAN", "OLDTOWN", "ARI", "THONGLOR"] {
            ids.push(owner.branch(code).await);
        }
        let listed: Vec<i64> = owner
            .all("/api/v1/branches")
            .await
            .iter()
            .map(|b| b["id"].as_i64().unwrap())
            .collect();
        let mut expected = ids.clone();
        expected.reverse();
        assert_eq!(
            listed, expected,
            "newest first, every branch exactly once across pages"
        );
        let res = owner
            .post("/api/v1/branches", json!({"code": "siam", "name": "Again"}))
            .await;
        assert_eq!(
            (res.status, res.code(), res.field()),
            (409, "already_exists", "code")
        );
        let res = owner
            .patch(
                &format!("/api/v1/branches/{}", ids[0]),
                json!({"name": "สาขาสยาม", "active": false}),
            )
            .await;
        assert_eq!(
            (
                res.status,
                res.body["name"].as_str(),
                res.body["active"].as_bool()
            ),
            (200, Some("สาขาสยาม"), Some(false))
        );
        let res = owner
            .patch(&format!("/api/v1/branches/{}", ids[0]), json!({"name": ""}))
            .await;
        assert_eq!((res.status, res.field()), (422, "name"));
    }
);

db_test!(an_invited_person_sets_a_password_and_signs_in, |app| {
    let owner = app.signup("kafe").await;
    let siam = owner.branch("SIAM").await;
    let inv = owner
        .post(
            "/api/v1/invitations",
            json!({"email": "Mani@Kafe.test", "role": "cashier", "branch_ids": [siam]}),
        )
        .await;
    assert_eq!(inv.status, 201, "{}", inv.body);
    assert!(
        inv.body["qr_svg"].as_str().unwrap().starts_with("<?xml"),
        "QR code is an SVG"
    );
    let url = inv.body["url"].as_str().unwrap();
    assert!(url.starts_with(&app.base), "{url}");
    let token = crate::helpers::invitation_token(&inv);
    let anon = app.anonymous();
    let preview = anon
        .get(&format!("/api/v1/invitation-tokens/{token}"))
        .await;
    assert_eq!(
        (
            preview.body["role"].as_str(),
            preview.body["status"].as_str(),
            preview.body["email"].as_str()
        ),
        (Some("cashier"), Some("pending"), Some("mani@kafe.test"))
    );
    let res = anon
        .post(
            &format!("/api/v1/invitation-tokens/{token}/accept"),
            json!({"name": "มานี", "password": "short"}),
        )
        .await;
    assert_eq!((res.status, res.field()), (422, "password"));
    let res = anon
        .post(
            &format!("/api/v1/invitation-tokens/{token}/accept"),
            json!({"name": "มานี", "password": PASSWORD}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.body);
    let again = app
        .anonymous()
        .post(
            &format!("/api/v1/invitation-tokens/{token}/accept"),
            json!({"name": "Other", "password": PASSWORD}),
        )
        .await;
    assert_eq!((again.status, again.code()), (410, "invitation_unusable"));
    let cashier = app
        .login("kafe", "mani@kafe.test", PASSWORD)
        .await
        .expect("the new cashier signs in");
    assert_eq!(cashier.me["role"], "cashier");
    let staff = owner.get(&format!("/api/v1/staff/{}", cashier.id())).await;
    assert_eq!(staff.body["branch_ids"], json!([siam]));
    let invitations = owner.all("/api/v1/invitations").await;
    assert_eq!(invitations[0]["status"], "accepted");
});

db_test!(invitations_respect_roles_branches_and_revocation, |app| {
    let owner = app.signup("kafe").await;
    let admin = app.hire(&owner, "kafe", "admin").await;
    let res = admin
        .post(
            "/api/v1/invitations",
            json!({"email": "boss@kafe.test", "role": "owner"}),
        )
        .await;
    assert_eq!(
        (res.status, res.code(), res.field()),
        (403, "forbidden", "role")
    );
    let res = admin
        .post(
            "/api/v1/invitations",
            json!({"email": "x@kafe.test", "role": "cashier", "branch_ids": [12345]}),
        )
        .await;
    assert_eq!((res.status, res.field()), (422, "branch_ids[0]"));
    let res = admin
        .post(
            "/api/v1/invitations",
            json!({"email": "owner@kafe.test", "role": "cashier"}),
        )
        .await;
    assert_eq!((res.status, res.field()), (409, "email"));
    let res = admin
        .post(
            "/api/v1/invitations",
            json!({"email": "y@kafe.test", "role": "chef"}),
        )
        .await;
    assert_eq!((res.status, res.field()), (422, "role"));
    let inv = admin
        .post(
            "/api/v1/invitations",
            json!({"email": "z@kafe.test", "role": "analyst"}),
        )
        .await;
    let token = crate::helpers::invitation_token(&inv);
    let res = admin
        .delete(&format!(
            "/api/v1/invitations/{}",
            inv.body["invitation"]["id"]
        ))
        .await;
    assert_eq!(res.status, 204);
    let res = app
        .anonymous()
        .post(
            &format!("/api/v1/invitation-tokens/{token}/accept"),
            json!({"name": "Z", "password": PASSWORD}),
        )
        .await;
    assert_eq!((res.status, res.code()), (410, "invitation_unusable"));
});

db_test!(expired_invitations_cannot_be_used, |app| {
    let _ = app;
    let app = TestApp::spawn_with(app.backend, |s| s.invitation_hours = 0).await;
    let owner = app.signup("kafe").await;
    let inv = owner
        .post(
            "/api/v1/invitations",
            json!({"email": "late@kafe.test", "role": "cashier"}),
        )
        .await;
    let token = crate::helpers::invitation_token(&inv);
    let res = app
        .anonymous()
        .post(
            &format!("/api/v1/invitation-tokens/{token}/accept"),
            json!({"name": "Late", "password": PASSWORD}),
        )
        .await;
    assert_eq!((res.status, res.code()), (410, "invitation_unusable"));
});

db_test!(
    staff_changes_are_guarded_and_deactivation_ends_sessions,
    |app| {
        let owner = app.signup("kafe").await;
        let cashier = app.hire(&owner, "kafe", "cashier").await;
        let admin = app.hire(&owner, "kafe", "admin").await;
        assert_eq!(cashier.get("/api/v1/me").await.status, 200);
        // An admin cannot demote the owner; nobody changes their own role; the last owner stays.
        let res = admin
            .patch(
                &format!("/api/v1/staff/{}", owner.id()),
                json!({"role": "cashier"}),
            )
            .await;
        assert_eq!(res.status, 403, "{}", res.body);
        let res = owner
            .patch(
                &format!("/api/v1/staff/{}", owner.id()),
                json!({"role": "admin"}),
            )
            .await;
        assert_eq!((res.status, res.field()), (403, "role"));
        let res = admin
            .patch(
                &format!("/api/v1/staff/{}", cashier.id()),
                json!({"role": "manager"}),
            )
            .await;
        assert_eq!(
            (res.status, res.body["role"].as_str()),
            (200, Some("manager"))
        );
        // The role change ended the cashier's session: they must sign in again.
        assert_eq!(cashier.get("/api/v1/me").await.status, 401);
        let res = admin
            .patch(
                &format!("/api/v1/staff/{}", cashier.id()),
                json!({"active": false}),
            )
            .await;
        assert_eq!(res.status, 200);
        let email = res.body["email"].as_str().unwrap().to_string();
        let res = app
            .login("kafe", &email, PASSWORD)
            .await
            .err()
            .expect("deactivated staff cannot sign in");
        assert_eq!(res.code(), "invalid_credentials");
    }
);

db_test!(api_keys_are_scoped_shown_once_and_revocable, |app| {
    let owner = app.signup("kafe").await;
    let created = owner
        .post(
            "/api/v1/api-keys",
            json!({"name": "POS", "scopes": ["branches.read"]}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let secret = created.body["secret"].as_str().unwrap().to_string();
    let listed = owner.get("/api/v1/api-keys").await;
    assert!(
        !listed.text.contains(&secret[10..]),
        "the secret is never listed"
    );
    let pos = app.with_key(&secret);
    assert_eq!(pos.get("/api/v1/branches").await.status, 200);
    let res = pos
        .post("/api/v1/branches", json!({"code": "X", "name": "X"}))
        .await;
    assert_eq!((res.status, res.code()), (403, "forbidden"));
    let res = app
        .with_key(&format!("{}x", secret))
        .get("/api/v1/branches")
        .await;
    assert_eq!((res.status, res.code()), (401, "unauthenticated"));
    let manager = app.hire(&owner, "kafe", "manager").await;
    let res = manager
        .post(
            "/api/v1/api-keys",
            json!({"name": "Mine", "scopes": ["branches.read"]}),
        )
        .await;
    assert_eq!(res.status, 403, "managers cannot make keys");
    let res = owner
        .post(
            "/api/v1/api-keys",
            json!({"name": "Bad", "scopes": ["points.print"]}),
        )
        .await;
    assert_eq!((res.status, res.field()), (422, "scopes[0]"));
    let res = owner
        .post("/api/v1/api-keys", json!({"name": "None", "scopes": []}))
        .await;
    assert_eq!((res.status, res.field()), (422, "scopes"));
    let res = owner
        .delete(&format!("/api/v1/api-keys/{}", created.body["key"]["id"]))
        .await;
    assert_eq!(res.status, 204);
    assert_eq!(
        pos.get("/api/v1/branches").await.status,
        401,
        "a revoked key stops working"
    );
});

db_test!(
    a_key_revoked_on_another_server_stops_working_within_the_trust_time,
    |app| {
        // Two servers sharing one database: `here` trusts a key it found valid for an
        // hour, `there` reads it on every request.
        let here = TestApp::spawn_with(app.backend, |s| s.api_key_trust_secs = 3600).await;
        let there = here.another_server(|s| s.api_key_trust_secs = 0).await;
        let owner = here.signup("kafe").await;
        let key = |name: &str| {
            let owner = &owner;
            let name = name.to_string();
            async move {
                let created = owner
                    .post(
                        "/api/v1/api-keys",
                        json!({"name": name, "scopes": ["branches.read"]}),
                    )
                    .await;
                assert_eq!(created.status, 201, "{}", created.body);
                (
                    created.body["key"]["id"].as_i64().unwrap(),
                    created.body["secret"].as_str().unwrap().to_string(),
                )
            }
        };
        let (first, secret) = key("POS 1").await;
        for server in [&here, &there] {
            assert_eq!(
                server
                    .with_key(&secret)
                    .get("/api/v1/branches")
                    .await
                    .status,
                200
            );
        }
        // Revoked through `there` (an owner's session works on any server).
        let Ok(owner_there) = there.login("kafe", "owner@kafe.test", PASSWORD).await else {
            panic!("the owner signs in on the other server");
        };
        let res = owner_there
            .delete(&format!("/api/v1/api-keys/{first}"))
            .await;
        assert_eq!(res.status, 204);
        assert_eq!(
            there.with_key(&secret).get("/api/v1/branches").await.status,
            401
        );
        assert_eq!(
            here.with_key(&secret).get("/api/v1/branches").await.status,
            200,
            "still trusted where it was read before the revocation, for the trust time"
        );
        here.clock.advance(std::time::Duration::from_secs(3_601));
        assert_eq!(
            here.with_key(&secret).get("/api/v1/branches").await.status,
            401,
            "trusted no longer than the trust time"
        );

        // Revoked through `here`: `there`, which trusts nothing, refuses it at once.
        let (second, secret) = key("POS 2").await;
        assert_eq!(
            there.with_key(&secret).get("/api/v1/branches").await.status,
            200
        );
        let res = owner.delete(&format!("/api/v1/api-keys/{second}")).await;
        assert_eq!(res.status, 204);
        assert_eq!(
            there.with_key(&secret).get("/api/v1/branches").await.status,
            401
        );
    }
);

db_test!(an_api_key_cannot_get_permissions_its_creator_lacks, |app| {
    let owner = app.signup("kafe").await;
    let keys = owner
        .post(
            "/api/v1/api-keys",
            json!({"name": "Key maker", "scopes": ["api_keys.manage"]}),
        )
        .await;
    let maker = app.with_key(keys.body["secret"].as_str().unwrap());
    let res = maker
        .post(
            "/api/v1/api-keys",
            json!({"name": "Escalate", "scopes": ["staff.manage"]}),
        )
        .await;
    assert_eq!(
        (res.status, res.code(), res.field()),
        (403, "forbidden", "scopes[0]")
    );
});

db_test!(cookie_writes_need_the_csrf_token, |app| {
    let mut owner = app.signup("kafe").await;
    let token = owner.csrf.take();
    let res = owner
        .post("/api/v1/branches", json!({"code": "A", "name": "A"}))
        .await;
    assert_eq!((res.status, res.code()), (403, "csrf_failed"));
    owner.csrf = Some("wrong".into());
    assert_eq!(
        owner
            .post("/api/v1/branches", json!({"code": "A", "name": "A"}))
            .await
            .code(),
        "csrf_failed"
    );
    owner.csrf = token;
    assert_eq!(
        owner
            .post("/api/v1/branches", json!({"code": "A", "name": "A"}))
            .await
            .status,
        201
    );
    assert_eq!(owner.all("/api/v1/branches").await.len(), 1);
});

db_test!(sign_in_is_rate_limited_and_failures_are_audited, |app| {
    let owner = app.signup("kafe").await;
    for _ in 0..5 {
        let res = app
            .login("kafe", "owner@kafe.test", "wrong password!")
            .await
            .err()
            .unwrap();
        assert_eq!((res.status, res.code()), (401, "invalid_credentials"));
    }
    let res = app
        .login("kafe", "owner@kafe.test", PASSWORD)
        .await
        .err()
        .expect("the account is locked for a moment");
    assert_eq!((res.status, res.code()), (429, "rate_limited"));
    assert!(res.header("retry-after").parse::<u64>().unwrap() >= 1);
    let failed = owner
        .all("/api/v1/audit-log?action=session.login_failed")
        .await;
    assert_eq!(failed.len(), 5);
    // Unknown shops and emails answer exactly like a wrong password.
    let res = app
        .login("nope", "owner@kafe.test", PASSWORD)
        .await
        .err()
        .unwrap();
    assert_eq!(res.code(), "invalid_credentials");
});

db_test!(sign_out_ends_the_session, |app| {
    let owner = app.signup("kafe").await;
    assert_eq!(owner.delete("/api/v1/sessions/current").await.status, 204);
    assert_eq!(owner.get("/api/v1/me").await.status, 401);
});

db_test!(
    idempotency_keys_replay_the_first_response_and_refuse_other_bodies,
    |app| {
        let owner = app.signup("kafe").await;
        let body = json!({"code": "SIAM", "name": "Siam"});
        let first = owner
            .request(
                reqwest::Method::POST,
                "/api/v1/branches",
                Some(body.clone()),
                &[("idempotency-key", "k-1")],
            )
            .await;
        assert_eq!(first.status, 201);
        let again = owner
            .request(
                reqwest::Method::POST,
                "/api/v1/branches",
                Some(body.clone()),
                &[("idempotency-key", "k-1")],
            )
            .await;
        assert_eq!(
            (again.status, &again.body),
            (201, &first.body),
            "the replay is the first response"
        );
        assert_eq!(again.header("idempotent-replayed"), "true");
        let other = owner
            .request(
                reqwest::Method::POST,
                "/api/v1/branches",
                Some(json!({"code": "ARI", "name": "Ari"})),
                &[("idempotency-key", "k-1")],
            )
            .await;
        assert_eq!(
            (other.status, other.code()),
            (422, "idempotency_key_reused")
        );
        let bad = owner
            .request(
                reqwest::Method::POST,
                "/api/v1/branches",
                Some(body),
                &[("idempotency-key", "")],
            )
            .await;
        assert_eq!(bad.code(), "idempotency_key_invalid");
        assert_eq!(
            owner.all("/api/v1/branches").await.len(),
            1,
            "one branch, however often it was sent"
        );
        // Keys belong to a tenant: another shop may use the same key.
        let other_owner = app.signup("other").await;
        let res = other_owner
            .request(
                reqwest::Method::POST,
                "/api/v1/branches",
                Some(json!({"code": "SIAM", "name": "Siam"})),
                &[("idempotency-key", "k-1")],
            )
            .await;
        assert_eq!((res.status, res.header("idempotent-replayed")), (201, ""));
    }
);

db_test!(
    the_audit_log_records_who_what_when_where_and_filters,
    |app| {
        let owner = app.signup("kafe").await;
        let res = owner
            .request(
                reqwest::Method::POST,
                "/api/v1/branches",
                Some(json!({"code": "SIAM", "name": "Siam"})),
                &[("x-request-id", "req-branch-1")],
            )
            .await;
        assert_eq!(res.header("x-request-id"), "req-branch-1");
        let entries = owner.all("/api/v1/audit-log?action=branch.created").await;
        assert_eq!(entries.len(), 1);
        let e = &entries[0];
        assert_eq!(
            (
                e["actor_kind"].as_str(),
                e["actor_label"].as_str(),
                e["target_id"].as_i64()
            ),
            (
                Some("staff"),
                Some("owner@kafe.test"),
                res.body["id"].as_i64()
            )
        );
        assert_eq!(
            (e["ip"].as_str(), e["request_id"].as_str()),
            (Some("127.0.0.1"), Some("req-branch-1"))
        );
        assert!(e["at"].as_str().unwrap().ends_with('Z'));
        let by_request = owner.all("/api/v1/audit-log?request_id=req-branch-1").await;
        assert_eq!(by_request.len(), 1);
        let future = owner
            .all("/api/v1/audit-log?since=2100-01-01T00:00:00Z")
            .await;
        assert!(future.is_empty());
        let all = owner.all("/api/v1/audit-log").await;
        let actions: Vec<&str> = all.iter().map(|e| e["action"].as_str().unwrap()).collect();
        assert_eq!(
            actions,
            vec!["branch.created", "session.created", "tenant.created"]
        );
        // Every filter narrows, alone and together (each one a condition of its own).
        let branch = res.body["id"].as_i64().unwrap();
        let actor = e["actor_id"].as_i64().unwrap();
        let count = |query: String| {
            let owner = &owner;
            async move { owner.all(&format!("/api/v1/audit-log?{query}")).await.len() }
        };
        assert_eq!(
            count(format!("target_kind=branch&target_id={branch}")).await,
            1
        );
        assert_eq!(count(format!("target_id={}", branch + 1)).await, 0);
        assert_eq!(count(format!("actor_kind=staff&actor_id={actor}")).await, 3);
        assert_eq!(count("actor_kind=system".into()).await, 0);
        assert_eq!(
            count(format!("actor_id={actor}&action=branch.created")).await,
            1
        );
        assert_eq!(count("until=2000-01-01T00:00:00Z".into()).await, 0);
        assert_eq!(
            count("since=2000-01-01T00:00:00Z&until=2100-01-01T00:00:00Z".into()).await,
            3
        );
        assert_eq!(
            count("action=branch.created&request_id=other".into()).await,
            0
        );
        let res = owner.get("/api/v1/audit-log?since=yesterday").await;
        assert_eq!((res.status, res.code()), (400, "invalid_query"));
    }
);

// A request without an id gets one that is later than every id this server gave before
// (time-ordered), and the audit log files the request's changes under it: the index on
// request ids grows at its end instead of taking a random place for every audited write.
db_test!(
    the_server_gives_requests_ids_in_the_order_they_came,
    |app| {
        let owner = app.signup("kafe").await;
        let mut ids = vec![];
        for code in ["A", "B", "C", "D"] {
            let res = owner
                .post("/api/v1/branches", json!({"code": code, "name": code}))
                .await;
            assert_eq!(res.status, 201, "{}", res.body);
            ids.push(res.header("x-request-id").to_string());
        }
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(
            sorted, ids,
            "ids unique and increasing as the requests came"
        );
        for id in &ids {
            let entries = owner
                .all(&format!("/api/v1/audit-log?request_id={id}"))
                .await;
            assert_eq!(entries.len(), 1, "{id}");
            assert_eq!(entries[0]["action"], "branch.created");
        }
    }
);

db_test!(operations_endpoints_answer, |app| {
    let anon = app.anonymous();
    let owner = app.signup("kafe").await;
    let _ = owner.get("/api/v1/tenant").await;
    let health = reqwest::get(format!("{}/healthz", app.base)).await.unwrap();
    assert_eq!(health.status(), 200);
    let ready = reqwest::get(format!("{}/readyz", app.base)).await.unwrap();
    assert_eq!(ready.status(), 200);
    let metrics = reqwest::get(format!("{}/metrics", app.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("loyal_http_requests_total"), "{metrics}");
    assert!(metrics.contains("route=\"/api/v1/tenant\""));
    let docs = anon.get("/api/docs").await;
    assert!(
        docs.text.contains("/api/v1/branches")
            && docs.text.contains("error-idempotency_key_reused")
    );
    let spec = anon.get("/api/openapi.json").await;
    assert_eq!(spec.body["openapi"], "3.1.0");
});

/// `/metrics` in Prometheus' text format.
async fn scrape(app: &TestApp) -> String {
    reqwest::get(format!("{}/metrics", app.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// A sample's value (`name` with its labels as rendered), 0 when it is not there yet.
fn sample(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or(0.0)
}

db_test!(
    metrics_show_the_ledger_writer_and_the_bulk_jobs_at_work,
    |app| {
        // The recorder is the process's: other tests add to it at the same time, so each
        // sample is compared with its value before, as at least what this test did.
        let before = scrape(&app).await;
        let owner = app.signup("kafe").await;
        owner.set_rolling_expiry(1).await;
        // 6 purchases, one request after another: 6 groups at least.
        crate::ledger::members_with_old_lots(&owner, 3, 2).await;
        let run = loyal::ledger::run_expiry(&app.db, loyal::store::now_micros())
            .await
            .unwrap();
        assert_eq!(run.lots, 6, "{run:?}");
        // 2 new members, 1 phone already a member, 1 row refused.
        let csv = "phone,full_name,points\n0812345600,again,5\n0891111111,ก,10\n0892222222,ข,0\n123,bad,1\n";
        let start = crate::imports::upload(&owner, "format=csv", csv.as_bytes().to_vec()).await;
        assert_eq!(start.status, 202, "{}", start.body);
        let job = crate::imports::finished(&owner, &start.body).await;
        assert_eq!(
            (
                &job["counts"]["imported"],
                &job["counts"]["existing"],
                &job["counts"]["failed"]
            ),
            (&json!(2), &json!(1), &json!(1)),
            "{job}"
        );
        let after = scrape(&app).await;
        // Each sample grew by at least what this test did.
        let at_least = [
            ("loyal_ledger_group_seconds_count", 6.0),
            ("loyal_ledger_group_size_sum", 6.0),
            ("loyal_expiry_lots_total", 6.0),
            ("loyal_expiry_points_total", run.points as f64),
            ("loyal_bulk_transaction_seconds_count{job=\"expiry\"}", 1.0),
            ("loyal_bulk_transaction_seconds_count{job=\"import\"}", 1.0),
            ("loyal_import_rows_total{outcome=\"imported\"}", 2.0),
            ("loyal_import_rows_total{outcome=\"existing\"}", 1.0),
            ("loyal_import_rows_total{outcome=\"failed\"}", 1.0),
        ];
        for (name, least) in at_least {
            let grew = sample(&after, name) - sample(&before, name);
            assert!(
                grew >= least,
                "{name} grew by {grew}, not {least}:\n{after}"
            );
        }
        // Read at the scrape from this server's writers; the periodic jobs' failures are
        // there (at 0 in a process where none failed) before any happened.
        assert!(
            after.contains("loyal_ledger_queued_purchases{writer=\"0\"} "),
            "{after}"
        );
        assert!(
            after.contains("loyal_housekeeping_failures_total{job=\"expiry\"}"),
            "{after}"
        );
    }
);

db_test!(
    a_bulk_insert_keeps_every_text_and_null_as_given_and_refuses_a_duplicate_whole,
    |app| {
        use loyal::store::Val::{Int, OptInt, OptText, Text};
        // PostgreSQL writes 1,000 rows or more with COPY's text format, where tabs, line
        // ends and backslashes are separators or escapes: they must come back as given.
        let notes = [
            "a\tb",
            "line\nbreak\r\n",
            "back\\slash \\N",
            "",
            "ร้าน บ้านกาแฟ",
            "\\.",
        ];
        let rows: Vec<_> = (0..1_500i64)
            .map(|i| {
                let note = notes[i as usize % notes.len()];
                vec![
                    Int(1),
                    Int(i),
                    Text(note),
                    OptText((i % 4 == 0).then_some(note)),
                    OptInt((i % 3 == 0).then_some(-i)),
                ]
            })
            .collect();
        let create = "CREATE TABLE bulk_probe (tenant_id BIGINT NOT NULL, id BIGINT NOT NULL, \
                      note TEXT NOT NULL, maybe TEXT, n BIGINT, PRIMARY KEY (tenant_id, id))";
        let head = "INSERT INTO bulk_probe (tenant_id, id, note, maybe, n)";
        let mut tx = app.db.begin().await.unwrap();
        loyal::on_tx!(&mut tx, c => sqlx::query(create).execute(&mut *c).await.map(|_| ()).unwrap());
        let written = loyal::store::execute_values(&mut tx, head, "", &rows)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(written, 1_500);
        let back: Vec<(i64, String, Option<String>, Option<i64>)> = loyal::on_db!(&app.db, pool =>
            sqlx::query_as("SELECT id, note, maybe, n FROM bulk_probe ORDER BY id").fetch_all(pool).await.unwrap());
        assert_eq!(back.len(), 1_500);
        for (i, (id, note, maybe, n)) in back.into_iter().enumerate() {
            let want = notes[i % notes.len()];
            assert_eq!(id, i as i64);
            assert_eq!(note, want, "row {i}");
            assert_eq!(maybe.as_deref(), (i % 4 == 0).then_some(want), "row {i}");
            assert_eq!(n, (i % 3 == 0).then_some(-(i as i64)), "row {i}");
        }
        // A duplicate key in the middle: the database's unique violation, and none of
        // the rows around it written.
        let again: Vec<_> = (1_500..3_000i64)
            .map(|i| {
                vec![
                    Int(1),
                    Int(if i == 2_222 { 7 } else { i }),
                    Text("x"),
                    OptText(None),
                    OptInt(None),
                ]
            })
            .collect();
        let mut tx = app.db.begin().await.unwrap();
        let err = loyal::store::execute_values(&mut tx, head, "", &again)
            .await
            .unwrap_err();
        assert!(loyal::store::is_unique_violation(&err), "{err}");
        drop(tx);
        let (count,): (i64,) = loyal::on_db!(&app.db, pool =>
            sqlx::query_as("SELECT COUNT(*) FROM bulk_probe").fetch_one(pool).await.unwrap());
        assert_eq!(count, 1_500);
    }
);
