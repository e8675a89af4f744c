//! Members over the API: enrol, look up by phone, list.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::model::Phone;
use super::store::{self, Member, NewMember};
use crate::app::AppState;
use crate::audit::{self, Change};
use crate::auth::Ctx;
use crate::error::{ApiError, ApiResult, Code};
use crate::http::json::JsonBody;
use crate::http::query::{Page, PathId, QueryParams};
use crate::types::{Email, text};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_members, create_member))
        .routes(routes!(get_member))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMemberRequest {
    pub phone: Phone,
    #[serde(default)]
    pub first_name: String,
    #[serde(default)]
    pub last_name: String,
    pub email: Option<Email>,
    /// The branch where the member joined.
    pub join_branch_id: Option<i64>,
}

/// Enrol a member. The phone is normalised to E.164 and unique in the shop.
#[utoipa::path(post, path = "/members", tag = "members", operation_id = "create_member",
    request_body = NewMemberRequest, security(("api_key" = ["members.write"])),
    responses((status = 201, body = Member), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
async fn create_member(
    State(app): State<AppState>,
    ctx: Ctx,
    JsonBody(req): JsonBody<NewMemberRequest>,
) -> ApiResult<(StatusCode, Json<Member>)> {
    let first = text(&req.first_name, "first_name", 0, 100)
        .map_err(|e| ApiError::invalid("first_name", e))?;
    let last =
        text(&req.last_name, "last_name", 0, 100).map_err(|e| ApiError::invalid("last_name", e))?;
    if let Some(b) = req.join_branch_id {
        if crate::tenants::store::get_branch(&app.db, ctx.tenant_id(), b)
            .await?
            .is_none()
        {
            return Err(ApiError::invalid(
                "join_branch_id",
                format!("branch {b} does not exist"),
            ));
        }
    }
    let mut tx = app.db.begin().await?;
    let new = NewMember {
        phone: &req.phone,
        first_name: &first,
        last_name: &last,
        email: req.email.as_ref().map(|e| e.as_str()),
        join_branch_id: req.join_branch_id,
    };
    let id = match store::insert(&mut tx, ctx.tenant_id(), new).await {
        Err(e) if crate::store::is_unique_violation(&e) => {
            return Err(ApiError::field(
                Code::AlreadyExists,
                "phone",
                format!("a member with phone {} exists", req.phone),
            ));
        }
        other => other?,
    };
    audit::record(&mut tx, &ctx, Change::new("member.created", "member", id)).await?;
    if let Some(welcome) = crate::ledger::grant_welcome(
        &mut tx,
        &app.db,
        ctx.tenant_id(),
        id,
        crate::store::now_micros(),
    )
    .await?
    {
        audit::record(
            &mut tx,
            &ctx,
            Change::new("points.welcome", "ledger_txn", welcome.txn_id)
                .details(serde_json::json!({"member_id": id, "points": welcome.points})),
        )
        .await?;
    }
    tx.commit().await?;
    let member = store::get(&app.db, ctx.tenant_id(), id)
        .await?
        .ok_or_else(|| ApiError::internal("new member vanished"))?;
    Ok((StatusCode::CREATED, Json(member)))
}

/// One member.
#[utoipa::path(get, path = "/members/{id}", tag = "members", operation_id = "get_member",
    params(("id" = i64, Path)), security(("api_key" = ["members.read"])),
    responses((status = 200, body = Member), (status = 404, body = crate::error::Problem)))]
async fn get_member(
    State(app): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> ApiResult<Json<Member>> {
    store::get(&app.db, ctx.tenant_id(), id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("member"))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MemberQuery {
    /// Find the member with this phone (any Thai format).
    pub phone: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// List members, newest first, or find one by phone.
#[utoipa::path(get, path = "/members", tag = "members", operation_id = "list_members",
    params(MemberQuery), security(("api_key" = ["members.read"])), responses((status = 200, body = Page<Member>)))]
async fn list_members(
    State(app): State<AppState>,
    ctx: Ctx,
    QueryParams(q): QueryParams<MemberQuery>,
) -> ApiResult<Json<Page<Member>>> {
    if let Some(phone) = &q.phone {
        let phone =
            Phone::parse(phone).map_err(|e| ApiError::field(Code::InvalidQuery, "phone", e))?;
        let found = store::find_by_phone(&app.db, ctx.tenant_id(), &phone).await?;
        return Ok(Json(Page {
            items: found.into_iter().collect(),
            next_cursor: None,
        }));
    }
    let page = crate::http::query::PageParams {
        limit: q.limit,
        cursor: q.cursor,
    };
    let limit = page.limit()?;
    let rows = store::list(&app.db, ctx.tenant_id(), page.before_id()?, limit).await?;
    Ok(Json(Page::from_rows(rows, limit, |m| m.id)))
}
