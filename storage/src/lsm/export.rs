//! A consistent copy of an [`LsmEngine`] as a stream of chunks, and the
//! import that writes such a stream straight into another (emptied) engine.
//! Used by streaming state transfer and by `trireme backup`.
//!
//! # What is copied, and at which seqno
//!
//! The exporter opens one fjall snapshot (a point-in-time view of every
//! keyspace) and reads everything from it, so appliers keep committing
//! while it streams: no lock is held after [`Exporter::new`] returns. Its
//! seqno `S` is the applied horizon stored in that snapshot. Every batch at
//! or below `S` is in the snapshot (a batch carries the horizon reached
//! *before* it, so `S` is stored only once every seqno up to it has landed),
//! and the stored catalog is the catalog after exactly `1..=S` (a DDL writes
//! it together with `horizon` = its own seqno). Row versions above `S` may be
//! in the snapshot too (appliers commit out of order); they are skipped.
//!
//! Per row of each table the catalog names, only the newest version at or
//! below `S` is sent, and not at all when that version is a delete: a reader
//! of the copy reads at `S` or later, so older versions are garbage there.
//! Index entries are not sent: the importer derives them from the rows and
//! the catalog, so the copy holds no stale entries (the donor's index
//! keyspace may hold entries of versions above `S` or already collected).
//! Rows of dropped tables (left on disk until a compaction filter removes
//! them) are not sent either.
//!
//! # Format (version 1)
//!
//! A sequence of frames, each
//!
//! | bytes | field |
//! |---|---|
//! | 4 | payload length, u32 little-endian (at most [`MAX_FRAME_BYTES`]) |
//! | 4 | CRC32 (IEEE, `crc32fast`) of the payload, u32 little-endian |
//! | n | payload: a `Chunk` through the storage codec (magic `TSX`, version [`FORMAT_VERSION`]) |
//!
//! The first chunk is the `Header` (horizon `S`, table-id counter, catalog,
//! AUTO_INCREMENT high-waters, the donor's recovery point if it has one);
//! then `Rows` chunks of about [`CHUNK_BYTES`] each (whole rows, never split);
//! then the `Trailer` with the number of `Rows` chunks and rows sent. A
//! stream is used entirely or not at all.
//!
//! # Import and crashes
//!
//! [`Importer::begin`] empties the engine leaving the `transfer` marker
//! (`super::keys::TRANSFER`) durably in it; rows are written as they arrive;
//! the marker goes only in the final batch, which also writes the catalog,
//! the horizon and a recovery point, and only when the trailer's counts
//! match what arrived. A crash at any point before is seen at the next open
//! (`super::recovery::inspect` answers `IncompleteTransfer`) and the engine
//! is emptied again. Damaged input (a torn stream, a CRC mismatch, another
//! version, chunks out of order) is a [`TransferError::Damaged`], never a
//! panic.
//!
//! # Rebase
//!
//! With [`ImportOptions::rebase`], every version is restamped to seqno 0,
//! the horizon is 0 and table definitions lose their DDL seqnos: the copy is
//! the starting state of a *new* history (a backup that seeds a new
//! cluster), as if it had been loaded before the first ordered event.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::sync::Arc;

use fjall::Readable;
use serde::{Deserialize, Serialize};

use super::engine::{engine_err, LsmEngine};
use super::keys;
use super::recovery::{self, RecoveryPoint};
use super::rows::{LsmTable, Prior};
use crate::catalog::TableDef;
use crate::codec::{self, CodecError};
use crate::error::StorageError;

/// Version of the stream format above.
pub const FORMAT_VERSION: u8 = 1;
const MAGIC: &[u8; 3] = b"TSX";
/// Target payload size of a `Rows` chunk.
pub const CHUNK_BYTES: usize = 1 << 20;
/// Largest frame accepted when reading: a chunk holds at least one whole
/// row, so a very large row makes a large chunk; a larger length is damage,
/// refused before anything is allocated for it.
pub const MAX_FRAME_BYTES: usize = 256 << 20;

#[derive(Serialize, Deserialize)]
enum Chunk {
    Header(Header),
    Rows(Vec<Entry>),
    Trailer { chunks: u64, rows: u64 },
}

