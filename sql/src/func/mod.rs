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
use trireme_storage::value::{compare, compare_collated, Value};

mod crypto;
mod datetime;
mod json;
pub(crate) use json::{agg_element, agg_key, returns_json};
mod math;
mod misc;
mod regexp;
mod string;
pub mod tz;

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
    // Strings.
    Ord,
    BitLength,
    SubstringIndex,
    FindInSet,
    Field,
    Elt,
    MakeSet,
    ExportSet,
    Insert,
    Quote,
    Soundex,
    Strcmp,
    ToBase64,
    FromBase64,
    Unhex,
    Char,
    /// CHAR(n, ... USING charset): the parser passes the charset first.
    CharUsing,
    Chr,
    /// GET_FORMAT(DATE | DATETIME | TIMESTAMP | TIME, locale): the type
    /// rides as a literal first argument.
    GetFormat,
    /// EXTRACT with a compound unit (its name is the first argument).
    ExtractUnits,
    Format,
    Conv,
    Bin,
    Oct,
    RegexpLike,
    RegexpReplace,
    RegexpSubstr,
    RegexpInstr,
    // Numbers.
    Exp,
    Ln,
    Log,
    Log2,
    Log10,
    Pi,
    Sin,
    Cos,
    Tan,
    Cot,
    Asin,
    Acos,
    Atan,
    Atan2,
    Degrees,
    Radians,
    BitCount,
    // Digests and identifiers.
    Sha2,
    RandomBytes,
    Password,
    Compress,
    Uncompress,
    UncompressedLength,
    UuidShort,
    /// NEXTVAL / LASTVAL / SETVAL: (db, sequence, version, [value, used,
    /// round]) as bound by the binder (`crate::sequence`).
    NextVal,
    LastVal,
    SetVal,
    /// Internal, not callable by name: an ENUM value's 1-based position or
    /// a SET value's bit mask, where the column is used as a number
    /// (`size + 0`, `tags & 1`, `size = 2`). Arguments: the value, the
    /// members joined by NUL, and 1 for SET.
    MemberOrdinal,
    // Dates and times.
    Time,
    Microsecond,
    TimeToSec,
    SecToTime,
    MakeTime,
    MonthName,
    DayName,
    DayOfWeek,
    Weekday,
    DayOfYear,
    Quarter,
    ToDays,
    ToSeconds,
    Week,
    WeekOfYear,
    YearWeek,
    LastDay,
    FromDays,
    MakeDate,
    PeriodAdd,
    PeriodDiff,
    ConvertTz,
    Timestamp,
    AddTime,
    SubTime,
    TimeDiff,
    TimeFormat,
    StrToDate,
    /// TIMESTAMPDIFF(unit, a, b): the unit arrives as an Interval argument.
    TimestampDiff,
    // Flow control and the rest.
    IsNull,
    Nvl2,
    /// INTERVAL(N, N1, N2, ...).
    IntervalIndex,
    InetAton,
    InetNtoa,
    IsIpv4,
    IsIpv6,
    Benchmark,
    // JSON.
    JsonValid,
    JsonExtract,
    JsonUnquote,
    JsonQuote,
    JsonObject,
    JsonArray,
    JsonContains,
    JsonContainsPath,
    JsonSet,
    JsonInsert,
    JsonReplace,
    JsonRemove,
    JsonArrayAppend,
    JsonArrayInsert,
    JsonLength,
    JsonDepth,
    JsonKeys,
    JsonType,
    JsonSearch,
    JsonMergePatch,
    JsonMergePreserve,
    JsonValue,
    JsonQuery,
    JsonExists,
    JsonCompact,
    JsonLoose,
    JsonDetailed,
    JsonEquals,
    JsonNormalize,
    JsonOverlaps,
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
        ("LPAD", Lpad, 2, 3),
        ("RPAD", Rpad, 2, 3),
        ("LOCATE", Locate, 2, 3),
        ("INSTR", Instr, 2, 2),
        ("HEX", Hex, 1, 1),
        ("ASCII", Ascii, 1, 1),
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
        ("FROM_UNIXTIME", FromUnixtime, 1, 2),
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
        ("ORD", Ord, 1, 1),
        ("BIT_LENGTH", BitLength, 1, 1),
        ("SUBSTRING_INDEX", SubstringIndex, 3, 3),
        ("FIND_IN_SET", FindInSet, 2, 2),
        ("FIELD", Field, 2, M),
        ("ELT", Elt, 2, M),
        ("MAKE_SET", MakeSet, 2, M),
        ("EXPORT_SET", ExportSet, 3, 5),
        ("INSERT", Insert, 4, 4),
        ("QUOTE", Quote, 1, 1),
        ("SOUNDEX", Soundex, 1, 1),
        ("STRCMP", Strcmp, 2, 2),
        ("TO_BASE64", ToBase64, 1, 1),
        ("FROM_BASE64", FromBase64, 1, 1),
        ("UNHEX", Unhex, 1, 1),
        ("CHAR", Char, 1, M),
        // Spelled with a space: only the parser (`dialect`) produces it.
        ("CHAR USING", CharUsing, 2, M),
        // CHR(n): CHAR(n USING <the database's charset>), bound so, but
        // NULL for a NULL.
        ("CHR", Chr, 1, 1),
        ("EXTRACT UNITS", ExtractUnits, 2, 2),
        ("FORMAT", Format, 2, 3),
        ("CONV", Conv, 3, 3),
        ("BIN", Bin, 1, 1),
        ("OCT", Oct, 1, 1),
        ("POSITION", Locate, 2, 2),
        ("REGEXP_REPLACE", RegexpReplace, 3, 3),
        ("REGEXP_SUBSTR", RegexpSubstr, 2, 2),
        ("REGEXP_INSTR", RegexpInstr, 2, 2),
        ("EXP", Exp, 1, 1),
        ("LN", Ln, 1, 1),
        ("LOG", Log, 1, 2),
        ("LOG2", Log2, 1, 1),
        ("LOG10", Log10, 1, 1),
        ("PI", Pi, 0, 0),
        ("SIN", Sin, 1, 1),
        ("COS", Cos, 1, 1),
        ("TAN", Tan, 1, 1),
        ("COT", Cot, 1, 1),
        ("ASIN", Asin, 1, 1),
        ("ACOS", Acos, 1, 1),
        ("ATAN", Atan, 1, 2),
        ("ATAN2", Atan2, 2, 2),
        ("DEGREES", Degrees, 1, 1),
        ("RADIANS", Radians, 1, 1),
        ("BIT_COUNT", BitCount, 1, 1),
        ("SHA2", Sha2, 2, 2),
        ("RANDOM_BYTES", RandomBytes, 1, 1),
        ("PASSWORD", Password, 1, 1),
        ("COMPRESS", Compress, 1, 1),
        ("UNCOMPRESS", Uncompress, 1, 1),
        ("UNCOMPRESSED_LENGTH", UncompressedLength, 1, 1),
        ("UUID_SHORT", UuidShort, 0, 0),
        ("TIME", Time, 1, 1),
        ("MICROSECOND", Microsecond, 1, 1),
        ("TIME_TO_SEC", TimeToSec, 1, 1),
        ("SEC_TO_TIME", SecToTime, 1, 1),
        ("MAKETIME", MakeTime, 3, 3),
        ("MONTHNAME", MonthName, 1, 1),
        ("DAYNAME", DayName, 1, 1),
        ("DAYOFWEEK", DayOfWeek, 1, 1),
        ("WEEKDAY", Weekday, 1, 1),
        ("DAYOFYEAR", DayOfYear, 1, 1),
        ("QUARTER", Quarter, 1, 1),
        ("TO_DAYS", ToDays, 1, 1),
        ("TO_SECONDS", ToSeconds, 1, 1),
        ("WEEK", Week, 1, 2),
        ("WEEKOFYEAR", WeekOfYear, 1, 1),
        ("YEARWEEK", YearWeek, 1, 2),
        ("LAST_DAY", LastDay, 1, 1),
        ("FROM_DAYS", FromDays, 1, 1),
        ("MAKEDATE", MakeDate, 2, 2),
        ("PERIOD_ADD", PeriodAdd, 2, 2),
        ("PERIOD_DIFF", PeriodDiff, 2, 2),
        ("CONVERT_TZ", ConvertTz, 3, 3),
        ("TIMESTAMP", Timestamp, 1, 2),
        ("ADDTIME", AddTime, 2, 2),
        ("SUBTIME", SubTime, 2, 2),
        ("TIMEDIFF", TimeDiff, 2, 2),
        ("TIME_FORMAT", TimeFormat, 2, 2),
        ("STR_TO_DATE", StrToDate, 2, 2),
        ("TIMESTAMPDIFF", TimestampDiff, 3, 3),
        ("TIMESTAMPADD", DateAdd, 3, 3),
        ("ISNULL", IsNull, 1, 1),
        ("NVL2", Nvl2, 3, 3),
        ("INTERVAL", IntervalIndex, 2, M),
        ("INET_ATON", InetAton, 1, 1),
        ("INET_NTOA", InetNtoa, 1, 1),
        ("IS_IPV4", IsIpv4, 1, 1),
        ("IS_IPV6", IsIpv6, 1, 1),
        ("BENCHMARK", Benchmark, 2, 2),
        ("JSON_VALID", JsonValid, 1, 1),
        ("JSON_EXTRACT", JsonExtract, 2, M),
        ("JSON_UNQUOTE", JsonUnquote, 1, 1),
        ("JSON_QUOTE", JsonQuote, 1, 1),
        ("JSON_OBJECT", JsonObject, 0, M),
        ("JSON_ARRAY", JsonArray, 0, M),
        ("JSON_CONTAINS", JsonContains, 2, 3),
        ("JSON_CONTAINS_PATH", JsonContainsPath, 3, M),
        ("JSON_SET", JsonSet, 3, M),
        ("JSON_INSERT", JsonInsert, 3, M),
        ("JSON_REPLACE", JsonReplace, 3, M),
        ("JSON_REMOVE", JsonRemove, 2, M),
        ("JSON_ARRAY_APPEND", JsonArrayAppend, 3, M),
        ("JSON_ARRAY_INSERT", JsonArrayInsert, 3, M),
        ("JSON_LENGTH", JsonLength, 1, 2),
        ("JSON_DEPTH", JsonDepth, 1, 1),
        ("JSON_KEYS", JsonKeys, 1, 2),
        ("JSON_TYPE", JsonType, 1, 1),
        ("JSON_SEARCH", JsonSearch, 3, M),
        ("JSON_MERGE_PATCH", JsonMergePatch, 2, M),
        ("JSON_MERGE_PRESERVE", JsonMergePreserve, 2, M),
        ("JSON_MERGE", JsonMergePreserve, 2, M),
        ("JSON_VALUE", JsonValue, 2, 2),
        ("JSON_QUERY", JsonQuery, 2, 2),
        ("JSON_EXISTS", JsonExists, 2, 2),
        ("JSON_COMPACT", JsonCompact, 1, 1),
        ("JSON_LOOSE", JsonLoose, 1, 1),
        ("JSON_DETAILED", JsonDetailed, 1, 2),
        ("JSON_PRETTY", JsonDetailed, 1, 2),
        ("JSON_EQUALS", JsonEquals, 2, 2),
        ("JSON_NORMALIZE", JsonNormalize, 1, 1),
        ("JSON_OVERLAPS", JsonOverlaps, 2, 2),
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

