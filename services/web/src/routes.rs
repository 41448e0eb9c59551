//! Every route in one table: its method and path, whether it is a page or
//! API, the least role it needs, and for the API what it answers. The
//! guard (`auth::guard`) enforces the roles from this table, the OpenAPI
//! document (`openapi`) is written from it, and the tests walk it.

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use moocpipe_catalog::Role;
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry};
use schemars::{JsonSchema, Schema, SchemaGenerator};
use std::time::Instant;

use crate::error::{ApiError, ErrorKind};
use crate::{api, auth, links, media, pages, upload, views, SharedApp};

/// A page (HTML) or an API route (JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Page,
    Api,
}

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (login, health, the OpenAPI document, static files).
    Public,
    /// A session whose role is at least this.
    Role(Role),
    /// A session with one of these roles, and no other: the studio's own
    /// actions (uploading takes), which reviewers do not take.
    Roles(&'static [Role]),
}

impl Access {
    /// Whether a session of `role` may call the route.
    pub fn allows(self, role: Role) -> bool {
        match self {
            Access::Public => true,
            Access::Role(least) => role >= least,
            Access::Roles(roles) => roles.contains(&role),
        }
    }

    /// Who may, in words: "the caidd role or a higher one", "the studio or
    /// admin role".
    pub fn needs(self) -> String {
        match self {
            Access::Public => "no session".to_owned(),
            Access::Role(least) => format!("the {least} role or a higher one"),
            Access::Roles(roles) => {
                let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
                format!("the {} role", names.join(" or "))
            }
        }
    }
}

/// A query or path parameter of an API route.
#[derive(Debug, Clone, Copy)]
pub struct Param {
    pub name: &'static str,
    pub in_path: bool,
    /// `string` or `integer`.
    pub ty: &'static str,
    pub description: &'static str,
    /// The values it may take, when they are few.
    pub values: &'static [&'static str],
}

type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

/// One route.
#[derive(Debug, Clone, Copy)]
pub struct RouteSpec {
    pub method: &'static str,
    /// In axum's syntax (`/api/v1/takes/{take_id}`), which is OpenAPI's.
    pub path: &'static str,
    pub kind: Kind,
    pub access: Access,
    pub summary: &'static str,
    pub params: &'static [Param],
    /// The JSON body it answers with (API routes).
    pub response: Option<SchemaFn>,
    /// The JSON body it takes (API routes).
    pub body: Option<SchemaFn>,
}

fn schema<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    generator.subschema_for::<T>()
}

const PAGE_PARAMS: [Param; 2] = [
    Param {
        name: "page",
        in_path: false,
        ty: "integer",
        description: "1-based page number",
        values: &[],
    },
    Param {
        name: "per_page",
        in_path: false,
        ty: "integer",
        description: "items per page, 1–500 (default 50)",
        values: &[],
    },
];
const TAKE_ID: Param = Param {
    name: "take_id",
    in_path: true,
    ty: "string",
    description: "the take's id",
    values: &[],
};
const COURSE: Param = Param {
    name: "course",
    in_path: true,
    ty: "string",
    description: "the course's folder name",
    values: &[],
};
const LINK_ID: Param = Param {
    name: "link_id",
    in_path: true,
    ty: "string",
    description: "the link's id (not its token)",
    values: &[],
};
const STAGE: Param = Param {
    name: "stage",
    in_path: true,
    ty: "string",
    description: "the stage whose dead letters",
    values: &["probe", "transcode", "caption", "report"],
};

const fn page(
    method: &'static str,
    path: &'static str,
    access: Access,
    summary: &'static str,
) -> RouteSpec {
    RouteSpec {
        method,
        path,
        kind: Kind::Page,
        access,
        summary,
        params: &[],
        response: None,
        body: None,
    }
}

const fn api(
    method: &'static str,
    path: &'static str,
    least: Role,
    summary: &'static str,
    params: &'static [Param],
    response: SchemaFn,
) -> RouteSpec {
    RouteSpec {
        method,
        path,
        kind: Kind::Api,
        access: Access::Role(least),
        summary,
        params,
        response: Some(response),
        body: None,
    }
}

