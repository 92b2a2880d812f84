//! The keepalive, idle and close timers: their bookkeeping, the time-taking
//! input methods and [`Connection::poll_timeout`].
//!
//! Nothing here reads a clock. Each timer is a start time the connection
//! remembers and a [`Duration`] from the [`Config`]; the caller supplies
//! every time, and the latest one it gave stands for "now".

use core::time::Duration;

use super::{Config, Connection, ProtocolError, State};
use crate::time::Timestamp;

/// Which timer ended the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Expired {
    Idle,
    Close,
}

impl Expired {
    pub(super) fn error(self) -> ProtocolError {
        match self {
            Expired::Idle => ProtocolError::IdleTimeout,
            Expired::Close => ProtocolError::CloseTimeout,
        }
    }
}

/// The times the deadlines count from, known once the caller gave a time.
#[derive(Clone, Copy, Debug)]
struct Clock<T> {
    /// The latest time given: time never goes backwards.
    now: T,
    /// When the last byte arrived, or the clock started.
    last_byte: T,
    /// What the keepalive counts from: the last byte or the last keepalive
    /// ping, whichever is later.
    ping_from: T,
    /// When this end's close frame was known to be sent; the close timeout
    /// counts from it.
    close_from: Option<T>,
}

/// The timers' state.
#[derive(Debug)]
pub(super) struct Timers<T> {
    /// `None` until the caller gives a time for the first time.
    clock: Option<Clock<T>>,
    /// Bytes arrived through `receive`, which has no time: they count as
    /// arriving at the next time given.
    untimed_bytes: bool,
    /// A timer ended the connection and `poll_event` has not reported it.
    expired: Option<Expired>,
}

impl<T: Timestamp> Timers<T> {
    pub(super) fn new() -> Self {
        Timers {
            clock: None,
            untimed_bytes: false,
            expired: None,
        }
    }

    pub(super) fn bytes_without_time(&mut self) {
        self.untimed_bytes = true;
    }

    pub(super) fn take_expired(&mut self) -> Option<Expired> {
        self.expired.take()
    }
}

/// The keepalive interval in force: zero means off, or every call to
/// `handle_timeout` would queue a ping and leave the deadline where it was.
fn keepalive_interval(config: &Config) -> Option<Duration> {
    config
        .keepalive_interval
        .filter(|interval| !interval.is_zero())
}

impl Config {
    /// Sets [`keepalive_interval`](Self::keepalive_interval); `None` or
    /// zero turns it off.
    pub fn keepalive_interval(mut self, interval: impl Into<Option<Duration>>) -> Self {
        self.keepalive_interval = interval.into();
        self
    }

    /// Sets [`idle_timeout`](Self::idle_timeout); `None` turns it off.
    pub fn idle_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.idle_timeout = timeout.into();
        self
    }

    /// Sets [`close_timeout`](Self::close_timeout); `None` turns it off.
    pub fn close_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.close_timeout = timeout.into();
        self
    }

    /// Sets [`handshake_timeout`](Self::handshake_timeout), which only the
    /// adapters use; `None` turns it off.
    pub fn handshake_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.handshake_timeout = timeout.into();
        self
    }
}

impl<T: Timestamp> Connection<T> {
    // ---- timers ----

    /// Takes bytes read from the transport and the time they arrived: like
    /// [`receive`](Self::receive), and any byte restarts the idle and
    /// keepalive timers at `now`. An empty `bytes` only gives the time.
    pub fn receive_at(&mut self, bytes: &[u8], now: T) {
        self.receive(bytes);
        self.observe(now);
    }

