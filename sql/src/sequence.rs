//! Sequences (MariaDB's CREATE SEQUENCE, NEXTVAL / NEXT VALUE FOR,
//! LASTVAL / PREVIOUS VALUE FOR, SETVAL), safe when every node takes
//! writes.
//!
//! A sequence is a one-row table, as in MariaDB (`SELECT * FROM s` shows
//! `next_not_cached_value`, ...), marked by its engine name. Values are
//! handed out from a block cached by the node; a node reserves a block by
//! moving `next_not_cached_value` past it in a small transaction of its own
//! that is replicated and certified like any other, so two nodes reserving
//! at once conflict and one retries: blocks never overlap, and no value is
//! handed out twice anywhere in the cluster. As in MariaDB, a reservation
//! is not undone by the ROLLBACK of the statement that caused it, and
//! cached values a node never handed out are skipped after a restart.
//!
//! Statements run synchronously, reservations need the replication layer:
//! when a statement finds a block empty it stops with a request
//! ([`take_request`]); the session reserves (or runs the SETVAL) and runs
//! the statement again. The statement's context lives in a thread-local
//! while it runs ([`begin`], [`finish`]).

use std::cell::RefCell;
use std::collections::HashMap;

use parking_lot::Mutex;
use trireme_storage::catalog::{ColumnDef, TableDef};
use trireme_storage::collation::Collation;
use trireme_storage::types::{IntWidth, SqlType};
use trireme_storage::value::Value;

use crate::error::{SqlError, SqlResult};

/// The engine name that marks a table as a sequence.
pub const ENGINE: &str = "SEQUENCE";
/// The key of a sequence's one row.
pub const ROW_KEY: &[u8] = &[0];

/// (database, sequence name).
pub type SeqKey = (String, String);

/// A sequence's row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct State {
    pub next_not_cached: i64,
    pub min: i64,
    pub max: i64,
    pub start: i64,
    pub increment: i64,
    pub cache: u64,
    pub cycle: bool,
    pub cycle_count: i64,
}

/// 4089: a name used as a sequence is a table.
pub fn not_a_sequence(db: &str, name: &str) -> SqlError {
    SqlError::new(4089, "42S02", format!("'{db}.{name}' is not a SEQUENCE"))
}

/// CREATE SEQUENCE's options, as written (None: not given).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Options {
    pub start: Option<i64>,
    pub increment: Option<i64>,
    pub min: Option<i64>,
    pub max: Option<i64>,
    pub cache: Option<u64>,
    pub cycle: bool,
}

impl Options {
    /// The new sequence's row, with MariaDB's defaults and checks (4082
    /// for options that contradict each other).
    pub fn state(&self, name: &str) -> SqlResult<State> {
        let increment = self.increment.unwrap_or(1);
        let (min, max) = if increment >= 0 {
            (self.min.unwrap_or(1), self.max.unwrap_or(i64::MAX - 1))
        } else {
            (self.min.unwrap_or(i64::MIN + 1), self.max.unwrap_or(-1))
        };
        let start = self.start.unwrap_or(if increment >= 0 { min } else { max });
        let cache = self.cache.unwrap_or(1000);
        if min >= max || start < min || start > max || cache >= u64::MAX / 2 {
            return Err(SqlError::new(
                4085,
                "HY000",
                format!("Sequence '{name}' has out of range value for options"),
            ));
        }
        Ok(State {
            next_not_cached: start,
            min,
            max,
            start,
            increment,
            cache,
            cycle: self.cycle,
            cycle_count: 0,
        })
    }
}

impl State {
    pub fn to_row(&self) -> Vec<Value> {
        vec![
            Value::Int(self.next_not_cached),
            Value::Int(self.min),
            Value::Int(self.max),
            Value::Int(self.start),
            Value::Int(self.increment),
            Value::UInt(self.cache),
            Value::UInt(u64::from(self.cycle)),
            Value::Int(self.cycle_count),
        ]
    }

