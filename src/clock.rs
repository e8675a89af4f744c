//! The time a server goes by: the system's, moved ahead only where a test asks, so a
//! test of something that happens later (a draw closing, a trusted key running out)
//! advances the clock instead of sleeping. Each server (`AppState`) holds its own.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

#[derive(Clone, Debug, Default)]
pub struct Clock {
    /// Microseconds this clock runs ahead of the system's (0 outside tests).
    ahead: Arc<AtomicI64>,
}

impl Clock {
    /// Microseconds since the Unix epoch, UTC.
    pub fn now_micros(&self) -> i64 {
        crate::store::now_micros() + self.ahead.load(Ordering::Relaxed)
    }

    pub fn now(&self) -> jiff::Timestamp {
        crate::types::timestamp(self.now_micros())
    }

    /// Move this clock ahead (tests: what would happen that much later).
    pub fn advance(&self, by: std::time::Duration) {
        let micros = i64::try_from(by.as_micros()).unwrap_or(i64::MAX);
        self.ahead.fetch_add(micros, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::Clock;

    #[test]
    fn a_clock_runs_with_the_system_and_ahead_by_what_it_was_advanced() {
        let clock = Clock::default();
        let shared = clock.clone();
        let before = crate::store::now_micros();
        clock.advance(std::time::Duration::from_secs(3600));
        let now = shared.now_micros();
        assert!(
            now >= before + 3_600_000_000,
            "the copies share the advance"
        );
        assert!(now < crate::store::now_micros() + 3_601_000_000);
    }
}
