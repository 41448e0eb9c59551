//! The segment report built from hand-made courses, and its three formats.

mod fixture;

use fixture::{broken_course, compliant_course, Course, Probe, MIN};
use moocpipe_proto::{
    RuleId, RuleResult, SegmentReport, TakeKind, TakeVerdict, Verdict, SCHEMA_VERSION,
};
use moocpipe_report::{to_csv, to_html, to_json, CourseRules, COUNTING};

fn rule(rules: &[RuleResult], id: RuleId) -> &RuleResult {
    rules
        .iter()
        .find(|r| r.id == id)
        .unwrap_or_else(|| panic!("no {id} in {rules:#?}"))
}

fn verdict(report: &SegmentReport, id: RuleId) -> Verdict {
    rule(&report.rules, id).verdict
}

fn module(report: &SegmentReport, n: u32) -> &moocpipe_proto::ModuleSegments {
    report
        .modules
        .iter()
        .find(|m| m.module == n)
        .unwrap_or_else(|| panic!("no module {n}"))
}

fn lesson(report: &SegmentReport, m: u32, l: u32) -> &moocpipe_proto::LessonSegments {
    module(report, m)
        .lessons
        .iter()
        .find(|x| x.lesson == l)
        .unwrap_or_else(|| panic!("no lesson {l} in module {m}"))
}

fn course_rule_ids(report: &SegmentReport) -> Vec<RuleId> {
    report.rules.iter().map(|r| r.id).collect()
}

/// Parses CSV into its header and records, as a spreadsheet would.
fn parse_csv(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader
        .headers()
        .expect("header")
        .iter()
        .map(String::from)
        .collect();
    let rows = reader
        .records()
        .map(|r| r.expect("record").iter().map(String::from).collect())
        .collect();
    (header, rows)
}

fn cell<'a>(header: &[String], row: &'a [String], column: &str) -> &'a str {
    let i = header
        .iter()
        .position(|h| h == column)
        .unwrap_or_else(|| panic!("no column {column}"));
    &row[i]
}

#[test]
fn a_compliant_course_passes_every_rule() {
    let report = compliant_course().build();

    assert_eq!(report.schema_version, SCHEMA_VERSION);
    assert_eq!(report.course, "physics-101");
    assert_eq!(course_rule_ids(&report), RuleId::COURSE.to_vec());
    for r in &report.rules {
        assert_eq!(r.verdict, Verdict::Pass, "{r:#?}");
        assert_eq!(r.clause, r.id.clause());
        assert!(r.hint.is_none());
    }
    assert_eq!(report.modules.len(), 5);
    for m in &report.modules {
        assert_eq!(m.lessons.len(), 3);
        assert_eq!(m.video_seconds, 60.0 * MIN);
        let ids: Vec<RuleId> = m.rules.iter().map(|r| r.id).collect();
        assert_eq!(ids, [RuleId::ModuleLessons, RuleId::ModuleVideoTotal]);
        assert!(m.rules.iter().all(|r| r.verdict == Verdict::Pass));
        for l in &m.lessons {
            assert_eq!(l.video_seconds, 20.0 * MIN);
            assert_eq!(l.rules.len(), 1);
            assert_eq!(l.rules[0].id, RuleId::LessonVideoMin);
            assert_eq!(l.rules[0].verdict, Verdict::Pass);
        }
    }
    assert_eq!(
        report.total_video_seconds,
        15.0 * 20.0 * MIN + 2.0 * MIN + 90.0
    );
    assert_eq!(
        report.promo.as_ref().map(|p| p.take.as_str()),
        Some("promo")
    );
    assert_eq!(
        report.closing.as_ref().and_then(|c| c.duration_seconds),
        Some(90.0)
    );
    assert_eq!(report.counting, COUNTING);

    let hours = rule(&report.rules, RuleId::CourseHours);
    assert!(
        hours.measured.starts_with("6.7 academic hours"),
        "{hours:#?}"
    );
    assert!(hours.measured.contains("only video time is counted"));
    assert_eq!(
        rule(&report.rules, RuleId::ModuleLessons).measured,
        "all 5 modules pass (2–4 lessons each)"
    );
}

