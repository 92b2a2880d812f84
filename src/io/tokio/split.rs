//! Owned halves of a [`WebSocketStream`], for a reader and a writer in
//! different tasks.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Wake, Waker, ready};

use ::tokio::io::{AsyncRead, AsyncWrite};
use futures_core::Stream;
use futures_sink::Sink;

use crate::{CloseCode, CloseFrame, Connection, Message, PreparedMessage, State};

use super::super::{Step, TryFeedError, step, transport_failed};
use super::{
    Error, InFlight, READ_CHUNK, Timer, WebSocketStream, act_on_deadline, deadline_or_bytes, feed,
    is_expiry, poll_read_once, poll_write_pieces,
};

type IoRead<S> = ::tokio::io::ReadHalf<S>;
type IoWrite<S> = ::tokio::io::WriteHalf<S>;

/// The receiving half of a split [`WebSocketStream`]: a `Stream` of
/// messages, also [`recv`](Self::recv).
///
/// # What the halves guarantee, and how
///
/// The two halves share the sans-IO [`Connection`] behind a mutex that is
/// held only while bytes are handed to it or taken from it, **never across
/// a read, a write or an `.await`**. The read direction of the stream
/// belongs to the `ReadHalf` alone. The write direction is a baton: the half
/// that needs to write takes it with an atomic swap that never waits, makes
/// its non-blocking write calls, and puts it back.
///
/// - **No lock across I/O; neither half waits for the other.** If the baton
///   is taken, the half returns `Pending` at once and is woken when the other
///   half puts it back, which happens at the end of that half's poll (one
///   non-blocking write call at most), not at the end of its message. The
///   reader never waits for the writer's queue, nor the writer for a read.
/// - **Pings are answered by the reader.** When a ping or the peer's close
///   arrives, the core queues the answer as a control frame, and the
///   `ReadHalf` writes it itself in the same poll (with the rest of the frame
///   being written, if the writer stopped mid-frame): an application that
///   only reads, and never touches its `WriteHalf`, still answers. While
///   more than 4 KiB of control frames wait, a new pong replaces the last
///   one, as RFC 6455 section 5.5.3 allows: a ping flood cannot grow memory.
/// - **The timers run in the reader** (keepalive pings, idle and close
///   timeouts of the [`Config`](crate::Config)): its one `Sleep` wakes it,
///   and the ping goes out like a pong.
/// - **A blocked writer does not stop the reader.** A writer stuck on a full
///   stream holds no lock and no baton between polls; the reader goes on
///   receiving messages and the peer's close, and its answers go out at the
///   next frame boundary of the writer's message as soon as the stream
///   takes bytes.
/// - **No waker is lost.** A stream keeps one waker per direction, so both
///   halves write with the same waker, which wakes whichever of them is
///   waiting to write; each half registers its own task there before trying.
///   The tokio-websockets#92 and async-tungstenite#164 kind of bug, a second
///   task overwriting the first one's waker, cannot happen.
/// - **The reader ends after the close handshake**, once the close frame
///   that answers the peer's is written; the writer's data frames not
///   started by then are dropped (RFC 6455 section 5.5.1).
/// - **An application that only writes must still let something read**: a
///   peer's pings and close arrive on the read direction. Hand the reader to
///   a task that drains it, in one line:
///   `tokio::spawn(read_half.drain());`. Without it, pings pile up unread
///   and the peer times out (the trap of tokio-tungstenite#88).
///
/// The stream itself is split with `tokio::io::split`, which serialises the
/// two halves' individual read and write calls on a short lock of its own
/// (never held across an `.await`).
///
/// # Example
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use rfc6455::Message;
/// use rfc6455::io::tokio::WebSocketStream;
/// use tokio::net::TcpListener;
///
/// let listener = TcpListener::bind("127.0.0.1:0").await?;
/// let url = format!("ws://{}/", listener.local_addr()?);
/// let server = tokio::spawn(async move {
///     let (stream, _) = listener.accept().await?;
///     let (mut read, mut write) = WebSocketStream::accept(stream).await?.into_split();
///     // Echo from a second task: the halves do not wait for each other.
///     // `feed` queues; one flush once the channel is empty writes what the
///     // queue holds in one system call, where `send` would write each.
///     let (tx, mut rx) = tokio::sync::mpsc::channel(16);
///     let writer = tokio::spawn(async move {
///         while let Some(message) = rx.recv().await {
///             write.feed(message).await?;
///             if rx.is_empty() {
///                 write.flush().await?;
///             }
///         }
///         Ok::<_, rfc6455::io::Error>(())
///     });
///     while let Some(message) = read.recv().await {
///         tx.send(message?).await.unwrap();
///     }
///     drop(tx);
///     writer.await.unwrap()
/// });
///
/// let mut ws = WebSocketStream::connect(&url).await?;
/// ws.send(Message::text("hello")).await?;
/// assert_eq!(ws.recv().await.transpose()?, Some(Message::text("hello")));
/// ws.close(rfc6455::CloseCode::Normal, "").await?;
/// assert!(ws.recv().await.is_none());
/// server.await??;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct ReadHalf<S> {
    io: IoRead<S>,
    shared: Arc<Shared<S>>,
    peer_close: Option<CloseFrame>,
    /// The connection's timers run in the reader, which is always polled.
    timer: Timer,
}

