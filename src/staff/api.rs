//! Staff accounts and invitations.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use axum_extra::extract::CookieJar;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::store::{self, Invitation, NewInvitation, StaffMember};
use crate::audit::RequestMeta;
use crate::audit::{self, ActorRef, Change};
use crate::auth::api::session_cookie;
use crate::auth::{Actor, Ctx, Me, Principal, Role, secrets, sessions};
use crate::error::{ApiError, ApiResult, Code};
use crate::http::idempotency::HoldsSecret;
use crate::http::json::JsonBody;
use crate::http::query::{Page, PageParams, PathId, QueryParams};
use crate::state::AppState;
use crate::store::now_micros;
use crate::tenants::store as tenant_store;
use crate::types::{Email, NewPassword, PersonName};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_staff))
        .routes(routes!(super::passwords::change_password))
        .routes(routes!(super::passwords::create_password_reset))
        .routes(routes!(get_staff, update_staff))
        .routes(routes!(list_invitations, create_invitation))
        .routes(routes!(revoke_invitation))
        .routes(routes!(show_invitation))
        .routes(routes!(accept_invitation))
}

/// List the shop's staff.
#[utoipa::path(get, path = "/staff", tag = "staff", operation_id = "list_staff",
    params(PageParams), security(("api_key" = ["staff.read"])), responses((status = 200, body = Page<StaffMember>)))]
pub(crate) async fn list_staff(
    State(app): State<AppState>,
    ctx: Ctx,
    QueryParams(page): QueryParams<PageParams>,
) -> ApiResult<Json<Page<StaffMember>>> {
    let limit = page.limit()?;
    let rows = store::list_staff(&app.db, ctx.tenant_id(), page.before_id()?, limit).await?;
    Ok(Json(Page::from_rows(rows, limit, |s| s.id)))
}

/// One staff member.
#[utoipa::path(get, path = "/staff/{id}", tag = "staff", operation_id = "get_staff",
    params(("id" = i64, Path)), security(("api_key" = ["staff.read"])),
    responses((status = 200, body = StaffMember), (status = 404, body = crate::error::Problem)))]
