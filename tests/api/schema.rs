//! The two backends' schemas are one schema: the same tables, columns, keys and indexes,
//! and migrations written from now on have one source for both.

use std::collections::BTreeMap;

use crate::helpers::{Backend, fresh_db};

/// A column as both backends can describe it: name, a portable type, NOT NULL.
type Column = (String, &'static str, bool);

#[derive(Debug, PartialEq, Default)]
struct Table {
    columns: Vec<Column>,
    primary_key: Vec<String>,
    /// (columns, unique) for every index but the primary key's; named ones by name.
    indexes: BTreeMap<String, (Vec<String>, bool)>,
}

/// SQLite stores any integer in 64 bits whatever the declared name; on PostgreSQL
/// `BIGINT` is the match and a 32-bit `INTEGER` a difference.
fn portable(declared: &str) -> &'static str {
    match declared.to_ascii_lowercase().as_str() {
        "bigint" | "int8" => "int64",
        "integer" | "int" | "int4" => "int32 (sqlite: integer)",
        "text" | "character varying" | "varchar" => "text",
        "boolean" | "bool" => "boolean",
        "blob" | "bytea" => "bytes",
        "real" | "double precision" | "float8" => "real",
        _ => "other",
    }
}

async fn sqlite_schema() -> BTreeMap<String, Table> {
    let (db, _dir) = fresh_db(Backend::Sqlite).await;
    let loyal::store::Db::Sqlite(pool) = &db else {
        unreachable!()
    };
    let tables: Vec<(String,)> = sqlx::query_as(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_sqlx%'",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut schema = BTreeMap::new();
    for (table,) in tables {
        let cols: Vec<(String, String, bool, i64)> = sqlx::query_as(
            "SELECT name, type, \"notnull\", pk FROM pragma_table_info($1) ORDER BY cid",
        )
        .bind(&table)
        .fetch_all(pool)
        .await
        .unwrap();
        let mut t = Table::default();
        let mut pk: Vec<(i64, String)> = Vec::new();
        for (name, ty, not_null, in_pk) in cols {
            // SQLite: a primary key column is NOT NULL on PostgreSQL whatever it says.
            let mut ty = portable(&ty);
            if ty.starts_with("int32") {
                ty = "int64"; // SQLite's INTEGER holds 64 bits
            }
            t.columns.push((name.clone(), ty, not_null || in_pk > 0));
            if in_pk > 0 {
                pk.push((in_pk, name));
            }
        }
        pk.sort();
        t.primary_key = pk.into_iter().map(|(_, n)| n).collect();
        let indexes: Vec<(String, bool, String)> =
            sqlx::query_as("SELECT name, \"unique\", origin FROM pragma_index_list($1)")
                .bind(&table)
                .fetch_all(pool)
                .await
                .unwrap();
        for (index, unique, origin) in indexes {
            if origin == "pk" {
                continue;
            }
            let cols: Vec<(Option<String>,)> =
                sqlx::query_as("SELECT name FROM pragma_index_info($1) ORDER BY seqno")
                    .bind(&index)
                    .fetch_all(pool)
                    .await
                    .unwrap();
            let cols: Vec<String> = cols
                .into_iter()
                .map(|(c,)| c.unwrap_or("(expression)".into()))
                .collect();
            // A UNIQUE constraint's index has a made-up name on each backend.
            let key = if origin == "c" {
                index
            } else {
                format!("unique ({})", cols.join(", "))
            };
            t.indexes.insert(key, (cols, unique));
        }
        schema.insert(table, t);
    }
    db.close().await;
    schema
}

async fn postgres_schema() -> BTreeMap<String, Table> {
    let (db, _dir) = fresh_db(Backend::Postgres).await;
    let loyal::store::Db::Postgres(pool) = &db else {
        unreachable!()
    };
    let cols: Vec<(String, String, String, bool)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text, data_type::text, is_nullable = 'NO'
         FROM information_schema.columns
         WHERE table_schema = current_schema() AND table_name NOT LIKE '_sqlx%'
         ORDER BY table_name, ordinal_position",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut schema: BTreeMap<String, Table> = BTreeMap::new();
    for (table, name, ty, not_null) in cols {
        schema
            .entry(table)
            .or_default()
            .columns
            .push((name, portable(&ty), not_null));
    }
    // Every index: its name, table, columns in order, unique, primary, and whether a
    // constraint (UNIQUE) made it.
    let indexes: Vec<(String, String, Vec<String>, bool, bool, bool)> = sqlx::query_as(
        "SELECT ic.relname::text, tc.relname::text,
                ARRAY(SELECT COALESCE(a.attname::text, '(expression)')
                      FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, n)
                      LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                      ORDER BY k.n),
                i.indisunique, i.indisprimary,
                EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.contype = 'u')
         FROM pg_index i
         JOIN pg_class ic ON ic.oid = i.indexrelid
         JOIN pg_class tc ON tc.oid = i.indrelid
         JOIN pg_namespace ns ON ns.oid = tc.relnamespace
         WHERE ns.nspname = current_schema() AND tc.relname NOT LIKE '_sqlx%'",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    for (index, table, cols, unique, primary, constraint) in indexes {
        let t = schema.entry(table).or_default();
        if primary {
            t.primary_key = cols;
            continue;
        }
        let key = if constraint {
            format!("unique ({})", cols.join(", "))
        } else {
            index
        };
        t.indexes.insert(key, (cols, unique));
    }
    db.close().await;
    schema
}

