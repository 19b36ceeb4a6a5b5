//! `trireme-sql`: the SQL engine. MySQL statements parsed by `sqlparser` (MySqlDialect),
//! bound to the catalog (`bind`), planned (`access`, `select`) and executed
//! against a transaction (`select`, `dml`), or turned into schema changes
//! (`ddl`) and administrative answers (`show`, `vars`).
//!
//! A statement runs synchronously against the transaction's snapshot and
//! write buffer (`Exec`); only commit, DDL and causal-read waits are
//! asynchronous, and those live in the node's session.
//!
//! Errors reach clients as [`error::SqlError`]: the one table of MySQL codes
//! lives in [`error`], which also maps the store's meanings
//! ([`trireme_storage::StorageError`]) to codes.

pub mod access;
pub mod admin;
pub mod arith;
pub mod bind;
pub mod check;
pub mod coerce;
pub mod collate;
pub mod correlated;
pub mod ddl;
pub mod dialect;
pub mod dml;
pub mod error;
pub mod explain;
pub mod expr;
pub mod fk;
pub mod func;
pub mod generated;
pub mod group;
pub mod interval;
pub mod multi;
pub mod schema_types;
pub mod select;
pub mod sequence;
pub mod show;
pub mod stored_expr;
pub mod temporary;
pub mod tstz;
pub mod user_locks;
pub mod vars;
pub mod view;
pub mod view_write;
pub mod window;
pub mod with;

/// The version string clients see (`@@version`, the handshake). It reads as
/// a MariaDB 10.11 so MariaDB and Galera tooling accept it.
pub const SERVER_VERSION: &str = "10.11.99-MariaDB-trireme";

use std::sync::Arc;

use sqlparser::ast::{self, Statement};
use sqlparser::parser::Parser;

use crate::error::{SqlError, SqlResult};
use trireme_storage::collation::Collation;
use trireme_storage::txn::Txn;
use trireme_storage::types::SqlType;
use trireme_storage::value::{DateTime, Value};
use trireme_storage::{Catalog, Store};

/// Result metadata of one output column.
#[derive(Clone, Debug)]
pub struct OutCol {
    pub name: String,
    pub org_name: String,
    pub table: String,
    pub org_table: String,
    pub db: String,
    /// None is the NULL type (a bare NULL literal).
    pub ty: Option<SqlType>,
    pub nullable: bool,
    pub primary_key: bool,
    pub unique_key: bool,
    pub multiple_key: bool,
    pub auto_increment: bool,
    /// The collation of a string column (binary for byte strings).
    pub collation: Option<Collation>,
}

impl OutCol {
    pub fn expr(name: &str, ty: Option<SqlType>, nullable: bool) -> OutCol {
        // Expression results carry the server's default collation until
        // the binder knows better; byte strings are binary.
        let collation = ty.as_ref().and_then(|t| {
            if t.is_binary() {
                Some(Collation::Binary)
            } else {
                t.is_string().then_some(Collation::Utf8mb4GeneralCi)
            }
        });
        OutCol {
            name: name.to_string(),
            org_name: String::new(),
            table: String::new(),
            org_table: String::new(),
            db: String::new(),
            ty,
            nullable,
            primary_key: false,
            unique_key: false,
            multiple_key: false,
            auto_increment: false,
            collation,
        }
    }

    /// A VARCHAR column for administrative result sets.
    pub fn text(name: &str) -> OutCol {
        OutCol::expr(name, Some(SqlType::Varchar(255)), true)
    }

    pub fn bigint(name: &str) -> OutCol {
        OutCol::expr(
            name,
            Some(SqlType::Int {
                width: trireme_storage::types::IntWidth::Big,
                unsigned: false,
            }),
            true,
        )
    }
}

/// What a statement returns.
#[derive(Clone, Debug)]
pub enum Output {
    Ok {
        affected: u64,
        last_insert_id: u64,
        info: String,
    },
    Rows {
        columns: Vec<OutCol>,
        rows: Vec<Vec<Value>>,
    },
}

impl Output {
    pub fn ok(affected: u64) -> Output {
        Output::Ok {
            affected,
            last_insert_id: 0,
            info: String::new(),
        }
    }
}

