//! Idle memory per connection: the server's resident memory after N
//! connections each sent one message, got its echo and went idle, minus
//! before, divided by N.
//!
//! ```text
//! cargo bench --manifest-path benches/compare/Cargo.toml --bench idle [-- N]
//! ```
//!
//! N defaults to 10,000 (also `IDLE_N`). Each server runs in a fresh child
//! process per run (this binary with `--serve`); 3 runs (`IDLE_RUNS`),
//! median reported. `IDLE_SERVERS` picks the columns (comma-separated).
//! The open-files limit is raised to its hard limit in both processes.
//!
//! The binary counts its allocations ([`heap::Counting`]): a second table
//! gives, per server, the live heap an idle connection adds, by allocation
//! size (first run), to tell a task from a buffer.

use std::time::Duration;

use rfc6455_compare::child::{self, ServerProcess};
use rfc6455_compare::heap;
use rfc6455_compare::load;
use rfc6455_compare::machine;
use rfc6455_compare::servers::{self, Server, WORKERS};

/// The servers measured by default: ours and the peers, async then threads.
const DEFAULT: [Server; 6] = [
    Server::OursTokio,
    Server::TokioTungstenite,
    Server::Fastwebsockets,
    Server::TokioWebsockets,
    Server::OursBlocking,
    Server::TungsteniteThreads,
];

#[global_allocator]
static ALLOCATOR: heap::Counting = heap::Counting;

/// The one message each connection sends.
const MESSAGE: usize = 16;

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    if std::env::args().any(|a| a == "--serve") {
        heap::start_dump();
    }
    child::serve_if_asked();
    let limit = child::raise_open_files_limit();
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .or_else(|| std::env::var("IDLE_N").ok().and_then(|v| v.parse().ok()))
        .unwrap_or(10_000);
    let runs: usize = std::env::var("IDLE_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let servers: Vec<Server> = match std::env::var("IDLE_SERVERS") {
        Ok(names) => names
            .split(',')
            .map(|n| Server::from_name(n.trim()).unwrap_or_else(|| panic!("no server {n}")))
            .collect(),
        Err(_) => DEFAULT.to_vec(),
    };
    assert!(
        (n as u64) + 100 < limit,
        "{n} connections need more open files than the limit, {limit}"
    );

    machine::print();
    println!(
        "Idle memory per connection: {n} connections, each sent one {MESSAGE}-byte \
         message and read its echo, then idle; server VmRSS (after - before) / N, \
         median of {runs} runs, a fresh server each run; tokio servers on a \
         multi-thread runtime of {WORKERS} workers.\n"
    );
    let runtime = servers::runtime();

    let mut table = Vec::new();
    for &server in &servers {
        let mut per_connection = Vec::new();
        let mut before_after = Vec::new();
        let mut heap_delta = Vec::new();
        let histogram = std::env::temp_dir().join(format!(
            "idle-heap-{}-{}.txt",
            std::process::id(),
            server.name()
        ));
        for run in 0..runs {
            let _ = std::fs::remove_file(&histogram);
            let process = ServerProcess::start_with_env(
                server,
                &[("HEAP_HISTOGRAM", histogram.to_str().expect("UTF-8 path"))],
            );
            std::thread::sleep(Duration::from_millis(300));
            let before = process.rss();
            let heap_before = heap::read(&histogram);
            let streams = runtime.block_on(load::open_idle(
                process.addr,
                server.echoes_raw_bytes(),
                n,
                MESSAGE,
                64,
            ));
            // Let the server's tasks or threads settle into their wait.
            std::thread::sleep(Duration::from_millis(500));
            let after = process.rss();
            if run == 0 {
                heap_delta = heap::diff(&heap_before, &heap::read(&histogram));
            }
            // The server goes first: its side closes, so this side's ports
            // are not left in TIME_WAIT for the next run.
            drop(process);
            drop(streams);
            per_connection.push((after as f64 - before as f64) / n as f64);
            before_after.push((before, after));
        }
        let mid = median(per_connection.clone());
        eprintln!(
            "{}: {:?} bytes per connection",
            server.name(),
            per_connection
                .iter()
                .map(|b| b.round() as i64)
                .collect::<Vec<_>>()
        );
        let _ = std::fs::remove_file(&histogram);
        table.push((server, mid, per_connection, before_after, heap_delta));
    }

    println!(
        "| server | KiB per connection (median) | runs, bytes per connection | RSS before → after, MiB (first run) |"
    );
    println!("|---|---:|---|---|");
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    for (server, mid, runs, before_after, _) in &table {
        let runs: Vec<String> = runs.iter().map(|b| format!("{:.0}", b)).collect();
        let (before, after) = before_after[0];
        println!(
            "| {} | {:.2} | {} | {:.1} → {:.1} |",
            server.name(),
            mid / 1024.0,
            runs.join(", "),
            mib(before),
            mib(after)
        );
    }
    println!(
        "\nLive heap added per connection (first run), by allocation size \
         (sizes rounded up to 16 B; classes holding at least one allocation \
         per 10 connections):\n"
    );
    println!(
        "| server | live heap B per connection | allocations per connection: size B × count |"
    );
    println!("|---|---:|---|");
    for (server, _, _, _, delta) in &table {
        let (total, parts) = heap::per_connection(delta, n);
        println!("| {} | {:.0} | {} |", server.name(), total, parts);
    }
}
