//! The load generator: one client for every server, on a tokio runtime in
//! the bench's own process.
//!
//! It opens N connections (an HTTP upgrade written by hand, the 101
//! checked), keeps K binary messages in flight on each, and checks every
//! echo byte for byte, panicking on the first difference. Each message is
//! distinct: a stamp of the connection and the message's number is written
//! over its first and last 8 bytes, the rest is a fixed pattern. Frames are
//! masked (key [`KEY`]) as a client's must be; the plain TCP references send
//! them back masked, and are checked against the masked bytes sent.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::Semaphore;

/// The masking key of every client frame.
pub const KEY: [u8; 4] = [0x5a, 0x13, 0xc7, 0x91];

/// Bytes of the stamp at each end of a message.
const STAMP: usize = 8;

/// The messages of one size: the pattern, clear and masked.
pub struct Payloads {
    len: usize,
    clear: Vec<u8>,
    masked: Vec<u8>,
}

impl Payloads {
    /// Messages of `len` bytes, at least 16 (two stamps).
    pub fn new(len: usize) -> Arc<Self> {
        assert!(len >= 2 * STAMP, "messages carry two 8-byte stamps");
        let clear: Vec<u8> = (0..len).map(|i| (i * 7 + i / 251 + 1) as u8).collect();
        let masked = clear
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ KEY[i % 4])
            .collect();
        Arc::new(Payloads { len, clear, masked })
    }

    /// The stamp of message `seq` of connection `conn`.
    fn stamp(conn: usize, seq: u64) -> [u8; STAMP] {
        ((conn as u64) << 40 | seq).to_le_bytes()
    }

    /// Appends message `seq` of `conn` to `out` as a masked binary frame.
    pub(crate) fn encode(&self, conn: usize, seq: u64, out: &mut Vec<u8>) {
        let len = self.len;
        out.push(0x82);
        if len < 126 {
            out.push(0x80 | len as u8);
        } else if len <= 0xffff {
            out.push(0x80 | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            out.push(0x80 | 127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
        out.extend_from_slice(&KEY);
        let start = out.len();
        out.extend_from_slice(&self.masked);
        let stamp = Self::stamp(conn, seq);
        for (at, byte) in (0..STAMP).chain(len - STAMP..len).zip(stamp.iter().cycle()) {
            out[start + at] = byte ^ KEY[at % 4];
        }
    }

    /// Panics unless `got` is bytes `offset..` of message `seq` of `conn`
    /// (masked as sent when `masked`).
    fn check(&self, conn: usize, seq: u64, offset: usize, got: &[u8], masked: bool) {
        let len = self.len;
        let end = offset + got.len();
        assert!(end <= len, "echo of message {seq} longer than {len} bytes");
        let pattern = if masked { &self.masked } else { &self.clear };
        let stamp = Self::stamp(conn, seq);
        let expected = |at: usize| -> u8 {
            let key = if masked { KEY[at % 4] } else { 0 };
            if at < STAMP {
                stamp[at] ^ key
            } else if at >= len - STAMP {
                stamp[at - (len - STAMP)] ^ key
            } else {
                pattern[at]
            }
        };
        // The stamps byte by byte, the pattern between them at once.
        let middle = offset.max(STAMP)..end.min(len - STAMP);
        if middle.start < middle.end {
            let here = &got[middle.start - offset..middle.end - offset];
            if here != &pattern[middle.clone()] {
                let at = here
                    .iter()
                    .zip(&pattern[middle.clone()])
                    .position(|(a, b)| a != b)
                    .unwrap_or(0);
                panic!(
                    "connection {conn}, message {seq}: echo differs at byte {}",
                    middle.start + at
                );
            }
        }
        for at in (offset..end).filter(|&at| at < STAMP || at >= len - STAMP) {
            assert!(
                got[at - offset] == expected(at),
                "connection {conn}, message {seq}: echo differs at byte {at} (a stamp)"
            );
        }
    }
}

/// Opens a connection and runs the client handshake; returns the stream
/// and any bytes read after the 101 answer's head.
pub async fn connect(addr: std::net::SocketAddr) -> (TcpStream, Vec<u8>) {
    connect_from(addr, None).await
}

/// [`connect`] from source address `source` (any port), so that clients
/// spread over 127.0.0.0/8 get past one address's range of ports. The port
/// is chosen at `connect` (`IP_BIND_ADDRESS_NO_PORT`), by the whole
/// four-tuple.
pub async fn connect_from(
    addr: std::net::SocketAddr,
    source: Option<std::net::IpAddr>,
) -> (TcpStream, Vec<u8>) {
    let (stream, _, leftover) = connect_with(addr, source, "").await;
    (stream, leftover)
}

/// [`connect_from`] with `headers` (whole lines, each ending in CRLF) added
/// to the request; also returns the answer's head.
pub async fn connect_with(
    addr: std::net::SocketAddr,
    source: Option<std::net::IpAddr>,
    headers: &str,
) -> (TcpStream, String, Vec<u8>) {
    let mut stream = loop {
        let attempt = match source.map(bound_socket) {
            None => TcpStream::connect(addr).await,
            Some(Ok(socket)) => socket.connect(addr).await,
            Some(Err(error)) => Err(error),
        };
        match attempt {
            Ok(stream) => break stream,
            // A full accept queue under 10,000 connections: try again.
            Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
        }
    };
    stream.set_nodelay(true).expect("TCP_NODELAY");
    let request = format!(
        "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{headers}\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .await
        .expect("write the request");
    let mut head = Vec::with_capacity(256);
    let mut buf = [0u8; 1024];
    let end = loop {
        let n = stream.read(&mut buf).await.expect("read the answer");
        assert!(n > 0, "the server closed during the handshake");
        head.extend_from_slice(&buf[..n]);
        if let Some(at) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "not a 101 answer: {:?}",
        String::from_utf8_lossy(&head[..end])
    );
    // The key of RFC 6455's example; its accept value is known.
    assert!(
        head.windows(28)
            .any(|w| w == b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
        "wrong Sec-WebSocket-Accept"
    );
    let leftover = head.split_off(end);
    (
        stream,
        String::from_utf8_lossy(&head).into_owned(),
        leftover,
    )
}

/// A socket bound to `ip`, its port left to `connect`.
pub(crate) fn bound_socket(ip: std::net::IpAddr) -> std::io::Result<TcpSocket> {
    use std::os::fd::AsRawFd;
    let socket = match ip {
        std::net::IpAddr::V4(_) => TcpSocket::new_v4()?,
        std::net::IpAddr::V6(_) => TcpSocket::new_v6()?,
    };
    let on: libc::c_int = 1;
    // SAFETY: setsockopt reads one int from the pointer, of the size given.
    let _ = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_BIND_ADDRESS_NO_PORT,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    socket.bind(std::net::SocketAddr::new(ip, 0))?;
    Ok(socket)
}

/// The reading side of a connection: parses the server's frames and
/// checks each echo in order.
pub(crate) struct Reader {
    pub(crate) conn: usize,
    payloads: Arc<Payloads>,
    masked: bool,
    /// The message being received.
    pub(crate) seq: u64,
    /// Bytes of it checked so far.
    offset: usize,
    /// Payload bytes left in the current frame; `None`: a header is next.
    in_frame: Option<usize>,
    /// The current frame is the last of its message.
    fin: bool,
    /// A frame of the current message was parsed.
    in_message: bool,
    /// `feed` stops once this many messages are complete: what follows
    /// (a ping, say) is left for the caller.
    pub(crate) until: u64,
}

impl Reader {
    pub(crate) fn new(conn: usize, payloads: Arc<Payloads>, masked: bool) -> Self {
        Reader {
            conn,
            payloads,
            masked,
            seq: 0,
            offset: 0,
            in_frame: None,
            fin: false,
            in_message: false,
            until: u64::MAX,
        }
    }

    /// Consumes what it can of `buf`; returns (bytes used, messages
    /// completed).
    pub(crate) fn feed(&mut self, buf: &[u8]) -> (usize, u64) {
        let mut used = 0;
        let mut done = 0;
        loop {
            let left = match self.in_frame {
                Some(left) => left,
                None => {
                    let Some((header, len, fin)) = self.header(&buf[used..]) else {
                        break;
                    };
                    used += header;
                    self.fin = fin;
                    self.in_message = true;
                    len
                }
            };
            let take = left.min(buf.len() - used);
            if take > 0 {
                let got = &buf[used..used + take];
                self.payloads
                    .check(self.conn, self.seq, self.offset, got, self.masked);
                used += take;
                self.offset += take;
            }
            if left > take {
                self.in_frame = Some(left - take);
                break;
            }
            self.in_frame = None;
            if self.fin {
                self.end_message();
                done += 1;
                if self.seq == self.until {
                    break;
                }
            }
        }
        (used, done)
    }

    fn end_message(&mut self) {
        assert!(
            self.offset == self.payloads.len,
            "connection {}, message {}: echo of {} bytes, sent {}",
            self.conn,
            self.seq,
            self.offset,
            self.payloads.len
        );
        self.seq += 1;
        self.offset = 0;
        self.in_message = false;
    }

    /// Parses a frame header: (header bytes, payload length, FIN).
    fn header(&self, buf: &[u8]) -> Option<(usize, usize, bool)> {
        if buf.len() < 2 {
            return None;
        }
        let fin = buf[0] & 0x80 != 0;
        let opcode = buf[0] & 0x0f;
        // A binary frame starts a message, continuations follow it.
        let expected = if self.in_message { 0x0 } else { 0x2 };
        assert!(
            opcode == expected,
            "connection {}: frame opcode {opcode:#x}, expected {expected:#x}",
            self.conn
        );
        let masked = buf[1] & 0x80 != 0;
        assert_eq!(masked, self.masked, "mask bit of the echo");
        let (len, mut at) = match buf[1] & 0x7f {
            126 => {
                if buf.len() < 4 {
                    return None;
                }
                (u16::from_be_bytes([buf[2], buf[3]]) as usize, 4)
            }
            127 => {
                if buf.len() < 10 {
                    return None;
                }
                let bytes: [u8; 8] = buf[2..10].try_into().expect("8 bytes");
                (u64::from_be_bytes(bytes) as usize, 10)
            }
            n => (n as usize, 2),
        };
        if masked {
            if buf.len() < at + 4 {
                return None;
            }
            assert_eq!(buf[at..at + 4], KEY, "the echo's masking key");
            at += 4;
        }
        Some((at, len, fin))
    }
}

/// The shared counters of one measurement.
struct Shared {
    echoed: AtomicU64,
    stop: AtomicBool,
}

/// Messages per second echoed by `server` with `conns` connections of
/// `in_flight` messages of `size` bytes, and its CPU time per message:
/// counted over `window` after `warmup`. Panics if an echo is wrong or a
/// connection ends.
pub async fn measure(
    server: &crate::child::ServerProcess,
    raw: bool,
    conns: usize,
    size: usize,
    in_flight: usize,
    warmup: Duration,
    window: Duration,
) -> Measured {
    let addr = server.addr;
    let payloads = Payloads::new(size);
    let mut streams = Vec::with_capacity(conns);
    for conn in 0..conns {
        let (stream, leftover) = connect(addr).await;
        let sender = Sender {
            conn,
            payloads: payloads.clone(),
        };
        let reader = Reader::new(conn, payloads.clone(), raw);
        streams.push((stream, leftover, sender, reader));
    }
    measure_server(streams, in_flight, warmup, window, Some(server.pid())).await
}

/// What one window of [`measure`] saw.
#[derive(Clone, Copy, Debug)]
pub struct Measured {
    /// Echoed messages per second.
    pub rate: f64,
    /// Seconds of the server process's CPU (user and system, all its
    /// threads) per echoed message over the window: what the server pays
    /// for a message however the load generator shares the cores.
    pub server_cpu: f64,
    /// Minor page faults of the server process per echoed message over
    /// the window: memory the allocator took fresh from the kernel.
    pub server_faults: f64,
}

/// What writes a connection's messages: message `seq` appended to `out`.
pub trait Encode: Send + 'static {
    /// Appends message `seq` as the frames a client sends.
    fn encode(&mut self, seq: u64, out: &mut Vec<u8>);
}

/// What reads a connection's echoes, checking each.
pub trait Feed: Send + 'static {
    /// Consumes what it can of `buf`; returns (bytes used, messages
    /// completed). Panics on a wrong echo.
    fn feed(&mut self, buf: &[u8]) -> (usize, u64);
    /// The connection's number, for messages.
    fn conn(&self) -> usize;
}

/// The masked binary frames of [`Payloads`].
struct Sender {
    conn: usize,
    payloads: Arc<Payloads>,
}

impl Encode for Sender {
    fn encode(&mut self, seq: u64, out: &mut Vec<u8>) {
        self.payloads.encode(self.conn, seq, out);
    }
}

impl Feed for Reader {
    fn feed(&mut self, buf: &[u8]) -> (usize, u64) {
        Reader::feed(self, buf)
    }
    fn conn(&self) -> usize {
        self.conn
    }
}

/// [`measure`] over connections already open (stream, bytes read after
/// the handshake, what writes its messages, what checks its echoes), with
/// `in_flight` messages on each.
pub async fn measure_with<E: Encode, F: Feed>(
    streams: Vec<(TcpStream, Vec<u8>, E, F)>,
    in_flight: usize,
    warmup: Duration,
    window: Duration,
) -> f64 {
    measure_server(streams, in_flight, warmup, window, None)
        .await
        .rate
}

/// [`measure_with`], also reading the CPU time of the server process
/// `server` (when given) over the window.
async fn measure_server<E: Encode, F: Feed>(
    streams: Vec<(TcpStream, Vec<u8>, E, F)>,
    in_flight: usize,
    warmup: Duration,
    window: Duration,
    server: Option<u32>,
) -> Measured {
    let cpu = || server.map_or(0.0, |pid| crate::fanout::cpu_seconds(&pid.to_string()));
    let faults = || server.map_or(0, |pid| crate::fanout::minor_faults(&pid.to_string()));
    let shared = Arc::new(Shared {
        echoed: AtomicU64::new(0),
        stop: AtomicBool::new(false),
    });
    let mut tasks = Vec::with_capacity(2 * streams.len());
    for (conn, (stream, leftover, sender, reader)) in streams.into_iter().enumerate() {
        let (read, write) = stream.into_split();
        let credits = Arc::new(Semaphore::new(in_flight));
        tasks.push(tokio::spawn(write_loop(
            conn,
            write,
            sender,
            credits.clone(),
            shared.clone(),
        )));
        tasks.push(tokio::spawn(read_loop(
            reader,
            read,
            leftover,
            credits,
            shared.clone(),
        )));
    }
    tokio::time::sleep(warmup).await;
    let (start, before, cpu_before, faults_before) = (
        Instant::now(),
        shared.echoed.load(Ordering::Relaxed),
        cpu(),
        faults(),
    );
    tokio::time::sleep(window).await;
    let (elapsed, after, cpu_after, faults_after) = (
        start.elapsed(),
        shared.echoed.load(Ordering::Relaxed),
        cpu(),
        faults(),
    );
    shared.stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.abort();
        if let Err(error) = task.await
            && error.is_panic()
        {
            std::panic::resume_unwind(error.into_panic());
        }
    }
    let echoed = (after - before) as f64;
    Measured {
        rate: echoed / elapsed.as_secs_f64(),
        server_cpu: (cpu_after - cpu_before) / echoed.max(1.0),
        server_faults: (faults_after - faults_before) as f64 / echoed.max(1.0),
    }
}

async fn write_loop(
    conn: usize,
    mut write: OwnedWriteHalf,
    mut sender: impl Encode,
    credits: Arc<Semaphore>,
    shared: Arc<Shared>,
) {
    let mut seq = 0u64;
    let mut out = Vec::new();
    loop {
        // Wait for one free slot, then take every free slot: the echoes
        // that came back together are replaced in one write.
        credits.acquire().await.expect("open semaphore").forget();
        let mut n = 1;
        while let Ok(permit) = credits.try_acquire() {
            permit.forget();
            n += 1;
        }
        out.clear();
        for _ in 0..n {
            sender.encode(seq, &mut out);
            seq += 1;
        }
        if write.write_all(&out).await.is_err() {
            assert!(
                shared.stop.load(Ordering::Relaxed),
                "connection {conn}: the server stopped reading"
            );
            return;
        }
    }
}

async fn read_loop(
    mut reader: impl Feed,
    mut read: OwnedReadHalf,
    leftover: Vec<u8>,
    credits: Arc<Semaphore>,
    shared: Arc<Shared>,
) {
    let mut buf = vec![0u8; 256 << 10];
    let mut filled = leftover.len();
    buf[..filled].copy_from_slice(&leftover);
    loop {
        let (used, done) = reader.feed(&buf[..filled]);
        buf.copy_within(used..filled, 0);
        filled -= used;
        if done > 0 {
            shared.echoed.fetch_add(done, Ordering::Relaxed);
            credits.add_permits(done as usize);
        }
        let n = read.read(&mut buf[filled..]).await.unwrap_or(0);
        if n == 0 {
            assert!(
                shared.stop.load(Ordering::Relaxed),
                "connection {}: the server closed the connection",
                reader.conn()
            );
            return;
        }
        filled += n;
    }
}

/// Opens `n` connections to `addr`, each sending one `size`-byte message
/// and checking its echo; returns the open connections. At most
/// `parallel` handshakes are under way at once.
pub async fn open_idle(
    addr: std::net::SocketAddr,
    raw: bool,
    n: usize,
    size: usize,
    parallel: usize,
) -> Vec<TcpStream> {
    let payloads = Payloads::new(size);
    let gate = Arc::new(Semaphore::new(parallel));
    let mut tasks = Vec::with_capacity(n);
    for conn in 0..n {
        let (payloads, gate) = (payloads.clone(), gate.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire().await.expect("open semaphore");
            open_one(addr, None, raw, conn, &payloads).await.0
        }));
    }
    let mut streams = Vec::with_capacity(n);
    for task in tasks {
        streams.push(task.await.expect("an idle connection"));
    }
    streams
}

