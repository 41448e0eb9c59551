//! The picture half of the analysis: black frames, bars at the edges
//! (letterbox, pillarbox, white bars) and frozen picture, on 8-bit luma.
//!
//! A run (of black or frozen frames) ends where the next frame begins, so its
//! end is exact for any frame rate; a run still open at the end of the take
//! ends one frame duration after its last frame, the duration being the
//! median of the pts deltas.

use crate::config::{
    QcConfig, BARS_MIN_SIZE_FRACTION, BLACK_MAJOR_FRACTION, BLACK_PIXEL_FRACTION,
    FALLBACK_FRAME_SECONDS, WHITE_BAR_LUMA,
};
use moocpipe_proto::{Bars, Finding, FindingKind, Severity, VideoQc};
use std::collections::BTreeMap;

/// A run of frames: pts of its first frame and where it ended (`None` while
/// it is open).
#[derive(Debug, Clone, Copy)]
struct Run {
    start: f64,
    end: Option<f64>,
}

/// What one frame's scan found.
#[derive(Debug, Clone, Copy, Default)]
struct Scan {
    black: bool,
    /// Mean absolute difference to the previous analysed frame, if any.
    mad: Option<f64>,
    /// Every row or every column is a bar line: a blank (dark or white)
    /// picture, not bars.
    blank: bool,
    bars: Bars,
    white_bars: bool,
    black_bars: bool,
}

/// Measures one video stream, frame by frame.
pub struct VideoAnalyzer {
    config: QcConfig,
    width: usize,
    height: usize,
    /// The previous analysed frame, `width`×`height` bytes without padding
    /// (allocated with the first valid frame).
    prev: Vec<u8>,
    prev_black: Option<bool>,
    col_sums: Vec<u64>,
    row_sums: Vec<u64>,

    frames: u64,
    rejected: u64,
    first_pts: Option<f64>,
    last_pts: Option<f64>,
    /// Positive pts deltas in microseconds, and how often each occurred.
    deltas: BTreeMap<u64, u64>,

    black: Option<Run>,
    black_runs: Vec<Run>,
    frozen: Option<Run>,
    frozen_runs: Vec<Run>,

    /// Frames that could show bars (neither black nor blank), and those that do.
    bar_candidates: u64,
    bar_frames: u64,
    bar_first: Option<f64>,
    bar_last: f64,
    white_bar_frames: u64,
    black_bar_frames: u64,
    /// Histograms of the bar sizes of frames with bars: top, bottom (0..=height)
    /// and left, right (0..=width).
    bar_sizes: [Vec<u64>; 4],
}

impl VideoAnalyzer {
    /// An analyzer for frames of `width`×`height` 8-bit luma (GRAY8), rows
    /// `stride` bytes apart; the caller may downscale (e.g. to 320×180)
    /// before. A zero width or height analyses nothing: every frame is
    /// rejected and the result is empty.
    pub fn new(width: u32, height: u32, config: &QcConfig) -> Self {
        Self {
            config: config.clone(),
            width: width as usize,
            height: height as usize,
            prev: Vec::new(),
            prev_black: None,
            col_sums: Vec::new(),
            row_sums: Vec::new(),
            frames: 0,
            rejected: 0,
            first_pts: None,
            last_pts: None,
            deltas: BTreeMap::new(),
            black: None,
            black_runs: Vec::new(),
            frozen: None,
            frozen_runs: Vec::new(),
            bar_candidates: 0,
            bar_frames: 0,
            bar_first: None,
            bar_last: 0.0,
            white_bar_frames: 0,
            black_bar_frames: 0,
            bar_sizes: Default::default(),
        }
    }

    /// Frames that were not analysed: a zero-sized picture, a buffer too
    /// short for `width`×`height` at its stride, a stride below the width, or
    /// a pts that is not a finite number.
    pub fn rejected_frames(&self) -> u64 {
        self.rejected
    }