/// What the stream says about the copied state, before any row.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Header {
    /// The seqno `S` the copy is taken at.
    pub horizon: u64,
    /// The donor's table-id counter (ids at or above it are unused).
    pub next_table: u64,
    /// The stored catalog record (`recovery::encode_catalog`), if any DDL ran.
    pub catalog: Option<Vec<u8>>,
    /// AUTO_INCREMENT high-waters by table id.
    pub auto_inc: Vec<(u64, u64)>,
    /// The donor's stored recovery point record, if it has one.
    pub recovery: Option<Vec<u8>>,
}

/// One row: its newest version at or below `S`.
#[derive(Serialize, Deserialize)]
struct Entry {
    table: u64,
    pk: Vec<u8>,
    seqno: u64,
    /// The stored version value (`keys::encode_version`), never a delete.
    value: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    /// Reading or writing the stream failed (a closed connection, a full
    /// disk on the receiving side).
    #[error("state transfer I/O: {0}")]
    Io(String),
    /// The bytes are not a complete, intact stream of this version.
    #[error("state transfer stream refused: {0}")]
    Damaged(String),
    #[error("state transfer: {0}")]
    Storage(#[from] StorageError),
}

impl From<std::io::Error> for TransferError {
    fn from(e: std::io::Error) -> Self {
        TransferError::Io(e.to_string())
    }
}

fn damaged(what: impl std::fmt::Display) -> TransferError {
    TransferError::Damaged(what.to_string())
}

/// Frames one payload: length, CRC32, payload.
fn frame(payload: &[u8]) -> Result<Vec<u8>, TransferError> {
    let len = u32::try_from(payload.len())
        .ok()
        .filter(|n| (*n as usize) <= MAX_FRAME_BYTES)
        .ok_or_else(|| damaged(format!("a chunk of {} bytes is too large", payload.len())))?;
    let mut out = Vec::with_capacity(payload.len() + 8);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
    Ok(out)
}

/// The header of a frame: payload length and CRC, checked for size.
pub fn parse_frame_header(h: &[u8; 8]) -> Result<(usize, u32), TransferError> {
    let len = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize;
    let crc = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
    if len > MAX_FRAME_BYTES {
        return Err(damaged(format!(
            "a chunk claims {len} bytes, more than the {MAX_FRAME_BYTES} allowed"
        )));
    }
    Ok((len, crc))
}

/// Checks a payload against its frame's CRC.
pub fn check_frame(payload: &[u8], crc: u32) -> Result<(), TransferError> {
    if crc32fast::hash(payload) != crc {
        return Err(damaged("a chunk fails its CRC32 check"));
    }
    Ok(())
}

/// Reads one frame's payload, CRC checked. `None` at a clean end of the
/// input (between frames); a frame cut short is damage.
pub fn read_frame<R: Read>(r: &mut R) -> Result<Option<Vec<u8>>, TransferError> {
    let mut h = [0u8; 8];
    let mut got = 0;
    while got < h.len() {
        match r.read(&mut h[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => return Err(damaged("the stream ends inside a chunk header")),
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    let (len, crc) = parse_frame_header(&h)?;
    let mut payload = vec![0u8; len];
    r.read_exact(&mut payload).map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            damaged("the stream ends inside a chunk")
        } else {
            e.into()
        }
    })?;
    check_frame(&payload, crc)?;
    Ok(Some(payload))
}

fn encode_chunk(c: &Chunk) -> Result<Vec<u8>, TransferError> {
    let payload = codec::encode(MAGIC, FORMAT_VERSION, c)
        .map_err(|e| TransferError::Storage(StorageError::Engine(e.to_string())))?;
    frame(&payload)
}

fn decode_chunk(payload: &[u8]) -> Result<Chunk, TransferError> {
    codec::decode(MAGIC, FORMAT_VERSION, "state transfer chunk", payload).map_err(|e| match e {
        CodecError::BadHeader(_) => damaged(format!(
            "not a trireme state stream of version {FORMAT_VERSION} (it starts with {:02x?})",
            &payload[..payload.len().min(4)]
        )),
        other => damaged(other),
    })
}

/// What an export sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExportStats {
    pub horizon: u64,
    pub chunks: u64,
    pub rows: u64,
    /// Bytes of the whole stream, framing included.
    pub bytes: u64,
}

enum Stage {
    Header,
    Rows,
    Done,
}

/// Produces the stream of one engine at the horizon of a snapshot taken in
/// [`Exporter::new`]. Each call of [`Exporter::next_frame`] reads about one
/// chunk from the snapshot; nothing is locked in between.
pub struct Exporter {
    engine: Arc<LsmEngine>,
    snap: fjall::Snapshot,
    header: Header,
    /// Table ids to copy, ascending.
    tables: Vec<u64>,
    /// Index into `tables` of the table being read.
    next: usize,
    /// The key (inclusive) the current table's scan resumes at.
    resume: Option<Vec<u8>>,
    stage: Stage,
    stats: ExportStats,
    chunk_bytes: usize,
}

