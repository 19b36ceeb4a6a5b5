//! SELECT: sources and joins, filters, grouping and aggregates, projection,
//! DISTINCT, ORDER BY and LIMIT.
//!
//! Execution is a left-deep nested loop over the FROM sources. Each stored
//! source is read through an access path (see `access`) that may use values
//! of earlier sources, so `a JOIN b ON b.id = a.b_id` looks `b` up by key for
//! each row of `a`. Every WHERE conjunct is checked at the first level where
//! all the columns it reads are bound; ON conditions decide whether a LEFT
//! JOIN row matched. Results are materialised: trireme is an in-memory
//! database and a query's result fits where its data does.

use std::collections::HashMap;
use std::sync::Arc;

use sqlparser::ast;

use crate::access::{self, Access};
use crate::arith;
use crate::bind::{self, AggCall, AggFunc, BindEnv, Scope, ScopeCol};
use crate::error::{SqlError, SqlResult};
use crate::expr::{CmpOp, Expr};
use crate::{collate, group, window, Exec, OutCol};
use trireme_storage::collation::Collation;
use trireme_storage::keycode;
use trireme_storage::txn::LockKind;
use trireme_storage::value::{self, sort_cmp_collated, Value};
use trireme_storage::{Row, Table};

/// Where a FROM item's rows come from.
pub enum SourceData {
    Stored(Arc<Table>),
    /// information_schema tables and derived tables.
    Rows(Vec<Row>),
}

pub struct Source {
    pub data: SourceData,
    pub offset: usize,
    pub width: usize,
    pub left_join: bool,
    /// ON conditions (bound over columns up to and including this source).
    pub on: Vec<Expr>,
    pub access: Access,
}

/// The FROM clause, planned.
pub struct FromPlan {
    pub scope: Scope,
    pub sources: Vec<Source>,
    /// The order `SELECT *` shows the scope's columns in, when it is not
    /// the scope's own (a RIGHT JOIN runs as a LEFT JOIN with its sides
    /// swapped).
    pub star: Option<Vec<usize>>,
}

impl FromPlan {
    /// Access paths of the stored sources from their ON conditions and
    /// (for inner sources) the WHERE terms. With `local_timestamps`
    /// (a session outside UTC), predicates on TIMESTAMP columns give no
    /// lookup keys (`tstz`).
    pub fn choose_access(&mut self, filters: &[Expr], local_timestamps: bool) {
        for src in &mut self.sources {
            if let SourceData::Stored(t) = &src.data {
                // A correlated subquery runs per row, in the join itself:
                // it cannot give a lookup key before the row is read.
                let mut usable: Vec<&Expr> =
                    src.on.iter().filter(|e| !e.has_correlated()).collect();
                if !src.left_join {
                    usable.extend(filters.iter());
                }
                if local_timestamps {
                    usable = crate::tstz::keyable(&t.def, usable, src.offset);
                }
                src.access = access::choose(&t.def, &usable, src.offset);
            }
        }
    }
}

/// A join's pending constraint, bound once the whole FROM scope is known.
enum PendingOn {
    None,
    On(Box<ast::Expr>),
    Using(Vec<String>),
}

