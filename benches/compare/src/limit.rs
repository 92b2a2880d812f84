//! The physical limit of masking: the same buffer XORed with one constant
//! byte. No masker can do less work per byte. The loop is left to the
//! compiler to vectorize, and compiled for each vector width with
//! `#[target_feature]`, so that the best of them is the real limit of this
//! CPU in a default build.
//!
//! Shared, through `#[path]`, by the main crate's `benches/mask.rs`.

#[inline(always)]
fn xor_const(buf: &mut [u8], c: u8) {
    for byte in buf {
        *byte ^= c;
    }
}

/// The target's baseline vectors (SSE2 on x86_64).
#[inline(never)]
pub fn baseline(buf: &mut [u8], c: u8) {
    xor_const(buf, c)
}

/// 32-byte vectors; a byte loop where the CPU has no AVX2.
#[inline(never)]
pub fn avx2(buf: &mut [u8], c: u8) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 was detected just above.
        return unsafe { x86::avx2(buf, c) };
    }
    xor_const(buf, c)
}

/// 64-byte vectors; a byte loop where the CPU has no AVX-512F and BW.
#[inline(never)]
pub fn avx512(buf: &mut [u8], c: u8) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512bw")
    {
        // SAFETY: AVX-512F and BW were detected just above.
        return unsafe { x86::avx512(buf, c) };
    }
    xor_const(buf, c)
}

/// The widths this CPU has, by name: `limit_sse2` always, then
/// `limit_avx2` and `limit_avx512` where detected.
#[allow(clippy::type_complexity)]
pub fn available() -> Vec<(&'static str, fn(&mut [u8], u8))> {
    let mut widths: Vec<(&'static str, fn(&mut [u8], u8))> = vec![("limit_sse2", baseline)];
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            widths.push(("limit_avx2", avx2));
        }
        if std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
        {
            widths.push(("limit_avx512", avx512));
        }
    }
    widths
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    #[target_feature(enable = "avx2")]
    pub(super) fn avx2(buf: &mut [u8], c: u8) {
        super::xor_const(buf, c)
    }

    #[target_feature(enable = "avx512f,avx512bw")]
    pub(super) fn avx512(buf: &mut [u8], c: u8) {
        super::xor_const(buf, c)
    }
}
