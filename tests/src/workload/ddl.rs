//! The DDL workload: schema changes racing with writes, on every node.
//!
//! Each client owns its tables (`c<slot>_g<generation>`) and keeps changing
//! them while it writes into them:
//!
//! - `create`: `CREATE TABLE IF NOT EXISTS c3_g0 (id BIGINT PRIMARY KEY, v
//!   BIGINT NOT NULL)` (always the first operation on a new generation);
//! - `add-column`: `ALTER TABLE ... ADD COLUMN cN TIMESTAMP DEFAULT
//!   CURRENT_TIMESTAMP` (or `DATETIME DEFAULT CURRENT_TIMESTAMP`, or a
//!   `BIGINT` with a constant default): existing rows get the default, which
//!   every node must fill in identically;
//! - `add-index`: `ALTER TABLE ... ADD INDEX ixN (v)` or `CREATE INDEX`;
//! - `drop`: `DROP TABLE IF EXISTS ...`; the client then moves on to the
//!   next generation's table, so no operation ever targets a dropped
//!   table's name again;
//! - `insert`: `BEGIN; INSERT INTO ... (id, v) VALUES (id, id); COMMIT`,
//!   with ids unique over the run.
//!
//! A DDL statement runs alone (autocommit, total order isolation). Its
//! outcome: a definite refusal (no such table, duplicate column, syntax /
//! unsupported, connection refused) is `fail`; any other error (not primary,
//! timeout, lost connection, outcome unknown) is `info`, since the
//! statement may have been ordered.
//!
//! The final read lists the database's tables and the ids in each, in one
//! read-only transaction. Checked by [`crate::checker::ddl`]; the run's
//! end-of-run consistency check (checksums and `SHOW CREATE TABLE` on every
//! node) catches nodes whose schema or rows diverged.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use super::{finish, OpError, Session, Stage};
use crate::history::{Value, F};
use crate::rng::Rng;

/// A table every node must see before the clients start.
pub const MARKER_TABLE: &str = "ddl_marker";

/// Server error codes that mean a DDL statement was refused outright (it
/// had no effect anywhere).
const DEFINITE_DDL_ERRORS: &[u16] = &[
    1050, // table exists
    1051, // unknown table
    1054, // unknown column
    1060, // duplicate column name
    1061, // duplicate key name
    1064, // syntax error
    1072, // key column doesn't exist
    1091, // can't drop
    1146, // no such table
    1235, // not supported
];

#[derive(Default)]
struct SlotState {
    generation: u64,
    created: bool,
}

pub struct DdlWorkload {
    next_id: AtomicU64,
    next_name: AtomicU64,
    slots: Mutex<HashMap<usize, SlotState>>,
}

impl Default for DdlWorkload {
    fn default() -> Self {
        DdlWorkload::new()
    }
}

/// The name of a client's table in one generation.
pub fn table_name(slot: usize, generation: u64) -> String {
    format!("c{slot}_g{generation}")
}

impl DdlWorkload {
    pub fn new() -> DdlWorkload {
        DdlWorkload {
            next_id: AtomicU64::new(0),
            next_name: AtomicU64::new(0),
            slots: Mutex::new(HashMap::new()),
        }
    }

    pub fn setup(&self) -> Vec<String> {
        vec![format!("CREATE TABLE {MARKER_TABLE} (id INT PRIMARY KEY)")]
    }

