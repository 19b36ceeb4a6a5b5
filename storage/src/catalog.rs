//! Schema definitions: databases, tables, columns and indexes.
//!
//! Definitions are plain data (serde), shared by the store, the SQL layer and
//! checkpoints. Changing one is always a TOI event (see `repl`), applied at
//! the same seqno on every node, which is what keeps schemas identical.

use serde::{Deserialize, Serialize};

use crate::collation::{Charset, Collation};
use crate::keycode;
use crate::types::SqlType;
use crate::value::Value;

/// A column's default.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum DefaultValue {
    Value(Value),
    /// DEFAULT CURRENT_TIMESTAMP / NOW().
    CurrentTimestamp,
    /// DEFAULT (expr) that is not a constant (`UUID()`, `CURRENT_DATE`,
    /// `NOW() + INTERVAL 1 DAY`), as SQL text evaluated for each row the
    /// statement inserts (the row image replicates, so nodes agree).
    /// Appended last so older checkpoints keep their tags.
    Expr(String),
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ColumnDef {
    pub name: String,
    pub ty: SqlType,
    pub nullable: bool,
    pub default: Option<DefaultValue>,
    pub auto_increment: bool,
    /// ON UPDATE CURRENT_TIMESTAMP.
    pub on_update_now: bool,
    pub comment: String,
    /// The collation of a character column (None for other types).
    pub collation: Option<Collation>,
    /// A column-level CHECK (its expression as SQL text).
    pub check: Option<String>,
    /// `GENERATED ALWAYS AS (expr) VIRTUAL|STORED`.
    pub generated: Option<Generated>,
}

/// A generated column's expression. Both kinds are computed whenever the
/// row is written and kept with it: reading a VIRTUAL column then costs
/// nothing, and its value is the same as computing it on read because the
/// expression may only use deterministic functions of the row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Generated {
    /// The expression as SQL text, identifiers quoted (as SHOW CREATE
    /// TABLE and information_schema print it).
    pub expr: String,
    /// STORED (PERSISTENT) rather than VIRTUAL: only shown, see above.
    pub stored: bool,
}

impl ColumnDef {
    pub fn new(name: &str, ty: SqlType) -> ColumnDef {
        let collation = ty_collation(&ty, Collation::default());
        ColumnDef {
            name: name.to_string(),
            ty,
            nullable: true,
            default: None,
            auto_increment: false,
            on_update_now: false,
            comment: String::new(),
            collation,
            check: None,
            generated: None,
        }
    }

    /// The character set of a character column.
    pub fn charset(&self) -> Option<Charset> {
        self.collation.map(Collation::charset)
    }
}

/// The collation a column of type `ty` gets when `default` applies: None
/// for types that are not character strings.
pub fn ty_collation(ty: &SqlType, default: Collation) -> Option<Collation> {
    ty.is_string().then_some(default)
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IndexDef {
    pub name: String,
    /// Column positions, in index order.
    pub columns: Vec<usize>,
    pub unique: bool,
    /// Stable identifier within the table, used in certification keys of
    /// unique values (survives other indexes being dropped).
    pub id: u32,
}

/// What a foreign key does to child rows when their parent row is deleted
/// or its referenced key changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FkAction {
    Restrict,
    NoAction,
    Cascade,
    SetNull,
}

impl FkAction {
    pub fn sql(self) -> &'static str {
        match self {
            FkAction::Restrict => "RESTRICT",
            FkAction::NoAction => "NO ACTION",
            FkAction::Cascade => "CASCADE",
            FkAction::SetNull => "SET NULL",
        }
    }
}

