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
