//! The tokio adapter (feature `tokio`): a [`WebSocketStream`] over any
//! `AsyncRead + AsyncWrite + Unpin` stream, and its owned halves
//! ([`WebSocketStream::into_split`]).
//!
//! See [`WebSocketStream`] for the calls, the `Stream` and `Sink` semantics,
//! and [`ReadHalf`] for what the split halves guarantee.
//! [`ReconnectingClient`] is a client that connects again after a loss,
//! with [`Backoff`] and a hook to subscribe again.

mod prepared;
mod reconnect;
mod split;
#[cfg(feature = "rustls")]
mod tls;

use std::collections::VecDeque;
use std::future::{Future, poll_fn};
use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use ::tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use ::tokio::net::TcpStream;
use ::tokio::time::Sleep;
use bytes::{Buf, Bytes};
use futures_core::Stream;
use futures_sink::Sink;

use crate::handshake::{Accept, ClientRequest, Reject, UpgradeRequest};
use crate::{CloseCode, CloseFrame, Config, Connection, Message, ProtocolError, Role, State};

use super::{Acceptor, Connector, Error, Step, accept_all, open, step, transport_failed};

pub use reconnect::{Attempt, Backoff, BoxFuture, ReconnectingBuilder, ReconnectingClient, Unsent};
pub use split::{ReadHalf, WriteHalf};
#[cfg(feature = "rustls")]
#[cfg_attr(docsrs, doc(cfg(feature = "rustls")))]
pub use tls::{MaybeTlsStream, default_client_config};
/// The rustls crate that `wss://` uses (feature `rustls`), to build a
/// `ClientConfig` for [`WebSocketStream::connect_tls_with`] or a server's
/// `TlsAcceptor` without naming another version.
#[cfg(feature = "rustls")]
#[cfg_attr(docsrs, doc(cfg(feature = "rustls")))]
pub use tokio_rustls::{self, rustls};

/// Bytes read from the stream at once, into a buffer on the stack: an idle
/// stream holds no read buffer. As large as a frame we send by default: a
/// 64 KiB message takes one read, not eight; on the loopback echo bench
/// (64 KiB messages, 1 and 16 connections, 1 and 16 in flight) that moved
/// us from 0.74-1.08 to 0.96-1.25 of tokio-tungstenite.
const READ_CHUNK: usize = 64 << 10;

/// The read into the stack buffer after one that went straight into a
/// payload: room for the next frame's header (at most 14 bytes) or a control
/// frame between fragments, and little of a payload, which then goes
/// straight into the connection with the next read. (The end of a frame
/// is read in place too, with the next header, when it goes into its
/// message or its buffer has room for it; otherwise the last bytes under
/// 64 KiB of a smaller frame come with this read and the next.)
const HEADER_READ: usize = 256;

/// Bytes read at once during the opening handshake, into a buffer that
/// lives as long as the handshake: allocated, not zeroed (`read_buf` fills
/// its spare capacity), and outside the handshake's future, which moves
/// when it is boxed.
const HANDSHAKE_READ: usize = 4096;

/// The default [high-water mark](WebSocketStream::set_high_water_mark) of the
/// send queue: 128 KiB.
pub use super::DEFAULT_HIGH_WATER;

