//! The blocking adapter over real sockets on 127.0.0.1: handshakes, answers
//! sent by a reader that never writes, and non-blocking sockets and read
//! timeouts that lose no state.
#![cfg(feature = "std")]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;

use rfc6455::handshake::{Accept, ClientHandshake, ClientRequest, HandshakeError, Reject, Status};
use rfc6455::io::{Error, blocking::WebSocket};
use rfc6455::{CloseCode, Config, Connection, Event, Message, ProtocolError, Role};

/// A listener and the `ws://` URL that reaches it.
fn listen() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    (listener, url)
}

/// A client driven by hand over a TCP stream, to see every event, pongs
/// included.
struct RawClient {
    stream: TcpStream,
    conn: Connection,
}

impl RawClient {
    fn connect(url: &str) -> Self {
        let request = ClientRequest::new(url).unwrap();
        let mut stream = TcpStream::connect((request.host(), request.port())).unwrap();
        let mut handshake = ClientHandshake::new(request).unwrap();
        stream.write_all(handshake.request_bytes()).unwrap();
        let mut buf = [0u8; 4096];
        loop {
            let n = stream.read(&mut buf).unwrap();
            assert!(n > 0, "the server hung up during the handshake");
            if let Status::Complete(_) = handshake.receive(&buf[..n]).unwrap() {
                break;
            }
        }
        let mut conn = Connection::new(Role::Client, Config::default());
        conn.receive(handshake.leftover());
        RawClient { stream, conn }
    }

    fn flush(&mut self) {
        let bytes = self.conn.take_transmit();
        self.stream.write_all(&bytes).unwrap();
    }

    /// The next event, reading as needed; `None` at end of stream.
    fn event(&mut self) -> Option<Result<Event, ProtocolError>> {
        let mut buf = [0u8; 4096];
        loop {
            match self.conn.poll_event() {
                Ok(Some(event)) => return Some(Ok(event)),
                Err(error) => return Some(Err(error)),
                Ok(None) => {}
            }
            let n = self.stream.read(&mut buf).ok()?;
            if n == 0 {
                self.conn.receive_eof();
            } else {
                self.conn.receive(&buf[..n]);
            }
        }
    }
}

#[test]
fn a_server_that_only_reads_answers_pings() {
    let (listener, url) = listen();
    let server = thread::spawn(move || {
        let mut ws = WebSocket::accept(listener.accept().unwrap().0).unwrap();
        let mut got = Vec::new();
        while let Some(message) = ws.read().unwrap() {
            got.push(message);
        }
        (got, ws.peer_close().map(|f| f.code()))
    });
    let mut client = RawClient::connect(&url);
    client.conn.ping(b"one").unwrap();
    client.flush();
    assert_eq!(client.event(), Some(Ok(Event::Pong("one".into()))));
    client.conn.send(Message::text("hi")).unwrap();
    client.conn.ping(b"two").unwrap();
    client.flush();
    assert_eq!(client.event(), Some(Ok(Event::Pong("two".into()))));
    client.conn.close(CloseCode::GoingAway, "bye").unwrap();
    client.flush();
    assert!(
        matches!(client.event(), Some(Ok(Event::Close(Some(f)))) if f.code() == CloseCode::GoingAway)
    );
    let (got, code) = server.join().unwrap();
    assert_eq!(got, [Message::text("hi")]);
    assert_eq!(code, Some(CloseCode::GoingAway));
}

#[test]
fn echo_text_binary_and_close_with_reason() {
    let (listener, url) = listen();
    let server = thread::spawn(move || {
        let mut ws = WebSocket::accept(listener.accept().unwrap().0).unwrap();
        while let Some(message) = ws.read().unwrap() {
            ws.send(message).unwrap();
        }
        ws.peer_close().cloned()
    });
    let mut ws = WebSocket::connect(&url).unwrap();
    let big = Message::binary(vec![0xa5; 3 << 20]);
    for message in [Message::text("héllo"), Message::binary(vec![1, 2, 3]), big] {
        ws.send(message.clone()).unwrap();
        assert_eq!(ws.read().unwrap(), Some(message));
    }
    ws.close(CloseCode::Private(4000), "done").unwrap();
    assert_eq!(ws.read().unwrap(), None);
    assert_eq!(
        ws.peer_close().map(|f| f.code()),
        Some(CloseCode::Private(4000))
    );
    let seen = server.join().unwrap().unwrap();
    assert_eq!(
        (seen.code(), seen.reason()),
        (CloseCode::Private(4000), "done")
    );
}

