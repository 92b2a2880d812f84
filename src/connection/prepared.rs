//! Prepared messages: one message framed once, its wire bytes shared by
//! every server connection that sends it.
//!
//! A [`PreparedMessage`] holds the frames of a data message as a server
//! writes them (unmasked, RFC 6455 section 5.1), in one immutable [`Bytes`];
//! [`Connection::send_prepared`] queues a handle to them. With the feature
//! `deflate` it also holds, built on first use, the compressed frames for
//! each window size a connection agreed with `server_no_context_takeover`
//! (RFC 7692 section 7.1.1.1): such a connection compresses each message
//! from an empty context, so every connection with the same window gets the
//! same bytes.

use alloc::sync::Arc;
use core::fmt;

use bytes::{Bytes, BytesMut};

use super::{Config, Connection, Role, SHARED_PAYLOAD, SendError};
#[cfg(feature = "deflate")]
use crate::deflate::{CompressError, Deflater};
use crate::frame::{FrameHeader, MAX_HEADER_LEN, OpCode, Rsv};
use crate::message::{Message, Utf8Bytes};
use crate::time::Timestamp;

/// The window sizes a compressed form is kept for: 9 to 15 bits (a window
/// of 8 bits is served by 9, as [`Deflater`] does).
#[cfg(feature = "deflate")]
const WINDOWS: usize = 7;

/// A text or binary message framed once, to be sent to many connections
/// without framing, compressing or copying it again for each.
///
/// Build it with [`new`](Self::new) or [`for_config`](Self::for_config),
/// then give it to [`Connection::send_prepared`] (or the adapters'
/// `send_prepared`) of as many connections as need it. It is a handle:
/// cloning it, or sharing a reference across threads (it is `Send` and
/// `Sync`), copies no byte.
///
/// # What it holds, and what each connection does with it
///
/// - **The frames a server sends, built once**: a message longer than the
///   frame size given at build time is cut into frames of at most that many
///   payload bytes (RFC 6455 section 5.4), so that a pong or a ping queued
///   meanwhile goes out between two of them. **The prepared frame size wins
///   over the connection's own
///   [`send_frame_size`](Config::send_frame_size)**: the bytes are built
///   once, for everyone. Build it with [`for_config`](Self::for_config) and
///   the bytes are those an ordinary [`Connection::send`] would queue.
/// - **A server connection queues a handle to them**, no copy: for
///   [`buffered_amount`](Connection::buffered_amount) they count as the
///   bytes they are, and they go out in order with everything else queued.
///   Frames under [`SHARED_PAYLOAD`] bytes in all are copied instead, as
///   `send` copies a short message: a copy of a few hundred bytes costs
///   less than a piece of the queue of its own, and short messages queued
///   together leave in one write.
/// - **A client connection sends the message as usual** (with its own
///   frame size): each of its frames is masked with a fresh key (RFC 6455
///   section 5.3), so no two clients' bytes are the same. The message is
///   kept inside for that, shared, not copied.
/// - **permessage-deflate** (feature `deflate`): a server connection that
///   agreed `server_no_context_takeover` and would compress the message
///   (it is at least its `DeflateConfig::min_size`)
///   sends the compressed frames for its `server_max_window_bits`, built
///   on first use and then kept: one compression per window size, whoever
///   asks first, and thread-safe. They are compressed at the level given at
///   build time, not the connection's. A message that does not get smaller
///   goes out uncompressed, RSV1 clear. A connection that takes over its
///   context (the default) compresses the message itself, as `send` does:
///   its compressed bytes depend on what it sent before.
/// - **Only data messages**: a [`Message`] is text or binary, never a
///   control frame; pings, pongs and closes are 125 bytes at most and are
///   sent with [`Connection::ping`] and the like.
///
/// # Example
///
/// ```
/// # #[cfg(feature = "std")] {
/// use rfc6455::{Config, Connection, Event, Message, PreparedMessage, Role};
///
/// let config = Config::default();
/// let update = PreparedMessage::for_config(Message::text("price: 42"), &config);
/// let mut subscribers: Vec<Connection> =
///     (0..3).map(|_| Connection::new(Role::Server, config)).collect();
/// for server in &mut subscribers {
///     server.send_prepared(&update)?; // no framing, no copy of the frames
/// }
///
/// // Each peer gets the message as if it had been sent with `send`.
/// let mut client = Connection::new(Role::Client, config);
/// client.receive(&subscribers[2].take_transmit());
/// assert_eq!(client.poll_event()?, Some(Event::Message(Message::text("price: 42"))));
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct PreparedMessage {
    inner: Arc<Inner>,
}

