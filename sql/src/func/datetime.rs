//! Date and time functions.

use super::tz::{self, Zone};
use super::{text, Func};
use crate::error::SqlResult;
use crate::expr::IntervalUnit;
use trireme_storage::value::{Date, DateTime, Value};

type D = Date;

/// A date's day number as TO_DAYS counts it (day 1 is 0000-01-01).
fn daynr(d: Date) -> i64 {
    d.to_days() + 719_528
}

fn is_zero(d: &Date) -> bool {
    d.month == 0 || d.day == 0
}

/// The session time zone a binder appended as the last argument.
fn zone_arg(vals: &[Value]) -> Zone {
    vals.last()
        .and_then(|v| tz::parse_zone(&text(v)))
        .unwrap_or(Zone::Offset(0))
}

/// A datetime argument (a date reads as its midnight); None for the zero
/// date and for what is no date.
fn datetime_arg(v: &Value) -> Option<DateTime> {
    v.to_datetime().filter(|dt| !is_zero(&dt.date))
}

/// A TIME argument as signed microseconds: 'HH:MM:SS[.f]', '[-]D HH:MM:SS',
/// 'MM:SS', numbers as HHMMSS; a datetime gives its time of day.
pub(super) fn time_arg(v: &Value) -> Option<i64> {
    match v {
        Value::Time(us) => Some(*us),
        Value::DateTime(dt) => Some(dt.time_micros()),
        Value::Date(_) => Some(0),
        Value::Null => None,
        other => trireme_storage::value::parse_time(&text(other)),
    }
}

/// The largest TIME, 838:59:59.
const MAX_TIME_US: i64 = (838 * 3600 + 59 * 60 + 59) * 1_000_000;

/// A TIME result out of range becomes ±838:59:59, as in MariaDB.
fn clamp_time(us: i64) -> i64 {
    if us.abs() > MAX_TIME_US + 999_999 {
        MAX_TIME_US * us.signum()
    } else {
        us
    }
}

/// A TIME as MariaDB prints it, clamped to +-838:59:59; fractional digits
/// only when there are any.
pub(super) fn format_time(us: i64) -> String {
    let us = clamp_time(us);
    trireme_storage::value::format_time(us, if us % 1_000_000 == 0 { 0 } else { 6 })
}

const WEEK_MONDAY_FIRST: u32 = 1;
const WEEK_YEAR: u32 = 2;
const WEEK_FIRST_WEEKDAY: u32 = 4;

/// WEEK()'s mode argument as calc_week's behaviour flags.
fn week_mode(mode: i64) -> u32 {
    let mut m = (mode & 7) as u32;
    if m & WEEK_MONDAY_FIRST == 0 {
        m ^= WEEK_FIRST_WEEKDAY;
    }
    m
}

/// Weekday of a day number: 0 = Monday (or 0 = Sunday when sunday_first).
fn weekday(daynr: i64, sunday_first: bool) -> i64 {
    (daynr + 5 + i64::from(sunday_first)).rem_euclid(7)
}

fn days_in_year(y: i64) -> i64 {
    if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 {
        366
    } else {
        365
    }
}

/// MySQL's calc_week: (week, year it belongs to).
fn calc_week(d: Date, behaviour: u32) -> (i64, i64) {
    let dnr = daynr(d);
    let mut first_daynr = daynr(Date {
        year: d.year,
        month: 1,
        day: 1,
    });
    let monday_first = behaviour & WEEK_MONDAY_FIRST != 0;
    let mut week_year = behaviour & WEEK_YEAR != 0;
    let first_weekday = behaviour & WEEK_FIRST_WEEKDAY != 0;
    let mut wd = weekday(first_daynr, !monday_first);
    let mut year = i64::from(d.year);
    if d.month == 1 && i64::from(d.day) <= 7 - wd {
        if !week_year && ((first_weekday && wd != 0) || (!first_weekday && wd >= 4)) {
            return (0, year);
        }
        week_year = true;
        year -= 1;
        let days = days_in_year(year);
        first_daynr -= days;
        wd = (wd + 53 * 7 - days) % 7;
    }
    let days = if (first_weekday && wd != 0) || (!first_weekday && wd >= 4) {
        dnr - (first_daynr + (7 - wd))
    } else {
        dnr - (first_daynr - wd)
    };
    if week_year && days >= 52 * 7 {
        let wd2 = (wd + days_in_year(year)) % 7;
        if (!first_weekday && wd2 < 4) || (first_weekday && wd2 == 0) {
            return (1, year + 1);
        }
    }
    (days / 7 + 1, year)
}

