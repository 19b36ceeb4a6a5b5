//! What can go wrong inside the store, by meaning. The SQL layer chooses the
//! MySQL code a client sees for each (`trireme_sql::error`).

use thiserror::Error;

#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum StorageError {
    /// A conflicting write-set was ordered first and doomed this transaction
    /// (a BF abort); only a retry of the whole transaction can succeed.
    #[error("the transaction was aborted by a conflicting write")]
    Conflict,
    /// The table was rewritten by a DDL newer than the transaction's snapshot.
    #[error("the table definition changed after the snapshot was taken")]
    TableDefChanged,
    #[error("savepoint {0} does not exist")]
    NoSuchSavepoint(String),
}

pub type StorageResult<T> = Result<T, StorageError>;
