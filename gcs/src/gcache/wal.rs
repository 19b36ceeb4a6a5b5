//! Byte layout of gcache files (see `gcs/docs/gcache-format.md` for the
//! authoritative description; this module implements it).

/// Magic at the start of every gcache file.
pub const MAGIC: &[u8; 8] = b"TRGCACHE";
/// Current format version.
pub const VERSION: u32 = 1;
/// File header length.
pub const HEADER_LEN: usize = 16;
/// Record header length (`len` + `crc`).
pub const RECORD_HEADER_LEN: usize = 8;
/// Largest record body accepted on recovery.
pub const MAX_BODY: usize = 1 << 30;

/// File kinds stored in the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum FileKind {
    /// A log segment.
    Segment = 1,
    /// The vote file.
    Vote = 2,
}

/// Record kinds (first byte of a record body). Retired values stay reserved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum RecordKind {
    /// A raft entry.
    Entry = 1,
    /// Remove entries with index >= the given one.
    Truncate = 2,
    /// Entries up to and including the given log id are purged.
    Purge = 3,
    /// The vote.
    Vote = 4,
}

impl RecordKind {
    fn from_u8(b: u8) -> Option<Self> {
        Some(match b {
            1 => RecordKind::Entry,
            2 => RecordKind::Truncate,
            3 => RecordKind::Purge,
            4 => RecordKind::Vote,
            _ => return None,
        })
    }
}

/// The 16-byte file header.
pub fn file_header(kind: FileKind) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[0..8].copy_from_slice(MAGIC);
    h[8..12].copy_from_slice(&VERSION.to_le_bytes());
    h[12..16].copy_from_slice(&(kind as u32).to_le_bytes());
    h
}

/// Append one record (`len`, `crc`, `kind`, `payload`) to `out`.
pub fn put_record(out: &mut Vec<u8>, kind: RecordKind, payload: &[u8]) {
    let body_len = (payload.len() + 1) as u32;
    let mut h = crc32fast::Hasher::new();
    h.update(&[kind as u8]);
    h.update(payload);
    out.extend_from_slice(&body_len.to_le_bytes());
    out.extend_from_slice(&h.finalize().to_le_bytes());
    out.push(kind as u8);
    out.extend_from_slice(payload);
}

/// One record found by [`scan`].
#[derive(Debug)]
pub struct Record<'a> {
    /// Offset of the record header in the file.
    pub offset: usize,
    /// Kind.
    pub kind: RecordKind,
    /// Payload (after the kind byte).
    pub payload: &'a [u8],
}

/// Why a scan stopped before the end of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadTail {
    /// Offset of the first byte not accepted.
    pub offset: usize,
    /// Human readable reason (truncated header, length out of range, CRC
    /// mismatch, unknown kind).
    pub reason: String,
}

/// Result of scanning a file.
#[derive(Debug)]
pub struct Scan<'a> {
    /// Valid records, in order.
    pub records: Vec<Record<'a>>,
    /// Where and why scanning stopped early, if it did.
    pub bad: Option<BadTail>,
}

/// Check the header and parse records until the end or the first invalid one.
/// Returns `Err` only when the header itself is wrong (not a gcache file of
/// this kind or version).
pub fn scan(bytes: &[u8], kind: FileKind) -> Result<Scan<'_>, String> {
    if bytes.len() < HEADER_LEN {
        // A file that was created but whose header never reached the disk.
        return Ok(Scan {
            records: vec![],
            bad: Some(BadTail {
                offset: 0,
                reason: format!("file header truncated ({} bytes)", bytes.len()),
            }),
        });
    }
    if &bytes[0..8] != MAGIC {
        return Err("not a gcache file (bad magic)".into());
    }
    let ver = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
    if ver != VERSION {
        return Err(format!(
            "gcache format version {ver} is not supported (this build reads {VERSION})"
        ));
    }
    let k = u32::from_le_bytes([bytes[12], bytes[13], bytes[14], bytes[15]]);
    if k != kind as u32 {
        return Err(format!(
            "gcache file kind {k} where {} was expected",
            kind as u32
        ));
    }
    let mut records = Vec::new();
    let mut off = HEADER_LEN;
    let mut bad = None;
    while off < bytes.len() {
        let rest = &bytes[off..];
        if rest.len() < RECORD_HEADER_LEN + 1 {
            bad = Some(BadTail {
                offset: off,
                reason: format!("record header truncated ({} bytes)", rest.len()),
            });
            break;
        }
        let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        let crc = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]);
        if len == 0 || len > MAX_BODY {
            bad = Some(BadTail {
                offset: off,
                reason: format!("record length {len} out of range"),
            });
            break;
        }
        if rest.len() < RECORD_HEADER_LEN + len {
            bad = Some(BadTail {
                offset: off,
                reason: format!(
                    "record truncated: need {} bytes, have {}",
                    len,
                    rest.len() - RECORD_HEADER_LEN
                ),
            });
            break;
        }
        let body = &rest[RECORD_HEADER_LEN..RECORD_HEADER_LEN + len];
        if crc32fast::hash(body) != crc {
            bad = Some(BadTail {
                offset: off,
                reason: "CRC mismatch".into(),
            });
            break;
        }
        let Some(kind) = RecordKind::from_u8(body[0]) else {
            bad = Some(BadTail {
                offset: off,
                reason: format!("unknown record kind {}", body[0]),
            });
            break;
        };
        records.push(Record {
            offset: off,
            kind,
            payload: &body[1..],
        });
        off += RECORD_HEADER_LEN + len;
    }
    Ok(Scan { records, bad })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_pinned() {
        // A committed byte sample of format version 1: header + one Truncate
        // record whose payload is the bincode varint 5. Must keep decoding.
        let sample: &[u8] = &[
            b'T', b'R', b'G', b'C', b'A', b'C', b'H', b'E', 1, 0, 0, 0, 1, 0, 0, 0, // header
            2, 0, 0, 0, // body length
            0xf2, 0x84, 0x85, 0x03, // crc32 of [2, 5]
            2, 5, // kind Truncate, payload
        ];
        let mut built = file_header(FileKind::Segment).to_vec();
        put_record(&mut built, RecordKind::Truncate, &[5]);
        assert_eq!(
            crc32fast::hash(&[2, 5]).to_le_bytes(),
            [0xf2, 0x84, 0x85, 0x03]
        );
        assert_eq!(built, sample);
        let s = scan(sample, FileKind::Segment).unwrap();
        assert!(s.bad.is_none());
        assert_eq!(s.records.len(), 1);
        assert_eq!(s.records[0].kind, RecordKind::Truncate);
        assert_eq!(s.records[0].payload, &[5]);
    }

    #[test]
    fn every_tear_is_detected() {
        let mut f = file_header(FileKind::Segment).to_vec();
        put_record(&mut f, RecordKind::Entry, b"first");
        let good = f.len();
        put_record(&mut f, RecordKind::Entry, b"second record");
        for cut in good..f.len() {
            let s = scan(&f[..cut], FileKind::Segment).unwrap();
            assert_eq!(s.records.len(), 1, "cut at {cut}");
            if cut > good {
                assert_eq!(s.bad.as_ref().unwrap().offset, good);
            }
        }
        for i in good..f.len() {
            let mut g = f.clone();
            g[i] ^= 1;
            let s = scan(&g, FileKind::Segment).unwrap();
            assert_eq!(s.records.len(), 1, "flip at {i}");
            assert!(s.bad.is_some());
        }
        assert!(scan(b"XXXXXXXXXXXXXXXXXXXX", FileKind::Segment).is_err());
        assert!(scan(&f, FileKind::Vote).is_err());
    }
}
