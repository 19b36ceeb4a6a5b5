//! The in-memory test handler and server helpers shared by the integration
//! tests.
//!
//! The handler understands a tiny SQL dialect by string matching: enough for
//! mysql_async's and the mariadb CLI's connection queries, sysbench's
//! oltp_read_write statements against `sbtest1`, and a few test-only
//! commands (`AFFECT n id`, `FAIL code state msg`, `SELECT BIG(n)`,
//! `SELECT * FROM types`, `SELECT ?, ?` echoing its parameters).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use trireme_wire::{
    ColumnDef, ColumnType, Handler, MySqlError, OkInfo, PrepareInfo, ServerConfig, SessionInfo,
    StatusFlags, StmtResult, Value,
};

pub const TABLE_SIZE: i64 = 1000;
pub const RANGE: i64 = 100;
pub const BIG_PACKET: i64 = 64 << 20;

/// Turns on log output for a test run when `RUST_LOG` is set.
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

#[derive(Debug, Clone)]
pub struct SbRow {
    pub k: i64,
    pub c: Vec<u8>,
    pub pad: Vec<u8>,
}

/// State shared by every connection of one test server.
pub struct Shared {
    pub sbtest: Mutex<BTreeMap<i64, SbRow>>,
    /// Parameter values that were not what sysbench sends: a decoding bug.
    pub anomalies: Mutex<Vec<String>>,
    /// Statements the handler did not understand.
    pub unknown: Mutex<Vec<String>>,
    pub server_version: String,
    /// Kill switches by connection id.
    pub kills: Mutex<std::collections::HashMap<u32, Arc<tokio::sync::Notify>>>,
}

impl Shared {
    pub fn new(server_version: &str) -> Arc<Self> {
        let mut rows = BTreeMap::new();
        for id in 1..=TABLE_SIZE {
            rows.insert(
                id,
                SbRow {
                    k: (id * 7919) % TABLE_SIZE + 1,
                    c: sb_string(id, 119),
                    pad: sb_string(id + 1, 59),
                },
            );
        }
        Arc::new(Shared {
            sbtest: Mutex::new(rows),
            anomalies: Mutex::new(Vec::new()),
            unknown: Mutex::new(Vec::new()),
            server_version: server_version.to_string(),
            kills: Mutex::new(Default::default()),
        })
    }

    fn anomaly(&self, s: String) {
        let mut a = self.anomalies.lock().unwrap();
        if a.len() < 100 {
            a.push(s);
        }
    }
}

/// A string shaped like sysbench's `###########-###...` values.
pub fn sb_string(seed: i64, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| {
            if i % 12 == 11 {
                b'-'
            } else {
                b'0' + ((seed as usize * 31 + i * 7) % 10) as u8
            }
        })
        .collect()
}

pub fn is_sb_string(b: &[u8], len: usize) -> bool {
    b.len() == len
        && b.iter().enumerate().all(|(i, &c)| {
            if i % 12 == 11 {
                c == b'-'
            } else {
                c.is_ascii_digit()
            }
        })
}

