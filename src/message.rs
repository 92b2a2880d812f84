//! Messages: reassembly of fragments, incremental UTF-8 validation and the
//! message size limit (RFC 6455 sections 5.4, 5.6, 8.1).
//!
//! The [`Assembler`] is told about each data frame as its header arrives, is
//! given the unmasked payload bytes as they arrive, and hands out a whole
//! [`Message`] when the last fragment completes. Text is validated as the
//! bytes come in, so an invalid sequence fails the message as soon as its
//! bytes are in, not when the frame or the message ends.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::ops::Deref;

use bytes::Bytes;

use crate::close::CloseCode;
#[cfg(feature = "deflate")]
use crate::deflate::{InflateError, Inflater};
#[cfg(feature = "deflate")]
use crate::frame::Rsv;
use crate::frame::{FrameHeader, OpCode};

/// A whole WebSocket message (section 5.6).
///
/// ```
/// use rfc6455::Message;
///
/// let text = Message::text("hello");
/// assert_eq!(text.as_text(), Some("hello"));
/// let binary = Message::binary(vec![1, 2, 3]);
/// assert_eq!(binary.as_bytes(), &[1, 2, 3]);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Message {
    /// A text message: always valid UTF-8.
    Text(Utf8Bytes),
    /// A binary message.
    Binary(Bytes),
}

impl Message {
    /// A text message.
    pub fn text(text: impl Into<Utf8Bytes>) -> Message {
        Message::Text(text.into())
    }

    /// A binary message.
    pub fn binary(data: impl Into<Bytes>) -> Message {
        Message::Binary(data.into())
    }

    /// The payload bytes, whatever the kind.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Message::Text(text) => text.as_bytes(),
            Message::Binary(data) => data,
        }
    }

    /// The text, if this is a text message.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Message::Text(text) => Some(text.as_str()),
            Message::Binary(_) => None,
        }
    }

    /// The payload length in bytes.
    pub fn len(&self) -> usize {
        self.as_bytes().len()
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The payload, whatever the kind, without a copy.
    ///
    /// ```
    /// use rfc6455::Message;
    ///
    /// assert_eq!(Message::text("hi").into_bytes(), &b"hi"[..]);
    /// ```
    pub fn into_bytes(self) -> Bytes {
        match self {
            Message::Text(text) => text.into_bytes(),
            Message::Binary(data) => data,
        }
    }

    /// Whether this is a text or a binary message.
    pub fn kind(&self) -> DataKind {
        match self {
            Message::Text(_) => DataKind::Text,
            Message::Binary(_) => DataKind::Binary,
        }
    }
}

/// The two kinds of data message (section 5.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DataKind {
    /// UTF-8 text, opcode 0x1.
    Text,
    /// Arbitrary bytes, opcode 0x2.
    Binary,
}

impl DataKind {
    /// The opcode of a message's first frame.
    pub fn opcode(self) -> OpCode {
        match self {
            DataKind::Text => OpCode::Text,
            DataKind::Binary => OpCode::Binary,
        }
    }
}

/// Bytes known to be valid UTF-8: a text payload shared without a copy.
///
/// ```
/// use rfc6455::Utf8Bytes;
///
/// let text = Utf8Bytes::from("héllo");
/// assert_eq!(text.as_str(), "héllo");
/// assert_eq!(text.len(), 6);
/// assert!(Utf8Bytes::try_from(bytes::Bytes::from_static(b"\xff")).is_err());
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Utf8Bytes(Bytes);

impl Utf8Bytes {
    /// Wraps bytes the caller has already validated.
    pub(crate) fn from_validated(bytes: Bytes) -> Utf8Bytes {
        debug_assert!(core::str::from_utf8(&bytes).is_ok());
        Utf8Bytes(bytes)
    }

    /// The text.
    #[inline]
    pub fn as_str(&self) -> &str {
        // SAFETY: every constructor of `Utf8Bytes` takes a `String`, a `str`
        // or bytes that passed UTF-8 validation (`from_validated` is only
        // called after `Utf8Validator::finish`), and the bytes are immutable.
        // Checking again on every access would make each `as_str` O(n).
        unsafe { core::str::from_utf8_unchecked(&self.0) }
    }

    /// The UTF-8 bytes.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The underlying bytes.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }
}

