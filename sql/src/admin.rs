//! Splitting a COM_QUERY text into statements, and the MySQL administrative
//! statements sqlparser does not parse (account management, SHOW INDEX,
//! SHOW TABLE STATUS, SHOW WARNINGS, CHECKSUM TABLE, ...), parsed here with
//! a small lexer.

use crate::error::{SqlError, SqlResult};
use trireme_storage::types::{IntWidth, SqlType};

/// One statement of a query text, with its own text (DDL is replicated as
/// text, so each node parses exactly what the client sent).
#[derive(Clone, Debug)]
pub struct StmtText {
    pub text: String,
}

/// Splits on `;` outside quotes and comments. Empty statements are dropped.
pub fn split_statements(sql: &str) -> Vec<StmtText> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            q @ (b'\'' | b'"' | b'`') => {
                i += 1;
                while i < b.len() {
                    if b[i] == b'\\' && q != b'`' {
                        i += 2;
                        continue;
                    }
                    if b[i] == q {
                        if i + 1 < b.len() && b[i + 1] == q {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                i += 1;
            }
            b'-' if b.get(i + 1) == Some(&b'-')
                && b.get(i + 2).is_none_or(|c| c.is_ascii_whitespace()) =>
            {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                    i += 1;
                }
                i += 2;
            }
            b';' => {
                push_stmt(&mut out, &sql[start..i]);
                i += 1;
                start = i;
            }
            _ => i += 1,
        }
    }
    if start < sql.len() {
        push_stmt(&mut out, &sql[start.min(sql.len())..]);
    }
    out
}

fn push_stmt(out: &mut Vec<StmtText>, s: &str) {
    let t = s.trim();
    if !t.is_empty() && !is_only_comments(t) {
        out.push(StmtText {
            text: t.to_string(),
        });
    }
}

fn is_only_comments(s: &str) -> bool {
    let toks = lex(s);
    toks.is_empty()
}

/// A token of the administrative-statement lexer.
#[derive(Clone, Debug, PartialEq)]
pub enum Tok {
    Word(String),
    Str(String),
    Sym(char),
    Num(String),
}

impl Tok {
    fn is_kw(&self, kw: &str) -> bool {
        matches!(self, Tok::Word(w) if w.eq_ignore_ascii_case(kw))
    }
}

/// A forgiving lexer: words, quoted strings/identifiers, numbers, symbols;
/// comments are skipped (`/*! ... */` version comments are read as SQL).
pub fn lex(s: &str) -> Vec<Tok> {
    let b: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '#' || (c == '-' && b.get(i + 1) == Some(&'-')) {
            while i < b.len() && b[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && b.get(i + 1) == Some(&'*') {
            if b.get(i + 2) == Some(&'!') {
                // Executable comment: skip the marker and version digits.
                i += 3;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                continue;
            }
            i += 2;
            while i + 1 < b.len() && !(b[i] == '*' && b[i + 1] == '/') {
                i += 1;
            }
            i += 2;
        } else if c == '*' && b.get(i + 1) == Some(&'/') {
            i += 2;
        } else if c == '\'' || c == '"' || c == '`' {
            let q = c;
            let mut v = String::new();
            i += 1;
            while i < b.len() {
                if b[i] == '\\' && q != '`' && i + 1 < b.len() {
                    v.push(match b[i + 1] {
                        'n' => '\n',
                        't' => '\t',
                        '0' => '\0',
                        other => other,
                    });
                    i += 2;
                    continue;
                }
                if b[i] == q {
                    if b.get(i + 1) == Some(&q) {
                        v.push(q);
                        i += 2;
                        continue;
                    }
                    break;
                }
                v.push(b[i]);
                i += 1;
            }
            i += 1;
            out.push(if q == '`' { Tok::Word(v) } else { Tok::Str(v) });
        } else if c.is_ascii_digit() {
            let st = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == '.') {
                i += 1;
            }
            out.push(Tok::Num(b[st..i].iter().collect()));
        } else if c.is_alphanumeric() || c == '_' || c == '$' {
            let st = i;
            while i < b.len() && (b[i].is_alphanumeric() || b[i] == '_' || b[i] == '$') {
                i += 1;
            }
            out.push(Tok::Word(b[st..i].iter().collect()));
        } else {
            out.push(Tok::Sym(c));
            i += 1;
        }
    }
    out
}

