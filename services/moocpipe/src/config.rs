//! The configuration file: every default of `moocpipe process` and
//! `moocpipe qc` in one TOML file, so a studio sets its ladder, thresholds
//! and caption model once instead of on every command line.
//!
//! Layers, lowest first: built-in defaults < the file < environment
//! variables (`MOOCPIPE_PRESET`, `MOOCPIPE_DATA`) < command-line flags. This
//! module owns the first two; clap reads the environment into the flags, and
//! `cmd::process::ConfigOverrides` lays both over a loaded [`Config`].
//!
//! Which file: `--config FILE` (or `$MOOCPIPE_CONFIG`), which must exist;
//! else `$XDG_CONFIG_HOME/moocpipe/moocpipe.toml` (or
//! `$HOME/.config/moocpipe/moocpipe.toml`) when it exists; else none.
//!
//! The `[transcode]` and `[qc]` sections are the stage crates' own
//! [`TranscodeConfig`] and [`QcConfig`], deserialized directly, so each
//! setting is documented once, beside the code that uses it. Every section
//! refuses unknown keys: a misspelt key would otherwise be ignored without a
//! word and the run would quietly use the default. `moocpipe.example.toml`
//! at the repository root lists every key with its default.

use moocpipe_caption::cues::CueStyle;
use moocpipe_caption::{CaptionConfig, ModelChoice};
use moocpipe_models::ModelName;
use moocpipe_qc::QcConfig;
use moocpipe_transcode::TranscodeConfig;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::path::{Path, PathBuf};

/// Why the configuration cannot be used. Every variant is permanent: the
/// file (or a flag) must be fixed, so the command stops before any work.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A file named with `--config` or `$MOOCPIPE_CONFIG` is not there.
    #[error("{}: configuration file not found", path.display())]
    NotFound { path: PathBuf },
    /// The file is there but cannot be read (permissions, a folder, not UTF-8).
    #[error("{}: cannot read the configuration file: {message}", path.display())]
    Read { path: PathBuf, message: String },
    /// Not TOML, a value of the wrong type, or an unknown key; `message`
    /// is toml's, with the line, the column and the offending text.
    #[error("{}: {message}", path.display())]
    Parse { path: PathBuf, message: String },
    /// A value of the right type that cannot work (a preset x264 does not
    /// know, a negative duration…). `key` is the dotted key in the file, or
    /// the flag; `path` is the file, when the value came from one.
    #[error("{}invalid `{key}`: {message}", origin(.path.as_deref()))]
    Invalid {
        path: Option<PathBuf>,
        key: String,
        message: String,
    },
}

fn origin(path: Option<&Path>) -> String {
    path.map(|p| format!("{}: ", p.display()))
        .unwrap_or_default()
}

/// Every setting of the pipeline, as the file gives it. `Default` is the
/// built-in defaults; a missing section or key keeps its default.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub store: StoreSection,
    pub probe: ProbeSection,
    pub transcode: TranscodeConfig,
    pub qc: QcConfig,
    pub caption: CaptionSection,
}

/// `[store]`: where `process` keeps its records, renditions and reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreSection {
    /// The local folder store (`--data`, `$MOOCPIPE_DATA`). A relative path
    /// is relative to the working directory, like the flag.
    pub data_dir: PathBuf,
}

impl Default for StoreSection {
    fn default() -> Self {
        StoreSection {
            data_dir: PathBuf::from("moocpipe-data"),
        }
    }
}

/// `[probe]`: the measurement of each take.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProbeSection {
    /// Time bound for probing one take, in seconds (`--timeout`). Default
    /// 600: a 60-minute ProRes take is demuxed in well under a minute here,
    /// so only a hung demuxer reaches it.
    pub timeout_seconds: u64,
}

impl Default for ProbeSection {
    fn default() -> Self {
        ProbeSection {
            timeout_seconds: 600,
        }
    }
}

