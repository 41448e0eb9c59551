//! Building a course's [`SegmentReport`]: placing takes in modules and
//! lessons, choosing the take that counts, summing and judging.

use crate::duration::stored;
use crate::rules::{self, lesson_label, module_label, CourseRules};
use moocpipe_proto::{
    LessonSegments, ModuleSegments, ProbeRecord, RuleId, SegmentReport, SegmentTake, TakeKind,
    TakeRef, TakeVerdict, SCHEMA_VERSION,
};
use std::cmp::Ordering;
use std::collections::BTreeMap;

/// How a lesson with several takes is counted; lands in
/// [`SegmentReport::counting`].
pub const COUNTING: &str = "In each lesson the take that counts is the last one by take name \
among the takes that passed the raw-footage spec (probe verdict pass); if none passed, the last \
one by take name among the takes with a duration, shown as not compliant. Take names are \
compared as text, runs of digits by their value (take-2 before take-10). A take's duration is \
its probe's, compliant or not; a take not probed yet, or whose probe ended in an error, has no \
duration and never counts, and a lesson without any duration counts 0 s and cannot be told. The \
promo and the closing message are chosen the same way among the course's promo and closing takes.";

/// Builds a course's report from every take of that course and its probe
/// record (`None` when the take has no probe record yet).
///
/// Takes of other courses are a caller bug and are ignored, as are lecture
/// takes without a module or lesson number (they cannot be placed).
pub fn build(
    course: &str,
    takes: &[(TakeRef, Option<ProbeRecord>)],
    rules: &CourseRules,
) -> SegmentReport {
    type Lesson<'a> = Vec<(&'a TakeRef, SegmentTake)>;
    let mut lectures: BTreeMap<u32, BTreeMap<u32, Lesson<'_>>> = BTreeMap::new();
    let mut promos = Vec::new();
    let mut closings = Vec::new();
    for (take, probe) in takes.iter().filter(|(t, _)| t.course == course) {
        let segment = segment_take(take, probe.as_ref());
        match take.kind {
            TakeKind::Lecture => {
                if let (Some(module), Some(lesson)) = (take.module, take.lesson) {
                    lectures
                        .entry(module)
                        .or_default()
                        .entry(lesson)
                        .or_default()
                        .push((take, segment));
                }
            }
            TakeKind::Promo => promos.push(segment),
            TakeKind::Closing => closings.push(segment),
        }
    }

    let modules: Vec<ModuleSegments> = lectures
        .into_iter()
        .map(|(module, lessons)| {
            let mut module_name = None;
            let lessons: Vec<LessonSegments> = lessons
                .into_iter()
                .map(|(lesson, mut takes)| {
                    takes.sort_by(|a, b| take_order(&a.1, &b.1));
                    if module_name.is_none() {
                        module_name = takes.iter().find_map(|(t, _)| t.module_name.clone());
                    }
                    let name = takes.iter().find_map(|(t, _)| t.lesson_name.clone());
                    let takes: Vec<SegmentTake> = takes.into_iter().map(|(_, s)| s).collect();
                    build_lesson(rules, module, lesson, name, takes)
                })
                .collect();
            build_module(rules, module, module_name, lessons)
        })
        .collect();

    let promo = pick_single(promos);
    let closing = pick_single(closings);

    let lesson_seconds: f64 = modules.iter().map(|m| m.video_seconds).sum();
    let extra_seconds: f64 = [&promo, &closing]
        .into_iter()
        .flatten()
        .filter_map(|t| t.duration_seconds)
        .sum();
    let total_video_seconds = stored(lesson_seconds + extra_seconds);

    let mut unknown: Vec<String> = modules
        .iter()
        .flat_map(|m| {
            m.lessons
                .iter()
                .filter(|l| l.counted_take_id.is_none())
                .map(|l| lesson_label(m.module, l.lesson))
        })
        .collect();
    for (what, take) in [("the promo", &promo), ("the closing message", &closing)] {
        if take.as_ref().is_some_and(|t| t.duration_seconds.is_none()) {
            unknown.push(what.to_string());
        }
    }

    let rules_of = |id: RuleId| -> Vec<(String, &moocpipe_proto::RuleResult)> {
        modules
            .iter()
            .flat_map(|m| m.rules.iter().map(move |r| (module_label(m.module), r)))
            .filter(|(_, r)| r.id == id)
            .collect()
    };
    let lesson_rules: Vec<(String, &moocpipe_proto::RuleResult)> = modules
        .iter()
        .flat_map(|m| {
            m.lessons.iter().flat_map(move |l| {
                l.rules
                    .iter()
                    .map(move |r| (lesson_label(m.module, l.lesson), r))
            })
        })
        .filter(|(_, r)| r.id == RuleId::LessonVideoMin)
        .collect();

    let (low, high) = rules.lessons_per_module;
    let course_rules = vec![
        rules::course_modules(rules, modules.len()),
        rules::summary(
            RuleId::ModuleLessons,
            rules::module_lessons_required(rules),
            ("module", "modules"),
            &rules_of(RuleId::ModuleLessons),
            &format!("{low}–{high} lessons each"),
        ),
        rules::summary(
            RuleId::LessonVideoMin,
            rules::lesson_video_min_required(rules),
            ("lesson", "lessons"),
            &lesson_rules,
            &format!(
                "≥ {} each",
                crate::duration::minutes(rules.lesson_video_min_s)
            ),
        ),
        rules::summary(
            RuleId::ModuleVideoTotal,
            rules::module_video_total_required(rules),
            ("module", "modules"),
            &rules_of(RuleId::ModuleVideoTotal),
            &format!(
                "{} each",
                crate::duration::minutes_range(rules.module_video_s.0, rules.module_video_s.1)
            ),
        ),
        rules::course_hours(rules, total_video_seconds, &unknown),
        rules::promo_max(rules, promo.as_ref()),
        rules::closing_message(rules, closing.as_ref()),
    ];

    SegmentReport {
        schema_version: SCHEMA_VERSION,
        course: course.to_string(),
        modules,
        promo,
        closing,
        total_video_seconds,
        rules: course_rules,
        counting: COUNTING.to_string(),
    }
}

