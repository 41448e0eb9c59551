//! The report as CSV for spreadsheets: one row per take, then a
//! `module-total` row per module and one `course-total` row.

use crate::duration::{mss, seconds};
use moocpipe_proto::{
    LessonSegments, ModuleSegments, RuleId, RuleResult, SegmentReport, SegmentTake, TakeKind,
};

/// The columns before the verdict columns.
const FIXED: [&str; 15] = [
    "course",
    "module",
    "module_name",
    "lesson",
    "lesson_name",
    "take",
    "take_id",
    "kind",
    "title",
    "duration_s",
    "duration",
    "compliant",
    "probe_verdict",
    "counted",
    "lessons",
];
/// Columns in all: the fixed ones and one verdict column per course rule.
const COLUMNS: usize = FIXED.len() + RuleId::COURSE.len();

/// One CSV row, its cells by column.
struct Row([String; COLUMNS]);

impl Row {
    fn new(course: &str, kind: &str) -> Self {
        let mut row = Row(std::array::from_fn(|_| String::new()));
        row.set("course", course);
        row.set("kind", kind);
        row
    }

    fn set(&mut self, column: &str, value: impl Into<String>) {
        if let Some(i) = FIXED.iter().position(|c| *c == column) {
            self.0[i] = value.into();
        }
    }

    /// Puts each rule's verdict in that rule's column.
    fn verdicts<'a>(&mut self, rules: impl IntoIterator<Item = &'a RuleResult>) {
        for rule in rules {
            if let Some(i) = RuleId::COURSE.iter().position(|id| *id == rule.id) {
                self.0[FIXED.len() + i] = rule.verdict.as_str().to_string();
            }
        }
    }

    fn module(&mut self, module: &ModuleSegments) {
        self.set("module", module.module.to_string());
        self.set("module_name", module.name.clone().unwrap_or_default());
    }

    fn lesson(&mut self, lesson: &LessonSegments) {
        self.set("lesson", lesson.lesson.to_string());
        self.set("lesson_name", lesson.name.clone().unwrap_or_default());
    }

    fn take(&mut self, take: &SegmentTake, counted: bool) {
        self.set("take", take.take.as_str());
        self.set("take_id", take.take_id.as_str());
        self.set("title", take.title.as_str());
        if let Some(d) = take.duration_seconds {
            self.set("duration_s", seconds(d));
            self.set("duration", mss(d));
        }
        self.set("compliant", yes_no(take.compliant));
        self.set("probe_verdict", take.probe_verdict.as_str());
        self.set("counted", yes_no(counted));
    }

    fn total(&mut self, seconds_total: f64, lessons: usize) {
        self.set("duration_s", seconds(seconds_total));
        self.set("duration", mss(seconds_total));
        self.set("lessons", lessons.to_string());
    }
}

fn yes_no(value: bool) -> &'static str {
    if value {
        "yes"
    } else {
        "no"
    }
}

fn kind_name(kind: TakeKind) -> &'static str {
    match kind {
        TakeKind::Lecture => "lecture",
        TakeKind::Promo => "promo",
        TakeKind::Closing => "closing",
    }
}

/// The rows of the report, in order: the promo, every module's takes and its
/// total, the closing message, the course total.
fn rows(report: &SegmentReport) -> Vec<Row> {
    let course = report.course.as_str();
    let course_rule = |id: RuleId| report.rules.iter().filter(move |r| r.id == id);
    let mut rows = Vec::new();
    if let Some(promo) = &report.promo {
        let mut row = Row::new(course, kind_name(promo.kind));
        row.take(promo, promo.duration_seconds.is_some());
        row.verdicts(course_rule(RuleId::PromoMax));
        rows.push(row);
    }
    for module in &report.modules {
        for lesson in &module.lessons {
            for take in &lesson.takes {
                let mut row = Row::new(course, kind_name(take.kind));
                row.module(module);
                row.lesson(lesson);
                let counted = lesson.counted_take_id.as_deref() == Some(take.take_id.as_str());
                row.take(take, counted);
                row.verdicts(&lesson.rules);
                rows.push(row);
            }
        }
        let mut row = Row::new(course, "module-total");
        row.module(module);
        row.set("title", format!("total of module {:02}", module.module));
        row.total(module.video_seconds, module.lessons.len());
        row.verdicts(&module.rules);
        rows.push(row);
    }
    if let Some(closing) = &report.closing {
        let mut row = Row::new(course, kind_name(closing.kind));
        row.take(closing, closing.duration_seconds.is_some());
        row.verdicts(course_rule(RuleId::ClosingMessage));
        rows.push(row);
    }
    let mut row = Row::new(course, "course-total");
    row.set("title", "total of the course");
    let lessons = report.modules.iter().map(|m| m.lessons.len()).sum();
    row.total(report.total_video_seconds, lessons);
    row.verdicts(&report.rules);
    rows.push(row);
    rows
}

/// The report as CSV: a header row, one row per take (the promo first, the
/// closing message last), a `module-total` row after each module's takes and
/// a `course-total` row at the end. Every row has every column; verdict
/// columns are named after the rule ids and hold the verdict that applies to
/// the row (a lesson's `lesson.video_min` on its takes, a module's
/// `module.lessons` and `module.video_total` on its total, every course rule
/// on the course total).
pub fn to_csv(report: &SegmentReport) -> String {
    let mut out = csv::Writer::from_writer(Vec::new());
    let header = FIXED
        .iter()
        .copied()
        .chain(RuleId::COURSE.iter().map(|id| id.as_str()));
    // Writing to memory cannot fail, and every row has the header's length.
    out.write_record(header)
        .expect("writing CSV to memory cannot fail");
    for row in rows(report) {
        out.write_record(&row.0)
            .expect("writing CSV to memory cannot fail");
    }
    let bytes = out
        .into_inner()
        .expect("flushing CSV to memory cannot fail");
    // Every cell came from a `String`, so nothing is lost here.
    String::from_utf8_lossy(&bytes).into_owned()
}