impl Deref for Utf8Bytes {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Debug for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<String> for Utf8Bytes {
    fn from(text: String) -> Self {
        Utf8Bytes(Bytes::from(text))
    }
}

impl From<&'static str> for Utf8Bytes {
    fn from(text: &'static str) -> Self {
        Utf8Bytes(Bytes::from_static(text.as_bytes()))
    }
}

impl TryFrom<Bytes> for Utf8Bytes {
    type Error = core::str::Utf8Error;
    fn try_from(bytes: Bytes) -> Result<Self, Self::Error> {
        core::str::from_utf8(&bytes)?;
        Ok(Utf8Bytes(bytes))
    }
}

impl From<Utf8Bytes> for Bytes {
    fn from(text: Utf8Bytes) -> Bytes {
        text.0
    }
}

/// Validates UTF-8 that arrives in pieces, failing as soon as the bytes
/// received so far cannot begin any valid text.
///
/// A sequence cut between two pieces is fine; [`finish`](Self::finish) fails
/// if the text ends inside one.
///
/// ```
/// use rfc6455::message::Utf8Validator;
///
/// let mut v = Utf8Validator::new();
/// assert!(v.feed(b"caf\xc3").is_ok()); // cut inside "é"
/// assert!(v.feed(b"\xa9").is_ok());
/// assert!(v.finish().is_ok());
///
/// let mut v = Utf8Validator::new();
/// assert!(v.feed(b"\xed\xa0").is_err()); // a surrogate: wrong at the second byte
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct Utf8Validator {
    /// The start of a sequence cut at the end of the last piece.
    pending: [u8; 4],
    pending_len: u8,
}

impl Utf8Validator {
    /// A validator at the start of a text.
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks the next piece of the text.
    pub fn feed(&mut self, mut piece: &[u8]) -> Result<(), MessageError> {
        if self.pending_len > 0 {
            let have = usize::from(self.pending_len);
            let need = sequence_len(self.pending[0]);
            let take = (need - have).min(piece.len());
            self.pending[have..have + take].copy_from_slice(&piece[..take]);
            let have = have + take;
            piece = &piece[take..];
            match core::str::from_utf8(&self.pending[..have]) {
                Ok(_) => self.pending_len = 0,
                Err(e) if e.error_len().is_none() && have < need => {
                    self.pending_len = have as u8;
                    return Ok(());
                }
                Err(_) => return Err(MessageError::InvalidUtf8),
            }
        }
        match validate(piece) {
            Ok(()) => Ok(()),
            Err(e) if e.error_len().is_none() => {
                let tail = &piece[e.valid_up_to()..];
                self.pending[..tail.len()].copy_from_slice(tail);
                self.pending_len = tail.len() as u8;
                Ok(())
            }
            Err(_) => Err(MessageError::InvalidUtf8),
        }
    }

    /// Checks that the text does not end inside a sequence.
    pub fn finish(&self) -> Result<(), MessageError> {
        if self.pending_len == 0 {
            Ok(())
        } else {
            Err(MessageError::InvalidUtf8)
        }
    }
}

/// The length of the sequence a lead byte starts; 1 for bytes that cannot
/// lead (they are rejected by the check that follows).
fn sequence_len(lead: u8) -> usize {
    match lead {
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF7 => 4,
        _ => 1,
    }
}

/// Whole-slice UTF-8 validation. `error_len() == None` means the slice ends
/// inside a sequence that could still be valid.
///
/// `simdutf8`'s `compat` flavour picks SSE4.2, AVX2 or NEON at run time and
/// reports, like `std`, where a sequence is cut: what a validator fed in
/// pieces needs. Without the feature `std` it has no run-time detection and
/// takes what the build targets (NEON on aarch64, `simd128` on wasm32,
/// SSE4.2 or AVX2 only with `-C target-feature`), else `core`'s scalar check
/// (Cortex-M). Under Miri, `core`'s scalar check stands in.
#[inline]
fn validate(bytes: &[u8]) -> Result<(), Utf8Error> {
    #[cfg(not(miri))]
    return simdutf8::compat::from_utf8(bytes).map(|_| ());
    #[cfg(miri)]
    return core::str::from_utf8(bytes).map(|_| ());
}

