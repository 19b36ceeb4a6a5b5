//! The one place where certification data becomes bytes and back.
//!
//! Everything is `bincode` 2.0.1 through serde, standard configuration
//! (little-endian, varint integers), behind a 4-byte header:
//!
//! | bytes | meaning |
//! |---|---|
//! | 0..3 | magic: `TWS` for a write-set, `TCS` for a certification snapshot |
//! | 3 | format version, currently [`FORMAT_VERSION`] (1) |
//! | 4.. | bincode body of [`WriteSet`] / [`CertSnapshot`], fields in declaration order |
//!
//! Invariants:
//!
//! * `decode(encode(x)) == x` for every value `encode` accepts.
//! * Decoding never panics and never allocates much more than the input:
//!   any input, however malformed, yields a [`DecodeError`]. Inputs longer
//!   than [`MAX_WRITE_SET_BYTES`] / [`MAX_SNAPSHOT_BYTES`] are refused before
//!   parsing, and every length prefix inside is checked against a limit
//!   chosen from the input's own size (at most 16x the input, see
//!   `decode_body`), so a forged length cannot reserve gigabytes.
//! * The whole input must be consumed: trailing bytes are an error, so a
//!   value has exactly one encoding.
//! * A write-set with flag bits this version does not know is refused
//!   ([`DecodeError::UnknownFlags`]): every node must interpret a write-set
//!   the same way.
//!
//! Worked example: `WriteSet { source: 1, trx_id: 7, last_seen_seqno: 41,
//! flags: 0, keys: [Key { table: "d.t", pk: [1], kind: Exclusive }], ops: [] }`
//! encodes as `54 57 53 01` (header), then `01 07 29 00` (varints), `01`
//! (one key), `03 64 2e 74` (`"d.t"`), `01 01` (pk), `03` (EXCLUSIVE), `00`
//! (no ops): 17 bytes.

use bincode::config::{self, Config};
use serde::{de::DeserializeOwned, Serialize};

use crate::index::CertSnapshot;
use crate::writeset::WriteSet;

/// Version byte written after the magic.
pub const FORMAT_VERSION: u8 = 1;

/// Largest encoded write-set accepted (header included): 256 MiB.
pub const MAX_WRITE_SET_BYTES: usize = 256 << 20;

/// Largest encoded certification snapshot accepted: 4 GiB (or the address
/// space, on 32-bit targets).
pub const MAX_SNAPSHOT_BYTES: usize = if usize::BITS >= 64 {
    4 << 30
} else {
    usize::MAX
};

const WS_MAGIC: [u8; 3] = *b"TWS";
const SNAP_MAGIC: [u8; 3] = *b"TCS";
const HEADER_LEN: usize = 4;

/// Why bytes could not be decoded. Every variant means "this input is not a
/// valid encoding": the caller should drop it (and, for a write-set that came
/// through the ordered log, treat it the same way on every node).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The input is longer than the format allows.
    #[error("encoded {what} is {len} bytes, more than the limit of {max}")]
    TooLarge {
        /// What was being decoded.
        what: &'static str,
        /// Input length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The input does not start with the expected magic bytes.
    #[error("not an encoded {what} (bad magic)")]
    BadMagic {
        /// What was being decoded.
        what: &'static str,
    },
    /// The format version is not one this build can read.
    #[error("unsupported {what} format version {version}")]
    UnsupportedVersion {
        /// What was being decoded.
        what: &'static str,
        /// The version byte found.
        version: u8,
    },
    /// The body is not a valid bincode encoding of the type (truncated,
    /// invalid enum tag, invalid UTF-8, length over the limit, ...).
    #[error("malformed {what}: {detail}")]
    Malformed {
        /// What was being decoded.
        what: &'static str,
        /// bincode's description.
        detail: String,
    },
    /// A valid value was followed by extra bytes.
    #[error("{extra} trailing bytes after the encoded {what}")]
    TrailingBytes {
        /// What was being decoded.
        what: &'static str,
        /// Number of unread bytes.
        extra: usize,
    },
    /// The write-set sets flag bits this version does not know.
    #[error("write-set has unknown flag bits {0:#x}")]
    UnknownFlags(u32),
}

/// Why a value could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// The encoding would exceed the format's size limit.
    #[error("encoded {what} would be {len} bytes, more than the limit of {max}")]
    TooLarge {
        /// What was being encoded.
        what: &'static str,
        /// Encoded length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The value has flag bits this version does not know.
    #[error("write-set has unknown flag bits {0:#x}")]
    UnknownFlags(u32),
    /// bincode refused the value (should not happen for these types).
    #[error("cannot encode {what}: {detail}")]
    Bincode {
        /// What was being encoded.
        what: &'static str,
        /// bincode's description.
        detail: String,
    },
}

/// Encodes a write-set.
pub fn encode_write_set(ws: &WriteSet) -> Result<Vec<u8>, EncodeError> {
    let unknown = ws.flags & !WriteSet::KNOWN_FLAGS;
    if unknown != 0 {
        return Err(EncodeError::UnknownFlags(unknown));
    }
    encode_with_header(ws, WS_MAGIC, "write-set", MAX_WRITE_SET_BYTES)
}

