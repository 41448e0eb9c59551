//! The S3 backend against a real Garage 2.5.0 over the network: each test
//! starts its own node (see `garage/mod.rs`) with a random bucket.

mod garage;

use garage::Garage;
use moocpipe_storage::{ObjectStore, S3Config, S3Store, S3Timeouts, StorageError, LIST_PAGE_SIZE};
use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

const MIB: usize = 1024 * 1024;

/// A file of `len` bytes that no two offsets share a pattern in (a byte
/// swapped between parts would show).
fn write_test_file(path: &Path, len: usize) -> Vec<u8> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let bytes: Vec<u8> = (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    std::fs::write(path, &bytes).expect("write test file");
    bytes
}

async fn pending_uploads(store: &S3Store) -> usize {
    store
        .client()
        .list_multipart_uploads()
        .bucket(store.bucket())
        .send()
        .await
        .expect("list multipart uploads")
        .uploads()
        .len()
}

#[tokio::test]
async fn json_records_round_trip_and_head_tells_size_and_type() {
    let garage = Garage::start();
    let store = garage.store();
    store.check().await.expect("the bucket exists");
    let key = "takes/abc/records/probe.json";
    let record = serde_json::json!({"verdict": "pass", "rules": [1, 2, 3]});
    store.put_json(key, &record).await.expect("put_json");
    let back: Option<serde_json::Value> = store.get_json(key).await.expect("get_json");
    assert_eq!(back, Some(record));

    let meta = store.head(key).await.expect("head").expect("exists");
    let bytes = store.get_bytes(key).await.expect("get_bytes");
    assert_eq!(meta.size, bytes.len() as u64);
    assert_eq!(meta.content_type.as_deref(), Some("application/json"));
    assert!(
        !meta.etag.is_empty() && !meta.etag.contains('"'),
        "{meta:?}"
    );

    store
        .put_bytes(
            "takes/abc/records/qc.json",
            b"{}".to_vec(),
            "application/json",
        )
        .await
        .expect("put_bytes");
    store
        .put_bytes(
            "takes/abd/records/qc.json",
            b"{}".to_vec(),
            "application/json",
        )
        .await
        .expect("put_bytes");
    assert_eq!(
        store.list("takes/abc/").await.expect("list"),
        vec!["takes/abc/records/probe.json", "takes/abc/records/qc.json"]
    );
    assert_eq!(store.list("takes/ab").await.expect("list").len(), 3);

    store.delete(key).await.expect("delete");
    assert_eq!(store.head(key).await.expect("head"), None);
    let gone: Option<serde_json::Value> = store.get_json(key).await.expect("get_json");
    assert_eq!(
        gone, None,
        "a missing record is None, as in the local store"
    );
}

#[tokio::test]
async fn a_40_mib_file_goes_up_in_parts_and_comes_back_identical() {
    let garage = Garage::start();
    let store = garage.store();
    let dir = tempfile::tempdir().expect("tempdir");
    let source = dir.path().join("take.mp4");
    let len = 40 * MIB + 12_345;
    let content = write_test_file(&source, len);
    let key = "takes/abc/renditions/physics-101-m01-l02-newton-1080p.mp4";

    let started = Instant::now();
    store
        .put_file(key, &source, "video/mp4")
        .await
        .expect("put_file");
    eprintln!("40 MiB up in {:?}", started.elapsed());

    let meta = store.head(key).await.expect("head").expect("exists");
    assert_eq!(meta.size, len as u64);
    assert!(
        meta.etag.ends_with("-3"),
        "16 MiB parts: 3 parts, so the ETag is `<md5>-3`: {meta:?}"
    );
    assert_eq!(meta.content_type.as_deref(), Some("video/mp4"));
    assert_eq!(pending_uploads(&store).await, 0, "no upload left open");

    let target = dir.path().join("back/take.mp4");
    let started = Instant::now();
    let n = store.download_to(key, &target).await.expect("download");
    eprintln!("40 MiB down in {:?}", started.elapsed());
    assert_eq!(n, len as u64);
    let back = std::fs::read(&target).expect("read");
    assert!(back == content, "the download differs from the upload");

    // Ranges: across the first part boundary, at the end, past the end.
    let start = 16 * MIB - 10;
    let range = store.get_range(key, start as u64, 20).await.expect("range");
    assert_eq!(range, &content[start..start + 20]);
    let tail = store
        .get_range(key, (len - 5) as u64, 100)
        .await
        .expect("range at the end");
    assert_eq!(
        tail,
        &content[len - 5..],
        "a range past the end stops there"
    );
    let err = store
        .get_range(key, len as u64, 10)
        .await
        .expect_err("past the end");
    assert!(
        matches!(err, StorageError::InvalidRange { start, .. } if start == len as u64),
        "{err}"
    );
}

