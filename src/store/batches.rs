//! Bulk jobs' transactions sized to a time: member import and expiry take as many rows
//! per transaction as fit in a target time, learnt as they go.

use std::time::Duration;

/// How long a bulk job's transaction takes by default (import, expiry): on SQLite every
/// purchase waits behind it. `loyal import members` and `loyal expire` take another with
/// `--transaction-ms`, from 50 ms to 10 minutes.
pub const BULK_TRANSACTION_MS: u64 = 500;

/// Records one transaction of a bulk job (`job`: "import", "expiry") in
/// `loyal_bulk_transaction_seconds`: on SQLite every purchase waits behind it, so this is
/// the wait a bulk job may add to a purchase (sized to about half a second by
/// [`BatchSizer`]).
pub fn record_bulk_transaction(job: &'static str, took: Duration) {
    metrics::histogram!("loyal_bulk_transaction_seconds", "job" => job).record(took);
}

/// Sizes the transactions of a bulk job (expiry, member import) to a time. On SQLite a
/// write transaction holds the database's one write lock, so every purchase waits behind
/// it; a bigger transaction writes each page it touches once for more rows. So a job
/// starts small, halves after a transaction longer than `target` (or one that stopped at
/// a cap), and doubles after one under half of it, up to `max`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchSizer {
    size: usize,
    max: usize,
    target: Duration,
}

impl BatchSizer {
    /// Starts at `first` (lots scanned, rows imported), never below 1 or above `max`.
    pub const fn new(first: usize, max: usize, target: Duration) -> Self {
        let max = if max == 0 { 1 } else { max };
        let size = if first == 0 {
            1
        } else if first > max {
            max
        } else {
            first
        };
        BatchSizer { size, max, target }
    }

    /// Transactions sized to `target_ms` each, starting at `first`, with room for
    /// `per_half_second` items per half second of it (at least that many), at most `cap`:
    /// a bulk job's half-second default and the CLI's `--transaction-ms`.
    pub const fn for_time(
        first: usize,
        per_half_second: usize,
        cap: usize,
        target_ms: u64,
    ) -> Self {
        let halves = if target_ms < 500 {
            1
        } else {
            (target_ms / 500) as usize
        };
        let max = per_half_second.saturating_mul(halves);
        let max = if max > cap { cap } else { max };
        Self::new(first, max, Duration::from_millis(target_ms))
    }

    /// What the next transaction takes.
    pub fn size(&self) -> usize {
        self.size
    }

    /// The most any transaction takes.
    pub const fn max(&self) -> usize {
        self.max
    }

    /// After a transaction of the current size that took `took`.
    pub fn adapt(&mut self, took: Duration, capped: bool) {
        self.size = if capped || took > self.target {
            (self.size / 2).max(1)
        } else if took < self.target / 2 {
            (self.size * 2).min(self.max)
        } else {
            self.size
        };
    }
}

#[cfg(test)]
mod tests {
    use super::BatchSizer;
    use std::time::Duration;

    #[test]
    fn a_bulk_job_halves_after_a_slow_or_capped_transaction_and_doubles_after_a_fast_one() {
        let ms = Duration::from_millis;
        let mut s = BatchSizer::new(1_000, 5_000, ms(500));
        s.adapt(ms(100), false);
        assert_eq!(s.size(), 2_000, "under half the target: twice");
        s.adapt(ms(300), false);
        assert_eq!(s.size(), 2_000, "between half and all of it: the same");
        s.adapt(ms(100), false);
        s.adapt(ms(100), false);
        assert_eq!(s.size(), 5_000, "never past the most");
        s.adapt(ms(900), false);
        assert_eq!(s.size(), 2_500, "over the target: half");
        s.adapt(ms(10), true);
        assert_eq!(s.size(), 1_250, "stopped at a cap: half, however fast");
        let mut one = BatchSizer::new(0, 0, ms(500));
        one.adapt(ms(900), false);
        assert_eq!(one.size(), 1, "never empty");
    }
}
