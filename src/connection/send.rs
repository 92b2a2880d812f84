//! What a connection sends: the commands that queue messages and control
//! frames, their framing (sections 5.2 to 5.5), and the methods that hand
//! the queued bytes to the transport.

use bytes::{Bytes, BytesMut};

use super::{Connection, Role, SHARED_PAYLOAD, SendError, Transmit};
use crate::close::{CloseCode, CloseFrame};
use crate::frame::{FrameHeader, OpCode, Rsv};
use crate::mask::apply_mask;
use crate::message::{DataKind, Message, Utf8Validator};
use crate::time::Timestamp;

impl<T: Timestamp> Connection<T> {
    // ---- commands ----

    /// Queues a whole message, as frames of at most
    /// [`Config::send_frame_size`](super::Config::send_frame_size) payload bytes.
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
    pub(super) fn compresses(&self, len: usize) -> bool {
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
            if let Some(deflate) = self.deflate.as_mut()
                && out.capacity() <= deflate.kept_scratch
            {
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
    /// **The close goes out after the messages already queued**, as the
    /// close of a failure does; unlike the answer to the peer's close, which
    /// goes at the next frame boundary and drops the data frames not
    /// started.
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), SendError> {
        self.check_can_send()?;
        CloseFrame::new(code, reason)?;
        let (payload, len) = close_payload(code, reason);
        self.queue_frame(FrameHeader::new(OpCode::Close, len as u64), &payload[..len]);
        self.close_sent = true;
        Ok(())
    }

    pub(super) fn check_can_send(&self) -> Result<(), SendError> {
        if self.close_sent || self.stopped {
            Err(SendError::Closed)
        } else {
            Ok(())
        }
    }

    // ---- output ----

    /// Every queued byte, in the order it goes out (the rest of a data frame
    /// already started, then the control frames, then the data frames), as
    /// the slices that hold it: encoded frames and large payloads sent from
    /// their own buffers, none copied. Write them, then
    /// [`advance_transmit`](Self::advance_transmit) by what was written, and
    /// repeat until it [`is_empty`](Transmit::is_empty): a loop that does so
    /// cannot leave a byte behind, however the writes are cut.
    ///
    /// ```
    /// # #[cfg(feature = "std")] {
    /// use std::io::{IoSlice, Write};
    /// use rfc6455::{Config, Connection, Message, Role};
    ///
    /// let mut server = Connection::new(Role::Server, Config::default());
    /// server.send(Message::binary(vec![7u8; 100_000]))?;
    /// let mut wire = Vec::new();
    /// while !server.transmit().is_empty() {
    ///     let mut slices = [IoSlice::new(&[]); 8];
    ///     let n = wire.write_vectored(server.transmit().io_slices(&mut slices))?;
    ///     server.advance_transmit(n);
    /// }
    /// assert_eq!(wire.len(), 10 + 65_536 + 4 + 34_464); // two frames
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn transmit(&self) -> Transmit<'_> {
        self.out.transmit()
    }

    /// Drops the first `n` bytes of [`transmit`](Self::transmit), which were
    /// written; `n` is capped at their length. Call it right after the
    /// write, before queueing anything else.
    pub fn advance_transmit(&mut self, n: usize) {
        self.out.advance(n)
    }

    /// Takes every queued byte at once, as one buffer, in the order
    /// [`transmit`](Self::transmit) gives them; without a copy when one
    /// buffer holds them all, else copied into one. For tests and for
    /// transports that take one buffer per message, such as a channel.
    pub fn take_transmit(&mut self) -> Bytes {
        self.out.take_all()
    }

    /// Takes the next piece to write, without a copy, or `None` when nothing
    /// is queued. A piece ends at a frame boundary or right before a large
    /// payload that is the next piece: it is the rest of a data frame
    /// already started, or every queued control frame, or whole data frames
    /// up to [`send_frame_size`](super::Config::send_frame_size) bytes (at
    /// least one). An adapter that writes pieces one by one lets control
    /// frames overtake a long message, and holds at most one frame's worth
    /// it took; one that writes a few pieces with one vectored write sends a
    /// header and its payload together.
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        self.out.poll(self.config.send_frame_size)
    }

    // ---- framing of what we send ----

    /// Queues a close with `code` in the data queue, after the data frames
    /// already there.
    pub(super) fn queue_close_behind_data(&mut self, code: CloseCode) {
        let (payload, len) = close_payload(code, "");
        self.queue_frame(FrameHeader::new(OpCode::Close, len as u64), &payload[..len]);
    }

    pub(super) fn queue_close(&mut self, code: CloseCode, reason: &str) {
        let (payload, len) = close_payload(code, reason);
        self.queue_control(OpCode::Close, &payload[..len]);
    }

    /// Queues an automatic pong, which may replace one not started
    /// (section 5.5.3).
    pub(super) fn queue_pong(&mut self, payload: &[u8]) {
        let header = self.masked(FrameHeader::new(OpCode::Pong, payload.len() as u64));
        self.out.push_pong(header, payload);
    }

    pub(super) fn queue_control(&mut self, opcode: OpCode, payload: &[u8]) {
        let header = self.masked(FrameHeader::new(opcode, payload.len() as u64));
        self.out.push_control(header, payload);
    }

    /// Queues a data message or fragment, raw or compressed, as frames of at
    /// most `Config::send_frame_size` payload bytes; `rsv` goes on the
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
    /// `Config::send_frame_size` payload bytes, each payload a slice of
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

/// A close payload: the code, big-endian, then at most 123 bytes of reason.
fn close_payload(code: CloseCode, reason: &str) -> ([u8; 125], usize) {
    let mut payload = [0u8; 125];
    payload[..2].copy_from_slice(&u16::from(code).to_be_bytes());
    let reason = &reason.as_bytes()[..reason.len().min(123)];
    payload[2..2 + reason.len()].copy_from_slice(reason);
    (payload, 2 + reason.len())
}
