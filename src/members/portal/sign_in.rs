//! Signing in to the member page with a one-time code texted to the member's phone, and
//! signing out.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use maud::{Markup, html};
use serde::Deserialize;

use super::*;
use crate::audit::RequestMeta;
use crate::auth::secrets::{random_token, token_hash};
use crate::members::model::Phone;
use crate::otp::OtpError;
use crate::state::AppState;
use crate::tenants::model::Language;
use crate::web::{field_error, language, t};

#[derive(Deserialize, Default)]
pub struct LoginForm {
    #[serde(default)]
    next: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    challenge_id: String,
    #[serde(default)]
    code: String,
    #[serde(rename = "_form", default)]
    form_token: String,
}

/// A pre-sign-in form was posted without the visitor's form token (another site, or a
/// page from before the cookie): shown again with a fresh one.
fn form_expired(
    app: &AppState,
    jar: CookieJar,
    lang: Language,
    shop: &str,
    slug: &str,
) -> Response {
    let (jar, token) = crate::web::form_token(app, jar);
    let form = LoginForm {
        form_token: token,
        ..Default::default()
    };
    let body = html! {
        p.error role="alert" { (t(lang, "form_expired")) }
        (login_body(lang, slug, &form, None, None, None))
    };
    (
        StatusCode::FORBIDDEN,
        jar,
        page(lang, shop, slug, t(lang, "sign_in"), false, body),
    )
        .into_response()
}

fn login_body(
    lang: Language,
    slug: &str,
    form: &LoginForm,
    phone_error: Option<&str>,
    code_step: Option<(i64, String)>,
    code_error: Option<String>,
) -> Markup {
    html! {
        @match code_step {
            None => {
                form method="post" action=(format!("/m/{slug}/login")) {
                    input type="hidden" name="_form" value=(form.form_token);
                    input type="hidden" name="next" value=(form.next);
                    label for="phone" { (t(lang, "phone")) }
                    input #phone name="phone" type="tel" inputmode="tel" autocomplete="tel" value=(form.phone) required
                        aria-invalid=[phone_error.map(|_| "true")] aria-describedby="phone-error";
                    (field_error("phone", phone_error))
                    button type="submit" #send-code { (t(lang, "m_send_code")) }
                }
                p { a #to-signup href=(format!("/m/{slug}/signup")) { (t(lang, "s_sign_up")) } }
            }
            Some((challenge, sent_to)) => {
                p { (t(lang, "m_code_sent")) " " strong { (sent_to) } }
                form method="post" action=(format!("/m/{slug}/login/verify")) {
                    input type="hidden" name="_form" value=(form.form_token);
                    input type="hidden" name="next" value=(form.next);
                    input type="hidden" name="phone" value=(form.phone);
                    input type="hidden" name="challenge_id" value=(challenge);
                    label for="code" { (t(lang, "m_code")) }
                    input #code name="code" inputmode="numeric" autocomplete="one-time-code" maxlength="6" required
                        aria-invalid=[code_error.as_ref().map(|_| "true")] aria-describedby="code-error";
                    (field_error("code", code_error.as_deref()))
                    button type="submit" #verify { (t(lang, "sign_in")) }
                }
            }
        }
    }
}

/// What the shop's program is, said before the sign-in form: how points are earned, what
/// joining gives, from how many points the rewards start, and the member levels.
async fn program_card(app: &AppState, shop: i64, lang: Language) -> Result<Markup, PageError> {
    let settings = read(crate::ledger::settings(&app.db, shop).await)?;
    let rewards = read(crate::rewards::store::list(&app.db, shop, false, i64::MAX, 500).await)?;
    let cheapest = rewards
        .iter()
        .filter(|r| r.spec.visible && r.spec.currency == crate::ledger::model::Currency::Points)
        .map(|r| r.spec.points_cost)
        .min();
    let tiers = read(crate::tiers::store::program(&app.db, shop).await)?;
    let earn = &settings.earn;
    let points_word = |n: i64| t(lang, if n == 1 { "point" } else { "points" });
    let level_name = |l: &crate::tiers::model::Level| match (lang, &l.name_en) {
        (Language::En, Some(en)) => en.clone(),
        _ => l.name.clone(),
    };
    Ok(html! {
        section.card #m-program aria-labelledby="m-program-title" {
            h2 #m-program-title { (t(lang, "m_how")) }
            ul {
                @if earn.points > 0 && earn.spend_satang > 0 {
                    li #m-how-earn {
                        (t(lang, "m_earn_every")) " " (crate::web::baht(earn.spend_satang)) " " (t(lang, "baht"))
                        " " (t(lang, "m_earn_gets")) " " (crate::web::number(earn.points)) " " (points_word(earn.points))
                        @if earn.min_spend_satang > 0 {
                            " (" (t(lang, "m_min_spend")) " " (crate::web::baht(earn.min_spend_satang)) " " (t(lang, "baht")) ")"
                        }
                    }
                }
                @if settings.welcome_points > 0 {
                    li #m-how-welcome { (t(lang, "m_welcome_get")) " " (crate::web::number(settings.welcome_points)) " " (points_word(settings.welcome_points)) }
                }
                @if let Some(from) = cheapest {
                    li #m-how-redeem { (t(lang, "m_redeem_from")) " " (crate::web::number(from)) " " (points_word(from)) }
                }
                @if tiers.enabled && tiers.levels.len() > 1 {
                    li #m-how-levels { (t(lang, "m_levels")) ": " (tiers.levels.iter().map(level_name).collect::<Vec<_>>().join(" → ")) }
                }
            }
        }
    })
}

