//! Authentication: stored credentials, the user-table callback, and the
//! challenge/response checks of `mysql_native_password` and
//! `caching_sha2_password`.
//!
//! # What is stored, what is sent
//!
//! | plugin | stored | client sends (salt = 20 random bytes) | server checks |
//! |---|---|---|---|
//! | `mysql_native_password` | `S = SHA1(SHA1(pw))` | `R = SHA1(pw) XOR SHA1(salt ‖ S)` | `SHA1(R XOR SHA1(salt ‖ S)) == S` |
//! | `caching_sha2_password` (fast path) | `S = SHA256(SHA256(pw))` | `R = SHA256(pw) XOR SHA256(S ‖ salt)` | `SHA256(R XOR SHA256(S ‖ salt)) == S` |
//!
//! The password itself is never stored nor needed: a [`Credentials`] holds
//! only the two double hashes. Real MySQL keeps the SHA-256 double hash in a
//! cache filled by a first "full" authentication; trireme's user table keeps
//! it permanently, so the fast path always applies when the hash is known.
//! When it is not (an account imported with only a native hash), the server
//! switches the client to `mysql_native_password`. So the slow "full
//! authentication" exchange (cleartext password over TLS or RSA) is never
//! needed: a failed fast-path check is a wrong password.
//!
//! Invariants: no login succeeds without a check against a [`Credentials`]
//! returned by the [`UserStore`]; an unknown user and a wrong password give
//! the same error (1045), so accounts cannot be probed.

use std::collections::HashMap;

use sha1::{Digest, Sha1};
use sha2::Sha256;

/// The authentication plugins this server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthPlugin {
    /// `mysql_native_password` (SHA-1 challenge/response).
    NativePassword,
    /// `caching_sha2_password` (SHA-256 fast path).
    CachingSha2Password,
}

impl AuthPlugin {
    /// The plugin name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            AuthPlugin::NativePassword => "mysql_native_password",
            AuthPlugin::CachingSha2Password => "caching_sha2_password",
        }
    }

    /// Looks a plugin up by its wire name.
    pub fn from_name(name: &[u8]) -> Option<Self> {
        match name {
            b"mysql_native_password" => Some(AuthPlugin::NativePassword),
            b"caching_sha2_password" => Some(AuthPlugin::CachingSha2Password),
            _ => None,
        }
    }
}

/// What the server stores for an account.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    empty: bool,
    native: Option<[u8; 20]>,
    sha2: Option<[u8; 32]>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("empty", &self.empty)
            .field("native", &self.native.is_some())
            .field("sha2", &self.sha2.is_some())
            .finish()
    }
}

impl Credentials {
    /// Derives both stored hashes from a password. An empty password means
    /// "no password": only an empty auth response is accepted.
    pub fn from_password(password: &str) -> Self {
        if password.is_empty() {
            return Self::no_password();
        }
        let p = password.as_bytes();
        Credentials {
            empty: false,
            native: Some(Sha1::digest(Sha1::digest(p)).into()),
            sha2: Some(Sha256::digest(Sha256::digest(p)).into()),
        }
    }

    /// An account without a password.
    pub fn no_password() -> Self {
        Credentials {
            empty: true,
            native: None,
            sha2: None,
        }
    }

    /// From a native hash `SHA1(SHA1(pw))` only (e.g. MySQL's
    /// `authentication_string` without the leading `*`). Clients asking for
    /// `caching_sha2_password` are switched to `mysql_native_password`.
    pub fn from_native_hash(hash: [u8; 20]) -> Self {
        Credentials {
            empty: false,
            native: Some(hash),
            sha2: None,
        }
    }

