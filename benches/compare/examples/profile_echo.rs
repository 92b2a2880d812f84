//! In-memory echo round trips as in the crate's `echo` bench, in a loop,
//! for a profiler: `profile_echo <payload bytes> <round trips>`.
use rfc6455::{Config, Connection, Event, Message, Role};
use std::hint::black_box;

fn deliver(conn: &mut Connection, bytes: &[u8]) -> Message {
    conn.receive(bytes);
    loop {
        if let Some(Event::Message(message)) = conn.poll_event().unwrap() {
            return message;
        }
    }
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().unwrap())
        .collect();
    let payload: Vec<u8> = (0..args[0]).map(|i| (i * 7) as u8).collect();
    let mut client = Connection::new(Role::Client, Config::default());
    let mut server = Connection::new(Role::Server, Config::default());
    for _ in 0..args[1] {
        client.send_binary(black_box(&payload)).unwrap();
        let request = client.take_transmit();
        let message = deliver(&mut server, &request);
        server.send(message).unwrap();
        let reply = server.take_transmit();
        black_box(deliver(&mut client, &reply));
    }
}
