//! Conformance suite: every test runs against both [`MemStorage`] and
//! [`OsStorage`] (STYLE.md item 8), plus fault tests that need the in-memory
//! backend's switches.

use std::sync::Arc;

use bytes::Bytes;
use openraft::storage::{RaftLogStorage, RaftLogStorageExt};
use openraft::{CommittedLeaderId, EntryPayload, RaftLogReader, Vote};

use super::*;
use crate::config::FsyncPolicy;
use crate::types::{Command, Entry, LogId, Payload, Stamp};

enum Backend {
    Mem(MemStorage),
    Os(tempfile::TempDir, OsStorage),
}

impl Backend {
    fn all() -> Vec<Backend> {
        let d = tempfile::tempdir().unwrap();
        let os = OsStorage::new(d.path()).unwrap();
        vec![Backend::Mem(MemStorage::new()), Backend::Os(d, os)]
    }
    fn storage(&self) -> Arc<dyn Storage> {
        match self {
            Backend::Mem(m) => Arc::new(m.clone()),
            Backend::Os(_, o) => Arc::new(o.clone()),
        }
    }
    fn name(&self) -> &'static str {
        match self {
            Backend::Mem(_) => "mem",
            Backend::Os(..) => "os",
        }
    }
    fn segments(&self) -> Vec<String> {
        self.storage()
            .list()
            .unwrap()
            .into_iter()
            .filter(|n| n.starts_with("seg-"))
            .collect()
    }
    fn len_of(&self, name: &str) -> usize {
        self.storage().read(name).unwrap().len()
    }
    fn tear(&self, name: &str, len: usize) {
        match self {
            Backend::Mem(m) => m.tear(name, len),
            Backend::Os(d, _) => {
                let f = std::fs::OpenOptions::new()
                    .write(true)
                    .open(d.path().join(name))
                    .unwrap();
                f.set_len(len as u64).unwrap();
            }
        }
    }
    fn corrupt(&self, name: &str, off: usize) {
        match self {
            Backend::Mem(m) => m.corrupt(name, off),
            Backend::Os(d, _) => {
                let p = d.path().join(name);
                let mut b = std::fs::read(&p).unwrap();
                b[off] ^= 0x5a;
                std::fs::write(&p, b).unwrap();
            }
        }
    }
}

fn lid(term: u64, index: u64) -> LogId {
    LogId::new(CommittedLeaderId::new(term, 1), index)
}

fn entry(term: u64, index: u64) -> Entry {
    Entry {
        log_id: lid(term, index),
        payload: EntryPayload::Normal(Command::Stamped(vec![Payload {
            origin: 1,
            stamp: Stamp {
                incarnation: 1,
                seq: index,
                floor: index,
            },
            data: Bytes::from(format!("payload-{index}-{}", "x".repeat(100))),
        }])),
    }
}

fn opts(segment_bytes: u64) -> GcacheOptions {
    GcacheOptions {
        fsync: FsyncPolicy::Always,
        segment_bytes,
        max_read_bytes: 1 << 20,
    }
}

async fn indexes(g: &mut Gcache) -> Vec<(u64, u64)> {
    g.try_get_log_entries(0..u64::MAX)
        .await
        .unwrap()
        .iter()
        .map(|e| (e.log_id.leader_id.term, e.log_id.index))
        .collect()
}

#[test]
fn storage_contract() {
    for b in Backend::all() {
        let s = b.storage();
        let mut f = s.create("a").unwrap();
        f.write_all(b"hello ").unwrap();
        f.sync().unwrap();
        drop(f);
        let mut f = s.open_append("a").unwrap();
        f.write_all(b"world").unwrap();
        drop(f);
        assert_eq!(s.read("a").unwrap(), b"hello world", "{}", b.name());
        s.truncate("a", 5).unwrap();
        assert_eq!(s.read("a").unwrap(), b"hello");
        s.write_atomic("v", b"1", true).unwrap();
        s.write_atomic("v", b"22", true).unwrap();
        assert_eq!(s.read("v").unwrap(), b"22");
        let mut l = s.list().unwrap();
        l.sort();
        assert_eq!(l, vec!["a", "v"], "{}", b.name());
        s.remove("a").unwrap();
        s.remove("a").unwrap();
        assert!(s.read("a").is_err());
        assert!(s.open_append("a").is_err());
    }
}

