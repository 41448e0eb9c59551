//! Server-rendered pages. maud escapes every value it interpolates, so a
//! title or file name from a sidecar shows as text, never as markup.

pub mod courses;
pub mod dead;
pub mod login;
pub mod overview;
pub mod take;
pub mod upload;

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use maud::{html, Markup, DOCTYPE};
use moocpipe_catalog::{Role, Session};

const CSS: &str = include_str!("../../static/app.css");
const JS: &str = include_str!("../../static/app.js");
const UPLOAD_JS: &str = include_str!("../../static/upload.js");

/// Whether `role` may open the page at `path` (the route table says).
fn may_open(path: &str, role: Role) -> bool {
    crate::routes::find(&axum::http::Method::GET, path).is_some_and(|r| r.access.allows(role))
}

/// The frame of every page: header with navigation and who is logged in,
/// the content, the footer.
pub fn layout(title: &str, session: Option<&Session>, content: Markup) -> Html<String> {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · moocpipe" }
                link rel="stylesheet" href="/static/app.css";
                script src="/static/app.js" defer {}
            }
            body {
                header.top {
                    a.brand href="/overview" { "moocpipe" }
                    @if let Some(session) = session {
                        nav {
                            a href="/overview" { "Overview" }
                            a href="/courses" { "Courses" }
                            @if may_open("/upload", session.role) {
                                a href="/upload" { "Upload" }
                            }
                            @if session.role >= Role::Admin {
                                a href="/dead-letters" { "Dead letters" }
                            }
                        }
                        form.logout method="post" action="/logout" {
                            input type="hidden" name="csrf" value=(session.csrf);
                            span.who { (session.name) " (" (session.role) ")" }
                            button type="submit" { "Log out" }
                        }
                    }
                }
                main { (content) }
            }
        }
    };
    Html(markup.into_string())
}

/// A page for an error.
pub fn error_page(status: StatusCode, title: &str, message: &str) -> Html<String> {
    layout(
        title,
        None,
        html! {
            h1 { (title) }
            p.error { (message) }
            p { "HTTP " (status.as_u16()) ". " a href="/overview" { "Back to the overview" } }
        },
    )
}

pub async fn root() -> Redirect {
    Redirect::to("/overview")
}

pub async fn static_file(Path(file): Path<String>) -> Response {
    match file.as_str() {
        "app.css" => ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], CSS).into_response(),
        "app.js" => (
            [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
            JS,
        )
            .into_response(),
        "upload.js" => (
            [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
            UPLOAD_JS,
        )
            .into_response(),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

/// A state as a coloured badge the page script can update in place.
pub fn state_badge(state: &str) -> Markup {
    html! {
        span class={ "badge state-" (state) } data-state=(state) { (crate::views::state_label(state)) }
    }
}

/// A verdict (`pass`, `fail`, `cannot-tell`, `error`) as a badge.
pub fn verdict_badge(verdict: &str) -> Markup {
    html! { span class={ "badge verdict-" (verdict) } { (verdict) } }
}

/// Bytes for people.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Seconds as `m:ss` or `h:mm:ss`.
pub fn duration(seconds: f64) -> String {
    let total = seconds.max(0.0).round() as u64;
    let (h, m, s) = (total / 3600, total / 60 % 60, total % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// A time in milliseconds since the epoch, UTC, to the second.
pub fn when(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(ms / 1000)
        .map(|t| {
            format!(
                "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            )
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolated_text_is_escaped() {
        let page = layout(
            "<script>alert(1)</script>",
            None,
            html! { p { ("<script>alert(1)</script>") } },
        )
        .0;
        assert!(!page.contains("<script>alert(1)</script>"), "{page}");
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    }

    #[test]
    fn sizes_and_durations_read_well() {
        assert_eq!(size(512), "512 B");
        assert_eq!(size(1_500_000), "1.5 MB");
        assert_eq!(duration(75.4), "1:15");
        assert_eq!(duration(3725.0), "1:02:05");
        assert_eq!(when(0), "1970-01-01 00:00:00 UTC");
    }
}