impl Exporter {
    /// Takes the snapshot and reads what the header needs from it.
    pub fn new(engine: &Arc<LsmEngine>) -> Result<Exporter, TransferError> {
        let snap = engine.snapshot();
        let meta = engine.meta_keyspace();
        let get = |k: &[u8]| -> Result<Option<Vec<u8>>, TransferError> {
            Ok(snap.get(meta, k).map_err(engine_err)?.map(|v| v.to_vec()))
        };
        if get(keys::TRANSFER)?.is_some() {
            return Err(StorageError::Engine(
                "this engine is itself being filled by a state transfer; it has no state to copy"
                    .into(),
            )
            .into());
        }
        let u64_of = |k: &[u8]| -> Result<Option<u64>, TransferError> {
            get(k)?
                .map(|v| {
                    keys::decode_u64(&v).ok_or_else(|| {
                        StorageError::Corrupt(format!(
                            "meta key {} is not a u64",
                            String::from_utf8_lossy(k)
                        ))
                        .into()
                    })
                })
                .transpose()
        };
        let horizon = u64_of(keys::HORIZON)?.unwrap_or(0);
        let next_table = u64_of(keys::NEXT_TABLE)?.unwrap_or(1);
        let catalog = get(keys::CATALOG)?;
        let recovery = get(keys::RECOVERY)?;
        let mut auto_inc = Vec::new();
        for g in snap.prefix(meta, keys::AUTO_INC) {
            let (k, v) = g.into_inner().map_err(engine_err)?;
            match (keys::split_auto_inc_key(&k), keys::decode_u64(&v)) {
                (Some(id), Some(v)) => auto_inc.push((id, v)),
                _ => {
                    return Err(StorageError::Corrupt(
                        "malformed AUTO_INCREMENT record in the meta keyspace".into(),
                    )
                    .into())
                }
            }
        }
        let mut tables: Vec<u64> = match &catalog {
            Some(c) => recovery::catalog_tables(c)?
                .into_iter()
                .map(|(id, _)| id)
                .collect(),
            None => Vec::new(),
        };
        tables.sort_unstable();
        tables.dedup();
        Ok(Exporter {
            engine: engine.clone(),
            snap,
            header: Header {
                horizon,
                next_table,
                catalog,
                auto_inc,
                recovery,
            },
            tables,
            next: 0,
            resume: None,
            stage: Stage::Header,
            stats: ExportStats {
                horizon,
                ..ExportStats::default()
            },
            chunk_bytes: CHUNK_BYTES,
        })
    }

    /// Another target chunk size (tests use small ones to get many chunks).
    pub fn with_chunk_bytes(mut self, n: usize) -> Exporter {
        self.chunk_bytes = n.max(1);
        self
    }

    /// The seqno `S` the copy is taken at.
    pub fn horizon(&self) -> u64 {
        self.header.horizon
    }

    /// What has been produced so far.
    pub fn stats(&self) -> ExportStats {
        self.stats
    }

    /// The next frame of the stream (header, rows, trailer), `None` after
    /// the trailer.
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, TransferError> {
        let chunk = match self.stage {
            Stage::Done => return Ok(None),
            Stage::Header => {
                self.stage = Stage::Rows;
                Chunk::Header(self.header.clone())
            }
            Stage::Rows => match self.rows_chunk()? {
                Some(entries) => {
                    self.stats.chunks += 1;
                    self.stats.rows += entries.len() as u64;
                    Chunk::Rows(entries)
                }
                None => {
                    self.stage = Stage::Done;
                    Chunk::Trailer {
                        chunks: self.stats.chunks,
                        rows: self.stats.rows,
                    }
                }
            },
        };
        let f = encode_chunk(&chunk)?;
        self.stats.bytes += f.len() as u64;
        Ok(Some(f))
    }

    /// Writes the whole stream to `w`.
    pub fn write_all<W: Write>(mut self, w: &mut W) -> Result<ExportStats, TransferError> {
        while let Some(f) = self.next_frame()? {
            w.write_all(&f)?;
        }
        w.flush()?;
        Ok(self.stats)
    }

