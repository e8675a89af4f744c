//! The sign-in page and the staff home page.

use axum::Form;
use axum::extract::{RawQuery, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::Cookie;
use maud::html;
use serde::Deserialize;

use super::{Actor, sessions};
use crate::audit::RequestMeta;
use crate::error::Code;
use crate::state::AppState;
use crate::tenants::model::Language;
use crate::web::{PageSession, language, layout, t};

#[derive(Deserialize, Default)]
pub struct LoginForm {
    #[serde(default)]
    tenant: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(rename = "_form", default)]
    form_token: String,
}

fn login_page(lang: Language, form: &LoginForm, token: &str, error: Option<&str>) -> Html<String> {
    let body = html! {
        h1 { (t(lang, "sign_in")) }
        @if let Some(e) = error { p.error role="alert" { (e) } }
        form method="post" action="/login" {
            input type="hidden" name="_form" value=(token);
            label for="tenant" { (t(lang, "shop")) }
            input #tenant name="tenant" value=(form.tenant) required autocomplete="organization";
            label for="email" { (t(lang, "email")) }
            input #email name="email" type="email" value=(form.email) required autocomplete="username";
            label for="password" { (t(lang, "password")) }
            input #password name="password" type="password" required autocomplete="current-password";
            button type="submit" { (t(lang, "sign_in")) }
        }
        p { a href="?lang=th" { "ไทย" } " · " a href="?lang=en" { "English" } }
    };
    Html(layout(lang, t(lang, "sign_in"), body).into_string())
}

pub async fn show_login(
    State(app): State<AppState>,
    RawQuery(q): RawQuery,
    jar: CookieJar,
) -> Response {
    let lang = language(q.as_deref(), &jar);
    let jar = jar.add(Cookie::build(("lang", lang.as_str())).path("/").build());
    let (jar, token) = crate::web::form_token(&app, jar);
    (jar, login_page(lang, &LoginForm::default(), &token, None)).into_response()
}

pub async fn submit_login(
    State(app): State<AppState>,
    meta: RequestMeta,
    jar: CookieJar,
    Form(form): Form<LoginForm>,
) -> Response {
    let lang = language(None, &jar);
    if !crate::web::form_token_ok(&jar, &form.form_token) {
        let (jar, token) = crate::web::form_token(&app, jar);
        let page = login_page(lang, &form, &token, Some(t(lang, "form_expired")));
        return (axum::http::StatusCode::FORBIDDEN, jar, page).into_response();
    }
    match super::api::authenticate(&app, &meta, &form.tenant, &form.email, &form.password).await {
        Ok((_, session)) => (
            jar.add(super::api::session_cookie(&app, session.token)),
            Redirect::to("/admin"),
        )
            .into_response(),
        Err(e) => {
            let msg = if e.code == Code::RateLimited {
                t(lang, "too_many")
            } else {
                t(lang, "wrong_login")
            };
            let status = e.code.status();
            let token = form.form_token.clone();
            (status, login_page(lang, &form, &token, Some(msg))).into_response()
        }
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(rename = "_csrf", default)]
    csrf: String,
}

pub async fn submit_logout(
    State(app): State<AppState>,
    PageSession(p): PageSession,
    jar: CookieJar,
    Form(form): Form<CsrfForm>,
) -> Response {
    let valid = p
        .csrf_token
        .as_deref()
        .is_some_and(|c| super::secrets::constant_time_eq(c, &form.csrf));
    if valid
        && let Some(c) = jar.get(sessions::COOKIE)
        && let Ok(mut tx) = app.db.begin().await
    {
        let _ = sessions::delete(&mut tx, c.value()).await;
        let _ = tx.commit().await;
    }
    (
        jar.remove(Cookie::build(sessions::COOKIE).path("/").build()),
        Redirect::to("/login"),
    )
        .into_response()
}

