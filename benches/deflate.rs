//! permessage-deflate's cost on top of its backend: the same JSON-like
//! messages compressed and inflated through a [`Connection`] and straight
//! through flate2 (zlib-rs), timed in turns in one run, context takeover on.
//!
//! ```text
//! cargo bench --bench deflate
//! ```
//!
//! Each round compresses (or inflates) a sequence of 32 different messages
//! in order, so that each is compressed against the ones before it as on a
//! real connection. The rounds alternate between the two sides, each going
//! first every other round, and the median round of each is compared. Our
//! side includes the framing: the header, the RSV1 rules, the message
//! assembly and the buffers handed out. A server sends (no masking), a
//! client receives (nothing to unmask), and the messages are binary (no
//! UTF-8 check), so the figure is the deflate layer's own overhead.
//!
//! `DEFLATE_BENCH_SIZE=1` or `64` runs one size; `DEFLATE_BENCH_BITS=9`
//! (to 15, the default) sets the agreed window; `DEFLATE_BENCH_INFLATE_ONLY`
//! skips the compression rounds (for a profiler); a number argument sets the
//! rounds (default 101).

use std::hint::black_box;
use std::time::{Duration, Instant};

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};
use rfc6455::deflate::{DeflateConfig, DeflateParams};
use rfc6455::{Config, Connection, Event, Role};

const MESSAGES: usize = 32;
const LEVEL: u32 = 6;

/// JSON-like text of about `len` bytes, different for each `seed`.
fn json(len: usize, seed: u64) -> String {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    const WORDS: &[&str] = &[
        "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
        "juliet", "kilo", "lima", "mike", "november", "oscar", "papa",
    ];
    let mut out = String::from("[");
    while out.len() < len {
        let n = next();
        let word = |k: u64| WORDS[(k % WORDS.len() as u64) as usize];
        out.push_str(&format!(
            "{{\"id\":{},\"user\":\"{}_{}\",\"score\":{}.{:03},\"active\":{},\"tags\":[\"{}\",\"{}\"],\"text\":\"{} {} {}\"}},",
            n % 100_000,
            word(n >> 8),
            n % 97,
            n % 100,
            (n >> 16) % 1000,
            n & 1 == 0,
            word(n >> 20),
            word(n >> 24),
            word(n >> 28),
            word(n >> 32),
            word(n >> 36),
        ));
    }
    out.truncate(len - 1);
    out.push(']');
    out
}

/// The window bits both sides agree: `DEFLATE_BENCH_BITS` (9 to 15,
/// default 15).
fn bits() -> u8 {
    std::env::var("DEFLATE_BENCH_BITS")
        .ok()
        .and_then(|b| b.parse().ok())
        .unwrap_or(15u8)
        .clamp(9, 15)
}

fn params() -> Option<DeflateParams> {
    Some(DeflateParams::new(false, false, bits(), bits()))
}

fn raw_compressor() -> Compress {
    Compress::new_with_window_bits(Compression::new(LEVEL), false, bits())
}

/// flate2 alone: a sync flush per message into a reused buffer, the tail
/// stripped as permessage-deflate would.
fn raw_compress(compress: &mut Compress, message: &[u8], out: &mut Vec<u8>) -> usize {
    out.clear();
    out.reserve(message.len() + 64);
    let mut input = message;
    loop {
        let before = compress.total_in();
        compress
            .compress_vec(input, out, FlushCompress::Sync)
            .unwrap();
        input = &input[(compress.total_in() - before) as usize..];
        if input.is_empty() && out.len() < out.capacity() {
            break;
        }
        out.reserve(out.capacity());
    }
    out.len() - 4
}

/// flate2 alone: inflates one message (its payload and the tail) into a
/// buffer of the known size, as a receiver that trusts the length would.
fn raw_inflate(decompress: &mut Decompress, payload: &[u8], len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 64);
    decompress
        .decompress_vec(payload, &mut out, FlushDecompress::Sync)
        .unwrap();
    decompress
        .decompress_vec(&[0, 0, 0xff, 0xff], &mut out, FlushDecompress::Sync)
        .unwrap();
    assert_eq!(out.len(), len);
    out
}

fn config() -> Config {
    Config::default().deflate(DeflateConfig::default().level(LEVEL).min_size(0))
}

/// Runs both sides `rounds` times each, alternating which goes first.
fn turns(
    rounds: usize,
    ours: &mut dyn FnMut(&mut Vec<Duration>),
    theirs: &mut dyn FnMut(&mut Vec<Duration>),
) -> (Vec<Duration>, Vec<Duration>) {
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        if round % 2 == 0 {
            ours(&mut a);
            theirs(&mut b);
        } else {
            theirs(&mut b);
            ours(&mut a);
        }
    }
    (a, b)
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort_unstable();
    times[times.len() / 2]
}

