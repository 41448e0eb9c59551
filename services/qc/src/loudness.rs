//! The sound half of the analysis: integrated loudness, loudness range and
//! true peak (ITU-R BS.1770-4 / EBU R128, through the `ebur128` crate),
//! clipping runs and long silences.
//!
//! Samples are processed in 100 ms windows ([`SILENCE_WINDOW_SECONDS`]): the
//! analyzer buffers what a push leaves of an incomplete window (including an
//! incomplete trailing frame) and measures it with the next push, so results
//! do not depend on how the decoder chunks its buffers.

use crate::config::{
    QcConfig, CLIP_MAJOR_FRACTION, CLIP_MERGE_GAP_SECONDS, SILENCE_WINDOW_SECONDS,
};
use crate::QcError;
use ebur128::{EbuR128, Mode};
use moocpipe_proto::{AudioQc, Finding, FindingKind, Severity};

/// Highest channel count the loudness meter accepts.
const MAX_CHANNELS: u32 = 64;
/// Sample rates the loudness meter accepts, Hz.
const RATES: std::ops::RangeInclusive<u32> = 16..=2_822_400;

/// Clipping runs merged into one finding, in frames.
#[derive(Debug, Clone, Copy)]
struct ClipEvent {
    start: u64,
    end: u64,
    /// Frames inside the event where some channel is in a clipping run.
    clipped_frames: u64,
}

/// Measures one audio stream, push by push.
pub struct AudioAnalyzer {
    config: QcConfig,
    rate: u32,
    channels: usize,
    meter: EbuR128,
    /// Pts of the first sample; times are counted in samples from here.
    origin: Option<f64>,
    /// Frames in one analysis window.
    window_frames: usize,
    /// Samples of the window being filled (fewer than a window).
    pending: Vec<f32>,
    /// Frames measured so far.
    frames: u64,

    /// Consecutive clipped samples per channel, and where each run began.
    run_len: Vec<u64>,
    run_start: Vec<u64>,
    clip_run: u64,
    clip_gap_frames: u64,
    clipped_samples: u64,
    /// Frames before this one have been counted as clipped time.
    clip_covered_until: u64,
    clip_event: Option<ClipEvent>,
    clip_events: Vec<ClipEvent>,

    /// Mean square below which a window is silent.
    silence_mean_square: f64,
    silence_start: Option<u64>,
    /// Silent runs, [start, end) in frames, longer than the minimum.
    silences: Vec<(u64, u64)>,

    /// Highest per-window true peak (linear) and the window it was in.
    peak: f64,
    peak_window: (u64, u64),
}

impl AudioAnalyzer {
    /// An analyzer for interleaved audio of `channels` channels at `rate` Hz.
    /// Fails on a format the loudness meter cannot measure (0 or more than 64
    /// channels, a rate outside 16 Hz ..= 2.8224 MHz).
    pub fn new(rate: u32, channels: u32, config: &QcConfig) -> Result<Self, QcError> {
        if channels == 0 || channels > MAX_CHANNELS || !RATES.contains(&rate) {
            return Err(QcError::UnsupportedAudio { rate, channels });
        }
        let meter = EbuR128::new(channels, rate, Mode::I | Mode::LRA | Mode::TRUE_PEAK)
            .map_err(QcError::Loudness)?;
        let window_frames = ((f64::from(rate) * SILENCE_WINDOW_SECONDS).round() as usize).max(1);
        let n = channels as usize;
        Ok(Self {
            config: config.clone(),
            rate,
            channels: n,
            meter,
            origin: None,
            window_frames,
            pending: Vec::with_capacity(window_frames * n),
            frames: 0,
            run_len: vec![0; n],
            run_start: vec![0; n],
            clip_run: u64::from(config.clip_run_samples.max(1)),
            clip_gap_frames: (f64::from(rate) * CLIP_MERGE_GAP_SECONDS).round() as u64,
            clipped_samples: 0,
            clip_covered_until: 0,
            clip_event: None,
            clip_events: Vec::new(),
            silence_mean_square: 10f64.powf(config.silence_dbfs / 10.0),
            silence_start: None,
            silences: Vec::new(),
            peak: 0.0,
            peak_window: (0, 0),
        })
    }

