//! The handshake in `http` types (feature `http`): HTTP/1.1 Upgrade and
//! HTTP/2 extended CONNECT (RFC 8441), answers and refusals, both roles.
#![cfg(feature = "http")]

use http::{Method, Request, Version};
use rfc6455::handshake::http::{HttpUpgrade, UpgradeError};
use rfc6455::handshake::{
    Accept, BuildError, ClientHandshake, ClientRequest, HandshakeError, Reject,
};

fn h1(headers: &[(&str, &str)]) -> Request<()> {
    let mut builder = Request::get("/chat?room=1");
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(()).unwrap()
}

const VALID: &[(&str, &str)] = &[
    ("Host", "example.com"),
    ("Upgrade", "websocket"),
    ("Connection", "keep-alive, Upgrade"),
    ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ("Sec-WebSocket-Version", "13"),
    ("Sec-WebSocket-Protocol", "chat, superchat"),
    ("Origin", "http://example.com"),
];

fn without(name: &str) -> Vec<(&'static str, &'static str)> {
    VALID.iter().copied().filter(|(n, _)| *n != name).collect()
}

fn with(name: &str, value: &'static str) -> Vec<(&'static str, &'static str)> {
    let mut headers = without(name);
    headers.push((VALID.iter().find(|(n, _)| *n == name).unwrap().0, value));
    headers
}

fn h2(
    protocol: Option<&str>,
    method: Method,
    headers: &[(&str, &str)],
) -> Result<HttpUpgrade, UpgradeError> {
    let mut builder = Request::builder()
        .method(method)
        .uri("https://example.com/chat?room=1")
        .version(Version::HTTP_2);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    HttpUpgrade::from_request(&builder.body(()).unwrap(), protocol)
}

