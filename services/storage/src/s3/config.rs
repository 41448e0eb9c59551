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
        let config = S3Config {
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
        Ok(())
    }

    /// The SDK client. The checksum settings are the ones Garage needs (it
    /// refuses the SDK's default streaming checksums with "Invalid payload
    /// signature"); AWS accepts them too. HTTPS goes through rustls with
    /// ring and the system's root certificates; plain `http://` endpoints
    /// work through the same client.
    pub(crate) fn client(&self) -> aws_sdk_s3::Client {
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
            // Three attempts with back-off absorb a blip; past that the
            // caller gets `Transient` and its queue retries later.
            .retry_config(RetryConfig::standard().with_max_attempts(3))
            // Only the connection is bounded: a multi-gigabyte part may take
            // minutes and must not be cut off (stalled streams are caught by
            // the SDK's stalled-stream protection).
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(5))
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
