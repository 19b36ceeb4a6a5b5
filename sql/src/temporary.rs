//! TEMPORARY tables, as Galera has them: a session's own tables, kept in
//! memory by the node the session is connected to, neither ordered nor
//! replicated (their rows never enter a write-set), gone when the session
//! ends. A TEMPORARY table shadows a table or view of the same name for
//! its session only.
//!
//! Writes to them go through the transaction's buffer like any other, so
//! they are atomic per statement and undone by ROLLBACK; COMMIT installs
//! them (`install`) once the replicated part, if any, has committed.

use std::collections::BTreeMap;
use std::sync::Arc;

use sqlparser::ast;
use trireme_storage::txn::Txn;
use trireme_storage::{Catalog, StorageResult, Table};

use crate::error::{SqlError, SqlResult};

/// (database, table name).
pub type TableKey = (String, String);

/// What ALTER / RENAME did to one TEMPORARY table: its old key, its new key
/// and the table that now stands there.
pub type Altered = (TableKey, TableKey, Arc<Table>);

/// A session's TEMPORARY tables by (database, name).
#[derive(Clone, Default)]
pub struct Temporaries(pub BTreeMap<TableKey, Arc<Table>>);

impl std::fmt::Debug for Temporaries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.0.keys()).finish()
    }
}

impl std::ops::Deref for Temporaries {
    type Target = BTreeMap<TableKey, Arc<Table>>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for Temporaries {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

/// The catalog a session's statements see: the shared one, with the
/// session's TEMPORARY tables in place of whatever has their names.
pub fn overlay(cat: Arc<Catalog>, temps: &Temporaries) -> Arc<Catalog> {
    if temps.is_empty() {
        return cat;
    }
    let mut c = (*cat).clone();
    for ((d, t), table) in temps.iter() {
        if let Some(db) = c.databases.get_mut(d) {
            db.views.remove(t);
            db.tables.insert(t.clone(), table.clone());
        }
    }
    Arc::new(c)
}

/// CREATE TEMPORARY TABLE: the new table, or None when IF NOT EXISTS
/// found one (the caller leaves note 1050).
pub fn create(
    cat: &Catalog,
    temps: &Temporaries,
    ct: &ast::CreateTable,
    db: Option<&str>,
) -> SqlResult<Option<Arc<Table>>> {
    let (d, t) = crate::ddl::qualify_in(&ct.name, db)?;
    if temps.contains_key(&(d.clone(), t.clone())) {
        if ct.if_not_exists {
            return Ok(None);
        }
        return Err(SqlError::table_exists(&t));
    }
    let (def, auto_inc) = crate::ddl::temporary_def(cat, ct, db)?;
    if !def.foreign_keys.is_empty() {
        return Err(SqlError::unsupported("FOREIGN KEY on a TEMPORARY table"));
    }
    let table = Table::new_temporary(def);
    table.bump_auto_inc(auto_inc);
    Ok(Some(Arc::new(table)))
}

/// Installs a committed transaction's TEMPORARY rows at `seqno`: the
/// commit's seqno, or the horizon when nothing was replicated (every later
/// snapshot of the session is at least that).
pub fn install(txn: &Txn, seqno: u64) -> StorageResult<()> {
    for (_, tw) in txn.writes().filter(|(_, tw)| tw.table.is_temporary()) {
        for (pk, p) in &tw.rows {
            tw.table.install(pk, seqno, p.after.clone())?;
        }
        // Only this session reads the table, and its next snapshot is at
        // least `seqno`: older versions can go now.
        tw.table.collect_garbage(seqno)?;
    }
    Ok(())
}

/// ALTER TABLE, CREATE / DROP INDEX or RENAME TABLE of one TEMPORARY
/// table: the change is made as for any table, on a private copy of the
/// catalog, and the rows (all committed: the caller commits first) are
/// copied into a new TEMPORARY table. Returns the old key, the new key
/// (RENAME) and the new table.
pub fn alter(
    cat: &Catalog,
    temps: &Temporaries,
    stmt: &ast::Statement,
    db: Option<&str>,
    horizon: u64,
) -> SqlResult<Vec<Altered>> {
    let mut out = Vec::new();
    if let ast::Statement::RenameTable(rs) = stmt {
        for r in rs {
            let old = crate::ddl::qualify_in(&r.old_name, db)?;
            let new = crate::ddl::qualify_in(&r.new_name, db)?;
            let Some(t) = temps.get(&old) else {
                return Err(SqlError::unsupported(
                    "RENAME of TEMPORARY and other tables together",
                ));
            };
            if temps.contains_key(&new) {
                return Err(SqlError::table_exists(&new.1));
            }
            let mut def = t.def.clone();
            def.db = new.0.clone();
            def.name = new.1.clone();
            out.push((old, new, copy_rows(t, def, horizon)?));
        }
        return Ok(out);
    }
    let touched = crate::ddl::toi_tables(stmt, db);
    let [one] = touched.as_slice() else {
        return Err(SqlError::unsupported(
            "a change of TEMPORARY and other tables together",
        ));
    };
    let Some((d, t)) = one.split_once('.') else {
        return Err(SqlError::internal("unqualified table"));
    };
    let key = (d.to_string(), t.to_string());
    let scratch = crate::ddl::apply_private(cat, stmt, db, horizon)?;
    let changed = scratch
        .table(d, t)
        .ok_or_else(|| SqlError::unsupported("RENAME in ALTER of a TEMPORARY table"))?;
    let table = copy_rows(changed, changed.def.clone(), horizon)?;
    out.push((key.clone(), key, table));
    Ok(out)
}

/// A TEMPORARY table with definition `def` and the rows `from` holds at
/// `at`.
fn copy_rows(
    from: &Table,
    def: trireme_storage::catalog::TableDef,
    at: u64,
) -> SqlResult<Arc<Table>> {
    let to = Table::new_temporary(def);
    for (pk, row) in from.rows_at(at)? {
        to.install(&pk, at, Some(row))?;
    }
    to.bump_auto_inc(from.auto_inc_max());
    Ok(Arc::new(to))
}
