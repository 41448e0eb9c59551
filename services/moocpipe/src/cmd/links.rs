//! `moocpipe links`: a take's stable links from the command line — issue
//! (print the take's live link, making it when there is none), list,
//! revoke, re-issue. The same catalog and key as `moocpipe serve`.

use anyhow::Context as _;
use clap::{Args, Subcommand};
use moocpipe_catalog::links::{LinkScope, ENV_LINK_KEY};
use moocpipe_catalog::{Catalog, LinkKey, LinkSettings};
use std::path::Path;
use std::process::ExitCode;

use crate::cmd::serve::{runtime, CatalogArgs};

#[derive(Debug, Args)]
pub struct LinksArgs {
    #[command(subcommand)]
    pub action: LinksAction,
    #[command(flatten)]
    pub catalog: CatalogArgs,
}

#[derive(Debug, Subcommand)]
pub enum LinksAction {
    /// Print the take's live link, issuing it when it has none.
    Issue { take_id: String },
    /// The take's links: id, state, expiry, downloads.
    List { take_id: String },
    /// Withdraw a link (by its id, from `list`): it answers 410 from now on.
    Revoke { link_id: String },
    /// Withdraw a link and print its take's next one.
    Reissue { link_id: String },
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The key: `MOOCPIPE_LINK_KEY`, or the data folder's (embedded).
fn settings(args: &CatalogArgs, config_file: Option<&Path>) -> anyhow::Result<LinkSettings> {
    let key = match LinkKey::from_lookup(env)? {
        Some(key) => key,
        None if args.distributed_url().is_none() => {
            LinkKey::load_or_create(&args.data_dir(config_file)?)?
        }
        None => anyhow::bail!("{ENV_LINK_KEY} is not set (the report workers' value)"),
    };
    Ok(LinkSettings::from_lookup(key, env)?)
}

async fn course_of(catalog: &Catalog, take_id: &str) -> anyhow::Result<String> {
    let row = catalog.take(take_id).await?.with_context(|| {
        format!("no take {take_id} in the catalog (`moocpipe catalog sync` reads the store)")
    })?;
    Ok(row.summary.course)
}

pub fn run(args: LinksArgs, config_file: Option<&Path>) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        let catalog = args.catalog.open(config_file).await?;
        match &args.action {
            LinksAction::Issue { take_id } => {
                let settings = settings(&args.catalog, config_file)?;
                let course = course_of(&catalog, take_id).await?;
                let scope = LinkScope::Take {
                    take_id: take_id.clone(),
                };
                let issued = catalog
                    .issue_link(&settings.key, &scope, &course, settings.ttl)
                    .await?;
                println!("{}", settings.url(&issued.token));
            }
            LinksAction::List { take_id } => {
                let scope = LinkScope::Take {
                    take_id: take_id.clone(),
                };
                let now = moocpipe_catalog::now_ms();
                for link in catalog.links_of(&scope).await? {
                    println!(
                        "{}\t{}\tgeneration {}\t{} downloads",
                        link.link_id,
                        link.state(now),
                        link.generation,
                        link.downloads
                    );
                }
            }
            LinksAction::Revoke { link_id } => {
                anyhow::ensure!(
                    catalog.revoke_link(link_id).await?,
                    "no live link {link_id}"
                );
                println!("revoked {link_id}");
            }
            LinksAction::Reissue { link_id } => {
                let settings = settings(&args.catalog, config_file)?;
                let issued = catalog
                    .reissue_link(&settings.key, link_id, settings.ttl)
                    .await?
                    .with_context(|| format!("no link {link_id}"))?;
                println!("{}", settings.url(&issued.token));
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}
