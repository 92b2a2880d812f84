//! Every x86_64 masking path forced at every size, beside the constant-XOR
//! limit of each vector width and the fastest peers, measured in turns over
//! the same buffer. This is how the thresholds of `src/mask.rs` are chosen:
//! an AVX-512 machine runs all three paths, and the AVX2 path against the
//! best limit without AVX-512 stands for a machine that has no AVX-512.
//!
//! ```text
//! cargo bench --manifest-path benches/compare/Cargo.toml --bench paths [SIZE...]
//! ```
//!
//! Each cell is the median over rounds of (limit's time / path's time), the
//! limit being the fastest constant-XOR width of that column's machine:
//! above 1, the path is faster than the limit.

use std::time::Duration;

use rfc6455::mask::{Path, apply_mask_with};
use rfc6455_compare::{
    ALIGNMENTS, BoxedPass, Buffer, Interleaved, KEY, Pass, SIZES, limit, ours, peers,
};

fn main() {
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let paths: Vec<Path> = Path::ALL.into_iter().filter(|p| p.is_available()).collect();
    // Each forced path gives the byte loop's output first.
    for len in (0..300).chain(SIZES.iter().map(|&(len, _)| len)) {
        for misalign in 0..8 {
            let mut expected = Buffer::new(len, misalign);
            rfc6455::mask::apply_mask_bytewise(expected.slice(), KEY, 0);
            for &path in &paths {
                let mut buf = Buffer::new(len, misalign);
                assert!(apply_mask_with(path, buf.slice(), KEY));
                assert!(
                    buf.slice() == expected.slice(),
                    "{path:?} at {len}+{misalign}"
                );
            }
        }
    }
    rfc6455_compare::machine::print();
    println!("forced paths agree with the byte loop; timing, in turns");
    println!();

    let limits = limit::available();
    let has_avx2_limit = limits.iter().any(|(name, _)| *name == "limit_avx2");
    let mut header = String::from("| size | start | limit GiB/s |");
    let mut rule = String::from("|---|---|---:|");
    for path in &paths {
        header.push_str(&format!(" {} |", path.name()));
    }
    rule.push_str(&"---:|".repeat(paths.len()));
    header.push_str(" ours (dispatch) | tokio-websockets | yawc |");
    rule.push_str("---:|---:|---:|");
    if has_avx2_limit {
        header.push_str(" avx2 / limit without AVX-512 |");
        rule.push_str("---:|");
    }
    println!("{header}");
    println!("{rule}");

    for &(len, label) in SIZES {
        if !filter.is_empty() && !filter.iter().any(|f| f == label) {
            continue;
        }
        for &(misalign, alignment) in ALIGNMENTS {
            let mut buffer = Buffer::new(len, misalign);
            let mut functions: Vec<BoxedPass> = Vec::new();
            for &path in &paths {
                functions.push(Box::new(move |buf: &mut [u8]| {
                    apply_mask_with(path, buf, KEY);
                }));
            }
            functions.push(Box::new(|buf: &mut [u8]| ours(buf, KEY)));
            functions.push(Box::new(|buf: &mut [u8]| peers::tokio_websockets(buf, KEY)));
            functions.push(Box::new(|buf: &mut [u8]| peers::yawc(buf, KEY)));
            let first_limit = functions.len();
            for &(_, xor) in &limits {
                functions.push(Box::new(move |buf: &mut [u8]| xor(buf, KEY[0])));
            }
            let refs: Vec<Pass<'_>> = functions.iter().map(|f| f.as_ref()).collect();
            let rounds = if len >= 1 << 20 { 25 } else { 60 };
            let times = Interleaved::run(&refs, buffer.slice(), rounds, Duration::from_millis(2));

            let best = |indices: &mut dyn Iterator<Item = usize>| {
                indices
                    .min_by(|&a, &b| times.median(a).total_cmp(&times.median(b)))
                    .unwrap()
            };
            let limit = best(&mut (first_limit..functions.len()));
            let gib = len as f64 / times.median(limit) / 1.073_741_824;
            let mut row = format!(
                "| {label} | {alignment} | {gib:.1} ({}) |",
                limits[limit - first_limit].0.trim_start_matches("limit_")
            );
            for index in 0..first_limit {
                row.push_str(&format!(" {:.2} |", times.speedup(index, limit)));
            }
            if has_avx2_limit {
                // The best limit a CPU without AVX-512 could reach.
                let without_512 = best(
                    &mut (first_limit..functions.len())
                        .filter(|&i| limits[i - first_limit].0 != "limit_avx512"),
                );
                let avx2 = paths.iter().position(|&p| p == Path::Avx2).unwrap();
                row.push_str(&format!(" {:.2} |", times.speedup(avx2, without_512)));
            }
            println!("{row}");
        }
    }
}
