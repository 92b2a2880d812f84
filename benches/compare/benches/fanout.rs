//! Fan-out over loopback: one server publishes messages to N subscribers
//! held by the load generator; delivered messages per second (summed over
//! subscribers) and the time until the last subscriber has the last
//! message, each column as a ratio to tokio-tungstenite in the same run.
//!
//! ```text
//! cargo bench --manifest-path benches/compare/Cargo.toml --bench fanout
//! ```
//!
//! Each column's server runs in its own child process on a current-thread
//! tokio runtime (see `src/fanout.rs`); the load generator runs on a
//! multi-thread runtime of 2 workers and checks every message of every
//! subscriber byte for byte. Per row the columns are measured in turns,
//! in a rotated order each round; a cell is the median over rounds, a ratio
//! the median over rounds of that round's ratio. Then the compressed pair
//! (JSON-like text, ratio to ours with context takeover), and the servers'
//! heap while one 64 KiB message is queued for subscribers that do not read.
//!
//! Environment (defaults in brackets): `FANOUT_SUBS` [100,1000,10000],
//! `FANOUT_SIZES` [16,1024,65536], `FANOUT_MESSAGES` [10],
//! `FANOUT_SERVERS` [every uncompressed column], `FANOUT_ROUNDS` [3],
//! `FANOUT_DEFLATE_SUBS` [1000] and `FANOUT_DEFLATE_SIZE` [1024] (0
//! subscribers skips it), `FANOUT_MEM_SUBS` [10000] and `FANOUT_MEM_SIZE`
//! [65536] (0 skips it). `FANOUT_SERVERS` without tokio-tungstenite takes
//! the first column as the baseline; empty, it skips the uncompressed
//! table.
//!
//! To profile: each cell prints the CPU time of the server child and of the
//! load generator per delivered message (is the load generator the
//! bottleneck?); `FANOUT_PERF` (perf arguments, `{cell}` in them replaced
//! by `column-subscribers-size`) attaches `perf` to the server for each
//! cell; `FANOUT_CHILD_WRAP` runs each server under a command (say
//! callgrind, `{column}` replaced by the column's name), ended by an `exit`
//! command so that it writes its output.

use std::time::{Duration, Instant};

use rfc6455_compare::fanout::{self, Column, FanoutServer};
use rfc6455_compare::heap::Counting;
use rfc6455_compare::table::{env_list, env_number, median, ratio, size_name};
use rfc6455_compare::{child, machine, servers};

/// Counts the server children's heap (the `heap` command); the load
/// generator pays the same small cost for every column.
#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The column every ratio of the uncompressed table divides by.
const BASELINE: Column = Column::TokioTungstenite;

/// One row: the seconds until the last subscriber had the last message, per
/// column, one per round.
struct Row {
    subs: usize,
    size: usize,
    times: Vec<Vec<f64>>,
}

