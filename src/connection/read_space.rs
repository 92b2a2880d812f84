//! Reading straight into the connection: while a fragment's payload
//! arrives, an adapter can read into the spare capacity of the message being
//! assembled, and while a large frame's payload arrives, into the receive
//! buffer that holds it, instead of into a buffer of its own that
//! [`receive`](Connection::receive) then copies.

use bytes::BufMut;
use bytes::buf::UninitSlice;

use super::Connection;
use crate::time::Timestamp;

/// The least room offered at once: what a read of a frame's payload is
/// given even when little of the message has arrived yet.
const MIN_ROOM: usize = 64 << 10;

/// Room offered past the end of a frame whose payload goes into the
/// message, when one read can end it: for the next frame's header (at most
/// 14 bytes), a control frame, and a little of the next payload, so that
/// the read that ends a frame begins the next one as well. Those bytes
/// leave the message when the space is dropped, for the receive buffer.
/// Without them, a busy connection read the end of each 64 KiB frame and
/// the next header alone (two reads a frame), or into a buffer of the
/// caller's, from which the next payload was copied again.
const PAST_FRAME: usize = 256;

/// Room for the next read where the payload being received goes: a
/// [`BufMut`] that a transport fills (`tokio::io::AsyncReadExt::read_buf`,
/// for one). From [`Connection::payload_space`].
///
/// When it is dropped, the connection takes the bytes written into it as
/// if given to [`receive`](Connection::receive): unmasked, and checked at
/// the next [`poll_event`](Connection::poll_event). Bytes written past
/// the frame's end are the next frames', parsed as `receive` would parse
/// them: in the message, they leave it for the receive buffer first.
pub struct PayloadSpace<'a, T: Timestamp> {
    connection: &'a mut Connection<T>,
    /// Bytes that may still be written.
    room: usize,
    /// The length of the buffer written when the space was handed out.
    start: usize,
    /// The buffer written.
    target: Target,
}

/// The buffer a [`PayloadSpace`] writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    /// The message being assembled, whose frame's payload ends at
    /// `frame_end`: bytes written past it are the next frames', moved to
    /// the receive buffer on drop ([`PAST_FRAME`]).
    Message { frame_end: usize },
    /// The receive buffer, which takes bytes past the frame where they
    /// are.
    ReceiveBuffer,
}

