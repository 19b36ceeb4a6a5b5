//! Errors as the client sees them: a MySQL error code, its SQLSTATE and a
//! message.
//!
//! Inside the engine errors are built through the named constructors below, so
//! that the one table of codes lives here (STYLE.md item 6). Failures that are
//! not the client's doing and would differ between nodes (an apply failure)
//! never become a `SqlError`: they stop the node instead.

use std::fmt;

use trireme_storage::catalog::{ForeignKeyDef, TableDef};
use trireme_storage::StorageError;

/// An error returned to a client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqlError {
    pub code: u16,
    pub state: &'static str,
    pub message: String,
}

pub type SqlResult<T> = Result<T, SqlError>;

impl fmt::Display for SqlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ERROR {} ({}): {}", self.code, self.state, self.message)
    }
}

impl std::error::Error for SqlError {}

impl From<StorageError> for SqlError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::Conflict => SqlError::deadlock(),
            StorageError::TableDefChanged => SqlError::table_def_changed(),
            StorageError::NoSuchSavepoint(name) => SqlError::savepoint_missing(&name),
            // ER_GET_ERRNO ("Got error from storage engine"), as InnoDB
            // reports a failed or damaged tablespace.
            e @ (StorageError::Engine(_) | StorageError::Corrupt(_)) => {
                SqlError::new(1030, "HY000", e.to_string())
            }
        }
    }
}

impl SqlError {
    pub fn new(code: u16, state: &'static str, message: impl Into<String>) -> Self {
        SqlError {
            code,
            state,
            message: message.into(),
        }
    }

    /// Whether a retry of the whole transaction may succeed (certification
    /// failure, BF abort, snapshot too old).
    pub fn is_retryable(&self) -> bool {
        self.code == codes::LOCK_DEADLOCK
    }

    pub fn syntax(detail: impl fmt::Display) -> Self {
        Self::new(
            codes::PARSE,
            "42000",
            format!("You have an error in your SQL syntax; {detail}"),
        )
    }

    pub fn unsupported(what: impl fmt::Display) -> Self {
        Self::new(
            codes::NOT_SUPPORTED_YET,
            "42000",
            format!("This version of trireme doesn't yet support '{what}'"),
        )
    }

    pub fn no_db() -> Self {
        Self::new(codes::NO_DB, "3D000", "No database selected")
    }

    pub fn unknown_charset(name: &str) -> Self {
        Self::new(
            codes::UNKNOWN_CHARACTER_SET,
            "42000",
            format!("Unknown character set: '{name}'"),
        )
    }

    pub fn unknown_collation(name: &str) -> Self {
        Self::new(
            codes::UNKNOWN_COLLATION,
            "HY000",
            format!("Unknown collation: '{name}'"),
        )
    }

    pub fn collation_charset_mismatch(collation: &str, charset: &str) -> Self {
        Self::new(
            codes::COLLATION_CHARSET_MISMATCH,
            "42000",
            format!("COLLATION '{collation}' is not valid for CHARACTER SET '{charset}'"),
        )
    }

    pub fn cant_aggregate_collations(a: &str, a_how: &str, b: &str, b_how: &str, op: &str) -> Self {
        Self::new(
            codes::CANT_AGGREGATE_2COLLATIONS,
            "HY000",
            format!(
                "Illegal mix of collations ({a},{a_how}) and ({b},{b_how}) for operation '{op}'"
            ),
        )
    }

    pub fn unknown_db(db: &str) -> Self {
        Self::new(codes::BAD_DB, "42000", format!("Unknown database '{db}'"))
    }

    pub fn db_exists(db: &str) -> Self {
        Self::new(
            codes::DB_CREATE_EXISTS,
            "HY000",
            format!("Can't create database '{db}'; database exists"),
        )
    }

    pub fn db_drop_missing(db: &str) -> Self {
        Self::new(
            codes::DB_DROP_EXISTS,
            "HY000",
            format!("Can't drop database '{db}'; database doesn't exist"),
        )
    }

