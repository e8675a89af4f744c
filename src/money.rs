//! Money and points as integers in types of their own, so a bill's satang can never be
//! added to a balance's points by mistake, and arithmetic that could overflow is checked
//! and refused with an error that says what would have passed its limit. Both are
//! sent as plain integers (JSON numbers) and stored through [`Points::get`] and
//! [`Satang::get`].

use serde::{Deserialize, Serialize};

/// What an amount would pass if the arithmetic went on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{what} would pass the largest amount Loyal holds")]
pub struct Overflow {
    pub what: &'static str,
}

macro_rules! amount {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(
            Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(i64);

        impl $name {
            pub const ZERO: $name = $name(0);

            pub const fn new(amount: i64) -> $name {
                $name(amount)
            }

            /// The amount as a plain integer (for storage, JSON and display).
            pub const fn get(self) -> i64 {
                self.0
            }

            pub fn checked_add(self, other: $name) -> Result<$name, Overflow> {
                self.0.checked_add(other.0).map($name).ok_or(Overflow { what: $what })
            }

            pub fn checked_sub(self, other: $name) -> Result<$name, Overflow> {
                self.0.checked_sub(other.0).map($name).ok_or(Overflow { what: $what })
            }

            pub fn checked_mul(self, times: i64) -> Result<$name, Overflow> {
                self.0.checked_mul(times).map($name).ok_or(Overflow { what: $what })
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl From<$name> for i64 {
            fn from(amount: $name) -> i64 {
                amount.0
            }
        }

        impl std::iter::Sum for $name {
            /// Sums of amounts a caller has bounded (a member's lots, a bill's items);
            /// saturates rather than wraps if one were not.
            fn sum<I: Iterator<Item = $name>>(iter: I) -> $name {
                $name(iter.fold(0i64, |sum, a| sum.saturating_add(a.0)))
            }
        }
    };
}

amount!(
    /// Money in satang (1/100 baht).
    Satang,
    "the amount of money"
);

amount!(
    /// Points (or stamps): what a member earns, holds and spends.
    Points,
    "the number of points"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_that_would_overflow_is_refused_and_says_what() {
        let most = Points::new(i64::MAX);
        assert_eq!(
            most.checked_add(Points::new(1)),
            Err(Overflow {
                what: "the number of points"
            })
        );
        assert_eq!(
            Satang::new(i64::MIN)
                .checked_sub(Satang::new(1))
                .unwrap_err()
                .to_string(),
            "the amount of money would pass the largest amount Loyal holds"
        );
        assert_eq!(Satang::new(250).checked_mul(4), Ok(Satang::new(1_000)));
        assert_eq!(
            [Points::new(2), Points::new(3)].into_iter().sum::<Points>(),
            Points::new(5)
        );
        assert_eq!(
            serde_json::to_string(&Satang::new(12_550)).unwrap(),
            "12550"
        );
    }
}
