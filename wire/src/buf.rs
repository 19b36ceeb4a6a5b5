//! Bounds-checked reading and writing of MySQL's primitive encodings.
//!
//! Invariant: nothing in [`Reader`] can panic or read past the end of its
//! slice; every accessor returns `Err(WireError::Malformed)` instead. All
//! integers are little-endian, as the protocol specifies.
//!
//! | encoding | layout |
//! |---|---|
//! | `int<n>` | n bytes, little-endian |
//! | `int<lenenc>` | `< 0xfb`: 1 byte; `0xfc` + 2 bytes; `0xfd` + 3 bytes; `0xfe` + 8 bytes (`0xfb` is NULL in rows, `0xff` is ERR) |
//! | `string<lenenc>` | `int<lenenc>` length, then the bytes |
//! | `string<NUL>` | bytes up to a 0 byte (consumed) |
//! | `string<EOF>` | the rest of the packet |

use crate::error::WireError;

type Result<T> = std::result::Result<T, WireError>;

/// A cursor over one packet payload.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Starts reading at the beginning of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    /// Bytes left.
    pub fn remaining(&self) -> usize {
        self.buf.len()
    }

    /// True when nothing is left.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Takes exactly `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.buf.len() {
            return Err(WireError::malformed(format!(
                "need {n} bytes, {} left",
                self.buf.len()
            )));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    /// Takes everything left.
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.buf)
    }

    /// Looks at the next byte without consuming it.
    pub fn peek(&self) -> Option<u8> {
        self.buf.first().copied()
    }

    /// `int<1>`.
    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    /// `int<2>`.
    pub fn u16(&mut self) -> Result<u16> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    /// `int<3>`.
    pub fn u24(&mut self) -> Result<u32> {
        let b = self.take(3)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], 0]))
    }

    /// `int<4>`.
    pub fn u32(&mut self) -> Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// `int<8>`.
    pub fn u64(&mut self) -> Result<u64> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    /// `int<lenenc>`; `0xfb` (NULL) and `0xff` are rejected here.
    pub fn lenenc_int(&mut self) -> Result<u64> {
        match self.u8()? {
            x @ 0..=0xfa => Ok(u64::from(x)),
            0xfc => Ok(u64::from(self.u16()?)),
            0xfd => Ok(u64::from(self.u24()?)),
            0xfe => self.u64(),
            x => Err(WireError::malformed(format!(
                "invalid length-encoded integer prefix {x:#x}"
            ))),
        }
    }

    /// `string<lenenc>`.
    pub fn lenenc_bytes(&mut self) -> Result<&'a [u8]> {
        let len = self.lenenc_int()?;
        let len = usize::try_from(len)
            .map_err(|_| WireError::malformed("length-encoded string too long"))?;
        self.take(len)
    }

    /// `string<NUL>`; the terminator is consumed and not returned. A missing
    /// terminator is an error.
    pub fn nul_bytes(&mut self) -> Result<&'a [u8]> {
        match self.buf.iter().position(|&b| b == 0) {
            Some(pos) => {
                let s = &self.buf[..pos];
                self.buf = &self.buf[pos + 1..];
                Ok(s)
            }
            None => Err(WireError::malformed("missing NUL terminator")),
        }
    }

    /// `string<NUL>`, but a missing terminator at the end of the packet is
    /// accepted (some clients omit it on the last field).
    pub fn nul_bytes_lenient(&mut self) -> &'a [u8] {
        match self.buf.iter().position(|&b| b == 0) {
            Some(pos) => {
                let s = &self.buf[..pos];
                self.buf = &self.buf[pos + 1..];
                s
            }
            None => self.rest(),
        }
    }
}

/// Appends `int<lenenc>`.
pub fn put_lenenc_int(buf: &mut Vec<u8>, v: u64) {
    if v < 0xfb {
        buf.push(v as u8);
    } else if v <= 0xffff {
        buf.push(0xfc);
        buf.extend_from_slice(&(v as u16).to_le_bytes());
    } else if v <= 0xff_ffff {
        buf.push(0xfd);
        buf.extend_from_slice(&(v as u32).to_le_bytes()[..3]);
    } else {
        buf.push(0xfe);
        buf.extend_from_slice(&v.to_le_bytes());
    }
}

/// Appends `string<lenenc>`.
pub fn put_lenenc_bytes(buf: &mut Vec<u8>, s: &[u8]) {
    put_lenenc_int(buf, s.len() as u64);
    buf.extend_from_slice(s);
}

/// Appends `string<NUL>` (the caller guarantees `s` has no 0 byte; any 0
/// byte is dropped so the field cannot be cut short).
pub fn put_nul_bytes(buf: &mut Vec<u8>, s: &[u8]) {
    buf.extend(s.iter().copied().filter(|&b| b != 0));
    buf.push(0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenenc_round_trip() {
        for v in [
            0u64,
            1,
            250,
            251,
            252,
            0xffff,
            0x1_0000,
            0xff_ffff,
            0x100_0000,
            u64::MAX,
        ] {
            let mut b = Vec::new();
            put_lenenc_int(&mut b, v);
            let mut r = Reader::new(&b);
            assert_eq!(r.lenenc_int().unwrap(), v);
            assert!(r.is_empty());
        }
    }

    #[test]
    fn truncated_input_is_an_error() {
        let mut r = Reader::new(&[0xfe, 1, 2]);
        assert!(r.lenenc_int().is_err());
        let mut r = Reader::new(&[5, b'a']);
        assert!(r.lenenc_bytes().is_err());
        let mut r = Reader::new(b"abc");
        assert!(r.nul_bytes().is_err());
        assert_eq!(Reader::new(b"abc").nul_bytes_lenient(), b"abc");
    }
}
