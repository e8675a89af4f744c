//! The pages, in a real browser (headless Chromium): the cashier's counter and coupon
//! validation, the member page, the wizard and the console, in English and Thai, on
//! both backends.

use serde_json::json;

use crate::browser::Browser;

/// One browser test per backend from a single body: `page_test!(name, |backend| { … })`.
macro_rules! page_test {
    ($name:ident, |$backend:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let $backend = Backend::Sqlite;
                $body
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let $backend = Backend::Postgres;
                $body
            }
        }
    };
}
use crate::helpers::{Backend, PASSWORD, TestApp};

async fn shop(
    backend: Backend,
) -> (
    TestApp,
    crate::helpers::User,
    crate::helpers::User,
    i64,
    i64,
) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("kafe").await;
    let branch = owner.branch("SIAM").await;
    let cashier = app.hire(&owner, "kafe", "cashier").await;
    let m = owner.member("0812345678").await;
    (app, owner, cashier, branch, m)
}

page_test!(
    a_cashier_finds_a_member_by_phone_and_grants_the_points_the_rules_give,
    |backend| {
        let (app, owner, cashier, siam, m) = shop(backend).await;
        // The cashier works at Siam only: the counter offers no other branch.
        let nimman = owner.branch("NIMMAN").await;
        let res = owner
            .patch(
                &format!("/api/v1/staff/{}", cashier.id()),
                json!({"branch_ids": [siam]}),
            )
            .await;
        assert_eq!(res.status, 200, "{}", res.body);
        let email = cashier.me["email"].as_str().unwrap().to_string();
        let b = Browser::for_app(&app).await;
        b.sign_in("kafe", &email, PASSWORD, "en").await;
        // Three steps, each field ready for the next: phone, amount, confirm.
        let focused = || async {
            b.client
                .execute("return document.activeElement.id", vec![])
                .await
                .unwrap()
        };
        assert!(
            b.client
                .current_url()
                .await
                .unwrap()
                .path()
                .ends_with("/staff/earn"),
            "a cashier starts at the counter"
        );
        assert_eq!(focused().await, "phone");
        b.fill("#phone", "081-234-5678").await;
        b.click("form[role=search] button").await;
        assert!(b.text("#member").await.contains("Mali"));
        assert_eq!(focused().await, "amount");
        assert!(b.exists("#next-customer").await);
        let options = b
            .client
            .find_all(fantoccini::Locator::Css("#branch_id option"))
            .await
            .unwrap();
        assert_eq!(options.len(), 1, "only the cashier's own branch");
        b.fill("#amount", "250").await;
        b.click("#preview").await;
        assert_eq!(
            b.text("#points").await,
            "10 points",
            "250 THB at 1 point per 25 THB"
        );
        assert_eq!(focused().await, "confirm");
        b.screenshot("staff-counter-preview-en").await;
        assert_eq!(
            owner.points(m).await["balance"],
            0,
            "a preview grants nothing"
        );
        b.click("#confirm").await;
        assert_eq!(b.text("#new-balance").await, "10");
        b.screenshot("staff-counter-granted-en").await;
        assert_eq!(owner.points(m).await["balance"], 10);
        // A form naming a branch that is not the cashier's is refused, not recorded as a
        // purchase at no branch.
        b.goto("/staff/earn?phone=0812345678").await;
        b.client
            .execute(
                &format!("document.querySelector('#branch_id option').value = '{nimman}'"),
                vec![],
            )
            .await
            .unwrap();
        b.fill("#amount", "250").await;
        b.click("#preview").await;
        assert!(
            b.page_text().await.contains("choose one of your branches"),
            "{}",
            b.page_text().await
        );
        assert!(!b.exists("#confirm").await);
        assert_eq!(owner.points(m).await["balance"], 10);
        // The claim QR form refuses it the same way: no claim is made for no branch.
        b.goto("/staff/earn").await;
        b.click("#claim-qr summary").await;
        b.client
            .execute(
                &format!("document.querySelector('#claim-qr option').value = '{nimman}'"),
                vec![],
            )
            .await
            .unwrap();
        b.fill("#claim-amount", "500").await;
        b.click("#make-qr").await;
        assert!(
            b.page_text().await.contains("choose one of your branches"),
            "{}",
            b.page_text().await
        );
        assert!(!b.exists("#claim").await);

        // The same in Thai; a bad amount is refused next to the field, keeping what was typed.
        b.goto("/staff/earn?lang=th&phone=0812345678").await;
        assert!(b.page_text().await.contains("หน้าร้าน"));
        b.fill("#amount", "12.345").await;
        b.click("#preview").await;
        assert!(b.text("#amount-error").await.contains("ใส่ยอดเงินเป็นบาท"));
        assert_eq!(b.value("#amount").await, "12.345");
        b.screenshot("staff-counter-error-th").await;
        b.fill("#amount", "1,000.50").await;
        b.click("#preview").await;
        assert_eq!(b.text("#points").await, "40 คะแนน");
        b.click("#confirm").await;
        assert_eq!(b.text("#new-balance").await, "50");
        assert!(b.text("#granted").await.contains("ให้คะแนนแล้ว"));
        // Confirming the same bill again (a double tap, a reload) grants nothing more.
        b.client.back().await.unwrap();
        b.click("#confirm").await;
        assert_eq!(owner.points(m).await["balance"], 50);
        // An unknown phone says so.
        b.goto("/staff/earn?phone=0899999999").await;
        assert!(b.text("#phone-error").await.contains("ไม่พบสมาชิก"));
        assert_eq!(owner.points(m).await["balance"], 50);
        b.close().await;
    }
);

page_test!(
    staff_validate_a_coupon_once_and_a_second_validation_is_refused,
    |backend| {
        let (app, owner, cashier, _, m) = shop(backend).await;
        owner
            .put("/api/v1/spend-settings", json!({"require_otp": false}))
            .await;
        owner
            .post(
                &format!("/api/v1/members/{m}/points/adjust"),
                json!({"points": 100, "reason": "t"}),
            )
            .await;
        let r = owner
        .post(
            "/api/v1/rewards",
            json!({"kind": "coupon", "category": "drinks", "name": "ลาเต้ฟรี", "points_cost": 50}),
        )
        .await;
        let res = owner
            .post(
                &format!("/api/v1/rewards/{}/redeem", r.body["id"]),
                json!({"member_id": m}),
            )
            .await;
        let code = res.body["redemption"]["coupon_code"]
            .as_str()
            .unwrap()
            .to_string();
        let email = cashier.me["email"].as_str().unwrap().to_string();
        for (lang, used_word) in [("en", "Coupon used"), ("th", "ใช้คูปองเรียบร้อย")]
        {
            let b = Browser::for_app(&app).await;
            b.sign_in("kafe", &email, PASSWORD, lang).await;
            b.goto(&format!("/staff/coupons?lang={lang}")).await;
            b.fill(
                "#code",
                &format!("{}-{}", &code[..4], &code[4..]).to_lowercase(),
            )
            .await;
            b.click("form[role=search] button").await;
            assert!(b.text("#coupon").await.contains("ลาเต้ฟรี"));
            if lang == "en" {
                assert_eq!(b.text("#coupon-status").await, "valid");
                b.screenshot("staff-coupon-check-en").await;
                b.click("#use-coupon").await;
                assert_eq!(b.text("#coupon-result").await, used_word);
            } else {
                // The second time, in Thai: refused, saying when, where and by whom.
                let problem = b.text("#coupon-problem").await;
                assert!(
                    problem.contains("คูปองนี้ใช้ไปแล้วเมื่อ")
                        && problem.contains("Branch SIAM")
                        && problem.contains(&email),
                    "{problem}"
                );
                assert!(!b.exists("#use-coupon").await, "no button to use it again");
                b.screenshot("staff-coupon-refused-th").await;
            }
            b.close().await;
        }
        let again = owner
            .post(
                "/api/v1/coupons/use",
                json!({"code": code, "branch_id": owner.branch("X").await}),
            )
            .await;
        assert_eq!(again.code(), "coupon_already_used");
    }
);

