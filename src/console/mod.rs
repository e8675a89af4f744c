//! The shop's console: the setup wizard, the members' screens (members.rs) and the admin
//! pages (imports, rewards,
//! tiers, signup form, draws, audit, API keys, settings). Above the capabilities: each
//! page calls a capability's API handler and shows its answer, so the console does what
//! the API does and nothing else.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use maud::Markup;

use crate::audit::RequestMeta;
use crate::auth::{Ctx, Principal};
use crate::tenants::model::Language;

pub mod account;
pub mod admin;
pub mod audit;
pub mod draws;
pub mod earning_rules;
pub mod ledger_settings;
pub mod member_profile;
pub mod members;
pub mod points_adjust;
pub mod rewards;
pub mod setup;
pub mod signup_questions;
pub mod team;
pub mod tiers;

/// `GET` on an address that only takes a form (what the language switch opens on the
/// page a form answered): the page that form belongs to. The language middleware has
/// already remembered the choice in the cookie.
pub async fn back_to_page(uri: axum::http::Uri) -> axum::response::Redirect {
    let path = uri.path();
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let to = match parts.as_slice() {
        ["admin", "members", id, "actions"] => format!("/admin/members/{id}"),
        ["admin", "staff", ..] => "/admin/staff".into(),
        ["staff", "claims"] => "/staff/earn".into(),
        ["admin", section, ..] => format!("/admin/{section}"),
        _ => "/admin".into(),
    };
    axum::response::Redirect::to(&to)
}

/// The API context a console page acts in: the signed-in person and this request, so a
/// page calls the API's own handler exactly as the API would.
pub(crate) fn ctx(p: &Principal, meta: RequestMeta) -> Ctx {
    Ctx {
        principal: p.clone(),
        meta,
    }
}

/// A console page with the status of its answer.
pub(crate) fn page(
    lang: Language,
    title: &str,
    p: &Principal,
    body: Markup,
    status: StatusCode,
) -> Response {
    (
        status,
        Html(crate::web::staff_layout(lang, title, p, body).into_string()),
    )
        .into_response()
}
