//! A sans-IO implementation of the WebSocket protocol, [RFC 6455].
//!
//! The crate never touches a socket, a thread or a clock: the caller feeds the
//! bytes it received, takes out events, and writes the bytes the crate queued.
//! The same core serves blocking `std::net` code, async runtimes, fuzzers and
//! benches.
//!
//! The modules are layered; a lower one never imports a higher one:
//!
//! | module | what it holds | RFC 6455 |
//! |---|---|---|
//! | [`mask`] | the XOR masking hot loop, phase-aware | 5.3 |
//! | [`frame`] | [`OpCode`](frame::OpCode), [`FrameHeader`](frame::FrameHeader) decode and encode | 5.2 |
//! | [`close`] | [`CloseCode`], close payloads | 5.5.1, 7.4 |
//! | `deflate` | permessage-deflate ([RFC 7692]): negotiation values and the payload codec (feature `deflate`, on by default) | RFC 7692 |
//! | [`message`] | [`Message`], reassembly, incremental UTF-8, size limits | 5.4, 5.6, 8.1 |
//! | [`connection`] | [`Connection`]: the sans-IO state machine, both roles | 5 to 7 |
//! | [`handshake`] | the opening handshake, both roles, apart from the rest; in the `http` crate's types with feature `http` | 4; RFC 8441 |
//! | [`time`] | [`Timestamp`](time::Timestamp): the time the caller passes to the timers | |
//! | [`keys`] | [`KeySource`](keys::KeySource): where a client's masking keys come from | 5.3 |
//! | `io` | the adapters: blocking `std::io` (feature `std`, default) and tokio (feature `tokio`, `wss://` with `rustls`); hyper (feature `hyper`, also as `rfc6455::hyper`) and axum (feature `axum`, also as `rfc6455::axum`) | RFC 8441 |
//!
//! The core (every module but `io`) does no I/O; `io` drives it over
//! streams.
//!
//! # Without std
//!
//! The core needs no operating system: without the default feature `std`
//! the crate is `#![no_std]` and needs only `alloc`, for microcontrollers
//! (`thumbv7em-none-eabihf`), unikernels and `wasm32-unknown-unknown`. What
//! changes:
//!
//! - **Time**: there is no `std::time::Instant`, so name the time type, for
//!   instance [`Connection<Duration>`](Connection) with a
//!   [`Duration`](core::time::Duration) from a tick counter (see
//!   [`Timestamp`](time::Timestamp)).
//! - **Masking keys**: there is no operating system to ask for random bytes,
//!   so a client takes its keys from a [`KeySource`](keys::KeySource) the
//!   caller supplies, such as a hardware random number generator:
//!   [`Connection::client`] and
//!   [`ClientHandshake::with_key_source`](handshake::ClientHandshake::with_key_source).
//!   The constructors that draw keys themselves need the feature `getrandom`
//!   (which `std` turns on), so a client without a key source does not
//!   compile. Servers need no keys: [`Connection::server`].
//! - **CPU features** are those the build targets, not those the CPU reports
//!   at run time: masking and UTF-8 validation use the vector units the
//!   target enables at compile time (NEON on aarch64, SSE2 on x86_64, AVX2
//!   and AVX-512 with `-C target-feature`, `simd128` on wasm32), and a plain
//!   word-at-a-time loop elsewhere (Cortex-M).
//! - **Not available**: the adapters in `io` (feature `std`), and
//!   permessage-deflate (feature `deflate`, which needs `std`: its backend,
//!   `flate2`, uses `std::io` even on zlib-rs).
//!
//! [RFC 6455]: https://www.rfc-editor.org/rfc/rfc6455
//! [RFC 7692]: https://www.rfc-editor.org/rfc/rfc7692
#![cfg_attr(not(any(feature = "std", test)), no_std)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_op_in_unsafe_fn)]
#![deny(missing_docs)]

extern crate alloc;

pub mod close;
pub mod connection;
#[cfg(feature = "deflate")]
#[cfg_attr(docsrs, doc(cfg(feature = "deflate")))]
pub mod deflate;
pub mod frame;
pub mod handshake;
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub mod io;
pub mod keys;
pub mod mask;
pub mod message;
pub mod time;

/// The axum extractor, [`WebSocketUpgrade`](axum::WebSocketUpgrade)
/// (feature `axum`): `io::axum` under a shorter name.
#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub use io::axum;
/// The upgrade of a hyper 1 request, [`upgrade`](hyper::upgrade) (feature
/// `hyper`): `io::hyper` under a shorter name.
#[cfg(feature = "hyper")]
#[cfg_attr(docsrs, doc(cfg(feature = "hyper")))]
pub use io::hyper;

pub use close::{CloseCode, CloseFrame};
pub use connection::{
    Config, Connection, Event, PreparedMessage, ProtocolError, Role, SendError, State, Transmit,
};
pub use message::{Message, Utf8Bytes};

/// The README's examples, compiled and run as doctests (they use every
/// adapter, negotiate permessage-deflate, and show the http, rustls and
/// axum features, so they need all of them: `cargo test --all-features`).
#[cfg(all(
    doctest,
    feature = "tokio",
    feature = "deflate",
    feature = "http",
    feature = "rustls",
    feature = "axum"
))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
