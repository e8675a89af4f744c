//! Access control walks every route of the OpenAPI document: every role, every API-key
//! scope, another tenant's ids, and the audit trail of every write.

use std::collections::BTreeMap;

use reqwest::Method;
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{PASSWORD, TestApp, User};

/// One operation of the API as the document describes it.
struct Op {
    method: Method,
    path: String,
    operation_id: String,
    /// None: public. Some(""): any signed-in caller. Some(p): needs permission p.
    needs: Option<String>,
}

async fn operations(user: &User) -> Vec<Op> {
    let spec = user.get("/api/openapi.json").await.body;
    let mut ops = vec![];
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let security = &op["security"][0];
            let needs = match security.as_object() {
                Some(req) if req.is_empty() => None,
                Some(req) => Some(
                    req["api_key"]
                        .as_array()
                        .unwrap()
                        .first()
                        .and_then(|p| p.as_str())
                        .unwrap_or("")
                        .to_string(),
                ),
                None => panic!("{method} {path} has no security rule"),
            };
            ops.push(Op {
                method: method.to_uppercase().parse().unwrap(),
                path: path.clone(),
                operation_id: op["operationId"].as_str().unwrap().to_string(),
                needs,
            });
        }
    }
    // Signing out ends the session the walk uses: do it last.
    ops.sort_by_key(|o| o.operation_id == "logout");
    ops
}

fn is_write(m: &Method) -> bool {
    *m != Method::GET
}

/// The product's role table, written out independently of the server's code.
pub(crate) fn expected_permissions(role: &str) -> Vec<&'static str> {
    let all = vec![
        "tenant.read",
        "tenant.manage",
        "branches.read",
        "branches.manage",
        "staff.read",
        "staff.manage",
        "api_keys.manage",
        "audit.read",
        "members.read",
        "members.write",
        "members.sensitive",
        "points.earn",
        "points.redeem",
        "points.adjust",
        "rules.manage",
        "reports.read",
        "rewards.manage",
        "coupons.validate",
        "fulfilment.manage",
    ];
    match role {
        "owner" | "admin" => all,
        "manager" => vec![
            "tenant.read",
            "branches.read",
            "staff.read",
            "audit.read",
            "members.read",
            "members.write",
            "points.earn",
            "points.redeem",
            "points.adjust",
            "reports.read",
            "coupons.validate",
            "fulfilment.manage",
        ],
        "cashier" => vec![
            "tenant.read",
            "branches.read",
            "members.read",
            "members.write",
            "points.earn",
            "points.redeem",
            "coupons.validate",
        ],
        "fulfilment" => vec![
            "tenant.read",
            "branches.read",
            "members.read",
            "fulfilment.manage",
        ],
        "analyst" => vec![
            "tenant.read",
            "branches.read",
            "audit.read",
            "members.read",
            "reports.read",
        ],
        _ => unreachable!(),
    }
}

/// A body that would pass validation, so only the tenant check can refuse it.
fn attack_body(operation_id: &str) -> Option<serde_json::Value> {
    match operation_id {
        "redeem_points" => Some(json!({"points": 1})),
        "adjust_points" => Some(json!({"points": -1, "reason": "pwned"})),
        "update_member" => Some(json!({"first_name": "pwned"})),
        "merge_members" => Some(json!({"other_member_id": 1})),
        "change_consent" => Some(json!({"purpose": "marketing_sms", "granted": false})),
        "cancel_redemption" => Some(json!({})),
        "update_reward" => {
            Some(json!({"kind": "coupon", "category": "pwned", "name": "pwned", "points_cost": 1}))
        }
        "add_reward_codes" => Some(json!({"codes": ["PWNED"]})),
        "redeem_reward" => Some(json!({"member_id": 1})),
        "update_shipping" => Some(json!({"status": "packed"})),
        "enter_draw" => Some(json!({"member_id": 1, "entries": 1})),
        "revoke_api_key" | "revoke_invitation" => None,
        _ => Some(json!({"name": "pwned"})),
    }
}

