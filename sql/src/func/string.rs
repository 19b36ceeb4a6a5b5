//! String functions.

use super::{text, Func};
use crate::error::{SqlError, SqlResult};
use trireme_storage::value::{compare, Value};

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
        // A binary string has no letter case: MariaDB returns it as is.
        Lower | Upper if matches!(v0, Value::Bytes(_)) => v0.clone(),
        Lower => Value::Str(text(&v0).to_lowercase()),
        Upper => Value::Str(text(&v0).to_uppercase()),
        // A binary string is cut by bytes, a character string by characters.
        Substring => {
            let pos = int_arg(1).unwrap_or(1);
            let len = if vals.len() > 2 {
                int_arg(2).unwrap_or(0)
            } else {
                i64::MAX
            };
            cut(&v0, |n| substring_range(n, pos, len))
        }
        Left | Right => {
            let k = int_arg(1).unwrap_or(0);
            cut(&v0, |n| {
                let k = k.clamp(0, n as i64) as usize;
                if f == Left {
                    0..k
                } else {
                    n - k..n
                }
            })
        }
        // TRIM([BOTH | LEADING | TRAILING] [remstr] FROM s): remstr (a
        // space by default) removed as a whole string, as often as it
        // repeats, compared byte for byte.
        Trim | LTrim | RTrim => {
            let pat = vals.get(1).map_or_else(|| " ".to_string(), text);
            Value::Str(trim_repeated(&text(&v0), &pat, f != RTrim, f != LTrim))
        }
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
        Reverse => match &v0 {
            Value::Bytes(b) => Value::Bytes(b.iter().rev().copied().collect()),
            _ => Value::Str(text(&v0).chars().rev().collect()),
        },
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
        Ord => {
            let b = v0.to_bytes().unwrap_or_default();
            let n = match b.first() {
                Some(&c) if c >= 0xC0 && !matches!(v0, Value::Bytes(_)) => {
                    let len = if c >= 0xF0 {
                        4
                    } else if c >= 0xE0 {
                        3
                    } else {
                        2
                    };
                    b.iter()
                        .take(len)
                        .fold(0i64, |acc, &x| acc * 256 + i64::from(x))
                }
                Some(&c) => i64::from(c),
                None => 0,
            };
            Value::Int(n)
        }
        BitLength => Value::Int(v0.to_bytes().map_or(0, |b| b.len()) as i64 * 8),
        SubstringIndex => {
            let s = text(&v0);
            let delim = text(&vals[1]);
            let count = int_arg(2).unwrap_or(0);
            if delim.is_empty() || count == 0 {
                return Ok(Some(Value::Str(String::new())));
            }
            let parts: Vec<&str> = s.split(delim.as_str()).collect();
            let n = parts.len() as i64;
            Value::Str(if count > 0 {
                parts[..count.min(n) as usize].join(&delim)
            } else {
                parts[(n + count).max(0) as usize..].join(&delim)
            })
        }
        FindInSet => {
            let needle = text(&v0);
            let list = text(&vals[1]);
            if needle.contains(',') {
                return Ok(Some(Value::Int(0)));
            }
            let n = list
                .split(',')
                .position(|x| eq_ci(x, &needle))
                .map_or(0, |p| p as i64 + 1);
            Value::Int(if list.is_empty() { 0 } else { n })
        }
        Insert => {
            let s: Vec<char> = text(&v0).chars().collect();
            let pos = int_arg(1).unwrap_or(0);
            let len = int_arg(2).unwrap_or(0);
            let n = s.len() as i64;
            if pos < 1 || pos > n {
                return Ok(Some(v0));
            }
            let start = (pos - 1) as usize;
            let end = if len < 0 || len > n - pos + 1 {
                s.len()
            } else {
                start + len as usize
            };
            let mut out: String = s[..start].iter().collect();
            out.push_str(&text(&vals[3]));
            out.extend(&s[end..]);
            Value::Str(out)
        }
        Soundex => Value::Str(soundex(&text(&v0))),
        Strcmp => Value::Int(
            match text(&v0)
                .chars()
                .map(fold)
                .cmp(text(&vals[1]).chars().map(fold))
            {
                std::cmp::Ordering::Less => -1,
                std::cmp::Ordering::Equal => 0,
                std::cmp::Ordering::Greater => 1,
            },
        ),
        ToBase64 => Value::Str(to_base64(&v0.to_bytes().unwrap_or_default())),
        FromBase64 => match from_base64(&text(&v0)) {
            Some(b) => Value::Bytes(b),
            None => Value::Null,
        },
        Unhex => {
            let h: Vec<u8> = text(&v0).bytes().collect();
            let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
            let mut out = Vec::with_capacity(h.len() / 2 + 1);
            let mut i = 0;
            if h.len() % 2 == 1 {
                match digit(h[0]) {
                    Some(d) => out.push(d),
                    None => return Ok(Some(Value::Null)),
                }
                i = 1;
            }
            while i < h.len() {
                match (digit(h[i]), digit(h[i + 1])) {
                    (Some(a), Some(b)) => out.push(a * 16 + b),
                    _ => return Ok(Some(Value::Null)),
                }
                i += 2;
            }
            Value::Bytes(out)
        }
        Format => {
            let places = int_arg(1).unwrap_or(0).clamp(0, 38) as u32;
            Value::Str(format_number(&v0, places))
        }
        Conv => {
            let (from, to) = (int_arg(1).unwrap_or(0), int_arg(2).unwrap_or(0));
            match conv(&v0, from, to) {
                Some(s) => Value::Str(s),
                None => Value::Null,
            }
        }
        Bin | Oct => {
            let to = if f == Bin { 2 } else { 8 };
            match conv(&v0, 10, to) {
                Some(s) => Value::Str(s),
                None => Value::Null,
            }
        }
        _ => return Ok(None),
    }))
}

