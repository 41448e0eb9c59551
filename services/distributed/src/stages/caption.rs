//! The caption stage: the author's `<take>.vtt`/`.srt` from the raw bucket
//! when there is one, else speech recognition in the sidecar's language;
//! WebVTT, SRT and a transcript uploaded under the run's own prefix
//! `takes/<id>/runs/<run>/captions/`, then — after confirming the lease —
//! `caption.json`, naming the run and each file with size and ETag (the SRT
//! of a take without speech is 0 bytes, recorded so, and published). Runs beside the transcode (both follow the probe). A take
//! whose captions cannot be made (no audio track, say) is dead-lettered with
//! the reason; the report hears of it through `take.caption.failed` and
//! publishes the take without captions, saying why.

use super::{event, next, remove_other_runs, replayed, upload_run};
use crate::scratch::{self, Scratch};
use crate::{blocking, remote, storage_error, Context};
use moocpipe_broker::{Job, JobError, Outgoing, Stage};
use moocpipe_pipeline::{policy, RunContext};
use moocpipe_proto::{CaptionRun, ErrorKind, TakeJob};
use moocpipe_storage::layout::{self, Output, Record};
use moocpipe_storage::{ObjectStore, StorageError};
use std::sync::Arc;

pub async fn handle(ctx: Arc<Context>, job: Job) -> Result<Vec<Outgoing>, JobError> {
    let message: TakeJob = job.json()?;
    let take_id = message.take.take_id.clone();
    let media = &ctx.stores.media;
    let record_key = layout::record(&take_id, Record::Caption);
    // A caption record without a run (an older version's) does not parse as
    // a run record: the take is captioned again.
    let recorded = match media.get_json::<CaptionRun>(&record_key).await {
        Ok(found) => found.is_some(),
        Err(StorageError::BadRecord { .. }) => false,
        Err(e) => return Err(storage_error(e)),
    };
    if policy::skip_recorded(recorded, replayed(&job)) {
        return done(&message);
    }
    let Some(config) = ctx.settings.caption.clone() else {
        return Err(JobError::Permanent(format!(
            "take {take_id}: this worker has captions turned off"
        )));
    };
    let source = remote::source(&ctx, &message).await?;
    let scratch = Scratch::create(&ctx, &take_id)?;
    let author = scratch::author_captions(&ctx, &message, &scratch).await?;
    let out_dir = scratch.work_dir("captions")?;
    let written_to = out_dir.clone();
    let language = policy::caption_language(&message.take, &config.default_language);
    let stem = policy::caption_stem(&message.take, &language);
    let file = message.take.key.clone();
    let progress = job.progress.clone();
    let result = blocking(&job.cancel, move |cancel| {
        moocpipe_caption::run_source(
            &file,
            &source,
            author.as_deref(),
            Some(&language),
            &config,
            cancel,
            &mut |f| progress.set(f),
        )
        .map(|captions| {
            let written = moocpipe_caption::write(&written_to, &stem, &captions);
            (captions.record, written)
        })
    })
    .await?;
    let record = match result {
        Ok((record, Ok(_files))) => record,
        Ok((_, Err(e))) => {
            return Err(scratch.full_disk(&e).unwrap_or_else(|| {
                JobError::Transient(format!("writing the captions of {take_id}: {e}"))
            }))
        }
        Err(e) if e.kind() == ErrorKind::Cancelled => {
            return Err(JobError::Transient("captioning was stopped".into()))
        }
        Err(e) => {
            return Err(super::stage_failure(
                e.kind(),
                format!("{}: {e}", message.take.source),
                Some(&scratch),
            ))
        }
    };
    let run = RunContext {
        take: &message.take,
        run: &job.run,
    };
    let objects = upload_run(&ctx, run, Output::Captions, &out_dir).await?;
    let record = CaptionRun {
        caption: record,
        run: job.run.clone(),
        objects,
    };
    job.confirm_lease().await?;
    media
        .put_json(&record_key, &record)
        .await
        .map_err(storage_error)?;
    remove_other_runs(&ctx, run, Output::Captions).await;
    drop(scratch);
    tracing::info!(take_id, cues = record.caption.cues, "captioned");
    done(&message)
}

fn done(message: &TakeJob) -> Result<Vec<Outgoing>, JobError> {
    Ok(vec![
        next(Stage::Report, message)?,
        event(
            Stage::Caption,
            "captioned",
            &message.take.take_id,
            &message.take.take_id,
        )?,
    ])
}
