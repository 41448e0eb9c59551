//! The caption stage: the author's `<take>.vtt`/`.srt` from the raw bucket
//! when there is one, else speech recognition in the sidecar's language;
//! WebVTT, SRT and a transcript uploaded to `takes/<id>/captions/`, then
//! `caption.json`. Runs beside the transcode (both follow the probe). A take
//! whose captions cannot be made (no audio track, say) is dead-lettered with
//! the reason; the report hears of it through `take.caption.failed` and
//! publishes the take without captions, saying why.

use super::{event, next, upload_dir};
use crate::scratch::{self, Scratch};
use crate::{blocking, remote, storage_error, Context};
use moocpipe_broker::{Job, JobError, Outgoing, Stage};
use moocpipe_proto::{CaptionRecord, ErrorKind, TakeJob};
use moocpipe_storage::layout::{self, Stage as Record};
use moocpipe_storage::ObjectStore;
use std::sync::Arc;

/// `takes/<id>/captions`
pub fn captions_prefix(take_id: &str) -> String {
    format!("{}/captions", layout::take_dir(take_id))
}

pub async fn handle(ctx: Arc<Context>, job: Job) -> Result<Vec<Outgoing>, JobError> {
    let message: TakeJob = job.json()?;
    let take_id = message.take.take_id.clone();
    let media = &ctx.stores.media;
    let record_key = layout::record(&take_id, Record::Caption);
    if media
        .get_json::<CaptionRecord>(&record_key)
        .await
        .map_err(storage_error)?
        .is_some()
    {
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
    let language = message
        .take
        .sidecar
        .language
        .clone()
        .unwrap_or_else(|| config.default_language.clone());
    let stem = format!(
        "{}.{language}",
        moocpipe_transcode::naming::base_name(&message.take)
    );
    let file = message.take.key.clone();
    let result = blocking(&job.cancel, move |cancel| {
        moocpipe_caption::run_source(
            &file,
            &source,
            author.as_deref(),
            Some(&language),
            &config,
            cancel,
            &mut |_| {},
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
            return Err(JobError::Transient(format!(
                "writing the captions of {take_id}: {e}"
            )))
        }
        Err(e) if e.kind() == ErrorKind::Cancelled => {
            return Err(JobError::Transient("captioning was stopped".into()))
        }
        Err(e) => {
            return Err(JobError::from_kind(
                e.kind(),
                format!("{}: {e}", message.take.source),
            ))
        }
    };
    upload_dir(&ctx, &out_dir, &captions_prefix(&take_id)).await?;
    media
        .put_json(&record_key, &record)
        .await
        .map_err(storage_error)?;
    drop(scratch);
    tracing::info!(take_id, cues = record.cues, "captioned");
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