pub(crate) async fn get_staff(
    State(app): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> ApiResult<Json<StaffMember>> {
    store::get_staff(&app.db, ctx.tenant_id(), id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("staff member"))
}

/// Check that every id is a branch of this shop; names the first that is not.
async fn check_branches(app: &AppState, tenant_id: i64, ids: &[i64]) -> ApiResult<Vec<i64>> {
    let found = tenant_store::existing_branch_ids(&app.db, tenant_id, ids).await?;
    if let Some(i) = ids.iter().position(|id| !found.contains(id)) {
        return Err(ApiError::invalid(
            format!("branch_ids[{i}]"),
            format!("branch {} does not exist", ids[i]),
        ));
    }
    let mut ids = ids.to_vec();
    ids.sort();
    ids.dedup();
    Ok(ids)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StaffUpdate {
    pub name: Option<PersonName>,
    pub role: Option<Role>,
    /// Replaces the branch list; empty means all branches.
    pub branch_ids: Option<Vec<i64>>,
    /// Deactivated staff cannot sign in; their sessions end at once.
    pub active: Option<bool>,
}

/// Change a staff member's name, role, branches or status.
#[utoipa::path(patch, path = "/staff/{id}", tag = "staff", operation_id = "update_staff",
    params(("id" = i64, Path)), request_body = StaffUpdate, security(("api_key" = ["staff.manage"])),
    responses((status = 200, body = StaffMember), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub(crate) async fn update_staff(
    State(app): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    JsonBody(req): JsonBody<StaffUpdate>,
) -> ApiResult<Json<StaffMember>> {
    let current = store::get_staff(&app.db, ctx.tenant_id(), id)
        .await?
        .ok_or_else(|| ApiError::not_found("staff member"))?;
    let changes_access = req.role.is_some_and(|r| r != current.role)
        || req.active.is_some_and(|a| a != current.active);
    if (changes_access || req.branch_ids.is_some()) && !ctx.principal.may_grant(current.role) {
        return Err(ApiError::forbidden(format!(
            "you cannot change a staff member with the role {}",
            current.role.as_str()
        )));
    }
    if let Some(role) = req.role
        && !ctx.principal.may_grant(role)
    {
        return Err(ApiError::field(
            Code::Forbidden,
            "role",
            format!("you cannot give the role {}", role.as_str()),
        ));
    }
    let branches_asked = req.branch_ids.as_deref();
    if (changes_access || branches_asked.is_some())
        && !ctx.principal.may_assign_branches(&current.branch_ids)
    {
        return Err(ApiError::forbidden(
            "you cannot change a staff member who works at branches you do not",
        ));
    }
    if let Some(ids) = branches_asked
        && !ctx.principal.may_assign_branches(ids)
    {
        return Err(ApiError::field(
            Code::Forbidden,
            "branch_ids",
            "you can give only branches you work at yourself",
        ));
    }
    if changes_access && ctx.principal.person() == id {
        return Err(ApiError::field(
            Code::Forbidden,
            "role",
            "you cannot change your own role or status; ask another admin",
        ));
    }
    let branches = match &req.branch_ids {
        Some(ids) => Some(check_branches(&app, ctx.tenant_id(), ids).await?),
        None => None,
    };
    let mut tx = app.db.begin().await?;
    let loses_owner = current.role == Role::Owner
        && current.active
        && (req.role.is_some_and(|r| r != Role::Owner) || req.active == Some(false));
    if loses_owner && store::other_active_owners(&mut tx, ctx.tenant_id(), id).await? == 0 {
        return Err(ApiError::field(
            Code::InvalidField,
            "role",
            "a shop needs at least one active owner",
        ));
    }
    store::update_staff(
        &mut tx,
        ctx.tenant_id(),
        id,
        req.name.as_ref().map(|n| n.as_str()),
        req.role,
        req.active,
    )
    .await?;
    if let Some(b) = &branches {
        store::set_branches(&mut tx, ctx.tenant_id(), id, b).await?;
    }
    if changes_access {
        sessions::delete_for_staff(&mut tx, ctx.tenant_id(), id).await?;
    }
    let details = serde_json::json!({"name": req.name, "role": req.role, "branch_ids": branches, "active": req.active});
    audit::record(
        &mut tx,
        &ctx,
        Change::new("staff.updated", "staff", id).details(details),
    )
    .await?;
    tx.commit().await?;
    // Their keys may do less now (or nothing): read them again at their next use.
    app.api_keys.forget_made_by(ctx.tenant_id(), id);
    get_staff(State(app), ctx, PathId(id)).await
}

/// List invitations, newest first.
#[utoipa::path(get, path = "/invitations", tag = "staff", operation_id = "list_invitations",
    params(PageParams), security(("api_key" = ["staff.manage"])), responses((status = 200, body = Page<Invitation>)))]
pub(crate) async fn list_invitations(
    State(app): State<AppState>,
    ctx: Ctx,
    QueryParams(page): QueryParams<PageParams>,
) -> ApiResult<Json<Page<Invitation>>> {
    let limit = page.limit()?;
    let rows = store::list_invitations(&app.db, ctx.tenant_id(), page.before_id()?, limit).await?;
    let rows: Vec<Invitation> = rows.into_iter().map(|r| r.into_api()).collect();
    Ok(Json(Page::from_rows(rows, limit, |i| i.id)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewInvitationRequest {
    pub email: Email,
    pub role: Role,
    /// Branches the person will work at; empty or absent means all.
    #[serde(default)]
    pub branch_ids: Vec<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct InvitationCreated {
    pub invitation: Invitation,
    /// The link to send; it works once, until it expires.
    pub url: String,
    /// The same link as a QR code (SVG).
    pub qr_svg: String,
}

/// The invitation link for a token.
pub fn invitation_url(app: &AppState, token: &str) -> String {
    format!(
        "{}/invite/{token}",
        app.settings.public_url.trim_end_matches('/')
    )
}

/// Invite a person to join the shop's staff with a role and branches. Returns the
/// link (and its QR code) to give them.
#[utoipa::path(post, path = "/invitations", tag = "staff", operation_id = "create_invitation",
    request_body = NewInvitationRequest, security(("api_key" = ["staff.manage"])),
    responses((status = 201, body = InvitationCreated), (status = 403, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
pub(crate) async fn create_invitation(
    State(app): State<AppState>,
    ctx: Ctx,
    JsonBody(req): JsonBody<NewInvitationRequest>,
) -> ApiResult<(StatusCode, Extension<HoldsSecret>, Json<InvitationCreated>)> {
    if !ctx.principal.may_grant(req.role) {
        return Err(ApiError::field(
            Code::Forbidden,
            "role",
            format!("you cannot give the role {}", req.role.as_str()),
        ));
    }
    if !ctx.principal.may_assign_branches(&req.branch_ids) {
        return Err(ApiError::field(
            Code::Forbidden,
            "branch_ids",
            "you can give only branches you work at yourself",
        ));
    }
    let branch_ids = check_branches(&app, ctx.tenant_id(), &req.branch_ids).await?;
    if store::email_taken(&app.db, ctx.tenant_id(), req.email.as_str()).await? {
        return Err(ApiError::field(
            Code::AlreadyExists,
            "email",
            "this person is already on the staff",
        ));
    }
    let token = secrets::random_token();
    let inviter = ctx.principal.person();
    let expires_at = now_micros() + app.settings.invitation_hours as i64 * 3_600_000_000;
    let mut tx = app.db.begin().await?;
    let new = NewInvitation {
        tenant_id: ctx.tenant_id(),
        token_hash: &secrets::token_hash(&token),
        email: req.email.as_str(),
        role: req.role,
        branch_ids: &branch_ids,
        invited_by: inviter,
        expires_at,
    };
    let id = store::insert_invitation(&mut tx, new).await?;
    let details =
        serde_json::json!({"email": req.email, "role": req.role, "branch_ids": branch_ids});
    audit::record(
        &mut tx,
        &ctx,
        Change::new("invitation.created", "invitation", id).details(details),
    )
    .await?;
    tx.commit().await?;
    let invitation = store::get_invitation(&app.db, ctx.tenant_id(), id)
        .await?
        .ok_or_else(|| ApiError::internal("invitation vanished"))?;
    let url = invitation_url(&app, &token);
    let qr_svg = crate::qr::svg(&url);
    Ok((
        StatusCode::CREATED,
        Extension(HoldsSecret),
        Json(InvitationCreated {
            invitation: invitation.into_api(),
            url,
            qr_svg,
        }),
    ))
}

/// Revoke a pending invitation; its link stops working.
#[utoipa::path(delete, path = "/invitations/{id}", tag = "staff", operation_id = "revoke_invitation",
    params(("id" = i64, Path)), security(("api_key" = ["staff.manage"])),
    responses((status = 204), (status = 404, body = crate::error::Problem)))]
pub(crate) async fn revoke_invitation(
    State(app): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> ApiResult<StatusCode> {
    let mut tx = app.db.begin().await?;
    if !store::revoke_invitation(&mut tx, ctx.tenant_id(), id).await? {
        return Err(ApiError::not_found("pending invitation"));
    }
    audit::record(
        &mut tx,
        &ctx,
        Change::new("invitation.revoked", "invitation", id),
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct InvitationPreview {
    pub shop_name: String,
    pub email: String,
    pub role: Role,
    /// `pending`, `accepted`, `revoked` or `expired`.
    pub status: String,
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: jiff::Timestamp,
}

/// A pending invitation and the shop it belongs to (public: the token is the secret).
pub async fn invitation_by_token(
    app: &AppState,
    token: &str,
) -> ApiResult<(store::InvitationRow, tenant_store::Tenant)> {
    let row = store::find_invitation_by_token(&app.db, &secrets::token_hash(token))
        .await?
        .ok_or_else(|| ApiError::not_found("invitation"))?;
    let tenant = tenant_store::get_tenant(&app.db, row.tenant_id)
        .await?
        .ok_or_else(|| ApiError::not_found("invitation"))?;
    Ok((row, tenant))
}

/// What an invitation link offers (public; the token is the secret).
#[utoipa::path(get, path = "/invitation-tokens/{token}", tag = "staff", operation_id = "show_invitation",
    params(("token" = String, Path)), security(()),
    responses((status = 200, body = InvitationPreview), (status = 404, body = crate::error::Problem)))]
async fn show_invitation(
    State(app): State<AppState>,
    Path(token): Path<String>,
) -> ApiResult<Json<InvitationPreview>> {
    let (row, tenant) = invitation_by_token(&app, &token).await?;
    Ok(Json(InvitationPreview {
        status: row.status(now_micros()).into(),
        shop_name: tenant.name,
        email: row.email,
        role: row.role.parse().map_err(ApiError::internal)?,
        expires_at: crate::types::timestamp(row.expires_at),
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptInvitation {
    pub name: PersonName,
    pub password: NewPassword,
}

/// Accept an invitation: creates the staff account and signs it in. Shared by the API
/// and the invitation page.
pub async fn accept(
    app: &AppState,
    meta: &RequestMeta,
    token: &str,
    name: &PersonName,
    password: &NewPassword,
) -> ApiResult<(Principal, sessions::NewSession)> {
    let (row, tenant) = invitation_by_token(app, token).await?;
    if row.status(now_micros()) != "pending" || tenant.status != "active" {
        return Err(ApiError::new(
            Code::InvitationUnusable,
            "this invitation has expired, was revoked or was already used; ask for a new one",
        ));
    }
    let role: Role = row.role.parse().map_err(ApiError::internal)?;
    let branch_ids: Vec<i64> = serde_json::from_str(&row.branch_ids).unwrap_or_default();
    // An invitation gives what its sender may give now: someone demoted or removed
    // since it was sent cannot hand out what they no longer hold.
    let sender = store::get_staff(&app.db, row.tenant_id, row.invited_by)
        .await?
        .filter(|s| s.active)
        .map(|s| Principal {
            tenant_id: row.tenant_id,
            actor: Actor::Staff {
                id: s.id,
                email: s.email,
                name: s.name,
                role: s.role,
            },
            csrf_token: None,
            branches: s.branch_ids,
        });
    if !sender.is_some_and(|p| p.may_grant(role) && p.may_assign_branches(&branch_ids)) {
        return Err(ApiError::new(
            Code::InvitationUnusable,
            "the person who sent this invitation can no longer give this role or these branches; ask for a new one",
        ));
    }
    let pw = password.clone();
    let hash = tokio::task::spawn_blocking(move || secrets::hash_password(pw.expose()))
        .await
        .map_err(ApiError::internal)?;
    let mut tx = app.db.begin().await?;
    let staff_id = match store::insert_staff(
        &mut tx,
        row.tenant_id,
        &row.email,
        name.as_str(),
        role,
        &hash,
        &branch_ids,
    )
    .await
    {
        Err(e) if crate::store::is_unique_violation(&e) => {
            return Err(ApiError::new(
                Code::InvitationUnusable,
                "this email is already on the staff",
            ));
        }
        other => other?,
    };
    if !store::claim_invitation(&mut tx, row.tenant_id, row.id, staff_id).await? {
        return Err(ApiError::new(
            Code::InvitationUnusable,
            "this invitation was just used",
        ));
    }
    let actor = || ActorRef {
        kind: "staff",
        id: Some(staff_id),
        label: &row.email,
    };
    audit::record_as(
        &mut tx,
        row.tenant_id,
        actor(),
        meta,
        Change::new("invitation.accepted", "invitation", row.id)
            .details(serde_json::json!({"staff_id": staff_id})),
    )
    .await?;
    let session = sessions::create(
        &mut tx,
        row.tenant_id,
        staff_id,
        &meta.ip,
        app.settings.session_hours,
    )
    .await?;
    audit::record_as(
        &mut tx,
        row.tenant_id,
        actor(),
        meta,
        Change::new("session.created", "staff", staff_id),
    )
    .await?;
    tx.commit().await?;
    let principal = Principal {
        tenant_id: row.tenant_id,
        actor: Actor::Staff {
            id: staff_id,
            email: row.email.clone(),
            name: name.to_string(),
            role,
        },
        csrf_token: Some(session.csrf_token.clone()),
        branches: branch_ids,
    };
    Ok((principal, session))
}

/// Accept an invitation with a name and password; signs the new staff member in.
#[utoipa::path(post, path = "/invitation-tokens/{token}/accept", tag = "staff", operation_id = "accept_invitation",
    params(("token" = String, Path)), request_body = AcceptInvitation, security(()),
    responses((status = 201, body = Me), (status = 404, body = crate::error::Problem), (status = 410, body = crate::error::Problem)))]
async fn accept_invitation(
    State(app): State<AppState>,
    meta: RequestMeta,
    jar: CookieJar,
    Path(token): Path<String>,
    JsonBody(req): JsonBody<AcceptInvitation>,
) -> ApiResult<(CookieJar, (StatusCode, Json<Me>))> {
    let (principal, session) = accept(&app, &meta, &token, &req.name, &req.password).await?;
    Ok((
        jar.add(session_cookie(&app, session.token)),
        (StatusCode::CREATED, Json(Me::from(&principal))),
    ))
}
