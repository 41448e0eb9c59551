//! The dead letters (admin only): what each stage gave up on and why, with
//! replay and purge per stage.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};
use axum::{Extension, Form};
use maud::html;
use moocpipe_catalog::Session;
use serde::Deserialize;

use crate::auth::{self, see_other};
use crate::error::PageError;
use crate::pages::layout;
use crate::pages::overview::short;
use crate::{views, SharedApp};

#[derive(Debug, Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    csrf: String,
}

pub async fn page(
    State(app): State<SharedApp>,
    Extension(session): Extension<Session>,
) -> Result<Html<String>, PageError> {
    let letters = views::dead_letters(&app).await?;
    let content = html! {
        h1 { "Dead letters" }
        p.muted { "Jobs a stage gave up on after its retries. Replay sends a stage's letters back to its queue (after fixing the cause); purge drops them." }
        @for stage in ["probe", "transcode", "caption", "report"] {
            @let of_stage: Vec<_> = letters.iter().filter(|l| l.stage == stage).collect();
            section.stage {
                h2 { (stage) " (" (of_stage.len()) ")" }
                @if of_stage.is_empty() {
                    p.muted { "None." }
                } @else {
                    div.scroll {
                        table.dead {
                            thead { tr { th { "Take" } th { "Reason" } th { "Kind" } th.num { "Attempts" } } }
                            tbody {
                                @for l in &of_stage {
                                    tr {
                                        td { @if let Some(id) = &l.take_id { a href={ "/takes/" (id) } { code { (short(id)) } } } }
                                        td { (l.reason) }
                                        td { (l.kind.as_deref().unwrap_or("")) }
                                        td.num { (l.attempts) }
                                    }
                                }
                            }
                        }
                    }
                    div.actions {
                        form method="post" action={ "/dead-letters/" (stage) "/replay" } {
                            input type="hidden" name="csrf" value=(session.csrf);
                            button type="submit" { "Replay " (stage) }
                        }
                        form method="post" action={ "/dead-letters/" (stage) "/purge" } data-confirm={ "Drop every dead letter of " (stage) "?" } {
                            input type="hidden" name="csrf" value=(session.csrf);
                            button.danger type="submit" { "Purge " (stage) }
                        }
                    }
                }
            }
        }
    };
    Ok(layout("Dead letters", Some(&session), content))
}

async fn act(
    app: SharedApp,
    session: Session,
    headers: HeaderMap,
    stage: String,
    form: ActionForm,
    replay: bool,
) -> Result<Response, PageError> {
    auth::check_form_csrf(&session, &form.csrf, &headers)?;
    views::dead_letter_action(&app, &stage, replay).await?;
    Ok(see_other("/dead-letters").into_response())
}

pub async fn replay(
    State(app): State<SharedApp>,
    Extension(session): Extension<Session>,
    headers: HeaderMap,
    Path(stage): Path<String>,
    Form(form): Form<ActionForm>,
) -> Result<Response, PageError> {
    act(app, session, headers, stage, form, true).await
}

pub async fn purge(
    State(app): State<SharedApp>,
    Extension(session): Extension<Session>,
    headers: HeaderMap,
    Path(stage): Path<String>,
    Form(form): Form<ActionForm>,
) -> Result<Response, PageError> {
    act(app, session, headers, stage, form, false).await
}
