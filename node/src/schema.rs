//! Replication's schema changes, applied with the SQL engine.

use trireme_sql::error::SqlResult;
use trireme_storage::value::DateTime;
use trireme_storage::Store;

use crate::repl::SchemaChange;

/// Applies an ordered DDL statement with `trireme_sql::ddl`.
pub struct SqlSchema;

impl SchemaChange for SqlSchema {
    fn apply(
        &self,
        store: &Store,
        sql: &str,
        db: Option<&str>,
        seqno: u64,
        now: DateTime,
    ) -> SqlResult<()> {
        trireme_sql::ddl::apply(store, sql, db, seqno, now)
    }
}
