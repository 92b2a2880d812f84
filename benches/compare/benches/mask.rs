//! Criterion groups of masking, ours beside every peer, the constant-XOR
//! limit at each vector width and the byte loop: `compare_mask/<size>/<start>`.
//! The ratio table comes from the `ratios` bench, which interleaves the
//! functions; these groups give criterion's distributions of each.
//!
//! ```text
//! cargo bench --manifest-path benches/compare/Cargo.toml --bench mask
//! ```

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rfc6455_compare::{ALIGNMENTS, Buffer, KEY, SIZES, check_maskers, limit, maskers};

fn masking(c: &mut Criterion) {
    check_maskers();
    for &(len, label) in SIZES {
        for &(misalign, alignment) in ALIGNMENTS {
            let mut group = c.benchmark_group(format!("compare_mask/{label}/{alignment}"));
            group.throughput(Throughput::Bytes(len as u64));
            if len >= 1 << 20 {
                group.sample_size(10);
            }
            let mut buffer = Buffer::new(len, misalign);
            for (name, mask) in maskers() {
                group.bench_function(name, |b| {
                    let buf = buffer.slice();
                    b.iter(|| mask(black_box(&mut *buf), black_box(KEY)))
                });
            }
            for (name, xor) in limit::available() {
                group.bench_function(name, |b| {
                    let buf = buffer.slice();
                    b.iter(|| xor(black_box(&mut *buf), black_box(KEY[0])))
                });
            }
            group.finish();
        }
    }
}

criterion_group!(benches, masking);
criterion_main!(benches);
