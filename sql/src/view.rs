//! Reading a view: its stored SELECT runs in the view's database and its
//! result is the view's rows, materialized for the query that reads it.

use std::cell::Cell;

use sqlparser::ast::Statement;
use trireme_storage::catalog::{ColumnDef, TableDef, ViewDef};
use trireme_storage::types::SqlType;
use trireme_storage::value::Value;

use crate::error::{SqlError, SqlResult};
use crate::{Exec, OutCol};

/// Views nest at most this deep (a view over a view over ...), which also
/// stops a view that was replaced to read itself.
const MAX_VIEW_DEPTH: u32 = 32;

thread_local! {
    static DEPTH: Cell<u32> = const { Cell::new(0) };
}

/// Whether a view is being read on this thread (information_schema then
/// leaves views' columns out rather than describing views inside views).
pub(crate) fn reading_view() -> bool {
    DEPTH.with(|d| d.get()) > 0
}

impl Exec<'_> {
    pub(crate) fn read_view(&mut self, v: &ViewDef) -> SqlResult<(Vec<OutCol>, Vec<Vec<Value>>)> {
        let q = match crate::parse(&v.select)?.into_iter().next() {
            Some(Statement::Query(q)) => q,
            _ => {
                return Err(SqlError::internal(format!(
                    "view {}.{} is not a SELECT",
                    v.db, v.name
                )))
            }
        };
        if DEPTH.with(|d| d.get()) >= MAX_VIEW_DEPTH {
            return Err(SqlError::new(
                1462,
                "HY000",
                format!("`{}`.`{}` contains view recursion", v.db, v.name),
            ));
        }
        DEPTH.with(|d| d.set(d.get() + 1));
        let saved_db = self.sess.db.replace(v.db.clone());
        let saved_ctes = std::mem::take(&mut self.ctes);
        let r = self.query(&q);
        self.ctes = saved_ctes;
        self.sess.db = saved_db;
        DEPTH.with(|d| d.set(d.get() - 1));
        let (mut cols, rows) = r.map_err(|e| {
            if e.code == crate::error::codes::NO_SUCH_TABLE || e.code == crate::error::codes::BAD_FIELD {
                SqlError::new(
                    1356,
                    "HY000",
                    format!(
                        "View '{}.{}' references invalid table(s) or column(s) or function(s) or definer/invoker of view lack rights to use them",
                        v.db, v.name
                    ),
                )
            } else {
                e
            }
        })?;
        crate::with::rename_columns(&mut cols, v.columns.iter().map(String::as_str))?;
        for c in &mut cols {
            c.org_name = c.name.clone();
            c.org_table = v.name.clone();
            c.db = v.db.clone();
            c.primary_key = false;
            c.unique_key = false;
            c.multiple_key = false;
        }
        Ok((cols, rows))
    }
}

impl Exec<'_> {
    /// What CREATE / ALTER VIEW checks before the view is ordered: its
    /// SELECT binds in `db` (1054 for an unknown column), its column list,
    /// if any, is as wide as the SELECT (1353), and no name repeats (1060).
    pub fn check_view_definition(
        &mut self,
        db: &str,
        q: &sqlparser::ast::Query,
        columns: &[String],
    ) -> SqlResult<()> {
        let saved_db = self.sess.db.replace(db.to_string());
        let saved_ctes = std::mem::take(&mut self.ctes);
        let r = self.describe_query(q);
        self.ctes = saved_ctes;
        self.sess.db = saved_db;
        let cols = r?;
        if !columns.is_empty() && columns.len() != cols.len() {
            return Err(SqlError::new(
                1353,
                "HY000",
                "View's SELECT and view's field list have different column counts",
            ));
        }
        let names: Vec<&str> = if columns.is_empty() {
            cols.iter().map(|c| c.name.as_str()).collect()
        } else {
            columns.iter().map(String::as_str).collect()
        };
        for (i, n) in names.iter().enumerate() {
            if names[..i].iter().any(|m| m.eq_ignore_ascii_case(n)) {
                return Err(SqlError::new(
                    1060,
                    "42S21",
                    format!("Duplicate column name '{n}'"),
                ));
            }
        }
        Ok(())
    }
}

impl Exec<'_> {
    /// A view's columns as a table definition (SHOW COLUMNS, DESCRIBE,
    /// information_schema.COLUMNS): types from its SELECT, read without
    /// rows; a column that is plainly a base column keeps that column's
    /// default, as MariaDB shows it.
    pub(crate) fn view_as_table(&mut self, v: &ViewDef) -> SqlResult<TableDef> {
        let was = std::mem::replace(&mut self.describe, true);
        let r = self.read_view(v);
        self.describe = was;
        let (cols, _) = r?;
        let merged = crate::view_write::merge(&self.catalog, v, None, 0)
            .ok()
            .flatten();
        let columns = cols
            .iter()
            .map(|c| {
                let ty = c.ty.clone().unwrap_or(SqlType::Binary(0));
                let mut col = ColumnDef::new(&c.name, ty);
                col.nullable = c.nullable;
                col.collation = c.collation.filter(|_| col.ty.is_string());
                col.default = merged
                    .as_ref()
                    .and_then(|m| m.base_default(&self.catalog, &c.name));
                col
            })
            .collect();
        Ok(TableDef {
            db: v.db.clone(),
            name: v.name.clone(),
            columns,
            primary: None,
            indexes: Vec::new(),
            next_index_id: 1,
            engine: String::new(),
            collation: self
                .catalog
                .databases
                .get(&v.db)
                .map(|d| d.collation)
                .unwrap_or_default(),
            comment: "VIEW".into(),
            foreign_keys: Vec::new(),
            checks: Vec::new(),
            version: 0,
        })
    }
}
