//! A chat room: the page and the WebSocket on one port, on tokio and the
//! crate's tokio adapter, with no framework.
//!
//! ```text
//! cargo run --features tokio --example chat [ADDR] [--keepalive SECS] [--idle-timeout SECS]
//!     [--redis URL] [--presence-ttl SECS]
//! ```
//!
//! ADDR defaults to 127.0.0.1:3000. Open `http://127.0.0.1:3000/`, sign in
//! with a name, and chat with everyone, with one user, or inside a room.
//! `scripts/browser.sh` drives it in headless Chromium. Port 0 picks a free
//! port; the first line printed says which.
//!
//! The files: `main.rs` (this: the port, one task per TCP connection),
//! `http.rs` (the page and sign-in), `auth.rs` (tokens), `session.rs` (one
//! WebSocket: a reader and a writer), `hub.rs` (who is online, rooms,
//! history, what each message does), `cluster.rs` (several servers joined
//! through Redis), and the page, `index.html` and `chat.js`.
//!
//! # More than one server
//!
//! With `--redis redis://127.0.0.1:6379` (or `CHAT_REDIS` in the
//! environment) several chat servers share one room through Redis: group and
//! room messages are published once and every server relays them to its own
//! members; private messages go to the server holding their target; the user
//! list, the names, the room members and the history are kept in Redis; and
//! the token key is shared, so a page may sign in on one server and connect
//! to another. `--presence-ttl` (30 s by default) bounds how long the users
//! of a server that died without cleaning up stay listed. Redis must be up
//! when a server starts; if it goes away later, servers go on (see
//! `cluster.rs` for what is shared and what happens meanwhile). Without the
//! flag the server runs alone, with no Redis needed.
//!
//! # One port, two protocols
//!
//! Each TCP connection gets a thread that feeds what it reads to a
//! [`ServerHandshake`] until the request head is whole. The handshake says
//! whether it is an [`Incoming::Upgrade`] or an [`Incoming::Plain`] request:
//!
//! - `GET /` and `GET /chat.js`: the page (`examples/chat/`, embedded).
//! - `POST /login` with the form body `name=alice` (or `GET /login?name=alice`):
//!   answers `{"name":"alice","token":"alice.3f7a…"}`, or 400 for a bad name
//!   and 409 for a name already online, with `{"error":"…"}`.
//! - `GET /?token=…` with `Upgrade: websocket`: the chat. A missing or bad
//!   token is refused at the handshake with **401**, a name already online
//!   with 409, before any frame.
//!
//! # The token, and what it guards
//!
//! A token is `NAME.HMAC` where HMAC is HMAC-SHA256 (the `hmac` and `sha2`
//! crates) of the name, keyed with 32 random bytes drawn when the process
//! starts. It guards one thing: a WebSocket speaks as the
//! name the token carries, and only this process could have issued that token,
//! so nobody can connect as `bob` by editing the URL without going through
//! `/login`. It does **not** authenticate a person: sign-in asks no password,
//! so anyone may take any name that is not online. Tokens never expire and
//! cannot be revoked (until the process restarts and draws a new key), they
//! travel in the query string (so they land in logs and history), and over
//! plain `ws://` anyone on the path can read and replay them. A real service
//! would add passwords or an identity provider, expiry, TLS, and a cookie or a
//! first message instead of the query string.
//!
//! # Messages
//!
//! Every message is a JSON text frame with a `type` field. Binary frames are
//! answered with an `error`. The page sends:
//!
//! | `type` | fields | meaning |
//! |---|---|---|
//! | `group` | `text` | a message to everyone online |
//! | `private` | `to`, `text` | a message to one user |
//! | `room` | `room`, `text` | a message to the members of a room the sender is in |
//! | `join` | `room` | join a room (made when first joined) |
//! | `leave` | `room` | leave a room (gone when its last member leaves) |
//! | `ping` | | the page's heartbeat; answered with `pong` |
//!
//! The server sends:
//!
//! | `type` | fields | when |
//! |---|---|---|
//! | `hello` | `name`, `heartbeat` (ms) | first, on connect: how often the page should send `ping` |
//! | `pong` | | the answer to `ping` |
//! | `users` | `users`: sorted names | on connect, and to all whenever someone comes or goes |
//! | `group` | `from`, `text`, `time` | a group message, to all (the sender included) |
//! | `private` | `from`, `to`, `text`, `time` | to the target, and a copy to the sender |
//! | `room` | `room`, `from`, `text`, `time` | to the room's members (the sender included) |
//! | `join` | `room`, `user`, `members` | to the room's members, the newcomer included |
//! | `leave` | `room`, `user`, `members` | to the members left and to the leaver |
//! | `history` | `room` (`null` for the group), `messages` | the last 20 group messages on connect; the room's last 20 on join |
//! | `error` | `message` | a request that could not be served, to its sender only |
//!
//! `time` is milliseconds since the Unix epoch. Names are 1 to 20 characters
//! of ASCII letters, digits, `_` and `-`; rooms 1 to 24 of the same; a text
//! at most 2000 characters.
//!
//! # Heartbeats, dead peers and reconnecting
//!
//! The server runs the keepalive: the adapter pings a page after
//! `--keepalive` seconds of silence (30 by default) and ends a connection
//! from which no byte came for `--idle-timeout` seconds (75 by default), so
//! a page whose machine vanished leaves everyone's online list within that
//! time. Browsers answer pings but cannot send them, nor see the server's;
//! so the page sends its own heartbeat, a `ping` message every `heartbeat`
//! ms (the server says how often in `hello`: its keepalive, at most 5 s),
//! and takes the connection for dead when nothing at all came for two
//! heartbeats and a second. A server that was killed shows up sooner, as the
//! socket's `close`. Either way the page says it is reconnecting and
//! reconnects with backoff (0.25 s, doubling to 5 s, with jitter), signing
//! in again when the server no longer knows its token (a restarted server
//! draws a new key). Back, it joins its rooms again and shows the history it
//! missed (up to the last 20 messages, those it already shows left out).
//! After the user signs out it does not reconnect.
//!
//! # Tasks and back-pressure
//!
//! Each WebSocket is split ([`into_split`](rfc6455::io::tokio::WebSocketStream::into_split)): its task reads
//! the `ReadHalf` (which also answers pings and runs the timers) and hands
//! each message to the hub; a writer task owns the `WriteHalf`. Anything for
//! a client goes through that client's bounded queue (a tokio `mpsc` of
//! [`QUEUE_BOUND`](session::QUEUE_BOUND) messages), filled with `try_send`
//! under the hub's lock, so a slow reader never stalls the sender or the
//! others:
//!
//! - A client whose queue is full is dropped from the hub and closed with
//!   **1008** (policy violation, "too slow"). If it does not answer the close
//!   within the close timeout (5 s), or a write blocks for longer than
//!   [`WRITE_TIMEOUT`](session::WRITE_TIMEOUT), the socket is shut down.
//!   Memory per client is thus bounded by `QUEUE_BOUND` handles plus what
//!   its connection has queued (its high-water mark, 128 KiB, and one
//!   message): the messages themselves are shared.
//! - Every message leaves the hub as one [`PreparedMessage`](rfc6455::PreparedMessage),
//!   framed once and compressed at most once (the server agrees
//!   permessage-deflate in shared mode, `DeflateConfig::shared`, with
//!   every page), however many members
//!   get it: a group message to a thousand members is one copy of its
//!   bytes, not a thousand.
//! - A client that sends faster than it reads what comes back (each message
//!   it sends queues a copy for it) is slowed, not dropped: while its own
//!   queue is over half full, its reader reads nothing more from its socket,
//!   and TCP flow control pushes back on it.
//!
//! Why tokio and not threads: a chat connection needs a reader and a writer
//! at once, which the tokio adapter's split halves give with no lock held
//! across I/O, and the reader runs the timers. The blocking adapter is one
//! object for one thread.

