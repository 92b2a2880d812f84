//! A client that reconnects after a connection loss, with exponential
//! backoff and full jitter: [`ReconnectingClient`] and its [`Backoff`].
//!
//! RFC 6455 section 7.2.3 asks a client that reconnects after an abnormal
//! closure to delay the first attempt by a random amount and the next ones
//! by increasing amounts, "using truncated binary exponential backoff", so
//! that a server restart is not met by every client at once. That is what
//! this does: attempt `n` of a series waits a delay drawn uniformly from
//! `[0, min(cap, base * 2^(n-1))]` ("full jitter").

use std::fmt;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use ::tokio::io::{AsyncRead, AsyncWrite};
use ::tokio::net::TcpStream;
use futures_core::Stream;

use super::WebSocketStream;
use crate::handshake::ClientRequest;
use crate::{CloseCode, CloseFrame, Config, Message, SendError};

use super::super::Error;

/// A boxed future that can move between threads, as the hooks return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// When to try again: exponential backoff with a cap, full jitter, and an
/// optional limit on the attempts of one series.
///
/// Attempt `n` (counted from 1 after each loss) waits
/// `min(cap, base * 2^(n-1))`, or with `jitter` a delay drawn uniformly from
/// `[0, that]`; see [`ceiling`](Self::ceiling). RFC 6455 section 7.2.3 asks
/// for a random first delay and truncated exponential backoff after an
/// abnormal closure; jitter is what keeps a thousand clients of a restarted
/// server from all coming back in the same millisecond.
///
/// ```
/// use std::time::Duration;
/// use rfc6455::io::tokio::Backoff;
///
/// let backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(30)).max_tries(8);
/// assert_eq!(backoff.ceiling(1), Duration::from_millis(100));
/// assert_eq!(backoff.ceiling(4), Duration::from_millis(800));
/// assert_eq!(backoff.ceiling(20), Duration::from_secs(30)); // the cap
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// The ceiling of the first attempt's delay.
    pub base: Duration,
    /// No delay is longer than this.
    pub cap: Duration,
    /// Attempts in one series before giving up (at least 1); `None` tries
    /// for ever.
    pub max_tries: Option<u32>,
    /// Draw each delay from `[0, ceiling]` (on by default); off, wait the
    /// ceiling itself.
    pub jitter: bool,
}

impl Default for Backoff {
    /// 500 ms doubling up to 30 s, with jitter, for ever.
    fn default() -> Self {
        Backoff::new(Duration::from_millis(500), Duration::from_secs(30))
    }
}

impl Backoff {
    /// `base` doubling up to `cap`, with jitter, no limit on the tries.
    pub fn new(base: Duration, cap: Duration) -> Self {
        Backoff {
            base,
            cap,
            max_tries: None,
            jitter: true,
        }
    }

    /// Gives up after `tries` failed attempts in a row (1 at least).
    #[must_use]
    pub fn max_tries(mut self, tries: u32) -> Self {
        self.max_tries = Some(tries.max(1));
        self
    }

    /// Tries for ever (the default).
    #[must_use]
    pub fn unlimited(mut self) -> Self {
        self.max_tries = None;
        self
    }

    /// Turns the jitter on or off.
    #[must_use]
    pub fn jitter(mut self, on: bool) -> Self {
        self.jitter = on;
        self
    }

    /// The longest delay before attempt `attempt` (from 1):
    /// `min(cap, base * 2^(attempt-1))`, without overflow.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let doubled = 1u32
            .checked_shl(attempt.saturating_sub(1))
            .and_then(|factor| self.base.checked_mul(factor));
        doubled.map_or(self.cap, |delay| delay.min(self.cap))
    }

    /// The delay before `attempt`, with `random` drawn uniformly from the
    /// u64s when jitter is on.
    fn delay(&self, attempt: u32, random: u64) -> Duration {
        let ceiling = self.ceiling(attempt);
        if !self.jitter {
            return ceiling;
        }
        // Uniform in [0, ceiling] nanoseconds: the high half of a 64x64-bit
        // product. A ceiling past u64 nanoseconds (584 years) is clamped.
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        let scaled = (u128::from(random) * (u128::from(nanos) + 1)) >> 64;
        Duration::from_nanos(scaled as u64)
    }
}