#[test]
fn a_refusal_carries_the_callbacks_status_and_a_plain_request_gets_426() {
    let (listener, url) = listen();
    let server = thread::spawn(move || {
        let mut outcomes = Vec::new();
        for _ in 0..2 {
            let stream = listener.accept().unwrap().0;
            let result = WebSocket::accept_with(stream, |request| {
                if request.path() == "/" && request.query_param("token").as_deref() == Some("ok") {
                    Ok(Accept::new())
                } else {
                    Err(Reject::new(403))
                }
            });
            outcomes.push(result.err().map(|e| e.to_string()));
        }
        outcomes
    });
    let refused = WebSocket::connect(&format!("{url}?token=no")).unwrap_err();
    assert!(
        matches!(
            refused,
            Error::Handshake(HandshakeError::UnexpectedStatus(403))
        ),
        "{refused:?}"
    );
    let mut plain =
        TcpStream::connect(url.trim_start_matches("ws://").trim_end_matches('/')).unwrap();
    plain
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    plain.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 426 "), "{answer}");
    assert!(answer.contains("Sec-WebSocket-Version: 13\r\n"), "{answer}");
    let outcomes = server.join().unwrap();
    assert_eq!(outcomes.len(), 2);
    assert!(
        outcomes
            .iter()
            .all(|o| o.as_deref().is_some_and(|e| e.contains("refused")))
    );
}

#[test]
fn a_protocol_error_is_returned_once_and_its_close_is_sent() {
    let (listener, url) = listen();
    let server = thread::spawn(move || {
        let mut ws = WebSocket::accept(listener.accept().unwrap().0).unwrap();
        let first = ws.read().map_err(|e| e.to_string());
        let second = ws.read().map_err(|e| e.to_string());
        (first, second)
    });
    let mut client = RawClient::connect(&url);
    // A server must refuse an unmasked frame (section 5.1).
    client.stream.write_all(b"\x81\x02hi").unwrap();
    assert!(
        matches!(client.event(), Some(Ok(Event::Close(Some(f)))) if f.code() == CloseCode::ProtocolError)
    );
    let (first, second) = server.join().unwrap();
    assert_eq!(first, Err(ProtocolError::UnmaskedFrame.to_string()));
    assert_eq!(second, Ok(None));
}

#[test]
fn a_non_blocking_socket_loses_nothing_on_would_block() {
    let (listener, url) = listen();
    let (step_tx, step_rx) = mpsc::channel::<()>();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let big = Message::binary((0..8 << 20).map(|i| (i % 253) as u8).collect::<Vec<u8>>());
    let expected = big.clone();
    let server = thread::spawn(move || {
        let mut stream = listener.accept().unwrap().0;
        let mut ws = WebSocket::accept(stream.try_clone().unwrap()).unwrap();
        // A text message in two pieces, the second only when told.
        let mut server = Connection::new(Role::Server, Config::default());
        server.send(Message::text("split in two")).unwrap();
        let frame = server.take_transmit();
        stream.write_all(&frame[..5]).unwrap();
        step_rx.recv().unwrap();
        stream.write_all(&frame[5..]).unwrap();
        // Then read the big message only once the client saw WouldBlock.
        step_rx.recv().unwrap();
        let got = ws.read().unwrap();
        done_tx.send(()).unwrap();
        got
    });

    let mut ws = WebSocket::connect(&url).unwrap();
    ws.get_mut().set_nonblocking(true).unwrap();
    let error = ws.read().unwrap_err();
    assert!(error.is_would_block(), "{error:?}");
    step_tx.send(()).unwrap();
    let message = loop {
        match ws.read() {
            Ok(message) => break message,
            Err(e) if e.is_would_block() => thread::yield_now(),
            Err(e) => panic!("{e}"),
        }
    };
    assert_eq!(message, Some(Message::text("split in two")));

    // 8 MiB cannot fit in the socket buffers: flush stops with WouldBlock
    // and the bytes stay queued.
    ws.write(big).unwrap();
    let error = ws.flush().unwrap_err();
    assert!(error.is_would_block(), "{error:?}");
    assert!(ws.connection().buffered_amount() > 0);
    step_tx.send(()).unwrap();
    loop {
        match ws.flush() {
            Ok(()) => break,
            Err(e) if e.is_would_block() => thread::yield_now(),
            Err(e) => panic!("{e}"),
        }
    }
    done_rx.recv().unwrap();
    assert_eq!(server.join().unwrap(), Some(expected));
}

#[test]
fn a_read_timeout_loses_nothing() {
    let (listener, url) = listen();
    let (step_tx, step_rx) = mpsc::channel::<()>();
    let server = thread::spawn(move || {
        let mut stream = listener.accept().unwrap().0;
        let _ws = WebSocket::accept(stream.try_clone().unwrap()).unwrap();
        let mut server = Connection::new(Role::Server, Config::default());
        server.send(Message::binary(vec![42u8; 20_000])).unwrap();
        let frame = server.take_transmit();
        stream.write_all(&frame[..10_000]).unwrap();
        step_rx.recv().unwrap();
        stream.write_all(&frame[10_000..]).unwrap();
        step_rx.recv().unwrap();
    });
    let mut ws = WebSocket::connect(&url).unwrap();
    ws.set_read_buffer_size(1000);
    ws.get_mut()
        .set_read_timeout(Some(std::time::Duration::from_millis(50)))
        .unwrap();
    // Half the frame arrives, then the timeout: the half is kept.
    let error = ws.read().unwrap_err();
    assert!(error.is_would_block(), "{error:?}");
    step_tx.send(()).unwrap();
    let message = loop {
        match ws.read() {
            Ok(message) => break message,
            Err(e) if e.is_would_block() => {}
            Err(e) => panic!("{e}"),
        }
    };
    assert_eq!(message, Some(Message::binary(vec![42u8; 20_000])));
    step_tx.send(()).unwrap();
    server.join().unwrap();
}

