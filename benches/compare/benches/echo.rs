//! Echo over loopback: messages per second of every server column, driven
//! by one load generator, with each column's ratio to tokio-tungstenite.
//!
//! ```text
//! cargo bench --manifest-path benches/compare/Cargo.toml --bench echo
//! ```
//!
//! Each server runs in its own child process (this binary with `--serve`).
//! Per row, the columns are measured in turns, several rounds, each round
//! in a rotated order; a cell is the median over rounds, a ratio the median
//! over rounds of that round's column / tokio-tungstenite. Prints the
//! machine block and four Markdown tables (rates, ratios, and the server's
//! CPU time and minor page faults per message, read from `/proc` over each
//! window), and writes
//! `benches/compare/target/echo.json` for `report.py`.
//!
//! Environment, for quick runs (defaults in brackets):
//! `ECHO_CONNS` [1,16,256], `ECHO_SIZES` [16,1024,65536],
//! `ECHO_IN_FLIGHT` [1,16], `ECHO_SERVERS` [every column, comma-separated
//! names], `ECHO_ROUNDS` [5], `ECHO_WINDOW_MS` [250, and at least 200 per
//! MiB of the message], `ECHO_WARMUP_MS` [100, and at least 30 per MiB].

use std::time::Duration;

use rfc6455_compare::child::{self, ServerProcess};
use rfc6455_compare::load;
use rfc6455_compare::machine;
use rfc6455_compare::servers::{self, Server, WORKERS};
use rfc6455_compare::table::{env_list, env_number, median, ratio, size_name};

/// The column every ratio divides by.
const BASELINE: Server = Server::TokioTungstenite;

struct Row {
    conns: usize,
    size: usize,
    in_flight: usize,
    /// Messages per second of each column, one per round.
    rates: Vec<Vec<f64>>,
    /// Microseconds of the server's CPU per message, the same way.
    cpu: Vec<Vec<f64>>,
    /// Minor page faults of the server per message, the same way.
    faults: Vec<Vec<f64>>,
}

/// `ms` milliseconds per MiB of `size`: a 16 MiB echo takes tens of
/// milliseconds, so a window of 250 ms would hold only a few of them.
fn at_least(size: usize, ms: u64) -> Duration {
    Duration::from_millis((size >> 20) as u64 * ms)
}