/// `[caption]` as written in the file: every key optional, laid over
/// [`CaptionConfig::default`] by [`CaptionSection::apply`]. A section of its
/// own rather than `CaptionConfig` itself because the file names a model
/// with two flat keys (`model`, `model_path`) where the stage has an enum,
/// the cue style is flat here and nested there, and two defaults (the cache
/// folder, the thread count) depend on the machine and must not be frozen
/// into a file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CaptionSection {
    /// A model `moocpipe models fetch` installs: `tiny.en` or `base`.
    #[serde(
        deserialize_with = "model_name",
        serialize_with = "model_name_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub model: Option<ModelName>,
    /// Any whisper.cpp ggml/gguf model file; wins over `model`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_path: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub models_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub beam_size: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threads: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chunk_seconds: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_language: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub voice_dbfs: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_lines: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_line_chars: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_chars_per_second: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_cue_seconds: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_cue_seconds: Option<f64>,
}

/// `model = "…"` through [`ModelName`]'s own parser, so an unknown name is a
/// parse error pointing at its line, listing the known ones.
fn model_name<'de, D: Deserializer<'de>>(d: D) -> Result<Option<ModelName>, D::Error> {
    let name = String::deserialize(d)?;
    name.parse().map(Some).map_err(serde::de::Error::custom)
}

fn model_name_str<S: Serializer>(model: &Option<ModelName>, s: S) -> Result<S::Ok, S::Error> {
    match model {
        Some(m) => s.serialize_str(m.as_str()),
        None => s.serialize_none(),
    }
}

impl CaptionSection {
    /// The caption settings: each key given here replaces its field of
    /// `base` (normally [`CaptionConfig::default`]).
    pub fn apply(&self, base: CaptionConfig) -> CaptionConfig {
        let mut c = base;
        if let Some(path) = &self.model_path {
            c.model = ModelChoice::File(path.clone());
        } else if let Some(name) = self.model {
            c.model = ModelChoice::Named(name);
        }
        let set = |field: &mut f64, value: Option<f64>| {
            if let Some(v) = value {
                *field = v;
            }
        };
        if let Some(dir) = &self.models_dir {
            c.models_dir = dir.clone();
        }
        c.beam_size = self.beam_size.unwrap_or(c.beam_size);
        c.threads = self.threads.unwrap_or(c.threads);
        set(&mut c.chunk_seconds, self.chunk_seconds);
        if let Some(lang) = &self.default_language {
            c.default_language = lang.clone();
        }
        set(&mut c.voice_dbfs, self.voice_dbfs);
        c.style.max_lines = self.max_lines.unwrap_or(c.style.max_lines);
        c.style.max_line_chars = self.max_line_chars.unwrap_or(c.style.max_line_chars);
        set(&mut c.style.max_chars_per_second, self.max_chars_per_second);
        set(&mut c.style.min_cue_seconds, self.min_cue_seconds);
        set(&mut c.style.max_cue_seconds, self.max_cue_seconds);
        c
    }

    /// Every key of `config`, for `moocpipe config show`.
    pub fn from_config(config: &CaptionConfig) -> CaptionSection {
        let (model, model_path) = match &config.model {
            ModelChoice::Named(name) => (Some(*name), None),
            ModelChoice::File(path) => (None, Some(path.clone())),
        };
        let CueStyle {
            max_lines,
            max_line_chars,
            max_chars_per_second,
            min_cue_seconds,
            max_cue_seconds,
        } = config.style;
        CaptionSection {
            model,
            model_path,
            models_dir: Some(config.models_dir.clone()),
            beam_size: Some(config.beam_size),
            threads: Some(config.threads),
            chunk_seconds: Some(config.chunk_seconds),
            default_language: Some(config.default_language.clone()),
            voice_dbfs: Some(config.voice_dbfs),
            max_lines: Some(max_lines),
            max_line_chars: Some(max_line_chars),
            max_chars_per_second: Some(max_chars_per_second),
            min_cue_seconds: Some(min_cue_seconds),
            max_cue_seconds: Some(max_cue_seconds),
        }
    }
}