page_test!(
    a_member_signs_in_by_code_redeems_with_a_fresh_code_and_staff_honour_the_coupon_once,
    |backend| {
        let (app, owner, _, branch, m) = shop(backend).await;
        owner
            .post(
                &format!("/api/v1/members/{m}/points/adjust"),
                json!({"points": 120, "reason": "t"}),
            )
            .await;
        owner.post("/api/v1/rewards", json!({"kind": "coupon", "category": "drinks", "name": "ลาเต้ฟรี", "name_en": "Free latte", "points_cost": 100})).await;
        let b = Browser::for_app(&app).await;
        b.goto("/m/kafe/login?lang=th").await;
        assert!(b.page_text().await.contains("ส่งรหัส OTP"));
        b.fill("#phone", "081 234 5678").await;
        b.click("#send-code").await;
        b.fill("#code", "000000").await;
        // A wrong code is refused next to the field (the right one is random; retry if it was 000000).
        b.click("#verify").await;
        if b.exists("#code-error").await {
            assert!(b.text("#code-error").await.contains("รหัสไม่ถูกต้อง"));
            b.fill("#code", &crate::rewards::otp_in_mailbox(&owner).await)
                .await;
            b.click("#verify").await;
        }
        assert_eq!(b.text("#m-balance").await, "120");
        let tz = jiff::tz::TimeZone::get("Asia/Bangkok").unwrap();
        let today_be = loyal::web::local_date(
            loyal::tenants::model::Language::Th,
            jiff::Timestamp::now(),
            &tz,
        );
        assert!(
            b.page_text().await.contains(&today_be),
            "history dates in the Buddhist era: {today_be}"
        );
        b.screenshot("member-home-th").await;

        b.goto("/m/kafe/rewards?lang=en").await;
        assert!(b.text(".reward").await.contains("Free latte"));
        b.screenshot("member-rewards-en").await;
        b.click(".reward button").await;
        assert_eq!(
            b.text("#m-redeem-cost").await,
            "−100 points · balance after 20",
            "the cost and what is left, before the code"
        );
        b.fill("#code", &crate::rewards::otp_in_mailbox(&owner).await)
            .await;
        b.click("#confirm-redeem").await;
        let code = b.text("#m-coupon-code").await;
        assert_eq!(code.len(), 9, "shown as XXXX-XXXX: {code}");
        assert!(b.exists(".qr svg").await, "the coupon has its QR");
        assert_eq!(b.text("#m-show-cashier").await, "Show this to the cashier");
        let use_by = b.text("#m-coupon-expiry").await;
        assert!(use_by.starts_with("Use it by 20"), "a date: {use_by}");
        b.screenshot("member-coupon-en").await;
        assert_eq!(owner.points(m).await["balance"], 20);

        // Staff honour it once; the member's page then shows it used.
        let used = owner
            .post(
                "/api/v1/coupons/use",
                json!({"code": code, "branch_id": branch}),
            )
            .await;
        assert_eq!(used.status, 200, "{}", used.body);
        let again = owner
            .post(
                "/api/v1/coupons/use",
                json!({"code": code, "branch_id": branch}),
            )
            .await;
        assert_eq!(again.code(), "coupon_already_used");
        b.goto(&format!("/m/kafe/coupons/{}?lang=en", used.body["id"]))
            .await;
        assert_eq!(b.text("#m-coupon-status").await, "already used");
        b.close().await;
    }
);

page_test!(
    a_member_collects_points_by_scanning_the_claim_qr_the_cashier_made,
    |backend| {
        let (app, owner, cashier, _, m) = shop(backend).await;
        let email = cashier.me["email"].as_str().unwrap().to_string();
        let staff = Browser::for_app(&app).await;
        staff.sign_in("kafe", &email, PASSWORD, "en").await;
        staff.goto("/staff/earn").await;
        staff.click("#claim-qr summary").await;
        staff.fill("#claim-amount", "500").await;
        staff.click("#make-qr").await;
        assert!(staff.exists("#claim .qr svg").await);
        let link = staff
            .client
            .find(fantoccini::Locator::Css("#claim-link"))
            .await
            .unwrap()
            .attr("href")
            .await
            .unwrap()
            .unwrap();
        staff.screenshot("staff-claim-qr-en").await;
        staff.close().await;

        // The member scans it: signs in (by code), lands back on the claim, collects.
        let member = Browser::for_app(&app).await;
        member.client.goto(&link).await.unwrap();
        member.fill("#phone", "0812345678").await;
        member.click("#send-code").await;
        member
            .fill("#code", &crate::rewards::otp_in_mailbox(&owner).await)
            .await;
        member.click("#verify").await;
        assert!(member.text("#m-claim").await.contains("500.00"));
        member.click("#collect").await;
        assert_eq!(member.text("#m-claimed-points").await, "20");
        assert_eq!(owner.points(m).await["balance"], 20);
        // Scanning it again grants nothing more.
        member.client.goto(&link).await.unwrap();
        member.click("#collect").await;
        assert_eq!(owner.points(m).await["balance"], 20);
        member.close().await;
    }
);

page_test!(
    a_person_signs_up_in_thai_with_a_buddhist_era_birthday_and_then_signs_in,
    |backend| {
        let (app, owner, _, _, _) = shop(backend).await;
        let form = json!({"terms": "ข้อกำหนด", "privacy": "ความเป็นส่วนตัว", "marketing_channels": ["sms", "line"],
        "questions": [{"id": "age", "label": "อายุ", "required": true, "options": [{"value": "u25", "label": "< 25", "tags": ["young"]}, {"value": "o25", "label": "25+", "tags": []}]}]});
        assert_eq!(owner.put("/api/v1/signup-form", form).await.status, 200);
        let b = Browser::for_app(&app).await;
        b.goto("/m/kafe/signup?lang=th").await;
        b.fill("#phone", "089-111-2222").await;
        b.fill("#first_name", "สมหญิง").await;
        b.fill("#birthday", "31/12/2535").await;
        b.click("#sign-up").await;
        // Not accepted yet: the error sits next to the box, and what was typed stays.
        assert!(b.text("#accept_terms-error").await.contains("ต้องยอมรับ"));
        assert_eq!(b.value("#first_name").await, "สมหญิง");
        b.click("#accept_terms").await;
        b.click("#accept_privacy").await;
        b.click("#sign-up").await;
        assert!(
            b.text("#q_age-error").await.contains("กรุณากรอก"),
            "the required question"
        );
        b.screenshot("member-signup-error-th").await;
        b.client
            .find(fantoccini::Locator::Css("#q_age"))
            .await
            .unwrap()
            .select_by_value("u25")
            .await
            .unwrap();
        if !b.exists("#accept_terms:checked").await {
            b.click("#accept_terms").await;
        }
        if !b.exists("#accept_privacy:checked").await {
            b.click("#accept_privacy").await;
        }
        b.click("#sign-up").await;
        // The phone is proved before the account exists: nobody is a member yet.
        assert!(
            owner.get("/api/v1/members?phone=0891112222").await.body["items"]
                .as_array()
                .unwrap()
                .is_empty()
        );
        let code = crate::rewards::otp_in_mailbox(&owner).await;
        let wrong = if code == "000000" { "111111" } else { "000000" };
        b.fill("#code", wrong).await;
        b.click("#verify-signup").await;
        assert!(b.text("#code-error").await.contains("รหัสไม่ถูกต้อง"));
        b.fill("#code", &code).await;
        b.click("#verify-signup").await;
        assert!(b.text("#signed-up").await.contains("ยินดีต้อนรับ"));
        // Signed in by the same code: no second one.
        b.click("#to-home").await;
        assert_eq!(b.text("#m-balance").await, "0");
        let found = owner.get("/api/v1/members?phone=0891112222").await;
        let member = &found.body["items"][0];
        assert_eq!(member["birthday"], "1992-12-31", "2535 BE is 1992");
        assert_eq!(member["tags"], json!(["young"]));
        let id = member["id"].as_i64().unwrap();
        let consents = owner.get(&format!("/api/v1/members/{id}/consents")).await;
        let current = consents.body["current"].as_array().unwrap();
        let granted = |p: &str| {
            current
                .iter()
                .find(|c| c["purpose"] == p)
                .map(|c| c["granted"].as_bool().unwrap())
        };
        assert_eq!(
            (granted("terms"), granted("marketing_sms")),
            (Some(true), Some(false)),
            "marketing boxes start unticked"
        );

        // Signing up twice with the same phone says to sign in.
        b.goto("/m/kafe/signup").await;
        b.fill("#phone", "0891112222").await;
        b.fill("#first_name", "X").await;
        b.click("#accept_terms").await;
        b.click("#accept_privacy").await;
        b.client
            .find(fantoccini::Locator::Css("#q_age"))
            .await
            .unwrap()
            .select_by_value("o25")
            .await
            .unwrap();
        b.click("#sign-up").await;
        assert!(b.text("#phone-error").await.contains("เป็นสมาชิกอยู่แล้ว"));
        b.goto("/m/kafe/login").await;
        b.fill("#phone", "0891112222").await;
        b.click("#send-code").await;
        b.fill("#code", &crate::rewards::otp_in_mailbox(&owner).await)
            .await;
        b.click("#verify").await;
        assert_eq!(b.text("#m-balance").await, "0");
        b.close().await;
    }
);

