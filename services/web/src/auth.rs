//! Who is asking: the session cookie, the role check every route gets from
//! the route table, CSRF tokens, and the login rate limit.

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use moocpipe_catalog::{Session, User};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::error::{ApiError, ErrorKind, PageError};
use crate::routes::{self, Access, Kind};
use crate::SharedApp;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "moocpipe_session";
/// The header API clients send the session's CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Failed logins allowed per client address and per user name in
/// [`LOGIN_WINDOW`] before further attempts get 429.
pub const LOGIN_FAILURES: usize = 5;
pub const LOGIN_WINDOW: Duration = Duration::from_secs(300);

/// Failed logins, kept in memory per server (behind several servers, the
/// proxy in front should limit too; see deploy/README.md).
#[derive(Debug, Default)]
pub struct LoginLimiter {
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl LoginLimiter {
    fn keys(ip: Option<SocketAddr>, name: &str) -> [String; 2] {
        [
            format!("ip:{}", ip.map(|a| a.ip().to_string()).unwrap_or_default()),
            format!("user:{name}"),
        ]
    }

    /// Whether a login for `name` from `ip` may be tried now.
    pub fn allowed(&self, ip: Option<SocketAddr>, name: &str) -> bool {
        let now = Instant::now();
        let Ok(mut failures) = self.failures.lock() else {
            return true;
        };
        Self::keys(ip, name).iter().all(|key| {
            let Some(times) = failures.get_mut(key) else {
                return true;
            };
            while times
                .front()
                .is_some_and(|t| now.duration_since(*t) > LOGIN_WINDOW)
            {
                times.pop_front();
            }
            times.len() < LOGIN_FAILURES
        })
    }

    pub fn failed(&self, ip: Option<SocketAddr>, name: &str) {
        if let Ok(mut failures) = self.failures.lock() {
            if failures.len() > 100_000 {
                failures.clear();
            }
            for key in Self::keys(ip, name) {
                failures.entry(key).or_default().push_back(Instant::now());
            }
        }
    }
}

/// The session cookie's value in a request, if any.
pub fn session_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.to_owned())
}

/// The `Set-Cookie` value that stores `token` (or, with `None`, clears it).
pub fn session_cookie(app: &SharedApp, token: Option<&str>) -> String {
    let secure = if app.config.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    match token {
        Some(token) => format!(
            "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
            app.config.session_ttl.as_secs()
        ),
        None => format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}"),
    }
}

/// Whether a browser's request comes from our own pages: an `Origin` (or,
/// failing that, `Referer`) naming another host is refused. Requests with
/// neither (API clients) pass; they carry the CSRF token instead.
pub fn same_origin(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return true;
    };
    let from = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|h| h.to_str().ok());
    match from {
        None | Some("null") => true,
        Some(url) => url
            .split_once("://")
            .map(|(_, rest)| rest.split('/').next() == Some(host))
            .unwrap_or(false),
    }
}

/// Tries a login: `Ok(None)` for a wrong name or password, `Err` when the
/// client tried too often.
pub async fn login(
    app: &SharedApp,
    ip: Option<SocketAddr>,
    name: &str,
    password: &str,
) -> Result<Option<(User, moocpipe_catalog::users::NewSession)>, ApiError> {
    if !app.limiter.allowed(ip, name) {
        tracing::warn!(user = %name, "login refused: too many failures");
        return Err(ApiError::new(
            ErrorKind::RateLimited,
            format!(
                "too many failed logins; try again in {} minutes",
                LOGIN_WINDOW.as_secs() / 60
            ),
        ));
    }
    match app.catalog.check_login(name, password).await? {
        Some(user) => {
            let session = app
                .catalog
                .open_session(&user, app.config.session_ttl)
                .await?;
            tracing::info!(user = %user.name, role = %user.role, "logged in");
            Ok(Some((user, session)))
        }
        None => {
            app.limiter.failed(ip, name);
            tracing::warn!(user = %name, "login failed");
            Ok(None)
        }
    }
}

