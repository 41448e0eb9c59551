//! Take ids: a short hash of where a take came from and which version of it
//! this is, so every stage can tell work it has already done.

use sha2::{Digest, Sha256};

/// The origin of takes found on the local file system.
pub const LOCAL_ORIGIN: &str = "local";

/// The first 16 hex digits (64 bits) of SHA-256 over
/// `"<origin>\0<key>\0<version>"`. An S3 ingest calls it with
/// (bucket, key, ETag).
pub fn take_id(origin: &str, key: &str, version: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(origin.as_bytes());
    hasher.update([0]);
    hasher.update(key.as_bytes());
    hasher.update([0]);
    hasher.update(version.as_bytes());
    hasher
        .finalize()
        .iter()
        .take(8)
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The key every ingest job for one raw object shares (its AMQP `take_id`
/// header and lease), whatever way it was found: [`take_id`] of bucket and
/// key with an empty version, prefixed `ingest-`. A hash, so any S3 key
/// (up to 1024 bytes, any characters) makes a short, safe lease name.
pub fn ingest_key_id(bucket: &str, key: &str) -> String {
    format!("ingest-{}", take_id(bucket, key, ""))
}

/// The id of a local take: [`take_id`] over
/// `"local\0<key>\0<size in bytes>\0<mtime in ns since the Unix epoch>"`
/// (negative before 1970). The same upload gets the same id; new bytes or a
/// new modification time give a new one.
pub fn local_take_id(key: &str, size_bytes: u64, mtime_ns: i128) -> String {
    take_id(LOCAL_ORIGIN, key, &format!("{size_bytes}\0{mtime_ns}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ingest_key_ids_are_short_safe_and_one_per_object() {
        let odd = format!("course/../{}\\take.mov", "x".repeat(1000));
        let id = ingest_key_id("raw", &odd);
        assert!(id.starts_with("ingest-") && id.len() == 23, "{id}");
        assert!(id[7..].chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(id, ingest_key_id("raw", &odd));
        assert_ne!(id, ingest_key_id("raw2", &odd));
        assert_ne!(id[7..], take_id("raw", &odd, "etag"));
    }

    #[test]
    fn take_id_is_the_start_of_sha256_over_nul_separated_parts() {
        // Expected values from Python's hashlib.sha256(...).hexdigest()[:16] over
        // b"local\x00physics-101/01-m/02-l/t.mov\x00123\x001700000000000000000"
        assert_eq!(
            local_take_id(
                "physics-101/01-m/02-l/t.mov",
                123,
                1_700_000_000_000_000_000
            ),
            "f284f3fd1d7beb64"
        );
        // and b'media-bucket\x00physics-101/promo/p.mp4\x00"9b2cf535f27731c974343645a3985328"'.
        assert_eq!(
            take_id(
                "media-bucket",
                "physics-101/promo/p.mp4",
                "\"9b2cf535f27731c974343645a3985328\""
            ),
            "940b5cf6b425a056"
        );
    }

    #[test]
    fn every_part_changes_the_id() {
        let base = local_take_id("c/01/01/t.mov", 10, 5);
        assert_eq!(base.len(), 16);
        assert!(base
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert_eq!(base, local_take_id("c/01/01/t.mov", 10, 5));
        assert_ne!(base, local_take_id("c/01/01/u.mov", 10, 5));
        assert_ne!(base, local_take_id("c/01/01/t.mov", 11, 5));
        assert_ne!(base, local_take_id("c/01/01/t.mov", 10, 6));
        assert_ne!(base, take_id("s3", "c/01/01/t.mov", "10\u{0}5"));
        // The separators keep parts from running into each other.
        assert_ne!(take_id("a", "bc", "d"), take_id("ab", "c", "d"));
    }
}
