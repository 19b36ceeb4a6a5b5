//! Pool mode: which statements leave session state behind on a backend
//! connection that the proxy cannot carry to another one. Pure functions,
//! no I/O.
//!
//! # The rules
//!
//! A client's backend connection is lent per statement, and kept longer
//! only when the server says so or when the statement is one of these:
//!
//! | statement | outcome |
//! |---|---|
//! | `USE db` | tracked ([`Class::Use`]); replayed with COM_INIT_DB on whatever connection the client borrows next |
//! | `SET [SESSION\|@@]autocommit = ...` | plain: the server's status flags (no `SERVER_STATUS_AUTOCOMMIT`) keep the connection lent while autocommit is off |
//! | any other `SET` (`NAMES`, session variables, `TRANSACTION ...`) | pin |
//! | user variables (`@x`, anywhere) | pin |
//! | `PREPARE`, `EXECUTE`, `DEALLOCATE` | pin |
//! | `CREATE TEMPORARY TABLE` | pin |
//! | `LOCK TABLES`, `GET_LOCK(`, `HANDLER`, `XA` | pin |
//! | `SQL_CALC_FOUND_ROWS` (read back with `FOUND_ROWS()`) | pin |
//! | several statements in one COM_QUERY (a `;` followed by more text) | pin |
//! | an executable comment or hint first (`/*! ... */`, `/*+ ... */`) | pin |
//! | everything else (`BEGIN`, DML, `SELECT`, DDL, `COMMIT`, ...) | plain |
//!
//! "Pin" means: the session keeps its backend connection until it ends,
//! and the proxy relays it byte for byte from then on, as in passthrough
//! mode. The scan is conservative: an `@` or `;` inside a string literal
//! also pins, which costs a pool slot but is never wrong.
//!
//! Transactions need no parsing: every OK and EOF packet carries
//! `SERVER_STATUS_IN_TRANS` and `SERVER_STATUS_AUTOCOMMIT`, and the
//! connection stays lent while the first is set or the second is not.

/// What a COM_QUERY's text means for pooling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Class {
    /// Leaves nothing behind but what the status flags report.
    Plain,
    /// `USE db`: track the database.
    Use(String),
    /// Leaves untracked state behind: keep the connection for the session.
    Pin(&'static str),
}

/// Skips whitespace and comments at the start of `s`; `None` when an
/// executable comment or optimizer hint comes first.
fn skip_space_and_comments(mut s: &[u8]) -> Option<&[u8]> {
    loop {
        let trimmed = s.trim_ascii_start();
        if trimmed.starts_with(b"/*!") || trimmed.starts_with(b"/*+") {
            return None;
        }
        if let Some(rest) = trimmed.strip_prefix(b"/*") {
            let end = rest.windows(2).position(|w| w == b"*/")?;
            s = &rest[end + 2..];
        } else if trimmed.starts_with(b"-- ") || trimmed.starts_with(b"#") {
            let end = trimmed
                .iter()
                .position(|&b| b == b'\n')
                .unwrap_or(trimmed.len());
            s = &trimmed[end..];
        } else {
            return Some(trimmed);
        }
    }
}

/// The next word (letters, digits, `_`) of `s`, upper-cased, and the rest.
fn word(s: &[u8]) -> (String, &[u8]) {
    let s = s.trim_ascii_start();
    let n = s
        .iter()
        .position(|b| !(b.is_ascii_alphanumeric() || *b == b'_'))
        .unwrap_or(s.len());
    (
        String::from_utf8_lossy(&s[..n]).to_ascii_uppercase(),
        &s[n..],
    )
}

