//! One tokio server broadcasts prepared messages to 101 TCP subscribers, one
//! of which never reads: the 100 others get every message in order, byte for
//! byte, and the stuck one's queue stays within its high-water mark plus one
//! message until the application drops it or closes it with 1008.
//!
//! The server is written as an application should copy it: a writer task per
//! subscriber takes each message from its inbox the moment the hub sends it,
//! offers it with `try_feed_prepared` (which never waits for the peer), and
//! writes in between; on backpressure it applies the application's policy.
#![cfg(feature = "tokio")]

use std::net::SocketAddr;
use std::time::Duration;

use rfc6455::handshake::ClientRequest;
use rfc6455::io::TryFeedError;
use rfc6455::io::tokio::{WebSocketStream, WriteHalf};
use rfc6455::{CloseCode, Config, Message, PreparedMessage};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

/// A guard against a hang, not a timing assumption.
const GUARD: Duration = Duration::from_secs(120);
/// Subscribers that read, beside the stuck one.
const READERS: usize = 100;
/// Messages published, each of [`SIZE`] bytes.
const MESSAGES: usize = 96;
const SIZE: usize = 8 << 10;
/// The send queue's high-water mark of every subscriber.
const HIGH_WATER: usize = 64 << 10;
/// Messages the publisher may be ahead of the slowest reading subscriber: the
/// test's pacing, so that a reader never reaches the mark (4 messages of
/// 8 KiB are half of it).
const WINDOW: usize = 4;
/// Handles waiting in a writer's inbox; a writer that never waits for its
/// peer keeps it nearly empty.
const INBOX: usize = 16;

/// What the application does with a subscriber whose queue is at the mark.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Policy {
    /// Forget it: end its tasks, which closes the TCP connection without a
    /// close frame, and frees its queue.
    Drop,
    /// Close it with 1008 (policy violation): the close goes out after
    /// what is queued.
    Close,
}

/// What a writer saw.
#[derive(Debug)]
struct Report {
    /// The largest `buffered_amount` right after an offer.
    most_buffered: usize,
    /// Messages queued before the policy applied (all of them if it did not).
    queued: usize,
    /// The policy applied (the subscriber was too slow).
    slow: bool,
}

/// Message `seq`: its number in the first 8 bytes, then a pattern that
/// depends on it.
fn payload(seq: usize) -> Vec<u8> {
    let mut bytes: Vec<u8> = (0..SIZE).map(|i| (i * 7 + seq * 13 + 1) as u8).collect();
    bytes[..8].copy_from_slice(&(seq as u64).to_le_bytes());
    bytes
}

/// The idiom: one writer task per subscriber. It takes each message from its
/// inbox as soon as it comes and offers it without waiting; between two, it
/// writes. A subscriber that stays at the high-water mark gets `policy`.
async fn write_loop(
    mut write: WriteHalf<TcpStream>,
    reader: JoinHandle<()>,
    mut inbox: mpsc::Receiver<PreparedMessage>,
    policy: Policy,
    too_slow: oneshot::Sender<()>,
) -> Report {
    let mut report = Report {
        most_buffered: 0,
        queued: 0,
        slow: false,
    };
    let mut unflushed = false;
    loop {
        tokio::select! {
            next = inbox.recv() => {
                let Some(message) = next else { break };
                match write.try_feed_prepared(&message) {
                    Ok(()) => {
                        report.queued += 1;
                        unflushed = true;
                        report.most_buffered = report.most_buffered.max(write.buffered_amount());
                    }
                    Err(TryFeedError::Backpressure { .. }) => {
                        report.slow = true;
                        break;
                    }
                    // Closed meanwhile (the peer's close was answered).
                    Err(TryFeedError::Send(_)) => break,
                    Err(e) => panic!("{e}"),
                }
            }
            // Writes what the peer takes; never blocks the inbox, since
            // the select takes a message as soon as one comes.
            written = write.flush(), if unflushed => match written {
                Ok(()) => unflushed = false,
                Err(_) => break,
            },
        }
    }
    // The hub sees the inbox closed and forgets this subscriber.
    drop(inbox);
    if report.slow {
        let _ = too_slow.send(());
        match policy {
            Policy::Drop => {
                // Its queue is freed with the halves; the socket closes.
                reader.abort();
                drop(write);
                return report;
            }
            Policy::Close => {
                // The close waits behind what is queued: bounded by the
                // close timeout if the peer never reads again.
                let _ = write.close(CloseCode::PolicyViolation, "too slow").await;
            }
        }
    } else if unflushed {
        let _ = write.flush().await;
    }
    let _ = reader.await;
    report
}

