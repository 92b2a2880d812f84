//! `--redis URL`: several chat servers joined through Redis, the way
//! socket.io's Redis adapter does it. Every server publishes what it is
//! given to Redis and relays what Redis hands it to its own members.
//!
//! What lives in Redis (all keys start with `chat:`):
//!
//! | key | type | what |
//! |---|---|---|
//! | `chat:all` | channel | group and room messages, room joins and leaves, presence changes |
//! | `chat:to:INSTANCE` | channel | private messages for the users of one server |
//! | `chat:user:NAME` | string, TTL | the server holding NAME (set only when free or its own: a name is taken once) |
//! | `chat:presence` | sorted set | `INSTANCE/NAME`, scored with the time its entry expires |
//! | `chat:room:ROOM` | sorted set | the room's members, the same way |
//! | `chat:instances` | sorted set | the live servers, the same way |
//! | `chat:history` | list | the last 20 group messages (`LPUSH`, `LTRIM`) |
//! | `chat:history:ROOM` | list | the last 20 messages of a room |
//! | `chat:key` | string | the key that signs tokens (`SET NX`: the first server's), the same on every server |
//!
//! Every server refreshes its users' entries every third of the presence
//! TTL (`--presence-ttl`), so the entries of a server that died without
//! cleaning up expire within the TTL, and the others drop its users from
//! their lists at their next refresh. Scores are the servers' clocks in
//! milliseconds: their clocks must agree to well within the TTL.
//!
//! When Redis cannot be reached (or answers nothing for 2 s), the command
//! connection reconnects on the next command and the subscription every
//! 0.25 to 2 s. Meanwhile a group or
//! room message reaches the members on its sender's server only, and the
//! sender is told so; a private message for another server does not go, and
//! its sender is told; a new sign-in is refused with 503. Once Redis is
//! back, each server writes its users, rooms and signing key again at its
//! next refresh (at once when its subscription comes back).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, RedisResult};
use serde_json::{Value, json};
use tokio::sync::{Notify, mpsc};

use crate::Server;
use crate::hub::{ClientId, HISTORY_LEN};

/// Requests waiting for the Redis task before the hub reports them undelivered.
const REQUEST_BOUND: usize = 4096;
/// Requests sent to Redis in one pipeline.
const BATCH: usize = 256;

/// Takes `KEYS[1]` (`chat:user:NAME`) for `ARGV[1]` (the instance) for
/// `ARGV[2]` ms, if free or already its own: 1 if taken, 0 if another holds it.
const CLAIM: &str = "local v = redis.call('GET', KEYS[1]) \
    if v == false or v == ARGV[1] then \
      redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end \
    return 0";
/// Frees `KEYS[1]` if `ARGV[1]` holds it.
const RELEASE: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then \
      return redis.call('DEL', KEYS[1]) end return 0";
/// Publishes `ARGV[1]` to the server holding the user `KEYS[1]`: how many
/// servers got it, or -1 when nobody holds the name.
const PRIVATE: &str = "local v = redis.call('GET', KEYS[1]) \
    if v == false then return -1 end \
    return redis.call('PUBLISH', 'chat:to:' .. v, ARGV[1])";

/// What the hub asks of Redis, in order.
pub enum Request {
    /// A group or room message (a JSON text as the pages get it): kept in
    /// the history and published once.
    Publish {
        from: ClientId,
        room: Option<String>,
        text: String,
    },
    /// A private message for a user on another server.
    Private {
        from: ClientId,
        to: String,
        text: String,
    },
    /// A local user joined a room: add it to the room's members, publish
    /// the join, give it the room's history.
    Join {
        id: ClientId,
        name: String,
        room: String,
    },
    /// A local user left a room (or went away while in it).
    Leave { name: String, room: String },
    /// A local user came (it already holds its name) or went.
    Presence { name: String, online: bool },
}

/// The hub's side of the link: where requests go, and what Redis last said.
pub struct Link {
    pub instance: String,
    pub requests: mpsc::Sender<Request>,
    /// Names online on the other servers.
    pub remote: BTreeSet<String>,
}

/// One server's connection to Redis.
pub struct Cluster {
    pub instance: String,
    client: Client,
    commands: ConnectionManager,
    ttl: Duration,
    /// Servers alive at the last refresh (this one included).
    live: AtomicUsize,
    /// Whether this server's subscription is up: if not, its own messages
    /// come back to nobody here, so it delivers them itself.
    subscribed: AtomicBool,
    /// Asks for a refresh now (someone came or went, or Redis came back).
    refresh: Notify,
}

