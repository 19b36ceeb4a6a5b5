//! Memcomparable encoding of key values: the byte order of encoded keys is the
//! order of the values, so primary and secondary keys live in ordered maps of
//! plain bytes and range scans are byte ranges.
//!
//! | value           | encoding                                                  |
//! |-----------------|-----------------------------------------------------------|
//! | NULL            | `0x00`                                                    |
//! | Int(i64)        | `0x01`, 8 bytes big-endian with the sign bit flipped      |
//! | UInt(u64)       | `0x01`, 8 bytes big-endian                                |
//! | Double(f64)     | `0x01`, 8 bytes: positive flips the sign bit, negative flips all bits |
//! | Decimal         | `0x01`, 16 bytes: the i128 mantissa at the column's fixed scale, sign flipped |
//! | Str / Bytes     | `0x01`, bytes with `0x00` escaped as `0x00 0xFF`, ended by `0x00 0x00` |
//! | Str of a collated column | as Str, over the collation's sort key      |
//! | Date            | `0x01`, year (2 bytes BE), month, day                      |
//! | DateTime        | `0x01`, date as above, hour, minute, second, micro (4 bytes BE) |
//!
//! Invariant: a column's values are coerced to the column type before they are
//! encoded (`SqlType::coerce`), so one column never mixes encodings. Each
//! component is self-delimiting, so a composite key is the concatenation of
//! its components and a prefix of components encodes a prefix of bytes.
//!
//! A string column's key holds its collation's sort key, not its text: keys
//! equal under the collation are the same key (`'a@x'` and `'A@x'` under
//! `utf8mb4_general_ci`), which is what makes unique checks and
//! certification keys collation-aware.

use rust_decimal::Decimal;

use crate::collation::Collation;
use crate::value::{Date, DateTime, Value};

const NULL_TAG: u8 = 0x00;
const VALUE_TAG: u8 = 0x01;

/// Appends the encoding of one value of a column with collation `coll`
/// (None: not a string column, or compared byte-wise).
pub fn encode_collated(out: &mut Vec<u8>, v: &Value, coll: Option<Collation>) {
    match (v, coll) {
        (Value::Str(s), Some(c)) => {
            let mut k = Vec::with_capacity(s.len() * 2);
            c.sort_key(s, &mut k);
            encode_bytes(out, &k);
        }
        _ => encode_value(out, v),
    }
}

/// Appends the encoding of one value, strings by their bytes.
pub fn encode_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Null => out.push(NULL_TAG),
        Value::Int(i) => {
            out.push(VALUE_TAG);
            out.extend_from_slice(&((*i as u64) ^ (1 << 63)).to_be_bytes());
        }
        Value::UInt(u) => {
            out.push(VALUE_TAG);
            out.extend_from_slice(&u.to_be_bytes());
        }
        Value::Double(d) => {
            out.push(VALUE_TAG);
            let d = if *d == 0.0 { 0.0 } else { *d };
            let bits = d.to_bits();
            let enc = if bits >> 63 == 0 {
                bits ^ (1 << 63)
            } else {
                !bits
            };
            out.extend_from_slice(&enc.to_be_bytes());
        }
        Value::Decimal(d) => {
            out.push(VALUE_TAG);
            out.extend_from_slice(&decimal_bits(d).to_be_bytes());
        }
        Value::Str(s) => encode_bytes(out, s.as_bytes()),
        Value::Bytes(b) => encode_bytes(out, b),
        Value::Date(d) => {
            out.push(VALUE_TAG);
            encode_date(out, d);
        }
        Value::DateTime(dt) => {
            out.push(VALUE_TAG);
            encode_datetime(out, dt);
        }
        Value::Time(us) => {
            out.push(VALUE_TAG);
            out.extend_from_slice(&((*us as u64) ^ (1 << 63)).to_be_bytes());
        }
        Value::Uuid(u) => {
            out.push(VALUE_TAG);
            out.extend_from_slice(&crate::value::uuid_order(*u).to_be_bytes());
        }
    }
}

fn decimal_bits(d: &Decimal) -> u128 {
    (d.mantissa() as u128) ^ (1 << 127)
}

fn encode_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.push(VALUE_TAG);
    for &byte in b {
        out.push(byte);
        if byte == 0 {
            out.push(0xFF);
        }
    }
    out.extend_from_slice(&[0, 0]);
}

fn encode_date(out: &mut Vec<u8>, d: &Date) {
    out.extend_from_slice(&d.year.to_be_bytes());
    out.push(d.month);
    out.push(d.day);
}

fn encode_datetime(out: &mut Vec<u8>, dt: &DateTime) {
    encode_date(out, &dt.date);
    out.extend_from_slice(&[dt.hour, dt.minute, dt.second]);
    out.extend_from_slice(&dt.micro.to_be_bytes());
}

/// Encodes a composite key.
pub fn encode_key<'a>(values: impl IntoIterator<Item = &'a Value>) -> Vec<u8> {
    let mut out = Vec::with_capacity(16);
    for v in values {
        encode_value(&mut out, v);
    }
    out
}

