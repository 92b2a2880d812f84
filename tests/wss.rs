//! `wss://` on 127.0.0.1 (feature `rustls`): the wss_echo example's server
//! with a certificate made at test time, and our client through
//! `connect_tls_with`; the default roots refuse that certificate.
#![cfg(feature = "rustls")]

#[path = "../examples/wss_echo.rs"]
#[allow(dead_code)]
mod wss_echo;

use std::sync::Arc;

use rfc6455::handshake::{BuildError, ClientRequest};
use rfc6455::io::Error;
use rfc6455::io::tokio::rustls::crypto::ring;
use rfc6455::io::tokio::rustls::{ClientConfig, RootCertStore};
use rfc6455::io::tokio::{MaybeTlsStream, WebSocketStream};
use rfc6455::{CloseCode, Config, Message};
use tokio::net::TcpListener;

async fn start() -> (u16, ClientConfig) {
    let (certificate, _pem, key) = wss_echo::self_signed();
    let acceptor = wss_echo::acceptor(certificate.clone(), key).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(wss_echo::serve(listener, acceptor));
    let mut roots = RootCertStore::empty();
    roots.add(certificate).unwrap();
    let client = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    (port, client)
}

#[tokio::test]
async fn wss_echo_with_a_self_signed_certificate() {
    let (port, tls) = start().await;
    let tls = Arc::new(tls);
    // Both names of the certificate: a DNS name and an IP address.
    for host in ["localhost", "127.0.0.1"] {
        let request = ClientRequest::new(&format!("wss://{host}:{port}/echo")).unwrap();
        let mut ws =
            WebSocketStream::connect_tls_with(request, Config::default(), Some(tls.clone()))
                .await
                .unwrap();
        assert!(matches!(ws.get_ref(), MaybeTlsStream::Rustls(_)));
        let (_, session) = match ws.get_ref() {
            MaybeTlsStream::Rustls(stream) => stream.get_ref(),
            _ => unreachable!(),
        };
        assert!(session.protocol_version().is_some(), "TLS is up");
        for message in [
            Message::text("hello over TLS"),
            Message::binary(vec![42u8; 100_000]),
        ] {
            ws.send(message.clone()).await.unwrap();
            assert_eq!(ws.recv().await.unwrap().unwrap(), message);
        }
        ws.close(CloseCode::Normal, "").await.unwrap();
        assert!(ws.recv().await.is_none());
        assert_eq!(ws.peer_close().map(|c| c.code()), Some(CloseCode::Normal));
    }
}

#[tokio::test]
async fn the_default_roots_refuse_a_self_signed_certificate() {
    let (port, _) = start().await;
    let error = WebSocketStream::connect_tls(&format!("wss://localhost:{port}/"))
        .await
        .unwrap_err();
    let Error::Io(error) = error else {
        panic!("{error}");
    };
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidData, "{error}");
    assert!(error.to_string().contains("certificate"), "{error}");
}

#[tokio::test]
async fn plain_connect_refuses_wss_rather_than_send_in_clear() {
    let (port, _) = start().await;
    let error = WebSocketStream::connect(&format!("wss://127.0.0.1:{port}/"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, Error::Build(BuildError::InvalidUrl(_))),
        "{error}"
    );
}