    pub fn no_such_table(db: &str, table: &str) -> Self {
        Self::new(
            codes::NO_SUCH_TABLE,
            "42S02",
            format!("Table '{db}.{table}' doesn't exist"),
        )
    }

    pub fn unknown_table(table: &str) -> Self {
        Self::new(
            codes::BAD_TABLE,
            "42S02",
            format!("Unknown table '{table}'"),
        )
    }

    /// 1452: a child row without its parent.
    pub fn fk_child(child: &TableDef, fk: &ForeignKeyDef) -> Self {
        Self::new(
            codes::NO_REFERENCED_ROW_2,
            "23000",
            format!(
                "Cannot add or update a child row: a foreign key constraint fails ({})",
                fk_text(child, fk)
            ),
        )
    }

    /// 1451: a parent row that child rows still reference.
    pub fn fk_parent(child: &TableDef, fk: &ForeignKeyDef) -> Self {
        Self::new(
            codes::ROW_IS_REFERENCED_2,
            "23000",
            format!(
                "Cannot delete or update a parent row: a foreign key constraint fails ({})",
                fk_text(child, fk)
            ),
        )
    }

    /// 1222: the branches of a UNION / INTERSECT / EXCEPT differ in width.
    pub fn set_columns_differ() -> Self {
        Self::new(
            1222,
            "21000",
            "The used SELECT statements have a different number of columns",
        )
    }

    pub fn unknown_view(view: &str) -> Self {
        Self::new(4092, "42S02", format!("Unknown VIEW: '{view}'"))
    }

    /// 1965: DROP TABLE names a view.
    pub fn is_a_view(qualified: &str) -> Self {
        Self::new(1965, "42S02", format!("'{qualified}' is a view"))
    }

    pub fn table_exists(table: &str) -> Self {
        Self::new(
            codes::TABLE_EXISTS,
            "42S01",
            format!("Table '{table}' already exists"),
        )
    }

    pub fn bad_field(column: &str, place: &str) -> Self {
        Self::new(
            codes::BAD_FIELD,
            "42S22",
            format!("Unknown column '{column}' in '{place}'"),
        )
    }

    pub fn ambiguous_field(column: &str, place: &str) -> Self {
        Self::new(
            codes::NON_UNIQ,
            "23000",
            format!("Column '{column}' in {place} is ambiguous"),
        )
    }

    pub fn dup_entry(value: &str, key: &str) -> Self {
        Self::new(
            codes::DUP_ENTRY,
            "23000",
            format!("Duplicate entry '{value}' for key '{key}'"),
        )
    }

    pub fn bad_null(column: &str) -> Self {
        Self::new(
            codes::BAD_NULL,
            "23000",
            format!("Column '{column}' cannot be null"),
        )
    }

    pub fn no_default(column: &str) -> Self {
        Self::new(
            codes::NO_DEFAULT_FOR_FIELD,
            "HY000",
            format!("Field '{column}' doesn't have a default value"),
        )
    }

    pub fn data_too_long(column: &str) -> Self {
        Self::new(
            codes::DATA_TOO_LONG,
            "22001",
            format!("Data too long for column '{column}' at row 1"),
        )
    }

    /// A value that is not one of an ENUM's or a SET's members (strict mode).
    pub fn data_truncated(column: &str) -> Self {
        Self::new(
            codes::WARN_DATA_TRUNCATED,
            "01000",
            format!("Data truncated for column '{column}' at row 1"),
        )
    }

    pub fn out_of_range(column: &str) -> Self {
        Self::new(
            codes::WARN_DATA_OUT_OF_RANGE,
            "22003",
            format!("Out of range value for column '{column}' at row 1"),
        )
    }

