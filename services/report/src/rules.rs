//! The course rules (REQUIREMENTS.md, clauses 8.1–8.6, F-01 item 14, F-08):
//! their thresholds, and one function per rule turning segment lengths into a
//! verdict with the requirement, the measured value and, on failure, what to
//! change.

use crate::duration::{judged, minutes, minutes_range, mss};
use moocpipe_proto::{RuleId, RuleResult, SegmentTake, Verdict};

/// Thresholds of the course rules, with the regulation's values as
/// [`Default`]. Ranges are `(min, max)`, both inclusive.
#[derive(Debug, Clone, PartialEq)]
pub struct CourseRules {
    /// Modules (weeks) in a course (8.1): 4 to 6.
    pub modules: (u32, u32),
    /// Lessons in a module (8.3): 2 to 4.
    pub lessons_per_module: (u32, u32),
    /// Minimum video of a lesson, seconds (8.4, 8.5, F-01 item 20): 15 min.
    pub lesson_video_min_s: f64,
    /// Video of a module, seconds (8.4): 30 to 60 min.
    pub module_video_s: (f64, f64),
    /// Maximum size of a course in academic hours (8.6): 30.
    pub course_max_academic_hours: f64,
    /// Length of an academic hour in minutes: 45.
    pub academic_hour_minutes: f64,
    /// Maximum length of the promo / trailer, seconds (F-01 item 14): 3 min.
    pub promo_max_s: f64,
    /// Recommended length of the closing video message, seconds (F-08): 1 to 2 min.
    pub closing_s: (f64, f64),
}

impl Default for CourseRules {
    fn default() -> Self {
        CourseRules {
            modules: (4, 6),
            lessons_per_module: (2, 4),
            lesson_video_min_s: 900.0,
            module_video_s: (1800.0, 3600.0),
            course_max_academic_hours: 30.0,
            academic_hour_minutes: 45.0,
            promo_max_s: 180.0,
            closing_s: (60.0, 120.0),
        }
    }
}

/// Why a take has no duration, in words.
const NO_DURATION: &str = "not probed yet, or the probe failed";
/// Appended to every `course.hours` measurement.
const VIDEO_ONLY: &str =
    "only video time is counted; other workload (reading, assignments, tests) is not measured";
/// At most this many items are named in a list of unknowns.
const MAX_NAMED: usize = 5;

fn result(
    id: RuleId,
    required: String,
    measured: String,
    verdict: Verdict,
    hint: Option<String>,
) -> RuleResult {
    RuleResult {
        id,
        clause: id.clause().to_string(),
        required,
        measured,
        verdict,
        hint: hint.filter(|_| verdict == Verdict::Fail),
    }
}

fn pass_fail(ok: bool) -> Verdict {
    if ok {
        Verdict::Pass
    } else {
        Verdict::Fail
    }
}

fn count(n: usize, singular: &str, plural: &str) -> String {
    if n == 1 {
        format!("1 {singular}")
    } else {
        format!("{n} {plural}")
    }
}

fn range(low: u32, high: u32) -> String {
    if low == high {
        low.to_string()
    } else {
        format!("{low}–{high}")
    }
}

/// `module 01`.
pub(crate) fn module_label(module: u32) -> String {
    format!("module {module:02}")
}

/// `lesson 02 of module 01`.
pub(crate) fn lesson_label(module: u32, lesson: u32) -> String {
    format!("lesson {lesson:02} of module {module:02}")
}

/// Names a counted take, and says so when it is not compliant.
fn which(take: &SegmentTake) -> String {
    if take.compliant {
        take.take.clone()
    } else {
        format!(
            "{}, not compliant with the raw-footage spec: probe {}",
            take.take, take.probe_verdict
        )
    }
}

/// Names the first few items of a list, then how many more there are.
fn named(items: &[String]) -> String {
    let mut text = items
        .iter()
        .take(MAX_NAMED)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > MAX_NAMED {
        text.push_str(&format!(" and {} more", items.len() - MAX_NAMED));
    }
    text
}

