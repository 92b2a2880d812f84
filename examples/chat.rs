//! A chat room: the page and the WebSocket on one port, on `std::net` and
//! threads, with no framework.
//!
//! ```text
//! cargo run --example chat [ADDR]        # ADDR defaults to 127.0.0.1:3000
//! ```
//!
//! Open `http://127.0.0.1:3000/`, sign in with a name, and chat with everyone,
//! with one user, or inside a room. `scripts/browser.sh` drives it in headless
//! Chromium. Port 0 picks a free port; the first line printed says which.
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
//! A token is `NAME.HMAC` where HMAC is HMAC-SHA1 (RFC 2104, built by hand
//! below on the `sha1` crate) of the name, keyed with 32 random bytes drawn
//! when the process starts. It guards one thing: a WebSocket speaks as the
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
//!
//! The server sends:
//!
//! | `type` | fields | when |
//! |---|---|---|
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
//! # Threads and back-pressure
//!
//! Each WebSocket has two threads sharing its sans-IO [`Connection`]: a reader
//! that feeds socket bytes in and handles the messages that come out, and a
//! writer that owns all writes to the socket. Anything for a client goes
//! through that client's bounded queue (`sync_channel` of [`QUEUE_BOUND`]
//! messages), filled with `try_send` under the hub's lock, so a slow reader
//! never stalls the sender or the others:
//!
//! - A client whose queue is full is dropped from the hub and closed with
//!   **1008** (policy violation, "too slow"). If it does not answer the close
//!   within [`CLOSE_TIMEOUT`], or a write blocks for longer than
//!   [`WRITE_TIMEOUT`], the socket is shut down. Memory per client is thus
//!   bounded by `QUEUE_BOUND` times the largest message.
//! - A client that sends faster than it reads what comes back (each message
//!   it sends queues a copy for it) is slowed, not dropped: while its own
//!   queue is over half full, its reader reads nothing more from its socket,
//!   and TCP flow control pushes back on it.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rfc6455::deflate::DeflateConfig;
use rfc6455::handshake::{
    Accept, HttpRequest, Incoming, Limits, Reject, ServerHandshake, Status, plain_response,
};
use rfc6455::{CloseCode, Config, Connection, Event, Message, Role, State};
use serde_json::{Value, json};
use sha1::{Digest, Sha1};

const PAGE: &str = include_str!("chat/index.html");
const SCRIPT: &str = include_str!("chat/chat.js");

/// Messages kept for newcomers, for the group and for each room.
const HISTORY_LEN: usize = 20;
/// Messages waiting for one client before it counts as too slow.
const QUEUE_BOUND: usize = 256;
/// Longest chat text, in characters.
const MAX_TEXT: usize = 2000;
/// Largest WebSocket message the server takes from a page.
const MAX_MESSAGE: u64 = 16 * 1024;
/// Longest login body.
const MAX_BODY: usize = 1024;
/// Time for a client to send its request head (and a login body).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Time one write may block before the client counts as gone.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Time a client gets to answer the close we sent it.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3000".into());
    let listener = TcpListener::bind(&addr)?;
    println!("chat: listening on http://{}/", listener.local_addr()?);
    let server = Arc::new(Server {
        signer: Signer::new(),
        hub: Mutex::new(Hub::default()),
    });
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let server = Arc::clone(&server);
        thread::spawn(move || {
            if let Err(e) = server.handle(stream) {
                eprintln!("chat: connection ended: {e}");
            }
        });
    }
    Ok(())
}

struct Server {
    signer: Signer,
    hub: Mutex<Hub>,
}

