//! Stable links (clause 9.4): `/l/<token>` and `/l/<token>/<path>`, for
//! authors, without a login.
//!
//! - `/l/<token>` of a take's link: the take's read-only page (verdict, what
//!   to change, QC findings, the player with captions, downloads); of an
//!   object's link (a course material): the material, checked against its
//!   record (size, ETag) and sent with its recorded media type.
//! - `/l/<token>/<path>`: a file the take's records name, `<path>` being its
//!   key below `takes/<take>/`. The object is checked with a HEAD (there,
//!   of the recorded size and ETag), then the browser is sent (302) to a
//!   presigned URL that lives minutes (`--link-presign-secs`), so the link
//!   outlives any presigned URL. From the embedded store the file is served
//!   with HTTP Range.
//! - HLS: a playlist is served by the server itself, every URI in it
//!   rewritten to the link's own path of that file, so each variant
//!   playlist and segment is fetched through the link and redirected to a
//!   fresh presigned URL at the moment the player asks for it (a presigned
//!   URL written into a playlist would die while a viewer pauses).
//! - An expired or revoked link answers 410 with a page that says whom to
//!   ask; an unknown token 404. Downloads are counted per link (files, and
//!   the master playlist once per play; pages, variant playlists and
//!   segments are not).
//!
//! Admins see a take's links on its page and in the API, and issue,
//! revoke and re-issue them (`links.rs` of the catalog computes tokens).

use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form, Json};
use maud::{html, Markup};
use moocpipe_catalog::links::{LinkScope, Resolved};
use moocpipe_catalog::sync::sync_take;
use moocpipe_catalog::{Link, Session, TakeRow, TakeSummary};
use moocpipe_proto::StoredObject;
use moocpipe_storage::ObjectStore;
use serde::Deserialize;

use crate::auth::{self, see_other};
use crate::error::{ApiError, ErrorKind, PageError};
use crate::media::{self, Recorded};
use crate::pages::{layout, when};
use crate::views::{self, LinkView};
use crate::{SharedApp, Store};

const PLAYLIST_TYPE: &str = "application/vnd.apple.mpegurl";

/// The link `token` opens, or the page that says why not.
async fn valid(app: &SharedApp, token: &str) -> Result<Link, ApiError> {
    let contact = &app.config.contact;
    match app.catalog.resolve_link(token).await? {
        Resolved::Valid(link) => Ok(link),
        Resolved::Expired(link) => {
            app.metrics.link("refused");
            Err(ApiError::new(
                ErrorKind::Gone,
                format!(
                    "This link expired on {}. Ask {contact} for a new one, quoting link {}.",
                    when(link.expires_ms),
                    link.link_id
                ),
            ))
        }
        Resolved::Revoked(link) => {
            app.metrics.link("refused");
            Err(ApiError::new(
                ErrorKind::Gone,
                format!(
                    "This link was withdrawn on {}. Ask {contact} for a new one, quoting link {}.",
                    link.revoked_ms.map(when).unwrap_or_default(),
                    link.link_id
                ),
            ))
        }
        Resolved::Unknown => {
            app.metrics.link("refused");
            Err(ApiError::new(
                ErrorKind::NotFound,
                format!("There is no such link. Check that it was copied whole, or ask {contact}."),
            ))
        }
    }
}

