//! Sign-in tokens: `NAME.HEX(HMAC-SHA256(key, NAME))`, with a key drawn when
//! the process starts. See the crate-level docs of the example for what the
//! token guards and what it does not.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::hub::valid_name;

type HmacSha256 = Hmac<Sha256>;

/// Issues and checks tokens.
pub struct Signer {
    key: [u8; 32],
}

impl Signer {
    /// A signer with a fresh random key: tokens of an earlier process are
    /// refused.
    pub fn new() -> Signer {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).expect("the operating system gives random bytes");
        Signer { key }
    }

    /// A signer with a given key: with `--redis`, every server signs with
    /// the key the first one put in Redis, so a token issued by one server
    /// is taken by the others.
    pub fn with_key(key: [u8; 32]) -> Signer {
        Signer { key }
    }

    pub fn key(&self) -> [u8; 32] {
        self.key
    }

    /// The key in hex, as it is kept in Redis.
    pub fn hex_key(&self) -> String {
        self.key.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn mac(&self) -> HmacSha256 {
        HmacSha256::new_from_slice(&self.key).expect("HMAC takes a key of any length")
    }

    /// The token for `name`.
    pub fn token(&self, name: &str) -> String {
        let mut mac = self.mac();
        mac.update(name.as_bytes());
        let tag: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("{name}.{tag}")
    }

    /// The name a token was issued for, if this process issued it. The tag
    /// is compared in constant time (`verify_slice`).
    pub fn verify(&self, token: &str) -> Option<String> {
        let (name, hex) = token.rsplit_once('.')?;
        if !valid_name(name, 20) || hex.len() != 64 {
            return None;
        }
        let mut tag = [0u8; 32];
        for (i, byte) in tag.iter_mut().enumerate() {
            *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        let mut mac = self.mac();
        mac.update(name.as_bytes());
        mac.verify_slice(&tag).ok()?;
        Some(name.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_verifies_and_a_forged_one_does_not() {
        let signer = Signer::new();
        let token = signer.token("alice");
        assert_eq!(signer.verify(&token).as_deref(), Some("alice"));
        let forged = token.replacen("alice", "bob", 1);
        assert_eq!(signer.verify(&forged), None);
        assert_eq!(signer.verify("alice.zz"), None);
        assert_eq!(Signer::new().verify(&token), None, "another process's key");
    }
}
