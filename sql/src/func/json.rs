//! JSON functions, as MariaDB 10.11 has them: documents are text, parsed
//! per call. Numbers keep the text they were written with, strings their
//! escapes, objects their key order (and duplicates); output uses MariaDB's
//! `", "` / `": "` separators. An invalid document or path gives NULL.

use super::{text, Func};
use crate::error::{SqlError, SqlResult};
use crate::expr::Expr;
use trireme_storage::value::Value;

/// A parsed JSON value. Strings and keys hold their escaped text.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum J {
    Null,
    Bool(bool),
    Num(String),
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(String, J)>),
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    /// Each value's byte span, in pre-order.
    spans: Vec<(usize, usize)>,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        self.ws();
        if self.s.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn value(&mut self, depth: usize) -> Option<J> {
        if depth > 32 {
            return None;
        }
        self.ws();
        let start = self.i;
        let slot = self.spans.len();
        self.spans.push((start, start));
        let c = *self.s.get(self.i)?;
        let v = match c {
            b'{' => {
                self.i += 1;
                let mut m = Vec::new();
                if !self.eat(b'}') {
                    loop {
                        self.ws();
                        if self.s.get(self.i) != Some(&b'"') {
                            return None;
                        }
                        let k = self.string()?;
                        if !self.eat(b':') {
                            return None;
                        }
                        m.push((k, self.value(depth + 1)?));
                        if self.eat(b',') {
                            continue;
                        }
                        if self.eat(b'}') {
                            break;
                        }
                        return None;
                    }
                }
                J::Obj(m)
            }
            b'[' => {
                self.i += 1;
                let mut a = Vec::new();
                if !self.eat(b']') {
                    loop {
                        a.push(self.value(depth + 1)?);
                        if self.eat(b',') {
                            continue;
                        }
                        if self.eat(b']') {
                            break;
                        }
                        return None;
                    }
                }
                J::Arr(a)
            }
            b'"' => J::Str(self.string()?),
            b't' => self.word("true", J::Bool(true))?,
            b'f' => self.word("false", J::Bool(false))?,
            b'n' => self.word("null", J::Null)?,
            b'-' | b'0'..=b'9' => J::Num(self.number()?),
            _ => return None,
        };
        self.spans[slot] = (start, self.i);
        Some(v)
    }

    fn word(&mut self, w: &str, v: J) -> Option<J> {
        if self.s[self.i..].starts_with(w.as_bytes()) {
            self.i += w.len();
            Some(v)
        } else {
            None
        }
    }

    fn digits(&mut self) -> usize {
        let st = self.i;
        while self.i < self.s.len() && self.s[self.i].is_ascii_digit() {
            self.i += 1;
        }
        self.i - st
    }

    fn number(&mut self) -> Option<String> {
        let st = self.i;
        if self.s[self.i] == b'-' {
            self.i += 1;
        }
        if self.digits() == 0 {
            return None;
        }
        if self.s.get(self.i) == Some(&b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return None;
            }
        }
        if matches!(self.s.get(self.i), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.s.get(self.i), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if self.digits() == 0 {
                return None;
            }
        }
        Some(String::from_utf8_lossy(&self.s[st..self.i]).into_owned())
    }

    /// A string at `"`: its escaped text.
    fn string(&mut self) -> Option<String> {
        self.i += 1;
        let st = self.i;
        loop {
            match *self.s.get(self.i)? {
                b'"' => break,
                b'\\' => {
                    let e = *self.s.get(self.i + 1)?;
                    match e {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.i += 2,
                        b'u' => {
                            let h = self.s.get(self.i + 2..self.i + 6)?;
                            if !h.iter().all(u8::is_ascii_hexdigit) {
                                return None;
                            }
                            self.i += 6;
                        }
                        _ => return None,
                    }
                }
                c if c < 0x20 => return None,
                _ => self.i += 1,
            }
        }
        let out = String::from_utf8_lossy(&self.s[st..self.i]).into_owned();
        self.i += 1;
        Some(out)
    }
}

/// Parses a whole document, with each value's span in pre-order.
fn parse_spans(s: &str) -> Option<(J, Vec<(usize, usize)>)> {
    let mut p = Parser {
        s: s.as_bytes(),
        i: 0,
        spans: Vec::new(),
    };
    let v = p.value(0)?;
    p.ws();
    (p.i == p.s.len()).then_some((v, p.spans))
}

pub(super) fn parse(s: &str) -> Option<J> {
    parse_spans(s).map(|(v, _)| v)
}

