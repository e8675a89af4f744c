//! One integration-test binary (fast to link). Every test runs on SQLite and PostgreSQL.

mod helpers;

mod access;
mod cli;
mod foundation;
mod imports;
mod ledger;
mod ledger_properties;
mod members;
mod rules;
mod signup;
mod tiers;
mod rewards;
mod draws;