fn now_ms() -> u64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
}

fn history_key(room: Option<&str>) -> String {
    room.map_or_else(
        || "chat:history".to_owned(),
        |r| format!("chat:history:{r}"),
    )
}

/// Parses the history list (newest first, as `LPUSH` keeps it) into the
/// messages oldest first.
fn history(list: Vec<String>) -> Vec<Value> {
    list.iter()
        .rev()
        .filter_map(|text| serde_json::from_str(text).ok())
        .collect()
}

impl Cluster {
    /// Connects to Redis (which must be up when the server starts) and
    /// shares the signing key: the first server's `key` is everyone's.
    /// Returns the cluster and the key to sign with.
    pub async fn connect(
        url: &str,
        ttl: Duration,
        key: [u8; 32],
    ) -> RedisResult<(Cluster, [u8; 32])> {
        let client = Client::open(url)?;
        // Fail fast while Redis is away: one try per command, short
        // timeouts; the next command reconnects.
        let config = ConnectionManagerConfig::new()
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500))
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(Duration::from_secs(2)));
        let mut commands = client.get_connection_manager_with_config(config).await?;
        let mine: String = key.iter().map(|b| format!("{b:02x}")).collect();
        let (shared,): (String,) = redis::pipe()
            .cmd("SET")
            .arg("chat:key")
            .arg(&mine)
            .arg("NX")
            .ignore()
            .cmd("GET")
            .arg("chat:key")
            .query_async(&mut commands)
            .await?;
        let mut key = [0u8; 32];
        for (i, byte) in key.iter_mut().enumerate() {
            *byte = shared
                .get(2 * i..2 * i + 2)
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                .ok_or_else(|| {
                    redis::RedisError::from((redis::ErrorKind::Client, "bad chat:key"))
                })?;
        }
        let mut id = [0u8; 8];
        getrandom::fill(&mut id).expect("the operating system gives random bytes");
        let instance = id.iter().map(|b| format!("{b:02x}")).collect();
        let cluster = Cluster {
            instance,
            client,
            commands,
            ttl,
            live: AtomicUsize::new(1),
            subscribed: AtomicBool::new(false),
            refresh: Notify::new(),
        };
        Ok((cluster, key))
    }

    /// The link the hub keeps, and the receiving end for [`run`].
    pub fn link(&self) -> (Link, mpsc::Receiver<Request>) {
        let (requests, receiver) = mpsc::channel(REQUEST_BOUND);
        let link = Link {
            instance: self.instance.clone(),
            requests,
            remote: BTreeSet::new(),
        };
        (link, receiver)
    }

    fn ttl_ms(&self) -> u64 {
        u64::try_from(self.ttl.as_millis()).unwrap_or(u64::MAX)
    }

    fn member(&self, name: &str) -> String {
        format!("{}/{name}", self.instance)
    }

    /// Takes a name for a user signing in here: `Some(group history)`, or
    /// `None` if another server holds it.
    pub async fn claim(&self, name: &str) -> RedisResult<Option<Vec<Value>>> {
        let mut commands = self.commands.clone();
        let (taken, list): (i64, Vec<String>) = redis::pipe()
            .cmd("EVAL")
            .arg(CLAIM)
            .arg(1)
            .arg(format!("chat:user:{name}"))
            .arg(&self.instance)
            .arg(self.ttl_ms())
            .cmd("LRANGE")
            .arg(history_key(None))
            .arg(0)
            .arg(HISTORY_LEN - 1)
            .query_async(&mut commands)
            .await?;
        Ok((taken == 1).then(|| history(list)))
    }

    /// Whether a name is held on any server.
    pub async fn is_online(&self, name: &str) -> RedisResult<bool> {
        let mut commands = self.commands.clone();
        redis::cmd("EXISTS")
            .arg(format!("chat:user:{name}"))
            .query_async(&mut commands)
            .await
    }
}

/// Runs the link: the requests, the subscription and the refresh. Never
/// returns.
pub async fn run(server: Arc<Server>, cluster: Arc<Cluster>, requests: mpsc::Receiver<Request>) {
    tokio::spawn(subscribe(Arc::clone(&server), Arc::clone(&cluster)));
    tokio::spawn(refresh(Arc::clone(&server), Arc::clone(&cluster)));
    serve(server, cluster, requests).await;
}