fn day_of_year(d: Date) -> i64 {
    daynr(d)
        - daynr(Date {
            year: d.year,
            month: 1,
            day: 1,
        })
        + 1
}

fn last_day(d: Date) -> Date {
    let mut day = 31;
    while Date::new(d.year, d.month, day).is_none() {
        day -= 1;
    }
    Date {
        year: d.year,
        month: d.month,
        day,
    }
}

/// A two-digit year as MariaDB reads it: 00-69 are 2000-2069, 70-99 are
/// 1970-1999.
fn year_2000(y: i64) -> i64 {
    match y {
        0..=69 => y + 2000,
        70..=99 => y + 1900,
        _ => y,
    }
}

/// A YYMM / YYYYMM period as a month count.
fn period_months(p: i64) -> i64 {
    if p == 0 {
        return 0;
    }
    let (y, m) = (p / 100, p % 100);
    year_2000(y) * 12 + m - 1
}

fn months_to_period(n: i64) -> i64 {
    if n == 0 {
        0
    } else {
        n / 12 * 100 + n % 12 + 1
    }
}

pub(super) fn timestamp_diff(unit: IntervalUnit, a: &Value, b: &Value) -> Value {
    let (Some(x), Some(y)) = (datetime_arg(a), datetime_arg(b)) else {
        return Value::Null;
    };
    let (ux, uy) = (x.to_unix_micros(), y.to_unix_micros());
    let per = match unit {
        IntervalUnit::Microsecond => 1,
        IntervalUnit::Second => 1_000_000,
        IntervalUnit::Minute => 60_000_000,
        IntervalUnit::Hour => 3_600_000_000,
        IntervalUnit::Day => 86_400_000_000,
        IntervalUnit::Week => 7 * 86_400_000_000,
        IntervalUnit::Month | IntervalUnit::Quarter | IntervalUnit::Year => {
            let mut months = (i64::from(y.date.year) - i64::from(x.date.year)) * 12
                + i64::from(y.date.month)
                - i64::from(x.date.month);
            let rest = |d: &DateTime| (d.date.day, d.time_micros());
            if uy > ux && rest(&y) < rest(&x) {
                months -= 1;
            } else if uy < ux && rest(&y) > rest(&x) {
                months += 1;
            }
            return Value::Int(match unit {
                IntervalUnit::Month => months,
                IntervalUnit::Quarter => months / 3,
                _ => months / 12,
            });
        }
    };
    Value::Int((uy - ux) / per)
}

