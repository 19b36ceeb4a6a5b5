//! Date and time functions.

use super::{text, Func};
use crate::error::SqlResult;
use crate::expr::IntervalUnit;
use trireme_storage::value::{Date, DateTime, Value};

pub(super) fn eval(f: Func, vals: &[Value]) -> SqlResult<Option<Value>> {
    use Func::*;
    let v0 = vals.first().cloned().unwrap_or(Value::Null);
    Ok(Some(match f {
        Date => match v0.to_datetime() {
            Some(dt) => Value::Date(dt.date),
            None => Value::Null,
        },
        Year | Month | Day | Hour | Minute | Second => match v0.to_datetime() {
            Some(dt) => Value::Int(i64::from(match f {
                Year => u32::from(dt.date.year),
                Month => u32::from(dt.date.month),
                Day => u32::from(dt.date.day),
                Hour => u32::from(dt.hour),
                Minute => u32::from(dt.minute),
                _ => u32::from(dt.second),
            })),
            None => Value::Null,
        },
        UnixTimestamp => match v0.to_datetime() {
            Some(dt) => Value::Int(dt.to_unix_micros().div_euclid(1_000_000)),
            None => Value::Int(0),
        },
        FromUnixtime => {
            let secs = v0.to_f64().unwrap_or(0.0);
            if secs < 0.0 {
                Value::Null
            } else {
                Value::DateTime(DateTime::from_unix_micros((secs * 1e6) as i64))
            }
        }
        DateFormat => match v0.to_datetime() {
            Some(dt) => Value::Str(date_format(&dt, &text(&vals[1]))),
            None => Value::Null,
        },
        DateDiff => match (v0.to_datetime(), vals[1].to_datetime()) {
            (Some(a), Some(b)) => Value::Int(a.date.to_days() - b.date.to_days()),
            _ => Value::Null,
        },
        _ => return Ok(None),
    }))
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
        || (base.is_stringish()
            && trireme_storage::value::parse_date(&base.to_text_lossy()).is_some());
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

const DAYS: [&str; 7] = [
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
];

pub(super) fn date_format(dt: &DateTime, fmt: &str) -> String {
    let mut out = String::new();
    let mut it = fmt.chars();
    while let Some(c) = it.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let Some(spec) = it.next() else { break };
        let d = &dt.date;
        match spec {
            'Y' => out.push_str(&format!("{:04}", d.year)),
            'y' => out.push_str(&format!("{:02}", d.year % 100)),
            'm' => out.push_str(&format!("{:02}", d.month)),
            'c' => out.push_str(&d.month.to_string()),
            'd' => out.push_str(&format!("{:02}", d.day)),
            'e' => out.push_str(&d.day.to_string()),
            'H' => out.push_str(&format!("{:02}", dt.hour)),
            'k' => out.push_str(&dt.hour.to_string()),
            'h' | 'I' => out.push_str(&format!("{:02}", (dt.hour + 11) % 12 + 1)),
            'i' => out.push_str(&format!("{:02}", dt.minute)),
            's' | 'S' => out.push_str(&format!("{:02}", dt.second)),
            'f' => out.push_str(&format!("{:06}", dt.micro)),
            'p' => out.push_str(if dt.hour < 12 { "AM" } else { "PM" }),
            'M' => out.push_str(MONTHS[usize::from(d.month.clamp(1, 12)) - 1]),
            'b' => out.push_str(&MONTHS[usize::from(d.month.clamp(1, 12)) - 1][..3]),
            'W' => out.push_str(DAYS[d.to_days().rem_euclid(7) as usize]),
            'a' => out.push_str(&DAYS[d.to_days().rem_euclid(7) as usize][..3]),
            'j' => {
                let jan1 = Date::new(d.year, 1, 1).map_or(0, |j| j.to_days());
                out.push_str(&format!("{:03}", d.to_days() - jan1 + 1));
            }
            'T' => out.push_str(&format!("{:02}:{:02}:{:02}", dt.hour, dt.minute, dt.second)),
            other => out.push(other),
        }
    }
    out
}
