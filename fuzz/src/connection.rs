//! The `connection_server` and `connection_client` targets: a list of
//! operations drives one [`Connection`], and everything it sends is read by
//! a peer connection of the other role.
//!
//! Invariants checked after every operation:
//! - a text message is valid UTF-8, no message is over the limit, control
//!   payloads are at most 125 bytes;
//! - after `Err` from `poll_event` the state is `Closed`, no event follows,
//!   and the last frame sent is a close frame with the error's code (1006,
//!   never sent, leaves the stream without a new close);
//! - what the connection sends is a valid stream for its role that the peer
//!   accepts without error, and nothing follows its close frame;
//! - a command fails with `SendError::Closed` exactly when the state is not
//!   open, and a failed command queues nothing;
//! - after end of stream the connection is closed;
//! - memory held stays within a bound set by the input and the limits;
//! - timers (keepalive 10 ms, idle timeout 40 ms, close timeout 20 ms, on a
//!   fake clock that `Tick` moves): after `handle_timeout(now)` the next
//!   deadline is later than `now` or there is none, a timeout is 1006 and
//!   sends nothing, and the connection is then done at once.
//!
//! The input is read in a format simple enough to write seeds by hand (see
//! `seeds/connection_*`): two little-endian `u16` limits, then operations,
//! each a tag byte and its fields, payloads as a little-endian `u16` length
//! and the bytes.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::BufMut;
use libfuzzer_sys::arbitrary::{Arbitrary, Result, Unstructured};
use rfc6455::close::{CloseCode, CloseFrame};
use rfc6455::frame::{FrameHeader, HeaderStatus, OpCode, Rsv};
use rfc6455::message::DataKind;
use rfc6455::{
    Config, Connection, Event, Message, PreparedMessage, ProtocolError, Role, SendError, State,
};

/// A whole run: the connection's limits and what happens to it.
#[derive(Debug)]
pub struct Input {
    /// `Config::max_frame_size`.
    pub max_frame_size: u16,
    /// `Config::max_message_size`.
    pub max_message_size: u16,
    /// In order.
    pub ops: Vec<Op>,
}

/// One thing that happens to the connection.
#[derive(Debug)]
pub enum Op {
    /// Raw bytes arrive from the peer (tag 0).
    Receive(Vec<u8>),
    /// Raw bytes arrive, read into `Connection::payload_space` wherever it
    /// is offered, each piece up to its room; the rest goes to `receive`
    /// (tag 13).
    ReadInPlace(Vec<u8>),
    /// A frame arrives, its header encoded properly and its payload masked
    /// with `mask`, in two pieces cut at `split` (tag 1). `first` is the
    /// header's first byte as sent: FIN, RSV bits and any opcode.
    Frame {
        /// FIN, RSV1-3 and the opcode.
        first: u8,
        /// The masking key, if masked.
        mask: Option<[u8; 4]>,
        /// Where the frame is cut in two `receive` calls.
        split: u16,
        /// The payload, unmasked.
        payload: Vec<u8>,
    },
    /// What the peer connection queued (its pongs and its close reply)
    /// arrives (tag 2).
    Reply,
    /// The transport ends (tag 3).
    Eof,
    /// `send_text` (tag 4).
    Text(String),
    /// `send_binary` (tag 5).
    Binary(Vec<u8>),
    /// `send_fragment`, payload as is (tag 6).
    Fragment {
        /// Text or binary.
        kind: DataKind,
        /// Any bytes; text fragments need not be UTF-8.
        payload: Vec<u8>,
        /// Whether it ends the message.
        last: bool,
    },
    /// `ping` (tag 7).
    Ping(Vec<u8>),
    /// `pong` (tag 8).
    Pong(Vec<u8>),
    /// `close` with the code `code` if it is one (tag 9).
    Close {
        /// Any number; those that are no close code are skipped.
        code: u16,
        /// Any length; over 123 bytes is the caller's mistake.
        reason: String,
    },
    /// The transport writes `n` queued bytes to the peer, all for 0 (tag 10).
    Write(u16),
    /// `n` milliseconds pass, then `handle_timeout` (tag 11).
    Tick(u8),
    /// `send_prepared` of a binary message, `payload` repeated `repeat`
    /// times (so that long ones are queued by handle), prepared in frames of
    /// at most `frame_size` bytes (tag 12).
    Prepared {
        /// The bytes to repeat.
        payload: Vec<u8>,
        /// How many times, at least once.
        repeat: u8,
        /// The prepared frame size; 0 is taken as 1.
        frame_size: u16,
    },
}