#[cfg(miri)]
use core::str::Utf8Error;
#[cfg(not(miri))]
use simdutf8::compat::Utf8Error;

/// Reassembles the data frames of one message at a time, checking the
/// fragmentation rules, the size limit and (for text) UTF-8.
///
/// Control frames never reach it: they may come between fragments and are the
/// connection's business.
///
/// ```
/// use bytes::Bytes;
/// use rfc6455::frame::{FrameHeader, OpCode};
/// use rfc6455::message::Assembler;
/// use rfc6455::Message;
///
/// let mut assembler = Assembler::new(1 << 20);
/// let first = FrameHeader { fin: false, ..FrameHeader::new(OpCode::Text, 3) };
/// assembler.begin_frame(&first)?;
/// assembler.check(b"Hel")?;
/// assert_eq!(assembler.end_frame(Bytes::from_static(b"Hel"))?, None);
///
/// let last = FrameHeader::new(OpCode::Continuation, 2);
/// assembler.begin_frame(&last)?;
/// assembler.check(b"lo")?;
/// let message = assembler.end_frame(Bytes::from_static(b"lo"))?;
/// assert_eq!(message, Some(Message::text("Hello")));
/// # Ok::<(), rfc6455::message::MessageError>(())
/// ```
#[derive(Debug)]
pub struct Assembler {
    max_message_size: u64,
    /// The kind of the open message, if a first fragment has arrived.
    open: Option<DataKind>,
    /// Whether the frame being received ends the message.
    fin: bool,
    /// The first fragment, kept without a copy in case it is also the last.
    first: Option<Bytes>,
    /// Later fragments, appended; grown as a `Vec` (doubling), so that a
    /// message in many frames is moved a logarithmic number of times, and
    /// handed out without a copy.
    rest: Vec<u8>,
    /// Bytes announced so far for the open message, counting the current
    /// frame's full length.
    len: u64,
    utf8: Utf8Validator,
    /// The kind of a message complete in `first`, set aside while the next
    /// one is begun ([`park_message`](Self::park_message)).
    parked: Option<DataKind>,
    /// permessage-deflate, when agreed: inflates messages whose first frame
    /// has RSV1 set. Boxed, so that a connection without it stays small.
    #[cfg(feature = "deflate")]
    inflating: Option<Box<Inflating>>,
}

/// The receiving side of permessage-deflate.
#[cfg(feature = "deflate")]
#[derive(Debug)]
struct Inflating {
    inflater: Inflater,
    /// Whether the open message is compressed; its payload is then inflated
    /// into `inflated` and the wire bytes are dropped.
    compressed: bool,
    inflated: Vec<u8>,
}

impl Assembler {
    /// An assembler that refuses messages over `max_message_size` bytes.
    pub fn new(max_message_size: u64) -> Self {
        Assembler {
            max_message_size,
            open: None,
            fin: false,
            first: None,
            rest: Vec::new(),
            len: 0,
            utf8: Utf8Validator::new(),
            parked: None,
            #[cfg(feature = "deflate")]
            inflating: None,
        }
    }

    /// An assembler for a connection that agreed permessage-deflate
    /// (RFC 7692): a message whose first frame has RSV1 set is inflated as
    /// it arrives, and the limit counts inflated bytes.
    #[cfg(feature = "deflate")]
    #[cfg_attr(docsrs, doc(cfg(feature = "deflate")))]
    pub fn with_inflater(max_message_size: u64, inflater: Inflater) -> Self {
        Assembler {
            inflating: Some(Box::new(Inflating {
                inflater,
                compressed: false,
                inflated: Vec::new(),
            })),
            ..Assembler::new(max_message_size)
        }
    }

    /// Whether a fragmented message is open, waiting for continuations.
    pub fn is_open(&self) -> bool {
        self.open.is_some()
    }

    /// The kind of the open message.
    pub fn open_kind(&self) -> Option<DataKind> {
        self.open
    }

