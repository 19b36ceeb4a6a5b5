//! Writes through a view. An INSERT, UPDATE or DELETE whose target is an
//! updatable view is rewritten onto the view's base table (MariaDB's MERGE
//! algorithm): view columns become the base columns or expressions they
//! stand for, the view's WHERE joins the statement's, and WITH CHECK
//! OPTION becomes a condition every written row must meet (1369).
//!
//! Which views are updatable follows MariaDB's rules, for one base table
//! (a view over a join is reported updatable but writing through it is
//! not supported yet): no DISTINCT, GROUP BY, HAVING, aggregate or window
//! function, set operation, CTE or LIMIT, no ALGORITHM=TEMPTABLE, and a
//! view it reads from must be updatable too. INSERT also needs every
//! column it fills to be a plain base column, none shown twice.
//!
//! The rewriting is pure AST work ([`merge`] and [`Subst`]); the catalog
//! lookups and the execution are in `impl Exec` below.

use std::ops::ControlFlow;

use sqlparser::ast::{self, VisitMut, VisitorMut};
use trireme_storage::catalog::ViewDef;
use trireme_storage::Catalog;

use crate::dml::assignment_column;
use crate::error::{SqlError, SqlResult};
use crate::{Exec, Output};

/// Views nest at most this deep (as for reading, `view`).
const MAX_DEPTH: u32 = 32;

/// A view as its base table sees it.
#[derive(Clone, Debug)]
pub(crate) struct Merged {
    pub db: String,
    pub table: String,
    /// Each view column and what it stands for, over the base table's
    /// columns (written `table`.`col`).
    pub columns: Vec<(String, ast::Expr)>,
    /// The rows the view shows: every WHERE down the chain.
    pub filter: Option<ast::Expr>,
    /// What WITH CHECK OPTION asks of a written row, with the view whose
    /// option asks it.
    pub checks: Vec<ViewCheck>,
}

/// One WITH CHECK OPTION condition on a base table's rows.
#[derive(Clone, Debug)]
pub struct ViewCheck {
    pub db: String,
    pub table: String,
    /// The view that demands it, for the 1369 message.
    pub view: (String, String),
    pub cond: ast::Expr,
}

impl Merged {
    /// The base column a view column is, when it is one plainly.
    fn base_column<'e>(&self, e: &'e ast::Expr) -> Option<&'e str> {
        match e {
            ast::Expr::CompoundIdentifier(p) if p.len() == 2 && p[0].value == self.table => {
                Some(p[1].value.as_str())
            }
            _ => None,
        }
    }

    fn column(&self, name: &str) -> Option<&ast::Expr> {
        self.columns
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, e)| e)
    }

    /// No base column shows twice (MariaDB will not insert through it).
    fn distinct_bases(&self) -> bool {
        let mut seen: Vec<&str> = Vec::new();
        for (_, e) in &self.columns {
            if let Some(c) = self.base_column(e) {
                if seen.iter().any(|s| s.eq_ignore_ascii_case(c)) {
                    return false;
                }
                seen.push(c);
            }
        }
        true
    }

    /// The default of the base column a view column plainly is.
    pub(crate) fn base_default(
        &self,
        cat: &Catalog,
        column: &str,
    ) -> Option<trireme_storage::catalog::DefaultValue> {
        let base = self.base_column(self.column(column)?)?;
        let t = cat.table(&self.db, &self.table)?;
        let i = t.def.column_index(base)?;
        t.def.columns[i].default.clone()
    }

    fn base_name(&self) -> ast::ObjectName {
        ast::ObjectName::from(vec![
            ast::Ident::with_quote('`', &self.db),
            ast::Ident::with_quote('`', &self.table),
        ])
    }
}

