//! The first-run setup wizard (`/admin/setup`): shop, branch, points and expiry, tiers,
//! a first reward, a staff invitation. Each step turns the form into the API's request
//! body and calls the API's own handler, so validation, permissions-by-step, audit and
//! errors (shown next to the field) are exactly the API's.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Form, Json};
use axum_extra::extract::CookieJar;
use maud::{Markup, PreEscaped, html};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::audit::RequestMeta;
use crate::auth::{Ctx, Permission, Principal};
use crate::error::ApiError;
use crate::http::json::{JsonBody, parse_json};
use crate::state::AppState;
use crate::tenants::model::Language;
use crate::web::{PageSession, csrf_ok, field_error, language, staff_layout, t};

/// The steps, in order, with the permission each needs.
const STEPS: &[(&str, &str, Permission)] = &[
    ("shop", "w_shop", Permission::TenantManage),
    ("branch", "w_branch", Permission::BranchesManage),
    ("points", "w_points", Permission::RulesManage),
    ("tiers", "w_tiers", Permission::RulesManage),
    ("reward", "w_reward", Permission::RewardsManage),
    ("staff", "w_staff", Permission::StaffManage),
];

#[derive(Deserialize, Default)]
pub struct StepQuery {
    step: Option<String>,
    lang: Option<String>,
}

type Fields = HashMap<String, String>;

fn next_step(step: &str) -> Option<&'static str> {
    let i = STEPS.iter().position(|s| s.0 == step)?;
    STEPS.get(i + 1).map(|s| s.0)
}

/// The form of one step, pre-filled with what was typed (or sensible defaults).
fn step_form(
    lang: Language,
    step: &str,
    v: &dyn Fn(&str, &str) -> String,
    err: &dyn Fn(&str) -> Option<String>,
) -> Markup {
    let input = |name: &str, label: &'static str, default: &str, kind: &str| {
        html! {
            label for=(name) { (t(lang, label)) }
            input id=(name) name=(name) type=(kind) value=(v(name, default)) aria-describedby=(format!("{name}-error")) aria-invalid=[err(name).map(|_| "true")];
            (field_error(name, err(name).as_deref()))
        }
    };
    match step {
        "shop" => html! {
            (input("name", "w_shop_name", "", "text"))
            (input("time_zone", "w_time_zone", "Asia/Bangkok", "text"))
            label for="language" { (t(lang, "w_language")) }
            select #language name="language" {
                option value="th" selected[v("language", "th") == "th"] { "ไทย" }
                option value="en" selected[v("language", "th") == "en"] { "English" }
            }
        },
        "branch" => html! {
            (input("code", "w_branch_code", "", "text"))
            (input("branch_name", "w_branch_name", "", "text"))
        },
        "points" => html! {
            (input("baht_per_point", "w_baht_per_point", "25", "text"))
            (input("expiry_months", "w_expiry_months", "24", "number"))
            (input("welcome_points", "w_welcome_points", "0", "number"))
        },
        "tiers" => html! {
            label { input #tiers_on type="checkbox" name="tiers_on" style="width:auto" checked[v("tiers_on", "on") == "on"]; " " (t(lang, "w_tiers_on")) }
            (input("silver", "w_silver", "50", "number"))
            (input("gold", "w_gold", "150", "number"))
            (input("platinum", "w_platinum", "400", "number"))
            (input("diamond", "w_diamond", "1000", "number"))
        },
        "reward" => html! {
            (input("reward_name", "w_reward_name", "", "text"))
            (input("points_cost", "w_points_cost", "100", "number"))
        },
        _ => html! {
            (input("email", "email", "", "email"))
            label for="role" { (t(lang, "role")) }
            select #role name="role" {
                @for r in ["cashier", "manager", "fulfilment", "analyst", "admin"] { option value=(r) selected[v("role", "cashier") == r] { (r) } }
            }
        },
    }
}

fn int(f: &Fields, k: &str) -> Value {
    f.get(k)
        .and_then(|s| s.trim().parse::<i64>().ok())
        .map(Value::from)
        .unwrap_or(Value::Null)
}

