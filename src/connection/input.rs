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
    /// its front and nothing else.
    GrownBuffer,
    /// Straight into the message being assembled, from this offset in it
    /// (a fragment: see [`Assembler::takes_payload`]).
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

/// A payload that arrives in pieces moves to a buffer this many times the
/// size of what arrived (at most the frame, and at least [`GROW_STEP`]).
///
/// Each step copies what arrived, so a frame of `n` bytes is copied about
/// `n / (GROW_FACTOR - 1)` times over as it grows: with 2, its own size
/// again, which cost a 16 MiB echo at 16 connections 20% of the server's
/// time in `realloc` (the allocator cannot grow sixteen buffers in place).
/// With 4, a third of it, and 12% less CPU per message there; a header that
/// announces more than the peer sends makes us reserve at most four times
/// what did arrive, and untouched reserved pages cost no memory.
const GROW_FACTOR: usize = 4;

/// The header at the front of `bytes`, if it is whole and begins a
/// continuation frame (its other rules are checked by the caller).
///
/// Not inlined and not generic, so compiled once in this crate: in the
/// caller's instance of `Connection`, `FrameHeader::decode` then has one call
/// site, in `poll_event`, where LLVM inlines it. A second call site there
/// made LLVM outline it, which cost every small frame about 50 instructions
/// (callgrind, decoding 0 B and 16 B frames).
#[inline(never)]
fn continuation_header(bytes: &[u8], allowed_rsv: Rsv) -> Option<(FrameHeader, usize)> {
    match FrameHeader::decode(bytes, allowed_rsv) {
        Ok(HeaderStatus::Complete { header, len }) if header.opcode == OpCode::Continuation => {
            Some((header, len))
        }
        _ => None,
    }
}

/// A payload that arrived in part behind its header, at least this long,
/// moves at once to a buffer of its own when the buffer it arrived in has
/// no room for the rest ([`Connection::buffer_payload`]).
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
        // header of the next with much of its payload: that payload goes
        // straight into the message too, not through the receive buffer.
        while !rest.is_empty() && self.recv.is_empty() {
            let Some(after) = self.next_fragment(rest) else {
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
    /// The room reserved for the payload grows in steps of what has
    /// arrived (at least [`GROW_STEP`]), never past what the header
    /// announced and one read more: a header that announces a length the
    /// peer never sends reserves at most four times what arrived
    /// ([`GROW_FACTOR`]), plus 64 KiB and one read (section 10.4), and a
    /// large frame is not moved again by the
    /// bytes of the next one. The bytes are unmasked as they are copied in
    /// ([`Masker::put`]): one pass over them.
    fn receive_payload<'a>(&mut self, bytes: &'a [u8]) -> &'a [u8] {
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
        let (header, head) = continuation_header(bytes, self.allowed_rsv)?;
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
        self.incoming = Some(Incoming {
            masker: header.mask.map(Masker::new),
            header,
            checked: 0,
            into: Destination::Message(self.assembler.payload_len()),
        });
        Some(&bytes[head..])
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
                let direct = (!header.opcode.is_control() && self.assembler.takes_payload(&header))
                    .then(|| {
                        // The part of the payload that came with the header
                        // moves into the message; the rest will go there as it
                        // arrives. The receive buffer is kept for the bytes
                        // after the frame, so that each read does not allocate
                        // one again.
                        let message = self.assembler.payload_buffer(self.recv.len());
                        let base = message.len();
                        match masker.as_mut() {
                            Some(masker) => masker.put(message, &self.recv),
                            None => message.extend_from_slice(&self.recv),
                        }
                        self.recv.clear();
                        base
                    });
                let into = match direct {
                    Some(base) => Destination::Message(base),
                    None => self.buffer_payload(masker.as_mut(), payload_len),
                };
                self.incoming = Some(Incoming {
                    masker,
                    header,
                    checked: 0,
                    into,
                });
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

    /// Where the payload of a frame just begun goes, `len` bytes in all of
    /// which the receive buffer holds the first.
    ///
    /// When it holds [`MOVE_AT_HEADER`] or more and has no room for the rest
    /// (it is the buffer of the read that brought them, often shared with
    /// the frames before), they move now to a buffer of their own, sized as
    /// the next read would grow it, and are unmasked on the way. Left where
    /// they are, they would be unmasked in place here and copied by that
    /// read: two passes for one. Smaller parts stay, and the room follows
    /// the read that brings the rest.
    #[inline(never)]
    fn buffer_payload(&mut self, masker: Option<&mut Masker>, len: usize) -> Destination {
        let have = self.recv.len();
        let to_come = len - have;
        if have < MOVE_AT_HEADER || self.recv.capacity() - have >= to_come {
            return Destination::Buffer;
        }
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
