//! Limits on what anyone may try without being signed in: wrong passwords, member
//! signups and shop signups (in memory, per process; housekeeping forgets keys whose
//! budget is full again).
//!
//! Must never happen: one person locking another out from their own address (wrong
//! passwords count per account *and address*, and only a slower budget per account
//! counts them from everywhere); right passwords counting against anyone; one address
//! blocking a shop's signups for everyone.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A budget per key: `burst` units may be spent at once, and one comes back every
/// `refill`. Time is passed in, so tests can move it.
pub struct Budget {
    burst: f64,
    refill: Duration,
    /// Units spent, as of when.
    keys: Mutex<HashMap<String, (f64, Instant)>>,
}

impl Budget {
    /// `per_period` units a `period`, all of them at once if need be.
    pub fn new(per_period: u32, period: Duration) -> Self {
        let burst = per_period.max(1);
        Budget {
            burst: f64::from(burst),
            refill: period / burst,
            keys: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (f64, Instant)>> {
        self.keys.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn spent(&self, entry: Option<&(f64, Instant)>, now: Instant) -> f64 {
        entry.map_or(0.0, |(spent, at)| {
            let back = now.saturating_duration_since(*at).as_secs_f64() / self.refill.as_secs_f64();
            (spent - back).max(0.0)
        })
    }

    /// How many seconds until this key may spend one unit (None: it may now).
    pub fn wait(&self, key: &str, now: Instant) -> Option<u64> {
        let spent = self.spent(self.lock().get(key), now);
        let over = spent + 1.0 - self.burst;
        (over > 0.0).then(|| (over * self.refill.as_secs_f64()).ceil().max(1.0) as u64)
    }

    /// Spend one unit of this key's budget.
    pub fn spend(&self, key: &str, now: Instant) {
        let mut keys = self.lock();
        let spent = self.spent(keys.get(key), now);
        keys.insert(key.to_string(), (spent + 1.0, now));
    }

    /// Take one unit if the budget allows; `Err(seconds)` to wait otherwise.
    pub fn take(&self, key: &str, now: Instant) -> Result<(), u64> {
        let mut keys = self.lock();
        let spent = self.spent(keys.get(key), now);
        let over = spent + 1.0 - self.burst;
        if over > 0.0 {
            return Err((over * self.refill.as_secs_f64()).ceil().max(1.0) as u64);
        }
        keys.insert(key.to_string(), (spent + 1.0, now));
        Ok(())
    }

    /// Give this key its whole budget back.
    pub fn forgive(&self, key: &str) {
        self.lock().remove(key);
    }

    /// Forget keys whose budget is full again (bounded memory).
    pub fn shrink(&self, now: Instant) {
        let mut keys = self.lock();
        let refill = self.refill.as_secs_f64();
        keys.retain(|_, (spent, at)| {
            *spent - now.saturating_duration_since(*at).as_secs_f64() / refill > 0.0
        });
    }
}

/// Wrong passwords: per account from one address (a person mistyping, or someone
/// guessing from there), per address whatever the account (one machine trying many),
/// and a slower budget per account from everywhere (guessing spread over addresses).
/// A right password forgives its account at its address.
pub struct LoginLimiter {
    here: Budget,
    address: Budget,
    anywhere: Budget,
}

impl LoginLimiter {
    pub fn new(
        per_account_and_address_per_minute: u32,
        per_address_per_minute: u32,
        per_account_per_hour: u32,
    ) -> Self {
        LoginLimiter {
            here: Budget::new(per_account_and_address_per_minute, Duration::from_secs(60)),
            address: Budget::new(per_address_per_minute, Duration::from_secs(60)),
            anywhere: Budget::new(per_account_per_hour, Duration::from_secs(3600)),
        }
    }

    fn keys(account: &str, address: &str) -> [String; 3] {
        [
            format!("{account} from {address}"),
            address.to_string(),
            account.to_string(),
        ]
    }

    /// May this account be tried from this address now? `Err(seconds)` to wait.
    pub fn check(&self, account: &str, address: &str, now: Instant) -> Result<(), u64> {
        let [here, address, anywhere] = Self::keys(account, address);
        let waits = [
            self.here.wait(&here, now),
            self.address.wait(&address, now),
            self.anywhere.wait(&anywhere, now),
        ];
        waits.into_iter().flatten().max().map_or(Ok(()), Err)
    }

    /// A wrong password for this account from this address.
    pub fn failed(&self, account: &str, address: &str, now: Instant) {
        let [here, address, anywhere] = Self::keys(account, address);
        self.here.spend(&here, now);
        self.address.spend(&address, now);
        self.anywhere.spend(&anywhere, now);
    }

    /// The right password: the account's mistakes from this address are forgiven.
    pub fn succeeded(&self, account: &str, address: &str) {
        self.here.forgive(&Self::keys(account, address)[0]);
    }

    pub fn shrink(&self, now: Instant) {
        self.here.shrink(now);
        self.address.shrink(now);
        self.anywhere.shrink(now);
    }
}

/// Signups anyone may make without signing in: members of a shop (per client address
/// and per phone, so a crowd at one shop signs up freely) and new shops (per address).
pub struct SignupLimiter {
    members_per_address: Budget,
    members_per_phone: Budget,
    shops_per_address: Budget,
}

impl SignupLimiter {
    pub fn new(members_per_address_per_hour: u32, shops_per_address_per_hour: u32) -> Self {
        SignupLimiter {
            members_per_address: Budget::new(
                members_per_address_per_hour,
                Duration::from_secs(3600),
            ),
            members_per_phone: Budget::new(5, Duration::from_secs(3600)),
            shops_per_address: Budget::new(shops_per_address_per_hour, Duration::from_secs(3600)),
        }
    }

    /// A member signup from this address for this phone; `Err(seconds)` to wait.
    pub fn member(&self, address: &str, phone: &str, now: Instant) -> Result<(), u64> {
        if let Some(wait) = self.members_per_phone.wait(phone, now) {
            return Err(wait);
        }
        self.members_per_address.take(address, now)?;
        self.members_per_phone.spend(phone, now);
        Ok(())
    }

    /// A shop signup from this address; `Err(seconds)` to wait.
    pub fn shop(&self, address: &str, now: Instant) -> Result<(), u64> {
        self.shops_per_address.take(address, now)
    }

    pub fn shrink(&self, now: Instant) {
        self.members_per_address.shrink(now);
        self.members_per_phone.shrink(now);
        self.shops_per_address.shrink(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_refills_one_unit_at_a_time() {
        let t0 = Instant::now();
        let b = Budget::new(5, Duration::from_secs(60));
        for _ in 0..5 {
            assert_eq!(b.take("k", t0), Ok(()));
        }
        assert_eq!(b.take("k", t0), Err(12), "one unit back every 12 s");
        assert_eq!(b.take("other", t0), Ok(()), "keys are separate");
        assert_eq!(b.wait("k", t0 + Duration::from_secs(11)), Some(1));
        assert_eq!(b.take("k", t0 + Duration::from_secs(12)), Ok(()));
        b.shrink(t0 + Duration::from_secs(600));
        assert!(b.lock().is_empty(), "full budgets are forgotten");
    }

    #[test]
    fn wrong_passwords_from_one_address_do_not_lock_the_account_out_elsewhere() {
        let t0 = Instant::now();
        let l = LoginLimiter::new(5, 20, 50);
        for _ in 0..5 {
            assert!(l.check("kafe/owner", "10.0.0.66", t0).is_ok());
            l.failed("kafe/owner", "10.0.0.66", t0);
        }
        assert!(l.check("kafe/owner", "10.0.0.66", t0).is_err());
        assert!(
            l.check("kafe/owner", "10.0.0.1", t0).is_ok(),
            "the owner's own address"
        );
        // Right passwords do not count; a right one forgives the mistakes made there.
        for _ in 0..20 {
            assert!(l.check("kafe/cashier", "10.0.0.1", t0).is_ok());
            l.succeeded("kafe/cashier", "10.0.0.1");
        }
        for _ in 0..4 {
            l.failed("kafe/cashier", "10.0.0.1", t0);
        }
        l.succeeded("kafe/cashier", "10.0.0.1");
        for _ in 0..4 {
            l.failed("kafe/cashier", "10.0.0.1", t0);
        }
        assert!(l.check("kafe/cashier", "10.0.0.1", t0).is_ok());
        // Guessing spread over many addresses meets the account's slower budget.
        for i in 0..50 {
            l.failed("kafe/manager", &format!("10.1.0.{i}"), t0);
        }
        assert_eq!(l.check("kafe/manager", "10.0.0.1", t0), Err(72));
    }

    #[test]
    fn signups_are_limited_per_address_and_per_phone_not_per_shop() {
        let t0 = Instant::now();
        let l = SignupLimiter::new(30, 5);
        for i in 0..8 {
            assert!(
                l.member(&format!("10.0.0.{i}"), &format!("+6681000000{i}"), t0)
                    .is_ok()
            );
        }
        for _ in 0..5 {
            assert!(l.member("10.0.0.99", "+66812345678", t0).is_ok());
        }
        assert!(
            l.member("10.0.0.98", "+66812345678", t0).is_err(),
            "one phone, many tries"
        );
        for _ in 0..5 {
            assert!(l.shop("10.0.0.1", t0).is_ok());
        }
        assert!(l.shop("10.0.0.1", t0).is_err());
        assert!(l.shop("10.0.0.2", t0).is_ok());
    }
}
