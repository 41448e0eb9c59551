//! Errors of the web application: JSON with a stable `kind` under `/api`,
//! a short page elsewhere.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use moocpipe_catalog::CatalogError;
use schemars::JsonSchema;
use serde::Serialize;

/// What went wrong, as a client can tell it apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// No session, or it expired: log in.
    Unauthenticated,
    /// The session's role may not do this.
    Forbidden,
    /// A state-changing request without the session's CSRF token.
    Csrf,
    NotFound,
    /// A stable link that expired or was revoked, or a file no longer
    /// stored.
    Gone,
    /// A published file that differs from its record.
    Changed,
    BadRequest,
    /// Well-formed, but against a rule: the course layout, a sidecar
    /// field, a size limit. The message says which and what to change.
    Invalid,
    /// The request does not fit the current state: a take of that name
    /// exists already, or an upload's parts are not all there.
    Conflict,
    /// Too many failed logins; try again later.
    RateLimited,
    /// This server has no such part (e.g. dead letters without a broker).
    Unavailable,
    /// A dependency (database, store, broker) failed.
    Internal,
}

impl ErrorKind {
    pub fn status(self) -> StatusCode {
        match self {
            ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
            ErrorKind::Forbidden | ErrorKind::Csrf => StatusCode::FORBIDDEN,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::Gone => StatusCode::GONE,
            ErrorKind::Changed => StatusCode::CONFLICT,
            ErrorKind::BadRequest => StatusCode::BAD_REQUEST,
            ErrorKind::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// The body of every API error.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ApiErrorBody {
    pub kind: ErrorKind,
    pub message: String,
}

/// An error of an API route: answered as JSON.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub kind: ErrorKind,
    pub message: String,
}

impl ApiError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> ApiError {
        ApiError {
            kind,
            message: message.into(),
        }
    }

    pub fn not_found(what: impl Into<String>) -> ApiError {
        ApiError::new(ErrorKind::NotFound, format!("{} not found", what.into()))
    }
}

impl From<CatalogError> for ApiError {
    fn from(error: CatalogError) -> ApiError {
        tracing::error!(%error, "catalog");
        ApiError::new(ErrorKind::Internal, error.to_string())
    }
}

impl From<moocpipe_control::ControlError> for ApiError {
    fn from(error: moocpipe_control::ControlError) -> ApiError {
        tracing::error!(%error, "control database");
        ApiError::new(ErrorKind::Internal, error.to_string())
    }
}

impl From<moocpipe_storage::StorageError> for ApiError {
    fn from(error: moocpipe_storage::StorageError) -> ApiError {
        tracing::error!(%error, "store");
        let kind = if error.is_transient() {
            ErrorKind::Unavailable
        } else {
            ErrorKind::Internal
        };
        ApiError::new(kind, error.to_string())
    }
}

impl From<moocpipe_storage::StorageError> for PageError {
    fn from(error: moocpipe_storage::StorageError) -> PageError {
        PageError(error.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (
            self.kind.status(),
            axum::Json(ApiErrorBody {
                kind: self.kind,
                message: self.message,
            }),
        )
            .into_response();
        if self.kind == ErrorKind::RateLimited {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("300"));
        }
        response
    }
}

/// An error of a page: a small HTML page with the same status (a missing
/// session redirects to the login page instead, see `auth`).
#[derive(Debug, Clone)]
pub struct PageError(pub ApiError);

impl From<ApiError> for PageError {
    fn from(error: ApiError) -> PageError {
        PageError(error)
    }
}

impl From<CatalogError> for PageError {
    fn from(error: CatalogError) -> PageError {
        PageError(error.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = self.0.kind.status();
        let title = match self.0.kind {
            ErrorKind::Forbidden | ErrorKind::Csrf => "Not allowed",
            ErrorKind::NotFound => "Not found",
            ErrorKind::Gone => "This link no longer works",
            ErrorKind::Changed => "This file changed",
            ErrorKind::RateLimited => "Too many attempts",
            _ => "Something went wrong",
        };
        let body = crate::pages::error_page(status, title, &self.0.message);
        (status, body).into_response()
    }
}