/// The sending half of a split [`WebSocketStream`]: a `Sink` of messages,
/// also [`send`](Self::send), [`feed`](Self::feed), [`flush`](Self::flush)
/// and [`close`](Self::close), with the same semantics as the whole
/// stream's. See [`ReadHalf`] for what the halves guarantee.
#[derive(Debug)]
pub struct WriteHalf<S> {
    shared: Arc<Shared<S>>,
    high_water: usize,
}

#[derive(Debug)]
struct Shared<S> {
    /// Locked only to hand bytes in or take them out.
    connection: Mutex<Connection>,
    /// The write direction. Only the holder of `busy` locks it, so the lock
    /// is never contended.
    writer: Mutex<Writer<S>>,
    /// The baton: whoever swaps it from false to true writes.
    busy: AtomicBool,
    /// A half that found the baton taken, and must be woken when it is free.
    want: [AtomicBool; 2],
    /// The reader gave up on the peer (a timer): nothing more is written.
    abandoned: AtomicBool,
    wakers: Arc<Wakers>,
}

#[derive(Debug)]
struct Writer<S> {
    io: IoWrite<S>,
    in_flight: InFlight,
    unflushed: bool,
}

#[derive(Clone, Copy)]
enum Side {
    Reader = 0,
    Writer = 1,
}

/// The wakers of the two halves; the stream's write direction gets one
/// waker that wakes both.
#[derive(Debug, Default)]
struct Wakers {
    slots: [Mutex<Option<Waker>>; 2],
}

impl Wakers {
    fn register(&self, side: Side, waker: &Waker) {
        let mut slot = lock(&self.slots[side as usize]);
        if !slot.as_ref().is_some_and(|w| w.will_wake(waker)) {
            *slot = Some(waker.clone());
        }
    }

    fn wake_side(&self, side: Side) {
        if let Some(waker) = lock(&self.slots[side as usize]).take() {
            waker.wake();
        }
    }
}

impl Wake for Wakers {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.wake_side(Side::Reader);
        self.wake_side(Side::Writer);
    }
}

/// A poisoned lock only means another half panicked while holding it; the
/// connection's state is still consistent (no I/O happens under the lock).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub(super) fn split<S: AsyncRead + AsyncWrite>(
    ws: WebSocketStream<S>,
) -> (ReadHalf<S>, WriteHalf<S>) {
    let (read, write) = ::tokio::io::split(ws.io);
    let shared = Arc::new(Shared {
        connection: Mutex::new(ws.connection),
        writer: Mutex::new(Writer {
            io: write,
            in_flight: ws.in_flight,
            unflushed: ws.unflushed,
        }),
        busy: AtomicBool::new(false),
        want: [AtomicBool::new(false), AtomicBool::new(false)],
        abandoned: AtomicBool::new(false),
        wakers: Arc::default(),
    });
    let read = ReadHalf {
        io: read,
        shared: shared.clone(),
        peer_close: ws.peer_close,
        timer: ws.timer,
    };
    let write = WriteHalf {
        shared,
        high_water: ws.high_water,
    };
    (read, write)
}

impl<S> Shared<S> {
    /// The writer started the close: the close timeout now runs, and the
    /// reader, which runs the timers, must arm its `Sleep` for it.
    fn close_timer_moved(&self) {
        self.wakers.wake_side(Side::Reader);
    }

    /// A timer says the peer takes nothing more: the next holder of the
    /// baton drops what is left to write, and a writer waiting for room
    /// is woken to learn it.
    fn abandon(&self) {
        self.abandoned.store(true, SeqCst);
        self.wakers.wake_side(Side::Writer);
    }
}