fn payload(u: &mut Unstructured<'_>) -> Result<Vec<u8>> {
    let len = usize::from(u16::arbitrary(u)?);
    Ok(u.bytes(len.min(u.len()))?.to_vec())
}

fn text(u: &mut Unstructured<'_>) -> Result<String> {
    Ok(String::from_utf8_lossy(&payload(u)?).into_owned())
}

impl<'a> Arbitrary<'a> for Op {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match u8::arbitrary(u)? % 14 {
            0 => Op::Receive(payload(u)?),
            1 => {
                let first = u8::arbitrary(u)?;
                let masked = bool::arbitrary(u)?;
                let key = <[u8; 4]>::arbitrary(u)?;
                let split = u16::arbitrary(u)?;
                Op::Frame {
                    first,
                    mask: masked.then_some(key),
                    split,
                    payload: payload(u)?,
                }
            }
            2 => Op::Reply,
            3 => Op::Eof,
            4 => Op::Text(text(u)?),
            5 => Op::Binary(payload(u)?),
            6 => {
                let flags = u8::arbitrary(u)?;
                Op::Fragment {
                    kind: if flags & 1 != 0 {
                        DataKind::Text
                    } else {
                        DataKind::Binary
                    },
                    last: flags & 2 != 0,
                    payload: payload(u)?,
                }
            }
            7 => Op::Ping(payload(u)?),
            8 => Op::Pong(payload(u)?),
            9 => Op::Close {
                code: u16::arbitrary(u)?,
                reason: text(u)?,
            },
            10 => Op::Write(u16::arbitrary(u)?),
            11 => Op::Tick(u8::arbitrary(u)?),
            13 => Op::ReadInPlace(payload(u)?),
            _ => Op::Prepared {
                repeat: u8::arbitrary(u)?,
                frame_size: u16::arbitrary(u)?,
                payload: payload(u)?,
            },
        })
    }
}

impl<'a> Arbitrary<'a> for Input {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let max_frame_size = u16::arbitrary(u)?;
        let max_message_size = u16::arbitrary(u)?;
        let mut ops = Vec::new();
        while !u.is_empty() {
            ops.push(Op::arbitrary(u)?);
        }
        Ok(Input {
            max_frame_size,
            max_message_size,
            ops,
        })
    }
}

/// Counts the bytes the Rust side holds, to check that memory stays
/// bounded.
pub struct CountingAlloc;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

pub(crate) static LIVE: AtomicUsize = AtomicUsize::new(0);
pub(crate) static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; the
// counters are only read.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(live, Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let live = LIVE.fetch_add(new_size, Ordering::Relaxed) + new_size;
        PEAK.fetch_max(live, Ordering::Relaxed);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// The frames a connection sends, cut at frame boundaries and handed to the
/// peer one at a time, so that the peer's view can be checked frame by frame.
struct Wire {
    /// Whether the sender is a client, whose frames are all masked.
    masked: bool,
    pending: Vec<u8>,
    /// A close frame went by: nothing may follow it.
    closed: bool,
}

/// The peer, reading what the connection under test sends.
struct Peer {
    conn: Connection,
    wire: Wire,
    /// The close frame the peer received, if any.
    close: Option<Option<CloseFrame>>,
}

impl Peer {
    /// Passes `bytes` sent by the connection to the peer, frame by frame.
    fn deliver(&mut self, bytes: &[u8]) {
        let wire = &mut self.wire;
        wire.pending.extend_from_slice(bytes);
        loop {
            let status = FrameHeader::decode(&wire.pending, Rsv::NONE);
            let Ok(HeaderStatus::Complete { header, len }) = status else {
                assert!(status.is_ok(), "sent a bad header: {status:?}");
                return;
            };
            assert_eq!(header.mask.is_some(), wire.masked, "masking by role");
            let end = len + usize::try_from(header.payload_len).unwrap();
            if wire.pending.len() < end {
                return;
            }
            assert!(!wire.closed, "a frame was sent after the close frame");
            wire.closed = header.opcode == OpCode::Close;
            let frame: Vec<u8> = wire.pending.drain(..end).collect();
            self.conn.receive(&frame);
            loop {
                match self.conn.poll_event() {
                    Ok(None) => break,
                    Ok(Some(Event::Close(frame))) => self.close = Some(frame),
                    Ok(Some(_)) => {}
                    Err(e) => panic!("the peer rejected what was sent: {e:?}"),
                }
            }
        }
    }
}

