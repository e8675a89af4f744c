//! Members: the people who collect points. This holds what the ledger needs (identity
//! by phone, name, email); profiles, signup, import, merge and PDPA rights build on it.
//!
//! Must never happen: two members of one shop with the same phone; a phone stored in
//! any form but E.164.

pub mod api;
pub mod card;
pub mod consent;
pub mod import;
pub mod import_file;
pub mod import_jobs;
pub mod model;
pub mod portal;
pub mod privacy;
pub mod self_service;
pub mod signup;
pub mod store;
