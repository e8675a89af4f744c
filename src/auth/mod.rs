//! Authentication (web sessions, API keys, passwords) and authorization (roles and
//! permissions). A request's [`Principal`] is resolved once by
//! `http::authorize` and handed to handlers; handlers never parse credentials.
//!
//! Must never happen: a password or token stored in clear; a principal acting in
//! another tenant; an API key with a permission its creator did not have.

pub mod api;
pub mod api_keys;
pub mod pages;
pub mod permissions;
pub mod rate_limit;
pub mod secrets;
pub mod sessions;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::Serialize;

pub use permissions::{Permission, Role};

use crate::error::{ApiError, Code};
use crate::http::context::RequestMeta;

/// Who is acting.
#[derive(Clone, Debug)]
pub enum Actor {
    Staff {
        id: i64,
        email: String,
        name: String,
        role: Role,
    },
    ApiKey {
        id: i64,
        name: String,
        scopes: Vec<Permission>,
    },
}

/// An authenticated caller, always within exactly one tenant.
#[derive(Clone, Debug)]
pub struct Principal {
    pub tenant_id: i64,
    pub actor: Actor,
    /// For a web session: the CSRF token the session was issued with.
    pub csrf_token: Option<String>,
}

impl Principal {
    pub fn allows(&self, permission: Permission) -> bool {
        match &self.actor {
            Actor::Staff { role, .. } => role.allows(permission),
            Actor::ApiKey { scopes, .. } => scopes.contains(&permission),
        }
    }

    pub fn permissions(&self) -> Vec<Permission> {
        Permission::ALL
            .iter()
            .copied()
            .filter(|p| self.allows(*p))
            .collect()
    }

    pub fn staff_id(&self) -> Option<i64> {
        match &self.actor {
            Actor::Staff { id, .. } => Some(*id),
            Actor::ApiKey { .. } => None,
        }
    }

    pub fn role(&self) -> Option<Role> {
        match &self.actor {
            Actor::Staff { role, .. } => Some(*role),
            Actor::ApiKey { .. } => None,
        }
    }

    /// (kind, id, label) as written to the audit log.
    pub fn audit_actor(&self) -> (&'static str, i64, String) {
        match &self.actor {
            Actor::Staff { id, email, .. } => ("staff", *id, email.clone()),
            Actor::ApiKey { id, name, .. } => ("api_key", *id, name.clone()),
        }
    }
}

/// The context a state-changing handler needs: who acts, and the request's id and IP
/// (both go to the audit log).
#[derive(Clone, Debug)]
pub struct Ctx {
    pub principal: Principal,
    pub meta: RequestMeta,
}

impl Ctx {
    pub fn tenant_id(&self) -> i64 {
        self.principal.tenant_id
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let principal = parts
            .extensions
            .get::<Principal>()
            .cloned()
            .ok_or_else(|| ApiError::new(Code::Unauthenticated, "sign in or send an API key"))?;
        let meta = RequestMeta::from_request_parts(parts, state).await?;
        Ok(Ctx { principal, meta })
    }
}

/// What `GET /api/v1/me` answers.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Me {
    pub tenant_id: i64,
    /// `staff` or `api_key`.
    pub kind: String,
    pub id: i64,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    #[schema(value_type = Vec<String>)]
    pub permissions: Vec<Permission>,
    /// Send this in the X-CSRF-Token header with state-changing requests made with the
    /// session cookie.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csrf_token: Option<String>,
}

impl From<&Principal> for Me {
    fn from(p: &Principal) -> Self {
        let (kind, id, name, email) = match &p.actor {
            Actor::Staff {
                id, email, name, ..
            } => ("staff", *id, name.clone(), Some(email.clone())),
            Actor::ApiKey { id, name, .. } => ("api_key", *id, name.clone(), None),
        };
        Me {
            tenant_id: p.tenant_id,
            kind: kind.into(),
            id,
            name,
            email,
            role: p.role(),
            permissions: p.permissions(),
            csrf_token: p.csrf_token.clone(),
        }
    }
}
