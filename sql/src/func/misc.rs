//! Flow control and miscellaneous functions.

use super::{text, Func};
use crate::error::SqlResult;
use trireme_storage::value::{compare, Value};

/// The functions that see NULL arguments themselves.
pub(super) fn eval_nullable(f: Func, vals: &[Value]) -> SqlResult<Option<Value>> {
    use Func::*;
    Ok(Some(match f {
        IsNull => Value::from_bool(vals[0].is_null()),
        IntervalIndex => {
            // INTERVAL(N, N1, N2, ...): how many of N1.. are <= N (they are
            // in increasing order); -1 when N is NULL.
            if vals[0].is_null() {
                return Ok(Some(Value::Int(-1)));
            }
            let n = vals[1..]
                .iter()
                .take_while(|v| {
                    v.is_null()
                        || compare(v, &vals[0]).is_some_and(|o| o != std::cmp::Ordering::Greater)
                })
                .count();
            Value::Int(n as i64)
        }
        IsIpv4 => Value::from_bool(
            vals[0].is_stringish() && text(&vals[0]).parse::<std::net::Ipv4Addr>().is_ok(),
        ),
        IsIpv6 => Value::from_bool(
            vals[0].is_stringish() && text(&vals[0]).parse::<std::net::Ipv6Addr>().is_ok(),
        ),
        _ => return Ok(None),
    }))
}

pub(super) fn eval(f: Func, vals: &[Value]) -> SqlResult<Option<Value>> {
    use Func::*;
    Ok(Some(match f {
        InetAton => {
            // MariaDB accepts short forms: '127.1' is 127.0.0.1.
            let s = text(&vals[0]);
            let parts: Vec<&str> = s.split('.').collect();
            if parts.len() > 4 || parts.iter().any(|p| p.is_empty()) {
                return Ok(Some(Value::Null));
            }
            let mut nums = Vec::new();
            for p in &parts {
                match p.parse::<u64>() {
                    Ok(n) if n <= 255 => nums.push(n),
                    _ => return Ok(Some(Value::Null)),
                }
            }
            let last = nums.pop().unwrap_or(0);
            let mut n = 0u64;
            for (i, x) in nums.iter().enumerate() {
                n |= x << (24 - 8 * i);
            }
            Value::UInt(n | last)
        }
        InetNtoa => match vals[0].to_i64() {
            Some(n) if (0..=u32::MAX as i64).contains(&n) => {
                Value::Str(std::net::Ipv4Addr::from(n as u32).to_string())
            }
            _ => Value::Null,
        },
        _ => return Ok(None),
    }))
}
