//! The misbehaving clients' wire, written by hand rather than with the crate
//! under test: the opening handshake, frames built byte by byte (so they can
//! break rules the crate would refuse to send), and a reader of the server's
//! frames.

use std::io;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The key and accept value of RFC 6455 section 1.3.
const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

pub const TEXT: u8 = 0x1;
pub const BINARY: u8 = 0x2;
pub const CONTINUATION: u8 = 0x0;
pub const CLOSE: u8 = 0x8;
pub const PING: u8 = 0x9;

/// The upgrade request; the faulty clients send it whole, in pieces, or
/// never finish it.
pub fn request(host: &str) -> Vec<u8> {
    format!(
        "GET /soak HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\
         User-Agent: rfc6455-soak, a client that misbehaves on purpose\r\n\r\n"
    )
    .into_bytes()
}

/// Connects and upgrades; the bytes read after the answer come back (a
/// server frame may follow the 101 in the same segment).
pub async fn connect(host: &str) -> Result<(TcpStream, Vec<u8>), String> {
    let mut stream = TcpStream::connect(host)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    stream
        .write_all(&request(host))
        .await
        .map_err(|e| format!("sending the request: {e}"))?;
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    let end = loop {
        if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        if head.len() > 4096 {
            return Err("an answer head over 4 KiB".into());
        }
        match stream.read(&mut buf).await {
            Ok(0) => return Err("the server closed during the handshake".into()),
            Ok(n) => head.extend_from_slice(&buf[..n]),
            Err(e) => return Err(format!("reading the answer: {e}")),
        }
    };
    let answer = String::from_utf8_lossy(&head[..end]);
    let accepted = answer.lines().any(|line| {
        line.split_once(':').is_some_and(|(name, value)| {
            name.eq_ignore_ascii_case("sec-websocket-accept") && value.trim() == ACCEPT
        })
    });
    if !answer.starts_with("HTTP/1.1 101 ") || !accepted {
        return Err(format!(
            "not a 101 with the right accept: {:?}",
            answer.lines().next()
        ));
    }
    Ok((stream, head[end..].to_vec()))
}

/// A frame header: FIN, the opcode, the payload length in its shortest
/// form (section 5.2), and a masking key if given.
pub fn header(opcode: u8, fin: bool, len: u64, mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut out = vec![opcode | if fin { 0x80 } else { 0 }];
    let masked = if mask.is_some() { 0x80 } else { 0 };
    match len {
        0..=125 => out.push(masked | len as u8),
        126..=0xffff => {
            out.push(masked | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            out.push(masked | 127);
            out.extend_from_slice(&len.to_be_bytes());
        }
    }
    out.extend_from_slice(&mask.unwrap_or_default()[..if mask.is_some() { 4 } else { 0 }]);
    out
}

/// A whole frame, its payload masked with `mask` if given.
pub fn frame(opcode: u8, fin: bool, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut out = header(opcode, fin, payload.len() as u64, mask);
    let key = mask.unwrap_or_default();
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    out
}

/// A frame from the server: unmasked (section 5.1), at most 1 MiB here.
pub struct Frame {
    pub opcode: u8,
    pub payload: Vec<u8>,
}

/// Reads the server's frames, from the bytes left after the handshake on.
pub struct Reader {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl Reader {
    pub fn new(stream: TcpStream, leftover: Vec<u8>) -> Self {
        Reader {
            stream,
            buf: leftover,
        }
    }

    /// The next frame, `Ok(None)` at a clean end of stream; a frame that
    /// breaks a rule the server must keep is an `InvalidData` error.
    pub async fn next(&mut self) -> io::Result<Option<Frame>> {
        loop {
            if let Some((frame, used)) = parse(&self.buf)? {
                self.buf.drain(..used);
                return Ok(Some(frame));
            }
            let mut chunk = [0u8; 16 << 10];
            let n = self.stream.read(&mut chunk).await?;
            if n == 0 {
                return match self.buf.is_empty() {
                    true => Ok(None),
                    false => Err(invalid("the stream ended inside a frame")),
                };
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Reads and drops what arrives; `Ok(false)` at the end of the stream.
    pub async fn skip(&mut self) -> io::Result<bool> {
        self.buf.clear();
        let mut chunk = [0u8; 16 << 10];
        Ok(self.stream.read(&mut chunk).await? > 0)
    }

    /// The next frame that is not a ping, within `limit`; pings (the
    /// keepalive) are counted into `pings`.
    pub async fn next_not_ping(
        &mut self,
        limit: Duration,
        pings: &mut u32,
    ) -> Result<io::Result<Option<Frame>>, String> {
        tokio::time::timeout(limit, async {
            loop {
                match self.next().await {
                    Ok(Some(frame)) if frame.opcode == PING => *pings += 1,
                    other => return other,
                }
            }
        })
        .await
        .map_err(|_| format!("nothing but pings for {limit:?}"))
    }
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

/// One whole server frame from the front of `buf`, and its length on the
/// wire.
fn parse(buf: &[u8]) -> io::Result<Option<(Frame, usize)>> {
    if buf.len() < 2 {
        return Ok(None);
    }
    if buf[1] & 0x80 != 0 {
        return Err(invalid("a masked frame from the server"));
    }
    if buf[0] & 0x70 != 0 {
        return Err(invalid("RSV bits set with no extension agreed"));
    }
    let (len, at) = match buf[1] & 0x7f {
        126 if buf.len() >= 4 => (u64::from(u16::from_be_bytes([buf[2], buf[3]])), 4),
        127 if buf.len() >= 10 => (u64::from_be_bytes(buf[2..10].try_into().unwrap()), 10),
        126 | 127 => return Ok(None),
        n => (u64::from(n), 2),
    };
    if len > 1 << 20 {
        return Err(invalid("a frame over 1 MiB"));
    }
    let end = at + len as usize;
    if buf.len() < end {
        return Ok(None);
    }
    let frame = Frame {
        opcode: buf[0] & 0x0f,
        payload: buf[at..end].to_vec(),
    };
    Ok(Some((frame, end)))
}

/// Whether an error is the peer's reset or a write after it left: a drop.
pub fn is_drop(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionAborted
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_take_the_shortest_length_form() {
        assert_eq!(header(TEXT, true, 5, None), [0x81, 5]);
        assert_eq!(header(BINARY, false, 126, None), [0x02, 126, 0, 126]);
        let long = header(BINARY, true, 1 << 20, Some([1, 2, 3, 4]));
        assert_eq!(long[..2], [0x82, 0xff]);
        assert_eq!(long[2..10], (1u64 << 20).to_be_bytes());
        assert_eq!(long[10..], [1, 2, 3, 4]);
    }

    #[test]
    fn a_frame_parses_back_and_a_masked_one_is_refused() {
        let wire = frame(CLOSE, true, &[0x03, 0xe8], None);
        let (frame, used) = parse(&wire).unwrap().unwrap();
        assert_eq!(
            (frame.opcode, frame.payload, used),
            (CLOSE, vec![3, 0xe8], 4)
        );
        assert!(parse(&wire[..3]).unwrap().is_none());
        assert!(parse(&super::frame(TEXT, true, b"x", Some([9; 4]))).is_err());
    }
}