    pub fn truncated_wrong_value(kind: &str, value: &str, column: &str) -> Self {
        Self::new(
            codes::TRUNCATED_WRONG_VALUE_FOR_FIELD,
            "22007",
            format!("Incorrect {kind} value: '{value}' for column '{column}' at row 1"),
        )
    }

    pub fn column_count(row: usize) -> Self {
        Self::new(
            codes::WRONG_VALUE_COUNT_ON_ROW,
            "21S01",
            format!("Column count doesn't match value count at row {row}"),
        )
    }

    pub fn operand_columns(n: usize) -> Self {
        Self::new(
            codes::OPERAND_COLUMNS,
            "21000",
            format!("Operand should contain {n} column(s)"),
        )
    }

    pub fn subquery_rows() -> Self {
        Self::new(
            codes::SUBQUERY_NO_1_ROW,
            "21000",
            "Subquery returns more than 1 row",
        )
    }

    pub fn deadlock() -> Self {
        Self::new(
            codes::LOCK_DEADLOCK,
            "40001",
            "Deadlock found when trying to get lock; try restarting transaction",
        )
    }

    pub fn table_def_changed() -> Self {
        Self::new(
            codes::TABLE_DEF_CHANGED,
            "HY000",
            "Table definition has changed, please retry transaction",
        )
    }

    pub fn read_only_trx() -> Self {
        Self::new(
            codes::CANT_EXECUTE_IN_READ_ONLY_TRANSACTION,
            "25006",
            "Cannot execute statement in a READ ONLY transaction.",
        )
    }

    pub fn unknown_system_variable(name: &str) -> Self {
        Self::new(
            codes::UNKNOWN_SYSTEM_VARIABLE,
            "HY000",
            format!("Unknown system variable '{name}'"),
        )
    }

    pub fn wrong_value_for_var(name: &str, value: &str) -> Self {
        Self::new(
            codes::WRONG_VALUE_FOR_VAR,
            "42000",
            format!("Variable '{name}' can't be set to the value of '{value}'"),
        )
    }

    pub fn not_primary() -> Self {
        Self::new(
            codes::UNKNOWN_COM_ERROR,
            "08S01",
            "WSREP has not yet prepared node for application use",
        )
    }

    pub fn unknown_function(name: &str) -> Self {
        Self::new(
            codes::SP_DOES_NOT_EXIST,
            "42000",
            format!("FUNCTION {name} does not exist"),
        )
    }

    /// ER_UNKNOWN_TIME_ZONE: a `time_zone` that is neither an offset nor a
    /// zone of the tz database.
    pub fn unknown_time_zone(name: &str) -> Self {
        Self::new(
            codes::UNKNOWN_TIME_ZONE,
            "HY000",
            format!("Unknown or incorrect time zone: '{name}'"),
        )
    }

    /// ER_REGEXP_ERROR: a pattern the regular expression engine refuses.
    pub fn regexp_error(msg: &str) -> Self {
        let msg: String = msg.chars().take(64).collect();
        Self::new(
            codes::REGEXP_ERROR,
            "42000",
            format!("Got error '{msg}' from regexp"),
        )
    }

    /// ER_DATA_OUT_OF_RANGE for a function argument.
    pub fn value_out_of_range(what: &str, func: &str) -> Self {
        Self::new(
            codes::DATA_OUT_OF_RANGE,
            "22003",
            format!("{what} value is out of range in '{func}'"),
        )
    }

    pub fn wrong_arg_count(name: &str) -> Self {
        Self::new(
            codes::WRONG_PARAMCOUNT_TO_NATIVE_FCT,
            "42000",
            format!("Incorrect parameter count in the call to native function '{name}'"),
        )
    }

    pub fn invalid_group() -> Self {
        Self::new(
            codes::INVALID_GROUP_FUNC_USE,
            "HY000",
            "Invalid use of group function",
        )
    }

    pub fn savepoint_missing(name: &str) -> Self {
        Self::new(
            codes::SP_DOES_NOT_EXIST,
            "42000",
            format!("SAVEPOINT {name} does not exist"),
        )
    }