/// Whether `s` contains `needle` (upper case ASCII), ignoring case.
fn contains_ci(s: &[u8], needle: &[u8]) -> bool {
    s.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

/// Whether `s` uses a user variable: an `@` that is not part of `@@`.
fn has_user_variable(s: &[u8]) -> bool {
    s.iter()
        .enumerate()
        .any(|(i, &b)| b == b'@' && s.get(i + 1) != Some(&b'@') && (i == 0 || s[i - 1] != b'@'))
}

/// `SET [SESSION|LOCAL|@@session.|@@local.|@@]autocommit = value` and
/// nothing else.
fn is_set_autocommit(rest: &[u8]) -> bool {
    let mut s = rest.trim_ascii_start();
    let (w, after) = word(s);
    if w == "SESSION" || w == "LOCAL" {
        s = after.trim_ascii_start();
    }
    for prefix in [
        &b"@@session."[..],
        &b"@@SESSION."[..],
        &b"@@local."[..],
        &b"@@LOCAL."[..],
        &b"@@"[..],
    ] {
        if let Some(r) = s.strip_prefix(prefix) {
            s = r;
            break;
        }
    }
    let (w, after) = word(s);
    if w != "AUTOCOMMIT" {
        return false;
    }
    let Some(value) = after.trim_ascii_start().strip_prefix(b"=") else {
        return false;
    };
    let (v, tail) = word(value);
    matches!(v.as_str(), "0" | "1" | "ON" | "OFF" | "TRUE" | "FALSE")
        && tail.trim_ascii().is_empty()
}

/// A database name after `USE`: bare or back-quoted, nothing after it.
fn use_target(rest: &[u8]) -> Option<String> {
    let s = rest.trim_ascii();
    let name = if let Some(inner) = s.strip_prefix(b"`") {
        let inner = inner.strip_suffix(b"`")?;
        if inner.contains(&b'`') {
            return None;
        }
        inner
    } else {
        if s.iter()
            .any(|b| !(b.is_ascii_alphanumeric() || *b == b'_' || *b == b'$'))
        {
            return None;
        }
        s
    };
    if name.is_empty() {
        return None;
    }
    std::str::from_utf8(name).ok().map(str::to_string)
}

/// What a statement reads of the session's previous statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Previous {
    /// Nothing.
    No,
    /// Only the last insert id (`LAST_INSERT_ID()`, `@@identity`,
    /// `@@last_insert_id`), which the proxy tracks from OK packets and can
    /// set on another connection.
    InsertId,
    /// What only the connection that ran it knows: `ROW_COUNT()`,
    /// `FOUND_ROWS()`, `SHOW WARNINGS`/`ERRORS`/`COUNT(*) WARNINGS`,
    /// `@@warning_count`, `@@error_count`.
    Result,
}

/// Whether `s` calls function `name` (upper case): the name, not part of
/// a longer identifier, then `(` after optional spaces.
fn calls(s: &[u8], name: &[u8]) -> bool {
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'$';
    (0..s.len().saturating_sub(name.len() - 1)).any(|i| {
        s[i..i + name.len()].eq_ignore_ascii_case(name)
            && (i == 0 || !ident(s[i - 1]))
            && s[i + name.len()..].trim_ascii_start().first() == Some(&b'(')
    })
}

/// Whether `s` reads system variable `name` (upper case):
/// `@@name`, `@@session.name` or `@@local.name`.
fn reads_variable(s: &[u8], name: &[u8]) -> bool {
    let starts = |t: &[u8], p: &[u8]| t.len() >= p.len() && t[..p.len()].eq_ignore_ascii_case(p);
    (0..s.len()).any(|i| {
        let Some(mut t) = s[i..].strip_prefix(b"@@") else {
            return false;
        };
        for scope in [&b"SESSION."[..], b"LOCAL."] {
            if starts(t, scope) {
                t = &t[scope.len()..];
            }
        }
        starts(t, name)
    })
}

/// Whether a (plain) statement reads the outcome of the session's
/// previous one. Conservative like [`classify`]: a call inside a string
/// literal counts too, which costs at most a restore or a clear error.
pub(crate) fn previous(sql: &[u8]) -> Previous {
    let s = skip_space_and_comments(sql).unwrap_or(sql);
    let (first, rest) = word(s);
    let show = first == "SHOW" && matches!(word(rest).0.as_str(), "WARNINGS" | "ERRORS" | "COUNT");
    if show
        || calls(s, b"ROW_COUNT")
        || calls(s, b"FOUND_ROWS")
        || reads_variable(s, b"WARNING_COUNT")
        || reads_variable(s, b"ERROR_COUNT")
    {
        return Previous::Result;
    }
    if calls(s, b"LAST_INSERT_ID")
        || reads_variable(s, b"IDENTITY")
        || reads_variable(s, b"LAST_INSERT_ID")
    {
        return Previous::InsertId;
    }
    Previous::No
}

