//! The transcode stage: renditions, HLS and poster from one decode, every
//! output verified, quality measured from the same decode; uploaded to
//! `takes/<id>/renditions/`, then `qc.json`, then `transcode.json` — the
//! record last, so a take is finished exactly when its record exists. A
//! worker killed mid-upload leaves objects no record points to; the next
//! attempt writes the same names again.

use super::{event, next, upload_dir};
use crate::scratch::Scratch;
use crate::{blocking, remote, storage_error, Context};
use moocpipe_broker::{Job, JobError, Outgoing, Stage};
use moocpipe_probe::qc::{QcSession, ANALYSIS_WIDTH};
use moocpipe_proto::transcode::EncodeSettings;
use moocpipe_proto::{
    ErrorKind, ProbeError, ProbeRecord, TakeJob, TakeVerdict, TranscodeRecord, SCHEMA_VERSION,
};
use moocpipe_storage::layout::{self, Stage as Record};
use moocpipe_storage::ObjectStore;
use std::sync::Arc;

pub async fn handle(ctx: Arc<Context>, job: Job) -> Result<Vec<Outgoing>, JobError> {
    let message: TakeJob = job.json()?;
    let take_id = message.take.take_id.clone();
    let media = &ctx.stores.media;
    let record_key = layout::record(&take_id, Record::Transcode);
    if let Some(record) = media
        .get_json::<TranscodeRecord>(&record_key)
        .await
        .map_err(storage_error)?
    {
        tracing::info!(take_id, verdict = %record.verdict, "transcode recorded already");
        return done(&message, &record);
    }
    let probe = media
        .get_json::<ProbeRecord>(&layout::record(&take_id, Record::Probe))
        .await
        .map_err(storage_error)?
        .ok_or_else(|| {
            JobError::Permanent(format!(
                "take {take_id}: no probe record; a transcode job comes from the probe stage"
            ))
        })?;

    let source = remote::source(&ctx, &message).await?;
    let scratch = Scratch::create(&ctx, &take_id)?;
    let out_dir = scratch.work_dir("renditions")?;
    let renditions = out_dir.clone();
    let work = scratch.work_dir("work")?;
    let config = ctx.settings.transcode.clone();
    let qc = ctx.settings.qc.clone();
    let take = message.take.clone();
    let (result, qc_result) = blocking(&job.cancel, move |cancel| {
        let session = qc.as_ref().map(QcSession::new);
        let sink = session.as_ref().map(QcSession::sink);
        let job = moocpipe_transcode::TranscodeJob {
            take: &take,
            source: &source,
            probe: &probe,
            out_dir: &renditions,
            scratch_dir: &work,
            analysis: sink.as_ref().map(|sink| (ANALYSIS_WIDTH, sink)),
        };
        let result = moocpipe_transcode::run(job, &config, cancel, &mut |_| {});
        let qc_result = match (&result, session) {
            (Ok(_), Some(session)) => Some(session.finish(&take.key)),
            _ => None,
        };
        (result, qc_result)
    })
    .await?;

    let record = match result {
        Ok(record) => record,
        Err(e) if e.kind() == ErrorKind::Cancelled => {
            return Err(JobError::Transient("the transcode was stopped".into()))
        }
        Err(e) if e.kind().is_transient() => return Err(JobError::from_kind(e.kind(), &e)),
        Err(e) => {
            let record = TranscodeRecord {
                schema_version: SCHEMA_VERSION,
                take_id: take_id.clone(),
                verdict: TakeVerdict::Error,
                renditions: Vec::new(),
                hls: None,
                poster: None,
                settings: EncodeSettings {
                    preset: ctx.settings.transcode.preset.clone(),
                    audio_bitrate_bps: ctx.settings.transcode.audio_bitrate_bps,
                    hls_segment_seconds: ctx.settings.transcode.hls_segment_seconds,
                },
                error: Some(ProbeError {
                    kind: e.kind(),
                    message: e.to_string(),
                }),
            };
            media
                .put_json(&record_key, &record)
                .await
                .map_err(storage_error)?;
            return Err(JobError::Permanent(format!("{}: {e}", message.take.source)));
        }
    };
    if record.verdict == TakeVerdict::Pass {
        let prefix = layout::renditions(&take_id);
        let bytes = upload_dir(&ctx, &out_dir, &prefix).await?;
        tracing::info!(take_id, bytes, "renditions uploaded");
    }
    match qc_result {
        Some(Ok(qc)) => media
            .put_json(&layout::record(&take_id, Record::Qc), &qc)
            .await
            .map_err(storage_error)?,
        Some(Err(e)) => tracing::warn!(take_id, error = %e, "quality not measured"),
        None => {}
    }
    media
        .put_json(&record_key, &record)
        .await
        .map_err(storage_error)?;
    drop(scratch);
    done(&message, &record)
}

/// The report hears of every transcode, published or not.
fn done(message: &TakeJob, record: &TranscodeRecord) -> Result<Vec<Outgoing>, JobError> {
    let outcome = if record.verdict == TakeVerdict::Pass {
        "published"
    } else {
        "verification_failed"
    };
    Ok(vec![
        next(Stage::Report, message)?,
        event(
            Stage::Transcode,
            outcome,
            &message.take.take_id,
            &record.verdict,
        )?,
    ])
}