/// `course.modules` (8.1): modules with at least one lecture take.
pub(crate) fn course_modules(rules: &CourseRules, modules: usize) -> RuleResult {
    let (low, high) = rules.modules;
    let id = RuleId::CourseModules;
    let required = format!("{} modules (weeks) with lecture takes", range(low, high));
    let measured = count(modules, "module", "modules");
    let n = u32::try_from(modules).unwrap_or(u32::MAX);
    let hint = if n < low {
        let missing = low - n;
        Some(if missing == 1 {
            "add a module".to_string()
        } else {
            format!("add {missing} modules")
        })
    } else if n > high {
        Some(format!(
            "merge or drop {} (at most {high}), or split the course in two",
            count((n - high) as usize, "module", "modules")
        ))
    } else {
        None
    };
    result(id, required, measured, pass_fail(hint.is_none()), hint)
}

/// What `module.lessons` requires.
pub(crate) fn module_lessons_required(rules: &CourseRules) -> String {
    let (low, high) = rules.lessons_per_module;
    format!("{} lessons in every module (week)", range(low, high))
}

/// `module.lessons` (8.3) for one module.
pub(crate) fn module_lessons(rules: &CourseRules, module: u32, lessons: usize) -> RuleResult {
    let (low, high) = rules.lessons_per_module;
    let id = RuleId::ModuleLessons;
    let required = format!("{} lessons in the module", range(low, high));
    let measured = count(lessons, "lesson", "lessons");
    let n = u32::try_from(lessons).unwrap_or(u32::MAX);
    let label = module_label(module);
    let hint = if n < low {
        Some(format!(
            "add {} to {label}, or merge {label} with another module",
            count((low - n) as usize, "lesson", "lessons")
        ))
    } else if n > high {
        Some(format!(
            "move {} of {label} to another module, or merge lessons",
            count((n - high) as usize, "lesson", "lessons")
        ))
    } else {
        None
    };
    result(id, required, measured, pass_fail(hint.is_none()), hint)
}

/// What `lesson.video_min` requires.
pub(crate) fn lesson_video_min_required(rules: &CourseRules) -> String {
    format!(
        "≥ {} of video in every lesson",
        minutes(rules.lesson_video_min_s)
    )
}

/// `lesson.video_min` (8.4, 8.5) for one lesson, judged on its counted take.
pub(crate) fn lesson_video_min(
    rules: &CourseRules,
    module: u32,
    lesson: u32,
    counted: Option<&SegmentTake>,
    takes: usize,
) -> RuleResult {
    let id = RuleId::LessonVideoMin;
    let min = rules.lesson_video_min_s;
    let required = format!(
        "≥ {} of video in the lesson (its counted take)",
        minutes(min)
    );
    let Some((take, seconds)) = counted.and_then(|t| t.duration_seconds.map(|d| (t, judged(d))))
    else {
        let measured = if takes == 1 {
            format!("unknown: its take has no duration ({NO_DURATION})")
        } else {
            format!("unknown: none of its {takes} takes has a duration ({NO_DURATION})")
        };
        return result(id, required, measured, Verdict::CannotTell, None);
    };
    let label = lesson_label(module, lesson);
    let hint = format!(
        "record at least {} more for {label}, or merge it with another lesson of {}",
        mss(min - seconds),
        module_label(module)
    );
    result(
        id,
        required,
        format!("{} ({})", mss(seconds), which(take)),
        pass_fail(seconds >= min),
        Some(hint),
    )
}

/// What `module.video_total` requires.
pub(crate) fn module_video_total_required(rules: &CourseRules) -> String {
    let (low, high) = rules.module_video_s;
    format!("{} of video in every module", minutes_range(low, high))
}