fn main() {
    child::serve_if_asked();
    child::raise_open_files_limit();

    let conns = env_list("ECHO_CONNS", &[1, 16, 256]);
    let sizes = env_list("ECHO_SIZES", &[16, 1024, 65536]);
    let in_flight = env_list("ECHO_IN_FLIGHT", &[1, 16]);
    let rounds: usize = env_number("ECHO_ROUNDS", 5);
    let window = Duration::from_millis(env_number("ECHO_WINDOW_MS", 250));
    let warmup = Duration::from_millis(env_number("ECHO_WARMUP_MS", 100));
    let mut columns: Vec<Server> = match std::env::var("ECHO_SERVERS") {
        Ok(names) => names
            .split(',')
            .map(|n| Server::from_name(n.trim()).unwrap_or_else(|| panic!("no server {n}")))
            .collect(),
        Err(_) => Server::ALL.to_vec(),
    };
    if !columns.contains(&BASELINE) {
        columns.push(BASELINE);
    }
    let baseline = columns
        .iter()
        .position(|&s| s == BASELINE)
        .expect("baseline");

    let machine = machine::print();
    println!(
        "Echo over loopback: {} rounds of {} ms after {} ms of warm-up per cell, \
         columns in turns; tokio servers and the load generator on multi-thread \
         runtimes of {WORKERS} workers; every echo checked byte for byte.\n",
        rounds,
        window.as_millis(),
        warmup.as_millis()
    );

    let processes: Vec<ServerProcess> = columns.iter().map(|&s| ServerProcess::start(s)).collect();
    let runtime = servers::runtime();

    let mut rows = Vec::new();
    for &c in &conns {
        for &size in &sizes {
            for &k in &in_flight {
                let mut rates = vec![Vec::with_capacity(rounds); columns.len()];
                let mut cpu = vec![Vec::with_capacity(rounds); columns.len()];
                let mut faults = vec![Vec::with_capacity(rounds); columns.len()];
                for round in 0..rounds {
                    for turn in 0..columns.len() {
                        let index = (turn + round) % columns.len();
                        let server = columns[index];
                        let measured = runtime.block_on(load::measure(
                            &processes[index],
                            server.echoes_raw_bytes(),
                            c,
                            size,
                            k,
                            warmup.max(at_least(size, 30)),
                            window.max(at_least(size, 200)),
                        ));
                        rates[index].push(measured.rate);
                        cpu[index].push(measured.server_cpu * 1e6);
                        faults[index].push(measured.server_faults);
                    }
                }
                let row = Row {
                    conns: c,
                    size,
                    in_flight: k,
                    rates,
                    cpu,
                    faults,
                };
                eprintln!(
                    "{} conns, {}, {} in flight: {}",
                    c,
                    size_name(size),
                    k,
                    columns
                        .iter()
                        .zip(&row.rates)
                        .zip(&row.cpu)
                        .map(|((s, r), c)| format!(
                            "{} {:.0} ({:.1} us)",
                            s.name(),
                            median(r.clone()),
                            median(c.clone())
                        ))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                rows.push(row);
            }
        }
    }
    drop(processes);

    let header = |first: &str| {
        let mut line = format!("| {first} |");
        let mut rule = "|---|".to_string();
        for server in &columns {
            line += &format!(" {} |", server.name());
            rule += "---:|";
        }
        format!("{line}\n{rule}")
    };
    let label = |row: &Row| format!("{}, {}, {}", row.conns, size_name(row.size), row.in_flight);
    // One table of each column's median over rounds of `of(row)`.
    let medians = |of: fn(&Row) -> &Vec<Vec<f64>>, decimals: usize| {
        println!("{}", header("conns, size, in flight"));
        for row in &rows {
            let cells: Vec<String> = of(row)
                .iter()
                .map(|r| format!(" {:.*} |", decimals, median(r.clone())))
                .collect();
            println!("| {} |{}", label(row), cells.concat());
        }
    };
    println!("Messages per second (median over rounds):\n");
    medians(|row| &row.rates, 0);
    println!(
        "\nRatio to {} (median over rounds of the round's ratio):\n",
        BASELINE.name()
    );
    println!("{}", header("conns, size, in flight"));
    for row in &rows {
        let cells: Vec<String> = (0..columns.len())
            .map(|i| format!(" {:.2} |", ratio(&row.rates[i], &row.rates[baseline])))
            .collect();
        println!("| {} |{}", label(row), cells.concat());
    }

    println!(
        "\nServer CPU per message, microseconds (user and system, every thread of the \
         server's process, median over rounds); lower is better. Unlike the rates, it does not \
         depend on how the load generator shares the cores:\n"
    );
    medians(|row| &row.cpu, 2);

    println!(
        "\nServer minor page faults per message (median over rounds): pages the server's \
         allocator took fresh from the kernel, or took back after returning them; each costs \
         a trap and a zeroed page:\n"
    );
    medians(|row| &row.faults, 2);

    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/target/echo.json");
    std::fs::create_dir_all(concat!(env!("CARGO_MANIFEST_DIR"), "/target")).expect("target dir");
    std::fs::write(
        path,
        json(&machine, &columns, &rows, rounds, window, warmup),
    )
    .expect("write echo.json");
    eprintln!("\nwrote {path}");
}

/// The results as JSON, written by hand (no serde in this package).
fn json(
    machine: &machine::Machine,
    columns: &[Server],
    rows: &[Row],
    rounds: usize,
    window: Duration,
    warmup: Duration,
) -> String {
    let quote = |s: &str| format!("{s:?}");
    // Comma-separated, with `decimals` digits after the point.
    let fixed = |v: &[f64], decimals: usize| {
        v.iter()
            .map(|x| format!("{x:.decimals$}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let baseline = columns
        .iter()
        .position(|&s| s == BASELINE)
        .expect("baseline");
    let mut out = String::from("{\n  \"machine\": {");
    out += &machine
        .fields()
        .iter()
        .map(|(k, v)| format!("{}: {}", quote(k), quote(v)))
        .collect::<Vec<_>>()
        .join(", ");
    out += &format!(
        "}},\n  \"rounds\": {rounds},\n  \"window_ms\": {},\n  \"warmup_ms\": {},\n  \"workers\": {WORKERS},\n  \"baseline\": {},\n  \"columns\": [{}],\n  \"rows\": [\n",
        window.as_millis(),
        warmup.as_millis(),
        quote(BASELINE.name()),
        columns
            .iter()
            .map(|s| quote(s.name()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let rows_json: Vec<String> = rows
        .iter()
        .map(|row| {
            let medians: Vec<f64> = row.rates.iter().map(|r| median(r.clone())).collect();
            let ratios: Vec<f64> = row
                .rates
                .iter()
                .map(|r| ratio(r, &row.rates[baseline]))
                .collect();
            let rounds: Vec<String> = row.rates.iter().map(|r| format!("[{}]", fixed(r, 1))).collect();
            let cpu: Vec<f64> = row.cpu.iter().map(|c| median(c.clone())).collect();
            let faults: Vec<f64> = row.faults.iter().map(|f| median(f.clone())).collect();
            format!(
                "    {{\"conns\": {}, \"size\": {}, \"in_flight\": {}, \"median\": [{}], \"ratio\": [{}], \"rounds\": [{}], \"server_cpu_us\": [{}], \"server_faults\": [{}]}}",
                row.conns,
                row.size,
                row.in_flight,
                fixed(&medians, 1),
                fixed(&ratios, 4),
                rounds.join(", "),
                fixed(&cpu, 3),
                fixed(&faults, 3),
            )
        })
        .collect();
    out += &rows_json.join(",\n");
    out += "\n  ]\n}\n";
    out
}
