//! The blocking adapter: a [`WebSocket`] over any [`Read`] + [`Write`]
//! stream, such as a [`TcpStream`].
//!
//! See [`WebSocket`] for the calls and what each one does.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::handshake::{Accept, ClientRequest, Reject, UpgradeRequest};
use crate::time::Timestamp;
use crate::{CloseCode, CloseFrame, Config, Connection, Message, Role, State};

use super::{
    Acceptor, Connector, DEFAULT_HIGH_WATER, DEFAULT_READ_BUFFER, Error, Step, accept_all, open,
    step, transport_failed,
};

mod prepared;

/// A WebSocket over a blocking stream.
///
/// # Calls
///
/// - [`read`](Self::read) gives the next message, or `Ok(None)` once the
///   close handshake is over ([`peer_close`](Self::peer_close) then says
///   what the peer sent).
/// - [`write`](Self::write) only queues a message; [`flush`](Self::flush)
///   writes what is queued; [`send`](Self::send) does both.
/// - [`close`](Self::close) sends a close frame; keep calling `read` until
///   it gives `Ok(None)`: the peer's messages sent before its close still
///   arrive.
///
/// # Policy
///
/// - **Pings and the peer's close are answered on any call**, `read`
///   included: a program that only reads still answers pings. The answers
///   are control frames and go out at the next frame boundary, never behind
///   a long message.
/// - **`read` writes what is queued when the bytes it read run out**,
///   before it reads again: answers, and messages [`write`](Self::write)
///   queued. An echo loop that `write`s each message it reads thus sends the
///   echoes of one read in a single write, with no `flush` of its own.
/// - **`WouldBlock` and read timeouts lose nothing.** On a non-blocking
///   stream, or one with a read or write timeout, a call may fail with
///   [`Error::Io`] of kind `WouldBlock` or `TimedOut`
///   ([`Error::is_would_block`]); every byte read or still to write is kept
///   by the connection, and the same call made again later goes on where it
///   stopped. The opening handshake (`accept`, `connect`) wants a blocking
///   stream.
/// - **Memory**: reads go through a buffer of 8 KiB
///   ([`DEFAULT_READ_BUFFER`]), allocated on the first read and resized with
///   [`set_read_buffer_size`](Self::set_read_buffer_size). A read that fills
///   it means more is waiting: the buffer grows to 64 KiB while the traffic
///   stays heavy (a 64 KiB message in one read, not eight), and is back to
///   its size after eight short reads in a row. The connection holds at
///   most one incoming frame and whatever is queued to send.
/// - A server should drop the stream once `read` gave `Ok(None)`: RFC 6455
///   section 7.1.1 has the server close the TCP connection first.
/// - **Timers run inside `read`.** With a keepalive, idle or close timeout in
///   the [`Config`], `read` gives the stream a read timeout that ends at the
///   connection's next deadline ([`Connection::poll_timeout`]), sends the
///   keepalive ping when it is due, and returns
///   [`ProtocolError::IdleTimeout`](crate::ProtocolError::IdleTimeout) (or
///   `CloseTimeout`) as [`Error::Protocol`] when the peer went silent; the
///   next `read` gives `Ok(None)`. A `read` called after a deadline passed
///   (the caller was busy) first takes the bytes waiting in the stream: a
///   peer that sent them is not idle. While timers run, the adapter owns the
///   stream's read timeout; with no timer it leaves it alone. The opening
///   handshake gives up after [`Config::handshake_timeout`] with
///   [`Error::HandshakeTimeout`]. This is why the stream must be
///   [`ReadTimeout`].
///
/// # Example
///
/// ```
/// use std::net::TcpListener;
/// use rfc6455::Message;
/// use rfc6455::io::blocking::WebSocket;
///
/// let listener = TcpListener::bind("127.0.0.1:0")?;
/// let url = format!("ws://{}/", listener.local_addr()?);
/// let server = std::thread::spawn(move || -> Result<(), rfc6455::io::Error> {
///     let (stream, _) = listener.accept()?;
///     let mut ws = WebSocket::accept(stream)?;
///     while let Some(message) = ws.read()? {
///         ws.write(message)?; // echo: written by the next read
///     }
///     Ok(())
/// });
///
/// let mut ws = WebSocket::connect(&url)?;
/// ws.send(Message::text("hello"))?;
/// assert_eq!(ws.read()?, Some(Message::text("hello")));
/// ws.close(rfc6455::CloseCode::Normal, "done")?;
/// assert_eq!(ws.read()?, None); // the server answered the close
/// server.join().unwrap()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct WebSocket<S> {
    stream: S,
    connection: Connection,
    buf: Vec<u8>,
    read_buffer_size: usize,
    /// Reads in a row that came back shorter than `read_buffer_size` while
    /// `buf` is the larger [`BUSY_READ`]; at [`QUIET_READS`] it shrinks.
    short_reads: u8,
    peer_close: Option<CloseFrame>,
    /// The stream's read timeout was set by `read` for a deadline.
    timeout_set: bool,
    /// Queued bytes from which [`WebSocket::try_write_prepared`] refuses.
    high_water: usize,
}

