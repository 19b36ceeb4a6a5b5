//! One client connection's session: transaction state, statement dispatch,
//! autocommit with retry, causal reads, and the wire protocol's `Handler`.
//!
//! A transaction's snapshot is taken by its first statement (after BEGIN,
//! or the statement itself under autocommit), after `wsrep_sync_wait` has
//! waited for the cluster's latest commits when the session asks for it.
//! Every statement is atomic: a failing statement's writes are undone and
//! the transaction stays open, except for ER_LOCK_DEADLOCK, which rolls the
//! whole transaction back (as InnoDB does).

use std::sync::Arc;

use mysql_common::constants::{ColumnFlags, ColumnType, StatusFlags};
use sqlparser::ast::{self, Statement};
use trireme_wire as wire;

use crate::node::Node;
use trireme_sql::admin::{self, Admin, StmtText};
use trireme_sql::error::{codes, SqlError, SqlResult};
use trireme_sql::show::{options_filter, options_in, show_filter};
use trireme_sql::{self as sql, vars, Exec, OutCol, Output, SessionState};
use trireme_storage::collation::{Charset, Collation};
use trireme_storage::txn::Txn;
use trireme_storage::types::{IntWidth, SqlType};
use trireme_storage::value::{DateTime, Value};

/// A statement parsed once (prepared statements keep it).
#[derive(Clone, Debug)]
pub enum Parsed {
    Admin(Admin),
    Sql(Box<Statement>),
}

#[derive(Clone, Debug)]
pub struct Prepared {
    pub text: String,
    pub parsed: Parsed,
    pub params: usize,
}

pub struct Session {
    node: Arc<Node>,
    state: SessionState,
    /// The open transaction's snapshot and buffer (taken lazily).
    txn: Option<Txn>,
    /// BEGIN / START TRANSACTION was issued and not yet ended.
    explicit: bool,
    explicit_read_only: bool,
    /// START TRANSACTION READ WRITE was asked for explicitly.
    explicit_read_write: bool,
    /// SET TRANSACTION READ ONLY / READ WRITE (without SESSION): applies to
    /// the next transaction only.
    next_read_only: Option<bool>,
}

/// Which `wsrep_sync_wait` bit a statement falls under.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Access {
    Read,
    UpdateDelete,
    InsertReplace,
}