mod auth;
mod cluster;
mod http;
mod hub;
mod session;

use std::io;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rfc6455::Config;
use rfc6455::deflate::DeflateConfig;
use rfc6455::handshake::{Incoming, Limits, ServerHandshake, Status};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::auth::Signer;
use crate::cluster::Cluster;
use crate::hub::Hub;

/// Largest WebSocket message the server takes from a page.
const MAX_MESSAGE: u64 = 16 * 1024;
/// Time for a client to send its request head (and a login body).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest heartbeat a page is asked for: it notices a dead server
/// within two of them and a second.
const MAX_HEARTBEAT: Duration = Duration::from_secs(5);

/// How long the Redis entries of a server's users outlive their last
/// refresh (`--presence-ttl`).
const PRESENCE_TTL: Duration = Duration::from_secs(30);

const USAGE: &str = "usage: chat [ADDR] [--keepalive SECS] [--idle-timeout SECS] [--redis URL] [--presence-ttl SECS]";

/// What the command line says.
struct Options {
    addr: String,
    config: Config,
    /// `--redis`, or `CHAT_REDIS`.
    redis: Option<String>,
    presence_ttl: Duration,
}

/// What every connection shares.
pub struct Server {
    signer: Signer,
    hub: Mutex<Hub>,
    config: Config,
    /// With `--redis`: the link to the other servers.
    cluster: Option<Arc<Cluster>>,
}