    /// About `chunk_bytes` of rows, whole rows only; `None` when every
    /// table has been read.
    fn rows_chunk(&mut self) -> Result<Option<Vec<Entry>>, TransferError> {
        let horizon = self.header.horizon;
        let mut out = Vec::new();
        let mut size = 0usize;
        while let Some(&id) = self.tables.get(self.next) {
            let lo = self.resume.take().unwrap_or_else(|| keys::table_prefix(id));
            let hi = match id.checked_add(1) {
                Some(n) => std::ops::Bound::Excluded(keys::table_prefix(n)),
                None => std::ops::Bound::Unbounded,
            };
            let mut current: Option<Vec<u8>> = None;
            let mut taken = false;
            let mut full = false;
            for g in self
                .snap
                .range(&self.engine.rows, (std::ops::Bound::Included(lo), hi))
            {
                let (k, v) = g.into_inner().map_err(engine_err)?;
                let (pk, seqno) = keys::split_row_key(&k).ok_or_else(|| {
                    StorageError::Corrupt(format!("table {id}: a malformed row key"))
                })?;
                if current.as_deref() != Some(&pk[..]) {
                    // A new row: the place to stop once the chunk is full.
                    if size >= self.chunk_bytes {
                        self.resume = Some(k.to_vec());
                        full = true;
                        break;
                    }
                    current = Some(pk.clone());
                    taken = false;
                }
                // Versions run newest first: the first at or below S is
                // the one a reader at S sees.
                if taken || seqno > horizon {
                    continue;
                }
                taken = true;
                match v.first() {
                    Some(0) => continue, // a delete: nothing to copy
                    Some(1) => {}
                    _ => {
                        return Err(StorageError::Corrupt(format!(
                            "table {id}: a row version with an unknown tag"
                        ))
                        .into())
                    }
                }
                size += k.len() + v.len() + 16;
                out.push(Entry {
                    table: id,
                    pk,
                    seqno,
                    value: v.to_vec(),
                });
            }
            if full {
                break;
            }
            self.next += 1;
        }
        Ok((!out.is_empty()).then_some(out))
    }
}

/// How a stream is written into an engine.
#[derive(Clone, Debug, Default)]
pub struct ImportOptions {
    /// Restamp the copy to seqno 0 (see the module doc).
    pub rebase: bool,
    /// The recovery point to store with the copy; `None` keeps the one the
    /// stream carries (refused with `rebase`, whose point must be at 0).
    pub point: Option<RecoveryPoint>,
}

/// What an import wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Imported {
    /// The seqno `S` the stream was taken at.
    pub source_horizon: u64,
    /// The horizon the engine now holds (`S`, or 0 when rebased).
    pub horizon: u64,
    pub chunks: u64,
    pub rows: u64,
    /// The recovery point stored with the copy.
    pub point: RecoveryPoint,
}

/// Writes a stream into an engine, chunk by chunk (see the module doc for
/// what happens on a crash).
pub struct Importer {
    engine: Arc<LsmEngine>,
    opts: ImportOptions,
    header: Option<Header>,
    tables: HashMap<u64, (TableDef, LsmTable)>,
    chunks: u64,
    rows: u64,
    /// The trailer arrived and its counts matched.
    complete: bool,
}

impl Importer {
    /// Empties `engine`, leaving the transfer marker in it durably.
    pub fn begin(engine: &Arc<LsmEngine>, opts: ImportOptions) -> Result<Importer, TransferError> {
        if opts.rebase && opts.point.as_ref().is_none_or(|p| p.seqno != 0) {
            return Err(damaged(
                "a rebased import needs a recovery point at seqno 0 from the caller",
            ));
        }
        engine.clear(Some(keys::TRANSFER))?;
        Ok(Importer {
            engine: engine.clone(),
            opts,
            header: None,
            tables: HashMap::new(),
            chunks: 0,
            rows: 0,
            complete: false,
        })
    }

    /// The stream's header, once it has arrived.
    pub fn header(&self) -> Option<&Header> {
        self.header.as_ref()
    }

    /// Whether the trailer has arrived (and its counts matched).
    pub fn is_complete(&self) -> bool {
        self.complete
    }

