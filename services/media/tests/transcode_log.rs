//! A transcode with every branch (10-bit source through `moocpipe420`, two
//! rungs each with an MP4 and HLS, AAC audio, the QC analysis tee and the
//! poster) logs no GLib or GStreamer CRITICAL or WARNING. Issue 11: the
//! poster's probe made GStreamer unref a NULL buffer once per dropped frame.
//!
//! So do the crate's other pipelines on the same take: the demux pass
//! (`measure`, from a file and through the ranged-read appsrc), the analysis
//! decode, the speech decode, and a transcode of the ranged-read source.
//!
//! The tests do not rely on `G_DEBUG=fatal-criticals`: a GLib log writer
//! records every message of level WARNING or above (and still prints it), and
//! each test asserts that none was logged while it ran.

use gstreamer as gst;
use gstreamer::glib;
use gstreamer::prelude::*;
use moocpipe_media::analyse::AnalysisSink;
use moocpipe_media::transcode::{transcode, PosterPlan, RungPlan, TranscodePlan};
use moocpipe_media::Source;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, Once};
use std::time::Duration;

/// Messages of level WARNING, CRITICAL or ERROR, as "domain level: message".
static LOGGED: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn logged() -> Vec<String> {
    LOGGED.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

/// One test at a time, its log to itself: the log is process-wide.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    let guard = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    watch_glib_log();
    LOGGED.lock().unwrap_or_else(|p| p.into_inner()).clear();
    moocpipe_media::init().expect("GStreamer");
    guard
}

/// Routes GLib's log (`g_log` included: its default handler hands every
/// message to the writer) through a writer that records the serious ones.
fn watch_glib_log() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        glib::log_set_writer_func(|level, fields| {
            if matches!(
                level,
                glib::LogLevel::Error | glib::LogLevel::Critical | glib::LogLevel::Warning
            ) {
                let field = |key: &str| {
                    fields
                        .iter()
                        .find(|f| f.key() == key)
                        .and_then(|f| f.value_str())
                        .unwrap_or("-")
                        .to_string()
                };
                LOGGED
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(format!(
                        "{} {level:?}: {}",
                        field("GLIB_DOMAIN"),
                        field("MESSAGE")
                    ));
            }
            glib::log_writer_default(level, fields)
        });
    });
}

/// Counts what the analysis tee delivers.
#[derive(Default)]
struct Counted {
    video_frames: u64,
    audio_samples: u64,
}

impl AnalysisSink for Counted {
    fn audio(&mut self, _channels: u32, _pts: f64, samples: &[f32]) {
        self.audio_samples += samples.len() as u64;
    }
    fn video(&mut self, _w: u32, _h: u32, _pts: f64, _luma: &[u8], _stride: usize) {
        self.video_frames += 1;
    }
}

/// Runs a pipeline description to its end.
fn run(description: &str) {
    let pipeline = gst::parse::launch(description).expect("parse the generator");
    pipeline
        .set_state(gst::State::Playing)
        .expect("start the generator");
    let bus = pipeline.bus().expect("a bus");
    let msg = bus
        .timed_pop_filtered(
            gst::ClockTime::from_seconds(120),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        )
        .expect("the generator finishes");
    pipeline.set_state(gst::State::Null).expect("stop");
    if let gst::MessageView::Error(err) = msg.view() {
        panic!("generator failed: {} ({:?})", err.error(), err.debug());
    }
}

/// 2 s of ProRes 422 HQ 960×540 24p (10-bit 4:2:2, so `moocpipe420` runs)
/// with 24-bit 48 kHz stereo PCM, in MOV: the studio's format, smaller.
fn prores_take(dir: &Path) -> PathBuf {
    let path = dir.join("take.mov");
    run(&format!(
        "qtmux name=mux ! filesink location={} \
         videotestsrc num-buffers=48 pattern=smpte ! \
         video/x-raw,width=960,height=540,framerate=24/1,format=I422_10LE ! \
         avenc_prores_ks profile=hq ! queue ! mux.video_0 \
         audiotestsrc num-buffers=50 samplesperbuffer=1920 ! \
         audio/x-raw,rate=48000,channels=2,format=S24LE ! queue ! mux.audio_0",
        path.display()
    ));
    path
}

fn plan(
    source: &Path,
    out: &Path,
    poster_at: Duration,
    sink: Arc<Mutex<Counted>>,
) -> TranscodePlan {
    let rung = |name: &str, width, height, bitrate_bps| {
        let hls_dir = out.join("hls").join(name);
        std::fs::create_dir_all(&hls_dir).expect("hls folder");
        RungPlan {
            name: name.to_string(),
            width,
            height,
            bitrate_bps,
            mp4: out.join(format!("{name}.mp4")),
            hls_dir: Some(hls_dir),
        }
    };
    TranscodePlan {
        source: Source::File(source.to_path_buf()),
        rungs: vec![
            rung("540p", 960, 540, 1_500_000),
            rung("270p", 480, 270, 400_000),
        ],
        audio: true,
        audio_bitrate_bps: 128_000,
        preset: "ultrafast".into(),
        key_int: 48,
        hls_segment_seconds: 1,
        title: "A take".into(),
        duration: Some(Duration::from_secs(2)),
        scratch_dir: out.to_path_buf(),
        analysis: Some((160, sink)),
        poster: Some(PosterPlan {
            path: out.join("poster.jpg"),
            at: poster_at,
            width: 480,
            height: 270,
        }),
    }
}