/// `v` merged down to its base table, or None when it is not updatable.
/// `cascade`: the enclosing view with WITH CASCADED CHECK OPTION, if any;
/// this view's WHERE is then checked in its name (as MariaDB reports it)
/// even without an option of its own.
pub(crate) fn merge(
    cat: &Catalog,
    v: &ViewDef,
    cascade: Option<&(String, String)>,
    depth: u32,
) -> SqlResult<Option<Merged>> {
    if depth >= MAX_DEPTH {
        return Err(SqlError::new(
            1462,
            "HY000",
            format!("`{}`.`{}` contains view recursion", v.db, v.name),
        ));
    }
    if v.algorithm.eq_ignore_ascii_case("TEMPTABLE") {
        return Ok(None);
    }
    let q = match crate::parse(&v.select)?.into_iter().next() {
        Some(ast::Statement::Query(q)) => q,
        _ => return Ok(None),
    };
    if q.with.is_some() || q.limit_clause.is_some() || q.fetch.is_some() {
        return Ok(None);
    }
    let ast::SetExpr::Select(s) = q.body.as_ref() else {
        return Ok(None);
    };
    let grouped = match &s.group_by {
        ast::GroupByExpr::All(_) => true,
        ast::GroupByExpr::Expressions(e, _) => !e.is_empty(),
    };
    if s.distinct.is_some() || grouped || s.having.is_some() || !s.named_window.is_empty() {
        return Ok(None);
    }
    let [from] = s.from.as_slice() else {
        return Ok(None);
    };
    let ast::TableFactor::Table {
        name, alias, args, ..
    } = &from.relation
    else {
        return Ok(None);
    };
    if !from.joins.is_empty() || args.is_some() || s.projection.iter().any(aggregates) {
        return Ok(None);
    }
    let parts = crate::object_name_parts(name)?;
    let (db, table) = match parts.as_slice() {
        [t] => (v.db.clone(), t.clone()),
        [d, t] => (d.clone(), t.clone()),
        _ => return Ok(None),
    };
    let me = (v.db.clone(), v.name.clone());
    let checked_as = match cascade {
        Some(outer) => Some(outer),
        None if v.check_option == "CASCADED" || v.check_option == "LOCAL" => Some(&me),
        None => None,
    };
    let cascade_down = match cascade {
        Some(outer) => Some(outer),
        None if v.check_option == "CASCADED" => Some(&me),
        None => None,
    };
    // What the view's FROM offers, over the final base table.
    let mut under = if let Some(t) = cat.table(&db, &table) {
        let cols = t
            .def
            .columns
            .iter()
            .map(|c| {
                let e = ast::Expr::CompoundIdentifier(vec![
                    ast::Ident::with_quote('`', &table),
                    ast::Ident::with_quote('`', &c.name),
                ]);
                (c.name.clone(), e)
            })
            .collect();
        Merged {
            db: db.clone(),
            table: table.clone(),
            columns: cols,
            filter: None,
            checks: Vec::new(),
        }
    } else if let Some(inner) = cat.view(&db, &table) {
        match merge(cat, inner, cascade_down, depth + 1)? {
            Some(m) => m,
            None => return Ok(None),
        }
    } else {
        return Err(SqlError::no_such_table(&db, &table));
    };
    let quals = match alias {
        Some(a) => vec![vec![a.name.value.clone()]],
        None => vec![vec![table.clone()], vec![db.clone(), table.clone()]],
    };
    let subst = |e: &ast::Expr, place| Subst::apply(e, &under.columns, &quals, place);
    let mut columns = Vec::new();
    for item in &s.projection {
        match item {
            ast::SelectItem::UnnamedExpr(e) => {
                let name = match e {
                    ast::Expr::Identifier(i) => i.value.clone(),
                    ast::Expr::CompoundIdentifier(p) => {
                        p.last().map(|i| i.value.clone()).unwrap_or_default()
                    }
                    other => other.to_string(),
                };
                columns.push((name, subst(e, "field list")?));
            }
            ast::SelectItem::ExprWithAlias { expr, alias } => {
                columns.push((alias.value.clone(), subst(expr, "field list")?));
            }
            ast::SelectItem::Wildcard(_) | ast::SelectItem::QualifiedWildcard(..) => {
                columns.extend(under.columns.iter().cloned());
            }
            // `expr AS (a, b)` is not MariaDB's.
            ast::SelectItem::ExprWithAliases { .. } => return Ok(None),
        }
    }
    for (c, name) in columns.iter_mut().zip(&v.columns) {
        c.0 = name.clone();
    }
    let cond = s
        .selection
        .as_ref()
        .map(|w| subst(w, "where clause"))
        .transpose()?;
    if let (Some(c), Some(view)) = (&cond, checked_as) {
        under.checks.push(ViewCheck {
            db: under.db.clone(),
            table: under.table.clone(),
            view: view.clone(),
            cond: c.clone(),
        });
    }
    Ok(Some(Merged {
        filter: and(under.filter.take(), cond),
        columns,
        ..under
    }))
}

