//! SQL values and MySQL's rules for comparing, converting and computing with
//! them.
//!
//! A stored value always has the shape of its column's type (see
//! `types::SqlType::coerce`): INT columns hold `Int`, UNSIGNED ones `UInt`,
//! DECIMAL columns a `Decimal` at the column's scale, and so on. Expressions
//! may mix shapes; the rules below follow MySQL's: numbers compare
//! numerically, a string compared with a number is read as a number, a string
//! compared with a date is read as a date, and NULL compares as unknown.
//!
//! `compare` orders strings by their bytes; `compare_collated` under a
//! collation, which the SQL layer derives for each comparison.

use std::cmp::Ordering;
use std::fmt::{self, Write as _};

use rust_decimal::prelude::{FromPrimitive, ToPrimitive};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::collation::Collation;

/// Largest number of decimal digits a DECIMAL can hold here (rust_decimal's
/// 96-bit mantissa). MySQL allows 65; a larger declaration is refused with
/// ER_TOO_BIG_PRECISION rather than silently rounded.
pub const MAX_DECIMAL_PRECISION: u32 = 28;
/// The widest DECIMAL(M, D) a column may declare (MariaDB's limits). Values
/// are still held with at most `MAX_DECIMAL_PRECISION` digits: one that
/// needs more is refused (1264), never rounded silently, and the declared
/// scale is reached on output by padding zeros.
pub const MAX_DECLARED_PRECISION: u32 = 65;
pub const MAX_DECLARED_SCALE: u32 = 38;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Value {
    Null,
    Int(i64),
    UInt(u64),
    Double(f64),
    Decimal(#[serde(with = "decimal_serde")] Decimal),
    Str(String),
    Bytes(Vec<u8>),
    Date(Date),
    DateTime(DateTime),
    /// TIME: signed microseconds, within ±838:59:59.999999 (appended
    /// last so encoded rows and write-sets from before keep their tags).
    Time(i64),
    /// UUID, as its 128 bits (appended after TIME, for the same reason).
    Uuid(u128),
}

/// DECIMAL as (mantissa, scale): rust_decimal's own serde form needs a
/// self-describing format, which bincode is not.
mod decimal_serde {
    use rust_decimal::Decimal;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(d: &Decimal, s: S) -> Result<S::Ok, S::Error> {
        (d.mantissa(), d.scale()).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
        let (m, scale) = <(i128, u32)>::deserialize(d)?;
        Decimal::try_from_i128_with_scale(m, scale).map_err(serde::de::Error::custom)
    }
}

/// A calendar date, compared field by field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Date {
    pub year: u16,
    pub month: u8,
    pub day: u8,
}

/// A date and time of day with microseconds (DATETIME and TIMESTAMP).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct DateTime {
    pub date: Date,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    pub micro: u32,
}

impl Date {
    pub fn new(year: u16, month: u8, day: u8) -> Option<Date> {
        // MySQL accepts the zero date '0000-00-00'; everything else must be a
        // real calendar day.
        if year == 0 && month == 0 && day == 0 {
            return Some(Date { year, month, day });
        }
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        Some(Date { year, month, day })
    }

    /// Days since 1970-01-01 (proleptic Gregorian).
    pub fn to_days(self) -> i64 {
        let y = i64::from(self.year) - i64::from(self.month <= 2);
        let era = if y >= 0 { y } else { y - 399 } / 400;
        let yoe = y - era * 400;
        let m = i64::from(self.month);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    pub fn from_days(z: i64) -> Date {
        let z = z + 719_468;
        let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let y = yoe + era * 400;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        let y = if m <= 2 { y + 1 } else { y };
        Date {
            year: y.clamp(0, 9999) as u16,
            month: m as u8,
            day: d as u8,
        }
    }
}

fn is_leap(y: u16) -> bool {
    (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400)
}

fn days_in_month(y: u16, m: u8) -> u8 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

impl DateTime {
    pub fn from_date(date: Date) -> DateTime {
        DateTime {
            date,
            hour: 0,
            minute: 0,
            second: 0,
            micro: 0,
        }
    }

    /// The current UTC time. trireme's session time zone is always UTC
    /// (`@@time_zone = '+00:00'`), so NOW() agrees on every node.
    pub fn now() -> DateTime {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Self::from_unix_micros(d.as_micros() as i64)
    }

