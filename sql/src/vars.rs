//! System variables: `@@name`, SET [SESSION|GLOBAL], SHOW VARIABLES.
//!
//! Each known variable has a default, a scope and a kind that validates
//! values. Globals live in one shared table per node; a session reads its
//! own value first, then the global. Unknown names are errors
//! (ER_UNKNOWN_SYSTEM_VARIABLE), as in MySQL.

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::RwLock;

use crate::error::{SqlError, SqlResult};
use crate::SessionState;
use trireme_storage::value::Value;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Scope {
    Global,
    Both,
    Session,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Bool,
    Int,
    Str,
    /// Read-only: set by the server only.
    ReadOnly,
    Isolation,
    /// 'SYSTEM', '+HH:MM' or a tz database name (ER_UNKNOWN_TIME_ZONE).
    TimeZone,
}

struct Def {
    name: &'static str,
    scope: Scope,
    kind: Kind,
    default: fn() -> Value,
}

fn s(v: &str) -> Value {
    Value::Str(v.to_string())
}

macro_rules! defs {
    ($($name:literal, $scope:ident, $kind:ident, $default:expr;)*) => {
        const DEFS: &[Def] = &[$(Def { name: $name, scope: Scope::$scope, kind: Kind::$kind, default: || $default },)*];
    };
}

defs! {
    "autocommit", Both, Bool, Value::Int(1);
    "auto_increment_increment", Both, ReadOnly, Value::Int(1);
    "auto_increment_offset", Both, ReadOnly, Value::Int(1);
    "character_set_client", Both, Str, s("utf8mb4");
    "character_set_connection", Both, Str, s("utf8mb4");
    "character_set_database", Both, Str, s("utf8mb4");
    "character_set_filesystem", Both, Str, s("binary");
    "character_set_results", Both, Str, s("utf8mb4");
    "character_set_server", Both, Str, s("utf8mb4");
    "character_set_system", Global, ReadOnly, s("utf8mb3");
    "character_sets_dir", Global, ReadOnly, s("/usr/share/mysql/charsets/");
    "collation_connection", Both, Str, s("utf8mb4_general_ci");
    "collation_database", Both, Str, s("utf8mb4_general_ci");
    "collation_server", Both, Str, s("utf8mb4_general_ci");
    "datadir", Global, ReadOnly, s("");
    "default_storage_engine", Both, Str, s("InnoDB");
    "error_count", Session, ReadOnly, Value::Int(0);
    "foreign_key_checks", Both, Bool, Value::Int(1);
    "group_concat_max_len", Both, ReadOnly, Value::Int(1_048_576);
    "have_ssl", Global, ReadOnly, s("DISABLED");
    "hostname", Global, ReadOnly, s("localhost");
    "init_connect", Global, Str, s("");
    "innodb_flush_log_at_trx_commit", Global, ReadOnly, Value::Int(1);
    "innodb_lock_wait_timeout", Both, Int, Value::Int(50);
    "interactive_timeout", Both, Int, Value::Int(28800);
    "license", Global, ReadOnly, s("Apache-2.0");
    "lock_wait_timeout", Both, Int, Value::Int(31_536_000);
    "log_bin", Global, ReadOnly, s("OFF");
    "lower_case_table_names", Global, ReadOnly, Value::Int(0);
    "max_allowed_packet", Both, ReadOnly, Value::Int(67_108_864);
    "max_connections", Global, Int, Value::Int(1000);
    "max_recursive_iterations", Both, Int, Value::Int(1000);
    "net_buffer_length", Both, Int, Value::Int(16384);
    "net_read_timeout", Both, Int, Value::Int(30);
    "net_write_timeout", Both, Int, Value::Int(60);
    "performance_schema", Global, ReadOnly, s("OFF");
    "port", Global, ReadOnly, Value::Int(3306);
    "protocol_version", Global, ReadOnly, Value::Int(10);
    "query_cache_size", Global, ReadOnly, Value::Int(0);
    "query_cache_type", Both, ReadOnly, s("OFF");
    "read_only", Global, ReadOnly, s("OFF");
    "server_id", Global, ReadOnly, Value::Int(1);
    "socket", Global, ReadOnly, s("");
    "sql_auto_is_null", Both, Bool, Value::Int(0);
    "sql_log_bin", Both, Bool, Value::Int(1);
    "sql_mode", Both, Str, s("STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_AUTO_CREATE_USER,NO_ENGINE_SUBSTITUTION");
    "sql_notes", Both, Bool, Value::Int(1);
    "sql_quote_show_create", Both, Bool, Value::Int(1);
    "sql_safe_updates", Both, Bool, Value::Int(0);
    "sql_select_limit", Both, Int, Value::UInt(u64::MAX);
    "sql_warnings", Both, Bool, Value::Int(0);
    "system_time_zone", Global, ReadOnly, s("UTC");
    "time_zone", Both, TimeZone, s("SYSTEM");
    "transaction_isolation", Both, Isolation, s("REPEATABLE-READ");
    "tx_isolation", Both, Isolation, s("REPEATABLE-READ");
    "transaction_read_only", Both, Bool, Value::Int(0);
    "tx_read_only", Both, Bool, Value::Int(0);
    "unique_checks", Both, Bool, Value::Int(1);
    "version", Global, ReadOnly, s(crate::SERVER_VERSION);
    "version_comment", Global, ReadOnly, s("trireme multi-master cluster (snapshot isolation)");
    "version_compile_machine", Global, ReadOnly, s("x86_64");
    "version_compile_os", Global, ReadOnly, s("Linux");
    "wait_timeout", Both, Int, Value::Int(28800);
    "warning_count", Session, ReadOnly, Value::Int(0);
    "wsrep_auto_increment_control", Global, ReadOnly, s("ON");
    "wsrep_causal_reads", Both, Bool, Value::Int(0);
    "wsrep_cluster_address", Global, ReadOnly, s("");
    "wsrep_cluster_name", Global, ReadOnly, s("trireme");
    "wsrep_dirty_reads", Both, Bool, Value::Int(0);
    "wsrep_node_address", Global, ReadOnly, s("");
    "wsrep_node_incoming_address", Global, ReadOnly, s("AUTO");
    "wsrep_node_name", Global, ReadOnly, s("");
    "wsrep_on", Both, ReadOnly, s("ON");
    "wsrep_provider", Global, ReadOnly, s("trireme-gcs");
    "wsrep_retry_autocommit", Both, Int, Value::Int(1);
    "wsrep_slave_threads", Global, ReadOnly, Value::Int(4);
    "wsrep_sync_wait", Both, Int, Value::Int(0);
}

