//! What a connection receives: bytes in, frames checked and unmasked,
//! events out (RFC 6455 sections 5.1 to 5.5 and 10.4).

use bytes::{Buf, Bytes, BytesMut};

use super::{Connection, Event, ProtocolError, Role};
use crate::close::{CloseCode, CloseFrame};
use crate::frame::{FrameError, FrameHeader, HeaderStatus, OpCode, Rsv};
use crate::mask::{Masker, apply_mask};
use crate::message::Assembler;
use crate::time::Timestamp;

/// The frame whose payload is arriving.
#[derive(Debug)]
pub(super) struct Incoming {
    header: FrameHeader,
    /// Unmasks the payload as it arrives; `None` for unmasked frames.
    masker: Option<Masker>,
    /// Payload bytes already unmasked and checked: at the front of the
    /// receive buffer, or of this frame's part of the message.
    checked: usize,
    /// Where the payload goes as it arrives.
    into: Destination,
}

/// Where the payload of the frame being received goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Destination {
    /// The receive buffer, behind its header in the buffer of the read
    /// that brought it.
    Buffer,
    /// The receive buffer, grown for this payload: it holds the payload at
    /// its front and nothing else. A compressed message's frames, which are
    /// inflated whole, go there, and frames under [`INTO_MESSAGE_AT`]; other
    /// data frames go to the message.
    GrownBuffer,
    /// Straight into the message being assembled, from this offset in it:
    /// a fragment ([`Assembler::takes_payload`]), or a frame that would
    /// otherwise need a buffer of its own ([`Connection::payload_to_message`]).
    Message(usize),
}

impl Incoming {
    /// Where this frame's payload starts in the message being assembled,
    /// when it goes straight there; `None` when it is buffered.
    fn direct(&self) -> Option<usize> {
        match self.into {
            Destination::Message(base) => Some(base),
            Destination::Buffer | Destination::GrownBuffer => None,
        }
    }
}

/// The largest receive buffer kept once every byte in it was consumed: a
/// connection between messages holds at most this much, and messages this
/// small are received without an allocation per read.
const KEEP_IDLE: usize = 256;

/// The least room reserved at once for a payload that arrives in pieces.
const GROW_STEP: usize = 64 << 10;

/// A payload that arrives in pieces in the receive buffer moves to a buffer
/// this many times the size of what arrived (at most the frame, and at
/// least [`GROW_STEP`]): a control frame, or a data frame under
/// [`INTO_MESSAGE_AT`]. A compressed message's frame grows by two
/// ([`grow_factor`]), and larger payloads go to the message, whose last
/// frame grows by this rule ([`Assembler::payload_buffer`]).
///
/// Each step copies what arrived, so a frame of `n` bytes is copied about
/// `n / (GROW_FACTOR - 1)` times over as it grows: with 2, its own size
/// again, which cost a 16 MiB echo at 16 connections 20% of the server's
/// time in `realloc` (the allocator cannot grow sixteen buffers in place).
/// With 4, a third of it, and 12% less CPU per message there; a header that
/// announces more than the peer sends makes us reserve at most four times
/// what did arrive, and untouched reserved pages cost no memory.
const GROW_FACTOR: usize = 4;

/// The header at the front of `bytes`, if it is whole (its rules are
/// checked by the caller).
///
/// Not inlined and not generic, so compiled once in this crate: in the
/// caller's instance of `Connection`, `FrameHeader::decode` then has one call
/// site, in `poll_event`, where LLVM inlines it. A second call site there
/// made LLVM outline it, which cost every small frame about 50 instructions
/// (callgrind, decoding 0 B and 16 B frames).
#[inline(never)]
fn whole_header(bytes: &[u8], allowed_rsv: Rsv) -> Option<(FrameHeader, usize)> {
    match FrameHeader::decode(bytes, allowed_rsv) {
        Ok(HeaderStatus::Complete { header, len }) => Some((header, len)),
        _ => None,
    }
}

/// A data frame's payload at least this long that outgrows the receive
/// buffer goes on in its message, in a buffer sized to the message, rather
/// than in a larger receive buffer ([`Connection::payload_to_message`]).
///
/// Smaller payloads fit in the room one read is given anyway, so the grown
/// receive buffer that holds them serves the reads after them too. Moved
/// into messages of their own sizes, they left freed buffers of many sizes
/// among the allocator's heaps: with the limit at 4 KiB, the soak's server
/// (`scripts/soak.sh`) had less heap in use, yet its RSS settled about
/// 0.8 MiB higher (5.7 MiB over 300 s, against 4.7 to 5.0 after 60 s).
const INTO_MESSAGE_AT: u64 = 64 << 10;

/// Whether the payload of `header`'s frame goes on in its message once it
/// outgrows the receive buffer: a data frame of [`INTO_MESSAGE_AT`] or more
/// of a message that is not compressed (a compressed one's frames are
/// inflated whole, from the receive buffer).
fn moves_into_message(header: &FrameHeader, assembler: &Assembler) -> bool {
    !header.opcode.is_control() && header.payload_len >= INTO_MESSAGE_AT && !assembler.inflates()
}