    pub fn generate(&self, slot: usize, rng: &mut Rng) -> (F, Value) {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        let st = slots.entry(slot).or_default();
        let table = table_name(slot, st.generation);
        let ddl = |kind: &str, sql: String| {
            (
                F::Ddl,
                Value::Ddl {
                    table: table.clone(),
                    kind: kind.into(),
                    sql,
                },
            )
        };
        if !st.created {
            st.created = true;
            return ddl(
                "create",
                format!(
                    "CREATE TABLE IF NOT EXISTS {table} (id BIGINT PRIMARY KEY, v BIGINT NOT NULL)"
                ),
            );
        }
        let n = self.next_name.fetch_add(1, Ordering::Relaxed);
        match rng.below(100) {
            0..=5 => ddl(
                "create",
                format!(
                    "CREATE TABLE IF NOT EXISTS {table} (id BIGINT PRIMARY KEY, v BIGINT NOT NULL)"
                ),
            ),
            6..=12 => {
                let col = match n % 3 {
                    0 => format!("c{n} TIMESTAMP DEFAULT CURRENT_TIMESTAMP"),
                    1 => format!("c{n} DATETIME DEFAULT CURRENT_TIMESTAMP"),
                    _ => format!("c{n} BIGINT NOT NULL DEFAULT {n}"),
                };
                ddl(
                    "add-column",
                    format!("ALTER TABLE {table} ADD COLUMN {col}"),
                )
            }
            13..=16 => {
                let sql = if n.is_multiple_of(2) {
                    format!("ALTER TABLE {table} ADD INDEX ix{n} (v)")
                } else {
                    format!("CREATE INDEX ix{n} ON {table} (v)")
                };
                ddl("add-index", sql)
            }
            17..=19 => {
                st.generation += 1;
                st.created = false;
                ddl("drop", format!("DROP TABLE IF EXISTS {table}"))
            }
            _ => (
                F::Insert,
                Value::Row {
                    table,
                    id: self.next_id.fetch_add(1, Ordering::Relaxed),
                },
            ),
        }
    }

    pub async fn invoke(&self, s: &mut Session, f: F, v: &Value) -> Result<Value, OpError> {
        match (f, v) {
            (F::FinalRead, _) => {
                s.exec("START TRANSACTION READ ONLY", Stage::Body).await?;
                let body = async {
                    let names = s
                        .query::<String>(
                            &format!(
                                "SELECT table_name FROM information_schema.tables WHERE table_schema = '{}'",
                                super::DB
                            ),
                            Stage::Body,
                        )
                        .await?;
                    let mut tables = BTreeMap::new();
                    for t in names.into_iter().filter(|t| t != MARKER_TABLE) {
                        let mut ids = s
                            .query::<u64>(&format!("SELECT id FROM `{t}`"), Stage::Body)
                            .await?;
                        ids.sort_unstable();
                        tables.insert(t, ids);
                    }
                    Ok(tables)
                }
                .await;
                let tables = finish(s, body).await?;
                Ok(Value::Tables(Some(tables)))
            }
            (F::Ddl, Value::Ddl { sql, .. }) => match s.exec(sql, Stage::Commit).await {
                Ok(()) => Ok(v.clone()),
                Err(mut e) => {
                    if e.code.is_some_and(|c| DEFINITE_DDL_ERRORS.contains(&c)) {
                        // Refused before it could take effect: a failure.
                        e.stage = Stage::Body;
                    }
                    Err(e)
                }
            },
            (F::Insert, Value::Row { table, id }) => {
                s.exec("BEGIN", Stage::Body).await?;
                let body = s
                    .exec(
                        &format!("INSERT INTO {table} (id, v) VALUES ({id}, {id})"),
                        Stage::Body,
                    )
                    .await;
                finish(s, body).await?;
                Ok(v.clone())
            }
            _ => Err(OpError::refused("ddl: unexpected operation")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_never_touches_a_table_after_dropping_it() {
        let w = DdlWorkload::new();
        let mut rng = Rng::new(5);
        let mut dropped: Vec<String> = Vec::new();
        let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
        for _ in 0..2_000 {
            let slot = rng.below(3) as usize;
            let (f, v) = w.generate(slot, &mut rng);
            let (table, kind) = match (&f, &v) {
                (F::Ddl, Value::Ddl { table, kind, .. }) => (table.clone(), kind.clone()),
                (F::Insert, Value::Row { table, .. }) => (table.clone(), "insert".into()),
                other => panic!("unexpected {other:?}"),
            };
            assert!(table.starts_with(&format!("c{slot}_g")), "{table}");
            assert!(!dropped.contains(&table), "{table} used after its drop");
            if kind == "drop" {
                dropped.push(table);
            }
            *kinds.entry(kind).or_default() += 1;
        }
        for k in ["create", "add-column", "add-index", "drop", "insert"] {
            assert!(kinds.get(k).copied().unwrap_or(0) > 0, "{k}: {kinds:?}");
        }
    }
}
