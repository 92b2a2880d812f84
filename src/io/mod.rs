//! I/O adapters: the sans-IO core driven over real streams.
//!
//! This module needs the `std` feature (on by default); the tokio adapter
//! needs `tokio` too. This is the only module that reads or writes a stream. The core
//! ([`Connection`], [`handshake`](crate::handshake)) never imports it; each
//! adapter is a thin loop that moves bytes between a stream and the core:
//!
//! | adapter | feature | over |
//! |---|---|---|
//! | [`blocking::WebSocket`] | `std` (default) | [`std::io::Read`] + [`std::io::Write`] + [`blocking::ReadTimeout`] |
//! | `tokio::WebSocketStream` | `tokio` | tokio's `AsyncRead` + `AsyncWrite` |
//! | `hyper::upgrade` | `hyper` | a connection that hyper 1 hands over (HTTP/1.1 or HTTP/2), as a `tokio::WebSocketStream` |
//! | `axum::WebSocketUpgrade` | `axum` | the same in an axum 0.8 extractor |
//!
//! The tokio adapter also has `tokio::ReconnectingClient`: a client that
//! connects again after a lost connection, with exponential backoff and
//! jitter (RFC 6455 section 7.2.3), and a hook to subscribe again.
//!
//! Both share the same policy, the core's: pings and the peer's close are
//! answered for you, on any call that touches the stream; a protocol error
//! from the peer is returned once, its close frame already queued; after the
//! close handshake reading ends (`Ok(None)`, or the end of the `Stream`).
//!
//! **Both drive the connection's timers while receiving**: the keepalive
//! ping, the idle timeout and the close timeout of [`Config`] (all off by
//! default) are acted on while a read waits, with a socket read timeout in
//! the blocking adapter and one `Sleep` in the tokio one. A peer that
//! vanished without a FIN ends the read with
//! [`ProtocolError::IdleTimeout`] within `idle_timeout`. The opening
//! handshake is bounded by [`Config::handshake_timeout`] (10 s by default),
//! so a peer that trickles its headers in is dropped with
//! [`Error::HandshakeTimeout`].
//!
//! A server facing browsers should ping, since browsers never do:
//!
//! ```
//! use std::time::Duration;
//! use rfc6455::Config;
//!
//! let config = Config::default()
//!     .keepalive_interval(Duration::from_secs(30))
//!     .idle_timeout(Duration::from_secs(75))
//!     .close_timeout(Duration::from_secs(5));
//! assert_eq!(config.handshake_timeout, Some(Duration::from_secs(10)));
//! ```
//!
//! Both open a connection the same three ways: as a server with `accept`
//! (or `accept_with`, whose callback sees the request and may refuse it with
//! any HTTP status), as a client with `connect` (a `ws://` URL) or `client`
//! (a handshake over a stream you opened), and with `from_raw` for a stream
//! whose handshake was done elsewhere.

#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod axum;
pub mod blocking;
#[cfg(feature = "hyper")]
#[cfg_attr(docsrs, doc(cfg(feature = "hyper")))]
pub mod hyper;
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub mod tokio;

use crate::handshake::{
    Accept, BuildError, ClientHandshake, ClientRequest, HandshakeError, Incoming, Limits, Reject,
    ServerHandshake, Status, UpgradeRequest,
};
use crate::{CloseFrame, Config, Connection, Event, Message, ProtocolError, Role, SendError};
use std::time::Instant;