impl<T: Timestamp> Connection<T> {
    /// Room for the next read where the payload being received goes:
    /// the message being assembled, while a fragment of a message in
    /// several frames is arriving; for a frame that is a whole message, the
    /// receive buffer while it has room (for the rest of the frame, or for
    /// the next read of a frame that still needs 64 KiB or more), else,
    /// for a frame of 64 KiB or more, the message, the payload moving there
    /// first. Smaller frames, and a compressed message's, stay in the
    /// receive buffer, grown. `None` otherwise (the end of a frame under
    /// 64 KiB in a buffer without room for it, or no payload arriving):
    /// then read into a buffer of your own and give it to
    /// [`receive`](Self::receive).
    ///
    /// The room is at most what the frame still needs, and at most as
    /// much as has arrived already (at least 64 KiB): the buffer grows with
    /// what arrives, never to what a header announced (section 10.4). A
    /// read that can end the frame goes past it, so that it brings the
    /// next frame's header (and perhaps a control frame) too: by 256 bytes
    /// in the message, and in a receive buffer that already has room for
    /// the end, by what the buffer has (up to 64 KiB), with no allocation
    /// made for those bytes. Reading into it copies
    /// the payload once, from the socket into the connection. That saves a
    /// copy where the payload is not masked (a client receiving); a masked
    /// payload is unmasked in one pass either way, as it is copied out of a
    /// read's buffer or in place.
    ///
    /// Bytes read this way count for the timers as bytes given to
    /// `receive` do: give the time with [`receive_at`](Self::receive_at)
    /// and no bytes.
    ///
    /// ```
    /// use bytes::BufMut;
    /// use core::time::Duration;
    /// use rfc6455::{Config, Connection, Event, Message};
    ///
    /// // A client's message of 1500 bytes in two frames: 1000 and 500
    /// // bytes of payload, each behind an 8-byte header (masked; the key
    /// // stands for a random one).
    /// let payload = vec![7u8; 1500];
    /// let config = Config::default().send_frame_size(1000);
    /// let mut client = Connection::<Duration>::client(config, || [0x37, 0xfa, 0x21, 0x3d]);
    /// client.send_binary(&payload)?;
    /// let wire = client.take_transmit().to_vec();
    ///
    /// let mut server = Connection::<Duration>::server(Config::default());
    /// // The first header and 100 bytes of payload arrive.
    /// server.receive(&wire[..8 + 100]);
    /// assert_eq!(server.poll_event()?, None);
    /// // The rest of that fragment is read straight into the message: the
    /// // space takes its 900 bytes, and 256 more for what comes after it.
    /// let mut space = server.payload_space().expect("a fragment is arriving");
    /// assert_eq!(space.remaining_mut(), 900 + 256);
    /// space.put_slice(&wire[8 + 100..8 + 1000 + 256]);
    /// drop(space);
    /// server.receive(&wire[8 + 1000 + 256..]);
    /// assert_eq!(server.poll_event()?, Some(Event::Message(Message::binary(payload))));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn payload_space(&mut self) -> Option<PayloadSpace<'_, T>> {
        if self.close_received || self.stopped {
            return None;
        }
        if let Some(needed) = self.direct_payload_needed() {
            let have = self.assembler.payload_len();
            let room = needed.min(have.max(MIN_ROOM));
            if room == 0 {
                return None;
            }
            let past = if room == needed { PAST_FRAME } else { 0 };
            // Grown (by the reads before the last one too) to at most the
            // message's end and `PAST_FRAME`, so that the last read does
            // not move the message to make room past it.
            self.assembler
                .payload_buffer_past_end(room + past, PAST_FRAME);
            return Some(PayloadSpace {
                connection: self,
                room: room + past,
                start: have,
                target: Target::Message {
                    frame_end: have + needed,
                },
            });
        }
        let needed = self.buffered_payload_needed()?;
        let have = self.recv.len();
        if needed < MIN_ROOM {
            // The end of a frame. When the receive buffer already has room
            // for it, the read goes there, and takes the bytes after it
            // too, up to that room: the next frame's header and payload
            // come without a copy through a buffer of the caller's.
            // Otherwise it is read with those bytes, and given to `receive`.
            let spare = self.recv.capacity() - have;
            if spare >= needed {
                return Some(PayloadSpace {
                    connection: self,
                    room: spare.min(needed + MIN_ROOM),
                    start: have,
                    target: Target::ReceiveBuffer,
                });
            }
            // A data frame of 64 KiB or more goes on into the message, and
            // its end is read there; a smaller one is read with the bytes
            // after it, and given to `receive`.
            if self.payload_to_message(PAST_FRAME) {
                return self.payload_space();
            }
            return None;
        }
        let room = needed.min(have.max(MIN_ROOM));
        if self.recv.capacity() - have < room && self.payload_to_message(PAST_FRAME) {
            // A data frame's payload goes on into the message.
            return self.payload_space();
        }
        self.reserve_buffered_payload(room);
        Some(PayloadSpace {
            connection: self,
            room,
            start: have,
            target: Target::ReceiveBuffer,
        })
    }
}

impl<T: Timestamp> PayloadSpace<'_, T> {
    /// The buffer written: the message's `Vec<u8>` or the receive
    /// buffer's `BytesMut`.
    fn buffer(&mut self) -> &mut dyn BufMut {
        match self.target {
            Target::Message { .. } => self.connection.assembler.payload_buffer(0),
            Target::ReceiveBuffer => &mut self.connection.recv,
        }
    }
}

// SAFETY: each method forwards to the buffer written (the message's
// `Vec<u8>` or the receive buffer's `BytesMut`), whose `BufMut` upholds the
// trait's contract, and only narrows it: `remaining_mut` and `chunk_mut`
// never exceed `room`, and `advance_mut` lowers `room` by what it passes
// on. `room` bytes were reserved in that buffer before the space was handed
// out, so `chunk_mut` never makes it grow.
unsafe impl<T: Timestamp> BufMut for PayloadSpace<'_, T> {
    fn remaining_mut(&self) -> usize {
        self.room
    }

    // SAFETY: `BufMut`'s contract on the caller: the first `cnt` bytes of
    // the last `chunk_mut` were initialized; that chunk was at most `room`.
    unsafe fn advance_mut(&mut self, cnt: usize) {
        assert!(cnt <= self.room, "advance_mut past the room given");
        self.room -= cnt;
        // SAFETY: our caller wrote the first `cnt` bytes of the chunk we
        // gave, which is the start of the buffer's spare capacity.
        unsafe { self.buffer().advance_mut(cnt) }
    }

    fn chunk_mut(&mut self) -> &mut UninitSlice {
        let room = self.room;
        if room == 0 {
            // The buffer's own `chunk_mut` would grow it when full.
            return UninitSlice::new(&mut []);
        }
        let chunk = self.buffer().chunk_mut();
        let len = chunk.len().min(room);
        &mut chunk[..len]
    }
}