pub(super) fn eval(f: Func, vals: &[Value]) -> SqlResult<Option<Value>> {
    use Func::*;
    let v0 = vals.first().cloned().unwrap_or(Value::Null);
    let dt0 = || datetime_arg(&v0);
    let date_int = |g: &dyn Fn(D) -> i64| match dt0() {
        Some(dt) => Value::Int(g(dt.date)),
        None => Value::Null,
    };
    Ok(Some(match f {
        GetFormat => get_format(&text(&v0), &text(&vals[1]))
            .map_or(Value::Null, |f| Value::Str(f.to_string())),
        Date => match v0.to_datetime() {
            Some(dt) => Value::Date(dt.date),
            None => Value::Null,
        },
        ExtractUnits => {
            let v = vals.get(1).cloned().unwrap_or(Value::Null);
            let date = v.to_datetime().map(|dt| {
                (
                    i64::from(dt.date.year),
                    i64::from(dt.date.month),
                    i64::from(dt.date.day),
                )
            });
            crate::interval::extract(&text(&v0), date, time_arg(&v))
        }
        Year | Month | Day => match v0.to_datetime() {
            Some(dt) => Value::Int(i64::from(match f {
                Year => u32::from(dt.date.year),
                Month => u32::from(dt.date.month),
                _ => u32::from(dt.date.day),
            })),
            None => Value::Null,
        },
        Hour | Minute | Second | Microsecond => match time_arg(&v0) {
            Some(us) => {
                let a = us.abs();
                Value::Int(match f {
                    Hour => a / 3_600_000_000,
                    Minute => a / 60_000_000 % 60,
                    Second => a / 1_000_000 % 60,
                    _ => a % 1_000_000,
                })
            }
            None => Value::Null,
        },
        Time => match time_arg(&v0) {
            Some(us) => Value::Time(clamp_time(us)),
            None => Value::Null,
        },
        TimeToSec => match time_arg(&v0) {
            Some(us) if us % 1_000_000 == 0 => Value::Int(us / 1_000_000),
            Some(us) => Value::Decimal(rust_decimal::Decimal::new(us, 6).normalize()),
            None => Value::Null,
        },
        SecToTime => {
            let secs = v0.to_decimal().unwrap_or_default();
            let us = (secs * rust_decimal::Decimal::from(1_000_000))
                .trunc()
                .to_string()
                .parse::<i64>()
                .unwrap_or(i64::MAX / 2);
            Value::Time(clamp_time(us))
        }
        MakeTime => {
            let (h, m) = (v0.to_i64().unwrap_or(0), vals[1].to_i64().unwrap_or(0));
            let s = vals[2].to_decimal().unwrap_or_default();
            if !(0..=59).contains(&m) || s.is_sign_negative() || s >= 60.into() {
                return Ok(Some(Value::Null));
            }
            let s_us = (s * rust_decimal::Decimal::from(1_000_000))
                .trunc()
                .to_string()
                .parse::<i64>()
                .unwrap_or(0);
            let us = (h.abs().min(10_000) * 3600 + m * 60) * 1_000_000 + s_us;
            Value::Time(clamp_time(if h < 0 { -us } else { us }))
        }
        MonthName => match dt0() {
            Some(dt) => Value::Str(MONTHS[usize::from(dt.date.month) - 1].into()),
            None => Value::Null,
        },
        DayName => match dt0() {
            Some(dt) => Value::Str(WEEKDAYS[weekday(daynr(dt.date), false) as usize].into()),
            None => Value::Null,
        },
        DayOfWeek => date_int(&|d| weekday(daynr(d), true) + 1),
        Weekday => date_int(&|d| weekday(daynr(d), false)),
        DayOfYear => date_int(&day_of_year),
        Quarter => date_int(&|d| (i64::from(d.month) + 2) / 3),
        ToDays => date_int(&daynr),
        ToSeconds => match dt0() {
            Some(dt) => Value::Int(daynr(dt.date) * 86_400 + dt.time_micros() / 1_000_000),
            None => Value::Null,
        },
        Week | WeekOfYear | YearWeek => {
            let mode = match f {
                WeekOfYear => 3,
                _ => vals.get(1).and_then(Value::to_i64).unwrap_or(0),
            };
            match dt0() {
                Some(dt) if f == YearWeek => {
                    let (w, y) = calc_week(dt.date, week_mode(mode) | WEEK_YEAR);
                    Value::Int(y * 100 + w)
                }
                Some(dt) => Value::Int(calc_week(dt.date, week_mode(mode)).0),
                None => Value::Null,
            }
        }
        LastDay => match dt0() {
            Some(dt) => Value::Date(last_day(dt.date)),
            None => Value::Null,
        },
        FromDays => {
            let n = v0.to_i64().unwrap_or(0);
            if n < 366 {
                Value::Date(trireme_storage::value::Date {
                    year: 0,
                    month: 0,
                    day: 0,
                })
            } else if n > 3_652_424 {
                Value::Null
            } else {
                Value::Date(trireme_storage::value::Date::from_days(n - 719_528))
            }
        }
        MakeDate => {
            let (y, doy) = (v0.to_i64().unwrap_or(0), vals[1].to_i64().unwrap_or(0));
            if !(0..=9999).contains(&y) || doy <= 0 {
                return Ok(Some(Value::Null));
            }
            let y = year_2000(y);
            let start = trireme_storage::value::Date {
                year: y as u16,
                month: 1,
                day: 1,
            }
            .to_days();
            let d = trireme_storage::value::Date::from_days(start + doy - 1);
            if d.year > 9999 || start + doy - 1 > 2_932_896 {
                Value::Null
            } else {
                Value::Date(d)
            }
        }
        PeriodAdd => Value::Int(months_to_period(
            period_months(v0.to_i64().unwrap_or(0)) + vals[1].to_i64().unwrap_or(0),
        )),
        PeriodDiff => Value::Int(
            period_months(v0.to_i64().unwrap_or(0)) - period_months(vals[1].to_i64().unwrap_or(0)),
        ),
        UnixTimestamp => match v0.to_datetime() {
            Some(dt) => {
                let us = zone_arg(vals).to_utc_micros(&dt);
                if us < 0 || us / 1_000_000 > 2_147_483_647 {
                    Value::Null
                } else if us % 1_000_000 == 0 {
                    Value::Int(us / 1_000_000)
                } else {
                    Value::Decimal(rust_decimal::Decimal::new(us, 6))
                }
            }
            None => Value::Null,
        },
        FromUnixtime => {
            let Some(secs) = v0.to_decimal() else {
                return Ok(Some(Value::Null));
            };
            let us = (secs * rust_decimal::Decimal::from(1_000_000))
                .trunc()
                .to_string()
                .parse::<i64>()
                .unwrap_or(-1);
            if !(0..=2_147_483_647_999_999).contains(&us) {
                return Ok(Some(Value::Null));
            }
            let dt = zone_arg(vals).from_utc_micros(us);
            if vals.len() == 3 {
                Value::Str(date_format(&dt, &text(&vals[1])))
            } else {
                Value::DateTime(dt)
            }
        }
        ConvertTz => match v0.to_datetime() {
            Some(dt) => match tz::convert(&dt, &text(&vals[1]), &text(&vals[2])) {
                Some(r) => Value::DateTime(r),
                None => Value::Null,
            },
            None => Value::Null,
        },
        Timestamp => match v0.to_datetime() {
            Some(dt) => match vals.get(1) {
                Some(t) => match time_arg(t) {
                    Some(us) => {
                        Value::DateTime(DateTime::from_unix_micros(dt.to_unix_micros() + us))
                    }
                    None => Value::Null,
                },
                None => Value::DateTime(dt),
            },
            None => Value::Null,
        },
        AddTime | SubTime => {
            let Some(delta) = time_arg(&vals[1]) else {
                return Ok(Some(Value::Null));
            };
            let delta = if f == SubTime { -delta } else { delta };
            let as_dt = match &v0 {
                Value::DateTime(dt) => Some(*dt),
                Value::Str(s) if s.contains('-') && !s.trim_start().starts_with('-') => {
                    trireme_storage::value::parse_datetime(s)
                }
                _ => None,
            };
            match as_dt {
                Some(dt) => {
                    let r = DateTime::from_unix_micros(dt.to_unix_micros() + delta);
                    if matches!(v0, Value::DateTime(_)) {
                        Value::DateTime(r)
                    } else {
                        Value::Str(r.format(if r.micro == 0 { 0 } else { 6 }))
                    }
                }
                None => match time_arg(&v0) {
                    Some(t) => Value::Str(format_time(t + delta)),
                    None => Value::Null,
                },
            }
        }
        TimeDiff => {
            let is_dt = |v: &Value| match v {
                Value::DateTime(_) | Value::Date(_) => true,
                Value::Str(s) => s.contains('-') && !s.trim_start().starts_with('-'),
                _ => false,
            };
            if is_dt(&v0) != is_dt(&vals[1]) {
                return Ok(Some(Value::Null));
            }
            let us = if is_dt(&v0) {
                match (v0.to_datetime(), vals[1].to_datetime()) {
                    (Some(a), Some(b)) => a.to_unix_micros() - b.to_unix_micros(),
                    _ => return Ok(Some(Value::Null)),
                }
            } else {
                match (time_arg(&v0), time_arg(&vals[1])) {
                    (Some(a), Some(b)) => a - b,
                    _ => return Ok(Some(Value::Null)),
                }
            };
            Value::Time(clamp_time(us))
        }
        DateFormat => match time_of_day(&v0).or_else(|| v0.to_datetime()) {
            Some(dt) => Value::Str(date_format(&dt, &text(&vals[1]))),
            None => Value::Null,
        },
        TimeFormat => match time_arg(&v0) {
            Some(us) => Value::Str(time_format(us, &text(&vals[1]))),
            None => Value::Null,
        },
        StrToDate => str_to_date(&text(&v0), &text(&vals[1])),
        DateDiff => match (dt0(), datetime_arg(&vals[1])) {
            (Some(a), Some(b)) => Value::Int(a.date.to_days() - b.date.to_days()),
            _ => Value::Null,
        },
        _ => return Ok(None),
    }))
}