/// What can go wrong on an adapter: the stream's error, the peer's broken
/// rule, or the caller's mistake.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The stream failed. With a non-blocking stream or a read timeout this
    /// may be [`std::io::ErrorKind::WouldBlock`] or `TimedOut`: no state is
    /// lost, and the same call made again later goes on where it stopped.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The peer's opening handshake broke a rule. A server has already sent
    /// the HTTP answer it implies ([`HandshakeError::response`]).
    #[error("opening handshake: {0}")]
    Handshake(#[from] HandshakeError),
    /// The server refused the upgrade: the `accept_with` callback answered
    /// with this status, or the request was plain HTTP (426). The answer was
    /// sent.
    #[error("the upgrade was refused with HTTP {0}")]
    Rejected(u16),
    /// The peer broke a rule of the protocol, or the stream ended before the
    /// close handshake ([`ProtocolError::AbnormalClosure`]). Returned once;
    /// the close frame with its [`close_code`](ProtocolError::close_code) is
    /// queued, and sent on the next call that writes.
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    /// A command this end may not give now, such as sending after the close.
    #[error(transparent)]
    Send(#[from] SendError),
    /// A URL, a header or an answer that cannot be built.
    #[error(transparent)]
    Build(#[from] BuildError),
    /// The opening handshake took longer than
    /// [`Config::handshake_timeout`]: the peer sent its request or answer
    /// too slowly, or not at all. Nothing was answered.
    #[error("the opening handshake took too long")]
    HandshakeTimeout,
}

impl Error {
    /// Whether this is a stream error of kind `WouldBlock` or `TimedOut`,
    /// after which the same call may simply be made again.
    pub fn is_would_block(&self) -> bool {
        matches!(self, Error::Io(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut))
    }
}

/// The default high-water mark of an adapter's send queue, 128 KiB: the
/// tokio adapter's `poll_ready` (and so `feed` and `send`) waits while this
/// much or more is queued, and the non-waiting offers of both adapters
/// (`try_feed_prepared`, [`try_write_prepared`](blocking::WebSocket::try_write_prepared))
/// refuse a message. Each adapter has its `set_high_water_mark`.
pub const DEFAULT_HIGH_WATER: usize = 128 << 10;

/// Why a non-waiting offer of a prepared message (the tokio adapter's
/// `try_feed_prepared`,
/// [`WebSocket::try_write_prepared`](blocking::WebSocket::try_write_prepared))
/// queued nothing. The message was only borrowed: it is still the caller's,
/// to drop for this connection or to offer again later.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TryFeedError {
    /// The connection's send queue holds its high-water mark or more: the
    /// peer reads slower than messages are offered. Drop the message for
    /// this peer, or close the connection with
    /// [`CloseCode::PolicyViolation`](crate::CloseCode::PolicyViolation)
    /// (1008).
    #[error("{buffered} bytes queued, at or over the high-water mark of {high_water}")]
    Backpressure {
        /// Bytes queued and not yet written.
        buffered: usize,
        /// The mark.
        high_water: usize,
    },
    /// The connection may not send now (a close was sent), as for an
    /// ordinary send.
    #[error(transparent)]
    Send(#[from] SendError),
}

/// For functions that return [`std::io::Result`]: a stream error stays
/// itself, anything else becomes [`std::io::ErrorKind::Other`] (or
/// `InvalidData` for the peer's broken rules).
impl From<Error> for std::io::Error {
    fn from(error: Error) -> Self {
        match error {
            Error::Io(error) => error,
            Error::Handshake(_) | Error::Protocol(_) => {
                std::io::Error::new(std::io::ErrorKind::InvalidData, error)
            }
            other => std::io::Error::other(other),
        }
    }
}

/// The server's answer to a complete request: the bytes to send, and whether
/// the upgrade goes ahead.
pub(crate) struct Answer {
    pub(crate) bytes: Vec<u8>,
    pub(crate) outcome: Result<(), Error>,
}

/// The server side of an adapter's opening handshake, without I/O: the
/// adapters read, feed [`receive`](Self::receive), write the answer, and
/// [`open`](Self::open) the connection.
pub(crate) struct Acceptor<F> {
    handshake: ServerHandshake,
    callback: Option<F>,
    config: Config,
    /// The permessage-deflate parameters agreed, if any.
    deflate: Agreed,
}

/// What the handshake agreed beyond RFC 6455 itself: permessage-deflate's
/// parameters, with the feature.
#[cfg(feature = "deflate")]
type Agreed = Option<crate::deflate::DeflateParams>;
#[cfg(not(feature = "deflate"))]
type Agreed = Option<core::convert::Infallible>;

impl<F> Acceptor<F>
where
    F: FnOnce(&UpgradeRequest) -> Result<Accept, Reject>,
{
    pub(crate) fn new(config: Config, callback: F) -> Self {
        Acceptor {
            handshake: ServerHandshake::new(Limits::default()),
            callback: Some(callback),
            config,
            deflate: Agreed::default(),
        }
    }

    /// Feeds bytes read; `Some` once the request is complete (or broken),
    /// with the answer to write. An upgrade request goes to the callback, a
    /// plain HTTP request gets 426, a broken one its HTTP error.
    pub(crate) fn receive(&mut self, bytes: &[u8]) -> Option<Answer> {
        let incoming = match self.handshake.receive(bytes) {
            Ok(Status::Partial) => return None,
            Ok(Status::Complete(incoming)) => incoming,
            Err(error) => {
                return Some(Answer {
                    bytes: error.response(),
                    outcome: Err(Error::Handshake(error)),
                });
            }
        };
        let callback = self.callback.take()?;
        Some(match incoming {
            // RFC 6455 section 4.2.2: a server that wants a WebSocket answers
            // anything else as it sees fit; 426 names the protocol to use.
            Incoming::Plain(_) => refuse(
                Reject::new(426)
                    .header("Upgrade", "websocket")
                    .header("Sec-WebSocket-Version", "13"),
            ),
            Incoming::Upgrade(request) => match callback(&request) {
                Ok(accept) => match request.accept(self.negotiate(&request, accept)) {
                    Ok(bytes) => Answer {
                        bytes,
                        outcome: Ok(()),
                    },
                    Err(error) => server_error(error),
                },
                Err(reject) => refuse(reject),
            },
        })
    }

    /// The connection after an accepted upgrade, holding the bytes that
    /// followed the request.
    /// Agrees permessage-deflate when the config asks for it and the client
    /// offered acceptable terms (RFC 7692 section 5); a bad offer is
    /// declined, never answered with an error.
    #[cfg(feature = "deflate")]
    fn negotiate(&mut self, request: &UpgradeRequest, accept: Accept) -> Accept {
        self.deflate = self
            .config
            .deflate
            .and_then(|wanted| request.negotiate_deflate(&wanted));
        accept.deflate(self.deflate)
    }

    #[cfg(not(feature = "deflate"))]
    fn negotiate(&mut self, _: &UpgradeRequest, accept: Accept) -> Accept {
        accept
    }

    pub(crate) fn open(self) -> Connection {
        open(
            Role::Server,
            self.config,
            self.deflate,
            self.handshake.leftover(),
        )
    }
}

fn refuse(reject: Reject) -> Answer {
    let status = reject.status();
    match reject.into_bytes() {
        Ok(bytes) => Answer {
            bytes,
            outcome: Err(Error::Rejected(status)),
        },
        Err(error) => server_error(error),
    }
}

fn server_error(error: BuildError) -> Answer {
    Answer {
        bytes: Reject::new(500).into_bytes().unwrap_or_default(),
        outcome: Err(Error::Build(error)),
    }
}

/// The client side of an adapter's opening handshake, without I/O: write
/// [`request_bytes`](Self::request_bytes), feed what is read to
/// [`receive`](Self::receive) until it gives the connection.
pub(crate) struct Connector {
    handshake: ClientHandshake,
    config: Config,
}

impl Connector {
    pub(crate) fn new(request: ClientRequest, config: Config) -> Result<Self, Error> {
        // Offer permessage-deflate when the config asks for it.
        #[cfg(feature = "deflate")]
        let request = match config.deflate {
            Some(deflate) => request.deflate(deflate),
            None => request,
        };
        Ok(Connector {
            handshake: ClientHandshake::new(request)?,
            config,
        })
    }

    pub(crate) fn request_bytes(&self) -> &[u8] {
        self.handshake.request_bytes()
    }

    /// Feeds bytes read; the connection once the server's answer is whole.
    pub(crate) fn receive(&mut self, bytes: &[u8]) -> Result<Option<Connection>, Error> {
        match self.handshake.receive(bytes)? {
            Status::Partial => Ok(None),
            Status::Complete(response) => {
                #[cfg(feature = "deflate")]
                let agreed = response.deflate();
                #[cfg(not(feature = "deflate"))]
                let agreed: Agreed = {
                    let _ = response;
                    None
                };
                Ok(Some(open(
                    Role::Client,
                    self.config,
                    agreed,
                    self.handshake.leftover(),
                )))
            }
        }
    }
}

/// The one place where a finished handshake becomes a [`Connection`]: both
/// adapters, both roles, come through here with the bytes that followed the
/// handshake. Extensions negotiated in the handshake are to be applied here.
/// The timers start now.
pub(crate) fn open(role: Role, config: Config, agreed: Agreed, leftover: &[u8]) -> Connection {
    #[cfg(feature = "deflate")]
    let mut connection = Connection::with_deflate(role, config, agreed);
    #[cfg(not(feature = "deflate"))]
    let mut connection = {
        let _ = agreed;
        Connection::new(role, config)
    };
    connection.receive_at(leftover, Instant::now());
    connection
}

/// The accept-everything callback of `accept`.
pub(crate) fn accept_all(_: &UpgradeRequest) -> Result<Accept, Reject> {
    Ok(Accept::new())
}

/// What one event of the connection means to an adapter's receive loop.
pub(crate) enum Step {
    /// Hand this to the application.
    Yield(Result<Message, Error>),
    /// Something was handled (a ping, a pong, the peer's close): poll again.
    Again,
    /// The connection needs more bytes, or is closed.
    Idle,
}

/// Sorts an event of [`Connection::poll_event`] for a receive loop, keeping
/// the peer's close frame.
pub(crate) fn step(
    event: Result<Option<Event>, ProtocolError>,
    peer_close: &mut Option<CloseFrame>,
) -> Step {
    match event {
        Ok(Some(Event::Message(message))) => Step::Yield(Ok(message)),
        Ok(Some(Event::Close(frame))) => {
            *peer_close = frame;
            Step::Again
        }
        Ok(Some(Event::Ping(_) | Event::Pong(_))) => Step::Again,
        Ok(None) => Step::Idle,
        Err(error) => Step::Yield(Err(error.into())),
    }
}

/// The stream failed to take bytes (other than `WouldBlock`): what is queued
/// can never be sent, and nothing more will be received that matters. Drops
/// the output and ends the input, so that the next poll reports
/// [`ProtocolError::AbnormalClosure`] once and the connection is then over,
/// instead of failing on the same write forever.
pub(crate) fn transport_failed(connection: &mut Connection) {
    let _ = connection.take_transmit();
    connection.receive_eof();
}

/// How much an adapter reads from its stream at once, by default.
pub const DEFAULT_READ_BUFFER: usize = 8 << 10;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_adapter_error_becomes_an_io_error_of_the_right_kind() {
        let timeout = std::io::Error::from(std::io::ErrorKind::TimedOut);
        assert!(Error::Io(timeout).is_would_block());
        let back: std::io::Error = Error::Io(std::io::ErrorKind::BrokenPipe.into()).into();
        assert_eq!(back.kind(), std::io::ErrorKind::BrokenPipe);
        let peer: std::io::Error = Error::Protocol(ProtocolError::MaskedFrame).into();
        assert_eq!(peer.kind(), std::io::ErrorKind::InvalidData);
        let caller: std::io::Error = Error::Send(SendError::Closed).into();
        assert_eq!(caller.kind(), std::io::ErrorKind::Other);
        assert!(!Error::Rejected(401).is_would_block());
    }

    #[test]
    fn a_plain_request_is_refused_with_426_and_a_broken_one_with_its_status() {
        let mut acceptor = Acceptor::new(Config::default(), accept_all);
        let answer = acceptor
            .receive(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .expect("a whole request");
        assert!(answer.bytes.starts_with(b"HTTP/1.1 426 "));
        assert!(matches!(answer.outcome, Err(Error::Rejected(426))));

        let mut acceptor = Acceptor::new(Config::default(), accept_all);
        assert!(acceptor.receive(b"GET / HTTP/1.1\r\n").is_none());
        let answer = acceptor
            .receive(b"Host: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
            .expect("a whole request");
        assert!(
            answer.bytes.starts_with(b"HTTP/1.1 426 "),
            "no version: 426"
        );
        assert!(matches!(answer.outcome, Err(Error::Handshake(_))));
    }
}
