use axum::Json;
use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Entry, Filter};
use crate::auth::Ctx;
use crate::error::ApiResult;
use crate::http::query::{Page, PageParams, QueryParams};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_audit_log))
}

/// List the audit log, newest first, with optional filters.
#[utoipa::path(get, path = "/audit-log", tag = "audit", operation_id = "list_audit_log",
    params(Filter),
    security(("api_key" = ["audit.read"])),
    responses((status = 200, body = Page<Entry>)))]
pub(crate) async fn list_audit_log(
    State(app): State<AppState>,
    ctx: Ctx,
    QueryParams(filter): QueryParams<Filter>,
) -> ApiResult<Json<Page<Entry>>> {
    let page = PageParams {
        limit: filter.limit,
        cursor: filter.cursor.clone(),
    };
    let (limit, before) = (page.limit()?, page.before_id()?);
    let rows = super::list(&app.db, ctx.tenant_id(), &filter, before, limit).await?;
    Ok(Json(Page::from_rows(rows, limit, |e| e.id)))
}