    /// One frame of luma shown at `pts_seconds`.
    pub fn push(&mut self, pts_seconds: f64, luma: &[u8], stride: usize) {
        if !self.fits(luma, stride) || !pts_seconds.is_finite() {
            self.rejected += 1;
            return;
        }
        let pts = pts_seconds;
        let prev_pts = self.last_pts.replace(pts);
        if let Some(prev) = prev_pts {
            let delta = ((pts - prev) * 1e6).round();
            if delta >= 1.0 {
                *self.deltas.entry(delta as u64).or_insert(0) += 1;
            }
        }
        self.first_pts.get_or_insert(pts);
        self.frames += 1;

        let scan = self.scan(luma, stride);
        let prev_black = self.prev_black.replace(scan.black);

        // Black.
        if scan.black {
            self.black.get_or_insert(Run {
                start: pts,
                end: None,
            });
        } else if let Some(run) = self.black.take() {
            self.black_runs.push(Run {
                end: Some(pts),
                ..run
            });
        }

        // Frozen: the same picture as the previous frame, neither being
        // black (black frames count as black only).
        let same = matches!(prev_black, Some(false))
            && !scan.black
            && scan.mad.is_some_and(|m| m < self.config.frozen_mad);
        if same {
            if self.frozen.is_none() {
                // The run began with the previous frame, which this one repeats.
                let start = prev_pts.unwrap_or(pts);
                self.frozen = Some(Run { start, end: None });
            }
        } else if let Some(run) = self.frozen.take() {
            self.frozen_runs.push(Run {
                end: Some(pts),
                ..run
            });
        }

        // Bars.
        if !scan.black && !scan.blank {
            self.bar_candidates += 1;
            let b = scan.bars;
            if b.top > 0 || b.bottom > 0 || b.left > 0 || b.right > 0 {
                self.bar_frames += 1;
                self.bar_first.get_or_insert(pts);
                self.bar_last = pts;
                self.white_bar_frames += u64::from(scan.white_bars);
                self.black_bar_frames += u64::from(scan.black_bars);
                for (hist, size) in self
                    .bar_sizes
                    .iter_mut()
                    .zip([b.top, b.bottom, b.left, b.right])
                {
                    let size = size as usize;
                    if hist.len() <= size {
                        hist.resize(size + 1, 0);
                    }
                    hist[size] += 1;
                }
            }
        }
    }

    /// Closes the open runs and returns the measurements and findings.
    pub fn finish(mut self) -> (VideoQc, Vec<Finding>) {
        let frame = self.frame_seconds();
        let end_of_take = self.last_pts.map_or(0.0, |p| p + frame);
        let take_seconds = end_of_take - self.first_pts.unwrap_or(0.0);
        if let Some(run) = self.black.take() {
            self.black_runs.push(run);
        }
        if let Some(run) = self.frozen.take() {
            self.frozen_runs.push(run);
        }
        let span = |run: &Run| {
            let end = run.end.unwrap_or(end_of_take).max(run.start);
            (run.start, end, end - run.start)
        };

        let mut findings = Vec::new();
        let mut black_seconds = 0.0;
        for (start, end, seconds) in self.black_runs.iter().map(span) {
            if seconds < self.config.black_min_seconds {
                continue;
            }
            black_seconds += seconds;
            let severity = if seconds > BLACK_MAJOR_FRACTION * take_seconds {
                Severity::Major
            } else {
                Severity::Minor
            };
            findings.push(Finding {
                kind: FindingKind::Black,
                severity,
                start_seconds: start,
                end_seconds: end,
                message: format!("black picture from {start:.1} s to {end:.1} s ({seconds:.1} s)"),
            });
        }

        let mut frozen_seconds = 0.0;
        for (start, end, seconds) in self.frozen_runs.iter().map(span) {
            if seconds < self.config.frozen_min_seconds {
                continue;
            }
            frozen_seconds += seconds;
            findings.push(Finding {
                kind: FindingKind::Frozen,
                severity: Severity::Info,
                start_seconds: start,
                end_seconds: end,
                message: format!(
                    "unchanging picture from {start:.1} s to {end:.1} s ({seconds:.1} s)"
                ),
            });
        }

        let mut bars = Bars::default();
        if let Some(first) = self.bar_first {
            let share = self.bar_frames as f64 / self.bar_candidates as f64;
            if share >= self.config.bars_min_fraction {
                let [top, bottom, left, right] = self.bar_sizes.each_ref().map(|h| median(h));
                bars = Bars {
                    top,
                    bottom,
                    left,
                    right,
                };
                let colour = match (self.black_bar_frames > 0, self.white_bar_frames > 0) {
                    (_, false) => "black bars",
                    (false, true) => "white bars",
                    (true, true) => "black and white bars",
                };
                let end = self.bar_last + frame;
                findings.push(Finding {
                    kind: FindingKind::Bars,
                    severity: Severity::Minor,
                    start_seconds: first,
                    end_seconds: end,
                    message: format!(
                        "{colour} in {:.0} % of frames from {first:.1} s to {end:.1} s: \
                         top {top} px, bottom {bottom} px, left {left} px, right {right} px \
                         of the {}×{} analysed picture",
                        share * 100.0,
                        self.width,
                        self.height
                    ),
                });
            }
        }

        findings.sort_by(|a, b| a.start_seconds.total_cmp(&b.start_seconds));
        let qc = VideoQc {
            frames: self.frames,
            black_seconds,
            frozen_seconds,
            bars,
        };
        (qc, findings)
    }

