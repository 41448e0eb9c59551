//! The transcode stage: renditions, HLS and poster from one decode, every
//! output verified, quality measured from the same decode; uploaded under
//! the run's own prefix `takes/<id>/runs/<run>/renditions/` (the run named
//! by the job's lease token), then `qc.json`, then — after confirming the
//! lease — `transcode.json`, naming the run and every object with size and
//! ETag. The record is last, so a take is finished exactly when its record
//! exists; a worker killed mid-upload, or one that lost its lease, leaves a
//! run no record names, removed when the next record is written.

use super::{event, next, remove_other_runs, replayed, upload_run};
use crate::scratch::Scratch;
use crate::{blocking, remote, storage_error, Context};
use moocpipe_broker::{Job, JobError, Outgoing, Stage};
use moocpipe_pipeline::qc::{QcSession, ANALYSIS_WIDTH};
use moocpipe_pipeline::{policy, RunContext};
use moocpipe_proto::transcode::EncodeSettings;
use moocpipe_proto::{ErrorKind, ProbeRecord, TakeJob, TakeVerdict, TranscodeRecord};
use moocpipe_storage::layout::{self, Output, Record};
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
        // A passed record without a run was written before runs were
        // fenced: its outputs cannot be checked, so the take is made again.
        let fenced = record.verdict != TakeVerdict::Pass || record.run.is_some();
        if fenced && policy::skip_recorded(true, replayed(&job)) {
            tracing::info!(take_id, verdict = %record.verdict, "transcode recorded already");
            return done(&message, &record);
        }
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
    let progress = job.progress.clone();
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
        let result =
            moocpipe_transcode::run(job, &config, cancel, &mut |p| progress.set(p.fraction));
        let qc_result = match (&result, session) {
            (Ok(_), Some(session)) => Some(session.finish(&take.key)),
            _ => None,
        };
        (result, qc_result)
    })
    .await?;

    let run = RunContext {
        take: &message.take,
        run: &job.run,
    };
    let mut record = match result {
        Ok(record) => record,
        Err(e) if e.kind() == ErrorKind::Cancelled => {
            return Err(JobError::Transient("the transcode was stopped".into()))
        }
        Err(e) if !policy::is_recorded_error(e.kind()) => {
            return Err(super::stage_failure(e.kind(), &e, Some(&scratch)))
        }
        Err(e) => {
            let record = policy::failed_transcode(
                &take_id,
                EncodeSettings {
                    preset: ctx.settings.transcode.preset.clone(),
                    audio_bitrate_bps: ctx.settings.transcode.audio_bitrate_bps,
                    hls_segment_seconds: ctx.settings.transcode.hls_segment_seconds,
                },
                e.kind(),
                e.to_string(),
            );
            job.confirm_lease().await?;
            media
                .put_json(&record_key, &record)
                .await
                .map_err(storage_error)?;
            return Err(JobError::Permanent(format!("{}: {e}", message.take.source)));
        }
    };
    if record.verdict == TakeVerdict::Pass {
        record.objects = upload_run(&ctx, run, Output::Renditions, &out_dir).await?;
        record.run = Some(job.run.clone());
        let bytes: u64 = record.objects.iter().map(|o| o.size_bytes).sum();
        tracing::info!(take_id, run = %job.run, bytes, "renditions uploaded");
    }
    match qc_result {
        Some(Ok(qc)) => {
            media
                .put_json(&layout::record(&take_id, Record::Qc), &qc)
                .await
                .map_err(storage_error)?;
            ctx.metrics.qc_scored(&qc);
        }
        Some(Err(e)) => tracing::warn!(take_id, error = %e, "quality not measured"),
        None => {}
    }
    job.confirm_lease().await?;
    media
        .put_json(&record_key, &record)
        .await
        .map_err(storage_error)?;
    remove_other_runs(&ctx, run, Output::Renditions).await;
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