/// The size of a read while the traffic is heavy: a read that filled the
/// buffer of [`DEFAULT_READ_BUFFER`] (or the size set) is followed by reads
/// of this much.
const BUSY_READ: usize = 64 << 10;

/// Short reads in a row after which a busy connection reads in the
/// configured size again (and frees the larger buffer). A busy echo of
/// single messages reads one short tail per message, so it stays busy.
const QUIET_READS: u8 = 8;

/// A stream whose reads can be bounded in time, so that a blocked
/// [`WebSocket::read`] wakes up for the connection's timers and the opening
/// handshake can give up on a slow peer.
///
/// Implemented for [`TcpStream`], Unix sockets, and references and boxes of
/// such streams. For a stream that wraps a socket (a TLS session), pass the
/// call on to the socket; a stream that never blocks (an in-memory buffer)
/// can do nothing and return `Ok(())`.
///
/// ```
/// use std::io::{self, Read, Write};
/// use std::net::TcpStream;
/// use std::time::Duration;
/// use rfc6455::io::blocking::ReadTimeout;
///
/// /// A stream that counts the bytes read from a socket.
/// struct Counted {
///     socket: TcpStream,
///     read: u64,
/// }
///
/// impl ReadTimeout for Counted {
///     fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
///         self.socket.set_read_timeout(timeout)
///     }
/// }
/// # impl Read for Counted {
/// #     fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
/// #         let n = self.socket.read(buf)?;
/// #         self.read += n as u64;
/// #         Ok(n)
/// #     }
/// # }
/// # impl Write for Counted {
/// #     fn write(&mut self, buf: &[u8]) -> io::Result<usize> { self.socket.write(buf) }
/// #     fn flush(&mut self) -> io::Result<()> { self.socket.flush() }
/// # }
/// ```
pub trait ReadTimeout {
    /// Makes each later read fail with `WouldBlock` or `TimedOut` when no
    /// byte arrived for `timeout` (never zero); `None` waits forever, as
    /// [`TcpStream::set_read_timeout`] does.
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()>;
}

impl ReadTimeout for TcpStream {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        TcpStream::set_read_timeout(self, timeout)
    }
}

impl ReadTimeout for &TcpStream {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        TcpStream::set_read_timeout(self, timeout)
    }
}

#[cfg(unix)]
impl ReadTimeout for std::os::unix::net::UnixStream {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        std::os::unix::net::UnixStream::set_read_timeout(self, timeout)
    }
}

impl<T: ReadTimeout + ?Sized> ReadTimeout for &mut T {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        (**self).set_read_timeout(timeout)
    }
}

impl<T: ReadTimeout + ?Sized> ReadTimeout for Box<T> {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        (**self).set_read_timeout(timeout)
    }
}

/// How early a read timeout may end before the deadline it was set for and
/// still count as that deadline (timer granularity).
const TIMER_SLACK: Duration = Duration::from_millis(2);

impl WebSocket<TcpStream> {
    /// Connects to a `ws://` URL and runs the client handshake, with the
    /// default [`Config`].
    pub fn connect(url: &str) -> Result<Self, Error> {
        Self::connect_with(ClientRequest::new(url)?, Config::default())
    }

    /// Connects for `request` (its URL, protocols and headers) and runs the
    /// client handshake. `TCP_NODELAY` is set: frames are written whole.
    pub fn connect_with(request: ClientRequest, config: Config) -> Result<Self, Error> {
        let stream = TcpStream::connect((request.host(), request.port()))?;
        stream.set_nodelay(true)?;
        Self::client(stream, request, config)
    }
}