#[test]
fn a_broken_course_breaks_every_rule() {
    let report = broken_course().build();

    assert_eq!(course_rule_ids(&report), RuleId::COURSE.to_vec());
    for id in RuleId::COURSE {
        let r = rule(&report.rules, id);
        assert_eq!(r.verdict, Verdict::Fail, "{r:#?}");
        let hint = r.hint.as_deref().unwrap_or_default();
        assert!(!hint.is_empty(), "{id} fails without a hint");
    }

    let modules = rule(&report.rules, RuleId::CourseModules);
    assert_eq!(modules.measured, "3 modules");
    assert_eq!(modules.hint.as_deref(), Some("add a module"));

    // module.lessons: module 01 has one lesson; the others pass.
    let m1 = module(&report, 1);
    assert_eq!(
        rule(&m1.rules, RuleId::ModuleLessons).verdict,
        Verdict::Fail
    );
    assert_eq!(rule(&m1.rules, RuleId::ModuleLessons).measured, "1 lesson");
    assert_eq!(
        rule(&module(&report, 2).rules, RuleId::ModuleLessons).verdict,
        Verdict::Pass
    );
    let lessons = rule(&report.rules, RuleId::ModuleLessons);
    assert!(
        lessons.measured.starts_with("module 01: 1 lesson"),
        "{lessons:#?}"
    );
    assert!(!lessons.measured.contains("module 02"));

    // lesson.video_min: lesson 02 of module 02 is 10 min.
    let short = &lesson(&report, 2, 2).rules[0];
    assert_eq!(short.verdict, Verdict::Fail);
    assert_eq!(short.measured, "10:00 (take-01)");
    assert!(short
        .hint
        .as_deref()
        .is_some_and(|h| h.contains("5:00 more for lesson 02 of module 02")));
    assert_eq!(lesson(&report, 2, 1).rules[0].verdict, Verdict::Pass);
    let video_min = rule(&report.rules, RuleId::LessonVideoMin);
    assert!(video_min.measured.contains("lesson 02 of module 02: 10:00"));
    assert!(
        video_min.measured.ends_with("— 4 of 5 lessons pass"),
        "{video_min:#?}"
    );

    // module.video_total: module 03 has 70 min, module 02 exactly 30.
    let m3 = rule(&module(&report, 3).rules, RuleId::ModuleVideoTotal);
    assert_eq!(m3.verdict, Verdict::Fail);
    assert_eq!(m3.measured, "70:00 in 2 lessons");
    assert!(m3
        .hint
        .as_deref()
        .is_some_and(|h| h.contains("10:00 over 60 min")));
    let m2 = rule(&module(&report, 2).rules, RuleId::ModuleVideoTotal);
    assert_eq!(m2.verdict, Verdict::Pass, "{m2:#?}");

    // course.hours: 1487 min of video is 33.0 academic hours.
    let hours = rule(&report.rules, RuleId::CourseHours);
    assert!(
        hours.measured.starts_with("33.0 academic hours"),
        "{hours:#?}"
    );
    assert_eq!(report.total_video_seconds, 1487.0 * MIN);

    assert_eq!(
        rule(&report.rules, RuleId::PromoMax).measured,
        "4:00 (promo)"
    );
    let closing = rule(&report.rules, RuleId::ClosingMessage);
    assert_eq!(closing.measured, "3:00 (closing)");
    assert!(closing
        .hint
        .as_deref()
        .is_some_and(|h| h.contains("shorten")));
}

