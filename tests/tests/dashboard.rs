//! The CAIDD dashboard in a real headless Chromium: a course processed by
//! `moocpipe process`, served by `moocpipe serve --data`, read by a
//! reviewer and a studio user. Screenshots of every page are saved under
//! `target/test-artifacts/dashboard/`.

use moocpipe_tests::browser::{add_user, artifacts, Browser, Dashboard};
use moocpipe_tests::cli::moocpipe;
use moocpipe_tests::media;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

const XSS_TITLE: &str = "<script>alert(1)</script>";
const PASSWORD: &str = "reviewer password 1";

/// A course with a compliant take (an XSS title, the author's captions)
/// and a phone take that fails the spec, processed into `data`.
fn processed_course(dir: &Path, data: &Path) {
    let course = dir.join("physics-101");
    let good = media::place_in(
        &media::compliant_prores_2s(),
        dir,
        "physics-101/01-mechanics/01-motion/take-01.mov",
    );
    std::fs::write(
        good.with_extension("json"),
        serde_json::json!({"title": XSS_TITLE, "language": "en"}).to_string(),
    )
    .expect("sidecar");
    std::fs::write(
        good.with_extension("vtt"),
        "WEBVTT\n\n00:00.000 --> 00:01.500\nThe first law of motion.\n",
    )
    .expect("author captions");
    media::place_in(
        &media::h264_long_gop_mov(),
        dir,
        "physics-101/01-mechanics/02-forces/take-01.mov",
    );
    std::fs::write(
        course.join("course.json"),
        r#"{"title": "Physics 101", "launch_date": "2031-02-01"}"#,
    )
    .expect("course.json");
    let out = moocpipe(&[
        "process",
        "--data",
        &data.to_string_lossy(),
        "--rungs",
        "1080p",
        "--preset",
        "ultrafast",
        &course.to_string_lossy(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "one take fails the spec: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The processed course, made once for the tests of this file:
/// `target/test-artifacts/dashboard/work/{physics-101,data}`.
fn processed() -> &'static Path {
    static WORK: OnceLock<PathBuf> = OnceLock::new();
    WORK.get_or_init(|| {
        let work = artifacts("dashboard").join("work");
        let _ = std::fs::remove_dir_all(&work);
        std::fs::create_dir_all(&work).expect("work folder");
        processed_course(&work, &work.join("data"));
        work
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reviewer_reads_a_processed_course_and_plays_its_take_in_chromium() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = processed().join("data");
    let data_arg = data.to_string_lossy().into_owned();
    let catalog = ["--data", data_arg.as_str()];
    add_user(&catalog, "reviewer", "caidd", PASSWORD);
    add_user(&catalog, "studio", "studio", PASSWORD);
    let dash = Dashboard::start(&catalog, &[], dir.path());
    let shots = artifacts("dashboard");
    let browser = Browser::start().await;
    let base = dash.url.clone();

    // Not logged in: every page leads to the login form.
    browser.open(&format!("{base}/overview")).await;
    assert!(
        browser.eval("location.pathname").await == "/login",
        "redirected to the login page"
    );
    browser.screenshot(&shots.join("login.png")).await;

    browser.log_in(&base, "reviewer", PASSWORD).await;
    browser.open(&format!("{base}/overview")).await;
    assert_eq!(
        browser.text("[data-count=published]").await,
        "1",
        "{}",
        dash.log_text()
    );
    assert_eq!(browser.text("[data-count=failed_spec]").await, "1");
    assert!(
        browser.text("table.rules").await.contains("video."),
        "failing rules listed"
    );
    browser.screenshot(&shots.join("overview.png")).await;

    browser.open(&format!("{base}/courses")).await;
    let courses = browser.text("table.courses").await;
    assert!(courses.contains("Physics 101"), "{courses}");
    browser.screenshot(&shots.join("courses.png")).await;

    browser.open(&format!("{base}/courses/physics-101")).await;
    assert_eq!(browser.text("h1").await, "Physics 101");
    let takes = browser.text("section.module").await;
    assert!(
        takes.contains("Lesson 1") && takes.contains("Lesson 2"),
        "{takes}"
    );
    assert!(
        takes.contains(XSS_TITLE),
        "the title shows as text: {takes}"
    );
    assert_eq!(
        browser
            .eval("document.querySelectorAll('main script').length")
            .await,
        0,
        "no script element came from a title"
    );
    assert!(
        browser.text("section.report").await.contains("course."),
        "segment report inline"
    );
    browser.screenshot(&shots.join("course.png")).await;
    // On a phone's screen the page reflows: nothing wider than the window
    // but the tables, which scroll inside their own box.
    browser
        .client
        .set_window_size(390, 844)
        .await
        .expect("phone size");
    browser.open(&format!("{base}/courses/physics-101")).await;
    browser.screenshot(&shots.join("course-phone.png")).await;
    let overflow = browser
        .eval("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        .await;
    let widest = browser
        .eval("Array.from(document.querySelectorAll('body *')).filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1 && !e.closest('.scroll')).map(e => e.tagName + '.' + e.className).slice(0, 5).join(' ')")
        .await;
    assert_eq!(
        overflow, 0,
        "the page fits a phone's width; too wide: {widest}"
    );
    browser
        .client
        .set_window_size(1280, 1000)
        .await
        .expect("laptop size");

    // The compliant take's page: its title is text, its rendition plays
    // and its captions load.
    let href = browser
        .eval("document.querySelector('tr[data-take] a[href^=\"/takes/\"]').getAttribute('href')")
        .await;
    let href = href.as_str().expect("a take link").to_owned();
    browser.open(&format!("{base}{href}")).await;
    assert_eq!(browser.text("h1").await, XSS_TITLE);
    assert!(
        browser.client.get_alert_text().await.is_err(),
        "no alert: the title was not run"
    );
    assert!(browser.text("table.spec").await.contains("pass"));
    browser
        .eval("(function(){var v=document.getElementById('player'); v.muted=true; v.play(); return true;})()")
        .await;
    browser
        .wait_for("document.getElementById('player').currentTime > 0.3")
        .await;
    browser
        .wait_for("document.querySelector('track').readyState === 2")
        .await;
    let cues = browser
        .eval("document.getElementById('player').textTracks[0].cues.length")
        .await;
    assert_eq!(cues, 1, "the author's one cue loaded");
    let downloads = browser.text("ul.downloads").await;
    assert!(
        downloads.contains("1080p") && downloads.contains("captions.vtt"),
        "{downloads}"
    );
    browser.screenshot(&shots.join("take.png")).await;

    // A reviewer is not an admin: no dead letters.
    browser.open(&format!("{base}/dead-letters")).await;
    assert_eq!(browser.text("h1").await, "Not allowed");

    // A studio user gets 403 on the dead-letters page too.
    browser.open(&format!("{base}/overview")).await;
    browser
        .client
        .find(fantoccini::Locator::Css("form.logout button"))
        .await
        .expect("log out button")
        .click()
        .await
        .expect("log out");
    browser.wait_for("location.pathname === '/login'").await;
    browser.log_in(&base, "studio", PASSWORD).await;
    let status = browser
        .client
        .execute_async(
            "var done = arguments[0]; fetch('/dead-letters').then(function(r){ done(r.status); });",
            vec![],
        )
        .await
        .expect("fetch");
    assert_eq!(status, 403);
    browser.open(&format!("{base}/dead-letters")).await;
    assert_eq!(browser.text("h1").await, "Not allowed");
    browser
        .screenshot(&shots.join("studio-dead-letters.png"))
        .await;

    browser.close().await;
}

/// Logs in with curl: the session cookie (`name=value`) and CSRF token.
fn api_login(base: &str, name: &str) -> (String, String) {
    let out = Command::new("curl")
        .args([
            "-sS",
            "--fail",
            "-D",
            "-",
            "-H",
            "content-type: application/json",
            "-d",
        ])
        .arg(serde_json::json!({"name": name, "password": PASSWORD}).to_string())
        .arg(format!("{base}/api/v1/session"))
        .output()
        .expect("curl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let cookie = text
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .starts_with("set-cookie:")
                .then(|| {
                    l["set-cookie:".len()..]
                        .trim()
                        .split(';')
                        .next()
                        .map(str::to_owned)
                })
                .flatten()
        })
        .expect("a session cookie");
    let body = text.split("\r\n\r\n").nth(1).expect("a body");
    let json: serde_json::Value = serde_json::from_str(body.trim()).expect("json");
    (
        cookie,
        json["csrf_token"].as_str().expect("csrf").to_owned(),
    )
}

/// The OpenAPI document fuzzed by Schemathesis against the running server,
/// logged in as an admin (every route reachable): no 5xx, every response
/// as its schema says, every status documented.
#[test]
fn the_api_matches_its_openapi_document_under_schemathesis() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let ensure = Command::new("bash")
        .arg(root.join("scripts/schemathesis.sh"))
        .arg("ensure")
        .output()
        .expect("scripts/schemathesis.sh");
    assert!(
        ensure.status.success(),
        "installing schemathesis: {}",
        String::from_utf8_lossy(&ensure.stderr)
    );
    let st = String::from_utf8_lossy(&ensure.stdout).trim().to_owned();
    let data = processed().join("data");
    let data_arg = data.to_string_lossy().into_owned();
    let catalog = ["--data", data_arg.as_str()];
    add_user(&catalog, "fuzzer", "admin", PASSWORD);
    let dir = tempfile::tempdir().expect("tempdir");
    let dash = Dashboard::start(&catalog, &[], dir.path());
    let (cookie, csrf) = api_login(&dash.url, "fuzzer");
    // The session goes in as the document's own security scheme, so
    // Schemathesis can also leave it out and expect 401.
    let token = cookie.split_once('=').map(|(_, v)| v).expect("name=value");
    std::fs::write(
        dir.path().join("schemathesis.toml"),
        format!(
            "headers = {{ \"x-csrf-token\" = \"{csrf}\" }}\n\n[auth.openapi.session]\napi_key = \"{token}\"\n"
        ),
    )
    .expect("schemathesis.toml");
    let out = Command::new(&st)
        .args(["run", &format!("{}/api/openapi.json", dash.url)])
        .args(["--checks", "all", "--max-examples", "40"])
        .current_dir(dir.path())
        .output()
        .expect("run schemathesis");
    let report = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "schemathesis found problems:\n{report}\n{}",
        dash.log_text()
    );
    assert!(report.contains("passed"), "{report}");
}

/// The published take of the processed course: its id.
fn published_take(data: &Path) -> String {
    std::fs::read_dir(data.join("takes"))
        .expect("takes")
        .filter_map(Result::ok)
        .find(|e| e.path().join("records/transcode.json").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .expect("a transcoded take")
}

/// Issue 13 on the embedded default: `moocpipe links issue` gives the
/// take's stable link; an author opens it in Chromium without logging in,
/// the take plays with its captions, every file downloads byte for byte
/// (with Range), the HLS package decodes through it in ffmpeg, and once
/// revoked the link answers 410.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_author_opens_a_stable_link_without_a_login_and_the_take_plays() {
    use moocpipe_tests::pipeline::fetch;
    let dir = tempfile::tempdir().expect("tempdir");
    let data = processed().join("data");
    let data_arg = data.to_string_lossy().into_owned();
    let dash = Dashboard::start(&["--data", &data_arg], &[], dir.path());
    let take_id = published_take(&data);
    let links = |args: &[&str]| {
        let out = Command::new(moocpipe_tests::cli::moocpipe_bin())
            .arg("links")
            .args(args)
            .args(["--data", &data_arg])
            .env("MOOCPIPE_PUBLIC_URL", &dash.url)
            .output()
            .expect("moocpipe links");
        assert!(
            out.status.success(),
            "moocpipe links {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    let link = links(&["issue", &take_id]);
    assert!(link.starts_with(&format!("{}/l/", dash.url)), "{link}");
    assert_eq!(links(&["issue", &take_id]), link, "the same link again");

    let browser = Browser::start().await;
    browser.open(&link).await;
    assert_eq!(browser.text("h1").await, XSS_TITLE);
    assert!(browser.text("table.spec").await.contains("pass"));
    browser
        .eval("(function(){var v=document.getElementById('player'); v.muted=true; v.play(); return true;})()")
        .await;
    browser
        .wait_for("document.getElementById('player').currentTime > 0.3")
        .await;
    browser
        .wait_for("document.querySelector('track').readyState === 2")
        .await;
    browser
        .screenshot(&artifacts("dashboard").join("author-link.png"))
        .await;
    let hrefs = browser
        .eval("Array.from(document.querySelectorAll('ul.downloads a')).map(a => a.getAttribute('href'))")
        .await;
    browser.close().await;
    let hrefs: Vec<String> = serde_json::from_value(hrefs).expect("hrefs");
    let token = link.rsplit('/').next().unwrap_or_default().to_owned();
    assert!(
        hrefs.len() >= 3,
        "renditions, HLS, poster, captions: {hrefs:?}"
    );
    for href in &hrefs {
        assert!(href.starts_with(&format!("/l/{token}/")), "{href}");
        let got = fetch(&format!("{}{href}", dash.url));
        assert_eq!(got.status, 200, "{href}");
        let path = href.trim_start_matches(&format!("/l/{token}/"));
        let stored = std::fs::read(data.join("takes").join(&take_id).join(path)).expect("stored");
        if href.ends_with(".m3u8") {
            let text = String::from_utf8_lossy(&got.body);
            assert!(text.contains(&format!("/l/{token}/")), "rewritten: {text}");
        } else {
            assert!(got.body == stored, "{href}: bytes differ");
        }
    }
    let mp4 = hrefs.iter().find(|h| h.ends_with(".mp4")).expect("an MP4");
    let ranged = Command::new("curl")
        .args(["-sS", "-o", "/dev/null", "-w", "%{http_code}", "-r", "0-99"])
        .arg(format!("{}{mp4}", dash.url))
        .output()
        .expect("curl");
    assert_eq!(String::from_utf8_lossy(&ranged.stdout), "206", "Range");
    let master = hrefs
        .iter()
        .find(|h| h.ends_with("master.m3u8"))
        .expect("the HLS package");
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-v", "error", "-i"])
        .arg(format!("{}{master}", dash.url))
        .args(["-map", "0", "-f", "null", "-"])
        .output()
        .expect("ffmpeg");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.trim().is_empty(), "{stderr}");

    // Only what the records name: not a record, not a guessed path.
    assert_eq!(fetch(&format!("{link}/records/ingest.json")).status, 404);
    assert_eq!(
        fetch(&format!("{link}/runs/x/renditions/a.mp4")).status,
        404
    );
    let listed = links(&["list", &take_id]);
    let link_id = listed.split('\t').next().unwrap_or_default().to_owned();
    assert!(listed.contains("live"), "{listed}");
    links(&["revoke", &link_id]);
    let gone = fetch(&link);
    assert_eq!(gone.status, 410);
    assert!(
        String::from_utf8_lossy(&gone.body).contains("Ask CAIDD"),
        "whom to ask"
    );
    let again = links(&["reissue", &link_id]);
    assert_ne!(again, link);
    assert_eq!(fetch(&again).status, 200);
}

/// Issue 13, all material types, on the embedded default: a course folder
/// with a real PDF, a real PNG and a text file named `.pdf`. `process`
/// publishes the first two and names the third's error (exit code 1, as
/// for a take that fails its spec); a second run changes nothing; the
/// course page in Chromium lists all three with their type by content, and
/// the two links download byte for byte with their media type, the fake
/// having no link and its error shown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn course_materials_are_checked_by_content_listed_and_linked() {
    use moocpipe_tests::pipeline::fetch;
    let dir = tempfile::tempdir().expect("tempdir");
    let course = dir.path().join("chemistry-201");
    let [pdf, png, fake] = moocpipe_tests::materials::write_three(&course);
    let data = dir.path().join("data");
    let data_arg = data.to_string_lossy().into_owned();
    let process = |json: bool| {
        let mut args = vec!["process", "--data", &data_arg];
        if json {
            args.push("--json");
        }
        let course = course.to_string_lossy().into_owned();
        let mut all: Vec<String> = args.into_iter().map(str::to_owned).collect();
        all.push(course);
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        moocpipe(&refs)
    };
    let out = process(false);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a material not published: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let error = format!(
        "{} claims to be a PDF document (by its name) but its content is plain text",
        fake.1.display()
    );
    let flat: String = stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains(&error.split_whitespace().collect::<Vec<_>>().join(" ")),
        "the summary names the file and the cause: {stdout}"
    );
    assert!(stdout.contains("2 of 3 materials published"), "{stdout}");

    // Again, as JSON: the same verdicts, recorded earlier, nothing redone.
    let copy = data.join("courses/chemistry-201/materials/syllabus.pdf");
    let before = std::fs::metadata(&copy).and_then(|m| m.modified()).ok();
    let out = process(true);
    assert_eq!(out.status.code(), Some(1));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let materials = summary["materials"].as_array().expect("materials");
    assert_eq!(materials.len(), 3, "{summary}");
    for m in materials {
        assert_eq!(m["reused"], true, "{m}");
        assert_eq!(m["recorded"], true, "{m}");
    }
    let by_path = |path: &str| {
        materials
            .iter()
            .find(|m| m["path"] == path)
            .unwrap_or_else(|| panic!("{path} in {summary}"))
    };
    assert_eq!(by_path(&fake.0)["verdict"], "error");
    assert_eq!(by_path(&fake.0)["error"], error.as_str());
    assert_eq!(by_path(&pdf.0)["detected"], "pdf");
    assert_eq!(by_path(&png.0)["detected"], "png");
    assert_eq!(
        std::fs::metadata(&copy).and_then(|m| m.modified()).ok(),
        before,
        "a second run writes nothing"
    );

    add_user(&["--data", &data_arg], "studio", "studio", PASSWORD);
    let dash = Dashboard::start(&["--data", &data_arg], &[], dir.path());
    let browser = Browser::start().await;
    browser.log_in(&dash.url, "studio", PASSWORD).await;
    browser
        .open(&format!("{}/courses/chemistry-201", dash.url))
        .await;
    let section = browser.text("section.materials").await;
    for needle in [
        "syllabus.pdf",
        "PDF document",
        "diagram.png",
        "PNG image",
        "reading-list.pdf",
        "plain text",
        "not published",
        "claims to be a PDF document (by its name) but its content is plain text",
    ] {
        assert!(
            section.contains(needle),
            "{needle} on the course page: {section}\n{}",
            dash.log_text()
        );
    }
    browser
        .screenshot(&artifacts("dashboard").join("materials.png"))
        .await;
    let links = browser
        .eval(
            "Array.from(document.querySelectorAll('tr[data-material]')).map(r => \
             [r.getAttribute('data-material'), (r.querySelector('a.material-link') || {}).href || null])",
        )
        .await;
    browser.close().await;
    let links: Vec<(String, Option<String>)> = serde_json::from_value(links).expect("rows");
    assert_eq!(links.len(), 3, "{links:?}");
    for (path, file, content_type) in [
        (&pdf.0, &pdf.1, "application/pdf"),
        (&png.0, &png.1, "image/png"),
    ] {
        let link = links
            .iter()
            .find(|(p, _)| p == path)
            .and_then(|(_, l)| l.clone())
            .unwrap_or_else(|| panic!("a link for {path}: {links:?}"));
        assert!(link.contains("/l/"), "{link}");
        let got = fetch(&link);
        assert_eq!(got.status, 200, "{link}");
        assert_eq!(got.content_type.as_deref(), Some(content_type), "{path}");
        assert!(
            got.body == std::fs::read(file).expect("source"),
            "{path}: the download is the file"
        );
    }
    assert!(
        links.iter().any(|(p, l)| p == &fake.0 && l.is_none()),
        "the fake PDF has no link: {links:?}"
    );
    // The API hands out the same links as the page did.
    let (cookie, _) = api_login(&dash.url, "studio");
    let out = Command::new("curl")
        .args(["-sS", "--fail", "-b", &cookie])
        .arg(format!("{}/api/v1/courses/chemistry-201", dash.url))
        .output()
        .expect("curl");
    let view: serde_json::Value = serde_json::from_slice(&out.stdout).expect("course JSON");
    let api_links: Vec<(String, Option<String>)> = view["materials"]
        .as_array()
        .expect("materials")
        .iter()
        .map(|m| {
            (
                m["path"].as_str().unwrap_or_default().to_owned(),
                m["link"].as_str().map(str::to_owned),
            )
        })
        .collect();
    let mut from_page = links.clone();
    from_page.sort();
    assert_eq!(api_links, from_page, "one link per material, every time");
}
