//! Multi-table UPDATE and DELETE (MySQL's join forms):
//! `UPDATE a JOIN b ON ... SET a.x = b.y, b.z = ... WHERE ...`,
//! `DELETE a, b FROM a JOIN b ON ... WHERE ...` and
//! `DELETE FROM a USING a JOIN b ...`.
//!
//! The join runs as a SELECT's does; each target row it reaches is updated
//! (or deleted) once, however many joined rows name it. Targets must be
//! stored tables with a primary key (the key identifies the row to write).

use std::collections::HashSet;
use std::sync::Arc;

use sqlparser::ast;
use trireme_storage::types::SqlType;
use trireme_storage::value::Value;
use trireme_storage::Table;

use crate::bind::BindEnv;
use crate::coerce::Coerce;
use crate::error::{SqlError, SqlResult};
use crate::expr::Expr;
use crate::func::tz::Zone;
use crate::select::{FromPlan, SourceData};
use crate::{Exec, Output};

impl Exec<'_> {
    pub(crate) fn multi_update(&mut self, u: &ast::Update) -> SqlResult<Output> {
        if !u.order_by.is_empty() || u.limit.is_some() {
            return Err(SqlError::new(
                1221,
                "HY000",
                "Incorrect usage of UPDATE and ORDER BY",
            ));
        }
        let mut from = vec![u.table.clone()];
        if let Some(
            ast::UpdateTableFromKind::BeforeSet(f) | ast::UpdateTableFromKind::AfterSet(f),
        ) = &u.from
        {
            from.extend(f.iter().cloned());
        }
        let mut plan = self.plan_from(&from)?;
        let scope = plan.scope.clone();
        // Assignments: (source, column in that table, expression).
        let mut sets: Vec<(usize, usize, Expr)> = Vec::new();
        for a in &u.assignments {
            let parts: Vec<String> = match &a.target {
                ast::AssignmentTarget::ColumnName(n) => crate::object_name_parts(n)?,
                ast::AssignmentTarget::Tuple(_) => {
                    return Err(SqlError::unsupported("tuple assignment"))
                }
            };
            let (table, col) = match parts.as_slice() {
                [c] => (None, c.as_str()),
                [t, c] => (Some(t.as_str()), c.as_str()),
                [_, t, c] => (Some(t.as_str()), c.as_str()),
                _ => return Err(SqlError::syntax("bad column name")),
            };
            let pos = scope.resolve(None, table, col, "field list")?;
            let src = source_of(&plan, pos)?;
            let target = stored(&plan, src)?;
            let c = &target.def.columns[pos - plan.sources[src].offset];
            if c.generated.is_some() {
                return Err(crate::generated::value_ignored(&c.name, &target.def.name));
            }
            let e = self.bind(&a.value, &mut BindEnv::new(&scope, "field list"))?;
            sets.push((src, pos - plan.sources[src].offset, e));
        }
        let rows = self.joined_rows(&mut plan, u.selection.as_ref())?;
        let zone = self.session_zone();
        let mut done: HashSet<(usize, Vec<u8>)> = HashSet::new();
        let (mut matched, mut changed) = (0u64, 0u64);
        let targets: Vec<usize> = {
            let mut t: Vec<usize> = sets.iter().map(|(s, _, _)| *s).collect();
            t.sort();
            t.dedup();
            t
        };
        for joined in rows {
            for &src in &targets {
                let Some((table, pk)) = target(&plan, src, &joined, &mut done, zone.as_ref())?
                else {
                    continue;
                };
                let off = plan.sources[src].offset;
                matched += 1;
                let Some(current) = self.txn.get(&table, &pk)? else {
                    continue;
                };
                let mut row = joined.clone();
                let mut new = current.to_vec();
                for (_, c, e) in sets.iter().filter(|(s, _, _)| *s == src) {
                    let col = &table.def.columns[*c];
                    let v = e.eval(&row)?;
                    if v.is_null() && !col.nullable {
                        return Err(SqlError::bad_null(&col.name));
                    }
                    let v = col.ty.coerce(v, &col.name)?;
                    // Later assignments see this one (MySQL's left to right).
                    row[off + *c] = v.clone();
                    new[*c] = match &zone {
                        Some(z) if matches!(col.ty, SqlType::Timestamp(_)) => {
                            crate::tstz::to_utc(z, v, &col.name)?
                        }
                        _ => v,
                    };
                }
                if trireme_storage::keycode::rows_equal(&new, &current) {
                    continue;
                }
                self.check_not_newer(&table, &pk)?;
                self.put_row(&table, Some(&pk), Some(&current), new)?;
                changed += 1;
            }
        }
        self.sess.found_rows = matched;
        Ok(Output::Ok {
            affected: if self.sess.client_found_rows {
                matched
            } else {
                changed
            },
            last_insert_id: 0,
            info: format!("Rows matched: {matched}  Changed: {changed}  Warnings: 0"),
        })
    }

    pub(crate) fn multi_delete(&mut self, d: &ast::Delete) -> SqlResult<Output> {
        if !d.order_by.is_empty() || d.limit.is_some() {
            return Err(SqlError::new(
                1221,
                "HY000",
                "Incorrect usage of DELETE and ORDER BY",
            ));
        }
        let from = match &d.from {
            ast::FromTable::WithFromKeyword(f) | ast::FromTable::WithoutKeyword(f) => f,
        };
        // `DELETE t1, t2 FROM join` or `DELETE FROM t1, t2 USING join`.
        let (target_names, join): (Vec<ast::ObjectName>, &Vec<ast::TableWithJoins>) = match &d.using
        {
            Some(using) => (
                from.iter()
                    .filter_map(|twj| match &twj.relation {
                        ast::TableFactor::Table { name, .. } => Some(name.clone()),
                        _ => None,
                    })
                    .collect(),
                using,
            ),
            None => (d.tables.clone(), from),
        };
        let mut plan = self.plan_from(join)?;
        let mut targets = Vec::new();
        for n in &target_names {
            let parts = crate::object_name_parts(n)?;
            let name = parts.last().cloned().unwrap_or_default();
            let src = plan
                .sources
                .iter()
                .position(|s| {
                    plan.scope
                        .cols
                        .get(s.offset)
                        .is_some_and(|c| c.source == name)
                })
                .ok_or_else(|| {
                    SqlError::new(
                        1109,
                        "42S02",
                        format!("Unknown table '{name}' in MULTI DELETE"),
                    )
                })?;
            targets.push(src);
        }
        let rows = self.joined_rows(&mut plan, d.selection.as_ref())?;
        let zone = self.session_zone();
        let mut done: HashSet<(usize, Vec<u8>)> = HashSet::new();
        let mut deleted = 0u64;
        for joined in rows {
            for &src in &targets {
                let Some((table, pk)) = target(&plan, src, &joined, &mut done, zone.as_ref())?
                else {
                    continue;
                };
                let Some(current) = self.txn.get(&table, &pk)? else {
                    continue;
                };
                self.check_not_newer(&table, &pk)?;
                self.txn.put(&table, pk, None)?;
                self.fk_parent_changed(&table, &current, None, 0)?;
                deleted += 1;
            }
        }
        Ok(Output::ok(deleted))
    }

    /// The joined rows of a multi-table statement that pass its WHERE.
    fn joined_rows(
        &mut self,
        plan: &mut FromPlan,
        selection: Option<&ast::Expr>,
    ) -> SqlResult<Vec<Vec<Value>>> {
        let scope = plan.scope.clone();
        let filters = match selection {
            Some(w) => self
                .bind(w, &mut BindEnv::new(&scope, "where clause"))?
                .conjuncts(),
            None => Vec::new(),
        };
        if filters.iter().any(Expr::has_correlated) {
            return Err(SqlError::unsupported(
                "a correlated subquery in a multi-table UPDATE or DELETE",
            ));
        }
        plan.choose_access(&filters, self.session_zone().is_some());
        self.run_join(plan, &filters, None, None)
    }
}

