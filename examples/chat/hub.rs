//! Who is online, the rooms and the history, and what each JSON message
//! from a page does to them. No I/O: messages for a client go into its
//! bounded queue, which its writer task empties. Each message is framed
//! (and compressed) once, as a [`PreparedMessage`], and its queues hold
//! handles to those bytes, whether it goes to one client or to everyone.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rfc6455::{Config, Message, PreparedMessage};
use serde_json::{Value, json};
use tokio::sync::Notify;
use tokio::sync::mpsc::{Sender, error::TrySendError};

/// Messages kept for newcomers, for the group and for each room.
const HISTORY_LEN: usize = 20;
/// Longest chat text, in characters.
const MAX_TEXT: usize = 2000;

pub type ClientId = u64;

/// What the hub holds of one client.
pub struct Client {
    pub name: String,
    /// Its outgoing queue: bounded, filled with `try_send`; each entry a
    /// handle to bytes shared with the other recipients.
    pub queue: Sender<PreparedMessage>,
    /// Tells its writer to close with 1008 ("too slow").
    pub kick: Arc<Notify>,
}

/// Who is online, the rooms, the history. Behind one mutex; it never blocks
/// while holding it (queues are filled with `try_send`).
pub struct Hub {
    /// How often a page should send its heartbeat, told in `hello`.
    heartbeat: Duration,
    /// The connections' settings: messages are prepared with their frame
    /// size and compression level.
    config: Config,
    next_id: ClientId,
    clients: HashMap<ClientId, Client>,
    rooms: BTreeMap<String, BTreeSet<ClientId>>,
    history: VecDeque<Value>,
    room_history: HashMap<String, VecDeque<Value>>,
}

impl Hub {
    pub fn new(heartbeat: Duration, config: Config) -> Hub {
        Hub {
            heartbeat,
            config,
            next_id: 0,
            clients: HashMap::new(),
            rooms: BTreeMap::new(),
            history: VecDeque::new(),
            room_history: HashMap::new(),
        }
    }

    /// Adds a client, unless its name is online already; it gets `hello`
    /// and the group history, and everyone the new list.
    pub fn add(&mut self, client: Client) -> Option<ClientId> {
        if self.id_of(&client.name).is_some() {
            return None;
        }
        let id = self.next_id;
        self.next_id += 1;
        let heartbeat = u64::try_from(self.heartbeat.as_millis()).unwrap_or(u64::MAX);
        let hello = json!({"type": "hello", "name": client.name, "heartbeat": heartbeat});
        self.clients.insert(id, client);
        self.send(&[id], &hello);
        let history = json!({"type": "history", "room": null, "messages": self.history});
        self.send(&[id], &history);
        self.send_users();
        Some(id)
    }

    /// Removes a client from the hub and its rooms and tells the others.
    pub fn remove(&mut self, id: ClientId) -> Option<Client> {
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

    pub fn id_of(&self, name: &str) -> Option<ClientId> {
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

    pub fn error(&mut self, id: ClientId, message: &str) {
        self.send(&[id], &json!({"type": "error", "message": message}));
    }

    /// Queues one JSON message for some clients. A client whose queue is
    /// full is dropped and its writer told to close with 1008; the others
    /// are not held up.
    fn send(&mut self, ids: &[ClientId], message: &Value) {
        // Framed once for everyone, and compressed at most once: every
        // connection agreed `server_no_context_takeover` (see main.rs), so
        // each compresses a message from an empty window and all of them
        // would send the same bytes. Cloning it only counts a reference.
        let prepared =
            PreparedMessage::for_config(Message::text(message.to_string()), &self.config);
        let mut gone = Vec::new();
        for id in ids {
            let Some(client) = self.clients.get(id) else {
                continue;
            };
            match client.queue.try_send(prepared.clone()) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) => gone.push((*id, true)),
                Err(TrySendError::Closed(_)) => gone.push((*id, false)),
            }
        }
        for (id, slow) in gone {
            if let Some(client) = self.remove(id)
                && slow
            {
                eprintln!("chat: {} is too slow, closing", client.name);
                client.kick.notify_one();
            }
        }
    }

    /// Handles one JSON text from a client.
    pub fn handle(&mut self, id: ClientId, text: &str) {
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
            // The page's heartbeat: it hears back within its timeout or
            // takes the connection for dead and reconnects.
            "ping" => self.send(&[id], &json!({"type": "pong"})),
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
pub fn valid_name(name: &str, max: usize) -> bool {
    (1..=max).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}