impl Exec<'_> {
    /// Result columns of a query, reading no rows (COM_STMT_PREPARE).
    pub fn describe_query(&mut self, q: &ast::Query) -> SqlResult<Vec<OutCol>> {
        self.describe = true;
        let r = self.query(q);
        self.describe = false;
        r.map(|(cols, _)| cols)
    }

    /// Runs a query expression (SELECT, UNION, parenthesised query).
    pub fn query(&mut self, q: &ast::Query) -> SqlResult<(Vec<OutCol>, Vec<Vec<Value>>)> {
        let Some(with) = &q.with else {
            return self.query_body(q);
        };
        let mark = self.begin_with(with)?;
        let r = self.query_body(q);
        self.ctes.truncate(mark);
        r
    }

    fn query_body(&mut self, q: &ast::Query) -> SqlResult<(Vec<OutCol>, Vec<Vec<Value>>)> {
        // A division by zero noted by an earlier statement on this thread
        // must not turn into this one's warning.
        arith::take_divided_by_zero();
        crate::expr::take_set_last_insert_id();
        let lock = match q.locks.first().map(|l| &l.lock_type) {
            Some(ast::LockType::Update) => Some(LockKind::Update),
            Some(ast::LockType::Share) => Some(LockKind::Share),
            None => None,
        };
        let order_by: &[ast::OrderByExpr] = match &q.order_by {
            Some(ob) => match &ob.kind {
                ast::OrderByKind::Expressions(v) => v,
                ast::OrderByKind::All(_) => return Err(SqlError::unsupported("ORDER BY ALL")),
            },
            None => &[],
        };
        let (limit, offset) = self.limit_offset(q.limit_clause.as_ref())?;
        match q.body.as_ref() {
            ast::SetExpr::Select(s) => self.select(s, order_by, limit, offset, lock),
            ast::SetExpr::Query(inner) if order_by.is_empty() && limit.is_none() => {
                self.query(inner)
            }
            body => {
                let (cols, mut rows) = self.set_expr(body)?;
                self.order_output(&cols, &mut rows, order_by)?;
                apply_limit(&mut rows, limit, offset);
                Ok((cols, rows))
            }
        }
    }

    pub(crate) fn set_expr(
        &mut self,
        body: &ast::SetExpr,
    ) -> SqlResult<(Vec<OutCol>, Vec<Vec<Value>>)> {
        match body {
            ast::SetExpr::Select(s) => self.select(s, &[], None, 0, None),
            ast::SetExpr::Query(q) => self.query(q),
            ast::SetExpr::SetOperation {
                left,
                op: ast::SetOperator::Union,
                set_quantifier,
                right,
            } => {
                let (mut cols, mut rows) = self.set_expr(left)?;
                let (rcols, rrows) = self.set_expr(right)?;
                if rcols.len() != cols.len() {
                    return Err(SqlError::set_columns_differ());
                }
                // A column takes the widest type of its branches (an INT
                // literal above, a BIGINT below is a BIGINT column).
                for (c, r) in cols.iter_mut().zip(&rcols) {
                    c.ty = crate::bind::merge_types(c.ty.take(), r.ty.clone());
                    c.nullable |= r.nullable;
                }
                rows.extend(rrows);
                // Numbers of a DECIMAL column are shown at its scale.
                for (i, c) in cols.iter().enumerate() {
                    if let Some(trireme_storage::types::SqlType::Decimal { scale, .. }) = &c.ty {
                        for r in rows.iter_mut() {
                            if let Some(mut d) = r[i].to_decimal().filter(|_| r[i].is_numeric()) {
                                d.rescale(u32::from(*scale));
                                r[i] = Value::Decimal(d);
                            }
                        }
                    }
                }
                if !matches!(
                    set_quantifier,
                    ast::SetQuantifier::All | ast::SetQuantifier::AllByName
                ) {
                    dedup_rows(&mut rows, &cols);
                }
                Ok((cols, rows))
            }
            ast::SetExpr::SetOperation {
                left,
                op:
                    op @ (ast::SetOperator::Intersect
                    | ast::SetOperator::Except
                    | ast::SetOperator::Minus),
                set_quantifier,
                right,
            } => {
                let (cols, lrows) = self.set_expr(left)?;
                let (rcols, rrows) = self.set_expr(right)?;
                if rcols.len() != cols.len() {
                    return Err(SqlError::set_columns_differ());
                }
                let intersect = matches!(op, ast::SetOperator::Intersect);
                let all = matches!(
                    set_quantifier,
                    ast::SetQuantifier::All | ast::SetQuantifier::AllByName
                );
                let colls: Vec<Option<Collation>> = cols.iter().map(|c| c.collation).collect();
                // How often each row occurs on the right (a multiset for ALL).
                let mut right: HashMap<Vec<u8>, usize> = HashMap::new();
                for r in &rrows {
                    *right.entry(row_fingerprint(r, &colls)).or_default() += 1;
                }
                let mut seen = std::collections::HashSet::new();
                let mut rows = Vec::new();
                for r in lrows {
                    let k = row_fingerprint(&r, &colls);
                    let left_in_right = right.get(&k).copied().unwrap_or(0);
                    let keep = match (intersect, all) {
                        (true, false) => left_in_right > 0 && seen.insert(k),
                        (false, false) => left_in_right == 0 && seen.insert(k),
                        (true, true) | (false, true) => {
                            if left_in_right > 0 {
                                right.insert(k, left_in_right - 1);
                            }
                            (left_in_right > 0) == intersect
                        }
                    };
                    if keep {
                        rows.push(r);
                    }
                }
                Ok((cols, rows))
            }
            ast::SetExpr::Values(v) => {
                let mut rows = Vec::new();
                let scope = Scope::default();
                for r in &v.rows {
                    let mut out = Vec::new();
                    for e in &r.content {
                        let x = self.bind(e, &mut BindEnv::new(&scope, "field list"))?;
                        out.push(x.eval(&[])?);
                    }
                    rows.push(out);
                }
                let n = rows.first().map_or(0, Vec::len);
                let cols = (0..n)
                    .map(|i| {
                        let ty = rows.first().and_then(|r| bind::literal_type(&r[i]));
                        OutCol::expr(&format!("column_{i}"), ty, true)
                    })
                    .collect();
                Ok((cols, rows))
            }
            // MariaDB's grammar has no `WITH ... UPDATE / DELETE / INSERT`.
            other @ (ast::SetExpr::Update(_) | ast::SetExpr::Delete(_) | ast::SetExpr::Insert(_)) => {
                Err(SqlError::syntax(format!(
                    "check the manual that corresponds to your MariaDB server version for the right syntax to use near '{other}'"
                )))
            }
            other => Err(SqlError::unsupported(format!("query form {other}"))),
        }
    }

    pub fn limit_offset(
        &mut self,
        lc: Option<&ast::LimitClause>,
    ) -> SqlResult<(Option<usize>, usize)> {
        let scope = Scope::default();
        let num = |this: &mut Self, e: &ast::Expr| -> SqlResult<usize> {
            let v = this
                .bind(e, &mut BindEnv::new(&scope, "LIMIT"))?
                .eval(&[])?;
            // LIMIT takes an unsigned 64-bit count: 18446744073709551615
            // is the usual "no limit" (Django sends it with OFFSET).
            match v {
                Value::UInt(n) => Ok(usize::try_from(n).unwrap_or(usize::MAX)),
                other => match other.to_i64() {
                    Some(n) if n >= 0 => Ok(n as usize),
                    _ => Err(SqlError::new(1210, "HY000", "Incorrect arguments to LIMIT")),
                },
            }
        };
        Ok(match lc {
            None => (None, 0),
            Some(ast::LimitClause::LimitOffset { limit, offset, .. }) => {
                let l = match limit {
                    Some(e) => Some(num(self, e)?),
                    None => None,
                };
                let o = match offset {
                    Some(o) => num(self, &o.value)?,
                    None => 0,
                };
                (l, o)
            }
            Some(ast::LimitClause::OffsetCommaLimit { offset, limit }) => {
                let o = num(self, offset)?;
                (Some(num(self, limit)?), o)
            }
        })
    }

    /// Plans the FROM clause: sources, their scope, ON conditions.
    pub fn plan_from(&mut self, from: &[ast::TableWithJoins]) -> SqlResult<FromPlan> {
        let mut scope = Scope::default();
        let mut sources: Vec<Source> = Vec::new();
        // `FROM DUAL` is MySQL's spelling of no table at all.
        if let [twj] = from {
            if let ast::TableFactor::Table {
                name, alias: None, ..
            } = &twj.relation
            {
                let dual = matches!(object_name_parts_lossy(name).as_slice(), [n] if n.eq_ignore_ascii_case("dual"));
                if dual && twj.joins.is_empty() {
                    return Ok(FromPlan {
                        scope,
                        sources,
                        star: None,
                    });
                }
            }
        }
        let mut pending: Vec<PendingOn> = Vec::new();
        // Column ranges of the first two factors of a join list whose
        // sides were swapped: `SELECT *` shows them in written order.
        let mut swapped: Vec<(std::ops::Range<usize>, std::ops::Range<usize>)> = Vec::new();
        for twj in from {
            let (twj, swap) = right_join_as_left(twj)?;
            let start = scope.len();
            self.add_factor(&twj.relation, false, &mut scope, &mut sources)?;
            pending.push(PendingOn::None);
            let first_end = scope.len();
            for (n, j) in twj.joins.iter().enumerate() {
                let (left, constraint) = match &j.join_operator {
                    ast::JoinOperator::Join(c)
                    | ast::JoinOperator::Inner(c)
                    | ast::JoinOperator::StraightJoin(c) => (false, c),
                    ast::JoinOperator::CrossJoin(c) => (false, c),
                    ast::JoinOperator::Left(c) | ast::JoinOperator::LeftOuter(c) => (true, c),
                    other => return Err(SqlError::unsupported(format!("join {other:?}"))),
                };
                let joined_at = scope.len();
                self.add_factor(&j.relation, left, &mut scope, &mut sources)?;
                if swap && n == 0 {
                    swapped.push((start..first_end, first_end..scope.len()));
                }
                pending.push(match constraint {
                    ast::JoinConstraint::On(e) => PendingOn::On(Box::new(e.clone())),
                    ast::JoinConstraint::Using(cols) => {
                        PendingOn::Using(cols.iter().map(|c| c.to_string()).collect())
                    }
                    ast::JoinConstraint::None => PendingOn::None,
                    // NATURAL: USING every column name both sides have.
                    ast::JoinConstraint::Natural => {
                        let own = &scope.cols[joined_at..];
                        let names: Vec<String> = scope.cols[..joined_at]
                            .iter()
                            .map(|c| c.meta.name.clone())
                            .filter(|n| own.iter().any(|c| c.meta.name.eq_ignore_ascii_case(n)))
                            .fold(Vec::new(), |mut v, n| {
                                if !v.iter().any(|x: &String| x.eq_ignore_ascii_case(&n)) {
                                    v.push(n);
                                }
                                v
                            });
                        PendingOn::Using(names)
                    }
                });
            }
        }
        // ON conditions may only name this source and the ones before it.
        for (i, p) in pending.into_iter().enumerate() {
            let visible = Scope {
                cols: scope.cols[..sources[i].offset + sources[i].width].to_vec(),
            };
            match p {
                PendingOn::None => {}
                PendingOn::On(e) => {
                    let bound = self.bind(&e, &mut BindEnv::new(&visible, "on clause"))?;
                    sources[i].on = bound.conjuncts();
                }
                PendingOn::Using(cols) => {
                    let left = Scope {
                        cols: scope.cols[..sources[i].offset].to_vec(),
                    };
                    let own = Scope {
                        cols: scope.cols[sources[i].offset..sources[i].offset + sources[i].width]
                            .to_vec(),
                    };
                    for c in cols {
                        let l = left.resolve(None, None, &c, "from clause")?;
                        let r = own.resolve(None, None, &c, "from clause")? + sources[i].offset;
                        let (a, b) = (Expr::Col(l), Expr::Col(r));
                        let coll = self.cmp_collation(
                            &[&a, &b],
                            &BindEnv::new(&scope, "from clause"),
                            "=",
                        )?;
                        sources[i]
                            .on
                            .push(Expr::Cmp(CmpOp::Eq, Box::new(a), Box::new(b), coll));
                    }
                }
            }
        }
        let star = (!swapped.is_empty()).then(|| {
            let mut order: Vec<usize> = (0..scope.len()).collect();
            for (right, left) in &swapped {
                let written: Vec<usize> = left.clone().chain(right.clone()).collect();
                order.splice(right.start..left.end, written);
            }
            order
        });
        Ok(FromPlan {
            scope,
            sources,
            star,
        })
    }

    fn add_factor(
        &mut self,
        f: &ast::TableFactor,
        left_join: bool,
        scope: &mut Scope,
        sources: &mut Vec<Source>,
    ) -> SqlResult<()> {
        match f {
            ast::TableFactor::Table { name, alias, .. } => {
                if let Some(cte) = self.cte(name) {
                    let (cols, rows) = (cte.cols.clone(), cte.rows.clone());
                    let qualifier = alias
                        .as_ref()
                        .map_or_else(|| cte.name.clone(), |a| a.name.value.clone());
                    check_unique_qualifier(scope, &qualifier)?;
                    push_rows_source(scope, sources, &qualifier, cols, rows, left_join);
                    return Ok(());
                }
                let (db, tname) = self.qualify(name)?;
                let qualifier = alias
                    .as_ref()
                    .map_or_else(|| tname.clone(), |a| a.name.value.clone());
                check_unique_qualifier(scope, &qualifier)?;
                if db.eq_ignore_ascii_case("information_schema") {
                    let (cols, rows) = self.information_schema(&tname)?;
                    push_rows_source(scope, sources, &qualifier, cols, rows, left_join);
                    return Ok(());
                }
                if let Some(view) = self.catalog.view(&db, &tname).cloned() {
                    let (cols, rows) = self.read_view(&view)?;
                    let rows = rows.into_iter().map(Row::from).collect();
                    push_rows_source(scope, sources, &qualifier, cols, rows, left_join);
                    return Ok(());
                }
                let table = self.catalog.table(&db, &tname).cloned().ok_or_else(|| {
                    if self.catalog.databases.contains_key(&db) {
                        SqlError::no_such_table(&db, &tname)
                    } else {
                        SqlError::unknown_db(&db)
                    }
                })?;
                self.txn.check_table_version(&table)?;
                let offset = scope.len();
                for (i, c) in table.def.columns.iter().enumerate() {
                    let mut meta =
                        OutCol::expr(&c.name, Some(c.ty.clone()), c.nullable || left_join);
                    meta.org_name = c.name.clone();
                    if c.collation.is_some() {
                        meta.collation = c.collation;
                    }
                    meta.table = qualifier.clone();
                    meta.org_table = tname.clone();
                    meta.db = db.clone();
                    meta.primary_key = table.def.is_pk_column(i);
                    meta.auto_increment = c.auto_increment;
                    meta.unique_key = table
                        .def
                        .indexes
                        .iter()
                        .any(|x| x.unique && x.columns.first() == Some(&i));
                    meta.multiple_key = table
                        .def
                        .indexes
                        .iter()
                        .any(|x| !x.unique && x.columns.first() == Some(&i));
                    scope.cols.push(ScopeCol {
                        source: qualifier.clone(),
                        meta,
                    });
                }
                let width = table.def.columns.len();
                sources.push(Source {
                    data: SourceData::Stored(table),
                    offset,
                    width,
                    left_join,
                    on: Vec::new(),
                    access: Access::Full,
                });
                Ok(())
            }
            ast::TableFactor::Derived {
                subquery, alias, ..
            } => {
                let Some(alias) = alias else {
                    return Err(SqlError::new(
                        1248,
                        "42000",
                        "Every derived table must have its own alias",
                    ));
                };
                check_unique_qualifier(scope, &alias.name.value)?;
                let (mut cols, rows) = self.query(subquery)?;
                crate::with::rename_columns(&mut cols, crate::with::alias_names(&alias.columns))?;
                // A derived table is a table: its column names are unique.
                for (i, c) in cols.iter().enumerate() {
                    if cols[..i]
                        .iter()
                        .any(|p| p.name.eq_ignore_ascii_case(&c.name))
                    {
                        return Err(SqlError::dup_fieldname(&c.name));
                    }
                }
                let rows = rows.into_iter().map(Row::from).collect();
                push_rows_source(scope, sources, &alias.name.value, cols, rows, left_join);
                Ok(())
            }
            ast::TableFactor::NestedJoin {
                table_with_joins, ..
            } if table_with_joins.joins.is_empty() => {
                self.add_factor(&table_with_joins.relation, left_join, scope, sources)
            }
            other => Err(SqlError::unsupported(format!("FROM item {other}"))),
        }
    }

    fn select(
        &mut self,
        s: &ast::Select,
        order_by: &[ast::OrderByExpr],
        limit: Option<usize>,
        offset: usize,
        lock: Option<LockKind>,
    ) -> SqlResult<(Vec<OutCol>, Vec<Vec<Value>>)> {
        if s.into.is_some() {
            return Err(SqlError::unsupported("SELECT ... INTO"));
        }
        let mut plan = self.plan_from(&s.from)?;
        let scope = plan.scope.clone();

        // WHERE. Terms with correlated subqueries run after the join, per
        // row; the others drive access paths and the join.
        let (correlated_filters, filters): (Vec<Expr>, Vec<Expr>) = match &s.selection {
            Some(w) => self
                .bind(w, &mut BindEnv::new(&scope, "where clause"))?
                .conjuncts(),
            None => Vec::new(),
        }
        .into_iter()
        .partition(|f| f.has_correlated());

        // Projection (in aggregate mode if it turns out to aggregate).
        // Window calls are collected while the list and ORDER BY are bound.
        let named = s
            .named_window
            .iter()
            .filter_map(|d| match &d.1 {
                ast::NamedWindowExpr::WindowSpec(spec) => Some((d.0.value.clone(), spec.clone())),
                ast::NamedWindowExpr::NamedWindow(_) => None,
            })
            .collect();
        let outer_windows = self.windows.replace(window::Collector {
            calls: Vec::new(),
            named,
        });
        let mut aggs: Vec<AggCall> = Vec::new();
        let mut proj: Vec<(Expr, OutCol)> = Vec::new();
        let mut aliases: Vec<(String, Expr)> = Vec::new();
        for item in &s.projection {
            match item {
                ast::SelectItem::Wildcard(_) => {
                    if scope.is_empty() {
                        return Err(SqlError::new(1096, "HY000", "No tables used"));
                    }
                    let order: Vec<usize> = plan
                        .star
                        .clone()
                        .unwrap_or_else(|| (0..scope.len()).collect());
                    for i in order {
                        proj.push((Expr::Col(i), scope.cols[i].meta.clone()));
                    }
                }
                ast::SelectItem::QualifiedWildcard(kind, _) => {
                    let q = match kind {
                        ast::SelectItemQualifiedWildcardKind::ObjectName(n) => {
                            crate::object_name_parts(n)?
                                .last()
                                .cloned()
                                .unwrap_or_default()
                        }
                        ast::SelectItemQualifiedWildcardKind::Expr(e) => e.to_string(),
                    };
                    let mut any = false;
                    for (i, c) in scope.cols.iter().enumerate() {
                        if c.source == q {
                            proj.push((Expr::Col(i), c.meta.clone()));
                            any = true;
                        }
                    }
                    if !any {
                        return Err(SqlError::unknown_table(&q));
                    }
                }
                ast::SelectItem::UnnamedExpr(e)
                | ast::SelectItem::ExprWithAlias { expr: e, .. } => {
                    let alias = match item {
                        ast::SelectItem::ExprWithAlias { alias, .. } => Some(alias.value.clone()),
                        _ => None,
                    };
                    let mut env = BindEnv {
                        scope: &scope,
                        aggs: Some(&mut aggs),
                        aliases: &[],
                        place: "field list",
                    };
                    let bound = self.bind(e, &mut env)?;
                    let name = alias
                        .clone()
                        .unwrap_or_else(|| bind::expr_display_name(e, &self.sess.sql_text));
                    let mut meta = match &bound {
                        Expr::Col(i) if *i < scope.len() => scope.cols[*i].meta.clone(),
                        _ => OutCol::expr(&name, None, true),
                    };
                    meta.name = name.clone();
                    if let Some(a) = alias {
                        aliases.push((a, bound.clone()));
                    }
                    proj.push((bound, meta));
                }
                other => return Err(SqlError::unsupported(format!("select item {other}"))),
            }
        }

        let paused = self.windows.take();

        // GROUP BY: positions, aliases or expressions over source rows.
        let mut rollup = false;
        let group_exprs: Vec<Expr> = match &s.group_by {
            ast::GroupByExpr::Expressions(exprs, mods) => {
                for m in mods {
                    match m {
                        ast::GroupByWithModifier::Rollup => rollup = true,
                        other => return Err(SqlError::unsupported(format!("GROUP BY {other}"))),
                    }
                }
                if rollup && !order_by.is_empty() {
                    return Err(SqlError::new(
                        1221,
                        "HY000",
                        "Incorrect usage of CUBE/ROLLUP and ORDER BY",
                    ));
                }
                let mut out = Vec::new();
                for e in exprs {
                    out.push(self.bind_group_item(e, &scope, &proj, &aliases)?);
                }
                out
            }
            ast::GroupByExpr::All(_) => return Err(SqlError::unsupported("GROUP BY ALL")),
        };
        let having = match &s.having {
            Some(h) => {
                let mut env = BindEnv {
                    scope: &scope,
                    aggs: Some(&mut aggs),
                    aliases: &aliases,
                    place: "having clause",
                };
                Some(self.bind(h, &mut env)?)
            }
            None => None,
        };

        // ORDER BY keys: output positions or expressions over the same layout
        // as the projection.
        let mut sort_keys: Vec<(SortKey, bool)> = Vec::new();
        self.windows = paused;
        for ob in order_by {
            let desc = matches!(ob.options.sort, Some(ast::OrderBySort::Desc));
            let key = self.bind_order_item(&ob.expr, &scope, &mut aggs, &proj, &aliases)?;
            sort_keys.push((key, desc));
        }
        let windows = std::mem::replace(&mut self.windows, outer_windows)
            .map(|c| c.calls)
            .unwrap_or_default();
        if !windows.is_empty() {
            // Window values sit after the aggregates.
            let delta = (scope.len() + aggs.len()) as isize - window::WINDOW_BASE as isize;
            for (e, _) in proj.iter_mut() {
                e.shift_columns(window::WINDOW_BASE, delta);
            }
            for (k, _) in sort_keys.iter_mut() {
                if let SortKey::Expr(e) = k {
                    e.shift_columns(window::WINDOW_BASE, delta);
                }
            }
        }

        // HAVING alone does not group: without GROUP BY or an aggregate,
        // MySQL applies it to each row (`SELECT a AS x FROM t HAVING x > 1`).
        let aggregate = !aggs.is_empty() || !group_exprs.is_empty();
        let distinct = matches!(s.distinct, Some(ast::Distinct::Distinct));
        if let Some(ast::Distinct::On(_)) = s.distinct {
            return Err(SqlError::unsupported("DISTINCT ON"));
        }

        plan.choose_access(&filters, self.session_zone().is_some());

        let early = if aggregate
            || distinct
            || having.is_some()
            || !sort_keys.is_empty()
            || !windows.is_empty()
        {
            None
        } else {
            limit.map(|l| l.saturating_add(offset))
        };
        let early = if correlated_filters.is_empty() {
            early
        } else {
            None
        };
        let mut rows = self.run_join(&plan, &filters, lock, early)?;
        if !correlated_filters.is_empty() {
            let mut kept = Vec::with_capacity(rows.len());
            for r in rows {
                let mut keep = true;
                for f in &correlated_filters {
                    if self.eval_row(f, &r, &scope)?.truth() != Some(true) {
                        keep = false;
                        break;
                    }
                }
                if keep {
                    kept.push(r);
                }
            }
            rows = kept;
        }

        // Aggregation.
        let mut layout: Vec<OutCol> = scope.cols.iter().map(|c| c.meta.clone()).collect();
        let conn = self.conn_collation();
        let coll_of =
            |e: &Expr, cols: &[OutCol]| collate::derive(e, cols, conn).map(|d| d.collation);
        let having_correlated = having.as_ref().is_some_and(|h| h.has_correlated());
        let mut rows = if aggregate {
            let group_colls: Vec<Option<Collation>> =
                group_exprs.iter().map(|g| coll_of(g, &layout)).collect();
            let agg_colls: Vec<Option<Collation>> = aggs
                .iter()
                .map(|a| a.args.first().and_then(|e| coll_of(e, &layout)))
                .collect();
            for (a, coll) in aggs.iter().zip(&agg_colls) {
                let (ty, nullable) = bind::agg_type(a, &layout[..scope.len()]);
                let mut m = OutCol::expr("agg", ty, nullable);
                if matches!(a.func, AggFunc::Min | AggFunc::Max) && coll.is_some() {
                    m.collation = *coll;
                }
                layout.push(m);
            }
            // Correlated subqueries in aggregate arguments and GROUP BY
            // run once per source row, before grouping (types and
            // collations above were derived from the subqueries).
            let mut group_exprs = group_exprs.clone();
            let mut agg_calls = aggs.clone();
            {
                let mut targets: Vec<&mut Expr> = group_exprs.iter_mut().collect();
                for a in agg_calls.iter_mut() {
                    targets.extend(a.args.iter_mut());
                    targets.extend(a.order.iter_mut().map(|(e, _)| e));
                }
                self.precompute_correlated(targets, &mut rows, &scope)?;
            }
            let grouping = group::Grouping {
                exprs: &group_exprs,
                colls: &group_colls,
                rollup,
            };
            let grouped =
                group::aggregate_rows(rows, &grouping, (&agg_calls, &agg_colls), scope.len())?;
            match &having {
                Some(h) => {
                    let mut kept = Vec::new();
                    for r in grouped {
                        if self.holds_row(h, having_correlated, &r, &scope)? {
                            kept.push(r);
                        }
                    }
                    kept
                }
                None => grouped,
            }
        } else if let Some(h) = &having {
            let mut kept = Vec::new();
            for r in rows {
                if self.holds_row(h, having_correlated, &r, &scope)? {
                    kept.push(r);
                }
            }
            kept
        } else {
            rows
        };

        if !windows.is_empty() {
            window::compute(&mut rows, &windows, &mut layout, conn)?;
        }

        // Projection and sort keys.
        let columns: Vec<OutCol> = proj
            .iter()
            .map(|(e, meta)| {
                let mut m = meta.clone();
                if !matches!(e, Expr::Col(i) if *i < scope.len()) {
                    let (ty, nullable) = bind::infer(e, &layout);
                    m.ty = ty;
                    m.nullable = nullable;
                    if let Some(c) = coll_of(e, &layout) {
                        m.collation = Some(c);
                    }
                }
                m
            })
            .collect();
        let out_colls: Vec<Option<Collation>> = columns.iter().map(|c| c.collation).collect();
        let sort_colls: Vec<Option<Collation>> = sort_keys
            .iter()
            .map(|(k, _)| match k {
                SortKey::Output(i) => columns[*i].collation,
                SortKey::Expr(e) => coll_of(e, &layout),
            })
            .collect();
        let proj_correlated: Vec<bool> = proj.iter().map(|(e, _)| e.has_correlated()).collect();
        let sort_correlated: Vec<bool> = sort_keys
            .iter()
            .map(|(k, _)| matches!(k, SortKey::Expr(e) if e.has_correlated()))
            .collect();
        let mut out: Vec<(Vec<Value>, Vec<Value>)> = Vec::with_capacity(rows.len());
        for r in &rows {
            let mut vals = Vec::with_capacity(proj.len());
            for ((e, _), corr) in proj.iter().zip(&proj_correlated) {
                vals.push(if *corr {
                    self.eval_row(e, r, &scope)?
                } else {
                    e.eval(r)?
                });
            }
            let mut keys = Vec::with_capacity(sort_keys.len());
            for (k, _) in &sort_keys {
                keys.push(match k {
                    SortKey::Output(i) => enum_rank(vals[*i].clone(), columns[*i].ty.as_ref()),
                    SortKey::Expr(e @ Expr::Col(c)) => {
                        enum_rank(e.eval(r)?, layout.get(*c).and_then(|m| m.ty.as_ref()))
                    }
                    SortKey::Expr(e) if sort_correlated[keys.len()] => {
                        self.eval_row(e, r, &scope)?
                    }
                    SortKey::Expr(e) => e.eval(r)?,
                });
            }
            out.push((vals, keys));
        }
        if arith::take_divided_by_zero() {
            self.warn(crate::error::codes::DIVISION_BY_ZERO, "Division by 0");
        }
        if distinct {
            let mut seen = std::collections::HashSet::new();
            out.retain(|(vals, _)| seen.insert(row_fingerprint(vals, &out_colls)));
        }
        if !sort_keys.is_empty() {
            out.sort_by(|(_, a), (_, b)| {
                for (i, (_, desc)) in sort_keys.iter().enumerate() {
                    let o = sort_cmp_collated(&a[i], &b[i], sort_colls[i]);
                    let o = if *desc { o.reverse() } else { o };
                    if o != std::cmp::Ordering::Equal {
                        return o;
                    }
                }
                std::cmp::Ordering::Equal
            });
        }
        let mut rows: Vec<Vec<Value>> = out.into_iter().map(|(v, _)| v).collect();
        self.sess.found_rows = rows.len() as u64;
        if let Some(id) = crate::expr::take_set_last_insert_id() {
            self.sess.last_insert_id = id;
        }
        apply_limit(&mut rows, limit, offset);
        Ok((columns, rows))
    }

    fn bind_group_item(
        &mut self,
        e: &ast::Expr,
        scope: &Scope,
        proj: &[(Expr, OutCol)],
        aliases: &[(String, Expr)],
    ) -> SqlResult<Expr> {
        if let Some(pos) = position_literal(e) {
            return proj
                .get(pos.wrapping_sub(1))
                .map(|(x, _)| x.clone())
                .ok_or_else(|| SqlError::bad_field(&pos.to_string(), "group statement"));
        }
        if let ast::Expr::Identifier(id) = e {
            if scope
                .resolve(None, None, &id.value, "group statement")
                .is_err()
            {
                if let Some((_, x)) = aliases
                    .iter()
                    .find(|(a, _)| a.eq_ignore_ascii_case(&id.value))
                {
                    return Ok(x.clone());
                }
            }
        }
        self.bind(e, &mut BindEnv::new(scope, "group statement"))
    }

    fn bind_order_item(
        &mut self,
        e: &ast::Expr,
        scope: &Scope,
        aggs: &mut Vec<AggCall>,
        proj: &[(Expr, OutCol)],
        aliases: &[(String, Expr)],
    ) -> SqlResult<SortKey> {
        if let Some(pos) = position_literal(e) {
            if pos == 0 || pos > proj.len() {
                return Err(SqlError::bad_field(&pos.to_string(), "order clause"));
            }
            return Ok(SortKey::Output(pos - 1));
        }
        if let ast::Expr::Identifier(id) = e {
            if let Some(i) = proj
                .iter()
                .position(|(_, m)| m.name.eq_ignore_ascii_case(&id.value))
            {
                if aliases
                    .iter()
                    .any(|(a, _)| a.eq_ignore_ascii_case(&id.value))
                    || scope
                        .resolve(None, None, &id.value, "order clause")
                        .is_err()
                {
                    return Ok(SortKey::Output(i));
                }
            }
        }
        let mut env = BindEnv {
            scope,
            aggs: Some(aggs),
            aliases,
            place: "order clause",
        };
        Ok(SortKey::Expr(self.bind(e, &mut env)?))
    }

    /// Whether a HAVING condition holds for a row, its correlated
    /// subqueries run for that row.
    fn holds_row(
        &mut self,
        h: &Expr,
        correlated: bool,
        row: &[Value],
        scope: &Scope,
    ) -> SqlResult<bool> {
        if correlated {
            return Ok(self.eval_row(h, row, scope)?.truth() == Some(true));
        }
        h.holds(row)
    }

    /// Sorts a result by ORDER BY items that name output columns (UNION).
    fn order_output(
        &mut self,
        cols: &[OutCol],
        rows: &mut [Vec<Value>],
        order_by: &[ast::OrderByExpr],
    ) -> SqlResult<()> {
        if order_by.is_empty() {
            return Ok(());
        }
        let scope = Scope {
            cols: cols
                .iter()
                .map(|c| ScopeCol {
                    source: String::new(),
                    meta: c.clone(),
                })
                .collect(),
        };
        let mut keys = Vec::new();
        for ob in order_by {
            let desc = matches!(ob.options.sort, Some(ast::OrderBySort::Desc));
            let e = match position_literal(&ob.expr) {
                Some(p) if p >= 1 && p <= cols.len() => Expr::Col(p - 1),
                Some(p) => return Err(SqlError::bad_field(&p.to_string(), "order clause")),
                None => self.bind(&ob.expr, &mut BindEnv::new(&scope, "order clause"))?,
            };
            let coll = collate::derive(&e, cols, self.conn_collation()).map(|d| d.collation);
            keys.push((e, desc, coll));
        }
        let mut err = None;
        rows.sort_by(|a, b| {
            for (e, desc, coll) in &keys {
                let (x, y) = match (e.eval(a), e.eval(b)) {
                    (Ok(x), Ok(y)) => (x, y),
                    (Err(e), _) | (_, Err(e)) => {
                        err = Some(e);
                        return std::cmp::Ordering::Equal;
                    }
                };
                let o = sort_cmp_collated(&x, &y, *coll);
                let o = if *desc { o.reverse() } else { o };
                if o != std::cmp::Ordering::Equal {
                    return o;
                }
            }
            std::cmp::Ordering::Equal
        });
        err.map_or(Ok(()), Err)
    }

    /// Runs the nested-loop join and returns the source rows that pass all
    /// filters. With `lock`, every stored row in the result is locked in the
    /// transaction (FOR SHARE / FOR UPDATE).
    pub fn run_join(
        &mut self,
        plan: &FromPlan,
        filters: &[Expr],
        lock: Option<LockKind>,
        max_rows: Option<usize>,
    ) -> SqlResult<Vec<Vec<Value>>> {
        if self.describe {
            return Ok(Vec::new());
        }
        let n = plan.sources.len();
        // Each filter is checked at the first level where its columns are
        // bound (level n-1 for constant filters without sources: checked
        // once up front).
        let mut at_level: Vec<Vec<&Expr>> = vec![Vec::new(); n.max(1)];
        for f in filters {
            let lvl = match f.max_column() {
                None => 0,
                Some(c) => plan
                    .sources
                    .iter()
                    .position(|s| c < s.offset + s.width)
                    .unwrap_or(n.saturating_sub(1)),
            };
            at_level[lvl].push(f);
        }
        let mut out = Vec::new();
        if n == 0 {
            for f in &at_level[0] {
                if !f.holds(&[])? {
                    return Ok(out);
                }
            }
            out.push(Vec::new());
            return Ok(out);
        }
        let mut row = vec![Value::Null; plan.scope.len()];
        let mut keys: Vec<Option<(Arc<Table>, Vec<u8>)>> = vec![None; n];
        let mut locked = Vec::new();
        self.join_level(
            plan,
            &at_level,
            0,
            &mut row,
            &mut keys,
            &mut out,
            lock.is_some().then_some(&mut locked),
            max_rows,
        )?;
        if let Some(kind) = lock {
            for (table, pk) in locked {
                let t: &Arc<Table> = &table;
                // A row changed after our snapshot can never be locked by
                // us: certification would fail anyway, so fail now.
                let own = self.txn.pending(t).is_some_and(|p| p.contains_key(&pk));
                if !own && t.latest_seqno(&pk)? > self.txn.snapshot_seqno() {
                    return Err(SqlError::deadlock());
                }
                self.txn.lock(t, &pk, kind);
            }
        }
        Ok(out)
    }

    #[allow(clippy::too_many_arguments)]
    fn join_level(
        &mut self,
        plan: &FromPlan,
        filters: &[Vec<&Expr>],
        level: usize,
        row: &mut Vec<Value>,
        keys: &mut Vec<Option<(Arc<Table>, Vec<u8>)>>,
        out: &mut Vec<Vec<Value>>,
        mut locked: Option<&mut Vec<(Arc<Table>, Vec<u8>)>>,
        max_rows: Option<usize>,
    ) -> SqlResult<bool> {
        if level == plan.sources.len() {
            out.push(row.clone());
            if let Some(l) = locked {
                for (t, k) in keys.iter().flatten() {
                    l.push((t.clone(), k.clone()));
                }
            }
            return Ok(max_rows.is_some_and(|m| out.len() >= m));
        }
        let src = &plan.sources[level];
        let candidates: Vec<(Option<Vec<u8>>, Row)> = match &src.data {
            SourceData::Stored(t) => {
                let rows = access::fetch(t, self.txn, &src.access, row, &mut self.sess.vars.reads)?;
                self.rows_in_zone(&t.def, rows)
                    .into_iter()
                    .map(|(k, r)| (Some(k), r))
                    .collect()
            }
            SourceData::Rows(rows) => rows.iter().map(|r| (None, r.clone())).collect(),
        };
        // Subqueries run per row have frames pushed: only the join ANALYZE
        // asked about is counted.
        let counted = self.outer.is_empty();
        if counted {
            count_join(level, |c| {
                c.0 += 1;
                c.1 += candidates.len() as u64;
            });
        }
        let mut matched = false;
        for (pk, r) in candidates {
            row[src.offset..src.offset + src.width].clone_from_slice(&r);
            let mut ok = true;
            for c in &src.on {
                let holds = if c.has_correlated() {
                    self.eval_row(c, row, &plan.scope)?.truth() == Some(true)
                } else {
                    c.holds(row)?
                };
                if !holds {
                    ok = false;
                    break;
                }
            }
            if !ok {
                continue;
            }
            matched = true;
            if !all_hold(&filters[level], row)? {
                continue;
            }
            if counted {
                count_join(level, |c| c.2 += 1);
            }
            keys[level] = match (&src.data, pk) {
                (SourceData::Stored(t), Some(k)) => Some((t.clone(), k)),
                _ => None,
            };
            let stop = self.join_level(
                plan,
                filters,
                level + 1,
                row,
                keys,
                out,
                locked.as_deref_mut(),
                max_rows,
            )?;
            keys[level] = None;
            if stop {
                return Ok(true);
            }
        }
        for v in &mut row[src.offset..src.offset + src.width] {
            *v = Value::Null;
        }
        if !matched && src.left_join && all_hold(&filters[level], row)? {
            return self.join_level(plan, filters, level + 1, row, keys, out, locked, max_rows);
        }
        Ok(false)
    }
}

