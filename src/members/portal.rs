//! The member page (`/m/{shop}`): phone-sized, works in LINE's in-app browser. Sign in
//! with a one-time code; see balance, expiring points, tier progress and history; browse
//! rewards and redeem with a fresh one-time code; show coupons with their QR. Every rule
//! runs in the same functions as the API.

use axum::Form;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use maud::{DOCTYPE, Markup, html};
use serde::Deserialize;

use crate::audit::RequestMeta;
use crate::auth::secrets::{constant_time_eq, random_token, token_hash};
use crate::earning::claims::ClaimError;
use crate::members::model::Phone;
use crate::otp::OtpError;
use crate::state::AppState;
use crate::tenants::model::Language;
use crate::web::{BASE_CSS, EXTRA_CSS, field_error, language, t};

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
                            a href=(format!("/m/{slug}")) { (t(lang, "m_home")) }
                            a href=(format!("/m/{slug}/rewards")) { (t(lang, "m_rewards")) }
                            a href=(format!("/m/{slug}/coupons")) { (t(lang, "m_coupons")) }
                            a href=(format!("/m/{slug}/draws")) { (t(lang, "a_draws")) }
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
        match session(app, &jar, &shop).await? {
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
    let e = crate::error::ApiError::internal(e);
    (StatusCode::INTERNAL_SERVER_ERROR, Html(e.message)).into_response()
}

/// The signed-in member of this shop, if any.
async fn session(
    app: &AppState,
    jar: &CookieJar,
    shop: &MemberShop,
) -> Result<Option<crate::members::store::MemberSession>, Response> {
    let Some(c) = jar.get(COOKIE) else {
        return Ok(None);
    };
    crate::members::store::member_session(&app.db, &token_hash(c.value()))
        .await
        .map(|s| s.filter(|s| s.tenant_id == shop.id))
        .map_err(failure)
}

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

