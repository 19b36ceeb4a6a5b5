//! INSERT, REPLACE, UPDATE and DELETE.
//!
//! Writes go to the transaction's buffer (see `txn`). Every write checks, as
//! this transaction sees the data, the primary key and unique indexes, and
//! fails early with ER_LOCK_DEADLOCK when the row already has a version newer
//! than the snapshot (certification would reject the write-set anyway).
//! Unique values also become certification keys, so two nodes inserting the
//! same unique value concurrently cannot both commit.

use std::sync::Arc;

use sqlparser::ast;

use crate::access;
use crate::arith;
use crate::bind::{BindEnv, Scope, ScopeCol};
use crate::coerce::Coerce;
use crate::error::{codes, SqlError, SqlResult};
use crate::expr::Expr;
use crate::generated;
use crate::{Exec, OutCol, Output};
use trireme_storage::catalog::{DefaultValue, TableDef};
use trireme_storage::keycode::rows_equal;
use trireme_storage::types::SqlType;
use trireme_storage::value::{sort_cmp_collated, Value};
use trireme_storage::{Row, Table};

/// What to do when an inserted row collides with an existing one.
#[derive(Clone, Copy, PartialEq, Eq)]
enum OnDup {
    Error,
    Ignore,
    Replace,
    Update,
}