impl Server {
    /// The hub; never held across an `.await`.
    pub fn hub(&self) -> MutexGuard<'_, Hub> {
        self.hub.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[tokio::main]
async fn main() -> io::Result<()> {
    let options = match parse(std::env::args().skip(1)) {
        Ok(parsed) => parsed,
        Err(message) => {
            eprintln!("{message}\n{USAGE}");
            std::process::exit(2);
        }
    };
    let Options {
        addr,
        config,
        redis,
        presence_ttl,
    } = options;
    let mut signer = Signer::new();
    let mut cluster = None;
    if let Some(url) = &redis {
        match Cluster::connect(url, presence_ttl, signer.key()).await {
            Ok((joined, key)) => {
                signer = Signer::with_key(key);
                cluster = Some(Arc::new(joined));
            }
            Err(e) => {
                eprintln!("chat: cannot reach Redis at {url}: {e}");
                std::process::exit(1);
            }
        }
    }
    let listener = TcpListener::bind(&addr).await?;
    println!("chat: listening on http://{}/", listener.local_addr()?);
    let heartbeat = config
        .keepalive_interval
        .map_or(MAX_HEARTBEAT, |k| k.min(MAX_HEARTBEAT));
    let (link, requests) = match &cluster {
        Some(cluster) => {
            let (link, requests) = cluster.link();
            (Some(link), Some(requests))
        }
        None => (None, None),
    };
    let server = Arc::new(Server {
        signer,
        hub: Mutex::new(Hub::new(heartbeat, config, link)),
        config,
        cluster: cluster.clone(),
    });
    if let (Some(cluster), Some(requests)) = (cluster, requests) {
        eprintln!("chat: joined through Redis as server {}", cluster.instance);
        tokio::spawn(cluster::run(Arc::clone(&server), cluster, requests));
    }
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let server = Arc::clone(&server);
        tokio::spawn(async move {
            if let Err(e) = handle(&server, stream).await {
                eprintln!("chat: connection ended: {e}");
            }
        });
    }
}