const STUDIO: Access = Access::Role(Role::Studio);
const ADMIN: Access = Access::Role(Role::Admin);
/// The studio's own work (uploading takes): the studio, and admins who
/// stand in for it; reviewers (CAIDD) only read.
const UPLOADERS: Access = Access::Roles(&[Role::Studio, Role::Admin]);

const UPLOAD_ID: Param = Param {
    name: "upload_id",
    in_path: true,
    ty: "string",
    description: "the multipart upload's id, as its creation answered",
    values: &[],
};

/// An API route of the studio's uploads: studio or admin only, with the
/// JSON body it takes.
const fn upload_api(
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    params: &'static [Param],
    response: SchemaFn,
    body: Option<SchemaFn>,
) -> RouteSpec {
    RouteSpec {
        method,
        path,
        kind: Kind::Api,
        access: UPLOADERS,
        summary,
        params,
        response: Some(response),
        body,
    }
}

/// Every route of the application.
pub const ROUTES: &[RouteSpec] = &[
    page("GET", "/", Access::Public, "to the overview"),
    page("GET", "/login", Access::Public, "the login form"),
    page("POST", "/login", Access::Public, "log in"),
    page("POST", "/logout", STUDIO, "log out"),
    page(
        "GET",
        "/healthz",
        Access::Public,
        "the server and its catalog answer",
    ),
    page("GET", "/metrics", Access::Public, "Prometheus metrics"),
    page(
        "GET",
        "/static/{file}",
        Access::Public,
        "style sheet and script",
    ),
    page(
        "GET",
        "/overview",
        STUDIO,
        "takes by state, failing rules, running jobs",
    ),
    page("GET", "/courses", STUDIO, "every course and its readiness"),
    page(
        "GET",
        "/courses/{course}",
        STUDIO,
        "a course: modules, lessons, takes, segment report",
    ),
    page(
        "GET",
        "/takes/{take_id}",
        STUDIO,
        "a take: spec, QC, player, downloads, jobs",
    ),
    page(
        "GET",
        "/media/{take_id}/{*file}",
        STUDIO,
        "a file a take's record names",
    ),
    page(
        "GET",
        "/l/{token}",
        Access::Public,
        "a stable link: a take's read-only page, or an object",
    ),
    page(
        "GET",
        "/l/{token}/{*path}",
        Access::Public,
        "a file of a stable link's take (302 to a presigned URL, or the file)",
    ),
    page(
        "POST",
        "/takes/{take_id}/links",
        ADMIN,
        "issue the take's link",
    ),
    page("POST", "/links/{link_id}/revoke", ADMIN, "revoke a link"),
    page(
        "POST",
        "/links/{link_id}/reissue",
        ADMIN,
        "revoke a link and issue the next",
    ),
    page(
        "GET",
        "/dead-letters",
        ADMIN,
        "the dead letters of every stage",
    ),
    page(
        "POST",
        "/dead-letters/{stage}/replay",
        ADMIN,
        "replay a stage's dead letters",
    ),
    page(
        "POST",
        "/dead-letters/{stage}/purge",
        ADMIN,
        "purge a stage's dead letters",
    ),
    RouteSpec {
        method: "GET",
        path: "/api/openapi.json",
        kind: Kind::Api,
        access: Access::Public,
        summary: "this document",
        params: &[],
        response: None,
        body: None,
    },
    RouteSpec {
        method: "POST",
        path: "/api/v1/session",
        kind: Kind::Api,
        access: Access::Public,
        summary: "log in: sets the session cookie, answers the CSRF token",
        params: &[],
        response: Some(schema::<api::SessionInfo>),
        body: Some(schema::<api::LoginRequest>),
    },
    api(
        "GET",
        "/api/v1/me",
        Role::Studio,
        "who is logged in",
        &[],
        schema::<api::SessionInfo>,
    ),
    api(
        "GET",
        "/api/v1/overview",
        Role::Studio,
        "takes by state, failing rules this week, running jobs",
        &[],
        schema::<views::Overview>,
    ),
    api(
        "GET",
        "/api/v1/courses",
        Role::Studio,
        "courses with their readiness",
        &PAGE_PARAMS,
        schema::<api::CoursePage>,
    ),
    api(
        "GET",
        "/api/v1/courses/{course}",
        Role::Studio,
        "a course with its takes and segment report",
        &[COURSE],
        schema::<views::CourseView>,
    ),
    api(
        "GET",
        "/api/v1/takes",
        Role::Studio,
        "takes, newest change first",
        &[
            PAGE_PARAMS[0],
            PAGE_PARAMS[1],
            Param {
                name: "course",
                in_path: false,
                ty: "string",
                description: "only this course's",
                values: &[],
            },
            Param {
                name: "state",
                in_path: false,
                ty: "string",
                description: "only takes in this state",
                values: &[
                    "uploaded",
                    "probing",
                    "failed_spec",
                    "error",
                    "transcoding",
                    "captioning",
                    "published",
                    "dead_lettered",
                ],
            },
        ],
        schema::<api::TakePage>,
    ),
    api(
        "GET",
        "/api/v1/takes/{take_id}",
        Role::Studio,
        "a take with its records",
        &[TAKE_ID],
        schema::<views::TakeView>,
    ),
    api(
        "GET",
        "/api/v1/takes/{take_id}/jobs",
        Role::Studio,
        "a take's jobs and their runs",
        &[TAKE_ID],
        schema::<Vec<views::JobView>>,
    ),
    api(
        "GET",
        "/api/v1/takes/{take_id}/links",
        Role::Caidd,
        "a take's stable links (the live link's URL for admins)",
        &[TAKE_ID],
        schema::<Vec<views::LinkView>>,
    ),
    api(
        "POST",
        "/api/v1/takes/{take_id}/links",
        Role::Admin,
        "issue the take's link (its live one when it has one)",
        &[TAKE_ID],
        schema::<views::LinkView>,
    ),
    api(
        "POST",
        "/api/v1/links/{link_id}/revoke",
        Role::Admin,
        "revoke a link: it answers 410 from now on",
        &[LINK_ID],
        schema::<views::LinkView>,
    ),
    api(
        "POST",
        "/api/v1/links/{link_id}/reissue",
        Role::Admin,
        "revoke a link and issue its scope's next one",
        &[LINK_ID],
        schema::<views::LinkView>,
    ),
    api(
        "GET",
        "/api/v1/jobs",
        Role::Studio,
        "jobs running now, with progress and ETA",
        &[],
        schema::<Vec<views::JobView>>,
    ),
    api(
        "GET",
        "/api/v1/dead-letters",
        Role::Admin,
        "dead letters of every stage",
        &[],
        schema::<Vec<views::DeadLetterView>>,
    ),
    api(
        "POST",
        "/api/v1/dead-letters/{stage}/replay",
        Role::Admin,
        "send a stage's dead letters back to its queue",
        &[STAGE],
        schema::<api::Moved>,
    ),
    api(
        "POST",
        "/api/v1/dead-letters/{stage}/purge",
        Role::Admin,
        "drop a stage's dead letters",
        &[STAGE],
        schema::<api::Moved>,
    ),
    page(
        "GET",
        "/upload",
        UPLOADERS,
        "upload a take from the browser, then see its spec verdict",
    ),
    upload_api(
        "POST",
        "/api/v1/uploads",
        "check where a take goes and its sidecar, write the sidecar, start a multipart upload to the raw bucket",
        &[],
        schema::<upload::UploadCreated>,
        Some(schema::<upload::NewUpload>),
    ),
    upload_api(
        "GET",
        "/api/v1/uploads/folders/{course}",
        "a course's module and lesson folders in the raw bucket",
        &[COURSE],
        schema::<upload::CourseFolders>,
        None,
    ),
    upload_api(
        "POST",
        "/api/v1/uploads/{upload_id}/parts",
        "presigned URLs to PUT parts of an upload straight to the raw bucket",
        &[UPLOAD_ID],
        schema::<upload::PartUrls>,
        Some(schema::<upload::PartsWanted>),
    ),
    upload_api(
        "GET",
        "/api/v1/uploads/{upload_id}/parts",
        "the parts the raw bucket holds for an unfinished upload (to resume it)",
        &[
            UPLOAD_ID,
            Param {
                name: "key",
                in_path: false,
                ty: "string",
                description: "the upload's key, as its creation answered",
                values: &[],
            },
        ],
        schema::<upload::StoredParts>,
        None,
    ),
    upload_api(
        "POST",
        "/api/v1/uploads/{upload_id}/complete",
        "join the parts into the take and send its ingest job; answers the take id",
        &[UPLOAD_ID],
        schema::<upload::UploadCompleted>,
        Some(schema::<upload::CompleteUpload>),
    ),
    upload_api(
        "POST",
        "/api/v1/uploads/{upload_id}/abort",
        "drop an unfinished upload, its parts and its sidecar",
        &[UPLOAD_ID],
        schema::<upload::UploadAborted>,
        Some(schema::<upload::AbortUpload>),
    ),
    api(
        "GET",
        "/api/v1/users",
        Role::Admin,
        "users and their roles",
        &[],
        schema::<Vec<moocpipe_catalog::User>>,
    ),
];

