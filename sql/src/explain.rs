//! EXPLAIN and ANALYZE: the plan trireme's planner chose, in MariaDB's
//! shapes (the ten-column table, `EXTENDED`'s `filtered`, `FORMAT=JSON`'s
//! `query_block` document, ANALYZE's `r_` measurements).
//!
//! Every value comes from the plan the executor would run: the FROM clause
//! is planned by `plan_from` and `choose_access` as in `select`, and the
//! access path decides the type (`ALL` for a scan, `const` / `eq_ref` for
//! unique-key points, `ref` for a non-unique key prefix, `range` for key
//! ranges and point lists). Row counts are counted, not guessed: a scan
//! reports the rows the transaction sees, a constant lookup the rows its
//! key range holds, and a lookup driven by an earlier table the rows per
//! distinct key prefix (InnoDB's `rec_per_key`). trireme has no covering
//! indexes and no index-ordered reads, so `index` never appears and any
//! ORDER BY is a sort (`Using filesort`).

use std::collections::HashSet;
use std::fmt::Write;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Instant;

use sqlparser::ast::{self, Statement, Visit, Visitor};
use trireme_storage::catalog::TableDef;
use trireme_storage::keycode;
use trireme_storage::types::{IntWidth, SqlType};
use trireme_storage::value::Value;
use trireme_storage::Table;

use crate::access::{self, Access, ReadStats};
use crate::bind::BindEnv;
use crate::correlated::OuterFrame;
use crate::error::{SqlError, SqlResult};
use crate::expr::{CmpOp, Expr};
use crate::select::{FromPlan, SourceData};
use crate::{Exec, OutCol, Output};

/// What the statement asked for.
#[derive(Clone, Copy, Debug, Default)]
pub struct ExplainOpts {
    pub json: bool,
    pub analyze: bool,
    /// EXPLAIN EXTENDED: the `filtered` column.
    pub extended: bool,
}

/// One row of the traditional output: a table read by a query block.
#[derive(Default)]
struct TableRow {
    table: Option<String>,
    access_type: Option<&'static str>,
    possible_keys: Vec<String>,
    key: Option<String>,
    key_len: Option<u32>,
    used_key_parts: Vec<String>,
    refs: Vec<String>,
    rows: Option<u64>,
    extra: Vec<&'static str>,
    /// ANALYZE: (loops, rows read, rows kept).
    measured: Option<(u64, u64, u64)>,
}

/// A SELECT (or a single-table UPDATE / DELETE / INSERT) of the statement.
struct Block {
    id: Option<u64>,
    select_type: String,
    tables: Vec<TableRow>,
    /// "No tables used" and the like, for a block without tables.
    message: Option<&'static str>,
    /// Subqueries and derived tables, explained after the block.
    children: Vec<Block>,
    /// A UNION: its member blocks (this block is the UNION RESULT).
    union: Vec<Block>,
    time_ms: Option<f64>,
}

impl Block {
    fn new(id: u64, select_type: &str) -> Block {
        Block {
            id: Some(id),
            select_type: select_type.to_string(),
            tables: Vec::new(),
            message: None,
            children: Vec::new(),
            union: Vec::new(),
            time_ms: None,
        }
    }
}