fn def(name: &str) -> Option<&'static Def> {
    static INDEX: std::sync::OnceLock<std::collections::HashMap<&'static str, &'static Def>> =
        std::sync::OnceLock::new();
    let index = INDEX.get_or_init(|| DEFS.iter().map(|d| (d.name, d)).collect());
    match index.get(name) {
        Some(d) => Some(d),
        None => index.get(name.to_ascii_lowercase().as_str()).copied(),
    }
}

/// Node-wide variable values (defaults overridden by configuration and
/// SET GLOBAL).
#[derive(Default)]
pub struct GlobalVars {
    values: RwLock<BTreeMap<&'static str, Value>>,
    /// GET_LOCK's named locks: node-wide state every session reaches
    /// through here.
    pub user_locks: crate::user_locks::UserLocks,
    /// Sequence values this node has reserved (`sequence`).
    pub sequences: Arc<crate::sequence::Cache>,
}

impl GlobalVars {
    pub fn new() -> Arc<GlobalVars> {
        Arc::new(GlobalVars::default())
    }

    /// Sets a value on behalf of the server (read-only variables included).
    pub fn set_server(&self, name: &str, v: Value) {
        if let Some(d) = def(name) {
            self.values.write().insert(d.name, v);
        }
    }

    pub fn get(&self, name: &str) -> Option<Value> {
        let d = def(name)?;
        Some(
            self.values
                .read()
                .get(d.name)
                .cloned()
                .unwrap_or_else(|| (d.default)()),
        )
    }
}

/// A session's own values.
#[derive(Clone)]
pub struct SessionVars {
    pub global: Arc<GlobalVars>,
    local: BTreeMap<&'static str, Value>,
    /// The session's row-access counters (SHOW STATUS `Handler_read_*`).
    /// They live here because SessionVars is the per-session state the SQL
    /// layer owns, reset with the session.
    pub reads: crate::access::ReadStats,
}