/// `/l/<token>`: a take's page, or an object.
pub async fn open(
    State(app): State<SharedApp>,
    Path(token): Path<String>,
    request: Request,
) -> Result<Response, PageError> {
    let link = valid(&app, &token).await?;
    match link.scope() {
        Some(LinkScope::Take { take_id }) => {
            app.metrics.link("page");
            current_row(&app, &take_id, None).await?;
            let view = views::take_with_media(&app, &take_id, &format!("/l/{token}"))
                .await
                .map_err(|e| match e.kind {
                    ErrorKind::NotFound => ApiError::new(
                        ErrorKind::NotFound,
                        "This take is not in the catalog yet; try again in a minute.",
                    ),
                    _ => e,
                })?;
            let s = &view.summary;
            let content = html! {
                p.crumbs { (s.course) @if let (Some(m), Some(l)) = (s.module, s.lesson) { ", module " (m) ", lesson " (l) } }
                h1 { (s.title) }
                p.muted {
                    "This page and its downloads work without a login until " (when(link.expires_ms))
                    ". Keep the link to yourself: whoever has it can watch and download the take."
                }
                (crate::pages::take::body(&view, false))
            };
            Ok(layout(&s.title.clone(), None, content).into_response())
        }
        Some(LinkScope::Object { key }) => {
            // A course material: as its record says (size, ETag, type).
            let material = app
                .catalog
                .material_by_object(&key)
                .await?
                .ok_or_else(|| gone_object(&app, &key))?;
            let object = material
                .object
                .as_ref()
                .ok_or_else(|| gone_object(&app, &key))?;
            let mut response = deliver(&app, &link, object, true, request).await?;
            material_headers(
                &mut response,
                material.content_type.as_deref(),
                material.name(),
            );
            Ok(response)
        }
        None => Err(ApiError::new(ErrorKind::Internal, "a link of an unknown kind").into()),
    }
}

/// `/l/<token>/<path>`: a file of the link's take.
pub async fn file(
    State(app): State<SharedApp>,
    Path((token, path)): Path<(String, String)>,
    request: Request,
) -> Result<Response, PageError> {
    let link = valid(&app, &token).await?;
    let Some(LinkScope::Take { take_id }) = link.scope() else {
        return Err(ApiError::not_found(format!("{path} of this link")).into());
    };
    let key = format!("takes/{take_id}/{path}");
    let records = current_row(&app, &take_id, Some(&key))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("take {take_id}")))?
        .1;
    let object = records
        .object(&key)
        .ok_or_else(|| ApiError::not_found(format!("{path} of this take")))?;
    let master = records.transcode.as_ref().and_then(|t| {
        let hls = t.hls.as_ref()?;
        Some(format!(
            "{}/{}",
            run_dir(&take_id, t.run.as_deref()?),
            hls.master
        ))
    });
    let hls_dir = master
        .as_deref()
        .and_then(|m| m.rsplit_once('/'))
        .map(|(dir, _)| format!("{dir}/"));
    let is_master = master.as_deref() == Some(key.as_str());
    let in_hls = hls_dir.as_deref().is_some_and(|d| key.starts_with(d));
    // A download: a file, or a play of the package (its master playlist).
    let counted = is_master || !in_hls;
    if key.ends_with(".m3u8") {
        check(&app, &object).await?;
        if counted {
            count(&app, &link).await;
        }
        app.metrics.link("playlist");
        let text = app.store.get_bytes(&key).await?;
        let text = String::from_utf8(text).map_err(|_| {
            ApiError::new(
                ErrorKind::Internal,
                format!("{path} is not a text playlist"),
            )
        })?;
        let named = |candidate: &str| {
            records
                .object(&format!("takes/{take_id}/{candidate}"))
                .is_some()
        };
        let dir = path.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
        let rewritten = rewrite_playlist(&text, |uri| {
            let target = join(dir, uri)?;
            named(&target).then(|| format!("/l/{token}/{target}"))
        });
        return Ok((
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(PLAYLIST_TYPE),
                ),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
            rewritten,
        )
            .into_response());
    }
    deliver(&app, &link, &object, counted, request).await
}

/// The take's catalog row, synced from the store first when the catalog
/// does not have it or does not know `key` yet: it follows the pipeline's
/// events and may be a moment behind the notice that carried the link.
async fn current_row(
    app: &SharedApp,
    take_id: &str,
    key: Option<&str>,
) -> Result<Option<(TakeRow, Recorded)>, ApiError> {
    let parsed = |row: Option<TakeRow>| {
        row.map(|r| {
            let records = Recorded::parse(r.transcode.as_deref(), r.caption.as_deref());
            (r, records)
        })
    };
    let known = |row: &Option<(TakeRow, Recorded)>| {
        row.as_ref()
            .is_some_and(|(_, records)| key.is_none_or(|k| records.object(k).is_some()))
    };
    let row = parsed(app.catalog.take(take_id).await?);
    if known(&row) {
        return Ok(row);
    }
    // A take with a link is past its probe.
    match &app.store {
        Store::Local(store) => sync_take(&app.catalog, store, take_id, false).await?,
        Store::S3(store) => sync_take(&app.catalog, store, take_id, false).await?,
    };
    Ok(parsed(app.catalog.take(take_id).await?))
}

