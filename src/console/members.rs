//! The members' screens of the console: finding a member, the customer 360 page, and
//! what staff do to a member there. Reads take the API handlers' typed answers; every
//! change goes through the API's own handler after a confirmation step that says what
//! will happen, so a page allows and refuses exactly what the API does.

use std::collections::HashMap;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use maud::{Markup, html};

use super::ctx;
use crate::audit::RequestMeta;
use crate::auth::{Permission, Principal};
use crate::earning::{LineRefund, RecordedLine};
use crate::error::ApiError;
use crate::http::json::JsonBody;
use crate::http::query::{PathId, QueryParams};
use crate::members::api::Member360;
use crate::state::AppState;
use crate::tenants::model::Language;
use crate::web::words;
use crate::web::{
    PageSession, baht, csrf_ok, field_error, language, local_date, local_date_time, localise_error,
    number, page_language, phone_for_people, refuse, staff_layout, t,
};

type Fields = HashMap<String, String>;

fn page(lang: Language, title: &str, p: &Principal, body: Markup) -> Response {
    Html(staff_layout(lang, title, p, body).into_string()).into_response()
}

/// `GET /admin/members?q=&tag=&phone=`: search and filter members.
pub async fn members(
    State(app): State<AppState>,
    PageSession(p): PageSession,
    meta: RequestMeta,
    jar: CookieJar,
    Query(q): Query<Fields>,
) -> Response {
    let lang = page_language(q.get("lang").map(String::as_str), &jar);
    if !p.allows(Permission::MembersRead) {
        return refuse(lang);
    }
    let get = |k: &str| q.get(k).filter(|v| !v.trim().is_empty()).cloned();
    let query = crate::members::api::MemberQuery {
        phone: get("phone"),
        q: get("q"),
        tag: get("tag"),
        limit: Some(50),
        cursor: get("cursor"),
    };
    // The members who asked to be erased, the soonest due first, with their names.
    let mut asked = vec![];
    let requests = match crate::members::self_service::open_erasures(&app.db, p.tenant_id).await {
        Ok(r) => r,
        Err(e) => return crate::web::server_error(lang, e),
    };
    for r in requests.into_iter().take(20) {
        match crate::members::store::get(&app.db, p.tenant_id, r.member_id).await {
            Ok(Some(m)) => asked.push((r, format!("{} {}", m.first_name, m.last_name))),
            Ok(None) => {}
            Err(e) => return crate::web::server_error(lang, e),
        }
    }
    let tz = match crate::tenants::time_zone(&app.db, p.tenant_id).await {
        Ok(tz) => tz,
        Err(e) => return crate::web::server_error(lang, e),
    };
    let found =
        crate::members::api::list_members(State(app), ctx(&p, meta), QueryParams(query)).await;
    let body = html! {
        @if !asked.is_empty() {
            section.card #erasure-requests {
                h2 { (t(lang, "mm_erasure_requests")) }
                ul { @for (r, name) in &asked {
                    li { a href=(format!("/admin/members/{}", r.member_id)) { (name) } " · " (t(lang, "mm_erasure_due")) " " strong { (local_date(lang, r.due_at, &tz)) } }
                } }
            }
        }
        form.filters method="get" action="/admin/members" role="search" {
            div { label for="q" { (t(lang, "a_search")) } input #q name="q" value=(get("q").unwrap_or_default()); }
            div { label for="phone" { (t(lang, "phone")) } input #phone name="phone" type="tel" value=(get("phone").unwrap_or_default()); }
            div { label for="tag" { (t(lang, "a_tag")) } input #tag name="tag" value=(get("tag").unwrap_or_default()); }
            button type="submit" { (t(lang, "find")) }
        }
        @match found {
            Err(e) => p.error role="alert" { (localise_error(lang, &e)) },
            Ok(page) if page.0.items.is_empty() => p.empty #no-members { (t(lang, "mm_none_found")) " " a href="/admin/import" { (t(lang, "a_import")) } },
            Ok(page) => {
                div.table-wrap { table #members {
                    thead { tr {
                        th scope="col" { (t(lang, "mm_name")) }
                        th scope="col" { (t(lang, "phone")) }
                        th scope="col" { (t(lang, "a_tag")) }
                        th scope="col" { (t(lang, "status")) }
                    } }
                    tbody { @for m in &page.0.items { tr {
                        td { a href=(format!("/admin/members/{}", m.id)) { (m.first_name) " " (m.last_name) } }
                        td { (phone_for_people(&m.phone)) }
                        td { (m.tags.join(", ")) }
                        td { (words::member_status(lang, &m.status)) }
                    } } }
                } }
                @if let Some(c) = &page.0.next_cursor { p { a #more-members href=(next_page(&q, c)) { (t(lang, "a_more")) } } }
            }
        }
        p { a href="/admin/import" { (t(lang, "a_import")) } }
    };
    page(lang, t(lang, "a_members"), &p, body)
}

/// The next page of the same search: the filters kept, the cursor replaced.
fn next_page(q: &Fields, cursor: &str) -> String {
    let encode = |v: &str| {
        percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    let mut parts: Vec<String> = ["q", "phone", "tag"]
        .into_iter()
        .filter_map(|k| {
            q.get(k)
                .filter(|v| !v.trim().is_empty())
                .map(|v| format!("{k}={}", encode(v)))
        })
        .collect();
    parts.push(format!("cursor={}", encode(cursor)));
    format!("/admin/members?{}", parts.join("&"))
}

/// `GET /admin/members/{id}`: the customer 360 page.
pub async fn member(
    State(app): State<AppState>,
    PageSession(p): PageSession,
    meta: RequestMeta,
    jar: CookieJar,
    Path(id): Path<i64>,
    Query(q): Query<Fields>,
) -> Response {
    let lang = page_language(q.get("lang").map(String::as_str), &jar);
    if !p.allows(Permission::MembersRead) {
        return refuse(lang);
    }
    // Back from the profile form, saved.
    let panel = q
        .contains_key("saved")
        .then(|| Panel::Done(t(lang, "mm_saved").to_string()));
    member_page(&app, &p, meta, lang, id, panel, StatusCode::OK).await
}

/// The points typed in the adjust form, as a whole number (`1,000` and `-20` read).
fn typed_points(f: &Fields) -> Option<i64> {
    f.get("points")?.trim().replace(',', "").parse().ok()
}

/// What the action panel shows: the forms, a confirmation, or an answer.
enum Panel {
    /// Confirm this action (the form's fields are carried along). A refund of a bill
    /// recorded with lines lists them, to refund some of them or the whole bill.
    Confirm {
        action: String,
        fields: Fields,
        lines: Vec<RecordedLine>,
        /// The duplicate profile a merge would fold into this member.
        duplicate: Option<Box<Member360>>,
    },
    /// An action was refused: the error, next to its field.
    Refused {
        action: String,
        fields: Fields,
        error: ApiError,
    },
    /// An action was done.
    Done(String),
}

async fn member_page(
    app: &AppState,
    p: &Principal,
    meta: RequestMeta,
    lang: Language,
    id: i64,
    panel: Option<Panel>,
    status: StatusCode,
) -> Response {
    let view =
        crate::members::api::member_360(State(app.clone()), ctx(p, meta.clone()), PathId(id)).await;
    let v = match view {
        Ok(v) => v.0,
        Err(e) => {
            let body = html! { p.error role="alert" { (localise_error(lang, &e)) } };
            return (e.code.status(), page(lang, t(lang, "member"), p, body)).into_response();
        }
    };
    let tz = match crate::tenants::time_zone(&app.db, p.tenant_id).await {
        Ok(tz) => tz,
        Err(e) => return crate::web::server_error(lang, e),
    };
    // Every branch, closed ones too: history names where a purchase was made.
    let listing = crate::http::query::PageParams {
        limit: Some(crate::http::query::MAX_PAGE_SIZE),
        cursor: None,
    };
    let branches = match crate::tenants::api::list_branches(
        State(app.clone()),
        ctx(p, meta.clone()),
        QueryParams(listing),
    )
    .await
    {
        Ok(listed) => listed.0.items,
        Err(e) => return crate::web::server_error(lang, e.message),
    };
    let branch = |id: Option<i64>| {
        id.and_then(|id| branches.iter().find(|b| b.id == id))
            .map(|b| b.name.clone())
            .unwrap_or_default()
    };
    let m = &v.member;
    let name = format!("{} {}", m.first_name, m.last_name)
        .trim()
        .to_string();
    let consent_history = match crate::members::consent::history(&app.db, p.tenant_id, id).await {
        Ok(h) => h,
        Err(e) => return crate::web::server_error(lang, e),
    };
    let (notice, forms) = actions(lang, p, &v, &name, panel);
    let may_refund = p.allows(Permission::PointsEarn) && m.status != "erased";
    let body = html! {
        (notice)
        @if let Some(r) = &v.erasure_request {
            p.error #erasure-asked role="status" {
                (t(lang, "mm_erasure_asked")) " " (local_date(lang, r.requested_at, &tz))
                " · " (t(lang, "mm_erasure_due")) " " strong { (local_date(lang, r.due_at, &tz)) }
            }
        }
        div.columns {
            section.card #profile aria-label=(t(lang, "mm_profile")) {
                dl {
                    dt { (t(lang, "phone")) } dd #m-phone { (phone_for_people(&m.phone)) }
                    @if let Some(email) = &m.email { dt { (t(lang, "email")) } dd { (email) } }
                    @if let Some(b) = &m.birthday { dt { (t(lang, "mm_birthday")) } dd { (words::birthday(lang, b)) } }
                    dt { (t(lang, "mm_gender")) } dd { (words::gender(lang, &m.gender)) }
                    @if !m.tags.is_empty() { dt { (t(lang, "a_tag")) } dd { (m.tags.join(", ")) } }
                    @if let Some(masked) = &m.national_id_masked { dt { (t(lang, "mm_national_id")) } dd { (masked) } }
                    dt { (t(lang, "status")) } dd #m-status { (words::member_status(lang, &m.status)) }
                }
                @if p.allows(Permission::MembersWrite) && m.status != "erased" {
                    a.button.secondary #edit-profile href=(format!("/admin/members/{}/edit", m.id)) { (t(lang, "mp_edit")) }
                }
            }
            section.card #balances aria-label=(t(lang, "balance")) {
                p { (t(lang, "balance")) } p.big #a-balance { (number(v.points.balance)) }
                dl {
                    dt { (t(lang, "mm_available")) } dd { (number(v.points.available)) }
                    @if v.points.pending > 0 { dt { (t(lang, "mm_pending")) } dd { (number(v.points.pending)) } }
                    @if v.points.debt > 0 { dt { (t(lang, "mm_debt")) } dd { (number(v.points.debt)) } }
                    dt { (t(lang, "m_expiring_30")) } dd { (number(v.points.expiring_30_days)) }
                    @if let Some(at) = v.points.next_expiry { dt { (t(lang, "mm_next_expiry")) } dd { (number(v.points.next_expiry_points)) " · " (local_date(lang, at, &tz)) } }
                    dt { (t(lang, "m_stamps")) } dd { (number(v.stamps.balance)) }
                    @if let Some(level) = &v.tier.level {
                        dt { (t(lang, "tier")) } dd { strong { (if lang == Language::En { level.name_en.clone().unwrap_or(level.name.clone()) } else { level.name.clone() }) } }
                    }
                }
            }
        }
        (forms)
        h2 { (t(lang, "m_history")) }
        @if v.recent_ledger.is_empty() {
            p.empty { (t(lang, "mm_no_history")) }
        } @else {
            div.table-wrap { table #history {
                thead { tr {
                    th scope="col" { (t(lang, "mm_when")) }
                    th scope="col" { (t(lang, "mm_what")) }
                    th.num scope="col" { (t(lang, "points")) }
                    th.num scope="col" { (t(lang, "mm_bill")) }
                    th scope="col" { (t(lang, "mm_receipt")) }
                    th scope="col" { (t(lang, "branch")) }
                    th scope="col" { (t(lang, "mm_reason")) }
                    @if may_refund { th scope="col" { (t(lang, "mm_refund")) } }
                } }
                tbody { @for l in &v.recent_ledger { tr {
                    td { (local_date_time(lang, l.occurred_at, &tz)) }
                    td { (words::movement(lang, &l.kind)) @if l.currency == "stamps" { " (" (t(lang, "m_stamps")) ")" } }
                    td.num { @if l.amount > 0 { "+" } (number(l.amount)) }
                    td.num { @if let Some(b) = l.bill_satang { (baht(b)) } }
                    td { (l.receipt.clone().unwrap_or_default()) }
                    td { (branch(l.branch_id)) }
                    td { (l.reason.clone().unwrap_or_default()) }
                    @if may_refund {
                        td { @if let (true, Some(receipt)) = (l.kind == "earn", &l.receipt) {
                            form.refund method="post" action=(format!("/admin/members/{}/actions", m.id)) {
                                input type="hidden" name="_csrf" value=(p.csrf_token.clone().unwrap_or_default());
                                input type="hidden" name="action" value="refund";
                                input type="hidden" name="receipt" value=(receipt);
                                label.visually-hidden for=(format!("refund-{}", l.id)) { (t(lang, "mm_refund_amount")) }
                                input id=(format!("refund-{}", l.id)) name="amount" inputmode="decimal" size="8" placeholder=(t(lang, "mm_refund_all_short"));
                                button.secondary type="submit" { (t(lang, "mm_refund")) }
                            }
                        } }
                    }
                } } }
            } }
        }
        h2 { (t(lang, "mm_redemptions")) }
        @if v.redemptions.is_empty() {
            p.empty { (t(lang, "mm_no_redemptions")) }
        } @else {
            div.table-wrap { table #redemptions {
                thead { tr {
                    th scope="col" { (t(lang, "mm_when")) }
                    th scope="col" { (t(lang, "mm_reward")) }
                    th.num scope="col" { (t(lang, "points")) }
                    th scope="col" { (t(lang, "status")) }
                    th scope="col" { (t(lang, "mm_code")) }
                } }
                tbody { @for r in &v.redemptions { tr {
                    td { (local_date_time(lang, crate::types::timestamp(r.created_at), &tz)) }
                    td { (r.reward_name) }
                    td.num { (number(r.points)) }
                    td { (words::redemption_status(lang, &r.status)) }
                    td { (r.coupon_code.clone().or(r.digital_code.clone()).unwrap_or_default()) }
                } } }
            } }
        }
        h2 { (t(lang, "a_consents")) }
        @if v.consents.is_empty() {
            p.empty { (t(lang, "mm_no_consents")) }
        } @else {
            div.table-wrap { table #consents {
                thead { tr {
                    th scope="col" { (t(lang, "mm_purpose")) }
                    th scope="col" { (t(lang, "mm_given")) }
                    th scope="col" { (t(lang, "mm_when")) }
                } }
                tbody { @for c in &v.consents { tr {
                    td { (words::consent_purpose(lang, &c.purpose)) @if let Some(ver) = c.version { " (" (t(lang, "mm_version")) " " (ver) ")" } }
                    td { (if c.granted { t(lang, "mm_yes") } else { t(lang, "mm_no") }) }
                    td { (local_date_time(lang, c.at, &tz)) }
                } } }
            } }
            // Every consent given and withdrawn, newest first, and where.
            details #consent-history {
                summary { (t(lang, "mm_consent_history")) }
                div.table-wrap { table {
                    thead { tr {
                        th scope="col" { (t(lang, "mm_when")) }
                        th scope="col" { (t(lang, "mm_purpose")) }
                        th scope="col" { (t(lang, "mm_given")) }
                        th scope="col" { (t(lang, "mm_where")) }
                    } }
                    tbody { @for c in consent_history.iter().rev() { tr {
                        td { (local_date_time(lang, c.at, &tz)) }
                        td { (words::consent_purpose(lang, &c.purpose)) @if let Some(ver) = c.version { " (" (t(lang, "mm_version")) " " (ver) ")" } }
                        td { (if c.granted { t(lang, "mm_yes") } else { t(lang, "mm_no") }) }
                        td { (words::consent_channel(lang, &c.channel)) }
                    } } }
                } }
            }
        }
    };
    (status, page(lang, &name, p, body)).into_response()
}