    /// The next deadline, or `None` if no timer runs: call
    /// [`handle_timeout`](Self::handle_timeout) when it is reached. Ask
    /// again after every input and command, since they move it.
    ///
    /// It is the earliest deadline of the three timers. It may be at or
    /// before the current time; then call `handle_timeout` at once. That is
    /// also how the connection asks for the time after an input that came
    /// without one ([`receive`](Self::receive) or [`close`](Self::close)).
    /// `None` before the connection was given any time, once the connection
    /// is closed, and after the end of the stream.
    ///
    /// # Values to start from
    ///
    /// | end | `keepalive_interval` | `idle_timeout` | `close_timeout` |
    /// |---|---|---|---|
    /// | server, browsers as clients | 30 s | 75 s | 5 s |
    /// | client | 30 s | 75 s | 5 s |
    ///
    /// Why: proxies and load balancers commonly drop a connection idle for
    /// 60 s (nginx's `proxy_read_timeout` and AWS load balancers' idle timeout
    /// default to 60 s), so something must cross every 30 s. Browsers answer
    /// pings but never send their own, and the JavaScript API cannot, so a
    /// server facing browsers must be the end that pings; its idle timeout then
    /// sheds tabs that vanished without a close (a phone that lost its
    /// network). 75 s is two intervals and 15 s for a slow mobile round trip.
    /// A client pings for the same reason and to find out that a server or a
    /// path died; when both ends ping, each one's pings also reset the other's
    /// keepalive, so they ping about once per interval between them. 5 s is a
    /// reasonable time for the peer's close (section 7.1.1) on any path.
    /// The keepalive interval should be well under the idle timeout; if it is
    /// not, no ping goes out before the connection fails.
    ///
    /// # Example
    ///
    /// ```
    /// use core::time::Duration;
    /// use rfc6455::{Config, Connection, ProtocolError};
    ///
    /// let s = Duration::from_secs;
    /// let config = Config::default()
    ///     .keepalive_interval(s(30))
    ///     .idle_timeout(s(75));
    /// // A fake clock: seconds since an origin of our choosing.
    /// let mut server = Connection::<Duration>::server(config);
    /// server.handle_timeout(s(0)); // the clock starts
    /// assert_eq!(server.poll_timeout(), Some(s(30)));
    ///
    /// server.handle_timeout(s(30)); // silence: a ping is queued
    /// assert_eq!(server.take_transmit().as_ref(), [0x89, 0x00]);
    /// assert_eq!(server.poll_timeout(), Some(s(60)));
    ///
    /// server.handle_timeout(s(60)); // still silent: another ping
    /// assert_eq!(server.take_transmit().as_ref(), [0x89, 0x00]);
    /// assert_eq!(server.poll_timeout(), Some(s(75)));
    ///
    /// server.handle_timeout(s(75)); // nothing came back
    /// assert_eq!(server.poll_event(), Err(ProtocolError::IdleTimeout));
    /// assert!(server.is_done()); // close the transport
    /// assert_eq!(server.poll_timeout(), None);
    /// ```
    #[must_use]
    pub fn poll_timeout(&self) -> Option<T> {
        if self.timers.expired.is_some() || self.eof || self.state() == State::Closed {
            return None;
        }
        let clock = self.timers.clock.as_ref()?;
        let config = &self.config;
        let closing = self.state() == State::Closing;
        let needs_time = (self.timers.untimed_bytes
            && (config.idle_timeout.is_some() || keepalive_interval(config).is_some()))
            || (closing && config.close_timeout.is_some() && clock.close_from.is_none());
        if needs_time {
            return Some(clock.now);
        }
        let idle = config
            .idle_timeout
            .map(|timeout| clock.last_byte.saturating_add(timeout));
        let keepalive = keepalive_interval(config)
            .filter(|_| !closing)
            .map(|interval| clock.ping_from.saturating_add(interval));
        let close = config
            .close_timeout
            .zip(clock.close_from)
            .map(|(timeout, from)| from.saturating_add(timeout));
        [idle, keepalive, close].into_iter().flatten().min()
    }

