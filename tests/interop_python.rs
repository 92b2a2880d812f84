//! Python `websockets` receives prepared messages, with permessage-deflate
//! agreed (the client offers `server_no_context_takeover`) and without:
//! one tokio server broadcasts the same `PreparedMessage`s to a client of
//! each kind, run by `scripts/interop_prepared.py`, which checks every
//! message byte for byte.
//!
//! Needs a Python with `websockets`: set `INTEROP_PYTHON` to it (`.ci/run`
//! makes a venv under `target/`). Without it the test says so and passes.
#![cfg(all(feature = "tokio", feature = "deflate"))]

use std::process::Stdio;
use std::time::Duration;

use rfc6455::deflate::DeflateConfig;
use rfc6455::handshake::Accept;
use rfc6455::io::tokio::WebSocketStream;
use rfc6455::{Config, Message, PreparedMessage};
use tokio::net::TcpListener;

/// The messages of `scripts/interop_prepared.py`, in order (keep in step).
fn messages() -> Vec<Message> {
    let items: String = (0..400)
        .map(|i| format!("{{\"id\":{i},\"name\":\"item{}\"}},", i % 10))
        .collect();
    let pattern: Vec<u8> = (0..100_000usize)
        .map(|i| (i * 7 + i / 251 + 1) as u8)
        .collect();
    let mut x = 0x2545_f491_u32;
    let noise: Vec<u8> = (0..3000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect();
    vec![
        Message::text("hello, prepared"),
        Message::text(items[..4096].to_owned()),
        Message::binary(pattern),
        Message::binary(noise),
        Message::text(""),
    ]
}

#[tokio::test]
async fn python_websockets_receives_prepared_messages_compressed_and_not() {
    let Some(python) = std::env::var_os("INTEROP_PYTHON") else {
        eprintln!("INTEROP_PYTHON is not set: skipped (see .ci/run for the venv)");
        return;
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/interop_prepared.py");
    let child = std::process::Command::new(python)
        .arg(script)
        .arg(&url)
        .stdin(Stdio::null())
        .spawn()
        .expect("start the Python client");
    let mut child = KillOnDrop(child);

    // The server's default: context takeover, unless a client asks for
    // `server_no_context_takeover` (the deflate client does).
    let config = Config::default().deflate(DeflateConfig::default());
    let mut subscribers = Vec::new();
    let mut agreed = Vec::new();
    while subscribers.len() < 2 {
        let (stream, _) = tokio::time::timeout(Duration::from_secs(60), listener.accept())
            .await
            .expect("both Python clients connect")
            .unwrap();
        let ws = WebSocketStream::accept_with_config(stream, config, |_| Ok(Accept::new()))
            .await
            .unwrap();
        agreed.push(
            ws.connection()
                .deflate()
                .map(|params| params.server_no_context_takeover()),
        );
        subscribers.push(ws);
    }
    agreed.sort();
    assert_eq!(agreed, [None, Some(true)], "one plain client, one deflate");

    // Each message built once, in frames of 16 KiB, for both clients.
    let prepared: Vec<PreparedMessage> = messages()
        .into_iter()
        .map(|message| PreparedMessage::new(message, 16 << 10))
        .collect();
    for message in &prepared {
        for ws in &mut subscribers {
            ws.send_prepared(message).await.unwrap();
        }
    }
    // The compressible text went out compressed once (for the one client
    // with deflate), the short text and the noise did not.
    assert!(format!("{:?}", prepared[1]).contains("compressed: [15]"));
    assert!(format!("{:?}", prepared[0]).contains("compressed: []"));

    // The clients close once they have everything: answer and wait for the
    // end of each stream.
    for mut ws in subscribers {
        let rest = tokio::time::timeout(Duration::from_secs(60), async {
            let mut extra = 0;
            while let Some(Ok(_)) = ws.recv().await {
                extra += 1;
            }
            extra
        });
        assert_eq!(rest.await.expect("the client closes"), 0);
    }
    // It has closed both connections: it ends now, or fails.
    let status = child.0.wait().unwrap();
    assert!(status.success(), "the Python client failed: {status}");
}

/// The Python client, killed if the test fails before it ends.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
