//! Member imports started over the API: the upload is streamed to a file in the data
//! directory (never held in memory), then imported in the background; its progress and
//! error report are kept in the database for the client to poll.

use std::path::PathBuf;

use axum::Json;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::import::{ImportCounts, ImportTarget, RowError, TEMPLATE_CSV};
use super::store;
use crate::auth::Ctx;
use crate::error::{ApiError, ApiResult, Code};
use crate::http::query::{Page, PathId, QueryParams};
use crate::state::AppState;
use crate::store::Db;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(start_import))
        // Uploads have their own limit (max_import_bytes), checked while streaming.
        .layer(DefaultBodyLimit::disable())
        .routes(routes!(get_import))
        .routes(routes!(import_errors))
        .routes(routes!(import_template))
}

/// An import job.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ImportJob {
    pub id: i64,
    pub file_name: String,
    pub branch_id: Option<i64>,
    /// `running`, `done` or `failed`.
    pub status: String,
    pub counts: ImportCounts,
    /// Why the file as a whole was refused (`failed`).
    pub error: Option<String>,
    /// Size of the uploaded file, for progress (`counts.bytes_read` of `bytes`).
    pub bytes: i64,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: jiff::Timestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub finished_at: Option<jiff::Timestamp>,
}

async fn load(db: &Db, tenant_id: i64, id: i64) -> sqlx::Result<Option<ImportJob>> {
    let row = store::import_job(db, tenant_id, id).await?;
    Ok(row.map(|r| ImportJob {
        id: r.id,
        file_name: r.file_name,
        branch_id: r.branch_id,
        status: r.status,
        counts: serde_json::from_str(&r.counts).unwrap_or_default(),
        error: r.error,
        bytes: r.bytes,
        created_at: crate::types::timestamp(r.created_at),
        finished_at: r.finished_at.map(crate::types::timestamp),
    }))
}

async fn set_progress(db: &Db, tenant_id: i64, id: i64, counts: &ImportCounts) {
    let json = serde_json::to_string(counts).unwrap_or_default();
    let _ = store::set_import_counts(db, tenant_id, id, &json).await;
}

async fn finish(db: &Db, tenant_id: i64, id: i64, result: &Result<ImportCounts, String>) {
    let (status, counts, error) = match result {
        Ok(c) => ("done", serde_json::to_string(c).unwrap_or_default(), None),
        Err(e) => ("failed", String::new(), Some(e.clone())),
    };
    let done = store::finish_import_job(db, tenant_id, id, status, &counts, error.as_deref()).await;
    if let Err(e) = done {
        tracing::error!(error = %e, import = id, "could not record the end of an import");
    }
}

/// Errors go to the database, up to a cap (the counts still say how many rows failed).
struct DbErrors {
    db: Db,
    tenant_id: i64,
    import_id: i64,
    stored: usize,
}

const MAX_STORED_ERRORS: usize = 100_000;

impl super::import::AsyncErrorSink for DbErrors {
    async fn send(&mut self, errors: &[RowError]) {
        let room = MAX_STORED_ERRORS.saturating_sub(self.stored);
        if room == 0 {
            return;
        }
        let Ok(mut tx) = self.db.begin().await else {
            return;
        };
        for e in errors.iter().take(room) {
            let _ = store::insert_import_error(&mut tx, self.tenant_id, self.import_id, e).await;
        }
        if tx.commit().await.is_ok() {
            self.stored += errors.len().min(room);
        }
    }
}