fn run_dir(take_id: &str, run: &str) -> String {
    moocpipe_storage::layout::run_dir(take_id, run)
}

fn gone_object(app: &SharedApp, key: &str) -> ApiError {
    let file = key.rsplit('/').next().unwrap_or(key);
    ApiError::new(
        ErrorKind::Gone,
        format!(
            "{file} is no longer stored. Ask {} to publish it again.",
            app.config.contact
        ),
    )
}

/// The object is there as it was recorded: a HEAD, its size and ETag.
async fn check(app: &SharedApp, object: &StoredObject) -> Result<(), ApiError> {
    let meta = app
        .store
        .head(&object.key)
        .await?
        .ok_or_else(|| gone_object(app, &object.key))?;
    if meta.size != object.size_bytes || meta.etag != object.etag {
        tracing::warn!(
            key = %object.key,
            recorded_size = object.size_bytes,
            size = meta.size,
            "a linked object differs from its record"
        );
        app.metrics.link("changed");
        return Err(ApiError::new(
            ErrorKind::Changed,
            format!(
                "{} changed after it was published ({} bytes recorded, {} stored). Ask {} about it.",
                object.key.rsplit('/').next().unwrap_or(&object.key),
                object.size_bytes,
                meta.size,
                app.config.contact
            ),
        ));
    }
    Ok(())
}

async fn count(app: &SharedApp, link: &Link) {
    // A count that fails to be written must not fail the download.
    if let Err(error) = app.catalog.count_download(&link.link_id).await {
        tracing::warn!(%error, link = %link.link_id, "counting a download");
    }
}

/// Checks `object`, counts the download, and sends it: a 302 to a
/// presigned URL (S3) or the file with Range (the embedded store).
async fn deliver(
    app: &SharedApp,
    link: &Link,
    object: &StoredObject,
    counted: bool,
    request: Request,
) -> Result<Response, PageError> {
    check(app, object).await?;
    if counted {
        count(app, link).await;
        app.metrics.link("download");
    } else {
        app.metrics.link("segment");
    }
    Ok(media::send(app, &object.key, app.config.link_presign_ttl, request).await?)
}

/// What a material's file is sent with from the data folder (a 302 to the
/// store carries nothing of ours): its recorded media type, not one
/// guessed from its name; `nosniff`, so a browser never reads it as
/// something else; for an SVG (the one accepted type that can hold a
/// script) a sandbox, so it cannot act as this site; and its own file
/// name for a download.
fn material_headers(response: &mut Response, content_type: Option<&str>, name: &str) {
    if response.status() == axum::http::StatusCode::FOUND {
        return;
    }
    let headers = response.headers_mut();
    if let Some(value) = content_type.and_then(|t| HeaderValue::from_str(t).ok()) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if content_type.is_some_and(|t| t.starts_with("image/svg")) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("sandbox; default-src 'none'; style-src 'unsafe-inline'"),
        );
    }
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let disposition = format!(
        "inline; filename=\"{ascii}\"; filename*=UTF-8''{}",
        auth::percent_encode(name)
    );
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
}

/// Rewrites every URI of an HLS playlist (the lines that are not tags, and
/// the `URI="…"` attributes of tags) with `map`; a URI `map` refuses
/// (`None`) is dropped with its line, so a playlist can only lead to what
/// the take's records name.
pub fn rewrite_playlist(text: &str, mut map: impl FnMut(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len() + 256);
    let mut pending: Vec<&str> = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            out.push('\n');
        } else if trimmed.starts_with('#') {
            match rewrite_attribute(trimmed, &mut map) {
                Some(tag) => {
                    // Tags that describe the next URI wait for it.
                    if trimmed.starts_with("#EXTINF") || trimmed.starts_with("#EXT-X-STREAM-INF") {
                        pending.push(line);
                    } else {
                        out.push_str(&tag);
                        out.push('\n');
                    }
                }
                None => continue,
            }
        } else if let Some(uri) = map(trimmed) {
            for tag in pending.drain(..) {
                out.push_str(tag.trim());
                out.push('\n');
            }
            out.push_str(&uri);
            out.push('\n');
        } else {
            pending.clear();
        }
    }
    out
}

