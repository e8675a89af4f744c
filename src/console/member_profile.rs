//! A member's profile edited by staff (`/admin/members/{id}/edit`): names, phone, email,
//! gender, birthday (Buddhist era on Thai pages), address, tags, custom attributes, and
//! the national ID for those allowed to see it. Saved through the API's own handler, so
//! the page checks exactly what the API checks; a refusal shows next to its field in the
//! page's words, with everything typed kept. A field left empty keeps its value where the
//! API cannot empty it (email, birthday, national ID).

use std::collections::HashMap;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use maud::{Markup, html};
use serde_json::{Map, Value, json};

use super::{ctx, page};
use crate::audit::RequestMeta;
use crate::auth::{Permission, Principal};
use crate::error::{ApiError, Code};
use crate::http::json::{JsonBody, parse_json};
use crate::http::query::PathId;
use crate::members::store::Member;
use crate::state::AppState;
use crate::tenants::model::Language;
use crate::web::{
    PageSession, csrf_ok, field_error, language, page_language, phone_for_people, refuse, t,
};

type Fields = HashMap<String, String>;

const GENDERS: [(&str, &str); 4] = [
    ("unspecified", "g_unspecified"),
    ("female", "g_female"),
    ("male", "g_male"),
    ("other", "g_other"),
];

