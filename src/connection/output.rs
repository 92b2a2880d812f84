//! What a connection sends: two queues of encoded frames, and the pieces
//! handed to the transport from them.
//!
//! Control frames wait in their own queue and go out at the next frame
//! boundary of the data queue (section 5.4: "control frames MAY be injected
//! in the middle of a fragmented message", never inside a frame). The data
//! queue is a stream of frames in wire order: runs of frames encoded into
//! buffers, large payloads kept in the caller's own [`Bytes`], behind a
//! header at the end of the run before them, and the frames of a prepared
//! message, whole, in the prepared message's own buffer; none of them is
//! copied.

use alloc::boxed::Box;
use alloc::collections::VecDeque;

use bytes::{Buf, Bytes, BytesMut};

use crate::frame::{FrameHeader, MAX_HEADER_LEN};
use crate::mask::apply_mask;

/// Control bytes waiting to be sent past which an automatic pong replaces
/// the previous one instead of queueing behind it. Section 5.5.3: "If an
/// endpoint receives a Ping frame and has not yet sent Pong frame(s) in
/// response to previous Ping frame(s), the endpoint MAY elect to send a Pong
/// frame for only the most recently processed Ping frame." Below it, every
/// ping gets its own pong.
const PONG_BACKLOG: usize = 4096;

/// The room a tail starts with when short prepared frames are copied into
/// it (see [`Output::push_frames`]): a few hundred bytes, held only until
/// they are written.
const TAIL_START: usize = 512;

/// The queued frames of one connection.
#[derive(Debug, Default)]
pub(super) struct Output {
    /// Encoded control frames: they go out at the next frame boundary of
    /// the data, ahead of the data frames after it.
    control: BytesMut,
    /// Where in `control` an automatic pong not yet started begins, while it
    /// is the last frame there: past [`PONG_BACKLOG`] a newer ping's pong
    /// replaces it (section 5.5.3), so a ping flood cannot grow the queue.
    pong_at: Option<u32>,
    /// The older part of the data stream, while it holds a payload sent
    /// from its own buffer; boxed, so that a connection that never sends a
    /// large message pays one pointer for it.
    sealed: Option<Box<Sealed>>,
    /// Encoded data frames after `sealed`; new frames are appended here.
    tail: BytesMut,
    /// Bytes of the data frame being written still to go, once it has been
    /// partly handed out; 0 when the data stream starts at a frame boundary.
    in_frame: usize,
}

/// Pieces of the data stream ahead of the tail, never empty, each piece
/// non-empty: runs of whole encoded frames, the last of which may be a
/// header whose payload is the next piece. A piece never ends inside a
/// header, so a piece that starts at a frame boundary starts with a whole
/// header.
#[derive(Debug, Default)]
struct Sealed {
    pieces: VecDeque<Bytes>,
    /// Bytes in `pieces`.
    len: usize,
}

impl Output {
    /// Every queued byte.
    pub(super) fn len(&self) -> usize {
        self.control.len() + self.data_len()
    }

    /// Queued control bytes.
    pub(super) fn control_len(&self) -> usize {
        self.control.len()
    }

    fn data_len(&self) -> usize {
        self.sealed.as_ref().map_or(0, |sealed| sealed.len) + self.tail.len()
    }

    // ---- queueing ----

    /// Appends a control frame, masked with `header.mask` if any.
    pub(super) fn push_control(&mut self, header: FrameHeader, payload: &[u8]) {
        self.pong_at = None;
        encode(&mut self.control, header, payload);
    }

    /// Appends an automatic pong. Past [`PONG_BACKLOG`] queued control bytes
    /// it replaces the last pong if that one is not started.
    pub(super) fn push_pong(&mut self, header: FrameHeader, payload: &[u8]) {
        if let Some(at) = self.pong_at.take()
            && self.control.len() >= PONG_BACKLOG
        {
            self.control.truncate(at as usize);
        }
        let at = u32::try_from(self.control.len()).ok();
        encode(&mut self.control, header, payload);
        self.pong_at = at;
    }