db_test!(
    every_route_allows_exactly_the_roles_that_hold_its_permission,
    |app| {
        let owner = app.signup("kafe").await;
        let ops = operations(&owner).await;
        assert!(
            ops.len() >= 15,
            "the walk sees the whole API ({} operations)",
            ops.len()
        );
        let mut users = vec![("owner".to_string(), owner)];
        for role in ["admin", "manager", "cashier", "fulfilment", "analyst"] {
            let user = app.hire(&users[0].1, "kafe", role).await;
            users.push((role.to_string(), user));
        }
        let anon = app.anonymous();
        let mut checked = 0;
        for (role, user) in &users {
            let perms = expected_permissions(role);
            let declared: Vec<&str> = user.me["permissions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.as_str().unwrap())
                .collect();
            assert_eq!(declared, perms, "{role}'s permissions");
            for op in &ops {
                let Some(needs) = &op.needs else { continue };
                let url = op.path.replace("{id}", "999999999");
                let body = is_write(&op.method).then(|| json!({}));
                let res = user.request(op.method.clone(), &url, body, &[]).await;
                let allowed = needs.is_empty() || perms.contains(&needs.as_str());
                if allowed {
                    assert!(
                        res.status != 401 && res.status != 403,
                        "{role} must be allowed {} {}: {}",
                        op.method,
                        op.path,
                        res.body
                    );
                } else {
                    assert_eq!(
                        (res.status, res.code()),
                        (403, "forbidden"),
                        "{role} must be refused {} {}",
                        op.method,
                        op.path
                    );
                }
                checked += 1;
            }
        }
        for op in ops.iter().filter(|o| o.needs.is_some()) {
            let res = anon
                .request(
                    op.method.clone(),
                    &op.path.replace("{id}", "1"),
                    is_write(&op.method).then(|| json!({})),
                    &[],
                )
                .await;
            assert_eq!(
                (res.status, res.code()),
                (401, "unauthenticated"),
                "anonymous {} {}",
                op.method,
                op.path
            );
        }
        assert!(checked >= 6 * 15);
    }
);

db_test!(an_api_key_reaches_exactly_the_routes_of_its_scopes, |app| {
    let owner = app.signup("kafe").await;
    let ops = operations(&owner).await;
    let mut keys: BTreeMap<String, User> = BTreeMap::new();
    for perm in expected_permissions("owner") {
        let res = owner
            .post(
                "/api/v1/api-keys",
                json!({"name": format!("key {perm}"), "scopes": [perm]}),
            )
            .await;
        assert_eq!(res.status, 201, "{}", res.body);
        keys.insert(
            perm.to_string(),
            app.with_key(res.body["secret"].as_str().unwrap()),
        );
    }
    for op in &ops {
        let Some(needs) = &op.needs else { continue };
        for (scope, key) in &keys {
            let url = op.path.replace("{id}", "999999999");
            let res = key
                .request(
                    op.method.clone(),
                    &url,
                    is_write(&op.method).then(|| json!({})),
                    &[],
                )
                .await;
            if needs.is_empty() || needs == scope {
                assert!(
                    res.status != 401 && res.status != 403,
                    "key {scope} must reach {} {}: {}",
                    op.method,
                    op.path,
                    res.body
                );
            } else {
                assert_eq!(
                    res.status, 403,
                    "key {scope} must be refused {} {}",
                    op.method, op.path
                );
            }
        }
    }
});

/// Ids of a shop's objects, to aim at from another shop.
struct Victim {
    owner: User,
    member: i64,
    redemption: i64,
    branch: i64,
    staff: i64,
    invitation: i64,
    api_key: i64,
    api_secret: String,
    receipt: String,
}

async fn victim(app: &TestApp) -> Victim {
    let owner = app.signup("victim").await;
    let branch = owner.branch("VICTIM").await;
    let cashier = app.hire(&owner, "victim", "cashier").await;
    let inv = owner
        .post(
            "/api/v1/invitations",
            json!({"email": "pending@victim.test", "role": "analyst"}),
        )
        .await;
    let key = owner
        .post(
            "/api/v1/api-keys",
            json!({"name": "victim key", "scopes": ["branches.read"]}),
        )
        .await;
    let member = owner.member("0899999999").await;
    owner
        .post(
            &format!("/api/v1/members/{member}/points/adjust"),
            json!({"points": 100, "reason": "seed"}),
        )
        .await;
    let redemption = owner.redeem(member, 10).await;
    let receipt = "VICTIM-R1".to_string();
    assert_eq!(owner.purchase(member, 10_000, &receipt).await.status, 201);
    let form = json!({"terms": "victim terms", "privacy": "victim privacy", "marketing_channels": ["sms"]});
    owner.put("/api/v1/signup-form", form).await;
    Victim {
        member,
        redemption: redemption.body["txn_id"].as_i64().unwrap(),
        branch,
        staff: cashier.id(),
        invitation: inv.body["invitation"]["id"].as_i64().unwrap(),
        api_key: key.body["key"]["id"].as_i64().unwrap(),
        api_secret: key.body["secret"].as_str().unwrap().to_string(),
        receipt,
        owner,
    }
}

db_test!(
    no_route_reads_or_changes_another_tenants_data_whatever_ids_are_sent,
    |app| {
        let v = victim(&app).await;
        let attacker = app.signup("attacker").await;
        attacker.branch("MINE").await;
        let form = json!({"terms": "attacker terms", "privacy": "attacker privacy", "marketing_channels": []});
        attacker.put("/api/v1/signup-form", form).await;
        let ops = operations(&attacker).await;
        let foreign_ids = [
            v.branch,
            v.staff,
            v.invitation,
            v.api_key,
            v.owner.id(),
            v.owner.me["tenant_id"].as_i64().unwrap(),
            v.member,
            v.redemption,
        ];
        for op in &ops {
            if op.needs.is_none() || op.operation_id == "logout" {
                continue;
            }
            if op.path.contains("{id}") {
                for id in foreign_ids {
                    let body = if is_write(&op.method) {
                        attack_body(&op.operation_id)
                    } else {
                        None
                    };
                    let res = attacker
                        .request(
                            op.method.clone(),
                            &op.path.replace("{id}", &id.to_string()),
                            body,
                            &[],
                        )
                        .await;
                    assert_eq!(
                        (res.status, res.code()),
                        (404, "not_found"),
                        "{} {} with the other shop's id {id}: {}",
                        op.method,
                        op.path,
                        res.body
                    );
                }
            } else if op.path.contains("{receipt}") {
                let res = attacker
                    .get(&op.path.replace("{receipt}", &v.receipt))
                    .await;
                assert_eq!(
                    (res.status, res.code()),
                    (404, "not_found"),
                    "{} {} with the other shop's receipt: {}",
                    op.method,
                    op.path,
                    res.body
                );
            } else if op.method == Method::GET {
                let res = attacker.get(&op.path).await;
                assert_eq!(res.status, 200, "{} {}", op.method, op.path);
                for id in foreign_ids {
                    assert!(
                        !res.text.contains(&id.to_string()),
                        "{} shows the other shop's id {id}",
                        op.path
                    );
                }
                assert!(
                    !res.text.contains("victim"),
                    "{} shows the other shop's data",
                    op.path
                );
            }
        }
        // The victim's data is untouched.
        assert_eq!(
            v.owner
                .get(&format!("/api/v1/branches/{}", v.branch))
                .await
                .body["name"],
            "Branch VICTIM"
        );
        assert_eq!(
            v.owner
                .get(&format!("/api/v1/staff/{}", v.staff))
                .await
                .body["name"],
            "A cashier"
        );
        assert_eq!(
            v.owner
                .all("/api/v1/invitations")
                .await
                .iter()
                .find(|i| i["id"] == v.invitation)
                .unwrap()["status"],
            "pending"
        );
        assert_eq!(
            app.with_key(&v.api_secret)
                .get("/api/v1/branches")
                .await
                .status,
            200,
            "the victim's key still works"
        );
        assert_eq!(
            v.owner.get("/api/v1/tenant").await.body["name"],
            "Shop victim"
        );
        assert_eq!(
            v.owner.points(v.member).await["balance"],
            // 100 given, 10 redeemed, 4 earned by the purchase VICTIM-R1.
            94,
            "the victim's points are untouched"
        );
    }
);

db_test!(every_state_changing_request_writes_an_audit_entry, |app| {
    let owner = app.signup("kafe").await;
    let ops = operations(&owner).await;
    let branch = owner.branch("SIAM").await;
    let cashier = app.hire(&owner, "kafe", "cashier").await;
    let inv = owner
        .post(
            "/api/v1/invitations",
            json!({"email": "later@kafe.test", "role": "analyst"}),
        )
        .await;
    let key = owner
        .post(
            "/api/v1/api-keys",
            json!({"name": "k", "scopes": ["branches.read"]}),
        )
        .await;
    let pending = owner
        .post(
            "/api/v1/invitations",
            json!({"email": "accept@kafe.test", "role": "analyst"}),
        )
        .await;
    let m = owner.member("0812345678").await;
    let to_erase = owner.member("0866666666").await;
    let duplicate = owner.member("0855555555").await;
    let signup_form = json!({"terms": "T", "privacy": "P", "marketing_channels": ["sms"]});
    owner.put("/api/v1/signup-form", signup_form.clone()).await;
    owner
        .post(
            &format!("/api/v1/members/{m}/points/adjust"),
            json!({"points": 100, "reason": "seed"}),
        )
        .await;
    owner.purchase(m, 100_000, "SETUP-1").await;
    let redemption = owner.redeem(m, 2).await;
    let token = crate::helpers::invitation_token(&pending);
    // Rewards, redemptions and draws to act on (no one-time codes, to keep this short).
    owner
        .put("/api/v1/spend-settings", json!({"require_otp": false}))
        .await;
    let coupon_spec =
        json!({"kind": "coupon", "category": "drinks", "name": "Latte", "points_cost": 1});
    let new_reward = |spec: Value| {
        let owner = &owner;
        async move {
            let res = owner.post("/api/v1/rewards", spec).await;
            assert_eq!(res.status, 201, "{}", res.body);
            res.body["id"].as_i64().unwrap()
        }
    };
    let coupon = new_reward(coupon_spec.clone()).await;
    let to_archive = new_reward(coupon_spec.clone()).await;
    let shipped = new_reward(
        json!({"kind": "shipped", "category": "goods", "name": "Mug", "points_cost": 1}),
    )
    .await;
    let digital = new_reward(
        json!({"kind": "digital_code", "category": "partner", "name": "Voucher", "points_cost": 1}),
    )
    .await;
    let address = json!({"recipient": "Mali", "phone": "0812345678", "line1": "1 Sukhumvit", "district": "Watthana", "province": "Bangkok", "postcode": "10110"});
    let redeem = |reward: i64, extra: Value| {
        let owner = &owner;
        async move {
            let mut body = json!({"member_id": m});
            for (k, v) in extra.as_object().unwrap() {
                body[k] = v.clone();
            }
            let res = owner
                .post(&format!("/api/v1/rewards/{reward}/redeem"), body)
                .await;
            assert_eq!(res.status, 201, "{}", res.body);
            res.body["redemption"].clone()
        }
    };
    let to_use = redeem(coupon, json!({})).await["coupon_code"].clone();
    let to_cancel = redeem(coupon, json!({})).await["id"].clone();
    let shipment = redeem(shipped, json!({"shipping": address})).await["id"].clone();
    let now = jiff::Timestamp::now();
    let draw = |opens: jiff::Timestamp, closes: jiff::Timestamp| json!({"name": "Draw", "entry_cost": 1, "winners": 1, "opens_at": opens, "closes_at": closes});
    let hour = jiff::SignedDuration::from_hours(1);
    let open_draw = owner
        .post("/api/v1/draws", draw(now - hour, now + hour))
        .await
        .body["id"]
        .clone();
    let closed_draw = owner
        .post("/api/v1/draws", draw(now - hour - hour, now - hour))
        .await
        .body["id"]
        .clone();
    // A request that succeeds, for every write operation. A new write route must be added here.
    let mut plan: BTreeMap<&str, (String, Value)> = BTreeMap::from([
        (
            "signup",
            (
                "/api/v1/signup".into(),
                json!({"shop_name": "Audit", "slug": "audit-shop", "owner_name": "A", "owner_email": "a@audit.test", "password": PASSWORD}),
            ),
        ),
        (
            "login",
            (
                "/api/v1/sessions".into(),
                json!({"tenant": "kafe", "email": "owner@kafe.test", "password": PASSWORD}),
            ),
        ),
        (
            "update_tenant",
            ("/api/v1/tenant".into(), json!({"name": "Kafe 2"})),
        ),
        (
            "create_branch",
            (
                "/api/v1/branches".into(),
                json!({"code": "ARI", "name": "Ari"}),
            ),
        ),
        (
            "update_branch",
            (
                format!("/api/v1/branches/{branch}"),
                json!({"name": "Siam 2"}),
            ),
        ),
        (
            "update_staff",
            (
                format!("/api/v1/staff/{}", cashier.id()),
                json!({"name": "Mani"}),
            ),
        ),
        (
            "create_invitation",
            (
                "/api/v1/invitations".into(),
                json!({"email": "new@kafe.test", "role": "cashier"}),
            ),
        ),
        (
            "revoke_invitation",
            (
                format!("/api/v1/invitations/{}", inv.body["invitation"]["id"]),
                Value::Null,
            ),
        ),
        (
            "accept_invitation",
            (
                format!("/api/v1/invitation-tokens/{token}/accept"),
                json!({"name": "Acc", "password": PASSWORD}),
            ),
        ),
        (
            "create_api_key",
            (
                "/api/v1/api-keys".into(),
                json!({"name": "k2", "scopes": ["tenant.read"]}),
            ),
        ),
        (
            "revoke_api_key",
            (
                format!("/api/v1/api-keys/{}", key.body["key"]["id"]),
                Value::Null,
            ),
        ),
        ("logout", ("/api/v1/sessions/current".into(), Value::Null)),
        (
            "change_password",
            (
                "/api/v1/me/password".into(),
                json!({"current_password": PASSWORD, "new_password": PASSWORD}),
            ),
        ),
        (
            "create_password_reset",
            (
                format!("/api/v1/staff/{}/password-reset", cashier.id()),
                Value::Null,
            ),
        ),
        (
            "put_signup_form",
            ("/api/v1/signup-form".into(), signup_form.clone()),
        ),
        (
            "public_signup",
            (
                "/api/v1/public/kafe/signup".into(),
                json!({"phone": "0844444444", "first_name": "New", "accept_terms_version": 1, "accept_privacy_version": 1}),
            ),
        ),
        (
            "change_consent",
            (
                format!("/api/v1/members/{m}/consents"),
                json!({"purpose": "marketing_sms", "granted": true}),
            ),
        ),
        (
            "merge_members",
            (
                format!("/api/v1/members/{m}/merge"),
                json!({"other_member_id": duplicate}),
            ),
        ),
        (
            "erase_member",
            (format!("/api/v1/members/{to_erase}/erase"), json!({})),
        ),
        (
            "start_member_import",
            (
                "/api/v1/members/imports?format=csv".into(),
                json!("phone\n0877777777\n"),
            ),
        ),
        (
            "update_member",
            (
                format!("/api/v1/members/{m}"),
                json!({"first_name": "Malee", "tags": ["vip"]}),
            ),
        ),
        (
            "put_earning_rules",
            (
                "/api/v1/rules/earning".into(),
                json!({"cap_per_bill": 1000}),
            ),
        ),
        (
            "create_member",
            ("/api/v1/members".into(), json!({"phone": "0898888888"})),
        ),
        (
            "put_ledger_settings",
            (
                "/api/v1/ledger/settings".into(),
                crate::helpers::ledger_settings(json!({"welcome_points": 10})),
            ),
        ),
        (
            "record_purchase",
            (
                "/api/v1/purchases".into(),
                json!({"member_id": m, "amount_satang": 50_000, "receipt": "AUDIT-1"}),
            ),
        ),
        (
            "record_purchase_batch",
            (
                "/api/v1/purchases/batch".into(),
                json!({"purchases": [{"member_id": m, "amount_satang": 50_000, "receipt": "AUDIT-B1"}]}),
            ),
        ),
        (
            "refund_purchase",
            (
                "/api/v1/purchases/refunds".into(),
                json!({"receipt": "SETUP-1", "refund_id": "RF-1"}),
            ),
        ),
        (
            "redeem_points",
            (
                format!("/api/v1/members/{m}/points/redeem"),
                json!({"points": 1}),
            ),
        ),
        (
            "adjust_points",
            (
                format!("/api/v1/members/{m}/points/adjust"),
                json!({"points": 5, "reason": "audit"}),
            ),
        ),
        (
            "cancel_redemption",
            (
                format!(
                    "/api/v1/ledger/redemptions/{}/cancel",
                    redemption.body["txn_id"]
                ),
                json!({}),
            ),
        ),
    ]);
    plan.extend([
        ("put_tier_program", ("/api/v1/tiers".into(), json!({"enabled": true, "levels": [{"code": "member", "name": "Member", "threshold": 0}, {"code": "gold", "name": "Gold", "threshold": 100}]}))),
        ("run_tier_reviews", ("/api/v1/tiers/reviews".into(), Value::Null)),
        ("send_member_otp", (format!("/api/v1/members/{m}/otp"), Value::Null)),
        ("put_spend_settings", ("/api/v1/spend-settings".into(), json!({"require_otp": false}))),
        ("create_reward", ("/api/v1/rewards".into(), coupon_spec.clone())),
        ("update_reward", (format!("/api/v1/rewards/{coupon}"), coupon_spec.clone())),
        ("archive_reward", (format!("/api/v1/rewards/{to_archive}"), Value::Null)),
        ("add_reward_codes", (format!("/api/v1/rewards/{digital}/codes"), json!({"codes": ["A1", "A2"]}))),
        ("redeem_reward", (format!("/api/v1/rewards/{coupon}/redeem"), json!({"member_id": m}))),
        ("cancel_reward_redemption", (format!("/api/v1/redemptions/{to_cancel}/cancel"), Value::Null)),
        ("update_shipping", (format!("/api/v1/redemptions/{shipment}/shipping"), json!({"status": "packed"}))),
        ("check_coupon", ("/api/v1/coupons/check".into(), json!({"code": to_use}))),
        ("use_coupon", ("/api/v1/coupons/use".into(), json!({"code": to_use, "branch_id": branch}))),
        ("create_draw", ("/api/v1/draws".into(), draw(now, now + hour))),
        ("enter_draw", (format!("/api/v1/draws/{open_draw}/entries"), json!({"member_id": m, "entries": 1}))),
        ("make_draw", (format!("/api/v1/draws/{closed_draw}/draw"), Value::Null)),
        ("create_claim", ("/api/v1/claims".into(), json!({"amount_satang": 10_000}))),
    ]);
    for op in ops.iter().filter(|o| is_write(&o.method)) {
        let (url, body) = plan
            .get(op.operation_id.as_str())
            .unwrap_or_else(|| panic!("add {} to the audit plan", op.operation_id));
        let request_id = format!("audit-{}", op.operation_id);
        let fresh;
        let caller = match (op.operation_id.as_str(), &op.needs) {
            // Signing out ends the session it is sent with: use a second one.
            ("logout", _) => {
                fresh = app
                    .login("kafe", "owner@kafe.test", PASSWORD)
                    .await
                    .unwrap();
                &fresh
            }
            (_, None) => {
                fresh = app.anonymous();
                &fresh
            }
            _ => &owner,
        };
        let res = caller
            .request(
                op.method.clone(),
                url,
                (!body.is_null()).then(|| body.clone()),
                &[("x-request-id", &request_id)],
            )
            .await;
        assert!(
            res.status < 300,
            "{} should succeed: {}",
            op.operation_id,
            res.body
        );
        let other_shop;
        let auditor = if op.operation_id == "signup" {
            other_shop = app
                .login("audit-shop", "a@audit.test", PASSWORD)
                .await
                .unwrap();
            &other_shop
        } else {
            &owner
        };
        let entries = auditor
            .all(&format!("/api/v1/audit-log?request_id={request_id}"))
            .await;
        assert!(
            !entries.is_empty(),
            "{} wrote no audit entry",
            op.operation_id
        );
    }
});
