//! What a worker needs to know: its two buckets and the stages' settings.
//!
//! Environment (besides `MOOCPIPE_S3_*` for the media bucket, see
//! `moocpipe-storage`):
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `MOOCPIPE_RAW_S3_BUCKET` | the studio's raw bucket (read only) | required |
//! | `MOOCPIPE_RAW_S3_ACCESS_KEY_ID`, `MOOCPIPE_RAW_S3_SECRET_ACCESS_KEY` | a key that can only read it | the media bucket's key |
//! | `MOOCPIPE_RAW_S3_ENDPOINT`, `MOOCPIPE_RAW_S3_REGION`, `MOOCPIPE_RAW_S3_PATH_STYLE` | when the raw bucket lives elsewhere | the media bucket's |
//! | `MOOCPIPE_S3_PUBLIC_ENDPOINT`, `MOOCPIPE_RAW_S3_PUBLIC_ENDPOINT` | the address presigned URLs name, when browsers reach the store elsewhere than the workers | the endpoint |
//! | `MOOCPIPE_UPLOAD_S3_ACCESS_KEY_ID`, `MOOCPIPE_UPLOAD_S3_SECRET_ACCESS_KEY` | `moocpipe serve`'s key that may write the raw bucket (browser uploads); any other `MOOCPIPE_UPLOAD_S3_X` but the bucket overrides `MOOCPIPE_RAW_S3_X` | the raw bucket's settings |
//! | `MOOCPIPE_SCRATCH_DIR` | where a stage writes its outputs before uploading them | the system's temp folder |
//!
//! The report stage also reads `MOOCPIPE_LINK_KEY` (required),
//! `MOOCPIPE_PUBLIC_URL` and `MOOCPIPE_LINK_DAYS` (`moocpipe-catalog`'s
//! `LinkSettings`) and `MOOCPIPE_STUDIO_EMAILS` (`moocpipe-notify`).

use moocpipe_caption::CaptionConfig;
use moocpipe_media::MeasureOptions;
use moocpipe_notify::NotifyConfig;
use moocpipe_qc::QcConfig;
use moocpipe_report::CourseRules;
use moocpipe_storage::{S3Config, S3Store, StorageError, ENV_PUBLIC_ENDPOINT};
use moocpipe_transcode::TranscodeConfig;
use std::path::PathBuf;

pub const ENV_RAW_BUCKET: &str = "MOOCPIPE_RAW_S3_BUCKET";
pub const ENV_UPLOAD_ACCESS_KEY_ID: &str = "MOOCPIPE_UPLOAD_S3_ACCESS_KEY_ID";
pub const ENV_SCRATCH_DIR: &str = "MOOCPIPE_SCRATCH_DIR";

/// The two buckets: the studio's raw takes (read only) and the pipeline's
/// media and records.
#[derive(Debug, Clone)]
pub struct Stores {
    pub raw: S3Store,
    pub media: S3Store,
}

impl Stores {
    /// Both from the environment (see the module docs).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Stores, StorageError> {
        let media = S3Config::from_lookup(&lookup)?;
        let raw = raw_config(&lookup)?;
        Ok(Stores {
            raw: S3Store::new(&raw)?.with_public_endpoint(&raw, raw_public_endpoint(&lookup))?,
            media: S3Store::new(&media)?
                .with_public_endpoint(&media, set(&lookup, ENV_PUBLIC_ENDPOINT))?,
        })
    }
}

/// A variable's value, unless it is unset or blank.
fn set(lookup: &impl Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    lookup(name).filter(|v| !v.trim().is_empty())
}

/// The address presigned URLs of the raw bucket name:
/// `MOOCPIPE_RAW_S3_PUBLIC_ENDPOINT`, else `MOOCPIPE_S3_PUBLIC_ENDPOINT`.
fn raw_public_endpoint(lookup: &impl Fn(&str) -> Option<String>) -> Option<String> {
    set(
        lookup,
        &ENV_PUBLIC_ENDPOINT.replacen("MOOCPIPE_S3_", "MOOCPIPE_RAW_S3_", 1),
    )
    .or_else(|| set(lookup, ENV_PUBLIC_ENDPOINT))
}

/// The raw bucket's settings: every `MOOCPIPE_S3_X` may be overridden by
/// `MOOCPIPE_RAW_S3_X`; the bucket must be named.
pub fn raw_config(lookup: &impl Fn(&str) -> Option<String>) -> Result<S3Config, StorageError> {
    if lookup(ENV_RAW_BUCKET).is_none_or(|b| b.trim().is_empty()) {
        return Err(StorageError::Config {
            message: format!("{ENV_RAW_BUCKET} is not set (the studio's raw bucket)"),
        });
    }
    S3Config::from_lookup(|name| {
        let raw = name.replacen("MOOCPIPE_S3_", "MOOCPIPE_RAW_S3_", 1);
        lookup(&raw)
            .filter(|v| !v.trim().is_empty())
            .or_else(|| lookup(name))
    })
}

/// The key `moocpipe serve` writes the raw bucket with (the studio's
/// uploads from the browser): every `MOOCPIPE_RAW_S3_X` may be overridden
/// by `MOOCPIPE_UPLOAD_S3_X`, above all the access key, since the workers'
/// raw key is read only. The bucket is always the raw bucket: a take
/// uploaded anywhere else would never be ingested.
pub fn upload_config(lookup: &impl Fn(&str) -> Option<String>) -> Result<S3Config, StorageError> {
    raw_config(&|name: &str| {
        let upload = name.replacen("MOOCPIPE_RAW_S3_", "MOOCPIPE_UPLOAD_S3_", 1);
        (name != ENV_RAW_BUCKET && upload != name)
            .then(|| lookup(&upload))
            .flatten()
            .filter(|v| !v.trim().is_empty())
            .or_else(|| lookup(name))
    })
}

