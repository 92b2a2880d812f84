//! The sans-IO connection: bytes in, events out, bytes to send out (RFC 6455
//! sections 5 to 7).
//!
//! See [`Connection`] for how to drive it.

use alloc::boxed::Box;
use core::fmt;
use core::time::Duration;

use bytes::{Buf, Bytes, BytesMut};

use crate::close::{CloseCode, CloseError, CloseFrame};
#[cfg(feature = "deflate")]
use crate::deflate::{DeflateConfig, DeflateParams, Deflater, Inflater};
use crate::frame::{FrameError, FrameHeader, HeaderStatus, OpCode, Rsv};
use crate::keys::KeySource;
#[cfg(feature = "getrandom")]
use crate::keys::OsKeys;
use crate::mask::{Masker, apply_mask};
use crate::message::{Assembler, DataKind, Message, MessageError, Utf8Validator};
use crate::time::Timestamp;

mod output;
mod timers;

use output::Output;
use timers::Timers;

/// Which end of the connection this is. Clients mask every frame they send;
/// servers never do (section 5.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// The end that sent the opening handshake.
    Client,
    /// The end that answered it.
    Server,
}

/// Limits and options of a [`Connection`].
///
/// Built from [`Config::default`] with setters, so that new options can be
/// added without breaking callers:
///
/// ```
/// use rfc6455::Config;
///
/// let config = Config::default().max_message_size(1 << 20);
/// assert_eq!(config.max_message_size, 1 << 20);
/// assert_eq!(config.max_frame_size, 16 << 20);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// The largest frame payload accepted, in bytes; a larger one fails the
    /// connection with 1009 as soon as its header arrives, before anything
    /// is buffered. Default: 16 MiB.
    pub max_frame_size: u64,
    /// The largest message accepted, counted across all its fragments; a
    /// larger one fails the connection with 1009 as soon as the header that
    /// crosses the limit arrives. Default: 64 MiB. A compressed message
    /// counts its inflated bytes, checked while inflating.
    pub max_message_size: u64,
    /// The largest payload of a data frame this end sends. A longer message
    /// (or fragment) goes out as several frames of at most this many bytes,
    /// so that a pong or a close queued meanwhile waits behind one frame, not
    /// behind the whole message (section 5.4 lets control frames go between
    /// fragments). Default: 64 KiB; 0 is taken as 1.
    pub send_frame_size: usize,
    /// Queue a ping after this long with no byte received, and again after
    /// each further interval of silence. Default: off; zero is off too. See
    /// [the timers](Connection#timers) for the values to use.
    pub keepalive_interval: Option<Duration>,
    /// Fail the connection with [`ProtocolError::IdleTimeout`] when no byte
    /// at all arrives for this long; a pong answering our ping counts, as
    /// does any other byte. Default: off.
    pub idle_timeout: Option<Duration>,
    /// After this end sent its close frame, give up waiting for the peer's
    /// with [`ProtocolError::CloseTimeout`] after this long (section 7.1.1).
    /// Default: off.
    pub close_timeout: Option<Duration>,
    /// How long the adapters in `rfc6455::io` give the opening handshake,
    /// from the first byte awaited to the last one of the request or answer:
    /// a peer that trickles its headers in (slowloris) is dropped after this
    /// long. The sans-IO [`handshake`](crate::handshake) reads no clock and
    /// ignores it. Default: 10 s; `None` waits forever.
    pub handshake_timeout: Option<Duration>,
    /// permessage-deflate (RFC 7692): what to offer or accept, the
    /// compression level and the size under which messages go out
    /// uncompressed. Default `None`: **compression is opt-in**, as in Node's
    /// `ws`, because each connection that compresses holds about 420 KiB of
    /// compressor and inflater state (see [`deflate`](crate::deflate)).
    /// The handshake negotiates with it; [`Connection::with_deflate`] reads
    /// its level and threshold.
    #[cfg(feature = "deflate")]
    pub deflate: Option<DeflateConfig>,
}

impl Config {
    /// Sets [`max_frame_size`](Self::max_frame_size).
    pub fn max_frame_size(mut self, bytes: u64) -> Self {
        self.max_frame_size = bytes;
        self
    }

    /// Sets [`max_message_size`](Self::max_message_size).
    pub fn max_message_size(mut self, bytes: u64) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// Sets [`send_frame_size`](Self::send_frame_size).
    pub fn send_frame_size(mut self, bytes: usize) -> Self {
        self.send_frame_size = bytes;
        self
    }

    /// Sets [`deflate`](Self::deflate): a [`DeflateConfig`] turns
    /// permessage-deflate on, `None` off.
    ///
    /// ```
    /// use rfc6455::Config;
    /// use rfc6455::deflate::DeflateConfig;
    ///
    /// let config = Config::default().deflate(DeflateConfig::default().level(1));
    /// assert_eq!(config.deflate.unwrap().level, 1);
    /// ```
    #[cfg(feature = "deflate")]
    pub fn deflate(mut self, deflate: impl Into<Option<DeflateConfig>>) -> Self {
        self.deflate = deflate.into();
        self
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_frame_size: 16 << 20,
            max_message_size: 64 << 20,
            send_frame_size: 64 << 10,
            keepalive_interval: None,
            idle_timeout: None,
            close_timeout: None,
            handshake_timeout: Some(Duration::from_secs(10)),
            #[cfg(feature = "deflate")]
            deflate: None,
        }
    }
}

/// Where the close handshake stands (section 7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    /// Messages flow both ways.
    Open,
    /// This end sent a close frame and waits for the peer's. Messages that
    /// still arrive are delivered; nothing but the close goes out.
    Closing,
    /// The close handshake is over, the connection failed, or the stream
    /// ended. Nothing more is received or sent.
    Closed,
}

/// What the peer sent, as [`Connection::poll_event`] hands it out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A whole text or binary message, its fragments reassembled.
    Message(Message),
    /// A ping. **The pong is queued automatically**; this is for callers who
    /// want to see it.
    Ping(Bytes),
    /// A pong, solicited or not.
    Pong(Bytes),
    /// The peer's close frame, `None` if it carried no status code. **The
    /// reply close frame is queued automatically** (echoing the code) unless
    /// this end had already sent one; the state is then
    /// [`State::Closed`].
    Close(Option<CloseFrame>),
}

