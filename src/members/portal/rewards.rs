//! The rewards catalogue at the member's prices, redeeming with a one-time code, and the
//! member's coupons.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use maud::html;
use serde::Deserialize;

use super::*;
use crate::audit::RequestMeta;
use crate::state::AppState;
use crate::tenants::model::Language;
use crate::web::{field_error, t};

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
) -> Result<Response, PageError> {
    let catalog = read(crate::rewards::catalog_for(&app.db, shop.id, s.member_id).await)?;
    // The catalogue's groups (each reward's group, as the shop named it), in the order the
    // shop's rewards first name them; a tab for each when there are several.
    let mut groups: Vec<(&str, Vec<&crate::rewards::MemberReward>)> = vec![];
    for r in &catalog {
        let group = r.reward.spec.category.as_str();
        match groups.iter_mut().find(|(g, _)| *g == group) {
            Some((_, rewards)) => rewards.push(r),
            None => groups.push((group, vec![r])),
        }
    }
    let tabs = groups.len() > 1;
    let body = html! {
        @if catalog.is_empty() { p.empty { (t(lang, "m_no_rewards")) } }
        @if tabs {
            nav.tabs #m-groups aria-label=(t(lang, "m_groups")) {
                @for (i, (group, _)) in groups.iter().enumerate() { a href=(format!("#group-{i}")) { (group) } }
            }
        }
        @for (i, (group, rewards)) in groups.iter().enumerate() {
          section.group id=(format!("group-{i}")) {
            @if tabs { h2 { (group) } }
            @for r in rewards {
            section.card.reward id=(format!("reward-{}", r.reward.id)) {
                p.big { (if lang == Language::En { r.reward.spec.name_en.clone().unwrap_or(r.reward.spec.name.clone()) } else { r.reward.spec.name.clone() }) }
                p { (crate::web::number(r.price)) " " (crate::web::words::unit(lang, r.reward.spec.currency)) }
                @if r.redeemable {
                    form method="post" action=(format!("/m/{slug}/rewards/{}", r.reward.id)) {
                        input type="hidden" name="_csrf" value=(s.csrf_token);
                        button type="submit" { (t(lang, "m_redeem")) }
                    }
                } @else {
                    p.muted.why-not { (why_not(lang, r)) }
                }
            }
            }
          }
        }
    };
    Ok((
        jar.add(lang_cookie(lang)),
        page(lang, &shop.name, &slug, t(lang, "m_rewards"), true, body),
    )
        .into_response())
}

