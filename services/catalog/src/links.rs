//! Stable links (clause 9.4): `<public URL>/l/<token>`, valid for a year by
//! default whatever a presigned URL's lifetime, revocable and re-issuable.
//!
//! A link is scoped to one take version (its renditions, HLS package,
//! captions and its read-only page) or to one stored object (a course
//! material). The token is 256 bits, kept only as its SHA-256, like a
//! session cookie. It is not drawn at random but computed,
//! HMAC-SHA256(link key, scope, generation): the report stage may run
//! twice for one take (at-least-once delivery) and must hand the author
//! the same link both times, and an admin may be shown a take's current
//! link again. Only a holder of the link key (the report workers and the
//! server) can compute a token; the catalog alone gives none away. A
//! revoked link stays revoked: re-issuing makes the next generation, a new
//! token.

use hmac::{Hmac, Mac};
use rand::rngs::OsRng;
use rand::RngCore;
use schemars::JsonSchema;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::FromRow;
use std::fmt;
use std::path::Path;
use std::time::Duration;

use crate::{now_ms, Catalog, CatalogError};

/// The default lifetime of a link: a course's expert review and launch
/// fit in it.
pub const DEFAULT_LINK_TTL: Duration = Duration::from_secs(365 * 24 * 3600);

/// The environment variable that holds the link key (hex, ≥ 32 bytes).
pub const ENV_LINK_KEY: &str = "MOOCPIPE_LINK_KEY";

/// The embedded mode's key file in the data folder.
pub const LINK_KEY_FILE: &str = "link.key";

const KEY_BYTES: usize = 32;

/// The secret links are computed with. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct LinkKey(Vec<u8>);

impl fmt::Debug for LinkKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LinkKey([redacted])")
    }
}

impl LinkKey {
    /// A key from its hex text (at least 32 bytes: 64 hex digits), e.g.
    /// `openssl rand -hex 32`.
    pub fn from_hex(text: &str) -> Result<LinkKey, CatalogError> {
        let bytes = hex::decode(text.trim()).map_err(|e| {
            CatalogError::Invalid(format!(
                "the link key is not hex ({e}); make one with `openssl rand -hex 32`"
            ))
        })?;
        if bytes.len() < KEY_BYTES {
            return Err(CatalogError::Invalid(format!(
                "the link key has {} bytes; it needs at least {KEY_BYTES} (`openssl rand -hex 32`)",
                bytes.len()
            )));
        }
        Ok(LinkKey(bytes))
    }

    /// A new random key.
    pub fn generate() -> LinkKey {
        let mut bytes = vec![0u8; KEY_BYTES];
        OsRng.fill_bytes(&mut bytes);
        LinkKey(bytes)
    }

