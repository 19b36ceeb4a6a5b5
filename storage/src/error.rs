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
    /// The on-disk engine failed (I/O error, full disk, a poisoned engine
    /// after a failed write). The node cannot go on safely; restarting it
    /// recovers from the ordered log.
    #[error("the storage engine failed: {0}")]
    Engine(String),
    /// Stored bytes do not decode: the data directory is damaged. The way
    /// back is a state transfer from another member into an empty one.
    #[error("stored data is damaged: {0}")]
    Corrupt(String),
}

pub type StorageResult<T> = Result<T, StorageError>;
