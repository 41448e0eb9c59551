//! The probe stage: measure a raw take ([`moocpipe_media::measure`]) and judge
//! it against the raw-footage spec ([`spec`]). Knows nothing of queues or
//! storage: it turns a file into a [`ProbeRecord`].

pub mod spec;

use moocpipe_media::{MeasureOptions, Measurement, MediaError, Source};
use moocpipe_proto::{ProbeError, ProbeRecord, SCHEMA_VERSION};
use std::path::Path;

/// Probes one file. Never fails: a file that cannot be checked yields a record
/// with `verdict: error` and a typed `error`. Only ever reads the file.
pub fn run(
    file: &str,
    path: &Path,
    options: &MeasureOptions,
    progress: &mut dyn FnMut(f64),
) -> ProbeRecord {
    let _span = tracing::info_span!("probe", file).entered();
    let measured = moocpipe_media::measure(file, path, options, progress);
    record(file, measured, || {
        std::fs::metadata(path).ok().map(|m| m.len())
    })
}

/// [`run`] over any [`Source`]: the distributed probe reads a take from the
/// store by ranges, as the demuxer asks for them, without copying it first.
pub fn run_source(
    file: &str,
    source: &Source,
    options: &MeasureOptions,
    progress: &mut dyn FnMut(f64),
) -> ProbeRecord {
    let _span = tracing::info_span!("probe", file).entered();
    let measured = moocpipe_media::measure_source(file, source, options, progress);
    record(file, measured, || match source {
        Source::File(path) => std::fs::metadata(path).ok().map(|m| m.len()),
        Source::Remote { size, .. } => Some(*size),
    })
}

fn record(
    file: &str,
    measured: Result<Measurement, MediaError>,
    size: impl FnOnce() -> Option<u64>,
) -> ProbeRecord {
    match measured {
        Ok(m) => {
            let rules = spec::evaluate(&m.video, &m.audio, m.streams);
            tracing::info!(verdict = %ProbeRecord::verdict_of(&rules), "probed");
            ProbeRecord {
                schema_version: SCHEMA_VERSION,
                file: file.to_string(),
                verdict: ProbeRecord::verdict_of(&rules),
                rules,
                size_bytes: Some(m.size_bytes),
                container: Some(m.container),
                duration_seconds: m.duration_seconds,
                streams: m.streams,
                more_video: m.video.iter().skip(1).cloned().collect(),
                video: m.video.into_iter().next(),
                audio: m.audio,
                warnings: m.warnings,
                error: None,
                measured_from: Some(match m.measured_from {
                    moocpipe_media::MeasuredFrom::Index => moocpipe_proto::MeasuredFrom::Index,
                    moocpipe_media::MeasuredFrom::Demux => moocpipe_proto::MeasuredFrom::Demux,
                }),
            }
        }
        Err(e) => {
            tracing::warn!(kind = %e.kind(), "cannot check: {e}");
            ProbeRecord::failed(file, size(), error_of(&e))
        }
    }
}

fn error_of(e: &MediaError) -> ProbeError {
    ProbeError {
        kind: e.kind(),
        message: e.to_string(),
    }
}