/// `GET /m/{shop}/login`.
pub async fn show_login(
    shop: MemberShop,
    State(app): State<AppState>,
    Path(slug): Path<String>,
    jar: CookieJar,
    Query(q): Query<LangQuery>,
) -> Response {
    let lang = lang_of(&q, &jar);
    let jar = jar.add(Cookie::build(("lang", lang.as_str())).path("/").build());
    let (jar, form_token) = crate::web::form_token(&app, jar);
    let form = LoginForm {
        next: q.next.clone().unwrap_or_default(),
        form_token,
        ..Default::default()
    };
    let body = login_body(lang, &slug, &form, None, None, None);
    (
        jar,
        page(lang, &shop.name, &slug, t(lang, "sign_in"), false, body),
    )
        .into_response()
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
    let Some(member) = crate::members::store::find_by_phone(&app.db, shop.id, &phone)
        .await
        .ok()
        .flatten()
    else {
        return again("no_member");
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
    let member = match Phone::parse(&form.phone) {
        Ok(p) => crate::members::store::find_by_phone(&app.db, shop.id, &p)
            .await
            .ok()
            .flatten(),
        Err(_) => None,
    };
    let challenge = form.challenge_id.parse::<i64>().unwrap_or(0);
    let Some(member) = member else {
        return not_found();
    };
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
    let secure = app.settings.public_url.starts_with("https://");
    let cookie = Cookie::build((COOKIE, token))
        .path("/m/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .build();
    // Only a page of this shop's member site (no open redirect).
    let home = format!("/m/{slug}");
    let next = if form.next.starts_with(&format!("{home}/")) && !form.next.contains("//") {
        form.next.clone()
    } else {
        home
    };
    (jar.add(cookie), Redirect::to(&next)).into_response()
}

/// `GET /m/{shop}`: balance, expiring points, tier progress and recent history.
pub async fn home(
    MemberPage {
        shop,
        session: s,
        lang,
    }: MemberPage,
    State(app): State<AppState>,
    Path(slug): Path<String>,
    jar: CookieJar,
) -> Response {
    let jar = jar.add(Cookie::build(("lang", lang.as_str())).path("/").build());
    let member = crate::members::store::get(&app.db, shop.id, s.member_id)
        .await
        .ok()
        .flatten();
    let Ok((points, stamps, recent)) =
        crate::ledger::member_view(&app.db, shop.id, s.member_id).await
    else {
        return not_found();
    };
    let tier = crate::tiers::status(&app.db, shop.id, s.member_id, crate::store::now_micros())
        .await
        .ok();
    let tz = crate::tenants::time_zone(&app.db, shop.id)
        .await
        .unwrap_or(jiff::tz::TimeZone::UTC);
    let day = |t: jiff::Timestamp| crate::web::local_date(lang, t, &tz);
    let body = html! {
        p { (member.as_ref().map(|m| m.first_name.clone()).unwrap_or_default()) }
        section.card aria-label=(t(lang, "balance")) {
            p { (t(lang, "balance")) }
            p.big #m-balance { (points.balance) }
            @if points.expiring_30_days > 0 {
                p.error { (points.expiring_30_days) " " (t(lang, "m_expiring_30")) }
            }
            @if let Some(next) = points.next_expiry { p.muted { (t(lang, "m_next_expiry")) ": " (points.next_expiry_points) " · " (day(next)) } }
            @if stamps.balance > 0 { p { (t(lang, "m_stamps")) ": " (stamps.balance) } }
        }
        @if let Some(tier) = &tier {
            @if let Some(level) = &tier.level {
                section.card #m-tier aria-label=(t(lang, "tier")) {
                    p { (t(lang, "tier")) ": " strong { (if lang == Language::En { level.name_en.clone().unwrap_or(level.name.clone()) } else { level.name.clone() }) } }
                    @if let Some(n) = &tier.next {
                        label for="tier-progress" { (t(lang, "m_to_next")) " " (n.name) ": " (n.remaining) }
                        progress #tier-progress max=(n.threshold) value=(tier.value.min(n.threshold)) { (tier.value) }
                    }
                    @if let Some(k) = &tier.keep { p.muted { (t(lang, "m_to_keep")) ": " (k.remaining) " · " (day(k.by)) } }
                    @for b in &level.benefits { p { "✓ " (b) } }
                }
            }
        }
        h2 { (t(lang, "m_history")) }
        table {
            @for l in recent.iter().take(10) {
                tr { td { (day(l.occurred_at)) } td { (t(lang, kind_key(&l.kind))) } td { (if l.amount > 0 { format!("+{}", l.amount) } else { l.amount.to_string() }) } }
            }
        }
        form method="post" action=(format!("/m/{slug}/logout")) { button.secondary type="submit" { (t(lang, "sign_out")) } }
    };
    (
        jar,
        page(lang, &shop.name, &slug, t(lang, "m_home"), true, body),
    )
        .into_response()
}

fn kind_key(kind: &str) -> &'static str {
    match kind {
        "earn" => "k_earn",
        "bonus" => "k_bonus",
        "redeem" => "k_redeem",
        "redeem_cancel" => "k_redeem_cancel",
        "expire" => "k_expire",
        "reversal" => "k_reversal",
        "adjust_credit" | "adjust_debit" => "k_adjust",
        "opening" => "k_opening",
        _ => "k_other",
    }
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

/// `GET /m/{shop}/rewards`: the catalog with this member's prices.
pub async fn rewards(
    MemberPage {
        shop,
        session: s,
        lang,
    }: MemberPage,
    State(app): State<AppState>,
    Path(slug): Path<String>,
    jar: CookieJar,
) -> Response {
    let catalog = crate::rewards::catalog_for(&app.db, shop.id, s.member_id)
        .await
        .unwrap_or_default();
    let body = html! {
        @for r in &catalog {
            section.card.reward id=(format!("reward-{}", r.reward.id)) {
                p.big { (if lang == Language::En { r.reward.spec.name_en.clone().unwrap_or(r.reward.spec.name.clone()) } else { r.reward.spec.name.clone() }) }
                p { (r.price) " " (t(lang, "points")) }
                @if r.redeemable {
                    form method="post" action=(format!("/m/{slug}/rewards/{}", r.reward.id)) {
                        input type="hidden" name="_csrf" value=(s.csrf_token);
                        button type="submit" { (t(lang, "m_redeem")) }
                    }
                } @else {
                    p.muted { (r.reason.clone().unwrap_or_default()) }
                }
            }
        }
    };
    (
        jar.add(lang_cookie(lang)),
        page(lang, &shop.name, &slug, t(lang, "m_rewards"), true, body),
    )
        .into_response()
}

#[derive(Deserialize, Default)]
pub struct RedeemForm {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    #[serde(default)]
    challenge_id: String,
    #[serde(default)]
    code: String,
    // The delivery address (shipped rewards).
    #[serde(default)]
    recipient: String,
    #[serde(default)]
    ship_phone: String,
    #[serde(default)]
    line1: String,
    #[serde(default)]
    line2: String,
    #[serde(default)]
    district: String,
    #[serde(default)]
    province: String,
    #[serde(default)]
    postcode: String,
}

/// `POST /m/{shop}/rewards/{id}`: first a code is texted; with the code, the reward is
/// redeemed and the coupon shown.
pub async fn redeem(
    MemberPage {
        shop,
        session: s,
        lang,
    }: MemberPage,
    State(app): State<AppState>,
    Path((slug, reward)): Path<(String, String)>,
    meta: RequestMeta,
    Form(form): Form<RedeemForm>,
) -> Response {
    if !constant_time_eq(&s.csrf_token, &form.csrf) {
        return (
            StatusCode::FORBIDDEN,
            Html(t(lang, "form_expired").to_string()),
        )
            .into_response();
    }
    let Ok(reward_id) = reward.parse::<i64>() else {
        return not_found();
    };
    let Some(member) = crate::members::store::get(&app.db, shop.id, s.member_id)
        .await
        .ok()
        .flatten()
    else {
        return not_found();
    };
    let reward = crate::rewards::store::get(&app.db, shop.id, reward_id)
        .await
        .ok()
        .flatten();
    let reward_name = reward
        .as_ref()
        .map(|r| r.spec.name.clone())
        .unwrap_or_default();
    let shipped = reward
        .as_ref()
        .is_some_and(|r| r.spec.kind == crate::rewards::model::RewardKind::Shipped);
    let typed = |v: &str, default: &str| {
        if v.is_empty() {
            default.to_string()
        } else {
            v.to_string()
        }
    };
    let full_name = format!("{} {}", member.first_name, member.last_name)
        .trim()
        .to_string();
    let address_fields = [
        (
            "recipient",
            "ad_recipient",
            typed(&form.recipient, &full_name),
        ),
        (
            "ship_phone",
            "phone",
            typed(&form.ship_phone, &member.phone),
        ),
        ("line1", "ad_line1", form.line1.clone()),
        ("line2", "ad_line2", form.line2.clone()),
        ("district", "ad_district", form.district.clone()),
        ("province", "ad_province", form.province.clone()),
        ("postcode", "ad_postcode", form.postcode.clone()),
    ];
    // What it costs this member (their tier's price) and what is left after, said before
    // the code is asked for.
    let price = crate::rewards::catalog_for(&app.db, shop.id, member.id)
        .await
        .ok()
        .and_then(|c| c.into_iter().find(|r| r.reward.id == reward_id))
        .map(|r| r.price);
    let available = crate::ledger::balance_summary(
        &app.db,
        shop.id,
        member.id,
        crate::ledger::model::Currency::Points,
    )
    .await
    .ok()
    .map(|b| b.available);
    let code_form = |challenge: i64, error: Option<String>| {
        html! {
            p.big { (reward_name) }
            @if let (Some(price), Some(available)) = (price, available) {
                p #m-redeem-cost { strong { "−" (crate::web::number(price)) " " (t(lang, "points")) } " · " (t(lang, "m_balance_after")) " " strong { (crate::web::number(available.saturating_sub(price))) } }
            }
            p { (t(lang, "m_code_sent")) " " strong { (crate::otp::mask_phone(&member.phone)) } }
            form method="post" action=(format!("/m/{slug}/rewards/{reward_id}")) {
                input type="hidden" name="_csrf" value=(s.csrf_token);
                input type="hidden" name="challenge_id" value=(challenge);
                @if shipped {
                    fieldset { legend { (t(lang, "address")) }
                        @for (name, label, value) in &address_fields {
                            label for=(name) { (t(lang, label)) }
                            input id=(name) name=(name) value=(value) required[*name != "line2"];
                        }
                    }
                }
                label for="code" { (t(lang, "m_code")) }
                input #code name="code" inputmode="numeric" autocomplete="one-time-code" maxlength="6" required
                    aria-invalid=[error.as_ref().map(|_| "true")] aria-describedby="code-error";
                (field_error("code", error.as_deref()))
                button type="submit" #confirm-redeem { (t(lang, "m_redeem")) }
            }
        }
    };
    if form.challenge_id.is_empty() {
        return match crate::otp::send(&app, shop.id, member.id, &member.phone, "spend", &meta.ip)
            .await
        {
            Ok(c) => page(
                lang,
                &shop.name,
                &slug,
                t(lang, "m_redeem"),
                true,
                code_form(c.challenge_id, None),
            )
            .into_response(),
            Err(e) => spend_refused(lang, &shop.name, &slug, t(lang, "m_redeem"), e.into()),
        };
    }
    let challenge = form.challenge_id.parse::<i64>().unwrap_or(0);
    let shipping = if shipped {
        let a = crate::rewards::store::Address {
            recipient: form.recipient.clone(),
            phone: form.ship_phone.clone(),
            line1: form.line1.clone(),
            line2: Some(form.line2.clone()).filter(|l| !l.trim().is_empty()),
            district: form.district.clone(),
            province: form.province.clone(),
            postcode: form.postcode.clone(),
        };
        match a.checked() {
            Ok(a) => Some(a),
            Err(e) => {
                let e = crate::error::ApiError::from(e);
                let msg = format!(
                    "{}: {}",
                    e.field
                        .clone()
                        .unwrap_or_default()
                        .trim_start_matches("shipping."),
                    crate::web::localise_error(lang, &e)
                );
                let body = html! { p.error #address-error role="alert" { (msg) } (code_form(challenge, None)) };
                return (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    page(lang, &shop.name, &slug, t(lang, "m_redeem"), true, body),
                )
                    .into_response();
            }
        }
    } else {
        None
    };
    let input = crate::rewards::RedeemInput {
        tenant_id: shop.id,
        reward_id,
        member_id: member.id,
        shipping,
        otp: Some(crate::otp::OtpProof {
            challenge_id: challenge,
            code: form.code.clone(),
        }),
        idem_key: format!("reward:member:{challenge}"),
        dry_run: false,
    };
    let actor = crate::audit::ActorRef {
        kind: "member",
        id: Some(member.id),
        label: "member page",
    };
    match crate::rewards::redeem(&app.db, &input, actor, &meta).await {
        Ok(o) => match o.redemption {
            Some(r) => Redirect::to(&format!("/m/{slug}/coupons/{}", r.id)).into_response(),
            None => Redirect::to(&format!("/m/{slug}/coupons")).into_response(),
        },
        Err(crate::rewards::RedeemError::Otp(e)) if e.asks_again() => (
            StatusCode::UNPROCESSABLE_ENTITY,
            page(
                lang,
                &shop.name,
                &slug,
                t(lang, "m_redeem"),
                true,
                code_form(challenge, Some(otp_error(lang, e))),
            ),
        )
            .into_response(),
        Err(e) => spend_refused(lang, &shop.name, &slug, t(lang, "m_redeem"), e.into()),
    }
}

/// `GET /m/{shop}/coupons`: the member's coupons, codes and shipments.
pub async fn coupons(
    MemberPage {
        shop,
        session: s,
        lang,
    }: MemberPage,
    State(app): State<AppState>,
    Path(slug): Path<String>,
    jar: CookieJar,
) -> Response {
    let f = crate::rewards::store::Filter {
        member_id: Some(s.member_id),
        ..Default::default()
    };
    let list = crate::rewards::store::list_redemptions(&app.db, shop.id, &f, i64::MAX, 50)
        .await
        .unwrap_or_default();
    let body = html! {
        @if list.is_empty() { p { (t(lang, "m_no_coupons")) } }
        @for r in list.iter().take(50) {
            section.card {
                p { a href=(format!("/m/{slug}/coupons/{}", r.id)) { (r.reward_name) } }
                p.muted { (t(lang, crate::rewards::pages::status_key(&r.status))) }
            }
        }
    };
    (
        jar.add(lang_cookie(lang)),
        page(lang, &shop.name, &slug, t(lang, "m_coupons"), true, body),
    )
        .into_response()
}

/// `GET /m/{shop}/coupons/{id}`: one coupon, with its code and QR to show at the counter.
pub async fn coupon(
    MemberPage {
        shop,
        session: s,
        lang,
    }: MemberPage,
    State(app): State<AppState>,
    Path((slug, id)): Path<(String, String)>,
    jar: CookieJar,
) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        return not_found();
    };
    let Some(r) = crate::rewards::store::get_redemption(&app.db, shop.id, id)
        .await
        .ok()
        .flatten()
        .filter(|r| r.member_id == s.member_id)
    else {
        return not_found();
    };
    let qr = r
        .coupon_code
        .as_deref()
        .map(|c| crate::qr::svg(&crate::rewards::model::display_code(c)));
    let tz = crate::tenants::time_zone(&app.db, shop.id).await.ok();
    // The last moment it may be used, as a day in the shop's calendar.
    let last_day = r.expires_at.zip(tz.as_ref()).map(|(until, tz)| {
        let until = crate::types::timestamp(until.saturating_sub(1));
        crate::web::local_date(lang, until, tz)
    });
    let usable = r.status == "issued" && r.coupon_code.is_some();
    let body = html! {
        section.card #m-coupon {
            p.big { (r.reward_name) }
            @if usable { p.ok #m-show-cashier { (t(lang, "m_show_cashier")) } }
            @if let Some(v) = r.value_satang { p { (t(lang, "rw_value_baht")) ": " strong { (crate::web::baht(v)) } } }
            @if let Some(code) = &r.coupon_code {
                @if let Some(svg) = &qr { div.qr role="img" aria-label=(t(lang, "coupon_code")) { (maud::PreEscaped(svg)) } }
                p { (t(lang, "coupon_code")) ": " strong #m-coupon-code { (crate::rewards::model::display_code(code)) } }
            }
            @if let Some(code) = &r.digital_code { p { (t(lang, "coupon_code")) ": " strong #m-digital-code { (code) } } }
            p { (t(lang, "status")) ": " strong #m-coupon-status { (t(lang, crate::rewards::pages::status_key(&r.status))) } }
            @if let (Some(day), true) = (&last_day, usable) { p #m-coupon-expiry { (t(lang, "m_use_by")) " " strong { (day) } } }
        }
    };
    (
        jar.add(lang_cookie(lang)),
        page(lang, &shop.name, &slug, t(lang, "m_coupons"), true, body),
    )
        .into_response()
}

/// `GET /m/{shop}/claim/{token}`: the bill a claim QR is for, and a button to collect it.
pub async fn show_claim(
    shop: MemberShop,
    State(app): State<AppState>,
    Path((slug, token)): Path<(String, String)>,
    jar: CookieJar,
    Query(q): Query<LangQuery>,
) -> Response {
    let lang = lang_of(&q, &jar);
    let here = format!("/m/{slug}/claim/{token}");
    let s = match session(&app, &jar, &shop).await {
        Ok(Some(s)) => s,
        Ok(None) => return Redirect::to(&format!("/m/{slug}/login?next={here}")).into_response(),
        Err(failed) => return failed,
    };
    let claim = crate::earning::claims::find(&app.db, shop.id, &token)
        .await
        .ok()
        .flatten();
    let body = match claim {
        None => html! { p.error role="alert" { (t(lang, "m_claim_unknown")) } },
        Some(c)
            if c.claimed_member.is_some_and(|m| m != s.member_id)
                || (c.claimed_member.is_none() && c.expires_at <= crate::store::now_micros()) =>
        {
            html! { p.error role="alert" { (t(lang, "m_claim_used")) } }
        }
        Some(c) => html! {
            section.card #m-claim {
                p { (t(lang, "bill_amount")) }
                p.big { (crate::web::baht(c.amount_satang)) " ฿" }
                form method="post" action=(here) {
                    input type="hidden" name="_csrf" value=(s.csrf_token);
                    button type="submit" #collect { (t(lang, "m_collect")) }
                }
            }
        },
    };
    (
        jar.add(lang_cookie(lang)),
        page(lang, &shop.name, &slug, t(lang, "m_claim"), true, body),
    )
        .into_response()
}

#[derive(Deserialize, Default)]
pub struct CsrfOnly {
    #[serde(rename = "_csrf", default)]
    csrf: String,
}

/// `POST /m/{shop}/claim/{token}`: collect the points.
pub async fn collect_claim(
    MemberPage {
        shop,
        session: s,
        lang,
    }: MemberPage,
    State(app): State<AppState>,
    Path((slug, token)): Path<(String, String)>,
    meta: RequestMeta,
    Form(form): Form<CsrfOnly>,
) -> Response {
    if !constant_time_eq(&s.csrf_token, &form.csrf) {
        return (
            StatusCode::FORBIDDEN,
            Html(t(lang, "form_expired").to_string()),
        )
            .into_response();
    }
    let body = match crate::earning::claims::collect(&app.db, shop.id, &token, s.member_id, &meta)
        .await
    {
        Ok(o) => html! {
            section.card #m-claimed role="status" {
                p.ok { (t(lang, "granted")) ": " span #m-claimed-points { (o.points) } " " (t(lang, "points")) }
                p { (t(lang, "new_balance")) ": " strong { (o.balance.unwrap_or(0)) } }
                p { a href=(format!("/m/{slug}")) { (t(lang, "m_home")) } }
            }
        },
        Err(ClaimError::AlreadyUsed | ClaimError::Expired) => {
            html! { p.error #m-claim-error role="alert" { (t(lang, "m_claim_used")) } }
        }
        Err(e) => {
            html! { p.error #m-claim-error role="alert" { (crate::web::localise_error(lang, &e.into())) } }
        }
    };
    page(lang, &shop.name, &slug, t(lang, "m_claim"), true, body).into_response()
}

/// A birthday as typed on the signup page: `31/12/2535` (Buddhist era), `31/12/1992`, or
/// `1992-12-31`. Years from 2400 are Buddhist-era and lose 543.
pub fn parse_birthday(typed: &str) -> Option<String> {
    let t = typed.trim();
    let (y, m, d) = if let Some((d, rest)) = t.split_once('/') {
        let (m, y) = rest.split_once('/')?;
        (y, m, d)
    } else {
        let mut parts = t.splitn(3, '-');
        (parts.next()?, parts.next()?, parts.next()?)
    };
    let (y, m, d): (i32, u32, u32) = (
        y.trim().parse().ok()?,
        m.trim().parse().ok()?,
        d.trim().parse().ok()?,
    );
    let y = if y >= 2400 { y - 543 } else { y };
    Some(format!("{y:04}-{m:02}-{d:02}"))
}

type Fields = std::collections::HashMap<String, String>;

fn signup_body(
    lang: Language,
    slug: &str,
    form: &crate::members::consent::SignupForm,
    typed: &Fields,
    error: Option<(&str, String)>,
) -> Markup {
    let v = |k: &str| typed.get(k).cloned().unwrap_or_default();
    let err = |k: &str| {
        error
            .as_ref()
            .filter(|(f, _)| *f == k)
            .map(|(_, m)| m.clone())
    };
    let checked = |k: &str| typed.get(k).is_some_and(|v| v == "on");
    html! {
        @if let Some((f, m)) = &error { @if !["phone", "first_name", "birthday", "accept_terms", "accept_privacy"].contains(f) && !f.starts_with("q_") { p.error role="alert" { (m) } } }
        form method="post" action=(format!("/m/{slug}/signup")) {
            input type="hidden" name="_form" value=(v("_form"));
            label for="phone" { (t(lang, "phone")) }
            input #phone name="phone" type="tel" inputmode="tel" autocomplete="tel" required value=(v("phone")) aria-describedby="phone-error" aria-invalid=[err("phone").map(|_| "true")];
            (field_error("phone", err("phone").as_deref()))
            label for="first_name" { (t(lang, "s_first_name")) }
            input #first_name name="first_name" autocomplete="given-name" required value=(v("first_name")) aria-describedby="first_name-error" aria-invalid=[err("first_name").map(|_| "true")];
            (field_error("first_name", err("first_name").as_deref()))
            label for="last_name" { (t(lang, "s_last_name")) }
            input #last_name name="last_name" autocomplete="family-name" value=(v("last_name"));
            label for="birthday" { (t(lang, "s_birthday")) }
            input #birthday name="birthday" placeholder=(t(lang, "s_birthday_hint")) value=(v("birthday")) aria-describedby="birthday-error" aria-invalid=[err("birthday").map(|_| "true")];
            (field_error("birthday", err("birthday").as_deref()))
            @for q in &form.questions {
                @let key = format!("q_{}", q.id);
                label for=(key) { (q.label) @if q.required { " *" } }
                select id=(key) name=(key) aria-describedby=(format!("{key}-error")) {
                    option value="" { "—" }
                    @for o in &q.options { option value=(o.value) selected[v(&key) == o.value] { (o.label) } }
                }
                (field_error(&key, err(&key).as_deref()))
            }
            details { summary { (t(lang, "s_terms")) } pre style="white-space:pre-wrap" { (form.terms) } }
            label { input #accept_terms type="checkbox" name="accept_terms" style="width:auto" checked[checked("accept_terms")]; " " (t(lang, "s_accept_terms")) }
            (field_error("accept_terms", err("accept_terms").as_deref()))
            details { summary { (t(lang, "s_privacy")) } pre style="white-space:pre-wrap" { (form.privacy) } }
            label { input #accept_privacy type="checkbox" name="accept_privacy" style="width:auto" checked[checked("accept_privacy")]; " " (t(lang, "s_accept_privacy")) }
            (field_error("accept_privacy", err("accept_privacy").as_deref()))
            @if !form.marketing_channels.is_empty() {
                fieldset { legend { (t(lang, "s_marketing")) }
                    @for c in &form.marketing_channels {
                        @let key = format!("m_{}", c.purpose());
                        label { input type="checkbox" name=(key) style="width:auto" checked[checked(&key)]; " " (c.purpose().trim_start_matches("marketing_").to_uppercase()) }
                    }
                }
            }
            input type="hidden" name="terms_version" value=(form.terms_version);
            input type="hidden" name="privacy_version" value=(form.privacy_version);
            button type="submit" #sign-up { (t(lang, "s_sign_up")) }
        }
    }
}

/// `GET /m/{shop}/signup`.
pub async fn show_signup(
    shop: MemberShop,
    State(app): State<AppState>,
    Path(slug): Path<String>,
    jar: CookieJar,
    Query(q): Query<LangQuery>,
) -> Response {
    let lang = lang_of(&q, &jar);
    let Ok((_, form)) = crate::members::signup::shop_form(&app, &slug).await else {
        return not_found();
    };
    let jar = jar.add(Cookie::build(("lang", lang.as_str())).path("/").build());
    let (jar, token) = crate::web::form_token(&app, jar);
    let typed = Fields::from([("_form".to_string(), token)]);
    (
        jar,
        page(
            lang,
            &shop.name,
            &slug,
            t(lang, "s_sign_up"),
            false,
            signup_body(lang, &slug, &form, &typed, None),
        ),
    )
        .into_response()
}

/// `POST /m/{shop}/signup`: the same checks as the API; errors next to their field.
pub async fn submit_signup(
    shop: MemberShop,
    State(app): State<AppState>,
    Path(slug): Path<String>,
    meta: RequestMeta,
    jar: CookieJar,
    Form(mut f): Form<Fields>,
) -> Response {
    let lang = language(None, &jar);
    let Ok((_, form)) = crate::members::signup::shop_form(&app, &slug).await else {
        return not_found();
    };
    if !crate::web::form_token_ok(&jar, f.get("_form").map_or("", |v| v.as_str())) {
        let (jar, token) = crate::web::form_token(&app, jar);
        f.insert("_form".into(), token);
        let error = Some(("form", t(lang, "form_expired").to_string()));
        let body = signup_body(lang, &slug, &form, &f, error);
        return (
            StatusCode::FORBIDDEN,
            jar,
            page(lang, &shop.name, &slug, t(lang, "s_sign_up"), false, body),
        )
            .into_response();
    }
    let f = f;
    let fail = |field: &str, msg: String| {
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            page(
                lang,
                &shop.name,
                &slug,
                t(lang, "s_sign_up"),
                false,
                signup_body(lang, &slug, &form, &f, Some((field, msg))),
            ),
        )
            .into_response()
    };
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    let Ok(phone) = Phone::parse(&get("phone")) else {
        return fail("phone", t(lang, "bad_phone").into());
    };
    if get("first_name").trim().is_empty() {
        return fail("first_name", t(lang, "s_required").into());
    }
    let birthday = match get("birthday").trim() {
        "" => None,
        typed => match parse_birthday(typed)
            .and_then(|b| crate::members::model::Birthday::parse(&b).ok())
        {
            Some(b) => Some(b),
            None => return fail("birthday", t(lang, "s_bad_birthday").into()),
        },
    };
    for k in ["accept_terms", "accept_privacy"] {
        if get(k) != "on" {
            return fail(k, t(lang, "s_must_accept").into());
        }
    }
    let answers = form
        .questions
        .iter()
        .filter_map(|q| {
            f.get(&format!("q_{}", q.id))
                .filter(|v| !v.is_empty())
                .map(|v| (q.id.clone(), v.clone()))
        })
        .collect();
    let req = crate::members::signup::SignupRequest {
        phone,
        first_name: get("first_name"),
        last_name: get("last_name"),
        email: None,
        birthday,
        accept_terms_version: get("terms_version").parse().unwrap_or(0),
        accept_privacy_version: get("privacy_version").parse().unwrap_or(0),
        marketing: form
            .marketing_channels
            .iter()
            .copied()
            .filter(|c| get(&format!("m_{}", c.purpose())) == "on")
            .collect(),
        answers,
    };
    match crate::members::signup::sign_up(&app, &meta, &slug, &req).await {
        Ok(r) => {
            let body = html! {
                section.card #signed-up role="status" {
                    p.ok { (t(lang, "s_welcome")) }
                    @if r.welcome_points > 0 { p { "+" (r.welcome_points) " " (t(lang, "points")) } }
                    p { a #to-login href=(format!("/m/{slug}/login")) { (t(lang, "sign_in")) } }
                }
            };
            page(lang, &shop.name, &slug, t(lang, "s_sign_up"), false, body).into_response()
        }
        Err(e) => {
            use crate::members::signup::SignupError;
            let (field, msg) = match &e {
                SignupError::AlreadyMember => {
                    ("phone".to_string(), t(lang, "s_already_member").to_string())
                }
                SignupError::AnswerMissing { question, .. } => {
                    (format!("q_{question}"), t(lang, "s_required").to_string())
                }
                SignupError::TermsChanged { .. } => {
                    ("accept_terms".into(), t(lang, "s_text_changed").to_string())
                }
                SignupError::PrivacyChanged { .. } => (
                    "accept_privacy".into(),
                    t(lang, "s_text_changed").to_string(),
                ),
                SignupError::NotAnAnswer { question, .. }
                | SignupError::NoSuchQuestion(question) => (format!("q_{question}"), String::new()),
                SignupError::Name { field, .. } if *field == "first_name" => {
                    ("first_name".into(), String::new())
                }
                _ => (String::new(), String::new()),
            };
            let msg = if msg.is_empty() {
                crate::web::localise_error(lang, &e.into())
            } else {
                msg
            };
            fail(&field, msg)
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn birthdays_take_buddhist_or_gregorian_years() {
        assert_eq!(
            super::parse_birthday("31/12/2535").as_deref(),
            Some("1992-12-31")
        );
        assert_eq!(
            super::parse_birthday("1/2/1992").as_deref(),
            Some("1992-02-01")
        );
        assert_eq!(
            super::parse_birthday("1992-02-01").as_deref(),
            Some("1992-02-01")
        );
        assert_eq!(super::parse_birthday("tomorrow"), None);
    }
}

/// `GET /m/{shop}/draws`: open lucky draws, the member's entries, and a form to buy more.
pub async fn draws(
    MemberPage {
        shop,
        session: s,
        lang,
    }: MemberPage,
    State(app): State<AppState>,
    Path(slug): Path<String>,
    jar: CookieJar,
) -> Response {
    let rows = crate::draws::store::list(&app.db, shop.id, i64::MAX, 50)
        .await
        .unwrap_or_default();
    let now = jiff::Timestamp::now();
    let mut cards = vec![];
    for r in rows {
        let Ok(spec) = serde_json::from_str::<crate::draws::DrawSpec>(&r.spec) else {
            continue;
        };
        let mine = crate::draws::store::member_entry_count(&app.db, shop.id, r.id, s.member_id)
            .await
            .unwrap_or(0);
        let open = r.drawn_at.is_none() && spec.opens_at <= now && now < spec.closes_at;
        cards.push(html! {
            section.card.draw id=(format!("draw-{}", r.id)) {
                p.big { (spec.name) }
                p { (spec.entry_cost) " " (t(lang, "points")) " / " (t(lang, "d_entry")) " · " (t(lang, "d_mine")) ": " strong.mine { (mine) } }
                p.muted { "SHA-256(seed): " code { (r.seed_hash[..16].to_string()) "…" } " · " a href=(format!("/api/v1/public/{slug}/draws/{}/proof", r.id)) { (t(lang, "d_proof")) } }
                @if open {
                    form method="post" action=(format!("/m/{slug}/draws/{}", r.id)) {
                        input type="hidden" name="_csrf" value=(s.csrf_token);
                        label for=(format!("entries-{}", r.id)) { (t(lang, "d_how_many")) }
                        input id=(format!("entries-{}", r.id)) name="entries" inputmode="numeric" value="1";
                        button type="submit" { (t(lang, "d_enter")) }
                    }
                }
            }
        });
    }
    let body = html! { @if cards.is_empty() { p { (t(lang, "d_none")) } } @for c in cards { (c) } };
    (
        jar.add(lang_cookie(lang)),
        page(lang, &shop.name, &slug, t(lang, "a_draws"), true, body),
    )
        .into_response()
}

#[derive(Deserialize, Default)]
pub struct EntryForm {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    #[serde(default)]
    entries: String,
    #[serde(default)]
    challenge_id: String,
    #[serde(default)]
    code: String,
}

/// `POST /m/{shop}/draws/{id}`: a code is texted first; with it, the entries are bought.
pub async fn enter_draw(
    MemberPage {
        shop,
        session: s,
        lang,
    }: MemberPage,
    State(app): State<AppState>,
    Path((slug, draw)): Path<(String, String)>,
    meta: RequestMeta,
    Form(form): Form<EntryForm>,
) -> Response {
    if !constant_time_eq(&s.csrf_token, &form.csrf) {
        return (
            StatusCode::FORBIDDEN,
            Html(t(lang, "form_expired").to_string()),
        )
            .into_response();
    }
    let Ok(draw_id) = draw.parse::<i64>() else {
        return not_found();
    };
    let Some(member) = crate::members::store::get(&app.db, shop.id, s.member_id)
        .await
        .ok()
        .flatten()
    else {
        return not_found();
    };
    let entries = form.entries.trim().parse::<i64>().unwrap_or(0);
    let code_form = |challenge: i64, error: Option<String>| {
        html! {
            p { (t(lang, "m_code_sent")) " " strong { (crate::otp::mask_phone(&member.phone)) } }
            form method="post" action=(format!("/m/{slug}/draws/{draw_id}")) {
                input type="hidden" name="_csrf" value=(s.csrf_token);
                input type="hidden" name="entries" value=(entries);
                input type="hidden" name="challenge_id" value=(challenge);
                label for="code" { (t(lang, "m_code")) }
                input #code name="code" inputmode="numeric" autocomplete="one-time-code" maxlength="6" required aria-describedby="code-error";
                (field_error("code", error.as_deref()))
                button type="submit" #confirm-entries { (t(lang, "d_enter")) }
            }
        }
    };
    if form.challenge_id.is_empty() {
        return match crate::otp::send(&app, shop.id, member.id, &member.phone, "spend", &meta.ip)
            .await
        {
            Ok(c) => page(
                lang,
                &shop.name,
                &slug,
                t(lang, "a_draws"),
                true,
                code_form(c.challenge_id, None),
            )
            .into_response(),
            Err(e) => spend_refused(lang, &shop.name, &slug, t(lang, "a_draws"), e.into()),
        };
    }
    let challenge = form.challenge_id.parse::<i64>().unwrap_or(0);
    let proof = crate::otp::OtpProof {
        challenge_id: challenge,
        code: form.code.clone(),
    };
    let actor = crate::audit::ActorRef {
        kind: "member",
        id: Some(member.id),
        label: "member page",
    };
    match crate::draws::enter(
        &app.db,
        shop.id,
        draw_id,
        member.id,
        entries,
        Some(&proof),
        format!("draw:member:{challenge}"),
        actor,
        &meta,
        app.clock.now(),
    )
    .await
    {
        Ok(_) => Redirect::to(&format!("/m/{slug}/draws")).into_response(),
        Err(crate::draws::DrawError::Otp(e)) if e.asks_again() => (
            StatusCode::UNPROCESSABLE_ENTITY,
            page(
                lang,
                &shop.name,
                &slug,
                t(lang, "a_draws"),
                true,
                code_form(challenge, Some(otp_error(lang, e))),
            ),
        )
            .into_response(),
        Err(e) => spend_refused(lang, &shop.name, &slug, t(lang, "a_draws"), e.into()),
    }
}

/// Remember the page language chosen with `?lang=`.
fn lang_cookie(lang: Language) -> Cookie<'static> {
    Cookie::build(("lang", lang.as_str())).path("/").build()
}
