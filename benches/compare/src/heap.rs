//! A counting allocator for the idle bench: live allocations by size, so
//! that the bytes an idle connection holds can be told apart (a task, a
//! buffer, a registration) without a profiler.
//!
//! A bench installs [`Counting`] as its `#[global_allocator]`; a server
//! child started with `HEAP_HISTOGRAM=<path>` in its environment rewrites
//! that file every 200 ms with one `size count` line per size class that
//! has live allocations ([`start_dump`]). Sizes are rounded up to 16 bytes
//! up to 16 KiB; larger ones share one class, reported by total bytes.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Classes of 16 bytes up to this size.
const SMALL: usize = 16 << 10;
const CLASSES: usize = SMALL / 16 + 1;

#[allow(clippy::declare_interior_mutable_const)]
const ZERO: AtomicUsize = AtomicUsize::new(0);
static COUNTS: [AtomicUsize; CLASSES] = [ZERO; CLASSES];
/// Live bytes of the allocations above [`SMALL`].
static LARGE_BYTES: AtomicUsize = AtomicUsize::new(0);
/// Live bytes of every allocation, as asked for (not rounded to a class).
static LIVE_BYTES: AtomicUsize = AtomicUsize::new(0);

fn class(size: usize) -> usize {
    if size > SMALL {
        CLASSES - 1
    } else {
        size.div_ceil(16).max(1) - 1
    }
}

fn add(size: usize) {
    LIVE_BYTES.fetch_add(size, Ordering::Relaxed);
    COUNTS[class(size)].fetch_add(1, Ordering::Relaxed);
    if size > SMALL {
        LARGE_BYTES.fetch_add(size, Ordering::Relaxed);
    }
}

fn remove(size: usize) {
    LIVE_BYTES.fetch_sub(size, Ordering::Relaxed);
    COUNTS[class(size)].fetch_sub(1, Ordering::Relaxed);
    if size > SMALL {
        LARGE_BYTES.fetch_sub(size, Ordering::Relaxed);
    }
}

/// The system allocator, counting live allocations by size class.
pub struct Counting;

// SAFETY: every call is passed on to `System` unchanged; the counters are
// only bookkeeping.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract, passed on.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            add(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract, passed on.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            add(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        remove(layout.size());
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's contract, passed on.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            remove(layout.size());
            add(new_size);
        }
        new
    }
}

/// The live allocations now: `(class upper bound in bytes, count)` for each
/// class with any, the last one (above 16 KiB) as `(usize::MAX, bytes)`.
pub fn snapshot() -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = (0..CLASSES - 1)
        .filter_map(|i| {
            let n = COUNTS[i].load(Ordering::Relaxed);
            (n > 0).then_some(((i + 1) * 16, n))
        })
        .collect();
    out.push((usize::MAX, LARGE_BYTES.load(Ordering::Relaxed)));
    out
}

/// Bytes of the live allocations now, exactly as requested (0 unless
/// [`Counting`] is the global allocator).
pub fn live_bytes() -> usize {
    LIVE_BYTES.load(Ordering::Relaxed)
}

/// If `HEAP_HISTOGRAM` names a file, rewrites it every 200 ms with the
/// [`snapshot`], one `size count` line each, from a thread of its own.
pub fn start_dump() {
    let Some(path) = std::env::var_os("HEAP_HISTOGRAM") else {
        return;
    };
    std::thread::spawn(move || {
        loop {
            let text: String = snapshot()
                .iter()
                .map(|(size, n)| format!("{size} {n}\n"))
                .collect();
            let tmp = std::path::PathBuf::from(&path).with_extension("tmp");
            if std::fs::write(&tmp, text).is_ok() {
                let _ = std::fs::rename(&tmp, &path);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    });
}

/// Reads a histogram file written by [`start_dump`].
pub fn read(path: &std::path::Path) -> Vec<(usize, usize)> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| {
            let (size, n) = line.split_once(' ')?;
            Some((size.parse().ok()?, n.parse().ok()?))
        })
        .collect()
}

/// `after - before`, class by class, of two [`snapshot`]s (the last class
/// in bytes); classes that did not change are left out.
pub fn diff(before: &[(usize, usize)], after: &[(usize, usize)]) -> Vec<(usize, i64)> {
    let mut sizes: Vec<usize> = before.iter().chain(after).map(|&(s, _)| s).collect();
    sizes.sort_unstable();
    sizes.dedup();
    let get = |list: &[(usize, usize)], size| {
        list.iter()
            .find(|&&(s, _)| s == size)
            .map_or(0, |&(_, n)| n as i64)
    };
    sizes
        .into_iter()
        .map(|size| (size, get(after, size) - get(before, size)))
        .filter(|&(_, change)| change != 0)
        .collect()
}

/// A [`diff`] over `n` connections: the live bytes it adds per connection
/// (each class counted at its upper bound), and the classes holding at
/// least one allocation per 10 connections as `size × count` per
/// connection (`> 16 KiB: bytes` for the large class).
pub fn per_connection(delta: &[(usize, i64)], n: usize) -> (f64, String) {
    let mut total = 0.0;
    let mut parts = Vec::new();
    for &(size, change) in delta {
        if size == usize::MAX {
            total += change as f64 / n as f64;
            if change.unsigned_abs() as usize >= n {
                parts.push(format!("> 16 KiB: {:.0} B", change as f64 / n as f64));
            }
            continue;
        }
        total += (size as i64 * change) as f64 / n as f64;
        if change.unsigned_abs() as usize * 10 >= n {
            parts.push(format!("{size} × {:.2}", change as f64 / n as f64));
        }
    }
    (total, parts.join(", "))
}
