//! The echo servers of the echo and idle benches, one per column, each
//! written the way its crate's users write one.
//!
//! Every server accepts on a listener bound to `127.0.0.1:0`, prints the
//! address on its standard output (the parent reads it) and echoes every
//! text or binary message whole until the peer goes away. `TCP_NODELAY` is
//! set on every accepted socket. The tokio servers run on the same runtime:
//! multi-thread, [`WORKERS`] workers, one task per connection. The thread
//! servers run one thread per connection.

use std::io::{self, IoSlice, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Worker threads of every tokio server (and of the load generator).
pub const WORKERS: usize = 2;

/// The runtime of every tokio server and of the load generator: multi-thread,
/// [`WORKERS`] workers, I/O and time drivers on.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Bytes one read of the plain TCP references asks for.
const TCP_CHUNK: usize = 64 << 10;

/// A column: its name, as in the tables and on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Server {
    /// `rfc6455::io::tokio::WebSocketStream`: `recv` then `feed`; `recv`
    /// writes what is queued once the bytes read are used up.
    OursTokio,
    /// `rfc6455::io::blocking::WebSocket`, thread per connection: `read`
    /// then `write`; `read` writes what is queued once the bytes read are
    /// used up.
    OursBlocking,
    /// The sans-IO `Connection` by hand, thread per connection: one read,
    /// every event drained, every echo queued, one write.
    OursSansIo,
    /// tokio-tungstenite: `next()` then `send()`.
    TokioTungstenite,
    /// fastwebsockets behind a `FragmentCollector`: `read_frame` then
    /// `write_frame`.
    Fastwebsockets,
    /// tokio-websockets' `ServerBuilder`: `next()` then `send()`.
    TokioWebsockets,
    /// tungstenite, thread per connection: `read` then `send`.
    TungsteniteThreads,
    /// No framing, tokio: the handshake, then each read written back.
    TcpTokio,
    /// No framing, threads: the handshake, then each read written back.
    TcpThreads,
}

impl Server {
    /// Every column, in the tables' order.
    pub const ALL: [Server; 9] = [
        Server::OursTokio,
        Server::OursBlocking,
        Server::OursSansIo,
        Server::TokioTungstenite,
        Server::Fastwebsockets,
        Server::TokioWebsockets,
        Server::TungsteniteThreads,
        Server::TcpTokio,
        Server::TcpThreads,
    ];

    /// The column's name.
    pub fn name(self) -> &'static str {
        match self {
            Server::OursTokio => "ours-tokio",
            Server::OursBlocking => "ours-blocking",
            Server::OursSansIo => "ours-sansio-threads",
            Server::TokioTungstenite => "tokio-tungstenite",
            Server::Fastwebsockets => "fastwebsockets",
            Server::TokioWebsockets => "tokio-websockets",
            Server::TungsteniteThreads => "tungstenite-threads",
            Server::TcpTokio => "tcp-tokio",
            Server::TcpThreads => "tcp-threads",
        }
    }

    /// The column named `name`.
    pub fn from_name(name: &str) -> Option<Server> {
        Server::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The plain TCP references echo the client's frames as they are,
    /// masked.
    pub fn echoes_raw_bytes(self) -> bool {
        matches!(self, Server::TcpTokio | Server::TcpThreads)
    }

    /// Runs on tokio (else a thread per connection).
    pub fn is_tokio(self) -> bool {
        matches!(
            self,
            Server::OursTokio
                | Server::TokioTungstenite
                | Server::Fastwebsockets
                | Server::TokioWebsockets
                | Server::TcpTokio
        )
    }
}

/// Serves `server` on `127.0.0.1:0` forever, after printing the bound
/// address on standard output. The child process's entry point.
pub fn serve(server: Server) -> ! {
    crate::child::raise_open_files_limit();
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    println!("{}", listener.local_addr().expect("local address"));
    io::stdout().flush().expect("flush stdout");
    if server.is_tokio() {
        runtime().block_on(serve_tokio(server, listener));
        unreachable!("the accept loop never ends");
    }
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        stream.set_nodelay(true).expect("TCP_NODELAY");
        thread::spawn(move || {
            // A connection ends when the load generator drops it: errors
            // are its normal end.
            let _ = match server {
                Server::OursBlocking => ours_blocking(stream),
                Server::OursSansIo => ours_sans_io(stream),
                Server::TungsteniteThreads => tungstenite_threads(stream),
                Server::TcpThreads => tcp_threads(stream),
                _ => unreachable!("a tokio server"),
            };
        });
    }
    unreachable!("the accept loop never ends");
}

/// Serves ours on tokio ([`Server::OursTokio`]) with `config` (its
/// permessage-deflate mode, say) on `127.0.0.1:0` forever, after printing
/// the bound address on standard output, as [`serve`] does.
pub fn serve_ours_tokio(config: rfc6455::Config) -> ! {
    crate::child::raise_open_files_limit();
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    println!("{}", listener.local_addr().expect("local address"));
    io::stdout().flush().expect("flush stdout");
    runtime().block_on(accept_each(listener, |stream| {
        drop(tokio::spawn(ours_tokio_with(stream, config)));
    }));
    unreachable!("the accept loop never ends")
}