/// An attribute's value as typed back: text as it is, numbers and yes/no as written.
fn attribute_as_typed(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The form's fields from the stored profile.
fn fields_of(lang: Language, m: &Member) -> Fields {
    let attributes = m
        .attributes
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| format!("{k}: {}", attribute_as_typed(v)))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default();
    [
        ("first_name", m.first_name.clone()),
        ("last_name", m.last_name.clone()),
        ("phone", phone_for_people(&m.phone)),
        ("email", m.email.clone().unwrap_or_default()),
        ("gender", m.gender.clone()),
        (
            "birthday",
            m.birthday
                .as_deref()
                .map(|b| crate::web::words::birthday_as_typed(lang, b))
                .unwrap_or_default(),
        ),
        ("address", m.address.clone()),
        ("tags", m.tags.join(", ")),
        ("attributes", attributes),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// An attribute typed as `name: value`; numbers and true/false keep their type.
fn attribute_value(typed: &str) -> Value {
    let t = typed.trim();
    match t {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ => t
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::String(t.to_string())),
    }
}

/// The API's request from the form, or the field the page could not read.
fn request_from(f: &Fields, sensitive: bool) -> Result<Value, (&'static str, &'static str)> {
    let get = |k: &str| f.get(k).map(|v| v.trim().to_string()).unwrap_or_default();
    let mut req = Map::new();
    for k in ["first_name", "last_name", "address", "phone", "gender"] {
        req.insert(k.into(), json!(get(k)));
    }
    for k in ["email"] {
        if !get(k).is_empty() {
            req.insert(k.into(), json!(get(k)));
        }
    }
    if !get("birthday").is_empty() {
        let iso = crate::members::model::parse_birthday(&get("birthday"))
            .ok_or(("birthday", "s_bad_birthday"))?;
        req.insert("birthday".into(), json!(iso));
    }
    if sensitive && !get("national_id").is_empty() {
        req.insert(
            "national_id".into(),
            json!(get("national_id").replace(['-', ' '], "")),
        );
    }
    let tags: Vec<String> = get("tags")
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(String::from)
        .collect();
    req.insert("tags".into(), json!(tags));
    let mut attributes = Map::new();
    for line in get("attributes").lines().filter(|l| !l.trim().is_empty()) {
        let (k, v) = line
            .split_once(':')
            .ok_or(("attributes", "mp_bad_attributes"))?;
        attributes.insert(k.trim().to_string(), attribute_value(v));
    }
    req.insert("attributes".into(), Value::Object(attributes));
    Ok(Value::Object(req))
}

/// The words for a refusal on a field.
fn words_for(e: &ApiError) -> (&'static str, &'static str) {
    let field = e.field.as_deref().unwrap_or_default();
    let field = field.split(['[', '.']).next().unwrap_or_default();
    match (field, e.code) {
        ("phone", Code::AlreadyExists) => ("phone", "mp_phone_taken"),
        ("phone", _) => ("phone", "bad_phone"),
        ("email", _) => ("email", "m_bad_email"),
        ("birthday", _) => ("birthday", "s_bad_birthday"),
        ("national_id", _) => ("national_id", "mp_bad_national_id"),
        ("tags", _) => ("tags", "mp_bad_tags"),
        ("attributes", _) => ("attributes", "mp_bad_attributes"),
        ("address", _) => ("address", "mp_address_too_long"),
        ("first_name", _) => ("first_name", "m_too_long"),
        ("last_name", _) => ("last_name", "m_too_long"),
        _ => ("", "mp_not_saved"),
    }
}

fn form(
    lang: Language,
    p: &Principal,
    id: i64,
    f: &Fields,
    error: Option<(&'static str, &'static str)>,
) -> Markup {
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    let error_of = |field: &str| {
        error
            .filter(|(f, _)| *f == field)
            .map(|(_, words)| t(lang, words))
    };
    let input =
        |name: &'static str, label: &'static str, mode: &'static str, auto: &'static str| {
            let e = error_of(name);
            html! {
                label for=(name) { (t(lang, label)) }
                input id=(name) name=(name) inputmode=(mode) autocomplete=(auto) value=(get(name))
                    aria-invalid=[e.map(|_| "true")] aria-describedby=(format!("{name}-error"));
                (field_error(name, e))
            }
        };
    let area = |name: &'static str, label: &'static str, note: &'static str| {
        let e = error_of(name);
        html! {
            label for=(name) { (t(lang, label)) }
            textarea id=(name) name=(name) rows="3"
                aria-invalid=[e.map(|_| "true")] aria-describedby=(format!("{name}-note {name}-error")) { (get(name)) }
            p.muted id=(format!("{name}-note")) { (t(lang, note)) }
            (field_error(name, e))
        }
    };
    html! {
        @if let Some(("", words)) = error { p.error #profile-error role="alert" { (t(lang, words)) } }
        form.sections-form #edit-profile method="post" action=(format!("/admin/members/{id}/edit")) {
            input type="hidden" name="_csrf" value=(p.csrf_token.clone().unwrap_or_default());
            fieldset {
                legend { (t(lang, "mm_profile")) }
                div.columns {
                    div { (input("first_name", "s_first_name", "text", "off")) }
                    div { (input("last_name", "s_last_name", "text", "off")) }
                }
                div.columns {
                    div { (input("phone", "phone", "tel", "off")) }
                    div { (input("email", "email", "email", "off")) }
                }
                div.columns {
                    div {
                        label for="gender" { (t(lang, "mm_gender")) }
                        select #gender name="gender" {
                            @for (value, words) in GENDERS { option value=(value) selected[get("gender") == value] { (t(lang, words)) } }
                        }
                    }
                    div { (input("birthday", "mp_birthday", "numeric", "off")) }
                }
                (area("address", "mp_address", "mp_address_note"))
                @if p.allows(Permission::MembersSensitive) {
                    (input("national_id", "mm_national_id", "numeric", "off"))
                    p.muted { (t(lang, "mp_national_id_note")) }
                }
            }
            fieldset {
                legend { (t(lang, "mp_more")) }
                (input("tags", "mp_tags", "text", "off"))
                (area("attributes", "mp_attributes", "mp_attributes_note"))
            }
            div.row {
                button #save-profile type="submit" { (t(lang, "w_save")) }
                a.button.secondary href=(format!("/admin/members/{id}")) { (t(lang, "mm_cancel")) }
            }
        }
    }
}

async fn stored(
    app: &AppState,
    p: &Principal,
    meta: RequestMeta,
    id: i64,
) -> Result<Member, ApiError> {
    crate::members::api::get_member(State(app.clone()), ctx(p, meta), PathId(id))
        .await
        .map(|m| m.0)
}

