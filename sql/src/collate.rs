//! Which collation an operation on strings uses: MySQL's coercibility rules.
//!
//! Every string expression has a collation and a coercibility. When two
//! meet (a comparison, a function of several strings), the one with the
//! lower coercibility wins: an explicit `COLLATE` beats a column, which
//! beats a literal (whose collation is the connection's). Between equals, a
//! binary collation wins, and utf8mb4 wins over a smaller character set;
//! otherwise the mix is an error (1267).

use trireme_storage::collation::{Charset, Collation};
use trireme_storage::value::Value;

use crate::bind::infer;
use crate::error::{SqlError, SqlResult};
use crate::expr::{Expr, Func};
use crate::OutCol;

/// MySQL's coercibility levels (lower wins).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Coercibility {
    Explicit = 0,
    NoCollation = 1,
    Implicit = 2,
    SysConst = 3,
    Coercible = 4,
    Numeric = 5,
    Ignorable = 6,
}

impl Coercibility {
    fn word(self) -> &'static str {
        match self {
            Coercibility::Explicit => "EXPLICIT",
            Coercibility::NoCollation => "NONE",
            Coercibility::Implicit => "IMPLICIT",
            Coercibility::SysConst => "SYSCONST",
            Coercibility::Coercible => "COERCIBLE",
            Coercibility::Numeric => "NUMERIC",
            Coercibility::Ignorable => "IGNORABLE",
        }
    }
}

/// A string expression's collation and how strongly it holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Derived {
    pub collation: Collation,
    pub how: Coercibility,
}

impl Derived {
    pub fn new(collation: Collation, how: Coercibility) -> Derived {
        Derived { collation, how }
    }
}

/// The collation of an expression over a row described by `cols`, with
/// `conn` the connection's collation (that of literals). None for
/// expressions that are not strings (numbers, dates, NULL).
pub fn derive(e: &Expr, cols: &[OutCol], conn: Collation) -> Option<Derived> {
    match e {
        Expr::Collate(_, c) => Some(Derived::new(*c, Coercibility::Explicit)),
        Expr::Lit(Value::Str(_)) => Some(Derived::new(conn, Coercibility::Coercible)),
        Expr::Lit(Value::Bytes(_)) => {
            Some(Derived::new(Collation::Binary, Coercibility::Coercible))
        }
        Expr::Lit(_) => None,
        Expr::Col(i) => cols
            .get(*i)
            .and_then(|c| c.collation)
            .map(|c| Derived::new(c, Coercibility::Implicit)),
        Expr::Case(_, whens, els) => {
            let branches = whens.iter().map(|(_, t)| t).chain(els.as_deref());
            aggregate_all(branches, cols, conn)
        }
        Expr::Func(f, args) => {
            let (ty, _) = infer(e, cols);
            let is_string = ty.as_ref().is_some_and(|t| t.is_string() || t.is_binary());
            if !is_string {
                return None;
            }
            if ty.as_ref().is_some_and(|t| t.is_binary()) {
                return Some(Derived::new(Collation::Binary, Coercibility::Coercible));
            }
            let from_args = match f {
                // The result is built from the string arguments.
                Func::Concat
                | Func::ConcatWs
                | Func::Lower
                | Func::Upper
                | Func::Trim
                | Func::LTrim
                | Func::RTrim
                | Func::Substring
                | Func::Left
                | Func::Right
                | Func::Replace
                | Func::Lpad
                | Func::Rpad
                | Func::Reverse
                | Func::Repeat
                | Func::Coalesce
                | Func::IfNull
                | Func::If
                | Func::NullIf
                | Func::Greatest
                | Func::Least => aggregate_all(args.iter(), cols, conn),
                _ => None,
            };
            Some(from_args.unwrap_or(Derived::new(conn, Coercibility::Coercible)))
        }
        other => {
            let (ty, _) = infer(other, cols);
            match ty {
                Some(t) if t.is_binary() => {
                    Some(Derived::new(Collation::Binary, Coercibility::Coercible))
                }
                Some(t) if t.is_string() => Some(Derived::new(conn, Coercibility::Coercible)),
                _ => None,
            }
        }
    }
}

/// The collation shared by several string expressions; None when none of
/// them is a string or they cannot be reconciled (the caller decides).
fn aggregate_all<'a>(
    es: impl Iterator<Item = &'a Expr>,
    cols: &[OutCol],
    conn: Collation,
) -> Option<Derived> {
    let mut acc: Option<Derived> = None;
    for e in es {
        if let Some(d) = derive(e, cols, conn) {
            acc = Some(match acc {
                None => d,
                Some(a) => aggregate(a, d).unwrap_or(a),
            });
        }
    }
    acc
}

