//! Masking and unmasking of payloads (RFC 6455 section 5.3).
//!
//! Every frame a client sends is masked: byte `i` of the payload is XORed with
//! byte `i % 4` of a 4-byte key. The same operation unmasks. This is the hot
//! loop of a WebSocket implementation, so it is written to run at the speed of
//! memory, in a default build, on the machine it lands on:
//!
//! - below 16 bytes: an 8-byte word, a 4-byte word and up to 3 bytes;
//! - below 128 bytes: 16-byte vectors (SSE2 on x86_64, NEON on aarch64, both
//!   part of the baseline), inlined at the call site: no feature detection,
//!   no call, so a chat or control frame pays no set-up;
//! - from 128 bytes, on x86_64, the widest unit the CPU reports at run time
//!   (`is_x86_feature_detected!`): AVX-512 (F and BW), whose byte masks take
//!   the partial first and last cache lines without a scalar loop, else AVX2,
//!   else SSE2. From 1 MiB, past the L2 cache, AVX2 even where AVX-512 is
//!   there (see `LARGE` for the figures of both kinds of machine). Without
//!   the feature `std` there is no run-time detection: the widest unit the
//!   build enables (`-C target-feature=+avx2`, say), else SSE2;
//! - on targets without a vector path (32-bit Arm such as Cortex-M, wasm32,
//!   RISC-V...): 8-byte words, 64 bytes per iteration, which the compiler
//!   may vectorize where the target has vectors;
//! - the AVX2, SSE2 and NEON loops align their stores and cover the ends with
//!   one overlapping unaligned vector each.
//!
//! Every value stored is computed from the original bytes (where vectors
//! overlap, both write the same bytes), so the result does not depend on the
//! path; the tests check each path against a byte loop at
//! every start within a cache line, under Miri as well.
//!
//! A payload that arrives in pieces is unmasked piece by piece with
//! [`apply_mask_at`] or a [`Masker`], which keep the phase of the key.
//! [`Masker::put`] unmasks a piece as it copies it into another buffer (the
//! message it belongs to), with the same vector widths: one pass over the
//! bytes instead of a copy and then a pass in place. Decoding a 16 MiB
//! message then runs at 0.90 to 0.96 of `memcpy` into a fresh buffer, where
//! the two passes ran at 0.76 to 0.81 (`benches/RESULTS.md`).

// The vector paths' helpers are unused where there is no vector path.
#![cfg_attr(
    not(any(
        all(target_arch = "x86_64", target_feature = "sse2"),
        all(target_arch = "aarch64", target_feature = "neon")
    )),
    allow(dead_code, unused_macros)
)]

use core::num::NonZeroU64;

use bytes::BufMut;
use bytes::buf::UninitSlice;

/// XORs `buf` in place with `key`, as if `buf` started at payload offset 0.
///
/// Masking twice with the same key gives back the original bytes.
///
/// ```
/// use rfc6455::mask::apply_mask;
///
/// // RFC 6455 section 5.7: a masked "Hello".
/// let key = [0x37, 0xfa, 0x21, 0x3d];
/// let mut payload = *b"Hello";
/// apply_mask(&mut payload, key);
/// assert_eq!(payload, [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
/// apply_mask(&mut payload, key);
/// assert_eq!(&payload, b"Hello");
/// ```
#[inline]
pub fn apply_mask(buf: &mut [u8], key: [u8; 4]) {
    dispatch(buf, key);
}

/// XORs `buf` in place with `key`, where `buf` starts at byte `offset` of the
/// payload: the key is rotated by `offset % 4`.
///
/// This lets a payload be unmasked in pieces as it arrives; masking a buffer
/// whole equals masking it split at any point with the right offsets.
///
/// ```
/// use rfc6455::mask::{apply_mask, apply_mask_at};
///
/// let key = [1, 2, 3, 4];
/// let mut whole = *b"split anywhere";
/// let mut pieces = whole;
/// apply_mask(&mut whole, key);
/// let (a, b) = pieces.split_at_mut(5);
/// apply_mask_at(a, key, 0);
/// apply_mask_at(b, key, 5);
/// assert_eq!(whole, pieces);
/// ```
#[inline]
pub fn apply_mask_at(buf: &mut [u8], key: [u8; 4], offset: u64) {
    dispatch(buf, rotate(key, offset));
}

/// The key as it applies to a piece starting at payload byte `offset`.
#[inline]
fn rotate(key: [u8; 4], offset: u64) -> [u8; 4] {
    // Byte `j` of the result is `key[(j + offset) % 4]`: a rotation of the
    // little-endian word (`slice::rotate_left` is an out-of-line call).
    u32::from_le_bytes(key)
        .rotate_right(8 * (offset % 4) as u32)
        .to_le_bytes()
}

/// A masking key together with the position reached in the payload, for
/// unmasking a payload piece by piece without tracking offsets by hand.
///
/// ```
/// use rfc6455::mask::{apply_mask, Masker};
///
/// let key = [0xde, 0xad, 0xbe, 0xef];
/// let mut expected = *b"one payload, three pieces";
/// let mut pieces = expected;
/// apply_mask(&mut expected, key);
///
/// let mut masker = Masker::new(key);
/// let (a, rest) = pieces.split_at_mut(3);
/// let (b, c) = rest.split_at_mut(10);
/// masker.apply(a);
/// masker.apply(b);
/// masker.apply(c);
/// assert_eq!(pieces, expected);
/// assert_eq!(masker.position(), 25);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Masker {
    key: [u8; 4],
    /// One more than the bytes masked so far. Never zero, so an
    /// `Option<Masker>` (which every frame being received holds) takes no
    /// room of its own for its tag: 16 bytes, not 24.
    past: NonZeroU64,
}

impl Masker {
    /// A masker at the start of a payload.
    pub fn new(key: [u8; 4]) -> Self {
        Masker {
            key,
            past: NonZeroU64::MIN,
        }
    }

    /// XORs the next piece of the payload and advances the position.
    #[inline]
    pub fn apply(&mut self, piece: &mut [u8]) {
        apply_mask_at(piece, self.key, self.position());
        self.advance(piece.len());
    }

