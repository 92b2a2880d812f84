//! A `wss://` echo server: the tokio adapter over tokio-rustls, with a
//! self-signed certificate for `localhost` and `127.0.0.1` made at start.
//!
//! ```text
//! cargo run --example wss_echo --features rustls [ADDRESS]   # default 127.0.0.1:9003
//! ```
//!
//! The server side needs no TLS code from this crate: a
//! `tokio_rustls::server::TlsStream` is an `AsyncRead + AsyncWrite` stream,
//! and `WebSocketStream::accept` takes it like a `TcpStream`. The certificate
//! is printed as PEM; a client trusts it by adding it to the roots of its
//! `ClientConfig` and calling `WebSocketStream::connect_tls_with`.

use std::io;
use std::sync::Arc;

use futures_util::StreamExt;
use rcgen::{CertifiedKey, generate_simple_self_signed};
use rfc6455::io::Error;
use rfc6455::io::tokio::WebSocketStream;
use rfc6455::io::tokio::rustls::ServerConfig;
use rfc6455::io::tokio::rustls::crypto::ring;
use rfc6455::io::tokio::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rfc6455::io::tokio::tokio_rustls::TlsAcceptor;
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> io::Result<()> {
    let address = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9003".into());
    let (certificate, pem, key) = self_signed();
    println!("{pem}");
    let listener = TcpListener::bind(&address).await?;
    eprintln!("wss echo server on wss://{address}/ (the certificate above is self-signed)");
    serve(listener, acceptor(certificate, key)?).await
}

/// A certificate for `localhost` and `127.0.0.1`: DER, PEM, and its key.
pub fn self_signed() -> (CertificateDer<'static>, String, PrivateKeyDer<'static>) {
    let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    let CertifiedKey { cert, key_pair } =
        generate_simple_self_signed(names).expect("rcgen makes a certificate");
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_pair.serialize_der()));
    (cert.der().clone(), cert.pem(), key)
}

/// A TLS acceptor serving `certificate`, on the ring provider.
pub fn acceptor(
    certificate: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
) -> io::Result<TlsAcceptor> {
    let config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .and_then(|builder| {
            builder
                .with_no_client_auth()
                .with_single_cert(vec![certificate], key)
        })
        .map_err(io::Error::other)?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Accepts TLS, then the WebSocket inside it, and echoes every message.
pub async fn serve(listener: TcpListener, acceptor: TlsAcceptor) -> io::Result<()> {
    loop {
        let (tcp, _) = listener.accept().await?;
        tcp.set_nodelay(true)?;
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let tls = match acceptor.accept(tcp).await {
                Ok(tls) => tls,
                Err(error) => return eprintln!("TLS failed: {error}"),
            };
            // The same call as over TCP: the server side is generic.
            let mut ws = match WebSocketStream::accept(tls).await {
                Ok(ws) => ws,
                Err(error) => return eprintln!("handshake failed: {error}"),
            };
            // `feed` queues the echo; `next` writes the queue once the
            // bytes read are used up.
            while let Some(message) = ws.next().await {
                match message {
                    Ok(message) => {
                        if ws.feed(message).await.is_err() {
                            break;
                        }
                    }
                    Err(Error::Protocol(_)) => {}
                    Err(_) => break,
                }
            }
        });
    }
}