/// Sends the hub's requests to Redis in order; runs of messages go in one
/// pipeline. What fails is reported to its sender.
async fn serve(server: Arc<Server>, cluster: Arc<Cluster>, mut requests: mpsc::Receiver<Request>) {
    let mut batch = Vec::with_capacity(BATCH);
    let mut messages = Vec::with_capacity(BATCH);
    while requests.recv_many(&mut batch, BATCH).await > 0 {
        for request in batch.drain(..) {
            match request {
                Request::Publish { .. } | Request::Private { .. } => messages.push(request),
                other => {
                    publish(&server, &cluster, &mut messages).await;
                    serve_one(&server, &cluster, other).await;
                }
            }
        }
        publish(&server, &cluster, &mut messages).await;
    }
}

/// Publishes a run of group, room and private messages in one pipeline.
/// Publishes `text` on the channel every server relays to its members.
async fn publish_all(commands: &mut ConnectionManager, text: &str) -> RedisResult<i64> {
    redis::cmd("PUBLISH")
        .arg("chat:all")
        .arg(text)
        .query_async(commands)
        .await
}

async fn publish(server: &Server, cluster: &Cluster, messages: &mut Vec<Request>) {
    if messages.is_empty() {
        return;
    }
    let mut pipe = redis::pipe();
    for message in messages.iter() {
        match message {
            Request::Publish { room, text, .. } => {
                let key = history_key(room.as_deref());
                pipe.cmd("LPUSH").arg(&key).arg(text).ignore();
                pipe.cmd("LTRIM")
                    .arg(&key)
                    .arg(0)
                    .arg(HISTORY_LEN - 1)
                    .ignore();
                pipe.cmd("PUBLISH").arg("chat:all").arg(text);
            }
            Request::Private { to, text, .. } => {
                pipe.cmd("EVAL")
                    .arg(PRIVATE)
                    .arg(1)
                    .arg(format!("chat:user:{to}"))
                    .arg(text);
            }
            _ => unreachable!("only messages are batched"),
        }
    }
    let mut commands = cluster.commands.clone();
    let answers: RedisResult<Vec<i64>> = pipe.query_async(&mut commands).await;
    let live = cluster.live.load(Ordering::Relaxed);
    let subscribed = cluster.subscribed.load(Ordering::Relaxed);
    let mut hub = server.hub();
    for (i, message) in messages.drain(..).enumerate() {
        let got = answers.as_ref().ok().and_then(|a| a.get(i).copied());
        match message {
            Request::Publish { from, room, text } => match got {
                Some(n) if usize::try_from(n).is_ok_and(|n| n >= live) && subscribed => {}
                Some(n) => {
                    if !subscribed {
                        hub.relay(&text);
                    }
                    let n = n.max(0);
                    hub.error(
                        from,
                        &format!(
                            "{}: reached {n} of {live} servers",
                            undelivered(room.as_deref(), &text)
                        ),
                    );
                }
                None => {
                    // Redis is away: the members here still get it.
                    hub.relay(&text);
                    hub.error(
                        from,
                        &format!(
                            "{}: Redis unavailable, delivered on this server only",
                            undelivered(room.as_deref(), &text)
                        ),
                    );
                }
            },
            Request::Private { from, to, text } => match got {
                Some(n) if n > 0 => hub.send_text_to(from, &text), // the sender's copy
                Some(_) => hub.error(from, &format!("{to:?} is not online")),
                None => hub.error(
                    from,
                    &format!("private message to {to} not delivered: Redis unavailable"),
                ),
            },
            _ => {}
        }
    }
}

/// How an undelivered message is named to its sender: where it went and
/// its first words.
fn undelivered(room: Option<&str>, text: &str) -> String {
    let words: String = serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|m| m.get("text").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_default()
        .chars()
        .take(40)
        .collect();
    match room {
        Some(room) => format!("message to #{room} ({words:?}) not delivered everywhere"),
        None => format!("group message ({words:?}) not delivered everywhere"),
    }
}

