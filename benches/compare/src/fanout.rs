//! The fan-out bench: one server child publishes messages to N subscribers
//! that the load generator holds, each column with its crate's way of
//! sending one message to many.
//!
//! The server child (this binary with `--serve-fanout <column>`) runs on a
//! current-thread tokio runtime. It prints two addresses on one line: the
//! subscribers' listener and the control listener. Every subscriber gets a
//! writer task fed by an unbounded channel, the way users of each crate
//! write a broadcaster; the publisher turns each message into the column's
//! type once and puts a clone (a reference count) into every channel. The
//! control connection takes one command a line and answers one line:
//!
//! - `count`: the subscribers registered (their handshake done);
//! - `publish M SIZE`: publishes messages 0..M of SIZE bytes, answers `ok`
//!   once all are in the channels (not yet written);
//! - `heap`: the live heap bytes of the child ([`heap::live_bytes`]);
//! - `reset`: forgets every subscriber (their writer tasks end);
//! - `mark`: answers `ok`, calling [`mark`] on the way: a point for a
//!   profiler (callgrind's `--dump-before=*fanout*mark*` gives the counts of
//!   each cell, the load generator marking before and after each);
//! - `exit`: ends the child at once, answering nothing (so that a profiler
//!   it runs under writes its output).

use std::io::{self, IoSlice, Write as _};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use rfc6455::deflate::DeflateConfig;
use rfc6455::handshake::Accept;
use rfc6455::io::tokio::WebSocketStream;
use rfc6455::{Config, Message, PreparedMessage};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};

use crate::heap;

mod load;

pub use load::{FanoutServer, Perf, Subscriber, cpu_seconds, deliver, minor_faults, subscribe};

/// Messages a writer takes from its channel before it flushes.
const BATCH: usize = 64;

/// A column of the fan-out tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Column {
    /// Ours: one `PreparedMessage` per message, `feed_prepared` into each
    /// subscriber's `WriteHalf`.
    OursPrepared,
    /// Ours: a `Message` clone per subscriber, `feed` into its `WriteHalf`.
    OursSend,
    /// tokio-tungstenite: a `Message` clone per subscriber, `feed` into its
    /// `SplitSink`.
    TokioTungstenite,
    /// fastwebsockets: the payload's `Bytes` per subscriber, `write_frame`.
    Fastwebsockets,
    /// tokio-websockets: a `Message` clone per subscriber, `feed` into its
    /// `SplitSink`.
    TokioWebsockets,
    /// The limit: the same pre-built frame `Bytes` written to each plain
    /// TCP socket, after a hand-written handshake.
    TcpLimit,
    /// Ours with permessage-deflate and `server_no_context_takeover`: one
    /// `PreparedMessage`, compressed once for everyone.
    OursPreparedDeflate,
    /// Ours with permessage-deflate and context takeover: a `Message` clone
    /// per subscriber, each connection compressing it with its own window.
    OursDeflateTakeover,
}

impl Column {
    /// The uncompressed columns, in the tables' order.
    pub const PLAIN: [Column; 6] = [
        Column::OursPrepared,
        Column::OursSend,
        Column::TokioTungstenite,
        Column::Fastwebsockets,
        Column::TokioWebsockets,
        Column::TcpLimit,
    ];

    /// The compressed columns.
    pub const DEFLATE: [Column; 2] = [Column::OursPreparedDeflate, Column::OursDeflateTakeover];

    pub fn name(self) -> &'static str {
        match self {
            Column::OursPrepared => "ours-prepared",
            Column::OursSend => "ours-send",
            Column::TokioTungstenite => "tokio-tungstenite",
            Column::Fastwebsockets => "fastwebsockets",
            Column::TokioWebsockets => "tokio-websockets",
            Column::TcpLimit => "tcp-limit",
            Column::OursPreparedDeflate => "ours-prepared-deflate",
            Column::OursDeflateTakeover => "ours-deflate-takeover",
        }
    }

    pub fn from_name(name: &str) -> Option<Column> {
        Column::PLAIN
            .into_iter()
            .chain(Column::DEFLATE)
            .find(|c| c.name() == name)
    }

    /// Compressed columns publish JSON-like text, the others binary.
    pub fn deflate(self) -> bool {
        matches!(
            self,
            Column::OursPreparedDeflate | Column::OursDeflateTakeover
        )
    }

    /// The server's connection settings, for our columns.
    fn config(self) -> Config {
        match self {
            Column::OursPreparedDeflate => {
                Config::default().deflate(DeflateConfig::default().server_no_context_takeover(true))
            }
            Column::OursDeflateTakeover => Config::default().deflate(DeflateConfig::default()),
            _ => Config::default(),
        }
    }
}

