//! Heap use of permessage-deflate, counted by a counting global allocator:
//! a decompression bomb fails with 1009 before memory passes the limit plus
//! a constant, nothing is allocated before the first compressed message,
//! and what a connection holds once both directions compressed.
#![cfg(feature = "deflate")]

mod counting;

use rfc6455::deflate::{DeflateConfig, DeflateParams, Deflater};
use rfc6455::message::MessageError;
use rfc6455::{Config, Connection, Event, ProtocolError, Role};

#[global_allocator]
static GLOBAL: counting::Counting = counting::Counting;

/// The tests that use the process-wide pool (shared mode) take turns, so
/// that one's states are not counted in another's thread.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Runs `f` with counting on; returns (allocations, peak live bytes, live
/// bytes at the end).
fn counted<T>(f: impl FnOnce() -> T) -> (T, u64, i64, i64) {
    let (value, counts) = counting::counted(f);
    (value, counts.allocations, counts.peak, counts.live)
}

/// A masked client frame with any first byte.
fn frame(first: u8, payload: &[u8]) -> Vec<u8> {
    let key = [1, 2, 3, 4];
    let mut out = vec![first];
    match payload.len() {
        n if n < 126 => out.push(0x80 | n as u8),
        n if n <= 0xffff => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&key);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    out
}

/// One block of compressed zeros, byte-aligned by a sync flush: it inflates
/// to the same 1 MiB whatever came before, so repeating it makes a bomb of
/// any size.
fn zeros_block() -> Vec<u8> {
    let mut deflater = Deflater::new(9, 15, false);
    let mut block = Vec::new();
    deflater
        .compress(&vec![0u8; 1 << 20], false, &mut block)
        .unwrap();
    block
}

const GIB: usize = 1 << 30;

/// Feeds a bomb of `frames` (whose inflated total is 1 GiB) in 64 KiB
/// pieces, polling after each, and returns the error and the peak heap.
fn explode(limit: u64, frames: Vec<Vec<u8>>) -> (Option<ProtocolError>, i64) {
    let wire = frames.concat();
    let config = Config::default()
        .max_message_size(limit)
        .deflate(DeflateConfig::default());
    let (error, _, peak, _) = counted(|| {
        let mut server =
            Connection::with_deflate(Role::Server, config, Some(DeflateParams::default()));
        for piece in wire.chunks(64 * 1024) {
            server.receive(piece);
            loop {
                match server.poll_event() {
                    Ok(Some(Event::Message(_))) => panic!("the bomb was delivered"),
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(error) => return Some(error),
                }
            }
        }
        None
    });
    (error, peak)
}

#[test]
fn a_bomb_fails_with_1009_within_the_limit() {
    let block = zeros_block();
    let blocks = GIB >> 20;
    println!(
        "bomb: {} compressed bytes per MiB, {} KiB on the wire for 1 GiB",
        block.len(),
        block.len() * blocks / 1024
    );
    for limit in [1u64 << 20, 16 << 20] {
        // As one frame, and as a message of one frame per block.
        let one_frame = vec![frame(0xc2, &block.repeat(blocks))];
        let mut fragments = vec![frame(0x42, &block)];
        fragments.extend((2..blocks).map(|_| frame(0x00, &block)));
        fragments.push(frame(0x80, &block));
        for (shape, frames) in [("one frame", one_frame), ("fragments", fragments)] {
            let (error, peak) = explode(limit, frames);
            println!("bomb, {shape}, limit {limit}: peak heap {peak} bytes");
            assert!(
                matches!(
                    error,
                    Some(ProtocolError::Message(MessageError::MessageTooBig { .. }))
                ),
                "{shape}: {error:?}"
            );
            assert_eq!(u16::from(error.unwrap().close_code()), 1009);
            // The limit, plus the inflater and one 64 KiB piece of input
            // held in the receive buffer, at most doubled by its growth.
            let bound = limit as i64 + 256 * 1024;
            assert!(
                peak < bound,
                "{shape}, limit {limit}: peak {peak} > {bound}"
            );
            assert!(peak < 2 * limit as i64);
        }
    }
}

