//! Earning over the API: purchases one at a time or in batches, a purchase looked up by
//! its receipt, refunds, and claim QR codes.

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{
    NewPurchase, PurchaseError, PurchaseInput, PurchaseOutcome, RefundInput, RefundResult,
};
use crate::audit::ActorRef;
use crate::auth::{Ctx, Principal};
use crate::error::{ApiError, ApiResult};
use crate::http::idempotency::HoldsSecret;
use crate::http::json::JsonBody;
use crate::ledger;
use crate::ledger::api::{actor_ref, amount_in_range};
use crate::rules::model::LineItem;
use crate::state::AppState;
use crate::store::now_micros;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(record_purchase))
        .routes(routes!(record_purchase_batch))
        .routes(routes!(get_purchase))
        .routes(routes!(refund_purchase))
        .routes(routes!(create_claim))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PurchaseRequest {
    pub member_id: i64,
    /// The bill in satang (minor units): 25000 = 250.00 THB.
    pub amount_satang: i64,
    /// The POS receipt number: unique in the shop; a retry with the same receipt is
    /// answered with the first result and grants nothing twice.
    pub receipt: String,
    pub branch_id: Option<i64>,
    /// When the purchase happened (default: now). At most 5 minutes ahead, 366 days back.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub occurred_at: Option<jiff::Timestamp>,
    /// The bill's lines (for product multipliers and stamp cards); they may add up to
    /// less than the bill, never more.
    #[serde(default)]
    pub items: Vec<LineItem>,
    /// Compute the points without recording anything ("what would this earn?").
    #[serde(default)]
    pub dry_run: bool,
}

/// Record a purchase: the rules compute the points (and stamps), the ledger credits
/// them, and the answer says which rules fired.
#[utoipa::path(post, path = "/purchases", tag = "ledger", operation_id = "record_purchase",
    request_body = PurchaseRequest, security(("api_key" = ["points.earn"])),
    responses((status = 201, body = PurchaseOutcome), (status = 200, description = "dry run or replay", body = PurchaseOutcome),
        (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
async fn record_purchase(
    State(app): State<AppState>,
    ctx: Ctx,
    JsonBody(req): JsonBody<PurchaseRequest>,
) -> ApiResult<(StatusCode, Json<PurchaseOutcome>)> {
    let input = check_purchase(&ctx.principal, req)?;
    let (kind, id, label) = actor_ref(&ctx);
    let actor = ActorRef {
        kind,
        id: Some(id),
        label: &label,
    };
    let outcome = crate::earning::writer::record(
        app.ledger_writer.as_ref(),
        &app.db,
        input,
        actor,
        &ctx.meta,
    )
    .await
    .map_err(|e| as_sent(e, ""))?;
    let status = if outcome.replayed || outcome.dry_run {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(outcome)))
}

/// A purchase by its receipt (percent-encode a receipt with `/` in it): a till that
/// lost the answer to `POST /purchases` looks it up instead of sending it again.
#[utoipa::path(get, path = "/purchases/{receipt}", tag = "ledger", operation_id = "get_purchase",
    params(("receipt" = String, Path)), security(("api_key" = ["points.earn"])),
    responses((status = 200, body = crate::earning::store::RecordedPurchase), (status = 404, body = crate::error::Problem)))]
async fn get_purchase(
    State(app): State<AppState>,
    ctx: Ctx,
    axum::extract::Path(receipt): axum::extract::Path<String>,
) -> ApiResult<Json<crate::earning::store::RecordedPurchase>> {
    // One limited to branches sees only what was bought there.
    let principal = &ctx.principal;
    crate::earning::store::purchase_by_receipt(&app.db, ctx.tenant_id(), &receipt)
        .await?
        .filter(|p| {
            principal.branches.is_empty()
                || p.branch_id.is_some_and(|b| principal.branches.contains(&b))
        })
        .map(Json)
        .ok_or_else(|| ApiError::not_found(&format!("a purchase with receipt {receipt:?}")))
}

/// The recording's answer in the request's terms: a field it names (`receipt`,
/// `member_id`, `branch_id`) gets the request's path.
fn as_sent(e: crate::earning::EarnError, path: &str) -> ApiError {
    under(path, e.into())
}

/// The error with its field named under `path` (`purchases[3].` in a batch).
fn under(path: &str, e: ApiError) -> ApiError {
    ApiError {
        field: e.field.map(|f| format!("{path}{f}")),
        ..e
    }
}

impl From<PurchaseError> for ApiError {
    fn from(e: PurchaseError) -> ApiError {
        ApiError::invalid(e.field(), e.to_string())
    }
}

/// Check a purchase request's fields (its member and branch are checked when recorded).
fn check_purchase(principal: &Principal, req: PurchaseRequest) -> ApiResult<PurchaseInput> {
    check_purchases(principal, vec![req], |_| String::new())
        .pop()
        .expect("one answer per request")
}