impl std::fmt::Debug for SessionVars {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.local.iter()).finish()
    }
}

impl SessionVars {
    pub fn new(global: Arc<GlobalVars>) -> SessionVars {
        SessionVars {
            global,
            local: BTreeMap::new(),
            reads: Default::default(),
        }
    }

    pub fn get(&self, name: &str) -> Option<Value> {
        let d = def(name)?;
        if d.scope == Scope::Global {
            return self.global.get(d.name);
        }
        self.local
            .get(d.name)
            .cloned()
            .or_else(|| self.global.get(d.name))
    }

    pub fn get_bool(&self, name: &str) -> bool {
        self.get(name).and_then(|v| v.truth()).unwrap_or(false)
    }

    pub fn get_int(&self, name: &str) -> i64 {
        self.get(name).and_then(|v| v.to_i64()).unwrap_or(0)
    }

    /// Sets a session value on behalf of the server.
    pub fn set_server(&mut self, name: &str, v: Value) {
        if let Some(d) = def(name) {
            self.local.insert(d.name, v);
        }
    }
}

pub fn read(sess: &SessionState, name: &str, global: bool) -> SqlResult<Value> {
    let lname = name.to_ascii_lowercase();
    let session_only = matches!(
        lname.as_str(),
        "last_insert_id" | "identity" | "warning_count" | "error_count" | "pseudo_thread_id"
    );
    if global && session_only {
        return Err(SqlError::new(
            1238,
            "HY000",
            format!("Variable '{lname}' is a SESSION variable"),
        ));
    }
    match lname.as_str() {
        "last_insert_id" | "identity" => return Ok(Value::UInt(sess.last_insert_id)),
        "warning_count" => return Ok(Value::UInt(sess.warnings.len() as u64)),
        "error_count" => return Ok(Value::UInt(0)),
        "pseudo_thread_id" => return Ok(Value::UInt(u64::from(sess.connection_id))),
        _ => {}
    }
    let d = def(&lname).ok_or_else(|| SqlError::unknown_system_variable(name))?;
    if global {
        if d.scope == Scope::Session {
            return Err(SqlError::new(
                1238,
                "HY000",
                format!("Variable '{}' is a SESSION variable", d.name),
            ));
        }
        return Ok(typed(
            d,
            sess.vars.global.get(d.name).unwrap_or(Value::Null),
        ));
    }
    Ok(typed(d, sess.vars.get(d.name).unwrap_or(Value::Null)))
}

/// `v` as `@@name` gives it. MariaDB's numeric variables are unsigned
/// (LONGLONG UNSIGNED on the wire, which JDBC reads as a Long either way
/// but other drivers decode by); only the ON/OFF ones are signed.
fn typed(d: &Def, v: Value) -> Value {
    let numeric = matches!((d.default)(), Value::Int(_) | Value::UInt(_));
    match v {
        Value::Int(n) if numeric && d.kind != Kind::Bool && n >= 0 => Value::UInt(n as u64),
        other => other,
    }
}

/// SET [GLOBAL|SESSION] name = value.
pub fn set(sess: &mut SessionState, name: &str, value: Value, global: bool) -> SqlResult<()> {
    let d = def(name).ok_or_else(|| SqlError::unknown_system_variable(name))?;
    if d.kind == Kind::ReadOnly {
        return Err(SqlError::new(
            1238,
            "HY000",
            format!("Variable '{}' is a read only variable", d.name),
        ));
    }
    if global && d.scope == Scope::Session {
        return Err(SqlError::new(
            1228,
            "HY000",
            format!(
                "Variable '{}' is a SESSION variable and can't be used with SET GLOBAL",
                d.name
            ),
        ));
    }
    if !global && d.scope == Scope::Global {
        return Err(SqlError::new(
            1229,
            "HY000",
            format!(
                "Variable '{}' is a GLOBAL variable and should be set with SET GLOBAL",
                d.name
            ),
        ));
    }
    let v = validate(d, value, sess)?;
    if global {
        sess.vars.global.set_server(d.name, v);
    } else {
        sess.vars.local.insert(d.name, v.clone());
        // The two spellings of the isolation level and of the access mode
        // move together.
        if d.kind == Kind::Isolation {
            sess.vars.local.insert("transaction_isolation", v.clone());
            sess.vars.local.insert("tx_isolation", v);
        } else if matches!(d.name, "transaction_read_only" | "tx_read_only") {
            sess.vars.local.insert("transaction_read_only", v.clone());
            sess.vars.local.insert("tx_read_only", v);
        }
    }
    Ok(())
}