/// A warning for SHOW WARNINGS.
#[derive(Clone, Debug)]
pub struct Warning {
    pub level: &'static str,
    pub code: u16,
    pub message: String,
}

/// Node-wide facts a statement may need.
#[derive(Clone, Debug)]
pub struct NodeInfo {
    pub node_id: u64,
    /// Galera's wsrep_auto_increment_control: increment = cluster size,
    /// offset = this node's index + 1.
    pub auto_increment_increment: u64,
    pub auto_increment_offset: u64,
}

/// Session state a statement reads and may change (SET, USE, LAST_INSERT_ID).
#[derive(Clone, Debug)]
pub struct SessionState {
    pub db: Option<String>,
    pub user: String,
    pub host: String,
    pub connection_id: u32,
    pub last_insert_id: u64,
    pub vars: vars::SessionVars,
    pub user_vars: std::collections::HashMap<String, Value>,
    pub warnings: Vec<Warning>,
    /// Rows matched by the last statement (FOUND_ROWS / ROW_COUNT).
    pub found_rows: u64,
    pub row_count: i64,
    /// The client connected with CLIENT_FOUND_ROWS: UPDATE reports the
    /// rows it matched, not only those it changed (Django relies on it).
    pub client_found_rows: bool,
    /// The text of the statement running: an unaliased select expression
    /// is named by what the client wrote (`a+0`, `0x10`), as in MySQL.
    pub sql_text: String,
    /// The session's TEMPORARY tables (`temporary`).
    pub temporary: temporary::Temporaries,
    /// LASTVAL per sequence (`sequence`).
    pub sequence_last: std::collections::HashMap<sequence::SeqKey, i64>,
    /// SETVAL calls run for a statement that is run again, with answers.
    pub sequence_set_done: std::collections::HashMap<(sequence::SeqKey, i64), Option<i64>>,
}

/// The context a statement executes in.
pub struct Exec<'a> {
    pub store: &'a Arc<Store>,
    pub catalog: Arc<Catalog>,
    pub txn: &'a mut Txn,
    pub sess: &'a mut SessionState,
    pub node: &'a NodeInfo,
    /// Prepared-statement parameters, in order.
    pub params: &'a [Value],
    /// The statement's start time (NOW() is stable within a statement).
    pub now: DateTime,
    /// Counts `?` placeholders as they are bound.
    pub next_param: usize,
    /// While binding ON DUPLICATE KEY UPDATE: where VALUES(col) columns
    /// start in the row layout.
    pub values_ref: Option<usize>,
    pub status: &'a dyn show::NodeStatus,
    /// PREPARE: bind and plan, but read no rows (result metadata only).
    pub describe: bool,
    /// The CTEs in scope, innermost last (`with`).
    pub ctes: Vec<with::Cte>,
    /// While a SELECT's list and ORDER BY are bound: its window calls.
    pub windows: Option<window::Collector>,
    /// Enclosing scopes a subquery may read (`correlated`).
    pub outer: Vec<correlated::OuterFrame>,
    /// Set when a subquery being bound read an enclosing scope.
    pub saw_outer_ref: bool,
    /// Generated-column expressions bound by this statement, per table
    /// (`generated`).
    pub generated: Vec<(usize, generated::Bound)>,
    /// DEFAULT expressions bound by this statement, by their text: bound
    /// once, evaluated per row (`generated::eval_default`).
    pub default_exprs: Vec<(String, std::sync::Arc<expr::Expr>)>,
    /// While a write through a view runs: its CHECK OPTION conditions.
    pub view_checks: Vec<view_write::ViewCheck>,
}

