//! `poll_timeout` is always the earliest deadline, time never goes
//! backwards, and extra `handle_timeout` calls are harmless, checked on
//! fixed cases and on random operation sequences against a fake clock.
#![cfg(feature = "std")]

mod common;

use std::time::Duration;

use common::{client_frame, drain};
use proptest::prelude::*;
use rfc6455::frame::OpCode;
use rfc6455::{CloseCode, Config, Connection, ProtocolError, Role, State};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn server(config: Config) -> Connection<Duration> {
    Connection::with_timestamp(Role::Server, config)
}

#[test]
fn no_deadline_without_a_timer_or_before_any_time() {
    let mut plain = server(Config::default());
    plain.handle_timeout(ms(5));
    assert_eq!(plain.poll_timeout(), None);

    let config = Config::default()
        .keepalive_interval(ms(1))
        .idle_timeout(ms(2))
        .close_timeout(ms(3));
    let unstarted = server(config);
    assert_eq!(unstarted.poll_timeout(), None);
}

#[test]
fn poll_timeout_is_the_earliest_of_the_three() {
    // (keepalive, idle, close, expected deadline while open, while closing)
    // with the last byte at 1 s and the close sent at 2 s.
    let cases = [
        (Some(10), Some(20), Some(5), 11_000, 7_000),
        (Some(30), Some(20), Some(5), 21_000, 7_000),
        (Some(10), Some(3), Some(5), 4_000, 4_000),
        (None, None, Some(5), u64::MAX, 7_000),
        (Some(10), None, None, 11_000, u64::MAX),
        (None, Some(20), Some(60), 21_000, 21_000),
    ];
    for (keepalive, idle, close, open, closing) in cases {
        let s = |n: Option<u64>| n.map(Duration::from_secs);
        let config = Config::default()
            .keepalive_interval(s(keepalive))
            .idle_timeout(s(idle))
            .close_timeout(s(close));
        let mut server = server(config);
        server.handle_timeout(ms(0));
        server.receive_at(&client_frame(true, OpCode::Pong, b""), ms(1_000));
        let _ = drain(&mut server);
        let expect = |n: u64| (n != u64::MAX).then(|| ms(n));
        assert_eq!(
            server.poll_timeout(),
            expect(open),
            "{keepalive:?} {idle:?} {close:?}"
        );
        server.close(CloseCode::Normal, "").unwrap();
        server.handle_timeout(ms(2_000));
        assert_eq!(
            server.poll_timeout(),
            expect(closing),
            "{keepalive:?} {idle:?} {close:?}"
        );
    }
}

#[test]
fn time_never_goes_backwards() {
    let config = Config::default()
        .keepalive_interval(ms(1_000))
        .idle_timeout(ms(3_000));
    let mut server = server(config);
    server.handle_timeout(ms(10_000));
    // Bytes stamped earlier than a time already given count at that time.
    server.receive_at(&client_frame(true, OpCode::Pong, b""), ms(2_000));
    let _ = drain(&mut server);
    assert_eq!(server.poll_timeout(), Some(ms(11_000)));
    // An earlier `now` neither acts nor moves a deadline back.
    server.handle_timeout(ms(0));
    assert_eq!(server.buffered_amount(), 0);
    assert_eq!(server.poll_timeout(), Some(ms(11_000)));
    // Reaching the deadline after going "back" acts as usual.
    server.handle_timeout(ms(11_000));
    assert_eq!(server.take_transmit().len(), 2, "one ping");
    server.handle_timeout(ms(5));
    assert_eq!(server.poll_timeout(), Some(ms(12_000)));
    assert_eq!(server.poll_event(), Ok(None));
}

#[test]
fn extra_handle_timeout_calls_are_harmless() {
    let config = Config::default()
        .keepalive_interval(ms(1_000))
        .idle_timeout(ms(3_000));
    let mut server = server(config);
    for _ in 0..5 {
        server.handle_timeout(ms(0));
    }
    assert_eq!(server.buffered_amount(), 0);
    for _ in 0..5 {
        server.handle_timeout(ms(1_000));
    }
    assert_eq!(server.take_transmit().len(), 2, "one ping, not five");
    for _ in 0..5 {
        server.handle_timeout(ms(3_000));
    }
    assert_eq!(server.poll_event(), Err(ProtocolError::IdleTimeout));
    for _ in 0..5 {
        server.handle_timeout(ms(9_000));
    }
    assert_eq!(server.poll_event(), Ok(None), "reported once");
    assert!(server.is_done());
}

#[test]
fn the_end_of_the_stream_stops_the_timers() {
    let mut server = server(Config::default().idle_timeout(ms(1_000)));
    server.handle_timeout(ms(0));
    server.receive_eof();
    assert_eq!(server.poll_timeout(), None);
    server.handle_timeout(ms(1_000));
    assert_eq!(server.poll_event(), Err(ProtocolError::AbnormalClosure));
    assert_eq!(server.poll_event(), Ok(None));
}

/// What the test does next, at the current fake time.
#[derive(Clone, Debug)]
enum Op {
    /// Let time pass, waking at every deadline on the way.
    Wait(u16),
    /// A masked pong from the client arrives, with its time or without.
    Bytes { timed: bool },
    /// Part of a frame: a byte is a byte.
    HeaderByte,
    /// Call `handle_timeout` now, whatever the deadline.
    Handle,
    /// This end starts the close handshake.
    Close,
    /// The peer's close arrives.
    PeerClose,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u16..3_000).prop_map(Op::Wait),
        2 => any::<bool>().prop_map(|timed| Op::Bytes { timed }),
        1 => Just(Op::HeaderByte),
        2 => Just(Op::Handle),
        1 => Just(Op::Close),
        1 => Just(Op::PeerClose),
    ]
}

