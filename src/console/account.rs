//! The signed-in person's own account (`/admin/account`): who they are and a form to
//! change their password (the current one asked; their other sessions end). Saved
//! through the API's own handler; refusals show next to the field in the page's words.

use std::collections::HashMap;

use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum_extra::extract::CookieJar;
use maud::{Markup, html};

use super::{ctx, page};
use crate::audit::RequestMeta;
use crate::auth::Principal;
use crate::error::Code;
use crate::http::json::JsonBody;
use crate::staff::passwords::{PasswordChange, change_password};
use crate::state::AppState;
use crate::tenants::model::Language;
use crate::types::NewPassword;
use crate::web::{PageSession, csrf_ok, field_error, language, refuse, t};

fn form(lang: Language, p: &Principal, error: Option<(&str, &'static str)>, saved: bool) -> Markup {
    let error_of = |field: &str| error.filter(|(f, _)| *f == field).map(|(_, w)| t(lang, w));
    let password = |name: &'static str, label: &'static str, auto: &'static str| {
        let e = error_of(name);
        html! {
            label for=(name) { (t(lang, label)) }
            input id=(name) name=(name) type="password" autocomplete=(auto) required
                aria-invalid=[e.map(|_| "true")] aria-describedby=(format!("{name}-error"));
            (field_error(name, e))
        }
    };
    let (name, email) = match &p.actor {
        crate::auth::Actor::Staff { name, email, .. } => (name.clone(), email.clone()),
        crate::auth::Actor::ApiKey { name, .. } => (name.clone(), String::new()),
    };
    html! {
        @if saved { p.ok #saved role="status" { (t(lang, "pw_changed")) } }
        @if let Some(("", words)) = error { p.error #account-error role="alert" { (t(lang, words)) } }
        p.muted #who { (name) " · " (email) }
        form.sections-form #change-password method="post" action="/admin/account" {
            input type="hidden" name="_csrf" value=(p.csrf_token.clone().unwrap_or_default());
            fieldset {
                legend { (t(lang, "pw_change")) }
                (password("current_password", "pw_current", "current-password"))
                (password("new_password", "pw_new", "new-password"))
                (password("repeat_password", "pw_repeat", "new-password"))
                p.muted { (t(lang, "pw_others_end")) }
            }
            button #save-password type="submit" { (t(lang, "pw_change")) }
        }
    }
}

fn show_form(
    lang: Language,
    p: &Principal,
    error: Option<(&str, &'static str)>,
    saved: bool,
    status: StatusCode,
) -> Response {
    page(
        lang,
        t(lang, "pw_account"),
        p,
        form(lang, p, error, saved),
        status,
    )
}

/// `GET /admin/account`.
pub async fn show(PageSession(p): PageSession, jar: CookieJar) -> Response {
    let lang = language(None, &jar);
    show_form(lang, &p, None, false, StatusCode::OK)
}

/// `POST /admin/account`: change the password.
pub async fn save(
    State(app): State<AppState>,
    PageSession(p): PageSession,
    meta: RequestMeta,
    jar: CookieJar,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let lang = language(None, &jar);
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    if !csrf_ok(&p, &get("_csrf")) {
        return refuse(lang);
    }
    let refused = |field: &'static str, words: &'static str, status: StatusCode| {
        show_form(lang, &p, Some((field, words)), false, status)
    };
    let Ok(new_password) = NewPassword::parse(&get("new_password")) else {
        return refused(
            "new_password",
            "pw_too_short",
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    };
    if get("repeat_password") != get("new_password") {
        return refused(
            "repeat_password",
            "pw_differs",
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    let req = PasswordChange {
        current_password: get("current_password"),
        new_password,
    };
    match change_password(State(app), ctx(&p, meta), jar, JsonBody(req)).await {
        Ok(_) => show_form(lang, &p, None, true, StatusCode::OK),
        Err(e) => {
            let status = e.code.status();
            match e.code {
                Code::InvalidCredentials => refused("current_password", "pw_current_wrong", status),
                Code::RateLimited => refused("", "pw_too_many", status),
                _ => refused("", "pw_not_changed", status),
            }
        }
    }
}
