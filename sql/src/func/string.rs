//! String functions.

use super::{text, Func};
use crate::error::SqlResult;
use trireme_storage::value::Value;

fn int_at(vals: &[Value], i: usize) -> Option<i64> {
    vals.get(i).and_then(Value::to_i64)
}

pub(super) fn eval(f: Func, vals: &[Value]) -> SqlResult<Option<Value>> {
    use Func::*;
    let v0 = vals.first().cloned().unwrap_or(Value::Null);
    let int_arg = |i: usize| int_at(vals, i);
    Ok(Some(match f {
        Concat => {
            if vals.iter().any(|v| matches!(v, Value::Bytes(_))) {
                let mut out = Vec::new();
                for v in vals {
                    out.extend(v.to_bytes().unwrap_or_default());
                }
                Value::Bytes(out)
            } else {
                Value::Str(vals.iter().map(text).collect())
            }
        }
        Length => Value::Int(v0.to_bytes().map_or(0, |b| b.len()) as i64),
        CharLength => Value::Int(text(&v0).chars().count() as i64),
        Lower => Value::Str(text(&v0).to_lowercase()),
        Upper => Value::Str(text(&v0).to_uppercase()),
        Substring => {
            let s: Vec<char> = text(&v0).chars().collect();
            let pos = int_arg(1).unwrap_or(1);
            let len = if vals.len() > 2 {
                int_arg(2).unwrap_or(0)
            } else {
                i64::MAX
            };
            let n = s.len() as i64;
            let start = if pos > 0 {
                pos - 1
            } else if pos < 0 {
                n + pos
            } else {
                return Ok(Some(Value::Str(String::new())));
            };
            if start < 0 || start >= n || len <= 0 {
                return Ok(Some(Value::Str(String::new())));
            }
            let end = start.saturating_add(len).min(n);
            Value::Str(s[start as usize..end as usize].iter().collect())
        }
        Left | Right => {
            let s: Vec<char> = text(&v0).chars().collect();
            let k = int_arg(1).unwrap_or(0).clamp(0, s.len() as i64) as usize;
            let r: String = if f == Left {
                s[..k].iter().collect()
            } else {
                s[s.len() - k..].iter().collect()
            };
            Value::Str(r)
        }
        Trim => Value::Str(text(&v0).trim_matches(' ').to_string()),
        LTrim => Value::Str(text(&v0).trim_start_matches(' ').to_string()),
        RTrim => Value::Str(text(&v0).trim_end_matches(' ').to_string()),
        Replace => {
            let from = text(&vals[1]);
            if from.is_empty() {
                v0
            } else {
                Value::Str(text(&v0).replace(&from, &text(&vals[2])))
            }
        }
        Repeat => {
            let n = int_arg(1).unwrap_or(0).clamp(0, 1 << 20) as usize;
            let s = text(&v0);
            if s.len().saturating_mul(n) > 64 << 20 {
                return Ok(Some(Value::Null));
            }
            Value::Str(s.repeat(n))
        }
        Reverse => Value::Str(text(&v0).chars().rev().collect()),
        Lpad | Rpad => {
            let s: Vec<char> = text(&v0).chars().collect();
            let n = int_arg(1).unwrap_or(0);
            if n < 0 {
                return Ok(Some(Value::Null));
            }
            let n = n.min(1 << 24) as usize;
            let pad: Vec<char> = match vals.get(2) {
                Some(p) => text(p).chars().collect(),
                None => vec![' '],
            };
            if s.len() >= n {
                return Ok(Some(Value::Str(s[..n].iter().collect())));
            }
            if pad.is_empty() {
                return Ok(Some(Value::Null));
            }
            let fill: String = pad.iter().cycle().take(n - s.len()).collect();
            let body: String = s.iter().collect();
            Value::Str(if f == Lpad {
                fill + &body
            } else {
                body + &fill
            })
        }
        Locate | Instr => {
            let (needle, hay) = if f == Locate {
                (text(&v0), text(&vals[1]))
            } else {
                (text(&vals[1]), text(&v0))
            };
            let start = if f == Locate && vals.len() > 2 {
                let p = int_arg(2).unwrap_or(1);
                if p < 1 {
                    return Ok(Some(Value::Int(0)));
                }
                p as usize - 1
            } else {
                0
            };
            Value::Int(find_ci(&hay, &needle, start).map_or(0, |p| p as i64 + 1))
        }
        Hex => match &v0 {
            Value::Int(_) | Value::UInt(_) | Value::Double(_) | Value::Decimal(_) => {
                Value::Str(format!("{:X}", v0.to_i64().unwrap_or(0) as u64))
            }
            other => Value::Str(
                other
                    .to_bytes()
                    .unwrap_or_default()
                    .iter()
                    .map(|b| format!("{b:02X}"))
                    .collect(),
            ),
        },
        Ascii => Value::Int(i64::from(
            v0.to_bytes()
                .unwrap_or_default()
                .first()
                .copied()
                .unwrap_or(0),
        )),
        Space => Value::Str(" ".repeat(int_arg(0).unwrap_or(0).clamp(0, 1 << 20) as usize)),
        _ => return Ok(None),
    }))
}

/// Folds a character for the default *_ci collations' comparisons.
pub(super) fn fold(c: char) -> char {
    let mut l = c.to_lowercase();
    match (l.next(), l.next()) {
        (Some(x), None) => x,
        _ => c,
    }
}

/// The character position (0-based) of `needle` in `hay` at or after
/// character `start`, compared case-insensitively as MariaDB's default
/// collation does.
pub(super) fn find_ci(hay: &str, needle: &str, start: usize) -> Option<usize> {
    let h: Vec<char> = hay.chars().map(fold).collect();
    let n: Vec<char> = needle.chars().map(fold).collect();
    if start > h.len() {
        return None;
    }
    if n.is_empty() {
        return Some(start);
    }
    (start..=h.len().saturating_sub(n.len()))
        .find(|&i| i + n.len() <= h.len() && h[i..i + n.len()] == n[..])
}