impl<T: Timestamp> Drop for PayloadSpace<'_, T> {
    fn drop(&mut self) {
        let end = match self.target {
            Target::Message { .. } => self.connection.assembler.payload_len(),
            Target::ReceiveBuffer => self.connection.recv.len(),
        };
        if end == self.start {
            return;
        }
        let connection = &mut *self.connection;
        connection.timers.bytes_without_time();
        // Bytes past the frame's end (at most `PAST_FRAME`) leave the
        // message before it is unmasked: they are the next frames', given
        // to `receive` as if read into a buffer of the caller's.
        let mut past = [0; PAST_FRAME];
        let past = match self.target {
            Target::Message { frame_end } if end > frame_end => {
                let n = end - frame_end;
                let message = connection.assembler.payload_buffer(0);
                past[..n].copy_from_slice(&message[frame_end..]);
                message.truncate(frame_end);
                &past[..n]
            }
            _ => &[][..],
        };
        connection.unmask_read_in_place(self.start);
        connection.receive(past);
    }
}

impl<T: Timestamp> core::fmt::Debug for PayloadSpace<'_, T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PayloadSpace")
            .field("room", &self.room)
            .finish_non_exhaustive()
    }
}

// `Connection::new` needs `std`; Miri runs these with it.
#[cfg(all(test, feature = "std"))]
mod tests {
    use alloc::vec;
    use alloc::vec::Vec;

    use bytes::{BufMut, Bytes};

    use crate::frame::{OpCode, wire_frame};
    use crate::{Config, Connection, Event, Message, Role};

    fn client_frame(fin: bool, opcode: OpCode, payload: &[u8]) -> Vec<u8> {
        wire_frame(fin, opcode, payload, Some([1, 2, 3, 4]))
    }

    /// Two masking keys for frames that arrive at `role`: a client's
    /// frames are masked, a server's are not.
    fn two_keys(role: Role) -> (Option<[u8; 4]>, Option<[u8; 4]>) {
        match role {
            Role::Server => (Some([1, 2, 3, 4]), Some([5, 6, 7, 8])),
            Role::Client => (None, None),
        }
    }

    /// Writes `bytes` through `chunk_mut` and `advance_mut`, `step` at a
    /// time, as a transport does; returns how many it took.
    fn fill(space: &mut impl BufMut, bytes: &[u8], step: usize) -> usize {
        let mut taken = 0;
        while taken < bytes.len() && space.has_remaining_mut() {
            let chunk = space.chunk_mut();
            let n = chunk.len().min(step).min(bytes.len() - taken);
            chunk[..n].copy_from_slice(&bytes[taken..taken + n]);
            // SAFETY: the first `n` bytes of the chunk were just written.
            unsafe { space.advance_mut(n) };
            taken += n;
        }
        taken
    }

    #[test]
    fn no_space_without_a_fragment_arriving() {
        let mut server = Connection::new(Role::Server, Config::default());
        assert!(server.payload_space().is_none());
        // A message in one frame goes through the receive buffer.
        let frame = client_frame(true, OpCode::Binary, &[5; 300]);
        server.receive(&frame[..50]);
        assert_eq!(server.poll_event(), Ok(None));
        assert!(server.payload_space().is_none());
    }

