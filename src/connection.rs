//! The sans-IO connection: bytes in, events out, bytes to send out (RFC 6455
//! sections 5 to 7).
//!
//! See [`Connection`] for how to drive it.

use alloc::boxed::Box;
use core::fmt;
use core::time::Duration;

use bytes::{Bytes, BytesMut};

use crate::close::{CloseCode, CloseError, CloseFrame};
#[cfg(feature = "deflate")]
use crate::deflate::{DeflateConfig, DeflateParams, Deflater, Inflater};
use crate::frame::{FrameError, Rsv};
use crate::keys::KeySource;
#[cfg(feature = "getrandom")]
use crate::keys::OsKeys;

use crate::message::{Assembler, DataKind, Message, MessageError, Utf8Validator};
use crate::time::Timestamp;

mod input;
mod output;
mod prepared;
mod read_space;
mod send;
mod timers;

use input::Incoming;
use output::Output;
pub use output::{Slices, Transmit};
pub use prepared::PreparedMessage;
pub use read_space::PayloadSpace;
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
    /// `ws`, because each connection that compresses holds about 405 KiB of
    /// compressor state and history at 15-bit windows (see
    /// [`deflate`](crate::deflate)).
    /// The handshake negotiates with it; [`Connection::with_deflate`] reads
    /// its level and threshold.
    #[cfg(feature = "deflate")]
    #[cfg_attr(docsrs, doc(cfg(feature = "deflate")))]
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
    #[cfg_attr(docsrs, doc(cfg(feature = "deflate")))]
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
    /// The largest `scratch` kept between messages: none when this side
    /// does not take over its context (shared mode), so that an idle
    /// connection holds no compression memory.
    kept_scratch: usize,
    /// Whether the fragmented message being sent is compressed.
    fragments_compressed: bool,
}

#[cfg(feature = "deflate")]
impl Outgoing {
    /// The largest compression buffer kept between messages.
    const KEPT_SCRATCH: usize = 16 * 1024;
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
///    [`send_prepared`](Self::send_prepared) (one message framed once for
///    many connections), [`ping`](Self::ping), [`pong`](Self::pong),
///    [`close`](Self::close). They
///    queue bytes and fail only for the caller's mistakes ([`SendError`]).
/// 4. **Output**: write the slices of [`transmit`](Self::transmit) (every
///    queued byte) to the transport,
///    [`advance_transmit`](Self::advance_transmit) by what was written, and
///    repeat until it is empty. Or take the bytes as owned [`Bytes`]:
///    [`poll_transmit`](Self::poll_transmit) until `None` (pieces ending at
///    frame boundaries), or [`take_transmit`](Self::take_transmit) (all of
///    it in one buffer). When [`is_done`](Self::is_done),
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
/// buffer, without a copy. The fragments of a message in several frames go
/// straight into the message as they arrive (unmasked as they are copied),
/// so a fragment's payload is copied once; the message grows to powers of
/// two, with what arrived, never past
/// [`max_message_size`](Config::max_message_size).
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
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
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
    #[cfg_attr(docsrs, doc(cfg(feature = "deflate")))]
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
    #[cfg_attr(docsrs, doc(cfg(feature = "getrandom")))]
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
            kept_scratch: if send_reset {
                0
            } else {
                Outgoing::KEPT_SCRATCH
            },
            fragments_compressed: false,
        }));
    }

    /// The permessage-deflate parameters agreed, if the extension is in use.
    #[cfg(feature = "deflate")]
    #[cfg_attr(docsrs, doc(cfg(feature = "deflate")))]
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
}

/// The payload size from which [`Connection::send`] sends a message from
/// its own buffer instead of copying it into the send queue. Below it, one
/// copy costs less than one more slice in the vectored write, and small
/// messages queued together go out as one slice.
///
/// Chosen by measurement (`scripts/shared_payload/run.sh`, in
/// `benches/RESULTS.md`): a server thread queueing batches of 16 messages
/// and writing its queue with one vectored write spent, sending from the
/// messages' buffers against copying, 1.37x the CPU time at 1 KiB, 0.97x at
/// 4 KiB, 0.91x at 8 KiB and 0.82x at 16 KiB on an Intel Xeon, and 1.35 to
/// 1.40x, 1.05 to 1.14x, 0.96 to 0.99x and 0.87 to 1.01x on an AMD EPYC
/// (Zen 4); on each, the same with glibc's `memcpy` kept off AVX-512. 8 KiB
/// is the least size at which sharing costs no more on either.
pub const SHARED_PAYLOAD: usize = 8 << 10;
