//! The file seam under the gcache: a directory of append-only files.
//!
//! # Contract (every implementation, checked by the conformance suite in
//! `gcache::tests`)
//!
//! - [`Storage::create`] makes a new empty file (truncating any old one) and
//!   returns an appender; [`Storage::open_append`] appends to an existing file.
//! - [`LogFile::write_all`] appends all bytes or fails; after a failure the
//!   file may hold any prefix of the bytes (a torn write).
//! - [`LogFile::sync`] makes every byte written so far durable, or fails.
//!   A failed sync must be treated as "nothing since the last good sync is
//!   durable"; the gcache then refuses further writes.
//! - [`Storage::read`] returns every byte written (synced or not).
//! - [`Storage::truncate`] cuts a file to `len` bytes and makes that durable.
//! - [`Storage::write_atomic`] replaces a small file as a whole: a reader sees
//!   the old or the new content, never a mix; with `sync` it is durable on
//!   return.
//! - [`Storage::remove`] deletes a file; [`Storage::list`] names the files.
//!
//! [`OsStorage`] is the real one; [`MemStorage`] keeps files in memory,
//! tracks which bytes are durable, can simulate a crash (drop everything not
//! synced, or tear the tail at a chosen length) and can fail the next sync.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

/// An append-only file handle.
pub trait LogFile: Send {
    /// Append `buf`.
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()>;
    /// Make everything written so far durable.
    fn sync(&mut self) -> io::Result<()>;
}

/// A directory of gcache files. See the module docs for the contract.
pub trait Storage: Send + Sync + 'static {
    /// File names in the directory.
    fn list(&self) -> io::Result<Vec<String>>;
    /// Whole content of a file.
    fn read(&self, name: &str) -> io::Result<Vec<u8>>;
    /// Create (or truncate) a file and return an appender.
    fn create(&self, name: &str) -> io::Result<Box<dyn LogFile>>;
    /// Append to an existing file.
    fn open_append(&self, name: &str) -> io::Result<Box<dyn LogFile>>;
    /// Cut a file to `len` bytes, durably.
    fn truncate(&self, name: &str, len: u64) -> io::Result<()>;
    /// Delete a file.
    fn remove(&self, name: &str) -> io::Result<()>;
    /// Atomically replace a small file.
    fn write_atomic(&self, name: &str, data: &[u8], sync: bool) -> io::Result<()>;
    /// Make directory entries (creations, removals, renames) durable.
    fn sync_dir(&self) -> io::Result<()>;
}

/// [`Storage`] on a real directory.
#[derive(Debug, Clone)]
pub struct OsStorage {
    dir: PathBuf,
}

impl OsStorage {
    /// Use (and create) `dir`.
    pub fn new(dir: impl AsRef<Path>) -> io::Result<Self> {
        fs::create_dir_all(dir.as_ref())?;
        Ok(OsStorage {
            dir: dir.as_ref().to_path_buf(),
        })
    }

    fn p(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

struct OsFile(File);

impl LogFile for OsFile {
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.0.write_all(buf)
    }
    fn sync(&mut self) -> io::Result<()> {
        self.0.sync_data()
    }
}

impl Storage for OsStorage {
    fn list(&self) -> io::Result<Vec<String>> {
        let mut v = Vec::new();
        for e in fs::read_dir(&self.dir)? {
            let e = e?;
            if e.file_type()?.is_file() {
                if let Some(n) = e.file_name().to_str() {
                    v.push(n.to_string());
                }
            }
        }
        v.sort();
        Ok(v)
    }
    fn read(&self, name: &str) -> io::Result<Vec<u8>> {
        fs::read(self.p(name))
    }
    fn create(&self, name: &str) -> io::Result<Box<dyn LogFile>> {
        let f = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(self.p(name))?;
        Ok(Box::new(OsFile(f)))
    }
    fn open_append(&self, name: &str) -> io::Result<Box<dyn LogFile>> {
        let f = OpenOptions::new().append(true).open(self.p(name))?;
        Ok(Box::new(OsFile(f)))
    }
    fn truncate(&self, name: &str, len: u64) -> io::Result<()> {
        let f = OpenOptions::new().write(true).open(self.p(name))?;
        f.set_len(len)?;
        f.sync_all()
    }
    fn remove(&self, name: &str) -> io::Result<()> {
        match fs::remove_file(self.p(name)) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            r => r,
        }
    }
    fn write_atomic(&self, name: &str, data: &[u8], sync: bool) -> io::Result<()> {
        let tmp = self.p(&format!("{name}.tmp"));
        {
            let mut f = File::create(&tmp)?;
            f.write_all(data)?;
            if sync {
                f.sync_all()?;
            }
        }
        fs::rename(&tmp, self.p(name))?;
        if sync {
            self.sync_dir()?;
        }
        Ok(())
    }
    fn sync_dir(&self) -> io::Result<()> {
        File::open(&self.dir)?.sync_all()
    }
}

