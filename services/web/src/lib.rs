//! `moocpipe serve`: the CAIDD dashboard and the HTTP API.
//!
//! Server-rendered pages (maud) and JSON under `/api/v1`, both built from
//! the same view models (`views`) over the catalog (`moocpipe-catalog`),
//! the job table of the control plane (distributed mode) and the store.
//! Users log in with a password (argon2id) and get a session cookie; every
//! route names the least role it needs (`routes::ROUTES`), which also
//! writes the OpenAPI document and drives the 401/403 tests.
//!
//! ```text
//!  browser ──▶ /login ─▶ session cookie (HttpOnly, SameSite=Lax, Secure over TLS)
//!          ──▶ /overview /courses /courses/<c> /takes/<id> /dead-letters   (HTML)
//!          ──▶ /api/v1/…  (JSON, same data)     /api/openapi.json
//!          ──▶ /media/<take>/<file>  (a file a record names: the local file
//!              with Range, or a 302 to a presigned S3 URL)
//!          ──▶ /upload, /api/v1/uploads/…  (the studio's takes, sent by the
//!              browser straight to the raw bucket; see `upload`)
//!  author  ──▶ /l/<token>[/<file>]  (no login: a stable link, checked by
//!              HEAD, then the same answer; playlists rewritten through it)
//!  catalog ◀── follow: every take.* event (distributed), or a scan of the data folder (embedded)
//! ```

pub mod api;
mod auth;
pub mod error;
pub mod follow;
mod links;
mod media;
pub mod openapi;
pub mod pages;
pub mod routes;
pub mod upload;
pub mod views;

use axum::Router;
use moocpipe_broker::{AmqpConfig, Topology};
use moocpipe_catalog::Catalog;
use moocpipe_storage::{LocalStore, S3Store};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub use auth::{LoginLimiter, CSRF_HEADER, LOGIN_FAILURES, LOGIN_WINDOW, SESSION_COOKIE};

/// Whom to ask about a link, unless `--contact` says.
pub const DEFAULT_CONTACT: &str = "CAIDD, the university's digital centre";

/// Where the take files are.
#[derive(Clone, Debug)]
pub enum Store {
    /// The embedded default's data folder.
    Local(LocalStore),
    /// The distributed mode's media bucket.
    S3(S3Store),
}

/// The broker, for the dead-letter page (distributed mode).
#[derive(Clone, Debug)]
pub struct Broker {
    pub amqp: AmqpConfig,
    pub topology: Topology,
}

/// What the server reads and how it behaves.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// Cookies get `Secure` (the server is reached over HTTPS, directly or
    /// behind a proxy that terminates TLS).
    pub secure_cookies: bool,
    /// How long a login lasts.
    pub session_ttl: Duration,
    /// How long a presigned media URL the player gets lives.
    pub media_url_ttl: Duration,
    /// "embedded" or "distributed", shown in the page footer.
    pub mode: &'static str,
    /// How long the presigned URL a stable link redirects to lives.
    pub link_presign_ttl: Duration,
    /// Whom a user with a dead link should ask, e.g. "CAIDD
    /// (caidd@university.kz)".
    pub contact: String,
    /// The link key and public address: `None` when this server cannot
    /// issue links (it still opens them).
    pub links: Option<moocpipe_catalog::links::LinkSettings>,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            secure_cookies: false,
            session_ttl: Duration::from_secs(12 * 3600),
            media_url_ttl: Duration::from_secs(600),
            mode: "embedded",
            link_presign_ttl: Duration::from_secs(300),
            contact: DEFAULT_CONTACT.to_owned(),
            links: None,
        }
    }
}

/// Everything a request may need.
pub struct App {
    pub catalog: Catalog,
    pub store: Store,
    /// The control plane's job table (distributed mode).
    pub jobs: Option<moocpipe_control::PgPool>,
    pub broker: Option<Broker>,
    pub config: ServeConfig,
    pub limiter: LoginLimiter,
    pub metrics: routes::HttpMetrics,
    /// The studio's uploads from the browser (distributed mode).
    pub uploads: Option<upload::Uploads>,
}

pub type SharedApp = Arc<App>;

impl App {
    pub fn new(
        catalog: Catalog,
        store: Store,
        jobs: Option<moocpipe_control::PgPool>,
        broker: Option<Broker>,
        config: ServeConfig,
    ) -> SharedApp {
        App::new_with_uploads(catalog, store, jobs, broker, config, None)
    }

    /// [`App::new`] with the studio's upload path, whose counters go on
    /// the server's `/metrics`.
    pub fn new_with_uploads(
        catalog: Catalog,
        store: Store,
        jobs: Option<moocpipe_control::PgPool>,
        broker: Option<Broker>,
        config: ServeConfig,
        uploads: Option<upload::UploadConfig>,
    ) -> SharedApp {
        let metrics = routes::HttpMetrics::new();
        let uploads = uploads.map(|u| upload::Uploads::new(u, &metrics.registry));
        Arc::new(App {
            catalog,
            store,
            jobs,
            broker,
            config,
            limiter: LoginLimiter::default(),
            metrics,
            uploads,
        })
    }
}

/// The whole application.
pub fn router(app: SharedApp) -> Router {
    routes::router(app)
}

/// Serves on `addr` until `shutdown` fires. Returns the bound address (port
/// 0 picks a free one) and the server's task.
pub async fn serve(
    app: SharedApp,
    addr: SocketAddr,
    shutdown: CancellationToken,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let service = router(app).into_make_service_with_connect_info::<SocketAddr>();
    let task = tokio::spawn(async move {
        let result = axum::serve(listener, service)
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await;
        if let Err(error) = result {
            tracing::error!(%error, "web server stopped");
        }
    });
    Ok((bound, task))
}