    pub fn from_unix_micros(us: i64) -> DateTime {
        let secs = us.div_euclid(1_000_000);
        let micro = us.rem_euclid(1_000_000) as u32;
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400);
        DateTime {
            date: Date::from_days(days),
            hour: (sod / 3600) as u8,
            minute: (sod / 60 % 60) as u8,
            second: (sod % 60) as u8,
            micro,
        }
    }

    pub fn to_unix_micros(self) -> i64 {
        let secs = self.date.to_days() * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second);
        secs * 1_000_000 + i64::from(self.micro)
    }

    /// Rounds away digits beyond `fsp` fractional digits.
    pub fn truncate_fsp(mut self, fsp: u8) -> DateTime {
        let unit = 10u32.pow(6 - u32::from(fsp.min(6)));
        self.micro = self.micro / unit * unit;
        self
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl DateTime {
    /// The time of day in microseconds.
    pub fn time_micros(&self) -> i64 {
        (i64::from(self.hour) * 3600 + i64::from(self.minute) * 60 + i64::from(self.second))
            * 1_000_000
            + i64::from(self.micro)
    }

    pub fn format(&self, fsp: u8) -> String {
        let mut s = format!(
            "{} {:02}:{:02}:{:02}",
            self.date, self.hour, self.minute, self.second
        );
        if fsp > 0 {
            let digits = format!("{:06}", self.micro);
            s.push('.');
            s.push_str(&digits[..usize::from(fsp.min(6))]);
        }
        s
    }
}

/// Parses MySQL's date literal forms: 'YYYY-MM-DD', 'YYYY-M-D', 'YYYYMMDD'.
pub fn parse_date(s: &str) -> Option<Date> {
    parse_datetime(s).and_then(|dt| {
        if dt.hour == 0 && dt.minute == 0 && dt.second == 0 && dt.micro == 0 {
            Some(dt.date)
        } else {
            None
        }
    })
}

/// Parses 'YYYY-MM-DD[ HH:MM:SS[.ffffff]]', the 'T' separator, and the
/// compact 'YYYYMMDD[HHMMSS]' form.
pub fn parse_datetime(s: &str) -> Option<DateTime> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        let n = s.len();
        if n != 8 && n != 14 {
            return None;
        }
        let num = |a: usize, b: usize| s[a..b].parse::<u32>().ok();
        let date = Date::new(num(0, 4)? as u16, num(4, 6)? as u8, num(6, 8)? as u8)?;
        let mut dt = DateTime::from_date(date);
        if n == 14 {
            dt.hour = num(8, 10)? as u8;
            dt.minute = num(10, 12)? as u8;
            dt.second = num(12, 14)? as u8;
        }
        return valid_time(dt);
    }
    let (date_part, time_part) = match s.find([' ', 'T']) {
        Some(i) => (&s[..i], Some(s[i + 1..].trim())),
        None => (s, None),
    };
    let mut it = date_part.split('-');
    let y: u16 = it.next()?.parse().ok()?;
    let m: u8 = it.next()?.parse().ok()?;
    let d: u8 = it.next()?.parse().ok()?;
    if it.next().is_some() {
        return None;
    }
    let mut dt = DateTime::from_date(Date::new(y, m, d)?);
    if let Some(t) = time_part.filter(|t| !t.is_empty()) {
        let (hms, frac) = match t.split_once('.') {
            Some((a, b)) => (a, Some(b)),
            None => (t, None),
        };
        let mut it = hms.split(':');
        dt.hour = it.next()?.parse().ok()?;
        dt.minute = it.next().unwrap_or("0").parse().ok()?;
        dt.second = it.next().unwrap_or("0").parse().ok()?;
        if it.next().is_some() {
            return None;
        }
        if let Some(frac) = frac {
            if frac.is_empty() || !frac.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let mut digits: String = frac.chars().take(6).collect();
            while digits.len() < 6 {
                digits.push('0');
            }
            dt.micro = digits.parse().ok()?;
        }
    }
    valid_time(dt)
}