    pub fn from_row(row: &[Value]) -> SqlResult<State> {
        let int = |i: usize| {
            row.get(i)
                .and_then(Value::to_i64)
                .ok_or_else(|| SqlError::internal("a sequence row is damaged"))
        };
        Ok(State {
            next_not_cached: int(0)?,
            min: int(1)?,
            max: int(2)?,
            start: int(3)?,
            increment: int(4)?,
            cache: int(5)?.max(0) as u64,
            cycle: int(6)? != 0,
            cycle_count: int(7)?,
        })
    }

    /// The step between values: INCREMENT BY 0 steps by one here (MariaDB
    /// would use auto_increment_increment; blocks already keep nodes apart).
    fn step(&self) -> i64 {
        if self.increment == 0 {
            1
        } else {
            self.increment
        }
    }

    /// Reserves the next block: its first value, how many values it holds,
    /// and the row that records it. Err: the sequence has run out (4084).
    /// (A block never spans a cycle: values keep their order within it.)
    pub fn reserve(&self, name: &str) -> SqlResult<(Block, State)> {
        let step = self.step();
        let mut next = self.state_after_cycle(name)?;
        let first = next.next_not_cached;
        let room = if step > 0 {
            (i128::from(self.max) - i128::from(first)) / i128::from(step) + 1
        } else {
            (i128::from(first) - i128::from(self.min)) / i128::from(-step) + 1
        };
        let count = (self.cache.max(1) as i128).min(room).max(1) as u64;
        next.next_not_cached = (i128::from(first) + i128::from(step) * count as i128)
            .clamp(i128::from(i64::MIN), i128::from(i64::MAX))
            as i64;
        Ok((
            Block {
                next: first,
                left: count,
                step,
            },
            next,
        ))
    }

    /// This row, or the row of the next cycle when the last one is used up.
    fn state_after_cycle(&self, name: &str) -> SqlResult<State> {
        let step = self.step();
        let exhausted = if step > 0 {
            self.next_not_cached > self.max
        } else {
            self.next_not_cached < self.min
        };
        if !exhausted {
            return Ok(self.clone());
        }
        if !self.cycle {
            return Err(SqlError::new(
                4084,
                "HY000",
                format!("Sequence '{name}' has run out"),
            ));
        }
        Ok(State {
            next_not_cached: if step > 0 { self.min } else { self.max },
            cycle_count: self.cycle_count + 1,
            ..self.clone()
        })
    }

    /// SETVAL(s, n, used, round): the row after it, or None when `n` is
    /// behind the sequence (MariaDB then changes nothing and answers NULL).
    pub fn set(&self, n: i64, used: bool, round: i64) -> Option<State> {
        let step = self.step();
        if round < self.cycle_count {
            return None;
        }
        let behind = if step > 0 {
            n < self.next_not_cached
        } else {
            n > self.next_not_cached
        };
        if round == self.cycle_count && behind {
            return None;
        }
        Some(State {
            next_not_cached: if used { n.saturating_add(step) } else { n },
            cycle_count: round,
            ..self.clone()
        })
    }
}

/// Values a node may hand out: `next`, `next + step`, ... (`left` of them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Block {
    pub next: i64,
    pub left: u64,
    pub step: i64,
}

