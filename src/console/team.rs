//! Staff and branches after the wizard: invite someone at any time (the link, its QR and
//! a "share to LINE" link), see pending invitations and give a new link or revoke one,
//! change a person's role and branches or deactivate them, and add, rename or close
//! branches. Every change goes through the API's own handler, which decides who may do
//! what (only an owner makes owners; one limited to branches gives only those).

use std::str::FromStr;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum_extra::extract::CookieJar;
use maud::{Markup, PreEscaped, html};

use super::{ctx, page};
use crate::audit::RequestMeta;
use crate::auth::{Permission, Principal, Role};
use crate::error::ApiError;
use crate::http::json::JsonBody;
use crate::http::query::{PageParams, PathId, QueryParams};
use crate::overview::pages::role_words;
use crate::staff::api::{InvitationCreated, NewInvitationRequest, StaffUpdate};
use crate::state::AppState;
use crate::tenants::api::{BranchUpdate, NewBranch};
use crate::tenants::model::{BranchCode, Language};
use crate::tenants::store::Branch;
use crate::types::Email;
use crate::web::{csrf_ok, field_error, language, local_date, localise_error, refuse, t};

/// A form's fields; checkboxes of one name arrive as several pairs.
type Pairs = Vec<(String, String)>;

fn one(f: &Pairs, k: &str) -> String {
    f.iter()
        .find(|(n, _)| n == k)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

fn all_ids(f: &Pairs, k: &str) -> Vec<i64> {
    f.iter()
        .filter(|(n, _)| n == k)
        .filter_map(|(_, v)| v.parse().ok())
        .collect()
}

/// Every branch of the shop (for names and for the checkboxes).
/// Every branch of the shop; the error page when they could not be read (a form
/// offering no branch would drop the staff member's branches on save).
async fn branches(
    app: &AppState,
    p: &Principal,
    meta: &RequestMeta,
    lang: Language,
) -> Result<Vec<Branch>, Response> {
    let page = PageParams {
        limit: Some(crate::http::query::MAX_PAGE_SIZE),
        cursor: None,
    };
    crate::tenants::api::list_branches(State(app.clone()), ctx(p, meta.clone()), QueryParams(page))
        .await
        .map(|j| j.0.items)
        .map_err(|e| crate::web::server_error(lang, e.message))
}

fn branch_names(all: &[Branch], ids: &[i64], lang: Language) -> String {
    if ids.is_empty() {
        return t(lang, "tm_all_branches").to_string();
    }
    ids.iter()
        .filter_map(|id| all.iter().find(|b| b.id == *id))
        .map(|b| b.name.clone())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Checkboxes of the branches this person may give; none ticked = all branches.
fn branch_boxes(lang: Language, p: &Principal, all: &[Branch], ticked: &[i64]) -> Markup {
    html! {
        fieldset.choices {
            legend { (t(lang, "tm_branches")) }
            p.muted { (t(lang, "tm_branches_note")) }
            @for b in all.iter().filter(|b| b.active && (p.branches.is_empty() || p.branches.contains(&b.id))) {
                label.choice { input type="checkbox" name="branch_ids" value=(b.id) checked[ticked.contains(&b.id)]; " " (b.name) }
            }
        }
    }
}

fn role_select(lang: Language, p: &Principal, current: Option<Role>) -> Markup {
    html! {
        label for="role" { (t(lang, "role")) }
        select #role name="role" {
            @for r in Role::ALL.iter().filter(|r| p.may_grant(**r)) {
                option value=(r.as_str()) selected[current == Some(*r)] { (role_words(lang, *r)) }
            }
        }
    }
}

/// What the staff page shows above its sections.
enum Notice {
    Invited(InvitationCreated),
    Refused(ApiError),
    Done(&'static str),
}

/// `GET /admin/staff`.
pub async fn staff(
    State(app): State<AppState>,
    crate::web::PageSession(p): crate::web::PageSession,
    meta: RequestMeta,
    jar: CookieJar,
) -> Response {
    let lang = language(None, &jar);
    if !p.allows(Permission::StaffRead) {
        return refuse(lang);
    }
    staff_page(&app, &p, meta, lang, None, StatusCode::OK).await
}

async fn staff_page(
    app: &AppState,
    p: &Principal,
    meta: RequestMeta,
    lang: Language,
    notice: Option<Notice>,
    status: StatusCode,
) -> Response {
    let all = match branches(app, p, &meta, lang).await {
        Ok(all) => all,
        Err(failed) => return failed,
    };
    let tz = match crate::tenants::time_zone(&app.db, p.tenant_id).await {
        Ok(tz) => tz,
        Err(e) => return crate::web::server_error(lang, e),
    };
    let listing = || PageParams {
        limit: Some(crate::http::query::MAX_PAGE_SIZE),
        cursor: None,
    };
    let people = crate::staff::api::list_staff(
        State(app.clone()),
        ctx(p, meta.clone()),
        QueryParams(listing()),
    )
    .await;
    let manage = p.allows(Permission::StaffManage);
    let invitations = if manage {
        crate::staff::api::list_invitations(
            State(app.clone()),
            ctx(p, meta),
            QueryParams(listing()),
        )
        .await
        .map(|j| j.0.items)
        .unwrap_or_default()
    } else {
        vec![]
    };
    let pending: Vec<_> = invitations
        .iter()
        .filter(|i| i.status == "pending")
        .collect();
    let csrf = p.csrf_token.clone().unwrap_or_default();
    let refused = match &notice {
        Some(Notice::Refused(e)) => Some(e),
        _ => None,
    };
    let body = html! {
        @match &notice {
            Some(Notice::Invited(created)) => (invitation_card(lang, created)),
            Some(Notice::Done(words)) => p.ok #team-done role="status" { (t(lang, words)) },
            Some(Notice::Refused(e)) => p.error #team-refused role="alert" { (localise_error(lang, e)) },
            None => {}
        }
        @if manage {
            section.card #invite aria-labelledby="invite-title" {
                h2 #invite-title { (t(lang, "tm_invite")) }
                form method="post" action="/admin/staff/invite" {
                    input type="hidden" name="_csrf" value=(csrf);
                    label for="email" { (t(lang, "email")) }
                    input #email name="email" type="email" required autocomplete="off" aria-describedby="email-error";
                    (field_error("email", refused.filter(|e| e.field.as_deref() == Some("email")).map(|e| localise_error(lang, e)).as_deref()))
                    (role_select(lang, p, Some(Role::Cashier)))
                    (branch_boxes(lang, p, &all, &[]))
                    button #invite-send type="submit" { (t(lang, "tm_make_link")) }
                }
            }
            h2 { (t(lang, "tm_pending")) }
            @if pending.is_empty() {
                p.empty #no-invitations { (t(lang, "tm_no_pending")) }
            } @else {
                div.table-wrap { table #invitations {
                    thead { tr {
                        th scope="col" { (t(lang, "email")) }
                        th scope="col" { (t(lang, "role")) }
                        th scope="col" { (t(lang, "tm_branches")) }
                        th scope="col" { (t(lang, "tm_expires")) }
                        th scope="col" { span.visually-hidden { (t(lang, "tm_actions")) } }
                    } }
                    tbody { @for i in &pending { tr {
                        td { (i.email) }
                        td { (role_words(lang, i.role)) }
                        td { (branch_names(&all, &i.branch_ids, lang)) }
                        td { (local_date(lang, i.expires_at, &tz)) }
                        td.actions {
                            form method="post" action=(format!("/admin/staff/invitations/{}/renew", i.id)) {
                                input type="hidden" name="_csrf" value=(csrf);
                                button.secondary type="submit" { (t(lang, "tm_new_link")) }
                            }
                            form method="post" action=(format!("/admin/staff/invitations/{}/revoke", i.id)) {
                                input type="hidden" name="_csrf" value=(csrf);
                                button.danger type="submit" { (t(lang, "tm_revoke")) }
                            }
                        }
                    } } }
                } }
            }
        }
        h2 { (t(lang, "staff")) }
        @match people {
            Err(e) => p.error role="alert" { (localise_error(lang, &e)) },
            Ok(people) => div.table-wrap { table #staff {
                thead { tr {
                    th scope="col" { (t(lang, "mm_name")) }
                    th scope="col" { (t(lang, "email")) }
                    th scope="col" { (t(lang, "role")) }
                    th scope="col" { (t(lang, "tm_branches")) }
                    th scope="col" { (t(lang, "status")) }
                } }
                tbody { @for s in &people.0.items { tr {
                    td { @if manage { a href=(format!("/admin/staff/{}", s.id)) { (s.name) } } @else { (s.name) } }
                    td { (s.email) }
                    td { (role_words(lang, s.role)) }
                    td { (branch_names(&all, &s.branch_ids, lang)) }
                    td { (if s.active { t(lang, "ms_active") } else { t(lang, "tm_inactive") }) }
                } } }
            } },
        }
        @if p.allows(Permission::BranchesRead) { p { a href="/admin/branches" { (t(lang, "branches")) } } }
    };
    page(lang, t(lang, "tm_title"), p, body, status)
}