    /// Whether `luma` holds a `width`×`height` picture at `stride`.
    fn fits(&self, luma: &[u8], stride: usize) -> bool {
        if self.width == 0 || self.height == 0 || stride < self.width {
            return false;
        }
        (self.height - 1)
            .checked_mul(stride)
            .and_then(|n| n.checked_add(self.width))
            .is_some_and(|needed| luma.len() >= needed)
    }

    /// The median frame duration, from pts deltas.
    fn frame_seconds(&self) -> f64 {
        let total: u64 = self.deltas.values().sum();
        let mut seen = 0;
        for (&micros, &count) in &self.deltas {
            seen += count;
            if 2 * seen >= total {
                return micros as f64 / 1e6;
            }
        }
        FALLBACK_FRAME_SECONDS
    }

    /// One pass over the frame: darkness, row and column means, difference
    /// to the previous frame; keeps the frame for the next comparison.
    fn scan(&mut self, luma: &[u8], stride: usize) -> Scan {
        let (w, h) = (self.width, self.height);
        let first = self.prev.is_empty();
        if first {
            self.prev = vec![0; w * h];
            self.col_sums = vec![0; w];
            self.row_sums = vec![0; h];
        }
        self.col_sums.fill(0);
        let black_luma = self.config.black_luma;
        let mut dark = 0u64;
        let mut diff = 0u64;
        for (y, row_sum) in self.row_sums.iter_mut().enumerate() {
            let row = &luma[y * stride..y * stride + w];
            let prev = &mut self.prev[y * w..(y + 1) * w];
            let mut sum = 0u64;
            for ((&p, q), col) in row
                .iter()
                .zip(prev.iter_mut())
                .zip(self.col_sums.iter_mut())
            {
                sum += u64::from(p);
                *col += u64::from(p);
                dark += u64::from(p < black_luma);
                diff += u64::from(p.abs_diff(*q));
                *q = p;
            }
            *row_sum = sum;
        }
        let pixels = (w * h) as f64;
        let mut scan = Scan {
            black: dark as f64 >= BLACK_PIXEL_FRACTION * pixels,
            mad: (!first).then(|| diff as f64 / pixels),
            ..Scan::default()
        };
        if scan.black {
            return scan;
        }

        let bar_luma = u64::from(self.config.bar_luma);
        let white = u64::from(WHITE_BAR_LUMA);
        // A line of n pixels summing to `sum`: Some(is white) when it is a bar line.
        let bar = |sum: u64, n: usize| {
            let n = n as u64;
            if sum < bar_luma * n {
                Some(false)
            } else if sum >= white * n {
                Some(true)
            } else {
                None
            }
        };
        let rows = edges(&self.row_sums, w, &bar);
        let cols = edges(&self.col_sums, h, &bar);
        let (Some(rows), Some(cols)) = (rows, cols) else {
            scan.blank = true;
            return scan;
        };
        let min_rows = BARS_MIN_SIZE_FRACTION * h as f64;
        let min_cols = BARS_MIN_SIZE_FRACTION * w as f64;
        let keep = |e: Edge, min: f64| {
            if e.size as f64 >= min {
                e
            } else {
                Edge::default()
            }
        };
        let sides = [
            keep(rows.0, min_rows),
            keep(rows.1, min_rows),
            keep(cols.0, min_cols),
            keep(cols.1, min_cols),
        ];
        scan.bars = Bars {
            top: sides[0].size,
            bottom: sides[1].size,
            left: sides[2].size,
            right: sides[3].size,
        };
        scan.white_bars = sides.iter().any(|e| e.white);
        scan.black_bars = sides.iter().any(|e| e.black);
        scan
    }
}