/// The connection under test and what is known of it.
struct Harness {
    conn: Connection,
    config: Config,
    peer: Peer,
    /// `poll_event` returned an error.
    failed: bool,
    /// The peer's close arrived.
    close_received: bool,
    /// The kind of the fragmented message being sent.
    fragmenting: Option<DataKind>,
    /// A `close` command succeeded.
    sent_close: bool,
    /// The fake clock: the start plus the ticks so far.
    now: Instant,
}

impl Harness {
    /// Takes every event, checking each.
    fn poll(&mut self) {
        loop {
            let before = self.conn.state();
            let event = match self.conn.poll_event() {
                Ok(None) => return,
                Ok(Some(event)) => event,
                Err(error) => return self.failed(before, error),
            };
            assert!(
                !self.failed && !self.close_received,
                "an event after the end"
            );
            match event {
                Event::Message(message) => {
                    if let Message::Text(_) = message {
                        assert!(std::str::from_utf8(message.as_bytes()).is_ok());
                    }
                    assert!(message.len() as u64 <= self.config.max_message_size);
                }
                Event::Ping(payload) | Event::Pong(payload) => assert!(payload.len() <= 125),
                Event::Close(frame) => {
                    assert_eq!(self.conn.state(), State::Closed);
                    if let Some(frame) = frame {
                        assert!(frame.code().is_sendable());
                    }
                    self.close_received = true;
                }
            }
        }
    }

    /// The connection failed: it is closed, and the close frame with the
    /// error's code is the last thing it sends.
    fn failed(&mut self, before: State, error: ProtocolError) {
        assert!(!self.failed, "a second error: {error:?}");
        self.failed = true;
        assert_eq!(self.conn.state(), State::Closed, "{error:?}");
        let code = u16::from(error.close_code());
        assert!(matches!(code, 1002 | 1006 | 1007 | 1009), "{error:?}");
        let timeout = matches!(
            error,
            ProtocolError::IdleTimeout | ProtocolError::CloseTimeout
        );
        assert_eq!(
            code == 1006,
            error == ProtocolError::AbnormalClosure || timeout
        );
        if timeout {
            // Nothing more is sent, not even what was queued: done at once.
            assert!(self.conn.is_done(), "{error:?}");
            if error == ProtocolError::CloseTimeout {
                assert!(self.sent_close, "a close timeout without a close");
            }
            if !self.sent_close {
                self.write(0);
                assert_eq!(self.peer.close, None, "a close was sent for a timeout");
            }
            assert_eq!(self.conn.poll_event(), Ok(None), "the error came twice");
            return;
        }
        // poll_event fails only while the state is open or closing.
        let had_sent_close = before == State::Closing;
        self.write(0);
        assert!(self.conn.is_done());
        let peer_close = self
            .peer
            .close
            .as_ref()
            .map(|f| f.as_ref().map(|f| f.code()));
        if had_sent_close {
            assert!(peer_close.is_some(), "our earlier close was lost");
        } else if code == 1006 {
            assert_eq!(peer_close, None, "a close was sent for 1006");
        } else {
            assert_eq!(peer_close, Some(Some(error.close_code())), "{error:?}");
        }
        assert_eq!(self.conn.poll_event(), Ok(None), "the error came twice");
    }

    /// Moves the first `n` queued bytes (all of them for 0) to the peer.
    fn write(&mut self, n: usize) {
        if n == 0 {
            let queued = self.conn.buffered_amount();
            let bytes = self.conn.take_transmit();
            assert_eq!(bytes.len(), queued);
            assert_eq!(self.conn.buffered_amount(), 0);
            self.peer.deliver(&bytes);
            return;
        }
        let queued = self.conn.buffered_amount();
        let transmit = self.conn.transmit();
        assert_eq!(transmit.len(), queued);
        assert_eq!(transmit.slices().map(<[u8]>::len).sum::<usize>(), queued);
        let bytes: Vec<u8> = transmit.slices().flatten().copied().take(n).collect();
        let n = bytes.len();
        self.conn.advance_transmit(n);
        assert_eq!(self.conn.buffered_amount(), queued - n);
        self.peer.deliver(&bytes);
    }

