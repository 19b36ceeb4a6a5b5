//! Built-in scalar functions: the name table (name, arity), result types,
//! and evaluation, split by family. Pure logic: no I/O, no session. What a
//! function needs from the session (the time zone, the statement's time) is
//! bound into its arguments as literals by the binder.

use std::cmp::Ordering;

use crate::bind::infer;
use crate::error::SqlResult;
use crate::expr::{Expr, IntervalUnit};
use crate::OutCol;
use trireme_storage::types::{IntWidth, SqlType};
use trireme_storage::value::{compare, Value};

mod crypto;
mod datetime;
mod math;
mod string;

/// Scalar functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Func {
    Concat,
    ConcatWs,
    Length,
    CharLength,
    Lower,
    Upper,
    Substring,
    Left,
    Right,
    Trim,
    LTrim,
    RTrim,
    Replace,
    Repeat,
    Reverse,
    Lpad,
    Rpad,
    Locate,
    Instr,
    Hex,
    Ascii,
    Space,
    Coalesce,
    IfNull,
    NullIf,
    If,
    Greatest,
    Least,
    Abs,
    Round,
    Truncate,
    Floor,
    Ceil,
    Mod,
    Sign,
    Sqrt,
    Power,
    Rand,
    Uuid,
    Date,
    Year,
    Month,
    Day,
    Hour,
    Minute,
    Second,
    UnixTimestamp,
    FromUnixtime,
    DateFormat,
    DateAdd,
    DateSub,
    DateDiff,
    Md5,
    Sha1,
    Crc32,
    Sleep,
    /// LAST_INSERT_ID(expr): returns expr and remembers it as the session's
    /// LAST_INSERT_ID() (see `take_set_last_insert_id`).
    SetLastInsertId,
}

/// Every bound name: (name, function, least and most arguments).
const FUNCTIONS: &[(&str, Func, usize, usize)] = {
    use Func::*;
    const M: usize = usize::MAX;
    &[
        ("CONCAT", Concat, 1, M),
        ("CONCAT_WS", ConcatWs, 2, M),
        ("LENGTH", Length, 1, 1),
        ("OCTET_LENGTH", Length, 1, 1),
        ("CHAR_LENGTH", CharLength, 1, 1),
        ("CHARACTER_LENGTH", CharLength, 1, 1),
        ("LOWER", Lower, 1, 1),
        ("LCASE", Lower, 1, 1),
        ("UPPER", Upper, 1, 1),
        ("UCASE", Upper, 1, 1),
        ("SUBSTRING", Substring, 2, 3),
        ("SUBSTR", Substring, 2, 3),
        ("MID", Substring, 2, 3),
        ("LEFT", Left, 2, 2),
        ("RIGHT", Right, 2, 2),
        ("TRIM", Trim, 1, 1),
        ("LTRIM", LTrim, 1, 1),
        ("RTRIM", RTrim, 1, 1),
        ("REPLACE", Replace, 3, 3),
        ("REPEAT", Repeat, 2, 2),
        ("REVERSE", Reverse, 1, 1),
        ("LPAD", Lpad, 3, 3),
        ("RPAD", Rpad, 3, 3),
        ("LOCATE", Locate, 2, 3),
        ("INSTR", Instr, 2, 2),
        ("HEX", Hex, 1, 1),
        ("ASCII", Ascii, 1, 1),
        ("ORD", Ascii, 1, 1),
        ("SPACE", Space, 1, 1),
        ("COALESCE", Coalesce, 1, M),
        ("IFNULL", IfNull, 2, 2),
        ("NVL", IfNull, 2, 2),
        ("NULLIF", NullIf, 2, 2),
        ("IF", If, 3, 3),
        ("GREATEST", Greatest, 2, M),
        ("LEAST", Least, 2, M),
        ("ABS", Abs, 1, 1),
        ("ROUND", Round, 1, 2),
        ("TRUNCATE", Truncate, 2, 2),
        ("FLOOR", Floor, 1, 1),
        ("CEIL", Ceil, 1, 1),
        ("CEILING", Ceil, 1, 1),
        ("MOD", Mod, 2, 2),
        ("SIGN", Sign, 1, 1),
        ("SQRT", Sqrt, 1, 1),
        ("POW", Power, 2, 2),
        ("POWER", Power, 2, 2),
        ("RAND", Rand, 0, 1),
        ("UUID", Uuid, 0, 0),
        ("DATE", Date, 1, 1),
        ("YEAR", Year, 1, 1),
        ("MONTH", Month, 1, 1),
        ("DAY", Day, 1, 1),
        ("DAYOFMONTH", Day, 1, 1),
        ("HOUR", Hour, 1, 1),
        ("MINUTE", Minute, 1, 1),
        ("SECOND", Second, 1, 1),
        ("UNIX_TIMESTAMP", UnixTimestamp, 1, 1),
        ("FROM_UNIXTIME", FromUnixtime, 1, 1),
        ("DATE_FORMAT", DateFormat, 2, 2),
        ("DATE_ADD", DateAdd, 2, 2),
        ("ADDDATE", DateAdd, 2, 2),
        ("DATE_SUB", DateSub, 2, 2),
        ("SUBDATE", DateSub, 2, 2),
        ("DATEDIFF", DateDiff, 2, 2),
        ("MD5", Md5, 1, 1),
        ("SHA1", Sha1, 1, 1),
        ("SHA", Sha1, 1, 1),
        ("CRC32", Crc32, 1, 1),
        ("SLEEP", Sleep, 1, 1),
    ]
};

