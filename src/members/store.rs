//! The only SQL of members: profiles, tags, member sessions, the signup form and
//! consents, and imports.

use std::collections::HashSet;

use serde::Serialize;

use super::consent::ConsentRecord;
use super::import::{ImportRow, RowError};
use super::model::{Gender, Phone};
use crate::store::{Db, Tx, Val, now_micros};
use crate::{ids, on_db, on_tx};

#[derive(Clone, Debug, Serialize, utoipa::ToSchema, sqlx::FromRow)]
pub struct Member {
    pub id: i64,
    /// E.164.
    pub phone: String,
    pub first_name: String,
    pub last_name: String,
    pub email: Option<String>,
    /// `female`, `male`, `other` or `unspecified`.
    pub gender: String,
    /// `YYYY-MM-DD`.
    pub birthday: Option<String>,
    pub address: String,
    pub line_user_id: Option<String>,
    pub line_display_name: Option<String>,
    /// `active` or `blocked`.
    pub status: String,
    pub join_branch_id: Option<i64>,
    /// Only the last four digits: `*********2345`.
    #[sqlx(skip)]
    pub national_id_masked: Option<String>,
    #[serde(skip)]
    #[schema(ignore)]
    pub national_id_last4: Option<String>,
    #[sqlx(skip)]
    pub tags: Vec<String>,
    #[sqlx(skip)]
    pub attributes: serde_json::Value,
    #[serde(skip)]
    #[schema(ignore)]
    pub attributes_json: String,
    #[sqlx(skip)]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: jiff::Timestamp,
    #[serde(skip)]
    #[schema(ignore)]
    pub created_micros: i64,
    /// The survivor this profile was merged into (then it is not listed).
    #[serde(skip)]
    #[schema(ignore)]
    pub merged_into: Option<i64>,
}

const COLUMNS: &str = "id, phone, first_name, last_name, email, gender, birthday, address, line_user_id, line_display_name, \
                       status, join_branch_id, national_id_last4, attributes AS attributes_json, created_at AS created_micros, merged_into";

/// What a new member is made of; the rest of the profile is set with [`update`].
pub struct NewMember<'a> {
    pub phone: &'a Phone,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub email: Option<&'a str>,
    pub join_branch_id: Option<i64>,
}

pub async fn insert(tx: &mut Tx, tenant_id: i64, m: NewMember<'_>) -> sqlx::Result<i64> {
    let id = ids::next_id();
    let now = now_micros();
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO members (tenant_id, id, phone, first_name, last_name, email, status, join_branch_id, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, 'active', $7, $8, $8)")
        .bind(tenant_id).bind(id).bind(m.phone.as_str()).bind(m.first_name).bind(m.last_name).bind(m.email)
        .bind(m.join_branch_id).bind(now)
        .execute(c).await.map(|r| r.rows_affected()))?;
    Ok(id)
}

async fn hydrate(db: &Db, tenant_id: i64, mut rows: Vec<Member>) -> sqlx::Result<Vec<Member>> {
    let ids: Vec<i64> = rows.iter().map(|m| m.id).collect();
    let tags: Vec<(i64, String)> =
        crate::store::children(db, "member_tags", "member_id", "tag", tenant_id, &ids).await?;
    for m in &mut rows {
        m.attributes =
            serde_json::from_str(&m.attributes_json).unwrap_or_else(|_| serde_json::json!({}));
        m.created_at = crate::types::timestamp(m.created_micros);
        m.national_id_masked = m
            .national_id_last4
            .as_deref()
            .map(super::model::NationalId::masked);
        m.tags = tags
            .iter()
            .filter(|(owner, _)| *owner == m.id)
            .map(|(_, t)| t.clone())
            .collect();
    }
    Ok(rows)
}

/// Members of the shop (merged-away profiles not counted).
pub async fn count(db: &Db, tenant_id: i64) -> sqlx::Result<i64> {
    let (n,): (i64,) = on_db!(db, pool => sqlx::query_as("SELECT CAST(COUNT(*) AS BIGINT) FROM members WHERE tenant_id = $1 AND merged_into IS NULL")
        .bind(tenant_id).fetch_one(pool).await)?;
    Ok(n)
}

/// The member whose `column` is `$2`, or the survivor it was merged into, read in one
/// query (on PostgreSQL each query is a round trip; a point of sale's lookup pays them).
/// A member not merged away (nearly every lookup) is read through `column`'s index alone:
/// the survivor's half then compares `id` with NULL, which reads no index. Reading the row
/// again by id read the id index too: 7 pages against 4 on PostgreSQL (docs/BENCHMARKS.md,
/// "Measured design choices"), each a possible read from the disk once the shop outgrows
/// memory.
fn survivor_by(column: &str) -> String {
    format!(
        "SELECT {COLUMNS} FROM members WHERE tenant_id = $1 AND {column} = $2 AND merged_into IS NULL \
         UNION ALL \
         SELECT {COLUMNS} FROM members WHERE tenant_id = $1 AND id = \
         (SELECT merged_into FROM members WHERE tenant_id = $1 AND {column} = $2)"
    )
}

