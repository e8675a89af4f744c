//! The page an invited person opens to join the staff, and the invitation's QR code.

use axum::Form;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use maud::html;
use serde::Deserialize;

use crate::audit::RequestMeta;
use crate::state::AppState;
use crate::store::now_micros;
use crate::tenants::model::Language;
use crate::types::{NewPassword, PersonName};
use crate::web::{language, layout, t};

#[derive(Deserialize, Default)]
pub struct JoinForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
}

struct FieldErrors {
    name: Option<String>,
    password: Option<String>,
    form: Option<String>,
}

fn join_page(
    lang: Language,
    shop: &str,
    email: &str,
    role: &str,
    form: &JoinForm,
    errors: &FieldErrors,
) -> Html<String> {
    let body = html! {
        h1 { (t(lang, "join_staff")) " — " (shop) }
        p { (t(lang, "invited_as")) " " strong { (role) } " (" (email) ")" }
        @if let Some(e) = &errors.form { p.error role="alert" { (e) } }
        form method="post" {
            label for="name" { (t(lang, "your_name")) }
            input #name name="name" value=(form.name) required aria-describedby="name-error";
            @if let Some(e) = &errors.name { p.field-error #name-error { (e) } }
            label for="password" { (t(lang, "password")) }
            input #password name="password" type="password" minlength="10" required autocomplete="new-password" aria-describedby="password-error";
            @if let Some(e) = &errors.password { p.field-error #password-error { (e) } }
            button type="submit" { (t(lang, "join")) }
        }
    };
    Html(layout(lang, t(lang, "join_staff"), body).into_string())
}

fn unusable(lang: Language) -> Response {
    (
        StatusCode::GONE,
        Html(
            layout(
                lang,
                t(lang, "join_staff"),
                html! { p.error { (t(lang, "invitation_unusable")) } },
            )
            .into_string(),
        ),
    )
        .into_response()
}

pub async fn show_join(
    State(app): State<AppState>,
    Path(token): Path<String>,
    RawQuery(q): RawQuery,
    jar: CookieJar,
) -> Response {
    let lang = language(q.as_deref(), &jar);
    match super::api::invitation_by_token(&app, &token).await {
        Ok((row, tenant)) if row.status(now_micros()) == "pending" => {
            let errors = FieldErrors {
                name: None,
                password: None,
                form: None,
            };
            join_page(
                lang,
                &tenant.name,
                &row.email,
                &row.role,
                &JoinForm::default(),
                &errors,
            )
            .into_response()
        }
        _ => unusable(lang),
    }
}

pub async fn submit_join(
    State(app): State<AppState>,
    meta: RequestMeta,
    Path(token): Path<String>,
    jar: CookieJar,
    Form(form): Form<JoinForm>,
) -> Response {
    let lang = language(None, &jar);
    let Ok((row, tenant)) = super::api::invitation_by_token(&app, &token).await else {
        return unusable(lang);
    };
    let name = PersonName::parse(&form.name);
    let password = NewPassword::parse(&form.password);
    let (Ok(name), Ok(password)) = (&name, &password) else {
        let errors = FieldErrors {
            name: name.err(),
            password: password.err(),
            form: None,
        };
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            join_page(lang, &tenant.name, &row.email, &row.role, &form, &errors),
        )
            .into_response();
    };
    match super::api::accept(&app, &meta, &token, name, password).await {
        Ok((p, session)) => (
            jar.add(crate::auth::api::session_cookie(&app, session.token)),
            Redirect::to(crate::web::landing(&p)),
        )
            .into_response(),
        Err(_) => unusable(lang),
    }
}

/// The invitation link as a QR code, for staff to scan from the admin's screen.
pub async fn invitation_qr(State(app): State<AppState>, Path(token): Path<String>) -> Response {
    let url = super::api::invitation_url(&app, &token);
    (
        [(header::CONTENT_TYPE, "image/svg+xml")],
        crate::qr::svg(&url),
    )
        .into_response()
}

#[derive(Deserialize, Default)]
pub struct ResetForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    repeat_password: String,
}

fn reset_page(
    lang: Language,
    shop: &str,
    email: &str,
    error: Option<(&str, &'static str)>,
) -> Html<String> {
    let error_of = |field: &str| error.filter(|(f, _)| *f == field).map(|(_, w)| t(lang, w));
    let body = html! {
        h1 { (t(lang, "pw_reset_page")) " — " (shop) }
        p { (email) }
        form method="post" {
            label for="password" { (t(lang, "pw_new")) }
            input #password name="password" type="password" minlength="10" required autocomplete="new-password" aria-describedby="password-error";
            (crate::web::field_error("password", error_of("password")))
            label for="repeat_password" { (t(lang, "pw_repeat")) }
            input #repeat_password name="repeat_password" type="password" required autocomplete="new-password" aria-describedby="repeat_password-error";
            (crate::web::field_error("repeat_password", error_of("repeat_password")))
            button #set-password type="submit" { (t(lang, "pw_set")) }
        }
    };
    Html(layout(lang, t(lang, "pw_reset_page"), body).into_string())
}

fn reset_unusable(lang: Language) -> Response {
    let body = html! { p.error #reset-unusable { (t(lang, "pw_link_unusable")) } };
    (
        StatusCode::GONE,
        Html(layout(lang, t(lang, "pw_reset_page"), body).into_string()),
    )
        .into_response()
}

/// `GET /reset/{token}`: set a new password with a reset link.
pub async fn show_reset(
    State(app): State<AppState>,
    Path(token): Path<String>,
    RawQuery(q): RawQuery,
    jar: CookieJar,
) -> Response {
    let lang = language(q.as_deref(), &jar);
    match super::passwords::reset_owner(&app, &token).await {
        Ok(Some((shop, email))) => reset_page(lang, &shop, &email, None).into_response(),
        Ok(None) => reset_unusable(lang),
        Err(e) => crate::web::server_error(lang, e),
    }
}

/// `POST /reset/{token}`: the new password; then the person signs in with it.
pub async fn submit_reset(
    State(app): State<AppState>,
    meta: RequestMeta,
    Path(token): Path<String>,
    jar: CookieJar,
    Form(form): Form<ResetForm>,
) -> Response {
    let lang = language(None, &jar);
    let (shop, email) = match super::passwords::reset_owner(&app, &token).await {
        Ok(Some(owner)) => owner,
        Ok(None) => return reset_unusable(lang),
        Err(e) => return crate::web::server_error(lang, e),
    };
    let refused = |field: &'static str, words: &'static str| {
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            reset_page(lang, &shop, &email, Some((field, words))),
        )
            .into_response()
    };
    let Ok(password) = NewPassword::parse(&form.password) else {
        return refused("password", "pw_too_short");
    };
    if form.repeat_password != form.password {
        return refused("repeat_password", "pw_differs");
    }
    match super::passwords::use_reset(&app, &meta, &token, &password).await {
        Ok(true) => Redirect::to("/login?reset=1").into_response(),
        Ok(false) => reset_unusable(lang),
        Err(e) => crate::web::server_error(lang, e.message),
    }
}
