//! A take's page: the spec table, QC findings, the platform rendition in a
//! player with its captions, downloads and the job history.

use axum::extract::{Path, State};
use axum::response::Html;
use axum::Extension;
use maud::{html, Markup};
use moocpipe_catalog::{Role, Session};
use moocpipe_proto::{ProbeRecord, Verdict, VideoFacts};

use crate::error::PageError;
use crate::pages::courses::rules_table;
use crate::pages::{duration, layout, size, state_badge, verdict_badge, when};
use crate::views::TakeView;
use crate::{views, SharedApp};

fn hints(rules: &[moocpipe_proto::RuleResult]) -> Markup {
    html! {
        @let failing: Vec<_> = rules.iter().filter(|r| r.verdict == Verdict::Fail).collect();
        @if !failing.is_empty() {
            section.hints {
                h3 { "What to change" }
                ul {
                    @for r in failing {
                        li { code { (r.id) } " (" (r.clause) "): " (r.hint.as_deref().unwrap_or(&r.required)) }
                    }
                }
            }
        }
    }
}

/// The probe's verdict rule by rule (required, measured, verdict) and what
/// to change for each failing one; the upload page shows it too.
pub fn spec(probe: Option<&ProbeRecord>) -> Markup {
    html! {
        @match probe {
            None => p.muted { "The probe has not run yet." },
            Some(p) => {
                @if let Some(e) = &p.error {
                    p.error { "The take could not be checked: " (e.message) }
                }
                (rules_table(&p.rules))
                (hints(&p.rules))
                @for w in &p.warnings { p.warning { (w) } }
            }
        }
    }
}

fn video_facts(v: &VideoFacts) -> Markup {
    html! {
        (v.codec) " " (v.width) "×" (v.height)
        @if let Some(depth) = v.bit_depth { " " (depth) "-bit" }
        @if let Some(chroma) = &v.chroma { " " (chroma) }
    }
}