impl Server {
    fn hub(&self) -> MutexGuard<'_, Hub> {
        self.hub.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// One TCP connection: read the request head, then answer a plain request
    /// or run the chat.
    fn handle(&self, mut stream: TcpStream) -> io::Result<()> {
        stream.set_read_timeout(Some(HANDSHAKE_TIMEOUT))?;
        stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
        let mut handshake = ServerHandshake::new(Limits::default());
        let mut buf = [0u8; 4096];
        let incoming = loop {
            let n = stream.read(&mut buf)?;
            if n == 0 {
                return Ok(());
            }
            match handshake.receive(&buf[..n]) {
                Ok(Status::Partial) => {}
                Ok(Status::Complete(incoming)) => break incoming,
                Err(e) => return stream.write_all(&e.response()),
            }
        };
        let request = match incoming {
            Incoming::Plain(request) => {
                let answer = self.plain(&mut stream, &request, handshake.leftover());
                return stream.write_all(&answer);
            }
            Incoming::Upgrade(request) => request,
        };

        let name = request
            .query_param("token")
            .and_then(|token| self.signer.verify(&token));
        let refusal = match &name {
            _ if request.path() != "/" => Some((404, "no chat here")),
            None => Some((401, "missing or bad token: sign in first")),
            Some(_) => None,
        };
        if let Some((status, why)) = refusal {
            let mut reject = Reject::new(status).header("Content-Type", "text/plain");
            if status == 401 {
                reject = reject.header("WWW-Authenticate", "Bearer realm=\"chat\"");
            }
            return stream.write_all(&request.reject(reject.body(why)).map_err(io::Error::other)?);
        }
        let name = name.unwrap_or_default();

        // Browsers offer permessage-deflate on every connection; the room
        // accepts it. Messages under the default 1 KiB threshold still go
        // out as they are.
        let config = Config::default()
            .max_message_size(MAX_MESSAGE)
            .max_frame_size(MAX_MESSAGE)
            .deflate(DeflateConfig::default());
        let deflate = config
            .deflate
            .and_then(|wanted| request.negotiate_deflate(&wanted));
        // Register before answering 101, so that a name cannot be taken twice.
        let conn = Arc::new(Mutex::new(Connection::with_deflate(
            Role::Server,
            config,
            deflate,
        )));
        let (sender, outgoing) = mpsc::sync_channel(QUEUE_BOUND);
        let queue = Queue {
            sender,
            pending: Arc::new(AtomicUsize::new(0)),
        };
        let client = Client {
            name: name.clone(),
            queue: queue.clone(),
            conn: Arc::clone(&conn),
            stream: stream.try_clone()?,
        };
        let Some(id) = self.hub().add(client) else {
            let reject = Reject::new(409).header("Content-Type", "text/plain");
            let answer = request.reject(reject.body("name already online"));
            return stream.write_all(&answer.map_err(io::Error::other)?);
        };
        let accepted = request
            .accept(Accept::new().deflate(deflate))
            .map_err(io::Error::other)
            .and_then(|answer| stream.write_all(&answer));
        if let Err(e) = accepted {
            self.hub().remove(id);
            return Err(e);
        }
        stream.set_read_timeout(None)?;
        eprintln!("chat: {name} connected");

        let writer = {
            let stream = stream.try_clone()?;
            let conn = Arc::clone(&conn);
            let pending = Arc::clone(&queue.pending);
            thread::spawn(move || write_loop(stream, &conn, outgoing, &pending))
        };
        let leftover = handshake.into_leftover();
        let result = self.read_loop(id, &mut stream, &conn, &queue, leftover.as_ref());
        self.hub().remove(id);
        drop(queue);
        let _ = writer.join();
        eprintln!("chat: {name} disconnected");
        result
    }

