//! The conversion of any value into a column's storage shape, MySQL's strict
//! mode: a value that does not fit is an error, never silently truncated
//! (and what INSERT IGNORE stores instead).

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};
use trireme_storage::types::{IntWidth, SqlType};
use trireme_storage::value::{
    parse_decimal, parse_time, parse_uuid, str_to_f64, Value, MAX_DECIMAL_PRECISION,
    MAX_DECLARED_PRECISION, MAX_DECLARED_SCALE, MAX_TIME_MICROS,
};

use crate::error::{codes, SqlError, SqlResult};

/// Strict-mode conversions for a column type.
pub trait Coerce {
    /// Converts `v` into this column's storage shape, or explains why it does
    /// not fit (strict mode).
    fn coerce(&self, v: Value, column: &str) -> SqlResult<Value>;
    /// What MySQL stores instead of `v` under IGNORE (None: the error stands).
    fn adjust_for_ignore(&self, v: &Value) -> Option<Value>;
}

impl Coerce for SqlType {
    /// What MySQL stores instead of `v` when it does not fit this type and
    /// the statement runs with IGNORE: numbers clamp to the type's range
    /// (a string counts by its leading number, none being 0), text and
    /// bytes are cut to the length. None where MySQL has no adjustment we
    /// keep (dates, ENUM): the error then stands. The result still goes
    /// through `coerce`.
    fn adjust_for_ignore(&self, v: &Value) -> Option<Value> {
        let number = |v: &Value| -> f64 {
            match v {
                Value::Str(s) => str_to_f64(s),
                Value::Bytes(b) => str_to_f64(&String::from_utf8_lossy(b)),
                other => other.to_f64().unwrap_or(0.0),
            }
        };
        match self {
            SqlType::Int { width, unsigned } => {
                let (lo, hi) = width.range(*unsigned);
                let x = number(v).round();
                let n = if x.is_nan() {
                    0
                } else if x <= lo as f64 {
                    lo
                } else if x >= hi as f64 {
                    hi
                } else {
                    x as i128
                };
                Some(if *unsigned {
                    Value::UInt(u64::try_from(n).ok()?)
                } else {
                    Value::Int(i64::try_from(n).ok()?)
                })
            }
            // Out of range or not a number: the zero year.
            SqlType::Year => Some(Value::Int(0)),
            // Too wide for the column: every bit set, as MariaDB stores it.
            SqlType::Bit(m) => Some(Value::UInt(bit_mask(*m))),
            SqlType::Bool => SqlType::Int {
                width: IntWidth::Tiny,
                unsigned: false,
            }
            .adjust_for_ignore(v),
            SqlType::Decimal { precision, scale } => {
                let max = Decimal::from_i128_with_scale(
                    10i128.checked_pow(u32::from(*precision))? - 1,
                    u32::from(*scale),
                );
                let d = match v {
                    Value::Decimal(d) => *d,
                    other => Decimal::from_f64_retain(number(other))
                        .unwrap_or(if number(other) < 0.0 { -max } else { max }),
                };
                Some(Value::Decimal(d.clamp(-max, max)))
            }
            SqlType::Float => {
                let x = number(v);
                let m = f64::from(f32::MAX);
                Some(Value::Double(if x.is_nan() { 0.0 } else { x.clamp(-m, m) }))
            }
            SqlType::Double => {
                let x = number(v);
                Some(Value::Double(if x.is_finite() { x } else { 0.0 }))
            }
            SqlType::Char(n) | SqlType::Varchar(n) => {
                let s = v.to_text_lossy();
                Some(Value::Str(s.chars().take(*n as usize).collect()))
            }
            SqlType::Text(n) => {
                let s = v.to_text_lossy();
                let mut cut = (*n as usize).min(s.len());
                while !s.is_char_boundary(cut) {
                    cut -= 1;
                }
                Some(Value::Str(s[..cut].to_string()))
            }
            SqlType::Binary(n) | SqlType::Varbinary(n) | SqlType::Blob(n) => {
                let mut b = match v {
                    Value::Bytes(b) => b.clone(),
                    other => other.to_text_lossy().into_bytes(),
                };
                b.truncate(*n as usize);
                Some(Value::Bytes(b))
            }
            // Not a date: the zero date.
            SqlType::Date => Some(Value::Str("0000-00-00".into())),
            SqlType::DateTime(_) | SqlType::Timestamp(_) => {
                Some(Value::Str("0000-00-00 00:00:00".into()))
            }
            // Past the range: its end; not a time at all: zero.
            SqlType::Time(_) => Some(Value::Time(match to_time(v) {
                Some(us) => us.clamp(-MAX_TIME_MICROS, MAX_TIME_MICROS),
                None => 0,
            })),
            // Not a member: '', ENUM's error value (index 0).
            SqlType::Enum(_) => Some(Value::Str(String::new())),
            // The members it names; the others are dropped.
            SqlType::Set(members) => {
                let text = v.to_text_lossy();
                let kept: Vec<&str> = text
                    .split(',')
                    .filter(|m| members.iter().any(|x| x.eq_ignore_ascii_case(m)))
                    .collect();
                Some(Value::Str(kept.join(",")))
            }
            SqlType::Uuid => None,
        }
    }

