//! The ingest scan against a real Garage node: requests and peak memory of
//! a pass over a bucket of many takes. `MOOCPIPE_SCAN_OBJECTS` sets how
//! many (default 3,000; the measurement in the report used 100,000).
//!
//! The stores are wrapped to count the requests each pass makes (every
//! call is passed on to Garage); the process's heap is measured by a
//! counting allocator. One test in this binary, so nothing else allocates
//! meanwhile.

#[path = "../../storage/tests/garage/mod.rs"]
#[allow(dead_code)] // the storage tests use all of it, this test part
mod garage;

use moocpipe_broker::Outgoing;
use moocpipe_distributed::ingest::{scan_pass, ScanStats};
use moocpipe_storage::layout::{self, Stage as Record};
use moocpipe_storage::{ListPage, ObjectMeta, ObjectReader, ObjectStore, StorageError};
use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                let now = CURRENT.fetch_add(new_size - layout.size(), Ordering::Relaxed)
                    + (new_size - layout.size());
                PEAK.fetch_max(now, Ordering::Relaxed);
            } else {
                CURRENT.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Heap in use when `work` starts, and its peak above that.
async fn peak_above<T>(work: impl std::future::Future<Output = T>) -> (T, usize) {
    let base = CURRENT.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let out = work.await;
    (out, PEAK.load(Ordering::Relaxed).saturating_sub(base))
}

/// A store that counts the calls it passes on.
#[derive(Default)]
struct Calls {
    list_pages: AtomicUsize,
    heads: AtomicUsize,
    other: AtomicUsize,
}

struct Counted<'a, S> {
    store: &'a S,
    calls: &'a Calls,
}

impl<S: ObjectStore> Counted<'_, S> {
    fn other(&self) {
        self.calls.other.fetch_add(1, Ordering::Relaxed);
    }
}

impl<S: ObjectStore> ObjectStore for Counted<'_, S> {
    fn location(&self, key: &str) -> String {
        self.store.location(key)
    }
    async fn put_bytes(&self, key: &str, bytes: Vec<u8>, t: &str) -> Result<(), StorageError> {
        self.other();
        self.store.put_bytes(key, bytes, t).await
    }
    async fn put_file(&self, key: &str, path: &Path, t: &str) -> Result<(), StorageError> {
        self.other();
        self.store.put_file(key, path, t).await
    }
    async fn get_bytes(&self, key: &str) -> Result<Vec<u8>, StorageError> {
        self.other();
        self.store.get_bytes(key).await
    }
    async fn get_range(&self, key: &str, start: u64, len: u64) -> Result<Vec<u8>, StorageError> {
        self.other();
        self.store.get_range(key, start, len).await
    }
    async fn download_to(&self, key: &str, path: &Path) -> Result<u64, StorageError> {
        self.other();
        self.store.download_to(key, path).await
    }
    async fn head(&self, key: &str) -> Result<Option<ObjectMeta>, StorageError> {
        self.calls.heads.fetch_add(1, Ordering::Relaxed);
        self.store.head(key).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        self.other();
        self.store.list(prefix).await
    }
    async fn list_page(
        &self,
        prefix: &str,
        continuation: Option<String>,
    ) -> Result<ListPage, StorageError> {
        self.calls.list_pages.fetch_add(1, Ordering::Relaxed);
        self.store.list_page(prefix, continuation).await
    }
    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        self.other();
        self.store.delete(key).await
    }
    async fn presign_get(&self, key: &str, expiry: Duration) -> Result<String, StorageError> {
        self.other();
        self.store.presign_get(key, expiry).await
    }
    async fn read_object(
        &self,
        key: &str,
        etag: Option<&str>,
    ) -> Result<ObjectReader, StorageError> {
        self.other();
        self.store.read_object(key, etag).await
    }
    async fn put_reader(
        &self,
        key: &str,
        reader: ObjectReader,
        size: u64,
        t: &str,
    ) -> Result<(), StorageError> {
        self.other();
        self.store.put_reader(key, reader, size, t).await
    }
}

