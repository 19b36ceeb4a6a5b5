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
            // MariaDB's reading: each '.' shifts in a byte; short forms
            // ('127.1') put the last part in the low byte.
            let s = text(&vals[0]);
            let (mut result, mut byte, mut dots) = (0u64, 0u64, 0);
            let mut last = ' ';
            for c in s.chars() {
                last = c;
                if let Some(d) = c.to_digit(10) {
                    byte = byte * 10 + u64::from(d);
                    if byte > 255 {
                        return Ok(Some(Value::Null));
                    }
                } else if c == '.' {
                    dots += 1;
                    result = (result << 8) + byte;
                    byte = 0;
                } else {
                    return Ok(Some(Value::Null));
                }
            }
            if s.is_empty() {
                return Ok(Some(Value::Null));
            }
            if last != '.' {
                match dots {
                    1 => result <<= 16,
                    2 => result <<= 8,
                    _ => {}
                }
                result = (result << 8) + byte;
            }
            Value::UInt(result)
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