    /// `MOOCPIPE_LINK_KEY` from `lookup`; `None` when it is not set.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<LinkKey>, CatalogError> {
        match lookup(ENV_LINK_KEY).filter(|v| !v.trim().is_empty()) {
            None => Ok(None),
            Some(text) => LinkKey::from_hex(&text)
                .map(Some)
                .map_err(|e| CatalogError::Invalid(format!("{ENV_LINK_KEY}: {e}"))),
        }
    }

    /// The embedded mode's key: `<data>/link.key`, made (readable by its
    /// owner only) the first time. Two processes making it at once agree:
    /// the file is created exclusively and the loser reads the winner's.
    pub fn load_or_create(data: &Path) -> Result<LinkKey, CatalogError> {
        let path = data.join(LINK_KEY_FILE);
        let io = |source| CatalogError::Io {
            path: path.display().to_string(),
            source,
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => return LinkKey::from_hex(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(e)),
        }
        std::fs::create_dir_all(data).map_err(|source| CatalogError::Io {
            path: data.display().to_string(),
            source,
        })?;
        let key = LinkKey::generate();
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(&path) {
            Ok(mut file) => {
                use std::io::Write;
                file.write_all(hex::encode(&key.0).as_bytes())
                    .and_then(|()| file.sync_all())
                    .map_err(io)?;
                Ok(key)
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let text = std::fs::read_to_string(&path).map_err(io)?;
                LinkKey::from_hex(&text)
            }
            Err(e) => Err(io(e)),
        }
    }

    /// The token of `scope`'s link of `generation`: 64 hex digits.
    pub fn token(&self, scope: &LinkScope, generation: i64) -> String {
        // A key of any length is accepted by HMAC.
        let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(&self.0) {
            Ok(mac) => mac,
            Err(_) => unreachable_key(),
        };
        mac.update(b"moocpipe-link\0");
        mac.update(scope.kind().as_bytes());
        mac.update(b"\0");
        mac.update(scope.subject().as_bytes());
        mac.update(b"\0");
        mac.update(generation.to_string().as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

#[cold]
fn unreachable_key() -> ! {
    // `Hmac::new_from_slice` refuses no key length; this is never reached.
    panic!("HMAC refused a key")
}

/// The address links carry when `MOOCPIPE_PUBLIC_URL` is not set: the
/// embedded server's.
pub const DEFAULT_PUBLIC_URL: &str = "http://127.0.0.1:8080";
/// The address users reach `moocpipe serve` at.
pub const ENV_PUBLIC_URL: &str = "MOOCPIPE_PUBLIC_URL";
/// How many days a new link works.
pub const ENV_LINK_DAYS: &str = "MOOCPIPE_LINK_DAYS";

/// What an issuer of links needs: the key, the address links carry and how
/// long they work.
#[derive(Debug, Clone)]
pub struct LinkSettings {
    pub key: LinkKey,
    /// `https://mooc.university.kz` (no trailing slash).
    pub public_url: String,
    pub ttl: Duration,
}

impl LinkSettings {
    /// `MOOCPIPE_PUBLIC_URL` and `MOOCPIPE_LINK_DAYS` from `lookup`, with
    /// `key`.
    pub fn from_lookup(
        key: LinkKey,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<LinkSettings, CatalogError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let public_url = match get(ENV_PUBLIC_URL) {
            None => DEFAULT_PUBLIC_URL.to_owned(),
            Some(url) => check_public_url(&url)
                .map_err(|why| CatalogError::Invalid(format!("{ENV_PUBLIC_URL}={url:?}: {why}")))?,
        };
        let ttl = match get(ENV_LINK_DAYS) {
            None => DEFAULT_LINK_TTL,
            Some(days) => days
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|d| (1..=3650).contains(d))
                .map(|d| Duration::from_secs(d * 24 * 3600))
                .ok_or_else(|| {
                    CatalogError::Invalid(format!(
                        "{ENV_LINK_DAYS}={days:?}: expected a whole number of days, 1 to 3650"
                    ))
                })?,
        };
        Ok(LinkSettings {
            key,
            public_url,
            ttl,
        })
    }

    /// The link of `token`: `<public URL>/l/<token>`.
    pub fn url(&self, token: &str) -> String {
        format!("{}/l/{token}", self.public_url)
    }
}

/// An `http(s)://host[:port][/prefix]` address without a trailing slash.
pub fn check_public_url(url: &str) -> Result<String, String> {
    let url = url.trim().trim_end_matches('/');
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or("it must start with http:// or https://")?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err("it names no host".into());
    }
    if url.contains(['?', '#', ' ']) {
        return Err("it must be an address without query or fragment".into());
    }
    Ok(url.to_owned())
}

/// What a link opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkScope {
    /// One take version: its published files and its read-only page.
    Take { take_id: String },
    /// One stored object (a course material).
    Object { key: String },
}

impl LinkScope {
    pub fn kind(&self) -> &'static str {
        match self {
            LinkScope::Take { .. } => "take",
            LinkScope::Object { .. } => "object",
        }
    }

    pub fn subject(&self) -> &str {
        match self {
            LinkScope::Take { take_id } => take_id,
            LinkScope::Object { key } => key,
        }
    }

    fn from_row(kind: &str, subject: String) -> Option<LinkScope> {
        match kind {
            "take" => Some(LinkScope::Take { take_id: subject }),
            "object" => Some(LinkScope::Object { key: subject }),
            _ => None,
        }
    }
}

/// A link as the catalog knows it (never with its token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Link {
    /// The link's public handle for admin actions: the first 16 hex
    /// digits of the token's SHA-256 (it opens nothing).
    pub link_id: String,
    /// `take` or `object`.
    pub kind: String,
    /// The take id, or the object's key.
    pub subject: String,
    pub course: String,
    /// 1 for the first link of its scope, one more per re-issue.
    pub generation: i64,
    pub created_ms: i64,
    pub expires_ms: i64,
    pub revoked_ms: Option<i64>,
    /// Files downloaded through it (pages and playlists not counted).
    pub downloads: i64,
    pub last_used_ms: Option<i64>,
}

impl Link {
    pub fn scope(&self) -> Option<LinkScope> {
        LinkScope::from_row(&self.kind, self.subject.clone())
    }

    /// `live`, `expired` or `revoked`, at `now_ms`.
    pub fn state(&self, now_ms: i64) -> &'static str {
        if self.revoked_ms.is_some() {
            "revoked"
        } else if self.expires_ms <= now_ms {
            "expired"
        } else {
            "live"
        }
    }
}

#[derive(FromRow)]
struct LinkRow {
    link_id: String,
    kind: String,
    subject: String,
    course: String,
    generation: i64,
    created_ms: i64,
    expires_ms: i64,
    revoked_ms: Option<i64>,
    downloads: i64,
    last_used_ms: Option<i64>,
}