/// One connection attempt, as reported to
/// [`on_attempt`](ReconnectingBuilder::on_attempt).
#[derive(Debug)]
#[non_exhaustive]
pub struct Attempt<'a> {
    /// The attempt's number in its series, from 1; a series starts at the
    /// first connection and after each loss, and ends with a success.
    pub number: u32,
    /// How long it waited before connecting.
    pub delay: Duration,
    /// Connected (and the [`on_connect`](ReconnectingBuilder::on_connect)
    /// hook succeeded), or why not.
    pub outcome: Result<(), &'a Error>,
}

/// A message the [`ReconnectingClient`] did not send, given back with the
/// reason.
#[derive(Debug, thiserror::Error)]
#[error("message not sent: {error}")]
pub struct Unsent {
    /// The message, to send again once connected, or to drop.
    pub message: Message,
    /// Why: [`std::io::ErrorKind::NotConnected`] while reconnecting,
    /// [`SendError::Closed`] after [`close`](ReconnectingClient::close) or
    /// once the client gave up, or the stream's error. After a stream error
    /// the message may have been written in part or in whole.
    pub error: Error,
}

type Connect<S> = Box<dyn FnMut() -> BoxFuture<'static, Result<WebSocketStream<S>, Error>> + Send>;
type Hook<S> =
    Box<dyn for<'a> FnMut(&'a mut WebSocketStream<S>) -> BoxFuture<'a, Result<(), Error>> + Send>;