/// A value that cannot work: the dotted key and why.
type Invalid = (String, String);

fn invalid(key: &str, message: impl Into<String>) -> Invalid {
    (key.to_string(), message.into())
}

/// Checks the caption settings after they are laid over the defaults (so
/// `min_cue_seconds` is compared with the `max_cue_seconds` in force). The
/// cue builder clamps a zero line limit to one, but a configuration saying
/// zero is a mistake worth hearing about.
fn validate_caption(c: &CaptionConfig) -> Result<(), Invalid> {
    let positive = |x: f64| x.is_finite() && x > 0.0;
    if let ModelChoice::File(path) = &c.model {
        if path.as_os_str().is_empty() {
            return Err(invalid("caption.model_path", "is empty"));
        }
    }
    if c.models_dir.as_os_str().is_empty() {
        return Err(invalid("caption.models_dir", "is empty"));
    }
    if c.beam_size == 0 {
        return Err(invalid("caption.beam_size", "must be at least 1"));
    }
    if c.threads == 0 {
        return Err(invalid("caption.threads", "must be at least 1"));
    }
    if !positive(c.chunk_seconds) {
        return Err(invalid(
            "caption.chunk_seconds",
            format!("{} is not a duration above 0 s", c.chunk_seconds),
        ));
    }
    if c.default_language.trim().is_empty() {
        return Err(invalid(
            "caption.default_language",
            "is empty; an ISO 639-1 code such as \"en\"",
        ));
    }
    if !(c.voice_dbfs.is_finite() && c.voice_dbfs < 0.0) {
        return Err(invalid(
            "caption.voice_dbfs",
            format!("{} is not a level below 0 dBFS", c.voice_dbfs),
        ));
    }
    let s = &c.style;
    if s.max_lines == 0 {
        return Err(invalid("caption.max_lines", "must be at least 1"));
    }
    if s.max_line_chars == 0 {
        return Err(invalid("caption.max_line_chars", "must be at least 1"));
    }
    if !positive(s.max_chars_per_second) {
        return Err(invalid(
            "caption.max_chars_per_second",
            format!("{} is not a reading rate above 0", s.max_chars_per_second),
        ));
    }
    if !(s.min_cue_seconds.is_finite() && s.min_cue_seconds >= 0.0) {
        return Err(invalid(
            "caption.min_cue_seconds",
            format!("{} is not a duration of 0 s or more", s.min_cue_seconds),
        ));
    }
    if !(positive(s.max_cue_seconds) && s.max_cue_seconds >= s.min_cue_seconds) {
        return Err(invalid(
            "caption.max_cue_seconds",
            format!(
                "{} is not a duration above 0 s and at least min_cue_seconds ({})",
                s.max_cue_seconds, s.min_cue_seconds
            ),
        ));
    }
    Ok(())
}

/// What `moocpipe config show` prints: the sections in force, with the
/// caption settings resolved (machine-dependent defaults included).
#[derive(Serialize)]
struct Shown<'a> {
    store: &'a StoreSection,
    probe: &'a ProbeSection,
    transcode: &'a TranscodeConfig,
    qc: &'a QcConfig,
    caption: CaptionSection,
}