/// MariaDB's sql_mode flags, in the order it lists them.
const SQL_MODES: &[&str] = &[
    "REAL_AS_FLOAT",
    "PIPES_AS_CONCAT",
    "ANSI_QUOTES",
    "IGNORE_SPACE",
    "IGNORE_BAD_TABLE_OPTIONS",
    "ONLY_FULL_GROUP_BY",
    "NO_UNSIGNED_SUBTRACTION",
    "NO_DIR_IN_CREATE",
    "POSTGRESQL",
    "ORACLE",
    "MSSQL",
    "DB2",
    "MAXDB",
    "NO_KEY_OPTIONS",
    "NO_TABLE_OPTIONS",
    "NO_FIELD_OPTIONS",
    "MYSQL323",
    "MYSQL40",
    "ANSI",
    "NO_AUTO_VALUE_ON_ZERO",
    "NO_BACKSLASH_ESCAPES",
    "STRICT_TRANS_TABLES",
    "STRICT_ALL_TABLES",
    "NO_ZERO_IN_DATE",
    "NO_ZERO_DATE",
    "ALLOW_INVALID_DATES",
    "ERROR_FOR_DIVISION_BY_ZERO",
    "TRADITIONAL",
    "NO_AUTO_CREATE_USER",
    "HIGH_NOT_PRECEDENCE",
    "NO_ENGINE_SUBSTITUTION",
    "PAD_CHAR_TO_FULL_LENGTH",
    "EMPTY_STRING_IS_NULL",
    "SIMULTANEOUS_ASSIGNMENT",
    "TIME_ROUND_FRACTIONAL",
];

/// A sql_mode value as MariaDB keeps it: known flags only, each once, in
/// MariaDB's order, ANSI and TRADITIONAL with the flags they stand for.
/// None for an unknown flag (1231).
fn sql_mode(text: &str) -> Option<String> {
    let mut on = vec![false; SQL_MODES.len()];
    let mut set = |m: &str| -> Option<()> {
        let i = SQL_MODES.iter().position(|k| k.eq_ignore_ascii_case(m))?;
        on[i] = true;
        Some(())
    };
    for m in text.split(',').map(str::trim).filter(|m| !m.is_empty()) {
        let implied: &[&str] = match m.to_ascii_uppercase().as_str() {
            "ANSI" => &[
                "REAL_AS_FLOAT",
                "PIPES_AS_CONCAT",
                "ANSI_QUOTES",
                "IGNORE_SPACE",
            ],
            "TRADITIONAL" => &[
                "STRICT_TRANS_TABLES",
                "STRICT_ALL_TABLES",
                "NO_ZERO_IN_DATE",
                "NO_ZERO_DATE",
                "ERROR_FOR_DIVISION_BY_ZERO",
                "NO_AUTO_CREATE_USER",
                "NO_ENGINE_SUBSTITUTION",
            ],
            _ => &[],
        };
        for x in implied {
            set(x)?;
        }
        set(m)?;
    }
    let names: Vec<&str> = SQL_MODES
        .iter()
        .zip(&on)
        .filter(|(_, on)| **on)
        .map(|(n, _)| *n)
        .collect();
    Some(names.join(","))
}