/// Check many purchase requests' fields, and that the caller works at their branches.
/// Their members and branches are checked when recorded, where the writer checks a
/// whole group's with one query each. `path(i)` prefixes the field names in the i-th
/// request's errors (`purchases[3].` in a batch).
fn check_purchases(
    principal: &Principal,
    reqs: Vec<PurchaseRequest>,
    path: impl Fn(usize) -> String,
) -> Vec<ApiResult<PurchaseInput>> {
    let now = now_micros();
    reqs.into_iter()
        .enumerate()
        .map(|(i, req)| {
            let path = path(i);
            let at = |e: ApiError| under(&path, e);
            principal
                .check_branch(req.branch_id, "branch_id")
                .map_err(at)?;
            let purchase = NewPurchase {
                tenant_id: principal.tenant_id,
                member_id: req.member_id,
                amount_satang: req.amount_satang,
                receipt: req.receipt,
                branch_id: req.branch_id,
                occurred_at: req.occurred_at.map(|t| t.as_microsecond()),
                items: req.items,
                dry_run: req.dry_run,
            };
            PurchaseInput::new(purchase, now).map_err(|e| at(e.into()))
        })
        .collect()
}

/// Most purchases in one batch request.
pub const MAX_BATCH: usize = 1_000;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PurchaseBatch {
    /// 1 to 1,000 purchases, each as for `POST /purchases` (`dry_run` is not allowed).
    pub purchases: Vec<PurchaseRequest>,
}

/// One purchase of a batch: its status as if sent alone, and its outcome or problem.
#[derive(Serialize, utoipa::ToSchema)]
pub struct BatchItem {
    /// 201 recorded, 200 replayed (the receipt was recorded before), or the error status.
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purchase: Option<PurchaseOutcome>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<crate::error::Problem>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct BatchResult {
    pub created: usize,
    pub replayed: usize,
    pub failed: usize,
    /// One item per purchase, in the order sent.
    pub results: Vec<BatchItem>,
}

/// Record up to 1,000 purchases in one request (a POS uploading a shift, a partner's
/// nightly file). Each purchase is checked, recorded and made idempotent by its receipt
/// exactly as if sent alone; one bad purchase does not stop the others. Retrying the
/// whole batch is safe: recorded receipts answer 200 and grant nothing twice.
#[utoipa::path(post, path = "/purchases/batch", tag = "ledger", operation_id = "record_purchase_batch",
    request_body = PurchaseBatch, security(("api_key" = ["points.earn"])),
    responses((status = 200, body = BatchResult), (status = 422, body = crate::error::Problem)))]