/// Moves the payload bytes in the receive buffer (the frame's first, none
/// after them) to the end of the message being assembled, and returns where
/// they start there. Bytes up to the masker's position were unmasked where
/// they are; the rest are unmasked on the way. The receive buffer is kept,
/// empty, for the bytes after the frame, so that each read does not
/// allocate one again.
fn recv_to_message(
    assembler: &mut Assembler,
    recv: &mut BytesMut,
    masker: Option<&mut Masker>,
    past_end: usize,
) -> usize {
    let message = assembler.payload_buffer_past_end(recv.len(), past_end);
    let base = message.len();
    match masker {
        Some(masker) => {
            let done = masker.position() as usize;
            message.extend_from_slice(&recv[..done]);
            masker.put(message, &recv[done..]);
        }
        None => message.extend_from_slice(recv),
    }
    recv.clear();
    base
}

/// A payload that arrived in part behind its header, at least this long,
/// moves at once into the message (or, compressed, to a buffer of its own)
/// when the buffer it arrived in has no room for the rest
/// ([`Connection::needs_own_buffer`]).
const MOVE_AT_HEADER: usize = 4 << 10;

/// How many times what arrived the receive buffer may grow to for the frame
/// being received: [`GROW_FACTOR`], or two for a frame of a compressed
/// message. That frame's buffer is held beside the message it inflates into,
/// up to the message limit; growing by two keeps the two together within the
/// limit and 256 KiB (`tests/deflate_memory.rs`, a bomb of 1 GiB).
fn grow_factor(assembler: &Assembler) -> usize {
    if assembler.inflates() { 2 } else { GROW_FACTOR }
}

/// The room to reserve after the first `have` bytes of a payload buffered in
/// the receive buffer (`to_come` more to come) for a read of `read` bytes
/// that brings `payload` of them, growing by `factor` ([`grow_factor`]).
///
/// The room grows in steps of what has arrived (at least [`GROW_STEP`]),
/// never past what the header announced and one read more (section 10.4).
/// Reaching the end of the payload, it leaves room after it for as much as
/// the read brought: the next frame's bytes then do not move this one to a
/// larger buffer.
fn payload_room(have: usize, to_come: usize, payload: usize, read: usize, factor: usize) -> usize {
    let step = (have * (factor - 1)).max(GROW_STEP).max(payload);
    if step >= to_come {
        to_come + read
    } else {
        step
    }
}

/// Makes room in `recv`, which holds the first `recv.len()` bytes of a
/// payload buffered there (`to_come` more to come), for a read of `read`
/// bytes that brings `payload` of them ([`payload_room`]).
fn grow_receive_buffer(
    recv: &mut BytesMut,
    into: &mut Destination,
    to_come: usize,
    payload: usize,
    read: usize,
    factor: usize,
) {
    let have = recv.len();
    let room = payload_room(have, to_come, payload, read, factor);
    // Grown as a `Vec`, to exactly that size: `BytesMut::reserve` would
    // round up to twice the old capacity (a 16 MiB frame would end in a
    // 32 MiB buffer, too large for the allocator to keep for the next one).
    if *into == Destination::GrownBuffer {
        // The buffer holds the payload at its front and nothing else: the
        // conversions move nothing, and `reserve_exact` reallocates, which
        // the allocator can do in place.
        let mut vec = alloc::vec::Vec::from(core::mem::take(recv));
        vec.reserve_exact(room);
        *recv = BytesMut::from(Bytes::from(vec));
    } else {
        // The first step: the payload sits behind its header in the buffer
        // of an earlier read, perhaps shared with frames handed out.
        // Converting that buffer would move the payload to its front (or
        // copy it, when shared) and reallocating would copy it again; a new
        // buffer copies it once.
        *into = Destination::GrownBuffer;
        let mut grown = BytesMut::with_capacity(have + room);
        grown.extend_from_slice(recv);
        *recv = grown;
    }
}

impl<T: Timestamp> Connection<T> {
    /// Takes bytes read from the transport. Call [`poll_event`](Self::poll_event)
    /// after each call: bytes are parsed there. Bytes that arrive after the
    /// peer's close or after a failure are dropped.
    ///
    /// With timers on, prefer [`receive_at`](Self::receive_at): bytes given
    /// here count for the idle and keepalive timers as arriving at the next
    /// time the connection is given.
    pub fn receive(&mut self, bytes: &[u8]) {
        if self.close_received || self.stopped {
            return;
        }
        if bytes.is_empty() {
            return;
        }
        self.timers.bytes_without_time();
        let mut rest = self.receive_payload(bytes);
        // With large reads, one read holds the end of a fragment and the
        // header of the next with much of its payload, or the end of a
        // large message and much of the next one: that payload goes
        // straight into its message too, not through the receive buffer.
        while !rest.is_empty() && self.recv.is_empty() {
            let Some(after) = self.next_fragment(rest).or_else(|| self.next_message(rest)) else {
                break;
            };
            rest = self.receive_payload(after);
        }
        self.recv.extend_from_slice(rest);
        // The buffer starts at the first unconsumed byte: an allocation
        // made by this call is at most its capacity.
        self.recv_large |= self.recv.capacity() > KEEP_IDLE;
    }

