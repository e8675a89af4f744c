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

    /// Give one unit back (an attempt that turned out right).
    pub fn give_back(&self, key: &str, now: Instant) {
        let mut keys = self.lock();
        let spent = self.spent(keys.get(key), now);
        keys.insert(key.to_string(), ((spent - 1.0).max(0.0), now));
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
/// and a slower budget per account from everywhere (guessing spread over addresses),
/// which does not hold an address the account signed in from lately. Each attempt takes
/// its units before the password is checked, so parallel guesses cannot all pass; a
/// right password gives them back and forgives the account's mistakes from there.
pub struct LoginLimiter {
    here: Budget,
    address: Budget,
    anywhere: Budget,
    /// "account from address" → when it last signed in there.
    known: Mutex<HashMap<String, Instant>>,
}

/// How long an address an account signed in from stays exempt from the account's
/// budget for guesses from everywhere.
const KNOWN_FOR: Duration = Duration::from_secs(30 * 24 * 3600);
/// Most known addresses held (in memory, per server); past it, all but the last day's go.
const MOST_KNOWN: usize = 100_000;

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
            known: Mutex::default(),
        }
    }

    fn keys(account: &str, address: &str) -> [String; 3] {
        [
            format!("{account} from {address}"),
            address.to_string(),
            account.to_string(),
        ]
    }

    fn known(&self) -> std::sync::MutexGuard<'_, HashMap<String, Instant>> {
        self.known.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Take an attempt at this account from this address; `Err(seconds)` to wait.
    pub fn begin(&self, account: &str, address: &str, now: Instant) -> Result<(), u64> {
        let [here, from, anywhere] = Self::keys(account, address);
        let known = self
            .known()
            .get(&here)
            .is_some_and(|at| now.saturating_duration_since(*at) < KNOWN_FOR);
        self.here.take(&here, now)?;
        if let Err(wait) = self.address.take(&from, now) {
            self.here.give_back(&here, now);
            return Err(wait);
        }
        if !known && let Err(wait) = self.anywhere.take(&anywhere, now) {
            self.here.give_back(&here, now);
            self.address.give_back(&from, now);
            return Err(wait);
        }
        Ok(())
    }

    /// The password was right: the attempt is given back, the account's mistakes from
    /// this address are forgiven, and the address is known for the account.
    pub fn succeeded(&self, account: &str, address: &str, now: Instant) {
        let [here, from, anywhere] = Self::keys(account, address);
        self.here.forgive(&here);
        self.address.give_back(&from, now);
        self.anywhere.give_back(&anywhere, now);
        let mut known = self.known();
        if known.len() >= MOST_KNOWN {
            known.retain(|_, at| now.saturating_duration_since(*at) < KNOWN_FOR / 30);
        }
        known.insert(here, now);
    }

    pub fn shrink(&self, now: Instant) {
        self.here.shrink(now);
        self.address.shrink(now);
        self.anywhere.shrink(now);
        self.known()
            .retain(|_, at| now.saturating_duration_since(*at) < KNOWN_FOR);
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

    /// A member signup at `shop` from this address for this phone (the phone's budget
    /// is per shop: someone else cannot block it at every shop); `Err(seconds)` to wait.
    pub fn member(&self, shop: &str, address: &str, phone: &str, now: Instant) -> Result<(), u64> {
        let phone = format!("{shop}/{phone}");
        if let Some(wait) = self.members_per_phone.wait(&phone, now) {
            return Err(wait);
        }
        self.members_per_address.take(address, now)?;
        self.members_per_phone.spend(&phone, now);
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
        // Each try takes its units before the password is checked.
        for _ in 0..5 {
            assert!(l.begin("kafe/owner", "10.0.0.66", t0).is_ok());
        }
        assert!(l.begin("kafe/owner", "10.0.0.66", t0).is_err());
        assert!(
            l.begin("kafe/owner", "10.0.0.1", t0).is_ok(),
            "the owner's own address"
        );
        // Right passwords give their units back; one forgives the mistakes made there.
        for _ in 0..30 {
            assert!(l.begin("kafe/cashier", "10.0.0.2", t0).is_ok());
            l.succeeded("kafe/cashier", "10.0.0.2", t0);
        }
        for _ in 0..4 {
            assert!(l.begin("kafe/cashier", "10.0.0.2", t0).is_ok());
        }
        l.succeeded("kafe/cashier", "10.0.0.2", t0);
        for _ in 0..4 {
            assert!(l.begin("kafe/cashier", "10.0.0.2", t0).is_ok());
        }
        // Guessing spread over many addresses meets the account's slower budget, which
        // does not hold an address the account signed in from lately.
        assert!(l.begin("kafe/manager", "10.0.0.3", t0).is_ok());
        l.succeeded("kafe/manager", "10.0.0.3", t0);
        for i in 0..50 {
            let guesser = format!("10.1.{}.{}", i / 4, i % 4);
            assert!(l.begin("kafe/manager", &guesser, t0).is_ok());
        }
        assert_eq!(l.begin("kafe/manager", "10.2.0.1", t0), Err(72));
        assert!(l.begin("kafe/manager", "10.0.0.3", t0).is_ok());
    }

    #[test]
    fn signups_are_limited_per_address_and_per_phone_not_per_shop() {
        let t0 = Instant::now();
        let l = SignupLimiter::new(30, 5);
        for i in 0..8 {
            let phone = format!("+6681000000{i}");
            assert!(l.member("kafe", &format!("10.0.0.{i}"), &phone, t0).is_ok());
        }
        for _ in 0..5 {
            assert!(l.member("kafe", "10.0.0.99", "+66812345678", t0).is_ok());
        }
        let again = l.member("kafe", "10.0.0.98", "+66812345678", t0);
        assert!(again.is_err(), "one phone, many tries");
        let elsewhere = l.member("other-shop", "10.0.0.98", "+66812345678", t0);
        assert!(elsewhere.is_ok(), "the same phone at another shop");
        for _ in 0..5 {
            assert!(l.shop("10.0.0.1", t0).is_ok());
        }
        assert!(l.shop("10.0.0.1", t0).is_err());
        assert!(l.shop("10.0.0.2", t0).is_ok());
    }
}
