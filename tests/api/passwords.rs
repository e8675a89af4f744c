//! Staff passwords: changing one's own, and a reset link an owner makes for someone who
//! lost theirs.

use serde_json::json;

use crate::db_test;
use crate::helpers::PASSWORD;

db_test!(
    a_person_changes_their_password_and_their_other_sessions_end,
    |app| {
        let owner = app.signup("kafe").await;
        let other_device = app
            .login("kafe", "owner@kafe.test", PASSWORD)
            .await
            .unwrap();
        let wrong = owner
            .put(
                "/api/v1/me/password",
                json!({"current_password": "not it at all", "new_password": "a new password 1"}),
            )
            .await;
        assert_eq!((wrong.status, wrong.field()), (401, "current_password"));
        let short = owner
            .put(
                "/api/v1/me/password",
                json!({"current_password": PASSWORD, "new_password": "short"}),
            )
            .await;
        assert_eq!((short.status, short.field()), (422, "new_password"));
        let done = owner
            .put(
                "/api/v1/me/password",
                json!({"current_password": PASSWORD, "new_password": "a new password 1"}),
            )
            .await;
        assert_eq!(done.status, 204, "{}", done.body);
        assert_eq!(
            owner.get("/api/v1/me").await.status,
            200,
            "this session stays"
        );
        assert_eq!(
            other_device.get("/api/v1/me").await.status,
            401,
            "the other device is signed out"
        );
        assert!(
            app.login("kafe", "owner@kafe.test", PASSWORD)
                .await
                .is_err()
        );
        assert!(
            app.login("kafe", "owner@kafe.test", "a new password 1")
                .await
                .is_ok()
        );
        // An API key has no password to change.
        let key = owner
            .post(
                "/api/v1/api-keys",
                json!({"name": "till", "scopes": ["points.earn"]}),
            )
            .await;
        let till = app.with_key(key.body["secret"].as_str().unwrap());
        let res = till
            .put(
                "/api/v1/me/password",
                json!({"current_password": "x", "new_password": "a new password 2"}),
            )
            .await;
        assert_eq!(res.status, 403, "{}", res.body);
    }
);

db_test!(
    a_reset_link_sets_a_new_password_once_and_only_an_owner_resets_an_owner,
    |app| {
        let owner = app.signup("kafe").await;
        let admin = app.hire(&owner, "kafe", "admin").await;
        let cashier = app.hire(&owner, "kafe", "cashier").await;
        let cashier_email = cashier.me["email"].as_str().unwrap().to_string();
        let res = admin
            .post(
                &format!("/api/v1/staff/{}/password-reset", owner.id()),
                json!({}),
            )
            .await;
        assert_eq!(res.status, 403, "an admin cannot reset an owner");
        let first = admin
            .post(
                &format!("/api/v1/staff/{}/password-reset", cashier.id()),
                json!({}),
            )
            .await;
        assert_eq!(first.status, 201, "{}", first.body);
        let second = admin
            .post(
                &format!("/api/v1/staff/{}/password-reset", cashier.id()),
                json!({}),
            )
            .await;
        let path = |res: &crate::helpers::Resp| {
            let url = res.body["url"].as_str().unwrap();
            url[url.find("/reset/").unwrap()..].to_string()
        };
        let anon = app.anonymous();
        assert_eq!(
            anon.get(&path(&first)).await.status,
            410,
            "a newer link replaces it"
        );
        assert_eq!(anon.get(&path(&second)).await.status, 200);
        // The old password still works until the new one is set.
        assert!(app.login("kafe", &cashier_email, PASSWORD).await.is_ok());
        let set = crate::page_access::post_form(
            &anon,
            &path(&second),
            &[
                ("password", "the cashier's new one".to_string()),
                ("repeat_password", "the cashier's new one".to_string()),
            ],
        )
        .await;
        assert_eq!(set.status, 303, "{}", set.text);
        assert_eq!(cashier.get("/api/v1/me").await.status, 401, "sessions end");
        assert!(app.login("kafe", &cashier_email, PASSWORD).await.is_err());
        assert!(
            app.login("kafe", &cashier_email, "the cashier's new one")
                .await
                .is_ok()
        );
        assert_eq!(anon.get(&path(&second)).await.status, 410, "used once");
    }
);