impl Calls {
    fn take(&self) -> (usize, usize, usize) {
        (
            self.list_pages.swap(0, Ordering::Relaxed),
            self.heads.swap(0, Ordering::Relaxed),
            self.other.swap(0, Ordering::Relaxed),
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scan_pages_through_the_bucket_and_heads_only_takes_it_does_not_know() {
    let objects: usize = std::env::var("MOOCPIPE_SCAN_OBJECTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(3_000);
    let node = garage::Garage::start();
    let store = node.store();
    let bucket = store.bucket().to_string();

    // Takes under a course layout, every tenth object a sidecar (not a take).
    let keys: Vec<String> = (0..objects)
        .map(|i| {
            let ext = if i % 10 == 9 { "json" } else { "mov" };
            format!(
                "physics-101/{:02}-m/{:02}-l/take-{i:06}.{ext}",
                i % 6,
                i % 4
            )
        })
        .collect();
    let takes = keys.iter().filter(|k| k.ends_with(".mov")).count();
    let started = Instant::now();
    let mut uploads = tokio::task::JoinSet::new();
    for chunk in keys.chunks(objects.div_ceil(32)) {
        let (store, chunk) = (store.clone(), chunk.to_vec());
        uploads.spawn(async move {
            for key in chunk {
                store
                    .put_bytes(&key, Vec::new(), "video/quicktime")
                    .await
                    .expect("put");
            }
        });
    }
    while let Some(done) = uploads.join_next().await {
        done.expect("uploader");
    }
    eprintln!(
        "uploaded {objects} zero-byte objects in {:?}",
        started.elapsed()
    );

    // Raw and media in one bucket here: the records live under takes/.
    let calls = Calls::default();
    let raw = Counted {
        store: &store,
        calls: &calls,
    };
    let media = Counted {
        store: &store,
        calls: &calls,
    };
    let pages = objects.div_ceil(1000);
    let mut seen = HashMap::new();
    let mut sent: Vec<Outgoing> = Vec::new();

    // First pass: every take is new.
    let started = Instant::now();
    let (stats, peak) = peak_above(scan_pass(&raw, &bucket, &media, &mut seen, |job| {
        sent.push(job);
        async { Ok(()) }
    }))
    .await;
    let stats = stats.expect("pass 1");
    let (lists, heads, other) = calls.take();
    eprintln!(
        "pass 1 (all new): {stats:?}, {lists} list pages, {heads} HEADs in {:?}, peak heap +{} KiB, seen holds {} takes",
        started.elapsed(),
        peak / 1024,
        seen.len()
    );
    assert_eq!(
        stats,
        ScanStats {
            pages,
            listed: objects,
            takes,
            materials: 0,
            checked: takes,
            sent: takes
        }
    );
    assert_eq!((lists, heads, other), (pages, takes, 0));
    assert_eq!(sent.len(), takes);

    // Second pass, nothing changed: the listing only, no HEAD at all.
    let started = Instant::now();
    let (stats, peak) = peak_above(scan_pass(&raw, &bucket, &media, &mut seen, |_| async {
        Ok(())
    }))
    .await;
    let stats = stats.expect("pass 2");
    let (lists, heads, _) = calls.take();
    eprintln!(
        "pass 2 (unchanged): {stats:?}, {lists} list pages, {heads} HEADs in {:?}, peak heap +{} KiB",
        started.elapsed(),
        peak / 1024
    );
    assert_eq!((stats.checked, stats.sent, lists, heads), (0, 0, pages, 0));
    // One page of the listing at a time: far below the bucket's size in
    // keys (~60 bytes each), whatever the bucket holds.
    assert!(peak < 4 * 1024 * 1024, "peak heap +{peak} bytes");

    // A take uploaded again (new ETag) and one deleted.
    let replaced = &keys[0];
    let deleted = &keys[1];
    store
        .put_bytes(replaced, b"new".to_vec(), "video/quicktime")
        .await
        .expect("re-upload");
    store.delete(deleted).await.expect("delete");
    let mut again = Vec::new();
    let stats = scan_pass(&raw, &bucket, &media, &mut seen, |job| {
        again.push(job);
        async { Ok(()) }
    })
    .await
    .expect("pass 3");
    let (_, heads, _) = calls.take();
    assert_eq!((stats.checked, stats.sent, heads), (1, 1, 1), "{stats:?}");
    assert_eq!(seen.len(), takes - 1, "the deleted take is forgotten");

    // A restarted scanner (empty memory) over takes that are all ingested:
    // one HEAD per take, no job.
    for key in keys
        .iter()
        .filter(|k| k.ends_with(".mov"))
        .take(takes.min(500))
    {
        let Some(meta) = store.head(key).await.expect("head") else {
            continue;
        };
        let take_id = moocpipe_ingest::take_id(&bucket, key, &meta.etag);
        store
            .put_bytes(
                &layout::record(&take_id, Record::Ingest),
                b"{}".to_vec(),
                "application/json",
            )
            .await
            .expect("record");
    }
    calls.take();
    let mut fresh = HashMap::new();
    let stats = scan_pass(&raw, &bucket, &media, &mut fresh, |_| async { Ok(()) })
        .await
        .expect("pass 4");
    let ingested = takes.min(500) - 1; // the deleted one has no object
    assert_eq!(stats.checked, takes - 1, "{stats:?}");
    assert_eq!(stats.sent, takes - 1 - ingested, "{stats:?}");
}
