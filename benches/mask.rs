//! Masking throughput beside the physical limit and the naive loop.
//!
//! One group per payload size and start (`mask/<size>/<aligned|unaligned>`)
//! holds, measured in the same run:
//!
//! - `ours`: [`rfc6455::mask::apply_mask`];
//! - `limit_sse2`, `limit_avx2`, `limit_avx512`: the same buffer XORed with
//!   one constant byte, a loop the compiler vectorizes, compiled for each
//!   vector width the CPU has with `#[target_feature]`. The best of them is
//!   the limit: no masker does less work per byte;
//! - `naive`: the byte-at-a-time loop, `key[i % 4]`.
//!
//! "Unaligned" starts one byte past a 64-byte boundary.
//!
//! ```text
//! cargo bench --bench mask -- --warm-up-time 1 --measurement-time 2
//! python3 benches/compare/report.py target/criterion      # the ratios
//! ```
//!
//! Criterion runs the functions one after another; on a shared machine the
//! interleaved `ratios` bench of `benches/compare` gives steadier ratios.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rfc6455::mask::{apply_mask, apply_mask_bytewise};

#[path = "compare/src/limit.rs"]
mod limit;

#[path = "compare/src/sizes.rs"]
mod sizes;
use sizes::SIZES;

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// `len` bytes starting `misalign` bytes past a 64-byte boundary.
fn buffer(backing: &mut Vec<u8>, len: usize, misalign: usize) -> &mut [u8] {
    backing.clear();
    backing.resize(len + 128, 0);
    let start = backing.as_ptr().align_offset(64) + misalign;
    let buf = &mut backing[start..start + len];
    for (i, byte) in buf.iter_mut().enumerate() {
        *byte = (i * 31 + 7) as u8;
    }
    buf
}

fn masking(c: &mut Criterion) {
    let mut backing = Vec::new();
    for &(len, label) in SIZES {
        for (misalign, alignment) in [(0, "aligned"), (1, "unaligned")] {
            let mut group = c.benchmark_group(format!("mask/{label}/{alignment}"));
            group.throughput(Throughput::Bytes(len as u64));
            if len >= 1024 * 1024 {
                group.sample_size(20);
            }
            let buf = buffer(&mut backing, len, misalign);

            group.bench_function("ours", |b| {
                b.iter(|| apply_mask(black_box(&mut *buf), black_box(KEY)))
            });
            for (name, xor) in limit::available() {
                group.bench_function(name, |b| {
                    b.iter(|| xor(black_box(&mut *buf), black_box(KEY[0])))
                });
            }
            group.bench_function("naive", |b| {
                b.iter(|| apply_mask_bytewise(black_box(&mut *buf), black_box(KEY), 0))
            });
            group.finish();
        }
    }
}

criterion_group!(benches, masking);
criterion_main!(benches);