/// The columns of a sequence table, as MariaDB shows them.
pub fn table_def(db: &str, name: &str, collation: Collation, version: u64) -> TableDef {
    let big = SqlType::Int {
        width: IntWidth::Big,
        unsigned: false,
    };
    let col = |n: &str, ty: SqlType, comment: &str| {
        let mut c = ColumnDef::new(n, ty);
        c.nullable = false;
        c.comment = comment.to_string();
        c
    };
    TableDef {
        db: db.to_string(),
        name: name.to_string(),
        columns: vec![
            col("next_not_cached_value", big.clone(), ""),
            col("minimum_value", big.clone(), ""),
            col("maximum_value", big.clone(), ""),
            col(
                "start_value",
                big.clone(),
                "start value when sequences is created or value if RESTART is used",
            ),
            col("increment", big.clone(), "increment value"),
            col(
                "cache_size",
                SqlType::Int {
                    width: IntWidth::Big,
                    unsigned: true,
                },
                "",
            ),
            col(
                "cycle_option",
                SqlType::Int {
                    width: IntWidth::Tiny,
                    unsigned: true,
                },
                "0 if no cycles are allowed, 1 if the sequence should begin a new cycle when maximum_value is passed",
            ),
            col("cycle_count", big, "How many cycles have been done"),
        ],
        primary: None,
        indexes: Vec::new(),
        next_index_id: 1,
        engine: ENGINE.into(),
        collation,
        comment: String::new(),
        foreign_keys: Vec::new(),
        checks: Vec::new(),
        version,
    }
}

pub fn is_sequence(def: &TableDef) -> bool {
    def.engine == ENGINE
}

/// SHOW CREATE SEQUENCE's text.
pub fn create_sql(name: &str, st: &State) -> String {
    format!(
        "CREATE SEQUENCE `{}` start with {} minvalue {} maxvalue {} increment by {} {} {} ENGINE=InnoDB",
        name.replace('`', "``"),
        st.start,
        st.min,
        st.max,
        st.increment,
        if st.cache > 0 {
            format!("cache {}", st.cache)
        } else {
            "nocache".into()
        },
        if st.cycle { "cycle" } else { "nocycle" }
    )
}

/// The blocks a node holds, by sequence, for the sequence's definition
/// version (a DDL that changes or recreates it makes them stale).
#[derive(Default)]
pub struct Cache {
    blocks: Mutex<HashMap<SeqKey, (u64, Block)>>,
}

impl Cache {
    /// SETVAL answered from the node's block: None when the block cannot
    /// tell (no block, or `n` past its end: the row must change); Some(None)
    /// when `n` is behind the next value (MariaDB answers NULL); Some(n)
    /// when the block now continues after `n`.
    fn set_within(&self, key: &SeqKey, version: u64, n: i64, used: bool) -> Option<Option<i64>> {
        let mut g = self.blocks.lock();
        let (v, b) = g.get_mut(key)?;
        if *v != version || b.left == 0 {
            return None;
        }
        let pos = |x: i64| (i128::from(x) - i128::from(b.next)) / i128::from(b.step);
        let at = if used { n.saturating_add(b.step) } else { n };
        let ahead = (i128::from(n) - i128::from(b.next)) * i128::from(b.step.signum());
        if ahead < 0 {
            return Some(None);
        }
        let skip = pos(at);
        if skip >= i128::from(b.left) {
            return None;
        }
        b.left -= skip as u64;
        b.next = at;
        Some(Some(n))
    }

    /// The next value of `key`'s block, if it has one for `version`.
    fn take(&self, key: &SeqKey, version: u64) -> Option<i64> {
        let mut g = self.blocks.lock();
        let (v, b) = g.get_mut(key)?;
        if *v != version || b.left == 0 {
            return None;
        }
        let n = b.next;
        b.left -= 1;
        b.next = b.next.saturating_add(b.step);
        Some(n)
    }

    pub fn put(&self, key: SeqKey, version: u64, block: Block) {
        self.blocks.lock().insert(key, (version, block));
    }

    pub fn forget(&self, key: &SeqKey) {
        self.blocks.lock().remove(key);
    }
}

/// What a statement needs done before it can run again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// Reserve a block of `key`.
    Reserve(SeqKey),
    /// SETVAL(key, value, used, round).
    Set {
        key: SeqKey,
        value: i64,
        used: bool,
        round: i64,
    },
}

