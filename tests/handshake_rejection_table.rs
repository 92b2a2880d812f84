//! A table of malformed or hostile requests, each mapped to its exact error, HTTP status and written answer headers.

use rfc6455::handshake::{HandshakeError, Limits, ServerHandshake};

const KEY: &str = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";

/// A valid request with `edit` applied to its text.
fn request(edit: impl Fn(String) -> String) -> Vec<u8> {
    edit(format!(
        "GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\n{KEY}Sec-WebSocket-Version: 13\r\n\r\n"
    ))
    .into_bytes()
}

fn replace(from: &'static str, to: &'static str) -> impl Fn(String) -> String {
    move |s| {
        assert!(s.contains(from), "{from:?} not in the request");
        s.replacen(from, to, 1)
    }
}

const BAD_REQUEST: &[&str] = &["HTTP/1.1 400 Bad Request"];
const UPGRADE_REQUIRED: &[&str] = &[
    "HTTP/1.1 426 Upgrade Required",
    "Sec-WebSocket-Version: 13",
    "Upgrade: websocket",
];

#[test]
fn each_broken_rule_gets_its_answer() {
    use HandshakeError::*;
    #[rustfmt::skip]
    let table: Vec<(&str, Vec<u8>, HandshakeError, &[&str])> = vec![
        ("not HTTP", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n".to_vec(), Malformed("invalid token"), BAD_REQUEST),
        ("space in header name", request(replace("Host:", "Ho st:")), Malformed("invalid header name"), BAD_REQUEST),
        ("NUL in header value", request(replace("example.com", "exa\0mple")), Malformed("invalid header value"), BAD_REQUEST),
        ("HTTP/2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec(), Malformed("invalid HTTP version"), BAD_REQUEST),
        ("bare CR line end", request(replace("Host: example.com\r\n", "Host: example.com\r")), Malformed("invalid header value"), BAD_REQUEST),
        ("POST", request(replace("GET", "POST")), MethodNotGet, &["HTTP/1.1 405 Method Not Allowed", "Allow: GET"]),
        ("lowercase get", request(replace("GET", "get")), MethodNotGet, &["HTTP/1.1 405 Method Not Allowed", "Allow: GET"]),
        ("HTTP/1.0", request(replace("HTTP/1.1", "HTTP/1.0")), HttpVersionTooOld, BAD_REQUEST),
        ("no Host", request(replace("Host: example.com\r\n", "")), MissingHost, BAD_REQUEST),
        ("two Hosts", request(replace("Host: example.com\r\n", "Host: a\r\nHost: b\r\n")), DuplicateHeader("Host"), BAD_REQUEST),
        ("no Connection", request(replace("Connection: Upgrade\r\n", "")), MissingConnectionUpgrade, BAD_REQUEST),
        ("Connection without Upgrade", request(replace("Connection: Upgrade", "Connection: keep-alive, Upgraded")), MissingConnectionUpgrade, BAD_REQUEST),
        ("no version", request(replace("Sec-WebSocket-Version: 13\r\n", "")), MissingVersion, UPGRADE_REQUIRED),
        ("version 8", request(replace("Version: 13", "Version: 8")), UnsupportedVersion, UPGRADE_REQUIRED),
        ("version list", request(replace("Version: 13", "Version: 13, 8")), UnsupportedVersion, UPGRADE_REQUIRED),
        ("two versions", request(replace("Version: 13", "Version: 13\r\nSec-WebSocket-Version: 13")), UnsupportedVersion, UPGRADE_REQUIRED),
        ("no key", request(replace(KEY, "")), MissingKey, BAD_REQUEST),
        ("two keys", request(replace(KEY, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n")), DuplicateHeader("Sec-WebSocket-Key"), BAD_REQUEST),
        ("key of 15 bytes", request(replace("dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZSBub25j")), BadKey, BAD_REQUEST),
        ("key of 17 bytes", request(replace("dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZSBub25jZQ0A")), BadKey, BAD_REQUEST),
        ("key not base64", request(replace("dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZSBub25jZ!==")), BadKey, BAD_REQUEST),
        ("key without padding", request(replace("dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZSBub25jZQ")), BadKey, BAD_REQUEST),
        ("protocol not a token", request(replace(KEY, "Sec-WebSocket-Protocol: chat, a/b\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n")), BadProtocol, BAD_REQUEST),
        ("protocol twice", request(replace(KEY, "Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Protocol: chat\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n")), BadProtocol, BAD_REQUEST),
        ("extension grammar", request(replace(KEY, "Sec-WebSocket-Extensions: permessage-deflate; =15\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n")), BadExtension, BAD_REQUEST),
        ("quoted param not a token", request(replace(KEY, "Sec-WebSocket-Extensions: x; a=\"b c\"\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n")), BadExtension, BAD_REQUEST),
        ("too many headers", request(replace(KEY, &*"X-A: 1\r\n".repeat(70).leak())), TooManyHeaders { limit: 64 }, &["HTTP/1.1 431 Request Header Fields Too Large"]),
        ("header block too large", request(replace(KEY, &*format!("X-Pad: {}\r\n", "a".repeat(9000)).leak())), HeaderTooLarge { limit: 8192 }, &["HTTP/1.1 431 Request Header Fields Too Large"]),
    ];
    for (name, bytes, error, head) in table {
        // Whole, then one byte at a time: the same error either way.
        let mut server = ServerHandshake::new(Limits::default());
        assert_eq!(server.receive(&bytes), Err(error.clone()), "{name}");
        let mut server = ServerHandshake::new(Limits::default());
        let bytewise = bytes.iter().find_map(|b| server.receive(&[*b]).err());
        assert_eq!(bytewise.as_ref(), Some(&error), "{name}, byte by byte");
        // Sticky.
        assert_eq!(
            server.receive(b"\r\n\r\n").unwrap_err(),
            error,
            "{name}, after"
        );

        let status: u16 = head[0][9..12].parse().unwrap();
        assert_eq!(error.status(), status, "{name}");
        let answer = String::from_utf8(error.response()).unwrap();
        let (written_head, body) = answer.split_once("\r\n\r\n").unwrap();
        let body_line = format!("{error}\n");
        let connection = if status == 426 {
            "Connection: Upgrade, close"
        } else {
            "Connection: close"
        };
        let mut expected: Vec<String> = head.iter().map(|s| s.to_string()).collect();
        expected.push("Content-Type: text/plain; charset=utf-8".into());
        expected.push(format!("Content-Length: {}", body_line.len()));
        expected.push(connection.into());
        assert_eq!(
            written_head.split("\r\n").collect::<Vec<_>>(),
            expected,
            "{name}"
        );
        assert_eq!(body, body_line, "{name}");
    }
}

#[test]
fn the_upgrade_required_answer_in_full() {
    let answer = HandshakeError::UnsupportedVersion.response();
    assert_eq!(
        String::from_utf8(answer).unwrap(),
        "HTTP/1.1 426 Upgrade Required\r\n\
         Sec-WebSocket-Version: 13\r\n\
         Upgrade: websocket\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         Content-Length: 46\r\n\
         Connection: Upgrade, close\r\n\
         \r\n\
         unsupported Sec-WebSocket-Version, only 13 is\n"
    );
}