    /// Parses MySQL's `*6BB4837EB74329105EE4568DDA7DC67ED2CA2AD9` form.
    pub fn from_native_hex(s: &str) -> Option<Self> {
        let hex = s.strip_prefix('*').unwrap_or(s);
        if hex.len() != 40 {
            return None;
        }
        let mut out = [0u8; 20];
        for (i, o) in out.iter_mut().enumerate() {
            *o = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(Self::from_native_hash(out))
    }

    /// Stored SHA1(SHA1(pw)), if known.
    pub fn native_hash(&self) -> Option<[u8; 20]> {
        self.native
    }

    /// Stored SHA256(SHA256(pw)), if known.
    pub fn sha2_hash(&self) -> Option<[u8; 32]> {
        self.sha2
    }

    /// True for an account without a password.
    pub fn is_empty(&self) -> bool {
        self.empty
    }

    /// Whether `plugin`'s challenge can be checked against these credentials.
    pub fn supports(&self, plugin: AuthPlugin) -> bool {
        self.empty
            || match plugin {
                AuthPlugin::NativePassword => self.native.is_some(),
                AuthPlugin::CachingSha2Password => self.sha2.is_some(),
            }
    }

    /// Checks a challenge response for `plugin` against the salt.
    pub fn verify(&self, plugin: AuthPlugin, salt: &[u8], response: &[u8]) -> bool {
        if self.empty {
            return response.is_empty();
        }
        match plugin {
            AuthPlugin::NativePassword => self
                .native
                .is_some_and(|s| verify_native(&s, salt, response)),
            AuthPlugin::CachingSha2Password => {
                self.sha2.is_some_and(|s| verify_sha2(&s, salt, response))
            }
        }
    }
}

fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `SHA1(R XOR SHA1(salt ‖ S)) == S`.
fn verify_native(stored: &[u8; 20], salt: &[u8], response: &[u8]) -> bool {
    if response.len() != 20 {
        return false;
    }
    let mut h = Sha1::new();
    h.update(salt);
    h.update(stored);
    let mask: [u8; 20] = h.finalize().into();
    let mut stage1 = [0u8; 20];
    for i in 0..20 {
        stage1[i] = response[i] ^ mask[i];
    }
    let check: [u8; 20] = Sha1::digest(stage1).into();
    ct_eq(&check, stored)
}

/// `SHA256(R XOR SHA256(S ‖ salt)) == S`.
fn verify_sha2(stored: &[u8; 32], salt: &[u8], response: &[u8]) -> bool {
    if response.len() != 32 {
        return false;
    }
    let mut h = Sha256::new();
    h.update(stored);
    h.update(salt);
    let mask: [u8; 32] = h.finalize().into();
    let mut stage1 = [0u8; 32];
    for i in 0..32 {
        stage1[i] = response[i] ^ mask[i];
    }
    let check: [u8; 32] = Sha256::digest(stage1).into();
    ct_eq(&check, stored)
}

/// A fresh 20-byte salt of printable ASCII (no NUL, no `$`), as MySQL makes.
pub fn new_salt() -> [u8; 20] {
    use rand::Rng;
    let mut rng = rand::rng();
    let mut salt = [0u8; 20];
    for b in &mut salt {
        loop {
            let c: u8 = rng.random_range(0x21..0x7f);
            if c != b'$' {
                *b = c;
                break;
            }
        }
    }
    salt
}

/// The user table as the wire layer sees it.
///
/// Contract: return the stored credentials of `user` connecting from `host`
/// (the peer IP address as text, or `localhost`), or `None` if no such
/// account may log in from there. Called once per login attempt, on the
/// connection's task; it must not block for long.
pub trait UserStore: Send + Sync + 'static {
    /// Looks up an account.
    fn lookup(&self, user: &str, host: &str) -> Option<Credentials>;
}

impl<F> UserStore for F
where
    F: Fn(&str, &str) -> Option<Credentials> + Send + Sync + 'static,
{
    fn lookup(&self, user: &str, host: &str) -> Option<Credentials> {
        self(user, host)
    }
}

/// A fixed in-memory user table (any host).
#[derive(Debug, Clone, Default)]
pub struct StaticUsers {
    users: HashMap<String, Credentials>,
}

impl StaticUsers {
    /// An empty table: nobody can log in.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) an account with a password (empty = none).
    pub fn with_user(mut self, user: &str, password: &str) -> Self {
        self.users
            .insert(user.to_string(), Credentials::from_password(password));
        self
    }

    /// Adds (or replaces) an account with given credentials.
    pub fn with_credentials(mut self, user: &str, creds: Credentials) -> Self {
        self.users.insert(user.to_string(), creds);
        self
    }
}

impl UserStore for StaticUsers {
    fn lookup(&self, user: &str, _host: &str) -> Option<Credentials> {
        self.users.get(user).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mysql_common::scramble::{scramble_native, scramble_sha256};

    #[test]
    fn native_matches_client_scramble() {
        let salt = new_salt();
        let c = Credentials::from_password("secret");
        let r = scramble_native(&salt, b"secret").unwrap();
        assert!(c.verify(AuthPlugin::NativePassword, &salt, &r));
        let wrong = scramble_native(&salt, b"Secret").unwrap();
        assert!(!c.verify(AuthPlugin::NativePassword, &salt, &wrong));
        assert!(!c.verify(AuthPlugin::NativePassword, &salt, &[]));
    }

    #[test]
    fn sha2_fast_path_matches_client_scramble() {
        let salt = new_salt();
        let c = Credentials::from_password("pässword");
        let r = scramble_sha256(&salt, "pässword".as_bytes()).unwrap();
        assert!(c.verify(AuthPlugin::CachingSha2Password, &salt, &r));
        assert!(!c.verify(AuthPlugin::CachingSha2Password, &salt, &r[..31]));
    }

    #[test]
    fn empty_password_accepts_only_empty_response() {
        let c = Credentials::no_password();
        assert!(c.verify(AuthPlugin::NativePassword, b"x", &[]));
        assert!(!c.verify(AuthPlugin::NativePassword, b"x", &[1; 20]));
    }

    #[test]
    fn native_hex_form() {
        // SHA1(SHA1("password")) as MySQL prints it.
        let c = Credentials::from_native_hex("*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19").unwrap();
        assert_eq!(c, Credentials::from_native_hash(c.native_hash().unwrap()));
        assert_eq!(
            c.native_hash(),
            Credentials::from_password("password").native_hash()
        );
        assert!(!c.supports(AuthPlugin::CachingSha2Password));
    }

    #[test]
    fn salt_is_printable() {
        let s = new_salt();
        assert!(s.iter().all(|&b| (0x21..0x7f).contains(&b) && b != b'$'));
    }
}
