//! Generated columns: `col type [GENERATED ALWAYS] AS (expr)
//! [VIRTUAL | STORED | PERSISTENT]`.
//!
//! Both kinds are computed whenever a row is written (INSERT, UPDATE,
//! REPLACE, ON DUPLICATE KEY UPDATE, and every row an ALTER TABLE copies)
//! and kept in the row, so indexes, UNIQUE checks, CHECK constraints and
//! certification keys see them like any other column. That is why the
//! expression may only use deterministic functions of the row: a VIRTUAL
//! column computed at write time then reads exactly as one computed at read
//! time, and an ALTER TABLE that fills a new generated column on every node
//! fills it identically (MariaDB also accepts non-deterministic functions
//! in an unindexed VIRTUAL column; trireme refuses them with 1901).

use std::ops::ControlFlow;
use std::sync::Arc;

use sqlparser::ast;
use sqlparser::ast::{visit_expressions, visit_expressions_mut};
use sqlparser::parser::Parser;
use trireme_storage::catalog::TableDef;
use trireme_storage::txn::Txn;
use trireme_storage::value::{DateTime, Value};
use trireme_storage::{Catalog, Store, Table};

use crate::bind::{BindEnv, Scope};
use crate::coerce::Coerce;
use crate::error::{SqlError, SqlResult};
use crate::expr::Expr;
use crate::{show, vars, Exec, NodeInfo, SessionState};

/// A table's generated columns with their bound expressions, in column
/// order.
pub type Bound = Arc<Vec<(usize, Expr)>>;

/// Where unknown-column errors in a generation expression point.
const PLACE: &str = "GENERATED ALWAYS AS";

/// Functions whose value is not a function of the row alone.
const NOT_DETERMINISTIC: &[&str] = &[
    "benchmark",
    "connection_id",
    "curdate",
    "current_date",
    "current_time",
    "current_timestamp",
    "current_user",
    "curtime",
    "database",
    "found_rows",
    "get_lock",
    "is_free_lock",
    "is_used_lock",
    "last_insert_id",
    "lastval",
    "load_file",
    "localtime",
    "localtimestamp",
    "master_pos_wait",
    "nextval",
    "now",
    "rand",
    "release_lock",
    "row_count",
    "schema",
    "session_user",
    "setval",
    "sleep",
    "sysdate",
    "system_user",
    "unix_timestamp",
    "user",
    "utc_date",
    "utc_time",
    "utc_timestamp",
    "uuid",
    "uuid_short",
    "values",
];

/// The expression as it is kept and shown: identifiers in backticks and
/// function names in lower case, as MariaDB prints it.
pub fn render(e: &ast::Expr) -> String {
    let mut e = e.clone();
    let _ = visit_expressions_mut(&mut e, |x| {
        match x {
            ast::Expr::Identifier(id) if !id.value.starts_with('@') => id.quote_style = Some('`'),
            ast::Expr::CompoundIdentifier(ids) => {
                for id in ids {
                    id.quote_style = Some('`');
                }
            }
            ast::Expr::Function(f) => {
                for part in &mut f.name.0 {
                    if let ast::ObjectNamePart::Identifier(id) = part {
                        if id.quote_style.is_none() {
                            id.value = id.value.to_ascii_lowercase();
                        }
                    }
                }
            }
            _ => {}
        }
        ControlFlow::<()>::Continue(())
    });
    crate::stored_expr::text(&e)
}

fn parse(text: &str) -> SqlResult<ast::Expr> {
    Parser::new(&crate::dialect::MariaDb::default())
        .try_with_sql(text)
        .and_then(|mut p| p.parse_expr())
        .map_err(|e| SqlError::syntax(e.to_string()))
}

fn not_allowed(what: &str, column: &str) -> SqlError {
    SqlError::new(
        1901,
        "HY000",
        format!(
            "Function or expression '{what}' cannot be used in the {PLACE} clause of `{column}`"
        ),
    )
}

/// Refuses what a generation expression may not contain: subqueries,
/// variables and functions that are not deterministic (1901).
fn check_deterministic(e: &ast::Expr, column: &str) -> SqlResult<()> {
    let found = visit_expressions(e, |x| {
        let bad = match x {
            ast::Expr::Subquery(_) | ast::Expr::Exists { .. } | ast::Expr::InSubquery { .. } => {
                Some("subquery".to_string())
            }
            ast::Expr::Identifier(id) if id.value.starts_with('@') => Some(id.value.clone()),
            ast::Expr::Function(f) => {
                let name = f.name.to_string().to_ascii_lowercase();
                NOT_DETERMINISTIC
                    .contains(&name.as_str())
                    .then(|| format!("{name}()"))
            }
            _ => None,
        };
        match bad {
            Some(b) => ControlFlow::Break(b),
            None => ControlFlow::Continue(()),
        }
    });
    match found {
        ControlFlow::Break(what) => Err(not_allowed(&what, column)),
        ControlFlow::Continue(()) => Ok(()),
    }
}

