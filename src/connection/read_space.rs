//! Reading straight into the message: while a fragment's payload arrives,
//! an adapter can read into the spare capacity of the message being
//! assembled instead of into a buffer of its own that
//! [`receive`](Connection::receive) then copies.

use bytes::BufMut;
use bytes::buf::UninitSlice;

use super::Connection;
use crate::time::Timestamp;

/// The least room offered at once: what a read of a frame's payload is
/// given even when little of the message has arrived yet.
const MIN_ROOM: usize = 64 << 10;

/// Room for the next read in the message being assembled, at most what the
/// fragment being received still needs: a [`BufMut`] that a transport
/// fills (`tokio::io::AsyncReadExt::read_buf`, for one). From
/// [`Connection::payload_space`].
///
/// When it is dropped, the connection takes the bytes written into it as
/// if given to [`receive`](Connection::receive): unmasked, and checked at
/// the next [`poll_event`](Connection::poll_event). Nothing written past
/// what the frame needs can reach the message.
pub struct PayloadSpace<'a, T: Timestamp> {
    connection: &'a mut Connection<T>,
    /// Bytes that may still be written.
    room: usize,
    /// The message's length when the space was handed out.
    start: usize,
}

impl<T: Timestamp> Connection<T> {
    /// Room in the message being assembled for the next read, while the
    /// payload of a fragment of a message in several frames is arriving
    /// (and the message is not compressed); `None` otherwise: then read
    /// into a buffer of your own and give it to
    /// [`receive`](Self::receive).
    ///
    /// The room is at most what the fragment still needs, so a read never
    /// takes bytes of the next frame, and at most as much as the message
    /// holds already (at least 64 KiB): the message grows with what
    /// arrives, never to what a header announced (section 10.4). Reading
    /// into it copies the payload once, from the socket into the message.
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
    /// // space takes 900 bytes, no more.
    /// let mut space = server.payload_space().expect("a fragment is arriving");
    /// assert_eq!(space.remaining_mut(), 900);
    /// space.put_slice(&wire[8 + 100..8 + 1000]);
    /// drop(space);
    /// server.receive(&wire[8 + 1000..]);
    /// assert_eq!(server.poll_event()?, Some(Event::Message(Message::binary(payload))));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn payload_space(&mut self) -> Option<PayloadSpace<'_, T>> {
        if self.close_received || self.stopped {
            return None;
        }
        let needed = self.direct_payload_needed()?;
        let have = self.assembler.payload_len();
        let room = needed.min(have.max(MIN_ROOM));
        if room == 0 {
            return None;
        }
        self.assembler.payload_buffer(room);
        Some(PayloadSpace {
            connection: self,
            room,
            start: have,
        })
    }
}

impl<T: Timestamp> PayloadSpace<'_, T> {
    fn message(&mut self) -> &mut alloc::vec::Vec<u8> {
        self.connection.assembler.payload_buffer(0)
    }
}

// SAFETY: each method forwards to the message's `Vec<u8>`, whose `BufMut`
// upholds the trait's contract, and only narrows it: `remaining_mut` and
// `chunk_mut` never exceed `room`, and `advance_mut` lowers `room` by what
// it passes on. `room` bytes were reserved in the `Vec` before the space was
// handed out, so `chunk_mut` never makes it grow.
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
        // gave, which is the start of the `Vec`'s spare capacity.
        unsafe { self.message().advance_mut(cnt) }
    }

    fn chunk_mut(&mut self) -> &mut UninitSlice {
        let room = self.room;
        if room == 0 {
            // `Vec`'s own `chunk_mut` would grow a full vector.
            return UninitSlice::new(&mut []);
        }
        let chunk = self.message().chunk_mut();
        let len = chunk.len().min(room);
        &mut chunk[..len]
    }
}

impl<T: Timestamp> Drop for PayloadSpace<'_, T> {
    fn drop(&mut self) {
        let connection = &mut *self.connection;
        let end = connection.assembler.payload_len();
        if end == self.start {
            return;
        }
        connection.timers.bytes_without_time();
        connection.unmask_direct_payload(self.start);
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

    use crate::frame::{FrameHeader, MAX_HEADER_LEN, OpCode, Rsv};
    use crate::mask::apply_mask;
    use crate::{Config, Connection, Event, Message, Role};

    fn client_frame(fin: bool, opcode: OpCode, payload: &[u8]) -> Vec<u8> {
        let header = FrameHeader {
            fin,
            rsv: Rsv::NONE,
            opcode,
            mask: Some([1, 2, 3, 4]),
            payload_len: payload.len() as u64,
        };
        let mut head = [0u8; MAX_HEADER_LEN];
        let n = header.encode(&mut head);
        let mut out = head[..n].to_vec();
        let start = out.len();
        out.extend_from_slice(payload);
        apply_mask(&mut out[start..], [1, 2, 3, 4]);
        out
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
            assert_eq!(space.remaining_mut(), rest.len());
            let n = fill(&mut space, rest, 13);
            drop(space);
            rest = &rest[n..];
            assert_eq!(server.poll_event(), Ok(None));
        }
        assert!(server.payload_space().is_none(), "the fragment is whole");
        server.receive(&second[..9]);
        assert_eq!(server.poll_event(), Ok(None));
        let mut space = server.payload_space().expect("room");
        assert_eq!(space.remaining_mut(), second.len() - 9);
        // More offered than the frame needs: only its own bytes are taken.
        let mut more = second[9..].to_vec();
        more.extend_from_slice(b"next frame");
        let n = fill(&mut space, &more, 1000);
        assert_eq!(space.chunk_mut().len(), 0);
        drop(space);
        assert_eq!(n, second.len() - 9);
        let text = alloc::string::String::from_utf8(text).unwrap();
        assert_eq!(
            server.poll_event(),
            Ok(Some(Event::Message(Message::text(text))))
        );
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
