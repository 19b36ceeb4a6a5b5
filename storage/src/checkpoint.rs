//! Checkpoints: a consistent copy of the node's state at one seqno, written
//! while writes go on, and the same bytes used for state snapshot transfer.
//!
//! # Format (version 2)
//!
//! A sequence of records, each framed as
//!
//! | bytes | field |
//! |---|---|
//! | 4 | payload length, u32 little-endian |
//! | 4 | CRC32 of the payload, u32 little-endian |
//! | n | payload: a `Record` through the node codec (magic `TCK`, version 2) |
//!
//! Records: one `Header` (seqno, cluster uuid), `Users`, `Database` per
//! database, per table a `Table` (definition, AUTO_INCREMENT high-water)
//! followed by `Rows` batches, a `View` per view of the database, then `Cert` (the certification index,
//! certification codec), `LowWater`, and `End` with the record count. A
//! file without its `End` record, with a bad CRC or out of order records is
//! refused as a whole: a checkpoint is used entirely or not at all.
//!
//! Version 2 added collations (columns, tables, databases). Version 1 files
//! are still read (`v1`): their string columns, which compared byte-wise,
//! become `utf8mb4_bin`, and their row keys are recomputed for PAD SPACE.
//! Version 3 added generated columns; version 2 files are read by `v2`.
//!
//! Invariant: the rows, the certification index and the low-water map all
//! describe the state after exactly the ordered events `1..=seqno`.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::catalog::{TableDef, UserDef, ViewDef};
use crate::codec::{self, CodecError};
use crate::collation::Collation;
use crate::value::Value;
use crate::{Catalog, Database, Engine, Store, Table};

const MAGIC: &[u8; 3] = b"TCK";
const VERSION: u8 = 3;
const ROWS_PER_RECORD: usize = 4096;
/// Largest record accepted when reading (a batch of rows, the cert index).
const MAX_RECORD_BYTES: usize = 512 << 20;

#[derive(Serialize, Deserialize)]
enum Record {
    Header {
        seqno: u64,
        state_uuid: String,
    },
    Users(Vec<UserDef>),
    Database {
        name: String,
        collation: Collation,
    },
    Table {
        def: Box<TableDef>,
        auto_inc_max: u64,
    },
    Rows {
        table: String,
        rows: Vec<(Vec<u8>, Vec<Value>)>,
    },
    Cert(Vec<u8>),
    LowWater(Vec<(u64, u64)>),
    End {
        records: u64,
    },
    /// A view of the current database.
    View(Box<ViewDef>),
}

/// Everything a checkpoint holds, captured at one seqno.
pub struct Capture {
    pub seqno: u64,
    pub state_uuid: String,
    pub catalog: Arc<Catalog>,
    pub cert: Vec<u8>,
    pub low_water: Vec<(u64, u64)>,
    /// Keeps the row versions at `seqno` from being collected while they
    /// are written out.
    pub guard: Option<crate::SnapshotGuard>,
}