impl Exec<'_> {
    /// The session's current database. One that has been dropped since
    /// USE no longer counts (MySQL clears it when the session drops it).
    pub fn current_db(&self) -> SqlResult<&str> {
        self.sess
            .db
            .as_deref()
            .filter(|d| self.db_exists(d))
            .ok_or_else(SqlError::no_db)
    }

    /// Whether `db` exists (a user database or a system one).
    pub fn db_exists(&self, db: &str) -> bool {
        self.catalog.databases.contains_key(db)
            || ddl::SYSTEM_DATABASES
                .iter()
                .any(|d| d.eq_ignore_ascii_case(db))
    }

    /// A Note (MariaDB's level for a harmless change, such as digits
    /// rounded away to fit a DECIMAL column's scale).
    pub fn note(&mut self, code: u16, message: impl Into<String>) {
        self.sess.warnings.push(Warning {
            level: "Note",
            code,
            message: message.into(),
        });
    }

    pub fn warn(&mut self, code: u16, message: impl Into<String>) {
        self.sess.warnings.push(Warning {
            level: "Warning",
            code,
            message: message.into(),
        });
    }

    /// Resolves `[db.]name` against the current database.
    pub fn qualify(&self, name: &ast::ObjectName) -> SqlResult<(String, String)> {
        let parts = object_name_parts(name)?;
        match parts.as_slice() {
            [t] => Ok((self.current_db()?.to_string(), t.clone())),
            [d, t] => Ok((d.clone(), t.clone())),
            _ => Err(SqlError::syntax(format!("bad table name '{name}'"))),
        }
    }
}

pub fn object_name_parts(name: &ast::ObjectName) -> SqlResult<Vec<String>> {
    name.0
        .iter()
        .map(|p| match p {
            ast::ObjectNamePart::Identifier(i) => Ok(i.value.clone()),
            other => Err(SqlError::syntax(format!("unexpected name part '{other}'"))),
        })
        .collect()
}

/// Parses one COM_QUERY text into statements.
///
/// sqlparser does not know `LOCK IN SHARE MODE` (MySQL's spelling of FOR
/// SHARE), so it is rewritten first, outside string literals and comments.
pub fn parse(sql: &str) -> SqlResult<Vec<Statement>> {
    let sql = without_view_check_option(sql);
    let leading = rewrite_leading_words(sql);
    let leading = explain::rewrite_prefix(&leading);
    let rewritten = rewrite_for_parser(&leading);
    Parser::parse_sql(&crate::dialect::MariaDb::default(), &rewritten).map_err(|e| {
        let msg = e.to_string();
        let msg = msg.strip_prefix("sql parser error: ").unwrap_or(&msg);
        SqlError::syntax(format!(
            "check the manual that corresponds to your MySQL server version for the right syntax to use ({msg})"
        ))
    })
}

/// `CREATE / ALTER VIEW ... WITH [CASCADED | LOCAL] CHECK OPTION` without
/// its last clause, which sqlparser does not read. It only restricts
/// writes through the view, which trireme does not take yet (1235), so
/// dropping it changes no answer.
fn without_view_check_option(sql: &str) -> &str {
    match view_check_option_at(sql) {
        Some((end, _)) => &sql[..end],
        None => sql,
    }
}

/// A CREATE / ALTER VIEW's CHECK OPTION: CASCADED (also for a bare WITH
/// CHECK OPTION) or LOCAL; None without one.
pub fn view_check_option(sql: &str) -> Option<&'static str> {
    view_check_option_at(sql).map(|(_, kind)| kind)
}

/// Where a view's `WITH ... CHECK OPTION` clause starts, and its kind.
fn view_check_option_at(sql: &str) -> Option<(usize, &'static str)> {
    let t = sql.trim_end().trim_end_matches(';').trim_end();
    let words: Vec<&str> = t.split_whitespace().collect();
    let head: Vec<String> = words
        .iter()
        .take(6)
        .map(|w| w.to_ascii_uppercase())
        .collect();
    let is_view = matches!(head.first().map(String::as_str), Some("CREATE" | "ALTER"))
        && head.iter().any(|w| w == "VIEW");
    if !is_view {
        return None;
    }
    let n = words.len();
    let tail: Vec<String> = words[n.saturating_sub(4)..]
        .iter()
        .map(|w| w.to_ascii_uppercase())
        .collect();
    let tail: Vec<&str> = tail.iter().map(String::as_str).collect();
    let (cut, kind) = match tail.as_slice() {
        ["WITH", "LOCAL", "CHECK", "OPTION"] => (4, "LOCAL"),
        ["WITH", "CASCADED", "CHECK", "OPTION"] => (4, "CASCADED"),
        [.., "WITH", "CHECK", "OPTION"] => (3, "CASCADED"),
        _ => return None,
    };
    // The byte offset where the clause's first word starts.
    let mut end = t.len();
    for _ in 0..cut {
        end = t[..end]
            .trim_end()
            .rfind(char::is_whitespace)
            .map_or(0, |i| i + 1);
    }
    Some((end, kind))
}

