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

/// With permessage-deflate and `server_no_context_takeover`, the message is
/// compressed once for all connections, by a compressor borrowed from the
/// pool and given back: no connection wakes its own (about 250 KiB
/// each at 9 bits).
#[cfg(feature = "deflate")]
#[test]
fn compressing_for_a_thousand_connections_compresses_once() {
    use rfc6455::deflate::{DeflateConfig, DeflateParams, pool};
    const SERVERS: usize = 1000;
    let params = Some(DeflateParams::new(true, false, 9, 15));
    let config = Config::default().deflate(DeflateConfig::default());
    let mut connections: Vec<Connection> = (0..SERVERS)
        .map(|_| Connection::with_deflate(Role::Server, config, params))
        .collect();
    // Letters a to h at random: about 3 bits a byte, so that the compressed
    // frames (some 25 KiB) are queued by handle too.
    let mut x = 0x9e37_79b9_7f4a_7c15_u64;
    let text: String = (0..PAYLOAD)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from(b'a' + (x % 8) as u8)
        })
        .collect();
    let (prepared, counts) = counting::counted(|| {
        let prepared = PreparedMessage::for_config(Message::text(text.clone()), &config);
        for connection in &mut connections {
            connection.send_prepared(&prepared).unwrap();
        }
        // The one compressor went back to the pool; free it to count what
        // the connections hold.
        assert_eq!(pool::idle().compressors, 1);
        pool::clear();
        prepared
    });
    let compressed = prepared.compressed(9).unwrap().unwrap().len();
    assert!((16 << 10..PAYLOAD).contains(&compressed), "{compressed}");
    for connection in &connections {
        assert_eq!(connection.buffered_amount(), compressed);
    }
    let shared = (PAYLOAD + 10 + compressed) as i64;
    let per_connection = (counts.live - shared) / SERVERS as i64;
    eprintln!(
        "{SERVERS} compressing connections: {} bytes live ({per_connection} per connection \
         beyond both forms of the frames), peak {}",
        counts.live, counts.peak
    );
    assert!(counts.live <= shared + 4096 + PER_CONNECTION * SERVERS as i64);
    // One compressor at a time, not one per connection.
    assert!(counts.peak < (2 << 20) + shared, "peak {}", counts.peak);
}