async fn serve_tokio(server: Server, listener: TcpListener) {
    accept_each(listener, |stream| {
        // One spawn per server, so that each task is the size of its own
        // future (a match inside one async block would size every task for
        // the largest server).
        match server {
            Server::OursTokio => drop(tokio::spawn(ours_tokio(stream))),
            Server::TokioTungstenite => drop(tokio::spawn(tokio_tungstenite(stream))),
            Server::Fastwebsockets => drop(tokio::spawn(fastwebsockets(stream))),
            Server::TokioWebsockets => drop(tokio::spawn(tokio_websockets(stream))),
            Server::TcpTokio => drop(tokio::spawn(tcp_tokio(stream))),
            _ => unreachable!("a thread server"),
        }
    })
    .await
}

/// Accepts on `listener` for ever, handing each connection, `TCP_NODELAY`
/// set, to `spawn`; a failed accept (no file left, say) is skipped.
async fn accept_each(listener: TcpListener, mut spawn: impl FnMut(tokio::net::TcpStream)) {
    listener
        .set_nonblocking(true)
        .expect("non-blocking listener");
    let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        stream.set_nodelay(true).expect("TCP_NODELAY");
        spawn(stream);
    }
}

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Ours on tokio with the default config, accepted as a user who sets
/// nothing writes it. The echo loop is written out here and in
/// [`ours_tokio_with`], not shared: with the loop in an `async fn` of its
/// own this task's future was 1,616 bytes, with a `Config` argument 1,040,
/// and as it is 928 (`sizes` below), which the idle bench measures.
pub(crate) async fn ours_tokio(stream: tokio::net::TcpStream) -> Result<(), BoxError> {
    let mut ws = rfc6455::io::tokio::WebSocketStream::accept(stream).await?;
    // As a user writes it: the echoes of one read leave in one write, made
    // by `recv` before it reads again.
    while let Some(message) = ws.recv().await {
        ws.feed(message?).await?;
    }
    Ok(())
}

/// [`ours_tokio`] with `config` (a permessage-deflate mode, a keepalive).
pub(crate) async fn ours_tokio_with(
    stream: tokio::net::TcpStream,
    config: rfc6455::Config,
) -> Result<(), BoxError> {
    use rfc6455::io::tokio::WebSocketStream;
    let mut ws = WebSocketStream::accept_with_config(stream, config, |_| {
        Ok(rfc6455::handshake::Accept::new())
    })
    .await?;
    while let Some(message) = ws.recv().await {
        ws.feed(message?).await?;
    }
    Ok(())
}

fn ours_blocking(stream: TcpStream) -> Result<(), BoxError> {
    use rfc6455::io::blocking::WebSocket;
    let mut ws = WebSocket::accept(stream)?;
    // As in examples/echo_server.rs: `write` only queues; `read` writes
    // the queue once the bytes read are used up.
    while let Some(message) = ws.read()? {
        ws.write(message)?;
    }
    Ok(())
}

fn ours_sans_io(mut stream: TcpStream) -> Result<(), BoxError> {
    use rfc6455::handshake::{Accept, Incoming, Limits, ServerHandshake, Status};
    use rfc6455::{Config, Connection, Event, Role};
    let mut handshake = ServerHandshake::new(Limits::default());
    let mut buf = vec![0u8; 8 << 10];
    let request = loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        match handshake.receive(&buf[..n])? {
            Status::Partial => continue,
            Status::Complete(Incoming::Upgrade(request)) => break request,
            Status::Complete(Incoming::Plain(_)) => return Err("not an upgrade".into()),
        }
    };
    stream.write_all(&request.accept(Accept::new())?)?;
    let mut connection = Connection::new(Role::Server, Config::default());
    connection.receive(handshake.leftover());
    loop {
        // Every event of the bytes read so far, every echo queued ...
        while let Some(event) = connection.poll_event()? {
            if let Event::Message(message) = event {
                connection.send(message)?;
            }
        }
        // ... then written at once.
        while !connection.transmit().is_empty() {
            let mut slices = [IoSlice::new(&[]); 16];
            let n = stream.write_vectored(connection.transmit().io_slices(&mut slices))?;
            connection.advance_transmit(n);
        }
        if connection.is_done() {
            return Ok(());
        }
        let n = stream.read(&mut buf)?;
        if n == 0 {
            connection.receive_eof();
        } else {
            connection.receive(&buf[..n]);
        }
    }
}

pub(crate) async fn tokio_tungstenite(stream: tokio::net::TcpStream) -> Result<(), BoxError> {
    let mut ws = tokio_tungstenite::accept_async(stream).await?;
    while let Some(message) = ws.next().await {
        let message = message?;
        if message.is_binary() || message.is_text() {
            ws.send(message).await?;
        }
    }
    Ok(())
}