    /// Takes the front of `bytes` that continues the payload of the frame
    /// being received, and returns the rest.
    ///
    /// The room reserved for the payload grows with what has arrived, so
    /// that a header that announces a length the peer never sends reserves
    /// at most four times what arrived, plus 64 KiB and one read (section
    /// 10.4). In the message ([`Assembler::payload_buffer`]) it never passes
    /// the message's announced end. In the receive buffer (a compressed
    /// frame) it grows in steps of what has arrived (at least
    /// [`GROW_STEP`], [`GROW_FACTOR`]), and never past what the header
    /// announced and one read more, so that a large frame is not moved
    /// again by the bytes of the next one. The bytes are unmasked as they
    /// are copied in ([`Masker::put`]): one pass over them.
    fn receive_payload<'a>(&mut self, bytes: &'a [u8]) -> &'a [u8] {
        let Some(incoming) = self.incoming.as_ref() else {
            return bytes;
        };
        if incoming.direct().is_none()
            && self.recv.capacity() - self.recv.len() < bytes.len()
            && (self.recv.len() as u64) < incoming.header.payload_len
        {
            // No room here for what arrived: a data frame's payload goes on
            // in the message rather than in a larger receive buffer.
            self.payload_to_message(0);
        }
        let Some(incoming) = self.incoming.as_mut() else {
            return bytes;
        };
        // Checked against the limits when the header arrived.
        let len = incoming.header.payload_len as usize;
        if let Some(base) = incoming.direct() {
            // A fragment: its bytes go straight into the message, unmasked
            // as they are copied there, and nowhere else. The message grows
            // by doubling, with what arrived, never to what a header
            // announced (section 10.4).
            let have = self.assembler.payload_len() - base;
            let (payload, rest) = bytes.split_at(bytes.len().min(len - have));
            let message = self.assembler.payload_buffer(payload.len());
            match incoming.masker.as_mut() {
                Some(masker) => masker.put(message, payload),
                None => message.extend_from_slice(payload),
            }
            return rest;
        }
        let have = self.recv.len();
        if have >= len {
            return bytes;
        }
        let to_come = len - have;
        let (payload, rest) = bytes.split_at(bytes.len().min(to_come));
        if self.recv.capacity() - have < bytes.len() {
            grow_receive_buffer(
                &mut self.recv,
                &mut incoming.into,
                to_come,
                payload.len(),
                bytes.len(),
                grow_factor(&self.assembler),
            );
        }
        match incoming.masker.as_mut() {
            Some(masker) if masker.position() == have as u64 => masker.put(&mut self.recv, payload),
            _ => self.recv.extend_from_slice(payload),
        }
        rest
    }

    /// When the fragment being received went straight into the message, is
    /// complete and does not end it, and `bytes` start with the whole header
    /// of a continuation frame, ends that fragment and begins the next, so
    /// that its payload goes straight into the message as well; returns the
    /// bytes after its header.
    ///
    /// `None` leaves `bytes` to [`poll_event`](Self::poll_event), which
    /// reports what is wrong with them, if anything: a control frame, an
    /// incomplete header, a header that breaks a rule (then the fragment
    /// before is ended, which `poll_event` would do first), or text in the
    /// fragment before that is not UTF-8 (then nothing changed). Nothing is
    /// left unchecked for `poll_event` to find later, so that it does no
    /// more work per frame for this path.
    #[inline(never)]
    fn next_fragment<'a>(&mut self, bytes: &'a [u8]) -> Option<&'a [u8]> {
        let incoming = self.incoming.as_mut()?;
        let base = incoming.direct()?;
        let len = incoming.header.payload_len as usize;
        let arrived = self.assembler.payload_len() - base;
        if incoming.header.fin || arrived < len {
            return None;
        }
        let (header, head) = whole_header(bytes, self.allowed_rsv)?;
        if header.opcode != OpCode::Continuation {
            return None;
        }
        if arrived > incoming.checked {
            // A failed check changes nothing: `poll_event` reports it.
            self.assembler
                .check_appended(base + incoming.checked)
                .ok()?;
            incoming.checked = arrived;
        }
        // Not the last fragment: ending it gives no message and no error.
        self.incoming = None;
        let ended = self.assembler.end_frame(Bytes::new());
        debug_assert!(matches!(ended, Ok(None)));
        self.check_header(&header).ok()?;
        self.begin_in_message(header);
        Some(&bytes[head..])
    }

    /// When `bytes` start with the whole header of a large message in one
    /// frame (at least [`MOVE_AT_HEADER`] of its payload behind the header,
    /// and not all of it), and either no frame is in progress or the one
    /// in progress went straight into its message, is complete and ends it,
    /// begins that frame, so that its payload goes straight into its own
    /// message, copied once from `bytes`, not through the receive buffer
    /// first; returns the bytes after its header. A message that ended is
    /// set aside for the next [`poll_event`](Self::poll_event).
    ///
    /// `None`, changing nothing, leaves `bytes` to `poll_event`: a message
    /// already set aside, any other frame, a header that would break a rule,
    /// or a message before that fails its checks (which `poll_event` then
    /// reports).
    #[inline(never)]
    fn next_message<'a>(&mut self, bytes: &'a [u8]) -> Option<&'a [u8]> {
        if bytes.len() < MOVE_AT_HEADER || self.assembler.has_parked() {
            return None;
        }
        // With no frame in progress (the one before was read up to its
        // end, and handed out), the message begins with no other to set
        // aside, unless a fragmented one is open.
        let ending = match self.incoming.as_ref() {
            None if self.assembler.is_open() => return None,
            None => None,
            Some(incoming) => {
                let base = incoming.direct()?;
                let len = incoming.header.payload_len as usize;
                let arrived = self.assembler.payload_len() - base;
                if !incoming.header.fin || arrived < len {
                    return None;
                }
                Some((base, arrived))
            }
        };
        let (header, head) = whole_header(bytes, self.allowed_rsv)?;
        if !self.begins_without_error(&header) {
            return None;
        }
        // Within the limits, which fit in memory.
        let len = usize::try_from(header.payload_len).ok()?;
        let part = bytes.len() - head;
        // A receive buffer with room for the whole frame keeps it there, as
        // `poll_event` would.
        if !(MOVE_AT_HEADER..len).contains(&part)
            || !moves_into_message(&header, &self.assembler)
            || self.recv.capacity() >= head.saturating_add(len)
        {
            return None;
        }
        if let (Some((base, arrived)), Some(incoming)) = (ending, self.incoming.as_mut()) {
            if arrived > incoming.checked {
                // A failed check changes nothing: `poll_event` reports it.
                self.assembler
                    .check_appended(base + incoming.checked)
                    .ok()?;
                incoming.checked = arrived;
            }
            if !self.assembler.park_message() {
                // Text that ends inside a sequence: `poll_event` reports it.
                return None;
            }
        }
        self.incoming = None;
        let begun = self.check_header(&header);
        debug_assert!(begun.is_ok());
        begun.ok()?;
        self.begin_in_message(header);
        Some(&bytes[head..])
    }

    /// Begins the frame of `header`, checked, with its payload going
    /// straight into the message from where the message now ends.
    fn begin_in_message(&mut self, header: FrameHeader) {
        self.incoming = Some(Incoming {
            masker: header.mask.map(Masker::new),
            header,
            checked: 0,
            into: Destination::Message(self.assembler.payload_len()),
        });
    }

    /// Whether [`check_header`](Self::check_header) takes `header` without
    /// an error, with no message open: a text or binary frame that ends its
    /// message, with no RSV bit, masked as the role requires, within the
    /// limits.
    fn begins_without_error(&self, header: &FrameHeader) -> bool {
        matches!(header.opcode, OpCode::Text | OpCode::Binary)
            && header.fin
            && header.rsv == Rsv::NONE
            && header.mask.is_some() == (self.role == Role::Server)
            && header.payload_len <= self.config.max_frame_size
            && self.assembler.fits(header.payload_len)
    }

    /// The bytes that the fragment being received still needs, when its
    /// payload goes straight into the message; for
    /// [`payload_space`](Self::payload_space).
    pub(super) fn direct_payload_needed(&self) -> Option<usize> {
        let incoming = self.incoming.as_ref()?;
        let base = incoming.direct()?;
        let arrived = self.assembler.payload_len() - base;
        Some(incoming.header.payload_len as usize - arrived)
    }

    /// The bytes that the frame being received still needs, when its
    /// payload is buffered in the receive buffer and nothing else is there;
    /// for [`payload_space`](Self::payload_space).
    pub(super) fn buffered_payload_needed(&self) -> Option<usize> {
        let incoming = self.incoming.as_ref()?;
        if incoming.direct().is_some() {
            return None;
        }
        let needed = (incoming.header.payload_len as usize).checked_sub(self.recv.len())?;
        (needed > 0).then_some(needed)
    }

    /// Makes room in the receive buffer for `room` more bytes of the
    /// payload buffered there, as a read of `room` bytes would
    /// ([`grow_receive_buffer`]); for [`payload_space`](Self::payload_space).
    pub(super) fn reserve_buffered_payload(&mut self, room: usize) {
        let Some(incoming) = self.incoming.as_mut() else {
            return;
        };
        let have = self.recv.len();
        if self.recv.capacity() - have < room {
            let to_come = incoming.header.payload_len as usize - have;
            let factor = grow_factor(&self.assembler);
            grow_receive_buffer(
                &mut self.recv,
                &mut incoming.into,
                to_come,
                room,
                room,
                factor,
            );
        }
    }

    /// Unmasks the payload that a [`PayloadSpace`](super::PayloadSpace)
    /// appended from `start` on (up to the frame's end), in the message or
    /// in the receive buffer, while it is in the cache; it is checked at the
    /// next [`poll_event`](Self::poll_event), as bytes that `receive`
    /// appends are.
    pub(super) fn unmask_read_in_place(&mut self, start: usize) {
        let Some(incoming) = self.incoming.as_mut() else {
            return;
        };
        let Some(masker) = incoming.masker.as_mut() else {
            return;
        };
        match incoming.into {
            Destination::Message(base) => {
                // Every byte of a fragment before these was unmasked as it
                // was appended.
                debug_assert_eq!(masker.position(), (start - base) as u64);
                masker.apply(&mut self.assembler.payload_buffer(0)[start..]);
            }
            // Bytes that came before the header was decoded are unmasked by
            // `poll_event`, in order, with these. Bytes past the frame's end
            // are the next frame's.
            Destination::Buffer | Destination::GrownBuffer => {
                let end = self.recv.len().min(incoming.header.payload_len as usize);
                if masker.position() == start as u64 && end > start {
                    masker.apply(&mut self.recv[start..end]);
                }
            }
        }
    }

    /// The transport reached end of stream. If the close handshake was not
    /// complete, the next [`poll_event`](Self::poll_event) reports
    /// [`ProtocolError::AbnormalClosure`] (1006, never sent).
    pub fn receive_eof(&mut self) {
        self.eof = true;
    }

    /// The next event, `Ok(None)` when more bytes are needed, or the peer's
    /// protocol error (returned once; the connection is then closed).
    pub fn poll_event(&mut self) -> Result<Option<Event>, ProtocolError> {
        if let Some(expired) = self.timers.take_expired() {
            return Err(expired.error());
        }
        if self.stopped || self.close_received {
            return Ok(None);
        }
        match self.next_event() {
            Ok(Some(event)) => Ok(Some(event)),
            Ok(None) if self.eof => {
                self.stop();
                Err(ProtocolError::AbnormalClosure)
            }
            Ok(None) => Ok(None),
            Err(error) => {
                self.fail(error.close_code());
                Err(error)
            }
        }
    }

    fn next_event(&mut self) -> Result<Option<Event>, ProtocolError> {
        loop {
            if self.incoming.is_none() {
                let HeaderStatus::Complete { header, len } =
                    FrameHeader::decode(&self.recv, self.allowed_rsv)?
                else {
                    return Ok(None);
                };
                self.check_header(&header)?;
                // The payload length was checked against the limits, which
                // fit in memory, so it fits in usize.
                let payload_len = header.payload_len as usize;
                if self.recv.len() - len >= payload_len {
                    // The whole frame is here: the common case of small
                    // frames, taken without the bookkeeping of a payload
                    // that arrives in pieces.
                    let payload = self.take_frame(&header, len, payload_len)?;
                    let event = if header.opcode.is_control() {
                        self.complete_frame(header, payload)?
                    } else {
                        self.assembler.end_frame(payload)?.map(Event::Message)
                    };
                    if event.is_some() {
                        return Ok(event);
                    }
                    continue;
                }
                self.recv.advance(len);
                let mut masker = header.mask.map(Masker::new);
                let own_buffer = self.needs_own_buffer(payload_len);
                let direct = ((!header.opcode.is_control()
                    && self.assembler.takes_payload(&header))
                    || (own_buffer && moves_into_message(&header, &self.assembler)))
                .then(|| {
                    // The part of the payload that came with the header
                    // moves into the message; the rest will go there as it
                    // arrives.
                    recv_to_message(&mut self.assembler, &mut self.recv, masker.as_mut(), 0)
                });
                let into = match direct {
                    Some(base) => Destination::Message(base),
                    None if own_buffer => self.buffer_payload(masker.as_mut(), payload_len),
                    None => Destination::Buffer,
                };
                self.incoming = Some(Incoming {
                    masker,
                    header,
                    checked: 0,
                    into,
                });
            }
            if self.assembler.has_parked() {
                // Set aside by `receive` to begin the frame in progress,
                // which comes after it; only ever with a frame in
                // progress, so off the path of small frames.
                return Ok(self.assembler.take_parked().map(Event::Message));
            }
            let Some(incoming) = self.incoming.as_mut() else {
                return Ok(None);
            };
            let len = incoming.header.payload_len as usize;
            if let Some(base) = incoming.direct() {
                let arrived = self.assembler.payload_len() - base;
                if arrived > incoming.checked {
                    self.assembler.check_appended(base + incoming.checked)?;
                    incoming.checked = arrived;
                }
                if arrived < len {
                    return Ok(None);
                }
                self.incoming = None;
                if self.recv.is_empty() && self.recv_large {
                    // Between frames, the buffer kept for them goes.
                    self.recv_large = false;
                    self.recv = BytesMut::new();
                }
                if let Some(message) = self.assembler.end_frame(Bytes::new())? {
                    return Ok(Some(Event::Message(message)));
                }
                continue;
            }
            let arrived = self.recv.len().min(len);
            if arrived > incoming.checked {
                if let Some(masker) = incoming.masker.as_mut() {
                    // `receive` unmasks the bytes that continue a payload;
                    // these came with its header, or before it was decoded.
                    let unmasked = masker.position() as usize;
                    if arrived > unmasked {
                        masker.apply(&mut self.recv[unmasked..arrived]);
                    }
                }
                if !incoming.header.opcode.is_control() {
                    self.assembler
                        .check(&self.recv[incoming.checked..arrived])?;
                }
                incoming.checked = arrived;
            }
            if arrived < len {
                return Ok(None);
            }
            let header = incoming.header;
            self.incoming = None;
            let payload = self.split_front(len).freeze();
            if let Some(event) = self.complete_frame(header, payload)? {
                return Ok(Some(event));
            }
        }
    }

    /// Moves the first part of a payload that stays out of the message (a
    /// compressed frame's, or one under [`INTO_MESSAGE_AT`]), `len` bytes in
    /// all, to a buffer of its own, when the receive buffer holds
    /// [`MOVE_AT_HEADER`] or more of it and has no room for the rest (it is
    /// the buffer of the read that brought them, often shared with the
    /// frames before). The buffer is sized as the next read would grow it,
    /// and the bytes are unmasked on the way. Left where they are, they
    /// would be unmasked in place here and copied by that read: two passes
    /// for one. Other data frames go to the message instead
    /// ([`payload_to_message`](Self::payload_to_message)).
    #[inline(never)]
    fn buffer_payload(&mut self, masker: Option<&mut Masker>, len: usize) -> Destination {
        let have = self.recv.len();
        let to_come = len - have;
        // Room for one read of the usual size past the payload's end.
        let room = payload_room(have, to_come, 0, GROW_STEP, grow_factor(&self.assembler));
        let mut own = BytesMut::with_capacity(have + room);
        match masker {
            Some(masker) => masker.put(&mut own, &self.recv),
            None => own.extend_from_slice(&self.recv),
        }
        self.recv = own;
        self.recv_large = true;
        Destination::GrownBuffer
    }

    /// Whether the first part of a payload of `len` bytes, which the
    /// receive buffer holds, is better moved at once to a buffer of its own
    /// ([`MOVE_AT_HEADER`] or more, and no room for the rest where it is).
    fn needs_own_buffer(&self, len: usize) -> bool {
        let have = self.recv.len();
        have >= MOVE_AT_HEADER && self.recv.capacity() - have < len - have
    }

    /// Moves the part of a data frame's payload buffered in the receive
    /// buffer into the message being assembled, where the rest then goes as
    /// it arrives; `false`, changing nothing, for a control frame, a
    /// compressed message, whose frames are buffered whole, or a payload
    /// under [`INTO_MESSAGE_AT`].
    ///
    /// Done when the payload would otherwise move to a buffer of its own.
    /// The message's buffer is then sized to the message (it grows with what
    /// arrives, and never past the announced end), and nothing after the
    /// frame is ever written there: the receive buffer, which is reused,
    /// takes those bytes. A buffer with room past the payload for them made
    /// each message pin fresh pages, and the allocator trimmed and faulted
    /// them in again: 2.5 to 3 page faults per 64 KiB message in the echo
    /// bench, where the peers take none.
    /// `past_end`: room to keep past the message's end, for bytes of the
    /// next frame read with the end of this one
    /// ([`Assembler::payload_buffer_past_end`]).
    pub(super) fn payload_to_message(&mut self, past_end: usize) -> bool {
        let Some(incoming) = self.incoming.as_mut() else {
            return false;
        };
        if incoming.direct().is_some() {
            return true;
        }
        if !moves_into_message(&incoming.header, &self.assembler)
            || incoming.into != Destination::Buffer
        {
            return false;
        }
        let base = recv_to_message(
            &mut self.assembler,
            &mut self.recv,
            incoming.masker.as_mut(),
            past_end,
        );
        incoming.into = Destination::Message(base);
        true
    }

    /// Splits off a frame that is whole at the front of the receive buffer
    /// (a `head`-byte header and a `len`-byte payload), and returns its
    /// payload unmasked and checked.
    #[inline]
    fn take_frame(
        &mut self,
        header: &FrameHeader,
        head: usize,
        len: usize,
    ) -> Result<Bytes, ProtocolError> {
        if len == 0 {
            // No share of the buffer for nothing.
            if head == self.recv.len() && self.recv_large {
                self.recv_large = false;
                self.recv = BytesMut::new();
            } else {
                self.recv.advance(head);
            }
            return Ok(Bytes::new());
        }
        // One split for header and payload; the header is then skipped in
        // the `Bytes`, which is cheaper than advancing the buffer twice.
        let mut frame = self.split_front(head + len);
        let payload = &mut frame[head..];
        if let Some(key) = header.mask {
            apply_mask(payload, key);
        }
        if !header.opcode.is_control() {
            self.assembler.check(payload)?;
        }
        let mut frame = frame.freeze();
        frame.advance(head);
        Ok(frame)
    }

    /// The first `n` received bytes. When they are all there is and the
    /// buffer is larger than [`KEEP_IDLE`], the buffer itself goes, and the
    /// connection holds no receive buffer until bytes arrive again; the
    /// frame handed out keeps only its own read's allocation alive. A tiny
    /// buffer stays, to be reused by the next read once its frames are
    /// dropped.
    #[inline]
    fn split_front(&mut self, n: usize) -> BytesMut {
        if n == self.recv.len() && self.recv_large {
            self.recv_large = false;
            core::mem::take(&mut self.recv)
        } else {
            self.recv.split_to(n)
        }
    }

    /// The rules that need the connection's state, checked before any of
    /// the payload is buffered.
    fn check_header(&mut self, header: &FrameHeader) -> Result<(), ProtocolError> {
        match (self.role, header.mask.is_some()) {
            // Section 5.1: "The server MUST close the connection upon
            // receiving a frame that is not masked."
            (Role::Server, false) => return Err(ProtocolError::UnmaskedFrame),
            // Section 5.1: "A client MUST close a connection if it detects a
            // masked frame."
            (Role::Client, true) => return Err(ProtocolError::MaskedFrame),
            _ => {}
        }
        // RFC 7692 section 6.1: an endpoint "MUST NOT set the 'Per-Message
        // Compressed' bit of control frames"; no extension claims another
        // bit, so a control frame carries none.
        if header.opcode.is_control() && header.rsv != Rsv::NONE {
            return Err(FrameError::ReservedBitsSet(header.rsv).into());
        }
        // Section 10.4: limits on frame size, checked before allocating.
        if header.payload_len > self.config.max_frame_size {
            return Err(ProtocolError::FrameTooBig {
                len: header.payload_len,
                max: self.config.max_frame_size,
            });
        }
        if !header.opcode.is_control() {
            self.assembler.begin_frame(header)?;
        }
        Ok(())
    }

    fn complete_frame(
        &mut self,
        header: FrameHeader,
        payload: Bytes,
    ) -> Result<Option<Event>, ProtocolError> {
        Ok(Some(match header.opcode {
            OpCode::Continuation | OpCode::Text | OpCode::Binary => {
                return Ok(self.assembler.end_frame(payload)?.map(Event::Message));
            }
            OpCode::Ping => {
                // Section 5.5.2: "Upon receipt of a Ping frame, an endpoint
                // MUST send a Pong frame in response, unless it already
                // received a Close frame." Once our close is out, nothing
                // else may follow it.
                if !self.close_sent {
                    self.queue_pong(&payload);
                }
                Event::Ping(payload)
            }
            OpCode::Pong => Event::Pong(payload),
            OpCode::Close => {
                let frame = CloseFrame::parse(&payload)?;
                self.close_received = true;
                // Section 5.5.1: "If an endpoint receives a Close frame and
                // did not previously send a Close frame, the endpoint MUST
                // send a Close frame in response ... typically echoing the
                // status code it received."
                if !self.close_sent {
                    self.out.drop_unstarted_data();
                    match &frame {
                        Some(frame) => self.queue_close(frame.code(), ""),
                        None => self.queue_control(OpCode::Close, &[]),
                    }
                    self.close_sent = true;
                }
                self.release_receive_buffers();
                Event::Close(frame)
            }
        }))
    }

    /// Fails the connection (section 7.1.7): queue a close with `code` unless
    /// one was sent, and read nothing more. The close goes after the data
    /// frames already queued, as the application's own close does: what it
    /// sent before the peer broke a rule (the echoes of the messages that
    /// came before the bad frame, say) still reaches the peer, and nothing
    /// follows the close (section 5.5.1).
    fn fail(&mut self, code: CloseCode) {
        if !self.close_sent && code.is_sendable() {
            self.queue_close_behind_data(code);
            self.close_sent = true;
        }
        self.stop();
    }

    pub(super) fn stop(&mut self) {
        self.stopped = true;
        self.release_receive_buffers();
    }

    fn release_receive_buffers(&mut self) {
        self.recv = BytesMut::new();
        self.incoming = None;
        self.assembler = Assembler::new(self.config.max_message_size);
    }
}