fn size_of(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

#[test]
fn a_full_transcode_logs_no_critical_or_warning() {
    let _serial = serial();
    let dir = tempfile::tempdir().expect("temp dir");
    let take = prores_take(dir.path());
    assert_eq!(logged(), Vec::<String>::new(), "making the take logged");

    // The poster at 1 s: its probe lets frame 24 through and drops the 47
    // others; the fault logged one critical per dropped frame.
    let out = dir.path().join("mid");
    std::fs::create_dir_all(&out).expect("out");
    let sink = Arc::new(Mutex::new(Counted::default()));
    let cancel = AtomicBool::new(false);
    let mut reports = 0;
    transcode(
        "take.mov",
        &plan(&take, &out, Duration::from_secs(1), sink.clone()),
        &cancel,
        &mut |_| reports += 1,
    )
    .expect("transcode");
    assert_eq!(logged(), Vec::<String>::new());
    assert!(reports > 0);
    for name in [
        "540p.mp4",
        "270p.mp4",
        "hls/540p/index.m3u8",
        "hls/270p/index.m3u8",
    ] {
        assert!(size_of(&out.join(name)) > 0, "{name} was written");
    }
    assert!(
        size_of(&out.join("poster.jpg")) > 0,
        "the poster was written"
    );
    let counted = sink.lock().expect("sink");
    assert_eq!(counted.video_frames, 48, "every frame reached the analysis");
    assert!(counted.audio_samples > 0, "audio reached the analysis");
    drop(counted);

    // The poster past the end: every frame is dropped, no poster written.
    let out = dir.path().join("late");
    std::fs::create_dir_all(&out).expect("out");
    let sink = Arc::new(Mutex::new(Counted::default()));
    transcode(
        "take.mov",
        &plan(&take, &out, Duration::from_secs(5), sink),
        &cancel,
        &mut |_| {},
    )
    .expect("transcode");
    assert_eq!(logged(), Vec::<String>::new());
    assert_eq!(size_of(&out.join("poster.jpg")), 0, "no frame at 5 s");
    assert!(size_of(&out.join("540p.mp4")) > 0);
}

/// Serves ranges of a local file, as the distributed runner's S3 reader does.
struct FileRanges(PathBuf);

impl moocpipe_media::RangeReader for FileRanges {
    fn read_at(&self, offset: u64, len: u64) -> std::io::Result<Vec<u8>> {
        use std::io::{Read, Seek, SeekFrom};
        let mut f = std::fs::File::open(&self.0)?;
        f.seek(SeekFrom::Start(offset))?;
        let mut bytes = Vec::new();
        f.take(len).read_to_end(&mut bytes)?;
        Ok(bytes)
    }
}

#[test]
fn measuring_analysing_listening_and_a_remote_transcode_log_nothing() {
    let _serial = serial();
    let dir = tempfile::tempdir().expect("temp dir");
    let take = prores_take(dir.path());
    let cancel = AtomicBool::new(false);

    let measured = moocpipe_media::measure(
        "take.mov",
        &take,
        &moocpipe_media::MeasureOptions::default(),
        &mut |_| {},
    )
    .expect("measure");
    assert_eq!((measured.video.len(), measured.audio.len()), (1, 1));
    assert_eq!(logged(), Vec::<String>::new(), "measure logged");

    let sink = Arc::new(Mutex::new(Counted::default()));
    let found = moocpipe_media::analyse::analyse(
        "take.mov",
        &take,
        160,
        sink.clone(),
        &cancel,
        &mut |_| {},
    )
    .expect("analyse");
    assert!(found.audio && found.video);
    assert_eq!(sink.lock().expect("sink").video_frames, 48);
    assert_eq!(logged(), Vec::<String>::new(), "analyse logged");

    let mut speech =
        moocpipe_media::speech::SpeechAudio::open("take.mov", &Source::File(take.clone()))
            .expect("open the speech decode");
    let mut samples = 0;
    while let Some(chunk) = speech.next(&cancel).expect("speech decode") {
        samples += chunk.len();
    }
    assert!(speech.has_audio() && samples > 0);
    drop(speech);
    assert_eq!(logged(), Vec::<String>::new(), "the speech decode logged");

    let size = std::fs::metadata(&take).expect("take").len();
    let remote = Source::Remote {
        name: "take.mov".into(),
        size,
        reader: Arc::new(FileRanges(take.clone())),
    };
    let measured = moocpipe_media::measure_source(
        "take.mov",
        &remote,
        &moocpipe_media::MeasureOptions::default(),
        &mut |_| {},
    )
    .expect("measure the remote take");
    assert_eq!((measured.video.len(), measured.audio.len()), (1, 1));
    let out = dir.path().join("remote");
    std::fs::create_dir_all(&out).expect("out");
    let mut plan = plan(
        &take,
        &out,
        Duration::from_secs(1),
        Arc::new(Mutex::new(Counted::default())),
    );
    plan.source = remote;
    transcode("take.mov", &plan, &cancel, &mut |_| {}).expect("remote transcode");
    assert!(size_of(&out.join("poster.jpg")) > 0);
    assert_eq!(logged(), Vec::<String>::new(), "the remote take logged");
}
