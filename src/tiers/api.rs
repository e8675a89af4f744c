//! Tiers over the API: the program, a member's standing, and running reviews now.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::model::TierProgram;
use super::{ReviewRun, TierStatus, store};
use crate::audit::{self, Change};
use crate::auth::Ctx;
use crate::error::{ApiError, ApiResult};
use crate::http::json::JsonBody;
use crate::http::query::PathId;
use crate::state::AppState;
use crate::store::now_micros;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_tier_program, put_tier_program))
        .routes(routes!(run_tier_reviews))
        .routes(routes!(member_tier))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TierProgramView {
    pub program: TierProgram,
    /// Members at each level (members never upgraded hold the first level).
    pub members_per_level: Vec<LevelCount>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct LevelCount {
    pub code: String,
    pub members: i64,
}

/// The shop's tier program and how many members hold each level.
#[utoipa::path(get, path = "/tiers", tag = "tiers", operation_id = "get_tier_program",
    security(("api_key" = ["tenant.read"])), responses((status = 200, body = TierProgramView)))]
pub(crate) async fn get_tier_program(
    State(app): State<AppState>,
    ctx: Ctx,
) -> ApiResult<Json<TierProgramView>> {
    let program = store::program(&app.db, ctx.tenant_id()).await?;
    let counts = store::level_counts(&app.db, ctx.tenant_id()).await?;
    let total = crate::members::store::count(&app.db, ctx.tenant_id()).await?;
    let mut members_per_level: Vec<LevelCount> = program
        .levels
        .iter()
        .map(|l| LevelCount {
            code: l.code.clone(),
            members: counts
                .iter()
                .filter(|(c, _)| c == &l.code)
                .map(|(_, n)| n)
                .sum(),
        })
        .collect();
    if let Some(base) = members_per_level.first_mut() {
        let elsewhere: i64 = counts
            .iter()
            .filter(|(c, _)| c != &base.code)
            .map(|(_, n)| n)
            .sum();
        base.members = (total - elsewhere).max(0);
    }
    Ok(Json(TierProgramView {
        program,
        members_per_level,
    }))
}

/// Replace the tier program. Members keep the level they hold; a level whose code is
/// removed counts as the first level. Changes apply from the next purchase or review.
#[utoipa::path(put, path = "/tiers", tag = "tiers", operation_id = "put_tier_program",
    request_body = TierProgram, security(("api_key" = ["rules.manage"])),
    responses((status = 200, body = TierProgramView), (status = 422, body = crate::error::Problem)))]
pub(crate) async fn put_tier_program(
    State(app): State<AppState>,
    ctx: Ctx,
    JsonBody(program): JsonBody<TierProgram>,
) -> ApiResult<Json<TierProgramView>> {
    program
        .validate()
        .map_err(|(f, m)| ApiError::invalid(f, m))?;
    let mut tx = app.db.begin().await?;
    crate::store::docs::save(&mut tx, ctx.tenant_id(), store::PROGRAM_DOC, &program).await?;
    audit::record(
        &mut tx,
        &ctx,
        Change::new("tiers.program_changed", "tenant", ctx.tenant_id())
            .details(serde_json::to_value(&program).unwrap_or_default()),
    )
    .await?;
    tx.commit().await?;
    get_tier_program(State(app), ctx).await
}

/// Review now every member whose cycle has ended (the server also does this every
/// minute, and `loyal tiers evaluate` from the command line). Idempotent.
#[utoipa::path(post, path = "/tiers/reviews", tag = "tiers", operation_id = "run_tier_reviews",
    security(("api_key" = ["rules.manage"])), responses((status = 200, body = ReviewRun)))]
async fn run_tier_reviews(State(app): State<AppState>, ctx: Ctx) -> ApiResult<Json<ReviewRun>> {
    let run = super::run_reviews(&app.db, now_micros(), Some(ctx.tenant_id())).await?;
    let mut tx = app.db.begin().await?;
    audit::record(
        &mut tx,
        &ctx,
        Change::new("tiers.reviewed", "tenant", ctx.tenant_id())
            .details(serde_json::to_value(run).unwrap_or_default()),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(run))
}

/// A member's level, progress to the next one, what keeps the current one at the next
/// review, and the history of changes.
#[utoipa::path(get, path = "/members/{id}/tier", tag = "tiers", operation_id = "member_tier",
    params(("id" = i64, Path)), security(("api_key" = ["members.read"])),
    responses((status = 200, body = TierStatus), (status = 404, body = crate::error::Problem)))]
async fn member_tier(
    State(app): State<AppState>,
    ctx: Ctx,
    PathId(member): PathId,
) -> ApiResult<Json<TierStatus>> {
    let member = crate::members::store::get(&app.db, ctx.tenant_id(), member)
        .await?
        .ok_or_else(|| ApiError::not_found("member"))?;
    Ok(Json(
        super::status(&app.db, ctx.tenant_id(), member.id, now_micros()).await?,
    ))
}
