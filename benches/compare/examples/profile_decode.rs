//! Runs one decode case in a loop, for a profiler:
//! `profile_decode <payload bytes> <frames> <read bytes> <passes> [frame size]`.
use rfc6455_compare::decode::{client_fragments, ours_in_reads};
use std::hint::black_box;

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().unwrap())
        .collect();
    let (len, frames, read, passes) = (args[0], args[1], args[2], args[3]);
    let frame = args.get(4).copied().unwrap_or(len);
    let payload: Vec<u8> = (0..len).map(|i| (i * 31 + 7) as u8).collect();
    let bytes = client_fragments(&payload, false, frames, frame);
    for _ in 0..passes {
        ours_in_reads(&bytes, read, |p| {
            black_box(p);
        });
    }
}