    /// Appends a data frame (or this end's own close), copying the payload
    /// and masking it with `header.mask` if any.
    pub(super) fn push_data(&mut self, header: FrameHeader, payload: &[u8]) {
        encode(&mut self.tail, header, payload);
    }

    /// Appends whole encoded data frames, copying them. An empty tail
    /// starts with room for [`TAIL_START`] bytes, so that a run of short
    /// messages fed before a flush does not grow it by doubling from a few
    /// bytes.
    pub(super) fn push_frames(&mut self, frames: &[u8]) {
        if self.tail.capacity() - self.tail.len() < frames.len() {
            self.tail.reserve(frames.len().max(TAIL_START));
        }
        self.tail.extend_from_slice(frames);
    }

    /// Appends a data frame whose payload stays in its own buffer: already
    /// masked with `header.mask` if any, and never empty.
    pub(super) fn push_data_shared(&mut self, mut header: FrameHeader, payload: Bytes) {
        debug_assert!(!payload.is_empty());
        let mut head = [0u8; MAX_HEADER_LEN];
        header.payload_len = payload.len() as u64;
        let head_len = header.encode(&mut head);
        self.tail.extend_from_slice(&head[..head_len]);
        let run = core::mem::take(&mut self.tail).freeze();
        self.push_pieces([run, payload]);
    }

    /// Appends whole encoded frames that stay in their own buffer (a
    /// prepared message's): never empty, each frame whole, and already
    /// masked if this end masks. The frames queued before them are sealed
    /// first, so that the order on the wire is kept.
    pub(super) fn push_frames_shared(&mut self, frames: Bytes) {
        debug_assert!(!frames.is_empty());
        let run = core::mem::take(&mut self.tail).freeze();
        self.push_pieces([run, frames]);
    }

    /// Appends pieces to the sealed stream, skipping empty ones.
    fn push_pieces(&mut self, pieces: [Bytes; 2]) {
        // Two slots to start with: the one or two pieces of a message
        // cost 64 bytes, not the 128 of a deque's first growth.
        let sealed = self.sealed.get_or_insert_with(|| {
            Box::new(Sealed {
                pieces: VecDeque::with_capacity(2),
                len: 0,
            })
        });
        for piece in pieces {
            if !piece.is_empty() {
                sealed.len += piece.len();
                sealed.pieces.push_back(piece);
            }
        }
    }

    /// Drops the data frames not started (the one being written is
    /// finished): a close is about to be queued, and section 5.5.1 says
    /// "after sending a Close frame, the endpoint MUST NOT send any more data
    /// frames".
    pub(super) fn drop_unstarted_data(&mut self) {
        let mut keep = self.in_frame;
        if let Some(sealed) = self.sealed.as_mut() {
            let mut pieces = 0;
            while keep > 0 && pieces < sealed.pieces.len() {
                let piece = &mut sealed.pieces[pieces];
                if piece.len() > keep {
                    piece.truncate(keep);
                }
                keep -= piece.len();
                pieces += 1;
            }
            sealed.pieces.truncate(pieces);
            sealed.len = sealed.pieces.iter().map(Bytes::len).sum();
            if pieces == 0 {
                self.sealed = None;
            }
        }
        self.tail.truncate(keep);
    }

    /// Drops every queued byte: the transport is to be closed without
    /// writing them.
    pub(super) fn discard(&mut self) {
        *self = Output::default();
    }

    // ---- handing out ----

