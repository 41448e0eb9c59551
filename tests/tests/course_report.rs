//! The course segment-length report, end to end: `moocpipe process` on a
//! generated course folder writes segments.{json,csv,html} whose verdicts
//! follow the takes' measured durations. The takes are tiny (64×36, a few
//! frames stretched over minutes or hours), so a course of many hours costs
//! seconds; they fail the raw spec, which the report marks but still counts.

use moocpipe_proto::{RuleId, SegmentReport, Verdict};
use moocpipe_tests::cli::moocpipe_bin;
use moocpipe_tests::media::{long_tiny_take, place_in};
use std::path::Path;
use std::process::Command;

fn build_course(root: &Path, takes: &[(&str, u32)]) {
    for (rel, seconds) in takes {
        place_in(&long_tiny_take(*seconds), root, rel);
    }
}

/// Runs process on the course folder and reads back the JSON report.
fn report_of(root: &Path, course: &str) -> (SegmentReport, std::path::PathBuf) {
    let data = root.join("data");
    let out = Command::new(moocpipe_bin())
        .args(["process", "--no-captions", "--data"])
        .arg(&data)
        .arg(root.join(course))
        .output()
        .expect("run process");
    // Every take fails the raw spec (tiny test pictures): exit code 1.
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reports = data.join("courses").join(course).join("reports");
    let json = std::fs::read_to_string(reports.join("segments.json")).expect("segments.json");
    (
        serde_json::from_str(&json).expect("a SegmentReport"),
        reports,
    )
}

fn verdict(report: &SegmentReport, id: RuleId) -> Verdict {
    report
        .rules
        .iter()
        .find(|r| r.id == id)
        .unwrap_or_else(|| panic!("no {id} in the report"))
        .verdict
}

#[test]
fn a_course_within_every_rule_passes_them_all() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut takes = vec![
        ("good/promo/trailer.mkv", 120),
        ("good/closing/goodbye.mkv", 90),
    ];
    let lessons = [
        "good/01-intro/01-a/take.mkv",
        "good/01-intro/02-b/take.mkv",
        "good/02-forces/01-a/take.mkv",
        "good/02-forces/02-b/take.mkv",
        "good/03-energy/01-a/take.mkv",
        "good/03-energy/02-b/take.mkv",
        "good/04-waves/01-a/take.mkv",
        "good/04-waves/02-b/take.mkv",
    ];
    takes.extend(lessons.iter().map(|l| (*l, 960)));
    build_course(dir.path(), &takes);
    let (report, reports) = report_of(dir.path(), "good");
    for id in RuleId::COURSE {
        assert_eq!(
            verdict(&report, id),
            Verdict::Pass,
            "{id}: {:?}",
            report.rules
        );
    }
    assert_eq!(report.modules.len(), 4);
    assert!((report.total_video_seconds - (8.0 * 960.0 + 120.0 + 90.0)).abs() < 0.5);
    // Durations count although the tiny takes fail the raw spec; the report says so.
    assert!(report.modules[0].lessons[0]
        .takes
        .iter()
        .all(|t| !t.compliant));
    let csv = std::fs::read_to_string(reports.join("segments.csv")).expect("csv");
    assert!(csv.lines().count() > 10, "{csv}");
    let html = std::fs::read_to_string(reports.join("segments.html")).expect("html");
    assert!(
        html.contains("lesson.video_min") && html.contains("forces"),
        "the page names rules and modules"
    );
}

#[test]
fn a_course_that_breaks_each_rule_gets_each_verdict() {
    let dir = tempfile::tempdir().expect("tempdir");
    build_course(
        dir.path(),
        &[
            ("bad/promo/trailer.mkv", 240),   // promo.max: 4 min > 3
            ("bad/closing/goodbye.mkv", 180), // closing.message: 3 min, not 1–2
            ("bad/01-m/01-l/take.mkv", 600),  // lesson.video_min: 10 min; module.lessons: 1
            ("bad/02-m/01-l/take-01.mkv", 960),
            ("bad/02-m/01-l/take-02.mkv", 1200), // the later take counts
            ("bad/02-m/02-l/take.mkv", 960),
            ("bad/03-m/01-l/take.mkv", 960),
            ("bad/03-m/02-l/take.mkv", 82_800), // 23 h: course.hours and module.video_total
        ],
    );
    let (report, _) = report_of(dir.path(), "bad");
    for id in RuleId::COURSE {
        assert_eq!(
            verdict(&report, id),
            Verdict::Fail,
            "{id}: {:?}",
            report.rules
        );
    }
    let m2 = &report.modules[1];
    let l1 = &m2.lessons[0];
    assert_eq!(l1.takes.len(), 2);
    let counted = l1
        .takes
        .iter()
        .find(|t| Some(&t.take_id) == l1.counted_take_id.as_ref());
    assert_eq!(counted.map(|t| t.take.as_str()), Some("take-02"));
    assert!((l1.video_seconds - 1200.0).abs() < 0.5);
    let m2_total = m2
        .rules
        .iter()
        .find(|r| r.id == RuleId::ModuleVideoTotal)
        .expect("module total");
    assert_eq!(m2_total.verdict, Verdict::Pass, "36 min is within 30–60");
    let m1_lessons = report.modules[0]
        .rules
        .iter()
        .find(|r| r.id == RuleId::ModuleLessons)
        .expect("lessons");
    assert_eq!(m1_lessons.verdict, Verdict::Fail);
}