/// A TIME within one day, as DATE_FORMAT reads it: that time of day on
/// the zero date (`DATE_FORMAT(TIME '14:30:50', '%H:00:00')` is 14:00:00;
/// Django truncates TimeFields this way). TIMEs outside a day are left to
/// the caller (NULL).
fn time_of_day(v: &Value) -> Option<DateTime> {
    let Value::Time(us) = v else {
        return None;
    };
    if !(0..86_400_000_000).contains(us) {
        return None;
    }
    let secs = us / 1_000_000;
    Some(DateTime {
        date: Date {
            year: 0,
            month: 0,
            day: 0,
        },
        hour: (secs / 3600) as u8,
        minute: (secs / 60 % 60) as u8,
        second: (secs % 60) as u8,
        micro: (us % 1_000_000) as u32,
    })
}

pub(super) fn date_add(
    sub: bool,
    base: &Value,
    amount: &Value,
    unit: IntervalUnit,
) -> SqlResult<Value> {
    if base.is_null() || amount.is_null() {
        return Ok(Value::Null);
    }
    let Some(dt) = base.to_datetime() else {
        return Ok(Value::Null);
    };
    let mut n = amount.to_i64().unwrap_or(0);
    if sub {
        n = -n;
    }
    let was_date = matches!(base, Value::Date(_))
        || (base.is_stringish() && !base.to_text_lossy().contains(':'));
    let micros_per = |u: IntervalUnit| -> i64 {
        match u {
            IntervalUnit::Microsecond => 1,
            IntervalUnit::Second => 1_000_000,
            IntervalUnit::Minute => 60_000_000,
            IntervalUnit::Hour => 3_600_000_000,
            IntervalUnit::Day => 86_400_000_000,
            IntervalUnit::Week => 7 * 86_400_000_000,
            _ => 0,
        }
    };
    let r = match unit {
        IntervalUnit::Month | IntervalUnit::Quarter | IntervalUnit::Year => {
            let months = n * match unit {
                IntervalUnit::Month => 1,
                IntervalUnit::Quarter => 3,
                _ => 12,
            };
            let total = i64::from(dt.date.year) * 12 + i64::from(dt.date.month) - 1 + months;
            if !(0..=9999 * 12 + 11).contains(&total) {
                return Ok(Value::Null);
            }
            let y = (total / 12) as u16;
            let m = (total % 12 + 1) as u8;
            let mut d = dt.date.day;
            while d > 28 && Date::new(y, m, d).is_none() {
                d -= 1;
            }
            let mut out = dt;
            out.date = Date::new(y, m, d).unwrap_or(dt.date);
            out
        }
        u => {
            let us = dt
                .to_unix_micros()
                .checked_add(n.saturating_mul(micros_per(u)));
            match us {
                Some(us) => DateTime::from_unix_micros(us),
                None => return Ok(Value::Null),
            }
        }
    };
    let time_unit = matches!(
        unit,
        IntervalUnit::Hour
            | IntervalUnit::Minute
            | IntervalUnit::Second
            | IntervalUnit::Microsecond
    );
    Ok(if was_date && !time_unit {
        Value::Date(r.date)
    } else {
        Value::DateTime(r)
    })
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

fn ordinal_suffix(n: u8) -> &'static str {
    match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    }
}

