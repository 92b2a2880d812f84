//! permessage-deflate ([RFC 7692]): the negotiation values and the payload
//! codec.
//!
//! This layer sits between [`frame`](crate::frame) and
//! [`message`](crate::message): it knows what RSV1 means on a data message,
//! how the offer and the answer are written in `Sec-WebSocket-Extensions`,
//! and how a message payload is compressed and inflated. It holds no
//! connection state of its own; the [`message`](crate::message) layer owns an
//! [`Inflater`] and the [`connection`](crate::connection) owns a [`Deflater`].
//!
//! # Using it
//!
//! | role | negotiate | then |
//! |---|---|---|
//! | client | [`ClientRequest::deflate`] offers what a [`DeflateConfig`] says | [`Response::deflate`] gives the agreed [`DeflateParams`] |
//! | server | [`UpgradeRequest::negotiate_deflate`] picks the first acceptable offer | [`Accept::deflate`] writes the answer |
//!
//! Both roles then build the connection with
//! [`Connection::with_deflate`](crate::Connection::with_deflate), which reads
//! the compression level and the size threshold from
//! [`Config::deflate`](crate::Config::deflate).
//!
//! The module imports nothing from the handshake: offers and answers come
//! in as parameter lists ([`Params`]), and the handshake walks its
//! `Sec-WebSocket-Extensions` elements itself.
//!
//! ```
//! use rfc6455::deflate::{accept_offer, check_answer, offer, DeflateConfig};
//!
//! // What a browser offers, as a server reads it, and the answer.
//! let browser = [("client_max_window_bits".to_owned(), None)];
//! let agreed = accept_offer(&browser, &DeflateConfig::default()).unwrap();
//! assert_eq!(agreed.to_string(), "permessage-deflate");
//! // The client checks the (empty) parameters of that answer.
//! let config = DeflateConfig::default();
//! assert_eq!(offer(&config), "permessage-deflate; client_max_window_bits");
//! assert_eq!(check_answer(&[], &config)?, agreed);
//! # Ok::<(), rfc6455::deflate::NegotiationError>(())
//! ```
//!
//! # Two modes, and what each costs
//!
//! **Shared mode** ([`DeflateConfig::shared`]): neither side takes over its
//! context (RFC 7692 section 7.1.1), so each message is compressed and
//! inflated from an empty window. Nothing about compression needs to
//! outlive a message, and a connection keeps nothing: it borrows a
//! compressor or an inflater from the shared [`pool`] on a message's
//! first byte and gives it back, reset, when the message ends, when it
//! fails (corrupt data, 1007; too big, 1009; invalid UTF-8, 1007) and when
//! the connection is dropped mid-message. Inflating obeys the same limits as
//! in dedicated mode.
//!
//! **Dedicated mode** ([`DeflateConfig::dedicated`], and the default): each
//! side compresses against its previous messages, with windows of at most
//! the bits the server answers (section 7.1.2). Between messages, all a
//! side can refer back to is its last window of bytes, so a connection
//! keeps those bytes for inflating (2^bits, 512 B at 9 bits) and borrows
//! a zlib state from the [`pool`] for each message, primed with them. For
//! compressing it does the same up to [`HISTORY_MAX_BITS`]; above, it owns
//! a compressor, since priming one with a larger dictionary at every
//! message costs more than compressing a small message. Nothing is
//! allocated before the first compressed message, and messages under
//! [`DeflateConfig::min_size`] never wake the compressor.
//!
//! Heap of an idle server connection after two compressed messages each
//! way, over the same connection without compression (512 B), counted with
//! zlib-rs 0.6 through flate2 1.1 at level 6 (`cargo test --test
//! deflate_memory -- --nocapture`); [`DeflateConfig::dedicated`] has every
//! window size:
//!
//! | mode | compressor kept | inflater kept | idle connection |
//! |---|---:|---:|---:|
//! | dedicated, 15-bit windows | 382,377 B | 32,899 B | 414,749 B (405 KiB) |
//! | dedicated, 12 | 267,689 B | 4,227 B | 271,389 B |
//! | dedicated, 11 | 259,497 B | 2,182 B | 261,149 B |
//! | dedicated, 9 (8 is served as 9) | history, 512 B | 512 B | 3,056 B |
//! | shared | 0 | 0 | 609 B |
//!
//! An idle server connection in shared mode, after two compressed messages
//! each way, holds 1,121 B of heap including the `Connection` itself,
//! against 512 B for one without compression (1,000 connections, the same
//! test). The pool holds at most [`pool::MAX_IDLE`] compressors and as many
//! inflaters in all; a connection in the middle of a message holds one
//! of each it is using (161 to 287 KiB for a compressor from the pool,
//! 47 KiB for an inflater).
//!
//! Why an owned compressor stays large at small windows: zlib-rs allocates
//! its window (2 × 2^bits), its chain table (2 × 2^bits) and, whatever the
//! window, a 128 KiB hash table and 112 KiB of symbol and pending buffers
//! sized by zlib's memory level, 8 as flate2 builds it (the pool's
//! compressors use 6: 28 KiB of buffers, see `POOLED_MEM_LEVEL` in
//! `src/deflate/codec.rs`). Even at memory
//! level 1 (zlib-rs's own API) a 9-bit compressor would keep 136 KiB, and
//! the inflater state 47 KiB with its 32 KiB window whatever the bits: over
//! 180 KiB together. Keeping the history instead takes 9 bits to 3 KiB.
//!
//! # Choosing one
//!
//! - **A server for many browsers** (chat, notifications, dashboards):
//!   shared mode. 100,000 idle connections hold about 112 MB of heap
//!   instead of 41 GB (dedicated, 15 bits) once each has compressed in
//!   both directions, and the answer is one every browser accepts (Chromium and Firefox offer
//!   `permessage-deflate; client_max_window_bits`). The price is ratio on
//!   small messages that repeat what the previous ones said: each message
//!   is compressed on its own. Measured by `benches/compare`'s
//!   `deflate_scale` (10,000 connections, 5 chat messages of 200 B to
//!   2 KiB each way): shared mode holds 702 B per idle connection over
//!   an uncompressed one and sends 10.8% of the text; dedicated mode at
//!   15 bits sends 5.9% but holds 406 KiB; at 9 bits it holds 4 KiB but
//!   sends 14.2% (zlib reaches back only 250 bytes) and compresses at a
//!   quarter of the speed (zlib-rs rescans its 128 KiB hash table every
//!   time a 512-byte window slides). The chat example uses shared mode
//!   for these reasons.
//! - **Few connections that carry much similar data** (a feed to a handful
//!   of consumers, a bulk API): dedicated mode, 15-bit windows, for the best
//!   ratio. At 9 or 10 bits dedicated mode keeps only the windows (3 to
//!   4 KiB per idle connection) and still compresses each message against
//!   the ones before it; at 11 bits and above a connection owns a
//!   compressor (255 KiB and more).
//! - **Broadcast**: shared mode lets a
//!   [`PreparedMessage`](crate::PreparedMessage) be compressed once per
//!   window size and sent to every connection as the same bytes.
//!
//! What the crate does by default: the HTTP helpers
//! (`rfc6455::hyper`, `rfc6455::axum`) agree shared mode when a
//! client offers permessage-deflate, as do the `hyper_server`,
//! `axum_server` and `chat` examples. [`DeflateConfig::default`] stays
//! dedicated mode at 15 bits, the best ratio and what a client offers; so
//! does `examples/echo_server.rs` (the Autobahn target; `--deflate shared`
//! for browsers). A bare [`Config::default`](crate::Config::default) and
//! the tokio and blocking adapters' `accept` leave compression off.
//!
//! A server in shared mode adds `server_no_context_takeover` and
//! `client_no_context_takeover` to every answer (sections 7.1.1.1 and
//! 7.1.1.2 let it); see [`DeflateConfig::shared`] for what happens when a
//! client keeps its context anyway (1007, never wrong data).
//!
//! [RFC 7692]: https://www.rfc-editor.org/rfc/rfc7692
//! [`ClientRequest::deflate`]: crate::handshake::ClientRequest::deflate
//! [`Response::deflate`]: crate::handshake::Response::deflate
//! [`UpgradeRequest::negotiate_deflate`]: crate::handshake::UpgradeRequest::negotiate_deflate
//! [`Accept::deflate`]: crate::handshake::Accept::deflate
//! [`Config::deflate`]: crate::Config::deflate

mod codec;
mod negotiate;
pub mod pool;

pub use codec::{CompressError, Deflater, HISTORY_MAX_BITS, InflateError, Inflater};
pub use negotiate::{
    DeflateConfig, DeflateParams, EXTENSION_NAME, NegotiationError, Params, accept_offer,
    check_answer, offer,
};
