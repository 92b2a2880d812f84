//! Every valid request, and every valid response, fed at every split point (or in random pieces) parses to the same result, with the same leftover, as fed whole.

use proptest::prelude::*;
use rfc6455::handshake::{
    Accept, ClientHandshake, ClientRequest, HandshakeError, Incoming, Limits, ServerHandshake,
    Status,
};

/// Feeds `pieces` in order; returns the first complete result, the leftover,
/// and whether any call before the last piece was complete too early.
fn feed_server(pieces: &[&[u8]]) -> (Result<Incoming, HandshakeError>, Vec<u8>) {
    let mut server = ServerHandshake::new(Limits::default());
    let mut result = None;
    for piece in pieces {
        match server.receive(piece) {
            Ok(Status::Partial) => {}
            Ok(Status::Complete(incoming)) => {
                result.get_or_insert(Ok(incoming));
            }
            Err(error) => {
                result.get_or_insert(Err(error));
            }
        }
        assert!(server.buffered_len() <= Limits::default().max_header_bytes);
    }
    (
        result.expect("the whole request was fed"),
        server.into_leftover(),
    )
}

fn case(s: &str, upper: bool) -> String {
    if upper {
        s.to_ascii_uppercase()
    } else {
        s.to_ascii_lowercase()
    }
}

prop_compose! {
    /// A valid upgrade request, varied in path, query, header case and
    /// order, optional offers, extra headers, line endings, and followed by
    /// some bytes for the connection.
    fn valid_request()(
        path in "(/[a-z0-9._~-]{0,8}){1,3}",
        query in proptest::option::of("[a-z]{1,5}=[a-zA-Z0-9%+]{0,10}"),
        key in proptest::array::uniform16(any::<u8>()),
        upper in any::<bool>(),
        protocols in proptest::collection::vec("[a-z]{1,6}", 0..3),
        extension in proptest::option::of(Just("permessage-deflate; client_max_window_bits, x-y; a=\"1\"")),
        extra in proptest::collection::vec(("X-[A-Za-z]{1,8}", "[ -~]{0,20}"), 0..4),
        rotate in 0usize..6,
        bare_lf in any::<bool>(),
        after in proptest::collection::vec(any::<u8>(), 0..16),
    ) -> (Vec<u8>, usize) {
        use base64::Engine as _;
        let key = base64::engine::general_purpose::STANDARD.encode(key);
        let mut protocols = protocols;
        protocols.sort();
        protocols.dedup();
        let mut headers = vec![
            format!("{}: example.com", case("Host", upper)),
            format!("{}: WebSocket", case("Upgrade", upper)),
            format!("{}: keep-alive, Upgrade", case("Connection", upper)),
            format!("Sec-WebSocket-Key: {key}"),
            "Sec-WebSocket-Version: 13".to_owned(),
        ];
        if !protocols.is_empty() {
            headers.push(format!("Sec-WebSocket-Protocol: {}", protocols.join(", ")));
        }
        if let Some(extension) = extension {
            headers.push(format!("Sec-WebSocket-Extensions: {extension}"));
        }
        headers.extend(extra.iter().map(|(n, v)| format!("{n}: {}", v.trim())));
        let len = headers.len();
        headers.rotate_left(rotate % len);
        let eol = if bare_lf { "\n" } else { "\r\n" };
        let target = match query {
            Some(q) => format!("{path}?{q}"),
            None => path,
        };
        let mut text = format!("GET {target} HTTP/1.1{eol}");
        for header in headers {
            text.push_str(&header);
            text.push_str(eol);
        }
        text.push_str(eol);
        let head_len = text.len();
        let mut bytes = text.into_bytes();
        bytes.extend_from_slice(&after);
        (bytes, head_len)
    }
}

proptest! {
    #[test]
    fn every_split_point_gives_the_same_request((bytes, head_len) in valid_request()) {
        let (whole, whole_leftover) = feed_server(&[&bytes]);
        let whole = whole.expect("valid request");
        prop_assert!(matches!(&whole, Incoming::Upgrade(r) if r.http().head_len() == head_len));
        prop_assert_eq!(&whole_leftover[..], &bytes[head_len..]);
        for split in 0..=bytes.len() {
            let (a, b) = bytes.split_at(split);
            let (result, leftover) = feed_server(&[a, b]);
            prop_assert_eq!(result.as_ref(), Ok(&whole));
            prop_assert_eq!(&leftover, &whole_leftover);
        }
    }

    #[test]
    fn random_pieces_give_the_same_request(
        (bytes, _) in valid_request(),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..12),
    ) {
        let (whole, whole_leftover) = feed_server(&[&bytes]);
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c.index(bytes.len() + 1)).collect();
        cuts.sort();
        let mut pieces = Vec::new();
        let mut start = 0;
        for cut in cuts {
            pieces.push(&bytes[start..cut]);
            start = cut;
        }
        pieces.push(&bytes[start..]);
        let (result, leftover) = feed_server(&pieces);
        prop_assert_eq!(result, whole);
        prop_assert_eq!(leftover, whole_leftover);
    }

    #[test]
    fn every_split_point_gives_the_same_response(
        protocol in proptest::option::of("[a-z]{1,6}"),
        after in proptest::collection::vec(any::<u8>(), 0..8),
    ) {
        let mut request = ClientRequest::new("ws://example.com/").unwrap();
        if let Some(p) = &protocol {
            request = request.protocol(p.clone()).protocol("zz-other");
        }
        let new_client = || ClientHandshake::with_key(request.clone(), [7; 16]).unwrap();
        let wire = new_client().request_bytes().to_vec();
        let Ok(Status::Complete(Incoming::Upgrade(upgrade))) =
            ServerHandshake::new(Limits::default()).receive(&wire)
        else {
            panic!("not an upgrade");
        };
        let mut accept = Accept::new();
        if let Some(p) = &protocol {
            accept = accept.protocol(p.clone());
        }
        let mut answer = upgrade.accept(accept).unwrap();
        answer.extend_from_slice(&after);

        let mut whole_client = new_client();
        let whole = whole_client.receive(&answer).unwrap().complete().unwrap();
        prop_assert_eq!(whole.protocol(), protocol.as_deref());
        prop_assert_eq!(whole_client.leftover(), &after[..]);
        for split in 0..=answer.len() {
            let mut client = new_client();
            let first = client.receive(&answer[..split]).unwrap();
            let second = client.receive(&answer[split..]).unwrap();
            let response = first.complete().or(second.complete()).unwrap();
            prop_assert_eq!(&response, &whole);
            prop_assert_eq!(client.leftover(), &after[..]);
        }
    }
}
