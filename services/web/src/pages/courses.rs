//! The course list and a course's page.

use axum::extract::{Path, Query, State};
use axum::response::Html;
use axum::Extension;
use maud::{html, Markup};
use moocpipe_catalog::{Page, Session, TakeSummary};
use moocpipe_proto::{RuleResult, Verdict};
use serde::Deserialize;

use crate::error::PageError;
use crate::pages::{duration, layout, size, state_badge, verdict_badge};
use crate::views::MaterialView;
use crate::{views, SharedApp};

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    page: Option<u32>,
}

fn readiness(total: i64, failed: i64) -> Markup {
    html! {
        @if total == 0 {
            span.badge.verdict-cannot-tell { "no report yet" }
        } @else if failed == 0 {
            span.badge.verdict-pass { "ready: " (total) " rules pass" }
        } @else {
            span.badge.verdict-fail { (failed) " of " (total) " rules fail" }
        }
    }
}

fn days_left(days: Option<i64>, due: Option<&str>) -> Markup {
    html! {
        @match (days, due) {
            (Some(d), Some(due)) if d < 0 => span.badge.verdict-fail title={ "due " (due) } { (-d) " days overdue" },
            (Some(d), Some(due)) if d <= 14 => span.badge.verdict-cannot-tell title={ "due " (due) } { (d) " days left" },
            (Some(d), Some(due)) => span.muted title={ "due " (due) } { (d) " days left" },
            _ => span.muted { "—" },
        }
    }
}

pub async fn list(
    State(app): State<SharedApp>,
    Extension(session): Extension<Session>,
    Query(query): Query<ListQuery>,
) -> Result<Html<String>, PageError> {
    let page = Page::new(query.page, Some(100));
    let courses = app.catalog.courses(page).await?;
    let pages = (courses.total + i64::from(page.per_page) - 1) / i64::from(page.per_page);
    let content = html! {
        h1 { "Courses" }
        @if courses.items.is_empty() {
            p.muted { "No course yet: the catalog fills as takes are ingested." }
        } @else {
            div.scroll {
                table.courses {
                    thead { tr {
                        th { "Course" } th { "Readiness (8.1–8.6, F-01, F-08)" } th.num { "Takes" }
                        th.num { "Published" } th.num { "Failed spec" } th.num { "Errors" }
                        th { "Video" } th { "Materials due" }
                    } }
                    tbody {
                        @for c in &courses.items {
                            @let (due, days) = views::due(c.launch_date.as_deref());
                            tr {
                                td { a href={ "/courses/" (c.course) } { (c.title.as_deref().unwrap_or(&c.course)) } br; code.muted { (c.course) } }
                                td { (readiness(c.rules_total, c.rules_failed)) }
                                td.num { (c.takes) }
                                td.num { (c.published) }
                                td.num { (c.failed_spec) }
                                td.num { (c.errors) }
                                td { @if let Some(s) = c.video_seconds { (duration(s)) } }
                                td { (days_left(days, due.as_deref())) }
                            }
                        }
                    }
                }
            }
            @if pages > 1 {
                nav.pages {
                    @for p in 1..=pages {
                        @if p == i64::from(page.page) { strong { (p) } } @else { a href={ "/courses?page=" (p) } { (p) } }
                    }
                }
            }
        }
    };
    Ok(layout("Courses", Some(&session), content))
}

fn take_row(t: &TakeSummary) -> Markup {
    html! {
        tr data-take=(t.take_id) {
            td { a href={ "/takes/" (t.take_id) } { (t.title) } br; code.muted { (t.take) } }
            td { (state_badge(&t.state)) }
            td { @if let Some(spec) = &t.spec { (verdict_badge(spec)) } }
            td { @for rule in t.failed_rules.split_whitespace() { code { (rule) } " " } }
            td.num { @if let Some(s) = t.sound_score { (s) } }
            td.num { @if let Some(s) = t.image_score { (s) } }
            td { @if t.notice_sent == 1 { "sent" } @else { span.muted { "no" } } }
        }
    }
}

fn takes_table(takes: &[TakeSummary]) -> Markup {
    html! {
        div.scroll {
            table.takes {
                thead { tr {
                    th { "Take" } th { "State" } th { "Spec" } th { "Failing rules" }
                    th.num title="F-10 criterion 1, suggested" { "Sound" }
                    th.num title="F-10 criterion 2, suggested" { "Image" }
                    th { "Notice" }
                } }
                tbody { @for t in takes { (take_row(t)) } }
            }
        }
    }
}