/// The value of an expression DEFAULT (`DEFAULT (PI())`) that reads no
/// column and is deterministic: the same for every row, so it is computed
/// once, when the column is defined. Others are refused (1235): MariaDB
/// computes those per row, which trireme's catalog cannot express yet.
pub fn constant_default(e: &ast::Expr, column: &str) -> SqlResult<Value> {
    let unsupported = || {
        SqlError::unsupported(format!(
            "an expression DEFAULT of `{column}` that is not a constant"
        ))
    };
    check_deterministic(e, column).map_err(|_| unsupported())?;
    if reads_column(e) {
        return Err(unsupported());
    }
    // Deterministic: the clock is never read.
    standalone(epoch(), |ex| {
        let scope = Scope::default();
        ex.bind(e, &mut crate::bind::BindEnv::new(&scope, "DEFAULT"))?
            .eval(&[])
    })
}

/// Whether `e` names a column (an identifier anywhere in it).
fn reads_column(e: &ast::Expr) -> bool {
    visit_expressions(e, |x| match x {
        ast::Expr::Identifier(_) | ast::Expr::CompoundIdentifier(_) => ControlFlow::Break(()),
        _ => ControlFlow::Continue(()),
    })
    .is_break()
}

/// A DEFAULT that is not a constant but reads no column: kept as text and
/// evaluated per row ([`eval_default`]). Columns in it stay unsupported.
pub fn expression_default(e: &ast::Expr, column: &str) -> SqlResult<String> {
    if reads_column(e) {
        return Err(SqlError::unsupported(format!(
            "a DEFAULT of `{column}` that reads a column"
        )));
    }
    // Shown as MariaDB shows it: a function call bare, anything else in
    // parentheses (the text parses back either way).
    let mut inner = e;
    while let ast::Expr::Nested(x) = inner {
        inner = x;
    }
    let text = match inner {
        ast::Expr::Function(_) => match render(inner).as_str() {
            "current_date" => "curdate()".to_string(),
            "current_time" => "curtime()".to_string(),
            other => other.to_string(),
        },
        other => format!("({})", render(other)),
    };
    // Bound once now, so a bad expression fails the DDL, not every INSERT.
    standalone(epoch(), |ex| {
        let scope = Scope::default();
        ex.bind(
            &parse(&text)?,
            &mut crate::bind::BindEnv::new(&scope, "DEFAULT"),
        )
        .map(|_| ())
    })?;
    Ok(text)
}

impl Exec<'_> {
    /// The value of an expression DEFAULT for one row, at the statement's
    /// clock.
    pub(crate) fn eval_default(&mut self, text: &str) -> SqlResult<Value> {
        if let Some((_, e)) = self.default_exprs.iter().find(|(t, _)| t == text) {
            return e.clone().eval(&[]);
        }
        let scope = Scope::default();
        let e = Arc::new(self.bind(
            &parse(text)?,
            &mut crate::bind::BindEnv::new(&scope, "DEFAULT"),
        )?);
        self.default_exprs.push((text.to_string(), e.clone()));
        e.eval(&[])
    }
}

/// 1970-01-01 00:00:00: the clock of a binding that must not read one.
fn epoch() -> DateTime {
    DateTime {
        date: trireme_storage::value::Date {
            year: 1970,
            month: 1,
            day: 1,
        },
        hour: 0,
        minute: 0,
        second: 0,
        micro: 0,
    }
}

/// The scope of a table's row, for binding its generation expressions.
fn def_scope(def: &TableDef) -> Scope {
    crate::dml::def_scope(def)
}

/// Checks a table's generation expressions after CREATE or ALTER TABLE:
/// each names only columns of the table (1054) and is deterministic (1901).
pub(crate) fn validate(def: &TableDef) -> SqlResult<()> {
    if !def.columns.iter().any(|c| c.generated.is_some()) {
        return Ok(());
    }
    for c in &def.columns {
        if let Some(g) = &c.generated {
            check_deterministic(&parse(&g.expr)?, &c.name)?;
        }
    }
    standalone(DateTime::now(), |e| e.bind_generated(def).map(|_| ()))
}

/// Computes a table's generated columns over rows that already exist
/// (ALTER TABLE), outside any session.
pub(crate) struct Filler {
    exprs: Vec<(usize, Expr)>,
}

impl Filler {
    pub(crate) fn new(def: &TableDef, now: DateTime) -> SqlResult<Filler> {
        let exprs = standalone(now, |e| e.bind_generated(def))?;
        Ok(Filler { exprs })
    }

    pub(crate) fn fill(&self, def: &TableDef, row: &mut [Value]) -> SqlResult<()> {
        fill_with(&self.exprs, def, row)
    }
}

