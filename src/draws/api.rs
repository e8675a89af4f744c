//! Lucky draws over the API.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::store::{self, DrawRow};
use super::{DrawSpec, Entered, enter};
use super::{Proof, ProofEntry};
use crate::audit::{self, ActorRef, Change};
use crate::auth::Ctx;
use crate::error::{ApiError, ApiResult, Code};
use crate::http::json::JsonBody;
use crate::http::query::{Page, PageParams, PathId, QueryParams};
use crate::ledger::model::MAX_AMOUNT;
use crate::otp::OtpProof;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_draws, create_draw))
        .routes(routes!(get_draw))
        .routes(routes!(enter_draw))
        .routes(routes!(make_draw))
        .routes(routes!(draw_proof))
        .routes(routes!(public_draw_proof))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Winner {
    pub entry_id: i64,
    pub member_id: i64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Draw {
    pub id: i64,
    #[serde(flatten)]
    pub spec: DrawSpec,
    /// `scheduled`, `open`, `closed` (waiting for the draw) or `drawn`.
    pub status: String,
    /// SHA-256 of the secret seed, fixed when the draw was created.
    pub seed_hash: String,
    /// Revealed once the draw is made.
    pub seed: Option<String>,
    pub entries: i64,
    pub winners_drawn: Vec<Winner>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub drawn_at: Option<Timestamp>,
}

fn view(row: DrawRow, members: &[(i64, i64)], now: Timestamp) -> ApiResult<Draw> {
    let spec: DrawSpec = serde_json::from_str(&row.spec).map_err(ApiError::internal)?;
    let status = if row.drawn_at.is_some() {
        "drawn"
    } else if now < spec.opens_at {
        "scheduled"
    } else if now < spec.closes_at {
        "open"
    } else {
        "closed"
    };
    let won: Vec<ProofEntry> = row
        .winners
        .as_deref()
        .and_then(|w| serde_json::from_str(w).ok())
        .unwrap_or_default();
    Ok(Draw {
        id: row.id,
        status: status.into(),
        seed: row.drawn_at.map(|_| row.seed.clone()),
        seed_hash: row.seed_hash,
        entries: row.entries,
        winners_drawn: won
            .iter()
            .map(|w| Winner {
                entry_id: w.entry_id,
                member_id: members
                    .iter()
                    .find(|(e, _)| *e == w.entry_id)
                    .map(|(_, m)| *m)
                    .unwrap_or(0),
            })
            .collect(),
        drawn_at: row.drawn_at.map(crate::types::timestamp),
        spec,
    })
}

async fn load(app: &AppState, tenant: i64, id: i64) -> ApiResult<(DrawRow, Vec<(i64, i64)>)> {
    let row = store::get(&app.db, tenant, id)
        .await?
        .ok_or_else(|| ApiError::not_found("draw"))?;
    let entries = if row.drawn_at.is_some() {
        store::entries(&app.db, tenant, id).await?
    } else {
        vec![]
    };
    Ok((row, entries))
}

/// Lucky draws, newest first.
#[utoipa::path(get, path = "/draws", tag = "draws", operation_id = "list_draws",
    params(PageParams), security(("api_key" = ["tenant.read"])), responses((status = 200, body = Page<Draw>)))]
pub(crate) async fn list_draws(
    State(app): State<AppState>,
    ctx: Ctx,
    QueryParams(page): QueryParams<PageParams>,
) -> ApiResult<Json<Page<Draw>>> {
    let (limit, before) = (page.limit()?, page.before_id()?);
    let rows = store::list(&app.db, ctx.tenant_id(), before, limit).await?;
    let draws = rows
        .into_iter()
        .map(|r| view(r, &[], app.clock.now()))
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(Json(Page::from_rows(draws, limit, |d| d.id)))
}

/// Create a lucky draw. Its seed is generated now and kept secret; the seed's hash is
/// published at once, so the seed cannot be changed after entries are sold.
#[utoipa::path(post, path = "/draws", tag = "draws", operation_id = "create_draw",
    request_body = DrawSpec, security(("api_key" = ["rewards.manage"])),
    responses((status = 201, body = Draw), (status = 422, body = crate::error::Problem)))]
