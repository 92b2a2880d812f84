//! The API a `no_std` build has, driven in memory: a client and a server handshake each other, exchange every kind of frame, and close, with keys from the caller and time as a `Duration` (run with `cargo test --no-default-features`).

use core::time::Duration;
use std::sync::{Arc, Mutex};

use rfc6455::frame::{FrameHeader, HeaderStatus, Rsv};
use rfc6455::handshake::{
    Accept, ClientHandshake, ClientRequest, Incoming, Limits, ServerHandshake, Status,
};
use rfc6455::message::DataKind;
use rfc6455::{CloseCode, CloseFrame, Config, Connection, Event, Message, ProtocolError, State};

/// A test generator (SplitMix64) standing for a hardware random number
/// generator, which records every key it gives.
#[derive(Clone)]
struct Recorder {
    state: u64,
    given: Arc<Mutex<Vec<[u8; 4]>>>,
}

impl Recorder {
    fn new(seed: u64) -> Self {
        Recorder {
            state: seed,
            given: Arc::default(),
        }
    }

    fn next_key(&mut self) -> [u8; 4] {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        let key = ((z ^ (z >> 31)) as u32).to_le_bytes();
        self.given.lock().unwrap().push(key);
        key
    }
}

/// The masking keys of every frame in `wire`, a client's output.
fn keys_on_the_wire(mut wire: &[u8]) -> Vec<[u8; 4]> {
    let mut keys = Vec::new();
    while !wire.is_empty() {
        let HeaderStatus::Complete { header, len } = FrameHeader::decode(wire, Rsv::NONE).unwrap()
        else {
            panic!("a whole frame");
        };
        keys.push(header.mask.expect("a client frame is masked"));
        wire = &wire[len + header.payload_len as usize..];
    }
    keys
}

/// Every event until the connection needs more bytes.
fn events(connection: &mut Connection<Duration>) -> Vec<Event> {
    let mut out = Vec::new();
    while let Some(event) = connection.poll_event().expect("no protocol error") {
        out.push(event);
    }
    out
}

/// The opening handshake in memory; returns both connections, each fed the
/// bytes that came behind the other's head.
fn open(keys: &Recorder, config: Config) -> (Connection<Duration>, Connection<Duration>) {
    let mut source = keys.clone();
    let request = ClientRequest::new("ws://device.local/telemetry")
        .unwrap()
        .protocol("telemetry.v1");
    let mut client_hs =
        ClientHandshake::with_key_source(request, &mut || source.next_key()).unwrap();
    // The nonce is four keys of the caller's source, and nothing else.
    let nonce: Vec<u8> = keys.given.lock().unwrap().concat();
    assert_eq!(nonce.len(), 16);
    let expected = base64_of(&nonce);
    assert_eq!(client_hs.key(), expected);

    let mut server_hs = ServerHandshake::new(Limits::default());
    let Status::Complete(Incoming::Upgrade(request)) =
        server_hs.receive(client_hs.request_bytes()).unwrap()
    else {
        panic!("a whole upgrade request");
    };
    assert_eq!(request.path(), "/telemetry");
    let answer = request
        .accept(Accept::new().protocol("telemetry.v1"))
        .unwrap();
    let mut server = Connection::<Duration>::server(config);
    server.receive(&server_hs.into_leftover());

    let Status::Complete(response) = client_hs.receive(&answer).unwrap() else {
        panic!("a whole answer");
    };
    assert_eq!(response.protocol(), Some("telemetry.v1"));
    let mut client = Connection::<Duration>::client(config, move || source.next_key());
    client.receive(&client_hs.into_leftover());
    (client, server)
}

