//! The client checks the server's answer as section 4.1 requires: a table of answers, each with its exact error, and a non-101 answer that keeps its status and headers.
#![cfg(feature = "getrandom")]

use rfc6455::handshake::{ClientHandshake, ClientRequest, HandshakeError, Status};

const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

fn client() -> ClientHandshake {
    let request = ClientRequest::new("ws://example.com/chat")
        .unwrap()
        .protocol("chat")
        .header(
            "Sec-WebSocket-Extensions",
            "permessage-deflate; client_max_window_bits",
        );
    ClientHandshake::with_key(request, *b"the sample nonce").unwrap()
}

fn answer(extra: &str) -> String {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {ACCEPT}\r\n{extra}\r\n"
    )
}

#[test]
fn each_broken_rule_in_the_answer_fails_the_connection() {
    use HandshakeError::*;
    let valid = answer("");
    #[rustfmt::skip]
    let table: Vec<(&str, String, HandshakeError)> = vec![
        ("404", "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".into(), UnexpectedStatus(404)),
        ("200", "HTTP/1.1 200 OK\r\n\r\n".into(), UnexpectedStatus(200)),
        ("no Upgrade", valid.replace("Upgrade: websocket\r\n", ""), MissingUpgrade),
        ("other Upgrade", valid.replace("Upgrade: websocket", "Upgrade: h2c"), MissingUpgrade),
        ("no Connection", valid.replace("Connection: Upgrade\r\n", ""), MissingConnectionUpgrade),
        ("no accept", valid.replace(&format!("Sec-WebSocket-Accept: {ACCEPT}\r\n"), ""), MissingAccept),
        ("wrong accept", valid.replace(ACCEPT, "aWAY+V/uyz5ILZEoWuWdxjnlb7E="), AcceptMismatch),
        ("two accepts", answer(&format!("Sec-WebSocket-Accept: {ACCEPT}\r\n")), DuplicateHeader("Sec-WebSocket-Accept")),
        ("unoffered protocol", answer("Sec-WebSocket-Protocol: superchat\r\n"), UnofferedProtocol("superchat".into())),
        ("protocol list", answer("Sec-WebSocket-Protocol: chat, chat\r\n"), BadProtocol),
        ("empty protocol", answer("Sec-WebSocket-Protocol: \r\n"), BadProtocol),
        ("unoffered extension", answer("Sec-WebSocket-Extensions: x-webkit-deflate-frame\r\n"), UnofferedExtension("x-webkit-deflate-frame".into())),
        ("bad extension", answer("Sec-WebSocket-Extensions: permessage-deflate;\r\n"), BadExtension),
        ("garbage", "SSH-2.0-OpenSSH_9.6\r\n\r\n".into(), Malformed("invalid HTTP version")),
    ];
    for (name, text, error) in table {
        let mut whole = client();
        assert_eq!(whole.receive(text.as_bytes()), Err(error.clone()), "{name}");
        assert_eq!(whole.receive(b"more"), Err(error.clone()), "{name}: sticky");
        let mut bytewise = client();
        let found = text.bytes().find_map(|b| bytewise.receive(&[b]).err());
        assert_eq!(found, Some(error), "{name}, byte by byte");
    }
}

#[test]
fn valid_answers_with_whitespace_case_and_offered_extension() {
    let text = "HTTP/1.1 101 Switching Protocols\r\nupgrade: WebSocket\r\nconnection: keep-alive, upgrade\r\n\
                sec-websocket-accept:   s3pPLMBiTxaQ9kYGzzhZRbK+xOo=  \r\n\
                Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n\
                Sec-WebSocket-Protocol: chat\r\n\r\n";
    let mut client = client();
    let response = client.receive(text.as_bytes()).unwrap().complete().unwrap();
    assert_eq!(response.protocol(), Some("chat"));
    assert_eq!(response.extensions().len(), 1);
    assert_eq!(response.extensions()[0].name(), "permessage-deflate");
    assert_eq!(
        response.extensions()[0].param("server_no_context_takeover"),
        Some(None)
    );
}

#[test]
fn a_non_101_answer_carries_its_status_and_keeps_its_headers() {
    let mut client = client();
    let text = b"HTTP/1.1 302 Found\r\nLocation: ws://elsewhere/\r\nContent-Length: 4\r\n\r\nbody";
    let error = client.receive(&text[..10]).map(|s| s.is_partial());
    assert_eq!(error, Ok(true));
    assert_eq!(
        client.receive(&text[10..]),
        Err(HandshakeError::UnexpectedStatus(302))
    );
    let response = client.response().expect("kept");
    assert_eq!(response.status(), 302);
    assert_eq!(response.reason(), "Found");
    assert_eq!(response.header("location"), Some("ws://elsewhere/"));
    assert_eq!(client.leftover(), b"body");
}

#[test]
fn wss_is_a_url_form_only() {
    let request = ClientRequest::new("wss://example.com/chat").unwrap();
    assert!(request.is_secure());
    assert_eq!(request.port(), 443);
    let mut client = ClientHandshake::new(request).unwrap();
    // Same bytes as ws://; the caller runs them inside its own TLS session.
    assert!(
        client
            .request_bytes()
            .starts_with(b"GET /chat HTTP/1.1\r\nHost: example.com\r\n")
    );
    assert_eq!(client.receive(b""), Ok(Status::Partial));
}