impl From<LinkRow> for Link {
    fn from(r: LinkRow) -> Link {
        Link {
            link_id: r.link_id,
            kind: r.kind,
            subject: r.subject,
            course: r.course,
            generation: r.generation,
            created_ms: r.created_ms,
            expires_ms: r.expires_ms,
            revoked_ms: r.revoked_ms,
            downloads: r.downloads,
            last_used_ms: r.last_used_ms,
        }
    }
}

const COLUMNS: &str = "link_id, kind, subject, course, generation, created_ms, expires_ms,
    revoked_ms, downloads, last_used_ms";

/// A link and its token, to hand out once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedLink {
    pub token: String,
    pub link: Link,
}

/// What a presented token opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    Valid(Link),
    Expired(Link),
    Revoked(Link),
    Unknown,
}

/// The SHA-256 a token is kept as.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn link_id(hash: &str) -> String {
    hash.chars().take(16).collect()
}

fn ttl_ms(ttl: Duration) -> i64 {
    i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX)
}

impl Catalog {
    /// The current link of `scope`, issued when it has none that is still
    /// valid. Idempotent: the same scope gets the same token until its
    /// link is revoked or expires.
    pub async fn issue_link(
        &self,
        key: &LinkKey,
        scope: &LinkScope,
        course: &str,
        ttl: Duration,
    ) -> Result<IssuedLink, CatalogError> {
        let now = now_ms();
        let generation = match self.current_link(scope).await? {
            Some(link) if link.revoked_ms.is_none() && link.expires_ms > now => {
                return Ok(IssuedLink {
                    token: key.token(scope, link.generation),
                    link,
                })
            }
            Some(link) => link.generation + 1,
            None => 1,
        };
        self.insert_link(key, scope, course, generation, ttl).await
    }

    /// Revokes `link_id` (when it is not yet) and issues its scope's next
    /// generation: a new token; the old one answers 410.
    pub async fn reissue_link(
        &self,
        key: &LinkKey,
        link_id: &str,
        ttl: Duration,
    ) -> Result<Option<IssuedLink>, CatalogError> {
        let Some(link) = self.link(link_id).await? else {
            return Ok(None);
        };
        let scope = link.scope().ok_or_else(|| {
            CatalogError::Invalid(format!("link {link_id} has an unknown kind {}", link.kind))
        })?;
        self.revoke_link(link_id).await?;
        let next = match self.current_link(&scope).await? {
            Some(current) => current.generation + 1,
            None => link.generation + 1,
        };
        self.insert_link(key, &scope, &link.course, next, ttl)
            .await
            .map(Some)
    }

