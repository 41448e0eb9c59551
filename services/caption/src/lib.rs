//! The caption stage (clauses 9.7.1 and 10.4): captions for a take, from
//! the author's own `.vtt`/`.srt` file when there is one next to it, else
//! from speech recognition with whisper.cpp; cues made and checked against
//! subtitle-style rules; WebVTT, SRT and a plain transcript; and a
//! [`CaptionRecord`] saying how they were made and what to look at.
//!
//! - [`cues`]: words → cues, and the style check.
//! - [`subtitle`]: WebVTT/SRT writing and parsing.
//! - [`whisper`]: the recogniser.
//! - [`voice`]: where there is voice (coverage, silence guard).

pub mod config;
pub mod cues;
pub mod subtitle;
pub mod voice;
pub mod whisper;

pub use config::{CaptionConfig, ModelChoice};

use crate::cues::{Cue, Word};
use crate::subtitle::{Format, SubtitleError};
use crate::voice::VoiceMap;
use moocpipe_media::speech::{SpeechAudio, SPEECH_RATE};
use moocpipe_media::{MediaError, Source};
use moocpipe_proto::{
    CaptionRecord, CaptionSource, CaptionWarning, CaptionWarningKind, ErrorKind, SCHEMA_VERSION,
};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

/// Why captions could not be made.
#[derive(Debug, thiserror::Error)]
pub enum CaptionError {
    /// The take could not be decoded.
    #[error(transparent)]
    Media(#[from] MediaError),
    /// The author's caption file is malformed.
    #[error("{file}: {source}")]
    Subtitle {
        file: String,
        #[source]
        source: SubtitleError,
    },
    /// The author's caption file could not be read.
    #[error("{file}: cannot read: {message}")]
    Read { file: String, message: String },
    /// No usable model: not fetched, unreadable, or not for this language.
    #[error("{0}")]
    Model(String),
    /// whisper.cpp failed on this take.
    #[error("{file}: speech recognition failed: {message}")]
    Recognition { file: String, message: String },
}

impl CaptionError {
    /// The wire-level kind: a malformed author file is the input's fault
    /// (`corrupt`), a missing model is the installation's (`missing_plugin`).
    pub fn kind(&self) -> ErrorKind {
        match self {
            CaptionError::Media(e) => e.kind(),
            CaptionError::Subtitle { .. } => ErrorKind::Corrupt,
            CaptionError::Read { .. } => ErrorKind::Io,
            CaptionError::Model(_) => ErrorKind::MissingPlugin,
            CaptionError::Recognition { .. } => ErrorKind::Internal,
        }
    }
}

/// A take's captions and their record.
#[derive(Debug, Clone)]
pub struct Captions {
    pub record: CaptionRecord,
    pub cues: Vec<Cue>,
}

/// The files captions are written as.
#[derive(Debug, Clone)]
pub struct CaptionFiles {
    pub vtt: PathBuf,
    pub srt: PathBuf,
    pub text: PathBuf,
}

/// The author's caption file for `take`: `<stem>.vtt` or `<stem>.srt` in
/// the same folder (VTT first when both exist).
pub fn author_file(take: &Path) -> Option<PathBuf> {
    [Format::Vtt, Format::Srt]
        .into_iter()
        .map(|f| take.with_extension(f.extension()))
        .find(|p| p.is_file())
}

/// Captions for the take at `path` (named `file` in messages) in
/// `language`: the author's file beside it when there is one, else
/// recognition. `progress` gets the fraction of the audio done.
pub fn run(
    file: &str,
    path: &Path,
    language: Option<&str>,
    config: &CaptionConfig,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(f64),
) -> Result<Captions, CaptionError> {
    let source = Source::File(path.to_path_buf());
    let author = author_file(path);
    run_source(
        file,
        &source,
        author.as_deref(),
        language,
        config,
        cancel,
        progress,
    )
}

/// [`run`] over any [`Source`] (the distributed caption stage reads the
/// take by ranges from the store), with the author's caption file, when
/// there is one, given by the caller.
pub fn run_source(
    file: &str,
    source: &Source,
    author: Option<&Path>,
    language: Option<&str>,
    config: &CaptionConfig,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(f64),
) -> Result<Captions, CaptionError> {
    let language = language.unwrap_or(&config.default_language).to_string();
    let origin = match author {
        Some(sub) => Origin::Author(sub.to_path_buf()),
        None => Origin::Speech(load_model(config, &language)?),
    };
    let model = match &origin {
        Origin::Speech(m) => Some(m),
        Origin::Author(_) => None,
    };
    let heard = listen(file, source, config, model, &language, cancel, progress)?;

    let mut warnings = Vec::new();
    if !heard.has_audio {
        warnings.push(CaptionWarning {
            kind: CaptionWarningKind::NoAudio,
            message: "the take has no audio stream: nothing to caption".into(),
        });
    }
    let media_end = heard.seconds;
    let (source, cues, speech_seconds) = match &origin {
        Origin::Author(sub) => {
            let cues = read_author_file(sub)?;
            let source = CaptionSource::AuthorSupplied {
                file: sub.display().to_string(),
            };
            (source, cues, None)
        }
        Origin::Speech(loaded) => {
            let cues = cues::build_cues(&heard.words, &config.style, media_end);
            if heard.has_audio && cues.is_empty() {
                warnings.push(CaptionWarning {
                    kind: CaptionWarningKind::NoSpeech,
                    message: format!(
                        "no speech heard in {:.1} s of audio (silence or music only): no cues",
                        heard.seconds
                    ),
                });
            }
            if let Some(weak) = weak_model_warning(loaded, &language) {
                warnings.push(weak);
            }
            (
                loaded.source(config),
                cues,
                Some(heard.voice.voiced_seconds()),
            )
        }
    };

    if let Some(text) = cues::repeated_text(&cues) {
        warnings.push(CaptionWarning {
            kind: CaptionWarningKind::RepeatedText,
            message: format!("the same text repeats over and over (a recognition loop?): {text:?}"),
        });
    }
    let captioned = cues::captioned_seconds(&cues);
    let voiced = heard.voice.voiced_seconds();
    let covered = heard
        .voice
        .voiced_within(cues.iter().map(|c| (c.start, c.end)));
    let coverage = (voiced > 0.0).then(|| (covered / voiced).clamp(0.0, 1.0));
    if let Some(c) = coverage.filter(|c| *c < LOW_COVERAGE && voiced > 10.0) {
        warnings.push(CaptionWarning {
            kind: CaptionWarningKind::LowCoverage,
            message: format!(
                "cues cover {:.0} % of the {voiced:.0} s in which sound is heard (music or noise without speech?)",
                c * 100.0
            ),
        });
    }
    let style_violations = cues::check_style(&cues, &config.style, Some(media_end));
    let record = CaptionRecord {
        schema_version: SCHEMA_VERSION,
        file: file.to_string(),
        language,
        source,
        cues: u32::try_from(cues.len()).unwrap_or(u32::MAX),
        audio_seconds: heard.seconds,
        speech_seconds: speech_seconds.map(round_ms),
        captioned_seconds: round_ms(captioned),
        coverage: coverage.map(|c| (c * 1000.0).round() / 1000.0),
        style_violations,
        warnings,
        style: config.style.limits(),
    };
    Ok(Captions { record, cues })
}

/// Below this share of voiced time covered by cues, the record warns.
const LOW_COVERAGE: f64 = 0.5;

/// Writes `captions` into `dir` as `<stem>.vtt`, `<stem>.srt` and
/// `<stem>.txt`, each through a temporary name and a rename.
pub fn write(dir: &Path, stem: &str, captions: &Captions) -> std::io::Result<CaptionFiles> {
    std::fs::create_dir_all(dir)?;
    let files = CaptionFiles {
        vtt: dir.join(format!("{stem}.vtt")),
        srt: dir.join(format!("{stem}.srt")),
        text: dir.join(format!("{stem}.txt")),
    };
    for (path, body) in [
        (&files.vtt, subtitle::write_vtt(&captions.cues)),
        (&files.srt, subtitle::write_srt(&captions.cues)),
        (&files.text, subtitle::write_text(&captions.cues)),
    ] {
        let part = path.with_extension("part");
        std::fs::write(&part, body)?;
        std::fs::rename(&part, path)?;
    }
    Ok(files)
}

fn round_ms(s: f64) -> f64 {
    (s * 1000.0).round() / 1000.0
}

/// The author's file, parsed and normalised.
fn read_author_file(sub: &Path) -> Result<Vec<Cue>, CaptionError> {
    let name = sub.display().to_string();
    let format = Format::from_path(sub).ok_or_else(|| CaptionError::Read {
        file: name.clone(),
        message: "neither .vtt nor .srt".into(),
    })?;
    let bytes = std::fs::read(sub).map_err(|e| CaptionError::Read {
        file: name.clone(),
        message: e.to_string(),
    })?;
    let cues = subtitle::parse_bytes(&bytes, format)
        .map_err(|source| CaptionError::Subtitle { file: name, source })?;
    Ok(subtitle::normalise(cues))
}

/// Where a take's captions come from.
enum Origin {
    /// The author's `.vtt`/`.srt` file.
    Author(PathBuf),
    /// Recognition with this model.
    Speech(LoadedModel),
}

/// A loaded recogniser and what it is.
struct LoadedModel {
    recogniser: whisper::Recogniser,
    label: String,
    sha256: String,
}

impl LoadedModel {
    fn source(&self, config: &CaptionConfig) -> CaptionSource {
        CaptionSource::Recognised {
            model: self.label.clone(),
            model_sha256: self.sha256.clone(),
            beam_size: config.beam_size.max(1),
        }
    }
}

/// Languages the `base` model was seen to turn into nonsense here.
const WEAK_ON_BASE: [&str; 2] = ["ru", "kk"];

fn weak_model_warning(model: &LoadedModel, language: &str) -> Option<CaptionWarning> {
    let small = model.label == moocpipe_models::ModelName::Base.as_str()
        || model.label == moocpipe_models::ModelName::TinyEn.as_str();
    (small && WEAK_ON_BASE.contains(&language)).then(|| CaptionWarning {
        kind: CaptionWarningKind::WeakModel,
        message: format!(
            "the {} model recognises {language} poorly; set caption.model_path to a larger \
             whisper.cpp model (small or medium) for usable captions",
            model.label
        ),
    })
}

fn load_model(config: &CaptionConfig, language: &str) -> Result<LoadedModel, CaptionError> {
    // A named model's digest is the pinned one `cached` checked; only a
    // file of the user's own is hashed (once per take).
    let (path, label, known_sha256) = match &config.model {
        ModelChoice::File(p) => (
            p.clone(),
            p.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| p.display().to_string()),
            None,
        ),
        ModelChoice::Named(name) => {
            let path = moocpipe_models::cached(*name, &config.models_dir).ok_or_else(|| {
                CaptionError::Model(format!(
                    "the Whisper model {name} is not installed in {}: run `moocpipe models fetch {name}`",
                    config.models_dir.display()
                ))
            })?;
            (path, name.as_str().to_string(), Some(name.sha256()))
        }
    };
    if !path.is_file() {
        return Err(CaptionError::Model(format!(
            "the Whisper model file {} does not exist",
            path.display()
        )));
    }
    let sha256 = match known_sha256 {
        Some(digest) => digest.to_string(),
        None => {
            moocpipe_models::sha256_of(&path).map_err(|e| CaptionError::Model(e.to_string()))?
        }
    };
    let recogniser = whisper::Recogniser::load(&path, config.beam_size, config.threads)
        .map_err(|e| CaptionError::Model(e.to_string()))?;
    if !recogniser.multilingual() && language != "en" {
        return Err(CaptionError::Model(format!(
            "the model {label} knows English only, and the take's language is {language}: \
             configure a multilingual model"
        )));
    }
    Ok(LoadedModel {
        recogniser,
        label,
        sha256,
    })
}