    /// Appends the next piece of the payload to `out`, XORed as it is
    /// copied, and advances the position: one pass over the bytes, where
    /// `put_slice` followed by [`apply`](Self::apply) takes two. This is how
    /// a received payload is copied into the message it belongs to.
    ///
    /// # Panics
    ///
    /// As [`BufMut::put_slice`]: if `out` has room for fewer than
    /// `piece.len()` bytes. A `Vec<u8>` or a `BytesMut` grows instead.
    ///
    /// ```
    /// use rfc6455::mask::{apply_mask, Masker};
    ///
    /// let key = [0x37, 0xfa, 0x21, 0x3d];
    /// let mut masked = *b"copied once";
    /// apply_mask(&mut masked, key);
    ///
    /// let mut message = Vec::new();
    /// let mut masker = Masker::new(key);
    /// masker.put(&mut message, &masked[..4]);
    /// masker.put(&mut message, &masked[4..]);
    /// assert_eq!(message, b"copied once");
    /// ```
    #[inline]
    pub fn put(&mut self, out: &mut impl BufMut, piece: &[u8]) {
        put_masked(out, piece, rotate(self.key, self.position()));
        self.advance(piece.len());
    }

    /// How many payload bytes have been masked so far.
    pub fn position(&self) -> u64 {
        self.past.get() - 1
    }

    /// Moves the position past `len` more bytes. A payload is at most
    /// 2^63 - 1 bytes long (section 5.2), so the count never saturates.
    #[inline]
    fn advance(&mut self, len: usize) {
        self.past = self.past.saturating_add(len as u64);
    }

    /// The masking key.
    pub fn key(&self) -> [u8; 4] {
        self.key
    }
}

/// From this length up, a buffer goes to the run-time-dispatched vector
/// loops; below it, to straight-line code inlined at the call site.
const SMALL: usize = 128;

/// From this length up, x86_64 takes 32-byte vectors (AVX2) even where it
/// has AVX-512; below it, the widest unit. The figures behind it:
///
/// - Intel Xeon with AVX-512 (2026-11-25, when `LARGE` sent 64 KiB and up
///   to SSE2; `benches/RESULTS.md`), GiB/s for SSE2, AVX2, AVX-512:
///   1 MiB 61, 59, 57; 16 MiB 27.0, 26.8, 24.7; 32 KiB AVX-512 205 against
///   AVX2 90. At 64 KiB the SSE2 path ran at the limit and the AVX-512
///   masker of tokio-websockets 3% below it.
/// - AMD EPYC (Zen 4) with AVX-512 (2026-11-29), each path forced by the
///   `paths` bench of `benches/compare` in turns over one buffer, ratio to
///   the limit for SSE2, AVX2, AVX-512, median of 3 runs (7 at 16 MiB), aligned then
///   unaligned: 64 KiB 0.50, 0.98, 1.00 and 0.75, 1.47, 1.47; 1 MiB 0.60,
///   0.99, 0.97 and 0.81, 1.32, 1.29; 16 MiB 0.84, 0.96, 0.96 and 0.98,
///   1.19, 1.17 (16 MiB swings by 0.2 from run to run on a shared bus).
/// - AMD EPYC with AVX2 only (issue 14): SSE2 from 64 KiB, the old choice,
///   ran at 0.56 to 0.72 of the limit.
///
/// So from 1 MiB, past L2, where the loop is bound by bandwidth, AVX2 is
/// ahead of AVX-512 on the Xeon (which clocks down for 512-bit work) and
/// level with it on Zen 4; below, AVX-512 is level or ahead on both. SSE2
/// is used only without AVX2: it never won by more than 3% and loses half
/// on AMD.
const LARGE: usize = 1 << 20;

/// Whether the CPU has every x86 feature named. With `std`, asked at run
/// time (`is_x86_feature_detected!`, which caches the answer); without it
/// there is no run-time detection in `core`, so the answer is what the build
/// targets (`-C target-cpu` or `-C target-feature`): a default x86_64 build
/// without std masks with SSE2.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
macro_rules! cpu_has {
    ($($feature:tt),+) => {{
        #[cfg(feature = "std")]
        let has = true $(&& std::arch::is_x86_feature_detected!($feature))+;
        #[cfg(not(feature = "std"))]
        let has = true $(&& cfg!(target_feature = $feature))+;
        has
    }};
}

#[inline]
fn dispatch(buf: &mut [u8], key: [u8; 4]) {
    let len = buf.len();
    if len < 16 {
        return mask_short(buf, key);
    }
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    {
        if len < SMALL {
            // SAFETY: SSE2 is part of this build's baseline (the `cfg`
            // above).
            return unsafe { x86::mask_sse2_small(buf, key) };
        }
        if len < LARGE && cpu_has!("avx512f", "avx512bw") {
            // SAFETY: the CPU reports AVX-512F and BW, the features the
            // callee is compiled for beyond the baseline.
            return unsafe { x86::mask_avx512(buf, key) };
        }
        if cpu_has!("avx2") {
            // SAFETY: the CPU reports AVX2, the only feature the callee is
            // compiled for beyond the baseline; `len >= 32`, its width.
            return unsafe { x86::mask_avx2(buf, key) };
        }
        // SAFETY: SSE2 is part of this build's baseline; `len >= 16`, the
        // callee's width.
        return unsafe { x86::mask_sse2(buf, key) };
    }
    #[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
    {
        if len < SMALL {
            // SAFETY: NEON is part of this build's baseline (the `cfg`
            // above).
            return unsafe { arm::mask_neon_small(buf, key) };
        }
        // SAFETY: NEON is part of this build's baseline; `len >= 16`, the
        // callee's width.
        return unsafe { arm::mask_neon(buf, key) };
    }
    #[allow(unreachable_code)]
    mask_portable(buf, key)
}