/// The stored row of target `src` a joined row reaches, the first time it
/// reaches it: None for a NULL-extended (LEFT JOIN) side or a repeat.
/// `zone`: the session's, in which the join read TIMESTAMP columns (the
/// key is made of stored values, `tstz`).
fn target(
    plan: &FromPlan,
    src: usize,
    joined: &[Value],
    done: &mut HashSet<(usize, Vec<u8>)>,
    zone: Option<&Zone>,
) -> SqlResult<Option<(Arc<Table>, Vec<u8>)>> {
    let table = stored(plan, src)?;
    let (off, width) = (plan.sources[src].offset, plan.sources[src].width);
    let old = &joined[off..off + width];
    if old.iter().all(Value::is_null) && plan.sources[src].left_join {
        return Ok(None);
    }
    let pk = match zone {
        Some(z) if crate::tstz::has_timestamps(&table.def) => {
            let stored: Vec<Value> = old
                .iter()
                .zip(&table.def.columns)
                .map(|(v, c)| match c.ty {
                    SqlType::Timestamp(_) => crate::tstz::to_utc(z, v.clone(), &c.name),
                    _ => Ok(v.clone()),
                })
                .collect::<SqlResult<_>>()?;
            pk_of(&table, &stored)?
        }
        _ => pk_of(&table, old)?,
    };
    if !done.insert((src, pk.clone())) {
        return Ok(None);
    }
    Ok(Some((table, pk)))
}

/// The source of scope position `pos`.
fn source_of(plan: &FromPlan, pos: usize) -> SqlResult<usize> {
    plan.sources
        .iter()
        .position(|s| pos >= s.offset && pos < s.offset + s.width)
        .ok_or_else(|| SqlError::internal("column outside every source"))
}

fn stored(plan: &FromPlan, src: usize) -> SqlResult<Arc<Table>> {
    match &plan.sources[src].data {
        SourceData::Stored(t) => Ok(t.clone()),
        SourceData::Rows(_) => {
            let name = plan
                .scope
                .cols
                .get(plan.sources[src].offset)
                .map_or(String::new(), |c| c.source.clone());
            Err(SqlError::new(
                1288,
                "HY000",
                format!("The target table {name} of the UPDATE is not updatable"),
            ))
        }
    }
}

fn pk_of(table: &Table, row: &[Value]) -> SqlResult<Vec<u8>> {
    table.def.pk_of(row).ok_or_else(|| {
        SqlError::unsupported(format!(
            "multi-table UPDATE or DELETE of `{}`, which has no PRIMARY KEY",
            table.def.name
        ))
    })
}