    /// Takes the header of a data frame (text, binary or continuation) and
    /// checks it against the message in progress, before any payload.
    pub fn begin_frame(&mut self, header: &FrameHeader) -> Result<(), MessageError> {
        match (header.opcode, self.open) {
            // Section 5.4: a fragmented message is "a single frame with the
            // FIN bit clear and an opcode other than 0, followed by zero or
            // more frames with the FIN bit clear and the opcode set to 0".
            (OpCode::Continuation, None) => return Err(MessageError::UnexpectedContinuation),
            (OpCode::Text | OpCode::Binary, Some(_)) => {
                return Err(MessageError::UnfinishedMessage);
            }
            (OpCode::Text, None) => self.start(DataKind::Text),
            (OpCode::Binary, None) => self.start(DataKind::Binary),
            (OpCode::Continuation, Some(_)) => {}
            (OpCode::Close | OpCode::Ping | OpCode::Pong, _) => {
                debug_assert!(false, "control frames are not message fragments");
            }
        }
        #[cfg(feature = "deflate")]
        if let Some(inflating) = self.inflating.as_mut() {
            let rsv1 = header.rsv.contains(Rsv::RSV1);
            if header.opcode == OpCode::Continuation {
                // RFC 7692 section 6.1: the "Per-Message Compressed" bit is
                // set on the first frame only; "An endpoint MUST NOT set the
                // 'Per-Message Compressed' bit of control frames and
                // non-first fragments of a data message."
                if rsv1 {
                    return Err(MessageError::CompressedContinuation);
                }
            } else {
                inflating.compressed = rsv1;
            }
            if inflating.compressed {
                // The limit counts inflated bytes, checked while inflating;
                // the wire bytes are dropped frame by frame.
                self.fin = header.fin;
                return Ok(());
            }
        }
        // Section 10.4: the limit is on the message, across its fragments.
        let len = self.len.saturating_add(header.payload_len);
        if len > self.max_message_size {
            return Err(MessageError::MessageTooBig {
                len,
                max: self.max_message_size,
            });
        }
        self.len = len;
        self.fin = header.fin;
        Ok(())
    }

    fn start(&mut self, kind: DataKind) {
        self.open = Some(kind);
        self.len = 0;
        self.utf8 = Utf8Validator::new();
    }

    /// Checks the next unmasked bytes of the current frame's payload as they
    /// arrive: for text, UTF-8 so far.
    ///
    /// For a compressed message this is where the bytes are inflated, and
    /// the inflated text is checked as it comes out.
    #[inline]
    pub fn check(&mut self, payload: &[u8]) -> Result<(), MessageError> {
        #[cfg(feature = "deflate")]
        if self.is_compressed() {
            return self.inflate(payload, false);
        }
        if self.open == Some(DataKind::Text) {
            self.utf8.feed(payload)?;
        }
        Ok(())
    }

    /// Takes the whole, unmasked payload of the current frame, already given
    /// to [`check`](Self::check), and returns the message if this frame ended
    /// it.
    #[inline]
    pub fn end_frame(&mut self, payload: Bytes) -> Result<Option<Message>, MessageError> {
        let Some(kind) = self.open else {
            debug_assert!(false, "end_frame without begin_frame");
            return Ok(None);
        };
        #[cfg(feature = "deflate")]
        if let Some(inflating) = self.inflating.as_mut().filter(|i| i.compressed) {
            // The payload was inflated by `check`; only the end is left.
            drop(payload);
            if !self.fin {
                return Ok(None);
            }
            inflating.compressed = false;
            self.inflate(&[], true)?;
            self.open = None;
            let inflated = self
                .inflating
                .as_mut()
                .map(|i| std::mem::take(&mut i.inflated));
            let data = Bytes::from(inflated.unwrap_or_default());
            return Ok(Some(match kind {
                DataKind::Text => {
                    self.utf8.finish()?;
                    Message::Text(Utf8Bytes::from_validated(data))
                }
                DataKind::Binary => Message::Binary(data),
            }));
        }
        if self.fin && self.first.is_none() && self.rest.is_empty() {
            // A message in one frame, the common case: handed out as is.
            self.open = None;
            return Ok(Some(match kind {
                DataKind::Text => {
                    // Section 8.1: text ending inside a sequence is invalid.
                    self.utf8.finish()?;
                    Message::Text(Utf8Bytes::from_validated(payload))
                }
                DataKind::Binary => Message::Binary(payload),
            }));
        }
        if self.first.is_none() && self.rest.is_empty() {
            self.first = Some(payload);
        } else {
            if let Some(first) = self.first.take() {
                self.rest.reserve(first.len() + payload.len());
                self.rest.extend_from_slice(&first);
            }
            self.rest.extend_from_slice(&payload);
        }
        if !self.fin {
            return Ok(None);
        }
        self.open = None;
        let data = match self.first.take() {
            Some(first) => first,
            // Taken whole: the buffer does not outlive the message it held.
            None => Bytes::from(core::mem::take(&mut self.rest)),
        };
        Ok(Some(match kind {
            DataKind::Text => {
                // Section 8.1: text ending inside a sequence is invalid.
                self.utf8.finish()?;
                Message::Text(Utf8Bytes::from_validated(data))
            }
            DataKind::Binary => Message::Binary(data),
        }))
    }
}