#[test]
fn the_last_compliant_take_by_name_counts() {
    let report = Course::new("c")
        .take(1, 1, "take-01", Probe::Pass(16.0 * MIN))
        .take(1, 1, "take-04", Probe::Fail(25.0 * MIN))
        .take(1, 1, "take-03", Probe::Pass(17.0 * MIN))
        .take(1, 1, "take-05", Probe::Error)
        .take(1, 1, "take-02", Probe::CannotTell(18.0 * MIN))
        .build();
    let l = lesson(&report, 1, 1);

    let names: Vec<&str> = l.takes.iter().map(|t| t.take.as_str()).collect();
    assert_eq!(
        names,
        ["take-01", "take-02", "take-03", "take-04", "take-05"]
    );
    assert_eq!(l.counted_take_id.as_deref(), Some("c:01:01:take-03"));
    assert_eq!(l.video_seconds, 17.0 * MIN);
    assert_eq!(l.rules[0].measured, "17:00 (take-03)");
    let compliant: Vec<bool> = l.takes.iter().map(|t| t.compliant).collect();
    assert_eq!(compliant, [true, false, true, false, false]);
    assert_eq!(l.takes[4].probe_verdict, TakeVerdict::Error);
    assert_eq!(l.takes[4].duration_seconds, None);
    assert_eq!(module(&report, 1).video_seconds, 17.0 * MIN);
}

#[test]
fn without_a_compliant_take_the_last_with_a_duration_counts_and_shows_non_compliant() {
    let report = Course::new("c")
        .take(1, 1, "take-01", Probe::Fail(10.0 * MIN))
        .take(1, 1, "take-02", Probe::CannotTell(20.0 * MIN))
        .take(1, 1, "take-03", Probe::Missing)
        .lesson(1, 2, 20.0)
        .build();
    let l = lesson(&report, 1, 1);

    assert_eq!(l.counted_take_id.as_deref(), Some("c:01:01:take-02"));
    assert_eq!(l.video_seconds, 20.0 * MIN);
    let counted = &l.takes[1];
    assert!(!counted.compliant);
    assert_eq!(l.rules[0].verdict, Verdict::Pass);
    assert_eq!(
        l.rules[0].measured,
        "20:00 (take-02, not compliant with the raw-footage spec: probe cannot-tell)"
    );

    // JSON
    let json: serde_json::Value = serde_json::from_str(&to_json(&report)).expect("json");
    let take = &json["modules"][0]["lessons"][0]["takes"][1];
    assert_eq!(take["take"], "take-02");
    assert_eq!(take["compliant"], false);
    assert_eq!(
        json["modules"][0]["lessons"][0]["counted_take_id"],
        "c:01:01:take-02"
    );

    // CSV
    let (header, rows) = parse_csv(&to_csv(&report));
    let row = rows
        .iter()
        .find(|r| cell(&header, r, "take_id") == "c:01:01:take-02")
        .expect("row of take-02");
    assert_eq!(cell(&header, row, "counted"), "yes");
    assert_eq!(cell(&header, row, "compliant"), "no");
    assert_eq!(cell(&header, row, "probe_verdict"), "cannot-tell");

    // HTML
    let html = to_html(&report);
    assert!(
        html.contains("<tr class=\"counted noncompliant\"><td><code>take-02</code>"),
        "{html}"
    );
    assert!(html.contains("<td class=\"mark\">counted, not compliant</td>"));
    assert!(html.contains("not compliant (probe: cannot-tell)"));
}

#[test]
fn take_names_compare_digits_by_value() {
    let report = Course::new("c")
        .take(1, 1, "take-9", Probe::Pass(16.0 * MIN))
        .take(1, 1, "take-10", Probe::Pass(18.0 * MIN))
        .build();
    let l = lesson(&report, 1, 1);
    assert_eq!(l.takes[0].take, "take-9");
    assert_eq!(l.counted_take_id.as_deref(), Some("c:01:01:take-10"));
}

