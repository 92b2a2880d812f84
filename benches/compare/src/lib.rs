//! Shared pieces of the peer comparison: the maskers under test, the
//! constant-XOR limit, the buffers, and an interleaved timer.
//!
//! Run from the repository root:
//!
//! ```text
//! cargo bench --manifest-path benches/compare/Cargo.toml
//! ```

use std::hint::black_box;
use std::time::{Duration, Instant};

pub mod child;
pub mod decode;
pub mod fanout;
pub mod heap;
pub mod latency;
pub mod limit;
pub mod load;
pub mod machine;
pub mod peers;
pub mod scale;
pub mod servers;
pub mod sizes;
pub mod storm;
pub mod table;

use table::median;

pub use sizes::SIZES;

/// A masker under test: XORs a buffer in place with a key at phase 0.
pub type MaskFn = fn(&mut [u8], [u8; 4]);

/// Aligned (a 64-byte boundary) and unaligned (one byte past it) starts.
pub const ALIGNMENTS: &[(usize, &str)] = &[(0, "aligned"), (1, "unaligned")];

/// The key of every measurement.
pub const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// Ours: `rfc6455::mask::apply_mask`, behind the same kind of call as the
/// peers.
#[inline(never)]
pub fn ours(buf: &mut [u8], key: [u8; 4]) {
    rfc6455::mask::apply_mask(buf, key)
}

/// The byte-at-a-time loop, `key[i % 4]`.
#[inline(never)]
pub fn naive(buf: &mut [u8], key: [u8; 4]) {
    rfc6455::mask::apply_mask_bytewise(buf, key, 0)
}

/// Every masker, ours first. Each produces the same bytes: see
/// [`check_maskers`].
pub fn maskers() -> Vec<(&'static str, MaskFn)> {
    vec![
        ("ours", ours as MaskFn),
        ("tokio-websockets", peers::tokio_websockets),
        ("yawc", peers::yawc),
        ("fastwebsockets", peers::fastwebsockets),
        ("tungstenite", peers::tungstenite),
        ("naive", naive),
    ]
}

/// A buffer that starts `misalign` bytes past a 64-byte boundary.
pub struct Buffer {
    backing: Vec<u8>,
    start: usize,
    len: usize,
}

impl Buffer {
    /// `len` bytes of a fixed pattern, starting `misalign` bytes past a
    /// 64-byte boundary.
    pub fn new(len: usize, misalign: usize) -> Self {
        let mut backing = vec![0u8; len + 128];
        let start = backing.as_ptr().align_offset(64) + misalign;
        for (i, byte) in backing[start..start + len].iter_mut().enumerate() {
            *byte = (i * 31 + 7) as u8;
        }
        Buffer {
            backing,
            start,
            len,
        }
    }

    /// The bytes under test.
    pub fn slice(&mut self) -> &mut [u8] {
        &mut self.backing[self.start..self.start + self.len]
    }
}

/// Panics unless every masker gives the byte loop's output, at every size
/// and alignment of the benches and at every phase of the start.
pub fn check_maskers() {
    let mut lengths: Vec<usize> = SIZES.iter().map(|&(len, _)| len).collect();
    lengths.extend(0..300);
    for len in lengths {
        for misalign in 0..8 {
            let mut expected = Buffer::new(len, misalign);
            naive(expected.slice(), KEY);
            for (name, mask) in maskers() {
                let mut buf = Buffer::new(len, misalign);
                mask(buf.slice(), KEY);
                assert!(
                    buf.slice() == expected.slice(),
                    "{name} differs from the byte loop at len {len}, misalign {misalign}"
                );
            }
        }
    }
}

/// A function timed by [`Interleaved`]: one pass over the buffer.
pub type Pass<'a> = &'a dyn Fn(&mut [u8]);

/// An owned [`Pass`].
pub type BoxedPass = Box<dyn Fn(&mut [u8])>;

/// Times of several functions over the same buffer, measured in turns so
/// that the machine's load changes hit all of them alike.
pub struct Interleaved {
    /// Nanoseconds per call of each function, one entry per round.
    pub rounds: Vec<Vec<f64>>,
}

impl Interleaved {
    /// Runs `rounds` rounds; in each, every function runs a batch of calls
    /// of about `batch` (the functions start in a different order each
    /// round).
    pub fn run(functions: &[Pass<'_>], buf: &mut [u8], rounds: usize, batch: Duration) -> Self {
        // Calls per batch, from the slowest function's time per call.
        let mut calls = usize::MAX;
        for function in functions {
            let start = Instant::now();
            let mut n = 0;
            while start.elapsed() < batch / 4 {
                function(black_box(&mut *buf));
                n += 1;
            }
            calls = calls.min(n * 4);
        }
        let calls = calls.max(1);
        let mut times = vec![Vec::with_capacity(rounds); functions.len()];
        for round in 0..rounds {
            for turn in 0..functions.len() {
                let index = (turn + round) % functions.len();
                let function = functions[index];
                let start = Instant::now();
                for _ in 0..calls {
                    function(black_box(&mut *buf));
                }
                times[index].push(start.elapsed().as_nanos() as f64 / calls as f64);
            }
        }
        Interleaved { rounds: times }
    }

    /// The median nanoseconds per call of function `index`.
    pub fn median(&self, index: usize) -> f64 {
        median(self.rounds[index].clone())
    }

    /// The median over rounds of `time(other) / time(ours)`: how many times
    /// faster `ours` is than `other`, round by round.
    pub fn speedup(&self, ours: usize, other: usize) -> f64 {
        median(
            self.rounds[ours]
                .iter()
                .zip(&self.rounds[other])
                .map(|(o, x)| x / o)
                .collect(),
        )
    }
}
