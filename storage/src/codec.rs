//! The node's one codec module: row images inside write-sets, replicated
//! events, and checkpoint records all become bytes here (bincode 2.0.1 via
//! serde), so the format can change in one place.
//!
//! Every top-level record starts with a 3-byte magic and a version byte;
//! decoding never panics and refuses trailing bytes.

use bincode::config::{self, Config};
use serde::{de::DeserializeOwned, Serialize};

use crate::value::Value;

/// Largest record accepted when decoding (checkpoints are chunked below it).
pub const MAX_RECORD: usize = 1 << 30;

fn cfg() -> impl Config {
    config::standard().with_limit::<MAX_RECORD>()
}

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("encoding failed: {0}")]
    Encode(String),
    #[error("not a {0} record (bad magic or version)")]
    BadHeader(&'static str),
    #[error("malformed {what}: {detail}")]
    Malformed { what: &'static str, detail: String },
}

/// Encodes `v` behind `magic` and `version`.
pub fn encode<T: Serialize>(magic: &[u8; 3], version: u8, v: &T) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(magic);
    out.push(version);
    let body =
        bincode::serde::encode_to_vec(v, cfg()).map_err(|e| CodecError::Encode(e.to_string()))?;
    out.extend_from_slice(&body);
    Ok(out)
}

/// Decodes a record written by `encode` with the same magic and version.
pub fn decode<T: DeserializeOwned>(
    magic: &[u8; 3],
    version: u8,
    what: &'static str,
    bytes: &[u8],
) -> Result<T, CodecError> {
    if bytes.len() < 4 || &bytes[..3] != magic || bytes[3] != version {
        return Err(CodecError::BadHeader(what));
    }
    let (v, used) = bincode::serde::decode_from_slice(&bytes[4..], cfg()).map_err(|e| {
        CodecError::Malformed {
            what,
            detail: e.to_string(),
        }
    })?;
    if used != bytes.len() - 4 {
        return Err(CodecError::Malformed {
            what,
            detail: "trailing bytes".into(),
        });
    }
    Ok(v)
}

/// A row image inside a write-set (no header: the write-set has one).
pub fn encode_row(row: &[Value]) -> Vec<u8> {
    // Encoding plain values cannot fail; an empty image would be refused
    // by decode_row on every node alike.
    bincode::serde::encode_to_vec(row, cfg()).unwrap_or_default()
}

pub fn decode_row(bytes: &[u8]) -> Result<Vec<Value>, CodecError> {
    let (v, used): (Vec<Value>, usize) =
        bincode::serde::decode_from_slice(bytes, cfg()).map_err(|e| CodecError::Malformed {
            what: "row image",
            detail: e.to_string(),
        })?;
    if used != bytes.len() {
        return Err(CodecError::Malformed {
            what: "row image",
            detail: "trailing bytes".into(),
        });
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_round_trip_and_garbage_is_an_error() {
        let row = vec![
            Value::Int(-5),
            Value::Str("é".into()),
            Value::Null,
            Value::Decimal("12.50".parse().unwrap()),
            Value::Bytes(vec![0, 1, 2]),
        ];
        let b = encode_row(&row);
        let back = decode_row(&b).unwrap();
        assert_eq!(back.len(), 5);
        assert!(crate::keycode::rows_equal(&row, &back));
        assert!(decode_row(&[0xff, 0xff, 0xff]).is_err());
        let mut t = b.clone();
        t.push(0);
        assert!(decode_row(&t).is_err());
        for n in 0..64u8 {
            let junk: Vec<u8> = (0..n).map(|i| i.wrapping_mul(37).wrapping_add(n)).collect();
            let _ = decode_row(&junk);
        }
    }
}
