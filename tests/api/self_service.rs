//! A member's own account on the member page: their details, marketing consent given and
//! withdrawn as easily, their data downloaded, and erasure asked for and carried out by
//! staff.

use serde_json::json;

use crate::db_test;
use crate::page_access::{hidden, member_signed_in, post_form};

db_test!(
    a_member_changes_their_details_and_consents_downloads_their_data_and_asks_to_be_erased,
    |app| {
        let owner = app.signup("kafe").await;
        let m = owner.member("0812345678").await;
        let form = json!({"terms": "T", "privacy": "P", "marketing_channels": ["line", "sms"], "questions": []});
        assert_eq!(owner.put("/api/v1/signup-form", form).await.status, 200);
        let member = member_signed_in(&app, &owner, "0812345678").await;

        let page = member.get("/m/kafe/me?lang=th").await;
        assert_eq!(page.status, 200, "{}", page.text);
        assert!(page.text.contains("Mali"), "their name, ready to edit");
        assert!(
            page.text.contains("id=\"marketing_sms_ok\"") && !page.text.contains("checked"),
            "the channels the shop offers, none given yet: {}",
            page.text
        );
        assert!(
            page.text
                .contains("href=\"/m/kafe/me\" aria-current=\"page\"")
                && !page.text.contains("href=\"/m/kafe\" aria-current"),
            "the navigation shows where the member is"
        );
        let csrf = hidden(&page.text, "_csrf");
        let save = |email: &str, sms: bool| {
            let mut fields = vec![
                ("_csrf", csrf.clone()),
                ("first_name", "Malee".to_string()),
                ("last_name", "Dee".to_string()),
                ("email", email.to_string()),
                ("birthday", "31/12/2535".to_string()),
                ("shown", "marketing_line".to_string()),
                ("shown", "marketing_sms".to_string()),
            ];
            if sms {
                fields.push(("marketing_sms_ok", "on".to_string()));
            }
            let member = &member;
            async move { post_form(member, "/m/kafe/me", &fields).await }
        };

        // A refusal next to its field, in the page's language, with what was typed kept.
        let refused = save("not-an-email", true).await;
        assert_eq!(refused.status, 422);
        assert!(refused.text.contains("อีเมลไม่ถูกต้อง"), "{}", refused.text);
        assert!(refused.text.contains("value=\"Malee\""), "typed name kept");
        let got = owner.get(&format!("/api/v1/members/{m}")).await;
        assert_eq!(got.body["first_name"], "Mali", "nothing half-saved");

        let saved = save("malee@example.com", true).await;
        assert_eq!(saved.status, 303, "{}", saved.text);
        assert_eq!(saved.header("location"), "/m/kafe/me?saved=1");
        let got = owner.get(&format!("/api/v1/members/{m}")).await;
        assert_eq!(
            (
                &got.body["first_name"],
                &got.body["last_name"],
                &got.body["email"],
                &got.body["birthday"]
            ),
            (
                &json!("Malee"),
                &json!("Dee"),
                &json!("malee@example.com"),
                &json!("1992-12-31")
            ),
            "the Buddhist-era birthday stored in the Gregorian calendar"
        );
        let consents = owner.get(&format!("/api/v1/members/{m}/consents")).await;
        let sms: Vec<_> = consents.body["history"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["purpose"] == "marketing_sms")
            .collect();
        assert_eq!(sms.len(), 1, "{}", consents.body);
        assert_eq!(
            (&sms[0]["granted"], &sms[0]["channel"]),
            (&json!(true), &json!("member_page"))
        );
        assert!(
            !consents.body["history"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["purpose"] == "marketing_line"),
            "a box left as it was records nothing"
        );
        // Withdrawn as easily as given: untick and save.
        assert_eq!(save("malee@example.com", false).await.status, 303);
        let consents = owner.get(&format!("/api/v1/members/{m}/consents")).await;
        let now: Vec<_> = consents.body["current"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["purpose"] == "marketing_sms")
            .collect();
        assert_eq!(now[0]["granted"], false, "{}", consents.body);
        // Staff see both on the member's page, with where they were given.
        let staff_view = owner.get(&format!("/admin/members/{m}?lang=en")).await;
        let history = staff_view
            .text
            .split("id=\"consent-history\"")
            .nth(1)
            .unwrap_or_default();
        assert_eq!(
            history.matches("On the member page").count(),
            2,
            "given and withdrawn on the member page: {history}"
        );

        // Their data, as a file to keep; the download is in the audit log as theirs.
        let data = member.get("/m/kafe/me/data").await;
        assert_eq!(data.status, 200);
        assert!(
            data.header("content-disposition")
                .starts_with("attachment; filename=\"kafe-my-data.json\""),
            "{}",
            data.header("content-disposition")
        );
        assert_eq!(data.body["member"]["first_name"], "Malee");
        assert!(data.body["consents"].as_array().unwrap().len() >= 2);
        let audit = owner.get("/api/v1/audit-log?action=member.exported").await;
        assert_eq!(
            audit.body["items"][0]["actor_kind"], "member",
            "{}",
            audit.body
        );

        // Erasure: what it removes and keeps first, then the request, asked once.
        let first = post_form(&member, "/m/kafe/me/erase", &[("_csrf", csrf.clone())]).await;
        assert_eq!(first.status, 200);
        assert!(first.text.contains("m-erase-yes"), "a confirmation step");
        assert!(
            owner.get(&format!("/api/v1/members/{m}/360")).await.body["erasure_request"].is_null(),
            "nothing asked before it is confirmed"
        );
        let confirm = [("_csrf", csrf.clone()), ("confirm", "yes".to_string())];
        for _ in 0..2 {
            let asked = post_form(&member, "/m/kafe/me/erase", &confirm).await;
            assert_eq!(asked.status, 303, "{}", asked.text);
        }
        let page = member.get("/m/kafe/me").await;
        assert!(page.text.contains("m-erasure-asked"), "{}", page.text);
        let view = owner.get(&format!("/api/v1/members/{m}/360")).await;
        let request = &view.body["erasure_request"];
        let at = |k: &str| {
            request[k]
                .as_str()
                .unwrap()
                .parse::<jiff::Timestamp>()
                .unwrap()
        };
        let days = at("due_at").duration_since(at("requested_at")).as_hours() / 24;
        assert_eq!(days, 30, "{request}");
        let list = owner.get("/admin/members").await;
        assert!(
            list.text.contains("erasure-requests") && list.text.contains("Malee Dee"),
            "staff see who asked"
        );

        // Staff erase them: the request is done and the member's session ends.
        let erased = owner
            .post(&format!("/api/v1/members/{m}/erase"), json!({}))
            .await;
        assert_eq!(erased.status, 200, "{}", erased.body);
        let view = owner.get(&format!("/api/v1/members/{m}/360")).await;
        assert!(view.body["erasure_request"].is_null(), "{}", view.body);
        assert!(
            !owner
                .get("/admin/members")
                .await
                .text
                .contains("erasure-requests")
        );
        let after = member.get("/m/kafe/me").await;
        assert_eq!(after.status, 303, "signed out: {}", after.text);
    }
);

