//! A shop signs up on its own (`/signup`): the shop's name, the owner's name, email and
//! phone, then a one-time code texted to that phone and the owner's password. The shop
//! is made by the same [`super::api::create_shop`] as the API's signup, with the proved
//! phone kept as the shop's contact, and the owner lands in the setup wizard signed in.
//! Without an SMS gateway (a development machine) no text leaves the machine, so the
//! code step shows the message that would have been sent.

use std::collections::HashMap;

use axum::Form;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use maud::{Markup, html};

use super::api::{ShopSignup, create_shop};
use super::model::{CurrencyCode, Language, ShopName, TimeZoneName};
use crate::audit::RequestMeta;
use crate::error::Code;
use crate::members::model::Phone;
use crate::otp::{OtpError, OtpProof};
use crate::state::AppState;
use crate::types::{Email, NewPassword, PersonName};
use crate::web::{field_error, language, layout, t};

type Fields = HashMap<String, String>;

/// Codes of shops not made yet belong to no shop.
const PLATFORM: i64 = 0;

fn purpose(phone: &Phone) -> String {
    format!("shop-signup:{}", phone.as_str())
}

/// The details the first step asks for, checked; or the field at fault and its words.
struct Details {
    shop_name: ShopName,
    owner_name: PersonName,
    owner_email: Email,
    phone: Phone,
}

fn details(f: &Fields) -> Result<Details, (&'static str, &'static str)> {
    let get = |k: &str| f.get(k).map(|v| v.trim().to_string()).unwrap_or_default();
    Ok(Details {
        shop_name: ShopName::parse(&get("shop_name"))
            .map_err(|_| ("shop_name", "sp_bad_shop_name"))?,
        owner_name: PersonName::parse(&get("owner_name"))
            .map_err(|_| ("owner_name", "sp_bad_name"))?,
        owner_email: Email::parse(&get("owner_email"))
            .map_err(|_| ("owner_email", "m_bad_email"))?,
        phone: Phone::parse(&get("phone")).map_err(|_| ("phone", "bad_phone"))?,
    })
}

struct View<'a> {
    /// The visitor's form token (the forms before signing in carry it).
    form_token: &'a str,
    typed: &'a Fields,
    error: Option<(&'static str, &'static str)>,
    /// The code step: the masked phone the code went to, and the message the development
    /// mailbox holds (no SMS gateway).
    code_sent: Option<(String, Option<String>)>,
}