/// Measures `rows` of (subscribers, sizes) for `columns`, in turns.
fn measure(
    runtime: &tokio::runtime::Runtime,
    servers: &mut [FanoutServer],
    columns: &[Column],
    subs: &[usize],
    sizes: &[usize],
    messages: usize,
    rounds: usize,
) -> Vec<Row> {
    let mut rows = Vec::new();
    for &n in subs {
        // Seconds by round, size and column.
        let mut times = vec![vec![vec![0.0; columns.len()]; sizes.len()]; rounds];
        for (round, cells) in times.iter_mut().enumerate() {
            for turn in 0..columns.len() {
                let index = (turn + round) % columns.len();
                let column = columns[index];
                let server = &mut servers[index];
                runtime.block_on(async {
                    let mut subscribers = fanout::subscribe(server.addr, n, column, None).await;
                    server.wait_for(n).await;
                    for (s, &size) in sizes.iter().enumerate() {
                        let perf = fanout::Perf::attach(server, column, n, size).await;
                        let pid = server.pid().to_string();
                        let cpu = (fanout::cpu_seconds(&pid), fanout::cpu_seconds("self"));
                        assert_eq!(server.ask("mark").await, "ok");
                        let (back, time) =
                            fanout::deliver(server, subscribers, column, messages, size).await;
                        assert_eq!(server.ask("mark").await, "ok");
                        let server_cpu = fanout::cpu_seconds(&pid) - cpu.0;
                        let load_cpu = fanout::cpu_seconds("self") - cpu.1;
                        drop(perf);
                        subscribers = back;
                        cells[s][index] = time.as_secs_f64();
                        let per_message = 1e9 / (n * messages) as f64;
                        eprintln!(
                            "  round {round}, {} {n} x {}: {:.1} ms; CPU of the server \
                             {:.0} ns, of the load generator {:.0} ns per delivered message",
                            column.name(),
                            size_name(size),
                            time.as_secs_f64() * 1e3,
                            server_cpu * per_message,
                            load_cpu * per_message
                        );
                    }
                    assert_eq!(server.ask("reset").await, "ok");
                    drop(subscribers);
                    server.wait_for(0).await;
                });
            }
        }
        for (s, &size) in sizes.iter().enumerate() {
            let per_column: Vec<Vec<f64>> = (0..columns.len())
                .map(|c| times.iter().map(|cells| cells[s][c]).collect())
                .collect();
            eprintln!(
                "{n} subscribers, {}: {}",
                size_name(size),
                columns
                    .iter()
                    .zip(&per_column)
                    .map(|(c, t)| format!("{} {:.1} ms", c.name(), median(t.clone()) * 1e3))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            rows.push(Row {
                subs: n,
                size,
                times: per_column,
            });
        }
    }
    rows
}

fn header(first: &str, columns: &[Column]) -> String {
    let mut line = format!("| {first} |");
    let mut rule = "|---|".to_string();
    for column in columns {
        line += &format!(" {} |", column.name());
        rule += "---:|";
    }
    format!("{line}\n{rule}")
}

/// Prints the tables of `rows`: messages per second and the time to the
/// last message, as ratios to column `baseline`, and the medians.
fn print_tables(rows: &[Row], columns: &[Column], baseline: usize, messages: usize) {
    let rate = |row: &Row, c: usize| -> Vec<f64> {
        row.times[c]
            .iter()
            .map(|t| (row.subs * messages) as f64 / t)
            .collect()
    };
    let label = |row: &Row| format!("{}, {}", row.subs, size_name(row.size));
    println!(
        "\nDelivered messages per second, ratio to {} (median over rounds of the round's ratio; higher is faster):\n",
        columns[baseline].name()
    );
    println!("{}", header("subscribers, size", columns));
    for row in rows {
        let cells: String = (0..columns.len())
            .map(|c| format!(" {:.2} |", ratio(&rate(row, c), &rate(row, baseline))))
            .collect();
        println!("| {} |{cells}", label(row));
    }
    println!(
        "\nTime until the last subscriber has the last message, ratio to {} (lower is faster):\n",
        columns[baseline].name()
    );
    println!("{}", header("subscribers, size", columns));
    for row in rows {
        let cells: String = (0..columns.len())
            .map(|c| format!(" {:.2} |", ratio(&row.times[c], &row.times[baseline])))
            .collect();
        println!("| {} |{cells}", label(row));
    }
    println!("\nMedians on this machine, for scale (delivered messages/s; time to the last):\n");
    println!("{}", header("subscribers, size", columns));
    for row in rows {
        let cells: String = (0..columns.len())
            .map(|c| {
                format!(
                    " {:.0}/s; {:.1} ms |",
                    median(rate(row, c)),
                    median(row.times[c].clone()) * 1e3
                )
            })
            .collect();
        println!("| {} |{cells}", label(row));
    }
}

/// The server's heap growth while one message of `size` bytes is queued for
/// `subs` subscribers that do not read: small socket buffers on both ends,
/// so that most of it stays in the server. Gives bytes.
fn memory(runtime: &tokio::runtime::Runtime, column: Column, subs: usize, size: usize) -> usize {
    runtime.block_on(async {
        let mut server = FanoutServer::start(column, &[("FANOUT_SNDBUF", "4096")]).await;
        let subscribers = fanout::subscribe(server.addr, subs, column, Some(4096)).await;
        server.wait_for(subs).await;
        let before = settled_heap(&mut server).await;
        assert_eq!(server.ask(&format!("publish 1 {size}")).await, "ok");
        let after = settled_heap(&mut server).await;
        drop(subscribers);
        after.saturating_sub(before)
    })
}

/// The child's live heap once two reads 200 ms apart agree (at most 10 s).
async fn settled_heap(server: &mut FanoutServer) -> usize {
    let start = Instant::now();
    let mut last = server.heap().await;
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = server.heap().await;
        if now == last || start.elapsed() > Duration::from_secs(10) {
            return now;
        }
        last = now;
    }
}

