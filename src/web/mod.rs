//! Server-rendered pages: the shared layout, Thai/English strings, and page sessions.
//! Pages call the same domain functions as the API; no business rule lives here.

pub mod strings;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use maud::{DOCTYPE, Markup, html};

use crate::app::AppState;
use crate::auth::{Principal, sessions};
use crate::tenants::model::Language;
pub use strings::t;

pub const BASE_CSS: &str = "body{font-family:system-ui,'Noto Sans Thai',sans-serif;margin:0;color:#1d1d1f;background:#fafafa}\
main{max-width:40rem;margin:0 auto;padding:1rem}label{display:block;margin:.8rem 0 .2rem;font-weight:600}\
input,select{font-size:1rem;padding:.5rem;width:100%;box-sizing:border-box;border:1px solid #888;border-radius:.3rem}\
button{font-size:1rem;padding:.6rem 1.2rem;margin-top:1rem;background:#0b5394;color:#fff;border:0;border-radius:.3rem;cursor:pointer}\
.error{color:#a40000;font-weight:600}.field-error{color:#a40000;margin:.2rem 0}nav{background:#0b5394;color:#fff;padding:.6rem 1rem}\
nav a{color:#fff;margin-right:1rem}table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.3rem;text-align:left}";

/// The full page around some content.
pub fn layout(lang: Language, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(lang.as_str()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Loyal" }
                style { (BASE_CSS) }
            }
            body {
                main { (body) }
            }
        }
    }
}

/// The page language: `?lang=` wins, then the `lang` cookie, then Thai.
pub fn language(parts_query: Option<&str>, jar: &CookieJar) -> Language {
    let from_query = parts_query.and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("lang=")));
    match from_query.or_else(|| jar.get("lang").map(|c| c.value())) {
        Some("en") => Language::En,
        _ => Language::Th,
    }
}

/// A signed-in staff member on a page; redirects to the login page otherwise.
pub struct PageSession(pub Principal);

impl FromRequestParts<AppState> for PageSession {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Response> {
        let jar = CookieJar::from_headers(&parts.headers);
        let principal = match jar.get(sessions::COOKIE) {
            Some(c) => sessions::resolve(&app.db, c.value()).await.ok().flatten(),
            None => None,
        };
        principal
            .map(PageSession)
            .ok_or_else(|| Redirect::to("/login").into_response())
    }
}