/// Whether TRUE / FALSE arguments of `f` are truth values (JSON booleans).
pub fn json_boolean_args(f: Func) -> bool {
    json::is_json(f)
}

/// Whether the binder appends the session time zone to `f`'s arguments.
pub fn needs_zone(f: Func) -> bool {
    matches!(f, Func::UnixTimestamp | Func::FromUnixtime)
}

/// An interval unit named as a keyword (TIMESTAMPDIFF, TIMESTAMPADD).
pub fn unit_by_name(name: &str) -> Option<IntervalUnit> {
    let n = name.trim().to_ascii_uppercase();
    let n = n.strip_prefix("SQL_TSI_").unwrap_or(&n);
    Some(match n {
        "MICROSECOND" | "FRAC_SECOND" => IntervalUnit::Microsecond,
        "SECOND" => IntervalUnit::Second,
        "MINUTE" => IntervalUnit::Minute,
        "HOUR" => IntervalUnit::Hour,
        "DAY" => IntervalUnit::Day,
        "WEEK" => IntervalUnit::Week,
        "MONTH" => IntervalUnit::Month,
        "QUARTER" => IntervalUnit::Quarter,
        "YEAR" => IntervalUnit::Year,
        _ => return None,
    })
}

/// The functions the binder answers from the session (once per statement).
pub const SESSION_FUNCTIONS: &[&str] = &[
    "DATABASE",
    "SCHEMA",
    "USER",
    "SESSION_USER",
    "SYSTEM_USER",
    "CURRENT_USER",
    "VERSION",
    "CONNECTION_ID",
    "LAST_INSERT_ID",
    "FOUND_ROWS",
    "ROW_COUNT",
    "NOW",
    "CURRENT_TIMESTAMP",
    "LOCALTIME",
    "LOCALTIMESTAMP",
    "SYSDATE",
    "UTC_TIMESTAMP",
    "CURDATE",
    "CURRENT_DATE",
    "UTC_DATE",
    "CURTIME",
    "CURRENT_TIME",
    "UTC_TIME",
    "VALUES",
    "VALUE",
];

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
    matches!(
        f,
        Rand | Uuid
            | Field
            | Elt
            | MakeSet
            | ExportSet
            | Quote
            | Char
            | CharUsing
            | Chr
            | IsNull
            | IntervalIndex
            | IsIpv4
            | IsIpv6
            | Pi
            | UuidShort
    )
}