// `Connection::new` needs `std`.
#[cfg(all(test, feature = "std"))]
mod tests {
    use alloc::string::String;
    use alloc::vec::Vec;

    use crate::frame::{OpCode, wire_frame};
    use crate::{Config, Connection, Event, Message, Role};

    /// Large messages in one frame each, in reads that hold the end of one
    /// and much of the next: the next one's payload goes straight from the
    /// read into its own message, while the one before waits for
    /// `poll_event`; nothing passes through the receive buffer, and the
    /// messages come out whole and in order.
    #[test]
    fn the_next_message_begins_in_the_read_that_ends_one() {
        let text: String = "àéîõü 日本 🎉 ".chars().cycle().take(40_000).collect();
        let binary: Vec<u8> = (0..100_000u32).map(|i| (i * 7 + i / 253) as u8).collect();
        for role in [Role::Server, Role::Client] {
            let mask = (role == Role::Server).then_some([3, 1, 4, 1]);
            let messages = [
                Message::binary(binary.clone()),
                Message::text(text.clone()),
                Message::binary(binary[..70_000].to_vec()),
                Message::text(text.clone()),
            ];
            let mut wire = Vec::new();
            for message in &messages {
                let (opcode, payload) = match message {
                    Message::Text(t) => (OpCode::Text, t.as_bytes()),
                    Message::Binary(b) => (OpCode::Binary, &b[..]),
                };
                wire.extend(wire_frame(true, opcode, payload, mask));
            }
            let expected: Vec<Event> = messages.into_iter().map(Event::Message).collect();
            let mut parked = 0;
            // Reads of these sizes bring the end of a message with the
            // header and a large part of the next, at one point or another.
            for size in [41_000, 57_000, 90_000] {
                let mut connection = Connection::new(role, Config::default());
                let mut got = Vec::new();
                for read in wire.chunks(size) {
                    connection.receive(read);
                    if connection.assembler.has_parked() {
                        parked += 1;
                        assert!(connection.recv.is_empty(), "{role:?}: straight in");
                    }
                    while let Some(event) = connection.poll_event().unwrap() {
                        got.push(event);
                    }
                }
                assert!(got == expected, "{role:?}, {size}: whole and in order");
            }
            assert!(parked >= 3, "{role:?}: {parked} messages set aside");
        }
    }