/// The course's materials: name, type found, size, and the link or why
/// there is none.
fn materials_table(materials: &[MaterialView]) -> Markup {
    html! {
        div.scroll {
            table.materials {
                thead { tr {
                    th { "Material" } th { "Type (by content)" } th.num { "Size" } th { "Verdict" } th { "Link" }
                } }
                tbody {
                    @for m in materials {
                        tr data-material=(m.path) class=[(m.verdict != "ok").then_some("fail")] {
                            td { (m.name) @if m.path != m.name { br; code.muted { (m.path) } } }
                            td { (m.detected.as_deref().unwrap_or("unrecognised")) }
                            td.num { (size(m.size_bytes)) }
                            td {
                                @if m.verdict == "ok" {
                                    span.badge.verdict-pass { "published" }
                                } @else {
                                    span.badge.verdict-fail { "not published" }
                                    @if let Some(error) = &m.error { br; span.error { (error) } }
                                }
                            }
                            td {
                                @match &m.link {
                                    Some(link) => a.material-link href=(link) { "download" },
                                    None if m.verdict == "ok" => span.muted { "no link key on this server" },
                                    None => span.muted { "—" },
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Rules with what was required and measured, and their verdicts.
pub fn rules_table(rules: &[RuleResult]) -> Markup {
    html! {
        div.scroll { table.spec {
            thead { tr { th { "Rule" } th { "Clause" } th { "Required" } th { "Measured" } th { "Verdict" } } }
            tbody {
                @for r in rules {
                    tr class=@if r.verdict == Verdict::Fail { "fail" } {
                        td { code { (r.id) } }
                        td { (r.clause) }
                        td { (r.required) }
                        td { (r.measured) }
                        td { (verdict_badge(r.verdict.as_str())) }
                    }
                }
            }
        } }
    }
}

pub async fn course(
    State(app): State<SharedApp>,
    Extension(session): Extension<Session>,
    Path(course): Path<String>,
) -> Result<Html<String>, PageError> {
    let view = views::course(&app, &course).await?;
    let s = &view.summary;
    let title = s.title.clone().unwrap_or_else(|| s.course.clone());
    let content = html! {
        p.crumbs { a href="/courses" { "Courses" } " / " code { (s.course) } }
        h1 { (title) }
        section.facts data-live={ "/api/v1/courses/" (s.course) } {
            div { "Readiness " (readiness(s.rules_total, s.rules_failed)) }
            div { "Takes " strong { (s.takes) } ", published " strong { (s.published) } ", failed spec " strong { (s.failed_spec) } ", errors " strong { (s.errors) } }
            @if let Some(launch) = &s.launch_date {
                div { "Launch " (launch) ", materials due " (days_left(view.days_left, view.due_date.as_deref())) }
            }
            @if let Some(seconds) = s.video_seconds { div { "Counted video " (duration(seconds)) } }
        }
        @if !view.other_takes.is_empty() {
            h2 { "Promo and closing" }
            (takes_table(&view.other_takes))
        }
        @for m in &view.modules {
            section.module {
                h2 { "Module " (m.module) @if let Some(name) = &m.name { ": " (name) } }
                @for l in &m.lessons {
                    h3 { "Lesson " (l.lesson) @if let Some(name) = &l.name { ": " (name) } }
                    (takes_table(&l.takes))
                }
            }
        }
        section.materials {
            h2 { "Materials" }
            @if view.materials.is_empty() {
                p.muted { "No materials: files in the course folder that are not takes (a syllabus, slides, images, archives) are listed here with their links." }
            } @else {
                (materials_table(&view.materials))
            }
        }
        section.report {
            h2 { "Segment report" }
            @match &view.report {
                None => p.muted { "Not written yet: it is made once the course's takes are probed." },
                Some(report) => {
                    (rules_table(&report.rules))
                    @for m in &report.modules {
                        details {
                            summary { "Module " (m.module) ": " (duration(m.video_seconds)) " of video" }
                            (rules_table(&m.rules))
                            @for l in &m.lessons {
                                @if !l.rules.is_empty() {
                                    p { "Lesson " (l.lesson) ": " (duration(l.video_seconds)) }
                                    (rules_table(&l.rules))
                                }
                            }
                        }
                    }
                    p.muted { (report.counting) }
                }
            }
        }
    };
    Ok(layout(&title, Some(&session), content))
}