/// The payload of a fragment taken straight into the message, as the
/// connection receives it: copied once, from the bytes read into the message.
impl Assembler {
    /// Whether the payload of the data frame just begun (with
    /// [`begin_frame`](Self::begin_frame)) is better appended to the message
    /// as it arrives than buffered whole: a fragment of a message in several
    /// frames, not compressed. A message in one frame is handed out as the
    /// frame's own buffer instead, unless its payload outgrows the buffer it
    /// arrived in: then the connection moves it here as well.
    pub(crate) fn takes_payload(&self, header: &FrameHeader) -> bool {
        #[cfg(feature = "deflate")]
        if self.is_compressed() {
            return false;
        }
        header.opcode == OpCode::Continuation || !header.fin
    }

    /// Whether the message being received is compressed: its frames are
    /// buffered whole, and inflated into a message held beside them.
    pub(crate) fn inflates(&self) -> bool {
        #[cfg(feature = "deflate")]
        return self.is_compressed();
        #[cfg(not(feature = "deflate"))]
        false
    }

    /// The message so far, with room for `additional` more bytes of the
    /// current frame; a first fragment kept aside is moved in first.
    ///
    /// It grows to powers of two (at most the message limit): as few moves
    /// as doubling, and a message of a round size, such as 16 MiB in 64 KiB
    /// frames, ends in a buffer of its own size rather than twice it. In
    /// the frame that ends the message, whose length is then known, it
    /// grows to four times what arrived (at least 64 KiB) and never past
    /// that length, so that a message in one frame ends in a buffer of
    /// its own size.
    pub(crate) fn payload_buffer(&mut self, additional: usize) -> &mut Vec<u8> {
        self.payload_buffer_past_end(additional, 0)
    }

    /// [`payload_buffer`](Self::payload_buffer), whose growth in the frame
    /// that ends the message stops `past_end` bytes past the message's end
    /// rather than at it: room for bytes of the next frame read with the
    /// end of this one, which the caller takes out again, so that they do
    /// not make the buffer move once it has reached the message's size.
    pub(crate) fn payload_buffer_past_end(
        &mut self,
        additional: usize,
        past_end: usize,
    ) -> &mut Vec<u8> {
        let first = match self.parked {
            Some(_) => None,
            None => self.first.take(),
        };
        let first_len = first.as_ref().map_or(0, Bytes::len);
        let needed = self.rest.len() + first_len + additional;
        if needed > self.rest.capacity() {
            let max = usize::try_from(self.max_message_size).unwrap_or(usize::MAX);
            let mut capacity = needed.checked_next_power_of_two().unwrap_or(needed);
            if self.fin {
                // The frame ends the message, whose length is then known:
                // the buffer grows to it in larger steps (four times what
                // arrived, at least 64 KiB), and never past it.
                let end = usize::try_from(self.len).unwrap_or(usize::MAX);
                let arrived = needed - additional;
                capacity = capacity
                    .max(arrived.saturating_mul(4).max(64 << 10))
                    .min(end.saturating_add(past_end));
            }
            let capacity = capacity.min(max).max(needed);
            self.rest.reserve_exact(capacity - self.rest.len());
        }
        if let Some(first) = first {
            self.rest.extend_from_slice(&first);
        }
        &mut self.rest
    }

    /// Bytes in the message so far.
    pub(crate) fn payload_len(&self) -> usize {
        match self.parked {
            Some(_) => self.rest.len(),
            None => self.rest.len() + self.first.as_ref().map_or(0, Bytes::len),
        }
    }