thread_local! {
    /// While ANALYZE runs a join: per source, (loops, rows read, rows kept).
    static JOIN_STATS: std::cell::RefCell<Option<Vec<(u64, u64, u64)>>> =
        const { std::cell::RefCell::new(None) };
}

/// Starts counting the reads of the next top-level join (ANALYZE).
pub(crate) fn start_join_stats(sources: usize) {
    JOIN_STATS.with(|s| *s.borrow_mut() = Some(vec![(0, 0, 0); sources]));
}

/// The counts since `start_join_stats`, and stops counting.
pub(crate) fn take_join_stats() -> Vec<(u64, u64, u64)> {
    JOIN_STATS.with(|s| s.borrow_mut().take().unwrap_or_default())
}

fn count_join(level: usize, f: impl FnOnce(&mut (u64, u64, u64))) {
    JOIN_STATS.with(|s| {
        if let Some(v) = s.borrow_mut().as_mut() {
            if let Some(x) = v.get_mut(level) {
                f(x);
            }
        }
    });
}

/// Two FROM items may not answer to the same name (ER_NONUNIQ_TABLE).
fn check_unique_qualifier(scope: &Scope, qualifier: &str) -> SqlResult<()> {
    if scope.cols.iter().any(|c| c.source == qualifier) {
        return Err(SqlError::new(
            crate::error::codes::NON_UNIQ_TABLE,
            "42000",
            format!("Not unique table/alias: '{qualifier}'"),
        ));
    }
    Ok(())
}