#[tokio::test]
async fn an_object_streams_from_one_store_into_another_whole_or_not_at_all() {
    let garage = Garage::start();
    let store = garage.store();
    let dir = tempfile::tempdir().expect("tempdir");
    let local = moocpipe_storage::LocalStore::open(dir.path().join("store")).expect("local");
    let source = dir.path().join("lab.zip");
    let len = 40 * MIB + 777;
    let content = write_test_file(&source, len);
    ObjectStore::put_file(&local, "raw/lab.zip", &source, "application/zip")
        .await
        .expect("local copy");

    // Local → S3: three parts, the type given.
    let from = local
        .head("raw/lab.zip")
        .await
        .expect("head")
        .expect("there");
    let reader = local
        .read_object("raw/lab.zip", Some(&from.etag))
        .await
        .expect("read");
    store
        .put_reader(
            "courses/c/materials/lab.zip",
            reader,
            len as u64,
            "application/zip",
        )
        .await
        .expect("streamed up");
    let meta = store
        .head("courses/c/materials/lab.zip")
        .await
        .expect("head")
        .expect("exists");
    assert_eq!(meta.size, len as u64);
    assert!(meta.etag.ends_with("-3"), "{meta:?}");
    assert_eq!(meta.content_type.as_deref(), Some("application/zip"));

    // S3 → S3 (another key), pinned to the ETag, and back to a local file:
    // byte for byte.
    let reader = store
        .read_object("courses/c/materials/lab.zip", Some(&meta.etag))
        .await
        .expect("read");
    store
        .put_reader(
            "courses/d/materials/lab.zip",
            reader,
            len as u64,
            "application/zip",
        )
        .await
        .expect("S3 to S3");
    let reader = store
        .read_object("courses/d/materials/lab.zip", None)
        .await
        .expect("read");
    local
        .put_reader("back/lab.zip", reader, len as u64, "application/zip")
        .await
        .expect("S3 to local");
    let back = std::fs::read(local.path("back/lab.zip")).expect("read back");
    assert!(back == content, "the copy differs from the source");

    // A small one is one PUT.
    ObjectStore::put_bytes(
        &local,
        "raw/a.pdf",
        b"%PDF-1.4 tiny".to_vec(),
        "application/pdf",
    )
    .await
    .expect("put");
    let reader = local.read_object("raw/a.pdf", None).await.expect("read");
    store
        .put_reader("courses/c/materials/a.pdf", reader, 13, "application/pdf")
        .await
        .expect("one PUT");
    assert_eq!(
        store
            .get_bytes("courses/c/materials/a.pdf")
            .await
            .expect("get"),
        b"%PDF-1.4 tiny"
    );

    // A stale ETag, a reader shorter or longer than said: an error, and
    // nothing written, no upload left open.
    let err = store
        .read_object("courses/c/materials/lab.zip", Some("0123"))
        .await
        .expect_err("stale");
    assert!(matches!(err, StorageError::Changed { .. }), "{err}");
    for said in [len as u64 + 1, len as u64 - 1] {
        let reader = local.read_object("raw/lab.zip", None).await.expect("read");
        let err = store
            .put_reader(
                "courses/c/materials/wrong.zip",
                reader,
                said,
                "application/zip",
            )
            .await
            .expect_err("wrong length");
        assert!(err.is_transient(), "{err}");
    }
    let reader = local.read_object("raw/a.pdf", None).await.expect("read");
    store
        .put_reader(
            "courses/c/materials/wrong.pdf",
            reader,
            12,
            "application/pdf",
        )
        .await
        .expect_err("a byte too many");
    let reader = local.read_object("raw/a.pdf", None).await.expect("read");
    local
        .put_reader("back/wrong.pdf", reader, 14, "application/pdf")
        .await
        .expect_err("a byte too few");
    assert!(!local.path("back/wrong.pdf").exists());
    for key in [
        "courses/c/materials/wrong.zip",
        "courses/c/materials/wrong.pdf",
    ] {
        assert_eq!(store.head(key).await.expect("head"), None, "{key}");
    }
    assert_eq!(pending_uploads(&store).await, 0, "no upload left open");
}

