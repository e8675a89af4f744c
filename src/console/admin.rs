//! The admin console: member import, rewards,
//! lucky draws, the audit log, API keys, and the shop's rules. Every page calls the API's
//! own handler and renders its JSON answer, so what the console shows and allows is
//! exactly what the API does (permissions are checked per page from the same table).

use std::collections::HashMap;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use maud::{Markup, html};
use serde_json::Value;

use crate::audit::RequestMeta;
use crate::auth::{Ctx, Permission, Principal};
use crate::http::json::{JsonBody, parse_json};
use crate::http::query::{PageParams, PathId, QueryParams};
use crate::state::AppState;
use crate::tenants::model::Language;
use crate::web::{PageSession, csrf_ok, language, refuse, staff_layout, t};

type Fields = HashMap<String, String>;

/// A handler's answer as (status, JSON): the console renders what the API answered.
async fn answer(r: impl IntoResponse) -> (StatusCode, Value) {
    let res = r.into_response();
    let status = res.status();
    let bytes = axum::body::to_bytes(res.into_body(), 16 * 1024 * 1024)
        .await
        .unwrap_or_default();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn lang_of(q: &Fields, jar: &CookieJar) -> Language {
    crate::web::page_language(q.get("lang").map(String::as_str), jar)
}

fn s(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(s).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

fn problem(v: &Value) -> Markup {
    html! { p.error role="alert" { (s(&v["detail"])) @if v["field"].is_string() { " (" (s(&v["field"])) ")" } } }
}

/// A table of rows with the given (header, JSON pointer) columns; `link` makes the first
/// column a link to `link` + the row's id.
fn table(rows: &[Value], cols: &[(&str, &str)], link: Option<&str>) -> Markup {
    html! {
        table {
            tr { @for (h, _) in cols { th scope="col" { (h) } } }
            @for r in rows {
                tr {
                    @for (i, (_, ptr)) in cols.iter().enumerate() {
                        td {
                            @match (i, link) {
                                (0, Some(base)) => a href=(format!("{base}{}", s(&r["id"]))) { (s(r.pointer(ptr).unwrap_or(&Value::Null))) },
                                _ => (s(r.pointer(ptr).unwrap_or(&Value::Null))),
                            }
                        }
                    }
                }
            }
        }
    }
}

fn page(lang: Language, title: &str, p: &Principal, body: Markup) -> Response {
    Html(staff_layout(lang, title, p, body).into_string()).into_response()
}

fn ctx(p: &Principal, meta: RequestMeta) -> Ctx {
    Ctx {
        principal: p.clone(),
        meta,
    }
}

/// `GET /admin/import`: upload a CSV/XLSX of members; progress and the row errors are
/// polled from the import API (a little JavaScript; the form works without it too).
pub async fn import(
    PageSession(p): PageSession,
    jar: CookieJar,
    Query(q): Query<Fields>,
) -> Response {
    let lang = lang_of(&q, &jar);
    if !p.allows(Permission::MembersWrite) {
        return refuse(lang);
    }
    let csrf = p.csrf_token.clone().unwrap_or_default();
    let body = html! {
        p { a href="/api/v1/members/import-template" { (t(lang, "a_template")) } }
        label for="file" { (t(lang, "a_file")) }
        input #file type="file" accept=".csv,.xlsx";
        button #upload type="button" { (t(lang, "a_import")) }
        p #import-status role="status" aria-live="polite" {}
        progress #import-progress max="100" value="0" hidden {}
        table #import-errors {}
        script { (maud::PreEscaped(format!(r#"
const csrf = {csrf:?};
document.getElementById('upload').addEventListener('click', async () => {{
  const f = document.getElementById('file').files[0];
  const status = document.getElementById('import-status');
  if (!f) {{ status.textContent = {pick:?}; return; }}
  const format = f.name.toLowerCase().endsWith('.xlsx') ? 'xlsx' : 'csv';
  const res = await fetch('/api/v1/members/imports?format=' + format, {{method: 'POST', body: f, headers: {{'X-CSRF-Token': csrf, 'Content-Type': 'application/octet-stream'}}}});
  const job = await res.json();
  if (!res.ok) {{ status.textContent = job.detail; return; }}
  const bar = document.getElementById('import-progress'); bar.hidden = false;
  for (;;) {{
    const j = await (await fetch('/api/v1/members/imports/' + job.id)).json();
    const c = j.counts;
    status.textContent = j.status + ': ' + c.rows + ' rows, ' + c.imported + ' imported, ' + c.existing + ' existing, ' + c.failed + ' refused' + (j.error ? ' (' + j.error + ')' : '');
    if (j.bytes) bar.value = Math.round(100 * c.bytes_read / j.bytes);
    if (j.status !== 'running') {{
      bar.value = 100;
      const errs = await (await fetch('/api/v1/members/imports/' + job.id + '/errors?limit=200')).json().catch(() => null);
      const t = document.getElementById('import-errors');
      for (const e of ((errs && errs.items) || [])) {{
        const tr = t.insertRow(); for (const v of [e.row, e.column, e.value, e.reason]) tr.insertCell().textContent = v;
      }}
      break;
    }}
    await new Promise(r => setTimeout(r, 500));
  }}
}});
"#, pick = t(lang, "a_file")))) }
    };
    page(lang, t(lang, "a_import"), &p, body)
}

/// `GET /admin/rewards`: the catalog, with a form for a new coupon.
pub async fn rewards(
    State(app): State<AppState>,
    PageSession(p): PageSession,
    meta: RequestMeta,
    jar: CookieJar,
    Query(q): Query<Fields>,
) -> Response {
    let lang = lang_of(&q, &jar);
    if !p.allows(Permission::TenantRead) {
        return refuse(lang);
    }
    rewards_page(app, p, meta, lang, None).await
}

async fn rewards_page(
    app: AppState,
    p: Principal,
    meta: RequestMeta,
    lang: Language,
    notice: Option<Markup>,
) -> Response {
    let query = crate::rewards::api::RewardQuery {
        include_archived: false,
        limit: Some(200),
        cursor: None,
    };
    let (_, v) = answer(
        crate::rewards::api::list_rewards(State(app), ctx(&p, meta), QueryParams(query)).await,
    )
    .await;
    let rows = v["items"].as_array().cloned().unwrap_or_default();
    let csrf = p.csrf_token.clone().unwrap_or_default();
    let body = html! {
        @if let Some(n) = notice { (n) }
        table #rewards {
            tr { th { (t(lang, "reward")) } th { "kind" } th { (t(lang, "w_points_cost")) } th { "stock" } th { "redeemed" } th {} }
            @for r in &rows {
                tr {
                    td { @if p.allows(Permission::RewardsManage) { a href=(format!("/admin/rewards/{}", s(&r["id"]))) { (s(&r["name"])) } } @else { (s(&r["name"])) } } td { (s(&r["kind"])) } td { (s(&r["points_cost"])) } td { (s(&r["stock"])) } td { (s(&r["redeemed"])) }
                    td { @if p.allows(Permission::RewardsManage) {
                        form method="post" action=(format!("/admin/rewards/{}/archive", s(&r["id"]))) {
                            input type="hidden" name="_csrf" value=(csrf);
                            button.secondary type="submit" { (t(lang, "a_archive")) }
                        }
                    } }
                }
            }
        }
        @if p.allows(Permission::RewardsManage) {
            h2 { (t(lang, "a_new_reward")) }
            form method="post" action="/admin/rewards" {
                input type="hidden" name="_csrf" value=(csrf);
                label for="kind" { "kind" }
                select #kind name="kind" { @for k in ["coupon", "voucher", "shipped", "digital_code"] { option value=(k) { (k) } } }
                label for="category" { "category" } input #category name="category" value="rewards";
                label for="name" { (t(lang, "w_reward_name")) } input #name name="name";
                label for="name_en" { "English" } input #name_en name="name_en";
                label for="points_cost" { (t(lang, "w_points_cost")) } input #points_cost name="points_cost" inputmode="numeric";
                label for="stock" { "stock" } input #stock name="stock" inputmode="numeric";
                label for="value_satang" { (t(lang, "value")) " (satang)" } input #value_satang name="value_satang" inputmode="numeric";
                button type="submit" { (t(lang, "w_save")) }
            }
        }
    };
    page(lang, t(lang, "m_rewards"), &p, body)
}

/// `POST /admin/rewards`: create a reward through the API's handler.
pub async fn create_reward(
    State(app): State<AppState>,
    PageSession(p): PageSession,
    meta: RequestMeta,
    jar: CookieJar,
    Form(f): Form<Fields>,
) -> Response {
    let lang = language(None, &jar);
    if !p.allows(Permission::RewardsManage)
        || !csrf_ok(&p, f.get("_csrf").map(String::as_str).unwrap_or_default())
    {
        return refuse(lang);
    }
    let opt_int = |k: &str| {
        f.get(k)
            .filter(|v| !v.trim().is_empty())
            .map(|v| {
                v.trim()
                    .parse::<i64>()
                    .map(Value::from)
                    .unwrap_or(Value::String(v.clone()))
            })
            .unwrap_or(Value::Null)
    };
    let opt = |k: &str| {
        f.get(k)
            .filter(|v| !v.trim().is_empty())
            .map(|v| Value::String(v.clone()))
            .unwrap_or(Value::Null)
    };
    let body = serde_json::json!({"kind": opt("kind"), "category": opt("category"), "name": opt("name"), "name_en": opt("name_en"),
        "points_cost": opt_int("points_cost"), "stock": opt_int("stock"), "value_satang": opt_int("value_satang")});
    let notice = match parse_json(body.to_string().as_bytes()) {
        Ok(spec) => {
            let (status, v) = answer(
                crate::rewards::api::create_reward(
                    State(app.clone()),
                    ctx(&p, meta.clone()),
                    JsonBody(spec),
                )
                .await,
            )
            .await;
            if status.is_success() {
                html! { p.ok role="status" { (t(lang, "w_saved")) } }
            } else {
                problem(&v)
            }
        }
        Err(e) => html! { p.error role="alert" { (crate::web::localise_error(lang, &e)) } },
    };
    rewards_page(app, p, meta, lang, Some(notice)).await
}

/// `GET /admin/draws`: lucky draws, with their proof and the button to draw.
pub async fn draws(
    State(app): State<AppState>,
    PageSession(p): PageSession,
    meta: RequestMeta,
    jar: CookieJar,
    Query(q): Query<Fields>,
) -> Response {
    let lang = lang_of(&q, &jar);
    if !p.allows(Permission::TenantRead) {
        return refuse(lang);
    }
    draws_page(app, p, meta, lang, None).await
}

async fn draws_page(
    app: AppState,
    p: Principal,
    meta: RequestMeta,
    lang: Language,
    notice: Option<Markup>,
) -> Response {
    let (_, v) = answer(
        crate::draws::api::list_draws(
            State(app),
            ctx(&p, meta),
            QueryParams(PageParams {
                limit: Some(100),
                cursor: None,
            }),
        )
        .await,
    )
    .await;
    let rows = v["items"].as_array().cloned().unwrap_or_default();
    let csrf = p.csrf_token.clone().unwrap_or_default();
    let body = html! {
        @if let Some(n) = notice { (n) }
        @for d in &rows {
            section.card {
                p.big { (s(&d["name"])) }
                p { (t(lang, "status")) ": " (s(&d["status"])) " · " (s(&d["entries"])) " entries · " (s(&d["entry_cost"])) " " (t(lang, "points")) }
                p.muted { "SHA-256(seed): " code { (s(&d["seed_hash"])) } }
                p { a href=(format!("/api/v1/draws/{}/proof", s(&d["id"]))) { "proof" } }
                @if d["status"] == "closed" && p.allows(Permission::RewardsManage) {
                    form method="post" action=(format!("/admin/draws/{}", s(&d["id"]))) {
                        input type="hidden" name="_csrf" value=(csrf);
                        button type="submit" { (t(lang, "a_draw")) }
                    }
                }
                @for w in d["winners_drawn"].as_array().into_iter().flatten() { p.ok { "🏆 " a href=(format!("/admin/members/{}", s(&w["member_id"]))) { (s(&w["member_id"])) } } }
            }
        }
    };
    page(lang, t(lang, "a_draws"), &p, body)
}

/// `POST /admin/draws/{id}`: make the draw.
pub async fn make_draw(
    State(app): State<AppState>,
    PageSession(p): PageSession,
    meta: RequestMeta,
    jar: CookieJar,
    Path(id): Path<i64>,
    Form(f): Form<Fields>,
) -> Response {
    let lang = language(None, &jar);
    if !p.allows(Permission::RewardsManage)
        || !csrf_ok(&p, f.get("_csrf").map(String::as_str).unwrap_or_default())
    {
        return refuse(lang);
    }
    let (status, v) = answer(
        crate::draws::api::make_draw(State(app.clone()), ctx(&p, meta.clone()), PathId(id)).await,
    )
    .await;
    let notice = if status.is_success() {
        html! { p.ok role="status" { (t(lang, "w_saved")) } }
    } else {
        problem(&v)
    };
    draws_page(app, p, meta, lang, Some(notice)).await
}

/// `GET /admin/audit?action=`: the audit log.
pub async fn audit(
    State(app): State<AppState>,
    PageSession(p): PageSession,
    meta: RequestMeta,
    jar: CookieJar,
    Query(q): Query<Fields>,
) -> Response {
    let lang = lang_of(&q, &jar);
    if !p.allows(Permission::AuditRead) {
        return refuse(lang);
    }
    let action = q.get("action").filter(|a| !a.is_empty()).cloned();
    let filter = crate::audit::Filter {
        action: action.clone(),
        limit: Some(100),
        ..Default::default()
    };
    let (_, v) = answer(
        crate::audit::api::list_audit_log(State(app), ctx(&p, meta), QueryParams(filter)).await,
    )
    .await;
    let rows = v["items"].as_array().cloned().unwrap_or_default();
    let body = html! {
        form method="get" action="/admin/audit" role="search" {
            label for="action" { "action" } input #action name="action" value=(action.unwrap_or_default());
            button type="submit" { (t(lang, "find")) }
        }
        (table(&rows, &[("", "/at"), ("", "/actor_label"), ("", "/action"), ("", "/target_kind"), ("", "/target_id"), ("", "/ip")], None))
    };
    page(lang, t(lang, "a_audit"), &p, body)
}

/// `GET /admin/api-keys`: keys, a form to create one (scopes from your own
/// permissions) and revoke buttons.
pub async fn api_keys(
    State(app): State<AppState>,
    PageSession(p): PageSession,
    meta: RequestMeta,
    jar: CookieJar,
    Query(q): Query<Fields>,
) -> Response {
    let lang = lang_of(&q, &jar);
    if !p.allows(Permission::ApiKeysManage) {
        return refuse(lang);
    }
    keys_page(app, p, meta, lang, None).await
}

async fn keys_page(
    app: AppState,
    p: Principal,
    meta: RequestMeta,
    lang: Language,
    notice: Option<Markup>,
) -> Response {
    let (_, v) = answer(
        crate::auth::api::list_api_keys(
            State(app),
            ctx(&p, meta),
            QueryParams(PageParams {
                limit: Some(200),
                cursor: None,
            }),
        )
        .await,
    )
    .await;
    let rows = v["items"].as_array().cloned().unwrap_or_default();
    let csrf = p.csrf_token.clone().unwrap_or_default();
    let body = html! {
        @if let Some(n) = notice { (n) }
        table {
            @for k in &rows {
                tr {
                    td { (s(&k["name"])) } td { (s(&k["scopes"])) } td { (s(&k["last_used_at"])) }
                    td { @if k["revoked_at"].is_null() {
                        form method="post" action=(format!("/admin/api-keys/{}/revoke", s(&k["id"]))) {
                            input type="hidden" name="_csrf" value=(csrf);
                            button.secondary type="submit" { (t(lang, "a_revoke")) }
                        }
                    } @else { "revoked" } }
                }
            }
        }
        h2 { (t(lang, "a_new_key")) }
        form method="post" action="/admin/api-keys" {
            input type="hidden" name="_csrf" value=(csrf);
            label for="key-name" { (t(lang, "your_name")) } input #key-name name="name" required;
            fieldset { legend { "scopes" }
                @for perm in p.permissions() {
                    label { input type="checkbox" name=(format!("scope:{}", perm.as_str())) style="width:auto"; " " (perm.as_str()) " — " span.muted { (perm.describe()) } }
                }
            }
            button type="submit" { (t(lang, "w_save")) }
        }
    };
    page(lang, "API keys", &p, body)
}

/// `POST /admin/api-keys`: create a key; its secret is shown once.
pub async fn create_api_key(
    State(app): State<AppState>,
    PageSession(p): PageSession,
    meta: RequestMeta,
    jar: CookieJar,
    Form(f): Form<Fields>,
) -> Response {
    let lang = language(None, &jar);
    if !p.allows(Permission::ApiKeysManage)
        || !csrf_ok(&p, f.get("_csrf").map(String::as_str).unwrap_or_default())
    {
        return refuse(lang);
    }
    let scopes: Vec<&str> = f.keys().filter_map(|k| k.strip_prefix("scope:")).collect();
    let body =
        serde_json::json!({"name": f.get("name").cloned().unwrap_or_default(), "scopes": scopes});
    let notice = match parse_json(body.to_string().as_bytes()) {
        Ok(req) => {
            let (status, v) = answer(
                crate::auth::api::create_api_key(
                    State(app.clone()),
                    ctx(&p, meta.clone()),
                    JsonBody(req),
                )
                .await,
            )
            .await;
            if status.is_success() {
                html! { section.card role="status" { p.ok { (t(lang, "a_key_once")) } code #key-secret { (s(&v["secret"])) } } }
            } else {
                problem(&v)
            }
        }
        Err(e) => html! { p.error role="alert" { (crate::web::localise_error(lang, &e)) } },
    };
    keys_page(app, p, meta, lang, Some(notice)).await
}

/// `POST /admin/api-keys/{id}/revoke`.
pub async fn revoke_api_key(
    State(app): State<AppState>,
    PageSession(p): PageSession,
    meta: RequestMeta,
    jar: CookieJar,
    Path(id): Path<i64>,
    Form(f): Form<Fields>,
) -> Response {
    let lang = language(None, &jar);
    if !p.allows(Permission::ApiKeysManage)
        || !csrf_ok(&p, f.get("_csrf").map(String::as_str).unwrap_or_default())
    {
        return refuse(lang);
    }
    let (status, v) = answer(
        crate::auth::api::revoke_api_key(State(app.clone()), ctx(&p, meta.clone()), PathId(id))
            .await,
    )
    .await;
    let notice = if status.is_success() {
        html! { p.ok role="status" { (t(lang, "w_saved")) } }
    } else {
        problem(&v)
    };
    keys_page(app, p, meta, lang, Some(notice)).await
}

/// The shop's rule documents, edited as JSON (with the API's validation, naming the
/// field at fault): tier program, earning rules, ledger settings, signup form, spend
/// settings.
const DOCS: &[(&str, &str, Permission)] = &[
    ("tiers", "t_json", Permission::RulesManage),
    ("earning", "a_rules", Permission::RulesManage),
    ("ledger", "w_points", Permission::RulesManage),
    ("signup-form", "s_sign_up", Permission::TenantManage),
    ("spend", "a_spend", Permission::RulesManage),
];

async fn current_doc(app: &AppState, p: &Principal, meta: RequestMeta, which: &str) -> Value {
    let c = ctx(p, meta);
    let state = State(app.clone());
    let (_, v) = match which {
        "tiers" => answer(crate::tiers::api::get_tier_program(state, c).await).await,
        "earning" => answer(crate::rules::api::get_earning_rules(state, c).await).await,
        "ledger" => answer(crate::ledger::api::get_ledger_settings(state, c).await).await,
        "signup-form" => answer(crate::members::signup::get_signup_form(state, c).await).await,
        _ => answer(crate::otp::api::get_spend_settings(state, c).await).await,
    };
    match which {
        "tiers" => v["program"].clone(),
        // The form answers with versions; the editor takes the input shape.
        "signup-form" if v.is_object() => {
            serde_json::json!({"terms": v["terms"], "privacy": v["privacy"], "marketing_channels": v["marketing_channels"], "questions": v["questions"]})
        }
        "signup-form" => {
            serde_json::json!({"terms": "", "privacy": "", "marketing_channels": [], "questions": []})
        }
        _ => v,
    }
}

fn doc_page(
    lang: Language,
    p: &Principal,
    which: &str,
    label: &str,
    text: &str,
    notice: Option<Markup>,
) -> Response {
    let csrf = p.csrf_token.clone().unwrap_or_default();
    let body = html! {
        p { a href="/admin/tiers" { (t(lang, "w_tiers")) } " · " @for (id, l, _) in DOCS { a href=(format!("/admin/settings/{id}")) aria-current=[(*id == which).then_some("page")] { (t(lang, l)) } " · " } }
        @if let Some(n) = notice { (n) }
        form method="post" action=(format!("/admin/settings/{which}")) {
            input type="hidden" name="_csrf" value=(csrf);
            label for="doc" { (label) " (JSON)" }
            textarea #doc name="doc" rows="24" style="width:100%;font-family:monospace" { (text) }
            button type="submit" #save-doc { (t(lang, "w_save")) }
        }
        p.muted { a href="/api/docs" { (t(lang, "api_docs")) } }
    };
    page(lang, label, p, body)
}

/// `GET /admin/settings/{which}`.
pub async fn settings(
    State(app): State<AppState>,
    PageSession(p): PageSession,
    meta: RequestMeta,
    jar: CookieJar,
    Path(which): Path<String>,
    Query(q): Query<Fields>,
) -> Response {
    let lang = lang_of(&q, &jar);
    let Some((id, label, perm)) = DOCS.iter().find(|d| d.0 == which) else {
        return Redirect::to("/admin/settings/tiers").into_response();
    };
    if !p.allows(*perm) {
        return refuse(lang);
    }
    if *id == "ledger" {
        return super::ledger_settings::show(&app, &p, meta, lang).await;
    }
    let v = current_doc(&app, &p, meta, id).await;
    doc_page(
        lang,
        &p,
        id,
        t(lang, label),
        &serde_json::to_string_pretty(&v).unwrap_or_default(),
        None,
    )
}

/// `POST /admin/settings/{which}`: save through the API's handler.
pub async fn save_settings(
    State(app): State<AppState>,
    PageSession(p): PageSession,
    meta: RequestMeta,
    jar: CookieJar,
    Path(which): Path<String>,
    Form(f): Form<Fields>,
) -> Response {
    let lang = language(None, &jar);
    let Some((id, label, perm)) = DOCS.iter().find(|d| d.0 == which) else {
        return Redirect::to("/admin/settings/tiers").into_response();
    };
    if !p.allows(*perm) || !csrf_ok(&p, f.get("_csrf").map(String::as_str).unwrap_or_default()) {
        return refuse(lang);
    }
    if *id == "ledger" {
        return super::ledger_settings::save(&app, &p, meta, lang, f).await;
    }
    let text = f.get("doc").cloned().unwrap_or_default();
    let bytes = text.as_bytes();
    let (state, c) = (State(app.clone()), ctx(&p, meta));
    let result = match *id {
        "tiers" => match parse_json(bytes) {
            Ok(b) => answer(crate::tiers::api::put_tier_program(state, c, JsonBody(b)).await).await,
            Err(e) => answer(e).await,
        },
        "earning" => match parse_json(bytes) {
            Ok(b) => {
                answer(crate::rules::api::put_earning_rules(state, c, JsonBody(b)).await).await
            }
            Err(e) => answer(e).await,
        },
        "ledger" => match parse_json(bytes) {
            Ok(b) => {
                answer(crate::ledger::api::put_ledger_settings(state, c, JsonBody(b)).await).await
            }
            Err(e) => answer(e).await,
        },
        "signup-form" => match parse_json(bytes) {
            Ok(b) => {
                answer(crate::members::signup::put_signup_form(state, c, JsonBody(b)).await).await
            }
            Err(e) => answer(e).await,
        },
        _ => match parse_json(bytes) {
            Ok(b) => answer(crate::otp::api::put_spend_settings(state, c, JsonBody(b)).await).await,
            Err(e) => answer(e).await,
        },
    };
    let (status, v) = result;
    let notice = if status.is_success() {
        html! { p.ok #saved role="status" { (t(lang, "w_saved")) } }
    } else {
        html! { div #doc-error { (problem(&v)) } }
    };
    let code = if status.is_success() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    (
        code,
        doc_page(lang, &p, id, t(lang, label), &text, Some(notice)),
    )
        .into_response()
}

fn sel(name: &str, current: &str, options: &[(&str, &str)]) -> Markup {
    html! {
        select id=(name) name=(name) {
            @for (v, label) in options { option value=(v) selected[*v == current] { (label) } }
        }
    }
}

/// The tier program as a form: metric, window, downgrade rule and up to eight levels.
fn tiers_form(lang: Language, p: &Principal, v: &Value, error: Option<&Value>) -> Markup {
    let csrf = p.csrf_token.clone().unwrap_or_default();
    let field = error
        .and_then(|e| e["field"].as_str())
        .unwrap_or_default()
        .to_string();
    let err_for = |name: &str| {
        (field == name || field.starts_with(&format!("{name}.")))
            .then(|| s(&error.unwrap()["detail"]))
    };
    let levels = v["levels"].as_array().cloned().unwrap_or_default();
    let window = &v["window"];
    html! {
        @if let Some(e) = error { @if !field.starts_with("levels[") && !field.starts_with("window") { (problem(e)) } }
        form method="post" action="/admin/tiers" {
            input type="hidden" name="_csrf" value=(csrf);
            label { input #enabled type="checkbox" name="enabled" style="width:auto" checked[v["enabled"] == true]; " " (t(lang, "t_enabled")) }
            label for="metric" { (t(lang, "t_metric")) }
            (sel("metric", v["metric"].as_str().unwrap_or("points_earned"), &[("points_earned", t(lang, "t_points_earned")), ("spend_satang", t(lang, "t_spend")), ("purchases", t(lang, "t_purchases")), ("tenure_days", t(lang, "t_tenure"))]))
            label for="window" { (t(lang, "t_window")) }
            (sel("window", window["type"].as_str().unwrap_or("calendar_year"), &[("calendar_year", t(lang, "t_year")), ("calendar_quarter", t(lang, "t_quarter")), ("calendar_month", t(lang, "t_month")), ("rolling", t(lang, "t_rolling")), ("lifetime", t(lang, "t_lifetime"))]))
            label for="months" { (t(lang, "t_months")) }
            input #months name="months" inputmode="numeric" value=(s(&window["months"]));
            (field_error_markup("months", err_for("window")))
            label for="downgrade" { (t(lang, "t_downgrade")) }
            (sel("downgrade", v["downgrade"].as_str().unwrap_or("to_qualified"), &[("to_qualified", t(lang, "t_to_qualified")), ("one_step", t(lang, "t_one_step")), ("never", t(lang, "t_never"))]))
            table {
                tr { th { "code" } th { (t(lang, "t_name")) } th { "English" } th { (t(lang, "t_threshold")) } th { "%" } th { (t(lang, "t_benefits")) } }
                @for i in 0..8 {
                    @let l = levels.get(i).cloned().unwrap_or(Value::Null);
                    tr {
                        @for (key, w) in [("code", "5rem"), ("name", "7rem"), ("name_en", "7rem"), ("threshold", "5rem"), ("earn_percent", "4rem"), ("benefits", "10rem")] {
                            td {
                                @let name = format!("l{i}_{key}");
                                @let value = if key == "benefits" { l[key].as_array().map(|b| b.iter().map(s).collect::<Vec<_>>().join("; ")).unwrap_or_default() } else { s(&l[key]) };
                                input id=(name) name=(name) value=(value) style=(format!("min-width:{w}")) aria-label=(format!("{key} {}", i + 1))
                                    aria-invalid=[err_for(&format!("levels[{i}]")).map(|_| "true")];
                            }
                        }
                    }
                    @if let Some(e) = err_for(&format!("levels[{i}]")) { tr { td colspan="6" { p.field-error id=(format!("l{i}-error")) role="alert" { (field.clone()) ": " (e) } } } }
                }
            }
            button type="submit" #save-tiers { (t(lang, "w_save")) }
        }
    }
}

fn field_error_markup(id: &str, e: Option<String>) -> Markup {
    crate::web::field_error(id, e.as_deref())
}

/// `GET /admin/tiers`.
pub async fn tiers(
    State(app): State<AppState>,
    PageSession(p): PageSession,
    meta: RequestMeta,
    jar: CookieJar,
    Query(q): Query<Fields>,
) -> Response {
    let lang = lang_of(&q, &jar);
    if !p.allows(Permission::RulesManage) {
        return refuse(lang);
    }
    let v = current_doc(&app, &p, meta, "tiers").await;
    page(lang, t(lang, "w_tiers"), &p, tiers_form(lang, &p, &v, None))
}

/// `POST /admin/tiers`: the form becomes the API's body; the API validates and saves.
pub async fn save_tiers(
    State(app): State<AppState>,
    PageSession(p): PageSession,
    meta: RequestMeta,
    jar: CookieJar,
    Form(f): Form<Fields>,
) -> Response {
    let lang = language(None, &jar);
    if !p.allows(Permission::RulesManage)
        || !csrf_ok(&p, f.get("_csrf").map(String::as_str).unwrap_or_default())
    {
        return refuse(lang);
    }
    let g = |k: &str| f.get(k).map(|v| v.trim().to_string()).unwrap_or_default();
    let num = |k: &str| {
        let v = g(k);
        v.parse::<i64>()
            .map(Value::from)
            .unwrap_or(if v.is_empty() {
                Value::Null
            } else {
                Value::String(v)
            })
    };
    let mut levels = vec![];
    for i in 0..8 {
        let k = |x: &str| format!("l{i}_{x}");
        if g(&k("code")).is_empty() && g(&k("name")).is_empty() {
            continue;
        }
        let benefits: Vec<String> = g(&k("benefits"))
            .split(';')
            .map(|b| b.trim().to_string())
            .filter(|b| !b.is_empty())
            .collect();
        let mut level = serde_json::json!({"code": g(&k("code")), "name": g(&k("name")), "threshold": num(&k("threshold")), "benefits": benefits});
        if !g(&k("name_en")).is_empty() {
            level["name_en"] = g(&k("name_en")).into();
        }
        if !g(&k("earn_percent")).is_empty() {
            level["earn_percent"] = num(&k("earn_percent"));
        }
        levels.push(level);
    }
    let window = match g("window").as_str() {
        "rolling" => serde_json::json!({"type": "rolling", "months": num("months")}),
        w => serde_json::json!({"type": w}),
    };
    let body = serde_json::json!({"enabled": g("enabled") == "on", "metric": g("metric"), "window": window, "downgrade": g("downgrade"), "levels": levels});
    let (status, v) = match parse_json(body.to_string().as_bytes()) {
        Ok(b) => {
            answer(
                crate::tiers::api::put_tier_program(State(app.clone()), ctx(&p, meta), JsonBody(b))
                    .await,
            )
            .await
        }
        Err(e) => answer(e).await,
    };
    if status.is_success() {
        let form = tiers_form(lang, &p, &v["program"], None);
        return page(
            lang,
            t(lang, "w_tiers"),
            &p,
            html! { p.ok #saved role="status" { (t(lang, "w_saved")) } (form) },
        );
    }
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        Html(
            staff_layout(
                lang,
                t(lang, "w_tiers"),
                &p,
                tiers_form(lang, &p, &body, Some(&v)),
            )
            .into_string(),
        ),
    )
        .into_response()
}

/// `POST /admin/rewards/{id}/archive`.
pub async fn archive_reward(
    State(app): State<AppState>,
    PageSession(p): PageSession,
    meta: RequestMeta,
    jar: CookieJar,
    Path(id): Path<i64>,
    Form(f): Form<Fields>,
) -> Response {
    let lang = language(None, &jar);
    if !p.allows(Permission::RewardsManage)
        || !csrf_ok(&p, f.get("_csrf").map(String::as_str).unwrap_or_default())
    {
        return refuse(lang);
    }
    let (status, v) = answer(
        crate::rewards::api::archive_reward(State(app.clone()), ctx(&p, meta.clone()), PathId(id))
            .await,
    )
    .await;
    let notice = if status.is_success() {
        html! { p.ok role="status" { (t(lang, "w_saved")) } }
    } else {
        problem(&v)
    };
    rewards_page(app, p, meta, lang, Some(notice)).await
}

fn signup_form_page(
    lang: Language,
    p: &Principal,
    terms: &str,
    privacy: &str,
    channels: &[String],
    questions: &str,
    notice: Option<Markup>,
) -> Response {
    let csrf = p.csrf_token.clone().unwrap_or_default();
    let body = html! {
        @if let Some(n) = notice { (n) }
        form method="post" action="/admin/signup-form" {
            input type="hidden" name="_csrf" value=(csrf);
            label for="terms" { (t(lang, "s_terms")) }
            textarea #terms name="terms" rows="8" style="width:100%" { (terms) }
            label for="privacy" { (t(lang, "s_privacy")) }
            textarea #privacy name="privacy" rows="8" style="width:100%" { (privacy) }
            fieldset { legend { (t(lang, "s_marketing")) }
                @for c in ["line", "sms", "email"] {
                    label { input type="checkbox" name=(format!("ch_{c}")) style="width:auto" checked[channels.iter().any(|x| x == c)]; " " (c.to_uppercase()) }
                }
            }
            label for="questions" { (t(lang, "a_questions")) }
            textarea #questions name="questions" rows="8" style="width:100%;font-family:monospace" { (questions) }
            p.muted { (t(lang, "a_versions")) }
            button type="submit" #save-form { (t(lang, "w_save")) }
        }
        p { a href="/admin/settings/signup-form" { "JSON" } }
    };
    page(lang, t(lang, "s_sign_up"), p, body)
}

/// `GET /admin/signup-form`: the terms, privacy notice, marketing channels and questions.
pub async fn signup_form(
    State(app): State<AppState>,
    PageSession(p): PageSession,
    meta: RequestMeta,
    jar: CookieJar,
    Query(q): Query<Fields>,
) -> Response {
    let lang = lang_of(&q, &jar);
    if !p.allows(Permission::TenantManage) {
        return refuse(lang);
    }
    let v = current_doc(&app, &p, meta, "signup-form").await;
    let channels: Vec<String> = v["marketing_channels"]
        .as_array()
        .into_iter()
        .flatten()
        .map(s)
        .collect();
    let questions = serde_json::to_string_pretty(&v["questions"]).unwrap_or_else(|_| "[]".into());
    signup_form_page(
        lang,
        &p,
        &s(&v["terms"]),
        &s(&v["privacy"]),
        &channels,
        &questions,
        None,
    )
}

/// `POST /admin/signup-form`: saved through the API (a changed text becomes a new version).
pub async fn save_signup_form(
    State(app): State<AppState>,
    PageSession(p): PageSession,
    meta: RequestMeta,
    jar: CookieJar,
    Form(f): Form<Fields>,
) -> Response {
    let lang = language(None, &jar);
    if !p.allows(Permission::TenantManage)
        || !csrf_ok(&p, f.get("_csrf").map(String::as_str).unwrap_or_default())
    {
        return refuse(lang);
    }
    let g = |k: &str| f.get(k).cloned().unwrap_or_default();
    let channels: Vec<String> = ["line", "sms", "email"]
        .iter()
        .filter(|c| f.get(&format!("ch_{c}")).is_some_and(|v| v == "on"))
        .map(|c| c.to_string())
        .collect();
    let questions_text = if g("questions").trim().is_empty() {
        "[]".to_string()
    } else {
        g("questions")
    };
    let (status, v) = match serde_json::from_str::<Value>(&questions_text) {
        Ok(questions) => {
            let body = serde_json::json!({"terms": g("terms"), "privacy": g("privacy"), "marketing_channels": channels, "questions": questions});
            match parse_json(body.to_string().as_bytes()) {
                Ok(b) => {
                    answer(
                        crate::members::signup::put_signup_form(
                            State(app.clone()),
                            ctx(&p, meta),
                            JsonBody(b),
                        )
                        .await,
                    )
                    .await
                }
                Err(e) => answer(e).await,
            }
        }
        Err(e) => answer(crate::error::ApiError::invalid("questions", e.to_string())).await,
    };
    let notice = if status.is_success() {
        html! { p.ok #saved role="status" { (t(lang, "w_saved")) " · " (t(lang, "s_terms")) " v" (s(&v["terms_version"])) " · " (t(lang, "s_privacy")) " v" (s(&v["privacy_version"])) } }
    } else {
        html! { div #form-error { (problem(&v)) } }
    };
    let code = if status.is_success() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    (
        code,
        signup_form_page(
            lang,
            &p,
            &g("terms"),
            &g("privacy"),
            &channels,
            &questions_text,
            Some(notice),
        ),
    )
        .into_response()
}

fn reward_edit_page(
    lang: Language,
    p: &Principal,
    id: i64,
    v: &Value,
    notice: Option<Markup>,
) -> Response {
    let csrf = p.csrf_token.clone().unwrap_or_default();
    let field = |name: &str, label: &str, value: String| {
        html! { label for=(name) { (label) } input id=(name) name=(name) value=(value); }
    };
    let body = html! {
        @if let Some(n) = notice { (n) }
        form method="post" action=(format!("/admin/rewards/{id}")) {
            input type="hidden" name="_csrf" value=(csrf);
            (field("name", t(lang, "w_reward_name"), s(&v["name"])))
            (field("name_en", "English", s(&v["name_en"])))
            (field("category", "category", s(&v["category"])))
            label for="description" { "description" }
            textarea #description name="description" rows="4" style="width:100%" { (s(&v["description"])) }
            (field("points_cost", t(lang, "w_points_cost"), s(&v["points_cost"])))
            (field("stock", "stock", s(&v["stock"])))
            (field("per_member_limit", "per_member_limit", s(&v["per_member_limit"])))
            (field("valid_until", "valid_until (RFC 3339)", s(&v["valid_until"])))
            label { input #visible type="checkbox" name="visible" style="width:auto" checked[v["visible"] != false]; " visible" }
            button type="submit" #save-reward { (t(lang, "w_save")) }
        }
        p { a href="/admin/rewards" { (t(lang, "m_rewards")) } }
    };
    page(lang, &s(&v["name"]), p, body)
}

/// `GET /admin/rewards/{id}`: edit a reward.
pub async fn reward(
    State(app): State<AppState>,
    PageSession(p): PageSession,
    jar: CookieJar,
    Path(id): Path<i64>,
    Query(q): Query<Fields>,
) -> Response {
    let lang = lang_of(&q, &jar);
    if !p.allows(Permission::RewardsManage) {
        return refuse(lang);
    }
    match crate::rewards::store::get(&app.db, p.tenant_id, id)
        .await
        .ok()
        .flatten()
    {
        Some(r) => reward_edit_page(
            lang,
            &p,
            id,
            &serde_json::to_value(&r).unwrap_or_default(),
            None,
        ),
        None => (StatusCode::NOT_FOUND, Html("Not found".to_string())).into_response(),
    }
}

/// `POST /admin/rewards/{id}`: the reward's definition with the edited fields, through
/// the API's update.
pub async fn save_reward(
    State(app): State<AppState>,
    PageSession(p): PageSession,
    meta: RequestMeta,
    jar: CookieJar,
    Path(id): Path<i64>,
    Form(f): Form<Fields>,
) -> Response {
    let lang = language(None, &jar);
    if !p.allows(Permission::RewardsManage)
        || !csrf_ok(&p, f.get("_csrf").map(String::as_str).unwrap_or_default())
    {
        return refuse(lang);
    }
    let Some(current) = crate::rewards::store::get(&app.db, p.tenant_id, id)
        .await
        .ok()
        .flatten()
    else {
        return (StatusCode::NOT_FOUND, Html("Not found".to_string())).into_response();
    };
    let mut spec = serde_json::to_value(&current.spec).unwrap_or_default();
    let g = |k: &str| f.get(k).map(|v| v.trim().to_string()).unwrap_or_default();
    let text_or_null = |v: String| {
        if v.is_empty() {
            Value::Null
        } else {
            Value::String(v)
        }
    };
    let num_or_null = |v: String| {
        if v.is_empty() {
            Value::Null
        } else {
            v.parse::<i64>()
                .map(Value::from)
                .unwrap_or(Value::String(v))
        }
    };
    spec["name"] = g("name").into();
    spec["name_en"] = text_or_null(g("name_en"));
    spec["category"] = g("category").into();
    spec["description"] = g("description").into();
    spec["points_cost"] = num_or_null(g("points_cost"));
    spec["stock"] = num_or_null(g("stock"));
    spec["per_member_limit"] = num_or_null(g("per_member_limit"));
    spec["valid_until"] = text_or_null(g("valid_until"));
    spec["visible"] = (g("visible") == "on").into();
    let (status, v) = match parse_json(spec.to_string().as_bytes()) {
        Ok(b) => {
            answer(
                crate::rewards::api::update_reward(
                    State(app.clone()),
                    ctx(&p, meta),
                    PathId(id),
                    JsonBody(b),
                )
                .await,
            )
            .await
        }
        Err(e) => answer(e).await,
    };
    if status.is_success() {
        return reward_edit_page(
            lang,
            &p,
            id,
            &v,
            Some(html! { p.ok #saved role="status" { (t(lang, "w_saved")) } }),
        );
    }
    let shown = spec.clone();
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        reward_edit_page(
            lang,
            &p,
            id,
            &shown,
            Some(html! { div #reward-error { (problem(&v)) } }),
        ),
    )
        .into_response()
}
