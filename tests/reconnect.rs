//! The reconnecting client (`io::tokio::ReconnectingClient`) against the
//! crate's own tokio server on 127.0.0.1: backoff delays under tokio's
//! paused clock, giving up after the maximum tries, the close policy (the
//! application's close and final codes end it, a dropped connection, 1001
//! and 1012 do not), the hook that subscribes again, and the reports.
#![cfg(feature = "tokio")]

use std::future::Future;
use std::io::ErrorKind;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rfc6455::handshake::ClientRequest;
use rfc6455::io::Error;
use rfc6455::io::tokio::{Backoff, ReconnectingBuilder, ReconnectingClient, WebSocketStream};
use rfc6455::{CloseCode, Config, Message, SendError};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

/// No handshake timer: under the paused clock a pending timer would let
/// tokio jump the time forward while a loopback read is on its way.
fn config() -> Config {
    Config::default().handshake_timeout(None)
}

/// A server on 127.0.0.1 that serves its `n`th connection (from 0) with
/// `script(n, ws)`; returns its URL and the count of connections accepted.
async fn server<F, Fut>(script: F) -> (String, Arc<AtomicUsize>)
where
    F: Fn(usize, WebSocketStream<TcpStream>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    let script = Arc::new(script);
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let n = count.fetch_add(1, Ordering::SeqCst);
            let script = script.clone();
            tokio::spawn(async move {
                let accept = WebSocketStream::accept_with_config(stream, config(), |_| {
                    Ok(rfc6455::handshake::Accept::new())
                });
                if let Ok(ws) = accept.await {
                    script(n, ws).await;
                }
            });
        }
    });
    (url, accepted)
}

/// A URL where nothing listens: connections are refused.
async fn refused_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    drop(listener);
    url
}

/// One reported attempt: number, delay, success, and when it was reported
/// (tokio's clock).
type Report = (u32, Duration, bool, Instant);

fn builder(url: &str, reports: &Arc<Mutex<Vec<Report>>>) -> ReconnectingBuilder<TcpStream> {
    let reports = reports.clone();
    ReconnectingClient::builder(ClientRequest::new(url).unwrap(), config())
        .seed(42)
        .on_attempt(move |attempt| {
            let ok = attempt.outcome.is_ok();
            reports
                .lock()
                .unwrap()
                .push((attempt.number, attempt.delay, ok, Instant::now()));
        })
}

/// Keeps the connection open, echoing, until the client leaves.
async fn echo(mut ws: WebSocketStream<TcpStream>) {
    while let Some(Ok(message)) = ws.recv().await {
        if ws.send(message).await.is_err() {
            return;
        }
    }
}

