//! permessage-deflate negotiation (RFC 7692 sections 5 and 7.1) through the
//! handshake: offers in, the server's answer or its decline out, and the
//! client's checks of the answer.
#![cfg(feature = "deflate")]

use rfc6455::deflate::{DeflateConfig, NegotiationError};
use rfc6455::handshake::{
    Accept, ClientHandshake, ClientRequest, HandshakeError, Incoming, Limits, ServerHandshake,
    Status,
};

/// The server's `Sec-WebSocket-Extensions` answer to these request headers,
/// `None` when it declines (the 101 then carries no such header).
fn answer(offer_headers: &[&str], config: DeflateConfig) -> Option<String> {
    let mut request = String::from(
        "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n",
    );
    for value in offer_headers {
        request.push_str(&format!("Sec-WebSocket-Extensions: {value}\r\n"));
    }
    request.push_str("\r\n");
    let mut server = ServerHandshake::new(Limits::default());
    let Ok(Status::Complete(Incoming::Upgrade(upgrade))) = server.receive(request.as_bytes())
    else {
        panic!("{offer_headers:?}: not an upgrade");
    };
    let agreed = upgrade.negotiate_deflate(&config);
    let bytes = upgrade.accept(Accept::new().deflate(agreed)).unwrap();
    let text = String::from_utf8(bytes).unwrap();
    let header = text
        .lines()
        .find_map(|l| l.strip_prefix("Sec-WebSocket-Extensions: "))
        .map(str::to_owned);
    assert_eq!(header, agreed.map(|p| p.to_string()));
    header
}

#[test]
fn server_answers() {
    let default = DeflateConfig::default;
    let pmd = Some("permessage-deflate");
    let table: Vec<(&[&str], DeflateConfig, Option<&str>)> = vec![
        // What browsers offer.
        (
            &["permessage-deflate; client_max_window_bits"],
            default(),
            pmd,
        ),
        (&["permessage-deflate"], default(), pmd),
        // Parameters of the offer are honoured.
        (
            &["permessage-deflate; server_no_context_takeover; client_no_context_takeover"],
            default(),
            Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover"),
        ),
        (
            &["permessage-deflate; server_max_window_bits=10"],
            default(),
            Some("permessage-deflate; server_max_window_bits=10"),
        ),
        (
            &["permessage-deflate; server_max_window_bits=\"9\""],
            default(),
            Some("permessage-deflate; server_max_window_bits=9"),
        ),
        (
            &["permessage-deflate; server_max_window_bits=8"],
            default(),
            Some("permessage-deflate; server_max_window_bits=8"),
        ),
        (
            &["permessage-deflate; client_max_window_bits=12"],
            default(),
            Some("permessage-deflate; client_max_window_bits=12"),
        ),
        // The server's own wishes.
        (
            &["permessage-deflate; client_max_window_bits"],
            default()
                .server_no_context_takeover(true)
                .server_max_window_bits(11)
                .client_max_window_bits(Some(10)),
            Some(
                "permessage-deflate; server_no_context_takeover; server_max_window_bits=11; \
                 client_max_window_bits=10",
            ),
        ),
        // Without client_max_window_bits in the offer the client cannot be
        // limited, and the answer does not name it.
        (
            &["permessage-deflate"],
            default().client_max_window_bits(Some(9)),
            pmd,
        ),
        // The smaller of the offer's and the config's server window.
        (
            &["permessage-deflate; server_max_window_bits=12"],
            default().server_max_window_bits(10),
            Some("permessage-deflate; server_max_window_bits=10"),
        ),
        // Other extensions are skipped.
        (
            &["x-webkit-deflate-frame, permessage-deflate"],
            default(),
            pmd,
        ),
        (&["x-foo"], default(), None),
        (&[], default(), None),
        // Invalid offers are declined, and there is nothing else to try.
        (
            &["permessage-deflate; server_max_window_bits=7"],
            default(),
            None,
        ),
        (
            &["permessage-deflate; server_max_window_bits=16"],
            default(),
            None,
        ),
        (
            &["permessage-deflate; server_max_window_bits=08"],
            default(),
            None,
        ),
        (
            &["permessage-deflate; server_max_window_bits=010"],
            default(),
            None,
        ),
        (
            &["permessage-deflate; server_max_window_bits=+9"],
            default(),
            None,
        ),
        (
            &["permessage-deflate; server_max_window_bits"],
            default(),
            None,
        ),
        (
            &["permessage-deflate; client_max_window_bits=7"],
            default(),
            None,
        ),
        (
            &["permessage-deflate; client_max_window_bits=0"],
            default(),
            None,
        ),
        (
            &["permessage-deflate; client_max_window_bits=09"],
            default(),
            None,
        ),
        (
            &["permessage-deflate; server_no_context_takeover=1"],
            default(),
            None,
        ),
        (
            &["permessage-deflate; client_no_context_takeover=true"],
            default(),
            None,
        ),
        (
            &["permessage-deflate; server_no_context_takeover; server_no_context_takeover"],
            default(),
            None,
        ),
        (
            &["permessage-deflate; client_max_window_bits; client_max_window_bits=10"],
            default(),
            None,
        ),
        (&["permessage-deflate; mystery"], default(), None),
        // The first acceptable offer wins: bad ones before it are declined,
        // in one header or across several.
        (
            &[
                "permessage-deflate; server_max_window_bits=99, permessage-deflate; unknown, \
               permessage-deflate; server_max_window_bits=11, permessage-deflate",
            ],
            default(),
            Some("permessage-deflate; server_max_window_bits=11"),
        ),
        (
            &[
                "permessage-deflate; client_no_context_takeover=x",
                "x-foo, permessage-deflate; client_no_context_takeover",
                "permessage-deflate",
            ],
            default(),
            Some("permessage-deflate; client_no_context_takeover"),
        ),
    ];
    for (offers, config, expected) in table {
        assert_eq!(
            answer(offers, config).as_deref(),
            expected,
            "offers {offers:?}"
        );
    }
}

