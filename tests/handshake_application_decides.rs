//! The application sees the whole request (path, query, headers, offered subprotocols and extensions) and decides: accept with one offered subprotocol and its own headers, or reject with any status, headers and body.

use rfc6455::handshake::{
    Accept, BuildError, Incoming, Limits, Reject, ServerHandshake, Status, UpgradeRequest,
};

fn upgrade() -> UpgradeRequest {
    let bytes = b"GET /rooms/42?token=abc%2Fdef&x=1 HTTP/1.1\r\n\
        Host: chat.example.com\r\n\
        Upgrade: websocket\r\n\
        Connection: Upgrade\r\n\
        Sec-WebSocket-Key: IHfMdf8a0aQXbwQO1pkGdA==\r\n\
        Sec-WebSocket-Version: 13\r\n\
        Origin: https://chat.example.com\r\n\
        Cookie: a=1\r\n\
        Cookie: b=2\r\n\
        Authorization: Bearer xyz\r\n\
        Sec-WebSocket-Protocol: v2.chat\r\n\
        Sec-WebSocket-Protocol: v1.chat, ,chat\r\n\
        Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\
        Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=\"10\", x-custom\r\n\
        \r\n";
    match ServerHandshake::new(Limits::default()).receive(bytes) {
        Ok(Status::Complete(Incoming::Upgrade(request))) => request,
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_application_sees_everything() {
    let request = upgrade();
    assert_eq!(request.method(), "GET");
    assert_eq!(request.path(), "/rooms/42");
    assert_eq!(request.query(), Some("token=abc%2Fdef&x=1"));
    assert_eq!(request.query_param("token").as_deref(), Some("abc/def"));
    assert_eq!(request.origin(), Some("https://chat.example.com"));
    assert_eq!(request.header("AUTHORIZATION"), Some("Bearer xyz"));
    let cookies: Vec<&[u8]> = request.http().header_all("cookie").collect();
    assert_eq!(cookies, [&b"a=1"[..], b"b=2"]);
    assert_eq!(request.headers().count(), 13);
    assert_eq!(request.protocols(), ["v2.chat", "v1.chat", "chat"]);
    let names: Vec<&str> = request.extensions().iter().map(|e| e.name()).collect();
    assert_eq!(
        names,
        ["permessage-deflate", "permessage-deflate", "x-custom"]
    );
    assert_eq!(
        request.extensions()[1].param("server_max_window_bits"),
        Some(Some("10"))
    );
}

#[test]
fn accept_with_an_offered_subprotocol_and_own_headers() {
    let response = upgrade()
        .accept(
            Accept::new()
                .protocol("v1.chat")
                .header("Set-Cookie", "session=9"),
        )
        .unwrap();
    assert_eq!(
        String::from_utf8(response).unwrap(),
        "HTTP/1.1 101 Switching Protocols\r\n\
         Upgrade: websocket\r\n\
         Connection: Upgrade\r\n\
         Sec-WebSocket-Accept: aWAY+V/uyz5ILZEoWuWdxjnlb7E=\r\n\
         Sec-WebSocket-Protocol: v1.chat\r\n\
         Set-Cookie: session=9\r\n\
         \r\n"
    );
}

#[test]
fn accept_refuses_what_was_not_offered_or_is_reserved() {
    let request = upgrade();
    assert_eq!(
        request.accept(Accept::new().protocol("v3.chat")),
        Err(BuildError::ProtocolNotOffered("v3.chat".into()))
    );
    assert_eq!(
        request.accept(Accept::new().header("Sec-WebSocket-Extensions", "permessage-deflate")),
        Err(BuildError::ReservedHeader(
            "Sec-WebSocket-Extensions".into()
        ))
    );
    assert_eq!(
        request.accept(Accept::new().header("X-Ok", "a\r\n\r\nHTTP/1.1 200 OK")),
        Err(BuildError::InvalidHeaderValue("X-Ok".into()))
    );
}

#[test]
fn reject_with_any_status_headers_and_body() {
    let request = upgrade();
    let response = request
        .reject(
            Reject::new(401)
                .header("WWW-Authenticate", "Bearer realm=\"chat\"")
                .body("token expired"),
        )
        .unwrap();
    assert_eq!(
        String::from_utf8(response).unwrap(),
        "HTTP/1.1 401 Unauthorized\r\n\
         WWW-Authenticate: Bearer realm=\"chat\"\r\n\
         Content-Length: 13\r\n\
         Connection: close\r\n\
         \r\n\
         token expired"
    );
    let redirect = request
        .reject(Reject::new(307).header("Location", "ws://other/"))
        .unwrap();
    assert!(redirect.starts_with(b"HTTP/1.1 307 Temporary Redirect\r\nLocation: ws://other/\r\n"));
}
