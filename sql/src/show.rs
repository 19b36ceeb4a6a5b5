//! SHOW statements, information_schema tables and CHECKSUM TABLE: answers
//! computed from the catalog, the session and the node's status.

use sqlparser::ast;

use crate::arith::like;
use crate::ddl::SYSTEM_DATABASES;
use crate::error::{codes, SqlError, SqlResult};
use crate::{vars, Exec, OutCol, Output, Warning};
use trireme_storage::catalog::{DefaultValue, FkAction, ForeignKeyDef, TableDef, ViewDef};
use trireme_storage::collation::{Charset, Collation};
use trireme_storage::types::{sql_literal, IntWidth, SqlType};
use trireme_storage::value::Value;
use trireme_storage::Row;

fn text_cols(names: &[&str]) -> Vec<OutCol> {
    names.iter().map(|n| OutCol::text(n)).collect()
}

fn s(v: impl Into<String>) -> Value {
    Value::Str(v.into())
}

fn rows(columns: Vec<OutCol>, rows: Vec<Vec<Value>>) -> Output {
    Output::Rows { columns, rows }
}

/// The first column's name under `SHOW ... LIKE 'p'`: MariaDB adds the
/// pattern (`Tables_in_db (p)`).
fn with_pattern(name: &str, filter: Option<&str>) -> String {
    match filter {
        Some(p) => format!("{name} ({p})"),
        None => name.to_string(),
    }
}

/// A LIKE filter on the first column.
fn like_filter(filter: Option<&str>, name: &str) -> bool {
    filter.is_none_or(|p| {
        like(
            &name.to_ascii_lowercase(),
            &p.to_ascii_lowercase(),
            '\\',
            None,
        )
    })
}

/// SHOW ... LIKE / WHERE filters as sqlparser gives them.
pub fn show_filter(f: &Option<ast::ShowStatementFilter>) -> SqlResult<Option<String>> {
    match f {
        None => Ok(None),
        Some(ast::ShowStatementFilter::Like(p)) | Some(ast::ShowStatementFilter::ILike(p)) => {
            Ok(Some(p.clone()))
        }
        Some(ast::ShowStatementFilter::Where(_)) => Err(SqlError::unsupported("SHOW ... WHERE")),
        Some(other) => Err(SqlError::unsupported(format!("SHOW filter {other}"))),
    }
}

pub fn options_filter(o: &ast::ShowStatementOptions) -> SqlResult<Option<String>> {
    match &o.filter_position {
        None => Ok(None),
        Some(ast::ShowStatementFilterPosition::Suffix(f))
        | Some(ast::ShowStatementFilterPosition::Infix(f)) => show_filter(&Some(f.clone())),
    }
}

pub fn options_in(o: &ast::ShowStatementOptions) -> SqlResult<Option<Vec<String>>> {
    match &o.show_in {
        Some(si) => match &si.parent_name {
            Some(n) => Ok(Some(crate::object_name_parts(n)?)),
            None => Ok(None),
        },
        None => Ok(None),
    }
}

/// Status values the node reports (SHOW STATUS, information_schema).
pub trait NodeStatus: Send + Sync {
    fn status(&self) -> Vec<(String, Value)>;
    /// (id, user, host, db, command, seconds, state, info)
    fn processlist(&self) -> Vec<Vec<Value>>;
}