/// Ends the server children, letting a wrapper around them write its
/// output.
fn stop(runtime: &tokio::runtime::Runtime, children: Vec<FanoutServer>) {
    runtime.block_on(async {
        for child in children {
            child.stop().await;
        }
    });
}

fn main() {
    fanout::serve_if_asked();
    child::raise_open_files_limit();

    let subs = env_list("FANOUT_SUBS", &[100, 1000, 10_000]);
    let sizes = env_list("FANOUT_SIZES", &[16, 1024, 65536]);
    let messages = env_number("FANOUT_MESSAGES", 10);
    let rounds = env_number("FANOUT_ROUNDS", 3);
    let deflate_subs = env_number("FANOUT_DEFLATE_SUBS", 1000);
    let deflate_size = env_number("FANOUT_DEFLATE_SIZE", 1024);
    let mem_subs = env_number("FANOUT_MEM_SUBS", 10_000);
    let mem_size = env_number("FANOUT_MEM_SIZE", 65536);
    let columns: Vec<Column> = match std::env::var("FANOUT_SERVERS") {
        Ok(names) => names
            .split(',')
            .filter(|n| !n.trim().is_empty())
            .map(|n| Column::from_name(n.trim()).unwrap_or_else(|| panic!("no column {n}")))
            .collect(),
        Err(_) => Column::PLAIN.to_vec(),
    };
    // Given columns without tokio-tungstenite (a profile of a few): the
    // first is the baseline. None at all skips the uncompressed table.
    let baseline = columns.iter().position(|&c| c == BASELINE).unwrap_or(0);

    machine::print();
    println!(
        "Fan-out over loopback: {messages} messages per row published to every subscriber, \
         {rounds} rounds, columns in turns; each server a child process on a current-thread \
         tokio runtime, one writer task per subscriber; the load generator on a multi-thread \
         runtime of {} workers; every message of every subscriber checked byte for byte.",
        servers::WORKERS
    );

    let runtime = servers::runtime();
    let mut children: Vec<FanoutServer> = runtime.block_on(async {
        let mut children = Vec::new();
        for &column in &columns {
            children.push(FanoutServer::start(column, &[]).await);
        }
        children
    });
    if !columns.is_empty() {
        let rows = measure(
            &runtime,
            &mut children,
            &columns,
            &subs,
            &sizes,
            messages,
            rounds,
        );
        print_tables(&rows, &columns, baseline, messages);
    }
    stop(&runtime, children);

    if deflate_subs > 0 {
        // Ratio to the connection compressing each message itself.
        let pair = [Column::OursPreparedDeflate, Column::OursDeflateTakeover];
        let mut children: Vec<FanoutServer> = runtime.block_on(async {
            let mut children = Vec::new();
            for &column in &pair {
                children.push(FanoutServer::start(column, &[]).await);
            }
            children
        });
        let rows = measure(
            &runtime,
            &mut children,
            &pair,
            &[deflate_subs],
            &[deflate_size],
            messages,
            rounds,
        );
        stop(&runtime, children);
        println!("\nWith permessage-deflate, JSON-like text:");
        print_tables(&rows, &pair, 1, messages);
    }

    if mem_subs > 0 {
        println!(
            "\nServer heap while one {} message is queued for {mem_subs} subscribers that \
             do not read (4 KiB socket buffers at both ends; growth over the idle \
             connections, counted by the allocator):\n",
            size_name(mem_size)
        );
        println!("| column | heap growth | payloads | beyond one payload, per subscriber |");
        println!("|---|---:|---:|---:|");
        for &column in &columns {
            let grown = memory(&runtime, column, mem_subs, mem_size);
            let extra = grown as f64 - mem_size as f64;
            println!(
                "| {} | {:.1} MiB | {:.1} | {:.0} B |",
                column.name(),
                grown as f64 / (1 << 20) as f64,
                grown as f64 / mem_size as f64,
                extra / mem_subs as f64
            );
        }
    }
}
