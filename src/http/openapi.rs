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
            document_problems(op, &method, &access);
            policies.insert((method, path.clone()), access);
        }
    }
    loosen_flattened(doc);
    Ok(Policies(policies))
}

/// The errors any operation of its shape may answer, each as `application/problem+json`
/// (the error table in `error.rs`): a malformed query or address (400), the server
/// failing or timing out (500, 503), and as applicable missing or insufficient
/// credentials (401, 403), something named that does not exist (404), a conflict or an
/// `Idempotency-Key` still in use (409), a body too large, of another type, or invalid
/// (413, 415, 422), too many attempts (429). Errors an operation documents itself keep
/// their description; their content type is corrected to problem+json.
fn document_problems(op: &mut utoipa::openapi::path::Operation, method: &Method, access: &Access) {
    use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
    let problem = || {
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("Problem")))
            .build()
    };
    // Documented errors: the same schema, under the type the server sends.
    for response in op.responses.responses.values_mut() {
        if let RefOr::T(response) = response
            && let Some(json) = response.content.get("application/json")
            && matches!(&json.schema, Some(RefOr::Ref(r)) if r.ref_location.ends_with("/Problem"))
        {
            response.content.shift_remove("application/json");
            response
                .content
                .insert(crate::error::PROBLEM_JSON.to_string(), problem());
        }
    }
    let signed_in = *access != Access::Public;
    let has_body = op.request_body.is_some();
    let write = *method != Method::GET;
    let mut statuses = vec![
        ("400", "The query or the address is malformed"),
        ("404", "Something the request names does not exist"),
        (
            "429",
            "Too many attempts; wait the seconds Retry-After says",
        ),
        ("500", "Something went wrong on our side"),
        (
            "503",
            "The server is busy or the request took too long; retry",
        ),
    ];
    if signed_in {
        statuses.push(("401", "Sign in or send a valid API key"));
        statuses.push(("403", "The role or API key does not allow this"));
    }
    if write {
        statuses.push((
            "409",
            "A conflict with the current state, or an Idempotency-Key still in use",
        ));
    }
    if has_body || write {
        statuses.push(("422", "A field has an invalid value; `field` names it"));
    }
    if has_body {
        statuses.push(("413", "The request body is too large"));
        statuses.push((
            "415",
            "The request body is not of the type this operation takes",
        ));
    }
    for (status, description) in statuses {
        op.responses
            .responses
            .entry(status.to_string())
            .or_insert_with(|| {
                RefOr::T(
                    ResponseBuilder::new()
                        .description(description)
                        .content(crate::error::PROBLEM_JSON, problem())
                        .build(),
                )
            });
    }
}

/// A response type with a flattened request type (`Reward` holds a `RewardSpec`) is an
/// `allOf` of the two; the request type refuses unknown fields, which would refuse the
/// response's own. In such a composition the request type is inlined without that rule
/// (it keeps it where it is a request body).
fn loosen_flattened(doc: &mut OpenApiDoc) {
    use utoipa::openapi::RefOr;
    use utoipa::openapi::schema::{AdditionalProperties, Schema};
    let Some(components) = doc.components.as_mut() else {
        return;
    };
    let strict: HashMap<String, Schema> = components
        .schemas
        .iter()
        .filter_map(|(name, schema)| match schema {
            RefOr::T(Schema::Object(o))
                if matches!(
                    o.additional_properties.as_deref(),
                    Some(AdditionalProperties::FreeForm(false))
                ) =>
            {
                let mut open = o.clone();
                open.additional_properties = None;
                Some((format!("#/components/schemas/{name}"), Schema::Object(open)))
            }
            _ => None,
        })
        .collect();
    for schema in components.schemas.values_mut() {
        open_compositions(schema, &strict);
    }
}

/// Inline the `strict` schemas an `allOf` refers to, everywhere inside `schema` (a
/// generic page of a flattened type holds the composition in its items).
fn open_compositions(
    schema: &mut utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
    strict: &HashMap<String, utoipa::openapi::schema::Schema>,
) {
    use utoipa::openapi::RefOr;
    use utoipa::openapi::schema::{ArrayItems, Schema};
    let RefOr::T(schema) = schema else { return };
    match schema {
        Schema::AllOf(all) => {
            for item in all.items.iter_mut() {
                if let RefOr::Ref(r) = item
                    && let Some(open) = strict.get(&r.ref_location)
                {
                    *item = RefOr::T(open.clone());
                }
                open_compositions(item, strict);
            }
        }
        Schema::OneOf(one) => one
            .items
            .iter_mut()
            .for_each(|i| open_compositions(i, strict)),
        Schema::AnyOf(any) => any
            .items
            .iter_mut()
            .for_each(|i| open_compositions(i, strict)),
        Schema::Array(array) => {
            if let ArrayItems::RefOrSchema(items) = &mut array.items {
                open_compositions(items, strict);
            }
        }
        Schema::Object(object) => object
            .properties
            .values_mut()
            .for_each(|p| open_compositions(p, strict)),
        _ => {}
    }
}