impl Exec<'_> {
    pub fn show_databases(&self, filter: Option<&str>) -> Output {
        let mut names: Vec<String> = SYSTEM_DATABASES.iter().map(|d| d.to_string()).collect();
        names.extend(self.catalog.databases.keys().cloned());
        names.sort();
        names.dedup();
        let r = names
            .into_iter()
            .filter(|n| like_filter(filter, n))
            .map(|n| vec![s(n)])
            .collect();
        rows(vec![OutCol::text(&with_pattern("Database", filter))], r)
    }

    pub fn show_tables(
        &self,
        db: Option<&str>,
        full: bool,
        filter: Option<&str>,
    ) -> SqlResult<Output> {
        let db = match db {
            Some(d) => d.to_string(),
            None => self.current_db()?.to_string(),
        };
        let col = with_pattern(&format!("Tables_in_{db}"), filter);
        let mut cols = vec![OutCol::text(&col)];
        if full {
            cols.push(OutCol::text("Table_type"));
        }
        if SYSTEM_DATABASES.iter().any(|d| d.eq_ignore_ascii_case(&db)) {
            let r = if db.eq_ignore_ascii_case("information_schema") {
                INFO_TABLES
                    .iter()
                    .filter(|t| like_filter(filter, t))
                    .map(|t| {
                        let mut r = vec![s(*t)];
                        if full {
                            r.push(s("SYSTEM VIEW"));
                        }
                        r
                    })
                    .collect()
            } else {
                Vec::new()
            };
            return Ok(rows(cols, r));
        }
        // The shared catalog: TEMPORARY tables are not listed (MariaDB).
        let shared = self.store.catalog();
        let d = shared
            .databases
            .get(&db)
            .ok_or_else(|| SqlError::unknown_db(&db))?;
        let mut names: Vec<(&String, &str)> = d
            .tables
            .iter()
            .map(|(n, t)| (n, table_type(&t.def)))
            .chain(d.views.keys().map(|v| (v, "VIEW")))
            .collect();
        names.sort();
        let r = names
            .into_iter()
            .filter(|(t, _)| like_filter(filter, t))
            .map(|(t, kind)| {
                let mut r = vec![s(t.clone())];
                if full {
                    r.push(s(kind));
                }
                r
            })
            .collect();
        Ok(rows(cols, r))
    }

    fn def_of(&self, db: Option<&str>, table: &str) -> SqlResult<TableDef> {
        let db = match db {
            Some(d) => d.to_string(),
            None => self.current_db()?.to_string(),
        };
        if !self.catalog.databases.contains_key(&db) {
            return Err(SqlError::unknown_db(&db));
        }
        self.catalog
            .table(&db, table)
            .map(|t| t.def.clone())
            .ok_or_else(|| SqlError::no_such_table(&db, table))
    }

    pub fn show_columns(
        &mut self,
        db: Option<&str>,
        table: &str,
        full: bool,
        filter: Option<&str>,
    ) -> SqlResult<Output> {
        let d = match db {
            Some(d) => d.to_string(),
            None => self.current_db()?.to_string(),
        };
        let def = match self.catalog.view(&d, table).cloned() {
            Some(v) => self.view_as_table(&v)?,
            None => self.def_of(Some(&d), table)?,
        };
        let mut names = vec!["Field", "Type"];
        if full {
            names.push("Collation");
        }
        names.extend(["Null", "Key", "Default", "Extra"]);
        if full {
            names.extend(["Privileges", "Comment"]);
        }
        let mut out = Vec::new();
        for (i, c) in def.columns.iter().enumerate() {
            if !like_filter(filter, &c.name) {
                continue;
            }
            let mut r = vec![s(c.name.clone()), s(c.ty.sql_name())];
            if full {
                r.push(c.collation.map_or(Value::Null, |c| s(c.name())));
            }
            r.push(s(if c.nullable { "YES" } else { "NO" }));
            r.push(s(column_key(&def, i)));
            r.push(match &c.default {
                Some(DefaultValue::Value(v)) => match v {
                    Value::Null => Value::Null,
                    other => s(default_text(&c.ty, other)),
                },
                Some(DefaultValue::CurrentTimestamp) => s(now_text(&c.ty)),
                Some(DefaultValue::Expr(t)) => s(t.clone()),
                None => Value::Null,
            });
            r.push(s(column_extra(c)));
            if full {
                r.push(s("select,insert,update,references"));
                r.push(s(c.comment.clone()));
            }
            out.push(r);
        }
        // Type and Default are LONGTEXT in information_schema.COLUMNS, and
        // drivers read their wire type (BLOB), as MariaDB sends it.
        let cols = names
            .iter()
            .map(|n| match *n {
                "Type" | "Default" => OutCol::expr(n, Some(SqlType::Text(65_535)), true),
                _ => OutCol::text(n),
            })
            .collect();
        Ok(rows(cols, out))
    }

    pub fn show_create_table(&self, db: Option<&str>, table: &str) -> SqlResult<Output> {
        let d = match db {
            Some(d) => d.to_string(),
            None => self.current_db()?.to_string(),
        };
        if self.catalog.view(&d, table).is_some() {
            return self.show_create_view(Some(&d), table);
        }
        let def = self.def_of(db, table)?;
        let mut text = create_table_sql(&def, self.auto_inc_of(&def));
        if crate::sequence::is_sequence(&def) {
            if let Some(at) = text.find("ENGINE=SEQUENCE") {
                text.truncate(at);
                text.push_str("ENGINE=InnoDB SEQUENCE=1");
            }
        }
        let temporary = self
            .catalog
            .table(&def.db, &def.name)
            .is_some_and(|t| t.is_temporary());
        if temporary {
            text = text.replacen("CREATE TABLE", "CREATE TEMPORARY TABLE", 1);
        }
        Ok(rows(
            text_cols(&["Table", "Create Table"]),
            vec![vec![s(def.name.clone()), s(text)]],
        ))
    }

    pub fn show_create_sequence(&self, db: Option<&str>, name: &str) -> SqlResult<Output> {
        let d = match db {
            Some(d) => d.to_string(),
            None => self.current_db()?.to_string(),
        };
        let t = self
            .catalog
            .table(&d, name)
            .ok_or_else(|| SqlError::no_such_table(&d, name))?;
        if !crate::sequence::is_sequence(&t.def) {
            return Err(SqlError::new(
                1347,
                "HY000",
                format!("'{d}.{name}' is not of type 'SEQUENCE'"),
            ));
        }
        let row = self
            .txn
            .get(t, crate::sequence::ROW_KEY)?
            .ok_or_else(|| SqlError::internal("a sequence without its row"))?;
        let state = crate::sequence::State::from_row(&row)?;
        Ok(rows(
            text_cols(&["Table", "Create Table"]),
            vec![vec![
                s(name.to_string()),
                s(crate::sequence::create_sql(name, &state)),
            ]],
        ))
    }

    pub fn show_create_view(&self, db: Option<&str>, view: &str) -> SqlResult<Output> {
        let d = match db {
            Some(d) => d.to_string(),
            None => self.current_db()?.to_string(),
        };
        let v = self.catalog.view(&d, view).ok_or_else(|| {
            if self.catalog.table(&d, view).is_some() {
                SqlError::new(1347, "HY000", format!("'{d}.{view}' is not of type 'VIEW'"))
            } else {
                SqlError::no_such_table(&d, view)
            }
        })?;
        let conn = self.conn_collation();
        Ok(rows(
            text_cols(&[
                "View",
                "Create View",
                "character_set_client",
                "collation_connection",
            ]),
            vec![vec![
                s(v.name.clone()),
                s(create_view_sql(v)),
                s(conn.charset().name()),
                s(conn.name()),
            ]],
        ))
    }

    fn auto_inc_of(&self, def: &TableDef) -> Option<u64> {
        def.auto_increment_column()?;
        let t = self.catalog.table(&def.db, &def.name)?;
        let m = t.auto_inc_max();
        (m > 0).then_some(m + 1)
    }

    pub fn show_create_database(&self, db: &str, if_not_exists: bool) -> SqlResult<Output> {
        if !self.catalog.databases.contains_key(db)
            && !SYSTEM_DATABASES.iter().any(|d| d.eq_ignore_ascii_case(db))
        {
            return Err(SqlError::unknown_db(db));
        }
        let coll = self.db_collation(db);
        Ok(rows(
            text_cols(&["Database", "Create Database"]),
            vec![vec![
                s(db),
                s(format!(
                    "CREATE DATABASE {}`{db}` /*!40100 DEFAULT CHARACTER SET {} COLLATE {} */",
                    if if_not_exists {
                        "/*!32312 IF NOT EXISTS*/ "
                    } else {
                        ""
                    },
                    coll.charset().name(),
                    coll.name(),
                )),
            ]],
        ))
    }

    pub fn show_index(&self, db: Option<&str>, table: &str) -> SqlResult<Output> {
        let def = self.def_of(db, table)?;
        let names = [
            "Table",
            "Non_unique",
            "Key_name",
            "Seq_in_index",
            "Column_name",
            "Collation",
            "Cardinality",
            "Sub_part",
            "Packed",
            "Null",
            "Index_type",
            "Comment",
            "Index_comment",
            "Ignored",
        ];
        let mut cols = text_cols(&names);
        cols[1] = OutCol::bigint("Non_unique");
        cols[3] = OutCol::expr(
            "Seq_in_index",
            Some(SqlType::Int {
                width: IntWidth::Int,
                unsigned: true,
            }),
            false,
        );
        cols[6] = OutCol::bigint("Cardinality");
        cols[7] = OutCol::bigint("Sub_part");
        let rows_in = self
            .catalog
            .table(&def.db, &def.name)
            .map_or(0, |t| t.entry_count() as i64);
        let mut out = Vec::new();
        for k in keys(&def) {
            for (seq, &c) in k.columns.iter().enumerate() {
                out.push(vec![
                    s(def.name.clone()),
                    Value::Int(i64::from(!k.unique)),
                    s(k.name),
                    Value::Int(seq as i64 + 1),
                    s(def.columns[c].name.clone()),
                    s("A"),
                    Value::Int(rows_in),
                    Value::Null,
                    Value::Null,
                    s(if def.columns[c].nullable { "YES" } else { "" }),
                    s("BTREE"),
                    s(""),
                    s(""),
                    s("NO"),
                ]);
            }
        }
        Ok(rows(cols, out))
    }

    pub fn show_table_status(&self, db: Option<&str>, filter: Option<&str>) -> SqlResult<Output> {
        let db = match db {
            Some(d) => d.to_string(),
            None => self.current_db()?.to_string(),
        };
        let shared = self.store.catalog();
        let d = shared
            .databases
            .get(&db)
            .ok_or_else(|| SqlError::unknown_db(&db))?;
        let names = [
            "Name",
            "Engine",
            "Version",
            "Row_format",
            "Rows",
            "Avg_row_length",
            "Data_length",
            "Max_data_length",
            "Index_length",
            "Data_free",
            "Auto_increment",
            "Create_time",
            "Update_time",
            "Check_time",
            "Collation",
            "Checksum",
            "Create_options",
            "Comment",
            "Max_index_length",
            "Temporary",
        ];
        let mut out = Vec::new();
        for (name, t) in &d.tables {
            if !like_filter(filter, name) {
                continue;
            }
            out.push(vec![
                s(name.clone()),
                s(t.def.engine.clone()),
                Value::Int(10),
                s("Dynamic"),
                Value::Int(t.entry_count() as i64),
                Value::Int(0),
                Value::Int(0),
                Value::Int(0),
                Value::Int(0),
                Value::Int(0),
                self.auto_inc_of(&t.def).map_or(Value::Null, Value::UInt),
                Value::Null,
                Value::Null,
                Value::Null,
                s(t.def.collation.name()),
                Value::Null,
                s(""),
                s(t.def.comment.clone()),
                Value::Int(0),
                s("N"),
            ]);
        }
        // MariaDB's types: sizes and counts BIGINT UNSIGNED, times DATETIME.
        let cols = names
            .iter()
            .map(|n| match *n {
                "Version" | "Rows" | "Avg_row_length" | "Data_length" | "Max_data_length"
                | "Index_length" | "Data_free" | "Auto_increment" | "Checksum"
                | "Max_index_length" => OutCol::expr(
                    n,
                    Some(SqlType::Int {
                        width: IntWidth::Big,
                        unsigned: true,
                    }),
                    true,
                ),
                "Create_time" | "Update_time" | "Check_time" => {
                    OutCol::expr(n, Some(SqlType::DateTime(0)), true)
                }
                _ => OutCol::text(n),
            })
            .collect();
        Ok(rows(cols, out))
    }

    pub fn show_variables(&self, global: bool, filter: Option<&str>) -> Output {
        let r = vars::all(self.sess, global)
            .into_iter()
            .filter(|(n, _)| like_filter(filter, n))
            .map(|(n, v)| vec![s(n), s(v.to_text().unwrap_or_default())])
            .collect();
        rows(text_cols(&["Variable_name", "Value"]), r)
    }

    /// SHOW [SESSION | GLOBAL] STATUS: the node's status plus this
    /// session's row-access counters, sorted by name as MySQL does.
    pub fn show_status(
        &self,
        status: &dyn NodeStatus,
        filter: Option<&str>,
        global: bool,
    ) -> Output {
        // GLOBAL: the node's totals; SESSION (the default): this session's
        // own counters in place of the node-wide ones.
        let mut all = if global {
            status.status()
        } else {
            self.status_with_session(status)
        };
        all.sort_by_key(|(n, _)| n.to_ascii_lowercase());
        let r = all
            .into_iter()
            .filter(|(n, _)| like_filter(filter, n))
            .map(|(n, v)| vec![s(n), s(v.to_text().unwrap_or_default())])
            .collect();
        rows(text_cols(&["Variable_name", "Value"]), r)
    }

    /// The node's status values with this session's own counters in place
    /// of any node-wide value of the same name (SHOW STATUS is SESSION
    /// scope by default, as in MySQL).
    fn status_with_session(&self, status: &dyn NodeStatus) -> Vec<(String, Value)> {
        let session = self.sess.vars.reads.status_rows();
        let mut all: Vec<(String, Value)> = status
            .status()
            .into_iter()
            .filter(|(n, _)| !session.iter().any(|(m, _)| m.eq_ignore_ascii_case(n)))
            .collect();
        all.extend(session);
        all
    }

    pub fn show_warnings(&self) -> Output {
        let mut cols = text_cols(&["Level", "Code", "Message"]);
        // INT UNSIGNED, as MariaDB sends it.
        cols[1] = OutCol::expr(
            "Code",
            Some(SqlType::Int {
                width: trireme_storage::types::IntWidth::Int,
                unsigned: true,
            }),
            false,
        );
        let r = self
            .sess
            .warnings
            .iter()
            .map(|w| {
                vec![
                    s(w.level),
                    Value::UInt(u64::from(w.code)),
                    s(w.message.clone()),
                ]
            })
            .collect();
        rows(cols, r)
    }

    pub fn show_engines(&self) -> Output {
        rows(
            text_cols(&[
                "Engine",
                "Support",
                "Comment",
                "Transactions",
                "XA",
                "Savepoints",
            ]),
            vec![vec![
                s("InnoDB"),
                s("DEFAULT"),
                s("trireme in-memory MVCC store, synchronously replicated"),
                s("YES"),
                s("NO"),
                s("YES"),
            ]],
        )
    }

    pub fn show_charset(&self, like: Option<&str>) -> Output {
        let mut cols = text_cols(&["Charset", "Description", "Default collation", "Maxlen"]);
        cols[3] = OutCol::bigint("Maxlen");
        rows(
            cols,
            Charset::ALL
                .iter()
                .filter(|cs| like_filter(like, cs.name()))
                .map(|cs| {
                    vec![
                        s(cs.name()),
                        s(charset_description(*cs)),
                        s(cs.default_collation().name()),
                        Value::Int(i64::from(cs.max_len())),
                    ]
                })
                .collect(),
        )
    }

    pub fn show_collation(&self, like: Option<&str>) -> Output {
        let mut cols = text_cols(&[
            "Collation",
            "Charset",
            "Id",
            "Default",
            "Compiled",
            "Sortlen",
        ]);
        cols[2] = OutCol::bigint("Id");
        cols[5] = OutCol::bigint("Sortlen");
        rows(
            cols,
            Collation::ALL
                .iter()
                .filter(|c| like_filter(like, c.name()))
                .map(|c| collation_row(*c))
                .collect(),
        )
    }

    /// A database's default collation (the server's for system schemas).
    pub fn db_collation(&self, db: &str) -> Collation {
        self.catalog
            .databases
            .get(db)
            .map_or(Collation::Utf8mb4GeneralCi, |d| d.collation)
    }

    pub fn show_processlist(&self, status: &dyn NodeStatus) -> Output {
        let mut cols = text_cols(&[
            "Id", "User", "Host", "db", "Command", "Time", "State", "Info",
        ]);
        cols[0] = OutCol::bigint("Id");
        cols[5] = OutCol::bigint("Time");
        rows(cols, status.processlist())
    }

    pub fn show_grants(&self) -> Output {
        let col = format!("Grants for {}@%", self.sess.user);
        rows(
            text_cols(&[&col]),
            vec![vec![s(format!(
                "GRANT ALL PRIVILEGES ON *.* TO `{}`@`%`",
                self.sess.user
            ))]],
        )
    }

    /// CHECKSUM TABLE: a value that is equal on two nodes holding the same
    /// rows (order-independent sum of per-row CRC32s, as MySQL computes it).
    pub fn alter_table_keys(&mut self, db: Option<&str>, t: &str) -> SqlResult<Output> {
        let db = match db {
            Some(d) => d.to_string(),
            None => self.current_db()?.to_string(),
        };
        if self.catalog.table(&db, t).is_none() {
            return Err(SqlError::no_such_table(&db, t));
        }
        self.sess.warnings.push(Warning {
            level: "Note",
            code: codes::ILLEGAL_HA,
            message: format!(
                "Storage engine InnoDB of the table `{db}`.`{t}` doesn't have this option"
            ),
        });
        Ok(Output::ok(0))
    }

    /// ANALYZE / OPTIMIZE / CHECK / REPAIR TABLE. CHECK reads every row
    /// at the statement's snapshot, so damaged storage shows as an error
    /// row; the others have nothing to do on this engine and say what
    /// MariaDB says of InnoDB.
    pub fn table_maintenance(
        &mut self,
        op: crate::admin::Maintenance,
        tables: &[(Option<String>, String)],
    ) -> SqlResult<Output> {
        use crate::admin::Maintenance;
        let mut out = Vec::new();
        let opn = op.op_name();
        for (db, t) in tables {
            let db = match db {
                Some(d) => d.clone(),
                None => self.current_db()?.to_string(),
            };
            let name = format!("{db}.{t}");
            let mut row = |kind: &str, text: String| {
                out.push(vec![s(name.clone()), s(opn), s(kind.to_string()), s(text)]);
            };
            if db.eq_ignore_ascii_case("information_schema") {
                row(
                    "note",
                    format!("The storage engine for the table doesn't support {opn}"),
                );
                continue;
            }
            if self.catalog.view(&db, t).is_some() {
                if op == Maintenance::Check {
                    row("status", "OK".into());
                } else {
                    row("Error", format!("'{name}' is not of type 'BASE TABLE'"));
                    row("status", "Operation failed".into());
                }
                continue;
            }
            let Some(table) = self.catalog.table(&db, t).cloned() else {
                row("Error", format!("Table '{name}' doesn't exist"));
                row("status", "Operation failed".into());
                continue;
            };
            match op {
                Maintenance::Analyze => row("status", "OK".into()),
                Maintenance::Optimize => {
                    row(
                        "note",
                        "Table does not support optimize, doing recreate + analyze instead".into(),
                    );
                    row("status", "OK".into());
                }
                Maintenance::Repair => row(
                    "note",
                    "The storage engine for the table doesn't support repair".into(),
                ),
                Maintenance::Check => {
                    self.txn.check_table_version(&table)?;
                    let snap = self.txn.snapshot_seqno();
                    match table.scan(None, None, snap, |_, _| true) {
                        Ok(_) => row("status", "OK".into()),
                        Err(e) => {
                            row("error", e.to_string());
                            row("error", "Corrupt".into());
                        }
                    }
                }
            }
        }
        Ok(rows(
            text_cols(&["Table", "Op", "Msg_type", "Msg_text"]),
            out,
        ))
    }

    pub fn checksum_tables(&mut self, tables: &[(Option<String>, String)]) -> SqlResult<Output> {
        let mut out = Vec::new();
        for (db, t) in tables {
            let db = match db {
                Some(d) => d.clone(),
                None => self.current_db()?.to_string(),
            };
            let name = format!("{db}.{t}");
            match self.catalog.table(&db, t).cloned() {
                None => out.push(vec![s(name), Value::Null]),
                Some(table) => {
                    self.txn.check_table_version(&table)?;
                    let mut sum: u64 = 0;
                    let snap = self.txn.snapshot_seqno();
                    table.scan(None, None, snap, |_, r| {
                        let mut bytes = Vec::new();
                        for v in r.iter() {
                            trireme_storage::keycode::encode_value(&mut bytes, v);
                        }
                        sum = sum.wrapping_add(u64::from(crc32fast::hash(&bytes)));
                        true
                    })?;
                    out.push(vec![s(name), Value::UInt(sum)]);
                }
            }
        }
        let cols = vec![
            OutCol::text("Table"),
            OutCol::expr(
                "Checksum",
                Some(SqlType::Int {
                    width: IntWidth::Big,
                    unsigned: true,
                }),
                true,
            ),
        ];
        Ok(rows(cols, out))
    }

    /// Rows of an information_schema table.
    /// An information_schema table, built from the shared catalog:
    /// TEMPORARY tables are not in it (MariaDB 10.11).
    pub fn information_schema(&mut self, name: &str) -> SqlResult<(Vec<OutCol>, Vec<Row>)> {
        if self.sess.temporary.is_empty() {
            return self.information_schema_of(name);
        }
        let own = std::mem::replace(&mut self.catalog, self.store.catalog());
        let r = self.information_schema_of(name);
        self.catalog = own;
        r
    }

    fn information_schema_of(&mut self, name: &str) -> SqlResult<(Vec<OutCol>, Vec<Row>)> {
        let upper = name.to_ascii_uppercase();
        let mut out: Vec<Vec<Value>> = Vec::new();
        let cols: Vec<&str> = match upper.as_str() {
            "SCHEMATA" => {
                let mut names: Vec<String> =
                    SYSTEM_DATABASES.iter().map(|d| d.to_string()).collect();
                names.extend(self.catalog.databases.keys().cloned());
                names.sort();
                for n in names {
                    let coll = self.db_collation(&n);
                    out.push(vec![
                        s("def"),
                        s(n),
                        s(coll.charset().name()),
                        s(coll.name()),
                        Value::Null,
                    ]);
                }
                vec![
                    "CATALOG_NAME",
                    "SCHEMA_NAME",
                    "DEFAULT_CHARACTER_SET_NAME",
                    "DEFAULT_COLLATION_NAME",
                    "SQL_PATH",
                ]
            }
            "TABLES" => {
                for t in self.catalog.all_tables() {
                    out.push(vec![
                        s("def"),
                        s(t.def.db.clone()),
                        s(t.def.name.clone()),
                        s(table_type(&t.def)),
                        s(if crate::sequence::is_sequence(&t.def) {
                            "InnoDB".to_string()
                        } else {
                            t.def.engine.clone()
                        }),
                        Value::Int(10),
                        s("Dynamic"),
                        Value::Int(t.entry_count() as i64),
                        Value::Int(0),
                        Value::Int(0),
                        self.auto_inc_of(&t.def).map_or(Value::Null, Value::UInt),
                        Value::Null,
                        s(t.def.collation.name()),
                        s(t.def.comment.clone()),
                    ]);
                }
                for v in self
                    .catalog
                    .databases
                    .values()
                    .flat_map(|d| d.views.values())
                {
                    let mut r = vec![s("def"), s(v.db.clone()), s(v.name.clone()), s("VIEW")];
                    r.extend(std::iter::repeat_n(Value::Null, 9));
                    r.push(s("VIEW"));
                    out.push(r);
                }
                vec![
                    "TABLE_CATALOG",
                    "TABLE_SCHEMA",
                    "TABLE_NAME",
                    "TABLE_TYPE",
                    "ENGINE",
                    "VERSION",
                    "ROW_FORMAT",
                    "TABLE_ROWS",
                    "DATA_LENGTH",
                    "INDEX_LENGTH",
                    "AUTO_INCREMENT",
                    "CREATE_TIME",
                    "TABLE_COLLATION",
                    "TABLE_COMMENT",
                ]
            }
            "COLUMNS" => {
                // Views list their columns too; one that no longer binds
                // (its table was dropped) has none, as in MariaDB.
                let views: Vec<ViewDef> = if crate::view::reading_view() {
                    Vec::new()
                } else {
                    self.catalog
                        .databases
                        .values()
                        .flat_map(|d| d.views.values().cloned())
                        .collect()
                };
                let view_defs: Vec<TableDef> = views
                    .iter()
                    .filter_map(|v| self.view_as_table(v).ok())
                    .collect();
                let tables: Vec<TableDef> = self
                    .catalog
                    .all_tables()
                    .map(|t| t.def.clone())
                    .chain(view_defs)
                    .collect();
                for def in &tables {
                    for (i, c) in def.columns.iter().enumerate() {
                        let (prec, scale) = match &c.ty {
                            SqlType::Decimal { precision, scale } => (
                                Value::Int(i64::from(*precision)),
                                Value::Int(i64::from(*scale)),
                            ),
                            SqlType::Int { width, unsigned } => (
                                Value::Int(match width {
                                    IntWidth::Tiny => 3,
                                    IntWidth::Small => 5,
                                    IntWidth::Medium => 7,
                                    IntWidth::Int => 10,
                                    IntWidth::Big if *unsigned => 20,
                                    IntWidth::Big => 19,
                                }),
                                Value::Int(0),
                            ),
                            SqlType::Bool => (Value::Int(3), Value::Int(0)),
                            SqlType::Bit(m) => (Value::Int(i64::from(*m)), Value::Null),
                            SqlType::Double => (Value::Int(22), Value::Null),
                            SqlType::Float => (Value::Int(12), Value::Null),
                            _ => (Value::Null, Value::Null),
                        };
                        let len =
                            c.ty.max_len()
                                .map_or(Value::Null, |n| Value::Int(i64::from(n)));
                        // A character takes up to the charset's Maxlen bytes.
                        let octets = match (&len, c.charset()) {
                            (Value::Int(n), Some(cs))
                                if matches!(
                                    c.ty,
                                    SqlType::Char(_)
                                        | SqlType::Varchar(_)
                                        | SqlType::Enum(_)
                                        | SqlType::Set(_)
                                ) =>
                            {
                                Value::Int(n.saturating_mul(i64::from(cs.max_len())))
                            }
                            _ => len.clone(),
                        };
                        out.push(vec![
                            s("def"),
                            s(def.db.clone()),
                            s(def.name.clone()),
                            s(c.name.clone()),
                            Value::Int(i as i64 + 1),
                            match &c.default {
                                Some(DefaultValue::Value(Value::Null)) | None => Value::Null,
                                Some(DefaultValue::Value(v)) => s(default_text(&c.ty, v)),
                                Some(DefaultValue::CurrentTimestamp) => s(now_text(&c.ty)),
                                Some(DefaultValue::Expr(t)) => s(t.clone()),
                            },
                            s(if c.nullable { "YES" } else { "NO" }),
                            s(c.ty.data_type_name()),
                            len,
                            octets,
                            prec,
                            scale,
                            match c.ty {
                                SqlType::DateTime(p) | SqlType::Timestamp(p) | SqlType::Time(p) => {
                                    Value::Int(i64::from(p))
                                }
                                _ => Value::Null,
                            },
                            c.charset().map_or(Value::Null, |cs| s(cs.name())),
                            c.collation.map_or(Value::Null, |c| s(c.name())),
                            s(c.ty.sql_name()),
                            s(column_key(def, i)),
                            s(column_extra(c)),
                            s("select,insert,update,references"),
                            s(c.comment.clone()),
                            s(if c.generated.is_some() {
                                "ALWAYS"
                            } else {
                                "NEVER"
                            }),
                            c.generated
                                .as_ref()
                                .map_or(Value::Null, |g| s(g.expr.clone())),
                        ]);
                    }
                }
                vec![
                    "TABLE_CATALOG",
                    "TABLE_SCHEMA",
                    "TABLE_NAME",
                    "COLUMN_NAME",
                    "ORDINAL_POSITION",
                    "COLUMN_DEFAULT",
                    "IS_NULLABLE",
                    "DATA_TYPE",
                    "CHARACTER_MAXIMUM_LENGTH",
                    "CHARACTER_OCTET_LENGTH",
                    "NUMERIC_PRECISION",
                    "NUMERIC_SCALE",
                    "DATETIME_PRECISION",
                    "CHARACTER_SET_NAME",
                    "COLLATION_NAME",
                    "COLUMN_TYPE",
                    "COLUMN_KEY",
                    "EXTRA",
                    "PRIVILEGES",
                    "COLUMN_COMMENT",
                    "IS_GENERATED",
                    "GENERATION_EXPRESSION",
                ]
            }
            "STATISTICS" => {
                for t in self.catalog.all_tables() {
                    let def = &t.def;
                    // Cardinality as SHOW INDEX estimates it.
                    let rows_in = t.entry_count() as i64;
                    for k in keys(def) {
                        for (seq, &c) in k.columns.iter().enumerate() {
                            out.push(vec![
                                s("def"),
                                s(def.db.clone()),
                                s(def.name.clone()),
                                Value::Int(i64::from(!k.unique)),
                                s(def.db.clone()),
                                s(k.name),
                                Value::Int(seq as i64 + 1),
                                s(def.columns[c].name.clone()),
                                s("A"),
                                Value::Int(rows_in),
                                Value::Null,
                                Value::Null,
                                s(if def.columns[c].nullable { "YES" } else { "" }),
                                s("BTREE"),
                                s(""),
                                s(""),
                                s("NO"),
                            ]);
                        }
                    }
                }
                vec![
                    "TABLE_CATALOG",
                    "TABLE_SCHEMA",
                    "TABLE_NAME",
                    "NON_UNIQUE",
                    "INDEX_SCHEMA",
                    "INDEX_NAME",
                    "SEQ_IN_INDEX",
                    "COLUMN_NAME",
                    "COLLATION",
                    "CARDINALITY",
                    "SUB_PART",
                    "PACKED",
                    "NULLABLE",
                    "INDEX_TYPE",
                    "COMMENT",
                    "INDEX_COMMENT",
                    "IGNORED",
                ]
            }
            "GLOBAL_STATUS" | "SESSION_STATUS" => {
                for (n, v) in self.status_with_session(self.status) {
                    out.push(vec![
                        s(n.to_ascii_uppercase()),
                        s(v.to_text().unwrap_or_default()),
                    ]);
                }
                vec!["VARIABLE_NAME", "VARIABLE_VALUE"]
            }
            "GLOBAL_VARIABLES" | "SESSION_VARIABLES" => {
                for (n, v) in vars::all(self.sess, upper == "GLOBAL_VARIABLES") {
                    out.push(vec![
                        s(n.to_ascii_uppercase()),
                        s(v.to_text().unwrap_or_default()),
                    ]);
                }
                vec!["VARIABLE_NAME", "VARIABLE_VALUE"]
            }
            "PROCESSLIST" => {
                out = self.status.processlist();
                vec![
                    "ID", "USER", "HOST", "DB", "COMMAND", "TIME", "STATE", "INFO",
                ]
            }
            "ENGINES" => {
                out.push(vec![
                    s("InnoDB"),
                    s("DEFAULT"),
                    s("trireme"),
                    s("YES"),
                    s("NO"),
                    s("YES"),
                ]);
                vec![
                    "ENGINE",
                    "SUPPORT",
                    "COMMENT",
                    "TRANSACTIONS",
                    "XA",
                    "SAVEPOINTS",
                ]
            }
            "CHARACTER_SETS" => {
                for cs in Charset::ALL {
                    out.push(vec![
                        s(cs.name()),
                        s(cs.default_collation().name()),
                        s(charset_description(cs)),
                        Value::Int(i64::from(cs.max_len())),
                    ]);
                }
                vec![
                    "CHARACTER_SET_NAME",
                    "DEFAULT_COLLATE_NAME",
                    "DESCRIPTION",
                    "MAXLEN",
                ]
            }
            "COLLATIONS" => {
                out.extend(Collation::ALL.into_iter().map(collation_row));
                vec![
                    "COLLATION_NAME",
                    "CHARACTER_SET_NAME",
                    "ID",
                    "IS_DEFAULT",
                    "IS_COMPILED",
                    "SORTLEN",
                ]
            }
            // trireme has no tablespaces, partitions, routines, views,
            // triggers or events: these are empty, with the columns tools
            // such as mariadb-dump select from them.
            "FILES" => vec![
                "FILE_ID",
                "FILE_NAME",
                "FILE_TYPE",
                "TABLESPACE_NAME",
                "TABLE_SCHEMA",
                "TABLE_NAME",
                "LOGFILE_GROUP_NAME",
                "ENGINE",
                "TOTAL_EXTENTS",
                "EXTENT_SIZE",
                "INITIAL_SIZE",
                "EXTRA",
            ],
            "PARTITIONS" => vec![
                "TABLE_SCHEMA",
                "TABLE_NAME",
                "PARTITION_NAME",
                "TABLESPACE_NAME",
            ],
            "TRIGGERS" => vec![
                "TRIGGER_CATALOG",
                "TRIGGER_SCHEMA",
                "TRIGGER_NAME",
                "EVENT_MANIPULATION",
                "EVENT_OBJECT_SCHEMA",
                "EVENT_OBJECT_TABLE",
                "ACTION_ORDER",
                "ACTION_STATEMENT",
                "ACTION_TIMING",
                "DEFINER",
            ],
            "ROUTINES" => vec![
                "SPECIFIC_NAME",
                "ROUTINE_CATALOG",
                "ROUTINE_SCHEMA",
                "ROUTINE_NAME",
                "ROUTINE_TYPE",
                "ROUTINE_DEFINITION",
                "DEFINER",
            ],
            "VIEWS" => {
                let conn = self.conn_collation();
                for v in self
                    .catalog
                    .databases
                    .values()
                    .flat_map(|d| d.views.values())
                {
                    out.push(vec![
                        s("def"),
                        s(v.db.clone()),
                        s(v.name.clone()),
                        s(v.select.clone()),
                        s(v.check_option.clone()),
                        s(if self.view_is_updatable(v) {
                            "YES"
                        } else {
                            "NO"
                        }),
                        s(v.definer.replace('`', "")),
                        s(v.security.clone()),
                        s(conn.charset().name()),
                        s(conn.name()),
                        s(v.algorithm.clone()),
                    ]);
                }
                vec![
                    "TABLE_CATALOG",
                    "TABLE_SCHEMA",
                    "TABLE_NAME",
                    "VIEW_DEFINITION",
                    "CHECK_OPTION",
                    "IS_UPDATABLE",
                    "DEFINER",
                    "SECURITY_TYPE",
                    "CHARACTER_SET_CLIENT",
                    "COLLATION_CONNECTION",
                    "ALGORITHM",
                ]
            }
            "EVENTS" => vec![
                "EVENT_CATALOG",
                "EVENT_SCHEMA",
                "EVENT_NAME",
                "DEFINER",
                "STATUS",
            ],
            "CHECK_CONSTRAINTS" => {
                for t in self.catalog.all_tables() {
                    for (name, level, clause) in check_constraints(&t.def) {
                        out.push(vec![
                            s("def"),
                            s(t.def.db.clone()),
                            s(t.def.name.clone()),
                            s(name),
                            s(level),
                            s(clause),
                        ]);
                    }
                }
                vec![
                    "CONSTRAINT_CATALOG",
                    "CONSTRAINT_SCHEMA",
                    "TABLE_NAME",
                    "CONSTRAINT_NAME",
                    "LEVEL",
                    "CHECK_CLAUSE",
                ]
            }
            "REFERENTIAL_CONSTRAINTS" => {
                for t in self.catalog.all_tables() {
                    for fk in &t.def.foreign_keys {
                        // The parent key it matches: PRIMARY when the
                        // referenced columns lead the primary key.
                        let unique = self
                            .catalog
                            .table(&fk.ref_db, &fk.ref_table)
                            .map_or(Value::Null, |p| s(referenced_key_name(&p.def, fk)));
                        out.push(vec![
                            s("def"),
                            s(t.def.db.clone()),
                            s(fk.name.clone()),
                            s("def"),
                            s(fk.ref_db.clone()),
                            unique,
                            s("NONE"),
                            s(fk.on_update.sql()),
                            s(fk.on_delete.sql()),
                            s(t.def.name.clone()),
                            s(fk.ref_table.clone()),
                        ]);
                    }
                }
                vec![
                    "CONSTRAINT_CATALOG",
                    "CONSTRAINT_SCHEMA",
                    "CONSTRAINT_NAME",
                    "UNIQUE_CONSTRAINT_CATALOG",
                    "UNIQUE_CONSTRAINT_SCHEMA",
                    "UNIQUE_CONSTRAINT_NAME",
                    "MATCH_OPTION",
                    "UPDATE_RULE",
                    "DELETE_RULE",
                    "TABLE_NAME",
                    "REFERENCED_TABLE_NAME",
                ]
            }
            "TABLE_CONSTRAINTS" => {
                for t in self.catalog.all_tables() {
                    for k in keys(&t.def).into_iter().filter(|k| k.unique) {
                        out.push(vec![
                            s("def"),
                            s(t.def.db.clone()),
                            s(k.name),
                            s(t.def.db.clone()),
                            s(t.def.name.clone()),
                            s(if k.primary { "PRIMARY KEY" } else { "UNIQUE" }),
                        ]);
                    }
                    for fk in &t.def.foreign_keys {
                        out.push(vec![
                            s("def"),
                            s(t.def.db.clone()),
                            s(fk.name.clone()),
                            s(t.def.db.clone()),
                            s(t.def.name.clone()),
                            s("FOREIGN KEY"),
                        ]);
                    }
                    for (name, _, _) in check_constraints(&t.def) {
                        out.push(vec![
                            s("def"),
                            s(t.def.db.clone()),
                            s(name),
                            s(t.def.db.clone()),
                            s(t.def.name.clone()),
                            s("CHECK"),
                        ]);
                    }
                }
                vec![
                    "CONSTRAINT_CATALOG",
                    "CONSTRAINT_SCHEMA",
                    "CONSTRAINT_NAME",
                    "TABLE_SCHEMA",
                    "TABLE_NAME",
                    "CONSTRAINT_TYPE",
                ]
            }
            "KEY_COLUMN_USAGE" => {
                for t in self.catalog.all_tables() {
                    let def = &t.def;
                    for k in keys(def).into_iter().filter(|k| k.unique) {
                        for (pos, &c) in k.columns.iter().enumerate() {
                            out.push(vec![
                                s("def"),
                                s(def.db.clone()),
                                s(k.name),
                                s("def"),
                                s(def.db.clone()),
                                s(def.name.clone()),
                                s(def.columns[c].name.clone()),
                                Value::Int(pos as i64 + 1),
                                Value::Null,
                                Value::Null,
                                Value::Null,
                                Value::Null,
                            ]);
                        }
                    }
                    for fk in &def.foreign_keys {
                        for (pos, (&c, r)) in fk.columns.iter().zip(&fk.ref_columns).enumerate() {
                            out.push(vec![
                                s("def"),
                                s(def.db.clone()),
                                s(fk.name.clone()),
                                s("def"),
                                s(def.db.clone()),
                                s(def.name.clone()),
                                s(def.columns[c].name.clone()),
                                Value::Int(pos as i64 + 1),
                                Value::Int(pos as i64 + 1),
                                s(fk.ref_db.clone()),
                                s(fk.ref_table.clone()),
                                s(r.clone()),
                            ]);
                        }
                    }
                }
                vec![
                    "CONSTRAINT_CATALOG",
                    "CONSTRAINT_SCHEMA",
                    "CONSTRAINT_NAME",
                    "TABLE_CATALOG",
                    "TABLE_SCHEMA",
                    "TABLE_NAME",
                    "COLUMN_NAME",
                    "ORDINAL_POSITION",
                    "POSITION_IN_UNIQUE_CONSTRAINT",
                    "REFERENCED_TABLE_SCHEMA",
                    "REFERENCED_TABLE_NAME",
                    "REFERENCED_COLUMN_NAME",
                ]
            }
            _ => return Err(SqlError::no_such_table("information_schema", name)),
        };
        let metas: Vec<OutCol> = cols
            .iter()
            .enumerate()
            .map(|(i, c)| {
                // MariaDB's type whatever the rows hold (a NULL in the first
                // row, or no rows, must not make a number text); a column
                // of trireme's own keeps its values' type.
                let mut m = match crate::schema_types::column_type(&upper, c) {
                    Some(ty) => OutCol::expr(c, Some(ty), true),
                    None if out.first().is_some_and(|r| {
                        matches!(r.get(i), Some(Value::Int(_) | Value::UInt(_)))
                    }) =>
                    {
                        OutCol::bigint(c)
                    }
                    None => OutCol::text(c),
                };
                m.db = "information_schema".into();
                m.org_table = upper.clone();
                m
            })
            .collect();
        Ok((metas, out.into_iter().map(Row::from).collect()))
    }
}

