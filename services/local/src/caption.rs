//! The caption stage inside `process`: for a take whose renditions are
//! published, captions from the author's file or from recognition, written
//! as `takes/<take-id>/captions/<name>.<lang>.{vtt,srt,txt}` with the
//! record in `records/caption.json`. Reused on a second run unless forced.

use crate::{Event, ProcessOptions};
use moocpipe_caption::CaptionConfig;
use moocpipe_proto::{CaptionRecord, TakeRef};
use moocpipe_storage::{layout, layout::Stage, LocalStore, StorageError};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

/// What the caption stage made of a take.
pub(crate) enum Captioned {
    /// Captions written (or found from an earlier run).
    Done {
        record: Box<CaptionRecord>,
        files: Vec<PathBuf>,
    },
    /// They could not be made; why, in plain words.
    Failed(String),
    /// Stopped by the user.
    Cancelled,
}

/// `takes/<take-id>/captions`
fn captions_key(take_id: &str) -> String {
    format!("{}/captions", layout::take_dir(take_id))
}

/// Captions of `take`, made with `config`.
pub(crate) fn caption_take(
    take: &TakeRef,
    source: &Path,
    store: &LocalStore,
    options: &ProcessOptions,
    config: &CaptionConfig,
    cancel: &AtomicBool,
    on_event: &mut dyn FnMut(Event<'_>),
) -> Result<Captioned, StorageError> {
    let record_key = layout::record(&take.take_id, Stage::Caption);
    let dir_key = captions_key(&take.take_id);
    let language = take
        .sidecar
        .language
        .clone()
        .unwrap_or_else(|| config.default_language.clone());
    let stem = format!("{}.{language}", moocpipe_transcode::naming::base_name(take));
    if !options.force && store.exists(&dir_key) {
        if let Some(record) = store.get_json::<CaptionRecord>(&record_key)? {
            let dir = store.path(&dir_key);
            let files = ["vtt", "srt", "txt"]
                .iter()
                .map(|ext| dir.join(format!("{stem}.{ext}")))
                .collect();
            on_event(Event::Captioned {
                take,
                record: &record,
                reused: true,
            });
            return Ok(Captioned::Done {
                record: Box::new(record),
                files,
            });
        }
    }
    let result = moocpipe_caption::run(
        &take.key,
        source,
        Some(&language),
        config,
        cancel,
        &mut |fraction| on_event(Event::Captioning { take, fraction }),
    );
    let captions = match result {
        Ok(c) => c,
        Err(e) if e.kind() == moocpipe_proto::ErrorKind::Cancelled => {
            return Ok(Captioned::Cancelled)
        }
        Err(e) => return Ok(Captioned::Failed(format!("captions not made: {e}"))),
    };
    let staging = store.staging(&format!("{}-captions", take.take_id))?;
    let staged = staging.path().join("captions");
    let written =
        moocpipe_caption::write(&staged, &stem, &captions).map_err(|e| StorageError::Io {
            path: staged.clone(),
            message: e.to_string(),
        })?;
    store.publish_dir(&staged, &dir_key)?;
    store.put_json(&record_key, &captions.record)?;
    let dir = store.path(&dir_key);
    let files = [&written.vtt, &written.srt, &written.text]
        .iter()
        .filter_map(|p| p.file_name())
        .map(|n| dir.join(n))
        .collect();
    on_event(Event::Captioned {
        take,
        record: &captions.record,
        reused: false,
    });
    Ok(Captioned::Done {
        record: Box::new(captions.record),
        files,
    })
}