impl Exec<'_> {
    /// Runs `EXPLAIN [EXTENDED | FORMAT=JSON] stmt` or `ANALYZE [FORMAT=JSON] stmt`.
    pub fn explain(&mut self, stmt: &Statement, opts: ExplainOpts) -> SqlResult<Output> {
        let mut next_id = 1;
        let block = match stmt {
            Statement::Query(q) => self.explain_query(q, &mut next_id, "SIMPLE", opts.analyze)?,
            _ if opts.analyze => {
                return Err(SqlError::unsupported(
                    "ANALYZE of a statement other than SELECT",
                ))
            }
            Statement::Update(u) => {
                if !u.table.joins.is_empty() || u.from.is_some() {
                    return Err(SqlError::unsupported("EXPLAIN of a multi-table UPDATE"));
                }
                self.explain_write(std::slice::from_ref(&u.table), u.selection.as_ref())?
            }
            Statement::Delete(d) => {
                let from = match &d.from {
                    ast::FromTable::WithFromKeyword(f) | ast::FromTable::WithoutKeyword(f) => f,
                };
                if !d.tables.is_empty() || d.using.is_some() || from.len() != 1 {
                    return Err(SqlError::unsupported("EXPLAIN of a multi-table DELETE"));
                }
                self.explain_write(from, d.selection.as_ref())?
            }
            Statement::Insert(ins) => self.explain_insert(ins, &mut next_id)?,
            other => {
                let text = other.to_string();
                let head: String = text.chars().take(40).collect();
                return Err(SqlError::unsupported(format!("EXPLAIN of {head}")));
            }
        };
        if opts.json {
            let mut text = String::new();
            let doc = J::Obj(vec![(
                "query_block".into(),
                block_json(&block, opts.analyze),
            )]);
            doc.write(&mut text, 0);
            let name = if opts.analyze { "ANALYZE" } else { "EXPLAIN" };
            return Ok(Output::Rows {
                columns: vec![OutCol::expr(name, Some(SqlType::Varchar(65_535)), false)],
                rows: vec![vec![Value::Str(text)]],
            });
        }
        Ok(traditional(&block, opts))
    }

    /// A query expression: a SELECT, a UNION of them, a parenthesised query.
    fn explain_query(
        &mut self,
        q: &ast::Query,
        next_id: &mut u64,
        select_type: &str,
        analyze: bool,
    ) -> SqlResult<Block> {
        let mark = self.ctes.len();
        if let Some(with) = &q.with {
            self.begin_with(with)?;
        }
        let r = self.explain_body(&q.body, next_id, select_type, analyze);
        self.ctes.truncate(mark);
        let mut b = r?;
        // `ORDER BY NULL` (Django's way of saying "no order") sorts nothing.
        let sorts = match q.order_by.as_ref().map(|o| &o.kind) {
            Some(ast::OrderByKind::Expressions(items)) => items.iter().any(
                |i| !matches!(&i.expr, ast::Expr::Value(v) if matches!(v.value, ast::Value::Null)),
            ),
            Some(_) => true,
            None => false,
        };
        if sorts && b.union.is_empty() {
            if let Some(t) = b.tables.first_mut() {
                t.extra.push("Using filesort");
            }
        }
        Ok(b)
    }

    fn explain_body(
        &mut self,
        body: &ast::SetExpr,
        next_id: &mut u64,
        select_type: &str,
        analyze: bool,
    ) -> SqlResult<Block> {
        match body {
            ast::SetExpr::Select(s) => self.explain_select(s, next_id, select_type, analyze),
            ast::SetExpr::Query(q) => self.explain_query(q, next_id, select_type, analyze),
            ast::SetExpr::SetOperation { .. } => {
                let mut members = Vec::new();
                collect_set_members(body, &mut members);
                let mut blocks = Vec::new();
                for (i, m) in members.into_iter().enumerate() {
                    let st = match (i, select_type) {
                        (0, "SIMPLE") => "PRIMARY",
                        (0, other) => other,
                        _ => "UNION",
                    };
                    blocks.push(self.explain_body(m, next_id, st, analyze)?);
                }
                let ids: Vec<String> = blocks
                    .iter()
                    .filter_map(|b| b.id.map(|i| i.to_string()))
                    .collect();
                Ok(Block {
                    id: None,
                    select_type: "UNION RESULT".into(),
                    tables: vec![TableRow {
                        table: Some(format!("<union{}>", ids.join(","))),
                        access_type: Some("ALL"),
                        ..TableRow::default()
                    }],
                    message: None,
                    children: Vec::new(),
                    union: blocks,
                    time_ms: None,
                })
            }
            ast::SetExpr::Values(_) => {
                let mut b = Block::new(take_id(next_id), select_type);
                b.message = Some("No tables used");
                Ok(b)
            }
            other => Err(SqlError::unsupported(format!("EXPLAIN of {other}"))),
        }
    }

    fn explain_select(
        &mut self,
        s: &ast::Select,
        next_id: &mut u64,
        select_type: &str,
        analyze: bool,
    ) -> SqlResult<Block> {
        let started = Instant::now();
        let id = take_id(next_id);
        // Derived tables are numbered before the subqueries of the list.
        let mut derived = Vec::new();
        for twj in &s.from {
            collect_derived(&twj.relation, &mut derived);
            for j in &twj.joins {
                collect_derived(&j.relation, &mut derived);
            }
        }
        let select_type = if select_type == "SIMPLE" && (has_subquery(s) || !derived.is_empty()) {
            "PRIMARY"
        } else {
            select_type
        };
        let mut block = Block::new(id, select_type);
        let mut derived_ids = Vec::new();
        for q in &derived {
            let b = self.explain_query(q, next_id, "DERIVED", false)?;
            derived_ids.push(b.id);
            block.children.push(b);
        }
        let mut plan = self.plan_from(&s.from)?;
        let scope = plan.scope.clone();
        let (correlated, filters): (Vec<Expr>, Vec<Expr>) = match &s.selection {
            Some(w) => self
                .bind(w, &mut BindEnv::new(&scope, "where clause"))?
                .conjuncts(),
            None => Vec::new(),
        }
        .into_iter()
        .partition(Expr::has_correlated);
        plan.choose_access(&filters, self.session_zone().is_some());
        let mut derived_ids = derived_ids.into_iter();
        block.tables = self.describe_sources(&plan, &filters, &s.from, &mut derived_ids)?;
        if let Some(t) = block.tables.first_mut() {
            if !correlated.is_empty() && !t.extra.contains(&"Using where") {
                t.extra.insert(0, "Using where");
            }
            let grouped =
                !matches!(&s.group_by, ast::GroupByExpr::Expressions(g, _) if g.is_empty());
            if grouped || matches!(s.distinct, Some(ast::Distinct::Distinct)) {
                t.extra.push("Using temporary");
            }
        } else {
            block.message = Some("No tables used");
        }
        if analyze && !self.describe {
            let measured = self.measure_join(&plan, &filters)?;
            for (t, m) in block.tables.iter_mut().zip(measured) {
                t.measured = Some(m);
            }
        }
        // Subqueries of the select list, WHERE and HAVING, each planned
        // with this block's columns visible: one that reads them is
        // DEPENDENT (run again per row).
        for q in direct_subqueries(s) {
            let saved = std::mem::replace(&mut self.saw_outer_ref, false);
            self.outer.push(OuterFrame {
                scope: scope.clone(),
                row: None,
            });
            let r = self.explain_query(&q, next_id, "SUBQUERY", false);
            self.outer.pop();
            let dependent = std::mem::replace(&mut self.saw_outer_ref, saved);
            let mut b = r?;
            if dependent {
                b.select_type = format!("DEPENDENT {}", b.select_type);
            }
            block.children.push(b);
        }
        block.time_ms = Some(started.elapsed().as_secs_f64() * 1000.0);
        Ok(block)
    }

    /// EXPLAIN UPDATE / DELETE of one table: the rows the WHERE reads.
    fn explain_write(
        &mut self,
        from: &[ast::TableWithJoins],
        selection: Option<&ast::Expr>,
    ) -> SqlResult<Block> {
        let mut plan = self.plan_from(from)?;
        if plan
            .sources
            .iter()
            .any(|s| !matches!(s.data, SourceData::Stored(_)))
        {
            return Err(SqlError::unsupported("EXPLAIN of a write to a view"));
        }
        let scope = plan.scope.clone();
        let filters = match selection {
            Some(w) => self
                .bind(w, &mut BindEnv::new(&scope, "where clause"))?
                .conjuncts(),
            None => Vec::new(),
        };
        let plain: Vec<Expr> = filters
            .iter()
            .filter(|f| !f.has_correlated())
            .cloned()
            .collect();
        plan.choose_access(&plain, self.session_zone().is_some());
        let mut block = Block::new(1, "SIMPLE");
        block.tables = self.describe_sources(&plan, &filters, from, &mut std::iter::empty())?;
        Ok(block)
    }

    /// EXPLAIN INSERT: the table written (MariaDB shows it as type ALL),
    /// then the plan of an INSERT ... SELECT's query.
    fn explain_insert(&mut self, ins: &ast::Insert, next_id: &mut u64) -> SqlResult<Block> {
        let name = match &ins.table {
            ast::TableObject::TableName(n) => n,
            other => {
                return Err(SqlError::unsupported(format!(
                    "EXPLAIN INSERT INTO {other}"
                )))
            }
        };
        let (db, t) = self.qualify(name)?;
        if self.catalog.table(&db, &t).is_none() {
            return Err(SqlError::no_such_table(&db, &t));
        }
        let mut block = Block::new(take_id(next_id), "INSERT");
        block.tables.push(TableRow {
            table: Some(t),
            access_type: Some("ALL"),
            ..TableRow::default()
        });
        if let Some(src) = &ins.source {
            if !matches!(src.body.as_ref(), ast::SetExpr::Values(_)) {
                *next_id = 1;
                block
                    .children
                    .push(self.explain_query(src, next_id, "SIMPLE", false)?);
            }
        }
        Ok(block)
    }

    /// One row per FROM source, from its chosen access path.
    fn describe_sources(
        &mut self,
        plan: &FromPlan,
        filters: &[Expr],
        from: &[ast::TableWithJoins],
        derived_ids: &mut dyn Iterator<Item = Option<u64>>,
    ) -> SqlResult<Vec<TableRow>> {
        let mut factors = Vec::new();
        for twj in from {
            flatten_factors(&twj.relation, &mut factors);
            for j in &twj.joins {
                flatten_factors(&j.relation, &mut factors);
            }
        }
        let n = plan.sources.len();
        let mut out = Vec::with_capacity(n);
        for (level, src) in plan.sources.iter().enumerate() {
            // Conjuncts checked at this level, as `run_join` places them.
            let mut here: Vec<&Expr> = src.on.iter().collect();
            for f in filters {
                let lvl = match f.max_column() {
                    None => 0,
                    Some(c) => plan
                        .sources
                        .iter()
                        .position(|s| c < s.offset + s.width)
                        .unwrap_or(n.saturating_sub(1)),
                };
                if lvl == level {
                    here.push(f);
                }
            }
            let qualifier = plan
                .scope
                .cols
                .get(src.offset)
                .map(|c| c.source.clone())
                .unwrap_or_default();
            let mut row = TableRow {
                table: Some(qualifier),
                ..TableRow::default()
            };
            match &src.data {
                SourceData::Rows(rows) => {
                    if matches!(factors.get(level), Some(ast::TableFactor::Derived { .. })) {
                        if let Some(Some(id)) = derived_ids.next() {
                            row.table = Some(format!("<derived{id}>"));
                        }
                    }
                    row.access_type = Some("ALL");
                    row.rows = Some(rows.len() as u64);
                    if !here.is_empty() {
                        row.extra.push("Using where");
                    }
                }
                SourceData::Stored(t) => {
                    self.describe_stored(&mut row, t, plan, level, &here)?;
                }
            }
            out.push(row);
        }
        Ok(out)
    }

    fn describe_stored(
        &mut self,
        row: &mut TableRow,
        t: &Arc<Table>,
        plan: &FromPlan,
        level: usize,
        here: &[&Expr],
    ) -> SqlResult<()> {
        let src = &plan.sources[level];
        let def = &t.def;
        // Inside a subquery being explained, a name of the enclosing query
        // binds as a NULL placeholder (`correlated`): a key compared with it
        // varies per outer row, like one compared with an earlier table.
        let in_subquery = !self.outer.is_empty();
        let varies = |e: &Expr| {
            e.max_column().is_some() || (in_subquery && matches!(e, Expr::Lit(Value::Null)))
        };
        let mut stats = ReadStats::default();
        let total = access::fetch(t, self.txn, &Access::Full, &[], &mut stats)?.len() as u64;
        row.possible_keys = access::candidate_keys(def, here, src.offset)
            .into_iter()
            .map(|k| key_name(def, k))
            .collect();
        let (key, parts, exprs): (Option<usize>, usize, Vec<&Expr>) = match &src.access {
            Access::Full => {
                row.access_type = Some("ALL");
                row.rows = Some(total);
                if !here.is_empty() {
                    row.extra.push("Using where");
                }
                return Ok(());
            }
            Access::PkPoints(pts) | Access::IndexPoints(_, pts) => {
                let key = match &src.access {
                    Access::IndexPoints(i, _) => Some(*i),
                    _ => None,
                };
                let unique = key.is_none_or(|i| def.indexes[i].unique);
                let cols = key_columns(def, key).len();
                let dependent = pts.iter().flatten().any(varies);
                row.access_type = Some(match (pts.len(), unique, dependent) {
                    (1, true, false) => "const",
                    (1, true, true) => "eq_ref",
                    (1, false, _) => "ref",
                    _ => "range",
                });
                let first: Vec<&Expr> = pts.first().map(|p| p.iter().collect()).unwrap_or_default();
                (key, cols, first)
            }
            Access::PkRange(r) | Access::IndexRange(_, r) => {
                let key = match &src.access {
                    Access::IndexRange(i, _) => Some(*i),
                    _ => None,
                };
                let bounded = r.lo.is_some() || r.hi.is_some();
                row.access_type = Some(if bounded { "range" } else { "ref" });
                let n = r.eq.len() + usize::from(bounded);
                (key, n, r.eq.iter().collect())
            }
        };
        let cols = key_columns(def, key);
        let used = &cols[..parts.min(cols.len())];
        row.key = Some(key_name(def, key));
        row.key_len = Some(used.iter().map(|&c| column_key_len(def, c)).sum());
        row.used_key_parts = used.iter().map(|&c| def.columns[c].name.clone()).collect();
        let dependent = exprs.iter().any(|e| varies(e));
        if row.access_type != Some("range") {
            row.refs = exprs
                .iter()
                .map(|e| {
                    if varies(e) && e.max_column().is_none() {
                        "func".to_string()
                    } else {
                        ref_text(e, plan)
                    }
                })
                .collect();
        }
        row.rows = Some(if !dependent {
            // A constant key: the rows it selects, counted.
            access::fetch(t, self.txn, &src.access, &[], &mut stats)?.len() as u64
        } else if matches!(row.access_type, Some("eq_ref")) {
            1
        } else {
            rows_per_key(t, self.txn, &cols[..exprs.len().min(cols.len())], total)?
        });
        // Conditions the key lookup does not answer by itself are checked
        // row by row; a range is always re-checked.
        let answered = |e: &Expr| {
            match e {
            Expr::Cmp(CmpOp::Eq, a, b, _) => [a, b].iter().any(|x| {
                matches!(x.as_ref(), Expr::Col(c) if *c >= src.offset && used.contains(&(*c - src.offset)))
            }),
            Expr::InList(x, _, false, _) => {
                matches!(x.as_ref(), Expr::Col(c) if *c >= src.offset && used.contains(&(*c - src.offset)))
            }
            _ => false,
        }
        };
        if row.access_type == Some("range") && !here.is_empty() || here.iter().any(|e| !answered(e))
        {
            row.extra.push("Using where");
        }
        Ok(())
    }

    /// ANALYZE: runs the join and counts, per source, the loops, the rows
    /// its access path read and the rows that passed its conditions.
    fn measure_join(
        &mut self,
        plan: &FromPlan,
        filters: &[Expr],
    ) -> SqlResult<Vec<(u64, u64, u64)>> {
        crate::select::start_join_stats(plan.sources.len());
        let r = self.run_join(plan, filters, None, None);
        let stats = crate::select::take_join_stats();
        r?;
        Ok(stats)
    }
}

