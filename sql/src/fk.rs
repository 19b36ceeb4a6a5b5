//! Foreign keys, enforced as InnoDB does, and made safe across nodes.
//!
//! A child row written with a non-NULL key must find its parent row in the
//! transaction's view (snapshot plus own writes), else 1452. The parent row
//! found is recorded as a REFERENCE key in the write-set: certification
//! fails a child insert ordered after a concurrent delete (or key change)
//! of its parent, and a parent delete ordered after a concurrent child
//! insert, so "node A deletes the parent while node B inserts a child" can
//! never commit both (Galera's REFERENCE keys; `KeyKind::check`).
//!
//! Deleting a parent row, or changing its referenced key, finds the child
//! rows that reference the old key and applies the constraint's action:
//! RESTRICT / NO ACTION (1451), CASCADE (delete or rewrite the children,
//! recursively) or SET NULL. `foreign_key_checks = 0` skips all of it, for
//! dump restores.

use std::sync::Arc;

use trireme_storage::catalog::{FkAction, ForeignKeyDef, TableDef};
use trireme_storage::collation::Collation;
use trireme_storage::txn::LockKind;
use trireme_storage::value::{compare_collated, Value};
use trireme_storage::{Row, Table};

use crate::access;
use crate::coerce::Coerce;
use crate::error::{SqlError, SqlResult};
use crate::expr::{CmpOp, Expr};
use crate::{vars, Exec};

/// InnoDB stops cascading after this many levels.
const MAX_CASCADE_DEPTH: usize = 15;