#[test]
fn answering_an_extension_not_offered_is_refused() {
    let request = "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    let mut server = ServerHandshake::new(Limits::default());
    let Ok(Status::Complete(Incoming::Upgrade(upgrade))) = server.receive(request.as_bytes())
    else {
        panic!("not an upgrade");
    };
    let params = Some(rfc6455::deflate::DeflateParams::default());
    assert_eq!(
        upgrade.accept(Accept::new().deflate(params)),
        Err(rfc6455::handshake::BuildError::ExtensionNotOffered(
            "permessage-deflate"
        ))
    );
}

/// Runs a client handshake offering `config` against a 101 whose
/// extension headers are `answers`.
fn client(
    config: DeflateConfig,
    answers: &[&str],
) -> (
    String,
    Result<Option<rfc6455::deflate::DeflateParams>, HandshakeError>,
) {
    let request = ClientRequest::new("ws://h/").unwrap().deflate(config);
    let mut handshake = ClientHandshake::with_key(request, *b"the sample nonce").unwrap();
    let sent = String::from_utf8(handshake.request_bytes().to_vec()).unwrap();
    let offer = sent
        .lines()
        .find_map(|l| l.strip_prefix("Sec-WebSocket-Extensions: "))
        .unwrap()
        .to_owned();
    let mut response = String::from(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n",
    );
    for answer in answers {
        response.push_str(&format!("Sec-WebSocket-Extensions: {answer}\r\n"));
    }
    response.push_str("\r\n");
    let result = handshake
        .receive(response.as_bytes())
        .map(|status| status.complete().unwrap().deflate());
    (offer, result)
}

#[test]
fn client_offers_what_its_config_says() {
    let default = DeflateConfig::default;
    for (config, offer) in [
        (default(), "permessage-deflate; client_max_window_bits"),
        (
            default().client_no_context_takeover(true),
            "permessage-deflate; client_no_context_takeover; client_max_window_bits",
        ),
        (
            default()
                .server_no_context_takeover(true)
                .server_max_window_bits(10)
                .client_max_window_bits(Some(9)),
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=10; \
             client_max_window_bits=9",
        ),
        (default().client_max_window_bits(None), "permessage-deflate"),
    ] {
        assert_eq!(client(config, &[]).0, offer);
    }
}