/// The server: accepts `count` subscribers, then publishes [`MESSAGES`]
/// prepared messages to all, each built once, pacing itself on `progress`
/// (the reading subscribers' counts); returns the writers' reports in the
/// order of accept.
async fn serve(
    listener: TcpListener,
    count: usize,
    policy: Policy,
    mut progress: Vec<watch::Receiver<usize>>,
    too_slow: oneshot::Sender<()>,
) -> Vec<Report> {
    let config = Config::default();
    let mut too_slow = Some(too_slow);
    let mut inboxes = Vec::new();
    let mut writers = Vec::new();
    for _ in 0..count {
        let (stream, _) = listener.accept().await.unwrap();
        stream.set_nodelay(true).unwrap();
        let ws = WebSocketStream::accept(stream).await.unwrap();
        let (read, mut write) = ws.into_split();
        write.set_high_water_mark(HIGH_WATER);
        // Something must read: pings and the peer's close come that way.
        let reader = tokio::spawn(async move {
            let _ = read.drain().await;
        });
        let (inbox, outgoing) = mpsc::channel(INBOX);
        // Only the first accepted (the stuck one) can be too slow here;
        // the others share a sender that is never used.
        let signal = too_slow.take().unwrap_or_else(|| oneshot::channel().0);
        writers.push(tokio::spawn(write_loop(
            write, reader, outgoing, policy, signal,
        )));
        inboxes.push(Some(inbox));
    }
    for seq in 0..MESSAGES {
        // The test's pacing: no reader falls more than WINDOW behind.
        for seen in &mut progress {
            seen.wait_for(|&got| got + WINDOW > seq).await.unwrap();
        }
        // One message built once, shared by every subscriber.
        let prepared = PreparedMessage::for_config(Message::binary(payload(seq)), &config);
        for slot in &mut inboxes {
            let Some(inbox) = slot else { continue };
            if inbox.try_send(prepared.clone()).is_err() {
                // Closed (the writer applied its policy) or full (the
                // writer cannot keep up): forget the subscriber.
                *slot = None;
            }
        }
    }
    drop(inboxes);
    let mut reports = Vec::new();
    for writer in writers {
        reports.push(writer.await.unwrap());
    }
    reports
}

/// A subscriber that reads: checks every message, counts it on `progress`.
async fn read_all(addr: SocketAddr, progress: watch::Sender<usize>) {
    let mut ws = WebSocketStream::connect(&format!("ws://{addr}/"))
        .await
        .unwrap();
    for seq in 0..MESSAGES {
        let message = ws.recv().await.unwrap().unwrap();
        assert!(
            message == Message::binary(payload(seq)),
            "a reader got something else as message {seq}"
        );
        progress.send_replace(seq + 1);
    }
    ws.close(CloseCode::Normal, "").await.unwrap();
    while let Some(Ok(_)) = ws.recv().await {}
}

/// The stuck subscriber's connection: a small receive buffer, so that the
/// kernel holds little of what the server writes.
async fn connect_stuck(addr: SocketAddr) -> WebSocketStream<TcpStream> {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket.connect(addr).await.unwrap();
    let request = ClientRequest::new(&format!("ws://{addr}/")).unwrap();
    WebSocketStream::client(stream, request, Config::default())
        .await
        .unwrap()
}

async fn run(policy: Policy) {
    // A small send buffer on the listener (accepted sockets inherit it), so
    // that the stuck subscriber's bytes pile up in the server's queue, where
    // the test can see them, rather than in the kernel.
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_send_buffer_size(16 << 10).unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(1024).unwrap();
    let addr = listener.local_addr().unwrap();

    let (too_slow, slow_seen) = oneshot::channel();
    let (counts, progress): (Vec<_>, Vec<_>) = (0..READERS).map(|_| watch::channel(0)).unzip();
    let server = tokio::spawn(serve(listener, READERS + 1, policy, progress, too_slow));
    // Connected first, so accepted first.
    let mut stuck = connect_stuck(addr).await;
    let readers: Vec<_> = counts
        .into_iter()
        .map(|count| tokio::spawn(read_all(addr, count)))
        .collect();

    // The stuck subscriber reads nothing until the server gives up on it;
    // then it reads what was queued for it before the policy, in order, and
    // the end that the policy chose.
    slow_seen
        .await
        .expect("the stuck subscriber was never too slow");
    let stuck = tokio::spawn(async move {
        let mut got = 0;
        let end = loop {
            match stuck.recv().await {
                Some(Ok(message)) => {
                    assert!(
                        message == Message::binary(payload(got)),
                        "the stuck one got something else as message {got}"
                    );
                    got += 1;
                }
                other => break other.map(|r| r.map(|_| ())),
            }
        };
        (got, end, stuck.peer_close().cloned())
    });
    for reader in readers {
        reader.await.unwrap();
    }
    let reports = server.await.unwrap();
    let (got, end, peer_close) = stuck.await.unwrap();

    let frame_len = PreparedMessage::new(Message::binary(payload(0)), usize::MAX)
        .frames()
        .len();
    let (stuck_report, others) = reports.split_first().unwrap();
    assert!(stuck_report.slow);
    assert!(
        stuck_report.queued < MESSAGES,
        "the policy applied before the end"
    );
    assert!(
        stuck_report.most_buffered <= HIGH_WATER + frame_len,
        "{} bytes queued for the stuck subscriber, more than the mark and one message",
        stuck_report.most_buffered
    );
    assert!(stuck_report.most_buffered >= HIGH_WATER - frame_len);
    for report in others {
        assert!(!report.slow, "a reader was taken for slow: {report:?}");
        assert_eq!(report.queued, MESSAGES);
        assert!(report.most_buffered <= WINDOW * frame_len);
    }
    match policy {
        Policy::Close => {
            assert!(end.is_none(), "a clean close: {end:?}");
            assert_eq!(
                got, stuck_report.queued,
                "every queued message, then the close"
            );
            let close = peer_close.expect("a close frame");
            assert_eq!(close.code(), CloseCode::PolicyViolation);
        }
        Policy::Drop => {
            // The TCP connection ends without a close frame, and what was
            // queued but not yet written is gone with the queue.
            assert!(
                got < stuck_report.queued,
                "{got} of {}",
                stuck_report.queued
            );
            assert!(peer_close.is_none(), "no close frame: {end:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_subscriber_is_closed_with_1008_and_the_others_get_everything() {
    tokio::time::timeout(GUARD, run(Policy::Close))
        .await
        .expect("within the guard");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_subscriber_is_dropped_and_the_others_get_everything() {
    tokio::time::timeout(GUARD, run(Policy::Drop))
        .await
        .expect("within the guard");
}
