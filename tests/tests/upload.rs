//! The studio's browser upload, end to end on real components: a real
//! headless Chromium logged in as a `studio` user of a distributed
//! `moocpipe serve` (catalog in PostgreSQL, raw bucket in a real Garage
//! node, jobs over the machine's RabbitMQ) uploads a generated take in
//! parts through the page, straight to the raw bucket, over a slow link;
//! the page is reloaded in the middle, the same file chosen again, and only
//! the parts the bucket does not hold are sent; the take is ingested at
//! once (the ingest's scan is off) and the probe's verdict appears on the
//! page. The JSON API refuses what the ingest would refuse before anything
//! is sent, and is the studio's (and admins') only.
//!
//! Screenshots land in `target/test-artifacts/upload/`.

use moocpipe_storage::ObjectStore;
use moocpipe_tests::browser::{artifacts, Browser};
use moocpipe_tests::media;
use moocpipe_tests::pipeline::{
    http_get, metric, ApiClient, Pipeline, AUTHOR, DASHBOARD_PASSWORD, DASHBOARD_USER,
};
use moocpipe_tests::throttle::Throttle;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const KEY: &str = "physics-101/01-mechanics/02-newton/take-01.mov";
/// Parts of the smallest size S3 allows, so a short take spans several.
const PART_MIB: u64 = 5;
/// The studio's uplink in the resumed upload: slow enough to reload the
/// page while parts are on their way.
const SLOW_LINK: u64 = 6_000_000;
/// `moocpipe serve` for browser uploads over `p`: the uploader's key,
/// parts of 5 MiB, presigned URLs naming `public` (the address browsers
/// reach the store at; the server itself talks to Garage directly), and
/// the raw bucket's CORS rule for the server's origin, set by
/// `scripts/garage.sh cors`.
fn upload_dashboard(p: &mut Pipeline, role: &str, public: &str) -> ApiClient {
    let (id, secret) = p.uploader_key.clone();
    let public = public.to_owned();
    let client = p.spawn_dashboard_with(role, move |c| {
        c.env("MOOCPIPE_UPLOAD_S3_ACCESS_KEY_ID", &id)
            .env("MOOCPIPE_UPLOAD_S3_SECRET_ACCESS_KEY", &secret)
            .env("MOOCPIPE_RAW_S3_PUBLIC_ENDPOINT", &public)
            .env("MOOCPIPE_UPLOAD_PART_MIB", PART_MIB.to_string());
    });
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/garage.sh");
    let out = Command::new("bash")
        .arg(script)
        .arg("cors")
        .arg(p.garage.dir())
        .arg(&p.raw_bucket)
        .arg(&client.base)
        .output()
        .expect("run scripts/garage.sh cors");
    assert!(
        out.status.success(),
        "garage.sh cors: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    client
}

/// A private copy of a test medium (another test may regenerate the
/// cached one), under the name the studio gave it.
fn copy_of(medium: &Path, dir: &Path, name: &str) -> PathBuf {
    let copy = dir.join(name);
    std::fs::copy(medium, &copy).expect("copy the take");
    copy
}

/// The upload this page keeps in localStorage (id, key, parts).
async fn kept_upload(browser: &Browser) -> Value {
    browser
        .eval(
            "Object.keys(localStorage).filter(function (k) { return k.indexOf('moocpipe.upload:') === 0; })\
             .map(function (k) { return JSON.parse(localStorage.getItem(k)); })[0] || null",
        )
        .await
}

async fn attribute(browser: &Browser, name: &str) -> Value {
    browser
        .eval(&format!(
            "document.getElementById('upload').getAttribute('{name}')"
        ))
        .await
}

/// Fills the form for a lecture take of physics-101 and starts it.
async fn start_upload(browser: &Browser, file: &Path, module: &str, lesson: &str, title: &str) {
    browser
        .fill("#upload-file[type=file]", &file.to_string_lossy())
        .await;
    browser.fill("input[name=course]", "physics-101").await;
    browser.select("select[name=kind]", "lecture").await;
    browser.fill("input[name=module]", module).await;
    browser.fill("input[name=lesson]", lesson).await;
    browser.fill("input[name=title]", title).await;
    browser.select("select[name=language]", "en").await;
    browser.fill("input[name=author_email]", AUTHOR).await;
    browser.click("#upload-start").await;
}

/// Waits for the verdict section to hold the probe's table; returns its
/// rows' text.
async fn verdict_rows(browser: &Browser, take_id: &str) -> Vec<String> {
    browser
        .wait_for_within(
            "document.querySelector('#verdict table.spec') && !document.getElementById('verdict').hasAttribute('data-waiting')",
            Duration::from_secs(180),
        )
        .await;
    assert_eq!(
        browser.eval("location.pathname + location.search").await,
        json!(format!("/upload?take={take_id}")),
        "the page's address names the take, so a reload shows its verdict"
    );
    let rows = browser
        .eval("Array.from(document.querySelectorAll('#verdict table.spec tbody tr')).map(function (r) { return r.innerText; })")
        .await;
    rows.as_array()
        .expect("rows")
        .iter()
        .map(|r| r.as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_studio_user_uploads_a_take_through_the_page_resumes_it_after_a_reload_and_sees_its_verdict(
) {
    // 10 s of ProRes HQ: 15 parts of 5 MiB, more than the page sends at once.
    let take = media::compliant_prores_10s();
    let failing = media::h264_long_gop_mov();
    let mut p = Pipeline::start().await;
    // The scan is off: only the server's own ingest job can bring the take in.
    p.spawn(
        "ingest",
        &["ingest", "--scan-interval-secs", "0", "--lease-secs", "4"],
    );
    p.spawn("probe", &["worker", "probe", "--lease-secs", "4"]);
    let link = Throttle::start(
        format!("127.0.0.1:{}", p.garage.s3_port)
            .parse()
            .expect("address"),
        SLOW_LINK,
    )
    .await;
    let api = upload_dashboard(&mut p, "studio", &link.url());
    let base = api.base.clone();
    let file = copy_of(&take, p.work.path(), "take-01.mov");
    let size = std::fs::metadata(&file).expect("take").len();
    let parts = size.div_ceil(PART_MIB * 1024 * 1024);
    assert!(parts > 4, "{size} bytes make {parts} parts");
    let shots = artifacts("upload");

    let browser = Browser::start().await;
    browser
        .log_in(&base, DASHBOARD_USER, DASHBOARD_PASSWORD)
        .await;
    browser.open(&format!("{base}/upload")).await;
    start_upload(
        &browser,
        &file,
        "01-mechanics",
        "02-newton",
        "Newton's laws",
    )
    .await;

    // The first parts are in: the page shows rate and time left; reload.
    browser
        .wait_for_within(
            "Number(document.getElementById('upload').getAttribute('data-parts-sent') || 0) >= 1",
            Duration::from_secs(60),
        )
        .await;
    let status = browser.text("#upload-status").await;
    assert!(
        status.contains("/s") && status.contains("left"),
        "progress with rate and ETA: {status}"
    );
    browser.screenshot(&shots.join("uploading.png")).await;
    let kept = kept_upload(&browser).await;
    let (upload_id, key) = (
        kept["upload_id"].as_str().expect("upload id").to_owned(),
        kept["key"].as_str().expect("key").to_owned(),
    );
    assert_eq!(key, KEY);
    assert_eq!(kept["parts"], json!(parts));
    browser.client.refresh().await.expect("reload");
    browser.wait_for("document.readyState === 'complete'").await;
    // Parts cut off by the reload never land; give the store a moment.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before_resume = link.parts().len();
    let held: BTreeSet<u64> = api
        .get(&format!("/api/v1/uploads/{upload_id}/parts?key={key}"))
        .expect("list the upload's parts")["parts"]
        .as_array()
        .expect("parts")
        .iter()
        .filter_map(|p| p["part_number"].as_u64())
        .collect();
    assert!(
        !held.is_empty() && (held.len() as u64) < parts,
        "reloaded in the middle: {held:?} of {parts}"
    );
    assert!(
        browser
            .text("#upload-unfinished")
            .await
            .contains("take-01.mov"),
        "the page names the unfinished upload"
    );

    // The same file again: the page offers to resume, and sends the rest.
    browser
        .fill("#upload-file[type=file]", &file.to_string_lossy())
        .await;
    browser
        .wait_for("!document.getElementById('upload-resume').hidden")
        .await;
    browser.click("#upload-resume-go").await;
    browser
        .wait_for_within(
            "document.getElementById('upload').getAttribute('data-state') === 'done'",
            Duration::from_secs(120),
        )
        .await;
    let sent_after: Vec<u32> = link.parts()[before_resume..].to_vec();
    let missing: Vec<u64> = (1..=parts).filter(|n| !held.contains(n)).collect();
    let mut sent_sorted: Vec<u64> = sent_after.iter().map(|n| u64::from(*n)).collect();
    sent_sorted.sort_unstable();
    assert_eq!(
        sent_sorted, missing,
        "after the reload only the parts the bucket lacked were sent, each once"
    );
    assert_eq!(
        attribute(&browser, "data-parts-present").await,
        json!(held.len().to_string())
    );
    println!(
        "resumed upload: {size} bytes in {parts} parts of {PART_MIB} MiB; {} held after the reload, {} sent after it",
        held.len(),
        sent_after.len()
    );

    // The object is the file, byte for byte, and its sidecar is next to it.
    let meta = p
        .uploader
        .head(KEY)
        .await
        .expect("head")
        .expect("the take is in the raw bucket");
    assert!(meta.etag.ends_with(&format!("-{parts}")), "{}", meta.etag);
    let stored = p.uploader.get_bytes(KEY).await.expect("read the take");
    assert!(
        stored == std::fs::read(&file).expect("file"),
        "the object in Garage equals the file"
    );
    let sidecar: Value = serde_json::from_slice(
        &p.uploader
            .get_bytes("physics-101/01-mechanics/02-newton/take-01.json")
            .await
            .expect("sidecar"),
    )
    .expect("sidecar JSON");
    assert_eq!(
        sidecar,
        json!({"title": "Newton's laws", "author_email": AUTHOR, "language": "en"})
    );

    // The verdict, clause by clause, on the page.
    let take_id = moocpipe_ingest::take_id(&p.raw_bucket, KEY, &meta.etag);
    assert_eq!(attribute(&browser, "data-take-id").await, json!(take_id));
    let rows = verdict_rows(&browser, &take_id).await;
    for rule in [
        "video.bit_depth",
        "video.intraframe",
        "video.bitrate",
        "video.resolution",
        "video.frame_rate",
        "audio.sample_rate",
        "audio.bit_depth",
        "audio.channels",
        "take.streams",
    ] {
        let row = rows
            .iter()
            .find(|r| r.contains(rule))
            .unwrap_or_else(|| panic!("{rule} not on the page: {rows:?}"));
        assert!(row.contains("pass"), "{row}");
    }
    browser.screenshot(&shots.join("verdict-pass.png")).await;

    // A take that fails the spec: the connection drops in the middle of
    // its first part, the page tries again, the take arrives whole, and
    // the page says what to change. The module folder is offered from the
    // course's takes.
    link.set_rate(1_000_000);
    browser.open(&format!("{base}/upload")).await;
    let phone = copy_of(&failing, p.work.path(), "take-02.mov");
    browser.fill("input[name=course]", "physics-101").await;
    browser.click("input[name=title]").await;
    browser
        .wait_for("document.querySelectorAll('#upload-modules option[value=\"01-mechanics\"]').length === 1")
        .await;
    let seen = link.parts().len();
    start_upload(&browser, &phone, "01-mechanics", "03-energy", "Energy").await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while link.parts().len() == seen {
        assert!(Instant::now() < deadline, "no part was sent");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    link.cut(Duration::from_millis(700));
    link.set_rate(0);
    browser
        .wait_for_within(
            "document.getElementById('upload').getAttribute('data-state') === 'done'",
            Duration::from_secs(60),
        )
        .await;
    let phone_size = std::fs::metadata(&phone).expect("take").len();
    let phone_parts = phone_size.div_ceil(PART_MIB * 1024 * 1024);
    let sent: Vec<u32> = link.parts()[seen..].to_vec();
    assert!(
        sent.len() as u64 > phone_parts,
        "a part cut off was sent again: {sent:?}"
    );
    let second_key = "physics-101/01-mechanics/03-energy/take-02.mov";
    assert!(
        p.uploader
            .get_bytes(second_key)
            .await
            .expect("read the take")
            == std::fs::read(&phone).expect("file"),
        "the object in Garage equals the file despite the cut"
    );
    let retries = attribute(&browser, "data-retries").await;
    assert!(
        retries.as_str().and_then(|r| r.parse::<u32>().ok()) >= Some(1),
        "the page tried the cut parts again: {retries}"
    );
    println!(
        "dropped connection: parts sent {sent:?} for {phone_parts} parts, {retries} tries again by the page"
    );
    let second = attribute(&browser, "data-take-id").await;
    let rows = verdict_rows(&browser, second.as_str().expect("take id")).await;
    assert!(
        rows.iter()
            .any(|r| r.contains("video.intraframe") && r.contains("fail")),
        "{rows:?}"
    );
    let hints = browser.text("#verdict section.hints").await;
    assert!(
        hints.contains("What to change") && hints.contains("video.intraframe"),
        "{hints}"
    );
    browser.screenshot(&shots.join("verdict-fail.png")).await;
    browser.close().await;

    let metrics = http_get(&format!("{base}/metrics"));
    assert_eq!(
        metric(&metrics, "moocpipe_uploads_total{step=\"started\"}"),
        Some(2.0)
    );
    assert_eq!(
        metric(&metrics, "moocpipe_uploads_total{step=\"completed\"}"),
        Some(2.0)
    );
    assert_eq!(
        metric(&metrics, "moocpipe_upload_bytes_total"),
        Some((size + phone_size) as f64)
    );
}

/// A lecture upload's request body.
fn new_upload(file_name: &str, size: u64) -> Value {
    json!({
        "course": "physics-101",
        "kind": "lecture",
        "module": "01-mechanics",
        "lesson": "02-newton",
        "file_name": file_name,
        "size_bytes": size,
        "title": "Newton's laws",
        "language": "en",
        "author_email": AUTHOR,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_upload_api_refuses_what_the_ingest_would_before_anything_is_sent_and_is_the_studio_s()
{
    let mut p = Pipeline::start().await;
    let endpoint = p.garage.endpoint();
    let studio = upload_dashboard(&mut p, "studio", &endpoint);
    p.add_user("reviewer", "caidd");
    let reviewer = ApiClient::new(&studio.base, p.work.path());
    reviewer.log_in("reviewer", DASHBOARD_PASSWORD);
    let nobody = ApiClient::new(&studio.base, p.work.path());
    let body = new_upload("take-01.mov", 12 * 1024 * 1024);

    let (status, error) = nobody.send("POST", "/api/v1/uploads", Some(&body));
    assert_eq!((status, &error["kind"]), (401, &json!("unauthenticated")));
    let (status, error) = reviewer.send("POST", "/api/v1/uploads", Some(&body));
    assert_eq!(
        (status, &error["kind"]),
        (403, &json!("forbidden")),
        "{error}"
    );
    let (status, _) = reviewer.send("GET", "/upload", None);
    assert_eq!(status, 403, "nor the page");

    let csrf = studio.get("/api/v1/me").expect("me")["csrf_token"]
        .as_str()
        .expect("csrf")
        .to_owned();
    let (status, error) = studio.send_raw(
        "POST",
        "/api/v1/uploads",
        Some("{\"course\": "),
        Some(&csrf),
    );
    assert_eq!((status, &error["kind"]), (400, &json!("bad_request")));
    let (status, error) = studio.send_raw(
        "POST",
        "/api/v1/uploads",
        Some(&body.to_string()),
        Some("forged"),
    );
    assert_eq!((status, &error["kind"]), (403, &json!("csrf")));
    for (change, says) in [
        (
            json!({"module": "mechanics"}),
            "the module folder 'mechanics' does not start with a number",
        ),
        (
            json!({"language": "fr"}),
            "expected \"kk\", \"ru\" or \"en\"",
        ),
        (json!({"file_name": "notes.txt"}), "not a take"),
        (json!({"author_email": "nobody"}), "not an e-mail address"),
        (json!({"size_bytes": 0}), "the file is empty"),
        (json!({"size_bytes": 60_000_000_000u64}), "at most"),
    ] {
        let mut wrong = body.clone();
        for (k, v) in change.as_object().expect("object") {
            wrong[k] = v.clone();
        }
        let (status, error) = studio.send("POST", "/api/v1/uploads", Some(&wrong));
        assert_eq!(
            (status, &error["kind"]),
            (422, &json!("invalid")),
            "{error}"
        );
        assert!(
            error["message"].as_str().is_some_and(|m| m.contains(says)),
            "{says}: {error}"
        );
    }
    assert!(
        p.uploader
            .list("physics-101/")
            .await
            .expect("list")
            .is_empty(),
        "nothing was written for a refused upload"
    );

    // A valid one: the sidecar is written and an upload started; nothing
    // is sent yet, so it cannot be completed; aborted, it leaves nothing.
    let (status, created) = studio.send("POST", "/api/v1/uploads", Some(&body));
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["key"], json!(KEY));
    assert_eq!(created["parts"], json!(3));
    assert_eq!(created["part_size_bytes"], json!(PART_MIB * 1024 * 1024));
    let upload = format!(
        "/api/v1/uploads/{}",
        created["upload_id"].as_str().expect("id")
    );
    assert!(p
        .uploader
        .head("physics-101/01-mechanics/02-newton/take-01.json")
        .await
        .expect("head")
        .is_some());
    let (status, listed) = studio.send("GET", &format!("{upload}/parts?key={KEY}"), None);
    assert_eq!((status, &listed["parts"]), (200, &json!([])));
    let (status, urls) = studio.send(
        "POST",
        &format!("{upload}/parts"),
        Some(&json!({"key": KEY, "part_numbers": [1, 2, 3]})),
    );
    assert_eq!(status, 200, "{urls}");
    let first = urls["urls"][0]["url"].as_str().expect("url");
    assert!(
        first.starts_with(&format!("{endpoint}/{}/", p.raw_bucket))
            && first.contains("partNumber=1"),
        "{first}"
    );
    let (status, error) = studio.send(
        "POST",
        &format!("{upload}/complete"),
        Some(&json!({"key": KEY, "size_bytes": 12 * 1024 * 1024, "parts": []})),
    );
    assert_eq!(
        (status, &error["kind"]),
        (409, &json!("conflict")),
        "{error}"
    );
    let (status, error) = studio.send(
        "POST",
        &format!("{upload}/parts"),
        Some(&json!({"key": "physics-101/notes.txt", "part_numbers": [1]})),
    );
    assert_eq!(
        (status, &error["kind"]),
        (422, &json!("invalid")),
        "{error}"
    );
    let (status, aborted) = studio.send(
        "POST",
        &format!("{upload}/abort"),
        Some(&json!({"key": KEY})),
    );
    assert_eq!(status, 200, "{aborted}");
    assert_eq!(aborted["sidecar_removed"], json!(true));
    let (status, error) = studio.send("GET", &format!("{upload}/parts?key={KEY}"), None);
    assert_eq!((status, &error["kind"]), (404, &json!("not_found")));
    assert!(p
        .uploader
        .list("physics-101/")
        .await
        .expect("list")
        .is_empty());

    // A raw take is never replaced: the same name again is a conflict.
    p.uploader
        .put_bytes(KEY, b"an earlier take".to_vec(), "video/quicktime")
        .await
        .expect("an earlier take");
    let (status, error) = studio.send("POST", "/api/v1/uploads", Some(&body));
    assert_eq!(
        (status, &error["kind"]),
        (409, &json!("conflict")),
        "{error}"
    );
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("take-02")),
        "{error}"
    );
    let (status, folders) = studio.send("GET", "/api/v1/uploads/folders/physics-101", None);
    assert_eq!(status, 200);
    assert_eq!(
        folders["modules"],
        json!([{"folder": "01-mechanics", "lessons": ["02-newton"]}])
    );
    let metrics = http_get(&format!("{}/metrics", studio.base));
    assert_eq!(
        metric(&metrics, "moocpipe_uploads_total{step=\"refused\"}"),
        Some(7.0)
    );
    assert_eq!(
        metric(&metrics, "moocpipe_uploads_total{step=\"aborted\"}"),
        Some(1.0)
    );
}