    pub fn commit_unknown(detail: impl fmt::Display) -> Self {
        Self::new(
            codes::ERROR_DURING_COMMIT,
            "HY000",
            format!("Got error during COMMIT: outcome unknown ({detail})"),
        )
    }

    pub fn lock_wait_timeout(detail: impl fmt::Display) -> Self {
        Self::new(
            codes::LOCK_WAIT_TIMEOUT,
            "HY000",
            format!("Lock wait timeout exceeded; {detail}"),
        )
    }

    pub fn internal(detail: impl fmt::Display) -> Self {
        Self::new(
            codes::UNKNOWN_ERROR,
            "HY000",
            format!("Internal error: {detail}"),
        )
    }

    pub fn access_denied_db(user: &str, db: &str) -> Self {
        Self::new(
            codes::DBACCESS_DENIED,
            "42000",
            format!("Access denied for user '{user}'@'%' to database '{db}'"),
        )
    }

    pub fn dup_fieldname(column: &str) -> Self {
        Self::new(
            codes::DUP_FIELDNAME,
            "42S21",
            format!("Duplicate column name '{column}'"),
        )
    }

    pub fn dup_keyname(key: &str) -> Self {
        Self::new(
            codes::DUP_KEYNAME,
            "42000",
            format!("Duplicate key name '{key}'"),
        )
    }

    pub fn cant_drop_field_or_key(name: &str) -> Self {
        Self::new(
            codes::CANT_DROP_FIELD_OR_KEY,
            "42000",
            format!("Can't DROP '{name}'; check that column/key exists"),
        )
    }

    pub fn multiple_pri_key() -> Self {
        Self::new(
            codes::MULTIPLE_PRI_KEY,
            "42000",
            "Multiple primary key defined",
        )
    }

    pub fn wrong_auto_key() -> Self {
        Self::new(
            codes::WRONG_AUTO_KEY,
            "42000",
            "Incorrect table definition; there can be only one auto column and it must be defined as a key",
        )
    }

    pub fn too_big_precision(p: u32, column: &str, max: u32) -> Self {
        Self::new(
            codes::TOO_BIG_PRECISION,
            "42000",
            format!("Too big precision {p} specified for '{column}'. Maximum is {max}."),
        )
    }

    pub fn division_by_zero() -> Self {
        Self::new(codes::DIVISION_BY_ZERO, "22012", "Division by 0")
    }
}

/// MySQL error codes used by trireme (names follow MySQL's ER_ constants).
/// `` `db`.`child`, CONSTRAINT `fk` FOREIGN KEY (`a`) REFERENCES `parent` (`id`) ``
/// as InnoDB's messages name a constraint.
pub fn fk_text(child: &TableDef, fk: &ForeignKeyDef) -> String {
    let cols: Vec<String> = fk
        .columns
        .iter()
        .map(|&c| format!("`{}`", child.columns[c].name))
        .collect();
    let refs: Vec<String> = fk.ref_columns.iter().map(|c| format!("`{c}`")).collect();
    format!(
        "`{}`.`{}`, CONSTRAINT `{}` FOREIGN KEY ({}) REFERENCES `{}` ({})",
        child.db,
        child.name,
        fk.name,
        cols.join(", "),
        fk.ref_table,
        refs.join(", ")
    )
}

