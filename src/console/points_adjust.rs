//! Points adjusted for many members at once (`/admin/points/adjust`): the owner uploads a
//! CSV or XLSX file (phone or member id, points, reason), sees every problem by row and
//! column, or what the file will do, and confirms. The checked rows travel to the
//! confirmation signed by the server, so what is posted is exactly what was shown; the
//! posting itself is [`crate::members::bulk_points`].

use std::collections::HashMap;

use axum::Form;
use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum_extra::extract::CookieJar;
use maud::{Markup, html};

use super::page;
use crate::audit::{ActorRef, RequestMeta};
use crate::auth::{Permission, Principal};
use crate::members::bulk_points::{self, Adjustment, PostError, Problem, RowProblem};
use crate::state::AppState;
use crate::tenants::model::Language;
use crate::web::{PageSession, csrf_ok, language, number, refuse, t};

/// Most bytes a file may have.
const MAX_FILE_BYTES: usize = 5 * 1024 * 1024;

fn problem_words(p: Problem) -> &'static str {
    match p {
        Problem::Unreadable => "pa_unreadable",
        Problem::NoMemberColumn => "pa_no_member_column",
        Problem::NoPointsColumn => "pa_no_points_column",
        Problem::NoRows => "pa_no_rows",
        Problem::TooManyRows => "pa_too_many_rows",
        Problem::BadPhone => "bad_phone",
        Problem::BadMemberId => "pa_bad_member_id",
        Problem::NoSuchMember => "mm_merge_nobody",
        Problem::BadPoints => "pa_bad_points",
        Problem::NoReason => "pa_no_reason",
        Problem::ReasonTooLong => "pa_reason_too_long",
        Problem::NotEnoughPoints => "pa_not_enough_points",
        Problem::PointsLimit => "pa_points_limit",
    }
}

fn upload_form(lang: Language, p: &Principal, reason: &str) -> Markup {
    html! {
        p { (t(lang, "pa_explained")) }
        p.muted { (t(lang, "pa_columns")) }
        form.sections-form #bulk-upload method="post" action="/admin/points/adjust" enctype="multipart/form-data" {
            input type="hidden" name="_csrf" value=(p.csrf_token.clone().unwrap_or_default());
            label for="file" { (t(lang, "a_file")) }
            input #file type="file" name="file" accept=".csv,.xlsx" required;
            label for="reason" { (t(lang, "pa_reason_for_all")) }
            input #reason name="reason" maxlength="200" value=(reason);
            button #check-file type="submit" { (t(lang, "pa_check")) }
        }
    }
}

fn problems_table(lang: Language, problems: &[RowProblem]) -> Markup {
    html! {
        p.error #bulk-refused role="alert" { (t(lang, "pa_nothing_changed")) }
        div.table-wrap { table #bulk-problems {
            thead { tr {
                th.num scope="col" { (t(lang, "pa_row")) }
                th scope="col" { (t(lang, "pa_column")) }
                th scope="col" { (t(lang, "pa_value")) }
                th scope="col" { (t(lang, "pa_problem")) }
            } }
            tbody { @for pr in problems.iter().take(200) { tr {
                td.num { @if pr.row > 0 { (pr.row) } }
                td { (pr.column) }
                td { (pr.value) }
                td { (t(lang, problem_words(pr.problem))) }
            } } }
        } }
        @if problems.len() > 200 { p.muted { (t(lang, "pa_more_problems")) " " (number(problems.len() as i64 - 200)) } }
    }
}

/// The checked rows as the confirmation carries them: JSON, which has no line breaks
/// (a form's submission rewrites them, and the signature would no longer match).
fn encode(adjustments: &[Adjustment]) -> String {
    let rows: Vec<(u64, i64, i64, &str)> = adjustments
        .iter()
        .map(|a| (a.row, a.member_id, a.points, a.reason.as_str()))
        .collect();
    serde_json::to_string(&rows).unwrap_or_default()
}

fn decode(text: &str) -> Option<Vec<Adjustment>> {
    let rows: Vec<(u64, i64, i64, String)> = serde_json::from_str(text).ok()?;
    Some(
        rows.into_iter()
            .map(|(row, member_id, points, reason)| Adjustment {
                row,
                member_id,
                points,
                reason,
            })
            .collect(),
    )
}

fn signature(app: &AppState, p: &Principal, rows: &str) -> String {
    hex::encode(
        app.cipher
            .mac(&format!("bulk-points:{}:{rows}", p.tenant_id)),
    )
}

fn page_of(lang: Language, p: &Principal, body: Markup, status: StatusCode) -> Response {
    page(lang, t(lang, "pa_title"), p, body, status)
}

/// `GET /admin/points/adjust`.
pub async fn show(PageSession(p): PageSession, jar: CookieJar) -> Response {
    let lang = language(None, &jar);
    if !p.allows(Permission::PointsAdjust) {
        return refuse(lang);
    }
    page_of(lang, &p, upload_form(lang, &p, ""), StatusCode::OK)
}