/// What one pass over the take's audio found.
struct Heard {
    has_audio: bool,
    /// Seconds of media (the longer of the audio decoded and the take's duration).
    seconds: f64,
    voice: VoiceMap,
    words: Vec<Word>,
}

/// One pass over the audio: the voice map always, words when `model` is
/// given. Audio is recognised in chunks of about `chunk_seconds`, each cut
/// at the quietest moment of its last seconds so no word is cut in two.
fn listen(
    file: &str,
    source: &Source,
    config: &CaptionConfig,
    model: Option<&LoadedModel>,
    language: &str,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(f64),
) -> Result<Heard, CaptionError> {
    let rate = SPEECH_RATE as f64;
    let mut audio = SpeechAudio::open(file, source)?;
    let mut voice = VoiceMap::new(config.voice_dbfs);
    let chunk = ((config.chunk_seconds.max(10.0)) * rate) as usize;
    let mut buffer: Vec<f32> = Vec::with_capacity(chunk + SPEECH_RATE as usize);
    let mut buffer_start = 0usize;
    let mut words = Vec::new();
    let mut duration: Option<f64> = None;
    let mut recognise =
        |buffer: &[f32], start: usize, voice: &VoiceMap| -> Result<(), CaptionError> {
            let Some(model) = model else { return Ok(()) };
            let (from, to) = (start as f64 / rate, (start + buffer.len()) as f64 / rate);
            if voice.voiced_between(from, to) < MIN_VOICE_SECONDS {
                return Ok(()); // nothing to hear: Whisper would invent text
            }
            let segments = model
                .recogniser
                .recognise(buffer, from, language)
                .map_err(|e| CaptionError::Recognition {
                    file: file.to_string(),
                    message: e.to_string(),
                })?;
            for s in segments {
                let span = (s.end - s.start).max(0.0);
                let voiced = voice.voiced_between(s.start, s.end);
                // A segment over (nearly) no voice is a hallucination.
                if voiced >= MIN_VOICE_SECONDS.min(span * 0.2) && voiced > 0.0 {
                    words.extend(s.words);
                }
            }
            Ok(())
        };
    while let Some(samples) = audio.next(cancel)? {
        voice.push(&samples);
        buffer.extend_from_slice(&samples);
        duration = duration.or_else(|| audio.duration_seconds());
        // The voice map decides a second at a time: wait until it covers
        // the chunk.
        if buffer.len() >= chunk + voice::LAG_SAMPLES {
            let cut = quiet_cut(&buffer, chunk);
            let rest = buffer.split_off(cut);
            recognise(&buffer, buffer_start, &voice)?;
            buffer_start += buffer.len();
            buffer = rest;
            if let Some(d) = duration.filter(|d| *d > 0.0) {
                progress((buffer_start as f64 / rate / d).min(1.0));
            }
        }
    }
    voice.finish();
    let total = buffer_start + buffer.len();
    if !buffer.is_empty() {
        recognise(&buffer, buffer_start, &voice)?;
    }
    progress(1.0);
    let audio_seconds = total as f64 / rate;
    Ok(Heard {
        has_audio: audio.has_audio(),
        seconds: round_ms(duration.unwrap_or(0.0).max(audio_seconds)),
        voice,
        words,
    })
}

