//! Every staff page × every role, as `access.rs` does for the API: a role sees a page
//! exactly when the product's role table gives it the page's permission, every other
//! role gets the refusal page (403), and a visitor who is not signed in is sent to the
//! sign-in page. The pages are written out here, apart from the server's code, and a
//! test checks that the list names every staff page the router serves.

use serde_json::json;

use crate::access::expected_permissions;
use crate::db_test;
use crate::helpers::User;

/// (path, the permission it needs; "" = any signed-in staff). `{member}`, `{reward}` and
/// `{staff}` are replaced by ids of the shop's own.
const PAGES: &[(&str, &str)] = &[
    ("/admin", ""),
    ("/admin/account", ""),
    ("/admin/mailbox", "tenant.manage"),
    ("/admin/members", "members.read"),
    ("/admin/members/{member}", "members.read"),
    ("/admin/members/{member}/export", "members.sensitive"),
    ("/admin/members/{member}/edit", "members.write"),
    ("/admin/import", "members.write"),
    ("/admin/rewards", "tenant.read"),
    ("/admin/rewards/{reward}", "rewards.manage"),
    ("/admin/tiers", "rules.manage"),
    ("/admin/signup-form", "tenant.manage"),
    ("/admin/draws", "tenant.read"),
    ("/admin/points", "reports.read"),
    ("/admin/points/adjust", "points.adjust"),
    ("/admin/staff", "staff.read"),
    ("/admin/staff/{staff}", "staff.manage"),
    ("/admin/branches", "branches.read"),
    ("/admin/audit", "audit.read"),
    ("/admin/api-keys", "api_keys.manage"),
    ("/admin/settings/tiers", "rules.manage"),
    ("/admin/settings/earning", "rules.manage"),
    ("/admin/settings/ledger", "rules.manage"),
    ("/admin/settings/spend", "rules.manage"),
    ("/admin/settings/signup-form", "tenant.manage"),
    ("/admin/setup", "tenant.manage"),
    ("/staff/earn", "points.earn"),
    ("/staff/coupons", "coupons.validate"),
    ("/staff/fulfilment", "fulfilment.manage"),
];

/// Staff pages served only to a form's post (their refusals are in `security.rs` and the
/// pages' own tests), and redirects.
const NOT_PAGES: &[&str] = &[
    "/admin/members/{id}/actions",
    "/admin/points/adjust/confirm",
    "/admin/staff/{id}/password-reset",
    "/admin/staff/invite",
    "/admin/staff/invitations/{id}/{action}",
    "/admin/branches/{id}",
    "/admin/rewards/{id}/archive",
    "/admin/draws/{id}",
    "/admin/api-keys/{id}/revoke",
    "/staff",
    "/staff/claims",
    "/staff/earn/join",
];

const ROLES: &[&str] = &[
    "owner",
    "admin",
    "manager",
    "cashier",
    "fulfilment",
    "analyst",
];

fn path_of(page: &str, member: i64, reward: i64, staff: i64) -> String {
    page.replace("{member}", &member.to_string())
        .replace("{reward}", &reward.to_string())
        .replace("{staff}", &staff.to_string())
}

/// Whether a page of the list is served by the router's `route`: segment by segment, a
/// `{…}` of either matches any one segment.
fn same_route(route: &str, page: &str) -> bool {
    let (r, p): (Vec<_>, Vec<_>) = (route.split('/').collect(), page.split('/').collect());
    r.len() == p.len()
        && r.iter()
            .zip(&p)
            .all(|(a, b)| a == b || a.starts_with('{') || b.starts_with('{'))
}

