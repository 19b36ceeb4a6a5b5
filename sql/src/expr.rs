//! Bound expressions: column references are positions in the row being
//! evaluated, session values are already literals, uncorrelated subqueries
//! are already results. Evaluation is pure apart from RAND() and UUID().

use std::cmp::Ordering;

use crate::arith::{self, arith, like, ArithOp};
use crate::coerce::Coerce;
use crate::error::{SqlError, SqlResult};
use trireme_storage::collation::Collation;
use trireme_storage::types::SqlType;
use trireme_storage::value::{compare, compare_collated, Value};

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
    /// A signed integer typed BIGINT whatever its length: system variables
    /// and session values, which MariaDB sends as LONGLONG.
    BigInt,
    Unsigned,
    Decimal(u8, u8),
    Double,
    Char(Option<u32>),
    Binary(Option<u32>),
    Date,
    DateTime(u8),
    Time(u8),
}

pub use crate::func::{take_set_last_insert_id, Func};

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
    /// (a, b) = (x, y) and its relatives, with each position's collation.
    TupleCmp(CmpOp, Vec<Expr>, Vec<Expr>, Vec<Option<Collation>>),
    Arith(ArithOp, Box<Expr>, Box<Expr>),
    IsNull(Box<Expr>, bool),
    /// `e IS [NOT] TRUE/FALSE`: (expr, wanted truth, negated).
    IsBool(Box<Expr>, bool, bool),
    InList(Box<Expr>, Vec<Expr>, bool, Option<Collation>),
    /// (a, b) IN ((x, y), ...), with each position's collation.
    TupleIn(Vec<Expr>, Vec<Vec<Expr>>, bool, Vec<Option<Collation>>),
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
        self.visit(&mut |e| {
            if let Expr::Col(c) = e {
                f(*c);
            }
        });
    }

    /// Calls `f` on this expression and every expression inside it.
    pub fn visit(&self, f: &mut impl FnMut(&Expr)) {
        f(self);
        match self {
            Expr::Lit(_) | Expr::Col(_) => {}
            Expr::Correlated(c) => {
                if let Some(lhs) = c.kind.lhs() {
                    lhs.visit(f);
                }
            }
            Expr::Not(e) | Expr::Neg(e) | Expr::IsNull(e, _) | Expr::IsBool(e, _, _) => e.visit(f),
            Expr::Interval(_, e) | Expr::Cast(e, _) | Expr::Collate(e, _) => e.visit(f),
            Expr::And(a, b)
            | Expr::Or(a, b)
            | Expr::Xor(a, b)
            | Expr::Cmp(_, a, b, _)
            | Expr::Arith(_, a, b)
            | Expr::BitOp(_, a, b)
            | Expr::Like(a, b, _, _, _) => {
                a.visit(f);
                b.visit(f);
            }
            Expr::TupleCmp(_, a, b, _) => {
                a.iter().chain(b.iter()).for_each(|e| e.visit(f));
            }
            Expr::InList(e, l, _, _) => {
                e.visit(f);
                l.iter().for_each(|x| x.visit(f));
            }
            Expr::TupleIn(es, ls, _, _) => {
                es.iter().for_each(|x| x.visit(f));
                ls.iter().flatten().for_each(|x| x.visit(f));
            }
            Expr::Between(a, b, c, _, _) => {
                a.visit(f);
                b.visit(f);
                c.visit(f);
            }
            Expr::Case(op, whens, els) => {
                if let Some(o) = op {
                    o.visit(f);
                }
                for (w, t) in whens {
                    w.visit(f);
                    t.visit(f);
                }
                if let Some(e) = els {
                    e.visit(f);
                }
            }
            Expr::Func(_, args) => args.iter().for_each(|x| x.visit(f)),
        }
    }

    /// Whether a correlated subquery is anywhere in this expression.
    pub fn has_correlated(&self) -> bool {
        let mut found = false;
        self.visit(&mut |e| found |= matches!(e, Expr::Correlated(_)));
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
                if let Some(lhs) = c.kind.lhs_mut() {
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
            Expr::TupleCmp(_, a, b, _) => {
                a.iter_mut()
                    .chain(b.iter_mut())
                    .for_each(|e| e.visit_mut(f));
            }
            Expr::InList(e, l, _, _) => {
                e.visit_mut(f);
                l.iter_mut().for_each(|x| x.visit_mut(f));
            }
            Expr::TupleIn(es, ls, _, _) => {
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
                return Err(SqlError::unsupported(
                    "a correlated subquery inside an aggregate, GROUP BY or join condition",
                ))
            }
            Expr::TupleCmp(op, a, b, colls) => {
                let xs = a
                    .iter()
                    .map(|e| e.eval(row))
                    .collect::<SqlResult<Vec<_>>>()?;
                let ys = b
                    .iter()
                    .map(|e| e.eval(row))
                    .collect::<SqlResult<Vec<_>>>()?;
                tuple_cmp(*op, &xs, &ys, colls)
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
            Expr::TupleIn(es, lists, negated, colls) => {
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
                    match tuple_cmp(CmpOp::Eq, &xs, &ys, colls).truth() {
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
            Expr::Func(f, args) => match crate::func::eval(*f, args, row)? {
                // A function overflowing DOUBLE (POW(10, 400)) is an
                // error in MySQL; a client never sees `inf`.
                Value::Double(d) if !d.is_finite() => {
                    return Err(SqlError::new(
                        1690,
                        "22003",
                        format!(
                            "DOUBLE value is out of range in '{}'",
                            crate::func::name(*f).to_ascii_lowercase()
                        ),
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

fn tuple_cmp(op: CmpOp, xs: &[Value], ys: &[Value], colls: &[Option<Collation>]) -> Value {
    let coll = |i: usize| colls.get(i).copied().flatten();
    match op {
        CmpOp::Eq | CmpOp::NullSafeEq | CmpOp::Ne => {
            let mut saw_null = false;
            for (i, (x, y)) in xs.iter().zip(ys).enumerate() {
                match cmp_collated(
                    if op == CmpOp::NullSafeEq {
                        op
                    } else {
                        CmpOp::Eq
                    },
                    x,
                    y,
                    coll(i),
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
            for (i, (x, y)) in xs.iter().zip(ys).enumerate() {
                match compare_collated(x, y, coll(i)) {
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

/// `v` as CAST(... AS SIGNED) reads it: a string by its integer prefix
/// (`'1.9'` is 1, `'12abc'` is 12), as MariaDB does; a number rounded.
fn cast_int(v: &Value) -> i64 {
    match v {
        Value::Str(_) | Value::Bytes(_) => {
            let t = v.to_text_lossy();
            let t = t.trim_start();
            let digits_from = usize::from(t.starts_with(['-', '+']));
            let end = t[digits_from..]
                .find(|c: char| !c.is_ascii_digit())
                .map_or(t.len(), |i| i + digits_from);
            match t[..end].parse::<i64>() {
                Ok(n) => n,
                // Too many digits: the nearest end of the range.
                Err(_) if end > digits_from => {
                    if t.starts_with('-') {
                        i64::MIN
                    } else {
                        i64::MAX
                    }
                }
                Err(_) => 0,
            }
        }
        other => other.to_i64().unwrap_or(0),
    }
}

pub fn cast(v: Value, to: &CastTo) -> SqlResult<Value> {
    if v.is_null() {
        return Ok(Value::Null);
    }
    Ok(match to {
        CastTo::Signed | CastTo::BigInt => Value::Int(cast_int(&v)),
        CastTo::Unsigned => Value::UInt(cast_int(&v) as u64),
        CastTo::Decimal(p, s) => {
            let ty = SqlType::Decimal {
                precision: *p,
                scale: *s,
            };
            match ty.coerce(v.clone(), "CAST") {
                Ok(d) => d,
                // Past the precision: the nearest value it holds, as
                // MariaDB clamps (999.99 for DECIMAL(5,2)).
                Err(_) => crate::coerce::adjusted(&ty, &v, "CAST").unwrap_or(Value::Null),
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
        CastTo::Time(fsp) => SqlType::Time(*fsp).coerce(v, "CAST").unwrap_or(Value::Null),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cast_as_signed_reads_a_string_by_its_integer_prefix() {
        let c = |t: &str| cast_int(&Value::Str(t.into()));
        assert_eq!(
            [
                c("1.9"),
                c(" -12abc"),
                c("abc"),
                c("1e3"),
                c("99999999999999999999")
            ],
            [1, -12, 0, 1, i64::MAX]
        );
        assert_eq!(cast_int(&Value::Decimal("1.5".parse().unwrap())), 2);
    }

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
