//! The codec: round trips, and no panic on any input.
//!
//! * every write-set round-trips through `encode_write_set` /
//!   `decode_write_set`, and every snapshot through the snapshot pair;
//! * random bytes, random bytes behind a valid header, and valid encodings
//!   that were truncated, extended or had bytes overwritten decode to a
//!   value or an error, never a panic; a decoded value re-encodes to bytes
//!   that decode to the same value;
//! * a decoded random snapshot either restores or is refused with an error.

use proptest::prelude::*;
use trireme_certification::codec::{
    decode_snapshot, decode_write_set, encode_snapshot, encode_write_set,
};
use trireme_certification::{CertConfig, Certifier, Key, KeyKind, RowOp, RowOpKind, WriteSet};

fn kind() -> impl Strategy<Value = KeyKind> {
    prop::sample::select(KeyKind::ALL.to_vec())
}

fn op_kind() -> impl Strategy<Value = RowOpKind> {
    prop::sample::select(vec![
        RowOpKind::Insert,
        RowOpKind::Update,
        RowOpKind::Delete,
    ])
}

fn write_set() -> impl Strategy<Value = WriteSet> {
    let key = (
        "[a-z]{1,3}\\.[a-z0-9_]{1,8}",
        prop::collection::vec(any::<u8>(), 0..40),
        kind(),
    )
        .prop_map(|(table, pk, kind)| Key { table, pk, kind });
    let op = (
        "\\PC{0,12}",
        prop::collection::vec(any::<u8>(), 0..24),
        op_kind(),
        prop::collection::vec(any::<u8>(), 0..300),
    )
        .prop_map(|(table, pk, kind, row)| RowOp {
            table,
            pk,
            kind,
            row,
        });
    (
        any::<u64>(),
        any::<u64>(),
        any::<u64>(),
        any::<bool>(),
        prop::collection::vec(key, 0..12),
        prop::collection::vec(op, 0..6),
    )
        .prop_map(
            |(source, trx_id, last_seen_seqno, pa_unsafe, keys, ops)| WriteSet {
                source,
                trx_id,
                last_seen_seqno,
                flags: if pa_unsafe { WriteSet::PA_UNSAFE } else { 0 },
                keys,
                ops,
            },
        )
}

#[derive(Clone, Debug)]
enum Mutation {
    Truncate(usize),
    Append(Vec<u8>),
    Overwrite(usize, u8),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::Truncate),
        prop::collection::vec(any::<u8>(), 1..8).prop_map(Mutation::Append),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Overwrite(i, b)),
    ]
}

fn mutate(mut bytes: Vec<u8>, muts: &[Mutation]) -> Vec<u8> {
    for m in muts {
        match m {
            Mutation::Truncate(n) => {
                let n = n % (bytes.len() + 1);
                bytes.truncate(n);
            }
            Mutation::Append(extra) => bytes.extend_from_slice(extra),
            Mutation::Overwrite(i, b) => {
                if !bytes.is_empty() {
                    let i = i % bytes.len();
                    bytes[i] = *b;
                }
            }
        }
    }
    bytes
}

/// Decoding must not panic; whatever decodes must re-encode and decode to
/// itself.
fn check_write_set_bytes(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(ws) = decode_write_set(bytes) {
        let again = encode_write_set(&ws).expect("a decoded write-set encodes");
        prop_assert_eq!(decode_write_set(&again), Ok(ws));
    }
    Ok(())
}

fn check_snapshot_bytes(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(snap) = decode_snapshot(bytes) {
        // Restoring may refuse it, but must not panic; if it restores, it
        // snapshots back to the same value.
        if let Ok(c) = Certifier::restore(&snap, CertConfig::default()) {
            prop_assert_eq!(c.snapshot(), snap);
        }
    }
    Ok(())
}

/// A small real snapshot to mutate.
fn sample_snapshot_bytes() -> Vec<u8> {
    let mut c = Certifier::default();
    for s in 1..=6u64 {
        let ws = WriteSet {
            last_seen_seqno: s - 1,
            keys: vec![
                Key::row("d.t", vec![s as u8], KeyKind::Exclusive),
                Key::table("d.t", KeyKind::Shared),
            ],
            ..WriteSet::default()
        };
        c.certify(&ws, s);
    }
    c.certify_toi(&["d.u"], 7);
    c.purge(2);
    encode_snapshot(&c.snapshot()).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn write_set_round_trips(ws in write_set()) {
        let bytes = encode_write_set(&ws).unwrap();
        prop_assert_eq!(decode_write_set(&bytes), Ok(ws));
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        check_write_set_bytes(&bytes)?;
        check_snapshot_bytes(&bytes)?;
    }

    #[test]
    fn random_body_behind_valid_header_never_panics(body in prop::collection::vec(any::<u8>(), 0..512)) {
        let mut ws = b"TWS\x01".to_vec();
        ws.extend_from_slice(&body);
        check_write_set_bytes(&ws)?;
        let mut snap = b"TCS\x01".to_vec();
        snap.extend_from_slice(&body);
        check_snapshot_bytes(&snap)?;
    }

    #[test]
    fn mutated_write_sets_never_panic(ws in write_set(), muts in prop::collection::vec(mutation(), 1..4)) {
        let bytes = mutate(encode_write_set(&ws).unwrap(), &muts);
        check_write_set_bytes(&bytes)?;
    }

    #[test]
    fn mutated_snapshots_never_panic(muts in prop::collection::vec(mutation(), 1..4)) {
        let bytes = mutate(sample_snapshot_bytes(), &muts);
        check_snapshot_bytes(&bytes)?;
    }
}

#[test]
fn snapshot_round_trips() {
    let bytes = sample_snapshot_bytes();
    let snap = decode_snapshot(&bytes).unwrap();
    assert_eq!(encode_snapshot(&snap).unwrap(), bytes);
    let c = Certifier::restore(&snap, CertConfig::default()).unwrap();
    assert_eq!(c.position(), 7);
    assert_eq!(c.horizon(), 2);
    assert_eq!(c.index_size(), 5); // rows 3..=6 and the table key
}
