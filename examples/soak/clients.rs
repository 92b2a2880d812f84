//! The kinds of client, each with the outcome RFC 6455 and the server's
//! timers name for it. A client returns `Err` with a description when the
//! outcome was anything else.

use std::time::{Duration, Instant};

use rfc6455::deflate::DeflateConfig;
use rfc6455::handshake::ClientRequest;
use rfc6455::io::tokio::WebSocketStream;
use rfc6455::{CloseCode, Config, Message};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::raw::{self, BINARY, CLOSE, CONTINUATION, PING, Reader, TEXT};
use crate::{Rng, Shared, Timers};

/// Every kind, in the order of the table.
pub const KINDS: [Kind; 9] = [
    Kind::Echo,
    Kind::DropMidFrame,
    Kind::Reset,
    Kind::NoRead,
    Kind::Slowloris,
    Kind::Oversized,
    Kind::BadUtf8,
    Kind::Unmasked,
    Kind::Silent,
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Echo,
    DropMidFrame,
    Reset,
    NoRead,
    Slowloris,
    Oversized,
    BadUtf8,
    Unmasked,
    Silent,
}

impl Kind {
    /// The kind's name and the outcome it expects, for the table.
    pub fn describe(self) -> (&'static str, &'static str) {
        match self {
            Kind::Echo => (
                "echo",
                "every echo byte for byte (text and binary, 0 B-256 KiB), close 1000",
            ),
            Kind::DropMidFrame => ("drop mid-frame", "FIN inside a frame: EOF, no close frame"),
            Kind::Reset => (
                "reset",
                "RST (SO_LINGER 0) at a random point: nothing to see",
            ),
            Kind::NoRead => (
                "stops reading",
                "never reads (sends, or sends then closes or breaks a rule, then nothing): dropped by the send, idle or close timeout",
            ),
            Kind::Slowloris => (
                "slowloris",
                "request never finished: dropped at the handshake timeout, no answer",
            ),
            Kind::Oversized => ("oversized", "over --max-message: close 1009"),
            Kind::BadUtf8 => ("invalid UTF-8", "text not UTF-8: close 1007"),
            Kind::Unmasked => ("unmasked", "an unmasked frame: close 1002"),
            Kind::Silent => (
                "silent",
                "no byte, no close: pings, then dropped at the idle timeout",
            ),
        }
    }

    /// How often each kind is drawn, out of the sum.
    pub fn weight(self) -> u32 {
        match self {
            Kind::Echo => 8,
            _ => 1,
        }
    }

    /// The longest this kind may take before it counts as hung.
    pub fn limit(self, t: &Timers) -> Duration {
        let slack = t.slack;
        match self {
            Kind::Echo => Duration::from_secs(30),
            Kind::Silent => t.idle + slack * 3,
            Kind::NoRead => t.send + t.idle + t.close + slack * 4,
            Kind::Slowloris => t.handshake + slack * 3,
            _ => slack * 4,
        }
    }

    pub async fn run(
        self,
        host: &str,
        t: &Timers,
        rng: &mut Rng,
        shared: &Shared,
    ) -> Result<(), String> {
        match self {
            Kind::Echo => echo(host, rng, shared).await,
            Kind::DropMidFrame => drop_mid_frame(host, t, rng).await,
            Kind::Reset => reset(host, rng).await,
            Kind::NoRead => no_read(host, t, rng).await,
            Kind::Slowloris => slowloris(host, t, rng).await,
            Kind::Oversized => oversized(host, t, rng).await,
            Kind::BadUtf8 => bad_utf8(host, t, rng).await,
            Kind::Unmasked => unmasked(host, t, rng).await,
            Kind::Silent => silent(host, t, rng).await,
        }
    }
}

/// A message of a random kind and size; text mixes one- to four-byte
/// characters.
fn random_message(rng: &mut Rng) -> Message {
    let size = match rng.below(10) {
        0..=5 => rng.below(126),
        6..=8 => 126 + rng.below(16 << 10),
        _ => (16 << 10) + rng.below(240 << 10),
    } as usize;
    if rng.below(2) == 0 {
        Message::binary((0..size).map(|_| rng.next_u64() as u8).collect::<Vec<u8>>())
    } else {
        const CHARS: [char; 6] = ['a', 'Z', ' ', 'é', '€', '𝄞'];
        let mut text = String::with_capacity(size + 4);
        while text.len() < size {
            text.push(CHARS[rng.below(CHARS.len() as u64) as usize]);
        }
        Message::text(text)
    }
}