    /// With no frame in progress, a read that starts with the header of a
    /// large message and much of its payload puts that payload straight
    /// into the message; a receive buffer with room for the whole frame
    /// keeps it there instead.
    #[test]
    fn a_large_message_begins_in_its_message_when_nothing_is_in_progress() {
        let payload: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let wire = wire_frame(true, OpCode::Binary, &payload, Some([7, 7, 1, 2]));
        for roomy in [false, true] {
            let mut server = Connection::new(Role::Server, Config::default());
            if roomy {
                server.recv.reserve(128 << 10);
            }
            server.receive(&wire[..20_000]);
            assert_eq!(server.recv.is_empty(), !roomy);
            assert_eq!(
                server.assembler.payload_len(),
                if roomy {
                    0
                } else {
                    20_000 - (wire.len() - payload.len())
                }
            );
            assert_eq!(server.poll_event(), Ok(None));
            server.receive(&wire[20_000..]);
            assert_eq!(
                server.poll_event(),
                Ok(Some(Event::Message(Message::binary(payload.clone()))))
            );
        }
    }

    /// A new message while a fragmented one is open is still the peer's
    /// error (section 5.4), whatever its size: 1002.
    #[test]
    fn a_large_message_inside_a_fragmented_one_fails() {
        let mask = Some([1, 2, 3, 4]);
        let first = wire_frame(false, OpCode::Text, b"open", mask);
        let mut server = Connection::new(Role::Server, Config::default());
        server.receive(&first);
        assert_eq!(server.poll_event(), Ok(None));
        let wire = wire_frame(true, OpCode::Binary, &[0; 100_000], mask);
        server.receive(&wire[..20_000]);
        let error = server.poll_event().unwrap_err();
        assert_eq!(u16::from(error.close_code()), 1002);
    }

