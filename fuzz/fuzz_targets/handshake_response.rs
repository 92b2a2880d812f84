//! `ClientHandshake::receive` on arbitrary bytes in arbitrary pieces: the
//! pieces never change the answer, the buffer stays within the header limit,
//! no byte is lost, and a response is accepted only if it is a 101 with the
//! right accept key, a subprotocol and extensions the client offered.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rfc6455::handshake::{
    ClientHandshake, ClientRequest, HandshakeError, Limits, Response, Status,
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

/// The RFC's example client (key "the sample nonce"), offering the `chat`
/// and `superchat` subprotocols and permessage-deflate.
fn client(limits: Limits) -> ClientHandshake {
    let request = ClientRequest::new("ws://server.example.com/chat")
        .unwrap()
        .protocol("chat")
        .protocol("superchat")
        .header("Sec-WebSocket-Extensions", "permessage-deflate")
        .limits(limits);
    ClientHandshake::with_key(request, *b"the sample nonce").unwrap()
}

/// Feeds `wire` in pieces of `step` bytes; the final answer and leftover.
fn feed(
    limits: Limits,
    wire: &[u8],
    step: usize,
) -> (Result<Status<Response>, HandshakeError>, Vec<u8>) {
    let mut client = client(limits);
    let mut result = Ok(Status::Partial);
    let mut fed = 0;
    for piece in wire.chunks(step.max(1)) {
        result = client.receive(piece);
        fed += piece.len();
        assert!(client.buffered_len() <= limits.max_header_bytes);
        match &result {
            Ok(Status::Partial) => {}
            Ok(Status::Complete(response)) => {
                assert!(response.head_len() <= limits.max_header_bytes);
                assert_eq!(
                    &wire[response.head_len()..fed],
                    client.leftover(),
                    "bytes lost"
                );
                assert_eq!(response.status(), 101);
                let accept = response.header("Sec-WebSocket-Accept").map(str::trim);
                assert_eq!(accept, Some(client.expected_accept()));
                let protocol = response.protocol();
                assert!(
                    matches!(protocol, None | Some("chat" | "superchat")),
                    "{protocol:?}"
                );
                for extension in response.extensions() {
                    assert!(extension.name().eq_ignore_ascii_case("permessage-deflate"));
                }
            }
            Err(error) => {
                assert!(matches!(error.status(), 400 | 431 | 502), "{error:?}");
                if let HandshakeError::UnexpectedStatus(status) = error {
                    // The answer is kept, and its body starts in the leftover.
                    let response = client.response().expect("the answer is kept");
                    assert_eq!(response.status(), *status);
                    assert_ne!(*status, 101);
                    assert_eq!(&wire[response.head_len()..fed], client.leftover());
                }
                // A proxy relaying the handshake could send this answer on.
                let (status, _, _) = parse_response(&error.response());
                assert_eq!(status, error.status());
                assert_eq!(
                    client.receive(b"\r\n\r\n").as_ref(),
                    Err(error),
                    "not sticky"
                );
                break;
            }
        }
    }
    // After an error the rest of the stream is the caller's to read: only a
    // complete head's leftover grows with what follows.
    let leftover = match result {
        Ok(_) => client.into_leftover(),
        Err(_) => Vec::new(),
    };
    (result, leftover)
}
