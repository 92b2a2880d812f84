//! Both adapters over a transport that misbehaves on a schedule proptest
//! chooses: short reads and writes, `WouldBlock` / `Poll::Pending` (with a
//! wake), `Interrupted`, and a hard error from some call on. A client sends
//! messages of mixed sizes and kinds (fragmented, with or without
//! permessage-deflate), the server echoes them, the client closes. Each side
//! must get exactly the messages sent, in order, or stop with an error: a
//! wrong message, a hang (bounded by a step count or a timeout) or a panic
//! fails the case. Without a hard error in the schedule, everything must
//! arrive and both sides must see the close.
#![cfg(feature = "tokio")]

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use proptest::prelude::*;
use rfc6455::handshake::ClientRequest;
use rfc6455::io::blocking::{ReadTimeout, WebSocket};
use rfc6455::io::tokio::WebSocketStream;
use rfc6455::{CloseCode, Config, Connection, Message, Role};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// What one read or write call does.
#[derive(Clone, Copy, Debug)]
enum Fault {
    /// As much as the stream allows.
    Pass,
    /// At most this many bytes.
    Short(usize),
    /// `WouldBlock` (blocking) or `Pending` after waking the task (tokio).
    NotReady,
    /// `Interrupted`.
    Interrupted,
}

/// The faults of one side: reads and writes each follow their own cycle,
/// and from the `fail_*` call on (if any) every call of that kind fails.
#[derive(Clone, Debug)]
struct Schedule {
    reads: Vec<Fault>,
    writes: Vec<Fault>,
    fail_read_at: Option<usize>,
    fail_write_at: Option<usize>,
}

impl Schedule {
    fn fails(&self) -> bool {
        self.fail_read_at.is_some() || self.fail_write_at.is_some()
    }
}

/// A schedule's position.
#[derive(Debug)]
struct Faults {
    schedule: Schedule,
    reads: usize,
    writes: usize,
}

impl Faults {
    fn new(schedule: Schedule) -> Self {
        Faults {
            schedule,
            reads: 0,
            writes: 0,
        }
    }

    fn read(&mut self) -> io::Result<Fault> {
        let n = self.reads;
        self.reads += 1;
        if self.schedule.fail_read_at.is_some_and(|at| n >= at) {
            return Err(io::ErrorKind::ConnectionReset.into());
        }
        Ok(self.schedule.reads[n % self.schedule.reads.len()])
    }

    fn write(&mut self) -> io::Result<Fault> {
        let n = self.writes;
        self.writes += 1;
        if self.schedule.fail_write_at.is_some_and(|at| n >= at) {
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        Ok(self.schedule.writes[n % self.schedule.writes.len()])
    }
}

fn fault() -> impl Strategy<Value = Fault> {
    prop_oneof![
        3 => Just(Fault::Pass),
        3 => prop_oneof![1..=16usize, 1..=4096usize].prop_map(Fault::Short),
        2 => Just(Fault::NotReady),
        1 => Just(Fault::Interrupted),
    ]
}

/// A cycle of faults that makes progress at least once per turn.
fn cycle() -> impl Strategy<Value = Vec<Fault>> {
    (
        prop::collection::vec(fault(), 0..12),
        prop_oneof![Just(Fault::Pass), (1..=4096usize).prop_map(Fault::Short)],
    )
        .prop_map(|(mut faults, progress)| {
            faults.push(progress);
            faults
        })
}

fn schedule() -> impl Strategy<Value = Schedule> {
    let fail = prop_oneof![4 => Just(None), 1 => (0..400usize).prop_map(Some)];
    (cycle(), cycle(), fail.clone(), fail).prop_map(
        |(reads, writes, fail_read_at, fail_write_at)| Schedule {
            reads,
            writes,
            fail_read_at,
            fail_write_at,
        },
    )
}

/// Text with multi-byte characters, or binary, of `len` bytes or about.
fn message(text: bool, len: usize, seed: u8) -> Message {
    if text {
        let mut s = String::with_capacity(len + 4);
        let words = ["héllo ", "wörld ", "✓ ", "🦀 ", "plain ascii "];
        let mut i = seed as usize;
        while s.len() < len {
            s.push_str(words[i % words.len()]);
            i += 1;
        }
        Message::text(s)
    } else {
        // Half repetitive (deflate shrinks it), half noise.
        let mut x = u32::from(seed) | 1;
        let bytes: Vec<u8> = (0..len)
            .map(|i| {
                if i % 512 < 256 {
                    (i / 7) as u8
                } else {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x as u8
                }
            })
            .collect();
        Message::binary(bytes)
    }
}

fn messages() -> impl Strategy<Value = Vec<Message>> {
    let len = prop_oneof![0..=16usize, 0..=2048usize, 0..=(200usize << 10)];
    prop::collection::vec((any::<bool>(), len, any::<u8>()), 1..6).prop_map(|specs| {
        specs
            .into_iter()
            .map(|(text, len, seed)| message(text, len, seed))
            .collect()
    })
}

#[derive(Clone, Debug)]
struct Case {
    messages: Vec<Message>,
    client: Schedule,
    server: Schedule,
    /// Faults on the server's side too, or only the client's.
    both: bool,
    frame_size: usize,
    deflate: bool,
    /// The in-memory pipe's capacity each way.
    capacity: usize,
}

impl Case {
    fn fails(&self) -> bool {
        self.client.fails() || (self.both && self.server.fails())
    }

