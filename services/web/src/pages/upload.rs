//! The studio's upload page: a take sent from the browser straight to the
//! raw bucket (`static/upload.js` does the sending, resuming and progress),
//! then its spec verdict as soon as the probe has it. In the embedded mode
//! there is no bucket to send to, and the page says how to add takes
//! instead.

use axum::extract::{Query, State};
use axum::response::Html;
use axum::Extension;
use maud::{html, Markup};
use moocpipe_catalog::{Page, Session};
use serde::Deserialize;

use crate::error::{ErrorKind, PageError};
use crate::pages::{layout, state_badge, take, verdict_badge};
use crate::{views, SharedApp, Store};

#[derive(Debug, Default, Deserialize)]
pub struct UploadQuery {
    /// After an upload: the take whose verdict to show.
    take: Option<String>,
}

/// The take's spec verdict, or what it waits for. `data-waiting` tells the
/// script to fetch this section again once the take's record has a probe.
async fn verdict(app: &SharedApp, take_id: &str) -> Result<Markup, PageError> {
    let view = match views::take(app, take_id).await {
        Ok(view) => Some(view),
        Err(e) if e.kind == ErrorKind::NotFound => None,
        Err(e) => return Err(e.into()),
    };
    Ok(html! {
        section #verdict data-take=(take_id) data-waiting[view.as_ref().is_none_or(|v| v.probe.is_none())] {
            h2 { "Spec verdict" }
            @match &view {
                None => p.muted { "Uploaded. The take is being ingested; its verdict follows in a moment." },
                Some(v) => {
                    p {
                        a href={ "/takes/" (take_id) } { (v.summary.title) } " "
                        (state_badge(&v.summary.state)) " "
                        @if let Some(spec) = &v.summary.spec { "spec " (verdict_badge(spec)) }
                    }
                    @if v.probe.is_none() && matches!(v.summary.state.as_str(), "error" | "dead_lettered") {
                        p.error { "The take could not be processed: its page says why." }
                    } @else if v.probe.is_none() {
                        p.muted { "The probe is checking the take against the raw-footage spec (clauses 9.1–9.2)…" }
                    } @else {
                        (take::spec(v.probe.as_ref()))
                    }
                }
            }
        }
    })
}

fn embedded(data: &std::path::Path) -> Markup {
    let data = data.display().to_string();
    html! {
        h1 { "Upload a take" }
        p {
            "Uploads from the browser need the distributed mode: "
            code { "moocpipe serve --database-url …" } " with the studio's raw bucket in S3 "
            "(see the README, “Uploading from the studio”). This server runs embedded, over the data folder "
            code { (data) } ", which has no bucket to send a take to."
        }
        h2 { "Adding takes here" }
        p { "Put the take in its course folder and process it; this dashboard shows it within seconds:" }
        pre { code {
            "moocpipe process --data " (data) " physics-101/\n"
            "moocpipe process --data " (data) " --course physics-101 --module 1 --lesson 2 take-01.mov"
        } }
        p.muted {
            "Layout: " code { "<course>/<NN-module>/<NN-lesson>/<take>.mov" } " with an optional sidecar "
            code { "<take>.json" } " ({\"title\", \"author_email\", \"language\"})."
        }
    }
}

pub async fn page(
    State(app): State<SharedApp>,
    Extension(session): Extension<Session>,
    Query(query): Query<UploadQuery>,
) -> Result<Html<String>, PageError> {
    let Some(uploads) = &app.uploads else {
        let data = match &app.store {
            Store::Local(store) => store.root().to_path_buf(),
            Store::S3(_) => std::path::PathBuf::from("<data>"),
        };
        return Ok(layout("Upload a take", Some(&session), embedded(&data)));
    };
    let verdict = match &query.take {
        Some(take_id) => Some(verdict(&app, take_id).await?),
        None => None,
    };
    let courses = app.catalog.courses(Page::new(Some(1), Some(500))).await?;
    let bucket = uploads.config.store.bucket();
    let content = html! {
        h1 { "Upload a take" }
        section.upload #upload data-csrf=(session.csrf) data-bucket=(bucket) data-state="idle" {
            p.muted {
                "The take goes from this browser straight to the studio's raw bucket "
                code { (bucket) } ", in parts, several at a time. A reload or a lost connection "
                "loses nothing: choose the same file again and only the missing parts are sent. "
                "When it is in, the probe checks it at once and its verdict appears below."
            }
            p #upload-unfinished.warning hidden {}
            form #upload-form {
                fieldset {
                    legend { "The take" }
                    label { "File (mov, mp4, m4v, mxf, mkv, avi; up to 50 GB)"
                        input #upload-file type="file" name="file" accept=".mov,.mp4,.m4v,.mxf,.mkv,.avi" required;
                    }
                    label { "Name in the bucket"
                        input name="file_name" required placeholder="take-01.mov" autocomplete="off";
                    }
                }
                fieldset {
                    legend { "Where it goes" }
                    label { "Course"
                        input name="course" list="upload-courses" required placeholder="physics-101" autocomplete="off";
                    }
                    datalist #upload-courses {
                        @for c in &courses.items { option value=(c.course) { (c.title.as_deref().unwrap_or(&c.course)) } }
                    }
                    label { "Kind"
                        select name="kind" {
                            option value="lecture" selected { "lecture (in a lesson)" }
                            option value="promo" { "promo / trailer" }
                            option value="closing" { "closing message" }
                        }
                    }
                    label.lecture-only { "Module folder"
                        input name="module" list="upload-modules" placeholder="01-mechanics" autocomplete="off";
                    }
                    datalist #upload-modules {}
                    label.lecture-only { "Lesson folder"
                        input name="lesson" list="upload-lessons" placeholder="02-newton" autocomplete="off";
                    }
                    datalist #upload-lessons {}
                    p.muted { "Folders are " code { "NN" } " or " code { "NN-name" } " (one or two digits): choose one the course has, or type a new one." }
                }
                fieldset {
                    legend { "Sidecar" }
                    label { "Title"
                        input name="title" placeholder="Newton's laws" autocomplete="off";
                    }
                    label { "Language"
                        select name="language" {
                            option value="" { "—" }
                            option value="kk" { "kk (Kazakh)" }
                            option value="ru" { "ru (Russian)" }
                            option value="en" { "en (English)" }
                        }
                    }
                    label { "Author's e-mail"
                        input name="author_email" type="email" placeholder="lecturer@university.kz" autocomplete="off";
                    }
                }
                p #upload-key.muted {}
                p #upload-error.error role="alert" hidden {}
                div.actions { button #upload-start type="submit" { "Check and upload" } }
            }
            div #upload-resume hidden {
                p #upload-resume-text {}
                div.actions {
                    button #upload-resume-go type="button" { "Resume" }
                    button #upload-restart type="button" { "Start over" }
                }
            }
            section #upload-progress hidden {
                h2 #upload-title {}
                progress #upload-bar max="1" value="0" {}
                p #upload-status {}
                div.actions {
                    button #upload-pause type="button" { "Pause" }
                    button #upload-continue type="button" hidden { "Resume" }
                }
            }
            @if let Some(v) = verdict { (v) } @else { section #verdict hidden {} }
        }
        script src="/static/upload.js" defer {}
    };
    Ok(layout("Upload a take", Some(&session), content))
}