/// The peer broke a rule, the stream ended without a close handshake, or a
/// timer expired.
///
/// Each variant knows its [`close_code`](Self::close_code); when
/// [`Connection::poll_event`] returns one, the close frame with that code is
/// already queued as the last bytes to send (except for 1006, never sent:
/// after the end of the stream or a timeout nothing more is sent, and
/// [`Connection::is_done`] is true at once).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// A frame header broke a rule of section 5.2 or 5.5.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// A data frame broke a rule of fragmentation, UTF-8 or size.
    #[error(transparent)]
    Message(#[from] MessageError),
    /// A close frame's payload broke a rule of section 5.5.1 or 7.4.
    #[error(transparent)]
    Close(#[from] CloseError),
    /// A server received an unmasked frame (section 5.1).
    #[error("a client frame was not masked")]
    UnmaskedFrame,
    /// A client received a masked frame (section 5.1).
    #[error("a server frame was masked")]
    MaskedFrame,
    /// A frame payload over [`Config::max_frame_size`].
    #[error("frame payload of {len} bytes exceeds the limit of {max}")]
    FrameTooBig {
        /// The length the header announced.
        len: u64,
        /// The limit.
        max: u64,
    },
    /// The stream ended before the close handshake did (section 7.1.5).
    #[error("the connection ended without a close handshake")]
    AbnormalClosure,
    /// Nothing arrived for [`Config::idle_timeout`]: the peer or the path
    /// to it is presumed dead. 1006, never sent; queued bytes are dropped.
    #[error("no byte arrived within the idle timeout")]
    IdleTimeout,
    /// The peer did not answer this end's close frame within
    /// [`Config::close_timeout`] (section 7.1.1). 1006, never sent; queued
    /// bytes are dropped.
    #[error("the peer did not answer the close frame within the close timeout")]
    CloseTimeout,
}

impl ProtocolError {
    /// The close code of this error: 1002 for protocol violations, 1007 for
    /// invalid UTF-8, 1009 for size limits, 1006 for an abrupt end or a
    /// timeout.
    pub fn close_code(&self) -> CloseCode {
        match self {
            ProtocolError::Frame(e) => e.close_code(),
            ProtocolError::Message(e) => e.close_code(),
            ProtocolError::Close(e) => e.close_code(),
            ProtocolError::UnmaskedFrame | ProtocolError::MaskedFrame => CloseCode::ProtocolError,
            ProtocolError::FrameTooBig { .. } => CloseCode::MessageTooBig,
            ProtocolError::AbnormalClosure
            | ProtocolError::IdleTimeout
            | ProtocolError::CloseTimeout => CloseCode::AbnormalClosure,
        }
    }
}

/// A command this end may not give now: the caller's mistake, not the peer's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// A close frame was already sent, or the connection is closed: no more
    /// frames may go out (section 5.5.1).
    #[error("the connection is closing or closed")]
    Closed,
    /// A ping or pong payload over 125 bytes (section 5.5).
    #[error("control frame payload of {0} bytes, more than 125")]
    ControlTooLong(usize),
    /// A close code that may not be sent, or a reason over 123 bytes.
    #[error(transparent)]
    InvalidClose(#[from] CloseError),
    /// A whole message while a fragmented one is still being sent, or a
    /// fragment of another kind.
    #[error("a fragmented message is still being sent")]
    MessageInProgress,
    /// Text fragments that cannot be UTF-8.
    #[error("text fragment is not valid UTF-8")]
    InvalidUtf8,
    /// The compressor failed (permessage-deflate); nothing was queued.
    #[cfg(feature = "deflate")]
    #[error("compression failed")]
    Compression,
}

/// permessage-deflate's sending side.
#[cfg(feature = "deflate")]
#[derive(Debug)]
struct Outgoing {
    params: DeflateParams,
    deflater: Deflater,
    min_size: usize,
    /// Compressed bytes on their way into a frame, reused while small.
    scratch: Vec<u8>,
    /// Whether the fragmented message being sent is compressed.
    fragments_compressed: bool,
}

#[cfg(feature = "deflate")]
impl Outgoing {
    /// The largest compression buffer kept between messages.
    const KEPT_SCRATCH: usize = 16 * 1024;
}

/// The frame whose payload is arriving.
#[derive(Debug)]
struct Incoming {
    header: FrameHeader,
    /// Unmasks the payload as it arrives; `None` for unmasked frames.
    masker: Option<Masker>,
    /// Payload bytes at the front of the receive buffer already unmasked and
    /// checked.
    checked: usize,
}

/// Where a client's masking keys come from; a server has none.
enum Keys {
    Server,
    #[cfg(feature = "getrandom")]
    Os(OsKeys),
    Caller(Box<dyn KeySource + Send + Sync>),
}

impl Keys {
    /// A fresh key, for a client. Section 5.3: "The masking key needs to be
    /// unpredictable; thus, the masking key MUST be derived from a strong
    /// source of entropy".
    fn next_key(&mut self) -> Option<[u8; 4]> {
        match self {
            Keys::Server => None,
            #[cfg(feature = "getrandom")]
            Keys::Os(keys) => Some(keys.next_key()),
            Keys::Caller(keys) => Some(keys.next_key()),
        }
    }
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Keys::Server => "Server",
            #[cfg(feature = "getrandom")]
            Keys::Os(_) => "Os",
            Keys::Caller(_) => "Caller",
        })
    }
}