/// The actions: what shows at the top (a confirmation, what was done, why it was
/// refused) and the forms the person may use (none while a confirmation is asked).
fn actions(
    lang: Language,
    p: &Principal,
    v: &Member360,
    name: &str,
    panel: Option<Panel>,
) -> (Markup, Markup) {
    let id = v.member.id;
    let csrf = p.csrf_token.clone().unwrap_or_default();
    let action_url = format!("/admin/members/{id}/actions");
    let erased = v.member.status == "erased";
    let (done, refused, confirming) = match panel {
        Some(Panel::Done(what)) => (Some(what), None, None),
        Some(Panel::Refused {
            action,
            fields,
            error,
        }) => (None, Some((action, fields, error)), None),
        Some(Panel::Confirm {
            action,
            fields,
            lines,
            duplicate,
        }) => (None, None, Some((action, fields, lines, duplicate))),
        None => (None, None, None),
    };
    if let Some((action, fields, lines, duplicate)) = confirming {
        let get = |k: &str| fields.get(k).cloned().unwrap_or_default();
        let question = match action.as_str() {
            "adjust" => {
                let points = typed_points(&fields).unwrap_or(0);
                let after = v.points.balance.saturating_add(points);
                html! {
                    p.big { @if points > 0 { "+" } (number(points)) " " (t(lang, "points")) }
                    p { (name) ": " (number(v.points.balance)) " → " strong #balance-after { (number(after)) } }
                    p.muted { (t(lang, "mm_reason")) ": " (get("reason")) }
                }
            }
            "refund" if !lines.is_empty() => html! {
                p.big { (t(lang, "mm_receipt")) " " (get("receipt")) }
                p { (t(lang, "mm_refund_pick")) }
                div.table-wrap { table #refund-lines {
                    thead { tr {
                        th scope="col" { (t(lang, "mm_item")) }
                        th.num scope="col" { (t(lang, "mm_unit_price")) }
                        th.num scope="col" { (t(lang, "mm_bought")) }
                        th.num scope="col" { (t(lang, "points")) }
                        th.num scope="col" { (t(lang, "mm_refund_quantity")) }
                    } }
                    tbody { @for (i, l) in lines.iter().enumerate() { tr {
                        td { (l.label()) }
                        td.num { (baht(l.unit_price_satang)) }
                        td.num { (number(l.quantity)) @if l.refunded_quantity > 0 { " (" (t(lang, "mm_refunded_before")) " " (number(l.refunded_quantity)) ")" } }
                        td.num { (number(l.points)) }
                        td.num {
                            @let left = l.quantity - l.refunded_quantity;
                            label.visually-hidden for=(format!("q{i}")) { (t(lang, "mm_refund_quantity")) " " (l.label()) }
                            @if left > 0 {
                                input id=(format!("q{i}")) form="confirm-form" name=(format!("q{i}")) type="number" min="0" max=(left) value="0" inputmode="numeric" size="4";
                            } @else { "—" }
                        }
                    } } }
                } }
                p.muted { (t(lang, "mm_refund_lines_explained")) }
            },
            "refund" => html! {
                p.big { (t(lang, "mm_receipt")) " " (get("receipt")) }
                @match get("amount").trim() {
                    "" => p #refund-what { (t(lang, "mm_refund_all")) },
                    typed => p #refund-what { (t(lang, "mm_refund_amount")) " " strong { (typed) " " (t(lang, "baht")) } },
                }
                p.muted { (t(lang, "mm_refund_explained")) }
            },
            "merge" => match &duplicate {
                Some(d) => merge_question(lang, v, d),
                None => html! {},
            },
            "block" => html! { p { (t(lang, "mm_block_explained")) } },
            "unblock" => html! { p { (t(lang, "mm_unblock_explained")) } },
            _ => html! {
                p { (t(lang, "mm_erase_removed")) }
                p { strong { (t(lang, "mm_erase_kept")) } }
            },
        };
        let confirm = html! {
            section.card.confirm #confirm-panel aria-labelledby="confirm-title" {
                h2 #confirm-title { (t(lang, "mm_confirm_title")) }
                (question)
                form #confirm-form method="post" action=(action_url) {
                    input type="hidden" name="_csrf" value=(csrf);
                    input type="hidden" name="action" value=(action);
                    input type="hidden" name="step" value="confirm";
                    @for k in ["points", "reason", "nonce", "receipt", "amount", "other"] { input type="hidden" name=(k) value=(get(k)); }
                    div.row {
                        @if !lines.is_empty() {
                            button #refund-chosen type="submit" name="how" value="lines" { (t(lang, "mm_refund_chosen")) }
                            button.secondary #confirm-action type="submit" name="how" value="all" { (t(lang, "mm_refund_whole")) }
                        } @else {
                            button #confirm-action type="submit" { (t(lang, "mm_confirm")) }
                        }
                        a.button.secondary href=(format!("/admin/members/{id}")) { (t(lang, "mm_cancel")) }
                    }
                }
            }
        };
        return (confirm, html! {});
    }
    let refused_on = |a: &str| refused.as_ref().filter(|r| r.0 == a);
    let typed = |a: &str, k: &str| {
        refused_on(a)
            .and_then(|r| r.1.get(k).cloned())
            .unwrap_or_default()
    };
    // An error shows under its field; one that names none, under the form's first.
    let error_on = |a: &str, field: &str, first: bool| {
        refused_on(a)
            .filter(|r| match r.2.field.as_deref() {
                Some(f) => f == field,
                None => first,
            })
            .map(|r| localise_error(lang, &r.2))
    };
    let notice = html! {
        @if let Some(what) = &done { p.ok #action-done role="status" { (what) } }
        @if let Some((_, _, error)) = &refused { p.error #action-refused role="alert" { (localise_error(lang, error)) } }
    };
    let forms = html! {
        @if !erased {
            div.columns {
                @if p.allows(Permission::PointsAdjust) {
                    section.card #adjust aria-labelledby="adjust-title" {
                        h2 #adjust-title { (t(lang, "mm_adjust")) }
                        form method="post" action=(action_url) {
                            input type="hidden" name="_csrf" value=(csrf);
                            input type="hidden" name="action" value="adjust";
                            label for="points" { (t(lang, "mm_adjust_points")) }
                            input #points name="points" inputmode="numeric" required value=(typed("adjust", "points"))
                                aria-describedby="points-error";
                            (field_error("points", error_on("adjust", "points", true).as_deref()))
                            label for="reason" { (t(lang, "mm_reason")) }
                            input #reason name="reason" required maxlength="200" value=(typed("adjust", "reason"))
                                aria-describedby="reason-error";
                            (field_error("reason", error_on("adjust", "reason", false).as_deref()))
                            button #adjust-next type="submit" { (t(lang, "mm_next")) }
                        }
                        p.muted { a href="/admin/points/adjust" { (t(lang, "pa_title")) } }
                    }
                }
                @if p.allows(Permission::PointsAdjust) {
                    section.card #merge aria-labelledby="merge-title" {
                        h2 #merge-title { (t(lang, "mm_merge")) }
                        form method="post" action=(action_url) {
                            input type="hidden" name="_csrf" value=(csrf);
                            input type="hidden" name="action" value="merge";
                            label for="dup_phone" { (t(lang, "mm_merge_phone")) }
                            input #dup_phone name="dup_phone" inputmode="tel" required value=(typed("merge", "dup_phone"))
                                aria-describedby="dup_phone-note dup_phone-error";
                            p.muted #dup_phone-note { (t(lang, "mm_merge_explained")) }
                            (field_error("dup_phone", error_on("merge", "dup_phone", true).as_deref()))
                            button.secondary #merge-next type="submit" { (t(lang, "mm_next")) }
                        }
                    }
                }
                @if p.allows(Permission::MembersWrite) {
                    section.card #block aria-labelledby="block-title" {
                        h2 #block-title { (t(lang, "mm_access")) }
                        @let blocked = v.member.status == "blocked";
                        form method="post" action=(action_url) {
                            input type="hidden" name="_csrf" value=(csrf);
                            input type="hidden" name="action" value=(if blocked { "unblock" } else { "block" });
                            p.muted { (if blocked { t(lang, "mm_unblock_explained") } else { t(lang, "mm_block_explained") }) }
                            (field_error("block", error_on(if blocked { "unblock" } else { "block" }, "status", true).as_deref()))
                            button.secondary #block-next type="submit" { (if blocked { t(lang, "mm_unblock") } else { t(lang, "mm_block") }) }
                        }
                    }
                }
                @if p.allows(Permission::MembersSensitive) {
                    section.card #privacy aria-labelledby="privacy-title" {
                        h2 #privacy-title { (t(lang, "mm_privacy")) }
                        p { a.button #export href=(format!("/admin/members/{id}/export")) download { (t(lang, "mm_export")) } }
                        form method="post" action=(action_url) {
                            input type="hidden" name="_csrf" value=(csrf);
                            input type="hidden" name="action" value="erase";
                            (field_error("erase", error_on("erase", "", true).as_deref()))
                            button.danger #erase-next type="submit" { (t(lang, "mm_erase")) }
                        }
                    }
                }
            }
        }
    };
    (notice, forms)
}