/// A statement's view of the session's sequences while it runs.
pub struct Context {
    pub cache: std::sync::Arc<Cache>,
    /// LASTVAL per sequence: the session's, updated as values are taken.
    pub last: HashMap<SeqKey, i64>,
    /// SETVAL calls the session has run, with their answers, waiting for
    /// the statement's rerun to pick them up.
    pub set_done: HashMap<(SeqKey, i64), Option<i64>>,
    pub request: Option<Request>,
    /// Values an earlier run of this statement took before it stopped:
    /// handed out again first, in the same order, so every run gets
    /// further than the last.
    pub replay: HashMap<SeqKey, std::collections::VecDeque<i64>>,
    /// Values this run took, by sequence.
    pub taken: HashMap<SeqKey, Vec<i64>>,
}

impl Context {
    pub fn new(cache: std::sync::Arc<Cache>) -> Context {
        Context {
            cache,
            last: HashMap::new(),
            set_done: HashMap::new(),
            request: None,
            replay: HashMap::new(),
            taken: HashMap::new(),
        }
    }
}

thread_local! {
    static CURRENT: RefCell<Option<Context>> = const { RefCell::new(None) };
}

/// Installs the context of the statement about to run on this thread.
pub fn begin(ctx: Context) {
    CURRENT.with(|c| *c.borrow_mut() = Some(ctx));
}

/// Removes this thread's statement context, if any.
pub fn finish() -> Option<Context> {
    CURRENT.with(|c| c.borrow_mut().take())
}

/// The error a statement stops with while it waits for a request.
fn pending() -> SqlError {
    SqlError::new(
        1105,
        "HY000",
        "a sequence needs values reserved first (internal; the statement is run again)",
    )
}

fn with_ctx<T>(f: impl FnOnce(&mut Context) -> SqlResult<T>) -> SqlResult<T> {
    CURRENT.with(|c| match c.borrow_mut().as_mut() {
        Some(ctx) => f(ctx),
        None => Err(SqlError::internal(
            "a sequence function outside a statement",
        )),
    })
}

fn key_of(args: &[Value]) -> SqlResult<(SeqKey, u64)> {
    match args {
        [Value::Str(d), Value::Str(n), v, ..] => Ok((
            (d.clone(), n.clone()),
            v.to_i64().unwrap_or(0).max(0) as u64,
        )),
        _ => Err(SqlError::internal("bad sequence arguments")),
    }
}

/// NEXTVAL: the next value of the node's block, or a request for one.
pub fn next_value(args: &[Value]) -> SqlResult<Value> {
    let (key, version) = key_of(args)?;
    with_ctx(|ctx| {
        let replayed = ctx.replay.get_mut(&key).and_then(|q| q.pop_front());
        match replayed.or_else(|| ctx.cache.take(&key, version)) {
            Some(n) => {
                ctx.taken.entry(key.clone()).or_default().push(n);
                ctx.last.insert(key, n);
                Ok(Value::Int(n))
            }
            None => {
                ctx.request = Some(Request::Reserve(key));
                Err(pending())
            }
        }
    })
}

/// LASTVAL: the session's last value of the sequence, or NULL.
pub fn last_value(args: &[Value]) -> SqlResult<Value> {
    let (key, _) = key_of(args)?;
    with_ctx(|ctx| Ok(ctx.last.get(&key).map_or(Value::Null, |n| Value::Int(*n))))
}