#[derive(Default, Clone)]
struct MemFileState {
    data: Vec<u8>,
    durable: usize,
}

/// In-memory [`Storage`] with crash and fault simulation, for tests.
#[derive(Clone, Default)]
pub struct MemStorage {
    files: Arc<Mutex<BTreeMap<String, MemFileState>>>,
    fail_sync: Arc<AtomicBool>,
}

impl MemStorage {
    /// Empty storage.
    pub fn new() -> Self {
        Self::default()
    }

    /// Make the next `sync` (of any file) fail with an I/O error.
    pub fn fail_next_sync(&self) {
        self.fail_sync.store(true, Ordering::SeqCst);
    }

    /// Simulate a machine crash: every file loses what was not synced.
    pub fn crash(&self) {
        for f in self.files.lock().values_mut() {
            let d = f.durable;
            f.data.truncate(d);
        }
    }

    /// Cut `name` to `len` bytes (tear its tail), as a crash mid-write could.
    pub fn tear(&self, name: &str, len: usize) {
        if let Some(f) = self.files.lock().get_mut(name) {
            f.data.truncate(len);
            f.durable = f.durable.min(len);
        }
    }

    /// Flip one byte of `name` at `offset` (simulated media corruption).
    pub fn corrupt(&self, name: &str, offset: usize) {
        if let Some(f) = self.files.lock().get_mut(name) {
            if let Some(b) = f.data.get_mut(offset) {
                *b ^= 0x5a;
            }
        }
    }

    /// Length of a file, if present.
    pub fn len_of(&self, name: &str) -> Option<usize> {
        self.files.lock().get(name).map(|f| f.data.len())
    }
}

struct MemFile {
    name: String,
    s: MemStorage,
}

impl LogFile for MemFile {
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        let mut g = self.s.files.lock();
        let f = g
            .get_mut(&self.name)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "file removed"))?;
        f.data.extend_from_slice(buf);
        Ok(())
    }
    fn sync(&mut self) -> io::Result<()> {
        if self.s.fail_sync.swap(false, Ordering::SeqCst) {
            return Err(io::Error::other("injected fsync failure"));
        }
        let mut g = self.s.files.lock();
        let f = g
            .get_mut(&self.name)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "file removed"))?;
        f.durable = f.data.len();
        Ok(())
    }
}

impl Storage for MemStorage {
    fn list(&self) -> io::Result<Vec<String>> {
        Ok(self.files.lock().keys().cloned().collect())
    }
    fn read(&self, name: &str) -> io::Result<Vec<u8>> {
        self.files
            .lock()
            .get(name)
            .map(|f| f.data.clone())
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, name.to_string()))
    }
    fn create(&self, name: &str) -> io::Result<Box<dyn LogFile>> {
        self.files
            .lock()
            .insert(name.to_string(), MemFileState::default());
        Ok(Box::new(MemFile {
            name: name.to_string(),
            s: self.clone(),
        }))
    }
    fn open_append(&self, name: &str) -> io::Result<Box<dyn LogFile>> {
        if !self.files.lock().contains_key(name) {
            return Err(io::Error::new(io::ErrorKind::NotFound, name.to_string()));
        }
        Ok(Box::new(MemFile {
            name: name.to_string(),
            s: self.clone(),
        }))
    }
    fn truncate(&self, name: &str, len: u64) -> io::Result<()> {
        let mut g = self.files.lock();
        let f = g
            .get_mut(name)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, name.to_string()))?;
        f.data.truncate(len as usize);
        f.durable = f.data.len();
        Ok(())
    }
    fn remove(&self, name: &str) -> io::Result<()> {
        self.files.lock().remove(name);
        Ok(())
    }
    fn write_atomic(&self, name: &str, data: &[u8], sync: bool) -> io::Result<()> {
        if sync && self.fail_sync.swap(false, Ordering::SeqCst) {
            return Err(io::Error::other("injected fsync failure"));
        }
        let len = data.len();
        self.files.lock().insert(
            name.to_string(),
            MemFileState {
                data: data.to_vec(),
                durable: len,
            },
        );
        Ok(())
    }
    fn sync_dir(&self) -> io::Result<()> {
        Ok(())
    }
}