#[test]
fn a_take_without_a_probe_record_has_no_duration() {
    let report = Course::new("c")
        .lesson(1, 1, 20.0)
        .take(1, 2, "take-01", Probe::Missing)
        .promo(60.0)
        .closing(60.0)
        .build();
    let l = lesson(&report, 1, 2);

    let take = &l.takes[0];
    assert_eq!(take.duration_seconds, None);
    assert!(!take.compliant);
    assert_eq!(take.probe_verdict, TakeVerdict::CannotTell);
    assert_eq!(l.counted_take_id, None);
    assert_eq!(l.video_seconds, 0.0);
    assert_eq!(l.rules[0].verdict, Verdict::CannotTell);
    assert!(l.rules[0]
        .measured
        .starts_with("unknown: its take has no duration"));

    let total = rule(&module(&report, 1).rules, RuleId::ModuleVideoTotal);
    assert_eq!(total.verdict, Verdict::CannotTell, "{total:#?}");
    assert!(total.measured.contains("no duration for lesson 02"));
    assert_eq!(
        verdict(&report, RuleId::LessonVideoMin),
        Verdict::CannotTell
    );
    assert_eq!(
        verdict(&report, RuleId::ModuleVideoTotal),
        Verdict::CannotTell
    );
    let hours = rule(&report.rules, RuleId::CourseHours);
    assert_eq!(hours.verdict, Verdict::CannotTell);
    assert!(hours
        .measured
        .contains("no duration for lesson 02 of module 01"));
    assert_eq!(report.total_video_seconds, 22.0 * MIN);
}

#[test]
fn a_known_part_already_too_long_fails_despite_unknowns() {
    let report = Course::new("c")
        .lesson(1, 1, 40.0)
        .lesson(1, 2, 25.0)
        .take(1, 3, "take-01", Probe::Error)
        .build();
    let total = rule(&module(&report, 1).rules, RuleId::ModuleVideoTotal);
    assert_eq!(total.verdict, Verdict::Fail);
    assert!(
        total.measured.starts_with("at least 65:00 in 3 lessons"),
        "{total:#?}"
    );
    assert!(total.hint.is_some());
}

#[test]
fn a_missing_promo_or_closing_cannot_be_told() {
    let report = Course::new("c").grid(4, 2, 15.0).build();
    let promo = rule(&report.rules, RuleId::PromoMax);
    assert_eq!(promo.verdict, Verdict::CannotTell);
    assert_eq!(promo.measured, "no promo take");
    let closing = rule(&report.rules, RuleId::ClosingMessage);
    assert_eq!(closing.verdict, Verdict::CannotTell);
    assert_eq!(closing.measured, "no closing message (recommended)");
    assert!(report.promo.is_none() && report.closing.is_none());
    assert!(!to_json(&report).contains("\"promo\""));
}

#[test]
fn promo_and_closing_count_like_lessons() {
    let report = Course::new("c")
        .grid(4, 2, 15.0)
        .special(TakeKind::Promo, "promo-01", Probe::Pass(100.0))
        .special(TakeKind::Promo, "promo-02", Probe::Fail(150.0))
        .special(TakeKind::Closing, "closing-01", Probe::Pass(30.0))
        .build();
    let promo = report.promo.as_ref().expect("promo");
    assert_eq!(promo.take, "promo-01");
    assert_eq!(verdict(&report, RuleId::PromoMax), Verdict::Pass);
    let closing = rule(&report.rules, RuleId::ClosingMessage);
    assert_eq!(closing.verdict, Verdict::Fail);
    assert_eq!(closing.measured, "0:30 (closing-01)");
    assert!(closing
        .hint
        .as_deref()
        .is_some_and(|h| h.starts_with("lengthen")));
    assert_eq!(report.total_video_seconds, 8.0 * 15.0 * MIN + 130.0);

    // A promo without any duration is shown, and cannot be told.
    let report = Course::new("c")
        .grid(4, 2, 15.0)
        .special(TakeKind::Promo, "promo-01", Probe::Missing)
        .build();
    assert_eq!(
        report.promo.as_ref().map(|p| p.take.as_str()),
        Some("promo-01")
    );
    let promo = rule(&report.rules, RuleId::PromoMax);
    assert_eq!(promo.verdict, Verdict::CannotTell);
    assert!(promo.measured.contains("has no duration"));
    assert_eq!(verdict(&report, RuleId::CourseHours), Verdict::CannotTell);
}

