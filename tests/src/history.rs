//! The history: every operation a client or the nemesis attempted, in the
//! order the harness observed it.
//!
//! The model is Jepsen's. A logical process first records an `invoke`, then
//! exactly one completion for it:
//!
//! | type     | meaning |
//! |----------|---------|
//! | `ok`     | the operation took effect, and its value holds what it saw |
//! | `fail`   | the operation certainly did **not** take effect |
//! | `info`   | unknown: it may or may not have taken effect (a COMMIT that timed out, lost its connection, or was answered "outcome unknown") |
//!
//! A process whose operation ended `info` is never reused: its operation may
//! still be running somewhere, so the client continues under a fresh process
//! number. A process therefore never has two operations in flight, and the
//! completion of an invocation is simply that process's next record.
//!
//! Nemesis actions (`fault` / `heal`) are recorded the same way under process
//! `"nemesis"`, so fault periods line up with client operations in time.
//!
//! On disk a history is JSON lines, one [`Op`] per line, in index order:
//!
//! ```text
//! {"index":0,"time":1203344,"process":0,"type":"invoke","f":"txn","value":{"txn":[{"append":[3,1]},{"r":[4,null]}]},"node":"n1"}
//! {"index":1,"time":4502113,"process":0,"type":"ok","f":"txn","value":{"txn":[{"append":[3,1]},{"r":[4,[1,2]]}]},"node":"n1"}
//! ```
//!
//! `time` is nanoseconds since the start of the run.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::{BufRead, Write};
use std::path::Path;
use std::sync::Mutex;
use std::time::Instant;

use serde::{Deserialize, Serialize};

/// How an operation ended (or `Invoke` for its start).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpType {
    Invoke,
    Ok,
    Fail,
    Info,
}

/// Who performed an operation: a logical client process or the nemesis.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Process {
    Client(u64),
    Nemesis,
}

impl Serialize for Process {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Process::Client(n) => s.serialize_u64(*n),
            Process::Nemesis => s.serialize_str("nemesis"),
        }
    }
}

impl<'de> Deserialize<'de> for Process {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::Number(n) => n
                .as_u64()
                .map(Process::Client)
                .ok_or_else(|| serde::de::Error::custom("process must be a non-negative integer")),
            serde_json::Value::String(s) if s == "nemesis" => Ok(Process::Nemesis),
            other => Err(serde::de::Error::custom(format!("bad process {other}"))),
        }
    }
}

impl fmt::Display for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Process::Client(n) => write!(f, "{n}"),
            Process::Nemesis => f.write_str("nemesis"),
        }
    }
}

/// The function an operation performs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum F {
    /// bank: move money between two accounts.
    Transfer,
    /// bank: read all balances; set: read all elements.
    Read,
    /// set: insert one unique element.
    Add,
    /// list-append: a transaction of appends and reads.
    Txn,
    /// ddl: a schema change (CREATE / ALTER / DROP TABLE) on a client's own table.
    Ddl,
    /// ddl: insert one row into a client's own table.
    Insert,
    /// Any workload: the read on each node after the nemesis healed and the
    /// cluster recovered. Checkers use these for final-state checks.
    FinalRead,
    /// nemesis: a fault begins.
    Fault,
    /// nemesis: the fault ends.
    Heal,
}

impl fmt::Display for F {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = serde_json::to_value(self).ok();
        f.write_str(s.as_ref().and_then(|v| v.as_str()).unwrap_or("?"))
    }
}

/// One micro-operation of a list-append transaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mop {
    /// Append `value` to the list under `key`.
    Append(u64, u64),
    /// Read the list under `key`; `None` until the read has happened (and
    /// in `fail` / `info` completions, where nothing is known).
    R(u64, Option<Vec<u64>>),
}

impl Mop {
    pub fn key(&self) -> u64 {
        match self {
            Mop::Append(k, _) | Mop::R(k, _) => *k,
        }
    }
}

impl fmt::Display for Mop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mop::Append(k, v) => write!(f, "[append {k} {v}]"),
            Mop::R(k, None) => write!(f, "[r {k} nil]"),
            Mop::R(k, Some(l)) => {
                write!(f, "[r {k} [")?;
                for (i, x) in l.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    write!(f, "{x}")?;
                }
                f.write_str("]]")
            }
        }
    }
}

