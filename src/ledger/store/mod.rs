//! The only SQL of the ledger, by concern: [`write`] (the one writer every posting goes
//! through, and the balance locks), [`expiry`] (what is due, and expiry batches),
//! [`read`] (balances, history, reports), [`verify`] (the invariants checked from the
//! rows), [`members`] (merging and erasing a member's ledger) and, here, the shop's
//! ledger settings.

pub mod expiry;
pub mod members;
pub mod read;
pub mod verify;
pub mod write;

use crate::ledger::model::{
    EarnRate, ExpiryPolicy, LedgerSettings, RefundPolicy, RoundUp, Rounding,
};
use crate::on_db;
use crate::on_tx;
use crate::store::{Db, Tx, now_micros};

#[derive(sqlx::FromRow)]
struct SettingsRow {
    earn_spend_satang: i64,
    earn_points: i64,
    earn_rounding: String,
    min_spend_satang: i64,
    expiry_mode: String,
    expiry_months: i64,
    expiry_round_up: String,
    pending_days: i64,
    refund_policy: String,
    welcome_points: i64,
    point_value_satang: i64,
}

fn round_up_str(r: RoundUp) -> &'static str {
    match r {
        RoundUp::None => "none",
        RoundUp::MonthEnd => "month_end",
        RoundUp::QuarterEnd => "quarter_end",
        RoundUp::YearEnd => "year_end",
    }
}

fn round_up_from(s: &str) -> RoundUp {
    match s {
        "month_end" => RoundUp::MonthEnd,
        "quarter_end" => RoundUp::QuarterEnd,
        "year_end" => RoundUp::YearEnd,
        _ => RoundUp::None,
    }
}

/// The columns of [`SettingsRow`], for `concat!` (the statements stay constant text).
macro_rules! settings_columns {
    () => {
        "earn_spend_satang, earn_points, earn_rounding, min_spend_satang, expiry_mode,
         expiry_months, expiry_round_up, pending_days, refund_policy, welcome_points,
         point_value_satang"
    };
}

pub async fn settings(db: &Db, tenant_id: i64) -> sqlx::Result<LedgerSettings> {
    const SQL: &str = concat!(
        "SELECT ",
        settings_columns!(),
        " FROM ledger_settings WHERE tenant_id = $1"
    );
    let row: Option<SettingsRow> =
        on_db!(db, pool => sqlx::query_as(SQL).bind(tenant_id).fetch_optional(pool).await)?;
    Ok(settings_from(row))
}

/// A shop's saved settings, or the defaults when it never saved any.
fn settings_from(row: Option<SettingsRow>) -> LedgerSettings {
    match row {
        None => LedgerSettings::default(),
        Some(r) => LedgerSettings {
            earn: EarnRate {
                spend_satang: r.earn_spend_satang,
                points: r.earn_points,
                rounding: Rounding::from_db(&r.earn_rounding),
                min_spend_satang: r.min_spend_satang,
            },
            expiry: if r.expiry_mode == "rolling" {
                ExpiryPolicy::Rolling {
                    months: r.expiry_months as u16,
                    round_up: round_up_from(&r.expiry_round_up),
                }
            } else {
                ExpiryPolicy::Never
            },
            pending_days: r.pending_days as u16,
            refund_policy: RefundPolicy::from_db(&r.refund_policy),
            welcome_points: r.welcome_points,
            point_value_satang: r.point_value_satang,
        },
    }
}

/// What recording a purchase reads about its shop, in one query rather than four: the
/// time zone, the ledger settings (the defaults when none were saved), and the earning
/// rules and the document named `tier_doc` as saved (JSON), if they were.
pub struct ShopForEarning {
    pub time_zone: String,
    pub settings: LedgerSettings,
    pub rules: Option<String>,
    pub tier_program: Option<String>,
}

#[derive(sqlx::FromRow)]
struct ShopRow {
    time_zone: String,
    rules: Option<String>,
    tier_program: Option<String>,
    settings_saved: bool,
}

/// [`ShopForEarning`] of a shop; `None` when there is no such shop.
pub async fn shop_for_earning(
    db: &Db,
    tenant_id: i64,
    tier_doc: &str,
) -> sqlx::Result<Option<ShopForEarning>> {
    use sqlx::FromRow;
    const SQL: &str = concat!(
        "SELECT t.time_zone,
                (SELECT rules FROM earning_rules WHERE tenant_id = t.id) AS rules,
                (SELECT doc FROM tenant_docs WHERE tenant_id = t.id AND name = $2) AS tier_program,
                s.tenant_id IS NOT NULL AS settings_saved, ",
        settings_columns!(),
        " FROM tenants t LEFT JOIN ledger_settings s ON s.tenant_id = t.id
         WHERE t.id = $1"
    );
    on_db!(db, pool => {
        let Some(row) = sqlx::query(SQL).bind(tenant_id).bind(tier_doc).fetch_optional(pool).await? else {
            return Ok(None);
        };
        let shop = ShopRow::from_row(&row)?;
        let settings = if shop.settings_saved { Some(SettingsRow::from_row(&row)?) } else { None };
        Ok(Some(ShopForEarning {
            time_zone: shop.time_zone,
            settings: settings_from(settings),
            rules: shop.rules,
            tier_program: shop.tier_program,
        }))
    })
}

pub async fn save_settings(tx: &mut Tx, tenant_id: i64, s: &LedgerSettings) -> sqlx::Result<()> {
    let (mode, months, round) = match s.expiry {
        ExpiryPolicy::Never => ("never", 0, RoundUp::None),
        ExpiryPolicy::Rolling { months, round_up } => ("rolling", i64::from(months), round_up),
    };
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO ledger_settings (tenant_id, earn_spend_satang, earn_points, earn_rounding, min_spend_satang,
             expiry_mode, expiry_months, expiry_round_up, pending_days, refund_policy, welcome_points, updated_at,
             point_value_satang)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
         ON CONFLICT (tenant_id) DO UPDATE SET earn_spend_satang = $2, earn_points = $3, earn_rounding = $4,
             min_spend_satang = $5, expiry_mode = $6, expiry_months = $7, expiry_round_up = $8, pending_days = $9,
             refund_policy = $10, welcome_points = $11, updated_at = $12, point_value_satang = $13")
        .bind(tenant_id).bind(s.earn.spend_satang).bind(s.earn.points).bind(s.earn.rounding.as_str()).bind(s.earn.min_spend_satang)
        .bind(mode).bind(months).bind(round_up_str(round)).bind(i64::from(s.pending_days)).bind(s.refund_policy.as_str())
        .bind(s.welcome_points).bind(now_micros()).bind(s.point_value_satang)
        .execute(c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Run `SET LOCAL` planner settings for the rest of this transaction on PostgreSQL;
/// SQLite has no such settings, so there it does nothing. A query string without
/// arguments goes as PostgreSQL's simple query, so several statements may be given.
/// (`sqlx::raw_sql` says the same, but its future fails the compiler's `Send` check in
/// the server's housekeeping task, which runs the expiry: launchbadge/sqlx#3150.)
pub(super) async fn plan_on_postgres(tx: &mut Tx, settings: &str) -> sqlx::Result<()> {
    match tx {
        Tx::Postgres(t) => sqlx::Executor::execute(&mut **t, settings)
            .await
            .map(|_| ()),
        Tx::Sqlite(_) => Ok(()),
    }
}