/// The signed-in staff member's home: shop, branches and staff at a glance.
pub async fn admin_home(
    State(app): State<AppState>,
    PageSession(p): PageSession,
    RawQuery(q): RawQuery,
    jar: CookieJar,
) -> Response {
    let lang = language(q.as_deref(), &jar);
    let tenant = crate::tenants::store::get_tenant(&app.db, p.tenant_id)
        .await
        .ok()
        .flatten();
    let branches = crate::tenants::store::list_branches(&app.db, p.tenant_id, i64::MAX, 100)
        .await
        .unwrap_or_default();
    let staff = if p.allows(super::Permission::StaffRead) {
        crate::staff::store::list_staff(&app.db, p.tenant_id, i64::MAX, 100)
            .await
            .unwrap_or_default()
    } else {
        vec![]
    };
    let (name, role) = match &p.actor {
        Actor::Staff { name, role, .. } => (name.clone(), role.as_str()),
        Actor::ApiKey { name, .. } => (name.clone(), "api_key"),
    };
    let body = html! {
        h1 { (tenant.as_ref().map(|t| t.name.as_str()).unwrap_or("Loyal")) }
        p { (t(lang, "welcome")) ", " strong { (name) } " (" (role) ")" }
        form method="post" action="/logout" {
            input type="hidden" name="_csrf" value=(p.csrf_token.clone().unwrap_or_default());
            button type="submit" { (t(lang, "sign_out")) }
        }
        nav aria-label=(t(lang, "menu")) style="background:none;padding:0" {
            ul {
                @if p.allows(super::Permission::TenantManage) { li { a #to-setup href="/admin/setup" style="color:#0b5394" { (t(lang, "w_title")) } } }
                @if p.allows(super::Permission::PointsEarn) { li { a href="/staff/earn" style="color:#0b5394" { (t(lang, "counter")) } } }
                @if p.allows(super::Permission::CouponsValidate) { li { a href="/staff/coupons" style="color:#0b5394" { (t(lang, "coupons")) } } }
                @if p.allows(super::Permission::FulfilmentManage) { li { a href="/staff/fulfilment" style="color:#0b5394" { (t(lang, "fulfilment")) } } }
                @if p.allows(super::Permission::MembersRead) { li { a #to-members href="/admin/members" style="color:#0b5394" { (t(lang, "a_members")) } } }
                @if p.allows(super::Permission::MembersWrite) { li { a href="/admin/import" style="color:#0b5394" { (t(lang, "a_import")) } } }
                li { a href="/admin/rewards" style="color:#0b5394" { (t(lang, "m_rewards")) } }
                li { a href="/admin/draws" style="color:#0b5394" { (t(lang, "a_draws")) } }
                @if p.allows(super::Permission::RulesManage) { li { a href="/admin/tiers" style="color:#0b5394" { (t(lang, "w_tiers")) } } }
                @if p.allows(super::Permission::TenantManage) { li { a href="/admin/signup-form" style="color:#0b5394" { (t(lang, "s_sign_up")) } } }
                @if p.allows(super::Permission::RulesManage) { li { a href="/admin/settings/earning" style="color:#0b5394" { (t(lang, "a_settings")) } } }
                @if p.allows(super::Permission::AuditRead) { li { a href="/admin/audit" style="color:#0b5394" { (t(lang, "a_audit")) } } }
                @if p.allows(super::Permission::ApiKeysManage) { li { a href="/admin/api-keys" style="color:#0b5394" { "API keys" } } }
                @if p.allows(super::Permission::TenantManage) { li { a href="/admin/mailbox" style="color:#0b5394" { "SMS mailbox" } } }
            }
        }
        h2 { (t(lang, "branches")) }
        ul { @for b in &branches { li { (b.code) " — " (b.name) } } }
        @if !staff.is_empty() {
            h2 { (t(lang, "staff")) }
            table {
                tr { th { (t(lang, "email")) } th { (t(lang, "role")) } }
                @for s in &staff { tr { td { (s.email) } td { (s.role.as_str()) } } }
            }
        }
        p { a href="/api/docs" { (t(lang, "api_docs")) } }
    };
    Html(layout(lang, "Admin", body).into_string()).into_response()
}
