//! Collecting the points of a bill from the claim QR printed on it.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use maud::html;

use super::*;
use crate::audit::RequestMeta;
use crate::earning::claims::ClaimError;
use crate::state::AppState;
use crate::web::t;

/// `GET /m/{shop}/claim/{token}`: the bill a claim QR is for, and a button to collect it.
pub async fn show_claim(
    shop: MemberShop,
    State(app): State<AppState>,
    Path((slug, token)): Path<(String, String)>,
    jar: CookieJar,
    Query(q): Query<LangQuery>,
) -> Result<Response, PageError> {
    let lang = lang_of(&q, &jar);
    let here = format!("/m/{slug}/claim/{token}");
    let Some(s) = session(&app, &jar, &shop).await? else {
        return Ok(Redirect::to(&format!("/m/{slug}/login?next={here}")).into_response());
    };
    let claim = read(crate::earning::claims::find(&app.db, shop.id, &token).await)?;
    let body = match claim {
        None => html! { p.error role="alert" { (t(lang, "m_claim_unknown")) } },
        Some(c) if c.open_to(s.member_id, crate::store::now_micros()).is_err() => {
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
    Ok((
        jar.add(lang_cookie(lang)),
        page(lang, &shop.name, &slug, t(lang, "m_claim"), true, body),
    )
        .into_response())
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
) -> Result<Response, PageError> {
    check_csrf(&s, lang, &form.csrf)?;
    let body = match crate::earning::claims::collect(&app.db, shop.id, &token, s.member_id, &meta)
        .await
    {
        Ok(o) => html! {
            section.card #m-claimed role="status" {
                p.ok { (t(lang, "granted")) ": " span #m-claimed-points { (crate::web::number(o.points)) } " " (t(lang, "points")) }
                p { (t(lang, "new_balance")) ": " strong { (crate::web::number(o.balance.unwrap_or(0))) } }
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
    Ok(page(lang, &shop.name, &slug, t(lang, "m_claim"), true, body).into_response())
}