/// MySQL spellings sqlparser rejects, rewritten by their leading words to
/// the equivalent it accepts: `CREATE SCHEMA ... CHARACTER SET ...` to
/// `CREATE DATABASE ...`, and `SET CHARACTER SET x` / `SET CHARSET x` to
/// `SET NAMES x` (trireme speaks utf8mb4 only, so both are accepted and
/// change nothing).
fn rewrite_leading_words(sql: &str) -> std::borrow::Cow<'_, str> {
    // The first three words, as long as only whitespace comes before each.
    let mut end = 0;
    let words: Vec<(usize, usize)> = word_spans(sql)
        .take_while(|&(a, z)| {
            let leading = is_blank(sql, end, a);
            end = z;
            leading
        })
        .take(3)
        .collect();
    let word = |k: usize, w: &str| {
        words
            .get(k)
            .is_some_and(|&(a, z)| sql[a..z].eq_ignore_ascii_case(w))
    };
    if word(0, "CREATE") && word(1, "SCHEMA") {
        let (a, z) = words[1];
        return std::borrow::Cow::Owned(format!("{}DATABASE{}", &sql[..a], &sql[z..]));
    }
    if word(0, "SET") && word(1, "CHARSET") {
        let (a, z) = words[1];
        return std::borrow::Cow::Owned(format!("{}NAMES{}", &sql[..a], &sql[z..]));
    }
    if word(0, "SET") && word(1, "CHARACTER") && word(2, "SET") {
        let (a, _) = words[1];
        let (_, z) = words[2];
        return std::borrow::Cow::Owned(format!("{}NAMES{}", &sql[..a], &sql[z..]));
    }
    if word(0, "START") && word(1, "TRANSACTION") {
        if let Some(stripped) = strip_consistent_snapshot(sql) {
            return std::borrow::Cow::Owned(stripped);
        }
    }
    std::borrow::Cow::Borrowed(sql)
}

/// True when a START TRANSACTION text asks for `WITH CONSISTENT SNAPSHOT`
/// (possibly inside a `/*!40100 ... */` version comment, as mysqldump and
/// mariadb-dump send it).
pub fn wants_consistent_snapshot(sql: &str) -> bool {
    consistent_snapshot_span(sql).is_some()
}

/// Byte range of the words `WITH CONSISTENT SNAPSHOT`, separated by
/// whitespace only.
fn consistent_snapshot_span(sql: &str) -> Option<(usize, usize)> {
    let words: Vec<(usize, usize)> = word_spans(sql).collect();
    let is = |w: (usize, usize), s: &str| sql[w.0..w.1].eq_ignore_ascii_case(s);
    words.windows(3).find_map(|w| {
        (is(w[0], "WITH")
            && is(w[1], "CONSISTENT")
            && is(w[2], "SNAPSHOT")
            && is_blank(sql, w[0].1, w[1].0)
            && is_blank(sql, w[1].1, w[2].0))
        .then_some((w[0].0, w[2].1))
    })
}

/// Byte ranges of the runs of ASCII letters, digits and `_` in `sql`.
fn word_spans(sql: &str) -> impl Iterator<Item = (usize, usize)> + '_ {
    let b = sql.as_bytes();
    let is_word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < b.len() && !is_word(b[i]) {
            i += 1;
        }
        let start = i;
        while i < b.len() && is_word(b[i]) {
            i += 1;
        }
        (i > start).then_some((start, i))
    })
}

fn is_blank(sql: &str, from: usize, to: usize) -> bool {
    sql.as_bytes()[from..to].iter().all(u8::is_ascii_whitespace)
}

/// sqlparser has no `WITH CONSISTENT SNAPSHOT` mode; the words are removed
/// (with the comma joining them to another mode) and the session takes its
/// snapshot at START TRANSACTION instead, see `wants_consistent_snapshot`.
fn strip_consistent_snapshot(sql: &str) -> Option<String> {
    let (a, z) = consistent_snapshot_span(sql)?;
    let b = sql.as_bytes();
    let mut after = z;
    while after < b.len() && b[after].is_ascii_whitespace() {
        after += 1;
    }
    if after < b.len() && b[after] == b',' {
        return Some(format!("{}{}", &sql[..a], &sql[after + 1..]));
    }
    let mut before = a;
    while before > 0 && b[before - 1].is_ascii_whitespace() {
        before -= 1;
    }
    if before > 0 && b[before - 1] == b',' {
        return Some(format!("{}{}", &sql[..before - 1], &sql[z..]));
    }
    Some(format!("{}{}", &sql[..a], &sql[z..]))
}