/// The route `method path` (path as matched, in the table's syntax).
pub fn find(method: &Method, path: &str) -> Option<&'static RouteSpec> {
    ROUTES
        .iter()
        .find(|r| r.path == path && r.method == method.as_str())
}

/// Request counts and latencies by route (the table's path: few labels).
pub struct HttpMetrics {
    pub registry: Registry,
    requests: Option<IntCounterVec>,
    seconds: Option<HistogramVec>,
    /// Takes per state in the catalog, set at each scrape.
    pub takes: Option<IntGaugeVec>,
    /// Requests through stable links, by what they got.
    links: Option<IntCounterVec>,
}

impl HttpMetrics {
    pub fn new() -> HttpMetrics {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "moocpipe_http_requests_total",
                "HTTP requests by route and status class",
            ),
            &["route", "status"],
        )
        .ok()
        .filter(|c| registry.register(Box::new(c.clone())).is_ok());
        let seconds = HistogramVec::new(
            HistogramOpts::new("moocpipe_http_request_seconds", "Time to answer, by route")
                .buckets(vec![
                    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
                ]),
            &["route"],
        )
        .ok()
        .filter(|h| registry.register(Box::new(h.clone())).is_ok());
        let takes = IntGaugeVec::new(
            Opts::new(
                "moocpipe_takes",
                "Takes in the catalog by state (read at each scrape)",
            ),
            &["state"],
        )
        .ok()
        .filter(|g| registry.register(Box::new(g.clone())).is_ok());
        let links = IntCounterVec::new(
            Opts::new(
                "moocpipe_link_requests_total",
                "Requests through stable links: page, download, playlist, segment, \
                 refused (unknown, expired or revoked), changed (the file differs from its record)",
            ),
            &["outcome"],
        )
        .ok()
        .filter(|c| registry.register(Box::new(c.clone())).is_ok());
        HttpMetrics {
            registry,
            requests,
            seconds,
            takes,
            links,
        }
    }

    /// Counts one request through a stable link.
    pub fn link(&self, outcome: &'static str) {
        if let Some(c) = &self.links {
            c.with_label_values(&[outcome]).inc();
        }
    }
}