#[tokio::test]
async fn recovers_entries_vote_truncate_and_purge() {
    for b in Backend::all() {
        let mut g = Gcache::open(b.storage(), opts(4096)).unwrap();
        g.blocking_append((1..=50).map(|i| entry(1, i)))
            .await
            .unwrap();
        g.save_vote(&Vote::new(3, 2)).await.unwrap();
        g.truncate(lid(1, 41)).await.unwrap();
        g.blocking_append((41..=45).map(|i| entry(2, i)))
            .await
            .unwrap();
        g.purge(lid(1, 20)).await.unwrap();
        g.flush().await.unwrap();
        let before = indexes(&mut g).await;
        g.close();
        assert!(
            b.segments().len() > 1,
            "{}: small segments rotate",
            b.name()
        );

        let mut g = Gcache::open(b.storage(), opts(4096)).unwrap();
        assert_eq!(indexes(&mut g).await, before, "{}", b.name());
        assert_eq!(before.first(), Some(&(1, 21)));
        assert_eq!(before.last(), Some(&(2, 45)));
        assert_eq!(g.read_vote().await.unwrap(), Some(Vote::new(3, 2)));
        let st = g.get_log_state().await.unwrap();
        assert_eq!(st.last_purged_log_id, Some(lid(1, 20)));
        assert_eq!(st.last_log_id, Some(lid(2, 45)));
        assert!(g.recovery().torn_tail.is_none());
        g.close();
    }
}

#[tokio::test]
async fn purge_deletes_whole_old_segments_only() {
    for b in Backend::all() {
        let mut g = Gcache::open(b.storage(), opts(2048)).unwrap();
        for i in 1..=200 {
            g.blocking_append([entry(1, i)]).await.unwrap();
        }
        let n_before = b.segments().len();
        g.purge(lid(1, 150)).await.unwrap();
        g.flush().await.unwrap();
        // Deletion happens after the purge record is written; give the
        // writer one more round trip.
        g.flush().await.unwrap();
        let n_after = b.segments().len();
        assert!(n_after < n_before, "{}: {n_before} -> {n_after}", b.name());
        g.close();
        let mut g = Gcache::open(b.storage(), opts(2048)).unwrap();
        let ix = indexes(&mut g).await;
        assert_eq!(ix.first().map(|x| x.1), Some(151), "{}", b.name());
        assert_eq!(ix.len(), 50);
        assert_eq!(g.purge_limit_for(0), Some(200));
        assert!(g.purge_limit_for(u64::MAX).is_none());
        g.close();
    }
}

#[tokio::test]
async fn torn_tail_is_cut_and_reported() {
    for b in Backend::all() {
        let mut g = Gcache::open(b.storage(), opts(1 << 20)).unwrap();
        g.blocking_append((1..=10).map(|i| entry(1, i)))
            .await
            .unwrap();
        g.close();
        let seg = b.segments().last().cloned().unwrap();
        let len = b.len_of(&seg);
        b.tear(&seg, len - 7);
        let mut g = Gcache::open(b.storage(), opts(1 << 20)).unwrap();
        let t = g.recovery().torn_tail.clone().expect("torn tail reported");
        assert_eq!(t.file, seg);
        assert!(t.reason.contains("truncated"), "{}", t.reason);
        let ix = indexes(&mut g).await;
        assert_eq!(
            ix.len(),
            9,
            "{}: the torn entry is gone, the others intact",
            b.name()
        );
        // Appending after recovery works, and the next open is clean.
        g.blocking_append([entry(1, 10)]).await.unwrap();
        g.close();
        let mut g = Gcache::open(b.storage(), opts(1 << 20)).unwrap();
        assert!(g.recovery().torn_tail.is_none());
        assert_eq!(indexes(&mut g).await.len(), 10);
        g.close();
    }
}