fn object_name_parts_lossy(name: &ast::ObjectName) -> Vec<String> {
    crate::object_name_parts(name).unwrap_or_default()
}

fn all_hold(filters: &[&Expr], row: &[Value]) -> SqlResult<bool> {
    for f in filters {
        if !f.holds(row)? {
            return Ok(false);
        }
    }
    Ok(true)
}

fn push_rows_source(
    scope: &mut Scope,
    sources: &mut Vec<Source>,
    qualifier: &str,
    cols: Vec<OutCol>,
    rows: Vec<Row>,
    left_join: bool,
) {
    let offset = scope.len();
    let width = cols.len();
    for mut c in cols {
        c.table = qualifier.to_string();
        if left_join {
            c.nullable = true;
        }
        scope.cols.push(ScopeCol {
            source: qualifier.to_string(),
            meta: c,
        });
    }
    sources.push(Source {
        data: SourceData::Rows(rows),
        offset,
        width,
        left_join,
        on: Vec::new(),
        access: Access::Full,
    });
}

/// ENUM columns sort by member position, not by text (MySQL): the sort key
/// of an ENUM value is its 1-based index; other values are unchanged.
fn enum_rank(v: Value, ty: Option<&trireme_storage::types::SqlType>) -> Value {
    match (ty, &v) {
        (Some(trireme_storage::types::SqlType::Enum(members)), Value::Str(s)) => {
            Value::Int(crate::coerce::member_ordinal(members, false, s) as i64)
        }
        // SET columns sort by their bit mask.
        (Some(trireme_storage::types::SqlType::Set(members)), Value::Str(s)) => {
            Value::UInt(crate::coerce::member_ordinal(members, true, s))
        }
        _ => v,
    }
}