struct Inner {
    message: Message,
    frame_size: usize,
    /// The frames, uncompressed, as a server sends them.
    frames: Bytes,
    /// The compression level of the compressed forms.
    #[cfg(feature = "deflate")]
    level: u32,
    /// The compressed frames for each window of 9 to 15 bits, once built;
    /// `None` inside when compressing did not make the payload smaller.
    #[cfg(feature = "deflate")]
    compressed: [std::sync::OnceLock<Option<Bytes>>; WINDOWS],
}

impl PreparedMessage {
    /// Frames `message` once, as a server sends it, in frames of at most
    /// `frame_size` payload bytes (0 is taken as 1). Compressed forms, if
    /// any connection asks for one, use zlib level 6, the default of
    /// `DeflateConfig`.
    pub fn new(message: Message, frame_size: usize) -> Self {
        Self::build(message, frame_size, 6)
    }

    /// Frames `message` for connections that share `config`: in frames of
    /// its [`send_frame_size`](Config::send_frame_size), compressed (when
    /// a connection asks) at its permessage-deflate level. The bytes a
    /// connection with this config then sends are those its own
    /// [`send`](Connection::send) would.
    pub fn for_config(message: Message, config: &Config) -> Self {
        #[cfg(feature = "deflate")]
        let level = config.deflate.unwrap_or_default().level;
        #[cfg(not(feature = "deflate"))]
        let level = 6;
        Self::build(message, config.send_frame_size, level)
    }

    fn build(message: Message, frame_size: usize, level: u32) -> Self {
        let frame_size = frame_size.max(1);
        let frames = encode_frames(
            message.kind().opcode(),
            Rsv::NONE,
            message.as_bytes(),
            frame_size,
        );
        #[cfg(not(feature = "deflate"))]
        let _ = level;
        // One frame holds the payload whole, after its header: the message
        // is kept as that slice, so that the frames are the only copy.
        let header_len = frames.len() - message.len();
        let message = match message {
            _ if message.len() > frame_size => message,
            Message::Text(_) => {
                Message::Text(Utf8Bytes::from_validated(frames.slice(header_len..)))
            }
            Message::Binary(_) => Message::Binary(frames.slice(header_len..)),
        };
        PreparedMessage {
            inner: Arc::new(Inner {
                message,
                frame_size,
                frames,
                #[cfg(feature = "deflate")]
                level: level.min(9),
                #[cfg(feature = "deflate")]
                compressed: Default::default(),
            }),
        }
    }

    /// The message, as given. When it fits in one frame its payload is a
    /// slice of that frame, so that a prepared message holds one copy of
    /// it; else it is the payload given, shared, not copied.
    pub fn message(&self) -> &Message {
        &self.inner.message
    }

    /// The largest payload of one of its frames, in bytes.
    pub fn frame_size(&self) -> usize {
        self.inner.frame_size
    }

    /// The frames, uncompressed, as a server puts them on the wire: what
    /// [`Connection::send_prepared`] queues on a server connection that
    /// does not compress the message.
    ///
    /// ```
    /// use rfc6455::{Message, PreparedMessage};
    ///
    /// // RFC 6455 section 5.7: "Hello" in one unmasked frame, and in two.
    /// let one = PreparedMessage::new(Message::text("Hello"), 125);
    /// assert_eq!(&one.frames()[..], b"\x81\x05Hello");
    /// let two = PreparedMessage::new(Message::text("Hello"), 3);
    /// assert_eq!(&two.frames()[..], b"\x01\x03Hel\x80\x02lo");
    /// ```
    pub fn frames(&self) -> &Bytes {
        &self.inner.frames
    }

    /// The compressed frames for a server compressing with `window_bits`
    /// (8 to 15) and no context takeover, built on the first call for that
    /// window and kept; `None` when compressing does not make the payload
    /// smaller, so that the uncompressed [`frames`](Self::frames) go out
    /// instead.
    ///
    /// The payload is compressed with a sync flush and its trailing
    /// `00 00 ff ff` removed (RFC 7692 section 7.2.1), from an empty
    /// context; the first frame has RSV1 set (section 6). Compressing
    /// borrows a compressor from the shared
    /// [`pool`](crate::deflate::pool) and gives it back: a connection's own
    /// compressor is never woken for a prepared message.
    #[cfg(feature = "deflate")]
    #[cfg_attr(docsrs, doc(cfg(feature = "deflate")))]
    pub fn compressed(&self, window_bits: u8) -> Result<Option<&Bytes>, CompressError> {
        let bits = window_bits.clamp(9, 15);
        let slot = &self.inner.compressed[usize::from(bits - 9)];
        if let Some(built) = slot.get() {
            return Ok(built.as_ref());
        }
        // Two threads may both compress; the result is the same, and the
        // first one kept.
        let built = self.compress(bits)?;
        Ok(slot.get_or_init(|| built).as_ref())
    }

