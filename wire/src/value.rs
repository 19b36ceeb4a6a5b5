//! Value encodings: text-protocol cells, binary-protocol cells by column
//! type, and binary-protocol parameters from COM_STMT_EXECUTE.
//!
//! # Rows: which `Value` fits which column
//!
//! The text protocol sends every non-NULL value as a length-encoded string
//! (numbers in decimal, dates as `YYYY-MM-DD[ hh:mm:ss[.ffffff]]`, times as
//! `[-]hh:mm:ss[.ffffff]` with hours beyond 24 for multi-day values).
//!
//! The binary protocol encodes by the *column* type, so the handler can send
//! a `Value::Int` for a TINY column and it is written as one byte:
//!
//! | column type | wire form | accepted values |
//! |---|---|---|
//! | TINY / SHORT, YEAR / LONG, INT24 / LONGLONG | 1 / 2 / 4 / 8 bytes LE, signed or UNSIGNED per the column flag | Int, UInt, integral Float/Double, decimal text in Bytes |
//! | FLOAT / DOUBLE | IEEE 754 LE, 4 / 8 bytes | Float, Double, Int, UInt, numeric text |
//! | DATE, DATETIME, TIMESTAMP | length byte (0, 4, 7, 11) + fields | Date, or text `YYYY-MM-DD[ hh:mm:ss[.f]]` |
//! | TIME | length byte (0, 8, 12) + fields | Time, or text `[-]h:mm:ss[.f]` |
//! | everything else (DECIMAL, NEWDECIMAL, strings, BLOBs, JSON, ENUM, SET, BIT, GEOMETRY) | length-encoded string | any value, formatted as in the text protocol |
//!
//! A value that does not fit (out of range, unparsable text) is an
//! [`EncodeError`]; the driver turns it into an ERR packet instead of sending
//! a wrong number.
//!
//! # Parameters
//!
//! [`decode_param`] reads one parameter given the type byte and unsigned flag
//! the client bound. Signed integers become `Value::Int`, unsigned ones
//! `Value::Int` too except UNSIGNED LONGLONG, which becomes `Value::UInt`
//! (mysql_common's convention); strings, decimals and blobs become
//! `Value::Bytes`. Invariant: never panics, never reads past the payload.

use std::fmt::Write as _;

use mysql_common::constants::{ColumnFlags, ColumnType};
use mysql_common::value::Value;

use crate::buf::{put_lenenc_bytes, Reader};
use crate::error::WireError;
use crate::types::ColumnDef;

/// A row value that cannot be encoded for its column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodeError(pub String);

impl std::fmt::Display for EncodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Shortest round-trip digits, in exponent form outside `fixed`: MariaDB
/// prints a DOUBLE in full from 1e-15 up to 1e15 (`0.0000001`), a FLOAT's
/// fixed range is narrower.
fn fmt_float<T: std::fmt::Display + std::fmt::LowerExp>(
    v: T,
    abs: f64,
    fixed: std::ops::Range<f64>,
    out: &mut String,
) {
    if abs != 0.0 && abs.is_finite() && !fixed.contains(&abs) {
        let _ = write!(out, "{v:e}");
    } else {
        let _ = write!(out, "{v}");
    }
}

fn fmt_frac(us: u32, digits: u8, out: &mut String) {
    if digits == 0 || digits > 6 {
        if us != 0 {
            let _ = write!(out, ".{us:06}");
        }
        return;
    }
    let s = format!("{:06}", us.min(999_999));
    out.push('.');
    out.push_str(&s[..usize::from(digits)]);
}