#[test]
fn takes_of_other_courses_are_ignored() {
    let mut course = compliant_course();
    let other = Course::new("chemistry-101").grid(1, 1, 120.0);
    course.takes.extend(other.takes);
    assert_eq!(course.build(), compliant_course().build());
}

#[test]
fn a_course_without_lectures() {
    let report = Course::new("c").promo(60.0).build();
    assert_eq!(course_rule_ids(&report), RuleId::COURSE.to_vec());
    assert_eq!(verdict(&report, RuleId::CourseModules), Verdict::Fail);
    let lessons = rule(&report.rules, RuleId::ModuleLessons);
    assert_eq!(lessons.verdict, Verdict::CannotTell);
    assert_eq!(
        lessons.measured,
        "unknown: the course has no modules with lecture takes"
    );
    assert_eq!(
        verdict(&report, RuleId::LessonVideoMin),
        Verdict::CannotTell
    );
    assert_eq!(verdict(&report, RuleId::CourseHours), Verdict::Pass);
}

#[test]
fn the_output_does_not_depend_on_input_order() {
    let course = broken_course();
    let mut reversed = course.clone();
    reversed.takes.reverse();
    let (a, b) = (course.build(), reversed.build());
    assert_eq!(a, b);
    assert_eq!(to_json(&a), to_json(&b));
    assert_eq!(to_csv(&a), to_csv(&b));
    assert_eq!(to_html(&a), to_html(&b));
}

#[test]
fn custom_thresholds_are_honoured() {
    let rules = CourseRules {
        modules: (1, 1),
        lessons_per_module: (1, 1),
        lesson_video_min_s: 5.0 * MIN,
        module_video_s: (5.0 * MIN, 10.0 * MIN),
        course_max_academic_hours: 0.1,
        academic_hour_minutes: 60.0,
        promo_max_s: 30.0,
        closing_s: (10.0, 20.0),
    };
    let report = Course::new("c").lesson(1, 1, 7.0).build_with(&rules);
    assert_eq!(verdict(&report, RuleId::CourseModules), Verdict::Pass);
    assert_eq!(verdict(&report, RuleId::ModuleLessons), Verdict::Pass);
    assert_eq!(verdict(&report, RuleId::LessonVideoMin), Verdict::Pass);
    assert_eq!(verdict(&report, RuleId::ModuleVideoTotal), Verdict::Pass);
    let hours = rule(&report.rules, RuleId::CourseHours);
    assert_eq!(hours.verdict, Verdict::Fail);
    assert!(hours
        .measured
        .starts_with("0.1 academic hours (7:00 of video ÷ 60 min)"));
    assert!(hours.required.starts_with("≤ 0.1 academic hours of 60 min"));
    assert!(hours
        .hint
        .as_deref()
        .is_some_and(|h| h.contains("cut at least 1:00")));
    assert_eq!(
        rule(&report.rules, RuleId::LessonVideoMin).required,
        "≥ 5 min of video in every lesson"
    );
}

#[test]
fn html_escapes_every_text() {
    let nasty = r#"<b>"Ньютон" & co</b>"#;
    let mut course = Course::new("c<&>")
        .lesson(1, 1, 20.0)
        .titled(nasty)
        .lesson_named(nasty);
    if let Some((take, _)) = course.takes.last_mut() {
        take.module_name = Some(nasty.to_string());
        take.take = "take-'1'".to_string();
    }
    let html = to_html(&course.build());

    assert!(!html.contains(nasty), "{html}");
    assert!(!html.contains("<b>"));
    assert!(!html.contains("c<&>"));
    assert!(!html.contains("'1'"));
    let escaped = "&lt;b&gt;&quot;Ньютон&quot; &amp; co&lt;/b&gt;";
    assert_eq!(
        html.matches(escaped).count(),
        3,
        "title, lesson and module name"
    );
    assert!(html.contains("c&lt;&amp;&gt;"));
    assert!(html.contains("take-&#39;1&#39;"));
}

