//! The adapters drive the connection's timers over real sockets on
//! 127.0.0.1: a peer process frozen with SIGSTOP is dropped within the idle
//! timeout (while a live one, answering pings, is kept), and a handshake
//! that trickles in one byte a second (slowloris) is ended by the
//! handshake timeout. Each test prints the time it measured.
#![cfg(all(unix, feature = "tokio"))]

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use rfc6455::handshake::ClientRequest;
use rfc6455::io::{Error, blocking::WebSocket, tokio::WebSocketStream};
use rfc6455::{Config, ProtocolError};

const KEEPALIVE: Duration = Duration::from_millis(400);
const IDLE: Duration = Duration::from_millis(1500);
/// What a loaded two-core machine may add to a deadline.
const MARGIN: Duration = Duration::from_secs(2);
/// The environment variable that turns this test binary into the peer.
const PEER_URL: &str = "RFC6455_TIMERS_PEER_URL";

fn server_config() -> Config {
    Config::default()
        .keepalive_interval(KEEPALIVE)
        .idle_timeout(IDLE)
        .close_timeout(Duration::from_secs(1))
}

/// Not a test: the peer process. The tests run this binary again with only
/// this function selected and the server's URL in the environment; it
/// connects and reads (answering pings) until the connection ends. SIGSTOP
/// freezes it, and only it.
#[test]
#[ignore = "run by the other tests as a separate process"]
fn peer_process() {
    let Ok(url) = std::env::var(PEER_URL) else {
        return;
    };
    let mut ws = WebSocket::connect(&url).expect("the peer connects");
    while let Ok(Some(_)) = ws.read() {}
}

/// The peer process, killed when dropped.
struct Peer(Child);

impl Peer {
    fn spawn(url: &str) -> Peer {
        let child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "peer_process", "--ignored", "--quiet"])
            .env(PEER_URL, url)
            .stdout(Stdio::null())
            .spawn()
            .expect("the test binary runs again as the peer");
        Peer(child)
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.0.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill {signal} failed");
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.signal("-CONT");
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// How the server's receiving loop ended, and when.
type Ended = (Result<(), Error>, Instant);

/// Lets the peer live for more than the idle timeout (so keepalive pings
/// and their pongs must be what keeps it), freezes it, and gives the time
/// from SIGSTOP until the server's read ended with the idle timeout.
fn stopped_peer_is_dropped(name: &str, url: &str, ended: mpsc::Receiver<Ended>) -> Duration {
    let peer = Peer::spawn(url);
    let alive = IDLE * 2;
    assert!(
        ended.recv_timeout(alive).is_err(),
        "{name}: a live peer answering pings was dropped"
    );
    peer.signal("-STOP");
    let stopped = Instant::now();
    let (result, at) = ended
        .recv_timeout(IDLE + MARGIN * 3)
        .unwrap_or_else(|_| panic!("{name}: a stopped peer was never dropped"));
    let after = at - stopped;
    assert!(
        matches!(result, Err(Error::Protocol(ProtocolError::IdleTimeout))),
        "{name}: ended with {result:?}"
    );
    eprintln!(
        "{name}: a peer stopped with SIGSTOP was dropped after {:.2} s (idle timeout {:.1} s, keepalive {:.1} s)",
        after.as_secs_f64(),
        IDLE.as_secs_f64(),
        KEEPALIVE.as_secs_f64()
    );
    assert!(
        after <= IDLE + MARGIN,
        "{name}: dropped only after {after:?}"
    );
    drop(peer);
    after
}

#[test]
fn blocking_server_drops_a_stopped_peer_within_the_idle_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let (tx, ended) = mpsc::channel();
    thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut ws = WebSocket::accept_with_config(stream, server_config(), |_| {
            Ok(rfc6455::handshake::Accept::new())
        })
        .unwrap();
        let result = loop {
            match ws.read() {
                Ok(Some(_)) => {}
                Ok(None) => break Ok(()),
                Err(error) => break Err(error),
            }
        };
        // After the error the connection is over.
        assert!(matches!(ws.read(), Ok(None)));
        let _ = tx.send((result, Instant::now()));
    });
    stopped_peer_is_dropped("blocking", &url, ended);
}

async fn tokio_listener() -> (tokio::net::TcpListener, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    (listener, url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_server_drops_a_stopped_peer_within_the_idle_timeout() {
    let (listener, url) = tokio_listener().await;
    let (tx, ended) = mpsc::channel();
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut ws = WebSocketStream::accept_with_config(stream, server_config(), |_| {
            Ok(rfc6455::handshake::Accept::new())
        })
        .await
        .unwrap();
        let result = loop {
            match ws.next().await {
                Some(Ok(_)) => {}
                None => break Ok(()),
                Some(Err(error)) => break Err(error),
            }
        };
        assert!(ws.next().await.is_none());
        let _ = tx.send((result, Instant::now()));
    });
    tokio::task::spawn_blocking(move || stopped_peer_is_dropped("tokio", &url, ended))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_read_half_drops_a_stopped_peer_within_the_idle_timeout() {
    let (listener, url) = tokio_listener().await;
    let (tx, ended) = mpsc::channel();
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let ws = WebSocketStream::accept_with_config(stream, server_config(), |_| {
            Ok(rfc6455::handshake::Accept::new())
        })
        .await
        .unwrap();
        // The writer is held but never used: the reader alone pings.
        let (mut read, _write) = ws.into_split();
        let result = loop {
            match read.next().await {
                Some(Ok(_)) => {}
                None => break Ok(()),
                Some(Err(error)) => break Err(error),
            }
        };
        let _ = tx.send((result, Instant::now()));
    });
    tokio::task::spawn_blocking(move || stopped_peer_is_dropped("tokio split", &url, ended))
        .await
        .unwrap();
}

