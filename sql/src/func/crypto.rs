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
