//! The write-set: what a transaction replicates at COMMIT.
//!
//! A [`WriteSet`] carries everything every node needs to certify and apply a
//! transaction the same way:
//!
//! | field | meaning |
//! |---|---|
//! | `source` | node id of the originating node (informational: certification ignores it) |
//! | `trx_id` | transaction id, unique per source node |
//! | `last_seen_seqno` | the snapshot the transaction read from: every ordered event `<= last_seen_seqno` was applied there |
//! | `flags` | bit set, see [`WriteSet::PA_UNSAFE`]; unknown bits are rejected by the codec |
//! | `keys` | certification keys: `(table, memcomparable pk, kind)` |
//! | `ops` | row operations with full after-images, opaque to this crate |
//!
//! Keys and row operations are separate on purpose (as in Galera): the keys
//! say what the transaction *depends on or changes* (a written row gets an
//! [`KeyKind::Exclusive`] key, a table it touches gets a [`KeyKind::Shared`]
//! table-level key, a parent row checked by a foreign key gets a
//! [`KeyKind::Reference`] key), the operations carry the data.
//!
//! # Key kinds (Galera 4)
//!
//! When a new write-set's key meets an index entry for the same
//! `(table, pk)` that an earlier write-set recorded with some kind, the pair
//! decides ([`KeyKind::check`]):
//!
//! ```text
//!                      new key kind
//!   found kind  | SHARED | REFERENCE | UPDATE | EXCLUSIVE
//!   ------------+--------+-----------+--------+----------
//!   SHARED      |   -    |    -      |   D    |    D
//!   REFERENCE   |   -    |    -      |   D    |    C
//!   UPDATE      |   D    |    D      |   C    |    C
//!   EXCLUSIVE   |   C    |    C      |   C    |    C
//!
//!   - nothing   D dependency (apply after it)
//!   C conflict when the entry is newer than last_seen_seqno, else dependency
//! ```
//!
//! So two readers never interact, a writer after a reader only has to be
//! applied after it, and anything after an exclusive write that it did not
//! see is a conflict. The matrix is not symmetric: an EXCLUSIVE write *after*
//! an unseen SHARED read is fine (the reader did not need to see it), a
//! SHARED read after an unseen EXCLUSIVE write is not (the read is stale).
//!
//! The encoding lives in [`crate::codec`], nowhere else.

use serde::{Deserialize, Serialize};

use crate::Seqno;

/// How a key is used by the transaction (Galera 4 key types).
///
/// The discriminants are part of the write-set format and the index layout;
/// never renumber them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum KeyKind {
    /// Read dependency that nothing concurrent may invalidate by an
    /// exclusive write (e.g. the table-level key of every touched table, so
    /// that DDL conflicts with it).
    Shared = 0,
    /// Reference to a row that must keep existing (foreign-key parent).
    Reference = 1,
    /// Update of a row that does not change its key (Galera's UPDATE).
    Update = 2,
    /// Insert, delete or update of a row: conflicts with everything unseen.
    Exclusive = 3,
}

/// What a `(found, new)` key pair means for certification, see
/// [`KeyKind::check`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// The pair does not interact.
    Nothing,
    /// The new write-set must be applied after the found one.
    Dependency,
    /// If the found entry is newer than the new write-set's
    /// `last_seen_seqno`, the new write-set fails; otherwise it is a
    /// dependency.
    Conflict,
}

impl KeyKind {
    /// All kinds, in discriminant order.
    pub const ALL: [KeyKind; 4] = [
        KeyKind::Shared,
        KeyKind::Reference,
        KeyKind::Update,
        KeyKind::Exclusive,
    ];

    /// The discriminant as an index `0..4`.
    #[inline]
    pub fn index(self) -> usize {
        self as usize
    }

