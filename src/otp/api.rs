//! One-time codes over the API: send one to a member, the shop's spend settings, and
//! the developer mailbox.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Challenge, SPEND_SETTINGS_DOC, SpendSettings};
use crate::audit::{self, Change};
use crate::auth::Ctx;
use crate::error::{ApiError, ApiResult};
use crate::http::json::JsonBody;
use crate::http::query::PathId;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(send_member_otp))
        .routes(routes!(get_spend_settings, put_spend_settings))
        .routes(routes!(developer_mailbox))
}

/// Text a one-time code to the member's phone. The member reads it to the cashier (or
/// types it on their page) to authorise a redemption or a lucky-draw entry. Sends are
/// limited per phone and per client IP.
#[utoipa::path(post, path = "/members/{id}/otp", tag = "rewards", operation_id = "send_member_otp",
    params(("id" = i64, Path)), security(("api_key" = ["points.redeem"])),
    responses((status = 201, body = Challenge), (status = 404, body = crate::error::Problem), (status = 429, body = crate::error::Problem), (status = 502, body = crate::error::Problem)))]
async fn send_member_otp(
    State(app): State<AppState>,
    ctx: Ctx,
    PathId(member): PathId,
) -> ApiResult<(StatusCode, Json<Challenge>)> {
    let member = crate::members::store::get(&app.db, ctx.tenant_id(), member)
        .await?
        .ok_or_else(|| ApiError::not_found("member"))?;
    let challenge = super::send(
        &app,
        ctx.tenant_id(),
        member.id,
        &member.phone,
        "spend",
        &ctx.meta.ip,
    )
    .await?;
    let mut tx = app.db.begin().await?;
    audit::record(
        &mut tx,
        &ctx,
        Change::new("otp.sent", "member", member.id)
            .details(serde_json::json!({"challenge_id": challenge.challenge_id})),
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(challenge)))
}

/// Whether redemptions and lucky-draw entries need a one-time code.
#[utoipa::path(get, path = "/spend-settings", tag = "rewards", operation_id = "get_spend_settings",
    security(("api_key" = ["tenant.read"])), responses((status = 200, body = SpendSettings)))]
pub(crate) async fn get_spend_settings(
    State(app): State<AppState>,
    ctx: Ctx,
) -> ApiResult<Json<SpendSettings>> {
    Ok(Json(
        crate::store::docs::get(&app.db, ctx.tenant_id(), SPEND_SETTINGS_DOC).await?,
    ))
}

#[utoipa::path(put, path = "/spend-settings", tag = "rewards", operation_id = "put_spend_settings",
    request_body = SpendSettings, security(("api_key" = ["rules.manage"])), responses((status = 200, body = SpendSettings)))]
pub(crate) async fn put_spend_settings(
    State(app): State<AppState>,
    ctx: Ctx,
    JsonBody(s): JsonBody<SpendSettings>,
) -> ApiResult<Json<SpendSettings>> {
    let mut tx = app.db.begin().await?;
    crate::store::docs::save(&mut tx, ctx.tenant_id(), SPEND_SETTINGS_DOC, &s).await?;
    audit::record(
        &mut tx,
        &ctx,
        Change::new("spend.settings_changed", "tenant", ctx.tenant_id())
            .details(serde_json::to_value(&s).unwrap_or_default()),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(s))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Mailbox {
    /// False when a real SMS gateway is configured (then nothing is kept here).
    pub enabled: bool,
    pub messages: Vec<super::sms::MailboxMessage>,
}

/// The developer mailbox: text messages that would have been sent, when no SMS gateway
/// is configured (demos and development).
#[utoipa::path(get, path = "/dev/mailbox", tag = "rewards", operation_id = "developer_mailbox",
    security(("api_key" = ["tenant.manage"])), responses((status = 200, body = Mailbox)))]
async fn developer_mailbox(State(app): State<AppState>, ctx: Ctx) -> ApiResult<Json<Mailbox>> {
    Ok(Json(Mailbox {
        enabled: app.sms.is_mailbox(),
        messages: super::sms::mailbox(&app.db, ctx.tenant_id(), 50).await?,
    }))
}

/// The developer mailbox as a page (/admin/mailbox): the latest text messages, newest
/// first, for the signed-in shop. Needs `tenant.manage`; shows nothing with a real gateway.
pub async fn mailbox_page(
    State(app): State<AppState>,
    crate::web::PageSession(p): crate::web::PageSession,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if !p.allows(crate::auth::Permission::TenantManage) {
        return (StatusCode::FORBIDDEN, "Your role does not allow this page").into_response();
    }
    let messages = super::sms::mailbox(&app.db, p.tenant_id, 50)
        .await
        .unwrap_or_default();
    let tz = crate::tenants::time_zone(&app.db, p.tenant_id)
        .await
        .unwrap_or(jiff::tz::TimeZone::UTC);
    let body = maud::html! {
        h1 { "Developer mailbox" }
        @if !app.sms.is_mailbox() {
            p { "An SMS gateway is configured: messages are sent to phones and not kept here." }
        } @else {
            p { "No SMS gateway is configured (setting sms_gateway_url), so text messages land here and in the log. For demos and development only." }
            table {
                tr { th { "Time" } th { "To" } th { "Message" } }
                @for m in &messages {
                    tr {
                        td { (crate::types::timestamp(m.created_at).to_zoned(tz.clone()).strftime("%Y-%m-%d %H:%M:%S")) }
                        td { (m.phone) }
                        td.message { (m.body) }
                    }
                }
            }
            @if messages.is_empty() { p { "No messages yet." } }
        }
        p { a href="/admin" { "Back" } }
    };
    axum::response::Html(
        crate::web::layout(crate::tenants::model::Language::En, "Mailbox", body).into_string(),
    )
    .into_response()
}