impl Exec<'_> {
    fn fk_checks(&self) -> bool {
        checks_on(self.sess)
    }

    /// Checks the foreign keys of a child row just written (`old`: the row
    /// it replaced, for UPDATE) and records REFERENCE keys on the parents.
    pub(crate) fn fk_check_child(
        &mut self,
        table: &Table,
        new: &[Value],
        old: Option<&[Value]>,
    ) -> SqlResult<()> {
        if table.def.foreign_keys.is_empty() || !self.fk_checks() {
            return Ok(());
        }
        for fk in &table.def.foreign_keys {
            let vals: Vec<Value> = fk.columns.iter().map(|&c| new[c].clone()).collect();
            if vals.iter().any(Value::is_null) {
                continue;
            }
            let colls: Vec<Option<Collation>> = fk
                .columns
                .iter()
                .map(|&c| table.def.columns[c].collation)
                .collect();
            if old.is_some_and(|o| same_key(&fk.columns, o, &vals, &colls)) {
                continue;
            }
            let fails = || SqlError::fk_child(&table.def, fk);
            let parent = self
                .catalog
                .table(&fk.ref_db, &fk.ref_table)
                .cloned()
                .ok_or_else(fails)?;
            let pos = parent_positions(&parent.def, fk).ok_or_else(fails)?;
            let found = self.rows_with_key(&parent, &pos, &vals, 1)?;
            let Some((pk, _)) = found.into_iter().next() else {
                return Err(fails());
            };
            self.txn.lock(&parent, &pk, LockKind::Reference);
        }
        Ok(())
    }

    /// Applies the foreign keys that reference `table` after its row `old`
    /// was deleted (`new` None) or rewritten to `new`.
    pub(crate) fn fk_parent_changed(
        &mut self,
        table: &Arc<Table>,
        old: &[Value],
        new: Option<&[Value]>,
        depth: usize,
    ) -> SqlResult<()> {
        if !self.fk_checks() {
            return Ok(());
        }
        let children: Vec<(Arc<Table>, ForeignKeyDef)> = self
            .catalog
            .all_tables()
            .flat_map(|t| {
                t.def
                    .foreign_keys
                    .iter()
                    .filter(|fk| fk.ref_db == table.def.db && fk.ref_table == table.def.name)
                    .map(|fk| (t.clone(), fk.clone()))
                    .collect::<Vec<_>>()
            })
            .collect();
        for (child, fk) in children {
            let Some(pos) = parent_positions(&table.def, &fk) else {
                continue;
            };
            let key: Vec<Value> = pos.iter().map(|&p| old[p].clone()).collect();
            if key.iter().any(Value::is_null) {
                continue;
            }
            let colls: Vec<Option<Collation>> = pos
                .iter()
                .map(|&p| table.def.columns[p].collation)
                .collect();
            let new_key: Option<Vec<Value>> =
                new.map(|n| pos.iter().map(|&p| n[p].clone()).collect());
            if let Some(nk) = &new_key {
                if same_key(&(0..nk.len()).collect::<Vec<_>>(), nk, &key, &colls) {
                    continue;
                }
            }
            let refs = self.rows_with_key(&child, &fk.columns, &key, usize::MAX)?;
            if refs.is_empty() {
                continue;
            }
            let action = if new.is_some() {
                fk.on_update
            } else {
                fk.on_delete
            };
            if depth >= MAX_CASCADE_DEPTH {
                return Err(SqlError::fk_parent(&child.def, &fk));
            }
            match action {
                FkAction::Restrict | FkAction::NoAction => {
                    return Err(SqlError::fk_parent(&child.def, &fk));
                }
                FkAction::Cascade => match &new_key {
                    None => {
                        for (pk, row) in refs {
                            self.check_not_newer(&child, &pk)?;
                            self.txn.put(&child, pk, None)?;
                            self.fk_parent_changed(&child, &row, None, depth + 1)?;
                        }
                    }
                    Some(nk) => {
                        for (pk, row) in refs {
                            let mut next = row.to_vec();
                            for (&c, v) in fk.columns.iter().zip(nk) {
                                let col = &child.def.columns[c];
                                next[c] = col.ty.coerce(v.clone(), &col.name)?;
                            }
                            self.rewrite_child(&child, &pk, &row, next, depth)?;
                        }
                    }
                },
                FkAction::SetNull => {
                    for (pk, row) in refs {
                        let mut next = row.to_vec();
                        for &c in &fk.columns {
                            next[c] = Value::Null;
                        }
                        self.rewrite_child(&child, &pk, &row, next, depth)?;
                    }
                }
            }
        }
        Ok(())
    }

    fn rewrite_child(
        &mut self,
        child: &Arc<Table>,
        pk: &[u8],
        row: &Row,
        next: Vec<Value>,
        depth: usize,
    ) -> SqlResult<()> {
        self.check_not_newer(child, pk)?;
        self.put_row_keys(child, Some(pk), Some(row), next.clone())?;
        self.fk_parent_changed(child, row, Some(&next), depth + 1)
    }

    /// Rows of `table` whose columns `cols` equal `key` (under each
    /// column's collation), in the transaction's view; at most `limit`.
    fn rows_with_key(
        &mut self,
        table: &Arc<Table>,
        cols: &[usize],
        key: &[Value],
        limit: usize,
    ) -> SqlResult<Vec<(Vec<u8>, Row)>> {
        let mut preds = Vec::with_capacity(cols.len());
        for (&c, v) in cols.iter().zip(key) {
            let col = &table.def.columns[c];
            let v = col.ty.coerce(v.clone(), &col.name)?;
            preds.push(Expr::Cmp(
                CmpOp::Eq,
                Box::new(Expr::Col(c)),
                Box::new(Expr::Lit(v)),
                col.collation,
            ));
        }
        let refs: Vec<&Expr> = preds.iter().collect();
        let path = access::choose(&table.def, &refs, 0);
        let mut out = Vec::new();
        for (pk, r) in access::fetch(table, self.txn, &path, &[], &mut self.sess.vars.reads)? {
            let mut all = true;
            for p in &preds {
                if !p.holds(&r)? {
                    all = false;
                    break;
                }
            }
            if all {
                out.push((pk, r));
                if out.len() >= limit {
                    break;
                }
            }
        }
        Ok(out)
    }
}