    /// The Galera 4 matrix: what an index entry recorded with kind `found`
    /// means for a new key of kind `new` (see the module docs).
    #[inline]
    pub fn check(found: KeyKind, new: KeyKind) -> Check {
        use Check::{Conflict as C, Dependency as D, Nothing as N};
        const MATRIX: [[Check; 4]; 4] = [
            // new: SH RE UP EX      found:
            [N, N, D, D], // SHARED
            [N, N, D, C], // REFERENCE
            [D, D, C, C], // UPDATE
            [C, C, C, C], // EXCLUSIVE
        ];
        MATRIX[found.index()][new.index()]
    }

    /// Short lowercase name (`sh`, `re`, `up`, `ex`), as used in scenario
    /// files and logs.
    pub fn short_name(self) -> &'static str {
        match self {
            KeyKind::Shared => "sh",
            KeyKind::Reference => "re",
            KeyKind::Update => "up",
            KeyKind::Exclusive => "ex",
        }
    }
}

/// A certification key: a row (or, with an empty `pk`, a whole table).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Key {
    /// Qualified table name, `"db.table"`.
    pub table: String,
    /// Memcomparable primary-key bytes. Empty means the table-level key.
    #[serde(with = "crate::codec::bytes")]
    pub pk: Vec<u8>,
    /// How the transaction uses the key.
    pub kind: KeyKind,
}

impl Key {
    /// A row key.
    pub fn row(table: impl Into<String>, pk: impl Into<Vec<u8>>, kind: KeyKind) -> Key {
        Key {
            table: table.into(),
            pk: pk.into(),
            kind,
        }
    }

    /// The table-level key of `table` (empty pk).
    pub fn table(table: impl Into<String>, kind: KeyKind) -> Key {
        Key {
            table: table.into(),
            pk: Vec::new(),
            kind,
        }
    }

    /// True for a table-level key (empty pk).
    pub fn is_table_level(&self) -> bool {
        self.pk.is_empty()
    }
}

/// The kind of a row operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RowOpKind {
    /// A new row; `row` is its image.
    Insert,
    /// A changed row; `row` is the full after-image.
    Update,
    /// A removed row; `row` is empty.
    Delete,
}

/// One row operation, applied by the node. Opaque to certification except
/// for its table (TOI barriers look at the tables a write-set touches).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RowOp {
    /// Qualified table name, `"db.table"`.
    pub table: String,
    /// Memcomparable primary-key bytes of the row.
    #[serde(with = "crate::codec::bytes")]
    pub pk: Vec<u8>,
    /// Insert, update or delete.
    pub kind: RowOpKind,
    /// Full after-image (node-defined encoding); empty for a delete.
    #[serde(with = "crate::codec::bytes")]
    pub row: Vec<u8>,
}

/// A replicated transaction. See the module docs for the fields.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct WriteSet {
    /// Originating node id.
    pub source: u64,
    /// Transaction id on the originating node.
    pub trx_id: u64,
    /// The snapshot the transaction read from (0: nothing).
    pub last_seen_seqno: Seqno,
    /// Flag bits, see [`WriteSet::PA_UNSAFE`].
    pub flags: u32,
    /// Certification keys.
    pub keys: Vec<Key>,
    /// Row operations.
    pub ops: Vec<RowOp>,
}

impl WriteSet {
    /// Flag: the write-set may not be applied in parallel with anything
    /// (Galera's `F_PA_UNSAFE`). It depends on every earlier event, and
    /// every later write-set depends on it.
    pub const PA_UNSAFE: u32 = 1;

    /// All flag bits this version understands.
    pub const KNOWN_FLAGS: u32 = Self::PA_UNSAFE;

    /// True when the [`WriteSet::PA_UNSAFE`] flag is set.
    pub fn is_pa_unsafe(&self) -> bool {
        self.flags & Self::PA_UNSAFE != 0
    }

    /// Every table the write-set touches, through its keys or its row
    /// operations, in first-seen order without duplicates. TOI barriers
    /// apply to exactly these tables.
    pub fn tables(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        let names = self
            .keys
            .iter()
            .map(|k| k.table.as_str())
            .chain(self.ops.iter().map(|o| o.table.as_str()));
        for t in names {
            if !out.contains(&t) {
                out.push(t);
            }
        }
        out
    }
}
