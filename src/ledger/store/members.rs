//! A member's ledger when who the member is changes: locked before a merge or an
//! erasure, re-attributed by a merge, its free text scrubbed by an erasure.

use std::collections::HashMap;

use super::write::lock_balances;
use crate::ledger::model::Currency;
use crate::on_tx;
use crate::store::{Tx, now_micros};

/// Remove free text staff typed about a member (reasons) when the member is erased;
/// amounts, kinds and dates, and so every balance and report, stay as they were.
pub async fn scrub_free_text(tx: &mut Tx, tenant_id: i64, member_id: i64) -> sqlx::Result<u64> {
    on_tx!(tx, c => sqlx::query("UPDATE ledger_txns SET reason = '(erased)' WHERE tenant_id = $1 AND member_id = $2 AND reason IS NOT NULL")
        .bind(tenant_id).bind(member_id).execute(c).await.map(|r| r.rows_affected()))
}

/// Lock members' balances in every currency, lowest id first, before a change to who
/// they are (a merge, an erasure): two such changes to the same members (a merge either
/// way round, a merge and an erasure) run one after the other, and the second reads
/// what the first did.
/// Returns each member's (balance, debt) per currency.
pub async fn lock_members(
    tx: &mut Tx,
    tenant_id: i64,
    members: &[i64],
) -> sqlx::Result<HashMap<(i64, Currency), (i64, i64)>> {
    let keyed: Vec<(i64, i64)> = members.iter().map(|m| (tenant_id, *m)).collect();
    let mut held = HashMap::new();
    for currency in [Currency::Points, Currency::Stamps] {
        for ((_, member), b) in lock_balances(tx, currency, &keyed).await? {
            held.insert((member, currency), b);
        }
    }
    Ok(held)
}

/// Re-attribute everything `from` holds in the ledger to `into` (a merge of two profiles
/// of one person). Amounts, kinds, dates, lots and keys are unchanged, so every
/// transaction still balances and every report is unchanged; the two balance rows (per
/// currency) are summed. The caller has locked both with [`lock_members`].
pub async fn merge_members(tx: &mut Tx, tenant_id: i64, from: i64, into: i64) -> sqlx::Result<()> {
    on_tx!(tx, c => {
        // Entries and lots are found through the member's transactions (their own
        // member_id has no index: a lookup by it read the shop's whole ledger), so they
        // move before the transactions do.
        for table in ["ledger_entries", "lots"] {
            sqlx::query(&format!(
                "UPDATE {table} SET member_id = $3 WHERE tenant_id = $1 AND member_id = $2
                 AND txn_id IN (SELECT id FROM ledger_txns WHERE tenant_id = $1 AND member_id = $2)"))
                .bind(tenant_id).bind(from).bind(into).execute(&mut *c).await?;
        }
        // Redemptions and draw entries were bought with these points: they follow them.
        for table in ["ledger_txns", "redemptions", "draw_entries"] {
            sqlx::query(&format!("UPDATE {table} SET member_id = $3 WHERE tenant_id = $1 AND member_id = $2"))
                .bind(tenant_id).bind(from).bind(into).execute(&mut *c).await?;
        }
        let rows: Vec<(String, i64, i64)> = sqlx::query_as("SELECT currency, balance, debt FROM balances WHERE tenant_id = $1 AND member_id = $2")
            .bind(tenant_id).bind(from).fetch_all(&mut *c).await?;
        for (currency, balance, debt) in rows {
            sqlx::query("UPDATE balances SET balance = balance + $4, debt = debt + $5, updated_at = $6 WHERE tenant_id = $1 AND member_id = $2 AND currency = $3")
                .bind(tenant_id).bind(into).bind(&currency).bind(balance).bind(debt).bind(now_micros()).execute(&mut *c).await?;
        }
        // The survivor keeps its own tier; the merged history counts from its next purchase.
        sqlx::query("DELETE FROM member_tiers WHERE tenant_id = $1 AND member_id = $2").bind(tenant_id).bind(from).execute(&mut *c).await?;
        sqlx::query("DELETE FROM balances WHERE tenant_id = $1 AND member_id = $2").bind(tenant_id).bind(from).execute(&mut *c).await.map(|r| r.rows_affected())
    })?;
    Ok(())
}
