//! Staff of a shop: accounts, roles, branch assignments, and invitations by link or QR.
//!
//! Must never happen: a staff member granted a role their inviter could not grant;
//! an invitation used twice or after it expired; a shop left without an active owner.

pub mod api;
pub mod pages;
pub mod passwords;
pub mod store;