fn title(lang: Language, m: &Member) -> String {
    let name = format!("{} {}", m.first_name, m.last_name)
        .trim()
        .to_string();
    format!("{} · {name}", t(lang, "mp_edit"))
}

/// `GET /admin/members/{id}/edit`.
pub async fn edit(
    State(app): State<AppState>,
    PageSession(p): PageSession,
    meta: RequestMeta,
    jar: CookieJar,
    Path(id): Path<i64>,
    Query(q): Query<Fields>,
) -> Response {
    let lang = page_language(q.get("lang").map(String::as_str), &jar);
    if !p.allows(Permission::MembersWrite) {
        return refuse(lang);
    }
    match stored(&app, &p, meta, id).await {
        Ok(m) if m.status != "erased" => {
            let body = form(lang, &p, id, &fields_of(lang, &m), None);
            page(lang, &title(lang, &m), &p, body, StatusCode::OK)
        }
        Ok(_) => Redirect::to(&format!("/admin/members/{id}")).into_response(),
        Err(e) if e.code == Code::NotFound => Redirect::to("/admin/members").into_response(),
        Err(e) => crate::web::server_error(lang, e.message),
    }
}

/// `POST /admin/members/{id}/edit`: save through the API's handler.
pub async fn save(
    State(app): State<AppState>,
    PageSession(p): PageSession,
    meta: RequestMeta,
    jar: CookieJar,
    Path(id): Path<i64>,
    Form(f): Form<Fields>,
) -> Response {
    let lang = language(None, &jar);
    if !p.allows(Permission::MembersWrite)
        || !csrf_ok(&p, f.get("_csrf").map(String::as_str).unwrap_or_default())
    {
        return refuse(lang);
    }
    let m = match stored(&app, &p, meta.clone(), id).await {
        Ok(m) => m,
        Err(e) if e.code == Code::NotFound => {
            return Redirect::to("/admin/members").into_response();
        }
        Err(e) => return crate::web::server_error(lang, e.message),
    };
    let refused = |error: (&'static str, &'static str), status: StatusCode| {
        page(
            lang,
            &title(lang, &m),
            &p,
            form(lang, &p, id, &f, Some(error)),
            status,
        )
    };
    let req = match request_from(&f, p.allows(Permission::MembersSensitive)) {
        Ok(r) => r,
        Err(e) => return refused(e, StatusCode::UNPROCESSABLE_ENTITY),
    };
    let parsed = match parse_json(req.to_string().as_bytes()) {
        Ok(fields) => fields,
        Err(e) => return refused(words_for(&e), e.code.status()),
    };
    match crate::members::api::update_member(
        State(app.clone()),
        ctx(&p, meta),
        PathId(id),
        JsonBody(parsed),
    )
    .await
    {
        Ok(_) => Redirect::to(&format!("/admin/members/{id}?saved=1")).into_response(),
        Err(e) => refused(words_for(&e), e.code.status()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_read_back_with_their_types() {
        let f: Fields = [
            ("phone".to_string(), "081-234-5678".to_string()),
            ("birthday".to_string(), "31/12/2535".to_string()),
            (
                "attributes".to_string(),
                "visits: 12\nvip: true\nnote: likes oat milk".to_string(),
            ),
            ("tags".to_string(), "vip, coffee ,".to_string()),
        ]
        .into_iter()
        .collect();
        let req = request_from(&f, false).unwrap();
        assert_eq!(req["birthday"], "1992-12-31");
        assert_eq!(req["tags"], json!(["vip", "coffee"]));
        assert_eq!(
            req["attributes"],
            json!({"visits": 12, "vip": true, "note": "likes oat milk"})
        );
        let mut bad = f.clone();
        bad.insert("attributes".into(), "no colon here".into());
        assert_eq!(
            request_from(&bad, false).unwrap_err(),
            ("attributes", "mp_bad_attributes")
        );
    }
}
