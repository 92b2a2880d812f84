//! Heap held by an idle tokio `WebSocketStream`, counted by a counting
//! global allocator on a single-threaded runtime.
#![cfg(feature = "tokio")]

mod counting;

use rfc6455::io::tokio::WebSocketStream;
use rfc6455::{Config, Message, Role};
use tokio::net::{TcpListener, TcpStream};

#[global_allocator]
static GLOBAL: counting::Counting = counting::Counting;

/// An echo server on its own thread and runtime, so that its allocations
/// are not counted.
fn echo_server() -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .unwrap();
        runtime.block_on(async move {
            listener.set_nonblocking(true).unwrap();
            let listener = TcpListener::from_std(listener).unwrap();
            let (stream, _) = listener.accept().await.unwrap();
            let mut ws = WebSocketStream::from_raw(stream, Role::Server, &[], Config::default());
            while let Some(Ok(message)) = ws.recv().await {
                if ws.send(message).await.is_err() {
                    break;
                }
            }
        });
    });
    address
}

#[tokio::test(flavor = "current_thread")]
async fn an_idle_stream_holds_no_heap_and_large_messages_leave_none_behind() {
    let stream = TcpStream::connect(echo_server()).await.unwrap();

    counting::set_on(true);
    let before = counting::live();
    let mut ws = WebSocketStream::from_raw(stream, Role::Client, &[], Config::default());
    assert_eq!(counting::live() - before, 0, "a fresh stream allocated");
    for size in [10usize, 1000, 60_000, 200_000] {
        ws.send(Message::binary(vec![7u8; size])).await.unwrap();
        let echo = ws.recv().await.unwrap().unwrap();
        assert_eq!(echo.len(), size);
        drop(echo);
    }
    let held = counting::live() - before;
    counting::set_on(false);
    println!("heap held by an idle stream after that traffic: {held} bytes");
    // Buffers emptied by a large frame or message let go of it; what may
    // stay is a warm buffer of at most 16 KiB per direction.
    assert!(held <= 2 * (16 << 10), "{held} bytes held");
}
