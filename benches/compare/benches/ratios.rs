//! The ratio table of `benches/RESULTS.md`: masking throughput of ours
//! against the constant-XOR limit and each peer, measured in turns over the
//! same buffer (so that a shared machine's load hits all alike), after
//! checking that every masker gives the same bytes.
//!
//! ```text
//! cargo bench --manifest-path benches/compare/Cargo.toml --bench ratios
//! ```
//!
//! A ratio is the median over rounds of (their time / our time): above 1,
//! ours is faster.

use std::time::Duration;

use rfc6455_compare::{
    ALIGNMENTS, BoxedPass, Buffer, Interleaved, KEY, Pass, SIZES, check_maskers, limit, maskers,
};

fn main() {
    // `cargo bench` passes `--bench`; a filter selects sizes by label.
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    check_maskers();
    println!("maskers agree with the byte loop; timing, in turns");
    println!();
    rfc6455_compare::machine::print();

    let maskers = maskers();
    let limits = limit::available();
    let mut header = String::from("| size | start | ours GiB/s | limit GiB/s | ours/limit |");
    let mut rule = String::from("|---|---|---:|---:|---:|");
    for (name, _) in &maskers[1..] {
        header.push_str(&format!(" ours/{name} |"));
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
            for &(_, mask) in &maskers {
                functions.push(Box::new(move |buf: &mut [u8]| mask(buf, KEY)));
            }
            for &(_, xor) in &limits {
                functions.push(Box::new(move |buf: &mut [u8]| xor(buf, KEY[0])));
            }
            let refs: Vec<Pass<'_>> = functions.iter().map(|f| f.as_ref()).collect();
            let rounds = if len >= 1 << 20 { 25 } else { 60 };
            let times = Interleaved::run(&refs, buffer.slice(), rounds, Duration::from_millis(2));

            let gib = |ns: f64| len as f64 / ns / 1.073_741_824;
            let best_limit = (maskers.len()..functions.len())
                .min_by(|&a, &b| times.median(a).total_cmp(&times.median(b)))
                .unwrap();
            let mut row = format!(
                "| {label} | {alignment} | {:.1} | {:.1} ({}) | {:.2} |",
                gib(times.median(0)),
                gib(times.median(best_limit)),
                limits[best_limit - maskers.len()]
                    .0
                    .trim_start_matches("limit_"),
                times.speedup(0, best_limit),
            );
            for index in 1..maskers.len() {
                row.push_str(&format!(" {:.2} |", times.speedup(0, index)));
            }
            println!("{row}");
        }
    }
}
