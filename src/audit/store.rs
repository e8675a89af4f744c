//! The only SQL of the audit log: entries are inserted and listed, never updated or
//! deleted.

use super::{ActorRef, Change, Entry, Filter, RequestMeta};
use crate::ids;
use crate::store::{Db, Tx, now_micros};

/// Insert an entry per change, each as (tenant, actor, request, change), with one
/// statement, in the caller's transaction.
pub async fn insert_entries(
    tx: &mut Tx,
    changes: &[(i64, ActorRef<'_>, &RequestMeta, Change<'_>)],
) -> sqlx::Result<u64> {
    use crate::store::Val::{Int, OptInt, Text};
    let details: Vec<String> = changes.iter().map(|c| c.3.details.to_string()).collect();
    let now = now_micros();
    let rows: Vec<_> = changes
        .iter()
        .zip(&details)
        .map(|((tenant_id, actor, meta, change), details)| {
            vec![
                Int(*tenant_id),
                Int(ids::next_id()),
                Int(now),
                Text(actor.kind),
                OptInt(actor.id),
                Text(actor.label),
                Text(change.action),
                Text(change.target_kind),
                OptInt(change.target_id),
                Text(details),
                Text(&meta.ip),
                Text(&meta.request_id),
            ]
        })
        .collect();
    crate::store::execute_values(
        tx,
        "INSERT INTO audit_log (tenant_id, id, at, actor_kind, actor_id, actor_label, action, target_kind, target_id, details, ip, request_id)",
        "",
        &rows,
    )
    .await
}

/// A shop's entries that pass the filter, below `before_id`, newest first: `limit` and
/// one more, which tells whether another page follows. Only their columns are read
/// (`at` and `details` stay as stored).
pub async fn entries(
    db: &Db,
    tenant_id: i64,
    f: &Filter,
    before_id: i64,
    limit: i64,
) -> sqlx::Result<Vec<Entry>> {
    let since = f.since.map(|t| t.as_microsecond());
    let until = f.until.map(|t| t.as_microsecond());
    use crate::store::Val::{Int, Text};
    let mut parts = vec![(
        "SELECT id, at AS at_micros, actor_kind, actor_id, actor_label, action, target_kind, target_id,
                details AS details_json, ip, request_id
         FROM audit_log WHERE tenant_id = ",
        Int(tenant_id),
    )];
    // Only the filters given, so the plan can use the index of the one that is there.
    let texts = [
        (" AND actor_kind = ", &f.actor_kind),
        (" AND action = ", &f.action),
        (" AND target_kind = ", &f.target_kind),
        (" AND request_id = ", &f.request_id),
    ];
    for (sql, value) in texts {
        if let Some(v) = value {
            parts.push((sql, Text(v)));
        }
    }
    let numbers = [
        (" AND actor_id = ", f.actor_id),
        (" AND target_id = ", f.target_id),
        (" AND at >= ", since),
        (" AND at < ", until),
    ];
    for (sql, value) in numbers {
        if let Some(v) = value {
            parts.push((sql, Int(v)));
        }
    }
    parts.push((" AND id < ", Int(before_id)));
    parts.push((" ORDER BY id DESC LIMIT ", Int(limit + 1)));
    crate::store::fetch_parts(db, &parts).await
}