    /// Acts on the deadlines reached at `now`: queues a keepalive ping, or
    /// fails the connection with [`ProtocolError::IdleTimeout`] or
    /// [`ProtocolError::CloseTimeout`], which the next
    /// [`poll_event`](Self::poll_event) returns. Then send what was queued
    /// and ask [`poll_timeout`](Self::poll_timeout) again.
    ///
    /// Any call is harmless: before a deadline it only tells the connection
    /// the time (the first call starts the timers), and a deadline is acted
    /// on once. A `now` earlier than a time given before counts as that
    /// time: time never goes backwards.
    ///
    /// ```
    /// # #[cfg(feature = "std")] // `Connection::new` takes `std::time::Instant`
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::{Duration, Instant};
    /// use rfc6455::{CloseCode, Config, Connection, ProtocolError, Role};
    ///
    /// let config = Config::default().close_timeout(Duration::from_secs(5));
    /// let mut client = Connection::new(Role::Client, config);
    /// let start = Instant::now();
    /// client.handle_timeout(start);
    /// assert_eq!(client.poll_timeout(), None); // no timer runs while open
    ///
    /// client.close(CloseCode::Normal, "bye")?;
    /// let _ = client.take_transmit();
    /// // `close` has no time: the connection asks for it at once.
    /// assert_eq!(client.poll_timeout(), Some(start));
    /// let sent = start + Duration::from_millis(20);
    /// client.handle_timeout(sent);
    /// assert_eq!(client.poll_timeout(), Some(sent + Duration::from_secs(5)));
    ///
    /// // The server never answers.
    /// client.handle_timeout(sent + Duration::from_secs(5));
    /// assert_eq!(client.poll_event(), Err(ProtocolError::CloseTimeout));
    /// assert!(client.is_done());
    /// # Ok(())
    /// # }
    /// # #[cfg(not(feature = "std"))]
    /// # fn main() {}
    /// ```
    pub fn handle_timeout(&mut self, now: T) {
        let now = self.observe(now);
        if self.timers.expired.is_some() || self.eof || self.state() == State::Closed {
            return;
        }
        let Some(clock) = self.timers.clock else {
            return;
        };
        let config = self.config;
        if let Some(timeout) = config.idle_timeout
            && now >= clock.last_byte.saturating_add(timeout)
        {
            return self.expire(Expired::Idle);
        }
        if let (Some(timeout), Some(from)) = (config.close_timeout, clock.close_from)
            && now >= from.saturating_add(timeout)
        {
            return self.expire(Expired::Close);
        }
        if let Some(interval) = keepalive_interval(&config)
            && self.state() == State::Open
            && now >= clock.ping_from.saturating_add(interval)
            && self.ping(&[]).is_ok()
        {
            self.timers.clock = Some(Clock {
                ping_from: now,
                ..clock
            });
        }
    }

    /// Records `now`, starting the clock on the first call, and stamps what
    /// happened without a time since the last call. Returns the time in
    /// force, which is never earlier than one given before.
    fn observe(&mut self, now: T) -> T {
        let closing = self.state() == State::Closing;
        let timers = &mut self.timers;
        let clock = timers.clock.get_or_insert(Clock {
            now,
            last_byte: now,
            ping_from: now,
            close_from: None,
        });
        clock.now = clock.now.max(now);
        let now = clock.now;
        if core::mem::take(&mut timers.untimed_bytes) {
            clock.last_byte = now;
            clock.ping_from = now;
        }
        if closing && clock.close_from.is_none() {
            clock.close_from = Some(now);
        }
        now
    }

    /// Fails the connection on a timer; the next `poll_event` reports it.
    ///
    /// Section 7.1.7: "An endpoint MAY omit sending a Close frame if it
    /// believes the other side is unlikely to be able to receive and process
    /// the Close frame". A peer silent past the idle timeout, or deaf to our
    /// close, is such a side; so the code is 1006, which section 7.4.1
    /// designates for a connection "closed abnormally, e.g., without sending
    /// or receiving a Close control frame", and which "MUST NOT be set as a
    /// status code in a Close control frame". Bytes still queued would only
    /// keep the transport open for a peer that does not read: dropped.
    fn expire(&mut self, expired: Expired) {
        self.timers.expired = Some(expired);
        self.stop();
        self.out.discard();
    }
}