/// Rewrites `LOCK IN SHARE MODE` to `FOR SHARE`, and a generated column's
/// `) PERSISTENT` to `) STORED`, outside quotes.
fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$'
}

/// After NEXT / PREVIOUS: ` VALUE FOR name` (the name as written, quoted
/// or qualified) and how many bytes that took.
fn value_for(rest: &str) -> Option<(&str, usize)> {
    let mut at = 0;
    for kw in ["VALUE", "FOR"] {
        let skipped = rest[at..].len() - rest[at..].trim_start().len();
        if skipped == 0 {
            return None;
        }
        at += skipped;
        let word = rest.get(at..at + kw.len())?;
        if !word.eq_ignore_ascii_case(kw)
            || rest
                .as_bytes()
                .get(at + kw.len())
                .is_some_and(|b| is_word_byte(*b))
        {
            return None;
        }
        at += kw.len();
    }
    let skipped = rest[at..].len() - rest[at..].trim_start().len();
    if skipped == 0 {
        return None;
    }
    at += skipped;
    let start = at;
    let b = rest.as_bytes();
    while at < b.len() {
        match b[at] {
            b'`' => {
                at += 1;
                while at < b.len() && b[at] != b'`' {
                    at += 1;
                }
                at += 1;
            }
            c if is_word_byte(c) || c == b'.' || c >= 0x80 => at += 1,
            _ => break,
        }
    }
    let at = at.min(b.len());
    (at > start).then(|| (&rest[start..at], at))
}

pub(crate) fn rewrite_for_parser(sql: &str) -> std::borrow::Cow<'_, str> {
    let upper = sql.to_ascii_uppercase();
    let share_mode = upper.contains("SHARE") && upper.contains("MODE");
    let sequence = upper.contains("VALUE") && upper.contains("FOR");
    if !share_mode && !sequence && !upper.contains("PERSISTENT") {
        return std::borrow::Cow::Borrowed(sql);
    }
    let mut out = String::with_capacity(sql.len());
    let bytes = sql.as_bytes();
    let mut i = 0;
    let mut quote: Option<u8> = None;
    while i < bytes.len() {
        let c = bytes[i];
        if let Some(q) = quote {
            if c == b'\\' && i + 1 < bytes.len() {
                out.push('\\');
                let n = utf8_len(bytes[i + 1]);
                out.push_str(&sql[i + 1..(i + 1 + n).min(sql.len())]);
                i += 1 + n;
                continue;
            }
            if c == q {
                quote = None;
            }
            let n = utf8_len(c);
            out.push_str(&sql[i..(i + n).min(sql.len())]);
            i += n;
            continue;
        }
        if c == b'\'' || c == b'"' || c == b'`' {
            quote = Some(c);
            out.push(c as char);
            i += 1;
            continue;
        }
        if upper[i..].starts_with("LOCK") {
            let rest = &upper[i + 4..];
            let words: Vec<&str> = rest.split_whitespace().take(3).collect();
            if words == ["IN", "SHARE", "MODE"] && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric())
            {
                // Skip to the end of "MODE".
                let mode_at = i + 4 + rest.find("MODE").unwrap_or(0) + 4;
                out.push_str("FOR SHARE");
                i = mode_at;
                continue;
            }
        }
        // MariaDB's `NEXT VALUE FOR s` / `PREVIOUS VALUE FOR s`.
        if sequence && (i == 0 || !is_word_byte(bytes[i - 1])) {
            let mut done = false;
            for (kw, func) in [("NEXT", "NEXTVAL"), ("PREVIOUS", "LASTVAL")] {
                if upper[i..].starts_with(kw)
                    && !bytes.get(i + kw.len()).is_some_and(|b| is_word_byte(*b))
                {
                    if let Some((name, used)) = value_for(&sql[i + kw.len()..]) {
                        // As long as what it replaces, so that positions in
                        // the statement (an unaliased column's name) hold.
                        let pad = (kw.len() + used).saturating_sub(func.len() + name.len() + 2);
                        out.push_str(func);
                        out.push('(');
                        out.push_str(&" ".repeat(pad));
                        out.push_str(name);
                        out.push(')');
                        i += kw.len() + used;
                        done = true;
                        break;
                    }
                }
            }
            if done {
                continue;
            }
        }
        // MariaDB's `AS (expr) PERSISTENT` is STORED.
        if upper[i..].starts_with("PERSISTENT")
            && out.trim_end().ends_with(')')
            && !bytes
                .get(i + 10)
                .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
        {
            out.push_str("STORED");
            i += 10;
            continue;
        }
        // Copy one UTF-8 character.
        let ch_len = utf8_len(c);
        out.push_str(&sql[i..(i + ch_len).min(sql.len())]);
        i += ch_len;
    }
    std::borrow::Cow::Owned(out)
}