fn take_id(next: &mut u64) -> u64 {
    let id = *next;
    *next += 1;
    id
}

/// The SELECTs of a chain of set operations, left to right.
fn collect_set_members<'a>(body: &'a ast::SetExpr, out: &mut Vec<&'a ast::SetExpr>) {
    match body {
        ast::SetExpr::SetOperation { left, right, .. } => {
            collect_set_members(left, out);
            collect_set_members(right, out);
        }
        other => out.push(other),
    }
}

fn flatten_factors<'a>(f: &'a ast::TableFactor, out: &mut Vec<&'a ast::TableFactor>) {
    match f {
        ast::TableFactor::NestedJoin {
            table_with_joins, ..
        } => {
            flatten_factors(&table_with_joins.relation, out);
            for j in &table_with_joins.joins {
                flatten_factors(&j.relation, out);
            }
        }
        other => out.push(other),
    }
}

fn collect_derived(f: &ast::TableFactor, out: &mut Vec<ast::Query>) {
    let mut fs = Vec::new();
    flatten_factors(f, &mut fs);
    for f in fs {
        if let ast::TableFactor::Derived { subquery, .. } = f {
            out.push((**subquery).clone());
        }
    }
}

/// Finds the subqueries directly inside some expressions (not those
/// nested in another subquery: they belong to that one's block).
#[derive(Default)]
struct SubqueryFinder {
    depth: usize,
    found: Vec<ast::Query>,
}

