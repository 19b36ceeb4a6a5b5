//! The corpus: `.sql` files, one per feature area, split into statements.
//!
//! Format (see `tests/corpus/README.md`):
//! - a statement ends with `;` at the end of a line (trailing blanks
//!   ignored); it may span lines;
//! - a line starting with `--` is a comment (also inside a statement);
//! - a comment line `-- @word` or `-- @word: argument` is a directive for
//!   the next statement: `@sort` (compare rows as a multiset even with
//!   ORDER BY), `@ordered` (compare rows in order even without ORDER BY),
//!   `@same-node` (cluster mode: run on the node of the previous
//!   statement), `@allow: <key>` (a documented deviation, see
//!   `tests/corpus/ALLOWED.md`).
//!
//! Each statement gets a stable id: 12 hex digits of the FNV-1a hash of its
//! text with whitespace runs collapsed, plus `~N` for the N-th repetition
//! of the same text in the file (N >= 2). Editing one statement changes
//! only its own id.

use std::path::Path;

use anyhow::{bail, Context};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Directives {
    pub sort: bool,
    pub ordered: bool,
    pub same_node: bool,
    pub allow: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Statement {
    /// Stable id (see the module doc).
    pub id: String,
    /// 1-based ordinal in the file.
    pub ordinal: usize,
    /// 1-based line of the statement's first line.
    pub line: usize,
    /// The text sent to the servers (without the final `;`).
    pub sql: String,
    pub directives: Directives,
}

impl Statement {
    /// Whether rows are compared in order: the statement has a top-level
    /// ORDER BY (or `@ordered`), and no `@sort`.
    pub fn ordered(&self) -> bool {
        if self.directives.sort {
            return false;
        }
        self.directives.ordered || has_top_level_order_by(&self.sql)
    }

    /// A one-line excerpt for reports.
    pub fn excerpt(&self, max: usize) -> String {
        let one: String = collapse_ws(&self.sql);
        if one.chars().count() <= max {
            one
        } else {
            let mut s: String = one.chars().take(max.saturating_sub(3)).collect();
            s.push_str("...");
            s
        }
    }
}

/// One corpus file.
#[derive(Clone, Debug)]
pub struct CorpusFile {
    /// The file name without `.sql` (also names the expectations file and
    /// the database `sqldiff_<stem>`).
    pub stem: String,
    pub statements: Vec<Statement>,
}

impl CorpusFile {
    pub fn database(&self) -> String {
        let clean: String = self
            .stem
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .collect();
        format!("sqldiff_{clean}")
    }
}

/// Every `*.sql` file directly in `dir`, sorted by name.
pub fn load_dir(dir: &Path) -> anyhow::Result<Vec<CorpusFile>> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("reading corpus directory {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().and_then(|x| x.to_str()) == Some("sql"))
        .collect();
    paths.sort();
    if paths.is_empty() {
        bail!("no .sql files in {}", dir.display());
    }
    paths.iter().map(|p| load_file(p)).collect()
}

pub fn load_file(path: &Path) -> anyhow::Result<CorpusFile> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .context("corpus file name")?
        .to_string();
    let statements = parse(&text).with_context(|| format!("parsing {}", path.display()))?;
    Ok(CorpusFile { stem, statements })
}

/// Splits a corpus file's text into statements.
pub fn parse(text: &str) -> anyhow::Result<Vec<Statement>> {
    let mut out: Vec<Statement> = Vec::new();
    let mut pending = Directives::default();
    let mut buf: Vec<&str> = Vec::new();
    let mut start_line = 0;
    let mut seen: std::collections::HashMap<String, usize> = Default::default();
    for (i, raw) in text.lines().enumerate() {
        let lineno = i + 1;
        let trimmed = raw.trim();
        if trimmed.starts_with("--") {
            if let Some(d) = trimmed.strip_prefix("--").map(str::trim) {
                if let Some(d) = d.strip_prefix('@') {
                    if !buf.is_empty() {
                        bail!("line {lineno}: directive inside a statement");
                    }
                    apply_directive(&mut pending, d)
                        .with_context(|| format!("line {lineno}: directive `{trimmed}`"))?;
                }
            }
            continue;
        }
        if trimmed.is_empty() && buf.is_empty() {
            continue;
        }
        if buf.is_empty() {
            start_line = lineno;
        }
        let right = raw.trim_end();
        if let Some(last) = right.strip_suffix(';') {
            buf.push(last);
            let sql = buf.join("\n").trim().to_string();
            buf.clear();
            if sql.is_empty() {
                bail!("line {lineno}: empty statement");
            }
            let key = collapse_ws(&sql);
            let n = seen.entry(key.clone()).or_insert(0);
            *n += 1;
            let mut id = format!("{:012x}", fnv1a(key.as_bytes()) & 0xffff_ffff_ffff);
            if *n > 1 {
                id.push_str(&format!("~{n}"));
            }
            out.push(Statement {
                id,
                ordinal: out.len() + 1,
                line: start_line,
                sql,
                directives: std::mem::take(&mut pending),
            });
        } else {
            buf.push(raw);
        }
    }
    if !buf.is_empty() {
        bail!("statement starting at line {start_line} has no final `;`");
    }
    if pending != Directives::default() {
        bail!("directive at the end of the file applies to no statement");
    }
    Ok(out)
}