/// A member by id; a merged profile resolves to its survivor.
pub async fn get(db: &Db, tenant_id: i64, id: i64) -> sqlx::Result<Option<Member>> {
    let sql = survivor_by("id");
    let rows: Vec<Member> =
        on_db!(db, pool => sqlx::query_as(&sql).bind(tenant_id).bind(id).fetch_all(pool).await)?;
    Ok(hydrate(db, tenant_id, rows).await?.pop())
}

/// A member by phone; the phone of a merged profile resolves to its survivor.
pub async fn find_by_phone(db: &Db, tenant_id: i64, phone: &Phone) -> sqlx::Result<Option<Member>> {
    let sql = survivor_by("phone");
    let rows: Vec<Member> = on_db!(db, pool => sqlx::query_as(&sql)
        .bind(tenant_id).bind(phone.as_str()).fetch_all(pool).await)?;
    Ok(hydrate(db, tenant_id, rows).await?.pop())
}

/// Members newest first; `q` matches the start of a first name, last name or email
/// (case-insensitive); `tag` keeps members with that tag.
pub async fn search(
    db: &Db,
    tenant_id: i64,
    q: Option<&str>,
    tag: Option<&str>,
    before_id: i64,
    limit: i64,
) -> sqlx::Result<Vec<Member>> {
    search_with(db, tenant_id, q, tag, before_id, limit, NAME_MATCHES_READ).await
}

/// How many index entries a search by name reads before it calls the prefix common.
/// Under it, the matches come from the names' indexes (a name few members share is found
/// at once, however big the shop); at it, walking the members newest first finds a page
/// within about `limit × members / NAME_MATCHES_READ` rows when the matches are spread
/// over the shop (1M members, 50 a page: 5,000; up to three entries are one member's, so
/// up to three times that, and matches that are all old members make it longer).
pub const NAME_MATCHES_READ: usize = 10_000;

/// [`search`] with another threshold (tests use a tiny one to take both paths).
pub async fn search_with(
    db: &Db,
    tenant_id: i64,
    q: Option<&str>,
    tag: Option<&str>,
    before_id: i64,
    limit: i64,
    matches_read: usize,
) -> sqlx::Result<Vec<Member>> {
    let prefix = q.map(|q| q.trim().to_lowercase());
    let pattern = prefix.as_ref().map(|p| {
        format!(
            "{}%",
            p.replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        )
    });
    use crate::store::Val::{Int, Text};
    // A name few members share is found from the names' indexes, with a tag too: its
    // matches are then kept if they carry the tag (walking a tag thousands carry for a
    // rare name read every one of them).
    if let Some(prefix) = &prefix {
        let page = usize::try_from(limit + 1).unwrap_or(usize::MAX).max(1);
        let (mut found, mut below) = (vec![], before_id);
        // Ids newest first from the names' indexes, then their rows by id alone (with a
        // condition on the rows as well, PostgreSQL without table statistics guessed it
        // left one row and read the whole shop through another index); merged profiles
        // are not listed, so this goes on below the last id until the page is full or
        // the matches end. A common prefix (`None`) is left to the walk below.
        // Counted on the first pass only: below the next id fewer still match.
        while let Some((ids, more)) = name_matches(
            db,
            tenant_id,
            prefix,
            below,
            page,
            matches_read,
            below == before_id,
        )
        .await?
        {
            if !ids.is_empty() {
                let with_tag = match tag {
                    Some(_) => format!(
                        " AND EXISTS (SELECT 1 FROM member_tags t WHERE t.tenant_id = members.tenant_id
                           AND t.member_id = members.id AND t.tag = ${})",
                        ids.len() + 2
                    ),
                    None => String::new(),
                };
                let sql = format!(
                    "SELECT {COLUMNS} FROM members WHERE tenant_id = $1 AND id IN ({}){with_tag} ORDER BY id DESC",
                    crate::store::placeholders(2, ids.len())
                );
                let rows: Vec<Member> = on_db!(db, pool => {
                    let mut q = sqlx::query_as(&sql).bind(tenant_id);
                    for id in &ids {
                        q = q.bind(id);
                    }
                    if let Some(tag) = tag {
                        q = q.bind(tag);
                    }
                    q.fetch_all(pool).await
                })?;
                found.extend(rows.into_iter().filter(|m| m.merged_into.is_none()));
            }
            match ids.last() {
                Some(&last) if found.len() < page && more => below = last,
                _ => {
                    found.truncate(page);
                    return hydrate(db, tenant_id, found).await;
                }
            }
        }
    }
    // With a tag, the tag's index gives its members newest first (a rare tag no longer
    // walks the whole shop); a common name's filter stays a condition on each row.
    let plain = format!("SELECT {COLUMNS} FROM members m WHERE m.tenant_id = ");
    let tagged = format!(
        "SELECT {COLUMNS} FROM member_tags t JOIN members m ON m.tenant_id = t.tenant_id AND m.id = t.member_id
         WHERE t.tenant_id = "
    );
    let mut parts = match tag {
        Some(tag) => vec![
            (tagged.as_str(), Int(tenant_id)),
            (" AND t.tag = ", Text(tag)),
            (" AND t.member_id < ", Int(before_id)),
        ],
        None => vec![
            (plain.as_str(), Int(tenant_id)),
            (" AND m.id < ", Int(before_id)),
        ],
    };
    if let Some(p) = &pattern {
        parts.push((" AND (LOWER(m.first_name) LIKE ", Text(p)));
        parts.push((" ESCAPE '\\' OR LOWER(m.last_name) LIKE ", Text(p)));
        parts.push((" ESCAPE '\\' OR LOWER(m.email) LIKE ", Text(p)));
    }
    let tail = format!(
        "{} AND m.merged_into IS NULL ORDER BY {} DESC LIMIT ",
        if pattern.is_some() {
            " ESCAPE '\\')"
        } else {
            ""
        },
        if tag.is_some() { "t.member_id" } else { "m.id" }
    );
    parts.push((tail.as_str(), Int(limit + 1)));
    let rows: Vec<Member> = crate::store::fetch_parts(db, &parts).await?;
    hydrate(db, tenant_id, rows).await
}