    /// Takes one frame's payload (CRC already checked: [`read_frame`]).
    pub fn feed(&mut self, payload: &[u8]) -> Result<(), TransferError> {
        if self.complete {
            return Err(damaged("data after the stream's trailer"));
        }
        match (decode_chunk(payload)?, self.header.is_some()) {
            (Chunk::Header(h), false) => {
                if let Some(c) = &h.catalog {
                    for (id, def) in recovery::catalog_tables(c)? {
                        let t = LsmTable::attach(&self.engine, id);
                        self.tables.insert(id, (def, t));
                    }
                }
                self.header = Some(h);
                Ok(())
            }
            (_, false) => Err(damaged("the stream does not start with its header")),
            (Chunk::Header(_), true) => Err(damaged("a second header inside the stream")),
            (Chunk::Rows(entries), true) => self.write_rows(entries),
            (Chunk::Trailer { chunks, rows }, true) => {
                if (chunks, rows) != (self.chunks, self.rows) {
                    return Err(damaged(format!(
                        "the trailer counts {chunks} chunks and {rows} rows, but {} chunks and {} rows arrived",
                        self.chunks, self.rows
                    )));
                }
                self.complete = true;
                Ok(())
            }
        }
    }

    fn write_rows(&mut self, entries: Vec<Entry>) -> Result<(), TransferError> {
        let horizon = self.header.as_ref().map_or(0, |h| h.horizon);
        let mut batch = self.engine.batch();
        let n = entries.len() as u64;
        for e in entries {
            let Some((def, table)) = self.tables.get(&e.table) else {
                return Err(damaged(format!(
                    "rows of table id {}, which the stream's catalog does not name",
                    e.table
                )));
            };
            if e.seqno > horizon {
                return Err(damaged(format!(
                    "a row version at seqno {} in a copy taken at {horizon}",
                    e.seqno
                )));
            }
            let row = match keys::decode_version(&e.value) {
                Ok(Some(r)) => r,
                Ok(None) => return Err(damaged("a delete inside a state stream")),
                Err(why) => return Err(damaged(format!("table {}: {why}", e.table))),
            };
            let seqno = if self.opts.rebase { 0 } else { e.seqno };
            table.install_into(def, &mut batch, &e.pk, seqno, Some(&row), Prior::Absent);
        }
        self.engine.commit(batch, None)?;
        self.chunks += 1;
        self.rows += n;
        Ok(())
    }

    /// Feeds every frame of `r`, then finishes.
    pub fn read_all<R: Read>(mut self, r: &mut R) -> Result<Imported, TransferError> {
        while let Some(payload) = read_frame(r)? {
            self.feed(&payload)?;
        }
        self.finish()
    }

    /// Writes the catalog, the horizon and the recovery point, removes the
    /// transfer marker and makes it all durable. Refused before the
    /// trailer has arrived.
    pub fn finish(self) -> Result<Imported, TransferError> {
        let (Some(h), true) = (&self.header, self.complete) else {
            return Err(damaged("the stream ended before its trailer"));
        };
        let point = match (&self.opts.point, &h.recovery) {
            (Some(p), _) => p.clone(),
            (None, Some(bytes)) => recovery::decode_recovery(bytes)?,
            (None, None) => {
                return Err(damaged(
                    "the stream carries no recovery point and the caller gave none",
                ))
            }
        };
        let horizon = if self.opts.rebase { 0 } else { h.horizon };
        if point.seqno > horizon {
            return Err(damaged(format!(
                "a recovery point at {} above the copy's horizon {horizon}",
                point.seqno
            )));
        }
        self.engine.raise_next_table(h.next_table)?;
        let mut b = self.engine.batch();
        if let Some(c) = &h.catalog {
            let c = if self.opts.rebase {
                recovery::rebase_catalog(c)?
            } else {
                c.clone()
            };
            b.put_meta(keys::CATALOG, c);
        }
        for (id, v) in &h.auto_inc {
            b.note_auto_inc(*id, *v);
        }
        b.put_meta(keys::RECOVERY, recovery::encode_recovery(&point)?);
        b.put_meta(
            keys::LAYOUT,
            recovery::LAYOUT_VERSION.to_be_bytes().to_vec(),
        );
        b.remove_meta(keys::TRANSFER);
        self.engine.commit(b, Some(horizon))?;
        self.engine.persist()?;
        Ok(Imported {
            source_horizon: h.horizon,
            horizon,
            chunks: self.chunks,
            rows: self.rows,
            point,
        })
    }
}

/// Reads a whole stream from `r` into `engine` (emptied first).
pub fn import_from<R: Read>(
    engine: &Arc<LsmEngine>,
    opts: ImportOptions,
    r: &mut R,
) -> Result<Imported, TransferError> {
    Importer::begin(engine, opts)?.read_all(r)
}
