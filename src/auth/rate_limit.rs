//! Login attempts are limited per account and per client IP (in memory, per process).

use std::num::NonZeroU32;
use std::sync::Arc;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

#[derive(Clone)]
pub struct LoginLimiter {
    per_account: Arc<DefaultKeyedRateLimiter<String>>,
    per_ip: Arc<DefaultKeyedRateLimiter<String>>,
}

impl LoginLimiter {
    pub fn new(per_account_per_minute: u32, per_ip_per_minute: u32) -> Self {
        let quota =
            |n: u32| Quota::per_minute(NonZeroU32::new(n.max(1)).expect("max(1) is non-zero"));
        LoginLimiter {
            per_account: Arc::new(RateLimiter::keyed(quota(per_account_per_minute))),
            per_ip: Arc::new(RateLimiter::keyed(quota(per_ip_per_minute))),
        }
    }

    /// Take one attempt for this account and IP; `Err(seconds)` says how long to wait.
    pub fn check(&self, account: &str, ip: &str) -> Result<(), u64> {
        let clock = DefaultClock::default();
        for (limiter, key) in [(&self.per_ip, ip), (&self.per_account, account)] {
            if let Err(not_until) = limiter.check_key(&key.to_string()) {
                return Err(not_until.wait_time_from(clock.now()).as_secs().max(1));
            }
        }
        Ok(())
    }

    /// Forget keys whose limits have fully recovered (bounded memory).
    pub fn shrink(&self) {
        self.per_account.retain_recent();
        self.per_ip.retain_recent();
    }
}