pub async fn page(
    State(app): State<SharedApp>,
    Extension(session): Extension<Session>,
    Path(take_id): Path<String>,
) -> Result<Html<String>, PageError> {
    let view = views::take(&app, &take_id).await?;
    let jobs = views::take_jobs(&app, &take_id).await?;
    let links = if session.role >= Role::Admin {
        Some(views::take_links(&app, &take_id, true).await?)
    } else {
        None
    };
    let s = &view.summary;
    let content = html! {
        p.crumbs {
            a href="/courses" { "Courses" } " / "
            a href={ "/courses/" (s.course) } { (s.course) } " / "
            @if let (Some(m), Some(l)) = (s.module, s.lesson) { "module " (m) ", lesson " (l) " / " }
            code { (s.take) }
        }
        h1 { (s.title) }
        (body(&view, true))
        @if let Some(failures) = view.failures.as_ref().and_then(|f| f.as_object()) {
            section {
                h2 { "Dead-lettered stages" }
                ul { @for (stage, failure) in failures { li { strong { (stage) } ": " (failure.get("error").and_then(|e| e.as_str()).unwrap_or("")) } } }
            }
        }

        @if let Some(links) = &links {
            (crate::links::admin_panel(s, links, &session))
        }
        section {
            h2 { "Job history" }
            @if jobs.is_empty() {
                p.muted { @if app.jobs.is_none() { "The embedded mode keeps no job history: " code { "moocpipe process" } " ran the stages in order." } @else { "No job yet." } }
            } @else {
                div.scroll {
                    table.jobs {
                        thead { tr { th { "Stage" } th { "Attempt" } th { "Worker" } th { "Started" } th { "Took" } th { "Outcome" } th { "Error" } } }
                        tbody {
                            @for job in &jobs {
                                @for run in &job.runs {
                                    tr {
                                        td { (job.stage) }
                                        td.num { (run.attempt + 1) }
                                        td { (run.worker) }
                                        td { (when(run.started_ms)) }
                                        td { @if let Some(s) = run.seconds { (format!("{s:.1} s")) } }
                                        td { (run.outcome.as_deref().unwrap_or("running")) }
                                        td { (run.error.as_deref().unwrap_or("")) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(layout(&s.title.clone(), Some(&session), content))
}

/// What a take's page and its stable link's page share: the facts, the
/// player, the spec table with what to change, QC, renditions, captions and
/// downloads. `live`: the page script keeps the facts current (it needs a
/// session).
pub fn body(view: &TakeView, live: bool) -> Markup {
    let s = &view.summary;
    html! {
        section.facts data-live=[live.then(|| format!("/api/v1/takes/{}", s.take_id))] data-take=(s.take_id) {
            div { "State " (state_badge(&s.state)) }
            div { "Spec " @if let Some(spec) = &s.spec { (verdict_badge(spec)) } @else { span.muted { "not probed yet" } } }
            div { "Raw take " code { (view.take.key) } " (" (size(u64::try_from(s.size_bytes).unwrap_or(0))) ")" }
            div { "Notice " @if s.notice_sent == 1 { "sent" } @else { span.muted { "not sent" } } }
            @if let Some(p) = &view.probe {
                @if let Some(d) = p.duration_seconds { div { "Duration " (duration(d)) } }
                @if let Some(c) = &p.container { div { "Container " (c) @if let Some(v) = &p.video { " · " (video_facts(v)) } } }
            }
        }

        @if let Some(player) = &view.player {
            section.player {
                h2 { "Platform rendition" }
                video id="player" controls preload="metadata" crossorigin="anonymous" src=(player.video) poster=[player.poster.as_deref()] {
                    @if let Some(captions) = &player.captions {
                        track kind="captions" src=(captions) srclang=[player.language.as_deref()] label={ "Captions" @if let Some(l) = &player.language { " (" (l) ")" } } default;
                    }
                }
            }
        }

        section {
            h2 { "Raw-footage spec" }
            (spec(view.probe.as_ref()))
        }

        section {
            h2 { "Technical quality" }
            @match &view.qc {
                None => p.muted { "Not measured yet." },
                Some(qc) => {
                    p {
                        "Suggested F-10 scores: sound " strong { (qc.sound_score.score) } "/3, image " strong { (qc.image_score.score) } "/3"
                    }
                    @if qc.findings.is_empty() {
                        p.muted { "No findings." }
                    } @else {
                        div.scroll { table.findings {
                            thead { tr { th { "From" } th { "To" } th { "Kind" } th { "Severity" } th { "What" } } }
                            tbody {
                                @for f in &qc.findings {
                                    tr {
                                        td { (duration(f.start_seconds)) }
                                        td { (duration(f.end_seconds)) }
                                        td { (format!("{:?}", f.kind).to_lowercase()) }
                                        td { (format!("{:?}", f.severity).to_lowercase()) }
                                        td { (f.message) }
                                    }
                                }
                            }
                        } }
                    }
                }
            }
        }

        @if let Some(t) = &view.transcode {
            section {
                h2 { "Renditions" }
                p { "Verification " (verdict_badge(t.verdict.as_str())) }
                @for r in &t.renditions {
                    details {
                        summary { (r.name) ": " (r.width) "×" (r.height) @if let Some(b) = r.video_bitrate_bps { ", " (format!("{:.2}", b as f64 / 1e6)) " Mbit/s measured" } }
                        (rules_table(&r.rules))
                    }
                }
            }
        }

        @if let Some(c) = &view.caption {
            section {
                h2 { "Captions" }
                p { (c.caption.cues) " cues in " (c.caption.language) @if let Some(cov) = c.caption.coverage { ", " (format!("{:.0} %", cov * 100.0)) " of the speech covered" } }
                @for w in &c.caption.warnings { p.warning { (w.message) } }
            }
        }

        section {
            h2 { "Downloads" }
            @if view.downloads.is_empty() {
                p.muted { "Nothing to download yet." }
            } @else {
                ul.downloads {
                    @for d in &view.downloads {
                        li { a href=(d.url) download=(d.file_name) { (d.name) } " " span.muted { (d.file_name) ", " (size(d.size_bytes)) } }
                    }
                }
            }
        }

    }
}
