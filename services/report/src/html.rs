//! The report as a single self-contained HTML page for people: inline CSS, no
//! scripts, no external resources, every text escaped.

use crate::duration::mss;
use moocpipe_proto::{
    LessonSegments, ModuleSegments, RuleId, RuleResult, SegmentReport, SegmentTake, Verdict,
};

const STYLE: &str = "\
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:2rem auto;max-width:70rem;padding:0 1rem;color:#1b1b1b;line-height:1.4}
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2.2rem;border-bottom:1px solid #ccc}
table{border-collapse:collapse;width:100%;margin:.6rem 0 1rem}
th,td{border:1px solid #c8c8c8;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f0f0f0}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.verdict{display:inline-block;padding:0 .45rem;border-radius:.25rem;font-weight:600;white-space:nowrap}
.pass{background:#d5f2dc;color:#0b5a1e}
.fail{background:#fbd5d5;color:#8a1010}
.cannot-tell{background:#fff0bf;color:#6a4b00}
td.mark{font-weight:600;white-space:nowrap}
tr.noncompliant td.spec,tr.noncompliant td.mark{color:#8a1010}
tr.counted.noncompliant td{background:#fff3f3}
.muted{color:#666}
.hint{font-size:.9em}
";

/// Escapes text for HTML element content and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn badge(verdict: Verdict) -> String {
    let v = verdict.as_str();
    format!(r#"<span class="verdict {v}">{v}</span>"#)
}

fn plural(n: usize, singular: &str, plural: &str) -> String {
    if n == 1 {
        format!("1 {singular}")
    } else {
        format!("{n} {plural}")
    }
}

/// A table of rules: id, clause, required, measured, verdict, what to change.
fn rules_table(rules: &[RuleResult]) -> String {
    let mut out = String::from(
        "<table class=\"rules\">\n<thead><tr><th>Rule</th><th>Clause</th><th>Required</th>\
         <th>Measured</th><th>Verdict</th><th>What to change</th></tr></thead>\n<tbody>\n",
    );
    for rule in rules {
        out.push_str(&format!(
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"hint\">{}</td></tr>\n",
            escape(rule.id.as_str()),
            escape(&rule.clause),
            escape(&rule.required),
            escape(&rule.measured),
            badge(rule.verdict),
            escape(rule.hint.as_deref().unwrap_or("")),
        ));
    }
    out.push_str("</tbody>\n</table>\n");
    out
}

fn duration_cell(take: &SegmentTake) -> String {
    match take.duration_seconds {
        Some(d) => format!("<td class=\"num\">{}</td>", mss(d)),
        None => "<td class=\"num muted\">no duration</td>".to_string(),
    }
}

fn spec_cell(take: &SegmentTake) -> String {
    if take.compliant {
        "<td class=\"spec\">compliant</td>".to_string()
    } else {
        format!(
            "<td class=\"spec\">not compliant (probe: {})</td>",
            escape(take.probe_verdict.as_str())
        )
    }
}

fn row_class(take: &SegmentTake, counted: bool) -> String {
    let mut classes = Vec::new();
    if counted {
        classes.push("counted");
    }
    if !take.compliant {
        classes.push("noncompliant");
    }
    if classes.is_empty() {
        String::new()
    } else {
        format!(" class=\"{}\"", classes.join(" "))
    }
}

/// A rule's verdict with its measurement and hint, for a table cell.
fn verdict_cell(rule: Option<&RuleResult>, rowspan: usize) -> String {
    let span = if rowspan > 1 {
        format!(" rowspan=\"{rowspan}\"")
    } else {
        String::new()
    };
    match rule {
        Some(rule) => {
            let hint = rule
                .hint
                .as_deref()
                .map(|h| format!("<br><span class=\"hint\">{}</span>", escape(h)))
                .unwrap_or_default();
            format!(
                "<td{span}>{} {}{hint}</td>",
                badge(rule.verdict),
                escape(&rule.measured)
            )
        }
        None => format!("<td{span}></td>"),
    }
}

fn promo_and_closing(report: &SegmentReport) -> String {
    let mut out = String::from(
        "<h2 id=\"promo-closing\">Promo and closing message</h2>\n<table class=\"takes\">\n\
         <thead><tr><th>Part</th><th>Take</th><th>Title</th><th>Duration</th>\
         <th>Raw-footage spec</th><th>Rule</th></tr></thead>\n<tbody>\n",
    );
    let parts = [
        ("Promo / trailer", &report.promo, RuleId::PromoMax),
        ("Closing message", &report.closing, RuleId::ClosingMessage),
    ];
    for (part, take, id) in parts {
        let rule = report.rules.iter().find(|r| r.id == id);
        match take {
            Some(take) => out.push_str(&format!(
                "<tr{}><td>{part}</td><td><code>{}</code></td><td>{}</td>{}{}{}</tr>\n",
                row_class(take, take.duration_seconds.is_some()),
                escape(&take.take),
                escape(&take.title),
                duration_cell(take),
                spec_cell(take),
                verdict_cell(rule, 1),
            )),
            None => out.push_str(&format!(
                "<tr><td>{part}</td><td class=\"muted\" colspan=\"4\">none</td>{}</tr>\n",
                verdict_cell(rule, 1),
            )),
        }
    }
    out.push_str("</tbody>\n</table>\n");
    out
}

fn lesson_rows(lesson: &LessonSegments) -> String {
    let mut out = String::new();
    let span = lesson.takes.len();
    for (i, take) in lesson.takes.iter().enumerate() {
        let counted = lesson.counted_take_id.as_deref() == Some(take.take_id.as_str());
        out.push_str(&format!("<tr{}>", row_class(take, counted)));
        if i == 0 {
            let name = lesson
                .name
                .as_deref()
                .map(|n| format!("<br><span class=\"muted\">{}</span>", escape(n)))
                .unwrap_or_default();
            let rowspan = if span > 1 {
                format!(" rowspan=\"{span}\"")
            } else {
                String::new()
            };
            out.push_str(&format!("<td{rowspan}>{:02}{name}</td>", lesson.lesson));
        }
        out.push_str(&format!(
            "<td><code>{}</code></td><td>{}</td>{}<td class=\"mark\">{}</td>{}",
            escape(&take.take),
            escape(&take.title),
            duration_cell(take),
            match (counted, take.compliant) {
                (true, true) => "counted",
                (true, false) => "counted, not compliant",
                (false, _) => "",
            },
            spec_cell(take),
        ));
        if i == 0 {
            let rule = lesson.rules.iter().find(|r| r.id == RuleId::LessonVideoMin);
            out.push_str(&verdict_cell(rule, span));
        }
        out.push_str("</tr>\n");
    }
    out
}

fn module_section(module: &ModuleSegments) -> String {
    let name = module
        .name
        .as_deref()
        .map(|n| format!(" — {}", escape(n)))
        .unwrap_or_default();
    let mut out = format!(
        "<h2 id=\"module-{0:02}\">Module {0:02}{name}</h2>\n<p>Counted video: <strong>{1}</strong> in {2}.</p>\n",
        module.module,
        mss(module.video_seconds),
        plural(module.lessons.len(), "lesson", "lessons"),
    );
    out.push_str(&rules_table(&module.rules));
    out.push_str(
        "<table class=\"takes\">\n<thead><tr><th>Lesson</th><th>Take</th><th>Title</th>\
         <th>Duration</th><th>Counted</th><th>Raw-footage spec</th>\
         <th>Lesson video (<code>lesson.video_min</code>)</th></tr></thead>\n<tbody>\n",
    );
    for lesson in &module.lessons {
        out.push_str(&lesson_rows(lesson));
    }
    out.push_str("</tbody>\n</table>\n");
    out
}

/// The report as one self-contained HTML page: the course summary with the
/// seven course rules, the promo and closing message, then per module its
/// rules and a table of its lessons and takes (duration, which take counts,
/// compliance with the raw-footage spec, the lesson's verdict).
pub fn to_html(report: &SegmentReport) -> String {
    let course = escape(&report.course);
    let lessons: usize = report.modules.iter().map(|m| m.lessons.len()).sum();
    let tally = |v: Verdict| report.rules.iter().filter(|r| r.verdict == v).count();
    let mut page = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>Segment lengths: {course}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n\
         <h1>Segment lengths: {course}</h1>\n"
    );
    page.push_str(&format!(
        "<p>Total counted video: <strong>{}</strong> (lectures, promo and closing message) \
         in {} and {}. Course rules: {} pass, {} fail, {} cannot be told.</p>\n",
        mss(report.total_video_seconds),
        plural(report.modules.len(), "module", "modules"),
        plural(lessons, "lesson", "lessons"),
        tally(Verdict::Pass),
        tally(Verdict::Fail),
        tally(Verdict::CannotTell),
    ));
    page.push_str(&format!(
        "<p class=\"muted\">{}</p>\n",
        escape(&report.counting)
    ));
    page.push_str("<h2 id=\"course-rules\">Course rules</h2>\n");
    page.push_str(&rules_table(&report.rules));
    page.push_str(&promo_and_closing(report));
    for module in &report.modules {
        page.push_str(&module_section(module));
    }
    page.push_str(&format!(
        "<p class=\"muted\">moocpipe segment report, schema version {}.</p>\n</body>\n</html>\n",
        report.schema_version
    ));
    page
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn escapes_markup_quotes_and_keeps_unicode() {
        assert_eq!(
            escape(r#"<b>"Ньютон" & co</b> it's"#),
            "&lt;b&gt;&quot;Ньютон&quot; &amp; co&lt;/b&gt; it&#39;s"
        );
        assert_eq!(escape("plain"), "plain");
    }
}
