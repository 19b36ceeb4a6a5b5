//! The certification index against the brute-force reference model
//! (`common::Model`), on random histories: random write-sets (source nodes,
//! snapshots from far behind to the future, all key kinds, table-level and
//! long keys, row operations, PA-unsafe flags), TOI events, skipped seqnos,
//! gaps, purges (including beyond the position) and snapshot/restore round
//! trips through the codec in the middle of the history.
//!
//! After every event: same verdict (reason and numbers included), same
//! `depends_seqno`, same position, horizon and index size. At the end: same
//! statistics, and a twin index fed the same events with another hash seed
//! and no restores produces byte-identical snapshots.
//!
//! Failures are persisted by proptest under `proptest-regressions/` and
//! replayed first on the next run.

mod common;

use common::Model;
use proptest::prelude::*;
use trireme_certification::codec::{decode_snapshot, encode_snapshot};
use trireme_certification::{
    CertConfig, Certifier, Key, KeyKind, RowOp, RowOpKind, Seqno, Verdict, WriteSet,
};

const TABLES: [&str; 3] = ["d.t0", "d.t1", "s.t2"];
/// What a TOI may name: tables, and databases (a barrier for all their tables).
const TOI_NAMES: [&str; 5] = ["d.t0", "d.t1", "s.t2", "d", "s"];

#[derive(Clone, Debug)]
enum Op {
    Ws {
        gap: Seqno,
        source: u64,
        /// `last_seen = seqno - 1 - back`, saturating; `None`: a snapshot
        /// from the future (`last_seen >= seqno`).
        back: Option<Seqno>,
        keys: Vec<(usize, Option<u8>, KeyKind)>,
        op_tables: Vec<usize>,
        pa_unsafe: bool,
    },
    Toi {
        gap: Seqno,
        tables: Vec<usize>,
    },
    Skip {
        gap: Seqno,
    },
    /// `upto = position - back` (saturating), or far beyond the position.
    Purge {
        back: Option<Seqno>,
    },
    /// Replace the index by `restore(decode(encode(snapshot())))`.
    Restore {
        seed: u64,
    },
}

fn kind() -> impl Strategy<Value = KeyKind> {
    prop::sample::select(KeyKind::ALL.to_vec())
}

fn gap() -> impl Strategy<Value = Seqno> {
    prop_oneof![9 => Just(0u64), 1 => 1u64..4]
}

fn op() -> impl Strategy<Value = Op> {
    let key = (0..TABLES.len(), prop::option::weighted(0.8, 0u8..6), kind());
    let ws = (
        gap(),
        0u64..3,
        prop::option::weighted(0.97, prop_oneof![3 => 0u64..4, 1 => 0u64..16]),
        prop::collection::vec(key, 0..5),
        prop::collection::vec(0..TABLES.len(), 0..2),
        prop::bool::weighted(0.05),
    )
        .prop_map(|(gap, source, back, keys, op_tables, pa_unsafe)| Op::Ws {
            gap,
            source,
            back,
            keys,
            op_tables,
            pa_unsafe,
        });
    prop_oneof![
        75 => ws,
        4 => (gap(), prop::collection::vec(0..TOI_NAMES.len(), 0..3))
            .prop_map(|(gap, tables)| Op::Toi { gap, tables }),
        4 => gap().prop_map(|gap| Op::Skip { gap }),
        10 => prop::option::weighted(0.9, 0u64..12).prop_map(|back| Op::Purge { back }),
        3 => any::<u64>().prop_map(|seed| Op::Restore { seed }),
    ]
}

/// Primary-key bytes for a small pk number; number 5 is longer than the
/// inline limit, to exercise heap-stored keys.
fn pk_bytes(n: u8) -> Vec<u8> {
    if n == 5 {
        vec![b'L'; 40]
    } else {
        vec![b'a' + n]
    }
}

fn build_ws(
    seqno: Seqno,
    source: u64,
    back: Option<Seqno>,
    keys: &[(usize, Option<u8>, KeyKind)],
    op_tables: &[usize],
    pa_unsafe: bool,
) -> WriteSet {
    let last_seen_seqno = match back {
        Some(b) => (seqno - 1).saturating_sub(b),
        None => seqno + (source % 2),
    };
    WriteSet {
        source,
        trx_id: seqno,
        last_seen_seqno,
        flags: if pa_unsafe { WriteSet::PA_UNSAFE } else { 0 },
        keys: keys
            .iter()
            .map(|&(t, pk, kind)| match pk {
                Some(n) => Key::row(TABLES[t], pk_bytes(n), kind),
                None => Key::table(TABLES[t], kind),
            })
            .collect(),
        ops: op_tables
            .iter()
            .map(|&t| RowOp {
                table: TABLES[t].to_string(),
                pk: vec![1],
                kind: RowOpKind::Update,
                row: vec![1, 2, 3],
            })
            .collect(),
    }
}