/// `GET /m/{shop}/login`: what the program is, then the sign-in form.
pub async fn show_login(
    shop: MemberShop,
    State(app): State<AppState>,
    Path(slug): Path<String>,
    jar: CookieJar,
    Query(q): Query<LangQuery>,
) -> Result<Response, PageError> {
    let lang = lang_of(&q, &jar);
    let jar = jar.add(Cookie::build(("lang", lang.as_str())).path("/").build());
    let (jar, form_token) = crate::web::form_token(&app, jar);
    let form = LoginForm {
        next: q.next.clone().unwrap_or_default(),
        form_token,
        ..Default::default()
    };
    let program = program_card(&app, shop.id, lang).await?;
    let body = html! { (program) (login_body(lang, &slug, &form, None, None, None)) };
    Ok((
        jar,
        page(lang, &shop.name, &slug, t(lang, "sign_in"), false, body),
    )
        .into_response())
}

/// `POST /m/{shop}/login`: text a code to the member's phone.
pub async fn send_login_code(
    shop: MemberShop,
    State(app): State<AppState>,
    Path(slug): Path<String>,
    meta: RequestMeta,
    jar: CookieJar,
    Form(form): Form<LoginForm>,
) -> Response {
    let lang = language(None, &jar);
    if !crate::web::form_token_ok(&jar, &form.form_token) {
        return form_expired(&app, jar, lang, &shop.name, &slug);
    }
    let again = |err: &'static str| {
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            page(
                lang,
                &shop.name,
                &slug,
                t(lang, "sign_in"),
                false,
                login_body(lang, &slug, &form, Some(t(lang, err)), None, None),
            ),
        )
            .into_response()
    };
    let Ok(phone) = Phone::parse(&form.phone) else {
        return again("bad_phone");
    };
    let member = match crate::members::store::find_by_phone(&app.db, shop.id, &phone).await {
        Ok(Some(member)) => member,
        Ok(None) => return again("no_member"),
        Err(e) => return failure(e),
    };
    match crate::otp::send(&app, shop.id, member.id, &member.phone, "login", &meta.ip).await {
        Ok(c) => page(
            lang,
            &shop.name,
            &slug,
            t(lang, "sign_in"),
            false,
            login_body(
                lang,
                &slug,
                &form,
                None,
                Some((c.challenge_id, c.sent_to)),
                None,
            ),
        )
        .into_response(),
        Err(e) => {
            let e = crate::error::ApiError::from(e);
            (
                e.code.status(),
                page(
                    lang,
                    &shop.name,
                    &slug,
                    t(lang, "sign_in"),
                    false,
                    login_body(
                        lang,
                        &slug,
                        &form,
                        Some(&crate::web::localise_error(lang, &e)),
                        None,
                        None,
                    ),
                ),
            )
                .into_response()
        }
    }
}
/// `POST /m/{shop}/login/verify`: check the code, start the member's session.
pub async fn verify_login(
    shop: MemberShop,
    State(app): State<AppState>,
    Path(slug): Path<String>,
    jar: CookieJar,
    Form(form): Form<LoginForm>,
) -> Response {
    let lang = language(None, &jar);
    if !crate::web::form_token_ok(&jar, &form.form_token) {
        return form_expired(&app, jar, lang, &shop.name, &slug);
    }
    let Ok(phone) = Phone::parse(&form.phone) else {
        return not_found();
    };
    let member = match crate::members::store::find_by_phone(&app.db, shop.id, &phone).await {
        Ok(Some(member)) => member,
        Ok(None) => return not_found(),
        Err(e) => return failure(e),
    };
    let challenge = form.challenge_id.parse::<i64>().unwrap_or(0);
    let proof = crate::otp::OtpProof {
        challenge_id: challenge,
        code: form.code.clone(),
    };
    let fail = |e: OtpError| {
        let body = login_body(
            lang,
            &slug,
            &form,
            None,
            Some((challenge, crate::otp::mask_phone(&member.phone))),
            Some(otp_error(lang, e)),
        );
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            page(lang, &shop.name, &slug, t(lang, "sign_in"), false, body),
        )
            .into_response()
    };
    if let Err(e) = crate::otp::check(&app.db, shop.id, member.id, "login", &proof).await {
        return fail(e);
    }
    let token = random_token();
    let result = async {
        let mut tx = app.db.begin().await?;
        crate::otp::consume(&mut tx, shop.id, &proof).await?;
        crate::members::store::create_member_session(
            &mut tx,
            shop.id,
            member.id,
            &token_hash(&token),
            &random_token(),
            SESSION_HOURS,
        )
        .await?;
        tx.commit().await?;
        Ok::<_, OtpError>(())
    }
    .await;
    if let Err(e) = result {
        return fail(e);
    }
    let cookie = session_cookie(&app, token);
    // Only a page of this shop's member site (no open redirect).
    let home = format!("/m/{slug}");
    let next = if form.next.starts_with(&format!("{home}/")) && !form.next.contains("//") {
        form.next.clone()
    } else {
        home
    };
    (jar.add(cookie), Redirect::to(&next)).into_response()
}
/// The member session's cookie, for the member pages only.
pub(super) fn session_cookie(app: &AppState, token: String) -> Cookie<'static> {
    Cookie::build((COOKIE, token))
        .path("/m/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(app.settings.public_url.starts_with("https://"))
        .build()
}

/// Start a session for a member who just proved their phone (a new member's signup):
/// the token for [`session_cookie`].
pub(super) async fn start_session(app: &AppState, shop: i64, member: i64) -> sqlx::Result<String> {
    let token = random_token();
    let mut tx = app.db.begin().await?;
    crate::members::store::create_member_session(
        &mut tx,
        shop,
        member,
        &token_hash(&token),
        &random_token(),
        SESSION_HOURS,
    )
    .await?;
    tx.commit().await?;
    Ok(token)
}

/// `POST /m/{shop}/logout`.
pub async fn logout(
    State(app): State<AppState>,
    Path(slug): Path<String>,
    jar: CookieJar,
) -> Response {
    if let Some(c) = jar.get(COOKIE) {
        let _ = crate::members::store::delete_member_session(&app.db, &token_hash(c.value())).await;
    }
    (
        jar.remove(Cookie::build(COOKIE).path("/m/").build()),
        Redirect::to(&format!("/m/{slug}/login")),
    )
        .into_response()
}
