//! MySQL's compound INTERVAL units (`INTERVAL '1 2:30' DAY_MINUTE`) and
//! EXTRACT with them. An interval's text is read as numbers separated by
//! anything else; numbers missing on the left are zero (`'1:30'
//! DAY_MINUTE` is 1 h 30 min), more numbers than the unit has make NULL,
//! a leading `-` negates the whole, and a microsecond part after a `.` is
//! a fraction of a second (`'1.5' SECOND_MICROSECOND` is 1.5 s).

use trireme_storage::value::Value;

use crate::expr::IntervalUnit;

/// The parts of a compound unit, most significant first.
fn parts(unit: &str) -> Option<&'static [&'static str]> {
    const ALL: [&str; 7] = [
        "YEAR",
        "MONTH",
        "DAY",
        "HOUR",
        "MINUTE",
        "SECOND",
        "MICROSECOND",
    ];
    let (first, last) = unit.split_once('_')?;
    let a = ALL.iter().position(|p| p.eq_ignore_ascii_case(first))?;
    let b = ALL.iter().position(|p| p.eq_ignore_ascii_case(last))?;
    (a < b && (b <= 1 || a >= 2)).then(|| &ALL[a..=b])
}

/// `text` in `unit` as an amount of a simple unit: months for YEAR_MONTH,
/// microseconds when the unit ends in MICROSECOND, seconds otherwise.
/// None when the text does not fit the unit (MySQL's NULL).
pub fn compound(unit: &str, text: &str) -> Option<(IntervalUnit, i64)> {
    let names = parts(unit)?;
    let text = text.trim();
    let negative = text.starts_with('-');
    let mut numbers: Vec<(i64, bool)> = Vec::new();
    let mut digits = String::new();
    let mut after_dot = false;
    for c in text.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        if !digits.is_empty() {
            let fraction = names.last() == Some(&"MICROSECOND") && after_dot;
            let n = if fraction {
                // A fraction of a second, to six digits.
                let mut d: String = digits.chars().take(6).collect();
                while d.len() < 6 {
                    d.push('0');
                }
                d.parse().ok()?
            } else {
                digits.parse().ok()?
            };
            numbers.push((n, fraction));
            digits.clear();
        }
        after_dot = c == '.';
    }
    if numbers.len() > names.len() {
        return None;
    }
    let mut values = vec![0i64; names.len() - numbers.len()];
    values.extend(numbers.iter().map(|(n, _)| *n));
    let get = |p: &str| names.iter().position(|n| *n == p).map_or(0, |i| values[i]);
    let sign = if negative { -1 } else { 1 };
    if names[0] == "YEAR" {
        let months = get("YEAR").checked_mul(12)?.checked_add(get("MONTH"))?;
        return Some((IntervalUnit::Month, sign * months));
    }
    let seconds = get("DAY")
        .checked_mul(86_400)?
        .checked_add(get("HOUR").checked_mul(3_600)?)?
        .checked_add(get("MINUTE").checked_mul(60)?)?
        .checked_add(get("SECOND"))?;
    if names.last() == Some(&"MICROSECOND") {
        let us = seconds
            .checked_mul(1_000_000)?
            .checked_add(get("MICROSECOND"))?;
        Some((IntervalUnit::Microsecond, sign * us))
    } else {
        Some((IntervalUnit::Second, sign * seconds))
    }
}

/// EXTRACT(unit FROM v) for a compound unit: the parts side by side, two
/// digits each after the first, six for microseconds (DAY_HOUR of
/// '2024-02-29 13:05:09' is 2913). `date` holds year, month and day,
/// `time` the time of day (or a TIME) in microseconds.
pub fn extract(unit: &str, date: Option<(i64, i64, i64)>, time: Option<i64>) -> Value {
    let Some(names) = parts(unit) else {
        return Value::Null;
    };
    let needs_date = names.iter().any(|n| matches!(*n, "YEAR" | "MONTH" | "DAY"));
    let (y, mo, d) = match (needs_date, date) {
        (true, None) => return Value::Null,
        (_, date) => date.unwrap_or((0, 0, 0)),
    };
    let needs_time = names
        .iter()
        .any(|n| matches!(*n, "HOUR" | "MINUTE" | "SECOND" | "MICROSECOND"));
    let t = match (needs_time, time) {
        (true, None) => return Value::Null,
        (_, t) => t.unwrap_or(0),
    };
    let a = t.abs();
    let mut acc: i64 = 0;
    for n in names {
        let (v, width) = match *n {
            "YEAR" => (y, 100),
            "MONTH" => (mo, 100),
            "DAY" => (d, 100),
            "HOUR" => (a / 3_600_000_000, 100),
            "MINUTE" => (a / 60_000_000 % 60, 100),
            "SECOND" => (a / 1_000_000 % 60, 100),
            _ => (a % 1_000_000, 1_000_000),
        };
        acc = acc.saturating_mul(width).saturating_add(v);
    }
    // A negative TIME makes a negative result when no date part is asked.
    Value::Int(if t < 0 && !needs_date { -acc } else { acc })
}

/// Whether EXTRACT with `unit` can pass nine digits (MariaDB's BIGINT).
pub fn extract_is_big(unit: &str) -> bool {
    matches!(
        unit.to_ascii_uppercase().as_str(),
        "DAY_SECOND" | "DAY_MICROSECOND" | "HOUR_MICROSECOND" | "MINUTE_MICROSECOND"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use IntervalUnit as U;

    #[test]
    fn compound_intervals_read_as_mysql_reads_them() {
        assert_eq!(compound("HOUR_MINUTE", "1:30"), Some((U::Second, 5_400)));
        assert_eq!(compound("DAY_SECOND", "1 1:1:1"), Some((U::Second, 90_061)));
        // Missing parts are the leftmost ones.
        assert_eq!(compound("DAY_SECOND", "5"), Some((U::Second, 5)));
        assert_eq!(compound("DAY_HOUR", "-1 1"), Some((U::Second, -90_000)));
        assert_eq!(compound("DAY_HOUR", "1:2:3:4:5"), None);
        assert_eq!(compound("YEAR_MONTH", "1 1"), Some((U::Month, 13)));
        assert_eq!(
            compound("SECOND_MICROSECOND", "1.5"),
            Some((U::Microsecond, 1_500_000))
        );
        assert_eq!(
            compound("DAY_MICROSECOND", "1 1:1:1.5"),
            Some((U::Microsecond, 90_061_500_000))
        );
        assert_eq!(compound("HOUR_MINUTE", "1.5"), Some((U::Second, 3_900)));
        assert_eq!(compound("MONTH_DAY", "1 1"), None);
    }

    #[test]
    fn extract_writes_the_parts_side_by_side() {
        let date = Some((2024, 2, 29));
        let time = Some(((13 * 60 + 5) * 60 + 9) * 1_000_000 + 250_000);
        assert_eq!(extract("DAY_HOUR", date, time), Value::Int(2913));
        assert_eq!(extract("YEAR_MONTH", date, time), Value::Int(202_402));
        assert_eq!(extract("HOUR_SECOND", date, time), Value::Int(130_509));
        assert_eq!(
            extract("DAY_MICROSECOND", date, time),
            Value::Int(29_130_509_250_000)
        );
        assert_eq!(
            extract("SECOND_MICROSECOND", date, time),
            Value::Int(9_250_000)
        );
        // -13:05:09
        let negative = Some(-47_109 * 1_000_000);
        assert_eq!(extract("HOUR_SECOND", None, negative), Value::Int(-130_509));
        assert_eq!(extract("DAY_HOUR", None, time), Value::Null);
    }
}