/// A WebSocket over an async stream: a [`Stream`] of messages and a
/// [`Sink`] for them.
///
/// # Receiving
///
/// It is a `Stream<Item = Result<Message, Error>>`; [`recv`](Self::recv) is
/// the same without the trait. The stream ends (`None`) after the close
/// handshake; [`peer_close`](Self::peer_close) then holds the peer's close
/// frame. A protocol error of the peer comes once as `Some(Err(_))`, its
/// close frame already written as far as the stream takes it without
/// waiting (so a loop that stops at the first error still sends the close
/// code); the stream ends on the next poll, once the rest is written.
/// **A peer that reads nothing more holds the end back only as long as the
/// timers allow**: after the idle or close timeout what is left to write is
/// dropped at once, and after the close handshake or a protocol error the
/// last bytes get [`Config::close_timeout`] to leave, then are dropped
/// (with no close timeout they wait as long as the peer does).
///
/// **Pings and the peer's close are answered while receiving**, at the
/// next frame boundary, without waiting for the application to write.
///
/// **Receiving writes what is queued when the bytes read run out**, before
/// it reads again: answers, and messages [fed](Self::feed) but not flushed.
/// So an echo loop that feeds each message it receives writes every echo of
/// one read in a single write, and a message received whole in the same
/// read as the one before it is handed out without a write in between.
///
/// **`recv` and `next` are cancel-safe**: every byte read is handed to the
/// sans-IO [`Connection`] in the same poll that reads it, and partial
/// frames and messages live there, so dropping a `recv` future in a
/// `select!` loses nothing.
///
/// # Sending: the `Sink` semantics
///
/// - `start_send` (and [`feed`](Self::feed)) **only queues** the message, as
///   frames of at most [`Config::send_frame_size`] bytes.
/// - `poll_ready` is `Pending` while the queued bytes are at or above the
///   [high-water mark](Self::set_high_water_mark) (128 KiB by default), after
///   trying to write them: memory stays bounded by the mark plus one message.
/// - `poll_flush` (and [`flush`](Self::flush)) writes every queued byte, then
///   flushes the inner stream (a TLS stream needs that second step).
/// - `poll_close` sends a close with 1000 if none was sent, flushes, and
///   shuts the stream down once the close handshake is over. To wait for the
///   peer's close, keep receiving until the stream ends.
///
/// [`send`](Self::send) is `feed` then `flush`; [`close`](Self::close)
/// sends a close with a code and a reason.
///
/// # Timers
///
/// With a keepalive, idle or close timeout in the [`Config`], **the timers
/// run while receiving**: one tokio `Sleep`, reset only when the
/// connection's deadline ([`Connection::poll_timeout`]) moves, wakes the
/// receiving task; a due keepalive ping is sent, and a peer silent past the
/// idle timeout ends the stream with
/// [`ProtocolError::IdleTimeout`] as
/// [`Error::Protocol`], then `None`. Bytes that arrived while the task was
/// away (busy, or waiting in [`feed`](Self::feed) for room to send) are
/// read before a reached deadline is acted on: a peer that sent them is not
/// idle. The opening handshake gives up after
/// [`Config::handshake_timeout`] with [`Error::HandshakeTimeout`]. Both
/// need a runtime with its time driver on (`#[tokio::main]` and
/// `#[tokio::test]` have it).
///
/// # Memory
///
/// Reads go through a 64 KiB buffer on the stack; an idle stream holds no
/// heap memory, only the stream and the [`Connection`] (and a `Sleep` once
/// a timer runs).
///
/// # Example
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use futures_util::{SinkExt, StreamExt};
/// use rfc6455::Message;
/// use rfc6455::io::tokio::WebSocketStream;
/// use tokio::net::TcpListener;
///
/// let listener = TcpListener::bind("127.0.0.1:0").await?;
/// let url = format!("ws://{}/", listener.local_addr()?);
/// let server = tokio::spawn(async move {
///     let (stream, _) = listener.accept().await?;
///     let mut ws = WebSocketStream::accept(stream).await?;
///     while let Some(message) = ws.next().await {
///         ws.feed(message?).await?; // echo: written by the next `next`
///     }
///     Ok::<_, rfc6455::io::Error>(())
/// });
///
/// let mut ws = WebSocketStream::connect(&url).await?;
/// ws.send(Message::text("hello")).await?;
/// assert_eq!(ws.recv().await.transpose()?, Some(Message::text("hello")));
/// ws.close(rfc6455::CloseCode::Normal, "bye").await?;
/// assert!(ws.recv().await.is_none()); // the server answered the close
/// server.await??;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct WebSocketStream<S> {
    io: S,
    connection: Connection,
    /// Pieces taken from the connection and not yet wholly written.
    in_flight: InFlight,
    /// Bytes were written since the stream was last flushed.
    unflushed: bool,
    /// The last read went straight into a payload: the next read into the
    /// stack buffer is short ([`HEADER_READ`]), to take the next frame's
    /// header and little else, so that its payload goes straight into the
    /// connection too.
    in_payload: bool,
    high_water: usize,
    peer_close: Option<CloseFrame>,
    timer: Timer,
}

impl WebSocketStream<TcpStream> {
    /// Connects to a `ws://` URL and runs the client handshake, with the
    /// default [`Config`].
    pub async fn connect(url: &str) -> Result<Self, Error> {
        Self::connect_with(ClientRequest::new(url)?, Config::default()).await
    }