/// The API request body a step's form becomes, and the form field of each body field.
fn request(step: &str, f: &Fields) -> (Value, Vec<(&'static str, &'static str)>) {
    let s = |k: &str| f.get(k).cloned().unwrap_or_default();
    match step {
        "shop" => (
            json!({"name": s("name"), "time_zone": s("time_zone"), "language": s("language")}),
            vec![],
        ),
        "branch" => (
            json!({"code": s("code"), "name": s("branch_name")}),
            vec![("name", "branch_name")],
        ),
        "points" => {
            let spend = crate::web::parse_baht(&s("baht_per_point"))
                .map(Value::from)
                .unwrap_or(Value::Null);
            let months = int(f, "expiry_months");
            let expiry = if months.as_i64() == Some(0) {
                json!({"mode": "never"})
            } else {
                json!({"mode": "rolling", "months": months, "round_up": "month_end"})
            };
            (
                json!({"earn": {"spend_satang": spend, "points": 1, "rounding": "floor", "min_spend_satang": 0}, "expiry": expiry,
                       "pending_days": 0, "refund_policy": "allow_negative", "welcome_points": int(f, "welcome_points")}),
                vec![
                    ("earn.spend_satang", "baht_per_point"),
                    ("expiry", "expiry_months"),
                    ("expiry.months", "expiry_months"),
                ],
            )
        }
        "tiers" => {
            let level = |code: &str, name: &str, th: &str, threshold: Value, pct: u32| json!({"code": code, "name": th, "name_en": name, "threshold": threshold, "earn_percent": pct});
            (
                json!({"enabled": s("tiers_on") == "on", "metric": "points_earned", "window": {"type": "calendar_year"}, "downgrade": "one_step",
                       "levels": [level("member", "Member", "สมาชิก", json!(0), 100), level("silver", "Silver", "ซิลเวอร์", int(f, "silver"), 110),
                                  level("gold", "Gold", "โกลด์", int(f, "gold"), 125), level("platinum", "Platinum", "แพลทินัม", int(f, "platinum"), 150),
                                  level("diamond", "Diamond", "ไดมอนด์", int(f, "diamond"), 200)]}),
                vec![
                    ("levels[1].threshold", "silver"),
                    ("levels[2].threshold", "gold"),
                    ("levels[3].threshold", "platinum"),
                    ("levels[4].threshold", "diamond"),
                ],
            )
        }
        "reward" => (
            json!({"kind": "coupon", "category": "rewards", "name": s("reward_name"), "points_cost": int(f, "points_cost")}),
            vec![("name", "reward_name")],
        ),
        _ => (json!({"email": s("email"), "role": s("role")}), vec![]),
    }
}

struct Outcome {
    /// Shown after a successful step (the invitation link and QR).
    extra: Option<Markup>,
}

async fn run_step(app: &AppState, ctx: Ctx, step: &str, body: Value) -> Result<Outcome, ApiError> {
    let bytes = body.to_string().into_bytes();
    let state = State(app.clone());
    let none = Outcome { extra: None };
    match step {
        "shop" => crate::tenants::api::update_tenant(state, ctx, JsonBody(parse_json(&bytes)?))
            .await
            .map(|_| none),
        "branch" => crate::tenants::api::create_branch(state, ctx, JsonBody(parse_json(&bytes)?))
            .await
            .map(|_| none),
        "points" => {
            let mut settings: crate::ledger::LedgerSettings = parse_json(&bytes)?;
            // The wizard does not ask a point's value: keep the one the shop set.
            settings.point_value_satang = crate::ledger::settings(&app.db, ctx.tenant_id())
                .await?
                .point_value_satang;
            crate::ledger::api::put_ledger_settings(state, ctx, JsonBody(settings))
                .await
                .map(|_| none)
        }
        "tiers" => crate::tiers::api::put_tier_program(state, ctx, JsonBody(parse_json(&bytes)?))
            .await
            .map(|_| none),
        "reward" => crate::rewards::api::create_reward(state, ctx, JsonBody(parse_json(&bytes)?))
            .await
            .map(|_| none),
        _ => {
            let (_, _, Json(created)) =
                crate::staff::api::create_invitation(state, ctx, JsonBody(parse_json(&bytes)?))
                    .await?;
            Ok(Outcome {
                extra: Some(html! {
                    section.card #invitation {
                        div.qr role="img" aria-label="QR" { (PreEscaped(created.qr_svg)) }
                        p { a #invitation-link href=(created.url) { (created.url) } }
                    }
                }),
            })
        }
    }
}

fn page(lang: Language, p: &Principal, step: &str, form: Markup, notice: Option<Markup>) -> Markup {
    let csrf = p.csrf_token.clone().unwrap_or_default();
    let body = html! {
        ol.steps {
            @for (id, label, _) in STEPS {
                li aria-current=[(*id == step).then_some("step")] { a href=(format!("/admin/setup?step={id}")) { (t(lang, label)) } }
            }
        }
        @if let Some(n) = notice { (n) }
        form method="post" action=(format!("/admin/setup?step={step}")) {
            input type="hidden" name="_csrf" value=(csrf);
            (form)
            div.row {
                button type="submit" #save { (t(lang, "w_save")) }
            }
        }
        p { @match next_step(step) {
            Some(n) => a #skip href=(format!("/admin/setup?step={n}")) { (t(lang, "w_skip")) },
            None => a #done href="/admin" { (t(lang, "w_done")) },
        } }
    };
    staff_layout(lang, t(lang, "w_title"), p, body)
}