    #[cfg(feature = "deflate")]
    fn compress(&self, bits: u8) -> Result<Option<Bytes>, CompressError> {
        let inner = &*self.inner;
        let payload = inner.message.as_bytes();
        let mut deflater = Deflater::new(inner.level, bits, true);
        let mut out = Vec::new();
        deflater.compress(payload, true, &mut out)?;
        if out.len() >= payload.len() {
            return Ok(None);
        }
        let opcode = inner.message.kind().opcode();
        Ok(Some(encode_frames(
            opcode,
            Rsv::RSV1,
            &out,
            inner.frame_size,
        )))
    }
}

impl fmt::Debug for PreparedMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &*self.inner;
        let mut debug = f.debug_struct("PreparedMessage");
        debug
            .field("kind", &inner.message.kind())
            .field("len", &inner.message.len())
            .field("frame_size", &inner.frame_size)
            .field("frames_len", &inner.frames.len());
        #[cfg(feature = "deflate")]
        {
            let built: alloc::vec::Vec<u8> = (9..)
                .zip(&inner.compressed)
                .filter(|(_, slot)| slot.get().is_some())
                .map(|(bits, _)| bits)
                .collect();
            debug
                .field("level", &inner.level)
                .field("compressed", &built);
        }
        debug.finish()
    }
}

/// The frames of a whole message as a server writes them: `payload` cut into
/// frames of at most `frame_size` bytes (one empty frame for an empty
/// payload), `rsv` on the first frame only, FIN on the last. The same
/// framing as the connection's own `queue_frames`.
fn encode_frames(opcode: OpCode, rsv: Rsv, payload: &[u8], frame_size: usize) -> Bytes {
    let frames = payload.len().div_ceil(frame_size).max(1);
    let mut out = BytesMut::with_capacity(payload.len() + frames * MAX_HEADER_LEN);
    let mut head = [0u8; MAX_HEADER_LEN];
    let (mut opcode, mut rsv) = (opcode, rsv);
    let mut rest = payload;
    loop {
        let len = rest.len().min(frame_size);
        let header = FrameHeader {
            fin: len == rest.len(),
            rsv,
            ..FrameHeader::new(opcode, len as u64)
        };
        let head_len = header.encode(&mut head);
        out.extend_from_slice(&head[..head_len]);
        out.extend_from_slice(&rest[..len]);
        rest = &rest[len..];
        if rest.is_empty() {
            return out.freeze();
        }
        opcode = OpCode::Continuation;
        rsv = Rsv::NONE;
    }
}

impl<T: Timestamp> Connection<T> {
    /// Queues a [`PreparedMessage`]: on a server, a handle to its frames,
    /// neither framed nor copied again (see the type's docs for when it is
    /// copied after all, compressed, or sent as an ordinary message).
    ///
    /// It takes its place in the queue as [`send`](Self::send) would: after
    /// what is queued already, before what comes next; a pong or a ping
    /// queued meanwhile still goes out at the next frame boundary. It fails
    /// as `send` does: [`SendError::Closed`] once a close was sent,
    /// [`SendError::MessageInProgress`] during a fragmented message, and
    /// `SendError::Compression` (feature `deflate`) if its compressed
    /// form could not be built; nothing is queued then.
    ///
    /// ```
    /// # #[cfg(feature = "std")] {
    /// use rfc6455::{Config, Connection, Message, PreparedMessage, Role};
    ///
    /// let config = Config::default();
    /// let prepared = PreparedMessage::for_config(Message::binary(vec![0u8; 100_000]), &config);
    /// let mut shared = Connection::new(Role::Server, config);
    /// shared.send_prepared(&prepared)?;
    /// let mut ordinary = Connection::new(Role::Server, config);
    /// ordinary.send(prepared.message().clone())?;
    /// assert_eq!(shared.buffered_amount(), ordinary.buffered_amount());
    /// assert_eq!(shared.take_transmit(), ordinary.take_transmit());
    /// # }
    /// # Ok::<(), rfc6455::SendError>(())
    /// ```
    pub fn send_prepared(&mut self, prepared: &PreparedMessage) -> Result<(), SendError> {
        self.check_can_send()?;
        if self.sending.is_some() {
            return Err(SendError::MessageInProgress);
        }
        if self.role == Role::Client {
            // Section 5.3: each frame a client sends is masked with a fresh
            // key, so its bytes are its own.
            return self.send(prepared.message().clone());
        }
        #[cfg(feature = "deflate")]
        if self.compresses(prepared.message().len())
            && let Some(deflate) = self.deflate.as_ref()
        {
            let params = deflate.params;
            if !params.server_no_context_takeover() {
                // The compressed bytes depend on this connection's context.
                return self.send(prepared.message().clone());
            }
            let compressed = prepared
                .compressed(params.server_max_window_bits())
                .map_err(|_| SendError::Compression)?;
            if let Some(frames) = compressed {
                self.queue_prepared(frames);
                return Ok(());
            }
        }
        self.queue_prepared(prepared.frames());
        Ok(())
    }

