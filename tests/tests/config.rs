//! The configuration file end to end: which file is read, and the layers
//! built-in defaults < file < environment < flags, seen through
//! `moocpipe config show` (which prints what `process` would run with) and
//! through `process` itself on an empty course folder, so no transcoding
//! is needed. Every run has a clean environment and its own config home, so
//! a developer's own `~/.config/moocpipe/moocpipe.toml` cannot interfere.

use moocpipe_proto::{FindingKind, QcRecord};
use moocpipe_tests::cli::moocpipe_bin;
use moocpipe_tests::media;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use tempfile::TempDir;

/// The repository's example file, which must equal the built-in defaults.
fn example_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../moocpipe.example.toml")
}

/// A working folder with an empty config home (`xdg/`).
struct Sandbox {
    dir: TempDir,
}

impl Sandbox {
    fn new() -> Sandbox {
        Sandbox {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `text` to `name` in the sandbox and returns its path.
    fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&path, text).expect("write config");
        path
    }

    /// `moocpipe <args>` in the sandbox, without the user's moocpipe
    /// variables, with `envs` set.
    fn run(&self, args: &[&str], envs: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new(moocpipe_bin());
        cmd.args(args)
            .current_dir(self.path())
            .env("XDG_CONFIG_HOME", self.path().join("xdg"))
            .env_remove("MOOCPIPE_CONFIG")
            .env_remove("MOOCPIPE_PRESET")
            .env_remove("MOOCPIPE_DATA");
        for (k, v) in envs {
            cmd.env(k, v);
        }
        cmd.output().expect("run moocpipe")
    }

    /// `moocpipe <args>`, which must succeed; its stdout.
    fn ok(&self, args: &[&str], envs: &[(&str, &str)]) -> String {
        let out = self.run(args, envs);
        assert_eq!(
            out.status.code(),
            Some(0),
            "moocpipe {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("UTF-8")
    }

    /// `moocpipe <args>`, which must exit 2; its stderr.
    fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args, &[]);
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(out.status.code(), Some(2), "moocpipe {args:?}: {stderr}");
        stderr
    }
}

/// The value of `key = …` in the first section `[section]` of a shown config.
fn shown(text: &str, section: &str, key: &str) -> String {
    let header = format!("[{section}]");
    let body = text
        .split_once(&format!("\n{header}\n"))
        .unwrap_or_else(|| panic!("no {header} in:\n{text}"))
        .1;
    body.lines()
        .take_while(|l| !l.starts_with('['))
        .find_map(|l| l.strip_prefix(&format!("{key} = ")))
        .unwrap_or_else(|| panic!("no {key} in {header} of:\n{text}"))
        .to_string()
}

/// The rung names of a shown config, in order.
fn rungs(text: &str) -> Vec<String> {
    text.split("[[transcode.ladder]]")
        .skip(1)
        .map(|rung| {
            rung.lines()
                .find_map(|l| l.strip_prefix("name = "))
                .expect("rung name")
                .trim_matches('"')
                .to_string()
        })
        .collect()
}

/// The shown configuration without its comment lines (which name the file).
fn without_comments(text: &str) -> String {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n")
}

const STUDIO: &str = r#"
[store]
data_dir = "studio-store"

[transcode]
preset = "medium"

[[transcode.ladder]]
name = "1080p"
height = 1080
bitrate_bps = 9000000
platform = true

[[transcode.ladder]]
name = "540p"
height = 540
bitrate_bps = 3000000
"#;

#[test]
fn a_file_changing_the_preset_and_the_ladder_is_honoured() {
    let sb = Sandbox::new();
    let file = sb.file("studio.toml", STUDIO);
    let out = sb.ok(
        &["--config", &file.to_string_lossy(), "config", "show"],
        &[],
    );
    assert!(
        out.starts_with(&format!("# configuration file: {}\n", file.display())),
        "{out}"
    );
    assert_eq!(shown(&out, "transcode", "preset"), "\"medium\"");
    assert_eq!(rungs(&out), ["1080p", "540p"]);
    assert!(
        out.contains("name = \"1080p\"\nheight = 1080\nbitrate_bps = 9000000\nplatform = true\n"),
        "{out}"
    );
    // What the file does not name keeps its default.
    assert_eq!(shown(&out, "transcode", "hls_segment_seconds"), "6");
    assert_eq!(shown(&out, "qc", "target_lufs"), "-16.0");
}

