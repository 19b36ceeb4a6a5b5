//! The handshake in front of a state stream on a node's `backup_listen`
//! port: pure encoding and checks, no I/O (`super::serve` and
//! `super::client` do the reading and writing).
//!
//! ```text
//! node   -> client : "TRBK" | version (1 byte, 1) | salt (20 bytes)
//! client -> node   : kind (1 byte: 1 = backup, 2 = SST) | n (1 byte) | response (n bytes)
//!                    | min seqno (u64 LE: the copy must be at or above it; 0 for a backup)
//! node   -> client : 0 (accepted; the stream of `trireme_storage::lsm::export` follows)
//!                  | 1 | message length (u16 LE) | message (UTF-8)   (refused; closed)
//! ```
//!
//! The response is `mysql_native_password`'s over the node's root password
//! (`SHA1(pw) XOR SHA1(salt ‖ SHA1(SHA1(pw)))`; empty when root has no
//! password), checked by the same code that checks a MySQL login
//! (`trireme_wire::auth`). The password never crosses the wire, but the
//! stream that follows is NOT encrypted: run it on a trusted network.

pub const MAGIC: &[u8; 4] = b"TRBK";
pub const VERSION: u8 = 1;
pub const GREETING_LEN: usize = 4 + 1 + 20;

/// What the client asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A copy of the node's engine at its horizon (`trireme backup`).
    Backup,
    /// The same copy for a joiner (`crate::sst`).
    Sst,
}

impl Kind {
    fn code(self) -> u8 {
        match self {
            Kind::Backup => 1,
            Kind::Sst => 2,
        }
    }

    fn from_code(c: u8) -> Option<Kind> {
        match c {
            1 => Some(Kind::Backup),
            2 => Some(Kind::Sst),
            _ => None,
        }
    }
}

pub fn greeting(salt: &[u8; 20]) -> [u8; GREETING_LEN] {
    let mut g = [0u8; GREETING_LEN];
    g[..4].copy_from_slice(MAGIC);
    g[4] = VERSION;
    g[5..].copy_from_slice(salt);
    g
}

/// The salt of a node's greeting; Err says why it is not one.
pub fn parse_greeting(g: &[u8; GREETING_LEN]) -> Result<[u8; 20], String> {
    if &g[..4] != MAGIC {
        return Err(
            "the address does not answer as a trireme backup listener ([storage] backup_listen)"
                .into(),
        );
    }
    if g[4] != VERSION {
        return Err(format!(
            "the node speaks backup protocol version {}; this trireme speaks version {VERSION}",
            g[4]
        ));
    }
    let mut salt = [0u8; 20];
    salt.copy_from_slice(&g[5..]);
    Ok(salt)
}

/// `mysql_native_password`'s response to `salt` for `password` (empty
/// for no password), as the wire crate's client answers a server.
pub fn scramble(password: &str, salt: &[u8]) -> Vec<u8> {
    mysql_common::scramble::scramble_native(salt, password.as_bytes())
        .map_or_else(Vec::new, |s| s.to_vec())
}

pub fn request(kind: Kind, response: &[u8], min_seqno: u64) -> Vec<u8> {
    let mut out = vec![kind.code(), response.len().min(255) as u8];
    out.extend_from_slice(&response[..response.len().min(255)]);
    out.extend_from_slice(&min_seqno.to_le_bytes());
    out
}

/// The fixed part of a request: its kind and the response length.
pub fn parse_request_head(head: [u8; 2]) -> Result<(Kind, usize), String> {
    let kind =
        Kind::from_code(head[0]).ok_or_else(|| format!("unknown request kind {}", head[0]))?;
    Ok((kind, head[1] as usize))
}

pub const ACCEPTED: u8 = 0;
pub const REFUSED: u8 = 1;

pub fn refusal(message: &str) -> Vec<u8> {
    let m = &message.as_bytes()[..message.len().min(u16::MAX as usize)];
    let mut out = vec![REFUSED];
    out.extend_from_slice(&(m.len() as u16).to_le_bytes());
    out.extend_from_slice(m);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use trireme_wire::auth::{AuthPlugin, Credentials};

    #[test]
    fn the_response_is_checked_like_a_mysql_login() {
        let salt = trireme_wire::auth::new_salt();
        let root = Credentials::from_password("s3cret");
        let ok = scramble("s3cret", &salt);
        assert!(root.verify(AuthPlugin::NativePassword, &salt, &ok));
        let wrong = scramble("guess", &salt);
        assert!(!root.verify(AuthPlugin::NativePassword, &salt, &wrong));
        // An answer to another salt does not replay.
        let other = trireme_wire::auth::new_salt();
        assert!(!root.verify(AuthPlugin::NativePassword, &other, &ok));
        // No password: an empty response, and only that.
        let none = Credentials::from_password("");
        assert!(none.verify(AuthPlugin::NativePassword, &salt, &scramble("", &salt)));
        assert!(!none.verify(AuthPlugin::NativePassword, &salt, &ok));
    }

    #[test]
    fn greetings_and_requests_round_trip_and_refuse_strangers() {
        let salt = [7u8; 20];
        assert_eq!(parse_greeting(&greeting(&salt)), Ok(salt));
        let mut g = greeting(&salt);
        g[4] = 9;
        assert!(parse_greeting(&g).unwrap_err().contains("version 9"));
        let mut g = greeting(&salt);
        g[..4].copy_from_slice(b"HTTP");
        assert!(parse_greeting(&g).unwrap_err().contains("backup_listen"));
        let r = request(Kind::Backup, &[1, 2, 3], 0);
        assert_eq!(parse_request_head([r[0], r[1]]), Ok((Kind::Backup, 3)));
        let r = request(Kind::Sst, &[], 77);
        assert_eq!(parse_request_head([r[0], r[1]]), Ok((Kind::Sst, 0)));
        assert_eq!(r[2..], 77u64.to_le_bytes());
        assert!(parse_request_head([42, 0]).is_err());
        let f = refusal("no");
        assert_eq!(f, vec![REFUSED, 2, 0, b'n', b'o']);
    }
}
