//! A request that does not ask for a WebSocket upgrade is reported as plain HTTP, with its method, path and headers, and can be answered with a plain HTTP response.

use rfc6455::handshake::{
    HandshakeError, Incoming, Limits, ServerHandshake, Status, plain_response,
};

fn incoming(bytes: &[u8]) -> (Result<Status<Incoming>, HandshakeError>, Vec<u8>) {
    let mut server = ServerHandshake::new(Limits::default());
    let status = server.receive(bytes);
    (status, server.into_leftover())
}

#[test]
fn plain_get_is_reported_with_its_parts() {
    let (status, leftover) = incoming(
        b"GET /index.html?lang=fr HTTP/1.1\r\nHost: example.com\r\nAccept: text/html\r\n\r\n",
    );
    let Ok(Status::Complete(Incoming::Plain(request))) = status else {
        panic!("{status:?}");
    };
    assert_eq!(request.method(), "GET");
    assert_eq!(request.path(), "/index.html");
    assert_eq!(request.query_param("lang").as_deref(), Some("fr"));
    assert_eq!(request.header("accept"), Some("text/html"));
    let names: Vec<&str> = request.headers().map(|(n, _)| n).collect();
    assert_eq!(names, ["Host", "Accept"]);
    assert!(leftover.is_empty());
}

#[test]
fn other_upgrades_and_methods_are_plain_too() {
    for bytes in [
        &b"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n"[..],
        b"GET / HTTP/1.0\r\n\r\n",
        b"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
        // Looks like a WebSocket request but never says Upgrade: websocket.
        b"GET /chat HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n",
    ] {
        let (status, _) = incoming(bytes);
        assert!(matches!(status, Ok(Status::Complete(Incoming::Plain(_)))), "{status:?}");
    }
}

#[test]
fn the_body_of_a_plain_request_is_left_over() {
    let (status, leftover) =
        incoming(b"POST /api HTTP/1.1\r\nHost: h\r\nContent-Length: 7\r\n\r\n{\"a\":1}");
    let Ok(Status::Complete(Incoming::Plain(request))) = status else {
        panic!("{status:?}");
    };
    assert_eq!(request.method(), "POST");
    assert_eq!(request.header("content-length"), Some("7"));
    assert_eq!(leftover, b"{\"a\":1}");
}

#[test]
fn plain_response_writes_status_type_and_body() {
    assert_eq!(
        plain_response(404, "text/html; charset=utf-8", b"<h1>nope</h1>").unwrap(),
        b"HTTP/1.1 404 Not Found\r\nContent-Type: text/html; charset=utf-8\r\n\
          Content-Length: 13\r\nConnection: close\r\n\r\n<h1>nope</h1>"
    );
    assert!(plain_response(200, "text/plain\r\nX-Evil: 1", b"").is_err());
    assert!(plain_response(99, "text/plain", b"").is_err());
}
