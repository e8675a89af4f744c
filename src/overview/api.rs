use axum::Json;
use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use serde::Deserialize;

use super::{MonthOfPoints, Overview};
use crate::auth::Ctx;
use crate::error::ApiResult;
use crate::http::query::QueryParams;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_overview))
        .routes(routes!(points_by_month))
}

/// The shop at a glance: members, activity, this month's points, the liability in
/// points and baht, redemptions and today's purchases per branch. Months and days are
/// the shop's, in its time zone.
#[utoipa::path(get, path = "/reports/overview", tag = "reports", operation_id = "get_overview",
    security(("api_key" = ["reports.read"])), responses((status = 200, body = Overview)))]
pub(crate) async fn get_overview(
    State(app): State<AppState>,
    ctx: Ctx,
) -> ApiResult<Json<Overview>> {
    Ok(Json(
        super::overview(&app.db, ctx.tenant_id(), app.clock.now_micros()).await?,
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MonthsQuery {
    /// How many months, this one included (1 to 36; default 12).
    pub months: Option<i32>,
}

/// The points ledger month by month in the shop's time zone: opening, issued,
/// redeemed, expired and outstanding, each month opening where the one before closed,
/// with the liability in satang when a point has a value.
#[utoipa::path(get, path = "/reports/points-by-month", tag = "reports", operation_id = "points_by_month",
    params(MonthsQuery), security(("api_key" = ["reports.read"])),
    responses((status = 200, body = Vec<MonthOfPoints>), (status = 422, body = crate::error::Problem)))]
pub(crate) async fn points_by_month(
    State(app): State<AppState>,
    ctx: Ctx,
    QueryParams(q): QueryParams<MonthsQuery>,
) -> ApiResult<Json<Vec<MonthOfPoints>>> {
    let months = q.months.unwrap_or(12);
    if !(1..=36).contains(&months) {
        return Err(crate::error::ApiError::field(
            crate::error::Code::InvalidQuery,
            "months",
            "must be between 1 and 36",
        ));
    }
    Ok(Json(
        super::points_by_month(&app.db, ctx.tenant_id(), app.clock.now_micros(), months).await?,
    ))
}
