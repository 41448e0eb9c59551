//! The rendition ladder: which rungs, at what size and rate.
//!
//! [`TranscodeConfig`] is also the `[transcode]` section of moocpipe's
//! configuration file: it deserializes with serde, every field optional
//! (missing ones keep their default) and unknown keys refused, so a typo in
//! the file is an error rather than a silently ignored setting.

use serde::{Deserialize, Serialize};
use std::fmt;

/// x264's speed presets, fastest first (`x264 --help`): the only values
/// `x264enc speed-preset` accepts by name.
pub const X264_PRESETS: [&str; 10] = [
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
    "placebo",
];

/// One rung as configured.
///
/// A `[[transcode.ladder]]` table must name `name`, `height` and
/// `bitrate_bps`: unlike the other settings they have no sensible default,
/// and a rung of height 0 from a forgotten key would only fail at encode
/// time. `platform` defaults to `false`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RungConfig {
    pub name: String,
    /// Height of the 16:9 box the picture is fitted into.
    pub height: u32,
    pub bitrate_bps: u64,
    /// The rendition uploaded to the platform (clause 9.1.4).
    #[serde(default)]
    pub platform: bool,
}

/// Transcode settings; `Default` is the platform's ladder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TranscodeConfig {
    pub ladder: Vec<RungConfig>,
    /// x264 speed preset.
    pub preset: String,
    pub audio_bitrate_bps: u64,
    /// Whether to package the ladder as HLS too.
    pub hls: bool,
    pub hls_segment_seconds: u32,
    /// Where in the take the poster frame is taken, as a fraction of its duration.
    pub poster_at: f64,
    /// Clause 9.1.4: the platform rendition's video, measured on the finished file.
    pub min_platform_bitrate_bps: u64,
}

impl Default for TranscodeConfig {
    fn default() -> Self {
        TranscodeConfig {
            ladder: vec![
                // 8.5 Mbit/s constant bitrate keeps the measured rate above the
                // regulation's 8 Mbit/s with a margin for container rounding.
                RungConfig {
                    name: "1080p".into(),
                    height: 1080,
                    bitrate_bps: 8_500_000,
                    platform: true,
                },
                RungConfig {
                    name: "720p".into(),
                    height: 720,
                    bitrate_bps: 5_000_000,
                    platform: false,
                },
                RungConfig {
                    name: "480p".into(),
                    height: 480,
                    bitrate_bps: 2_500_000,
                    platform: false,
                },
            ],
            preset: "veryfast".into(),
            audio_bitrate_bps: 192_000,
            hls: true,
            hls_segment_seconds: 6,
            poster_at: 0.1,
            min_platform_bitrate_bps: 8_000_000,
        }
    }
}

/// A setting whose value cannot work, named by its key within the
/// `[transcode]` section (e.g. `ladder[1].bitrate_bps`), so the
/// configuration file's reader can say which line to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct InvalidSetting {
    pub key: String,
    pub message: String,
}

impl InvalidSetting {
    fn new(key: impl Into<String>, message: impl fmt::Display) -> Self {
        InvalidSetting {
            key: key.into(),
            message: message.to_string(),
        }
    }
}

impl TranscodeConfig {
    /// Checks that the settings can make a verified transcode, so a bad
    /// configuration is refused before any encoding rather than failing on
    /// every take: a preset x264 knows, exactly one platform rung (clause
    /// 9.1.4 verifies one) whose bitrate reaches the platform minimum,
    /// unique rung names, and no zero sizes, rates or segment lengths.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        if !X264_PRESETS.contains(&self.preset.as_str()) {
            return Err(InvalidSetting::new(
                "preset",
                format!(
                    "unknown x264 preset {:?}; one of {}",
                    self.preset,
                    X264_PRESETS.join(", ")
                ),
            ));
        }
        if self.ladder.is_empty() {
            return Err(InvalidSetting::new("ladder", "the ladder has no rungs"));
        }
        for (i, rung) in self.ladder.iter().enumerate() {
            let key = |field: &str| format!("ladder[{i}].{field}");
            if rung.name.trim().is_empty() {
                return Err(InvalidSetting::new(key("name"), "a rung needs a name"));
            }
            if self.ladder[..i].iter().any(|r| r.name == rung.name) {
                return Err(InvalidSetting::new(
                    key("name"),
                    format!("two rungs are named {:?}", rung.name),
                ));
            }
            if rung.height < 2 {
                return Err(InvalidSetting::new(
                    key("height"),
                    format!("{} is not a picture height (at least 2)", rung.height),
                ));
            }
            if rung.bitrate_bps == 0 {
                return Err(InvalidSetting::new(key("bitrate_bps"), "must be above 0"));
            }
        }
        let platform: Vec<&RungConfig> = self.ladder.iter().filter(|r| r.platform).collect();
        match platform.as_slice() {
            [rung] if rung.bitrate_bps < self.min_platform_bitrate_bps => {
                return Err(InvalidSetting::new(
                    "min_platform_bitrate_bps",
                    format!(
                        "the platform rung {:?} is encoded at {} bit/s, below this minimum of {} bit/s, so every transcode would fail verification",
                        rung.name, rung.bitrate_bps, self.min_platform_bitrate_bps
                    ),
                ))
            }
            [_] => {}
            _ => {
                return Err(InvalidSetting::new(
                    "ladder",
                    format!(
                        "exactly one rung must have platform = true; {} do",
                        platform.len()
                    ),
                ))
            }
        }
        if self.audio_bitrate_bps == 0 {
            return Err(InvalidSetting::new("audio_bitrate_bps", "must be above 0"));
        }
        if self.hls_segment_seconds == 0 {
            return Err(InvalidSetting::new(
                "hls_segment_seconds",
                "must be at least 1",
            ));
        }
        if !(0.0..1.0).contains(&self.poster_at) {
            return Err(InvalidSetting::new(
                "poster_at",
                format!("{} is not a fraction of the take in [0, 1)", self.poster_at),
            ));
        }
        Ok(())
    }

    /// Keeps only the named rungs (e.g. `["1080p"]`); an unknown name is an error.
    pub fn only_rungs(mut self, names: &[String]) -> Result<Self, String> {
        for n in names {
            if !self.ladder.iter().any(|r| &r.name == n) {
                let known: Vec<&str> = self.ladder.iter().map(|r| r.name.as_str()).collect();
                return Err(format!(
                    "unknown rung {n:?}; the ladder has {}",
                    known.join(", ")
                ));
            }
        }
        self.ladder.retain(|r| names.contains(&r.name));
        Ok(self)
    }
}

