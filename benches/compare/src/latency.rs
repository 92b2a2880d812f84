//! Round trips at a fixed load, open loop: the send time of every message
//! is fixed before the run, and each round trip is measured from that
//! scheduled time, not from when the message actually left. A server (or a
//! client) that stalls therefore shows the stall in every message that was
//! due during it, instead of sending fewer messages and hiding it
//! (coordinated omission).
//!
//! The schedule: message `i` of the run (over all connections) is due at
//! `start + i / rate`, on connection `i % conns`; so each connection sends
//! at `rate / conns` messages per second, the connections' sends evenly
//! interleaved. One thread sends (non-blocking writes, queueing what a
//! socket does not take; it sleeps until the next due time), and a
//! current-thread tokio runtime reads the echoes, checks each byte for byte
//! and records `arrival - scheduled` in an HdrHistogram (microseconds, 3
//! significant digits). Messages due in the warm-up are sent and checked but
//! not recorded.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio::io::AsyncReadExt;

use crate::load::{self, Payloads, Reader};

/// Bytes of every message.
pub const SIZE: usize = 128;

/// Round trips in microseconds, 1 µs to 60 s, 3 significant digits.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds")
}

/// What one run measured.
pub struct Run {
    /// Round trips of the messages due after the warm-up, in microseconds.
    pub histogram: Histogram<u64>,
    /// Messages the schedule had.
    pub scheduled: u64,
    /// Messages sent (fewer if the run's time ran out).
    pub sent: u64,
    /// Echoes received and checked.
    pub echoed: u64,
    /// The latest the sender ever was behind its schedule.
    pub sender_late: Duration,
}

/// Opens `conns` connections to `addr` and runs the schedule at `rate`
/// messages per second for `warmup + window`, waiting at most `drain` for
/// the last echoes. Bounded: it returns by `warmup + window + drain` after
/// the connections are open, whatever the server does.
pub fn measure(
    addr: SocketAddr,
    conns: usize,
    rate: u64,
    warmup: Duration,
    window: Duration,
    drain: Duration,
) -> Run {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async move {
        let payloads = Payloads::new(SIZE);
        let mut streams = Vec::with_capacity(conns);
        for _ in 0..conns {
            streams.push(load::connect(addr).await);
        }
        let scheduled = (rate as f64 * (warmup + window).as_secs_f64()) as u64;
        let start = Instant::now() + Duration::from_millis(20);
        let schedule = Schedule {
            start,
            rate,
            conns,
            total: scheduled,
        };
        let record_from = start + warmup;
        let end = start + warmup + window + drain;
        let histogram = Arc::new(Mutex::new(histogram()));
        let echoed = Arc::new(AtomicU64::new(0));
        let mut writers = Vec::with_capacity(conns);
        let mut readers = Vec::with_capacity(conns);
        for (conn, (stream, leftover)) in streams.into_iter().enumerate() {
            let stream = stream.into_std().expect("a std stream");
            writers.push(stream.try_clone().expect("a second handle"));
            let read = tokio::net::TcpStream::from_std(stream).expect("a tokio stream");
            let mut reader = Reader::new(conn, payloads.clone(), false);
            reader.until = schedule.count_of(conn);
            readers.push(tokio::spawn(read_echoes(
                read,
                leftover,
                reader,
                schedule,
                record_from,
                histogram.clone(),
                echoed.clone(),
            )));
        }
        let sender = {
            let payloads = payloads.clone();
            std::thread::spawn(move || send(writers, &payloads, schedule, end))
        };
        let all = async {
            for reader in readers {
                if let Err(error) = reader.await
                    && error.is_panic()
                {
                    std::panic::resume_unwind(error.into_panic());
                }
            }
        };
        let _ = tokio::time::timeout_at(tokio::time::Instant::from_std(end), all).await;
        let (sent, sender_late) = sender.join().expect("the sender thread");
        let histogram = std::mem::replace(
            &mut *histogram.lock().expect("histogram"),
            self::histogram(),
        );
        Run {
            histogram,
            scheduled,
            sent,
            echoed: echoed.load(Ordering::Relaxed),
            sender_late,
        }
    })
}

/// When each message is due and on which connection.
#[derive(Clone, Copy)]
struct Schedule {
    start: Instant,
    rate: u64,
    conns: usize,
    total: u64,
}

impl Schedule {
    /// When message `i` of the run is due.
    fn due(&self, i: u64) -> Instant {
        let nanos = u128::from(i) * 1_000_000_000 / u128::from(self.rate);
        self.start + Duration::from_nanos(nanos as u64)
    }

    /// Message `k` of connection `conn`: its number in the run.
    fn index(&self, conn: usize, k: u64) -> u64 {
        k * self.conns as u64 + conn as u64
    }

