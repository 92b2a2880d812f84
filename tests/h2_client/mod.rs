//! An HTTP/2 WebSocket client on the h2 crate, for the tests of the hyper
//! and axum adapters: extended CONNECT (RFC 8441) with `:protocol
//! websocket`, and the stream's DATA frames as `AsyncRead + AsyncWrite`.
#![allow(dead_code)]

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes};
use h2::{RecvStream, SendStream};
use rfc6455::handshake::{ClientHandshake, ClientRequest, HandshakeError};
use rfc6455::io::tokio::WebSocketStream;
use rfc6455::{Config, Connection, Role};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// An h2 stream as `AsyncRead + AsyncWrite`: DATA frames in, DATA frames
/// out, with h2's flow control.
pub struct H2Stream {
    send: SendStream<Bytes>,
    recv: RecvStream,
    buffered: Bytes,
}

impl AsyncRead for H2Stream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.buffered.is_empty() {
            match ready!(self.recv.poll_data(cx)) {
                None => return Poll::Ready(Ok(())),
                Some(Err(error)) => return Poll::Ready(Err(io::Error::other(error))),
                Some(Ok(data)) => {
                    let _ = self.recv.flow_control().release_capacity(data.len());
                    self.buffered = data;
                }
            }
        }
        let n = self.buffered.len().min(buf.remaining());
        buf.put_slice(&self.buffered[..n]);
        self.buffered.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for H2Stream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.send.reserve_capacity(data.len());
        match ready!(self.send.poll_capacity(cx)) {
            None => Poll::Ready(Err(io::ErrorKind::BrokenPipe.into())),
            Some(Err(error)) => Poll::Ready(Err(io::Error::other(error))),
            Some(Ok(0)) => {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            Some(Ok(n)) => {
                let n = n.min(data.len());
                let chunk = Bytes::copy_from_slice(&data[..n]);
                self.send
                    .send_data(chunk, false)
                    .map_err(io::Error::other)?;
                Poll::Ready(Ok(n))
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        let _ = self.send.send_data(Bytes::new(), true);
        Poll::Ready(Ok(()))
    }
}

/// An HTTP/2 connection with prior knowledge, once the server's SETTINGS
/// are in (the ping's answer comes after them), checked to allow extended
/// CONNECT (RFC 8441 section 3).
pub async fn connect(address: SocketAddr) -> h2::client::SendRequest<Bytes> {
    let tcp = TcpStream::connect(address).await.unwrap();
    let (send_request, mut connection) = h2::client::handshake(tcp).await.unwrap();
    let mut ping_pong = connection.ping_pong().expect("a ping handle");
    tokio::spawn(async move {
        let _ = connection.await;
    });
    ping_pong.ping(h2::Ping::opaque()).await.unwrap();
    let send_request = send_request.ready().await.unwrap();
    assert!(
        send_request.is_extended_connect_protocol_enabled(),
        "RFC 8441 section 3: the server announces extended CONNECT"
    );
    send_request
}

/// A WebSocket over HTTP/2 with our client's request and checks, and the
/// subprotocol the server chose; or the status of a refusal. The request
/// offers permessage-deflate when `config` has it.
pub async fn websocket(
    address: SocketAddr,
    request: ClientRequest,
    config: Config,
) -> Result<(WebSocketStream<H2Stream>, Option<String>), u16> {
    let mut send_request = connect(address).await;
    let request = match config.deflate {
        Some(deflate) => request.deflate(deflate),
        None => request,
    };
    let mut client = ClientHandshake::new(request).unwrap();
    let mut connect = client.http2_request().unwrap();
    connect
        .extensions_mut()
        .insert(h2::ext::Protocol::from_static("websocket"));
    let (response, send) = send_request.send_request(connect, false).unwrap();
    let response = response.await.unwrap();
    assert_eq!(response.version(), http::Version::HTTP_2);
    let checked = match client.check_http_response(&response) {
        Ok(checked) => checked,
        Err(HandshakeError::UnexpectedStatus(status)) => return Err(status),
        Err(error) => panic!("{error}"),
    };
    let protocol = checked.protocol().map(str::to_owned);
    let io = H2Stream {
        send,
        recv: response.into_body(),
        buffered: Bytes::new(),
    };
    let connection = Connection::with_deflate(Role::Client, config, checked.deflate());
    Ok((WebSocketStream::from_connection(io, connection), protocol))
}

/// An extended CONNECT to `path` that offers `Sec-WebSocket-Version:
/// version` and nothing else: the server's answer, for the refusals.
pub async fn connect_with_version(
    address: SocketAddr,
    path: &str,
    version: &str,
) -> http::Response<RecvStream> {
    let mut send_request = connect(address).await;
    let mut connect = http::Request::connect(format!("http://{address}{path}"))
        .version(http::Version::HTTP_2)
        .header("sec-websocket-version", version)
        .body(())
        .unwrap();
    connect
        .extensions_mut()
        .insert(h2::ext::Protocol::from_static("websocket"));
    let (response, _send) = send_request.send_request(connect, true).unwrap();
    response.await.unwrap()
}