/// Reads from a script, fails every write: a peer that vanished.
struct BrokenWrites(std::io::Cursor<Vec<u8>>);

impl rfc6455::io::blocking::ReadTimeout for BrokenWrites {
    fn set_read_timeout(&mut self, _: Option<std::time::Duration>) -> std::io::Result<()> {
        Ok(())
    }
}

impl Read for BrokenWrites {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for BrokenWrites {
    fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
        Err(std::io::ErrorKind::BrokenPipe.into())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_stream_that_cannot_be_written_ends_the_connection_instead_of_failing_forever() {
    let mut client = Connection::new(Role::Client, Config::default());
    client.ping(b"hello").unwrap();
    client.send(Message::text("then this")).unwrap();
    let script = client.take_transmit().to_vec();
    let mut ws = WebSocket::from_raw(
        BrokenWrites(std::io::Cursor::new(script)),
        Role::Server,
        &[],
        Config::default(),
    );
    // The text arrived in the same read as the ping: it comes before the
    // pong is tried. The pong cannot be written: the error comes once...
    assert_eq!(ws.read().unwrap(), Some(Message::text("then this")));
    let second = ws.read().unwrap_err();
    assert!(
        matches!(&second, Error::Io(e) if e.kind() == std::io::ErrorKind::BrokenPipe),
        "{second:?}"
    );
    // ...then the connection is over: an abnormal closure, then the end.
    let third = ws.read();
    assert!(
        matches!(third, Err(Error::Protocol(ProtocolError::AbnormalClosure))),
        "{third:?}"
    );
    assert!(matches!(ws.read(), Ok(None)));
    assert!(matches!(ws.read(), Ok(None)));
}

/// A stream that serves its script in the chunks given, each read taking
/// at most what is left of the current chunk, as a socket gives what has
/// arrived; it records how much each read asked for and got.
struct Chunks {
    chunks: std::collections::VecDeque<Vec<u8>>,
    reads: Vec<(usize, usize)>,
}

impl rfc6455::io::blocking::ReadTimeout for Chunks {
    fn set_read_timeout(&mut self, _: Option<std::time::Duration>) -> std::io::Result<()> {
        Ok(())
    }
}

impl Read for Chunks {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let Some(chunk) = self.chunks.front_mut() else {
            self.reads.push((buf.len(), 0));
            return Ok(0);
        };
        let n = chunk.len().min(buf.len());
        buf[..n].copy_from_slice(&chunk[..n]);
        chunk.drain(..n);
        if chunk.is_empty() {
            self.chunks.pop_front();
        }
        self.reads.push((buf.len(), n));
        Ok(n)
    }
}

impl Write for Chunks {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A read that fills the buffer means more is waiting: the next reads take
/// 64 KiB at once, so a 64 KiB message costs one read, not eight. Eight
/// short reads in a row bring the reads back to the configured 8 KiB.
#[test]
fn the_read_size_follows_the_traffic() {
    let mut server = Connection::new(Role::Server, Config::default());
    let large: Vec<u8> = (0..64 << 10).map(|i: u32| (i % 251) as u8).collect();
    for _ in 0..3 {
        server.send(Message::binary(large.clone())).unwrap();
    }
    let mut chunks = std::collections::VecDeque::from([server.take_transmit().to_vec()]);
    for i in 0..10u8 {
        server.send(Message::binary(vec![i; 10])).unwrap();
        chunks.push_back(server.take_transmit().to_vec());
    }
    let stream = Chunks {
        chunks,
        reads: Vec::new(),
    };
    let mut ws = WebSocket::from_raw(stream, Role::Client, &[], Config::default());
    for _ in 0..3 {
        assert!(ws.read().unwrap() == Some(Message::binary(large.clone())));
    }
    for i in 0..10u8 {
        assert_eq!(ws.read().unwrap(), Some(Message::binary(vec![i; 10])));
    }
    let reads = &ws.get_ref().reads;
    // The first read is full at 8 KiB; the 3 × 64 KiB after it take 3 reads.
    assert_eq!(reads[0], (8 << 10, 8 << 10), "{reads:?}");
    assert!(
        reads[1..4].iter().all(|&(asked, _)| asked == 64 << 10),
        "{reads:?}"
    );
    assert_eq!(
        reads[1..4].iter().map(|r| r.1).sum::<usize>() + reads[0].1,
        3 * (64 << 10) + 3 * 10
    );
    // Then the small messages, one short read each: 64 KiB asked until
    // eight reads in a row brought less than 8 KiB, 8 KiB after.
    let asked: Vec<usize> = reads[4..].iter().map(|r| r.0).collect();
    assert_eq!(
        asked,
        [[64 << 10; 8].as_slice(), &[8 << 10; 2]].concat(),
        "{reads:?}"
    );
}