    #[test]
    fn fragments_read_into_the_message_in_pieces() {
        let text: Vec<u8> = (0..900u32).map(|i| b'a' + (i % 26) as u8).collect();
        let first = client_frame(false, OpCode::Text, &text[..200]);
        let second = client_frame(true, OpCode::Continuation, &text[200..]);
        let mut server = Connection::new(Role::Server, Config::default());
        server.receive(&first[..10]);
        assert_eq!(server.poll_event(), Ok(None));
        let mut rest = &first[10..];
        while !rest.is_empty() {
            let mut space = server.payload_space().expect("room");
            // What the fragment needs, and room for the next header.
            assert_eq!(space.remaining_mut(), rest.len() + super::PAST_FRAME);
            let n = fill(&mut space, rest, 13);
            drop(space);
            rest = &rest[n..];
            assert_eq!(server.poll_event(), Ok(None));
        }
        assert!(server.payload_space().is_none(), "the fragment is whole");
        server.receive(&second[..9]);
        assert_eq!(server.poll_event(), Ok(None));
        let mut space = server.payload_space().expect("room");
        assert_eq!(space.remaining_mut(), second.len() - 9 + super::PAST_FRAME);
        // The frames after it come with the read, up to 256 bytes: they
        // leave the message for the receive buffer, still masked.
        let mut more = second[9..].to_vec();
        more.extend(client_frame(true, OpCode::Ping, b"after"));
        more.extend(client_frame(true, OpCode::Binary, &[9; 300]));
        let n = fill(&mut space, &more, 1000);
        assert_eq!(space.chunk_mut().len(), 0, "the room is used up");
        drop(space);
        assert_eq!(n, second.len() - 9 + super::PAST_FRAME);
        let text = alloc::string::String::from_utf8(text).unwrap();
        assert_eq!(
            server.poll_event(),
            Ok(Some(Event::Message(Message::text(text))))
        );
        assert_eq!(
            server.poll_event(),
            Ok(Some(Event::Ping(Bytes::from_static(b"after"))))
        );
        // The binary frame's header and the first of its bytes wait in the
        // receive buffer for the rest.
        assert_eq!(server.poll_event(), Ok(None));
        server.receive(&more[n..]);
        assert_eq!(
            server.poll_event(),
            Ok(Some(Event::Message(Message::binary(vec![9; 300]))))
        );
    }

    /// A large frame, masked or not, read in place into its message (the
    /// receive buffer has no room for it): each room at most what arrived
    /// (at least 64 KiB) and what the frame needs, and the end up to the
    /// frame's end and no further; what a read leaves is given to
    /// `receive`, with the next frame.
    #[test]
    fn a_large_frame_is_read_in_place_into_its_message() {
        // 150,000 bytes end with less than 64 KiB to come; 1,000,000 end
        // inside a read in place. Miri is slow with large buffers: the
        // first only.
        let lens: &[usize] = if cfg!(miri) {
            &[150_000]
        } else {
            &[150_000, 1_000_000]
        };
        for (&len, role) in lens
            .iter()
            .flat_map(|len| [(len, Role::Server), (len, Role::Client)])
        {
            let payload: Vec<u8> = (0..len).map(|i| (i * 7 + i / 251) as u8).collect();
            let frame = match role {
                Role::Server => client_frame(true, OpCode::Binary, &payload),
                Role::Client => wire_frame(true, OpCode::Binary, &payload, None),
            };
            let head = frame.len() - len;
            // The frame, then a ping behind it.
            let mut wire = frame.clone();
            match role {
                Role::Server => wire.extend(client_frame(true, OpCode::Ping, b"")),
                Role::Client => wire.extend(wire_frame(true, OpCode::Ping, b"", None)),
            }
            let mut connection = Connection::new(role, Config::default());
            connection.receive(&wire[..head + 10]);
            let mut events = Vec::new();
            events.extend(connection.poll_event().unwrap());
            let mut at = head + 10;
            let mut reads = 0;
            let mut grown_to_end = None;
            loop {
                let Some(mut space) = connection.payload_space() else {
                    break;
                };
                let arrived = at - head;
                let needed = frame.len() - at;
                let room = space.remaining_mut();
                // What arrived (at least 64 KiB) and no more than the
                // frame needs; with the end, 256 bytes past it.
                let for_frame = needed.min(arrived.max(64 << 10));
                let past = if for_frame == needed { 256 } else { 0 };
                assert_eq!(room, for_frame + past, "{role:?}");
                at += fill(&mut space, &wire[at..], 4096);
                drop(space);
                // Once the message's buffer has the message's size, it
                // does not move again: it has room for the bytes read past
                // the end from then on.
                let capacity = connection.assembler.payload_buffer(0).capacity();
                if let Some(grown) = grown_to_end {
                    assert_eq!(capacity, grown, "{role:?}: moved at {at}");
                } else if capacity >= len {
                    grown_to_end = Some(capacity);
                }
                while let Some(event) = connection.poll_event().unwrap() {
                    events.push(event);
                }
                reads += 1;
            }
            assert!(reads >= 2, "{role:?}: {reads} reads in place");
            // The read that ended the frame took the ping behind it, which
            // went to the receive buffer.
            assert_eq!(at, wire.len(), "{role:?}");
            assert_eq!(events.len(), 2, "{role:?}");
            assert!(
                events[0] == Event::Message(Message::binary(payload.clone())),
                "{role:?}: the payload arrives whole and unmasked"
            );
            assert!(matches!(events[1], Event::Ping(_)), "{role:?}");
        }
    }

