//! MySQL's arithmetic on values (result types, overflow, division by zero)
//! and LIKE matching.

use rust_decimal::Decimal;
use trireme_storage::collation::Collation;
use trireme_storage::value::{date_number, parse_decimal, Value, MAX_DECIMAL_PRECISION};

use crate::error::{SqlError, SqlResult};

/// Arithmetic operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
    IntDiv,
    Mod,
}

fn overflow(op: &str, a: &Value, b: &Value) -> SqlError {
    SqlError::new(
        1690,
        "22003",
        format!(
            "BIGINT value is out of range in '({} {op} {})'",
            a.to_text_lossy(),
            b.to_text_lossy()
        ),
    )
}

/// Numeric class of an operand for arithmetic.
enum NumClass {
    Int,
    Decimal,
    Double,
}

fn num_class(v: &Value) -> NumClass {
    match v {
        Value::Int(_) | Value::UInt(_) => NumClass::Int,
        Value::Decimal(_) => NumClass::Decimal,
        Value::Str(s) if parse_integer_literal(s).is_some() => NumClass::Int,
        Value::Str(s) if parse_decimal(s).is_some() => NumClass::Decimal,
        Value::Date(_) => NumClass::Int,
        _ => NumClass::Double,
    }
}

fn parse_integer_literal(s: &str) -> Option<i64> {
    s.trim().parse::<i64>().ok()
}