    /// Connects for `request` (URL, protocols, headers) and runs the client
    /// handshake. `TCP_NODELAY` is set: frames are written whole.
    ///
    /// A `wss://` URL is refused here, rather than sent in clear: use
    /// `connect_tls` (feature `rustls`), or open TLS yourself and call
    /// [`client`](WebSocketStream::client).
    pub async fn connect_with(request: ClientRequest, config: Config) -> Result<Self, Error> {
        if request.is_secure() {
            let message =
                "wss:// needs TLS: connect_tls (feature rustls), or client() over a TLS stream";
            return Err(crate::handshake::BuildError::InvalidUrl(message).into());
        }
        let stream = TcpStream::connect((request.host(), request.port())).await?;
        stream.set_nodelay(true)?;
        Self::client(stream, request, config).await
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> WebSocketStream<S> {
    /// Runs the server handshake and accepts any WebSocket request. A request
    /// that breaks a rule gets its HTTP error, a plain HTTP request gets 426;
    /// both are returned as errors.
    ///
    /// The future is one pointer: the handshake runs in a box that is freed
    /// when it ends, so a task that awaits it is not made larger for the
    /// rest of its life (an idle connection pays for its task's size).
    pub fn accept(stream: S) -> impl Future<Output = Result<Self, Error>> {
        Self::accept_with_config(stream, Config::default(), accept_all)
    }

    /// Runs the server handshake and lets `callback` decide: it sees the
    /// request (path, query, headers, offered protocols) and returns the
    /// [`Accept`] to answer with, or a [`Reject`] with any HTTP status, sent
    /// and returned as [`Error::Rejected`].
    pub fn accept_with<F>(stream: S, callback: F) -> impl Future<Output = Result<Self, Error>>
    where
        F: FnOnce(&UpgradeRequest) -> Result<Accept, Reject>,
    {
        Self::accept_with_config(stream, Config::default(), callback)
    }

    /// [`accept_with`](Self::accept_with) with a [`Config`].
    pub fn accept_with_config<F>(
        mut stream: S,
        config: Config,
        callback: F,
    ) -> impl Future<Output = Result<Self, Error>>
    where
        F: FnOnce(&UpgradeRequest) -> Result<Accept, Reject>,
    {
        // Boxed: the handshake's state (the stream, the acceptor, a read
        // buffer, the timeout's timer) lives on the heap until the
        // handshake ends, instead of sizing every task that awaits this
        // future, and so every idle connection, by it.
        Box::pin(async move {
            let mut acceptor = Acceptor::new(config, callback);
            let answer = within(config.handshake_timeout, async {
                let mut buf = Vec::with_capacity(HANDSHAKE_READ);
                loop {
                    buf.clear();
                    if read_some(&mut stream, &mut buf).await? == 0 {
                        return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into());
                    }
                    if let Some(answer) = acceptor.receive(&buf) {
                        return Ok(answer);
                    }
                }
            })
            .await?;
            write_whole(&mut stream, &answer.bytes).await?;
            answer.outcome?;
            Ok(Self::with_connection(stream, acceptor.open()))
        })
    }

    /// Runs the client handshake for `request` over a stream already
    /// connected to [`ClientRequest::host`] (TCP, or TLS inside it for
    /// `wss://`). A refusal is
    /// [`HandshakeError::UnexpectedStatus`](crate::handshake::HandshakeError::UnexpectedStatus).
    pub fn client(
        mut stream: S,
        request: ClientRequest,
        config: Config,
    ) -> impl Future<Output = Result<Self, Error>> {
        // Boxed, as in `accept_with_config`.
        Box::pin(async move {
            let mut connector = Connector::new(request, config)?;
            let connection = within(config.handshake_timeout, async {
                write_whole(&mut stream, connector.request_bytes()).await?;
                let mut buf = Vec::with_capacity(HANDSHAKE_READ);
                loop {
                    buf.clear();
                    if read_some(&mut stream, &mut buf).await? == 0 {
                        return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into());
                    }
                    if let Some(connection) = connector.receive(&buf)? {
                        return Ok(connection);
                    }
                }
            })
            .await?;
            Ok(Self::with_connection(stream, connection))
        })
    }

    /// Wraps a stream whose opening handshake was done elsewhere (an HTTP
    /// server's upgrade); `leftover` is what was read after the handshake.
    pub fn from_raw(io: S, role: Role, leftover: &[u8], config: Config) -> Self {
        Self::with_connection(io, open(role, config, Default::default(), leftover))
    }

