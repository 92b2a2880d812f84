//! Heap held by an idle tokio `WebSocketStream`, counted by a counting
//! global allocator on a single-threaded runtime.
#![cfg(feature = "tokio")]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use rfc6455::io::tokio::WebSocketStream;
use rfc6455::{Config, Message, Role};
use tokio::net::{TcpListener, TcpStream};

/// Counts allocations and live bytes made by the current thread while
/// counting is on, so tests running in parallel do not disturb each other.
struct Counting;

thread_local! {
    static ON: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
    static LIVE: Cell<i64> = const { Cell::new(0) };
    static PEAK: Cell<i64> = const { Cell::new(0) };
}

fn record(allocated: i64) {
    let _ = ON.try_with(|on| {
        if on.get() {
            if allocated > 0 {
                ALLOCATIONS.with(|n| n.set(n.get() + 1));
            }
            LIVE.with(|live| {
                live.set(live.get() + allocated);
                PEAK.with(|peak| peak.set(peak.get().max(live.get())));
            });
        }
    });
}

// SAFETY: forwards every call to the system allocator unchanged; only
// counts on the side.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        record(layout.size() as i64);
        // SAFETY: the caller's contract is passed on unchanged.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        record(-(layout.size() as i64));
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        record(new_size as i64 - layout.size() as i64);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn live() -> i64 {
    LIVE.with(Cell::get)
}

fn counting(on: bool) {
    ON.with(|c| c.set(on));
}

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

    counting(true);
    let before = live();
    let mut ws = WebSocketStream::from_raw(stream, Role::Client, &[], Config::default());
    assert_eq!(live() - before, 0, "a fresh stream allocated");
    for size in [10usize, 1000, 60_000, 200_000] {
        ws.send(Message::binary(vec![7u8; size])).await.unwrap();
        let echo = ws.recv().await.unwrap().unwrap();
        assert_eq!(echo.len(), size);
        drop(echo);
    }
    let held = live() - before;
    counting(false);
    println!("heap held by an idle stream after that traffic: {held} bytes");
    // Buffers emptied by a large frame or message let go of it; what may
    // stay is a warm buffer of at most 16 KiB per direction.
    assert!(held <= 2 * (16 << 10), "{held} bytes held");
}
