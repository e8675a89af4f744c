//! The API as documented, kept in the repository (docs/api/openapi.json): a change to any
//! route, field or answer shows in review as a change to that file.

/// Run with LOYAL_UPDATE_OPENAPI=1 to write the current document after a deliberate change.
#[test]
fn the_served_api_matches_the_document_in_the_repository() {
    let current = serde_json::to_string_pretty(&loyal::app::openapi()).unwrap() + "\n";
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/api/openapi.json");
    if std::env::var_os("LOYAL_UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &current).unwrap();
        return;
    }
    let kept = std::fs::read_to_string(&path).unwrap_or_default();
    if kept != current {
        let first = kept
            .lines()
            .zip(current.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(kept.lines().count().min(current.lines().count()));
        panic!(
            "the API changed: docs/api/openapi.json differs from line {} ({:?} now {:?}). If the \
             change is meant, write the new document with \
             LOYAL_UPDATE_OPENAPI=1 cargo test --test api openapi_snapshot and review its diff",
            first + 1,
            kept.lines().nth(first).unwrap_or(""),
            current.lines().nth(first).unwrap_or("")
        );
    }
}