type Report = Box<dyn FnMut(&Attempt<'_>) + Send>;
type IsFinal = Box<dyn Fn(CloseCode) -> bool + Send + Sync>;
/// An attempt under way: the wait, the connection, the hook; gives the hook
/// back with the outcome.
type Pending<S> = BoxFuture<'static, (Result<WebSocketStream<S>, Error>, Hook<S>)>;

/// Builds a [`ReconnectingClient`]: from
/// [`ReconnectingClient::builder`] (a `ws://` request over TCP) or
/// [`ReconnectingClient::builder_with`] (any way to open a stream).
pub struct ReconnectingBuilder<S> {
    connect: Connect<S>,
    hook: Hook<S>,
    report: Option<Report>,
    is_final: IsFinal,
    backoff: Backoff,
    seed: Option<u64>,
}

impl<S> fmt::Debug for ReconnectingBuilder<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReconnectingBuilder")
            .field("backoff", &self.backoff)
            .field("seed", &self.seed)
            .finish_non_exhaustive()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> ReconnectingBuilder<S> {
    /// The backoff between attempts ([`Backoff::default`] if not set).
    #[must_use]
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Which close codes of the server end the client for good: `is_final`
    /// sees the code of each close the application did not ask for (1005,
    /// [`CloseCode::NoStatusReceived`], for a close without one, RFC 6455
    /// section 7.1.5), and the client reconnects unless it returns `true`.
    /// By default only 1000 ([`CloseCode::Normal`]) is final: the server
    /// closed on purpose. 1001 (going away) and 1012 (service restart) are
    /// the codes of a server that expects its clients back.
    #[must_use]
    pub fn final_codes(
        mut self,
        is_final: impl Fn(CloseCode) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.is_final = Box::new(is_final);
        self
    }

    /// A hook that runs after each connection, the first included, before
    /// the client hands out messages: to subscribe again, authenticate,
    /// send what was held back. An error counts as a failed attempt (the
    /// connection is dropped and the next attempt follows the backoff).
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), rfc6455::io::Error> {
    /// use rfc6455::{Config, Message};
    /// use rfc6455::handshake::ClientRequest;
    /// use rfc6455::io::tokio::ReconnectingClient;
    ///
    /// let request = ClientRequest::new("ws://127.0.0.1:9001/feed")?;
    /// let client = ReconnectingClient::builder(request, Config::default())
    ///     .on_connect(|ws| Box::pin(async move { ws.send(Message::text("subscribe prices")).await }))
    ///     .connect()
    ///     .await?;
    /// # drop(client); Ok(()) }
    /// ```
    #[must_use]
    pub fn on_connect<F>(mut self, hook: F) -> Self
    where
        F: for<'a> FnMut(&'a mut WebSocketStream<S>) -> BoxFuture<'a, Result<(), Error>>
            + Send
            + 'static,
    {
        self.hook = Box::new(hook);
        self
    }

    /// Reports each attempt when it ends: its number, the delay it waited,
    /// success or the error.
    #[must_use]
    pub fn on_attempt(mut self, report: impl FnMut(&Attempt<'_>) + Send + 'static) -> Self {
        self.report = Some(Box::new(report));
        self
    }

    /// Seeds the jitter's generator, for tests that want the same delays
    /// every run; by default it is seeded from the operating system.
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Connects for the first time (the first attempt without a wait, the
    /// next ones after the backoff), runs the hook, and returns the client;
    /// or the last error once [`Backoff::max_tries`] attempts failed.
    pub async fn connect(self) -> Result<ReconnectingClient<S>, Error> {
        let seed = match self.seed {
            Some(seed) => seed,
            None => getrandom::u64().map_err(|e| std::io::Error::other(e.to_string()))?,
        };
        let mut client = ReconnectingClient {
            state: State::Closed,
            connect: self.connect,
            hook: Some(self.hook),
            report: self.report,
            is_final: self.is_final,
            backoff: self.backoff,
            rng: SplitMix64(seed),
            tries: 0,
            delay: Duration::ZERO,
            closing: false,
            peer_close: None,
        };
        client.start_attempt(true);
        poll_fn(|cx| client.poll_connecting(cx)).await?;
        Ok(client)
    }
}

// Connected is the state the client lives in: boxing it would add a
// pointer hop to every poll to save bytes only while reconnecting.
#[allow(clippy::large_enum_variant)]
enum State<S> {
    Connected(WebSocketStream<S>),
    Connecting(Pending<S>),
    /// After the application's close, a final close code, or giving up.
    Closed,
}

/// A WebSocket client that connects again after a connection loss, with
/// [`Backoff`] between attempts, and a hook to subscribe again.
///
/// # Receiving
///
/// [`recv`](Self::recv) (or the `Stream`) gives the messages of the
/// current connection. **When the connection is lost, `recv` reconnects
/// before it returns**: after the stream fails or ends without a close
/// (1006), after the peer's error or an idle timeout, and after a close of
/// the server whose code is not [final](ReconnectingBuilder::final_codes)
/// (1001 going away and 1012 service restart are not, by default; 1000 is).
/// Each attempt is [reported](ReconnectingBuilder::on_attempt); after a
/// success the [hook](ReconnectingBuilder::on_connect) runs, and the
/// backoff starts over.
///
/// `recv` returns `None` after a close the application asked for
/// ([`close`](Self::close)) or a final close code of the server
/// ([`peer_close`](Self::peer_close) holds it), and `Some(Err(_))` once,
/// then `None`, when [`Backoff::max_tries`] attempts in a row failed: the
/// error is the last attempt's. **It is cancel-safe**: the wait and the
/// attempt under way live in the client, so a `select!` that drops a `recv`
/// future loses nothing, and the next `recv` goes on where it stopped.
///
/// # Sending: nothing is dropped in silence
///
/// [`send`](Self::send) and [`feed`](Self::feed) write on the current
/// connection. They never wait for a reconnect: **while disconnected they
/// give the message back** in [`Unsent`] (with
/// [`std::io::ErrorKind::NotConnected`]), and so they do after a stream
/// error, when the message may or may not have left. Messages fed and not
/// yet flushed die with their connection, as would bytes in the kernel's
/// buffers: delivery is at most once. An application that must not lose a
/// message keeps it until the server acknowledges it, and sends what is
/// outstanding from the hook.
///
/// # Time
///
/// The waits are `tokio::time` sleeps, so a test under
/// `#[tokio::test(start_paused = true)]` runs them in no time.
///
/// # Example
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use rfc6455::{CloseCode, Config, Message};
/// use rfc6455::handshake::ClientRequest;
/// use rfc6455::io::tokio::{Backoff, ReconnectingClient};
///
/// let request = ClientRequest::new("ws://127.0.0.1:9001/chat")?;
/// let mut client = ReconnectingClient::builder(request, Config::default())
///     .backoff(Backoff::new(Duration::from_millis(200), Duration::from_secs(10)).max_tries(20))
///     .final_codes(|code| matches!(code, CloseCode::Normal | CloseCode::PolicyViolation))
///     .on_connect(|ws| Box::pin(async move { ws.send(Message::text("join #rust")).await }))
///     .on_attempt(|attempt| eprintln!("attempt {} after {:?}: {:?}", attempt.number, attempt.delay, attempt.outcome))
///     .connect()
///     .await?;
/// while let Some(message) = client.recv().await {
///     println!("{:?}", message?);
/// }
/// # Ok(()) }
/// ```
pub struct ReconnectingClient<S = TcpStream> {
    state: State<S>,
    connect: Connect<S>,
    /// `None` while an attempt holds it.
    hook: Option<Hook<S>>,
    report: Option<Report>,
    is_final: IsFinal,
    backoff: Backoff,
    rng: SplitMix64,
    /// Attempts made in the current series.
    tries: u32,
    /// The delay of the attempt under way.
    delay: Duration,
    /// The application asked to close: no reconnect.
    closing: bool,
    peer_close: Option<CloseFrame>,
}

impl<S> fmt::Debug for ReconnectingClient<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            State::Connected(_) => "connected",
            State::Connecting(_) => "connecting",
            State::Closed => "closed",
        };
        f.debug_struct("ReconnectingClient")
            .field("state", &state)
            .field("tries", &self.tries)
            .field("backoff", &self.backoff)
            .field("closing", &self.closing)
            .finish_non_exhaustive()
    }
}