/// Whether a select item computes an aggregate or a window function.
fn aggregates(item: &ast::SelectItem) -> bool {
    struct Finder(bool);
    impl VisitorMut for Finder {
        type Break = ();
        fn pre_visit_expr(&mut self, e: &mut ast::Expr) -> ControlFlow<()> {
            if let ast::Expr::Function(f) = e {
                let name = f.name.to_string().to_ascii_uppercase();
                if f.over.is_some() || crate::bind::agg_func(&name, false).is_some() {
                    self.0 = true;
                    return ControlFlow::Break(());
                }
            }
            ControlFlow::Continue(())
        }
    }
    let mut item = item.clone();
    let mut f = Finder(false);
    let _ = item.visit(&mut f);
    f.0
}

fn and(a: Option<ast::Expr>, b: Option<ast::Expr>) -> Option<ast::Expr> {
    match (a, b) {
        (Some(a), Some(b)) => Some(ast::Expr::BinaryOp {
            left: Box::new(nested(a)),
            op: ast::BinaryOperator::And,
            right: Box::new(nested(b)),
        }),
        (a, b) => a.or(b),
    }
}

fn nested(e: ast::Expr) -> ast::Expr {
    ast::Expr::Nested(Box::new(e))
}

/// Replaces references to a view's columns by what they stand for.
/// Unqualified names are the view's only outside subqueries (inside, they
/// may be the subquery's own); qualified ones wherever their qualifier
/// names the view.
struct Subst<'a> {
    columns: &'a [(String, ast::Expr)],
    quals: &'a [Vec<String>],
    place: &'static str,
    depth: usize,
    err: Option<SqlError>,
}

impl Subst<'_> {
    fn apply(
        e: &ast::Expr,
        columns: &[(String, ast::Expr)],
        quals: &[Vec<String>],
        place: &'static str,
    ) -> SqlResult<ast::Expr> {
        let mut out = e.clone();
        let mut s = Subst {
            columns,
            quals,
            place,
            depth: 0,
            err: None,
        };
        let _ = out.visit(&mut s);
        match s.err {
            Some(e) => Err(e),
            None => Ok(out),
        }
    }

    fn lookup(&mut self, name: &str) -> Option<ast::Expr> {
        let found = self
            .columns
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, e)| e.clone());
        if found.is_none() {
            self.err = Some(SqlError::bad_field(name, self.place));
        }
        found
    }
}

impl VisitorMut for Subst<'_> {
    type Break = ();

    fn pre_visit_query(&mut self, _: &mut ast::Query) -> ControlFlow<()> {
        self.depth += 1;
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, _: &mut ast::Query) -> ControlFlow<()> {
        self.depth -= 1;
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, e: &mut ast::Expr) -> ControlFlow<()> {
        let replacement = match e {
            ast::Expr::Identifier(id)
                if self.depth == 0
                    && !(id.quote_style.is_none() && id.value.eq_ignore_ascii_case("DEFAULT")) =>
            {
                let name = id.value.clone();
                self.lookup(&name)
            }
            ast::Expr::CompoundIdentifier(parts) if parts.len() >= 2 => {
                let (col, qual) = parts.split_last().expect("two parts or more");
                let named_view = self.quals.iter().any(|q| {
                    q.len() == qual.len()
                        && q.iter()
                            .zip(qual)
                            .all(|(a, b)| a.eq_ignore_ascii_case(&b.value))
                });
                if named_view {
                    let name = col.value.clone();
                    self.lookup(&name)
                } else {
                    None
                }
            }
            _ => None,
        };
        if let Some(r) = replacement {
            *e = r;
        }
        if self.err.is_some() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }
}

/// The names a statement may qualify the target view's columns with.
fn target_quals(db: &str, view: &str, alias: Option<&ast::TableAlias>) -> Vec<Vec<String>> {
    match alias {
        Some(a) => vec![vec![a.name.value.clone()]],
        None => vec![
            vec![view.to_string()],
            vec![db.to_string(), view.to_string()],
        ],
    }
}

fn not_updatable(view: &str, stmt: &str) -> SqlError {
    SqlError::new(
        1288,
        "HY000",
        format!("The target table {view} of the {stmt} is not updatable"),
    )
}

fn not_insertable(view: &str) -> SqlError {
    SqlError::new(
        1471,
        "HY000",
        format!("The target table {view} of the INSERT is not insertable-into"),
    )
}

fn column_not_updatable(col: &str) -> SqlError {
    SqlError::new(1348, "HY000", format!("Column '{col}' is not updatable"))
}

