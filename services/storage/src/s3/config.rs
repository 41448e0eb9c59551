//! How to reach an S3-compatible store, and the SDK client built from it.

use crate::StorageError;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_smithy_http_client::tls;
use std::time::Duration;

/// The environment variables [`S3Config::from_env`] reads.
pub const ENV_ENDPOINT: &str = "MOOCPIPE_S3_ENDPOINT";
pub const ENV_REGION: &str = "MOOCPIPE_S3_REGION";
pub const ENV_BUCKET: &str = "MOOCPIPE_S3_BUCKET";
pub const ENV_ACCESS_KEY_ID: &str = "MOOCPIPE_S3_ACCESS_KEY_ID";
pub const ENV_SECRET_ACCESS_KEY: &str = "MOOCPIPE_S3_SECRET_ACCESS_KEY";
pub const ENV_PATH_STYLE: &str = "MOOCPIPE_S3_PATH_STYLE";
/// The address presigned URLs name, when browsers reach the store at
/// another address than the workers (see `S3Store::with_public_endpoint`).
pub const ENV_PUBLIC_ENDPOINT: &str = "MOOCPIPE_S3_PUBLIC_ENDPOINT";
/// Optional overrides of [`S3Timeouts`], in seconds (decimals allowed).
pub const ENV_CONNECT_TIMEOUT: &str = "MOOCPIPE_S3_CONNECT_TIMEOUT_SECS";
pub const ENV_READ_TIMEOUT: &str = "MOOCPIPE_S3_READ_TIMEOUT_SECS";
pub const ENV_OPERATION_TIMEOUT: &str = "MOOCPIPE_S3_OPERATION_TIMEOUT_SECS";
pub const ENV_TRANSFER_TIMEOUT: &str = "MOOCPIPE_S3_TRANSFER_TIMEOUT_SECS";
/// Optional override of [`S3Timeouts::max_attempts`].
pub const ENV_MAX_ATTEMPTS: &str = "MOOCPIPE_S3_MAX_ATTEMPTS";

/// How long any S3 call may take, so that a store that stops answering
/// (a frozen node, a half-open connection, a lost route) turns into a
/// [`StorageError::Transient`] within a known bound instead of a call that
/// hangs — a worker whose lease renewals hang must notice, not keep
/// uploading. Time-outs are retried by the SDK (`max_attempts`) inside
/// `operation` (or `transfer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct S3Timeouts {
    /// Opening a TCP (and TLS) connection. Default 5 s.
    pub connect: Duration,
    /// From sending a request to the first byte of its response, per
    /// attempt, for every call that is not a transfer (records, HEAD,
    /// listings, ranged reads, lease renewals). Default 30 s.
    pub read: Duration,
    /// A whole call that is not a transfer, all attempts and back-off
    /// included; a ranged read's body counts too. Default 90 s.
    pub operation: Duration,
    /// Calls that send a file: one multipart part (16 MiB or more) or a
    /// whole small file, per attempt and in total (the request's first
    /// response byte comes only after the body is sent, so `read` cannot
    /// apply). Default 5 min: 16 MiB needs only ~0.5 Mbit/s.
    pub transfer: Duration,
    /// Attempts per call, the first included (the SDK's standard retry
    /// with exponential back-off). Default 3.
    pub max_attempts: u32,
}

impl Default for S3Timeouts {
    fn default() -> Self {
        S3Timeouts {
            connect: Duration::from_secs(5),
            read: Duration::from_secs(30),
            operation: Duration::from_secs(90),
            transfer: Duration::from_secs(300),
            max_attempts: 3,
        }
    }
}

/// Settings for one bucket. `Debug` never prints the secret key.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Config {
    /// `http(s)://host:port` of a non-AWS store (Garage, MinIO, Ceph);
    /// `None` for AWS, whose endpoint follows from the region.
    pub endpoint: Option<String>,
    /// Must equal the store's region exactly: requests are signed with it
    /// (Garage: its `s3_region`).
    pub region: String,
    pub bucket: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    /// `http://host/bucket/key` instead of `http://bucket.host/key`:
    /// needed by Garage and MinIO without wildcard DNS.
    pub path_style: bool,
    /// Bounds on every call (see [`S3Timeouts`]).
    pub timeouts: S3Timeouts,
}

impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("bucket", &self.bucket)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"[redacted]")
            .field("path_style", &self.path_style)
            .field("timeouts", &self.timeouts)
            .finish()
    }
}