/// `POST /admin/members/{id}/actions`: adjust points, block, unblock or erase; the first
/// post asks to confirm, the second (`step=confirm`) does it through the API's handler.
pub async fn member_action(
    State(app): State<AppState>,
    PageSession(p): PageSession,
    meta: RequestMeta,
    jar: CookieJar,
    Path(id): Path<i64>,
    Form(mut f): Form<Fields>,
) -> Response {
    let lang = language(None, &jar);
    let action = f.get("action").cloned().unwrap_or_default();
    let permission = match action.as_str() {
        "adjust" | "merge" => Permission::PointsAdjust,
        "refund" => Permission::PointsEarn,
        "block" | "unblock" => Permission::MembersWrite,
        "erase" => Permission::MembersSensitive,
        _ => return Redirect::to(&format!("/admin/members/{id}")).into_response(),
    };
    if !p.allows(permission) || !csrf_ok(&p, f.get("_csrf").map(String::as_str).unwrap_or_default())
    {
        return refuse(lang);
    }
    if f.get("step").map(String::as_str) != Some("confirm") {
        // What cannot be read is refused before a confirmation that would show it wrong.
        let bad_refund = action == "refund"
            && f.get("amount").is_some_and(|a| {
                !a.trim().is_empty() && crate::web::parse_baht(a).is_none_or(|s| s <= 0)
            });
        if bad_refund {
            let error = ApiError::invalid("amount", t(lang, "bad_amount"));
            let status = error.code.status();
            let panel = Panel::Refused {
                action,
                fields: f,
                error,
            };
            return member_page(&app, &p, meta, lang, id, Some(panel), status).await;
        }
        if action == "adjust" && typed_points(&f).is_none() {
            let error = ApiError::invalid("points", t(lang, "mm_whole_points"));
            let status = error.code.status();
            let panel = Panel::Refused {
                action,
                fields: f,
                error,
            };
            return member_page(&app, &p, meta, lang, id, Some(panel), status).await;
        }
        // A bill recorded with lines is refunded by line, or whole.
        let lines = match refundable_lines(&app, &p, &action, &f).await {
            Ok(lines) => lines,
            Err(e) => return crate::web::server_error(lang, e),
        };
        // A merge shows both profiles and what the merge leaves.
        let duplicate = if action == "merge" {
            match duplicate_of(&app, &p, &meta, lang, id, &f).await {
                Ok(d) => {
                    f.insert("other".into(), d.member.id.to_string());
                    Some(Box::new(d))
                }
                Err(error) => {
                    let status = error.code.status();
                    let panel = Panel::Refused {
                        action,
                        fields: f,
                        error,
                    };
                    return member_page(&app, &p, meta, lang, id, Some(panel), status).await;
                }
            }
        } else {
            None
        };
        // The key the confirmed adjustment is posted with: confirming twice posts once.
        f.insert("nonce".into(), crate::auth::secrets::random_token());
        let panel = Panel::Confirm {
            action,
            fields: f,
            lines,
            duplicate,
        };
        return member_page(&app, &p, meta, lang, id, Some(panel), StatusCode::OK).await;
    }
    let c = ctx(&p, meta.clone());
    let state = State(app.clone());
    let done = match action.as_str() {
        "adjust" => {
            let nonce = f.get("nonce").filter(|n| n.len() >= 16);
            match (typed_points(&f), nonce) {
                (None, _) => Err(ApiError::invalid("points", t(lang, "mm_whole_points"))),
                // A confirmation the page did not make: ask again.
                (Some(_), None) => {
                    return Redirect::to(&format!("/admin/members/{id}")).into_response();
                }
                (Some(points), Some(nonce)) => {
                    let mut headers = HeaderMap::new();
                    if let Ok(v) = HeaderValue::from_str(&format!("page-adjust:{nonce}")) {
                        headers.insert("idempotency-key", v);
                    }
                    let req = crate::ledger::api::AdjustRequest {
                        points,
                        reason: f.get("reason").cloned().unwrap_or_default(),
                        currency: Default::default(),
                    };
                    crate::ledger::api::adjust_points(state, c, PathId(id), headers, JsonBody(req))
                        .await
                        .map(|_| t(lang, "mm_adjusted").to_string())
                }
            }
        }
        "refund" => {
            let Some(nonce) = f.get("nonce").filter(|n| n.len() >= 16) else {
                return Redirect::to(&format!("/admin/members/{id}")).into_response();
            };
            let amount = f.get("amount").map(|a| a.trim()).filter(|a| !a.is_empty());
            let lines = chosen_lines(&f);
            let by_line = f.get("how").map(String::as_str) == Some("lines");
            if by_line && lines.is_empty() {
                Err(ApiError::invalid("lines", t(lang, "mm_refund_none_chosen")))
            } else {
                let req = crate::earning::api::RefundRequest {
                    receipt: f.get("receipt").cloned().unwrap_or_default(),
                    // Confirming twice refunds once.
                    refund_id: format!("page-{}", &nonce[..16]),
                    amount_satang: amount.and_then(crate::web::parse_baht),
                    lines: if by_line { lines } else { vec![] },
                };
                crate::earning::api::refund_purchase(state, c, JsonBody(req))
                    .await
                    .map(|_| t(lang, "mm_refunded").to_string())
                    .map_err(|e| match e.field.as_deref() {
                        // A quantity past what is left, in the page's words.
                        Some(f) if f.starts_with("lines[") => {
                            ApiError::invalid("lines", t(lang, "mm_refund_bad_quantity"))
                        }
                        _ => e,
                    })
            }
        }
        "merge" => {
            let Some(other) = f.get("other").and_then(|o| o.parse().ok()) else {
                return Redirect::to(&format!("/admin/members/{id}")).into_response();
            };
            let req = crate::members::api::MergeRequest {
                other_member_id: other,
            };
            crate::members::api::merge_members(state, c, PathId(id), JsonBody(req))
                .await
                .map(|_| t(lang, "mm_merged").to_string())
                .map_err(|e| match e.code {
                    // Confirmed twice, or merged elsewhere meanwhile.
                    crate::error::Code::AlreadyExists | crate::error::Code::WrongState => {
                        ApiError::new(e.code, t(lang, "mm_merge_gone"))
                    }
                    _ => e,
                })
        }
        "block" | "unblock" => {
            let status = if action == "block" {
                "blocked"
            } else {
                "active"
            };
            let fields = crate::members::api::MemberFields {
                status: Some(status.into()),
                ..Default::default()
            };
            crate::members::api::update_member(state, c, PathId(id), JsonBody(fields))
                .await
                .map(|_| t(lang, "mm_saved").to_string())
        }
        _ => crate::members::privacy::erase_member(state, c, PathId(id))
            .await
            .map(|_| t(lang, "mm_erased").to_string()),
    };
    match done {
        Ok(what) => {
            member_page(
                &app,
                &p,
                meta,
                lang,
                id,
                Some(Panel::Done(what)),
                StatusCode::OK,
            )
            .await
        }
        Err(error) => {
            let status = error.code.status();
            let panel = Panel::Refused {
                action,
                fields: f,
                error,
            };
            member_page(&app, &p, meta, lang, id, Some(panel), status).await
        }
    }
}

