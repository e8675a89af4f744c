//! The sign-in page and the staff home page.

use axum::Form;
use axum::extract::{RawQuery, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::Cookie;
use maud::html;
use serde::Deserialize;

use super::sessions;
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

fn login_page(
    lang: Language,
    form: &LoginForm,
    token: &str,
    error: Option<&str>,
    reset_done: bool,
) -> Html<String> {
    let body = html! {
        h1 { (t(lang, "sign_in")) }
        @if reset_done { p.ok #reset-done role="status" { (t(lang, "pw_reset_done")) } }
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
        p.muted { (t(lang, "pw_forgot")) }
        p { a #open-shop href="/signup" { (t(lang, "sp_open_shop")) } }
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
    let reset_done = q
        .as_deref()
        .is_some_and(|q| q.split('&').any(|p| p == "reset=1"));
    (
        jar,
        login_page(lang, &LoginForm::default(), &token, None, reset_done),
    )
        .into_response()
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
        let page = login_page(lang, &form, &token, Some(t(lang, "form_expired")), false);
        return (axum::http::StatusCode::FORBIDDEN, jar, page).into_response();
    }
    match super::api::authenticate(&app, &meta, &form.tenant, &form.email, &form.password).await {
        Ok((p, session)) => (
            jar.add(super::api::session_cookie(&app, session.token)),
            Redirect::to(crate::web::landing(&p)),
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
            (status, login_page(lang, &form, &token, Some(msg), false)).into_response()
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
