//! The shop's console: the setup wizard, the members' screens (members.rs) and the admin
//! pages (imports, rewards,
//! tiers, signup form, draws, audit, API keys, settings). Above the capabilities: each
//! page calls a capability's API handler and shows its answer, so the console does what
//! the API does and nothing else.

pub mod admin;
pub mod audit;
pub mod draws;
pub mod ledger_settings;
pub mod members;
pub mod rewards;
pub mod setup;
pub mod team;
pub mod tiers;
