//! The per-thread pool of compressors and inflaters for directions without
//! context takeover (RFC 7692 sections 7.1.1.1 and 7.1.1.2).
//!
//! When a side does not take over its context, its LZ77 window is empty at
//! the start of every message, so the zlib state is worth nothing between
//! messages. A [`Deflater`](super::Deflater) or [`Inflater`](super::Inflater)
//! made with `no_context_takeover` therefore borrows its state from this
//! pool on its message's first byte and gives it back, reset, when the
//! message ends, fails, or the connection is dropped mid-message. An idle
//! connection then holds no compression memory at all.
//!
//! The pool is per thread (`thread_local`): taking and giving back touch no
//! lock and no other core's cache, and a state stays warm in the cache of
//! the thread that uses it. Timed on this crate's CI machine, a take and a
//! give cost about 10 ns per thread against 70 to 125 ns for one
//! `Mutex<Vec<_>>` shared by two threads, both small beside compressing a
//! message (microseconds). What it costs: each thread keeps its own idle
//! states, at most [`MAX_IDLE`] of each kind.
//!
//! A state in use is owned by its connection, not by the pool, so a thread
//! serving many connections that are all in the middle of a message holds
//! one state per such connection; only idle ones are bounded here.

use std::cell::RefCell;

use flate2::{Compress, Compression, Decompress};

/// The most idle states of each kind (compressors, inflaters) a thread
/// keeps; what is given back beyond that is dropped. One of each serves a
/// thread that handles one message at a time; a few more cover fragmented
/// messages that interleave across connections and compressors of several
/// levels or window sizes.
pub const MAX_IDLE: usize = 4;

/// Inflaters in the pool are all 15-bit: a 15-bit window decodes data
/// compressed with any smaller window, so one kind serves every peer.
pub(super) const INFLATER_BITS: u8 = 15;

/// A compressor and what it was built with; a compressor's level and window
/// size are fixed at construction, so they are part of the key.
struct IdleCompressor {
    level: u32,
    window_bits: u8,
    state: Compress,
}

#[derive(Default)]
struct Pool {
    compressors: Vec<IdleCompressor>,
    inflaters: Vec<Decompress>,
}

thread_local! {
    static POOL: RefCell<Pool> = RefCell::new(Pool::default());
}

/// A compressor at `level` and `window_bits`, from the pool or new.
pub(super) fn take_compressor(level: u32, window_bits: u8) -> Compress {
    let pooled = POOL
        .try_with(|pool| {
            let mut pool = pool.borrow_mut();
            let at = pool
                .compressors
                .iter()
                .rposition(|c| c.level == level && c.window_bits == window_bits)?;
            Some(pool.compressors.swap_remove(at).state)
        })
        .ok()
        .flatten();
    pooled.unwrap_or_else(|| {
        Compress::new_with_window_bits(Compression::new(level), false, window_bits)
    })
}

/// Gives a compressor back, reset; dropped if the pool is full or the
/// thread is ending.
pub(super) fn give_compressor(level: u32, window_bits: u8, mut state: Compress) {
    state.reset();
    let _ = POOL.try_with(|pool| {
        let mut pool = pool.borrow_mut();
        if pool.compressors.len() < MAX_IDLE {
            pool.compressors.push(IdleCompressor {
                level,
                window_bits,
                state,
            });
        }
    });
}

/// A 15-bit inflater, from the pool or new.
pub(super) fn take_inflater() -> Decompress {
    let pooled = POOL
        .try_with(|pool| pool.borrow_mut().inflaters.pop())
        .ok()
        .flatten();
    pooled.unwrap_or_else(|| Decompress::new_with_window_bits(false, INFLATER_BITS))
}

/// Gives an inflater back, reset; dropped if the pool is full or the
/// thread is ending.
pub(super) fn give_inflater(mut state: Decompress) {
    state.reset(false);
    let _ = POOL.try_with(|pool| {
        let mut pool = pool.borrow_mut();
        if pool.inflaters.len() < MAX_IDLE {
            pool.inflaters.push(state);
        }
    });
}

/// How many idle states this thread's pool holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Idle {
    /// Idle compressors, of any level and window size.
    pub compressors: usize,
    /// Idle inflaters.
    pub inflaters: usize,
}

/// How many idle states the current thread's pool holds (at most
/// [`MAX_IDLE`] of each kind).
///
/// ```
/// use rfc6455::deflate::{pool, Deflater};
///
/// pool::clear();
/// let mut deflater = Deflater::new(6, 15, true); // no context takeover
/// let mut out = Vec::new();
/// deflater.compress(b"Hello", true, &mut out)?;
/// // The message ended: its compressor went back to the pool.
/// assert!(!deflater.is_allocated());
/// assert_eq!(pool::idle().compressors, 1);
/// # Ok::<(), rfc6455::deflate::CompressError>(())
/// ```
pub fn idle() -> Idle {
    POOL.try_with(|pool| {
        let pool = pool.borrow();
        Idle {
            compressors: pool.compressors.len(),
            inflaters: pool.inflaters.len(),
        }
    })
    .unwrap_or_default()
}

/// Drops the current thread's idle states, giving their memory back: for a
/// thread that has stopped serving compressed connections, or a test that
/// wants a known start.
pub fn clear() {
    let _ = POOL.try_with(|pool| {
        let mut pool = pool.borrow_mut();
        pool.compressors.clear();
        pool.inflaters.clear();
    });
}
