//! The tokio adapter.