pub enum SortKey {
    Output(usize),
    Expr(Expr),
}

fn position_literal(e: &ast::Expr) -> Option<usize> {
    match e {
        ast::Expr::Value(v) => match &v.value {
            ast::Value::Number(n, _) => n.parse().ok(),
            _ => None,
        },
        _ => None,
    }
}

pub fn apply_limit(rows: &mut Vec<Vec<Value>>, limit: Option<usize>, offset: usize) {
    if offset > 0 {
        rows.drain(..offset.min(rows.len()));
    }
    if let Some(l) = limit {
        rows.truncate(l);
    }
}

/// A byte string equal for rows that DISTINCT / UNION treat as equal.
pub(crate) fn row_fingerprint(vals: &[Value], colls: &[Option<Collation>]) -> Vec<u8> {
    let mut k = Vec::new();
    for (i, v) in vals.iter().enumerate() {
        // Numbers of different shapes that compare equal must collide:
        // normalise them to one encoding.
        let norm = match v {
            Value::Int(_) | Value::UInt(_) | Value::Decimal(_) => match v.to_decimal() {
                Some(d) => Value::Str(d.normalize().to_string()),
                None => v.clone(),
            },
            Value::Double(d) => Value::Str(value::format_double(*d)),
            other => other.clone(),
        };
        keycode::encode_collated(&mut k, &norm, colls.get(i).copied().flatten());
    }
    k
}

