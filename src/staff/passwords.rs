//! Staff passwords: a person changes their own (the current one asked, tries limited like
//! sign-ins, every other session of theirs ended), and an owner or manager makes a
//! one-time reset link for someone who lost theirs: valid for a day, replacing any
//! earlier link; using it sets the new password and ends that person's sessions. The
//! link is given to the person like an invitation (by email once a shop sends email).

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use axum_extra::extract::CookieJar;
use serde::{Deserialize, Serialize};

use super::store;
use crate::audit::{self, ActorRef, Change, RequestMeta};
use crate::auth::{Actor, Ctx, secrets, sessions};
use crate::error::{ApiError, ApiResult, Code};
use crate::http::idempotency::HoldsSecret;
use crate::http::json::JsonBody;
use crate::http::query::PathId;
use crate::state::AppState;
use crate::store::now_micros;
use crate::types::NewPassword;

/// How long a reset link works.
pub const RESET_HOURS: i64 = 24;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    pub current_password: String,
    /// 10–256 characters.
    pub new_password: NewPassword,
}

/// Hash a password off the async threads, one argon2 run per core at a time.
async fn hash(app: &AppState, password: &NewPassword) -> ApiResult<String> {
    let _permit = app
        .password_checks
        .acquire()
        .await
        .map_err(ApiError::internal)?;
    let password = password.expose().to_string();
    tokio::task::spawn_blocking(move || secrets::hash_password(&password))
        .await
        .map_err(ApiError::internal)
}

async fn verify(app: &AppState, password: &str, stored: &str) -> ApiResult<bool> {
    let _permit = app
        .password_checks
        .acquire()
        .await
        .map_err(ApiError::internal)?;
    let (password, stored) = (password.to_string(), stored.to_string());
    tokio::task::spawn_blocking(move || secrets::verify_password(&password, &stored))
        .await
        .map_err(ApiError::internal)
}

/// Change your own password: give the current one. Your other sessions end; this one
/// stays. Only a signed-in person has a password (not an API key).
#[utoipa::path(put, path = "/me/password", tag = "auth", operation_id = "change_password",
    request_body = PasswordChange, security(("api_key" = [])),
    responses((status = 204), (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem), (status = 422, body = crate::error::Problem), (status = 429, body = crate::error::Problem)))]
