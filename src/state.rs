//! What every request shares: the database, the settings, the access rules, the limits
//! kept in memory, the purchase writer. Below the capabilities' API and page handlers,
//! which take it, and the router (`app`), which builds it.

use std::ops::Deref;
use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;

use crate::auth::rate_limit::{LoginLimiter, SignupLimiter};
use crate::config::Settings;
use crate::http::openapi::Policies;
use crate::store::Db;

pub struct Inner {
    pub db: Db,
    pub settings: Settings,
    pub policies: Policies,
    pub openapi: Arc<utoipa::openapi::OpenApi>,
    pub login_limiter: LoginLimiter,
    pub signup_limiter: SignupLimiter,
    /// Password checks running at once: one per core.
    pub password_checks: tokio::sync::Semaphore,
    pub metrics: PrometheusHandle,
    pub cipher: crate::crypto::Cipher,
    pub otp_limiter: crate::otp::OtpLimiter,
    pub sms: crate::otp::sms::SmsSender,
    /// Group-committing purchase writer (None when `ledger_group_commit` is off).
    pub ledger_writer: Option<crate::earning::writer::LedgerWriter>,
    /// The time this server goes by (`Clock::advance` in tests).
    pub clock: crate::clock::Clock,
    /// API keys recently found valid.
    pub api_keys: crate::auth::api_keys::KeyCache,
}

/// Shared by every request: cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

impl AppState {
    pub fn new(inner: Inner) -> AppState {
        AppState(Arc::new(inner))
    }
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}