    /// A read that ends 12 KiB into a frame, behind a whole frame: those
    /// 12 KiB move at once, unmasked on the way, so that the next read
    /// neither moves them again nor unmasks them a second time. A frame of
    /// 64 KiB or more moves into its message, in a buffer of the message's
    /// size that the bytes after the frame never reach; a smaller one to a
    /// receive buffer of its own with room for the rest and a read behind
    /// it. A part under 4 KiB stays where it arrived.
    #[test]
    fn a_frame_begun_in_a_read_moves_once() {
        let first = [7u8; 300];
        for (role, len, part) in [
            (Role::Server, 64 << 10, 12 << 10),
            (Role::Client, 64 << 10, 12 << 10),
            (Role::Server, 20 << 10, 12 << 10),
            (Role::Client, 20 << 10, 12 << 10),
            (Role::Server, 64 << 10, 4095),
            (Role::Server, 20 << 10, 4095),
        ] {
            let payload: Vec<u8> = (0..len).map(|i: usize| (i * 13 + i / 97) as u8).collect();
            let mask = (role == Role::Server).then_some([9, 8, 7, 6]);
            let mut bytes = wire_frame(true, OpCode::Binary, &first, mask);
            let second = wire_frame(true, OpCode::Binary, &payload, mask);
            let head = second.len() - payload.len();
            bytes.extend_from_slice(&second[..head + part]);
            let mut connection = Connection::new(role, Config::default());
            connection.receive(&bytes);
            let Ok(Some(Event::Message(Message::Binary(one)))) = connection.poll_event() else {
                panic!("{role:?}: the first message");
            };
            assert_eq!(one, first[..]);
            assert_eq!(connection.poll_event(), Ok(None));
            // Where the part arrived: behind the first frame and this header.
            let arrived_at = one.as_ptr_range().end.wrapping_add(head);
            let into_message = part >= 4096 && len >= 64 << 10;
            if into_message {
                assert!(connection.recv.is_empty(), "{role:?}, {len}: moved");
                let message = connection.assembler.payload_buffer(0);
                assert_eq!(message[..], payload[..part], "{role:?}: unmasked");
                assert_eq!(message.capacity(), len, "{role:?}: the message's size");
            } else {
                assert_eq!(connection.assembler.payload_len(), 0, "{role:?}, {len}");
                assert_eq!(connection.recv[..], payload[..part], "{role:?}: unmasked");
                let room = connection.recv.capacity() - part;
                if part >= 4096 {
                    assert!(connection.recv.as_ptr() != arrived_at, "{role:?}: moved");
                    assert!(
                        room >= len - part + (64 << 10),
                        "{role:?}: room for the rest and a read: {room}"
                    );
                    assert!(room < 3 * (64 << 10), "{role:?}: {room}");
                } else {
                    assert!(connection.recv.as_ptr() == arrived_at, "{role:?}: stays");
                    assert_eq!(room, 0, "{role:?}");
                }
            }
            let message_at = connection.assembler.payload_buffer(0).as_ptr();
            // The rest of the frame and a ping, in one read.
            let mut rest = second[head + part..].to_vec();
            rest.extend(wire_frame(true, OpCode::Ping, b"", mask));
            connection.receive(&rest);
            let Ok(Some(Event::Message(Message::Binary(two)))) = connection.poll_event() else {
                panic!("{role:?}: the second message");
            };
            assert!(
                two == payload[..],
                "{role:?}, {len}: the second message, whole"
            );
            if into_message {
                assert!(two.as_ptr() == message_at, "{role:?}: not moved again");
            }
            assert!(matches!(connection.poll_event(), Ok(Some(Event::Ping(_)))));
        }
    }