/// Classifies the text of one COM_QUERY.
pub(crate) fn classify(sql: &[u8]) -> Class {
    let Some(s) = skip_space_and_comments(sql) else {
        return Class::Pin("executable comment or hint");
    };
    let s = s.trim_ascii_end();
    let s = s.strip_suffix(b";").unwrap_or(s);
    if s.contains(&b';') {
        return Class::Pin("several statements in one query");
    }
    if has_user_variable(s) {
        return Class::Pin("user variable");
    }
    if contains_ci(s, b"GET_LOCK") {
        return Class::Pin("GET_LOCK");
    }
    if contains_ci(s, b"SQL_CALC_FOUND_ROWS") {
        return Class::Pin("SQL_CALC_FOUND_ROWS");
    }
    let (first, rest) = word(s);
    match first.as_str() {
        "USE" => match use_target(rest) {
            Some(db) => Class::Use(db),
            None => Class::Pin("USE with an unusual name"),
        },
        "SET" if is_set_autocommit(rest) => Class::Plain,
        "SET" => Class::Pin("SET"),
        "PREPARE" | "EXECUTE" | "DEALLOCATE" => Class::Pin("prepared statement"),
        "LOCK" => Class::Pin("LOCK TABLES"),
        "HANDLER" => Class::Pin("HANDLER"),
        "XA" => Class::Pin("XA transaction"),
        "CREATE" => {
            let (second, _) = word(rest);
            if second == "TEMPORARY" {
                Class::Pin("temporary table")
            } else {
                Class::Plain
            }
        }
        _ => Class::Plain,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(sql: &str) -> Class {
        classify(sql.as_bytes())
    }

    #[test]
    fn plain_statements() {
        for sql in [
            "SELECT 1",
            "  select * from t where id = 3;",
            "BEGIN",
            "START TRANSACTION READ ONLY",
            "COMMIT",
            "INSERT INTO t VALUES (1, 'a')",
            "SELECT @@server_id, @@session.autocommit",
            "/* a comment */ SELECT 1",
            "-- note\nSELECT 1",
            "# note\nUPDATE t SET a = 1",
            "SET autocommit = 0",
            "set SESSION autocommit=1",
            "SET @@autocommit = OFF",
            "SET @@session.autocommit = ON;",
            "CREATE TABLE t (id INT)",
            "DROP TEMPORARY TABLE IF EXISTS t",
            "UNLOCK TABLES",
            "",
        ] {
            assert_eq!(c(sql), Class::Plain, "{sql}");
        }
    }

    #[test]
    fn use_is_tracked() {
        assert_eq!(c("USE shop"), Class::Use("shop".into()));
        assert_eq!(c("use `my db`;"), Class::Use("my db".into()));
        assert!(matches!(c("USE `a`b`"), Class::Pin(_)));
        assert!(matches!(c("USE a b"), Class::Pin(_)));
    }

    #[test]
    fn session_state_pins() {
        for sql in [
            "SET NAMES utf8mb4",
            "SET SESSION wsrep_sync_wait = 1",
            "SET autocommit = 0, sql_mode = ''",
            "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE",
            "SET @x = 1",
            "SELECT @x",
            "select 1 into @a",
            "PREPARE s FROM 'SELECT 1'",
            "EXECUTE s",
            "create temporary table t (a int)",
            "LOCK TABLES t WRITE",
            "SELECT GET_LOCK('a', 1)",
            "SELECT SQL_CALC_FOUND_ROWS * FROM t LIMIT 1",
            "SELECT 1; SELECT 2",
            "/*!40101 SET NAMES utf8 */",
            "/*+ MAX_EXECUTION_TIME(1) */ SELECT 1",
            "/* never closed",
            "XA START 'x'",
            "HANDLER t OPEN",
        ] {
            assert!(matches!(c(sql), Class::Pin(_)), "{sql}: {:?}", c(sql));
        }
    }

    #[test]
    fn statements_that_read_the_previous_one() {
        let p = |sql: &str| previous(sql.as_bytes());
        for sql in [
            "SELECT LAST_INSERT_ID()",
            "select last_insert_id()",
            "INSERT INTO c (p) VALUES (LAST_INSERT_ID())",
            "SELECT @@identity",
            "SELECT @@last_insert_id",
        ] {
            assert_eq!(p(sql), Previous::InsertId, "{sql}");
        }
        for sql in [
            "SELECT ROW_COUNT()",
            "SELECT FOUND_ROWS()",
            "SHOW WARNINGS",
            "show errors limit 1",
            "SHOW COUNT(*) WARNINGS",
            "SELECT @@warning_count, @@session.error_count",
            "SELECT LAST_INSERT_ID(), ROW_COUNT ()",
        ] {
            assert_eq!(p(sql), Previous::Result, "{sql}");
        }
        for sql in [
            "SELECT 1",
            "INSERT INTO t VALUES (1)",
            "SELECT row_count, warnings FROM errors",
            "SELECT my_row_count(1)",
            "SHOW TABLES",
        ] {
            assert_eq!(p(sql), Previous::No, "{sql}");
        }
    }

    #[test]
    fn never_panics_on_odd_bytes() {
        for sql in [
            &b"\xff\xfe"[..],
            b"@",
            b"@@",
            b"SET",
            b"USE",
            b"/*",
            b"--",
            b"`",
        ] {
            let _ = classify(sql);
        }
    }
}
