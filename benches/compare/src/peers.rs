//! The peers' maskers, each behind `fn(&mut [u8], [u8; 4])`.
//!
//! - yawc exports its masker (`yawc::mask::apply_mask`): called as is.
//! - fastwebsockets exports no masker, but its `Frame::unmask` over a
//!   borrowed payload is a thin public wrapper around it: called that way.
//! - tungstenite and tokio-websockets keep theirs private (`mod mask`). Their
//!   code is copied below, verbatim but for formatting and the cut of other
//!   architectures, from the versions in Cargo.lock, under their licences
//!   (tungstenite: MIT OR Apache-2.0; tokio-websockets: MIT). tungstenite's
//!   public frame reader uses the same function; it is measured through its
//!   public API in the frame decoding comparison.

/// `yawc::mask::apply_mask` (yawc 0.5): AVX2 from 256 bytes up, detected
/// at run time; 4- and 8-byte words below.
#[inline(never)]
pub fn yawc(buf: &mut [u8], key: [u8; 4]) {
    yawc::mask::apply_mask(buf, key)
}

/// fastwebsockets 0.10: `Frame::unmask` on a borrowed payload (4-byte words
/// over the aligned middle, bytes at the ends).
#[inline(never)]
pub fn fastwebsockets(buf: &mut [u8], key: [u8; 4]) {
    use fastwebsockets::{Frame, OpCode, Payload};
    let mut frame = Frame::new(true, OpCode::Binary, Some(key), Payload::BorrowedMut(buf));
    frame.unmask();
}

/// tungstenite 0.30, `protocol::frame::mask::apply_mask` (private).
#[inline(never)]
pub fn tungstenite(buf: &mut [u8], key: [u8; 4]) {
    tungstenite_copy::apply_mask(buf, key)
}

/// tokio-websockets 0.13.3, `mask::frame` (private): AVX-512, AVX2 or SSE2
/// detected at run time over the aligned middle, 8-byte words and bytes at
/// the ends.
#[inline(never)]
pub fn tokio_websockets(buf: &mut [u8], key: [u8; 4]) {
    let mut key = key;
    tokio_websockets_copy::frame(&mut key, buf)
}

/// Copied from tungstenite 0.30.0, src/protocol/frame/mask.rs.
/// Copyright (c) 2017 Alexey Galakhov, Daniel Abramov; MIT OR Apache-2.0.
mod tungstenite_copy {
    /// Mask/unmask a frame.
    #[inline]
    pub fn apply_mask(buf: &mut [u8], mask: [u8; 4]) {
        apply_mask_fast32(buf, mask);
    }

    /// A safe unoptimized mask application.
    #[inline]
    fn apply_mask_fallback(buf: &mut [u8], mask: [u8; 4]) {
        for (i, byte) in buf.iter_mut().enumerate() {
            *byte ^= mask[i & 3];
        }
    }

    /// Faster version of `apply_mask()` which operates on 4-byte blocks.
    #[inline]
    pub fn apply_mask_fast32(buf: &mut [u8], mask: [u8; 4]) {
        let mask_u32 = u32::from_ne_bytes(mask);

        // SAFETY: (the original has no comment) any bit pattern is a valid
        // u32; `align_to_mut` returns only the aligned middle as words.
        let (prefix, words, suffix) = unsafe { buf.align_to_mut::<u32>() };
        apply_mask_fallback(prefix, mask);
        let head = prefix.len() & 3;
        let mask_u32 = if head > 0 {
            if cfg!(target_endian = "big") {
                mask_u32.rotate_left(8 * head as u32)
            } else {
                mask_u32.rotate_right(8 * head as u32)
            }
        } else {
            mask_u32
        };
        for word in words.iter_mut() {
            *word ^= mask_u32;
        }
        apply_mask_fallback(suffix, mask_u32.to_ne_bytes());
    }
}

/// Copied from tokio-websockets 0.13.3, src/mask.rs (x86 and the fallback;
/// the other architectures cut). Copyright (c) Jens Reidel and contributors;
/// MIT.
#[allow(clippy::all)]
mod tokio_websockets_copy {
    #[cfg(target_arch = "x86_64")]
    use std::arch::x86_64::{
        __m128i, __m256i, __m512i, _mm_set1_epi32, _mm_xor_si128, _mm256_set1_epi32,
        _mm256_xor_si256, _mm512_set1_epi32, _mm512_xor_si512,
    };

