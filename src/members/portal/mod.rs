//! The member page (`/m/{shop}`): phone-sized, works in LINE's in-app browser. Sign in
//! with a one-time code; see balance, expiring points, tier progress and history; browse
//! rewards and redeem with a fresh one-time code; show coupons with their QR. Every rule
//! runs in the same functions as the API. One file per screen; what every screen shares
//! (the layout, the shop and signed-in member extractors, refusals) is here.

mod account;
mod claims;
mod draws;
mod home;
mod rewards;
mod sign_in;
mod signup;

pub use account::{account, ask_erasure, download_data, save_account};
pub use claims::{collect_claim, show_claim};
pub use draws::{draws, enter_draw};
pub use home::home;
pub use rewards::{coupon, coupons, redeem, rewards};
pub use sign_in::{logout, send_login_code, show_login, verify_login};
pub use signup::{show_signup, submit_signup};

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::Cookie;
use maud::{DOCTYPE, Markup, html};
use serde::Deserialize;

use crate::auth::secrets::{constant_time_eq, token_hash};
use crate::otp::OtpError;
use crate::state::AppState;
use crate::tenants::model::Language;
use crate::web::{BASE_CSS, EXTRA_CSS, language, t};
pub const COOKIE: &str = "loyal_member";
const SESSION_HOURS: i64 = 24 * 30;

#[derive(Deserialize, Default)]
pub struct LangQuery {
    lang: Option<String>,
    /// Where to go after signing in (a page of this shop's member site).
    next: Option<String>,
}

fn lang_of(q: &LangQuery, jar: &CookieJar) -> Language {
    crate::web::page_language(q.lang.as_deref(), jar)
}

fn page(
    lang: Language,
    shop: &str,
    slug: &str,
    title: &str,
    signed_in: bool,
    body: Markup,
) -> Html<String> {
    Html(
        html! {
            (DOCTYPE)
            html lang=(lang.as_str()) {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (title) " · " (shop) }
                    style { (BASE_CSS) (EXTRA_CSS) }
                }
                body {
                    nav aria-label=(t(lang, "menu")) {
                        strong { (shop) } " "
                        @if signed_in {
                            @for (href, key, exact) in [
                                (format!("/m/{slug}"), "m_home", true),
                                (format!("/m/{slug}/rewards"), "m_rewards", false),
                                (format!("/m/{slug}/coupons"), "m_coupons", false),
                                (format!("/m/{slug}/draws"), "a_draws", false),
                                (format!("/m/{slug}/me"), "m_account", false),
                            ] {
                                a href=(href) aria-current=[crate::web::nav_current(&href, exact)] { (t(lang, key)) }
                            }
                        }
                        a href="?lang=th" lang="th" { "ไทย" }
                        a href="?lang=en" lang="en" { "English" }
                    }
                    main { h1 { (title) } (body) }
                }
            }
        }
        .into_string(),
    )
}

/// The shop of a member page (`/m/{shop}/…`), open to its members: not found for an
/// unknown or closed shop, an error page when the database cannot say.
pub struct MemberShop {
    id: i64,
    name: String,
}

impl FromRequestParts<AppState> for MemberShop {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Response> {
        let slug = parts
            .uri
            .path()
            .strip_prefix("/m/")
            .and_then(|rest| rest.split('/').next())
            .unwrap_or_default();
        match crate::tenants::store::find_tenant_by_slug(&app.db, slug).await {
            Ok(Some(t)) if t.status == "active" => Ok(MemberShop {
                id: t.id,
                name: t.name,
            }),
            Ok(_) => Err(not_found()),
            Err(e) => Err(failure(e)),
        }
    }
}

/// A member page for a member signed in to its shop, in the page's language: anyone
/// else is sent to the shop's sign-in page. The opening every signed-in page shares.
pub struct MemberPage {
    shop: MemberShop,
    session: crate::members::store::MemberSession,
    lang: Language,
}

impl FromRequestParts<AppState> for MemberPage {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Response> {
        let shop = MemberShop::from_request_parts(parts, app).await?;
        let jar = CookieJar::from_headers(&parts.headers);
        let lang = language(parts.uri.query(), &jar);
        match session(app, &jar, &shop)
            .await
            .map_err(IntoResponse::into_response)?
        {
            Some(session) => Ok(MemberPage {
                shop,
                session,
                lang,
            }),
            None => {
                let slug = parts.uri.path().trim_start_matches("/m/");
                let slug = slug.split('/').next().unwrap_or_default();
                Err(Redirect::to(&format!("/m/{slug}/login")).into_response())
            }
        }
    }
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, Html("Not found".to_string())).into_response()
}