/// Up to `page` ids of members below `before_id` whose first name, last name or email
/// starts with `prefix` (lower-cased), newest first, read from the names' indexes as three
/// ranges, and whether more may follow below the last; `None` when, counted,
/// `matches_read` or more match (a common prefix: walking the members newest first finds
/// a page sooner), or when there is no range (an empty prefix). A key
/// from `prefix` up to (not including) [`prefix_end`] is exactly a key that starts with
/// it, so the ranges hold what the walk's `LIKE` matches, no more.
async fn name_matches(
    db: &Db,
    tenant_id: i64,
    prefix: &str,
    before_id: i64,
    page: usize,
    matches_read: usize,
    count: bool,
) -> sqlx::Result<Option<(Vec<i64>, bool)>> {
    let Some(end) = prefix_end(prefix) else {
        return Ok(None);
    };
    let [counted, ids] = name_search_sql(db.backend());
    // Counting sends no row back (on SQLite it reads the indexes alone; PostgreSQL
    // visits each entry's row); the newest ids are then a bounded sort. Each member is in
    // up to three ranges.
    if count {
        let (n,): (i64,) = on_db!(db, pool => sqlx::query_as(&counted)
            .bind(tenant_id).bind(prefix).bind(&end).bind(before_id).bind(matches_read as i64)
            .fetch_one(pool).await)?;
        if n >= matches_read as i64 {
            return Ok(None);
        }
    }
    let read = page.saturating_mul(3);
    // Twice the count's bound: members added between the two statements cannot push
    // the ranges past it unless thousands arrive in between.
    let rows: Vec<(i64,)> = on_db!(db, pool => sqlx::query_as(&ids)
        .bind(tenant_id).bind(prefix).bind(&end).bind(before_id).bind(read as i64)
        .bind(matches_read.saturating_mul(2) as i64)
        .fetch_all(pool).await)?;
    let more = rows.len() == read;
    let mut ids: Vec<i64> = rows.into_iter().map(|(id,)| id).collect();
    ids.dedup();
    Ok(Some((ids, more)))
}

/// The statements of [`name_matches`]: how many match (up to `$5`), and the newest `$5`
/// of them (of at most `$6`); `$1` shop, `$2`..`$3` the range of keys, `$4` ids below.
/// Their keys are those of the names' indexes (migration 0017), which hold the id too, so
/// on SQLite the ranges are read from the indexes alone. SQLite's fold ASCII letters as
/// `LOWER` does there; PostgreSQL's are `LOWER(…)` in byte order, so a prefix is one range
/// whatever the database's collation. (Emails are stored lower-cased, so their key is
/// the column itself.)
pub fn name_search_sql(backend: crate::store::Backend) -> [String; 2] {
    let keys: [&str; 3] = match backend {
        crate::store::Backend::Sqlite => [
            "first_name COLLATE NOCASE",
            "last_name COLLATE NOCASE",
            "email",
        ],
        crate::store::Backend::Postgres => [
            "(LOWER(first_name) COLLATE \"C\")",
            "(LOWER(last_name) COLLATE \"C\")",
            "(email COLLATE \"C\")",
        ],
    };
    let ranges: Vec<String> = keys
        .iter()
        .map(|key| {
            format!("SELECT id FROM members WHERE tenant_id = $1 AND {key} >= $2 AND {key} < $3 AND id < $4")
        })
        .collect();
    let ranges = ranges.join(" UNION ALL ");
    [
        format!("SELECT CAST(COUNT(*) AS BIGINT) FROM ({ranges} LIMIT $5) AS matches"),
        // The inner LIMIT (not reached: fewer matched) keeps the ranges a subquery of
        // their own; flattened, SQLite read the whole shop in id order to skip the sort.
        format!("SELECT id FROM ({ranges} LIMIT $6) AS matches ORDER BY id DESC LIMIT $5"),
    ]
}