    /// Converts `v` into this column's storage shape, or explains why it does
    /// not fit (strict mode).
    fn coerce(&self, v: Value, column: &str) -> SqlResult<Value> {
        if v.is_null() {
            return Ok(Value::Null);
        }
        match self {
            SqlType::Int { width, unsigned } => coerce_int(v, *width, *unsigned, column),
            SqlType::Year => coerce_year(v, column),
            SqlType::Bit(m) => coerce_bit(v, *m, column),
            SqlType::Bool => coerce_int(v, IntWidth::Tiny, false, column),
            SqlType::Decimal { precision, scale } => {
                let d = match &v {
                    Value::Str(s) => {
                        if too_many_digits(s, *scale) {
                            return Err(SqlError::out_of_range(column));
                        }
                        parse_decimal(s).or_else(|| {
                            let t = s.trim();
                            t.parse::<f64>()
                                .ok()
                                .and_then(|f| Value::Double(f).to_decimal())
                        })
                    }
                    Value::Bytes(_) => v.to_decimal(),
                    _ => v.to_decimal(),
                }
                .ok_or_else(|| wrong_value("decimal", &v, column))?;
                // Held with at most 28 fractional digits (see
                // MAX_DECLARED_SCALE); output pads to the declared scale.
                let held = u32::from(*scale).min(MAX_DECIMAL_PRECISION);
                let d = d.round_dp_with_strategy(held, RoundingStrategy::MidpointAwayFromZero);
                let mut d = d;
                d.rescale(held);
                if d.scale() != held {
                    return Err(SqlError::out_of_range(column));
                }
                let int_digits = u32::from(*precision) - u32::from(*scale);
                if int_digits <= MAX_DECIMAL_PRECISION {
                    let limit = Decimal::from_i128_with_scale(10i128.pow(int_digits), 0);
                    if d.abs() >= limit {
                        return Err(SqlError::out_of_range(column));
                    }
                }
                Ok(Value::Decimal(d))
            }
            SqlType::Float => {
                let f = numeric_f64(&v, column)?;
                let r = f as f32;
                if r.is_infinite() && f.is_finite() {
                    return Err(SqlError::out_of_range(column));
                }
                // Stored as the double nearest to the float's printed digits,
                // so 1.1 reads back as 1.1 rather than 1.100000023841858.
                Ok(Value::Double(
                    format!("{r}").parse::<f64>().unwrap_or(f64::from(r)),
                ))
            }
            SqlType::Double => Ok(Value::Double(numeric_f64(&v, column)?)),
            SqlType::Char(n) | SqlType::Varchar(n) | SqlType::Text(n) => {
                let s = match v {
                    Value::Str(s) => s,
                    Value::Bytes(b) => String::from_utf8(b).map_err(|e| {
                        wrong_value("string", &Value::Bytes(e.into_bytes()), column)
                    })?,
                    other => other.to_text_lossy(),
                };
                let len = if matches!(self, SqlType::Text(_)) {
                    s.len()
                } else {
                    s.chars().count()
                };
                if len > *n as usize {
                    return Err(SqlError::data_too_long(column));
                }
                if matches!(self, SqlType::Char(_)) {
                    // CHAR drops trailing spaces on storage, as MySQL does.
                    return Ok(Value::Str(s.trim_end_matches(' ').to_string()));
                }
                Ok(Value::Str(s))
            }
            SqlType::Binary(n) | SqlType::Varbinary(n) | SqlType::Blob(n) => {
                let mut b = match v {
                    Value::Bytes(b) => b,
                    Value::Str(s) => s.into_bytes(),
                    other => other.to_text_lossy().into_bytes(),
                };
                if b.len() > *n as usize {
                    return Err(SqlError::data_too_long(column));
                }
                if matches!(self, SqlType::Binary(_)) {
                    b.resize(*n as usize, 0);
                }
                Ok(Value::Bytes(b))
            }
            SqlType::Date => match v {
                Value::Date(d) => Ok(Value::Date(d)),
                Value::DateTime(dt) => Ok(Value::Date(dt.date)),
                other => other
                    .to_datetime()
                    .map(|dt| Value::Date(dt.date))
                    .ok_or_else(|| wrong_value("date", &other, column)),
            },
            SqlType::DateTime(fsp) | SqlType::Timestamp(fsp) => {
                let dt = v
                    .to_datetime()
                    .ok_or_else(|| wrong_value("datetime", &v, column))?;
                Ok(Value::DateTime(dt.truncate_fsp(*fsp)))
            }
            SqlType::Uuid => match &v {
                Value::Uuid(u) => Ok(Value::Uuid(*u)),
                other => parse_uuid(&other.to_text_lossy())
                    .map(Value::Uuid)
                    .ok_or_else(|| wrong_value("uuid", other, column)),
            },
            SqlType::Time(fsp) => {
                let us = to_time(&v)
                    .filter(|us| us.abs() <= MAX_TIME_MICROS)
                    .ok_or_else(|| wrong_value("time", &v, column))?;
                let unit = 10i64.pow(6 - u32::from((*fsp).min(6)));
                Ok(Value::Time(us / unit * unit))
            }
            SqlType::Enum(variants) => {
                let s = match &v {
                    Value::Int(_) | Value::UInt(_) => {
                        let i = v.to_i64().unwrap_or(0);
                        if i >= 1 && (i as usize) <= variants.len() {
                            return Ok(Value::Str(variants[i as usize - 1].clone()));
                        }
                        return Err(SqlError::data_truncated(column));
                    }
                    other => other.to_text_lossy(),
                };
                variants
                    .iter()
                    .find(|x| x.eq_ignore_ascii_case(&s))
                    .map(|x| Value::Str(x.clone()))
                    .ok_or_else(|| SqlError::data_truncated(column))
            }
            SqlType::Set(members) => {
                let mask = match &v {
                    Value::Int(_) | Value::UInt(_) => {
                        let m = v.to_i64().unwrap_or(0) as u64;
                        if members.len() < 64 && m >> members.len() != 0 {
                            return Err(SqlError::data_truncated(column));
                        }
                        m
                    }
                    other => set_mask(members, &other.to_text_lossy())
                        .ok_or_else(|| SqlError::data_truncated(column))?,
                };
                Ok(Value::Str(set_text(members, mask)))
            }
        }
    }
}