impl ReconnectingClient<TcpStream> {
    /// A client of a `ws://` `request` over TCP, each connection made with
    /// [`WebSocketStream::connect_with`] and `config`.
    pub fn builder(request: ClientRequest, config: Config) -> ReconnectingBuilder<TcpStream> {
        Self::builder_with(move || WebSocketStream::connect_with(request.clone(), config))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> ReconnectingClient<S> {
    /// A client whose connections `connect` opens: for `wss://`
    /// (`WebSocketStream::connect_tls_with`), a proxy, or a stream of your
    /// own with [`WebSocketStream::client`]. The future it returns runs
    /// only after the attempt's wait.
    pub fn builder_with<F, Fut>(mut connect: F) -> ReconnectingBuilder<S>
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = Result<WebSocketStream<S>, Error>> + Send + 'static,
    {
        ReconnectingBuilder {
            connect: Box::new(move || Box::pin(connect())),
            hook: Box::new(|_| Box::pin(async { Ok(()) })),
            report: None,
            is_final: Box::new(|code| code == CloseCode::Normal),
            backoff: Backoff::default(),
            seed: None,
        }
    }

    /// The next message, reconnecting first if the connection was lost;
    /// `None` after the application's close or a final close code;
    /// `Some(Err(_))` once when the client gave up. Cancel-safe.
    pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
        poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }

    /// Queues a message on the current connection (waiting while its queue
    /// is above the high-water mark); gives it back if there is none.
    pub async fn feed(&mut self, message: Message) -> Result<(), Unsent> {
        let ws = match self.writable() {
            Ok(ws) => ws,
            Err(error) => return Err(Unsent { message, error }),
        };
        let copy = message.clone();
        ws.feed(copy)
            .await
            .map_err(|error| Unsent { message, error })
    }

    /// Writes what is queued on the current connection and flushes it; a
    /// no-op while disconnected.
    pub async fn flush(&mut self) -> Result<(), Error> {
        match &mut self.state {
            State::Connected(ws) => ws.flush().await,
            _ => Ok(()),
        }
    }

    /// [`feed`](Self::feed) then [`flush`](Self::flush); the message is
    /// given back if either fails.
    pub async fn send(&mut self, message: Message) -> Result<(), Unsent> {
        let ws = match self.writable() {
            Ok(ws) => ws,
            Err(error) => return Err(Unsent { message, error }),
        };
        // A message is a reference-counted buffer: the copy is cheap.
        let copy = message.clone();
        ws.send(copy)
            .await
            .map_err(|error| Unsent { message, error })
    }

    /// Closes for good (RFC 6455 section 7.1.2): sends a close with `code`
    /// and `reason` if connected, and never reconnects after. Keep calling
    /// [`recv`](Self::recv) until `None` to get the server's close. While
    /// disconnected the attempt under way is dropped.
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        self.closing = true;
        match &mut self.state {
            State::Connected(ws) => ws.close(code, reason).await,
            _ => {
                self.state = State::Closed;
                Ok(())
            }
        }
    }

