//! The opening handshake (RFC 6455 section 4).