/// The function bound to `name` (upper case) with its least and most
/// argument counts.
pub fn lookup(name: &str) -> Option<(Func, usize, usize)> {
    static INDEX: std::sync::OnceLock<
        std::collections::HashMap<&'static str, (Func, usize, usize)>,
    > = std::sync::OnceLock::new();
    INDEX
        .get_or_init(|| {
            FUNCTIONS
                .iter()
                .map(|(n, f, lo, hi)| (*n, (*f, *lo, *hi)))
                .collect()
        })
        .get(name)
        .copied()
}

/// The names the function table binds (without the session functions the
/// binder answers itself).
pub fn names() -> impl Iterator<Item = &'static str> {
    FUNCTIONS.iter().map(|(n, ..)| *n)
}

/// A function's name for messages.
pub fn name(f: Func) -> &'static str {
    FUNCTIONS
        .iter()
        .find(|(_, g, ..)| *g == f)
        .map_or("function", |(n, ..)| n)
}

thread_local! {
    /// The value the last LAST_INSERT_ID(expr) evaluated on this thread set,
    /// not yet taken by the statement that ran it (statements execute
    /// synchronously, so the statement reads it right after its rows).
    static SET_LAST_INSERT_ID: std::cell::Cell<Option<u64>> = const { std::cell::Cell::new(None) };
}

/// The value LAST_INSERT_ID(expr) set during the statement, if any (and
/// clears it).
pub fn take_set_last_insert_id() -> Option<u64> {
    SET_LAST_INSERT_ID.with(|c| c.take())
}

fn arg(args: &[Expr], i: usize, row: &[Value]) -> SqlResult<Value> {
    match args.get(i) {
        Some(e) => e.eval(row),
        None => Ok(Value::Null),
    }
}

pub(crate) fn text(v: &Value) -> String {
    v.to_text_lossy()
}

/// Functions that see NULL arguments themselves (the others are NULL when
/// any argument is).
fn null_aware(f: Func) -> bool {
    use Func::*;
    matches!(f, Rand | Uuid)
}

