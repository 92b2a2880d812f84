//! The pool of compressors and inflaters for directions without
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
//! The pool is one for the process, a `Mutex<Vec<_>>` of at most
//! [`MAX_IDLE`] idle states of each kind, locked only to push or pop. A
//! per-thread pool was tried first and measured: its take and give cost
//! about 10 ns against 70 to 125 ns for the mutex (two threads, a 2-core
//! Xeon), both small beside compressing a message (microseconds), but it
//! keeps idle states in every thread that ever compressed. Under a thread
//! per connection (the blocking adapter, `examples/echo_server.rs`) that is
//! a compressor and an inflater per connection again: 374 KiB of resident
//! memory per idle connection in `scripts/deflate_scale.sh`, as much as
//! dedicated mode. The shared pool keeps the bound whatever the threading.
//!
//! A state in use is owned by its connection, not by the pool, so a server
//! with many connections in the middle of a message holds one state per
//! such connection; only idle ones are bounded here.

use std::sync::{Mutex, MutexGuard};

use flate2::Decompress;

use super::codec::Compressor;

/// The most idle states of each kind (compressors, inflaters) the pool
/// keeps; what is given back beyond that is dropped. Eight cover a few
/// threads compressing at once and compressors of several levels or window
/// sizes, and cost at most about 2.6 MiB (8 × 287 KiB + 8 × 47 KiB: a
/// pooled compressor is built at zlib's memory level 6, see
/// `POOLED_MEM_LEVEL` in `src/deflate/codec.rs`).
pub const MAX_IDLE: usize = 8;

/// Inflaters in the pool are all 15-bit: a 15-bit window decodes data
/// compressed with any smaller window, so one kind serves every peer.
pub(super) const INFLATER_BITS: u8 = 15;

/// A compressor and what it was built with; a compressor's level and window
/// size are fixed at construction, so they are part of the key.
struct IdleCompressor {
    level: u32,
    window_bits: u8,
    state: Compressor,
}

struct Pool {
    compressors: Vec<IdleCompressor>,
    inflaters: Vec<Decompress>,
}

static POOL: Mutex<Pool> = Mutex::new(Pool {
    compressors: Vec::new(),
    inflaters: Vec::new(),
});

/// The pool, locked. A panic while it was held (there is no code that can
/// panic under the lock) would leave it consistent, so poisoning is ignored.
fn lock() -> MutexGuard<'static, Pool> {
    POOL.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A compressor at `level` and `window_bits`, from the pool or new (at
/// [`POOLED_MEM_LEVEL`](super::codec::POOLED_MEM_LEVEL)).
pub(super) fn take_compressor(level: u32, window_bits: u8) -> Compressor {
    let pooled = {
        let mut pool = lock();
        pool.compressors
            .iter()
            .rposition(|c| c.level == level && c.window_bits == window_bits)
            .map(|at| pool.compressors.swap_remove(at).state)
    };
    pooled.unwrap_or_else(|| Compressor::new(level, window_bits, super::codec::POOLED_MEM_LEVEL))
}

/// Gives a compressor back, reset; dropped (outside the lock) if the pool
/// is full.
pub(super) fn give_compressor(level: u32, window_bits: u8, mut state: Compressor) {
    state.reset();
    let mut pool = lock();
    if pool.compressors.len() < MAX_IDLE {
        pool.compressors.push(IdleCompressor {
            level,
            window_bits,
            state,
        });
    } else {
        drop(pool);
        drop(state);
    }
}

/// A 15-bit inflater, from the pool or new.
pub(super) fn take_inflater() -> Decompress {
    let pooled = lock().inflaters.pop();
    pooled.unwrap_or_else(|| Decompress::new_with_window_bits(false, INFLATER_BITS))
}

/// Gives an inflater back, reset; dropped (outside the lock) if the pool
/// is full.
pub(super) fn give_inflater(mut state: Decompress) {
    state.reset(false);
    let mut pool = lock();
    if pool.inflaters.len() < MAX_IDLE {
        pool.inflaters.push(state);
    } else {
        drop(pool);
        drop(state);
    }
}

/// How many idle states the pool holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Idle {
    /// Idle compressors, of any level and window size.
    pub compressors: usize,
    /// Idle inflaters.
    pub inflaters: usize,
}

/// How many idle states the pool holds now (at most [`MAX_IDLE`] of each
/// kind); other threads may change it at any moment.
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
    let pool = lock();
    Idle {
        compressors: pool.compressors.len(),
        inflaters: pool.inflaters.len(),
    }
}

/// Drops the idle states, giving their memory back: for a server that has
/// stopped serving compressed connections for a while, or a test that wants
/// a known start.
pub fn clear() {
    let idle = {
        let mut pool = lock();
        (
            std::mem::take(&mut pool.compressors),
            std::mem::take(&mut pool.inflaters),
        )
    };
    drop(idle);
}