impl S3Config {
    /// Reads `MOOCPIPE_S3_*`. Region, bucket and both keys are required;
    /// `MOOCPIPE_S3_PATH_STYLE` (`true`/`false`/`1`/`0`/`yes`/`no`) defaults
    /// to true when an endpoint is set (a self-hosted store) and false
    /// otherwise (AWS prefers virtual-hosted addressing).
    pub fn from_env() -> Result<Self, StorageError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`S3Config::from_env`] over any lookup, so it can be tested without
    /// touching the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, StorageError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let required = |name: &str, hint: &str| {
            get(name).ok_or_else(|| StorageError::Config {
                message: format!("{name} is not set ({hint})"),
            })
        };
        let endpoint = get(ENV_ENDPOINT);
        let path_style = match get(ENV_PATH_STYLE) {
            None => endpoint.is_some(),
            Some(v) => match v.trim().to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "on" => true,
                "0" | "false" | "no" | "off" => false,
                _ => {
                    return Err(StorageError::Config {
                        message: format!("{ENV_PATH_STYLE}={v:?}: expected true or false"),
                    })
                }
            },
        };
        let seconds = |name: &str, default: Duration| -> Result<Duration, StorageError> {
            match get(name) {
                None => Ok(default),
                Some(v) => v
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|s| s.is_finite() && *s > 0.0)
                    .and_then(|s| Duration::try_from_secs_f64(s).ok())
                    .ok_or_else(|| StorageError::Config {
                        message: format!("{name}={v:?}: expected a number of seconds above 0"),
                    }),
            }
        };
        let defaults = S3Timeouts::default();
        let timeouts = S3Timeouts {
            connect: seconds(ENV_CONNECT_TIMEOUT, defaults.connect)?,
            read: seconds(ENV_READ_TIMEOUT, defaults.read)?,
            operation: seconds(ENV_OPERATION_TIMEOUT, defaults.operation)?,
            transfer: seconds(ENV_TRANSFER_TIMEOUT, defaults.transfer)?,
            max_attempts: match get(ENV_MAX_ATTEMPTS) {
                None => defaults.max_attempts,
                Some(v) => v
                    .trim()
                    .parse::<u32>()
                    .ok()
                    .filter(|n| (1..=10).contains(n))
                    .ok_or_else(|| StorageError::Config {
                        message: format!("{ENV_MAX_ATTEMPTS}={v:?}: expected 1 to 10"),
                    })?,
            },
        };
        let config = S3Config {
            timeouts,
            region: required(
                ENV_REGION,
                "the store's region, e.g. us-east-1, or `garage`",
            )?,
            bucket: required(ENV_BUCKET, "the bucket to use")?,
            access_key_id: required(ENV_ACCESS_KEY_ID, "the access key id")?,
            secret_access_key: required(ENV_SECRET_ACCESS_KEY, "the secret access key")?,
            endpoint,
            path_style,
        };
        config.validate()?;
        Ok(config)
    }

    /// Catches settings that would only fail at the first request, with a
    /// message naming the field.
    pub(crate) fn validate(&self) -> Result<(), StorageError> {
        let bad = |message: String| Err(StorageError::Config { message });
        if self.bucket.trim().is_empty() {
            return bad("the bucket name is empty".into());
        }
        if self.region.trim().is_empty() {
            return bad("the region is empty".into());
        }
        if self.access_key_id.is_empty() || self.secret_access_key.is_empty() {
            return bad("the access key id or secret access key is empty".into());
        }
        if let Some(endpoint) = &self.endpoint {
            if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
                return bad(format!(
                    "endpoint {endpoint:?} must start with http:// or https://"
                ));
            }
        }
        let t = &self.timeouts;
        if [t.connect, t.read, t.operation, t.transfer]
            .iter()
            .any(Duration::is_zero)
            || t.max_attempts == 0
        {
            return bad(format!("time-outs and attempts must be above 0: {t:?}"));
        }
        Ok(())
    }

    /// The SDK client. The checksum settings are the ones Garage needs (it
    /// refuses the SDK's default streaming checksums with "Invalid payload
    /// signature"); AWS accepts them too. HTTPS goes through rustls with
    /// ring and the system's root certificates; plain `http://` endpoints
    /// work through the same client.
    /// The client for everything but file uploads: `read` per attempt,
    /// `operation` in all.
    pub(crate) fn client(&self) -> aws_sdk_s3::Client {
        self.build(self.timeouts.read, self.timeouts.operation)
    }

    /// The client for file uploads (parts, small files): `transfer` per
    /// attempt and in all.
    pub(crate) fn transfer_client(&self) -> aws_sdk_s3::Client {
        self.build(self.timeouts.transfer, self.timeouts.transfer)
    }

    fn build(&self, read: Duration, operation: Duration) -> aws_sdk_s3::Client {
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(
                tls::rustls_provider::CryptoMode::Ring,
            ))
            .build_https();
        let credentials = Credentials::new(
            &self.access_key_id,
            &self.secret_access_key,
            None,
            None,
            "moocpipe-s3-config",
        );
        let mut builder = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(self.region.clone()))
            .credentials_provider(credentials)
            .force_path_style(self.path_style)
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
            .http_client(http)
            // A few attempts with back-off absorb a blip; past that the
            // caller gets `Transient` and its queue retries later.
            .retry_config(RetryConfig::standard().with_max_attempts(self.timeouts.max_attempts))
            // Every call is bounded (see `S3Timeouts`); a response body
            // that stalls after its headers is caught by the SDK's
            // stalled-stream protection (and ranged reads by their own
            // deadline).
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(self.timeouts.connect)
                    .read_timeout(read)
                    .operation_attempt_timeout(read + self.timeouts.connect)
                    .operation_timeout(operation)
                    .build(),
            );
        if let Some(endpoint) = &self.endpoint {
            builder = builder.endpoint_url(endpoint);
        }
        aws_sdk_s3::Client::from_conf(builder.build())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| vars.get(name).cloned()
    }

    #[test]
    fn time_outs_default_sanely_and_can_be_overridden() {
        let config = S3Config::from_lookup(lookup(GARAGE)).expect("config");
        assert_eq!(config.timeouts, S3Timeouts::default());
        assert_eq!(config.timeouts.connect, Duration::from_secs(5));
        assert_eq!(config.timeouts.read, Duration::from_secs(30));

        let tuned: Vec<_> = GARAGE
            .iter()
            .copied()
            .chain([
                (ENV_READ_TIMEOUT, "2.5"),
                (ENV_TRANSFER_TIMEOUT, "600"),
                (ENV_MAX_ATTEMPTS, "5"),
            ])
            .collect();
        let config = S3Config::from_lookup(lookup(&tuned)).expect("config");
        assert_eq!(config.timeouts.read, Duration::from_millis(2500));
        assert_eq!(config.timeouts.transfer, Duration::from_secs(600));
        assert_eq!(config.timeouts.max_attempts, 5);
        assert_eq!(config.timeouts.connect, Duration::from_secs(5));

        for (name, value) in [
            (ENV_CONNECT_TIMEOUT, "0"),
            (ENV_OPERATION_TIMEOUT, "soon"),
            (ENV_MAX_ATTEMPTS, "0"),
        ] {
            let bad: Vec<_> = GARAGE.iter().copied().chain([(name, value)]).collect();
            let err = S3Config::from_lookup(lookup(&bad)).expect_err(name);
            assert!(err.to_string().contains(name), "{err}");
        }
    }

    const GARAGE: &[(&str, &str)] = &[
        (ENV_ENDPOINT, "http://127.0.0.1:3900"),
        (ENV_REGION, "garage"),
        (ENV_BUCKET, "media"),
        (ENV_ACCESS_KEY_ID, "GK0123"),
        (ENV_SECRET_ACCESS_KEY, "very-secret-value"),
    ];

    #[test]
    fn reads_the_environment_and_defaults_path_style_from_the_endpoint() {
        let config = S3Config::from_lookup(lookup(GARAGE)).expect("config");
        assert_eq!(config.endpoint.as_deref(), Some("http://127.0.0.1:3900"));
        assert_eq!(config.region, "garage");
        assert_eq!(config.bucket, "media");
        assert!(config.path_style, "an endpoint means a self-hosted store");

        let aws: Vec<_> = GARAGE
            .iter()
            .copied()
            .filter(|(k, _)| *k != ENV_ENDPOINT)
            .chain([(ENV_PATH_STYLE, "")])
            .collect();
        let config = S3Config::from_lookup(lookup(&aws)).expect("config");
        assert!(!config.path_style, "AWS: virtual-hosted");

        let forced: Vec<_> = aws
            .iter()
            .copied()
            .chain([(ENV_PATH_STYLE, "yes")])
            .collect();
        assert!(
            S3Config::from_lookup(lookup(&forced))
                .expect("config")
                .path_style
        );
    }

    #[test]
    fn a_missing_or_bad_variable_is_named() {
        let partial: Vec<_> = GARAGE
            .iter()
            .copied()
            .filter(|(k, _)| *k != ENV_BUCKET)
            .collect();
        let err = S3Config::from_lookup(lookup(&partial)).expect_err("no bucket");
        assert!(err.to_string().contains(ENV_BUCKET), "{err}");

        let bad: Vec<_> = GARAGE
            .iter()
            .copied()
            .chain([(ENV_PATH_STYLE, "maybe")])
            .collect();
        let err = S3Config::from_lookup(lookup(&bad)).expect_err("bad bool");
        assert!(err.to_string().contains(ENV_PATH_STYLE), "{err}");

        let no_scheme: Vec<_> = GARAGE
            .iter()
            .copied()
            .chain([(ENV_ENDPOINT, "127.0.0.1:3900")])
            .collect();
        let err = S3Config::from_lookup(lookup(&no_scheme)).expect_err("no scheme");
        assert!(err.to_string().contains("http://"), "{err}");
    }

    #[test]
    fn debug_output_keeps_the_secret_out() {
        let config = S3Config::from_lookup(lookup(GARAGE)).expect("config");
        let shown = format!("{config:?}");
        assert!(!shown.contains("very-secret-value"), "{shown}");
        assert!(shown.contains("[redacted]"), "{shown}");
    }
}