pub(crate) async fn change_password(
    State(app): State<AppState>,
    ctx: Ctx,
    jar: CookieJar,
    JsonBody(req): JsonBody<PasswordChange>,
) -> ApiResult<StatusCode> {
    let Actor::Staff { id, .. } = &ctx.principal.actor else {
        return Err(ApiError::forbidden(
            "an API key has no password; sign in as a person",
        ));
    };
    let (tenant, id) = (ctx.tenant_id(), *id);
    let account = format!("password:{tenant}/{id}");
    let now = std::time::Instant::now();
    if let Err(wait) = app.login_limiter.begin(&account, &ctx.meta.ip, now) {
        let mut e = ApiError::new(
            Code::RateLimited,
            format!("too many tries; try again in {wait} s"),
        );
        e.retry_after_secs = Some(wait);
        return Err(e);
    }
    let creds = store::credentials_by_id(&app.db, tenant, id)
        .await?
        .ok_or_else(|| ApiError::not_found("staff member"))?;
    if !verify(&app, &req.current_password, &creds.password_hash).await? {
        return Err(ApiError::field(
            Code::InvalidCredentials,
            "current_password",
            "the current password is wrong",
        ));
    }
    app.login_limiter.succeeded(&account, &ctx.meta.ip, now);
    let hashed = hash(&app, &req.new_password).await?;
    let mut tx = app.db.begin().await?;
    store::set_password_hash(&mut tx, tenant, id, &hashed).await?;
    match jar.get(sessions::COOKIE) {
        Some(current) => {
            sessions::delete_others_for_staff(&mut tx, tenant, id, current.value()).await?
        }
        None => sessions::delete_for_staff(&mut tx, tenant, id).await?,
    }
    audit::record(
        &mut tx,
        &ctx,
        Change::new("staff.password_changed", "staff", id),
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A reset link to give the person.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ResetLink {
    pub url: String,
    pub qr_svg: String,
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: jiff::Timestamp,
}

/// Make a one-time link that lets a staff member who lost their password set a new one
/// (valid for a day; an earlier link stops working). Their password and sessions stay
/// until the link is used.
#[utoipa::path(post, path = "/staff/{id}/password-reset", tag = "staff", operation_id = "create_password_reset",
    params(("id" = i64, Path)), security(("api_key" = ["staff.manage"])),
    responses((status = 201, body = ResetLink), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub(crate) async fn create_password_reset(
    State(app): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> ApiResult<(StatusCode, Extension<HoldsSecret>, Json<ResetLink>)> {
    let target = store::get_staff(&app.db, ctx.tenant_id(), id)
        .await?
        .ok_or_else(|| ApiError::not_found("staff member"))?;
    if ctx.principal.person() == id {
        return Err(ApiError::forbidden(
            "change your own password on your account page",
        ));
    }
    if !ctx.principal.may_grant(target.role)
        || !ctx.principal.may_assign_branches(&target.branch_ids)
    {
        return Err(ApiError::forbidden(format!(
            "you cannot reset the password of a staff member with the role {}",
            target.role.as_str()
        )));
    }
    if !target.active {
        return Err(ApiError::new(
            Code::WrongState,
            "this staff member is deactivated; reactivate them first",
        ));
    }
    let token = secrets::random_token();
    let now = now_micros();
    let expires_at = now + RESET_HOURS * 3_600_000_000;
    let mut tx = app.db.begin().await?;
    store::end_password_resets(&mut tx, ctx.tenant_id(), id, now).await?;
    store::insert_password_reset(
        &mut tx,
        ctx.tenant_id(),
        id,
        &secrets::token_hash(&token),
        ctx.principal.person(),
        expires_at,
    )
    .await?;
    audit::record(
        &mut tx,
        &ctx,
        Change::new("staff.password_reset_made", "staff", id),
    )
    .await?;
    tx.commit().await?;
    let url = format!(
        "{}/reset/{token}",
        app.settings.public_url.trim_end_matches('/')
    );
    let qr_svg = crate::qr::svg(&url);
    Ok((
        StatusCode::CREATED,
        Extension(HoldsSecret),
        Json(ResetLink {
            url,
            qr_svg,
            expires_at: crate::types::timestamp(expires_at),
        }),
    ))
}

/// Whose a reset link is, while it can still be used: (shop name, the person's email).
pub async fn reset_owner(app: &AppState, token: &str) -> sqlx::Result<Option<(String, String)>> {
    let Some(reset) = store::password_reset_by_token(&app.db, &secrets::token_hash(token)).await?
    else {
        return Ok(None);
    };
    if reset.used_at.is_some() || reset.expires_at <= now_micros() {
        return Ok(None);
    }
    let creds = store::credentials_by_id(&app.db, reset.tenant_id, reset.staff_id).await?;
    let shop = crate::tenants::store::get_tenant(&app.db, reset.tenant_id).await?;
    Ok(match (creds, shop) {
        (Some(c), Some(s)) if c.active => Some((s.name, c.email)),
        _ => None,
    })
}

/// Set a new password with a reset link: once, before it expires. Ends every session of
/// the person. `Ok(false)` when the link cannot be used (used, expired, replaced).
pub async fn use_reset(
    app: &AppState,
    meta: &RequestMeta,
    token: &str,
    password: &NewPassword,
) -> ApiResult<bool> {
    let Some(reset) = store::password_reset_by_token(&app.db, &secrets::token_hash(token)).await?
    else {
        return Ok(false);
    };
    let Some(creds) = store::credentials_by_id(&app.db, reset.tenant_id, reset.staff_id)
        .await?
        .filter(|c| c.active)
    else {
        return Ok(false);
    };
    let hashed = hash(app, password).await?;
    let mut tx = app.db.begin().await?;
    if !store::use_password_reset(&mut tx, reset.tenant_id, reset.id, now_micros()).await? {
        return Ok(false);
    }
    store::set_password_hash(&mut tx, reset.tenant_id, creds.id, &hashed).await?;
    sessions::delete_for_staff(&mut tx, reset.tenant_id, creds.id).await?;
    audit::record_as(
        &mut tx,
        reset.tenant_id,
        ActorRef {
            kind: "staff",
            id: Some(creds.id),
            label: &creds.email,
        },
        meta,
        Change::new("staff.password_reset_used", "staff", creds.id),
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}