db_test!(
    the_cashier_scans_the_members_card_and_a_code_older_than_two_minutes_finds_no_one,
    |app| {
        let owner = app.signup("kafe").await;
        let siam = owner.branch("SIAM").await;
        let m = owner.member("0812345678").await;
        let member = member_signed_in(&app, &owner, "0812345678").await;
        let home = member.get("/m/kafe?lang=en").await;
        let code = card_code(&home.text);
        assert!(code.starts_with(&format!("M{m}-")), "{code}");
        assert!(home.text.contains("<svg"), "with its QR");
        assert!(
            home.text.contains("id=\"m-card-barcode\"") && home.text.contains("<rect"),
            "and its barcode"
        );
        // An older scanner reads the barcode: the code's digits, which find the member.
        let digits: String = code.chars().filter(char::is_ascii_digit).collect();
        let scanned = owner
            .get(&format!("/staff/earn?phone={digits}&lang=en"))
            .await;
        assert!(
            scanned.text.contains("id=\"amount\""),
            "the barcode finds the member"
        );

        // A handheld scanner types the code into the counter's search box.
        let counter = owner
            .get(&format!("/staff/earn?phone={code}&lang=en"))
            .await;
        assert_eq!(counter.status, 200);
        assert!(
            counter.text.contains("id=\"amount\""),
            "the member is found"
        );
        assert!(
            counter
                .text
                .contains("name=\"phone\" value=\"+66812345678\""),
            "the bill goes on with the member's phone, not the code"
        );
        let csrf = hidden(&counter.text, "_csrf");
        for step in ["preview", "confirm"] {
            let res = post_form(
                &owner,
                "/staff/earn",
                &[
                    ("_csrf", csrf.clone()),
                    ("phone", code.clone()),
                    ("amount", "100".to_string()),
                    ("receipt", "CARD-1".to_string()),
                    ("branch_id", siam.to_string()),
                    ("step", step.to_string()),
                ],
            )
            .await;
            assert_eq!(res.status, 200, "{step}: {}", res.text);
        }
        assert_eq!(
            owner.points(m).await["balance"],
            4,
            "100 THB at 1 point per 25"
        );

        // Tampered, or too old: no member.
        let last = if code.ends_with('0') { "1" } else { "0" };
        let tampered = format!("{}{last}", &code[..code.len() - 1]);
        for typed in [tampered, code.clone()] {
            if typed == code {
                app.clock.advance(std::time::Duration::from_secs(121));
            }
            let res = owner
                .get(&format!("/staff/earn?phone={typed}&lang=en"))
                .await;
            assert!(
                !res.text.contains("id=\"amount\"") && res.text.contains("phone-error"),
                "{typed} finds no one"
            );
        }
    }
);

/// The member card's code as the member page shows it.
pub(crate) fn card_code(html: &str) -> String {
    html.split("id=\"m-card-code\">")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .unwrap()
        .to_string()
}