fn main() {
    let rounds = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(101usize);
    // For profiling the receiving side alone.
    let inflate_only = std::env::var_os("DEFLATE_BENCH_INFLATE_ONLY").is_some();
    println!("| size | compress: ours / flate2 | inflate: ours / flate2 |");
    println!("|---|---|---|");
    let sizes: &[(usize, &str)] = match std::env::var("DEFLATE_BENCH_SIZE").as_deref() {
        Ok("1") => &[(1024, "1 KiB")],
        Ok("64") => &[(64 * 1024, "64 KiB")],
        _ => &[(1024, "1 KiB"), (64 * 1024, "64 KiB")],
    };
    for &(len, label) in sizes {
        let messages: Vec<String> = (0..MESSAGES as u64).map(|i| json(len, i + 1)).collect();

        // What a server sends for the sequence, as the client receives it.
        let mut sender = Connection::with_deflate(Role::Server, config(), params());
        let frames: Vec<Vec<u8>> = messages
            .iter()
            .map(|m| {
                sender.send_binary(m.as_bytes()).unwrap();
                sender.take_transmit().to_vec()
            })
            .collect();
        // The same payloads straight from flate2.
        let mut compress = raw_compressor();
        let mut buf = Vec::new();
        let payloads: Vec<Vec<u8>> = messages
            .iter()
            .map(|m| {
                let n = raw_compress(&mut compress, m.as_bytes(), &mut buf);
                buf[..n].to_vec()
            })
            .collect();
        // Ours primes a pooled state with the last window as its dictionary
        // at each message, where flate2 goes on in one stream: the bytes
        // may differ, the sizes barely.
        let wire: usize = frames.iter().map(Vec::len).sum();
        let raw_wire: usize = payloads.iter().map(Vec::len).sum();
        assert!(
            wire <= raw_wire + raw_wire / 20 + 16 * MESSAGES,
            "ours {wire} bytes on the wire, flate2's payloads {raw_wire}"
        );
        let text: usize = messages.iter().map(String::len).sum();

        // Persistent compressors, as on a connection with context takeover.
        let mut ours_sender = Connection::with_deflate(Role::Server, config(), params());
        let mut raw = raw_compressor();
        let mut ours = |times: &mut Vec<Duration>| {
            let t = Instant::now();
            for m in &messages {
                ours_sender.send_binary(black_box(m.as_bytes())).unwrap();
                black_box(ours_sender.take_transmit());
            }
            times.push(t.elapsed());
        };
        let mut theirs = |times: &mut Vec<Duration>| {
            let t = Instant::now();
            for m in &messages {
                black_box(raw_compress(&mut raw, black_box(m.as_bytes()), &mut buf));
            }
            times.push(t.elapsed());
        };
        let (ours_c, raw_c) = turns(
            if inflate_only { 1 } else { rounds },
            &mut ours,
            &mut theirs,
        );

        // Inflating starts from a fresh context each round: the sequence
        // was compressed from one.
        let mut ours = |times: &mut Vec<Duration>| {
            let t = Instant::now();
            let mut client = Connection::with_deflate(Role::Client, config(), params());
            for frame in &frames {
                client.receive(black_box(frame));
                match client.poll_event().unwrap() {
                    Some(Event::Message(m)) => {
                        black_box(m);
                    }
                    other => panic!("{other:?}"),
                }
            }
            times.push(t.elapsed());
        };
        let mut theirs = |times: &mut Vec<Duration>| {
            let t = Instant::now();
            let mut decompress = Decompress::new_with_window_bits(false, bits());
            for (payload, m) in payloads.iter().zip(&messages) {
                black_box(raw_inflate(&mut decompress, black_box(payload), m.len()));
            }
            times.push(t.elapsed());
        };
        let (ours_i, raw_i) = turns(rounds, &mut ours, &mut theirs);
        let (oc, rc, oi, ri) = (median(ours_c), median(raw_c), median(ours_i), median(raw_i));
        let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
        println!(
            "| {label} | {:.3} ({:.1} vs {:.1} µs/message) | {:.3} ({:.1} vs {:.1} µs/message) |",
            ratio(oc, rc),
            oc.as_secs_f64() * 1e6 / MESSAGES as f64,
            rc.as_secs_f64() * 1e6 / MESSAGES as f64,
            ratio(oi, ri),
            oi.as_secs_f64() * 1e6 / MESSAGES as f64,
            ri.as_secs_f64() * 1e6 / MESSAGES as f64,
        );
        eprintln!(
            "{label}: {MESSAGES} messages, {text} bytes of text, {wire} on the wire ({:.1}%), \
             flate2's payloads {raw_wire}",
            100.0 * wire as f64 / text as f64
        );
    }
}