fn timer() -> impl Strategy<Value = Option<Duration>> {
    prop_oneof![Just(None), (0u64..5_000).prop_map(|n| Some(ms(n)))]
}

/// What a `handle_timeout` call could change, seen from outside.
fn observable(c: &Connection<Duration>) -> (usize, State, Option<Duration>) {
    (c.buffered_amount(), c.state(), c.poll_timeout())
}

/// A server driven as an adapter would drive it, and what the test knows
/// independently of it.
struct Driver {
    conn: Connection<Duration>,
    idle: Option<Duration>,
    close: Option<Duration>,
    /// The fake clock.
    now: Duration,
    /// The latest time given to the connection.
    given: Duration,
    /// When the last byte arrived.
    last_byte: Duration,
    /// When this end's close went out.
    close_at: Option<Duration>,
    failed: bool,
}

impl Driver {
    /// Lets time pass until `until`, calling `handle_timeout` at each
    /// deadline reached, and checks what each call does.
    fn wait(&mut self, until: Duration) -> Result<(), TestCaseError> {
        while let Some(deadline) = self.conn.poll_timeout().filter(|d| *d <= until) {
            // A deadline already past (one that asks for the time of an
            // input that had none) is handled at once.
            let wake = deadline.max(self.now);
            let before = observable(&self.conn);
            if deadline > self.given {
                // Just before a deadline nothing is due.
                self.conn.handle_timeout(deadline - Duration::from_nanos(1));
                prop_assert_eq!(observable(&self.conn), before);
            }
            self.now = wake;
            self.given = wake;
            self.conn.handle_timeout(wake);
            // At it, something was due: the deadline moves on or the
            // timers end, so a driver never spins.
            let after = self.conn.poll_timeout();
            prop_assert!(
                after.is_none_or(|d| d > wake),
                "{:?} then {:?}",
                wake,
                after
            );
            let _ = self.conn.take_transmit();
            self.check_report()?;
        }
        self.now = self.now.max(until);
        Ok(())
    }

    /// A timeout comes no earlier than its timer allows, once.
    fn check_report(&mut self) -> Result<(), TestCaseError> {
        match self.conn.poll_event() {
            Err(ProtocolError::IdleTimeout) => {
                let idle = self.idle.expect("idle timer on");
                prop_assert!(self.now >= self.last_byte + idle);
            }
            Err(ProtocolError::CloseTimeout) => {
                let (close, from) = self.close.zip(self.close_at).expect("close timer on");
                prop_assert!(self.now >= from + close);
            }
            other => {
                prop_assert_eq!(other, Ok(None));
                return Ok(());
            }
        }
        prop_assert!(!self.failed, "reported twice");
        self.failed = true;
        prop_assert_eq!(self.conn.poll_event(), Ok(None));
        prop_assert!(self.conn.is_done());
        prop_assert_eq!(self.conn.poll_timeout(), None);
        Ok(())
    }

    fn run(&mut self, op: Op) -> Result<(), TestCaseError> {
        let now = self.now;
        let pong = client_frame(true, OpCode::Pong, b"");
        match op {
            Op::Wait(n) => return self.wait(now + ms(u64::from(n))),
            Op::Bytes { timed } => {
                if timed {
                    self.conn.receive_at(&pong, now);
                    self.given = now;
                } else {
                    self.conn.receive(&pong);
                }
                self.last_byte = now;
                let _ = drain(&mut self.conn);
            }
            Op::HeaderByte => {
                self.conn.receive_at(&pong[..1], now);
                self.last_byte = now;
                // The rest follows, so later frames stay aligned.
                self.conn.receive_at(&pong[1..], now);
                self.given = now;
                let _ = drain(&mut self.conn);
            }
            Op::Handle => {
                let deadline = self.conn.poll_timeout();
                let before = observable(&self.conn);
                self.conn.handle_timeout(now);
                self.given = now;
                if deadline.is_none_or(|d| d > now) {
                    prop_assert_eq!(observable(&self.conn), before);
                }
                let _ = self.conn.take_transmit();
                self.check_report()?;
            }
            Op::Close => {
                if self.conn.close(CloseCode::Normal, "").is_ok() {
                    self.close_at = Some(now);
                }
                let _ = self.conn.take_transmit();
            }
            Op::PeerClose => {
                self.conn
                    .receive_at(&client_frame(true, OpCode::Close, b""), now);
                self.given = now;
                self.last_byte = now;
                let _ = drain(&mut self.conn);
                let _ = self.conn.take_transmit();
            }
        }
        // The driver sets its timer after every input and command; one
        // already past fires at once.
        self.wait(now)
    }
}

proptest! {
    /// Driven like an adapter would drive it (wake at each deadline), with
    /// random inputs in between:
    /// - a `handle_timeout` before the deadline changes nothing: no timer
    ///   is due earlier than `poll_timeout` says;
    /// - one at the deadline moves it later or ends the timers: something
    ///   was due then, and a driver never spins;
    /// - the connection never fails earlier than its idle or close timeout
    ///   allows, and a failure is reported once.
    #[test]
    fn poll_timeout_is_the_earliest_deadline(
        keepalive in timer(),
        idle in timer(),
        close in timer(),
        ops in proptest::collection::vec(op(), 1..60),
    ) {
        let config = Config::default()
            .keepalive_interval(keepalive)
            .idle_timeout(idle)
            .close_timeout(close);
        let mut driver = Driver {
            conn: server(config),
            idle,
            close,
            now: ms(0),
            given: ms(0),
            last_byte: ms(0),
            close_at: None,
            failed: false,
        };
        driver.conn.handle_timeout(ms(0));
        for op in ops {
            driver.run(op)?;
        }
    }
}