/// DATE_FORMAT with all of MariaDB's specifiers; an unknown one prints its
/// letter.
pub(super) fn date_format(dt: &DateTime, fmt: &str) -> String {
    format_parts(dt, i64::from(dt.hour), fmt)
}

/// TIME_FORMAT: the hour may exceed 23.
fn time_format(us: i64, fmt: &str) -> String {
    let a = us.abs();
    let hours = a / 3_600_000_000;
    let dt = DateTime {
        date: trireme_storage::value::Date {
            year: 0,
            month: 0,
            day: 0,
        },
        hour: (hours % 24) as u8,
        minute: (a / 60_000_000 % 60) as u8,
        second: (a / 1_000_000 % 60) as u8,
        micro: (a % 1_000_000) as u32,
    };
    let s = format_parts(&dt, hours, fmt);
    if us < 0 {
        format!("-{s}")
    } else {
        s
    }
}

fn format_parts(dt: &DateTime, hour: i64, fmt: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let mut it = fmt.chars();
    let d = dt.date;
    let real = !is_zero(&d);
    let h12 = (hour + 11) % 12 + 1;
    while let Some(c) = it.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let Some(spec) = it.next() else { break };
        let _ = match spec {
            'Y' => write!(out, "{:04}", d.year),
            'y' => write!(out, "{:02}", d.year % 100),
            'm' => write!(out, "{:02}", d.month),
            'c' => write!(out, "{}", d.month),
            'd' => write!(out, "{:02}", d.day),
            'e' => write!(out, "{}", d.day),
            'D' => write!(out, "{}{}", d.day, ordinal_suffix(d.day)),
            'H' => write!(out, "{hour:02}"),
            'k' => write!(out, "{hour}"),
            'h' | 'I' => write!(out, "{h12:02}"),
            'l' => write!(out, "{h12}"),
            'i' => write!(out, "{:02}", dt.minute),
            's' | 'S' => write!(out, "{:02}", dt.second),
            'f' => write!(out, "{:06}", dt.micro),
            'p' => write!(out, "{}", if hour % 24 < 12 { "AM" } else { "PM" }),
            'r' => write!(
                out,
                "{h12:02}:{:02}:{:02} {}",
                dt.minute,
                dt.second,
                if hour % 24 < 12 { "AM" } else { "PM" }
            ),
            'T' => write!(out, "{hour:02}:{:02}:{:02}", dt.minute, dt.second),
            'M' if real => write!(out, "{}", MONTHS[usize::from(d.month) - 1]),
            'b' if real => write!(out, "{}", &MONTHS[usize::from(d.month) - 1][..3]),
            'W' if real => write!(out, "{}", WEEKDAYS[weekday(daynr(d), false) as usize]),
            'a' if real => write!(out, "{}", &WEEKDAYS[weekday(daynr(d), false) as usize][..3]),
            'w' if real => write!(out, "{}", weekday(daynr(d), true)),
            'j' if real => write!(out, "{:03}", day_of_year(d)),
            'U' if real => write!(out, "{:02}", calc_week(d, WEEK_FIRST_WEEKDAY).0),
            'u' if real => write!(out, "{:02}", calc_week(d, WEEK_MONDAY_FIRST).0),
            'V' if real => write!(out, "{:02}", calc_week(d, WEEK_YEAR | WEEK_FIRST_WEEKDAY).0),
            'v' if real => write!(out, "{:02}", calc_week(d, WEEK_YEAR | WEEK_MONDAY_FIRST).0),
            'X' if real => write!(out, "{:04}", calc_week(d, WEEK_YEAR | WEEK_FIRST_WEEKDAY).1),
            'x' if real => write!(out, "{:04}", calc_week(d, WEEK_YEAR | WEEK_MONDAY_FIRST).1),
            'M' | 'b' | 'W' | 'a' | 'w' | 'j' | 'U' | 'u' | 'V' | 'v' | 'X' | 'x' => Ok(()),
            other => write!(out, "{other}"),
        };
    }
    out
}

