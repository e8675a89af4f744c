//! The OpenAPI document is generated from the handlers' annotations, and it is also the
//! access-control table: each operation's `security` names the permission it needs
//! (`("api_key" = ["branches.manage"])`), `("api_key" = [])` means any signed-in caller,
//! and `security(())` means public. [`Policies`] is read from the document at start-up
//! and enforced by `http::authorize` for every route, so what the docs say is what runs.

use std::collections::HashMap;

use axum::http::Method;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{OpenApi as OpenApiDoc, PathItem};
use utoipa::{Modify, OpenApi};

use crate::auth::Permission;

#[derive(OpenApi)]
#[openapi(
    info(title = "Loyal API", description = "Loyalty, membership and customer data. Errors are application/problem+json with a stable `code`."),
    modifiers(&SecuritySchemes),
    components(schemas(crate::error::Problem))
)]
pub struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, doc: &mut OpenApiDoc) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(
                crate::auth::sessions::COOKIE,
            ))),
        );
    }
}

/// Who may call an operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Access {
    Public,
    SignedIn,
    Needs(Permission),
}

/// Access rules of every operation, by (method, path template).
#[derive(Clone, Debug, Default)]
pub struct Policies(HashMap<(Method, String), Access>);

impl Policies {
    pub fn get(&self, method: &Method, path: &str) -> Option<&Access> {
        self.0.get(&(method.clone(), path.to_string()))
    }

    pub fn iter(&self) -> impl Iterator<Item = (&(Method, String), &Access)> {
        self.0.iter()
    }
}

fn operations(item: &PathItem) -> Vec<(Method, &utoipa::openapi::path::Operation)> {
    [
        (Method::GET, &item.get),
        (Method::POST, &item.post),
        (Method::PUT, &item.put),
        (Method::PATCH, &item.patch),
        (Method::DELETE, &item.delete),
    ]
    .into_iter()
    .filter_map(|(m, op)| op.as_ref().map(|op| (m, op)))
    .collect()
}

/// Read the access rules from the document, and complete the document: every signed-in
/// operation accepts a session cookie as well as an API key, and its description names
/// the permission. Fails if an operation declares no rule or an unknown permission.
pub fn finish(doc: &mut OpenApiDoc) -> Result<Policies, String> {
    let mut policies = HashMap::new();
    for (path, item) in doc.paths.paths.iter_mut() {
        let methods: Vec<Method> = operations(item).into_iter().map(|(m, _)| m).collect();
        for method in methods {
            let op = match method {
                Method::GET => item.get.as_mut(),
                Method::POST => item.post.as_mut(),
                Method::PUT => item.put.as_mut(),
                Method::PATCH => item.patch.as_mut(),
                _ => item.delete.as_mut(),
            }
            .expect("listed operation exists");
            let reqs = op.security.as_ref().ok_or_else(|| {
                format!("{method} {path} declares no security (permission or public)")
            })?;
            let value = serde_json::to_value(reqs).map_err(|e| e.to_string())?;
            let access = match value
                .as_array()
                .and_then(|a| a.first())
                .and_then(|r| r.as_object())
            {
                Some(req) if req.is_empty() => Access::Public,
                Some(req) => {
                    let scopes =
                        req.get("api_key")
                            .and_then(|s| s.as_array())
                            .ok_or_else(|| {
                                format!("{method} {path}: security must use the api_key scheme")
                            })?;
                    match scopes.as_slice() {
                        [] => Access::SignedIn,
                        [one] => {
                            let name = one.as_str().unwrap_or_default();
                            Access::Needs(
                                name.parse().map_err(|e| format!("{method} {path}: {e}"))?,
                            )
                        }
                        _ => return Err(format!("{method} {path}: name exactly one permission")),
                    }
                }
                None => return Err(format!("{method} {path}: empty security list")),
            };
            let note = match &access {
                Access::Public => "Public: no credentials needed.".to_string(),
                Access::SignedIn => "Any signed-in staff member or API key.".to_string(),
                Access::Needs(p) => format!("Requires the permission `{p}`."),
            };
            if let Access::Needs(_) | Access::SignedIn = &access {
                let scopes: Vec<String> = match &access {
                    Access::Needs(p) => vec![p.to_string()],
                    _ => vec![],
                };
                op.security = Some(vec![
                    utoipa::openapi::security::SecurityRequirement::new("api_key", scopes.clone()),
                    utoipa::openapi::security::SecurityRequirement::new("session", scopes),
                ]);
            }
            op.description = Some(match op.description.take() {
                Some(d) if !d.is_empty() => format!("{d}\n\n{note}"),
                _ => note,
            });
            policies.insert((method, path.clone()), access);
        }
    }
    Ok(Policies(policies))
}