#[tokio::test]
async fn a_small_file_is_one_put_with_its_type() {
    let garage = Garage::start();
    let store = garage.store();
    let dir = tempfile::tempdir().expect("tempdir");
    let source = dir.path().join("poster.jpg");
    let content = write_test_file(&source, 100_000);
    let key = "takes/abc/renditions/poster.jpg";
    store
        .put_file(key, &source, "image/jpeg")
        .await
        .expect("put_file");
    let meta = store.head(key).await.expect("head").expect("exists");
    assert_eq!(meta.size, 100_000);
    assert!(!meta.etag.contains('-'), "a single PUT: {meta:?}");
    assert_eq!(meta.content_type.as_deref(), Some("image/jpeg"));
    assert_eq!(store.get_bytes(key).await.expect("get"), content);
}

#[tokio::test]
async fn a_presigned_url_downloads_with_a_plain_http_client() {
    let garage = Garage::start();
    let store = garage.store();
    let key = "courses/physics-101/reports/segments.html";
    let page = b"<!doctype html><title>segments</title>".to_vec();
    store
        .put_bytes(key, page.clone(), "text/html; charset=utf-8")
        .await
        .expect("put");
    let url = store
        .presign_get(key, Duration::from_secs(300))
        .await
        .expect("presign");
    assert!(url.contains("X-Amz-Signature="), "{url}");

    let (status, headers, body) = http_get(&url);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(body, page);
    assert!(
        headers.contains("content-type: text/html; charset=utf-8"),
        "{headers}"
    );

    // Without the signature the same object is refused.
    let bare = url.split('?').next().expect("url");
    assert_eq!(http_get(bare).0, 403);

    let err = store
        .presign_get(key, Duration::from_secs(8 * 24 * 3600))
        .await
        .expect_err("8 days");
    assert!(matches!(err, StorageError::ExpiryTooLong { .. }), "{err}");
}

#[tokio::test]
async fn a_missing_bucket_is_a_typed_error_naming_it() {
    let garage = Garage::start();
    let missing = format!("moocpipe-missing-{}", garage::random_hex(4));
    let store = S3Store::new(&S3Config {
        bucket: missing.clone(),
        ..garage.config()
    })
    .expect("store");
    let is_missing_bucket = |e: &StorageError| {
        matches!(e, StorageError::NoSuchBucket { bucket } if *bucket == missing)
            && e.to_string().contains(&missing)
            && !e.is_transient()
    };
    let e = store.check().await.expect_err("check");
    assert!(is_missing_bucket(&e), "check: {e}");
    let e = store
        .put_bytes("a.json", b"{}".to_vec(), "application/json")
        .await
        .expect_err("put");
    assert!(is_missing_bucket(&e), "put: {e}");
    let e = store.get_bytes("a.json").await.expect_err("get");
    assert!(is_missing_bucket(&e), "get: {e}");
    let e = store.head("a.json").await.expect_err("head");
    assert!(is_missing_bucket(&e), "head (a bodiless 404): {e}");
    let e = store.list("").await.expect_err("list");
    assert!(is_missing_bucket(&e), "list: {e}");
    let e = store
        .get_json::<serde_json::Value>("a.json")
        .await
        .expect_err("a missing bucket is not a missing record");
    assert!(is_missing_bucket(&e), "get_json: {e}");
}