const INFO_TABLES: [&str; 11] = [
    "CHARACTER_SETS",
    "COLLATIONS",
    "COLUMNS",
    "ENGINES",
    "GLOBAL_STATUS",
    "GLOBAL_VARIABLES",
    "PROCESSLIST",
    "SCHEMATA",
    "SESSION_STATUS",
    "STATISTICS",
    "TABLES",
];

/// One key of a table as SHOW INDEX and information_schema list it.
struct Key<'a> {
    name: &'a str,
    primary: bool,
    unique: bool,
    columns: &'a [usize],
}

/// SHOW FULL TABLES' and information_schema.TABLES' type of a table.
fn table_type(def: &TableDef) -> &'static str {
    if crate::sequence::is_sequence(def) {
        "SEQUENCE"
    } else {
        "BASE TABLE"
    }
}

/// The indexes in the order MariaDB keeps a table's keys: unique ones
/// whose columns are all NOT NULL, other unique ones, then the rest, each
/// group in creation order.
fn indexes_in_key_order(def: &TableDef) -> Vec<&trireme_storage::catalog::IndexDef> {
    let mut v: Vec<_> = def.indexes.iter().collect();
    v.sort_by_key(|i| match i.unique {
        true if i.columns.iter().all(|&c| !def.columns[c].nullable) => 0,
        true => 1,
        false => 2,
    });
    v
}

