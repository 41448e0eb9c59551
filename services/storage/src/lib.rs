//! Where records and outputs live. One layout (see [`layout`]) for every
//! backend, one interface ([`ObjectStore`]) over two of them: the
//! local-folder store ([`LocalStore`], the embedded default) and S3
//! ([`S3Store`], the distributed mode). Writes are atomic: a reader sees the
//! old object or the new one, never half of one.

pub mod content_type;
mod error;
pub mod layout;
mod local;
mod object;
mod reader;
mod s3;

pub use error::StorageError;
pub use local::{LocalStore, Staging};
pub use object::{
    ListPage, ListedObject, ObjectMeta, ObjectStore, LIST_PAGE_SIZE, MAX_PRESIGN_EXPIRY,
};
pub use reader::ObjectReader;
pub use s3::{
    part_size, S3Config, S3Store, S3Timeouts, UploadedPart, ENV_ACCESS_KEY_ID, ENV_BUCKET,
    ENV_CONNECT_TIMEOUT, ENV_ENDPOINT, ENV_MAX_ATTEMPTS, ENV_OPERATION_TIMEOUT, ENV_PATH_STYLE,
    ENV_PUBLIC_ENDPOINT, ENV_READ_TIMEOUT, ENV_REGION, ENV_SECRET_ACCESS_KEY, ENV_TRANSFER_TIMEOUT,
    MAX_PARTS, MAX_PART_SIZE, MIN_PART_SIZE,
};