/// Where the backends differ on purpose, and why. Each must still be found: a difference
/// that went away comes off this list.
const DELIBERATE: &[(&str, &str)] = &[
    (
        "idempotency_keys column status_code",
        "an HTTP status; PostgreSQL's INTEGER (32 bits) holds it",
    ),
    (
        "lots primary key",
        "SQLite keeps a member's lots together (WITHOUT ROWID, keyed by member); PostgreSQL keys lots by id",
    ),
    (
        "lots index lots_id",
        "SQLite: the id's unique index beside the member-ordered key",
    ),
    (
        "lots index lots_member_open",
        "PostgreSQL: a member's open lots by index, where SQLite has them in key order",
    ),
    (
        "members index members_email",
        "emails by prefix: SQLite's index (its name from before)",
    ),
    (
        "members index members_email_prefix",
        "emails by prefix: PostgreSQL's, in byte order (COLLATE \"C\") and only where one is given",
    ),
    (
        "members index members_first_name",
        "names compared without case: NOCASE on SQLite, lower() on PostgreSQL",
    ),
    (
        "members index members_last_name",
        "names compared without case: NOCASE on SQLite, lower() on PostgreSQL",
    ),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_backends_have_the_same_tables_columns_keys_and_indexes() {
    let sqlite = sqlite_schema().await;
    let postgres = postgres_schema().await;
    let names = |s: &BTreeMap<String, Table>| s.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(&sqlite), names(&postgres), "the same tables");
    // Each difference, keyed "table column|primary key|index name", with both sides.
    let mut found: BTreeMap<String, String> = BTreeMap::new();
    for (table, s) in &sqlite {
        let p = &postgres[table];
        let names_s: Vec<&str> = s.columns.iter().map(|c| c.0.as_str()).collect();
        let names_p: Vec<&str> = p.columns.iter().map(|c| c.0.as_str()).collect();
        if names_s != names_p {
            found.insert(
                format!("{table} columns"),
                format!("{names_s:?} / {names_p:?}"),
            );
        } else {
            for (cs, cp) in s.columns.iter().zip(&p.columns) {
                if cs != cp {
                    found.insert(
                        format!("{table} column {}", cs.0),
                        format!("{cs:?} / {cp:?}"),
                    );
                }
            }
        }
        if s.primary_key != p.primary_key {
            found.insert(
                format!("{table} primary key"),
                format!("{:?} / {:?}", s.primary_key, p.primary_key),
            );
        }
        for name in s.indexes.keys().chain(p.indexes.keys()) {
            if s.indexes.get(name) != p.indexes.get(name) {
                found.insert(
                    format!("{table} index {name}"),
                    format!("{:?} / {:?}", s.indexes.get(name), p.indexes.get(name)),
                );
            }
        }
    }
    let unexpected: Vec<String> = found
        .iter()
        .filter(|(k, _)| !DELIBERATE.iter().any(|(d, _)| d == k))
        .map(|(k, v)| format!("{k}: sqlite / postgres = {v}"))
        .collect();
    assert!(
        unexpected.is_empty(),
        "the backends differ:\n{}",
        unexpected.join("\n")
    );
    let gone: Vec<&str> = DELIBERATE
        .iter()
        .map(|(d, _)| *d)
        .filter(|d| !found.contains_key(*d))
        .collect();
    assert!(
        gone.is_empty(),
        "no longer different, take off DELIBERATE: {gone:?}"
    );
}

/// Migrations from 0020 on are written once, in migrations/shared, and each backend's
/// directory links to the same file: the two cannot drift apart.
#[test]
fn migrations_written_since_0020_have_one_source() {
    let dir = |backend: &str| {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations")
            .join(backend)
    };
    let mut shared: Vec<String> = std::fs::read_dir(dir("shared"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    shared.sort();
    assert!(!shared.is_empty());
    for backend in ["sqlite", "postgres"] {
        for entry in std::fs::read_dir(dir(backend)).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().into_string().unwrap();
            let version: u32 = name[..4].parse().unwrap();
            if version < 20 {
                continue; // released before one source: sqlx checks their bytes
            }
            let target = std::fs::read_link(entry.path()).unwrap_or_else(|_| {
                panic!("migrations/{backend}/{name} must link to ../shared/{name}")
            });
            assert_eq!(target, std::path::Path::new("../shared").join(&name));
        }
        for name in &shared {
            assert!(
                dir(backend).join(name).exists(),
                "migrations/{backend}/{name} is missing"
            );
        }
    }
}