/// Whether `recv` gives `None` within an hour of tokio time (which the
/// paused clock runs through at once): a client that keeps reconnecting
/// fails the test instead of hanging it.
async fn ends(client: &mut ReconnectingClient) -> bool {
    tokio::time::timeout(Duration::from_secs(3600), client.recv())
        .await
        .is_ok_and(|next| next.is_none())
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[tokio::test(start_paused = true)]
async fn without_jitter_the_delays_double_up_to_the_cap_and_max_tries_gives_up() {
    let url = refused_url().await;
    let reports = Arc::new(Mutex::new(Vec::new()));
    let backoff = Backoff::new(ms(100), ms(1000)).max_tries(7).jitter(false);
    let start = Instant::now();
    let error = builder(&url, &reports)
        .backoff(backoff)
        .connect()
        .await
        .expect_err("nothing listens");
    assert!(
        matches!(&error, Error::Io(e) if e.kind() == ErrorKind::ConnectionRefused),
        "{error:?}"
    );
    let reports = reports.lock().unwrap();
    let numbers: Vec<u32> = reports.iter().map(|r| r.0).collect();
    assert_eq!(
        numbers,
        [1, 2, 3, 4, 5, 6, 7],
        "seven tries, then it gave up"
    );
    let delays: Vec<u64> = reports.iter().map(|r| r.1.as_millis() as u64).collect();
    // The first connection's first attempt does not wait; attempt n waits
    // min(cap, base * 2^(n-1)).
    assert_eq!(delays, [0, 200, 400, 800, 1000, 1000, 1000]);
    assert!(reports.iter().all(|r| !r.2));
    // The clock moved by the delays, and only by them.
    let mut before = start;
    for report in reports.iter() {
        let waited = report.3 - before;
        assert!(
            waited >= report.1 && waited < report.1 + ms(2),
            "{report:?}"
        );
        before = report.3;
    }
}

#[tokio::test(start_paused = true)]
async fn with_jitter_each_delay_is_drawn_below_its_ceiling_and_the_seed_repeats_them() {
    let url = refused_url().await;
    let backoff = Backoff::new(ms(50), ms(2000)).max_tries(12);
    let mut runs = Vec::new();
    for seed in [1, 1, 2] {
        let reports = Arc::new(Mutex::new(Vec::new()));
        let result = builder(&url, &reports)
            .seed(seed)
            .backoff(backoff)
            .connect()
            .await;
        assert!(result.is_err());
        let reports = reports.lock().unwrap();
        assert_eq!(reports.len(), 12);
        let mut before = None::<Instant>;
        for &(number, delay, _, at) in reports.iter().skip(1) {
            assert!(
                delay <= backoff.ceiling(number),
                "attempt {number}: {delay:?}"
            );
            if let Some(before) = before {
                assert!(at - before >= delay && at - before < delay + ms(2));
            }
            before = Some(at);
        }
        runs.push(reports.iter().map(|r| r.1).collect::<Vec<_>>());
    }
    assert_eq!(runs[0], runs[1], "the same seed draws the same delays");
    assert_ne!(runs[0], runs[2], "another seed draws others");
    // The late attempts reach the cap's range: not all of them are small.
    assert!(runs[0][8..].iter().any(|d| *d > ms(200)), "{:?}", runs[0]);
}

#[tokio::test(start_paused = true)]
async fn the_first_connection_retries_until_the_server_comes_up() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let url = format!("ws://{addr}/");
    let reports = Arc::new(Mutex::new(Vec::new()));
    // The server comes up after 1 s of tokio time.
    tokio::spawn(async move {
        tokio::time::sleep(ms(1000)).await;
        let listener = TcpListener::bind(addr).await.unwrap();
        let (stream, _) = listener.accept().await.unwrap();
        let ws = WebSocketStream::accept_with_config(stream, config(), |_| {
            Ok(rfc6455::handshake::Accept::new())
        })
        .await
        .unwrap();
        echo(ws).await;
    });
    let backoff = Backoff::new(ms(100), ms(400)).jitter(false);
    let mut client = builder(&url, &reports)
        .backoff(backoff)
        .connect()
        .await
        .unwrap();
    client.send(Message::text("up")).await.unwrap();
    assert_eq!(client.recv().await.unwrap().unwrap(), Message::text("up"));
    let reports = reports.lock().unwrap();
    let last = reports.last().unwrap();
    assert!(last.2, "the last attempt connected");
    assert!(reports[..reports.len() - 1].iter().all(|r| !r.2));
    // 0 + 200 + 400 + 400 = 1000 ms: the fourth wait ends as the server binds.
    assert!(reports.len() >= 4, "{reports:?}");
}

/// The server's first connection ends with `first`, the second sends
/// "second" and echoes; the client must come back and get "second".
async fn comes_back_after(
    first: impl Fn(WebSocketStream<TcpStream>) -> tokio::task::JoinHandle<()> + Send + Sync + 'static,
) {
    let first = Arc::new(first);
    let (url, accepted) = server(move |n, mut ws| {
        let first = first.clone();
        async move {
            if n == 0 {
                ws.send(Message::text("first")).await.unwrap();
                let _ = first(ws).await;
            } else {
                ws.send(Message::text("second")).await.unwrap();
                echo(ws).await;
            }
        }
    })
    .await;
    let reports = Arc::new(Mutex::new(Vec::new()));
    let backoff = Backoff::new(ms(300), ms(10_000));
    let mut client = builder(&url, &reports)
        .backoff(backoff)
        .connect()
        .await
        .unwrap();
    assert_eq!(
        client.recv().await.unwrap().unwrap(),
        Message::text("first")
    );
    assert_eq!(
        client.recv().await.unwrap().unwrap(),
        Message::text("second")
    );
    assert!(client.is_connected());
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
    let reports = reports.lock().unwrap().clone();
    assert_eq!(reports.len(), 2, "{reports:?}");
    assert_eq!(
        (reports[0].0, reports[0].1, reports[0].2),
        (1, Duration::ZERO, true)
    );
    // The reconnect is attempt 1 of a new series: a random wait up to base.
    assert_eq!(reports[1].0, 1);
    assert!(reports[1].1 <= ms(300) && reports[1].2);
    // And it goes on working.
    client.send(Message::binary(vec![7; 70_000])).await.unwrap();
    assert_eq!(
        client.recv().await.unwrap().unwrap(),
        Message::binary(vec![7; 70_000])
    );
}

#[tokio::test(start_paused = true)]
async fn reconnects_after_the_server_drops_the_tcp_connection() {
    comes_back_after(|ws| tokio::spawn(async move { drop(ws) })).await;
}