fn apply_directive(d: &mut Directives, text: &str) -> anyhow::Result<()> {
    let (word, arg) = match text.split_once(':') {
        Some((w, a)) => (w.trim(), Some(a.trim())),
        None => (text.trim(), None),
    };
    match (word, arg) {
        ("sort", None) => d.sort = true,
        ("ordered", None) => d.ordered = true,
        ("same-node", None) => d.same_node = true,
        ("allow", Some(k)) if !k.is_empty() => d.allow = Some(k.to_string()),
        _ => bail!("unknown directive (known: @sort, @ordered, @same-node, @allow: <key>)"),
    }
    Ok(())
}

/// 64-bit FNV-1a: stable across platforms and Rust versions.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

pub fn collapse_ws(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The statement's words outside string literals, quoted identifiers and
/// comments, each with its parenthesis depth, upper-cased. Enough for
/// classification; not a SQL parser.
pub fn top_words(sql: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let b: Vec<char> = sql.chars().collect();
    let mut i = 0;
    let mut depth: usize = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            '\'' | '"' | '`' => {
                let q = c;
                i += 1;
                while i < b.len() {
                    if b[i] == '\\' && q != '`' {
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
            '(' => {
                depth += 1;
                i += 1;
            }
            ')' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            '-' if b.get(i + 1) == Some(&'-') => {
                while i < b.len() && b[i] != '\n' {
                    i += 1;
                }
            }
            '#' => {
                while i < b.len() && b[i] != '\n' {
                    i += 1;
                }
            }
            '/' if b.get(i + 1) == Some(&'*') => {
                i += 2;
                while i + 1 < b.len() && !(b[i] == '*' && b[i + 1] == '/') {
                    i += 1;
                }
                i += 2;
            }
            c if c.is_alphanumeric() || c == '_' || c == '@' => {
                let s = i;
                while i < b.len() && (b[i].is_alphanumeric() || b[i] == '_' || b[i] == '@') {
                    i += 1;
                }
                let w: String = b[s..i].iter().collect::<String>().to_ascii_uppercase();
                out.push((depth, w));
            }
            _ => i += 1,
        }
    }
    out
}

/// Whether `ORDER BY` appears outside any parentheses (a statement wholly
/// wrapped in parentheses counts its outermost level).
pub fn has_top_level_order_by(sql: &str) -> bool {
    let words = top_words(sql);
    let base = words.iter().map(|(d, _)| *d).min().unwrap_or(0);
    words
        .windows(2)
        .any(|w| w[0].0 == base && w[1].0 == base && w[0].1 == "ORDER" && w[1].1 == "BY")
}

/// What a statement does to the session, for routing in cluster mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Session state only (SET without GLOBAL, USE, PREPARE, DEALLOCATE,
    /// `SELECT @v := ...`): run on every node's session.
    Session,
    /// BEGIN / START TRANSACTION / LOCK TABLES / `SET autocommit = 0`:
    /// pins the following statements to this node.
    Begin,
    /// COMMIT / ROLLBACK / UNLOCK TABLES / `SET autocommit = 1`: unpins after it.
    End,
    /// Reads the previous statement's session-local results (warnings,
    /// LAST_INSERT_ID, ROW_COUNT, FOUND_ROWS, temporary tables): the node of
    /// the previous statement.
    SameNode,
    /// INSERT / REPLACE (they allocate AUTO_INCREMENT values, which in a
    /// cluster depend on the node's auto_increment_offset) and temporary
    /// tables (session-local): always the first node.
    First,
    /// Anything else: spread round-robin.
    Other,
}

pub fn classify(sql: &str) -> Kind {
    let words = top_words(sql);
    let w: Vec<&str> = words.iter().map(|(_, w)| w.as_str()).collect();
    let upper = sql.to_ascii_uppercase();
    let first = w.first().copied().unwrap_or("");
    let second = w.get(1).copied().unwrap_or("");
    let sets_autocommit = |v: &str| {
        first == "SET"
            && w.len() <= 4
            && w.iter()
                .any(|x| *x == "AUTOCOMMIT" || *x == "@@AUTOCOMMIT" || *x == "@@SESSION")
            && w.last() == Some(&v)
    };
    if sets_autocommit("0") || sets_autocommit("OFF") {
        return Kind::Begin;
    }
    if sets_autocommit("1") || sets_autocommit("ON") {
        return Kind::End;
    }
    match first {
        "BEGIN" => return Kind::Begin,
        "START" if second == "TRANSACTION" => return Kind::Begin,
        "LOCK" if second == "TABLES" || second == "TABLE" => return Kind::Begin,
        "COMMIT" => return Kind::End,
        // ROLLBACK [WORK] [AND [NO] CHAIN] [[NO] RELEASE]; not ROLLBACK TO [SAVEPOINT] x.
        "ROLLBACK" if !w.contains(&"TO") => return Kind::End,
        "UNLOCK" => return Kind::End,
        "SAVEPOINT" | "RELEASE" | "ROLLBACK" => return Kind::SameNode,
        _ => {}
    }
    let same_markers = [
        "LAST_INSERT_ID",
        "ROW_COUNT",
        "FOUND_ROWS",
        "SHOW WARNINGS",
        "SHOW ERRORS",
        "SHOW COUNT",
        "@@WARNING_COUNT",
        "@@ERROR_COUNT",
        "@@IDENTITY",
        "@@LAST_INSERT_ID",
        "@@SESSION.WARNING_COUNT",
        "GET DIAGNOSTICS",
        "CONNECTION_ID",
    ];
    let collapsed = collapse_ws(&upper);
    if same_markers.iter().any(|m| collapsed.contains(m)) {
        return Kind::SameNode;
    }
    if w.contains(&"TEMPORARY") {
        return Kind::First;
    }
    match first {
        "SET" => {
            let global = second == "GLOBAL" || second.starts_with("@@GLOBAL");
            if global || second == "PASSWORD" || second == "DEFAULT" || second == "ROLE" {
                Kind::Other
            } else {
                Kind::Session
            }
        }
        "USE" | "PREPARE" | "DEALLOCATE" => Kind::Session,
        "DROP" if second == "PREPARE" => Kind::Session,
        "EXECUTE" => Kind::SameNode,
        "INSERT" | "REPLACE" => Kind::First,
        "SELECT" | "WITH" if upper.contains(":=") => Kind::Session,
        _ => Kind::Other,
    }
}

/// The name (upper-cased) of the table a `CREATE TEMPORARY TABLE`
/// creates.
pub fn temporary_table(sql: &str) -> Option<String> {
    let words = top_words(sql);
    let w: Vec<&str> = words.iter().map(|(_, w)| w.as_str()).collect();
    if w.len() < 4 || w[0] != "CREATE" || w[1] != "TEMPORARY" || w[2] != "TABLE" {
        return None;
    }
    // Quoted names are skipped by top_words: read the name from the text.
    let lower = sql.to_ascii_lowercase();
    let at = lower.find("table")? + "table".len();
    let mut tail = sql[at..].trim_start();
    if tail.to_ascii_lowercase().starts_with("if not exists") {
        tail = tail["if not exists".len()..].trim_start();
    }
    let name: String = tail
        .trim_start_matches('`')
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '.')
        .collect();
    if name.is_empty() {
        None
    } else {
        Some(name.to_ascii_uppercase())
    }
}

