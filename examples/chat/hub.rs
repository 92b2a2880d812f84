//! Who is online, the rooms and the history, and what each JSON message
//! from a page does to them. No I/O: messages for a client go into its
//! bounded queue, which its writer task empties. Each message is framed
//! (and compressed) once, as a [`PreparedMessage`], and its queues hold
//! handles to those bytes, whether it goes to one client or to everyone.
//!
//! With `--redis` (see `cluster.rs`) the hub keeps only this server's
//! clients and their rooms: group and room messages, room joins and leaves
//! go to Redis, which hands them back to every server (this one included)
//! through [`Hub::relay`]; the history is kept in Redis; the user list is
//! this server's users and those Redis lists for the others.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rfc6455::{Config, Message, PreparedMessage};
use serde_json::{Value, json};
use tokio::sync::Notify;
use tokio::sync::mpsc::{Sender, error::TrySendError};

use crate::cluster::{Link, Request};

/// Messages kept for newcomers, for the group and for each room.
pub const HISTORY_LEN: usize = 20;
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
    /// With `--redis`: the link to the other servers.
    cluster: Option<Link>,
}

impl Hub {
    pub fn new(heartbeat: Duration, config: Config, cluster: Option<Link>) -> Hub {
        Hub {
            heartbeat,
            config,
            next_id: 0,
            clients: HashMap::new(),
            rooms: BTreeMap::new(),
            history: VecDeque::new(),
            room_history: HashMap::new(),
            cluster,
        }
    }

