//! Issue 13: stable links (clause 9.4) end to end, on the real components
//! of [`moocpipe_tests::pipeline::Pipeline`]: the report stage issues each
//! take's link, the author's notice carries it, and `moocpipe serve`
//! answers it — after the presigned URLs it redirects to have expired, for
//! HLS through ffmpeg, 410 once revoked, and never for another take's file.
//! The studio is copied on the spec failure.

use moocpipe_proto::{PublishedRecord, TakeVerdict, TranscodeRecord};
use moocpipe_storage::ObjectStore;
use moocpipe_tests::media;
use moocpipe_tests::pipeline::{fetch, metric, sidecar, stable_link, Pipeline, AUTHOR, KEY};
use std::process::Command;
use std::time::Duration;

const STUDIO: &str = "studio@university.example";

/// Follows one stable link by hand: the server's 302, then the presigned
/// URL it names. Returns that URL and the bytes.
fn download(url: &str) -> (String, Vec<u8>) {
    let answer = fetch(url);
    assert_eq!(answer.status, 302, "{url}: {answer:?}");
    let presigned = answer.location.expect("a Location");
    let object = fetch(&presigned);
    assert_eq!(object.status, 200, "{presigned}: {}", object.status);
    (presigned, object.body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stable_links_outlive_their_presigned_urls_play_hls_and_can_be_revoked() {
    let mut p = Pipeline::start().await;
    p.extra_env
        .push(("MOOCPIPE_STUDIO_EMAILS".into(), STUDIO.into()));
    p.spawn_all();
    // Presigned URLs live 2 s: the link must not.
    let admin = p.spawn_dashboard_with("admin", |c| {
        c.env("MOOCPIPE_LINK_PRESIGN_SECS", "2")
            .env("MOOCPIPE_CONTACT", "CAIDD (caidd@university.example)");
    });

    // A compliant take (a tone, so no speech to wait for) and one that
    // fails the spec (720p).
    let good_key = KEY.replace("take-01", "take-07");
    let bad_key = KEY.replace("take-01", "take-08");
    let good = media::prores_take_with_sound("links-tone-take", &media::tone_wav());
    for key in [&good_key, &bad_key] {
        p.uploader
            .put_bytes(&key.replace(".mov", ".json"), sidecar(), "application/json")
            .await
            .expect("upload the sidecar");
    }
    let (good_meta, _) = p.upload(&good_key, &good).await;
    let (bad_meta, _) = p.upload(&bad_key, &media::prores_720p()).await;
    let bad_uploaded = std::time::Instant::now();
    let good_id = moocpipe_ingest::take_id(&p.raw_bucket, &good_key, &good_meta.etag);
    let bad_id = moocpipe_ingest::take_id(&p.raw_bucket, &bad_key, &bad_meta.etag);

    // The failed take: the author and the studio are told, with what to
    // change and a link to the take's page.
    let failed: PublishedRecord = p
        .record(&bad_id, "published", Duration::from_secs(120))
        .await;
    assert_eq!(failed.spec, TakeVerdict::Fail);
    assert!(failed.links.is_empty(), "{failed:?}");
    let mails = p.smtp.wait_for(1, Duration::from_secs(30)).await;
    let told_after = bad_uploaded.elapsed();
    eprintln!("upload to the studio's copy of the spec failure: {told_after:?}");
    assert!(
        told_after < Duration::from_secs(20),
        "the studio heard {told_after:?} after the upload"
    );
    let mail = mails
        .iter()
        .find(|m| {
            m.header("subject")
                .is_some_and(|s| s.contains("needs attention"))
        })
        .unwrap_or_else(|| panic!("the spec failure's notice: {mails:#?}"));
    assert!(mail.to.iter().any(|t| t == AUTHOR), "{:?}", mail.to);
    assert!(
        mail.to.iter().any(|t| t == STUDIO),
        "the studio is copied: {:?}",
        mail.to
    );
    // The body is quoted-printable: join its soft line breaks.
    let body = mail.body().replace("=\r\n", "");
    assert!(body.contains("video.resolution"), "{body}");
    assert!(body.contains("what to change"), "{body}");
    let bad_link = stable_link(&p, &bad_id);
    assert!(
        bad_link.starts_with(&format!("{}/l/", p.public_url)),
        "{bad_link}"
    );
    assert!(
        body.contains(&bad_link),
        "the mail carries the link: {body}"
    );
    let page = fetch(&bad_link);
    assert_eq!(page.status, 200, "{page:?}");
    let html = String::from_utf8_lossy(&page.body);
    assert!(html.contains("video.resolution"), "{html}");
    assert!(!html.contains("Log out"), "no session on a link's page");

    // The compliant take: every file through its link, byte for byte.
    let published = p.published_in_full(&good_id).await;
    let link = stable_link(&p, &good_id);
    let recorded = published.link.clone().expect("the record names the link");
    assert!(
        !serde_json::to_string(&published)
            .unwrap_or_default()
            .contains(link.rsplit('/').next().unwrap_or("-")),
        "the token is never recorded"
    );
    let names: Vec<&str> = published.links.iter().map(|l| l.name.as_str()).collect();
    assert!(
        names.contains(&"hls"),
        "the HLS package is linked: {names:?}"
    );
    let token = link.rsplit('/').next().unwrap_or_default().to_owned();
    let mut first_urls = Vec::new();
    for file in &published.links {
        if file.path.ends_with(".m3u8") {
            // Served by the server, every URI through the link.
            let playlist = fetch(&format!("{link}/{}", file.path));
            assert_eq!(playlist.status, 200);
            let text = String::from_utf8_lossy(&playlist.body);
            assert!(text.contains(&format!("/l/{token}/")), "{text}");
            continue;
        }
        let (presigned, bytes) = download(&format!("{link}/{}", file.path));
        let stored = p.media.get_bytes(&file.key).await.expect("stored");
        assert!(bytes == stored, "{}: bytes differ", file.name);
        first_urls.push((file.clone(), presigned));
    }
    let page = fetch(&link);
    assert_eq!(page.status, 200);
    let html = String::from_utf8_lossy(&page.body);
    assert!(html.contains("<video"), "the player: {html}");
    assert!(html.contains(&format!(
        "/l/{}/",
        link.rsplit('/').next().unwrap_or_default()
    )));

    // After the presigned URLs' 2 s, they are dead; the link is not.
    assert!(!first_urls.is_empty());
    tokio::time::sleep(Duration::from_secs(4)).await;
    for (file, old) in &first_urls {
        // Garage refuses an expired signature with 400, AWS with 403.
        let expired = fetch(old);
        assert!(
            matches!(expired.status, 400 | 403),
            "{}: an old presigned URL answered {}: {}",
            file.name,
            expired.status,
            String::from_utf8_lossy(&expired.body)
        );
        let (fresh, bytes) = download(&format!("{link}/{}", file.path));
        assert_ne!(&fresh, old);
        let stored = p.media.get_bytes(&file.key).await.expect("stored");
        assert!(bytes == stored, "{}: bytes differ after 4 s", file.name);
    }

    // HLS through the link, from the private bucket: ffmpeg decodes every
    // stream of every variant, each segment fetched through the link.
    let hls = published
        .links
        .iter()
        .find(|l| l.name == "hls")
        .expect("hls");
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-v", "error", "-i"])
        .arg(format!("{link}/{}", hls.path))
        .args(["-map", "0", "-f", "null", "-"])
        .output()
        .expect("run ffmpeg");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "ffmpeg: {stderr}");
    assert!(stderr.trim().is_empty(), "ffmpeg complained: {stderr}");
    let transcode: TranscodeRecord = p
        .record(&good_id, "transcode", Duration::from_secs(1))
        .await;
    let package = transcode.hls.expect("a package");
    let segments = transcode
        .objects
        .iter()
        .filter(|o| o.key.ends_with(".ts") || o.key.ends_with(".m4s"))
        .count();
    assert!(
        segments >= package.variants.len(),
        "{segments} segments, {} variants",
        package.variants.len()
    );
    let text = moocpipe_tests::pipeline::http_get(&format!("{}/metrics", p.public_url));
    let fetched = metric(&text, "moocpipe_link_requests_total{outcome=\"segment\"}").unwrap_or(0.0);
    assert!(
        fetched >= segments as f64,
        "{fetched} segment requests through the link for {segments} segments\n{text}"
    );

    // A link opens its own take's files only: the other take's file under
    // this token, a record, a tampered token.
    let other = first_urls[0].0.path.clone();
    let forged = fetch(&format!("{bad_link}/{other}"));
    assert_eq!(forged.status, 404, "another take's file: {forged:?}");
    let record = fetch(&format!("{link}/records/probe.json"));
    assert_eq!(record.status, 404);
    let mut tampered = link.clone();
    let last = tampered.pop().unwrap_or('0');
    tampered.push(if last == '0' { '1' } else { '0' });
    assert_eq!(fetch(&tampered).status, 404);

    // Downloads are counted per link; an admin sees the link and revokes
    // it; it answers 410 with whom to ask; a re-issued link works.
    let links = admin
        .get(&format!("/api/v1/takes/{good_id}/links"))
        .expect("links");
    let live = &links[0];
    assert_eq!(live["link"]["link_id"], recorded.link_id.as_str());
    assert_eq!(live["url"].as_str(), Some(link.as_str()));
    let downloads = live["link"]["downloads"].as_i64().unwrap_or(0);
    assert!(
        downloads >= 2 * published.links.len() as i64,
        "{downloads} downloads counted: {live}"
    );
    let (status, revoked) = admin.post(&format!("/api/v1/links/{}/revoke", recorded.link_id));
    assert_eq!(status, 200, "{revoked}");
    assert_eq!(revoked["state"], "revoked");
    let gone = fetch(&format!("{link}/{}", published.links[0].path));
    assert_eq!(gone.status, 410, "{gone:?}");
    let html = String::from_utf8_lossy(&gone.body);
    assert!(html.contains("caidd@university.example"), "{html}");
    assert_eq!(fetch(&link).status, 410);
    let (status, reissued) = admin.post(&format!("/api/v1/takes/{good_id}/links"));
    assert_eq!(status, 200, "{reissued}");
    let new_link = reissued["url"].as_str().expect("the new link").to_owned();
    assert_ne!(new_link, link);
    let (_, bytes) = download(&format!("{new_link}/{}", published.links[0].path));
    let stored = p
        .media
        .get_bytes(&published.links[0].key)
        .await
        .expect("stored");
    assert!(bytes == stored);
    assert_eq!(fetch(&link).status, 410, "the old link stays revoked");
}

/// Reads a process's peak resident memory (VmHWM), in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Issue 13, all material types, distributed: a PDF, a PNG and a text file
/// named `.pdf` uploaded to the raw bucket (plus a 40 MiB ZIP, copied in
/// parts) are found by the ingest scan (the fake by `moocpipe submit`),
/// checked by their first bytes, streamed into the media bucket and listed
/// on the course in the API with their stable links; each link redirects
/// to the object, byte for byte with its media type; the fake has no link
/// and its error names it. Submitting a published one again changes
/// nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn course_materials_in_the_raw_bucket_get_links_and_a_fake_pdf_a_clear_error() {
    use moocpipe_proto::{MaterialRecord, MaterialVerdict};
    let record_key = |course: &str, path: &str| {
        moocpipe_storage::layout::material_record(
            course,
            &moocpipe_ingest::material_id(course, path),
        )
    };
    let mut p = Pipeline::start().await;
    let metrics = format!("127.0.0.1:{}", moocpipe_tests::pipeline::free_port());
    p.spawn(
        "ingest",
        &[
            "ingest",
            "--scan-interval-secs",
            "1",
            "--lease-secs",
            "4",
            "--metrics-addr",
            &metrics,
        ],
    );
    let ingest_pid = p
        .workers
        .iter()
        .find(|(name, _)| name == "ingest")
        .map(|(_, child)| child.id())
        .expect("the ingest process");
    let studio = p.spawn_dashboard("studio");
    let dir = tempfile::tempdir().expect("tempdir");
    let [pdf, png, fake] = moocpipe_tests::materials::write_three(&dir.path().join("physics-101"));
    // A large archive: a ZIP's signature, then data (the check reads the
    // first bytes only; the copy streams it in 16 MiB parts).
    let zip = (
        "02-waves/lab-data.zip".to_owned(),
        dir.path().join("lab-data.zip"),
    );
    // `MOOCPIPE_MATERIAL_MIB` makes it larger (the measurement in the
    // report used 1,000).
    let mib: usize = std::env::var("MOOCPIPE_MATERIAL_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40);
    {
        use std::io::Write;
        let mut file = std::fs::File::create(&zip.1).expect("the archive");
        file.write_all(b"PK\x03\x04").expect("signature");
        let block = media::noise_bytes(1024 * 1024);
        for _ in 0..mib {
            file.write_all(&block).expect("data");
        }
    }
    let size = std::fs::metadata(&zip.1).expect("size").len();
    let rss_before = peak_rss_kib(ingest_pid);

    for (path, file) in [&pdf, &png, &zip] {
        p.uploader
            .put_file(
                &format!("physics-101/{path}"),
                file,
                "application/octet-stream",
            )
            .await
            .expect("upload");
    }
    let fake_key = format!("physics-101/{}", fake.0);
    p.uploader
        .put_file(&fake_key, &fake.1, "application/pdf")
        .await
        .expect("upload the fake");
    let uri = format!("s3://{}/{fake_key}", p.raw_bucket);
    let out = p.run(&["submit", &uri]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("{uri}: submitted (material reading-list.pdf of physics-101)")
    );

    let mut records = Vec::new();
    for (path, _) in [&pdf, &png, &zip, &fake] {
        let record: MaterialRecord = p
            .wait_for(&record_key("physics-101", path), Duration::from_secs(90))
            .await;
        records.push(record);
    }
    let copy_peak = peak_rss_kib(ingest_pid);
    eprintln!(
        "ingest peak RSS: {} MiB before the uploads, {} MiB after copying a {mib} MiB material",
        rss_before / 1024,
        copy_peak / 1024
    );
    assert!(
        copy_peak < 200 * 1024,
        "the copy streams: peak {copy_peak} KiB"
    );
    let fake_record = &records[3];
    assert_eq!(fake_record.verdict, MaterialVerdict::Error);
    assert_eq!(fake_record.object, None);
    let error = format!(
        "s3://{}/{fake_key} claims to be a PDF document (by its name) but its content is plain text",
        p.raw_bucket
    );
    assert_eq!(
        fake_record.error.as_ref().map(|e| e.message.as_str()),
        Some(error.as_str())
    );
    let zip_record = &records[2];
    let parts = size.div_ceil(16 * 1024 * 1024);
    assert!(
        zip_record
            .object
            .as_ref()
            .is_some_and(|o| o.size_bytes == size && o.etag.ends_with(&format!("-{parts}"))),
        "{mib} MiB went up in {parts} parts: {zip_record:?}"
    );

    // The course in the API (the catalog follows the ingest's events).
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let view = loop {
        let view = studio.get("/api/v1/courses/physics-101");
        let listed = view
            .as_ref()
            .and_then(|v| v["materials"].as_array().map(Vec::len));
        if listed == Some(4) {
            break view.unwrap_or_default();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the course lists its materials: {view:?}\n{}",
            p.logs()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let materials = view["materials"].as_array().expect("materials");
    let material = |path: &str| {
        materials
            .iter()
            .find(|m| m["path"] == path)
            .unwrap_or_else(|| panic!("{path} in {view}"))
    };
    for ((path, file), content_type) in [
        (&pdf, "application/pdf"),
        (&png, "image/png"),
        (&zip, "application/zip"),
    ] {
        let m = material(path);
        assert_eq!(m["verdict"], "ok", "{m}");
        let link = m["link"].as_str().unwrap_or_else(|| panic!("a link: {m}"));
        assert!(link.starts_with(&format!("{}/l/", p.public_url)), "{link}");
        let (_, body) = download(link);
        assert!(
            body == std::fs::read(file).expect("source"),
            "{path}: the download is the file"
        );
        let answer = fetch(link);
        let object = fetch(answer.location.as_deref().expect("a redirect"));
        assert_eq!(object.content_type.as_deref(), Some(content_type), "{path}");
    }
    let m = material(&fake.0);
    assert_eq!(m["verdict"], "error");
    assert_eq!(m["link"], serde_json::Value::Null);
    assert_eq!(m["error"], error.as_str());
    assert_eq!(m["detected"], "plain text");

    // Submitted again, a published material is left as it is.
    let pdf_uri = format!("s3://{}/physics-101/{}", p.raw_bucket, pdf.0);
    assert!(p.run(&["submit", &pdf_uri]).status.success());
    let text = loop {
        let text = moocpipe_tests::pipeline::http_get(&format!("http://{metrics}/metrics"));
        if metric(&text, "moocpipe_materials_total{verdict=\"unchanged\"}").is_some() {
            break text;
        }
        assert!(
            std::time::Instant::now() < deadline + Duration::from_secs(30),
            "{text}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(
        metric(&text, "moocpipe_materials_total{verdict=\"ok\"}"),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        metric(&text, "moocpipe_materials_total{verdict=\"error\"}"),
        Some(1.0),
        "{text}"
    );
    let again: MaterialRecord = p
        .wait_for(&record_key("physics-101", &pdf.0), Duration::from_secs(5))
        .await;
    assert_eq!(again, records[0], "the record is the same");
}