/// One column per common type, and the values of the one non-NULL row.
pub fn types_table() -> (Vec<ColumnDef>, Vec<Vec<Value>>) {
    use ColumnType::*;
    let cols = vec![
        ColumnDef::new("tiny", MYSQL_TYPE_TINY),
        ColumnDef::new("utiny", MYSQL_TYPE_TINY).unsigned(),
        ColumnDef::new("short", MYSQL_TYPE_SHORT),
        ColumnDef::new("ushort", MYSQL_TYPE_SHORT).unsigned(),
        ColumnDef::new("int24", MYSQL_TYPE_INT24),
        ColumnDef::new("long", MYSQL_TYPE_LONG),
        ColumnDef::new("ulong", MYSQL_TYPE_LONG).unsigned(),
        ColumnDef::new("longlong", MYSQL_TYPE_LONGLONG),
        ColumnDef::new("ulonglong", MYSQL_TYPE_LONGLONG).unsigned(),
        ColumnDef::new("float", MYSQL_TYPE_FLOAT),
        ColumnDef::new("double", MYSQL_TYPE_DOUBLE),
        ColumnDef::new("decimal", MYSQL_TYPE_NEWDECIMAL).decimals(2),
        ColumnDef::new("varchar", MYSQL_TYPE_VAR_STRING),
        ColumnDef::new("char", MYSQL_TYPE_STRING),
        ColumnDef::new("blob", MYSQL_TYPE_BLOB),
        ColumnDef::new("date", MYSQL_TYPE_DATE),
        ColumnDef::new("datetime", MYSQL_TYPE_DATETIME).decimals(6),
        ColumnDef::new("timestamp", MYSQL_TYPE_TIMESTAMP),
        ColumnDef::new("time", MYSQL_TYPE_TIME),
        ColumnDef::new("year", MYSQL_TYPE_YEAR),
    ];
    let row = vec![
        Value::Int(-128),
        Value::Int(255),
        Value::Int(-32768),
        Value::UInt(65535),
        Value::Int(-8_388_608),
        Value::Int(i64::from(i32::MIN)),
        Value::UInt(u64::from(u32::MAX)),
        Value::Int(i64::MIN),
        Value::UInt(u64::MAX),
        Value::Float(1.5),
        Value::Double(-2.25e-10),
        Value::Bytes(b"12345.67".to_vec()),
        Value::Bytes("héllo wörld".as_bytes().to_vec()),
        Value::Bytes(b"fixed".to_vec()),
        Value::Bytes(vec![0, 1, 2, 255, 254]),
        Value::Date(2024, 2, 29, 0, 0, 0, 0),
        Value::Date(1999, 12, 31, 23, 59, 58, 123_456),
        Value::Date(2038, 1, 19, 3, 14, 7, 0),
        Value::Time(true, 1, 2, 3, 4, 0),
        Value::Int(2155),
    ];
    let nulls = vec![Value::NULL; cols.len()];
    (cols, vec![row, nulls])
}

#[derive(Debug, Clone)]
pub enum Prepared {
    Echo(u16),
    Big,
    Text(String),
    Sb(Sb),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sb {
    Begin,
    Commit,
    Point,
    Range,
    Sum,
    Order,
    Distinct,
    UpdIdx,
    UpdNonIdx,
    Delete,
    Insert,
}

impl Sb {
    fn parse(sql: &str) -> Option<(Sb, u16)> {
        let n = normalize(sql);
        Some(match n.as_str() {
            "begin" => (Sb::Begin, 0),
            "commit" => (Sb::Commit, 0),
            "select c from sbtest1 where id=?" => (Sb::Point, 1),
            "select c from sbtest1 where id between ? and ?" => (Sb::Range, 2),
            "select sum(k) from sbtest1 where id between ? and ?" => (Sb::Sum, 2),
            "select c from sbtest1 where id between ? and ? order by c" => (Sb::Order, 2),
            "select distinct c from sbtest1 where id between ? and ? order by c" => {
                (Sb::Distinct, 2)
            }
            "update sbtest1 set k=k+1 where id=?" => (Sb::UpdIdx, 1),
            "update sbtest1 set c=? where id=?" => (Sb::UpdNonIdx, 2),
            "delete from sbtest1 where id=?" => (Sb::Delete, 1),
            "insert into sbtest1 (id, k, c, pad) values (?, ?, ?, ?)" => (Sb::Insert, 4),
            _ => return None,
        })
    }
}

fn normalize(sql: &str) -> String {
    sql.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_lowercase()
}

pub struct TestHandler {
    kill: Arc<tokio::sync::Notify>,
    shared: Arc<Shared>,
    info: SessionInfo,
    db: Option<String>,
    in_trans: bool,
    autocommit: bool,
}

impl TestHandler {
    pub fn new(shared: Arc<Shared>, info: &SessionInfo) -> Self {
        let kill = Arc::new(tokio::sync::Notify::new());
        shared
            .kills
            .lock()
            .unwrap()
            .insert(info.connection_id, kill.clone());
        TestHandler {
            kill,
            shared,
            info: info.clone(),
            db: None,
            in_trans: false,
            autocommit: true,
        }
    }