async fn serve_one(server: &Server, cluster: &Cluster, request: Request) {
    let mut commands = cluster.commands.clone();
    let expires = now_ms() + cluster.ttl_ms();
    match request {
        Request::Join { id, name, room } => {
            let key = format!("chat:room:{room}");
            let answer: RedisResult<(Vec<String>, Vec<String>)> = redis::pipe()
                .cmd("ZADD")
                .arg(&key)
                .arg(expires)
                .arg(cluster.member(&name))
                .ignore()
                .cmd("ZRANGEBYSCORE")
                .arg(&key)
                .arg(now_ms())
                .arg("+inf")
                .cmd("LRANGE")
                .arg(history_key(Some(&room)))
                .arg(0)
                .arg(HISTORY_LEN - 1)
                .query_async(&mut commands)
                .await;
            let published = match answer {
                Ok((members, list)) => {
                    let text = json!({"type": "join", "room": room, "user": name, "members": names(&members)})
                        .to_string();
                    let sent = publish_all(&mut commands, &text).await;
                    sent.ok().map(|_| (text, list))
                }
                Err(_) => None,
            };
            let mut hub = server.hub();
            match published {
                Some((text, list)) => {
                    if !cluster.subscribed.load(Ordering::Relaxed) {
                        hub.relay(&text);
                    }
                    hub.room_history(id, &room, history(list));
                }
                None => {
                    hub.join_locally(id, &room);
                    hub.error(
                        id,
                        &format!("#{room}: Redis unavailable, joined on this server only"),
                    );
                }
            }
        }
        Request::Leave { name, room } => {
            let key = format!("chat:room:{room}");
            let answer: RedisResult<Vec<String>> = redis::pipe()
                .cmd("ZREM")
                .arg(&key)
                .arg(cluster.member(&name))
                .ignore()
                .cmd("ZRANGEBYSCORE")
                .arg(&key)
                .arg(now_ms())
                .arg("+inf")
                .query_async(&mut commands)
                .await
                .map(|(members,): (Vec<String>,)| members);
            if let Ok(members) = answer {
                if members.is_empty() {
                    // The room is gone, with its history.
                    let _: RedisResult<()> = redis::pipe()
                        .cmd("DEL")
                        .arg(&key)
                        .arg(history_key(Some(&room)))
                        .query_async(&mut commands)
                        .await;
                }
                let text = json!({"type": "leave", "room": room, "user": name, "members": names(&members)})
                    .to_string();
                let sent = publish_all(&mut commands, &text).await;
                if sent.is_err() || !cluster.subscribed.load(Ordering::Relaxed) {
                    server.hub().relay(&text);
                }
            } else {
                // The members here still hear of it; the refresh puts the
                // room right in Redis later (the entry expires).
                let mut hub = server.hub();
                let local = hub.room_names(&room);
                let text = json!({"type": "leave", "room": room, "user": name, "members": local})
                    .to_string();
                hub.relay(&text);
            }
        }
        Request::Presence { name, online } => {
            // A page that went and came back here at once holds its name
            // again: keep it.
            let online = online || server.hub().id_of(&name).is_some();
            let member = cluster.member(&name);
            let mut pipe = redis::pipe();
            if online {
                pipe.cmd("ZADD")
                    .arg("chat:presence")
                    .arg(expires)
                    .arg(&member)
                    .ignore();
            } else {
                pipe.cmd("EVAL")
                    .arg(RELEASE)
                    .arg(1)
                    .arg(format!("chat:user:{name}"))
                    .arg(&cluster.instance)
                    .ignore();
                pipe.cmd("ZREM").arg("chat:presence").arg(&member).ignore();
            }
            pipe.cmd("PUBLISH")
                .arg("chat:all")
                .arg(json!({"type": "presence"}).to_string())
                .ignore();
            let _: RedisResult<()> = pipe.query_async(&mut commands).await;
            cluster.refresh.notify_one();
        }
        Request::Publish { .. } | Request::Private { .. } => {}
    }
}

/// The names in `INSTANCE/NAME` members, sorted, without repeats.
fn names(members: &[String]) -> Vec<&str> {
    let set: BTreeSet<&str> = members
        .iter()
        .filter_map(|m| m.split_once('/').map(|(_, name)| name))
        .collect();
    set.into_iter().collect()
}