fn step_of(q: &StepQuery) -> &'static str {
    STEPS
        .iter()
        .find(|s| Some(s.0) == q.step.as_deref())
        .map(|s| s.0)
        .unwrap_or("shop")
}

/// `GET /admin/setup?step=`.
pub async fn show(
    State(app): State<AppState>,
    PageSession(p): PageSession,
    jar: CookieJar,
    Query(q): Query<StepQuery>,
) -> Response {
    let lang = language(
        q.lang.as_ref().map(|l| format!("lang={l}")).as_deref(),
        &jar,
    );
    let step = step_of(&q);
    if !p.allows(step_needs(step)) {
        return crate::web::refuse(lang);
    }
    let mut defaults = Fields::new();
    if step == "shop" {
        match crate::tenants::store::get_tenant(&app.db, p.tenant_id).await {
            Ok(Some(tenant)) => {
                defaults.insert("name".into(), tenant.name);
                defaults.insert("time_zone".into(), tenant.time_zone);
                defaults.insert("language".into(), tenant.language);
            }
            Ok(None) => {}
            Err(e) => return crate::web::server_error(lang, e),
        }
    }
    let v = |k: &str, d: &str| defaults.get(k).cloned().unwrap_or_else(|| d.to_string());
    let form = step_form(lang, step, &v, &|_| None);
    let jar = jar.add(
        axum_extra::extract::cookie::Cookie::build(("lang", lang.as_str()))
            .path("/")
            .build(),
    );
    (jar, Html(page(lang, &p, step, form, None).into_string())).into_response()
}

/// The permission a step of the wizard needs, to be shown and to be saved.
fn step_needs(step: &str) -> Permission {
    STEPS
        .iter()
        .find(|s| s.0 == step)
        .map(|s| s.2)
        .unwrap_or(Permission::TenantManage)
}

/// `POST /admin/setup?step=`: save the step through the API's handler; on success go to
/// the next step (the staff step stays, to show the invitation link and QR).
pub async fn submit(
    State(app): State<AppState>,
    PageSession(p): PageSession,
    meta: RequestMeta,
    jar: CookieJar,
    Query(q): Query<StepQuery>,
    Form(f): Form<Fields>,
) -> Response {
    let lang = language(None, &jar);
    let step = step_of(&q);
    let needs = step_needs(step);
    if !csrf_ok(&p, f.get("_csrf").map(String::as_str).unwrap_or_default()) || !p.allows(needs) {
        return (
            StatusCode::FORBIDDEN,
            Html(t(lang, "not_allowed").to_string()),
        )
            .into_response();
    }
    let (body, field_map) = request(step, &f);
    let ctx = Ctx {
        principal: p.clone(),
        meta,
    };
    let v = |k: &str, d: &str| f.get(k).cloned().unwrap_or_else(|| d.to_string());
    match run_step(&app, ctx, step, body).await {
        Ok(Outcome { extra: Some(extra) }) => {
            let form = step_form(
                lang,
                step,
                &|k, d| if k == "email" { String::new() } else { v(k, d) },
                &|_| None,
            );
            let ok = html! { p.ok role="status" { (t(lang, "w_saved")) } (extra) };
            Html(page(lang, &p, step, form, Some(ok)).into_string()).into_response()
        }
        Ok(_) => match next_step(step) {
            Some(n) => Redirect::to(&format!("/admin/setup?step={n}")).into_response(),
            None => Redirect::to("/admin").into_response(),
        },
        Err(e) => {
            // The API names a body field; show the message next to the form field it came from.
            let api_field = e.field.clone().unwrap_or_default();
            let field = field_map
                .iter()
                .find(|(a, _)| *a == api_field || api_field.starts_with(&format!("{a}.")))
                .map(|(_, f)| f.to_string())
                .unwrap_or(api_field);
            let known = |k: &str| k == field;
            let message = crate::web::localise_error(lang, &e);
            let err = |k: &str| known(k).then(|| message.clone());
            let form = step_form(lang, step, &v, &err);
            let shown_by_field = f.contains_key(&field);
            let notice = (!shown_by_field)
                .then(|| html! { p.error role="alert" { (crate::web::localise_error(lang, &e)) } });
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                Html(page(lang, &p, step, form, notice).into_string()),
            )
                .into_response()
        }
    }
}
