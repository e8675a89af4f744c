//! Loyal: loyalty, membership and customer data in one binary. See docs/ARCHITECTURE.md
//! for the map of this crate.

pub mod app;
pub mod audit;
pub mod auth;
pub mod bench;
pub mod cli;
pub mod clock;
pub mod config;
pub mod console;
pub mod crypto;
pub mod demo;
pub mod draws;
pub mod earning;
pub mod error;
pub mod files;
pub mod http;
pub mod ids;
pub mod ledger;
pub mod members;
pub mod money;
pub mod otp;
pub mod overview;
pub mod qr;
pub mod rewards;
pub mod rules;
pub mod staff;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod tenants;
pub mod tiers;
pub mod types;
pub mod web;