/// An account name `'user'@'host'`.
#[derive(Clone, Debug, PartialEq)]
pub struct Account {
    pub user: String,
    pub host: String,
}

/// A metadata-only ALTER TABLE (see `Admin::AlterTableMeta`).
#[derive(Clone, Debug, PartialEq)]
pub enum MetaChange {
    Comment(String),
    RenameIndex {
        from: String,
        to: String,
    },
    /// `ALTER TABLE t ENGINE = InnoDB, CONVERT TO CHARACTER SET ...`.
    Options(Vec<TableOption>),
}

/// A table option ALTER TABLE may change on its own.
#[derive(Clone, Debug, PartialEq)]
pub enum TableOption {
    /// ENGINE = x: trireme has one engine; a known name changes nothing.
    Engine(String),
    Comment(String),
    AutoIncrement(u64),
    /// [DEFAULT] CHARACTER SET / COLLATE: the default of columns added
    /// later.
    Default {
        charset: Option<String>,
        collation: Option<String>,
    },
    /// CONVERT TO CHARACTER SET cs [COLLATE c]: the default and every
    /// character column.
    Convert {
        charset: String,
        collation: Option<String>,
    },
    /// ROW_FORMAT, STATS_*, ...: InnoDB storage hints with no meaning here.
    Ignored,
}

/// Administrative statements parsed here.
#[derive(Clone, Debug, PartialEq)]
pub enum Admin {
    CreateUser {
        if_not_exists: bool,
        users: Vec<(Account, Option<String>)>,
    },
    DropUser {
        if_exists: bool,
        users: Vec<Account>,
    },
    AlterUser {
        if_exists: bool,
        users: Vec<(Account, Option<String>)>,
    },
    SetPassword {
        user: Option<Account>,
        password: String,
    },
    /// GRANT / REVOKE: accepted; trireme does not enforce privileges.
    Grant,
    /// XA RECOVER: the prepared XA transactions, always none (trireme has
    /// no XA PREPARE); transaction managers ask at start-up.
    XaRecover,
    ChecksumTable(Vec<(Option<String>, String)>),
    /// CREATE [OR REPLACE] SEQUENCE [IF NOT EXISTS] name [options]:
    /// replicated as TOI (`sequence`).
    CreateSequence {
        name: (Option<String>, String),
        or_replace: bool,
        if_not_exists: bool,
        options: crate::sequence::Options,
    },
    DropSequence {
        if_exists: bool,
        names: Vec<(Option<String>, String)>,
    },
    ShowCreateSequence((Option<String>, String)),
    /// ANALYZE / OPTIMIZE / CHECK / REPAIR TABLE: a row per outcome, as
    /// MariaDB reports them (`show::table_maintenance`).
    TableMaintenance {
        op: Maintenance,
        tables: Vec<(Option<String>, String)>,
    },
    /// `ALTER TABLE t DISABLE KEYS` / `ENABLE KEYS`, which dump files wrap
    /// around their INSERTs: secondary indexes are always maintained, so
    /// this only checks the table and leaves a note, as InnoDB does.
    AlterTableKeys {
        db: Option<String>,
        table: String,
    },
    /// ALTER TABLE changes sqlparser does not parse: `COMMENT [=] '...'`
    /// and `RENAME {INDEX|KEY} a TO b`. Replicated as TOI like any ALTER.
    AlterTableMeta {
        db: Option<String>,
        table: String,
        change: MetaChange,
    },
    ShowIndex {
        db: Option<String>,
        table: String,
    },
    ShowTableStatus {
        db: Option<String>,
        like: Option<String>,
    },
    ShowWarnings,
    ShowErrors,
    ShowEngines,
    ShowGrants,
    ShowCreateDatabase {
        name: String,
        /// `SHOW CREATE DATABASE IF NOT EXISTS` (mysqldump's spelling) puts
        /// the clause into the statement it returns.
        if_not_exists: bool,
    },
    ShowCharset {
        like: Option<String>,
    },
}

