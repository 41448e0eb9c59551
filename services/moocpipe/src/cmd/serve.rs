//! `moocpipe serve` (the dashboard and API), `moocpipe users` (who may log
//! in) and `moocpipe catalog sync` (rebuild the catalog from the store).
//!
//! The catalog is the data folder's SQLite file (`--data`, embedded) or the
//! control database (`--database-url`, distributed: the media bucket from
//! `MOOCPIPE_S3_*`, the broker from `--amqp-url`).

use anyhow::Context as _;
use clap::{Args, Subcommand, ValueEnum};
use moocpipe_catalog::{Catalog, LinkKey, LinkSettings, Role};
use moocpipe_distributed::Stores;
use moocpipe_storage::LocalStore;
use moocpipe_web::{App, Broker, ServeConfig, Store};
use std::io::{BufRead, IsTerminal};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

use crate::cmd::distributed::BrokerArgs;

/// Which catalog: the data folder's (embedded) or the control database's.
#[derive(Debug, Clone, Args)]
pub struct CatalogArgs {
    /// The embedded store folder; its catalog is `<data>/catalog.sqlite`
    /// [default: `[store] data_dir`, moocpipe-data].
    #[arg(long, env = "MOOCPIPE_DATA", value_name = "DIR", global = true)]
    pub data: Option<PathBuf>,
    /// Distributed mode: the control database (PostgreSQL) that holds the
    /// catalog, as postgres://user:password@host/db. Its value is never shown.
    #[arg(
        long,
        env = "MOOCPIPE_DATABASE_URL",
        hide_env_values = true,
        value_name = "URL",
        global = true
    )]
    pub database_url: Option<String>,
}

impl CatalogArgs {
    pub(crate) fn data_dir(&self, config_file: Option<&Path>) -> anyhow::Result<PathBuf> {
        match &self.data {
            Some(dir) => Ok(dir.clone()),
            None => Ok(crate::config::load(config_file)?.0.store.data_dir),
        }
    }

    pub(crate) fn distributed_url(&self) -> Option<&str> {
        self.database_url
            .as_deref()
            .filter(|u| !u.trim().is_empty())
    }

    pub(crate) async fn open(&self, config_file: Option<&Path>) -> anyhow::Result<Catalog> {
        match self.distributed_url() {
            Some(url) => Catalog::open(url).await.context("opening the catalog"),
            None => {
                let data = self.data_dir(config_file)?;
                Catalog::open_local(&data)
                    .await
                    .with_context(|| format!("opening the catalog in {}", data.display()))
            }
        }
    }
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub catalog: CatalogArgs,
    #[command(flatten)]
    pub broker: BrokerArgs,
    /// Where to listen.
    #[arg(
        long,
        env = "MOOCPIPE_LISTEN",
        default_value = "127.0.0.1:8080",
        value_name = "ADDR"
    )]
    pub listen: SocketAddr,
    /// The address users reach the server at (printed, and `https://`
    /// makes the session cookie `Secure`), e.g. https://mooc.university.kz.
    #[arg(long, env = "MOOCPIPE_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,
    /// Embedded mode: how often the data folder is scanned for new records.
    #[arg(long, default_value_t = 2, value_name = "SECONDS")]
    pub scan_secs: u64,
    /// How long a login lasts.
    #[arg(long, default_value_t = 12, value_name = "HOURS")]
    pub session_hours: u64,
    /// How long the presigned URL a stable link redirects to lives (the
    /// link itself lives `MOOCPIPE_LINK_DAYS`).
    #[arg(
        long,
        env = "MOOCPIPE_LINK_PRESIGN_SECS",
        default_value_t = 300,
        value_parser = clap::value_parser!(u64).range(1..=604_800),
        value_name = "SECONDS"
    )]
    pub link_presign_secs: u64,
    /// Whom an author with an expired or revoked link should ask, shown on
    /// the link's page, e.g. "CAIDD (caidd@university.kz)".
    #[arg(long, env = "MOOCPIPE_CONTACT", value_name = "TEXT")]
    pub contact: Option<String>,
    /// Distributed mode: the smallest part of a browser upload to the raw
    /// bucket (5 to 5120; larger takes get larger parts, at most 10,000).
    #[arg(
        long,
        env = "MOOCPIPE_UPLOAD_PART_MIB",
        default_value_t = moocpipe_web::upload::DEFAULT_PART_MIB,
        value_parser = clap::value_parser!(u64).range(5..=5120),
        value_name = "MIB"
    )]
    pub upload_part_mib: u64,
}

