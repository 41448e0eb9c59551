//! The caption stage inside `process`: for a take whose renditions are
//! published, captions from the author's file or from recognition, written
//! as `takes/<take-id>/runs/<run>/captions/<name>.<lang>.{vtt,srt,txt}` with
//! the record (naming the run and each file with size and checksum) in
//! `records/caption.json`. A take without speech gets files without cues
//! (an empty SRT) and is done like any other. Reused on a second run unless
//! forced.

use crate::{Event, TakeContext};
use moocpipe_caption::CaptionConfig;
use moocpipe_pipeline::policy;
use moocpipe_proto::{CaptionRecord, CaptionRun};
use moocpipe_storage::layout::{self, Output, Record};
use moocpipe_storage::{LocalStore, StorageError};
use std::path::PathBuf;

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

/// The files a caption record names, as paths: WebVTT, SRT, transcript.
fn files(store: &LocalStore, run: &CaptionRun) -> Vec<PathBuf> {
    let rank = |key: &str| match key.rsplit('.').next() {
        Some("vtt") => 0,
        Some("srt") => 1,
        _ => 2,
    };
    let mut keys: Vec<&str> = run.objects.iter().map(|o| o.key.as_str()).collect();
    keys.sort_by_key(|k| rank(k));
    keys.into_iter().map(|k| store.path(k)).collect()
}

/// Captions of the take, made with `config`.
pub(crate) fn caption_take(
    ctx: &TakeContext<'_>,
    config: &CaptionConfig,
    on_event: &mut dyn FnMut(Event<'_>),
) -> Result<Captioned, StorageError> {
    let (take, store) = (ctx.take, ctx.store);
    let record_key = layout::record(&take.take_id, Record::Caption);
    let language = policy::caption_language(take, &config.default_language);
    let stem = policy::caption_stem(take, &language);
    // A record of an older version (no run) does not parse as a run record:
    // the take is captioned again.
    let stored = match store.get_json::<CaptionRun>(&record_key) {
        Ok(found) => found.filter(|_| policy::skip_recorded(true, ctx.options.force)),
        Err(StorageError::BadRecord { .. }) => None,
        Err(e) => return Err(e),
    };
    if let Some(run) = stored.filter(|r| r.objects.iter().all(|o| store.exists(&o.key))) {
        on_event(Event::Captioned {
            take,
            record: &run.caption,
            reused: true,
        });
        let files = files(store, &run);
        return Ok(Captioned::Done {
            record: Box::new(run.caption),
            files,
        });
    }
    let result = moocpipe_caption::run(
        &take.key,
        ctx.source,
        Some(&language),
        config,
        ctx.cancel,
        &mut |fraction| on_event(Event::Captioning { take, fraction }),
    );
    let captions = match result {
        Ok(c) => c,
        Err(e) if e.kind() == moocpipe_proto::ErrorKind::Cancelled => {
            return Ok(Captioned::Cancelled)
        }
        Err(e) => {
            return Ok(Captioned::Failed(policy::failure_text(
                moocpipe_proto::Stage::Caption,
                &e.to_string(),
            )))
        }
    };
    let staging = store.staging(&format!("{}-captions", take.take_id))?;
    let staged = staging.path().join("captions");
    moocpipe_caption::write(&staged, &stem, &captions).map_err(|e| StorageError::Io {
        path: staged.clone(),
        message: e.to_string(),
    })?;
    let objects = ctx.publish(&staged, Output::Captions)?;
    let run = CaptionRun {
        caption: captions.record,
        run: ctx.run.to_string(),
        objects,
    };
    store.put_json(&record_key, &run)?;
    ctx.remove_other_runs(Output::Captions);
    on_event(Event::Captioned {
        take,
        record: &run.caption,
        reused: false,
    });
    let files = files(store, &run);
    Ok(Captioned::Done {
        record: Box::new(run.caption),
        files,
    })
}