/// Whether storing `v` into a column of type `ty` as `stored` changed it
/// in a way MariaDB reports with a Note 1265 (the statement still
/// succeeds, strict or not): digits past a DECIMAL's scale rounded away,
/// or trailing spaces after an integer.
pub fn quietly_changed(ty: &SqlType, v: &Value, stored: &Value) -> bool {
    match (ty, v, stored) {
        (SqlType::Decimal { .. }, Value::Decimal(_) | Value::Str(_), Value::Decimal(x)) => v
            .to_decimal()
            .is_some_and(|d| d.normalize() != x.normalize()),
        (SqlType::Int { .. }, Value::Str(s), _) => {
            s.ends_with(|c: char| c.is_ascii_whitespace()) && s.trim().parse::<i64>().is_ok()
        }
        _ => false,
    }
}

/// `v` cut to a string column's length when all it has past that length
/// is spaces (MariaDB stores it with a Note instead of failing).
pub fn without_excess_spaces(ty: &SqlType, v: &Value) -> Option<Value> {
    let n = match ty {
        SqlType::Char(n) | SqlType::Varchar(n) | SqlType::Text(n) => *n as usize,
        _ => return None,
    };
    let Value::Str(s) = v else {
        return None;
    };
    let mut chars = s.chars();
    let kept: String = chars.by_ref().take(n).collect();
    chars.all(|c| c == ' ').then_some(Value::Str(kept))
}

