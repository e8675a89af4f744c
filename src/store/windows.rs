//! Queries over a time window of a member's history, bounded by id.

use super::Tx;
use super::bulk::{Val, fetch_values};

/// The first id that can belong to a movement at or after `from`: a movement's time is at
/// most 5 minutes after the moment it was recorded (the API refuses later times) and ids
/// grow with that moment, so `t.id >= first_id_from(from)` (a range on the
/// `(tenant_id, member_id, id)` index) skips a member's history from before a window
/// without an index on time. One day of margin covers clocks that differ between servers.
pub fn first_id_from(from: i64) -> i64 {
    const MARGIN: i64 = 86_400_000_000;
    crate::ids::first_at(from.saturating_sub(MARGIN))
}

/// One number per member over a window, for many members in one query: `windows` are
/// (tenant, member, from, to), bound as `v.column1..4` between `head` and `tail`, and
/// [`first_id_from`]`(from)` as `v.column5`; the query returns (tenant, member, value)
/// rows. Members without a row are absent.
pub async fn per_member_values(
    tx: &mut Tx,
    head: &str,
    tail: &str,
    windows: &[(i64, i64, i64, i64)],
) -> sqlx::Result<std::collections::HashMap<(i64, i64), i64>> {
    let rows: Vec<_> = windows
        .iter()
        .map(|&(t, m, from, to)| {
            let first_id = first_id_from(from);
            vec![
                Val::Int(t),
                Val::Int(m),
                Val::Int(from),
                Val::Int(to),
                Val::Int(first_id),
            ]
        })
        .collect();
    let values: Vec<(i64, i64, i64)> = fetch_values(tx, head, tail, &rows).await?;
    Ok(values.into_iter().map(|(t, m, v)| ((t, m), v)).collect())
}