fn dedup_rows(rows: &mut Vec<Vec<Value>>, cols: &[OutCol]) {
    let colls: Vec<Option<Collation>> = cols.iter().map(|c| c.collation).collect();
    let mut seen = std::collections::HashSet::new();
    rows.retain(|r| seen.insert(row_fingerprint(r, &colls)));
}

/// `group_concat_max_len`'s default in MariaDB 10.11.
const GROUP_CONCAT_MAX_LEN: usize = 1 << 20;

/// Accumulated state of one aggregate for one group.
#[derive(Clone)]
pub(crate) enum AggState {
    Count(i64),
    Sum(Option<Value>),
    Avg(Option<Value>, i64),
    Min(Option<Value>),
    Max(Option<Value>),
    Concat(Vec<(Vec<Value>, String)>),
    Bits(u64),
    /// Welford's running (count, mean, sum of squared deviations): stable
    /// where summing squares would lose digits.
    Moments(u64, f64, f64),
}

pub(crate) fn new_agg_state(a: &AggCall) -> AggState {
    new_state(a)
}

pub(crate) fn accumulate_agg(
    a: &AggCall,
    st: &mut AggState,
    row: &[Value],
    coll: Option<Collation>,
) -> SqlResult<()> {
    accumulate(a, st, row, coll)
}

