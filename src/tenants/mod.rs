//! Tenants (shops, brands, programs) and their branches.
//!
//! Must never happen: a query that reads or writes without `tenant_id`; a tenant with
//! an invalid currency or time zone; two branches of one shop with the same code.

pub mod api;
pub mod model;
pub mod pages;
pub mod store;

use crate::error::ApiError;
use crate::store::Db;

/// Why a shop's own facts could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ShopError {
    #[error("shop not found")]
    NotFound,
    /// A time zone the shop was saved with that this build does not know.
    #[error("the shop's time zone {0} is unknown")]
    UnknownTimeZone(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl From<ShopError> for ApiError {
    fn from(e: ShopError) -> ApiError {
        match e {
            ShopError::NotFound => ApiError::not_found("shop"),
            ShopError::UnknownTimeZone(_) => ApiError::internal(e),
            ShopError::Db(e) => e.into(),
        }
    }
}

/// The shop's time zone: its days, months and expiry dates are counted there.
pub async fn time_zone(db: &Db, tenant_id: i64) -> Result<jiff::tz::TimeZone, ShopError> {
    let shop = store::get_tenant(db, tenant_id)
        .await?
        .ok_or(ShopError::NotFound)?;
    jiff::tz::TimeZone::get(&shop.time_zone).map_err(|_| ShopError::UnknownTimeZone(shop.time_zone))
}
