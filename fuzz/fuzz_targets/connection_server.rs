//! A server `Connection` driven by a list of operations (bytes and frames
//! arriving, end of stream, every command, partial writes); see
//! `src/connection.rs` for the invariants checked after each one.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rfc6455::Role;
use rfc6455_fuzz::connection::{Input, run};

fuzz_target!(|input: Input| run(Role::Server, input));