#[test]
fn the_default_location_and_moocpipe_config_are_read() {
    let sb = Sandbox::new();
    // Nothing there: defaults, and `config path` says where the file would go.
    let xdg_file = sb.path().join("xdg/moocpipe/moocpipe.toml");
    assert_eq!(
        sb.ok(&["config", "path"], &[]).trim(),
        xdg_file.display().to_string()
    );
    let out = sb.ok(&["config", "show"], &[]);
    assert!(out.starts_with("# configuration file: none"), "{out}");

    sb.file(
        "xdg/moocpipe/moocpipe.toml",
        "[transcode]\npreset = \"slow\"\n",
    );
    assert_eq!(
        sb.ok(&["config", "path"], &[]).trim(),
        xdg_file.display().to_string()
    );
    let out = sb.ok(&["config", "show"], &[]);
    assert_eq!(shown(&out, "transcode", "preset"), "\"slow\"");

    // $MOOCPIPE_CONFIG names another file, which wins over the default location.
    let file = sb.file("studio.toml", STUDIO);
    let env = [("MOOCPIPE_CONFIG", file.to_str().expect("UTF-8 path"))];
    assert_eq!(
        sb.ok(&["config", "path"], &env).trim(),
        file.display().to_string()
    );
    let out = sb.ok(&["config", "show"], &env);
    assert_eq!(shown(&out, "transcode", "preset"), "\"medium\"");
}

#[test]
fn a_flag_beats_the_file() {
    let sb = Sandbox::new();
    let file = sb.file("studio.toml", STUDIO);
    let config = file.to_string_lossy().to_string();
    let out = sb.ok(
        &[
            "config",
            "show",
            "--config",
            &config,
            "--preset",
            "fast",
            "--timeout",
            "30",
            "--rungs",
            "540p",
            "--no-hls",
        ],
        &[],
    );
    assert_eq!(shown(&out, "transcode", "preset"), "\"fast\"");
    assert_eq!(shown(&out, "transcode", "hls"), "false");
    assert_eq!(shown(&out, "probe", "timeout_seconds"), "30");
    assert_eq!(rungs(&out), ["540p"]);

    // `process` itself uses the file's store, and `--data` over it.
    let course = sb.path().join("empty-course");
    std::fs::create_dir_all(&course).expect("mkdir");
    let course = course.to_string_lossy().to_string();
    let summary = |args: &[&str]| -> serde_json::Value {
        let out = sb.ok(args, &[]);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("summary JSON ({e}): {out}"))
    };
    let s = summary(&["process", "--config", &config, "--json", &course]);
    assert_eq!(s["store"], "studio-store");
    let s = summary(&[
        "process",
        "--config",
        &config,
        "--json",
        "--data",
        "flag-store",
        &course,
    ]);
    assert_eq!(s["store"], "flag-store");
}

#[test]
fn the_environment_beats_the_file_and_a_flag_beats_the_environment() {
    let sb = Sandbox::new();
    let file = sb.file("studio.toml", STUDIO);
    let config = file.to_string_lossy().to_string();
    let env = [
        ("MOOCPIPE_PRESET", "slower"),
        ("MOOCPIPE_DATA", "env-store"),
    ];
    let out = sb.ok(&["--config", &config, "config", "show"], &env);
    assert_eq!(shown(&out, "transcode", "preset"), "\"slower\"");
    assert_eq!(shown(&out, "store", "data_dir"), "\"env-store\"");
    let out = sb.ok(
        &[
            "--config", &config, "config", "show", "--preset", "faster", "--data", "x",
        ],
        &env,
    );
    assert_eq!(shown(&out, "transcode", "preset"), "\"faster\"");
    assert_eq!(shown(&out, "store", "data_dir"), "\"x\"");
}