    /// Feeds socket bytes to the connection and handles what comes out, until
    /// the connection is closed. Never writes: it wakes the writer instead.
    fn read_loop(
        &self,
        id: ClientId,
        stream: &mut TcpStream,
        conn: &Mutex<Connection>,
        queue: &Queue,
        leftover: &[u8],
    ) -> io::Result<()> {
        let mut buf = vec![0u8; 16 * 1024];
        lock(conn).receive(leftover);
        let mut eof = false;
        loop {
            let mut texts = Vec::new();
            let mut binary = false;
            let state = {
                let mut conn = lock(conn);
                if eof {
                    conn.receive_eof();
                }
                loop {
                    match conn.poll_event() {
                        Ok(Some(Event::Message(Message::Text(text)))) => texts.push(text),
                        Ok(Some(Event::Message(Message::Binary(_)))) => binary = true,
                        // Pongs and close replies are queued by the connection.
                        Ok(Some(_)) => {}
                        Ok(None) => break,
                        Err(e) => {
                            eprintln!("chat: protocol error: {e}");
                            break;
                        }
                    }
                }
                conn.state()
            };
            {
                let mut hub = self.hub();
                for text in texts {
                    hub.handle(id, &text);
                }
                if binary {
                    hub.error(id, "binary messages are not supported");
                }
            }
            // Pongs and close replies to send.
            queue.wake();
            if state == State::Closed || eof {
                return Ok(());
            }
            // Back-pressure on a sender: while this client's own queue is
            // over half full (it reads the answers to what it sends slower
            // than it sends), read nothing more from it, so that TCP slows it
            // down. Bounded: a writer that stays stuck ends the connection.
            let deadline = Instant::now() + WRITE_TIMEOUT;
            while queue.pending() > QUEUE_BOUND / 2 && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(1));
            }
            let n = stream.read(&mut buf)?;
            if n == 0 {
                eof = true;
            } else {
                lock(conn).receive(&buf[..n]);
            }
        }
    }

    /// Answers a plain HTTP request: the page, the script, or a login.
    fn plain(&self, stream: &mut TcpStream, request: &HttpRequest, leftover: &[u8]) -> Vec<u8> {
        let answer = match (request.method(), request.path()) {
            ("GET", "/") => plain_response(200, "text/html; charset=utf-8", PAGE.as_bytes()),
            ("GET", "/chat.js") => plain_response(200, "text/javascript", SCRIPT.as_bytes()),
            ("GET", "/login") => {
                let name = request.query_param("name").unwrap_or_default();
                return self.login(&name);
            }
            ("POST", "/login") => {
                return match read_body(stream, request, leftover) {
                    Ok(body) => self.login(&form_field(&body, "name").unwrap_or_default()),
                    Err(status) => json_response(status, &json!({"error": "bad body"})),
                };
            }
            _ => plain_response(404, "text/plain", b"not found\n"),
        };
        answer.unwrap_or_default()
    }

    fn login(&self, name: &str) -> Vec<u8> {
        if !valid_name(name, 20) {
            let error = "a name is 1 to 20 letters, digits, _ or -";
            return json_response(400, &json!({ "error": error }));
        }
        if self.hub().id_of(name).is_some() {
            return json_response(409, &json!({"error": format!("{name} is online already")}));
        }
        let token = self.signer.token(name);
        json_response(200, &json!({ "name": name, "token": token }))
    }
}

