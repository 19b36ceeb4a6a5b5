//! Digests, checksums and identifiers.

use super::Func;
use crate::error::SqlResult;
use trireme_storage::value::Value;

fn hex_lower(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub(super) fn eval(f: Func, vals: &[Value]) -> SqlResult<Option<Value>> {
    use Func::*;
    let bytes = || vals.first().and_then(Value::to_bytes).unwrap_or_default();
    Ok(Some(match f {
        Md5 => {
            use md5::Digest as _;
            Value::Str(hex_lower(&md5::Md5::digest(bytes())))
        }
        Sha1 => {
            use sha1::Digest as _;
            Value::Str(hex_lower(&sha1::Sha1::digest(bytes())))
        }
        // mysql_native_password's stored form: '*' and SHA1(SHA1(x)) in
        // upper-case hex; the empty password hashes to ''.
        Password => {
            use sha1::Digest as _;
            let b = bytes();
            if b.is_empty() {
                Value::Str(String::new())
            } else {
                let h = sha1::Sha1::digest(sha1::Sha1::digest(b));
                Value::Str(format!("*{}", hex_lower(&h).to_ascii_uppercase()))
            }
        }
        // MariaDB's format: the length (4 bytes, little-endian), then the
        // zlib stream; the empty string stays empty.
        Compress => {
            use std::io::Write as _;
            let b = bytes();
            if b.is_empty() {
                return Ok(Some(Value::Bytes(Vec::new())));
            }
            let mut out = (b.len() as u32).to_le_bytes().to_vec();
            let mut z = flate2::write::ZlibEncoder::new(&mut out, flate2::Compression::default());
            if z.write_all(&b)
                .and_then(|_| z.finish().map(|_| ()))
                .is_err()
            {
                return Ok(Some(Value::Null));
            }
            Value::Bytes(out)
        }
        Uncompress => {
            use std::io::Read as _;
            let b = bytes();
            if b.is_empty() {
                return Ok(Some(Value::Bytes(Vec::new())));
            }
            if b.len() <= 4 {
                return Ok(Some(Value::Null));
            }
            let want = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
            let mut out = Vec::with_capacity(want.min(1 << 24));
            // A corrupt or lying header reads as NULL, never more than it
            // claims (max_allowed_packet bounds it in MariaDB).
            let mut z = flate2::read::ZlibDecoder::new(&b[4..]).take(want as u64 + 1);
            match z.read_to_end(&mut out) {
                Ok(_) if out.len() == want => Value::Bytes(out),
                _ => Value::Null,
            }
        }
        UncompressedLength => {
            let b = bytes();
            if b.len() < 4 {
                Value::UInt(0)
            } else {
                Value::UInt(u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])))
            }
        }
        Sha2 => {
            use sha2::Digest as _;
            let b = bytes();
            Value::Str(match vals[1].to_i64() {
                Some(0 | 256) => hex_lower(&sha2::Sha256::digest(b)),
                Some(224) => hex_lower(&sha2::Sha224::digest(b)),
                Some(384) => hex_lower(&sha2::Sha384::digest(b)),
                Some(512) => hex_lower(&sha2::Sha512::digest(b)),
                _ => return Ok(Some(Value::Null)),
            })
        }
        RandomBytes => {
            let n = vals[0].to_i64().unwrap_or(0);
            if !(1..=1024).contains(&n) {
                return Err(crate::error::SqlError::value_out_of_range(
                    "length",
                    "random_bytes",
                ));
            }
            Value::Bytes((0..n).map(|_| rand::random::<u8>()).collect())
        }
        UuidShort => {
            use std::sync::atomic::{AtomicU64, Ordering};
            static NEXT: std::sync::OnceLock<AtomicU64> = std::sync::OnceLock::new();
            let next = NEXT.get_or_init(|| {
                let start = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                AtomicU64::new((start & 0xFFFF_FFFF) << 24)
            });
            Value::UInt(next.fetch_add(1, Ordering::Relaxed))
        }
        Crc32 => Value::UInt(u64::from(crc32fast::hash(&bytes()))),
        Uuid => {
            let b: [u8; 16] = rand::random();
            let h = hex_lower(&b);
            Value::Str(format!(
                "{}-{}-4{}-{}-{}",
                &h[0..8],
                &h[8..12],
                &h[13..16],
                &h[16..20],
                &h[20..32]
            ))
        }
        _ => return Ok(None),
    }))
}
