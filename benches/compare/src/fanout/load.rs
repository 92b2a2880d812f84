//! The fan-out bench's load generator: the server child and its control
//! connection, the subscribers, and the delivery of every message to every
//! one of them, checked.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rfc6455::deflate::DeflateConfig;
use rfc6455::handshake::ClientRequest;
use rfc6455::io::tokio::WebSocketStream;
use rfc6455::{Config, Message};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpSocket, TcpStream};

use super::{Column, expected};

/// A running fan-out server child; killed when dropped.
pub struct FanoutServer {
    child: Child,
    /// Where subscribers connect.
    pub addr: SocketAddr,
    control: BufReader<TcpStream>,
}

impl FanoutServer {
    /// Starts `column` in a child process (with `env` added to its
    /// environment) and connects its control connection. With
    /// `FANOUT_CHILD_WRAP` set (say `valgrind --tool=callgrind
    /// --callgrind-out-file=/tmp/cg-{column}`), the child runs under that
    /// command, `{column}` replaced by the column's name; see
    /// [`stop`](Self::stop) for its output.
    pub async fn start(column: Column, env: &[(&str, &str)]) -> Self {
        let exe = std::env::current_exe().expect("current executable");
        let wrap = std::env::var("FANOUT_CHILD_WRAP").unwrap_or_default();
        let mut words = wrap
            .split_whitespace()
            .map(|w| w.replace("{column}", column.name()));
        let mut command = match words.next() {
            Some(program) => {
                let mut command = Command::new(program);
                command.args(words).arg(exe);
                command
            }
            None => Command::new(exe),
        };
        let mut child = command
            .envs(env.iter().copied())
            .arg("--serve-fanout")
            .arg(column.name())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the server child");
        let stdout = child.stdout.take().expect("child stdout");
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line)
            .expect("read the child's addresses");
        let mut addrs = line.split_whitespace().map(|a| a.parse::<SocketAddr>());
        let (Some(Ok(addr)), Some(Ok(control))) = (addrs.next(), addrs.next()) else {
            panic!("{} printed no addresses: {line:?}", column.name());
        };
        let control = TcpStream::connect(control).await.expect("control");
        control.set_nodelay(true).expect("TCP_NODELAY");
        FanoutServer {
            child,
            addr,
            control: BufReader::new(control),
        }
    }

    /// Sends one command, gives the answer.
    pub async fn ask(&mut self, command: &str) -> String {
        let stream = self.control.get_mut();
        stream
            .write_all(format!("{command}\n").as_bytes())
            .await
            .expect("control write");
        let mut line = String::new();
        self.control
            .read_line(&mut line)
            .await
            .expect("control read");
        line.trim().to_string()
    }

    /// Waits (at most 60 s) until `count` subscribers are registered.
    pub async fn wait_for(&mut self, count: usize) {
        let start = Instant::now();
        loop {
            let now: usize = self.ask("count").await.parse().expect("a count");
            if now == count {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "{now} subscribers registered of {count}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The child's live heap bytes.
    pub async fn heap(&mut self) -> usize {
        self.ask("heap").await.parse().expect("heap bytes")
    }

    /// The child's process id (the wrapper's, under `FANOUT_CHILD_WRAP`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Asks the child to exit and waits for it, so that a wrapper
    /// (`FANOUT_CHILD_WRAP`: callgrind, `perf stat`) writes what it counted;
    /// dropping it kills it instead.
    pub async fn stop(mut self) {
        let _ = self.control.get_mut().write_all(b"exit\n").await;
        let _ = self.child.wait();
    }
}

impl Drop for FanoutServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub type Subscriber = WebSocketStream<TcpStream>;

/// Opens `count` subscribers to `addr`, 256 handshakes at a time; with
/// `recv_buffer`, each socket's receive buffer is that small. Compressed
/// columns offer permessage-deflate.
pub async fn subscribe(
    addr: SocketAddr,
    count: usize,
    column: Column,
    recv_buffer: Option<u32>,
) -> Vec<Subscriber> {
    let url = format!("ws://{addr}/");
    let mut subscribers = Vec::with_capacity(count);
    while subscribers.len() < count {
        let batch = (count - subscribers.len()).min(256);
        let tasks: Vec<_> = (0..batch)
            .map(|_| {
                let url = url.clone();
                tokio::spawn(async move {
                    let socket = TcpSocket::new_v4().expect("socket");
                    if let Some(bytes) = recv_buffer {
                        socket.set_recv_buffer_size(bytes).expect("SO_RCVBUF");
                    }
                    let stream = socket.connect(addr).await.expect("connect");
                    stream.set_nodelay(true).expect("TCP_NODELAY");
                    let mut request = ClientRequest::new(&url).expect("url");
                    let mut config = Config::default().max_message_size(1 << 20);
                    if column.deflate() {
                        let deflate = DeflateConfig::default();
                        request = request.deflate(deflate);
                        config = config.deflate(deflate);
                    }
                    let ws = WebSocketStream::client(stream, request, config)
                        .await
                        .expect("handshake");
                    if column.deflate() {
                        let agreed = ws.connection().deflate().expect("deflate agreed");
                        assert_eq!(
                            agreed.server_no_context_takeover(),
                            column == Column::OursPreparedDeflate
                        );
                    }
                    ws
                })
            })
            .collect();
        for task in tasks {
            subscribers.push(task.await.expect("subscriber"));
        }
    }
    subscribers
}

/// Asks the server to publish `count` messages of `size` bytes and has every
/// subscriber receive them, checking each byte for byte; gives the
/// subscribers back and the time from the command until the last one had
/// the last message.
pub async fn deliver(
    server: &mut FanoutServer,
    subscribers: Vec<Subscriber>,
    column: Column,
    count: usize,
    size: usize,
) -> (Vec<Subscriber>, Duration) {
    let expected: Arc<Vec<Message>> =
        Arc::new((0..count).map(|seq| expected(column, seq, size)).collect());
    let start = Instant::now();
    let tasks: Vec<_> = subscribers
        .into_iter()
        .enumerate()
        .map(|(index, mut ws)| {
            let expected = expected.clone();
            tokio::spawn(async move {
                for (seq, want) in expected.iter().enumerate() {
                    let got = ws.recv().await.expect("a message").expect("a message");
                    assert!(
                        got == *want,
                        "{}: subscriber {index}, message {seq} of {size} B differs",
                        column.name()
                    );
                }
                (ws, Instant::now())
            })
        })
        .collect();
    let answer = server.ask(&format!("publish {count} {size}")).await;
    assert_eq!(answer, "ok");
    let mut subscribers = Vec::with_capacity(tasks.len());
    let mut last = start;
    for task in tasks {
        let (ws, done) = task.await.expect("subscriber task");
        last = last.max(done);
        subscribers.push(ws);
    }
    (subscribers, last - start)
}

/// A profiler attached to the server child for one cell, with
/// `FANOUT_PERF` set to `perf` arguments (say `record -g -o
/// /tmp/{cell}.data` or `stat -o /tmp/{cell}.txt`; `{cell}` becomes
/// `column-subscribers-size`); `-p <pid>` is added. Stopped with SIGINT
/// when dropped, so that perf writes what it has.
pub struct Perf(Option<Child>);

impl Perf {
    /// Attaches, if asked, and gives perf a moment to start counting (the
    /// server is idle meanwhile).
    pub async fn attach(server: &FanoutServer, column: Column, subs: usize, size: usize) -> Perf {
        let Ok(args) = std::env::var("FANOUT_PERF") else {
            return Perf(None);
        };
        let cell = format!("{}-{subs}-{size}", column.name());
        let child = Command::new("perf")
            .args(args.split_whitespace().map(|w| w.replace("{cell}", &cell)))
            .arg("-p")
            .arg(server.pid().to_string())
            .stdin(Stdio::null())
            .spawn()
            .expect("start perf");
        tokio::time::sleep(Duration::from_millis(500)).await;
        Perf(Some(child))
    }
}

impl Drop for Perf {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            // SAFETY: a signal to a process id this one started and has
            // not yet waited for, so the id is not reused.
            unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
            let _ = child.wait();
        }
    }
}

/// CPU time (user and system) a process has used, summed over its
/// threads from `/proc/<pid>/task/*/schedstat` (`self` for this one), in
/// seconds: nanoseconds, where `/proc/<pid>/stat` counts 10 ms ticks.
pub fn cpu_seconds(pid: &str) -> f64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0.0;
    };
    let nanos: u64 = tasks
        .filter_map(|task| {
            let stat = std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
            stat.split_whitespace().next()?.parse::<u64>().ok()
        })
        .sum();
    nanos as f64 / 1e9
}

/// Minor page faults a process has taken (`minflt`, the tenth field of
/// `/proc/<pid>/stat`, which counts every thread, ended ones too): each is
/// a page of memory the process touched for the first time since the
/// allocator got it from the kernel, or got it back after returning it.
pub fn minor_faults(pid: &str) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    // The command name, in brackets, may hold spaces: count from its end.
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().nth(7)?.parse().ok())
        .unwrap_or(0)
}