    /// Every queued byte, in the order it goes out: the rest of a data frame
    /// already started, then the control frames, then the data frames.
    pub(super) fn transmit(&self) -> Transmit<'_> {
        Transmit { out: self }
    }

    /// Drops the first `n` bytes of [`transmit`](Self::transmit), capped at
    /// their length. The bytes may end frames and cross pieces.
    pub(super) fn advance(&mut self, n: usize) {
        let mut n = n.min(self.len());
        while n > 0 {
            if self.in_frame == 0 && !self.control.is_empty() {
                let step = n.min(self.control.len());
                self.advance_control(step);
                n -= step;
                continue;
            }
            if self.in_frame == 0 {
                self.in_frame = encoded_frame_len(self.front());
            }
            let step = n.min(self.in_frame).min(self.front().len());
            self.take_front(step);
            self.in_frame -= step;
            n -= step;
        }
    }

    /// Drops the first `n` bytes of the control frames, capped at their
    /// length.
    fn advance_control(&mut self, n: usize) {
        let n = n.min(self.control.len());
        self.control.advance(n);
        if self.control.is_empty() {
            self.control = BytesMut::new();
        }
        self.pong_at = match self.pong_at {
            Some(at) if at as usize >= n => Some(at - n as u32),
            _ => None,
        };
    }

    /// Every queued byte at once, in the order [`transmit`](Self::transmit)
    /// gives them; without a copy when only one buffer holds them.
    pub(super) fn take_all(&mut self) -> Bytes {
        if self.data_len() == 0 || (self.control.is_empty() && self.sealed.is_none()) {
            let control = core::mem::take(&mut self.control).freeze();
            self.pong_at = None;
            self.in_frame = 0;
            return if control.is_empty() {
                self.take_front(self.tail.len())
            } else {
                control
            };
        }
        let mut all = BytesMut::with_capacity(self.len());
        while self.in_frame > 0 {
            let piece = self.take_front(self.in_frame.min(self.front().len()));
            self.in_frame -= piece.len();
            all.extend_from_slice(&piece);
        }
        all.extend_from_slice(&core::mem::take(&mut self.control));
        self.pong_at = None;
        while self.data_len() > 0 {
            all.extend_from_slice(&self.take_front(self.front().len()));
        }
        all.freeze()
    }

    /// The next piece to write, without a copy, or `None` when nothing is
    /// queued. A piece is the rest of a data frame already started, or
    /// every queued control frame, or data frames: as many whole ones as fit
    /// in `budget` bytes (at least one), and the header of a frame whose
    /// payload comes as the next piece.
    pub(super) fn poll(&mut self, budget: usize) -> Option<Bytes> {
        if self.in_frame > 0 {
            let piece = self.take_front(self.in_frame.min(self.front().len()));
            self.in_frame -= piece.len();
            return Some(piece);
        }
        if !self.control.is_empty() {
            self.pong_at = None;
            return Some(core::mem::take(&mut self.control).freeze());
        }
        if self.sealed.is_none() && self.tail.len() <= budget {
            // The tail holds whole frames only (a header whose payload stays
            // in its own buffer is sealed with it), and all of them fit:
            // no need to walk them.
            return (!self.tail.is_empty()).then(|| self.take_front(self.tail.len()));
        }
        let front = self.front();
        let (mut len, mut rest_of_frame) = (0, 0);
        while len < front.len() {
            let frame = encoded_frame_len(&front[len..]);
            if len + frame > front.len() {
                // A header whose payload is the next piece: it goes with
                // this piece, so that the two can be written together.
                rest_of_frame = len + frame - front.len();
                len = front.len();
                break;
            }
            if len > 0 && len + frame > budget {
                break;
            }
            len += frame;
        }
        self.in_frame = rest_of_frame;
        (len > 0).then(|| self.take_front(len))
    }

    /// The oldest data bytes: the first sealed piece, or the tail.
    fn front(&self) -> &[u8] {
        match &self.sealed {
            Some(sealed) => &sealed.pieces[0],
            None => &self.tail,
        }
    }

    /// Takes `n` bytes, at most the length of [`front`](Self::front).
    fn take_front(&mut self, n: usize) -> Bytes {
        match self.sealed.as_mut() {
            Some(sealed) => {
                sealed.len -= n;
                if n < sealed.pieces[0].len() {
                    return sealed.pieces[0].split_to(n);
                }
                let piece = sealed.pieces.pop_front().unwrap_or_default();
                if sealed.pieces.is_empty() {
                    self.sealed = None;
                }
                piece
            }
            // All of it: the buffer itself goes, so that nothing of it
            // stays behind once the piece is written.
            None if n == self.tail.len() => core::mem::take(&mut self.tail).freeze(),
            None => self.tail.split_to(n).freeze(),
        }
    }
}