/// The functions that see NULL arguments themselves.
pub(super) fn eval_nullable(f: Func, vals: &[Value]) -> SqlResult<Option<Value>> {
    use Func::*;
    Ok(Some(match f {
        Field => {
            let v0 = &vals[0];
            if v0.is_null() {
                return Ok(Some(Value::Int(0)));
            }
            let all_numeric = vals.iter().all(|v| v.is_numeric() || v.is_null());
            let hit = vals[1..].iter().position(|v| {
                !v.is_null()
                    && if all_numeric {
                        compare(v0, v) == Some(std::cmp::Ordering::Equal)
                    } else {
                        eq_ci(&text(v0), &text(v))
                    }
            });
            Value::Int(hit.map_or(0, |p| p as i64 + 1))
        }
        Elt => match vals[0].to_i64() {
            Some(n) if n >= 1 && (n as usize) < vals.len() => match &vals[n as usize] {
                Value::Null => Value::Null,
                v => Value::Str(text(v)),
            },
            _ => Value::Null,
        },
        MakeSet => {
            let Some(bits) = vals[0].to_i64() else {
                return Ok(Some(Value::Null));
            };
            let bits = bits as u64;
            let parts: Vec<String> = vals[1..]
                .iter()
                .enumerate()
                .filter(|(i, v)| *i < 64 && bits & (1 << i) != 0 && !v.is_null())
                .map(|(_, v)| text(v))
                .collect();
            Value::Str(parts.join(","))
        }
        ExportSet => {
            if vals[..3].iter().any(Value::is_null) {
                return Ok(Some(Value::Null));
            }
            let bits = vals[0].to_i64().unwrap_or(0) as u64;
            let sep = match vals.get(3) {
                Some(Value::Null) => return Ok(Some(Value::Null)),
                Some(v) => text(v),
                None => ",".into(),
            };
            let n = match vals.get(4) {
                Some(v) => v.to_i64().unwrap_or(64).clamp(0, 64),
                None => 64,
            } as usize;
            let (on, off) = (text(&vals[1]), text(&vals[2]));
            let parts: Vec<&str> = (0..n)
                .map(|i| {
                    if bits & (1 << i) != 0 {
                        on.as_str()
                    } else {
                        off.as_str()
                    }
                })
                .collect();
            Value::Str(parts.join(&sep))
        }
        Quote => match &vals[0] {
            Value::Null => Value::Str("NULL".into()),
            v => {
                let mut out = String::from("'");
                for c in text(v).chars() {
                    match c {
                        '\\' => out.push_str("\\\\"),
                        '\'' => out.push_str("\\'"),
                        '\0' => out.push_str("\\0"),
                        '\u{1a}' => out.push_str("\\Z"),
                        c => out.push(c),
                    }
                }
                out.push('\'');
                Value::Str(out)
            }
        },
        Char => Value::Bytes(char_bytes(vals)),
        Chr if vals.iter().any(Value::is_null) => Value::Null,
        CharUsing | Chr => {
            let cs = text(&vals[0]).to_ascii_lowercase();
            let utf16 = matches!(cs.as_str(), "utf16" | "ucs2");
            // Each argument is a whole number of code units of the charset:
            // CHAR(74, 75 USING utf16) is "JK", not U+4A4B.
            let bytes: Vec<u8> = vals[1..]
                .iter()
                .flat_map(|v| {
                    let mut b = char_bytes(std::slice::from_ref(v));
                    if utf16 && b.len() % 2 == 1 {
                        b.insert(0, 0);
                    }
                    b
                })
                .collect();
            match cs.as_str() {
                "binary" => Value::Bytes(bytes),
                "latin1" => Value::Str(bytes.iter().map(|&b| char::from(b)).collect()),
                "utf8" | "utf8mb3" | "utf8mb4" => match String::from_utf8(bytes) {
                    Ok(s) => Value::Str(s),
                    Err(_) => Value::Null,
                },
                // UTF-16 code units, big-endian; an odd byte count is padded
                // in front (CHAR(74 USING utf16) is U+004A). Django's Chr().
                "utf16" | "ucs2" => {
                    let units: Vec<u16> = bytes
                        .chunks_exact(2)
                        .map(|c| u16::from_be_bytes([c[0], c[1]]))
                        .collect();
                    match String::from_utf16(&units) {
                        Ok(s) => Value::Str(s),
                        Err(_) => Value::Null,
                    }
                }
                other => {
                    return Err(SqlError::new(
                        1115,
                        "42000",
                        format!("Unknown character set: '{other}'"),
                    ))
                }
            }
        }
        _ => return Ok(None),
    }))
}

