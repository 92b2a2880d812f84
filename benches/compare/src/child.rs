//! The server child process: the bench binary re-executed with
//! `--serve <name>`, so that every server runs alone in its own process,
//! is driven alike by the load generator in the parent, and has its memory
//! read from `/proc`.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use crate::servers::{self, Server};

/// If the process was started as `<bench> --serve <name>`, serves that
/// server and never returns. Call first thing in a bench's `main`.
pub fn serve_if_asked() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--serve") {
        let name = args.get(at + 1).expect("--serve needs a server name");
        let server = Server::from_name(name).unwrap_or_else(|| panic!("no server {name}"));
        servers::serve(server);
    }
}

/// A running server child; killed when dropped.
pub struct ServerProcess {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl ServerProcess {
    /// Starts `server` in a child process and waits for its address.
    pub fn start(server: Server) -> Self {
        Self::start_with_env(server, &[])
    }

    /// [`start`](Self::start) with variables added to the child's
    /// environment.
    pub fn start_with_env(server: Server, env: &[(&str, &str)]) -> Self {
        let exe = std::env::current_exe().expect("current executable");
        let mut child = Command::new(exe)
            .envs(env.iter().copied())
            .arg("--serve")
            .arg(server.name())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the server child");
        let stdout = child.stdout.take().expect("child stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the child's address");
        let addr = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{} printed no address: {line:?}", server.name()));
        ServerProcess { child, addr }
    }

    /// The child's resident memory (`VmRSS`), in bytes.
    pub fn rss(&self) -> u64 {
        rss_of(self.child.id())
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A child process of this binary started with other arguments, spoken to
/// one line at a time on its standard input and output; killed when
/// dropped (and, through [`die_with_parent`], when this process dies).
pub struct ChildProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl ChildProcess {
    /// Starts this binary with `args` and variables `env` added.
    pub fn start(args: &[&str], env: &[(&str, String)]) -> Self {
        let exe = std::env::current_exe().expect("current executable");
        let mut child = Command::new(exe)
            .args(args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start a child");
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().expect("child stdout"));
        ChildProcess {
            child,
            stdin,
            stdout,
        }
    }

    /// The next line the child prints, without its end; empty once the
    /// child's output ended.
    pub fn line(&mut self) -> String {
        let mut line = String::new();
        let _ = self.stdout.read_line(&mut line);
        line.trim_end().to_string()
    }

    /// Writes `line` to the child's standard input.
    pub fn send(&mut self, line: &str) {
        if let Some(stdin) = &mut self.stdin {
            let _ = writeln!(stdin, "{line}").and_then(|()| stdin.flush());
        }
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The child's resident memory (`VmRSS`), in bytes.
    pub fn rss(&self) -> u64 {
        rss_of(self.child.id())
    }

    /// Sends the child `SIGKILL` without waiting for it to end (dropping it
    /// waits).
    pub fn signal_kill(&mut self) {
        let _ = self.child.kill();
    }

    /// Kills the child and waits for it.
    pub fn kill(&mut self) {
        self.stdin = None;
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Asks the kernel to kill this process when its parent dies (Linux), and
/// exits at once if the parent is already gone: a child of a bench never
/// outlives it, even if the bench is killed.
pub fn die_with_parent() {
    #[cfg(target_os = "linux")]
    // SAFETY: prctl(PR_SET_PDEATHSIG) takes a signal number; getppid has no
    // arguments.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        if libc::getppid() == 1 {
            std::process::exit(0);
        }
    }
}

/// `VmRSS` of process `pid`, in bytes.
pub fn rss_of(pid: u32) -> u64 {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc/<pid>/status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .expect("VmRSS line");
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("VmRSS value");
    kib * 1024
}

/// Raises this process's open-files limit to its hard limit; returns the
/// new soft limit.
pub fn raise_open_files_limit() -> u64 {
    // SAFETY: getrlimit and setrlimit read and write the struct we pass.
    unsafe {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 0;
        }
        limit.rlim_cur = limit.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        limit.rlim_cur
    }
}