#[test]
fn client_accepts_valid_answers() {
    let default = DeflateConfig::default;
    // Declined: no compression, no error.
    assert_eq!(client(default(), &[]).1, Ok(None));
    let params = client(default(), &["permessage-deflate"])
        .1
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            params.client_max_window_bits(),
            params.server_max_window_bits()
        ),
        (15, 15)
    );
    let params = client(
        default(),
        &["permessage-deflate; server_no_context_takeover; client_max_window_bits=9; server_max_window_bits=8"],
    )
    .1
    .unwrap()
    .unwrap();
    assert!(params.server_no_context_takeover());
    assert!(!params.client_no_context_takeover());
    assert_eq!(params.client_max_window_bits(), 9);
    assert_eq!(params.server_max_window_bits(), 8);
    // Offering client_no_context_takeover is a promise kept even when the
    // server does not echo it.
    let params = client(
        default().client_no_context_takeover(true),
        &["permessage-deflate"],
    )
    .1
    .unwrap()
    .unwrap();
    assert!(params.client_no_context_takeover());
}

#[test]
fn client_refuses_invalid_answers() {
    use NegotiationError::*;
    let default = DeflateConfig::default;
    let table: Vec<(DeflateConfig, &[&str], HandshakeError)> = vec![
        (
            default(),
            &["x-webkit-deflate-frame"],
            HandshakeError::UnofferedExtension("x-webkit-deflate-frame".into()),
        ),
        (
            default().client_max_window_bits(None),
            &["permessage-deflate; client_max_window_bits=10"],
            HandshakeError::Deflate(UnofferedParameter("client_max_window_bits")),
        ),
        (
            default().client_max_window_bits(Some(10)),
            &["permessage-deflate; client_max_window_bits=11"],
            HandshakeError::Deflate(WindowTooLarge("client_max_window_bits")),
        ),
        (
            default(),
            &["permessage-deflate; client_max_window_bits"],
            HandshakeError::Deflate(InvalidValue("client_max_window_bits")),
        ),
        (
            default(),
            &["permessage-deflate; server_max_window_bits"],
            HandshakeError::Deflate(InvalidValue("server_max_window_bits")),
        ),
        (
            default(),
            &["permessage-deflate; server_max_window_bits=7"],
            HandshakeError::Deflate(InvalidValue("server_max_window_bits")),
        ),
        (
            default(),
            &["permessage-deflate; server_max_window_bits=016"],
            HandshakeError::Deflate(InvalidValue("server_max_window_bits")),
        ),
        (
            default(),
            &["permessage-deflate; server_no_context_takeover=1"],
            HandshakeError::Deflate(InvalidValue("server_no_context_takeover")),
        ),
        (
            default(),
            &["permessage-deflate; client_no_context_takeover=\"x\""],
            HandshakeError::Deflate(InvalidValue("client_no_context_takeover")),
        ),
        (
            default(),
            &["permessage-deflate; client_no_context_takeover; client_no_context_takeover"],
            HandshakeError::Deflate(RepeatedParameter("client_no_context_takeover")),
        ),
        (
            default(),
            &["permessage-deflate; foo"],
            HandshakeError::Deflate(UnknownParameter("foo".into())),
        ),
        (
            default(),
            &["permessage-deflate", "permessage-deflate"],
            HandshakeError::Deflate(RepeatedExtension),
        ),
        (
            default().server_max_window_bits(10),
            &["permessage-deflate; server_max_window_bits=12"],
            HandshakeError::Deflate(WindowTooLarge("server_max_window_bits")),
        ),
        (
            default().server_max_window_bits(10),
            &["permessage-deflate"],
            HandshakeError::Deflate(MissingParameter("server_max_window_bits")),
        ),
        (
            default().server_no_context_takeover(true),
            &["permessage-deflate"],
            HandshakeError::Deflate(MissingParameter("server_no_context_takeover")),
        ),
    ];
    for (config, answers, error) in table {
        let (_, result) = client(config, answers);
        assert_eq!(result, Err(error.clone()), "{answers:?}");
        assert_eq!(error.status(), 502);
    }
}