/// Binary message `seq` of `size` bytes (at least 8): its number in the
/// first 8 bytes, then a pattern that depends on it.
pub fn payload(seq: usize, size: usize) -> Bytes {
    let mut bytes: Vec<u8> = (0..size)
        .map(|i| (i * 7 + i / 251 + seq * 13 + 1) as u8)
        .collect();
    let stamp = (seq as u64).to_le_bytes();
    let n = size.min(8);
    bytes[..n].copy_from_slice(&stamp[..n]);
    Bytes::from(bytes)
}

/// Text message `seq` of exactly `size` bytes: JSON-like records, as a
/// price feed or a chat would send, with the number first.
pub fn json_text(seq: usize, size: usize) -> String {
    let mut out = format!("{{\"seq\":{seq},\"type\":\"ticker\",\"items\":[");
    let mut i = 0;
    while out.len() < size {
        out += &format!(
            "{{\"id\":{},\"symbol\":\"SYM{}\",\"price\":{}.{:02},\"volume\":{}}},",
            i,
            (seq + i) % 97,
            100 + (seq * 7 + i * 3) % 900,
            (seq + i) % 100,
            1000 + i * 17
        );
        i += 1;
    }
    out.truncate(size);
    out
}

/// The message as the load generator expects it.
pub fn expected(column: Column, seq: usize, size: usize) -> Message {
    if column.deflate() {
        Message::text(json_text(seq, size))
    } else {
        Message::binary(payload(seq, size))
    }
}

/// What the publisher puts into each subscriber's channel, per column.
#[derive(Default)]
struct Inboxes {
    prepared: Vec<UnboundedSender<PreparedMessage>>,
    message: Vec<UnboundedSender<Message>>,
    tungstenite: Vec<UnboundedSender<tokio_tungstenite::tungstenite::Message>>,
    websockets: Vec<UnboundedSender<tokio_websockets::Message>>,
    bytes: Vec<UnboundedSender<Bytes>>,
}

impl Inboxes {
    fn count(&self) -> usize {
        self.prepared.len()
            + self.message.len()
            + self.tungstenite.len()
            + self.websockets.len()
            + self.bytes.len()
    }
}

type Hub = Arc<Mutex<Inboxes>>;

fn lock(hub: &Hub) -> std::sync::MutexGuard<'_, Inboxes> {
    hub.lock().unwrap_or_else(|e| e.into_inner())
}

/// One clone into every channel; a closed one is dropped.
fn publish_to<T: Clone>(inboxes: &mut Vec<UnboundedSender<T>>, item: T) {
    inboxes.retain(|inbox| inbox.send(item.clone()).is_ok());
}

/// If started as `<bench> --serve-fanout <column>`, serves and never
/// returns. Call first thing in the bench's `main`.
pub fn serve_if_asked() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--serve-fanout") {
        let name = args.get(at + 1).expect("--serve-fanout needs a column");
        let column = Column::from_name(name).unwrap_or_else(|| panic!("no column {name}"));
        serve(column);
    }
}

fn serve(column: Column) -> ! {
    crate::child::raise_open_files_limit();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(serve_on(column));
    unreachable!("the control loop never ends")
}

async fn serve_on(column: Column) {
    let socket = TcpSocket::new_v4().expect("socket");
    // FANOUT_SNDBUF: a small send buffer on the listener, which the
    // accepted sockets inherit, so that what subscribers do not read
    // stays in the server's heap (the memory measurement).
    if let Ok(bytes) = std::env::var("FANOUT_SNDBUF") {
        socket
            .set_send_buffer_size(bytes.parse().expect("FANOUT_SNDBUF"))
            .expect("SO_SNDBUF");
    }
    socket.bind("127.0.0.1:0".parse().unwrap()).expect("bind");
    let subscribers = socket.listen(4096).expect("listen");
    let control = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    println!(
        "{} {}",
        subscribers.local_addr().unwrap(),
        control.local_addr().unwrap()
    );
    io::stdout().flush().expect("flush stdout");
    let hub = Hub::default();
    tokio::spawn(accept_loop(column, subscribers, hub.clone()));
    loop {
        let Ok((stream, _)) = control.accept().await else {
            continue;
        };
        let _ = control_loop(column, stream, &hub).await;
    }
}

