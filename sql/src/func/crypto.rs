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