pub(crate) async fn create_draw(
    State(app): State<AppState>,
    ctx: Ctx,
    JsonBody(spec): JsonBody<DrawSpec>,
) -> ApiResult<(StatusCode, Json<Draw>)> {
    crate::types::text(&spec.name, "name", 1, 120).map_err(|m| ApiError::invalid("name", m))?;
    if spec.description.chars().count() > 2000 {
        return Err(ApiError::invalid("description", "at most 2000 characters"));
    }
    if !(1..=MAX_AMOUNT).contains(&spec.entry_cost) {
        return Err(ApiError::invalid(
            "entry_cost",
            "must be between 1 and 10^12",
        ));
    }
    if spec
        .max_entries_per_member
        .is_some_and(|m| !(1..=10_000).contains(&m))
    {
        return Err(ApiError::invalid(
            "max_entries_per_member",
            "must be between 1 and 10000",
        ));
    }
    if !(1..=1000).contains(&spec.winners) {
        return Err(ApiError::invalid("winners", "must be between 1 and 1000"));
    }
    if spec.closes_at <= spec.opens_at {
        return Err(ApiError::invalid("closes_at", "must be after opens_at"));
    }
    let (seed, seed_hash) = super::new_seed();
    let mut tx = app.db.begin().await?;
    let json = serde_json::to_string(&spec).map_err(ApiError::internal)?;
    let id = store::create(&mut tx, ctx.tenant_id(), &json, &seed, &seed_hash).await?;
    audit::record(
        &mut tx,
        &ctx,
        Change::new("draw.created", "draw", id)
            .details(serde_json::json!({"spec": spec, "seed_hash": seed_hash})),
    )
    .await?;
    tx.commit().await?;
    let (row, entries) = load(&app, ctx.tenant_id(), id).await?;
    Ok((
        StatusCode::CREATED,
        Json(view(row, &entries, app.clock.now())?),
    ))
}

#[utoipa::path(get, path = "/draws/{id}", tag = "draws", operation_id = "get_draw",
    params(("id" = i64, Path)), security(("api_key" = ["tenant.read"])),
    responses((status = 200, body = Draw), (status = 404, body = crate::error::Problem)))]