#[tokio::test(start_paused = true)]
async fn reconnects_after_1001_going_away() {
    comes_back_after(|mut ws| {
        tokio::spawn(async move {
            ws.close(CloseCode::GoingAway, "deploy").await.unwrap();
            while ws.recv().await.is_some() {}
        })
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn reconnects_after_1012_service_restart() {
    comes_back_after(|mut ws| {
        tokio::spawn(async move {
            ws.close(CloseCode::ServiceRestart, "").await.unwrap();
            while ws.recv().await.is_some() {}
        })
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_final_close_code_ends_the_client_and_others_do_not() {
    // Default: 1000 is final.
    let (url, accepted) = server(|_, mut ws| async move {
        ws.close(CloseCode::Normal, "done").await.unwrap();
        while ws.recv().await.is_some() {}
    })
    .await;
    let reports = Arc::new(Mutex::new(Vec::new()));
    let mut client = builder(&url, &reports).connect().await.unwrap();
    assert!(ends(&mut client).await);
    assert!(client.is_closed());
    assert_eq!(client.peer_close().unwrap().code(), CloseCode::Normal);
    assert_eq!(client.peer_close().unwrap().reason(), "done");
    tokio::time::sleep(Duration::from_secs(120)).await;
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        1,
        "no reconnect after 1000"
    );
    assert_eq!(reports.lock().unwrap().len(), 1);
    let unsent = client.send(Message::text("late")).await.unwrap_err();
    assert_eq!(unsent.message, Message::text("late"));
    assert!(matches!(unsent.error, Error::Send(SendError::Closed)));

    // A private code marked final ends it; 1000 then no longer does.
    let (url, accepted) = server(|n, mut ws| async move {
        let code = if n == 0 {
            CloseCode::Normal
        } else {
            CloseCode::Private(4001)
        };
        ws.close(code, "").await.unwrap();
        while ws.recv().await.is_some() {}
    })
    .await;
    let mut client = builder(&url, &reports)
        .final_codes(|code| code == CloseCode::Private(4001))
        .connect()
        .await
        .unwrap();
    assert!(ends(&mut client).await);
    assert_eq!(
        client.peer_close().unwrap().code(),
        CloseCode::Private(4001)
    );
    tokio::time::sleep(Duration::from_secs(120)).await;
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        2,
        "1000 reconnected once, 4001 ended it"
    );
}

#[tokio::test(start_paused = true)]
async fn the_applications_own_close_never_reconnects() {
    let closes = Arc::new(Mutex::new(Vec::new()));
    let seen = closes.clone();
    let (url, accepted) = server(move |_, mut ws| {
        let seen = seen.clone();
        async move {
            while ws.recv().await.is_some() {}
            seen.lock().unwrap().push(ws.peer_close().map(|f| f.code()));
        }
    })
    .await;
    let reports = Arc::new(Mutex::new(Vec::new()));
    // Even with every code "not final", the application's close is.
    let mut client = builder(&url, &reports)
        .final_codes(|_| false)
        .connect()
        .await
        .unwrap();
    client.close(CloseCode::Normal, "bye").await.unwrap();
    assert!(ends(&mut client).await);
    assert!(client.is_closed());
    tokio::time::sleep(Duration::from_secs(120)).await;
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
    assert_eq!(*closes.lock().unwrap(), [Some(CloseCode::Normal)]);
    let unsent = client.send(Message::text("after")).await.unwrap_err();
    assert!(matches!(unsent.error, Error::Send(SendError::Closed)));
}

#[tokio::test(start_paused = true)]
async fn recv_is_cancel_safe_and_send_gives_the_message_back_while_disconnected() {
    let (url, accepted) = server(|n, mut ws| async move {
        if n == 0 {
            drop(ws); // the connection is lost at once
        } else {
            ws.send(Message::text("back")).await.unwrap();
            echo(ws).await;
        }
    })
    .await;
    let reports = Arc::new(Mutex::new(Vec::new()));
    // No jitter: the reconnect waits exactly 10 s.
    let backoff = Backoff::new(Duration::from_secs(10), Duration::from_secs(60)).jitter(false);
    let mut client = builder(&url, &reports)
        .backoff(backoff)
        .connect()
        .await
        .unwrap();
    // recv sees the loss and starts waiting; the timeout drops it midway.
    let early = tokio::time::timeout(Duration::from_secs(4), client.recv()).await;
    assert!(early.is_err(), "still waiting for the reconnect");
    assert!(!client.is_connected() && !client.is_closed());
    let unsent = client.send(Message::text("while away")).await.unwrap_err();
    assert_eq!(unsent.message, Message::text("while away"));
    assert!(matches!(&unsent.error, Error::Io(e) if e.kind() == ErrorKind::NotConnected));
    let unfed = client
        .feed(Message::binary(vec![1, 2, 3]))
        .await
        .unwrap_err();
    assert_eq!(unfed.message, Message::binary(vec![1, 2, 3]));
    client.flush().await.unwrap();
    // The next recv goes on with the same wait: 10 s from the loss, not
    // 10 s from now.
    let before = Instant::now();
    assert_eq!(client.recv().await.unwrap().unwrap(), Message::text("back"));
    let waited = Instant::now() - before;
    assert!(
        waited >= Duration::from_secs(6) && waited < Duration::from_secs(7),
        "{waited:?}"
    );
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
    // The message given back can be sent now.
    client.send(unsent.message).await.unwrap();
    assert_eq!(
        client.recv().await.unwrap().unwrap(),
        Message::text("while away")
    );
    let reports = reports.lock().unwrap();
    assert_eq!(reports.len(), 2);
    assert_eq!(reports[1].1, Duration::from_secs(10));
}

#[tokio::test(start_paused = true)]
async fn the_hook_runs_after_every_connection_and_can_subscribe_again() {
    // Each connection answers the client's first message, then drops.
    let (url, accepted) = server(|n, mut ws| async move {
        if let Some(Ok(Message::Text(topic))) = ws.recv().await {
            let answer = format!("{n}: subscribed to {}", topic.as_str());
            ws.send(Message::text(answer)).await.unwrap();
        }
        if n < 3 {
            drop(ws);
        } else {
            echo(ws).await;
        }
    })
    .await;
    let hooks = Arc::new(AtomicUsize::new(0));
    let ran = hooks.clone();
    let reports = Arc::new(Mutex::new(Vec::new()));
    let mut client = builder(&url, &reports)
        .backoff(Backoff::new(ms(100), ms(1000)))
        .on_connect(move |ws| {
            ran.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move { ws.send(Message::text("prices")).await })
        })
        .connect()
        .await
        .unwrap();
    for n in 0..4 {
        let message = client.recv().await.unwrap().unwrap();
        assert_eq!(message, Message::text(format!("{n}: subscribed to prices")));
    }
    assert_eq!(hooks.load(Ordering::SeqCst), 4);
    assert_eq!(accepted.load(Ordering::SeqCst), 4);
    let reports = reports.lock().unwrap();
    assert_eq!(reports.len(), 4);
    assert!(reports.iter().all(|r| r.0 == 1 && r.2));
}

#[tokio::test(start_paused = true)]
async fn a_failing_hook_is_a_failed_attempt() {
    let (url, accepted) = server(|_, ws| echo(ws)).await;
    let calls = Arc::new(AtomicUsize::new(0));
    let count = calls.clone();
    let reports = Arc::new(Mutex::new(Vec::new()));
    let mut client = builder(&url, &reports)
        .backoff(Backoff::new(ms(100), ms(1000)).max_tries(5))
        .on_connect(move |_ws| {
            // The first two connections fail to subscribe.
            let n = count.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move {
                if n < 2 {
                    Err(std::io::Error::other("subscription refused").into())
                } else {
                    Ok(())
                }
            })
        })
        .connect()
        .await
        .unwrap();
    client.send(Message::text("in")).await.unwrap();
    assert_eq!(client.recv().await.unwrap().unwrap(), Message::text("in"));
    assert_eq!(accepted.load(Ordering::SeqCst), 3);
    let outcomes: Vec<(u32, bool)> = reports.lock().unwrap().iter().map(|r| (r.0, r.2)).collect();
    assert_eq!(outcomes, [(1, false), (2, false), (3, true)]);
}

#[tokio::test(start_paused = true)]
async fn reconnects_give_up_after_max_tries_with_the_last_error() {
    // One connection, then the server is gone for good.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let ws = WebSocketStream::accept_with_config(stream, config(), |_| {
            Ok(rfc6455::handshake::Accept::new())
        })
        .await
        .unwrap();
        drop(listener);
        drop(ws);
    });
    let reports = Arc::new(Mutex::new(Vec::new()));
    let mut client = builder(&url, &reports)
        .backoff(Backoff::new(ms(100), ms(1000)).max_tries(3))
        .connect()
        .await
        .unwrap();
    let error = client.recv().await.unwrap().unwrap_err();
    assert!(
        matches!(&error, Error::Io(e) if e.kind() == ErrorKind::ConnectionRefused),
        "{error:?}"
    );
    assert!(ends(&mut client).await);
    assert!(client.is_closed());
    let numbers: Vec<(u32, bool)> = reports.lock().unwrap().iter().map(|r| (r.0, r.2)).collect();
    assert_eq!(numbers, [(1, true), (1, false), (2, false), (3, false)]);
}