/// A foreign key of a child table.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ForeignKeyDef {
    pub name: String,
    /// Child column positions.
    pub columns: Vec<usize>,
    pub ref_db: String,
    pub ref_table: String,
    /// Parent column names (a parent may be altered after the child).
    pub ref_columns: Vec<String>,
    pub on_delete: FkAction,
    pub on_update: FkAction,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TableDef {
    pub db: String,
    pub name: String,
    pub columns: Vec<ColumnDef>,
    /// Primary key columns; None means a hidden row id is the key.
    pub primary: Option<Vec<usize>>,
    pub indexes: Vec<IndexDef>,
    pub next_index_id: u32,
    pub engine: String,
    /// The table's default collation (its charset is the collation's).
    pub collation: Collation,
    pub comment: String,
    pub foreign_keys: Vec<ForeignKeyDef>,
    /// Table-level CHECK constraints: (name, expression as SQL text).
    pub checks: Vec<(String, String)>,
    /// The seqno of the DDL that last changed this table's shape or contents
    /// wholesale (CREATE, ALTER, TRUNCATE). A snapshot older than this reads
    /// the table with ER_TABLE_DEF_CHANGED.
    pub version: u64,
}

impl TableDef {
    pub fn qualified(&self) -> String {
        format!("{}.{}", self.db, self.name)
    }

    /// Position of a column by case-insensitive name.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns
            .iter()
            .position(|c| c.name.eq_ignore_ascii_case(name))
    }

    pub fn auto_increment_column(&self) -> Option<usize> {
        self.columns.iter().position(|c| c.auto_increment)
    }

    pub fn is_pk_column(&self, i: usize) -> bool {
        self.primary.as_ref().is_some_and(|p| p.contains(&i))
    }

    /// Encoded primary key of a row (None for hidden-row-id tables: the key
    /// is carried beside the row).
    pub fn pk_of(&self, row: &[Value]) -> Option<Vec<u8>> {
        self.primary
            .as_ref()
            .map(|cols| self.key_of_columns(cols, row))
    }

    /// Encoded key of `cols` of a row, strings by their column's collation.
    pub fn key_of_columns(&self, cols: &[usize], row: &[Value]) -> Vec<u8> {
        let mut out = Vec::with_capacity(16);
        for &c in cols {
            keycode::encode_collated(&mut out, &row[c], self.columns[c].collation);
        }
        out
    }

    /// Encoded key of a secondary index for a row (without the primary key
    /// suffix).
    pub fn index_key_of(&self, index: &IndexDef, row: &[Value]) -> Vec<u8> {
        self.key_of_columns(&index.columns, row)
    }

    pub fn index_by_name(&self, name: &str) -> Option<&IndexDef> {
        self.indexes
            .iter()
            .find(|i| i.name.eq_ignore_ascii_case(name))
    }

    /// Component widths of an index's columns (to split entries).
    pub fn index_widths(&self, index: &IndexDef) -> Vec<keycode::ComponentWidth> {
        index
            .columns
            .iter()
            .map(|&c| keycode::ComponentWidth::of(&self.columns[c].ty))
            .collect()
    }
}

/// A view: a stored SELECT, run when the view is read.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ViewDef {
    pub db: String,
    pub name: String,
    /// The explicit column list, if any.
    pub columns: Vec<String>,
    /// The SELECT, as text (parsed when read).
    pub select: String,
    pub algorithm: String,
    pub definer: String,
    pub security: String,
    /// WITH [CASCADED | LOCAL] CHECK OPTION, or NONE.
    pub check_option: String,
}

/// An account. Passwords are kept only as the hashes the authentication
/// plugins need.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct UserDef {
    pub name: String,
    pub host: String,
    /// SHA1(SHA1(password)) for mysql_native_password; None for no password.
    pub native_hash: Option<[u8; 20]>,
    /// SHA256(SHA256(password)) for the caching_sha2_password fast path.
    pub sha2_hash: Option<[u8; 32]>,
}

impl UserDef {
    pub fn with_password(name: &str, host: &str, password: &str) -> UserDef {
        use sha1::{Digest, Sha1};
        let (native_hash, sha2_hash) = if password.is_empty() {
            (None, None)
        } else {
            let h1 = Sha1::digest(password.as_bytes());
            let h2: [u8; 20] = Sha1::digest(h1).into();
            let s1 = sha2::Sha256::digest(password.as_bytes());
            let s2: [u8; 32] = sha2::Sha256::digest(s1).into();
            (Some(h2), Some(s2))
        };
        UserDef {
            name: name.to_string(),
            host: host.to_string(),
            native_hash,
            sha2_hash,
        }
    }
}
