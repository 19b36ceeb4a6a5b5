//! Byte layout of everything the LSM store writes: pure functions, no I/O.
//!
//! ```text
//! rows keyspace   : table id (8, BE) ++ esc(pk) ++ 00 01 ++ !seqno (8, BE)   -> version value
//! index keyspace  : table id (8, BE) ++ index no (4, BE) ++ ikey ++ pk        -> empty
//! meta keyspace   : b"horizon" -> u64 BE, b"next_table" -> u64 BE,
//!                   b"auto_inc/" ++ table id (8, BE) -> u64 BE,
//!                   b"layout" -> u64 BE, b"catalog" -> catalog record,
//!                   b"recovery" -> recovery point, b"transfer" -> marker
//!                   (the last three: `super::recovery`)
//! version value   : 00 (a delete) | 01 ++ row image (codec::encode_row)
//! ```
//!
//! Why the primary key is escaped (00 -> 00 FF, then the terminator 00 01):
//! the versions of one row must be contiguous and sort before those of any
//! greater key, whatever the key bytes are. Without a terminator, a key that
//! is a byte prefix of another would interleave its versions with the
//! other's. The escape keeps byte order, so a bound `lo`/`hi` on raw primary
//! keys becomes `table ++ esc(lo)` / `table ++ esc(hi)` unchanged.
//!
//! Why the seqno is inverted: a forward seek to `esc(pk) ++ !s` lands on the
//! newest version with seqno <= s, which is exactly a snapshot read.
//!
//! Index entries keep the in-memory layout (`index key ++ primary key`, raw,
//! as the in-memory sets hold them), so both engines split them the same way.

/// Length of the table-id prefix.
pub const TABLE_LEN: usize = 8;
const TERMINATOR: [u8; 2] = [0x00, 0x01];

pub const HORIZON: &[u8] = b"horizon";
pub const NEXT_TABLE: &[u8] = b"next_table";
/// Prefix of the per-table AUTO_INCREMENT high-waters.
pub const AUTO_INC: &[u8] = b"auto_inc/";
/// The byte layout version of this whole file (bumped when it changes).
pub const LAYOUT: &[u8] = b"layout";
pub const CATALOG: &[u8] = b"catalog";
pub const RECOVERY: &[u8] = b"recovery";
/// Present while a state transfer is being copied in.
pub const TRANSFER: &[u8] = b"transfer";

/// The meta key of table `id`'s AUTO_INCREMENT high-water.
pub fn auto_inc_key(id: u64) -> Vec<u8> {
    let mut k = AUTO_INC.to_vec();
    k.extend_from_slice(&id.to_be_bytes());
    k
}

/// The table id of an AUTO_INCREMENT key; None when malformed.
pub fn split_auto_inc_key(key: &[u8]) -> Option<u64> {
    decode_u64(key.strip_prefix(AUTO_INC)?)
}

/// Appends `pk` escaped so that no escaped key is a prefix of another.
fn escape_into(out: &mut Vec<u8>, pk: &[u8]) {
    for &b in pk {
        out.push(b);
        if b == 0 {
            out.push(0xFF);
        }
    }
}

/// The prefix every row key of `table` starts with.
pub fn table_prefix(table: u64) -> Vec<u8> {
    table.to_be_bytes().to_vec()
}

/// The key of `table`'s rows at a raw primary-key bound (for range scans).
pub fn row_bound(table: u64, pk_bound: &[u8]) -> Vec<u8> {
    let mut out = table_prefix(table);
    escape_into(&mut out, pk_bound);
    out
}

/// The prefix shared by every version of one row.
pub fn row_prefix(table: u64, pk: &[u8]) -> Vec<u8> {
    let mut out = row_bound(table, pk);
    out.extend_from_slice(&TERMINATOR);
    out
}

/// The key of one version.
pub fn row_key(table: u64, pk: &[u8], seqno: u64) -> Vec<u8> {
    let mut out = row_prefix(table, pk);
    out.extend_from_slice(&(!seqno).to_be_bytes());
    out
}

