//! Frame decoding: masked client frames of each payload size through a
//! server [`Connection`] (header, unmasking, reassembly), bytes fed as a
//! socket read loop would, 16 KiB at a time.
//!
//! ```text
//! cargo bench --bench frame -- --warm-up-time 1 --measurement-time 2
//! ```

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rfc6455::{Config, Connection, Event, Role};

#[path = "compare/src/sizes.rs"]
mod sizes;
use sizes::SIZES;

/// The bytes a client sends for `count` binary messages of `len` bytes.
fn client_frames(len: usize, count: usize) -> Vec<u8> {
    let mut client = Connection::new(Role::Client, Config::default());
    let payload: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
    for _ in 0..count {
        client.send_binary(&payload).unwrap();
    }
    client.take_transmit().to_vec()
}

/// Decodes `bytes` with a fresh server connection; returns the messages.
fn decode(bytes: &[u8]) -> usize {
    let mut server = Connection::new(Role::Server, Config::default());
    let mut messages = 0;
    for chunk in bytes.chunks(16 * 1024) {
        server.receive(chunk);
        while let Some(event) = server.poll_event().unwrap() {
            if let Event::Message(message) = event {
                black_box(message);
                messages += 1;
            }
        }
    }
    messages
}

fn frame_decoding(c: &mut Criterion) {
    for &(len, label) in SIZES {
        // About 1 MiB of frames per pass, at least one frame.
        let count = (1024 * 1024 / len).clamp(1, 1000);
        let bytes = client_frames(len, count);
        assert_eq!(decode(&bytes), count);
        let mut group = c.benchmark_group(format!("decode/{label}"));
        group.throughput(Throughput::Bytes((len * count) as u64));
        if len >= 1024 * 1024 {
            group.sample_size(10);
        }
        group.bench_function("connection", |b| b.iter(|| decode(black_box(&bytes))));
        group.finish();
    }
}

criterion_group!(benches, frame_decoding);
criterion_main!(benches);