/// The first string after every string that starts with `prefix` (its last character
/// stepped up by one), `None` when there is none (an empty prefix, or only U+10FFFF).
/// Never an ASCII capital: SQLite's keys fold them (`NOCASE`), so after `@` an `A` would
/// compare as `a` and take in `[`, `\`, `]`, `^`, `_` and `` ` ``.
pub fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = (u32::from(last) + 1..=0x10FFFF)
            .filter_map(char::from_u32)
            .find(|c| !c.is_ascii_uppercase());
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// Changes to a profile; `None` keeps the current value.
#[derive(Default)]
pub struct ProfileChanges {
    pub phone: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub gender: Option<Gender>,
    pub birthday: Option<String>,
    pub address: Option<String>,
    pub line_user_id: Option<String>,
    pub line_display_name: Option<String>,
    pub status: Option<String>,
    pub join_branch_id: Option<i64>,
    /// (sealed value, last four digits)
    pub national_id: Option<(String, String)>,
    pub attributes: Option<serde_json::Value>,
    pub tags: Option<Vec<String>>,
}

pub async fn update(
    tx: &mut Tx,
    tenant_id: i64,
    id: i64,
    c: &ProfileChanges,
) -> sqlx::Result<bool> {
    let attributes = c.attributes.as_ref().map(|a| a.to_string());
    let done = on_tx!(tx, conn => sqlx::query(
        "UPDATE members SET phone = COALESCE($3, phone), first_name = COALESCE($4, first_name), last_name = COALESCE($5, last_name),
                email = COALESCE($6, email), gender = COALESCE($7, gender), birthday = COALESCE($8, birthday),
                address = COALESCE($9, address), line_user_id = COALESCE($10, line_user_id),
                line_display_name = COALESCE($11, line_display_name), status = COALESCE($12, status),
                attributes = COALESCE($13, attributes), updated_at = $14, join_branch_id = COALESCE($15, join_branch_id),
                national_id_enc = COALESCE($16, national_id_enc), national_id_last4 = COALESCE($17, national_id_last4)
         WHERE tenant_id = $1 AND id = $2")
        .bind(tenant_id).bind(id).bind(&c.phone).bind(&c.first_name).bind(&c.last_name).bind(&c.email)
        .bind(c.gender.map(|g| g.as_str())).bind(&c.birthday).bind(&c.address).bind(&c.line_user_id)
        .bind(&c.line_display_name).bind(&c.status).bind(&attributes).bind(now_micros()).bind(c.join_branch_id)
        .bind(c.national_id.as_ref().map(|n| &n.0)).bind(c.national_id.as_ref().map(|n| &n.1))
        .execute(&mut *conn).await.map(|r| r.rows_affected()))?;
    if done == 1
        && let Some(tags) = &c.tags
    {
        on_tx!(tx, conn => {
            sqlx::query("DELETE FROM member_tags WHERE tenant_id = $1 AND member_id = $2").bind(tenant_id).bind(id).execute(&mut *conn).await?;
            for t in tags {
                sqlx::query("INSERT INTO member_tags (tenant_id, member_id, tag) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
                    .bind(tenant_id).bind(id).bind(t).execute(&mut *conn).await?;
            }
            Ok::<_, sqlx::Error>(())
        })?;
    }
    Ok(done == 1)
}

/// Active members of a tenant whose birthday falls on `month_day` (`MM-DD`).
pub async fn with_birthday(
    db: &Db,
    tenant_id: i64,
    month_days: &[String],
) -> sqlx::Result<Vec<i64>> {
    let mut ids = vec![];
    for md in month_days {
        let rows: Vec<(i64,)> = on_db!(db, pool => sqlx::query_as(
            "SELECT id FROM members WHERE tenant_id = $1 AND status = 'active' AND birthday IS NOT NULL AND SUBSTR(birthday, 6, 5) = $2")
            .bind(tenant_id).bind(md).fetch_all(pool).await)?;
        ids.extend(rows.into_iter().map(|r| r.0));
    }
    Ok(ids)
}

/// The id of the member with this phone, inside a transaction.
pub async fn member_id_by_phone(
    tx: &mut Tx,
    tenant_id: i64,
    phone: &Phone,
) -> sqlx::Result<Option<i64>> {
    let row: Option<(i64,)> = on_tx!(tx, c => sqlx::query_as("SELECT id FROM members WHERE tenant_id = $1 AND phone = $2")
        .bind(tenant_id).bind(phone.as_str()).fetch_optional(c).await)?;
    Ok(row.map(|r| r.0))
}

/// The sealed national ID of a member.
pub async fn sealed_national_id(db: &Db, tenant_id: i64, id: i64) -> sqlx::Result<Option<String>> {
    let row: Option<(Option<String>,)> = on_db!(db, pool => sqlx::query_as("SELECT national_id_enc FROM members WHERE tenant_id = $1 AND id = $2")
        .bind(tenant_id).bind(id).fetch_optional(pool).await)?;
    Ok(row.and_then(|r| r.0))
}

/// Erase a member's personal data (PDPA): identifiers and free text go; the id, the
/// status `erased` and the ledger's amounts stay, so every total and report is
/// unchanged. The phone becomes `erased-<id>` (unique, never a real number).
pub async fn anonymise(tx: &mut Tx, tenant_id: i64, id: i64) -> sqlx::Result<bool> {
    let done = on_tx!(tx, c => {
        let n = sqlx::query(
            "UPDATE members SET phone = $3, first_name = '', last_name = '', email = NULL, gender = 'unspecified', birthday = NULL,
                    address = '', line_user_id = NULL, line_display_name = NULL, national_id_enc = NULL, national_id_last4 = NULL,
                    attributes = '{}', status = 'erased', updated_at = $4
             WHERE tenant_id = $1 AND id = $2 AND status <> 'erased'")
            .bind(tenant_id).bind(id).bind(format!("erased-{id}")).bind(now_micros())
            .execute(&mut *c).await?.rows_affected();
        sqlx::query("DELETE FROM member_tags WHERE tenant_id = $1 AND member_id = $2").bind(tenant_id).bind(id).execute(&mut *c).await?;
        Ok::<_, sqlx::Error>(n)
    })?;
    Ok(done == 1)
}

/// Merge profile `from` into `into`: tags are united, empty fields of the survivor are
/// filled from the other, and `from` becomes an alias (status `merged`).
pub async fn merge_profiles(tx: &mut Tx, tenant_id: i64, from: i64, into: i64) -> sqlx::Result<()> {
    on_tx!(tx, c => {
        sqlx::query(
            "UPDATE members SET
                first_name = CASE WHEN first_name = '' THEN (SELECT o.first_name FROM members o WHERE o.tenant_id = $1 AND o.id = $2) ELSE first_name END,
                last_name = CASE WHEN last_name = '' THEN (SELECT o.last_name FROM members o WHERE o.tenant_id = $1 AND o.id = $2) ELSE last_name END,
                email = COALESCE(email, (SELECT o.email FROM members o WHERE o.tenant_id = $1 AND o.id = $2)),
                birthday = COALESCE(birthday, (SELECT o.birthday FROM members o WHERE o.tenant_id = $1 AND o.id = $2)),
                line_user_id = COALESCE(line_user_id, (SELECT o.line_user_id FROM members o WHERE o.tenant_id = $1 AND o.id = $2)),
                line_display_name = COALESCE(line_display_name, (SELECT o.line_display_name FROM members o WHERE o.tenant_id = $1 AND o.id = $2)),
                updated_at = $4
             WHERE tenant_id = $1 AND id = $3")
            .bind(tenant_id).bind(from).bind(into).bind(now_micros()).execute(&mut *c).await?;
        sqlx::query("INSERT INTO member_tags (tenant_id, member_id, tag) SELECT tenant_id, $3, tag FROM member_tags WHERE tenant_id = $1 AND member_id = $2 ON CONFLICT DO NOTHING")
            .bind(tenant_id).bind(from).bind(into).execute(&mut *c).await?;
        sqlx::query("DELETE FROM member_tags WHERE tenant_id = $1 AND member_id = $2").bind(tenant_id).bind(from).execute(&mut *c).await?;
        sqlx::query("UPDATE members SET status = 'merged', merged_into = $3, updated_at = $4 WHERE tenant_id = $1 AND id = $2")
            .bind(tenant_id).bind(from).bind(into).bind(now_micros()).execute(&mut *c).await.map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Are both members active profiles (neither merged away nor erased)? Read inside the
/// merge's transaction, after its locks.
pub async fn both_mergeable(tx: &mut Tx, tenant_id: i64, a: i64, b: i64) -> sqlx::Result<bool> {
    let n: (i64,) = on_tx!(tx, c => sqlx::query_as(
        "SELECT COUNT(*) FROM members WHERE tenant_id = $1 AND id IN ($2, $3) AND status NOT IN ('merged', 'erased')")
        .bind(tenant_id).bind(a).bind(b).fetch_one(c).await)?;
    Ok(n.0 == 2)
}

/// A member's status (`active`, `blocked`, `merged`, `erased`), read inside the caller's
/// transaction (after its locks).
pub async fn status_in(tx: &mut Tx, tenant_id: i64, id: i64) -> sqlx::Result<Option<String>> {
    let row: Option<(String,)> = on_tx!(tx, c => sqlx::query_as(
        "SELECT status FROM members WHERE tenant_id = $1 AND id = $2")
        .bind(tenant_id).bind(id).fetch_optional(c).await)?;
    Ok(row.map(|r| r.0))
}

/// The survivor a merged member points to (itself when not merged).
pub async fn resolve_alias(db: &Db, tenant_id: i64, id: i64) -> sqlx::Result<Option<i64>> {
    let row: Option<(Option<i64>,)> = on_db!(db, pool => sqlx::query_as("SELECT merged_into FROM members WHERE tenant_id = $1 AND id = $2")
        .bind(tenant_id).bind(id).fetch_optional(pool).await)?;
    Ok(row.map(|(into,)| into.unwrap_or(id)))
}

/// A member signed in on the member page.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct MemberSession {
    pub tenant_id: i64,
    pub member_id: i64,
    pub csrf_token: String,
}

pub async fn create_member_session(
    tx: &mut Tx,
    tenant_id: i64,
    member_id: i64,
    token_hash: &str,
    csrf: &str,
    hours: i64,
) -> sqlx::Result<()> {
    let now = crate::store::now_micros();
    on_tx!(tx, c => sqlx::query("INSERT INTO member_sessions (token_hash, tenant_id, member_id, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(token_hash).bind(tenant_id).bind(member_id).bind(csrf).bind(now).bind(now + hours * 3_600_000_000)
        .execute(c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// The live session with this token hash, of an active member.
pub async fn member_session(db: &Db, token_hash: &str) -> sqlx::Result<Option<MemberSession>> {
    on_db!(db, pool => sqlx::query_as(
        "SELECT s.tenant_id, s.member_id, s.csrf_token FROM member_sessions s
         JOIN members m ON m.tenant_id = s.tenant_id AND m.id = s.member_id
         WHERE s.token_hash = $1 AND s.expires_at > $2 AND m.status = 'active'")
        .bind(token_hash).bind(crate::store::now_micros()).fetch_optional(pool).await)
}

/// Remove the member sessions past their expiry (run periodically, with the staff's), so
/// the table holds only live sessions rather than every sign-in since the shop opened.
pub async fn purge_expired_member_sessions(db: &Db) -> sqlx::Result<u64> {
    on_db!(db, pool => sqlx::query("DELETE FROM member_sessions WHERE expires_at <= $1")
        .bind(crate::store::now_micros()).execute(pool).await.map(|r| r.rows_affected()))
}

pub async fn delete_member_session(db: &Db, token_hash: &str) -> sqlx::Result<()> {
    on_db!(db, pool => sqlx::query("DELETE FROM member_sessions WHERE token_hash = $1").bind(token_hash).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// The latest version of a shop's legal text of this kind (`terms`, `privacy`): its
/// version number and text.
pub async fn latest_legal_text(
    db: &Db,
    tenant_id: i64,
    kind: &str,
) -> sqlx::Result<Option<(i64, String)>> {
    on_db!(db, pool => sqlx::query_as("SELECT version, body FROM legal_texts WHERE tenant_id = $1 AND kind = $2 ORDER BY version DESC LIMIT 1")
        .bind(tenant_id).bind(kind).fetch_optional(pool).await)
}

/// Write a new version of a shop's legal text.
pub async fn insert_legal_text(
    tx: &mut Tx,
    tenant_id: i64,
    kind: &str,
    version: i64,
    body: &str,
    at: i64,
) -> sqlx::Result<u64> {
    on_tx!(tx, c => sqlx::query("INSERT INTO legal_texts (tenant_id, kind, version, body, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(tenant_id).bind(kind).bind(version).bind(body).bind(at).execute(c).await.map(|r| r.rows_affected()))
}

/// A shop's signup form as saved: its marketing channels and questions (JSON).
pub async fn signup_form(db: &Db, tenant_id: i64) -> sqlx::Result<Option<(String, String)>> {
    on_db!(db, pool => sqlx::query_as("SELECT channels, questions FROM signup_forms WHERE tenant_id = $1")
        .bind(tenant_id).fetch_optional(pool).await)
}

/// Write a shop's signup form (channels and questions as JSON), replacing the one saved.
pub async fn upsert_signup_form(
    tx: &mut Tx,
    tenant_id: i64,
    channels: &str,
    questions: &str,
    at: i64,
) -> sqlx::Result<u64> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO signup_forms (tenant_id, channels, questions, updated_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant_id) DO UPDATE SET channels = $2, questions = $3, updated_at = $4")
        .bind(tenant_id).bind(channels).bind(questions).bind(at).execute(c).await.map(|r| r.rows_affected()))
}

/// Write a consent record (given or withdrawn), timed now.
pub async fn insert_consent(
    tx: &mut Tx,
    tenant_id: i64,
    member_id: i64,
    purpose: &str,
    granted: bool,
    version: Option<i64>,
    channel: &str,
) -> sqlx::Result<u64> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO consents (tenant_id, id, member_id, purpose, granted, version, channel, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
        .bind(tenant_id).bind(ids::next_id()).bind(member_id).bind(purpose).bind(granted).bind(version).bind(channel).bind(now_micros())
        .execute(c).await.map(|r| r.rows_affected()))
}

/// Every consent record of a member, oldest first (`at` left as stored, in `at_micros`).
pub async fn consents(db: &Db, tenant_id: i64, member_id: i64) -> sqlx::Result<Vec<ConsentRecord>> {
    on_db!(db, pool => sqlx::query_as(
        "SELECT purpose, granted, version, channel, at AS at_micros FROM consents WHERE tenant_id = $1 AND member_id = $2 ORDER BY id")
        .bind(tenant_id).bind(member_id).fetch_all(pool).await)
}

/// The values of imported members' rows for [`insert_imported_members`], a row per
/// member (`ids[i]` is `rows[i]`'s new id). Built before the batch's transaction begins,
/// so the write lock is not held meanwhile.
pub fn imported_member_values<'a>(
    tenant_id: i64,
    branch_id: Option<i64>,
    rows: &'a [ImportRow],
    ids: &[i64],
    birthdays: &'a [Option<String>],
    now: i64,
) -> Vec<Vec<Val<'a>>> {
    use crate::store::Val::{Int, OptInt, OptText, Text};
    rows.iter()
        .zip(ids)
        .zip(birthdays)
        .map(|((r, &id), birthday)| {
            vec![
                Int(tenant_id),
                Int(id),
                Text(r.phone.as_str()),
                Text(&r.first_name),
                Text(&r.last_name),
                OptText(r.email.as_ref().map(|e| e.as_str())),
                OptInt(branch_id),
                Int(now),
                Int(now),
                Text(r.gender.map_or("unspecified", |g| g.as_str())),
                OptText(birthday.as_deref()),
            ]
        })
        .collect()
}

/// Insert imported members ([`imported_member_values`]) with as few statements as the
/// backends allow; a phone already a member's is skipped. The ids of the members created.
pub async fn insert_imported_members(
    tx: &mut Tx,
    values: &[Vec<Val<'_>>],
) -> sqlx::Result<HashSet<i64>> {
    Ok(crate::store::fetch_values::<(i64,)>(
        tx,
        "INSERT INTO members (tenant_id, id, phone, first_name, last_name, email, join_branch_id, created_at, updated_at, gender, birthday)",
        "ON CONFLICT (tenant_id, phone) DO NOTHING RETURNING id",
        values,
    )
    .await?
    .into_iter()
    .map(|(id,)| id)
    .collect())
}

/// Members known to be new, all of them (a generated benchmark dataset), as rows of
/// (tenant, id, phone, first name, last name, join branch, created, updated): a plain
/// insert, which PostgreSQL takes as `COPY` when there are many. A phone already a
/// member's fails the whole call.
pub async fn insert_new_members(tx: &mut Tx, values: &[Vec<Val<'_>>]) -> sqlx::Result<()> {
    crate::store::execute_values(
        tx,
        "INSERT INTO members (tenant_id, id, phone, first_name, last_name, join_branch_id, created_at, updated_at)",
        "",
        values,
    )
    .await
    .map(|_| ())
}

/// A new import job's row, `running`, timed now.
pub async fn insert_import_job(
    tx: &mut Tx,
    tenant_id: i64,
    id: i64,
    file_name: &str,
    branch_id: Option<i64>,
    bytes: i64,
    created_by: i64,
) -> sqlx::Result<u64> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO member_imports (tenant_id, id, file_name, branch_id, status, bytes, created_by, created_at) VALUES ($1, $2, $3, $4, 'running', $5, $6, $7)")
        .bind(tenant_id).bind(id).bind(file_name).bind(branch_id).bind(bytes).bind(created_by).bind(now_micros())
        .execute(c).await.map(|r| r.rows_affected()))
}

/// An import job as stored (counts as JSON).
#[derive(sqlx::FromRow)]
pub struct ImportJobRow {
    pub id: i64,
    pub file_name: String,
    pub branch_id: Option<i64>,
    pub status: String,
    pub counts: String,
    pub error: Option<String>,
    pub bytes: i64,
    pub created_at: i64,
    pub finished_at: Option<i64>,
}

/// A shop's import job by id.
pub async fn import_job(db: &Db, tenant_id: i64, id: i64) -> sqlx::Result<Option<ImportJobRow>> {
    on_db!(db, pool => sqlx::query_as(
        "SELECT id, file_name, branch_id, status, counts, error, bytes, created_at, finished_at FROM member_imports WHERE tenant_id = $1 AND id = $2")
        .bind(tenant_id).bind(id).fetch_optional(pool).await)
}

/// An import's refused rows after `after_row`, at most `limit` of them, in row order:
/// (row, column, value, reason).
pub async fn import_errors(
    db: &Db,
    tenant_id: i64,
    import_id: i64,
    after_row: i64,
    limit: i64,
) -> sqlx::Result<Vec<(i64, String, String, String)>> {
    on_db!(db, pool => sqlx::query_as(
        "SELECT row_no, column_name, value, reason FROM member_import_errors WHERE tenant_id = $1 AND import_id = $2 AND row_no > $3
         ORDER BY row_no, column_name LIMIT $4")
        .bind(tenant_id).bind(import_id).bind(after_row).bind(limit).fetch_all(pool).await)
}

/// Write an import job's counts so far (JSON).
pub async fn set_import_counts(
    db: &Db,
    tenant_id: i64,
    id: i64,
    counts: &str,
) -> sqlx::Result<u64> {
    on_db!(db, pool => sqlx::query("UPDATE member_imports SET counts = $3 WHERE tenant_id = $1 AND id = $2")
        .bind(tenant_id).bind(id).bind(counts).execute(pool).await.map(|r| r.rows_affected()))
}

/// Write the end of an import job, timed now: its status, its final counts (JSON; empty
/// keeps those written so far) and why it failed, if it did.
pub async fn finish_import_job(
    db: &Db,
    tenant_id: i64,
    id: i64,
    status: &str,
    counts: &str,
    error: Option<&str>,
) -> sqlx::Result<u64> {
    on_db!(db, pool => sqlx::query(
        "UPDATE member_imports SET status = $3, counts = CASE WHEN $4 = '' THEN counts ELSE $4 END, error = $5, finished_at = $6 WHERE tenant_id = $1 AND id = $2")
        .bind(tenant_id).bind(id).bind(status).bind(counts).bind(error).bind(now_micros()).execute(pool).await.map(|r| r.rows_affected()))
}

/// Write one refused row of an import to its error report.
pub async fn insert_import_error(
    tx: &mut Tx,
    tenant_id: i64,
    import_id: i64,
    e: &RowError,
) -> sqlx::Result<u64> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO member_import_errors (tenant_id, import_id, row_no, column_name, value, reason) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(tenant_id).bind(import_id).bind(e.row as i64).bind(&e.column).bind(&e.value).bind(&e.reason)
        .execute(c).await.map(|r| r.rows_affected()))
}

/// Mark failed, timed now, every import job still `running` (a stopped server left them).
pub async fn fail_running_imports(db: &Db) -> sqlx::Result<u64> {
    on_db!(db, pool => sqlx::query(
        "UPDATE member_imports SET status = 'failed', error = 'interrupted by a server restart; upload the file again (imported rows are skipped)', finished_at = $1 WHERE status = 'running'")
        .bind(now_micros()).execute(pool).await.map(|r| r.rows_affected()))
}

/// The member's open erasure request, read under their lock.
pub async fn open_erasure_request(
    tx: &mut Tx,
    tenant_id: i64,
    member_id: i64,
) -> sqlx::Result<Option<i64>> {
    let found: Option<(i64,)> = on_tx!(tx, c => sqlx::query_as(
        "SELECT id FROM erasure_requests WHERE tenant_id = $1 AND member_id = $2 AND closed_at IS NULL")
        .bind(tenant_id).bind(member_id).fetch_optional(c).await)?;
    Ok(found.map(|(id,)| id))
}

pub async fn insert_erasure_request(
    tx: &mut Tx,
    tenant_id: i64,
    id: i64,
    member_id: i64,
    requested_at: i64,
    due_at: i64,
) -> sqlx::Result<()> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO erasure_requests (tenant_id, id, member_id, requested_at, due_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(tenant_id).bind(id).bind(member_id).bind(requested_at).bind(due_at)
        .execute(c).await.map(|_| ()))
}

/// Close the member's open erasure requests: they were erased.
pub async fn close_erasure_requests(
    tx: &mut Tx,
    tenant_id: i64,
    member_id: i64,
    at: i64,
) -> sqlx::Result<u64> {
    on_tx!(tx, c => sqlx::query(
        "UPDATE erasure_requests SET closed_at = $3 WHERE tenant_id = $1 AND member_id = $2 AND closed_at IS NULL")
        .bind(tenant_id).bind(member_id).bind(at).execute(c).await.map(|r| r.rows_affected()))
}

/// A shop's open erasure requests (one member's, when given), the soonest due first.
pub async fn erasure_requests(
    db: &Db,
    tenant_id: i64,
    member_id: Option<i64>,
) -> sqlx::Result<Vec<crate::members::self_service::ErasureRequest>> {
    let rows: Vec<(i64, i64, i64, i64)> = on_db!(db, pool => sqlx::query_as(
        "SELECT id, member_id, requested_at, due_at FROM erasure_requests
         WHERE tenant_id = $1 AND closed_at IS NULL AND ($2 IS NULL OR member_id = $2)
         ORDER BY due_at, id LIMIT 500")
        .bind(tenant_id).bind(member_id).fetch_all(pool).await)?;
    Ok(rows
        .into_iter()
        .map(
            |(id, member_id, requested_at, due_at)| crate::members::self_service::ErasureRequest {
                id,
                member_id,
                requested_at: crate::types::timestamp(requested_at),
                due_at: crate::types::timestamp(due_at),
            },
        )
        .collect())
}

#[cfg(test)]
mod tests {
    use super::prefix_end;

    #[test]
    fn a_prefix_ends_just_after_every_text_that_starts_with_it() {
        assert_eq!(prefix_end("som").as_deref(), Some("son"));
        assert_eq!(prefix_end("สมชาย").as_deref(), Some("สมชาร"));
        // Not `A`, which SQLite's NOCASE keys would compare as `a`.
        assert_eq!(prefix_end("x@").as_deref(), Some("x["));
        assert_eq!(prefix_end("a\u{10FFFF}").as_deref(), Some("b"));
        // Past the surrogates, which are no characters.
        assert_eq!(prefix_end("\u{D7FF}").as_deref(), Some("\u{E000}"));
        assert_eq!(prefix_end(""), None);
        assert_eq!(prefix_end("\u{10FFFF}"), None);
    }
}