/// Rounds of one to four messages in flight, each echo compared with what
/// was sent, then a close with 1000 that the server must answer with 1000.
/// It reads while it writes (split halves), as a client must when a round
/// can outgrow the socket buffers both ways. Half of them offer
/// permessage-deflate.
async fn echo(host: &str, rng: &mut Rng, shared: &Shared) -> Result<(), String> {
    let mut config = Config::default();
    if rng.below(2) == 0 {
        config = config.deflate(Some(DeflateConfig::default()));
    }
    let request = ClientRequest::new(&format!("ws://{host}/echo")).map_err(|e| e.to_string())?;
    let ws = WebSocketStream::connect_with(request, config)
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    let (mut read, mut write) = ws.into_split();
    for _ in 0..1 + rng.below(8) {
        let sent: Vec<Message> = (0..1 + rng.below(4)).map(|_| random_message(rng)).collect();
        let writing = async {
            for message in &sent {
                shared.sent(message);
                write
                    .feed(message.clone())
                    .await
                    .map_err(|e| format!("send: {e}"))?;
            }
            write.flush().await.map_err(|e| format!("flush: {e}"))
        };
        let reading = async {
            for message in &sent {
                match read.recv().await {
                    Some(Ok(echo)) if echo == *message => shared.echoed(message),
                    Some(Ok(echo)) => {
                        return Err(format!(
                            "an echo differs: sent {} B, got {} B",
                            message.len(),
                            echo.len()
                        ));
                    }
                    Some(Err(e)) => return Err(format!("waiting for an echo: {e}")),
                    None => return Err("the server closed before echoing".into()),
                }
            }
            Ok(())
        };
        tokio::try_join!(writing, reading)?;
        tokio::time::sleep(Duration::from_millis(rng.below(300))).await;
    }
    write
        .close(CloseCode::Normal, "bye")
        .await
        .map_err(|e| format!("close: {e}"))?;
    match read.recv().await {
        None => {}
        Some(other) => return Err(format!("after our close: {other:?}")),
    }
    match read.peer_close().map(|frame| frame.code()) {
        Some(CloseCode::Normal) => Ok(()),
        other => Err(format!("the server's close code: {other:?}, not 1000")),
    }
}

fn mask(rng: &mut Rng) -> [u8; 4] {
    (rng.next_u64() as u32).to_be_bytes()
}

/// Reads what the server sends after this client's fault: pings only, then
/// a close frame with `code` (or none), then the end of the stream (a reset
/// counts as an end once the close frame, if any, arrived).
async fn expect_end(mut reader: Reader, code: Option<u16>, limit: Duration) -> Result<(), String> {
    let mut pings = 0;
    let mut code_seen = None;
    loop {
        match reader.next_not_ping(limit, &mut pings).await? {
            Ok(Some(frame)) if frame.opcode == CLOSE && code_seen.is_none() => {
                let got = frame
                    .payload
                    .get(..2)
                    .map(|c| u16::from_be_bytes([c[0], c[1]]));
                if got.is_none() || got != code {
                    return Err(format!("close code {got:?}, expected {code:?}"));
                }
                code_seen = got;
            }
            Ok(Some(frame)) => return Err(format!("an unexpected frame, opcode {}", frame.opcode)),
            Ok(None) => break,
            Err(e) if raw::is_drop(&e) && code_seen.is_some() => break,
            Err(e) => return Err(format!("reading: {e}")),
        }
    }
    match (code, code_seen) {
        (Some(code), None) => Err(format!("the end of the stream without close {code}")),
        _ => Ok(()),
    }
}

/// A frame cut short by a FIN (then waiting for the server's end: no close
/// frame, since 1006 is never sent) or by dropping the socket.
async fn drop_mid_frame(host: &str, t: &Timers, rng: &mut Rng) -> Result<(), String> {
    let (mut stream, leftover) = raw::connect(host).await?;
    let len = 2 + rng.below(100_000);
    let mut wire = raw::frame(BINARY, true, &vec![7; len as usize], Some(mask(rng)));
    wire.truncate(1 + rng.below(wire.len() as u64 - 1) as usize);
    stream.write_all(&wire).await.map_err(|e| e.to_string())?;
    if rng.below(2) == 0 {
        return Ok(());
    }
    stream.shutdown().await.map_err(|e| e.to_string())?;
    expect_end(Reader::new(stream, leftover), None, t.slack).await
}