/// The duplicate named by the phone typed in the merge form, with its balances; or why
/// it cannot be merged into this member, in the page's words.
async fn duplicate_of(
    app: &AppState,
    p: &Principal,
    meta: &RequestMeta,
    lang: Language,
    id: i64,
    f: &Fields,
) -> Result<Member360, ApiError> {
    let typed = f.get("dup_phone").map(String::as_str).unwrap_or_default();
    let phone = crate::members::model::Phone::parse(typed)
        .map_err(|_| ApiError::invalid("dup_phone", t(lang, "bad_phone")))?;
    let found = crate::members::store::find_by_phone(&app.db, p.tenant_id, &phone)
        .await
        .map_err(ApiError::from)?
        .ok_or_else(|| ApiError::invalid("dup_phone", t(lang, "mm_merge_nobody")))?;
    if found.id == id {
        return Err(ApiError::invalid("dup_phone", t(lang, "mm_merge_self")));
    }
    crate::members::api::member_360(State(app.clone()), ctx(p, meta.clone()), PathId(found.id))
        .await
        .map(|v| v.0)
}

/// Both profiles side by side and what the merge leaves.
fn merge_question(lang: Language, v: &Member360, d: &Member360) -> Markup {
    let after = crate::members::merge_preview(
        &v.member,
        (v.points.balance, v.stamps.balance),
        &d.member,
        (d.points.balance, d.stamps.balance),
    );
    let name = |first: &str, last: &str| format!("{first} {last}").trim().to_string();
    let birthday = |b: &Option<String>| {
        b.as_deref()
            .map(|b| words::birthday(lang, b))
            .unwrap_or_default()
    };
    let rows = [
        (
            t(lang, "mm_name"),
            name(&v.member.first_name, &v.member.last_name),
            name(&d.member.first_name, &d.member.last_name),
            name(&after.first_name, &after.last_name),
        ),
        (
            t(lang, "phone"),
            phone_for_people(&v.member.phone),
            phone_for_people(&d.member.phone),
            phone_for_people(&v.member.phone),
        ),
        (
            t(lang, "email"),
            v.member.email.clone().unwrap_or_default(),
            d.member.email.clone().unwrap_or_default(),
            after.email.clone().unwrap_or_default(),
        ),
        (
            t(lang, "mm_birthday"),
            birthday(&v.member.birthday),
            birthday(&d.member.birthday),
            birthday(&after.birthday),
        ),
        (
            t(lang, "points"),
            number(v.points.balance),
            number(d.points.balance),
            number(after.points),
        ),
        (
            t(lang, "m_stamps"),
            number(v.stamps.balance),
            number(d.stamps.balance),
            number(after.stamps),
        ),
        (
            t(lang, "a_tag"),
            v.member.tags.join(", "),
            d.member.tags.join(", "),
            after.tags.join(", "),
        ),
    ];
    html! {
        div.table-wrap { table #merge-preview {
            thead { tr {
                th scope="col" {}
                th scope="col" { (t(lang, "mm_merge_this")) }
                th scope="col" { (t(lang, "mm_merge_duplicate")) }
                th scope="col" { (t(lang, "mm_merge_after")) }
            } }
            tbody { @for (what, this, dup, after) in rows { tr {
                th scope="row" { (what) } td { (this) } td { (dup) } td { strong { (after) } }
            } } }
        } }
        p.muted { (t(lang, "mm_merge_what_moves")) }
    }
}