#[test]
fn an_unknown_key_is_an_error_naming_the_file_the_line_and_the_key() {
    let sb = Sandbox::new();
    let file = sb.file(
        "typo.toml",
        "[transcode]\npreset = \"medium\"\nprest = \"slow\"\n",
    );
    let config = file.to_string_lossy().to_string();
    let stderr = sb.fails(&["--config", &config, "config", "show"]);
    assert!(stderr.contains(&config), "{stderr}");
    assert!(stderr.contains("line 3"), "{stderr}");
    assert!(stderr.contains("unknown field `prest`"), "{stderr}");

    // …before any work: `process` creates no store.
    let course = sb.path().join("course");
    std::fs::create_dir_all(&course).expect("mkdir");
    let stderr = sb.fails(&[
        "process",
        "--config",
        &config,
        "--data",
        "store",
        &course.to_string_lossy(),
    ]);
    assert!(stderr.contains("prest"), "{stderr}");
    assert!(!sb.path().join("store").exists(), "no store was made");
}

#[test]
fn a_bad_value_is_an_error_naming_the_file_and_the_key() {
    let sb = Sandbox::new();
    for (text, key) in [
        ("[transcode]\npreset = \"quick\"\n", "transcode.preset"),
        (
            "[qc]\nloudness_tolerance_lu = -3.0\n",
            "qc.loudness_tolerance_lu",
        ),
        ("[caption]\nbeam_size = 0\n", "caption.beam_size"),
        (
            "[[transcode.ladder]]\nname = \"720p\"\nheight = 720\nbitrate_bps = 9000000\n",
            "transcode.ladder",
        ),
    ] {
        let file = sb.file("bad.toml", text);
        let config = file.to_string_lossy().to_string();
        let stderr = sb.fails(&["--config", &config, "config", "show"]);
        assert!(stderr.contains(&config), "{stderr}");
        assert!(stderr.contains(&format!("`{key}`")), "{key}: {stderr}");
    }
    // A value of the wrong type is toml's error, with its line.
    let file = sb.file("bad.toml", "[probe]\ntimeout_seconds = \"ten\"\n");
    let stderr = sb.fails(&["--config", &file.to_string_lossy(), "qc", "x.mkv"]);
    assert!(
        stderr.contains("line 2") && stderr.contains("timeout_seconds"),
        "{stderr}"
    );
    // A named file that is not there.
    let stderr = sb.fails(&["--config", "missing.toml", "config", "show"]);
    assert!(
        stderr.contains("missing.toml: configuration file not found"),
        "{stderr}"
    );
}

#[test]
fn the_example_file_is_the_built_in_defaults() {
    let sb = Sandbox::new();
    let example = example_file();
    let from_example = sb.ok(
        &["--config", &example.to_string_lossy(), "config", "show"],
        &[],
    );
    let defaults = sb.ok(&["config", "show"], &[]);
    assert_eq!(without_comments(&from_example), without_comments(&defaults));
}

#[test]
fn qc_uses_the_qc_section() {
    // A sine at -20 LUFS is 4 LU under the default -16 LUFS target (a
    // loudness finding); with the target at -20 it is on target.
    let take = media::qc_sine_minus_20();
    let sb = Sandbox::new();
    let loudness = |args: &[&str]| {
        let out = sb.ok(args, &[]);
        let record: QcRecord = serde_json::from_str(&out).expect("a QC record");
        record
            .findings
            .iter()
            .filter(|f| f.kind == FindingKind::Loudness)
            .count()
    };
    let take = take.to_string_lossy().to_string();
    assert_eq!(loudness(&["qc", "--json", &take]), 1);
    let file = sb.file("broadcast.toml", "[qc]\ntarget_lufs = -20.0\n");
    assert_eq!(
        loudness(&["qc", "--json", "--config", &file.to_string_lossy(), &take]),
        0
    );
}