thread_local! {
    /// Set when an arithmetic operation divided by zero (and so produced
    /// NULL) on this thread; statements executing synchronously read and
    /// clear it to raise ER_DIVISION_BY_ZERO (INSERT / UPDATE, strict mode)
    /// or add its warning (SELECT).
    static DIVIDED_BY_ZERO: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The NULL a division by zero yields; notes that it happened.
fn divided_by_zero() -> Value {
    DIVIDED_BY_ZERO.with(|c| c.set(true));
    Value::Null
}

/// Whether a division by zero happened on this thread since the last call
/// (and clears the note).
pub fn take_divided_by_zero() -> bool {
    DIVIDED_BY_ZERO.with(|c| c.replace(false))
}

/// Computes `a op b` with MySQL's result types: integers stay integers
/// (checked), DECIMAL stays exact, `/` gives a DECIMAL with four more digits
/// of scale, anything with a double or a non-numeric string is a double.
pub fn arith(op: ArithOp, a: &Value, b: &Value) -> SqlResult<Value> {
    if a.is_null() || b.is_null() {
        return Ok(Value::Null);
    }
    let sym = match op {
        ArithOp::Add => "+",
        ArithOp::Sub => "-",
        ArithOp::Mul => "*",
        ArithOp::Div => "/",
        ArithOp::IntDiv => "DIV",
        ArithOp::Mod => "%",
    };
    let class = match (num_class(a), num_class(b)) {
        (NumClass::Double, _) | (_, NumClass::Double) => NumClass::Double,
        (NumClass::Decimal, _) | (_, NumClass::Decimal) => NumClass::Decimal,
        _ => NumClass::Int,
    };
    match (op, class) {
        (ArithOp::Div, NumClass::Double) => {
            let y = b.to_f64().unwrap_or(0.0);
            if y == 0.0 {
                return Ok(divided_by_zero());
            }
            finite_double(a.to_f64().unwrap_or(0.0) / y, sym, a, b)
        }
        (ArithOp::Div, _) => {
            let x = a.to_decimal().unwrap_or_default();
            let y = b.to_decimal().unwrap_or_default();
            if y.is_zero() {
                return Ok(divided_by_zero());
            }
            let scale = (x.scale() + 4).min(MAX_DECIMAL_PRECISION);
            match x.checked_div(y) {
                Some(q) => {
                    let mut q = q.round_dp(scale);
                    q.rescale(scale);
                    Ok(Value::Decimal(q))
                }
                None => Err(overflow(sym, a, b)),
            }
        }
        (ArithOp::IntDiv, _) => {
            if let (NumClass::Int, Some(x), Some(y)) = (num_class(a), int_of(a), int_of(b)) {
                if y == 0 {
                    return Ok(divided_by_zero());
                }
                let _ = x;
                return int_result(x / y).ok_or_else(|| overflow(sym, a, b));
            }
            let x = a.to_f64().unwrap_or(0.0);
            let y = b.to_f64().unwrap_or(0.0);
            if y == 0.0 {
                return Ok(divided_by_zero());
            }
            Ok(Value::Int((x / y).trunc() as i64))
        }
        (_, NumClass::Int) => {
            let (Some(x), Some(y)) = (int_of(a), int_of(b)) else {
                return Err(overflow(sym, a, b));
            };
            let r = match op {
                ArithOp::Add => x.checked_add(y),
                ArithOp::Sub => x.checked_sub(y),
                ArithOp::Mul => x.checked_mul(y),
                ArithOp::Mod => {
                    if y == 0 {
                        return Ok(divided_by_zero());
                    }
                    Some(x % y)
                }
                ArithOp::Div | ArithOp::IntDiv => unreachable!("handled above"),
            };
            let r = r.ok_or_else(|| overflow(sym, a, b))?;
            let unsigned = matches!(a, Value::UInt(_)) || matches!(b, Value::UInt(_));
            if !unsigned {
                return i64::try_from(r)
                    .map(Value::Int)
                    .map_err(|_| overflow(sym, a, b));
            }
            if r < 0 {
                return Err(SqlError::new(
                    1690,
                    "22003",
                    format!(
                        "BIGINT UNSIGNED value is out of range in '({} {sym} {})'",
                        a.to_text_lossy(),
                        b.to_text_lossy()
                    ),
                ));
            }
            int_result(r).ok_or_else(|| overflow(sym, a, b))
        }
        (_, NumClass::Decimal) => {
            let x = a.to_decimal().unwrap_or_default();
            let y = b.to_decimal().unwrap_or_default();
            let r = match op {
                ArithOp::Add => x.checked_add(y),
                ArithOp::Sub => x.checked_sub(y),
                ArithOp::Mul => x.checked_mul(y),
                ArithOp::Mod => {
                    if y.is_zero() {
                        return Ok(divided_by_zero());
                    }
                    x.checked_rem(y)
                }
                ArithOp::Div | ArithOp::IntDiv => unreachable!("handled above"),
            };
            r.map(Value::Decimal).ok_or_else(|| overflow(sym, a, b))
        }
        (_, NumClass::Double) => {
            let x = a.to_f64().unwrap_or(0.0);
            let y = b.to_f64().unwrap_or(0.0);
            let r = match op {
                ArithOp::Add => x + y,
                ArithOp::Sub => x - y,
                ArithOp::Mul => x * y,
                ArithOp::Mod => {
                    if y == 0.0 {
                        return Ok(divided_by_zero());
                    }
                    x % y
                }
                ArithOp::Div | ArithOp::IntDiv => unreachable!("handled above"),
            };
            finite_double(r, sym, a, b)
        }
    }
}

/// A DOUBLE result; overflow to infinity is ER_DATA_OUT_OF_RANGE, as in
/// MySQL (a client never sees `inf`).
fn finite_double(r: f64, sym: &str, a: &Value, b: &Value) -> SqlResult<Value> {
    if r.is_finite() {
        return Ok(Value::Double(r));
    }
    Err(SqlError::new(
        1690,
        "22003",
        format!(
            "DOUBLE value is out of range in '({} {sym} {})'",
            a.to_text_lossy(),
            b.to_text_lossy()
        ),
    ))
}

fn int_of(v: &Value) -> Option<i128> {
    match v {
        Value::Int(i) => Some(i128::from(*i)),
        Value::UInt(u) => Some(i128::from(*u)),
        Value::Str(s) => parse_integer_literal(s).map(i128::from),
        Value::Date(d) => Some(i128::from(date_number(*d))),
        _ => None,
    }
}

fn int_result(r: i128) -> Option<Value> {
    if let Ok(i) = i64::try_from(r) {
        Some(Value::Int(i))
    } else {
        u64::try_from(r).ok().map(Value::UInt)
    }
}

/// Unary minus.
pub fn negate(v: &Value) -> SqlResult<Value> {
    Ok(match v {
        Value::Null => Value::Null,
        Value::Int(i) => match i.checked_neg() {
            Some(n) => Value::Int(n),
            None => Value::Decimal(-Decimal::from(*i)),
        },
        Value::UInt(u) => {
            if *u <= i64::MAX as u64 + 1 {
                Value::Int((-(i128::from(*u))) as i64)
            } else {
                Value::Decimal(-Decimal::from(*u))
            }
        }
        Value::Double(d) => Value::Double(-d),
        Value::Decimal(d) => Value::Decimal(-*d),
        other => match num_class(other) {
            NumClass::Int => negate(&Value::Int(other.to_i64().unwrap_or(0)))?,
            NumClass::Decimal => Value::Decimal(-other.to_decimal().unwrap_or_default()),
            NumClass::Double => Value::Double(-other.to_f64().unwrap_or(0.0)),
        },
    })
}

/// SQL LIKE with `%` and `_` and an escape character, on characters.
/// Characters match under `coll` (None: exactly); trailing spaces are
/// significant, as in MySQL's LIKE.
pub fn like(text: &str, pattern: &str, escape: char, coll: Option<Collation>) -> bool {
    let t: Vec<char> = text.chars().collect();
    let p: Vec<char> = pattern.chars().collect();
    match coll {
        Some(c) => like_at(&t, &p, escape, |a, b| c.char_eq(a, b)),
        None => like_at(&t, &p, escape, |a, b| a == b),
    }
}

fn like_at(t: &[char], p: &[char], escape: char, eq: impl Fn(char, char) -> bool) -> bool {
    // Iterative matcher with backtracking to the last '%'.
    let (mut ti, mut pi) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() {
            let c = p[pi];
            if c == '%' {
                star = Some((pi, ti));
                pi += 1;
                continue;
            }
            let (lit, width) = if c == escape && pi + 1 < p.len() {
                (Some(p[pi + 1]), 2)
            } else if c == '_' {
                (None, 1)
            } else {
                (Some(c), 1)
            };
            if lit.is_none_or(|l| eq(l, t[ti])) {
                ti += 1;
                pi += width;
                continue;
            }
        }
        match star {
            Some((sp, st)) => {
                pi = sp + 1;
                ti = st + 1;
                star = Some((sp, st + 1));
            }
            None => return false,
        }
    }
    while pi < p.len() && p[pi] == '%' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_types() {
        let r = arith(ArithOp::Div, &Value::Int(7), &Value::Int(2)).unwrap();
        assert_eq!(r.to_text().unwrap(), "3.5000");
        assert!(arith(ArithOp::Add, &Value::Int(i64::MAX), &Value::Int(1)).is_err());
        assert!(arith(ArithOp::Div, &Value::Int(1), &Value::Int(0))
            .unwrap()
            .is_null());
        let r = arith(
            ArithOp::Mul,
            &Value::Decimal("1.10".parse().unwrap()),
            &Value::Int(3),
        )
        .unwrap();
        assert_eq!(r.to_text().unwrap(), "3.30");
        assert!(arith(ArithOp::Sub, &Value::UInt(1), &Value::Int(2)).is_err());
        assert_eq!(
            arith(ArithOp::Mod, &Value::Int(7), &Value::Int(3))
                .unwrap()
                .to_text()
                .unwrap(),
            "1"
        );
    }

    #[test]
    fn like_patterns() {
        assert!(like("hello", "h%o", '\\', None));
        assert!(like("hello", "h_llo", '\\', None));
        assert!(!like("hello", "h_lo", '\\', None));
        assert!(like("50%", "50\\%", '\\', None));
        assert!(!like("500", "50\\%", '\\', None));
        assert!(like("", "%", '\\', None));
        assert!(like("abcabc", "%abc", '\\', None));
    }
}

#[cfg(test)]
mod like_tests {
    use super::*;

    #[test]
    fn like_follows_the_collation() {
        let ci = Some(Collation::Utf8mb4GeneralCi);
        assert!(like("Bob@Example.com", "bob@%", '\\', ci));
        assert!(!like(
            "Bob@Example.com",
            "bob@%",
            '\\',
            Some(Collation::Utf8mb4Bin)
        ));
        assert!(like("Résumé", "resume", '\\', ci));
        // Trailing spaces count in LIKE, unlike in `=`.
        assert!(!like("a ", "a", '\\', ci));
    }
}