impl Visitor for SubqueryFinder {
    type Break = ();

    fn pre_visit_query(&mut self, q: &ast::Query) -> ControlFlow<()> {
        if self.depth == 0 {
            self.found.push(q.clone());
        }
        self.depth += 1;
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, _: &ast::Query) -> ControlFlow<()> {
        self.depth -= 1;
        ControlFlow::Continue(())
    }
}

fn direct_subqueries(s: &ast::Select) -> Vec<ast::Query> {
    let mut f = SubqueryFinder::default();
    for item in &s.projection {
        let _ = item.visit(&mut f);
    }
    if let Some(w) = &s.selection {
        let _ = w.visit(&mut f);
    }
    if let Some(h) = &s.having {
        let _ = h.visit(&mut f);
    }
    f.found
}

fn has_subquery(s: &ast::Select) -> bool {
    !direct_subqueries(s).is_empty()
}

fn key_columns(def: &TableDef, key: Option<usize>) -> Vec<usize> {
    match key {
        Some(i) => def
            .indexes
            .get(i)
            .map(|x| x.columns.clone())
            .unwrap_or_default(),
        None => def.primary.clone().unwrap_or_default(),
    }
}

fn key_name(def: &TableDef, key: Option<usize>) -> String {
    match key {
        Some(i) => def
            .indexes
            .get(i)
            .map(|x| x.name.clone())
            .unwrap_or_default(),
        None => "PRIMARY".into(),
    }
}