impl Session {
    pub fn new(
        node: Arc<Node>,
        connection_id: u32,
        user: &str,
        host: &str,
        db: Option<String>,
    ) -> Session {
        let state = SessionState {
            db,
            user: user.to_string(),
            host: host.to_string(),
            connection_id,
            last_insert_id: 0,
            vars: vars::SessionVars::new(node.globals.clone()),
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
        node.register_session(connection_id, user, host);
        Session {
            node,
            state,
            txn: None,
            explicit: false,
            explicit_read_only: false,
            explicit_read_write: false,
            next_read_only: None,
        }
    }

    fn autocommit(&self) -> bool {
        self.state.vars.get_bool("autocommit")
    }

    fn in_transaction(&self) -> bool {
        self.explicit || (!self.autocommit() && self.txn.is_some())
    }

    /// Parses one statement's text.
    pub fn parse_one(text: &str) -> SqlResult<Parsed> {
        if let Some(a) = admin::parse_admin(text)? {
            return Ok(Parsed::Admin(a));
        }
        let mut stmts = sql::parse(text)?;
        match stmts.len() {
            0 => Err(SqlError::new(
                codes::EMPTY_QUERY,
                "42000",
                "Query was empty",
            )),
            1 => Ok(Parsed::Sql(Box::new(stmts.remove(0)))),
            _ => Err(SqlError::syntax(
                "several statements in one prepared statement",
            )),
        }
    }

    /// Runs a whole COM_QUERY text: one result per statement, stopping at
    /// the first error.
    pub async fn run_query(&mut self, text: &str) -> Vec<SqlResult<Output>> {
        let stmts = admin::split_statements(text);
        if stmts.is_empty() {
            return vec![Err(SqlError::new(
                codes::EMPTY_QUERY,
                "42000",
                "Query was empty",
            ))];
        }
        let mut out = Vec::with_capacity(stmts.len());
        for StmtText { text } in stmts {
            let r = match Self::parse_one(&text) {
                Ok(p) => self.run(&text, &p, &[]).await,
                Err(e) => Err(e),
            };
            let failed = r.is_err();
            out.push(r);
            if failed {
                break;
            }
        }
        out
    }

    /// Runs one parsed statement.
    pub async fn run(
        &mut self,
        text: &str,
        parsed: &Parsed,
        params: &[Value],
    ) -> SqlResult<Output> {
        self.node.note_query(self.state.connection_id, text);
        self.state.sql_text.clear();
        self.state.sql_text.push_str(text);
        // MySQL keeps the previous statement's warnings for SHOW WARNINGS and
        // for statements that read no table (`SELECT @@warning_count`).
        let keep_warnings = match parsed {
            Parsed::Admin(a) => matches!(a, Admin::ShowWarnings | Admin::ShowErrors),
            Parsed::Sql(s) => matches!(s.as_ref(), Statement::Query(_)) && !reads_tables(text),
        };
        if !keep_warnings {
            self.state.warnings.clear();
        }
        let r = match parsed {
            Parsed::Admin(a) => self.run_admin(text, a).await,
            Parsed::Sql(s) => self.run_sql(text, s, params).await,
        };
        self.node.note_query_done(self.state.connection_id);
        if let Ok(Output::Ok { affected, .. }) = &r {
            self.state.row_count = *affected as i64;
        } else if r.is_ok() {
            self.state.row_count = -1;
        }
        r
    }

    async fn run_admin(&mut self, text: &str, a: &Admin) -> SqlResult<Output> {
        match a {
            Admin::ShowWarnings | Admin::ShowErrors => {
                let e = self.exec_readonly_view(|e| Ok(e.show_warnings()));
                if matches!(a, Admin::ShowErrors) {
                    return e.map(|o| match o {
                        Output::Rows { columns, rows } => Output::Rows {
                            columns,
                            rows: rows
                                .into_iter()
                                .filter(|r| r[0].to_text_lossy() == "Error")
                                .collect(),
                        },
                        other => other,
                    });
                }
                e
            }
            Admin::ShowEngines => self.exec_readonly_view(|e| Ok(e.show_engines())),
            Admin::ShowCharset { like } => {
                let like = like.clone();
                self.exec_readonly_view(move |e| Ok(e.show_charset(like.as_deref())))
            }
            Admin::ShowGrants => self.exec_readonly_view(|e| Ok(e.show_grants())),
            Admin::ShowCreateDatabase {
                name,
                if_not_exists,
            } => {
                let (d, ine) = (name.clone(), *if_not_exists);
                self.exec_readonly_view(move |e| e.show_create_database(&d, ine))
            }
            Admin::ShowIndex { db, table } => {
                let (db, table) = (db.clone(), table.clone());
                self.exec_readonly_view(move |e| e.show_index(db.as_deref(), &table))
            }
            Admin::ShowTableStatus { db, like } => {
                let (db, like) = (db.clone(), like.clone());
                self.exec_readonly_view(move |e| {
                    e.show_table_status(db.as_deref(), like.as_deref())
                })
            }
            Admin::TableMaintenance { op, tables } => {
                self.require_ready(false)?;
                let (op, tables) = (*op, tables.clone());
                self.with_statement(Access::Read, false, &[], move |e| {
                    e.table_maintenance(op, &tables)
                })
                .await
            }
            Admin::ChecksumTable(tables) => {
                self.require_ready(false)?;
                let tables = tables.clone();
                self.with_statement(Access::Read, false, &[], move |e| {
                    e.checksum_tables(&tables)
                })
                .await
            }
            Admin::AlterTableKeys { db, table } => {
                self.require_ready(false)?;
                let (db, table) = (db.clone(), table.clone());
                self.with_statement(Access::Read, false, &[], move |e| {
                    e.alter_table_keys(db.as_deref(), &table)
                })
                .await
            }
            Admin::Grant => Ok(Output::ok(0)),
            Admin::XaRecover => Ok(sql::admin::xa_recover()),
            Admin::SetPassword { user, password } => {
                let acc = user.clone().unwrap_or(admin::Account {
                    user: self.state.user.clone(),
                    host: "%".into(),
                });
                let text = format!(
                    "SET PASSWORD FOR '{}'@'{}' = '{}'",
                    acc.user.replace('\'', "''"),
                    acc.host.replace('\'', "''"),
                    password.replace('\'', "''")
                );
                self.run_toi(&text, Vec::new()).await
            }
            Admin::CreateUser { .. } | Admin::DropUser { .. } | Admin::AlterUser { .. } => {
                self.run_toi(text, Vec::new()).await
            }
            Admin::CreateSequence { name, .. } => {
                let tables = self.qualified_names(std::slice::from_ref(name))?;
                self.run_toi(text, tables).await
            }
            Admin::DropSequence { names, .. } => {
                let tables = self.qualified_names(names)?;
                self.run_toi(text, tables).await
            }
            Admin::ShowCreateSequence((db, name)) => {
                let (db, name) = (db.clone(), name.clone());
                self.exec_readonly_view(move |e| e.show_create_sequence(db.as_deref(), &name))
            }
            Admin::AlterTableMeta { db, table, .. } => {
                let db = db
                    .clone()
                    .or_else(|| self.state.db.clone())
                    .ok_or_else(SqlError::no_db)?;
                self.run_toi(text, vec![format!("{db}.{table}")]).await
            }
        }
    }

    async fn run_sql(
        &mut self,
        text: &str,
        stmt: &Statement,
        params: &[Value],
    ) -> SqlResult<Output> {
        match stmt {
            Statement::StartTransaction { modes, .. } => {
                self.implicit_commit().await?;
                self.explicit = true;
                self.explicit_read_only = modes.iter().any(|m| {
                    matches!(
                        m,
                        ast::TransactionMode::AccessMode(ast::TransactionAccessMode::ReadOnly)
                    )
                });
                self.explicit_read_write = modes.iter().any(|m| {
                    matches!(
                        m,
                        ast::TransactionMode::AccessMode(ast::TransactionAccessMode::ReadWrite)
                    )
                });
                // Other transactions take their snapshot at the first read;
                // this one promises a snapshot as of START TRANSACTION.
                if trireme_sql::wants_consistent_snapshot(text) {
                    self.ensure_txn(Access::Read).await?;
                }
                Ok(Output::ok(0))
            }
            Statement::Commit { .. } => {
                self.commit().await?;
                Ok(Output::ok(0))
            }
            Statement::Rollback { savepoint, .. } => match savepoint {
                None => {
                    self.rollback();
                    Ok(Output::ok(0))
                }
                Some(sp) => {
                    match self.txn.as_mut() {
                        Some(t) => t.rollback_to(&sp.value)?,
                        None => return Err(SqlError::savepoint_missing(&sp.value)),
                    }
                    Ok(Output::ok(0))
                }
            },
            Statement::Savepoint { name } => {
                self.require_ready(false)?;
                self.ensure_txn(Access::Read).await?;
                if let Some(t) = self.txn.as_mut() {
                    t.savepoint(&name.value);
                }
                Ok(Output::ok(0))
            }
            Statement::ReleaseSavepoint { name } => {
                match self.txn.as_mut() {
                    Some(t) => t.release_savepoint(&name.value)?,
                    None => return Err(SqlError::savepoint_missing(&name.value)),
                }
                Ok(Output::ok(0))
            }
            Statement::Set(set) => self.set(text, set, params).await,
            Statement::Use(u) => {
                let name = match u {
                    ast::Use::Object(n) | ast::Use::Database(n) | ast::Use::Schema(n) => {
                        sql::object_name_parts(n)?
                            .last()
                            .cloned()
                            .unwrap_or_default()
                    }
                    other => return Err(SqlError::unsupported(format!("{other}"))),
                };
                self.use_db(&name)?;
                Ok(Output::ok(0))
            }
            Statement::ShowDatabases { show_options, .. } => {
                let f = options_filter(show_options)?;
                self.exec_readonly_view(move |e| Ok(e.show_databases(f.as_deref())))
            }
            Statement::ShowTables {
                full, show_options, ..
            } => {
                let f = options_filter(show_options)?;
                let db = options_in(show_options)?.and_then(|p| p.last().cloned());
                let full = *full;
                self.exec_readonly_view(move |e| e.show_tables(db.as_deref(), full, f.as_deref()))
            }
            Statement::ShowColumns {
                full, show_options, ..
            } => {
                let f = options_filter(show_options)?;
                let parts = options_in(show_options)?.unwrap_or_default();
                let (db, table) = match parts.as_slice() {
                    [t] => (None, t.clone()),
                    [d, t] => (Some(d.clone()), t.clone()),
                    [d, t, ..] => (Some(d.clone()), t.clone()),
                    [] => return Err(SqlError::syntax("SHOW COLUMNS needs FROM table")),
                };
                let full = *full;
                self.exec_readonly_view(move |e| {
                    e.show_columns(db.as_deref(), &table, full, f.as_deref())
                })
            }
            Statement::ShowCreate { obj_type, obj_name } => {
                let parts = sql::object_name_parts(obj_name)?;
                match obj_type {
                    ast::ShowCreateObject::Table => {
                        let (db, t) = match parts.as_slice() {
                            [t] => (None, t.clone()),
                            [d, t] => (Some(d.clone()), t.clone()),
                            _ => return Err(SqlError::syntax("bad table name")),
                        };
                        self.exec_readonly_view(move |e| e.show_create_table(db.as_deref(), &t))
                    }
                    ast::ShowCreateObject::View => {
                        let (db, v) = match parts.as_slice() {
                            [v] => (None, v.clone()),
                            [d, v] => (Some(d.clone()), v.clone()),
                            _ => return Err(SqlError::syntax("bad view name")),
                        };
                        self.exec_readonly_view(move |e| e.show_create_view(db.as_deref(), &v))
                    }
                    other => Err(SqlError::unsupported(format!("SHOW CREATE {other}"))),
                }
            }
            Statement::ShowVariables { filter, global, .. } => {
                let (f, wh) = split_filter(filter)?;
                let g = *global;
                let out =
                    self.exec_readonly_view(move |e| Ok(e.show_variables(g, f.as_deref())))?;
                self.filter_where(out, wh)
            }
            Statement::ExplainTable { table_name, .. } => {
                let (db, t) = match sql::object_name_parts(table_name)?.as_slice() {
                    [t] => (None, t.clone()),
                    [d, t] => (Some(d.clone()), t.clone()),
                    _ => return Err(SqlError::syntax("bad table name")),
                };
                self.exec_readonly_view(move |e| e.show_columns(db.as_deref(), &t, false, None))
            }
            Statement::ShowStatus { filter, global, .. } => {
                let (f, wh) = split_filter(filter)?;
                let node = self.node.clone();
                let g = *global;
                let out =
                    self.exec_readonly_view(move |e| Ok(e.show_status(&*node, f.as_deref(), g)))?;
                self.filter_where(out, wh)
            }
            Statement::ShowCollation { filter } => {
                let (f, wh) = split_filter(filter)?;
                let out = self.exec_readonly_view(move |e| Ok(e.show_collation(f.as_deref())))?;
                self.filter_where(out, wh)
            }
            Statement::ShowProcessList { .. } => {
                let node = self.node.clone();
                self.exec_readonly_view(move |e| Ok(e.show_processlist(&*node)))
            }
            Statement::ShowVariable { variable } => {
                let words: Vec<String> = variable
                    .iter()
                    .map(|i| i.value.to_ascii_uppercase())
                    .collect();
                Err(SqlError::unsupported(format!("SHOW {}", words.join(" "))))
            }
            Statement::Explain {
                analyze,
                verbose,
                statement,
                format,
                ..
            } => {
                let opts = sql::explain::options(*analyze, *verbose, format.as_ref())?;
                self.require_ready(true)?;
                self.with_statement(Access::Read, false, params, |e| e.explain(statement, opts))
                    .await
            }
            Statement::Query(q) => {
                // As in Galera, a detached node still answers queries that
                // read no table (`SELECT @@version`, `SELECT 1`): drivers
                // send those while connecting.
                if !self.node.is_ready() && reads_tables(text) {
                    self.require_ready(true)?;
                }
                let locking = !q.locks.is_empty();
                self.with_statement(Access::Read, locking, params, |e| {
                    let (columns, rows) = e.query(q)?;
                    Ok(Output::Rows { columns, rows })
                })
                .await
            }
            Statement::Insert(ins) => {
                self.require_ready(false)?;
                self.with_statement(Access::InsertReplace, true, params, |e| e.insert(ins))
                    .await
            }
            Statement::Update(u) => {
                self.require_ready(false)?;
                self.with_statement(Access::UpdateDelete, true, params, |e| e.update(u))
                    .await
            }
            Statement::Delete(d) => {
                self.require_ready(false)?;
                self.with_statement(Access::UpdateDelete, true, params, |e| e.delete(d))
                    .await
            }
            Statement::CreateTable(ct) if ct.query.is_some() => {
                self.create_table_select(ct, params).await
            }
            Statement::CreateTable(ct) if ct.temporary => self.create_temporary(ct),
            Statement::Drop {
                object_type: ast::ObjectType::Table,
                if_exists,
                names,
                temporary,
                ..
            } if *temporary || self.names_temporary(names) => {
                self.drop_temporary(names, *if_exists, *temporary).await
            }
            Statement::Truncate(t)
                if self.names_temporary(
                    &t.table_names
                        .iter()
                        .map(|x| x.name.clone())
                        .collect::<Vec<_>>(),
                ) =>
            {
                self.truncate_temporary(t)
            }
            s if sql::ddl::is_toi(s) && self.alters_temporary(s) => self.alter_temporary(s).await,
            s if sql::ddl::is_toi(s) => {
                self.check_view_definition(s)?;
                if sql::fk::checks_on(&self.state) {
                    sql::fk::check_ddl(s, &self.node.store.catalog(), self.state.db.as_deref())?;
                }
                let tables = sql::ddl::toi_tables(s, self.state.db.as_deref());
                let notes =
                    sql::ddl::notes(s, &self.node.store.catalog(), self.state.db.as_deref());
                let counted = sql::ddl::database_affected_rows(s, &self.node.store.catalog());
                let mut out = self.run_toi(text, tables).await?;
                self.state.warnings.extend(notes);
                if let (Some(n), Output::Ok { affected, .. }) = (counted, &mut out) {
                    *affected = n;
                }
                Ok(out)
            }
            Statement::Kill { id, .. } => {
                if *id == u64::from(self.state.connection_id) {
                    return Err(SqlError::new(
                        1317,
                        "70100",
                        "Query execution was interrupted",
                    ));
                }
                Err(SqlError::new(
                    1094,
                    "HY000",
                    format!("Unknown thread id: {id}"),
                ))
            }
            Statement::Flush { .. } | Statement::LockTables { .. } | Statement::UnlockTables => {
                // Nothing to flush in an in-memory store; table locks are not
                // needed under snapshot isolation and are accepted as no-ops.
                Ok(Output::ok(0))
            }
            other => Err(SqlError::unsupported(format!(
                "statement {}",
                first_words(&other.to_string())
            ))),
        }
    }

    /// Non-primary nodes refuse reads and writes (Galera's wsrep_ready=OFF),
    /// except reads under wsrep_dirty_reads.
    fn require_ready(&self, read: bool) -> SqlResult<()> {
        if self.node.is_ready() {
            return Ok(());
        }
        if read && self.state.vars.get_bool("wsrep_dirty_reads") {
            return Ok(());
        }
        Err(SqlError::not_primary())
    }

    fn use_db(&mut self, name: &str) -> SqlResult<()> {
        let cat = self.node.store.catalog();
        if !cat.databases.contains_key(name)
            && !sql::ddl::SYSTEM_DATABASES
                .iter()
                .any(|d| d.eq_ignore_ascii_case(name))
        {
            // A node that is not synced may simply not have applied the
            // CREATE DATABASE yet: say it is not ready rather than that the
            // database does not exist.
            if !self.node.is_ready() {
                return Err(SqlError::not_primary());
            }
            return Err(SqlError::unknown_db(name));
        }
        self.state.db = Some(name.to_string());
        Ok(())
    }

    /// Takes the transaction's snapshot if it has none yet.
    async fn ensure_txn(&mut self, access: Access) -> SqlResult<()> {
        if self.txn.is_some() {
            return Ok(());
        }
        let mask = self.state.vars.get_int("wsrep_sync_wait");
        let bit = match access {
            Access::Read => 1,
            Access::UpdateDelete => 2,
            Access::InsertReplace => 4,
        };
        if mask & bit != 0 || self.state.vars.get_bool("wsrep_causal_reads") {
            self.node.repl.sync_wait().await?;
        }
        let id = self.node.repl.next_trx_id();
        let snap = self.node.store.snapshot();
        // START TRANSACTION's own mode wins, then SET TRANSACTION for this
        // one transaction, then the session's transaction_read_only.
        let read_only = if self.explicit && (self.explicit_read_only || self.explicit_read_write) {
            self.explicit_read_only
        } else if let Some(ro) = self.next_read_only.take() {
            ro
        } else {
            self.state.vars.get_bool("transaction_read_only")
        };
        let txn = Txn::new(id, snap, self.explicit, read_only);
        if self.explicit || !self.autocommit() {
            self.node.repl.track(&txn);
        }
        self.txn = Some(txn);
        Ok(())
    }

    /// Runs a read or write statement inside the transaction (or as its own
    /// autocommit transaction, retried on certification failure).
    async fn with_statement(
        &mut self,
        access: Access,
        writes: bool,
        params: &[Value],
        f: impl Fn(&mut Exec) -> SqlResult<Output>,
    ) -> SqlResult<Output> {
        let retries = self.state.vars.get_int("wsrep_retry_autocommit").max(0) as usize;
        let mut attempt = 0;
        let mut sequence_rounds = 0;
        let mut replay = std::collections::HashMap::new();
        loop {
            let autocommit_stmt = !self.explicit && self.autocommit();
            self.ensure_txn(access).await?;
            let (result, request, taken) = self.exec_with_sequences(params, &f, replay);
            replay = taken.into_iter().map(|(k, v)| (k, v.into())).collect();
            if let Some(req) = request.filter(|_| result.is_err()) {
                // The statement stopped for sequence values: get them and
                // run it again (its effects were undone with it).
                if autocommit_stmt {
                    self.rollback();
                }
                sequence_rounds += 1;
                if sequence_rounds > 64 {
                    return result;
                }
                self.serve_sequence(req).await?;
                continue;
            }
            let result = match result {
                Ok(out) if autocommit_stmt => {
                    let r = if writes || self.txn.as_ref().is_some_and(Txn::has_writes) {
                        self.commit().await.map(|_| out)
                    } else {
                        self.rollback();
                        Ok(out)
                    };
                    r
                }
                other => other,
            };
            match result {
                Err(e) if e.is_retryable() => {
                    self.rollback();
                    if autocommit_stmt && attempt < retries {
                        attempt += 1;
                        continue;
                    }
                    return Err(e);
                }
                Err(e) => {
                    if autocommit_stmt {
                        self.rollback();
                    }
                    return Err(e);
                }
                Ok(out) => return Ok(out),
            }
        }
    }

    /// Runs a statement with the session's sequences in reach: the request
    /// it stopped with, if any, comes back with its result.
    #[allow(clippy::type_complexity)]
    fn exec_with_sequences(
        &mut self,
        params: &[Value],
        f: &impl Fn(&mut Exec) -> SqlResult<Output>,
        replay: std::collections::HashMap<sql::sequence::SeqKey, std::collections::VecDeque<i64>>,
    ) -> (
        SqlResult<Output>,
        Option<sql::sequence::Request>,
        std::collections::HashMap<sql::sequence::SeqKey, Vec<i64>>,
    ) {
        let mut ctx = sql::sequence::Context::new(self.state.vars.global.sequences.clone());
        ctx.last = std::mem::take(&mut self.state.sequence_last);
        ctx.set_done = std::mem::take(&mut self.state.sequence_set_done);
        ctx.replay = replay;
        sql::sequence::begin(ctx);
        let result = self.exec_in_txn(params, f);
        match sql::sequence::finish() {
            Some(ctx) => {
                self.state.sequence_last = ctx.last;
                self.state.sequence_set_done = ctx.set_done;
                (result, ctx.request, ctx.taken)
            }
            None => (result, None, Default::default()),
        }
    }

    fn exec_in_txn(
        &mut self,
        params: &[Value],
        f: &impl Fn(&mut Exec) -> SqlResult<Output>,
    ) -> SqlResult<Output> {
        let node = self.node.clone();
        let info = node.info();
        let txn = self
            .txn
            .as_mut()
            .ok_or_else(|| SqlError::internal("no transaction"))?;
        txn.check_doomed()?;
        txn.begin_statement();
        let mut e = new_exec(&node, &info, txn, &mut self.state, params, false);
        let r = f(&mut e);
        match &r {
            Ok(_) => txn_of(&mut self.txn).end_statement(),
            Err(_) => txn_of(&mut self.txn).rollback_statement(),
        }
        r
    }

    /// SHOW-like statements: read the catalog at a fresh snapshot, outside
    /// any transaction.
    fn exec_readonly_view(
        &mut self,
        f: impl FnOnce(&mut Exec) -> SqlResult<Output>,
    ) -> SqlResult<Output> {
        let node = self.node.clone();
        let info = node.info();
        let mut txn = Txn::new(0, node.store.snapshot(), false, true);
        let mut e = new_exec(&node, &info, &mut txn, &mut self.state, &[], false);
        f(&mut e)
    }

    /// SHOW ... WHERE expr: keeps the rows of `out` for which `expr` holds,
    /// with the result's column names in scope.
    fn filter_where(&mut self, out: Output, expr: Option<ast::Expr>) -> SqlResult<Output> {
        let Some(expr) = expr else {
            return Ok(out);
        };
        let Output::Rows { columns, rows } = out else {
            return Ok(out);
        };
        let scope = trireme_sql::bind::Scope {
            cols: columns
                .iter()
                .map(|c| trireme_sql::bind::ScopeCol {
                    source: String::new(),
                    meta: c.clone(),
                })
                .collect(),
        };
        self.exec_readonly_view(move |e| {
            let mut env = trireme_sql::bind::BindEnv::new(&scope, "where clause");
            let cond = e.bind(&expr, &mut env)?;
            let mut kept = Vec::new();
            for r in rows {
                if cond.holds(&r)? {
                    kept.push(r);
                }
            }
            Ok(Output::Rows {
                columns,
                rows: kept,
            })
        })
    }

    /// `db.name` for each (db, name), the current database filling in.
    fn qualified_names(&self, names: &[(Option<String>, String)]) -> SqlResult<Vec<String>> {
        names
            .iter()
            .map(|(d, n)| {
                let d = d
                    .clone()
                    .or_else(|| self.state.db.clone())
                    .ok_or_else(SqlError::no_db)?;
                Ok(format!("{d}.{n}"))
            })
            .collect()
    }

    /// Runs what a statement asked of a sequence before it can run again:
    /// reserves a block of values for this node, or runs a SETVAL, each in
    /// a replicated transaction of its own (retried when another node's
    /// reservation won certification).
    async fn serve_sequence(&mut self, req: sql::sequence::Request) -> SqlResult<()> {
        use sql::sequence::{Request, State, ROW_KEY};
        let key = match &req {
            Request::Reserve(k) | Request::Set { key: k, .. } => k.clone(),
        };
        let name = format!("{}.{}", key.0, key.1);
        let cache = self.state.vars.global.sequences.clone();
        for _ in 0..20 {
            let table = self
                .node
                .store
                .catalog()
                .table(&key.0, &key.1)
                .cloned()
                .ok_or_else(|| SqlError::no_such_table(&key.0, &key.1))?;
            let txn_id = self.node.repl.next_trx_id();
            let mut txn = Txn::new(txn_id, self.node.store.snapshot(), false, false);
            let row = txn
                .get(&table, ROW_KEY)?
                .ok_or_else(|| SqlError::internal(format!("sequence {name} has no row")))?;
            let state = State::from_row(&row)?;
            let (new, done) = match &req {
                Request::Reserve(_) => {
                    let (block, new) = state.reserve(&name)?;
                    (Some(new), Some(block))
                }
                Request::Set {
                    value, used, round, ..
                } => (state.set(*value, *used, *round), None),
            };
            if let Some(new) = &new {
                txn.put(&table, ROW_KEY.to_vec(), Some(new.to_row().into()))?;
            }
            match self.node.repl.commit(&txn).await {
                Ok(_) => {
                    match (&req, done) {
                        (Request::Reserve(_), Some(block)) => {
                            cache.put(key, table.def.version, block)
                        }
                        (Request::Set { value, .. }, _) => {
                            // Values cached here before the SETVAL are behind it.
                            cache.forget(&key);
                            let answer = new.is_some().then_some(*value);
                            self.state.sequence_set_done.insert((key, *value), answer);
                        }
                        _ => {}
                    }
                    return Ok(());
                }
                Err(e) if e.is_retryable() => continue,
                Err(e) => return Err(e),
            }
        }
        Err(SqlError::deadlock())
    }

    /// CREATE TEMPORARY TABLE (columns or LIKE): made here, not ordered,
    /// and no implicit commit (MySQL).
    fn create_temporary(&mut self, ct: &ast::CreateTable) -> SqlResult<Output> {
        let cat = sql::temporary::overlay(self.node.store.catalog(), &self.state.temporary);
        let db = self.state.db.clone();
        match sql::temporary::create(&cat, &self.state.temporary, ct, db.as_deref())? {
            Some(t) => {
                let key = (t.def.db.clone(), t.def.name.clone());
                self.state.temporary.insert(key, t);
            }
            None => {
                let (_, name) = sql::ddl::qualify_in(&ct.name, db.as_deref())?;
                self.state.warnings.push(trireme_sql::Warning {
                    level: "Note",
                    code: codes::TABLE_EXISTS,
                    message: format!("Table '{name}' already exists"),
                });
            }
        }
        Ok(Output::ok(0))
    }

    /// Whether any of `names` is one of the session's TEMPORARY tables.
    fn names_temporary(&self, names: &[ast::ObjectName]) -> bool {
        !self.state.temporary.is_empty()
            && names.iter().any(|n| {
                sql::ddl::qualify_in(n, self.state.db.as_deref())
                    .is_ok_and(|k| self.state.temporary.contains_key(&k))
            })
    }

    /// DROP [TEMPORARY] TABLE naming TEMPORARY tables: those go here; the
    /// other names are dropped as any DROP TABLE (DROP TEMPORARY TABLE
    /// reports them as unknown instead).
    async fn drop_temporary(
        &mut self,
        names: &[ast::ObjectName],
        if_exists: bool,
        only_temporary: bool,
    ) -> SqlResult<Output> {
        let db = self.state.db.clone();
        let mut rest = Vec::new();
        for n in names {
            let key = sql::ddl::qualify_in(n, db.as_deref())?;
            if self.state.temporary.remove(&key).is_none() {
                rest.push(key);
            }
        }
        if rest.is_empty() {
            return Ok(Output::ok(0));
        }
        let listed: Vec<String> = rest.iter().map(|(d, t)| format!("{d}.{t}")).collect();
        if only_temporary {
            if if_exists {
                self.state.warnings.push(trireme_sql::Warning {
                    level: "Note",
                    code: codes::BAD_TABLE,
                    message: format!("Unknown table '{}'", listed.join(",")),
                });
                return Ok(Output::ok(0));
            }
            return Err(SqlError::unknown_table(&listed.join(",")));
        }
        let quote = |x: &str| format!("`{}`", x.replace('`', "``"));
        let text = format!(
            "DROP TABLE {}{}",
            if if_exists { "IF EXISTS " } else { "" },
            rest.iter()
                .map(|(d, t)| format!("{}.{}", quote(d), quote(t)))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let stmt = sql::parse(&text)?
            .into_iter()
            .next()
            .ok_or_else(|| SqlError::internal("generated DROP did not parse"))?;
        let notes = sql::ddl::notes(&stmt, &self.node.store.catalog(), db.as_deref());
        let out = self.run_toi(&text, listed).await?;
        self.state.warnings.extend(notes);
        Ok(out)
    }

    /// TRUNCATE of TEMPORARY tables: each starts again empty.
    fn truncate_temporary(&mut self, t: &ast::Truncate) -> SqlResult<Output> {
        let db = self.state.db.clone();
        let mut keys = Vec::new();
        for x in &t.table_names {
            let key = sql::ddl::qualify_in(&x.name, db.as_deref())?;
            if !self.state.temporary.contains_key(&key) {
                return Err(SqlError::unsupported(
                    "TRUNCATE of TEMPORARY and other tables together",
                ));
            }
            keys.push(key);
        }
        for key in keys {
            if let Some(old) = self.state.temporary.get(&key) {
                let fresh = Arc::new(trireme_storage::Table::new_temporary(old.def.clone()));
                self.state.temporary.insert(key, fresh);
            }
        }
        Ok(Output::ok(0))
    }

    /// Whether DDL (ALTER, CREATE / DROP INDEX, RENAME) names one of the
    /// session's TEMPORARY tables: then it changes that table, here.
    fn alters_temporary(&self, s: &Statement) -> bool {
        if self.state.temporary.is_empty()
            || matches!(
                s,
                Statement::CreateTable(_) | Statement::CreateView(_) | Statement::AlterView { .. }
            )
        {
            return false;
        }
        sql::ddl::toi_tables(s, self.state.db.as_deref())
            .iter()
            .filter_map(|q| q.split_once('.'))
            .any(|(d, t)| {
                self.state
                    .temporary
                    .contains_key(&(d.to_string(), t.to_string()))
            })
    }

    /// ALTER / INDEX / RENAME of a TEMPORARY table: the open transaction
    /// commits first (as for any ALTER), then the table is rebuilt here.
    async fn alter_temporary(&mut self, s: &Statement) -> SqlResult<Output> {
        self.implicit_commit().await?;
        let cat = sql::temporary::overlay(self.node.store.catalog(), &self.state.temporary);
        let horizon = self.node.store.horizon();
        let changed = sql::temporary::alter(
            &cat,
            &self.state.temporary,
            s,
            self.state.db.as_deref(),
            horizon,
        )?;
        for (old, new, table) in changed {
            self.state.temporary.remove(&old);
            self.state.temporary.insert(new, table);
        }
        Ok(Output::ok(0))
    }

    /// CREATE / ALTER VIEW: the SELECT must bind here before the view is
    /// ordered (every node then stores it as it is).
    fn check_view_definition(&mut self, s: &Statement) -> SqlResult<()> {
        let (name, columns, query) = match s {
            Statement::CreateView(cv) => (
                &cv.name,
                cv.columns.iter().map(|c| c.name.value.clone()).collect(),
                &cv.query,
            ),
            Statement::AlterView {
                name,
                columns,
                query,
                ..
            } => (
                name,
                columns.iter().map(|c| c.value.clone()).collect(),
                query,
            ),
            _ => return Ok(()),
        };
        let db = match sql::object_name_parts(name)?.as_slice() {
            [_] => self.state.db.clone().ok_or_else(SqlError::no_db)?,
            [d, _] => d.clone(),
            _ => return Err(SqlError::syntax("bad view name")),
        };
        let query = query.clone();
        let columns: Vec<String> = columns;
        self.exec_readonly_view(move |e| {
            e.check_view_definition(&db, &query, &columns)
                .map(|()| Output::ok(0))
        })?;
        Ok(())
    }

    async fn run_toi(&mut self, text: &str, tables: Vec<String>) -> SqlResult<Output> {
        self.require_ready(false)?;
        self.implicit_commit().await?;
        self.node
            .repl
            .toi(self.state.db.as_deref(), text, tables)
            .await?;
        Ok(Output::ok(0))
    }

    /// CREATE TABLE ... SELECT, as Galera replicates it: the SELECT runs
    /// here; the table it defines (explicit columns, then one per selected
    /// column not named among them) is created by TOI like any CREATE
    /// TABLE, and its rows are then inserted by a replicated write-set.
    async fn create_table_select(
        &mut self,
        ct: &ast::CreateTable,
        params: &[Value],
    ) -> SqlResult<Output> {
        self.require_ready(false)?;
        let Some(query) = ct.query.clone() else {
            return Err(SqlError::internal(
                "CREATE TABLE ... SELECT without a SELECT",
            ));
        };
        let (cols, rows) = match self.exec_readonly_view(move |e| {
            let (columns, rows) = e.query(&query)?;
            Ok(Output::Rows { columns, rows })
        })? {
            Output::Rows { columns, rows } => (columns, rows),
            Output::Ok { .. } => return Err(SqlError::internal("a SELECT returned no rows")),
        };
        let (db, name) = match sql::object_name_parts(&ct.name)?.as_slice() {
            [t] => (
                self.state.db.clone().ok_or_else(SqlError::no_db)?,
                t.clone(),
            ),
            [d, t] => (d.clone(), t.clone()),
            _ => return Err(SqlError::syntax("bad table name")),
        };
        let exists = if ct.temporary {
            self.state
                .temporary
                .contains_key(&(db.clone(), name.clone()))
        } else {
            self.node.store.catalog().table(&db, &name).is_some()
        };
        if exists {
            if ct.if_not_exists {
                self.state.warnings.push(trireme_sql::Warning {
                    level: "Note",
                    code: codes::TABLE_EXISTS,
                    message: format!("Table '{name}' already exists"),
                });
                return Ok(Output::ok(0));
            }
            return Err(SqlError::table_exists(&name));
        }
        let ddl = sql::ddl::create_table_select_ddl(ct, &cols)?;
        let target: Vec<String> = cols.iter().map(|c| c.name.clone()).collect();
        let stmt = sql::parse(&ddl)?
            .into_iter()
            .next()
            .ok_or_else(|| SqlError::internal("generated DDL did not parse"))?;
        match &stmt {
            Statement::CreateTable(made) if ct.temporary => {
                self.create_temporary(made)?;
            }
            _ => {
                let tables = sql::ddl::toi_tables(&stmt, self.state.db.as_deref());
                self.run_toi(&ddl, tables).await?;
            }
        }
        let table = sql::ddl::qualified_name(&db, &name);
        let n = rows.len() as u64;
        let out = match self
            .with_statement(Access::InsertReplace, true, params, |e| {
                e.insert_rows(&table, &target, rows.clone())
            })
            .await
        {
            Ok(out) => out,
            Err(e) if ct.temporary => {
                self.state.temporary.remove(&(db, name));
                return Err(e);
            }
            Err(e) => {
                // As in MariaDB, a failed CREATE ... SELECT leaves no table.
                let drop = format!(
                    "DROP TABLE `{}`.`{}`",
                    db.replace('`', "``"),
                    name.replace('`', "``")
                );
                let _ = self.run_toi(&drop, vec![format!("{db}.{name}")]).await;
                return Err(e);
            }
        };
        Ok(match out {
            Output::Ok {
                last_insert_id,
                info,
                ..
            } => Output::Ok {
                affected: n,
                last_insert_id,
                info,
            },
            other => other,
        })
    }

    /// DDL and BEGIN commit the open transaction first, as in MySQL.
    async fn implicit_commit(&mut self) -> SqlResult<()> {
        if self.txn.is_some() || self.explicit {
            self.commit().await?;
        }
        Ok(())
    }

    async fn commit(&mut self) -> SqlResult<()> {
        self.explicit = false;
        self.explicit_read_only = false;
        self.explicit_read_write = false;
        let Some(txn) = self.txn.take() else {
            return Ok(());
        };
        let r = self.node.repl.commit(&txn).await;
        if let Ok(seqno) = &r {
            let at = seqno.unwrap_or_else(|| self.node.store.horizon());
            sql::temporary::install(&txn, at).map_err(SqlError::from)?;
        }
        self.node.repl.untrack(txn.id);
        r.map(|_| ())
    }

    /// Discards the transaction. Always succeeds, on any node in any state.
    fn rollback(&mut self) {
        self.explicit = false;
        self.explicit_read_only = false;
        self.explicit_read_write = false;
        if let Some(txn) = self.txn.take() {
            self.node.repl.untrack(txn.id);
        }
    }

    async fn set(&mut self, text: &str, set: &ast::Set, params: &[Value]) -> SqlResult<Output> {
        match set {
            ast::Set::SetNames {
                charset_name,
                collation_name,
            } => {
                // SET NAMES sets the connection's charset and collation:
                // the collation of string literals from here on.
                let coll = trireme_sql::ddl::resolve_collation(
                    Some(&charset_name.value),
                    collation_name.as_deref(),
                    Collation::default(),
                )?;
                for (var, v) in [
                    ("character_set_client", coll.charset().name()),
                    ("character_set_connection", coll.charset().name()),
                    ("character_set_results", coll.charset().name()),
                    ("collation_connection", coll.name()),
                ] {
                    vars::set(&mut self.state, var, Value::Str(v.into()), false)?;
                }
                Ok(Output::ok(0))
            }
            ast::Set::SetNamesDefault {} => Ok(Output::ok(0)),
            ast::Set::SetTransaction { modes, .. } => {
                // sqlparser drops SET's SESSION / GLOBAL scope word here;
                // without one the settings apply to the next transaction.
                let toks = admin::lex(text);
                let session = matches!(
                    toks.get(1),
                    Some(admin::Tok::Word(w)) if w.eq_ignore_ascii_case("SESSION") || w.eq_ignore_ascii_case("GLOBAL")
                );
                let session = &session;
                for m in modes {
                    match m {
                        ast::TransactionMode::IsolationLevel(l) => {
                            let v = match l {
                                ast::TransactionIsolationLevel::ReadUncommitted => {
                                    "READ-UNCOMMITTED"
                                }
                                ast::TransactionIsolationLevel::ReadCommitted => "READ-COMMITTED",
                                ast::TransactionIsolationLevel::RepeatableRead => "REPEATABLE-READ",
                                ast::TransactionIsolationLevel::Serializable => "SERIALIZABLE",
                                ast::TransactionIsolationLevel::Snapshot => "REPEATABLE-READ",
                            };
                            vars::set(
                                &mut self.state,
                                "transaction_isolation",
                                Value::Str(v.into()),
                                false,
                            )?;
                        }
                        ast::TransactionMode::AccessMode(a) => {
                            let ro = matches!(a, ast::TransactionAccessMode::ReadOnly);
                            if *session {
                                vars::set(
                                    &mut self.state,
                                    "transaction_read_only",
                                    Value::from_bool(ro),
                                    false,
                                )?;
                            } else {
                                self.next_read_only = Some(ro);
                            }
                        }
                    }
                }
                Ok(Output::ok(0))
            }
            ast::Set::SingleAssignment {
                scope,
                variable,
                values,
                ..
            } => {
                let name = sql::object_name_parts(variable)?;
                let [value] = values.as_slice() else {
                    return Err(SqlError::syntax("SET takes one value"));
                };
                let global = matches!(scope, Some(ast::ContextModifier::Global));
                self.set_one(&name, value, global, params).await?;
                Ok(Output::ok(0))
            }
            ast::Set::MultipleAssignments { assignments } => {
                for a in assignments {
                    let name = sql::object_name_parts(&a.name)?;
                    let global = matches!(a.scope, Some(ast::ContextModifier::Global));
                    self.set_one(&name, &a.value, global, params).await?;
                }
                Ok(Output::ok(0))
            }
            other => Err(SqlError::unsupported(format!("{other}"))),
        }
    }

    async fn set_one(
        &mut self,
        name: &[String],
        value: &ast::Expr,
        mut global: bool,
        params: &[Value],
    ) -> SqlResult<()> {
        // Evaluate the value (it may reference variables or be DEFAULT).
        let v = match value {
            ast::Expr::Identifier(i)
                if i.quote_style.is_none() && i.value.eq_ignore_ascii_case("DEFAULT") =>
            {
                None
            }
            ast::Expr::Identifier(i) if i.quote_style.is_none() && !i.value.starts_with('@') => {
                // SET x = ON / OFF / word: MySQL reads bare words as strings.
                Some(Value::Str(i.value.clone()))
            }
            other => {
                let other = other.clone();
                // As a statement of the transaction, so that what it reads
                // is the transaction's and NEXTVAL() gets its values.
                let out = self
                    .with_statement(Access::Read, false, params, move |e| {
                        let scope = trireme_sql::bind::Scope::default();
                        let x =
                            e.bind(&other, &mut trireme_sql::bind::BindEnv::new(&scope, "SET"))?;
                        Ok(Output::Rows {
                            columns: vec![],
                            rows: vec![vec![x.eval(&[])?]],
                        })
                    })
                    .await?;
                match out {
                    Output::Rows { mut rows, .. } => rows.pop().and_then(|mut r| r.pop()),
                    _ => None,
                }
            }
        };
        let (scope_word, var) = match name {
            [n] => (None, n.clone()),
            [s, n] => (
                Some(s.trim_start_matches('@').to_ascii_lowercase()),
                n.clone(),
            ),
            _ => return Err(SqlError::syntax("bad variable name")),
        };
        if let Some(s) = &scope_word {
            global = global || s == "global";
        }
        if var.starts_with('@') && !var.starts_with("@@") && scope_word.is_none() {
            let key = var.trim_start_matches('@').to_ascii_lowercase();
            self.state.user_vars.insert(key, v.unwrap_or(Value::Null));
            return Ok(());
        }
        let var = var.trim_start_matches('@');
        let lower = var.to_ascii_lowercase();
        if matches!(lower.as_str(), "names" | "character set" | "charset") {
            return Ok(());
        }
        let v = match v {
            Some(v) => v,
            None => vars::read(&self.state, var, true)?,
        };
        let turning_on_autocommit =
            lower == "autocommit" && !global && v.truth() == Some(true) && !self.autocommit();
        vars::set(&mut self.state, var, v, global)?;
        if turning_on_autocommit {
            // MySQL commits the open transaction when autocommit turns on.
            self.commit().await?;
        }
        Ok(())
    }

    /// CLIENT_FOUND_ROWS was negotiated (see `SessionState`).
    pub fn set_client_found_rows(&mut self, on: bool) {
        self.state.client_found_rows = on;
    }

    /// Prepares a statement for COM_STMT_PREPARE.
    pub async fn prepare(&mut self, text: &str) -> SqlResult<(Prepared, Vec<OutCol>)> {
        let stmts = admin::split_statements(text);
        let [one] = stmts.as_slice() else {
            if stmts.is_empty() {
                return Err(SqlError::new(
                    codes::EMPTY_QUERY,
                    "42000",
                    "Query was empty",
                ));
            }
            return Err(SqlError::syntax(
                "several statements in one prepared statement",
            ));
        };
        let parsed = Self::parse_one(&one.text)?;
        let params = count_placeholders(&one.text);
        let columns = match &parsed {
            Parsed::Sql(s) => match s.as_ref() {
                Statement::Query(q) => self.describe(q)?,
                _ => Vec::new(),
            },
            Parsed::Admin(_) => Vec::new(),
        };
        Ok((
            Prepared {
                text: one.text.clone(),
                parsed,
                params,
            },
            columns,
        ))
    }

    /// The result columns of a query, without running it.
    fn describe(&mut self, q: &ast::Query) -> SqlResult<Vec<OutCol>> {
        let node = self.node.clone();
        let info = node.info();
        let mut txn = Txn::new(0, node.store.snapshot(), false, true);
        // Parameters are unknown: bind them as NULL, and read no rows.
        let nulls = vec![Value::Null; 65_535];
        let mut e = new_exec(&node, &info, &mut txn, &mut self.state, &nulls, true);
        // Describing must not fail the PREPARE when the query only fails at
        // run time (e.g. a NULL parameter in LIMIT).
        match e.describe_query(q) {
            Ok(cols) => Ok(cols),
            Err(err) if err.code == codes::WRONG_ARGUMENTS => Ok(Vec::new()),
            Err(err) => Err(err),
        }
    }

    pub async fn execute(&mut self, p: &Prepared, params: Vec<Value>) -> SqlResult<Output> {
        if params.len() != p.params {
            return Err(SqlError::new(
                codes::WRONG_ARGUMENTS,
                "HY000",
                "Incorrect arguments to mysqld_stmt_execute",
            ));
        }
        self.run(&p.text, &p.parsed, &params).await
    }

    /// Ends the session: an open transaction is rolled back.
    pub fn close(&mut self) {
        self.rollback();
        self.state
            .vars
            .global
            .user_locks
            .release_all(self.state.connection_id);
        self.node.unregister_session(self.state.connection_id);
    }

    pub fn status_flags(&self) -> StatusFlags {
        let mut f = StatusFlags::empty();
        if self.autocommit() {
            f |= StatusFlags::SERVER_STATUS_AUTOCOMMIT;
        }
        if self.in_transaction() {
            f |= StatusFlags::SERVER_STATUS_IN_TRANS;
        }
        f
    }
}

fn txn_of(t: &mut Option<Txn>) -> &mut Txn {
    t.as_mut().expect("statement ran inside a transaction")
}

/// Rewrites every quoted literal that is not valid UTF-8 into a hex literal
/// (`'\xff\0'` becomes `X'FF00'`), undoing MySQL's backslash escapes. Returns
/// None when bytes outside literals are not UTF-8.
pub fn binary_literals_to_hex(sql: &[u8]) -> Option<String> {
    let mut out = String::with_capacity(sql.len() * 2);
    let mut plain: Vec<u8> = Vec::new();
    let mut i = 0;
    while i < sql.len() {
        let c = sql[i];
        if c != b'\'' && c != b'"' {
            plain.push(c);
            i += 1;
            continue;
        }
        out.push_str(std::str::from_utf8(&plain).ok()?);
        plain.clear();
        let quote = c;
        let start = i;
        let mut value = Vec::new();
        i += 1;
        loop {
            let b = *sql.get(i)?;
            if b == b'\\' {
                let n = *sql.get(i + 1)?;
                value.push(match n {
                    b'0' => 0,
                    b'n' => b'\n',
                    b'r' => b'\r',
                    b't' => b'\t',
                    b'b' => 8,
                    b'Z' => 26,
                    other => other,
                });
                i += 2;
                continue;
            }
            if b == quote {
                if sql.get(i + 1) == Some(&quote) {
                    value.push(quote);
                    i += 2;
                    continue;
                }
                i += 1;
                break;
            }
            value.push(b);
            i += 1;
        }
        match std::str::from_utf8(&sql[start..i]) {
            Ok(literal) => out.push_str(literal),
            Err(_) => {
                // The space keeps an introducer (`_binary`) a separate word.
                out.push_str(" X'");
                for b in &value {
                    out.push_str(&format!("{b:02X}"));
                }
                out.push('\'');
            }
        }
    }
    out.push_str(std::str::from_utf8(&plain).ok()?);
    Some(out)
}

/// The context one statement runs in.
fn new_exec<'a>(
    node: &'a Arc<Node>,
    info: &'a trireme_sql::NodeInfo,
    txn: &'a mut Txn,
    sess: &'a mut SessionState,
    params: &'a [Value],
    describe: bool,
) -> Exec<'a> {
    Exec {
        store: &node.store,
        catalog: sql::temporary::overlay(node.store.catalog(), &sess.temporary),
        txn,
        sess,
        node: info,
        params,
        now: DateTime::now(),
        next_param: 0,
        values_ref: None,
        status: &**node,
        describe,
        ctes: Vec::new(),
        windows: None,
        outer: Vec::new(),
        saw_outer_ref: false,
        generated: Vec::new(),
        default_exprs: Vec::new(),
        view_checks: Vec::new(),
    }
}