/// Receives `chat:all` and `chat:to:INSTANCE`, and hands each message to the
/// hub; resubscribes when the connection drops.
async fn subscribe(server: Arc<Server>, cluster: Arc<Cluster>) {
    let mut backoff = Duration::from_millis(250);
    let mut reported = false;
    loop {
        let subscribed = async {
            let mut pubsub = cluster.client.get_async_pubsub().await?;
            pubsub.subscribe("chat:all").await?;
            pubsub
                .subscribe(format!("chat:to:{}", cluster.instance))
                .await?;
            RedisResult::Ok(pubsub)
        };
        match tokio::time::timeout(Duration::from_secs(2), subscribed).await {
            Ok(Ok(mut pubsub)) => {
                eprintln!("chat: redis: subscribed");
                reported = false;
                backoff = Duration::from_millis(250);
                cluster.subscribed.store(true, Ordering::Relaxed);
                cluster.refresh.notify_one();
                let mut stream = pubsub.on_message();
                while let Some(message) = stream.next().await {
                    let Ok(text) = message.get_payload::<String>() else {
                        continue;
                    };
                    if message.get_channel_name() == "chat:all" && text == r#"{"type":"presence"}"# {
                        cluster.refresh.notify_one();
                    } else {
                        server.hub().relay(&text);
                    }
                }
                cluster.subscribed.store(false, Ordering::Relaxed);
                eprintln!("chat: redis: subscription lost; reconnecting");
            }
            Ok(Err(e)) if !reported => {
                eprintln!("chat: redis: cannot subscribe ({e}); retrying");
                reported = true;
            }
            _ => {}
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}

/// Every third of the TTL, and whenever asked: writes this server's users,
/// their rooms and the signing key again, and reads who is online
/// everywhere and how many servers are alive.
async fn refresh(server: Arc<Server>, cluster: Arc<Cluster>) {
    let period = cluster.ttl / 3;
    let mut commands = cluster.commands.clone();
    loop {
        let (users, memberships) = server.hub().local_presence();
        let now = now_ms();
        let expires = now + cluster.ttl_ms();
        let mut pipe = redis::pipe();
        for name in &users {
            pipe.cmd("EVAL")
                .arg(CLAIM)
                .arg(1)
                .arg(format!("chat:user:{name}"))
                .arg(&cluster.instance)
                .arg(cluster.ttl_ms())
                .ignore();
            pipe.cmd("ZADD")
                .arg("chat:presence")
                .arg(expires)
                .arg(cluster.member(name))
                .ignore();
        }
        for (room, name) in &memberships {
            pipe.cmd("ZADD")
                .arg(format!("chat:room:{room}"))
                .arg(expires)
                .arg(cluster.member(name))
                .ignore();
        }
        pipe.cmd("SET")
            .arg("chat:key")
            .arg(server.signer.hex_key())
            .arg("NX")
            .ignore();
        pipe.cmd("ZADD")
            .arg("chat:instances")
            .arg(expires)
            .arg(&cluster.instance)
            .ignore();
        for key in ["chat:presence", "chat:instances"] {
            pipe.cmd("ZREMRANGEBYSCORE")
                .arg(key)
                .arg("-inf")
                .arg(now)
                .ignore();
        }
        pipe.cmd("ZRANGE").arg("chat:presence").arg(0).arg(-1);
        pipe.cmd("ZCARD").arg("chat:instances");
        let answer: RedisResult<(Vec<String>, usize)> = pipe.query_async(&mut commands).await;
        if let Ok((members, live)) = answer {
            cluster.live.store(live.max(1), Ordering::Relaxed);
            let prefix = format!("{}/", cluster.instance);
            let remote: BTreeSet<String> = members
                .iter()
                .filter(|m| !m.starts_with(&prefix))
                .filter_map(|m| m.split_once('/').map(|(_, name)| name.to_owned()))
                .collect();
            server.hub().set_remote(remote);
        }
        let _ = tokio::time::timeout(period, cluster.refresh.notified()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_give_sorted_names_and_history_comes_oldest_first() {
        let members = ["b1/zoe", "a0/amy", "c2/zoe", "no-slash"].map(str::to_owned);
        assert_eq!(names(&members), ["amy", "zoe"]);
        // LPUSH keeps the newest first; a text that is not JSON is left out.
        let list = [r#"{"n":3}"#, "junk", r#"{"n":1}"#]
            .map(str::to_owned)
            .to_vec();
        assert_eq!(history(list), [json!({"n": 1}), json!({"n": 3})]);
        assert_eq!(history_key(None), "chat:history");
        assert_eq!(history_key(Some("dev")), "chat:history:dev");
    }

    #[test]
    fn an_undelivered_message_is_named_by_its_place_and_first_words() {
        let text = json!({"type": "room", "room": "dev", "text": "x".repeat(100)}).to_string();
        let named = undelivered(Some("dev"), &text);
        assert_eq!(
            named,
            format!(
                "message to #dev ({:?}) not delivered everywhere",
                "x".repeat(40)
            )
        );
        assert_eq!(
            undelivered(None, r#"{"text":"hi"}"#),
            r#"group message ("hi") not delivered everywhere"#
        );
    }
}