    /// (Un-)masks input bytes with the framing key using AVX512.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn frame_avx512(key: &mut [u8; 4], input: &mut [u8]) {
        // SAFETY: (the original has no comment) any bit pattern is a valid
        // vector; AVX-512F is enabled for this function.
        unsafe {
            let (prefix, aligned_data, suffix) = input.align_to_mut::<__m512i>();
            if !prefix.is_empty() {
                fallback_frame(key, prefix);
            }
            if !aligned_data.is_empty() {
                let mask = _mm512_set1_epi32(i32::from_ne_bytes(*key));
                for block in aligned_data {
                    *block = _mm512_xor_si512(*block, mask);
                }
            }
            if !suffix.is_empty() {
                fallback_frame(key, suffix);
            }
        }
    }

    /// (Un-)masks input bytes with the framing key using AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn frame_avx2(key: &mut [u8; 4], input: &mut [u8]) {
        // SAFETY: as above, with AVX2.
        unsafe {
            let (prefix, aligned_data, suffix) = input.align_to_mut::<__m256i>();
            if !prefix.is_empty() {
                fallback_frame(key, prefix);
            }
            if !aligned_data.is_empty() {
                let mask = _mm256_set1_epi32(i32::from_ne_bytes(*key));
                for block in aligned_data {
                    *block = _mm256_xor_si256(*block, mask);
                }
            }
            if !suffix.is_empty() {
                fallback_frame(key, suffix);
            }
        }
    }

    /// (Un-)masks input bytes with the framing key using SSE2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "sse2")]
    unsafe fn frame_sse2(key: &mut [u8; 4], input: &mut [u8]) {
        // SAFETY: as above, with SSE2.
        unsafe {
            let (prefix, aligned_data, suffix) = input.align_to_mut::<__m128i>();
            if !prefix.is_empty() {
                fallback_frame(key, prefix);
            }
            if !aligned_data.is_empty() {
                let mask = _mm_set1_epi32(i32::from_ne_bytes(*key));
                for block in aligned_data {
                    *block = _mm_xor_si128(*block, mask);
                }
            }
            if !suffix.is_empty() {
                fallback_frame(key, suffix);
            }
        }
    }

    /// Rotates the mask in-place by a certain amount of bytes.
    fn rotate_mask(key: &mut [u8; 4], offset: usize) {
        *key = u32::from_be_bytes(*key)
            .rotate_left((offset % key.len()) as u32 * u8::BITS)
            .to_be_bytes();
    }

    /// (Un-)masks input bytes with the framing key, one byte at once.
    fn one_byte_at_once(key: &mut [u8; 4], input: &mut [u8]) {
        for (index, byte) in input.iter_mut().enumerate() {
            *byte ^= key[index % key.len()];
        }
        rotate_mask(key, input.len());
    }

    /// (Un-)masks input bytes with the framing key.
    fn fallback_frame(key: &mut [u8; 4], input: &mut [u8]) {
        // SAFETY: (the original has no comment) any bit pattern is a u64.
        let (prefix, aligned_data, suffix) = unsafe { input.align_to_mut::<u64>() };
        if !prefix.is_empty() {
            one_byte_at_once(key, prefix);
        }
        if !aligned_data.is_empty() {
            let masking_key = u64::from(u32::from_ne_bytes(*key));
            let mask = (masking_key << u32::BITS) | masking_key;
            for block in aligned_data {
                *block ^= mask;
            }
        }
        if !suffix.is_empty() {
            one_byte_at_once(key, suffix);
        }
    }

    /// (Un-)masks input bytes with the framing key.
    #[inline]
    pub fn frame(key: &mut [u8; 4], input: &mut [u8]) {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected;

            if is_x86_feature_detected!("avx512f") {
                // SAFETY: (the original has no comment) detected above.
                return unsafe { frame_avx512(key, input) };
            } else if is_x86_feature_detected!("avx2") {
                // SAFETY: detected above.
                return unsafe { frame_avx2(key, input) };
            } else if is_x86_feature_detected!("sse2") {
                // SAFETY: detected above.
                return unsafe { frame_sse2(key, input) };
            }
        }
        fallback_frame(key, input);
    }
}