impl Config {
    /// Parses and validates the text of the file at `path` (named in errors).
    pub fn from_toml(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string().trim_end().to_string(),
        })?;
        config
            .validate()
            .map_err(|(key, message)| ConfigError::Invalid {
                path: Some(path.to_path_buf()),
                key,
                message,
            })?;
        Ok(config)
    }

    /// Reads, parses and validates the file at `path`.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => ConfigError::NotFound {
                path: path.to_path_buf(),
            },
            _ => ConfigError::Read {
                path: path.to_path_buf(),
                message: e.to_string(),
            },
        })?;
        Config::from_toml(&text, path)
    }

    /// The caption settings in force: the `[caption]` keys over the
    /// stage's defaults.
    pub fn caption_config(&self) -> CaptionConfig {
        self.caption.apply(CaptionConfig::default())
    }

    /// Checks every section; the error's key is dotted (`qc.clip_level`,
    /// `transcode.ladder[0].bitrate_bps`) as a reader finds it in the file.
    pub fn validate(&self) -> Result<(), Invalid> {
        if self.store.data_dir.as_os_str().is_empty() {
            return Err(invalid("store.data_dir", "is empty"));
        }
        if self.probe.timeout_seconds == 0 {
            return Err(invalid("probe.timeout_seconds", "must be at least 1"));
        }
        self.transcode
            .validate()
            .map_err(|e| (format!("transcode.{}", e.key), e.message))?;
        self.qc
            .validate()
            .map_err(|e| (format!("qc.{}", e.key), e.message))?;
        validate_caption(&self.caption_config())
    }

    /// The configuration in force as TOML, every key of every section, after
    /// a comment naming the file it came from.
    pub fn to_toml(&self, file: Option<&Path>) -> Result<String, toml::ser::Error> {
        let shown = Shown {
            store: &self.store,
            probe: &self.probe,
            transcode: &self.transcode,
            qc: &self.qc,
            caption: CaptionSection::from_config(&self.caption_config()),
        };
        let from = match file {
            Some(path) => format!("# configuration file: {}\n", path.display()),
            None => "# configuration file: none (built-in defaults)\n".to_string(),
        };
        Ok(format!(
            "{from}# in force: built-in defaults < configuration file < environment < flags\n\n{}",
            toml::to_string_pretty(&shown)?
        ))
    }
}