/// Splits a row key (with its table prefix) into the primary key and the
/// seqno; None when the bytes are not a row key.
pub fn split_row_key(key: &[u8]) -> Option<(Vec<u8>, u64)> {
    let body = key.get(TABLE_LEN..key.len().checked_sub(8)?)?;
    let seq: [u8; 8] = key.get(key.len() - 8..)?.try_into().ok()?;
    let mut pk = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        let b = body[i];
        if b == 0 {
            match body.get(i + 1) {
                Some(0xFF) => pk.push(0),
                Some(0x01) if i + 2 == body.len() => return Some((pk, !u64::from_be_bytes(seq))),
                _ => return None,
            }
            i += 2;
        } else {
            pk.push(b);
            i += 1;
        }
    }
    None
}

/// The prefix of one index's entries.
pub fn index_prefix(table: u64, index: u32) -> Vec<u8> {
    let mut out = table_prefix(table);
    out.extend_from_slice(&index.to_be_bytes());
    out
}

/// One index entry: `index key ++ primary key` behind the index prefix.
pub fn index_entry(table: u64, index: u32, ikey: &[u8], pk: &[u8]) -> Vec<u8> {
    let mut out = index_prefix(table, index);
    out.extend_from_slice(ikey);
    out.extend_from_slice(pk);
    out
}

/// Length of the index prefix.
pub const INDEX_PREFIX_LEN: usize = TABLE_LEN + 4;

/// A stored version: None is a delete.
pub fn encode_version(row: Option<&[crate::value::Value]>) -> Vec<u8> {
    match row {
        None => vec![0],
        Some(r) => {
            let mut out = vec![1];
            out.extend_from_slice(&crate::codec::encode_row(r));
            out
        }
    }
}

/// Decodes a stored version; Err names what is wrong.
pub fn decode_version(bytes: &[u8]) -> Result<Option<Vec<crate::value::Value>>, String> {
    match bytes.split_first() {
        Some((0, [])) => Ok(None),
        Some((1, image)) => crate::codec::decode_row(image)
            .map(Some)
            .map_err(|e| e.to_string()),
        _ => Err("row version with an unknown tag".into()),
    }
}

/// A big-endian u64 stored in the meta keyspace.
pub fn decode_u64(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn row_keys_round_trip() {
        for pk in [&b""[..], b"\x00", b"a\x00b", b"\x00\x00\xff", b"zz"] {
            for s in [0, 1, 7, u64::MAX] {
                assert_eq!(split_row_key(&row_key(3, pk, s)), Some((pk.to_vec(), s)));
            }
        }
    }

    #[test]
    fn malformed_row_keys_are_refused() {
        assert_eq!(split_row_key(b""), None);
        assert_eq!(split_row_key(&[0; 15]), None);
        // An escape byte that is neither FF nor the terminator.
        let mut k = table_prefix(1);
        k.extend_from_slice(&[b'a', 0, 7, 0, 1]);
        k.extend_from_slice(&[0; 8]);
        assert_eq!(split_row_key(&k), None);
    }

    proptest! {
        /// Versions of one row are contiguous, grouped by key order and
        /// newest first: row-key order is (pk, descending seqno).
        #[test]
        fn row_key_order_is_pk_then_newest_first(
            a in proptest::collection::vec(any::<u8>(), 0..6),
            b in proptest::collection::vec(any::<u8>(), 0..6),
            sa in any::<u64>(),
            sb in any::<u64>(),
        ) {
            let expected = a.cmp(&b).then(sb.cmp(&sa));
            prop_assert_eq!(row_key(9, &a, sa).cmp(&row_key(9, &b, sb)), expected);
        }

        /// A raw bound maps to a key bound with the same answer.
        #[test]
        fn bounds_keep_their_meaning(
            pk in proptest::collection::vec(any::<u8>(), 0..6),
            bound in proptest::collection::vec(any::<u8>(), 0..6),
            s in any::<u64>(),
        ) {
            let key = row_key(2, &pk, s);
            let at = row_bound(2, &bound);
            prop_assert_eq!(pk >= bound, key >= at);
        }
    }
}