struct P {
    t: Vec<Tok>,
    i: usize,
}

impl P {
    fn peek(&self) -> Option<&Tok> {
        self.t.get(self.i)
    }
    fn kw(&mut self, kw: &str) -> bool {
        if self.peek().is_some_and(|t| t.is_kw(kw)) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn sym(&mut self, c: char) -> bool {
        if self.peek() == Some(&Tok::Sym(c)) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn name(&mut self) -> SqlResult<String> {
        match self.t.get(self.i).cloned() {
            Some(Tok::Word(w)) | Some(Tok::Str(w)) => {
                self.i += 1;
                Ok(w)
            }
            other => Err(SqlError::syntax(format!("expected a name near {other:?}"))),
        }
    }
    fn string(&mut self) -> SqlResult<String> {
        match self.t.get(self.i).cloned() {
            Some(Tok::Str(s)) => {
                self.i += 1;
                Ok(s)
            }
            other => Err(SqlError::syntax(format!(
                "expected a string near {other:?}"
            ))),
        }
    }
    fn account(&mut self) -> SqlResult<Account> {
        let user = self.name()?;
        let host = if self.sym('@') {
            self.name()?
        } else {
            "%".to_string()
        };
        Ok(Account { user, host })
    }
    /// `db.table` or `table`.
    fn table(&mut self) -> SqlResult<(Option<String>, String)> {
        let a = self.name()?;
        if self.sym('.') {
            let b = self.name()?;
            Ok((Some(a), b))
        } else {
            Ok((None, a))
        }
    }
    fn done(&self) -> bool {
        self.i >= self.t.len()
    }
    /// A whole ALTER TABLE made only of table options (separated by
    /// commas or blanks); None when anything else is there (sqlparser's).
    fn table_options(&mut self) -> SqlResult<Option<Vec<TableOption>>> {
        let mut out = Vec::new();
        while !self.done() {
            if self.sym(',') {
                continue;
            }
            let default = self.kw("DEFAULT");
            let opt = if self.kw("ENGINE") {
                self.sym('=');
                TableOption::Engine(self.name()?)
            } else if self.kw("CHARSET") || (self.kw("CHARACTER") && self.kw("SET")) {
                self.sym('=');
                let charset = Some(self.name()?);
                let collation = if self.kw("COLLATE") {
                    self.sym('=');
                    Some(self.name()?)
                } else {
                    None
                };
                TableOption::Default { charset, collation }
            } else if self.kw("COLLATE") {
                self.sym('=');
                TableOption::Default {
                    charset: None,
                    collation: Some(self.name()?),
                }
            } else if default {
                return Ok(None);
            } else if self.kw("CONVERT") {
                if !(self.kw("TO")
                    && (self.kw("CHARSET") || (self.kw("CHARACTER") && self.kw("SET"))))
                {
                    return Ok(None);
                }
                let charset = self.name()?;
                let collation = if self.kw("COLLATE") {
                    Some(self.name()?)
                } else {
                    None
                };
                TableOption::Convert { charset, collation }
            } else if self.kw("COMMENT") {
                self.sym('=');
                TableOption::Comment(self.string()?)
            } else if self.kw("AUTO_INCREMENT") {
                self.sym('=');
                match self.t.get(self.i).cloned() {
                    Some(Tok::Num(n)) => {
                        self.i += 1;
                        let n = n.parse().map_err(|_| {
                            SqlError::syntax(format!("bad AUTO_INCREMENT value {n}"))
                        })?;
                        TableOption::AutoIncrement(n)
                    }
                    _ => return Ok(None),
                }
            } else if [
                "ROW_FORMAT",
                "STATS_PERSISTENT",
                "STATS_AUTO_RECALC",
                "STATS_SAMPLE_PAGES",
                "PACK_KEYS",
                "CHECKSUM",
                "DELAY_KEY_WRITE",
                "KEY_BLOCK_SIZE",
                "PAGE_CHECKSUM",
                "TRANSACTIONAL",
            ]
            .iter()
            .any(|k| self.kw(k))
            {
                self.sym('=');
                match self.t.get(self.i) {
                    Some(Tok::Word(_) | Tok::Num(_) | Tok::Str(_)) => self.i += 1,
                    _ => return Ok(None),
                }
                TableOption::Ignored
            } else {
                return Ok(None);
            };
            out.push(opt);
        }
        Ok((!out.is_empty()).then_some(out))
    }
    fn expect_end(&self) -> SqlResult<()> {
        if self.done() {
            Ok(())
        } else {
            Err(SqlError::syntax(format!(
                "unexpected {:?} at the end of the statement",
                self.t[self.i]
            )))
        }
    }
    /// The rest of SHOW INDEX: `FROM [db.]table [FROM db]`.
    fn show_index(&mut self) -> SqlResult<Admin> {
        if !(self.kw("FROM") || self.kw("IN")) {
            return Err(SqlError::syntax("expected FROM"));
        }
        let (mut db, table) = self.table()?;
        if self.kw("FROM") || self.kw("IN") {
            db = Some(self.name()?);
        }
        Ok(Admin::ShowIndex { db, table })
    }

    /// A signed integer literal.
    fn int(&mut self) -> SqlResult<i64> {
        let neg = self.sym('-');
        let _ = !neg && self.sym('+');
        match self.t.get(self.i).cloned() {
            Some(Tok::Num(n)) => {
                self.i += 1;
                let v: i128 = n
                    .parse()
                    .map_err(|_| SqlError::syntax(format!("expected an integer near {n}")))?;
                let v = if neg { -v } else { v };
                i64::try_from(v).map_err(|_| SqlError::syntax(format!("{v} is out of range")))
            }
            other => Err(SqlError::syntax(format!(
                "expected an integer near {other:?}"
            ))),
        }
    }

    /// CREATE SEQUENCE's options, in any order; ENGINE and other table
    /// options are accepted and change nothing.
    fn sequence_options(&mut self) -> SqlResult<crate::sequence::Options> {
        let mut o = crate::sequence::Options::default();
        while !self.done() {
            if self.kw("START") {
                let _ = self.kw("WITH") || self.sym('=');
                o.start = Some(self.int()?);
            } else if self.kw("INCREMENT") {
                let _ = self.kw("BY") || self.sym('=');
                o.increment = Some(self.int()?);
            } else if self.kw("MINVALUE") {
                let _ = self.sym('=');
                o.min = Some(self.int()?);
            } else if self.kw("MAXVALUE") {
                let _ = self.sym('=');
                o.max = Some(self.int()?);
            } else if self.kw("NO") {
                if !(self.kw("MINVALUE")
                    || self.kw("MAXVALUE")
                    || self.kw("CACHE")
                    || self.kw("CYCLE"))
                {
                    return Err(SqlError::syntax(
                        "expected MINVALUE, MAXVALUE, CACHE or CYCLE after NO",
                    ));
                }
            } else if self.kw("NOMINVALUE") || self.kw("NOMAXVALUE") || self.kw("NOCYCLE") {
            } else if self.kw("NOCACHE") {
                o.cache = Some(0);
            } else if self.kw("CACHE") {
                let _ = self.sym('=');
                o.cache = Some(self.int()?.max(0) as u64);
            } else if self.kw("CYCLE") {
                o.cycle = true;
            } else if self.kw("ENGINE") || self.kw("COMMENT") {
                let _ = self.sym('=');
                self.name()?;
            } else {
                return Err(SqlError::syntax(format!(
                    "unexpected {:?} in CREATE SEQUENCE",
                    self.t[self.i]
                )));
            }
            let _ = self.sym(',');
        }
        Ok(o)
    }

    fn identified(&mut self) -> SqlResult<Option<String>> {
        if self.kw("IDENTIFIED") {
            if self.kw("WITH") {
                // IDENTIFIED WITH plugin [BY 'pw']
                self.name()?;
            }
            if self.kw("BY") {
                return Ok(Some(self.string()?));
            }
            return Err(SqlError::unsupported("IDENTIFIED without BY"));
        }
        Ok(None)
    }
}

/// The table maintenance statements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Maintenance {
    Analyze,
    Optimize,
    Check,
    Repair,
}

impl Maintenance {
    /// The `Op` column of the result.
    pub fn op_name(self) -> &'static str {
        match self {
            Maintenance::Analyze => "analyze",
            Maintenance::Optimize => "optimize",
            Maintenance::Check => "check",
            Maintenance::Repair => "repair",
        }
    }
}