/// What a member sees when the server could not do its part (the details go to the log).
fn failure(e: impl std::fmt::Display) -> Response {
    failed(e).into_response()
}

/// Why a member page answers with an error page instead of itself.
pub enum PageError {
    NotFound,
    /// A signed-in member's form without their session's token.
    FormExpired(Language),
    /// The server could not do its part: what the member is told (the details went to
    /// the log).
    Failed(String),
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            PageError::NotFound => not_found(),
            PageError::FormExpired(lang) => (
                StatusCode::FORBIDDEN,
                Html(t(lang, "form_expired").to_string()),
            )
                .into_response(),
            PageError::Failed(message) => {
                (StatusCode::INTERNAL_SERVER_ERROR, Html(message)).into_response()
            }
        }
    }
}

fn failed(e: impl std::fmt::Display) -> PageError {
    PageError::Failed(crate::error::ApiError::internal(e).message)
}

/// What a page read, or the page saying the server could not read it: a database error
/// is shown as one, never as "not found" or as an empty list.
fn read<T>(r: Result<T, impl std::fmt::Display>) -> Result<T, PageError> {
    r.map_err(failed)
}

/// A row a page needs: not found when it is absent, the failure page when it could not
/// be read.
fn found<T>(r: Result<Option<T>, impl std::fmt::Display>) -> Result<T, PageError> {
    read(r)?.ok_or(PageError::NotFound)
}

/// A signed-in member's form carries their session's token, or is refused.
fn check_csrf(
    s: &crate::members::store::MemberSession,
    lang: Language,
    sent: &str,
) -> Result<(), PageError> {
    if constant_time_eq(&s.csrf_token, sent) {
        Ok(())
    } else {
        Err(PageError::FormExpired(lang))
    }
}

/// The signed-in member of this shop, if any.
async fn session(
    app: &AppState,
    jar: &CookieJar,
    shop: &MemberShop,
) -> Result<Option<crate::members::store::MemberSession>, PageError> {
    let Some(c) = jar.get(COOKIE) else {
        return Ok(None);
    };
    crate::members::store::member_session(&app.db, &token_hash(c.value()))
        .await
        .map(|s| s.filter(|s| s.tenant_id == shop.id))
        .map_err(failed)
}
/// The first step of a spend (a reward, draw entries): a code texted to the member and
/// the spend's form asking for it, or why no code could be sent.
#[allow(clippy::too_many_arguments)]
async fn send_spend_code(
    app: &AppState,
    shop: &MemberShop,
    member: &crate::members::store::Member,
    ip: &str,
    lang: Language,
    slug: &str,
    title: &str,
    code_form: impl Fn(i64, Option<String>) -> Markup,
) -> Response {
    match crate::otp::send(app, shop.id, member.id, &member.phone, "spend", ip).await {
        Ok(c) => page(
            lang,
            &shop.name,
            slug,
            title,
            true,
            code_form(c.challenge_id, None),
        )
        .into_response(),
        Err(e) => spend_refused(lang, &shop.name, slug, title, e.into()),
    }
}

/// A spend's code refused as wrong or spent: its form again, the reason at the code box.
fn ask_code_again(
    lang: Language,
    shop: &MemberShop,
    slug: &str,
    title: &str,
    body: Markup,
) -> Response {
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        page(lang, &shop.name, slug, title, true, body),
    )
        .into_response()
}

/// A code's refusal in the page's words.
fn otp_error(lang: Language, e: OtpError) -> String {
    match e {
        OtpError::Wrong { .. } => t(lang, "m_wrong_code").to_string(),
        OtpError::Spent(_) => t(lang, "m_code_expired").to_string(),
        other => crate::web::localise_error(lang, &other.into()),
    }
}

/// A spend step refused: the reason alone, in the page's words, with the answer's status.
fn spend_refused(
    lang: Language,
    shop: &str,
    slug: &str,
    title: &str,
    e: crate::error::ApiError,
) -> Response {
    (
        e.code.status(),
        page(
            lang,
            shop,
            slug,
            title,
            true,
            html! { p.error #spend-error role="alert" { (crate::web::localise_error(lang, &e)) } },
        ),
    )
        .into_response()
}
/// Remember the page language chosen with `?lang=`.
fn lang_cookie(lang: Language) -> Cookie<'static> {
    Cookie::build(("lang", lang.as_str())).path("/").build()
}

#[derive(Deserialize, Default)]
pub struct CsrfOnly {
    #[serde(rename = "_csrf", default)]
    csrf: String,
}