    /// Queues whole frames, by handle unless they are short.
    fn queue_prepared(&mut self, frames: &Bytes) {
        if frames.len() < SHARED_PAYLOAD {
            self.out.push_frames(frames);
        } else {
            self.out.push_frames_shared(frames.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{FrameHeader, HeaderStatus};

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn a_prepared_message_is_send_and_sync() {
        assert_send_sync::<PreparedMessage>();
    }

    /// Decodes `wire` into its headers and payloads.
    fn frames(mut wire: &[u8]) -> Vec<(FrameHeader, Vec<u8>)> {
        let mut out = Vec::new();
        while !wire.is_empty() {
            let HeaderStatus::Complete { header, len } =
                FrameHeader::decode(wire, Rsv::RSV1).unwrap()
            else {
                panic!("a partial header");
            };
            let end = len + header.payload_len as usize;
            out.push((header, wire[len..end].to_vec()));
            wire = &wire[end..];
        }
        out
    }

    #[test]
    fn frames_are_cut_at_the_frame_size() {
        for (len, size, count) in [
            (0, 10, 1),
            (1, 10, 1),
            (10, 10, 1),
            (11, 10, 2),
            (25, 0, 25),
        ] {
            let payload: Vec<u8> = (0..len as u8).collect();
            let prepared = PreparedMessage::new(Message::binary(payload.clone()), size);
            let decoded = frames(prepared.frames());
            assert_eq!(decoded.len(), count, "{len} bytes by {size}");
            let mut joined = Vec::new();
            for (i, (header, data)) in decoded.iter().enumerate() {
                let first = i == 0;
                let opcode = if first {
                    OpCode::Binary
                } else {
                    OpCode::Continuation
                };
                assert_eq!(header.opcode, opcode);
                assert_eq!(header.fin, i + 1 == count);
                assert_eq!(header.mask, None);
                assert_eq!(header.rsv, Rsv::NONE);
                assert!(data.len() <= size.max(1));
                joined.extend_from_slice(data);
            }
            assert_eq!(joined, payload);
        }
    }

    #[test]
    fn a_message_of_one_frame_is_a_slice_of_it() {
        for message in [Message::text("héllo"), Message::binary(vec![9; 300])] {
            let prepared = PreparedMessage::new(message.clone(), 1000);
            assert_eq!(prepared.message(), &message);
            let frames = prepared.frames().as_ptr_range();
            assert!(frames.contains(&prepared.message().as_bytes().as_ptr()));
        }
        let long = Message::binary(vec![9; 3000]);
        let prepared = PreparedMessage::new(long.clone(), 1000);
        assert_eq!(
            prepared.message().as_bytes().as_ptr(),
            long.as_bytes().as_ptr()
        );
    }

    #[test]
    fn clones_share_the_frames() {
        let prepared = PreparedMessage::new(Message::text("shared"), 1024);
        let clone = prepared.clone();
        assert_eq!(prepared.frames().as_ptr(), clone.frames().as_ptr());
        assert_eq!(clone.message(), &Message::text("shared"));
        assert_eq!(clone.frame_size(), 1024);
    }

    #[cfg(feature = "deflate")]
    #[test]
    fn compressed_forms_are_built_once_per_window() {
        let text = "all work and no play ".repeat(100);
        let prepared = PreparedMessage::new(Message::text(text.clone()), 1 << 16);
        let first = prepared.compressed(15).unwrap().unwrap().clone();
        let again = prepared.compressed(15).unwrap().unwrap();
        assert_eq!(first.as_ptr(), again.as_ptr(), "kept, not built again");
        assert!(first.len() < text.len());
        assert_eq!(first[0], 0xc1, "FIN, RSV1, text");
        // 8 bits is served by 9, as the connection's compressor does.
        let nine = prepared.compressed(9).unwrap().unwrap().as_ptr();
        assert_eq!(prepared.compressed(8).unwrap().unwrap().as_ptr(), nine);
        assert!(format!("{prepared:?}").contains("compressed: [9, 15]"));
    }

    #[cfg(feature = "deflate")]
    #[test]
    fn a_message_that_does_not_shrink_stays_uncompressed() {
        // A xorshift stream: no repeats for deflate to find.
        let mut x = 0x2545_f491_u32;
        let noise: Vec<u8> = (0..4096)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        let prepared = PreparedMessage::new(Message::binary(noise), 1 << 16);
        assert_eq!(prepared.compressed(15), Ok(None));
        let empty = PreparedMessage::new(Message::binary(Vec::new()), 1 << 16);
        assert_eq!(empty.compressed(15), Ok(None));
    }
}