/// Writes everything queued for one client, in order. The only thread that
/// writes to the socket once the chat runs.
fn write_loop(
    mut stream: TcpStream,
    conn: &Mutex<Connection>,
    outgoing: Receiver<Outgoing>,
    pending: &AtomicUsize,
) {
    let send = |item: Outgoing, conn: &mut Connection| {
        if let Outgoing::Text(text) = item {
            pending.fetch_sub(1, Ordering::Relaxed);
            // Fails only once the connection is closing: nothing more to say.
            let _ = conn.send_text(&text);
        }
    };
    while let Ok(item) = outgoing.recv() {
        let bytes = {
            let mut conn = lock(conn);
            send(item, &mut conn);
            // Take what else is waiting, to write it in one go.
            for item in outgoing.try_iter().take(64) {
                send(item, &mut conn);
            }
            conn.take_transmit()
        };
        if stream.write_all(&bytes).is_err() {
            break;
        }
        if lock(conn).is_done() {
            break; // RFC 6455 section 7.1.1: the server closes TCP first
        }
    }
    let bytes = lock(conn).take_transmit();
    let _ = stream.write_all(&bytes);
    let _ = stream.shutdown(Shutdown::Both);
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

type ClientId = u64;

/// What the hub holds of one client.
struct Client {
    name: String,
    queue: Queue,
    conn: Arc<Mutex<Connection>>,
    /// A clone of the socket, to bound the wait for the close reply.
    stream: TcpStream,
}

/// One client's outgoing queue: bounded, and never blocking whoever fills it.
#[derive(Clone)]
struct Queue {
    sender: SyncSender<Outgoing>,
    /// Texts queued and not yet taken by the writer.
    pending: Arc<AtomicUsize>,
}

impl Queue {
    fn push(&self, text: Arc<str>) -> Result<(), TrySendError<Outgoing>> {
        self.pending.fetch_add(1, Ordering::Relaxed);
        let result = self.sender.try_send(Outgoing::Text(text));
        if result.is_err() {
            self.pending.fetch_sub(1, Ordering::Relaxed);
        }
        result
    }

    /// Wakes the writer to send what the connection queued by itself. A full
    /// queue means the writer has work anyway and takes every byte then.
    fn wake(&self) {
        let _ = self.sender.try_send(Outgoing::Flush);
    }

    fn pending(&self) -> usize {
        self.pending.load(Ordering::Relaxed)
    }
}

enum Outgoing {
    /// A JSON text to send.
    Text(Arc<str>),
    /// Nothing to add: write what the connection queued (pongs, close).
    Flush,
}

/// Who is online, the rooms, the history. Behind one mutex; it never blocks
/// while holding it (queues are filled with `try_send`).
#[derive(Default)]
struct Hub {
    next_id: ClientId,
    clients: HashMap<ClientId, Client>,
    rooms: BTreeMap<String, BTreeSet<ClientId>>,
    history: VecDeque<Value>,
    room_history: HashMap<String, VecDeque<Value>>,
}

impl Hub {
    /// Adds a client, unless its name is online already.
    fn add(&mut self, client: Client) -> Option<ClientId> {
        if self.id_of(&client.name).is_some() {
            return None;
        }
        let id = self.next_id;
        self.next_id += 1;
        self.clients.insert(id, client);
        let history = json!({"type": "history", "room": null, "messages": self.history});
        self.send(&[id], &history);
        self.send_users();
        Some(id)
    }

    /// Removes a client from the hub and its rooms and tells the others.
    fn remove(&mut self, id: ClientId) -> Option<Client> {
        let client = self.clients.remove(&id)?;
        let rooms: Vec<String> = self
            .rooms
            .iter()
            .filter(|(_, members)| members.contains(&id))
            .map(|(room, _)| room.clone())
            .collect();
        for room in rooms {
            self.leave_room(id, &client.name, &room);
        }
        self.send_users();
        Some(client)
    }

    fn id_of(&self, name: &str) -> Option<ClientId> {
        self.clients
            .iter()
            .find(|(_, client)| client.name == name)
            .map(|(id, _)| *id)
    }

    fn names(&self, ids: &BTreeSet<ClientId>) -> Vec<&str> {
        let mut names: Vec<&str> = ids
            .iter()
            .map(|id| self.clients[id].name.as_str())
            .collect();
        names.sort_unstable();
        names
    }

    fn send_users(&mut self) {
        let ids: BTreeSet<ClientId> = self.clients.keys().copied().collect();
        let users = json!({"type": "users", "users": self.names(&ids)});
        self.send(&Vec::from_iter(ids), &users);
    }

    fn error(&mut self, id: ClientId, message: &str) {
        self.send(&[id], &json!({"type": "error", "message": message}));
    }

    /// Queues one JSON message for some clients. A client whose queue is
    /// full is dropped and closed with 1008; the others are not held up.
    fn send(&mut self, ids: &[ClientId], message: &Value) {
        let text: Arc<str> = message.to_string().into();
        let mut gone = Vec::new();
        for id in ids {
            let Some(client) = self.clients.get(id) else {
                continue;
            };
            match client.queue.push(Arc::clone(&text)) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) => gone.push((*id, true)),
                Err(TrySendError::Disconnected(_)) => gone.push((*id, false)),
            }
        }
        for (id, slow) in gone {
            if let Some(client) = self.remove(id)
                && slow
            {
                eprintln!("chat: {} is too slow, closing", client.name);
                let _ = lock(&client.conn).close(CloseCode::PolicyViolation, "too slow");
                // The writer sends the close with the next queued item; the
                // reader waits this long for the answer.
                let _ = client.stream.set_read_timeout(Some(CLOSE_TIMEOUT));
            }
        }
    }

    /// Handles one JSON text from a client.
    fn handle(&mut self, id: ClientId, text: &str) {
        if let Err(message) = self.try_handle(id, text) {
            self.error(id, &message);
        }
    }

    fn try_handle(&mut self, id: ClientId, text: &str) -> Result<(), String> {
        let Some(from) = self.clients.get(&id).map(|c| c.name.clone()) else {
            return Ok(()); // dropped meanwhile
        };
        let request: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        let field = |name: &str| request.get(name).and_then(Value::as_str);
        let text = || match field("text") {
            Some(text) if !text.is_empty() && text.chars().count() <= MAX_TEXT => Ok(text),
            _ => Err(format!("a text is 1 to {MAX_TEXT} characters")),
        };
        let room = || match field("room") {
            Some(room) if valid_name(room, 24) => Ok(room.to_owned()),
            _ => Err("a room is 1 to 24 letters, digits, _ or -".to_owned()),
        };
        match field("type").unwrap_or_default() {
            "group" => {
                let message =
                    json!({"type": "group", "from": from, "text": text()?, "time": now()});
                push_history(&mut self.history, &message);
                let ids = Vec::from_iter(self.clients.keys().copied());
                self.send(&ids, &message);
            }
            "private" => {
                let to = field("to").unwrap_or_default();
                let target = self
                    .id_of(to)
                    .ok_or_else(|| format!("{to:?} is not online"))?;
                let message = json!({"type": "private", "from": from, "to": to, "text": text()?, "time": now()});
                let ids = if target == id {
                    vec![id]
                } else {
                    vec![target, id]
                };
                self.send(&ids, &message);
            }
            "room" => {
                let room = room()?;
                let members = match self.rooms.get(&room) {
                    Some(members) if members.contains(&id) => {
                        Vec::from_iter(members.iter().copied())
                    }
                    _ => return Err(format!("join #{room} first")),
                };
                let message = json!({"type": "room", "room": room, "from": from, "text": text()?, "time": now()});
                push_history(self.room_history.entry(room).or_default(), &message);
                self.send(&members, &message);
            }
            "join" => {
                let room = room()?;
                let members = self.rooms.entry(room.clone()).or_default();
                if !members.insert(id) {
                    return Err(format!("already in #{room}"));
                }
                let ids = Vec::from_iter(members.iter().copied());
                let names = self.names(&self.rooms[&room]);
                let message = json!({"type": "join", "room": room, "user": from, "members": names});
                self.send(&ids, &message);
                let history = self.room_history.get(&room).cloned().unwrap_or_default();
                self.send(
                    &[id],
                    &json!({"type": "history", "room": room, "messages": history}),
                );
            }
            "leave" => {
                let room = room()?;
                if !self.rooms.get(&room).is_some_and(|m| m.contains(&id)) {
                    return Err(format!("not in #{room}"));
                }
                self.leave_room(id, &from, &room);
            }
            other => return Err(format!("unknown message type {other:?}")),
        }
        Ok(())
    }

    /// Takes a client out of a room and tells the members and the leaver.
    /// A room that empties is gone, with its history.
    fn leave_room(&mut self, id: ClientId, name: &str, room: &str) {
        let Some(members) = self.rooms.get_mut(room) else {
            return;
        };
        members.remove(&id);
        let mut ids = Vec::from_iter(members.iter().copied());
        if members.is_empty() {
            self.rooms.remove(room);
            self.room_history.remove(room);
        }
        let names = self
            .rooms
            .get(room)
            .map(|m| self.names(m))
            .unwrap_or_default();
        let message = json!({"type": "leave", "room": room, "user": name, "members": names});
        ids.push(id);
        self.send(&ids, &message);
    }
}