impl Exec<'_> {
    pub fn table_for_write(&self, name: &ast::ObjectName) -> SqlResult<Arc<Table>> {
        let (db, t) = self.qualify(name)?;
        if db.eq_ignore_ascii_case("information_schema") {
            return Err(SqlError::access_denied_db(&self.sess.user, &db));
        }
        let table = self.catalog.table(&db, &t).cloned().ok_or_else(|| {
            if self.catalog.view(&db, &t).is_some() {
                // Say what is missing rather than that the view is.
                SqlError::unsupported("INSERT, UPDATE or DELETE through a view")
            } else if self.catalog.databases.contains_key(&db) {
                SqlError::no_such_table(&db, &t)
            } else {
                SqlError::unknown_db(&db)
            }
        })?;
        if crate::sequence::is_sequence(&table.def) {
            return Err(SqlError::new(
                1031,
                "HY000",
                format!(
                    "Storage engine SEQUENCE of the table `{db}`.`{t}` doesn't have this option"
                ),
            ));
        }
        self.txn.check_table_version(&table)?;
        // START TRANSACTION READ ONLY, or SET SESSION TRANSACTION READ ONLY
        // for statements outside an explicit transaction.
        if self.txn.read_only
            || (!self.txn.explicit && self.sess.vars.get_bool("transaction_read_only"))
        {
            return Err(SqlError::read_only_trx());
        }
        Ok(table)
    }

    fn table_scope(table: &Table) -> Scope {
        table_scope(table)
    }

    pub fn insert(&mut self, ins: &ast::Insert) -> SqlResult<Output> {
        crate::expr::take_set_last_insert_id();
        let ast::TableObject::TableName(name) = &ins.table else {
            return Err(SqlError::unsupported("INSERT into a table function"));
        };
        if let Some(v) = self.write_target_view(name)? {
            return self.insert_through_view(ins, &v);
        }
        let table = self.table_for_write(name)?;
        let def = &table.def;
        let ncols = def.columns.len();

        // Target columns.
        let mut targets: Vec<usize> = Vec::new();
        let names: Vec<String> = if !ins.assignments.is_empty() {
            ins.assignments
                .iter()
                .map(|a| assignment_column(&a.target))
                .collect::<SqlResult<_>>()?
        } else {
            ins.columns
                .iter()
                .map(|c| crate::object_name_parts(c).map(|p| p.last().cloned().unwrap_or_default()))
                .collect::<SqlResult<_>>()?
        };
        if names.is_empty() {
            targets = (0..ncols).collect();
        } else {
            for n in &names {
                let i = def
                    .column_index(n)
                    .ok_or_else(|| SqlError::bad_field(n, "field list"))?;
                if targets.contains(&i) {
                    return Err(SqlError::new(
                        1110,
                        "42000",
                        format!("Column '{n}' specified twice"),
                    ));
                }
                targets.push(i);
            }
        }

        // Source rows: None marks DEFAULT.
        let empty = Scope::default();
        let mut source: Vec<Vec<Option<Value>>> = Vec::new();
        if !ins.assignments.is_empty() {
            let mut r = Vec::new();
            for (a, t) in ins.assignments.iter().zip(&targets) {
                r.push(self.insert_value(&a.value, &empty, def.columns[*t].ty.is_numeric())?);
            }
            source.push(r);
        } else if let Some(q) = &ins.source {
            match q.body.as_ref() {
                ast::SetExpr::Values(v) if q.order_by.is_none() => {
                    for row in &v.rows {
                        let mut r = Vec::with_capacity(row.content.len());
                        for (j, e) in row.content.iter().enumerate() {
                            let numeric = targets
                                .get(j)
                                .is_some_and(|t| def.columns[*t].ty.is_numeric());
                            r.push(self.insert_value(e, &empty, numeric)?);
                        }
                        source.push(r);
                    }
                }
                _ => {
                    let (_, rows) = self.query(q)?;
                    if arith::take_divided_by_zero() {
                        return Err(SqlError::division_by_zero());
                    }
                    source.extend(rows.into_iter().map(|r| r.into_iter().map(Some).collect()));
                }
            }
        } else {
            return Err(SqlError::syntax("INSERT without values"));
        }

        let on_dup = if ins.replace_into {
            OnDup::Replace
        } else if matches!(ins.on, Some(ast::OnInsert::DuplicateKeyUpdate(_))) {
            OnDup::Update
        } else if ins.ignore {
            OnDup::Ignore
        } else {
            OnDup::Error
        };
        // ON DUPLICATE KEY UPDATE assignments see the existing row at
        // positions [0, n) and the proposed row (VALUES(col)) at [n, 2n).
        let mut updates: Vec<(usize, Expr)> = Vec::new();
        if let Some(ast::OnInsert::DuplicateKeyUpdate(assigns)) = &ins.on {
            let scope = Self::table_scope(&table);
            self.values_ref = Some(ncols);
            let res = (|| -> SqlResult<()> {
                for a in assigns {
                    let col = assignment_column(&a.target)?;
                    let i = def
                        .column_index(&col)
                        .ok_or_else(|| SqlError::bad_field(&col, "field list"))?;
                    if def.columns[i].generated.is_some() {
                        if is_default(&a.value) {
                            continue;
                        }
                        return Err(generated::value_ignored(&def.columns[i].name, &def.name));
                    }
                    let e = self.bind(&a.value, &mut BindEnv::new(&scope, "field list"))?;
                    updates.push((i, e));
                }
                Ok(())
            })();
            self.values_ref = None;
            res?;
        }

        let mut affected = 0u64;
        let mut first_auto: Option<u64> = None;
        let mut inserted: Vec<Vec<Value>> = Vec::new();
        let lenient = Leniency::insert(on_dup == OnDup::Ignore, self.strict(), source.len() > 1);
        for (n, src) in source.into_iter().enumerate() {
            if src.len() != targets.len() {
                return Err(SqlError::column_count(n + 1));
            }
            let row = self
                .build_insert_row(&table, &targets, src, &mut first_auto, lenient, n + 1)
                .map_err(|e| at_row(e, n + 1))?;
            if ins.returning.is_some() {
                inserted.push(row.clone());
            }
            affected += self
                .insert_one(&table, row, on_dup, &updates)
                .map_err(|e| at_row(e, n + 1))?;
        }
        // A generated id wins over LAST_INSERT_ID(expr) in the VALUES.
        let first_auto = first_auto.or(crate::expr::take_set_last_insert_id());
        if let Some(id) = first_auto {
            self.sess.last_insert_id = id;
        }
        if let Some(items) = &ins.returning {
            return self.returning(&table, items, inserted);
        }
        let info = String::new();
        Ok(Output::Ok {
            affected,
            last_insert_id: first_auto.unwrap_or(0),
            info,
        })
    }

    /// Inserts value rows into `columns` of a table (CREATE TABLE ...
    /// SELECT's second half).
    pub fn insert_rows(
        &mut self,
        name: &ast::ObjectName,
        columns: &[String],
        rows: Vec<Vec<Value>>,
    ) -> SqlResult<Output> {
        let table = self.table_for_write(name)?;
        let targets = columns
            .iter()
            .map(|n| {
                table
                    .def
                    .column_index(n)
                    .ok_or_else(|| SqlError::bad_field(n, "field list"))
            })
            .collect::<SqlResult<Vec<usize>>>()?;
        let mut first_auto = None;
        let mut affected = 0;
        let lenient = Leniency::insert(false, self.strict(), rows.len() > 1);
        for (n, r) in rows.into_iter().enumerate() {
            let src = r.into_iter().map(Some).collect();
            let row = self
                .build_insert_row(&table, &targets, src, &mut first_auto, lenient, n + 1)
                .map_err(|e| at_row(e, n + 1))?;
            affected += self
                .insert_one(&table, row, OnDup::Error, &[])
                .map_err(|e| at_row(e, n + 1))?;
        }
        Ok(Output::Ok {
            affected,
            last_insert_id: first_auto.unwrap_or(0),
            info: String::new(),
        })
    }

    /// `... RETURNING items` (MariaDB): the items over each written row.
    fn returning(
        &mut self,
        table: &Table,
        items: &[ast::SelectItem],
        rows: Vec<Vec<Value>>,
    ) -> SqlResult<Output> {
        let scope = Self::table_scope(table);
        let mut cols: Vec<OutCol> = Vec::new();
        let mut exprs: Vec<Expr> = Vec::new();
        let layout: Vec<OutCol> = scope.cols.iter().map(|c| c.meta.clone()).collect();
        for item in items {
            match item {
                ast::SelectItem::Wildcard(_) | ast::SelectItem::QualifiedWildcard(..) => {
                    for (i, c) in layout.iter().enumerate() {
                        cols.push(c.clone());
                        exprs.push(Expr::Col(i));
                    }
                }
                ast::SelectItem::UnnamedExpr(e)
                | ast::SelectItem::ExprWithAlias { expr: e, .. } => {
                    let x = self.bind(e, &mut BindEnv::new(&scope, "field list"))?;
                    let name = match item {
                        ast::SelectItem::ExprWithAlias { alias, .. } => alias.value.clone(),
                        _ => crate::bind::expr_display_name(e, &self.sess.sql_text),
                    };
                    let mut meta = match &x {
                        Expr::Col(i) => layout[*i].clone(),
                        other => {
                            let (ty, nullable) = crate::bind::infer(other, &layout);
                            OutCol::expr(&name, ty, nullable)
                        }
                    };
                    meta.name = name;
                    cols.push(meta);
                    exprs.push(x);
                }
                other => return Err(SqlError::unsupported(format!("RETURNING {other}"))),
            }
        }
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            out.push(
                exprs
                    .iter()
                    .map(|e| e.eval(r))
                    .collect::<SqlResult<Vec<_>>>()?,
            );
        }
        Ok(Output::Rows {
            columns: cols,
            rows: out,
        })
    }

    /// A VALUES item: an expression, or None for DEFAULT. For a `numeric`
    /// column a hex literal is its number (0x0F stores 15), as MariaDB
    /// reads it.
    fn insert_value(
        &mut self,
        e: &ast::Expr,
        scope: &Scope,
        numeric: bool,
    ) -> SqlResult<Option<Value>> {
        if let ast::Expr::Identifier(id) = e {
            if id.quote_style.is_none() && id.value.eq_ignore_ascii_case("DEFAULT") {
                return Ok(None);
            }
        }
        let mut x = self.bind(e, &mut BindEnv::new(scope, "field list"))?;
        if numeric {
            x = crate::bind::hex_number(x);
        }
        Ok(Some(eval_stored(&x, &[])?))
    }

    /// Fills defaults and AUTO_INCREMENT, converts to column types.
    /// With `ignore` (INSERT IGNORE), a value that does not fit its column
    /// is adjusted as MySQL does — NULL in a NOT NULL column becomes the
    /// type's implicit default, numbers clamp to the range, text is cut to
    /// the length — with a warning naming row `row_no`, instead of failing.
    fn build_insert_row(
        &mut self,
        table: &Table,
        targets: &[usize],
        src: Vec<Option<Value>>,
        first_auto: &mut Option<u64>,
        lenient: Leniency,
        row_no: usize,
    ) -> SqlResult<Vec<Value>> {
        let def = &table.def;
        let mut given: Vec<Option<Option<Value>>> = vec![None; def.columns.len()];
        for (&c, v) in targets.iter().zip(src) {
            given[c] = Some(v);
        }
        // A column left out that has no default is reported before any
        // value is looked at (MariaDB's order).
        for (i, col) in def.columns.iter().enumerate() {
            let left_out = !matches!(given[i], Some(Some(_)));
            if left_out
                && col.default.is_none()
                && !col.nullable
                && !col.auto_increment
                && col.generated.is_none()
            {
                if !lenient.values {
                    return Err(SqlError::no_default(&col.name));
                }
                self.warn_ignored(SqlError::no_default(&col.name), row_no);
            }
        }
        let mut row = Vec::with_capacity(def.columns.len());
        // The generated id is taken only once every other column is valid:
        // a row refused for a missing value uses up no id (InnoDB).
        let mut generate_at = None;
        let zone = self
            .session_zone()
            .filter(|_| crate::tstz::has_timestamps(def));
        for (i, col) in def.columns.iter().enumerate() {
            let mut now_set = false;
            let v = match given[i].take() {
                Some(Some(v)) => Some(v),
                // DEFAULT or not named.
                Some(None) | None => None,
            };
            if col.generated.is_some() {
                // Computed below, once the other columns are known.
                if v.is_some() {
                    let e = generated::value_ignored(&col.name, &def.name);
                    if !lenient.values {
                        return Err(e);
                    }
                    self.warn_ignored(e, row_no);
                }
                row.push(Value::Null);
                continue;
            }
            let v = match v {
                Some(v) if col.auto_increment && (v.is_null() || v.to_i64() == Some(0)) => {
                    generate_at = Some(i);
                    Value::Null
                }
                Some(v) => {
                    let c = self.store_value(col, v, lenient, row_no)?;
                    if col.auto_increment {
                        if let Some(n) = c.to_i64().filter(|n| *n > 0) {
                            table.bump_auto_inc(n as u64);
                        }
                    }
                    c
                }
                None if col.auto_increment => {
                    generate_at = Some(i);
                    Value::Null
                }
                None => match &col.default {
                    Some(DefaultValue::Value(d)) => col.ty.coerce(d.clone(), &col.name)?,
                    Some(DefaultValue::CurrentTimestamp) => {
                        now_set = true;
                        col.ty
                            .coerce(Value::DateTime(self.now_for(&col.ty)), &col.name)?
                    }
                    Some(DefaultValue::Expr(text)) => {
                        let v = self.eval_default(text)?;
                        col.ty.coerce(v, &col.name)?
                    }
                    None if col.nullable => Value::Null,
                    // Warned about above.
                    None if lenient.values => crate::ddl::implicit_default(&col.ty),
                    None => return Err(SqlError::no_default(&col.name)),
                },
            };
            // A TIMESTAMP is given in the session's zone and stored in UTC.
            let v = match &zone {
                Some(z) if matches!(col.ty, SqlType::Timestamp(_)) && !now_set => {
                    crate::tstz::to_utc(z, v, &col.name)?
                }
                _ => v,
            };
            row.push(v);
        }
        self.fill_generated(table, &mut row)?;
        if let Some(i) = generate_at {
            // Nor does a row a CHECK refuses (the id reads as NULL here).
            self.check_constraints(table, &row)?;
            row[i] = self.auto_value(table, first_auto);
            self.fill_generated(table, &mut row)?;
        }
        Ok(row)
    }

    /// `v` in `col`'s storage shape. When it does not fit and `lenient`
    /// allows (INSERT / UPDATE IGNORE, or a session outside strict mode),
    /// the value MySQL stores instead, with a warning naming row `row_no`:
    /// a NULL for a NOT NULL column becomes the type's implicit default.
    fn store_value(
        &mut self,
        col: &trireme_storage::catalog::ColumnDef,
        v: Value,
        lenient: Leniency,
        row_no: usize,
    ) -> SqlResult<Value> {
        if v.is_null() && !col.nullable {
            if !lenient.nulls {
                return Err(SqlError::bad_null(&col.name));
            }
            self.warn_ignored(SqlError::bad_null(&col.name), row_no);
            return col
                .ty
                .coerce(crate::ddl::implicit_default(&col.ty), &col.name);
        }
        let stored = match col.ty.coerce(v.clone(), &col.name) {
            Ok(c) if crate::coerce::quietly_changed(&col.ty, &v, &c) => c,
            Ok(c) => return Ok(c),
            // Only spaces past a string column's length: cut, with a Note
            // (not an error, even in strict mode), as MariaDB does.
            Err(e) if e.code == codes::DATA_TOO_LONG => {
                match crate::coerce::without_excess_spaces(&col.ty, &v)
                    .and_then(|t| col.ty.coerce(t, &col.name).ok())
                {
                    Some(c) => c,
                    None => return self.store_adjusted(col, v, e, lenient, row_no),
                }
            }
            Err(e) => return self.store_adjusted(col, v, e, lenient, row_no),
        };
        let n = at_row(SqlError::data_truncated(&col.name), row_no);
        self.note(n.code, n.message);
        Ok(stored)
    }

    /// `v`, which does not fit `col`, adjusted with a warning where
    /// `lenient` allows, else the error `e`.
    fn store_adjusted(
        &mut self,
        col: &trireme_storage::catalog::ColumnDef,
        v: Value,
        e: SqlError,
        lenient: Leniency,
        row_no: usize,
    ) -> SqlResult<Value> {
        if !lenient.values {
            return Err(e);
        }
        let Some(a) = crate::coerce::adjusted(&col.ty, &v, &col.name) else {
            return Err(e);
        };
        // MariaDB's warning for a value it had to change: a time past the
        // range is out of range, any other unreadable date or time
        // truncated.
        let e = match (&col.ty, e.code) {
            (SqlType::Time(_), codes::TRUNCATED_WRONG_VALUE)
                if crate::coerce::to_time(&v).is_some() =>
            {
                SqlError::out_of_range(&col.name)
            }
            (_, codes::TRUNCATED_WRONG_VALUE) => SqlError::data_truncated(&col.name),
            _ => e,
        };
        self.warn_ignored(e, row_no);
        Ok(a)
    }

    /// `v` as row `row_no` of a statement's temporary table with a column
    /// of type `ty` (a recursive CTE): in strict mode a value that does not
    /// fit fails, otherwise it is adjusted with a warning, as MariaDB does.
    pub(crate) fn store_in_temporary(
        &mut self,
        ty: &SqlType,
        v: Value,
        column: &str,
        row_no: usize,
    ) -> SqlResult<Value> {
        if v.is_null() {
            return Ok(v);
        }
        match ty.coerce(v.clone(), column) {
            Ok(c) => Ok(c),
            Err(e) if !self.strict() => match crate::coerce::adjusted(ty, &v, column) {
                Some(a) => {
                    self.warn_ignored(e, row_no);
                    Ok(a)
                }
                None => Err(at_row(e, row_no)),
            },
            Err(e) => Err(at_row(e, row_no)),
        }
    }

    /// Whether sql_mode holds STRICT_TRANS_TABLES or STRICT_ALL_TABLES: a
    /// value that does not fit its column fails the statement. Without,
    /// it is adjusted with a warning, as MariaDB does.
    pub(crate) fn strict(&self) -> bool {
        self.sess.vars.get("sql_mode").is_none_or(|m| {
            let m = m.to_text_lossy().to_ascii_uppercase();
            m.contains("STRICT_TRANS_TABLES") || m.contains("STRICT_ALL_TABLES")
        })
    }

    /// An error IGNORE turned into a warning: a too-long value is reported
    /// as truncated (1265), as MySQL does outside strict mode.
    fn warn_ignored(&mut self, e: SqlError, row_no: usize) {
        let e = at_row(e, row_no);
        if e.code == codes::DATA_TOO_LONG {
            let msg = e.message.replacen("Data too long", "Data truncated", 1);
            self.warn(1265, msg);
        } else {
            self.warn(e.code, e.message);
        }
    }

    fn auto_value(&mut self, table: &Table, first_auto: &mut Option<u64>) -> Value {
        let v = table.next_auto_inc(
            self.node.auto_increment_increment,
            self.node.auto_increment_offset,
        );
        first_auto.get_or_insert(v);
        if table.def.columns[table.def.auto_increment_column().unwrap_or(0)]
            .ty
            .is_unsigned()
        {
            Value::UInt(v)
        } else {
            Value::Int(v as i64)
        }
    }

    /// Inserts one row under the duplicate policy; returns affected rows.
    fn insert_one(
        &mut self,
        table: &Arc<Table>,
        row: Vec<Value>,
        on_dup: OnDup,
        updates: &[(usize, Expr)],
    ) -> SqlResult<u64> {
        let pk = match table.def.pk_of(&row) {
            Some(pk) => pk,
            None => table.next_hidden_key(self.node.node_id),
        };
        let mut affected = 0;
        loop {
            match self.find_conflict(table, &pk, &row, None)? {
                None => break,
                Some((key_name, old_pk, old_row)) => match on_dup {
                    OnDup::Error => {
                        return Err(SqlError::dup_entry(
                            &self.key_text(table, &key_name, &row),
                            &key_name,
                        ))
                    }
                    OnDup::Ignore => {
                        let msg = format!(
                            "Duplicate entry '{}' for key '{}'",
                            self.key_text(table, &key_name, &row),
                            key_name
                        );
                        self.warn(codes::DUP_ENTRY, msg);
                        return Ok(0);
                    }
                    OnDup::Replace => {
                        self.check_not_newer(table, &old_pk)?;
                        self.txn.put(table, old_pk, None)?;
                        self.fk_parent_changed(table, &old_row, None, 0)?;
                        affected += 1;
                    }
                    OnDup::Update => {
                        self.check_not_newer(table, &old_pk)?;
                        // Both rows read in the session's zone (`tstz`).
                        let zone = self
                            .session_zone()
                            .filter(|_| crate::tstz::has_timestamps(&table.def));
                        let local = |r: &[Value]| match &zone {
                            Some(z) => crate::tstz::to_local(&table.def, z, &r.into()).to_vec(),
                            None => r.to_vec(),
                        };
                        let mut combined: Vec<Value> = local(&old_row);
                        combined.extend(local(&row));
                        let mut new_row: Vec<Value> = local(&old_row);
                        for (c, e) in updates {
                            // Later assignments see earlier ones.
                            combined[..new_row.len()].clone_from_slice(&new_row);
                            let col = &table.def.columns[*c];
                            let v = eval_stored(e, &combined)?;
                            if v.is_null() && !col.nullable {
                                return Err(SqlError::bad_null(&col.name));
                            }
                            new_row[*c] = col.ty.coerce(v, &col.name)?;
                        }
                        if let Some(z) = &zone {
                            let assigned = |i| updates.iter().any(|(c, _)| *c == i);
                            crate::tstz::restore(
                                &table.def,
                                z,
                                &old_row,
                                &mut new_row,
                                assigned,
                                &[],
                            )?;
                        }
                        if rows_equal(&new_row, &old_row) {
                            // CLIENT_FOUND_ROWS counts the row found as 1.
                            return Ok(affected + u64::from(self.sess.client_found_rows));
                        }
                        self.touch_on_update(
                            table,
                            &old_row,
                            &mut new_row,
                            updates.iter().map(|(c, _)| *c),
                        );
                        self.put_row(table, Some(&old_pk), Some(&old_row), new_row)?;
                        return Ok(affected + 2);
                    }
                },
            }
        }
        self.check_constraints(table, &row)?;
        self.check_not_newer(table, &pk)?;
        self.txn.put(table, pk, Some(row.clone().into()))?;
        self.fk_check_child(table, &row, None)?;
        Ok(affected + 1)
    }

    fn key_text(&self, table: &Table, key_name: &str, row: &[Value]) -> String {
        let cols: Vec<usize> = if key_name == "PRIMARY" {
            table.def.primary.clone().unwrap_or_default()
        } else {
            table
                .def
                .index_by_name(key_name)
                .map(|i| i.columns.clone())
                .unwrap_or_default()
        };
        cols.iter()
            .map(|&c| row[c].to_text_lossy())
            .collect::<Vec<_>>()
            .join("-")
    }

    /// The row `row` (with key `pk`) would collide with, as this
    /// transaction sees the data: by primary key, then by each unique index.
    /// `ignore_pk` is the row being updated.
    fn find_conflict(
        &self,
        table: &Arc<Table>,
        pk: &[u8],
        row: &[Value],
        ignore_pk: Option<&[u8]>,
    ) -> SqlResult<Option<(String, Vec<u8>, Row)>> {
        if ignore_pk != Some(pk) {
            if let Some(existing) = self.txn.get(table, pk)? {
                return Ok(Some(("PRIMARY".into(), pk.to_vec(), existing)));
            }
        }
        let def = &table.def;
        for (i, idx) in def.indexes.iter().enumerate() {
            if !idx.unique || idx.columns.iter().any(|&c| row[c].is_null()) {
                continue;
            }
            let key = def.index_key_of(idx, row);
            let mut candidates = table.index_candidates(i, &key)?;
            if let Some(p) = self.txn.pending(table) {
                candidates.extend(
                    p.iter()
                        .filter(|(_, p)| {
                            p.after
                                .as_ref()
                                .is_some_and(|r| def.index_key_of(idx, r) == key)
                        })
                        .map(|(k, _)| k.clone()),
                );
            }
            for cand in candidates {
                if cand == pk || Some(cand.as_slice()) == ignore_pk {
                    continue;
                }
                if let Some(r) = self.txn.get(table, &cand)? {
                    if def.index_key_of(idx, &r) == key {
                        return Ok(Some((idx.name.clone(), cand, r)));
                    }
                }
            }
        }
        Ok(None)
    }

    /// Fails early when a row has a committed version newer than the
    /// snapshot that this transaction has not itself written.
    pub(crate) fn check_not_newer(&self, table: &Arc<Table>, pk: &[u8]) -> SqlResult<()> {
        let own = self.txn.pending(table).is_some_and(|p| p.contains_key(pk));
        if !own && table.latest_seqno(pk)? > self.txn.snapshot_seqno() {
            return Err(SqlError::deadlock());
        }
        Ok(())
    }

    /// Writes `new_row` in place of the row at `old_pk`: checks keys and
    /// foreign keys, both as a child and as a parent.
    pub(crate) fn put_row(
        &mut self,
        table: &Arc<Table>,
        old_pk: Option<&[u8]>,
        old_row: Option<&Row>,
        mut new_row: Vec<Value>,
    ) -> SqlResult<()> {
        self.fill_generated(table, &mut new_row)?;
        self.check_constraints(table, &new_row)?;
        self.put_row_keys(table, old_pk, old_row, new_row.clone())?;
        self.fk_check_child(table, &new_row, old_row.map(|r| &r[..]))?;
        if let Some(old) = old_row {
            self.fk_parent_changed(table, old, Some(&new_row), 0)?;
        }
        Ok(())
    }

    /// Writes `new_row` in place of the row at `old_pk` (checks keys).
    pub(crate) fn put_row_keys(
        &mut self,
        table: &Arc<Table>,
        old_pk: Option<&[u8]>,
        old_row: Option<&Row>,
        new_row: Vec<Value>,
    ) -> SqlResult<()> {
        let new_pk = match (table.def.pk_of(&new_row), old_pk) {
            (Some(pk), _) => pk,
            (None, Some(old)) => old.to_vec(),
            (None, None) => table.next_hidden_key(self.node.node_id),
        };
        let unique_changed = old_row.is_none_or(|old| {
            table.def.indexes.iter().any(|i| {
                i.unique && table.def.index_key_of(i, old) != table.def.index_key_of(i, &new_row)
            })
        });
        if Some(new_pk.as_slice()) != old_pk || unique_changed {
            if let Some((key_name, _, _)) = self.find_conflict(table, &new_pk, &new_row, old_pk)? {
                return Err(SqlError::dup_entry(
                    &self.key_text(table, &key_name, &new_row),
                    &key_name,
                ));
            }
        }
        if let Some(old) = old_pk {
            if old != new_pk.as_slice() {
                self.check_not_newer(table, &new_pk)?;
                self.txn.put(table, old.to_vec(), None)?;
            }
        }
        self.txn.put(table, new_pk, Some(new_row.into()))?;
        Ok(())
    }

    fn touch_on_update(
        &self,
        table: &Table,
        old: &[Value],
        new: &mut [Value],
        assigned: impl Iterator<Item = usize>,
    ) {
        let assigned: Vec<usize> = assigned.collect();
        if rows_equal(old, new) {
            return;
        }
        for (i, c) in table.def.columns.iter().enumerate() {
            if c.on_update_now && !assigned.contains(&i) {
                if let Ok(v) = c.ty.coerce(Value::DateTime(self.now_for(&c.ty)), &c.name) {
                    new[i] = v;
                }
            }
        }
    }

    /// Rows of a single table matching WHERE, ordered and limited, for
    /// UPDATE and DELETE.
    fn rows_for_write(
        &mut self,
        table: &Arc<Table>,
        scope: &Scope,
        selection: Option<&ast::Expr>,
        order_by: &[ast::OrderByExpr],
        limit: Option<&ast::Expr>,
    ) -> SqlResult<Vec<(Vec<u8>, Row)>> {
        let scope = scope.clone();
        let filters = match selection {
            Some(w) => self
                .bind(w, &mut BindEnv::new(&scope, "where clause"))?
                .conjuncts(),
            None => Vec::new(),
        };
        let correlated: Vec<bool> = filters.iter().map(Expr::has_correlated).collect();
        let refs: Vec<&Expr> = filters
            .iter()
            .zip(&correlated)
            .filter(|(_, c)| !**c)
            .map(|(f, _)| f)
            .collect();
        // WHERE reads TIMESTAMP columns in the session's zone; the rows
        // returned stay as stored (`tstz`).
        let zone = self
            .session_zone()
            .filter(|_| crate::tstz::has_timestamps(&table.def));
        let refs = match zone {
            Some(_) => crate::tstz::keyable(&table.def, refs, 0),
            None => refs,
        };
        let path = access::choose(&table.def, &refs, 0);
        let mut rows = Vec::new();
        for (pk, r) in access::fetch(table, self.txn, &path, &[], &mut self.sess.vars.reads)? {
            let local = match &zone {
                Some(z) => crate::tstz::to_local(&table.def, z, &r),
                None => r.clone(),
            };
            let mut ok = true;
            for (f, corr) in filters.iter().zip(&correlated) {
                let holds = if *corr {
                    self.eval_row(f, &local, &scope)?.truth() == Some(true)
                } else {
                    f.holds(&local)?
                };
                if !holds {
                    ok = false;
                    break;
                }
            }
            if ok {
                rows.push((pk, r));
            }
        }
        if !order_by.is_empty() {
            let mut keys = Vec::new();
            let cols: Vec<crate::OutCol> = scope.cols.iter().map(|c| c.meta.clone()).collect();
            for ob in order_by {
                let e = self.bind(&ob.expr, &mut BindEnv::new(&scope, "order clause"))?;
                // Strings sort under their collation, as in SELECT.
                let coll =
                    crate::collate::derive(&e, &cols, self.conn_collation()).map(|d| d.collation);
                keys.push((
                    e,
                    matches!(ob.options.sort, Some(ast::OrderBySort::Desc)),
                    coll,
                ));
            }
            let mut keyed = Vec::with_capacity(rows.len());
            for (pk, r) in rows {
                let k = keys
                    .iter()
                    .map(|(e, _, _)| e.eval(&r))
                    .collect::<SqlResult<Vec<_>>>()?;
                keyed.push((k, pk, r));
            }
            keyed.sort_by(|a, b| {
                for (i, (_, desc, coll)) in keys.iter().enumerate() {
                    let o = sort_cmp_collated(&a.0[i], &b.0[i], *coll);
                    let o = if *desc { o.reverse() } else { o };
                    if o != std::cmp::Ordering::Equal {
                        return o;
                    }
                }
                std::cmp::Ordering::Equal
            });
            rows = keyed.into_iter().map(|(_, pk, r)| (pk, r)).collect();
        }
        if let Some(l) = limit {
            let n = self
                .bind(l, &mut BindEnv::new(&Scope::default(), "LIMIT"))?
                .eval(&[])?
                .to_i64()
                .filter(|n| *n >= 0)
                .ok_or_else(|| SqlError::new(1210, "HY000", "Incorrect arguments to LIMIT"))?;
            rows.truncate(n as usize);
        }
        Ok(rows)
    }

    pub fn update(&mut self, u: &ast::Update) -> SqlResult<Output> {
        crate::expr::take_set_last_insert_id();
        if !u.table.joins.is_empty() || u.from.is_some() {
            return self.multi_update(u);
        }
        let ast::TableFactor::Table { name, alias, .. } = &u.table.relation else {
            return Err(SqlError::unsupported("UPDATE of a derived table"));
        };
        if let Some(v) = self.write_target_view(name)? {
            return self.update_through_view(u, &v, alias.as_ref());
        }
        let table = self.table_for_write(name)?;
        let mut scope = Self::table_scope(&table);
        if let Some(a) = alias {
            for c in &mut scope.cols {
                c.source = a.name.value.clone();
            }
        }
        let mut sets = Vec::new();
        for a in &u.assignments {
            let col = assignment_column(&a.target)?;
            let i = table
                .def
                .column_index(&col)
                .ok_or_else(|| SqlError::bad_field(&col, "field list"))?;
            if table.def.columns[i].generated.is_some() {
                if is_default(&a.value) {
                    continue;
                }
                return Err(generated::value_ignored(
                    &table.def.columns[i].name,
                    &table.def.name,
                ));
            }
            let e = if is_default(&a.value) {
                None
            } else {
                Some(self.bind(&a.value, &mut BindEnv::new(&scope, "field list"))?)
            };
            sets.push((i, e));
        }
        let rows = self.rows_for_write(
            &table,
            &scope,
            u.selection.as_ref(),
            &u.order_by,
            u.limit.as_ref(),
        )?;
        let matched = rows.len() as u64;
        let mut changed = 0u64;
        // UPDATE IGNORE: values are adjusted as outside strict mode, and a
        // row whose change would duplicate a unique key stays as it was.
        let ignore = matches!(u.or, Some(ast::SqliteOnConflict::Ignore));
        let lenient = Leniency::update(ignore, self.strict());
        for (n, (pk, old)) in rows.into_iter().enumerate() {
            self.check_not_newer(&table, &pk)?;
            let new = self
                .updated_row(&table, &scope, &sets, &old, n + 1, lenient)
                .map_err(|e| at_row(e, n + 1))?;
            let Some(new) = new else { continue };
            match self.put_row(&table, Some(&pk), Some(&old), new) {
                Ok(()) => changed += 1,
                // MariaDB 10.11 skips it without a warning.
                Err(e) if ignore && e.code == codes::DUP_ENTRY => {}
                Err(e) => return Err(e),
            }
        }
        self.sess.found_rows = matched;
        // UPDATE seq SET id = LAST_INSERT_ID(id + 1): the client's insert
        // id and the session's LAST_INSERT_ID() become the new value.
        let set_id = crate::expr::take_set_last_insert_id();
        if let Some(id) = set_id {
            self.sess.last_insert_id = id;
        }
        Ok(Output::Ok {
            affected: if self.sess.client_found_rows {
                matched
            } else {
                changed
            },
            last_insert_id: set_id.unwrap_or(0),
            info: format!(
                "Rows matched: {matched}  Changed: {changed}  Warnings: {}",
                self.sess.warnings.len()
            ),
        })
    }

    /// The row UPDATE makes of `old` (None: unchanged).
    fn updated_row(
        &mut self,
        table: &Arc<Table>,
        scope: &Scope,
        sets: &[(usize, Option<Expr>)],
        old: &Row,
        row_no: usize,
        lenient: Leniency,
    ) -> SqlResult<Option<Vec<Value>>> {
        // SET reads TIMESTAMP columns in the session's zone; what it
        // assigns goes back to UTC and the others keep their stored value.
        let zone = self
            .session_zone()
            .filter(|_| crate::tstz::has_timestamps(&table.def));
        let mut new: Vec<Value> = match &zone {
            Some(z) => crate::tstz::to_local(&table.def, z, old).to_vec(),
            None => old.to_vec(),
        };
        let mut now_set = Vec::new();
        for (c, e) in sets {
            let col = &table.def.columns[*c];
            let v = match e {
                Some(e) if e.has_correlated() => {
                    let v = self.eval_row(e, &new, scope)?;
                    eval_stored(&Expr::Lit(v), &new)?
                }
                Some(e) => eval_stored(e, &new)?,
                None => match &col.default {
                    Some(DefaultValue::Value(d)) => d.clone(),
                    Some(DefaultValue::CurrentTimestamp) => {
                        now_set.push(*c);
                        Value::DateTime(self.now_for(&col.ty))
                    }
                    Some(DefaultValue::Expr(text)) => self.eval_default(text)?,
                    None => Value::Null,
                },
            };
            new[*c] = self.store_value(col, v, lenient, row_no)?;
        }
        if let Some(z) = &zone {
            let assigned = |i| sets.iter().any(|(c, _)| *c == i);
            crate::tstz::restore(&table.def, z, old, &mut new, assigned, &now_set)?;
        }
        if rows_equal(&new, old) {
            return Ok(None);
        }
        self.touch_on_update(table, old, &mut new, sets.iter().map(|(c, _)| *c));
        if let Some(ai) = table.def.auto_increment_column() {
            if let Some(n) = new[ai].to_i64().filter(|n| *n > 0) {
                table.bump_auto_inc(n as u64);
            }
        }
        Ok(Some(new))
    }

    pub fn delete(&mut self, d: &ast::Delete) -> SqlResult<Output> {
        if !d.tables.is_empty() || d.using.is_some() {
            return self.multi_delete(d);
        }
        let from = match &d.from {
            ast::FromTable::WithFromKeyword(f) | ast::FromTable::WithoutKeyword(f) => f,
        };
        let [twj] = from.as_slice() else {
            return Err(SqlError::unsupported("multi-table DELETE"));
        };
        if !twj.joins.is_empty() {
            return Err(SqlError::unsupported("multi-table DELETE"));
        }
        let ast::TableFactor::Table { name, alias, .. } = &twj.relation else {
            return Err(SqlError::unsupported("DELETE from a derived table"));
        };
        if let Some(v) = self.write_target_view(name)? {
            return self.delete_through_view(d, &v, alias.as_ref());
        }
        let table = self.table_for_write(name)?;
        let scope = Self::table_scope(&table);
        let rows = self.rows_for_write(
            &table,
            &scope,
            d.selection.as_ref(),
            &d.order_by,
            d.limit.as_ref(),
        )?;
        let n = rows.len() as u64;
        let mut deleted: Vec<Vec<Value>> = Vec::new();
        for (pk, row) in rows {
            self.check_not_newer(&table, &pk)?;
            self.txn.put(&table, pk, None)?;
            self.fk_parent_changed(&table, &row, None, 0)?;
            if d.returning.is_some() {
                deleted.push(row.to_vec());
            }
        }
        // MariaDB's DELETE ... RETURNING: the items over each deleted row
        // (as it was), as a result set instead of an OK.
        if let Some(items) = &d.returning {
            return self.returning(&table, items, deleted);
        }
        Ok(Output::ok(n))
    }
}