    /// Whether a message of `len` bytes in one uncompressed frame is within
    /// the limit.
    pub(crate) fn fits(&self, len: u64) -> bool {
        len <= self.max_message_size
    }

    /// Sets the message whose last frame was appended whole and checked
    /// ([`payload_buffer`](Self::payload_buffer)) aside, as
    /// [`end_frame`](Self::end_frame) would hand it out, so that the next
    /// message can begin before it is taken ([`take_parked`](Self::take_parked)).
    /// `false`, changing nothing, when it cannot: no such message, one set
    /// aside already, a compressed one, or text that ends inside a sequence
    /// (for `end_frame` to report).
    pub(crate) fn park_message(&mut self) -> bool {
        let Some(kind) = self.open else {
            return false;
        };
        if !self.fin
            || self.parked.is_some()
            || self.first.is_some()
            || self.inflates()
            || (kind == DataKind::Text && self.utf8.finish().is_err())
        {
            return false;
        }
        self.open = None;
        self.first = Some(Bytes::from(core::mem::take(&mut self.rest)));
        self.parked = Some(kind);
        true
    }

    /// Whether a message is set aside ([`park_message`](Self::park_message)).
    #[inline]
    pub(crate) fn has_parked(&self) -> bool {
        self.parked.is_some()
    }

    /// The message set aside, if any.
    pub(crate) fn take_parked(&mut self) -> Option<Message> {
        let kind = self.parked.take()?;
        let data = self.first.take().unwrap_or_default();
        Some(match kind {
            DataKind::Text => Message::Text(Utf8Bytes::from_validated(data)),
            DataKind::Binary => Message::Binary(data),
        })
    }

    /// Checks the bytes appended to [`payload_buffer`](Self::payload_buffer)
    /// from `from` on, as [`check`](Self::check) does. A failed check
    /// changes nothing, so that the same bytes checked again fail again.
    pub(crate) fn check_appended(&mut self, from: usize) -> Result<(), MessageError> {
        if self.open == Some(DataKind::Text) {
            let mut utf8 = self.utf8;
            utf8.feed(&self.rest[from..])?;
            self.utf8 = utf8;
        }
        Ok(())
    }
}

#[cfg(feature = "deflate")]
impl Assembler {
    /// Inflates the next bytes of a compressed message (or its end), checking
    /// text as it comes out and the limit on inflated bytes.
    #[inline]
    fn is_compressed(&self) -> bool {
        self.inflating.as_ref().is_some_and(|i| i.compressed)
    }

    fn inflate(&mut self, payload: &[u8], end: bool) -> Result<(), MessageError> {
        let Some(inflating) = self.inflating.as_deref_mut() else {
            return Ok(());
        };
        let Inflating {
            inflater, inflated, ..
        } = inflating;
        let max = usize::try_from(self.max_message_size).unwrap_or(usize::MAX);
        let utf8 = &mut self.utf8;
        let text = self.open == Some(DataKind::Text);
        let check = |fresh: &[u8]| if text { utf8.feed(fresh) } else { Ok(()) };
        if end {
            inflater.finish(inflated, max, check)
        } else {
            inflater.inflate(payload, inflated, max, check)
        }
    }
}

#[cfg(feature = "deflate")]
impl From<InflateError> for MessageError {
    fn from(error: InflateError) -> Self {
        match error {
            InflateError::Corrupt => MessageError::InvalidCompressedData,
            InflateError::TooBig { len, max } => MessageError::MessageTooBig { len, max },
        }
    }
}

/// A data frame that breaks a message rule (sections 5.4, 8.1, 10.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MessageError {
    /// A continuation frame with no fragmented message open.
    #[error("continuation frame with no message in progress")]
    UnexpectedContinuation,
    /// A new text or binary frame while a fragmented message is still open.
    #[error("new data frame before the fragmented message was finished")]
    UnfinishedMessage,
    /// Text that is not valid UTF-8.
    #[error("text is not valid UTF-8")]
    InvalidUtf8,
    /// A message larger than the configured limit, counted across fragments.
    #[error("message of {len} bytes or more exceeds the limit of {max}")]
    MessageTooBig {
        /// The length announced so far (inflated, for a compressed message).
        len: u64,
        /// The limit.
        max: u64,
    },
    /// RSV1 on a continuation frame of a connection that agreed
    /// permessage-deflate (RFC 7692 section 6.1).
    #[error("RSV1 set on a continuation frame")]
    CompressedContinuation,
    /// A compressed message that is not valid DEFLATE data (RFC 7692
    /// section 7.2.2).
    #[error("compressed message is not valid DEFLATE data")]
    InvalidCompressedData,
}