/// The address, the connection settings and the Redis link from the command
/// line: the values a server facing browsers should use, changed by the
/// flags.
fn parse(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let s = Duration::from_secs;
    let mut addr = "127.0.0.1:3000".to_string();
    let mut config = Config::default()
        .max_message_size(MAX_MESSAGE)
        .max_frame_size(MAX_MESSAGE)
        .keepalive_interval(s(30))
        .idle_timeout(s(75))
        .close_timeout(s(5))
        // Shared mode (`server_no_context_takeover` and
        // `client_no_context_takeover`): each message is compressed and
        // inflated from an empty window, so a broadcast is compressed once
        // and every member gets the same bytes (a `PreparedMessage` keeps
        // them), and an idle page holds no compressor or inflater: they are
        // borrowed from a pool for one message. A server may answer both
        // even when the client did not offer them (RFC 7692 sections 7.1.1.1
        // and 7.1.1.2); it costs some ratio on a chat's short texts.
        .deflate(DeflateConfig::shared());
    let mut redis = std::env::var("CHAT_REDIS")
        .ok()
        .filter(|url| !url.is_empty());
    let mut presence_ttl = PRESENCE_TTL;
    let mut first = true;
    while let Some(arg) = args.next() {
        if std::mem::take(&mut first) && !arg.starts_with("--") {
            addr = arg;
            continue;
        }
        let mut seconds = || -> Result<Duration, String> {
            let value = args
                .next()
                .ok_or(format!("{arg} needs a number of seconds"))?;
            value
                .parse()
                .ok()
                .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
                .filter(|d| !d.is_zero())
                .ok_or(format!("{arg}: not a positive number of seconds: {value}"))
        };
        config = match arg.as_str() {
            "--keepalive" => config.keepalive_interval(seconds()?),
            "--idle-timeout" => config.idle_timeout(seconds()?),
            "--presence-ttl" => {
                // Refreshed every third of it: at least 3 ms.
                presence_ttl = seconds()?.max(Duration::from_millis(3));
                config
            }
            "--redis" => {
                redis = Some(args.next().ok_or("--redis needs a URL")?);
                config
            }
            _ => return Err(format!("unknown argument: {arg}")),
        };
    }
    Ok(Options {
        addr,
        config,
        redis,
        presence_ttl,
    })
}

/// One TCP connection: read the request head, then answer a plain request
/// or run the chat. A client that sends its head (or a login body) too
/// slowly is dropped.
async fn handle(server: &Server, mut stream: TcpStream) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut handshake = ServerHandshake::new(Limits::default());
    let head = tokio::time::timeout(HANDSHAKE_TIMEOUT, async {
        let mut buf = [0u8; 4096];
        loop {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                return Ok::<_, io::Error>(None);
            }
            match handshake.receive(&buf[..n]) {
                Ok(Status::Partial) => {}
                Ok(Status::Complete(incoming)) => return Ok(Some(incoming)),
                Err(e) => {
                    stream.write_all(&e.response()).await?;
                    return Ok(None);
                }
            }
        }
    });
    let Ok(head) = head.await else {
        return Ok(()); // too slow: dropped
    };
    match head? {
        None => Ok(()),
        Some(Incoming::Plain(request)) => {
            let leftover = handshake.into_leftover();
            let answer = tokio::time::timeout(
                HANDSHAKE_TIMEOUT,
                http::answer(server, &mut stream, &request, &leftover),
            );
            match answer.await {
                Ok(answer) => stream.write_all(&answer).await,
                Err(_) => Ok(()),
            }
        }
        Some(Incoming::Upgrade(request)) => {
            let leftover = handshake.into_leftover();
            session::run(server, stream, request, &leftover).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_set_the_timers_and_bad_values_are_refused() {
        let args = |list: &[&str]| parse(list.iter().map(|s| s.to_string()));
        let options = args(&["127.0.0.1:0", "--keepalive", "1", "--idle-timeout", "3"]).unwrap();
        assert_eq!(options.addr, "127.0.0.1:0");
        assert_eq!(
            options.config.keepalive_interval,
            Some(Duration::from_secs(1))
        );
        assert_eq!(options.config.idle_timeout, Some(Duration::from_secs(3)));
        let options = args(&[]).unwrap();
        assert_eq!(options.config.idle_timeout, Some(Duration::from_secs(75)));
        assert_eq!(options.presence_ttl, PRESENCE_TTL);
        let options = args(&["--redis", "redis://127.0.0.1:1", "--presence-ttl", "2"]).unwrap();
        assert_eq!(options.redis.as_deref(), Some("redis://127.0.0.1:1"));
        assert_eq!(options.presence_ttl, Duration::from_secs(2));
        assert!(args(&["--redis"]).is_err());
        assert!(args(&["--presence-ttl", "0"]).is_err());
        assert!(args(&["--keepalive", "-1"]).is_err());
        assert!(args(&["--keepalive", "1e300"]).is_err());
        assert!(args(&["--idle-timeout"]).is_err());
        assert!(args(&["--nope", "1"]).is_err());
    }
}