    fn var(&self, name: &str) -> Result<Value, MySqlError> {
        let name = name
            .trim_start_matches("@@")
            .trim_start_matches("session.")
            .trim_start_matches("global.")
            .to_ascii_lowercase();
        let s = |x: &str| Value::Bytes(x.as_bytes().to_vec());
        Ok(match name.as_str() {
            "max_allowed_packet" => Value::Int(BIG_PACKET),
            "wait_timeout" | "interactive_timeout" => Value::Int(28800),
            "net_write_timeout" | "net_read_timeout" => Value::Int(30),
            "socket" => Value::NULL,
            "version" => s(&self.shared.server_version),
            "version_comment" => s("trireme test handler"),
            "character_set_client"
            | "character_set_connection"
            | "character_set_server"
            | "character_set_database"
            | "character_set_results" => s("utf8mb4"),
            "collation_connection" | "collation_server" | "collation_database" => {
                s("utf8mb4_general_ci")
            }
            "autocommit" => Value::Int(i64::from(self.autocommit)),
            "tx_isolation" | "transaction_isolation" => s("REPEATABLE-READ"),
            "sql_mode" => s(""),
            "time_zone" => s("SYSTEM"),
            "system_time_zone" => s("UTC"),
            "lower_case_table_names" => Value::Int(0),
            "license" => s("Apache-2.0"),
            "tx_read_only" | "transaction_read_only" => Value::Int(0),
            _ => {
                return Err(MySqlError::new(
                    1193,
                    "HY000",
                    format!("Unknown system variable '{name}'"),
                ))
            }
        })
    }

    /// One item of a select list.
    fn item(&self, item: &str) -> Result<(Value, ColumnType), MySqlError> {
        let lower = item.to_ascii_lowercase();
        let s = |x: String| Value::Bytes(x.into_bytes());
        Ok(match lower.as_str() {
            _ if lower.starts_with("@@") => {
                let v = self.var(&lower)?;
                let t = match v {
                    Value::Int(_) => ColumnType::MYSQL_TYPE_LONGLONG,
                    _ => ColumnType::MYSQL_TYPE_VAR_STRING,
                };
                (v, t)
            }
            "database()" | "schema()" => (
                self.db.clone().map_or(Value::NULL, s),
                ColumnType::MYSQL_TYPE_VAR_STRING,
            ),
            "user()" | "current_user()" | "current_user" | "session_user()" => (
                s(format!("{}@{}", self.info.user, self.info.host)),
                ColumnType::MYSQL_TYPE_VAR_STRING,
            ),
            "version()" => (
                s(self.shared.server_version.clone()),
                ColumnType::MYSQL_TYPE_VAR_STRING,
            ),
            "connection_id()" => (
                Value::UInt(u64::from(self.info.connection_id)),
                ColumnType::MYSQL_TYPE_LONGLONG,
            ),
            "null" => (Value::NULL, ColumnType::MYSQL_TYPE_NULL),
            _ if lower.starts_with("length(") && lower.ends_with(')') => {
                let inner = &item[7..item.len() - 1];
                match unquote(inner) {
                    Some(b) => (Value::Int(b.len() as i64), ColumnType::MYSQL_TYPE_LONGLONG),
                    None => return Err(MySqlError::syntax(item)),
                }
            }
            _ if lower.starts_with("big(") && lower.ends_with(')') => {
                let n: usize = lower[4..lower.len() - 1]
                    .trim()
                    .parse()
                    .map_err(|_| MySqlError::syntax(item))?;
                (Value::Bytes(big_value(n)), ColumnType::MYSQL_TYPE_LONG_BLOB)
            }
            _ => {
                if let Some(b) = unquote(item) {
                    (Value::Bytes(b), ColumnType::MYSQL_TYPE_VAR_STRING)
                } else if let Ok(i) = item.parse::<i64>() {
                    (Value::Int(i), ColumnType::MYSQL_TYPE_LONGLONG)
                } else if let Ok(d) = item.parse::<f64>() {
                    (Value::Double(d), ColumnType::MYSQL_TYPE_DOUBLE)
                } else {
                    return Err(MySqlError::syntax(item));
                }
            }
        })
    }