/// The raw bucket through the upload key ([`upload_config`]); its
/// presigned part URLs name `MOOCPIPE_UPLOAD_S3_PUBLIC_ENDPOINT`, else the
/// raw bucket's public endpoint: the address the studio's browsers reach.
pub fn upload_store(lookup: &impl Fn(&str) -> Option<String>) -> Result<S3Store, StorageError> {
    let config = upload_config(lookup)?;
    let public = set(
        lookup,
        &ENV_PUBLIC_ENDPOINT.replacen("MOOCPIPE_S3_", "MOOCPIPE_UPLOAD_S3_", 1),
    )
    .or_else(|| raw_public_endpoint(lookup));
    S3Store::new(&config)?.with_public_endpoint(&config, public)
}

/// Whether `MOOCPIPE_UPLOAD_S3_ACCESS_KEY_ID` is set: without it the
/// server uploads with the raw bucket's key, which should be read only.
pub fn has_upload_key(lookup: &impl Fn(&str) -> Option<String>) -> bool {
    lookup(ENV_UPLOAD_ACCESS_KEY_ID).is_some_and(|v| !v.trim().is_empty())
}

/// How the stages run in a worker.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Outputs are written below here before they are uploaded.
    pub scratch_dir: PathBuf,
    pub probe: MeasureOptions,
    pub transcode: TranscodeConfig,
    /// `None`: no quality measurements.
    pub qc: Option<QcConfig>,
    /// `None`: the probe stage sends no caption jobs.
    pub caption: Option<CaptionConfig>,
    /// Transcode takes that fail the raw-footage spec too.
    pub allow_noncompliant: bool,
    pub course_rules: CourseRules,
    pub notify: NotifyConfig,
}

impl Settings {
    /// Defaults for every stage; scratch and notice settings from the
    /// environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Settings, StorageError> {
        let notify = NotifyConfig::from_lookup(&lookup).map_err(|e| StorageError::Config {
            message: e.to_string(),
        })?;
        Ok(Settings {
            scratch_dir: lookup(ENV_SCRATCH_DIR)
                .filter(|v| !v.trim().is_empty())
                .map_or_else(std::env::temp_dir, PathBuf::from),
            probe: MeasureOptions::default(),
            transcode: TranscodeConfig::default(),
            qc: Some(QcConfig::default()),
            caption: Some(CaptionConfig::default()),
            allow_noncompliant: false,
            course_rules: CourseRules::default(),
            notify,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    const MEDIA: [(&str, &str); 5] = [
        ("MOOCPIPE_S3_ENDPOINT", "http://127.0.0.1:3900"),
        ("MOOCPIPE_S3_REGION", "garage"),
        ("MOOCPIPE_S3_BUCKET", "media"),
        ("MOOCPIPE_S3_ACCESS_KEY_ID", "GKmedia"),
        ("MOOCPIPE_S3_SECRET_ACCESS_KEY", "secret"),
    ];

    #[test]
    fn the_raw_bucket_takes_its_own_key_and_falls_back_to_the_media_settings() {
        let mut pairs = MEDIA.to_vec();
        pairs.push(("MOOCPIPE_RAW_S3_BUCKET", "raw"));
        pairs.push(("MOOCPIPE_RAW_S3_ACCESS_KEY_ID", "GKreadonly"));
        let raw = raw_config(&env(&pairs)).expect("raw config");
        assert_eq!(raw.bucket, "raw");
        assert_eq!(raw.access_key_id, "GKreadonly");
        assert_eq!(raw.secret_access_key, "secret");
        assert_eq!(raw.endpoint.as_deref(), Some("http://127.0.0.1:3900"));
        assert!(raw.path_style);
    }

    #[test]
    fn the_upload_key_overrides_the_raw_key_but_never_the_bucket() {
        let mut pairs = MEDIA.to_vec();
        pairs.extend([
            ("MOOCPIPE_RAW_S3_BUCKET", "raw"),
            ("MOOCPIPE_RAW_S3_ACCESS_KEY_ID", "GKreadonly"),
            ("MOOCPIPE_RAW_S3_SECRET_ACCESS_KEY", "read-secret"),
            ("MOOCPIPE_UPLOAD_S3_BUCKET", "elsewhere"),
        ]);
        let fallback = upload_config(&env(&pairs)).expect("upload config");
        assert_eq!(fallback.access_key_id, "GKreadonly");
        assert!(!has_upload_key(&env(&pairs)));
        pairs.extend([
            ("MOOCPIPE_UPLOAD_S3_ACCESS_KEY_ID", "GKuploader"),
            ("MOOCPIPE_UPLOAD_S3_SECRET_ACCESS_KEY", "write-secret"),
        ]);
        let upload = upload_config(&env(&pairs)).expect("upload config");
        assert_eq!(upload.bucket, "raw");
        assert_eq!(upload.access_key_id, "GKuploader");
        assert_eq!(upload.secret_access_key, "write-secret");
        assert_eq!(upload.endpoint.as_deref(), Some("http://127.0.0.1:3900"));
        assert!(has_upload_key(&env(&pairs)));
    }

    #[test]
    fn a_missing_raw_bucket_is_named() {
        let error = raw_config(&env(&MEDIA)).unwrap_err().to_string();
        assert!(error.contains(ENV_RAW_BUCKET), "{error}");
    }
}