/// Formats a non-NULL value as the text protocol shows it for `col`.
/// Returns `None` for `Value::NULL`.
pub fn to_text(v: &Value, col: Option<&ColumnDef>) -> Option<Vec<u8>> {
    let mut s = String::new();
    let decimals = col.map_or(0, |c| c.decimals);
    match v {
        Value::NULL => return None,
        Value::Bytes(b) => return Some(b.clone()),
        // A ZEROFILL column (YEAR is one) pads to its display width: the
        // zero year reads 0000.
        Value::Int(i) => {
            let _ = write!(s, "{i}");
            zero_fill(&mut s, col);
        }
        Value::UInt(u) => {
            let _ = write!(s, "{u}");
            zero_fill(&mut s, col);
        }
        Value::Float(f) => fmt_float(*f, f64::from(f.abs()), 1e-4..1e15, &mut s),
        // A FLOAT column shows single-precision digits, as MySQL does.
        Value::Double(d) if col.is_some_and(|c| c.column_type == ColumnType::MYSQL_TYPE_FLOAT) => {
            let f = *d as f32;
            fmt_float(f, f64::from(f.abs()), 1e-4..1e15, &mut s)
        }
        Value::Double(d) => fmt_float(*d, d.abs(), 1e-15..1e15, &mut s),
        Value::Date(y, mo, d, h, mi, se, us) => {
            let date_only = matches!(
                col.map(|c| c.column_type),
                Some(ColumnType::MYSQL_TYPE_DATE | ColumnType::MYSQL_TYPE_NEWDATE)
            );
            let _ = write!(s, "{y:04}-{mo:02}-{d:02}");
            if !date_only {
                let _ = write!(s, " {h:02}:{mi:02}:{se:02}");
                fmt_frac(*us, decimals, &mut s);
            }
        }
        Value::Time(neg, days, h, mi, se, us) => {
            let hours = u64::from(*days) * 24 + u64::from(*h);
            if *neg {
                s.push('-');
            }
            let _ = write!(s, "{hours:02}:{mi:02}:{se:02}");
            fmt_frac(*us, decimals, &mut s);
        }
    }
    Some(s.into_bytes())
}

/// Left-pads a non-negative integer's digits with zeros to the column's
/// display width when the column is ZEROFILL.
fn zero_fill(s: &mut String, col: Option<&ColumnDef>) {
    let Some(c) = col else { return };
    let width = c.column_length as usize;
    if c.flags.contains(ColumnFlags::ZEROFILL_FLAG) && !s.starts_with('-') && s.len() < width {
        s.insert_str(0, &"0".repeat(width - s.len()));
    }
}

/// Appends one text-protocol cell (`0xfb` for NULL, else a length-encoded
/// string).
pub fn put_text_cell(v: &Value, col: &ColumnDef, out: &mut Vec<u8>) {
    match to_text(v, Some(col)) {
        None => out.push(0xfb),
        Some(b) => put_lenenc_bytes(out, &b),
    }
}

fn int_of(v: &Value) -> Option<i128> {
    match v {
        Value::Int(i) => Some(i128::from(*i)),
        Value::UInt(u) => Some(i128::from(*u)),
        Value::Float(f) if f.is_finite() && f.fract() == 0.0 => Some(*f as i128),
        Value::Double(d) if d.is_finite() && d.fract() == 0.0 => Some(*d as i128),
        Value::Bytes(b) => {
            let s = std::str::from_utf8(b).ok()?.trim();
            s.parse::<i128>().ok().or_else(|| {
                let d: f64 = s.parse().ok()?;
                (d.is_finite() && d.fract() == 0.0).then_some(d as i128)
            })
        }
        _ => None,
    }
}

fn float_of(v: &Value) -> Option<f64> {
    match v {
        Value::Int(i) => Some(*i as f64),
        Value::UInt(u) => Some(*u as f64),
        Value::Float(f) => Some(f64::from(*f)),
        Value::Double(d) => Some(*d),
        Value::Bytes(b) => std::str::from_utf8(b).ok()?.trim().parse().ok(),
        _ => None,
    }
}