/// SO_LINGER 0 then drop: a reset, before, inside or after the handshake,
/// or inside a frame.
async fn reset(host: &str, rng: &mut Rng) -> Result<(), String> {
    let stream = match rng.below(4) {
        0 => TcpStream::connect(host).await.map_err(|e| e.to_string())?,
        1 => {
            let mut stream = TcpStream::connect(host).await.map_err(|e| e.to_string())?;
            let request = raw::request(host);
            let cut = rng.below(request.len() as u64) as usize;
            stream
                .write_all(&request[..cut])
                .await
                .map_err(|e| e.to_string())?;
            stream
        }
        2 => raw::connect(host).await?.0,
        _ => {
            let (mut stream, _) = raw::connect(host).await?;
            let wire = raw::frame(TEXT, true, &[b'x'; 3000], Some(mask(rng)));
            let cut = rng.below(wire.len() as u64) as usize;
            stream
                .write_all(&wire[..cut])
                .await
                .map_err(|e| e.to_string())?;
            stream
        }
    };
    // Zero linger does not block the thread on drop.
    #[allow(deprecated)]
    stream
        .set_linger(Some(Duration::ZERO))
        .map_err(|e| e.to_string())?;
    drop(stream);
    Ok(())
}

/// Writes 32 KiB messages and never reads, until the server drops it; or
/// writes some, then a close frame or a broken frame, and goes silent, so
/// that the server's answer can never leave: the close timeout must end it.
/// (The caller's time limit makes a server that never drops it a failure.)
async fn no_read(host: &str, t: &Timers, rng: &mut Rng) -> Result<(), String> {
    let (mut stream, leftover) = raw::connect(host).await?;
    let key = Some(mask(rng));
    let wire = raw::frame(BINARY, true, &[0x5a; 32 << 10], key);
    let last = match rng.below(3) {
        0 => None,
        1 => Some(raw::frame(CLOSE, true, &1000u16.to_be_bytes(), key)),
        _ => Some(raw::frame(TEXT, true, b"\xff", key)),
    };
    let frames = last.as_ref().map_or(u64::MAX, |_| 1 + rng.below(256));
    for _ in 0..frames {
        match stream.write_all(&wire).await {
            Ok(()) => {}
            Err(e) if raw::is_drop(&e) => return Ok(()),
            Err(e) => return Err(format!("writing: {e}")),
        }
    }
    match stream.write_all(&last.unwrap_or_default()).await {
        Ok(()) => {}
        Err(e) if raw::is_drop(&e) => return Ok(()),
        Err(e) => return Err(format!("writing: {e}")),
    }
    // Nothing read until the server must have given up (by its send
    // timeout if it stopped reading us, by the close timeout if it sent
    // its answer), then everything: it must end without waiting for us.
    tokio::time::sleep(t.send + t.close + t.slack).await;
    let mut reader = Reader::new(stream, leftover);
    let drained = tokio::time::timeout(t.slack * 2, async {
        loop {
            match reader.skip().await {
                Ok(true) => {}
                Ok(false) => return Ok(()),
                Err(e) if raw::is_drop(&e) => return Ok(()),
                Err(e) => return Err(format!("reading: {e}")),
            }
        }
    });
    drained
        .await
        .map_err(|_| "still open after the send and close timeouts".to_string())?
}

/// The request a byte at a time, or a part of it then nothing: the server
/// must hang up at its handshake timeout, not before, and answer nothing.
async fn slowloris(host: &str, t: &Timers, rng: &mut Rng) -> Result<(), String> {
    let start = Instant::now();
    let mut stream = TcpStream::connect(host).await.map_err(|e| e.to_string())?;
    let request = raw::request(host);
    let trickle = rng.below(2) == 0;
    let mut sent = if trickle {
        0
    } else {
        let part = rng.below(request.len() as u64 - 4) as usize;
        stream
            .write_all(&request[..part])
            .await
            .map_err(|e| e.to_string())?;
        request.len()
    };
    let (mut reader, mut writer) = stream.split();
    let mut buf = [0u8; 256];
    let step = Duration::from_millis(100 + rng.below(200));
    let ended = loop {
        tokio::select! {
            read = reader.read(&mut buf) => match read {
                Ok(0) => break Ok(()),
                Ok(n) => return Err(format!("answered {n} bytes: {:?}", String::from_utf8_lossy(&buf[..n]))),
                Err(e) => break Err(e),
            },
            () = tokio::time::sleep(step) => {
                // Never the last four bytes: the request stays unfinished.
                if sent + 4 < request.len() {
                    if let Err(e) = writer.write_all(&request[sent..sent + 1]).await {
                        break Err(e);
                    }
                    sent += 1;
                }
            }
        }
    };
    match ended {
        Ok(()) => {}
        Err(e) if raw::is_drop(&e) => {}
        Err(e) => return Err(format!("reading: {e}")),
    }
    let took = start.elapsed();
    let early = t.handshake.saturating_sub(Duration::from_millis(100));
    if took < early {
        return Err(format!(
            "dropped after {took:?}, before the handshake timeout"
        ));
    }
    Ok(())
}

