//! The send cost of one server thread: batches of 16 messages of SIZE
//! bytes queued with `send(Message::binary(Bytes))`, the whole queue written
//! with one `write_vectored` per call to a Unix socket, read back at the
//! other end. `run.sh` builds it against two builds of the crate and times
//! it with `perf stat -e task-clock`.
//!
//!   shared-payload SIZE BATCHES
use std::io::{ErrorKind, IoSlice, Read, Write};
use std::os::unix::net::UnixStream;

use bytes::Bytes;
use rfc6455::{Config, Connection, Message, Role};

fn main() {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<usize>().unwrap());
    let (size, batches) = (args.next().unwrap(), args.next().unwrap());
    let (mut out, mut back) = UnixStream::pair().unwrap();
    out.set_nonblocking(true).unwrap();
    let mut conn = Connection::new(Role::Server, Config::default());
    // 16 payloads of their own, as an echo server holds 16 received messages.
    let payloads: Vec<Bytes> = (0..16)
        .map(|k| Bytes::from((0..size).map(|i| (i * 7 + k) as u8).collect::<Vec<u8>>()))
        .collect();
    let mut sink = vec![0u8; 1 << 20];
    let mut total = 0;
    for _ in 0..batches {
        for payload in &payloads {
            conn.send(Message::binary(payload.clone())).unwrap();
        }
        while !conn.transmit().is_empty() {
            let mut slices = [IoSlice::new(&[]); 64];
            let written = match out.write_vectored(conn.transmit().io_slices(&mut slices)) {
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => 0,
                Err(e) => panic!("{e}"),
            };
            conn.advance_transmit(written);
            // Drained after every write, so the next one finds room.
            let mut read = 0;
            while read < written {
                read += back.read(&mut sink[..(written - read).min(1 << 20)]).unwrap();
            }
            total += read;
        }
    }
    // Every byte went out: each frame is its payload behind a 2, 4 or
    // 10-byte header (RFC 6455 section 5.2).
    let header = match size {
        0..126 => 2,
        126..65536 => 4,
        _ => 10,
    };
    assert_eq!(total, batches * 16 * (size + header));
    println!("{total}");
}
