//! Lucky draws on the member page: the open draws, the member's entries, buying more.

use axum::Form;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use maud::html;
use serde::Deserialize;

use super::*;
use crate::audit::RequestMeta;
use crate::state::AppState;
use crate::web::{field_error, t};

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
) -> Result<Response, PageError> {
    let rows = read(crate::draws::store::list(&app.db, shop.id, i64::MAX, 50).await)?;
    let now = app.clock.now();
    let mut cards = vec![];
    for r in rows {
        let spec = read(serde_json::from_str::<crate::draws::DrawSpec>(&r.spec))?;
        let mine = read(
            crate::draws::store::member_entry_count(&app.db, shop.id, r.id, s.member_id).await,
        )?;
        let open = spec.takes_entries(r.drawn_at.is_some(), now);
        cards.push(html! {
            section.card.draw id=(format!("draw-{}", r.id)) {
                p.big { (spec.name) }
                p { (crate::web::number(spec.entry_cost)) " " (t(lang, "points")) " / " (t(lang, "d_entry")) " · " (t(lang, "d_mine")) ": " strong.mine { (crate::web::number(mine)) } }
                p.muted { (t(lang, "d_seed_hash")) ": " code { (r.seed_hash[..16].to_string()) "…" } " · " a href=(format!("/api/v1/public/{slug}/draws/{}/proof", r.id)) { (t(lang, "d_proof")) } }
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
    Ok((
        jar.add(lang_cookie(lang)),
        page(lang, &shop.name, &slug, t(lang, "a_draws"), true, body),
    )
        .into_response())
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
) -> Result<Response, PageError> {
    check_csrf(&s, lang, &form.csrf)?;
    let draw_id = draw.parse::<i64>().map_err(|_| PageError::NotFound)?;
    let member = found(crate::members::store::get(&app.db, shop.id, s.member_id).await)?;
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
        let title = t(lang, "a_draws");
        return Ok(send_spend_code(
            &app, &shop, &member, &meta.ip, lang, &slug, title, code_form,
        )
        .await);
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
    Ok(
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
            Err(crate::draws::DrawError::Otp(e)) if e.asks_again() => {
                let body = code_form(challenge, Some(otp_error(lang, e)));
                ask_code_again(lang, &shop, &slug, t(lang, "a_draws"), body)
            }
            Err(e) => spend_refused(lang, &shop.name, &slug, t(lang, "a_draws"), e.into()),
        },
    )
}
