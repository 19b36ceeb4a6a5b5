//! The one place where gcs turns values into bytes and back.
//!
//! Everything gcs writes to disk (log records, the vote, snapshot headers) or
//! sends to a peer (RPC frames) is encoded here with `bincode` 2.0.1 through
//! its serde API, using the *standard* configuration (little endian, varint
//! integers) and a decode limit, so the format can be swapped in one place.
//!
//! Decoding never panics: malformed input yields [`CodecError`], which the
//! callers turn into "close this connection" (network) or "corrupt record"
//! (log recovery).

use serde::de::DeserializeOwned;
use serde::Serialize;

/// Upper bound on how many bytes one decode may claim, so a forged length
/// prefix inside a frame cannot make us allocate without bound.
pub const DECODE_LIMIT: usize = 1 << 30;

fn config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<DECODE_LIMIT>()
}

/// Encoding or decoding failed.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// The value could not be encoded (a bug: all our types are encodable).
    #[error("encode failed: {0}")]
    Encode(String),
    /// The bytes are not a valid encoding of the expected type.
    #[error("malformed input: {0}")]
    Decode(String),
    /// The bytes decode, but leave trailing garbage.
    #[error("malformed input: {0} trailing bytes")]
    Trailing(usize),
}

/// Encode `value` into a fresh vector.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CodecError> {
    bincode::serde::encode_to_vec(value, config()).map_err(|e| CodecError::Encode(e.to_string()))
}

/// Encode `value`, appending to `out`.
pub fn encode_into<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> Result<(), CodecError> {
    let v = encode(value)?;
    out.extend_from_slice(&v);
    Ok(())
}

/// Decode exactly one `T` from `bytes`; trailing bytes are an error.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    let (v, n) = bincode::serde::decode_from_slice::<T, _>(bytes, config())
        .map_err(|e| CodecError::Decode(e.to_string()))?;
    if n != bytes.len() {
        return Err(CodecError::Trailing(bytes.len() - n));
    }
    Ok(v)
}

/// serde helpers for [`bytes::Bytes`] fields (`#[serde(with = "crate::codec::bytes_serde")]`),
/// encoded as a length-prefixed byte string.
pub mod bytes_serde {
    use bytes::Bytes;
    use serde::{Deserializer, Serializer};

    /// Serialize as a byte string.
    pub fn serialize<S: Serializer>(b: &Bytes, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(b)
    }

    struct V;
    impl<'de> serde::de::Visitor<'de> for V {
        type Value = Bytes;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a byte string")
        }
        fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Bytes, E> {
            Ok(Bytes::copy_from_slice(v))
        }
        fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Bytes, E> {
            Ok(Bytes::from(v))
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<Bytes, A::Error> {
            let mut out = Vec::with_capacity(a.size_hint().unwrap_or(0).min(4096));
            while let Some(b) = a.next_element::<u8>()? {
                out.push(b);
            }
            Ok(Bytes::from(out))
        }
    }

    /// Deserialize from a byte string.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Bytes, D::Error> {
        d.deserialize_byte_buf(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    struct T {
        a: u64,
        #[serde(with = "bytes_serde")]
        b: bytes::Bytes,
    }

    #[test]
    fn roundtrip_and_garbage() {
        let t = T {
            a: 7,
            b: bytes::Bytes::from_static(b"hello"),
        };
        let v = encode(&t).unwrap();
        assert_eq!(decode::<T>(&v).unwrap(), t);
        let mut w = v.clone();
        w.push(0);
        assert!(matches!(decode::<T>(&w), Err(CodecError::Trailing(1))));
        assert!(decode::<T>(&v[..v.len() - 1]).is_err());
        // A forged huge length must not allocate or panic.
        assert!(decode::<T>(&[7, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]).is_err());
    }
}
