//! Speech recognition with whisper.cpp (through `whisper-rs`): one loaded
//! model, chunks of 16 kHz mono audio in, timed words out.
//!
//! Words are put together from Whisper's tokens: a token whose bytes start
//! with a space begins a word, the others continue it. Bytes, not strings:
//! a token may end in the middle of a Cyrillic letter.

use crate::cues::Word;
use std::path::Path;
use std::sync::Mutex;
use whisper_rs::{
    FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters, WhisperState,
};

/// The recogniser failed (the model could not be loaded or ran into an error).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct WhisperError(String);

/// A loaded model.
pub struct Recogniser {
    context: WhisperContext,
    /// whisper.cpp's working memory (KV caches, compute buffers), made on
    /// the first chunk and reused for the next: whisper.cpp resets it at the
    /// start of every run, so a new one per chunk only redid its
    /// allocations.
    state: Mutex<Option<WhisperState>>,
    beam_size: u32,
    threads: u32,
}

/// A recognised segment: its span and words, times in seconds of the take.
#[derive(Debug, Clone)]
pub struct Segment {
    pub start: f64,
    pub end: f64,
    pub words: Vec<Word>,
}

impl Recogniser {
    /// Loads a ggml/gguf model file.
    pub fn load(model: &Path, beam_size: u32, threads: u32) -> Result<Self, WhisperError> {
        // whisper.cpp's own log lines go to tracing instead of stderr.
        whisper_rs::install_logging_hooks();
        let context = WhisperContext::new_with_params(model, WhisperContextParameters::default())
            .map_err(|e| {
            WhisperError(format!("cannot load the model {}: {e}", model.display()))
        })?;
        Ok(Recogniser {
            context,
            state: Mutex::new(None),
            beam_size: beam_size.max(1),
            threads: threads.max(1),
        })
    }

    /// Whether the model knows other languages than English.
    pub fn multilingual(&self) -> bool {
        self.context.is_multilingual()
    }

    /// Recognises `samples` (16 kHz mono) in `language`; `offset` is where
    /// the samples start in the take, in seconds. One span per chunk
    /// (`whisper chunk`: where, how long, the segments kept).
    #[tracing::instrument(
        name = "whisper chunk",
        skip(self, samples),
        fields(audio_seconds = samples.len() as f64 / 16_000.0, segments = tracing::field::Empty)
    )]
    pub fn recognise(
        &self,
        samples: &[f32],
        offset: f64,
        language: &str,
    ) -> Result<Vec<Segment>, WhisperError> {
        // A poisoned lock only means an earlier chunk panicked; whisper.cpp
        // resets the state at the start of every run anyway.
        let mut slot = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let state = match slot.as_mut() {
            Some(state) => state,
            None => slot.insert(
                self.context
                    .create_state()
                    .map_err(|e| WhisperError(format!("whisper state: {e}")))?,
            ),
        };
        let mut params = FullParams::new(SamplingStrategy::BeamSearch {
            beam_size: self.beam_size as i32,
            patience: -1.0,
        });
        params.set_n_threads(self.threads as i32);
        params.set_language(Some(language));
        params.set_token_timestamps(true);
        params.set_suppress_nst(true);
        params.set_print_progress(false);
        params.set_print_realtime(false);
        params.set_print_special(false);
        params.set_print_timestamps(false);
        state
            .full(params, samples)
            .map_err(|e| WhisperError(format!("recognition failed: {e}")))?;

        let eot = self.context.token_eot();
        let mut segments = Vec::new();
        for segment in state.as_iter() {
            // Whisper's own judgement that the window holds no speech
            // (music, noise): its reference threshold.
            if segment.no_speech_probability() > NO_SPEECH_THRESHOLD {
                continue;
            }
            let mut words: Vec<Word> = Vec::new();
            let mut bytes: Vec<u8> = Vec::new();
            let (mut start, mut end) = (0.0, 0.0);
            let flush = |bytes: &mut Vec<u8>, start: f64, end: f64, words: &mut Vec<Word>| {
                let text = String::from_utf8_lossy(bytes).trim().to_string();
                if !text.is_empty() {
                    words.push(Word::new(text, start, end));
                }
                bytes.clear();
            };
            for i in 0..segment.n_tokens() {
                let Some(token) = segment.get_token(i) else {
                    continue;
                };
                if token.token_id() >= eot {
                    continue; // timestamps, language and task tokens
                }
                let data = token.token_data();
                let (t0, t1) = (
                    offset + data.t0 as f64 / 100.0,
                    offset + data.t1 as f64 / 100.0,
                );
                let Ok(piece) = token.to_bytes() else {
                    continue;
                };
                if piece.first() == Some(&b' ') || bytes.is_empty() {
                    flush(&mut bytes, start, end, &mut words);
                    start = t0;
                }
                bytes.extend_from_slice(piece);
                end = t1.max(start);
            }
            flush(&mut bytes, start, end, &mut words);
            let words = drop_annotations(words);
            if words.is_empty() {
                continue;
            }
            segments.push(Segment {
                start: offset + segment.start_timestamp() as f64 / 100.0,
                end: offset + segment.end_timestamp() as f64 / 100.0,
                words,
            });
        }
        tracing::Span::current().record("segments", segments.len());
        Ok(segments)
    }
}

/// Above this no-speech probability a segment is dropped (whisper's
/// reference `no_speech_threshold`).
const NO_SPEECH_THRESHOLD: f32 = 0.6;

/// Removes what Whisper writes for sounds that are not speech: `[MUSIC]`,
/// `(upbeat music)`, `♪`, `*applause*`.
fn drop_annotations(words: Vec<Word>) -> Vec<Word> {
    let mut kept = Vec::with_capacity(words.len());
    let mut inside: Option<char> = None;
    for w in words {
        let t = w.text.as_str();
        if let Some(close) = inside {
            if t.ends_with(close) || t.trim_end_matches(['.', ',']).ends_with(close) {
                inside = None;
            }
            continue;
        }
        let first = t.chars().next();
        let closing = match first {
            Some('[') => Some(']'),
            Some('(') => Some(')'),
            Some('*') => Some('*'),
            _ => None,
        };
        if let Some(close) = closing {
            if !(t.len() > 1 && t.trim_end_matches(['.', ',']).ends_with(close)) {
                inside = Some(close);
            }
            continue;
        }
        if t.chars().all(|c| c == '♪' || c == '♫' || c.is_whitespace()) {
            continue;
        }
        kept.push(w);
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<Word> {
        text.split_whitespace()
            .enumerate()
            .map(|(i, t)| Word::new(t, i as f64, i as f64 + 0.5))
            .collect()
    }

    fn texts(w: &[Word]) -> String {
        w.iter()
            .map(|w| w.text.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn sound_annotations_are_not_captions() {
        let kept = drop_annotations(words(
            "[MUSIC] Welcome (upbeat music) to ♪ the *applause* course. [BLANK_AUDIO]",
        ));
        assert_eq!(texts(&kept), "Welcome to the course.");
    }

    #[test]
    fn words_with_brackets_inside_stay() {
        // A word that merely contains brackets is speech; one that starts
        // with one is an annotation (Whisper writes spoken asides without).
        let kept = drop_annotations(words("Newton's law, and f(x) = 2x. [inaudible]"));
        assert_eq!(texts(&kept), "Newton's law, and f(x) = 2x.");
    }
}