async fn record_purchase_batch(
    State(app): State<AppState>,
    ctx: Ctx,
    JsonBody(batch): JsonBody<PurchaseBatch>,
) -> ApiResult<Json<BatchResult>> {
    if batch.purchases.is_empty() || batch.purchases.len() > MAX_BATCH {
        return Err(ApiError::invalid(
            "purchases",
            format!("send 1 to {MAX_BATCH} purchases"),
        ));
    }
    if let Some(i) = batch.purchases.iter().position(|p| p.dry_run) {
        return Err(ApiError::invalid(
            format!("purchases[{i}].dry_run"),
            "a batch records purchases; send a dry run alone",
        ));
    }
    let (kind, id, label) = actor_ref(&ctx);
    let actor = ActorRef {
        kind,
        id: Some(id),
        label: &label,
    };
    let checked = check_purchases(&ctx.principal, batch.purchases, |i| {
        format!("purchases[{i}].")
    });
    // Everything checked is queued at once, so the writers commit it in a few groups.
    let answers =
        futures_util::future::join_all(checked.into_iter().enumerate().map(|(i, input)| {
            let (app, meta) = (&app, &ctx.meta);
            async move {
                let input = input?;
                crate::earning::writer::record(
                    app.ledger_writer.as_ref(),
                    &app.db,
                    input,
                    actor,
                    meta,
                )
                .await
                .map_err(|e| as_sent(e, &format!("purchases[{i}].")))
            }
        }))
        .await;
    let mut result = BatchResult {
        created: 0,
        replayed: 0,
        failed: 0,
        results: Vec::with_capacity(answers.len()),
    };
    for answer in answers {
        result.results.push(match answer {
            Ok(outcome) => {
                let status = if outcome.replayed {
                    result.replayed += 1;
                    200
                } else {
                    result.created += 1;
                    201
                };
                BatchItem {
                    status,
                    purchase: Some(outcome),
                    error: None,
                }
            }
            Err(e) => {
                result.failed += 1;
                BatchItem {
                    status: e.code.status().as_u16(),
                    purchase: None,
                    error: Some(e.problem()),
                }
            }
        });
    }
    Ok(Json(result))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundRequest {
    /// The receipt of the purchase being refunded.
    pub receipt: String,
    /// The refund id from the POS (unique per receipt): a retry with it changes nothing.
    pub refund_id: String,
    /// Satang refunded; default: everything not yet refunded.
    pub amount_satang: Option<i64>,
    /// Refund these lines of the bill instead of an amount: each takes back the points
    /// and stamps that line earned, multipliers included. Only for a purchase recorded
    /// with `items`.
    #[serde(default)]
    pub lines: Vec<crate::earning::LineRefund>,
}

/// Refund a purchase in full or in part: by an amount, its points are reversed in
/// proportion to the refunded share; by line, each line's own points are reversed. Points already spent are taken from the balance; under the
/// `allow_negative` policy the balance may go below zero and later earnings repay it.
#[utoipa::path(post, path = "/purchases/refunds", tag = "ledger", operation_id = "refund_purchase",
    request_body = RefundRequest, security(("api_key" = ["points.earn"])),
    responses((status = 201, body = RefundResult), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub(crate) async fn refund_purchase(
    State(app): State<AppState>,
    ctx: Ctx,
    JsonBody(req): JsonBody<RefundRequest>,
) -> ApiResult<(StatusCode, Json<RefundResult>)> {
    let tenant = ctx.tenant_id();
    let refund_id = crate::types::text(&req.refund_id, "refund_id", 1, 64)
        .map_err(|e| ApiError::invalid("refund_id", e))?;
    if let Some(a) = req.amount_satang {
        amount_in_range("amount_satang", a, 1)?;
    }
    if !req.lines.is_empty() && req.amount_satang.is_some() {
        return Err(ApiError::invalid(
            "lines",
            "refund either an amount or lines, not both",
        ));
    }
    if req.lines.len() > 500 {
        return Err(ApiError::invalid("lines", "at most 500 lines"));
    }
    // A staff member limited to branches refunds only what was bought there.
    if !ctx.principal.branches.is_empty() {
        let purchase = ledger::find_purchase(&app.db, tenant, req.receipt.trim())
            .await?
            .ok_or_else(|| ApiError::not_found("a purchase with this receipt"))?;
        ctx.principal.check_branch(purchase.branch_id, "receipt")?;
    }
    let input = RefundInput {
        tenant_id: tenant,
        receipt: req.receipt.trim().to_string(),
        refund_id,
        amount_satang: req.amount_satang,
        lines: req.lines,
    };
    let (kind, id, label) = actor_ref(&ctx);
    let result = crate::earning::refund_purchase(
        &app.db,
        &input,
        ActorRef {
            kind,
            id: Some(id),
            label: &label,
        },
        &ctx.meta,
    )
    .await?;
    let status = if result.replayed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(result)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimRequest {
    /// The bill in satang.
    pub amount_satang: i64,
    pub branch_id: Option<i64>,
    /// Minutes the QR code stays valid (1-1440, default 10).
    pub valid_minutes: Option<i64>,
}

/// Create a one-time claim QR for a bill: the member who scans it first on their member
/// page, before it expires, collects the points the rules give for it.
#[utoipa::path(post, path = "/claims", tag = "ledger", operation_id = "create_claim",
    request_body = ClaimRequest, security(("api_key" = ["points.earn"])),
    responses((status = 201, body = crate::earning::claims::NewClaim), (status = 422, body = crate::error::Problem)))]
async fn create_claim(
    State(app): State<AppState>,
    ctx: Ctx,
    JsonBody(req): JsonBody<ClaimRequest>,
) -> ApiResult<(
    StatusCode,
    Extension<HoldsSecret>,
    Json<crate::earning::claims::NewClaim>,
)> {
    let amount = amount_in_range("amount_satang", req.amount_satang, 1)?;
    ctx.principal.check_branch(req.branch_id, "branch_id")?;
    let minutes = req.valid_minutes.unwrap_or(10);
    if !(1..=1440).contains(&minutes) {
        return Err(ApiError::invalid(
            "valid_minutes",
            "must be between 1 and 1440",
        ));
    }
    if let Some(b) = req.branch_id
        && !crate::tenants::store::get_branch(&app.db, ctx.tenant_id(), b)
            .await?
            .is_some_and(|b| b.active)
    {
        return Err(ApiError::invalid(
            "branch_id",
            format!("branch {b} does not exist or is inactive"),
        ));
    }
    let tenant = crate::tenants::store::get_tenant(&app.db, ctx.tenant_id())
        .await?
        .ok_or_else(|| ApiError::not_found("shop"))?;
    let (kind, id, label) = actor_ref(&ctx);
    let claim = crate::earning::claims::create(
        &app.db,
        &app.settings.public_url,
        &tenant.slug,
        ctx.tenant_id(),
        amount,
        req.branch_id,
        minutes,
        ActorRef {
            kind,
            id: Some(id),
            label: &label,
        },
        &ctx.meta,
    )
    .await?;
    Ok((StatusCode::CREATED, Extension(HoldsSecret), Json(claim)))
}
