//! A whole object read from its start to its end, one chunk at a time,
//! from either backend — what a copy from one store to another streams
//! through ([`crate::ObjectStore::read_object`], then
//! [`crate::ObjectStore::put_reader`]). Memory holds one chunk.

use crate::StorageError;
use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;
use std::time::Duration;
use tokio::io::AsyncReadExt;

/// Bytes a local file is read in at a time.
const FILE_CHUNK: usize = 256 * 1024;

/// An object being read, chunk by chunk.
pub struct ObjectReader {
    source: Source,
    /// `s3://bucket/key` or a path, for errors.
    location: String,
    /// Bytes handed out so far.
    read: u64,
}

enum Source {
    File(tokio::fs::File),
    /// A GET's body; a chunk that takes longer than `idle` to come is a
    /// transient error (a store that stopped answering mid-body).
    S3 {
        body: ByteStream,
        idle: Duration,
    },
}

impl std::fmt::Debug for ObjectReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectReader")
            .field("location", &self.location)
            .field("read", &self.read)
            .finish_non_exhaustive()
    }
}

impl ObjectReader {
    pub(crate) fn file(file: tokio::fs::File, location: String) -> Self {
        ObjectReader {
            source: Source::File(file),
            location,
            read: 0,
        }
    }

    pub(crate) fn s3(body: ByteStream, idle: Duration, location: String) -> Self {
        ObjectReader {
            source: Source::S3 { body, idle },
            location,
            read: 0,
        }
    }

    /// Where it is read from.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// Bytes read so far.
    pub fn bytes_read(&self) -> u64 {
        self.read
    }

    /// The next chunk; `None` at the end of the object.
    pub async fn next_chunk(&mut self) -> Result<Option<Bytes>, StorageError> {
        let chunk = match &mut self.source {
            Source::File(file) => {
                let mut buf = vec![0u8; FILE_CHUNK];
                let n = file.read(&mut buf).await.map_err(|e| StorageError::Io {
                    path: self.location.clone().into(),
                    message: e.to_string(),
                })?;
                buf.truncate(n);
                (n > 0).then(|| Bytes::from(buf))
            }
            Source::S3 { body, idle } => match tokio::time::timeout(*idle, body.try_next()).await {
                Ok(Ok(chunk)) => chunk,
                Ok(Err(e)) => {
                    return Err(StorageError::Transient {
                        message: format!("reading {}: {e}", self.location),
                    })
                }
                Err(_) => {
                    return Err(StorageError::Transient {
                        message: format!(
                            "reading {}: no data for {idle:?} after {} bytes",
                            self.location, self.read
                        ),
                    })
                }
            },
        };
        if let Some(chunk) = &chunk {
            self.read += chunk.len() as u64;
        }
        Ok(chunk)
    }

    /// Reads until `buf` holds `len` bytes or the object ends; what a
    /// chunk brings past `len` is kept in `rest` for the next call.
    pub(crate) async fn fill(
        &mut self,
        buf: &mut Vec<u8>,
        len: usize,
        rest: &mut Bytes,
    ) -> Result<(), StorageError> {
        loop {
            let want = len.saturating_sub(buf.len());
            if want == 0 {
                return Ok(());
            }
            if rest.is_empty() {
                match self.next_chunk().await? {
                    Some(chunk) => *rest = chunk,
                    None => return Ok(()),
                }
            }
            let take = want.min(rest.len());
            buf.extend_from_slice(&rest.split_to(take));
        }
    }
}
