//! The set workload: unique inserts, and every acknowledged one must survive.
//!
//! Schema: `elements (v BIGINT PRIMARY KEY)`.
//!
//! - `add v`: `BEGIN; INSERT INTO elements (v) VALUES (v); COMMIT`. Elements
//!   come from one counter shared by all clients, so each is attempted once.
//! - `read`: `START TRANSACTION READ ONLY; SELECT v FROM elements; COMMIT`.
//!
//! Checked by [`crate::checker::set`].

use std::sync::atomic::{AtomicU64, Ordering};

use super::{finish, OpError, Session, Stage};
use crate::history::{Value, F};
use crate::rng::Rng;

pub struct SetWorkload {
    next: AtomicU64,
}

impl Default for SetWorkload {
    fn default() -> Self {
        SetWorkload::new()
    }
}

impl SetWorkload {
    pub fn new() -> SetWorkload {
        SetWorkload {
            next: AtomicU64::new(0),
        }
    }

    pub fn setup(&self) -> Vec<String> {
        vec!["CREATE TABLE elements (v BIGINT PRIMARY KEY)".into()]
    }

    pub fn generate(&self, rng: &mut Rng) -> (F, Value) {
        if rng.chance(0.05) {
            (F::Read, Value::Elements(None))
        } else {
            (
                F::Add,
                Value::Element(self.next.fetch_add(1, Ordering::Relaxed)),
            )
        }
    }

    pub async fn invoke(&self, s: &mut Session, f: F, v: &Value) -> Result<Value, OpError> {
        match (f, v) {
            (F::Read | F::FinalRead, _) => {
                s.exec("START TRANSACTION READ ONLY", Stage::Body).await?;
                let body = s.query::<u64>("SELECT v FROM elements", Stage::Body).await;
                let mut rows = finish(s, body).await?;
                rows.sort_unstable();
                Ok(Value::Elements(Some(rows)))
            }
            (F::Add, Value::Element(e)) => {
                s.exec("BEGIN", Stage::Body).await?;
                let body = s
                    .exec(
                        &format!("INSERT INTO elements (v) VALUES ({e})"),
                        Stage::Body,
                    )
                    .await;
                finish(s, body).await?;
                Ok(v.clone())
            }
            _ => Err(OpError::refused("set: unexpected operation")),
        }
    }
}