/// Shared mode (`DeflateConfig::shared`): the server answers both
/// `*_no_context_takeover` parameters whatever the offer had (RFC 7692
/// sections 7.1.1.1 and 7.1.1.2 let it add them), and keeps the offer's
/// window parameters.
#[test]
fn shared_mode_answers_no_context_takeover_both_ways() {
    let both = "permessage-deflate; server_no_context_takeover; client_no_context_takeover";
    let shared = DeflateConfig::shared;
    let table: Vec<(&[&str], Option<String>)> = vec![
        // An offer without parameters.
        (&["permessage-deflate"], Some(both.to_owned())),
        // What Chromium and Firefox offer: client_max_window_bits without a
        // value, which the answer need not name at 15 bits.
        (
            &["permessage-deflate; client_max_window_bits"],
            Some(both.to_owned()),
        ),
        // Parameters the offer already had are answered once each.
        (
            &["permessage-deflate; server_no_context_takeover"],
            Some(both.to_owned()),
        ),
        (
            &["permessage-deflate; client_no_context_takeover; server_no_context_takeover"],
            Some(both.to_owned()),
        ),
        // A window the offer asked for is still honoured.
        (
            &["permessage-deflate; server_max_window_bits=10; client_max_window_bits"],
            Some(format!("{both}; server_max_window_bits=10")),
        ),
        // An invalid offer is still declined.
        (&["permessage-deflate; server_max_window_bits=16"], None),
    ];
    for (offer, expected) in table {
        assert_eq!(answer(offer, shared()), expected, "{offer:?}");
    }
    // Shared mode with a smaller client window asks for it where allowed.
    assert_eq!(
        answer(
            &["permessage-deflate; client_max_window_bits"],
            shared().client_max_window_bits(Some(10))
        ),
        Some(format!("{both}; client_max_window_bits=10"))
    );
}

/// Dedicated mode at a chosen window: the server answers that window for
/// itself and, when the offer allows it, for the client (section 7.1.2).
#[test]
fn dedicated_mode_answers_its_windows() {
    let dedicated = DeflateConfig::dedicated;
    assert_eq!(
        answer(
            &["permessage-deflate; client_max_window_bits"],
            dedicated(9)
        ),
        Some("permessage-deflate; server_max_window_bits=9; client_max_window_bits=9".to_owned())
    );
    // Without client_max_window_bits in the offer the server cannot limit
    // the client (section 7.1.2.2).
    assert_eq!(
        answer(&["permessage-deflate"], dedicated(12)),
        Some("permessage-deflate; server_max_window_bits=12".to_owned())
    );
    assert_eq!(
        answer(
            &["permessage-deflate; client_max_window_bits"],
            dedicated(15)
        ),
        Some("permessage-deflate".to_owned())
    );
}

/// A client in shared mode offers both parameters, accepts an answer with
/// both, holds itself to client_no_context_takeover even if the answer
/// leaves it out, and refuses an answer without server_no_context_takeover.
#[test]
fn a_client_in_shared_mode() {
    let (offer, result) = client(
        DeflateConfig::shared(),
        &["permessage-deflate; server_no_context_takeover; client_no_context_takeover"],
    );
    assert_eq!(
        offer,
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
         client_max_window_bits"
    );
    let params = result.unwrap().unwrap();
    assert!(params.server_no_context_takeover() && params.client_no_context_takeover());
    let params = client(
        DeflateConfig::shared(),
        &["permessage-deflate; server_no_context_takeover"],
    )
    .1
    .unwrap()
    .unwrap();
    assert!(params.client_no_context_takeover());
    let refused = client(DeflateConfig::shared(), &["permessage-deflate"]).1;
    assert!(
        matches!(
            refused,
            Err(HandshakeError::Deflate(NegotiationError::MissingParameter(
                "server_no_context_takeover"
            )))
        ),
        "{refused:?}"
    );
}
