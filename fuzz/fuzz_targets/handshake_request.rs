//! `ServerHandshake::receive` on arbitrary bytes in arbitrary pieces: the
//! pieces never change the answer, the buffer stays within the header limit,
//! no byte is lost between the head and the leftover, every error has an
//! HTTP answer a client can parse, and every upgrade can be accepted.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rfc6455::handshake::{
    Accept, HandshakeError, Incoming, Limits, ServerHandshake, Status, accept_key,
};
use rfc6455_fuzz::{Prefix, parse_response};

fuzz_target!(|data: &[u8]| {
    let Some((prefix, wire)) = Prefix::split(data) else {
        return;
    };
    let limits = prefix.limits();
    let whole = feed(limits, wire, wire.len());
    let pieces = feed(limits, wire, prefix.piece());
    assert_eq!(whole, pieces, "the answer depends on the pieces");
});

/// Feeds `wire` in pieces of `step` bytes; the final answer and leftover.
fn feed(
    limits: Limits,
    wire: &[u8],
    step: usize,
) -> (Result<Status<Incoming>, HandshakeError>, Vec<u8>) {
    let mut server = ServerHandshake::new(limits);
    let mut result = Ok(Status::Partial);
    let mut fed = 0;
    for piece in wire.chunks(step.max(1)) {
        result = server.receive(piece);
        fed += piece.len();
        assert!(server.buffered_len() <= limits.max_header_bytes);
        match &result {
            Ok(Status::Partial) => assert!(!server.is_complete()),
            Ok(Status::Complete(incoming)) => {
                let head_len = match incoming {
                    Incoming::Upgrade(request) => request.http().head_len(),
                    Incoming::Plain(request) => request.head_len(),
                };
                assert!(head_len <= limits.max_header_bytes);
                assert_eq!(&wire[head_len..fed], server.leftover(), "bytes lost");
                assert_eq!(server.buffered_len(), 0);
                if let Incoming::Upgrade(request) = incoming {
                    check_accept(request);
                }
            }
            Err(error) => {
                assert!(
                    matches!(error.status(), 400 | 405 | 426 | 431),
                    "{error:?} answered with {}",
                    error.status()
                );
                check_error_response(error);
                assert_eq!(
                    server.receive(b"\r\n\r\n").as_ref(),
                    Err(error),
                    "not sticky"
                );
                assert_eq!(server.buffered_len(), 0);
                break;
            }
        }
    }
    // After an error the rest of the stream is the caller's to read: only a
    // complete head's leftover grows with what follows.
    let leftover = match result {
        Ok(_) => server.into_leftover(),
        Err(_) => Vec::new(),
    };
    (result, leftover)
}

/// The 101 answer is valid HTTP and carries the accept key of the request.
fn check_accept(request: &rfc6455::handshake::UpgradeRequest) {
    let first_offer = request.protocols().first().map(String::as_str);
    for protocol in [None, first_offer] {
        let accept = match protocol {
            Some(p) => Accept::new().protocol(p),
            None => Accept::new(),
        };
        let bytes = request.accept(accept).expect("an upgrade can be accepted");
        let (status, headers, body) = parse_response(&bytes);
        assert_eq!(status, 101);
        assert!(body.is_empty());
        let expected = accept_key(request.key().as_bytes());
        assert!(headers.contains(&("sec-websocket-accept".into(), expected.into_bytes())));
    }
}

/// The error's answer parses, says its status, and has the headers the RFCs
/// ask for.
fn check_error_response(error: &HandshakeError) {
    let bytes = error.response();
    let (status, headers, _) = parse_response(&bytes);
    assert_eq!(status, error.status());
    let has = |name: &str, value: &[u8]| headers.contains(&(name.into(), value.to_vec()));
    match status {
        405 => assert!(has("allow", b"GET")),
        426 => assert!(has("sec-websocket-version", b"13")),
        _ => {}
    }
}