/// What a query's text escapes: everything but RFC 3986's unreserved characters.
const QUERY_TEXT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// A link that opens LINE to share `url` with the words of `text_key` before it.
fn line_share(lang: Language, text_key: &'static str, url: &str) -> String {
    let message = format!("{} {url}", t(lang, text_key));
    format!(
        "https://line.me/R/share?text={}",
        percent_encoding::utf8_percent_encode(&message, QUERY_TEXT)
    )
}

/// The link a new staff member opens, its QR code and a link that shares it in LINE.
fn invitation_card(lang: Language, created: &InvitationCreated) -> Markup {
    let line = line_share(lang, "tm_share_text", &created.url);
    html! {
        section.card #invitation role="status" {
            h2 { (t(lang, "tm_link_ready")) " " (created.invitation.email) }
            p.muted { (t(lang, "tm_link_once")) }
            p.link { a #invitation-link href=(created.url) { (created.url) } }
            div.qr role="img" aria-label=(t(lang, "tm_qr")) { (PreEscaped(&created.qr_svg)) }
            p { a.button #share-line href=(line) target="_blank" rel="noopener" { (t(lang, "tm_share_line")) } }
        }
    }
}

/// `POST /admin/staff/invite`.
pub async fn invite(
    State(app): State<AppState>,
    crate::web::PageSession(p): crate::web::PageSession,
    meta: RequestMeta,
    jar: CookieJar,
    Form(f): Form<Pairs>,
) -> Response {
    let lang = language(None, &jar);
    if !p.allows(Permission::StaffManage) || !csrf_ok(&p, &one(&f, "_csrf")) {
        return refuse(lang);
    }
    let request = match (
        Email::parse(&one(&f, "email")),
        Role::from_str(&one(&f, "role")),
    ) {
        (Ok(email), Ok(role)) => NewInvitationRequest {
            email,
            role,
            branch_ids: all_ids(&f, "branch_ids"),
        },
        (Err(e), _) => {
            let e = ApiError::invalid("email", e);
            return staff_page(
                &app,
                &p,
                meta,
                lang,
                Some(Notice::Refused(e)),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
        (_, Err(e)) => {
            let e = ApiError::invalid("role", e);
            return staff_page(
                &app,
                &p,
                meta,
                lang,
                Some(Notice::Refused(e)),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    send_invitation(&app, &p, meta, lang, request).await
}

async fn send_invitation(
    app: &AppState,
    p: &Principal,
    meta: RequestMeta,
    lang: Language,
    request: NewInvitationRequest,
) -> Response {
    let made = crate::staff::api::create_invitation(
        State(app.clone()),
        ctx(p, meta.clone()),
        JsonBody(request),
    )
    .await;
    match made {
        Ok((_, _, created)) => {
            staff_page(
                app,
                p,
                meta,
                lang,
                Some(Notice::Invited(created.0)),
                StatusCode::OK,
            )
            .await
        }
        Err(e) => {
            let status = e.code.status();
            staff_page(app, p, meta, lang, Some(Notice::Refused(e)), status).await
        }
    }
}

/// `POST /admin/staff/invitations/{id}/{renew|revoke}`: a new link for the same person,
/// role and branches (made first; only then does the old one stop working), or no link.
pub async fn invitation_action(
    State(app): State<AppState>,
    crate::web::PageSession(p): crate::web::PageSession,
    meta: RequestMeta,
    jar: CookieJar,
    Path((id, action)): Path<(i64, String)>,
    Form(f): Form<Pairs>,
) -> Response {
    let lang = language(None, &jar);
    if !p.allows(Permission::StaffManage) || !csrf_ok(&p, &one(&f, "_csrf")) {
        return refuse(lang);
    }
    let revoke = |app: AppState, meta: RequestMeta| {
        let c = ctx(&p, meta);
        async move { crate::staff::api::revoke_invitation(State(app), c, PathId(id)).await }
    };
    match action.as_str() {
        "revoke" => match revoke(app.clone(), meta.clone()).await {
            Ok(_) => {
                staff_page(
                    &app,
                    &p,
                    meta,
                    lang,
                    Some(Notice::Done("tm_revoked")),
                    StatusCode::OK,
                )
                .await
            }
            Err(e) => {
                let status = e.code.status();
                staff_page(&app, &p, meta, lang, Some(Notice::Refused(e)), status).await
            }
        },
        "renew" => {
            let found = crate::staff::store::get_invitation(&app.db, p.tenant_id, id).await;
            let old = match found.map(|row| row.map(|r| r.into_api())) {
                Ok(Some(old)) if old.status == "pending" => old,
                Ok(_) => {
                    let e = ApiError::not_found("pending invitation");
                    return staff_page(
                        &app,
                        &p,
                        meta,
                        lang,
                        Some(Notice::Refused(e)),
                        StatusCode::NOT_FOUND,
                    )
                    .await;
                }
                Err(e) => return crate::web::server_error(lang, e),
            };
            let email = match Email::parse(&old.email) {
                Ok(email) => email,
                Err(e) => return crate::web::server_error(lang, e),
            };
            let request = NewInvitationRequest {
                email,
                role: old.role,
                branch_ids: old.branch_ids,
            };
            let made = crate::staff::api::create_invitation(
                State(app.clone()),
                ctx(&p, meta.clone()),
                JsonBody(request),
            )
            .await;
            let notice = match made {
                Ok((_, _, created)) => match revoke(app.clone(), meta.clone()).await {
                    Ok(_) => Notice::Invited(created.0),
                    Err(e) => Notice::Refused(e),
                },
                Err(e) => Notice::Refused(e),
            };
            let status = match &notice {
                Notice::Refused(e) => e.code.status(),
                _ => StatusCode::OK,
            };
            staff_page(&app, &p, meta, lang, Some(notice), status).await
        }
        _ => staff_page(&app, &p, meta, lang, None, StatusCode::NOT_FOUND).await,
    }
}

/// `GET /admin/staff/{id}`: change a person's role, branches or status.
pub async fn person(
    State(app): State<AppState>,
    crate::web::PageSession(p): crate::web::PageSession,
    meta: RequestMeta,
    jar: CookieJar,
    Path(id): Path<i64>,
) -> Response {
    let lang = language(None, &jar);
    if !p.allows(Permission::StaffManage) {
        return refuse(lang);
    }
    person_page(&app, &p, meta, lang, id, None, None).await
}

/// `POST /admin/staff/{id}/password-reset`: a one-time link for someone who lost their
/// password, shown with its QR code and a LINE share.
pub async fn password_reset(
    State(app): State<AppState>,
    crate::web::PageSession(p): crate::web::PageSession,
    meta: RequestMeta,
    jar: CookieJar,
    Path(id): Path<i64>,
    Form(f): Form<Pairs>,
) -> Response {
    let lang = language(None, &jar);
    if !p.allows(Permission::StaffManage) || !csrf_ok(&p, &one(&f, "_csrf")) {
        return refuse(lang);
    }
    let made = crate::staff::passwords::create_password_reset(
        State(app.clone()),
        ctx(&p, meta.clone()),
        PathId(id),
    )
    .await;
    match made {
        Ok((_, _, link)) => person_page(&app, &p, meta, lang, id, None, Some(link.0)).await,
        Err(e) => person_page(&app, &p, meta, lang, id, Some(e), None).await,
    }
}

/// The reset link to give the person, its QR code and a LINE share.
fn reset_card(lang: Language, link: &crate::staff::passwords::ResetLink) -> Markup {
    let line = line_share(lang, "pw_share_text", &link.url);
    html! {
        section.card #reset-link-card role="status" {
            h2 { (t(lang, "pw_link_ready")) }
            p.muted { (t(lang, "pw_link_once")) }
            p.link { a #reset-link href=(link.url) { (link.url) } }
            div.qr role="img" aria-label=(t(lang, "tm_qr")) { (PreEscaped(&link.qr_svg)) }
            p { a.button #share-reset-line href=(line) target="_blank" rel="noopener" { (t(lang, "tm_share_line")) } }
        }
    }
}

async fn person_page(
    app: &AppState,
    p: &Principal,
    meta: RequestMeta,
    lang: Language,
    id: i64,
    refused: Option<ApiError>,
    reset: Option<crate::staff::passwords::ResetLink>,
) -> Response {
    let all = match branches(app, p, &meta, lang).await {
        Ok(all) => all,
        Err(failed) => return failed,
    };
    let found = crate::staff::api::get_staff(State(app.clone()), ctx(p, meta), PathId(id)).await;
    let s = match found {
        Ok(s) => s.0,
        Err(e) => {
            let body = html! { p.error role="alert" { (localise_error(lang, &e)) } };
            return page(lang, t(lang, "tm_title"), p, body, e.code.status());
        }
    };
    let status = refused
        .as_ref()
        .map(|e| e.code.status())
        .unwrap_or(StatusCode::OK);
    let body = html! {
        p.muted { (s.email) " · " (role_words(lang, s.role)) }
        @if let Some(e) = &refused { p.error #person-refused role="alert" { (localise_error(lang, e)) } }
        form method="post" action=(format!("/admin/staff/{id}")) {
            input type="hidden" name="_csrf" value=(p.csrf_token.clone().unwrap_or_default());
            (role_select(lang, p, Some(s.role)))
            (branch_boxes(lang, p, &all, &s.branch_ids))
            label.choice { input #active type="checkbox" name="active" value="true" checked[s.active]; " " (t(lang, "tm_active_note")) }
            button #save-person type="submit" { (t(lang, "ls_save")) }
        }
        @if let Some(link) = &reset { (reset_card(lang, link)) }
        @if p.person() != id {
            section.card #password-reset aria-labelledby="reset-title" {
                h2 #reset-title { (t(lang, "pw_reset_title")) }
                p.muted { (t(lang, "pw_reset_explained")) }
                form method="post" action=(format!("/admin/staff/{id}/password-reset")) {
                    input type="hidden" name="_csrf" value=(p.csrf_token.clone().unwrap_or_default());
                    button.secondary #make-reset type="submit" { (t(lang, "pw_make_link")) }
                }
            }
        }
        p { a href="/admin/staff" { (t(lang, "tm_back")) } }
    };
    page(lang, &s.name, p, body, status)
}

/// `POST /admin/staff/{id}`.
pub async fn save_person(
    State(app): State<AppState>,
    crate::web::PageSession(p): crate::web::PageSession,
    meta: RequestMeta,
    jar: CookieJar,
    Path(id): Path<i64>,
    Form(f): Form<Pairs>,
) -> Response {
    let lang = language(None, &jar);
    if !p.allows(Permission::StaffManage) || !csrf_ok(&p, &one(&f, "_csrf")) {
        return refuse(lang);
    }
    // Branches the form could not offer (closed, or outside the editor's own) are kept.
    let offered: Vec<i64> = match branches(&app, &p, &meta, lang).await {
        Ok(all) => all,
        Err(failed) => return failed,
    }
    .into_iter()
    .filter(|b| b.active && (p.branches.is_empty() || p.branches.contains(&b.id)))
    .map(|b| b.id)
    .collect();
    let current =
        crate::staff::api::get_staff(State(app.clone()), ctx(&p, meta.clone()), PathId(id))
            .await
            .map(|s| s.0.branch_ids)
            .unwrap_or_default();
    let mut branch_ids = all_ids(&f, "branch_ids");
    branch_ids.extend(current.into_iter().filter(|b| !offered.contains(b)));
    let update = StaffUpdate {
        name: None,
        role: Role::from_str(&one(&f, "role")).ok(),
        branch_ids: Some(branch_ids),
        active: Some(one(&f, "active") == "true"),
    };
    match crate::staff::api::update_staff(
        State(app.clone()),
        ctx(&p, meta.clone()),
        PathId(id),
        JsonBody(update),
    )
    .await
    {
        Ok(_) => {
            staff_page(
                &app,
                &p,
                meta,
                lang,
                Some(Notice::Done("mm_saved")),
                StatusCode::OK,
            )
            .await
        }
        Err(e) => person_page(&app, &p, meta, lang, id, Some(e), None).await,
    }
}

/// `GET /admin/branches`.
pub async fn branches_page(
    State(app): State<AppState>,
    crate::web::PageSession(p): crate::web::PageSession,
    meta: RequestMeta,
    jar: CookieJar,
) -> Response {
    let lang = language(None, &jar);
    if !p.allows(Permission::BranchesRead) {
        return refuse(lang);
    }
    branches_view(&app, &p, meta, lang, None, None).await
}

async fn branches_view(
    app: &AppState,
    p: &Principal,
    meta: RequestMeta,
    lang: Language,
    typed: Option<&Pairs>,
    notice: Option<Result<&'static str, ApiError>>,
) -> Response {
    let all = match branches(app, p, &meta, lang).await {
        Ok(all) => all,
        Err(failed) => return failed,
    };
    let csrf = p.csrf_token.clone().unwrap_or_default();
    let manage = p.allows(Permission::BranchesManage);
    let value = |k: &str| typed.map(|f| one(f, k)).unwrap_or_default();
    let error = match &notice {
        Some(Err(e)) => Some(e),
        _ => None,
    };
    let error_on = |field: &str| {
        error
            .filter(|e| e.field.as_deref() == Some(field))
            .map(|e| localise_error(lang, e))
    };
    let status = error.map(|e| e.code.status()).unwrap_or(StatusCode::OK);
    let body = html! {
        @match &notice {
            Some(Ok(words)) => p.ok #branches-done role="status" { (t(lang, words)) },
            Some(Err(e)) => p.error #branches-refused role="alert" { (localise_error(lang, e)) },
            None => {}
        }
        div.table-wrap { table #branches {
            thead { tr {
                th scope="col" { (t(lang, "w_branch_code")) }
                th scope="col" { (t(lang, "mm_name")) }
                th scope="col" { (t(lang, "tm_address")) }
                th scope="col" { (t(lang, "status")) }
                @if manage { th scope="col" { span.visually-hidden { (t(lang, "tm_actions")) } } }
            } }
            tbody { @for b in &all { tr {
                td { (b.code) }
                td { (b.name) }
                td { (b.address) }
                td { (if b.active { t(lang, "tm_open") } else { t(lang, "tm_closed") }) }
                @if manage { td.actions {
                    form method="post" action=(format!("/admin/branches/{}", b.id)) {
                        input type="hidden" name="_csrf" value=(csrf);
                        input type="hidden" name="active" value=(if b.active { "false" } else { "true" });
                        button.secondary type="submit" { (if b.active { t(lang, "tm_close") } else { t(lang, "tm_reopen") }) }
                    }
                } }
            } } }
        } }
        @if manage {
            section.card #add-branch aria-labelledby="add-branch-title" {
                h2 #add-branch-title { (t(lang, "tm_add_branch")) }
                form method="post" action="/admin/branches" {
                    input type="hidden" name="_csrf" value=(csrf);
                    label for="code" { (t(lang, "w_branch_code")) }
                    input #code name="code" required maxlength="20" value=(value("code")) aria-describedby="code-error";
                    (field_error("code", error_on("code").as_deref()))
                    label for="name" { (t(lang, "mm_name")) }
                    input #name name="name" required maxlength="100" value=(value("name")) aria-describedby="name-error";
                    (field_error("name", error_on("name").as_deref()))
                    label for="address" { (t(lang, "tm_address")) }
                    input #address name="address" maxlength="500" value=(value("address"));
                    button #add-branch-save type="submit" { (t(lang, "tm_add_branch")) }
                }
            }
        }
    };
    page(lang, t(lang, "branches"), p, body, status)
}

/// `POST /admin/branches`: add a branch.
pub async fn add_branch(
    State(app): State<AppState>,
    crate::web::PageSession(p): crate::web::PageSession,
    meta: RequestMeta,
    jar: CookieJar,
    Form(f): Form<Pairs>,
) -> Response {
    let lang = language(None, &jar);
    if !p.allows(Permission::BranchesManage) || !csrf_ok(&p, &one(&f, "_csrf")) {
        return refuse(lang);
    }
    let code = match BranchCode::parse(&one(&f, "code")) {
        Ok(code) => code,
        Err(e) => {
            let e = ApiError::invalid("code", e);
            return branches_view(&app, &p, meta, lang, Some(&f), Some(Err(e))).await;
        }
    };
    let new = NewBranch {
        code,
        name: one(&f, "name"),
        address: one(&f, "address"),
    };
    match crate::tenants::api::create_branch(
        State(app.clone()),
        ctx(&p, meta.clone()),
        JsonBody(new),
    )
    .await
    {
        Ok(_) => branches_view(&app, &p, meta, lang, None, Some(Ok("tm_branch_added"))).await,
        Err(e) => branches_view(&app, &p, meta, lang, Some(&f), Some(Err(e))).await,
    }
}

/// `POST /admin/branches/{id}`: close or reopen a branch.
pub async fn change_branch(
    State(app): State<AppState>,
    crate::web::PageSession(p): crate::web::PageSession,
    meta: RequestMeta,
    jar: CookieJar,
    Path(id): Path<i64>,
    Form(f): Form<Pairs>,
) -> Response {
    let lang = language(None, &jar);
    if !p.allows(Permission::BranchesManage) || !csrf_ok(&p, &one(&f, "_csrf")) {
        return refuse(lang);
    }
    let update = BranchUpdate {
        code: None,
        name: None,
        address: None,
        active: Some(one(&f, "active") == "true"),
    };
    match crate::tenants::api::update_branch(
        State(app.clone()),
        ctx(&p, meta.clone()),
        PathId(id),
        JsonBody(update),
    )
    .await
    {
        Ok(_) => branches_view(&app, &p, meta, lang, None, Some(Ok("mm_saved"))).await,
        Err(e) => branches_view(&app, &p, meta, lang, None, Some(Err(e))).await,
    }
}