impl Exec<'_> {
    /// The view a write names as its target, when it names one.
    pub(crate) fn write_target_view(&self, name: &ast::ObjectName) -> SqlResult<Option<ViewDef>> {
        let (db, t) = self.qualify(name)?;
        if self.catalog.table(&db, &t).is_some() {
            return Ok(None);
        }
        Ok(self.catalog.view(&db, &t).cloned())
    }

    /// Runs `f` with `checks` asked of every row it writes.
    fn with_view_checks<T>(
        &mut self,
        checks: Vec<ViewCheck>,
        f: impl FnOnce(&mut Self) -> SqlResult<T>,
    ) -> SqlResult<T> {
        let saved = std::mem::replace(&mut self.view_checks, checks);
        let r = f(self);
        self.view_checks = saved;
        r
    }

    /// Fails with 1369 when a row written to `db`.`table` does not meet a
    /// view's CHECK OPTION (NULL fails, unlike a CHECK constraint).
    pub(crate) fn check_view_options(
        &mut self,
        table: &trireme_storage::Table,
        row: &[trireme_storage::value::Value],
    ) -> SqlResult<()> {
        let def = &table.def;
        let checks: Vec<ViewCheck> = self
            .view_checks
            .iter()
            .filter(|c| c.db == def.db && c.table == def.name)
            .cloned()
            .collect();
        if checks.is_empty() {
            return Ok(());
        }
        let scope = crate::dml::table_scope(table);
        for c in checks {
            let bound = self.bind(
                &c.cond,
                &mut crate::bind::BindEnv::new(&scope, "where clause"),
            )?;
            if bound.eval(row)?.truth() != Some(true) {
                return Err(SqlError::new(
                    1369,
                    "44000",
                    format!("CHECK OPTION failed `{}`.`{}`", c.view.0, c.view.1),
                ));
            }
        }
        Ok(())
    }

    pub(crate) fn update_through_view(
        &mut self,
        u: &ast::Update,
        v: &ViewDef,
        alias: Option<&ast::TableAlias>,
    ) -> SqlResult<Output> {
        let m =
            merge(&self.catalog, v, None, 0)?.ok_or_else(|| not_updatable(&v.name, "UPDATE"))?;
        let quals = target_quals(&v.db, &v.name, alias);
        let subst = |e: &ast::Expr, place| Subst::apply(e, &m.columns, &quals, place);
        let mut nu = u.clone();
        for a in &mut nu.assignments {
            let col = assignment_column(&a.target)?;
            let e = m
                .column(&col)
                .ok_or_else(|| SqlError::bad_field(&col, "SET"))?;
            let base = m.base_column(e).ok_or_else(|| column_not_updatable(&col))?;
            a.target = ast::AssignmentTarget::ColumnName(ast::ObjectName::from(vec![
                ast::Ident::with_quote('`', base),
            ]));
            a.value = subst(&a.value, "SET")?;
        }
        let own = u.selection.as_ref().map(|w| subst(w, "FROM")).transpose()?;
        nu.selection = and(m.filter.clone(), own);
        for o in order_by_exprs(&mut nu.order_by) {
            *o = subst(o, "order clause")?;
        }
        if let ast::TableFactor::Table { name, alias, .. } = &mut nu.table.relation {
            *name = m.base_name();
            *alias = None;
        }
        self.with_view_checks(m.checks, |me| me.update(&nu))
    }

    pub(crate) fn delete_through_view(
        &mut self,
        d: &ast::Delete,
        v: &ViewDef,
        alias: Option<&ast::TableAlias>,
    ) -> SqlResult<Output> {
        let m =
            merge(&self.catalog, v, None, 0)?.ok_or_else(|| not_updatable(&v.name, "DELETE"))?;
        let quals = target_quals(&v.db, &v.name, alias);
        let subst = |e: &ast::Expr, place| Subst::apply(e, &m.columns, &quals, place);
        let mut nd = d.clone();
        let own = d.selection.as_ref().map(|w| subst(w, "FROM")).transpose()?;
        nd.selection = and(m.filter.clone(), own);
        for o in order_by_exprs(&mut nd.order_by) {
            *o = subst(o, "order clause")?;
        }
        let from = match &mut nd.from {
            ast::FromTable::WithFromKeyword(f) | ast::FromTable::WithoutKeyword(f) => f,
        };
        if let Some(ast::TableFactor::Table { name, alias, .. }) =
            from.first_mut().map(|t| &mut t.relation)
        {
            *name = m.base_name();
            *alias = None;
        }
        self.delete(&nd)
    }

    pub(crate) fn insert_through_view(
        &mut self,
        ins: &ast::Insert,
        v: &ViewDef,
    ) -> SqlResult<Output> {
        let m = merge(&self.catalog, v, None, 0)?.ok_or_else(|| not_insertable(&v.name))?;
        let quals = target_quals(&v.db, &v.name, None);
        // Every column INSERT fills must be a plain base column (1471 even
        // when the one named is computed, as MariaDB answers).
        let base_of = |name: &str| -> SqlResult<ast::ObjectName> {
            let e = m
                .column(name)
                .ok_or_else(|| SqlError::bad_field(name, "field list"))?;
            let base = m.base_column(e).ok_or_else(|| not_insertable(&v.name))?;
            Ok(ast::ObjectName::from(vec![ast::Ident::with_quote(
                '`', base,
            )]))
        };
        if !m.distinct_bases() {
            return Err(not_insertable(&v.name));
        }
        let mut ni = ins.clone();
        if ins.columns.is_empty() && ins.assignments.is_empty() {
            ni.columns = m
                .columns
                .iter()
                .map(|(n, _)| base_of(n))
                .collect::<SqlResult<_>>()?;
        } else {
            for c in &mut ni.columns {
                let parts = crate::object_name_parts(c)?;
                *c = base_of(parts.last().map(String::as_str).unwrap_or_default())?;
            }
        }
        for a in &mut ni.assignments {
            let col = assignment_column(&a.target)?;
            a.target = ast::AssignmentTarget::ColumnName(base_of(&col)?);
        }
        if let Some(ast::OnInsert::DuplicateKeyUpdate(sets)) = &mut ni.on {
            for a in sets {
                let col = assignment_column(&a.target)?;
                a.target = ast::AssignmentTarget::ColumnName(base_of(&col)?);
                a.value = Subst::apply(&a.value, &m.columns, &quals, "field list")?;
            }
        }
        ni.table = ast::TableObject::TableName(m.base_name());
        ni.table_alias = None;
        self.with_view_checks(m.checks, |me| me.insert(&ni))
    }

    /// information_schema.VIEWS.IS_UPDATABLE.
    pub(crate) fn view_is_updatable(&self, v: &ViewDef) -> bool {
        matches!(merge(&self.catalog, v, None, 0), Ok(Some(_)))
    }
}