#[test]
fn nothing_is_allocated_before_the_first_compressed_message() {
    let config = Config::default().deflate(DeflateConfig::default());
    let params = Some(DeflateParams::default());
    let (_, allocations, peak, _) = counted(|| {
        let connection = Connection::with_deflate(Role::Server, config, params);
        std::hint::black_box(&connection);
    });
    // Two small boxes, one per direction, and nothing for zlib.
    assert!(allocations <= 2, "{allocations} allocations");
    assert!(peak < 512, "{peak} bytes");
    // Short messages under the threshold allocate no compressor.
    let mut connection = Connection::with_deflate(Role::Server, config, params);
    let (_, _, _, live) = counted(|| {
        for _ in 0..10 {
            connection.send_text("short").unwrap();
        }
        drop(connection.take_transmit());
    });
    assert!(live < 1024, "{live} bytes live after short messages");
}

/// The heap a pair of connections holds after one compressed message each
/// way, less what it held before: what the sender keeps of its compressor
/// and the receiver of its inflater, with context takeover. What went back
/// to the pool is dropped (`pool::clear`) before the count is read.
fn per_connection(window_bits: u8) -> (i64, i64) {
    let _serial = serial();
    let params = Some(DeflateParams::new(false, false, window_bits, window_bits));
    let config = Config::default().deflate(DeflateConfig::default().min_size(0));
    let text = r#"{"id":1,"name":"a","tags":["x","y"],"text":"hello, world"}"#.repeat(40);
    let mut client = Connection::with_deflate(Role::Client, config, params);
    let mut server = Connection::with_deflate(Role::Server, config, params);
    rfc6455::deflate::pool::clear();
    let (_, _, _, sender) = counted(|| {
        client.send_text(&text).unwrap();
        rfc6455::deflate::pool::clear();
    });
    let wire = client.take_transmit();
    let (message, _, _, receiver) = counted(|| {
        server.receive(&wire);
        let message = server.poll_event().unwrap();
        rfc6455::deflate::pool::clear();
        message
    });
    // Less the message handed out, which the application owns.
    let receiver = receiver - text.len() as i64;
    assert!(matches!(message, Some(Event::Message(m)) if m.len() == text.len()));
    (sender - wire.len() as i64, receiver)
}

#[test]
fn what_a_connection_holds_with_the_extension_agreed() {
    for bits in [15, 9, 8] {
        let (compressor, inflater) = per_connection(bits);
        println!(
            "window {bits}: compressor {} KiB, inflater {} KiB",
            compressor / 1024,
            inflater / 1024
        );
        assert!(compressor < 400 * 1024, "{bits}: compressor {compressor}");
        // The inflater keeps the last window of inflated bytes, no state.
        assert!(
            inflater <= (1 << bits.max(9)) + 256,
            "{bits}: inflater {inflater}"
        );
    }
}

#[test]
fn contexts_are_reset_in_place_not_rebuilt() {
    let _serial = serial();
    // Neither side takes over its context: both reset after every message.
    let params = Some(DeflateParams::new(true, true, 15, 15));
    let config = Config::default().deflate(DeflateConfig::default().min_size(0));
    let text = r#"{"id":1,"name":"a","tags":["x","y"]}"#.repeat(30);
    let mut client = Connection::with_deflate(Role::Client, config, params);
    let mut server = Connection::with_deflate(Role::Server, config, params);
    let mut exchange = || {
        client.send_text(&text).unwrap();
        server.receive(&client.take_transmit());
        assert!(matches!(server.poll_event(), Ok(Some(Event::Message(_)))));
    };
    exchange(); // allocates both states
    let ((), counts) = counting::counted(|| {
        for _ in 0..100 {
            exchange();
        }
    });
    let total = counts.total;
    // Per message: the frame, the inflated message and small buffers, a few
    // KiB; a rebuilt state would be hundreds.
    assert!(
        total / 100 < 16 * 1024,
        "{} bytes allocated per message",
        total / 100
    );
}