/// Evaluates a value that is about to be stored. sql_mode has
/// STRICT_TRANS_TABLES and ERROR_FOR_DIVISION_BY_ZERO, so a division by zero
/// fails the statement (ER_DIVISION_BY_ZERO) instead of storing NULL.
pub(crate) fn eval_stored(e: &Expr, row: &[Value]) -> SqlResult<Value> {
    arith::take_divided_by_zero();
    let v = e.eval(row)?;
    if arith::take_divided_by_zero() {
        return Err(SqlError::division_by_zero());
    }
    Ok(v)
}

/// Value errors are built saying "at row 1"; a multi-row statement names
/// the row that failed, as MySQL does.
fn at_row(mut e: SqlError, row: usize) -> SqlError {
    if row != 1 {
        if let Some(head) = e.message.strip_suffix(" at row 1") {
            e.message = format!("{head} at row {row}");
        }
    }
    e
}

fn is_default(e: &ast::Expr) -> bool {
    matches!(e, ast::Expr::Identifier(id) if id.quote_style.is_none() && id.value.eq_ignore_ascii_case("DEFAULT"))
}

pub(crate) fn assignment_column(t: &ast::AssignmentTarget) -> SqlResult<String> {
    match t {
        ast::AssignmentTarget::ColumnName(n) => Ok(crate::object_name_parts(n)?
            .last()
            .cloned()
            .unwrap_or_default()),
        ast::AssignmentTarget::Tuple(_) => Err(SqlError::unsupported("tuple assignment")),
    }
}