impl MessageError {
    /// The close code this error puts on the wire: 1002 for fragmentation
    /// and a misplaced RSV1, 1007 for bad UTF-8 or corrupt compressed data,
    /// 1009 for size.
    pub fn close_code(&self) -> CloseCode {
        match self {
            MessageError::UnexpectedContinuation
            | MessageError::UnfinishedMessage
            | MessageError::CompressedContinuation => CloseCode::ProtocolError,
            MessageError::InvalidUtf8 | MessageError::InvalidCompressedData => {
                CloseCode::InvalidPayload
            }
            MessageError::MessageTooBig { .. } => CloseCode::MessageTooBig,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn validator_fails_at_the_first_impossible_byte() {
        // 0xF4 0x90 is above U+10FFFF: wrong at the second byte.
        let mut v = Utf8Validator::new();
        assert!(v.feed(b"\xf4").is_ok());
        assert_eq!(v.feed(b"\x90"), Err(MessageError::InvalidUtf8));
        // Overlong 0xC0 fails alone.
        assert_eq!(
            Utf8Validator::new().feed(b"\xc0"),
            Err(MessageError::InvalidUtf8)
        );
        // A cut sequence completed byte by byte.
        let mut v = Utf8Validator::new();
        for byte in "𝄞".as_bytes() {
            v.feed(&[*byte]).unwrap();
        }
        v.finish().unwrap();
        // Ending inside a sequence.
        let mut v = Utf8Validator::new();
        v.feed(b"ab\xe2\x82").unwrap();
        assert_eq!(v.finish(), Err(MessageError::InvalidUtf8));
    }

    #[test]
    fn utf8_bytes_round_trip() {
        let text = Utf8Bytes::from(String::from("zürich"));
        assert_eq!(text.as_str(), "zürich");
        assert_eq!(text.as_bytes(), "zürich".as_bytes());
        assert_eq!(
            Bytes::from(text.clone()),
            Bytes::from_static("zürich".as_bytes())
        );
        assert!(Utf8Bytes::try_from(Bytes::from_static(b"\xc3")).is_err());
        let valid = Utf8Bytes::try_from(Bytes::from_static("ok".as_bytes())).unwrap();
        assert_eq!(&*valid, "ok");
    }

    #[test]
    fn message_size_counts_every_fragment() {
        let mut a = Assembler::new(10);
        let first = FrameHeader {
            fin: false,
            ..FrameHeader::new(OpCode::Binary, 6)
        };
        a.begin_frame(&first).unwrap();
        a.end_frame(Bytes::from_static(b"123456")).unwrap();
        let next = FrameHeader::new(OpCode::Continuation, 5);
        assert_eq!(
            a.begin_frame(&next),
            Err(MessageError::MessageTooBig { len: 11, max: 10 })
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(if cfg!(miri) { 4 } else { 256 }))]

        #[test]
        fn validator_agrees_with_std_at_any_split(
            bytes in proptest::collection::vec(prop_oneof![any::<u8>(), Just(0xe2), Just(0x82), Just(0xac)], 0..40),
            cut in any::<prop::sample::Index>(),
        ) {
            let cut = cut.index(bytes.len() + 1);
            let mut v = Utf8Validator::new();
            let ours = v.feed(&bytes[..cut]).and_then(|()| v.feed(&bytes[cut..])).and_then(|()| v.finish());
            prop_assert_eq!(ours.is_ok(), core::str::from_utf8(&bytes).is_ok());
        }

        #[test]
        fn valid_text_passes_at_any_split(text in "\\PC{0,30}", cut in any::<prop::sample::Index>()) {
            let bytes = text.as_bytes();
            let cut = cut.index(bytes.len() + 1);
            let mut v = Utf8Validator::new();
            v.feed(&bytes[..cut]).unwrap();
            v.feed(&bytes[cut..]).unwrap();
            prop_assert!(v.finish().is_ok());
        }
    }
}