#[tokio::test]
async fn crc_corruption_in_the_newest_segment_is_a_torn_tail_elsewhere_an_error() {
    for b in Backend::all() {
        let mut g = Gcache::open(b.storage(), opts(2048)).unwrap();
        for i in 1..=60 {
            g.blocking_append([entry(1, i)]).await.unwrap();
        }
        g.close();
        let segs = b.segments();
        assert!(segs.len() >= 3);
        // Newest segment that holds entries: flip a byte in its last record.
        let newest = segs.last().unwrap().clone();
        let len = b.len_of(&newest);
        b.corrupt(&newest, len - 3);
        let mut g = Gcache::open(b.storage(), opts(2048)).unwrap();
        let t = g.recovery().torn_tail.clone().expect("reported");
        assert_eq!(t.reason, "CRC mismatch", "{}", b.name());
        assert_eq!(indexes(&mut g).await.len(), 59);
        g.close();
        // An older segment: refuse to start, saying what to do.
        let first = b.segments()[0].clone();
        b.corrupt(&first, 40);
        let err = Gcache::open(b.storage(), opts(2048))
            .err()
            .expect("corruption refused");
        let msg = err.to_string();
        assert!(msg.contains("corrupt") && msg.contains("rejoin"), "{msg}");
    }
}

#[tokio::test]
async fn failed_fsync_poisons_the_gcache() {
    let m = MemStorage::new();
    let mut g = Gcache::open(Arc::new(m.clone()), opts(1 << 20)).unwrap();
    g.blocking_append([entry(1, 1)]).await.unwrap();
    m.fail_next_sync();
    assert!(g.blocking_append([entry(1, 2)]).await.is_err());
    assert!(
        g.blocking_append([entry(1, 3)]).await.is_err(),
        "refuses writes after an I/O error"
    );
    assert!(g.save_vote(&Vote::new(1, 1)).await.is_err());
    g.close();
    // A crash loses only unsynced bytes; entry 1 survives.
    m.crash();
    let mut g = Gcache::open(Arc::new(m.clone()), opts(1 << 20)).unwrap();
    let ix = indexes(&mut g).await;
    assert_eq!(ix.first(), Some(&(1, 1)));
    g.close();
}

#[tokio::test]
async fn fsync_never_still_recovers_after_clean_close() {
    for b in Backend::all() {
        let o = GcacheOptions {
            fsync: FsyncPolicy::Never,
            ..opts(1 << 20)
        };
        let mut g = Gcache::open(b.storage(), o.clone()).unwrap();
        g.blocking_append((1..=5).map(|i| entry(1, i)))
            .await
            .unwrap();
        g.close();
        let mut g = Gcache::open(b.storage(), o).unwrap();
        assert_eq!(indexes(&mut g).await.len(), 5, "{}", b.name());
        g.close();
    }
}

#[tokio::test]
async fn limited_reads_respect_the_byte_budget() {
    let m = MemStorage::new();
    let o = GcacheOptions {
        max_read_bytes: 1000,
        ..opts(1 << 20)
    };
    let mut g = Gcache::open(Arc::new(m), o).unwrap();
    g.blocking_append((1..=100).map(|i| entry(1, i)))
        .await
        .unwrap();
    let mut r = g.get_log_reader().await;
    let got = r.limited_get_log_entries(1, 101).await.unwrap();
    assert!(!got.is_empty() && got.len() < 100, "{}", got.len());
    assert_eq!(got[0].log_id.index, 1);
    g.close();
}