fn valid_time(dt: DateTime) -> Option<DateTime> {
    (dt.hour < 24 && dt.minute < 60 && dt.second < 60).then_some(dt)
}

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn from_bool(b: bool) -> Value {
        Value::Int(i64::from(b))
    }

    /// MySQL truthiness: NULL is unknown (None); numbers are true when
    /// non-zero; strings are read as numbers.
    pub fn truth(&self) -> Option<bool> {
        match self {
            Value::Null => None,
            Value::Int(i) => Some(*i != 0),
            Value::UInt(u) => Some(*u != 0),
            Value::Double(d) => Some(*d != 0.0),
            Value::Decimal(d) => Some(!d.is_zero()),
            Value::Str(s) => Some(str_to_f64(s) != 0.0),
            Value::Bytes(b) => Some(str_to_f64(&String::from_utf8_lossy(b)) != 0.0),
            Value::Date(_) | Value::DateTime(_) => Some(true),
            Value::Time(us) => Some(*us != 0),
            Value::Uuid(_) => Some(true),
        }
    }

    pub fn is_numeric(&self) -> bool {
        matches!(
            self,
            Value::Int(_) | Value::UInt(_) | Value::Double(_) | Value::Decimal(_)
        )
    }

    pub fn is_stringish(&self) -> bool {
        matches!(self, Value::Str(_) | Value::Bytes(_))
    }

    /// The value as a double (strings are read like MySQL reads them: the
    /// longest numeric prefix, else 0).
    pub fn to_f64(&self) -> Option<f64> {
        Some(match self {
            Value::Null => return None,
            Value::Int(i) => *i as f64,
            Value::UInt(u) => *u as f64,
            Value::Double(d) => *d,
            Value::Decimal(d) => d.to_f64().unwrap_or(0.0),
            Value::Str(s) => str_to_f64(s),
            Value::Bytes(b) => str_to_f64(&String::from_utf8_lossy(b)),
            Value::Date(d) => date_number(*d) as f64,
            Value::DateTime(dt) => datetime_number(dt),
            Value::Time(us) => time_number(*us).to_f64().unwrap_or(0.0),
            Value::Uuid(_) => 0.0,
        })
    }

    /// The value as a signed integer, rounding like MySQL's CAST(x AS SIGNED).
    pub fn to_i64(&self) -> Option<i64> {
        match self {
            Value::Null => None,
            Value::Int(i) => Some(*i),
            Value::UInt(u) => Some(*u as i64),
            // MariaDB rounds a DOUBLE half to even (rint) and a DECIMAL
            // half away from zero.
            Value::Double(d) => Some(d.round_ties_even() as i64),
            Value::Decimal(d) => d
                .round_dp_with_strategy(0, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
                .to_i64(),
            Value::Str(_) | Value::Bytes(_) => {
                let s = self.to_text_lossy();
                let t = s.trim();
                t.parse::<i64>()
                    .ok()
                    .or_else(|| Some(str_to_f64(t).round() as i64))
            }
            Value::Date(d) => Some(date_number(*d)),
            Value::DateTime(dt) => Some(datetime_number(dt) as i64),
            Value::Time(us) => time_number(*us).round().to_i64(),
            Value::Uuid(_) => Some(0),
        }
    }

    pub fn to_decimal(&self) -> Option<Decimal> {
        match self {
            Value::Null => None,
            Value::Int(i) => Some(Decimal::from(*i)),
            Value::UInt(u) => Some(Decimal::from(*u)),
            Value::Double(d) => Decimal::from_f64(*d),
            Value::Decimal(d) => Some(*d),
            Value::Str(_) | Value::Bytes(_) => {
                let s = self.to_text_lossy();
                let t = s.trim();
                parse_decimal(t).or_else(|| Decimal::from_f64(str_to_f64(t)))
            }
            Value::Date(d) => Some(Decimal::from(date_number(*d))),
            Value::DateTime(dt) => Decimal::from_f64(datetime_number(dt)),
            Value::Time(us) => Some(time_number(*us)),
            Value::Uuid(_) => Some(Decimal::ZERO),
        }
    }

    /// The text MySQL's text protocol sends for this value (None for NULL).
    pub fn to_text(&self) -> Option<String> {
        Some(match self {
            Value::Null => return None,
            Value::Int(i) => i.to_string(),
            Value::UInt(u) => u.to_string(),
            Value::Double(d) => format_double(*d),
            Value::Decimal(d) => d.to_string(),
            Value::Str(s) => s.clone(),
            Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
            Value::Date(d) => d.to_string(),
            Value::DateTime(dt) => dt.format(if dt.micro == 0 { 0 } else { 6 }),
            Value::Time(us) => format_time(*us, if us % 1_000_000 == 0 { 0 } else { 6 }),
            Value::Uuid(u) => format_uuid(*u),
        })
    }

    pub fn to_text_lossy(&self) -> String {
        self.to_text().unwrap_or_else(|| "NULL".to_string())
    }

    /// Bytes for string functions and the wire: strings as UTF-8.
    pub fn to_bytes(&self) -> Option<Vec<u8>> {
        match self {
            Value::Bytes(b) => Some(b.clone()),
            other => other.to_text().map(String::into_bytes),
        }
    }

    pub fn to_datetime(&self) -> Option<DateTime> {
        match self {
            Value::Date(d) => Some(DateTime::from_date(*d)),
            Value::DateTime(dt) => Some(*dt),
            Value::Str(s) => parse_datetime(s),
            Value::Bytes(b) => parse_datetime(&String::from_utf8_lossy(b)),
            Value::Int(_) | Value::UInt(_) => {
                let n = self.to_i64()?;
                if n <= 0 {
                    return None;
                }
                parse_datetime(&n.to_string())
            }
            _ => None,
        }
    }
}