/// Connects and sends the first bytes of a request one a second, from a
/// thread, until the server hangs up or `limit` bytes went.
fn slowloris(address: std::net::SocketAddr, limit: usize) -> thread::JoinHandle<usize> {
    thread::spawn(move || {
        let mut stream = TcpStream::connect(address).unwrap();
        let request = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n";
        let mut sent = 0;
        for byte in request.iter().take(limit) {
            if stream.write_all(&[*byte]).is_err() {
                break;
            }
            sent += 1;
            thread::sleep(Duration::from_secs(1));
        }
        sent
    })
}

const HANDSHAKE: Duration = Duration::from_secs(1);

fn check_slowloris(name: &str, result: Result<(), Error>, took: Duration) {
    assert!(
        matches!(result, Err(Error::HandshakeTimeout)),
        "{name}: {result:?}"
    );
    eprintln!(
        "{name}: a handshake sent one byte a second was ended after {:.2} s (handshake timeout {:.1} s)",
        took.as_secs_f64(),
        HANDSHAKE.as_secs_f64()
    );
    assert!(took >= HANDSHAKE, "{name}: ended early, after {took:?}");
    assert!(took <= HANDSHAKE + MARGIN, "{name}: ended after {took:?}");
}

#[test]
fn blocking_accept_ends_a_slowloris_handshake() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = slowloris(listener.local_addr().unwrap(), 6);
    let (stream, _) = listener.accept().unwrap();
    let start = Instant::now();
    let config = Config::default().handshake_timeout(HANDSHAKE);
    let result =
        WebSocket::accept_with_config(stream, config, |_| Ok(rfc6455::handshake::Accept::new()))
            .map(drop);
    check_slowloris("blocking accept", result, start.elapsed());
    // Dropped: the client's next bytes fail, well before its sixth.
    assert!(
        client.join().unwrap() < 6,
        "the server kept the socket open"
    );
}

#[tokio::test]
async fn tokio_accept_ends_a_slowloris_handshake() {
    let (listener, _) = tokio_listener().await;
    let client = slowloris(listener.local_addr().unwrap(), 6);
    let (stream, _) = listener.accept().await.unwrap();
    let start = Instant::now();
    let config = Config::default().handshake_timeout(HANDSHAKE);
    let result = WebSocketStream::accept_with_config(stream, config, |_| {
        Ok(rfc6455::handshake::Accept::new())
    })
    .await
    .map(drop);
    check_slowloris("tokio accept", result, start.elapsed());
    let sent = tokio::task::spawn_blocking(move || client.join().unwrap())
        .await
        .unwrap();
    assert!(sent < 6, "the server kept the socket open");
}

#[test]
fn blocking_connect_ends_when_the_server_never_answers() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let start = Instant::now();
    let request = ClientRequest::new(&url).unwrap();
    // The listener's backlog takes the connection; nobody reads it.
    let result = WebSocket::connect_with(request, Config::default().handshake_timeout(HANDSHAKE));
    check_slowloris("blocking connect", result.map(drop), start.elapsed());
    drop(listener);
}

#[tokio::test]
async fn tokio_connect_ends_when_the_server_never_answers() {
    let (listener, url) = tokio_listener().await;
    let start = Instant::now();
    let request = ClientRequest::new(&url).unwrap();
    let config = Config::default().handshake_timeout(HANDSHAKE);
    let result = WebSocketStream::connect_with(request, config).await;
    check_slowloris("tokio connect", result.map(drop), start.elapsed());
    drop(listener);
}

#[test]
fn the_default_handshake_timeout_is_ten_seconds() {
    assert_eq!(
        Config::default().handshake_timeout,
        Some(Duration::from_secs(10))
    );
}

#[tokio::test]
async fn a_read_half_ends_at_the_close_timeout_when_its_write_half_closed() {
    let (listener, url) = tokio_listener().await;
    let close = Duration::from_secs(1);
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        // No idle timeout and no keepalive: only the close timer can wake
        // the reader.
        let config = Config::default().close_timeout(close);
        let ws = WebSocketStream::accept_with_config(stream, config, |_| {
            Ok(rfc6455::handshake::Accept::new())
        })
        .await
        .unwrap();
        let (mut read, mut write) = ws.into_split();
        let reader = tokio::spawn(async move {
            let result = read.next().await;
            (result, Instant::now())
        });
        // Let the reader park on its read first.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let start = Instant::now();
        write
            .close(rfc6455::CloseCode::Normal, "bye")
            .await
            .unwrap();
        let (result, at) = reader.await.unwrap();
        (result, at - start)
    });
    // A client that never reads, so never answers the close.
    let _client = WebSocketStream::connect(&url).await.unwrap();
    let (result, took) = tokio::time::timeout(close + MARGIN * 2, server)
        .await
        .expect("the reader never woke for the close timeout")
        .unwrap();
    assert!(
        matches!(
            result,
            Some(Err(Error::Protocol(ProtocolError::CloseTimeout)))
        ),
        "{result:?}"
    );
    eprintln!(
        "tokio split: an unanswered close ended the reader after {:.2} s (close timeout {:.1} s)",
        took.as_secs_f64(),
        close.as_secs_f64()
    );
    assert!(took >= close && took <= close + MARGIN, "{took:?}");
}