#[test]
fn the_list_names_every_staff_page_the_router_serves() {
    let router = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/app.rs"))
        .expect("src/app.rs");
    let served: Vec<&str> = router
        .split(".route(")
        .skip(1)
        .filter_map(|r| r.trim_start().strip_prefix('"')?.split('"').next())
        .filter(|p| p.starts_with("/admin") || p.starts_with("/staff"))
        .collect();
    assert!(served.len() > 15, "routes not found in src/app.rs");
    for path in served {
        let listed =
            PAGES.iter().any(|(page, _)| same_route(path, page)) || NOT_PAGES.contains(&path);
        assert!(
            listed,
            "{path} is served but not in PAGES: say who may see it"
        );
    }
}

db_test!(
    every_staff_page_is_shown_to_exactly_the_roles_allowed_it,
    |app| {
        let owner = app.signup("kafe").await;
        let member = owner.member("0812345678").await;
        let reward = crate::rewards::reward(
            &owner,
            json!({"kind": "coupon", "category": "drinks", "name": "ลาเต้ฟรี", "points_cost": 10}),
        )
        .await;
        let mut people: Vec<(&str, User)> = vec![];
        for role in ROLES {
            let user = match *role {
                "owner" => app
                    .login("kafe", "owner@kafe.test", crate::helpers::PASSWORD)
                    .await
                    .expect("the owner signs in"),
                other => app.hire(&owner, "kafe", other).await,
            };
            people.push((role, user));
        }
        let visitor = app.anonymous();
        let staff = people.last().expect("people were hired").1.id();
        let mut wrong = vec![];
        for (page, needs) in PAGES {
            let path = path_of(page, member, reward, staff);
            let res = visitor.get(&path).await;
            if res.status != 303 || res.header("location") != "/login" {
                wrong.push(format!(
                    "{path} to a visitor: {} to {:?}",
                    res.status,
                    res.header("location")
                ));
            }
            for (role, user) in &people {
                let allowed = needs.is_empty() || expected_permissions(role).contains(needs);
                let res = user.get(&path).await;
                let ok = if allowed {
                    res.status == 200
                } else {
                    res.status == 403
                };
                if !ok {
                    wrong.push(format!(
                        "{path} to {role} (allowed: {allowed}): {}",
                        res.status
                    ));
                }
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }
);

/// Pages whose text is data rather than the page's words: the rule documents edited as
/// JSON (the advanced views) and the developer mailbox's messages as they were sent.
const DATA_PAGES: &[&str] = &[
    "/admin/settings/tiers",
    "/admin/settings/spend",
    "/admin/settings/signup-form",
    "/admin/mailbox",
    "/admin/members/{member}/export",
];

/// Latin words a Thai page may show: names of things that have no Thai word.
const ACRONYMS: &[&str] = &[
    "API", "SMS", "OTP", "QR", "LINE", "PDPA", "CSV", "XLSX", "JSON", "SHA-256", "IP", "ID",
    "Loyal", "English",
];

/// The visible text of a page: no scripts, styles or tags, entities decoded, and no
/// text areas (what is in one is what someone typed).
fn visible_text(html: &str) -> String {
    let mut text = html.to_string();
    for tag in ["script", "style", "textarea"] {
        while let Some(start) = text.find(&format!("<{tag}")) {
            let end = text[start..]
                .find(&format!("</{tag}>"))
                .map(|e| start + e + tag.len() + 3)
                .unwrap_or(text.len());
            text.replace_range(start..end, " ");
        }
    }
    let mut out = String::new();
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
}

fn is_thai(c: char) -> bool {
    ('\u{0E00}'..='\u{0E7F}').contains(&c)
}

db_test!(
    every_staff_page_speaks_only_its_own_language_outside_the_shops_data,
    |app| {
        let owner = app.signup("kafe").await;
        let branch = owner.branch("SIAM").await;
        let member = owner.member("0812345678").await;
        assert_eq!(
            owner
                .purchase_at_branch(member, 100_000, "R1", branch)
                .await
                .status,
            201
        );
        let reward = crate::rewards::reward(
            &owner,
            json!({"kind": "coupon", "category": "drinks", "name": "ลาเต้ฟรี", "name_en": "Free latte", "points_cost": 10}),
        )
        .await;
        let staff = app.hire(&owner, "kafe", "cashier").await;
        // The shop's own data, as the pages may show it.
        let mut data: Vec<String> = vec![
            "Shop kafe".into(),
            "kafe".into(),
            "Owner".into(),
            "Branch SIAM".into(),
            "SIAM".into(),
            "Mali".into(),
            "ลาเต้ฟรี".into(),
            "Free latte".into(),
            "drinks".into(),
            "R1".into(),
            "A cashier".into(),
        ];
        for person in owner.all("/api/v1/staff").await {
            data.push(person["email"].as_str().unwrap().to_string());
        }
        data.sort_by_key(|d| std::cmp::Reverse(d.len()));
        let mut wrong = vec![];
        for (page, _) in PAGES {
            if DATA_PAGES.contains(page) {
                continue;
            }
            let path = path_of(page, member, reward, staff.id());
            for lang in ["th", "en"] {
                let res = owner.get(&format!("{path}?lang={lang}")).await;
                assert_eq!(res.status, 200, "{path} in {lang}");
                let strays = strays(&res.text, lang, &data);
                if !strays.is_empty() {
                    wrong.push(format!("{path} in {lang}: {strays:?}"));
                }
            }
        }
        assert!(
            wrong.is_empty(),
            "words of the other language:\n{}",
            wrong.join("\n")
        );
    }
);

db_test!(the_staff_navigation_shows_where_the_person_is, |app| {
    let owner = app.signup("kafe").await;
    let marked = |html: &str| {
        html.split("aria-current=\"page\"")
            .count()
            .saturating_sub(1)
    };
    for (path, link) in [
        ("/staff/earn", "/staff/earn"),
        ("/staff/coupons", "/staff/coupons"),
        ("/admin/members", "/admin"),
        ("/admin", "/admin"),
    ] {
        let page = owner.get(path).await;
        assert_eq!(page.status, 200, "{path}");
        assert!(
            page.text
                .contains(&format!("href=\"{link}\" aria-current=\"page\"")),
            "{path} marks {link}"
        );
        assert_eq!(marked(&page.text), 1, "{path}: one link marked");
    }
});

/// The words of `lang` the page does not own: Latin words on a Thai page (but for the
/// acronyms), Thai on an English one; the shop's `data` taken out first.
fn strays(html: &str, lang: &str, data: &[String]) -> Vec<String> {
    let mut text = visible_text(html);
    for d in data {
        text = text.replace(d.as_str(), " ");
    }
    let mut found: Vec<String> = match lang {
        "th" => text
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .filter(|w| w.chars().any(|c| c.is_ascii_alphabetic()))
            .filter(|w| !ACRONYMS.contains(w))
            .map(str::to_string)
            .collect(),
        _ => text
            .split(|c: char| !is_thai(c))
            .filter(|w| !w.is_empty() && *w != "ไทย")
            .map(str::to_string)
            .collect(),
    };
    found.dedup();
    found
}

/// A client signed in to the member page of `kafe` as the member with this phone,
/// through the sign-in forms (a code texted, read from the developer mailbox).
pub(crate) async fn member_signed_in(
    app: &crate::helpers::TestApp,
    owner: &User,
    phone: &str,
) -> User {
    let member = app.anonymous();
    let login = member.get("/m/kafe/login").await;
    let token = hidden(&login.text, "_form");
    let sent = post_form(
        &member,
        "/m/kafe/login",
        &[("_form", token.clone()), ("phone", phone.to_string())],
    )
    .await;
    assert_eq!(sent.status, 200, "{}", sent.text);
    let challenge = hidden(&sent.text, "challenge_id");
    let code = crate::rewards::otp_in_mailbox(owner).await;
    let signed_in = post_form(
        &member,
        "/m/kafe/login/verify",
        &[
            ("_form", token),
            ("phone", phone.to_string()),
            ("challenge_id", challenge),
            ("code", code),
        ],
    )
    .await;
    assert_eq!(signed_in.status, 303, "{}", signed_in.text);
    member
}

/// Post a form as a browser would, with the client's cookies.
pub(crate) async fn post_form(
    user: &User,
    path: &str,
    fields: &[(&str, String)],
) -> crate::helpers::Resp {
    let res = user
        .client
        .post(format!("{}{path}", user.base))
        .form(fields)
        .send()
        .await
        .unwrap();
    crate::helpers::Resp::read(res).await
}

/// The value of a hidden field in a page.
pub(crate) fn hidden(html: &str, name: &str) -> String {
    html.split(&format!("name=\"{name}\" value=\""))
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        .to_string()
}

db_test!(
    every_member_page_speaks_only_its_own_language_outside_the_shops_data,
    |app| {
        let owner = app.signup("kafe").await;
        let m = owner.member("0812345678").await;
        crate::rewards::give(&owner, m, 120).await;
        let latte = crate::rewards::reward(
            &owner,
            json!({"kind": "coupon", "category": "drinks", "name": "ลาเต้ฟรี", "name_en": "Free latte", "points_cost": 100}),
        )
        .await;
        // One the member cannot afford: why not is said in the page's words.
        crate::rewards::reward(
            &owner,
            json!({"kind": "coupon", "category": "cakes", "name": "เค้ก", "name_en": "Cake", "points_cost": 5000}),
        )
        .await;
        let (challenge, code) = crate::rewards::otp(&owner, m).await;
        let coupon = owner
            .post(
                &format!("/api/v1/rewards/{latte}/redeem"),
                json!({"member_id": m, "otp": {"challenge_id": challenge, "code": code}}),
            )
            .await;
        assert_eq!(coupon.status, 201, "{}", coupon.body);
        let now = jiff::Timestamp::now();
        let hour = jiff::SignedDuration::from_hours(1);
        let draw = owner
            .post(
                "/api/v1/draws",
                json!({"name": "iPhone", "entry_cost": 50, "winners": 1, "opens_at": now - hour, "closes_at": now + hour}),
            )
            .await;
        assert_eq!(draw.status, 201, "{}", draw.body);
        let form = json!({"terms": "ข้อตกลง", "privacy": "ความเป็นส่วนตัว", "marketing_channels": [], "questions": []});
        assert_eq!(owner.put("/api/v1/signup-form", form).await.status, 200);

        let member = member_signed_in(&app, &owner, "0812345678").await;

        let mut data: Vec<String> = [
            "drinks",
            "cakes",
            "Shop kafe",
            "iPhone",
            "ลาเต้ฟรี",
            "Free latte",
            "เค้ก",
            "Cake",
            "ข้อตกลง",
            "ความเป็นส่วนตัว",
            "Mali",
            "kafe",
        ]
        .map(String::from)
        .to_vec();
        // The coupon's code and the draw's seed fingerprint are data too.
        let code = coupon.body["redemption"]["coupon_code"].as_str().unwrap();
        data.push(format!("{}-{}", &code[..4], &code[4..]));
        data.push(code.to_string());
        data.push(draw.body["seed_hash"].as_str().unwrap()[..16].to_string());
        let pages = [
            "/m/kafe".to_string(),
            "/m/kafe/rewards".into(),
            "/m/kafe/coupons".into(),
            format!("/m/kafe/coupons/{}", coupon.body["redemption"]["id"]),
            "/m/kafe/draws".into(),
            "/m/kafe/me".into(),
            "/m/kafe/signup".into(),
            "/m/kafe/login".into(),
        ];
        let mut wrong = vec![];
        for path in &pages {
            for lang in ["th", "en"] {
                let res = member.get(&format!("{path}?lang={lang}")).await;
                assert_eq!(res.status, 200, "{path} in {lang}: {}", res.text);
                // The member card's code is data too (it changes every minute).
                let mut data = data.clone();
                data.extend(
                    res.text
                        .split("id=\"m-card-code\">")
                        .nth(1)
                        .and_then(|rest| rest.split('<').next())
                        .map(String::from),
                );
                let found = strays(&res.text, lang, &data);
                if !found.is_empty() {
                    wrong.push(format!("{path} in {lang}: {found:?}"));
                }
            }
        }
        assert!(
            wrong.is_empty(),
            "words of the other language:\n{}",
            wrong.join("\n")
        );
        // The sign-in page says what the program is before the form.
        let landing = app.anonymous().get("/m/kafe/login?lang=th").await;
        let program = visible_text(&landing.text);
        for said in ["ซื้อทุก 25.00 บาท รับ 1 คะแนน", "แลกของรางวัลได้ตั้งแต่ 100 คะแนน"]
        {
            assert!(program.contains(said), "{said} in {program}");
        }
        assert!(
            landing.text.find("m-program") < landing.text.find("send-code"),
            "before the form"
        );
        let rewards = member.get("/m/kafe/rewards?lang=th").await;
        assert!(
            ["drinks", "cakes"].iter().all(|g| {
                (0..2).any(|i| {
                    rewards
                        .text
                        .contains(&format!("href=\"#group-{i}\">{g}</a>"))
                })
            }),
            "a tab for each of the catalogue's groups"
        );
        assert!(
            rewards.text.contains("ต้องการอีก 4,980 คะแนน"),
            "how many points are missing, in Thai: {}",
            rewards.text
        );
    }
);

db_test!(
    a_new_invitation_link_is_made_before_the_old_one_stops_and_an_unknown_action_changes_nothing,
    |app| {
        let owner = app.signup("kafe").await;
        let admin = app.hire(&owner, "kafe", "admin").await;
        let inv = owner
            .post(
                "/api/v1/invitations",
                json!({"email": "boss@kafe.test", "role": "owner"}),
            )
            .await;
        assert_eq!(inv.status, 201, "{}", inv.body);
        let id = inv.body["invitation"]["id"].as_i64().unwrap();
        let post_form = |user: &User, path: String| {
            let user = user.clone();
            async move {
                let fields = [("_csrf", user.csrf.clone().unwrap_or_default())];
                let res = user
                    .client
                    .post(format!("{}{path}", user.base))
                    .form(&fields)
                    .send()
                    .await
                    .unwrap();
                crate::helpers::Resp::read(res).await
            }
        };
        let statuses = |all: Vec<serde_json::Value>| -> Vec<(i64, String)> {
            all.iter()
                .filter(|i| i["email"] == "boss@kafe.test")
                .map(|i| {
                    (
                        i["id"].as_i64().unwrap(),
                        i["status"].as_str().unwrap().to_string(),
                    )
                })
                .collect()
        };
        let res = post_form(&owner, format!("/admin/staff/invitations/{id}/bogus")).await;
        assert_eq!(res.status, 404);
        // An admin may not make owners: the new link is refused and the old one still works.
        let res = post_form(&admin, format!("/admin/staff/invitations/{id}/renew")).await;
        assert_eq!(res.status, 403);
        assert_eq!(
            statuses(owner.all("/api/v1/invitations").await),
            vec![(id, "pending".to_string())]
        );
        // The owner renews it: a new pending invitation, the old one revoked.
        let res = post_form(&owner, format!("/admin/staff/invitations/{id}/renew")).await;
        assert_eq!(res.status, 200);
        let now = statuses(owner.all("/api/v1/invitations").await);
        assert_eq!(now.len(), 2, "{now:?}");
        assert!(now.contains(&(id, "revoked".to_string())), "{now:?}");
        assert!(
            now.iter().any(|(i, s)| *i != id && s == "pending"),
            "{now:?}"
        );
    }
);
