//! The course segment-length report (REQUIREMENTS.md, "Course structure and
//! segment lengths": clauses 8.1–8.6, F-01 item 14, F-08): a course's video
//! lengths by module and lesson, with totals and each rule's verdict, as JSON
//! for machines ([`to_json`]), CSV for spreadsheets ([`to_csv`]) and a
//! self-contained HTML page for people ([`to_html`]).
//!
//! [`build`] takes every take of a course with its probe record, if any, and
//! the rule thresholds ([`CourseRules`], the regulation's values by default).
//!
//! # What is measured
//!
//! - **Durations** are the probe record's `duration_seconds`, whether the take
//!   is compliant or not. A take is *compliant* when its probe verdict is
//!   `pass`. A take without a probe record, or whose probe ended in an
//!   `error`, has no duration (and is reported with probe verdict
//!   `cannot-tell` when it has no record at all). Negative or non-finite
//!   durations count as absent.
//! - **The take that counts.** In each lesson it is the last take by take name
//!   among the compliant takes with a duration; if none is compliant, the last
//!   by take name among the takes with a duration, shown as not compliant.
//!   Take names are compared as text with runs of digits compared by value
//!   (`take-2` before `take-10`; `take-02` and `take-2` are equal and then
//!   ordered as plain text). The lesson's `video_seconds` is the counted take's
//!   duration, 0 when no take has one. The promo and the closing message are
//!   chosen the same way among the course's promo and closing takes; when
//!   none of them has a duration, the last by name is shown, without a
//!   duration. [`SegmentReport::counting`](moocpipe_proto::SegmentReport)
//!   says this in words.
//! - **Placing.** Modules and lessons come from the takes' `module` and
//!   `lesson` numbers; a module or lesson exists when it has at least one
//!   lecture take. Its name is the first `module_name` / `lesson_name` found
//!   in take order. Takes of other courses, and lecture takes without a module
//!   or lesson number, are ignored.
//! - **Totals.** A module's `video_seconds` is the sum of its lessons';
//!   `total_video_seconds` is the sum of all lessons plus the counted promo
//!   and closing message. Sums are rounded to the millisecond.
//! - **Judging.** Durations are judged and shown rounded to a tenth of a
//!   second, as `m:ss` (or `m:ss.s`), so a verdict never disagrees with the
//!   number printed next to it.
//!
//! # The rules
//!
//! The course's `rules` hold exactly seven entries, in `RuleId::COURSE` order:
//!
//! | rule | clause | passes when |
//! |---|---|---|
//! | `course.modules` | 8.1 | 4–6 modules with at least one lecture take |
//! | `module.lessons` | 8.3 | every module has 2–4 lessons |
//! | `lesson.video_min` | 8.4, 8.5, F-01 item 20 | every lesson's counted take is ≥ 15 min |
//! | `module.video_total` | 8.4 | every module has 30–60 min of counted video |
//! | `course.hours` | 8.6 | the course's counted video is ≤ 30 academic hours of 45 min |
//! | `promo.max` | F-01 item 14 | the promo is ≤ 3 min |
//! | `closing.message` | F-08 | the closing message is 1–2 min (recommended) |
//!
//! - `module.lessons` and `module.video_total` are also judged per module (in
//!   the module's `rules`, in that order) and `lesson.video_min` per lesson (in
//!   the lesson's `rules`). Their course-level entry fails when any module or
//!   lesson fails, else cannot be told when any cannot, else passes; its
//!   `measured` names every module or lesson that does not pass, and its
//!   `hint` gathers theirs. With no lecture takes at all they cannot be told.
//! - `lesson.video_min` cannot be told for a lesson without any duration.
//! - `module.video_total` and `course.hours` with some lesson (or the promo,
//!   or the closing message) lacking a duration: they fail when the known
//!   part alone is already too long, and cannot be told otherwise.
//! - `course.hours` counts video time only; other workload is not measured,
//!   and `measured` says so.
//! - `promo.max` cannot be told when there is no promo take ("no promo take")
//!   or it has no duration. `closing.message` cannot be told when there is no
//!   closing take ("no closing message (recommended)") or it has no duration,
//!   and fails outside 1–2 min.
//! - `required` and `measured` are plain words; every failure has a `hint`
//!   saying what to change. A counted take that is not compliant is named as
//!   such in `measured`, and shows as not compliant in every format.
//!
//! # Output
//!
//! Modules are sorted by number, lessons by number, takes by name (as above);
//! the same input always gives the same bytes. `schema_version` is
//! [`moocpipe_proto::SCHEMA_VERSION`].

mod duration;
mod html;
mod rules;
mod segments;
mod table;

pub use html::to_html;
pub use rules::CourseRules;
pub use segments::{build, COUNTING};
pub use table::to_csv;

use moocpipe_proto::SegmentReport;

/// The report as pretty-printed JSON with a trailing newline; it reads back
/// as the same [`SegmentReport`].
pub fn to_json(report: &SegmentReport) -> String {
    // A SegmentReport has only string keys and plain values, so serializing it
    // cannot fail (a non-finite number would be written as null, not fail).
    let mut json = serde_json::to_string_pretty(report).expect("a SegmentReport always serializes");
    json.push('\n');
    json
}

/// The report in every format it is published in, as (file extension,
/// text): JSON, CSV and offline HTML — `courses/<course>/reports/segments.<ext>`.
pub fn render_all(report: &SegmentReport) -> [(&'static str, String); 3] {
    [
        ("json", to_json(report)),
        ("csv", to_csv(report)),
        ("html", to_html(report)),
    ]
}