impl<S: AsyncWrite> Shared<S> {
    /// Writes for `side`: every queued byte with `all`, else only what must
    /// go now (the piece being written and the control frames). `Pending`
    /// if the stream is full, or if the other half holds the baton.
    fn poll_write(&self, side: Side, cx: &mut Context<'_>, all: bool) -> Poll<io::Result<()>> {
        self.wakers.register(side, cx.waker());
        // Say we want the baton before trying: the holder checks after
        // letting go, so one of the two always sees the other.
        self.want[side as usize].store(true, SeqCst);
        if self.busy.swap(true, SeqCst) {
            return Poll::Pending;
        }
        self.want[side as usize].store(false, SeqCst);
        let result = {
            let mut guard = lock(&self.writer);
            if self.abandoned.load(SeqCst) {
                guard.in_flight = InFlight::default();
                let _ = lock(&self.connection).take_transmit();
                drop(guard);
                let gone = "the peer took nothing more within the connection's timeouts";
                let error = io::Error::new(io::ErrorKind::ConnectionAborted, gone);
                return self.put_back(side, Poll::Ready(Err(error)));
            }
            let writer = &mut *guard;
            let waker = Waker::from(self.wakers.clone());
            let mut both = Context::from_waker(&waker);
            let result = poll_write_pieces(
                Pin::new(&mut writer.io),
                &mut both,
                &mut writer.in_flight,
                &mut writer.unflushed,
                || {
                    let mut connection = lock(&self.connection);
                    (all || connection.queued_control() > 0)
                        .then(|| connection.poll_transmit())
                        .flatten()
                },
            );
            if let Poll::Ready(Err(_)) = result {
                writer.in_flight = InFlight::default();
                transport_failed(&mut lock(&self.connection));
            }
            result
        };
        // The connection is over: the reader, perhaps waiting for bytes that
        // will never come, must wake to report it.
        if let Poll::Ready(Err(_)) = result {
            self.wakers.wake_side(Side::Reader);
        }
        self.put_back(side, result)
    }

    /// Lets go of the baton, waking the other half if it wanted it.
    fn put_back<T>(&self, side: Side, result: Poll<T>) -> Poll<T> {
        self.busy.store(false, SeqCst);
        let other = match side {
            Side::Reader => Side::Writer,
            Side::Writer => Side::Reader,
        };
        if self.want[other as usize].swap(false, SeqCst) {
            self.wakers.wake_side(other);
        }
        result
    }
}

impl<S: AsyncRead + AsyncWrite> ReadHalf<S> {
    /// The next message, or `None` after the close handshake. Cancel-safe.
    pub async fn recv(&mut self) -> Option<Result<Message, Error>>
    where
        S: Unpin,
    {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }

    /// Reads and drops every message until the connection ends, answering
    /// pings and the close meanwhile; gives the peer's close frame. For an
    /// application that only writes: `tokio::spawn(read_half.drain())`.
    pub async fn drain(mut self) -> Result<Option<CloseFrame>, Error>
    where
        S: Unpin,
    {
        while let Some(message) = self.recv().await {
            message?;
        }
        Ok(self.peer_close)
    }

