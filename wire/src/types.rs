//! What a handler returns: column metadata, OK results, result sets.
//!
//! Invariant: every row of a [`StmtResult::Rows`] has exactly
//! `columns.len()` values. The driver checks this and turns a violation into
//! an ERR packet (1105) rather than sending a malformed result set.

use mysql_common::constants::{ColumnFlags, ColumnType};
use mysql_common::value::Value;

/// Character set id of `utf8mb4_general_ci`.
pub const CHARSET_UTF8MB4: u16 = 45;
/// Character set id of `binary`.
pub const CHARSET_BINARY: u16 = 63;

/// Metadata of one result column (the protocol's ColumnDefinition41).
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnDef {
    /// Schema (database) name, empty for computed columns.
    pub schema: String,
    /// Table alias as written in the query.
    pub table: String,
    /// Physical table name.
    pub org_table: String,
    /// Column alias as written in the query (what clients show).
    pub name: String,
    /// Physical column name.
    pub org_name: String,
    /// Protocol type; decides the binary-protocol encoding of values.
    pub column_type: ColumnType,
    /// NOT_NULL, PRI_KEY, UNSIGNED, BINARY, ...
    pub flags: ColumnFlags,
    /// Character set id: [`CHARSET_UTF8MB4`] for text, [`CHARSET_BINARY`]
    /// for numbers, dates and blobs.
    pub charset: u16,
    /// Maximum display length.
    pub column_length: u32,
    /// Digits after the decimal point (fractional seconds for temporal
    /// types; 0x1f for "not fixed" floats).
    pub decimals: u8,
}

impl ColumnDef {
    /// A column with sensible defaults for its type: charset, display length,
    /// and the UNSIGNED/BINARY/NUM-style flags a MySQL server would send.
    pub fn new(name: impl Into<String>, column_type: ColumnType) -> Self {
        use ColumnType::*;
        let name = name.into();
        let (charset, length, flags, decimals) = match column_type {
            MYSQL_TYPE_TINY => (CHARSET_BINARY, 4, ColumnFlags::NUM_FLAG, 0),
            MYSQL_TYPE_SHORT => (CHARSET_BINARY, 6, ColumnFlags::NUM_FLAG, 0),
            MYSQL_TYPE_INT24 => (CHARSET_BINARY, 9, ColumnFlags::NUM_FLAG, 0),
            MYSQL_TYPE_LONG => (CHARSET_BINARY, 11, ColumnFlags::NUM_FLAG, 0),
            MYSQL_TYPE_LONGLONG => (CHARSET_BINARY, 20, ColumnFlags::NUM_FLAG, 0),
            MYSQL_TYPE_YEAR => (
                CHARSET_BINARY,
                4,
                ColumnFlags::NUM_FLAG | ColumnFlags::UNSIGNED_FLAG | ColumnFlags::ZEROFILL_FLAG,
                0,
            ),
            MYSQL_TYPE_FLOAT => (CHARSET_BINARY, 12, ColumnFlags::NUM_FLAG, 31),
            MYSQL_TYPE_DOUBLE => (CHARSET_BINARY, 22, ColumnFlags::NUM_FLAG, 31),
            MYSQL_TYPE_DECIMAL | MYSQL_TYPE_NEWDECIMAL => {
                (CHARSET_BINARY, 12, ColumnFlags::NUM_FLAG, 2)
            }
            MYSQL_TYPE_DATE | MYSQL_TYPE_NEWDATE => {
                (CHARSET_BINARY, 10, ColumnFlags::BINARY_FLAG, 0)
            }
            MYSQL_TYPE_DATETIME | MYSQL_TYPE_DATETIME2 => {
                (CHARSET_BINARY, 19, ColumnFlags::BINARY_FLAG, 0)
            }
            MYSQL_TYPE_TIMESTAMP | MYSQL_TYPE_TIMESTAMP2 => (
                CHARSET_BINARY,
                19,
                ColumnFlags::BINARY_FLAG | ColumnFlags::TIMESTAMP_FLAG,
                0,
            ),
            MYSQL_TYPE_TIME | MYSQL_TYPE_TIME2 => (CHARSET_BINARY, 10, ColumnFlags::BINARY_FLAG, 0),
            MYSQL_TYPE_TINY_BLOB
            | MYSQL_TYPE_MEDIUM_BLOB
            | MYSQL_TYPE_LONG_BLOB
            | MYSQL_TYPE_BLOB
            | MYSQL_TYPE_GEOMETRY => (
                CHARSET_BINARY,
                u32::MAX,
                ColumnFlags::BLOB_FLAG | ColumnFlags::BINARY_FLAG,
                0,
            ),
            MYSQL_TYPE_JSON => (CHARSET_BINARY, u32::MAX, ColumnFlags::BLOB_FLAG, 0),
            MYSQL_TYPE_BIT => (CHARSET_BINARY, 1, ColumnFlags::UNSIGNED_FLAG, 0),
            MYSQL_TYPE_NULL => (CHARSET_BINARY, 0, ColumnFlags::BINARY_FLAG, 0),
            _ => (CHARSET_UTF8MB4, 1024, ColumnFlags::empty(), 0),
        };
        ColumnDef {
            schema: String::new(),
            table: String::new(),
            org_table: String::new(),
            org_name: name.clone(),
            name,
            column_type,
            flags,
            charset,
            column_length: length,
            decimals,
        }
    }