    /// Checks a command's result against the state it was given in.
    fn command(&mut self, result: std::result::Result<(), SendError>, open: bool, queued: usize) {
        if !open {
            assert_eq!(result, Err(SendError::Closed));
        }
        if result.is_err() {
            assert_eq!(
                self.conn.buffered_amount(),
                queued,
                "a failed command queued bytes"
            );
        }
    }

    fn run(&mut self, op: Op) {
        let open = self.conn.state() == State::Open;
        let queued = self.conn.buffered_amount();
        match op {
            Op::Receive(bytes) => {
                self.conn.receive(&bytes);
                self.poll();
            }
            Op::ReadInPlace(bytes) => {
                let mut rest = &bytes[..];
                while !rest.is_empty() {
                    let Some(mut space) = self.conn.payload_space() else {
                        break;
                    };
                    let room = space.remaining_mut();
                    assert!(room > 0, "a payload space without room");
                    let n = room.min(rest.len());
                    space.put_slice(&rest[..n]);
                    drop(space);
                    rest = &rest[n..];
                    self.poll();
                }
                self.conn.receive(rest);
                self.poll();
            }
            Op::Frame {
                first,
                mask,
                split,
                payload,
            } => {
                let frame = raw_frame(first, mask, &payload);
                let (a, b) = frame.split_at(usize::from(split).min(frame.len()));
                // With the time, where `Receive` goes without.
                self.conn.receive_at(a, self.now);
                self.poll();
                self.conn.receive_at(b, self.now);
                self.poll();
            }
            Op::Reply => {
                let reply = self.peer.conn.take_transmit();
                self.conn.receive(&reply);
                self.poll();
            }
            Op::Eof => {
                self.conn.receive_eof();
                self.poll();
                assert_eq!(self.conn.state(), State::Closed, "open after end of stream");
            }
            Op::Text(text) => {
                let result = self.conn.send_text(&text);
                self.whole_message(result, open, queued);
            }
            Op::Binary(data) => {
                let result = self.conn.send_binary(&data);
                self.whole_message(result, open, queued);
            }
            Op::Fragment {
                kind,
                payload,
                last,
            } => {
                let result = self.conn.send_fragment(kind, &payload, last);
                self.command(result, open, queued);
                match result {
                    Ok(()) => self.fragmenting = (!last).then_some(kind),
                    Err(SendError::MessageInProgress) => {
                        assert!(self.fragmenting.is_some_and(|open| open != kind));
                    }
                    Err(SendError::InvalidUtf8) => assert_eq!(kind, DataKind::Text),
                    Err(e) => assert_eq!(e, SendError::Closed),
                }
            }
            Op::Ping(payload) => {
                let result = self.conn.ping(&payload);
                self.control(result, open, queued, payload.len());
            }
            Op::Pong(payload) => {
                let result = self.conn.pong(&payload);
                self.control(result, open, queued, payload.len());
            }
            Op::Close { code, reason } => {
                // Spread the numbers so that about half are close codes.
                let Ok(code) = CloseCode::try_from(1000 + code % 4000) else {
                    return;
                };
                let result = self.conn.close(code, &reason);
                self.command(result, open, queued);
                let valid = code.is_sendable() && reason.len() <= 123;
                assert_eq!(result.is_ok(), open && valid, "{result:?}");
                if result.is_ok() {
                    assert_eq!(self.conn.state(), State::Closing);
                    self.sent_close = true;
                }
            }
            Op::Prepared {
                payload,
                repeat,
                frame_size,
            } => {
                let message = Message::binary(payload.repeat(times(&payload, repeat)));
                let prepared = PreparedMessage::new(message, usize::from(frame_size));
                let result = self.conn.send_prepared(&prepared);
                self.whole_message(result, open, queued);
            }
            Op::Write(n) => self.write(usize::from(n)),
            Op::Tick(ms) => {
                self.now += Duration::from_millis(u64::from(ms));
                self.conn.handle_timeout(self.now);
                let next = self.conn.poll_timeout();
                assert!(
                    next.is_none_or(|d| d > self.now),
                    "the deadline did not move on"
                );
                self.poll();
            }
        }
    }

