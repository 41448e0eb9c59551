//! The JSON API under `/api/v1`: what the pages show, for scripts and
//! other tools. Roles are checked by the guard from the route table.

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use moocpipe_catalog::{CourseSummary, Page, Paged, Role, Session, TakeFilter, TakeSummary};
use prometheus::{Encoder, TextEncoder};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

use crate::auth;
use crate::error::{ApiError, ErrorKind};
use crate::views;
use crate::SharedApp;

/// `POST /api/v1/session`'s body.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct LoginRequest {
    pub name: String,
    pub password: String,
}

/// Who is logged in, and the token state-changing calls carry in
/// `x-csrf-token`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SessionInfo {
    pub name: String,
    pub role: Role,
    pub csrf_token: String,
    pub expires_ms: i64,
}

impl From<&Session> for SessionInfo {
    fn from(s: &Session) -> SessionInfo {
        SessionInfo {
            name: s.name.clone(),
            role: s.role,
            csrf_token: s.csrf.clone(),
            expires_ms: s.expires_ms,
        }
    }
}

/// A page of courses.
pub type CoursePage = Paged<CourseSummary>;
/// A page of takes.
pub type TakePage = Paged<TakeSummary>;

/// How many dead letters a replay or purge moved.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Moved {
    pub stage: String,
    pub letters: u32,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ListQuery {
    page: Option<u32>,
    per_page: Option<u32>,
    course: Option<String>,
    state: Option<String>,
}

impl ListQuery {
    /// The page asked for; out of bounds is a 400, not a silent clamp.
    fn page(&self) -> Result<Page, ApiError> {
        if self.page == Some(0) {
            return Err(ApiError::new(ErrorKind::BadRequest, "page counts from 1"));
        }
        if self
            .per_page
            .is_some_and(|n| n == 0 || n > Page::MAX_PER_PAGE)
        {
            return Err(ApiError::new(
                ErrorKind::BadRequest,
                format!("per_page is 1–{}", Page::MAX_PER_PAGE),
            ));
        }
        Ok(Page::new(self.page, self.per_page))
    }
}

pub async fn login(
    State(app): State<SharedApp>,
    info: Option<Extension<ConnectInfo<SocketAddr>>>,
    body: Result<Json<LoginRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body.map_err(|e| ApiError::new(ErrorKind::BadRequest, e.body_text()))?;
    match auth::login(&app, auth::client(info), &body.name, &body.password).await? {
        Some((_, new)) => {
            let cookie = auth::session_cookie(&app, Some(&new.token));
            Ok((
                [(header::SET_COOKIE, cookie)],
                Json(SessionInfo::from(&new.session)),
            )
                .into_response())
        }
        None => Err(ApiError::new(
            ErrorKind::Unauthenticated,
            "wrong user name or password",
        )),
    }
}

pub async fn me(Extension(session): Extension<Session>) -> Json<SessionInfo> {
    Json(SessionInfo::from(&session))
}

pub async fn overview(State(app): State<SharedApp>) -> Result<Json<views::Overview>, ApiError> {
    Ok(Json(views::overview(&app).await?))
}

pub async fn courses(
    State(app): State<SharedApp>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<CoursePage>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::new(ErrorKind::BadRequest, e.body_text()))?;
    Ok(Json(app.catalog.courses(query.page()?).await?))
}

pub async fn course(
    State(app): State<SharedApp>,
    Path(course): Path<String>,
) -> Result<Json<views::CourseView>, ApiError> {
    Ok(Json(views::course(&app, &course).await?))
}

pub async fn takes(
    State(app): State<SharedApp>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<TakePage>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::new(ErrorKind::BadRequest, e.body_text()))?;
    let page = query.page()?;
    if let Some(state) = query.state.as_deref() {
        if moocpipe_catalog::TakeState::parse(state).is_none() {
            return Err(ApiError::new(
                ErrorKind::BadRequest,
                format!("no state {state:?}: one of uploaded, probing, failed_spec, error, transcoding, captioning, published, dead_lettered"),
            ));
        }
    }
    let filter = TakeFilter {
        course: query.course,
        state: query.state,
    };
    Ok(Json(app.catalog.takes(&filter, page).await?))
}

pub async fn take(
    State(app): State<SharedApp>,
    Path(take_id): Path<String>,
) -> Result<Json<views::TakeView>, ApiError> {
    Ok(Json(views::take(&app, &take_id).await?))
}

pub async fn take_jobs(
    State(app): State<SharedApp>,
    Path(take_id): Path<String>,
) -> Result<Json<Vec<views::JobView>>, ApiError> {
    if app.catalog.take(&take_id).await?.is_none() {
        return Err(ApiError::not_found(format!("take {take_id}")));
    }
    Ok(Json(views::take_jobs(&app, &take_id).await?))
}

pub async fn jobs(State(app): State<SharedApp>) -> Result<Json<Vec<views::JobView>>, ApiError> {
    Ok(Json(views::jobs(&app).await?))
}

pub async fn dead_letters(
    State(app): State<SharedApp>,
) -> Result<Json<Vec<views::DeadLetterView>>, ApiError> {
    Ok(Json(views::dead_letters(&app).await?))
}

pub async fn replay(
    State(app): State<SharedApp>,
    Path(stage): Path<String>,
) -> Result<Json<Moved>, ApiError> {
    let letters = views::dead_letter_action(&app, &stage, true).await?;
    Ok(Json(Moved { stage, letters }))
}

pub async fn purge(
    State(app): State<SharedApp>,
    Path(stage): Path<String>,
) -> Result<Json<Moved>, ApiError> {
    let letters = views::dead_letter_action(&app, &stage, false).await?;
    Ok(Json(Moved { stage, letters }))
}

pub async fn users(
    State(app): State<SharedApp>,
) -> Result<Json<Vec<moocpipe_catalog::User>>, ApiError> {
    Ok(Json(app.catalog.users().await?))
}

pub async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        crate::openapi::document().to_string(),
    )
        .into_response()
}

pub async fn healthz(State(app): State<SharedApp>) -> Response {
    match app.catalog.ping().await {
        Ok(()) => (StatusCode::OK, Json(serde_json::json!({"status": "ok"}))).into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"status": "failing", "failing": [e.to_string()]})),
        )
            .into_response(),
    }
}

pub async fn metrics(State(app): State<SharedApp>) -> Response {
    if let Some(gauge) = &app.metrics.takes {
        match app.catalog.state_counts().await {
            Ok(counts) => {
                for state in moocpipe_catalog::state::ALL {
                    let n = counts
                        .iter()
                        .find(|c| c.state == state.as_str())
                        .map_or(0, |c| c.takes);
                    gauge.with_label_values(&[state.as_str()]).set(n);
                }
            }
            Err(error) => tracing::warn!(%error, "takes by state for /metrics"),
        }
    }
    let mut buffer = Vec::new();
    let encoder = TextEncoder::new();
    match encoder.encode(&app.metrics.registry.gather(), &mut buffer) {
        Ok(()) => (
            [(header::CONTENT_TYPE, encoder.format_type().to_owned())],
            buffer,
        )
            .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// Unknown paths: JSON under `/api`, a page elsewhere.
pub async fn not_found(uri: axum::http::Uri) -> Response {
    let error = ApiError::not_found(uri.path().to_owned());
    if uri.path().starts_with("/api/") {
        error.into_response()
    } else {
        crate::error::PageError(error).into_response()
    }
}