    fn config(&self) -> Config {
        let config = Config::default()
            .send_frame_size(self.frame_size)
            .handshake_timeout(None);
        #[cfg(feature = "deflate")]
        if self.deflate {
            return config.deflate(rfc6455::deflate::DeflateConfig::default());
        }
        // Without the feature, the cases that ask for deflate run without.
        #[cfg(not(feature = "deflate"))]
        let _ = self.deflate;
        config
    }

    fn server_schedule(&self) -> Schedule {
        if self.both {
            self.server.clone()
        } else {
            Schedule {
                reads: vec![Fault::Pass],
                writes: vec![Fault::Pass],
                fail_read_at: None,
                fail_write_at: None,
            }
        }
    }
}

fn case() -> impl Strategy<Value = Case> {
    (
        messages(),
        schedule(),
        schedule(),
        any::<bool>(),
        prop_oneof![Just(64usize), Just(1000), Just(16 << 10), Just(64 << 10)],
        any::<bool>(),
        prop_oneof![Just(1usize << 10), Just(16 << 10), Just(256 << 10)],
    )
        .prop_map(
            |(messages, client, server, both, frame_size, deflate, capacity)| Case {
                messages,
                client,
                server,
                both,
                frame_size,
                deflate,
                capacity,
            },
        )
}

/// What each side got, and how it ended.
#[derive(Debug, Default)]
struct Outcome {
    /// The server's messages, in order.
    received: Vec<Message>,
    /// The client's: the echoes.
    echoes: Vec<Message>,
    client_error: Option<String>,
    server_error: Option<String>,
    /// Both saw the close handshake end.
    client_closed: bool,
    server_closed: bool,
}

fn check(case: &Case, outcome: &Outcome) {
    let sent = &case.messages;
    assert!(
        outcome.received.len() <= sent.len()
            && outcome.received[..] == sent[..outcome.received.len()],
        "the server got a message that was not sent, or out of order"
    );
    assert!(
        outcome.echoes.len() <= outcome.received.len()
            && outcome.echoes[..] == sent[..outcome.echoes.len()],
        "the client got an echo that was not sent, or out of order"
    );
    if !case.fails() {
        assert_eq!(
            outcome.client_error, None,
            "no hard fault, yet the client failed"
        );
        assert_eq!(
            outcome.server_error, None,
            "no hard fault, yet the server failed"
        );
        assert_eq!(
            outcome.received.len(),
            sent.len(),
            "the server missed messages"
        );
        assert_eq!(outcome.echoes.len(), sent.len(), "the client missed echoes");
        assert!(
            outcome.client_closed && outcome.server_closed,
            "{outcome:?}"
        );
    }
}

// ---------------------------------------------------------------- blocking

/// One direction of an in-memory pipe.
#[derive(Debug, Default)]
struct Pipe {
    bytes: VecDeque<u8>,
    closed: bool,
}

/// One end of a pair of pipes, non-blocking, with faults: reads and writes
/// `WouldBlock` when the pipe is empty or full.
#[derive(Debug)]
struct End {
    rx: Rc<RefCell<Pipe>>,
    tx: Rc<RefCell<Pipe>>,
    capacity: usize,
    faults: Faults,
}

fn pipe_pair(capacity: usize, a: Schedule, b: Schedule) -> (End, End) {
    let ab = Rc::new(RefCell::new(Pipe::default()));
    let ba = Rc::new(RefCell::new(Pipe::default()));
    let a = End {
        rx: ba.clone(),
        tx: ab.clone(),
        capacity,
        faults: Faults::new(a),
    };
    let b = End {
        rx: ab,
        tx: ba,
        capacity,
        faults: Faults::new(b),
    };
    (a, b)
}

/// The most bytes `fault` lets through out of `wanted`, or its error.
fn allowance(fault: Fault, wanted: usize) -> io::Result<usize> {
    match fault {
        Fault::Pass => Ok(wanted),
        Fault::Short(n) => Ok(n.min(wanted)),
        Fault::NotReady => Err(io::ErrorKind::WouldBlock.into()),
        Fault::Interrupted => Err(io::ErrorKind::Interrupted.into()),
    }
}

impl Read for End {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let limit = allowance(self.faults.read()?, buf.len())?;
        let mut pipe = self.rx.borrow_mut();
        if pipe.bytes.is_empty() {
            return if pipe.closed {
                Ok(0)
            } else {
                Err(io::ErrorKind::WouldBlock.into())
            };
        }
        let n = limit.min(pipe.bytes.len());
        for (slot, byte) in buf[..n].iter_mut().zip(pipe.bytes.drain(..n)) {
            *slot = byte;
        }
        Ok(n)
    }
}