/// The text an escaped JSON string stands for (unknown escapes drop the
/// backslash, as MariaDB's JSON_UNQUOTE does).
pub(super) fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('b') => out.push('\u{8}'),
            Some('f') => out.push('\u{c}'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('u') => {
                let hex = |it: &mut std::iter::Peekable<std::str::Chars>| {
                    let h: String = it.by_ref().take(4).collect();
                    u32::from_str_radix(&h, 16).ok()
                };
                let Some(mut cp) = hex(&mut it) else { continue };
                if (0xD800..0xDC00).contains(&cp) {
                    let mut look = it.clone();
                    if look.next() == Some('\\') && look.next() == Some('u') {
                        if let Some(lo) = hex(&mut look) {
                            if (0xDC00..0xE000).contains(&lo) {
                                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                                it = look;
                            }
                        }
                    }
                }
                out.push(char::from_u32(cp).unwrap_or('\u{FFFD}'));
            }
            Some(o) => out.push(o),
            None => out.push('\\'),
        }
    }
    out
}

/// `s` escaped for a JSON string (without the quotes).
pub(super) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

#[derive(Clone, Copy, PartialEq)]
enum Style {
    Normal,
    Compact,
}

fn write(j: &J, style: Style, out: &mut String) {
    let (comma, colon) = match style {
        Style::Normal => (", ", ": "),
        Style::Compact => (",", ":"),
    };
    match j {
        J::Null => out.push_str("null"),
        J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        J::Num(n) => out.push_str(n),
        J::Str(s) => {
            out.push('"');
            out.push_str(s);
            out.push('"');
        }
        J::Arr(a) => {
            out.push('[');
            for (i, v) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(comma);
                }
                write(v, style, out);
            }
            out.push(']');
        }
        J::Obj(m) => {
            out.push('{');
            for (i, (k, v)) in m.iter().enumerate() {
                if i > 0 {
                    out.push_str(comma);
                }
                out.push('"');
                out.push_str(k);
                out.push('"');
                out.push_str(colon);
                write(v, style, out);
            }
            out.push('}');
        }
    }
}

/// JSON_DETAILED's layout: four spaces a level, arrays of scalars on one
/// line, a container value on the line after its key.
fn write_detailed(j: &J, indent: usize, out: &mut String) {
    let pad = |n: usize| " ".repeat(n);
    match j {
        J::Arr(a) if a.iter().all(|v| !matches!(v, J::Arr(_) | J::Obj(_))) => {
            write(j, Style::Normal, out)
        }
        J::Arr(a) => {
            out.push('[');
            for (i, v) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push('\n');
                out.push_str(&pad(indent + 4));
                write_detailed(v, indent + 4, out);
            }
            out.push('\n');
            out.push_str(&pad(indent));
            out.push(']');
        }
        J::Obj(m) => {
            out.push('{');
            for (i, (k, v)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push('\n');
                out.push_str(&pad(indent + 4));
                out.push('"');
                out.push_str(k);
                out.push_str("\": ");
                if matches!(v, J::Arr(_) | J::Obj(_)) {
                    out.push('\n');
                    out.push_str(&pad(indent + 4));
                }
                write_detailed(v, indent + 4, out);
            }
            out.push('\n');
            out.push_str(&pad(indent));
            out.push('}');
        }
        _ => write(j, Style::Normal, out),
    }
}

pub(super) fn show(j: &J) -> String {
    let mut s = String::new();
    write(j, Style::Normal, &mut s);
    s
}

fn show_value(j: &J) -> Value {
    Value::Str(show(j))
}

// ---------------------------------------------------------------- paths

#[derive(Clone, Copy, Debug, PartialEq)]
enum Idx {
    /// From the start (negative: from the end, -1 the last).
    At(i64),
    /// `last - n`.
    Last(i64),
}

