//! REGEXP / RLIKE and the REGEXP_* functions. MariaDB uses PCRE2; this uses
//! `fancy-regex`, which adds PCRE's backreferences and lookaround to the
//! `regex` crate's engine (used alone for patterns without them).
//! Matching is case-insensitive unless an operand is a binary string, as
//! under MariaDB's default *_ci collations; the binder prefixes `(?-i)`
//! to the pattern when the operands' collation is case-sensitive.

use std::cell::RefCell;
use std::collections::HashMap;

use fancy_regex::{Regex, RegexBuilder};

use super::{text, Func};
use crate::error::{SqlError, SqlResult};
use trireme_storage::value::Value;

thread_local! {
    static CACHE: RefCell<HashMap<(String, bool), Regex>> = RefCell::new(HashMap::new());
}

fn compile(pattern: &str, ci: bool) -> SqlResult<Regex> {
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if let Some(r) = c.get(&(pattern.to_string(), ci)) {
            return Ok(r.clone());
        }
        // The flag as a prefix, so that one in the pattern overrides it
        // (fancy-regex's builder option would not yield to `(?-i)`).
        let flagged = if ci {
            format!("(?i){pattern}")
        } else {
            pattern.to_string()
        };
        let r = RegexBuilder::new(&flagged).build().map_err(|e| {
            let msg = e.to_string();
            SqlError::regexp_error(msg.lines().last().unwrap_or(&msg).trim())
        })?;
        if c.len() >= 64 {
            c.clear();
        }
        c.insert((pattern.to_string(), ci), r.clone());
        Ok(r)
    })
}

/// MariaDB's replacement syntax (`\1`, `\0`) in the `regex` crate's.
fn replacement(r: &str) -> String {
    let mut out = String::new();
    let mut it = r.chars().peekable();
    while let Some(c) = it.next() {
        match c {
            '$' => out.push_str("$$"),
            '\\' => match it.peek() {
                Some(d) if d.is_ascii_digit() => {
                    out.push_str(&format!("${{{d}}}"));
                    it.next();
                }
                Some(_) => out.push(it.next().expect("peeked")),
                None => out.push('\\'),
            },
            c => out.push(c),
        }
    }
    out
}

pub(super) fn eval(f: Func, vals: &[Value]) -> SqlResult<Option<Value>> {
    use Func::*;
    if !matches!(f, RegexpLike | RegexpReplace | RegexpSubstr | RegexpInstr) {
        return Ok(None);
    }
    let ci = !vals.iter().any(|v| matches!(v, Value::Bytes(_)));
    let subject = text(&vals[0]);
    let re = compile(&text(&vals[1]), ci)?;
    // A match can fail at run time (the backtracking limit).
    let failed = |e: fancy_regex::Error| SqlError::regexp_error(&e.to_string());
    Ok(Some(match f {
        RegexpLike => Value::from_bool(re.is_match(&subject).map_err(failed)?),
        RegexpReplace => Value::Str(
            re.try_replacen(&subject, 0, replacement(&text(&vals[2])).as_str())
                .map_err(failed)?
                .into_owned(),
        ),
        RegexpSubstr => match re.find(&subject).map_err(failed)? {
            Some(m) => Value::Str(m.as_str().to_string()),
            None => Value::Str(String::new()),
        },
        _ => Value::Int(match re.find(&subject).map_err(failed)? {
            Some(m) => subject[..m.start()].chars().count() as i64 + 1,
            None => 0,
        }),
    }))
}