fn body(lang: Language, v: &View<'_>) -> Markup {
    let get = |k: &str| v.typed.get(k).cloned().unwrap_or_default();
    let error_of = |field: &str| {
        v.error
            .filter(|(f, _)| *f == field)
            .map(|(_, w)| t(lang, w))
    };
    let input = |name: &'static str,
                 label: &'static str,
                 kind: &'static str,
                 auto: &'static str| {
        let e = error_of(name);
        html! {
            label for=(name) { (t(lang, label)) }
            input id=(name) name=(name) type=(kind) autocomplete=(auto) value=(get(name)) required
                aria-invalid=[e.map(|_| "true")] aria-describedby=(format!("{name}-error"));
            (field_error(name, e))
        }
    };
    let secret = |name: &'static str, label: &'static str| {
        let e = error_of(name);
        html! {
            label for=(name) { (t(lang, label)) }
            input id=(name) name=(name) type="password" autocomplete="new-password" required
                aria-invalid=[e.map(|_| "true")] aria-describedby=(format!("{name}-error"));
            (field_error(name, e))
        }
    };
    html! {
        h1 { (t(lang, "sp_title")) }
        @if let Some(("", words)) = v.error { p.error #signup-error role="alert" { (t(lang, words)) } }
        @match &v.code_sent {
            None => {
                p { (t(lang, "sp_intro")) }
                form.sections-form #shop-signup method="post" action="/signup" {
                    input type="hidden" name="_form" value=(v.form_token);
                    input type="hidden" name="step" value="details";
                    (input("shop_name", "sp_shop_name", "text", "organization"))
                    (input("owner_name", "sp_owner_name", "text", "name"))
                    (input("owner_email", "email", "email", "email"))
                    (input("phone", "phone", "tel", "tel"))
                    p.muted { (t(lang, "sp_phone_note")) }
                    button #send-code type="submit" { (t(lang, "sp_send_code")) }
                }
                p { a href="/login" { (t(lang, "sign_in")) } }
            }
            Some((sent_to, mailbox)) => {
                p #code-sent { (t(lang, "sp_code_sent")) " " strong { (sent_to) } }
                @if let Some(message) = mailbox {
                    p.muted #dev-mailbox { (t(lang, "sp_dev_mailbox")) " " (message) }
                }
                form.sections-form #shop-create method="post" action="/signup" {
                    input type="hidden" name="_form" value=(v.form_token);
                    input type="hidden" name="step" value="code";
                    @for k in ["shop_name", "owner_name", "owner_email", "phone", "challenge_id"] {
                        input type="hidden" name=(k) value=(get(k));
                    }
                    (input("code", "sp_code", "text", "one-time-code"))
                    (secret("password", "pw_new"))
                    (secret("repeat_password", "pw_repeat"))
                    button #create-shop type="submit" { (t(lang, "sp_create")) }
                }
                form method="post" action="/signup" {
                    input type="hidden" name="_form" value=(v.form_token);
                    input type="hidden" name="step" value="details";
                    @for k in ["shop_name", "owner_name", "owner_email", "phone"] {
                        input type="hidden" name=(k) value=(get(k));
                    }
                    button.secondary #new-code type="submit" { (t(lang, "sp_new_code")) }
                }
            }
        }
    }
}

fn page(lang: Language, v: &View<'_>, status: StatusCode) -> Response {
    (
        status,
        Html(layout(lang, t(lang, "sp_title"), body(lang, v)).into_string()),
    )
        .into_response()
}

/// `GET /signup`.
pub async fn show(State(app): State<AppState>, RawQuery(q): RawQuery, jar: CookieJar) -> Response {
    let lang = language(q.as_deref(), &jar);
    let (jar, token) = crate::web::form_token(&app, jar);
    let typed = Fields::new();
    let view = View {
        form_token: &token,
        typed: &typed,
        error: None,
        code_sent: None,
    };
    (jar, page(lang, &view, StatusCode::OK)).into_response()
}

