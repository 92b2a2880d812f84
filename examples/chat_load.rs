//! Measures the chat example (`examples/chat/`): how many group messages a
//! second go from a sender to a receiver, and how long each takes.
//!
//! ```text
//! cargo run --release --features tokio --example chat_load -- SENDER_URL RECEIVER_URL [MESSAGES]
//! ```
//!
//! The sender signs in on `SENDER_URL` (`http://HOST:PORT`), the receiver on
//! `RECEIVER_URL`: the same server for one server alone, two servers for
//! the `--redis` mode, where every message goes through Redis. Then:
//!
//! 1. Latency: 2,000 group messages one at a time, each sent when the last
//!    one reached the receiver; the time from send to receipt (one clock,
//!    this process) at p50 and p99.
//! 2. Throughput: `MESSAGES` (20,000 by default) group messages with at
//!    most 64 on their way at once; messages a second from the first send to
//!    the last receipt.
//!
//! Any `error` the sender gets (a message not delivered everywhere) is
//! counted and printed. Everything is bounded: a run that stalls for 10 s
//! ends with an error. `scripts/chat_redis_load.sh` runs it against one
//! server alone and two servers joined through Redis.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rfc6455::Message;
use rfc6455::io::tokio::{ReadHalf, WebSocketStream, WriteHalf};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Semaphore, mpsc};
use tokio::time::timeout;

/// Messages timed one at a time.
const LATENCY_SAMPLES: usize = 2000;
/// Messages on their way at once in the throughput run.
const WINDOW: usize = 64;
/// The longest wait for anything.
const STALL: Duration = Duration::from_secs(10);

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(sender), Some(receiver)) = (args.first(), args.get(1)) else {
        eprintln!("usage: chat_load SENDER_URL RECEIVER_URL [MESSAGES]");
        return ExitCode::from(2);
    };
    let messages = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(20_000);
    match run(sender, receiver, messages).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("chat_load: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Signs in as `name` (`GET /login?name=`) and opens the chat's WebSocket.
async fn sign_in(
    base: &str,
    name: &str,
) -> Result<(ReadHalf<TcpStream>, WriteHalf<TcpStream>), Error> {
    let host = base
        .strip_prefix("http://")
        .ok_or("a URL is http://HOST:PORT")?;
    let host = host.trim_end_matches('/');
    let mut stream = TcpStream::connect(host).await?;
    let request =
        format!("GET /login?name={name} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut answer = Vec::new();
    timeout(STALL, stream.read_to_end(&mut answer)).await??;
    let answer = String::from_utf8_lossy(&answer);
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, body)| body)
        .unwrap_or_default();
    let login: Value = serde_json::from_str(body)?;
    let token = login["token"]
        .as_str()
        .ok_or_else(|| format!("sign-in refused: {body}"))?;
    let ws = WebSocketStream::connect(&format!("ws://{host}/?token={token}")).await?;
    Ok(ws.into_split())
}