/// A checkpoint read back.
pub struct Loaded {
    pub seqno: u64,
    pub state_uuid: String,
    pub catalog: Catalog,
    pub cert: Vec<u8>,
    pub low_water: Vec<(u64, u64)>,
    /// Rows the image held (status: what a start or a transfer loaded).
    pub rows: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("checkpoint I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("checkpoint record: {0}")]
    Codec(#[from] CodecError),
    #[error("checkpoint is damaged: {0}")]
    Damaged(String),
    #[error("checkpoint rows: {0}")]
    Store(#[from] crate::StorageError),
}

fn frame(out: &mut Vec<u8>, r: &Record) -> Result<(), CheckpointError> {
    let payload = codec::encode(MAGIC, VERSION, r)?;
    let len = u32::try_from(payload.len())
        .map_err(|_| CheckpointError::Damaged("record larger than 4 GiB".into()))?;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
    Ok(())
}

/// Serializes a capture.
pub fn encode(c: &Capture) -> Result<Vec<u8>, CheckpointError> {
    let mut out = Vec::new();
    let mut n = 0u64;
    let mut put = |out: &mut Vec<u8>, r: Record| -> Result<(), CheckpointError> {
        n += 1;
        frame(out, &r)
    };
    put(
        &mut out,
        Record::Header {
            seqno: c.seqno,
            state_uuid: c.state_uuid.clone(),
        },
    )?;
    put(
        &mut out,
        Record::Users(c.catalog.users.values().cloned().collect()),
    )?;
    for (name, db) in &c.catalog.databases {
        put(
            &mut out,
            Record::Database {
                name: name.clone(),
                collation: db.collation,
            },
        )?;
        for t in db.tables.values() {
            put(
                &mut out,
                Record::Table {
                    def: Box::new(t.def.clone()),
                    auto_inc_max: t.auto_inc_max(),
                },
            )?;
            let mut batch = Vec::with_capacity(ROWS_PER_RECORD);
            let mut err = None;
            let qualified = t.def.qualified();
            t.scan(None, None, c.seqno, |pk, row| {
                batch.push((pk.to_vec(), row.to_vec()));
                if batch.len() == ROWS_PER_RECORD {
                    if let Err(e) = put(
                        &mut out,
                        Record::Rows {
                            table: qualified.clone(),
                            rows: std::mem::take(&mut batch),
                        },
                    ) {
                        err = Some(e);
                        return false;
                    }
                }
                true
            })?;
            if let Some(e) = err {
                return Err(e);
            }
            if !batch.is_empty() {
                put(
                    &mut out,
                    Record::Rows {
                        table: qualified,
                        rows: batch,
                    },
                )?;
            }
        }
        for v in db.views.values() {
            put(&mut out, Record::View(Box::new(v.clone())))?;
        }
    }
    put(&mut out, Record::Cert(c.cert.clone()))?;
    put(&mut out, Record::LowWater(c.low_water.clone()))?;
    let records = n + 1;
    frame(&mut out, &Record::End { records })?;
    Ok(out)
}

/// Reads a checkpoint, all or nothing.
pub fn decode(bytes: &[u8]) -> Result<Loaded, CheckpointError> {
    let bad = |m: &str| CheckpointError::Damaged(m.to_string());
    let mut pos = 0usize;
    let mut count = 0u64;
    let mut header: Option<(u64, String)> = None;
    let mut catalog = Catalog::default();
    let mut current_db: Option<String> = None;
    let mut cert = None;
    let mut low_water = Vec::new();
    let mut loaded_rows = 0u64;
    loop {
        if pos + 8 > bytes.len() {
            return Err(bad("ends before its End record"));
        }
        let len =
            u32::from_le_bytes(bytes[pos..pos + 4].try_into().map_err(|_| bad("header"))?) as usize;
        let crc = u32::from_le_bytes(
            bytes[pos + 4..pos + 8]
                .try_into()
                .map_err(|_| bad("header"))?,
        );
        pos += 8;
        if len > MAX_RECORD_BYTES || pos + len > bytes.len() {
            return Err(bad("record length out of bounds"));
        }
        let payload = &bytes[pos..pos + len];
        pos += len;
        if crc32fast::hash(payload) != crc {
            return Err(bad("CRC mismatch"));
        }
        count += 1;
        let (rec, from_v1) = match payload.get(3) {
            Some(1) => (
                codec::decode::<v1::Record>(MAGIC, 1, "checkpoint record", payload)?.upgrade(),
                true,
            ),
            Some(2) => (
                codec::decode::<v2::Record>(MAGIC, 2, "checkpoint record", payload)?.upgrade(),
                false,
            ),
            _ => (
                codec::decode(MAGIC, VERSION, "checkpoint record", payload)?,
                false,
            ),
        };
        match rec {
            Record::Header { seqno, state_uuid } => {
                if header.is_some() || count != 1 {
                    return Err(bad("header not first"));
                }
                header = Some((seqno, state_uuid));
            }
            _ if header.is_none() => return Err(bad("missing header")),
            Record::Users(us) => {
                for u in us {
                    catalog
                        .users
                        .insert(format!("'{}'@'{}'", u.name, u.host), u);
                }
            }
            Record::Database { name, collation } => {
                catalog.databases.insert(
                    name.clone(),
                    Database {
                        name: name.clone(),
                        tables: Default::default(),
                        collation,
                        views: Default::default(),
                    },
                );
                current_db = Some(name);
            }
            Record::Table { def, auto_inc_max } => {
                let db = current_db
                    .as_ref()
                    .ok_or_else(|| bad("table before database"))?;
                if &def.db != db {
                    return Err(bad("table in the wrong database"));
                }
                let t = Table::new(*def);
                t.bump_auto_inc(auto_inc_max);
                let d = catalog
                    .databases
                    .get_mut(db)
                    .ok_or_else(|| bad("database"))?;
                d.tables.insert(t.def.name.clone(), Arc::new(t));
            }
            Record::Rows { table, rows } => {
                let (db, name) = table.split_once('.').ok_or_else(|| bad("table name"))?;
                let t = catalog
                    .table(db, name)
                    .ok_or_else(|| bad("rows before their table"))?;
                let seqno = header.as_ref().map_or(0, |h| h.0);
                loaded_rows += rows.len() as u64;
                for (pk, row) in rows {
                    if row.len() != t.def.columns.len() {
                        return Err(bad("row width"));
                    }
                    // Version 1 keyed strings by their bytes; keys now
                    // ignore trailing spaces (PAD SPACE).
                    let pk = match (from_v1, t.def.pk_of(&row)) {
                        (true, Some(k)) => k,
                        _ => pk,
                    };
                    t.install(&pk, seqno, Some(row.into()))?;
                }
            }
            Record::View(v) => {
                let db = current_db
                    .as_ref()
                    .ok_or_else(|| bad("view before database"))?;
                if &v.db != db {
                    return Err(bad("view in the wrong database"));
                }
                let d = catalog
                    .databases
                    .get_mut(db)
                    .ok_or_else(|| bad("database"))?;
                d.views.insert(v.name.clone(), *v);
            }
            Record::Cert(c) => cert = Some(c),
            Record::LowWater(l) => low_water = l,
            Record::End { records } => {
                if records != count {
                    return Err(bad("record count"));
                }
                if pos != bytes.len() {
                    return Err(bad("trailing bytes after End"));
                }
                break;
            }
        }
    }
    let (seqno, state_uuid) = header.ok_or_else(|| bad("missing header"))?;
    Ok(Loaded {
        seqno,
        state_uuid,
        catalog,
        cert: cert.ok_or_else(|| bad("missing certification index"))?,
        low_water,
        rows: loaded_rows,
    })
}

/// Writes a checkpoint file atomically (temporary file, fsync, rename,
/// directory fsync).
pub fn write_file(dir: &Path, bytes: &[u8]) -> Result<(), CheckpointError> {
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join("checkpoint.tmp");
    let dst = dir.join("checkpoint.bin");
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, &dst)?;
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

/// Reads `dir/checkpoint.bin` if there is one.
pub fn read_file(dir: &Path) -> Result<Option<Loaded>, CheckpointError> {
    let p = dir.join("checkpoint.bin");
    match std::fs::read(&p) {
        Ok(b) => decode(&b).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Replaces a store's contents with a loaded checkpoint. A checkpoint
/// decodes into memory; an on-disk store is emptied first (a state transfer
/// replaces everything it held) and then gets a copy of each table. The
/// caller then saves a recovery point (`Store::persist_recovery_point`):
/// until it lands, a restart finds the engine incomplete and starts over.
pub fn install(store: &Store, loaded: &Loaded) -> Result<(), CheckpointError> {
    let mut catalog = loaded.catalog.clone();
    if let Engine::Lsm(_) = store.engine() {
        store.begin_transfer()?;
        for db in catalog.databases.values_mut() {
            for t in db.tables.values_mut() {
                *t = Arc::new(t.copy_to(store.engine(), loaded.seqno, loaded.seqno)?);
            }
        }
    }
    store.set_catalog(catalog);
    store.reset_horizon(loaded.seqno);
    Ok(())
}

/// The version-1 records, as they were written, and their upgrade.
mod v1 {
    use serde::{Deserialize, Serialize};

    use crate::catalog::{self, DefaultValue, IndexDef, UserDef};
    use crate::collation::Collation;
    use crate::types::SqlType;
    use crate::value::Value;

    #[derive(Deserialize, Serialize)]
    pub enum Record {
        Header {
            seqno: u64,
            state_uuid: String,
        },
        Users(Vec<UserDef>),
        Database(String),
        Table {
            def: Box<TableDef>,
            auto_inc_max: u64,
        },
        Rows {
            table: String,
            rows: Vec<(Vec<u8>, Vec<Value>)>,
        },
        Cert(Vec<u8>),
        LowWater(Vec<(u64, u64)>),
        End {
            records: u64,
        },
    }

    #[derive(Deserialize, Serialize)]
    pub struct ColumnDef {
        pub name: String,
        pub ty: SqlType,
        pub nullable: bool,
        pub default: Option<DefaultValue>,
        pub auto_increment: bool,
        pub on_update_now: bool,
        pub comment: String,
    }

    #[derive(Deserialize, Serialize)]
    pub struct TableDef {
        pub db: String,
        pub name: String,
        pub columns: Vec<ColumnDef>,
        pub primary: Option<Vec<usize>>,
        pub indexes: Vec<IndexDef>,
        pub next_index_id: u32,
        pub engine: String,
        pub charset: String,
        pub comment: String,
        pub version: u64,
    }

    impl Record {
        /// Version 1 compared strings byte-wise: its columns keep that
        /// order as `utf8mb4_bin`; its databases get the server default
        /// for the tables created from now on.
        pub fn upgrade(self) -> super::Record {
            use super::Record as R;
            let bin = Collation::Utf8mb4Bin;
            match self {
                Record::Header { seqno, state_uuid } => R::Header { seqno, state_uuid },
                Record::Users(u) => R::Users(u),
                Record::Database(name) => R::Database {
                    name,
                    collation: Collation::default(),
                },
                Record::Table { def, auto_inc_max } => {
                    let d = *def;
                    let columns = d
                        .columns
                        .into_iter()
                        .map(|c| catalog::ColumnDef {
                            collation: catalog::ty_collation(&c.ty, bin),
                            name: c.name,
                            ty: c.ty,
                            nullable: c.nullable,
                            default: c.default,
                            auto_increment: c.auto_increment,
                            on_update_now: c.on_update_now,
                            comment: c.comment,
                            check: None,
                            generated: None,
                        })
                        .collect();
                    R::Table {
                        def: Box::new(catalog::TableDef {
                            db: d.db,
                            name: d.name,
                            columns,
                            primary: d.primary,
                            indexes: d.indexes,
                            next_index_id: d.next_index_id,
                            engine: d.engine,
                            collation: bin,
                            comment: d.comment,
                            version: d.version,
                            foreign_keys: Vec::new(),
                            checks: Vec::new(),
                        }),
                        auto_inc_max,
                    }
                }
                Record::Rows { table, rows } => R::Rows { table, rows },
                Record::Cert(c) => R::Cert(c),
                Record::LowWater(l) => R::LowWater(l),
                Record::End { records } => R::End { records },
            }
        }
    }
}

/// The version-2 records (before generated columns) and their upgrade:
/// only a column's shape differs.
mod v2 {
    use serde::{Deserialize, Serialize};

    use crate::catalog::{self, DefaultValue, ForeignKeyDef, IndexDef, UserDef, ViewDef};
    use crate::collation::Collation;
    use crate::types::SqlType;
    use crate::value::Value;

    #[derive(Deserialize, Serialize)]
    pub enum Record {
        Header {
            seqno: u64,
            state_uuid: String,
        },
        Users(Vec<UserDef>),
        Database {
            name: String,
            collation: Collation,
        },
        Table {
            def: Box<TableDef>,
            auto_inc_max: u64,
        },
        Rows {
            table: String,
            rows: Vec<(Vec<u8>, Vec<Value>)>,
        },
        Cert(Vec<u8>),
        LowWater(Vec<(u64, u64)>),
        End {
            records: u64,
        },
        View(Box<ViewDef>),
    }

    #[derive(Deserialize, Serialize)]
    pub struct ColumnDef {
        pub name: String,
        pub ty: SqlType,
        pub nullable: bool,
        pub default: Option<DefaultValue>,
        pub auto_increment: bool,
        pub on_update_now: bool,
        pub comment: String,
        pub collation: Option<Collation>,
        pub check: Option<String>,
    }

    #[derive(Deserialize, Serialize)]
    pub struct TableDef {
        pub db: String,
        pub name: String,
        pub columns: Vec<ColumnDef>,
        pub primary: Option<Vec<usize>>,
        pub indexes: Vec<IndexDef>,
        pub next_index_id: u32,
        pub engine: String,
        pub collation: Collation,
        pub comment: String,
        pub foreign_keys: Vec<ForeignKeyDef>,
        pub checks: Vec<(String, String)>,
        pub version: u64,
    }

    impl Record {
        pub fn upgrade(self) -> super::Record {
            use super::Record as R;
            match self {
                Record::Header { seqno, state_uuid } => R::Header { seqno, state_uuid },
                Record::Users(u) => R::Users(u),
                Record::Database { name, collation } => R::Database { name, collation },
                Record::Table { def, auto_inc_max } => {
                    let d = *def;
                    let columns = d
                        .columns
                        .into_iter()
                        .map(|c| catalog::ColumnDef {
                            name: c.name,
                            ty: c.ty,
                            nullable: c.nullable,
                            default: c.default,
                            auto_increment: c.auto_increment,
                            on_update_now: c.on_update_now,
                            comment: c.comment,
                            collation: c.collation,
                            check: c.check,
                            generated: None,
                        })
                        .collect();
                    R::Table {
                        def: Box::new(catalog::TableDef {
                            db: d.db,
                            name: d.name,
                            columns,
                            primary: d.primary,
                            indexes: d.indexes,
                            next_index_id: d.next_index_id,
                            engine: d.engine,
                            collation: d.collation,
                            comment: d.comment,
                            version: d.version,
                            foreign_keys: d.foreign_keys,
                            checks: d.checks,
                        }),
                        auto_inc_max,
                    }
                }
                Record::Rows { table, rows } => R::Rows { table, rows },
                Record::Cert(c) => R::Cert(c),
                Record::LowWater(l) => R::LowWater(l),
                Record::End { records } => R::End { records },
                Record::View(v) => R::View(v),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::ColumnDef;
    use crate::keycode;
    use crate::types::{IntWidth, SqlType};

    fn store_with_rows(n: i64) -> Arc<Store> {
        let store = Store::new();
        let int = SqlType::Int {
            width: IntWidth::Int,
            unsigned: false,
        };
        let def = TableDef {
            db: "d".into(),
            name: "t".into(),
            columns: vec![
                ColumnDef::new("id", int),
                ColumnDef {
                    generated: Some(crate::catalog::Generated {
                        expr: "concat(`s`, '!')".into(),
                        stored: true,
                    }),
                    ..ColumnDef::new("s", SqlType::Varchar(10))
                },
            ],
            primary: Some(vec![0]),
            indexes: vec![],
            next_index_id: 1,
            engine: "InnoDB".into(),
            collation: Collation::default(),
            comment: String::new(),
            version: 1,
            foreign_keys: Vec::new(),
            checks: Vec::new(),
        };
        let t = Table::new(def);
        for i in 0..n {
            let row: Vec<Value> = vec![Value::Int(i), Value::Str(format!("r{i}"))];
            t.install(&keycode::encode_key([&row[0]]), 2, Some(row.into()))
                .unwrap();
        }
        // A version after the checkpoint's seqno must not be included.
        let late: Vec<Value> = vec![Value::Int(0), Value::Str("late".into())];
        t.install(&keycode::encode_key([&late[0]]), 9, Some(late.into()))
            .unwrap();
        let mut cat = Catalog::default();
        let mut db = Database {
            name: "d".into(),
            tables: Default::default(),
            collation: Collation::default(),
            views: Default::default(),
        };
        db.tables.insert("t".into(), Arc::new(t));
        db.views.insert(
            "v".into(),
            ViewDef {
                db: "d".into(),
                name: "v".into(),
                columns: vec!["x".into()],
                select: "SELECT id FROM t".into(),
                algorithm: "UNDEFINED".into(),
                definer: "`root`@`%`".into(),
                security: "DEFINER".into(),
                check_option: "NONE".into(),
            },
        );
        cat.databases.insert("d".into(), db);
        cat.users
            .insert("'u'@'%'".into(), UserDef::with_password("u", "%", "pw"));
        store.set_catalog(cat);
        store
    }

    #[test]
    fn round_trip_at_a_seqno() {
        let store = store_with_rows(10_000);
        let c = Capture {
            seqno: 5,
            state_uuid: "uuid".into(),
            catalog: store.catalog(),
            cert: vec![1, 2, 3],
            low_water: vec![(1, 4)],
            guard: None,
        };
        let bytes = encode(&c).unwrap();
        let l = decode(&bytes).unwrap();
        assert_eq!(l.seqno, 5);
        assert_eq!(l.cert, vec![1, 2, 3]);
        let t = l.catalog.table("d", "t").unwrap();
        assert_eq!(t.rows_at(5).unwrap().len(), 10_000);
        let r0 = t
            .get(&keycode::encode_key([&Value::Int(0)]), 5)
            .unwrap()
            .unwrap();
        assert_eq!(r0[1].to_text_lossy(), "r0");
        let g = t.def.columns[1].generated.as_ref().unwrap();
        assert_eq!((g.expr.as_str(), g.stored), ("concat(`s`, '!')", true));
        assert!(l.catalog.users.contains_key("'u'@'%'"));
        let v = l.catalog.view("d", "v").unwrap();
        assert_eq!(
            (v.select.as_str(), v.columns.len()),
            ("SELECT id FROM t", 1)
        );
    }

    #[test]
    fn damage_is_refused() {
        let store = store_with_rows(10);
        let c = Capture {
            seqno: 5,
            state_uuid: "u".into(),
            catalog: store.catalog(),
            cert: vec![],
            low_water: vec![],
            guard: None,
        };
        let bytes = encode(&c).unwrap();
        // Torn: any proper prefix is refused.
        for cut in [0, 7, 8, bytes.len() / 2, bytes.len() - 1] {
            assert!(
                decode(&bytes[..cut]).is_err(),
                "prefix of {cut} bytes accepted"
            );
        }
        // A flipped bit anywhere is refused.
        for i in (0..bytes.len()).step_by(7) {
            let mut b = bytes.clone();
            b[i] ^= 0x40;
            assert!(decode(&b).is_err(), "flip at {i} accepted");
        }
    }

    /// A version-1 file (written before collations) still loads: its
    /// string columns keep byte order as utf8mb4_bin, and a key stored
    /// with trailing spaces is re-keyed so lookups without them find it.
    #[test]
    fn version_1_files_load() {
        use super::v1;
        let col = |name: &str, ty: SqlType| v1::ColumnDef {
            name: name.into(),
            ty,
            nullable: true,
            default: None,
            auto_increment: false,
            on_update_now: false,
            comment: String::new(),
        };
        let def = v1::TableDef {
            db: "d".into(),
            name: "t".into(),
            columns: vec![col("s", SqlType::Varchar(10)), col("n", SqlType::Double)],
            primary: Some(vec![0]),
            indexes: vec![],
            next_index_id: 1,
            engine: "InnoDB".into(),
            charset: "utf8mb4".into(),
            comment: String::new(),
            version: 1,
        };
        let row = vec![Value::Str("ab ".into()), Value::Double(1.5)];
        let old_key = keycode::encode_key([&row[0]]);
        let records = [
            v1::Record::Header {
                seqno: 3,
                state_uuid: "u".into(),
            },
            v1::Record::Users(vec![]),
            v1::Record::Database("d".into()),
            v1::Record::Table {
                def: Box::new(def),
                auto_inc_max: 0,
            },
            v1::Record::Rows {
                table: "d.t".into(),
                rows: vec![(old_key, row)],
            },
            v1::Record::Cert(vec![7]),
            v1::Record::LowWater(vec![]),
            v1::Record::End { records: 8 },
        ];
        let mut bytes = Vec::new();
        for r in &records {
            let payload = codec::encode(MAGIC, 1, r).unwrap();
            bytes.extend_from_slice(&(payload.len() as u32).to_le_bytes());
            bytes.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
            bytes.extend_from_slice(&payload);
        }
        let l = decode(&bytes).unwrap();
        let t = l.catalog.table("d", "t").unwrap();
        assert_eq!(t.def.columns[0].collation, Some(Collation::Utf8mb4Bin));
        assert_eq!(t.def.columns[1].collation, None);
        assert_eq!(l.catalog.databases["d"].collation, Collation::default());
        let probe = t
            .def
            .pk_of(&[Value::Str("ab".into()), Value::Null])
            .unwrap();
        assert!(t.get(&probe, 3).unwrap().is_some());
    }

    /// A version-2 file (before generated columns) still loads, its
    /// columns not generated.
    #[test]
    fn version_2_files_load() {
        use super::v2;
        let def = v2::TableDef {
            db: "d".into(),
            name: "t".into(),
            columns: vec![
                v2::ColumnDef {
                    name: "id".into(),
                    ty: SqlType::Int {
                        width: crate::types::IntWidth::Int,
                        unsigned: false,
                    },
                    nullable: false,
                    default: None,
                    auto_increment: false,
                    on_update_now: false,
                    comment: String::new(),
                    collation: None,
                    check: None,
                },
                v2::ColumnDef {
                    name: "s".into(),
                    ty: SqlType::Varchar(10),
                    nullable: false,
                    default: None,
                    auto_increment: false,
                    on_update_now: false,
                    comment: "c".into(),
                    collation: Some(Collation::Utf8mb4UnicodeCi),
                    check: Some("s <> ''".into()),
                },
            ],
            primary: Some(vec![0]),
            indexes: vec![],
            next_index_id: 1,
            engine: "InnoDB".into(),
            collation: Collation::default(),
            comment: String::new(),
            foreign_keys: vec![],
            checks: vec![("c1".into(), "1".into())],
            version: 2,
        };
        let row = vec![Value::Int(1), Value::Str("ab".into())];
        let key = keycode::encode_key([&row[0]]);
        let records = [
            v2::Record::Header {
                seqno: 3,
                state_uuid: "u".into(),
            },
            v2::Record::Users(vec![]),
            v2::Record::Database {
                name: "d".into(),
                collation: Collation::Utf8mb4Bin,
            },
            v2::Record::Table {
                def: Box::new(def),
                auto_inc_max: 0,
            },
            v2::Record::Rows {
                table: "d.t".into(),
                rows: vec![(key, row)],
            },
            v2::Record::Cert(vec![7]),
            v2::Record::LowWater(vec![]),
            v2::Record::End { records: 8 },
        ];
        let mut bytes = Vec::new();
        for r in &records {
            let payload = codec::encode(MAGIC, 2, r).unwrap();
            bytes.extend_from_slice(&(payload.len() as u32).to_le_bytes());
            bytes.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
            bytes.extend_from_slice(&payload);
        }
        let l = decode(&bytes).unwrap();
        let t = l.catalog.table("d", "t").unwrap();
        let c = &t.def.columns[1];
        assert_eq!(c.collation, Some(Collation::Utf8mb4UnicodeCi));
        assert_eq!(c.check.as_deref(), Some("s <> ''"));
        assert!(c.generated.is_none());
        assert!(!c.nullable);
        assert_eq!(t.def.checks.len(), 1);
        assert_eq!(l.catalog.databases["d"].collation, Collation::Utf8mb4Bin);
        assert!(t
            .get(&t.def.pk_of(&[Value::Int(1), Value::Null]).unwrap(), 3)
            .unwrap()
            .is_some());
    }
}
