//! HTTP conventions shared by every capability: JSON bodies and errors, query strings
//! and pagination, request context, authorization, idempotency, OpenAPI, operations.

pub mod authorize;
pub mod context;
pub mod idempotency;
pub mod json;
pub mod openapi;
pub mod ops;
pub mod query;
pub mod text_guard;