/// The primary key (named PRIMARY), then the indexes in key order.
fn keys(def: &TableDef) -> Vec<Key<'_>> {
    let primary = def.primary.as_deref().map(|columns| Key {
        name: "PRIMARY",
        primary: true,
        unique: true,
        columns,
    });
    primary
        .into_iter()
        .chain(indexes_in_key_order(def).into_iter().map(|i| Key {
            name: &i.name,
            primary: false,
            unique: i.unique,
            columns: &i.columns,
        }))
        .collect()
}

fn column_key(def: &TableDef, i: usize) -> &'static str {
    if def.primary.as_ref().is_some_and(|p| p.first() == Some(&i)) {
        "PRI"
    } else if def
        .indexes
        .iter()
        .any(|x| x.unique && x.columns.len() == 1 && x.columns[0] == i)
    {
        "UNI"
    } else if def.indexes.iter().any(|x| x.columns.first() == Some(&i)) {
        "MUL"
    } else {
        ""
    }
}

fn column_extra(c: &trireme_storage::catalog::ColumnDef) -> String {
    let mut e = Vec::new();
    if c.auto_increment {
        e.push("auto_increment".to_string());
    }
    if c.on_update_now {
        e.push(format!("on update {}", now_text(&c.ty)));
    }
    match &c.generated {
        Some(g) if g.stored => e.push("STORED GENERATED".to_string()),
        Some(_) => e.push("VIRTUAL GENERATED".to_string()),
        None => {}
    }
    e.join(" ")
}