async fn accept_loop(column: Column, listener: TcpListener, hub: Hub) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        stream.set_nodelay(true).expect("TCP_NODELAY");
        let hub = hub.clone();
        // One spawn per column, so that each task is its own size.
        match column {
            Column::OursPrepared | Column::OursPreparedDeflate => {
                drop(tokio::spawn(ours_prepared(stream, column.config(), hub)))
            }
            Column::OursSend | Column::OursDeflateTakeover => {
                drop(tokio::spawn(ours_send(stream, column.config(), hub)))
            }
            Column::TokioTungstenite => drop(tokio::spawn(tokio_tungstenite(stream, hub))),
            Column::Fastwebsockets => drop(tokio::spawn(fastwebsockets(stream, hub))),
            Column::TokioWebsockets => drop(tokio::spawn(tokio_websockets(stream, hub))),
            Column::TcpLimit => drop(tokio::spawn(tcp_limit(stream, hub))),
        }
    }
}

async fn control_loop(column: Column, stream: TcpStream, hub: &Hub) -> io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    let config = column.config();
    while let Some(line) = lines.next_line().await? {
        let words: Vec<&str> = line.split_whitespace().collect();
        let answer = match words.as_slice() {
            ["count"] => lock(hub).count().to_string(),
            ["heap"] => heap::live_bytes().to_string(),
            ["mark"] => mark(),
            ["exit"] => std::process::exit(0),
            ["reset"] => {
                *lock(hub) = Inboxes::default();
                "ok".to_string()
            }
            ["publish", count, size] => {
                let count: usize = count.parse().expect("count");
                let size: usize = size.parse().expect("size");
                for seq in 0..count {
                    publish(column, &config, hub, seq, size);
                    // Let the writers start on it, as a server that
                    // publishes from a task among others would.
                    tokio::task::yield_now().await;
                }
                "ok".to_string()
            }
            _ => format!("unknown command {line:?}"),
        };
        write.write_all(format!("{answer}\n").as_bytes()).await?;
    }
    Ok(())
}

/// Does nothing, out of line, so that a profiler can stop at it: see the
/// `mark` command.
#[inline(never)]
pub fn mark() -> String {
    std::hint::black_box("ok").to_string()
}