/// Reconciles two collations (MySQL's aggregation rules), or None when the
/// mix is illegal.
pub fn aggregate(a: Derived, b: Derived) -> Option<Derived> {
    if a.collation == b.collation {
        return Some(if a.how <= b.how { a } else { b });
    }
    // Binary strings win over character strings of any coercibility, as
    // MySQL compares a character string with a binary one byte-wise.
    if a.collation == Collation::Binary {
        return Some(a);
    }
    if b.collation == Collation::Binary {
        return Some(b);
    }
    if a.how != b.how {
        return Some(if a.how < b.how { a } else { b });
    }
    if a.how == Coercibility::Explicit {
        return None;
    }
    let (ca, cb) = (a.collation.charset(), b.collation.charset());
    if ca != cb {
        // A superset character set wins (repertoire conversion).
        if ca == Charset::Utf8mb4 {
            return Some(a);
        }
        if cb == Charset::Utf8mb4 {
            return Some(b);
        }
        return None;
    }
    if a.collation.is_binary() {
        return Some(a);
    }
    if b.collation.is_binary() {
        return Some(b);
    }
    None
}

/// The collation a comparison of `a` with `b` uses: None when it does not
/// compare two strings. An illegal mix is error 1267.
pub fn for_comparison(
    a: &Expr,
    b: &Expr,
    cols: &[OutCol],
    conn: Collation,
    op: &str,
) -> SqlResult<Option<Collation>> {
    let (Some(x), Some(y)) = (derive(a, cols, conn), derive(b, cols, conn)) else {
        return Ok(None);
    };
    match aggregate(x, y) {
        Some(d) => Ok(Some(d.collation)),
        None => Err(SqlError::cant_aggregate_collations(
            x.collation.name(),
            x.how.word(),
            y.collation.name(),
            y.how.word(),
            op,
        )),
    }
}

/// The collation several values are compared under (IN lists, BETWEEN):
/// the aggregate of all string operands.
pub fn for_comparison_all(
    es: &[&Expr],
    cols: &[OutCol],
    conn: Collation,
    op: &str,
) -> SqlResult<Option<Collation>> {
    let mut acc: Option<Derived> = None;
    for e in es {
        let Some(d) = derive(e, cols, conn) else {
            continue;
        };
        acc = Some(match acc {
            None => d,
            Some(a) => aggregate(a, d).ok_or_else(|| {
                SqlError::cant_aggregate_collations(
                    a.collation.name(),
                    a.how.word(),
                    d.collation.name(),
                    d.how.word(),
                    op,
                )
            })?,
        });
    }
    // A comparison of one string with numbers only is numeric.
    let strings = es
        .iter()
        .filter(|e| derive(e, cols, conn).is_some())
        .count();
    Ok(acc.filter(|_| strings >= 2).map(|d| d.collation))
}

#[cfg(test)]
mod tests {
    use super::*;
    use trireme_storage::types::SqlType;

    fn col(coll: Collation) -> OutCol {
        let mut c = OutCol::expr("c", Some(SqlType::Varchar(10)), true);
        c.collation = Some(coll);
        c
    }

    #[test]
    fn column_beats_literal_and_explicit_beats_column() {
        let cols = [col(Collation::Utf8mb4Bin), col(Collation::Utf8mb4GeneralCi)];
        let conn = Collation::Utf8mb4GeneralCi;
        let lit = Expr::Lit(Value::Str("x".into()));
        let c = for_comparison(&Expr::Col(0), &lit, &cols, conn, "=").unwrap();
        assert_eq!(c, Some(Collation::Utf8mb4Bin));
        let explicit = Expr::Collate(Box::new(lit.clone()), Collation::Utf8mb4UnicodeCi);
        let c = for_comparison(&Expr::Col(0), &explicit, &cols, conn, "=").unwrap();
        assert_eq!(c, Some(Collation::Utf8mb4UnicodeCi));
        // Two columns of one charset: the _bin one wins.
        let c = for_comparison(&Expr::Col(1), &Expr::Col(0), &cols, conn, "=").unwrap();
        assert_eq!(c, Some(Collation::Utf8mb4Bin));
        // A string against a number is no string comparison.
        let n = Expr::Lit(Value::Int(1));
        assert_eq!(
            for_comparison(&Expr::Col(0), &n, &cols, conn, "=").unwrap(),
            None
        );
    }

    #[test]
    fn two_explicit_collations_do_not_mix() {
        let a = Expr::Collate(
            Box::new(Expr::Lit(Value::Str("a".into()))),
            Collation::Utf8mb4GeneralCi,
        );
        let b = Expr::Collate(
            Box::new(Expr::Lit(Value::Str("b".into()))),
            Collation::Utf8mb4UnicodeCi,
        );
        let e = for_comparison(&a, &b, &[], Collation::default(), "=").unwrap_err();
        assert_eq!(e.code, 1267);
        let cols = [
            col(Collation::Utf8mb4UnicodeCi),
            col(Collation::Utf8mb4GeneralCi),
        ];
        let e = for_comparison(
            &Expr::Col(0),
            &Expr::Col(1),
            &cols,
            Collation::default(),
            "=",
        )
        .unwrap_err();
        assert_eq!(e.code, 1267);
    }
}
