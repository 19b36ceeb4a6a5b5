//! Length-prefixed frames.
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 4 | `len`: u32 little endian, length of `body` (0 ..= max) |
//! | 4 | len | `body`: one [`crate::codec`]-encoded message |
//!
//! A reader rejects a frame whose `len` exceeds its configured maximum
//! *before* reading the body, and reports a stream that ends inside a frame
//! as truncated. The caller closes the connection on any [`FrameError`].

use std::io;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Why a frame could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The stream ended cleanly before a frame started.
    #[error("stream ended")]
    Eof,
    /// The stream ended inside a frame.
    #[error("truncated frame: {0}")]
    Truncated(String),
    /// The length prefix exceeds the maximum.
    #[error("oversize frame: {len} bytes announced, at most {max} accepted")]
    Oversize {
        /// Announced length.
        len: usize,
        /// Maximum accepted.
        max: usize,
    },
    /// Transport error.
    #[error("i/o: {0}")]
    Io(#[from] io::Error),
}

/// Write one frame.
pub async fn write_frame<W: AsyncWrite + Unpin>(w: &mut W, body: &[u8]) -> io::Result<()> {
    let len =
        u32::try_from(body.len()).map_err(|_| io::Error::other("frame body larger than 4 GiB"))?;
    let mut head = [0u8; 4];
    head.copy_from_slice(&len.to_le_bytes());
    w.write_all(&head).await?;
    w.write_all(body).await?;
    Ok(())
}

/// Read one frame of at most `max` bytes.
pub async fn read_frame<R: AsyncRead + Unpin>(
    r: &mut R,
    max: usize,
) -> Result<Vec<u8>, FrameError> {
    let mut head = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        let n = r.read(&mut head[got..]).await?;
        if n == 0 {
            return if got == 0 {
                Err(FrameError::Eof)
            } else {
                Err(FrameError::Truncated(format!("{got} of 4 length bytes")))
            };
        }
        got += n;
    }
    let len = u32::from_le_bytes(head) as usize;
    if len > max {
        return Err(FrameError::Oversize { len, max });
    }
    let mut body = vec![0u8; len];
    match r.read_exact(&mut body).await {
        Ok(_) => Ok(body),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Err(FrameError::Truncated(format!(
            "body shorter than the announced {len} bytes"
        ))),
        Err(e) => Err(FrameError::Io(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn frames_roundtrip_and_reject_bad_input() {
        let mut buf = Vec::new();
        write_frame(&mut buf, b"abc").await.unwrap();
        write_frame(&mut buf, b"").await.unwrap();
        let mut r = &buf[..];
        assert_eq!(read_frame(&mut r, 10).await.unwrap(), b"abc");
        assert_eq!(read_frame(&mut r, 10).await.unwrap(), b"");
        assert!(matches!(read_frame(&mut r, 10).await, Err(FrameError::Eof)));

        let mut r = &buf[..5];
        assert!(matches!(
            read_frame(&mut r, 10).await,
            Err(FrameError::Truncated(_))
        ));
        let mut r = &buf[..2];
        assert!(matches!(
            read_frame(&mut r, 10).await,
            Err(FrameError::Truncated(_))
        ));
        let mut r = &buf[..];
        assert!(matches!(
            read_frame(&mut r, 2).await,
            Err(FrameError::Oversize { len: 3, max: 2 })
        ));
        let huge = [0xff, 0xff, 0xff, 0xff];
        let mut r = &huge[..];
        assert!(matches!(
            read_frame(&mut r, 1 << 20).await,
            Err(FrameError::Oversize { .. })
        ));
    }
}
