//! Authentication (web sessions, API keys, passwords) and authorization (roles and
//! permissions). A request's [`Principal`] is resolved once by
//! `http::authorize` and handed to handlers; handlers never parse credentials.
//!
//! Must never happen: a password or token stored in clear; a principal acting in
//! another tenant; an API key with a permission its creator does not have now; a
//! principal granting a role or scope it does not hold; a staff member limited to some
//! branches acting at another.

pub mod api;
pub mod api_keys;
pub mod pages;
pub mod permissions;
pub mod rate_limit;
pub mod secrets;
pub mod sessions;
pub mod store;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::Serialize;

pub use permissions::{Permission, Role};

use crate::audit::RequestMeta;
use crate::error::{ApiError, Code};

/// Who is acting.
#[derive(Clone, Debug)]
pub enum Actor {
    Staff {
        id: i64,
        email: String,
        name: String,
        role: Role,
    },
    /// A key acts for the staff member who made it (directly, or through a key they
    /// made): its scopes are what it was given and that person may still do.
    ApiKey {
        id: i64,
        name: String,
        scopes: Vec<Permission>,
        created_by: i64,
    },
}

/// An authenticated caller, always within exactly one tenant.
#[derive(Clone, Debug)]
pub struct Principal {
    pub tenant_id: i64,
    pub actor: Actor,
    /// For a web session: the CSRF token the session was issued with.
    pub csrf_token: Option<String>,
    /// The branches the staff member (for a key: its creator) works at; empty: all.
    pub branches: Vec<i64>,
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

    /// The staff member this principal acts for: the person signed in, or a key's maker.
    pub fn person(&self) -> i64 {
        match &self.actor {
            Actor::Staff { id, .. } => *id,
            Actor::ApiKey { created_by, .. } => *created_by,
        }
    }

    /// May this principal give `role` to someone (invite, change a role)? Only an owner
    /// makes owners; anyone else may give a role only when it holds every permission
    /// of that role itself (a key scoped to `staff.manage` alone can give none).
    pub fn may_grant(&self, role: Role) -> bool {
        match (self.role(), role) {
            (Some(Role::Owner), _) => true,
            (_, Role::Owner) => false,
            _ => role.permissions().iter().all(|p| self.allows(*p)),
        }
    }

    /// May this principal give someone these branches (empty: all)? One limited to some
    /// branches gives only some of its own.
    pub fn may_assign_branches(&self, branch_ids: &[i64]) -> bool {
        self.branches.is_empty()
            || (!branch_ids.is_empty() && branch_ids.iter().all(|b| self.branches.contains(b)))
    }

    /// Refuse acting at a branch this principal does not work at. A principal limited
    /// to some branches must name one (`field` is the request's field).
    pub fn check_branch(&self, branch_id: Option<i64>, field: &str) -> Result<(), ApiError> {
        if self.branches.is_empty() || branch_id.is_some_and(|b| self.branches.contains(&b)) {
            return Ok(());
        }
        let yours = self
            .branches
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        Err(ApiError::field(
            Code::Forbidden,
            field,
            match branch_id {
                Some(b) => format!("you work at branches {yours}, not at branch {b}"),
                None => format!("you work at branches {yours}: name one of them"),
            },
        ))
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

impl crate::audit::Author for Ctx {
    fn tenant_id(&self) -> i64 {
        self.principal.tenant_id
    }
    fn actor(&self) -> (&'static str, i64, String) {
        self.principal.audit_actor()
    }
    fn meta(&self) -> &RequestMeta {
        &self.meta
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

#[cfg(test)]
mod tests {
    use super::*;

    fn staff(role: Role, branches: &[i64]) -> Principal {
        Principal {
            tenant_id: 1,
            actor: Actor::Staff {
                id: 2,
                email: "a@b.co".into(),
                name: "A".into(),
                role,
            },
            csrf_token: None,
            branches: branches.to_vec(),
        }
    }

    fn key(scopes: &[Permission]) -> Principal {
        Principal {
            tenant_id: 1,
            actor: Actor::ApiKey {
                id: 3,
                name: "k".into(),
                scopes: scopes.to_vec(),
                created_by: 2,
            },
            csrf_token: None,
            branches: vec![],
        }
    }

    #[test]
    fn only_owners_make_owners_and_others_give_only_what_they_hold() {
        assert!(staff(Role::Owner, &[]).may_grant(Role::Owner));
        assert!(!staff(Role::Admin, &[]).may_grant(Role::Owner));
        assert!(staff(Role::Admin, &[]).may_grant(Role::Admin));
        assert!(staff(Role::Admin, &[]).may_grant(Role::Cashier));
        assert!(!staff(Role::Manager, &[]).may_grant(Role::Admin));
        // A key scoped to managing staff holds none of a cashier's permissions.
        let staff_manager = key(&[Permission::StaffManage]);
        assert!(Role::ALL.iter().all(|r| !staff_manager.may_grant(*r)));
        let all = key(Permission::ALL);
        assert!(all.may_grant(Role::Admin) && !all.may_grant(Role::Owner));
        let cashier_like = key(Role::Cashier.permissions());
        assert!(cashier_like.may_grant(Role::Cashier) && !cashier_like.may_grant(Role::Manager));
    }

    #[test]
    fn a_principal_limited_to_branches_acts_and_assigns_only_there() {
        let anywhere = staff(Role::Cashier, &[]);
        assert!(anywhere.check_branch(None, "branch_id").is_ok());
        assert!(anywhere.check_branch(Some(9), "branch_id").is_ok());
        let at_one = staff(Role::Cashier, &[1]);
        assert!(at_one.check_branch(Some(1), "branch_id").is_ok());
        let e = at_one.check_branch(Some(2), "branch_id").unwrap_err();
        assert_eq!(
            (e.code, e.field.as_deref()),
            (Code::Forbidden, Some("branch_id"))
        );
        assert!(at_one.check_branch(None, "branch_id").is_err());
        let manager = staff(Role::Manager, &[1, 2]);
        assert!(manager.may_assign_branches(&[2]));
        assert!(!manager.may_assign_branches(&[3]));
        assert!(
            !manager.may_assign_branches(&[]),
            "empty means every branch"
        );
        assert!(anywhere.may_assign_branches(&[]));
    }
}