pub(crate) fn finish_agg(a: &AggCall, st: AggState) -> Value {
    finish(a, st)
}

fn new_state(a: &AggCall) -> AggState {
    match a.func {
        AggFunc::CountStar | AggFunc::Count => AggState::Count(0),
        AggFunc::Sum => AggState::Sum(None),
        AggFunc::Avg => AggState::Avg(None, 0),
        AggFunc::Min => AggState::Min(None),
        AggFunc::Max => AggState::Max(None),
        AggFunc::GroupConcat | AggFunc::JsonArrayAgg | AggFunc::JsonObjectAgg => {
            AggState::Concat(Vec::new())
        }
        AggFunc::BitAnd => AggState::Bits(u64::MAX),
        AggFunc::BitOr | AggFunc::BitXor => AggState::Bits(0),
        AggFunc::Variance { .. } => AggState::Moments(0, 0.0, 0.0),
    }
}

fn accumulate(
    a: &AggCall,
    st: &mut AggState,
    row: &[Value],
    coll: Option<Collation>,
) -> SqlResult<()> {
    let vals = a
        .args
        .iter()
        .map(|e| e.eval(row))
        .collect::<SqlResult<Vec<_>>>()?;
    let keeps_nulls = matches!(
        a.func,
        AggFunc::CountStar | AggFunc::JsonArrayAgg | AggFunc::JsonObjectAgg
    );
    // JSON_OBJECTAGG skips a row whose key is NULL (MariaDB; MySQL errs).
    let null_key = a.func == AggFunc::JsonObjectAgg && vals.first().is_some_and(Value::is_null);
    if null_key || (!keeps_nulls && vals.iter().any(Value::is_null)) {
        return Ok(());
    }
    let v = vals.first().cloned().unwrap_or(Value::Null);
    let add = |acc: Option<Value>, v: &Value| -> SqlResult<Value> {
        let v = match v {
            Value::Int(_) | Value::UInt(_) | Value::Decimal(_) | Value::Double(_) => v.clone(),
            // Strings and dates sum as doubles, as in MySQL.
            other => Value::Double(other.to_f64().unwrap_or(0.0)),
        };
        let v = match v {
            Value::Int(_) | Value::UInt(_) => Value::Decimal(v.to_decimal().unwrap_or_default()),
            other => other,
        };
        match acc {
            None => Ok(v),
            Some(acc) => arith::arith(arith::ArithOp::Add, &acc, &v),
        }
    };
    match st {
        AggState::Count(n) => *n += 1,
        AggState::Sum(acc) => *acc = Some(add(acc.take(), &v)?),
        AggState::Avg(acc, n) => {
            *acc = Some(add(acc.take(), &v)?);
            *n += 1;
        }
        AggState::Min(m) => {
            if m.as_ref()
                .is_none_or(|x| sort_cmp_collated(&v, x, coll) == std::cmp::Ordering::Less)
            {
                *m = Some(v);
            }
        }
        AggState::Max(m) => {
            if m.as_ref()
                .is_none_or(|x| sort_cmp_collated(&v, x, coll) == std::cmp::Ordering::Greater)
            {
                *m = Some(v);
            }
        }
        AggState::Concat(items) => {
            let keys = a
                .order
                .iter()
                .map(|(e, _)| e.eval(row))
                .collect::<SqlResult<Vec<_>>>()?;
            let raw = |i: usize| a.raw_json.get(i).copied().unwrap_or(false);
            let text: String = match a.func {
                AggFunc::JsonArrayAgg => crate::func::agg_element(&a.args[0], &vals[0], raw(0)),
                AggFunc::JsonObjectAgg => format!(
                    "{}:{}",
                    crate::func::agg_key(&vals[0]),
                    crate::func::agg_element(&a.args[1], &vals[1], raw(1))
                ),
                _ => vals.iter().map(Value::to_text_lossy).collect(),
            };
            items.push((keys, text));
        }
        AggState::Moments(n, mean, m2) => {
            let x = v.to_f64().unwrap_or(0.0);
            *n += 1;
            let d = x - *mean;
            *mean += d / *n as f64;
            *m2 += d * (x - *mean);
        }
        AggState::Bits(b) => {
            let x = v.to_i64().unwrap_or(0) as u64;
            match a.func {
                AggFunc::BitAnd => *b &= x,
                AggFunc::BitXor => *b ^= x,
                _ => *b |= x,
            }
        }
    }
    Ok(())
}