/// How MariaDB shows a CURRENT_TIMESTAMP default or ON UPDATE of a column
/// of type `ty`: lower case, as a call, at the column's own precision
/// (whatever precision the DDL wrote, since they must agree).
fn now_text(ty: &SqlType) -> String {
    match ty {
        SqlType::DateTime(p) | SqlType::Timestamp(p) if *p > 0 => {
            format!("current_timestamp({p})")
        }
        _ => "current_timestamp()".to_string(),
    }
}

/// SHOW CREATE TABLE text.
pub fn create_table_sql(def: &TableDef, auto_inc: Option<u64>) -> String {
    let q = |n: &str| format!("`{}`", n.replace('`', "``"));
    let mut lines = Vec::new();
    for c in &def.columns {
        let mut l = format!("  {} {}", q(&c.name), c.ty.sql_name());
        // MariaDB names both whenever the column's collation is not the
        // table's.
        if let Some(coll) = c.collation.filter(|&x| x != def.collation) {
            l.push_str(&format!(
                " CHARACTER SET {} COLLATE {}",
                coll.charset().name(),
                coll.name()
            ));
        }
        if let Some(g) = &c.generated {
            let kind = if g.stored { "STORED" } else { "VIRTUAL" };
            l.push_str(&format!(" GENERATED ALWAYS AS ({}) {kind}", g.expr));
        } else if !c.nullable {
            l.push_str(" NOT NULL");
        } else if matches!(c.ty, SqlType::Timestamp(_)) {
            // MySQL spells out a nullable TIMESTAMP (its old default was NOT NULL).
            l.push_str(" NULL");
        }
        if c.auto_increment {
            l.push_str(" AUTO_INCREMENT");
        }
        match &c.default {
            Some(DefaultValue::Value(v)) => {
                l.push_str(" DEFAULT ");
                match (&c.ty, v) {
                    (SqlType::Bit(_), Value::UInt(_)) => l.push_str(&default_text(&c.ty, v)),
                    // MariaDB shows a number's default as a number.
                    (
                        SqlType::Int { .. }
                        | SqlType::Bool
                        | SqlType::Decimal { .. }
                        | SqlType::Float
                        | SqlType::Double
                        | SqlType::Year,
                        Value::Int(_) | Value::UInt(_) | Value::Decimal(_) | Value::Double(_),
                    ) => l.push_str(&v.to_text_lossy()),
                    _ => l.push_str(&sql_literal(v)),
                }
            }
            Some(DefaultValue::CurrentTimestamp) => {
                l.push_str(" DEFAULT ");
                l.push_str(&now_text(&c.ty));
            }
            Some(DefaultValue::Expr(t)) => {
                l.push_str(" DEFAULT ");
                l.push_str(t);
            }
            // MariaDB (unlike MySQL) writes it for TEXT and BLOB too.
            None if c.nullable && c.generated.is_none() => l.push_str(" DEFAULT NULL"),
            None => {}
        }
        if c.on_update_now {
            l.push_str(" ON UPDATE ");
            l.push_str(&now_text(&c.ty));
        }
        if !c.comment.is_empty() {
            l.push_str(&format!(" COMMENT '{}'", c.comment.replace('\'', "''")));
        }
        if let Some(check) = &c.check {
            l.push_str(&format!(" CHECK ({check})"));
        }
        lines.push(l);
    }
    let cols = |v: &[usize]| {
        v.iter()
            .map(|&i| q(&def.columns[i].name))
            .collect::<Vec<_>>()
            .join(",")
    };
    if let Some(pk) = &def.primary {
        lines.push(format!("  PRIMARY KEY ({})", cols(pk)));
    }
    for idx in indexes_in_key_order(def) {
        lines.push(format!(
            "  {}KEY {} ({})",
            if idx.unique { "UNIQUE " } else { "" },
            q(&idx.name),
            cols(&idx.columns)
        ));
    }
    for fk in &def.foreign_keys {
        let parent = if fk.ref_db == def.db {
            q(&fk.ref_table)
        } else {
            format!("{}.{}", q(&fk.ref_db), q(&fk.ref_table))
        };
        let refs: Vec<String> = fk.ref_columns.iter().map(|c| q(c)).collect();
        let mut l = format!(
            "  CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({})",
            q(&fk.name),
            cols(&fk.columns),
            parent,
            refs.join(", ")
        );
        if fk.on_delete != FkAction::Restrict {
            l.push_str(&format!(" ON DELETE {}", fk.on_delete.sql()));
        }
        if fk.on_update != FkAction::Restrict {
            l.push_str(&format!(" ON UPDATE {}", fk.on_update.sql()));
        }
        lines.push(l);
    }
    for (name, check) in &def.checks {
        lines.push(format!("  CONSTRAINT {} CHECK ({check})", q(name)));
    }
    let mut out = format!(
        "CREATE TABLE {} (\n{}\n) ENGINE={}",
        q(&def.name),
        lines.join(",\n"),
        def.engine
    );
    if let Some(n) = auto_inc {
        out.push_str(&format!(" AUTO_INCREMENT={n}"));
    }
    out.push_str(&format!(
        " DEFAULT CHARSET={} COLLATE={}",
        def.collation.charset().name(),
        def.collation.name()
    ));
    if !def.comment.is_empty() {
        out.push_str(&format!(" COMMENT='{}'", def.comment.replace('\'', "''")));
    }
    out
}