/// YYYYMMDD as a number, as MySQL reads a DATE in numeric context.
/// A date as the number MySQL reads it as (YYYYMMDD).
pub fn date_number(d: Date) -> i64 {
    i64::from(d.year) * 10_000 + i64::from(d.month) * 100 + i64::from(d.day)
}

fn datetime_number(dt: &DateTime) -> f64 {
    let n = date_number(dt.date) * 1_000_000
        + i64::from(dt.hour) * 10_000
        + i64::from(dt.minute) * 100
        + i64::from(dt.second);
    n as f64 + f64::from(dt.micro) / 1e6
}

/// MySQL reads the longest numeric prefix of a string ('12abc' is 12,
/// 'abc' is 0).
pub fn str_to_f64(s: &str) -> f64 {
    let t = s.trim_start();
    let b = t.as_bytes();
    let mut end = 0;
    if end < b.len() && (b[end] == b'+' || b[end] == b'-') {
        end += 1;
    }
    let digits_start = end;
    while end < b.len() && b[end].is_ascii_digit() {
        end += 1;
    }
    if end < b.len() && b[end] == b'.' {
        end += 1;
        while end < b.len() && b[end].is_ascii_digit() {
            end += 1;
        }
    }
    if end == digits_start {
        return 0.0;
    }
    let mantissa_end = end;
    if end < b.len() && (b[end] == b'e' || b[end] == b'E') {
        let mut e = end + 1;
        if e < b.len() && (b[e] == b'+' || b[e] == b'-') {
            e += 1;
        }
        let exp_digits = e;
        while e < b.len() && b[e].is_ascii_digit() {
            e += 1;
        }
        if e > exp_digits {
            end = e;
        }
    }
    // An exponent out of range ('1e999') keeps the mantissa.
    t[..end]
        .parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .or_else(|| t[..mantissa_end].parse::<f64>().ok())
        .unwrap_or(0.0)
}

/// Parses an exact decimal literal ("12.50", "-3", "1e3" is not exact).
pub fn parse_decimal(s: &str) -> Option<Decimal> {
    let t = s.trim();
    if t.is_empty() || t.contains(['e', 'E']) {
        return None;
    }
    t.parse::<Decimal>().ok()
}