fn digits(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn frac_micros(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 9 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut padded = s.to_string();
    while padded.len() < 6 {
        padded.push('0');
    }
    padded[..6].parse().ok()
}

/// Parses `YYYY-MM-DD[ hh:mm:ss[.ffffff]]` (also with `T` as separator).
pub fn parse_datetime(s: &str) -> Option<Value> {
    let s = s.trim();
    let (date, time) = match s.find([' ', 'T']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let mut dp = date.split('-');
    let y = u16::try_from(digits(dp.next()?)?).ok()?;
    let mo = u8::try_from(digits(dp.next()?)?).ok()?;
    let d = u8::try_from(digits(dp.next()?)?).ok()?;
    if dp.next().is_some() || mo > 12 || d > 31 {
        return None;
    }
    let (mut h, mut mi, mut se, mut us) = (0u8, 0u8, 0u8, 0u32);
    if let Some(t) = time {
        let (hms, frac) = match t.split_once('.') {
            Some((a, b)) => (a, Some(b)),
            None => (t, None),
        };
        let mut tp = hms.split(':');
        h = u8::try_from(digits(tp.next()?)?).ok()?;
        mi = u8::try_from(digits(tp.next()?)?).ok()?;
        se = u8::try_from(digits(tp.next()?)?).ok()?;
        if tp.next().is_some() || h > 23 || mi > 59 || se > 59 {
            return None;
        }
        if let Some(f) = frac {
            us = frac_micros(f)?;
        }
    }
    Some(Value::Date(y, mo, d, h, mi, se, us))
}

/// Parses `[-][D ]hhh:mm:ss[.ffffff]` into `Value::Time`.
pub fn parse_time(s: &str) -> Option<Value> {
    let s = s.trim();
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let (days, s) = match s.split_once(' ') {
        Some((d, r)) => (digits(d)?, r),
        None => (0, s),
    };
    let (hms, frac) = match s.split_once('.') {
        Some((a, b)) => (a, Some(b)),
        None => (s, None),
    };
    let mut tp = hms.split(':');
    let hours = digits(tp.next()?)?;
    let mi = u8::try_from(digits(tp.next()?)?).ok()?;
    let se = u8::try_from(digits(tp.next()?)?).ok()?;
    if tp.next().is_some() || mi > 59 || se > 59 {
        return None;
    }
    let us = match frac {
        Some(f) => frac_micros(f)?,
        None => 0,
    };
    let total_hours = days.checked_mul(24)?.checked_add(hours)?;
    Some(Value::Time(
        neg,
        total_hours / 24,
        (total_hours % 24) as u8,
        mi,
        se,
        us,
    ))
}

fn bad(v: &Value, col: &ColumnDef) -> EncodeError {
    EncodeError(format!(
        "value {v:?} does not fit column '{}' of type {:?}",
        col.name, col.column_type
    ))
}

fn put_date(out: &mut Vec<u8>, v: &Value, date_only: bool) -> bool {
    let Value::Date(y, mo, d, h, mi, se, us) = *v else {
        return false;
    };
    if date_only || (h, mi, se, us) == (0, 0, 0, 0) {
        if (y, mo, d) == (0, 0, 0) {
            out.push(0);
        } else {
            out.push(4);
            out.extend_from_slice(&y.to_le_bytes());
            out.extend_from_slice(&[mo, d]);
        }
    } else if us == 0 {
        out.push(7);
        out.extend_from_slice(&y.to_le_bytes());
        out.extend_from_slice(&[mo, d, h, mi, se]);
    } else {
        out.push(11);
        out.extend_from_slice(&y.to_le_bytes());
        out.extend_from_slice(&[mo, d, h, mi, se]);
        out.extend_from_slice(&us.to_le_bytes());
    }
    true
}

fn put_time(out: &mut Vec<u8>, v: &Value) -> bool {
    let Value::Time(neg, days, h, mi, se, us) = *v else {
        return false;
    };
    if (days, h, mi, se, us) == (0, 0, 0, 0, 0) {
        out.push(0);
        return true;
    }
    out.push(if us == 0 { 8 } else { 12 });
    out.push(u8::from(neg));
    out.extend_from_slice(&days.to_le_bytes());
    out.extend_from_slice(&[h, mi, se]);
    if us != 0 {
        out.extend_from_slice(&us.to_le_bytes());
    }
    true
}

/// Appends the binary-protocol encoding of a non-NULL `v` for `col`
/// (NULLs go into the row's NULL bitmap and are not passed here).
pub fn put_binary_cell(v: &Value, col: &ColumnDef, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    use ColumnType::*;
    let unsigned = col.is_unsigned();
    macro_rules! int {
        ($s:ty, $u:ty) => {{
            let i = int_of(v).ok_or_else(|| bad(v, col))?;
            if unsigned {
                let x = <$u>::try_from(i).map_err(|_| bad(v, col))?;
                out.extend_from_slice(&x.to_le_bytes());
            } else {
                let x = <$s>::try_from(i).map_err(|_| bad(v, col))?;
                out.extend_from_slice(&x.to_le_bytes());
            }
        }};
    }
    match col.column_type {
        MYSQL_TYPE_TINY => int!(i8, u8),
        MYSQL_TYPE_SHORT => int!(i16, u16),
        MYSQL_TYPE_YEAR => {
            let i = int_of(v).ok_or_else(|| bad(v, col))?;
            let x = u16::try_from(i).map_err(|_| bad(v, col))?;
            out.extend_from_slice(&x.to_le_bytes());
        }
        MYSQL_TYPE_LONG | MYSQL_TYPE_INT24 => int!(i32, u32),
        MYSQL_TYPE_LONGLONG => int!(i64, u64),
        MYSQL_TYPE_FLOAT => {
            let f = float_of(v).ok_or_else(|| bad(v, col))?;
            out.extend_from_slice(&(f as f32).to_le_bytes());
        }
        MYSQL_TYPE_DOUBLE => {
            let f = float_of(v).ok_or_else(|| bad(v, col))?;
            out.extend_from_slice(&f.to_le_bytes());
        }
        MYSQL_TYPE_DATE
        | MYSQL_TYPE_NEWDATE
        | MYSQL_TYPE_DATETIME
        | MYSQL_TYPE_DATETIME2
        | MYSQL_TYPE_TIMESTAMP
        | MYSQL_TYPE_TIMESTAMP2 => {
            let date_only = matches!(col.column_type, MYSQL_TYPE_DATE | MYSQL_TYPE_NEWDATE);
            let parsed;
            let v = match v {
                Value::Bytes(b) => {
                    parsed = std::str::from_utf8(b)
                        .ok()
                        .and_then(parse_datetime)
                        .ok_or_else(|| bad(v, col))?;
                    &parsed
                }
                other => other,
            };
            if !put_date(out, v, date_only) {
                return Err(bad(v, col));
            }
        }
        MYSQL_TYPE_TIME | MYSQL_TYPE_TIME2 => {
            let parsed;
            let v = match v {
                Value::Bytes(b) => {
                    parsed = std::str::from_utf8(b)
                        .ok()
                        .and_then(parse_time)
                        .ok_or_else(|| bad(v, col))?;
                    &parsed
                }
                other => other,
            };
            if !put_time(out, v) {
                return Err(bad(v, col));
            }
        }
        MYSQL_TYPE_NULL => return Err(bad(v, col)),
        _ => match to_text(v, Some(col)) {
            Some(b) => put_lenenc_bytes(out, &b),
            None => return Err(bad(v, col)),
        },
    }
    Ok(())
}

/// Reads one binary-protocol parameter of raw type `ty` (the byte the client
/// bound) from `r`.
pub fn decode_param(ty: u8, unsigned: bool, r: &mut Reader<'_>) -> Result<Value, WireError> {
    use ColumnType::*;
    let t = ColumnType::try_from(ty)
        .map_err(|_| WireError::malformed(format!("unknown parameter type {ty:#x}")))?;
    Ok(match t {
        MYSQL_TYPE_NULL => Value::NULL,
        MYSQL_TYPE_TINY => {
            let b = r.u8()?;
            Value::Int(if unsigned {
                i64::from(b)
            } else {
                i64::from(b as i8)
            })
        }
        MYSQL_TYPE_SHORT | MYSQL_TYPE_YEAR => {
            let x = r.u16()?;
            Value::Int(if unsigned {
                i64::from(x)
            } else {
                i64::from(x as i16)
            })
        }
        MYSQL_TYPE_LONG | MYSQL_TYPE_INT24 => {
            let x = r.u32()?;
            Value::Int(if unsigned {
                i64::from(x)
            } else {
                i64::from(x as i32)
            })
        }
        MYSQL_TYPE_LONGLONG => {
            let x = r.u64()?;
            if unsigned {
                Value::UInt(x)
            } else {
                Value::Int(x as i64)
            }
        }
        MYSQL_TYPE_FLOAT => {
            let x = r.u32()?;
            Value::Float(f32::from_bits(x))
        }
        MYSQL_TYPE_DOUBLE => {
            let x = r.u64()?;
            Value::Double(f64::from_bits(x))
        }
        MYSQL_TYPE_DATE
        | MYSQL_TYPE_NEWDATE
        | MYSQL_TYPE_DATETIME
        | MYSQL_TYPE_DATETIME2
        | MYSQL_TYPE_TIMESTAMP
        | MYSQL_TYPE_TIMESTAMP2 => {
            let len = r.u8()?;
            let mut f = Reader::new(r.take(usize::from(len))?);
            match len {
                0 => Value::Date(0, 0, 0, 0, 0, 0, 0),
                4 | 7 | 11 => {
                    let y = f.u16()?;
                    let mo = f.u8()?;
                    let d = f.u8()?;
                    let (h, mi, s) = if len >= 7 {
                        (f.u8()?, f.u8()?, f.u8()?)
                    } else {
                        (0, 0, 0)
                    };
                    let us = if len == 11 { f.u32()? } else { 0 };
                    Value::Date(y, mo, d, h, mi, s, us)
                }
                _ => return Err(WireError::malformed(format!("bad datetime length {len}"))),
            }
        }
        MYSQL_TYPE_TIME | MYSQL_TYPE_TIME2 => {
            let len = r.u8()?;
            let mut f = Reader::new(r.take(usize::from(len))?);
            match len {
                0 => Value::Time(false, 0, 0, 0, 0, 0),
                8 | 12 => {
                    let neg = f.u8()? != 0;
                    let days = f.u32()?;
                    let (h, mi, s) = (f.u8()?, f.u8()?, f.u8()?);
                    let us = if len == 12 { f.u32()? } else { 0 };
                    Value::Time(neg, days, h, mi, s, us)
                }
                _ => return Err(WireError::malformed(format!("bad time length {len}"))),
            }
        }
        MYSQL_TYPE_DECIMAL
        | MYSQL_TYPE_NEWDECIMAL
        | MYSQL_TYPE_VARCHAR
        | MYSQL_TYPE_BIT
        | MYSQL_TYPE_JSON
        | MYSQL_TYPE_ENUM
        | MYSQL_TYPE_SET
        | MYSQL_TYPE_TINY_BLOB
        | MYSQL_TYPE_MEDIUM_BLOB
        | MYSQL_TYPE_LONG_BLOB
        | MYSQL_TYPE_BLOB
        | MYSQL_TYPE_VAR_STRING
        | MYSQL_TYPE_STRING
        | MYSQL_TYPE_GEOMETRY
        | MYSQL_TYPE_VECTOR => Value::Bytes(r.lenenc_bytes()?.to_vec()),
        MYSQL_TYPE_TYPED_ARRAY | MYSQL_TYPE_UNKNOWN => {
            return Err(WireError::malformed(format!(
                "unsupported parameter type {ty:#x}"
            )))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::buf::Reader;
    use mysql_common::constants::ColumnFlags;

    fn col(t: ColumnType) -> ColumnDef {
        ColumnDef::new("c", t)
    }

    #[test]
    fn text_forms() {
        let dt = col(ColumnType::MYSQL_TYPE_DATETIME).decimals(3);
        let v = Value::Date(2024, 2, 29, 13, 5, 9, 123_456);
        assert_eq!(to_text(&v, Some(&dt)).unwrap(), b"2024-02-29 13:05:09.123");
        let d = col(ColumnType::MYSQL_TYPE_DATE);
        assert_eq!(to_text(&v, Some(&d)).unwrap(), b"2024-02-29");
        let t = Value::Time(true, 1, 2, 3, 4, 0);
        assert_eq!(to_text(&t, None).unwrap(), b"-26:03:04");
        assert_eq!(to_text(&Value::Double(0.5), None).unwrap(), b"0.5");
        assert_eq!(to_text(&Value::Double(1e20), None).unwrap(), b"1e20");
        assert_eq!(to_text(&Value::Double(1e-7), None).unwrap(), b"0.0000001");
        assert_eq!(
            to_text(&Value::Double(1e-15), None).unwrap(),
            b"0.000000000000001"
        );
        assert_eq!(
            to_text(&Value::Double(1.2345e-16), None).unwrap(),
            b"1.2345e-16"
        );
        assert_eq!(to_text(&Value::Float(2.75), None).unwrap(), b"2.75");
        let f = col(ColumnType::MYSQL_TYPE_FLOAT);
        let tenth = f64::from(0.1f32);
        assert_eq!(to_text(&Value::Double(tenth), Some(&f)).unwrap(), b"0.1");
    }

    #[test]
    fn binary_ints_by_column_type() {
        let mut out = Vec::new();
        put_binary_cell(&Value::Int(-1), &col(ColumnType::MYSQL_TYPE_TINY), &mut out).unwrap();
        assert_eq!(out, [0xff]);
        out.clear();
        let ut = col(ColumnType::MYSQL_TYPE_TINY).with_flags(ColumnFlags::UNSIGNED_FLAG);
        put_binary_cell(&Value::Int(200), &ut, &mut out).unwrap();
        assert_eq!(out, [200]);
        assert!(put_binary_cell(&Value::Int(-1), &ut, &mut out).is_err());
        out.clear();
        put_binary_cell(
            &Value::Bytes(b"70000".to_vec()),
            &col(ColumnType::MYSQL_TYPE_LONG),
            &mut out,
        )
        .unwrap();
        assert_eq!(out, 70000i32.to_le_bytes());
    }

    #[test]
    fn binary_params_round_trip_through_rows() {
        // A value encoded for a column decodes back as the same parameter.
        let cases = [
            (ColumnType::MYSQL_TYPE_LONGLONG, Value::Int(-5)),
            (ColumnType::MYSQL_TYPE_DOUBLE, Value::Double(2.5)),
            (ColumnType::MYSQL_TYPE_FLOAT, Value::Float(1.25)),
            (
                ColumnType::MYSQL_TYPE_DATETIME,
                Value::Date(2020, 1, 2, 3, 4, 5, 6),
            ),
            (
                ColumnType::MYSQL_TYPE_DATE,
                Value::Date(2020, 1, 2, 0, 0, 0, 0),
            ),
            (
                ColumnType::MYSQL_TYPE_TIME,
                Value::Time(false, 3, 4, 5, 6, 7),
            ),
            (
                ColumnType::MYSQL_TYPE_VAR_STRING,
                Value::Bytes(b"hi".to_vec()),
            ),
        ];
        for (t, v) in cases {
            let mut out = Vec::new();
            put_binary_cell(&v, &col(t), &mut out).unwrap();
            let mut r = Reader::new(&out);
            assert_eq!(decode_param(t as u8, false, &mut r).unwrap(), v, "{t:?}");
            assert!(r.is_empty());
        }
    }

    #[test]
    fn parse_temporal_text() {
        assert_eq!(
            parse_datetime("2021-03-04 05:06:07.5"),
            Some(Value::Date(2021, 3, 4, 5, 6, 7, 500_000))
        );
        assert_eq!(
            parse_time("-27:00:01"),
            Some(Value::Time(true, 1, 3, 0, 1, 0))
        );
        assert_eq!(parse_datetime("garbage"), None);
    }

    #[test]
    fn truncated_params_are_errors() {
        for ty in 0u8..=255 {
            let mut r = Reader::new(&[]);
            let _ = decode_param(ty, false, &mut r);
            let mut r = Reader::new(&[0xfe, 1]);
            let _ = decode_param(ty, true, &mut r);
        }
    }
}