/// A collation as SHOW COLLATION and information_schema.COLLATIONS list it
/// (name, charset, id, default, compiled, sort length).
fn collation_row(c: Collation) -> Vec<Value> {
    vec![
        s(c.name()),
        s(c.charset().name()),
        Value::Int(i64::from(c.id())),
        s(if c.is_default() { "Yes" } else { "" }),
        s("Yes"),
        Value::Int(1),
    ]
}

fn charset_description(cs: Charset) -> &'static str {
    match cs {
        Charset::Utf8mb4 => "UTF-8 Unicode",
        Charset::Utf8mb3 => "UTF-8 Unicode",
        Charset::Latin1 => "cp1252 West European",
        Charset::Binary => "Binary pseudo charset",
    }
}

/// A view's definition as SHOW CREATE VIEW prints it.
fn create_view_sql(v: &ViewDef) -> String {
    let cols = if v.columns.is_empty() {
        String::new()
    } else {
        let names: Vec<String> = v.columns.iter().map(|c| format!("`{c}`")).collect();
        format!("({})", names.join(","))
    };
    let check = match v.check_option.as_str() {
        "CASCADED" | "LOCAL" => format!(" WITH {} CHECK OPTION", v.check_option),
        _ => String::new(),
    };
    format!(
        "CREATE ALGORITHM={} DEFINER={} SQL SECURITY {} VIEW `{}`{} AS {}{check}",
        v.algorithm, v.definer, v.security, v.name, cols, v.select
    )
}