/// The lines a refund on the page may choose from: those of the bill being refunded in
/// full (no amount typed), when it was recorded with lines and some are left.
async fn refundable_lines(
    app: &AppState,
    p: &Principal,
    action: &str,
    f: &Fields,
) -> sqlx::Result<Vec<RecordedLine>> {
    let typed_amount = f.get("amount").is_some_and(|a| !a.trim().is_empty());
    if action != "refund" || typed_amount {
        return Ok(vec![]);
    }
    let receipt = f.get("receipt").map(String::as_str).unwrap_or_default();
    let purchase =
        crate::earning::store::purchase_by_receipt(&app.db, p.tenant_id, receipt).await?;
    Ok(purchase
        .map(|p| p.items)
        .filter(|items| items.iter().any(|l| l.refunded_quantity < l.quantity))
        .unwrap_or_default())
}

/// The quantities typed per line (`q0`, `q1`, ...), the positive ones.
fn chosen_lines(f: &Fields) -> Vec<LineRefund> {
    let mut lines: Vec<LineRefund> = f
        .iter()
        .filter_map(|(k, v)| {
            let line = k.strip_prefix('q')?.parse().ok()?;
            let quantity: i64 = v.trim().parse().ok().filter(|q| *q > 0)?;
            Some(LineRefund { line, quantity })
        })
        .collect();
    lines.sort_by_key(|l| l.line);
    lines
}

