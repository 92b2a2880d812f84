//! The peers' maskers, each behind `fn(&mut [u8], [u8; 4])`.
//!
//! - yawc exports its masker (`yawc::mask::apply_mask`): called as is.
//! - fastwebsockets exports no masker, but its `Frame::unmask` over a
//!   borrowed payload is a thin public wrapper around it: called that way.
//! - tungstenite and tokio-websockets keep theirs private (`mod mask`).
//!   Their private maskers are compiled from their published crate sources at
//!   build time, not copied: `build.rs` finds the registry sources of the
//!   versions in Cargo.lock through `cargo metadata` and the modules below
//!   compile those files as they are. No text of theirs is in this
//!   repository. tungstenite's public frame reader uses the same function; it
//!   is measured through its public API in the frame decoding comparison.

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

/// tungstenite 0.30, `protocol::frame::mask::apply_mask` (private), from
/// its published source: 4-byte words over the aligned middle, bytes at the
/// ends.
#[inline(never)]
pub fn tungstenite(buf: &mut [u8], key: [u8; 4]) {
    tungstenite_mask::apply_mask(buf, key)
}

/// tokio-websockets 0.13.3, `mask::frame` (private), from its published
/// source: AVX-512, AVX2 or SSE2 detected at run time over the aligned
/// middle, 8-byte words and bytes at the ends.
#[inline(never)]
pub fn tokio_websockets(buf: &mut [u8], key: [u8; 4]) {
    let mut key = key;
    tokio_websockets_mask::frame(&mut key, buf)
}

/// tungstenite's `src/protocol/frame/mask.rs`, compiled from the registry
/// source (see `build.rs`). Only `apply_mask` is called; the module is
/// theirs, so its other items and lints are left as they are.
// `generate_mask` and the stand-in `rand` are unused here; the peer's text
// is not ours to lint.
#[allow(dead_code, clippy::all)]
mod tungstenite_mask {
    include!(concat!(env!("OUT_DIR"), "/tungstenite_mask.rs"));
}

/// tokio-websockets' `src/mask.rs`, compiled from the registry source (see
/// `build.rs`). Only `frame` is called.
// Its `cfg(feature = "nightly")` and the like name its own features, not
// ours; the peer's text is not ours to lint.
#[allow(unexpected_cfgs, clippy::all)]
mod tokio_websockets_mask {
    include!(concat!(env!("OUT_DIR"), "/tokio_websockets_mask.rs"));
}