    /// Wraps a stream and a [`Connection`] built by hand after a handshake
    /// done elsewhere: for instance with
    /// `Connection::with_deflate` (feature `deflate`) when you negotiated
    /// permessage-deflate yourself. Give the connection the bytes read after
    /// the handshake first. Its timers start now, if no time was given to
    /// it before.
    pub fn from_connection(io: S, mut connection: Connection) -> Self {
        connection.handle_timeout(Instant::now());
        Self::with_connection(io, connection)
    }

    fn with_connection(io: S, connection: Connection) -> Self {
        WebSocketStream {
            io,
            connection,
            in_flight: InFlight::default(),
            unflushed: false,
            in_payload: false,
            high_water: DEFAULT_HIGH_WATER,
            peer_close: None,
            timer: Timer::default(),
        }
    }

    /// The next message, or `None` after the close handshake: the same as
    /// `StreamExt::next`, without the trait. Cancel-safe.
    pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
        poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }

    /// Queues a message, first waiting while the queue is above the
    /// high-water mark: `SinkExt::feed`.
    pub async fn feed(&mut self, message: Message) -> Result<(), Error> {
        poll_fn(|cx| Pin::new(&mut *self).poll_ready(cx)).await?;
        Pin::new(&mut *self).start_send(message)
    }

    /// Writes every queued byte and flushes the stream: `SinkExt::flush`.
    pub async fn flush(&mut self) -> Result<(), Error> {
        poll_fn(|cx| Pin::new(&mut *self).poll_flush(cx)).await
    }

    /// [`feed`](Self::feed) then [`flush`](Self::flush).
    pub async fn send(&mut self, message: Message) -> Result<(), Error> {
        self.feed(message).await?;
        self.flush().await
    }

    /// Sends a ping of at most 125 bytes; it goes ahead of queued data
    /// frames. Its pong is not reported.
    pub async fn ping(&mut self, payload: &[u8]) -> Result<(), Error> {
        self.connection.ping(payload)?;
        self.flush().await
    }

    /// Starts the close handshake: the close goes after the messages already
    /// queued. Keep receiving until the stream ends to get the peer's close.
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        self.connection.close(code, reason)?;
        self.flush().await
    }

    /// Sets the high-water mark of the send queue, in bytes: `poll_ready`
    /// waits while this much or more is queued, and
    /// [`try_feed_prepared`](Self::try_feed_prepared) refuses. Default
    /// [`DEFAULT_HIGH_WATER`], 128 KiB.
    pub fn set_high_water_mark(&mut self, bytes: usize) {
        self.high_water = bytes;
    }

    /// The high-water mark of the send queue, in bytes.
    pub fn high_water_mark(&self) -> usize {
        self.high_water
    }

    /// The peer's close frame, once it arrived (`None` also when it carried
    /// no code).
    pub fn peer_close(&self) -> Option<&CloseFrame> {
        self.peer_close.as_ref()
    }

    /// Bytes queued and not yet written to the stream, the browser API's
    /// `bufferedAmount`: what the connection holds plus the piece being
    /// written.
    pub fn buffered_amount(&self) -> usize {
        self.connection.buffered_amount() + self.in_flight.len()
    }

    /// The sans-IO connection inside, for its state and counters.
    pub fn connection(&self) -> &Connection {
        &self.connection
    }

    /// The stream.
    pub fn get_ref(&self) -> &S {
        &self.io
    }

    /// The stream; reading or writing it directly breaks the framing.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.io
    }

    /// Splits into a reading and a writing half that can live in different
    /// tasks; see [`ReadHalf`] for what they guarantee.
    pub fn into_split(self) -> (ReadHalf<S>, WriteHalf<S>) {
        split::split(self)
    }

    /// Writes what is queued (everything), then flushes the stream. A
    /// failed stream drops the output and ends the connection.
    fn poll_drive(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let connection = &mut self.connection;
        let result = ready!(poll_write_pieces(
            Pin::new(&mut self.io),
            cx,
            &mut self.in_flight,
            &mut self.unflushed,
            || connection.poll_transmit(),
        ));
        if result.is_err() {
            self.in_flight = InFlight::default();
            transport_failed(&mut self.connection);
        }
        Poll::Ready(result)
    }
}

/// Runs an opening handshake, giving up after `timeout`.
async fn within<T>(
    timeout: Option<Duration>,
    handshake: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    match timeout {
        Some(timeout) => ::tokio::time::timeout(timeout, handshake)
            .await
            .unwrap_or(Err(Error::HandshakeTimeout)),
        None => handshake.await,
    }
}

