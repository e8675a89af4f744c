//! The member's home: balance, expiring points, tier progress and recent history.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use maud::html;

use super::*;
use crate::state::AppState;
use crate::tenants::model::Language;
use crate::web::t;

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
) -> Result<Response, PageError> {
    let jar = jar.add(lang_cookie(lang));
    let member = found(crate::members::store::get(&app.db, shop.id, s.member_id).await)?;
    let (points, stamps, recent) =
        read(crate::ledger::member_view(&app.db, shop.id, s.member_id).await)?;
    let tier = read(
        crate::tiers::status(&app.db, shop.id, s.member_id, crate::store::now_micros()).await,
    )?;
    let tz = read(crate::tenants::time_zone(&app.db, shop.id).await)?;
    let day = |t: jiff::Timestamp| crate::web::local_date(lang, t, &tz);
    let card =
        crate::members::card::code(&app.cipher, shop.id, s.member_id, app.clock.now_micros());
    let body = html! {
        p { (member.first_name) }
        section.card aria-label=(t(lang, "balance")) {
            p { (t(lang, "balance")) }
            p.big #m-balance { (crate::web::number(points.balance)) }
            @if points.expiring_30_days > 0 {
                p.error { (crate::web::number(points.expiring_30_days)) " " (t(lang, "m_expiring_30")) }
            }
            @if let Some(next) = points.next_expiry { p.muted { (t(lang, "m_next_expiry")) ": " (crate::web::number(points.next_expiry_points)) " · " (day(next)) } }
            @if stamps.balance > 0 { p { (t(lang, "m_stamps")) ": " (crate::web::number(stamps.balance)) } }
        }
        section.card #m-card aria-labelledby="m-card-title" {
            h2 #m-card-title { (t(lang, "m_card")) }
            div.qr role="img" aria-label=(t(lang, "m_card")) { (maud::PreEscaped(crate::qr::svg(&card))) }
            // For the scanners that read only barcodes.
            div.barcode #m-card-barcode role="img" aria-label=(t(lang, "m_card_barcode")) {
                (maud::PreEscaped(crate::qr::barcode_svg(&crate::members::card::digits(&card))))
            }
            p { (t(lang, "m_card_code")) ": " strong #m-card-code { (card) } }
            p.muted { (t(lang, "m_card_hint")) }
        }
        // The card's code changes every minute: the card is drawn again while it is shown.
        script nonce=(crate::web::script_nonce()) { (maud::PreEscaped(
            "setInterval(function(){fetch(location.href,{credentials:'same-origin'}).then(function(r){return r.text()})\
             .then(function(h){var n=new DOMParser().parseFromString(h,'text/html').getElementById('m-card');\
             var o=document.getElementById('m-card');if(n&&o){o.replaceWith(n)}}).catch(function(){})},30000);"
        )) }
        @if let Some(level) = &tier.level {
            section.card #m-tier aria-label=(t(lang, "tier")) {
                p { (t(lang, "tier")) ": " strong { (if lang == Language::En { level.name_en.clone().unwrap_or(level.name.clone()) } else { level.name.clone() }) } }
                @if let Some(n) = &tier.next {
                    label for="tier-progress" { (t(lang, "m_to_next")) " " (n.name) ": " (crate::web::number(n.remaining)) }
                    progress #tier-progress max=(n.threshold) value=(tier.value.min(n.threshold)) { (tier.value) }
                }
                @if let Some(k) = &tier.keep { p.muted { (t(lang, "m_to_keep")) ": " (crate::web::number(k.remaining)) " · " (day(k.by)) } }
                @for b in &level.benefits { p { "✓ " (b) } }
            }
        }
        h2 { (t(lang, "m_history")) }
        table #m-history {
            thead { tr {
                th scope="col" { (t(lang, "mm_when")) }
                th scope="col" { (t(lang, "mm_what")) }
                th scope="col" { (t(lang, "points")) }
            } }
            tbody {
                @for l in recent.iter().take(10) {
                    tr {
                        td { (day(l.occurred_at)) }
                        td { (crate::web::words::movement(lang, &l.kind)) }
                        td { (if l.amount > 0 { "+" } else { "" }) (crate::web::number(l.amount)) }
                    }
                }
            }
        }
        form method="post" action=(format!("/m/{slug}/logout")) { button.secondary type="submit" { (t(lang, "sign_out")) } }
    };
    Ok((
        jar,
        page(lang, &shop.name, &slug, t(lang, "m_home"), true, body),
    )
        .into_response())
}