/// Appends `piece`, XORed with `key` (its phase at the piece's first byte),
/// to `out`, in one pass; see [`Masker::put`].
fn put_masked(out: &mut impl BufMut, mut piece: &[u8], mut key: [u8; 4]) {
    assert!(
        out.remaining_mut() >= piece.len(),
        "a masked piece of {} bytes put in a buffer with room for {}",
        piece.len(),
        out.remaining_mut()
    );
    while !piece.is_empty() {
        let room = out.chunk_mut();
        // `BufMut` promises a non-empty chunk while there is room left.
        let n = room.len().min(piece.len());
        assert!(n > 0, "BufMut::chunk_mut gave no room below remaining_mut");
        let (now, rest) = piece.split_at(n);
        copy_masked(&mut room[..n], now, key);
        // SAFETY: `copy_masked` wrote every one of the first `n` bytes of
        // `chunk_mut`.
        unsafe { out.advance_mut(n) };
        key = rotate(key, n as u64);
        piece = rest;
    }
}

/// Writes `src` XORed with `key` into `dst`, of the same length: every byte
/// of `dst` is written. The widths follow [`dispatch`]'s: below 16 bytes a
/// copy through the stack; then the widest vector that fits, with AVX2 from
/// [`LARGE`] on.
#[inline]
fn copy_masked(dst: &mut UninitSlice, src: &[u8], key: [u8; 4]) {
    let len = src.len();
    assert_eq!(dst.len(), len);
    if len < 16 {
        let mut word = [0; 16];
        word[..len].copy_from_slice(src);
        mask_short(&mut word[..len], key);
        return dst.copy_from_slice(&word[..len]);
    }
    let to = dst.as_mut_ptr();
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    {
        if (64..LARGE).contains(&len) && cpu_has!("avx512f", "avx512bw") {
            // SAFETY: the CPU reports AVX-512F and BW; `dst` is `len >= 64`
            // writable bytes, apart from `src` (a `&mut` and a `&`).
            return unsafe { x86::copy_avx512(to, src, key) };
        }
        if len >= 32 && cpu_has!("avx2") {
            // SAFETY: the CPU reports AVX2; `dst` is `len >= 32` writable
            // bytes, apart from `src`.
            return unsafe { x86::copy_avx2(to, src, key) };
        }
        // SAFETY: SSE2 is part of this build's baseline; `dst` is
        // `len >= 16` writable bytes, apart from `src`.
        return unsafe { x86::copy_sse2(to, src, key) };
    }
    #[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
    {
        // SAFETY: NEON is part of this build's baseline; `dst` is
        // `len >= 16` writable bytes, apart from `src`.
        return unsafe { arm::copy_neon(to, src, key) };
    }
    #[allow(unreachable_code)]
    {
        let _ = to;
        copy_portable(dst, src, key)
    }
}

/// A vector path of x86_64, for benches and tests that force one instead of
/// the run-time choice of [`apply_mask`]. Not part of the stable API.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Path {
    /// 16-byte vectors, the x86_64 baseline.
    Sse2,
    /// 32-byte vectors.
    Avx2,
    /// 64-byte vectors with byte masks (AVX-512F and BW).
    Avx512,
}

#[doc(hidden)]
impl Path {
    /// Every path, narrowest first.
    pub const ALL: [Path; 3] = [Path::Sse2, Path::Avx2, Path::Avx512];

    /// The path's name: `sse2`, `avx2`, `avx512`.
    pub fn name(self) -> &'static str {
        match self {
            Path::Sse2 => "sse2",
            Path::Avx2 => "avx2",
            Path::Avx512 => "avx512",
        }
    }

    /// Whether this build and CPU can run the path.
    pub fn is_available(self) -> bool {
        #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
        {
            match self {
                Path::Sse2 => true,
                Path::Avx2 => cpu_has!("avx2"),
                Path::Avx512 => cpu_has!("avx512f", "avx512bw"),
            }
        }
        #[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
        {
            let _ = self;
            false
        }
    }
}

/// Masks `buf` with `path` whatever its length (below the path's vector
/// width, with the short path), as if it started at payload offset 0.
/// Returns `false`, and leaves `buf` alone, where the path is not
/// available. For benches that measure each path; not part of the stable
/// API.
#[doc(hidden)]
pub fn apply_mask_with(path: Path, buf: &mut [u8], key: [u8; 4]) -> bool {
    if !path.is_available() {
        return false;
    }
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    {
        let len = buf.len();
        match path {
            Path::Sse2 if len >= 16 => {
                // SAFETY: SSE2 is part of this build's baseline; `len >= 16`,
                // the callee's width.
                unsafe { x86::mask_sse2(buf, key) }
            }
            Path::Avx2 if len >= 32 => {
                // SAFETY: `is_available` detected AVX2; `len >= 32`, the
                // callee's width.
                unsafe { x86::mask_avx2(buf, key) }
            }
            Path::Avx512 => {
                // SAFETY: `is_available` detected AVX-512F and BW; the
                // callee takes any length.
                unsafe { x86::mask_avx512(buf, key) }
            }
            _ => mask_under_width(buf, key),
        }
    }
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
    let _ = (buf, key);
    true
}

/// A forced path under its vector width: 16-byte vectors, then the short
/// path.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
fn mask_under_width(buf: &mut [u8], key: [u8; 4]) {
    // SAFETY: SSE2 is part of this build's baseline.
    unsafe { x86::mask_sse2_small(buf, key) }
}

/// The 32-bit pattern that masks a run of bytes starting `offset` bytes
/// after a byte masked with `key[0]`.
#[inline(always)]
fn pattern_at(key: [u8; 4], offset: usize) -> u32 {
    u32::from_ne_bytes(rotate(key, offset as u64))
}