    /// Interleaved f32 samples in -1.0..=1.0, starting at `pts_seconds`
    /// (contiguous in practice; gaps are treated as contiguous: times are
    /// counted in samples from the first push's pts). A push need not hold
    /// whole frames: an incomplete trailing frame waits for the next push.
    pub fn push(&mut self, pts_seconds: f64, samples: &[f32]) -> Result<(), QcError> {
        if samples.is_empty() {
            return Ok(());
        }
        if self.origin.is_none() {
            self.origin = Some(if pts_seconds.is_finite() {
                pts_seconds.max(0.0)
            } else {
                0.0
            });
        }
        let window_len = self.window_frames * self.channels;
        let mut rest = samples;
        if !self.pending.is_empty() {
            let take = (window_len - self.pending.len()).min(rest.len());
            self.pending.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if self.pending.len() < window_len {
                return Ok(());
            }
            let window = std::mem::take(&mut self.pending);
            let result = self.measure(&window);
            self.pending = window;
            self.pending.clear();
            result?;
        }
        let mut windows = rest.chunks_exact(window_len);
        for window in &mut windows {
            self.measure(window)?;
        }
        self.pending.extend_from_slice(windows.remainder());
        Ok(())
    }

    /// Measures what is left and returns the measurements and findings.
    pub fn finish(mut self) -> (AudioQc, Vec<Finding>) {
        let whole = self.pending.len() / self.channels * self.channels;
        let last = std::mem::take(&mut self.pending);
        // An error of the meter here (it has none for well-formed input) only
        // loses the last window's loudness; clipping and silence still count.
        let _ = self.measure(&last[..whole]);
        self.close_silence(self.frames);
        if let Some(event) = self.clip_event.take() {
            self.clip_events.push(event);
        }

        let seconds = self.frames as f64 / f64::from(self.rate);
        let integrated = self.meter.loudness_global().ok().filter(|l| l.is_finite());
        // Loudness range needs 3 s short-term blocks: absent below that.
        let range = integrated
            .filter(|_| seconds >= 3.0)
            .and_then(|_| self.meter.loudness_range().ok())
            .filter(|l| l.is_finite());
        let peak = (0..self.channels as u32)
            .filter_map(|c| self.meter.true_peak(c).ok())
            .fold(0.0f64, f64::max);
        let true_peak = Some(20.0 * peak.log10()).filter(|p| p.is_finite());

        let mut findings = Vec::new();
        self.loudness_finding(integrated, seconds, &mut findings);
        self.true_peak_finding(true_peak, &mut findings);
        self.clipping_findings(&mut findings);
        self.silence_findings(&mut findings);
        findings.sort_by(|a, b| a.start_seconds.total_cmp(&b.start_seconds));

        let qc = AudioQc {
            integrated_lufs: integrated,
            loudness_range_lu: range,
            true_peak_dbtp: true_peak,
            clipped_samples: self.clipped_samples,
            seconds,
        };
        (qc, findings)
    }

    /// Seconds from the start of the take of frame `frame`.
    fn time(&self, frame: u64) -> f64 {
        self.origin.unwrap_or(0.0) + frame as f64 / f64::from(self.rate)
    }