#[test]
fn html_is_one_self_contained_page() {
    let html = to_html(&broken_course().build());
    assert!(html.starts_with("<!DOCTYPE html>\n"));
    assert!(html.contains("<meta charset=\"utf-8\">"));
    assert!(html.contains("<style>"));
    for outside in [
        "<script", "<link", "src=", "href=", "http://", "https://", "@import", "url(",
    ] {
        assert!(!html.contains(outside), "{outside} in the page");
    }
    for id in RuleId::COURSE {
        assert!(html.contains(&format!("<code>{id}</code>")), "{id} missing");
    }
    assert!(html.contains("<span class=\"verdict fail\">fail</span>"));
    assert!(html.ends_with("</html>\n"));
}

#[test]
fn csv_parses_back() {
    let report = broken_course().build();
    let text = to_csv(&report);
    let (header, rows) = parse_csv(&text);

    assert_eq!(&header[..3], ["course", "module", "module_name"]);
    assert_eq!(
        &header[header.len() - 7..],
        RuleId::COURSE.map(|id| id.as_str())
    );
    // 7 lecture takes + promo + closing + 3 module totals + 1 course total.
    assert_eq!(rows.len(), 7 + 2 + 3 + 1);
    assert!(rows.iter().all(|r| r.len() == header.len()));
    let kinds: Vec<&str> = rows.iter().map(|r| cell(&header, r, "kind")).collect();
    assert_eq!(kinds[0], "promo");
    assert_eq!(kinds[kinds.len() - 2], "closing");
    assert_eq!(kinds[kinds.len() - 1], "course-total");
    assert_eq!(kinds.iter().filter(|k| **k == "module-total").count(), 3);

    let titled = rows
        .iter()
        .find(|r| cell(&header, r, "title") == r#"<b>"Ньютон" & co</b>"#)
        .expect("the title reads back unchanged");
    assert_eq!(cell(&header, titled, "lesson_name"), "Законы Ньютона");
    assert_eq!(cell(&header, titled, "duration"), "10:00");
    assert_eq!(cell(&header, titled, "duration_s"), "600.000");
    assert_eq!(cell(&header, titled, "lesson.video_min"), "fail");

    let m3 = rows
        .iter()
        .find(|r| cell(&header, r, "kind") == "module-total" && cell(&header, r, "module") == "3")
        .expect("total of module 3");
    assert_eq!(cell(&header, m3, "duration"), "70:00");
    assert_eq!(cell(&header, m3, "lessons"), "2");
    assert_eq!(cell(&header, m3, "module.video_total"), "fail");
    assert_eq!(cell(&header, m3, "module.lessons"), "pass");

    let total = &rows[rows.len() - 1];
    assert_eq!(cell(&header, total, "duration_s"), "89220.000");
    for id in RuleId::COURSE {
        assert_eq!(cell(&header, total, id.as_str()), "fail");
    }

    let counted: Vec<&str> = rows
        .iter()
        .filter(|r| cell(&header, r, "module") == "2" && cell(&header, r, "lesson") == "1")
        .map(|r| cell(&header, r, "counted"))
        .collect();
    assert_eq!(counted, ["no", "yes", "no"]);
}

#[test]
fn json_reads_back_as_the_same_report() {
    let report = broken_course().build();
    let json = to_json(&report);
    assert!(json.ends_with("}\n"));
    let back: SegmentReport = serde_json::from_str(&json).expect("a SegmentReport");
    assert_eq!(back, report);
}

#[test]
fn snapshot_json() {
    insta::assert_snapshot!(to_json(&broken_course().build()));
}

#[test]
fn snapshot_csv() {
    insta::assert_snapshot!(to_csv(&broken_course().build()));
}

#[test]
fn snapshot_html() {
    insta::assert_snapshot!(to_html(&broken_course().build()));
}