/// The bytes a key part takes, as MariaDB counts `key_len`: the stored
/// width (four bytes per utf8mb4 character), two more for a length prefix,
/// one more when NULL is allowed.
fn column_key_len(def: &TableDef, col: usize) -> u32 {
    let c = &def.columns[col];
    let fsp = |p: u8| u32::from(p).div_ceil(2);
    let chars = |n: u32| {
        if c.ty.is_binary() {
            n
        } else {
            n.saturating_mul(4)
        }
    };
    let base = match &c.ty {
        SqlType::Int { width, .. } => match width {
            IntWidth::Tiny => 1,
            IntWidth::Small => 2,
            IntWidth::Medium => 3,
            IntWidth::Int => 4,
            IntWidth::Big => 8,
        },
        SqlType::Bool => 1,
        SqlType::Decimal { precision, scale } => {
            // Nine digits per four bytes, the rest packed.
            let part =
                |d: u8| u32::from(d / 9) * 4 + [0, 1, 1, 2, 2, 3, 3, 4, 4][usize::from(d % 9)];
            part(precision.saturating_sub(*scale)) + part(*scale)
        }
        SqlType::Float => 4,
        SqlType::Double => 8,
        SqlType::Char(n) => chars(*n),
        SqlType::Binary(n) => *n,
        SqlType::Varchar(n) => chars(*n) + 2,
        SqlType::Varbinary(n) => n + 2,
        SqlType::Text(_) | SqlType::Blob(_) => 2,
        SqlType::Date => 3,
        SqlType::DateTime(p) => 5 + fsp(*p),
        SqlType::Timestamp(p) => 4 + fsp(*p),
        SqlType::Time(p) => 3 + fsp(*p),
        SqlType::Enum(vs) => {
            if vs.len() > 255 {
                2
            } else {
                1
            }
        }
        SqlType::Uuid => 16,
        SqlType::Year => 1,
        SqlType::Bit(m) => u32::from(*m).div_ceil(8),
        SqlType::Set(vs) => (vs.len() as u32).div_ceil(8).max(1),
        #[allow(unreachable_patterns)]
        _ => 8,
    };
    base + u32::from(c.nullable)
}

/// What a key part is compared with, as the `ref` column names it.
fn ref_text(e: &Expr, plan: &FromPlan) -> String {
    match e {
        Expr::Col(c) => plan.scope.cols.get(*c).map_or_else(
            || "func".to_string(),
            |sc| {
                let col = if sc.meta.org_name.is_empty() {
                    &sc.meta.name
                } else {
                    &sc.meta.org_name
                };
                if sc.meta.db.is_empty() {
                    format!("{}.{col}", sc.source)
                } else {
                    format!("{}.{}.{col}", sc.meta.db, sc.source)
                }
            },
        ),
        e if e.max_column().is_none() => "const".into(),
        _ => "func".into(),
    }
}