/// `module.video_total` (8.4) for one module: the sum of its lessons' counted
/// takes. `unknown` are the lessons without a duration.
pub(crate) fn module_video_total(
    rules: &CourseRules,
    module: u32,
    known_seconds: f64,
    lessons: usize,
    unknown: &[u32],
) -> RuleResult {
    let id = RuleId::ModuleVideoTotal;
    let (low, high) = rules.module_video_s;
    let required = format!(
        "{} of video in the module (its lessons' counted takes)",
        minutes_range(low, high)
    );
    let seconds = judged(known_seconds);
    let label = module_label(module);
    let over = format!(
        "{label} is {} over {}: move a lesson to another module, or shorten its lessons",
        mss(seconds - high),
        minutes(high)
    );
    let in_lessons = count(lessons, "lesson", "lessons");
    if !unknown.is_empty() {
        let missing: Vec<String> = unknown.iter().map(|l| format!("lesson {l:02}")).collect();
        let missing = format!("no duration for {} ({NO_DURATION})", named(&missing));
        return if seconds > high {
            result(
                id,
                required,
                format!("at least {} in {in_lessons}; {missing}", mss(seconds)),
                Verdict::Fail,
                Some(over),
            )
        } else {
            result(
                id,
                required,
                format!(
                    "unknown: at least {} in {in_lessons}; {missing}",
                    mss(seconds)
                ),
                Verdict::CannotTell,
                None,
            )
        };
    }
    let hint = if seconds > high {
        Some(over)
    } else if seconds < low {
        Some(format!(
            "{label} is {} short of {}: record more, or add a lesson",
            mss(low - seconds),
            minutes(low)
        ))
    } else {
        None
    };
    result(
        id,
        required,
        format!("{} in {in_lessons}", mss(seconds)),
        pass_fail(hint.is_none()),
        hint,
    )
}

/// `course.hours` (8.6): the course's counted video in academic hours.
/// `unknown` names what has no duration (lessons, the promo, the closing).
pub(crate) fn course_hours(
    rules: &CourseRules,
    known_seconds: f64,
    unknown: &[String],
) -> RuleResult {
    let id = RuleId::CourseHours;
    let max_hours = rules.course_max_academic_hours;
    let hour_s = rules.academic_hour_minutes * 60.0;
    let required = format!(
        "≤ {max_hours} academic hours of {} (more: split into a specialization of 3–6 courses)",
        minutes(hour_s)
    );
    let seconds = judged(known_seconds);
    let hours = seconds / hour_s;
    let max_s = max_hours * hour_s;
    let over = seconds > max_s;
    let hint = over.then(|| {
        format!(
            "split the course into a specialization of 3–6 courses, or cut at least {} of video",
            mss(seconds - max_s)
        )
    });
    let amount = format!(
        "{hours:.1} academic hours ({} of video ÷ {})",
        mss(seconds),
        minutes(hour_s)
    );
    if unknown.is_empty() {
        return result(
            id,
            required,
            format!("{amount}; {VIDEO_ONLY}"),
            pass_fail(!over),
            hint,
        );
    }
    let missing = format!("no duration for {}", named(unknown));
    if over {
        result(
            id,
            required,
            format!("at least {amount}; {missing}; {VIDEO_ONLY}"),
            Verdict::Fail,
            hint,
        )
    } else {
        result(
            id,
            required,
            format!("unknown: at least {amount}; {missing}; {VIDEO_ONLY}"),
            Verdict::CannotTell,
            None,
        )
    }
}