/// Defines `unsafe fn $name(buf, key)` that masks a buffer of at least one
/// vector (`$width` bytes) with vector instructions:
///
/// 1. the first and the last vector of the buffer are loaded (unaligned)
///    before anything is written;
/// 2. the vectors in between are XORed at aligned addresses, four per
///    iteration, so no store splits a cache line whatever the start;
/// 3. the first and last vectors are XORed and stored last, unless the
///    aligned stores covered them (a start or an end on a vector boundary).
///    They overlap the aligned ones, but every value stored was computed from
///    the original bytes with the key at that position, so the overlap is
///    written twice with the same bytes.
///
/// No byte loop and no scalar tail.
macro_rules! vector_masker {
    (
        $(#[$attr:meta])*
        fn $name:ident,
        width: $width:literal,
        splat: |$k:ident| $splat:expr,
        loadu: $loadu:path,
        load: $load:path,
        storeu: $storeu:path,
        store: $store:path,
        xor: $xor:path $(,)?
    ) => {
        $(#[$attr])*
        /// # Safety
        ///
        /// `buf.len()` is at least the vector width, and the CPU has every
        /// feature the function is compiled for.
        pub(super) unsafe fn $name(buf: &mut [u8], key: [u8; 4]) {
            const W: usize = $width;
            let len = buf.len();
            debug_assert!(len >= W);
            let ptr = buf.as_mut_ptr();
            // The first aligned offset, in 0..W: the head covers [0, i).
            let mut i = (W - ptr.addr() % W) % W;
            // Whether the aligned vectors leave bytes at either end.
            let head_needed = i != 0;
            let tail_needed = (len - i) % W != 0;
            // Both are loaded before anything is stored.
            let head = if head_needed {
                // SAFETY: `len >= W`, so `[0, W)` is in `buf`; the load is an
                // unaligned one.
                Some(unsafe { $loadu(ptr.cast_const().cast()) })
            } else {
                None
            };
            let tail = if tail_needed {
                // SAFETY: `len >= W`, so `[len - W, len)` is in `buf`; the
                // load is an unaligned one.
                Some(unsafe { $loadu(ptr.add(len - W).cast_const().cast()) })
            } else {
                None
            };
            let pattern = {
                let $k = pattern_at(key, i);
                $splat
            };
            while i + 4 * W <= len {
                // SAFETY: `[i, i + 4W)` is in `buf` (the loop condition) and
                // `ptr + i` is W-aligned (`i` starts aligned, steps by 4W).
                unsafe {
                    let p = ptr.add(i);
                    let a = $load(p.cast_const().cast());
                    let b = $load(p.add(W).cast_const().cast());
                    let c = $load(p.add(2 * W).cast_const().cast());
                    let d = $load(p.add(3 * W).cast_const().cast());
                    $store(p.cast(), $xor(a, pattern));
                    $store(p.add(W).cast(), $xor(b, pattern));
                    $store(p.add(2 * W).cast(), $xor(c, pattern));
                    $store(p.add(3 * W).cast(), $xor(d, pattern));
                }
                i += 4 * W;
            }
            while i + W <= len {
                // SAFETY: `[i, i + W)` is in `buf` and `ptr + i` is aligned,
                // as above.
                unsafe {
                    let p = ptr.add(i);
                    $store(p.cast(), $xor($load(p.cast_const().cast()), pattern));
                }
                i += W;
            }
            // The aligned vectors end past `len - W`, so the tail covers the
            // rest. Where the buffer starts or ends on a vector boundary, the
            // aligned stores covered it: storing the same bytes again would
            // cost a store per call (an aligned 1 KiB buffer: 34 stores
            // instead of 32).
            if let Some(head) = head {
                let head_pattern = {
                    let $k = pattern_at(key, 0);
                    $splat
                };
                // SAFETY: the same range as the head's load above.
                unsafe { $storeu(ptr.cast(), $xor(head, head_pattern)) };
            }
            if let Some(tail) = tail {
                let tail_pattern = {
                    let $k = pattern_at(key, len - W);
                    $splat
                };
                // SAFETY: the same range as the tail's load above.
                unsafe { $storeu(ptr.add(len - W).cast(), $xor(tail, tail_pattern)) };
            }
        }
    };
}

/// Defines `unsafe fn $name(dst, src, key)` that writes `src` XORed with
/// `key` to `dst`, for at least one vector of bytes: the copy that unmasks
/// a received payload into its message. One unaligned vector covers the
/// start; from the first aligned address of `dst` on, aligned stores (no
/// store splits a cache line), four per iteration; one unaligned vector
/// covers the end. The overlaps are written twice with the same bytes, each
/// computed from `src` with the key at its position.
macro_rules! vector_copier {
    (
        $(#[$attr:meta])*
        fn $name:ident,
        width: $width:literal,
        splat: |$k:ident| $splat:expr,
        loadu: $loadu:path,
        storeu: $storeu:path,
        store: $store:path,
        xor: $xor:path $(,)?
    ) => {
        $(#[$attr])*
        /// # Safety
        ///
        /// `src.len()` is at least the vector width; `dst` is valid for
        /// writes of `src.len()` bytes and does not overlap `src`; the CPU
        /// has every feature the function is compiled for.
        pub(super) unsafe fn $name(dst: *mut u8, src: &[u8], key: [u8; 4]) {
            const W: usize = $width;
            let len = src.len();
            debug_assert!(len >= W);
            let from = src.as_ptr();
            let splat = |offset: usize| {
                let $k = pattern_at(key, offset);
                $splat
            };
            // SAFETY: `[0, W)` is in both buffers (`len >= W`); the load and
            // the store are unaligned ones.
            unsafe { $storeu(dst.cast(), $xor($loadu(from.cast()), splat(0))) };
            // The first aligned offset after 0, in `1..=W`: the head covered
            // everything before it.
            let mut i = W - dst.addr() % W;
            let pattern = splat(i);
            while i + 4 * W <= len {
                // SAFETY: `[i, i + 4W)` is in both buffers (the loop
                // condition); `dst + i` is W-aligned (`i` starts at the first
                // aligned offset and steps by 4W); the loads are unaligned.
                unsafe {
                    let s = from.add(i);
                    let d = dst.add(i);
                    let a = $loadu(s.cast());
                    let b = $loadu(s.add(W).cast());
                    let c = $loadu(s.add(2 * W).cast());
                    let e = $loadu(s.add(3 * W).cast());
                    $store(d.cast(), $xor(a, pattern));
                    $store(d.add(W).cast(), $xor(b, pattern));
                    $store(d.add(2 * W).cast(), $xor(c, pattern));
                    $store(d.add(3 * W).cast(), $xor(e, pattern));
                }
                i += 4 * W;
            }
            while i + W <= len {
                // SAFETY: `[i, i + W)` is in both buffers and `dst + i` is
                // aligned, as above.
                unsafe { $store(dst.add(i).cast(), $xor($loadu(from.add(i).cast()), pattern)) };
                i += W;
            }
            if i < len {
                // SAFETY: `[len - W, len)` is in both buffers (`len >= W`);
                // the load and the store are unaligned ones.
                unsafe {
                    let v = $loadu(from.add(len - W).cast());
                    $storeu(dst.add(len - W).cast(), $xor(v, splat(len - W)));
                }
            }
        }
    };
}

/// Defines `unsafe fn $name(buf, key)` for short buffers: 16-byte vectors
/// one after another, then the short path for the last 0 to 15 bytes.
///
/// Nothing overlaps: a buffer masked again right away (a bench, or a
/// payload just copied in) finds each piece where the previous stores put
/// it, so the loads are forwarded from the store buffer. Overlapping pieces
/// made loads wait for stores to retire: 20% slower at 125 bytes.
macro_rules! small_vector_masker {
    (
        $(#[$attr:meta])*
        fn $name:ident,
        splat: |$k:ident| $splat:expr,
        loadu: $loadu:path,
        storeu: $storeu:path,
        xor: $xor:path $(,)?
    ) => {
        $(#[$attr])*
        /// # Safety
        ///
        /// The CPU has every feature the function is compiled for.
        pub(super) unsafe fn $name(buf: &mut [u8], key: [u8; 4]) {
            let pattern = {
                let $k = u32::from_ne_bytes(key);
                $splat
            };
            let mut chunks = buf.chunks_exact_mut(16);
            for chunk in &mut chunks {
                // SAFETY: `chunk` is 16 bytes; the load and store are
                // unaligned ones.
                unsafe {
                    let v = $loadu(chunk.as_ptr().cast());
                    $storeu(chunk.as_mut_ptr().cast(), $xor(v, pattern));
                }
            }
            // 16 is a multiple of 4: the rest starts at phase 0.
            super::mask_short(chunks.into_remainder(), key);
        }
    };
}

#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
mod x86 {
    use super::pattern_at;
    use core::arch::x86_64::*;

    /// AVX-512 with byte masks: the buffer is walked in whole, aligned
    /// 64-byte lines. The first and last lines, partly outside the buffer,
    /// are read and written through a mask of the lanes inside it, so there
    /// is no scalar head or tail, no overlap, and no store that splits a
    /// cache line.
    ///
    /// # Safety
    ///
    /// The CPU has AVX-512F and AVX-512BW.
    #[target_feature(enable = "avx512f,avx512bw")]
    pub(super) unsafe fn mask_avx512(buf: &mut [u8], key: [u8; 4]) {
        const W: usize = 64;
        /// The lanes below `n`.
        fn below(n: usize) -> u64 {
            if n >= 64 { !0 } else { (1 << n) - 1 }
        }
        let ptr = buf.as_mut_ptr();
        // Offsets below are from `line`, the 64-byte boundary at or before
        // the buffer: the buffer is `[lead, end)`.
        let lead = ptr.addr() % W;
        let end = lead + buf.len();
        let line = ptr.wrapping_sub(lead);
        let pattern = _mm512_set1_epi32(pattern_at(key, W - lead) as i32);

        // An aligned buffer starts with whole lines: plain loads can then be
        // forwarded from the plain stores of a previous pass over the same
        // bytes, which masked stores do not allow (1 KiB: 12% faster).
        let mut i = 0;
        if lead != 0 {
            let first = below(end) & (!0 << lead);
            // SAFETY: the lanes in `first` are `[lead, min(end, 64))`, bytes
            // of `buf`; a masked load or store does not touch the others.
            unsafe {
                let v = _mm512_maskz_loadu_epi8(first, line.cast_const().cast());
                _mm512_mask_storeu_epi8(line.cast(), first, _mm512_xor_si512(v, pattern));
            }
            i = W;
        }
        while i + 4 * W <= end {
            // SAFETY: `[i, i + 4W)` is in `[lead, end)`, so `ptr + i - lead`
            // and the 4W bytes after it are in `buf`; `i` is a multiple of
            // 64, so the address is aligned.
            unsafe {
                let p = ptr.add(i - lead);
                let a = _mm512_load_si512(p.cast_const().cast());
                let b = _mm512_load_si512(p.add(W).cast_const().cast());
                let c = _mm512_load_si512(p.add(2 * W).cast_const().cast());
                let d = _mm512_load_si512(p.add(3 * W).cast_const().cast());
                _mm512_store_si512(p.cast(), _mm512_xor_si512(a, pattern));
                _mm512_store_si512(p.add(W).cast(), _mm512_xor_si512(b, pattern));
                _mm512_store_si512(p.add(2 * W).cast(), _mm512_xor_si512(c, pattern));
                _mm512_store_si512(p.add(3 * W).cast(), _mm512_xor_si512(d, pattern));
            }
            i += 4 * W;
        }
        while i + W <= end {
            // SAFETY: as above, for one line.
            unsafe {
                let p = ptr.add(i - lead);
                let v = _mm512_load_si512(p.cast_const().cast());
                _mm512_store_si512(p.cast(), _mm512_xor_si512(v, pattern));
            }
            i += W;
        }
        if i < end {
            let last = below(end - i);
            // SAFETY: `i < end`, so `ptr + i - lead` is in `buf`; the lanes
            // in `last` are `[i, end)`, bytes of `buf`.
            unsafe {
                let p = ptr.add(i - lead);
                let v = _mm512_maskz_loadu_epi8(last, p.cast_const().cast());
                _mm512_mask_storeu_epi8(p.cast(), last, _mm512_xor_si512(v, pattern));
            }
        }
    }

    vector_masker! {
        /// 32-byte vectors (AVX2).
        #[target_feature(enable = "avx2")]
        fn mask_avx2,
        width: 32,
        splat: |k| _mm256_set1_epi32(k as i32),
        loadu: _mm256_loadu_si256,
        load: _mm256_load_si256,
        storeu: _mm256_storeu_si256,
        store: _mm256_store_si256,
        xor: _mm256_xor_si256,
    }

    vector_masker! {
        /// 16-byte vectors (SSE2, the x86_64 baseline).
        #[target_feature(enable = "sse2")]
        fn mask_sse2,
        width: 16,
        splat: |k| _mm_set1_epi32(k as i32),
        loadu: _mm_loadu_si128,
        load: _mm_load_si128,
        storeu: _mm_storeu_si128,
        store: _mm_store_si128,
        xor: _mm_xor_si128,
    }

    small_vector_masker! {
        /// Short buffers with SSE2, inlined at the call site.
        #[inline]
        #[target_feature(enable = "sse2")]
        fn mask_sse2_small,
        splat: |k| _mm_set1_epi32(k as i32),
        loadu: _mm_loadu_si128,
        storeu: _mm_storeu_si128,
        xor: _mm_xor_si128,
    }

    vector_copier! {
        /// Copies with 64-byte vectors (AVX-512F).
        #[target_feature(enable = "avx512f,avx512bw")]
        fn copy_avx512,
        width: 64,
        splat: |k| _mm512_set1_epi32(k as i32),
        loadu: _mm512_loadu_si512,
        storeu: _mm512_storeu_si512,
        store: _mm512_store_si512,
        xor: _mm512_xor_si512,
    }

    vector_copier! {
        /// Copies with 32-byte vectors (AVX2).
        #[target_feature(enable = "avx2")]
        fn copy_avx2,
        width: 32,
        splat: |k| _mm256_set1_epi32(k as i32),
        loadu: _mm256_loadu_si256,
        storeu: _mm256_storeu_si256,
        store: _mm256_store_si256,
        xor: _mm256_xor_si256,
    }

    vector_copier! {
        /// Copies with 16-byte vectors (SSE2).
        #[target_feature(enable = "sse2")]
        fn copy_sse2,
        width: 16,
        splat: |k| _mm_set1_epi32(k as i32),
        loadu: _mm_loadu_si128,
        storeu: _mm_storeu_si128,
        store: _mm_store_si128,
        xor: _mm_xor_si128,
    }
}

#[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
mod arm {
    use super::pattern_at;
    use core::arch::aarch64::*;

    vector_masker! {
        /// 16-byte vectors (NEON, the aarch64 baseline). NEON loads and
        /// stores have no aligned form; aligning still keeps stores within
        /// a cache line.
        #[target_feature(enable = "neon")]
        fn mask_neon,
        width: 16,
        splat: |k| vreinterpretq_u8_u32(vdupq_n_u32(k)),
        loadu: vld1q_u8,
        load: vld1q_u8,
        storeu: vst1q_u8,
        store: vst1q_u8,
        xor: veorq_u8,
    }

    small_vector_masker! {
        /// Short buffers with NEON, inlined at the call site.
        #[inline]
        #[target_feature(enable = "neon")]
        fn mask_neon_small,
        splat: |k| vreinterpretq_u8_u32(vdupq_n_u32(k)),
        loadu: vld1q_u8,
        storeu: vst1q_u8,
        xor: veorq_u8,
    }

    vector_copier! {
        /// Copies with 16-byte vectors (NEON).
        #[target_feature(enable = "neon")]
        fn copy_neon,
        width: 16,
        splat: |k| vreinterpretq_u8_u32(vdupq_n_u32(k)),
        loadu: vld1q_u8,
        storeu: vst1q_u8,
        store: vst1q_u8,
        xor: veorq_u8,
    }
}

/// Buffers shorter than 16 bytes: an 8-byte word, a 4-byte word, then up to
/// 3 bytes, one after another (see `small_vector_masker` for why they do not
/// overlap).
#[inline(always)]
fn mask_short(buf: &mut [u8], key: [u8; 4]) {
    let key32 = u32::from_ne_bytes(key);
    let key64 = u64::from(key32) | (u64::from(key32) << 32);
    let mut rest = buf;
    if rest.len() >= 8 {
        let (word, tail) = rest.split_at_mut(8);
        let value = u64::from_ne_bytes(word.try_into().unwrap()) ^ key64;
        word.copy_from_slice(&value.to_ne_bytes());
        rest = tail;
    }
    if rest.len() >= 4 {
        let (word, tail) = rest.split_at_mut(4);
        let value = u32::from_ne_bytes(word.try_into().unwrap()) ^ key32;
        word.copy_from_slice(&value.to_ne_bytes());
        rest = tail;
    }
    // 8 and 4 are multiples of 4: the last bytes start at phase 0.
    for (byte, k) in rest.iter_mut().zip(key) {
        *byte ^= k;
    }
}

/// Targets without a vector path: 64-byte blocks the compiler may
/// vectorize, then 8-byte words and the short path.
#[cfg_attr(
    any(
        all(target_arch = "x86_64", target_feature = "sse2"),
        all(target_arch = "aarch64", target_feature = "neon")
    ),
    allow(dead_code)
)]
fn mask_portable(buf: &mut [u8], key: [u8; 4]) {
    let word = u64::from(u32::from_ne_bytes(key));
    let word = word | (word << 32);
    let mut blocks = buf.chunks_exact_mut(64);
    for block in &mut blocks {
        for chunk in block.chunks_exact_mut(8) {
            let value = u64::from_ne_bytes(chunk.try_into().unwrap()) ^ word;
            chunk.copy_from_slice(&value.to_ne_bytes());
        }
    }
    // 64 and 8 are multiples of 4: each remainder starts at phase 0.
    let mut words = blocks.into_remainder().chunks_exact_mut(8);
    for chunk in &mut words {
        let value = u64::from_ne_bytes(chunk.try_into().unwrap()) ^ word;
        chunk.copy_from_slice(&value.to_ne_bytes());
    }
    mask_short(words.into_remainder(), key);
}

/// Targets without a vector path: 64-byte blocks masked on the stack (which
/// the compiler keeps in registers where it can), then copied out.
#[cfg_attr(
    any(
        all(target_arch = "x86_64", target_feature = "sse2"),
        all(target_arch = "aarch64", target_feature = "neon")
    ),
    allow(dead_code)
)]
fn copy_portable(dst: &mut UninitSlice, src: &[u8], key: [u8; 4]) {
    let mut block = [0; 64];
    for (i, piece) in src.chunks(64).enumerate() {
        let block = &mut block[..piece.len()];
        block.copy_from_slice(piece);
        // 64 is a multiple of 4: every block starts at phase 0.
        mask_portable(block, key);
        dst[64 * i..64 * i + piece.len()].copy_from_slice(block);
    }
}

/// The obvious byte-at-a-time loop: the reference the fast paths are tested
/// against, and the baseline the benches compare with.
#[doc(hidden)]
pub fn apply_mask_bytewise(buf: &mut [u8], key: [u8; 4], offset: u64) {
    for (i, byte) in buf.iter_mut().enumerate() {
        // 2^64 is a multiple of 4: wrapping keeps the phase.
        *byte ^= key[(offset.wrapping_add(i as u64) % 4) as usize];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `mask` fuzz target: the reference loop overflowed for
    /// offsets near `u64::MAX`.
    #[test]
    fn offsets_near_the_top_of_u64_keep_their_phase() {
        let mut fast = [0u8; 6];
        let mut slow = [0u8; 6];
        apply_mask_at(&mut fast, [1, 2, 3, 4], u64::MAX);
        apply_mask_bytewise(&mut slow, [1, 2, 3, 4], u64::MAX);
        assert_eq!(fast, slow);
        assert_eq!(fast, [4, 1, 2, 3, 4, 1]);
    }
    use proptest::prelude::*;

    /// Lengths around every boundary the implementation has (words, blocks,
    /// the short cut-off), kept small enough for Miri.
    const LENGTHS: &[usize] = &[
        0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 125, 127, 128, 129, 191,
        255, 256, 300, 383, 384, 385, 1000,
    ];

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 + 7) as u8).collect()
    }

    #[test]
    fn matches_bytewise_for_every_length_alignment_and_phase() {
        let key = [0x12, 0x34, 0x56, 0x78];
        for &len in LENGTHS {
            for start in 0..4 {
                for offset in 0..4u64 {
                    let mut backing = pattern(len + start);
                    let mut expected = backing.clone();
                    apply_mask_at(&mut backing[start..], key, offset);
                    apply_mask_bytewise(&mut expected[start..], key, offset);
                    assert_eq!(backing, expected, "len {len} start {start} offset {offset}");
                }
            }
        }
    }

    /// Runs `path` on every length of `LENGTHS` from `min_len` up, at every
    /// start within a cache line (a few under Miri), against the byte loop.
    fn check_path(name: &str, min_len: usize, path: impl Fn(&mut [u8], [u8; 4])) {
        let key = [0xa1, 0xb2, 0xc3, 0xd4];
        let starts: &[usize] = if cfg!(miri) {
            &[0, 1, 3, 15, 63]
        } else {
            &[
                0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
                23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43,
                44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63,
            ]
        };
        for &len in LENGTHS.iter().filter(|&&len| len >= min_len) {
            for &start in starts {
                let mut backing = pattern(len + 64 + start);
                let first = backing.as_ptr().align_offset(64) + start;
                let mut expected = backing.clone();
                path(&mut backing[first..first + len], key);
                apply_mask_bytewise(&mut expected[first..first + len], key, 0);
                assert_eq!(backing, expected, "{name}, len {len}, start {start}");
            }
        }
    }

    #[test]
    fn short_path_matches_bytewise() {
        check_path("short", 0, |buf, key| {
            if buf.len() < 16 {
                mask_short(buf, key)
            } else {
                apply_mask_bytewise(buf, key, 0)
            }
        });
    }

    #[test]
    fn portable_path_matches_bytewise() {
        check_path("portable", 0, mask_portable);
    }

    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    #[test]
    fn x86_paths_match_bytewise() {
        // SAFETY: SSE2 is in this build's baseline; `check_path` only passes
        // buffers of at least the width given.
        check_path("sse2", 16, |buf, key| unsafe { x86::mask_sse2(buf, key) });
        // SAFETY: SSE2 is in this build's baseline; any length is fine.
        check_path("sse2 small", 0, |buf, key| unsafe {
            x86::mask_sse2_small(buf, key)
        });
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: AVX2 was detected just above; the width is respected.
            check_path("avx2", 32, |buf, key| unsafe { x86::mask_avx2(buf, key) });
        }
        if std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
        {
            // SAFETY: AVX-512F and BW were detected just above; the path
            // takes any length.
            check_path("avx512", 0, |buf, key| unsafe {
                x86::mask_avx512(buf, key)
            });
        }
    }

    #[test]
    fn forced_paths_match_bytewise_at_any_length() {
        for path in Path::ALL {
            if path.is_available() {
                check_path(path.name(), 0, |buf, key| {
                    assert!(apply_mask_with(path, buf, key));
                });
            } else {
                let mut buf = [7u8; 40];
                assert!(!apply_mask_with(path, &mut buf, [1, 2, 3, 4]));
                assert_eq!(buf, [7u8; 40], "an unavailable path leaves the buffer");
            }
        }
    }

    #[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
    #[test]
    fn neon_paths_match_bytewise() {
        // SAFETY: NEON is in this build's baseline; the widths are
        // respected.
        check_path("neon", 16, |buf, key| unsafe { arm::mask_neon(buf, key) });
        // SAFETY: NEON is in this build's baseline; any length is fine.
        check_path("neon small", 0, |buf, key| unsafe {
            arm::mask_neon_small(buf, key)
        });
    }

    /// Runs a copying `path` on every length of `LENGTHS` from `min_len`
    /// up, to every start within a cache line, from a source at two
    /// alignments and every phase of the key (a few of each under Miri),
    /// against the byte loop; the bytes around the destination stay as they
    /// were.
    fn check_copy_path(
        name: &str,
        min_len: usize,
        path: impl Fn(&mut UninitSlice, &[u8], [u8; 4]),
    ) {
        let key = [0xa1, 0xb2, 0xc3, 0xd4];
        let starts: &[usize] = if cfg!(miri) {
            &[0, 1, 63]
        } else {
            &[
                0, 1, 2, 3, 4, 7, 8, 15, 16, 17, 31, 32, 33, 47, 48, 60, 61, 62, 63,
            ]
        };
        let phases: &[u64] = if cfg!(miri) { &[3] } else { &[0, 1, 2, 3] };
        let src_starts: &[usize] = if cfg!(miri) { &[5] } else { &[0, 5] };
        for &len in LENGTHS.iter().filter(|&&len| len >= min_len) {
            for &start in starts {
                for &src_start in src_starts {
                    for &phase in phases {
                        let source = pattern(len + src_start);
                        let src = &source[src_start..];
                        let mut backing = vec![0xee; len + 128 + start];
                        let first = backing.as_ptr().align_offset(64) + start;
                        let mut expected = backing.clone();
                        expected[first..first + len].copy_from_slice(src);
                        apply_mask_bytewise(&mut expected[first..first + len], key, phase);
                        path(
                            UninitSlice::new(&mut backing[first..first + len]),
                            src,
                            rotate(key, phase),
                        );
                        assert_eq!(
                            backing, expected,
                            "{name}, len {len}, start {start}, source at {src_start}, phase {phase}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn copying_paths_match_bytewise() {
        check_copy_path("dispatch", 0, copy_masked);
        check_copy_path("portable", 0, copy_portable);
        #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
        {
            // SAFETY: SSE2 is in this build's baseline; `check_copy_path`
            // passes sources of at least the width given, and a destination
            // of the same length apart from them.
            check_copy_path("sse2", 16, |dst, src, key| unsafe {
                x86::copy_sse2(dst.as_mut_ptr(), src, key)
            });
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: AVX2 was detected just above; as for SSE2.
                check_copy_path("avx2", 32, |dst, src, key| unsafe {
                    x86::copy_avx2(dst.as_mut_ptr(), src, key)
                });
            }
            if std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx512bw")
            {
                // SAFETY: AVX-512F and BW were detected just above; as for
                // SSE2.
                check_copy_path("avx512", 64, |dst, src, key| unsafe {
                    x86::copy_avx512(dst.as_mut_ptr(), src, key)
                });
            }
        }
        #[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
        // SAFETY: NEON is in this build's baseline; as for SSE2 above.
        check_copy_path("neon", 16, |dst, src, key| unsafe {
            arm::copy_neon(dst.as_mut_ptr(), src, key)
        });
    }

    /// `put` fills a `BufMut` whose chunks are shorter than the piece (a
    /// chain of two slices), keeping the phase across them.
    #[test]
    fn put_crosses_chunks_of_the_buffer() {
        let key = [9, 8, 7, 6];
        let data = pattern(300);
        let mut expected = data.clone();
        apply_mask_at(&mut expected, key, 1);
        let mut masked = data.clone();
        apply_mask_at(&mut masked, key, 0);
        let (mut a, mut b) = ([0u8; 101], [0u8; 199]);
        let mut masker = Masker::new(key);
        masker.apply(&mut [0]);
        let mut out = (&mut a[..]).chain_mut(&mut b[..]);
        masker.put(&mut out, &data);
        assert_eq!(masker.position(), 301);
        assert_eq!([&a[..], &b[..]].concat(), expected);
        // Unmasking is the same XOR.
        let mut unmasker = Masker::new(key);
        let mut back = bytes::BytesMut::new();
        unmasker.put(&mut back, &masked[..7]);
        unmasker.put(&mut back, &masked[7..]);
        assert_eq!(&back[..], &data[..]);
    }

    #[test]
    #[should_panic(expected = "room for 4")]
    fn put_past_the_room_panics_as_put_slice_does() {
        let mut room = [0u8; 4];
        Masker::new([1, 2, 3, 4]).put(&mut &mut room[..], &[0; 5]);
    }

    #[test]
    fn offset_rotates_the_key() {
        let mut buf = [0u8; 4];
        apply_mask_at(&mut buf, [1, 2, 3, 4], 1);
        assert_eq!(buf, [2, 3, 4, 1]);
        let mut buf = [0u8; 4];
        apply_mask_at(&mut buf, [1, 2, 3, 4], 4 * 1000 + 3);
        assert_eq!(buf, [4, 1, 2, 3]);
    }

    proptest! {
        // Under Miri: few cases, and no failure file (Miri isolates the
        // file system).
        #![proptest_config(ProptestConfig {
            cases: if cfg!(miri) { 4 } else { 256 },
            failure_persistence: if cfg!(miri) {
                None
            } else {
                ProptestConfig::default().failure_persistence
            },
            ..ProptestConfig::default()
        })]

        #[test]
        fn masking_twice_is_identity(data in proptest::collection::vec(any::<u8>(), 0..600), key: [u8; 4], offset in 0u64..8) {
            let mut buf = data.clone();
            apply_mask_at(&mut buf, key, offset);
            apply_mask_at(&mut buf, key, offset);
            prop_assert_eq!(buf, data);
        }

        #[test]
        fn put_in_pieces_equals_apply(data in proptest::collection::vec(any::<u8>(), 0..600), key: [u8; 4], cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..4)) {
            let mut whole = data.clone();
            apply_mask(&mut whole, key);
            let mut cuts: Vec<usize> = cuts.iter().map(|c| c.index(data.len() + 1)).collect();
            cuts.push(data.len());
            cuts.sort_unstable();
            let mut out = Vec::new();
            let mut masker = Masker::new(key);
            let mut from = 0;
            for cut in cuts {
                masker.put(&mut out, &data[from..cut]);
                from = cut;
            }
            prop_assert_eq!(out, whole);
        }

        #[test]
        fn split_equals_whole(data in proptest::collection::vec(any::<u8>(), 0..600), key: [u8; 4], cut in any::<prop::sample::Index>()) {
            let mut whole = data.clone();
            apply_mask(&mut whole, key);
            let cut = cut.index(data.len() + 1);
            let mut pieces = data;
            let (a, b) = pieces.split_at_mut(cut);
            let mut masker = Masker::new(key);
            masker.apply(a);
            masker.apply(b);
            prop_assert_eq!(whole, pieces);
        }
    }
}