/// Rows per distinct value of a key prefix (InnoDB's `rec_per_key`),
/// counted over the rows the transaction sees.
fn rows_per_key(
    t: &Table,
    txn: &trireme_storage::txn::Txn,
    cols: &[usize],
    total: u64,
) -> SqlResult<u64> {
    let mut stats = ReadStats::default();
    let mut distinct = HashSet::new();
    for (_, r) in access::fetch(t, txn, &Access::Full, &[], &mut stats)? {
        let mut k = Vec::new();
        for &c in cols {
            keycode::encode_collated(&mut k, &r[c], t.def.columns[c].collation);
        }
        distinct.insert(k);
    }
    Ok(total.div_ceil(distinct.len().max(1) as u64).max(1))
}

/// The ten (EXTENDED: eleven, ANALYZE: thirteen) columns, one row per
/// table of each block, blocks in id order.
fn traditional(block: &Block, opts: ExplainOpts) -> Output {
    let text = |n: &str| OutCol::expr(n, Some(SqlType::Varchar(255)), true);
    let id = OutCol::expr(
        "id",
        Some(SqlType::Int {
            width: IntWidth::Big,
            unsigned: true,
        }),
        true,
    );
    let mut columns = vec![
        id,
        text("select_type"),
        text("table"),
        text("type"),
        text("possible_keys"),
        text("key"),
        text("key_len"),
        text("ref"),
        text("rows"),
    ];
    let double = |n: &str| {
        let mut c = OutCol::expr(n, Some(SqlType::Double), true);
        c.nullable = true;
        c
    };
    if opts.analyze {
        columns.push(text("r_rows"));
        columns.push(double("filtered"));
        columns.push(double("r_filtered"));
    } else if opts.extended {
        columns.push(double("filtered"));
    }
    columns.push(text("Extra"));
    let mut rows = Vec::new();
    emit_rows(block, opts, &mut rows);
    Output::Rows { columns, rows }
}

fn emit_rows(b: &Block, opts: ExplainOpts, out: &mut Vec<Vec<Value>>) {
    for m in &b.union {
        emit_rows(m, opts, out);
    }
    let s = |v: &Option<String>| v.clone().map_or(Value::Null, Value::Str);
    let list = |v: &[String]| {
        if v.is_empty() {
            Value::Null
        } else {
            Value::Str(v.join(","))
        }
    };
    let id = b.id.map_or(Value::Null, Value::UInt);
    if b.tables.is_empty() {
        let mut r = vec![id.clone(), Value::Str(b.select_type.clone())];
        r.extend(std::iter::repeat_n(Value::Null, 7));
        if opts.analyze {
            r.extend([Value::Null, Value::Null, Value::Null]);
        } else if opts.extended {
            r.push(Value::Null);
        }
        r.push(Value::Str(b.message.unwrap_or("").to_string()));
        out.push(r);
    }
    for t in &b.tables {
        let union_result = !b.union.is_empty();
        let mut r = vec![
            id.clone(),
            Value::Str(b.select_type.clone()),
            s(&t.table),
            t.access_type.map_or(Value::Null, |a| Value::Str(a.into())),
            list(&t.possible_keys),
            s(&t.key),
            t.key_len.map_or(Value::Null, |l| Value::Str(l.to_string())),
            list(&t.refs),
            t.rows.map_or(Value::Null, |n| Value::Str(n.to_string())),
        ];
        // trireme estimates no selectivity: every row read is offered to
        // the conditions. (Text, so it shows with MariaDB's two decimals.)
        let filtered = if union_result {
            Value::Null
        } else {
            Value::Str("100.00".into())
        };
        if opts.analyze {
            match t.measured {
                Some((loops, read, kept)) => {
                    let per_loop = if loops == 0 {
                        0.0
                    } else {
                        read as f64 / loops as f64
                    };
                    r.push(Value::Str(format!("{per_loop:.2}")));
                    r.push(filtered);
                    let pct = if read == 0 {
                        0.0
                    } else {
                        kept as f64 * 100.0 / read as f64
                    };
                    r.push(Value::Str(format!("{pct:.2}")));
                }
                None => {
                    r.extend([Value::Null, filtered, Value::Null]);
                }
            }
        } else if opts.extended {
            r.push(filtered);
        }
        // MariaDB leaves Extra NULL for the table an INSERT writes.
        r.push(if b.select_type == "INSERT" {
            Value::Null
        } else {
            Value::Str(t.extra.join("; "))
        });
        out.push(r);
    }
    for c in &b.children {
        emit_rows(c, opts, out);
    }
}

/// A JSON value whose objects keep their keys in insertion order (the
/// order MariaDB prints them in).
enum J {
    Obj(Vec<(String, J)>),
    Arr(Vec<J>),
    Str(String),
    Num(String),
}