/// The group messages the receiver gets: (sequence number, when sent in
/// nanoseconds since the run started, when received).
async fn receive(mut read: ReadHalf<TcpStream>, got: mpsc::UnboundedSender<(usize, u64, Instant)>) {
    while let Some(Ok(message)) = read.recv().await {
        let Message::Text(text) = message else {
            continue;
        };
        let Ok(message) = serde_json::from_str::<Value>(text.as_ref()) else {
            continue;
        };
        if message["type"] != "group" {
            continue;
        }
        let mut fields = message["text"].as_str().unwrap_or_default().split(' ');
        let (Some("load"), Some(seq), Some(sent)) = (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let (Ok(seq), Ok(sent)) = (seq.parse(), sent.parse()) else {
            continue;
        };
        if got.send((seq, sent, Instant::now())).is_err() {
            return;
        }
    }
}

/// Reads what comes back to the sender (its own messages, the list) and
/// counts the errors.
async fn drain(mut read: ReadHalf<TcpStream>, errors: Arc<AtomicUsize>) {
    while let Some(Ok(message)) = read.recv().await {
        let Message::Text(text) = message else {
            continue;
        };
        let Ok(message) = serde_json::from_str::<Value>(text.as_ref()) else {
            continue;
        };
        if message["type"] == "error" && errors.fetch_add(1, Ordering::Relaxed) == 0 {
            eprintln!("chat_load: first error: {}", message["message"]);
        }
    }
}

fn group(seq: usize, start: Instant) -> Message {
    let sent = start.elapsed().as_nanos();
    Message::text(json!({"type": "group", "text": format!("load {seq} {sent}")}).to_string())
}

async fn run(sender: &str, receiver: &str, messages: usize) -> Result<(), Error> {
    let mut id = [0u8; 4];
    getrandom::fill(&mut id)?;
    let id: String = id.iter().map(|b| format!("{b:02x}")).collect();
    let start = Instant::now();
    let (receiver_read, _receiver_write) = sign_in(receiver, &format!("r{id}")).await?;
    let (sender_read, mut write) = sign_in(sender, &format!("s{id}")).await?;
    let (got_tx, mut got) = mpsc::unbounded_channel();
    tokio::spawn(receive(receiver_read, got_tx));
    let errors = Arc::new(AtomicUsize::new(0));
    tokio::spawn(drain(sender_read, Arc::clone(&errors)));

    // The first message that crosses tells that both are in; the user list
    // on another server may take a refresh to show the sender.
    let mut seq = 0;
    loop {
        write.send(group(seq, start)).await?;
        if let Ok(Some(_)) = timeout(Duration::from_millis(200), got.recv()).await {
            break;
        }
        seq += 1;
        if seq > 50 {
            return Err("no message reached the receiver".into());
        }
    }
    while timeout(Duration::from_millis(200), got.recv())
        .await
        .is_ok()
    {}

    // 1. Latency, one message at a time.
    let base = seq + 1;
    let mut latencies = Vec::with_capacity(LATENCY_SAMPLES);
    for i in 0..LATENCY_SAMPLES {
        write.send(group(base + i, start)).await?;
        loop {
            let (seq, sent, at) = timeout(STALL, got.recv())
                .await?
                .ok_or("the receiver ended")?;
            if seq == base + i {
                latencies.push(at.duration_since(start).as_nanos() as u64 - sent);
                break;
            }
        }
    }
    latencies.sort_unstable();
    let quantile = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize] as f64 / 1e6;

    // 2. Throughput, at most WINDOW messages on their way.
    let base = base + LATENCY_SAMPLES;
    let window = Arc::new(Semaphore::new(WINDOW));
    let permits = Arc::clone(&window);
    let sending = tokio::spawn(async move {
        for i in 0..messages {
            permits.acquire().await?.forget();
            write.feed(group(base + i, start)).await?;
            if permits.available_permits() == 0 || i + 1 == messages {
                write.flush().await?;
            }
        }
        Ok::<_, Error>(write)
    });
    let first = Instant::now();
    let mut received = 0;
    while received < messages {
        let Ok(Some((seq, _, _))) = timeout(STALL, got.recv()).await else {
            return Err(format!("stalled after {received} of {messages} messages").into());
        };
        if seq >= base {
            received += 1;
            window.add_permits(1);
        }
    }
    let elapsed = first.elapsed();
    let _write = sending.await??;
    println!(
        "chat_load: {sender} -> {receiver}: latency p50 {:.3} ms, p99 {:.3} ms ({LATENCY_SAMPLES} one at a time); \
         {:.0} messages/s ({messages} with {WINDOW} on their way); {} errors",
        quantile(0.50),
        quantile(0.99),
        messages as f64 / elapsed.as_secs_f64(),
        errors.load(Ordering::Relaxed),
    );
    // For scripts: p50 and p99 in ms, messages a second, errors.
    println!(
        "figures: {:.4} {:.4} {:.0} {}",
        quantile(0.50),
        quantile(0.99),
        messages as f64 / elapsed.as_secs_f64(),
        errors.load(Ordering::Relaxed),
    );
    Ok(())
}
