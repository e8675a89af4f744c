//! Lucky draws on a page: each draw with its dates in the shop's calendar, its entries
//! and status in words, the published fingerprint of its seed and the public proof; a
//! form that schedules a new draw; the button that draws a closed one, and its winners.

use std::collections::HashMap;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum_extra::extract::CookieJar;
use maud::html;

use super::ctx;
use crate::audit::RequestMeta;
use crate::auth::{Permission, Principal};
use crate::draws::DrawSpec;
use crate::error::ApiError;
use crate::http::json::JsonBody;
use crate::http::query::{PageParams, PathId, QueryParams};
use crate::state::AppState;
use crate::tenants::model::Language;
use crate::web::{
    csrf_ok, field_error, language, local_date_time, localise_error, number, refuse, staff_layout,
    t,
};

type Fields = HashMap<String, String>;

fn status_words(lang: Language, status: &str) -> String {
    let key = match status {
        "scheduled" => "dr_scheduled",
        "open" => "dr_open",
        "closed" => "dr_closed",
        "drawn" => "dr_drawn",
        other => return other.to_string(),
    };
    t(lang, key).to_string()
}

/// `GET /admin/draws`.
pub async fn draws(
    State(app): State<AppState>,
    crate::web::PageSession(p): crate::web::PageSession,
    meta: RequestMeta,
    jar: CookieJar,
) -> Response {
    let lang = language(None, &jar);
    if !p.allows(Permission::TenantRead) {
        return refuse(lang);
    }
    draws_page(&app, &p, meta, lang, None, None).await
}

async fn draws_page(
    app: &AppState,
    p: &Principal,
    meta: RequestMeta,
    lang: Language,
    typed: Option<&Fields>,
    outcome: Option<Result<&'static str, ApiError>>,
) -> Response {
    let tz = match crate::tenants::time_zone(&app.db, p.tenant_id).await {
        Ok(tz) => tz,
        Err(e) => return crate::web::server_error(lang, e),
    };
    let page = PageParams {
        limit: Some(100),
        cursor: None,
    };
    let listed =
        crate::draws::api::list_draws(State(app.clone()), ctx(p, meta), QueryParams(page)).await;
    let manage = p.allows(Permission::RewardsManage);
    let csrf = p.csrf_token.clone().unwrap_or_default();
    let refused = outcome.as_ref().and_then(|o| o.as_ref().err());
    let status = refused.map(|e| e.code.status()).unwrap_or(StatusCode::OK);
    let value = |k: &str| typed.and_then(|f| f.get(k).cloned()).unwrap_or_default();
    let input = |name: &'static str, label: &'static str, kind: &'static str| {
        let e = refused
            .filter(|e| e.field.as_deref() == Some(name))
            .map(|e| localise_error(lang, e));
        html! {
            label for=(name) { (t(lang, label)) }
            input id=(name) name=(name) type=(kind) value=(value(name)) aria-describedby=(format!("{name}-error"));
            (field_error(name, e.as_deref()))
        }
    };
    let body = html! {
        @match &outcome {
            Some(Ok(words)) => p.ok #draws-done role="status" { (t(lang, words)) },
            Some(Err(e)) => p.error #draws-refused role="alert" { (localise_error(lang, e)) },
            None => {}
        }
        @match listed {
            Err(e) => p.error role="alert" { (localise_error(lang, &e)) },
            Ok(list) if list.0.items.is_empty() => p.empty #no-draws { (t(lang, "dr_none")) },
            Ok(list) => @for d in &list.0.items {
                section.card.draw id=(format!("draw-{}", d.id)) {
                    h2 { (d.spec.name) }
                    dl {
                        dt { (t(lang, "status")) } dd.draw-status { (status_words(lang, &d.status)) }
                        dt { (t(lang, "dr_opens")) } dd { (local_date_time(lang, d.spec.opens_at, &tz)) }
                        dt { (t(lang, "dr_closes")) } dd { (local_date_time(lang, d.spec.closes_at, &tz)) }
                        dt { (t(lang, "dr_entry_cost")) } dd { (number(d.spec.entry_cost)) " " (t(lang, "points")) }
                        dt { (t(lang, "dr_entries")) } dd { (number(d.entries)) }
                        dt { (t(lang, "dr_prizes")) } dd { (number(d.spec.winners)) }
                    }
                    p.muted { (t(lang, "dr_fingerprint")) " " code.wrap { (d.seed_hash) } " · " a href=(format!("/api/v1/draws/{}/proof", d.id)) { (t(lang, "dr_proof")) } }
                    @if d.status == "closed" && manage {
                        form method="post" action=(format!("/admin/draws/{}", d.id)) {
                            input type="hidden" name="_csrf" value=(csrf);
                            button type="submit" { (t(lang, "a_draw")) }
                        }
                    }
                    @if !d.winners_drawn.is_empty() {
                        h3 { (t(lang, "dr_winners")) }
                        ol { @for w in &d.winners_drawn { li { a href=(format!("/admin/members/{}", w.member_id)) { (t(lang, "member")) " " (w.member_id) } } } }
                    }
                }
            },
        }
        @if manage {
            section.card #new-draw aria-labelledby="new-draw-title" {
                h2 #new-draw-title { (t(lang, "dr_new")) }
                form method="post" action="/admin/draws" {
                    input type="hidden" name="_csrf" value=(csrf);
                    (input("name", "dr_name", "text"))
                    (input("entry_cost", "dr_entry_cost", "text"))
                    (input("winners", "dr_prizes", "text"))
                    (input("max_entries_per_member", "dr_max_entries", "text"))
                    (input("opens_at", "dr_opens", "datetime-local"))
                    (input("closes_at", "dr_closes", "datetime-local"))
                    p.muted { (t(lang, "dr_times_note")) }
                    button #new-draw-save type="submit" { (t(lang, "w_save")) }
                }
            }
        }
    };
    (
        status,
        Html(staff_layout(lang, t(lang, "a_draws"), p, body).into_string()),
    )
        .into_response()
}

