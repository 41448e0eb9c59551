//! The login form, logging in and out.

use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form};
use maud::html;
use moocpipe_catalog::Session;
use serde::Deserialize;
use std::net::SocketAddr;

use crate::auth;
use crate::error::PageError;
use crate::pages::layout;
use crate::SharedApp;

#[derive(Debug, Default, Deserialize)]
pub struct Next {
    next: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    name: String,
    password: String,
    #[serde(default)]
    next: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// Only a path on this server: never another site (an open redirect).
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_owned(),
        _ => "/overview".to_owned(),
    }
}

fn form_page(next: &str, message: Option<&str>) -> axum::response::Html<String> {
    layout(
        "Log in",
        None,
        html! {
            section.login {
                h1 { "Log in" }
                p.muted { "The MOOC studio's pipeline: takes, courses, renditions and captions." }
                @if let Some(message) = message {
                    p.error role="alert" { (message) }
                }
                form method="post" action="/login" {
                    input type="hidden" name="next" value=(next);
                    label { "User name" input name="name" autocomplete="username" required autofocus; }
                    label { "Password" input name="password" type="password" autocomplete="current-password" required; }
                    button type="submit" { "Log in" }
                }
            }
        },
    )
}

pub async fn form(Query(query): Query<Next>) -> impl IntoResponse {
    form_page(&safe_next(query.next.as_deref()), None)
}

pub async fn submit(
    State(app): State<SharedApp>,
    info: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let next = safe_next(form.next.as_deref());
    if !auth::same_origin(&headers) {
        return (
            StatusCode::FORBIDDEN,
            form_page(&next, Some("This form came from another site.")),
        )
            .into_response();
    }
    match auth::login(&app, auth::client(info), form.name.trim(), &form.password).await {
        Ok(Some((_, new))) => (
            StatusCode::SEE_OTHER,
            [
                (
                    header::SET_COOKIE,
                    auth::session_cookie(&app, Some(&new.token)),
                ),
                (header::LOCATION, next),
            ],
        )
            .into_response(),
        Ok(None) => (
            StatusCode::UNAUTHORIZED,
            form_page(&next, Some("Wrong user name or password.")),
        )
            .into_response(),
        Err(error) => (error.kind.status(), form_page(&next, Some(&error.message))).into_response(),
    }
}

pub async fn logout(
    State(app): State<SharedApp>,
    Extension(session): Extension<Session>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Result<Response, PageError> {
    auth::check_form_csrf(&session, &form.csrf, &headers)?;
    if let Some(token) = auth::session_token(&headers) {
        app.catalog.close_session(&token).await?;
    }
    Ok((
        StatusCode::SEE_OTHER,
        [
            (header::SET_COOKIE, auth::session_cookie(&app, None)),
            (header::LOCATION, "/login".to_owned()),
        ],
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn after_login_only_local_paths() {
        assert_eq!(safe_next(Some("/courses/x")), "/courses/x");
        assert_eq!(safe_next(Some("//evil.example/")), "/overview");
        assert_eq!(safe_next(Some("https://evil.example/")), "/overview");
        assert_eq!(safe_next(None), "/overview");
    }
}