fn validate(d: &Def, v: Value, sess: &mut SessionState) -> SqlResult<Value> {
    let text = v.to_text_lossy();
    let bad = || SqlError::wrong_value_for_var(d.name, &text);
    Ok(match d.kind {
        Kind::Bool => match &v {
            Value::Int(0) | Value::UInt(0) => Value::Int(0),
            Value::Int(1) | Value::UInt(1) => Value::Int(1),
            Value::Str(s) if s.eq_ignore_ascii_case("on") || s.eq_ignore_ascii_case("true") => {
                Value::Int(1)
            }
            Value::Str(s) if s.eq_ignore_ascii_case("off") || s.eq_ignore_ascii_case("false") => {
                Value::Int(0)
            }
            _ => return Err(bad()),
        },
        Kind::Int => {
            let n = v.to_i64().ok_or_else(bad)?;
            if v.is_stringish() && text.trim().parse::<i64>().is_err() {
                return Err(SqlError::new(
                    1232,
                    "42000",
                    format!("Incorrect argument type to variable '{}'", d.name),
                ));
            }
            if d.name == "wsrep_sync_wait" && !(0..=15).contains(&n) {
                return Err(bad());
            }
            Value::Int(n)
        }
        Kind::Str if d.name == "sql_mode" => Value::Str(sql_mode(&text).ok_or_else(bad)?),
        Kind::Str => match v {
            // Only the results charset may be NULL (send results as
            // stored, unconverted); the other charsets and collations
            // must name one.
            Value::Null if d.name == "character_set_results" => Value::Null,
            Value::Null
                if d.name.starts_with("character_set") || d.name.starts_with("collation") =>
            {
                return Err(bad())
            }
            Value::Null => Value::Str(String::new()),
            other => Value::Str(other.to_text_lossy()),
        },
        Kind::Isolation => {
            let norm = text.to_ascii_uppercase().replace(' ', "-");
            match norm.as_str() {
                "REPEATABLE-READ" => Value::Str(norm),
                "READ-COMMITTED" | "READ-UNCOMMITTED" => {
                    // trireme runs every transaction under snapshot isolation,
                    // which is stronger than what was asked; say so.
                    sess.warnings.push(crate::Warning {
                        level: "Note",
                        code: 1105,
                        message: format!(
                            "{norm} requested; trireme transactions run with snapshot isolation (first committer wins), which is stronger"
                        ),
                    });
                    Value::Str(norm)
                }
                "SERIALIZABLE" => {
                    return Err(SqlError::new(
                        crate::error::codes::NOT_SUPPORTED_YET,
                        "42000",
                        "SERIALIZABLE is not supported: trireme provides snapshot isolation, which allows write skew",
                    ))
                }
                _ => return Err(bad()),
            }
        }
        Kind::TimeZone => {
            if crate::func::tz::parse_zone(&text).is_none() {
                return Err(SqlError::unknown_time_zone(&text));
            }
            Value::Str(text)
        }
        Kind::ReadOnly => return Err(bad()),
    })
}

/// Every variable with its value in the given scope (SHOW VARIABLES).
pub fn all(sess: &SessionState, global: bool) -> Vec<(String, Value)> {
    DEFS.iter()
        .filter(|d| !(global && d.scope == Scope::Session))
        .map(|d| {
            let v = if global {
                sess.vars.global.get(d.name)
            } else {
                sess.vars.get(d.name)
            };
            // SHOW VARIABLES shows a NULL value (character_set_results) empty.
            let v = match v {
                None | Some(Value::Null) => Value::Str(String::new()),
                Some(v) => v,
            };
            // SHOW VARIABLES spells booleans ON / OFF (SELECT @@x gives 1 / 0).
            let v = match (d.kind, v.truth()) {
                (Kind::Bool, Some(true)) => Value::Str("ON".into()),
                (Kind::Bool, Some(false)) => Value::Str("OFF".into()),
                _ => v,
            };
            (d.name.to_string(), v)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sql_mode_is_kept_as_mariadb_keeps_it() {
        assert_eq!(
            sql_mode("no_engine_substitution,STRICT_TRANS_TABLES,STRICT_TRANS_TABLES").as_deref(),
            Some("STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION")
        );
        assert_eq!(
            sql_mode("TRADITIONAL").as_deref(),
            Some("STRICT_TRANS_TABLES,STRICT_ALL_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,TRADITIONAL,NO_AUTO_CREATE_USER,NO_ENGINE_SUBSTITUTION")
        );
        assert_eq!(sql_mode("").as_deref(), Some(""));
        assert_eq!(sql_mode("NO_SUCH_MODE"), None);
    }

    #[test]
    fn numeric_variables_read_unsigned_and_flags_signed() {
        let d = |n| def(n).expect("known variable");
        assert_eq!(
            typed(d("wait_timeout"), Value::Int(28800)),
            Value::UInt(28800)
        );
        assert_eq!(typed(d("autocommit"), Value::Int(1)), Value::Int(1));
        assert_eq!(typed(d("sql_mode"), s("")), s(""));
    }
}
