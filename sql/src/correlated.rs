//! Correlated subqueries: `EXISTS (SELECT ... WHERE o.c = outer.c)`, scalar
//! and `IN` subqueries that name columns of the query around them.
//!
//! Binding tries a subquery once with the enclosing scope pushed as an
//! *outer frame* without values: a name that only resolves there reads as
//! NULL and marks the subquery correlated. An uncorrelated subquery keeps
//! that one result (a literal); a correlated one becomes an
//! `Expr::Correlated` node, which the SELECT (and UPDATE / DELETE)
//! evaluate per row: the subquery is bound and run again with the row's
//! values in the frame, so outer names read as that row's values.

use sqlparser::ast;
use trireme_storage::collation::Collation;
use trireme_storage::types::SqlType;
use trireme_storage::value::Value;

use crate::bind::Scope;
use crate::error::{SqlError, SqlResult};
use crate::expr::{cmp_collated, CmpOp, Expr};
use crate::{Exec, OutCol};

/// What a correlated subquery computes for a row.
#[derive(Clone, Debug)]
pub enum SubKind {
    Exists {
        negated: bool,
    },
    Scalar,
    /// `coll`, here and below: the left operand's collation, which string
    /// comparisons with the subquery's values follow.
    In {
        lhs: Box<Expr>,
        negated: bool,
        coll: Option<Collation>,
    },
    /// `lhs op ANY (...)` / `lhs op ALL (...)`.
    Quantified {
        lhs: Box<Expr>,
        op: CmpOp,
        all: bool,
        coll: Option<Collation>,
    },
}

impl SubKind {
    /// The left operand of IN / ANY / ALL, evaluated in the outer row.
    pub fn lhs(&self) -> Option<&Expr> {
        match self {
            SubKind::In { lhs, .. } | SubKind::Quantified { lhs, .. } => Some(lhs),
            _ => None,
        }
    }

    pub fn lhs_mut(&mut self) -> Option<&mut Expr> {
        match self {
            SubKind::In { lhs, .. } | SubKind::Quantified { lhs, .. } => Some(lhs),
            _ => None,
        }
    }
}

/// `quantified` over a subquery's one-column rows.
fn quantified_rows(
    op: CmpOp,
    all: bool,
    lhs: Option<Value>,
    width: usize,
    rows: Vec<Vec<Value>>,
    coll: Option<Collation>,
) -> SqlResult<Value> {
    if width != 1 {
        return Err(SqlError::operand_columns(1));
    }
    let v = lhs.unwrap_or(Value::Null);
    let values = rows.into_iter().map(|mut r| r.swap_remove(0));
    Ok(quantified(op, all, &v, values, coll))
}

/// `v op ANY (values)` (`all` false) or `v op ALL (values)` in SQL's
/// three-valued logic: ANY is true when one comparison is, else NULL when
/// one is unknown, else false (so false over no rows); ALL the reverse.
pub fn quantified(
    op: CmpOp,
    all: bool,
    v: &Value,
    values: impl IntoIterator<Item = Value>,
    coll: Option<Collation>,
) -> Value {
    let decisive = !all;
    let mut unknown = false;
    for s in values {
        match cmp_collated(op, v, &s, coll).truth() {
            None => unknown = true,
            Some(t) if t == decisive => return Value::from_bool(decisive),
            Some(_) => {}
        }
    }
    if unknown {
        Value::Null
    } else {
        Value::from_bool(all)
    }
}

#[derive(Clone, Debug)]
pub struct Correlated {
    pub kind: SubKind,
    pub query: Box<ast::Query>,
    /// The type of its first column, as the first binding saw it.
    pub ty: Option<SqlType>,
}

/// A subquery's columns and rows.
pub type SubRows = (Vec<OutCol>, Vec<Vec<Value>>);

/// A scope whose names a subquery may read, and (while evaluating) the row.
#[derive(Clone)]
pub struct OuterFrame {
    pub scope: Scope,
    pub row: Option<Vec<Value>>,
}