/// The parent's column positions a foreign key references.
fn parent_positions(parent: &TableDef, fk: &ForeignKeyDef) -> Option<Vec<usize>> {
    fk.ref_columns
        .iter()
        .map(|c| parent.column_index(c))
        .collect()
}

/// Whether `row`'s columns `cols` equal `key` under the collations.
fn same_key(cols: &[usize], row: &[Value], key: &[Value], colls: &[Option<Collation>]) -> bool {
    cols.iter().zip(key).zip(colls).all(|((&c, k), coll)| {
        compare_collated(&row[c], k, *coll) == Some(std::cmp::Ordering::Equal)
    })
}

/// Whether the session's `foreign_key_checks` is on.
pub fn checks_on(sess: &crate::SessionState) -> bool {
    vars::read(sess, "foreign_key_checks", false)
        .ok()
        .and_then(|v| v.truth())
        .unwrap_or(true)
}

/// What `foreign_key_checks = 1` refuses of a DDL statement at the node
/// where it is issued, before it is ordered (the nodes that apply it do
/// not know the session's setting, so they accept it as a dump restore
/// would): a FOREIGN KEY naming a table that does not exist (1005, errno
/// 150), and a DROP TABLE of a parent whose children stay (1451).
pub fn check_ddl(
    s: &sqlparser::ast::Statement,
    cat: &trireme_storage::Catalog,
    db: Option<&str>,
) -> SqlResult<()> {
    use sqlparser::ast::{AlterTableOperation, ObjectType, Statement, TableConstraint};
    let missing_parent = |child: &sqlparser::ast::ObjectName,
                          fk: &sqlparser::ast::ForeignKeyConstraint|
     -> SqlResult<()> {
        let (cdb, ct) = crate::ddl::qualify_in(child, db)?;
        let (pdb, pt) = crate::ddl::qualify_in(&fk.foreign_table, Some(&cdb))?;
        let itself = pdb.eq_ignore_ascii_case(&cdb) && pt.eq_ignore_ascii_case(&ct);
        if itself || cat.table(&pdb, &pt).is_some() {
            return Ok(());
        }
        Err(SqlError::new(
            1005,
            "HY000",
            format!(
                "Can't create table `{cdb}`.`{ct}` (errno: 150 \"Foreign key constraint is incorrectly formed\")"
            ),
        ))
    };
    match s {
        Statement::CreateTable(ct) => {
            for c in &ct.constraints {
                if let TableConstraint::ForeignKey(fk) = c {
                    missing_parent(&ct.name, fk)?;
                }
            }
        }
        Statement::AlterTable(at) => {
            for op in &at.operations {
                if let AlterTableOperation::AddConstraint {
                    constraint: TableConstraint::ForeignKey(fk),
                    ..
                } = op
                {
                    missing_parent(&at.name, fk)?;
                }
            }
        }
        Statement::Drop {
            object_type: ObjectType::Table,
            names,
            ..
        } => {
            let dropped: Vec<(String, String)> = names
                .iter()
                .map(|n| crate::ddl::qualify_in(n, db))
                .collect::<SqlResult<_>>()?;
            let is_dropped = |d: &str, t: &str| {
                dropped
                    .iter()
                    .any(|(x, y)| x.eq_ignore_ascii_case(d) && y.eq_ignore_ascii_case(t))
            };
            for (pdb, pt) in &dropped {
                let referenced = cat.all_tables().any(|child| {
                    !is_dropped(&child.def.db, &child.def.name)
                        && child.def.foreign_keys.iter().any(|f| {
                            f.ref_db.eq_ignore_ascii_case(pdb)
                                && f.ref_table.eq_ignore_ascii_case(pt)
                        })
                });
                if referenced {
                    return Err(SqlError::new(
                        1451,
                        "23000",
                        "Cannot delete or update a parent row: a foreign key constraint fails",
                    ));
                }
            }
        }
        _ => {}
    }
    Ok(())
}