/// Whether a receive error is a timer's verdict that the peer is gone
/// (idle or close timeout), after which nothing more is written to it.
fn is_expiry(error: &Error) -> bool {
    matches!(
        error,
        Error::Protocol(ProtocolError::IdleTimeout | ProtocolError::CloseTimeout)
    )
}

/// Reads some bytes of an opening handshake, again after `Interrupted`,
/// as the blocking adapter and std's `read_exact` do: that error means
/// "call again", not a broken stream.
async fn read_some<S: AsyncRead + Unpin>(stream: &mut S, buf: &mut Vec<u8>) -> io::Result<usize> {
    loop {
        match stream.read_buf(buf).await {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            other => return other,
        }
    }
}

/// Writes all of `bytes` and flushes, again after `Interrupted` (tokio's
/// `write_all` gives up on it).
async fn write_whole<S: AsyncWrite + Unpin>(stream: &mut S, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        match stream.write(bytes).await {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    loop {
        match stream.flush().await {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            other => return other,
        }
    }
}

/// The one timer of a receiving side: a `Sleep` armed for the connection's
/// next deadline, reset only when that deadline moves. Once the connection
/// is closed it serves as the linger of its last bytes: `sleep` set and
/// `armed` empty, a state the deadlines never leave it in.
#[derive(Debug, Default)]
struct Timer {
    sleep: Option<Pin<Box<Sleep>>>,
    /// The deadline `sleep` is set for.
    armed: Option<Instant>,
}

impl Timer {
    /// The connection is over and its last bytes wait for a peer that
    /// takes nothing: `Ready` once `limit` (the close timeout, counted from
    /// the first call) has passed, when they are to be dropped (section
    /// 7.1.7 lets an endpoint skip a close the peer cannot receive).
    /// Without a limit, never.
    fn poll_linger(&mut self, limit: Option<Duration>, cx: &mut Context<'_>) -> Poll<()> {
        let lingering = self.sleep.is_some() && self.armed.is_none();
        if !lingering {
            let Some(deadline) = limit.and_then(|limit| Instant::now().checked_add(limit)) else {
                return Poll::Pending;
            };
            let at = ::tokio::time::Instant::from_std(deadline);
            match &mut self.sleep {
                Some(sleep) => sleep.as_mut().reset(at),
                None => self.sleep = Some(Box::pin(::tokio::time::sleep_until(at))),
            }
            self.armed = None;
        }
        match &mut self.sleep {
            Some(sleep) => sleep.as_mut().poll(cx),
            None => Poll::Pending,
        }
    }

    /// `Ready` when the connection's next deadline is reached, for the
    /// caller to act on ([`act_on_deadline`]); else arms the sleep for it
    /// and registers the task with it.
    fn poll_due(&mut self, connection: &Connection, cx: &mut Context<'_>) -> Poll<()> {
        let Some(deadline) = connection.poll_timeout() else {
            return Poll::Pending;
        };
        let now = Instant::now();
        if deadline > now {
            let at = ::tokio::time::Instant::from_std(deadline);
            match &mut self.sleep {
                Some(sleep) if self.armed == Some(deadline) => {
                    ready!(sleep.as_mut().poll(cx));
                }
                Some(sleep) => {
                    sleep.as_mut().reset(at);
                    self.armed = Some(deadline);
                    ready!(sleep.as_mut().poll(cx));
                }
                None => {
                    let sleep = self.sleep.insert(Box::pin(::tokio::time::sleep_until(at)));
                    self.armed = Some(deadline);
                    ready!(sleep.as_mut().poll(cx));
                }
            }
        }
        Poll::Ready(())
    }
}

/// A deadline of the connection is reached: `act(None)` acts on it, unless
/// bytes are waiting in the stream: `act(Some(bytes))` feeds them instead.
/// They count first: they arrived while this task was away (busy, or
/// waiting for room to send), and a peer that sent them is not idle.
/// `Ready` either way, to poll the connection again.
fn act_on_deadline<R: AsyncRead + ?Sized>(
    io: Pin<&mut R>,
    cx: &mut Context<'_>,
    act: impl FnOnce(Option<&[u8]>),
) -> Poll<io::Result<()>> {
    let mut act = Some(act);
    let read = poll_read_once(io, cx, READ_CHUNK, |bytes| {
        if let Some(act) = act.take() {
            act(Some(bytes));
        }
    });
    match (read, act) {
        (Poll::Pending, Some(act)) => {
            act(None);
            Poll::Ready(Ok(()))
        }
        (read, _) => read,
    }
}

/// What [`act_on_deadline`] does to a connection.
fn deadline_or_bytes(connection: &mut Connection, bytes: Option<&[u8]>) {
    match bytes {
        Some(bytes) => feed(connection, bytes),
        None => connection.handle_timeout(Instant::now()),
    }
}

/// Pieces taken from a connection's send queue
/// ([`Connection::poll_transmit`]), written together with one vectored
/// write: the header of a large message and its payload, sent from the
/// message's own buffer, go out in the same call (so Nagle's algorithm never
/// holds a payload back behind a small write), and so do the headers and
/// payloads of many such messages queued at once.
#[derive(Debug, Default)]
pub(crate) struct InFlight {
    /// Written first; empty when nothing is in flight.
    first: Bytes,
    /// Written after `first`, in order. Empty unless several pieces were
    /// taken at once: it allocates only then, and lets go once written, so
    /// an idle stream holds nothing here.
    rest: VecDeque<Bytes>,
}

impl InFlight {
    /// More pieces are taken while fewer bytes than this are in flight: a
    /// control frame queued meanwhile waits for at most this much (plus one
    /// piece) before it overtakes the data.
    const TAKE_BELOW: usize = 256 << 10;

    /// The most pieces given to one vectored write.
    const MAX_PIECES: usize = 64;

    pub(crate) fn len(&self) -> usize {
        self.first.len() + self.rest.iter().map(Bytes::len).sum::<usize>()
    }

    /// Takes pieces from `next` while there is room.
    fn fill(&mut self, mut next: impl FnMut() -> Option<Bytes>) {
        if self.first.is_empty() {
            match next() {
                Some(piece) => self.first = piece,
                None => return,
            }
        }
        let mut len = self.len();
        while len < Self::TAKE_BELOW && self.rest.len() + 1 < Self::MAX_PIECES {
            let Some(piece) = next() else { break };
            len += piece.len();
            if !piece.is_empty() {
                self.rest.push_back(piece);
            }
        }
    }

    /// The pieces in flight, in order, for one vectored write.
    fn io_slices<'a>(
        &'a self,
        slices: &'a mut [io::IoSlice<'a>; Self::MAX_PIECES],
    ) -> &'a [io::IoSlice<'a>] {
        slices[0] = io::IoSlice::new(&self.first);
        for (slot, piece) in slices[1..].iter_mut().zip(&self.rest) {
            *slot = io::IoSlice::new(piece);
        }
        &slices[..1 + self.rest.len()]
    }

    /// Drops `n` written bytes; lets go of each piece's allocation as soon
    /// as it is written.
    fn advance(&mut self, mut n: usize) {
        // An empty `Bytes` past the end of a piece would still hold its
        // buffer: a written piece is replaced by the next one.
        while !self.first.is_empty() && n >= self.first.len() {
            n -= self.first.len();
            self.first = self.rest.pop_front().unwrap_or_default();
        }
        self.first.advance(n.min(self.first.len()));
        if self.rest.is_empty() && self.rest.capacity() > 0 {
            self.rest = VecDeque::new();
        }
    }
}