#[tokio::test]
async fn a_missing_key_is_not_found() {
    let garage = Garage::start();
    let store = garage.store();
    let key = "takes/none/records/probe.json";
    let e = store.get_bytes(key).await.expect_err("get");
    assert!(
        matches!(e, StorageError::NotFound { ref key, .. } if key == "takes/none/records/probe.json"),
        "{e}"
    );
    assert!(!e.is_transient());
    let e = store.get_range(key, 0, 10).await.expect_err("range");
    assert!(matches!(e, StorageError::NotFound { .. }), "{e}");
    let dir = tempfile::tempdir().expect("tempdir");
    let e = store
        .download_to(key, &dir.path().join("x"))
        .await
        .expect_err("download");
    assert!(matches!(e, StorageError::NotFound { .. }), "{e}");
    assert_eq!(
        std::fs::read_dir(dir.path()).expect("ls").count(),
        0,
        "nothing written"
    );
    assert_eq!(store.head(key).await.expect("head"), None);
    store.delete(key).await.expect("deleting nothing is fine");
}

#[tokio::test]
async fn a_read_only_key_can_read_but_cannot_write() {
    let garage = Garage::start();
    let writer = garage.store();
    let key = "physics-101/01-mechanics/01-kinematics/take-01.mov";
    writer
        .put_bytes(key, b"raw take".to_vec(), "video/quicktime")
        .await
        .expect("put with the read-write key");

    let (id, secret) = garage.read_only_key();
    let reader = S3Store::new(&S3Config {
        access_key_id: id,
        secret_access_key: secret,
        ..garage.config()
    })
    .expect("store");
    assert_eq!(
        reader.get_bytes(key).await.expect("read"),
        b"raw take".to_vec()
    );
    let denied = |e: &StorageError, what: &str| {
        assert!(
            matches!(e, StorageError::AccessDenied { bucket, .. } if *bucket == garage.bucket),
            "{what}: {e}"
        );
        assert!(!e.is_transient(), "{what}: permanent");
    };
    let e = reader
        .put_bytes(key, b"overwritten".to_vec(), "video/quicktime")
        .await
        .expect_err("put");
    denied(&e, "put_bytes");
    let dir = tempfile::tempdir().expect("tempdir");
    let source = dir.path().join("take.mov");
    write_test_file(&source, 20 * MIB);
    let e = reader
        .put_file("physics-101/x.mov", &source, "video/quicktime")
        .await
        .expect_err("multipart");
    denied(&e, "put_file (multipart)");
    let e = reader.delete(key).await.expect_err("delete");
    denied(&e, "delete");
    assert_eq!(
        writer.get_bytes(key).await.expect("read"),
        b"raw take".to_vec(),
        "the raw take is untouched"
    );
}

#[tokio::test]
async fn a_wrong_secret_is_access_denied() {
    let garage = Garage::start();
    let store = S3Store::new(&S3Config {
        secret_access_key: "not-the-secret-at-all".into(),
        ..garage.config()
    })
    .expect("store");
    let e = store.get_bytes("a.json").await.expect_err("get");
    assert!(matches!(e, StorageError::AccessDenied { .. }), "{e}");
}

#[tokio::test]
async fn an_https_endpoint_is_spoken_to_in_tls() {
    // Garage here serves plain HTTP, so the handshake must fail — which
    // proves the client has a TLS stack for AWS and other HTTPS stores,
    // without reaching beyond this machine.
    let garage = Garage::start();
    let store = S3Store::new(&S3Config {
        endpoint: Some(format!("https://127.0.0.1:{}", garage.s3_port)),
        ..garage.config()
    })
    .expect("store");
    let e = store.get_bytes("a.json").await.expect_err("no TLS server");
    eprintln!("{e}");
    assert!(e.is_transient(), "{e:?}");
    let text = e.to_string().to_lowercase();
    assert!(
        // rustls's words for a peer that answered without TLS.
        text.contains("corrupt message of type invalidcontenttype"),
        "{e}"
    );
}

#[tokio::test]
async fn a_stopped_store_is_a_transient_error() {
    let mut garage = Garage::start();
    let store = garage.store();
    let key = "takes/abc/records/probe.json";
    store
        .put_bytes(key, b"{}".to_vec(), "application/json")
        .await
        .expect("put");
    garage.stop();

    let started = Instant::now();
    let e = store.get_bytes(key).await.expect_err("get");
    eprintln!("gave up after {:?}: {e}", started.elapsed());
    assert!(e.is_transient(), "{e:?}");
    assert!(matches!(e, StorageError::Transient { .. }), "{e:?}");
    let e = store
        .put_bytes(key, b"{}".to_vec(), "application/json")
        .await
        .expect_err("put");
    assert!(e.is_transient(), "{e:?}");
    let e = store.head(key).await.expect_err("head");
    assert!(e.is_transient(), "{e:?}");
}