/// A rung with its output size decided.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedRung {
    pub name: String,
    pub width: u32,
    pub height: u32,
    pub bitrate_bps: u64,
    pub platform: bool,
}

fn even(x: f64) -> u32 {
    ((x / 2.0).round() as u32).max(1) * 2
}

/// Sizes every rung for a `width`×`height` source: the picture is fitted into
/// the rung's 16:9 box, aspect kept (a UHD source becomes 1920×1080). Lower
/// rungs never upscale, and rungs that would come out the same are dropped;
/// the platform rung always fills its box, so a smaller source processed
/// with `--allow-noncompliant` is scaled up to it.
pub fn plan(config: &TranscodeConfig, width: u32, height: u32) -> Result<Vec<PlannedRung>, String> {
    if width == 0 || height == 0 {
        return Err("the source has no frame size".into());
    }
    let mut out: Vec<PlannedRung> = Vec::new();
    for rung in &config.ladder {
        let box_w = f64::from(rung.height) * 16.0 / 9.0;
        let box_h = f64::from(rung.height);
        let mut scale = (box_w / f64::from(width)).min(box_h / f64::from(height));
        if !rung.platform {
            scale = scale.min(1.0);
        }
        let (w, h) = (
            even(f64::from(width) * scale),
            even(f64::from(height) * scale),
        );
        if out.iter().any(|r| r.height == h) {
            continue;
        }
        out.push(PlannedRung {
            name: rung.name.clone(),
            width: w,
            height: h,
            bitrate_bps: rung.bitrate_bps,
            platform: rung.platform,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizes(w: u32, h: u32) -> Vec<(u32, u32)> {
        plan(&TranscodeConfig::default(), w, h)
            .expect("plan")
            .iter()
            .map(|r| (r.width, r.height))
            .collect()
    }

    #[test]
    fn the_default_ladder_is_valid() {
        assert_eq!(TranscodeConfig::default().validate(), Ok(()));
    }

    #[test]
    fn invalid_settings_name_their_key() {
        let key = |change: &dyn Fn(&mut TranscodeConfig)| {
            let mut config = TranscodeConfig::default();
            change(&mut config);
            config.validate().expect_err("invalid").key
        };
        assert_eq!(key(&|c| c.preset = "quick".into()), "preset");
        assert_eq!(key(&|c| c.ladder.clear()), "ladder");
        assert_eq!(key(&|c| c.ladder[1].platform = true), "ladder");
        assert_eq!(key(&|c| c.ladder[0].platform = false), "ladder");
        assert_eq!(
            key(&|c| c.ladder[2].bitrate_bps = 0),
            "ladder[2].bitrate_bps"
        );
        assert_eq!(key(&|c| c.ladder[1].height = 0), "ladder[1].height");
        assert_eq!(key(&|c| c.ladder[2].name = "720p".into()), "ladder[2].name");
        assert_eq!(
            key(&|c| c.ladder[0].bitrate_bps = 7_000_000),
            "min_platform_bitrate_bps"
        );
        assert_eq!(key(&|c| c.audio_bitrate_bps = 0), "audio_bitrate_bps");
        assert_eq!(key(&|c| c.hls_segment_seconds = 0), "hls_segment_seconds");
        assert_eq!(key(&|c| c.poster_at = 1.0), "poster_at");
        assert_eq!(key(&|c| c.poster_at = f64::NAN), "poster_at");
    }

    #[test]
    fn full_hd_source_makes_the_whole_ladder() {
        assert_eq!(
            sizes(1920, 1080),
            vec![(1920, 1080), (1280, 720), (854, 480)]
        );
    }

    #[test]
    fn uhd_is_scaled_down_to_1080p() {
        assert_eq!(sizes(3840, 2160)[0], (1920, 1080));
    }

    #[test]
    fn aspect_is_kept_inside_the_box() {
        assert_eq!(sizes(1440, 1080)[0], (1440, 1080));
        assert_eq!(sizes(2048, 858)[0], (1920, 804));
    }

    #[test]
    fn lower_rungs_never_upscale_but_the_platform_rung_fills_its_box() {
        assert_eq!(
            sizes(1280, 720),
            vec![(1920, 1080), (1280, 720), (854, 480)]
        );
        assert_eq!(sizes(640, 360), vec![(1920, 1080), (640, 360)]);
    }
}