/// The guard every request passes: finds the route in the table, and for
/// a route that needs a role, the session and its role (401 without a
/// session — a page redirects to the login form instead — and 403 for a
/// role below the route's); a state-changing API call must carry the
/// session's CSRF token in `x-csrf-token`, a form its `csrf` field (checked
/// by the form's handler). The session goes into the request's extensions.
pub async fn guard(State(app): State<SharedApp>, mut request: Request, next: Next) -> Response {
    let Some(path) = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
    else {
        return next.run(request).await;
    };
    let method = request.method().clone();
    let Some(route) = routes::find(&method, &path) else {
        return next.run(request).await;
    };
    if route.access == Access::Public {
        return next.run(request).await;
    }
    let session = match session_token(request.headers()) {
        Some(token) => match app.catalog.session(&token).await {
            Ok(session) => session,
            Err(e) => return refuse(route.kind, ApiError::from(e), &request),
        },
        None => None,
    };
    let Some(session) = session else {
        return refuse(
            route.kind,
            ApiError::new(ErrorKind::Unauthenticated, "log in first"),
            &request,
        );
    };
    if !route.access.allows(session.role) {
        return refuse(
            route.kind,
            ApiError::new(
                ErrorKind::Forbidden,
                format!(
                    "this needs {}; you are {}",
                    route.access.needs(),
                    session.role
                ),
            ),
            &request,
        );
    }
    if route.kind == Kind::Api && method != Method::GET && method != Method::HEAD {
        let sent = request
            .headers()
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok());
        if sent != Some(session.csrf.as_str()) {
            return refuse(
                route.kind,
                ApiError::new(
                    ErrorKind::Csrf,
                    format!("send the session's CSRF token in {CSRF_HEADER}"),
                ),
                &request,
            );
        }
    }
    request.extensions_mut().insert(session);
    next.run(request).await
}

fn refuse(kind: Kind, error: ApiError, request: &Request) -> Response {
    match kind {
        Kind::Api => error.into_response(),
        Kind::Page if error.kind == ErrorKind::Unauthenticated => {
            let next = request
                .uri()
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/");
            let to = format!("/login?next={}", percent_encode(next));
            Redirect::to(&to).into_response()
        }
        Kind::Page => PageError(error).into_response(),
    }
}

/// Percent-encodes everything but unreserved characters and `/`.
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A form's CSRF field against the session's token.
pub fn check_form_csrf(
    session: &Session,
    sent: &str,
    headers: &HeaderMap,
) -> Result<(), PageError> {
    if sent == session.csrf && same_origin(headers) {
        Ok(())
    } else {
        Err(PageError(ApiError::new(
            ErrorKind::Csrf,
            "this form is stale or came from another site; reload the page and try again",
        )))
    }
}

/// The client's address, when the server was started with connect info.
pub fn client(info: Option<axum::Extension<ConnectInfo<SocketAddr>>>) -> Option<SocketAddr> {
    info.map(|axum::Extension(ConnectInfo(addr))| addr)
}

/// `303 See Other` to `to`.
pub fn see_other(to: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_owned())]).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            "a=1; moocpipe_session=abc; b=2".parse().expect("header"),
        );
        assert_eq!(session_token(&headers).as_deref(), Some("abc"));
        assert_eq!(session_token(&HeaderMap::new()), None);
    }

    #[test]
    fn a_form_from_another_site_is_refused() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, "dash.uni:8080".parse().expect("host"));
        assert!(same_origin(&headers));
        headers.insert(
            header::ORIGIN,
            "http://dash.uni:8080".parse().expect("origin"),
        );
        assert!(same_origin(&headers));
        headers.insert(
            header::ORIGIN,
            "https://evil.example".parse().expect("origin"),
        );
        assert!(!same_origin(&headers));
    }

    #[test]
    fn failed_logins_are_limited_per_address_and_name() {
        let limiter = LoginLimiter::default();
        let ip: Option<SocketAddr> = "10.0.0.1:1".parse().ok();
        for _ in 0..LOGIN_FAILURES {
            assert!(limiter.allowed(ip, "ana"));
            limiter.failed(ip, "ana");
        }
        assert!(!limiter.allowed(ip, "ana"));
        assert!(!limiter.allowed(ip, "bob"), "same address");
        assert!(
            !limiter.allowed("10.0.0.2:1".parse().ok(), "ana"),
            "same name"
        );
        assert!(limiter.allowed("10.0.0.2:1".parse().ok(), "bob"));
    }
}