/// Bar lines at one edge: how many, and whether any is white or black.
#[derive(Debug, Clone, Copy, Default)]
struct Edge {
    size: u32,
    white: bool,
    black: bool,
}

/// The bar lines at both ends of `sums` (lines of `n` pixels each), or `None`
/// when every line is a bar line (a blank picture).
fn edges(sums: &[u64], n: usize, bar: &dyn Fn(u64, usize) -> Option<bool>) -> Option<(Edge, Edge)> {
    let from = |lines: &mut dyn Iterator<Item = &u64>| {
        let mut edge = Edge::default();
        for &sum in lines {
            match bar(sum, n) {
                Some(white) => {
                    edge.size += 1;
                    edge.white |= white;
                    edge.black |= !white;
                }
                None => return Some(edge),
            }
        }
        None
    };
    let start = from(&mut sums.iter())?;
    let end = from(&mut sums.iter().rev())?;
    Some((start, end))
}

/// The (lower) median of the values a histogram counts.
fn median(hist: &[u64]) -> u32 {
    let total: u64 = hist.iter().sum();
    let mut seen = 0;
    for (value, &count) in hist.iter().enumerate() {
        seen += count;
        if total > 0 && 2 * seen >= total {
            return value as u32;
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signals::{flat, letterbox, moving, pillarbox, FPS};

    const W: usize = 320;
    const H: usize = 180;

    /// Analyses `count` frames at 25 fps made by `frame(i)`.
    fn analyse(
        w: usize,
        h: usize,
        count: usize,
        frame: impl Fn(usize) -> Vec<u8>,
    ) -> (VideoQc, Vec<Finding>) {
        let mut v = VideoAnalyzer::new(w as u32, h as u32, &QcConfig::default());
        for i in 0..count {
            v.push(i as f64 / FPS, &frame(i), w);
        }
        v.finish()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-6
    }

    #[test]
    fn moving_picture_has_no_findings() {
        let (qc, findings) = analyse(W, H, 250, |i| moving(W, H, i));
        assert!(findings.is_empty(), "{findings:?}");
        assert_eq!(qc.frames, 250);
        assert_eq!((qc.black_seconds, qc.frozen_seconds), (0.0, 0.0));
        assert_eq!(qc.bars, Bars::default());
    }

    #[test]
    fn five_seconds_of_black_inside_twenty_are_found() {
        // Frames 125..250 (5.0–10.0 s) are black, at limited-range black
        // with some noise-like variation below the threshold.
        let (qc, findings) = analyse(W, H, 500, |i| {
            if (125..250).contains(&i) {
                flat(W, H, 16 + (i % 5) as u8)
            } else {
                moving(W, H, i)
            }
        });
        assert_eq!(findings.len(), 1, "{findings:?}");
        let f = &findings[0];
        assert_eq!(f.kind, FindingKind::Black);
        assert!(
            close(f.start_seconds, 5.0) && close(f.end_seconds, 10.0),
            "{f:?}"
        );
        // 5 s of a 20 s take is more than 10 %.
        assert_eq!(f.severity, Severity::Major);
        assert!(close(qc.black_seconds, 5.0));
        // Identical black frames are black, not frozen.
        assert_eq!(qc.frozen_seconds, 0.0);
    }

    #[test]
    fn black_at_the_end_ends_one_frame_after_the_last() {
        let (qc, findings) = analyse(W, H, 500, |i| {
            if i >= 480 {
                flat(W, H, 0)
            } else {
                moving(W, H, i)
            }
        });
        assert_eq!(findings.len(), 0, "0.8 s is shorter than 1 s: {findings:?}");
        assert_eq!(qc.black_seconds, 0.0);
        let (_, findings) = analyse(W, H, 500, |i| {
            if i >= 450 {
                flat(W, H, 0)
            } else {
                moving(W, H, i)
            }
        });
        assert_eq!(findings.len(), 1);
        assert!(close(findings[0].start_seconds, 18.0) && close(findings[0].end_seconds, 20.0));
        assert_eq!(findings[0].severity, Severity::Minor);
    }

    #[test]
    fn a_little_light_on_black_is_still_black() {
        // A 2 % logo on black keeps the frame black; 3 % does not.
        let logo = |share: f64| {
            let mut f = flat(W, H, 0);
            let n = (share * (W * H) as f64) as usize;
            f[..n].fill(200);
            f
        };
        let (qc, _) = analyse(W, H, 50, |_| logo(0.02));
        assert!(close(qc.black_seconds, 2.0), "{}", qc.black_seconds);
        let (qc, _) = analyse(W, H, 50, |_| logo(0.03));
        assert_eq!(qc.black_seconds, 0.0);
    }

    #[test]
    fn letterbox_bars_are_found_with_their_size() {
        // 1920×1080 with 140 rows of black at top and bottom (a 2.39:1 film
        // in a 16:9 frame).
        let (w, h) = (1920, 1080);
        let (qc, findings) = analyse(w, h, 10, |i| {
            let mut f = moving(w, h, i);
            letterbox(&mut f, w, 140, 16);
            f
        });
        assert_eq!(
            qc.bars,
            Bars {
                top: 140,
                bottom: 140,
                left: 0,
                right: 0
            }
        );
        assert_eq!(findings.len(), 1, "{findings:?}");
        let f = &findings[0];
        assert_eq!((f.kind, f.severity), (FindingKind::Bars, Severity::Minor));
        assert!(
            close(f.start_seconds, 0.0) && close(f.end_seconds, 0.4),
            "{f:?}"
        );
        assert!(
            f.message.starts_with("black bars in 100 % of frames"),
            "{}",
            f.message
        );
        assert!(
            f.message.contains("top 140 px, bottom 140 px"),
            "{}",
            f.message
        );
    }

    #[test]
    fn white_pillarbox_bars_are_found_at_analysis_size() {
        let (qc, findings) = analyse(W, H, 50, |i| {
            let mut f = moving(W, H, i);
            pillarbox(&mut f, W, 40, 240);
            f
        });
        assert_eq!(
            qc.bars,
            Bars {
                top: 0,
                bottom: 0,
                left: 40,
                right: 40
            }
        );
        assert_eq!(findings.len(), 1);
        assert!(
            findings[0].message.starts_with("white bars"),
            "{}",
            findings[0].message
        );
    }

    #[test]
    fn bars_in_a_minority_of_frames_or_thin_bars_are_not_findings() {
        // Bars in 40 % of the frames.
        let (qc, findings) = analyse(W, H, 100, |i| {
            let mut f = moving(W, H, i);
            if i < 40 {
                letterbox(&mut f, W, 20, 0);
            }
            f
        });
        assert!(findings.is_empty(), "{findings:?}");
        assert_eq!(qc.bars, Bars::default());
        // Bars of 3 rows (under 2 % of 180) in every frame.
        let (_, findings) = analyse(W, H, 100, |i| {
            let mut f = moving(W, H, i);
            letterbox(&mut f, W, 3, 0);
            f
        });
        assert!(findings.is_empty(), "{findings:?}");
    }

    #[test]
    fn black_frames_do_not_count_for_bars() {
        // 30 letterboxed frames, 70 black: bars in all non-black frames.
        let (qc, findings) = analyse(W, H, 100, |i| {
            if i < 70 {
                flat(W, H, 0)
            } else {
                let mut f = moving(W, H, i);
                letterbox(&mut f, W, 20, 0);
                f
            }
        });
        assert_eq!(qc.bars.top, 20);
        let kinds: Vec<_> = findings.iter().map(|f| f.kind).collect();
        assert_eq!(kinds, [FindingKind::Black, FindingKind::Bars]);
        assert!(close(findings[1].start_seconds, 2.8));
    }

    #[test]
    fn a_frozen_eight_seconds_is_info() {
        // 6.0–14.0 s repeats one picture.
        let (qc, findings) = analyse(W, H, 500, |i| {
            moving(W, H, if (150..350).contains(&i) { 150 } else { i })
        });
        assert_eq!(findings.len(), 1, "{findings:?}");
        let f = &findings[0];
        assert_eq!((f.kind, f.severity), (FindingKind::Frozen, Severity::Info));
        assert!(
            close(f.start_seconds, 6.0) && close(f.end_seconds, 14.0),
            "{f:?}"
        );
        assert!(close(qc.frozen_seconds, 8.0));
    }

    #[test]
    fn a_static_picture_to_the_end_is_frozen_to_the_end() {
        let (qc, findings) = analyse(W, H, 250, |_| moving(W, H, 3));
        assert_eq!(findings.len(), 1);
        assert!(close(findings[0].start_seconds, 0.0) && close(findings[0].end_seconds, 10.0));
        assert!(close(qc.frozen_seconds, 10.0));
    }

    #[test]
    fn blank_white_frames_are_neither_black_nor_bars() {
        let (qc, findings) = analyse(W, H, 50, |i| flat(W, H, 240 + (i % 2) as u8 * 10));
        assert!(findings.is_empty(), "{findings:?}");
        assert_eq!(qc.black_seconds, 0.0);
        assert_eq!(qc.bars, Bars::default());
    }

    #[test]
    fn padded_rows_are_read_at_their_stride() {
        let stride = W + 64;
        let mut v = VideoAnalyzer::new(W as u32, H as u32, &QcConfig::default());
        for i in 0..50 {
            let mut f = moving(W, H, i);
            letterbox(&mut f, W, 20, 0);
            let mut padded = vec![255u8; stride * H];
            for (dst, src) in padded.chunks_exact_mut(stride).zip(f.chunks_exact(W)) {
                dst[..W].copy_from_slice(src);
            }
            // The last row may stop at the width.
            padded.truncate(stride * (H - 1) + W);
            v.push(i as f64 / FPS, &padded, stride);
        }
        assert_eq!(v.rejected_frames(), 0);
        let (qc, findings) = v.finish();
        assert_eq!(
            qc.bars,
            Bars {
                top: 20,
                bottom: 20,
                left: 0,
                right: 0
            }
        );
        assert_eq!(findings.len(), 1);
    }

    #[test]
    fn bad_frames_are_rejected_without_panicking() {
        let config = QcConfig::default();
        let mut v = VideoAnalyzer::new(0, 0, &config);
        v.push(0.0, &[], 0);
        v.push(0.04, &[1, 2, 3], 3);
        assert_eq!(v.rejected_frames(), 2);
        let (qc, findings) = v.finish();
        assert_eq!(qc.frames, 0);
        assert!(findings.is_empty());

        let mut v = VideoAnalyzer::new(W as u32, H as u32, &config);
        v.push(0.0, &flat(W, H - 1, 0), W); // too short
        v.push(0.0, &flat(W, H, 0), W - 1); // stride below width
        v.push(f64::NAN, &flat(W, H, 0), W); // no time
        v.push(0.0, &flat(W, H, 0), usize::MAX); // overflowing stride
        assert_eq!(v.rejected_frames(), 4);
        let (qc, findings) = v.finish();
        assert_eq!(qc.frames, 0);
        assert!(findings.is_empty());

        // One frame: a frame's duration is the 1/25 s fallback.
        let mut v = VideoAnalyzer::new(W as u32, H as u32, &config);
        v.push(0.0, &flat(W, H, 0), W);
        let (qc, findings) = v.finish();
        assert_eq!(qc.frames, 1);
        assert!(findings.is_empty());
    }

    #[test]
    fn median_of_histogram() {
        assert_eq!(median(&[]), 0);
        assert_eq!(median(&[0, 0, 3]), 2);
        assert_eq!(median(&[2, 0, 1]), 0);
        assert_eq!(median(&[1, 1, 1, 1]), 1);
    }
}