impl Exec<'_> {
    /// Resolves a name a subquery does not know in the enclosing scopes,
    /// innermost first: the current row's value, or NULL (and a note that
    /// the subquery is correlated) while it is first bound.
    pub(crate) fn resolve_outer(
        &mut self,
        db: Option<&str>,
        table: Option<&str>,
        col: &str,
        place: &'static str,
    ) -> Option<Expr> {
        for frame in self.outer.iter().rev() {
            if let Ok(i) = frame.scope.resolve(db, table, col, place) {
                return Some(match &frame.row {
                    Some(r) => Expr::Lit(r.get(i).cloned().unwrap_or(Value::Null)),
                    None => {
                        self.saw_outer_ref = true;
                        Expr::Lit(Value::Null)
                    }
                });
            }
        }
        None
    }

    /// Runs a subquery bound in `scope`. Ok(Err(node)) when it is
    /// correlated (evaluate `node` per row), else its columns and rows.
    pub(crate) fn try_subquery(
        &mut self,
        q: &ast::Query,
        scope: &Scope,
        kind: impl FnOnce() -> SubKind,
    ) -> SqlResult<Result<SubRows, Expr>> {
        let saved = std::mem::replace(&mut self.saw_outer_ref, false);
        self.outer.push(OuterFrame {
            scope: scope.clone(),
            row: None,
        });
        let r = self.query(q);
        self.outer.pop();
        let correlated = std::mem::replace(&mut self.saw_outer_ref, saved);
        if correlated {
            let ty = r
                .ok()
                .and_then(|(cols, _)| cols.into_iter().next())
                .and_then(|c| c.ty);
            return Ok(Err(Expr::Correlated(Box::new(Correlated {
                kind: kind(),
                query: Box::new(q.clone()),
                ty,
            }))));
        }
        Ok(Ok(r?))
    }

    /// Evaluates `e`, which holds correlated subqueries, over `row` (laid
    /// out by `scope`), running them for that row. (Callers check
    /// `has_correlated` once per statement, not per row.)
    pub(crate) fn eval_row(&mut self, e: &Expr, row: &[Value], scope: &Scope) -> SqlResult<Value> {
        let mut e = e.clone();
        let mut err = None;
        e.replace_correlated(&mut |c| match self.run_correlated(c, row, scope) {
            Ok(v) => Expr::Lit(v),
            Err(x) => {
                err.get_or_insert(x);
                Expr::Lit(Value::Null)
            }
        });
        if let Some(x) = err {
            return Err(x);
        }
        e.eval(row)
    }

    /// Turns each of `exprs` that holds a correlated subquery into a read
    /// of a new column appended to every row of `rows` (source rows laid
    /// out by `scope`), holding its value for that row. Aggregates and
    /// GROUP BY evaluate their arguments without the session, so their
    /// subqueries must have run before.
    pub(crate) fn precompute_correlated(
        &mut self,
        exprs: Vec<&mut Expr>,
        rows: &mut [Vec<Value>],
        scope: &Scope,
    ) -> SqlResult<()> {
        let mut next = scope.len();
        for e in exprs {
            if !e.has_correlated() {
                continue;
            }
            for r in rows.iter_mut() {
                let v = self.eval_row(e, &r[..scope.len().min(r.len())], scope)?;
                r.resize(next, Value::Null);
                r.push(v);
            }
            *e = Expr::Col(next);
            next += 1;
        }
        Ok(())
    }

    fn run_correlated(&mut self, c: &Correlated, row: &[Value], scope: &Scope) -> SqlResult<Value> {
        let lhs = match c.kind.lhs() {
            Some(lhs) => Some(self.eval_row(lhs, row, scope)?),
            None => None,
        };
        self.outer.push(OuterFrame {
            scope: scope.clone(),
            row: Some(row.to_vec()),
        });
        let r = self.query(&c.query);
        self.outer.pop();
        let (cols, rows) = r?;
        Ok(match &c.kind {
            SubKind::Exists { negated } => Value::from_bool(rows.is_empty() == *negated),
            SubKind::Scalar => {
                if cols.len() != 1 {
                    return Err(SqlError::operand_columns(1));
                }
                if rows.len() > 1 {
                    return Err(SqlError::subquery_rows());
                }
                rows.into_iter()
                    .next()
                    .and_then(|r| r.into_iter().next())
                    .unwrap_or(Value::Null)
            }
            // IN is `= ANY`, NOT IN `<> ALL`.
            SubKind::Quantified { op, all, coll, .. } => {
                quantified_rows(*op, *all, lhs, cols.len(), rows, *coll)?
            }
            SubKind::In { negated, coll, .. } => {
                let (op, all) = if *negated {
                    (CmpOp::Ne, true)
                } else {
                    (CmpOp::Eq, false)
                };
                quantified_rows(op, all, lhs, cols.len(), rows, *coll)?
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(op: CmpOp, all: bool, v: i64, values: &[Option<i64>]) -> Value {
        let vals = values.iter().map(|x| x.map_or(Value::Null, Value::Int));
        quantified(op, all, &Value::Int(v), vals, None)
    }

    #[test]
    fn any_and_all_follow_three_valued_logic() {
        // Over no rows: ANY false, ALL true.
        assert_eq!(q(CmpOp::Gt, false, 5, &[]), Value::from_bool(false));
        assert_eq!(q(CmpOp::Gt, true, 5, &[]), Value::from_bool(true));
        // A true comparison decides ANY, a false one ALL, NULLs aside.
        assert_eq!(
            q(CmpOp::Gt, false, 5, &[None, Some(1)]),
            Value::from_bool(true)
        );
        assert_eq!(
            q(CmpOp::Lt, true, 5, &[None, Some(1)]),
            Value::from_bool(false)
        );
        // Otherwise a NULL leaves the answer unknown.
        assert_eq!(q(CmpOp::Gt, true, 5, &[None, Some(1)]), Value::Null);
        assert_eq!(q(CmpOp::Lt, false, 5, &[None, Some(1)]), Value::Null);
        assert_eq!(
            q(CmpOp::Eq, false, 5, &[Some(4), Some(6)]),
            Value::from_bool(false)
        );
        // A NULL on the left is unknown unless there are no rows.
        let null_any = quantified(CmpOp::Eq, false, &Value::Null, [Value::Int(1)], None);
        assert_eq!(null_any, Value::Null);
    }
}
