//! Ranged reads of a raw take against a real Garage node: a read that
//! fails while the store restarts is tried again within the job, and a
//! take replaced mid-read fails as "changed", at once and for good.

#[path = "../../storage/tests/garage/mod.rs"]
#[allow(dead_code)] // the storage tests use all of it, these tests part
mod garage;

use moocpipe_broker::Stage;
use moocpipe_distributed::metrics::StageMetrics;
use moocpipe_distributed::remote::{is_changed, S3RangeReader};
use moocpipe_media::RangeReader;
use moocpipe_storage::{ObjectStore, S3Config, S3Store, S3Timeouts};
use std::time::{Duration, Instant};

const KEY: &str = "physics-101/01-m/01-l/take.mov";

fn bytes(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31) ^ seed)
        .collect()
}

fn metrics() -> StageMetrics {
    StageMetrics::register(&prometheus::Registry::new(), Stage::Probe).expect("metrics")
}

/// `read_at` runs on GStreamer's threads, outside the runtime.
async fn read_at(
    reader: std::sync::Arc<S3RangeReader>,
    offset: u64,
    len: u64,
) -> (std::io::Result<Vec<u8>>, Duration) {
    tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        (reader.read_at(offset, len), started.elapsed())
    })
    .await
    .expect("reader thread")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_that_fails_while_the_store_restarts_is_tried_again_within_the_job() {
    let mut node = garage::Garage::start();
    // One attempt per call: only the reader's own tries can bridge the
    // outage, so without them this test fails.
    let store = S3Store::new(&S3Config {
        timeouts: S3Timeouts {
            max_attempts: 1,
            ..S3Timeouts::default()
        },
        ..node.config()
    })
    .expect("store");
    let content = bytes(300_000, 7);
    store
        .put_bytes(KEY, content.clone(), "video/quicktime")
        .await
        .expect("put");
    let etag = store.head(KEY).await.expect("head").expect("exists").etag;
    let reader = std::sync::Arc::new(
        S3RangeReader::new(
            store,
            KEY.into(),
            content.len() as u64,
            etag,
            tokio::runtime::Handle::current(),
            metrics(),
        )
        .with_retry_delays(vec![Duration::from_secs(2), Duration::from_secs(2)]),
    );

    node.stop();
    let read = tokio::spawn(read_at(reader.clone(), 1000, 5000));
    tokio::time::sleep(Duration::from_millis(700)).await;
    node.restart();
    let (result, took) = read.await.expect("read task");
    let got = result.expect("read after the store came back");
    assert_eq!(got, content[1000..6000]);
    eprintln!("the read succeeded after {took:?}, across the restart");
    assert!(
        took >= Duration::from_secs(2),
        "{took:?}: it must have waited"
    );

    // With the store gone for good, the tries run out and the read fails.
    node.stop();
    let (result, took) = read_at(reader, 200_000, 10).await;
    let error = result.expect_err("the store is gone");
    eprintln!("gave up after {took:?}: {error}");
    assert!(took >= Duration::from_secs(4), "{took:?}: three tries");
    assert!(took < Duration::from_secs(30), "{took:?}");
    assert!(!is_changed(&error.to_string()), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_take_replaced_mid_read_fails_as_changed_without_retrying() {
    let node = garage::Garage::start();
    let store = node.store();
    // Larger than the 8 MiB a sequential read fetches ahead.
    let first = bytes(9 << 20, 1);
    store
        .put_bytes(KEY, first.clone(), "video/quicktime")
        .await
        .expect("put v1");
    let etag = store.head(KEY).await.expect("head").expect("exists").etag;
    let reader = std::sync::Arc::new(
        S3RangeReader::new(
            store.clone(),
            KEY.into(),
            first.len() as u64,
            etag,
            tokio::runtime::Handle::current(),
            metrics(),
        )
        // A retry would show as 10 s.
        .with_retry_delays(vec![Duration::from_secs(10)]),
    );
    let (head, _) = read_at(reader.clone(), 0, 100).await;
    assert_eq!(head.expect("v1"), first[..100]);

    // The studio uploads the take again, same key.
    store
        .put_bytes(KEY, bytes(9 << 20, 2), "video/quicktime")
        .await
        .expect("put v2");
    // Past the cached block: a new ranged GET, which must not return v2.
    let (result, took) = read_at(reader, (8 << 20) + 500_000, 100).await;
    let error = result.expect_err("the take changed");
    eprintln!("after {took:?}: {error}");
    assert!(is_changed(&error.to_string()), "{error}");
    assert!(error.to_string().contains(KEY), "{error}");
    assert!(took < Duration::from_secs(5), "{took:?}: not retried");
}