impl<S: Read + Write + ReadTimeout> WebSocket<S> {
    /// Runs the server handshake on `stream` and accepts any WebSocket
    /// request. A request that breaks a rule gets its HTTP error, and a plain
    /// HTTP request gets 426; both are returned as errors.
    pub fn accept(stream: S) -> Result<Self, Error> {
        Self::accept_with_config(stream, Config::default(), accept_all)
    }

    /// Runs the server handshake and lets `callback` decide: it sees the
    /// request (path, query, headers, offered protocols) and returns the
    /// [`Accept`] to answer with, or a [`Reject`] with any HTTP status, which
    /// is sent and returned as [`Error::Rejected`].
    ///
    /// ```
    /// use std::net::TcpListener;
    /// use rfc6455::handshake::{Accept, HandshakeError, Reject};
    /// use rfc6455::io::{Error, blocking::WebSocket};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let url = format!("ws://{}/private", listener.local_addr()?);
    /// let server = std::thread::spawn(move || {
    ///     let (stream, _) = listener.accept().unwrap();
    ///     WebSocket::accept_with(stream, |request| {
    ///         if request.header("Authorization").is_some() {
    ///             Ok(Accept::new())
    ///         } else {
    ///             Err(Reject::new(401).header("WWW-Authenticate", "Bearer"))
    ///         }
    ///     })
    ///     .map(|_| ())
    /// });
    ///
    /// let refused = WebSocket::connect(&url).unwrap_err();
    /// assert!(matches!(refused, Error::Handshake(HandshakeError::UnexpectedStatus(401))));
    /// assert!(matches!(server.join().unwrap(), Err(Error::Rejected(401))));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn accept_with<F>(stream: S, callback: F) -> Result<Self, Error>
    where
        F: FnOnce(&UpgradeRequest) -> Result<Accept, Reject>,
    {
        Self::accept_with_config(stream, Config::default(), callback)
    }

