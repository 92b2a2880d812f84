//! permessage-deflate through a `Connection` that agreed it: arbitrary
//! compressed frames in, and arbitrary messages compressed and inflated; see
//! `src/deflate.rs` for the input format and the invariants.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| rfc6455_fuzz::deflate::run(data));