/// Writes what is in flight, then each piece `next` gives, until it gives
/// none; then flushes the stream if anything was written. Pieces end at
/// frame boundaries, so control frames overtake between them.
fn poll_write_pieces<W: AsyncWrite + ?Sized>(
    mut io: Pin<&mut W>,
    cx: &mut Context<'_>,
    in_flight: &mut InFlight,
    unflushed: &mut bool,
    mut next: impl FnMut() -> Option<Bytes>,
) -> Poll<io::Result<()>> {
    loop {
        in_flight.fill(&mut next);
        if in_flight.first.is_empty() {
            break;
        }
        let written = if in_flight.rest.is_empty() {
            ready!(io.as_mut().poll_write(cx, &in_flight.first))
        } else {
            let mut slices = [io::IoSlice::new(&[]); InFlight::MAX_PIECES];
            ready!(
                io.as_mut()
                    .poll_write_vectored(cx, in_flight.io_slices(&mut slices))
            )
        };
        // `Interrupted` asks for the same call again (std's convention,
        // which the blocking adapter follows too).
        let n = match written {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => other?,
        };
        if n == 0 {
            return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
        }
        in_flight.advance(n);
        *unflushed = true;
    }
    while *unflushed {
        match ready!(io.as_mut().poll_flush(cx)) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            other => {
                other?;
                *unflushed = false;
            }
        }
    }
    Poll::Ready(Ok(()))
}