/// What a nemesis did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NemesisValue {
    /// `partition`, `kill`, `pause`, ...
    pub kind: String,
    /// Node names the fault touches.
    pub targets: Vec<String>,
    /// Human-readable shape of the fault ("n1 | n2 n3").
    pub detail: String,
}

/// The value of an operation. Invocations carry the request; `ok`
/// completions carry what was observed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Value {
    None,
    Transfer {
        from: u32,
        to: u32,
        amount: i64,
    },
    /// Balances by account id; `None` until read.
    Balances(Option<BTreeMap<u32, i64>>),
    Element(u64),
    /// Elements of the set; `None` until read.
    Elements(Option<Vec<u64>>),
    Txn(Vec<Mop>),
    Nemesis(NemesisValue),
    /// ddl: a schema statement on `table`; `kind` is `create`,
    /// `add-column`, `add-index` or `drop`.
    Ddl {
        table: String,
        kind: String,
        sql: String,
    },
    /// ddl: one row, `id` unique over the run, inserted into `table`.
    Row {
        table: String,
        id: u64,
    },
    /// ddl final read: every table of the workload's database with the ids
    /// of its rows; `None` until read.
    Tables(Option<BTreeMap<String, Vec<u64>>>),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Txn(mops) => {
                for (i, m) in mops.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    write!(f, "{m}")?;
                }
                Ok(())
            }
            other => f.write_str(&serde_json::to_string(other).unwrap_or_default()),
        }
    }
}

/// One record of the history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Op {
    pub index: u64,
    /// Nanoseconds since the run started.
    pub time: u64,
    pub process: Process,
    #[serde(rename = "type")]
    pub typ: OpType,
    pub f: F,
    pub value: Value,
    /// The node the client was bound to (or the nemesis acted on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// Why it failed or is unknown (e.g. `1213 Deadlock found ...`,
    /// `timeout during COMMIT`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// An invocation with its completion, if the history has one. An invocation
/// without completion (the harness stopped first) counts as `info`.
#[derive(Clone, Copy, Debug)]
pub struct Completed<'a> {
    pub invoke: &'a Op,
    pub completion: Option<&'a Op>,
}

impl<'a> Completed<'a> {
    /// The outcome: the completion's type, or `Info` if there is none.
    pub fn typ(&self) -> OpType {
        self.completion.map(|c| c.typ).unwrap_or(OpType::Info)
    }

    /// The most informed value: the completion's for `ok`, else the
    /// invocation's.
    pub fn value(&self) -> &'a Value {
        match self.completion {
            Some(c) if c.typ == OpType::Ok => &c.value,
            _ => &self.invoke.value,
        }
    }

    /// The index by which reports name this operation: its completion if any.
    pub fn index(&self) -> u64 {
        self.completion
            .map(|c| c.index)
            .unwrap_or(self.invoke.index)
    }

    pub fn latency_ns(&self) -> Option<u64> {
        self.completion
            .map(|c| c.time.saturating_sub(self.invoke.time))
    }
}

/// Pairs every invocation with its completion (the same process's next
/// record). Records that break the model (a completion with no open
/// invocation, an invocation while one is open) are returned as errors,
/// because a checker must not guess about a malformed history.
pub fn pair(ops: &[Op]) -> Result<Vec<Completed<'_>>, String> {
    let mut open: HashMap<Process, usize> = HashMap::new();
    let mut out: Vec<Completed<'_>> = Vec::new();
    for op in ops {
        match op.typ {
            OpType::Invoke => {
                if let Some(prev) = open.get(&op.process) {
                    return Err(format!(
                        "process {} invoked op {} while op {} was still open",
                        op.process, op.index, out[*prev].invoke.index
                    ));
                }
                open.insert(op.process, out.len());
                out.push(Completed {
                    invoke: op,
                    completion: None,
                });
            }
            _ => match open.remove(&op.process) {
                Some(i) => {
                    if out[i].invoke.f != op.f {
                        return Err(format!(
                            "op {} completes op {} with a different f ({} vs {})",
                            op.index, out[i].invoke.index, op.f, out[i].invoke.f
                        ));
                    }
                    out[i].completion = Some(op);
                }
                None => {
                    return Err(format!(
                        "op {} ({:?}) of process {} has no invocation",
                        op.index, op.typ, op.process
                    ))
                }
            },
        }
    }
    Ok(out)
}