    /// Measures whole frames (one window, or the shorter last one).
    fn measure(&mut self, samples: &[f32]) -> Result<(), QcError> {
        if samples.is_empty() {
            return Ok(());
        }
        let sanitized;
        let samples = if samples.iter().all(|x| x.is_finite()) {
            samples
        } else {
            sanitized = samples
                .iter()
                .map(|&x| if x.is_nan() { 0.0 } else { x.clamp(-1.0, 1.0) })
                .collect::<Vec<f32>>();
            &sanitized
        };
        let start = self.frames;
        let frames = (samples.len() / self.channels) as u64;

        let mut sum_squares = 0.0f64;
        for (i, frame) in samples.chunks_exact(self.channels).enumerate() {
            let f = start + i as u64;
            for (c, &x) in frame.iter().enumerate() {
                sum_squares += f64::from(x) * f64::from(x);
                if x.abs() >= self.config.clip_level {
                    self.clipped_samples += 1;
                    self.run_len[c] += 1;
                    if self.run_len[c] == 1 {
                        self.run_start[c] = f;
                    }
                    if self.run_len[c] >= self.clip_run {
                        self.clip(self.run_start[c], f + 1);
                    }
                } else {
                    self.run_len[c] = 0;
                }
            }
        }
        self.frames += frames;

        let mean_square = sum_squares / samples.len() as f64;
        if mean_square < self.silence_mean_square {
            self.silence_start.get_or_insert(start);
        } else {
            self.close_silence(start);
        }

        let result = self
            .meter
            .add_frames_f32(samples)
            .map_err(QcError::Loudness);
        let peak = (0..self.channels as u32)
            .filter_map(|c| self.meter.prev_true_peak(c).ok())
            .fold(0.0f64, f64::max);
        if peak > self.peak {
            self.peak = peak;
            self.peak_window = (start, start + frames);
        }
        result
    }

    /// Frames [`start`, `end`) are inside a clipping run; `end` is the frame
    /// after the one being measured, so it never decreases.
    fn clip(&mut self, start: u64, end: u64) {
        let new = end.saturating_sub(start.max(self.clip_covered_until));
        self.clip_covered_until = self.clip_covered_until.max(end);
        match &mut self.clip_event {
            Some(event) if start.saturating_sub(event.end) < self.clip_gap_frames => {
                event.start = event.start.min(start);
                event.end = event.end.max(end);
                event.clipped_frames += new;
            }
            _ => {
                let event = ClipEvent {
                    start,
                    end,
                    clipped_frames: new,
                };
                if let Some(done) = self.clip_event.replace(event) {
                    self.clip_events.push(done);
                }
            }
        }
    }

    /// Ends the silent run, if any, at frame `end`.
    fn close_silence(&mut self, end: u64) {
        if let Some(start) = self.silence_start.take() {
            let seconds = (end - start) as f64 / f64::from(self.rate);
            let whole_take = start == 0 && end == self.frames && end > 0;
            if seconds > self.config.silence_min_seconds || whole_take {
                self.silences.push((start, end));
            }
        }
    }

    fn loudness_finding(&self, integrated: Option<f64>, seconds: f64, out: &mut Vec<Finding>) {
        let Some(lufs) = integrated else { return };
        let c = &self.config;
        let off = (lufs - c.target_lufs).abs();
        let severity = if off > 2.0 * c.loudness_tolerance_lu {
            Severity::Major
        } else if off > c.loudness_tolerance_lu {
            Severity::Minor
        } else {
            return;
        };
        out.push(Finding {
            kind: FindingKind::Loudness,
            severity,
            start_seconds: 0.0,
            end_seconds: self.origin.unwrap_or(0.0) + seconds,
            message: format!(
                "integrated loudness {lufs:.1} LUFS; target {} ± {} LU",
                c.target_lufs, c.loudness_tolerance_lu
            ),
        });
    }

    fn true_peak_finding(&self, true_peak: Option<f64>, out: &mut Vec<Finding>) {
        let Some(dbtp) = true_peak else { return };
        if dbtp <= self.config.max_true_peak_dbtp {
            return;
        }
        let (start, end) = (self.time(self.peak_window.0), self.time(self.peak_window.1));
        out.push(Finding {
            kind: FindingKind::TruePeak,
            severity: Severity::Minor,
            start_seconds: start,
            end_seconds: end,
            message: format!(
                "true peak {dbtp:.1} dBTP, above the {} dBTP ceiling (EBU R128); highest at {start:.1} s",
                self.config.max_true_peak_dbtp
            ),
        });
    }