/// STR_TO_DATE(str, format): a DATETIME when the format has date and time
/// parts, a DATE with date parts only, a TIME (as text) with time parts
/// only; NULL when the string does not fit.
fn str_to_date(s: &str, fmt: &str) -> Value {
    let (mut y, mut mo, mut d) = (0i64, 0i64, 0i64);
    let (mut h, mut mi, mut se, mut us) = (0i64, 0i64, 0i64, 0i64);
    let mut pm: Option<bool> = None;
    let (mut has_date, mut has_time) = (false, false);
    let src: Vec<char> = s.chars().collect();
    let mut i = 0;
    let skip_ws = |i: &mut usize| {
        while *i < src.len() && src[*i].is_whitespace() {
            *i += 1;
        }
    };
    let num = |i: &mut usize, max: usize| -> Option<i64> {
        let start = *i;
        while *i < src.len() && *i - start < max && src[*i].is_ascii_digit() {
            *i += 1;
        }
        if *i == start {
            return None;
        }
        src[start..*i].iter().collect::<String>().parse().ok()
    };
    let word = |i: &mut usize, names: &[&str], short: bool| -> Option<usize> {
        let rest: String = src[*i..].iter().collect::<String>().to_ascii_lowercase();
        for (k, n) in names.iter().enumerate() {
            let n = if short { &n[..3] } else { n };
            if rest.starts_with(&n.to_ascii_lowercase()) {
                *i += n.chars().count();
                return Some(k);
            }
        }
        None
    };
    let mut f = fmt.chars().peekable();
    while let Some(c) = f.next() {
        if c.is_whitespace() {
            skip_ws(&mut i);
            continue;
        }
        if c != '%' {
            if src.get(i) != Some(&c) {
                return Value::Null;
            }
            i += 1;
            continue;
        }
        let Some(spec) = f.next() else { break };
        if !matches!(spec, '%') {
            skip_ws(&mut i);
        }
        let ok = match spec {
            'Y' => num(&mut i, 4).map(|v| {
                y = if v < 100 && i <= 2 { year_2000(v) } else { v };
                has_date = true
            }),
            'y' => num(&mut i, 2).map(|v| {
                y = year_2000(v);
                has_date = true
            }),
            'm' | 'c' => num(&mut i, 2).map(|v| {
                mo = v;
                has_date = true
            }),
            'd' | 'e' => num(&mut i, 2).map(|v| {
                d = v;
                has_date = true
            }),
            'D' => num(&mut i, 2).map(|v| {
                d = v;
                has_date = true;
                i = (i + 2).min(src.len());
            }),
            'M' => word(&mut i, &MONTHS, false).map(|k| {
                mo = k as i64 + 1;
                has_date = true
            }),
            'b' => word(&mut i, &MONTHS, true).map(|k| {
                mo = k as i64 + 1;
                has_date = true
            }),
            'W' => word(&mut i, &WEEKDAYS, false).map(|_| ()),
            'a' => word(&mut i, &WEEKDAYS, true).map(|_| ()),
            'j' => num(&mut i, 3).map(|v| {
                mo = 1;
                d = v;
                has_date = true
            }),
            'H' | 'k' | 'h' | 'I' | 'l' => num(&mut i, 2).map(|v| {
                h = v;
                has_time = true
            }),
            'i' => num(&mut i, 2).map(|v| {
                mi = v;
                has_time = true
            }),
            's' | 'S' => num(&mut i, 2).map(|v| {
                se = v;
                has_time = true
            }),
            'f' => {
                let start = i;
                num(&mut i, 6).map(|v| {
                    us = v * 10i64.pow(6 - (i - start) as u32);
                    has_time = true
                })
            }
            'p' => word(&mut i, &["AM", "PM"], false).map(|k| pm = Some(k == 1)),
            'T' => (|| {
                h = num(&mut i, 2)?;
                (src.get(i) == Some(&':')).then_some(())?;
                i += 1;
                mi = num(&mut i, 2)?;
                (src.get(i) == Some(&':')).then_some(())?;
                i += 1;
                se = num(&mut i, 2)?;
                has_time = true;
                Some(())
            })(),
            'r' => (|| {
                h = num(&mut i, 2)?;
                (src.get(i) == Some(&':')).then_some(())?;
                i += 1;
                mi = num(&mut i, 2)?;
                (src.get(i) == Some(&':')).then_some(())?;
                i += 1;
                se = num(&mut i, 2)?;
                skip_ws(&mut i);
                pm = Some(word(&mut i, &["AM", "PM"], false)? == 1);
                has_time = true;
                Some(())
            })(),
            '%' => (src.get(i) == Some(&'%')).then(|| i += 1),
            _ => Some(()),
        };
        if ok.is_none() {
            return Value::Null;
        }
    }
    if let Some(p) = pm {
        if !(1..=12).contains(&h) {
            return Value::Null;
        }
        h = h % 12 + if p { 12 } else { 0 };
    }
    if h > 23 || mi > 59 || se > 59 {
        return Value::Null;
    }
    let date = if mo == 1 && d > 31 {
        // %j: a day of the year.
        let start = trireme_storage::value::Date {
            year: y.clamp(0, 9999) as u16,
            month: 1,
            day: 1,
        };
        Some(trireme_storage::value::Date::from_days(
            start.to_days() + d - 1,
        ))
    } else {
        trireme_storage::value::Date::new(y.clamp(0, 9999) as u16, mo as u8, d as u8)
    };
    let date = match date {
        Some(x) => x,
        // MariaDB allows zero parts in dates (NO_ZERO_IN_DATE is off).
        None if (0..=12).contains(&mo) && (0..=31).contains(&d) && (mo == 0 || d == 0) => {
            trireme_storage::value::Date {
                year: y.clamp(0, 9999) as u16,
                month: mo as u8,
                day: d as u8,
            }
        }
        None => return Value::Null,
    };
    let dt = DateTime {
        date,
        hour: h as u8,
        minute: mi as u8,
        second: se as u8,
        micro: us as u32,
    };
    if has_date && !has_time {
        Value::Date(date)
    } else if has_time && !has_date {
        Value::Str(format_time(dt.time_micros()))
    } else {
        Value::DateTime(dt)
    }
}

/// GET_FORMAT's DATE_FORMAT patterns, by type and locale (MariaDB's table);
/// None for an unknown locale.
pub(super) fn get_format(ty: &str, locale: &str) -> Option<&'static str> {
    let locale = locale.to_ascii_uppercase();
    let i = ["USA", "JIS", "ISO", "EUR", "INTERNAL"]
        .iter()
        .position(|l| *l == locale)?;
    let table: [&str; 5] = match ty.to_ascii_uppercase().as_str() {
        "DATE" => ["%m.%d.%Y", "%Y-%m-%d", "%Y-%m-%d", "%d.%m.%Y", "%Y%m%d"],
        "DATETIME" | "TIMESTAMP" => [
            "%Y-%m-%d %H.%i.%s",
            "%Y-%m-%d %H:%i:%s",
            "%Y-%m-%d %H:%i:%s",
            "%Y-%m-%d %H.%i.%s",
            "%Y%m%d%H%i%s",
        ],
        "TIME" => ["%h:%i:%s %p", "%H:%i:%s", "%H:%i:%s", "%H.%i.%s", "%H%i%s"],
        _ => return None,
    };
    Some(table[i])
}