    fn select_list(&self, list: &str) -> Result<StmtResult, MySqlError> {
        let mut columns = Vec::new();
        let mut row = Vec::new();
        for item in split_top(list, ',') {
            let item = item.trim();
            let (v, t) = self.item(item)?;
            let mut c = ColumnDef::new(item, t);
            if t == ColumnType::MYSQL_TYPE_LONG_BLOB {
                c = c.binary();
            }
            columns.push(c);
            row.push(v);
        }
        Ok(StmtResult::Rows {
            columns,
            rows: vec![row],
        })
    }

    fn exec_text(&mut self, stmt: &str) -> Result<StmtResult, MySqlError> {
        let n = normalize(stmt);
        let words: Vec<&str> = stmt.split_whitespace().collect();
        match n.as_str() {
            "begin" | "start transaction" => {
                self.in_trans = true;
                return Ok(StmtResult::ok());
            }
            "commit" | "rollback" => {
                self.in_trans = false;
                return Ok(StmtResult::ok());
            }
            "set autocommit=0" | "set autocommit = 0" => {
                self.autocommit = false;
                return Ok(StmtResult::ok());
            }
            "set autocommit=1" | "set autocommit = 1" => {
                self.autocommit = true;
                return Ok(StmtResult::ok());
            }
            "select * from types" => {
                let (columns, rows) = types_table();
                return Ok(StmtResult::Rows { columns, rows });
            }
            "show databases" => {
                let columns = vec![ColumnDef::new(
                    "Database",
                    ColumnType::MYSQL_TYPE_VAR_STRING,
                )];
                let rows = ["information_schema", "sbtest", "test"]
                    .iter()
                    .map(|d| vec![Value::Bytes(d.as_bytes().to_vec())])
                    .collect();
                return Ok(StmtResult::Rows { columns, rows });
            }
            "select bad row" => {
                // A handler bug: more values than columns.
                return Ok(StmtResult::Rows {
                    columns: vec![ColumnDef::new("a", ColumnType::MYSQL_TYPE_LONG)],
                    rows: vec![vec![Value::Int(1), Value::Int(2)]],
                });
            }
            _ => {}
        }
        if n.starts_with("set ") {
            return Ok(StmtResult::ok());
        }
        if words.first().map(|w| w.eq_ignore_ascii_case("affect")) == Some(true) {
            let affected = words.get(1).and_then(|w| w.parse().ok()).unwrap_or(0);
            let last_insert_id = words.get(2).and_then(|w| w.parse().ok()).unwrap_or(0);
            return Ok(StmtResult::Ok(OkInfo {
                affected_rows: affected,
                last_insert_id,
                warnings: 1,
                info: format!("Rows matched: {affected}  Changed: {affected}  Warnings: 1"),
            }));
        }
        if words.first().map(|w| w.eq_ignore_ascii_case("kill")) == Some(true) {
            let id: u32 = words.get(1).and_then(|w| w.parse().ok()).unwrap_or(0);
            return match self.shared.kills.lock().unwrap().get(&id) {
                Some(n) => {
                    n.notify_one();
                    Ok(StmtResult::ok())
                }
                None => Err(MySqlError::new(
                    1094,
                    "HY000",
                    format!("Unknown thread id: {id}"),
                )),
            };
        }
        if words.first().map(|w| w.eq_ignore_ascii_case("fail")) == Some(true) {
            let code = words.get(1).and_then(|w| w.parse().ok()).unwrap_or(1105);
            let state = words.get(2).copied().unwrap_or("HY000");
            return Err(MySqlError::new(
                code,
                state,
                words[3.min(words.len())..].join(" "),
            ));
        }
        if let Some(rest) = strip_prefix_ci(stmt.trim(), "select ") {
            let rest = rest.trim();
            let rest = match rest.to_ascii_lowercase().rfind(" limit 1") {
                Some(i) if i + 8 == rest.len() => &rest[..i],
                _ => rest,
            };
            return self.select_list(rest);
        }
        self.shared.unknown.lock().unwrap().push(stmt.to_string());
        Err(MySqlError::syntax(stmt))
    }