/// `$XDG_CONFIG_HOME/moocpipe/moocpipe.toml`, else
/// `$HOME/.config/moocpipe/moocpipe.toml` (the XDG base-directory rule: a
/// relative `XDG_CONFIG_HOME` is ignored); `None` without either variable.
pub fn default_path() -> Option<PathBuf> {
    let var = |name| std::env::var_os(name).filter(|v| !v.is_empty());
    var("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|dir| dir.is_absolute())
        .or_else(|| var("HOME").map(|home| PathBuf::from(home).join(".config")))
        .map(|dir| dir.join("moocpipe").join("moocpipe.toml"))
}

/// The file that would be read: `explicit` (an error when it is not
/// there: a file asked for by name must not be silently skipped), else the
/// default location when a file is there, else none.
pub fn locate(explicit: Option<&Path>) -> Result<Option<PathBuf>, ConfigError> {
    match explicit {
        Some(path) if path.exists() => Ok(Some(path.to_path_buf())),
        Some(path) => Err(ConfigError::NotFound {
            path: path.to_path_buf(),
        }),
        None => Ok(default_path().filter(|p| p.exists())),
    }
}

/// The configuration from the file [`locate`] finds (or the built-in
/// defaults), with the path it came from.
pub fn load(explicit: Option<&Path>) -> Result<(Config, Option<PathBuf>), ConfigError> {
    match locate(explicit)? {
        Some(path) => Ok((Config::from_file(&path)?, Some(path))),
        None => Ok((Config::default(), None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    const EXAMPLE: &str = include_str!("../../../moocpipe.example.toml");

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::from_toml(text, Path::new("test.toml"))
    }

    fn invalid_key(text: &str) -> String {
        match parse(text) {
            Err(ConfigError::Invalid { key, path, .. }) => {
                assert_eq!(path.as_deref(), Some(Path::new("test.toml")));
                key
            }
            other => panic!("expected Invalid for {text:?}, got {other:?}"),
        }
    }

    fn parse_error(text: &str) -> String {
        match parse(text) {
            Err(e @ ConfigError::Parse { .. }) => e.to_string(),
            other => panic!("expected Parse for {text:?}, got {other:?}"),
        }
    }

    #[test]
    fn the_defaults_are_valid_and_an_empty_file_is_the_defaults() {
        assert_eq!(Config::default().validate(), Ok(()));
        assert_eq!(parse("").expect("empty file"), Config::default());
    }

    #[test]
    fn the_example_file_is_the_defaults() {
        let example = parse(EXAMPLE).expect("the example parses");
        // Compare the caption settings resolved: the example spells out
        // defaults that `CaptionSection::default()` leaves unset.
        assert_eq!(example.caption_config(), CaptionConfig::default());
        let resolved = |c: &Config| Config {
            caption: CaptionSection::default(),
            ..c.clone()
        };
        assert_eq!(resolved(&example), Config::default());
    }

    /// Dotted keys of a TOML document (array-of-table entries as `[]`).
    fn keys(prefix: &str, value: &toml::Value, out: &mut BTreeSet<String>) {
        match value {
            toml::Value::Table(t) => {
                for (k, v) in t {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    keys(&key, v, out);
                }
            }
            toml::Value::Array(items) if items.iter().all(|i| i.is_table()) => {
                for item in items {
                    keys(&format!("{prefix}[]"), item, out);
                }
            }
            _ => {
                out.insert(prefix.to_string());
            }
        }
    }

    #[test]
    fn the_example_file_has_every_key() {
        let shown = Config::default().to_toml(None).expect("serialize");
        let mut all = BTreeSet::new();
        keys("", &toml::from_str(&shown).expect("shown parses"), &mut all);
        let mut example = BTreeSet::new();
        keys(
            "",
            &toml::from_str(EXAMPLE).expect("example parses"),
            &mut example,
        );
        // Machine-dependent defaults are in the example only as comments.
        for key in ["caption.models_dir", "caption.threads"] {
            assert!(all.remove(key), "{key} is shown");
            let name = key.trim_start_matches("caption.");
            assert!(
                EXAMPLE.contains(&format!("# {name} = ")),
                "the example documents {key} in a comment"
            );
        }
        assert!(
            EXAMPLE.contains("# model_path = "),
            "the example documents caption.model_path in a comment"
        );
        assert_eq!(example, all);
    }

    #[test]
    fn a_file_changes_only_what_it_names() {
        let config = parse(
            r#"
            [transcode]
            preset = "medium"
            [[transcode.ladder]]
            name = "720p"
            height = 720
            bitrate_bps = 9000000
            platform = true
            [qc]
            target_lufs = -23.0
            [caption]
            model = "tiny.en"
            max_lines = 1
            "#,
        )
        .expect("valid");
        assert_eq!(config.transcode.preset, "medium");
        assert_eq!(config.transcode.ladder.len(), 1);
        assert_eq!(config.transcode.hls_segment_seconds, 6);
        assert_eq!(config.qc.target_lufs, -23.0);
        assert_eq!(config.qc.max_true_peak_dbtp, -1.0);
        let caption = config.caption_config();
        assert_eq!(caption.model, ModelChoice::Named(ModelName::TinyEn));
        assert_eq!(caption.style.max_lines, 1);
        assert_eq!(caption.beam_size, 5);
        assert_eq!(config.store, StoreSection::default());
    }

    #[test]
    fn model_path_wins_over_model() {
        let config = parse("[caption]\nmodel = \"base\"\nmodel_path = \"/m/ggml-large.bin\"\n")
            .expect("valid");
        assert_eq!(
            config.caption_config().model,
            ModelChoice::File(PathBuf::from("/m/ggml-large.bin"))
        );
    }

    #[test]
    fn unknown_keys_and_wrong_types_are_parse_errors_with_the_line() {
        let e = parse_error("[transcode]\nprest = \"slow\"\n");
        assert!(e.starts_with("test.toml: "), "{e}");
        assert!(e.contains("line 2") && e.contains("prest"), "{e}");
        let e = parse_error("[qc]\ntarget_lufs = \"loud\"\n");
        assert!(e.contains("line 2") && e.contains("target_lufs"), "{e}");
        let e = parse_error("[caption]\nmodel = \"large\"\n");
        assert!(e.contains("line 2") && e.contains("tiny.en"), "{e}");
        let e = parse_error("[transcode]\nladder = [{ name = \"x\", height = 720 }]\n");
        assert!(e.contains("bitrate_bps"), "{e}");
        let e = parse_error("[storage]\n");
        assert!(e.contains("storage"), "{e}");
    }

    #[test]
    fn bad_values_name_their_key() {
        assert_eq!(
            invalid_key("[transcode]\npreset = \"quick\"\n"),
            "transcode.preset"
        );
        assert_eq!(
            invalid_key(
                "[[transcode.ladder]]\nname = \"a\"\nheight = 720\nbitrate_bps = 9000000\n"
            ),
            "transcode.ladder"
        );
        assert_eq!(
            invalid_key(
                "[[transcode.ladder]]\nname = \"a\"\nheight = 720\nbitrate_bps = 0\nplatform = true\n"
            ),
            "transcode.ladder[0].bitrate_bps"
        );
        assert_eq!(
            invalid_key("[qc]\nloudness_tolerance_lu = -3.0\n"),
            "qc.loudness_tolerance_lu"
        );
        assert_eq!(invalid_key("[qc]\nsilence_dbfs = nan\n"), "qc.silence_dbfs");
        assert_eq!(
            invalid_key("[probe]\ntimeout_seconds = 0\n"),
            "probe.timeout_seconds"
        );
        assert_eq!(invalid_key("[store]\ndata_dir = \"\"\n"), "store.data_dir");
        assert_eq!(
            invalid_key("[caption]\nbeam_size = 0\n"),
            "caption.beam_size"
        );
        assert_eq!(invalid_key("[caption]\nthreads = 0\n"), "caption.threads");
        assert_eq!(
            invalid_key("[caption]\nmin_cue_seconds = 8.0\n"),
            "caption.max_cue_seconds"
        );
        assert_eq!(
            invalid_key("[caption]\nvoice_dbfs = 3.0\n"),
            "caption.voice_dbfs"
        );
    }

    #[test]
    fn errors_name_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("nope.toml");
        let e = load(Some(&missing)).expect_err("missing");
        assert!(matches!(e, ConfigError::NotFound { .. }), "{e:?}");
        assert!(e.to_string().contains("nope.toml"), "{e}");
        let e = Config::from_file(dir.path()).expect_err("a folder");
        assert!(matches!(e, ConfigError::Read { .. }), "{e:?}");
        let file = dir.path().join("m.toml");
        std::fs::write(&file, "[qc]\nclip_level = 2.0\n").expect("write");
        let e = load(Some(&file)).expect_err("invalid");
        assert_eq!(
            e.to_string(),
            format!(
                "{}: invalid `qc.clip_level`: 2 is not a fraction of full scale in (0, 1]",
                file.display()
            )
        );
        std::fs::write(&file, "[probe]\ntimeout_seconds = 5\n").expect("write");
        let (config, from) = load(Some(&file)).expect("valid");
        assert_eq!(config.probe.timeout_seconds, 5);
        assert_eq!(from.as_deref(), Some(file.as_path()));
    }

    #[test]
    fn show_round_trips() {
        let mut config = Config::default();
        config.transcode.preset = "slow".into();
        config.caption.model_path = Some(PathBuf::from("/m/x.bin"));
        let text = config
            .to_toml(Some(Path::new("/etc/m.toml")))
            .expect("toml");
        assert!(
            text.starts_with("# configuration file: /etc/m.toml\n"),
            "{text}"
        );
        assert!(text.contains("[[transcode.ladder]]"), "{text}");
        let back = parse(&text).expect("shown parses");
        assert_eq!(back.transcode, config.transcode);
        assert_eq!(back.caption_config(), config.caption_config());
    }
}
