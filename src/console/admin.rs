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

use super::ctx;
use crate::audit::RequestMeta;
use crate::auth::{Permission, Principal};
use crate::http::json::{JsonBody, parse_json};
use crate::members::consent::Channel;
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

fn page(lang: Language, title: &str, p: &Principal, body: Markup) -> Response {
    Html(staff_layout(lang, title, p, body).into_string()).into_response()
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
        script nonce=(crate::web::script_nonce()) { (maud::PreEscaped(format!(r#"
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
    if *id == "earning" && q.get("view").map(String::as_str) != Some("json") {
        return super::earning_rules::show(&app, &p, meta, lang).await;
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
    // The form; the JSON view sends the whole document as `doc`.
    if *id == "earning" && !f.contains_key("doc") {
        return super::earning_rules::save(&app, &p, meta, lang, f).await;
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

/// The signup form as typed (or saved): texts, channels ticked, the questions' rows.
struct SignupFields {
    terms: String,
    privacy: String,
    channels: Vec<Channel>,
    questions: super::signup_questions::Fields,
}

fn signup_form_page(
    lang: Language,
    p: &Principal,
    f: &SignupFields,
    notice: Option<Markup>,
    question_error: Option<(&str, &str)>,
    status: StatusCode,
) -> Response {
    let csrf = p.csrf_token.clone().unwrap_or_default();
    let body = html! {
        @if let Some(n) = notice { (n) }
        form method="post" action="/admin/signup-form" {
            input type="hidden" name="_csrf" value=(csrf);
            label for="terms" { (t(lang, "s_terms")) }
            textarea #terms name="terms" rows="8" { (f.terms) }
            label for="privacy" { (t(lang, "s_privacy")) }
            textarea #privacy name="privacy" rows="8" { (f.privacy) }
            fieldset.choices { legend { (t(lang, "s_marketing")) }
                @for (c, code) in [(Channel::Line, "line"), (Channel::Sms, "sms"), (Channel::Email, "email")] {
                    label.choice { input type="checkbox" name=(format!("ch_{code}")) checked[f.channels.contains(&c)]; " " (crate::web::words::consent_purpose(lang, c.purpose())) }
                }
            }
            h2 { (t(lang, "a_questions")) }
            p.muted { (t(lang, "sq_explained")) }
            (super::signup_questions::rows(lang, &f.questions, question_error))
            p.muted { (t(lang, "a_versions")) }
            button type="submit" #save-form { (t(lang, "w_save")) }
        }
    };
    (
        status,
        Html(staff_layout(lang, t(lang, "s_sign_up"), p, body).into_string()),
    )
        .into_response()
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
    let saved = crate::members::signup::get_signup_form(State(app), ctx(&p, meta)).await;
    let fields = match saved {
        Ok(form) => SignupFields {
            terms: form.0.terms,
            privacy: form.0.privacy,
            channels: form.0.marketing_channels,
            questions: super::signup_questions::fields_of(&form.0.questions),
        },
        // None saved yet: an empty form to fill in.
        Err(e) if e.code == crate::error::Code::NotFound => SignupFields {
            terms: String::new(),
            privacy: String::new(),
            channels: vec![],
            questions: super::signup_questions::fields_of(&[]),
        },
        Err(e) => return crate::web::server_error(lang, e.message),
    };
    signup_form_page(lang, &p, &fields, None, None, StatusCode::OK)
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
    let typed = SignupFields {
        terms: g("terms"),
        privacy: g("privacy"),
        channels: [
            (Channel::Line, "line"),
            (Channel::Sms, "sms"),
            (Channel::Email, "email"),
        ]
        .into_iter()
        .filter(|(_, code)| f.get(&format!("ch_{code}")).is_some_and(|v| v == "on"))
        .map(|(c, _)| c)
        .collect(),
        questions: f
            .iter()
            .filter(|(k, _)| k.starts_with('q'))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    };
    // The questions saved before: an answer whose text is unchanged keeps its value.
    let before =
        match crate::members::signup::get_signup_form(State(app.clone()), ctx(&p, meta.clone()))
            .await
        {
            Ok(form) => form.0.questions,
            Err(e) if e.code == crate::error::Code::NotFound => vec![],
            Err(e) => return crate::web::server_error(lang, e.message),
        };
    let saved = match super::signup_questions::questions_from(&typed.questions, &before) {
        Ok(questions) => {
            let input = crate::members::consent::SignupFormInput {
                terms: typed.terms.clone(),
                privacy: typed.privacy.clone(),
                marketing_channels: typed.channels.clone(),
                questions,
            };
            crate::members::signup::put_signup_form(
                State(app.clone()),
                ctx(&p, meta),
                JsonBody(input),
            )
            .await
            .map(|form| form.0)
        }
        Err((field, words)) => {
            let notice = html! { p.error #form-error role="alert" { (t(lang, words)) } };
            return signup_form_page(
                lang,
                &p,
                &typed,
                Some(notice),
                Some((&field, t(lang, words))),
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
    };
    match saved {
        Ok(form) => {
            let notice = html! { p.ok #saved role="status" { (t(lang, "w_saved")) " · " (t(lang, "s_terms")) " v" (form.terms_version) " · " (t(lang, "s_privacy")) " v" (form.privacy_version) } };
            signup_form_page(lang, &p, &typed, Some(notice), None, StatusCode::OK)
        }
        Err(e) => {
            let notice = html! { p.error #form-error role="alert" { (crate::web::localise_error(lang, &e)) } };
            signup_form_page(
                lang,
                &p,
                &typed,
                Some(notice),
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
    }
}
