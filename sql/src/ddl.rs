//! Schema and account changes. Every one is a Total Order Isolation event:
//! the session replicates the statement's text, and every node (the origin
//! included) applies it here at the same seqno, after every earlier
//! write-set is applied and before any later one starts (see `repl`).
//! Applying is deterministic: the same text on the same catalog gives the
//! same result, error or success, on every node.

use std::collections::BTreeMap;
use std::sync::Arc;

use sqlparser::ast::{self, Statement};

use crate::admin::{self, Admin};
use crate::coerce::Coerce;
use crate::error::{codes, SqlError, SqlResult};
use crate::{object_name_parts, sql_type, OutCol};
use trireme_storage::catalog::{
    ColumnDef, DefaultValue, FkAction, ForeignKeyDef, Generated, IndexDef, TableDef, UserDef,
    ViewDef,
};
use trireme_storage::collation::{Charset, Collation};
use trireme_storage::types::SqlType;
use trireme_storage::value::Value;
use trireme_storage::{Catalog, Database, Engine, Store, Table};

/// Databases that exist on every node from the start.
pub const SYSTEM_DATABASES: [&str; 4] =
    ["information_schema", "mysql", "performance_schema", "sys"];

/// Whether a parsed statement is replicated as TOI.
pub fn is_toi(stmt: &Statement) -> bool {
    matches!(
        stmt,
        Statement::CreateTable(_)
            | Statement::CreateDatabase { .. }
            | Statement::CreateSchema { .. }
            | Statement::Drop { .. }
            | Statement::Truncate(_)
            | Statement::AlterTable(_)
            | Statement::CreateIndex(_)
            | Statement::RenameTable(_)
            | Statement::CreateView(_)
            | Statement::AlterView { .. }
    )
}

pub fn is_toi_admin(a: &Admin) -> bool {
    matches!(
        a,
        Admin::CreateUser { .. }
            | Admin::CreateSequence { .. }
            | Admin::DropSequence { .. }
            | Admin::DropUser { .. }
            | Admin::AlterUser { .. }
            | Admin::SetPassword { .. }
    )
}

fn qualify(name: &ast::ObjectName, db: Option<&str>) -> SqlResult<(String, String)> {
    let parts = object_name_parts(name)?;
    match parts.as_slice() {
        [t] => Ok((db.ok_or_else(SqlError::no_db)?.to_string(), t.clone())),
        [d, t] => Ok((d.clone(), t.clone())),
        _ => Err(SqlError::syntax(format!("bad name '{name}'"))),
    }
}

/// The notes a TOI statement leaves when IF [NOT] EXISTS makes it skip a
/// name, decided on the node the client is connected to, before the
/// statement is ordered (a note is advice, not part of the state).
pub fn notes(stmt: &Statement, cat: &Catalog, db: Option<&str>) -> Vec<crate::Warning> {
    let q = |n: &ast::ObjectName| qualify(n, db).ok();
    let last = |n: &ast::ObjectName| {
        object_name_parts(n)
            .ok()
            .and_then(|p| p.last().cloned())
            .unwrap_or_default()
    };
    let mut out: Vec<SqlError> = Vec::new();
    match stmt {
        Statement::Drop {
            object_type,
            if_exists: true,
            names,
            ..
        } => {
            // Missing tables or views make one note that lists them all.
            let mut missing = Vec::new();
            for n in names {
                match object_type {
                    ast::ObjectType::Table => {
                        let Some((d, t)) = q(n) else { continue };
                        let name = format!("{d}.{t}");
                        if cat.view(&d, &t).is_some() {
                            out.push(SqlError::is_a_view(&name));
                        } else if cat.table(&d, &t).is_none() {
                            missing.push(name);
                        }
                    }
                    ast::ObjectType::View => {
                        let Some((d, v)) = q(n) else { continue };
                        if cat.view(&d, &v).is_none() {
                            missing.push(format!("{d}.{v}"));
                        }
                    }
                    ast::ObjectType::Database | ast::ObjectType::Schema => {
                        let d = last(n);
                        if !cat.databases.contains_key(&d) {
                            out.push(SqlError::db_drop_missing(&d));
                        }
                    }
                    _ => {}
                }
            }
            match object_type {
                _ if missing.is_empty() => {}
                ast::ObjectType::Table => out.push(SqlError::unknown_table(&missing.join(","))),
                _ => out.push(SqlError::unknown_view(&missing.join(","))),
            }
        }
        Statement::CreateDatabase {
            db_name,
            if_not_exists: true,
            ..
        } => {
            let d = last(db_name);
            if cat.databases.contains_key(&d) {
                out.push(SqlError::db_exists(&d));
            }
        }
        Statement::CreateTable(ct) if ct.if_not_exists => {
            if let Some((d, t)) = q(&ct.name) {
                if cat.table(&d, &t).is_some() || cat.view(&d, &t).is_some() {
                    out.push(SqlError::table_exists(&t));
                }
            }
        }
        _ => {}
    }
    let mut notes: Vec<crate::Warning> = out
        .into_iter()
        .map(|e| crate::Warning {
            level: "Note",
            code: e.code,
            message: e.message,
        })
        .collect();
    notes.extend(ignored_primary_key_names(stmt));
    notes
}

/// The affected-rows count MariaDB reports for a database statement,
/// decided like `notes` from the catalog before the statement is ordered:
/// CREATE DATABASE 1 when it creates one, DROP DATABASE the tables and
/// views it drops. None for other statements (they report 0).
pub fn database_affected_rows(stmt: &Statement, cat: &Catalog) -> Option<u64> {
    let last = |n: &ast::ObjectName| {
        object_name_parts(n)
            .ok()
            .and_then(|p| p.last().cloned())
            .unwrap_or_default()
    };
    match stmt {
        Statement::CreateDatabase { db_name, .. } => {
            Some(u64::from(!cat.databases.contains_key(&last(db_name))))
        }
        Statement::CreateSchema {
            schema_name: ast::SchemaName::Simple(n),
            ..
        } => Some(u64::from(!cat.databases.contains_key(&last(n)))),
        Statement::Drop {
            object_type: ast::ObjectType::Database | ast::ObjectType::Schema,
            names,
            ..
        } => Some(
            names
                .iter()
                .filter_map(|n| cat.databases.get(&last(n)))
                .map(|d| (d.tables.len() + d.views.len()) as u64)
                .sum(),
        ),
        _ => None,
    }
}