/// The expressions of an UPDATE / DELETE's ORDER BY.
fn order_by_exprs(o: &mut [ast::OrderByExpr]) -> impl Iterator<Item = &mut ast::Expr> {
    o.iter_mut().map(|o| &mut o.expr)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expr(s: &str) -> ast::Expr {
        sqlparser::parser::Parser::new(&crate::dialect::MariaDb::default())
            .try_with_sql(s)
            .and_then(|mut p| p.parse_expr())
            .expect("test expression parses")
    }

    fn cols() -> Vec<(String, ast::Expr)> {
        vec![
            ("id".into(), expr("`t`.`id`")),
            ("dp".into(), expr("`t`.`price` * 2")),
        ]
    }

    #[test]
    fn view_columns_become_what_they_stand_for() {
        let quals = vec![vec!["v".to_string()]];
        let out = Subst::apply(&expr("v.dp > 3 AND id = 1"), &cols(), &quals, "FROM").unwrap();
        assert_eq!(out.to_string(), "`t`.`price` * 2 > 3 AND `t`.`id` = 1");
    }

    #[test]
    fn unqualified_names_inside_a_subquery_stay_the_subquery_s() {
        let quals = vec![vec!["v".to_string()]];
        let out = Subst::apply(
            &expr("id IN (SELECT id FROM o WHERE o.x = v.dp)"),
            &cols(),
            &quals,
            "FROM",
        )
        .unwrap();
        assert_eq!(
            out.to_string(),
            "`t`.`id` IN (SELECT id FROM o WHERE o.x = `t`.`price` * 2)"
        );
    }

    #[test]
    fn a_name_the_view_lacks_is_1054() {
        let quals = vec![vec!["v".to_string()]];
        let e = Subst::apply(&expr("price = 1"), &cols(), &quals, "FROM").unwrap_err();
        assert_eq!(e.code, 1054);
        let e = Subst::apply(&expr("v.price = 1"), &cols(), &quals, "FROM").unwrap_err();
        assert_eq!(e.code, 1054);
    }
}