fn fill_with(exprs: &[(usize, Expr)], def: &TableDef, row: &mut [Value]) -> SqlResult<()> {
    for (i, e) in exprs {
        let v = crate::dml::eval_stored(e, row)?;
        let col = &def.columns[*i];
        // Later generated columns may read this one.
        row[*i] = col.ty.coerce(v, &col.name)?;
    }
    Ok(())
}

/// 1906: a value given for a generated column (only DEFAULT is allowed).
pub(crate) fn value_ignored(column: &str, table: &str) -> SqlError {
    SqlError::new(
        1906,
        "HY000",
        format!(
            "The value specified for generated column '{column}' in table '{table}' has been ignored"
        ),
    )
}

impl Exec<'_> {
    /// Each generated column's bound expression, in column order.
    fn bind_generated(&mut self, def: &TableDef) -> SqlResult<Vec<(usize, Expr)>> {
        let scope = def_scope(def);
        let mut out = Vec::new();
        for (i, c) in def.columns.iter().enumerate() {
            if let Some(g) = &c.generated {
                let e = parse(&g.expr)?;
                out.push((i, self.bind(&e, &mut BindEnv::new(&scope, PLACE))?));
            }
        }
        Ok(out)
    }

    /// Computes the generated columns of a row about to be written. The
    /// bound expressions are kept for the rest of the statement.
    pub(crate) fn fill_generated(&mut self, table: &Table, row: &mut [Value]) -> SqlResult<()> {
        if !table.def.columns.iter().any(|c| c.generated.is_some()) {
            return Ok(());
        }
        let key = table as *const Table as usize;
        let exprs = match self.generated.iter().find(|(k, _)| *k == key) {
            Some((_, e)) => e.clone(),
            None => {
                let e = Arc::new(self.bind_generated(&table.def)?);
                self.generated.push((key, e.clone()));
                e
            }
        };
        fill_with(&exprs, &table.def, row)
    }
}

struct NoStatus;

impl show::NodeStatus for NoStatus {
    fn status(&self) -> Vec<(String, Value)> {
        Vec::new()
    }
    fn processlist(&self) -> Vec<Vec<Value>> {
        Vec::new()
    }
}

/// Runs `f` with a statement context outside any session (DDL applied by
/// replication): default session variables, no tables to read.
fn standalone<R>(now: DateTime, f: impl FnOnce(&mut Exec) -> R) -> R {
    let store = Store::new();
    let mut txn = Txn::new(0, store.snapshot(), false, true);
    let mut sess = SessionState {
        db: None,
        user: String::new(),
        host: String::new(),
        connection_id: 0,
        last_insert_id: 0,
        vars: vars::SessionVars::new(vars::GlobalVars::new()),
        user_vars: Default::default(),
        warnings: Vec::new(),
        found_rows: 0,
        row_count: -1,
        client_found_rows: false,
        sql_text: String::new(),
        temporary: Default::default(),
        sequence_last: Default::default(),
        sequence_set_done: Default::default(),
    };
    let info = NodeInfo {
        node_id: 0,
        auto_increment_increment: 1,
        auto_increment_offset: 1,
    };
    let mut e = Exec {
        store: &store,
        catalog: Arc::new(Catalog::default()),
        txn: &mut txn,
        sess: &mut sess,
        node: &info,
        params: &[],
        now,
        next_param: 0,
        values_ref: None,
        status: &NoStatus,
        describe: false,
        ctes: Vec::new(),
        windows: None,
        outer: Vec::new(),
        saw_outer_ref: false,
        generated: Vec::new(),
        default_exprs: Vec::new(),
        view_checks: Vec::new(),
    };
    f(&mut e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expr(s: &str) -> ast::Expr {
        parse(s).unwrap()
    }

    #[test]
    fn rendering_quotes_names_and_lowers_functions() {
        assert_eq!(render(&expr("w * h")), "`w` * `h`");
        assert_eq!(render(&expr("2 * (w + `h`)")), "2 * (`w` + `h`)");
        assert_eq!(
            render(&expr("CONCAT(first, ' ', t.last)")),
            "concat(`first`, ' ', `t`.`last`)"
        );
    }

    #[test]
    fn non_deterministic_expressions_are_refused() {
        let code = |s: &str| check_deterministic(&expr(s), "b").err().map(|e| e.code);
        assert_eq!(code("RAND()"), Some(1901));
        assert_eq!(code("a + NOW()"), Some(1901));
        assert_eq!(code("(SELECT 1)"), Some(1901));
        assert_eq!(code("@x + 1"), Some(1901));
        assert_eq!(code("a * 2 + LENGTH(s)"), None);
        let e = check_deterministic(&expr("rand()"), "b").unwrap_err();
        assert_eq!(
            e.message,
            "Function or expression 'rand()' cannot be used in the GENERATED ALWAYS AS clause of `b`"
        );
    }
}