    fn clipping_findings(&self, out: &mut Vec<Finding>) {
        let clipped: u64 = self.clip_events.iter().map(|e| e.clipped_frames).sum();
        let severity =
            if self.frames > 0 && clipped as f64 > CLIP_MAJOR_FRACTION * self.frames as f64 {
                Severity::Major
            } else {
                Severity::Minor
            };
        let rate = f64::from(self.rate);
        for event in &self.clip_events {
            let (start, end) = (self.time(event.start), self.time(event.end));
            out.push(Finding {
                kind: FindingKind::Clipping,
                severity,
                start_seconds: start,
                end_seconds: end,
                message: format!(
                    "clipping from {start:.2} s to {end:.2} s: {:.3} s of samples at full scale \
                     (runs of {}+ samples at ≥ {} of full scale)",
                    event.clipped_frames as f64 / rate,
                    self.clip_run,
                    self.config.clip_level
                ),
            });
        }
    }

    fn silence_findings(&self, out: &mut Vec<Finding>) {
        for &(start_frame, end_frame) in &self.silences {
            let (start, end) = (self.time(start_frame), self.time(end_frame));
            let whole = start_frame == 0 && end_frame == self.frames;
            let (severity, what) = if whole {
                (Severity::Major, "the whole take is silent")
            } else {
                (Severity::Minor, "silence")
            };
            out.push(Finding {
                kind: FindingKind::Silence,
                severity,
                start_seconds: start,
                end_seconds: end,
                message: format!(
                    "{what} (below {} dBFS RMS) from {start:.1} s to {end:.1} s ({:.1} s)",
                    self.config.silence_dbfs,
                    end - start
                ),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signals::{clipped, silence, sine, RATE};

    /// Peak amplitude of a sine whose stereo BS.1770 loudness is the −16 LUFS target.
    const AT_TARGET: f64 = 0.158_489_319; // 10^(−16/20)

    fn analyse(samples: &[f32], channels: u32) -> (AudioQc, Vec<Finding>) {
        let mut a = AudioAnalyzer::new(RATE, channels, &QcConfig::default()).expect("analyzer");
        a.push(0.0, samples).expect("push");
        a.finish()
    }

    fn kinds(findings: &[Finding]) -> Vec<FindingKind> {
        findings.iter().map(|f| f.kind).collect()
    }

    #[test]
    fn stereo_sine_at_minus_20_dbfs_reads_minus_20_lufs() {
        // BS.1770-4 calibrates K-weighting so that a 0 dBFS 997 Hz sine in
        // one front channel reads −3.01 LKFS: its mean square is 1/2
        // (−3.01 dB), the K filter's gain at 997 Hz (+0.691 dB) cancels the
        // −0.691 constant. The same sine in both channels doubles the summed
        // power (+3.01 dB), so a stereo sine of peak A reads 20·log10(A)
        // LUFS: −20.0 for A = 0.1. Cross-check: the ebur128 crate's own test
        // `sine_stereo_f32` reads −0.65 LUFS for a full-scale 440 Hz stereo
        // sine (K-weighting is ~0.65 dB lower at 440 Hz than at 997 Hz).
        let (qc, findings) = analyse(&sine(2, 997.0, 0.1, 10.0, 0), 2);
        let lufs = qc.integrated_lufs.expect("loudness");
        assert!((lufs - -20.0).abs() < 0.5, "{lufs}");
        assert!((qc.seconds - 10.0).abs() < 1e-9);
        let range = qc.loudness_range_lu.expect("range");
        assert!(
            range.abs() < 0.5,
            "steady tone has no loudness range: {range}"
        );
        let peak = qc.true_peak_dbtp.expect("peak");
        assert!((peak - -20.0).abs() < 0.2, "{peak}");
        assert_eq!(qc.clipped_samples, 0);
        // 4 LU below the −16 target: outside ±3, inside ±6 → Minor.
        assert_eq!(kinds(&findings), [FindingKind::Loudness]);
        let f = &findings[0];
        assert_eq!(f.severity, Severity::Minor);
        assert_eq!((f.start_seconds, f.end_seconds), (0.0, 10.0));
        assert_eq!(
            f.message,
            format!("integrated loudness {lufs:.1} LUFS; target -16 ± 3 LU")
        );
    }

    #[test]
    fn loudness_far_from_target_is_major() {
        // −40 dBFS peak: 24 LU below the target, beyond twice the tolerance.
        let (qc, findings) = analyse(&sine(2, 997.0, 0.01, 10.0, 0), 2);
        assert!((qc.integrated_lufs.expect("loudness") - -40.0).abs() < 0.5);
        assert_eq!(kinds(&findings), [FindingKind::Loudness]);
        assert_eq!(findings[0].severity, Severity::Major);
    }

    #[test]
    fn sine_at_target_has_no_findings() {
        let (qc, findings) = analyse(&sine(2, 997.0, AT_TARGET, 10.0, 0), 2);
        assert!((qc.integrated_lufs.expect("loudness") - -16.0).abs() < 0.5);
        assert!(findings.is_empty(), "{findings:?}");
    }

    #[test]
    fn true_peak_above_ceiling_is_minor() {
        // 0.99 of full scale: −0.09 dBFS sample peak, above −1 dBTP, but below
        // the clipping level.
        let (qc, findings) = analyse(&sine(2, 997.0, 0.99, 5.0, 0), 2);
        let peak = qc.true_peak_dbtp.expect("peak");
        assert!(peak > -0.2 && peak < 0.3, "{peak}");
        assert_eq!(qc.clipped_samples, 0);
        let tp: Vec<_> = findings
            .iter()
            .filter(|f| f.kind == FindingKind::TruePeak)
            .collect();
        assert_eq!(tp.len(), 1);
        assert_eq!(tp[0].severity, Severity::Minor);
        assert!(
            tp[0].message.contains("above the -1 dBTP ceiling"),
            "{}",
            tp[0].message
        );
    }

    #[test]
    fn clipping_is_found_where_it_is() {
        // 10 s of tone at the target with 3.0–3.5 s driven into clipping.
        let rate = RATE as usize;
        let mut samples = sine(2, 997.0, AT_TARGET, 3.0, 0);
        samples.extend(clipped(2, 0.5, 3 * rate));
        samples.extend(sine(2, 997.0, AT_TARGET, 6.5, 3 * rate + rate / 2));
        let (qc, findings) = analyse(&samples, 2);
        assert!(qc.clipped_samples > 0);
        let clips: Vec<_> = findings
            .iter()
            .filter(|f| f.kind == FindingKind::Clipping)
            .collect();
        assert_eq!(clips.len(), 1, "{findings:?}");
        let f = clips[0];
        // The first flat top begins within a quarter cycle of 3.0 s, the
        // last ends within a quarter cycle of 3.5 s.
        assert!((f.start_seconds - 3.0).abs() < 0.001, "{}", f.start_seconds);
        assert!((f.end_seconds - 3.5).abs() < 0.001, "{}", f.end_seconds);
        // Most of the half second is at full scale: far above 0.1 % of 10 s.
        assert_eq!(f.severity, Severity::Major);
    }

    #[test]
    fn isolated_short_runs_are_not_clipping_and_brief_clipping_is_minor() {
        // Two full-scale samples in a row (shorter than a 3-sample run) are
        // counted but make no finding; one 4-sample run in 10 s is Minor.
        let mut samples = sine(1, 997.0, AT_TARGET, 10.0, 0);
        samples[1000] = 1.0;
        samples[1001] = -1.0;
        let (qc, findings) = analyse(&samples, 1);
        assert_eq!(qc.clipped_samples, 2);
        assert!(findings.iter().all(|f| f.kind != FindingKind::Clipping));

        samples[240_000..240_004].fill(1.0);
        let (qc, findings) = analyse(&samples, 1);
        assert_eq!(qc.clipped_samples, 6);
        let clips: Vec<_> = findings
            .iter()
            .filter(|f| f.kind == FindingKind::Clipping)
            .collect();
        assert_eq!(clips.len(), 1);
        assert_eq!(clips[0].severity, Severity::Minor);
        assert!((clips[0].start_seconds - 5.0).abs() < 1e-9);
    }

    #[test]
    fn clipping_runs_more_than_half_a_second_apart_are_separate() {
        let rate = RATE as usize;
        let mut samples = sine(2, 997.0, AT_TARGET, 10.0, 0);
        // Runs in different channels at 2.0 s and 2.3 s merge; 4.0 s is apart.
        for (at, channel) in [(2.0, 0), (2.3, 1), (4.0, 0)] {
            let frame = (at * rate as f64).round() as usize;
            for i in 0..5 {
                samples[(frame + i) * 2 + channel] = -1.0;
            }
        }
        let (_, findings) = analyse(&samples, 2);
        let clips: Vec<_> = findings
            .iter()
            .filter(|f| f.kind == FindingKind::Clipping)
            .map(|f| (f.start_seconds, f.end_seconds))
            .collect();
        let after = |s: f64| s + 5.0 / RATE as f64;
        let expected = [(2.0, after(2.3)), (4.0, after(4.0))];
        assert_eq!(clips.len(), expected.len(), "{clips:?}");
        for (got, want) in clips.iter().zip(expected) {
            assert!(
                (got.0 - want.0).abs() < 1e-9 && (got.1 - want.1).abs() < 1e-9,
                "{clips:?}"
            );
        }
    }

    #[test]
    fn ten_seconds_of_silence_inside_thirty_is_found() {
        let rate = RATE as usize;
        let mut samples = sine(2, 997.0, AT_TARGET, 10.0, 0);
        samples.extend(silence(2, 10.0));
        samples.extend(sine(2, 997.0, AT_TARGET, 10.0, 20 * rate));
        let (qc, findings) = analyse(&samples, 2);
        assert!((qc.seconds - 30.0).abs() < 1e-9);
        assert_eq!(kinds(&findings), [FindingKind::Silence], "{findings:?}");
        let f = &findings[0];
        assert_eq!(f.severity, Severity::Minor);
        assert!((f.start_seconds - 10.0).abs() <= 0.1, "{}", f.start_seconds);
        assert!((f.end_seconds - 20.0).abs() <= 0.1, "{}", f.end_seconds);
    }

    #[test]
    fn short_pauses_are_not_silence() {
        let rate = RATE as usize;
        let mut samples = sine(2, 997.0, AT_TARGET, 5.0, 0);
        samples.extend(silence(2, 4.0));
        samples.extend(sine(2, 997.0, AT_TARGET, 5.0, 9 * rate));
        let (_, findings) = analyse(&samples, 2);
        assert!(findings.is_empty(), "{findings:?}");
    }

    #[test]
    fn an_entirely_silent_take_is_one_major_finding() {
        let (qc, findings) = analyse(&silence(2, 12.0), 2);
        assert_eq!(qc.integrated_lufs, None);
        assert_eq!(qc.loudness_range_lu, None);
        assert_eq!(qc.true_peak_dbtp, None);
        assert_eq!(kinds(&findings), [FindingKind::Silence]);
        let f = &findings[0];
        assert_eq!(f.severity, Severity::Major);
        assert_eq!((f.start_seconds, f.end_seconds), (0.0, 12.0));
        // Even when shorter than the minimum silence.
        let (_, findings) = analyse(&silence(1, 1.0), 1);
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].severity, Severity::Major);
    }

    #[test]
    fn results_do_not_depend_on_chunking_or_odd_pushes() {
        let rate = RATE as usize;
        let mut samples = sine(2, 440.0, 0.3, 6.0, 0);
        samples.extend(silence(2, 6.0));
        samples.extend(clipped(2, 0.2, 12 * rate));
        samples.extend(sine(2, 440.0, 0.3, 2.0, 12 * rate + rate / 5));
        let whole = analyse(&samples, 2);
        // Chunks of odd sizes split frames and windows anywhere; empty
        // pushes in between change nothing.
        let mut a = AudioAnalyzer::new(RATE, 2, &QcConfig::default()).expect("analyzer");
        let mut pts = 0.0;
        for chunk in samples.chunks(1001) {
            a.push(pts, chunk).expect("push");
            a.push(pts, &[]).expect("empty push");
            pts += chunk.len() as f64 / 2.0 / RATE as f64;
        }
        assert_eq!(a.finish(), whole);
    }

    #[test]
    fn an_incomplete_trailing_frame_is_dropped() {
        let mut samples = sine(2, 997.0, AT_TARGET, 1.0, 0);
        samples.push(0.5);
        let (qc, _) = analyse(&samples, 2);
        assert!((qc.seconds - 1.0).abs() < 1e-9);
    }

    #[test]
    fn times_count_from_the_first_pts() {
        let rate = RATE as usize;
        let mut samples = sine(1, 997.0, AT_TARGET, 2.0, 0);
        samples.extend(silence(1, 6.0));
        samples.extend(sine(1, 997.0, AT_TARGET, 2.0, 8 * rate));
        let mut a = AudioAnalyzer::new(RATE, 1, &QcConfig::default()).expect("analyzer");
        a.push(100.0, &samples).expect("push");
        let (_, findings) = a.finish();
        let silence: Vec<_> = findings
            .iter()
            .filter(|f| f.kind == FindingKind::Silence)
            .collect();
        assert_eq!(silence.len(), 1);
        assert!((silence[0].start_seconds - 102.0).abs() < 1e-9);
        assert!((silence[0].end_seconds - 108.0).abs() < 1e-9);
    }

    #[test]
    fn empty_and_invalid_input_do_not_panic() {
        let config = QcConfig::default();
        assert!(matches!(
            AudioAnalyzer::new(RATE, 0, &config),
            Err(QcError::UnsupportedAudio { channels: 0, .. })
        ));
        assert!(AudioAnalyzer::new(0, 2, &config).is_err());
        assert!(AudioAnalyzer::new(RATE, 65, &config).is_err());
        let err = AudioAnalyzer::new(8, 2, &config).err().expect("error");
        assert!(err.to_string().contains("2 channels at 8 Hz"), "{err}");

        let a = AudioAnalyzer::new(RATE, 2, &config).expect("analyzer");
        let (qc, findings) = a.finish();
        assert_eq!(qc.seconds, 0.0);
        assert_eq!(qc.integrated_lufs, None);
        assert!(findings.is_empty());

        // A sample, but no whole frame.
        let mut a = AudioAnalyzer::new(RATE, 6, &config).expect("analyzer");
        a.push(f64::NAN, &[0.1, 0.2, 0.3]).expect("push");
        let (qc, findings) = a.finish();
        assert_eq!(qc.seconds, 0.0);
        assert!(findings.is_empty());

        // Non-finite samples: NaN is silence, infinity full scale.
        let mut samples = sine(2, 997.0, AT_TARGET, 2.0, 0);
        samples[100] = f32::NAN;
        samples[2000..2010].fill(f32::INFINITY);
        let (qc, _) = analyse(&samples, 2);
        assert_eq!(qc.clipped_samples, 10);
        assert!(qc.integrated_lufs.is_some_and(f64::is_finite));
    }
}