impl J {
    fn write(&self, out: &mut String, indent: usize) {
        let pad = |out: &mut String, n: usize| out.push_str(&"  ".repeat(n));
        match self {
            J::Obj(fields) => {
                out.push_str("{\n");
                for (i, (k, v)) in fields.iter().enumerate() {
                    pad(out, indent + 1);
                    let _ = write!(out, "{}: ", serde_json::Value::String(k.clone()));
                    v.write(out, indent + 1);
                    if i + 1 < fields.len() {
                        out.push(',');
                    }
                    out.push('\n');
                }
                pad(out, indent);
                out.push('}');
            }
            // Lists of names stay on one line, as MariaDB prints them.
            J::Arr(items) if items.iter().all(|i| matches!(i, J::Str(_))) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    v.write(out, indent);
                }
                out.push(']');
            }
            J::Arr(items) => {
                out.push_str("[\n");
                for (i, v) in items.iter().enumerate() {
                    pad(out, indent + 1);
                    v.write(out, indent + 1);
                    if i + 1 < items.len() {
                        out.push(',');
                    }
                    out.push('\n');
                }
                pad(out, indent);
                out.push(']');
            }
            J::Str(s) => {
                let _ = write!(out, "{}", serde_json::Value::String(s.clone()));
            }
            J::Num(n) => out.push_str(n),
        }
    }
}

fn num(n: impl ToString) -> J {
    J::Num(n.to_string())
}

/// Milliseconds as MariaDB prints them (no exponent).
fn ms(v: f64) -> J {
    J::Num(format!("{v:.9}"))
}

fn block_json(b: &Block, analyze: bool) -> J {
    if !b.union.is_empty() {
        let specs = b
            .union
            .iter()
            .map(|m| J::Obj(vec![("query_block".into(), block_json(m, analyze))]))
            .collect();
        let name = b
            .tables
            .first()
            .and_then(|t| t.table.clone())
            .unwrap_or_default();
        return J::Obj(vec![(
            "union_result".into(),
            J::Obj(vec![
                ("table_name".into(), J::Str(name)),
                ("access_type".into(), J::Str("ALL".into())),
                ("query_specifications".into(), J::Arr(specs)),
            ]),
        )]);
    }
    let mut f: Vec<(String, J)> = Vec::new();
    f.push(("select_id".into(), num(b.id.unwrap_or(0))));
    if b.select_type == "UNION" {
        f.push(("operation".into(), J::Str("UNION".into())));
    }
    if analyze {
        f.push(("r_loops".into(), num(1)));
        if let Some(t) = b.time_ms {
            f.push(("r_total_time_ms".into(), ms(t)));
        }
    }
    if b.tables.is_empty() {
        f.push((
            "table".into(),
            J::Obj(vec![(
                "message".into(),
                J::Str(b.message.unwrap_or("No tables used").into()),
            )]),
        ));
    } else {
        let loop_items = b
            .tables
            .iter()
            .map(|t| J::Obj(vec![("table".into(), table_json(t, analyze))]))
            .collect();
        f.push(("nested_loop".into(), J::Arr(loop_items)));
    }
    if !b.children.is_empty() {
        let subs = b
            .children
            .iter()
            .map(|c| J::Obj(vec![("query_block".into(), block_json(c, analyze))]))
            .collect();
        f.push(("subqueries".into(), J::Arr(subs)));
    }
    J::Obj(f)
}

fn table_json(t: &TableRow, analyze: bool) -> J {
    let mut f: Vec<(String, J)> = Vec::new();
    let strs = |v: &[String]| J::Arr(v.iter().map(|s| J::Str(s.clone())).collect());
    f.push((
        "table_name".into(),
        J::Str(t.table.clone().unwrap_or_default()),
    ));
    f.push((
        "access_type".into(),
        J::Str(t.access_type.unwrap_or("ALL").into()),
    ));
    if !t.possible_keys.is_empty() {
        f.push(("possible_keys".into(), strs(&t.possible_keys)));
    }
    if let Some(k) = &t.key {
        f.push(("key".into(), J::Str(k.clone())));
    }
    if let Some(l) = t.key_len {
        f.push(("key_length".into(), J::Str(l.to_string())));
    }
    if !t.used_key_parts.is_empty() {
        f.push(("used_key_parts".into(), strs(&t.used_key_parts)));
    }
    if !t.refs.is_empty() {
        f.push(("ref".into(), strs(&t.refs)));
    }
    if analyze {
        if let Some((loops, _, _)) = t.measured {
            f.push(("r_loops".into(), num(loops)));
        }
    }
    if let Some(r) = t.rows {
        f.push(("rows".into(), num(r)));
    }
    if analyze {
        if let Some((loops, read, _)) = t.measured {
            let per_loop = if loops == 0 {
                0.0
            } else {
                read as f64 / loops as f64
            };
            f.push(("r_rows".into(), J::Num(format!("{per_loop}"))));
        }
    }
    f.push(("filtered".into(), num(100)));
    if analyze {
        if let Some((_, read, kept)) = t.measured {
            let pct = if read == 0 {
                0.0
            } else {
                kept as f64 * 100.0 / read as f64
            };
            f.push(("r_filtered".into(), J::Num(format!("{pct}"))));
        }
    }
    J::Obj(f)
}