fn finish(a: &AggCall, st: AggState) -> Value {
    match st {
        AggState::Count(n) => Value::Int(n),
        AggState::Sum(v) => v.unwrap_or(Value::Null),
        AggState::Avg(None, _) => Value::Null,
        AggState::Avg(Some(sum), n) => {
            arith::arith(arith::ArithOp::Div, &sum, &Value::Int(n)).unwrap_or(Value::Null)
        }
        AggState::Min(v) | AggState::Max(v) => v.unwrap_or(Value::Null),
        AggState::Moments(n, _, m2) => {
            let AggFunc::Variance { sample, root } = a.func else {
                return Value::Null;
            };
            let div = if sample { n.saturating_sub(1) } else { n };
            if div == 0 {
                return Value::Null;
            }
            let var = (m2 / div as f64).max(0.0);
            Value::Double(if root { var.sqrt() } else { var })
        }
        AggState::Concat(mut items) => {
            if items.is_empty() {
                return Value::Null;
            }
            if !a.order.is_empty() {
                items.sort_by(|(x, _), (y, _)| {
                    for (i, (_, desc)) in a.order.iter().enumerate() {
                        let coll = a.order_colls.get(i).copied().flatten();
                        let o = sort_cmp_collated(&x[i], &y[i], coll);
                        let o = if *desc { o.reverse() } else { o };
                        if o != std::cmp::Ordering::Equal {
                            return o;
                        }
                    }
                    std::cmp::Ordering::Equal
                });
            }
            let take = a.limit.map_or(usize::MAX, |l| l as usize);
            let parts: Vec<String> = items.into_iter().take(take).map(|(_, t)| t).collect();
            let mut s = match a.func {
                AggFunc::JsonArrayAgg => format!("[{}]", parts.join(",")),
                AggFunc::JsonObjectAgg => format!("{{{}}}", parts.join(", ")),
                _ => parts.join(&a.separator),
            };
            // group_concat_max_len's default (MariaDB 10.11: 1 MiB); the
            // JSON aggregates share GROUP_CONCAT's limit there.
            if s.len() > GROUP_CONCAT_MAX_LEN {
                let mut cut = GROUP_CONCAT_MAX_LEN;
                while !s.is_char_boundary(cut) {
                    cut -= 1;
                }
                s.truncate(cut);
            }
            Value::Str(s)
        }
        AggState::Bits(b) => Value::UInt(b),
    }
}

/// `a RIGHT JOIN b ON c ...` as `b LEFT JOIN a ON c ...` (true when the
/// sides were swapped). Only a RIGHT JOIN right after the first table is
/// rewritten; a later one (its left side being a join) is not supported
/// yet.
fn right_join_as_left(
    twj: &ast::TableWithJoins,
) -> SqlResult<(std::borrow::Cow<'_, ast::TableWithJoins>, bool)> {
    let right = |op: &ast::JoinOperator| {
        matches!(
            op,
            ast::JoinOperator::Right(_) | ast::JoinOperator::RightOuter(_)
        )
    };
    if twj.joins.iter().skip(1).any(|j| right(&j.join_operator)) {
        return Err(SqlError::unsupported(
            "RIGHT JOIN after another join (write it as a LEFT JOIN)",
        ));
    }
    let Some(first) = twj.joins.first().filter(|j| right(&j.join_operator)) else {
        return Ok((std::borrow::Cow::Borrowed(twj), false));
    };
    let (ast::JoinOperator::Right(c) | ast::JoinOperator::RightOuter(c)) = &first.join_operator
    else {
        return Ok((std::borrow::Cow::Borrowed(twj), false));
    };
    let mut joins = vec![ast::Join {
        relation: twj.relation.clone(),
        global: first.global,
        join_operator: ast::JoinOperator::LeftOuter(c.clone()),
    }];
    joins.extend(twj.joins[1..].iter().cloned());
    Ok((
        std::borrow::Cow::Owned(ast::TableWithJoins {
            relation: first.relation.clone(),
            joins,
        }),
        true,
    ))
}
