//! Where a pipeline reads a take from: a file, or ranges of a remote object
//! (an S3 GET with a `Range` header, say) fed to GStreamer through an
//! `appsrc` in random-access mode. In that mode appsrc works in pull mode,
//! as filesrc does: typefind and the demuxer ask for the ranges they need,
//! so a take is read as it is demuxed, never copied first.

use crate::MediaError;
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Reads byte ranges of one remote object. Called from GStreamer's
/// streaming threads, never from an async runtime's.
pub trait RangeReader: Send + Sync + 'static {
    /// `len` bytes from `offset` (fewer only where the object ends).
    fn read_at(&self, offset: u64, len: u64) -> std::io::Result<Vec<u8>>;
}

/// A take to read.
#[derive(Clone)]
pub enum Source {
    File(PathBuf),
    /// An object of `size` bytes; `name` is its key or file name (its
    /// extension is compared with the container found).
    Remote {
        name: String,
        size: u64,
        reader: Arc<dyn RangeReader>,
    },
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::File(path) => f.debug_tuple("File").field(path).finish(),
            Source::Remote { name, size, .. } => f
                .debug_struct("Remote")
                .field("name", name)
                .field("size", size)
                .finish_non_exhaustive(),
        }
    }
}

impl Source {
    /// The name whose extension says what the take claims to be.
    pub fn name_path(&self) -> &Path {
        match self {
            Source::File(path) => path,
            Source::Remote { name, .. } => Path::new(name),
        }
    }
}

/// The checks before a pipeline opens `source`: a readable, non-empty
/// regular file, or a non-empty object. Returns its size.
pub(crate) fn preflight(file: &str, source: &Source) -> Result<u64, MediaError> {
    match source {
        Source::File(path) => crate::measure::preflight(file, path),
        Source::Remote { size: 0, .. } => Err(MediaError::Empty {
            file: file.to_string(),
        }),
        Source::Remote { size, .. } => Ok(*size),
    }
}

/// The element a pipeline starts with: `filesrc`, or an `appsrc` that
/// reads the object's ranges on demand.
pub(crate) fn element(file: &str, source: &Source) -> Result<gst::Element, MediaError> {
    let internal = |e: String| MediaError::Internal {
        file: file.to_string(),
        message: e,
    };
    match source {
        Source::File(path) => gst::ElementFactory::make("filesrc")
            .property("location", path.to_string_lossy().as_ref())
            .build()
            .map_err(|e| internal(format!("filesrc: {e}"))),
        Source::Remote { size, reader, .. } => {
            let src = gst_app::AppSrc::builder()
                .stream_type(gst_app::AppStreamType::RandomAccess)
                .size(i64::try_from(*size).unwrap_or(i64::MAX))
                .format(gst::Format::Bytes)
                .build();
            let size = *size;
            let offset = Arc::new(Mutex::new(0u64));
            let seek_offset = Arc::clone(&offset);
            let reader = Arc::clone(reader);
            src.set_callbacks(
                gst_app::AppSrcCallbacks::builder()
                    .seek_data(move |_, to| {
                        *seek_offset.lock().unwrap_or_else(|p| p.into_inner()) = to;
                        true
                    })
                    .need_data(move |src, len| {
                        let mut at = offset.lock().unwrap_or_else(|p| p.into_inner());
                        if *at >= size {
                            let _ = src.end_of_stream();
                            return;
                        }
                        let want = u64::from(len).clamp(1, size - *at);
                        match reader.read_at(*at, want) {
                            Ok(bytes) if !bytes.is_empty() => {
                                let start = *at;
                                *at += bytes.len() as u64;
                                let mut buffer = gst::Buffer::from_mut_slice(bytes);
                                if let Some(buffer) = buffer.get_mut() {
                                    buffer.set_offset(start);
                                }
                                let _ = src.push_buffer(buffer);
                            }
                            Ok(_) => {
                                gst::element_error!(
                                    src,
                                    gst::ResourceError::Read,
                                    ["the store returned no bytes at offset {} of {}", *at, size]
                                );
                            }
                            Err(error) => {
                                // The reader's words are the error's message, so
                                // they reach the record (a replaced take says
                                // "the take changed while it was processed").
                                gst::element_error!(
                                    src,
                                    gst::ResourceError::Read,
                                    ("{}", error),
                                    ["reading bytes {}..{}", *at, *at + want]
                                );
                            }
                        }
                    })
                    .build(),
            );
            Ok(src.upcast())
        }
    }
}
