//! Bound expressions: column references are positions in the row being
//! evaluated, session values are already literals, uncorrelated subqueries
//! are already results. Evaluation is pure apart from RAND() and UUID().

use std::cmp::Ordering;

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};

use crate::arith::{self, arith, like, ArithOp};
use crate::coerce::Coerce;
use crate::error::{SqlError, SqlResult};
use trireme_storage::collation::Collation;
use trireme_storage::types::SqlType;
use trireme_storage::value::{compare, compare_collated, Date, DateTime, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    NullSafeEq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    pub fn flip(self) -> CmpOp {
        match self {
            CmpOp::Lt => CmpOp::Gt,
            CmpOp::Le => CmpOp::Ge,
            CmpOp::Gt => CmpOp::Lt,
            CmpOp::Ge => CmpOp::Le,
            other => other,
        }
    }
}

/// Target of CAST / CONVERT.
#[derive(Clone, Debug, PartialEq)]
pub enum CastTo {
    Signed,
    Unsigned,
    Decimal(u8, u8),
    Double,
    Char(Option<u32>),
    Binary(Option<u32>),
    Date,
    DateTime(u8),
}

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

/// A unit of INTERVAL arithmetic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntervalUnit {
    Microsecond,
    Second,
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Quarter,
    Year,
}

