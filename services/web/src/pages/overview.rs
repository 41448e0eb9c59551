//! The overview: takes by state, failing rules this week, jobs running,
//! dead letters. The page script refreshes the numbers and the job table
//! from `/api/v1/overview` every few seconds.

use axum::extract::State;
use axum::response::Html;
use axum::Extension;
use maud::html;
use moocpipe_catalog::{Role, Session};

use crate::error::PageError;
use crate::pages::{duration, layout, state_badge};
use crate::{views, SharedApp};

pub async fn page(
    State(app): State<SharedApp>,
    Extension(session): Extension<Session>,
) -> Result<Html<String>, PageError> {
    let overview = views::overview(&app).await?;
    let content = html! {
        h1 { "Overview" }
        section.cards data-live="/api/v1/overview" {
            @for count in &overview.states {
                div.card {
                    span.count data-count=(count.state) { (count.takes) }
                    (state_badge(&count.state))
                }
            }
            @if let Some(dead) = overview.dead_letters {
                div.card {
                    span.count data-count="dead_letters" { (dead) }
                    @if session.role >= Role::Admin {
                        a href="/dead-letters" { "dead letters" }
                    } @else {
                        span { "dead letters" }
                    }
                }
            }
        }
        div.columns {
            section {
                h2 { "Failing spec rules this week" }
                @if overview.failing_rules_week.is_empty() {
                    p.muted { "No take failed a rule in the last 7 days." }
                } @else {
                    div.scroll { table.rules {
                        thead { tr { th { "Rule" } th.num { "Takes" } } }
                        tbody {
                            @for rule in &overview.failing_rules_week {
                                tr { td { code { (rule.rule) } } td.num { (rule.takes) } }
                            }
                        }
                    } }
                }
            }
            section {
                h2 { "Jobs" }
                @if overview.mode == "embedded" {
                    p.muted { "The embedded mode runs takes with " code { "moocpipe process" } "; it keeps no job queue." }
                }
                div.scroll { table.jobs {
                    thead { tr { th { "Stage" } th { "Take" } th { "State" } th { "Progress" } th { "ETA" } th { "Worker" } } }
                    tbody id="jobs" {
                        @for job in &overview.jobs {
                            tr {
                                td { (job.stage) }
                                td { a href={ "/takes/" (job.take_id) } { code { (short(&job.take_id)) } } }
                                td { (job.state) " #" (job.attempt + 1) }
                                td { progress max="1" value=(job.progress) {} " " (format!("{:.0} %", job.progress * 100.0)) }
                                td { @if let Some(eta) = job.eta_seconds { (duration(eta)) } }
                                td { (job.worker.as_deref().unwrap_or("")) }
                            }
                        }
                        @if overview.jobs.is_empty() {
                            tr.empty { td colspan="6" { "No job is running." } }
                        }
                    }
                } }
            }
        }
        p.muted.updated { "Updated " span data-updated { "now" } "." }
    };
    Ok(layout("Overview", Some(&session), content))
}

/// The first 12 characters of an id.
pub fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}