/// `GET /admin/members/{id}/export`: everything held on the member (PDPA access
/// request) as a JSON file, through the API's export (which audits it).
pub async fn export(
    State(app): State<AppState>,
    PageSession(p): PageSession,
    meta: RequestMeta,
    jar: CookieJar,
    Path(id): Path<i64>,
) -> Response {
    let lang = language(None, &jar);
    if !p.allows(Permission::MembersSensitive) {
        return refuse(lang);
    }
    match crate::members::privacy::export_member(State(app), ctx(&p, meta), PathId(id)).await {
        Ok(export) => {
            let body = serde_json::to_vec_pretty(&export.0).unwrap_or_default();
            let file = format!("attachment; filename=\"member-{id}.json\"");
            (
                [
                    (header::CONTENT_TYPE, "application/json".to_string()),
                    (header::CONTENT_DISPOSITION, file),
                ],
                body,
            )
                .into_response()
        }
        Err(e) => {
            let body = html! { p.error role="alert" { (localise_error(lang, &e)) } };
            (e.code.status(), page(lang, t(lang, "member"), &p, body)).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_points_typed_read_the_same_in_the_confirmation_and_the_adjustment() {
        let typed = |v: &str| {
            super::typed_points(
                &[("points".to_string(), v.to_string())]
                    .into_iter()
                    .collect(),
            )
        };
        assert_eq!(typed("1,000"), Some(1_000));
        assert_eq!(typed(" -20 "), Some(-20));
        assert_eq!(typed("abc"), None);
        assert_eq!(typed(""), None);
    }
}