/// Why the member cannot redeem a reward now, in the page's words.
fn why_not(lang: Language, r: &crate::rewards::MemberReward) -> String {
    use crate::rewards::WhyNot;
    let key = match r.why_not {
        Some(WhyNot::NotOffered) => "m_wn_not_offered",
        Some(WhyNot::NotYet) => "m_wn_not_yet",
        Some(WhyNot::NoLonger) => "m_wn_no_longer",
        Some(WhyNot::OtherTiers) => "m_wn_other_tiers",
        Some(WhyNot::OutOfStock) => "m_wn_out_of_stock",
        Some(WhyNot::ShortOfPoints) => {
            let short = crate::web::number(r.points_short.unwrap_or(0));
            return format!(
                "{} {short} {}",
                t(lang, "m_wn_short"),
                crate::web::words::unit(lang, r.reward.spec.currency)
            );
        }
        None => return String::new(),
    };
    t(lang, key).to_string()
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
) -> Result<Response, PageError> {
    check_csrf(&s, lang, &form.csrf)?;
    let reward_id = reward.parse::<i64>().map_err(|_| PageError::NotFound)?;
    let member = found(crate::members::store::get(&app.db, shop.id, s.member_id).await)?;
    let reward = found(crate::rewards::store::get(&app.db, shop.id, reward_id).await)?;
    let reward_name = if lang == Language::En {
        reward
            .spec
            .name_en
            .clone()
            .unwrap_or(reward.spec.name.clone())
    } else {
        reward.spec.name.clone()
    };
    let shipped = reward.spec.kind == crate::rewards::model::RewardKind::Shipped;
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
    let priced = read(crate::rewards::catalog_for(&app.db, shop.id, member.id).await)?
        .into_iter()
        .find(|r| r.reward.id == reward_id)
        .map(|r| (r.price, r.reward.spec.currency));
    let currency = priced.map_or(Default::default(), |p| p.1);
    let price = priced.map(|p| p.0);
    let available =
        read(crate::ledger::balance_summary(&app.db, shop.id, member.id, currency).await)?
            .available;
    let code_form = |challenge: i64, error: Option<String>| {
        html! {
            p.big { (reward_name) }
            @if let Some(price) = price {
                p #m-redeem-cost { strong { "−" (crate::web::number(price)) " " (crate::web::words::unit(lang, currency)) } " · " (t(lang, "m_balance_after")) " " strong { (crate::web::number(available.saturating_sub(price))) } }
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
        let title = t(lang, "m_redeem");
        return Ok(send_spend_code(
            &app, &shop, &member, &meta.ip, lang, &slug, title, code_form,
        )
        .await);
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
                return Ok((
                    StatusCode::UNPROCESSABLE_ENTITY,
                    page(lang, &shop.name, &slug, t(lang, "m_redeem"), true, body),
                )
                    .into_response());
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
    Ok(
        match crate::rewards::redeem(&app.db, &input, actor, &meta).await {
            Ok(o) => match o.redemption {
                Some(r) => Redirect::to(&format!("/m/{slug}/coupons/{}", r.id)).into_response(),
                None => Redirect::to(&format!("/m/{slug}/coupons")).into_response(),
            },
            Err(crate::rewards::RedeemError::Otp(e)) if e.asks_again() => {
                let body = code_form(challenge, Some(otp_error(lang, e)));
                ask_code_again(lang, &shop, &slug, t(lang, "m_redeem"), body)
            }
            Err(e) => spend_refused(lang, &shop.name, &slug, t(lang, "m_redeem"), e.into()),
        },
    )
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
) -> Result<Response, PageError> {
    let f = crate::rewards::store::Filter {
        member_id: Some(s.member_id),
        ..Default::default()
    };
    let list =
        read(crate::rewards::store::list_redemptions(&app.db, shop.id, &f, i64::MAX, 50).await)?;
    let body = html! {
        @if list.is_empty() { p { (t(lang, "m_no_coupons")) } }
        @for r in list.iter().take(50) {
            section.card {
                p { a href=(format!("/m/{slug}/coupons/{}", r.id)) { (r.reward_name) } }
                p.muted { (t(lang, crate::rewards::pages::status_key(&r.status))) }
            }
        }
    };
    Ok((
        jar.add(lang_cookie(lang)),
        page(lang, &shop.name, &slug, t(lang, "m_coupons"), true, body),
    )
        .into_response())
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
) -> Result<Response, PageError> {
    let id = id.parse::<i64>().map_err(|_| PageError::NotFound)?;
    let r = found(crate::rewards::store::get_redemption(&app.db, shop.id, id).await)?;
    if r.member_id != s.member_id {
        return Err(PageError::NotFound);
    }
    let qr = r
        .coupon_code
        .as_deref()
        .map(|c| crate::qr::svg(&crate::rewards::model::display_code(c)));
    let tz = read(crate::tenants::time_zone(&app.db, shop.id).await)?;
    // The last moment it may be used, as a day in the shop's calendar.
    let last_day = r.expires_at.map(|until| {
        let until = crate::types::timestamp(until.saturating_sub(1));
        crate::web::local_date(lang, until, &tz)
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
    Ok((
        jar.add(lang_cookie(lang)),
        page(lang, &shop.name, &slug, t(lang, "m_coupons"), true, body),
    )
        .into_response())
}