impl Write for End {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let limit = allowance(self.faults.write()?, buf.len())?;
        let mut pipe = self.tx.borrow_mut();
        if pipe.closed {
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        let n = limit.min(self.capacity - pipe.bytes.len());
        if n == 0 && !buf.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        pipe.bytes.extend(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl ReadTimeout for End {
    fn set_read_timeout(&mut self, _: Option<Duration>) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for End {
    fn drop(&mut self) {
        self.rx.borrow_mut().closed = true;
        self.tx.borrow_mut().closed = true;
    }
}

/// The connection the handshake would have made (the blocking adapter's
/// handshake wants a blocking stream; the tokio run covers handshakes).
fn connection(role: Role, case: &Case) -> Connection {
    #[cfg(feature = "deflate")]
    if case.deflate {
        let params = rfc6455::deflate::DeflateParams::default();
        return Connection::with_deflate(role, case.config(), Some(params));
    }
    Connection::new(role, case.config())
}

/// Calls in turn until both sides are done; a step bound stands for "no
/// hang".
fn run_blocking(case: &Case) -> Outcome {
    const STEPS: usize = 2_000_000;
    let (a, b) = pipe_pair(case.capacity, case.client.clone(), case.server_schedule());
    let mut client = Some(WebSocket::from_connection(
        a,
        connection(Role::Client, case),
    ));
    let mut server = Some(WebSocket::from_connection(
        b,
        connection(Role::Server, case),
    ));
    let mut outcome = Outcome::default();
    for message in &case.messages {
        client.as_mut().unwrap().write(message.clone()).unwrap();
    }
    let mut close_sent = false;
    for _ in 0..STEPS {
        if let Some(ws) = &mut client {
            let mut result = Ok(());
            if !close_sent && outcome.echoes.len() == case.messages.len() {
                close_sent = true;
                result = ws.close(CloseCode::Normal, "done");
            }
            if result.is_ok() {
                result = ws.flush();
            }
            let result = result.and_then(|()| ws.read());
            match result {
                Ok(Some(message)) => outcome.echoes.push(message),
                Ok(None) => {
                    outcome.client_closed = true;
                    client = None;
                }
                Err(e) if e.is_would_block() => {}
                Err(e) => {
                    outcome.client_error = Some(e.to_string());
                    client = None;
                }
            }
        }
        if let Some(ws) = &mut server {
            match ws.read() {
                Ok(Some(message)) => {
                    outcome.received.push(message.clone());
                    ws.write(message).unwrap();
                }
                Ok(None) => {
                    outcome.server_closed = true;
                    server = None;
                }
                Err(e) if e.is_would_block() => {}
                Err(e) => {
                    outcome.server_error = Some(e.to_string());
                    server = None;
                }
            }
        }
        if client.is_none() && server.is_none() {
            return outcome;
        }
    }
    panic!("no end after {STEPS} steps: {outcome:?}");
}

// ------------------------------------------------------------------- tokio

/// An async stream with faults; `NotReady` wakes the task before it
/// returns `Pending`, as a stream that will be ready soon does.
struct Faulty<T> {
    inner: T,
    faults: Faults,
}

impl<T: AsyncRead + Unpin> AsyncRead for Faulty<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let limit = match self
            .faults
            .read()
            .and_then(|f| allowance(f, buf.remaining()))
        {
            Ok(limit) => limit,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            Err(e) => return Poll::Ready(Err(e)),
        };
        let mut part = ReadBuf::new(buf.initialize_unfilled_to(limit));
        ready!(Pin::new(&mut self.inner).poll_read(cx, &mut part))?;
        let n = part.filled().len();
        buf.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Faulty<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let limit = match self.faults.write().and_then(|f| allowance(f, buf.len())) {
            Ok(limit) => limit,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            Err(e) => return Poll::Ready(Err(e)),
        };
        Pin::new(&mut self.inner).poll_write(cx, &buf[..limit])
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// [`run_tokio`] on a runtime of its own; a case that takes more than 3 s
/// has hung, and fails.
fn run_tokio_within_3s(case: &Case) -> Outcome {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        tokio::time::timeout(Duration::from_secs(3), run_tokio(case))
            .await
            .expect("the case hung")
    })
}

async fn run_tokio(case: &Case) -> Outcome {
    let (a, b) = tokio::io::duplex(case.capacity);
    let a = Faulty {
        inner: a,
        faults: Faults::new(case.client.clone()),
    };
    let b = Faulty {
        inner: b,
        faults: Faults::new(case.server_schedule()),
    };
    let config = case.config();
    let server = async move {
        let (mut received, mut error, mut closed) = (Vec::new(), None, false);
        let accept = WebSocketStream::accept_with_config(b, config, |_| {
            Ok(rfc6455::handshake::Accept::new())
        });
        match accept.await {
            Err(e) => error = Some(e.to_string()),
            Ok(mut ws) => loop {
                match ws.recv().await {
                    Some(Ok(message)) => {
                        received.push(message.clone());
                        // Written by the next recv.
                        if let Err(e) = ws.feed(message).await {
                            error = Some(e.to_string());
                            break;
                        }
                    }
                    Some(Err(e)) => {
                        error = Some(e.to_string());
                        break;
                    }
                    None => {
                        closed = true;
                        break;
                    }
                }
            },
        }
        (received, error, closed)
    };
    let messages = case.messages.clone();
    let client = async move {
        let mut echoes = Vec::new();
        let request = ClientRequest::new("ws://faulty.test/").unwrap();
        let ws = match WebSocketStream::client(a, request, config).await {
            Ok(ws) => ws,
            Err(e) => return (echoes, Some(e.to_string()), false),
        };
        let (mut reader, mut writer) = ws.into_split();
        let (all_back, all_back_rx) = tokio::sync::oneshot::channel::<()>();
        let count = messages.len();
        let write = async move {
            for message in messages {
                writer.send(message).await.map_err(|e| e.to_string())?;
            }
            if all_back_rx.await.is_ok() {
                writer
                    .close(CloseCode::Normal, "done")
                    .await
                    .map_err(|e| e.to_string())?;
            }
            Ok::<_, String>(())
        };
        let read = async move {
            let mut all_back = Some(all_back);
            loop {
                match reader.recv().await {
                    Some(Ok(message)) => {
                        echoes.push(message);
                        if echoes.len() == count
                            && let Some(tx) = all_back.take()
                        {
                            let _ = tx.send(());
                        }
                    }
                    Some(Err(e)) => return (echoes, Some(e.to_string()), false),
                    None => return (echoes, None, true),
                }
            }
        };
        // An application drops the connection when reading fails: the
        // writer is abandoned then, rather than left waiting on a peer that
        // waits for us to read its echoes.
        tokio::pin!(write, read);
        let mut written = None;
        let (echoes, mut error, mut closed) = loop {
            tokio::select! {
                result = &mut write, if written.is_none() => written = Some(result),
                result = &mut read => break result,
            }
        };
        if written.is_none() && error.is_none() {
            written = Some(write.await);
        }
        if let Some(Err(e)) = written {
            error.get_or_insert(e);
            closed = false;
        }
        (echoes, error, closed)
    };
    let ((received, server_error, server_closed), (echoes, client_error, client_closed)) =
        tokio::join!(server, client);
    Outcome {
        received,
        echoes,
        client_error,
        server_error,
        client_closed,
        server_closed,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn the_blocking_adapter_delivers_exactly_what_was_sent_or_fails(case in case()) {
        let outcome = run_blocking(&case);
        check(&case, &outcome);
    }

    #[test]
    fn the_tokio_adapter_delivers_exactly_what_was_sent_or_fails(case in case()) {
        let outcome = run_tokio_within_3s(&case);
        check(&case, &outcome);
    }
}

/// Found by the tokio property above: an `Interrupted` read during the
/// server's opening handshake ended it (tokio's `read` and `write_all` pass
/// that error up), where the blocking adapter reads again. Now every read
/// and write of the tokio adapter, handshake included, tries again.
#[test]
fn the_tokio_adapter_reads_and_writes_again_after_interrupted() {
    let interrupted_first = Schedule {
        reads: vec![Fault::Interrupted, Fault::Pass],
        writes: vec![Fault::Interrupted, Fault::Short(3)],
        fail_read_at: None,
        fail_write_at: None,
    };
    let case = Case {
        messages: vec![Message::binary(vec![5; 3000]), Message::text("after")],
        client: interrupted_first.clone(),
        server: interrupted_first,
        both: true,
        frame_size: 64,
        deflate: false,
        capacity: 1024,
    };
    let outcome = run_tokio_within_3s(&case);
    check(&case, &outcome);
}

/// Found by the tokio property above: when the write half's stream failed,
/// the connection was ended but the read half, waiting for bytes, was never
/// woken, and a `recv` hung for ever. Now a failed write wakes the reader,
/// which reports the end.
#[test]
fn a_failed_write_of_the_write_half_wakes_the_read_half() {
    let client = Schedule {
        reads: vec![Fault::Pass],
        writes: vec![Fault::Pass],
        fail_read_at: None,
        // Past the point where the pipe is full and the reader waits: 16
        // KiB is some 240 writes of 64-byte frames.
        fail_write_at: Some(400),
    };
    let case = Case {
        messages: vec![Message::binary(vec![9; 100 << 10])],
        server: client.clone(),
        client,
        both: false,
        frame_size: 64,
        deflate: false,
        capacity: 16 << 10,
    };
    let outcome = run_tokio_within_3s(&case);
    assert!(outcome.client_error.is_some(), "{outcome:?}");
    assert!(outcome.echoes.is_empty() && !outcome.client_closed);
    check(&case, &outcome);
}
