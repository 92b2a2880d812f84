//! Masking and unmasking of payloads (RFC 6455 section 5.3).
//!
//! Every frame a client sends is masked: byte `i` of the payload is XORed with
//! byte `i % 4` of a 4-byte key. The same operation unmasks. This is the hot
//! loop of a WebSocket implementation, so it is written to run at the speed of
//! memory:
//!
//! - the bulk of a buffer is XORed 64 bytes at a time with a pattern of the
//!   key repeated, a loop the compiler turns into vector instructions;
//! - on x86_64 the same loop is also compiled for AVX2 and AVX-512 and picked
//!   **at run time** with `is_x86_feature_detected!`, so a default build runs
//!   at full width on the machine it lands on (SSE2 is the baseline; aarch64
//!   always has NEON);
//! - tails and short buffers go 8 bytes at a time, never a byte at a time
//!   beyond the last 7 bytes, so a 16-byte chat frame pays no set-up.
//!
//! A payload that arrives in pieces is unmasked piece by piece with
//! [`apply_mask_at`] or a [`Masker`], which keep the phase of the key.

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
fn rotate(mut key: [u8; 4], offset: u64) -> [u8; 4] {
    key.rotate_left((offset % 4) as usize);
    key
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
    position: u64,
}

impl Masker {
    /// A masker at the start of a payload.
    pub fn new(key: [u8; 4]) -> Self {
        Masker { key, position: 0 }
    }

    /// XORs the next piece of the payload and advances the position.
    #[inline]
    pub fn apply(&mut self, piece: &mut [u8]) {
        apply_mask_at(piece, self.key, self.position);
        self.position += piece.len() as u64;
    }

    /// How many payload bytes have been masked so far.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// The masking key.
    pub fn key(&self) -> [u8; 4] {
        self.key
    }
}

/// Bytes handled per iteration of the wide loop: one AVX-512 register, two
/// AVX2 registers, four SSE2 or NEON registers.
const BLOCK: usize = 64;

/// Below this length the vector dispatch is not worth its branch.
const SHORT: usize = 2 * BLOCK;

#[inline]
fn dispatch(buf: &mut [u8], key: [u8; 4]) {
    if buf.len() < SHORT {
        return mask_words(buf, key);
    }
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU reports AVX-512F, the only feature the callee
            // is compiled for beyond the baseline.
            return unsafe { x86::mask_avx512(buf, key) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU reports AVX2, the only feature the callee is
            // compiled for beyond the baseline.
            return unsafe { x86::mask_avx2(buf, key) };
        }
    }
    mask_blocks(buf, key)
}

#[cfg(all(target_arch = "x86_64", not(miri)))]
mod x86 {
    /// The portable block loop, compiled with AVX-512F enabled.
    #[target_feature(enable = "avx512f")]
    pub(super) fn mask_avx512(buf: &mut [u8], key: [u8; 4]) {
        super::mask_blocks(buf, key)
    }

    /// The portable block loop, compiled with AVX2 enabled.
    #[target_feature(enable = "avx2")]
    pub(super) fn mask_avx2(buf: &mut [u8], key: [u8; 4]) {
        super::mask_blocks(buf, key)
    }
}

/// XORs 64-byte blocks with the key pattern, then finishes with words.
///
/// Inlined into each `target_feature` wrapper so that the compiler vectorizes
/// it for that wrapper's registers.
#[inline(always)]
fn mask_blocks(buf: &mut [u8], key: [u8; 4]) {
    let mut pattern = [0u8; BLOCK];
    for (i, byte) in pattern.iter_mut().enumerate() {
        *byte = key[i % 4];
    }
    let mut blocks = buf.chunks_exact_mut(BLOCK);
    for block in &mut blocks {
        for (byte, k) in block.iter_mut().zip(pattern.iter()) {
            *byte ^= *k;
        }
    }
    // BLOCK is a multiple of 4, so the tail starts at phase 0.
    mask_words(blocks.into_remainder(), key);
}

/// XORs 8 bytes at a time, then the last 0 to 7 bytes.
#[inline(always)]
fn mask_words(buf: &mut [u8], key: [u8; 4]) {
    let key32 = u32::from_ne_bytes(key);
    let key64 = u64::from(key32) | (u64::from(key32) << 32);
    let mut words = buf.chunks_exact_mut(8);
    for word in &mut words {
        let value = u64::from_ne_bytes([
            word[0], word[1], word[2], word[3], word[4], word[5], word[6], word[7],
        ]) ^ key64;
        word.copy_from_slice(&value.to_ne_bytes());
    }
    let tail = words.into_remainder();
    let mut rest = tail.chunks_exact_mut(4);
    for word in &mut rest {
        let value = u32::from_ne_bytes([word[0], word[1], word[2], word[3]]) ^ key32;
        word.copy_from_slice(&value.to_ne_bytes());
    }
    for (byte, k) in rest.into_remainder().iter_mut().zip(key) {
        *byte ^= k;
    }
}

/// The obvious byte-at-a-time loop: the reference the fast paths are tested
/// against, and the baseline the benches compare with.
#[doc(hidden)]
pub fn apply_mask_bytewise(buf: &mut [u8], key: [u8; 4], offset: u64) {
    for (i, byte) in buf.iter_mut().enumerate() {
        *byte ^= key[((offset + i as u64) % 4) as usize];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Lengths around every boundary the implementation has (words, blocks,
    /// the short cut-off), kept small enough for Miri.
    const LENGTHS: &[usize] = &[
        0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 63, 64, 65, 125, 127, 128, 129, 191, 255, 300,
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

    #[test]
    fn every_path_matches_bytewise() {
        let key = [0xa1, 0xb2, 0xc3, 0xd4];
        for &len in LENGTHS {
            let original = pattern(len);
            let mut expected = original.clone();
            apply_mask_bytewise(&mut expected, key, 0);

            let mut words = original.clone();
            mask_words(&mut words, key);
            assert_eq!(words, expected, "words, len {len}");

            let mut blocks = original.clone();
            mask_blocks(&mut blocks, key);
            assert_eq!(blocks, expected, "blocks, len {len}");

            #[cfg(all(target_arch = "x86_64", not(miri)))]
            {
                if std::arch::is_x86_feature_detected!("avx2") {
                    let mut avx2 = original.clone();
                    // SAFETY: AVX2 was detected just above.
                    unsafe { x86::mask_avx2(&mut avx2, key) };
                    assert_eq!(avx2, expected, "avx2, len {len}");
                }
                if std::arch::is_x86_feature_detected!("avx512f") {
                    let mut avx512 = original.clone();
                    // SAFETY: AVX-512F was detected just above.
                    unsafe { x86::mask_avx512(&mut avx512, key) };
                    assert_eq!(avx512, expected, "avx512, len {len}");
                }
            }
        }
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
        #![proptest_config(ProptestConfig::with_cases(if cfg!(miri) { 4 } else { 256 }))]

        #[test]
        fn masking_twice_is_identity(data in proptest::collection::vec(any::<u8>(), 0..600), key: [u8; 4], offset in 0u64..8) {
            let mut buf = data.clone();
            apply_mask_at(&mut buf, key, offset);
            apply_mask_at(&mut buf, key, offset);
            prop_assert_eq!(buf, data);
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
