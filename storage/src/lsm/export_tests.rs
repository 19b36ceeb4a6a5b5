//! The state stream (`super::export`): a copy holds exactly the rows visible
//! at its horizon, damaged streams are refused (never half-used), and an
//! import cut short is seen at the next open.

use std::io::Cursor;
use std::sync::Arc;

use super::export::{
    import_from, read_frame, ExportStats, Exporter, ImportOptions, Importer, TransferError,
};
use super::recovery::{self, Found};
use super::recovery_tests::{apply, contents, point, row, store_with_table, write_sets, Ops};
use super::LsmEngine;
use crate::{Engine, Store};

/// The horizon of the source: write-sets 2..=6, then 200 rows at 7.
const S: u64 = 7;

fn bulk() -> Ops {
    (100..300).map(|i| (i, Some(row(i, i % 7)))).collect()
}

/// A source engine at horizon `S` with a recovery point there.
fn source(dir: &std::path::Path) -> (Arc<LsmEngine>, Arc<Store>) {
    let e = LsmEngine::open(dir, 1 << 20).unwrap();
    let store = store_with_table(Engine::Lsm(e.clone()));
    for (s, ops) in write_sets() {
        apply(&store, s, &ops);
        store.advance_horizon(s);
    }
    apply(&store, S, &bulk());
    store.advance_horizon(S);
    store.persist_recovery_point(&point(S)).unwrap();
    (e, store)
}

/// The whole stream of `e`, in chunks of about `chunk` bytes.
fn export(e: &Arc<LsmEngine>, chunk: usize) -> (Vec<u8>, ExportStats) {
    let mut out = Vec::new();
    let stats = Exporter::new(e)
        .unwrap()
        .with_chunk_bytes(chunk)
        .write_all(&mut out)
        .unwrap();
    (out, stats)
}

/// Byte ranges of the frames of a stream.
fn frames(stream: &[u8]) -> Vec<std::ops::Range<usize>> {
    let mut c = Cursor::new(stream);
    let mut out = Vec::new();
    loop {
        let at = c.position() as usize;
        match read_frame(&mut c).unwrap() {
            Some(_) => out.push(at..c.position() as usize),
            None => return out,
        }
    }
}

/// The store on a copied engine, as a restart reads it.
fn reopened(e: &Arc<LsmEngine>) -> (Arc<Store>, recovery::Recovered) {
    let store = Store::with_engine(Engine::Lsm(e.clone()));
    let rec = store.recover_from_engine().unwrap().expect("a usable copy");
    (store, rec)
}

