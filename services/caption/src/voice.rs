//! Where there is voice: an energy gate over 30 ms frames of the 16 kHz
//! speech audio, with a modulation test over 1 s blocks. It answers two
//! questions the recogniser cannot be trusted with: is there any sound worth
//! recognising in this chunk (Whisper invents "Thank you." over silence and
//! "Sh meh" over a test tone), and how much of the take is voiced (the
//! denominator of the caption coverage).
//!
//! Loud is not enough: a line-up tone, a fan or a hum is as loud as speech.
//! Speech comes in syllables and pauses, so its level swings by well over
//! 10 dB within any second; a steady tone's or a noise floor's moves by a
//! fraction of a decibel. A frame counts as voiced when it is loud *and* its
//! 1 s block is modulated by at least [`MIN_MODULATION_DB`].

/// Samples per frame: 30 ms at 16 kHz.
pub const FRAME: usize = 480;
/// Seconds per frame.
pub const FRAME_SECONDS: f64 = FRAME as f64 / 16_000.0;

/// Frames per block of the modulation test: about 1 s.
const BLOCK: usize = 33;

/// How far behind the samples pushed the decided frames can be.
pub const LAG_SAMPLES: usize = FRAME * BLOCK;

/// A block whose frame levels spread by less than this (dB, between its
/// 10th and 90th percentile) is steady sound, not speech. Measured here:
/// espeak-ng and real speech spread by 20–40 dB, a sine by under 0.1 dB,
/// white and pink noise by under 2 dB.
pub const MIN_MODULATION_DB: f32 = 6.0;

/// One flag per 30 ms frame of the whole take: voiced or not. A 60-minute
/// lecture is 120,000 flags.
#[derive(Debug, Default, Clone)]
pub struct VoiceMap {
    frames: Vec<bool>,
    /// Samples of an unfinished frame carried to the next push.
    pending: Vec<f32>,
    /// Levels (dBFS) of the frames of the unfinished block.
    block: Vec<f32>,
    /// The loudness gate, dBFS.
    threshold_db: f32,
}

impl VoiceMap {
    /// Frames whose RMS level is above `dbfs`, in modulated blocks, are voiced.
    pub fn new(dbfs: f64) -> Self {
        VoiceMap {
            frames: Vec::new(),
            pending: Vec::with_capacity(FRAME),
            block: Vec::with_capacity(BLOCK),
            threshold_db: dbfs as f32,
        }
    }

    /// Adds the next samples of the take. Frames are decided a block at a
    /// time: the last second pushed is known after the next block fills, or
    /// after [`VoiceMap::finish`].
    pub fn push(&mut self, samples: &[f32]) {
        for &s in samples {
            self.pending.push(s);
            if self.pending.len() == FRAME {
                let sum: f32 = self.pending.iter().map(|x| x * x).sum();
                let rms = (sum / FRAME as f32).sqrt();
                // −120 dBFS for digital silence keeps the spread finite.
                self.block.push(20.0 * rms.max(1e-6).log10());
                self.pending.clear();
                if self.block.len() == BLOCK {
                    self.decide_block();
                }
            }
        }
    }

    /// Decides the frames of an unfinished last block (the end of the take).
    pub fn finish(&mut self) {
        self.decide_block();
    }

    fn decide_block(&mut self) {
        if self.block.is_empty() {
            return;
        }
        let mut sorted = self.block.clone();
        sorted.sort_by(f32::total_cmp);
        let last = sorted.len() - 1;
        let (p10, p90) = (sorted[last / 10], sorted[last - last / 10]);
        let modulated = p90 - p10 >= MIN_MODULATION_DB;
        for &level in &self.block {
            self.frames.push(modulated && level > self.threshold_db);
        }
        self.block.clear();
    }

    /// Seconds voiced in `[start, end)`.
    pub fn voiced_between(&self, start: f64, end: f64) -> f64 {
        let a = ((start / FRAME_SECONDS).floor().max(0.0) as usize).min(self.frames.len());
        let b = ((end / FRAME_SECONDS).ceil().max(0.0) as usize).min(self.frames.len());
        if b <= a {
            return 0.0;
        }
        self.frames[a..b].iter().filter(|v| **v).count() as f64 * FRAME_SECONDS
    }

    /// Seconds voiced in the whole take.
    pub fn voiced_seconds(&self) -> f64 {
        self.frames.iter().filter(|v| **v).count() as f64 * FRAME_SECONDS
    }

    /// Seconds voiced inside any of `spans` (sorted, non-overlapping).
    pub fn voiced_within(&self, spans: impl IntoIterator<Item = (f64, f64)>) -> f64 {
        spans
            .into_iter()
            .map(|(s, e)| self.voiced_between(s, e))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `seconds` of a 440 Hz tone of `amplitude`, switched on and off
    /// `syllables` times a second (0: steady), as speech's level is.
    fn tone(seconds: f64, amplitude: f32, syllables: f64) -> Vec<f32> {
        let n = (seconds * 16_000.0) as usize;
        (0..n)
            .map(|i| {
                let t = i as f64 / 16_000.0;
                let on = syllables == 0.0 || (t * syllables).fract() < 0.6;
                let s = (t * 440.0 * std::f64::consts::TAU).sin() as f32;
                if on {
                    amplitude * s
                } else {
                    0.0
                }
            })
            .collect()
    }

    fn white_noise(seconds: f64, amplitude: f32) -> Vec<f32> {
        let mut x: u32 = 12345;
        (0..(seconds * 16_000.0) as usize)
            .map(|_| {
                x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                amplitude * ((x >> 8) as f32 / (1u32 << 24) as f32 * 2.0 - 1.0)
            })
            .collect()
    }

    #[test]
    fn loud_modulated_frames_count_and_quiet_ones_do_not() {
        let mut v = VoiceMap::new(-45.0);
        // 2 s of a −23 dBFS tone in 4 "syllables" a second, then 1 s of silence.
        v.push(&tone(2.0, 0.1, 4.0));
        v.push(&vec![0.0; 16_000]);
        v.finish();
        // 60 % of each syllable period is sound: 1.2 s, plus the frames
        // that straddle a syllable's start or end (loud over part of them).
        let voiced = v.voiced_seconds();
        assert!((1.2..=1.5).contains(&voiced), "{voiced}");
        assert!(v.voiced_between(2.1, 3.0) < 1e-9);
    }

    #[test]
    fn a_steady_tone_or_noise_floor_is_not_voice_however_loud() {
        for (name, sound) in [
            ("a line-up tone at −3 dBFS", tone(5.0, 1.0, 0.0)),
            ("a tone at −23 dBFS", tone(5.0, 0.1, 0.0)),
            ("white noise at −25 dBFS", white_noise(5.0, 0.1)),
        ] {
            let mut v = VoiceMap::new(-45.0);
            v.push(&sound);
            v.finish();
            assert_eq!(v.voiced_seconds(), 0.0, "{name}");
        }
    }

    #[test]
    fn speech_starting_after_a_tone_is_found_in_the_block_it_starts() {
        let mut v = VoiceMap::new(-45.0);
        let mut sound = tone(3.0, 0.1, 0.0);
        sound.extend(tone(2.0, 0.1, 4.0));
        v.push(&sound);
        v.finish();
        assert!(v.voiced_between(0.0, 2.9) < 1e-9, "the steady part");
        assert!(v.voiced_between(3.0, 5.0) > 1.0, "the syllables");
    }
}