/// Writes a history as JSON lines.
pub fn write_jsonl(ops: &[Op], w: &mut impl Write) -> std::io::Result<()> {
    for op in ops {
        serde_json::to_writer(&mut *w, op)?;
        w.write_all(b"\n")?;
    }
    Ok(())
}

/// Reads a JSON-lines history (as written by [`write_jsonl`] or the
/// [`Recorder`]). Blank lines are skipped; a torn last line (the harness
/// died mid-write) is dropped with a note rather than failing the read.
pub fn read_jsonl(path: &Path) -> anyhow::Result<(Vec<Op>, Vec<String>)> {
    let f = std::fs::File::open(path)?;
    let lines: Vec<String> = std::io::BufReader::new(f)
        .lines()
        .collect::<Result<_, _>>()?;
    let mut ops = Vec::with_capacity(lines.len());
    let mut notes = Vec::new();
    let last = lines.iter().rposition(|l| !l.trim().is_empty());
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Op>(line) {
            Ok(op) => ops.push(op),
            Err(e) if Some(i) == last => {
                notes.push(format!("dropped torn last line {}: {e}", i + 1))
            }
            Err(e) => anyhow::bail!("{}:{}: {e}", path.display(), i + 1),
        }
    }
    Ok((ops, notes))
}

/// Thread-safe recorder used while a run is in progress. Indices and times
/// are assigned under one lock, so index order is time order. Every record is
/// also streamed to the history file, so a crash of the harness still leaves
/// the history up to that point.
pub struct Recorder {
    start: Instant,
    inner: Mutex<RecorderInner>,
}

struct RecorderInner {
    ops: Vec<Op>,
    out: Option<std::io::BufWriter<std::fs::File>>,
    write_error: Option<String>,
}

impl Recorder {
    pub fn new(start: Instant, file: Option<std::fs::File>) -> Recorder {
        Recorder {
            start,
            inner: Mutex::new(RecorderInner {
                ops: Vec::new(),
                out: file.map(std::io::BufWriter::new),
                write_error: None,
            }),
        }
    }

    pub fn start(&self) -> Instant {
        self.start
    }

    /// Nanoseconds since the start of the run.
    pub fn now_ns(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }

    /// Records one operation and returns it (with its index and time).
    pub fn record(
        &self,
        process: Process,
        typ: OpType,
        f: F,
        value: Value,
        node: Option<&str>,
        error: Option<String>,
    ) -> Op {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let op = Op {
            index: g.ops.len() as u64,
            time: self.now_ns(),
            process,
            typ,
            f,
            value,
            node: node.map(str::to_owned),
            error,
        };
        if let Some(out) = g.out.as_mut() {
            let res = serde_json::to_writer(&mut *out, &op)
                .map_err(std::io::Error::from)
                .and_then(|_| out.write_all(b"\n"));
            if let Err(e) = res {
                g.write_error.get_or_insert_with(|| e.to_string());
            }
        }
        g.ops.push(op.clone());
        op
    }

