//! Running the moocpipe binary the way a user does.

use moocpipe_proto::ProbeRecord;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The moocpipe binary: `$MOOCPIPE_BIN`, else the one cargo built beside
/// this test binary (the test script builds it first).
pub fn moocpipe_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("MOOCPIPE_BIN") {
        return PathBuf::from(bin);
    }
    let bin = crate::media::profile_dir().join("moocpipe");
    assert!(
        bin.exists(),
        "{} is missing: build it first (`cargo build -p moocpipe`) or set MOOCPIPE_BIN",
        bin.display()
    );
    bin
}

/// Runs `moocpipe <args>`.
pub fn moocpipe(args: &[&str]) -> Output {
    Command::new(moocpipe_bin())
        .args(args)
        .output()
        .expect("run moocpipe")
}

/// The outcome of `moocpipe check --json`.
pub struct CheckRun {
    pub exit_code: i32,
    pub records: Vec<ProbeRecord>,
    pub stderr: String,
}

/// Runs `moocpipe check --json` on `files` and parses every line as a record.
pub fn check_json(files: &[&Path]) -> CheckRun {
    let mut args = vec!["check".to_string(), "--json".to_string()];
    args.extend(files.iter().map(|f| f.to_string_lossy().to_string()));
    let out = Command::new(moocpipe_bin())
        .args(&args)
        .output()
        .expect("run moocpipe check");
    let stdout = String::from_utf8(out.stdout).expect("stdout is UTF-8");
    let records = stdout
        .lines()
        .map(|l| {
            serde_json::from_str::<ProbeRecord>(l)
                .unwrap_or_else(|e| panic!("not a probe record ({e}): {l}"))
        })
        .collect();
    CheckRun {
        exit_code: out.status.code().unwrap_or(-1),
        records,
        stderr: String::from_utf8_lossy(&out.stderr).to_string(),
    }
}

/// Checks one file and returns its record.
pub fn check_one(file: &Path) -> ProbeRecord {
    let mut run = check_json(&[file]);
    assert_eq!(
        run.records.len(),
        1,
        "one record per file; stderr: {}",
        run.stderr
    );
    run.records.remove(0)
}
