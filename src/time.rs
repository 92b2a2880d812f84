//! Points in time, as the caller supplies them to the connection's timers.
//!
//! The crate never reads a clock. The caller passes the time to
//! [`Connection::receive_at`](crate::Connection::receive_at) and
//! [`Connection::handle_timeout`](crate::Connection::handle_timeout), and
//! [`Connection::poll_timeout`](crate::Connection::poll_timeout) answers in
//! the same type. Anything that can be ordered and moved forward by a
//! [`Duration`] will do; see [`Timestamp`].

use core::time::Duration;

/// A point in time the connection's timers can count from.
///
/// Two implementations come with the crate:
///
/// - `std::time::Instant`, the default with the feature `std`: pass
///   `Instant::now()`.
/// - [`Duration`], read as the time elapsed since an origin of the caller's
///   choosing. It needs nothing but `core`, so it suits targets without an
///   operating system: convert a monotonic tick counter, for instance
///   `Duration::from_millis(ticks)` from a millisecond timer interrupt. A
///   fake clock in tests is the same thing.
///
/// Another clock type (an embedded runtime's `Instant`, say) can be used
/// through a newtype that implements this trait. The values must never go
/// backwards; if one does, the connection keeps the latest time it was
/// given.
///
/// ```
/// use core::time::Duration;
/// use rfc6455::time::Timestamp;
///
/// let boot = Duration::ZERO;
/// assert_eq!(boot.saturating_add(Duration::from_secs(5)), Duration::from_secs(5));
/// assert_eq!(Duration::MAX.saturating_add(Duration::from_secs(5)), Duration::MAX);
/// ```
pub trait Timestamp: Copy + Ord + core::fmt::Debug {
    /// `self` moved forward by `d`; the latest representable time if that
    /// would overflow. Never panics.
    fn saturating_add(self, d: Duration) -> Self;
}

impl Timestamp for Duration {
    fn saturating_add(self, d: Duration) -> Self {
        Duration::saturating_add(self, d)
    }
}

#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
impl Timestamp for std::time::Instant {
    fn saturating_add(self, d: Duration) -> Self {
        if let Some(later) = self.checked_add(d) {
            return later;
        }
        // `Instant` has no maximum constant: approach the latest
        // representable value by halving the step each time it overflows.
        // At most about two tries per bit of `Duration`, and only for
        // deadlines centuries away.
        let mut latest = self;
        let mut step = d;
        while !step.is_zero() {
            match latest.checked_add(step) {
                Some(later) => latest = later,
                None => step /= 2,
            }
        }
        latest
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(feature = "std")]
    use std::time::Instant;

    #[cfg(feature = "std")]
    #[test]
    fn instant_saturates_instead_of_panicking() {
        let now = Instant::now();
        let far = now.saturating_add(Duration::MAX);
        assert!(far > now);
        // Nothing representable lies beyond it.
        assert_eq!(far.checked_add(Duration::from_nanos(1)), None);
        assert_eq!(far.saturating_add(Duration::from_secs(1)), far);
    }

    #[cfg(feature = "std")]
    #[test]
    fn instant_adds_exactly_when_it_fits() {
        let now = Instant::now();
        let d = Duration::from_millis(1500);
        assert_eq!(now.saturating_add(d), now + d);
    }

    #[test]
    fn duration_saturates() {
        let d = Duration::from_secs(3);
        assert_eq!(
            Timestamp::saturating_add(d, Duration::from_secs(4)),
            Duration::from_secs(7)
        );
        assert_eq!(Timestamp::saturating_add(Duration::MAX, d), Duration::MAX);
    }
}
