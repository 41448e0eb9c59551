//! Test signals: sines, silence, clipped tones and luma frames of known
//! content, generated so that every expected value is known in advance.

/// Sample rate of the test audio.
pub const RATE: u32 = 48_000;
/// Frame rate of the test video.
pub const FPS: f64 = 25.0;

/// Interleaved `channels`-channel sine of `freq` Hz and peak `amplitude`
/// (linear, of full scale), identical in every channel, starting at phase 0
/// of sample `offset` (so consecutive pieces join without a phase jump).
pub fn sine(channels: usize, freq: f64, amplitude: f64, seconds: f64, offset: usize) -> Vec<f32> {
    let frames = (seconds * f64::from(RATE)).round() as usize;
    let mut out = Vec::with_capacity(frames * channels);
    for n in offset..offset + frames {
        let x = amplitude * (2.0 * std::f64::consts::PI * freq * n as f64 / f64::from(RATE)).sin();
        out.extend(std::iter::repeat_n(x as f32, channels));
    }
    out
}

/// Interleaved digital silence.
pub fn silence(channels: usize, seconds: f64) -> Vec<f32> {
    vec![0.0; (seconds * f64::from(RATE)).round() as usize * channels]
}

/// A 997 Hz sine driven to 3× full scale and clipped at ±1.0: flat tops of
/// about 70 consecutive full-scale samples, nearly a square wave.
pub fn clipped(channels: usize, seconds: f64, offset: usize) -> Vec<f32> {
    sine(channels, 997.0, 3.0, seconds, offset)
        .into_iter()
        .map(|x| x.clamp(-1.0, 1.0))
        .collect()
}

/// A `w`×`h` frame of constant luma.
pub fn flat(w: usize, h: usize, luma: u8) -> Vec<u8> {
    vec![luma; w * h]
}

/// A `w`×`h` frame of a diagonal ramp that moves with `frame` (mean luma
/// near the middle of the range, never black, different every frame).
pub fn moving(w: usize, h: usize, frame: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(w * h);
    for y in 0..h {
        for x in 0..w {
            out.push((40 + (x + y + 7 * frame) % 160) as u8);
        }
    }
    out
}

/// Paints `size` rows at the top and bottom of a `w`-wide frame `luma`.
pub fn letterbox(frame: &mut [u8], w: usize, size: usize, luma: u8) {
    let h = frame.len() / w;
    for y in (0..size).chain(h - size..h) {
        frame[y * w..(y + 1) * w].fill(luma);
    }
}

/// Paints `size` columns at the left and right of a `w`-wide frame `luma`.
pub fn pillarbox(frame: &mut [u8], w: usize, size: usize, luma: u8) {
    for row in frame.chunks_exact_mut(w) {
        row[..size].fill(luma);
        row[w - size..].fill(luma);
    }
}
