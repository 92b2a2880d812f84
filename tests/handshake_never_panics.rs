//! Arbitrary bytes, alone or behind a valid prefix, in arbitrary pieces, never make either role panic or buffer more than the limit.
#![cfg(feature = "getrandom")]

use proptest::prelude::*;
use rfc6455::handshake::{
    Accept, ClientHandshake, ClientRequest, Incoming, Limits, ServerHandshake, Status,
};

const PREFIXES: &[&[u8]] = &[
    b"",
    b"GET / HTTP/1.1\r\n",
    b"GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n",
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n",
];

fn pieces(bytes: &[u8], sizes: &[usize]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = bytes;
    for &size in sizes.iter().cycle().take(bytes.len() + 1) {
        if rest.is_empty() {
            break;
        }
        let (a, b) = rest.split_at(size.min(rest.len()));
        out.push(a.to_vec());
        rest = b;
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn no_panic_and_bounded_memory(
        prefix in 0..PREFIXES.len(),
        tail in proptest::collection::vec(any::<u8>(), 0..600),
        sizes in proptest::collection::vec(1usize..64, 1..8),
        max_header_bytes in 0usize..400,
        max_headers in 0usize..8,
    ) {
        let limits = Limits { max_header_bytes, max_headers };
        let mut bytes = PREFIXES[prefix].to_vec();
        bytes.extend_from_slice(&tail);
        let mut server = ServerHandshake::new(limits);
        let request = ClientRequest::new("ws://h/").unwrap().limits(limits);
        let mut client = ClientHandshake::new(request).unwrap();
        for piece in pieces(&bytes, &sizes) {
            match server.receive(&piece) {
                Ok(Status::Complete(Incoming::Upgrade(request))) => {
                    let _ = request.accept(Accept::new());
                }
                Ok(_) => {}
                Err(error) => {
                    let _ = (error.status(), error.response());
                }
            }
            let _ = client.receive(&piece);
            prop_assert!(server.buffered_len() <= max_header_bytes);
            prop_assert!(client.buffered_len() <= max_header_bytes);
        }
    }

    #[test]
    fn no_panic_on_any_url(url in "(ws|wss|WS|http)://[ -~]{0,30}") {
        if let Ok(request) = ClientRequest::new(&url) {
            let client = ClientHandshake::new(request).unwrap();
            prop_assert!(client.request_bytes().ends_with(b"\r\n\r\n"));
        }
    }
}