fn push_history(history: &mut VecDeque<Value>, message: &Value) {
    if history.len() == HISTORY_LEN {
        history.pop_front();
    }
    history.push_back(message.clone());
}

fn now() -> u64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
}

/// Names and rooms: 1 to `max` ASCII letters, digits, `_` or `-`. Such a
/// name needs no escaping in a URL or a token.
fn valid_name(name: &str, max: usize) -> bool {
    (1..=max).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn json_response(status: u16, body: &Value) -> Vec<u8> {
    Reject::new(status)
        .header("Content-Type", "application/json")
        .header("Cache-Control", "no-store")
        .body(body.to_string())
        .into_bytes()
        .unwrap_or_default()
}

/// Reads a request body of `Content-Length` bytes (at most [`MAX_BODY`]); the
/// handshake does not read bodies, but keeps their first bytes as leftover.
fn read_body(
    stream: &mut TcpStream,
    request: &HttpRequest,
    leftover: &[u8],
) -> Result<Vec<u8>, u16> {
    let length: usize = match request.header("Content-Length") {
        Some(value) => value.trim().parse().map_err(|_| 400u16)?,
        None => return Err(411),
    };
    if length > MAX_BODY {
        return Err(413);
    }
    let mut body = leftover[..leftover.len().min(length)].to_vec();
    let start = body.len();
    body.resize(length, 0);
    stream.read_exact(&mut body[start..]).map_err(|_| 400u16)?;
    Ok(body)
}

/// The value of `name` in an `application/x-www-form-urlencoded` body. Only
/// what a valid name needs is decoded: anything escaped is refused later.
fn form_field(body: &[u8], name: &str) -> Option<String> {
    let body = std::str::from_utf8(body).ok()?;
    body.split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

/// Issues and checks tokens: `NAME.HEX(HMAC-SHA1(key, NAME))`.
struct Signer {
    /// The per-process secret, zero-padded to SHA-1's 64-byte block.
    key: [u8; 64],
}

impl Signer {
    fn new() -> Signer {
        let mut key = [0u8; 64];
        getrandom::fill(&mut key[..32]).expect("the operating system gives random bytes");
        Signer { key }
    }

    /// HMAC-SHA1 per RFC 2104: H(K ^ opad, H(K ^ ipad, text)).
    fn mac(&self, text: &[u8]) -> [u8; 20] {
        let ipad = self.key.map(|b| b ^ 0x36);
        let opad = self.key.map(|b| b ^ 0x5c);
        let inner = Sha1::new().chain_update(ipad).chain_update(text).finalize();
        Sha1::new()
            .chain_update(opad)
            .chain_update(inner)
            .finalize()
            .into()
    }

    fn token(&self, name: &str) -> String {
        let mac: String = self
            .mac(name.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("{name}.{mac}")
    }

    /// The name a token was issued for, if this process issued it.
    fn verify(&self, token: &str) -> Option<String> {
        let (name, mac) = token.rsplit_once('.')?;
        if !valid_name(name, 20) || mac.len() != 40 {
            return None;
        }
        let expected = self.mac(name.as_bytes());
        let mut diff = 0u8;
        for (i, want) in expected.iter().enumerate() {
            let got = u8::from_str_radix(mac.get(2 * i..2 * i + 2)?, 16).ok()?;
            diff |= got ^ want; // no early exit: compare in constant time
        }
        (diff == 0).then(|| name.to_owned())
    }
}
