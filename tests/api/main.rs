//! One integration-test binary (fast to link). Every test runs on SQLite and PostgreSQL.

mod browser;
mod helpers;

mod access;
mod architecture;
mod cli;
mod contract;
mod crash;
mod draws;
mod foundation;
mod group_commit;
mod group_properties;
mod imports;
mod ledger;
mod ledger_properties;
mod members;
mod openapi_snapshot;
mod overview;
mod page_access;
mod pages;
mod passwords;
mod rewards;
mod rules;
mod scale;
mod schema;
mod security;
mod self_service;
mod servers;
mod signup;
mod tiers;