    /// Sets schema, table and original table name.
    pub fn table(mut self, schema: &str, table: &str) -> Self {
        self.schema = schema.to_string();
        self.table = table.to_string();
        self.org_table = table.to_string();
        self
    }

    /// Adds flags (e.g. `ColumnFlags::NOT_NULL_FLAG | ColumnFlags::PRI_KEY_FLAG`).
    pub fn with_flags(mut self, flags: ColumnFlags) -> Self {
        self.flags |= flags;
        self
    }

    /// Marks the column UNSIGNED (integers are then sent unsigned).
    pub fn unsigned(self) -> Self {
        self.with_flags(ColumnFlags::UNSIGNED_FLAG)
    }

    /// Marks the column NOT NULL.
    pub fn not_null(self) -> Self {
        self.with_flags(ColumnFlags::NOT_NULL_FLAG)
    }

    /// Sets the display length.
    pub fn length(mut self, len: u32) -> Self {
        self.column_length = len;
        self
    }

    /// Sets the decimals (scale, or fractional-second digits).
    pub fn decimals(mut self, d: u8) -> Self {
        self.decimals = d;
        self
    }

    /// Makes a string column binary (VARBINARY/BLOB semantics).
    pub fn binary(mut self) -> Self {
        self.charset = CHARSET_BINARY;
        self.flags |= ColumnFlags::BINARY_FLAG;
        self
    }

    /// True when the column is UNSIGNED.
    pub fn is_unsigned(&self) -> bool {
        self.flags.contains(ColumnFlags::UNSIGNED_FLAG)
    }
}

/// Outcome of a statement that returns no rows (an OK packet).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OkInfo {
    /// Rows inserted, updated or deleted.
    pub affected_rows: u64,
    /// AUTO_INCREMENT value generated by this statement (0 when none).
    pub last_insert_id: u64,
    /// Number of warnings.
    pub warnings: u16,
    /// Human-readable info, e.g. "Rows matched: 1  Changed: 1  Warnings: 0".
    pub info: String,
}

impl OkInfo {
    /// An OK with `affected_rows` and nothing else.
    pub fn affected(affected_rows: u64) -> Self {
        OkInfo {
            affected_rows,
            ..Default::default()
        }
    }
}

/// The result of one statement.
#[derive(Debug, Clone, PartialEq)]
pub enum StmtResult {
    /// No result set (INSERT, UPDATE, SET, BEGIN, ...).
    Ok(OkInfo),
    /// A result set. Each row has one [`Value`] per column; the text protocol
    /// formats values as text, the binary protocol encodes them by the
    /// column's type (see [`crate::value`] for the accepted combinations).
    Rows {
        /// Column metadata.
        columns: Vec<ColumnDef>,
        /// Row values.
        rows: Vec<Vec<Value>>,
    },
}

impl StmtResult {
    /// `StmtResult::Ok` with default fields.
    pub fn ok() -> Self {
        StmtResult::Ok(OkInfo::default())
    }
}

/// What COM_STMT_PREPARE reports for a statement.
#[derive(Debug, Clone, PartialEq)]
pub struct PrepareInfo {
    /// Number of `?` placeholders.
    pub params: u16,
    /// Result columns, empty for statements without a result set.
    pub columns: Vec<ColumnDef>,
}