/// MariaDB's spellings of EXPLAIN that sqlparser lacks, rewritten to the
/// one it parses: `EXPLAIN EXTENDED` to `EXPLAIN VERBOSE` (which
/// `ExplainOpts::extended` reads back), `EXPLAIN PARTITIONS` and
/// `FORMAT=TRADITIONAL` (the default form) dropped, and MariaDB's
/// statement-level `ANALYZE [FORMAT=JSON] stmt` to `EXPLAIN ANALYZE ...`
/// (`ANALYZE TABLE` is left alone).
pub fn rewrite_prefix(sql: &str) -> std::borrow::Cow<'_, str> {
    let b = sql.as_bytes();
    let skip_ws = |mut i: usize| {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        i
    };
    let word_at = |i: usize| {
        let mut j = i;
        while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
            j += 1;
        }
        (&sql[i..j], j)
    };
    let start = skip_ws(0);
    let (first, after_first) = word_at(start);
    let analyze = first.eq_ignore_ascii_case("ANALYZE");
    if !analyze && !first.eq_ignore_ascii_case("EXPLAIN") {
        return std::borrow::Cow::Borrowed(sql);
    }
    let at = skip_ws(after_first);
    let (second, after_second) = word_at(at);
    // `FORMAT = name`: the name and where it ends.
    let format = || {
        let i = skip_ws(after_second);
        if b.get(i) != Some(&b'=') {
            return None;
        }
        let j = skip_ws(i + 1);
        let (name, end) = word_at(j);
        Some((name, end))
    };
    let head = &sql[..start];
    if analyze {
        let statement_follows = second.eq_ignore_ascii_case("FORMAT")
            || ["SELECT", "WITH", "UPDATE", "DELETE", "INSERT", "REPLACE"]
                .iter()
                .any(|w| second.eq_ignore_ascii_case(w))
            || (second.is_empty() && b.get(at) == Some(&b'('));
        if !statement_follows {
            return std::borrow::Cow::Borrowed(sql);
        }
        return std::borrow::Cow::Owned(format!("{head}EXPLAIN ANALYZE {}", &sql[at..]));
    }
    if second.eq_ignore_ascii_case("EXTENDED") {
        return std::borrow::Cow::Owned(format!("{head}EXPLAIN VERBOSE{}", &sql[after_second..]));
    }
    if second.eq_ignore_ascii_case("PARTITIONS") {
        return std::borrow::Cow::Owned(format!("{head}EXPLAIN{}", &sql[after_second..]));
    }
    if second.eq_ignore_ascii_case("FORMAT") {
        if let Some((name, end)) = format() {
            if name.eq_ignore_ascii_case("TRADITIONAL") {
                return std::borrow::Cow::Owned(format!("{head}EXPLAIN{}", &sql[end..]));
            }
        }
    }
    std::borrow::Cow::Borrowed(sql)
}

/// Reads the options of a parsed EXPLAIN; Err for formats MariaDB lacks.
pub fn options(
    analyze: bool,
    verbose: bool,
    format: Option<&ast::AnalyzeFormatKind>,
) -> SqlResult<ExplainOpts> {
    let json = match format {
        None => false,
        Some(ast::AnalyzeFormatKind::Assignment(f) | ast::AnalyzeFormatKind::Keyword(f)) => match f
        {
            ast::AnalyzeFormat::JSON => true,
            ast::AnalyzeFormat::TRADITIONAL => false,
            other => {
                return Err(SqlError::new(
                    1791,
                    "HY000",
                    format!("Unknown EXPLAIN/ANALYZE format name: '{other}'"),
                ))
            }
        },
    };
    Ok(ExplainOpts {
        json,
        analyze,
        extended: verbose,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mariadb_explain_spellings_parse() {
        assert_eq!(
            rewrite_prefix("explain extended select 1"),
            "EXPLAIN VERBOSE select 1"
        );
        assert_eq!(
            rewrite_prefix("EXPLAIN FORMAT = traditional SELECT 1"),
            "EXPLAIN SELECT 1"
        );
        assert_eq!(
            rewrite_prefix("ANALYZE FORMAT=JSON SELECT 1"),
            "EXPLAIN ANALYZE FORMAT=JSON SELECT 1"
        );
        assert_eq!(rewrite_prefix("ANALYZE TABLE t"), "ANALYZE TABLE t");
        for sql in [
            "EXPLAIN SELECT 1",
            "EXPLAIN EXTENDED SELECT 1",
            "EXPLAIN FORMAT=JSON SELECT 1",
            "EXPLAIN FORMAT=TRADITIONAL SELECT 1",
            "ANALYZE SELECT 1",
            "ANALYZE FORMAT=JSON SELECT 1",
            "EXPLAIN (SELECT 1) UNION (SELECT 2)",
            "EXPLAIN UPDATE t SET a = 1 WHERE b = 2",
        ] {
            assert!(
                matches!(
                    crate::parse(sql).as_deref(),
                    Ok([Statement::Explain { .. }])
                ),
                "{sql}"
            );
        }
    }
}