pub(crate) async fn fastwebsockets(mut stream: tokio::net::TcpStream) -> Result<(), BoxError> {
    use fastwebsockets::{FragmentCollector, OpCode, Role, WebSocket};
    handshake_async(&mut stream).await?;
    let mut ws = FragmentCollector::new(WebSocket::after_handshake(stream, Role::Server));
    loop {
        let frame = ws.read_frame().await?;
        match frame.opcode {
            OpCode::Close => return Ok(()),
            OpCode::Text | OpCode::Binary => ws.write_frame(frame).await?,
            _ => {}
        }
    }
}

pub(crate) async fn tokio_websockets(stream: tokio::net::TcpStream) -> Result<(), BoxError> {
    let (_request, mut ws) = tokio_websockets::ServerBuilder::new()
        .accept(stream)
        .await?;
    while let Some(message) = ws.next().await {
        let message = message?;
        if message.is_binary() || message.is_text() {
            ws.send(message).await?;
        }
    }
    Ok(())
}

fn tungstenite_threads(stream: TcpStream) -> Result<(), BoxError> {
    let mut ws = tungstenite::accept(stream).map_err(|e| e.to_string())?;
    loop {
        let message = ws.read()?;
        if message.is_binary() || message.is_text() {
            ws.send(message)?;
        }
    }
}

async fn tcp_tokio(mut stream: tokio::net::TcpStream) -> Result<(), BoxError> {
    handshake_async(&mut stream).await?;
    let mut buf = vec![0u8; TCP_CHUNK];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        stream.write_all(&buf[..n]).await?;
    }
}

fn tcp_threads(mut stream: TcpStream) -> Result<(), BoxError> {
    handshake_blocking(&mut stream)?;
    let mut buf = vec![0u8; TCP_CHUNK];
    loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        stream.write_all(&buf[..n])?;
    }
}

/// The 101 answer to a request head, or an error if it has no key. The
/// load generator sends nothing after its head before this answer, so
/// nothing read is left over.
fn answer(head: &[u8]) -> io::Result<Vec<u8>> {
    let head = std::str::from_utf8(head).map_err(io::Error::other)?;
    let key = head
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("sec-websocket-key"))
        .map(|(_, value)| value.trim())
        .ok_or_else(|| io::Error::other("no Sec-WebSocket-Key"))?;
    Ok(format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        rfc6455::handshake::accept_key(key.as_bytes())
    )
    .into_bytes())
}

/// Reads a request head (up to the blank line) and answers 101: the
/// hand-written upgrade of fastwebsockets and the TCP references.
pub(crate) async fn handshake_async(stream: &mut tokio::net::TcpStream) -> io::Result<()> {
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    while !head.ends_with(b"\r\n\r\n") {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        head.extend_from_slice(&buf[..n]);
    }
    stream.write_all(&answer(&head)?).await
}

/// [`handshake_async`] on a blocking stream.
fn handshake_blocking(stream: &mut TcpStream) -> io::Result<()> {
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    while !head.ends_with(b"\r\n\r\n") {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        head.extend_from_slice(&buf[..n]);
    }
    stream.write_all(&answer(&head)?)
}

#[cfg(test)]
mod tests {
    use std::mem::{size_of, size_of_val};

    /// What an idle connection of each tokio server holds in its task:
    /// the size of the future spawned per connection, and of ours' parts.
    /// `cargo test --release --lib sizes -- --nocapture` prints them.
    #[test]
    fn sizes_of_the_tasks() {
        use rfc6455::io::tokio::WebSocketStream;
        println!("TcpStream: {} B", size_of::<tokio::net::TcpStream>());
        println!(
            "WebSocketStream<TcpStream>: {} B",
            size_of::<WebSocketStream<tokio::net::TcpStream>>()
        );
        println!("Connection: {} B", size_of::<rfc6455::Connection>());
        println!(
            "WebSocketStream::accept future: {} B",
            future_size(|s| size_of_val(&WebSocketStream::accept(s)))
        );
        let ours = future_size(|s| size_of_val(&super::ours_tokio(s)));
        println!("ours-tokio task future: {ours} B");
        assert!(ours >= size_of::<WebSocketStream<tokio::net::TcpStream>>());
        println!(
            "tokio-tungstenite task future: {} B",
            future_size(|s| size_of_val(&super::tokio_tungstenite(s)))
        );
        println!(
            "fastwebsockets task future: {} B",
            future_size(|s| size_of_val(&super::fastwebsockets(s)))
        );
        println!(
            "tokio-websockets task future: {} B",
            future_size(|s| size_of_val(&super::tokio_websockets(s)))
        );
    }

    /// `size` of a server's future over an accepted stream.
    fn future_size(size: impl Fn(tokio::net::TcpStream) -> usize) -> usize {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let _client = tokio::net::TcpStream::connect(listener.local_addr().unwrap())
                .await
                .unwrap();
            let (stream, _) = listener.accept().await.unwrap();
            size(stream)
        })
    }
}