/// A WebSocket connection after the opening handshake, in either role,
/// without I/O.
///
/// # Driving it
///
/// The methods come in four kinds, used in this order:
///
/// 1. **Input**: [`receive`](Self::receive) the bytes read from the transport
///    (starting with the bytes left over after the handshake), or
///    [`receive_at`](Self::receive_at) with the time they arrived when timers
///    are on; [`receive_eof`](Self::receive_eof) when it ends; and
///    [`handle_timeout`](Self::handle_timeout) when the deadline of
///    [`poll_timeout`](Self::poll_timeout) is reached.
/// 2. **Events**: call [`poll_event`](Self::poll_event) until it returns
///    `Ok(None)` (it needs more bytes). `Err` means the peer broke a rule: the
///    close frame is queued and the connection is closed; it is returned once.
///    A timer's `Err` sends nothing: close the transport.
/// 3. **Commands**: [`send`](Self::send), [`send_fragment`](Self::send_fragment),
///    [`ping`](Self::ping), [`pong`](Self::pong), [`close`](Self::close). They
///    queue bytes and fail only for the caller's mistakes ([`SendError`]).
/// 4. **Output**: write [`transmit`](Self::transmit) to the transport,
///    [`advance_transmit`](Self::advance_transmit) by what was written, and
///    repeat until it is empty (or [`take_transmit`](Self::take_transmit)
///    all of it, or [`poll_transmit`](Self::poll_transmit) one piece at a
///    time, ending at frame boundaries). When [`is_done`](Self::is_done),
///    close the transport. Then set the one
///    timer to [`poll_timeout`](Self::poll_timeout).
///
/// # Policy
///
/// - **Pings are answered automatically** with a pong carrying the same
///   payload; the ping is still reported as [`Event::Ping`]. Pongs are
///   control frames: they go out at the next frame boundary, ahead of the
///   data frames queued (see [`transmit`](Self::transmit)). While more than
///   4 KiB of control frames wait to be sent, a new pong replaces the last
///   waiting one (section 5.5.3), so a peer flooding pings at a peer that does
///   not read cannot grow the queue.
/// - **Long messages are sent as several frames** of at most
///   [`Config::send_frame_size`] bytes (64 KiB by default), so that a control
///   frame waits behind one frame at most.
/// - **A received close is answered automatically** with a close echoing its
///   code (or an empty one if it had none), per section 5.5.1.
/// - **Data after a close is dropped**: after this end sends a close it sends
///   nothing else; after the peer's close arrives nothing more is read.
/// - A server closes the TCP connection first, as soon as [`is_done`]
///   (section 7.1.1); a client waits for the server to close it, with a
///   timeout of its own.
/// - **Limits** ([`Config`]): frames over 16 MiB and messages over 64 MiB
///   fail the connection with 1009 when their header arrives, before
///   anything is buffered. A compressed message counts its inflated bytes
///   and fails with 1009 as it crosses the limit.
/// - **Compression** (permessage-deflate, RFC 7692) is used only by a
///   connection built with `with_deflate` (feature `deflate`) from the
///   parameters its handshake agreed; otherwise RSV1 is a protocol error.
/// - **Timers are off by default**; see below.
///
/// # Timers
///
/// Three timers, each off unless set in [`Config`], and a clock the caller
/// supplies (the crate never reads one; the time type is any
/// [`Timestamp`], `std::time::Instant` by default with the feature `std`):
///
/// - [`keepalive_interval`](Config::keepalive_interval): after this long
///   with no byte received, an empty ping is queued (its pong is reported
///   as [`Event::Pong`]), and again after each further interval of silence.
///   Only while [`State::Open`].
/// - [`idle_timeout`](Config::idle_timeout): after this long with no byte
///   received, the connection fails with [`ProtocolError::IdleTimeout`].
/// - [`close_timeout`](Config::close_timeout): after this end's close frame,
///   this long without the peer's fails the connection with
///   [`ProtocolError::CloseTimeout`] (section 7.1.1).
///
/// **Both timeouts are 1006, reported and never sent.** A peer silent past
/// the idle timeout, or one that does not answer a close, is presumed gone:
/// a close frame would most likely never be read, and writing it could
/// block on a peer that stopped reading. So nothing more is sent, queued
/// bytes are dropped, and [`is_done`] is true when the error is returned:
/// close the transport at once. (1001 and 1011 would tell a live peer
/// something untrue: this end is neither going away nor broken.)
///
/// The connection learns the time from [`receive_at`](Self::receive_at)
/// and [`handle_timeout`](Self::handle_timeout); **timers count from the
/// first time it is given**, so call `handle_timeout(now)` once when the
/// connection opens. Bytes given to [`receive`](Self::receive), which has
/// no time, count as arriving at the next time given; `poll_timeout` then
/// returns that time at once, to ask for it. The same holds for a close
/// sent with [`close`](Self::close).
///
/// The values to start from, and why: see
/// [`poll_timeout`](Self::poll_timeout).
///
/// # Memory
///
/// An idle connection holds no heap memory: the receive, message and send
/// buffers start empty and grow with what arrives or is queued, so it costs
/// its own size, about 480 bytes on 64-bit targets (120 of them the timers'
/// durations and clock, 40 the `deflate` feature's). The receive buffer is
/// let go as soon as every byte in it was consumed, unless it is at most
/// 256 bytes, so a connection between messages holds at most that. While a
/// frame arrives, the receive buffer holds at most that frame and the rest
/// of the last read (its header is checked against the limits first), and
/// grows with what arrived, never to the length the header announced before
/// the bytes are there (section 10.4). A received
/// unfragmented payload is handed out as a [`Bytes`] split from the receive
/// buffer, without a copy.
///
/// # Example
///
/// ```
/// # #[cfg(feature = "std")] // `Connection::new` takes `std::time::Instant`
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use rfc6455::{Connection, Event, Message, Role, Config};
///
/// let mut client = Connection::new(Role::Client, Config::default());
/// let mut server = Connection::new(Role::Server, Config::default());
///
/// client.send(Message::text("hello"))?;
/// server.receive(&client.take_transmit());
/// let event = server.poll_event()?;
/// assert_eq!(event, Some(Event::Message(Message::text("hello"))));
/// assert_eq!(server.poll_event()?, None); // needs more bytes
/// # Ok(())
/// # }
/// # #[cfg(not(feature = "std"))]
/// # fn main() {}
/// ```
///
/// [`is_done`]: Self::is_done
#[derive(Debug)]
pub struct Connection<
    #[cfg(feature = "std")] T: Timestamp = std::time::Instant,
    #[cfg(not(feature = "std"))] T: Timestamp,
> {
    role: Role,
    config: Config,
    /// Extension-claimed RSV bits; none until an extension is negotiated.
    allowed_rsv: Rsv,
    /// Received bytes not yet consumed: at most one frame's header and the
    /// part of its payload that has arrived.
    recv: BytesMut,
    incoming: Option<Incoming>,
    assembler: Assembler,
    /// The queued control and data frames (and this end's own close).
    out: Output,
    /// Whether the allocation of `recv` may be larger than [`KEEP_IDLE`].
    recv_large: bool,
    keys: Keys,
    /// The kind of the fragmented message being sent, and its text check.
    sending: Option<(DataKind, Utf8Validator)>,
    /// permessage-deflate's sending side, when agreed.
    #[cfg(feature = "deflate")]
    deflate: Option<Box<Outgoing>>,
    close_sent: bool,
    close_received: bool,
    /// The connection failed or the stream ended: nothing more is read.
    stopped: bool,
    eof: bool,
    /// The keepalive, idle and close timers.
    timers: Timers<T>,
}

#[cfg(feature = "std")]
impl Connection {
    /// A connection in the open state, as after a successful handshake,
    /// whose timers take [`std::time::Instant`]s; a client masks with keys
    /// from the operating system ([`OsKeys`]). Needs the feature `std`.
    pub fn new(role: Role, config: Config) -> Self {
        Self::with_timestamp(role, config)
    }