    /// The end of a frame of 64 KiB (under 64 KiB to come, what a read
    /// that ends just behind its header leaves) in a receive buffer without
    /// room for it: the payload moves into its message, and the end is read
    /// there with the next frame's header, which goes on to the receive
    /// buffer. It was read into a buffer of the caller's and copied again,
    /// which took most of a busy 64 KiB echo's payloads twice.
    #[test]
    fn the_end_of_a_large_frame_is_read_into_its_message_with_the_next_header() {
        let payload: Vec<u8> = (0..64 << 10)
            .map(|i: usize| (i * 3 + i / 97) as u8)
            .collect();
        for role in [Role::Server, Role::Client] {
            let (a, b) = two_keys(role);
            let first = wire_frame(true, OpCode::Binary, &payload, a);
            let next = wire_frame(true, OpCode::Binary, &payload[..1000], b);
            let mut connection = Connection::new(role, Config::default());
            // The header and 1,000 bytes: too few to move at once.
            let part = first.len() - payload.len() + 1000;
            connection.receive(&first[..part]);
            assert_eq!(connection.poll_event(), Ok(None));
            let to_come = first.len() - part;
            assert!(connection.recv.capacity() - connection.recv.len() < to_come);
            let mut space = connection.payload_space().expect("room for the end");
            assert_eq!(
                space.remaining_mut(),
                to_come + super::PAST_FRAME,
                "{role:?}"
            );
            let mut wire = first[part..].to_vec();
            wire.extend_from_slice(&next);
            let n = fill(&mut space, &wire, 4096);
            assert_eq!(n, to_come + super::PAST_FRAME, "{role:?}");
            drop(space);
            assert!(
                connection.recv.len() == super::PAST_FRAME,
                "{role:?}: the next frame's first bytes"
            );
            assert!(
                connection.poll_event()
                    == Ok(Some(Event::Message(Message::binary(payload.clone())))),
                "{role:?}: the first message"
            );
            assert_eq!(connection.poll_event(), Ok(None));
            connection.receive(&wire[n..]);
            assert!(
                connection.poll_event()
                    == Ok(Some(Event::Message(Message::binary(
                        payload[..1000].to_vec()
                    )))),
                "{role:?}: the next message"
            );
        }
    }

    /// The end of a frame in a receive buffer that has room for it is read
    /// in place, with the frames after it: a whole one, and the start of
    /// another, which stays there, the buffer having room for it too. Only
    /// the frame's own bytes are unmasked with its key.
    #[test]
    fn the_end_of_a_frame_is_read_in_place_with_the_frames_after_it() {
        let payload: Vec<u8> = (0..30 << 10)
            .map(|i: usize| (i * 5 + i / 89) as u8)
            .collect();
        for role in [Role::Server, Role::Client] {
            let (a, b) = two_keys(role);
            let first = wire_frame(true, OpCode::Binary, &payload, a);
            let small = wire_frame(true, OpCode::Text, b"between", b);
            let third = wire_frame(true, OpCode::Binary, &payload[..20_000], a);
            let mut connection = Connection::new(role, Config::default());
            // A receive buffer with room, as one kept from earlier reads.
            connection.recv.reserve(128 << 10);
            let part = first.len() - (10 << 10);
            connection.receive(&first[..part]);
            assert_eq!(connection.poll_event(), Ok(None));
            let mut space = connection.payload_space().expect("room for the end");
            let room = space.remaining_mut();
            assert!(
                room >= (10 << 10) + small.len() + 10_000,
                "{role:?}: {room}"
            );
            assert!(room <= (10 << 10) + (64 << 10), "{role:?}: {room}");
            let mut wire = first[part..].to_vec();
            wire.extend_from_slice(&small);
            wire.extend_from_slice(&third[..10_000]);
            assert_eq!(fill(&mut space, &wire, 7000), wire.len());
            drop(space);
            assert!(
                connection.poll_event()
                    == Ok(Some(Event::Message(Message::binary(payload.clone())))),
                "{role:?}: the first message"
            );
            assert_eq!(
                connection.poll_event(),
                Ok(Some(Event::Message(Message::text("between"))))
            );
            assert_eq!(connection.poll_event(), Ok(None));
            // The third frame's part stays where it is, the buffer having
            // room for the rest, which is read in place there too.
            assert_eq!(
                connection.recv.len(),
                10_000 - (third.len() - 20_000),
                "{role:?}"
            );
            let mut space = connection.payload_space().expect("room for the third");
            assert!(space.remaining_mut() >= third.len() - 10_000);
            assert_eq!(
                fill(&mut space, &third[10_000..], 4096),
                third.len() - 10_000
            );
            drop(space);
            assert!(
                connection.poll_event()
                    == Ok(Some(Event::Message(Message::binary(
                        payload[..20_000].to_vec()
                    )))),
                "{role:?}: the third message"
            );
            assert!(connection.payload_space().is_none());
            connection.receive(&small);
            assert_eq!(
                connection.poll_event(),
                Ok(Some(Event::Message(Message::text("between"))))
            );
        }
    }