impl Default for HttpMetrics {
    fn default() -> Self {
        HttpMetrics::new()
    }
}

async fn track(State(app): State<SharedApp>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let started = Instant::now();
    let response = next.run(request).await;
    let status = format!("{}xx", response.status().as_u16() / 100);
    if let Some(c) = &app.metrics.requests {
        c.with_label_values(&[route.as_str(), status.as_str()])
            .inc();
    }
    if let Some(h) = &app.metrics.seconds {
        h.with_label_values(&[route.as_str()])
            .observe(started.elapsed().as_secs_f64());
    }
    response
}

/// A route the table does not know is refused: every route must say who
/// may call it.
async fn unlisted(State(_app): State<SharedApp>, request: Request, next: Next) -> Response {
    // A known path with another method is axum's 405, not ours to refuse.
    let listed = request
        .extensions()
        .get::<MatchedPath>()
        .is_none_or(|p| ROUTES.iter().any(|r| r.path == p.as_str()));
    if listed {
        next.run(request).await
    } else {
        ApiError::new(ErrorKind::Forbidden, "this route has no access rule").into_response()
    }
}

pub fn router(app: SharedApp) -> Router {
    Router::new()
        .route("/", get(pages::root))
        .route("/login", get(pages::login::form).post(pages::login::submit))
        .route("/logout", post(pages::login::logout))
        .route("/healthz", get(api::healthz))
        .route("/metrics", get(api::metrics))
        .route("/static/{file}", get(pages::static_file))
        .route("/overview", get(pages::overview::page))
        .route("/courses", get(pages::courses::list))
        .route("/courses/{course}", get(pages::courses::course))
        .route("/takes/{take_id}", get(pages::take::page))
        .route("/media/{take_id}/{*file}", get(media::file))
        .route("/l/{token}", get(links::open))
        .route("/l/{token}/{*path}", get(links::file))
        .route("/takes/{take_id}/links", post(links::issue_form))
        .route("/links/{link_id}/revoke", post(links::revoke_form))
        .route("/links/{link_id}/reissue", post(links::reissue_form))
        .route("/dead-letters", get(pages::dead::page))
        .route("/dead-letters/{stage}/replay", post(pages::dead::replay))
        .route("/dead-letters/{stage}/purge", post(pages::dead::purge))
        .route("/api/openapi.json", get(api::openapi))
        .route("/api/v1/session", post(api::login))
        .route("/api/v1/me", get(api::me))
        .route("/api/v1/overview", get(api::overview))
        .route("/api/v1/courses", get(api::courses))
        .route("/api/v1/courses/{course}", get(api::course))
        .route("/api/v1/takes", get(api::takes))
        .route("/api/v1/takes/{take_id}", get(api::take))
        .route("/api/v1/takes/{take_id}/jobs", get(api::take_jobs))
        .route(
            "/api/v1/takes/{take_id}/links",
            get(links::list_api).post(links::issue_api),
        )
        .route("/api/v1/links/{link_id}/revoke", post(links::revoke_api))
        .route("/api/v1/links/{link_id}/reissue", post(links::reissue_api))
        .route("/api/v1/jobs", get(api::jobs))
        .route("/api/v1/dead-letters", get(api::dead_letters))
        .route("/api/v1/dead-letters/{stage}/replay", post(api::replay))
        .route("/api/v1/dead-letters/{stage}/purge", post(api::purge))
        .route("/api/v1/users", get(api::users))
        .route("/upload", get(pages::upload::page))
        .route("/api/v1/uploads", post(upload::create))
        .route("/api/v1/uploads/folders/{course}", get(upload::folders))
        .route(
            "/api/v1/uploads/{upload_id}/parts",
            get(upload::list_parts).post(upload::sign_parts),
        )
        .route(
            "/api/v1/uploads/{upload_id}/complete",
            post(upload::complete),
        )
        .route("/api/v1/uploads/{upload_id}/abort", post(upload::abort))
        .fallback(api::not_found)
        .layer(middleware::from_fn_with_state(app.clone(), auth::guard))
        .layer(middleware::from_fn_with_state(app.clone(), unlisted))
        .layer(middleware::from_fn_with_state(app.clone(), track))
        .with_state(app)
}