/// SETVAL: its answer once the session has run it, else a request.
pub fn set_value(args: &[Value]) -> SqlResult<Value> {
    let (key, version) = key_of(args)?;
    let int = |i: usize, default: i64| args.get(i).and_then(Value::to_i64).unwrap_or(default);
    let Some(value) = args.get(3).and_then(Value::to_i64) else {
        return Ok(Value::Null);
    };
    let used = int(4, 1) != 0;
    let round = int(5, 0);
    let answer = |a: Option<i64>| a.map_or(Value::Null, Value::Int);
    with_ctx(|ctx| match ctx.set_done.remove(&(key.clone(), value)) {
        Some(a) => Ok(answer(a)),
        None if round == 0 => match ctx.cache.set_within(&key, version, value, used) {
            Some(a) => Ok(answer(a)),
            None => {
                ctx.request = Some(Request::Set {
                    key,
                    value,
                    used,
                    round,
                });
                Err(pending())
            }
        },
        None => {
            ctx.request = Some(Request::Set {
                key,
                value,
                used,
                round,
            });
            Err(pending())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(inc: i64, cache: u64, max: i64, cycle: bool) -> State {
        Options {
            start: Some(1),
            increment: Some(inc),
            min: Some(1),
            max: Some(max),
            cache: Some(cache),
            cycle,
        }
        .state("s")
        .unwrap()
    }

    #[test]
    fn blocks_follow_each_other_and_never_overlap() {
        let s = state(10, 3, 1000, false);
        let (b1, s) = s.reserve("s").unwrap();
        assert_eq!((b1.next, b1.left, b1.step), (1, 3, 10));
        assert_eq!(s.next_not_cached, 31);
        let (b2, s) = s.reserve("s").unwrap();
        assert_eq!(b2.next, 31);
        assert_eq!(s.next_not_cached, 61);
    }

    #[test]
    fn a_sequence_runs_out_or_cycles() {
        let s = state(1, 1000, 3, false);
        let (b, s) = s.reserve("s").unwrap();
        assert_eq!((b.next, b.left), (1, 3));
        assert_eq!(s.reserve("s").unwrap_err().code, 4084);
        let c = state(1, 2, 3, true);
        let (_, c) = c.reserve("s").unwrap();
        let (_, c) = c.reserve("s").unwrap();
        let (b, c) = c.reserve("s").unwrap();
        assert_eq!((b.next, c.cycle_count), (1, 1));
    }

    #[test]
    fn setval_moves_forward_only() {
        let s = state(1, 10, 1000, false);
        let t = s.set(100, true, 0).unwrap();
        assert_eq!(t.next_not_cached, 101);
        assert_eq!(t.set(50, true, 0), None);
    }

    #[test]
    fn contradicting_options_are_4085() {
        let o = Options {
            min: Some(10),
            max: Some(5),
            ..Options::default()
        };
        assert_eq!(o.state("s").unwrap_err().code, 4085);
    }

    #[test]
    fn values_come_from_the_block_then_ask_for_more() {
        let cache = std::sync::Arc::new(Cache::default());
        let key = ("d".to_string(), "s".to_string());
        cache.put(
            key.clone(),
            7,
            Block {
                next: 5,
                left: 2,
                step: 5,
            },
        );
        begin(Context::new(cache));
        let args = [
            Value::Str("d".into()),
            Value::Str("s".into()),
            Value::Int(7),
        ];
        assert_eq!(next_value(&args).unwrap(), Value::Int(5));
        assert_eq!(next_value(&args).unwrap(), Value::Int(10));
        assert_eq!(last_value(&args).unwrap(), Value::Int(10));
        assert!(next_value(&args).is_err());
        let ctx = finish().unwrap();
        assert_eq!(ctx.request, Some(Request::Reserve(key.clone())));
        assert_eq!(ctx.taken.get(&key), Some(&vec![5, 10]));
        // The run again gets the same values first.
        let mut again = Context::new(ctx.cache.clone());
        again.replay.insert(key.clone(), vec![5, 10].into());
        begin(again);
        assert_eq!(next_value(&args).unwrap(), Value::Int(5));
        assert_eq!(next_value(&args).unwrap(), Value::Int(10));
        finish();
    }

    #[test]
    fn setval_inside_the_block_moves_it() {
        let cache = Cache::default();
        let key = ("d".to_string(), "s".to_string());
        let block = Block {
            next: 10,
            left: 10,
            step: 10,
        };
        cache.put(key.clone(), 1, block);
        assert_eq!(cache.set_within(&key, 1, 5, true), Some(None));
        assert_eq!(cache.set_within(&key, 1, 50, true), Some(Some(50)));
        assert_eq!(cache.take(&key, 1), Some(60));
        assert_eq!(cache.set_within(&key, 1, 5000, true), None);
    }
}