/// The value stored instead of `v` where a statement may adjust it
/// (IGNORE, non-strict sql_mode): `adjust_for_ignore`, checked by
/// `coerce`, except ENUM's '' error value, which no insert may name.
pub fn adjusted(ty: &SqlType, v: &Value, column: &str) -> Option<Value> {
    let a = ty.adjust_for_ignore(v)?;
    match ty.coerce(a.clone(), column) {
        Ok(c) => Some(c),
        Err(_) if matches!(ty, SqlType::Enum(_)) => Some(a),
        Err(_) => None,
    }
}

/// What an ENUM or SET value reads as a number and sorts by: an ENUM
/// member's 1-based position (0 for anything else, such as ''), a SET
/// value's bit mask (0 when it holds a non-member).
pub fn member_ordinal(members: &[String], set: bool, text: &str) -> u64 {
    if set {
        set_mask(members, text).unwrap_or(0)
    } else {
        members
            .iter()
            .position(|m| m.eq_ignore_ascii_case(text))
            .map_or(0, |i| i as u64 + 1)
    }
}

/// A two-digit year (1..=99) as a four-digit one: 1970..=2069.
pub fn two_digit_year(n: i64) -> i64 {
    if n < 70 {
        2000 + n
    } else {
        1900 + n
    }
}

/// The bit mask of a SET value given as text ('a,b'): None when an item is
/// not a member. Items match case-insensitively; repeats count once.
pub fn set_mask(members: &[String], text: &str) -> Option<u64> {
    let mut mask = 0u64;
    if text.is_empty() {
        return Some(0);
    }
    for item in text.split(',') {
        let i = members.iter().position(|m| m.eq_ignore_ascii_case(item))?;
        mask |= 1 << i;
    }
    Some(mask)
}

/// A SET value's text: the members in `mask`, in definition order.
pub fn set_text(members: &[String], mask: u64) -> String {
    members
        .iter()
        .enumerate()
        .filter(|(i, _)| mask >> i & 1 == 1)
        .map(|(_, m)| m.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// Whether a decimal literal holds more digits than a value can keep
/// (28) within the column's scale: then it must be refused, not rounded
/// by the parser or read as a double.
fn too_many_digits(s: &str, scale: u8) -> bool {
    let t = s.trim().trim_start_matches(['+', '-']);
    let (int, frac) = t.split_once('.').unwrap_or((t, ""));
    let plain = !t.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit());
    let int = int.trim_start_matches('0').len();
    // Digits past the scale are rounded away, as MariaDB does.
    let frac = frac
        .get(..frac.len().min(usize::from(scale)))
        .unwrap_or("")
        .trim_end_matches('0')
        .len();
    plain && int + frac > MAX_DECIMAL_PRECISION as usize
}

/// A value read as a TIME, in microseconds: numbers as [-]HHMMSS[.f],
/// strings as MySQL reads them, a datetime by its time of day.
pub fn to_time(v: &Value) -> Option<i64> {
    match v {
        Value::Null => None,
        Value::Time(us) => Some(*us),
        Value::DateTime(dt) => Some(dt.time_micros()),
        Value::Date(_) => Some(0),
        Value::Double(d) if !d.is_finite() => None,
        other => parse_time(&other.to_text_lossy()),
    }
}

pub(crate) fn wrong_value(kind: &str, v: &Value, column: &str) -> SqlError {
    let mut e = SqlError::truncated_wrong_value(kind, &v.to_text_lossy(), column);
    if matches!(kind, "date" | "datetime" | "time" | "uuid") {
        // MySQL reports bad temporal literals as ER_TRUNCATED_WRONG_VALUE.
        e.code = codes::TRUNCATED_WRONG_VALUE;
    }
    e
}

fn numeric_f64(v: &Value, column: &str) -> SqlResult<f64> {
    match v {
        // Rust reads "nan" and "inf" as numbers; MariaDB does not (1366),
        // and a number too large for a double is out of range (1264).
        Value::Str(s) => {
            let t = s.trim();
            let digits = t
                .trim_start_matches(['+', '-'])
                .starts_with(|c: char| c.is_ascii_digit() || c == '.');
            match t.parse::<f64>() {
                Ok(f) if f.is_finite() => Ok(f),
                Ok(_) if digits => Err(SqlError::out_of_range(column)),
                _ => Err(wrong_value("double", v, column)),
            }
        }
        other => other
            .to_f64()
            .ok_or_else(|| wrong_value("double", other, column)),
    }
}

/// The largest value of a BIT(m) column.
pub fn bit_mask(m: u8) -> u64 {
    if m >= 64 {
        u64::MAX
    } else {
        (1u64 << m) - 1
    }
}

/// A BIT(m) value. Numbers keep their two's-complement bits (-1 fills a
/// BIT(64)); strings are taken as big-endian bytes, as MariaDB stores `'a'`
/// as 0x61. Whatever needs more than `m` bits is 1406, as in strict mode.
fn coerce_bit(v: Value, m: u8, column: &str) -> SqlResult<Value> {
    let from_bytes = |b: &[u8]| -> SqlResult<u64> {
        let b = &b[b.iter().take_while(|x| **x == 0).count()..];
        if b.len() > 8 {
            return Err(SqlError::data_too_long(column));
        }
        Ok(b.iter().fold(0u64, |n, x| n << 8 | u64::from(*x)))
    };
    let n = match &v {
        Value::Int(i) => *i as u64,
        Value::UInt(u) => *u,
        Value::Double(d) => {
            let r = d.round();
            if !r.is_finite() || !(-9223372036854775808.0..18446744073709551616.0).contains(&r) {
                return Err(SqlError::data_too_long(column));
            }
            if r < 0.0 {
                r as i64 as u64
            } else {
                r as u64
            }
        }
        Value::Decimal(d) => {
            let r = d.round();
            match (i64::try_from(r), u64::try_from(r)) {
                (_, Ok(u)) => u,
                (Ok(i), _) => i as u64,
                _ => return Err(SqlError::data_too_long(column)),
            }
        }
        Value::Bytes(b) => from_bytes(b)?,
        other => from_bytes(other.to_text_lossy().as_bytes())?,
    };
    if n > bit_mask(m) {
        return Err(SqlError::data_too_long(column));
    }
    Ok(Value::UInt(n))
}

/// A YEAR value: two-digit years map to 1970..=2069 (the number 0 is the
/// zero year, the strings '0' and '00' are 2000), four-digit ones must lie
/// in 1901..=2155 (1264 otherwise).
fn coerce_year(v: Value, column: &str) -> SqlResult<Value> {
    let short_string = matches!(&v, Value::Str(s) if {
        let t = s.trim();
        (1..=2).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_digit())
    });
    let n: i128 = match coerce_int(v, IntWidth::Big, false, column)? {
        Value::Int(i) => i.into(),
        Value::UInt(u) => u.into(),
        _ => 0,
    };
    let y = match n {
        0 if !short_string => 0,
        0..=99 => two_digit_year(n as i64),
        1901..=2155 => n as i64,
        _ => return Err(SqlError::out_of_range(column)),
    };
    Ok(Value::Int(y))
}

