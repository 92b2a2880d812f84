//! A peer that sends far more header than the limits allow (1 MiB of headers, too many fields) gets 431, and the handshake never holds more than the limit.
#![cfg(feature = "getrandom")]

use rfc6455::handshake::{
    ClientHandshake, ClientRequest, HandshakeError, Limits, ServerHandshake, Status,
};

const MIB: usize = 1 << 20;

#[test]
fn one_mebibyte_of_headers_gets_431_within_the_limit() {
    let limits = Limits::default();
    assert_eq!(limits.max_header_bytes, 8192);
    let mut server = ServerHandshake::new(limits);
    assert!(
        server
            .receive(b"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n")
            .unwrap()
            .is_partial()
    );
    let line = b"X-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
    let mut sent = 0;
    let mut error = None;
    while sent < MIB {
        match server.receive(line) {
            Ok(Status::Partial) => {}
            Ok(Status::Complete(_)) => panic!("never complete"),
            Err(e) => {
                error = Some(e);
                break;
            }
        }
        sent += line.len();
        assert!(
            server.buffered_len() <= limits.max_header_bytes,
            "buffered {}",
            server.buffered_len()
        );
    }
    let error = error.expect("rejected before 1 MiB");
    assert_eq!(error, HandshakeError::HeaderTooLarge { limit: 8192 });
    assert!(
        sent < limits.max_header_bytes,
        "rejected as soon as the limit was passed"
    );
    assert_eq!(error.status(), 431);
    assert!(
        error
            .response()
            .starts_with(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")
    );
    // The rest of the mebibyte changes nothing and is not kept.
    for _ in 0..(MIB / line.len()) {
        assert_eq!(server.receive(line), Err(error.clone()));
        assert_eq!(server.buffered_len(), 0);
    }
    assert!(server.leftover().is_empty());
}

#[test]
fn one_mebibyte_in_a_single_call_is_cut_at_the_limit() {
    let mut request = b"GET / HTTP/1.1\r\nX-Pad: ".to_vec();
    request.resize(MIB, b'a');
    let mut server = ServerHandshake::new(Limits::default());
    assert_eq!(
        server.receive(&request),
        Err(HandshakeError::HeaderTooLarge { limit: 8192 })
    );
    assert!(server.buffered_len() <= 8192);
}

#[test]
fn a_block_of_exactly_the_limit_is_accepted_and_one_more_byte_is_not() {
    let head = |pad: usize| {
        format!(
            "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nX: {}\r\n\r\n",
            "p".repeat(pad)
        )
    };
    let base = head(0).len();
    let limits = Limits {
        max_header_bytes: 512,
        max_headers: 8,
    };
    let exact = head(512 - base);
    assert_eq!(exact.len(), 512);
    for chunk in [1, 100, 512] {
        let mut server = ServerHandshake::new(limits);
        let results: Vec<_> = exact
            .as_bytes()
            .chunks(chunk)
            .map(|c| server.receive(c))
            .collect();
        assert!(
            results.last().unwrap().as_ref().unwrap().is_complete(),
            "chunk {chunk}"
        );
    }
    let over = head(513 - base);
    let mut server = ServerHandshake::new(limits);
    assert_eq!(
        server.receive(over.as_bytes()),
        Err(HandshakeError::HeaderTooLarge { limit: 512 })
    );
}

#[test]
fn too_many_fields_get_431() {
    let mut request = String::from("GET / HTTP/1.1\r\nHost: h\r\n");
    for i in 0..65 {
        request.push_str(&format!("X-{i}: v\r\n"));
    }
    request.push_str("\r\n");
    let mut server = ServerHandshake::new(Limits::default());
    let error = server.receive(request.as_bytes()).unwrap_err();
    assert_eq!(error, HandshakeError::TooManyHeaders { limit: 64 });
    assert_eq!(error.status(), 431);
}

#[test]
fn the_client_applies_the_same_limits_to_the_response() {
    let request = ClientRequest::new("ws://h/").unwrap().limits(Limits {
        max_header_bytes: 256,
        max_headers: 4,
    });
    let mut client = ClientHandshake::new(request).unwrap();
    let mut answer = b"HTTP/1.1 101 Switching Protocols\r\nX-Pad: ".to_vec();
    answer.resize(MIB, b'a');
    assert_eq!(
        client.receive(&answer),
        Err(HandshakeError::HeaderTooLarge { limit: 256 })
    );
    assert!(client.buffered_len() <= 256);
}
