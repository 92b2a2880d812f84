//! Prepared messages on the blocking socket: queued, sent, or offered.

use std::io::{Read, Write};

use super::super::Error;
use super::super::TryFeedError;
use super::{ReadTimeout, WebSocket};
use crate::PreparedMessage;

impl<S: Read + Write + ReadTimeout> WebSocket<S> {
    /// Queues a [`PreparedMessage`]
    /// ([`Connection::send_prepared`](crate::Connection::send_prepared): on a
    /// server, its frames by handle, not copied); nothing is written until
    /// [`flush`](Self::flush).
    pub fn write_prepared(&mut self, message: &PreparedMessage) -> Result<(), Error> {
        Ok(self.connection.send_prepared(message)?)
    }

    /// [`write_prepared`](Self::write_prepared) then [`flush`](Self::flush).
    pub fn send_prepared(&mut self, message: &PreparedMessage) -> Result<(), Error> {
        self.write_prepared(message)?;
        self.flush()
    }

    /// Offers a [`PreparedMessage`]: queues it unless the
    /// [high-water mark](Self::set_high_water_mark) or more is already
    /// queued, and then refuses it with [`TryFeedError::Backpressure`],
    /// queueing nothing. Writes nothing: for a non-blocking stream, where
    /// [`flush`](Self::flush) stops at `WouldBlock` and leaves the rest
    /// queued. On backpressure, drop the message for this peer or close
    /// with [`CloseCode::PolicyViolation`](crate::CloseCode::PolicyViolation)
    /// (1008).
    ///
    /// ```
    /// use rfc6455::io::{TryFeedError, blocking::WebSocket};
    /// use rfc6455::{CloseCode, Config, Message, PreparedMessage, Role};
    /// # #[derive(Default)]
    /// # struct Wire(Vec<u8>);
    /// # impl std::io::Read for Wire { fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> { Ok(0) } }
    /// # impl std::io::Write for Wire {
    /// #     fn write(&mut self, b: &[u8]) -> std::io::Result<usize> { self.0.extend_from_slice(b); Ok(b.len()) }
    /// #     fn flush(&mut self) -> std::io::Result<()> { Ok(()) }
    /// # }
    /// # impl rfc6455::io::blocking::ReadTimeout for Wire {
    /// #     fn set_read_timeout(&mut self, _: Option<std::time::Duration>) -> std::io::Result<()> { Ok(()) }
    /// # }
    ///
    /// // `Wire` stands for a non-blocking socket.
    /// let mut ws = WebSocket::from_raw(Wire::default(), Role::Server, &[], Config::default());
    /// ws.set_high_water_mark(1000);
    /// let update = PreparedMessage::for_config(Message::text("x".repeat(600)), &Config::default());
    /// ws.try_write_prepared(&update)?;
    /// ws.try_write_prepared(&update)?;
    /// match ws.try_write_prepared(&update) {
    ///     Err(TryFeedError::Backpressure { buffered, .. }) => {
    ///         assert_eq!(buffered, 2 * 604);
    ///         // Drop it, or give up on this peer:
    ///         ws.close(CloseCode::PolicyViolation, "too slow")?;
    ///     }
    ///     other => panic!("{other:?}"),
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_write_prepared(&mut self, message: &PreparedMessage) -> Result<(), TryFeedError> {
        let buffered = self.connection.buffered_amount();
        if buffered >= self.high_water {
            return Err(TryFeedError::Backpressure {
                buffered,
                high_water: self.high_water,
            });
        }
        Ok(self.connection.send_prepared(message)?)
    }
}