#[test]
fn http1_upgrade_is_answered_with_101_and_the_accept_key() {
    let upgrade = HttpUpgrade::from_request(&h1(VALID), None).unwrap();
    assert!(!upgrade.is_extended_connect());
    let request = upgrade.request();
    assert_eq!((request.path(), request.query()), ("/chat", Some("room=1")));
    assert_eq!(request.protocols(), ["chat", "superchat"]);
    assert_eq!(request.origin(), Some("http://example.com"));

    let accepted = upgrade
        .accept(
            Accept::new()
                .protocol("superchat")
                .header("Set-Cookie", "id=1"),
        )
        .unwrap();
    let response = &accepted.response;
    assert_eq!(response.status(), 101);
    assert_eq!(response.version(), Version::HTTP_11);
    let h = response.headers();
    assert_eq!(h["upgrade"], "websocket");
    assert_eq!(h["connection"], "Upgrade");
    // RFC 6455 section 1.3's example key and answer.
    assert_eq!(h["sec-websocket-accept"], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert_eq!(h["sec-websocket-protocol"], "superchat");
    assert_eq!(h["set-cookie"], "id=1");
    assert_eq!(accepted.protocol.as_deref(), Some("superchat"));
}

#[test]
fn http2_extended_connect_is_answered_with_200_and_no_key() {
    let upgrade = h2(
        Some("websocket"),
        Method::CONNECT,
        &[
            ("sec-websocket-version", "13"),
            ("sec-websocket-protocol", "chat"),
        ],
    )
    .unwrap();
    assert!(upgrade.is_extended_connect());
    assert_eq!(upgrade.version(), Version::HTTP_2);
    // The authority stands in for Host (RFC 9113 section 8.3.1).
    assert_eq!(upgrade.request().header("Host"), Some("example.com"));
    assert_eq!(upgrade.request().path(), "/chat");
    assert_eq!(upgrade.request().key(), "");

    let accepted = upgrade.accept(Accept::new().protocol("chat")).unwrap();
    let response = &accepted.response;
    assert_eq!(response.status(), 200);
    assert_eq!(response.version(), Version::HTTP_2);
    for name in ["upgrade", "connection", "sec-websocket-accept"] {
        assert!(response.headers().get(name).is_none(), "{name} over HTTP/2");
    }
    assert_eq!(response.headers()["sec-websocket-protocol"], "chat");
    assert_eq!(accepted.protocol.as_deref(), Some("chat"));
}

#[test]
fn http2_requests_that_are_not_websocket() {
    let version = [("sec-websocket-version", "13")];
    // A plain CONNECT (a tunnel), another protocol, or :protocol on a GET.
    for (protocol, method) in [
        (None, Method::CONNECT),
        (Some("webtransport"), Method::CONNECT),
        (Some("websocket"), Method::GET),
    ] {
        assert_eq!(
            h2(protocol, method.clone(), &version).unwrap_err(),
            UpgradeError::NotWebSocket,
            "{protocol:?} {method}"
        );
    }
    // The token is ASCII case-insensitive, as the Upgrade token is.
    assert!(h2(Some("WebSocket"), Method::CONNECT, &version).is_ok());
}

#[test]
fn each_broken_rule_gets_its_status() {
    let cases: Vec<(Request<()>, u16, HandshakeError)> = vec![
        (
            h1(&without("Sec-WebSocket-Version")),
            426,
            HandshakeError::MissingVersion,
        ),
        (
            h1(&with("Sec-WebSocket-Version", "8")),
            426,
            HandshakeError::UnsupportedVersion,
        ),
        (
            h1(&without("Sec-WebSocket-Key")),
            400,
            HandshakeError::MissingKey,
        ),
        (
            h1(&with("Sec-WebSocket-Key", "c2hvcnQ=")),
            400,
            HandshakeError::BadKey,
        ),
        (
            h1(&with("Connection", "keep-alive")),
            400,
            HandshakeError::MissingConnectionUpgrade,
        ),
        (
            h1(&with("Sec-WebSocket-Protocol", "a, a")),
            400,
            HandshakeError::BadProtocol,
        ),
        (h1(&without("Host")), 400, HandshakeError::MissingHost),
        (
            {
                let mut r = h1(VALID);
                *r.method_mut() = Method::POST;
                r
            },
            405,
            HandshakeError::MethodNotGet,
        ),
        (
            {
                let mut r = h1(VALID);
                *r.version_mut() = Version::HTTP_10;
                r
            },
            400,
            HandshakeError::HttpVersionTooOld,
        ),
    ];
    for (request, status, expected) in cases {
        let error = HttpUpgrade::from_request(&request, None).unwrap_err();
        assert_eq!(error, UpgradeError::Handshake(expected.clone()));
        assert_eq!(error.status(), status, "{expected}");
        let answer = error.response(Version::HTTP_11);
        assert_eq!(answer.status(), status, "{expected}");
        assert!(!answer.body().is_empty());
        let h = answer.headers();
        assert!(h.get("content-length").is_none(), "left to the server");
        match status {
            426 => {
                assert_eq!(h["sec-websocket-version"], "13");
                assert_eq!(h["upgrade"], "websocket");
                assert_eq!(h["connection"], "upgrade");
            }
            405 => assert_eq!(h["allow"], "GET"),
            _ => assert!(h.get("connection").is_none()),
        }
    }
}

#[test]
fn a_plain_request_gets_426_without_connection_fields_over_http2() {
    let error = HttpUpgrade::from_request(&h1(&without("Upgrade")), None).unwrap_err();
    assert_eq!(error, UpgradeError::NotWebSocket);
    let answer = error.response(Version::HTTP_11);
    assert_eq!(answer.status(), 426);
    assert_eq!(answer.headers()["upgrade"], "websocket");
    assert_eq!(answer.headers()["sec-websocket-version"], "13");

    let error = h2(Some("websocket"), Method::CONNECT, &[]).unwrap_err();
    assert_eq!(
        error,
        UpgradeError::Handshake(HandshakeError::MissingVersion)
    );
    let answer = error.response(Version::HTTP_2);
    assert_eq!(answer.status(), 426);
    assert_eq!(answer.headers()["sec-websocket-version"], "13");
    assert!(answer.headers().get("upgrade").is_none());
    assert!(answer.headers().get("connection").is_none());
}

#[test]
fn caller_mistakes_and_refusals() {
    let upgrade = HttpUpgrade::from_request(&h1(VALID), None).unwrap();
    assert_eq!(
        upgrade.accept(Accept::new().protocol("other")).unwrap_err(),
        BuildError::ProtocolNotOffered("other".into())
    );
    assert_eq!(
        upgrade
            .accept(Accept::new().header("Sec-WebSocket-Accept", "x"))
            .unwrap_err(),
        BuildError::ReservedHeader("Sec-WebSocket-Accept".into())
    );
    let refusal = upgrade
        .reject(Reject::new(403).header("X-Why", "origin").body("no"))
        .unwrap();
    assert_eq!(refusal.status(), 403);
    assert_eq!(refusal.headers()["x-why"], "origin");
    assert_eq!(refusal.body(), b"no");
    assert!(upgrade.reject(Reject::new(101)).is_err());
}

#[test]
fn client_and_server_agree_over_http1() {
    let request = ClientRequest::new("ws://example.com:8080/chat?room=1")
        .unwrap()
        .protocol("chat")
        .header("Authorization", "Bearer t");
    let mut client = ClientHandshake::new(request).unwrap();
    let http_request = client.http_request().unwrap();
    assert_eq!(http_request.method(), Method::GET);
    assert_eq!(http_request.uri(), "/chat?room=1");
    let h = http_request.headers();
    assert_eq!(h["host"], "example.com:8080");
    assert_eq!(h["sec-websocket-key"], client.key());
    assert_eq!(h["authorization"], "Bearer t");

    let upgrade = HttpUpgrade::from_request(&http_request, None).unwrap();
    let accepted = upgrade.accept(Accept::new().protocol("chat")).unwrap();
    let response = client.check_http_response(&accepted.response).unwrap();
    assert_eq!(response.protocol(), Some("chat"));

    // A wrong accept key fails the connection (RFC 6455 section 4.1).
    let mut other = ClientHandshake::new(ClientRequest::new("ws://example.com/").unwrap()).unwrap();
    assert_eq!(
        other.check_http_response(&accepted.response).unwrap_err(),
        HandshakeError::AcceptMismatch
    );
}

#[test]
fn client_and_server_agree_over_http2() {
    let request = ClientRequest::new("wss://example.com/chat")
        .unwrap()
        .protocol("chat");
    let mut client = ClientHandshake::new(request).unwrap();
    let connect = client.http2_request().unwrap();
    assert_eq!(connect.method(), Method::CONNECT);
    assert_eq!(connect.version(), Version::HTTP_2);
    assert_eq!(connect.uri(), "https://example.com/chat");
    for name in ["host", "upgrade", "connection", "sec-websocket-key"] {
        assert!(connect.headers().get(name).is_none(), "{name} over HTTP/2");
    }
    assert_eq!(connect.headers()["sec-websocket-version"], "13");

    let upgrade = HttpUpgrade::from_request(&connect, Some("websocket")).unwrap();
    let accepted = upgrade.accept(Accept::new().protocol("chat")).unwrap();
    let response = client.check_http_response(&accepted.response).unwrap();
    assert_eq!(response.protocol(), Some("chat"));

    // Over HTTP/2 a refusal is any status but 2xx.
    let mut client =
        ClientHandshake::new(ClientRequest::new("wss://example.com/").unwrap()).unwrap();
    let refusal = upgrade.reject(Reject::new(403)).unwrap();
    assert_eq!(
        client.check_http_response(&refusal).unwrap_err(),
        HandshakeError::UnexpectedStatus(403)
    );
    // A server that picks a subprotocol nobody offered is refused.
    let mut client =
        ClientHandshake::new(ClientRequest::new("wss://example.com/").unwrap()).unwrap();
    assert_eq!(
        client.check_http_response(&accepted.response).unwrap_err(),
        HandshakeError::UnofferedProtocol("chat".into())
    );
}

#[test]
fn odd_header_bytes_never_panic() {
    for value in [&b"\xff\xfe"[..], b"", b" 13 ", b"\t", b"\x80ok"] {
        for name in [
            "sec-websocket-version",
            "sec-websocket-key",
            "sec-websocket-protocol",
            "sec-websocket-extensions",
            "host",
            "upgrade",
        ] {
            let mut request = h1(VALID);
            let value = http::HeaderValue::from_bytes(value).unwrap();
            request.headers_mut().insert(name, value.clone());
            if let Err(error) = HttpUpgrade::from_request(&request, None) {
                assert!(matches!(error.status(), 400 | 405 | 426), "{error}");
                let _ = error.response(Version::HTTP_11);
            }
            let _ = h2(Some("websocket"), Method::CONNECT, &[])
                .map_err(|e| e.response(Version::HTTP_2));
        }
    }
}

mod never_panics {
    use super::*;
    use proptest::prelude::*;

    const NAMES: &[&str] = &[
        "host",
        "upgrade",
        "connection",
        "sec-websocket-key",
        "sec-websocket-version",
        "sec-websocket-protocol",
        "sec-websocket-extensions",
        "origin",
    ];

    fn version(index: u8) -> Version {
        [
            Version::HTTP_10,
            Version::HTTP_11,
            Version::HTTP_2,
            Version::HTTP_3,
        ][index as usize % 4]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Any request head, any `:protocol`: an upgrade whose answer builds,
        /// or an error answered with 400, 405 or 426, never a panic.
        #[test]
        fn any_request_gets_an_answer(
            fields in proptest::collection::vec((0..NAMES.len(), proptest::collection::vec(any::<u8>(), 0..40)), 0..10),
            connect in any::<bool>(),
            v in any::<u8>(),
            protocol in proptest::option::of("[a-zA-Z]{0,10}"),
        ) {
            let method = if connect { Method::CONNECT } else { Method::GET };
            let mut request = Request::builder().method(method).uri("http://h/ws?x=1").version(version(v));
            for (name, value) in fields {
                if let Ok(value) = http::HeaderValue::from_bytes(&value) {
                    request = request.header(NAMES[name], value);
                }
            }
            let request = request.body(()).unwrap();
            match HttpUpgrade::from_request(&request, protocol.as_deref()) {
                Ok(upgrade) => {
                    let accepted = upgrade.accept(Accept::new()).unwrap();
                    let status = if upgrade.is_extended_connect() { 200 } else { 101 };
                    prop_assert_eq!(accepted.response.status(), status);
                }
                Err(error) => {
                    prop_assert!(matches!(error.status(), 400 | 405 | 426), "{}", error);
                    prop_assert_eq!(error.response(request.version()).status(), error.status());
                }
            }
        }
    }
}
