//! A global allocator that counts what the current thread allocates while
//! counting is on, shared by the tests that measure heap use. Each such test
//! file installs it:
//!
//! ```ignore
//! mod counting;
//! #[global_allocator]
//! static GLOBAL: counting::Counting = counting::Counting;
//! ```
//!
//! Counts are per thread, so tests running in parallel do not disturb each
//! other.
#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// Forwards to the system allocator and counts on the side.
pub struct Counting;

thread_local! {
    static ON: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
    static LIVE: Cell<i64> = const { Cell::new(0) };
    static PEAK: Cell<i64> = const { Cell::new(0) };
    static TOTAL: Cell<i64> = const { Cell::new(0) };
}

fn record(allocated: i64) {
    let _ = ON.try_with(|on| {
        if on.get() {
            if allocated > 0 {
                ALLOCATIONS.with(|n| n.set(n.get() + 1));
                TOTAL.with(|n| n.set(n.get() + allocated));
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

/// What a counted run used, in bytes except for `allocations`.
#[derive(Debug, Clone, Copy)]
pub struct Counts {
    /// Allocations and growing reallocations.
    pub allocations: u64,
    /// The most bytes live at once.
    pub peak: i64,
    /// Bytes still live at the end.
    pub live: i64,
    /// Bytes allocated in all.
    pub total: i64,
}

/// Runs `f` with the counts reset and counting on.
pub fn counted<T>(f: impl FnOnce() -> T) -> (T, Counts) {
    ALLOCATIONS.with(|n| n.set(0));
    LIVE.with(|n| n.set(0));
    PEAK.with(|n| n.set(0));
    TOTAL.with(|n| n.set(0));
    set_on(true);
    let value = f();
    set_on(false);
    let counts = Counts {
        allocations: ALLOCATIONS.with(Cell::get),
        peak: PEAK.with(Cell::get),
        live: LIVE.with(Cell::get),
        total: TOTAL.with(Cell::get),
    };
    (value, counts)
}

/// Turns counting on or off without resetting the counts.
pub fn set_on(on: bool) {
    ON.with(|c| c.set(on));
}

/// Bytes live now, as counted.
pub fn live() -> i64 {
    LIVE.with(Cell::get)
}