/// Decodes a write-set; never panics, see the module invariants.
pub fn decode_write_set(bytes: &[u8]) -> Result<WriteSet, DecodeError> {
    let ws: WriteSet = decode_with_header(bytes, WS_MAGIC, "write-set", MAX_WRITE_SET_BYTES)?;
    let unknown = ws.flags & !WriteSet::KNOWN_FLAGS;
    if unknown != 0 {
        return Err(DecodeError::UnknownFlags(unknown));
    }
    Ok(ws)
}

/// Encodes a certification snapshot ([`crate::Certifier::snapshot`]).
/// The encoding is canonical: equal snapshots give equal bytes.
pub fn encode_snapshot(snapshot: &CertSnapshot) -> Result<Vec<u8>, EncodeError> {
    encode_with_header(snapshot, SNAP_MAGIC, "snapshot", MAX_SNAPSHOT_BYTES)
}

/// Decodes a certification snapshot. This checks the encoding only; the
/// index invariants are checked by [`crate::Certifier::restore`].
pub fn decode_snapshot(bytes: &[u8]) -> Result<CertSnapshot, DecodeError> {
    decode_with_header(bytes, SNAP_MAGIC, "snapshot", MAX_SNAPSHOT_BYTES)
}

fn encode_with_header<T: Serialize>(
    value: &T,
    magic: [u8; 3],
    what: &'static str,
    max: usize,
) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(&magic);
    out.push(FORMAT_VERSION);
    bincode::serde::encode_into_std_write(value, &mut out, config::standard()).map_err(|e| {
        EncodeError::Bincode {
            what,
            detail: e.to_string(),
        }
    })?;
    if out.len() > max {
        return Err(EncodeError::TooLarge {
            what,
            len: out.len(),
            max,
        });
    }
    Ok(out)
}

fn decode_with_header<T: DeserializeOwned>(
    bytes: &[u8],
    magic: [u8; 3],
    what: &'static str,
    max: usize,
) -> Result<T, DecodeError> {
    if bytes.len() > max {
        return Err(DecodeError::TooLarge {
            what,
            len: bytes.len(),
            max,
        });
    }
    if bytes.len() < HEADER_LEN || bytes[..3] != magic {
        return Err(DecodeError::BadMagic { what });
    }
    if bytes[3] != FORMAT_VERSION {
        return Err(DecodeError::UnsupportedVersion {
            what,
            version: bytes[3],
        });
    }
    let body = &bytes[HEADER_LEN..];
    let (value, read) = decode_body::<T>(body).map_err(|e| DecodeError::Malformed {
        what,
        detail: e.to_string(),
    })?;
    if read != body.len() {
        return Err(DecodeError::TrailingBytes {
            what,
            extra: body.len() - read,
        });
    }
    Ok(value)
}

/// Decodes with a byte limit picked from the input size: the smallest of
/// 64 KiB, 1 MiB, 16 MiB, 256 MiB, 4 GiB, unlimited that is at least 16
/// times the input plus 64 KiB. bincode counts what it allocates (a
/// container's length times its elements' in-memory size) against the
/// limit, and a key of a few encoded bytes takes tens in memory, so the
/// limit must sit well above the input: a limit near the input length
/// refused genuine snapshots just under a tier (`LimitExceeded`), and a
/// joiner could not start. A forged length prefix still cannot make
/// bincode reserve more than about 256 times the input.
fn decode_body<T: DeserializeOwned>(
    body: &[u8],
) -> Result<(T, usize), bincode::error::DecodeError> {
    fn go<T: DeserializeOwned, C: Config>(
        body: &[u8],
        c: C,
    ) -> Result<(T, usize), bincode::error::DecodeError> {
        bincode::serde::decode_from_slice(body, c)
    }
    let c = config::standard();
    let n = (body.len() as u64)
        .saturating_mul(16)
        .saturating_add(1 << 16);
    if n <= 1 << 16 {
        go(body, c.with_limit::<{ 1 << 16 }>())
    } else if n <= 1 << 20 {
        go(body, c.with_limit::<{ 1 << 20 }>())
    } else if n <= 1 << 24 {
        go(body, c.with_limit::<{ 1 << 24 }>())
    } else if n <= 1 << 28 {
        go(body, c.with_limit::<{ 1 << 28 }>())
    } else if n <= 1 << 32 {
        go(body, c.with_limit::<{ 1 << 32 }>())
    } else {
        go(body, c)
    }
}

/// Serde adapter for `Vec<u8>` fields: encodes as one byte string (length +
/// bytes) instead of a sequence of `u8` values, which bincode then reads in
/// one bounded copy. Used as `#[serde(with = "crate::codec::bytes")]`.
pub mod bytes {
    use serde::de::{Deserializer, Error, SeqAccess, Visitor};
    use serde::Serializer;
    use std::fmt;