/// Standard base64 with padding, to check the nonce without the crate's own
/// encoder.
fn base64_of(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn every_kind_of_frame_both_ways_with_caller_keys() {
    let keys = Recorder::new(0x5eed);
    let config = Config::default().send_frame_size(8);
    let (mut client, mut server) = open(&keys, config);
    let nonce_keys = keys.given.lock().unwrap().len();

    // Client to server: text, binary, a fragmented text with a ping between
    // its fragments, an unsolicited pong; data in frames of at most 8 bytes.
    client.send(Message::text("temperature 21.5")).unwrap();
    client
        .send(Message::binary(vec![0, 1, 2, 253, 254, 255]))
        .unwrap();
    client
        .send_fragment(DataKind::Text, "naïve ".as_bytes(), false)
        .unwrap();
    client.ping(b"still there?").unwrap();
    client
        .send_fragment(DataKind::Text, "café".as_bytes(), true)
        .unwrap();
    client.pong(b"heartbeat").unwrap();
    let wire = client.take_transmit();

    // Every frame carries its own key from the caller's source (the
    // control frames, queued later, go out first).
    let mut on_wire = keys_on_the_wire(&wire);
    let mut given = keys.given.lock().unwrap()[nonce_keys..].to_vec();
    on_wire.sort();
    given.sort();
    assert_eq!(on_wire, given);
    given.dedup();
    // "temperature 21.5" in two frames of 8 bytes, then one frame each.
    assert_eq!(given.len(), 7);

    server.receive(&wire);
    assert_eq!(
        events(&mut server),
        [
            // Control frames overtake the data queued before them.
            Event::Ping("still there?".into()),
            Event::Pong("heartbeat".into()),
            Event::Message(Message::text("temperature 21.5")),
            Event::Message(Message::binary(vec![0, 1, 2, 253, 254, 255])),
            Event::Message(Message::text("naïve café")),
        ]
    );

    // Server to client: unmasked; the automatic pong comes first.
    server.send(Message::text("set interval 5")).unwrap();
    server.send_binary(&[42; 20]).unwrap();
    client.receive(&server.take_transmit());
    assert_eq!(
        events(&mut client),
        [
            Event::Pong("still there?".into()),
            Event::Message(Message::text("set interval 5")),
            Event::Message(Message::binary(vec![42; 20])),
        ]
    );

    // The close handshake, started by the client.
    client.close(CloseCode::Normal, "going to sleep").unwrap();
    assert_eq!(client.state(), State::Closing);
    server.receive(&client.take_transmit());
    assert_eq!(
        events(&mut server),
        [Event::Close(Some(
            CloseFrame::new(CloseCode::Normal, "going to sleep").unwrap()
        ))]
    );
    client.receive(&server.take_transmit());
    assert_eq!(
        events(&mut client),
        [Event::Close(Some(
            CloseFrame::new(CloseCode::Normal, "").unwrap()
        ))]
    );
    assert!(client.is_done() && server.is_done());
}

#[test]
fn timers_run_on_a_tick_counter() {
    let keys = Recorder::new(7);
    let ms = Duration::from_millis;
    let config = Config::default()
        .keepalive_interval(ms(30_000))
        .idle_timeout(ms(75_000));
    let (mut client, mut server) = open(&keys, config);

    // Milliseconds since boot, as a firmware's timer interrupt counts them.
    client.handle_timeout(ms(1_000));
    server.handle_timeout(ms(1_000));
    assert_eq!(client.poll_timeout(), Some(ms(31_000)));

    // Silence: the client pings, masked with the next key of its source.
    client.handle_timeout(ms(31_000));
    let ping = client.take_transmit();
    let last_key = *keys.given.lock().unwrap().last().unwrap();
    assert_eq!(keys_on_the_wire(&ping), [last_key]);
    server.receive_at(&ping, ms(31_005));
    assert_eq!(events(&mut server), [Event::Ping("".into())]);
    client.receive_at(&server.take_transmit(), ms(31_010));
    assert_eq!(events(&mut client), [Event::Pong("".into())]);
    assert_eq!(client.poll_timeout(), Some(ms(61_010)));

    // Then the server hears nothing more and gives up.
    server.handle_timeout(ms(106_005));
    assert_eq!(server.poll_event(), Err(ProtocolError::IdleTimeout));
    assert!(server.is_done());
}

#[test]
fn a_closure_source_is_called_once_per_frame() {
    // Called once per frame, in the order the frames are queued.
    let counter = Arc::new(Mutex::new(0u32));
    let seen = Arc::clone(&counter);
    let mut client = Connection::<Duration>::client(Config::default(), move || {
        let mut n = seen.lock().unwrap();
        *n += 1;
        (*n * 0x0101_0101).to_le_bytes()
    });
    client.send_text("a").unwrap();
    client.ping(b"").unwrap();
    client.close(CloseCode::GoingAway, "").unwrap();
    let wire = client.take_transmit();
    assert_eq!(*counter.lock().unwrap(), 3);
    // Control frames go first: ping (key 2), then the text (key 1), then the
    // close the application queued after it (key 3).
    assert_eq!(
        keys_on_the_wire(&wire),
        [[2, 2, 2, 2], [1, 1, 1, 1], [3, 3, 3, 3]]
    );
}

#[test]
fn a_connection_with_a_caller_source_stays_send_and_sync() {
    fn send_and_sync<T: Send + Sync>(_: &T) {}
    let mut state = 1u32;
    let client = Connection::<Duration>::client(Config::default(), move || {
        state = state.wrapping_mul(0x0101_0101).wrapping_add(7);
        state.to_le_bytes()
    });
    send_and_sync(&client);
    send_and_sync(&Connection::<Duration>::server(Config::default()));
}
