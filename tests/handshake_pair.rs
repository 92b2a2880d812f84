//! A client and a server handshake talk to each other in memory: the accept key, the chosen subprotocol and the bytes sent right behind each head all arrive intact.
#![cfg(feature = "getrandom")]

use rfc6455::handshake::{
    Accept, ClientHandshake, ClientRequest, Incoming, Limits, ServerHandshake, Status,
    UpgradeRequest, accept_key,
};

/// Moves the client's request to the server in `chunk`-sized pieces.
fn deliver_request(
    client: &ClientHandshake,
    extra: &[u8],
    chunk: usize,
) -> (ServerHandshake, UpgradeRequest) {
    let mut wire = client.request_bytes().to_vec();
    wire.extend_from_slice(extra);
    let mut server = ServerHandshake::new(Limits::default());
    let mut result = None;
    for piece in wire.chunks(chunk) {
        match server.receive(piece).expect("valid request") {
            Status::Partial => assert!(result.is_none()),
            Status::Complete(Incoming::Upgrade(request)) => {
                result.get_or_insert(request);
            }
            Status::Complete(Incoming::Plain(r)) => panic!("plain: {r:?}"),
        }
    }
    (server, result.expect("complete"))
}

#[test]
fn handshake_in_memory_with_subprotocol_and_leftovers() {
    for chunk in [1, 7, 64, 4096] {
        let request = ClientRequest::new("ws://localhost:9001/chat?room=7")
            .unwrap()
            .protocol("v2.chat")
            .protocol("chat")
            .origin("http://localhost:9001");
        let mut client = ClientHandshake::new(request).unwrap();
        // A client may pipeline its first masked frame behind the request.
        let client_frame = b"\x81\x85\x01\x02\x03\x04iguhn";
        let (server, request) = deliver_request(&client, client_frame, chunk);
        assert_eq!(request.path(), "/chat");
        assert_eq!(request.query_param("room").as_deref(), Some("7"));
        assert_eq!(request.header("host"), Some("localhost:9001"));
        assert_eq!(request.origin(), Some("http://localhost:9001"));
        assert_eq!(request.protocols(), ["v2.chat", "chat"]);
        assert_eq!(request.key(), client.key());
        assert_eq!(server.leftover(), client_frame);
        assert_eq!(server.buffered_len(), 0);

        let mut answer = request.accept(Accept::new().protocol("chat")).unwrap();
        let text = String::from_utf8(answer.clone()).unwrap();
        assert!(text.contains(&format!(
            "Sec-WebSocket-Accept: {}\r\n",
            accept_key(client.key().as_bytes())
        )));
        assert_eq!(
            client.expected_accept(),
            accept_key(client.key().as_bytes())
        );
        // The server's first frame may follow its 101 in the same segment.
        let server_frame = b"\x81\x02hi";
        answer.extend_from_slice(server_frame);

        let mut response = None;
        for piece in answer.chunks(chunk) {
            if let Status::Complete(r) = client.receive(piece).expect("valid answer") {
                response.get_or_insert(r);
            }
        }
        let response = response.expect("complete");
        assert_eq!(response.status(), 101);
        assert_eq!(response.protocol(), Some("chat"));
        assert!(response.extensions().is_empty());
        assert_eq!(client.leftover(), server_frame);
        assert_eq!(client.into_leftover(), server_frame);
        assert_eq!(server.into_leftover(), client_frame);
    }
}

#[test]
fn handshake_in_memory_without_subprotocol() {
    let client = ClientHandshake::new(ClientRequest::new("ws://127.0.0.1/").unwrap()).unwrap();
    let (server, request) = deliver_request(&client, b"", 4096);
    assert!(request.protocols().is_empty());
    assert!(server.leftover().is_empty());
    let answer = request
        .accept(Accept::new().header("Set-Cookie", "sid=1"))
        .unwrap();
    assert!(!String::from_utf8_lossy(&answer).contains("Sec-WebSocket-Protocol"));
    let mut client = client;
    let response = client.receive(&answer).unwrap().complete().unwrap();
    assert_eq!(response.protocol(), None);
    assert_eq!(response.header("set-cookie"), Some("sid=1"));
    assert!(client.leftover().is_empty());
}