    /// Adds a client, unless its name is online already; it gets `hello`
    /// and the group history, and everyone the new list.
    ///
    /// With `--redis`, the caller has taken the name in Redis and passes
    /// the group history it read there.
    pub fn add(&mut self, client: Client, history: Option<Vec<Value>>) -> Option<ClientId> {
        if self.id_of(&client.name).is_some() {
            return None;
        }
        let name = client.name.clone();
        let id = self.next_id;
        self.next_id += 1;
        let heartbeat = u64::try_from(self.heartbeat.as_millis()).unwrap_or(u64::MAX);
        let hello = json!({"type": "hello", "name": client.name, "heartbeat": heartbeat});
        self.clients.insert(id, client);
        self.send(&[id], &hello);
        let history = match history {
            Some(history) => json!({"type": "history", "room": null, "messages": history}),
            None => json!({"type": "history", "room": null, "messages": self.history}),
        };
        self.send(&[id], &history);
        self.send_users();
        self.request(None, Request::Presence { name, online: true });
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
        let name = client.name.clone();
        self.request(
            None,
            Request::Presence {
                name,
                online: false,
            },
        );
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

    /// Sends everyone here the user list: this server's users, and with
    /// `--redis` the other servers' too.
    fn send_users(&mut self) {
        let ids: BTreeSet<ClientId> = self.clients.keys().copied().collect();
        let mut names: BTreeSet<&str> = self.names(&ids).into_iter().collect();
        if let Some(cluster) = &self.cluster {
            names.extend(cluster.remote.iter().map(String::as_str));
        }
        let users = json!({"type": "users", "users": names});
        self.send(&Vec::from_iter(ids), &users);
    }

    /// With `--redis`: hands a request to the Redis task. If its queue is
    /// full or gone, `from` (if any) is told the request was not served.
    /// Without `--redis`, does nothing.
    fn request(&mut self, from: Option<ClientId>, request: Request) {
        let Some(cluster) = &self.cluster else {
            return;
        };
        if cluster.requests.try_send(request).is_err()
            && let Some(id) = from
        {
            self.error(id, "not delivered: the server is too busy");
        }
    }

    pub fn error(&mut self, id: ClientId, message: &str) {
        self.send(&[id], &json!({"type": "error", "message": message}));
    }

    /// Queues one JSON message for some clients. A client whose queue is
    /// full is dropped and its writer told to close with 1008; the others
    /// are not held up.
    fn send(&mut self, ids: &[ClientId], message: &Value) {
        self.send_text(ids, message.to_string());
    }

    /// Queues one JSON text for some clients, as [`send`](Self::send).
    fn send_text(&mut self, ids: &[ClientId], text: String) {
        // Framed once for everyone, and compressed at most once: every
        // connection agreed `server_no_context_takeover` (see main.rs), so
        // each compresses a message from an empty window and all of them
        // would send the same bytes. Cloning it only counts a reference.
        let prepared = PreparedMessage::for_config(Message::text(text), &self.config);
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
                if self.cluster.is_some() {
                    let text = message.to_string();
                    self.request(
                        Some(id),
                        Request::Publish {
                            from: id,
                            room: None,
                            text,
                        },
                    );
                    return Ok(());
                }
                push_history(&mut self.history, &message);
                let ids = Vec::from_iter(self.clients.keys().copied());
                self.send(&ids, &message);
            }
            "private" => {
                let to = field("to").unwrap_or_default();
                let message = json!({"type": "private", "from": from, "to": to, "text": text()?, "time": now()});
                let Some(target) = self.id_of(to) else {
                    if self.cluster.is_none() {
                        return Err(format!("{to:?} is not online"));
                    }
                    // Perhaps on another server: Redis knows.
                    let (to, text) = (to.to_owned(), message.to_string());
                    self.request(Some(id), Request::Private { from: id, to, text });
                    return Ok(());
                };
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
                if self.cluster.is_some() {
                    let (room, text) = (Some(room), message.to_string());
                    self.request(
                        Some(id),
                        Request::Publish {
                            from: id,
                            room,
                            text,
                        },
                    );
                    return Ok(());
                }
                push_history(self.room_history.entry(room).or_default(), &message);
                self.send(&members, &message);
            }
            "join" => {
                let room = room()?;
                let members = self.rooms.entry(room.clone()).or_default();
                if !members.insert(id) {
                    return Err(format!("already in #{room}"));
                }
                if self.cluster.is_some() {
                    // Redis gives the members everywhere and the history,
                    // and publishes the join.
                    let name = from;
                    self.request(Some(id), Request::Join { id, name, room });
                    return Ok(());
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
        let names = self.room_names(room);
        let message = json!({"type": "leave", "room": room, "user": name, "members": names});
        if self.cluster.is_some() {
            // The leaver hears at once; the members on every server when
            // Redis hands the leave back.
            self.send(&[id], &message);
            let (name, room) = (name.to_owned(), room.to_owned());
            self.request(None, Request::Leave { name, room });
            return;
        }
        ids.push(id);
        self.send(&ids, &message);
    }

    /// The names of this server's members of a room.
    pub fn room_names(&self, room: &str) -> Vec<&str> {
        self.rooms
            .get(room)
            .map(|m| self.names(m))
            .unwrap_or_default()
    }

    /// With `--redis`: a message Redis handed over (a JSON text as the
    /// pages get it), for this server's clients it concerns. A text that is
    /// not one of ours is dropped.
    pub fn relay(&mut self, text: &str) {
        let Ok(message) = serde_json::from_str::<Value>(text) else {
            return;
        };
        let field = |name: &str| message.get(name).and_then(Value::as_str);
        let ids: Vec<ClientId> = match field("type") {
            Some("group") => self.clients.keys().copied().collect(),
            Some("room" | "join" | "leave") => {
                let room = field("room").unwrap_or_default();
                self.rooms
                    .get(room)
                    .map(|m| m.iter().copied().collect())
                    .unwrap_or_default()
            }
            Some("private") => self
                .id_of(field("to").unwrap_or_default())
                .into_iter()
                .collect(),
            _ => return,
        };
        self.send_text(&ids, text.to_owned());
    }

    /// Queues a JSON text for one client.
    pub fn send_text_to(&mut self, id: ClientId, text: &str) {
        self.send_text(&[id], text.to_owned());
    }

    /// With `--redis`: the history of a room just joined, for the joiner.
    pub fn room_history(&mut self, id: ClientId, room: &str, messages: Vec<Value>) {
        self.send(
            &[id],
            &json!({"type": "history", "room": room, "messages": messages}),
        );
    }

    /// With `--redis` away: tells a room's members here of a join that
    /// Redis could not take (the joiner is in the room here already).
    pub fn join_locally(&mut self, id: ClientId, room: &str) {
        let Some(name) = self.clients.get(&id).map(|c| c.name.clone()) else {
            return;
        };
        let Some(members) = self.rooms.get(room) else {
            return;
        };
        let ids = Vec::from_iter(members.iter().copied());
        let names = self.names(members);
        let message = json!({"type": "join", "room": room, "user": name, "members": names});
        self.send(&ids, &message);
    }

    /// With `--redis`: this server's users, and (room, user) for each of
    /// their room memberships, for the refresh.
    pub fn local_presence(&self) -> (Vec<String>, Vec<(String, String)>) {
        let users = self.clients.values().map(|c| c.name.clone()).collect();
        let mut memberships = Vec::new();
        for (room, members) in &self.rooms {
            for id in members {
                if let Some(client) = self.clients.get(id) {
                    memberships.push((room.clone(), client.name.clone()));
                }
            }
        }
        (users, memberships)
    }

    /// With `--redis`: the names online on other servers, as Redis last
    /// said. Everyone here gets the list again if it changed.
    pub fn set_remote(&mut self, remote: BTreeSet<String>) {
        let Some(cluster) = &mut self.cluster else {
            return;
        };
        if cluster.remote != remote {
            cluster.remote = remote;
            self.send_users();
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::mpsc::{self, Receiver};

    fn hub(cluster: bool) -> (Hub, Option<Receiver<Request>>) {
        let (link, requests) = if cluster {
            let (requests, receiver) = mpsc::channel(16);
            let link = Link {
                instance: "a".to_owned(),
                requests,
                remote: BTreeSet::new(),
            };
            (Some(link), Some(receiver))
        } else {
            (None, None)
        };
        let hub = Hub::new(Duration::from_secs(5), Config::default(), link);
        (hub, requests)
    }

    fn join(hub: &mut Hub, name: &str) -> (ClientId, Receiver<PreparedMessage>) {
        let (queue, outgoing) = mpsc::channel(64);
        let client = Client {
            name: name.to_owned(),
            queue,
            kick: Arc::new(Notify::new()),
        };
        (hub.add(client, Some(Vec::new())).unwrap(), outgoing)
    }

    /// The JSON texts queued for a client so far.
    fn got(outgoing: &mut Receiver<PreparedMessage>) -> Vec<Value> {
        let mut texts = Vec::new();
        while let Ok(message) = outgoing.try_recv() {
            let Message::Text(text) = message.message() else {
                panic!("not a text");
            };
            texts.push(serde_json::from_str(text.as_ref()).unwrap());
        }
        texts
    }

    fn types(messages: &[Value]) -> Vec<&str> {
        messages
            .iter()
            .map(|m| m["type"].as_str().unwrap())
            .collect()
    }

    #[test]
    fn with_redis_messages_go_to_redis_and_come_back_to_whom_they_concern() {
        let (mut hub, requests) = hub(true);
        let mut requests = requests.unwrap();
        let (alice, mut to_alice) = join(&mut hub, "alice");
        let (_, mut to_bob) = join(&mut hub, "bob");
        hub.handle(alice, r#"{"type":"join","room":"dev"}"#);
        got(&mut to_alice);
        got(&mut to_bob);

        // A group message is not delivered here: it goes to Redis once.
        hub.handle(alice, r#"{"type":"group","text":"hi"}"#);
        assert!(got(&mut to_alice).is_empty());
        let mut published = None;
        while let Ok(request) = requests.try_recv() {
            if let Request::Publish { from, room, text } = request {
                assert_eq!((from, room), (alice, None));
                published = Some(text);
            }
        }
        // Handed back by Redis, it reaches everyone here.
        hub.relay(&published.unwrap());
        assert_eq!(types(&got(&mut to_alice)), ["group"]);
        assert_eq!(types(&got(&mut to_bob)), ["group"]);

        // A room message from another server reaches the room's members only.
        hub.relay(r#"{"type":"room","room":"dev","from":"carol","text":"x","time":1}"#);
        assert_eq!(types(&got(&mut to_alice)), ["room"]);
        assert!(got(&mut to_bob).is_empty());

        // A private message reaches its target only; unknown texts nobody.
        hub.relay(r#"{"type":"private","from":"carol","to":"bob","text":"x","time":1}"#);
        hub.relay(r#"{"type":"users","users":["mallory"]}"#);
        hub.relay("not json");
        assert!(got(&mut to_alice).is_empty());
        assert_eq!(types(&got(&mut to_bob)), ["private"]);

        // A private message for a name not here is asked of Redis.
        hub.handle(alice, r#"{"type":"private","to":"carol","text":"x"}"#);
        assert!(matches!(
            requests.try_recv(),
            Ok(Request::Private { to, .. }) if to == "carol"
        ));
    }

    #[test]
    fn with_redis_the_user_list_is_the_union_of_the_servers() {
        let (mut hub, _requests) = hub(true);
        let (_, mut to_alice) = join(&mut hub, "alice");
        got(&mut to_alice);
        hub.set_remote(BTreeSet::from(["bob".to_owned(), "alice".to_owned()]));
        let lists = got(&mut to_alice);
        assert_eq!(lists, [json!({"type": "users", "users": ["alice", "bob"]})]);
        // The same list again changes nothing, and sends nothing.
        hub.set_remote(BTreeSet::from(["bob".to_owned(), "alice".to_owned()]));
        assert!(got(&mut to_alice).is_empty());
    }

    #[test]
    fn alone_messages_are_delivered_at_once_and_unknown_targets_refused() {
        let (mut hub, _) = hub(false);
        let (alice, mut to_alice) = join(&mut hub, "alice");
        got(&mut to_alice);
        hub.handle(alice, r#"{"type":"group","text":"hi"}"#);
        assert_eq!(types(&got(&mut to_alice)), ["group"]);
        hub.handle(alice, r#"{"type":"private","to":"nobody","text":"x"}"#);
        assert_eq!(types(&got(&mut to_alice)), ["error"]);
    }
}