fn utf8_len(first: u8) -> usize {
    match first {
        0x00..=0x7F => 1,
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        _ => 4,
    }
}

/// Converts a parsed column type into ours.
/// 1291 when an ENUM or SET lists a member twice (case-insensitively, as
/// the default collation compares them).
fn duplicate_member(members: &[String], column: &str, kind: &str) -> SqlResult<()> {
    for (i, m) in members.iter().enumerate() {
        // MariaDB names the first of the two.
        if let Some(first) = members[..i].iter().find(|p| p.eq_ignore_ascii_case(m)) {
            return Err(SqlError::new(
                1291,
                "HY000",
                format!("Column '{column}' has duplicated value '{first}' in {kind}"),
            ));
        }
    }
    Ok(())
}

pub fn sql_type(dt: &ast::DataType, column: &str) -> SqlResult<SqlType> {
    use ast::DataType as D;
    use trireme_storage::types::IntWidth as W;
    let int = |width, unsigned| Ok(SqlType::Int { width, unsigned });
    let char_len = |l: &Option<ast::CharacterLength>, default: u32| -> SqlResult<u32> {
        match l {
            None => Ok(default),
            Some(ast::CharacterLength::IntegerLength { length, .. }) => {
                u32::try_from(*length).map_err(|_| SqlError::syntax("column length too big"))
            }
            Some(ast::CharacterLength::Max) => Ok(65_535),
        }
    };
    let decimal = |info: &ast::ExactNumberInfo| -> SqlResult<SqlType> {
        let (p, s) = match info {
            ast::ExactNumberInfo::None => (10, 0),
            ast::ExactNumberInfo::Precision(p) => (*p, 0),
            ast::ExactNumberInfo::PrecisionAndScale(p, s) => (*p, (*s).max(0) as u64),
        };
        let (precision, scale) = crate::coerce::check_decimal(p, s, column)?;
        Ok(SqlType::Decimal { precision, scale })
    };
    let fsp = |p: &Option<u64>| -> SqlResult<u8> {
        match p {
            None => Ok(0),
            Some(n) if *n <= 6 => Ok(*n as u8),
            Some(n) => Err(SqlError::new(
                1426,
                "42000",
                format!("Too big precision {n} specified for '{column}'. Maximum is 6."),
            )),
        }
    };
    match dt {
        // TINYINT(1) is how MariaDB writes BOOLEAN, and how ORMs (Rails,
        // SQLAlchemy) tell a boolean column: it keeps its width.
        D::TinyInt(Some(1)) => Ok(SqlType::Bool),
        D::TinyInt(_) => int(W::Tiny, false),
        D::TinyIntUnsigned(_) | D::UTinyInt => int(W::Tiny, true),
        D::SmallInt(_) | D::Int2(_) => int(W::Small, false),
        D::SmallIntUnsigned(_) | D::USmallInt | D::Int2Unsigned(_) => int(W::Small, true),
        D::MediumInt(_) => int(W::Medium, false),
        D::MediumIntUnsigned(_) => int(W::Medium, true),
        D::Int(_) | D::Integer(_) | D::Int4(_) => int(W::Int, false),
        D::IntUnsigned(_) | D::IntegerUnsigned(_) | D::Int4Unsigned(_) => int(W::Int, true),
        D::BigInt(_) | D::Int8(_) => int(W::Big, false),
        D::BigIntUnsigned(_) | D::UBigInt | D::Int8Unsigned(_) => int(W::Big, true),
        D::Bool | D::Boolean => Ok(SqlType::Bool),
        D::Decimal(i) | D::Numeric(i) | D::Dec(i) | D::DecimalUnsigned(i) | D::DecUnsigned(i) => {
            decimal(i)
        }
        D::Float(ast::ExactNumberInfo::Precision(p)) if *p > 24 => Ok(SqlType::Double),
        D::Float(_) | D::FloatUnsigned(_) | D::Real | D::RealUnsigned | D::Float4 => {
            Ok(SqlType::Float)
        }
        D::Double(_)
        | D::DoubleUnsigned(_)
        | D::DoublePrecision
        | D::DoublePrecisionUnsigned
        | D::Float8
        | D::Float64 => Ok(SqlType::Double),
        D::Char(l) | D::Character(l) => Ok(SqlType::Char(char_len(l, 1)?)),
        D::Varchar(l) | D::CharVarying(l) | D::CharacterVarying(l) | D::Nvarchar(l) => match l {
            None => Err(SqlError::syntax("VARCHAR needs a length")),
            _ => Ok(SqlType::Varchar(char_len(l, 0)?)),
        },
        D::TinyText => Ok(SqlType::Text(255)),
        D::Text => Ok(SqlType::Text(65_535)),
        D::MediumText => Ok(SqlType::Text(16_777_215)),
        D::LongText => Ok(SqlType::Text(u32::MAX)),
        // MariaDB's JSON is a LONGTEXT (utf8mb4_bin) checked by JSON_VALID.
        D::JSON => Ok(SqlType::Text(u32::MAX)),
        D::Binary(l) => Ok(SqlType::Binary(l.unwrap_or(1).min(255) as u32)),
        D::Varbinary(l) => match l {
            Some(ast::BinaryLength::IntegerLength { length }) => {
                Ok(SqlType::Varbinary((*length).min(65_535) as u32))
            }
            _ => Err(SqlError::syntax("VARBINARY needs a length")),
        },
        D::TinyBlob => Ok(SqlType::Blob(255)),
        D::Blob(_) => Ok(SqlType::Blob(65_535)),
        D::MediumBlob => Ok(SqlType::Blob(16_777_215)),
        D::LongBlob => Ok(SqlType::Blob(u32::MAX)),
        D::Date => Ok(SqlType::Date),
        D::Datetime(p) => Ok(SqlType::DateTime(fsp(p)?)),
        D::Timestamp(p, _) => Ok(SqlType::Timestamp(fsp(p)?)),
        D::Time(p, _) => Ok(SqlType::Time(fsp(p)?)),
        D::Uuid => Ok(SqlType::Uuid),
        D::Enum(members, _) => {
            let vs: Vec<String> = members
                .iter()
                .map(|m| match m {
                    ast::EnumMember::Name(n) => n.clone(),
                    ast::EnumMember::NamedValue(n, _) => n.clone(),
                })
                .collect();
            if vs.is_empty() {
                return Err(SqlError::syntax("ENUM needs at least one value"));
            }
            duplicate_member(&vs, column, "ENUM")?;
            Ok(SqlType::Enum(vs))
        }
        D::Set(members) => {
            if members.is_empty() {
                return Err(SqlError::syntax("SET needs at least one value"));
            }
            if members.len() > 64 {
                return Err(SqlError::new(
                    1097,
                    "HY000",
                    "Too many strings for column and SET",
                ));
            }
            duplicate_member(members, column, "SET")?;
            Ok(SqlType::Set(members.clone()))
        }
        D::Bit(m) => match m.unwrap_or(1) {
            m @ 1..=64 => Ok(SqlType::Bit(m as u8)),
            // MariaDB takes BIT(0) as BIT(1).
            0 => Ok(SqlType::Bit(1)),
            _ => Err(SqlError::new(
                1439,
                "42000",
                format!("Display width out of range for '{column}' (max = 64)"),
            )),
        },
        D::Custom(name, args)
            if name.to_string().eq_ignore_ascii_case("year")
                && (args.is_empty() || args.len() == 1 && args[0] == "4") =>
        {
            Ok(SqlType::Year)
        }
        other => Err(SqlError::unsupported(format!("column type {other}"))),
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_view_check_option_is_dropped_before_parsing() {
        let v = "CREATE VIEW cheap AS SELECT id FROM p WHERE price < 5 WITH CASCADED CHECK OPTION";
        assert_eq!(
            without_view_check_option(v),
            "CREATE VIEW cheap AS SELECT id FROM p WHERE price < 5 "
        );
        let w = "ALTER VIEW v AS SELECT 1 with check option;";
        assert_eq!(without_view_check_option(w), "ALTER VIEW v AS SELECT 1 ");
        // Only views.
        let q = "SELECT 'WITH CHECK OPTION'";
        assert_eq!(without_view_check_option(q), q);
        assert!(parse(v).is_ok());
    }

    use super::*;

    #[test]
    fn lock_in_share_mode_is_rewritten_outside_quotes() {
        assert_eq!(
            rewrite_for_parser("SELECT 1 FROM t LOCK IN SHARE MODE"),
            "SELECT 1 FROM t FOR SHARE"
        );
        assert_eq!(
            rewrite_for_parser("SELECT 'LOCK IN SHARE MODE'"),
            "SELECT 'LOCK IN SHARE MODE'"
        );
        assert!(parse("SELECT * FROM t WHERE id = 1 LOCK IN SHARE MODE").is_ok());
        let r = rewrite_for_parser("SELECT 'é' FROM t lock  in share  mode");
        assert_eq!(r, "SELECT 'é' FROM t FOR SHARE");
        assert!(parse("SELECT 'é' FROM t lock  in share  mode").is_ok());
    }

    #[test]
    fn mysql_spellings_sqlparser_lacks_are_rewritten() {
        assert_eq!(
            rewrite_leading_words("create schema s character set utf8mb4"),
            "create DATABASE s character set utf8mb4"
        );
        assert_eq!(
            rewrite_leading_words("SET CHARACTER SET utf8mb4"),
            "SET NAMES utf8mb4"
        );
        assert_eq!(
            rewrite_leading_words("set charset 'utf8mb4'"),
            "set NAMES 'utf8mb4'"
        );
        assert_eq!(
            rewrite_leading_words("SET character_set_client = x"),
            "SET character_set_client = x"
        );
        assert_eq!(
            rewrite_leading_words("SELECT 'CREATE SCHEMA'"),
            "SELECT 'CREATE SCHEMA'"
        );
        assert!(parse("CREATE SCHEMA s DEFAULT CHARACTER SET utf8mb4").is_ok());
        assert!(parse("SET CHARACTER SET utf8mb4").is_ok());
        assert!(parse("SET CHARSET DEFAULT").is_ok());
    }

    #[test]
    fn consistent_snapshot_is_stripped_and_detected() {
        assert_eq!(
            rewrite_leading_words("START TRANSACTION /*!40100 WITH CONSISTENT SNAPSHOT */"),
            "START TRANSACTION /*!40100  */"
        );
        assert_eq!(
            rewrite_leading_words("start transaction with consistent snapshot, read only"),
            "start transaction  read only"
        );
        assert_eq!(
            rewrite_leading_words("START TRANSACTION READ ONLY, WITH CONSISTENT SNAPSHOT"),
            "START TRANSACTION READ ONLY"
        );
        assert!(wants_consistent_snapshot(
            "START TRANSACTION /*!40100 WITH CONSISTENT SNAPSHOT */"
        ));
        assert!(!wants_consistent_snapshot("START TRANSACTION READ ONLY"));
        assert!(!wants_consistent_snapshot(
            "START TRANSACTION WITH CONSISTENTSNAPSHOT"
        ));
        for sql in [
            "START TRANSACTION /*!40100 WITH CONSISTENT SNAPSHOT */",
            "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY",
            "START TRANSACTION READ WRITE, WITH CONSISTENT SNAPSHOT",
        ] {
            assert!(
                matches!(
                    parse(sql).as_deref(),
                    Ok([Statement::StartTransaction { .. }])
                ),
                "{sql}"
            );
        }
    }

    #[test]
    fn parse_errors_are_1064() {
        let e = parse("SELEC 1").unwrap_err();
        assert_eq!(e.code, 1064);
        assert_eq!(e.state, "42000");
    }
}