/// A message over the limit: one frame that announces it, or a first
/// fragment under it and a continuation that crosses it.
async fn oversized(host: &str, t: &Timers, rng: &mut Rng) -> Result<(), String> {
    let (mut stream, leftover) = raw::connect(host).await?;
    let max = t.max_message;
    let key = Some(mask(rng));
    let wire = if rng.below(2) == 0 {
        raw::header(BINARY, true, max + 1 + rng.below(1 << 20), key)
    } else {
        let half = max / 2 + 1;
        let mut wire = raw::frame(TEXT, false, &vec![b'a'; half as usize], key);
        wire.extend(raw::header(CONTINUATION, true, half, key));
        wire
    };
    stream.write_all(&wire).await.map_err(|e| e.to_string())?;
    expect_end(Reader::new(stream, leftover), Some(1009), t.slack).await
}

/// Text that is not UTF-8: a bad byte, a surrogate in a continuation, or a
/// message that ends inside a character.
async fn bad_utf8(host: &str, t: &Timers, rng: &mut Rng) -> Result<(), String> {
    let (mut stream, leftover) = raw::connect(host).await?;
    let key = Some(mask(rng));
    let wire = match rng.below(3) {
        0 => raw::frame(TEXT, true, b"caf\xc3\xa9 \xff ok", key),
        1 => {
            let mut wire = raw::frame(TEXT, false, "h\u{e9}llo ".as_bytes(), key);
            wire.extend(raw::frame(CONTINUATION, true, b"\xed\xa0\x80", key));
            wire
        }
        _ => raw::frame(TEXT, true, b"euro \xe2\x82", key),
    };
    stream.write_all(&wire).await.map_err(|e| e.to_string())?;
    expect_end(Reader::new(stream, leftover), Some(1007), t.slack).await
}

/// A frame without a mask (section 5.1: the server must fail the
/// connection).
async fn unmasked(host: &str, t: &Timers, rng: &mut Rng) -> Result<(), String> {
    let (mut stream, leftover) = raw::connect(host).await?;
    let opcode = [TEXT, BINARY, PING][rng.below(3) as usize];
    let wire = raw::frame(opcode, true, b"not masked", None);
    stream.write_all(&wire).await.map_err(|e| e.to_string())?;
    expect_end(Reader::new(stream, leftover), Some(1002), t.slack).await
}

/// After the handshake (and maybe one echo), nothing: no byte, no read.
/// After the idle timeout the socket must hold the keepalive's pings and
/// the server's end of the stream, with no close frame (1006 is never sent).
async fn silent(host: &str, t: &Timers, rng: &mut Rng) -> Result<(), String> {
    let (mut stream, leftover) = raw::connect(host).await?;
    let mut reader = if rng.below(2) == 0 {
        stream
            .write_all(&raw::frame(TEXT, true, b"hello", Some(mask(rng))))
            .await
            .map_err(|e| e.to_string())?;
        let mut reader = Reader::new(stream, leftover);
        let mut pings = 0;
        match reader.next_not_ping(t.slack, &mut pings).await? {
            Ok(Some(frame)) if frame.opcode == TEXT && frame.payload == b"hello" => {}
            other => return Err(format!("no echo: {:?}", other.map(|f| f.map(|f| f.opcode)))),
        }
        reader
    } else {
        Reader::new(stream, leftover)
    };
    tokio::time::sleep(t.idle + t.slack).await;
    let mut pings = 0;
    match reader.next_not_ping(t.slack, &mut pings).await? {
        Ok(None) => {}
        Ok(Some(frame)) => return Err(format!("a frame of opcode {}", frame.opcode)),
        Err(e) if raw::is_drop(&e) => {}
        Err(e) => return Err(format!("reading: {e}")),
    }
    if t.keepalive < t.idle && pings == 0 {
        return Err("dropped without a keepalive ping first".into());
    }
    Ok(())
}