/// `POST /signup`: the details (a code is texted), then the code and the password (the
/// shop is made and its owner signed in).
pub async fn submit(
    State(app): State<AppState>,
    meta: RequestMeta,
    jar: CookieJar,
    Form(mut f): Form<Fields>,
) -> Response {
    let lang = language(None, &jar);
    let token = f.get("_form").cloned().unwrap_or_default();
    if !crate::web::form_token_ok(&jar, &token) {
        // A form this visitor was not given (or from before the cookie): start again.
        let (jar, token) = crate::web::form_token(&app, jar);
        let view = View {
            form_token: &token,
            typed: &f,
            error: Some(("", "form_expired")),
            code_sent: None,
        };
        return (jar, page(lang, &view, StatusCode::FORBIDDEN)).into_response();
    }
    let refused = |f: &Fields,
                   error: (&'static str, &'static str),
                   code_step: Option<(String, Option<String>)>,
                   status: StatusCode| {
        let view = View {
            form_token: &token,
            typed: f,
            error: Some(error),
            code_sent: code_step,
        };
        page(lang, &view, status)
    };
    let d = match details(&f) {
        Ok(d) => d,
        Err(e) => return refused(&f, e, None, StatusCode::UNPROCESSABLE_ENTITY),
    };
    if f.get("step").map(String::as_str) != Some("code") {
        let sent = crate::otp::send(
            &app,
            PLATFORM,
            0,
            d.phone.as_str(),
            &purpose(&d.phone),
            &meta.ip,
        )
        .await;
        return match sent {
            Ok(challenge) => {
                f.insert("challenge_id".into(), challenge.challenge_id.to_string());
                f.remove("code");
                let view = View {
                    form_token: &token,
                    typed: &f,
                    error: None,
                    code_sent: Some((challenge.sent_to, dev_message(&app, &d.phone).await)),
                };
                page(lang, &view, StatusCode::OK)
            }
            Err(OtpError::TooManySent { .. }) => refused(
                &f,
                ("phone", "sp_too_many"),
                None,
                StatusCode::TOO_MANY_REQUESTS,
            ),
            Err(_) => refused(&f, ("phone", "sp_not_sent"), None, StatusCode::BAD_GATEWAY),
        };
    }
    // Asked again on the code step, with the text that was sent (development only).
    let sent_text = dev_message(&app, &d.phone).await;
    let code_step = || Some((crate::otp::mask_phone(d.phone.as_str()), sent_text.clone()));
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    let Ok(password) = NewPassword::parse(&get("password")) else {
        return refused(
            &f,
            ("password", "pw_too_short"),
            code_step(),
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    };
    if get("repeat_password") != get("password") {
        return refused(
            &f,
            ("repeat_password", "pw_differs"),
            code_step(),
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    let proof = OtpProof {
        challenge_id: get("challenge_id").parse().unwrap_or(0),
        code: get("code"),
    };
    match crate::otp::check(&app.db, PLATFORM, 0, &purpose(&d.phone), &proof).await {
        Ok(()) => {}
        Err(OtpError::Wrong { .. }) => {
            return refused(
                &f,
                ("code", "sp_code_wrong"),
                code_step(),
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
        Err(OtpError::Spent(_)) => {
            return refused(
                &f,
                ("code", "sp_code_spent"),
                code_step(),
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
        Err(e) => return crate::web::server_error(lang, e),
    }
    if app
        .signup_limiter
        .shop(&meta.ip, std::time::Instant::now())
        .is_err()
    {
        return refused(
            &f,
            ("", "sp_too_many_shops"),
            code_step(),
            StatusCode::TOO_MANY_REQUESTS,
        );
    }
    // The code is used up before the shop is made: submitting twice makes one shop.
    let used = async {
        let mut tx = app.db.begin().await?;
        crate::otp::consume(&mut tx, PLATFORM, &proof).await?;
        tx.commit().await?;
        Ok::<(), OtpError>(())
    };
    if used.await.is_err() {
        return refused(
            &f,
            ("code", "sp_code_spent"),
            code_step(),
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    let shop = ShopSignup {
        shop_name: d.shop_name,
        slug: None,
        currency: CurrencyCode::parse("THB").expect("THB is a currency"),
        time_zone: TimeZoneName::parse("Asia/Bangkok").expect("a known zone"),
        language: lang,
        owner_name: d.owner_name,
        owner_email: d.owner_email,
        password,
        contact_phone: Some(d.phone.as_str().to_string()),
    };
    match create_shop(&app, &meta, shop).await {
        Ok((_, _, session)) => (
            jar.add(crate::auth::api::session_cookie(&app, session.token)),
            Redirect::to("/admin/setup"),
        )
            .into_response(),
        Err(e) if e.code == Code::AlreadyExists => {
            refused(&f, ("", "sp_try_again"), None, StatusCode::CONFLICT)
        }
        Err(e) => crate::web::server_error(lang, e.message),
    }
}

/// The message the development mailbox holds for this phone (no SMS gateway), to show
/// on the page; None when texts really leave the machine.
async fn dev_message(app: &AppState, phone: &Phone) -> Option<String> {
    if !app.sms.is_mailbox() {
        return None;
    }
    crate::otp::store::mailbox_messages(&app.db, PLATFORM, 20)
        .await
        .ok()?
        .into_iter()
        .find(|m| m.phone == phone.as_str())
        .map(|m| m.body)
}