async fn get_draw(
    State(app): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> ApiResult<Json<Draw>> {
    let (row, entries) = load(&app, ctx.tenant_id(), id).await?;
    Ok(Json(view(row, &entries, app.clock.now())?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EntryRequest {
    pub member_id: i64,
    /// Entries to buy (1–100).
    pub entries: i64,
    /// The one-time code the member received (required unless the shop turned it off).
    pub otp: Option<OtpProof>,
}

/// Buy entries to an open draw with points.
#[utoipa::path(post, path = "/draws/{id}/entries", tag = "draws", operation_id = "enter_draw",
    params(("id" = i64, Path)), request_body = EntryRequest, security(("api_key" = ["points.redeem"])),
    responses((status = 201, body = Entered), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
async fn enter_draw(
    State(app): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    headers: HeaderMap,
    JsonBody(req): JsonBody<EntryRequest>,
) -> ApiResult<(StatusCode, Json<Entered>)> {
    let tenant = ctx.tenant_id();
    // The draw first: another shop's draw id is simply not found.
    store::get(&app.db, tenant, id)
        .await?
        .ok_or_else(|| ApiError::not_found("draw"))?;
    let member = crate::members::store::get(&app.db, tenant, req.member_id)
        .await?
        .ok_or_else(|| {
            ApiError::invalid(
                "member_id",
                format!("member {} does not exist", req.member_id),
            )
        })?;
    let idem_key = crate::ledger::api::ledger_key("draw", &ctx.principal, &headers);
    let (kind, actor_id, label) = ctx.principal.audit_actor();
    let actor = ActorRef {
        kind,
        id: Some(actor_id),
        label: &label,
    };
    let entered = enter(
        &app.db,
        tenant,
        id,
        member.id,
        req.entries,
        req.otp.as_ref(),
        idem_key,
        actor,
        &ctx.meta,
        app.clock.now(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(entered)))
}

/// Make the draw after it closes: reveals the seed and records the winners, which
/// anyone can recompute from the proof. Happens once.
#[utoipa::path(post, path = "/draws/{id}/draw", tag = "draws", operation_id = "make_draw",
    params(("id" = i64, Path)), security(("api_key" = ["rewards.manage"])),
    responses((status = 200, body = Draw), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
pub(crate) async fn make_draw(
    State(app): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> ApiResult<Json<Draw>> {
    let tenant = ctx.tenant_id();
    let row = store::get(&app.db, tenant, id)
        .await?
        .ok_or_else(|| ApiError::not_found("draw"))?;
    let spec: DrawSpec = serde_json::from_str(&row.spec).map_err(ApiError::internal)?;
    if row.drawn_at.is_some() {
        return Err(ApiError::new(
            Code::WrongState,
            "this draw was already made",
        ));
    }
    if app.clock.now() < spec.closes_at {
        return Err(ApiError::new(
            Code::WrongState,
            "the draw is still open; make it after it closes",
        ));
    }
    let entries = store::entries(&app.db, tenant, id).await?;
    let list: Vec<ProofEntry> = entries
        .iter()
        .map(|(e, m)| ProofEntry {
            entry_id: *e,
            holder: super::holder_ref(id, *m),
        })
        .collect();
    let winners = super::pick_winners(&row.seed, &list, spec.winners as usize);
    let mut tx = app.db.begin().await?;
    if !store::set_winners(
        &mut tx,
        tenant,
        id,
        &serde_json::to_string(&winners).map_err(ApiError::internal)?,
    )
    .await?
    {
        return Err(ApiError::new(
            Code::WrongState,
            "this draw was already made",
        ));
    }
    audit::record(
        &mut tx,
        &ctx,
        Change::new("draw.drawn", "draw", id).details(serde_json::json!({"seed": row.seed, "seed_hash": row.seed_hash, "entries": entries.len(), "winners": winners})),
    )
    .await?;
    tx.commit().await?;
    let (row, entries) = load(&app, tenant, id).await?;
    Ok(Json(view(row, &entries, app.clock.now())?))
}

async fn proof_of(app: &AppState, tenant: i64, id: i64) -> ApiResult<Proof> {
    let row = store::get(&app.db, tenant, id)
        .await?
        .ok_or_else(|| ApiError::not_found("draw"))?;
    let spec: DrawSpec = serde_json::from_str(&row.spec).map_err(ApiError::internal)?;
    let entries = store::entries(&app.db, tenant, id).await?;
    Ok(Proof {
        draw_id: id,
        name: spec.name,
        seed_hash: row.seed_hash,
        seed: row.drawn_at.map(|_| row.seed),
        winners_count: spec.winners,
        entries: entries
            .iter()
            .map(|(e, m)| ProofEntry {
                entry_id: *e,
                holder: super::holder_ref(id, *m),
            })
            .collect(),
        winners: row
            .winners
            .as_deref()
            .and_then(|w| serde_json::from_str(w).ok())
            .unwrap_or_default(),
        rule: super::RULE.into(),
    })
}

/// The draw's proof: seed hash, entries (holders pseudonymous), and after the draw the
/// seed and winners. Check it with `loyal draw verify`.
#[utoipa::path(get, path = "/draws/{id}/proof", tag = "draws", operation_id = "draw_proof",
    params(("id" = i64, Path)), security(("api_key" = ["tenant.read"])),
    responses((status = 200, body = Proof), (status = 404, body = crate::error::Problem)))]
async fn draw_proof(
    State(app): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> ApiResult<Json<Proof>> {
    Ok(Json(proof_of(&app, ctx.tenant_id(), id).await?))
}

/// The same proof, public, so members and anyone else can verify the draw.
#[utoipa::path(get, path = "/public/{slug}/draws/{draw_id}/proof", tag = "draws", operation_id = "public_draw_proof",
    params(("slug" = String, Path), ("draw_id" = i64, Path)), security(()),
    responses((status = 200, body = Proof), (status = 404, body = crate::error::Problem)))]
async fn public_draw_proof(
    State(app): State<AppState>,
    Path((slug, draw_id)): Path<(String, String)>,
) -> ApiResult<Json<Proof>> {
    let tenant = crate::tenants::store::find_tenant_by_slug(&app.db, &slug)
        .await?
        .filter(|t| t.status == "active")
        .ok_or_else(|| ApiError::not_found("shop"))?;
    let id: i64 = draw_id.parse().map_err(|_| ApiError::not_found("draw"))?;
    Ok(Json(proof_of(&app, tenant.id, id).await?))
}