    /// [`accept_with`](Self::accept_with) with a [`Config`].
    pub fn accept_with_config<F>(mut stream: S, config: Config, callback: F) -> Result<Self, Error>
    where
        F: FnOnce(&UpgradeRequest) -> Result<Accept, Reject>,
    {
        let mut acceptor = Acceptor::new(config, callback);
        let mut buf = [0u8; 4096];
        let deadline = handshake_deadline(&config);
        loop {
            let n = read_before(&mut stream, &mut buf, deadline)?;
            if n == 0 {
                return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into());
            }
            if let Some(answer) = acceptor.receive(&buf[..n]) {
                if deadline.is_some() {
                    stream.set_read_timeout(None)?;
                }
                stream.write_all(&answer.bytes)?;
                stream.flush()?;
                answer.outcome?;
                return Ok(Self::with_connection(stream, acceptor.open()));
            }
        }
    }

    /// Runs the client handshake for `request` over a stream already
    /// connected to [`ClientRequest::host`] (a TCP stream, or a TLS session
    /// inside one for `wss://`). A refusal is
    /// [`HandshakeError::UnexpectedStatus`](crate::handshake::HandshakeError::UnexpectedStatus).
    pub fn client(mut stream: S, request: ClientRequest, config: Config) -> Result<Self, Error> {
        let mut connector = Connector::new(request, config)?;
        let deadline = handshake_deadline(&config);
        stream.write_all(connector.request_bytes())?;
        stream.flush()?;
        let mut buf = [0u8; 4096];
        loop {
            let n = read_before(&mut stream, &mut buf, deadline)?;
            if n == 0 {
                return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into());
            }
            if let Some(connection) = connector.receive(&buf[..n])? {
                if deadline.is_some() {
                    stream.set_read_timeout(None)?;
                }
                return Ok(Self::with_connection(stream, connection));
            }
        }
    }

    /// Wraps a stream whose opening handshake is already done; `leftover` is
    /// what was read after the handshake (the peer's first frames).
    pub fn from_raw(stream: S, role: Role, leftover: &[u8], config: Config) -> Self {
        Self::with_connection(stream, open(role, config, Default::default(), leftover))
    }

    /// Wraps a stream and a [`Connection`] built by hand after a handshake
    /// done elsewhere: for instance with
    /// `Connection::with_deflate` (feature `deflate`) when you negotiated
    /// permessage-deflate yourself. Give the connection the bytes read after
    /// the handshake first. Its timers start now, if no time was given to
    /// it before.
    pub fn from_connection(stream: S, mut connection: Connection) -> Self {
        connection.handle_timeout(Instant::now());
        Self::with_connection(stream, connection)
    }

    fn with_connection(stream: S, connection: Connection) -> Self {
        WebSocket {
            stream,
            connection,
            buf: Vec::new(),
            read_buffer_size: DEFAULT_READ_BUFFER,
            short_reads: 0,
            peer_close: None,
            timeout_set: false,
            high_water: DEFAULT_HIGH_WATER,
        }
    }

    /// The next message; `Ok(None)` once the close handshake is over, the
    /// peer's close frame being in [`peer_close`](Self::peer_close).
    ///
    /// Writes the pending answers (pongs, close) first. A protocol error of
    /// the peer is returned once, as [`Error::Protocol`]; the next call sends
    /// its close frame and gives `Ok(None)`. With timers in the [`Config`],
    /// the wait for bytes ends at the next deadline, which is acted on (a
    /// keepalive ping is sent, or the idle or close timeout ends the
    /// connection with [`Error::Protocol`]).
    pub fn read(&mut self) -> Result<Option<Message>, Error> {
        loop {
            match step(self.connection.poll_event(), &mut self.peer_close) {
                Step::Yield(message) => return message.map(Some),
                Step::Again => continue,
                Step::Idle => {}
            }
            if self.connection.state() == State::Closed {
                self.write_queued()?;
                if self.connection.is_done() {
                    return Ok(None);
                }
                continue;
            }
            // The timers: the read waits no longer than the next deadline.
            // One already reached is acted on only after a read finds
            // nothing waiting: bytes that arrived while the caller was away
            // count first, since a peer that sent them is not idle.
            let now = Instant::now();
            let deadline = self.connection.poll_timeout();
            // The bytes read are used up: before reading more, write what
            // is queued (answers, and messages written but not flushed),
            // so that the echoes of one read go out in one write and
            // answers go out even when reading is all the caller does. A
            // stream that cannot take them now gets them on a later call.
            match self.write_queued() {
                Err(e) if is_would_block(&e) => {}
                other => other?,
            }
            self.arm(deadline.map(|deadline| deadline.saturating_duration_since(now)))?;
            if self.buf.len() != self.read_size() {
                self.buf = vec![0; self.read_size()];
            }
            match self.stream.read(&mut self.buf) {
                Ok(0) => self.connection.receive_eof(),
                Ok(n) => {
                    self.connection.receive_at(&self.buf[..n], Instant::now());
                    self.follow_traffic(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // Our own read timeout: act on the deadline. A non-blocking
                // stream's `WouldBlock` before it goes to the caller.
                Err(e)
                    if is_would_block(&e)
                        && deadline.is_some_and(|d| Instant::now() + TIMER_SLACK >= d) =>
                {
                    self.connection.handle_timeout(Instant::now());
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Queues a message; nothing is written until [`flush`](Self::flush)
    /// (or any other call that writes).
    pub fn write(&mut self, message: Message) -> Result<(), Error> {
        Ok(self.connection.send(message)?)
    }

    /// Writes every queued byte and flushes the stream.
    pub fn flush(&mut self) -> Result<(), Error> {
        Ok(self.write_queued()?)
    }

    /// Queues a message and writes it: [`write`](Self::write) then
    /// [`flush`](Self::flush).
    pub fn send(&mut self, message: Message) -> Result<(), Error> {
        self.write(message)?;
        self.flush()
    }

    /// Sets the high-water mark of the send queue, in bytes, from which
    /// [`try_write_prepared`](Self::try_write_prepared) refuses. Default
    /// [`DEFAULT_HIGH_WATER`], 128 KiB.
    pub fn set_high_water_mark(&mut self, bytes: usize) {
        self.high_water = bytes;
    }

    /// The high-water mark of the send queue, in bytes.
    pub fn high_water_mark(&self) -> usize {
        self.high_water
    }

    /// Sends a ping with a payload of at most 125 bytes. Its pong is not
    /// reported: [`read`](Self::read) gives messages only.
    pub fn ping(&mut self, payload: &[u8]) -> Result<(), Error> {
        self.connection.ping(payload)?;
        self.flush()
    }

    /// Starts the close handshake: the close frame goes after the messages
    /// already queued. Then call [`read`](Self::read) until it gives
    /// `Ok(None)`.
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        self.connection.close(code, reason)?;
        self.flush()
    }

    /// The peer's close frame, once it arrived (`None` also when it carried
    /// no status code).
    pub fn peer_close(&self) -> Option<&CloseFrame> {
        self.peer_close.as_ref()
    }

    /// The sans-IO connection inside, for its state and counters.
    pub fn connection(&self) -> &Connection {
        &self.connection
    }

    /// Sets how many bytes one read asks the stream for (at least 1) while
    /// the traffic is light; a read that fills the buffer makes the next
    /// ones larger, up to 64 KiB, until reads come back short again.
    pub fn set_read_buffer_size(&mut self, bytes: usize) {
        self.read_buffer_size = bytes.max(1);
    }

    /// The size of the next read: [`BUSY_READ`] from a read that filled
    /// the buffer on, the configured size otherwise.
    fn read_size(&self) -> usize {
        if self.buf.len() >= BUSY_READ && self.short_reads < QUIET_READS {
            self.buf.len()
        } else {
            self.read_buffer_size
        }
    }

    /// Follows the traffic after a read of `n` bytes: one that filled the
    /// buffer says more was waiting, so the next reads take up to
    /// [`BUSY_READ`] at once (a 64 KiB message in one read, not eight);
    /// [`QUIET_READS`] short reads in a row bring the buffer back to the
    /// configured size, the memory a quiet connection holds.
    fn follow_traffic(&mut self, n: usize) {
        if n == self.buf.len() && n < BUSY_READ {
            self.buf = vec![0; BUSY_READ];
            self.short_reads = 0;
        } else if n < self.read_buffer_size {
            self.short_reads = self.short_reads.saturating_add(1);
        } else {
            self.short_reads = 0;
        }
    }

    /// The stream.
    pub fn get_ref(&self) -> &S {
        &self.stream
    }

    /// The stream, to set timeouts or non-blocking mode. Reading or writing
    /// it directly breaks the framing.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.stream
    }

    /// The stream and the connection, to go on by hand.
    pub fn into_parts(self) -> (S, Connection) {
        (self.stream, self.connection)
    }

    /// Writes what the connection queued, piece by piece (so control frames
    /// overtake at frame boundaries), then flushes the stream if anything was
    /// written.
    fn write_queued(&mut self) -> io::Result<()> {
        let result = self.write_pieces();
        if let Err(e) = &result
            && !is_would_block(e)
        {
            transport_failed(&mut self.connection);
        }
        result
    }

    /// Bounds the next read by `timeout`, or lifts the bound this adapter
    /// set once no timer runs.
    fn arm(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        match timeout {
            Some(timeout) => {
                // Zero means "forever" to some streams and is an error to
                // others: wait at least a millisecond.
                let timeout = timeout.max(Duration::from_millis(1));
                self.stream.set_read_timeout(Some(timeout))?;
                self.timeout_set = true;
            }
            None if self.timeout_set => {
                self.stream.set_read_timeout(None)?;
                self.timeout_set = false;
            }
            None => {}
        }
        Ok(())
    }

    fn write_pieces(&mut self) -> io::Result<()> {
        let mut wrote = false;
        loop {
            // Every queued byte in one vectored write: a header and the
            // payload sent from its own buffer go out together, so that
            // Nagle's algorithm never holds back a payload behind a small
            // write.
            let mut slices = [io::IoSlice::new(&[]); 16];
            let transmit = self.connection.transmit();
            if transmit.is_empty() {
                break;
            }
            let written = self.stream.write_vectored(transmit.io_slices(&mut slices));
            match written {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.connection.advance_transmit(n);
                    wrote = true;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if wrote {
            self.stream.flush()?;
        }
        Ok(())
    }
}

fn handshake_deadline(config: &Config) -> Option<Instant> {
    config
        .handshake_timeout
        .map(|timeout| Timestamp::saturating_add(Instant::now(), timeout))
}

/// Reads some bytes of the opening handshake, giving up at `deadline`.
fn read_before<S: Read + ReadTimeout>(
    stream: &mut S,
    buf: &mut [u8],
    deadline: Option<Instant>,
) -> Result<usize, Error> {
    loop {
        if let Some(deadline) = deadline {
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::HandshakeTimeout);
            }
            stream.set_read_timeout(Some((deadline - now).max(Duration::from_millis(1))))?;
        }
        match stream.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if deadline.is_some() && is_would_block(&e) => {}
            other => return Ok(other?),
        }
    }
}

fn is_would_block(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}