page_test!(
    the_setup_wizard_sets_up_a_shop_step_by_step_with_errors_next_to_the_field,
    |backend| {
        let app = TestApp::spawn(backend).await;
        let owner = app.signup("kafe").await;
        let b = Browser::for_app(&app).await;
        b.sign_in("kafe", "owner@kafe.test", PASSWORD, "th").await;
        b.click("#to-setup").await;
        b.fill("#name", "บ้านกาแฟ").await;
        b.click("#save").await;
        // Branch: a bad code is refused next to its field, keeping what was typed.
        b.fill("#code", "สยาม!").await;
        b.fill("#branch_name", "Siam").await;
        b.click("#save").await;
        assert!(b.text("#code-error").await.starts_with("ค่านี้ไม่ถูกต้อง"));
        assert_eq!(b.value("#branch_name").await, "Siam");
        b.screenshot("admin-setup-error-th").await;
        b.fill("#code", "SIAM").await;
        b.click("#save").await;
        b.fill("#baht_per_point", "20").await;
        b.fill("#expiry_months", "12").await;
        b.fill("#welcome_points", "10").await;
        b.click("#save").await;
        b.fill("#gold", "30").await;
        b.click("#save").await;
        assert!(
            b.text("#gold-error").await.contains("higher"),
            "Gold below Silver is refused"
        );
        b.fill("#gold", "150").await;
        b.click("#save").await;
        b.fill("#reward_name", "ลาเต้ฟรี").await;
        b.fill("#points_cost", "80").await;
        b.click("#save").await;
        b.fill("#email", "mali@kafe.test").await;
        b.click("#save").await;
        let link = b.text("#invitation-link").await;
        assert!(link.contains("/invite/"));
        assert!(b.exists("#invitation .qr svg").await);
        b.screenshot("admin-setup-invite-th").await;
        b.close().await;

        assert_eq!(owner.get("/api/v1/tenant").await.body["name"], "บ้านกาแฟ");
        assert_eq!(owner.all("/api/v1/branches").await[0]["code"], "SIAM");
        let ledger = owner.get("/api/v1/ledger/settings").await.body;
        assert_eq!(
            (
                ledger["earn"]["spend_satang"].as_i64(),
                ledger["expiry"]["months"].as_i64(),
                ledger["welcome_points"].as_i64()
            ),
            (Some(2000), Some(12), Some(10))
        );
        let tiers = owner.get("/api/v1/tiers").await.body;
        assert_eq!(
            (
                tiers["program"]["enabled"].as_bool(),
                tiers["program"]["levels"][2]["threshold"].as_i64()
            ),
            (Some(true), Some(150))
        );
        assert_eq!(owner.all("/api/v1/rewards").await[0]["name"], "ลาเต้ฟรี");
        assert!(
            owner
                .all("/api/v1/invitations")
                .await
                .iter()
                .any(|i| i["email"] == "mali@kafe.test")
        );
        let audit = owner
            .all("/api/v1/audit-log?action=tiers.program_changed")
            .await;
        assert_eq!(audit.len(), 1, "each step is audited like the API");
    }
);