    /// Whether a connection is open now.
    pub fn is_connected(&self) -> bool {
        matches!(self.state, State::Connected(_))
    }

    /// Whether the client is over: closed by the application, by a final
    /// close code, or given up.
    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed)
    }

    /// The current connection, if one is open.
    pub fn get_ref(&self) -> Option<&WebSocketStream<S>> {
        match &self.state {
            State::Connected(ws) => Some(ws),
            _ => None,
        }
    }

    /// The current connection, if one is open, to ping it or read its
    /// state; reading or writing its stream directly breaks the framing.
    pub fn get_mut(&mut self) -> Option<&mut WebSocketStream<S>> {
        match &mut self.state {
            State::Connected(ws) => Some(ws),
            _ => None,
        }
    }

    /// The close frame of the last connection that ended with the server's
    /// close.
    pub fn peer_close(&self) -> Option<&CloseFrame> {
        self.peer_close.as_ref()
    }

    fn writable(&mut self) -> Result<&mut WebSocketStream<S>, Error> {
        match &mut self.state {
            State::Connected(ws) if !self.closing => Ok(ws),
            State::Connecting(_) if !self.closing => {
                Err(std::io::Error::from(std::io::ErrorKind::NotConnected).into())
            }
            _ => Err(SendError::Closed.into()),
        }
    }

    /// Starts the next attempt of the series: draws its delay, and boxes
    /// the wait, the connection and the hook into one future.
    fn start_attempt(&mut self, first_connection: bool) {
        self.tries += 1;
        self.delay = if first_connection && self.tries == 1 {
            Duration::ZERO
        } else {
            self.backoff.delay(self.tries, self.rng.next())
        };
        let delay = self.delay;
        let connect = (self.connect)();
        let mut hook = self.hook.take().expect("no attempt is under way");
        self.state = State::Connecting(Box::pin(async move {
            if !delay.is_zero() {
                ::tokio::time::sleep(delay).await;
            }
            let result = match connect.await {
                Ok(mut ws) => match hook(&mut ws).await {
                    Ok(()) => Ok(ws),
                    Err(error) => Err(error),
                },
                Err(error) => Err(error),
            };
            (result, hook)
        }));
    }

    /// A connection was lost: starts a new series, or ends the client.
    fn lost(&mut self) {
        self.tries = 0;
        self.start_attempt(false);
    }

    /// Drives attempts until one succeeds (`Ok`), or the last allowed one
    /// failed (its error; the client is then closed).
    fn poll_connecting(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        loop {
            let State::Connecting(pending) = &mut self.state else {
                return Poll::Ready(Ok(()));
            };
            let (result, hook) = ready!(pending.as_mut().poll(cx));
            self.hook = Some(hook);
            let outcome = result.as_ref().map(|_| ());
            if let Some(report) = &mut self.report {
                report(&Attempt {
                    number: self.tries,
                    delay: self.delay,
                    outcome,
                });
            }
            match result {
                Ok(ws) => {
                    self.tries = 0;
                    self.state = State::Connected(ws);
                    return Poll::Ready(Ok(()));
                }
                Err(error) if self.backoff.max_tries.is_some_and(|max| self.tries >= max) => {
                    self.state = State::Closed;
                    return Poll::Ready(Err(error));
                }
                Err(_) => self.start_attempt(false),
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> Stream for ReconnectingClient<S> {
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            match &mut this.state {
                State::Closed => return Poll::Ready(None),
                State::Connecting(_) => {
                    if let Err(error) = ready!(this.poll_connecting(cx)) {
                        return Poll::Ready(Some(Err(error)));
                    }
                }
                State::Connected(ws) => match ready!(Pin::new(&mut *ws).poll_next(cx)) {
                    Some(Ok(message)) => return Poll::Ready(Some(Ok(message))),
                    // Closing, the stream's own end follows its error.
                    Some(Err(error)) if this.closing => return Poll::Ready(Some(Err(error))),
                    // The stream failed or ended without a close, the peer
                    // broke a rule or went silent: try again.
                    Some(Err(_)) => this.lost(),
                    None => {
                        this.peer_close = ws.peer_close().cloned();
                        let code = this
                            .peer_close
                            .as_ref()
                            .map_or(CloseCode::NoStatusReceived, CloseFrame::code);
                        if this.closing || (this.is_final)(code) {
                            this.state = State::Closed;
                            return Poll::Ready(None);
                        }
                        this.lost();
                    }
                },
            }
        }
    }
}

/// SplitMix64 (Steele, Lea and Flood, 2014): a tiny generator, plenty for
/// spreading delays; its seed comes from the operating system or the test.
#[derive(Debug)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ceiling_doubles_up_to_the_cap_without_overflow() {
        let backoff = Backoff::new(Duration::from_millis(10), Duration::from_secs(1));
        let ceilings: Vec<u64> = (1..=9)
            .map(|n| backoff.ceiling(n).as_millis() as u64)
            .collect();
        assert_eq!(ceilings, [10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
        assert_eq!(backoff.ceiling(0), Duration::from_millis(10));
        assert_eq!(backoff.ceiling(u32::MAX), Duration::from_secs(1));
        let huge = Backoff::new(Duration::MAX, Duration::MAX);
        assert_eq!(huge.ceiling(3), Duration::MAX);
        assert!(huge.delay(3, u64::MAX) <= Duration::MAX);
    }

    #[test]
    fn jitter_draws_within_zero_and_the_ceiling_and_spreads() {
        let backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
        assert_eq!(backoff.delay(3, 0), Duration::ZERO);
        assert_eq!(backoff.delay(3, u64::MAX), Duration::from_millis(400));
        assert_eq!(
            backoff.jitter(false).delay(3, 0),
            Duration::from_millis(400)
        );
        let mut rng = SplitMix64(7);
        let delays: Vec<Duration> = (0..1000).map(|_| backoff.delay(1, rng.next())).collect();
        assert!(delays.iter().all(|d| *d <= Duration::from_millis(100)));
        let low = delays
            .iter()
            .filter(|d| **d < Duration::from_millis(50))
            .count();
        assert!((400..600).contains(&low), "{low} of 1000 in the lower half");
    }

    #[test]
    fn max_tries_is_at_least_one() {
        assert_eq!(Backoff::default().max_tries(0).max_tries, Some(1));
        assert_eq!(Backoff::default().max_tries(3).unlimited().max_tries, None);
    }
}
