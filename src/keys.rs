//! Where a client's masking keys come from (RFC 6455 section 5.3), and the
//! nonce of its opening handshake (section 4.1).
//!
//! Section 5.3: "The masking key needs to be unpredictable; thus, the masking
//! key MUST be derived from a strong source of entropy". The crate never
//! makes one up: a client takes its keys either from the operating system
//! (`OsKeys`, feature `getrandom`, which `std` turns on) or from a
//! [`KeySource`] the caller supplies. Without `getrandom` there is no
//! default, so a client cannot be built without naming its source.

/// A source of masking keys, each 4 unpredictable bytes.
///
/// Implement it for a hardware random number generator, or for a
/// cryptographically secure generator seeded from one; never for a counter,
/// a constant or a generator seeded with a fixed value. A closure
/// `FnMut() -> [u8; 4]` is one already.
///
/// A source that cannot give entropy has no safe way on: panic rather than
/// return a weak key.
///
/// ```
/// use core::time::Duration;
/// use rfc6455::keys::KeySource;
/// use rfc6455::{Config, Connection, Message};
///
/// /// Stands for a microcontroller's TRNG peripheral.
/// struct Trng {
///     state: u32,
/// }
///
/// impl Trng {
///     fn read(&mut self) -> u32 {
///         // A real peripheral gives true random words; this stand-in only
///         // keeps the example self-contained.
///         self.state ^= self.state << 13;
///         self.state ^= self.state >> 17;
///         self.state ^= self.state << 5;
///         self.state
///     }
/// }
///
/// impl KeySource for Trng {
///     fn next_key(&mut self) -> [u8; 4] {
///         self.read().to_ne_bytes()
///     }
/// }
///
/// let mut client = Connection::<Duration>::client(Config::default(), Trng { state: 0x2545_f491 });
/// client.send(Message::text("hello"))?;
/// // 2 bytes of header, 4 of key, 5 of masked payload.
/// assert_eq!(client.transmit().len(), 11);
/// # Ok::<(), rfc6455::SendError>(())
/// ```
///
/// The constructors that take keys from the operating system exist only with
/// the feature `getrandom` (in `std`). Without it this does not compile
/// (`cargo test --no-default-features` checks that it does not):
///
#[cfg_attr(feature = "getrandom", doc = "```")]
#[cfg_attr(not(feature = "getrandom"), doc = "```compile_fail")]
/// use core::time::Duration;
/// use rfc6455::{Config, Connection, Role};
///
/// let client = Connection::<Duration>::with_timestamp(Role::Client, Config::default());
/// ```
pub trait KeySource {
    /// A fresh key for the next frame.
    fn next_key(&mut self) -> [u8; 4];
}

impl<F: FnMut() -> [u8; 4]> KeySource for F {
    fn next_key(&mut self) -> [u8; 4] {
        self()
    }
}

/// Fills `out` from `source`, four bytes at a time: the 16-byte nonce of a
/// client's handshake.
pub(crate) fn fill(source: &mut (impl KeySource + ?Sized), out: &mut [u8]) {
    for chunk in out.chunks_mut(4) {
        let key = source.next_key();
        chunk.copy_from_slice(&key[..chunk.len()]);
    }
}

/// Masking keys from the operating system's secure source (`getrandom`),
/// drawn 7 at a time so a client does not make a system call per frame (7
/// keys and a count fit in 32 bytes, the size of a connection's key source
/// in any case).
///
/// What [`Connection::new`](crate::Connection::new) and
/// [`Connection::with_timestamp`](crate::Connection::with_timestamp) use for
/// a client. **Panics** if the operating system cannot give entropy: there is
/// no safe way on, and it is not an input the peer controls.
///
/// ```
/// use rfc6455::keys::{KeySource, OsKeys};
///
/// let mut keys = OsKeys::new();
/// let drawn: Vec<[u8; 4]> = (0..16).map(|_| keys.next_key()).collect();
/// // 128 random bits: not all equal, short of a 2^-120 chance.
/// assert!(drawn.iter().any(|key| *key != drawn[0]));
/// ```
#[cfg(feature = "getrandom")]
#[cfg_attr(docsrs, doc(cfg(feature = "getrandom")))]
#[derive(Debug)]
pub struct OsKeys {
    pool: [u8; 28],
    used: u8,
}

#[cfg(feature = "getrandom")]
impl OsKeys {
    /// A source that asks the operating system when it first needs a key.
    pub fn new() -> Self {
        OsKeys {
            pool: [0; 28],
            used: 28,
        }
    }
}

#[cfg(feature = "getrandom")]
impl Default for OsKeys {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(feature = "getrandom")]
impl KeySource for OsKeys {
    fn next_key(&mut self) -> [u8; 4] {
        if usize::from(self.used) == self.pool.len() {
            getrandom::fill(&mut self.pool).expect("the operating system's random source failed");
            self.used = 0;
        }
        let at = usize::from(self.used);
        let key = [
            self.pool[at],
            self.pool[at + 1],
            self.pool[at + 2],
            self.pool[at + 3],
        ];
        self.used += 4;
        key
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_takes_whole_keys_in_order() {
        let mut next = 0u8;
        let mut counter = || {
            next += 1;
            [next; 4]
        };
        let mut out = [0u8; 10];
        fill(&mut counter, &mut out);
        assert_eq!(out, [1, 1, 1, 1, 2, 2, 2, 2, 3, 3]);
    }

    #[cfg(feature = "getrandom")]
    #[test]
    fn os_keys_refill_the_pool_with_fresh_bytes() {
        let mut keys = OsKeys::new();
        let first: Vec<[u8; 4]> = (0..8).map(|_| keys.next_key()).collect();
        let second: Vec<[u8; 4]> = (0..8).map(|_| keys.next_key()).collect();
        assert_ne!(first, second, "the second pool repeats the first");
    }
}