fn coerce_int(v: Value, width: IntWidth, unsigned: bool, column: &str) -> SqlResult<Value> {
    let n: i128 = match &v {
        Value::Int(i) => i128::from(*i),
        Value::UInt(u) => i128::from(*u),
        Value::Double(d) => {
            if !d.is_finite() {
                return Err(SqlError::out_of_range(column));
            }
            let r = d.round();
            if r.abs() > 1.8e19 {
                return Err(SqlError::out_of_range(column));
            }
            r as i128
        }
        Value::Decimal(d) => d
            .round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero)
            .to_i128()
            .ok_or_else(|| SqlError::out_of_range(column))?,
        Value::Str(_) | Value::Bytes(_) => {
            let s = v.to_text_lossy();
            let t = s.trim();
            if let Ok(i) = t.parse::<i128>() {
                i
            } else if let Some(d) = parse_decimal(t) {
                d.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero)
                    .to_i128()
                    .ok_or_else(|| SqlError::out_of_range(column))?
            } else if let Ok(f) = t.parse::<f64>() {
                f.round() as i128
            } else {
                return Err(wrong_value("integer", &v, column));
            }
        }
        Value::Date(_) | Value::DateTime(_) | Value::Time(_) | Value::Uuid(_) => {
            i128::from(v.to_i64().unwrap_or(0))
        }
        Value::Null => return Ok(Value::Null),
    };
    let (lo, hi) = width.range(unsigned);
    if n < lo || n > hi {
        return Err(SqlError::out_of_range(column));
    }
    Ok(if unsigned {
        Value::UInt(n as u64)
    } else {
        Value::Int(n as i64)
    })
}