/// A take as the report sees it. Durations that are negative or not finite
/// are treated as absent.
fn segment_take(take: &TakeRef, probe: Option<&ProbeRecord>) -> SegmentTake {
    // Not probed yet: nothing could be told about it.
    let probe_verdict = probe.map_or(TakeVerdict::CannotTell, |p| p.verdict);
    let duration_seconds = probe
        .filter(|p| p.verdict != TakeVerdict::Error)
        .and_then(|p| p.duration_seconds)
        .filter(|d| d.is_finite() && *d >= 0.0);
    SegmentTake {
        take_id: take.take_id.clone(),
        take: take.take.clone(),
        kind: take.kind,
        title: take.title.clone(),
        duration_seconds,
        compliant: probe_verdict == TakeVerdict::Pass,
        probe_verdict,
    }
}

fn build_lesson(
    rules: &CourseRules,
    module: u32,
    lesson: u32,
    name: Option<String>,
    takes: Vec<SegmentTake>,
) -> LessonSegments {
    let counted = counted(&takes);
    let rule = rules::lesson_video_min(rules, module, lesson, counted, takes.len());
    LessonSegments {
        lesson,
        name,
        counted_take_id: counted.map(|t| t.take_id.clone()),
        video_seconds: counted.and_then(|t| t.duration_seconds).unwrap_or(0.0),
        takes,
        rules: vec![rule],
    }
}

fn build_module(
    rules: &CourseRules,
    module: u32,
    name: Option<String>,
    lessons: Vec<LessonSegments>,
) -> ModuleSegments {
    let video_seconds = stored(lessons.iter().map(|l| l.video_seconds).sum());
    let unknown: Vec<u32> = lessons
        .iter()
        .filter(|l| l.counted_take_id.is_none())
        .map(|l| l.lesson)
        .collect();
    let rules = vec![
        rules::module_lessons(rules, module, lessons.len()),
        rules::module_video_total(rules, module, video_seconds, lessons.len(), &unknown),
    ];
    ModuleSegments {
        module,
        name,
        lessons,
        video_seconds,
        rules,
    }
}

/// The take that counts among takes sorted by [`take_order`]: the last
/// compliant one with a duration, else the last one with a duration.
fn counted(takes: &[SegmentTake]) -> Option<&SegmentTake> {
    let with_duration = || takes.iter().rev().filter(|t| t.duration_seconds.is_some());
    with_duration()
        .find(|t| t.compliant)
        .or_else(|| with_duration().next())
}

/// The course's promo or closing: the take that counts, else (none has a
/// duration) the last one by name, so the report still shows there is one.
fn pick_single(mut takes: Vec<SegmentTake>) -> Option<SegmentTake> {
    takes.sort_by(take_order);
    counted(&takes).cloned().or_else(|| takes.pop())
}

/// Takes by name in natural order, then by name as plain text and by id so
/// that the order is total and the output deterministic.
fn take_order(a: &SegmentTake, b: &SegmentTake) -> Ordering {
    natural_cmp(&a.take, &b.take)
        .then_with(|| a.take.cmp(&b.take))
        .then_with(|| a.take_id.cmp(&b.take_id))
}

/// Compares text with runs of ASCII digits compared by their value:
/// `take-2` < `take-10`, `take-02` = `take-2`.
pub(crate) fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a, b);
    loop {
        match (a.chars().next(), b.chars().next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let end_a = a.find(|c: char| !c.is_ascii_digit()).unwrap_or(a.len());
                let end_b = b.find(|c: char| !c.is_ascii_digit()).unwrap_or(b.len());
                let digits_a = a[..end_a].trim_start_matches('0');
                let digits_b = b[..end_b].trim_start_matches('0');
                let order = digits_a
                    .len()
                    .cmp(&digits_b.len())
                    .then_with(|| digits_a.cmp(digits_b));
                if order != Ordering::Equal {
                    return order;
                }
                a = &a[end_a..];
                b = &b[end_b..];
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(&y);
                }
                a = &a[x.len_utf8()..];
                b = &b[y.len_utf8()..];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::natural_cmp;
    use std::cmp::Ordering::{Equal, Greater, Less};

    #[test]
    fn natural_order_compares_digit_runs_by_value() {
        assert_eq!(natural_cmp("take-2", "take-10"), Less);
        assert_eq!(natural_cmp("take-10", "take-9"), Greater);
        assert_eq!(natural_cmp("take-02", "take-2"), Equal);
        assert_eq!(natural_cmp("take-03", "take-10"), Less);
        assert_eq!(natural_cmp("take", "take-1"), Less);
        assert_eq!(natural_cmp("take-1a", "take-1b"), Less);
        assert_eq!(natural_cmp("дубль-2", "дубль-11"), Less);
        assert_eq!(natural_cmp("", ""), Equal);
    }
}
