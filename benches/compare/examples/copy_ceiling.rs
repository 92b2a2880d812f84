//! The ceiling of an unmasking copy beside `memcpy`, for the decode table's
//! 16 MiB rows: 16 MiB copied in 64 KiB pieces into a buffer already
//! written once (no page faults), with the source placed so that the
//! destination's address minus the source's is `d` modulo 4096.
//!
//! `cargo run --release --example copy_ceiling [passes]`
//!
//! Three copies, each the best of `passes` (7) interleaved passes of 10:
//! - `memcpy`: `copy_from_slice`, which is glibc's `memcpy`;
//! - `unmasking copy`: [`Masker::put`], the copy a received payload takes;
//! - `memcpy, then unmask`: `copy_from_slice` and [`apply_mask`] in place,
//!   16 KiB at a time, so that the second pass finds its bytes in cache.
use rfc6455::mask::{Masker, apply_mask};
use std::hint::black_box;
use std::time::Instant;

const LEN: usize = 16 << 20;
const PIECE: usize = 64 << 10;
const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

fn main() {
    let passes: usize = std::env::args()
        .nth(1)
        .map_or(7, |a| a.parse().expect("passes is a number"));
    rfc6455_compare::machine::print();
    let source: Vec<u8> = (0..LEN + 8192).map(|i| (i * 31 + 7) as u8).collect();
    let mut target = vec![0u8; LEN + 8192];
    let at = (64 - target.as_ptr() as usize % 64) % 64;
    let target_address = target.as_ptr() as usize + at;
    println!(
        "| d | memcpy GiB/s | unmasking copy GiB/s | memcpy, then unmask GiB/s | unmasking copy / memcpy |"
    );
    println!("|---:|---:|---:|---:|---:|");
    for d in [0usize, 16, 64, 256, 1024, 2048, 3584, 4080] {
        let from = (source.as_ptr() as usize + d).wrapping_sub(target_address) % 4096;
        let from = (4096 - from) % 4096;
        let src = &source[from..from + LEN];
        assert_eq!((target_address - src.as_ptr() as usize) % 4096, d);
        let mut best = [0f64; 3];
        for _ in 0..passes {
            for (kind, best) in best.iter_mut().enumerate() {
                let start = Instant::now();
                for _ in 0..10 {
                    let dst = &mut target[at..at + LEN];
                    copy(kind, src, dst);
                    black_box(&mut *dst);
                }
                let gib = (10 * LEN) as f64 / start.elapsed().as_secs_f64() / f64::from(1 << 30);
                *best = best.max(gib);
            }
        }
        println!(
            "| {d} | {:.1} | {:.1} | {:.1} | {:.2} |",
            best[0],
            best[1],
            best[2],
            best[1] / best[0]
        );
    }
    let mut check = vec![0u8; LEN];
    copy(1, &source[..LEN], &mut check);
    apply_mask(&mut check, KEY);
    assert!(
        check == source[..LEN],
        "the unmasking copy is a masked copy"
    );
}

/// Copies `src` into `dst` in 64 KiB pieces, the way `kind` names.
fn copy(kind: usize, src: &[u8], dst: &mut [u8]) {
    let mut masker = Masker::new(KEY);
    let mut out: &mut [u8] = dst;
    for piece in src.chunks(PIECE) {
        match kind {
            0 => {
                out[..piece.len()].copy_from_slice(piece);
                out = &mut out[piece.len()..];
            }
            1 => masker.put(&mut out, piece),
            _ => {
                for small in piece.chunks(16 << 10) {
                    out[..small.len()].copy_from_slice(small);
                    masker.apply(&mut out[..small.len()]);
                    out = &mut out[small.len()..];
                }
            }
        }
    }
}