/// Short bounds so a hang shows in seconds: per attempt 1 s to the first
/// response byte, 3 s a call in all.
fn short_timeouts() -> S3Timeouts {
    S3Timeouts {
        connect: Duration::from_secs(1),
        read: Duration::from_secs(1),
        operation: Duration::from_secs(3),
        transfer: Duration::from_secs(3),
        max_attempts: 2,
    }
}

#[tokio::test]
async fn a_frozen_store_is_a_transient_time_out_within_the_bound() {
    let garage = Garage::start();
    let store = S3Store::new(&S3Config {
        timeouts: short_timeouts(),
        ..garage.config()
    })
    .expect("store");
    let key = "takes/abc/records/probe.json";
    store
        .put_bytes(key, b"{}".to_vec(), "application/json")
        .await
        .expect("put");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("part.bin");
    write_test_file(&file, 1024);

    // SIGSTOP: connections are accepted by the kernel, nothing answers.
    garage.freeze();
    let bound = Duration::from_secs(5);
    let calls: Vec<(&str, Result<(), StorageError>)> = vec![
        ("get", store.get_bytes(key).await.map(drop)),
        ("range", store.get_range(key, 0, 1).await.map(drop)),
        (
            "range if-match",
            store.get_range_if_match(key, 0, 1, "x").await.map(drop),
        ),
        ("head", store.head(key).await.map(drop)),
        (
            "put",
            store
                .put_bytes(key, b"{}".to_vec(), "application/json")
                .await,
        ),
        (
            "put_file",
            store
                .put_file("takes/abc/f.bin", &file, "application/octet-stream")
                .await,
        ),
        ("list", store.list_page("", None).await.map(drop)),
    ];
    // Each call is timed by its own await above; measure them again one
    // at a time to bound each.
    for (name, result) in calls {
        let e = result.expect_err(name);
        assert!(e.is_transient(), "{name}: {e:?}");
        assert!(
            e.to_string().contains("timeout") || e.to_string().contains("timed out"),
            "{name}: {e}"
        );
    }
    for name in ["get", "head", "put"] {
        let started = Instant::now();
        let result = match name {
            "get" => store.get_bytes(key).await.map(drop),
            "head" => store.head(key).await.map(drop),
            _ => {
                store
                    .put_bytes(key, b"{}".to_vec(), "application/json")
                    .await
            }
        };
        let took = started.elapsed();
        eprintln!("{name} against a frozen store gave up after {took:?}");
        assert!(result.is_err_and(|e| e.is_transient()), "{name}");
        assert!(took < bound, "{name} took {took:?}, more than {bound:?}");
    }

    // Thawed, the same store works again (once the node has worked off
    // the requests queued while it was frozen).
    garage.thaw();
    let deadline = Instant::now() + Duration::from_secs(20);
    let back = loop {
        match store.get_bytes(key).await {
            Ok(bytes) => break bytes,
            Err(e) if Instant::now() < deadline => eprintln!("not yet: {e}"),
            Err(e) => panic!("the thawed store does not answer: {e}"),
        }
    };
    assert_eq!(back, b"{}".to_vec());
}