/// A SHOW filter as a LIKE pattern or a WHERE expression.
fn split_filter(
    f: &Option<ast::ShowStatementFilter>,
) -> SqlResult<(Option<String>, Option<ast::Expr>)> {
    match f {
        Some(ast::ShowStatementFilter::Where(e)) => Ok((None, Some(e.clone()))),
        other => Ok((show_filter(other)?, None)),
    }
}

/// Whether a statement's text names a table (a FROM clause anywhere).
fn reads_tables(text: &str) -> bool {
    admin::lex(text)
        .iter()
        .any(|t| matches!(t, admin::Tok::Word(w) if w.eq_ignore_ascii_case("FROM")))
}

fn first_words(s: &str) -> String {
    s.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

/// Counts `?` placeholders outside quotes and comments.
pub fn count_placeholders(text: &str) -> usize {
    admin::lex(text)
        .iter()
        .filter(|t| matches!(t, admin::Tok::Sym('?')))
        .count()
}

/// A table's TEXT and BLOB columns go out as BLOB whatever their size, an
/// expression's sized as MariaDB sends it (MEDIUM_BLOB, LONG_BLOB).
fn blob_type(c: &OutCol, len: u32) -> ColumnType {
    if !c.org_table.is_empty() {
        return ColumnType::MYSQL_TYPE_BLOB;
    }
    match len {
        0..=65_535 => ColumnType::MYSQL_TYPE_BLOB,
        65_536..=16_777_215 => ColumnType::MYSQL_TYPE_MEDIUM_BLOB,
        _ => ColumnType::MYSQL_TYPE_LONG_BLOB,
    }
}

/// Result metadata for the wire.
pub fn column_def(c: &OutCol) -> wire::types::ColumnDef {
    let (ty, len, decimals, binary, unsigned) = match &c.ty {
        None => (ColumnType::MYSQL_TYPE_NULL, 0, 0, true, false),
        Some(t) => match t {
            SqlType::Int { width, unsigned } => (
                match width {
                    IntWidth::Tiny => ColumnType::MYSQL_TYPE_TINY,
                    IntWidth::Small => ColumnType::MYSQL_TYPE_SHORT,
                    IntWidth::Medium => ColumnType::MYSQL_TYPE_INT24,
                    IntWidth::Int => ColumnType::MYSQL_TYPE_LONG,
                    IntWidth::Big => ColumnType::MYSQL_TYPE_LONGLONG,
                },
                match width {
                    IntWidth::Tiny => 4,
                    IntWidth::Small => 6,
                    IntWidth::Medium => 9,
                    IntWidth::Int => 11,
                    IntWidth::Big => 20,
                },
                0,
                true,
                *unsigned,
            ),
            SqlType::Bool => (ColumnType::MYSQL_TYPE_TINY, 1, 0, true, false),
            SqlType::Decimal { precision, scale } => (
                ColumnType::MYSQL_TYPE_NEWDECIMAL,
                u32::from(*precision) + 2,
                *scale,
                true,
                false,
            ),
            SqlType::Float => (ColumnType::MYSQL_TYPE_FLOAT, 12, 31, true, false),
            SqlType::Double => (ColumnType::MYSQL_TYPE_DOUBLE, 22, 31, true, false),
            SqlType::Char(n) => (
                ColumnType::MYSQL_TYPE_STRING,
                n.saturating_mul(4),
                0,
                false,
                false,
            ),
            SqlType::Varchar(n) => (
                ColumnType::MYSQL_TYPE_VAR_STRING,
                n.saturating_mul(4),
                0,
                false,
                false,
            ),
            SqlType::Text(n) => (blob_type(c, *n), *n, 0, false, false),
            SqlType::Binary(n) => (ColumnType::MYSQL_TYPE_STRING, *n, 0, true, false),
            SqlType::Varbinary(n) => (ColumnType::MYSQL_TYPE_VAR_STRING, *n, 0, true, false),
            SqlType::Blob(n) => (blob_type(c, *n), *n, 0, true, false),
            SqlType::Date => (ColumnType::MYSQL_TYPE_DATE, 10, 0, true, false),
            SqlType::DateTime(f) => (
                ColumnType::MYSQL_TYPE_DATETIME,
                19 + u32::from(*f) + u32::from(*f > 0),
                *f,
                true,
                false,
            ),
            SqlType::Timestamp(f) => (
                ColumnType::MYSQL_TYPE_TIMESTAMP,
                19 + u32::from(*f) + u32::from(*f > 0),
                *f,
                true,
                false,
            ),
            SqlType::Uuid => (ColumnType::MYSQL_TYPE_STRING, 144, 0, false, false),
            SqlType::Year => (ColumnType::MYSQL_TYPE_YEAR, 4, 0, true, true),
            SqlType::Bit(m) => (ColumnType::MYSQL_TYPE_BIT, u32::from(*m), 0, true, true),
            SqlType::Time(f) => (
                ColumnType::MYSQL_TYPE_TIME,
                10 + u32::from(*f) + u32::from(*f > 0),
                *f,
                true,
                false,
            ),
            SqlType::Enum(v) => (
                ColumnType::MYSQL_TYPE_STRING,
                v.iter().map(|s| s.len() as u32).max().unwrap_or(1) * 4,
                0,
                false,
                false,
            ),
            SqlType::Set(v) => (
                ColumnType::MYSQL_TYPE_STRING,
                (v.iter().map(|s| s.len() as u32 + 1).sum::<u32>().max(2) - 1) * 4,
                0,
                false,
                false,
            ),
        },
    };
    let mut d = wire::types::ColumnDef::new(c.name.clone(), ty);
    d.schema = c.db.clone();
    d.table = c.table.clone();
    d.org_table = c.org_table.clone();
    d.org_name = c.org_name.clone();
    d.column_length = len;
    d.decimals = decimals;
    let mut flags = ColumnFlags::empty();
    if !c.nullable {
        flags |= ColumnFlags::NOT_NULL_FLAG;
    }
    if c.primary_key {
        flags |= ColumnFlags::PRI_KEY_FLAG;
    }
    if c.unique_key {
        flags |= ColumnFlags::UNIQUE_KEY_FLAG;
    }
    if c.multiple_key {
        flags |= ColumnFlags::MULTIPLE_KEY_FLAG;
    }
    if c.auto_increment {
        flags |= ColumnFlags::AUTO_INCREMENT_FLAG;
    }
    if unsigned {
        flags |= ColumnFlags::UNSIGNED_FLAG;
    }
    if matches!(c.ty, Some(SqlType::Enum(_))) {
        flags |= ColumnFlags::ENUM_FLAG;
    }
    if matches!(c.ty, Some(SqlType::Set(_))) {
        flags |= ColumnFlags::SET_FLAG;
    }
    // A YEAR column pads to four digits (0000); an expression over one,
    // MIN(yr) say, does not (MariaDB shows 0).
    if matches!(c.ty, Some(SqlType::Year)) && !c.org_name.is_empty() {
        flags |= ColumnFlags::ZEROFILL_FLAG;
    }
    if binary {
        flags |= ColumnFlags::BINARY_FLAG;
        d.charset = 63;
    } else {
        // Text is sent in the connection's utf8mb4: the column's collation
        // when it is a utf8mb4 one, else utf8mb4's default.
        d.charset = match c.collation {
            Some(coll) if coll.charset() == Charset::Utf8mb4 => coll.id(),
            _ => Collation::Utf8mb4GeneralCi.id(),
        };
    }
    if matches!(
        c.ty,
        Some(
            SqlType::Int { .. }
                | SqlType::Bool
                | SqlType::Decimal { .. }
                | SqlType::Float
                | SqlType::Double
        )
    ) {
        flags |= ColumnFlags::NUM_FLAG;
    }
    d.flags = flags;
    d
}

/// A value for the wire.
pub fn wire_value(v: Value, col: &OutCol) -> mysql_common::value::Value {
    use mysql_common::value::Value as W;
    match v {
        Value::Null => W::NULL,
        // A BIT column is its big-endian bytes, as MariaDB sends it.
        Value::Int(_) | Value::UInt(_) if matches!(col.ty, Some(SqlType::Bit(_))) => {
            let u = match v {
                Value::Int(i) => i as u64,
                Value::UInt(u) => u,
                _ => 0,
            };
            let m = match col.ty {
                Some(SqlType::Bit(m)) => m,
                _ => 64,
            };
            let n = usize::from(m).div_ceil(8).clamp(1, 8);
            W::Bytes(u.to_be_bytes()[8 - n..].to_vec())
        }
        Value::Int(i) => W::Int(i),
        Value::UInt(u) => W::UInt(u),
        Value::Double(d) => match col.ty {
            Some(SqlType::Float) => W::Float(d as f32),
            _ => W::Double(d),
        },
        Value::Decimal(d) => {
            // DECIMAL columns print with their scale.
            let s = match &col.ty {
                Some(SqlType::Decimal { scale, .. }) => {
                    let mut d = d;
                    let want = u32::from(*scale);
                    if d.scale() < want {
                        d.rescale(want.min(28));
                    }
                    // A declared scale beyond what a value holds (28).
                    let mut s = d.to_string();
                    if want > d.scale() {
                        if d.scale() == 0 {
                            s.push('.');
                        }
                        s.extend(std::iter::repeat_n('0', (want - d.scale()) as usize));
                    }
                    s
                }
                _ => d.to_string(),
            };
            W::Bytes(s.into_bytes())
        }
        Value::Str(s) => W::Bytes(s.into_bytes()),
        Value::Bytes(b) => W::Bytes(b),
        Value::Date(d) => match col.ty {
            Some(SqlType::Date | SqlType::DateTime(_) | SqlType::Timestamp(_)) => {
                W::Date(d.year, d.month, d.day, 0, 0, 0, 0)
            }
            _ => W::Bytes(d.to_string().into_bytes()),
        },
        Value::DateTime(dt) => match col.ty {
            Some(SqlType::Date) => W::Date(dt.date.year, dt.date.month, dt.date.day, 0, 0, 0, 0),
            Some(SqlType::DateTime(_) | SqlType::Timestamp(_)) => W::Date(
                dt.date.year,
                dt.date.month,
                dt.date.day,
                dt.hour,
                dt.minute,
                dt.second,
                dt.micro,
            ),
            _ => W::Bytes(dt.format(if dt.micro == 0 { 0 } else { 6 }).into_bytes()),
        },
        Value::Time(us) => match col.ty {
            Some(SqlType::Time(_)) => {
                let a = us.unsigned_abs();
                let secs = a / 1_000_000;
                let hours = secs / 3600;
                W::Time(
                    us < 0,
                    (hours / 24) as u32,
                    (hours % 24) as u8,
                    (secs / 60 % 60) as u8,
                    (secs % 60) as u8,
                    (a % 1_000_000) as u32,
                )
            }
            _ => W::Bytes(Value::Time(us).to_text_lossy().into_bytes()),
        },
        Value::Uuid(u) => W::Bytes(trireme_storage::value::format_uuid(u).into_bytes()),
    }
}

/// A parameter from the wire.
pub fn from_wire(v: mysql_common::value::Value) -> Value {
    use mysql_common::value::Value as W;
    match v {
        W::NULL => Value::Null,
        W::Int(i) => Value::Int(i),
        W::UInt(u) => Value::UInt(u),
        W::Float(f) => Value::Double(f64::from(f)),
        W::Double(d) => Value::Double(d),
        W::Bytes(b) => match String::from_utf8(b) {
            Ok(s) => Value::Str(s),
            Err(e) => Value::Bytes(e.into_bytes()),
        },
        W::Date(y, m, d, h, mi, s, us) => {
            let date = trireme_storage::value::Date {
                year: y,
                month: m,
                day: d,
            };
            if h == 0 && mi == 0 && s == 0 && us == 0 {
                Value::Date(date)
            } else {
                Value::DateTime(DateTime {
                    date,
                    hour: h,
                    minute: mi,
                    second: s,
                    micro: us,
                })
            }
        }
        W::Time(neg, days, h, m, s, us) => {
            let secs =
                (i64::from(days) * 24 + i64::from(h)) * 3600 + i64::from(m) * 60 + i64::from(s);
            let micros = secs * 1_000_000 + i64::from(us);
            Value::Time(if neg { -micros } else { micros })
        }
    }
}

/// Converts a statement's output for the wire.
pub fn to_wire(out: Output, warnings: u16) -> Result<wire::StmtResult, wire::MySqlError> {
    Ok(match out {
        Output::Ok {
            affected,
            last_insert_id,
            info,
        } => wire::StmtResult::Ok(wire::types::OkInfo {
            affected_rows: affected,
            last_insert_id,
            warnings,
            info,
        }),
        Output::Rows { columns, rows } => {
            let defs = columns.iter().map(column_def).collect();
            let rows = rows
                .into_iter()
                .map(|r| {
                    r.into_iter()
                        .zip(&columns)
                        .map(|(v, c)| wire_value(v, c))
                        .collect()
                })
                .collect();
            wire::StmtResult::Rows {
                columns: defs,
                rows,
            }
        }
    })
}

pub fn to_wire_error(e: SqlError) -> wire::MySqlError {
    wire::MySqlError::new(e.code, e.state, e.message)
}

/// The wire protocol's view of a session.
pub struct WireSession {
    pub session: Session,
}

impl wire::Handler for WireSession {
    type Statement = Prepared;

    async fn query(&mut self, sql: &str) -> Vec<Result<wire::StmtResult, wire::MySqlError>> {
        let results = self.session.run_query(sql).await;
        let warnings = self.session.state.warnings.len().min(u16::MAX as usize) as u16;
        results
            .into_iter()
            .map(|r| match r {
                Ok(o) => to_wire(o, warnings),
                Err(e) => Err(to_wire_error(e)),
            })
            .collect()
    }

    /// PyMySQL sends binary values as raw bytes inside `_binary'...'`; they
    /// become hex literals. Bytes that are not UTF-8 outside a literal get
    /// MySQL's 1300, as a utf8mb4 connection answers.
    async fn query_bytes(&mut self, sql: &[u8]) -> Vec<Result<wire::StmtResult, wire::MySqlError>> {
        if let Ok(text) = std::str::from_utf8(sql) {
            return self.query(text).await;
        }
        match binary_literals_to_hex(sql) {
            Some(text) => self.query(&text).await,
            None => match wire::error::utf8(sql) {
                Ok(text) => self.query(text).await,
                Err(e) => vec![Err(e)],
            },
        }
    }

    async fn prepare(
        &mut self,
        sql: &str,
    ) -> Result<(Prepared, wire::PrepareInfo), wire::MySqlError> {
        let (p, cols) = self.session.prepare(sql).await.map_err(to_wire_error)?;
        let info = wire::PrepareInfo {
            params: u16::try_from(p.params).map_err(|_| {
                wire::MySqlError::new(
                    1390,
                    "HY000",
                    "Prepared statement contains too many placeholders",
                )
            })?,
            columns: cols.iter().map(column_def).collect(),
        };
        Ok((p, info))
    }

    async fn execute(
        &mut self,
        stmt: &mut Prepared,
        params: Vec<mysql_common::value::Value>,
    ) -> Result<wire::StmtResult, wire::MySqlError> {
        let params = params.into_iter().map(from_wire).collect();
        let out = self
            .session
            .execute(stmt, params)
            .await
            .map_err(to_wire_error)?;
        let warnings = self.session.state.warnings.len().min(u16::MAX as usize) as u16;
        to_wire(out, warnings)
    }

    async fn init_db(&mut self, db: &str) -> Result<(), wire::MySqlError> {
        self.session.use_db(db).map_err(to_wire_error)
    }

    async fn change_user(&mut self, info: &wire::SessionInfo) -> Result<(), wire::MySqlError> {
        self.session.rollback();
        self.session.state.user = info.user.clone();
        self.session.state.host = info.host.clone();
        self.session.state.vars = vars::SessionVars::new(self.session.node.globals.clone());
        self.session.state.user_vars.clear();
        self.session.state.db = None;
        Ok(())
    }

    async fn reset_connection(&mut self) -> Result<(), wire::MySqlError> {
        self.session.rollback();
        self.session.state.vars = vars::SessionVars::new(self.session.node.globals.clone());
        self.session.state.user_vars.clear();
        self.session.state.warnings.clear();
        Ok(())
    }

    async fn ping(&mut self) -> Result<(), wire::MySqlError> {
        Ok(())
    }

    async fn statistics(&mut self) -> String {
        self.session.node.statistics_line()
    }

    async fn quit(&mut self) {
        self.session.close();
    }

    fn status(&self) -> StatusFlags {
        self.session.status_flags()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_literals_become_hex_and_text_stays() {
        let sql = b"INSERT INTO t VALUES (_binary'\xff\\0\\'x', 'caf\xc3\xa9', \"a\"\"b\")";
        let out = binary_literals_to_hex(sql).unwrap();
        assert_eq!(
            out,
            "INSERT INTO t VALUES (_binary X'FF002778', 'caf\u{e9}', \"a\"\"b\")"
        );
        // Bytes outside literals must be UTF-8.
        assert!(binary_literals_to_hex(b"SELECT \xff").is_none());
        // An unterminated literal is refused rather than guessed.
        assert!(binary_literals_to_hex(b"SELECT '\xff").is_none());
    }

    #[test]
    fn placeholders_are_counted_outside_literals() {
        assert_eq!(
            count_placeholders("SELECT ?, '?', \"?\" FROM t WHERE a = ? -- ?"),
            2
        );
    }
}