/// Evaluates `f(args)` against `row`.
pub fn eval(f: Func, args: &[Expr], row: &[Value]) -> SqlResult<Value> {
    use Func::*;
    // Functions that look at their arguments lazily or treat NULL specially.
    match f {
        _ if json::is_json(f) => return json::eval(f, args, row),
        MemberOrdinal => {
            let v = arg(args, 0, row)?;
            if v.is_null() {
                return Ok(Value::Null);
            }
            let members: Vec<String> = text(&arg(args, 1, row)?)
                .split('\0')
                .map(str::to_string)
                .collect();
            let set = arg(args, 2, row)?.truth() == Some(true);
            return Ok(Value::UInt(crate::coerce::member_ordinal(
                &members,
                set,
                &text(&v),
            )));
        }
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
            let coll = (a.is_stringish() && b.is_stringish())
                .then(trireme_storage::collation::Collation::default);
            return Ok(if compare_collated(&a, &b, coll) == Some(Ordering::Equal) {
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
        Nvl2 => {
            return if arg(args, 0, row)?.is_null() {
                arg(args, 2, row)
            } else {
                arg(args, 1, row)
            };
        }
        Benchmark => {
            let n = arg(args, 0, row)?.to_i64().unwrap_or(0).clamp(0, 1_000_000);
            for _ in 0..n {
                arg(args, 1, row)?;
            }
            return Ok(Value::Int(0));
        }
        TimestampDiff => {
            let unit = match args.first() {
                Some(Expr::Interval(u, _)) => *u,
                _ => IntervalUnit::Day,
            };
            let (a, b) = (arg(args, 1, row)?, arg(args, 2, row)?);
            return Ok(datetime::timestamp_diff(unit, &a, &b));
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
            blocking(|| std::thread::sleep(std::time::Duration::from_secs_f64(secs)));
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
    match f {
        NextVal => return crate::sequence::next_value(&vals),
        LastVal => return crate::sequence::last_value(&vals),
        SetVal => return crate::sequence::set_value(&vals),
        _ => {}
    }
    if matches!(f, Greatest | Least) {
        if vals.iter().any(Value::is_null) {
            return Ok(Value::Null);
        }
        let vals = comparable_extremes(vals);
        let mut best = vals[0].clone();
        for v in &vals[1..] {
            let o = compare(v, &best).unwrap_or(Ordering::Equal);
            if (f == Greatest && o == Ordering::Greater) || (f == Least && o == Ordering::Less) {
                best = v.clone();
            }
        }
        return Ok(best);
    }
    if null_aware(f) {
        if let Some(v) = string::eval_nullable(f, &vals)? {
            return Ok(v);
        }
        if let Some(v) = misc::eval_nullable(f, &vals)? {
            return Ok(v);
        }
    } else if vals.iter().any(Value::is_null) {
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
    if let Some(v) = regexp::eval(f, &vals)? {
        return Ok(v);
    }
    if let Some(v) = misc::eval(f, &vals)? {
        return Ok(v);
    }
    unreachable!("function {f:?} has no evaluation")
}

/// GREATEST / LEAST's arguments as MariaDB compares and returns them
/// (see `extremes_type`): strings mixed with numbers, or any double, as
/// doubles; integers with decimals as decimals of the largest scale.
/// Dates and all-string lists stay as they are.
fn comparable_extremes(vals: Vec<Value>) -> Vec<Value> {
    let temporal = vals
        .iter()
        .any(|v| matches!(v, Value::Date(_) | Value::DateTime(_) | Value::Time(_)));
    let strings = vals.iter().filter(|v| v.is_stringish()).count();
    if temporal || strings == vals.len() {
        return vals;
    }
    let doubles = vals.iter().any(|v| matches!(v, Value::Double(_)));
    if strings > 0 || doubles {
        return vals
            .iter()
            .map(|v| Value::Double(v.to_f64().unwrap_or(0.0)))
            .collect();
    }
    let scale = vals
        .iter()
        .filter_map(|v| match v {
            Value::Decimal(d) => Some(d.scale()),
            _ => None,
        })
        .max();
    match scale {
        Some(scale) => vals
            .iter()
            .map(|v| match v.to_decimal() {
                Some(mut d) => {
                    d.rescale(scale);
                    Value::Decimal(d)
                }
                None => v.clone(),
            })
            .collect(),
        None => vals,
    }
}

/// GREATEST / LEAST's type in MariaDB: a string when every argument is
/// one (or NULL), a DOUBLE when strings meet numbers, a double or a NULL
/// is among numbers, else the numbers' common type; dates keep theirs.
fn extremes_type(args: &[Expr], cols: &[OutCol]) -> Option<SqlType> {
    let types: Vec<Option<SqlType>> = args.iter().map(|a| infer(a, cols).0).collect();
    let known: Vec<&SqlType> = types.iter().flatten().collect();
    let merged = || types.iter().cloned().fold(None, crate::bind::merge_types);
    if known.is_empty() || known.iter().all(|t| t.is_string() || t.is_binary()) {
        return merged();
    }
    if known.iter().any(|t| {
        matches!(
            t,
            SqlType::Date | SqlType::DateTime(_) | SqlType::Timestamp(_) | SqlType::Time(_)
        )
    }) {
        return merged();
    }
    let has_null = known.len() < types.len();
    let mixed = known.iter().any(|t| t.is_string() || t.is_binary());
    let doubles = known
        .iter()
        .any(|t| matches!(t, SqlType::Double | SqlType::Float));
    if has_null || mixed || doubles {
        return Some(SqlType::Double);
    }
    merged()
}

fn big() -> Option<SqlType> {
    Some(SqlType::Int {
        width: IntWidth::Big,
        unsigned: false,
    })
}

/// Runs `f`, which may wait (SLEEP, GET_LOCK). Statements run on the
/// async runtime's workers: on a multi-threaded runtime this worker's other
/// tasks move to another thread meanwhile, so the wait stalls only its own
/// session.
pub(crate) fn blocking<T>(f: impl FnOnce() -> T) -> T {
    let multi = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    if multi {
        tokio::task::block_in_place(f)
    } else {
        f()
    }
}

fn int() -> Option<SqlType> {
    Some(SqlType::Int {
        width: IntWidth::Int,
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
/// Whether the expression's type is a binary string.
fn is_binary(e: &Expr, cols: &[OutCol]) -> bool {
    infer(e, cols).0.is_some_and(|t| t.is_binary())
}

fn max_len(e: Option<&Expr>, cols: &[OutCol]) -> u32 {
    match e.and_then(|e| infer(e, cols).0) {
        Some(t) => t.max_len().unwrap_or(255).clamp(1, 65_535),
        None => 255,
    }
}

/// The result type of `f(args)` over a layout with column types `cols`,
/// and whether it may be NULL.
/// The fractional digits of a TIME computed from `args`: a temporal
/// argument's own, a literal's written ones, 6 for other strings.
fn time_fsp(args: &[Expr], cols: &[OutCol]) -> u8 {
    let digits = |s: &str| {
        s.rsplit_once('.').map_or(0, |(_, f)| {
            f.bytes().take_while(u8::is_ascii_digit).count().min(6) as u8
        })
    };
    args.iter()
        .map(|a| match a {
            Expr::Lit(Value::Str(s)) => digits(s),
            Expr::Lit(Value::Decimal(d)) => d.scale().min(6) as u8,
            _ => match infer(a, cols).0 {
                Some(SqlType::Time(p) | SqlType::DateTime(p) | SqlType::Timestamp(p)) => p,
                Some(SqlType::Decimal { scale, .. }) => scale.min(6),
                Some(t) if t.is_string() => 6,
                _ => 0,
            },
        })
        .max()
        .unwrap_or(0)
}

pub fn result_type(f: Func, args: &[Expr], cols: &[OutCol]) -> (Option<SqlType>, bool) {
    let (ty, nullable) = result_type_of(f, args, cols);
    let ty = match ty {
        Some(SqlType::Varchar(n))
            if charset_from_nulls(f, args, cols) || binary_from_args(f, args, cols) =>
        {
            Some(SqlType::Varbinary(n))
        }
        other => other,
    };
    (long_string_type(f, args, cols).or(ty), nullable)
}

/// Whether `f` transforms a string argument that is binary: the result is
/// binary too (binary wins MariaDB's collation aggregation).
fn binary_from_args(f: Func, args: &[Expr], cols: &[OutCol]) -> bool {
    transforms_a_string(f) && args.iter().any(|a| is_binary(a, cols))
}

/// The functions whose result is their (first) string argument changed:
/// it keeps that argument's character set.
fn transforms_a_string(f: Func) -> bool {
    use Func::*;
    matches!(
        f,
        Lower
            | Upper
            | Substring
            | Left
            | Right
            | Trim
            | LTrim
            | RTrim
            | Replace
            | Reverse
            | SubstringIndex
            | Insert
            | Repeat
            | Lpad
            | Rpad
    )
}

/// The BLOB / TEXT type MariaDB gives a string function whose result can
/// be 64 KiB or more (UPPER of a TEXT column is a MEDIUMTEXT, sent as
/// MEDIUM_BLOB), and the choices of COALESCE and IF among TEXT arguments;
/// None where the ordinary (VARCHAR) type stands. Lengths are characters
/// times 4 (utf8mb4), bytes for binary strings.
fn long_string_type(f: Func, args: &[Expr], cols: &[OutCol]) -> Option<SqlType> {
    use Func::*;
    let len = |e: &Expr| -> u64 {
        infer(e, cols)
            .0
            .filter(|t| t.is_string() || t.is_binary())
            .and_then(|t| t.max_len())
            .map_or(0, u64::from)
    };
    let binary = |e: &Expr| is_binary(e, cols);
    let lob = |e: &Expr| matches!(infer(e, cols).0, Some(SqlType::Text(_) | SqlType::Blob(_)));
    let first = args.first()?;
    // Only a TEXT or BLOB argument makes the result that long (the
    // lengths of other strings here are estimates, and too short).
    if !args.iter().any(lob) {
        return None;
    }
    let (chars, binary, at_least_blob) = match f {
        Concat | ConcatWs => (
            args.iter().map(len).sum::<u64>(),
            f == Concat && args.iter().any(binary),
            false,
        ),
        Lower | Upper | Trim | LTrim | RTrim | Replace | Reverse | SubstringIndex | Insert => {
            (len(first), binary(first), false)
        }
        // A literal length bounds the result.
        Left | Right | Substring => match args.get(if f == Substring { 2 } else { 1 }) {
            Some(Expr::Lit(_)) => return None,
            _ => (len(first), binary(first), false),
        },
        Hex => (len(first).saturating_mul(2), false, false),
        Coalesce | IfNull | If | Nvl2 => {
            let results = if matches!(f, If | Nvl2) {
                args.get(1..).unwrap_or(&[])
            } else {
                args
            };
            if !results.iter().any(lob) {
                return None;
            }
            (
                results.iter().map(len).max().unwrap_or(0),
                results.iter().any(binary),
                true,
            )
        }
        _ => return None,
    };
    let octets = if binary {
        chars
    } else {
        chars.saturating_mul(4)
    };
    let size = match octets {
        16_777_216.. => u32::MAX,
        65_536.. => 16_777_215,
        65_535 => 65_535,
        _ if at_least_blob => 65_535,
        _ => return None,
    };
    Some(if binary {
        SqlType::Blob(size)
    } else {
        SqlType::Text(size)
    })
}

/// MariaDB's display length of an integer function's result, which
/// arithmetic on it reads to choose INT or BIGINT (`WEEKDAY(d) + 1` is an
/// INT, `LENGTH(s) + 1` a BIGINT); None where it depends on the arguments.
pub(crate) fn int_result_len(f: Func) -> Option<u32> {
    use Func::*;
    Some(match f {
        Weekday | DayOfWeek | Quarter => 1,
        Month | Day | Hour | Minute | Second | Week | WeekOfYear | Sign | Strcmp | BitCount => 2,
        DayOfYear | Ascii | FindInSet | Field => 3,
        Year => 4,
        YearWeek | ToDays | Microsecond | PeriodAdd | PeriodDiff => 6,
        Ord => 7,
        DateDiff => 8,
        Length | CharLength => 10,
        Locate | Instr => 11,
        _ => return None,
    })
}

/// Whether `f`'s result takes its character set from its string arguments
/// and those are all NULL literals. A NULL literal has the binary
/// character set in MariaDB (with the lowest coercibility), so LOWER(NULL)
/// or CONCAT(NULL) is a binary string while LPAD(NULL, 2, 'x') is text:
/// drivers see the difference (bytes or a string).
fn charset_from_nulls(f: Func, args: &[Expr], cols: &[OutCol]) -> bool {
    if !(transforms_a_string(f) || matches!(f, Func::Concat | Func::ConcatWs | Func::Quote)) {
        return false;
    }
    let mut sources = args
        .iter()
        .filter(|a| !infer(a, cols).0.is_some_and(|t| t.is_numeric()))
        .peekable();
    sources.peek().is_some() && sources.all(|a| matches!(a, Expr::Lit(Value::Null)))
}

fn result_type_of(f: Func, args: &[Expr], cols: &[OutCol]) -> (Option<SqlType>, bool) {
    use Func::*;
    let first = || args.first().map_or((None, true), |a| infer(a, cols));
    let dbl = (Some(SqlType::Double), true);
    let n0 = max_len(args.first(), cols);
    match f {
        Concat | ConcatWs => {
            let total: u32 = args
                .iter()
                .skip(usize::from(f == ConcatWs))
                .map(|a| max_len(Some(a), cols))
                .fold(0u32, |a, b| a.saturating_add(b))
                .clamp(1, 65_535);
            if f == Concat && args.iter().any(|a| is_binary(a, cols)) {
                (Some(SqlType::Varbinary(total)), true)
            } else {
                (varchar(total), true)
            }
        }
        // A literal length bounds LEFT and RIGHT.
        Left | Right if matches!(args.get(1), Some(Expr::Lit(Value::Int(_)))) => {
            let k = match args.get(1) {
                Some(Expr::Lit(Value::Int(k))) => u32::try_from((*k).max(1)).unwrap_or(u32::MAX),
                _ => n0,
            };
            (varchar(k.min(n0)), true)
        }
        Lower | Upper | Substring | Left | Right | Trim | LTrim | RTrim | Replace | Reverse
        | SubstringIndex | Insert | Soundex => (varchar(n0), true),
        Repeat | Lpad | Rpad | ExportSet | MakeSet | Elt => (varchar(65_535), true),
        Hex => (varchar(n0.saturating_mul(2).clamp(1, 65_535)), true),
        Space => (varchar(65_535), true),
        Quote => (
            varchar(n0.saturating_mul(2).saturating_add(2).min(65_535)),
            false,
        ),
        ToBase64 => (varchar(n0.saturating_mul(4) / 3 + 4), true),
        FromBase64 | Unhex | RandomBytes => (Some(SqlType::Varbinary(n0.max(1))), true),
        Password => (varchar(41), true),
        Compress | Uncompress => (Some(SqlType::Blob(u32::MAX)), true),
        UncompressedLength => (int(), true),
        Char => (
            Some(SqlType::Varbinary((args.len() as u32 * 4).max(1))),
            true,
        ),
        ExtractUnits => match args.first() {
            Some(Expr::Lit(u)) if crate::interval::extract_is_big(&text(u)) => (big(), true),
            _ => (int(), true),
        },
        CharUsing | Chr => match args.first() {
            Some(Expr::Lit(Value::Str(cs))) if cs.eq_ignore_ascii_case("binary") => (
                Some(SqlType::Varbinary((args.len() as u32 * 4).max(1))),
                true,
            ),
            _ => (varchar((args.len() as u32 * 4).max(1)), true),
        },
        Format => (varchar(64), true),
        Conv | Bin | Oct => (varchar(64), true),
        // MariaDB's REGEXP_REPLACE is a LONGTEXT (LONG_BLOB on the wire).
        RegexpReplace => (Some(SqlType::Text(u32::MAX)), true),
        RegexpSubstr => (varchar(n0), true),
        DateFormat | TimeFormat => (varchar(64), true),
        GetFormat => (varchar(17), true),
        Uuid => (varchar(36), false),
        Md5 => (varchar(32), true),
        Sha1 => (varchar(40), true),
        Sha2 => (varchar(128), true),
        // MariaDB's types: INT (LONG) for the short ones, BIGINT for
        // those that can pass 32 bits.
        Length | CharLength | Locate | Instr | Ascii | Ord | Sign | Year | Month | Day | Hour
        | Minute | Second | Microsecond | DateDiff | Sleep | FindInSet | Field | Strcmp
        | RegexpLike | RegexpInstr | BitCount | DayOfWeek | Weekday | DayOfYear | Quarter
        | ToDays | Week | WeekOfYear | YearWeek | PeriodAdd | PeriodDiff | IntervalIndex
        | Benchmark => (int(), true),
        BitLength | ToSeconds | TimestampDiff => (big(), true),
        IsNull | IsIpv4 | IsIpv6 => (int(), false),
        JsonValid | JsonContains | JsonContainsPath | JsonLength | JsonDepth | JsonExists
        | JsonEquals | JsonOverlaps => (
            Some(SqlType::Int {
                width: IntWidth::Int,
                unsigned: false,
            }),
            true,
        ),
        JsonDetailed => (Some(SqlType::Text(u32::MAX)), true),
        JsonType => (varchar(12), true),
        JsonExtract | JsonUnquote | JsonQuote | JsonObject | JsonArray | JsonSet | JsonInsert
        | JsonReplace | JsonRemove | JsonArrayAppend | JsonArrayInsert | JsonKeys | JsonSearch
        | JsonMergePatch | JsonMergePreserve | JsonValue | JsonQuery | JsonCompact | JsonLoose
        | JsonNormalize => {
            // A LONGTEXT argument makes a LONGTEXT result, as in MariaDB.
            let long = args
                .iter()
                .any(|a| matches!(infer(a, cols).0, Some(SqlType::Text(_) | SqlType::Blob(_))));
            if long {
                (Some(SqlType::Text(u32::MAX)), true)
            } else {
                let total: u32 = args
                    .iter()
                    .map(|a| max_len(Some(a), cols))
                    .fold(0u32, |a, b| a.saturating_add(b))
                    .saturating_mul(2)
                    .clamp(1, 65_535);
                (varchar(total), true)
            }
        }
        UnixTimestamp => match args.first().map(|a| infer(a, cols).0) {
            Some(Some(SqlType::DateTime(p) | SqlType::Timestamp(p))) if p > 0 => (
                Some(SqlType::Decimal {
                    precision: 17 + p,
                    scale: p,
                }),
                true,
            ),
            _ => (big(), true),
        },
        TimeToSec => match first().0 {
            Some(SqlType::DateTime(p) | SqlType::Timestamp(p)) if p > 0 => (
                Some(SqlType::Decimal {
                    precision: 17 + p,
                    scale: p,
                }),
                true,
            ),
            _ => (big(), true),
        },
        Crc32 => (
            Some(SqlType::Int {
                width: IntWidth::Int,
                unsigned: true,
            }),
            true,
        ),
        SetLastInsertId | InetAton => (ubig(), true),
        UuidShort => (ubig(), false),
        NextVal => (big(), false),
        LastVal | SetVal => (big(), true),
        MemberOrdinal => (ubig(), true),
        InetNtoa => (varchar(31), true),
        MonthName | DayName => (varchar(9), true),
        Time | SecToTime | MakeTime | TimeDiff => (Some(SqlType::Time(time_fsp(args, cols))), true),
        // MariaDB's ADDTIME of a string is a fixed-length string (STRING on
        // the wire); of a TIME or DATETIME, that type.
        AddTime | SubTime => match first().0 {
            Some(SqlType::Time(_) | SqlType::DateTime(_) | SqlType::Timestamp(_)) => {
                (varchar(26), true)
            }
            _ => (Some(SqlType::Char(26)), true),
        },
        Greatest | Least => (extremes_type(args, cols), true),
        Coalesce | IfNull | NullIf => {
            let mut ty = None;
            for a in args {
                ty = crate::bind::merge_types(ty, infer(a, cols).0);
            }
            (ty, true)
        }
        If | Nvl2 => {
            let a = args.get(1).and_then(|a| infer(a, cols).0);
            let b = args.get(2).and_then(|a| infer(a, cols).0);
            (crate::bind::merge_types(a, b), true)
        }
        // MariaDB's rule: the integer digits, one more when a fraction can
        // carry into them; INT up to 9, BIGINT up to 18, DECIMAL beyond.
        // A FLOAT or a NULL gives a DOUBLE.
        Floor | Ceil => match (first(), args.first()) {
            ((Some(SqlType::Decimal { precision, scale }), n), a) => {
                let digits = match a {
                    Some(Expr::Lit(Value::Decimal(d))) => {
                        let whole = d.trunc().abs();
                        let int_digits = if whole.is_zero() {
                            0
                        } else {
                            whole.to_string().len() as u32
                        };
                        int_digits + u32::from(d.scale() > 0)
                    }
                    _ => u32::from(precision - scale) + u32::from(scale > 0),
                };
                match digits {
                    0..=9 => (int(), n),
                    10..=18 => (big(), n),
                    _ => (
                        Some(SqlType::Decimal {
                            precision,
                            scale: 0,
                        }),
                        n,
                    ),
                }
            }
            ((None | Some(SqlType::Float), n), _) => (Some(SqlType::Double), n),
            (other, _) => other,
        },
        Abs | Mod => {
            let len = |i: usize| args.get(i).and_then(|a| crate::bind::int_len(a, cols));
            let l = match f {
                Abs => len(0),
                _ => len(0).zip(len(1)).map(|(a, b)| a.modulo(b)),
            };
            match l {
                // MOD by zero is NULL.
                Some(l) => (l.sql_type(), first().1 || f == Mod),
                // A bare NULL argument makes MariaDB's DOUBLE.
                None => match first() {
                    (None, n) => (Some(SqlType::Double), n),
                    other => other,
                },
            }
        }
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
                None => (Some(SqlType::Double), n),
                other => (other, n),
            }
        }
        Sqrt | Power | Rand | Exp | Ln | Log | Log2 | Log10 | Sin | Cos | Tan | Cot | Asin
        | Acos | Atan | Atan2 | Degrees | Radians => dbl,
        Pi => (Some(SqlType::Double), false),
        Date | LastDay | FromDays | MakeDate => (Some(SqlType::Date), true),
        FromUnixtime if args.len() == 3 => (varchar(64), true),
        FromUnixtime => {
            let fsp = match args.first().map(|a| infer(a, cols).0) {
                Some(Some(SqlType::Decimal { scale, .. })) => scale.min(6),
                Some(Some(SqlType::Double | SqlType::Float)) => 6,
                _ => 0,
            };
            (Some(SqlType::DateTime(fsp)), true)
        }
        ConvertTz | Timestamp => {
            let fsp = match first().0 {
                Some(SqlType::DateTime(p) | SqlType::Timestamp(p)) => p,
                _ => 0,
            };
            (Some(SqlType::DateTime(fsp)), true)
        }
        StrToDate => (
            match args.get(1) {
                Some(Expr::Lit(fmt)) => {
                    let fmt = text(fmt);
                    let date = ['Y', 'y', 'm', 'c', 'd', 'e', 'D', 'M', 'b', 'j']
                        .iter()
                        .any(|c| fmt.contains(&format!("%{c}")));
                    let time = ['H', 'k', 'h', 'I', 'l', 'i', 's', 'S', 'f', 'T', 'r']
                        .iter()
                        .any(|c| fmt.contains(&format!("%{c}")));
                    match (date, time) {
                        (true, false) => Some(SqlType::Date),
                        (false, true) => varchar(17),
                        _ => Some(SqlType::DateTime(if fmt.contains("%f") { 6 } else { 0 })),
                    }
                }
                _ => Some(SqlType::DateTime(6)),
            },
            true,
        ),
        DateAdd | DateSub => {
            // MariaDB: a DATE plus days or more is a DATE; a DATETIME stays
            // one; a string argument gives a string.
            let unit = match args.get(1) {
                Some(Expr::Interval(u, _)) => *u,
                _ => IntervalUnit::Day,
            };
            let time_unit = matches!(
                unit,
                IntervalUnit::Hour
                    | IntervalUnit::Minute
                    | IntervalUnit::Second
                    | IntervalUnit::Microsecond
            );
            match first().0 {
                Some(SqlType::Date) if !time_unit => (Some(SqlType::Date), true),
                Some(SqlType::Date) => (Some(SqlType::DateTime(0)), true),
                Some(SqlType::DateTime(p) | SqlType::Timestamp(p)) => {
                    let p = if unit == IntervalUnit::Microsecond {
                        6
                    } else {
                        p
                    };
                    (Some(SqlType::DateTime(p)), true)
                }
                // A fixed-length string (STRING on the wire), as MariaDB's.
                Some(t) if t.is_string() => (Some(SqlType::Char(29)), true),
                _ => (Some(SqlType::DateTime(0)), true),
            }
        }
    }
}

#[cfg(test)]
mod tests;