/// Message `seq`, turned once into the column's type, into every channel.
fn publish(column: Column, config: &Config, hub: &Hub, seq: usize, size: usize) {
    let mut inboxes = lock(hub);
    if column.deflate() {
        let message = Message::text(json_text(seq, size));
        match column {
            Column::OursPreparedDeflate => {
                let prepared = PreparedMessage::for_config(message, config);
                publish_to(&mut inboxes.prepared, prepared);
            }
            _ => publish_to(&mut inboxes.message, message),
        }
        return;
    }
    let bytes = payload(seq, size);
    match column {
        Column::OursPrepared => {
            let prepared = PreparedMessage::for_config(Message::binary(bytes), config);
            publish_to(&mut inboxes.prepared, prepared);
        }
        Column::OursSend => publish_to(&mut inboxes.message, Message::binary(bytes)),
        Column::TokioTungstenite => {
            let message = tokio_tungstenite::tungstenite::Message::Binary(bytes);
            publish_to(&mut inboxes.tungstenite, message);
        }
        Column::TokioWebsockets => {
            publish_to(
                &mut inboxes.websockets,
                tokio_websockets::Message::binary(bytes),
            );
        }
        Column::Fastwebsockets => publish_to(&mut inboxes.bytes, bytes),
        Column::TcpLimit => {
            // The frame built once, by the framing code of ours (unmasked,
            // one frame).
            let frame = PreparedMessage::new(Message::binary(bytes), usize::MAX)
                .frames()
                .clone();
            publish_to(&mut inboxes.bytes, frame);
        }
        Column::OursPreparedDeflate | Column::OursDeflateTakeover => unreachable!(),
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

async fn ours_prepared(stream: TcpStream, config: Config, hub: Hub) -> Result<(), BoxError> {
    let ws = WebSocketStream::accept_with_config(stream, config, |_| Ok(Accept::new())).await?;
    let (read, mut write) = ws.into_split();
    tokio::spawn(read.drain());
    let (inbox, mut outgoing) = unbounded_channel();
    lock(&hub).prepared.push(inbox);
    let mut batch = Vec::with_capacity(BATCH);
    while outgoing.recv_many(&mut batch, BATCH).await > 0 {
        for message in batch.drain(..) {
            write.feed_prepared(&message).await?;
        }
        write.flush().await?;
    }
    Ok(())
}

async fn ours_send(stream: TcpStream, config: Config, hub: Hub) -> Result<(), BoxError> {
    let ws = WebSocketStream::accept_with_config(stream, config, |_| Ok(Accept::new())).await?;
    let (read, mut write) = ws.into_split();
    tokio::spawn(read.drain());
    let (inbox, mut outgoing) = unbounded_channel();
    lock(&hub).message.push(inbox);
    let mut batch = Vec::with_capacity(BATCH);
    while outgoing.recv_many(&mut batch, BATCH).await > 0 {
        for message in batch.drain(..) {
            write.feed(message).await?;
        }
        write.flush().await?;
    }
    Ok(())
}

async fn tokio_tungstenite(stream: TcpStream, hub: Hub) -> Result<(), BoxError> {
    let ws = tokio_tungstenite::accept_async(stream).await?;
    let (mut sink, read) = ws.split();
    tokio::spawn(read.for_each(|_| async {}));
    let (inbox, mut outgoing) = unbounded_channel();
    lock(&hub).tungstenite.push(inbox);
    let mut batch = Vec::with_capacity(BATCH);
    while outgoing.recv_many(&mut batch, BATCH).await > 0 {
        for message in batch.drain(..) {
            sink.feed(message).await?;
        }
        sink.flush().await?;
    }
    Ok(())
}

async fn tokio_websockets(stream: TcpStream, hub: Hub) -> Result<(), BoxError> {
    let (_request, ws) = tokio_websockets::ServerBuilder::new()
        .accept(stream)
        .await?;
    let (mut sink, read) = ws.split();
    tokio::spawn(read.for_each(|_| async {}));
    let (inbox, mut outgoing) = unbounded_channel();
    lock(&hub).websockets.push(inbox);
    let mut batch = Vec::with_capacity(BATCH);
    while outgoing.recv_many(&mut batch, BATCH).await > 0 {
        for message in batch.drain(..) {
            sink.feed(message).await?;
        }
        sink.flush().await?;
    }
    Ok(())
}

/// fastwebsockets has no split sink of its own here: the writer task owns
/// the whole socket and nothing reads it (the subscribers send nothing).
async fn fastwebsockets(mut stream: TcpStream, hub: Hub) -> Result<(), BoxError> {
    use fastwebsockets::{Frame, Payload, Role, WebSocket};
    crate::servers::handshake_async(&mut stream).await?;
    let mut ws = WebSocket::after_handshake(stream, Role::Server);
    let (inbox, mut outgoing) = unbounded_channel();
    lock(&hub).bytes.push(inbox);
    let mut batch = Vec::with_capacity(BATCH);
    while outgoing.recv_many(&mut batch, BATCH).await > 0 {
        for payload in batch.drain(..) {
            ws.write_frame(Frame::binary(Payload::Borrowed(&payload)))
                .await?;
        }
    }
    Ok(())
}

/// The limit: the frames' bytes, built once, written to each socket, all
/// those waiting in one vectored write (as ours leave in one flush).
async fn tcp_limit(mut stream: TcpStream, hub: Hub) -> Result<(), BoxError> {
    crate::servers::handshake_async(&mut stream).await?;
    let (inbox, mut outgoing) = unbounded_channel();
    lock(&hub).bytes.push(inbox);
    let mut batch: Vec<Bytes> = Vec::with_capacity(BATCH);
    while outgoing.recv_many(&mut batch, BATCH).await > 0 {
        let mut slices: Vec<IoSlice<'_>> = batch.iter().map(|f| IoSlice::new(f)).collect();
        let mut rest = &mut slices[..];
        while !rest.is_empty() {
            let n = stream.write_vectored(rest).await?;
            if n == 0 {
                return Err(io::Error::from(io::ErrorKind::WriteZero).into());
            }
            IoSlice::advance_slices(&mut rest, n);
        }
        drop(slices);
        batch.clear();
    }
    Ok(())
}
