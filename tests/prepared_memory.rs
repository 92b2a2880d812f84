//! One prepared message queued on many server connections costs one copy
//! of its payload, plus a few handles per connection, counted by a counting
//! global allocator.
#![cfg(feature = "std")]

mod counting;

use rfc6455::{Config, Connection, Message, PreparedMessage, Role};

#[global_allocator]
static GLOBAL: counting::Counting = counting::Counting;

const CONNECTIONS: usize = 10_000;
const PAYLOAD: usize = 64 << 10;

/// Heap bytes each connection may hold for its handle on the frames: the
/// boxed queue of pieces (40 bytes) and its first two slots (64).
const PER_CONNECTION: i64 = 128;

#[test]
fn ten_thousand_connections_share_one_copy_of_a_64_kib_message() {
    let config = Config::default();
    let mut connections: Vec<Connection> = (0..CONNECTIONS)
        .map(|_| Connection::new(Role::Server, config))
        .collect();
    let (prepared, counts) = counting::counted(|| {
        let prepared = PreparedMessage::for_config(Message::binary(vec![7u8; PAYLOAD]), &config);
        for connection in &mut connections {
            connection.send_prepared(&prepared).unwrap();
        }
        prepared
    });
    let per_connection = (counts.live - PAYLOAD as i64) / CONNECTIONS as i64;
    eprintln!(
        "{CONNECTIONS} connections, {PAYLOAD}-byte message: {} bytes live, \
         {per_connection} bytes per connection beyond the payload, {} allocations",
        counts.live, counts.allocations
    );
    assert!(
        counts.live <= PAYLOAD as i64 + 1024 + PER_CONNECTION * CONNECTIONS as i64,
        "{} bytes live, {per_connection} per connection",
        counts.live
    );
    // Every connection queued the whole frame, 10 bytes of header included.
    for connection in &connections {
        assert_eq!(connection.buffered_amount(), PAYLOAD + 10);
    }
    assert_eq!(prepared.frames().len(), PAYLOAD + 10);

    // Writing them lets go of every handle: only the prepared message stays.
    let ((), written) = counting::counted(|| {
        for connection in &mut connections {
            while let Some(piece) = connection.poll_transmit() {
                assert_eq!(piece.len(), PAYLOAD + 10);
            }
        }
    });
    assert!(
        -written.live >= (CONNECTIONS as i64) * 100,
        "{} bytes freed",
        -written.live
    );
    assert_eq!(
        written.allocations, 0,
        "handing out the frames copies nothing"
    );
}
