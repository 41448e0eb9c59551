//! Reading: random access to an object ([`ReadAt`]) and a bounds-checked
//! big-endian cursor over bytes already read ([`ByteReader`]).

use crate::IndexError;
use std::fs::File;
use std::io;
use std::path::Path;

/// Random access to an object: a file, or a remote object read by ranges.
pub trait ReadAt {
    /// The object's length in bytes.
    fn len(&self) -> u64;

    /// True for an empty object.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Reads `len` bytes from `offset` (fewer only where the object ends).
    fn read_at(&self, offset: u64, len: usize) -> io::Result<Vec<u8>>;
}

/// A local file as a [`ReadAt`], counting the bytes it was asked for.
#[derive(Debug)]
pub struct FileSource {
    file: File,
    len: u64,
    read: std::sync::atomic::AtomicU64,
}

impl FileSource {
    pub fn open(path: &Path) -> io::Result<FileSource> {
        let file = File::open(path)?;
        let len = file.metadata()?.len();
        Ok(FileSource {
            file,
            len,
            read: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// Bytes read so far.
    pub fn bytes_read(&self) -> u64 {
        self.read.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl ReadAt for FileSource {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_at(&self, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        use std::os::unix::fs::FileExt;
        let available = self.len.saturating_sub(offset);
        let len = len.min(usize::try_from(available).unwrap_or(usize::MAX));
        let mut buf = vec![0; len];
        let mut done = 0;
        while done < len {
            match self.file.read_at(&mut buf[done..], offset + done as u64) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        buf.truncate(done);
        self.read
            .fetch_add(done as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(buf)
    }
}

/// Bytes in memory as a [`ReadAt`] (tests, fuzzing).
impl ReadAt for [u8] {
    fn len(&self) -> u64 {
        <[u8]>::len(self) as u64
    }

    fn read_at(&self, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.len());
        let end = start.saturating_add(len).min(self.len());
        Ok(self[start..end].to_vec())
    }
}

/// A big-endian cursor that never reads past its slice.
pub(crate) struct ByteReader<'a> {
    buf: &'a [u8],
    pos: usize,
}

/// A table of fixed-size big-endian entries, checked to fit its box.
pub(crate) struct Table<'a> {
    buf: &'a [u8],
}

impl<'a> ByteReader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        ByteReader { buf, pos: 0 }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], IndexError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.buf.len())
            .ok_or_else(|| IndexError::malformed("a box is shorter than its fields"))?;
        let out = &self.buf[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    pub(crate) fn skip(&mut self, n: usize) -> Result<(), IndexError> {
        self.take(n).map(|_| ())
    }

    pub(crate) fn u8(&mut self) -> Result<u8, IndexError> {
        Ok(self.take(1)?[0])
    }

    pub(crate) fn u16(&mut self) -> Result<u16, IndexError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, IndexError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub(crate) fn u64(&mut self) -> Result<u64, IndexError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }

    pub(crate) fn fourcc(&mut self) -> Result<[u8; 4], IndexError> {
        let b = self.take(4)?;
        Ok([b[0], b[1], b[2], b[3]])
    }

    /// The bytes not read yet.
    pub(crate) fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    /// `count` entries of `width` bytes each: refused unless the box holds
    /// them all, so a count never makes us allocate or loop past the box.
    pub(crate) fn table(&mut self, count: u32, width: usize) -> Result<Table<'a>, IndexError> {
        let bytes = usize::try_from(count)
            .ok()
            .and_then(|c| c.checked_mul(width))
            .filter(|&n| n <= self.buf.len() - self.pos)
            .ok_or_else(|| {
                IndexError::malformed(format!(
                    "a table claims {count} entries of {width} bytes but its box holds {}",
                    self.buf.len() - self.pos
                ))
            })?;
        Ok(Table {
            buf: self.take(bytes)?,
        })
    }
}

impl<'a> Table<'a> {
    /// The table's bytes, every entry whole.
    pub(crate) fn bytes(&self) -> &'a [u8] {
        self.buf
    }

    /// The `i`-th 32-bit word.
    pub(crate) fn u32_at(&self, i: u64) -> Result<u32, IndexError> {
        let start = usize::try_from(i)
            .ok()
            .and_then(|i| i.checked_mul(4))
            .filter(|&s| s + 4 <= self.buf.len())
            .ok_or_else(|| IndexError::malformed("a table index is out of range"))?;
        let b = &self.buf[start..start + 4];
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// The `i`-th 64-bit word.
    pub(crate) fn u64_at(&self, i: u64) -> Result<u64, IndexError> {
        let start = usize::try_from(i)
            .ok()
            .and_then(|i| i.checked_mul(8))
            .filter(|&s| s + 8 <= self.buf.len())
            .ok_or_else(|| IndexError::malformed("a table index is out of range"))?;
        let mut a = [0u8; 8];
        a.copy_from_slice(&self.buf[start..start + 8]);
        Ok(u64::from_be_bytes(a))
    }
}