/// Formats a double the way MySQL prints one: shortest round-trip digits,
/// exponent form for very large or small magnitudes.
pub fn format_double(d: f64) -> String {
    if d.is_nan() {
        return "NaN".into();
    }
    if d.is_infinite() {
        return if d > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if d == 0.0 {
        return "0".into();
    }
    let abs = d.abs();
    if !(1e-15..1e15).contains(&abs) {
        let s = format!("{d:e}");
        // Rust prints "1e20"; MySQL prints "1e20" as well, and "1.5e-20".
        return s;
    }
    let mut s = String::new();
    let _ = write!(s, "{d}");
    s
}

/// A UUID as MariaDB shows it: 8-4-4-4-12 lowercase hex digits.
pub fn format_uuid(u: u128) -> String {
    let h = format!("{u:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// The order MariaDB keeps UUIDs in: an RFC 4122 UUID (variant 1,
/// version 1 to 5) llllllll-mmmm-Vhhh-vsss-nnnnnnnnnnnn sorts as
/// nnnnnnnnnnnn-vsss-Vhhh-mmmm-llllllll, so time-based ones cluster by
/// node and time; any other UUID sorts by its bytes.
pub fn uuid_order(u: u128) -> u128 {
    let version = (u >> 76) & 0xF;
    let variant = (u >> 60) & 0xC;
    if !(1..=5).contains(&version) || variant != 0x8 {
        return u;
    }
    let l = (u >> 96) & 0xFFFF_FFFF;
    let m = (u >> 80) & 0xFFFF;
    let h = (u >> 64) & 0xFFFF;
    let v = (u >> 48) & 0xFFFF;
    let n = u & 0xFFFF_FFFF_FFFF;
    (n << 80) | (v << 64) | (h << 48) | (m << 32) | l
}

/// Reads a UUID: 32 hex digits, either case, hyphens allowed between
/// digit groups (MariaDB also takes them without any), optional braces.
pub fn parse_uuid(s: &str) -> Option<u128> {
    let t = s.trim();
    let t = t
        .strip_prefix('{')
        .and_then(|x| x.strip_suffix('}'))
        .unwrap_or(t);
    if t.starts_with('-') || t.ends_with('-') || t.contains("--") {
        return None;
    }
    let hex: String = t.chars().filter(|c| *c != '-').collect();
    if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u128::from_str_radix(&hex, 16).ok()
}

/// The largest TIME magnitude, 838:59:59.999999, in microseconds.
pub const MAX_TIME_MICROS: i64 = (838 * 3600 + 59 * 60 + 59) * 1_000_000 + 999_999;

/// A TIME as a number, [-]HHMMSS.ffffff (what `t + 0` reads).
fn time_number(us: i64) -> Decimal {
    let a = us.unsigned_abs();
    let secs = a / 1_000_000;
    let whole = secs / 3600 * 10_000 + secs / 60 % 60 * 100 + secs % 60;
    let n = Decimal::from(whole) + Decimal::new((a % 1_000_000) as i64, 6);
    if us < 0 {
        -n
    } else {
        n
    }
}

/// A TIME as MariaDB prints it: [-]HH:MM:SS with `fsp` fractional digits
/// (hours may exceed 24).
pub fn format_time(us: i64, fsp: u8) -> String {
    let sign = if us < 0 { "-" } else { "" };
    let a = us.unsigned_abs();
    let (secs, micro) = (a / 1_000_000, a % 1_000_000);
    let mut out = format!(
        "{sign}{:02}:{:02}:{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    );
    if fsp > 0 {
        let digits = format!("{micro:06}");
        out.push('.');
        out.push_str(&digits[..usize::from(fsp.min(6))]);
    }
    out
}

/// Parses a TIME the ways MySQL reads one: '[-][D ]HH:MM:SS[.f]', 'HH:MM',
/// 'HHMMSS' / 'MMSS' / 'SS' digits; a datetime gives its time of day.
/// Out of range is not checked here (see `MAX_TIME_MICROS`).
pub fn parse_time(s: &str) -> Option<i64> {
    let s = s.trim();
    if s.contains(['-', ' ']) && !s.starts_with('-') {
        if let Some(dt) = parse_datetime(s) {
            return Some(dt.time_micros());
        }
    }
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b.trim()),
        None => (false, s),
    };
    let (days, body) = match body.split_once(' ') {
        Some((d, rest)) => (d.parse::<i64>().ok()?, rest.trim()),
        None => (0, body),
    };
    let (hms, frac) = match body.split_once('.') {
        Some((a, f)) => (a, f),
        None => (body, ""),
    };
    if frac.bytes().any(|b| !b.is_ascii_digit()) || hms.is_empty() {
        return None;
    }
    let micro: i64 = if frac.is_empty() {
        0
    } else {
        let mut d: String = frac.chars().take(6).collect();
        while d.len() < 6 {
            d.push('0');
        }
        d.parse().ok()?
    };
    let n = |x: &str| {
        if x.is_empty() || x.len() > 10 || !x.bytes().all(|b| b.is_ascii_digit()) {
            None
        } else {
            x.parse::<i64>().ok()
        }
    };
    let (h, m, sec) = if hms.contains(':') {
        let p: Vec<&str> = hms.split(':').collect();
        match p.as_slice() {
            [h, m] => (n(h)?, n(m)?, 0),
            [h, m, s] => (n(h)?, n(m)?, n(s)?),
            _ => return None,
        }
    } else {
        let v = n(hms)?;
        (v / 10_000, v / 100 % 100, v % 100)
    };
    if m > 59 || sec > 59 {
        return None;
    }
    let us = ((days * 24 + h) * 3600 + m * 60 + sec)
        .checked_mul(1_000_000)?
        .checked_add(micro)?;
    Some(if neg { -us } else { us })
}

/// Compares two values under MySQL's rules; None when either is NULL.
pub fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    use Value::*;
    Some(match (a, b) {
        (Null, _) | (_, Null) => return None,
        (Int(x), Int(y)) => x.cmp(y),
        (UInt(x), UInt(y)) => x.cmp(y),
        (Int(x), UInt(y)) => i128::from(*x).cmp(&i128::from(*y)),
        (UInt(x), Int(y)) => i128::from(*x).cmp(&i128::from(*y)),
        (Str(x), Str(y)) => x.as_bytes().cmp(y.as_bytes()),
        (Bytes(x), Bytes(y)) => x.as_slice().cmp(y.as_slice()),
        (Str(x), Bytes(y)) => x.as_bytes().cmp(y.as_slice()),
        (Bytes(x), Str(y)) => x.as_slice().cmp(y.as_bytes()),
        (Date(x), Date(y)) => x.cmp(y),
        (DateTime(x), DateTime(y)) => x.cmp(y),
        (Date(x), DateTime(y)) => crate::value::DateTime::from_date(*x).cmp(y),
        (DateTime(x), Date(y)) => x.cmp(&crate::value::DateTime::from_date(*y)),
        (Date(_) | DateTime(_), Str(_) | Bytes(_)) => match b.to_datetime() {
            Some(y) => a.to_datetime()?.cmp(&y),
            None => a
                .to_text_lossy()
                .as_bytes()
                .cmp(b.to_text_lossy().as_bytes()),
        },
        (Str(_) | Bytes(_), Date(_) | DateTime(_)) => return compare(b, a).map(Ordering::reverse),
        (Time(x), Time(y)) => x.cmp(y),
        (Time(x), Str(_) | Bytes(_)) => match parse_time(&b.to_text_lossy()) {
            Some(y) => x.cmp(&y),
            None => a
                .to_text_lossy()
                .as_bytes()
                .cmp(b.to_text_lossy().as_bytes()),
        },
        (Str(_) | Bytes(_), Time(_)) => return compare(b, a).map(Ordering::reverse),
        (Uuid(x), Uuid(y)) => uuid_order(*x).cmp(&uuid_order(*y)),
        (Uuid(x), Str(_) | Bytes(_)) => match parse_uuid(&b.to_text_lossy()) {
            Some(y) => uuid_order(*x).cmp(&uuid_order(y)),
            None => a
                .to_text_lossy()
                .as_bytes()
                .cmp(b.to_text_lossy().as_bytes()),
        },
        (Str(_) | Bytes(_), Uuid(_)) => return compare(b, a).map(Ordering::reverse),
        (Uuid(_), _) | (_, Uuid(_)) => a
            .to_text_lossy()
            .as_bytes()
            .cmp(b.to_text_lossy().as_bytes()),
        (Double(_), _) | (_, Double(_)) => cmp_f64(a.to_f64()?, b.to_f64()?),
        (Decimal(_), Int(_) | UInt(_) | Decimal(_)) | (Int(_) | UInt(_), Decimal(_)) => {
            a.to_decimal()?.cmp(&b.to_decimal()?)
        }
        // A string against a number: both as doubles, as MySQL does.
        _ => cmp_f64(a.to_f64()?, b.to_f64()?),
    })
}

/// `compare`, with two strings compared under `coll` (None: by bytes).
pub fn compare_collated(a: &Value, b: &Value, coll: Option<Collation>) -> Option<Ordering> {
    match (a, b, coll) {
        (Value::Str(x), Value::Str(y), Some(c)) => Some(c.compare(x, y)),
        _ => compare(a, b),
    }
}

/// `sort_cmp` with strings under `coll`.
pub fn sort_cmp_collated(a: &Value, b: &Value, coll: Option<Collation>) -> Ordering {
    match (a.is_null(), b.is_null()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        _ => compare_collated(a, b, coll).unwrap_or(Ordering::Equal),
    }
}

fn cmp_f64(x: f64, y: f64) -> Ordering {
    x.partial_cmp(&y).unwrap_or(Ordering::Equal)
}

/// A total order for sorting, grouping and DISTINCT: NULL first, then by
/// `compare`.
pub fn sort_cmp(a: &Value, b: &Value) -> Ordering {
    match (a.is_null(), b.is_null()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        _ => compare(a, b).unwrap_or(Ordering::Equal),
    }
}

/// Equality for grouping and DISTINCT (NULLs group together).
pub fn group_eq(a: &Value, b: &Value) -> bool {
    sort_cmp(a, b) == Ordering::Equal
}

impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        group_eq(self, other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_double_rounds_half_to_even_and_a_decimal_half_away_from_zero() {
        let d = |x: f64| Value::Double(x).to_i64();
        assert_eq!(
            [d(2.5), d(3.5), d(-2.5), d(1.5), d(2.4)],
            [Some(2), Some(4), Some(-2), Some(2), Some(2)]
        );
        let dec = |t: &str| Value::Decimal(t.parse().unwrap()).to_i64();
        assert_eq!(
            [dec("2.5"), dec("3.5"), dec("-2.5"), dec("1.4999")],
            [Some(3), Some(4), Some(-3), Some(1)]
        );
    }

    #[test]
    fn days_round_trip() {
        for days in [-719_000i64, -1, 0, 1, 59, 365, 11_000, 2_932_896] {
            assert_eq!(Date::from_days(days).to_days(), days);
        }
        assert_eq!(Date::from_days(0), Date::new(1970, 1, 1).unwrap());
        assert_eq!(Date::new(2024, 2, 29).unwrap().to_days(), 19_782);
    }

    #[test]
    fn datetime_parsing() {
        let dt = parse_datetime("2024-01-02 03:04:05.5").unwrap();
        assert_eq!(dt.format(1), "2024-01-02 03:04:05.5");
        assert_eq!(dt.micro, 500_000);
        assert!(parse_datetime("2023-02-29").is_none());
        assert!(parse_datetime("2024-13-01").is_none());
        assert_eq!(parse_date("20240102").unwrap().to_string(), "2024-01-02");
        assert!(parse_datetime("garbage").is_none());
    }

    #[test]
    fn mixed_comparisons_follow_mysql() {
        assert_eq!(
            compare(&Value::Int(2), &Value::Str("10".into())),
            Some(Ordering::Less)
        );
        assert_eq!(
            compare(&Value::Str("abc".into()), &Value::Int(0)),
            Some(Ordering::Equal)
        );
        assert_eq!(
            compare(&Value::UInt(u64::MAX), &Value::Int(-1)),
            Some(Ordering::Greater)
        );
        assert_eq!(compare(&Value::Null, &Value::Int(1)), None);
        let d = Value::Date(Date::new(2024, 1, 2).unwrap());
        assert_eq!(
            compare(&d, &Value::Str("2024-01-02".into())),
            Some(Ordering::Equal)
        );
        assert_eq!(
            compare(
                &Value::Decimal("1.50".parse().unwrap()),
                &Value::Double(1.5)
            ),
            Some(Ordering::Equal)
        );
    }

    #[test]
    fn string_prefix_numbers() {
        assert_eq!(str_to_f64("12abc"), 12.0);
        assert_eq!(str_to_f64("abc"), 0.0);
        assert_eq!(str_to_f64(" -1.5e3x"), -1500.0);
    }
}

#[cfg(test)]
mod uuid_tests {
    use super::*;

    #[test]
    fn uuids_parse_format_and_order_as_mariadb() {
        let a = parse_uuid("123E4567-E89B-12D3-A456-426655440000").unwrap();
        assert_eq!(parse_uuid("123e4567e89b12d3a456426655440000"), Some(a));
        assert_eq!(format_uuid(a), "123e4567-e89b-12d3-a456-426655440000");
        assert_eq!(parse_uuid("xyz"), None);
        assert_eq!(parse_uuid("123e4567-e89b-12d3-a456-42665544000"), None);
        assert_eq!(parse_uuid("-123e4567e89b12d3a456426655440000"), None);
        // Version 1, variant 1: the node segment sorts first.
        let b = parse_uuid("023e4567-e89b-12d3-a456-426655440009").unwrap();
        assert!(uuid_order(a) < uuid_order(b));
        // Not RFC 4122 (variant 0): byte order.
        let c = parse_uuid("ffffffff-ffff-ffff-0000-000000000000").unwrap();
        assert_eq!(uuid_order(c), c);
    }
}
