//! Prepared messages on the whole tokio stream: waiting and non-waiting.

use std::future::poll_fn;
use std::pin::Pin;

use ::tokio::io::{AsyncRead, AsyncWrite};
use futures_sink::Sink;

use super::super::TryFeedError;
use super::{Error, WebSocketStream};
use crate::PreparedMessage;

impl<S: AsyncRead + AsyncWrite + Unpin> WebSocketStream<S> {
    /// Queues a [`PreparedMessage`]
    /// ([`Connection::send_prepared`](crate::Connection::send_prepared):
    /// its frames by handle, not copied), first waiting while the queue is
    /// above the high-water mark, as [`feed`](Self::feed) does.
    pub async fn feed_prepared(&mut self, message: &PreparedMessage) -> Result<(), Error> {
        poll_fn(|cx| Pin::new(&mut *self).poll_ready(cx)).await?;
        Ok(self.connection.send_prepared(message)?)
    }

    /// [`feed_prepared`](Self::feed_prepared) then [`flush`](Self::flush).
    pub async fn send_prepared(&mut self, message: &PreparedMessage) -> Result<(), Error> {
        self.feed_prepared(message).await?;
        self.flush().await
    }

    /// Offers a [`PreparedMessage`] without waiting: queues it if fewer
    /// bytes than the [high-water mark](Self::set_high_water_mark) (128 KiB
    /// by default) are queued, else refuses it with
    /// [`TryFeedError::Backpressure`] and queues nothing. For a broadcaster
    /// that must not wait for its slowest subscriber: on backpressure it
    /// drops the message for this one, or closes the connection with
    /// [`CloseCode::PolicyViolation`](crate::CloseCode::PolicyViolation)
    /// (1008), the two policies of uWebSockets' `maxBackpressure` and
    /// `closeOnBackpressureLimit`.
    ///
    /// **Nothing is written here**: the bytes go out on the next
    /// [`flush`](Self::flush), `send`, or poll of the receiving side. A
    /// queue that is at the mark holds at most the mark plus one message.
    /// With many subscribers, give each a writer task that takes every
    /// message from its inbox as soon as it comes, offers it here, and
    /// flushes in between (a `select!` of the two, `flush` being
    /// cancel-safe): it never waits for its peer before taking the next
    /// one. `tests/prepared_slow_subscriber.rs` has that loop, with 101
    /// subscribers of which one never reads.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use rfc6455::io::TryFeedError;
    /// use rfc6455::io::tokio::WebSocketStream;
    /// use rfc6455::{CloseCode, Config, Message, PreparedMessage, Role};
    ///
    /// // Two subscribers, over in-memory pipes whose far ends read nothing yet.
    /// let (a, _peer_a) = tokio::io::duplex(1 << 20);
    /// let (b, _peer_b) = tokio::io::duplex(1 << 20);
    /// let mut drop_slow = WebSocketStream::from_raw(a, Role::Server, &[], Config::default());
    /// let mut close_slow = WebSocketStream::from_raw(b, Role::Server, &[], Config::default());
    /// drop_slow.set_high_water_mark(64 << 10);
    /// close_slow.set_high_water_mark(64 << 10);
    ///
    /// let update = PreparedMessage::for_config(Message::binary(vec![0; 40_000]), &Config::default());
    /// let mut dropped = 0;
    /// for _ in 0..3 {
    ///     // Choice 1: drop the message for a subscriber that lags.
    ///     match drop_slow.try_feed_prepared(&update) {
    ///         Ok(()) => {}
    ///         Err(TryFeedError::Backpressure { .. }) => dropped += 1,
    ///         Err(e) => return Err(e.into()),
    ///     }
    ///     // Choice 2: close the connection of a subscriber that lags; the
    ///     // close goes out after what is queued.
    ///     if let Err(TryFeedError::Backpressure { .. }) = close_slow.try_feed_prepared(&update) {
    ///         close_slow.close(CloseCode::PolicyViolation, "too slow").await?;
    ///         break;
    ///     }
    /// }
    /// assert_eq!(dropped, 1); // 80,000 bytes queued: over the mark
    /// assert_eq!(drop_slow.buffered_amount(), 80_008);
    /// assert_eq!(close_slow.connection().state(), rfc6455::State::Closing);
    /// # Ok(())
    /// # }
    /// ```
    pub fn try_feed_prepared(&mut self, message: &PreparedMessage) -> Result<(), TryFeedError> {
        let buffered = self.buffered_amount();
        if buffered >= self.high_water {
            return Err(TryFeedError::Backpressure {
                buffered,
                high_water: self.high_water,
            });
        }
        Ok(self.connection.send_prepared(message)?)
    }
}
