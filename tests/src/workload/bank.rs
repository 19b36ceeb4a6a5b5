//! The bank workload: money moves between accounts, and its total must never
//! change.
//!
//! Schema: `accounts (id INT PRIMARY KEY, balance BIGINT NOT NULL)`, rows
//! `0..accounts`, each starting with `initial`.
//!
//! - `transfer {from, to, amount}`: `BEGIN`, read both balances, refuse
//!   (rollback, `fail`) if `from` would go negative, write both *computed*
//!   balances (`UPDATE ... SET balance = <value read - amount>`, so a lost
//!   update shows as a wrong total), `COMMIT`.
//! - `read`: `START TRANSACTION READ ONLY`, `SELECT id, balance FROM
//!   accounts`, `COMMIT`.
//!
//! Checked by [`crate::checker::bank`].

use std::collections::BTreeMap;

use super::{finish, OpError, Session, Stage};
use crate::checker::bank::BankOpts;
use crate::checker::CheckResult;
use crate::history::{Op, Value, F};
use crate::rng::Rng;

pub struct Bank {
    pub accounts: u32,
    pub initial: i64,
}

impl Bank {
    pub fn new(accounts: u32, initial: i64) -> Bank {
        Bank { accounts, initial }
    }

    pub fn setup(&self) -> Vec<String> {
        let rows: Vec<String> = (0..self.accounts)
            .map(|i| format!("({i}, {})", self.initial))
            .collect();
        vec![
            "CREATE TABLE accounts (id INT PRIMARY KEY, balance BIGINT NOT NULL)".into(),
            format!(
                "INSERT INTO accounts (id, balance) VALUES {}",
                rows.join(", ")
            ),
        ]
    }

    pub fn generate(&self, rng: &mut Rng) -> (F, Value) {
        if rng.chance(0.4) {
            return (F::Read, Value::Balances(None));
        }
        let from = rng.below(self.accounts as u64) as u32;
        let to = (from + 1 + rng.below(self.accounts as u64 - 1) as u32) % self.accounts;
        (
            F::Transfer,
            Value::Transfer {
                from,
                to,
                amount: rng.range(1, 5) as i64,
            },
        )
    }

    pub async fn invoke(&self, s: &mut Session, f: F, v: &Value) -> Result<Value, OpError> {
        match (f, v) {
            (F::Read | F::FinalRead, _) => {
                s.exec("START TRANSACTION READ ONLY", Stage::Body).await?;
                let body = s
                    .query::<(u32, i64)>("SELECT id, balance FROM accounts", Stage::Body)
                    .await;
                let rows = finish(s, body).await?;
                Ok(Value::Balances(Some(
                    rows.into_iter().collect::<BTreeMap<_, _>>(),
                )))
            }
            (F::Transfer, Value::Transfer { from, to, amount }) => {
                s.exec("BEGIN", Stage::Body).await?;
                let body = async {
                    let b = |id| format!("SELECT balance FROM accounts WHERE id = {id}");
                    let fb = s.query::<i64>(&b(from), Stage::Body).await?;
                    let tb = s.query::<i64>(&b(to), Stage::Body).await?;
                    let (Some(fb), Some(tb)) = (fb.first().copied(), tb.first().copied()) else {
                        return Err(OpError::refused("account row missing"));
                    };
                    if fb < *amount {
                        return Err(OpError::refused("insufficient funds"));
                    }
                    let u =
                        |id, bal| format!("UPDATE accounts SET balance = {bal} WHERE id = {id}");
                    s.exec(&u(from, fb - amount), Stage::Body).await?;
                    s.exec(&u(to, tb + amount), Stage::Body).await?;
                    Ok(())
                }
                .await;
                finish(s, body).await?;
                Ok(v.clone())
            }
            _ => Err(OpError::refused("bank: unexpected operation")),
        }
    }

    pub fn check(&self, ops: &[Op], nodes: &[String]) -> CheckResult {
        crate::checker::bank::check(
            ops,
            &BankOpts {
                accounts: (0..self.accounts).collect(),
                total: self.initial * self.accounts as i64,
                negative_allowed: false,
                nodes: nodes.to_vec(),
            },
        )
    }
}