/// The parent key a foreign key matches (PRIMARY or a unique index name).
fn referenced_key_name(parent: &TableDef, fk: &ForeignKeyDef) -> String {
    let pos: Vec<usize> = fk
        .ref_columns
        .iter()
        .filter_map(|c| parent.column_index(c))
        .collect();
    if parent.primary.as_deref() == Some(&pos[..]) {
        return "PRIMARY".into();
    }
    parent
        .indexes
        .iter()
        .find(|i| i.unique && i.columns == pos)
        .map_or_else(|| "PRIMARY".into(), |i| i.name.clone())
}

/// A table's CHECK constraints: (name, level, clause); a column-level one
/// is named after its column.
fn check_constraints(def: &TableDef) -> Vec<(String, &'static str, String)> {
    def.columns
        .iter()
        .filter_map(|c| {
            c.check
                .as_ref()
                .map(|e| (c.name.clone(), "Column", e.clone()))
        })
        .chain(
            def.checks
                .iter()
                .map(|(n, e)| (n.clone(), "Table", e.clone())),
        )
        .collect()
}

/// A column default as SHOW COLUMNS and information_schema show it: a BIT
/// default is a bit literal (`b'101'`), as MariaDB prints it.
fn default_text(ty: &SqlType, v: &Value) -> String {
    match (ty, v) {
        (SqlType::Bit(_), Value::UInt(n)) => format!("b'{n:b}'"),
        _ => v.to_text_lossy(),
    }
}
