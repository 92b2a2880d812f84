//! The payload sizes every bench measures, from the issue on speed: chat and
//! control frames, then bulk transfers. Shared by the crate's benches and the
//! peer comparison (included by path, like `limit.rs`).

/// (bytes, label) pairs, smallest first.
pub const SIZES: &[(usize, &str)] = &[
    (16, "16B"),
    (125, "125B"),
    (1024, "1KiB"),
    (4 * 1024, "4KiB"),
    (64 * 1024, "64KiB"),
    (1024 * 1024, "1MiB"),
    (16 * 1024 * 1024, "16MiB"),
];