/// `POST /admin/draws`: schedule a draw. Times are typed in the shop's time zone.
pub async fn create(
    State(app): State<AppState>,
    crate::web::PageSession(p): crate::web::PageSession,
    meta: RequestMeta,
    jar: CookieJar,
    Form(f): Form<Fields>,
) -> Response {
    let lang = language(None, &jar);
    let get = |k: &str| f.get(k).map(|v| v.trim().to_string()).unwrap_or_default();
    if !p.allows(Permission::RewardsManage) || !csrf_ok(&p, &get("_csrf")) {
        return refuse(lang);
    }
    let tz = match crate::tenants::time_zone(&app.db, p.tenant_id).await {
        Ok(tz) => tz,
        Err(e) => return crate::web::server_error(lang, e),
    };
    let spec = (|| -> Result<DrawSpec, ApiError> {
        let whole = |k: &'static str| {
            get(k)
                .replace(',', "")
                .parse::<i64>()
                .map_err(|_| ApiError::invalid(k, t(lang, "ls_bad_number")))
        };
        let moment = |k: &'static str| {
            get(k)
                .parse::<jiff::civil::DateTime>()
                .and_then(|d| d.to_zoned(tz.clone()))
                .map(|z| z.timestamp())
                .map_err(|_| ApiError::invalid(k, t(lang, "dr_bad_time")))
        };
        Ok(DrawSpec {
            name: get("name"),
            description: String::new(),
            entry_cost: whole("entry_cost")?,
            max_entries_per_member: match get("max_entries_per_member").as_str() {
                "" => None,
                _ => Some(whole("max_entries_per_member")?),
            },
            winners: whole("winners")?,
            opens_at: moment("opens_at")?,
            closes_at: moment("closes_at")?,
        })
    })();
    let made = match spec {
        Ok(spec) => crate::draws::api::create_draw(
            State(app.clone()),
            ctx(&p, meta.clone()),
            JsonBody(spec),
        )
        .await
        .map(|_| ()),
        Err(e) => Err(e),
    };
    match made {
        Ok(()) => draws_page(&app, &p, meta, lang, None, Some(Ok("dr_scheduled_done"))).await,
        Err(e) => draws_page(&app, &p, meta, lang, Some(&f), Some(Err(e))).await,
    }
}

/// `POST /admin/draws/{id}`: make the draw.
pub async fn make(
    State(app): State<AppState>,
    crate::web::PageSession(p): crate::web::PageSession,
    meta: RequestMeta,
    jar: CookieJar,
    Path(id): Path<i64>,
    Form(f): Form<Fields>,
) -> Response {
    let lang = language(None, &jar);
    if !p.allows(Permission::RewardsManage)
        || !csrf_ok(&p, f.get("_csrf").map(String::as_str).unwrap_or_default())
    {
        return refuse(lang);
    }
    let made =
        crate::draws::api::make_draw(State(app.clone()), ctx(&p, meta.clone()), PathId(id)).await;
    match made {
        Ok(_) => draws_page(&app, &p, meta, lang, None, Some(Ok("dr_drawn_done"))).await,
        Err(e) => draws_page(&app, &p, meta, lang, None, Some(Err(e))).await,
    }
}
