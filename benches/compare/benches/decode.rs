//! Frames per second decoding masked client frames into messages: binary
//! payloads of 0, 16, 125 bytes, 1 KiB (1000 frames a pass), 4 KiB (250),
//! 64 KiB (16), and a 64 KiB non-ASCII text message (unmasking and UTF-8
//! validation), ours beside tungstenite's `WebSocket::read` and
//! fastwebsockets' `read_frame`, over the same in-memory bytes. Before
//! timing, every decoder's payloads are checked against what was sent.
//!
//! A second table times one 16 MiB binary message fed in 64 KiB reads, as
//! one frame and in 64 KiB frames (our sender's default), ours beside the
//! limit, and then as 256 messages of 64 KiB: `copy_from_slice` of the same bytes, in the same
//! 64 KiB pieces, into a new `Vec` each pass (from the same allocator, as
//! our receive buffer is) and into one `Vec` reused across passes.
//!
//! ```text
//! cargo bench --manifest-path benches/compare/Cargo.toml --bench decode
//! ```
//!
//! Besides criterion's groups, a table of interleaved ratios is printed
//! first (median over rounds of their time / our time).

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rfc6455_compare::decode::{
    client_fragments, client_frames, fastwebsockets, memcpy_in_reads, ours, ours_in_reads,
    tungstenite,
};
use rfc6455_compare::{BoxedPass, Interleaved, Pass};

const FRAMES: usize = 1000;

/// (label, payload, text?, frames per pass)
fn cases() -> Vec<(&'static str, Vec<u8>, bool, usize)> {
    let text: String = "héllo wörld, ∑ ≠ 日本語 🎉 "
        .chars()
        .cycle()
        .scan(0, |len, c| {
            *len += c.len_utf8();
            (*len <= 64 * 1024).then_some(c)
        })
        .collect();
    vec![
        ("0B", Vec::new(), false, FRAMES),
        ("16B", vec![0x5a; 16], false, FRAMES),
        ("125B", (0..125).map(|i| i as u8).collect(), false, FRAMES),
        ("1KiB", pattern(1024), false, FRAMES),
        ("4KiB", pattern(4 * 1024), false, FRAMES / 4),
        ("64KiB", pattern(64 * 1024), false, 16),
        ("64KiB_text", text.into_bytes(), true, 16),
    ]
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + 7) as u8).collect()
}

/// Every decoder yields exactly the payloads sent.
fn check(label: &str, bytes: &[u8], payload: &[u8], count: usize) {
    let mut seen = 0;
    let mut each = |got: &[u8]| {
        assert_eq!(got, payload, "{label}");
        seen += 1;
    };
    ours(bytes, &mut each);
    tungstenite(bytes, count, &mut each);
    fastwebsockets(bytes, count, &mut each);
    assert_eq!(seen, 3 * count, "{label}");
}

fn decoders(bytes: &[u8], count: usize) -> Vec<(&'static str, BoxedPass)> {
    let a = bytes.to_vec();
    let b = bytes.to_vec();
    let c = bytes.to_vec();
    vec![
        (
            "ours",
            Box::new(move |_: &mut [u8]| {
                ours(&a, |p| {
                    black_box(p);
                })
            }),
        ),
        (
            "tungstenite",
            Box::new(move |_: &mut [u8]| {
                tungstenite(&b, count, |p| {
                    black_box(p);
                })
            }),
        ),
        (
            "fastwebsockets",
            Box::new(move |_: &mut [u8]| {
                fastwebsockets(&c, count, |p| {
                    black_box(p);
                })
            }),
        ),
    ]
}

/// One large message in 64 KiB reads, beside `memcpy` of the same bytes:
/// sent as one frame, and as our own sender sends it by default, in
/// 64 KiB frames; and the same 16 MiB as 256 messages of 64 KiB, each one
/// frame, so that every read ends inside a frame and holds the next one's
/// header (what a busy 64 KiB echo reads).
fn large_frame() {
    const LEN: usize = 16 << 20;
    const READ: usize = 64 << 10;
    let payload = pattern(LEN);
    println!(
        "| 16 MiB message, 64 KiB reads | ours GiB/s | memcpy fresh GiB/s | memcpy reused GiB/s | ours/memcpy fresh | ours/memcpy reused |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    const SMALL: usize = 64 << 10;
    for (label, frame) in [
        ("one frame", LEN),
        ("64 KiB frames", 64 << 10),
        ("256 messages of 64 KiB", 0),
    ] {
        let (bytes, count) = if frame == 0 {
            (
                client_frames(&payload[..SMALL], false, LEN / SMALL),
                LEN / SMALL,
            )
        } else {
            (client_fragments(&payload, false, 1, frame), 1)
        };
        let expected = &payload[..LEN / count];
        let mut seen = 0;
        ours_in_reads(&bytes, READ, |got| {
            assert!(got == expected, "16MiB {label}");
            seen += 1;
        });
        assert_eq!(seen, count);
        let reused = std::cell::RefCell::new(Vec::with_capacity(bytes.len()));
        let ours = |_: &mut [u8]| {
            ours_in_reads(&bytes, READ, |p| {
                black_box(p);
            })
        };
        let fresh = |_: &mut [u8]| {
            let mut into = Vec::with_capacity(bytes.len());
            memcpy_in_reads(&bytes, READ, &mut into);
            black_box(&into);
        };
        let warm = |_: &mut [u8]| {
            let mut into = reused.borrow_mut();
            memcpy_in_reads(&bytes, READ, &mut into);
            black_box(&*into);
        };
        let passes: [Pass<'_>; 3] = [&ours, &fresh, &warm];
        let times = Interleaved::run(&passes, &mut [], 30, Duration::from_millis(40));
        let gib = |i| LEN as f64 / times.median(i) * 1e9 / f64::from(1 << 30);
        println!(
            "| {label} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} |",
            gib(0),
            gib(1),
            gib(2),
            times.speedup(0, 1),
            times.speedup(0, 2),
        );
    }
    println!();
}

fn ratios() {
    println!("| payload | ours frames/s | ours/tungstenite | ours/fastwebsockets |");
    println!("|---|---:|---:|---:|");
    for (label, payload, text, count) in cases() {
        let bytes = client_frames(&payload, text, count);
        check(label, &bytes, &payload, count);
        let decoders = decoders(&bytes, count);
        let passes: Vec<Pass<'_>> = decoders.iter().map(|(_, f)| f.as_ref()).collect();
        let times = Interleaved::run(&passes, &mut [], 40, Duration::from_millis(4));
        println!(
            "| {label} | {:.2e} | {:.2} | {:.2} |",
            count as f64 / times.median(0) * 1e9,
            times.speedup(0, 1),
            times.speedup(0, 2),
        );
    }
    println!();
}

fn decoding(c: &mut Criterion) {
    rfc6455_compare::machine::print();
    ratios();
    large_frame();
    if std::env::var_os("DECODE_TABLES_ONLY").is_some() {
        return;
    }
    for (label, payload, text, count) in cases() {
        let bytes = client_frames(&payload, text, count);
        let mut group = c.benchmark_group(format!("compare_decode/{label}"));
        group.throughput(Throughput::Elements(count as u64));
        for (name, decode) in decoders(&bytes, count) {
            group.bench_function(name, |b| b.iter(|| decode(&mut [])));
        }
        group.finish();
    }
}

criterion_group!(benches, decoding);
criterion_main!(benches);