/// Evaluates `f(args)` against `row`.
pub fn eval(f: Func, args: &[Expr], row: &[Value]) -> SqlResult<Value> {
    use Func::*;
    // Functions that look at their arguments lazily or treat NULL specially.
    match f {
        Coalesce => {
            for a in args {
                let v = a.eval(row)?;
                if !v.is_null() {
                    return Ok(v);
                }
            }
            return Ok(Value::Null);
        }
        IfNull => {
            let v = arg(args, 0, row)?;
            return if v.is_null() {
                arg(args, 1, row)
            } else {
                Ok(v)
            };
        }
        If => {
            return if arg(args, 0, row)?.truth() == Some(true) {
                arg(args, 1, row)
            } else {
                arg(args, 2, row)
            };
        }
        NullIf => {
            let a = arg(args, 0, row)?;
            let b = arg(args, 1, row)?;
            return Ok(if compare(&a, &b) == Some(Ordering::Equal) {
                Value::Null
            } else {
                a
            });
        }
        ConcatWs => {
            let sep = arg(args, 0, row)?;
            if sep.is_null() {
                return Ok(Value::Null);
            }
            let mut parts = Vec::new();
            for a in &args[1..] {
                let v = a.eval(row)?;
                if !v.is_null() {
                    parts.push(text(&v));
                }
            }
            return Ok(Value::Str(parts.join(&text(&sep))));
        }
        DateAdd | DateSub => {
            let base = arg(args, 0, row)?;
            let (unit, amount) = match args.get(1) {
                Some(Expr::Interval(u, e)) => (*u, e.eval(row)?),
                Some(e) => (IntervalUnit::Day, e.eval(row)?),
                None => return Ok(Value::Null),
            };
            return datetime::date_add(f == DateSub, &base, &amount, unit);
        }
        Sleep => {
            let secs = arg(args, 0, row)?
                .to_f64()
                .unwrap_or(0.0)
                .clamp(0.0, 3600.0);
            let pause = || std::thread::sleep(std::time::Duration::from_secs_f64(secs));
            // Statements run on the async runtime's workers: on a
            // multi-threaded runtime, hand this worker's other tasks to
            // another thread while sleeping, so SLEEP() stalls only its
            // own session.
            let multi = tokio::runtime::Handle::try_current()
                .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
            if multi {
                tokio::task::block_in_place(pause);
            } else {
                pause();
            }
            return Ok(Value::Int(0));
        }
        SetLastInsertId => {
            let v = arg(args, 0, row)?;
            if v.is_null() {
                return Ok(v);
            }
            let n = match &v {
                Value::Int(i) => *i as u64,
                Value::UInt(u) => *u,
                other => other.to_i64().unwrap_or(0) as u64,
            };
            SET_LAST_INSERT_ID.with(|c| c.set(Some(n)));
            return Ok(Value::UInt(n));
        }
        _ => {}
    }
    let vals = args
        .iter()
        .map(|a| a.eval(row))
        .collect::<SqlResult<Vec<_>>>()?;
    if matches!(f, Greatest | Least) {
        if vals.iter().any(Value::is_null) {
            return Ok(Value::Null);
        }
        let mut best = vals[0].clone();
        for v in &vals[1..] {
            let o = compare(v, &best).unwrap_or(Ordering::Equal);
            if (f == Greatest && o == Ordering::Greater) || (f == Least && o == Ordering::Less) {
                best = v.clone();
            }
        }
        return Ok(best);
    }
    if !null_aware(f) && vals.iter().any(Value::is_null) {
        return Ok(Value::Null);
    }
    if let Some(v) = string::eval(f, &vals)? {
        return Ok(v);
    }
    if let Some(v) = math::eval(f, &vals)? {
        return Ok(v);
    }
    if let Some(v) = datetime::eval(f, &vals)? {
        return Ok(v);
    }
    if let Some(v) = crypto::eval(f, &vals)? {
        return Ok(v);
    }
    unreachable!("function {f:?} has no evaluation")
}

fn big() -> Option<SqlType> {
    Some(SqlType::Int {
        width: IntWidth::Big,
        unsigned: false,
    })
}

fn ubig() -> Option<SqlType> {
    Some(SqlType::Int {
        width: IntWidth::Big,
        unsigned: true,
    })
}

fn varchar(n: u32) -> Option<SqlType> {
    Some(SqlType::Varchar(n))
}

/// The result type of `f(args)` over a layout with column types `cols`,
/// and whether it may be NULL.
pub fn result_type(f: Func, args: &[Expr], cols: &[OutCol]) -> (Option<SqlType>, bool) {
    use Func::*;
    let first = || args.first().map_or((None, true), |a| infer(a, cols));
    match f {
        Concat | ConcatWs | Lower | Upper | Substring | Left | Right | Trim | LTrim | RTrim
        | Replace | Repeat | Reverse | Lpad | Rpad | Hex | Space | DateFormat => {
            let n = match first().0 {
                Some(t) => t.max_len().unwrap_or(255).clamp(1, 65_535),
                None => 255,
            };
            (varchar(n), true)
        }
        Uuid => (varchar(36), false),
        Md5 => (varchar(32), true),
        Sha1 => (varchar(40), true),
        Length | CharLength | Locate | Instr | Ascii | Sign | Year | Month | Day | Hour
        | Minute | Second | UnixTimestamp | DateDiff | Sleep => (big(), true),
        SetLastInsertId | Crc32 => (ubig(), true),
        Coalesce | IfNull | Greatest | Least | NullIf => {
            let mut ty = None;
            for a in args {
                ty = crate::bind::merge_types(ty, infer(a, cols).0);
            }
            (ty, true)
        }
        If => {
            let a = args.get(1).and_then(|a| infer(a, cols).0);
            let b = args.get(2).and_then(|a| infer(a, cols).0);
            (crate::bind::merge_types(a, b), true)
        }
        Abs | Floor | Ceil | Mod => first(),
        Round | Truncate => {
            let (t, n) = first();
            match t {
                Some(SqlType::Decimal { precision, .. }) => {
                    let places = match args.get(1) {
                        Some(Expr::Lit(v)) => v.to_i64().unwrap_or(0).clamp(0, 28) as u8,
                        _ => 0,
                    };
                    (
                        Some(SqlType::Decimal {
                            precision,
                            scale: places,
                        }),
                        n,
                    )
                }
                other => (other, n),
            }
        }
        Sqrt | Power | Rand => (Some(SqlType::Double), true),
        Date => (Some(SqlType::Date), true),
        FromUnixtime => (Some(SqlType::DateTime(0)), true),
        DateAdd | DateSub => (Some(SqlType::DateTime(0)), true),
    }
}