/// Whether the statement reads the catalog through SHOW / DESCRIBE, which
/// Galera covers with `wsrep_sync_wait` bit 8.
pub fn is_show(sql: &str) -> bool {
    matches!(
        top_words(sql).first().map(|(_, w)| w.as_str()),
        Some("SHOW" | "DESCRIBE" | "DESC" | "EXPLAIN")
    )
}

/// Whether the statement only reads (no barrier needed after it).
pub fn is_read(sql: &str) -> bool {
    is_show(sql)
        || matches!(
            top_words(sql).first().map(|(_, w)| w.as_str()),
            Some("SELECT" | "WITH" | "VALUES" | "TABLE")
        ) && !sql.contains(":=")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_statements_directives_and_ids() {
        let text = "-- a comment\nCREATE TABLE t (a INT);\n\n-- @sort\nSELECT a\n  FROM t\n  -- inner comment\n  WHERE a = ';';\nSELECT a FROM t;\nSELECT  a FROM t;\n";
        let s = parse(text).unwrap();
        assert_eq!(s.len(), 4);
        assert_eq!(s[0].line, 2);
        assert_eq!(s[1].line, 5);
        assert!(s[1].directives.sort);
        assert_eq!(s[1].sql, "SELECT a\n  FROM t\n  WHERE a = ';'");
        assert!(!s[2].directives.sort);
        // Whitespace does not change the id; repetitions get ~N.
        assert_eq!(format!("{}~2", s[2].id), s[3].id);
        assert_eq!(s[2].id.len(), 12);
    }

    #[test]
    fn rejects_unknown_directives_and_unterminated_statements() {
        assert!(parse("-- @sorted\nSELECT 1;\n").is_err());
        assert!(parse("SELECT 1\n").is_err());
        assert!(parse("-- @sort\n").is_err());
        assert_eq!(
            parse("-- @allow: version\nSELECT VERSION();\n").unwrap()[0]
                .directives
                .allow
                .as_deref(),
            Some("version")
        );
    }

    #[test]
    fn finds_top_level_order_by_only() {
        assert!(has_top_level_order_by("SELECT a FROM t ORDER BY a"));
        assert!(has_top_level_order_by(
            "(SELECT a FROM t) UNION (SELECT b FROM u) ORDER BY 1"
        ));
        assert!(has_top_level_order_by(
            "(SELECT a FROM t ORDER BY a LIMIT 2)"
        ));
        assert!(!has_top_level_order_by(
            "SELECT * FROM (SELECT a FROM t ORDER BY a) d"
        ));
        assert!(!has_top_level_order_by(
            "SELECT ROW_NUMBER() OVER (ORDER BY a) FROM t"
        ));
        assert!(!has_top_level_order_by("SELECT 'ORDER BY' FROM t"));
        assert!(!has_top_level_order_by(
            "SELECT GROUP_CONCAT(a ORDER BY a) FROM t"
        ));
    }

    #[test]
    fn classifies_for_cluster_routing() {
        assert_eq!(classify("SET @a = 1"), Kind::Session);
        assert_eq!(classify("SET NAMES utf8mb4"), Kind::Session);
        assert_eq!(classify("SET GLOBAL x = 1"), Kind::Other);
        assert_eq!(classify("SET autocommit = 0"), Kind::Begin);
        assert_eq!(classify("SET autocommit=1"), Kind::End);
        assert_eq!(classify("START TRANSACTION READ ONLY"), Kind::Begin);
        assert_eq!(classify("ROLLBACK"), Kind::End);
        assert_eq!(classify("ROLLBACK TO SAVEPOINT s"), Kind::SameNode);
        assert_eq!(classify("ROLLBACK TO s1"), Kind::SameNode);
        assert_eq!(classify("ROLLBACK WORK"), Kind::End);
        assert_eq!(classify("SELECT LAST_INSERT_ID()"), Kind::SameNode);
        assert_eq!(classify("show  warnings"), Kind::SameNode);
        assert_eq!(classify("INSERT INTO t VALUES (1)"), Kind::First);
        assert_eq!(classify("CREATE TEMPORARY TABLE t (a INT)"), Kind::First);
        assert_eq!(
            temporary_table("create temporary table if not exists `Tmp` (a int)"),
            Some("TMP".into())
        );
        assert_eq!(temporary_table("CREATE TABLE t (a INT)"), None);
        assert_eq!(classify("SELECT @x := 3"), Kind::Session);
        assert_eq!(classify("UPDATE t SET a = 1"), Kind::Other);
        assert_eq!(classify("SELECT 1"), Kind::Other);
    }
}