/// Less voice than this in a chunk (or a segment) and it is not recognised.
const MIN_VOICE_SECONDS: f64 = 0.3;

/// Where to cut a buffer of at least `chunk` samples: the start of its
/// quietest 200 ms window in the last 10 s before `chunk`.
fn quiet_cut(buffer: &[f32], chunk: usize) -> usize {
    let window = SPEECH_RATE as usize / 5;
    let step = SPEECH_RATE as usize / 20;
    let end = chunk.min(buffer.len());
    let from = end.saturating_sub(10 * SPEECH_RATE as usize);
    let mut best = (f32::INFINITY, end);
    let mut at = from;
    while at + window <= end {
        let energy: f32 = buffer[at..at + window].iter().map(|x| x * x).sum();
        if energy < best.0 {
            best = (energy, at + window / 2);
        }
        at += step;
    }
    best.1.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_are_cut_in_the_quietest_moment() {
        let rate = SPEECH_RATE as usize;
        // 60 s of "speech" with a pause from 55.0 to 55.4 s.
        let mut buffer: Vec<f32> = (0..60 * rate)
            .map(|i| 0.2 * (i as f32 * 0.05).sin())
            .collect();
        for s in &mut buffer[55 * rate..55 * rate + rate * 2 / 5] {
            *s = 0.0;
        }
        let cut = quiet_cut(&buffer, 60 * rate);
        let at = cut as f64 / rate as f64;
        assert!((55.0..=55.4).contains(&at), "cut at {at} s");
    }
}