/// The smallest byte string greater than every key that starts with `prefix`
/// (for exclusive upper bounds of prefix scans); None when there is none.
pub fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut p = prefix.to_vec();
    while let Some(last) = p.pop() {
        if last < 0xFF {
            p.push(last + 1);
            return Some(p);
        }
    }
    None
}

/// Length in bytes of the first `n` encoded components of `key`, or None if
/// the key is malformed. Used to split a secondary-index entry into its index
/// part and the primary key that follows.
pub fn components_len(key: &[u8], n: usize, widths: &[ComponentWidth]) -> Option<usize> {
    let mut pos = 0;
    for w in widths.iter().take(n) {
        let tag = *key.get(pos)?;
        pos += 1;
        if tag == NULL_TAG {
            continue;
        }
        match w {
            ComponentWidth::Fixed(k) => pos += k,
            ComponentWidth::Escaped => loop {
                let b = *key.get(pos)?;
                pos += 1;
                if b == 0 {
                    let next = *key.get(pos)?;
                    pos += 1;
                    if next == 0 {
                        break;
                    }
                }
            },
        }
        if pos > key.len() {
            return None;
        }
    }
    Some(pos)
}

/// How wide one encoded component is, by column type.
#[derive(Clone, Copy, Debug)]
pub enum ComponentWidth {
    Fixed(usize),
    Escaped,
}

impl ComponentWidth {
    pub fn of(t: &crate::types::SqlType) -> ComponentWidth {
        use crate::types::SqlType::*;
        match t {
            Int { .. } | Bool | Float | Double | Time(_) | Year | Bit(_) => {
                ComponentWidth::Fixed(8)
            }
            Decimal { .. } | Uuid => ComponentWidth::Fixed(16),
            Date => ComponentWidth::Fixed(4),
            DateTime(_) | Timestamp(_) => ComponentWidth::Fixed(11),
            Char(_) | Varchar(_) | Text(_) | Binary(_) | Varbinary(_) | Blob(_) | Enum(_)
            | Set(_) => ComponentWidth::Escaped,
        }
    }
}

/// Exact equality of stored rows (same column types on both sides).
pub fn rows_equal(a: &[Value], b: &[Value]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            let mut kx = Vec::new();
            let mut ky = Vec::new();
            encode_value(&mut kx, x);
            encode_value(&mut ky, y);
            kx == ky
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn enc(v: &Value) -> Vec<u8> {
        encode_key([v])
    }

    proptest! {
        #[test]
        fn ints_keep_order(a: i64, b: i64) {
            prop_assert_eq!(a.cmp(&b), enc(&Value::Int(a)).cmp(&enc(&Value::Int(b))));
        }

        #[test]
        fn times_keep_order(a in -3_020_399_999_999i64..3_020_399_999_999, b in -3_020_399_999_999i64..3_020_399_999_999) {
            prop_assert_eq!(a.cmp(&b), enc(&Value::Time(a)).cmp(&enc(&Value::Time(b))));
        }

        #[test]
        fn doubles_keep_order(a in -1e300f64..1e300, b in -1e300f64..1e300) {
            prop_assert_eq!(a.partial_cmp(&b).unwrap(), enc(&Value::Double(a)).cmp(&enc(&Value::Double(b))));
        }

        #[test]
        fn strings_keep_order_and_compose(a in proptest::collection::vec(any::<u8>(), 0..8),
                                          b in proptest::collection::vec(any::<u8>(), 0..8),
                                          x: i64, y: i64) {
            let ka = encode_key([&Value::Bytes(a.clone()), &Value::Int(x)]);
            let kb = encode_key([&Value::Bytes(b.clone()), &Value::Int(y)]);
            prop_assert_eq!((a, x).cmp(&(b, y)), ka.cmp(&kb));
        }

        #[test]
        fn decimals_at_one_scale_keep_order(a in -1_000_000i64..1_000_000, b in -1_000_000i64..1_000_000) {
            let da = Value::Decimal(Decimal::new(a, 2));
            let db = Value::Decimal(Decimal::new(b, 2));
            prop_assert_eq!(a.cmp(&b), enc(&da).cmp(&enc(&db)));
        }
    }

    #[test]
    fn null_sorts_first_and_components_split() {
        assert!(enc(&Value::Null) < enc(&Value::Int(i64::MIN)));
        let k = encode_key([&Value::Str("a\0b".into()), &Value::Int(5)]);
        let widths = [ComponentWidth::Escaped, ComponentWidth::Fixed(8)];
        let first = components_len(&k, 1, &widths).unwrap();
        assert_eq!(
            &k[..first],
            encode_key([&Value::Str("a\0b".into())]).as_slice()
        );
        assert_eq!(components_len(&k, 2, &widths), Some(k.len()));
        assert_eq!(components_len(&k[..3], 1, &widths), None);
    }

    #[test]
    fn successor_bounds_prefixes() {
        assert_eq!(prefix_successor(&[1, 2]), Some(vec![1, 3]));
        assert_eq!(prefix_successor(&[1, 0xFF]), Some(vec![2]));
        assert_eq!(prefix_successor(&[0xFF]), None);
    }
}