/// MariaDB's warning for a name given to a PRIMARY KEY: the primary key
/// is always called PRIMARY.
fn ignored_primary_key_names(stmt: &Statement) -> Vec<crate::Warning> {
    let constraints: Vec<&ast::TableConstraint> = match stmt {
        Statement::CreateTable(ct) => ct.constraints.iter().collect(),
        Statement::AlterTable(a) => a
            .operations
            .iter()
            .filter_map(|op| match op {
                ast::AlterTableOperation::AddConstraint { constraint, .. } => Some(constraint),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    constraints
        .into_iter()
        .filter_map(|c| match c {
            ast::TableConstraint::PrimaryKey(pk) => pk.index_name.as_ref().or(pk.name.as_ref()),
            _ => None,
        })
        .filter(|n| !n.value.eq_ignore_ascii_case("PRIMARY"))
        .map(|n| crate::Warning {
            level: "Warning",
            code: 1280,
            message: format!("Name '{}' ignored for PRIMARY key.", n.value),
        })
        .collect()
}

/// The qualified tables a TOI statement is a certification barrier for.
pub fn toi_tables(stmt: &Statement, db: Option<&str>) -> Vec<String> {
    let q = |n: &ast::ObjectName| qualify(n, db).ok().map(|(d, t)| format!("{d}.{t}"));
    let mut out: Vec<String> = match stmt {
        Statement::CreateTable(ct) => q(&ct.name).into_iter().collect(),
        Statement::Drop {
            object_type: ast::ObjectType::Table,
            names,
            ..
        } => names.iter().filter_map(q).collect(),
        Statement::Drop {
            object_type: ast::ObjectType::Index,
            table: Some(t),
            ..
        } => q(t).into_iter().collect(),
        // The database itself: certification treats it as the parent of
        // all its tables (hierarchical keys), so the barrier does not depend
        // on which tables this node's catalog happens to hold yet.
        Statement::Drop {
            object_type: ast::ObjectType::Database | ast::ObjectType::Schema,
            names,
            ..
        } => names
            .iter()
            .filter_map(|n| object_name_parts(n).ok()?.last().cloned())
            .collect(),
        Statement::Truncate(t) => t.table_names.iter().filter_map(|x| q(&x.name)).collect(),
        Statement::AlterTable(a) => {
            let mut v: Vec<String> = q(&a.name).into_iter().collect();
            for op in &a.operations {
                if let ast::AlterTableOperation::RenameTable { table_name } = op {
                    let n = match table_name {
                        ast::RenameTableNameKind::As(n) | ast::RenameTableNameKind::To(n) => n,
                    };
                    v.extend(q(n));
                }
            }
            v
        }
        Statement::CreateIndex(ci) => q(&ci.table_name).into_iter().collect(),
        Statement::CreateView(cv) => q(&cv.name).into_iter().collect(),
        Statement::AlterView { name, .. } => q(name).into_iter().collect(),
        Statement::Drop {
            object_type: ast::ObjectType::View,
            names,
            ..
        } => names.iter().filter_map(q).collect(),
        Statement::RenameTable(rs) => rs
            .iter()
            .flat_map(|r| [q(&r.old_name), q(&r.new_name)])
            .flatten()
            .collect(),
        _ => Vec::new(),
    };
    out.sort();
    out.dedup();
    out
}

/// Applies one TOI statement's text at `seqno`.
/// `now` is the origin's clock when the statement ran, the same on every
/// node.
pub fn apply(
    store: &Store,
    text: &str,
    db: Option<&str>,
    seqno: u64,
    now: trireme_storage::value::DateTime,
) -> SqlResult<()> {
    let mut cat = (*store.catalog()).clone();
    let snapshot = store.horizon();
    if let Some(a) = admin::parse_admin(text)? {
        if let Admin::AlterTableMeta {
            db: tdb,
            table,
            change,
        } = &a
        {
            let d = tdb
                .as_deref()
                .or(db)
                .ok_or_else(SqlError::no_db)?
                .to_string();
            let ops = match change {
                admin::MetaChange::Comment(c) => vec![AlterOp::Comment(c.clone())],
                admin::MetaChange::RenameIndex { from, to } => vec![AlterOp::RenameIndex {
                    from: from.clone(),
                    to: to.clone(),
                }],
                admin::MetaChange::Options(options) => {
                    let current = cat
                        .databases
                        .get(&d)
                        .and_then(|x| x.tables.get(table))
                        .map_or(Collation::default(), |t| t.def.collation);
                    options
                        .iter()
                        .map(|o| table_option_op(o, current))
                        .collect::<SqlResult<Vec<_>>>()?
                }
            };
            let mut ctx = DdlCtx::new(&mut cat, store.engine(), db, seqno, snapshot, now);
            ctx.alter(&d, table, &ops)?;
        } else if matches!(a, Admin::CreateSequence { .. } | Admin::DropSequence { .. }) {
            let mut ctx = DdlCtx::new(&mut cat, store.engine(), db, seqno, snapshot, now);
            ctx.sequence(&a)?;
            let after = ctx.after.take();
            store.set_catalog(cat);
            return after.map_or(Ok(()), Err);
        } else {
            apply_admin(&mut cat, &a)?;
        }
        store.set_catalog(cat);
        return Ok(());
    }
    let stmts = crate::parse(text)?;
    let [stmt] = stmts.as_slice() else {
        return Err(SqlError::syntax("expected exactly one DDL statement"));
    };
    let check_option = crate::view_check_option(text);
    let mut ctx = DdlCtx::new(&mut cat, store.engine(), db, seqno, snapshot, now);
    ctx.apply(stmt)?;
    let after = ctx.after.take();
    // The parser never sees a view's CHECK OPTION (`parse` drops it): keep
    // it for SHOW CREATE VIEW and information_schema.VIEWS.
    let view_name = match stmt {
        Statement::CreateView(cv) => Some(&cv.name),
        Statement::AlterView { name, .. } => Some(name),
        _ => None,
    };
    if let Some(name) = view_name {
        let (d, v) = qualify(name, db)?;
        if let Some(view) = cat.databases.get_mut(&d).and_then(|x| x.views.get_mut(&v)) {
            view.check_option = check_option.unwrap_or("NONE").into();
        }
    }
    store.set_catalog(cat);
    after.map_or(Ok(()), Err)
}

fn apply_admin(cat: &mut Catalog, a: &Admin) -> SqlResult<()> {
    let key = |acc: &admin::Account| format!("'{}'@'{}'", acc.user, acc.host);
    match a {
        Admin::CreateUser {
            if_not_exists,
            users,
        } => {
            for (acc, pw) in users {
                if cat.users.contains_key(&key(acc)) {
                    if *if_not_exists {
                        continue;
                    }
                    return Err(SqlError::new(
                        crate::error::codes::CANNOT_USER,
                        "HY000",
                        format!("Operation CREATE USER failed for {}", key(acc)),
                    ));
                }
                cat.users.insert(
                    key(acc),
                    UserDef::with_password(&acc.user, &acc.host, pw.as_deref().unwrap_or("")),
                );
            }
            Ok(())
        }
        Admin::DropUser { if_exists, users } => {
            for acc in users {
                if cat.users.remove(&key(acc)).is_none() && !if_exists {
                    return Err(SqlError::new(
                        crate::error::codes::CANNOT_USER,
                        "HY000",
                        format!("Operation DROP USER failed for {}", key(acc)),
                    ));
                }
            }
            Ok(())
        }
        Admin::AlterUser { if_exists, users } => {
            for (acc, pw) in users {
                match cat.users.get_mut(&key(acc)) {
                    Some(u) => {
                        if let Some(pw) = pw {
                            *u = UserDef::with_password(&acc.user, &acc.host, pw);
                        }
                    }
                    None if *if_exists => {}
                    None => {
                        return Err(SqlError::new(
                            crate::error::codes::CANNOT_USER,
                            "HY000",
                            format!("Operation ALTER USER failed for {}", key(acc)),
                        ))
                    }
                }
            }
            Ok(())
        }
        Admin::SetPassword { user, password } => {
            let acc = user.clone().ok_or_else(|| {
                SqlError::internal("SET PASSWORD without FOR is resolved by the session")
            })?;
            match cat.users.get_mut(&key(&acc)) {
                Some(u) => {
                    *u = UserDef::with_password(&acc.user, &acc.host, password);
                    Ok(())
                }
                None => Err(SqlError::new(
                    crate::error::codes::NONEXISTING_GRANT,
                    "42000",
                    format!(
                        "There is no such grant defined for user '{}' on host '{}'",
                        acc.user, acc.host
                    ),
                )),
            }
        }
        _ => Err(SqlError::internal("not an account statement")),
    }
}

struct DdlCtx<'a> {
    cat: &'a mut Catalog,
    /// Where new tables keep their rows.
    engine: &'a Engine,
    db: Option<&'a str>,
    seqno: u64,
    snapshot: u64,
    now: trireme_storage::value::DateTime,
    /// An error answered after the statement's changes are kept: a DROP of
    /// several names drops those that exist, then reports the others, as
    /// MariaDB does (every node keeps the same changes).
    after: Option<SqlError>,
}

impl<'a> DdlCtx<'a> {
    fn new(
        cat: &'a mut Catalog,
        engine: &'a Engine,
        db: Option<&'a str>,
        seqno: u64,
        snapshot: u64,
        now: trireme_storage::value::DateTime,
    ) -> DdlCtx<'a> {
        DdlCtx {
            cat,
            engine,
            db,
            seqno,
            snapshot,
            now,
            after: None,
        }
    }

    fn db_mut(&mut self, db: &str) -> SqlResult<&mut Database> {
        self.cat
            .databases
            .get_mut(db)
            .ok_or_else(|| SqlError::unknown_db(db))
    }

    fn table(&self, db: &str, name: &str) -> SqlResult<Arc<Table>> {
        if !self.cat.databases.contains_key(db) {
            return Err(SqlError::unknown_db(db));
        }
        self.cat
            .table(db, name)
            .cloned()
            .ok_or_else(|| SqlError::no_such_table(db, name))
    }

    fn apply(&mut self, stmt: &Statement) -> SqlResult<()> {
        match stmt {
            Statement::CreateDatabase {
                db_name,
                if_not_exists,
                default_charset,
                default_collation,
                ..
            } => {
                let coll = resolve_collation(
                    default_charset.as_deref(),
                    default_collation.as_deref(),
                    Collation::default(),
                )?;
                self.create_database(db_name, *if_not_exists, coll)
            }
            Statement::CreateSchema {
                schema_name: ast::SchemaName::Simple(n),
                if_not_exists,
                ..
            } => self.create_database(n, *if_not_exists, Collation::default()),
            Statement::Drop {
                object_type,
                if_exists,
                names,
                table,
                ..
            } => match object_type {
                ast::ObjectType::Database | ast::ObjectType::Schema => {
                    for n in names {
                        let d = object_name_parts(n)?.last().cloned().unwrap_or_default();
                        if SYSTEM_DATABASES.iter().any(|s| s.eq_ignore_ascii_case(&d)) {
                            return Err(SqlError::access_denied_db("root", &d));
                        }
                        if self.cat.databases.remove(&d).is_none() && !if_exists {
                            return Err(SqlError::db_drop_missing(&d));
                        }
                    }
                    Ok(())
                }
                ast::ObjectType::Table => self.drop_named(names, *if_exists, false),
                ast::ObjectType::View => self.drop_named(names, *if_exists, true),
                ast::ObjectType::Index => {
                    let t = table
                        .as_ref()
                        .ok_or_else(|| SqlError::syntax("DROP INDEX needs ON table"))?;
                    let (d, tn) = qualify(t, self.db)?;
                    let idx = object_name_parts(&names[0])?
                        .last()
                        .cloned()
                        .unwrap_or_default();
                    self.alter(&d, &tn, &[AlterOp::DropIndex(idx)])
                }
                other => Err(SqlError::unsupported(format!("DROP {other}"))),
            },
            Statement::CreateTable(ct) => self.create_table(ct),
            Statement::CreateView(cv) => {
                let columns = cv.columns.iter().map(|c| c.name.value.clone()).collect();
                let params = cv.params.as_ref();
                let view = |d: String, v: String| ViewDef {
                    db: d,
                    name: v,
                    columns,
                    select: cv.query.to_string(),
                    algorithm: params
                        .and_then(|p| p.algorithm.as_ref())
                        .map_or("UNDEFINED".into(), |a| a.to_string()),
                    definer: "`root`@`%`".into(),
                    security: params
                        .and_then(|p| p.security.as_ref())
                        .map_or("DEFINER".into(), |x| x.to_string()),
                    check_option: "NONE".into(),
                };
                let (d, v) = qualify(&cv.name, self.db)?;
                self.create_view(
                    view(d, v),
                    cv.or_replace || cv.or_alter,
                    cv.if_not_exists,
                    false,
                )
            }
            Statement::AlterView {
                name,
                columns,
                query,
                ..
            } => {
                let (d, v) = qualify(name, self.db)?;
                let old = self
                    .cat
                    .view(&d, &v)
                    .cloned()
                    .ok_or_else(|| SqlError::no_such_table(&d, &v))?;
                let new = ViewDef {
                    columns: columns.iter().map(|c| c.value.clone()).collect(),
                    select: query.to_string(),
                    ..old
                };
                self.create_view(new, true, false, true)
            }
            Statement::Truncate(t) => {
                for target in &t.table_names {
                    let (d, tn) = qualify(&target.name, self.db)?;
                    let old = self.table(&d, &tn)?;
                    let mut def = old.def.clone();
                    def.version = self.seqno;
                    let fresh = old.empty_like(def)?;
                    self.db_mut(&d)?.tables.insert(tn, Arc::new(fresh));
                }
                Ok(())
            }
            Statement::CreateIndex(ci) => {
                let (d, tn) = qualify(&ci.table_name, self.db)?;
                let name = match &ci.name {
                    Some(n) => object_name_parts(n)?.last().cloned().unwrap_or_default(),
                    None => return Err(SqlError::syntax("CREATE INDEX needs a name")),
                };
                let cols = index_columns(&ci.columns)?;
                let t = self.table(&d, &tn)?;
                if ci.if_not_exists && t.def.index_by_name(&name).is_some() {
                    return Ok(());
                }
                self.alter(
                    &d,
                    &tn,
                    &[AlterOp::AddIndex {
                        name: Some(name),
                        cols,
                        unique: ci.unique,
                    }],
                )
            }
            Statement::RenameTable(rs) => {
                for r in rs {
                    let (od, ot) = qualify(&r.old_name, self.db)?;
                    let (nd, nt) = qualify(&r.new_name, self.db)?;
                    self.rename(&od, &ot, &nd, &nt)?;
                }
                Ok(())
            }
            Statement::AlterTable(a) => {
                let (d, tn) = qualify(&a.name, self.db)?;
                if a.if_exists && self.cat.table(&d, &tn).is_none() {
                    return Ok(());
                }
                let mut ops = Vec::new();
                let mut rename_to = None;
                for op in &a.operations {
                    match op {
                        ast::AlterTableOperation::RenameTable { table_name } => {
                            let n = match table_name {
                                ast::RenameTableNameKind::As(n)
                                | ast::RenameTableNameKind::To(n) => n,
                            };
                            rename_to = Some(qualify(n, Some(&d))?);
                        }
                        other => ops.push(alter_op(other)?),
                    }
                }
                if !ops.is_empty() {
                    self.alter(&d, &tn, &ops)?;
                }
                if let Some((nd, nt)) = rename_to {
                    self.rename(&d, &tn, &nd, &nt)?;
                }
                Ok(())
            }
            other => Err(SqlError::internal(format!("not a DDL statement: {other}"))),
        }
    }

    fn create_database(
        &mut self,
        name: &ast::ObjectName,
        if_not_exists: bool,
        collation: Collation,
    ) -> SqlResult<()> {
        let d = object_name_parts(name)?.last().cloned().unwrap_or_default();
        check_identifier(&d)?;
        if self.cat.databases.contains_key(&d)
            || SYSTEM_DATABASES.iter().any(|s| s.eq_ignore_ascii_case(&d))
        {
            if if_not_exists {
                return Ok(());
            }
            return Err(SqlError::db_exists(&d));
        }
        self.cat.databases.insert(
            d.clone(),
            Database {
                name: d,
                tables: BTreeMap::new(),
                collation,
                views: BTreeMap::new(),
            },
        );
        Ok(())
    }

    /// DROP TABLE / DROP VIEW: MySQL checks every name first and drops
    /// none if one is missing (without IF EXISTS).
    /// DROP TABLE / DROP VIEW: drops the names that exist; the others
    /// are reported after (unless IF EXISTS), a view named by DROP TABLE
    /// first (1965).
    fn drop_named(
        &mut self,
        names: &[ast::ObjectName],
        if_exists: bool,
        views: bool,
    ) -> SqlResult<()> {
        let mut targets = Vec::new();
        let mut missing = Vec::new();
        let mut a_view = None;
        for n in names {
            let (d, t) = qualify(n, self.db)?;
            let found = if views {
                self.cat.view(&d, &t).is_some()
            } else {
                self.cat.table(&d, &t).is_some()
            };
            if found {
                targets.push((d, t));
            } else if !views && self.cat.view(&d, &t).is_some() {
                a_view.get_or_insert(format!("{d}.{t}"));
            } else {
                missing.push(format!("{d}.{t}"));
            }
        }
        for (d, t) in targets {
            let db = self.db_mut(&d)?;
            if views {
                db.views.remove(&t);
            } else {
                db.tables.remove(&t);
            }
        }
        if !if_exists {
            self.after = match a_view {
                Some(v) => Some(SqlError::is_a_view(&v)),
                None if missing.is_empty() => None,
                None if views => Some(SqlError::unknown_view(&missing.join(","))),
                None => Some(SqlError::unknown_table(&missing.join(","))),
            };
        }
        Ok(())
    }

    /// Stores a view. Its SELECT must read only tables and views that
    /// exist (checked against the catalog, so every node decides alike).
    fn create_view(
        &mut self,
        v: ViewDef,
        replace: bool,
        if_not_exists: bool,
        must_exist: bool,
    ) -> SqlResult<()> {
        if !self.cat.databases.contains_key(&v.db) {
            return Err(SqlError::unknown_db(&v.db));
        }
        check_identifier(&v.name)?;
        if self.cat.table(&v.db, &v.name).is_some() {
            return Err(SqlError::table_exists(&v.name));
        }
        let exists = self.cat.view(&v.db, &v.name).is_some();
        if exists && !replace {
            if if_not_exists {
                return Ok(());
            }
            return Err(SqlError::table_exists(&v.name));
        }
        if must_exist && !exists {
            return Err(SqlError::no_such_table(&v.db, &v.name));
        }
        let q = match crate::parse(&v.select)?.into_iter().next() {
            Some(Statement::Query(q)) => q,
            _ => return Err(SqlError::syntax("a view needs a SELECT")),
        };
        for (d, t) in read_tables(&q, &v.db) {
            let known = self.cat.table(&d, &t).is_some()
                || self.cat.view(&d, &t).is_some()
                || d.eq_ignore_ascii_case("information_schema");
            // Replacing a view may keep reading its old self's tables.
            let itself = d == v.db && t == v.name && exists;
            if !known && !itself {
                return Err(SqlError::no_such_table(&d, &t));
            }
        }
        let (db, name) = (v.db.clone(), v.name.clone());
        self.db_mut(&db)?.views.insert(name, v);
        Ok(())
    }

    fn rename(&mut self, od: &str, ot: &str, nd: &str, nt: &str) -> SqlResult<()> {
        if self.cat.table(od, ot).is_none() && self.cat.view(od, ot).is_some() {
            return self.rename_view(od, ot, nd, nt);
        }
        let old = self.table(od, ot)?;
        if !self.cat.databases.contains_key(nd) {
            return Err(SqlError::unknown_db(nd));
        }
        if self.cat.table(nd, nt).is_some() {
            return Err(SqlError::table_exists(nt));
        }
        check_identifier(nt)?;
        let mut def = old.def.clone();
        def.db = nd.to_string();
        def.name = nt.to_string();
        def.version = self.seqno;
        // InnoDB's generated key names carry the table's name and follow it.
        let generated = format!("{ot}_ibfk_");
        for fk in &mut def.foreign_keys {
            if let Some(n) = fk.name.strip_prefix(&generated) {
                fk.name = format!("{nt}_ibfk_{n}");
            }
        }
        let t = old.rebuild(def, self.snapshot, self.seqno, |r| {
            Ok::<_, SqlError>(r.to_vec())
        })?;
        self.db_mut(od)?.tables.remove(ot);
        self.db_mut(nd)?.tables.insert(nt.to_string(), Arc::new(t));
        self.retarget_foreign_keys(od, ot, |fk| {
            fk.ref_db = nd.to_string();
            fk.ref_table = nt.to_string();
        })
    }

    /// CREATE SEQUENCE (a one-row table, its row installed at this seqno
    /// on every node alike) and DROP SEQUENCE.
    fn sequence(&mut self, a: &Admin) -> SqlResult<()> {
        use crate::sequence;
        let current = self.db.map(str::to_string);
        let qualify = |n: &(Option<String>, String)| -> SqlResult<(String, String)> {
            let d = match &n.0 {
                Some(d) => d.clone(),
                None => current.clone().ok_or_else(SqlError::no_db)?,
            };
            Ok((d, n.1.clone()))
        };
        match a {
            Admin::CreateSequence {
                name,
                or_replace,
                if_not_exists,
                options,
            } => {
                let (d, n) = qualify(name)?;
                if !self.cat.databases.contains_key(&d) {
                    return Err(SqlError::unknown_db(&d));
                }
                check_identifier(&n)?;
                let existing = self
                    .cat
                    .table(&d, &n)
                    .map(|t| sequence::is_sequence(&t.def));
                match existing {
                    Some(_) if *if_not_exists => return Ok(()),
                    Some(true) if *or_replace => {}
                    Some(_) => return Err(SqlError::table_exists(&n)),
                    None if self.cat.view(&d, &n).is_some() => {
                        return Err(SqlError::table_exists(&n))
                    }
                    None => {}
                }
                let state = options.state(&format!("{d}.{n}"))?;
                let collation = self
                    .cat
                    .databases
                    .get(&d)
                    .map(|x| x.collation)
                    .unwrap_or_default();
                let def = sequence::table_def(&d, &n, collation, self.seqno);
                let t = Table::create(def, self.engine)?;
                t.install(sequence::ROW_KEY, self.seqno, Some(state.to_row().into()))?;
                self.db_mut(&d)?.tables.insert(n, Arc::new(t));
                Ok(())
            }
            Admin::DropSequence { if_exists, names } => {
                let mut missing = Vec::new();
                let mut a_table = None;
                for name in names {
                    let (d, n) = qualify(name)?;
                    match self.cat.table(&d, &n) {
                        Some(t) if sequence::is_sequence(&t.def) => {
                            self.db_mut(&d)?.tables.remove(&n);
                        }
                        Some(_) => {
                            a_table.get_or_insert((d, n));
                        }
                        None => missing.push(format!("{d}.{n}")),
                    }
                }
                if let (Some((d, n)), false) = (a_table, *if_exists) {
                    self.after = Some(SqlError::new(
                        4090,
                        "42S02",
                        format!("'{d}.{n}' is not a SEQUENCE"),
                    ));
                } else if !missing.is_empty() && !if_exists {
                    self.after = Some(SqlError::new(
                        4091,
                        "42S02",
                        format!("Unknown SEQUENCE: '{}'", missing.join(",")),
                    ));
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// RENAME TABLE of a view: within its database only, as in MariaDB.
    fn rename_view(&mut self, od: &str, ov: &str, nd: &str, nv: &str) -> SqlResult<()> {
        if od != nd {
            return Err(SqlError::new(
                1450,
                "HY000",
                format!("Changing schema from '{od}' to '{nd}' is not allowed"),
            ));
        }
        if self.cat.table(nd, nv).is_some() || self.cat.view(nd, nv).is_some() {
            return Err(SqlError::table_exists(nv));
        }
        check_identifier(nv)?;
        let db = self.db_mut(od)?;
        let Some(mut v) = db.views.remove(ov) else {
            return Err(SqlError::no_such_table(od, ov));
        };
        v.name = nv.to_string();
        db.views.insert(nv.to_string(), v);
        Ok(())
    }

    /// Applies `change` to every foreign key that references `d`.`t` (in
    /// any table, the referenced one included): a renamed parent table or
    /// column is what its children's keys name from then on, as in InnoDB,
    /// both for enforcement and for information_schema.
    fn retarget_foreign_keys(
        &mut self,
        d: &str,
        t: &str,
        change: impl Fn(&mut trireme_storage::catalog::ForeignKeyDef),
    ) -> SqlResult<()> {
        let refers =
            |fk: &trireme_storage::catalog::ForeignKeyDef| fk.ref_db == d && fk.ref_table == t;
        let children: Vec<Arc<Table>> = self
            .cat
            .all_tables()
            .filter(|c| c.def.foreign_keys.iter().any(refers))
            .cloned()
            .collect();
        for child in children {
            let mut def = child.def.clone();
            for fk in def.foreign_keys.iter_mut().filter(|fk| refers(fk)) {
                change(fk);
            }
            // A new definition means a new table object, and rows copied
            // at this seqno: older snapshots must see the definition change.
            def.version = self.seqno;
            let (cd, cn) = (def.db.clone(), def.name.clone());
            let fresh = child.rebuild(def, self.snapshot, self.seqno, |r| {
                Ok::<_, SqlError>(r.to_vec())
            })?;
            self.db_mut(&cd)?.tables.insert(cn, Arc::new(fresh));
        }
        Ok(())
    }

    fn create_table(&mut self, ct: &ast::CreateTable) -> SqlResult<()> {
        let (d, tn) = qualify(&ct.name, self.db)?;
        if ct.temporary {
            return Err(SqlError::unsupported("TEMPORARY tables"));
        }
        if !self.cat.databases.contains_key(&d) {
            return Err(SqlError::unknown_db(&d));
        }
        if self.cat.table(&d, &tn).is_some() || self.cat.view(&d, &tn).is_some() {
            if ct.if_not_exists {
                return Ok(());
            }
            return Err(SqlError::table_exists(&tn));
        }
        check_identifier(&tn)?;
        if let Some(like) = &ct.like {
            let src = match like {
                ast::CreateTableLikeKind::Parenthesized(l) | ast::CreateTableLikeKind::Plain(l) => {
                    &l.name
                }
            };
            let (sd, st) = qualify(src, self.db)?;
            let mut def = self.table(&sd, &st)?.def.clone();
            def.db = d.clone();
            def.name = tn.clone();
            def.version = self.seqno;
            let t = Table::create(def, self.engine)?;
            self.db_mut(&d)?.tables.insert(tn, Arc::new(t));
            return Ok(());
        }
        let db_collation = self
            .cat
            .databases
            .get(&d)
            .map(|x| x.collation)
            .unwrap_or_default();
        let mut def = TableDef {
            db: d.clone(),
            name: tn.clone(),
            columns: Vec::new(),
            primary: None,
            indexes: Vec::new(),
            next_index_id: 1,
            engine: "InnoDB".into(),
            collation: db_collation,
            comment: String::new(),
            version: self.seqno,
            foreign_keys: Vec::new(),
            checks: Vec::new(),
        };
        // The table's collation is every column's default: read it first.
        apply_table_options(&mut def, &ct.table_options)?;
        let mut pending_indexes: Vec<(Option<String>, Vec<String>, bool)> = Vec::new();
        let mut pending_fks: Vec<ast::ForeignKeyConstraint> = Vec::new();
        for cd in &ct.columns {
            let (mut col, pk, unique) = column_def(cd)?;
            settle_collation(&mut col, def.collation);
            check_varchar_length(&col)?;
            if def.column_index(&col.name).is_some() {
                return Err(SqlError::dup_fieldname(&col.name));
            }
            if pk {
                if def.primary.is_some() {
                    return Err(SqlError::multiple_pri_key());
                }
                def.primary = Some(vec![def.columns.len()]);
            }
            if unique {
                pending_indexes.push((Some(col.name.clone()), vec![col.name.clone()], true));
            }
            def.columns.push(col);
        }
        if def.columns.is_empty() {
            return Err(SqlError::new(
                1113,
                "42000",
                "A table must have at least 1 column",
            ));
        }
        for c in &ct.constraints {
            match c {
                ast::TableConstraint::PrimaryKey(pk) => {
                    if def.primary.is_some() {
                        return Err(SqlError::multiple_pri_key());
                    }
                    let cols = index_columns(&pk.columns)?;
                    def.primary = Some(key_positions(&def, &cols)?);
                }
                ast::TableConstraint::Unique(u) => {
                    let name = u
                        .index_name
                        .as_ref()
                        .or(u.name.as_ref())
                        .map(|i| i.value.clone());
                    pending_indexes.push((name, index_columns(&u.columns)?, true));
                }
                ast::TableConstraint::Index(i) => {
                    pending_indexes.push((
                        i.name.as_ref().map(|n| n.value.clone()),
                        index_columns(&i.columns)?,
                        false,
                    ));
                }
                ast::TableConstraint::ForeignKey(fk) => pending_fks.push(fk.clone()),
                ast::TableConstraint::Check(c) => add_check(&mut def, c)?,
                other => return Err(SqlError::unsupported(format!("constraint {other}"))),
            }
        }
        if let Some(pk) = &def.primary {
            for &c in pk {
                def.columns[c].nullable = false;
            }
        }
        for (name, cols, unique) in pending_indexes {
            add_index(&mut def, name, &cols, unique)?;
        }
        for fk in &pending_fks {
            add_foreign_key(&mut def, fk, self.cat)?;
        }
        check_auto_increment(&def)?;
        crate::generated::validate(&def)?;
        let auto_start = table_option_auto_increment(&ct.table_options);
        let t = Table::create(def, self.engine)?;
        if let Some(n) = auto_start {
            t.bump_auto_inc(n.saturating_sub(1));
        }
        self.db_mut(&d)?.tables.insert(tn, Arc::new(t));
        Ok(())
    }

    /// Applies ALTER operations by building a new table.
    fn alter(&mut self, d: &str, tn: &str, ops: &[AlterOp]) -> SqlResult<()> {
        let old = self.table(d, tn)?;
        let mut def = old.def.clone();
        // For each new column position: where its value comes from.
        let mut source: Vec<ColSource> = (0..def.columns.len()).map(ColSource::Old).collect();
        let mut auto_inc_start = None;
        let mut renamed_columns: Vec<(String, String)> = Vec::new();
        for op in ops {
            match op {
                AlterOp::AddColumn {
                    col,
                    pk,
                    unique,
                    position,
                } => {
                    if def.column_index(&col.name).is_some() {
                        return Err(SqlError::dup_fieldname(&col.name));
                    }
                    if !col.nullable && col.default.is_none() && !col.auto_increment {
                        // MySQL fills existing rows with the type's implicit
                        // default; so do we.
                    }
                    let at = match position {
                        Position::Last => def.columns.len(),
                        Position::First => 0,
                        Position::After(a) => {
                            def.column_index(a)
                                .ok_or_else(|| SqlError::bad_field(a, tn))?
                                + 1
                        }
                    };
                    let mut col = col.clone();
                    settle_collation(&mut col, def.collation);
                    check_varchar_length(&col)?;
                    let name = col.name.clone();
                    insert_column(&mut def, &mut source, at, col, ColSource::New);
                    if *pk {
                        if def.primary.is_some() {
                            return Err(SqlError::multiple_pri_key());
                        }
                        def.primary = Some(vec![at]);
                        def.columns[at].nullable = false;
                    }
                    if *unique {
                        add_index(
                            &mut def,
                            Some(name.clone()),
                            std::slice::from_ref(&name),
                            true,
                        )?;
                    }
                }
                AlterOp::DropColumn { name, if_exists } => {
                    let Some(i) = def.column_index(name) else {
                        if *if_exists {
                            continue;
                        }
                        return Err(SqlError::cant_drop_field_or_key(name));
                    };
                    if def.columns.len() == 1 {
                        return Err(SqlError::new(
                            1090,
                            "42000",
                            "You can't delete all columns with ALTER TABLE; use DROP TABLE instead",
                        ));
                    }
                    remove_column(&mut def, &mut source, i);
                }
                AlterOp::ModifyColumn {
                    old_name,
                    col,
                    position,
                } => {
                    let i = def
                        .column_index(old_name)
                        .ok_or_else(|| SqlError::bad_field(old_name, tn))?;
                    if !col.name.eq_ignore_ascii_case(old_name)
                        && def.column_index(&col.name).is_some()
                    {
                        return Err(SqlError::dup_fieldname(&col.name));
                    }
                    let mut c = col.clone();
                    settle_collation(&mut c, def.collation);
                    check_varchar_length(&c)?;
                    if def.is_pk_column(i) {
                        c.nullable = false;
                    }
                    let src = source[i];
                    let renamed = !c.name.eq_ignore_ascii_case(old_name);
                    let new_name = c.name.clone();
                    def.columns[i] = c;
                    if renamed {
                        rename_references(&mut def, old_name, &new_name)?;
                        renamed_columns.push((old_name.clone(), new_name.clone()));
                    }
                    if let Some(p) = position {
                        let c = def.columns[i].clone();
                        remove_column(&mut def, &mut source, i);
                        let at = match p {
                            Position::Last => def.columns.len(),
                            Position::First => 0,
                            Position::After(a) => {
                                def.column_index(a)
                                    .ok_or_else(|| SqlError::bad_field(a, tn))?
                                    + 1
                            }
                        };
                        insert_column(&mut def, &mut source, at, c, src);
                    }
                }
                AlterOp::RenameColumn { old_name, new_name } => {
                    let i = def
                        .column_index(old_name)
                        .ok_or_else(|| SqlError::bad_field(old_name, tn))?;
                    // Renaming to another case of the same name is allowed.
                    if def.column_index(new_name).is_some_and(|j| j != i) {
                        return Err(SqlError::dup_fieldname(new_name));
                    }
                    def.columns[i].name = new_name.clone();
                    rename_references(&mut def, old_name, new_name)?;
                    renamed_columns.push((old_name.clone(), new_name.clone()));
                }
                AlterOp::SetDefault { name, default } => {
                    let i = def
                        .column_index(name)
                        .ok_or_else(|| SqlError::bad_field(name, tn))?;
                    def.columns[i].default = default.clone();
                }
                AlterOp::AddIndex { name, cols, unique } => {
                    add_index(&mut def, name.clone(), cols, *unique)?;
                }
                AlterOp::AddPrimaryKey(cols) => {
                    if def.primary.is_some() {
                        return Err(SqlError::multiple_pri_key());
                    }
                    let mut pos = Vec::new();
                    for c in cols {
                        let i = def
                            .column_index(c)
                            .ok_or_else(|| SqlError::bad_field(c, tn))?;
                        def.columns[i].nullable = false;
                        pos.push(i);
                    }
                    def.primary = Some(pos);
                }
                AlterOp::AddForeignKey(fk) => add_foreign_key(&mut def, fk, self.cat)?,
                AlterOp::DropForeignKey(name) => {
                    let before = def.foreign_keys.len();
                    def.foreign_keys
                        .retain(|f| !f.name.eq_ignore_ascii_case(name));
                    if def.foreign_keys.len() == before {
                        return Err(SqlError::cant_drop_field_or_key(name));
                    }
                }
                AlterOp::AddCheck(c) => add_check(&mut def, c)?,
                AlterOp::DropIndex(name)
                    if def.checks.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) =>
                {
                    def.checks.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
                }
                AlterOp::Comment(c) => def.comment = c.clone(),
                AlterOp::RenameIndex { from, to } => {
                    if def.indexes.iter().any(|i| i.name.eq_ignore_ascii_case(to))
                        || to.eq_ignore_ascii_case("PRIMARY")
                    {
                        return Err(SqlError::new(
                            1061,
                            "42000",
                            format!("Duplicate key name '{to}'"),
                        ));
                    }
                    let Some(ix) = def
                        .indexes
                        .iter_mut()
                        .find(|i| i.name.eq_ignore_ascii_case(from))
                    else {
                        return Err(SqlError::new(
                            1176,
                            "42000",
                            format!("Key '{from}' doesn't exist in table '{tn}'"),
                        ));
                    };
                    ix.name = to.clone();
                }
                AlterOp::DropConstraint { name, if_exists } => {
                    let is = |n: &str| n.eq_ignore_ascii_case(name);
                    if def.checks.iter().any(|(n, _)| is(n)) {
                        def.checks.retain(|(n, _)| !is(n));
                    } else if let Some(c) = def
                        .columns
                        .iter_mut()
                        .find(|c| c.check.is_some() && is(&c.name))
                    {
                        c.check = None;
                    } else if def.foreign_keys.iter().any(|f| is(&f.name)) {
                        def.foreign_keys.retain(|f| !is(&f.name));
                    } else if def.indexes.iter().any(|i| i.unique && is(&i.name)) {
                        def.indexes.retain(|i| !is(&i.name));
                    } else if !*if_exists {
                        return Err(SqlError::cant_drop_field_or_key(name));
                    }
                }
                AlterOp::DropIndex(name) => {
                    if name.eq_ignore_ascii_case("PRIMARY") {
                        if def.primary.take().is_none() {
                            return Err(SqlError::cant_drop_field_or_key(name));
                        }
                        continue;
                    }
                    let before = def.indexes.len();
                    def.indexes.retain(|i| !i.name.eq_ignore_ascii_case(name));
                    if def.indexes.len() == before {
                        return Err(SqlError::cant_drop_field_or_key(name));
                    }
                }
                AlterOp::DropPrimaryKey => {
                    if def.primary.take().is_none() {
                        return Err(SqlError::cant_drop_field_or_key("PRIMARY"));
                    }
                }
                AlterOp::AutoIncrement(n) => auto_inc_start = Some(*n),
                AlterOp::NoOp => {}
                AlterOp::DefaultCollation(c) => def.collation = *c,
                AlterOp::ConvertCollation(c) => {
                    def.collation = *c;
                    for col in &mut def.columns {
                        if col.collation.is_some_and(|x| x != Collation::Binary) {
                            col.collation = Some(*c);
                        }
                    }
                }
            }
        }
        check_auto_increment(&def)?;
        crate::generated::validate(&def)?;
        def.version = self.seqno;
        // Convert rows: new columns get their default (or the type's zero
        // value when NOT NULL without default), changed types are converted
        // strictly, and generated columns are computed again (what they
        // read may have changed).
        let cols = def.columns.clone();
        let src = source.clone();
        let now = self.now;
        let filler = crate::generated::Filler::new(&def, now)?;
        let def_for_fill = def.clone();
        let mut row_no = 0usize;
        let t = old.rebuild(def, self.snapshot, self.seqno, |r| {
            row_no += 1;
            let mut out = Vec::with_capacity(cols.len());
            for (c, s) in cols.iter().zip(&src) {
                if c.generated.is_some() {
                    out.push(Value::Null);
                    continue;
                }
                let v = match s {
                    ColSource::Old(i) => r[*i].clone(),
                    ColSource::New => match &c.default {
                        Some(DefaultValue::Value(v)) => v.clone(),
                        Some(DefaultValue::CurrentTimestamp) => Value::DateTime(now),
                        // Every node rebuilds the table itself: a per-row
                        // expression (UUID(), RAND()) would differ between
                        // them, so existing rows cannot take one.
                        Some(DefaultValue::Expr(_)) => {
                            return Err(SqlError::unsupported(format!(
                                "adding column `{}` with an expression DEFAULT to a table that has rows",
                                c.name
                            )))
                        }
                        None if c.nullable || c.auto_increment => Value::Null,
                        None => implicit_default(&c.ty),
                    },
                };
                if v.is_null() && !c.nullable {
                    if c.auto_increment {
                        // Filled below by the table's counter.
                        out.push(Value::Null);
                        continue;
                    }
                    return Err(SqlError::new(
                        1138,
                        "22004",
                        format!("Invalid use of NULL value (column '{}')", c.name),
                    ));
                }
                out.push(
                    c.ty.coerce(v, &c.name)
                        .map_err(|e| alter_copy_error(e, &c.name, row_no))?,
                );
            }
            filler.fill(&def_for_fill, &mut out)?;
            Ok(out)
        })?;
        // A new AUTO_INCREMENT column numbers existing rows in key order.
        if let Some(ai) = t.def.auto_increment_column() {
            if matches!(source[ai], ColSource::New) {
                let rows = t.rows_at(self.seqno)?;
                let fresh = t.empty_like(t.def.clone())?;
                for (pk, row) in rows {
                    let mut r = row.to_vec();
                    let n = fresh.next_auto_inc(1, 1);
                    r[ai] = if t.def.columns[ai].ty.is_unsigned() {
                        Value::UInt(n)
                    } else {
                        Value::Int(n as i64)
                    };
                    let key = fresh.def.pk_of(&r).unwrap_or(pk);
                    fresh.install(&key, self.seqno, Some(r.into()))?;
                }
                self.finish_alter(d, tn, fresh, auto_inc_start)?;
                return self.rename_referenced_columns(d, tn, &renamed_columns);
            }
        }
        self.finish_alter(d, tn, t, auto_inc_start)?;
        self.rename_referenced_columns(d, tn, &renamed_columns)
    }

    fn finish_alter(
        &mut self,
        d: &str,
        tn: &str,
        t: Table,
        auto_inc: Option<u64>,
    ) -> SqlResult<()> {
        check_unique_data(&t, self.seqno)?;
        if let Some(n) = auto_inc {
            t.bump_auto_inc(n.saturating_sub(1));
        }
        self.db_mut(d)?.tables.insert(tn.to_string(), Arc::new(t));
        Ok(())
    }

    /// After columns of `d`.`tn` were renamed (old, new): the foreign keys
    /// that reference them name the new columns.
    fn rename_referenced_columns(
        &mut self,
        d: &str,
        tn: &str,
        renames: &[(String, String)],
    ) -> SqlResult<()> {
        if renames.is_empty() {
            return Ok(());
        }
        let names_one = |fk: &trireme_storage::catalog::ForeignKeyDef| {
            fk.ref_columns
                .iter()
                .any(|c| renames.iter().any(|(o, _)| o.eq_ignore_ascii_case(c)))
        };
        let affected = self.cat.all_tables().any(|c| {
            c.def
                .foreign_keys
                .iter()
                .any(|fk| fk.ref_db == d && fk.ref_table == tn && names_one(fk))
        });
        if !affected {
            return Ok(());
        }
        self.retarget_foreign_keys(d, tn, |fk| {
            for c in &mut fk.ref_columns {
                if let Some((_, n)) = renames.iter().find(|(o, _)| o.eq_ignore_ascii_case(c)) {
                    *c = n.clone();
                }
            }
        })
    }
}

/// Refuses a table whose rows violate its primary key or a unique index
/// (after an ALTER that adds one).
/// A value that does not fit its new type while ALTER TABLE copies rows:
/// MySQL reports a too-long string as truncated (1265), and names the row.
fn alter_copy_error(e: SqlError, column: &str, row: usize) -> SqlError {
    if e.code == crate::error::codes::DATA_TOO_LONG {
        return SqlError::new(
            1265,
            "01000",
            format!("Data truncated for column '{column}' at row {row}"),
        );
    }
    match e.message.strip_suffix(" at row 1") {
        Some(head) => SqlError::new(e.code, e.state, format!("{head} at row {row}")),
        None => e,
    }
}

fn check_unique_data(t: &Table, seqno: u64) -> SqlResult<()> {
    let rows = t.rows_at(seqno)?;
    if let Some(_pk) = &t.def.primary {
        let mut seen = std::collections::HashSet::new();
        for (_, r) in &rows {
            if let Some(k) = t.def.pk_of(r) {
                if !seen.insert(k) {
                    let text = t.def.primary.as_ref().map_or(String::new(), |p| {
                        p.iter()
                            .map(|&c| r[c].to_text_lossy())
                            .collect::<Vec<_>>()
                            .join("-")
                    });
                    return Err(SqlError::dup_entry(&text, "PRIMARY"));
                }
            }
        }
        if seen.len() != rows.len() {
            return Err(SqlError::dup_entry("", "PRIMARY"));
        }
    }
    for idx in t.def.indexes.iter().filter(|i| i.unique) {
        let mut seen = std::collections::HashSet::new();
        for (_, r) in &rows {
            if idx.columns.iter().any(|&c| r[c].is_null()) {
                continue;
            }
            if !seen.insert(t.def.index_key_of(idx, r)) {
                let text = idx
                    .columns
                    .iter()
                    .map(|&c| r[c].to_text_lossy())
                    .collect::<Vec<_>>()
                    .join("-");
                return Err(SqlError::dup_entry(&text, &idx.name));
            }
        }
    }
    Ok(())
}

#[derive(Clone, Copy, Debug)]
enum ColSource {
    Old(usize),
    New,
}

fn insert_column(
    def: &mut TableDef,
    source: &mut Vec<ColSource>,
    at: usize,
    col: ColumnDef,
    src: ColSource,
) {
    def.columns.insert(at, col);
    source.insert(at, src);
    let shift = |c: &mut usize| {
        if *c >= at {
            *c += 1;
        }
    };
    if let Some(pk) = &mut def.primary {
        pk.iter_mut().for_each(shift);
    }
    for idx in &mut def.indexes {
        idx.columns.iter_mut().for_each(shift);
    }
    for fk in &mut def.foreign_keys {
        fk.columns.iter_mut().for_each(shift);
    }
}

fn remove_column(def: &mut TableDef, source: &mut Vec<ColSource>, i: usize) {
    def.columns.remove(i);
    source.remove(i);
    // Drop the column from keys; a key left empty disappears (MySQL).
    let fix = |cols: &mut Vec<usize>| {
        cols.retain(|&c| c != i);
        for c in cols.iter_mut() {
            if *c > i {
                *c -= 1;
            }
        }
    };
    if let Some(pk) = &mut def.primary {
        fix(pk);
        if pk.is_empty() {
            def.primary = None;
        }
    }
    for idx in &mut def.indexes {
        fix(&mut idx.columns);
    }
    def.indexes.retain(|x| !x.columns.is_empty());
    for fk in &mut def.foreign_keys {
        fix(&mut fk.columns);
    }
    def.foreign_keys.retain(|x| !x.columns.is_empty());
}

/// The value a NOT NULL column gets when no value is known (a new column
/// over existing rows, NULL under INSERT IGNORE): zero, empty, the first
/// ENUM member.
pub(crate) fn implicit_default(t: &SqlType) -> Value {
    match t {
        SqlType::Int { unsigned: true, .. } | SqlType::Bit(_) => Value::UInt(0),
        SqlType::Int { .. } | SqlType::Bool | SqlType::Year => Value::Int(0),
        SqlType::Decimal { .. } => Value::Int(0),
        SqlType::Float | SqlType::Double => Value::Double(0.0),
        SqlType::Date => Value::Str("0000-00-00".into()),
        SqlType::DateTime(_) | SqlType::Timestamp(_) => Value::Str("1970-01-01 00:00:00".into()),
        SqlType::Enum(v) => Value::Str(v.first().cloned().unwrap_or_default()),
        SqlType::Binary(_) | SqlType::Varbinary(_) | SqlType::Blob(_) => Value::Bytes(Vec::new()),
        _ => Value::Str(String::new()),
    }
}

enum Position {
    Last,
    First,
    After(String),
}

enum AlterOp {
    AddColumn {
        col: ColumnDef,
        pk: bool,
        unique: bool,
        position: Position,
    },
    DropColumn {
        name: String,
        if_exists: bool,
    },
    ModifyColumn {
        old_name: String,
        col: ColumnDef,
        position: Option<Position>,
    },
    RenameColumn {
        old_name: String,
        new_name: String,
    },
    SetDefault {
        name: String,
        default: Option<DefaultValue>,
    },
    AddIndex {
        name: Option<String>,
        cols: Vec<String>,
        unique: bool,
    },
    AddPrimaryKey(Vec<String>),
    DropIndex(String),
    /// ALTER TABLE ... COMMENT = '...'.
    Comment(String),
    /// ALTER TABLE ... RENAME {INDEX|KEY} a TO b.
    RenameIndex {
        from: String,
        to: String,
    },
    /// DROP CONSTRAINT [IF EXISTS]: a CHECK, a foreign key or a unique key.
    DropConstraint {
        name: String,
        if_exists: bool,
    },
    AddForeignKey(Box<ast::ForeignKeyConstraint>),
    AddCheck(Box<ast::CheckConstraint>),
    DropForeignKey(String),
    DropPrimaryKey,
    AutoIncrement(u64),
    NoOp,
    /// The table's default collation (columns added later).
    DefaultCollation(Collation),
    /// CONVERT TO CHARACTER SET: the default and every character column.
    ConvertCollation(Collation),
}

fn position(p: &Option<ast::MySQLColumnPosition>) -> Option<Position> {
    p.as_ref().map(|p| match p {
        ast::MySQLColumnPosition::First => Position::First,
        ast::MySQLColumnPosition::After(a) => Position::After(a.value.clone()),
    })
}

fn alter_op(op: &ast::AlterTableOperation) -> SqlResult<AlterOp> {
    use ast::AlterTableOperation as O;
    Ok(match op {
        O::AddColumn {
            column_def,
            column_position,
            ..
        } => {
            let (col, pk, unique) = column_def_parts(
                &column_def.name,
                &column_def.data_type,
                column_def.options.iter().map(|o| &o.option),
            )?;
            AlterOp::AddColumn {
                col,
                pk,
                unique,
                position: position(column_position).unwrap_or(Position::Last),
            }
        }
        O::DropColumn {
            column_names,
            if_exists,
            ..
        } => {
            if column_names.len() != 1 {
                return Err(SqlError::unsupported(
                    "dropping several columns in one clause",
                ));
            }
            AlterOp::DropColumn {
                name: column_names[0].value.clone(),
                if_exists: *if_exists,
            }
        }
        O::ModifyColumn {
            col_name,
            data_type,
            options,
            column_position,
        } => modify_op(
            col_name,
            col_name,
            data_type,
            options,
            column_position,
            "MODIFY",
        )?,
        O::ChangeColumn {
            old_name,
            new_name,
            data_type,
            options,
            column_position,
        } => modify_op(
            old_name,
            new_name,
            data_type,
            options,
            column_position,
            "CHANGE",
        )?,
        O::RenameColumn {
            old_column_name,
            new_column_name,
        } => AlterOp::RenameColumn {
            old_name: old_column_name.value.clone(),
            new_name: new_column_name.value.clone(),
        },
        O::AlterColumn { column_name, op } => match op {
            ast::AlterColumnOperation::SetDefault { value } => AlterOp::SetDefault {
                name: column_name.value.clone(),
                default: Some(default_value(value, &column_name.value)?),
            },
            ast::AlterColumnOperation::DropDefault => AlterOp::SetDefault {
                name: column_name.value.clone(),
                default: None,
            },
            other => return Err(SqlError::unsupported(format!("ALTER COLUMN {other}"))),
        },
        O::AddConstraint { constraint, .. } => match constraint {
            ast::TableConstraint::Unique(u) => AlterOp::AddIndex {
                name: u
                    .index_name
                    .as_ref()
                    .or(u.name.as_ref())
                    .map(|i| i.value.clone()),
                cols: index_columns(&u.columns)?,
                unique: true,
            },
            ast::TableConstraint::Index(i) => AlterOp::AddIndex {
                name: i.name.as_ref().map(|n| n.value.clone()),
                cols: index_columns(&i.columns)?,
                unique: false,
            },
            ast::TableConstraint::PrimaryKey(pk) => {
                AlterOp::AddPrimaryKey(index_columns(&pk.columns)?)
            }
            ast::TableConstraint::ForeignKey(fk) => AlterOp::AddForeignKey(Box::new(fk.clone())),
            ast::TableConstraint::Check(c) => AlterOp::AddCheck(Box::new(c.clone())),
            other => return Err(SqlError::unsupported(format!("constraint {other}"))),
        },
        O::DropForeignKey { name, .. } => AlterOp::DropForeignKey(name.value.clone()),
        O::DropIndex { name } => AlterOp::DropIndex(name.value.clone()),
        O::DropConstraint {
            name, if_exists, ..
        } => AlterOp::DropConstraint {
            name: name.value.clone(),
            if_exists: *if_exists,
        },
        O::DropPrimaryKey { .. } => AlterOp::DropPrimaryKey,
        O::AutoIncrement { value, .. } => AlterOp::AutoIncrement(
            value
                .value
                .to_string()
                .parse()
                .map_err(|_| SqlError::syntax("bad AUTO_INCREMENT value"))?,
        ),
        O::Algorithm { .. } | O::Lock { .. } => AlterOp::NoOp,
        other => return Err(SqlError::unsupported(format!("ALTER TABLE {other}"))),
    })
}

/// MODIFY and CHANGE COLUMN: a new definition (and maybe name) for a column.
fn modify_op(
    old_name: &ast::Ident,
    new_name: &ast::Ident,
    data_type: &ast::DataType,
    options: &[ast::ColumnOption],
    column_position: &Option<ast::MySQLColumnPosition>,
    clause: &str,
) -> SqlResult<AlterOp> {
    let (col, pk, unique) = column_def_parts(new_name, data_type, options.iter())?;
    if pk || unique {
        return Err(SqlError::unsupported(format!(
            "keys in {clause} COLUMN; use ADD INDEX"
        )));
    }
    Ok(AlterOp::ModifyColumn {
        old_name: old_name.value.clone(),
        col,
        position: position(column_position),
    })
}

fn check_identifier(name: &str) -> SqlResult<()> {
    if name.is_empty() || name.len() > 64 || name.ends_with(' ') {
        return Err(SqlError::new(
            1103,
            "42000",
            format!("Incorrect table name '{name}'"),
        ));
    }
    Ok(())
}

fn index_columns(cols: &[ast::IndexColumn]) -> SqlResult<Vec<String>> {
    cols.iter()
        .map(|c| match &c.column.expr {
            ast::Expr::Identifier(i) => Ok(i.value.clone()),
            // KEY (c(10)): a prefix length; the whole value is indexed.
            ast::Expr::Function(f) => Ok(f.name.to_string()),
            other => Err(SqlError::unsupported(format!(
                "index on expression {other}"
            ))),
        })
        .collect()
}

/// The positions of a key's columns; 1072 names the first that is missing.
fn key_positions(def: &TableDef, cols: &[String]) -> SqlResult<Vec<usize>> {
    cols.iter()
        .map(|c| {
            def.column_index(c).ok_or_else(|| {
                SqlError::new(
                    codes::KEY_COLUMN_DOES_NOT_EXIST,
                    "42000",
                    format!("Key column '{c}' doesn't exist in table"),
                )
            })
        })
        .collect()
}

fn add_index(
    def: &mut TableDef,
    name: Option<String>,
    cols: &[String],
    unique: bool,
) -> SqlResult<()> {
    let pos = key_positions(def, cols)?;
    let name = match name {
        Some(n) => {
            if n.eq_ignore_ascii_case("PRIMARY") || def.index_by_name(&n).is_some() {
                return Err(SqlError::dup_keyname(&n));
            }
            n
        }
        None => {
            // MySQL names an anonymous index after its first column,
            // suffixed _2, _3 on collision.
            let base = def.columns[pos[0]].name.clone();
            let mut n = base.clone();
            let mut k = 2;
            while def.index_by_name(&n).is_some() {
                n = format!("{base}_{k}");
                k += 1;
            }
            n
        }
    };
    let id = def.next_index_id;
    def.next_index_id += 1;
    def.indexes.push(IndexDef {
        name,
        columns: pos,
        unique,
        id,
    });
    Ok(())
}

fn check_auto_increment(def: &TableDef) -> SqlResult<()> {
    let autos: Vec<usize> = (0..def.columns.len())
        .filter(|&i| def.columns[i].auto_increment)
        .collect();
    match autos.as_slice() {
        [] => Ok(()),
        [c] => {
            let keyed = def.primary.as_ref().is_some_and(|p| p.first() == Some(c))
                || def.indexes.iter().any(|i| i.columns.first() == Some(c));
            if !keyed || !def.columns[*c].ty.is_integer() {
                return Err(SqlError::wrong_auto_key());
            }
            Ok(())
        }
        _ => Err(SqlError::wrong_auto_key()),
    }
}

/// After a column is renamed, the CHECK constraints and generation
/// expressions that named it name the new column (as MariaDB rewrites
/// them).
fn rename_references(def: &mut TableDef, old: &str, new: &str) -> SqlResult<()> {
    let rename = |text: &str| -> SqlResult<String> {
        let mut e = sqlparser::parser::Parser::new(&crate::dialect::MariaDb::default())
            .try_with_sql(text)
            .and_then(|mut p| p.parse_expr())
            .map_err(|e| SqlError::syntax(e.to_string()))?;
        let mut hit = false;
        let _ = ast::visit_expressions_mut(&mut e, |x| {
            let ids: &mut [ast::Ident] = match x {
                ast::Expr::Identifier(id) => std::slice::from_mut(id),
                ast::Expr::CompoundIdentifier(ids) => ids.as_mut_slice(),
                _ => &mut [],
            };
            if let Some(last) = ids.last_mut() {
                if last.value.eq_ignore_ascii_case(old) {
                    last.value = new.to_string();
                    last.quote_style = Some('`');
                    hit = true;
                }
            }
            std::ops::ControlFlow::<()>::Continue(())
        });
        Ok(if hit {
            crate::stored_expr::text(&e)
        } else {
            text.to_string()
        })
    };
    for c in &mut def.columns {
        if let Some(check) = &c.check {
            c.check = Some(rename(check)?);
        }
        if let Some(g) = &mut c.generated {
            g.expr = rename(&g.expr)?;
        }
    }
    for (_, check) in &mut def.checks {
        *check = rename(check)?;
    }
    Ok(())
}

/// A VARCHAR / VARBINARY longer than a row can hold in the column's
/// character set: 1074, as in MariaDB's strict mode.
fn check_varchar_length(col: &ColumnDef) -> SqlResult<()> {
    let (n, per_char) = match col.ty {
        SqlType::Varchar(n) => (n, col.charset().map_or(1, |c| c.max_len())),
        SqlType::Varbinary(n) => (n, 1),
        _ => return Ok(()),
    };
    let max = 65_535 / per_char.max(1);
    if n > max {
        return Err(SqlError::new(
            1074,
            "42000",
            format!(
                "Column length too big for column '{}' (max = {max}); use BLOB or TEXT instead",
                col.name
            ),
        ));
    }
    Ok(())
}

fn column_def(cd: &ast::ColumnDef) -> SqlResult<(ColumnDef, bool, bool)> {
    column_def_parts(
        &cd.name,
        &cd.data_type,
        cd.options.iter().map(|o| &o.option),
    )
}

fn column_def_parts<'a>(
    name: &ast::Ident,
    dt: &ast::DataType,
    options: impl Iterator<Item = &'a ast::ColumnOption>,
) -> SqlResult<(ColumnDef, bool, bool)> {
    let ty = sql_type(dt, &name.value)?;
    let mut col = ColumnDef::new(&name.value, ty);
    let mut pk = false;
    let mut unique = false;
    let mut charset = None;
    let mut collation = None;
    // MariaDB's grammar allows no NULL, DEFAULT, AUTO_INCREMENT or ON
    // UPDATE with a generated column, before or after its expression.
    let mut plain_only: Option<String> = None;
    for o in options {
        if col.generated.is_some() || matches!(o, ast::ColumnOption::Generated { .. }) {
            let conflicting = match o {
                ast::ColumnOption::Null | ast::ColumnOption::NotNull => Some("NULL"),
                ast::ColumnOption::Default(_) => Some("DEFAULT"),
                ast::ColumnOption::OnUpdate(_) => Some("ON UPDATE"),
                ast::ColumnOption::DialectSpecific(_) => Some("AUTO_INCREMENT"),
                _ => None,
            };
            if let Some(c) = conflicting.or(plain_only.as_deref()) {
                return Err(SqlError::syntax(format!(
                    "{c} is not allowed on the generated column '{}'",
                    col.name
                )));
            }
        } else if matches!(
            o,
            ast::ColumnOption::Null
                | ast::ColumnOption::NotNull
                | ast::ColumnOption::Default(_)
                | ast::ColumnOption::OnUpdate(_)
        ) {
            plain_only = Some(o.to_string());
        }
        match o {
            ast::ColumnOption::Generated {
                generated_as,
                generation_expr: Some(e),
                generation_expr_mode,
                sequence_options: None,
                ..
            } if !matches!(generated_as, ast::GeneratedAs::ByDefault) => {
                col.generated = Some(Generated {
                    expr: crate::generated::render(e),
                    stored: matches!(
                        generation_expr_mode,
                        Some(ast::GeneratedExpressionMode::Stored)
                    ),
                });
            }
            ast::ColumnOption::Null => col.nullable = true,
            ast::ColumnOption::NotNull => col.nullable = false,
            ast::ColumnOption::Default(e) => col.default = Some(default_value(e, &col.name)?),
            ast::ColumnOption::PrimaryKey(_) => {
                pk = true;
                col.nullable = false;
            }
            ast::ColumnOption::Unique(_) => unique = true,
            ast::ColumnOption::DialectSpecific(toks) => {
                let text: String = toks
                    .iter()
                    .map(|t| t.to_string())
                    .collect::<Vec<_>>()
                    .join(" ");
                if text.eq_ignore_ascii_case("AUTO_INCREMENT") {
                    col.auto_increment = true;
                } else {
                    return Err(SqlError::unsupported(format!("column option {text}")));
                }
            }
            ast::ColumnOption::CharacterSet(cs) => charset = Some(cs.to_string()),
            ast::ColumnOption::Collation(c) => collation = Some(c.to_string()),
            ast::ColumnOption::Comment(c) => col.comment = c.clone(),
            ast::ColumnOption::OnUpdate(e) => {
                if matches!(default_value(e, &col.name)?, DefaultValue::CurrentTimestamp) {
                    col.on_update_now = true;
                } else {
                    return Err(SqlError::new(
                        1294,
                        "HY000",
                        format!("Invalid ON UPDATE clause for '{}' column", col.name),
                    ));
                }
            }
            // MariaDB (InnoDB) accepts and ignores a column-level REFERENCES.
            ast::ColumnOption::ForeignKey(_) => {}
            ast::ColumnOption::Check(c) => col.check = Some(crate::generated::render(&c.expr)),
            other => return Err(SqlError::unsupported(format!("column option {other}"))),
        }
    }
    // Unresolved (None) until the table's default is known, unless given.
    col.collation = None;
    if col.ty.is_string() && (charset.is_some() || collation.is_some()) {
        col.collation = Some(resolve_collation(
            charset.as_deref(),
            collation.as_deref(),
            Collation::default(),
        )?);
    }
    if matches!(dt, ast::DataType::JSON) {
        col.collation = Some(Collation::Utf8mb4Bin);
        col.check
            .get_or_insert_with(|| format!("json_valid(`{}`)", col.name));
    }
    if col.auto_increment && col.default.is_some() {
        return Err(SqlError::new(
            1067,
            "42000",
            format!("Invalid default value for '{}'", col.name),
        ));
    }
    // A default must fit the column.
    if let Some(DefaultValue::Value(v)) = &col.default {
        if v.is_null() {
            if !col.nullable {
                return Err(SqlError::new(
                    1067,
                    "42000",
                    format!("Invalid default value for '{}'", col.name),
                ));
            }
        } else {
            let c = col.ty.coerce(v.clone(), &col.name).map_err(|_| {
                SqlError::new(
                    1067,
                    "42000",
                    format!("Invalid default value for '{}'", col.name),
                )
            })?;
            col.default = Some(DefaultValue::Value(c));
        }
    }
    if matches!(col.default, Some(DefaultValue::CurrentTimestamp))
        && !matches!(col.ty, SqlType::DateTime(_) | SqlType::Timestamp(_))
    {
        return Err(SqlError::new(
            1067,
            "42000",
            format!("Invalid default value for '{}'", col.name),
        ));
    }
    Ok((col, pk, unique))
}

/// Evaluates a DEFAULT clause: a literal, a negated number, or
/// CURRENT_TIMESTAMP / NOW().
fn default_value(e: &ast::Expr, column: &str) -> SqlResult<DefaultValue> {
    let bad = || {
        SqlError::new(
            1067,
            "42000",
            format!("Invalid default value for '{column}'"),
        )
    };
    Ok(match e {
        ast::Expr::Value(v) => DefaultValue::Value(match &v.value {
            ast::Value::Number(n, _) => crate::bind::number_literal(n)?,
            ast::Value::SingleQuotedString(s) | ast::Value::DoubleQuotedString(s) => {
                Value::Str(s.clone())
            }
            ast::Value::Boolean(b) => Value::from_bool(*b),
            ast::Value::Null => Value::Null,
            ast::Value::HexStringLiteral(_) | ast::Value::SingleQuotedByteStringLiteral(_) => {
                crate::bind::byte_literal(&v.value).map_err(|_| bad())?
            }
            _ => return Err(bad()),
        }),
        ast::Expr::UnaryOp {
            op: ast::UnaryOperator::Minus,
            expr,
        } => match default_value(expr, column)? {
            DefaultValue::Value(v) => DefaultValue::Value(crate::arith::negate(&v)?),
            DefaultValue::CurrentTimestamp => return Err(bad()),
            DefaultValue::Expr(t) => DefaultValue::Expr(format!("-{t}")),
        },
        ast::Expr::Nested(x) => default_value(x, column)?,
        ast::Expr::Function(f) => {
            let n = f.name.to_string().to_ascii_uppercase();
            if matches!(
                n.as_str(),
                "CURRENT_TIMESTAMP" | "NOW" | "LOCALTIMESTAMP" | "LOCALTIME"
            ) {
                DefaultValue::CurrentTimestamp
            } else {
                constant_or_expression(e, column)?
            }
        }
        ast::Expr::Identifier(i) if i.value.eq_ignore_ascii_case("CURRENT_TIMESTAMP") => {
            DefaultValue::CurrentTimestamp
        }
        ast::Expr::Identifier(i) if i.value.eq_ignore_ascii_case("TRUE") => {
            DefaultValue::Value(Value::Int(1))
        }
        ast::Expr::Identifier(i) if i.value.eq_ignore_ascii_case("FALSE") => {
            DefaultValue::Value(Value::Int(0))
        }
        ast::Expr::Identifier(_) | ast::Expr::CompoundIdentifier(_) => return Err(bad()),
        other => constant_or_expression(other, column)?,
    })
}

/// A DEFAULT folded to its value when it is a constant, else kept as an
/// expression evaluated per row.
fn constant_or_expression(e: &ast::Expr, column: &str) -> SqlResult<DefaultValue> {
    match crate::generated::constant_default(e, column) {
        Ok(v) => Ok(DefaultValue::Value(v)),
        Err(err) if err.code == crate::error::codes::NOT_SUPPORTED_YET => Ok(DefaultValue::Expr(
            crate::generated::expression_default(e, column)?,
        )),
        Err(err) => Err(err),
    }
}

/// The table options, however they were written.
fn option_list(opts: &ast::CreateTableOptions) -> &[ast::SqlOption] {
    match opts {
        ast::CreateTableOptions::None => &[],
        ast::CreateTableOptions::With(l)
        | ast::CreateTableOptions::Options(l)
        | ast::CreateTableOptions::Plain(l)
        | ast::CreateTableOptions::TableProperties(l) => l,
    }
}

fn apply_table_options(def: &mut TableDef, opts: &ast::CreateTableOptions) -> SqlResult<()> {
    for o in option_list(opts) {
        match o {
            ast::SqlOption::KeyValue { key, value } => {
                let k = key.value.to_ascii_uppercase();
                let v = value.to_string().trim_matches('\'').to_string();
                if k.contains("CHARSET") || k.contains("CHARACTER SET") {
                    let cs = charset_by_name(&v)?;
                    if def.collation.charset() != cs {
                        def.collation = cs.default_collation();
                    }
                } else if k.contains("COLLATE") {
                    def.collation = collation_by_name(&v)?;
                } else if k == "COMMENT" {
                    def.comment = v;
                } else if k == "ENGINE" {
                    def.engine = engine_name(&v)?;
                }
            }
            ast::SqlOption::NamedParenthesizedList(l)
                if l.key.value.eq_ignore_ascii_case("ENGINE") =>
            {
                if let Some(n) = &l.name {
                    def.engine = engine_name(&n.value)?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Every engine MariaDB has is accepted and reported as InnoDB: trireme
/// has one transactional engine, and tools expect the name. Another name
/// is 1286, as under MariaDB's default NO_ENGINE_SUBSTITUTION.
fn engine_name(asked: &str) -> SqlResult<String> {
    if !KNOWN_ENGINES.iter().any(|k| k.eq_ignore_ascii_case(asked)) {
        return Err(SqlError::new(
            1286,
            "42000",
            format!("Unknown storage engine '{asked}'"),
        ));
    }
    Ok("InnoDB".into())
}

fn table_option_auto_increment(opts: &ast::CreateTableOptions) -> Option<u64> {
    option_list(opts).iter().find_map(|o| match o {
        ast::SqlOption::KeyValue { key, value }
            if key.value.eq_ignore_ascii_case("AUTO_INCREMENT") =>
        {
            value.to_string().parse().ok()
        }
        _ => None,
    })
}

/// The plain CREATE TABLE a CREATE TABLE ... SELECT stands for: its own
/// columns, then one per selected column it does not name, typed as the
/// SELECT's result column (MariaDB's rule).
pub fn create_table_select_ddl(ct: &ast::CreateTable, cols: &[OutCol]) -> SqlResult<String> {
    let mut plain = ct.clone();
    plain.query = None;
    let declared = ct.columns.len();
    for c in cols {
        let same = |x: &ast::ColumnDef| x.name.value.eq_ignore_ascii_case(&c.name);
        // A selected column named like a declared one fills it; two
        // selected columns of one name are 1060.
        if plain.columns[..declared].iter().any(same) {
            continue;
        }
        if plain.columns[declared..].iter().any(same) {
            return Err(SqlError::dup_fieldname(&c.name));
        }
        // A string too long for a VARCHAR column becomes a TEXT one, as
        // MariaDB makes it (`CAST(x AS CHAR)` of an unknown length).
        let ty = match &c.ty {
            None => "binary(0)".to_string(),
            Some(SqlType::Varchar(n)) if *n > 16_383 => "mediumtext".to_string(),
            Some(SqlType::Varbinary(n)) if *n > 65_532 => "blob".to_string(),
            Some(t) => t.sql_name(),
        };
        let null = if c.nullable { "" } else { " NOT NULL" };
        let coll = match c.collation {
            Some(k) if k != Collation::Binary && c.ty.as_ref().is_some_and(|t| t.is_string()) => {
                format!(" COLLATE {}", k.name())
            }
            _ => String::new(),
        };
        let text = format!(
            "CREATE TABLE x (`{}` {ty}{coll}{null})",
            c.name.replace('`', "``")
        );
        let def = match crate::parse(&text)?.into_iter().next() {
            Some(Statement::CreateTable(t)) => t.columns.into_iter().next(),
            _ => None,
        };
        plain
            .columns
            .push(def.ok_or_else(|| SqlError::internal(format!("column from {text}")))?);
    }
    Ok(Statement::CreateTable(plain).to_string())
}

/// `name` qualified with the current database `db` when it has none.
pub fn qualify_in(name: &ast::ObjectName, db: Option<&str>) -> SqlResult<(String, String)> {
    qualify(name, db)
}

/// The definition CREATE TEMPORARY TABLE makes (plain columns or LIKE) and
/// its AUTO_INCREMENT high-water, checked as CREATE TABLE checks it; a table
/// or view of the same name does not stand in its way (it is shadowed).
pub fn temporary_def(
    cat: &Catalog,
    ct: &ast::CreateTable,
    db: Option<&str>,
) -> SqlResult<(TableDef, u64)> {
    let (d, t) = qualify(&ct.name, db)?;
    let mut scratch = cat.clone();
    if let Some(x) = scratch.databases.get_mut(&d) {
        // `CREATE TEMPORARY TABLE t LIKE t` copies the table it shadows.
        let like_itself = ct.like.is_some();
        if !like_itself {
            x.tables.remove(&t);
        }
        x.views.remove(&t);
    }
    if ct.like.is_some() {
        if let Some(x) = scratch.databases.get_mut(&d) {
            if let Some(src) = x.tables.get(&t).cloned() {
                // Make room under the new name, keeping the source readable
                // under a name no statement can spell.
                x.tables.remove(&t);
                x.tables.insert(format!("\0like\0{t}"), src);
            }
        }
    }
    let mut plain = ct.clone();
    plain.temporary = false;
    plain.if_not_exists = false;
    if let Some(like) = &mut plain.like {
        let src = match like {
            ast::CreateTableLikeKind::Parenthesized(l) | ast::CreateTableLikeKind::Plain(l) => {
                &mut l.name
            }
        };
        let (sd, st) = qualify(src, db)?;
        if sd == d && st == t {
            *src = qualified_name(&d, &format!("\0like\0{t}"));
        }
    }
    let engine = Engine::Memory;
    let mut ctx = DdlCtx::new(
        &mut scratch,
        &engine,
        db,
        0,
        0,
        trireme_storage::value::DateTime::now(),
    );
    ctx.create_table(&plain)?;
    let made = scratch
        .table(&d, &t)
        .ok_or_else(|| SqlError::internal("CREATE TEMPORARY TABLE made no table"))?;
    Ok((made.def.clone(), made.auto_inc_max()))
}

/// `stmt` applied to a copy of `cat` with in-memory tables at `seqno`
/// (a session's TEMPORARY tables change this way, never ordered).
pub fn apply_private(
    cat: &Catalog,
    stmt: &Statement,
    db: Option<&str>,
    seqno: u64,
) -> SqlResult<Catalog> {
    let mut scratch = cat.clone();
    let engine = Engine::Memory;
    let mut ctx = DdlCtx::new(
        &mut scratch,
        &engine,
        db,
        seqno,
        seqno,
        trireme_storage::value::DateTime::now(),
    );
    ctx.apply(stmt)?;
    if let Some(e) = ctx.after.take() {
        return Err(e);
    }
    Ok(scratch)
}

/// `db`.`name` as an object name.
pub fn qualified_name(db: &str, name: &str) -> ast::ObjectName {
    ast::ObjectName::from(vec![ast::Ident::new(db), ast::Ident::new(name)])
}

/// Adds a table-level CHECK; an unnamed one is CONSTRAINT_<n> (MariaDB).
fn add_check(def: &mut TableDef, c: &ast::CheckConstraint) -> SqlResult<()> {
    let name = match &c.name {
        Some(n) => n.value.clone(),
        None => {
            let mut k = def.checks.len() + 1;
            loop {
                let n = format!("CONSTRAINT_{k}");
                if !def.checks.iter().any(|(x, _)| x.eq_ignore_ascii_case(&n)) {
                    break n;
                }
                k += 1;
            }
        }
    };
    if def
        .checks
        .iter()
        .any(|(x, _)| x.eq_ignore_ascii_case(&name))
    {
        return Err(SqlError::new(
            1826,
            "HY000",
            format!("Duplicate CHECK constraint name '{name}'"),
        ));
    }
    def.checks.push((name, crate::generated::render(&c.expr)));
    Ok(())
}

/// Adds a FOREIGN KEY to `def` (InnoDB's rules): the child columns get an
/// index when none starts with them; a parent that exists must have the
/// referenced columns, leading an index. A parent that does not exist yet
/// is accepted, as with foreign_key_checks=0 (dump restores create children
/// first; the DDL is applied from the ordered stream, where the session's
/// setting is not known).
fn add_foreign_key(
    def: &mut TableDef,
    fk: &ast::ForeignKeyConstraint,
    cat: &Catalog,
) -> SqlResult<()> {
    let child_names: Vec<String> = fk.columns.iter().map(|c| c.value.clone()).collect();
    let columns = key_positions(def, &child_names)?;
    let (ref_db, ref_table) = qualify(&fk.foreign_table, Some(&def.db))?;
    let ref_columns: Vec<String> = fk
        .referred_columns
        .iter()
        .map(|c| c.value.clone())
        .collect();
    // MariaDB names the constraint by CONSTRAINT, else by the index name
    // (FOREIGN KEY name (...)), else <table>_ibfk_<n>; the index it may add
    // takes the first of the two given names, else its first column's.
    let given = fk
        .name
        .as_ref()
        .or(fk.index_name.as_ref())
        .map(|n| n.value.clone());
    let name = match &given {
        Some(n) => n.clone(),
        None => {
            let mut k = def.foreign_keys.len() + 1;
            loop {
                let n = format!("{}_ibfk_{k}", def.name);
                if !def
                    .foreign_keys
                    .iter()
                    .any(|f| f.name.eq_ignore_ascii_case(&n))
                {
                    break n;
                }
                k += 1;
            }
        }
    };
    let malformed = || {
        SqlError::new(
            1005,
            "HY000",
            format!(
                "Can't create table `{}`.`{}` (errno: 150 \"Foreign key constraint is incorrectly formed\")",
                def.db, def.name
            ),
        )
    };
    if ref_columns.len() != columns.len() || columns.is_empty() {
        return Err(SqlError::new(
            1239,
            "42000",
            format!("Incorrect foreign key definition for '{name}': Key reference and table reference don't match"),
        ));
    }
    if def
        .foreign_keys
        .iter()
        .any(|f| f.name.eq_ignore_ascii_case(&name))
    {
        return Err(SqlError::new(
            1826,
            "HY000",
            format!("Duplicate FOREIGN KEY constraint name '{name}'"),
        ));
    }
    let parent = if ref_db == def.db && ref_table == def.name {
        Some(def.clone())
    } else {
        cat.table(&ref_db, &ref_table).map(|t| t.def.clone())
    };
    if let Some(p) = &parent {
        let pos: Option<Vec<usize>> = ref_columns.iter().map(|c| p.column_index(c)).collect();
        let pos = pos.ok_or_else(malformed)?;
        let leads = |cols: &[usize]| cols.len() >= pos.len() && cols[..pos.len()] == pos[..];
        let indexed =
            p.primary.as_deref().is_some_and(leads) || p.indexes.iter().any(|i| leads(&i.columns));
        if !indexed {
            return Err(malformed());
        }
        for (&c, &pc) in columns.iter().zip(&pos) {
            let (ct, pt) = (&def.columns[c].ty, &p.columns[pc].ty);
            if ct.is_string() != pt.is_string() || ct.is_integer() != pt.is_integer() {
                return Err(malformed());
            }
        }
    }
    let action = |a: &Option<ast::ReferentialAction>| -> SqlResult<FkAction> {
        Ok(match a {
            None | Some(ast::ReferentialAction::Restrict) => FkAction::Restrict,
            Some(ast::ReferentialAction::NoAction) => FkAction::NoAction,
            Some(ast::ReferentialAction::Cascade) => FkAction::Cascade,
            Some(ast::ReferentialAction::SetNull) => FkAction::SetNull,
            Some(ast::ReferentialAction::SetDefault) => return Err(malformed()),
        })
    };
    let (on_delete, on_update) = (action(&fk.on_delete)?, action(&fk.on_update)?);
    if on_delete == FkAction::SetNull || on_update == FkAction::SetNull {
        if let Some(&c) = columns.iter().find(|&&c| !def.columns[c].nullable) {
            return Err(SqlError::new(
                1830,
                "HY000",
                format!(
                    "Column '{}' cannot be NOT NULL: needed in a foreign key constraint '{name}' SET NULL",
                    def.columns[c].name
                ),
            ));
        }
    }
    let leads =
        |cols: &[usize]| cols.len() >= columns.len() && cols[..columns.len()] == columns[..];
    let has_index =
        def.primary.as_deref().is_some_and(leads) || def.indexes.iter().any(|i| leads(&i.columns));
    if !has_index {
        add_index(def, given, &child_names, false)?;
    }
    def.foreign_keys.push(ForeignKeyDef {
        name,
        columns,
        ref_db,
        ref_table,
        ref_columns,
        on_delete,
        on_update,
    });
    Ok(())
}

/// The (database, table) names a query reads in its FROM clauses, with
/// `db` for unqualified names; names its own CTEs define are left out.
pub fn read_tables(q: &ast::Query, db: &str) -> Vec<(String, String)> {
    let mut ctes: Vec<String> = Vec::new();
    let mut out = Vec::new();
    collect_query(q, db, &mut ctes, &mut out);
    out
}

fn collect_query(
    q: &ast::Query,
    db: &str,
    ctes: &mut Vec<String>,
    out: &mut Vec<(String, String)>,
) {
    let mark = ctes.len();
    if let Some(w) = &q.with {
        for c in &w.cte_tables {
            ctes.push(c.alias.name.value.clone());
            collect_query(&c.query, db, ctes, out);
        }
    }
    collect_set(&q.body, db, ctes, out);
    ctes.truncate(mark);
}

fn collect_set(
    b: &ast::SetExpr,
    db: &str,
    ctes: &mut Vec<String>,
    out: &mut Vec<(String, String)>,
) {
    match b {
        ast::SetExpr::Select(s) => {
            for twj in &s.from {
                collect_factor(&twj.relation, db, ctes, out);
                for j in &twj.joins {
                    collect_factor(&j.relation, db, ctes, out);
                }
            }
        }
        ast::SetExpr::Query(q) => collect_query(q, db, ctes, out),
        ast::SetExpr::SetOperation { left, right, .. } => {
            collect_set(left, db, ctes, out);
            collect_set(right, db, ctes, out);
        }
        _ => {}
    }
}

fn collect_factor(
    f: &ast::TableFactor,
    db: &str,
    ctes: &mut Vec<String>,
    out: &mut Vec<(String, String)>,
) {
    match f {
        ast::TableFactor::Table { name, .. } => match object_name_parts(name).ok().as_deref() {
            Some([t]) if ctes.iter().any(|c| c == t) => {}
            Some([t]) if t.eq_ignore_ascii_case("dual") => {}
            Some([t]) => out.push((db.to_string(), t.clone())),
            Some([d, t]) => out.push((d.clone(), t.clone())),
            _ => {}
        },
        ast::TableFactor::Derived { subquery, .. } => collect_query(subquery, db, ctes, out),
        ast::TableFactor::NestedJoin {
            table_with_joins, ..
        } => {
            collect_factor(&table_with_joins.relation, db, ctes, out);
            for j in &table_with_joins.joins {
                collect_factor(&j.relation, db, ctes, out);
            }
        }
        _ => {}
    }
}

/// A column's collation once its table's default is known: an explicit one
/// stays, a character column without one takes the table's.
fn settle_collation(col: &mut ColumnDef, table_default: Collation) {
    if col.ty.is_string() && col.collation.is_none() {
        col.collation = Some(table_default);
    } else if !col.ty.is_string() {
        col.collation = None;
    }
}

pub fn charset_by_name(name: &str) -> SqlResult<Charset> {
    Charset::from_name(name.trim_matches(['\'', '"', '`']))
        .ok_or_else(|| SqlError::unknown_charset(name))
}

pub fn collation_by_name(name: &str) -> SqlResult<Collation> {
    Collation::from_name(name.trim_matches(['\'', '"', '`']))
        .ok_or_else(|| SqlError::unknown_collation(name))
}

/// `[CHARACTER SET cs] [COLLATE c]`: the collation they name, or `default`
/// when neither is given. A charset alone means its default collation.
/// The ALTER operation a table option stands for; `current` is the
/// table's default collation, kept by a bare DEFAULT (a CHARACTER SET
/// without COLLATE takes that charset's default collation).
fn table_option_op(o: &admin::TableOption, current: Collation) -> SqlResult<AlterOp> {
    use admin::TableOption as T;
    Ok(match o {
        T::Engine(e) => {
            engine_name(e)?;
            AlterOp::NoOp
        }
        T::Comment(c) => AlterOp::Comment(c.clone()),
        T::AutoIncrement(n) => AlterOp::AutoIncrement(*n),
        T::Default { charset, collation } => AlterOp::DefaultCollation(resolve_collation(
            charset.as_deref(),
            collation.as_deref(),
            current,
        )?),
        T::Convert { charset, collation } => AlterOp::ConvertCollation(resolve_collation(
            Some(charset),
            collation.as_deref(),
            current,
        )?),
        T::Ignored => AlterOp::NoOp,
    })
}

/// Engines an ENGINE clause may name (MariaDB's usual ones): trireme stores
/// every table its own way.
const KNOWN_ENGINES: &[&str] = &[
    "InnoDB",
    "Aria",
    "MyISAM",
    "MEMORY",
    "HEAP",
    "CSV",
    "MRG_MyISAM",
    "SEQUENCE",
];

pub fn resolve_collation(
    charset: Option<&str>,
    collation: Option<&str>,
    default: Collation,
) -> SqlResult<Collation> {
    let cs = charset.map(charset_by_name).transpose()?;
    let c = collation.map(collation_by_name).transpose()?;
    match (cs, c) {
        (None, None) => Ok(default),
        (Some(cs), None) => Ok(cs.default_collation()),
        (None, Some(c)) => Ok(c),
        (Some(cs), Some(c)) if c.charset() == cs => Ok(c),
        (Some(cs), Some(c)) => Err(SqlError::collation_charset_mismatch(c.name(), cs.name())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stmt(sql: &str) -> Statement {
        crate::parse(sql)
            .expect("parses")
            .into_iter()
            .next()
            .expect("one statement")
    }

    #[test]
    fn database_statements_count_as_mariadb_counts() {
        let mut cat = Catalog::default();
        let mut d = trireme_storage::store::Database::default();
        d.views.insert(
            "v".into(),
            ViewDef {
                db: "old".into(),
                name: "v".into(),
                columns: Vec::new(),
                select: "SELECT 1".into(),
                algorithm: "UNDEFINED".into(),
                definer: "`root`@`%`".into(),
                security: "DEFINER".into(),
                check_option: "NONE".into(),
            },
        );
        cat.databases.insert("old".into(), d);
        let n = |sql: &str| database_affected_rows(&stmt(sql), &cat);
        assert_eq!(n("CREATE DATABASE fresh"), Some(1));
        assert_eq!(n("CREATE DATABASE IF NOT EXISTS old"), Some(0));
        assert_eq!(n("DROP DATABASE old"), Some(1));
        assert_eq!(n("DROP DATABASE IF EXISTS missing"), Some(0));
        assert_eq!(n("CREATE TABLE t (a INT)"), None);
    }
}