impl Idx {
    fn resolve(self, len: usize) -> Option<usize> {
        let len = len as i64;
        let i = match self {
            Idx::At(n) if n >= 0 => n,
            Idx::At(n) => len + n,
            Idx::Last(n) => len - 1 - n,
        };
        (i >= 0).then_some(i as usize)
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Step {
    Key(String),
    AnyKey,
    Index(Idx),
    AnyIndex,
    Range(Idx, Idx),
    /// `**`: any depth.
    Deep,
}

struct Path(Vec<Step>);

impl Path {
    fn wild(&self) -> bool {
        self.0.iter().any(|s| {
            matches!(
                s,
                Step::AnyKey | Step::AnyIndex | Step::Range(..) | Step::Deep
            )
        })
    }
}

fn parse_path(p: &str) -> Option<Path> {
    let s: Vec<char> = p.trim().chars().collect();
    let mut i = 0;
    let skip_ws = |i: &mut usize| {
        while *i < s.len() && s[*i].is_whitespace() {
            *i += 1;
        }
    };
    if s.first() != Some(&'$') {
        return None;
    }
    i += 1;
    let mut steps = Vec::new();
    loop {
        skip_ws(&mut i);
        if i >= s.len() {
            break;
        }
        match s[i] {
            '.' => {
                i += 1;
                match s.get(i) {
                    Some('*') => {
                        i += 1;
                        steps.push(Step::AnyKey);
                    }
                    Some('"') => {
                        i += 1;
                        let st = i;
                        while i < s.len() && s[i] != '"' {
                            if s[i] == '\\' {
                                i += 1;
                            }
                            i += 1;
                        }
                        if i >= s.len() {
                            return None;
                        }
                        steps.push(Step::Key(unescape(&s[st..i].iter().collect::<String>())));
                        i += 1;
                    }
                    _ => {
                        let st = i;
                        while i < s.len()
                            && !s[i].is_whitespace()
                            && !matches!(s[i], '.' | '[' | '*' | '"')
                        {
                            i += 1;
                        }
                        if i == st {
                            return None;
                        }
                        steps.push(Step::Key(s[st..i].iter().collect()));
                    }
                }
            }
            '*' if s.get(i + 1) == Some(&'*') => {
                i += 2;
                steps.push(Step::Deep);
            }
            '[' => {
                i += 1;
                let close = s[i..].iter().position(|&c| c == ']')? + i;
                let inner: String = s[i..close].iter().collect();
                i = close + 1;
                let inner = inner.trim();
                if inner == "*" {
                    steps.push(Step::AnyIndex);
                    continue;
                }
                let idx = |t: &str| -> Option<Idx> {
                    let t = t.trim();
                    if let Some(rest) = t.strip_prefix("last") {
                        let rest = rest.trim();
                        if rest.is_empty() {
                            return Some(Idx::Last(0));
                        }
                        let n: i64 = rest.strip_prefix('-')?.trim().parse().ok()?;
                        return (n >= 0).then_some(Idx::Last(n));
                    }
                    t.parse().ok().map(Idx::At)
                };
                if let Some((a, b)) = inner.split_once(" to ") {
                    steps.push(Step::Range(idx(a)?, idx(b)?));
                } else {
                    steps.push(Step::Index(idx(inner)?));
                }
            }
            _ => return None,
        }
    }
    if steps.last() == Some(&Step::Deep) {
        return None;
    }
    Some(Path(steps))
}

/// Whether an index step on a non-array names the value itself (`[0]`).
fn names_self(i: Idx) -> bool {
    i.resolve(1) == Some(0)
}

fn walk<'a>(j: &'a J, steps: &[Step], out: &mut Vec<&'a J>) {
    let Some((step, rest)) = steps.split_first() else {
        out.push(j);
        return;
    };
    match (step, j) {
        (Step::Key(k), J::Obj(m)) => {
            if let Some((_, v)) = m.iter().find(|(kk, _)| key_eq(kk, k)) {
                walk(v, rest, out);
            }
        }
        (Step::AnyKey, J::Obj(m)) => m.iter().for_each(|(_, v)| walk(v, rest, out)),
        (Step::Index(i), J::Arr(a)) => {
            if let Some(v) = i.resolve(a.len()).and_then(|i| a.get(i)) {
                walk(v, rest, out);
            }
        }
        (Step::Index(i), _) if names_self(*i) => walk(j, rest, out),
        (Step::AnyIndex, J::Arr(a)) => a.iter().for_each(|v| walk(v, rest, out)),
        (Step::Range(x, y), J::Arr(a)) => {
            if let (Some(x), Some(y)) = (x.resolve(a.len()), y.resolve(a.len())) {
                for v in a.iter().take(y + 1).skip(x) {
                    walk(v, rest, out);
                }
            }
        }
        (Step::Deep, _) => {
            walk(j, rest, out);
            match j {
                J::Arr(a) => a.iter().for_each(|v| walk(v, steps, out)),
                J::Obj(m) => m.iter().for_each(|(_, v)| walk(v, steps, out)),
                _ => {}
            }
        }
        _ => {}
    }
}

fn key_eq(raw: &str, key: &str) -> bool {
    if raw.contains('\\') {
        unescape(raw) == key
    } else {
        raw == key
    }
}

fn find<'a>(j: &'a J, p: &Path) -> Vec<&'a J> {
    let mut out = Vec::new();
    walk(j, &p.0, &mut out);
    out
}

/// The value a wildcard-free path names, for changing it.
fn find_mut<'a>(j: &'a mut J, steps: &[Step]) -> Option<&'a mut J> {
    let Some((step, rest)) = steps.split_first() else {
        return Some(j);
    };
    match (step, j) {
        (Step::Key(k), J::Obj(m)) => {
            let v = m.iter_mut().find(|(kk, _)| key_eq(kk, k)).map(|(_, v)| v)?;
            find_mut(v, rest)
        }
        (Step::Index(i), J::Arr(a)) => {
            let i = i.resolve(a.len())?;
            find_mut(a.get_mut(i)?, rest)
        }
        (Step::Index(i), j) if names_self(*i) => find_mut(j, rest),
        _ => None,
    }
}