    /// A header that announces far more than arrives gets room in
    /// proportion to what arrived, not to the announcement (section 10.4).
    #[test]
    fn an_announced_length_does_not_size_the_room() {
        let config = Config::default()
            .max_frame_size(1 << 30)
            .max_message_size(1 << 30);
        let mut server = Connection::new(Role::Server, config);
        // 127: a 64-bit length, 1 GiB; the mask key; then 10 bytes.
        let mut header = vec![0x82, 0xff];
        header.extend_from_slice(&(1u64 << 30).to_be_bytes());
        header.extend_from_slice(&[1, 2, 3, 4]);
        header.extend_from_slice(&[0; 10]);
        server.receive(&header);
        assert_eq!(server.poll_event(), Ok(None));
        let space = server.payload_space().expect("room");
        assert_eq!(space.remaining_mut(), 64 << 10);
        drop(space);
        let reserved = server.recv.capacity() + server.assembler.payload_buffer(0).capacity();
        assert!(reserved < 256 << 10, "{reserved}");
        // As bytes arrive, in place and through `receive`, the buffer stays
        // within four times what arrived, plus 64 KiB and a read.
        let read = [0u8; 64 << 10];
        let steps = if cfg!(miri) { 4 } else { 12 };
        for step in 0..steps {
            if step % 2 == 0 {
                let mut space = server.payload_space().expect("room");
                let n = space.remaining_mut().min(read.len());
                space.put_slice(&read[..n]);
            } else {
                server.receive(&read);
            }
            assert_eq!(server.poll_event(), Ok(None));
            // The payload is in the message once it outgrew the receive
            // buffer: count both.
            let message = server.assembler.payload_buffer(0).capacity();
            let arrived = server.recv.len() + server.assembler.payload_len();
            let capacity = server.recv.capacity() + message;
            assert!(message > 0, "the payload moved into the message");
            assert!(
                capacity <= 4 * arrived + (128 << 10),
                "{capacity} reserved for {arrived} arrived"
            );
        }
    }

    #[test]
    fn bad_utf8_read_in_place_fails_the_connection() {
        let first = client_frame(false, OpCode::Text, &[0xff; 50]);
        let mut server = Connection::new(Role::Server, Config::default());
        // The 6-byte header alone.
        server.receive(&first[..6]);
        assert_eq!(server.poll_event(), Ok(None));
        let mut space = server.payload_space().expect("room");
        fill(&mut space, &first[6..], 64);
        drop(space);
        let error = server.poll_event().unwrap_err();
        assert_eq!(u16::from(error.close_code()), 1007);
        assert!(server.payload_space().is_none());
    }

    #[test]
    fn an_empty_space_changes_nothing() {
        let first = client_frame(false, OpCode::Binary, &[9; 100]);
        let mut server = Connection::new(Role::Server, Config::default());
        server.receive(&first[..6]);
        assert_eq!(server.poll_event(), Ok(None));
        drop(server.payload_space());
        server.receive(&first[6..]);
        server.receive(&client_frame(true, OpCode::Continuation, &[]));
        assert_eq!(
            server.poll_event(),
            Ok(Some(Event::Message(Message::Binary(Bytes::from(vec![
                9;
                100
            ])))))
        );
    }
}
