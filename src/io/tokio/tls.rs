//! `wss://` for the tokio adapter (feature `rustls`): the client side through
//! tokio-rustls. The server side needs nothing from here: a
//! `tokio_rustls::server::TlsStream` is an `AsyncRead + AsyncWrite` stream
//! like any other, for [`WebSocketStream::accept`].

use std::io;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use ::tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use ::tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::crypto::{CryptoProvider, ring};
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

use super::WebSocketStream;
use crate::Config;
use crate::handshake::{BuildError, ClientRequest};
use crate::io::Error;

/// The stream of a connection opened by [`WebSocketStream::connect_tls`]:
/// TCP for `ws://`, TLS over TCP for `wss://`.
#[cfg_attr(docsrs, doc(cfg(feature = "rustls")))]
#[derive(Debug)]
#[non_exhaustive]
pub enum MaybeTlsStream {
    /// A `ws://` connection.
    Plain(TcpStream),
    /// A `wss://` connection.
    Rustls(Box<TlsStream<TcpStream>>),
}

/// The [`ClientConfig`] that `wss://` uses unless given one: the Mozilla
/// roots of the `webpki-roots` crate, TLS 1.2 and 1.3, no client
/// certificate, no ALPN.
///
/// The roots ship inside the binary, so a `wss://` client works the same
/// on every platform and in a container without a CA bundle. To trust the
/// system's store, a private CA or a test certificate, build a
/// `ClientConfig` (this module re-exports [`rustls`](tokio_rustls::rustls))
/// and pass it to [`WebSocketStream::connect_tls_with`]. The crypto provider
/// is the process default if one is installed, else ring.
#[cfg_attr(docsrs, doc(cfg(feature = "rustls")))]
pub fn default_client_config() -> Result<Arc<ClientConfig>, Error> {
    static DEFAULT: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    if let Some(config) = DEFAULT.get() {
        return Ok(config.clone());
    }
    let provider = CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(ring::default_provider()));
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(DEFAULT.get_or_init(|| Arc::new(config)).clone())
}

#[cfg_attr(docsrs, doc(cfg(feature = "rustls")))]
impl WebSocketStream<MaybeTlsStream> {
    /// Connects to a `ws://` or `wss://` URL and runs the client handshake,
    /// with the default [`Config`] and, for `wss://`, the
    /// [default TLS configuration](default_client_config).
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), rfc6455::io::Error> {
    /// use rfc6455::Message;
    /// use rfc6455::io::tokio::WebSocketStream;
    ///
    /// let mut ws = WebSocketStream::connect_tls("wss://echo.example.com/").await?;
    /// ws.send(Message::text("hello")).await?;
    /// let echo = ws.recv().await;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn connect_tls(url: &str) -> Result<Self, Error> {
        Self::connect_tls_with(ClientRequest::new(url)?, Config::default(), None).await
    }

    /// Connects for `request` (URL, protocols, headers), with TLS for a
    /// `wss://` URL through `tls` (or the [default](default_client_config)),
    /// and runs the client handshake. The server name sent (SNI) and checked
    /// against the certificate is [`ClientRequest::host`]. `TCP_NODELAY` is
    /// set.
    ///
    /// The handshake is HTTP/1.1: a `tls` that offers ALPN must offer
    /// `http/1.1`, and a server that picks another protocol is refused.
    pub async fn connect_tls_with(
        request: ClientRequest,
        config: Config,
        tls: Option<Arc<ClientConfig>>,
    ) -> Result<Self, Error> {
        let tcp = TcpStream::connect((request.host(), request.port())).await?;
        tcp.set_nodelay(true)?;
        if !request.is_secure() {
            return Self::client(MaybeTlsStream::Plain(tcp), request, config).await;
        }
        let tls = match tls {
            Some(tls) => tls,
            None => default_client_config()?,
        };
        let name = ServerName::try_from(request.host().to_owned())
            .map_err(|_| BuildError::InvalidUrl("the host is not a valid TLS server name"))?;
        let stream = TlsConnector::from(tls).connect(name, tcp).await?;
        if let Some(alpn) = stream.get_ref().1.alpn_protocol()
            && alpn != b"http/1.1"
        {
            let message = "the server chose an ALPN protocol other than http/1.1";
            return Err(io::Error::new(io::ErrorKind::InvalidData, message).into());
        }
        Self::client(MaybeTlsStream::Rustls(Box::new(stream)), request, config).await
    }
}

impl AsyncRead for MaybeTlsStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            MaybeTlsStream::Rustls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for MaybeTlsStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            MaybeTlsStream::Rustls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            MaybeTlsStream::Rustls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            MaybeTlsStream::Plain(s) => s.is_write_vectored(),
            MaybeTlsStream::Rustls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) => Pin::new(s).poll_flush(cx),
            MaybeTlsStream::Rustls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            MaybeTlsStream::Rustls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