/// Every byte a connection has queued to send, in the order it goes out, as
/// the slices that hold it (see [`Connection::transmit`]).
///
/// Write the slices with one vectored write (with the feature `std`,
/// `io_slices` fills `std::io::IoSlice`s), then give the
/// number of bytes written to [`Connection::advance_transmit`]; repeat until
/// [`is_empty`](Self::is_empty). Whatever the number, nothing is skipped:
/// the next `transmit` starts with the first byte not written.
///
/// [`Connection::transmit`]: super::Connection::transmit
/// [`Connection::advance_transmit`]: super::Connection::advance_transmit
#[derive(Clone, Copy, Debug)]
#[must_use = "write the bytes, then advance_transmit by what was written"]
pub struct Transmit<'a> {
    out: &'a Output,
}

impl<'a> Transmit<'a> {
    /// How many bytes are queued, in all the slices.
    pub fn len(&self) -> usize {
        self.out.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The slices, in order, none of them empty.
    pub fn slices(&self) -> Slices<'a> {
        let out = self.out;
        Slices {
            head: out.in_frame,
            control: &out.control,
            pending: &[],
            pieces: out.sealed.as_ref().map(|sealed| sealed.pieces.iter()),
            tail: &out.tail,
        }
    }

    /// The first slice: what a plain `write` takes. Empty when nothing is
    /// queued.
    pub fn first(&self) -> &'a [u8] {
        self.slices().next().unwrap_or(&[])
    }

    /// Fills `dst` with the first slices, as many as fit, and returns the
    /// filled part, for `std::io::Write::write_vectored`.
    #[cfg(feature = "std")]
    pub fn io_slices<'b>(&self, dst: &'b mut [std::io::IoSlice<'a>]) -> &'b [std::io::IoSlice<'a>] {
        let mut filled = 0;
        for (slot, slice) in dst.iter_mut().zip(self.slices()) {
            *slot = std::io::IoSlice::new(slice);
            filled += 1;
        }
        &dst[..filled]
    }
}

/// The slices of a [`Transmit`], in the order they go out.
#[derive(Clone, Debug)]
pub struct Slices<'a> {
    /// Data bytes still to give before the control frames: the rest of the
    /// frame being written.
    head: usize,
    control: &'a [u8],
    /// The rest of a data piece cut at the end of `head`.
    pending: &'a [u8],
    pieces: Option<alloc::collections::vec_deque::Iter<'a, Bytes>>,
    tail: &'a [u8],
}

impl<'a> Slices<'a> {
    /// The next data piece, in order.
    fn next_data(&mut self) -> Option<&'a [u8]> {
        if !self.pending.is_empty() {
            return Some(core::mem::take(&mut self.pending));
        }
        if let Some(piece) = self.pieces.as_mut().and_then(Iterator::next) {
            return Some(piece);
        }
        self.pieces = None;
        (!self.tail.is_empty()).then(|| core::mem::take(&mut self.tail))
    }
}

impl<'a> Iterator for Slices<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.head > 0 {
            let piece = self.next_data()?;
            let (now, later) = piece.split_at(piece.len().min(self.head));
            self.head -= now.len();
            self.pending = later;
            return Some(now);
        }
        if !self.control.is_empty() {
            return Some(core::mem::take(&mut self.control));
        }
        self.next_data()
    }
}

impl core::iter::FusedIterator for Slices<'_> {}

/// Appends the frame to `queue`, its payload masked with `header.mask` if
/// any.
fn encode(queue: &mut BytesMut, header: FrameHeader, payload: &[u8]) {
    let mut head = [0u8; MAX_HEADER_LEN];
    let head_len = header.encode(&mut head);
    queue.reserve(head_len + payload.len());
    queue.extend_from_slice(&head[..head_len]);
    let start = queue.len();
    queue.extend_from_slice(payload);
    if let Some(key) = header.mask {
        apply_mask(&mut queue[start..], key);
    }
}