#[test]
fn a_copy_holds_the_rows_visible_at_its_horizon() {
    let (src_dir, dst_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (src, src_store) = source(src_dir.path());
    let (stream, stats) = export(&src, 512);
    assert_eq!(stats.horizon, S);
    assert!(stats.chunks > 3, "small chunks: {stats:?}");
    // Rows 2 and 1 were deleted along the way; 3 and 7 remain, plus bulk.
    assert_eq!(stats.rows, 203);
    assert_eq!(stats.bytes, stream.len() as u64);

    let dst = LsmEngine::open(dst_dir.path(), 1 << 20).unwrap();
    let got = import_from(&dst, ImportOptions::default(), &mut Cursor::new(&stream)).unwrap();
    assert_eq!((got.horizon, got.rows, got.chunks), (S, 203, stats.chunks));
    assert_eq!(got.point, point(S));
    let (copy, rec) = reopened(&dst);
    assert_eq!((rec.horizon, rec.point.clone()), (S, point(S)));
    assert_eq!(contents(&copy, S), contents(&src_store, S));
    // Only the newest version at S is copied: nothing older is readable.
    // (Row 3 is copied at seqno 6, row 7 at 5, the bulk at 7.)
    assert!(
        contents(&copy, 4).0.is_empty(),
        "versions keep their seqnos"
    );
    assert_eq!(contents(&copy, 5).0, vec![(7, 70)]);
    // AUTO_INCREMENT continues above every copied row.
    let t = copy.catalog().table("d", "t").unwrap().clone();
    assert_eq!(t.next_auto_inc(1, 1), 300);
    // The copy restarts from disk like the source (a reopen after drop).
    drop((copy, t));
    drop(dst);
    let dst = LsmEngine::open(dst_dir.path(), 1 << 20).unwrap();
    let (copy, rec) = reopened(&dst);
    assert_eq!(rec.horizon, S);
    assert_eq!(contents(&copy, S), contents(&src_store, S));
}

#[test]
fn a_rebased_copy_starts_a_new_history_at_zero() {
    let (src_dir, dst_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (src, src_store) = source(src_dir.path());
    let (stream, _) = export(&src, 4096);
    let dst = LsmEngine::open(dst_dir.path(), 1 << 20).unwrap();
    let opts = ImportOptions {
        rebase: true,
        point: Some(point(0)),
    };
    let got = import_from(&dst, opts, &mut Cursor::new(&stream)).unwrap();
    assert_eq!((got.source_horizon, got.horizon), (S, 0));
    let (copy, rec) = reopened(&dst);
    assert_eq!((rec.horizon, rec.point.seqno), (0, 0));
    assert_eq!(contents(&copy, 0), contents(&src_store, S));
    let t = copy.catalog().table("d", "t").unwrap().clone();
    assert_eq!(t.def.version, 0);
    assert_eq!(t.latest_seqno(&super::recovery_tests::pk(3)).unwrap(), 0);
    // A rebase without a point at 0 is refused before anything is emptied.
    let bad = ImportOptions {
        rebase: true,
        point: Some(point(3)),
    };
    assert!(matches!(
        Importer::begin(&dst, bad),
        Err(TransferError::Damaged(_))
    ));
    assert_eq!(contents(&copy, 0), contents(&src_store, S));
}

/// Every way of cutting the stream short is refused, and leaves the engine
/// marked incomplete.
#[test]
fn a_torn_stream_is_refused() {
    let (src_dir, dst_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (src, _) = source(src_dir.path());
    let (stream, _) = export(&src, 1024);
    let dst = LsmEngine::open(dst_dir.path(), 1 << 20).unwrap();
    let ends: Vec<usize> = frames(&stream).iter().map(|r| r.end).collect();
    // Inside a header, inside a payload, and at every frame boundary but
    // the last (a clean cut that loses the trailer or more).
    let mut cuts = vec![0, 3, 11, stream.len() - 1];
    cuts.extend(&ends[..ends.len() - 1]);
    for cut in cuts {
        let e = import_from(
            &dst,
            ImportOptions::default(),
            &mut Cursor::new(&stream[..cut]),
        )
        .expect_err("a torn stream");
        assert!(matches!(e, TransferError::Damaged(_)), "cut at {cut}: {e}");
        assert!(
            matches!(recovery::inspect(&dst).unwrap(), Found::IncompleteTransfer),
            "cut at {cut}"
        );
    }
    // The whole stream still imports into the same engine.
    import_from(&dst, ImportOptions::default(), &mut Cursor::new(&stream)).unwrap();
    assert!(matches!(recovery::inspect(&dst).unwrap(), Found::Ready(_)));
}

#[test]
fn a_flipped_bit_is_refused() {
    let (src_dir, dst_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (src, _) = source(src_dir.path());
    let (stream, _) = export(&src, 1024);
    let dst = LsmEngine::open(dst_dir.path(), 1 << 20).unwrap();
    let fs = frames(&stream);
    // A bit in a row payload, in a CRC, and in the header chunk.
    for at in [fs[1].start + 20, fs[2].start + 5, fs[0].start + 12] {
        let mut bad = stream.clone();
        bad[at] ^= 0x10;
        let e = import_from(&dst, ImportOptions::default(), &mut Cursor::new(&bad))
            .expect_err("a flipped bit");
        assert!(e.to_string().contains("CRC32"), "byte {at}: {e}");
        assert!(matches!(
            recovery::inspect(&dst).unwrap(),
            Found::IncompleteTransfer
        ));
    }
    // A length that claims more than any chunk may hold.
    let mut bad = stream.clone();
    bad[fs[1].start + 3] = 0xff;
    let e = import_from(&dst, ImportOptions::default(), &mut Cursor::new(&bad))
        .expect_err("a huge length");
    assert!(matches!(e, TransferError::Damaged(_)), "{e}");
}

#[test]
fn a_missing_chunk_or_another_version_is_refused() {
    let (src_dir, dst_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (src, _) = source(src_dir.path());
    let (stream, _) = export(&src, 1024);
    let dst = LsmEngine::open(dst_dir.path(), 1 << 20).unwrap();
    let fs = frames(&stream);
    // Drop one whole rows chunk: every frame is intact, the counts are not.
    let mut gap = stream[..fs[2].start].to_vec();
    gap.extend_from_slice(&stream[fs[2].end..]);
    let e = import_from(&dst, ImportOptions::default(), &mut Cursor::new(&gap))
        .expect_err("a missing chunk");
    assert!(e.to_string().contains("trailer counts"), "{e}");
    // The header chunk of a future format version, correctly framed.
    let mut header = stream[fs[0].start + 8..fs[0].end].to_vec();
    header[3] = super::export::FORMAT_VERSION + 1;
    let mut future = (header.len() as u32).to_le_bytes().to_vec();
    future.extend_from_slice(&crc32fast::hash(&header).to_le_bytes());
    future.extend_from_slice(&header);
    future.extend_from_slice(&stream[fs[0].end..]);
    let e = import_from(&dst, ImportOptions::default(), &mut Cursor::new(&future))
        .expect_err("another version");
    assert!(e.to_string().contains("version 1"), "{e}");
    // Rows before the header.
    let e = import_from(
        &dst,
        ImportOptions::default(),
        &mut Cursor::new(&stream[fs[1].start..]),
    )
    .expect_err("no header");
    assert!(e.to_string().contains("header"), "{e}");
    assert!(matches!(
        recovery::inspect(&dst).unwrap(),
        Found::IncompleteTransfer
    ));
}

/// A node that dies while a stream is being copied in finds, at its next
/// start, an engine marked incomplete; emptied again, it takes the stream.
#[test]
fn an_import_cut_by_a_crash_is_redone_after_the_restart() {
    let (src_dir, dst_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (src, src_store) = source(src_dir.path());
    let (stream, _) = export(&src, 1024);
    let fs = frames(&stream);
    {
        let dst = LsmEngine::open(dst_dir.path(), 1 << 20).unwrap();
        // It held a state of its own before.
        let old = store_with_table(Engine::Lsm(dst.clone()));
        old.persist_recovery_point(&point(1)).unwrap();
        let mut imp = Importer::begin(&dst, ImportOptions::default()).unwrap();
        let mut c = Cursor::new(&stream[..fs[3].end]);
        while let Some(p) = read_frame(&mut c).unwrap() {
            imp.feed(&p).unwrap();
        }
        dst.persist().unwrap();
        // The process dies here: no finish.
    }
    let dst = LsmEngine::open(dst_dir.path(), 1 << 20).unwrap();
    assert!(matches!(
        recovery::inspect(&dst).unwrap(),
        Found::IncompleteTransfer
    ));
    let store = Store::with_engine(Engine::Lsm(dst.clone()));
    assert!(store.recover_from_engine().unwrap().is_none());
    // What the node does at start (`node::storage::open_store`): empty it.
    dst.clear(None).unwrap();
    import_from(&dst, ImportOptions::default(), &mut Cursor::new(&stream)).unwrap();
    let (copy, rec) = reopened(&dst);
    assert_eq!(rec.horizon, S);
    assert_eq!(contents(&copy, S), contents(&src_store, S));
}

/// The copy is the state at the snapshot's horizon, whatever lands while it
/// is read: updates, deletes, new rows, a later recovery point and garbage
/// collection of the versions it is reading.
#[test]
fn writes_during_an_export_do_not_reach_the_copy() {
    let (src_dir, dst_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (src, src_store) = source(src_dir.path());
    let at_s = contents(&src_store, S);
    let mut exporter = Exporter::new(&src).unwrap().with_chunk_bytes(256);
    assert_eq!(exporter.horizon(), S);
    let mut stream = Vec::new();
    // The header and a first rows chunk go out before the writes.
    for _ in 0..2 {
        stream.extend(exporter.next_frame().unwrap().unwrap());
    }
    let later: Vec<(u64, Ops)> = vec![
        (
            S + 1,
            (100..300)
                .step_by(3)
                .map(|i| (i, Some(row(i, -i))))
                .collect(),
        ),
        (S + 2, (101..300).step_by(3).map(|i| (i, None)).collect()),
        (S + 3, vec![(3, None), (9, Some(row(9, 90)))]),
    ];
    for (s, ops) in &later {
        apply(&src_store, *s, ops);
        src_store.advance_horizon(*s);
    }
    src_store.persist_recovery_point(&point(S + 3)).unwrap();
    src_store.collect_garbage();
    assert_ne!(contents(&src_store, S + 3), at_s, "the writes changed rows");
    while let Some(f) = exporter.next_frame().unwrap() {
        stream.extend(f);
    }
    let dst = LsmEngine::open(dst_dir.path(), 1 << 20).unwrap();
    let got = import_from(&dst, ImportOptions::default(), &mut Cursor::new(&stream)).unwrap();
    assert_eq!(got.horizon, S);
    let (copy, _) = reopened(&dst);
    assert_eq!(contents(&copy, S), at_s);
    assert_eq!(contents(&copy, S + 3), at_s, "nothing above S was copied");
}