// ------------------------------------------------------------ comparing

fn num(n: &str) -> f64 {
    n.parse().unwrap_or(0.0)
}

fn scalar_eq(a: &J, b: &J) -> bool {
    match (a, b) {
        (J::Num(x), J::Num(y)) => x == y || num(x) == num(y),
        (J::Str(x), J::Str(y)) => x == y || unescape(x) == unescape(y),
        (J::Bool(x), J::Bool(y)) => x == y,
        (J::Null, J::Null) => true,
        _ => false,
    }
}

fn contains(t: &J, c: &J) -> bool {
    match (t, c) {
        (J::Arr(ta), J::Arr(ca)) => ca.iter().all(|e| contains(t, e) || ta.contains(e)),
        (J::Arr(ta), _) => ta.iter().any(|e| contains(e, c)),
        (J::Obj(tm), J::Obj(cm)) => cm.iter().all(|(k, v)| {
            tm.iter()
                .find(|(tk, _)| key_eq(tk, &unescape(k)))
                .is_some_and(|(_, tv)| contains(tv, v))
        }),
        (J::Obj(_), _) | (_, J::Arr(_) | J::Obj(_)) => false,
        _ => scalar_eq(t, c),
    }
}

fn equals(a: &J, b: &J) -> bool {
    match (a, b) {
        (J::Arr(x), J::Arr(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| equals(p, q)),
        (J::Obj(x), J::Obj(y)) => {
            x.len() == y.len()
                && x.iter().all(|(k, v)| {
                    y.iter()
                        .find(|(yk, _)| key_eq(yk, &unescape(k)))
                        .is_some_and(|(_, w)| equals(v, w))
                })
        }
        _ => scalar_eq(a, b),
    }
}

fn overlaps(a: &J, b: &J) -> bool {
    match (a, b) {
        (J::Arr(x), J::Arr(y)) => x.iter().any(|p| y.iter().any(|q| equals(p, q))),
        (J::Arr(x), _) => x.iter().any(|p| equals(p, b)),
        (_, J::Arr(_)) => overlaps(b, a),
        (J::Obj(x), J::Obj(y)) => x.iter().any(|(k, v)| {
            y.iter()
                .any(|(yk, w)| key_eq(yk, &unescape(k)) && equals(v, w))
        }),
        _ => equals(a, b),
    }
}

fn depth(j: &J) -> i64 {
    match j {
        J::Arr(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        J::Obj(m) => 1 + m.iter().map(|(_, v)| depth(v)).max().unwrap_or(0),
        _ => 1,
    }
}

fn merge_preserve(a: J, b: J) -> J {
    match (a, b) {
        (J::Obj(mut x), J::Obj(y)) => {
            for (k, v) in y {
                match x.iter().position(|(xk, _)| *xk == k) {
                    Some(p) => {
                        let old = std::mem::replace(&mut x[p].1, J::Null);
                        x[p].1 = merge_preserve(old, v);
                    }
                    None => x.push((k, v)),
                }
            }
            J::Obj(x)
        }
        (J::Arr(mut x), J::Arr(y)) => {
            x.extend(y);
            J::Arr(x)
        }
        (J::Arr(mut x), b) => {
            x.push(b);
            J::Arr(x)
        }
        (a, J::Arr(y)) => {
            let mut x = vec![a];
            x.extend(y);
            J::Arr(x)
        }
        (a, b) => J::Arr(vec![a, b]),
    }
}

fn merge_patch(t: J, p: J) -> J {
    let J::Obj(pm) = p else { return p };
    let mut tm = match t {
        J::Obj(m) => m,
        _ => Vec::new(),
    };
    for (k, v) in pm {
        let pos = tm.iter().position(|(tk, _)| *tk == k);
        if v == J::Null {
            if let Some(p) = pos {
                tm.remove(p);
            }
            continue;
        }
        match pos {
            Some(p) => {
                let old = std::mem::replace(&mut tm[p].1, J::Null);
                tm[p].1 = merge_patch(old, v);
            }
            None => tm.push((k, merge_patch(J::Null, v))),
        }
    }
    J::Obj(tm)
}

/// SQL LIKE over characters, `esc` escaping.
fn like(s: &[char], p: &[char], esc: char) -> bool {
    match p.split_first() {
        None => s.is_empty(),
        Some(('%', rest)) => (0..=s.len()).any(|i| like(&s[i..], rest, esc)),
        Some(('_', rest)) => !s.is_empty() && like(&s[1..], rest, esc),
        Some((&c, rest)) => {
            let (c, rest) = if c == esc && !rest.is_empty() {
                (rest[0], &rest[1..])
            } else {
                (c, rest)
            };
            s.first() == Some(&c) && like(&s[1..], rest, esc)
        }
    }
}

fn search(j: &J, path: &mut String, pat: &[char], esc: char, out: &mut Vec<String>) {
    match j {
        J::Str(s) => {
            let chars: Vec<char> = unescape(s).chars().collect();
            if like(&chars, pat, esc) {
                out.push(path.clone());
            }
        }
        J::Arr(a) => {
            for (i, v) in a.iter().enumerate() {
                let n = path.len();
                path.push_str(&format!("[{i}]"));
                search(v, path, pat, esc, out);
                path.truncate(n);
            }
        }
        J::Obj(m) => {
            for (k, v) in m {
                let n = path.len();
                path.push('.');
                path.push_str(k);
                search(v, path, pat, esc, out);
                path.truncate(n);
            }
        }
        _ => {}
    }
}

fn normalize(j: &J, out: &mut String) {
    match j {
        J::Num(n) => {
            let f = num(n);
            let e = format!("{:E}", if f == 0.0 { 0.0 } else { f });
            let (m, x) = e.split_once('E').unwrap_or((&e, "0"));
            out.push_str(m);
            if !m.contains('.') {
                out.push_str(".0");
            }
            out.push('E');
            out.push_str(x);
        }
        J::Str(s) => {
            out.push('"');
            out.push_str(&escape(&unescape(s)));
            out.push('"');
        }
        J::Arr(a) => {
            out.push('[');
            for (i, v) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                normalize(v, out);
            }
            out.push(']');
        }
        J::Obj(m) => {
            let mut m: Vec<(String, &J)> = m.iter().map(|(k, v)| (unescape(k), v)).collect();
            m.sort_by(|a, b| a.0.cmp(&b.0));
            out.push('{');
            for (i, (k, v)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push('"');
                out.push_str(&escape(k));
                out.push_str("\":");
                normalize(v, out);
            }
            out.push('}');
        }
        _ => write(j, Style::Compact, out),
    }
}

// ------------------------------------------------------------- the calls

/// The functions whose result is a JSON document (an argument such a call
/// gives is embedded as JSON, not quoted as a string).
pub(crate) fn returns_json(f: Func) -> bool {
    use Func::*;
    matches!(
        f,
        JsonExtract
            | JsonObject
            | JsonArray
            | JsonSet
            | JsonInsert
            | JsonReplace
            | JsonRemove
            | JsonArrayAppend
            | JsonArrayInsert
            | JsonMergePatch
            | JsonMergePreserve
            | JsonQuery
            | JsonCompact
            | JsonLoose
            | JsonDetailed
            | JsonKeys
            | JsonSearch
            | JsonNormalize
    )
}

/// Whether `f` is one of this family's functions.
pub(super) fn is_json(f: Func) -> bool {
    use Func::*;
    returns_json(f)
        || matches!(
            f,
            JsonValid
                | JsonUnquote
                | JsonQuote
                | JsonContains
                | JsonContainsPath
                | JsonLength
                | JsonDepth
                | JsonType
                | JsonValue
                | JsonExists
                | JsonEquals
                | JsonOverlaps
        )
}

/// Whether `e` has a truth value as its type (it becomes true / false).
fn is_boolean(e: &Expr) -> bool {
    matches!(
        e,
        Expr::Cmp(..)
            | Expr::TupleCmp(..)
            | Expr::IsNull(..)
            | Expr::IsBool(..)
            | Expr::InList(..)
            | Expr::TupleIn(..)
            | Expr::Between(..)
            | Expr::Like(..)
            | Expr::Not(..)
            | Expr::And(..)
            | Expr::Or(..)
            | Expr::Xor(..)
    )
}

/// The JSON value an SQL argument stands for.
fn to_json(e: &Expr, v: &Value) -> J {
    if v.is_null() {
        return J::Null;
    }
    if is_boolean(e) {
        return J::Bool(v.truth() == Some(true));
    }
    if let Expr::Func(f, _) = e {
        if returns_json(*f) {
            if let Some(j) = parse(&text(v)) {
                return j;
            }
        }
    }
    match v {
        Value::Int(_) | Value::UInt(_) | Value::Decimal(_) | Value::Double(_) => J::Num(text(v)),
        _ => J::Str(escape(&text(v))),
    }
}

/// One element of JSON_ARRAYAGG / JSON_OBJECTAGG as JSON text: a JSON
/// document (`raw`) as written, as MariaDB embeds it, anything else as the
/// JSON value it stands for.
pub(crate) fn agg_element(e: &Expr, v: &Value, raw: bool) -> String {
    if raw && !v.is_null() {
        return text(v);
    }
    show(&to_json(e, v))
}

/// A JSON_OBJECTAGG key as JSON text.
pub(crate) fn agg_key(v: &Value) -> String {
    show(&J::Str(escape(&text(v))))
}

fn doc(v: &Value) -> Option<J> {
    if v.is_null() {
        None
    } else {
        parse(&text(v))
    }
}

fn path_of(v: &Value) -> Option<Path> {
    if v.is_null() {
        None
    } else {
        parse_path(&text(v))
    }
}

fn int(n: i64) -> Value {
    Value::Int(n)
}

/// JSON_SET / JSON_INSERT / JSON_REPLACE of one (path, value) pair.
fn set_one(root: &mut J, p: &Path, val: J, insert: bool, replace: bool) {
    let Some((last, parent_steps)) = p.0.split_last() else {
        if replace {
            *root = val;
        }
        return;
    };
    let Some(parent) = find_mut(root, parent_steps) else {
        return;
    };
    match (last, parent) {
        (Step::Key(k), J::Obj(m)) => match m.iter_mut().find(|(kk, _)| key_eq(kk, k)) {
            Some((_, v)) => {
                if replace {
                    *v = val;
                }
            }
            None => {
                if insert {
                    m.push((escape(k), val));
                }
            }
        },
        (Step::Index(i), J::Arr(a)) => match i.resolve(a.len()).filter(|&i| i < a.len()) {
            Some(i) => {
                if replace {
                    a[i] = val;
                }
            }
            None => {
                if insert {
                    a.push(val);
                }
            }
        },
        (Step::Index(i), parent) => {
            if names_self(*i) {
                if replace {
                    *parent = val;
                }
            } else if insert {
                let old = std::mem::replace(parent, J::Null);
                *parent = J::Arr(vec![old, val]);
            }
        }
        _ => {}
    }
}

/// Evaluates a JSON function (they see NULL arguments themselves).
pub(super) fn eval(f: Func, args: &[Expr], row: &[Value]) -> SqlResult<Value> {
    use Func::*;
    let vals = args
        .iter()
        .map(|a| a.eval(row))
        .collect::<SqlResult<Vec<_>>>()?;
    let null = Ok(Value::Null);
    match f {
        JsonObject => {
            if vals.len() % 2 != 0 {
                return Err(SqlError::wrong_arg_count("JSON_OBJECT"));
            }
            let m = vals
                .chunks(2)
                .zip(args.chunks(2))
                .map(|(v, e)| {
                    let k = if v[0].is_null() {
                        String::new()
                    } else {
                        text(&v[0])
                    };
                    (escape(&k), to_json(&e[1], &v[1]))
                })
                .collect();
            return Ok(show_value(&J::Obj(m)));
        }
        JsonArray => {
            let a = vals.iter().zip(args).map(|(v, e)| to_json(e, v)).collect();
            return Ok(show_value(&J::Arr(a)));
        }
        _ => {}
    }
    // Modifiers: a document, then (path, value) pairs or paths.
    if matches!(
        f,
        JsonSet | JsonInsert | JsonReplace | JsonArrayAppend | JsonArrayInsert
    ) {
        let Some(mut root) = doc(&vals[0]) else {
            return null;
        };
        if vals.len() % 2 == 0 {
            return Err(SqlError::wrong_arg_count(super::name(f)));
        }
        for (pv, (ve, vv)) in vals[1..]
            .iter()
            .step_by(2)
            .zip(args[2..].iter().step_by(2).zip(vals[2..].iter().step_by(2)))
        {
            let Some(p) = path_of(pv) else { return null };
            if p.wild() {
                return null;
            }
            let val = to_json(ve, vv);
            match f {
                JsonSet => set_one(&mut root, &p, val, true, true),
                JsonInsert => set_one(&mut root, &p, val, true, false),
                JsonReplace => set_one(&mut root, &p, val, false, true),
                JsonArrayAppend => {
                    if let Some(t) = find_mut(&mut root, &p.0) {
                        match t {
                            J::Arr(a) => a.push(val),
                            other => {
                                let old = std::mem::replace(other, J::Null);
                                *other = J::Arr(vec![old, val]);
                            }
                        }
                    }
                }
                _ => {
                    let Some((Step::Index(i), parent)) = p.0.split_last() else {
                        return null;
                    };
                    if let Some(J::Arr(a)) = find_mut(&mut root, parent) {
                        let at = i.resolve(a.len()).unwrap_or(0).min(a.len());
                        a.insert(at, val);
                    }
                }
            }
        }
        return Ok(show_value(&root));
    }
    match f {
        JsonValid => Ok(if vals[0].is_null() {
            Value::Null
        } else {
            Value::from_bool(doc(&vals[0]).is_some())
        }),
        JsonQuote => Ok(match &vals[0] {
            Value::Str(s) => Value::Str(format!("\"{}\"", escape(s))),
            _ => Value::Null,
        }),
        JsonUnquote => {
            if vals[0].is_null() {
                return null;
            }
            let s = text(&vals[0]);
            Ok(Value::Str(
                if s.len() >= 2 && s.starts_with('"') && s.ends_with('"') {
                    unescape(&s[1..s.len() - 1])
                } else {
                    s
                },
            ))
        }
        JsonExtract => {
            if vals.iter().any(Value::is_null) {
                return null;
            }
            let Some(root) = doc(&vals[0]) else {
                return null;
            };
            let mut found = Vec::new();
            let mut wrap = vals.len() > 2;
            for pv in &vals[1..] {
                let Some(p) = path_of(pv) else { return null };
                wrap |= p.wild();
                found.extend(find(&root, &p));
            }
            Ok(match (found.as_slice(), wrap) {
                ([], _) => Value::Null,
                ([one], false) => show_value(one),
                (all, _) => show_value(&J::Arr(all.iter().map(|j| (*j).clone()).collect())),
            })
        }
        JsonValue | JsonQuery | JsonExists | JsonLength | JsonKeys => {
            if vals.iter().any(Value::is_null) {
                return null;
            }
            let s = text(&vals[0]);
            if f == JsonExists && text(&vals[1]).trim() == "$" {
                // MariaDB answers `$` without reading the document.
                return Ok(int(1));
            }
            let Some((root, spans)) = parse_spans(&s) else {
                return null;
            };
            let target = match vals.get(1) {
                Some(pv) => {
                    let Some(p) = path_of(pv) else { return null };
                    if p.wild() && f != JsonExists {
                        return null;
                    }
                    find(&root, &p).first().copied()
                }
                None => Some(&root),
            };
            if f == JsonExists {
                return Ok(Value::from_bool(target.is_some()));
            }
            let Some(t) = target else { return null };
            Ok(match (f, t) {
                (JsonLength, J::Arr(a)) => int(a.len() as i64),
                (JsonLength, J::Obj(m)) => int(m.len() as i64),
                (JsonLength, _) => int(1),
                (JsonKeys, J::Obj(m)) => {
                    show_value(&J::Arr(m.iter().map(|(k, _)| J::Str(k.clone())).collect()))
                }
                (JsonValue, J::Str(x)) => Value::Str(unescape(x)),
                (JsonValue, J::Num(n)) => Value::Str(n.clone()),
                (JsonValue, J::Bool(b)) => Value::Str(if *b { "1" } else { "0" }.into()),
                (JsonQuery, J::Arr(_) | J::Obj(_)) => {
                    // The value's own text, as written.
                    let idx = preorder_index(&root, t).unwrap_or(0);
                    let (a, b) = spans[idx];
                    Value::Str(s[a..b].to_string())
                }
                _ => Value::Null,
            })
        }
        JsonDepth | JsonType | JsonCompact | JsonLoose | JsonDetailed | JsonNormalize => {
            let Some(j) = doc(&vals[0]) else { return null };
            Ok(match f {
                JsonDepth => int(depth(&j)),
                JsonType => Value::Str(
                    match &j {
                        J::Null => "NULL",
                        J::Bool(_) => "BOOLEAN",
                        J::Num(n) if n.contains('.') => "DOUBLE",
                        J::Num(_) => "INTEGER",
                        J::Str(_) => "STRING",
                        J::Arr(_) => "ARRAY",
                        J::Obj(_) => "OBJECT",
                    }
                    .into(),
                ),
                JsonCompact => {
                    let mut s = String::new();
                    write(&j, Style::Compact, &mut s);
                    Value::Str(s)
                }
                JsonDetailed => {
                    let mut s = String::new();
                    write_detailed(&j, 0, &mut s);
                    Value::Str(s)
                }
                JsonNormalize => {
                    let mut s = String::new();
                    normalize(&j, &mut s);
                    Value::Str(s)
                }
                _ => show_value(&j),
            })
        }
        JsonContains => {
            if vals.iter().any(Value::is_null) {
                return null;
            }
            let (Some(root), Some(c)) = (doc(&vals[0]), doc(&vals[1])) else {
                return null;
            };
            let target = match vals.get(2) {
                Some(pv) => {
                    let Some(p) = path_of(pv) else { return null };
                    if p.wild() {
                        return null;
                    }
                    match find(&root, &p).first() {
                        Some(t) => (*t).clone(),
                        None => return Ok(int(0)),
                    }
                }
                None => root,
            };
            Ok(Value::from_bool(contains(&target, &c)))
        }
        JsonContainsPath => {
            if vals.iter().any(Value::is_null) {
                return null;
            }
            let Some(root) = doc(&vals[0]) else {
                return null;
            };
            let all = match text(&vals[1]).to_ascii_lowercase().as_str() {
                "all" => true,
                "one" => false,
                _ => return null,
            };
            let mut hits = Vec::new();
            for pv in &vals[2..] {
                let Some(p) = path_of(pv) else { return null };
                hits.push(!find(&root, &p).is_empty());
            }
            Ok(Value::from_bool(if all {
                hits.iter().all(|h| *h)
            } else {
                hits.iter().any(|h| *h)
            }))
        }
        JsonSearch => {
            if vals[..3].iter().any(Value::is_null) {
                return null;
            }
            let Some(root) = doc(&vals[0]) else {
                return null;
            };
            let all = match text(&vals[1]).to_ascii_lowercase().as_str() {
                "all" => true,
                "one" => false,
                _ => return null,
            };
            let pat: Vec<char> = text(&vals[2]).chars().collect();
            let esc = match vals.get(3) {
                Some(v) if !v.is_null() => text(v).chars().next().unwrap_or('\\'),
                _ => '\\',
            };
            let mut found = Vec::new();
            search(&root, &mut "$".to_string(), &pat, esc, &mut found);
            if vals.len() > 4 {
                let mut paths = Vec::new();
                for pv in &vals[4..] {
                    let Some(p) = path_of(pv) else { return null };
                    paths.push(p);
                }
                found.retain(|f| {
                    let found_path = parse_path(f);
                    paths.iter().any(|p| {
                        found_path.as_ref().is_some_and(|fp| {
                            // Under p: the found value lies within what p names.
                            find(&root, p).iter().any(|t| {
                                let mut under = Vec::new();
                                walk(&root, &fp.0, &mut under);
                                under.iter().any(|u| within(t, u))
                            })
                        })
                    })
                });
            }
            if !all {
                found.truncate(1);
            }
            Ok(match found.len() {
                0 => Value::Null,
                1 => Value::Str(format!("\"{}\"", escape(&found[0]))),
                _ => show_value(&J::Arr(found.iter().map(|p| J::Str(escape(p))).collect())),
            })
        }
        JsonRemove => {
            if vals.iter().any(Value::is_null) {
                return null;
            }
            let Some(mut root) = doc(&vals[0]) else {
                return null;
            };
            for pv in &vals[1..] {
                let Some(p) = path_of(pv) else { return null };
                let Some((last, parent)) = p.0.split_last() else {
                    return null;
                };
                if p.wild() {
                    return null;
                }
                match (last, find_mut(&mut root, parent)) {
                    (Step::Key(k), Some(J::Obj(m))) => m.retain(|(kk, _)| !key_eq(kk, k)),
                    (Step::Index(i), Some(J::Arr(a))) => {
                        if let Some(i) = i.resolve(a.len()).filter(|&i| i < a.len()) {
                            a.remove(i);
                        }
                    }
                    _ => {}
                }
            }
            Ok(show_value(&root))
        }
        JsonMergePatch | JsonMergePreserve => {
            let mut acc: Option<J> = None;
            for v in &vals {
                let Some(j) = doc(v) else { return null };
                acc = Some(match acc {
                    None => j,
                    Some(a) if f == JsonMergePatch => merge_patch(a, j),
                    Some(a) => merge_preserve(a, j),
                });
            }
            Ok(acc.map_or(Value::Null, |j| show_value(&j)))
        }
        JsonEquals | JsonOverlaps => {
            let (Some(a), Some(b)) = (doc(&vals[0]), doc(&vals[1])) else {
                return null;
            };
            Ok(Value::from_bool(if f == JsonEquals {
                equals(&a, &b)
            } else {
                overlaps(&a, &b)
            }))
        }
        _ => unreachable!("{f:?} is not a JSON function"),
    }
}

/// Whether `inner` is `outer` or lies within it.
fn within(outer: &J, inner: &J) -> bool {
    if std::ptr::eq(outer, inner) {
        return true;
    }
    match outer {
        J::Arr(a) => a.iter().any(|v| within(v, inner)),
        J::Obj(m) => m.iter().any(|(_, v)| within(v, inner)),
        _ => false,
    }
}

/// The pre-order position of `target` (a node of `root`).
fn preorder_index(root: &J, target: &J) -> Option<usize> {
    fn go(j: &J, target: &J, n: &mut usize) -> bool {
        if std::ptr::eq(j, target) {
            return true;
        }
        *n += 1;
        match j {
            J::Arr(a) => a.iter().any(|v| go(v, target, n)),
            J::Obj(m) => m.iter().any(|(_, v)| go(v, target, n)),
            _ => false,
        }
    }
    let mut n = 0;
    go(root, target, &mut n).then_some(n)
}
