use moocpipe_storage::StorageError;

/// What can go wrong with the catalog.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("catalog URL {url}: {why}")]
    Url { url: String, why: String },
    #[error("connecting to the catalog at {url}: {source}")]
    Connect {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("catalog folder {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("catalog: {0}")]
    Query(#[from] sqlx::Error),
    /// A record in the store that is not what its name says.
    #[error("{location}: not a valid {what} record: {why}")]
    Record {
        location: String,
        what: &'static str,
        why: String,
    },
    #[error(transparent)]
    Store(#[from] StorageError),
    #[error("password hash: {0}")]
    Hash(String),
    /// A user name or role the catalog refuses.
    #[error("{0}")]
    Invalid(String),
}