/// Checks a DECIMAL(p, s) declaration.
pub fn check_decimal(precision: u64, scale: u64, column: &str) -> SqlResult<(u8, u8)> {
    if precision > u64::from(MAX_DECLARED_PRECISION) {
        return Err(SqlError::too_big_precision(
            precision as u32,
            column,
            MAX_DECLARED_PRECISION,
        ));
    }
    if scale > u64::from(MAX_DECLARED_SCALE) {
        return Err(SqlError::new(
            1425,
            "42000",
            format!(
                "Too big scale {scale} specified for '{column}'. Maximum is {MAX_DECLARED_SCALE}."
            ),
        ));
    }
    if scale > precision {
        return Err(SqlError::new(
            1427,
            "42000",
            format!(
                "For float(M,D), double(M,D) or decimal(M,D), M must be >= D (column '{column}')."
            ),
        ));
    }
    Ok((precision as u8, scale as u8))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_ranges_are_enforced() {
        let t = SqlType::Int {
            width: IntWidth::Tiny,
            unsigned: false,
        };
        assert!(t.coerce(Value::Int(127), "c").is_ok());
        assert_eq!(t.coerce(Value::Int(128), "c").unwrap_err().code, 1264);
        let u = SqlType::Int {
            width: IntWidth::Int,
            unsigned: true,
        };
        assert_eq!(u.coerce(Value::Int(-1), "c").unwrap_err().code, 1264);
        assert!(matches!(
            u.coerce(Value::Str("42".into()), "c").unwrap(),
            Value::UInt(42)
        ));
        assert_eq!(
            SqlType::Int {
                width: IntWidth::Int,
                unsigned: false
            }
            .coerce(Value::Str("abc".into()), "c")
            .unwrap_err()
            .code,
            1366
        );
    }

    #[test]
    fn decimal_scale_and_precision() {
        let t = SqlType::Decimal {
            precision: 5,
            scale: 2,
        };
        let v = t.coerce(Value::Str("12.345".into()), "c").unwrap();
        assert_eq!(v.to_text().unwrap(), "12.35");
        let v = t.coerce(Value::Int(3), "c").unwrap();
        assert_eq!(v.to_text().unwrap(), "3.00");
        assert_eq!(t.coerce(Value::Int(1000), "c").unwrap_err().code, 1264);
    }

    #[test]
    fn strings_are_checked_for_length() {
        let t = SqlType::Varchar(3);
        assert!(t.coerce(Value::Str("abc".into()), "c").is_ok());
        assert_eq!(
            t.coerce(Value::Str("abcd".into()), "c").unwrap_err().code,
            1406
        );
        // Length counts characters, not bytes.
        assert!(t.coerce(Value::Str("äöü".into()), "c").is_ok());
    }

    #[test]
    fn enums_and_dates() {
        let e = SqlType::Enum(vec!["a".into(), "b".into()]);
        assert!(
            matches!(e.coerce(Value::Str("B".into()), "c").unwrap(), Value::Str(s) if s == "b")
        );
        assert!(e.coerce(Value::Str("z".into()), "c").is_err());
        let d = SqlType::Date;
        assert_eq!(
            d.coerce(Value::Str("2024-02-30".into()), "c")
                .unwrap_err()
                .code,
            1292
        );
        assert_eq!(
            d.coerce(Value::Str("2024-02-03".into()), "c")
                .unwrap()
                .to_text()
                .unwrap(),
            "2024-02-03"
        );
    }

    #[test]
    fn harmless_changes_are_told_apart_from_failures() {
        let dec = SqlType::Decimal {
            precision: 5,
            scale: 2,
        };
        let d = |t: &str| Value::Decimal(t.parse().unwrap());
        assert!(quietly_changed(&dec, &d("1.005"), &d("1.01")));
        assert!(quietly_changed(
            &dec,
            &Value::Str("1.005".into()),
            &d("1.01")
        ));
        assert!(!quietly_changed(&dec, &d("1.00"), &d("1.00")));
        let int = SqlType::Int {
            width: IntWidth::Int,
            unsigned: false,
        };
        assert!(quietly_changed(
            &int,
            &Value::Str("42 ".into()),
            &Value::Int(42)
        ));
        assert!(!quietly_changed(
            &int,
            &Value::Str(" 42".into()),
            &Value::Int(42)
        ));
        let v3 = SqlType::Varchar(3);
        assert_eq!(
            without_excess_spaces(&v3, &Value::Str("ab   ".into())),
            Some(Value::Str("ab ".into()))
        );
        assert_eq!(without_excess_spaces(&v3, &Value::Str("abcd".into())), None);
    }
}