/// What a connection pair holds per direction at one agreed window, and
/// what an idle server connection holds in all in dedicated mode, less one
/// without compression: the table in `DeflateConfig::dedicated`'s docs.
#[test]
fn the_cost_of_each_window_size() {
    let plain = {
        let _serial = serial();
        idle_server_bytes(50, Config::default(), None)
    };
    println!("| window | compressor | inflater | idle connection, over uncompressed |");
    for bits in (9..=15).rev() {
        let (compressor, inflater) = per_connection(bits);
        let idle = {
            let _serial = serial();
            let config = Config::default().deflate(DeflateConfig::dedicated(bits));
            let params = Some(DeflateParams::new(false, false, bits, bits));
            idle_server_bytes(50, config, params)
        };
        println!(
            "| {bits} | {compressor} B | {inflater} B | {} B |",
            idle - plain
        );
        assert!(inflater <= (1 << bits) + 256, "{bits}: inflater {inflater}");
        if bits > rfc6455::deflate::HISTORY_MAX_BITS {
            // The compressor is the connection's own: zlib-rs's hash table
            // (128 KiB) and buffers do not shrink with the window.
            assert!(compressor > 128 * 1024, "{bits}: compressor {compressor}");
        } else {
            // Only the last window of what was compressed, beside the
            // buffers the sending side keeps (about 2 KiB here).
            assert!(
                compressor <= (1 << bits) + 4096,
                "{bits}: compressor {compressor}"
            );
        }
        if bits == 9 {
            // The bound of issue 20: 180 KiB per connection at 9 bits.
            assert!(idle <= 180 * 1024, "9 bits: {idle} B per idle connection");
        }
    }
}

/// A chat-like exchange: two compressed messages each way (and a short one
/// under the threshold), between a client and a server built with `config`
/// agreeing `params`.
fn exchange(server: &mut Connection, client: &mut Connection, round: usize) {
    let text = format!(
        r#"{{"room":"general","from":"user{round}","text":"{}","at":1700000000}}"#,
        "hello there, how is everyone doing today? ".repeat(30)
    );
    let compressed = server.deflate().is_some();
    for _ in 0..2 {
        client.send_text(&text).unwrap();
        let wire = client.take_transmit();
        assert_eq!(wire[0] & 0x40 != 0, compressed, "RSV1");
        server.receive(&wire);
        assert!(
            matches!(server.poll_event(), Ok(Some(Event::Message(m))) if m.len() == text.len())
        );
        server.send_text(&text).unwrap();
        let wire = server.take_transmit();
        assert_eq!(wire[0] & 0x40 != 0, compressed, "RSV1");
        client.receive(&wire);
        assert!(
            matches!(client.poll_event(), Ok(Some(Event::Message(m))) if m.len() == text.len())
        );
    }
    server.send_text("ok").unwrap();
    client.receive(&server.take_transmit());
    assert!(matches!(client.poll_event(), Ok(Some(Event::Message(_)))));
}

/// The heap that `n` idle server connections hold after a chat-like
/// exchange, per connection, counting the `Connection` itself. Clients are
/// dropped and the pool cleared before the count is read, all with
/// counting on, so what the pool lends back and forth cancels out.
fn idle_server_bytes(n: usize, config: Config, params: Option<DeflateParams>) -> i64 {
    rfc6455::deflate::pool::clear();
    let (servers, counts) = counting::counted(|| {
        let mut servers = Vec::with_capacity(n);
        for round in 0..n {
            let mut server = Connection::with_deflate(Role::Server, config, params);
            let mut client = Connection::with_deflate(Role::Client, config, params);
            exchange(&mut server, &mut client, round);
            drop(client);
            servers.push(server);
        }
        rfc6455::deflate::pool::clear();
        servers
    });
    let per = counts.live / n as i64;
    drop(servers);
    per
}

#[test]
fn an_idle_connection_in_shared_mode_holds_no_compression_state() {
    let _serial = serial();
    let n = 1_000;
    let shared = Config::default().deflate(DeflateConfig::shared());
    let agreed = rfc6455::deflate::accept_offer(
        &[("client_max_window_bits".to_owned(), None)],
        &DeflateConfig::shared(),
    );
    assert!(
        agreed.is_some_and(|p| p.server_no_context_takeover() && p.client_no_context_takeover())
    );
    let plain = idle_server_bytes(n, Config::default(), None);
    let compressed = idle_server_bytes(n, shared, agreed);
    println!(
        "idle server connection: {plain} B uncompressed, {compressed} B in shared mode \
         ({} B more), size_of::<Connection>() = {} B",
        compressed - plain,
        std::mem::size_of::<Connection>()
    );
    assert!(compressed <= 4096, "{compressed} B per idle connection");
    assert!(
        compressed - plain <= 2560,
        "{} B over uncompressed",
        compressed - plain
    );
    // Dedicated mode, for contrast: the states stay with the connection.
    let dedicated = Config::default().deflate(DeflateConfig::dedicated(15));
    let per = idle_server_bytes(50, dedicated, Some(DeflateParams::default()));
    println!("idle server connection, dedicated 15 bits: {per} B");
    assert!(per > 300 * 1024);
}