fn eq_ci(a: &str, b: &str) -> bool {
    a.chars().map(fold).eq(b.chars().map(fold))
}

fn soundex(s: &str) -> String {
    const MAP: &[u8; 26] = b"01230120022455012623010202";
    let code = |c: char| MAP[(c.to_ascii_uppercase() as u8 - b'A') as usize];
    let mut chars = s.chars().filter(|c| c.is_ascii_alphabetic());
    let Some(first) = chars.next() else {
        return String::new();
    };
    let mut out = String::new();
    out.push(first.to_ascii_uppercase());
    let mut last = code(first);
    for c in chars {
        let d = code(c);
        if d != b'0' && d != last {
            out.push(d as char);
        }
        last = d;
    }
    while out.len() < 4 {
        out.push('0');
    }
    out
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Base64 as MariaDB writes it: '=' padding, a newline every 76 characters.
fn to_base64(b: &[u8]) -> String {
    let mut out = String::new();
    for (i, chunk) in b.chunks(3).enumerate() {
        if i > 0 && i % 19 == 0 {
            out.push('\n');
        }
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (j, &x)| acc | u32::from(x) << (16 - 8 * j));
        for j in 0..4 {
            if j <= chunk.len() {
                out.push(B64[(n >> (18 - 6 * j) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn from_base64(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    let mut pad = false;
    for c in s.bytes().filter(|c| !c.is_ascii_whitespace()) {
        if c == b'=' {
            pad = true;
            continue;
        }
        if pad {
            return None;
        }
        let v = B64.iter().position(|&x| x == c)? as u32;
        acc = acc << 6 | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// FORMAT(x, d): rounded to `d` places, thousands grouped with ','.
fn format_number(v: &Value, places: u32) -> String {
    use rust_decimal::RoundingStrategy;
    let digits = match v.to_decimal() {
        Some(d) if !matches!(v, Value::Double(x) if x.abs() >= 1e27) => {
            let mut r = d.round_dp_with_strategy(places, RoundingStrategy::MidpointAwayFromZero);
            r.rescale(places);
            r.to_string()
        }
        _ => format!("{:.*}", places as usize, v.to_f64().unwrap_or(0.0)),
    };
    let (neg, digits) = match digits.strip_prefix('-') {
        Some(d) => (true, d.to_string()),
        None => (false, digits),
    };
    let (int, frac) = match digits.split_once('.') {
        Some((i, f)) => (i.to_string(), Some(f.to_string())),
        None => (digits, None),
    };
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let mut out = String::new();
    if neg
        && grouped
            .chars()
            .chain(frac.iter().flat_map(|f| f.chars()))
            .any(|c| c != '0' && c != ',')
    {
        out.push('-');
    }
    out.push_str(&grouped);
    if let Some(f) = frac {
        out.push('.');
        out.push_str(&f);
    }
    out
}

/// CONV(n, from, to): `n` read in base |from| (signed when from < 0),
/// written in base |to| (as signed when to < 0).
fn conv(v: &Value, from: i64, to: i64) -> Option<String> {
    let (fa, ta) = (from.unsigned_abs(), to.unsigned_abs());
    if !(2..=36).contains(&fa) || !(2..=36).contains(&ta) {
        return None;
    }
    let s = match v {
        Value::Double(_) | Value::Decimal(_) => v.to_i64().unwrap_or(0).to_string(),
        other => text(other),
    };
    let s = s.trim();
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s),
    };
    let mut n: u64 = 0;
    for c in body.chars() {
        match c.to_digit(fa as u32) {
            Some(d) => n = n.wrapping_mul(fa).wrapping_add(u64::from(d)),
            None => break,
        }
    }
    if neg {
        n = n.wrapping_neg();
    }
    let (neg_out, mut m) = if to < 0 && (n as i64) < 0 {
        (true, (n as i64).unsigned_abs())
    } else {
        (false, n)
    };
    let mut out = Vec::new();
    loop {
        out.push(std::char::from_digit((m % ta) as u32, ta as u32)?.to_ascii_uppercase());
        m /= ta;
        if m == 0 {
            break;
        }
    }
    if neg_out {
        out.push('-');
    }
    Some(out.iter().rev().collect())
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

/// CHAR()'s bytes: each non-NULL argument as a big-endian integer without
/// its leading zero bytes.
fn char_bytes(vals: &[Value]) -> Vec<u8> {
    let mut out = Vec::new();
    for v in vals.iter().filter(|v| !v.is_null()) {
        let n = match v {
            // A hex literal (0xC3A9) is a number here, as in MySQL.
            Value::Bytes(b) => b.iter().fold(0u32, |acc, &x| (acc << 8) | u32::from(x)),
            other => other.to_i64().unwrap_or(0) as u32,
        };
        let b = n.to_be_bytes();
        let skip = b.iter().take_while(|x| **x == 0).count().min(3);
        out.extend_from_slice(&b[skip..]);
    }
    out
}

fn trim_repeated(s: &str, pat: &str, leading: bool, trailing: bool) -> String {
    let mut t = s;
    if pat.is_empty() {
        return s.to_string();
    }
    if leading {
        while let Some(r) = t.strip_prefix(pat) {
            t = r;
        }
    }
    if trailing {
        while let Some(r) = t.strip_suffix(pat) {
            t = r;
        }
    }
    t.to_string()
}

/// The part of `v` in `range(len)` (`len` in bytes for a binary string,
/// in characters otherwise).
fn cut(v: &Value, range: impl Fn(usize) -> std::ops::Range<usize>) -> Value {
    match v {
        Value::Bytes(b) => Value::Bytes(b.get(range(b.len())).unwrap_or_default().to_vec()),
        _ => {
            let s: Vec<char> = text(v).chars().collect();
            Value::Str(s.get(range(s.len())).unwrap_or_default().iter().collect())
        }
    }
}

/// SUBSTRING's positions: from `pos` (1-based; negative counts from the
/// end; 0 is nothing) for `len` units of `n`.
fn substring_range(n: usize, pos: i64, len: i64) -> std::ops::Range<usize> {
    let n = n as i64;
    let start = match pos {
        p if p > 0 => p - 1,
        p if p < 0 => n + p,
        _ => return 0..0,
    };
    if start < 0 || start >= n || len <= 0 {
        return 0..0;
    }
    let end = start.saturating_add(len).min(n);
    start as usize..end as usize
}