/// The studio's upload path: the raw bucket through a key that may write
/// it, and the ingest job sent the way `moocpipe submit` sends it.
fn upload_path(args: &ServeArgs) -> anyhow::Result<moocpipe_web::upload::UploadConfig> {
    let store = moocpipe_distributed::config::upload_store(&env)?;
    if !moocpipe_distributed::config::has_upload_key(&env) {
        tracing::warn!(
            "{} is not set: browser uploads use the raw bucket's key, which the workers only read with; \
             give the server the studio uploader's key",
            moocpipe_distributed::config::ENV_UPLOAD_ACCESS_KEY_ID
        );
    }
    Ok(moocpipe_web::upload::UploadConfig {
        store: store.clone(),
        min_part_bytes: args.upload_part_mib * 1024 * 1024,
        ingest: std::sync::Arc::new(Submit {
            run: crate::cmd::distributed::submit_options(&args.broker, "serve"),
            raw: store,
        }),
    })
}

/// Sends a finished upload's ingest job with `moocpipe_distributed::run::submit`.
struct Submit {
    run: moocpipe_distributed::run::RunOptions,
    raw: moocpipe_storage::S3Store,
}

impl moocpipe_web::upload::Ingest for Submit {
    fn submit<'a>(
        &'a self,
        key: &'a str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<String, String>> + Send + 'a>>
    {
        Box::pin(async move {
            match moocpipe_distributed::run::submit(&self.run, &self.raw, self.raw.bucket(), key)
                .await
                .map_err(|e| e.to_string())?
            {
                moocpipe_distributed::run::Submitted::Take(take_id) => Ok(take_id),
                // The upload page only sends takes (its key has a take's
                // extension), so this is not reached.
                other => Err(format!("{key} is not a take: {other}")),
            }
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    Admin,
    Caidd,
    Studio,
}

impl From<RoleArg> for Role {
    fn from(role: RoleArg) -> Role {
        match role {
            RoleArg::Admin => Role::Admin,
            RoleArg::Caidd => Role::Caidd,
            RoleArg::Studio => Role::Studio,
        }
    }
}

#[derive(Debug, Args)]
pub struct UsersArgs {
    #[command(subcommand)]
    pub action: UsersAction,
    #[command(flatten)]
    pub catalog: CatalogArgs,
}

#[derive(Debug, Subcommand)]
pub enum UsersAction {
    /// Add a user; the password is asked for (or read from standard input
    /// when it is not a terminal).
    Add {
        name: String,
        #[arg(long, value_enum)]
        role: RoleArg,
    },
    /// List users and their roles.
    List,
    /// Remove a user and end their sessions.
    Remove { name: String },
    /// Set a user's password and end their sessions.
    Passwd { name: String },
}

#[derive(Debug, Args)]
pub struct CatalogCmdArgs {
    #[command(subcommand)]
    pub action: CatalogAction,
    #[command(flatten)]
    pub catalog: CatalogArgs,
}

#[derive(Debug, Subcommand)]
pub enum CatalogAction {
    /// Read every take's records and every course's report from the store
    /// into the catalog (idempotent; `serve` keeps it up to date after).
    Sync,
}

pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The password: asked for without echo on a terminal, else the first line
/// of standard input.
fn read_password(prompt: &str) -> anyhow::Result<String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(prompt).context("reading the password")?;
        let again = rpassword::prompt_password("again: ").context("reading the password")?;
        anyhow::ensure!(first == again, "the two passwords differ");
        Ok(first)
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the password from standard input")?;
        Ok(line.trim_end_matches(['\r', '\n']).to_owned())
    }
}

pub fn users(args: UsersArgs, config_file: Option<&Path>) -> anyhow::Result<ExitCode> {
    let password = match &args.action {
        UsersAction::Add { name, .. } | UsersAction::Passwd { name } => {
            Some(read_password(&format!("password for {name}: "))?)
        }
        _ => None,
    };
    runtime()?.block_on(async {
        let catalog = args.catalog.open(config_file).await?;
        match args.action {
            UsersAction::Add { name, role } => {
                let user = catalog
                    .add_user(&name, role.into(), password.as_deref().unwrap_or_default())
                    .await?;
                println!("added {} ({})", user.name, user.role);
            }
            UsersAction::List => {
                for user in catalog.users().await? {
                    println!("{}\t{}", user.name, user.role);
                }
            }
            UsersAction::Remove { name } => {
                anyhow::ensure!(catalog.remove_user(&name).await?, "no user {name}");
                println!("removed {name}");
            }
            UsersAction::Passwd { name } => {
                anyhow::ensure!(
                    catalog
                        .set_password(&name, password.as_deref().unwrap_or_default())
                        .await?,
                    "no user {name}"
                );
                println!("password of {name} changed; their sessions ended");
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

pub fn catalog(args: CatalogCmdArgs, config_file: Option<&Path>) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        let catalog = args.catalog.open(config_file).await?;
        let CatalogAction::Sync = args.action;
        let summary = if args.catalog.distributed_url().is_some() {
            let stores = Stores::from_lookup(env)?;
            moocpipe_catalog::sync::sync_all(&catalog, &stores.media).await?
        } else {
            let store = LocalStore::open(args.catalog.data_dir(config_file)?)?;
            moocpipe_catalog::sync::sync_all(&catalog, &store).await?
        };
        println!(
            "catalog: {} takes and {} courses synced",
            summary.takes, summary.courses
        );
        for failure in &summary.failed {
            eprintln!("moocpipe: {failure}");
        }
        Ok(if summary.failed.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        })
    })
}

pub fn serve(args: ServeArgs, config_file: Option<&Path>) -> anyhow::Result<ExitCode> {
    let runtime = runtime()?;
    let result = runtime.block_on(async {
        let catalog = args.catalog.open(config_file).await?;
        let shutdown = CancellationToken::new();
        let mut config = ServeConfig {
            secure_cookies: args
                .public_url
                .as_deref()
                .is_some_and(|u| u.starts_with("https://")),
            session_ttl: Duration::from_secs(args.session_hours.max(1) * 3600),
            link_presign_ttl: Duration::from_secs(args.link_presign_secs),
            contact: args
                .contact
                .clone()
                .filter(|c| !c.trim().is_empty())
                .unwrap_or_else(|| moocpipe_web::DEFAULT_CONTACT.to_owned()),
            ..ServeConfig::default()
        };
        // The address links carry: --public-url, else where we listen.
        let public_url = args.public_url.clone().or_else(|| {
            (!args.listen.ip().is_unspecified()).then(|| format!("http://{}", args.listen))
        });
        let link_settings = |key: LinkKey| {
            LinkSettings::from_lookup(key, |name| match name {
                moocpipe_catalog::links::ENV_PUBLIC_URL => public_url.clone(),
                other => env(other),
            })
        };
        let app = match args.catalog.distributed_url() {
            Some(url) => {
                config.mode = "distributed";
                config.links = match LinkKey::from_lookup(env)? {
                    Some(key) => Some(link_settings(key)?),
                    None => {
                        tracing::warn!(
                            "{} is not set: stable links open, but this server cannot issue or show them",
                            moocpipe_catalog::links::ENV_LINK_KEY
                        );
                        None
                    }
                };
                let stores = Stores::from_lookup(env)?;
                let jobs = moocpipe_control::connect(url)
                    .await
                    .context("connecting to the control database")?;
                let broker = Broker {
                    amqp: moocpipe_broker::AmqpConfig::new(args.broker.amqp_url.clone())
                        .with_connection_name(format!("moocpipe serve ({})", std::process::id())),
                    topology: moocpipe_broker::Topology::new(args.broker.queue_prefix.clone()),
                };
                if catalog.take_ids().await?.is_empty() {
                    let summary = moocpipe_catalog::sync::sync_all(&catalog, &stores.media).await?;
                    tracing::info!(takes = summary.takes, "catalog built from the media bucket");
                }
                tokio::spawn(moocpipe_web::follow::follow_events(
                    catalog.clone(),
                    stores.media.clone(),
                    jobs.clone(),
                    broker.clone(),
                    shutdown.clone(),
                ));
                App::new_with_uploads(
                    catalog,
                    Store::S3(stores.media),
                    Some(jobs),
                    Some(broker),
                    config,
                    Some(upload_path(&args)?),
                )
            }
            None => {
                let data = args.catalog.data_dir(config_file)?;
                let store = LocalStore::open(&data)?;
                // The embedded key lives in the data folder (made once).
                let key = match LinkKey::from_lookup(env)? {
                    Some(key) => key,
                    None => LinkKey::load_or_create(&data)?,
                };
                config.links = Some(link_settings(key)?);
                let mut seen = std::collections::HashMap::new();
                let synced = moocpipe_web::follow::scan_local(&catalog, &store, &mut seen).await;
                tracing::info!(synced, "catalog synced from {}", data.display());
                tokio::spawn(moocpipe_web::follow::watch_local(
                    catalog.clone(),
                    store.clone(),
                    seen,
                    Duration::from_secs(args.scan_secs.max(1)),
                    shutdown.clone(),
                ));
                App::new(catalog, Store::Local(store), None, None, config)
            }
        };
        let (bound, server) = moocpipe_web::serve(app, args.listen, shutdown.clone())
            .await
            .with_context(|| format!("listening on {}", args.listen))?;
        let shown = args
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{bound}"));
        eprintln!("moocpipe: serving the dashboard at {shown} (Ctrl-C stops)");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            () = terminated() => {}
        }
        eprintln!("moocpipe: stopping");
        shutdown.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
        Ok::<_, anyhow::Error>(ExitCode::SUCCESS)
    });
    runtime.shutdown_timeout(Duration::from_secs(2));
    result
}

async fn terminated() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            term.recv().await;
            return;
        }
    }
    std::future::pending::<()>().await
}
