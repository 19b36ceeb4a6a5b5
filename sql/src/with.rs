//! Common table expressions: `WITH` and `WITH RECURSIVE`.
//!
//! A CTE is materialized once, before the query body runs, and stays
//! visible to the body and to the CTEs after it until the query ends.
//! A recursive CTE is `anchor UNION [ALL] recursive`: the anchor's rows seed
//! a working table; each iteration runs the recursive part against the rows
//! the previous one produced, until it produces none or
//! `max_recursive_iterations` (MariaDB's guard, default 1000) is reached,
//! where MariaDB stops without an error.

use std::collections::HashSet;

use sqlparser::ast;
use trireme_storage::collation::Collation;
use trireme_storage::value::Value;
use trireme_storage::Row;

use crate::error::{SqlError, SqlResult};
use crate::{object_name_parts, vars, Exec, OutCol};

/// A materialized CTE.
#[derive(Clone)]
pub struct Cte {
    pub name: String,
    pub cols: Vec<OutCol>,
    pub rows: Vec<Row>,
}

type Rows = (Vec<OutCol>, Vec<Vec<Value>>);

impl Exec<'_> {
    /// Materializes the CTEs of a WITH clause; returns the mark to truncate
    /// `ctes` to when the query ends.
    pub(crate) fn begin_with(&mut self, with: &ast::With) -> SqlResult<usize> {
        let mark = self.ctes.len();
        for cte in &with.cte_tables {
            let name = cte.alias.name.value.clone();
            if self.ctes[mark..].iter().any(|c| c.name == name) {
                self.ctes.truncate(mark);
                return Err(SqlError::new(
                    4004,
                    "HY000",
                    format!("Duplicate query name `{name}` in WITH clause"),
                ));
            }
            let r = if with.recursive && mentions_table(&cte.query.body, &name) {
                self.recursive_cte(&name, cte)
            } else {
                self.query(&cte.query).and_then(|(mut cols, rows)| {
                    cte_columns(&mut cols, cte)?;
                    Ok((cols, rows))
                })
            };
            match r {
                Ok((cols, rows)) => self.ctes.push(Cte {
                    name,
                    cols,
                    rows: rows.into_iter().map(Row::from).collect(),
                }),
                Err(e) => {
                    self.ctes.truncate(mark);
                    return Err(e);
                }
            }
        }
        Ok(mark)
    }

    /// The CTE a one-part table name refers to, innermost first.
    pub(crate) fn cte(&self, name: &ast::ObjectName) -> Option<&Cte> {
        let parts = object_name_parts(name).ok()?;
        let [n] = parts.as_slice() else {
            return None;
        };
        self.ctes.iter().rev().find(|c| &c.name == n)
    }

    fn recursive_cte(&mut self, name: &str, cte: &ast::Cte) -> SqlResult<Rows> {
        let ast::SetExpr::SetOperation {
            left,
            op: ast::SetOperator::Union,
            set_quantifier,
            right,
        } = cte.query.body.as_ref()
        else {
            return Err(SqlError::new(
                1235,
                "42000",
                format!(
                    "This version of trireme doesn't yet support 'recursive CTE {name} that is not anchor UNION recursive part'"
                ),
            ));
        };
        if mentions_table(left, name) {
            return Err(SqlError::new(
                4008,
                "HY000",
                format!("No anchors for recursive WITH element '{name}'"),
            ));
        }
        let distinct = !matches!(
            set_quantifier,
            ast::SetQuantifier::All | ast::SetQuantifier::AllByName
        );
        let (mut cols, anchor) = self.set_expr(left)?;
        cte_columns(&mut cols, cte)?;
        // The anchor's types are the CTE's: MariaDB stores every row in a
        // temporary table of those types, so a value of the recursive part
        // that does not fit fails in strict mode (1264, 1406) or is
        // adjusted with a warning; that is why applications CAST the anchor.
        for c in &mut cols {
            c.nullable = true;
        }
        let colls: Vec<Option<Collation>> = cols.iter().map(|c| c.collation).collect();
        let mut seen = HashSet::new();
        let mut result = Vec::new();
        for r in anchor {
            if !distinct || seen.insert(crate::select::row_fingerprint(&r, &colls)) {
                result.push(r);
            }
        }
        let max = vars::read(self.sess, "max_recursive_iterations", false)
            .ok()
            .and_then(|v| v.to_i64())
            .unwrap_or(1000)
            .max(0) as u64;
        let mut work: Vec<Row> = result.iter().cloned().map(Row::from).collect();
        let mut iterations = 0u64;
        while !work.is_empty() && iterations < max {
            self.ctes.push(Cte {
                name: name.to_string(),
                cols: cols.clone(),
                rows: std::mem::take(&mut work),
            });
            let r = self.set_expr(right);
            self.ctes.pop();
            let (rcols, next) = r?;
            if rcols.len() != cols.len() {
                return Err(SqlError::set_columns_differ());
            }
            for r in next {
                let r = self.fit_row(&cols, r, result.len() + 1)?;
                if !distinct || seen.insert(crate::select::row_fingerprint(&r, &colls)) {
                    work.push(Row::from(r.clone()));
                    result.push(r);
                }
            }
            iterations += 1;
        }
        Ok((cols, result))
    }

    /// A recursive part's row in the anchor's column types, as row `row_no`
    /// of the CTE's temporary table.
    fn fit_row(
        &mut self,
        cols: &[OutCol],
        row: Vec<Value>,
        row_no: usize,
    ) -> SqlResult<Vec<Value>> {
        row.into_iter()
            .zip(cols)
            .map(|(v, c)| match &c.ty {
                Some(ty) => self.store_in_temporary(ty, v, &c.name, row_no),
                None => Ok(v),
            })
            .collect()
    }
}

