//! Placing a raw object of an S3 bucket: the same course layout convention
//! as on disk, applied to the object's key (`<course>/<NN-module>/<NN-lesson>/
//! <take>.<ext>`, or `<course>/promo|closing/<take>.<ext>`). No I/O here: the
//! caller reads the object's ETag and size, and its sidecar `<take>.json`
//! when there is one.

use std::path::PathBuf;

use moocpipe_proto::TakeRef;

use crate::error::LayoutError;
use crate::has_take_extension;
use crate::layout::{self, Placement};
use crate::sidecar::parse_sidecar;
use crate::take_id::take_id;

/// A raw object in a bucket, as a HEAD saw it.
#[derive(Debug, Clone, Copy)]
pub struct RawObject<'a> {
    pub bucket: &'a str,
    pub key: &'a str,
    /// The object's ETag, without quotes: the take's version.
    pub etag: &'a str,
    pub size_bytes: u64,
}

impl RawObject<'_> {
    /// `s3://bucket/key`, how errors and take sources name it.
    pub fn location(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }

    /// The key of the sidecar that would describe this take.
    pub fn sidecar_key(&self) -> Option<String> {
        let (stem, _ext) = self.key.rsplit_once('.')?;
        Some(format!("{stem}.json"))
    }
}

/// Turns a raw object into a take placed in its course. `sidecar` is the
/// sidecar's bytes when the object has one. The take id is
/// [`take_id`]`(bucket, key, etag)`: the same upload, however it was found,
/// is the same take.
pub fn place_object(object: RawObject<'_>, sidecar: Option<&[u8]>) -> Result<TakeRef, LayoutError> {
    let shown = PathBuf::from(object.location());
    if !has_take_extension(&shown) {
        let found = match object.key.rsplit_once('.') {
            Some((_, ext)) if !ext.contains('/') => format!("extension '.{ext}'"),
            _ => "no extension".to_string(),
        };
        return Err(LayoutError::NotATake { path: shown, found });
    }
    let parts: Vec<&str> = object.key.split('/').collect();
    let Some((course, rel)) = parts.split_first() else {
        return Err(misplaced(&shown, "the key is empty"));
    };
    if course.is_empty() || rel.is_empty() {
        return Err(misplaced(&shown, "the take is not inside a course folder"));
    }
    let placement = layout::classify(rel).map_err(|reason| misplaced(&shown, &reason))?;
    let file = rel.last().copied().unwrap_or_default();
    let stem = file.rsplit_once('.').map_or(file, |(stem, _)| stem);

    let sidecar = match (sidecar, object.sidecar_key()) {
        (Some(bytes), Some(key)) => {
            let path = PathBuf::from(format!("s3://{}/{key}", object.bucket));
            let sidecar = parse_sidecar(&path, bytes)?;
            if let Some(kind) = sidecar.kind.filter(|kind| *kind != placement.kind) {
                return Err(LayoutError::SidecarKindMismatch {
                    path,
                    sidecar: kind,
                    folder: placement.kind,
                });
            }
            sidecar
        }
        _ => Default::default(),
    };
    let title = layout::title(&sidecar, &placement, stem);
    let Placement {
        kind,
        module,
        module_name,
        lesson,
        lesson_name,
    } = placement;
    Ok(TakeRef {
        take_id: take_id(object.bucket, object.key, object.etag),
        source: object.location(),
        key: object.key.to_string(),
        course: (*course).to_string(),
        kind,
        module,
        module_name,
        lesson,
        lesson_name,
        take: stem.to_string(),
        title,
        sidecar,
        size_bytes: object.size_bytes,
    })
}

fn misplaced(path: &std::path::Path, reason: &str) -> LayoutError {
    LayoutError::Misplaced {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use moocpipe_proto::TakeKind;

    fn object(key: &str) -> RawObject<'_> {
        RawObject {
            bucket: "raw",
            key,
            etag: "abc-2",
            size_bytes: 42,
        }
    }

    #[test]
    fn a_lecture_key_is_placed_like_a_path_and_identified_by_bucket_key_and_etag() {
        let key = "physics-101/01-mechanics/02-newton/take-03.mov";
        let take = place_object(object(key), None).expect("placed");
        assert_eq!(take.course, "physics-101");
        assert_eq!(take.kind, TakeKind::Lecture);
        assert_eq!((take.module, take.lesson), (Some(1), Some(2)));
        assert_eq!(take.take, "take-03");
        assert_eq!(take.title, "Newton");
        assert_eq!(take.source, format!("s3://raw/{key}"));
        assert_eq!(take.take_id, take_id("raw", key, "abc-2"));
        let other_version = RawObject {
            etag: "def-2",
            ..object(key)
        };
        assert_ne!(
            place_object(other_version, None).expect("placed").take_id,
            take.take_id
        );
    }

    #[test]
    fn the_sidecar_gives_title_and_author_and_must_agree_with_the_folder() {
        let key = "physics-101/promo/trailer.mp4";
        let sidecar = br#"{"title": "Physics!", "author_email": "a@uni.kz", "language": "en"}"#;
        let take = place_object(object(key), Some(sidecar)).expect("placed");
        assert_eq!(take.kind, TakeKind::Promo);
        assert_eq!(take.title, "Physics!");
        assert_eq!(take.sidecar.author_email.as_deref(), Some("a@uni.kz"));
        let wrong = place_object(object(key), Some(br#"{"kind": "lecture"}"#)).unwrap_err();
        assert!(
            wrong
                .to_string()
                .contains("s3://raw/physics-101/promo/trailer.json"),
            "{wrong}"
        );
    }

    #[test]
    fn keys_off_the_convention_are_errors_naming_the_object() {
        for (key, says) in [
            ("take.mov", "not inside a course folder"),
            ("physics-101/take.mov", "directly in the course folder"),
            ("physics-101/01-mechanics/notes.txt", "not a take"),
            ("physics-101/mechanics/01/take.mov", "mechanics"),
        ] {
            let error = place_object(object(key), None).unwrap_err().to_string();
            assert!(error.contains(&format!("s3://raw/{key}")), "{error}");
            assert!(error.contains(says), "{key}: {error}");
        }
    }
}