    /// A text message set aside is checked first: invalid UTF-8 at its end,
    /// or a sequence cut by its end, fails the connection with 1007 when
    /// `poll_event` comes to it, before anything of the next message.
    #[test]
    fn a_bad_text_ending_is_reported_before_the_next_message() {
        const TEXT: usize = 70_000;
        let mut bad_end = alloc::vec![b'a'; TEXT];
        bad_end[TEXT - 1] = 0xff;
        let mut cut = alloc::vec![b'a'; TEXT];
        cut[TEXT - 1] = 0xe6; // the first of three bytes
        for payload in [bad_end, cut] {
            let mask = Some([9, 9, 9, 9]);
            let mut wire = wire_frame(true, OpCode::Text, &payload, mask);
            let text_end = wire.len();
            wire.extend(wire_frame(true, OpCode::Binary, &[5; 100_000], mask));
            let mut server = Connection::new(Role::Server, Config::default());
            server.receive(&wire[..6_000]);
            assert_eq!(server.poll_event(), Ok(None));
            // The text went straight into its message: the case where it
            // would be set aside for the next one.
            assert!(server.assembler.payload_len() > 0 && server.recv.is_empty());
            // Its end, and the next header with 20,000 bytes of payload.
            server.receive(&wire[6_000..text_end + 20_000]);
            assert!(!server.assembler.has_parked());
            let error = server.poll_event().unwrap_err();
            assert_eq!(u16::from(error.close_code()), 1007);
            assert_eq!(server.poll_event(), Ok(None));
        }
    }
}