#[tokio::test]
async fn ranged_reads_pinned_to_an_etag_fail_once_the_object_is_replaced() {
    let garage = Garage::start();
    let store = garage.store();
    let key = "physics-101/01-m/01-l/take.mov";
    store
        .put_bytes(key, b"first version".to_vec(), "video/quicktime")
        .await
        .expect("put v1");
    let v1 = store.head(key).await.expect("head").expect("exists").etag;
    assert_eq!(
        store.get_range_if_match(key, 0, 5, &v1).await.expect("v1"),
        b"first".to_vec()
    );

    store
        .put_bytes(key, b"SECOND VERSION".to_vec(), "video/quicktime")
        .await
        .expect("put v2");
    let v2 = store.head(key).await.expect("head").expect("exists").etag;
    assert_ne!(v1, v2);
    let e = store
        .get_range_if_match(key, 6, 7, &v1)
        .await
        .expect_err("pinned to v1");
    assert!(
        matches!(e, StorageError::Changed { ref expected_etag, .. } if *expected_etag == v1),
        "{e:?}"
    );
    assert!(!e.is_transient(), "{e}");
    assert!(e.to_string().contains(key), "{e}");
    assert_eq!(
        store.get_range_if_match(key, 0, 6, &v2).await.expect("v2"),
        b"SECOND".to_vec()
    );
    // The plain read is not pinned.
    assert_eq!(
        store.get_range(key, 0, 6).await.expect("any"),
        b"SECOND".to_vec()
    );
}

/// What Garage itself does with `If-Match` on GET (DESIGN.md: it ignores
/// it on PUT): the answer decides whether the store or our ETag check
/// catches a replaced take. Both are in place either way.
#[tokio::test]
async fn garage_answers_a_get_with_a_stale_if_match_with_412() {
    let garage = Garage::start();
    let store = garage.store();
    let key = "a/take.mov";
    store
        .put_bytes(key, b"bytes".to_vec(), "video/quicktime")
        .await
        .expect("put");
    let etag = store.head(key).await.expect("head").expect("exists").etag;
    let matching = store
        .client()
        .get_object()
        .bucket(store.bucket())
        .key(key)
        .range("bytes=0-1")
        .if_match(format!("\"{etag}\""))
        .send()
        .await;
    assert!(matching.is_ok(), "{matching:?}");
    let stale = store
        .client()
        .get_object()
        .bucket(store.bucket())
        .key(key)
        .range("bytes=0-1")
        .if_match("\"0123456789abcdef0123456789abcdef\"")
        .send()
        .await;
    let status = match &stale {
        Ok(_) => 200,
        Err(e) => e.raw_response().map(|r| r.status().as_u16()).unwrap_or(0),
    };
    eprintln!("Garage answered a GET with a stale If-Match with {status}");
    assert_eq!(status, 412, "{stale:?}");
}