    /// Serializes a byte vector as a byte string.
    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(v)
    }

    /// Deserializes a byte string (or, for self-describing formats, a
    /// sequence of bytes) into a vector.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        struct BytesVisitor;
        impl<'de> Visitor<'de> for BytesVisitor {
            type Value = Vec<u8>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a byte string")
            }
            fn visit_bytes<E: Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
                Ok(v.to_vec())
            }
            fn visit_byte_buf<E: Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
                Ok(v)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
                while let Some(b) = seq.next_element::<u8>()? {
                    out.push(b);
                }
                Ok(out)
            }
        }
        d.deserialize_byte_buf(BytesVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::writeset::{Key, KeyKind};

    #[test]
    fn worked_example_matches_module_docs() {
        let ws = WriteSet {
            source: 1,
            trx_id: 7,
            last_seen_seqno: 41,
            flags: 0,
            keys: vec![Key::row("d.t", vec![1], KeyKind::Exclusive)],
            ops: vec![],
        };
        let bytes = encode_write_set(&ws).unwrap();
        assert_eq!(
            bytes,
            vec![
                0x54, 0x57, 0x53, 0x01, 0x01, 0x07, 0x29, 0x00, 0x01, 0x03, 0x64, 0x2e, 0x74, 0x01,
                0x01, 0x03, 0x00
            ]
        );
        assert_eq!(decode_write_set(&bytes).unwrap(), ws);
    }

    #[test]
    fn header_errors() {
        assert_eq!(
            decode_write_set(b"TW"),
            Err(DecodeError::BadMagic { what: "write-set" })
        );
        assert_eq!(
            decode_write_set(b"XWS\x01\x00"),
            Err(DecodeError::BadMagic { what: "write-set" })
        );
        assert_eq!(
            decode_write_set(b"TWS\x02\x00"),
            Err(DecodeError::UnsupportedVersion {
                what: "write-set",
                version: 2
            })
        );
        // A snapshot is not a write-set.
        assert!(matches!(
            decode_write_set(b"TCS\x01"),
            Err(DecodeError::BadMagic { .. })
        ));
    }

    #[test]
    fn trailing_bytes_and_truncation() {
        let ws = WriteSet {
            keys: vec![Key::table("a.b", KeyKind::Shared)],
            ..WriteSet::default()
        };
        let mut bytes = encode_write_set(&ws).unwrap();
        bytes.push(0);
        assert_eq!(
            decode_write_set(&bytes),
            Err(DecodeError::TrailingBytes {
                what: "write-set",
                extra: 1
            })
        );
        bytes.truncate(bytes.len() - 3);
        assert!(matches!(
            decode_write_set(&bytes),
            Err(DecodeError::Malformed { .. })
        ));
    }

    #[test]
    fn unknown_flags_are_refused_both_ways() {
        let ws = WriteSet {
            flags: 0x80,
            ..WriteSet::default()
        };
        assert_eq!(encode_write_set(&ws), Err(EncodeError::UnknownFlags(0x80)));
        // Forge the bytes by hand: header, source, trx, last_seen, flags=0x80 (varint: 0x80 < 251).
        let bytes = [b'T', b'W', b'S', 1, 0, 0, 0, 0x80, 0, 0];
        assert_eq!(
            decode_write_set(&bytes),
            Err(DecodeError::UnknownFlags(0x80))
        );
    }

    #[test]
    fn many_small_keys_just_under_a_limit_tier_decode() {
        // Each key is about 7 bytes encoded but far more in memory.
        for target in [60_000usize, 65_000, 1_040_000] {
            let mut keys = Vec::new();
            let mut ws = WriteSet::default();
            let mut i = 0u32;
            let bytes = loop {
                keys.push(Key::row(
                    "d.t",
                    i.to_be_bytes().to_vec(),
                    KeyKind::Exclusive,
                ));
                i += 1;
                if keys.len() % 512 == 0 {
                    ws.keys = keys.clone();
                    let b = encode_write_set(&ws).unwrap();
                    if b.len() >= target {
                        break b;
                    }
                }
            };
            assert_eq!(
                decode_write_set(&bytes).unwrap(),
                ws,
                "{} bytes",
                bytes.len()
            );
        }
    }

    #[test]
    fn oversize_input_is_refused_before_parsing() {
        let big = vec![0u8; MAX_WRITE_SET_BYTES + 1];
        assert!(matches!(
            decode_write_set(&big),
            Err(DecodeError::TooLarge { .. })
        ));
    }

    #[test]
    fn forged_huge_length_prefix_is_an_error() {
        // One key whose table name claims u64::MAX - 1 bytes.
        let mut bytes = vec![b'T', b'W', b'S', 1, 0, 0, 0, 0, 1, 0xfd];
        bytes.extend_from_slice(&(u64::MAX - 1).to_le_bytes());
        assert!(matches!(
            decode_write_set(&bytes),
            Err(DecodeError::Malformed { .. })
        ));
        // A pk claiming 1 GiB.
        let mut bytes = vec![b'T', b'W', b'S', 1, 0, 0, 0, 0, 1, 1, b'x', 0xfc];
        bytes.extend_from_slice(&(1u32 << 30).to_le_bytes());
        assert!(matches!(
            decode_write_set(&bytes),
            Err(DecodeError::Malformed { .. })
        ));
    }
}