    /// Messages connection `conn` sends.
    fn count_of(&self, conn: usize) -> u64 {
        let (conns, conn) = (self.conns as u64, conn as u64);
        if conn >= self.total {
            0
        } else {
            (self.total - conn).div_ceil(conns)
        }
    }
}

/// Sends the schedule; returns (messages sent, the most it was late).
fn send(
    writers: Vec<std::net::TcpStream>,
    payloads: &Payloads,
    schedule: Schedule,
    end: Instant,
) -> (u64, Duration) {
    // Sleeps end as close to the due time as the kernel can (the default
    // slack is 50 µs).
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_TIMERSLACK takes a number of nanoseconds.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong);
    }
    let mut pending: Vec<Vec<u8>> = vec![Vec::new(); writers.len()];
    let mut frame = Vec::with_capacity(SIZE + 16);
    let mut late = Duration::ZERO;
    let mut i = 0;
    while i < schedule.total {
        let now = Instant::now();
        if now >= end {
            break;
        }
        let due = schedule.due(i);
        if due > now {
            flush_pending(&writers, &mut pending);
            std::thread::sleep(due - now);
            continue;
        }
        late = late.max(now - due);
        while i < schedule.total && schedule.due(i) <= now {
            let conn = (i % schedule.conns as u64) as usize;
            frame.clear();
            payloads.encode(conn, i / schedule.conns as u64, &mut frame);
            write_or_queue(&writers[conn], &mut pending[conn], &frame);
            i += 1;
        }
    }
    while pending.iter().any(|p| !p.is_empty()) && Instant::now() < end {
        flush_pending(&writers, &mut pending);
        std::thread::sleep(Duration::from_micros(100));
    }
    (i, late)
}

/// Writes `frame` after what is queued for the socket; queues what it
/// does not take.
fn write_or_queue(mut writer: &std::net::TcpStream, pending: &mut Vec<u8>, frame: &[u8]) {
    if !pending.is_empty() {
        pending.extend_from_slice(frame);
        return flush_one(writer, pending);
    }
    match writer.write(frame) {
        Ok(n) => pending.extend_from_slice(&frame[n..]),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => pending.extend_from_slice(frame),
        // The connection is gone: its echoes will be missing.
        Err(_) => {}
    }
}

fn flush_one(mut writer: &std::net::TcpStream, pending: &mut Vec<u8>) {
    match writer.write(pending) {
        Ok(n) => drop(pending.drain(..n)),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
        Err(_) => pending.clear(),
    }
}

fn flush_pending(writers: &[std::net::TcpStream], pending: &mut [Vec<u8>]) {
    for (writer, pending) in writers.iter().zip(pending) {
        if !pending.is_empty() {
            flush_one(writer, pending);
        }
    }
}

/// Reads one connection's echoes, checks them, and records the round trip
/// of each due after `record_from`.
async fn read_echoes(
    mut read: tokio::net::TcpStream,
    leftover: Vec<u8>,
    mut reader: Reader,
    schedule: Schedule,
    record_from: Instant,
    histogram: Arc<Mutex<Histogram<u64>>>,
    echoed: Arc<AtomicU64>,
) {
    let conn = reader.conn;
    let mut buf = vec![0u8; 8 << 10];
    let mut filled = leftover.len();
    buf[..filled].copy_from_slice(&leftover);
    let mut now = Instant::now();
    loop {
        let before = reader.seq;
        let (used, done) = reader.feed(&buf[..filled]);
        buf.copy_within(used..filled, 0);
        filled -= used;
        if done > 0 {
            let mut histogram = histogram.lock().expect("histogram");
            for k in before..before + done {
                let due = schedule.due(schedule.index(conn, k));
                if due >= record_from {
                    let micros = now.saturating_duration_since(due).as_micros() as u64;
                    histogram.saturating_record(micros.max(1));
                }
            }
            echoed.fetch_add(done, Ordering::Relaxed);
        }
        if reader.seq >= reader.until {
            return;
        }
        match read.read(&mut buf[filled..]).await {
            Ok(n) if n > 0 => filled += n,
            _ => return,
        }
        now = Instant::now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_interleaves_connections_evenly() {
        let schedule = Schedule {
            start: Instant::now(),
            rate: 1000,
            conns: 3,
            total: 10,
        };
        assert_eq!(schedule.due(4) - schedule.start, Duration::from_millis(4));
        assert_eq!(schedule.index(1, 2), 7);
        let counts: Vec<u64> = (0..3).map(|c| schedule.count_of(c)).collect();
        assert_eq!(counts, [4, 3, 3]);
        assert_eq!(counts.iter().sum::<u64>(), schedule.total);
    }
}
