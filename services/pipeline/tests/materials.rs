//! A course material's store side over the local store: checked, copied,
//! recorded; the same version again changes nothing; a bad new version is
//! recorded and takes the old copy down.

use moocpipe_pipeline::materials::{self, MaterialSource, Published};
use moocpipe_proto::{MaterialErrorKind, MaterialRecord, MaterialType, MaterialVerdict};
use moocpipe_storage::{LocalStore, ObjectStore, StorageError};
use std::cell::Cell;

const PDF: &[u8] = b"%PDF-1.4\n1 0 obj <</Type /Catalog>> endobj\ntrailer <</Root 1 0 R>>\n%%EOF\n";

fn source<'a>(version: &'a str, size: usize) -> MaterialSource<'a> {
    MaterialSource {
        course: "physics-101",
        path: "01-mechanics/syllabus.pdf",
        location: "physics-101/01-mechanics/syllabus.pdf",
        version,
        size_bytes: size as u64,
    }
}

/// Publishes `bytes` as version `version`; counts the reads and copies.
async fn publish(
    store: &LocalStore,
    version: &str,
    bytes: &[u8],
    reads: &Cell<u32>,
) -> Result<Published, moocpipe_pipeline::PipelineError> {
    materials::publish(
        store,
        source(version, bytes.len()),
        async {
            reads.set(reads.get() + 1);
            Ok(bytes.to_vec())
        },
        |key: String, content_type: String| async move {
            ObjectStore::put_bytes(store, &key, bytes.to_vec(), &content_type).await
        },
        false,
    )
    .await
}

#[tokio::test]
async fn a_material_is_checked_copied_and_recorded_once_per_version() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = LocalStore::open(dir.path()).expect("store");
    let reads = Cell::new(0);

    let first = publish(&store, "v1", PDF, &reads).await.expect("published");
    assert!(!first.reused);
    let record = &first.record;
    assert_eq!(record.verdict, MaterialVerdict::Ok);
    assert_eq!(record.declared, Some(MaterialType::Pdf));
    assert_eq!(record.detected, Some(MaterialType::Pdf));
    assert_eq!(record.content_type.as_deref(), Some("application/pdf"));
    let object = record.object.as_ref().expect("a copy");
    assert_eq!(
        object.key,
        "courses/physics-101/materials/01-mechanics/syllabus.pdf"
    );
    assert_eq!(std::fs::read(store.path(&object.key)).expect("copy"), PDF);
    let key = materials::record_key("physics-101", "01-mechanics/syllabus.pdf");
    assert_eq!(
        store.get_json::<MaterialRecord>(&key).expect("read"),
        Some(record.clone()),
        "the record is stored"
    );

    // The same version: nothing read, nothing written.
    let stat = std::fs::metadata(store.path(&key)).expect("record");
    let again = publish(&store, "v1", PDF, &reads).await.expect("again");
    assert!(again.reused);
    assert_eq!(again.record, first.record);
    assert_eq!(reads.get(), 1);
    assert_eq!(
        std::fs::metadata(store.path(&key))
            .expect("record")
            .modified()
            .ok(),
        stat.modified().ok()
    );

    // A copy that is no longer as recorded is made again.
    std::fs::write(store.path(&object.key), b"tampered").expect("tamper");
    let redone = publish(&store, "v1", PDF, &reads).await.expect("redone");
    assert!(!redone.reused);
    assert_eq!(std::fs::read(store.path(&object.key)).expect("copy"), PDF);

    // A new version that is text: recorded as an error, the old copy gone.
    let text = b"Week 1: kinematics\n";
    let bad = publish(&store, "v2", text, &reads).await.expect("recorded");
    assert_eq!(bad.record.verdict, MaterialVerdict::Error);
    assert_eq!(bad.record.object, None);
    assert_eq!(bad.record.detected, Some(MaterialType::Text));
    let error = bad.record.error.as_ref().expect("an error");
    assert_eq!(error.kind, MaterialErrorKind::Mismatch);
    assert_eq!(
        error.message,
        "physics-101/01-mechanics/syllabus.pdf claims to be a PDF document (by its name) but \
         its content is plain text"
    );
    assert!(!store.path(&object.key).exists(), "the old copy is removed");
    let reads_before = reads.get();
    assert!(
        publish(&store, "v2", text, &reads)
            .await
            .expect("again")
            .reused
    );
    assert_eq!(reads.get(), reads_before, "an error is not checked twice");
}

#[tokio::test]
async fn an_empty_file_is_recorded_without_reading_and_a_failing_copy_records_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = LocalStore::open(dir.path()).expect("store");
    let reads = Cell::new(0);
    let empty = publish(&store, "v0", b"", &reads).await.expect("recorded");
    assert_eq!(
        empty.record.error.map(|e| e.kind),
        Some(MaterialErrorKind::Empty)
    );
    assert_eq!(reads.get(), 0);

    let failed = materials::publish(
        &store,
        source("v1", PDF.len()),
        async { Ok(PDF.to_vec()) },
        |_key: String, _content_type: String| async {
            Err(StorageError::Transient {
                message: "the source went away".into(),
            })
        },
        false,
    )
    .await
    .expect_err("the copy failed");
    assert!(failed.is_transient(), "{failed}");
    let key = materials::record_key("physics-101", "01-mechanics/syllabus.pdf");
    let kept = store.get_json::<MaterialRecord>(&key).expect("read");
    assert_eq!(
        kept.map(|r| r.source_version).as_deref(),
        Some("v0"),
        "the earlier record stays; nothing new is recorded"
    );
}
