//! Earning rules beyond the base rate: multipliers (by branch, day and time, date range,
//! product or category), caps per bill and per day, and stamp cards. The evaluation is a
//! pure function ([`model::evaluate`]) used both to record a purchase and to preview one.
//!
//! Must never happen: a rule that creates points from nothing the shop configured; a
//! multiplier applied to the part of a bill it does not cover; a cap exceeded.

pub mod api;
pub mod model;
pub mod store;
