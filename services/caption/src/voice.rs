//! Where there is voice: a plain energy gate over 30 ms frames of the 16 kHz
//! speech audio. It answers two questions the recogniser cannot be trusted
//! with: is there any sound worth recognising in this chunk (Whisper
//! invents "Thank you." over silence), and how much of the take is voiced
//! (the denominator of the caption coverage).

/// Samples per frame: 30 ms at 16 kHz.
pub const FRAME: usize = 480;
/// Seconds per frame.
pub const FRAME_SECONDS: f64 = FRAME as f64 / 16_000.0;

/// One flag per 30 ms frame of the whole take: voiced or not. A 60-minute
/// lecture is 120,000 flags.
#[derive(Debug, Default, Clone)]
pub struct VoiceMap {
    frames: Vec<bool>,
    /// Samples of an unfinished frame carried to the next push.
    pending: Vec<f32>,
    threshold: f32,
}

impl VoiceMap {
    /// Frames whose RMS level is above `dbfs` are voiced.
    pub fn new(dbfs: f64) -> Self {
        VoiceMap {
            frames: Vec::new(),
            pending: Vec::with_capacity(FRAME),
            threshold: 10f64.powf(dbfs / 20.0) as f32,
        }
    }

    /// Adds the next samples of the take.
    pub fn push(&mut self, samples: &[f32]) {
        for &s in samples {
            self.pending.push(s);
            if self.pending.len() == FRAME {
                let sum: f32 = self.pending.iter().map(|x| x * x).sum();
                let rms = (sum / FRAME as f32).sqrt();
                self.frames.push(rms > self.threshold);
                self.pending.clear();
            }
        }
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

    #[test]
    fn loud_frames_count_and_quiet_ones_do_not() {
        let mut v = VoiceMap::new(-45.0);
        // 1 s of a 0.1-amplitude tone (−23 dBFS RMS), then 1 s of silence.
        let tone: Vec<f32> = (0..16_000).map(|i| 0.1 * (i as f32 * 0.1).sin()).collect();
        v.push(&tone);
        v.push(&vec![0.0; 16_000]);
        assert!(
            (v.voiced_seconds() - 1.0).abs() < 0.05,
            "{}",
            v.voiced_seconds()
        );
        assert!(v.voiced_between(1.1, 2.0) < 1e-9);
        assert!((v.voiced_between(0.0, 0.5) - 0.5).abs() < 0.05);
    }
}