/// Jobs left running by a stopped server are marked failed (re-uploading is safe:
/// members already imported are skipped and get no extra points).
pub async fn fail_interrupted(db: &Db) -> sqlx::Result<u64> {
    store::fail_running_imports(db).await
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ImportParams {
    /// `csv` (UTF-8, or Windows-874/TIS-620 from old Thai POS exports) or `xlsx`.
    pub format: String,
    /// The branch the members join at.
    pub branch_id: Option<i64>,
    /// The file's name, for the record.
    pub file_name: Option<String>,
}

/// Upload a CSV or XLSX of members with their balances (the request body is the file).
/// Answers at once with a job to poll; bad rows end up in the job's error report.
#[utoipa::path(post, path = "/members/imports", tag = "members", operation_id = "start_member_import",
    params(ImportParams), request_body(content = Vec<u8>, content_type = "text/csv"),
    security(("api_key" = ["members.write"])),
    responses((status = 202, body = ImportJob), (status = 413, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
async fn start_import(
    State(app): State<AppState>,
    ctx: Ctx,
    QueryParams(p): QueryParams<ImportParams>,
    body: Body,
) -> ApiResult<(StatusCode, Json<ImportJob>)> {
    let ext = match p.format.as_str() {
        "csv" => "csv",
        "xlsx" => "xlsx",
        _ => {
            return Err(ApiError::field(
                Code::InvalidQuery,
                "format",
                "format must be csv or xlsx",
            ));
        }
    };
    ctx.principal.check_branch(p.branch_id, "branch_id")?;
    if let Some(b) = p.branch_id
        && crate::tenants::store::get_branch(&app.db, ctx.tenant_id(), b)
            .await?
            .is_none()
    {
        return Err(ApiError::field(
            Code::InvalidQuery,
            "branch_id",
            format!("branch {b} does not exist"),
        ));
    }
    let file_name = crate::types::text(
        p.file_name.as_deref().unwrap_or("upload"),
        "file_name",
        1,
        200,
    )
    .map_err(|e| ApiError::field(Code::InvalidQuery, "file_name", e))?;
    let id = crate::ids::next_id();
    let dir = app.settings.data_dir.join("imports");
    crate::files::private_dir(&dir).map_err(ApiError::internal)?;
    let path: PathBuf = dir.join(format!("{}-{id}.{ext}", ctx.tenant_id()));
    let bytes = match save_upload(body, &path, app.settings.max_import_bytes).await {
        Ok(n) => n,
        Err(e) => {
            let _ = tokio::fs::remove_file(&path).await;
            return Err(e);
        }
    };
    let (actor_kind, actor_id, actor_label) = ctx.principal.audit_actor();
    let mut tx = app.db.begin().await?;
    store::insert_import_job(
        &mut tx,
        ctx.tenant_id(),
        id,
        &file_name,
        p.branch_id,
        bytes as i64,
        actor_id,
    )
    .await?;
    crate::audit::record(
        &mut tx,
        &ctx,
        crate::audit::Change::new("members.import_started", "member_import", id)
            .details(serde_json::json!({"file_name": file_name, "bytes": bytes})),
    )
    .await?;
    tx.commit().await?;
    let target = ImportTarget {
        tenant_id: ctx.tenant_id(),
        may_grant_points: ctx.principal.allows(crate::auth::Permission::PointsAdjust),
        branch_id: p.branch_id,
        actor_kind,
        actor_id: Some(actor_id),
        actor_label,
        meta: ctx.meta.clone(),
    };
    let db = app.db.clone();
    tokio::spawn(async move {
        let progress_db = db.clone();
        let (tenant_id, progress) = (
            target.tenant_id,
            tokio::sync::mpsc::unbounded_channel::<ImportCounts>(),
        );
        let (progress_tx, mut progress_rx) = progress;
        let updater = tokio::spawn(async move {
            while let Some(c) = progress_rx.recv().await {
                set_progress(&progress_db, tenant_id, id, &c).await;
            }
        });
        let mut sink = DbErrors {
            db: db.clone(),
            tenant_id,
            import_id: id,
            stored: 0,
        };
        let result = super::import::import_file(
            &db,
            &path,
            &target,
            |c| drop(progress_tx.send(c.clone())),
            &mut sink,
        )
        .await;
        drop(progress_tx);
        let _ = updater.await;
        finish(&db, tenant_id, id, &result).await;
        let _ = tokio::fs::remove_file(&path).await;
    });
    let job = load(&app.db, ctx.tenant_id(), id)
        .await?
        .ok_or_else(|| ApiError::internal("import job vanished"))?;
    Ok((StatusCode::ACCEPTED, Json(job)))
}

/// Stream the body to `path`, refusing it once it passes `max` bytes.
async fn save_upload(body: Body, path: &std::path::Path, max: u64) -> ApiResult<u64> {
    use futures_util::StreamExt;
    let file = crate::files::private_file()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .map_err(ApiError::internal)?;
    let mut file = tokio::fs::File::from_std(file);
    let mut stream = body.into_data_stream();
    let mut total: u64 = 0;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::new(
                Code::MalformedJson,
                format!("the upload was interrupted: {e}"),
            )
        })?;
        total += chunk.len() as u64;
        if total > max {
            return Err(ApiError::new(
                Code::BodyTooLarge,
                format!(
                    "the file is larger than {max} bytes; split it or import it with `loyal import members`"
                ),
            ));
        }
        file.write_all(&chunk).await.map_err(ApiError::internal)?;
    }
    file.flush().await.map_err(ApiError::internal)?;
    if total == 0 {
        return Err(ApiError::invalid("body", "the file is empty"));
    }
    Ok(total)
}

/// An import job: status and counts (poll until `done` or `failed`).
#[utoipa::path(get, path = "/members/imports/{id}", tag = "members", operation_id = "get_member_import",
    params(("id" = i64, Path)), security(("api_key" = ["members.write"])),
    responses((status = 200, body = ImportJob), (status = 404, body = crate::error::Problem)))]
async fn get_import(
    State(app): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> ApiResult<Json<ImportJob>> {
    load(&app.db, ctx.tenant_id(), id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("import"))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ErrorPage {
    /// Rows after this row number (the last `row` of the previous page).
    pub after_row: Option<i64>,
    pub limit: Option<i64>,
}

/// The rows an import refused: row number, column, value and reason, in row order.
#[utoipa::path(get, path = "/members/imports/{id}/errors", tag = "members", operation_id = "member_import_errors",
    params(("id" = i64, Path), ErrorPage), security(("api_key" = ["members.write"])),
    responses((status = 200, body = Page<RowError>), (status = 404, body = crate::error::Problem)))]
async fn import_errors(
    State(app): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    QueryParams(q): QueryParams<ErrorPage>,
) -> ApiResult<Json<Page<RowError>>> {
    if load(&app.db, ctx.tenant_id(), id).await?.is_none() {
        return Err(ApiError::not_found("import"));
    }
    let limit = crate::http::query::PageParams {
        limit: q.limit,
        cursor: None,
    }
    .limit()?;
    let rows = store::import_errors(
        &app.db,
        ctx.tenant_id(),
        id,
        q.after_row.unwrap_or(0),
        limit,
    )
    .await?;
    let items: Vec<RowError> = rows
        .into_iter()
        .map(|(row, column, value, reason)| RowError {
            row: row as u64,
            column,
            value,
            reason,
        })
        .collect();
    // Pages end on a whole row, so a row's errors are never split.
    Ok(Json(Page {
        next_cursor: (items.len() as i64 == limit)
            .then(|| items.last().map(|e| e.row.to_string()))
            .flatten(),
        items,
    }))
}

/// The import template (CSV, UTF-8): the columns and one example row.
#[utoipa::path(get, path = "/members/import-template", tag = "members", operation_id = "member_import_template",
    security(("api_key" = ["members.write"])), responses((status = 200, content_type = "text/csv", body = String)))]
async fn import_template() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"members-template.csv\"",
            ),
        ],
        TEMPLATE_CSV,
    )
}