    /// A connection that agreed permessage-deflate (RFC 7692) in the
    /// handshake, or not (`None`, the same as [`new`](Self::new)).
    ///
    /// `params` comes from [`Response::deflate`] (client) or
    /// [`UpgradeRequest::negotiate_deflate`] (server); the level and the
    /// threshold come from [`Config::deflate`], or its defaults. Then:
    ///
    /// - RSV1 is accepted on the first frame of a data message, which is
    ///   inflated as it arrives; anywhere else it is 1002. Corrupt data is
    ///   1007; a message that inflates past
    ///   [`max_message_size`](Config::max_message_size) is 1009, before more
    ///   than the limit is held.
    /// - Messages of at least [`DeflateConfig::min_size`] bytes and every
    ///   fragmented message go out compressed; [`send_uncompressed`]
    ///   sends one message as is. Control frames never are.
    /// - Nothing is allocated for compression until the first compressed
    ///   message each way.
    ///
    /// ```
    /// use rfc6455::deflate::{DeflateConfig, DeflateParams};
    /// use rfc6455::{Config, Connection, Event, Message, Role};
    ///
    /// let config = Config::default().deflate(DeflateConfig::default().min_size(0));
    /// let agreed = Some(DeflateParams::default());
    /// let mut client = Connection::with_deflate(Role::Client, config, agreed);
    /// let mut server = Connection::with_deflate(Role::Server, config, agreed);
    ///
    /// let text = "hello hello hello hello hello hello";
    /// client.send_text(text)?;
    /// let wire = client.take_transmit();
    /// assert!(wire.len() < 2 + 4 + text.len()); // compressed, RSV1 set
    /// assert_eq!(wire[0], 0xc1);
    /// server.receive(&wire);
    /// assert_eq!(server.poll_event()?, Some(Event::Message(Message::text(text))));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// [`Response::deflate`]: crate::handshake::Response::deflate
    /// [`UpgradeRequest::negotiate_deflate`]: crate::handshake::UpgradeRequest::negotiate_deflate
    /// [`send_uncompressed`]: Self::send_uncompressed
    #[cfg(feature = "deflate")]
    pub fn with_deflate(role: Role, config: Config, params: Option<DeflateParams>) -> Self {
        let mut connection = Connection::new(role, config);
        connection.agree_deflate(params);
        connection
    }
}

impl<T: Timestamp> Connection<T> {
    /// A connection in the open state whose timers take another time type,
    /// such as a [`Duration`] since an origin of the caller's choosing
    /// (see [`Timestamp`]); a client masks with keys from the operating
    /// system ([`OsKeys`]). Needs the feature `getrandom` (in `std`); without
    /// it, use [`server`](Self::server) or [`client`](Self::client).
    ///
    /// ```
    /// use core::time::Duration;
    /// use rfc6455::{Config, Connection, Role};
    ///
    /// let config = Config::default().idle_timeout(Duration::from_secs(60));
    /// let mut server = Connection::<Duration>::with_timestamp(Role::Server, config);
    /// server.handle_timeout(Duration::from_millis(1_000)); // ticks since boot
    /// assert_eq!(server.poll_timeout(), Some(Duration::from_millis(61_000)));
    /// ```
    #[cfg(feature = "getrandom")]
    pub fn with_timestamp(role: Role, config: Config) -> Self {
        let keys = match role {
            Role::Client => Keys::Os(OsKeys::new()),
            Role::Server => Keys::Server,
        };
        Self::open(role, config, keys)
    }

    /// A server connection in the open state, in any build: a server needs
    /// no masking keys.
    ///
    /// ```
    /// use core::time::Duration;
    /// use rfc6455::{Config, Connection, Role};
    ///
    /// let config = Config::default().idle_timeout(Duration::from_secs(60));
    /// let mut server = Connection::<Duration>::server(config);
    /// assert_eq!(server.role(), Role::Server);
    /// server.handle_timeout(Duration::from_millis(1_000)); // ticks since boot
    /// assert_eq!(server.poll_timeout(), Some(Duration::from_millis(61_000)));
    /// ```
    pub fn server(config: Config) -> Self {
        Self::open(Role::Server, config, Keys::Server)
    }