/// A tag with its `URI="…"` rewritten; `None` when the URI is refused.
fn rewrite_attribute(tag: &str, map: &mut impl FnMut(&str) -> Option<String>) -> Option<String> {
    const ATTR: &str = "URI=\"";
    let Some(start) = tag.find(ATTR).map(|i| i + ATTR.len()) else {
        return Some(tag.to_owned());
    };
    let end = start + tag[start..].find('"')?;
    let uri = map(&tag[start..end])?;
    Some(format!("{}{uri}{}", &tag[..start], &tag[end..]))
}

/// `uri` relative to `dir` (both below the take), normalised; `None` for an
/// absolute URL or one that leaves the take.
pub fn join(dir: &str, uri: &str) -> Option<String> {
    if uri.contains("://") || uri.starts_with('/') || uri.contains('?') || uri.contains('#') {
        return None;
    }
    let mut parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
    for part in uri.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// The take page's panel of its links (admins).
pub fn admin_panel(summary: &TakeSummary, links: &[LinkView], session: &Session) -> Markup {
    let take_id = &summary.take_id;
    html! {
        section.links {
            h2 { "Author link" }
            @if links.is_empty() {
                p.muted { "No link yet: the report stage makes one when it tells the author." }
            } @else {
                div.scroll { table.links {
                    thead { tr { th { "Link" } th { "State" } th { "Until" } th.num { "Downloads" } th { "Last used" } th {} } }
                    tbody {
                        @for l in links {
                            tr {
                                td { @if let Some(url) = &l.url { a href=(url) { code { (url) } } } @else { code { (l.link.link_id) } } }
                                td { (l.state) }
                                td { (when(l.link.expires_ms)) }
                                td.num { (l.link.downloads) }
                                td { (l.link.last_used_ms.map(when).unwrap_or_default()) }
                                td {
                                    @if l.state == "live" {
                                        form method="post" action={ "/links/" (l.link.link_id) "/revoke" } data-confirm="Withdraw this link? Whoever has it gets a 'link withdrawn' page." {
                                            input type="hidden" name="csrf" value=(session.csrf);
                                            input type="hidden" name="take" value=(take_id);
                                            button.danger type="submit" { "Revoke" }
                                        }
                                        form method="post" action={ "/links/" (l.link.link_id) "/reissue" } {
                                            input type="hidden" name="csrf" value=(session.csrf);
                                            input type="hidden" name="take" value=(take_id);
                                            button type="submit" { "Re-issue" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                } }
            }
            @if !links.iter().any(|l| l.state == "live") {
                form method="post" action={ "/takes/" (take_id) "/links" } {
                    input type="hidden" name="csrf" value=(session.csrf);
                    button type="submit" { "Issue a link" }
                }
            }
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct LinkForm {
    #[serde(default)]
    csrf: String,
    /// The take page to return to.
    #[serde(default)]
    take: String,
}

fn back(take: &str) -> Response {
    if take.is_empty() || !take.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        see_other("/overview").into_response()
    } else {
        see_other(&format!("/takes/{take}")).into_response()
    }
}

/// `POST /takes/<take>/links` (form).
pub async fn issue_form(
    State(app): State<SharedApp>,
    Extension(session): Extension<Session>,
    headers: HeaderMap,
    Path(take_id): Path<String>,
    Form(form): Form<LinkForm>,
) -> Result<Response, PageError> {
    auth::check_form_csrf(&session, &form.csrf, &headers)?;
    views::issue_take_link(&app, &take_id).await?;
    Ok(back(&take_id))
}

/// `POST /links/<link>/revoke` (form).
pub async fn revoke_form(
    State(app): State<SharedApp>,
    Extension(session): Extension<Session>,
    headers: HeaderMap,
    Path(link_id): Path<String>,
    Form(form): Form<LinkForm>,
) -> Result<Response, PageError> {
    link_action(app, session, headers, link_id, form, false).await
}

/// `POST /links/<link>/reissue` (form).
pub async fn reissue_form(
    State(app): State<SharedApp>,
    Extension(session): Extension<Session>,
    headers: HeaderMap,
    Path(link_id): Path<String>,
    Form(form): Form<LinkForm>,
) -> Result<Response, PageError> {
    link_action(app, session, headers, link_id, form, true).await
}

async fn link_action(
    app: SharedApp,
    session: Session,
    headers: HeaderMap,
    link_id: String,
    form: LinkForm,
    reissue: bool,
) -> Result<Response, PageError> {
    auth::check_form_csrf(&session, &form.csrf, &headers)?;
    if reissue {
        views::reissue_link(&app, &link_id).await?;
    } else {
        views::revoke_link(&app, &link_id).await?;
    }
    Ok(back(&form.take))
}

/// `GET /api/v1/takes/<take>/links`.
pub async fn list_api(
    State(app): State<SharedApp>,
    Extension(session): Extension<Session>,
    Path(take_id): Path<String>,
) -> Result<Json<Vec<LinkView>>, ApiError> {
    let admin = session.role >= moocpipe_catalog::Role::Admin;
    Ok(Json(views::take_links(&app, &take_id, admin).await?))
}

/// `POST /api/v1/takes/<take>/links`.
pub async fn issue_api(
    State(app): State<SharedApp>,
    Path(take_id): Path<String>,
) -> Result<Json<LinkView>, ApiError> {
    Ok(Json(views::issue_take_link(&app, &take_id).await?))
}

/// `POST /api/v1/links/<link>/revoke`.
pub async fn revoke_api(
    State(app): State<SharedApp>,
    Path(link_id): Path<String>,
) -> Result<Json<LinkView>, ApiError> {
    Ok(Json(views::revoke_link(&app, &link_id).await?))
}

/// `POST /api/v1/links/<link>/reissue`.
pub async fn reissue_api(
    State(app): State<SharedApp>,
    Path(link_id): Path<String>,
) -> Result<Json<LinkView>, ApiError> {
    Ok(Json(views::reissue_link(&app, &link_id).await?))
}

impl Store {
    async fn head(
        &self,
        key: &str,
    ) -> Result<Option<moocpipe_storage::ObjectMeta>, moocpipe_storage::StorageError> {
        match self {
            Store::Local(s) => s.head(key).await,
            Store::S3(s) => s.head(key).await,
        }
    }

    async fn get_bytes(&self, key: &str) -> Result<Vec<u8>, moocpipe_storage::StorageError> {
        match self {
            Store::Local(s) => s.get_bytes(key).await,
            Store::S3(s) => s.get_bytes(key).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_uris_stay_inside_the_take() {
        assert_eq!(
            join("runs/r/renditions/hls", "720p/index.m3u8").as_deref(),
            Some("runs/r/renditions/hls/720p/index.m3u8")
        );
        assert_eq!(
            join("runs/r/renditions/hls/720p", "../1080p/seg0.ts").as_deref(),
            Some("runs/r/renditions/hls/1080p/seg0.ts")
        );
        assert_eq!(join("runs", "../../t2/x.ts"), None);
        assert_eq!(join("runs/r", "http://evil/x.ts"), None);
        assert_eq!(join("runs/r", "/takes/t2/x.ts"), None);
    }

    #[test]
    fn every_uri_of_a_playlist_is_rewritten_and_unknown_ones_are_dropped() {
        let master = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=1280x720\n720p/index.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=99\nelsewhere.m3u8\n";
        let out = rewrite_playlist(master, |uri| {
            (uri == "720p/index.m3u8").then(|| format!("/l/T/hls/{uri}"))
        });
        assert_eq!(
            out,
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=1280x720\n/l/T/hls/720p/index.m3u8\n"
        );
        let media = "#EXTM3U\n#EXT-X-MAP:URI=\"init.mp4\"\n#EXTINF:6.0,\nsegment00000.ts\n#EXTINF:4.5,\nsegment00001.ts\n#EXT-X-ENDLIST\n";
        let out = rewrite_playlist(media, |uri| Some(format!("/l/T/{uri}")));
        assert_eq!(
            out,
            "#EXTM3U\n#EXT-X-MAP:URI=\"/l/T/init.mp4\"\n#EXTINF:6.0,\n/l/T/segment00000.ts\n#EXTINF:4.5,\n/l/T/segment00001.ts\n#EXT-X-ENDLIST\n"
        );
    }
}