#[tokio::test]
async fn listing_pages_carry_the_etags_head_gives() {
    let garage = Garage::start();
    let store = garage.store();
    let count = LIST_PAGE_SIZE * 2 + 37;
    let keys: Vec<String> = (0..count)
        .map(|i| format!("c/m/l/take-{i:05}.mov"))
        .collect();
    let mut running = tokio::task::JoinSet::new();
    for chunk in keys.chunks(count.div_ceil(32)) {
        let (store, chunk) = (store.clone(), chunk.to_vec());
        running.spawn(async move {
            for key in chunk {
                store
                    .put_bytes(&key, key.as_bytes().to_vec(), "video/quicktime")
                    .await
                    .expect("put");
            }
        });
    }
    while let Some(done) = running.join_next().await {
        done.expect("uploader");
    }

    let mut listed = Vec::new();
    let mut pages = 0;
    let mut next = None;
    loop {
        let page = store.list_page("c/", next.take()).await.expect("page");
        pages += 1;
        assert!(page.objects.len() <= LIST_PAGE_SIZE);
        listed.extend(page.objects);
        match page.next {
            Some(token) => next = Some(token),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(
        listed.iter().map(|o| o.key.clone()).collect::<Vec<_>>(),
        keys
    );
    for object in listed.iter().step_by(250) {
        let meta = store
            .head(&object.key)
            .await
            .expect("head")
            .expect("exists");
        assert_eq!(object.etag, meta.etag, "{}", object.key);
        assert_eq!(object.size, meta.size);
    }
}

#[tokio::test]
async fn a_cancelled_multipart_upload_is_aborted() {
    let garage = Garage::start();
    let store = garage.store();
    let dir = tempfile::tempdir().expect("tempdir");
    let source = dir.path().join("take.mp4");
    write_test_file(&source, 40 * MIB);
    let key = "takes/abc/renditions/cancelled.mp4";

    let upload = tokio::spawn({
        let (store, source) = (store.clone(), source.clone());
        async move { store.put_file(key, &source, "video/mp4").await }
    });
    // Cancel as soon as the upload exists (as a worker shutting down would).
    let deadline = Instant::now() + Duration::from_secs(20);
    while pending_uploads(&store).await == 0 {
        assert!(!upload.is_finished(), "the upload ended before it was seen");
        assert!(Instant::now() < deadline, "no multipart upload appeared");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    upload.abort();
    assert!(upload.await.expect_err("cancelled").is_cancelled());

    let deadline = Instant::now() + Duration::from_secs(10);
    while pending_uploads(&store).await > 0 {
        assert!(
            Instant::now() < deadline,
            "the cancelled upload was not aborted"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(store.head(key).await.expect("head"), None);
}

#[tokio::test]
async fn a_failed_multipart_upload_is_aborted_before_the_error_returns() {
    let garage = Garage::start();
    let store = garage.store();
    let dir = tempfile::tempdir().expect("tempdir");
    let source = dir.path().join("take.mp4");
    // Seven parts: more than are sent at once, so later parts start after
    // the file has been cut short and fail.
    write_test_file(&source, 100 * MIB);
    let key = "takes/abc/renditions/failed.mp4";

    let upload = tokio::spawn({
        let (store, source) = (store.clone(), source.clone());
        async move { store.put_file(key, &source, "video/mp4").await }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    while pending_uploads(&store).await == 0 {
        assert!(!upload.is_finished(), "the upload ended before it was seen");
        assert!(Instant::now() < deadline, "no multipart upload appeared");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // The source shrinks under the upload (a file still being written, a
    // disk going away): the parts that read it now fail.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&source)
        .and_then(|f| f.set_len(0))
        .expect("truncate");
    let err = upload
        .await
        .expect("the task ran")
        .expect_err("the upload fails");
    eprintln!("failed with: {err}");
    assert_eq!(
        pending_uploads(&store).await,
        0,
        "the upload was aborted before put_file returned"
    );
    assert_eq!(store.head(key).await.expect("head"), None);
}

#[tokio::test]
async fn parts_sent_through_presigned_urls_are_listed_resumed_and_completed() {
    let garage = Garage::start();
    let store = garage.store();
    let dir = tempfile::tempdir().expect("tempdir");
    let part = moocpipe_storage::MIN_PART_SIZE as usize;
    let bytes = write_test_file(&dir.path().join("take.mov"), 2 * part + 1000);
    let key = "physics-101/01-mechanics/02-newton/take-01.mov";
    let upload = store
        .create_upload(key, "video/quicktime")
        .await
        .expect("create");
    let put = |number: u32| {
        let (store, upload) = (store.clone(), upload.clone());
        let secret = garage.secret_access_key.clone();
        let chunk =
            bytes[(number as usize - 1) * part..(number as usize * part).min(bytes.len())].to_vec();
        async move {
            let url = store
                .presign_part(key, &upload, number, Duration::from_secs(300))
                .await
                .expect("presign");
            assert!(!url.contains(&secret), "no secret in a URL");
            let (status, head, body) = http("PUT", &url, &[], &chunk);
            assert_eq!(
                status,
                200,
                "part {number}: {}",
                String::from_utf8_lossy(&body)
            );
            head.lines()
                .find_map(|l| l.strip_prefix("etag: "))
                .expect("an ETag")
                .trim_matches('"')
                .to_owned()
        }
    };
    // Parts 1 and 3, then "a reload": the store says which it holds.
    let first = put(1).await;
    put(3).await;
    let held = store.list_parts(key, &upload).await.expect("list");
    assert_eq!(
        held.iter().map(|p| (p.number, p.size)).collect::<Vec<_>>(),
        vec![(1, part as u64), (3, 1000)]
    );
    assert_eq!(held[0].etag, first);
    put(2).await;
    let held = store.list_parts(key, &upload).await.expect("list");
    assert_eq!(held.len(), 3);
    let etag = store
        .complete_upload(key, &upload, &held)
        .await
        .expect("complete");
    assert!(etag.ends_with("-3"), "{etag}");
    assert_eq!(
        store.head(key).await.expect("head").map(|m| m.etag),
        Some(etag)
    );
    assert!(
        store.get_bytes(key).await.expect("get") == bytes,
        "the object is the file"
    );
    assert!(
        matches!(
            store.list_parts(key, &upload).await,
            Err(StorageError::NotFound { .. })
        ),
        "a completed upload has no parts to list"
    );

    let other = store
        .create_upload("physics-101/promo/trailer.mp4", "video/mp4")
        .await
        .expect("create");
    store
        .abort_upload("physics-101/promo/trailer.mp4", &other)
        .await
        .expect("abort");
    assert!(matches!(
        store
            .list_parts("physics-101/promo/trailer.mp4", &other)
            .await,
        Err(StorageError::NotFound { .. })
    ));
    assert_eq!(pending_uploads(&store).await, 0);
}

#[tokio::test]
async fn the_cors_rule_of_scripts_garage_sh_lets_the_dashboard_s_pages_put_parts_and_read_etags() {
    let garage = Garage::start();
    let store = garage.store();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/garage.sh");
    let dashboard = "http://dashboard.example:8080";
    for _ in 0..2 {
        // Twice: the rule replaces itself.
        let out = std::process::Command::new("bash")
            .arg(&script)
            .args(["cors"])
            .arg(garage.dir())
            .args([&garage.bucket, dashboard, "http://127.0.0.1:8080"])
            .output()
            .expect("run scripts/garage.sh cors");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let rules = store
        .client()
        .get_bucket_cors()
        .bucket(store.bucket())
        .send()
        .await
        .expect("GetBucketCors")
        .cors_rules()
        .len();
    assert_eq!(rules, 1);
    let key = "physics-101/promo/trailer.mp4";
    let upload = store.create_upload(key, "video/mp4").await.expect("create");
    let url = store
        .presign_part(key, &upload, 1, Duration::from_secs(300))
        .await
        .expect("presign");
    let preflight = |origin: &str| {
        http(
            "OPTIONS",
            &url,
            &[
                ("Origin", origin),
                ("Access-Control-Request-Method", "PUT"),
                ("Access-Control-Request-Headers", "content-type"),
            ],
            &[],
        )
    };
    let (status, head, _) = preflight(dashboard);
    assert_eq!(status, 200, "{head}");
    assert!(
        head.contains(&format!("access-control-allow-origin: {dashboard}")),
        "{head}"
    );
    // Another site's page gets no permission: the preflight fails (Garage
    // answers 403; its error answers carry `*`, which a failed preflight
    // does not use).
    let (status, head, _) = preflight("https://elsewhere.example");
    assert_eq!(status, 403, "{head}");
    assert!(!head.contains("allow-origin: https://elsewhere"), "{head}");
    let (status, head, _) = http("PUT", &url, &[("Origin", dashboard)], b"part");
    assert_eq!(status, 200, "{head}");
    let exposed = head
        .lines()
        .find_map(|l| l.strip_prefix("access-control-expose-headers: "))
        .unwrap_or_default()
        .to_ascii_lowercase();
    assert!(exposed.contains("etag"), "{head}");
}

/// A GET with nothing but a socket, as a browser following the link would
/// (no SDK, no signing): status, lower-cased headers, body.
fn http_get(url: &str) -> (u16, String, Vec<u8>) {
    http("GET", url, &[], &[])
}

/// Any request with nothing but a socket (a browser's PUT to a presigned
/// URL, its CORS preflight): status, lower-cased headers, body.
fn http(method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, String, Vec<u8>) {
    let rest = url.strip_prefix("http://").expect("an http:// URL");
    let slash = rest.find('/').expect("a path");
    let (host, path) = rest.split_at(slash);
    let mut stream = std::net::TcpStream::connect(host).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if method == "PUT" {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).expect("send");
    stream.write_all(body).expect("send the body");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).expect("receive");
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of headers");
    let head = String::from_utf8_lossy(&response[..split]).to_lowercase();
    let body = response[split + 4..].to_vec();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    let body = if head.contains("transfer-encoding: chunked") {
        dechunk(&body)
    } else {
        body
    };
    (status, head, body)
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = body
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("chunk size");
        let size_text = String::from_utf8_lossy(&body[..line_end]).to_string();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("0").trim(), 16)
            .expect("hex chunk size");
        body = &body[line_end + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&body[..size]);
        body = &body[size + 2..];
    }
}