#[derive(Clone, Debug)]
pub enum Expr {
    Lit(Value),
    Col(usize),
    Not(Box<Expr>),
    Neg(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Xor(Box<Expr>, Box<Expr>),
    /// A comparison, of strings under the collation (None: not strings).
    Cmp(CmpOp, Box<Expr>, Box<Expr>, Option<Collation>),
    /// (a, b) = (x, y) and its relatives.
    TupleCmp(CmpOp, Vec<Expr>, Vec<Expr>),
    Arith(ArithOp, Box<Expr>, Box<Expr>),
    IsNull(Box<Expr>, bool),
    /// `e IS [NOT] TRUE/FALSE`: (expr, wanted truth, negated).
    IsBool(Box<Expr>, bool, bool),
    InList(Box<Expr>, Vec<Expr>, bool, Option<Collation>),
    /// (a, b) IN ((x, y), ...).
    TupleIn(Vec<Expr>, Vec<Vec<Expr>>, bool),
    Between(Box<Expr>, Box<Expr>, Box<Expr>, bool, Option<Collation>),
    Like(Box<Expr>, Box<Expr>, char, bool, Option<Collation>),
    /// `e COLLATE c`: the value of `e`, compared under `c`.
    Collate(Box<Expr>, Collation),
    /// A subquery that reads the enclosing row (`crate::correlated`):
    /// evaluated per row by the statement, never by `eval`.
    Correlated(Box<crate::correlated::Correlated>),
    Case(Option<Box<Expr>>, Vec<(Expr, Expr)>, Option<Box<Expr>>),
    Func(Func, Vec<Expr>),
    Interval(IntervalUnit, Box<Expr>),
    Cast(Box<Expr>, CastTo),
    BitOp(BitOp, Box<Expr>, Box<Expr>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BitOp {
    And,
    Or,
    Xor,
    Shl,
    Shr,
}

impl Expr {
    pub fn lit(v: Value) -> Expr {
        Expr::Lit(v)
    }

    /// Calls `f` on every column position this expression reads.
    pub fn columns(&self, f: &mut impl FnMut(usize)) {
        match self {
            Expr::Lit(_) => {}
            Expr::Correlated(c) => {
                if let crate::correlated::SubKind::In { lhs, .. } = &c.kind {
                    lhs.columns(f);
                }
            }
            Expr::Col(c) => f(*c),
            Expr::Not(e) | Expr::Neg(e) | Expr::IsNull(e, _) | Expr::IsBool(e, _, _) => {
                e.columns(f)
            }
            Expr::Interval(_, e) | Expr::Cast(e, _) | Expr::Collate(e, _) => e.columns(f),
            Expr::And(a, b)
            | Expr::Or(a, b)
            | Expr::Xor(a, b)
            | Expr::Cmp(_, a, b, _)
            | Expr::Arith(_, a, b)
            | Expr::BitOp(_, a, b)
            | Expr::Like(a, b, _, _, _) => {
                a.columns(f);
                b.columns(f);
            }
            Expr::TupleCmp(_, a, b) => {
                a.iter().chain(b.iter()).for_each(|e| e.columns(f));
            }
            Expr::InList(e, l, _, _) => {
                e.columns(f);
                l.iter().for_each(|x| x.columns(f));
            }
            Expr::TupleIn(es, ls, _) => {
                es.iter().for_each(|x| x.columns(f));
                ls.iter().flatten().for_each(|x| x.columns(f));
            }
            Expr::Between(a, b, c, _, _) => {
                a.columns(f);
                b.columns(f);
                c.columns(f);
            }
            Expr::Case(op, whens, els) => {
                if let Some(o) = op {
                    o.columns(f);
                }
                for (w, t) in whens {
                    w.columns(f);
                    t.columns(f);
                }
                if let Some(e) = els {
                    e.columns(f);
                }
            }
            Expr::Func(_, args) => args.iter().for_each(|x| x.columns(f)),
        }
    }

    /// Whether a correlated subquery is anywhere in this expression.
    pub fn has_correlated(&self) -> bool {
        let mut found = false;
        self.clone().visit_mut(&mut |e| {
            if matches!(e, Expr::Correlated(_)) {
                found = true;
            }
        });
        found
    }

    /// Replaces each correlated subquery (outermost first) by `f`'s result.
    pub fn replace_correlated(
        &mut self,
        f: &mut impl FnMut(&crate::correlated::Correlated) -> Expr,
    ) {
        self.visit_mut(&mut |e| {
            if let Expr::Correlated(c) = e {
                *e = f(c);
            }
        });
    }

    /// The highest column position read, if any.
    pub fn max_column(&self) -> Option<usize> {
        let mut m = None;
        self.columns(&mut |c| m = Some(m.map_or(c, |x: usize| x.max(c))));
        m
    }

    /// Splits a conjunction into its terms.
    pub fn conjuncts(self) -> Vec<Expr> {
        match self {
            Expr::And(a, b) => {
                let mut v = a.conjuncts();
                v.extend(b.conjuncts());
                v
            }
            other => vec![other],
        }
    }

    /// Shifts column positions by `delta` (moving an expression between row
    /// layouts).
    pub fn shift_columns(&mut self, from: usize, delta: isize) {
        self.visit_mut(&mut |e| {
            if let Expr::Col(c) = e {
                if *c >= from {
                    *c = (*c as isize + delta) as usize;
                }
            }
        });
    }

    fn visit_mut(&mut self, f: &mut impl FnMut(&mut Expr)) {
        f(self);
        match self {
            Expr::Lit(_) | Expr::Col(_) => {}
            Expr::Correlated(c) => {
                if let crate::correlated::SubKind::In { lhs, .. } = &mut c.kind {
                    lhs.visit_mut(f);
                }
            }
            Expr::Not(e) | Expr::Neg(e) | Expr::IsNull(e, _) | Expr::IsBool(e, _, _) => {
                e.visit_mut(f)
            }
            Expr::Interval(_, e) | Expr::Cast(e, _) | Expr::Collate(e, _) => e.visit_mut(f),
            Expr::And(a, b)
            | Expr::Or(a, b)
            | Expr::Xor(a, b)
            | Expr::Cmp(_, a, b, _)
            | Expr::Arith(_, a, b)
            | Expr::BitOp(_, a, b)
            | Expr::Like(a, b, _, _, _) => {
                a.visit_mut(f);
                b.visit_mut(f);
            }
            Expr::TupleCmp(_, a, b) => {
                a.iter_mut()
                    .chain(b.iter_mut())
                    .for_each(|e| e.visit_mut(f));
            }
            Expr::InList(e, l, _, _) => {
                e.visit_mut(f);
                l.iter_mut().for_each(|x| x.visit_mut(f));
            }
            Expr::TupleIn(es, ls, _) => {
                es.iter_mut().for_each(|x| x.visit_mut(f));
                ls.iter_mut().flatten().for_each(|x| x.visit_mut(f));
            }
            Expr::Between(a, b, c, _, _) => {
                a.visit_mut(f);
                b.visit_mut(f);
                c.visit_mut(f);
            }
            Expr::Case(op, whens, els) => {
                if let Some(o) = op {
                    o.visit_mut(f);
                }
                for (w, t) in whens {
                    w.visit_mut(f);
                    t.visit_mut(f);
                }
                if let Some(e) = els {
                    e.visit_mut(f);
                }
            }
            Expr::Func(_, args) => args.iter_mut().for_each(|x| x.visit_mut(f)),
        }
    }

    /// Evaluates against `row`.
    pub fn eval(&self, row: &[Value]) -> SqlResult<Value> {
        Ok(match self {
            Expr::Lit(v) => v.clone(),
            Expr::Col(c) => row.get(*c).cloned().unwrap_or(Value::Null),
            Expr::Not(e) => match e.eval(row)?.truth() {
                None => Value::Null,
                Some(b) => Value::from_bool(!b),
            },
            Expr::Neg(e) => arith::negate(&e.eval(row)?)?,
            Expr::And(a, b) => {
                let x = a.eval(row)?.truth();
                if x == Some(false) {
                    return Ok(Value::Int(0));
                }
                let y = b.eval(row)?.truth();
                match (x, y) {
                    (_, Some(false)) => Value::Int(0),
                    (Some(true), Some(true)) => Value::Int(1),
                    _ => Value::Null,
                }
            }
            Expr::Or(a, b) => {
                let x = a.eval(row)?.truth();
                if x == Some(true) {
                    return Ok(Value::Int(1));
                }
                let y = b.eval(row)?.truth();
                match (x, y) {
                    (_, Some(true)) => Value::Int(1),
                    (Some(false), Some(false)) => Value::Int(0),
                    _ => Value::Null,
                }
            }
            Expr::Xor(a, b) => match (a.eval(row)?.truth(), b.eval(row)?.truth()) {
                (Some(x), Some(y)) => Value::from_bool(x ^ y),
                _ => Value::Null,
            },
            Expr::Cmp(op, a, b, coll) => cmp_collated(*op, &a.eval(row)?, &b.eval(row)?, *coll),
            Expr::Collate(e, _) => e.eval(row)?,
            Expr::Correlated(_) => {
                return Err(SqlError::internal(
                    "a correlated subquery evaluated outside its statement",
                ))
            }
            Expr::TupleCmp(op, a, b) => {
                let xs = a
                    .iter()
                    .map(|e| e.eval(row))
                    .collect::<SqlResult<Vec<_>>>()?;
                let ys = b
                    .iter()
                    .map(|e| e.eval(row))
                    .collect::<SqlResult<Vec<_>>>()?;
                tuple_cmp(*op, &xs, &ys)
            }
            Expr::Arith(op, a, b) => arith(*op, &a.eval(row)?, &b.eval(row)?)?,
            Expr::BitOp(op, a, b) => {
                let x = a.eval(row)?;
                let y = b.eval(row)?;
                if x.is_null() || y.is_null() {
                    return Ok(Value::Null);
                }
                let x = x.to_i64().unwrap_or(0) as u64;
                let y = y.to_i64().unwrap_or(0) as u64;
                Value::UInt(match op {
                    BitOp::And => x & y,
                    BitOp::Or => x | y,
                    BitOp::Xor => x ^ y,
                    BitOp::Shl => x.checked_shl(y as u32).unwrap_or(0),
                    BitOp::Shr => x.checked_shr(y as u32).unwrap_or(0),
                })
            }
            Expr::IsNull(e, negated) => Value::from_bool(e.eval(row)?.is_null() != *negated),
            Expr::IsBool(e, want, negated) => {
                let t = e.eval(row)?.truth();
                Value::from_bool((t == Some(*want)) != *negated)
            }
            Expr::InList(e, list, negated, coll) => {
                let v = e.eval(row)?;
                if v.is_null() {
                    return Ok(Value::Null);
                }
                let mut saw_null = false;
                for item in list {
                    let x = item.eval(row)?;
                    match compare_collated(&v, &x, *coll) {
                        Some(Ordering::Equal) => return Ok(Value::from_bool(!negated)),
                        None => saw_null = true,
                        _ => {}
                    }
                }
                if saw_null {
                    Value::Null
                } else {
                    Value::from_bool(*negated)
                }
            }
            Expr::TupleIn(es, lists, negated) => {
                let xs = es
                    .iter()
                    .map(|e| e.eval(row))
                    .collect::<SqlResult<Vec<_>>>()?;
                let mut saw_null = false;
                for l in lists {
                    let ys = l
                        .iter()
                        .map(|e| e.eval(row))
                        .collect::<SqlResult<Vec<_>>>()?;
                    match tuple_cmp(CmpOp::Eq, &xs, &ys).truth() {
                        Some(true) => return Ok(Value::from_bool(!negated)),
                        None => saw_null = true,
                        _ => {}
                    }
                }
                if saw_null {
                    Value::Null
                } else {
                    Value::from_bool(*negated)
                }
            }
            Expr::Between(e, lo, hi, negated, coll) => {
                let v = e.eval(row)?;
                let ge = cmp_collated(CmpOp::Ge, &v, &lo.eval(row)?, *coll).truth();
                let le = cmp_collated(CmpOp::Le, &v, &hi.eval(row)?, *coll).truth();
                let r = match (ge, le) {
                    (Some(false), _) | (_, Some(false)) => Some(false),
                    (Some(true), Some(true)) => Some(true),
                    _ => None,
                };
                match r {
                    None => Value::Null,
                    Some(b) => Value::from_bool(b != *negated),
                }
            }
            Expr::Like(e, p, esc, negated, coll) => {
                let v = e.eval(row)?;
                let pat = p.eval(row)?;
                if v.is_null() || pat.is_null() {
                    return Ok(Value::Null);
                }
                let m = like(&v.to_text_lossy(), &pat.to_text_lossy(), *esc, *coll);
                Value::from_bool(m != *negated)
            }
            Expr::Case(operand, whens, els) => {
                let base = match operand {
                    Some(o) => Some(o.eval(row)?),
                    None => None,
                };
                for (w, then) in whens {
                    let hit = match &base {
                        Some(b) => compare(b, &w.eval(row)?) == Some(Ordering::Equal),
                        None => w.eval(row)?.truth() == Some(true),
                    };
                    if hit {
                        return then.eval(row);
                    }
                }
                match els {
                    Some(e) => e.eval(row)?,
                    None => Value::Null,
                }
            }
            Expr::Func(f, args) => match eval_func(*f, args, row)? {
                // A function overflowing DOUBLE (POW(10, 400)) is an
                // error in MySQL; a client never sees `inf`.
                Value::Double(d) if !d.is_finite() => {
                    return Err(SqlError::new(
                        1690,
                        "22003",
                        format!("DOUBLE value is out of range in '{}'", func_name(*f)),
                    ))
                }
                v => v,
            },
            Expr::Interval(..) => {
                return Err(SqlError::syntax(
                    "INTERVAL is only valid in date arithmetic",
                ))
            }
            Expr::Cast(e, to) => cast(e.eval(row)?, to)?,
        })
    }

    /// True when the expression holds for `row` (NULL counts as false).
    pub fn holds(&self, row: &[Value]) -> SqlResult<bool> {
        Ok(self.eval(row)?.truth() == Some(true))
    }
}

pub fn cmp_values(op: CmpOp, a: &Value, b: &Value) -> Value {
    cmp_collated(op, a, b, None)
}

/// `a op b`, strings compared under `coll`.
pub fn cmp_collated(op: CmpOp, a: &Value, b: &Value, coll: Option<Collation>) -> Value {
    if op == CmpOp::NullSafeEq {
        return Value::from_bool(match (a.is_null(), b.is_null()) {
            (true, true) => true,
            (false, false) => compare_collated(a, b, coll) == Some(Ordering::Equal),
            _ => false,
        });
    }
    match compare_collated(a, b, coll) {
        None => Value::Null,
        Some(o) => Value::from_bool(match op {
            CmpOp::Eq => o == Ordering::Equal,
            CmpOp::Ne => o != Ordering::Equal,
            CmpOp::Lt => o == Ordering::Less,
            CmpOp::Le => o != Ordering::Greater,
            CmpOp::Gt => o == Ordering::Greater,
            CmpOp::Ge => o != Ordering::Less,
            CmpOp::NullSafeEq => unreachable!("handled above"),
        }),
    }
}

fn tuple_cmp(op: CmpOp, xs: &[Value], ys: &[Value]) -> Value {
    match op {
        CmpOp::Eq | CmpOp::NullSafeEq | CmpOp::Ne => {
            let mut saw_null = false;
            for (x, y) in xs.iter().zip(ys) {
                match cmp_values(
                    if op == CmpOp::NullSafeEq {
                        op
                    } else {
                        CmpOp::Eq
                    },
                    x,
                    y,
                )
                .truth()
                {
                    Some(false) => return Value::from_bool(op == CmpOp::Ne),
                    None => saw_null = true,
                    _ => {}
                }
            }
            if saw_null {
                Value::Null
            } else {
                Value::from_bool(op != CmpOp::Ne)
            }
        }
        _ => {
            for (x, y) in xs.iter().zip(ys) {
                match compare(x, y) {
                    None => return Value::Null,
                    Some(Ordering::Equal) => continue,
                    Some(o) => {
                        return Value::from_bool(match op {
                            CmpOp::Lt | CmpOp::Le => o == Ordering::Less,
                            _ => o == Ordering::Greater,
                        })
                    }
                }
            }
            Value::from_bool(matches!(op, CmpOp::Le | CmpOp::Ge))
        }
    }
}

fn arg(args: &[Expr], i: usize, row: &[Value]) -> SqlResult<Value> {
    match args.get(i) {
        Some(e) => e.eval(row),
        None => Ok(Value::Null),
    }
}

fn text(v: &Value) -> String {
    v.to_text_lossy()
}

fn string_result(s: String) -> Value {
    Value::Str(s)
}

/// A function's name for messages.
fn func_name(f: Func) -> String {
    format!("{f:?}").to_ascii_lowercase()
}

fn eval_func(f: Func, args: &[Expr], row: &[Value]) -> SqlResult<Value> {
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
            return Ok(string_result(parts.join(&text(&sep))));
        }
        Rand => {
            return Ok(Value::Double(rand::random::<f64>()));
        }
        Uuid => {
            let b: [u8; 16] = rand::random();
            let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
            return Ok(Value::Str(format!(
                "{}-{}-4{}-{}-{}",
                &h[0..8],
                &h[8..12],
                &h[13..16],
                &h[16..20],
                &h[20..32]
            )));
        }
        DateAdd | DateSub => {
            let base = arg(args, 0, row)?;
            let (unit, amount) = match args.get(1) {
                Some(Expr::Interval(u, e)) => (*u, e.eval(row)?),
                Some(e) => (IntervalUnit::Day, e.eval(row)?),
                None => return Ok(Value::Null),
            };
            return date_add(f == DateSub, &base, &amount, unit);
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
    if vals.iter().any(Value::is_null) {
        return Ok(Value::Null);
    }
    let v0 = vals.first().cloned().unwrap_or(Value::Null);
    let int_arg = |i: usize| vals.get(i).and_then(Value::to_i64);
    Ok(match f {
        Concat => {
            if vals.iter().any(|v| matches!(v, Value::Bytes(_))) {
                let mut out = Vec::new();
                for v in &vals {
                    out.extend(v.to_bytes().unwrap_or_default());
                }
                Value::Bytes(out)
            } else {
                string_result(vals.iter().map(text).collect())
            }
        }
        Length => Value::Int(v0.to_bytes().map_or(0, |b| b.len()) as i64),
        CharLength => Value::Int(text(&v0).chars().count() as i64),
        Lower => string_result(text(&v0).to_lowercase()),
        Upper => string_result(text(&v0).to_uppercase()),
        Substring => {
            let s: Vec<char> = text(&v0).chars().collect();
            let pos = int_arg(1).unwrap_or(1);
            let len = if vals.len() > 2 {
                int_arg(2).unwrap_or(0)
            } else {
                i64::MAX
            };
            let n = s.len() as i64;
            let start = if pos > 0 {
                pos - 1
            } else if pos < 0 {
                n + pos
            } else {
                return Ok(Value::Str(String::new()));
            };
            if start < 0 || start >= n || len <= 0 {
                return Ok(Value::Str(String::new()));
            }
            let end = start.saturating_add(len).min(n);
            string_result(s[start as usize..end as usize].iter().collect())
        }
        Left | Right => {
            let s: Vec<char> = text(&v0).chars().collect();
            let k = int_arg(1).unwrap_or(0).clamp(0, s.len() as i64) as usize;
            let r: String = if f == Left {
                s[..k].iter().collect()
            } else {
                s[s.len() - k..].iter().collect()
            };
            string_result(r)
        }
        Trim => string_result(text(&v0).trim_matches(' ').to_string()),
        LTrim => string_result(text(&v0).trim_start_matches(' ').to_string()),
        RTrim => string_result(text(&v0).trim_end_matches(' ').to_string()),
        Replace => {
            let from = text(&vals[1]);
            if from.is_empty() {
                v0
            } else {
                string_result(text(&v0).replace(&from, &text(&vals[2])))
            }
        }
        Repeat => {
            let n = int_arg(1).unwrap_or(0).clamp(0, 1 << 20) as usize;
            let s = text(&v0);
            if s.len().saturating_mul(n) > 64 << 20 {
                return Ok(Value::Null);
            }
            string_result(s.repeat(n))
        }
        Reverse => string_result(text(&v0).chars().rev().collect()),
        Lpad | Rpad => {
            let s: Vec<char> = text(&v0).chars().collect();
            let n = int_arg(1).unwrap_or(0);
            if n < 0 {
                return Ok(Value::Null);
            }
            let n = n.min(1 << 24) as usize;
            let pad: Vec<char> = text(&vals[2]).chars().collect();
            if s.len() >= n {
                return Ok(string_result(s[..n].iter().collect()));
            }
            if pad.is_empty() {
                return Ok(Value::Null);
            }
            let fill: String = pad.iter().cycle().take(n - s.len()).collect();
            let body: String = s.iter().collect();
            string_result(if f == Lpad {
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
                int_arg(2).unwrap_or(1).max(1) as usize - 1
            } else {
                0
            };
            let hay_chars: Vec<char> = hay.chars().collect();
            if start > hay_chars.len() {
                return Ok(Value::Int(0));
            }
            let tail: String = hay_chars[start..].iter().collect();
            match tail.find(&needle) {
                Some(byte_pos) => Value::Int((tail[..byte_pos].chars().count() + start + 1) as i64),
                None => Value::Int(0),
            }
        }
        Hex => match &v0 {
            Value::Int(_) | Value::UInt(_) => {
                string_result(format!("{:X}", v0.to_i64().unwrap_or(0) as u64))
            }
            other => string_result(
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
        Space => string_result(" ".repeat(int_arg(0).unwrap_or(0).clamp(0, 1 << 20) as usize)),
        Abs => match v0 {
            Value::Int(i) => match i.checked_abs() {
                Some(a) => Value::Int(a),
                None => Value::Decimal(Decimal::from(i).abs()),
            },
            Value::UInt(u) => Value::UInt(u),
            Value::Decimal(d) => Value::Decimal(d.abs()),
            other => Value::Double(other.to_f64().unwrap_or(0.0).abs()),
        },
        Round | Truncate => {
            let places = if vals.len() > 1 {
                int_arg(1).unwrap_or(0)
            } else {
                0
            };
            round_value(&v0, places, f == Truncate)
        }
        Floor | Ceil => match v0 {
            Value::Int(_) | Value::UInt(_) => v0,
            Value::Decimal(d) => {
                let r = if f == Floor { d.floor() } else { d.ceil() };
                r.to_i64().map(Value::Int).unwrap_or(Value::Decimal(r))
            }
            other => {
                let x = other.to_f64().unwrap_or(0.0);
                Value::Double(if f == Floor { x.floor() } else { x.ceil() })
            }
        },
        Mod => arith(ArithOp::Mod, &v0, &vals[1])?,
        Sign => {
            let x = v0.to_f64().unwrap_or(0.0);
            Value::Int(if x > 0.0 {
                1
            } else if x < 0.0 {
                -1
            } else {
                0
            })
        }
        Sqrt => {
            let x = v0.to_f64().unwrap_or(0.0);
            if x < 0.0 {
                Value::Null
            } else {
                Value::Double(x.sqrt())
            }
        }
        Power => Value::Double(
            v0.to_f64()
                .unwrap_or(0.0)
                .powf(vals[1].to_f64().unwrap_or(0.0)),
        ),
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
            Some(dt) => string_result(date_format(&dt, &text(&vals[1]))),
            None => Value::Null,
        },
        DateDiff => match (v0.to_datetime(), vals[1].to_datetime()) {
            (Some(a), Some(b)) => Value::Int(a.date.to_days() - b.date.to_days()),
            _ => Value::Null,
        },
        Md5 => {
            use md5::Digest as _;
            let d = md5::Md5::digest(v0.to_bytes().unwrap_or_default());
            string_result(d.iter().map(|b| format!("{b:02x}")).collect())
        }
        Sha1 => {
            use sha1::Digest as _;
            let d = sha1::Sha1::digest(v0.to_bytes().unwrap_or_default());
            string_result(d.iter().map(|b| format!("{b:02x}")).collect())
        }
        Crc32 => Value::UInt(u64::from(crc32fast::hash(
            &v0.to_bytes().unwrap_or_default(),
        ))),
        Coalesce | IfNull | If | NullIf | ConcatWs | Rand | Uuid | Sleep | SetLastInsertId
        | Greatest | Least | DateAdd | DateSub => unreachable!("handled above"),
    })
}

fn round_value(v: &Value, places: i64, truncate: bool) -> Value {
    let strategy = if truncate {
        RoundingStrategy::ToZero
    } else {
        RoundingStrategy::MidpointAwayFromZero
    };
    match v {
        Value::Int(_) | Value::UInt(_) if places >= 0 => v.clone(),
        Value::Int(_) | Value::UInt(_) | Value::Decimal(_) => {
            let d = v.to_decimal().unwrap_or_default();
            if places >= 0 {
                let mut r = d.round_dp_with_strategy(places.min(28) as u32, strategy);
                if !truncate {
                    r.rescale(places.min(28) as u32);
                }
                Value::Decimal(r)
            } else {
                let p = Decimal::from(10i64.pow((-places).min(18) as u32));
                let r = (d / p).round_dp_with_strategy(0, strategy) * p;
                if matches!(v, Value::Decimal(_)) {
                    Value::Decimal(r)
                } else {
                    r.to_i64().map(Value::Int).unwrap_or(Value::Decimal(r))
                }
            }
        }
        other => {
            let x = other.to_f64().unwrap_or(0.0);
            let m = 10f64.powi(places.clamp(-30, 30) as i32);
            // Approximate values round half to even, as MySQL's ROUND does
            // for doubles (ROUND(25E-1) = 2, while exact ROUND(2.5) = 3).
            let y = if truncate {
                (x * m).trunc() / m
            } else {
                (x * m).round_ties_even() / m
            };
            Value::Double(y)
        }
    }
}

fn date_add(sub: bool, base: &Value, amount: &Value, unit: IntervalUnit) -> SqlResult<Value> {
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

fn date_format(dt: &DateTime, fmt: &str) -> String {
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
                let jan1 =
                    trireme_storage::value::Date::new(d.year, 1, 1).map_or(0, |j| j.to_days());
                out.push_str(&format!("{:03}", d.to_days() - jan1 + 1));
            }
            'T' => out.push_str(&format!("{:02}:{:02}:{:02}", dt.hour, dt.minute, dt.second)),
            other => out.push(other),
        }
    }
    out
}

pub fn cast(v: Value, to: &CastTo) -> SqlResult<Value> {
    if v.is_null() {
        return Ok(Value::Null);
    }
    Ok(match to {
        CastTo::Signed => Value::Int(v.to_i64().unwrap_or(0)),
        CastTo::Unsigned => Value::UInt(v.to_i64().unwrap_or(0) as u64),
        CastTo::Decimal(p, s) => {
            match (SqlType::Decimal {
                precision: *p,
                scale: *s,
            })
            .coerce(v, "CAST")
            {
                Ok(d) => d,
                Err(_) => Value::Null,
            }
        }
        CastTo::Double => Value::Double(v.to_f64().unwrap_or(0.0)),
        CastTo::Char(n) => {
            let s = v.to_text_lossy();
            match n {
                Some(n) => Value::Str(s.chars().take(*n as usize).collect()),
                None => Value::Str(s),
            }
        }
        CastTo::Binary(n) => {
            let mut b = v.to_bytes().unwrap_or_default();
            if let Some(n) = n {
                b.resize(*n as usize, 0);
            }
            Value::Bytes(b)
        }
        CastTo::Date => v.to_datetime().map_or(Value::Null, |d| Value::Date(d.date)),
        CastTo::DateTime(fsp) => v
            .to_datetime()
            .map_or(Value::Null, |d| Value::DateTime(d.truncate_fsp(*fsp))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(v: Value) -> Box<Expr> {
        Box::new(Expr::Lit(v))
    }

    #[test]
    fn three_valued_logic() {
        let null = || lit(Value::Null);
        let t = || lit(Value::Int(1));
        let f = || lit(Value::Int(0));
        assert!(Expr::And(null(), f()).eval(&[]).unwrap().to_i64() == Some(0));
        assert!(Expr::And(null(), t()).eval(&[]).unwrap().is_null());
        assert!(Expr::Or(null(), t()).eval(&[]).unwrap().to_i64() == Some(1));
        assert!(Expr::Not(null()).eval(&[]).unwrap().is_null());
        let inl = Expr::InList(
            lit(Value::Int(3)),
            vec![Expr::Lit(Value::Int(1)), Expr::Lit(Value::Null)],
            false,
            None,
        );
        assert!(inl.eval(&[]).unwrap().is_null());
    }

    #[test]
    fn string_functions() {
        let s = |x: &str| Expr::Lit(Value::Str(x.into()));
        let i = |x: i64| Expr::Lit(Value::Int(x));
        let ev = |f, a: Vec<Expr>| Expr::Func(f, a).eval(&[]).unwrap().to_text_lossy();
        assert_eq!(ev(Func::Substring, vec![s("hello"), i(2), i(3)]), "ell");
        assert_eq!(ev(Func::Substring, vec![s("hello"), i(-3)]), "llo");
        assert_eq!(ev(Func::Concat, vec![s("a"), i(1)]), "a1");
        assert_eq!(ev(Func::Lpad, vec![s("7"), i(3), s("0")]), "007");
        assert_eq!(ev(Func::Locate, vec![s("l"), s("hello")]), "3");
        assert_eq!(
            ev(
                Func::Round,
                vec![Expr::Lit(Value::Decimal("2.345".parse().unwrap())), i(2)]
            ),
            "2.35"
        );
        // DOUBLE rounds half to even (MySQL's manual: ROUND(25E-1) = 2);
        // exact values round half away from zero.
        assert_eq!(ev(Func::Round, vec![Expr::Lit(Value::Double(2.5))]), "2");
        assert_eq!(ev(Func::Round, vec![Expr::Lit(Value::Double(3.5))]), "4");
        assert_eq!(
            ev(
                Func::Round,
                vec![Expr::Lit(Value::Decimal("2.5".parse().unwrap()))]
            ),
            "3"
        );
    }

    #[test]
    fn date_arithmetic() {
        let d = Expr::Lit(Value::Str("2024-01-31".into()));
        let iv = Expr::Interval(IntervalUnit::Month, Box::new(Expr::Lit(Value::Int(1))));
        let r = Expr::Func(Func::DateAdd, vec![d, iv]).eval(&[]).unwrap();
        assert_eq!(r.to_text_lossy(), "2024-02-29");
    }
}