/// Opens connection number `conn` to `addr` (from `source`, see
/// [`connect_from`]), sends it message 0 of `payloads` and checks the echo;
/// returns the stream and any bytes read after the echo.
pub async fn open_one(
    addr: std::net::SocketAddr,
    source: Option<std::net::IpAddr>,
    raw: bool,
    conn: usize,
    payloads: &Arc<Payloads>,
) -> (TcpStream, Vec<u8>) {
    let (mut stream, leftover) = connect_from(addr, source).await;
    let mut out = Vec::new();
    payloads.encode(conn, 0, &mut out);
    stream.write_all(&out).await.expect("send the message");
    let mut reader = Reader::new(conn, payloads.clone(), raw);
    reader.until = 1;
    let mut buf = leftover;
    let mut chunk = [0u8; 512];
    loop {
        let (used, done) = reader.feed(&buf);
        buf.drain(..used);
        if done == 1 {
            return (stream, buf);
        }
        let got = stream.read(&mut chunk).await.expect("read the echo");
        assert!(got > 0, "connection {conn}: closed before the echo");
        buf.extend_from_slice(&chunk[..got]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A frame encoded then read back (clear, as a server sends it) is
    /// accepted, whole or in pieces, and a changed byte is caught.
    #[test]
    fn reader_checks_every_byte() {
        for len in [16, 17, 200, 70_000] {
            let payloads = Payloads::new(len);
            let mut masked = Vec::new();
            payloads.encode(3, 0, &mut masked);
            payloads.encode(3, 1, &mut masked);
            // The client frames as a raw echo returns them.
            let mut reader = Reader::new(3, payloads.clone(), true);
            assert_eq!(reader.feed(&masked), (masked.len(), 2));
            // Unmasked, in two frames each, fed one byte at a time.
            let mut clear = Vec::new();
            for seq in 0..2u64 {
                let mut body = payloads.clear.clone();
                let stamp = Payloads::stamp(3, seq);
                body[..8].copy_from_slice(&stamp);
                body[len - 8..].copy_from_slice(&stamp);
                let (a, b) = body.split_at(len / 2);
                clear.push(0x02);
                push_len(&mut clear, a.len());
                clear.extend_from_slice(a);
                clear.push(0x80);
                push_len(&mut clear, b.len());
                clear.extend_from_slice(b);
            }
            let mut reader = Reader::new(3, payloads.clone(), false);
            let mut done = 0;
            let mut pending = Vec::new();
            for &byte in &clear {
                pending.push(byte);
                let (used, n) = reader.feed(&pending);
                pending.drain(..used);
                done += n;
            }
            assert_eq!(done, 2);
            for at in [0, len / 3, len - 1] {
                let mut bad = masked.clone();
                let header = masked.len() / 2 - len;
                bad[header + at] ^= 1;
                let mut reader = Reader::new(3, payloads.clone(), true);
                let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    reader.feed(&bad);
                }));
                assert!(caught.is_err(), "a changed byte {at} of {len} was missed");
            }
        }
    }

    fn push_len(out: &mut Vec<u8>, len: usize) {
        if len < 126 {
            out.push(len as u8);
        } else if len <= 0xffff {
            out.push(126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            out.push(127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
}