    fn check_id(&self, what: &str, v: &Value) -> i64 {
        match v {
            Value::Int(i) if (1..=TABLE_SIZE).contains(i) => *i,
            other => {
                self.shared.anomaly(format!("{what}: id {other:?}"));
                0
            }
        }
    }

    fn sb(&mut self, sb: Sb, p: &[Value]) -> Result<StmtResult, MySqlError> {
        let c_col = || {
            ColumnDef::new("c", ColumnType::MYSQL_TYPE_STRING)
                .table("sbtest", "sbtest1")
                .not_null()
                .length(480)
        };
        let mut table = self.shared.sbtest.lock().unwrap();
        Ok(match sb {
            Sb::Begin => {
                self.in_trans = true;
                StmtResult::ok()
            }
            Sb::Commit => {
                self.in_trans = false;
                StmtResult::ok()
            }
            Sb::Point => {
                let id = self.check_id("point", &p[0]);
                let rows = table
                    .get(&id)
                    .map(|r| vec![Value::Bytes(r.c.clone())])
                    .into_iter()
                    .collect();
                StmtResult::Rows {
                    columns: vec![c_col()],
                    rows,
                }
            }
            Sb::Range | Sb::Sum | Sb::Order | Sb::Distinct => {
                let a = self.check_id("range start", &p[0]);
                let b = match &p[1] {
                    Value::Int(b) if *b == a + RANGE - 1 => *b,
                    other => {
                        self.shared
                            .anomaly(format!("range end {other:?} for start {a}"));
                        a
                    }
                };
                let rows: Vec<&SbRow> = table.range(a..=b).map(|(_, r)| r).collect();
                if sb == Sb::Sum {
                    let sum: i64 = rows.iter().map(|r| r.k).sum();
                    StmtResult::Rows {
                        columns: vec![
                            ColumnDef::new("SUM(k)", ColumnType::MYSQL_TYPE_NEWDECIMAL).decimals(0)
                        ],
                        rows: vec![vec![Value::Int(sum)]],
                    }
                } else {
                    let mut cs: Vec<Vec<u8>> = rows.iter().map(|r| r.c.clone()).collect();
                    if sb != Sb::Range {
                        cs.sort();
                    }
                    if sb == Sb::Distinct {
                        cs.dedup();
                    }
                    StmtResult::Rows {
                        columns: vec![c_col()],
                        rows: cs.into_iter().map(|c| vec![Value::Bytes(c)]).collect(),
                    }
                }
            }
            Sb::UpdIdx => {
                let id = self.check_id("index update", &p[0]);
                let n = table.get_mut(&id).map(|r| r.k += 1).map_or(0, |_| 1);
                StmtResult::Ok(OkInfo::affected(n))
            }
            Sb::UpdNonIdx => {
                let id = self.check_id("non-index update", &p[1]);
                match &p[0] {
                    Value::Bytes(c) if is_sb_string(c, 119) => {
                        let n = table.get_mut(&id).map(|r| r.c = c.clone()).map_or(0, |_| 1);
                        StmtResult::Ok(OkInfo::affected(n))
                    }
                    other => {
                        self.shared.anomaly(format!("non-index update c {other:?}"));
                        StmtResult::Ok(OkInfo::affected(0))
                    }
                }
            }
            Sb::Delete => {
                let id = self.check_id("delete", &p[0]);
                let n = u64::from(table.remove(&id).is_some());
                StmtResult::Ok(OkInfo::affected(n))
            }
            Sb::Insert => {
                let id = self.check_id("insert id", &p[0]);
                let k = self.check_id("insert k", &p[1]);
                let ok_c = matches!(&p[2], Value::Bytes(c) if is_sb_string(c, 119));
                let ok_pad = matches!(&p[3], Value::Bytes(c) if is_sb_string(c, 59));
                if !ok_c || !ok_pad {
                    self.shared
                        .anomaly(format!("insert strings {:?} {:?}", p[2], p[3]));
                }
                let (Value::Bytes(c), Value::Bytes(pad)) = (&p[2], &p[3]) else {
                    return Ok(StmtResult::Ok(OkInfo::affected(0)));
                };
                // Upsert: concurrent delete+insert pairs of two threads on the
                // same id would otherwise collide (this store has no locks).
                table.insert(
                    id,
                    SbRow {
                        k,
                        c: c.clone(),
                        pad: pad.clone(),
                    },
                );
                StmtResult::Ok(OkInfo::affected(1))
            }
        })
    }
}

/// Deterministic content for `BIG(n)`: byte i is `i % 251`.
pub fn big_value(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    if s.len() >= prefix.len() && s[..prefix.len()].eq_ignore_ascii_case(prefix) {
        Some(&s[prefix.len()..])
    } else {
        None
    }
}

fn unquote(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    let q = s.chars().next()?;
    if (q != '\'' && q != '"') || s.len() < 2 || !s.ends_with(q) {
        return None;
    }
    Some(s[1..s.len() - 1].replace("''", "'").into_bytes())
}

/// Splits on `sep` outside quotes and parentheses.
pub fn split_top(s: &str, sep: char) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut quote, mut start) = (0i32, None, 0);
    for (i, ch) in s.char_indices() {
        match (quote, ch) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(ch),
            (None, '(') => depth += 1,
            (None, ')') => depth -= 1,
            (None, c) if c == sep && depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

fn value_type(v: &Value) -> ColumnDef {
    use ColumnType::*;
    match v {
        Value::NULL => ColumnDef::new("?", MYSQL_TYPE_NULL),
        Value::Int(_) => ColumnDef::new("?", MYSQL_TYPE_LONGLONG),
        Value::UInt(_) => ColumnDef::new("?", MYSQL_TYPE_LONGLONG).unsigned(),
        Value::Float(_) => ColumnDef::new("?", MYSQL_TYPE_FLOAT),
        Value::Double(_) => ColumnDef::new("?", MYSQL_TYPE_DOUBLE),
        Value::Bytes(_) => ColumnDef::new("?", MYSQL_TYPE_LONG_BLOB),
        Value::Date(..) => ColumnDef::new("?", MYSQL_TYPE_DATETIME).decimals(6),
        Value::Time(..) => ColumnDef::new("?", MYSQL_TYPE_TIME).decimals(6),
    }
}

impl Handler for TestHandler {
    type Statement = Prepared;

    async fn query(&mut self, sql: &str) -> Vec<Result<StmtResult, MySqlError>> {
        let mut out = Vec::new();
        for stmt in split_top(sql, ';') {
            if stmt.trim().is_empty() {
                continue;
            }
            let r = self.exec_text(stmt.trim());
            let failed = r.is_err();
            out.push(r);
            if failed {
                break;
            }
        }
        out
    }

    async fn prepare(&mut self, sql: &str) -> Result<(Prepared, PrepareInfo), MySqlError> {
        if let Some((sb, params)) = Sb::parse(sql) {
            let columns = match sb {
                Sb::Point | Sb::Range | Sb::Order | Sb::Distinct => {
                    vec![ColumnDef::new("c", ColumnType::MYSQL_TYPE_STRING)]
                }
                Sb::Sum => vec![ColumnDef::new("SUM(k)", ColumnType::MYSQL_TYPE_NEWDECIMAL)],
                _ => vec![],
            };
            return Ok((Prepared::Sb(sb), PrepareInfo { params, columns }));
        }
        let n = normalize(sql);
        if n == "select big(?)" {
            let columns = vec![ColumnDef::new("big", ColumnType::MYSQL_TYPE_LONG_BLOB)];
            return Ok((Prepared::Big, PrepareInfo { params: 1, columns }));
        }
        if let Some(rest) = n.strip_prefix("select ") {
            if split_top(rest, ',').iter().all(|p| p.trim() == "?") {
                let k = split_top(rest, ',').len() as u16;
                let columns = (0..k)
                    .map(|_| ColumnDef::new("?", ColumnType::MYSQL_TYPE_VAR_STRING))
                    .collect();
                return Ok((Prepared::Echo(k), PrepareInfo { params: k, columns }));
            }
        }
        if sql.contains('?') {
            return Err(MySqlError::syntax(sql));
        }
        // Anything else without parameters: run as text on execute. Report
        // the columns a dry run would produce.
        let columns = match self.exec_text(sql) {
            Ok(StmtResult::Rows { columns, .. }) => columns,
            Ok(_) => vec![],
            Err(e) => return Err(e),
        };
        Ok((
            Prepared::Text(sql.to_string()),
            PrepareInfo { params: 0, columns },
        ))
    }

    async fn execute(
        &mut self,
        stmt: &mut Prepared,
        params: Vec<Value>,
    ) -> Result<StmtResult, MySqlError> {
        match stmt {
            Prepared::Echo(k) => {
                assert_eq!(params.len(), usize::from(*k));
                Ok(StmtResult::Rows {
                    columns: params.iter().map(value_type).collect(),
                    rows: vec![params],
                })
            }
            Prepared::Big => {
                let n = match &params[0] {
                    Value::Int(n) => *n as usize,
                    Value::UInt(n) => *n as usize,
                    other => return Err(MySqlError::unknown(format!("BIG({other:?})"))),
                };
                Ok(StmtResult::Rows {
                    columns: vec![ColumnDef::new("big", ColumnType::MYSQL_TYPE_LONG_BLOB)],
                    rows: vec![vec![Value::Bytes(big_value(n))]],
                })
            }
            Prepared::Text(sql) => {
                let sql = sql.clone();
                self.exec_text(&sql)
            }
            Prepared::Sb(sb) => {
                let sb = *sb;
                self.sb(sb, &params)
            }
        }
    }

    async fn init_db(&mut self, db: &str) -> Result<(), MySqlError> {
        match db {
            "test" | "sbtest" | "information_schema" => {
                self.db = Some(db.to_string());
                Ok(())
            }
            _ => Err(MySqlError::unknown_database(db)),
        }
    }

    async fn change_user(&mut self, info: &SessionInfo) -> Result<(), MySqlError> {
        self.info = info.clone();
        self.db = None;
        self.in_trans = false;
        self.autocommit = true;
        Ok(())
    }

    async fn reset_connection(&mut self) -> Result<(), MySqlError> {
        self.in_trans = false;
        self.autocommit = true;
        Ok(())
    }

    fn killed(&self) -> impl std::future::Future<Output = ()> + Send {
        let kill = self.kill.clone();
        async move { kill.notified().await }
    }

    async fn quit(&mut self) {
        self.shared
            .kills
            .lock()
            .unwrap()
            .remove(&self.info.connection_id);
    }

    fn status(&self) -> StatusFlags {
        let mut s = StatusFlags::empty();
        if self.autocommit {
            s |= StatusFlags::SERVER_STATUS_AUTOCOMMIT;
        }
        if self.in_trans {
            s |= StatusFlags::SERVER_STATUS_IN_TRANS;
        }
        s
    }
}

/// A running test server; aborted on drop.
pub struct TestServer {
    pub addr: SocketAddr,
    pub shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl TestServer {
    pub fn port(&self) -> u16 {
        self.addr.port()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub const USER: &str = "tester";
pub const PASSWORD: &str = "s3cret!";

pub fn config() -> ServerConfig {
    let users = trireme_wire::StaticUsers::new()
        .with_user(USER, PASSWORD)
        .with_user("nopw", "")
        .with_user("sbtest", "sbtest")
        .with_credentials(
            "nativeonly",
            trireme_wire::Credentials::from_native_hash(
                trireme_wire::Credentials::from_password("native")
                    .native_hash()
                    .unwrap(),
            ),
        );
    ServerConfig::new(users)
}

/// Starts a server on 127.0.0.1 with an ephemeral port.
pub async fn start(config: ServerConfig) -> TestServer {
    init_tracing();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shared = Shared::new(&config.server_version);
    let s2 = shared.clone();
    let task = tokio::spawn(async move {
        let _ = trireme_wire::serve(listener, Arc::new(config), move |info: &SessionInfo| {
            Ok(TestHandler::new(s2.clone(), info))
        })
        .await;
    });
    TestServer { addr, shared, task }
}