page_test!(
    the_admin_console_finds_members_imports_a_file_and_edits_rules_through_the_api,
    |backend| {
        let (app, owner, _, _, m) = shop(backend).await;
        owner.purchase(m, 100_000, "R1").await;
        let b = Browser::for_app(&app).await;
        b.sign_in("kafe", "owner@kafe.test", PASSWORD, "en").await;
        b.click("#to-members").await;
        b.fill("#q", "mal").await;
        b.click("form[role=search] button").await;
        b.click("table a").await;
        assert_eq!(b.text("#a-balance").await, "40");
        b.screenshot("admin-member-360-en").await;

        // Import: one good row, one bad phone; progress ends "done" and the bad row is listed.
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("members.csv");
        std::fs::write(
            &csv,
            "phone,full_name,points\n0855555555,Somchai Jaidee,25\n12345,Bad Phone,0\n",
        )
        .unwrap();
        b.goto("/admin/import").await;
        b.client
            .find(fantoccini::Locator::Css("#file"))
            .await
            .unwrap()
            .send_keys(csv.to_str().unwrap())
            .await
            .unwrap();
        b.click("#upload").await;
        for _ in 0..100 {
            if b.text("#import-status").await.starts_with("done")
                && b.exists("#import-errors tr").await
            {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let status = b.text("#import-status").await;
        assert!(
            status.contains("1 imported") && status.contains("1 refused"),
            "{status}"
        );
        assert!(b.text("#import-errors").await.contains("phone"));
        b.screenshot("admin-import-en").await;

        // Rules as JSON (the advanced view), with the API's validation naming the field.
        b.goto("/admin/settings/earning?view=json").await;
        b.fill("#doc", r#"{"cap_per_bill": -5}"#).await;
        b.click("#save-doc").await;
        assert!(b.text("#doc-error").await.contains("cap_per_bill"));
        b.fill("#doc", r#"{"cap_per_bill": 500}"#).await;
        b.click("#save-doc").await;
        assert!(b.exists("#saved").await);
        assert_eq!(
            owner.get("/api/v1/rules/earning").await.body["cap_per_bill"],
            500
        );

        // Tiers as a form: two levels; a threshold not above the level below is refused on its row.
        b.goto("/admin/tiers").await;
        b.click("#enabled").await;
        for (id, v) in [
            ("#l0_code", "member"),
            ("#l0_name", "สมาชิก"),
            ("#l0_threshold", "0"),
            ("#l1_code", "gold"),
            ("#l1_name", "โกลด์"),
            ("#l1_threshold", "0"),
            ("#l1_earn_percent", "150"),
            ("#l1_benefits", "free upsize; birthday cake"),
        ] {
            b.fill(id, v).await;
        }
        b.click("#save-tiers").await;
        assert!(
            !b.text("#l1-error").await.is_empty(),
            "the refusal shows on the level's row"
        );
        assert_eq!(b.value("#l1_name").await, "โกลด์", "what was typed stays");
        b.fill("#l1_threshold", "100").await;
        b.click("#save-tiers").await;
        assert!(b.exists("#saved").await);
        let program = owner.get("/api/v1/tiers").await.body["program"].clone();
        assert_eq!(
            (
                program["enabled"].as_bool(),
                program["levels"][1]["earn_percent"].as_i64()
            ),
            (Some(true), Some(150))
        );
        assert_eq!(
            program["levels"][1]["benefits"],
            json!(["free upsize", "birthday cake"])
        );
        b.screenshot("admin-tiers-en").await;

        // The signup form: texts, channels; a changed text becomes a new version.
        b.goto("/admin/signup-form").await;
        b.fill("#terms", "ข้อกำหนดการเป็นสมาชิก").await;
        b.fill("#privacy", "เราเก็บเบอร์โทรเพื่อสะสมคะแนน").await;
        b.click("input[name=ch_line]").await;
        // A question with no answers is refused under its answers.
        b.fill("#q0_label", "ดื่มกาแฟบ่อยแค่ไหน").await;
        b.click("#save-form").await;
        assert!(
            !b.text("#q0_answers-error").await.is_empty(),
            "the answers are named"
        );
        assert_eq!(
            b.value("#q0_label").await,
            "ดื่มกาแฟบ่อยแค่ไหน",
            "what was typed stays"
        );
        b.fill("#q0_answers", "ทุกวัน => coffee-lover\nบางวัน").await;
        b.click("#save-form").await;
        assert!(b.text("#saved").await.contains("v1"));
        let form = owner.get("/api/v1/signup-form").await.body;
        assert_eq!(form["marketing_channels"], json!(["line"]));
        assert_eq!(
            form["questions"][0]["options"][0],
            json!({"value": "a1", "label": "ทุกวัน", "tags": ["coffee-lover"]})
        );

        // Rewards: edit one (a negative cost is refused, naming the field), then archive one.
        let latte = owner.post("/api/v1/rewards", json!({"kind": "coupon", "category": "x", "name": "Latte", "points_cost": 10, "stock": 5})).await;
        b.goto(&format!("/admin/rewards/{}", latte.body["id"]))
            .await;
        b.fill("#points_cost", "-3").await;
        b.click("#save-reward").await;
        assert!(b.exists("#reward-error").await);
        assert!(
            !b.text("#points_cost-error").await.is_empty(),
            "named next to its field"
        );
        assert_eq!(
            b.value("#points_cost").await,
            "-3",
            "what was typed is kept"
        );
        b.fill("#points_cost", "12").await;
        b.fill("#stock", "7").await;
        b.click("#save-reward").await;
        assert!(b.exists("#saved").await);
        let edited = owner
            .get(&format!("/api/v1/rewards/{}", latte.body["id"]))
            .await
            .body;
        assert_eq!(
            (
                edited["points_cost"].as_i64(),
                edited["stock"].as_i64(),
                edited["name"].as_str()
            ),
            (Some(12), Some(7), Some("Latte"))
        );

        // Rewards: archive one from the list.
        let r = owner
            .post(
                "/api/v1/rewards",
                json!({"kind": "coupon", "category": "x", "name": "Old latte", "points_cost": 10}),
            )
            .await;
        b.goto("/admin/rewards").await;
        b.click(&format!(
            "form[action='/admin/rewards/{}/archive'] button",
            r.body["id"]
        ))
        .await;
        assert!(!b.text("#rewards").await.contains("Old latte"));
        assert_eq!(
            owner
                .get(&format!("/api/v1/rewards/{}", r.body["id"]))
                .await
                .body["archived"],
            true
        );

        // An API key made on the page works once shown.
        b.goto("/admin/api-keys").await;
        b.fill("#key-name", "POS").await;
        b.click("input[name='scope:branches.read']").await;
        b.click("form[action='/admin/api-keys'] button").await;
        let secret = b.text("#key-secret").await;
        assert_eq!(
            app.with_key(&secret).get("/api/v1/branches").await.status,
            200
        );
        b.goto("/admin/audit?action=api_key.created").await;
        assert!(b.text("#audit").await.contains("API key made"));
        b.close().await;
    }
);

async fn member_sign_in(b: &Browser, owner: &crate::helpers::User, phone: &str) {
    b.goto("/m/kafe/login?lang=en").await;
    b.fill("#phone", phone).await;
    b.click("#send-code").await;
    b.fill("#code", &crate::rewards::otp_in_mailbox(owner).await)
        .await;
    b.click("#verify").await;
}

page_test!(
    a_member_buys_lucky_draw_entries_with_a_code_and_fulfilment_ships_a_parcel,
    |backend| {
        let (app, owner, _, _, m) = shop(backend).await;
        owner
            .post(
                &format!("/api/v1/members/{m}/points/adjust"),
                json!({"points": 500, "reason": "t"}),
            )
            .await;
        let now = jiff::Timestamp::now();
        let hour = jiff::SignedDuration::from_hours(1);
        let d = owner.post("/api/v1/draws", json!({"name": "iPhone", "entry_cost": 50, "winners": 1, "opens_at": now - hour, "closes_at": now + hour})).await;
        let b = Browser::for_app(&app).await;
        member_sign_in(&b, &owner, "0812345678").await;
        b.goto("/m/kafe/draws").await;
        b.fill(".draw input[name=entries]", "2").await;
        b.click(".draw button").await;
        b.fill("#code", &crate::rewards::otp_in_mailbox(&owner).await)
            .await;
        b.click("#confirm-entries").await;
        assert_eq!(b.text(".draw .mine").await, "2");
        b.screenshot("member-draws-en").await;
        assert_eq!(owner.points(m).await["balance"], 400);
        assert_eq!(
            owner
                .get(&format!("/api/v1/draws/{}", d.body["id"]))
                .await
                .body["entries"],
            2
        );
        b.close().await;

        // A parcel: the fulfilment role packs and ships it on the staff page.
        owner
            .put("/api/v1/spend-settings", json!({"require_otp": false}))
            .await;
        let r = owner
        .post(
            "/api/v1/rewards",
            json!({"kind": "shipped", "category": "goods", "name": "Tumbler", "points_cost": 100}),
        )
        .await;
        let address = json!({"recipient": "Mali", "phone": "0812345678", "line1": "1 Sukhumvit", "district": "Watthana", "province": "Bangkok", "postcode": "10110"});
        let res = owner
            .post(
                &format!("/api/v1/rewards/{}/redeem", r.body["id"]),
                json!({"member_id": m, "shipping": address}),
            )
            .await;
        let id = res.body["redemption"]["id"].as_i64().unwrap();
        let packer = app.hire(&owner, "kafe", "fulfilment").await;
        let b = Browser::for_app(&app).await;
        b.sign_in("kafe", packer.me["email"].as_str().unwrap(), PASSWORD, "th")
            .await;
        b.goto("/staff/fulfilment").await;
        b.click(&format!("#shipment-{id} button")).await;
        b.fill(&format!("#carrier-{id}"), "Kerry").await;
        b.fill(&format!("#tracking-{id}"), "KEX1").await;
        b.screenshot("staff-fulfilment-th").await;
        b.click(&format!("#shipment-{id} button")).await;
        let r = owner.get(&format!("/api/v1/redemptions/{id}")).await;
        assert_eq!(
            (r.body["status"].as_str(), r.body["tracking"].as_str()),
            (Some("shipped"), Some("KEX1"))
        );
        b.close().await;
    }
);

page_test!(
    a_member_orders_a_shipped_reward_with_their_address,
    |backend| {
        let (app, owner, _, _, m) = shop(backend).await;
        owner
            .post(
                &format!("/api/v1/members/{m}/points/adjust"),
                json!({"points": 500, "reason": "t"}),
            )
            .await;
        let r = owner.post("/api/v1/rewards", json!({"kind": "shipped", "category": "goods", "name": "แก้วเก็บความเย็น", "points_cost": 300})).await;
        let b = Browser::for_app(&app).await;
        member_sign_in(&b, &owner, "0812345678").await;
        b.goto("/m/kafe/rewards?lang=th").await;
        b.click(&format!("#reward-{} button", r.body["id"])).await;
        assert_eq!(
            b.value("#recipient").await,
            "Mali",
            "pre-filled from the profile"
        );
        for (id, v) in [
            ("#line1", "99/1 ถ.สุขุมวิท"),
            ("#district", "วัฒนา"),
            ("#province", "กรุงเทพฯ"),
            ("#postcode", "101"),
        ] {
            b.fill(id, v).await;
        }
        b.fill("#code", &crate::rewards::otp_in_mailbox(&owner).await)
            .await;
        b.click("#confirm-redeem").await;
        assert!(b.text("#address-error").await.starts_with("postcode"));
        assert_eq!(
            b.value("#line1").await,
            "99/1 ถ.สุขุมวิท",
            "what was typed stays"
        );
        assert_eq!(owner.points(m).await["balance"], 500, "nothing taken");
        b.fill("#postcode", "10110").await;
        b.fill("#code", &crate::rewards::otp_in_mailbox(&owner).await)
            .await;
        b.click("#confirm-redeem").await;
        assert_eq!(b.text("#m-coupon-status").await, "รอแพ็ก");
        assert_eq!(owner.points(m).await["balance"], 200);
        let queue = owner
            .all("/api/v1/redemptions?kind=shipped&status=pending")
            .await;
        assert_eq!(queue[0]["shipping"]["province"], "กรุงเทพฯ");
        b.close().await;
    }
);

page_test!(
    the_owner_lands_on_the_shops_figures_in_thai_and_a_cashier_on_the_counter,
    |backend| {
        let (app, owner, cashier, siam, m) = shop(backend).await;
        owner
            .set_ledger(crate::helpers::ledger_settings(
                json!({"point_value_satang": 50}),
            ))
            .await;
        let res = owner.purchase_at_branch(m, 125_000, "R1", siam).await;
        assert_eq!(res.status, 201, "{}", res.body);
        let b = Browser::for_app(&app).await;
        b.sign_in("kafe", "owner@kafe.test", PASSWORD, "th").await;
        assert!(
            b.client
                .current_url()
                .await
                .unwrap()
                .path()
                .ends_with("/admin")
        );
        // 1,250 THB at 1 point per 25 THB: 50 points, worth 25.00 THB at 50 satang each.
        assert!(b.text("#fig-members").await.contains("สมาชิก"));
        assert!(b.text("#fig-issued").await.contains("50"));
        assert!(b.text("#fig-liability").await.contains("25.00 บาท"));
        assert_eq!(
            b.text("#today tbody tr")
                .await
                .split_whitespace()
                .collect::<Vec<_>>(),
            ["Branch", "SIAM", "1", "1,250.00", "50"]
        );
        // Counted at: a Buddhist-era date in the shop's time zone.
        let now = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::get("Asia/Bangkok").unwrap());
        let be_year = (i32::from(now.year()) + 543).to_string();
        assert!(
            b.page_text().await.contains(&be_year),
            "a Buddhist-era year on the page"
        );
        b.screenshot("admin-home-th").await;
        b.click("#fig-issued").await;
        assert!(b.exists("#points-by-month").await);
        assert!(b.text("#points-by-month tbody tr").await.contains("25.00"));
        b.close().await;

        let b = Browser::for_app(&app).await;
        let email = cashier.me["email"].as_str().unwrap().to_string();
        b.sign_in("kafe", &email, PASSWORD, "th").await;
        assert!(
            b.client
                .current_url()
                .await
                .unwrap()
                .path()
                .ends_with("/staff/earn"),
            "a cashier starts at the counter"
        );
        b.close().await;
    }
);

page_test!(
    an_owner_adjusts_blocks_exports_and_erases_a_member_from_the_360_page_in_thai,
    |backend| {
        let (app, owner, _, siam, m) = shop(backend).await;
        let res = owner.purchase_at_branch(m, 100_000, "R1", siam).await;
        assert_eq!(res.status, 201, "{}", res.body);
        let b = Browser::for_app(&app).await;
        b.sign_in("kafe", "owner@kafe.test", PASSWORD, "th").await;
        b.goto(&format!("/admin/members/{m}")).await;
        assert_eq!(b.text("#a-balance").await, "40");
        assert_eq!(b.text("#m-phone").await, "081-234-5678");
        let first = b.text("#history tbody tr").await;
        assert!(
            first.contains("ซื้อสินค้า") && first.contains("1,000.00") && first.contains("Branch SIAM"),
            "{first}"
        );

        // Adjust: the confirmation says what the balance becomes; confirming twice grants once.
        b.fill("#points", "50").await;
        b.fill("#reason", "ชดเชยกาแฟหก").await;
        b.click("#adjust-next").await;
        assert_eq!(b.text("#balance-after").await, "90");
        b.screenshot("admin-member-confirm-th").await;
        let (csrf, nonce) = (
            b.value("#confirm-panel input[name=_csrf]").await,
            b.value("#confirm-panel input[name=nonce]").await,
        );
        b.click("#confirm-action").await;
        assert!(b.text("#action-done").await.contains("ปรับคะแนนแล้ว"));
        assert_eq!(b.text("#a-balance").await, "90");
        let again = format!(
            "document.body.insertAdjacentHTML('beforeend', '<form id=again method=post action=/admin/members/{m}/actions>\
             <input name=_csrf value={csrf}><input name=action value=adjust><input name=step value=confirm>\
             <input name=points value=50><input name=reason value=again><input name=nonce value={nonce}></form>');\
             document.getElementById('again').submit();"
        );
        b.client.execute(&again, vec![]).await.unwrap();
        b.client
            .wait()
            .for_element(fantoccini::Locator::Css("#action-done"))
            .await
            .unwrap();
        assert_eq!(
            b.text("#a-balance").await,
            "90",
            "the same confirmation posts once"
        );
        assert_eq!(owner.points(m).await["balance"], 90);
        let row = b.text("#history tbody tr").await;
        assert!(
            row.contains("เพิ่มโดยพนักงาน") && row.contains("+50") && row.contains("ชดเชยกาแฟหก"),
            "{row}"
        );

        // A deduction beyond the balance is refused next to the points, in Thai words.
        b.fill("#points", "-500").await;
        b.fill("#reason", "ทดสอบ").await;
        b.click("#adjust-next").await;
        b.click("#confirm-action").await;
        assert!(b.text("#points-error").await.contains("คะแนนไม่พอ"));
        assert_eq!(b.value("#points").await, "-500", "what was typed is kept");

        // Block and unblock, each confirmed.
        b.click("#block-next").await;
        b.click("#confirm-action").await;
        assert_eq!(b.text("#m-status").await, "ระงับ");
        b.click("#block-next").await;
        b.click("#confirm-action").await;
        assert_eq!(b.text("#m-status").await, "ใช้งาน");
        b.screenshot("admin-member-360-th").await;

        // The PDPA export downloads everything held, and is audited.
        let export = owner.get(&format!("/admin/members/{m}/export")).await;
        assert_eq!(export.status, 200);
        assert!(
            export
                .header("content-disposition")
                .contains(&format!("member-{m}.json"))
        );
        assert_eq!(export.body["member"]["id"], m);
        assert_eq!(
            owner
                .all("/api/v1/audit-log?action=member.exported")
                .await
                .len(),
            1
        );

        // Erasure says what is kept before it happens.
        b.click("#erase-next").await;
        assert!(b.text("#confirm-panel").await.contains("เก็บไว้"));
        b.click("#confirm-action").await;
        assert_eq!(b.text("#m-status").await, "ลบข้อมูลแล้ว");
        assert!(
            !b.exists("#adjust").await,
            "nothing more to do to an erased member"
        );
        assert_eq!(owner.points(m).await["balance"], 90, "the points stay");
        b.close().await;
    }
);

page_test!(
    an_owner_sets_the_points_rules_on_a_form_in_thai,
    |backend| {
        let (app, owner, _, _, _) = shop(backend).await;
        let b = Browser::for_app(&app).await;
        b.sign_in("kafe", "owner@kafe.test", PASSWORD, "th").await;
        b.goto("/admin/settings/ledger").await;
        assert_eq!(
            b.value("#earn_baht").await,
            "25.00",
            "the saved rate, in baht"
        );
        assert!(
            b.text("#sample").await.contains("249.00") && b.text("#sample").await.contains("9")
        );
        let choose = |css: &'static str, value: &'static str| {
            let client = b.client.clone();
            async move {
                client
                    .find(fantoccini::Locator::Css(css))
                    .await
                    .unwrap()
                    .select_by_value(value)
                    .await
                    .unwrap();
            }
        };

        // What cannot be read is refused next to its field, in Thai, and kept as typed.
        b.fill("#earn_baht", "abc").await;
        b.click("#save-ledger").await;
        assert!(b.text("#earn_baht-error").await.contains("กรุณาใส่จำนวนเงิน"));
        assert_eq!(b.value("#earn_baht").await, "abc");
        // What the API refuses too: a rolling expiry of no months to no period's end.
        b.fill("#earn_baht", "20").await;
        choose("#expiry_mode", "rolling").await;
        b.fill("#expiry_months", "0").await;
        b.click("#save-ledger").await;
        assert!(b.exists("#expiry_months-error").await);

        choose("#expiry_mode", "rolling").await;
        b.fill("#expiry_months", "12").await;
        choose("#round_up", "year_end").await;
        b.fill("#point_value_baht", "0.50").await;
        b.fill("#welcome_points", "30").await;
        b.click("#save-ledger").await;
        assert!(b.exists("#saved").await);
        b.screenshot("admin-ledger-settings-th").await;
        let s = owner.get("/api/v1/ledger/settings").await.body;
        assert_eq!(s["earn"]["spend_satang"], 2_000);
        assert_eq!(
            s["expiry"],
            json!({"mode": "rolling", "months": 12, "round_up": "year_end"})
        );
        assert_eq!(s["point_value_satang"], 50);
        assert_eq!(s["welcome_points"], 30);
        // The sample bill follows the saved rate: 249 THB at 1 point per 20 THB.
        assert!(b.text("#sample").await.contains("12"));
        let audit = owner
            .all("/api/v1/audit-log?action=ledger.settings_changed")
            .await;
        assert_eq!(audit.len(), 1, "saved once, through the API, audited");
        b.close().await;
    }
);

page_test!(
    an_owner_invites_staff_changes_roles_and_closes_a_branch_in_thai,
    |backend| {
        let (app, owner, cashier, siam, _) = shop(backend).await;
        let b = Browser::for_app(&app).await;
        b.sign_in("kafe", "owner@kafe.test", PASSWORD, "th").await;
        b.click("#to-staff").await;

        // Invite at any time: a link shown once, its QR, and a LINE share link.
        b.fill("#email", "noi@kafe.test").await;
        b.click(&format!("input[name=branch_ids][value='{siam}']"))
            .await;
        b.click("#invite-send").await;
        let first = b.text("#invitation-link").await;
        assert!(first.contains("/invite/"), "{first}");
        assert!(b.exists("#invitation .qr svg").await);
        let share = b
            .client
            .find(fantoccini::Locator::Css("#share-line"))
            .await
            .unwrap()
            .attr("href")
            .await
            .unwrap()
            .unwrap();
        assert!(
            share.starts_with("https://line.me/R/share?text="),
            "{share}"
        );
        let token = first.rsplit('/').next().unwrap().to_string();
        assert!(share.contains(&token), "the shared text carries the link");
        b.screenshot("admin-staff-invite-th").await;
        assert!(b.text("#invitations").await.contains("noi@kafe.test"));

        // A new link for the same person: the old one stops working.
        b.click("#invitations form[action$='/renew'] button").await;
        let second = b.text("#invitation-link").await;
        assert_ne!(first, second);
        let old = owner
            .get(&format!("/api/v1/invitation-tokens/{token}"))
            .await;
        assert_eq!(old.body["status"], "revoked", "{}", old.body);
        b.click("#invitations form[action$='/revoke'] button").await;
        assert!(b.exists("#team-done").await);
        assert!(b.exists("#no-invitations").await);

        // Change a cashier into a manager at Siam, then deactivate them.
        b.click(&format!("#staff a[href='/admin/staff/{}']", cashier.id()))
            .await;
        b.client
            .find(fantoccini::Locator::Css("#role"))
            .await
            .unwrap()
            .select_by_value("manager")
            .await
            .unwrap();
        b.click(&format!("input[name=branch_ids][value='{siam}']"))
            .await;
        b.click("#save-person").await;
        assert!(b.exists("#team-done").await);
        let person = owner
            .get(&format!("/api/v1/staff/{}", cashier.id()))
            .await
            .body;
        assert_eq!(
            (person["role"].as_str(), person["branch_ids"].clone()),
            (Some("manager"), json!([siam]))
        );
        b.click(&format!("#staff a[href='/admin/staff/{}']", cashier.id()))
            .await;
        b.click("#active").await;
        b.click("#save-person").await;
        assert!(b.text("#staff").await.contains("ปิดการใช้งาน"));

        // Branches: add one, a code used twice is refused next to it, close one.
        b.goto("/admin/branches").await;
        b.fill("#code", "nimman").await;
        b.fill("#name", "สาขานิมมาน").await;
        b.click("#add-branch-save").await;
        assert!(b.text("#branches").await.contains("NIMMAN"));
        b.fill("#code", "NIMMAN").await;
        b.fill("#name", "อีกสาขา").await;
        b.click("#add-branch-save").await;
        assert!(b.exists("#code-error").await);
        assert_eq!(b.value("#name").await, "อีกสาขา", "what was typed is kept");
        b.click(&format!("form[action='/admin/branches/{siam}'] button"))
            .await;
        let siam_row = owner.get(&format!("/api/v1/branches/{siam}")).await.body;
        assert_eq!(siam_row["active"], false);
        b.screenshot("admin-branches-th").await;
        b.close().await;
    }
);

page_test!(
    an_owner_adds_a_voucher_schedules_a_draw_and_reads_the_audit_log_in_thai,
    |backend| {
        let (app, owner, _, _, _) = shop(backend).await;
        let b = Browser::for_app(&app).await;
        b.sign_in("kafe", "owner@kafe.test", PASSWORD, "th").await;

        // A voucher in plain words: what the member gets, its value in baht, no limit.
        b.goto("/admin/rewards").await;
        assert!(
            b.exists("#no-rewards").await,
            "an empty catalogue says what to do"
        );
        b.client
            .find(fantoccini::Locator::Css("#kind"))
            .await
            .unwrap()
            .select_by_value("voucher")
            .await
            .unwrap();
        b.fill("#name", "ส่วนลด 50 บาท").await;
        b.fill("#category", "ส่วนลด").await;
        b.fill("#points_cost", "abc").await;
        b.click("#new-reward-save").await;
        assert!(
            b.text("#points_cost-error")
                .await
                .contains("กรุณาใส่จำนวนเต็ม")
        );
        assert_eq!(
            b.value("#name").await,
            "ส่วนลด 50 บาท",
            "what was typed is kept"
        );
        b.fill("#points_cost", "150").await;
        b.fill("#value_baht", "50").await;
        b.click("#new-reward-save").await;
        let row = b.text("#rewards tbody tr").await;
        assert!(
            row.contains("บัตรกำนัลส่วนลด") && row.contains("50.00 บาท") && row.contains("ไม่จำกัด"),
            "{row}"
        );
        b.screenshot("admin-rewards-th").await;
        let rewards = owner.all("/api/v1/rewards").await;
        assert_eq!(
            (
                rewards[0]["kind"].as_str(),
                rewards[0]["value_satang"].as_i64()
            ),
            (Some("voucher"), Some(5_000))
        );

        // A lucky draw scheduled on the page, its times typed in the shop's time zone.
        b.goto("/admin/draws").await;
        b.fill("#name", "iPhone ปีใหม่").await;
        b.fill("#entry_cost", "100").await;
        b.fill("#winners", "1").await;
        b.client
            .execute(
                "document.getElementById('opens_at').value = '2030-01-01T10:00';\
                 document.getElementById('closes_at').value = '2030-01-31T20:00';",
                vec![],
            )
            .await
            .unwrap();
        b.click("#new-draw-save").await;
        assert!(b.exists("#draws-done").await);
        let draw = b.text("section.draw").await;
        assert!(
            draw.contains("รอเปิด") && draw.contains("1/1/2573 10:00"),
            "{draw}"
        );
        let draws = owner.all("/api/v1/draws").await;
        assert_eq!(
            draws[0]["opens_at"], "2030-01-01T03:00:00Z",
            "10:00 in Bangkok"
        );

        // The audit log says what happened in words.
        b.goto("/admin/audit").await;
        let log = b.text("#audit").await;
        assert!(
            log.contains("สร้างการจับรางวัล") && log.contains("เพิ่มของรางวัล"),
            "{log}"
        );
        b.close().await;
    }
);

page_test!(
    a_member_withdraws_marketing_consent_on_their_account_page_as_easily_as_they_gave_it,
    |backend| {
        let (app, owner, _, _, m) = shop(backend).await;
        let form = json!({"terms": "T", "privacy": "P", "marketing_channels": ["line", "sms"], "questions": []});
        assert_eq!(owner.put("/api/v1/signup-form", form).await.status, 200);
        let given = owner
            .post(
                &format!("/api/v1/members/{m}/consents"),
                json!({"purpose": "marketing_sms", "granted": true}),
            )
            .await;
        assert_eq!(given.status, 201, "{}", given.body);
        let b = Browser::for_app(&app).await;
        member_sign_in(&b, &owner, "0812345678").await;
        b.goto("/m/kafe/me?lang=th").await;
        assert_eq!(b.value("#first_name").await, "Mali");
        b.click("#marketing_sms_ok").await;
        b.fill("#birthday", "13/4/2533").await;
        b.screenshot("member-account-th").await;
        b.click("#m-save").await;
        assert_eq!(b.text("#m-saved").await, "บันทึกแล้ว");
        assert_eq!(b.value("#birthday").await, "13/04/2533");
        let consents = owner.get(&format!("/api/v1/members/{m}/consents")).await;
        let sms = consents.body["current"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["purpose"] == "marketing_sms")
            .cloned()
            .unwrap();
        assert_eq!(sms["granted"], false, "withdrawn with one tap and Save");
        b.click("#m-erase").await;
        assert!(
            b.page_text().await.contains("เก็บไว้"),
            "what is kept, before"
        );
        b.click("#m-erase-yes").await;
        assert!(b.text("#m-erasure-asked").await.contains("ร้านจะลบภายใน"));
        b.close().await;
    }
);

page_test!(
    a_customer_who_is_not_a_member_joins_at_the_counter_and_earns_on_the_same_bill,
    |backend| {
        let (app, owner, cashier, _, _) = shop(backend).await;
        let form = json!({"terms": "ข้อกำหนดของร้าน", "privacy": "นโยบายของร้าน", "marketing_channels": ["sms"], "questions": []});
        assert_eq!(owner.put("/api/v1/signup-form", form).await.status, 200);
        let email = cashier.me["email"].as_str().unwrap().to_string();
        let b = Browser::for_app(&app).await;
        b.sign_in("kafe", &email, PASSWORD, "th").await;
        b.fill("#phone", "089-555-1234").await;
        b.click("form[role=search] button").await;
        assert!(b.exists("#join").await, "not a member: join on this bill");
        b.fill("#first_name", "สมชาย").await;
        b.click("#join-member").await;
        assert!(
            b.text("#accepted-error").await.contains("ต้องยอมรับ"),
            "the customer accepts the shop's texts first"
        );
        assert!(
            owner.get("/api/v1/members?phone=0895551234").await.body["items"]
                .as_array()
                .unwrap()
                .is_empty(),
            "nobody joined without accepting"
        );
        assert_eq!(
            b.value("#first_name").await,
            "สมชาย",
            "what was typed stays"
        );
        b.click("#accepted").await;
        b.screenshot("staff-counter-join-th").await;
        b.click("#join-member").await;
        // Joined: the counter is at the amount of the same bill.
        assert!(b.text("#member").await.contains("สมชาย"));
        b.fill("#amount", "100").await;
        b.click("#preview").await;
        b.click("#confirm").await;
        assert_eq!(b.text("#new-balance").await, "4");
        let found = owner.get("/api/v1/members?phone=0895551234").await;
        let id = found.body["items"][0]["id"].as_i64().unwrap();
        let consents = owner.get(&format!("/api/v1/members/{id}/consents")).await;
        let terms = consents.body["current"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["purpose"] == "terms")
            .cloned()
            .unwrap();
        assert_eq!(
            (&terms["granted"], &terms["channel"], &terms["version"]),
            (&json!(true), &json!("counter"), &json!(1))
        );
        b.close().await;
    }
);

page_test!(
    an_owner_refunds_one_item_of_a_bill_from_the_360_page_in_thai,
    |backend| {
        let (app, owner, _, _, m) = shop(backend).await;
        let rules = json!({"multipliers": [{"name": "กาแฟคะแนนคู่", "percent": 200, "when": {"type": "items", "categories": ["coffee"]}}]});
        assert_eq!(owner.put("/api/v1/rules/earning", rules).await.status, 200);
        // 25 baht a point: 300 baht of coffee at double points (24) and a 100 baht
        // pastry (4) earn 28.
        let bill = json!({
            "member_id": m, "amount_satang": 40_000, "receipt": "R1",
            "items": [{"sku": "LATTE", "name": "ลาเต้", "category": "coffee", "quantity": 2, "unit_price_satang": 15_000},
                      {"sku": "CROISSANT", "name": "ครัวซองต์", "category": "bakery", "quantity": 1, "unit_price_satang": 10_000}]
        });
        let res = owner.post("/api/v1/purchases", bill).await;
        assert_eq!(res.body["points"], 28, "{}", res.body);
        let b = Browser::for_app(&app).await;
        b.sign_in("kafe", "owner@kafe.test", PASSWORD, "th").await;
        b.goto(&format!("/admin/members/{m}")).await;
        b.click("#history form.refund button").await;
        let lines = b.text("#refund-lines").await;
        assert!(
            lines.contains("ลาเต้") && lines.contains("ครัวซองต์"),
            "{lines}"
        );
        b.click("#refund-chosen").await;
        assert!(
            b.text("#action-refused")
                .await
                .contains("เลือกอย่างน้อยหนึ่งรายการ"),
            "nothing chosen, nothing refunded"
        );
        assert_eq!(owner.points(m).await["balance"], 28);
        b.click("#history form.refund button").await;
        b.fill("#q1", "1").await;
        b.screenshot("admin-refund-lines-th").await;
        b.click("#refund-chosen").await;
        assert!(b.exists("#action-done").await);
        assert_eq!(
            owner.points(m).await["balance"],
            24,
            "the pastry takes back its own 4 points, not a quarter of the bill's"
        );
        b.click("#history form.refund button").await;
        assert!(
            !b.exists("#q1").await,
            "nothing of the pastry is left to refund"
        );
        b.close().await;
    }
);

page_test!(
    an_owner_builds_a_happy_hour_and_a_stamp_card_on_the_rules_form_in_thai,
    |backend| {
        let (app, owner, _, siam, m) = shop(backend).await;
        // The last Saturday before today in Bangkok.
        let bangkok = jiff::tz::TimeZone::get("Asia/Bangkok").unwrap();
        let mut saturday = jiff::Zoned::now()
            .with_time_zone(bangkok.clone())
            .date()
            .yesterday()
            .unwrap();
        while saturday.weekday() != jiff::civil::Weekday::Saturday {
            saturday = saturday.yesterday().unwrap();
        }
        let b = Browser::for_app(&app).await;
        b.sign_in("kafe", "owner@kafe.test", PASSWORD, "th").await;
        b.goto("/admin/settings/earning").await;
        // A happy hour: double points on weekends, 14:00 to 17:00.
        b.fill("#m0_name", "แฮปปี้อาวร์").await;
        b.fill("#m0_times", "สอง").await;
        b.click("input[name=m0_day_sat]").await;
        b.click("input[name=m0_day_sun]").await;
        set_value(&b, "#m0_from", "14:00").await;
        set_value(&b, "#m0_until", "17:00").await;
        b.click("#save-rules").await;
        assert!(
            b.text("#m0_times-error").await.contains("ตัวคูณ"),
            "the refusal shows next to the multiplier"
        );
        assert_eq!(
            b.value("#m0_name").await,
            "แฮปปี้อาวร์",
            "what was typed stays"
        );
        b.fill("#m0_times", "2").await;
        b.fill("#s0_name", "บัตรกาแฟ").await;
        b.fill("#s0_per_item", "1").await;
        b.fill("#s0_categories", "coffee").await;
        // What a 250 baht bill on Saturday 15:00 earns, before saving.
        b.fill("#p_amount", "250").await;
        set_value(&b, "#p_at", &format!("{saturday}T15:00")).await;
        b.fill("#p_category", "coffee").await;
        b.fill("#p_qty", "2").await;
        b.fill("#p_price", "60").await;
        b.click("#preview-rules").await;
        let preview = b.text("#preview-result").await;
        assert!(
            preview.contains("20 คะแนน")
                && preview.contains("2 แสตมป์")
                && preview.contains("แฮปปี้อาวร์"),
            "{preview}"
        );
        b.client
            .execute(
                "document.getElementById('preview-result').scrollIntoView({block: 'end'})",
                vec![],
            )
            .await
            .unwrap();
        b.screenshot("admin-earning-rules-th").await;
        assert_eq!(
            owner.get("/api/v1/rules/earning").await.body["multipliers"],
            json!([]),
            "a preview saves nothing"
        );
        b.click("#save-rules").await;
        assert!(b.exists("#saved").await);
        let rules = owner.get("/api/v1/rules/earning").await.body;
        assert_eq!(
            rules["multipliers"][0],
            json!({"name": "แฮปปี้อาวร์", "percent": 200, "when": {"type": "days", "days": ["sat", "sun"], "from": "14:00:00", "until": "17:00:00"}})
        );
        assert_eq!(rules["stamps"][0]["stamps_per_item"], 1);
        // The saved rules earn on a real bill (a Saturday, 15:00 in Bangkok).
        let res = owner
            .post(
                "/api/v1/purchases",
                json!({"member_id": m, "amount_satang": 25_000, "receipt": "R1", "branch_id": siam,
                       "occurred_at": saturday.at(15, 0, 0, 0).to_zoned(bangkok).unwrap().timestamp()}),
            )
            .await;
        assert_eq!(res.body["points"], 20, "{}", res.body);
        // A second rule on a branch, then the first removed.
        b.fill("#m1_name", "สาขาสยาม").await;
        b.fill("#m1_times", "1.5").await;
        b.client
            .find(fantoccini::Locator::Css("#m1_when"))
            .await
            .unwrap()
            .select_by_value("branches")
            .await
            .unwrap();
        b.click(&format!("input[name=m1_branch_{siam}]")).await;
        b.click("input[name=m0_remove]").await;
        b.click("#save-rules").await;
        assert!(b.exists("#saved").await);
        let rules = owner.get("/api/v1/rules/earning").await.body;
        assert_eq!(
            rules["multipliers"],
            json!([{"name": "สาขาสยาม", "percent": 150, "when": {"type": "branches", "branch_ids": [siam]}}])
        );
        b.close().await;
    }
);

/// Set an input's value as its page would read it (date and time inputs take typing in
/// the browser's locale, which a test should not depend on).
async fn set_value(b: &Browser, css: &str, value: &str) {
    b.client
        .execute(
            "document.querySelector(arguments[0]).value = arguments[1]",
            vec![json!(css), json!(value)],
        )
        .await
        .unwrap();
}

page_test!(
    an_owner_edits_a_members_profile_from_the_360_page_in_thai,
    |backend| {
        let (app, owner, _, _, m) = shop(backend).await;
        let other = owner.member("0899999999").await;
        assert!(other > 0);
        let b = Browser::for_app(&app).await;
        b.sign_in("kafe", "owner@kafe.test", PASSWORD, "th").await;
        b.goto(&format!("/admin/members/{m}")).await;
        b.click("#edit-profile").await;
        assert_eq!(b.value("#phone").await, "081-234-5678");
        b.fill("#first_name", "มาลี").await;
        b.fill("#phone", "089-999-9999").await;
        b.fill("#birthday", "31/12/2535").await;
        b.fill("#tags", "vip, กาแฟ").await;
        b.fill("#attributes", "visits: 12\nnote: ชอบนมโอ๊ต").await;
        b.click("#save-profile").await;
        assert!(
            b.text("#phone-error").await.contains("มีสมาชิกอื่นใช้เบอร์นี้แล้ว"),
            "the phone another member holds is refused next to the field"
        );
        assert_eq!(b.value("#first_name").await, "มาลี", "what was typed stays");
        b.fill("#phone", "081-234-5678").await;
        b.fill("#national_id", "1234567890123").await;
        b.click("#save-profile").await;
        assert!(
            b.text("#national_id-error").await.contains("เลขบัตรประชาชน"),
            "a national ID whose check digit is wrong"
        );
        b.fill("#national_id", "").await;
        b.click("#save-profile").await;
        assert!(
            b.exists("#action-done").await,
            "back on the 360 page, saved"
        );
        assert!(
            b.text("#profile").await.contains("2535"),
            "the birthday in the Buddhist era"
        );
        let member = owner.get(&format!("/api/v1/members/{m}")).await.body;
        assert_eq!(
            (
                &member["first_name"],
                &member["birthday"],
                &member["tags"],
                &member["attributes"]
            ),
            (
                &json!("มาลี"),
                &json!("1992-12-31"),
                &json!(["vip", "กาแฟ"]),
                &json!({"visits": 12, "note": "ชอบนมโอ๊ต"})
            )
        );
        b.close().await;
    }
);

page_test!(
    an_owner_merges_a_duplicate_after_seeing_what_moves_in_thai,
    |backend| {
        let (app, owner, _, _, m) = shop(backend).await;
        let dup = owner.member("0899999999").await;
        assert_eq!(owner.purchase(m, 100_000, "R1").await.status, 201);
        assert_eq!(owner.purchase(dup, 50_000, "R2").await.status, 201);
        let res = owner
            .patch(
                &format!("/api/v1/members/{dup}"),
                json!({"email": "mali@example.com", "tags": ["vip"]}),
            )
            .await;
        assert_eq!(res.status, 200, "{}", res.body);
        let b = Browser::for_app(&app).await;
        b.sign_in("kafe", "owner@kafe.test", PASSWORD, "th").await;
        b.goto(&format!("/admin/members/{m}")).await;
        b.fill("#dup_phone", "081-234-5678").await;
        b.click("#merge-next").await;
        assert!(
            b.text("#dup_phone-error")
                .await
                .contains("เบอร์ของสมาชิกคนนี้เอง")
        );
        b.fill("#dup_phone", "089-999-9999").await;
        b.click("#merge-next").await;
        let preview = b.text("#merge-preview").await;
        // 40 + 20 points; the duplicate's email and tag fill this member's.
        assert!(
            preview.contains("60")
                && preview.contains("mali@example.com")
                && preview.contains("vip"),
            "{preview}"
        );
        assert_eq!(
            owner.points(m).await["balance"],
            40,
            "nothing before it is confirmed"
        );
        b.screenshot("admin-merge-preview-th").await;
        b.click("#confirm-action").await;
        assert!(b.exists("#action-done").await);
        assert_eq!(owner.points(m).await["balance"], 60);
        let found = owner.get("/api/v1/members?phone=0899999999").await.body;
        assert_eq!(
            found["items"][0]["id"], m,
            "the duplicate's phone finds the member"
        );
        b.close().await;
    }
);

page_test!(
    an_owner_adjusts_many_members_points_from_a_file_all_or_nothing_in_thai,
    |backend| {
        let (app, owner, _, _, m) = shop(backend).await;
        let other = owner.member("0899999999").await;
        assert_eq!(owner.purchase(other, 50_000, "R1").await.status, 201);
        let dir = tempfile::tempdir().unwrap();
        let upload = |b: &Browser, name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            let b = b.client.clone();
            async move {
                b.find(fantoccini::Locator::Css("#file"))
                    .await
                    .unwrap()
                    .send_keys(path.to_str().unwrap())
                    .await
                    .unwrap();
            }
        };
        let b = Browser::for_app(&app).await;
        b.sign_in("kafe", "owner@kafe.test", PASSWORD, "th").await;
        b.goto("/admin/points").await;
        b.click("#bulk-adjust").await;
        // A row names nobody: the file is refused by row and column, nothing moves.
        upload(
            &b,
            "bad.csv",
            "เบอร์โทร,คะแนน,เหตุผล\n081-234-5678,150,ชดเชย\n089-999-9999,-500,แก้ยอด\n080-000-0000,10,x\n",
        )
        .await;
        b.click("#check-file").await;
        let problems = b.text("#bulk-problems").await;
        assert!(
            problems.contains("4 A (เบอร์โทร) 080-000-0000") && problems.contains("ไม่พบสมาชิก"),
            "{problems}"
        );
        upload(
            &b,
            "over.csv",
            "เบอร์โทร,คะแนน,เหตุผล\n081-234-5678,150,ชดเชย\n089-999-9999,-500,แก้ยอด\n",
        )
        .await;
        b.click("#check-file").await;
        assert_eq!(b.text("#bulk-added").await, "+150");
        // Checked, but at posting 20 points cannot give 500: nothing moves either.
        b.click("#confirm-action").await;
        assert!(
            b.text("#bulk-refused").await.contains("ยังไม่มีการเปลี่ยนแปลง"),
            "20 points cannot give 500"
        );
        assert!(b.text("#bulk-problems").await.contains("คะแนนไม่พอ"));
        assert_eq!(owner.points(m).await["balance"], 0, "all or nothing");
        upload(
            &b,
            "good.csv",
            "เบอร์โทร,คะแนน\n081-234-5678,150\n089-999-9999,-5\n",
        )
        .await;
        b.fill("#reason", "ชดเชยเครื่องเสีย").await;
        b.click("#check-file").await;
        assert_eq!(b.text("#bulk-taken").await, "−5");
        b.screenshot("admin-bulk-adjust-th").await;
        b.click("#confirm-action").await;
        assert!(b.exists("#action-done").await);
        assert_eq!(owner.points(m).await["balance"], 150);
        assert_eq!(owner.points(other).await["balance"], 15);
        // The same confirmation again (a double tap, the back button) posts nothing more.
        b.client.back().await.unwrap();
        b.click("#confirm-action").await;
        assert_eq!(owner.points(m).await["balance"], 150);
        let history = owner.get(&format!("/api/v1/members/{m}/ledger")).await.body;
        assert!(history.to_string().contains("ชดเชยเครื่องเสีย"), "{history}");
        b.close().await;
    }
);

page_test!(
    an_owner_changes_their_password_and_gives_a_cashier_a_reset_link_in_thai,
    |backend| {
        let (app, _owner, cashier, _, _) = shop(backend).await;
        let b = Browser::for_app(&app).await;
        b.sign_in("kafe", "owner@kafe.test", PASSWORD, "th").await;
        b.click("#to-account").await;
        b.fill("#current_password", "not the password").await;
        b.fill("#new_password", "ร้านกาแฟของฉัน 2569").await;
        b.fill("#repeat_password", "ร้านกาแฟของฉัน 2569").await;
        b.click("#save-password").await;
        assert!(b.text("#current_password-error").await.contains("ไม่ถูกต้อง"));
        b.fill("#current_password", PASSWORD).await;
        b.fill("#new_password", "ร้านกาแฟของฉัน 2569").await;
        b.fill("#repeat_password", "ร้านกาแฟของฉัน 2569").await;
        b.click("#save-password").await;
        assert!(b.exists("#saved").await);
        assert!(
            app.login("kafe", "owner@kafe.test", "ร้านกาแฟของฉัน 2569")
                .await
                .is_ok()
        );
        // The cashier lost theirs: a link from their page.
        b.goto(&format!("/admin/staff/{}", cashier.id())).await;
        b.click("#make-reset").await;
        let link = b.text("#reset-link").await;
        assert!(b.exists("#share-reset-line").await);
        b.screenshot("admin-reset-link-th").await;
        let path = &link[link.find("/reset/").unwrap()..];
        b.goto(path).await;
        b.fill("#password", "รหัสใหม่ของแคชเชียร์").await;
        b.fill("#repeat_password", "รหัสใหม่ของแคชเชียร์!").await;
        b.click("#set-password").await;
        assert!(b.text("#repeat_password-error").await.contains("ไม่ตรงกัน"));
        b.fill("#password", "รหัสใหม่ของแคชเชียร์").await;
        b.fill("#repeat_password", "รหัสใหม่ของแคชเชียร์").await;
        b.click("#set-password").await;
        assert!(b.text("#reset-done").await.contains("ตั้งรหัสผ่านใหม่แล้ว"));
        let email = cashier.me["email"].as_str().unwrap().to_string();
        assert!(app.login("kafe", &email, "รหัสใหม่ของแคชเชียร์").await.is_ok());
        b.close().await;
    }
);

page_test!(
    a_shop_signs_up_on_its_own_with_a_texted_code_and_lands_in_the_wizard_in_thai,
    |backend| {
        let app = TestApp::spawn(backend).await;
        let b = Browser::for_app(&app).await;
        b.goto("/login?lang=th").await;
        b.click("#open-shop").await;
        b.fill("#shop_name", "ร้านกาแฟบ้านสวน").await;
        b.fill("#owner_name", "สมศรี").await;
        b.fill("#owner_email", "somsri@example").await;
        b.fill("#phone", "081-555-0000").await;
        b.click("#send-code").await;
        assert!(!b.text("#owner_email-error").await.is_empty());
        assert_eq!(
            b.value("#shop_name").await,
            "ร้านกาแฟบ้านสวน",
            "what was typed stays"
        );
        b.fill("#owner_email", "somsri@example.com").await;
        b.click("#send-code").await;
        let sent = b.text("#code-sent").await;
        assert!(sent.contains("0000"), "the masked phone: {sent}");
        // No SMS gateway here: the page shows the text that would have been sent.
        let text = b.text("#dev-mailbox").await;
        let code: String = text.split("OTP ").nth(1).unwrap().chars().take(6).collect();
        let wrong = if code == "000000" { "111111" } else { "000000" };
        b.fill("#code", wrong).await;
        b.fill("#password", "รหัสร้านกาแฟ 2569").await;
        b.fill("#repeat_password", "รหัสร้านกาแฟ 2569").await;
        b.click("#create-shop").await;
        assert!(b.text("#code-error").await.contains("ไม่ถูกต้อง"));
        b.fill("#code", &code).await;
        b.fill("#password", "รหัสร้านกาแฟ 2569").await;
        b.fill("#repeat_password", "รหัสร้านกาแฟ 2569").await;
        b.screenshot("shop-signup-code-th").await;
        b.click("#create-shop").await;
        let url = b.client.current_url().await.unwrap();
        assert_eq!(
            url.path(),
            "/admin/setup",
            "the owner lands in the setup wizard"
        );
        b.close().await;
        // A Thai name makes no slug of its own: the shop is at "shop".
        let owner = app
            .login("shop", "somsri@example.com", "รหัสร้านกาแฟ 2569")
            .await
            .unwrap();
        let shop = owner.get("/api/v1/tenant").await.body;
        assert_eq!(shop["name"], "ร้านกาแฟบ้านสวน");
        assert_eq!(owner.me["role"], "owner");
    }
);

page_test!(
    the_counter_reads_a_member_card_from_the_camera_where_the_browser_can,
    |backend| {
        let (app, owner, cashier, _, m) = shop(backend).await;
        let member = crate::page_access::member_signed_in(&app, &owner, "0812345678").await;
        let home = member.get("/m/kafe?lang=th").await;
        let code = crate::self_service::card_code(&home.text);
        let email = cashier.me["email"].as_str().unwrap().to_string();
        let b = Browser::for_app(&app).await;
        b.sign_in("kafe", &email, PASSWORD, "th").await;
        // Headless Chromium on Linux has no camera and no BarcodeDetector: the button
        // stays hidden and the code is typed.
        let shown = b
            .client
            .execute(
                "return !document.getElementById('scan-card').hidden",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(shown, json!(false));
        // Where the browser has them (Chrome on Android), the page's own script runs:
        // here a stand-in detector "sees" the member's barcode digits in a real stream.
        let digits: String = code.chars().filter(char::is_ascii_digit).collect();
        let own = b
            .client
            .execute(
                "return [...document.scripts].find(s => s.textContent.includes('scan-card')).textContent",
                vec![],
            )
            .await
            .unwrap();
        let stand_in = format!(
            "const digits = arguments[0];
             window.BarcodeDetector = class {{ detect() {{ return Promise.resolve([{{ rawValue: digits }}]); }} }};
             const canvas = document.createElement('canvas');
             navigator.mediaDevices.getUserMedia = () => Promise.resolve(canvas.captureStream());
             {}",
            own.as_str().unwrap()
        );
        b.client
            .execute(&stand_in, vec![json!(digits)])
            .await
            .unwrap();
        let shown = b
            .client
            .execute(
                "return !document.getElementById('scan-card').hidden",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(shown, json!(true), "shown where the browser can read codes");
        b.click("#scan-card").await;
        assert!(
            b.text("#member").await.contains("Mali"),
            "the card read by the camera finds the member"
        );
        assert!(b.exists("#amount").await);
        assert_eq!(owner.get(&format!("/api/v1/members/{m}")).await.status, 200);
        b.close().await;
    }
);