    /// A client connection in the open state that masks every frame with a
    /// fresh key from `keys`, in any build; without the feature `getrandom`
    /// this is the only way to build a client. A closure
    /// `FnMut() -> [u8; 4]` will do; see [`KeySource`] for what a source
    /// must be. A source with a size is boxed: one allocation, held for the
    /// connection's life. It must be `Send` and `Sync`, so that the
    /// connection stays both; a generator peripheral that is not `Sync` can
    /// live in a static behind a critical-section mutex, read by a closure
    /// that captures nothing.
    ///
    /// ```
    /// use core::time::Duration;
    /// use rfc6455::{Config, Connection, Event, Message};
    ///
    /// # fn hardware_rng() -> u32 { 0x9e37_79b9 }
    /// // `hardware_rng` stands for the target's true random number generator.
    /// let mut client = Connection::<Duration>::client(Config::default(), || {
    ///     hardware_rng().to_ne_bytes()
    /// });
    /// let mut server = Connection::<Duration>::server(Config::default());
    /// client.send(Message::binary(vec![1, 2, 3]))?;
    /// server.receive(&client.take_transmit());
    /// assert_eq!(server.poll_event()?, Some(Event::Message(Message::binary(vec![1, 2, 3]))));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn client(config: Config, keys: impl KeySource + Send + Sync + 'static) -> Self {
        Self::open(Role::Client, config, Keys::Caller(Box::new(keys)))
    }

    fn open(role: Role, config: Config, keys: Keys) -> Self {
        Connection {
            role,
            config,
            allowed_rsv: Rsv::NONE,
            recv: BytesMut::new(),
            incoming: None,
            assembler: Assembler::new(config.max_message_size),
            out: Output::default(),
            recv_large: false,
            keys,
            sending: None,
            #[cfg(feature = "deflate")]
            deflate: None,
            close_sent: false,
            close_received: false,
            stopped: false,
            eof: false,
            timers: Timers::new(),
        }
    }

    /// Turns on permessage-deflate with the parameters the handshake agreed.
    #[cfg(feature = "deflate")]
    fn agree_deflate(&mut self, params: Option<DeflateParams>) {
        let Some(params) = params else {
            return;
        };
        let ours = self.config.deflate.unwrap_or_default();
        // Each side compresses with its own parameters and inflates with
        // the peer's (RFC 7692 section 7.1).
        let (send_reset, send_bits, recv_reset, recv_bits) = match self.role {
            Role::Client => (
                params.client_no_context_takeover(),
                params.client_max_window_bits(),
                params.server_no_context_takeover(),
                params.server_max_window_bits(),
            ),
            Role::Server => (
                params.server_no_context_takeover(),
                params.server_max_window_bits(),
                params.client_no_context_takeover(),
                params.client_max_window_bits(),
            ),
        };
        self.allowed_rsv = Rsv::RSV1;
        self.assembler = Assembler::with_inflater(
            self.config.max_message_size,
            Inflater::new(recv_bits, recv_reset),
        );
        self.deflate = Some(Box::new(Outgoing {
            params,
            deflater: Deflater::new(ours.level, send_bits, send_reset),
            min_size: ours.min_size,
            scratch: Vec::new(),
            fragments_compressed: false,
        }));
    }

    /// The permessage-deflate parameters agreed, if the extension is in use.
    #[cfg(feature = "deflate")]
    pub fn deflate(&self) -> Option<&DeflateParams> {
        self.deflate.as_ref().map(|d| &d.params)
    }

    /// This end's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The limits in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Where the close handshake stands.
    pub fn state(&self) -> State {
        if self.stopped || (self.close_sent && self.close_received) {
            State::Closed
        } else if self.close_sent {
            State::Closing
        } else {
            State::Open
        }
    }

    /// Bytes queued to send and not yet taken: the browser API's
    /// `bufferedAmount`. Stop sending while it is high.
    pub fn buffered_amount(&self) -> usize {
        self.out.len()
    }

    /// Bytes of control frames (pongs, pings, a close sent because of the
    /// peer) waiting to go out at the next frame boundary.
    pub fn queued_control(&self) -> usize {
        self.out.control_len()
    }

    /// Whether the connection is over and every queued byte was taken: the
    /// transport may be closed now (by a server at once; by a client after
    /// the server closed it or a timeout, section 7.1.1).
    pub fn is_done(&self) -> bool {
        self.state() == State::Closed && self.buffered_amount() == 0
    }

    // ---- input ----

    /// Takes bytes read from the transport. Call [`poll_event`](Self::poll_event)
    /// after each call: bytes are parsed there. Bytes that arrive after the
    /// peer's close or after a failure are dropped.
    ///
    /// With timers on, prefer [`receive_at`](Self::receive_at): bytes given
    /// here count for the idle and keepalive timers as arriving at the next
    /// time the connection is given.
    pub fn receive(&mut self, bytes: &[u8]) {
        if self.close_received || self.stopped {
            return;
        }
        if bytes.is_empty() {
            return;
        }
        self.timers.bytes_without_time();
        let rest = self.receive_payload(bytes);
        self.recv.extend_from_slice(rest);
        // The buffer starts at the first unconsumed byte: an allocation
        // made by this call is at most its capacity.
        self.recv_large |= self.recv.capacity() > KEEP_IDLE;
    }

    /// Takes the front of `bytes` that continues the payload of the frame
    /// being received, and returns the rest.
    ///
    /// The room reserved for the payload grows in steps of what has
    /// arrived (at least [`GROW_STEP`]), never past what the header
    /// announced and one read more: a header that announces a length the
    /// peer never sends reserves at most twice what arrived, plus 64 KiB and
    /// one read (section 10.4), and a large frame is not moved again by the
    /// bytes of the next one. The bytes are unmasked as they come in, while
    /// they are still in the cache.
    fn receive_payload<'a>(&mut self, bytes: &'a [u8]) -> &'a [u8] {
        let Some(incoming) = self.incoming.as_mut() else {
            return bytes;
        };
        // Checked against the limits when the header arrived.
        let len = incoming.header.payload_len as usize;
        let have = self.recv.len();
        if have >= len {
            return bytes;
        }
        let to_come = len - have;
        let (payload, rest) = bytes.split_at(bytes.len().min(to_come));
        if self.recv.capacity() - have < bytes.len() {
            let step = (have * (GROW_FACTOR - 1)).max(GROW_STEP).max(payload.len());
            // Reaching the end of the payload, leave room after it for as
            // much as this read brought: the next frame's bytes then do not
            // move this one to a larger buffer.
            let room = if step >= to_come {
                to_come + bytes.len()
            } else {
                step
            };
            // Grown as a `Vec`, to exactly that size: `BytesMut::reserve`
            // would round up to twice the old capacity (a 16 MiB frame
            // would end in a 32 MiB buffer, too large for the allocator to
            // keep for the next one), and `reserve_exact` reallocates,
            // which the allocator can do in place. The buffer starts at the
            // payload from the first step on, so the conversions move
            // nothing after it.
            let mut vec = alloc::vec::Vec::from(core::mem::take(&mut self.recv));
            vec.reserve_exact(room);
            self.recv = BytesMut::from(Bytes::from(vec));
        }
        self.recv.extend_from_slice(payload);
        if let Some(masker) = incoming.masker.as_mut()
            && masker.position() == have as u64
        {
            masker.apply(&mut self.recv[have..]);
        }
        rest
    }

    /// The transport reached end of stream. If the close handshake was not
    /// complete, the next [`poll_event`](Self::poll_event) reports
    /// [`ProtocolError::AbnormalClosure`] (1006, never sent).
    pub fn receive_eof(&mut self) {
        self.eof = true;
    }

    /// The next event, `Ok(None)` when more bytes are needed, or the peer's
    /// protocol error (returned once; the connection is then closed).
    pub fn poll_event(&mut self) -> Result<Option<Event>, ProtocolError> {
        if let Some(expired) = self.timers.take_expired() {
            return Err(expired.error());
        }
        if self.stopped || self.close_received {
            return Ok(None);
        }
        match self.next_event() {
            Ok(Some(event)) => Ok(Some(event)),
            Ok(None) if self.eof => {
                self.stop();
                Err(ProtocolError::AbnormalClosure)
            }
            Ok(None) => Ok(None),
            Err(error) => {
                self.fail(error.close_code());
                Err(error)
            }
        }
    }

    fn next_event(&mut self) -> Result<Option<Event>, ProtocolError> {
        loop {
            if self.incoming.is_none() {
                let HeaderStatus::Complete { header, len } =
                    FrameHeader::decode(&self.recv, self.allowed_rsv)?
                else {
                    return Ok(None);
                };
                self.check_header(&header)?;
                // The payload length was checked against the limits, which
                // fit in memory, so it fits in usize.
                let payload_len = header.payload_len as usize;
                if self.recv.len() - len >= payload_len {
                    // The whole frame is here: the common case of small
                    // frames, taken without the bookkeeping of a payload
                    // that arrives in pieces.
                    let payload = self.take_frame(&header, len, payload_len)?;
                    let event = if header.opcode.is_control() {
                        self.complete_frame(header, payload)?
                    } else {
                        self.assembler.end_frame(payload)?.map(Event::Message)
                    };
                    if event.is_some() {
                        return Ok(event);
                    }
                    continue;
                }
                self.recv.advance(len);
                self.incoming = Some(Incoming {
                    masker: header.mask.map(Masker::new),
                    header,
                    checked: 0,
                });
            }
            let Some(incoming) = self.incoming.as_mut() else {
                return Ok(None);
            };
            let len = incoming.header.payload_len as usize;
            let arrived = self.recv.len().min(len);
            if arrived > incoming.checked {
                if let Some(masker) = incoming.masker.as_mut() {
                    // `receive` unmasks the bytes that continue a payload;
                    // these came with its header, or before it was decoded.
                    let unmasked = masker.position() as usize;
                    if arrived > unmasked {
                        masker.apply(&mut self.recv[unmasked..arrived]);
                    }
                }
                if !incoming.header.opcode.is_control() {
                    self.assembler
                        .check(&self.recv[incoming.checked..arrived])?;
                }
                incoming.checked = arrived;
            }
            if arrived < len {
                return Ok(None);
            }
            let header = incoming.header;
            self.incoming = None;
            let payload = self.split_front(len).freeze();
            if let Some(event) = self.complete_frame(header, payload)? {
                return Ok(Some(event));
            }
        }
    }

    /// Splits off a frame that is whole at the front of the receive buffer
    /// (a `head`-byte header and a `len`-byte payload), and returns its
    /// payload unmasked and checked.
    #[inline]
    fn take_frame(
        &mut self,
        header: &FrameHeader,
        head: usize,
        len: usize,
    ) -> Result<Bytes, ProtocolError> {
        if len == 0 {
            // No share of the buffer for nothing.
            if head == self.recv.len() && self.recv_large {
                self.recv_large = false;
                self.recv = BytesMut::new();
            } else {
                self.recv.advance(head);
            }
            return Ok(Bytes::new());
        }
        // One split for header and payload; the header is then skipped in
        // the `Bytes`, which is cheaper than advancing the buffer twice.
        let mut frame = self.split_front(head + len);
        let payload = &mut frame[head..];
        if let Some(key) = header.mask {
            apply_mask(payload, key);
        }
        if !header.opcode.is_control() {
            self.assembler.check(payload)?;
        }
        let mut frame = frame.freeze();
        frame.advance(head);
        Ok(frame)
    }

    /// The first `n` received bytes. When they are all there is and the
    /// buffer is larger than [`KEEP_IDLE`], the buffer itself goes, and the
    /// connection holds no receive buffer until bytes arrive again; the
    /// frame handed out keeps only its own read's allocation alive. A tiny
    /// buffer stays, to be reused by the next read once its frames are
    /// dropped.
    #[inline]
    fn split_front(&mut self, n: usize) -> BytesMut {
        if n == self.recv.len() && self.recv_large {
            self.recv_large = false;
            core::mem::take(&mut self.recv)
        } else {
            self.recv.split_to(n)
        }
    }

    /// The rules that need the connection's state, checked before any of
    /// the payload is buffered.
    fn check_header(&mut self, header: &FrameHeader) -> Result<(), ProtocolError> {
        match (self.role, header.mask.is_some()) {
            // Section 5.1: "The server MUST close the connection upon
            // receiving a frame that is not masked."
            (Role::Server, false) => return Err(ProtocolError::UnmaskedFrame),
            // Section 5.1: "A client MUST close a connection if it detects a
            // masked frame."
            (Role::Client, true) => return Err(ProtocolError::MaskedFrame),
            _ => {}
        }
        // RFC 7692 section 6.1: an endpoint "MUST NOT set the 'Per-Message
        // Compressed' bit of control frames"; no extension claims another
        // bit, so a control frame carries none.
        if header.opcode.is_control() && header.rsv != Rsv::NONE {
            return Err(FrameError::ReservedBitsSet(header.rsv).into());
        }
        // Section 10.4: limits on frame size, checked before allocating.
        if header.payload_len > self.config.max_frame_size {
            return Err(ProtocolError::FrameTooBig {
                len: header.payload_len,
                max: self.config.max_frame_size,
            });
        }
        if !header.opcode.is_control() {
            self.assembler.begin_frame(header)?;
        }
        Ok(())
    }

    fn complete_frame(
        &mut self,
        header: FrameHeader,
        payload: Bytes,
    ) -> Result<Option<Event>, ProtocolError> {
        Ok(Some(match header.opcode {
            OpCode::Continuation | OpCode::Text | OpCode::Binary => {
                return Ok(self.assembler.end_frame(payload)?.map(Event::Message));
            }
            OpCode::Ping => {
                // Section 5.5.2: "Upon receipt of a Ping frame, an endpoint
                // MUST send a Pong frame in response, unless it already
                // received a Close frame." Once our close is out, nothing
                // else may follow it.
                if !self.close_sent {
                    self.queue_pong(&payload);
                }
                Event::Ping(payload)
            }
            OpCode::Pong => Event::Pong(payload),
            OpCode::Close => {
                let frame = CloseFrame::parse(&payload)?;
                self.close_received = true;
                // Section 5.5.1: "If an endpoint receives a Close frame and
                // did not previously send a Close frame, the endpoint MUST
                // send a Close frame in response ... typically echoing the
                // status code it received."
                if !self.close_sent {
                    self.out.drop_unstarted_data();
                    match &frame {
                        Some(frame) => self.queue_close(frame.code(), ""),
                        None => self.queue_control(OpCode::Close, &[]),
                    }
                    self.close_sent = true;
                }
                self.release_receive_buffers();
                Event::Close(frame)
            }
        }))
    }

    /// Fails the connection (section 7.1.7): queue a close with `code` unless
    /// one was sent, and read nothing more.
    fn fail(&mut self, code: CloseCode) {
        if !self.close_sent && code.is_sendable() {
            self.out.drop_unstarted_data();
            self.queue_close(code, "");
            self.close_sent = true;
        }
        self.stop();
    }

    fn stop(&mut self) {
        self.stopped = true;
        self.release_receive_buffers();
    }

    fn release_receive_buffers(&mut self) {
        self.recv = BytesMut::new();
        self.incoming = None;
        self.assembler = Assembler::new(self.config.max_message_size);
    }

    // ---- commands ----

    /// Queues a whole message, as frames of at most
    /// [`Config::send_frame_size`] payload bytes.
    ///
    /// A payload of [`SHARED_PAYLOAD`] bytes or more that goes out
    /// uncompressed is not copied: the frames point into the message's own
    /// buffer, and [`poll_transmit`](Self::poll_transmit) hands it out as a
    /// piece of its own. A client masks it in place when the message holds
    /// the only handle to that buffer (a message made from a `Vec` or a
    /// `String`), else copies it.
    pub fn send(&mut self, message: Message) -> Result<(), SendError> {
        self.send_message(message, true)
    }

    /// Queues a whole text message.
    pub fn send_text(&mut self, text: &str) -> Result<(), SendError> {
        self.send_whole(OpCode::Text, text.as_bytes())
    }

    /// Queues a whole binary message.
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), SendError> {
        self.send_whole(OpCode::Binary, data)
    }

    /// Queues a whole message, never compressed, even when
    /// permessage-deflate is agreed: for a message that holds a secret that
    /// must not share a compression context with data an attacker chooses
    /// (RFC 7692 section 8).
    pub fn send_uncompressed(&mut self, message: Message) -> Result<(), SendError> {
        self.send_message(message, false)
    }

    fn send_message(&mut self, message: Message, may_compress: bool) -> Result<(), SendError> {
        let compress = may_compress && self.compresses(message.len());
        if compress || message.len() < SHARED_PAYLOAD {
            return self.send_whole_as(message.kind().opcode(), message.as_bytes(), compress);
        }
        self.check_can_send()?;
        if self.sending.is_some() {
            return Err(SendError::MessageInProgress);
        }
        self.queue_frames_shared(message.kind().opcode(), message.into_bytes());
        Ok(())
    }

    fn send_whole(&mut self, opcode: OpCode, payload: &[u8]) -> Result<(), SendError> {
        self.send_whole_as(opcode, payload, self.compresses(payload.len()))
    }

    fn send_whole_as(
        &mut self,
        opcode: OpCode,
        payload: &[u8],
        compress: bool,
    ) -> Result<(), SendError> {
        self.check_can_send()?;
        if self.sending.is_some() {
            return Err(SendError::MessageInProgress);
        }
        self.queue_data(opcode, payload, true, compress)
    }

    /// Whether a whole message of `len` bytes goes out compressed.
    fn compresses(&self, len: usize) -> bool {
        #[cfg(feature = "deflate")]
        return self.deflate.as_ref().is_some_and(|d| len >= d.min_size);
        #[cfg(not(feature = "deflate"))]
        return {
            let _ = len;
            false
        };
    }

    /// Every data frame goes out here: `opcode` is the first frame's or
    /// `Continuation`. With permessage-deflate agreed and `compress`, the
    /// payload is compressed and the message's first frame has RSV1 set
    /// (RFC 7692 section 6).
    fn queue_data(
        &mut self,
        opcode: OpCode,
        payload: &[u8],
        fin: bool,
        compress: bool,
    ) -> Result<(), SendError> {
        #[cfg(feature = "deflate")]
        if let (true, Some(deflate)) = (compress, self.deflate.as_mut()) {
            let mut out = std::mem::take(&mut deflate.scratch);
            out.clear();
            let result = deflate.deflater.compress(payload, fin, &mut out);
            let rsv = if opcode == OpCode::Continuation {
                Rsv::NONE
            } else {
                Rsv::RSV1
            };
            if result.is_ok() {
                self.queue_frames(opcode, rsv, &out, fin);
            }
            // Keep a small buffer for the next message, not a large one.
            if let (true, Some(deflate)) = (
                out.capacity() <= Outgoing::KEPT_SCRATCH,
                self.deflate.as_mut(),
            ) {
                deflate.scratch = out;
            }
            return result.map_err(|_| SendError::Compression);
        }
        #[cfg(not(feature = "deflate"))]
        let _ = compress;
        self.queue_frames(opcode, Rsv::NONE, payload, fin);
        Ok(())
    }

    /// Queues one fragment of a message too large or too late to send whole
    /// (section 5.4); `last` ends it. Text fragments may split a UTF-8
    /// sequence, but together they must be valid UTF-8. With
    /// permessage-deflate agreed, a fragmented message is always compressed,
    /// each fragment with a sync flush so that it can be inflated on arrival.
    ///
    /// ```
    /// # #[cfg(feature = "std")] // `Connection::new` takes `std::time::Instant`
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use rfc6455::{Connection, Config, Event, Message, Role};
    /// use rfc6455::message::DataKind;
    ///
    /// let mut server = Connection::new(Role::Server, Config::default());
    /// server.send_fragment(DataKind::Text, b"caf\xc3", false)?;
    /// server.ping(b"between fragments")?;
    /// server.send_fragment(DataKind::Text, b"\xa9", true)?;
    ///
    /// let mut client = Connection::new(Role::Client, Config::default());
    /// client.receive(&server.take_transmit());
    /// assert!(matches!(client.poll_event()?, Some(Event::Ping(_))));
    /// assert_eq!(client.poll_event()?, Some(Event::Message(Message::text("café"))));
    /// # Ok(())
    /// # }
    /// # #[cfg(not(feature = "std"))]
    /// # fn main() {}
    /// ```
    pub fn send_fragment(
        &mut self,
        kind: DataKind,
        payload: &[u8],
        last: bool,
    ) -> Result<(), SendError> {
        self.check_can_send()?;
        let (opcode, mut utf8) = match self.sending {
            None => (kind.opcode(), Utf8Validator::new()),
            Some((open, utf8)) if open == kind => (OpCode::Continuation, utf8),
            Some(_) => return Err(SendError::MessageInProgress),
        };
        if kind == DataKind::Text {
            utf8.feed(payload).map_err(|_| SendError::InvalidUtf8)?;
            if last {
                utf8.finish().map_err(|_| SendError::InvalidUtf8)?;
            }
        }
        #[cfg(feature = "deflate")]
        let compress = match &self.deflate {
            Some(deflate) if opcode == OpCode::Continuation => deflate.fragments_compressed,
            Some(_) => true,
            None => false,
        };
        #[cfg(not(feature = "deflate"))]
        let compress = false;
        self.queue_data(opcode, payload, last, compress)?;
        self.sending = (!last).then_some((kind, utf8));
        #[cfg(feature = "deflate")]
        if let Some(deflate) = self.deflate.as_mut() {
            deflate.fragments_compressed = compress && !last;
        }
        Ok(())
    }

    /// Queues a ping; the peer answers with a pong carrying `payload`, at
    /// most 125 bytes.
    pub fn ping(&mut self, payload: &[u8]) -> Result<(), SendError> {
        self.send_control(OpCode::Ping, payload)
    }

    /// Queues an unsolicited pong, a one-way heartbeat (section 5.5.3).
    pub fn pong(&mut self, payload: &[u8]) -> Result<(), SendError> {
        self.send_control(OpCode::Pong, payload)
    }

    fn send_control(&mut self, opcode: OpCode, payload: &[u8]) -> Result<(), SendError> {
        self.check_can_send()?;
        if payload.len() as u64 > crate::frame::MAX_CONTROL_PAYLOAD {
            return Err(SendError::ControlTooLong(payload.len()));
        }
        self.queue_control(opcode, payload);
        Ok(())
    }

    /// Starts the close handshake with `code` and a `reason` of at most 123
    /// bytes. Messages may still arrive until the peer's close does.
    ///
    /// **The close goes out after the messages already queued**, unlike the
    /// close this end sends on its own (an answer to the peer's close, or a
    /// failure), which goes at the next frame boundary and drops the data
    /// frames not started.
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), SendError> {
        self.check_can_send()?;
        CloseFrame::new(code, reason)?;
        let (payload, len) = close_payload(code, reason);
        self.queue_frame(FrameHeader::new(OpCode::Close, len as u64), &payload[..len]);
        self.close_sent = true;
        Ok(())
    }

    fn check_can_send(&self) -> Result<(), SendError> {
        if self.close_sent || self.stopped {
            Err(SendError::Closed)
        } else {
            Ok(())
        }
    }

    // ---- output ----

    /// The next bytes to send, oldest first: the rest of a data frame already
    /// started, else the queued control frames, else the queued data frames.
    ///
    /// **This is the next contiguous run, not always every queued byte**: a
    /// control frame queued behind a data frame being written goes out at
    /// the frame boundary, and a large payload sent from its own buffer is a
    /// run of its own, so write, [`advance_transmit`](Self::advance_transmit),
    /// and call again until it is empty (or use
    /// [`take_transmit`](Self::take_transmit) or
    /// [`poll_transmit`](Self::poll_transmit)).
    pub fn transmit(&self) -> &[u8] {
        self.out.transmit()
    }

    /// The next run, as [`transmit`](Self::transmit) gives it, and, when
    /// that run ends with the header of a large message sent from its own
    /// buffer (see [`send`](Self::send)), the payload after it: write both
    /// with one vectored write, so that a header never goes out in a small
    /// write of its own, then [`advance_transmit`](Self::advance_transmit)
    /// by what was written. The second is empty otherwise.
    ///
    /// ```
    /// # #[cfg(feature = "std")] {
    /// use std::io::{IoSlice, Write};
    /// use rfc6455::{Config, Connection, Message, Role};
    ///
    /// let mut server = Connection::new(Role::Server, Config::default());
    /// server.send(Message::binary(vec![7u8; 20_000]))?;
    /// let mut wire = Vec::new();
    /// loop {
    ///     let [run, payload] = server.transmit_vectored();
    ///     if run.is_empty() {
    ///         break;
    ///     }
    ///     let n = wire.write_vectored(&[IoSlice::new(run), IoSlice::new(payload)])?;
    ///     server.advance_transmit(n);
    /// }
    /// assert_eq!(wire.len(), 4 + 20_000);
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn transmit_vectored(&self) -> [&[u8]; 2] {
        self.out.transmit_vectored()
    }

    /// Drops the first `n` bytes of [`transmit`](Self::transmit), or of
    /// the two runs of [`transmit_vectored`](Self::transmit_vectored), which
    /// were written; `n` is capped at their length.
    pub fn advance_transmit(&mut self, n: usize) {
        self.out.advance(n)
    }

    /// Takes every queued byte at once, in the order
    /// [`transmit`](Self::transmit) gives them; without a copy when one
    /// buffer holds them all, else copied into one.
    pub fn take_transmit(&mut self) -> Bytes {
        self.out.take_all()
    }

    /// Takes the next piece to write, without a copy, or `None` when nothing
    /// is queued. A piece ends at a frame boundary or right before a large
    /// payload that is the next piece: it is the rest of a data frame
    /// already started, or every queued control frame, or whole data frames
    /// up to [`Config::send_frame_size`] bytes (at least one). An adapter
    /// that writes pieces one by one lets control frames overtake a long
    /// message, and holds at most one frame's worth it took; one that writes
    /// a few pieces with one vectored write sends a header and its payload
    /// together.
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        self.out.poll(self.config.send_frame_size)
    }

    // ---- framing of what we send ----

    fn queue_close(&mut self, code: CloseCode, reason: &str) {
        let (payload, len) = close_payload(code, reason);
        self.queue_control(OpCode::Close, &payload[..len]);
    }

    /// Queues an automatic pong, which may replace one not started
    /// (section 5.5.3).
    fn queue_pong(&mut self, payload: &[u8]) {
        let header = self.masked(FrameHeader::new(OpCode::Pong, payload.len() as u64));
        self.out.push_pong(header, payload);
    }

    fn queue_control(&mut self, opcode: OpCode, payload: &[u8]) {
        let header = self.masked(FrameHeader::new(opcode, payload.len() as u64));
        self.out.push_control(header, payload);
    }

    /// Queues a data message or fragment, raw or compressed, as frames of at
    /// most [`Config::send_frame_size`] payload bytes; `rsv` goes on the
    /// first frame only, and only the last may carry `fin`.
    fn queue_frames(&mut self, opcode: OpCode, rsv: Rsv, payload: &[u8], fin: bool) {
        let size = self.config.send_frame_size.max(1);
        let mut chunks = payload.chunks(size).peekable();
        let (mut opcode, mut rsv) = (opcode, rsv);
        if chunks.peek().is_none() {
            let header = FrameHeader {
                fin,
                rsv,
                ..FrameHeader::new(opcode, 0)
            };
            return self.queue_frame(header, &[]);
        }
        while let Some(chunk) = chunks.next() {
            let header = FrameHeader {
                fin: fin && chunks.peek().is_none(),
                rsv,
                ..FrameHeader::new(opcode, chunk.len() as u64)
            };
            self.queue_frame(header, chunk);
            opcode = OpCode::Continuation;
            rsv = Rsv::NONE;
        }
    }

    /// Queues a whole uncompressed message as frames of at most
    /// [`Config::send_frame_size`] payload bytes, each payload a slice of
    /// `payload` itself rather than a copy. A client masks the payload in
    /// place, which needs `payload` to be the only handle to its buffer;
    /// otherwise it is copied as usual.
    fn queue_frames_shared(&mut self, opcode: OpCode, payload: Bytes) {
        let mut rest = match self.role {
            Role::Server => Ok(payload),
            Role::Client => match payload.try_into_mut() {
                Ok(unique) => Err(unique),
                Err(shared) => return self.queue_frames(opcode, Rsv::NONE, &shared, true),
            },
        };
        let size = self.config.send_frame_size.max(1);
        let mut opcode = opcode;
        loop {
            let left = rest.as_ref().map_or_else(BytesMut::len, Bytes::len);
            let len = left.min(size);
            let header = self.masked(FrameHeader {
                fin: len == left,
                ..FrameHeader::new(opcode, len as u64)
            });
            let chunk = match (&mut rest, header.mask) {
                (Err(unique), Some(key)) => {
                    let mut chunk = unique.split_to(len);
                    apply_mask(&mut chunk, key);
                    chunk.freeze()
                }
                (Err(unique), None) => unique.split_to(len).freeze(),
                (Ok(shared), _) => shared.split_to(len),
            };
            self.out.push_data_shared(header, chunk);
            if len == left {
                return;
            }
            opcode = OpCode::Continuation;
        }
    }

    /// A client's header gets a fresh masking key (section 5.3).
    fn masked(&mut self, mut header: FrameHeader) -> FrameHeader {
        // Every constructor gives a client a key source and a server none.
        header.mask = self.keys.next_key();
        debug_assert_eq!(header.mask.is_some(), self.role == Role::Client);
        header
    }

    /// Appends a data frame (or this end's own close) to the data queue.
    fn queue_frame(&mut self, header: FrameHeader, payload: &[u8]) {
        let header = self.masked(header);
        self.out.push_data(header, payload);
    }
}

/// The payload size from which [`Connection::send`] sends a message from
/// its own buffer instead of copying it into the send queue. Below it, one
/// copy costs less than a write of its own, and small messages queued
/// together go out in one write.
pub const SHARED_PAYLOAD: usize = 16 << 10;

/// The largest receive buffer kept once every byte in it was consumed: a
/// connection between messages holds at most this much, and messages this
/// small are received without an allocation per read.
const KEEP_IDLE: usize = 256;

/// The least room reserved at once for a payload that arrives in pieces.
const GROW_STEP: usize = 64 << 10;

/// A payload that arrives in pieces moves to a buffer this many times the
/// size of what arrived (at most the frame, and at least [`GROW_STEP`]).
const GROW_FACTOR: usize = 2;

/// A close payload: the code, big-endian, then at most 123 bytes of reason.
fn close_payload(code: CloseCode, reason: &str) -> ([u8; 125], usize) {
    let mut payload = [0u8; 125];
    payload[..2].copy_from_slice(&u16::from(code).to_be_bytes());
    let reason = &reason.as_bytes()[..reason.len().min(123)];
    payload[2..2 + reason.len()].copy_from_slice(reason);
    (payload, 2 + reason.len())
}