/// The scope of one table's row (UPDATE, DELETE, CHECK constraints).
pub(crate) fn table_scope(table: &Table) -> Scope {
    def_scope(&table.def)
}

pub(crate) fn def_scope(def: &TableDef) -> Scope {
    Scope {
        cols: def
            .columns
            .iter()
            .map(|c| ScopeCol {
                source: def.name.clone(),
                meta: {
                    let mut m = OutCol::expr(&c.name, Some(c.ty.clone()), c.nullable);
                    m.db = def.db.clone();
                    m.org_table = def.name.clone();
                    if c.collation.is_some() {
                        m.collation = c.collation;
                    }
                    m
                },
            })
            .collect(),
    }
}

/// Which values that do not fit their column an INSERT adjusts (with a
/// warning) instead of failing.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Leniency {
    /// Out of range, too long, not a member, not a date.
    pub values: bool,
    /// NULL into a NOT NULL column (the type's implicit default).
    pub nulls: bool,
}

impl Leniency {
    /// INSERT IGNORE adjusts everything; outside strict mode MariaDB
    /// adjusts values, but a NULL for a NOT NULL column only in a
    /// multi-row INSERT (a single-row one still fails with 1048).
    pub fn insert(ignore: bool, strict: bool, multi_row: bool) -> Leniency {
        Leniency {
            values: ignore || !strict,
            nulls: ignore || (!strict && multi_row),
        }
    }

    /// UPDATE IGNORE or outside strict mode: values and NULLs alike.
    pub fn update(ignore: bool, strict: bool) -> Leniency {
        let l = ignore || !strict;
        Leniency {
            values: l,
            nulls: l,
        }
    }
}