    /// The peer's close frame, once it arrived.
    pub fn peer_close(&self) -> Option<&CloseFrame> {
        self.peer_close.as_ref()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Stream for ReadHalf<S> {
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let shared = &*this.shared;
        loop {
            let (event, state) = {
                let mut connection = lock(&shared.connection);
                (connection.poll_event(), connection.state())
            };
            match step(event, &mut this.peer_close) {
                Step::Yield(Err(error)) if is_expiry(&error) => {
                    shared.abandon();
                    return Poll::Ready(Some(Err(error)));
                }
                Step::Yield(message) => return Poll::Ready(Some(message)),
                Step::Again => continue,
                Step::Idle => {}
            }
            if state == State::Closed {
                // The last close goes out first, given the close timeout
                // by a peer that takes nothing (as on the whole stream).
                if shared.abandoned.load(SeqCst) {
                    return Poll::Ready(None);
                }
                match shared.poll_write(Side::Reader, cx, false) {
                    Poll::Ready(Err(e)) => return Poll::Ready(Some(Err(e.into()))),
                    Poll::Ready(Ok(())) => return Poll::Ready(None),
                    Poll::Pending => {
                        let limit = lock(&shared.connection).config().close_timeout;
                        ready!(this.timer.poll_linger(limit, cx));
                        shared.abandon();
                        return Poll::Ready(None);
                    }
                }
            }
            if this
                .timer
                .poll_due(&lock(&shared.connection), cx)
                .is_ready()
            {
                // The lock only around the connection's part, not the read.
                let act = |bytes: Option<&[u8]>| {
                    deadline_or_bytes(&mut lock(&shared.connection), bytes);
                };
                if let Err(e) = ready!(act_on_deadline(Pin::new(&mut this.io), cx, act)) {
                    return Poll::Ready(Some(Err(e.into())));
                }
                continue;
            }
            // The bytes read are used up. Answers (pongs, close) go out from
            // here, before the next read, so that a reader alone answers;
            // `Pending` only means the stream or the baton is busy.
            if let Poll::Ready(Err(e)) = shared.poll_write(Side::Reader, cx, false) {
                return Poll::Ready(Some(Err(e.into())));
            }
            if let Err(e) = ready!(poll_read_once(
                Pin::new(&mut this.io),
                cx,
                READ_CHUNK,
                |bytes| { feed(&mut lock(&shared.connection), bytes) }
            )) {
                return Poll::Ready(Some(Err(e.into())));
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite> WriteHalf<S> {
    /// Queues a message, first waiting while the queue is above the
    /// high-water mark.
    pub async fn feed(&mut self, message: Message) -> Result<(), Error> {
        std::future::poll_fn(|cx| self.poll_ready_inner(cx)).await?;
        self.start_send_inner(message)
    }

    /// Writes every queued byte and flushes the stream.
    pub async fn flush(&mut self) -> Result<(), Error> {
        std::future::poll_fn(|cx| self.poll_flush_inner(cx)).await
    }

    /// [`feed`](Self::feed) then [`flush`](Self::flush).
    pub async fn send(&mut self, message: Message) -> Result<(), Error> {
        self.feed(message).await?;
        self.flush().await
    }

    /// Queues a [`PreparedMessage`] (its frames by handle, not copied),
    /// first waiting while the queue is above the high-water mark; see
    /// [`WebSocketStream::feed_prepared`].
    pub async fn feed_prepared(&mut self, message: &PreparedMessage) -> Result<(), Error> {
        // Below the mark (a broadcaster's usual case), one lock both checks
        // and queues.
        {
            let mut connection = lock(&self.shared.connection);
            if connection.buffered_amount() < self.high_water {
                return Ok(connection.send_prepared(message)?);
            }
        }
        std::future::poll_fn(|cx| self.poll_ready_inner(cx)).await?;
        Ok(lock(&self.shared.connection).send_prepared(message)?)
    }

    /// [`feed_prepared`](Self::feed_prepared) then [`flush`](Self::flush).
    pub async fn send_prepared(&mut self, message: &PreparedMessage) -> Result<(), Error> {
        self.feed_prepared(message).await?;
        self.flush().await
    }

    /// Offers a [`PreparedMessage`] without waiting: queues it unless the
    /// high-water mark or more is queued, and then refuses it with
    /// [`TryFeedError::Backpressure`], queueing nothing. Nothing is written
    /// here: [`flush`](Self::flush) writes. See
    /// [`WebSocketStream::try_feed_prepared`] for what to do on
    /// backpressure.
    pub fn try_feed_prepared(&mut self, message: &PreparedMessage) -> Result<(), TryFeedError> {
        let mut connection = lock(&self.shared.connection);
        let buffered = connection.buffered_amount();
        if buffered >= self.high_water {
            return Err(TryFeedError::Backpressure {
                buffered,
                high_water: self.high_water,
            });
        }
        Ok(connection.send_prepared(message)?)
    }

    /// Sends a ping of at most 125 bytes, ahead of queued data frames.
    pub async fn ping(&mut self, payload: &[u8]) -> Result<(), Error> {
        lock(&self.shared.connection).ping(payload)?;
        self.flush().await
    }

    /// Starts the close handshake, after the messages already queued; the
    /// [`ReadHalf`] ends when the peer's close arrives.
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        lock(&self.shared.connection).close(code, reason)?;
        self.shared.close_timer_moved();
        self.flush().await
    }

    /// Sets the high-water mark of the send queue, in bytes (default
    /// [`DEFAULT_HIGH_WATER`](crate::io::DEFAULT_HIGH_WATER), 128 KiB, or
    /// the whole stream's mark when split).
    pub fn set_high_water_mark(&mut self, bytes: usize) {
        self.high_water = bytes;
    }

    /// The high-water mark of the send queue, in bytes.
    pub fn high_water_mark(&self) -> usize {
        self.high_water
    }

    /// Bytes queued in the connection and not yet taken to be written.
    pub fn buffered_amount(&self) -> usize {
        lock(&self.shared.connection).buffered_amount()
    }

    fn poll_ready_inner(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        if lock(&self.shared.connection).buffered_amount() < self.high_water {
            return Poll::Ready(Ok(()));
        }
        ready!(self.shared.poll_write(Side::Writer, cx, true))?;
        Poll::Ready(Ok(()))
    }

    fn start_send_inner(&mut self, message: Message) -> Result<(), Error> {
        Ok(lock(&self.shared.connection).send(message)?)
    }

    fn poll_flush_inner(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Poll::Ready(Ok(ready!(self.shared.poll_write(Side::Writer, cx, true))?))
    }
}

impl<S: AsyncRead + AsyncWrite> Sink<Message> for WriteHalf<S> {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().poll_ready_inner(cx)
    }

    fn start_send(self: Pin<&mut Self>, message: Message) -> Result<(), Error> {
        self.get_mut().start_send_inner(message)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().poll_flush_inner(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        {
            let mut connection = lock(&this.shared.connection);
            if connection.state() == State::Open {
                connection.close(CloseCode::Normal, "")?;
            }
        }
        this.shared.close_timer_moved();
        this.poll_flush_inner(cx)
    }
}