/// `POST /admin/points/adjust`: check an uploaded file and show what it will do.
pub async fn check(
    State(app): State<AppState>,
    PageSession(p): PageSession,
    jar: CookieJar,
    mut form: Multipart,
) -> Response {
    let lang = language(None, &jar);
    if !p.allows(Permission::PointsAdjust) {
        return refuse(lang);
    }
    let (mut csrf, mut reason, mut file, mut is_xlsx) = (String::new(), String::new(), None, false);
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(_) => return refused_file(lang, &p, &reason, Problem::Unreadable),
        };
        match field.name().unwrap_or_default() {
            "_csrf" => csrf = field.text().await.unwrap_or_default(),
            "reason" => reason = field.text().await.unwrap_or_default(),
            "file" => {
                is_xlsx = field
                    .file_name()
                    .is_some_and(|n| n.to_lowercase().ends_with(".xlsx"));
                match field.bytes().await {
                    Ok(b) if b.len() <= MAX_FILE_BYTES => file = Some(b),
                    _ => return refused_file(lang, &p, &reason, Problem::TooManyRows),
                }
            }
            _ => {}
        }
    }
    if !csrf_ok(&p, &csrf) {
        return refuse(lang);
    }
    let Some(bytes) = file.filter(|b| !b.is_empty()) else {
        return refused_file(lang, &p, &reason, Problem::NoRows);
    };
    let checked = match bulk_points::check(&app.db, p.tenant_id, &bytes, is_xlsx, &reason).await {
        Ok(c) => c,
        Err(e) => return crate::web::server_error(lang, e),
    };
    let adjustments = match checked {
        Ok(a) => a,
        Err(problems) => {
            let body = html! { (problems_table(lang, &problems)) (upload_form(lang, &p, &reason)) };
            return page_of(lang, &p, body, StatusCode::UNPROCESSABLE_ENTITY);
        }
    };
    let rows = encode(&adjustments);
    let added: i64 = adjustments.iter().map(|a| a.points.max(0)).sum();
    let taken: i64 = adjustments.iter().map(|a| (-a.points).max(0)).sum();
    let members = adjustments
        .iter()
        .map(|a| a.member_id)
        .collect::<std::collections::HashSet<_>>()
        .len();
    let body = html! {
        section.card.confirm #confirm-panel aria-labelledby="confirm-title" {
            h2 #confirm-title { (t(lang, "mm_confirm_title")) }
            dl #bulk-summary {
                dt { (t(lang, "pa_rows")) } dd { (number(adjustments.len() as i64)) }
                dt { (t(lang, "pa_members")) } dd { (number(members as i64)) }
                dt { (t(lang, "pa_added")) } dd #bulk-added { "+" (number(added)) }
                dt { (t(lang, "pa_taken")) } dd #bulk-taken { "−" (number(taken)) }
            }
            form method="post" action="/admin/points/adjust/confirm" {
                input type="hidden" name="_csrf" value=(p.csrf_token.clone().unwrap_or_default());
                input type="hidden" name="rows" value=(rows);
                input type="hidden" name="signature" value=(signature(&app, &p, &rows));
                div.row {
                    button #confirm-action type="submit" { (t(lang, "mm_confirm")) }
                    a.button.secondary href="/admin/points/adjust" { (t(lang, "mm_cancel")) }
                }
            }
        }
    };
    page_of(lang, &p, body, StatusCode::OK)
}

fn refused_file(lang: Language, p: &Principal, reason: &str, problem: Problem) -> Response {
    let problems = [RowProblem {
        row: 0,
        column: String::new(),
        value: String::new(),
        problem,
    }];
    let body = html! { (problems_table(lang, &problems)) (upload_form(lang, p, reason)) };
    page_of(lang, p, body, StatusCode::UNPROCESSABLE_ENTITY)
}

/// `POST /admin/points/adjust/confirm`: post the checked rows, all or none, once.
pub async fn confirm(
    State(app): State<AppState>,
    PageSession(p): PageSession,
    meta: RequestMeta,
    jar: CookieJar,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let lang = language(None, &jar);
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    if !p.allows(Permission::PointsAdjust) || !csrf_ok(&p, &get("_csrf")) {
        return refuse(lang);
    }
    let rows = get("rows");
    let signed = signature(&app, &p, &rows);
    let adjustments = match decode(&rows) {
        Some(a)
            if !a.is_empty()
                && crate::auth::secrets::constant_time_eq(&signed, &get("signature")) =>
        {
            a
        }
        // Not what this server checked: check the file again.
        _ => {
            return page_of(
                lang,
                &p,
                upload_form(lang, &p, ""),
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
    };
    let (kind, actor_id, label) = p.audit_actor();
    let actor = ActorRef {
        kind,
        id: Some(actor_id),
        label: &label,
    };
    // The signature names the checked file: confirming it twice posts once.
    let key = &signed[..32];
    match bulk_points::post(&app.db, p.tenant_id, &adjustments, key, actor, &meta).await {
        Ok(done) => {
            let body = html! {
                p.ok #action-done role="status" {
                    (t(lang, "pa_done")) " " (number(done.rows as i64)) " · +" (number(done.added)) " · −" (number(done.taken))
                }
                p { a href="/admin/points" { (t(lang, "points")) } }
            };
            page_of(lang, &p, body, StatusCode::OK)
        }
        Err(PostError::Row(problem)) => {
            let body = html! { (problems_table(lang, &[problem])) (upload_form(lang, &p, "")) };
            page_of(lang, &p, body, StatusCode::CONFLICT)
        }
        Err(PostError::Ledger(e)) => crate::web::server_error(lang, e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rows_carried_to_the_confirmation_read_back() {
        let rows = vec![
            Adjustment {
                row: 2,
                member_id: 7,
                points: -20,
                reason: "ชดเชย\nกาแฟหก".into(),
            },
            Adjustment {
                row: 3,
                member_id: 9,
                points: 1_000,
                reason: "คืนของ".into(),
            },
        ];
        let back = decode(&encode(&rows)).unwrap();
        assert_eq!(back[0].reason, "ชดเชย\nกาแฟหก");
        assert!(!encode(&rows).contains('\n'), "a form keeps it as sent");
        assert_eq!((back[1].member_id, back[1].points), (9, 1_000));
    }
}