    async fn insert_link(
        &self,
        key: &LinkKey,
        scope: &LinkScope,
        course: &str,
        generation: i64,
        ttl: Duration,
    ) -> Result<IssuedLink, CatalogError> {
        let token = key.token(scope, generation);
        let hash = token_hash(&token);
        let now = now_ms();
        // Two issuers of one scope and generation compute the same token:
        // the second insert does nothing and both read the one row.
        sqlx::query(
            "INSERT INTO catalog_links (link_id, token_hash, kind, subject, course, generation,
                 created_ms, expires_ms, revoked_ms, downloads, last_used_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, 0, NULL)
             ON CONFLICT (link_id) DO NOTHING",
        )
        .bind(link_id(&hash))
        .bind(&hash)
        .bind(scope.kind())
        .bind(scope.subject())
        .bind(course)
        .bind(generation)
        .bind(now)
        .bind(now.saturating_add(ttl_ms(ttl)))
        .execute(self.pool())
        .await?;
        let link = self.link(&link_id(&hash)).await?.ok_or_else(|| {
            CatalogError::Invalid(format!("link {} vanished as it was issued", link_id(&hash)))
        })?;
        Ok(IssuedLink { token, link })
    }

    /// The newest link of `scope`, whatever its state.
    pub async fn current_link(&self, scope: &LinkScope) -> Result<Option<Link>, CatalogError> {
        let row = sqlx::query_as::<_, LinkRow>(&format!(
            "SELECT {COLUMNS} FROM catalog_links WHERE kind = $1 AND subject = $2
             ORDER BY generation DESC LIMIT 1"
        ))
        .bind(scope.kind())
        .bind(scope.subject())
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(Link::from))
    }

    /// Every link of `scope`, newest first.
    pub async fn links_of(&self, scope: &LinkScope) -> Result<Vec<Link>, CatalogError> {
        let rows = sqlx::query_as::<_, LinkRow>(&format!(
            "SELECT {COLUMNS} FROM catalog_links WHERE kind = $1 AND subject = $2
             ORDER BY generation DESC"
        ))
        .bind(scope.kind())
        .bind(scope.subject())
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(Link::from).collect())
    }

    pub async fn link(&self, link_id: &str) -> Result<Option<Link>, CatalogError> {
        let row = sqlx::query_as::<_, LinkRow>(&format!(
            "SELECT {COLUMNS} FROM catalog_links WHERE link_id = $1"
        ))
        .bind(link_id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(Link::from))
    }

    /// What `token` opens.
    pub async fn resolve_link(&self, token: &str) -> Result<Resolved, CatalogError> {
        // Not a token we could have made: no query.
        if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(Resolved::Unknown);
        }
        let row = sqlx::query_as::<_, LinkRow>(&format!(
            "SELECT {COLUMNS} FROM catalog_links WHERE token_hash = $1"
        ))
        .bind(token_hash(&token.to_ascii_lowercase()))
        .fetch_optional(self.pool())
        .await?;
        Ok(match row.map(Link::from) {
            None => Resolved::Unknown,
            Some(link) if link.revoked_ms.is_some() => Resolved::Revoked(link),
            Some(link) if link.expires_ms <= now_ms() => Resolved::Expired(link),
            Some(link) => Resolved::Valid(link),
        })
    }

    /// Revokes a link; whether it was live until now.
    pub async fn revoke_link(&self, link_id: &str) -> Result<bool, CatalogError> {
        let done = sqlx::query(
            "UPDATE catalog_links SET revoked_ms = $1 WHERE link_id = $2 AND revoked_ms IS NULL",
        )
        .bind(now_ms())
        .bind(link_id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Counts one download through a link.
    pub async fn count_download(&self, link_id: &str) -> Result<(), CatalogError> {
        sqlx::query(
            "UPDATE catalog_links SET downloads = downloads + 1, last_used_ms = $1
             WHERE link_id = $2",
        )
        .bind(now_ms())
        .bind(link_id)
        .execute(self.pool())
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_depend_on_key_scope_and_generation() {
        let key = LinkKey::from_hex(&"ab".repeat(32)).expect("key");
        let take = LinkScope::Take {
            take_id: "t1".into(),
        };
        let a = key.token(&take, 1);
        assert_eq!(a.len(), 64);
        assert_eq!(a, key.token(&take, 1), "deterministic");
        assert_ne!(a, key.token(&take, 2));
        assert_ne!(
            a,
            key.token(
                &LinkScope::Take {
                    take_id: "t2".into()
                },
                1
            )
        );
        assert_ne!(a, key.token(&LinkScope::Object { key: "t1".into() }, 1));
        assert_ne!(a, LinkKey::generate().token(&take, 1));
        assert_ne!(token_hash(&a), a);
    }

    #[test]
    fn short_or_non_hex_keys_are_refused_and_never_printed() {
        assert!(LinkKey::from_hex("abcd").is_err());
        assert!(LinkKey::from_hex(&"zz".repeat(32)).is_err());
        let key = LinkKey::from_hex(&"cd".repeat(32)).expect("key");
        assert!(!format!("{key:?}").contains("cd"));
    }

    #[test]
    fn the_public_address_and_lifetime_are_checked() {
        let key = LinkKey::generate();
        let settings = LinkSettings::from_lookup(key.clone(), |name| match name {
            ENV_PUBLIC_URL => Some("https://mooc.example.org/".into()),
            ENV_LINK_DAYS => Some("30".into()),
            _ => None,
        })
        .expect("settings");
        assert_eq!(settings.url("abc"), "https://mooc.example.org/l/abc");
        assert_eq!(settings.ttl, Duration::from_secs(30 * 24 * 3600));
        let defaults = LinkSettings::from_lookup(key.clone(), |_| None).expect("defaults");
        assert_eq!(defaults.public_url, DEFAULT_PUBLIC_URL);
        assert_eq!(defaults.ttl, DEFAULT_LINK_TTL);
        for (name, value) in [
            (ENV_PUBLIC_URL, "garage:3900"),
            (ENV_PUBLIC_URL, "https://"),
            (ENV_LINK_DAYS, "0"),
            (ENV_LINK_DAYS, "forever"),
        ] {
            let error =
                LinkSettings::from_lookup(key.clone(), |n| (n == name).then(|| value.to_owned()))
                    .expect_err(value)
                    .to_string();
            assert!(error.contains(name), "{error}");
        }
    }

    #[test]
    fn the_embedded_key_is_made_once_and_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = LinkKey::load_or_create(dir.path()).expect("made");
        let b = LinkKey::load_or_create(dir.path()).expect("read");
        assert_eq!(a, b);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(LINK_KEY_FILE))
                .expect("file")
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "{mode:o}");
        }
    }
}