    fn whole_message(&mut self, result: std::result::Result<(), SendError>, open: bool, q: usize) {
        self.command(result, open, q);
        if open {
            let expected = match self.fragmenting {
                Some(_) => Err(SendError::MessageInProgress),
                None => Ok(()),
            };
            assert_eq!(result, expected);
        }
    }

    fn control(
        &mut self,
        result: std::result::Result<(), SendError>,
        open: bool,
        q: usize,
        len: usize,
    ) {
        self.command(result, open, q);
        if open {
            let expected = if len <= 125 {
                Ok(())
            } else {
                Err(SendError::ControlTooLong(len))
            };
            assert_eq!(result, expected);
        }
    }
}

/// A frame with any first byte, its length in the minimal form, masked with
/// `mask` if any.
fn raw_frame(first: u8, mask: Option<[u8; 4]>, payload: &[u8]) -> Vec<u8> {
    let header = FrameHeader {
        mask,
        ..FrameHeader::new(OpCode::Binary, payload.len() as u64)
    };
    let mut head = [0; rfc6455::frame::MAX_HEADER_LEN];
    let n = header.encode(&mut head);
    head[0] = first;
    let mut frame = head[..n].to_vec();
    let start = frame.len();
    frame.extend_from_slice(payload);
    if let Some(key) = mask {
        rfc6455::mask::apply_mask(&mut frame[start..], key);
    }
    frame
}

/// Runs the operations against a connection in `role`.
pub fn run(role: Role, input: Input) {
    let config = Config::default()
        .max_frame_size(u64::from(input.max_frame_size))
        .max_message_size(u64::from(input.max_message_size))
        .keepalive_interval(Duration::from_millis(10))
        .idle_timeout(Duration::from_millis(40))
        .close_timeout(Duration::from_millis(20));
    // Everything the run may legitimately hold: the input (the peer and the
    // connection each keep at most a copy of it), and the limits.
    let payload_bytes: usize = input.ops.iter().map(Op::len).sum();
    let budget = 8 * (payload_bytes + usize::from(input.max_frame_size))
        + 4 * usize::from(input.max_message_size)
        + (64 << 10);
    let baseline = LIVE.load(Ordering::Relaxed);
    PEAK.store(baseline, Ordering::Relaxed);

    let peer_role = match role {
        Role::Client => Role::Server,
        Role::Server => Role::Client,
    };
    let mut harness = Harness {
        conn: Connection::new(role, config),
        config,
        peer: Peer {
            conn: Connection::new(peer_role, Config::default()),
            wire: Wire {
                masked: role == Role::Client,
                pending: Vec::new(),
                closed: false,
            },
            close: None,
        },
        failed: false,
        close_received: false,
        fragmenting: None,
        sent_close: false,
        now: Instant::now(),
    };
    for op in input.ops {
        harness.run(op);
        let held = PEAK.load(Ordering::Relaxed).saturating_sub(baseline);
        assert!(held <= budget, "{held} bytes held, budget {budget}");
    }
    harness.write(0);
}

impl Op {
    /// The bytes the operation carries.
    fn len(&self) -> usize {
        match self {
            Op::Receive(bytes)
            | Op::ReadInPlace(bytes)
            | Op::Binary(bytes)
            | Op::Ping(bytes)
            | Op::Pong(bytes) => bytes.len(),
            Op::Frame { payload, .. } | Op::Fragment { payload, .. } => payload.len() + 14,
            Op::Text(text) | Op::Close { reason: text, .. } => text.len(),
            Op::Reply | Op::Eof | Op::Write(_) | Op::Tick(_) => 0,
            // Frames of one byte take three on the wire.
            Op::Prepared {
                payload, repeat, ..
            } => 3 * payload.len() * times(payload, *repeat) + 14,
        }
    }
}

/// How many times a prepared payload is repeated: at least once, and to 64
/// KiB at most, enough for several frames queued by handle.
fn times(payload: &[u8], repeat: u8) -> usize {
    usize::from(repeat)
        .min((64 << 10) / payload.len().max(1))
        .max(1)
}