    pub fn flush(&self) -> Result<(), String> {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(out) = g.out.as_mut() {
            if let Err(e) = out.flush() {
                g.write_error.get_or_insert_with(|| e.to_string());
            }
        }
        match &g.write_error {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    pub fn snapshot(&self) -> Vec<Op> {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .ops
            .clone()
    }
}

#[cfg(test)]
pub(crate) mod build {
    //! A tiny builder for hand-written histories in checker tests.
    use super::*;

    #[derive(Default)]
    pub struct H {
        pub ops: Vec<Op>,
    }

    impl H {
        pub fn new() -> H {
            H::default()
        }

        fn push(&mut self, p: u64, typ: OpType, f: F, value: Value, node: &str) -> u64 {
            let index = self.ops.len() as u64;
            self.ops.push(Op {
                index,
                time: index * 1_000_000,
                process: Process::Client(p),
                typ,
                f,
                value,
                node: Some(node.to_owned()),
                error: None,
            });
            index
        }

        pub fn invoke(&mut self, p: u64, f: F, value: Value) -> u64 {
            self.push(p, OpType::Invoke, f, value, "n1")
        }

        pub fn complete(&mut self, p: u64, typ: OpType, f: F, value: Value) -> u64 {
            self.push(p, typ, f, value, "n1")
        }

        pub fn invoke_on(&mut self, p: u64, f: F, value: Value, node: &str) -> u64 {
            self.push(p, OpType::Invoke, f, value, node)
        }

        pub fn complete_on(&mut self, p: u64, typ: OpType, f: F, value: Value, node: &str) -> u64 {
            self.push(p, typ, f, value, node)
        }

        /// invoke + completion in one go; returns the completion's index.
        pub fn op(&mut self, p: u64, typ: OpType, f: F, invoke: Value, done: Value) -> u64 {
            self.invoke(p, f, invoke);
            self.complete(p, typ, f, done)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_json_lines() {
        let mut h = build::H::new();
        h.op(
            0,
            OpType::Ok,
            F::Txn,
            Value::Txn(vec![Mop::Append(1, 2), Mop::R(1, None)]),
            Value::Txn(vec![Mop::Append(1, 2), Mop::R(1, Some(vec![1, 2]))]),
        );
        h.op(
            1,
            OpType::Ok,
            F::Read,
            Value::Balances(None),
            Value::Balances(Some([(0, 5), (1, 7)].into_iter().collect())),
        );
        let mut buf = Vec::new();
        write_jsonl(&h.ops, &mut buf).unwrap();
        let dir = std::env::temp_dir().join(format!("trireme-hist-{}", std::process::id()));
        std::fs::write(&dir, &buf).unwrap();
        let (back, notes) = read_jsonl(&dir).unwrap();
        std::fs::remove_file(&dir).ok();
        assert_eq!(back, h.ops);
        assert!(notes.is_empty());
        let first = String::from_utf8(buf).unwrap();
        assert!(
            first.starts_with(r#"{"index":0,"time":0,"process":0,"type":"invoke","f":"txn""#),
            "{first}"
        );
    }

    #[test]
    fn pairing_finds_completions_and_rejects_malformed_histories() {
        let mut h = build::H::new();
        h.invoke(0, F::Add, Value::Element(1));
        h.invoke(1, F::Add, Value::Element(2));
        h.complete(1, OpType::Fail, F::Add, Value::Element(2));
        h.complete(0, OpType::Ok, F::Add, Value::Element(1));
        h.invoke(2, F::Add, Value::Element(3));
        let p = pair(&h.ops).unwrap();
        assert_eq!(p.len(), 3);
        assert_eq!(p[0].typ(), OpType::Ok);
        assert_eq!(p[1].typ(), OpType::Fail);
        assert_eq!(p[2].typ(), OpType::Info, "no completion counts as info");

        let mut bad = build::H::new();
        bad.complete(0, OpType::Ok, F::Add, Value::Element(1));
        assert!(pair(&bad.ops).is_err());
        let mut bad = build::H::new();
        bad.invoke(0, F::Add, Value::Element(1));
        bad.invoke(0, F::Add, Value::Element(2));
        assert!(pair(&bad.ops).is_err());
    }

    #[test]
    fn recorder_assigns_dense_indices_and_streams() {
        let path = std::env::temp_dir().join(format!("trireme-rec-{}", std::process::id()));
        let rec = Recorder::new(Instant::now(), Some(std::fs::File::create(&path).unwrap()));
        rec.record(
            Process::Client(0),
            OpType::Invoke,
            F::Read,
            Value::Balances(None),
            Some("n1"),
            None,
        );
        rec.record(
            Process::Nemesis,
            OpType::Info,
            F::Fault,
            Value::None,
            None,
            Some("boom".into()),
        );
        rec.flush().unwrap();
        let (ops, _) = read_jsonl(&path).unwrap();
        std::fs::remove_file(&path).ok();
        assert_eq!(ops.iter().map(|o| o.index).collect::<Vec<_>>(), vec![0, 1]);
        assert_eq!(ops[1].process, Process::Nemesis);
        assert!(ops[0].time <= ops[1].time);
    }
}
