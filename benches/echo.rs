//! An in-memory echo: a client [`Connection`] sends a binary message, a
//! server connection reads it and sends it back, the client reads the echo.
//! No sockets: the bytes move between the two connections by hand.
//!
//! ```text
//! cargo bench --bench echo -- --warm-up-time 1 --measurement-time 2
//! ```

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rfc6455::{Config, Connection, Event, Message, Role};

const SIZES: &[(usize, &str)] = &[
    (16, "16B"),
    (125, "125B"),
    (1024, "1KiB"),
    (64 * 1024, "64KiB"),
    (1024 * 1024, "1MiB"),
];

/// The next message of `conn`, after feeding it `bytes`.
fn deliver(conn: &mut Connection, bytes: &[u8]) -> Message {
    conn.receive(bytes);
    loop {
        match conn.poll_event().unwrap() {
            Some(Event::Message(message)) => return message,
            Some(_) => {}
            None => panic!("the message did not arrive whole"),
        }
    }
}

/// One round trip of `payload`.
fn round_trip(client: &mut Connection, server: &mut Connection, payload: &[u8]) -> Message {
    client.send_binary(payload).unwrap();
    let request = client.take_transmit();
    let message = deliver(server, &request);
    server.send(message).unwrap();
    let reply = server.take_transmit();
    deliver(client, &reply)
}

fn echo(c: &mut Criterion) {
    for &(len, label) in SIZES {
        let payload: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
        let mut client = Connection::new(Role::Client, Config::default());
        let mut server = Connection::new(Role::Server, Config::default());
        assert_eq!(
            round_trip(&mut client, &mut server, &payload).as_bytes(),
            &payload[..]
        );
        let mut group = c.benchmark_group(format!("echo/{label}"));
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_function("round_trip", |b| {
            b.iter(|| round_trip(&mut client, &mut server, black_box(&payload)))
        });
        group.finish();
    }
}

criterion_group!(benches, echo);
criterion_main!(benches);