/// The length of the frame that `queued` starts with, header included. The
/// queues hold only frames this module encoded, so the header is whole.
fn encoded_frame_len(queued: &[u8]) -> usize {
    let (len, at) = match queued[1] & 0x7f {
        126 => (u64::from(u16::from_be_bytes([queued[2], queued[3]])), 4),
        127 => {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(&queued[2..10]);
            (u64::from_be_bytes(bytes), 10)
        }
        short => (u64::from(short), 2),
    };
    let mask = if queued[1] & 0x80 != 0 { 4 } else { 0 };
    // A frame this end queued is in memory, so its length fits in usize.
    at + mask + len as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::OpCode;
    use alloc::vec;
    use alloc::vec::Vec;

    /// Whole unmasked binary frames of these payload lengths, encoded.
    fn frames(lens: &[usize]) -> Bytes {
        let mut out = BytesMut::new();
        for (i, &len) in lens.iter().enumerate() {
            encode(
                &mut out,
                FrameHeader::new(OpCode::Binary, len as u64),
                &vec![i as u8; len],
            );
        }
        out.freeze()
    }

    fn pong() -> FrameHeader {
        FrameHeader::new(OpCode::Pong, 1)
    }

    #[test]
    fn shared_frames_follow_the_frames_queued_before_them() {
        let mut out = Output::default();
        out.push_data(FrameHeader::new(OpCode::Text, 2), b"hi");
        let shared = frames(&[300, 5]);
        out.push_frames_shared(shared.clone());
        assert_eq!(out.len(), 4 + shared.len());
        // The run queued before, and the shared frames with it, in one go.
        let slices: Vec<_> = out.transmit().slices().collect();
        assert_eq!(slices, [&b"\x81\x02hi"[..], &shared[..]]);
        // Written across both pieces and into the second frame.
        out.advance(4 + 304 + 1);
        assert_eq!(out.len(), shared.len() - 305);
        assert_eq!(out.transmit().first(), &shared[305..]);
        out.advance(100);
        assert_eq!(out.len(), 0);
        assert!(out.sealed.is_none(), "every handle let go");
    }

    #[test]
    fn a_control_frame_waits_for_the_end_of_a_shared_frame() {
        let mut out = Output::default();
        let shared = frames(&[1000, 1000]);
        out.push_frames_shared(shared.clone());
        out.advance(10);
        out.push_control(pong(), b"p");
        // The rest of the first frame, then the pong, then the rest.
        let slices: Vec<_> = out.transmit().slices().collect();
        assert_eq!(slices, [&shared[10..1004], b"\x8a\x01p", &shared[1004..]]);
        out.advance(994);
        assert_eq!(out.transmit().first(), b"\x8a\x01p");
        out.advance(3);
        assert_eq!(out.transmit().first(), &shared[1004..]);
    }

    #[test]
    fn pieces_walk_shared_frames_one_budget_at_a_time() {
        let mut out = Output::default();
        let shared = frames(&[100, 100, 100]);
        out.push_frames_shared(shared.clone());
        assert_eq!(out.poll(210).unwrap(), shared[..204]);
        out.push_control(pong(), b"p");
        assert_eq!(out.poll(210).unwrap(), &b"\x8a\x01p"[..]);
        assert_eq!(out.poll(210).unwrap(), shared[204..]);
        assert_eq!(out.poll(210), None);
    }

    #[test]
    fn dropping_unstarted_data_keeps_the_rest_of_a_shared_frame() {
        let mut out = Output::default();
        let shared = frames(&[100, 100]);
        out.push_frames_shared(shared.clone());
        out.push_data(FrameHeader::new(OpCode::Text, 1), b"x");
        out.advance(50);
        out.drop_unstarted_data();
        assert_eq!(out.len(), 52);
        assert_eq!(out.take_all(), shared[50..102]);
    }
}