fn run(optimistic_pa: bool, ops: &[Op]) -> Result<(), TestCaseError> {
    let config = CertConfig {
        optimistic_pa,
        ..CertConfig::default()
    };
    let mut c = Certifier::new(config);
    // Same events, another seed, never restored.
    let mut twin = Certifier::new(CertConfig {
        hash_seed: 12345,
        ..config
    });
    let mut m = Model::new(optimistic_pa);
    let mut restored = false;

    for (step, op) in ops.iter().enumerate() {
        match op {
            Op::Ws {
                gap,
                source,
                back,
                keys,
                op_tables,
                pa_unsafe,
            } => {
                let seqno = c.position() + 1 + gap;
                let ws = build_ws(seqno, *source, *back, keys, op_tables, *pa_unsafe);
                let got = c.certify(&ws, seqno);
                let want = m.certify(&ws, seqno);
                prop_assert_eq!(got, want, "step {} seqno {} ws {:?}", step, seqno, ws);
                prop_assert_eq!(twin.certify(&ws, seqno), want);
                if let Verdict::Pass { depends_seqno } = got {
                    prop_assert!(depends_seqno < seqno);
                    prop_assert!(depends_seqno >= c.horizon());
                }
            }
            Op::Toi { gap, tables } => {
                let seqno = c.position() + 1 + gap;
                let names: Vec<String> = tables.iter().map(|&t| TOI_NAMES[t].to_string()).collect();
                let got = c.certify_toi(&names, seqno);
                prop_assert_eq!(got, m.certify_toi(&names, seqno));
                prop_assert_eq!(twin.certify_toi(&names, seqno), got);
            }
            Op::Skip { gap } => {
                let seqno = c.position() + 1 + gap;
                c.skip(seqno);
                m.skip(seqno);
                twin.skip(seqno);
            }
            Op::Purge { back } => {
                let upto = match back {
                    Some(b) => c.position().saturating_sub(*b),
                    None => c.position() + 100,
                };
                c.purge(upto);
                m.purge(upto);
                twin.purge(upto);
            }
            Op::Restore { seed } => {
                let bytes = encode_snapshot(&c.snapshot()).unwrap();
                let snap = decode_snapshot(&bytes).unwrap();
                c = Certifier::restore(
                    &snap,
                    CertConfig {
                        hash_seed: *seed,
                        ..config
                    },
                )
                .unwrap();
                // The restored index snapshots to the same bytes.
                prop_assert_eq!(encode_snapshot(&c.snapshot()).unwrap(), bytes);
                restored = true;
            }
        }
        prop_assert_eq!(c.position(), m.position, "step {}", step);
        prop_assert_eq!(c.horizon(), m.horizon, "step {}", step);
        prop_assert_eq!(c.index_size(), m.index_size(), "step {} op {:?}", step, op);
    }

    prop_assert_eq!(
        encode_snapshot(&c.snapshot()).unwrap(),
        encode_snapshot(&twin.snapshot()).unwrap()
    );
    // Statistics (the twin was never restored, so it has them all).
    let s = twin.stats();
    let ms = &m.stats;
    prop_assert_eq!(s.passes, ms.passes);
    prop_assert_eq!(s.failures.conflict, ms.conflict);
    prop_assert_eq!(s.failures.barrier, ms.barrier);
    prop_assert_eq!(s.failures.below_horizon, ms.below_horizon);
    prop_assert_eq!(s.failures.future_snapshot, ms.future_snapshot);
    prop_assert_eq!(s.toi_events, ms.toi_events);
    prop_assert_eq!(s.deps_distance_sum, ms.deps_distance_sum);
    prop_assert_eq!(s.cert_interval_sum, ms.cert_interval_sum);
    prop_assert_eq!(s.index_size, m.index_size());
    if !restored {
        prop_assert_eq!(c.stats(), s);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 384, ..ProptestConfig::default() })]

    #[test]
    fn index_matches_brute_force_model(
        optimistic_pa in prop::bool::weighted(0.75),
        ops in prop::collection::vec(op(), 1..120),
    ) {
        run(optimistic_pa, &ops)?;
    }

    /// Snapshot at a random point, then feed the same suffix to the original
    /// and to the restored index: identical verdicts, identical final
    /// snapshots.
    #[test]
    fn restored_index_certifies_like_the_original(
        prefix in prop::collection::vec(op(), 0..60),
        suffix in prop::collection::vec(op(), 1..60),
    ) {
        let mut a = Certifier::default();
        let mut m = Model::new(true);
        let apply = |c: &mut Certifier, m: &mut Model, op: &Op| -> Option<Verdict> {
            match op {
                Op::Ws { gap, source, back, keys, op_tables, pa_unsafe } => {
                    let seqno = c.position() + 1 + gap;
                    let ws = build_ws(seqno, *source, *back, keys, op_tables, *pa_unsafe);
                    m.certify(&ws, seqno);
                    Some(c.certify(&ws, seqno))
                }
                Op::Toi { gap, tables } => {
                    let seqno = c.position() + 1 + gap;
                    let names: Vec<String> = tables.iter().map(|&t| TOI_NAMES[t].to_string()).collect();
                    m.certify_toi(&names, seqno);
                    Some(c.certify_toi(&names, seqno))
                }
                Op::Skip { gap } => {
                    let seqno = c.position() + 1 + gap;
                    m.skip(seqno);
                    c.skip(seqno);
                    None
                }
                Op::Purge { back } => {
                    let upto = back.map_or(c.position() + 100, |b| c.position().saturating_sub(b));
                    m.purge(upto);
                    c.purge(upto);
                    None
                }
                Op::Restore { .. } => None,
            }
        };
        for op in &prefix {
            apply(&mut a, &mut m, op);
        }
        let mut b = Certifier::restore(&a.snapshot(), CertConfig { hash_seed: 99, ..CertConfig::default() }).unwrap();
        let mut mb = m.clone();
        for op in &suffix {
            let va = apply(&mut a, &mut m, op);
            let vb = apply(&mut b, &mut mb, op);
            prop_assert_eq!(va, vb);
            prop_assert_eq!(a.index_size(), b.index_size());
        }
        prop_assert_eq!(a.snapshot(), b.snapshot());
    }
}