/// Parses `text` if it is one of the administrative statements above.
/// XA RECOVER's answer: MariaDB's columns, no rows.
pub fn xa_recover() -> crate::Output {
    let big = || {
        Some(SqlType::Int {
            width: IntWidth::Big,
            unsigned: false,
        })
    };
    crate::Output::Rows {
        columns: vec![
            crate::OutCol::expr("formatID", big(), false),
            crate::OutCol::expr("gtrid_length", big(), false),
            crate::OutCol::expr("bqual_length", big(), false),
            crate::OutCol::expr("data", Some(SqlType::Varbinary(128)), false),
        ],
        rows: Vec::new(),
    }
}

pub fn parse_admin(text: &str) -> SqlResult<Option<Admin>> {
    let t = lex(text);
    let mut p = P { t, i: 0 };
    let first = match p.peek() {
        Some(Tok::Word(w)) => w.to_ascii_uppercase(),
        _ => return Ok(None),
    };
    let second = match p.t.get(1) {
        Some(Tok::Word(w)) => w.to_ascii_uppercase(),
        _ => String::new(),
    };
    let third = match p.t.get(2) {
        Some(Tok::Word(w)) => w.to_ascii_uppercase(),
        _ => String::new(),
    };
    let stmt = match (first.as_str(), second.as_str()) {
        ("CREATE", "USER") | ("ALTER", "USER") => {
            p.i = 2;
            let mut if_flag = false;
            if p.kw("IF") {
                if first == "CREATE" {
                    if !(p.kw("NOT") && p.kw("EXISTS")) {
                        return Err(SqlError::syntax("expected IF NOT EXISTS"));
                    }
                } else if !p.kw("EXISTS") {
                    return Err(SqlError::syntax("expected IF EXISTS"));
                }
                if_flag = true;
            }
            let mut users = Vec::new();
            loop {
                let a = p.account()?;
                let pw = p.identified()?;
                users.push((a, pw));
                if !p.sym(',') {
                    break;
                }
            }
            // Trailing options (REQUIRE, WITH, PASSWORD EXPIRE, ...) are
            // ignored, as they have no effect here.
            if first == "CREATE" {
                Admin::CreateUser {
                    if_not_exists: if_flag,
                    users,
                }
            } else {
                Admin::AlterUser {
                    if_exists: if_flag,
                    users,
                }
            }
        }
        ("DROP", "USER") => {
            p.i = 2;
            let if_exists = p.kw("IF") && p.kw("EXISTS");
            let mut users = Vec::new();
            loop {
                users.push(p.account()?);
                if !p.sym(',') {
                    break;
                }
            }
            p.expect_end()?;
            Admin::DropUser { if_exists, users }
        }
        ("SET", "PASSWORD") => {
            p.i = 2;
            let user = if p.kw("FOR") {
                Some(p.account()?)
            } else {
                None
            };
            if !p.sym('=') {
                return Err(SqlError::syntax("expected = in SET PASSWORD"));
            }
            let password = if p.kw("PASSWORD") {
                p.sym('(');
                let s = p.string()?;
                p.sym(')');
                s
            } else {
                p.string()?
            };
            p.expect_end()?;
            Admin::SetPassword { user, password }
        }
        ("GRANT", _) | ("REVOKE", _) => Admin::Grant,
        ("XA", "RECOVER") => {
            p.i = 2;
            // FORMAT='SQL' only changes how XIDs print, and there are none.
            if p.kw("FORMAT") {
                p.sym('=');
                p.string()?;
            }
            p.expect_end()?;
            Admin::XaRecover
        }
        ("ANALYZE" | "OPTIMIZE" | "CHECK" | "REPAIR", _)
            if matches!(second.as_str(), "TABLE" | "TABLES")
                || (matches!(second.as_str(), "NO_WRITE_TO_BINLOG" | "LOCAL")
                    && matches!(third.as_str(), "TABLE" | "TABLES")) =>
        {
            let op = match first.as_str() {
                "ANALYZE" => Maintenance::Analyze,
                "OPTIMIZE" => Maintenance::Optimize,
                "CHECK" => Maintenance::Check,
                _ => Maintenance::Repair,
            };
            p.i = if matches!(second.as_str(), "TABLE" | "TABLES") {
                2
            } else {
                3
            };
            let mut tables = Vec::new();
            loop {
                tables.push(p.table()?);
                if !p.sym(',') {
                    break;
                }
            }
            // The options change nothing here: every table is checked
            // whole, and there are no engine statistics to collect.
            let options: &[&str] = match op {
                Maintenance::Check => &[
                    "FOR", "UPGRADE", "QUICK", "FAST", "MEDIUM", "EXTENDED", "CHANGED",
                ],
                Maintenance::Repair => &["QUICK", "EXTENDED", "USE_FRM"],
                Maintenance::Analyze => &["PERSISTENT", "FOR", "ALL"],
                Maintenance::Optimize => &[],
            };
            while options.iter().any(|o| p.kw(o)) {}
            p.expect_end()?;
            Admin::TableMaintenance { op, tables }
        }
        ("CREATE", "SEQUENCE") | ("CREATE", "OR")
            if second == "SEQUENCE"
                || (third == "REPLACE" && matches!(p.t.get(3), Some(t) if t.is_kw("SEQUENCE"))) =>
        {
            let or_replace = second == "OR";
            p.i = if or_replace { 4 } else { 2 };
            let if_not_exists = if p.kw("IF") {
                if !(p.kw("NOT") && p.kw("EXISTS")) {
                    return Err(SqlError::syntax("expected IF NOT EXISTS"));
                }
                true
            } else {
                false
            };
            let name = p.table()?;
            let options = p.sequence_options()?;
            p.expect_end()?;
            Admin::CreateSequence {
                name,
                or_replace,
                if_not_exists,
                options,
            }
        }
        ("DROP", "SEQUENCE") => {
            p.i = 2;
            let if_exists = if p.kw("IF") {
                if !p.kw("EXISTS") {
                    return Err(SqlError::syntax("expected IF EXISTS"));
                }
                true
            } else {
                false
            };
            let mut names = Vec::new();
            loop {
                names.push(p.table()?);
                if !p.sym(',') {
                    break;
                }
            }
            p.expect_end()?;
            Admin::DropSequence { if_exists, names }
        }
        ("SHOW", "CREATE") if third == "SEQUENCE" => {
            p.i = 3;
            let name = p.table()?;
            p.expect_end()?;
            Admin::ShowCreateSequence(name)
        }
        ("CHECKSUM", "TABLE") | ("CHECKSUM", "TABLES") => {
            p.i = 2;
            let mut tables = Vec::new();
            loop {
                tables.push(p.table()?);
                if !p.sym(',') {
                    break;
                }
            }
            // QUICK / EXTENDED make no difference here.
            let _ = p.kw("QUICK") || p.kw("EXTENDED");
            p.expect_end()?;
            Admin::ChecksumTable(tables)
        }
        ("SHOW", "INDEX") | ("SHOW", "INDEXES") | ("SHOW", "KEYS") => {
            p.i = 2;
            p.show_index()?
        }
        ("SHOW", "EXTENDED") if matches!(third.as_str(), "INDEX" | "INDEXES" | "KEYS") => {
            p.i = 3;
            p.show_index()?
        }
        ("SHOW", "TABLE") if third == "STATUS" => {
            p.i = 3;
            let db = if p.kw("FROM") || p.kw("IN") {
                Some(p.name()?)
            } else {
                None
            };
            let like = if p.kw("LIKE") {
                Some(p.string()?)
            } else {
                None
            };
            Admin::ShowTableStatus { db, like }
        }
        ("SHOW", "WARNINGS") => Admin::ShowWarnings,
        ("SHOW", "ERRORS") => Admin::ShowErrors,
        ("SHOW", "ENGINES") | ("SHOW", "STORAGE") => Admin::ShowEngines,
        ("SHOW", "GRANTS") => Admin::ShowGrants,
        ("SHOW", "CHARSET") | ("SHOW", "CHARACTER") => {
            p.i = if second == "CHARACTER" { 3 } else { 2 };
            let like = if p.kw("LIKE") {
                Some(p.string()?)
            } else {
                None
            };
            Admin::ShowCharset { like }
        }
        ("SHOW", "CREATE") if third == "DATABASE" || third == "SCHEMA" => {
            p.i = 3;
            let if_not_exists = p.kw("IF") && p.kw("NOT") && p.kw("EXISTS");
            Admin::ShowCreateDatabase {
                name: p.name()?,
                if_not_exists,
            }
        }
        ("ALTER", "TABLE") => {
            p.i = 2;
            let (db, table) = p.table()?;
            let at = p.i;
            if p.kw("COMMENT") {
                p.sym('=');
                let comment = p.string()?;
                if !p.done() {
                    return Ok(None);
                }
                return Ok(Some(Admin::AlterTableMeta {
                    db,
                    table,
                    change: MetaChange::Comment(comment),
                }));
            }
            p.i = at;
            if p.kw("RENAME") && (p.kw("INDEX") || p.kw("KEY")) {
                let from = p.name()?;
                if !p.kw("TO") {
                    return Err(SqlError::syntax("expected TO after RENAME INDEX <name>"));
                }
                let to = p.name()?;
                if !p.done() {
                    return Ok(None);
                }
                return Ok(Some(Admin::AlterTableMeta {
                    db,
                    table,
                    change: MetaChange::RenameIndex { from, to },
                }));
            }
            p.i = at;
            if let Some(options) = p.table_options()? {
                return Ok(Some(Admin::AlterTableMeta {
                    db,
                    table,
                    change: MetaChange::Options(options),
                }));
            }
            p.i = at;
            if !((p.kw("DISABLE") || p.kw("ENABLE")) && p.kw("KEYS") && p.done()) {
                // Any other ALTER TABLE is sqlparser's.
                return Ok(None);
            }
            Admin::AlterTableKeys { db, table }
        }
        _ => return Ok(None),
    };
    Ok(Some(stmt))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_outside_quotes_and_comments() {
        let v = split_statements("SELECT 'a;b'; SELECT \"c;\" -- x;y\n; /* ; */ SELECT 3;;");
        let texts: Vec<&str> = v.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(
            texts,
            vec!["SELECT 'a;b'", "SELECT \"c;\" -- x;y", "/* ; */ SELECT 3"]
        );
        assert!(split_statements("  ;  -- only a comment").is_empty());
    }

    #[test]
    fn parses_xa_recover() {
        assert_eq!(parse_admin("XA RECOVER").unwrap(), Some(Admin::XaRecover));
        assert_eq!(
            parse_admin("xa recover format='SQL'").unwrap(),
            Some(Admin::XaRecover)
        );
        assert!(parse_admin("XA RECOVER junk").is_err());
    }

    #[test]
    fn parses_account_statements() {
        assert_eq!(
            parse_admin("CREATE USER IF NOT EXISTS 'sb'@'%' IDENTIFIED BY 'pw'").unwrap(),
            Some(Admin::CreateUser {
                if_not_exists: true,
                users: vec![(
                    Account {
                        user: "sb".into(),
                        host: "%".into()
                    },
                    Some("pw".into())
                )]
            })
        );
        assert!(matches!(
            parse_admin("DROP USER 'x'@'localhost', y").unwrap(),
            Some(Admin::DropUser { users, .. }) if users.len() == 2
        ));
        assert!(matches!(
            parse_admin("SET PASSWORD FOR root = 'n'").unwrap(),
            Some(Admin::SetPassword { password, .. }) if password == "n"
        ));
        assert!(parse_admin("SELECT 1").unwrap().is_none());
        assert_eq!(
            parse_admin("CHECKSUM TABLE d.t, u").unwrap(),
            Some(Admin::ChecksumTable(vec![
                (Some("d".into()), "t".into()),
                (None, "u".into())
            ]))
        );
        assert!(parse_admin("DROP USER").is_err());
    }
}
