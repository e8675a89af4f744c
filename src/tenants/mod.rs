//! Tenants (shops, brands, programs) and their branches.
//!
//! Must never happen: a query that reads or writes without `tenant_id`; a tenant with
//! an invalid currency or time zone; two branches of one shop with the same code.

pub mod api;
pub mod model;
pub mod store;