pub mod codes {
    pub const UNKNOWN_COM_ERROR: u16 = 1047;
    pub const ROW_IS_REFERENCED_2: u16 = 1451;
    pub const NO_REFERENCED_ROW_2: u16 = 1452;
    pub const UNKNOWN_CHARACTER_SET: u16 = 1115;
    pub const UNKNOWN_COLLATION: u16 = 1273;
    pub const COLLATION_CHARSET_MISMATCH: u16 = 1253;
    pub const CANT_AGGREGATE_2COLLATIONS: u16 = 1267;
    pub const ILLEGAL_HA: u16 = 1031;
    pub const KEY_COLUMN_DOES_NOT_EXIST: u16 = 1072;
    pub const DB_CREATE_EXISTS: u16 = 1007;
    pub const DB_DROP_EXISTS: u16 = 1008;
    pub const DBACCESS_DENIED: u16 = 1044;
    pub const NO_DB: u16 = 1046;
    pub const BAD_NULL: u16 = 1048;
    pub const BAD_DB: u16 = 1049;
    pub const TABLE_EXISTS: u16 = 1050;
    pub const BAD_TABLE: u16 = 1051;
    pub const NON_UNIQ: u16 = 1052;
    pub const BAD_FIELD: u16 = 1054;
    pub const DUP_FIELDNAME: u16 = 1060;
    pub const DUP_KEYNAME: u16 = 1061;
    pub const DUP_ENTRY: u16 = 1062;
    pub const PARSE: u16 = 1064;
    pub const EMPTY_QUERY: u16 = 1065;
    pub const MULTIPLE_PRI_KEY: u16 = 1068;
    pub const WRONG_AUTO_KEY: u16 = 1075;
    pub const CANT_DROP_FIELD_OR_KEY: u16 = 1091;
    pub const UNKNOWN_ERROR: u16 = 1105;
    pub const WRONG_VALUE_COUNT_ON_ROW: u16 = 1136;
    pub const NO_SUCH_TABLE: u16 = 1146;
    pub const NOT_SUPPORTED_YET: u16 = 1235;
    pub const UNKNOWN_SYSTEM_VARIABLE: u16 = 1193;
    pub const LOCK_WAIT_TIMEOUT: u16 = 1205;
    pub const ERROR_DURING_COMMIT: u16 = 1180;
    pub const LOCK_DEADLOCK: u16 = 1213;
    pub const WRONG_VALUE_FOR_VAR: u16 = 1231;
    pub const OPERAND_COLUMNS: u16 = 1241;
    pub const SUBQUERY_NO_1_ROW: u16 = 1242;
    pub const WARN_DATA_OUT_OF_RANGE: u16 = 1264;
    pub const WARN_DATA_TRUNCATED: u16 = 1265;
    pub const TRUNCATED_WRONG_VALUE: u16 = 1292;
    pub const SP_DOES_NOT_EXIST: u16 = 1305;
    pub const UNKNOWN_TIME_ZONE: u16 = 1298;
    pub const REGEXP_ERROR: u16 = 1139;
    pub const DATA_OUT_OF_RANGE: u16 = 1690;
    pub const NO_DEFAULT_FOR_FIELD: u16 = 1364;
    pub const TRUNCATED_WRONG_VALUE_FOR_FIELD: u16 = 1366;
    pub const DIVISION_BY_ZERO: u16 = 1365;
    pub const DATA_TOO_LONG: u16 = 1406;
    pub const TABLE_DEF_CHANGED: u16 = 1412;
    pub const TOO_BIG_PRECISION: u16 = 1426;
    pub const WRONG_PARAMCOUNT_TO_NATIVE_FCT: u16 = 1582;
    pub const INVALID_GROUP_FUNC_USE: u16 = 1111;
    pub const CANT_EXECUTE_IN_READ_ONLY_TRANSACTION: u16 = 1792;
    pub const WARN_DEPRECATED: u16 = 1287;
    pub const UNKNOWN_STMT_HANDLER: u16 = 1243;
    pub const CANNOT_USER: u16 = 1396;
    pub const NONEXISTING_GRANT: u16 = 1141;
    pub const WRONG_ARGUMENTS: u16 = 1210;
    pub const KEY_DOES_NOT_EXIST: u16 = 1176;
    pub const UNKNOWN_TABLE_IN_ITEM: u16 = 1109;
    pub const NON_UNIQ_TABLE: u16 = 1066;
}