/// Reads at most `len` bytes (up to [`READ_CHUNK`]) once into a stack
/// buffer; gives the bytes to `feed` (empty for end of stream) in the same
/// poll, so nothing read is ever held across polls.
/// The buffer is left uninitialized: `ReadBuf` hands out only the bytes the
/// read filled, so the 64 KiB need no zeroing on every poll.
/// `Interrupted` is read again.
fn poll_read_once<R: AsyncRead + ?Sized>(
    mut io: Pin<&mut R>,
    cx: &mut Context<'_>,
    len: usize,
    feed: impl FnOnce(&[u8]),
) -> Poll<io::Result<()>> {
    let mut buf = [MaybeUninit::<u8>::uninit(); READ_CHUNK];
    let mut read = ReadBuf::uninit(&mut buf[..len.min(READ_CHUNK)]);
    loop {
        match ready!(io.as_mut().poll_read(cx, &mut read)) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            other => break other?,
        }
    }
    feed(read.filled());
    Poll::Ready(Ok(()))
}

/// While the payload of a fragment, or of a frame that still needs 64 KiB
/// or more, is arriving, reads once straight into the connection
/// ([`Connection::payload_space`]: the message being assembled, or the
/// receive buffer): as much as the frame still needs (up to what has
/// arrived, at least 64 KiB), copied once, and no stack buffer in between.
/// The read that ends the frame takes the bytes of the frames after it
/// too: up to 256 in the message, or what the receive buffer has room for.
/// `None` otherwise: then read with [`poll_read_once`], in small reads'
/// sizes.
/// `Interrupted` is read again.
fn poll_read_payload<R: AsyncRead + Unpin + ?Sized>(
    io: &mut R,
    cx: &mut Context<'_>,
    connection: &mut Connection,
) -> Option<Poll<io::Result<()>>> {
    loop {
        let mut space = connection.payload_space()?;
        // One poll of `read_buf`'s future: it holds nothing across polls
        // (the bytes are in the message once it is ready), so dropping it
        // when pending loses nothing.
        let read = std::pin::pin!(io.read_buf(&mut space)).poll(cx);
        // Dropping the space hands what was read to the connection.
        drop(space);
        return Some(match read {
            Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
            Poll::Ready(Ok(0)) => {
                connection.receive_eof();
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Ok(_)) => {
                // The time the bytes arrived, for the idle and keepalive
                // timers.
                connection.receive_at(&[], Instant::now());
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        });
    }
}

/// Feeds bytes read, or the end of stream, to a connection.
fn feed(connection: &mut Connection, bytes: &[u8]) {
    if bytes.is_empty() {
        connection.receive_eof();
    } else {
        connection.receive_at(bytes, Instant::now());
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Stream for WebSocketStream<S> {
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            match step(this.connection.poll_event(), &mut this.peer_close) {
                Step::Yield(Err(error)) if is_expiry(&error) => {
                    // The peer is presumed gone: the connection dropped its
                    // queue, and the piece in flight goes too, or the end
                    // of the stream would wait for it forever.
                    this.in_flight = InFlight::default();
                    return Poll::Ready(Some(Err(error)));
                }
                Step::Yield(Err(error)) => {
                    // A protocol error of the peer queued its close (1002,
                    // 1007, 1009...): write it now, as far as the stream
                    // takes it without waiting, so that a loop that stops
                    // at the first error still tells the peer why.
                    let _ = this.poll_drive(cx);
                    return Poll::Ready(Some(Err(error)));
                }
                Step::Yield(message) => return Poll::Ready(Some(message)),
                Step::Again => continue,
                Step::Idle => {}
            }
            if this.connection.state() == State::Closed {
                // The last close goes out before the stream ends, given
                // the close timeout to do so by a peer that reads nothing.
                match this.poll_drive(cx) {
                    Poll::Ready(Err(e)) => return Poll::Ready(Some(Err(e.into()))),
                    Poll::Ready(Ok(())) => return Poll::Ready(None),
                    Poll::Pending => {
                        let limit = this.connection.config().close_timeout;
                        ready!(this.timer.poll_linger(limit, cx));
                        this.in_flight = InFlight::default();
                        let _ = this.connection.take_transmit();
                        return Poll::Ready(None);
                    }
                }
            }
            if this.timer.poll_due(&this.connection, cx).is_ready() {
                let io = Pin::new(&mut this.io);
                let connection = &mut this.connection;
                let act = |bytes: Option<&[u8]>| deadline_or_bytes(connection, bytes);
                if let Err(e) = ready!(act_on_deadline(io, cx, act)) {
                    return Poll::Ready(Some(Err(e.into())));
                }
                continue;
            }
            // The bytes read are used up: before reading more, write what
            // is queued, answers and messages fed alike, so that the echoes
            // of everything one read brought go out in one write. A stream
            // that cannot take them now wakes this task when it can.
            if let Poll::Ready(Err(e)) = this.poll_drive(cx) {
                return Poll::Ready(Some(Err(e.into())));
            }
            let connection = &mut this.connection;
            let read = match poll_read_payload(&mut this.io, cx, connection) {
                Some(read) => {
                    this.in_payload = true;
                    read
                }
                None => {
                    let len = if this.in_payload {
                        HEADER_READ
                    } else {
                        READ_CHUNK
                    };
                    this.in_payload = false;
                    poll_read_once(Pin::new(&mut this.io), cx, len, |bytes| {
                        feed(connection, bytes)
                    })
                }
            };
            if let Err(e) = ready!(read) {
                return Poll::Ready(Some(Err(e.into())));
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Sink<Message> for WebSocketStream<S> {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        if this.buffered_amount() < this.high_water {
            return Poll::Ready(Ok(()));
        }
        ready!(this.poll_drive(cx))?;
        Poll::Ready(Ok(()))
    }

    fn start_send(self: Pin<&mut Self>, message: Message) -> Result<(), Error> {
        Ok(self.get_mut().connection.send(message)?)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Poll::Ready(Ok(ready!(self.get_mut().poll_drive(cx))?))
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        if this.connection.state() == State::Open {
            this.connection.close(CloseCode::Normal, "")?;
        }
        ready!(this.poll_drive(cx))?;
        if this.connection.is_done() {
            ready!(Pin::new(&mut this.io).poll_shutdown(cx))?;
        }
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(lens: &[usize]) -> impl FnMut() -> Option<Bytes> {
        let mut pieces: VecDeque<Bytes> = lens
            .iter()
            .enumerate()
            .map(|(i, &len)| Bytes::from(vec![i as u8; len]))
            .collect();
        move || pieces.pop_front()
    }

    fn written(in_flight: &InFlight) -> Vec<u8> {
        let mut slices = [io::IoSlice::new(&[]); InFlight::MAX_PIECES];
        in_flight
            .io_slices(&mut slices)
            .iter()
            .flat_map(|s| s.to_vec())
            .collect()
    }

    #[test]
    fn many_pieces_go_out_in_one_write_and_in_order() {
        let mut in_flight = InFlight::default();
        // Sixteen 8 KiB messages sent from their own buffers: header, payload.
        let lens: Vec<usize> = (0..16).flat_map(|_| [4, 8 << 10]).collect();
        in_flight.fill(pieces(&lens));
        assert_eq!(in_flight.rest.len() + 1, 32, "every piece taken at once");
        let bytes = written(&in_flight);
        assert_eq!(bytes.len(), 16 * (4 + (8 << 10)));
        let mut at = 0;
        for (i, &len) in lens.iter().enumerate() {
            assert!(bytes[at..at + len].iter().all(|&b| b == i as u8));
            at += len;
        }
    }

    #[test]
    fn a_partial_write_resumes_inside_the_piece_it_stopped_in() {
        let mut in_flight = InFlight::default();
        in_flight.fill(pieces(&[10, 100, 1000]));
        let all = written(&in_flight);
        in_flight.advance(10 + 40);
        assert_eq!(written(&in_flight), all[50..]);
        in_flight.advance(60);
        assert_eq!(in_flight.len(), 1000);
        assert_eq!(written(&in_flight), all[110..]);
        in_flight.advance(1000);
        assert_eq!(in_flight.len(), 0);
        assert!(in_flight.first.is_empty());
        assert_eq!(in_flight.rest.capacity(), 0, "nothing kept once written");
    }

    #[test]
    fn pieces_stop_at_the_byte_budget_and_the_slice_count() {
        let mut in_flight = InFlight::default();
        in_flight.fill(pieces(&[64 << 10; 8]));
        assert_eq!(in_flight.len(), InFlight::TAKE_BELOW, "four 64 KiB pieces");
        let mut in_flight = InFlight::default();
        in_flight.fill(pieces(&[1; 100]));
        assert_eq!(in_flight.rest.len() + 1, InFlight::MAX_PIECES);
    }
}
