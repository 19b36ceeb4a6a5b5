//! The list-append workload (Elle's): transactions of appends to and reads
//! of lists under integer keys.
//!
//! Schema: `lists (k BIGINT PRIMARY KEY, v TEXT NOT NULL)`; a list is its
//! elements joined by commas. An append is
//! `INSERT INTO lists (k, v) VALUES (k, 'x') ON DUPLICATE KEY UPDATE v =
//! CONCAT(v, ',', 'x')`, a read is `SELECT v FROM lists WHERE k = k` (no row
//! is the empty list). A transaction of reads only runs as `START
//! TRANSACTION READ ONLY`; others as `BEGIN`.
//!
//! Keys rotate as in Elle: a pool of `active` keys is in use; once a key has
//! had `max_writes` appends it is retired and a fresh key takes its place,
//! so lists stay short and many keys get a full history. Values are unique
//! per key (1, 2, 3, ... in generation order).
//!
//! Checked by [`crate::checker::list_append`].

use std::collections::BTreeMap;
use std::sync::Mutex;

use super::{finish, OpError, Session, Stage};
use crate::history::{Mop, Value, F};
use crate::rng::Rng;

pub struct ListAppend {
    max_writes: u64,
    max_txn_len: u64,
    keys: Mutex<Keys>,
}

struct Keys {
    active: Vec<u64>,
    next_key: u64,
    writes: BTreeMap<u64, u64>,
}

impl ListAppend {
    pub fn new(active: u64, max_writes: u64, max_txn_len: u64) -> ListAppend {
        ListAppend {
            max_writes,
            max_txn_len,
            keys: Mutex::new(Keys {
                active: (0..active).collect(),
                next_key: active,
                writes: BTreeMap::new(),
            }),
        }
    }

    pub fn setup(&self) -> Vec<String> {
        vec!["CREATE TABLE lists (k BIGINT PRIMARY KEY, v TEXT NOT NULL)".into()]
    }

    pub fn generate(&self, rng: &mut Rng) -> (F, Value) {
        let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        let n = rng.range(1, self.max_txn_len);
        let mut mops = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let slot = rng.below(keys.active.len() as u64) as usize;
            let k = keys.active[slot];
            if rng.chance(0.5) {
                mops.push(Mop::R(k, None));
            } else {
                let w = keys.writes.entry(k).or_insert(0);
                *w += 1;
                let v = *w;
                mops.push(Mop::Append(k, v));
                if v >= self.max_writes {
                    let fresh = keys.next_key;
                    keys.next_key += 1;
                    keys.active[slot] = fresh;
                }
            }
        }
        (F::Txn, Value::Txn(mops))
    }

    /// A read of every key ever used.
    pub fn final_read(&self) -> Value {
        let keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        Value::Txn((0..keys.next_key).map(|k| Mop::R(k, None)).collect())
    }

    pub async fn invoke(&self, s: &mut Session, f: F, v: &Value) -> Result<Value, OpError> {
        let Value::Txn(mops) = v else {
            return Err(OpError::refused("list-append: unexpected operation"));
        };
        if f == F::FinalRead {
            // One statement, one snapshot, every key.
            s.exec("START TRANSACTION READ ONLY", Stage::Body).await?;
            let body = s
                .query::<(u64, String)>("SELECT k, v FROM lists", Stage::Body)
                .await;
            let rows: BTreeMap<u64, String> = finish(s, body).await?.into_iter().collect();
            let done = mops
                .iter()
                .map(|m| {
                    Mop::R(
                        m.key(),
                        Some(
                            rows.get(&m.key())
                                .map(|t| parse_list(t))
                                .unwrap_or_default(),
                        ),
                    )
                })
                .collect();
            return Ok(Value::Txn(done));
        }
        let read_only = mops.iter().all(|m| matches!(m, Mop::R(..)));
        s.exec(
            if read_only {
                "START TRANSACTION READ ONLY"
            } else {
                "BEGIN"
            },
            Stage::Body,
        )
        .await?;
        let body = async {
            let mut done = Vec::with_capacity(mops.len());
            for m in mops {
                match m {
                    Mop::Append(k, x) => {
                        s.exec(
                            &format!(
                                "INSERT INTO lists (k, v) VALUES ({k}, '{x}') ON DUPLICATE KEY UPDATE v = CONCAT(v, ',', '{x}')"
                            ),
                            Stage::Body,
                        )
                        .await?;
                        done.push(m.clone());
                    }
                    Mop::R(k, _) => {
                        let rows = s.query::<String>(&format!("SELECT v FROM lists WHERE k = {k}"), Stage::Body).await?;
                        let list = rows.first().map(|t| parse_list(t)).unwrap_or_default();
                        done.push(Mop::R(*k, Some(list)));
                    }
                }
            }
            Ok(done)
        }
        .await;
        Ok(Value::Txn(finish(s, body).await?))
    }
}

/// Parses "1,2,3". An element that is not a number becomes `u64::MAX`, a
/// value no transaction appends, so the checker reports it as a garbage read
/// instead of the harness hiding it.
pub fn parse_list(t: &str) -> Vec<u64> {
    if t.is_empty() {
        return Vec::new();
    }
    t.split(',')
        .map(|x| x.trim().parse().unwrap_or(u64::MAX))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_rotate_and_values_are_unique_per_key() {
        let w = ListAppend::new(2, 3, 4);
        let mut rng = Rng::new(5);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            let (_, Value::Txn(mops)) = w.generate(&mut rng) else {
                panic!()
            };
            for m in mops {
                if let Mop::Append(k, v) = m {
                    assert!(v <= 3);
                    assert!(seen.insert((k, v)), "({k}, {v}) appended twice");
                }
            }
        }
        let Value::Txn(f) = w.final_read() else {
            panic!()
        };
        assert!(f.len() > 10, "keys rotated: {}", f.len());
    }

    #[test]
    fn lists_parse_and_garbage_is_visible() {
        assert_eq!(parse_list(""), Vec::<u64>::new());
        assert_eq!(parse_list("1,22,3"), vec![1, 22, 3]);
        assert_eq!(parse_list("1,x"), vec![1, u64::MAX]);
    }
}
