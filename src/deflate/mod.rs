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
//! # Memory
//!
//! Nothing is allocated until the first compressed message in each
//! direction. From then on a connection holds its compressor and its
//! inflater until it is dropped (they are reset, not rebuilt, when a side does
//! not take over its context). Measured with zlib-rs 0.6 through flate2 1.1
//! (`cargo test --test deflate_memory -- --nocapture`):
//!
//! | agreed window | compressor (level 6) | inflater | both |
//! |---|---|---|---|
//! | 15 bits (default) | 373 KiB | 46 KiB | 419 KiB |
//! | 9 bits (smallest; 8 is served as 9) | 247 KiB | 46 KiB | 293 KiB |
//!
//! The compressor dominates: zlib's hash tables and pending buffer (256 KiB
//! at flate2's fixed memory level) do not shrink with the window, and the
//! inflater's state does not either. So a server that compresses spends
//! about 420 KiB per connection that has sent and received a compressed
//! message, which is why compression is off until [`Config::deflate`] is
//! set, as in Node's `ws`, and why messages under
//! [`DeflateConfig::min_size`] never wake the compressor.
//!
//! A server that agrees `server_no_context_takeover` and sends the same
//! message to many connections can do without a compressor per connection
//! for it: a [`PreparedMessage`](crate::PreparedMessage) is compressed once
//! per window size, by a compressor of its own that is dropped when done,
//! and every such connection queues the same compressed frames.
//!
//! [RFC 7692]: https://www.rfc-editor.org/rfc/rfc7692
//! [`ClientRequest::deflate`]: crate::handshake::ClientRequest::deflate
//! [`Response::deflate`]: crate::handshake::Response::deflate
//! [`UpgradeRequest::negotiate_deflate`]: crate::handshake::UpgradeRequest::negotiate_deflate
//! [`Accept::deflate`]: crate::handshake::Accept::deflate
//! [`Config::deflate`]: crate::Config::deflate

mod codec;
mod negotiate;

pub use codec::{CompressError, Deflater, InflateError, Inflater};
pub use negotiate::{
    DeflateConfig, DeflateParams, EXTENSION_NAME, NegotiationError, Params, accept_offer,
    check_answer, offer,
};