/// Renames a CTE's columns to its column list; a count that differs is
/// MariaDB's WITH error, not the derived table's.
fn cte_columns(cols: &mut [OutCol], cte: &ast::Cte) -> SqlResult<()> {
    rename_columns(cols, alias_names(&cte.alias.columns)).map_err(|e| {
        if e.code == 1353 {
            SqlError::new(
                4002,
                "HY000",
                "WITH column list and SELECT field list have different column counts",
            )
        } else {
            e
        }
    })
}

/// Renames result columns to a `name(a, b, ...)` column list.
pub(crate) fn rename_columns<'a>(
    cols: &mut [OutCol],
    names: impl ExactSizeIterator<Item = &'a str>,
) -> SqlResult<()> {
    if names.len() == 0 {
        return Ok(());
    }
    if names.len() != cols.len() {
        return Err(SqlError::new(
            1353,
            "HY000",
            "In definition of view, derived table or common table expression, SELECT list and column names list have different column counts",
        ));
    }
    for (c, n) in cols.iter_mut().zip(names) {
        c.name = n.to_string();
    }
    Ok(())
}

/// The names of a `name(a, b, ...)` column list.
pub(crate) fn alias_names(
    cols: &[ast::TableAliasColumnDef],
) -> impl ExactSizeIterator<Item = &str> {
    cols.iter().map(|c| c.name.value.as_str())
}

/// Whether a query body reads a table named `name` (one-part name) in any
/// FROM clause, join or derived table.
fn mentions_table(body: &ast::SetExpr, name: &str) -> bool {
    match body {
        ast::SetExpr::Select(s) => s.from.iter().any(|twj| {
            factor_mentions(&twj.relation, name)
                || twj.joins.iter().any(|j| factor_mentions(&j.relation, name))
        }),
        ast::SetExpr::Query(q) => mentions_table(&q.body, name),
        ast::SetExpr::SetOperation { left, right, .. } => {
            mentions_table(left, name) || mentions_table(right, name)
        }
        _ => false,
    }
}

fn factor_mentions(f: &ast::TableFactor, name: &str) -> bool {
    match f {
        ast::TableFactor::Table { name: n, .. } => {
            matches!(object_name_parts(n).ok().as_deref(), Some([x]) if x == name)
        }
        ast::TableFactor::Derived { subquery, .. } => mentions_table(&subquery.body, name),
        ast::TableFactor::NestedJoin {
            table_with_joins, ..
        } => {
            factor_mentions(&table_with_joins.relation, name)
                || table_with_joins
                    .joins
                    .iter()
                    .any(|j| factor_mentions(&j.relation, name))
        }
        _ => false,
    }
}