/// `promo.max` (F-01 item 14).
pub(crate) fn promo_max(rules: &CourseRules, promo: Option<&SegmentTake>) -> RuleResult {
    let id = RuleId::PromoMax;
    let max = rules.promo_max_s;
    let required = format!("promo / trailer ≤ {}", minutes(max));
    let Some(take) = promo else {
        return result(
            id,
            required,
            "no promo take".into(),
            Verdict::CannotTell,
            None,
        );
    };
    let Some(seconds) = take.duration_seconds.map(judged) else {
        return result(
            id,
            required,
            format!(
                "unknown: the promo take {} has no duration ({NO_DURATION})",
                take.take
            ),
            Verdict::CannotTell,
            None,
        );
    };
    let hint = format!(
        "shorten the promo by at least {}, to {} or less",
        mss(seconds - max),
        minutes(max)
    );
    result(
        id,
        required,
        format!("{} ({})", mss(seconds), which(take)),
        pass_fail(seconds <= max),
        Some(hint),
    )
}

/// `closing.message` (F-08): recommended, so a missing one cannot be told.
pub(crate) fn closing_message(rules: &CourseRules, closing: Option<&SegmentTake>) -> RuleResult {
    let id = RuleId::ClosingMessage;
    let (low, high) = rules.closing_s;
    let required = format!(
        "closing video message of {} (recommended)",
        minutes_range(low, high)
    );
    let Some(take) = closing else {
        return result(
            id,
            required,
            "no closing message (recommended)".into(),
            Verdict::CannotTell,
            None,
        );
    };
    let Some(seconds) = take.duration_seconds.map(judged) else {
        return result(
            id,
            required,
            format!(
                "unknown: the closing take {} has no duration ({NO_DURATION})",
                take.take
            ),
            Verdict::CannotTell,
            None,
        );
    };
    let hint = if seconds > high {
        Some(format!(
            "shorten the closing message by at least {}, to {} or less",
            mss(seconds - high),
            minutes(high)
        ))
    } else if seconds < low {
        Some(format!(
            "lengthen the closing message by at least {}, to {} or more",
            mss(low - seconds),
            minutes(low)
        ))
    } else {
        None
    };
    result(
        id,
        required,
        format!("{} ({})", mss(seconds), which(take)),
        pass_fail(hint.is_none()),
        hint,
    )
}

/// A course-level entry summing up the per-module or per-lesson verdicts of
/// one rule: fails when any fails, else cannot be told when any cannot, else
/// passes; `measured` names every item that does not pass.
///
/// `noun` is the item's singular and plural; `all_pass` details a pass, as in
/// "all 5 modules pass (2–4 lessons each)".
pub(crate) fn summary(
    id: RuleId,
    required: String,
    noun: (&str, &str),
    items: &[(String, &RuleResult)],
    all_pass: &str,
) -> RuleResult {
    let n = items.len();
    if n == 0 {
        return result(
            id,
            required,
            format!("unknown: the course has no {} with lecture takes", noun.1),
            Verdict::CannotTell,
            None,
        );
    }
    let verdict_is = |v: Verdict| items.iter().any(|(_, r)| r.verdict == v);
    let verdict = if verdict_is(Verdict::Fail) {
        Verdict::Fail
    } else if verdict_is(Verdict::CannotTell) {
        Verdict::CannotTell
    } else {
        Verdict::Pass
    };
    let not_passing: Vec<&(String, &RuleResult)> = items
        .iter()
        .filter(|(_, r)| r.verdict != Verdict::Pass)
        .collect();
    let measured = if not_passing.is_empty() {
        if n == 1 {
            format!("the only {} passes ({all_pass})", noun.0)
        } else {
            format!("all {n} {} pass ({all_pass})", noun.1)
        }
    } else {
        let list: Vec<String> = not_passing
            .iter()
            .map(|(label, r)| format!("{label}: {}", r.measured))
            .collect();
        format!(
            "{} — {} of {} pass",
            list.join("; "),
            n - not_passing.len(),
            count(n, noun.0, noun.1)
        )
    };
    let hints: Vec<&str> = items
        .iter()
        .filter(|(_, r)| r.verdict == Verdict::Fail)
        .filter_map(|(_, r)| r.hint.as_deref())
        .collect();
    let hint = (!hints.is_empty()).then(|| hints.join("; "));
    result(id, required, measured, verdict, hint)
}
